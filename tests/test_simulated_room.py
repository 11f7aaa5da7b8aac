"""The simulated room: renderer physics, behaviour, scorer on known answers, the demo chain."""
import datetime as dt

import numpy as np
from pathlib import Path

import pandas as pd
import pytest

from thermocc.room import EXAMPLE_ROOM, load_room
from thermocc.score import score
from thermocc_tools.occupancy_sim import Behaviour, academic_scenario
from thermocc_tools.rendered_count import RenderedCount
from thermocc_tools.thermal_render import RenderSettings, RoomRenderer

ROOM = load_room(EXAMPLE_ROOM)
NIGHT = 3 * 3600            # no sun, no drift surprises


def render(people, **kw):
    r = RoomRenderer(ROOM, RenderSettings(sun=False, drift_c=0.0, **kw))
    return r.render(NIGHT, people)


def test_person_at_air_temperature_is_invisible():
    empty = render([])
    assert np.allclose(empty, 22.0)
    # with the air at skin temperature a person has no contrast at all
    r = RoomRenderer(ROOM, RenderSettings(sun=False, drift_c=0.0, air_c=34.0))
    assert np.allclose(r.render(NIGHT, [(0, 3.0, 1.9, "seated", 1)]), r.render(NIGHT, []), atol=1e-9)


def test_person_reads_warmer_the_more_of_a_pixel_they_cover():
    # under the camera a head fills pixels; far off-axis the same person covers fractions of them
    near = render([(0, 3.0, 1.9, "standing", 1)])[0].max()
    far = render([(0, 5.9, 3.6, "standing", 4)])[0].max()
    assert 22.0 + 5 < near <= 22.0 + 0.8 * 12 + 1e-9
    assert 22.0 < far < near
    winter = render([(0, 3.0, 1.9, "standing", 1)], winter_clothing=True)[0]
    summer = render([(0, 3.0, 1.9, "standing", 1)])[0]
    assert (winter <= summer + 1e-9).all() and winter.sum() < summer.sum()


def test_sunlit_floor_warms_and_cools_with_its_time_constant():
    tau = 300.0
    lagged = RoomRenderer(ROOM, RenderSettings(drift_c=0.0, sun_floor_s=tau))
    instant = RoomRenderer(ROOM, RenderSettings(drift_c=0.0, sun_floor_s=0.0))
    noon = 12 * 3600.0
    x0, y0, x1, _ = instant.sun_patch(noon)
    spot = (np.array([x0 + 0.2]), np.array([y0 + 0.6]))   # lit from 12:00 until the patch moves on
    assert lagged.sun_floor_excess(*spot, noon - 60)[0] == 0.0
    # a step on at noon: the floor follows 1 - exp(-t / tau), the instant patch is at full strength
    for t in (60.0, 300.0, 900.0):
        assert lagged.sun_floor_excess(*spot, noon + t)[0] == pytest.approx(7.0 * (1 - np.exp(-t / tau)))
        assert instant.sun_floor_excess(*spot, noon + t)[0] == 7.0
    # once the patch has passed, the floor cools with the same time constant
    t_off = next(t for t in np.arange(noon, noon + 3 * 3600, 10.0) if instant.sun_floor_excess(*spot, t)[0] == 0)
    assert lagged.sun_floor_excess(*spot, t_off - 10)[0] == pytest.approx(7.0, abs=0.01)   # lit ~36 min
    warm = lagged.sun_floor_excess(*spot, t_off)[0]
    assert lagged.sun_floor_excess(*spot, t_off + tau)[0] == pytest.approx(warm * np.exp(-1), rel=0.01)
    # the instant patch is exactly the rectangle sun_patch() reports
    xs, ys = np.meshgrid(np.linspace(0, 12, 241), np.linspace(0, 7, 141))
    for t in (noon + 3600, noon + 4.5 * 3600):
        px0, py0, px1, py1 = instant.sun_patch(t)
        inside = (xs > px0 + 1e-6) & (xs < px1 - 1e-6) & (ys >= py0) & (ys <= py1)
        outside = (xs < px0 - 1e-6) | (xs > px1 + 1e-6) | (ys > py1)
        lit = instant.sun_floor_excess(xs, ys, t) > 0
        assert lit[inside].all() and not lit[outside].any()
    # and rendered through the cameras, a lagged patch reads warmer an hour on than just after noon
    assert lagged.render(noon + 3600, []).max() > lagged.render(noon + 60, []).max() + 3

def test_no_sun_reaches_the_floor_under_a_person_until_they_leave():
    tau = 300.0
    r = RoomRenderer(ROOM, RenderSettings(drift_c=0.0, sun_floor_s=tau))
    noon = 12 * 3600.0
    x0, y0, _, _ = r.sun_patch(noon)
    x, y = x0 + 0.2, y0 + 0.6              # lit from 12:00 for over half an hour
    k = 2                                  # node-b/cam1 looks down on it
    fx, fy = r.floor_hits[k]
    under = np.hypot(fx - x, fy - y) < 0.1
    seated = [(0, x, y, "seated", ROOM.zone_index(x, y))]

    def floor(t):                          # the floor's excess over the air at the seat
        return (r.sun_floor_excess(fx, fy, t) - r._deficit[k])[under]

    leave = noon + 20 * 60
    for t in np.arange(noon - 600, leave, 30.0):
        r.render(t, seated)
    after = r.render(leave, [])[k]
    assert floor(leave).max() < 0.01                        # shaded while they sat
    assert r.sun_floor_excess(fx, fy, leave)[under].min() > 6.5   # what it would be unshaded
    for t in np.arange(leave + 30, leave + tau + 1, 30.0):
        r.render(t, [])
    # then it warms with the floor's time constant (steps of 30 s hold the shade a little long)
    assert floor(leave + tau) == pytest.approx(7.0 * (1 - np.exp(-1)), abs=0.4)
    # through the camera: the seat's pixel reads the air, not the sunlit floor it would be
    pixel = np.argmin(np.hypot(fx - x, fy - y)) // 16
    never_shaded = RoomRenderer(ROOM, RenderSettings(drift_c=0.0, sun_floor_s=tau)).render(leave, [])[k]
    assert never_shaded[pixel] > 22.0 + 6.0 and after[pixel] < 22.0 + 1.0
    # a frame earlier than the last starts afresh: nobody has shaded anything yet
    r.render(noon + 600, [])
    assert np.allclose(floor(noon + 600), r.sun_floor_excess(fx, fy, noon + 600)[under])


@pytest.mark.parametrize("refresh_hz", [2, 8])
def test_noise_through_sensor_and_driver_matches_the_datasheet_table(refresh_hz):
    from thermocc_device.mlx90640 import MLX90640
    from thermocc_tools.mlx90640_sim import NOISE_RMS_C, SimI2CBus, SimMLX90640, generate_eeprom
    from thermocc_tools.sim_clock import SimClock
    clock = SimClock()
    bus = SimI2CBus("i2c0", clock=clock)
    sensor = bus.attach(SimMLX90640(generate_eeprom(2), clock, noise=True, seed=5))
    sensor.set_scene([22.0] * 768, air_c=22.0)
    camera = MLX90640(bus, bus_name="i2c0", clock=clock, refresh_hz=refresh_hz, log=None).begin()
    frames = np.array([np.array(camera.read_frame()) for _ in range(40)])   # the driver reuses its buffer
    measured = np.median(frames[5:].std(axis=0))
    assert measured == pytest.approx(NOISE_RMS_C["BAA"][refresh_hz], rel=0.3)


def test_behaviour_is_seeded_and_respects_the_calendar():
    a = Behaviour(ROOM, seed=4, days=2)
    b = Behaviour(ROOM, seed=4, days=2)
    times = range(0, 2 * 86400, 600)
    assert [a.positions(t) for t in times] == [b.positions(t) for t in times]
    assert academic_scenario(dt.date(2026, 7, 14)) == "summer"
    assert academic_scenario(dt.date(2026, 12, 24)) == "holiday"
    assert academic_scenario(dt.date(2026, 3, 7)) == "weekend"
    peak = max(len(a.positions(t)) for t in range(0, 86400, 300))
    assert 0 < peak <= len(a.seats)
    assert all(len(a.positions(t)) == 0 for t in range(0, 5 * 3600, 600))          # nobody at night


