"""A simulated room, end to end: ground truth -> thermal rendering -> register-level
sensors -> the real firmware on simulated boards -> a real broker -> the host daemon.

`run_chain` is what `thermocc demo` runs; `simulate_files` writes the same simulated
data without the live chain (raw-frame CSV, SD logs as the boards wrote them, ground truth).
Simulated time runs as fast as the machine allows: every `frame_interval_s` of room time
each board reads one frame per camera, and, given `moving_interval_s`, also every
`moving_interval_s` while someone walks (`frame_times`). A board reads frames several
times a second and sends blobs when they change, so between two frames of a still room it
would have sent nothing new; a walker it sends step by step, which 30 s frames alone miss.
Ground truth is written at the `frame_interval_s` frames only, so scores count the same
ticks whichever is used.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

from thermocc.room import EXAMPLE_ROOM, load_room
from thermocc_tools.occupancy_sim import Behaviour
from thermocc_tools.sim_board import SimBoard
from thermocc_tools.sim_clock import SimClock
from thermocc_tools.thermal_render import RoomRenderer, air_temperature

TRUTH_HEADER = "timestamp,agent,x,y,zone\n"
# Written into every folder a demo or simulation fills: the next run there may clear it.
RUN_MARKER = ".thermocc-run"
# What a demo or simulation writes there: a folder holding nothing else is one an earlier
# version filled (before the marker).
RUN_FILES = {"boards", "outputs", "state", "site.json", "truth.csv", "frames.csv", "levels.png", "floor_plan.png",
             "floor_animation.gif", "errors.png"}


class OutputFolderError(ValueError):
    """The --out folder cannot take a new run."""


def fresh_output_folder(out):
    """An empty folder `out` for a new run. One an earlier demo or simulation filled (it
    holds RUN_MARKER, or nothing but RUN_FILES) is cleared, so nothing of the old run (the
    boards' SD logs above all) mixes into the new one; any other folder with files in it
    is refused, never deleted (--out . must not wipe a project)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputFolderError("--out %s is a file; give a folder (it is created if missing)" % out)
    if out.exists() and any(out.iterdir()):
        if not (out / RUN_MARKER).exists() and not {p.name for p in out.iterdir()} <= RUN_FILES:
            raise OutputFolderError("--out %s has files that no thermocc demo or simulation wrote; give a new or "
                                    "empty folder (a folder an earlier run filled is replaced)" % out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_MARKER).write_text("written by thermocc demo / simulate: the next run into this folder replaces it\n")
    return out


def board_config(room, node, cams, host, port, refresh_s=60, raw_every=0, frames=False):
    return {
        "site": room.site, "room": room.name, "node": node,
        "mqtt": {"host": host, "port": port, "keepalive_s": 60, "status_interval_s": 300, "refresh_s": refresh_s,
                 "backlog_rate_per_s": 200, "window": 16, "frames": frames},
        "sd": {"enabled": True, "raw_every": raw_every},
        "cameras": [{"id": c.id, "bus": i, "refresh_hz": 4} for i, c in enumerate(cams)],
    }


def write_truth(f, stamp, people, room):
    if not people:
        f.write("%s,,,,\n" % stamp)
    for a, x, y, posture, zone in people:
        f.write("%s,%d,%.3f,%.3f,%s\n" % (stamp, a, x, y, room.zones[zone].name))


class SimulatedRoom:
    """The boards of a room (one SimBoard per node, cameras in the room file's order)."""

    def __init__(self, room, folder, start_utc_ms, behaviour, render_settings=None, host="127.0.0.1", port=1883,
                 mqtt=True, seed=0, raw_every=0, frames=False):
        self.room = room
        self.behaviour = behaviour
        self.renderer = RoomRenderer(room, render_settings)
        self.start_utc_ms = start_utc_ms
        nodes = {}
        for k, c in enumerate(room.cameras):
            nodes.setdefault(c.node, []).append((k, c))
        self.boards = []
        for i, (node, cams) in enumerate(nodes.items()):
            clock = SimClock(start_utc_ms=start_utc_ms)
            cfg = board_config(room, node, [c for _, c in cams], host, port, raw_every=raw_every, frames=frames)
            board = SimBoard(cfg, Path(folder) / node, seed=seed * 10 + i, clock=clock, mqtt=mqtt)
            self.boards.append((board, [k for k, _ in cams]))
        self.offline = set(self.renderer.settings.offline_cameras)
        for board, cams in self.boards:
            for j, k in enumerate(cams):
                if k in self.offline:            # the camera's cable is unplugged: nothing answers on its bus
                    board.buses[j].detach(board.sensors[j].address)

    @classmethod
    def for_run(cls, room, folder, start_date, start_hour, hours, seed, scenario, render_settings, **kw):
        """Behaviour for the days the run spans, boards whose clocks start at the start date's
        local midnight (boards keep UTC, the room file gives local standard time)."""
        days = max(1, int(np.ceil((start_hour + hours) / 24)))
        behaviour = Behaviour(room, start_date=start_date, days=days, seed=seed, scenario=scenario)
        start_utc_ms = int(dt.datetime.combine(start_date, dt.time(), dt.timezone.utc).timestamp() * 1000)
        start_utc_ms -= int(room.settings.utc_offset_h * 3_600_000)
        return cls(room, folder, start_utc_ms, behaviour, render_settings, seed=seed, **kw)

    def run(self, truth_path, start_date, start_hour, hours, frame_interval_s, quiet=False, pace=None,
            moving_interval_s=None):
        """One frame per camera at each of run_frame_times; ground truth of each frame_interval_s
        frame to truth_path. pace(), when given, is called after every frame time (see `run_chain`)."""
        steps = grid_steps(hours, frame_interval_s)
        midnight = dt.datetime.combine(start_date, dt.time())
        started = time.monotonic()
        done = 0
        with open(truth_path, "w") as truth:
            truth.write(TRUTH_HEADER)
            for t_s, on_grid in run_frame_times(self.behaviour, start_hour, hours, frame_interval_s, moving_interval_s):
                people = self.step_to(t_s)
                if on_grid:
                    stamp = (midnight + dt.timedelta(seconds=t_s)).strftime("%Y-%m-%d %H:%M:%S")
                    write_truth(truth, stamp, people, self.room)
                    done += 1
                if pace:
                    pace()
                if on_grid and not quiet and (done % 20 == 1 or done == steps):
                    progress_bar(done, steps, started)

    def step_to(self, t_s):
        """Render the room at t_s (seconds after the start) and let every board read one frame per camera."""
        people = self.behaviour.positions(t_s)
        monitors = self.behaviour.monitors_on(t_s)
        temps = self.renderer.render(t_s, people, monitors)
        air = air_temperature(self.renderer.settings, t_s)
        for board, cams in self.boards:
            target_us = int(t_s * 1e6)
            if board.clock.us < target_us:
                board.clock.us = target_us
            for j, k in enumerate(cams):
                if k not in self.offline:
                    board.sensors[j].set_scene(temps[k].tolist(), air_c=air)
            board.run_frames(1)
        return people

    def published(self, leaf):
        """Messages the boards have handed to the broker: "blobs" (sent and resent) or "frame"."""
        if leaf == "frame":
            return sum(b.node.frames_sent for b, _ in self.boards)
        return sum(b.node.outbox.sent + b.node.outbox.resent for b, _ in self.boards)

    def drain(self, timeout_s=30):
        """Let the boards publish what they still hold (real time: the broker is real)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            busy = False
            for board, _ in self.boards:
                board.node.step()
                if board.node.mqtt is not None and board.node.outbox.waiting():
                    busy = True
            if not busy:
                return True
            time.sleep(0.01)
        return False


def grid_steps(hours, frame_interval_s):
    """Frames a run of `hours` takes at one every frame_interval_s, the first at its start."""
    return int(hours * 3600 / frame_interval_s) + 1


def frame_times(start_s, end_s, frame_interval_s, moving_spans=(), moving_interval_s=None):
    """A run's frame times in order, as (t_s, on_grid): every frame_interval_s from start_s
    to end_s (the grid, where truth is written), and every moving_interval_s (multiples of
    it from start_s) from the start of each of moving_spans (start, end) to one interval
    past its end, so that the board also sees the walker settled."""
    grid_ms, start_ms, end_ms = round(frame_interval_s * 1000), round(start_s * 1000), round(end_s * 1000)
    extra = set()
    if moving_interval_s:
        step_ms = round(moving_interval_s * 1000)
        for a, b in moving_spans:
            k = max(0, -(-(round(a * 1000) - start_ms) // step_ms))
            while start_ms + k * step_ms <= min(end_ms, round(b * 1000) + step_ms):
                t = start_ms + k * step_ms
                if (t - start_ms) % grid_ms:
                    extra.add(t)
                k += 1
    times = [(t, True) for t in range(start_ms, end_ms + 1, grid_ms)] + [(t, False) for t in extra]
    for t, on_grid in sorted(times):
        yield t / 1000, on_grid


def run_frame_times(behaviour, start_hour, hours, frame_interval_s, moving_interval_s=None):
    """frame_times of a run of `hours` from start_hour, following behaviour's walkers."""
    start_s = start_hour * 3600
    end_s = start_s + (grid_steps(hours, frame_interval_s) - 1) * frame_interval_s
    spans = behaviour.moving_spans(start_s, end_s) if moving_interval_s else ()
    return frame_times(start_s, end_s, frame_interval_s, spans, moving_interval_s)


def write_site(folder, room_file, host, port, prefix="thermocc"):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    site = {"site": load_room(room_file).site, "mqtt": {"host": host, "port": port, "prefix": prefix,
                                                         "client_id": "thermocc-demo-host"},
            "rooms": [str(Path(room_file).resolve())], "outputs": "outputs", "state": "state"}
    path = folder / "site.json"
    path.write_text(json.dumps(site, indent=1))
    return path


def progress_bar(done, total, started, what="simulated", out=sys.stderr):
    frac = done / total if total else 1
    elapsed = time.monotonic() - started
    eta = elapsed / frac - elapsed if frac > 0 else 0
    bar = "#" * int(30 * frac)
    out.write("\r[%-30s] %5.1f%% %s, %4.0f s elapsed, %4.0f s left " % (bar, 100 * frac, what, elapsed, eta))
    out.flush()
    if done >= total:
        out.write("\n")


def run_chain(out, hours=24.0, start_hour=0.0, seed=1, frame_interval_s=30.0, room_file=None, broker=None,
              plots=True, scenario=None, render_settings=None, start_date=dt.date(2026, 3, 2), quiet=False,
              mode=None, moving_interval_s=None):
    """The whole chain; returns a dict of what was produced. broker: (host, port) or None to embed one.
    mode "frame": the boards stream raw frames (mqtt.frames) and the daemon fuses pixels."""
    from thermocc.daemon import run
    from thermocc.site import load_site
    from thermocc_tools.broker import start_embedded_broker
    out = fresh_output_folder(out)
    room_file = Path(room_file or EXAMPLE_ROOM)
    room = load_room(room_file)
    embedded = None
    if broker is None:
        embedded = start_embedded_broker()
        host, port = embedded.host, embedded.port
        if not quiet:
            print("embedded broker: %s on %s:%d" % (embedded.kind, host, port), file=sys.stderr)
    else:
        host, port = broker
    site_path = write_site(out, room_file, host, port)
    site = load_site(site_path)
    stop, ready = threading.Event(), threading.Event()
    fusers = []
    daemon = threading.Thread(target=run, args=(site,), kwargs={"stop": stop, "ready": ready, "mode": mode,
                                                                 "on_fuser": fusers.append}, daemon=True)
    daemon.start()
    ready.wait(30)
    time.sleep(0.5)
    sim = SimulatedRoom.for_run(room, out / "boards", start_date, start_hour, hours, seed, scenario,
                                render_settings, host=host, port=port, frames=mode == "frame")
    truth_path = out / "truth.csv"

    def pace():
        # Simulated time runs ~100x real time, so the room's watermark (seconds of board
        # time) would be milliseconds of real time: wait for delivery before the next
        # frame time, as a real room's 30 s between frames would.
        end = time.monotonic() + 5
        leaf = fusers[0].rooms[room.name].leaf
        while fusers[0].handled() < sim.published(leaf) and time.monotonic() < end:
            time.sleep(0.001)
    sim.run(truth_path, start_date, start_hour, hours, frame_interval_s, quiet, pace=pace,
            moving_interval_s=moving_interval_s)
    drained = sim.drain()
    time.sleep(1.0)
    stop.set()
    daemon.join(30)
    if embedded:
        embedded.stop()
    room_out = out / "outputs" / room.name
    result = {"outputs": str(room_out), "truth": str(truth_path), "drained": drained,
              "scenario": sim.behaviour.scenario_names, "site": str(site_path)}
    if plots:
        from thermocc.plots import animate_floor, floor_plan, series_png
        floor_plan(room, out / "floor_plan.png")
        result["floor_png"] = str(out / "floor_plan.png")
        # the series and the people are drawn once a step has closed (rows are written per step)
        if len((room_out / "output.csv").read_text().splitlines()) > 1:
            series_png(room, room_out / "output.csv", out / "levels.png")
            animate_floor(room, room_out / "ticks.csv", out / "floor_animation.gif", truth=_truth_points(truth_path))
            result.update(levels_png=str(out / "levels.png"), animation=str(out / "floor_animation.gif"))
    return result


def _truth_points(path):
    import pandas as pd
    df = pd.read_csv(path, dtype={"timestamp": str})
    return {s: g[["x", "y"]].to_numpy().tolist() for s, g in df.groupby("timestamp")}


def simulate_files(out, hours=24.0, start_hour=0.0, seed=1, frame_interval_s=30.0, room_file=None,
                   scenario=None, render_settings=None, start_date=dt.date(2026, 3, 2), raw_every=1, quiet=False,
                   moving_interval_s=None):
    """Raw-frame CSV, SD logs as the boards wrote them, and ground truth; no broker, no daemon.
    moving_interval_s: frames also this often while someone walks (`frame_times`)."""
    out = fresh_output_folder(out)
    room_file = Path(room_file or EXAMPLE_ROOM)
    room = load_room(room_file)
    sim = SimulatedRoom.for_run(room, out / "boards", start_date, start_hour, hours, seed, scenario,
                                render_settings, mqtt=False, raw_every=raw_every)
    sim.run(out / "truth.csv", start_date, start_hour, hours, frame_interval_s, quiet,
            moving_interval_s=moving_interval_s)
    # raw frames from the SD logs (what the boards measured) -> the interchange CSV
    from thermocc.logreader import read_logs, write_frames_csv
    rows = []
    for board, _ in sim.boards:
        node = board.config["node"]
        for rec, temps in read_logs(board.sd.root).raw:
            rows.append((rec["utc_ms"], "%s/%s" % (node, rec["camera_id"]), temps))
    write_frames_csv(out / "frames.csv", rows)
    return {"truth": str(out / "truth.csv"), "frames_csv": str(out / "frames.csv"),
            "sd_logs": [str(b.sd.root) for b, _ in sim.boards], "scenario": sim.behaviour.scenario_names}