def test_people_walk_to_the_door_to_leave_and_from_it_to_arrive():
    b = Behaviour(ROOM, seed=4, days=1)
    door = np.array(b.door)
    for a, arrays in enumerate(b._arrays):
        if arrays is None or arrays[3][-1]:
            continue
        t, xy, _, inside = arrays
        leave, out = t[-3], t[-2]            # last at the seat, then at the door and gone
        seat = xy[-3]
        assert np.linalg.norm(xy[-2] - door) < 1e-9
        walk = (out - leave) / 2
        mid = {p[0]: np.array(p[1:3]) for p in b.positions(leave + walk)}
        assert np.linalg.norm(mid[a] - (seat + door) / 2) < 0.05      # halfway along the walk, in the room
        assert a not in {p[0] for p in b.positions(out + 0.5)}
        came = t[np.argmax(inside)]                                   # first waypoint inside: at the door
        assert np.linalg.norm(xy[np.argmax(inside)] - door) < 1e-9
        assert a in {p[0] for p in b.positions(came + 0.5)}
        return
    pytest.fail("nobody left the room")


def test_moving_spans_cover_every_step_someone_takes_and_nothing_else():
    b = Behaviour(ROOM, seed=4, days=1)
    t0, t1 = 8 * 3600, 10 * 3600
    spans = b.moving_spans(t0, t1)
    assert spans and all(t0 <= a < c <= t1 for a, c in spans)
    assert all(c < a2 for (_, c), (a2, _) in zip(spans, spans[1:]))        # merged, in time order

    def during(a, c):
        return any(a < e and s < c for s, e in spans)

    before = {p[0]: p[1:3] for p in b.positions(t0)}
    moved = still = 0
    for t in np.arange(t0 + 0.5, t1, 0.5):
        now = {p[0]: p[1:3] for p in b.positions(t)}
        stepped = any(k in before and np.hypot(now[k][0] - before[k][0], now[k][1] - before[k][1]) > 1e-9
                      for k in now)
        assert not stepped or during(t - 0.5, t), t
        moved += stepped
        still += not during(t - 0.5, t)
        before = now
    assert moved > 20 and still > 10 * moved             # a few walks in two hours of desk work


def test_frame_times_add_frames_while_someone_walks_and_keep_truth_on_the_grid():
    from thermocc_tools.room_chain import frame_times
    times = list(frame_times(0, 120, 30, [(40.5, 43.2), (58.2, 60.5)], 1.0))
    assert times == sorted(times) and len({t for t, _ in times}) == len(times)
    assert [t for t, grid in times if grid] == [0, 30, 60, 90, 120]
    assert [t for t, grid in times if not grid] == [41, 42, 43, 44, 59, 61]   # one frame past each walk
    assert list(frame_times(0, 120, 30, [(40.5, 43.2)])) == [(t, True) for t in (0, 30, 60, 90, 120)]
    assert [t for t, g in frame_times(100, 130, 30, [(99.0, 101.0), (129.5, 140)], 0.5) if not g] == \
        [100.5, 101.0, 101.5, 129.5]                                # clipped to the run


def test_frames_while_someone_walks_let_the_host_hold_who_walked_out_of_every_view(tmp_path):
    """With node-b/cam2 offline, nobody sees the Pantry. Someone who walks there at 10:27
    is held there by the host (thermocc.hidden) when the boards' frames show them walking,
    as a board sends blobs when they change; with frames every 30 s alone nobody is seen
    walking, and they are missed for their whole visit."""
    from thermocc.daemon import Fuser
    from thermocc.ingest import read_raw_csv
    from thermocc.site import load_site
    from thermocc_tools.room_chain import simulate_files, write_site
    site = load_site(write_site(tmp_path, EXAMPLE_ROOM, "127.0.0.1", 1883))
    missed = {}
    for moving in (1.0, None):
        sim = simulate_files(tmp_path / str(moving), hours=0.4, start_hour=10.3, seed=11, scenario="normal",
                             render_settings=RenderSettings(offline_cameras=(3,)), quiet=True,
                             moving_interval_s=moving)
        truth = pd.read_csv(sim["truth"])
        assert truth["timestamp"].nunique() == 49                              # the 30 s grid only
        frames = pd.read_csv(sim["frames_csv"], usecols=[0])
        fuser = Fuser(site, tmp_path / ("out%s" % moving), journal=False, mode="blob")
        fuser.feed_observations(read_raw_csv(sim["frames_csv"]))
        fuser.finish()
        fuser.close()
        lab = tmp_path / ("out%s" % moving) / "lab"
        res = score(lab / "ticks.csv", sim["truth"], lab / "output.csv", room=ROOM, lag_s=4.0,
                    offline=[3])
        missed[moving] = res["error_causes"].get("missed, out of view", 0), len(frames)
    (hidden_missed, walking_frames), (grid_missed, grid_frames) = missed[1.0], missed[None]
    assert grid_frames == 3 * 49 < walking_frames
    assert grid_missed >= 10 and hidden_missed <= 2, missed


def test_people_waiting_at_the_pantry_keep_their_personal_space():
    from thermocc_tools.occupancy_sim import PERSONAL_SPACE_M
    b = Behaviour(ROOM, seed=9, days=3, scenario="finals")
    spots = b.standing
    assert len(spots) > 20
    close = [(p, q) for i, p in enumerate(spots) for q in spots[i + 1:]
             if p[2] < q[3] and q[2] < p[3] and np.hypot(p[0] - q[0], p[1] - q[1]) < PERSONAL_SPACE_M]
    assert not close


def test_people_never_sit_or_wait_inside_one_another():
    """Meeting chairs keep a chair's width from each other and from the desks (a meeting
    placed two attendees 0.2 m apart for 38 minutes before, one body inside the other);
    people waiting at the pantry keep it from the desks too (6 % of them stood within a
    body of a Pantry desk before)."""
    from thermocc_tools.thermal_render import body_shape
    apart = 2 * body_shape("seated")[0]
    meetings = 0
    for seed in range(6):
        b = Behaviour(ROOM, seed=seed, scenario="crowded")
        clear = body_shape("seated")[0] + body_shape("standing")[0]
        assert all(np.hypot(x - s.x, y - s.y) >= clear for x, y, _, _ in b.standing for s in b.home)
        for t in range(7 * 3600, 20 * 3600, 300):
            seated = np.array([(x, y) for _, x, y, posture, _ in b.positions(t) if posture == "seated"])
            if len(seated) < 2:
                continue
            d = np.hypot(*(seated[:, None, :] - seated[None, :, :]).transpose(2, 0, 1))
            assert d[np.triu_indices(len(seated), 1)].min() >= apart, (seed, t)
            meetings += np.hypot(seated[:, 0] - b.table[0], seated[:, 1] - b.table[1]).min() < 1.6
    assert meetings > 20               # the check saw meetings


def _write(path, rows, header):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_scorer_on_constructed_cases(tmp_path):
    truth = _write(tmp_path / "truth.csv", [
        "2026-03-02 09:00:00,1,1.0,1.0,Office", "2026-03-02 09:00:00,2,5.0,5.0,Main Area",
        "2026-03-02 09:00:30,1,1.0,1.0,Office",
        "2026-03-02 09:01:00,,,,"], "timestamp,agent,x,y,zone")
    ticks = _write(tmp_path / "ticks.csv", [
        "2026-03-02 09:00:02,2,4,1,1.3,1.4,Office", "2026-03-02 09:00:02,2,4,2,5.0,5.0,Pantry",
        "2026-03-02 09:00:32,2,4,1,1.0,1.0,Office", "2026-03-02 09:00:32,2,4,3,8.0,1.0,Office",
        "2026-03-02 09:01:02,0,4,,,,"], "timestamp,count,cameras_ok,person,x,y,zone")
    r = score(ticks, truth, lag_s=2)
    assert r["ticks_scored"] == 3
    assert r["exact_count_rate"] == pytest.approx(2 / 3)
    assert r["count_mae"] == pytest.approx(1 / 3)
    assert r["presence_f1"] == 1.0
    assert r["position_error_mean_m"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert r["zone_accuracy"] == pytest.approx(2 / 3)
    from thermocc.score import format_table
    header, row = format_table({"run": r}).splitlines()
    assert header.split()[1:9] == ["exact", "MAE", "L1", "P", "L1", "R", "L1", "F1"]
    assert row.split()[1:6] == ["0.6667", "0.3333", "1.0000", "1.0000", "1.0000"]


def test_scorer_takes_the_tick_of_the_settling_window_that_shows_the_room_as_it_was(tmp_path):
    """Ticks a second, truth every 30 s: someone who arrives just after 09:00:00 is counted
    from 09:00:02 (the tracker confirms in two ticks), someone who left just before 09:00:30
    still counts until 09:00:33 (it coasts). The lag of 4 s waits out the leaver but scores
    the arrival as an extra person at 09:00:00; the window from 1 s to 4 s finds, for each,
    the tick that shows the room as it was. A count wrong over the whole window stays wrong."""
    from thermocc.score import settle_window
    truth = _write(tmp_path / "truth.csv", [
        "2026-03-02 09:00:00,1,1.0,1.0,Office",
        "2026-03-02 09:00:30,2,5.0,5.0,Main Area",
        "2026-03-02 09:01:00,2,5.0,5.0,Main Area"], "timestamp,agent,x,y,zone")
    rows = []
    for s in range(0, 66):
        people = [(1, 1.0, 1.0, "Office")] if s < 34 else []               # left at 09:00:30, coasting
        if s >= 2:
            people.append((2, 5.0, 5.0, "Main Area"))                      # arrived at 09:00:00.5
        if s >= 60:
            people.append((3, 8.0, 1.0, "Office"))                         # a ghost from 09:01:00 on
        stamp = "2026-03-02 09:%02d:%02d" % divmod(s, 60)
        rows += ["%s,%d,4,%d,%.1f,%.1f,%s" % (stamp, len(people), *p) for p in people] or ["%s,0,4,,,," % stamp]
    ticks = _write(tmp_path / "ticks.csv", rows, "timestamp,count,cameras_ok,person,x,y,zone")
    one_lag = score(ticks, truth, lag_s=4)
    window = score(ticks, truth, lag_s=4, earliest_s=1)
    assert one_lag["ticks_scored"] == window["ticks_scored"] == 3
    assert one_lag["exact_count_rate"] == pytest.approx(1 / 3)       # the arrival and the ghost are wrong
    assert one_lag["error_causes"] == {"extra, alone": 2}
    assert window["exact_count_rate"] == pytest.approx(2 / 3)        # the ghost is still wrong
    assert window["error_causes"] == {"extra, alone": 1}
    assert [e["start"] for e in window["episodes"]] == ["2026-03-02 09:01:00"]
    assert settle_window(ROOM) == (1.0, 4.0)
    assert score(ticks, truth, lag_s=4, earliest_s=4)["exact_count_rate"] == one_lag["exact_count_rate"]


def test_scorer_names_the_cause_of_each_count_error(tmp_path):
    """Each wrong tick's unmatched people get a cause; runs of wrong ticks are episodes; a
    person only an offline camera sees is out of view, and forgiven in exact_if_in_view."""
    from thermocc.camera import CameraModel
    from thermocc.room import EXAMPLE_ROOM, load_room
    room = load_room(EXAMPLE_ROOM)
    pantry = (10.4, 5.6)
    seen_by = [k for k, c in enumerate(room.cameras) if CameraModel(c).to_pixel([pantry[0]], [pantry[1]], 1.0)[2][0]]
    assert len(seen_by) == 1                      # the example room sees this spot with one camera
    truth, ticks = [], []
    people = {                                    # second: (true people, fused people)
        0: ([(5.0, 4.0), (5.5, 4.0)], [(5.2, 4.0)]),          # a pair counted as one: missed, in a group
        30: ([(5.0, 4.0)], []),                               # missed, alone
        60: ([(5.0, 4.0)], [(5.0, 4.0), (9.0, 1.0)]),         # extra, alone (a ghost)
        90: ([(5.0, 4.0)], [(5.0, 4.0), (5.4, 4.0)]),         # extra, beside someone
        120: ([(5.0, 4.0), pantry], [(5.0, 4.0)]),            # missed, out of view once its camera is offline
        150: ([(5.0, 4.0)], [(5.0, 4.0)]),                    # right
    }
    for sec, (true, fused) in people.items():
        t, f = "2026-03-02 09:%02d:%02d" % divmod(sec, 60), "2026-03-02 09:%02d:%02d" % divmod(sec + 2, 60)
        truth += ["%s,%d,%.1f,%.1f,%s" % (t, i, x, y, room.zones[room.zone_index(x, y)].name)
                  for i, (x, y) in enumerate(true)]
        ticks += ["%s,%d,4,%d,%.1f,%.1f,%s" % (f, len(fused), i, x, y, room.zones[room.zone_index(x, y)].name)
                  for i, (x, y) in enumerate(fused)] or ["%s,0,4,,,," % f]
    truth = _write(tmp_path / "truth.csv", truth, "timestamp,agent,x,y,zone")
    ticks = _write(tmp_path / "ticks.csv", ticks, "timestamp,count,cameras_ok,person,x,y,zone")
    r = score(ticks, truth, lag_s=2, room=room, offline=seen_by)
    assert r["exact_count_rate"] == pytest.approx(1 / 6)
    assert r["error_causes"] == {"missed, out of view": 1, "missed, in a group": 1, "missed, alone": 1,
                                 "extra, beside someone": 1, "extra, alone": 1}
    assert r["exact_if_in_view"] == pytest.approx(2 / 6)
    assert [(e["start"][-8:], e["end"][-8:], e["ticks"], e["kind"]) for e in r["episodes"]] == [
        ("09:00:00", "09:00:30", 2, "under"), ("09:01:00", "09:01:30", 2, "over"), ("09:02:00", "09:02:00", 1, "under")]
    assert r["episodes"][2]["cause"] == "missed, out of view" and r["episodes"][2]["zone"] == "Pantry"
    # with every camera working the Pantry person is in view: missed alone, nothing forgiven
    r = score(ticks, truth, lag_s=2, room=room)
    assert r["error_causes"]["missed, alone"] == 2 and "missed, out of view" not in r["error_causes"]
    assert r["exact_if_in_view"] == pytest.approx(1 / 6)
    # without the room nobody is out of view, and there is no ceiling to report
    r = score(ticks, truth, lag_s=2)
    assert "missed, out of view" not in r["error_causes"] and r["exact_if_in_view"] != r["exact_if_in_view"]
    # the detail the error picture draws: counts per scored time, every error with its cause
    from thermocc.plots import count_errors
    r = score(ticks, truth, lag_s=2, room=room, offline=seen_by, detail=True)
    assert [c[1:] for c in r["counts"]] == [(2, 1), (1, 0), (1, 2), (1, 2), (2, 1), (1, 1)]
    assert sorted(e[1] for e in r["errors"]) == sorted(r["error_causes"])
    count_errors(r, tmp_path / "errors.png", room)
    assert (tmp_path / "errors.png").read_bytes()[:4] == b"\x89PNG"


def test_score_command_prints_causes_draws_them_and_checks_offline_cameras(tmp_path):
    """`thermocc score` with the room: the table, the causes, the picture; an --offline camera
    that is not the room's, --offline without the room, the two files the wrong way round,
    or files of different runs (nothing to compare), is refused with the fix named."""
    import subprocess
    import sys
    from thermocc.room import EXAMPLE_ROOM
    truth = _write(tmp_path / "truth.csv", ["2026-03-02 09:00:00,1,5.0,4.0,Main Area",
                                            "2026-03-02 09:00:00,2,5.5,4.0,Main Area"], "timestamp,agent,x,y,zone")
    ticks = _write(tmp_path / "ticks.csv", ["2026-03-02 09:00:02,1,4,1,5.2,4.0,Main Area"],
                   "timestamp,count,cameras_ok,person,x,y,zone")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "thermocc.cli", "score", "--ticks", str(ticks), "--truth",
                               str(truth), "--lag-s", "2", *args], capture_output=True, text=True)
    done = run("--room", str(EXAMPLE_ROOM), "--png", str(tmp_path / "errors.png"))
    assert done.returncode == 0, done.stderr
    assert "missed, in a group 1" in done.stdout and "in view" in done.stdout.splitlines()[0]
    assert (tmp_path / "errors.png").read_bytes()[:4] == b"\x89PNG"
    refused = run("--room", str(EXAMPLE_ROOM), "--offline", "node-z/cam9")
    assert refused.returncode == 2 and "not a camera of lab" in refused.stderr and "node-b/cam2" in refused.stderr
    refused = run("--offline", "node-b/cam2")
    assert refused.returncode == 2 and "--offline needs --room" in refused.stderr
    swapped = subprocess.run([sys.executable, "-m", "thermocc.cli", "score", "--ticks", str(truth), "--truth",
                              str(ticks)], capture_output=True, text=True)
    assert swapped.returncode == 2 and "truth.csv is not a ticks.csv: it has no column count, person" in swapped.stderr
    unrelated = run("--lag-s", "3600")                    # no tick an hour after the truth's time
    assert unrelated.returncode == 2 and "nothing to score" in unrelated.stderr and "09:00:02" in unrelated.stderr


def _bench_accuracy():
    import importlib.util
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_accuracy_report_pools_days_and_says_where_the_sun_explains_errors(tmp_path):
    """The benchmark pools days by ticks (causes summed, the longest episodes kept) and
    blames the sun only where it lay: a ghost whose camera ray meets floor the patch lit in
    the hour before, or a person missed alone on such floor."""
    from thermocc.camera import CameraModel
    ba = _bench_accuracy()
    day = {"ticks_scored": 100, "exact_count_rate": 0.9, "error_causes": {"extra, alone": 3}, "episodes": [
        {"start": "2026-03-02 15:00:00", "end": "2026-03-02 15:10:00", "ticks": 3}]}
    other = {"ticks_scored": 300, "exact_count_rate": 0.5, "error_causes": {"extra, alone": 2, "missed, alone": 4},
             "episodes": [{"start": "2026-03-03 10:00:00", "end": "2026-03-03 10:01:00", "ticks": 4}]}
    both = ba.combine([day, other])
    assert both["exact_count_rate"] == pytest.approx(0.6) and both["ticks_scored"] == 400
    assert both["error_causes"] == {"extra, alone": 5, "missed, alone": 4}
    assert [e["ticks"] for e in both["episodes"]] == [4, 3]
    # pooled over scenarios, an episode names its scenario (the sunlit run replays Monday's)
    from thermocc.score import format_causes
    meeting = {"start": "2026-03-02 12:48:30", "end": "2026-03-02 13:18:30", "ticks": 61, "kind": "over",
               "cause": "extra, beside someone", "zone": "Main Area", "x": 5.5, "y": 3.2}
    assert format_causes({"episodes": [meeting]})[0].endswith("Main Area (5.5, 3.2)")
    assert format_causes({"episodes": [{**meeting, "scenario": "sunlit afternoon"}]})[0].endswith(
        "Main Area (5.5, 3.2) [sunlit afternoon]")

    settings = RenderSettings()
    patch = RoomRenderer(ROOM, settings).sun_patch(14 * 3600)
    lit = ((patch[0] + patch[2]) / 2, (patch[1] + patch[3]) / 2)
    cam = next(CameraModel(c) for c in ROOM.cameras if CameraModel(c).to_pixel([lit[0]], [lit[1]], 0.0)[2][0])
    col, row, _ = cam.to_pixel([lit[0]], [lit[1]], 0.0)
    ghost = cam.to_floor(col, row, ROOM.settings.target_height_m)[0]   # where fusion places that blob

    def episode(cause, x, y, start="14:20:00", end="14:40:00"):
        return {"start": "2026-03-02 " + start, "end": "2026-03-02 " + end, "ticks": 40, "kind": "over",
                "cause": cause, "zone": "", "x": float(x), "y": float(y)}

    def notes(*episodes):
        return ba.causes(settings, 12, 5, {"error_causes": {}, "episodes": list(episodes)}, "normal", 11, 30.0)

    assert any("ghost ticks" in n for n in notes(episode("extra, alone", *ghost)))
    assert notes(episode("extra, alone", *ghost, start="10:00:00", end="10:20:00")) == []     # before the sun
    # a ghost's centroid a little beyond the patch's edge (partly sunlit pixels) is one too
    edge = (lit[0], patch[3] + 0.15)
    col, row, _ = cam.to_pixel([edge[0]], [edge[1]], 0.0)
    centroid = cam.to_floor(col, row, ROOM.settings.target_height_m)[0]
    assert any("ghost ticks" in n for n in notes(episode("extra, alone", *centroid)))
    far = (ROOM.bounds[0] + 0.5, ROOM.bounds[3] - 0.5)                 # the far side of the room
    assert notes(episode("extra, alone", *far)) == []
    assert any("missed ticks" in n for n in notes(episode("missed, alone", *lit)))
    assert notes(episode("missed, in a group", *lit)) == []
    # a group counted wrong: what sizing reads from its people rendered without noise (Monday's
    # meeting: four at the table and the sitter at the desk beside it)
    meeting = notes(episode("extra, beside someone", 5.5, 3.2, start="12:48:30", end="13:18:30"))
    assert len(meeting) == 1 and "5 people there at 13:03" in meeting[0] and "4 views" in meeting[0], meeting
    assert "counts 6 by pixels alone and 5 held to its 5 people tracked" in meeting[0], meeting
    # and how many people the run tracked round them then, from its ticks.csv
    ticks = tmp_path / "ticks.csv"
    ticks.write_text("timestamp,count,cameras_ok,person,x,y,zone\n" + "".join(
        "2026-03-02 13:03:30,7,4,%d,%.2f,%.2f,Main Area\n" % (i, x, y)
        for i, (x, y) in enumerate([(6.8, 4.4), (5.2, 4.4), (6.0, 3.6), (5.0, 3.8), (6.6, 3.9), (5.5, 3.1),
                                    (1.0, 1.0)])))
    meeting = ba.causes(settings, 12, 5, {"error_causes": {}, "episodes": [
        episode("extra, beside someone", 5.5, 3.2, start="12:48:30", end="13:18:30")]}, "normal", 11, 30.0,
        run_ticks=lambda date: ticks)
    assert meeting[0].endswith("the run tracked 6 people within 1 m of them then"), meeting


class _Sitter:
    """A behaviour of one agent (0) seated at (x, y) from since_s on."""

    def __init__(self, x, y, since_s):
        self.x, self.y, self.since_s = x, y, since_s

    def positions(self, t_s):
        return [(0, self.x, self.y, "seated", ROOM.zone_index(self.x, self.y))] if t_s >= self.since_s else []

    def monitors_on(self, t_s):
        return []


def test_someone_who_sits_down_as_warm_as_the_sunlit_floor_could_not_be_seen_until_it_cools():
    """tools/visibility.py, which the accuracy benchmark asks about the people its runs
    missed: someone who sits down at 12:39 where the sun has warmed the floor to their
    clothing's temperature changes too few pixels for any detector, against the room without
    them; without the sun, or once the patch has moved on, they are plain to see."""
    from thermocc_tools.visibility import Visibility, nearest_agent
    arrive = 12 * 3600 + 39 * 60
    sitter = _Sitter(9.6, 0.6, arrive)
    assert nearest_agent(sitter, arrive, 9.9, 0.9) == 0 and nearest_agent(sitter, arrive - 30, 9.6, 0.6) is None
    every_30_s = np.arange(12 * 3600, 15 * 3600, 30.0)
    sun = Visibility(ROOM, RenderSettings(), sitter, 0, every_30_s)
    assert sun.seen(arrive - 30) is None                      # not there yet
    assert sun.seen(arrive + 60) is False
    half, whole = max(sun.change(arrive + 90), key=lambda c: c[0])
    assert 0 < half < 5                                       # their head and a sliver: too few pixels
    assert sun.seen(13 * 3600 + 40 * 60) is True              # the patch has moved on
    shade = Visibility(ROOM, RenderSettings(sun=False), sitter, 0, every_30_s)
    assert shade.seen(arrive + 60) is True


class _Seated:
    """A behaviour of agents 0, 1, ... seated at fixed places all day."""

    def __init__(self, *places):
        self.places = places

    def positions(self, t_s):
        return [(a, x, y, "seated", ROOM.zone_index(x, y)) for a, (x, y) in enumerate(self.places)]

    def monitors_on(self, t_s):
        return []


def test_a_group_is_who_sits_near_whom_and_its_noise_free_blobs_read_as_its_size():
    """tools/visibility.py for a group (the accuracy benchmark's account of a group counted
    wrong): two people 0.8 m apart are a group, a third 3 m away is not; rendered without
    noise, their blobs hold more pixels than either alone, and group sizing reads them as
    two and counts two."""
    from thermocc.fusion import BlobFusion
    from thermocc_tools.visibility import Visibility, group_around
    pair = _Seated((5.6, 4.4), (6.4, 4.4), (9.6, 2.0))
    noon = 12 * 3600
    assert group_around(pair, noon, 0) == {0, 1} == group_around(pair, noon, 1)
    assert group_around(pair, noon, 2) == {2} and group_around(pair, noon, 7) == set()
    settings = RenderSettings(sun=False)
    times = np.arange(noon - 60, noon + 1, 30.0)
    both = Visibility(ROOM, settings, pair, {0, 1}, times).views(noon)
    one = Visibility(ROOM, settings, pair, 0, times).views(noon)
    alone = {v[0]: v[1] for v in one}
    together = {v[0]: v[1] for v in both}
    assert len(together) >= 2 and alone and set(alone) <= set(together)
    assert all(together[k] > alone[k] for k in alone)
    cams, pixels, boxes, mean, peak = (np.array(v) for v in zip(*both))
    count, reading = BlobFusion(ROOM).group_reading(cams, pixels, boxes, 6.0, 4.4, mean, peak)
    assert count == 2 and 1.5 < reading < 2.5, reading


def test_accuracy_benchmark_reuses_a_simulation_only_if_made_with_the_same_parameters(tmp_path):
    """A --quick run's hour (or another frame interval, seed, scenario) stored in the same
    folder is simulated again, never scored as the full scenario; an interrupted one too."""
    ba = _bench_accuracy()
    data, runs = tmp_path / "sim" / "crowded", []

    def simulate():
        data.mkdir(parents=True)
        (data / "frames.csv").write_text("simulated %d\n" % len(runs))
        runs.append(1)

    full = {"seed": 11, "hours": 4.0, "frame_interval_s": 30.0, "render": {"air_c": 22.0}}
    assert ba.ensure_simulated(data, full, "crowded", simulate) and len(runs) == 1
    assert not ba.ensure_simulated(data, dict(full), "crowded", simulate) and len(runs) == 1
    for changed in ({"hours": 1.0}, {"frame_interval_s": 1.0}, {"seed": 12}, {"render": {"air_c": 28.0}}):
        assert ba.ensure_simulated(data, {**full, **changed}, "crowded", simulate)
    assert len(runs) == 5 and (data / "frames.csv").read_text() == "simulated 4\n"   # nothing of the old one kept
    (data / "complete").unlink()                                     # interrupted before it finished
    assert ba.ensure_simulated(data, full, "crowded", simulate) and len(runs) == 6
    (data / "complete").write_text("11")                             # the marker of earlier versions: a seed
    assert ba.ensure_simulated(data, full, "crowded", simulate) and len(runs) == 7
    # the key names the simulation's code: a change to the detector is simulated again
    code = ba.simulation_code()
    assert len(code) == 16 and code == ba.simulation_code()
    assert ba.ensure_simulated(data, {**full, "code": code}, "crowded", simulate) and len(runs) == 8
    assert not ba.ensure_simulated(data, {**full, "code": code}, "crowded", simulate)
    assert ba.ensure_simulated(data, {**full, "code": "0" * 16}, "crowded", simulate) and len(runs) == 9


def test_demo_chain_short_form(broker, tmp_path):
    """Two simulated boards running the firmware, a real broker, the daemon, outputs and pictures."""
    from thermocc_tools.room_chain import run_chain
    result = run_chain(tmp_path / "demo", hours=0.6, start_hour=9.0, seed=2, frame_interval_s=30,
                       broker=(broker.host, broker.port), quiet=True)
    assert result["drained"]
    out = pd.read_csv(result["outputs"] + "/output.csv")
    assert len(out) >= 6 and (out["coverage"] > 0.9).all()
    zone_cols = [c for c in out if c.startswith("L3_") and c.endswith("_count")]
    assert (out[zone_cols].sum(axis=1) == out["L2_count"]).all()
    assert out["L1_presence"].max() == 1 and out["L2_count"].max() >= 3      # a morning in the lab
    res = score(result["outputs"] + "/ticks.csv", result["truth"], result["outputs"] + "/output.csv")
    assert res["ticks_scored"] > 60 and res["presence_f1"] > 0.9 and res["count_mae"] < 1.0
    for key in ("levels_png", "floor_png", "animation"):
        assert open(result[key], "rb").read(4) in (b"\x89PNG", b"GIF8")


def test_a_demo_too_short_to_close_a_step_ends_cleanly_and_says_so(broker, tmp_path):
    """Six simulated minutes close no 5-minute step (rows are written per step): the demo
    draws the floor plan, says there is nothing to score yet, and exits 0."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "thermocc.cli", "demo", "--out", str(tmp_path / "demo"), "--hours",
                           "0.1", "--broker", "%s:%d" % (broker.host, broker.port)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "nothing to score yet, the run closed no 5-minute step" in done.stdout
    assert (tmp_path / "demo" / "floor_plan.png").exists() and not (tmp_path / "demo" / "levels.png").exists()


@pytest.mark.parametrize("command", ["demo", "simulate"])
def test_simulation_commands_refuse_times_that_cannot_run(command, tmp_path):
    import subprocess
    import sys
    for bad, says in ((["--hours", "0"], "--hours and --frame-interval-s must be positive"),
                      (["--frame-interval-s", "-30"], "--hours and --frame-interval-s must be positive"),
                      (["--moving-interval-s", "-1"], "--moving-interval-s must be 0 (none) or positive")):
        done = subprocess.run([sys.executable, "-m", "thermocc.cli", command, "--out", str(tmp_path / "x"), *bad],
                              capture_output=True, text=True)
        assert done.returncode == 2 and says in done.stderr, (bad, done.stderr)
    assert not (tmp_path / "x").exists()


def test_frame_mode_chain_through_the_broker(broker, tmp_path):
    """Boards stream raw frames (mqtt.frames), the daemon runs them through the detector and
    fuses pixels on the floor grid; its journal of frames replays to the same bytes."""
    from thermocc.daemon import replay
    from thermocc.site import load_site
    from thermocc_tools.room_chain import run_chain
    result = run_chain(tmp_path / "demo", hours=0.6, start_hour=9.0, seed=2, frame_interval_s=30,
                       broker=(broker.host, broker.port), quiet=True, plots=False, mode="frame")
    assert result["drained"]
    journal = (tmp_path / "demo" / "state" / "lab.journal").read_text().splitlines()
    assert len(journal) == 4 * 73 and all('"encoding":"int16le-centi-c"' in line for line in journal)
    out = pd.read_csv(result["outputs"] + "/output.csv")
    assert len(out) >= 6 and (out["coverage"] > 0.9).all()
    zone_cols = [c for c in out if c.startswith("L3_") and c.endswith("_count")]
    assert (out[zone_cols].sum(axis=1) == out["L2_count"]).all()
    assert out["L1_presence"].max() == 1 and out["L2_count"].max() >= 3
    res = score(result["outputs"] + "/ticks.csv", result["truth"], result["outputs"] + "/output.csv")
    assert res["ticks_scored"] > 60 and res["presence_f1"] > 0.9 and res["count_mae"] < 1.0
    site = load_site(result["site"])
    stats = replay(site, tmp_path / "replayed", journals=[site.state / "lab.journal"], mode="frame")
    assert stats["lab"]["accepted"] == len(journal) and stats["other_mode"] == 0
    live = {p.name: p.read_bytes() for p in Path(result["outputs"]).glob("*.csv")}
    assert live == {p.name: p.read_bytes() for p in (tmp_path / "replayed" / "lab").glob("*.csv")}


def test_simulated_files_replay_from_sd_logs_and_csv(tmp_path):
    """`simulate` writes what boards and a recorder would; replay merges the two nodes' logs
    into one time order (none 'late') and reads the raw-frame CSV through the detector.
    Damaged log bytes and CSV rows are skipped and counted; a folder with no logs is an error."""
    import json
    from thermocc.daemon import replay
    from thermocc.site import load_site
    from thermocc_tools.room_chain import simulate_files
    sim = simulate_files(tmp_path / "sim", hours=0.1, start_hour=8.95, seed=3, quiet=True)   # 08:57-09:03
    (tmp_path / "site.json").write_text(json.dumps({"site": "campus", "rooms": [str(EXAMPLE_ROOM)]}))
    site = load_site(tmp_path / "site.json")
    logs = replay(site, tmp_path / "from_logs", log_folders=sim["sd_logs"])
    frames = pd.read_csv(sim["frames_csv"], usecols=[0, 1])
    csv = replay(site, tmp_path / "from_csv", csv_files=[sim["frames_csv"]])
    assert logs["lab"]["late"] == 0 and csv["lab"]["late"] == 0
    assert csv["lab"]["accepted"] == len(frames) == 4 * 13         # 13 frame times x 4 cameras
    assert 0 < logs["lab"]["accepted"] <= len(frames)                # published (changed) records only
    ticks = pd.read_csv(tmp_path / "from_csv" / "lab" / "ticks.csv")      # the closed 08:55 step
    assert len(ticks) and ticks["cameras_ok"].max() == 4
    # a damaged file among a node's logs: its bytes are skipped and counted, the rest replays
    import shutil
    damaged = tmp_path / "logs" / "node-a"
    shutil.copytree(sim["sd_logs"][0], damaged)
    (damaged / "99999999.tlg").write_bytes(bytes(range(64)))
    again = replay(site, tmp_path / "damaged", log_folders=[damaged, sim["sd_logs"][1]])
    assert again["lab"]["accepted"] == logs["lab"]["accepted"] and again["log_damage"] == {"regions": 1, "bytes": 64}
    assert logs["log_damage"] == {"regions": 0, "bytes": 0}
    card = tmp_path / "card"                           # a card's root: the logs are in thermocc/
    shutil.copytree(sim["sd_logs"][0], card / "thermocc")
    assert replay(site, tmp_path / "card_out", log_folders=[card])["lab"]["accepted"] > 0
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no SD log files"):
        replay(site, tmp_path / "nothing", log_folders=[tmp_path / "empty"])
    # damaged rows of a raw-frame CSV: skipped and counted, never the end of the replay
    lines = open(sim["frames_csv"]).read().splitlines()
    lines[3] = lines[3][:2000]                                       # cut short
    lines[5] = lines[5].replace(",", ",abc,", 1)                     # a field too many
    lines[7] = "yesterday" + lines[7][lines[7].index(","):]          # not a time
    cells = lines[9].split(",")
    lines[9] = ",".join(cells[:100] + ["warm"] + cells[101:])       # not a temperature
    (tmp_path / "damaged.csv").write_text("\n".join(lines) + "\n")
    damaged_csv = replay(site, tmp_path / "from_damaged_csv", csv_files=[tmp_path / "damaged.csv"])
    assert damaged_csv["csv_bad_rows"] == 4 and damaged_csv["lab"]["accepted"] == len(frames) - 4
    assert csv["csv_bad_rows"] == 0
    # the command shows its progress on stderr, one line per input, and the summary on stdout
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "thermocc.cli", "replay", "--config", str(tmp_path / "site.json"),
                           "--out", str(tmp_path / "cli"), "--csv", str(tmp_path / "damaged.csv")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["csv_bad_rows"] == 4
    rows = len(frames) - 1                                           # the parser drops the row of 771 fields
    assert "damaged.csv: %d rows read" % rows in done.stderr and "damaged.csv: %d/%d" % (rows, rows) in done.stderr
    assert "frames: %d/%d" % (len(frames) - 4, len(frames) - 4) in done.stderr


def test_a_new_simulation_replaces_an_earlier_one_and_never_wipes_a_folder_it_did_not_write(tmp_path):
    """Simulating again into the same --out starts clean (the boards' SD logs of the first
    run would otherwise be read back into the new raw-frame CSV); a folder holding anything
    else is refused with the fix named, and left as it was."""
    import subprocess
    import sys
    from thermocc_tools.room_chain import simulate_files
    first = simulate_files(tmp_path / "sim", hours=0.05, start_hour=9.0, seed=3, quiet=True)
    rows = len(pd.read_csv(first["frames_csv"], usecols=[0]))
    again = simulate_files(tmp_path / "sim", hours=0.05, start_hour=14.0, seed=3, quiet=True)
    frames = pd.read_csv(again["frames_csv"], usecols=[0])
    assert len(frames) == rows and (frames["timestamp"] % 86400 >= 14 * 3600).all()     # the 14:00 run alone
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    for command in ("simulate", "demo"):
        done = subprocess.run([sys.executable, "-m", "thermocc.cli", command, "--out", str(project), "--hours", "0.05"],
                              capture_output=True, text=True)
        assert done.returncode == 2 and "no thermocc demo or simulation wrote" in done.stderr, done.stderr
    assert [p.name for p in project.iterdir()] == ["notes.txt"]
    (tmp_path / "sim" / ".thermocc-run").unlink()           # as an earlier version left it: no marker
    assert simulate_files(tmp_path / "sim", hours=0.05, start_hour=9.0, seed=3, quiet=True)


def test_a_rendered_person_is_counted_once_where_views_overlap():
    """Noise-free rendered scenes (the renderer's temperatures, no sensor noise) of one
    person, standing or seated, anywhere on the floor: the detector on each camera and
    fusion, blob mode and frame mode, count exactly one person (two views never make two
    people; a view cut by the image border still joins the others)."""
    rng = np.random.default_rng(12)
    spots = [(7.88, 2.94, "standing")]          # seen whole by one camera, cut by the border of another
    spots += [(rng.uniform(0.8, 11.2), rng.uniform(0.8, 6.2), ("standing", "seated")[k % 2]) for k in range(60)]
    count = RenderedCount()
    for x, y, posture in spots:
        for mode, people in count.people([(x, y, posture)]):
            assert len(people) == 1, (mode, x, y, posture)
            assert np.hypot(*(people[0] - (x, y))) < 0.6, (mode, x, y, posture, people)


def test_one_persons_blob_fills_the_person_model_whole_in_view_or_cut_by_the_border():
    """Group sizing measures blobs against the one-person model (camera.PERSON_*: a
    cylinder from the floor to a seated head). At 40 rendered places per posture, the
    median view holds 0.85-1.25 of the model's pixels and nine in ten views under 1.5,
    seated or standing, whole in view or cut by the image border. A camera sees most of
    the legs of someone near its border: a model from seat height read seated people cut
    by the border at 1.65 times its pixels (the tenth worst 2.9)."""
    fill = RenderedCount().person_fill(places=40)
    assert {cut for _, cut in fill} == {False, True}
    for key, ratios in fill.items():
        assert len(ratios) >= 15, key
        assert 0.85 <= np.median(ratios) <= 1.25, (key, np.median(ratios))
        assert np.percentile(ratios, 90) < 1.5, (key, np.percentile(ratios, 90))


def test_a_monitor_left_on_with_nobody_at_its_desk_is_nobody_in_both_modes():
    """Every desk's monitor, on while nobody sits there (it stays on a while after its user
    leaves), is nobody; with its user seated it is one person, in both modes. The monitors
    by the left wall make a blob of a few pixels in the corner of the one camera that sees
    them, and past that corner is the wall: under min_lone_fraction of one person's pixels
    there, so not a person (with that rule off, two of them count as one)."""
    from thermocc_tools.occupancy_sim import make_seats
    count = RenderedCount()
    for seat in make_seats(ROOM):
        if seat.monitor is not None:
            assert [len(p) for _, p in count.people([], [seat.monitor])] == [0, 0], seat
            assert [len(p) for _, p in count.people([(seat.x, seat.y, "seated")], [seat.monitor])] == [1, 1], seat


def test_one_camera_sees_a_person_in_a_winter_coat_whole_in_both_modes():
    """A coat reads 3.6 C over the air, under the 5 C threshold: only the head is warm; both
    modes' groups take the coat as fringe."""
    count = RenderedCount(winter_clothing=True)
    for x, y, posture in [(1.1, 2.8, "standing"), (5.0, 0.8, "seated"), (7.7, 1.9, "seated"), (10.4, 5.6, "seated")]:
        assert [len(p) for _, p in count.people([(x, y, posture)])] == [1, 1], (x, y, posture)


class _Counts:
    """A sink that keeps each tick's count."""

    def __init__(self):
        self.counts = []

    def tick(self, pipeline, result):
        self.counts.append((result.t_ms, result.count))

    def steps(self, pipeline, rows, zone_rows):
        pass

    def close(self):
        pass


def _sunlit_seat_observations(seat, sit_from_s, leave_s, until_s, step_s=30.0):
    """Each camera's Observations of one person seated at seat from sit_from_s until leave_s
    (None: they stay), one frame every step_s from sit_from_s to until_s (before, of the
    empty room every 5 minutes from 11:55, before the sun: a detector primed on a sunlit
    floor takes the patch for a person); the sun patch at the benchmark's +10 C, noise-free
    frames through each camera's detector."""
    from thermocc import detect_fast as fd
    from thermocc.ingest import observations_from_stats
    renderer = RoomRenderer(ROOM, RenderSettings(drift_c=0.0, sun_excess_c=10.0))
    detectors = [fd.FastDetector() for _ in ROOM.cameras]
    out, seq = [], 0
    for t in np.concatenate([np.arange(11 * 3600 + 55 * 60, sit_from_s, 60.0), np.arange(sit_from_s, until_s, step_s)]):
        seated = sit_from_s <= t and (leave_s is None or t < leave_s)
        temps = renderer.render(t, [(0, *seat, "seated", ROOM.zone_index(*seat))] if seated else [])
        for k, c in enumerate(ROOM.cameras):
            seq += 1
            t_ms = np.array([int(t * 1000) + k], np.int64)
            stats, summary = detectors[k].detect_frames(temps[k].astype(np.float32)[None], t_ms)
            out += observations_from_stats(c.node, c.id, [seq], t_ms, stats, summary, temps[k].astype(np.float32)[None])
    return out


def _tick_counts(observations, mode, from_s, until_s):
    import copy
    from thermocc.pipeline import RoomPipeline
    sink = _Counts()
    pipeline = RoomPipeline(ROOM, [sink], mode=mode)
    for o in observations:
        if o.t_ms >= from_s * 1000:           # (the hours before: a tick a second of an empty room)
            pipeline.feed(copy.deepcopy(o))   # the pipeline marks residual blobs in place
    pipeline.advance_to(int(until_s * 1000))
    return sink.counts


def test_the_warm_seat_a_person_leaves_in_the_sun_is_nobody(monkeypatch):
    """The accuracy benchmark's sunlit ghost, rendered: someone sits at (3.6, 0.6) from 15:00;
    the sun patch reaches the seat at about 15:20 and the background is not learned under
    them, so when they leave at 15:29:30 their seat's sunlit floor stays a blob (8 of the 12
    pixels) where they sat. It is their residual heat, not a person, in both modes (with the
    rule off, host/residual.py, it counts one until the end, 15:45); someone who stays in
    the sun is counted throughout."""
    import thermocc.residual as residual
    seat, sit, leave, until = (3.6, 0.6), 15 * 3600, 15.5 * 3600 - 30, 15.75 * 3600
    left = _sunlit_seat_observations(seat, sit, leave, until)
    stays = _sunlit_seat_observations(seat, sit, None, until)
    after = int((leave + 10) * 1000)
    for mode in ("blob", "frame"):
        counts = _tick_counts(left, mode, sit - 300, until)
        seated = [c for t, c in counts if sit * 1000 + 60_000 <= t < leave * 1000]
        assert seated and set(seated) == {1}, mode
        assert {c for t, c in counts if t >= after} == {0}, mode
        assert {c for t, c in _tick_counts(stays, mode, sit - 300, until) if t >= sit * 1000 + 60_000} == {1}, mode
    monkeypatch.setattr(residual.ResidualHeat, "mark", lambda self, cam, obs: None)
    assert {c for t, c in _tick_counts(left, "blob", sit - 300, until) if t >= after} == {1}


def test_meetings_on_the_simulators_chairs_are_counted_their_size():
    """Attendees side by side on the benchmark's meeting chairs (0.6 m apart round the
    table, occupancy_sim.Behaviour.chairs), rendered without noise: two to six on the first
    ring starting from each of its chairs, seven to ten filling it and the next. Blob mode
    counts 31 of the 34 meetings exactly and none off by more than one; frame mode 29
    exactly. (With a one-person model from seat height, people spread evenly round the
    ring and a count that needed all of the next person's pixels: 13 of 34 in blob mode,
    and the meeting of ten counted one.)"""
    count = RenderedCount()
    behaviour = Behaviour(ROOM, agents=1)
    chairs, table = behaviour.chairs, np.array(behaviour.table)
    ring = np.hypot(*(np.array(chairs[0]) - table))
    first = [c for c in chairs if abs(np.hypot(*(np.array(c) - table)) - ring) < 0.05]
    assert len(first) == 6
    meetings = [[first[(start + j) % len(first)] for j in range(m)] for m in range(2, 7) for start in range(len(first))]
    meetings += [chairs[:m] for m in range(7, 11)]
    off = {"blob": [], "frame": []}
    for seats in meetings:
        for mode, people in count.people([(x, y, "seated") for x, y in seats]):
            off[mode].append(len(people) - len(seats))
    blob, frame = np.array(off["blob"]), np.array(off["frame"])
    assert (blob == 0).mean() >= 0.85 and np.abs(blob).max() <= 1, blob
    assert (frame == 0).mean() >= 0.8, frame


def _blob_count(count, seats, tracked=None):
    """Blob mode's count of people seated at seats, rendered without noise; tracked: where
    people were tracked before (None: not known)."""
    obs = count.observations([(x, y, "seated") for x, y in seats])
    dets = [(k, *row) for k, o in enumerate(obs) for row in o.people()]
    return len(count.fusion.fuse(dets, None, None if tracked is None else np.array(tracked, float))[0])


def test_a_group_is_not_counted_one_more_than_its_tracks_on_pixels_short_of_the_hold():
    """The accuracy benchmark's Monday meeting: four on the table's chairs with an empty one
    between two of them, a fifth at a desk beside it. Spread wider than the model's ring, it
    covers more pixels than five people there should: by pixels alone it counts six. With
    the five tracked where they sit (seen walking in), it counts five."""
    count = RenderedCount()
    five = [(6.786, 4.386), (5.19, 4.39), (5.994, 3.594), (5.0, 3.8), (6.585, 3.853)]
    assert _blob_count(count, five) == 6
    assert _blob_count(count, five, tracked=five) == 5


def test_someone_nobody_saw_arrive_in_a_meeting_is_counted_where_the_pixels_show_them():
    """Two to five attendees side by side on the first ring of the benchmark's meeting
    chairs, from each chair: all 24 meetings count their size by pixels alone and with
    everyone tracked; with one of them never tracked (arrived unseen), the hold keeps 23
    of them their size (pixels past HOLD_FILL of the way), one a person short."""
    count = RenderedCount()
    behaviour = Behaviour(ROOM, agents=1)
    chairs, table = behaviour.chairs, np.array(behaviour.table)
    ring = np.hypot(*(np.array(chairs[0]) - table))
    first = [c for c in chairs if abs(np.hypot(*(np.array(c) - table)) - ring) < 0.05]
    alone, tracked, one_untracked = [], [], []
    for m in range(2, 6):
        for start in range(len(first)):
            seats = [first[(start + j) % len(first)] for j in range(m)]
            alone.append(_blob_count(count, seats) - m)
            tracked.append(_blob_count(count, seats, tracked=seats) - m)
            one_untracked.append(_blob_count(count, seats, tracked=seats[:-1]) - m)
    assert alone == [0] * 24 and tracked == [0] * 24
    assert sorted(one_untracked) == [-1] + [0] * 23, one_untracked


def test_a_crowded_meeting_the_image_borders_cut_is_placed_at_its_middle_and_counted_its_size(monkeypatch):
    """Seven to sixteen attendees on the benchmark's meeting chairs (the first ring of six,
    then the next), rendered without noise. Every camera's view of them is cut by its image
    border, so the rays of their blobs' centroids put the group inward of its middle (0.25-
    0.41 m off), where the outline model wants more pixels than they show: two of the ten
    meetings were counted their size, the others up to five short (the crowded benchmark
    meeting of eleven was counted ten for its whole hour). Placed where the model's blobs,
    clipped to each image, have their blobs' centroids (fusion.PLACE_MIN_GROUP), they are
    0.03-0.14 m off and six are counted their size, none more than three off."""
    from thermocc import fusion
    count = RenderedCount()
    chairs = Behaviour(ROOM, agents=1).chairs
    meetings = [chairs[:m] for m in range(7, 17)]

    def blob_counts():
        off, miss = [], []
        for seats in meetings:
            people = dict(count.people([(x, y, "seated") for x, y in seats]))["blob"]
            off.append(len(people) - len(seats))
            miss.append(np.hypot(*(people.mean(0) - np.mean(seats, 0))))
        return np.array(off), np.array(miss)

    placed, placed_miss = blob_counts()
    monkeypatch.setattr(fusion, "PLACE_MIN_GROUP", fusion.MAX_GROUP + 1)
    rays, rays_miss = blob_counts()
    assert (rays == 0).sum() <= 3 and rays.min() <= -4 and rays_miss.min() > 0.2, (rays, rays_miss)
    assert (placed == 0).sum() >= 6 and np.abs(placed).max() <= 3 and placed_miss.max() < 0.2, (placed, placed_miss)
    assert np.abs(placed).sum() < np.abs(rays).sum() / 2


def _table_ring(size, turn, posture, radius=0.8, table=(5.9, 4.4)):
    return [(table[0] + radius * np.cos(a), table[1] + radius * np.sin(a), posture)
            for a in 2 * np.pi * np.arange(size) / size + turn]


def test_groups_in_winter_coats_are_no_longer_counted_short(monkeypatch):
    """A coat's edge pixels read under the detector's fringe, so a group in coats covers
    fewer pixels than the outlines that size groups expect (0.79-0.83 of them in rendered
    scenes); blobs whose mean excess is a small share of their peak (the face) count their
    pixels for more (fusion.cluster_clothing_fill). Two to four people round the table, seated or
    standing, at twelve turns, rendered without noise: without the correction those in
    coats count 54 people short over the 72 scenes, 66 short of the same groups in normal
    clothing; with it 3 short, 15 short of normal clothing (which counts these groups 12
    over: group sizing's own error, not the coats'), and the counts in coats come closer
    to those in normal clothing scene by scene."""
    from thermocc import fusion
    turns = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    scenes = [(m, _table_ring(m, t, posture)) for posture in ("seated", "standing") for m in (2, 3, 4) for t in turns]
    sizes = np.array([m for m, _ in scenes])

    def counts(render):
        return np.array([len(dict(render.people(scene))["blob"]) for _, scene in scenes])

    normal = counts(RenderedCount())
    coats = RenderedCount(winter_clothing=True)
    corrected = counts(coats)
    monkeypatch.setattr(fusion, "COLD_CLOTHING_FILL", 1.0)
    uncorrected = counts(coats)
    assert (uncorrected - sizes).sum() < -30
    # the shortfall the coats cause (against the same groups in normal clothing) more than halves
    assert abs((corrected - normal).sum()) < abs((uncorrected - normal).sum()) / 2
    assert abs(corrected - normal).sum() < abs(uncorrected - normal).sum()


def test_the_coat_correction_leaves_people_in_normal_clothing_alone():
    """In normal clothing a group's blobs read a mean excess of NORMAL_CLOTHING_W of their
    peak or more: no blob of one to eight people round the table, seated or standing, at
    two turns, is corrected. A lone person far off a camera's axis can read a little under
    it (down to 0.5 at 18 C air, counted up to 1 / 0.88): one person anywhere on the floor,
    at 18 C and 26 C air, still counts one in both modes."""
    from thermocc import fusion
    count = RenderedCount()
    blobs = 0
    for scene in [_table_ring(m, turn, posture) for m in range(1, 9) for turn in (0.2, 1.3)
                  for posture in ("seated", "standing")]:
        for o in count.observations(scene):
            rows = o.people()
            blobs += len(rows)
            assert (fusion.clothing_fill(rows[:, 8], rows[:, 9]) == 1.0).all(), (scene, rows)
    assert blobs > 60
    for air in (18.0, 26.0):
        count = RenderedCount(air_c=air)
        rng = np.random.default_rng(12)
        for k in range(60):
            x, y, posture = rng.uniform(0.8, 11.2), rng.uniform(0.8, 6.2), ("standing", "seated")[k % 2]
            assert [len(p) for _, p in count.people([(x, y, posture)])] == [1, 1], (air, x, y, posture)


@pytest.mark.parametrize("posture", ["seated", "standing"])
def test_a_small_group_merged_into_one_blob_counts_as_its_size(posture):
    """Two or three people at the Main Area table (0.8 m from its centre, as the behaviour
    generator seats a meeting) merge into one blob in some views; blob mode counts the
    group by the area its blobs cover against what that many people cover there. Not
    claimed: in these noise-free scenes four to seven seated people form one cluster per
    part of the group and are over-counted by two or three. The accuracy benchmark measures
    both modes."""
    count = RenderedCount()
    table = (5.9, 4.4)
    for size in (2, 3):
        ring = [(table[0] + 0.8 * np.cos(a), table[1] + 0.8 * np.sin(a), posture)
                for a in 2 * np.pi * np.arange(size) / size + 0.3]
        people = dict(count.people(ring))["blob"]
        assert len(people) == size, (size, posture, people)
        # each person has a fused position near them
        assert max(min(np.hypot(*(p - q[:2])) for p in people) for q in ring) < 0.6


@pytest.mark.parametrize("posture", ["seated", "standing"])
def test_frame_mode_sizes_a_group_by_the_detectors_pixels_where_its_frame_shows_fewer(posture):
    """Three people at the Main Area table. A group's edge pixels read near half the
    threshold; the detector keeps them (its background, and hysteresis for pixels it held)
    while a frame-mode count against the ambient loses those noise puts under half the
    threshold. Here every fringe pixel of the frames is dimmed just under it, the
    detector's blobs as they were: frame mode still counts three (two from the dimmed
    frames alone)."""
    from thermocc.pipeline import person_pixels
    count = RenderedCount()
    ring = [(5.9 + 0.8 * np.cos(a), 4.4 + 0.8 * np.sin(a), posture) for a in 2 * np.pi * np.arange(3) / 3 + 0.3]
    obs = count.observations(ring)
    ambients = np.array([o.ambient_c for o in obs])
    frames = np.array([person_pixels(o) for o in obs])
    excess = frames - ambients[:, None]
    dimmed = np.where((excess >= 2.5) & (excess < 5.0), ambients[:, None] + 2.4, frames)
    blobs, ok = [o.blobs for o in obs], np.ones(len(obs), bool)
    assert len(count.grid.fuse(dimmed, ambients, ok, blobs)) == 3
    assert len(count.grid.fuse(dimmed, ambients, ok)) == 2


def test_a_person_by_the_pantry_kettle_is_one_person_in_both_modes():
    """The kettle (92 C, in the Pantry's far corner while someone is there) and a person
    beside it make one group in the one view that sees them: it was all a hot object, and
    these places counted nobody in both modes (13 of 240 spots on a 0.25 m grid over the
    Pantry). The detector groups the kettle and its edge apart now, and frame mode leaves
    out pixels in a person's box warmer than their peak (the kettle's)."""
    count = RenderedCount()
    for x, y, posture in [(10.55, 6.05, "standing"), (10.8, 6.3, "standing"), (11.05, 6.55, "standing"),
                          (11.05, 6.3, "seated"), (11.3, 6.3, "seated"), (11.55, 6.3, "standing")]:
        assert [len(p) for _, p in count.people([(x, y, posture)])] == [1, 1], (x, y, posture)


def test_an_unmasked_radiator_is_nobody_and_beside_it_one_person():
    """The renderer's radiator (45 C under the Office window, on in no benchmark scenario)
    reads 39-40 C in the one view that sees it, under max_person_c: a blob of a few pixels,
    too few for a person there, so nobody. Someone beside it joins that blob and still counts
    one in both modes, placed within 0.4 m in blob mode (frame mode: within 0.6 m). Not
    claimed (docs/detection.md): standing at (10.5, 0.6), in front of its middle, frame mode
    counts two; mask a radiator."""
    count = RenderedCount(radiator=True)
    assert [len(p) for _, p in count.people([])] == [0, 0]
    for x, y, posture in [(10.0, 0.7, "standing"), (11.0, 0.6, "standing"), (10.5, 0.8, "seated"),
                          (9.6, 0.6, "seated")]:
        for mode, people in count.people([(x, y, posture)]):
            assert len(people) == 1, (mode, x, y, posture)
            assert np.hypot(*(people[0] - (x, y))) < (0.45 if mode == "blob" else 0.65), (mode, x, y, posture)


def test_two_people_side_by_side_where_one_camera_alone_sees_count_as_two():
    """In the Pantry only one camera sees the floor, so two people side by side there make
    one blob in its only view, sized by its pixels (with one view, nothing else can tell
    them apart); each alone is one. The last three pairs, 0.6 m apart, hold 0.90-0.97 of
    two people's ring pixels and count two because a sole view's pair needs SOLE_FILL of
    them (with 1.0 each counts one). Not claimed: the same pair standing 0.6 m apart at the
    middle of the Pantry stays one (0.83 of two people's pixels), and frame mode counts the
    seated pair at its back as one."""
    count = RenderedCount()
    both = ("blob", "frame")
    pairs = [((9.6, 5.5), (10.7, 5.5), "standing", both),
             ((9.8, 5.6), (10.5, 5.6), "standing", both),
             ((10.0, 4.9), (10.6, 5.4), "standing", both),
             ((10.0, 4.9), (10.6, 5.4), "seated", both),
             ((10.3, 5.8), (10.9, 5.2), "seated", ("blob",)),
             ((10.2, 5.25), (10.8, 5.25), "seated", both),
             ((10.0, 4.6), (10.6, 4.6), "standing", both),
             ((10.0, 4.9), (10.5, 5.19), "standing", both)]
    for a, b, posture, modes in pairs:
        together = dict(count.people([(*a, posture), (*b, posture)]))
        assert [len(together[m]) for m in modes] == [2] * len(modes), (a, b, posture)
        for alone in (a, b):
            assert [len(p) for _, p in count.people([(*alone, posture)])] == [1, 1], (alone, posture)


def test_two_seated_people_a_desk_apart_whose_views_touch_count_as_two_in_both_modes():
    """Two people seated 1.4-1.6 m apart in the Main Area make one blob in two cameras'
    views, sized as two by its pixels. Frame mode counted them as one (its detections held
    warm pixels only, too few for two) until its groups took the fringe as the detector's do."""
    count = RenderedCount()
    for a, b in (((5.0, 2.4), (6.4, 2.4)), ((5.0, 2.4), (6.6, 2.4))):
        for mode, people in count.people([(*a, "seated"), (*b, "seated")]):
            assert len(people) == 2, (mode, a, b, people)
            assert max(min(np.hypot(*(p - q)) for p in people) for q in (np.array(a), np.array(b))) < 0.3
