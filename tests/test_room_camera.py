"""Room file validation, the camera model (projection, coverage, calibration)."""
import copy
import json

import pytest
from hypothesis import given, settings, strategies as st

from thermocc.camera import CameraModel, calibrate, coverage, floor_residuals
from thermocc.room import EXAMPLE_ROOM, CameraPose, RoomConfigError, load_room, parse_room

RAW = json.loads(EXAMPLE_ROOM.read_text())


def problems_of(mutate):
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(RoomConfigError) as e:
        parse_room(raw, "lab.json")
    return e.value.problems


def test_example_room_loads_with_five_zones_and_four_cameras():
    room = load_room(EXAMPLE_ROOM)
    assert [z.name for z in room.zones] == ["Left Computers", "Bottom Computers", "Office", "Pantry", "Main Area"]
    assert room.capacity == 10 and len(room.cameras) == 4
    assert sum(z.area_m2 for z in room.zones) == pytest.approx(room.area_m2)


@pytest.mark.parametrize("mutate, field, hint", [
    (lambda r: r.update(capacty=3), "capacty", "unknown key"),
    (lambda r: r["cameras"][0].update(lens="90x60"), "cameras[cam1].lens", "110x75"),
    (lambda r: r["zones"][0].update(polygon=[[0, 0], [30, 0], [30, 7]]), "zones[Left Computers].polygon", "outside"),
    (lambda r: r["zones"][1].update(name="Left Computers"), "zones[Left Computers].name", "unique"),
    (lambda r: r["zones"][0].update(activity="dancing"), "zones[Left Computers].activity", "choose one of"),
    (lambda r: r["cameras"].append(dict(r["cameras"][0])), "cameras[cam1]", "twice"),
    (lambda r: r["cameras"][0].update(position=[3, 2, 0.5]), "cameras[cam1].position", "above the target"),
    (lambda r: r.update(settings={"timestep_min": 7}), "settings.timestep_min", "divide 60"),
    (lambda r: r.update(settings={"mode": "magic"}), "settings.mode", "blob"),
    (lambda r: r.update(settings={"schedule": "nope"}), "settings.schedule", "office"),
    (lambda r: r.update(floor=[[0, 0], [1, 1], [2, 2]]), "floor", "no area"),
    (lambda r: r.pop("cameras"), "cameras", "required"),
])
def test_room_mistakes_are_named_with_a_fix(mutate, field, hint):
    problems = problems_of(mutate)
    assert any(p.startswith(field) and hint in p for p in problems), problems


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 31), st.floats(0, 23), st.floats(0.0, 1.8), st.sampled_from(range(4)))
def test_pixel_to_floor_to_pixel_round_trip(col, row, height, k):
    room = load_room(EXAMPLE_ROOM)
    model = CameraModel(room.cameras[k])
    xy = model.to_floor([col], [row], height)[0]
    c, r, vis = model.to_pixel([xy[0]], [xy[1]], height)
    assert vis[0]
    assert c[0] == pytest.approx(col, abs=1e-7) and r[0] == pytest.approx(row, abs=1e-7)


@settings(max_examples=50, deadline=None)
@given(st.floats(-180, 180), st.floats(-30, 30), st.floats(-30, 30), st.floats(0, 31), st.floats(0, 23))
def test_round_trip_holds_for_tilted_cameras(yaw, pitch, roll, col, row):
    model = CameraModel(CameraPose("c", "n", (5.0, 4.0, 3.0), yaw, pitch, roll, "55x35"))
    xy = model.to_floor([col], [row], 1.0)[0]
    c, r, _ = model.to_pixel([xy[0]], [xy[1]], 1.0)
    assert c[0] == pytest.approx(col, abs=1e-6) and r[0] == pytest.approx(row, abs=1e-6)


def test_straight_down_camera_sees_its_own_floor_point_at_the_image_centre():
    model = CameraModel(CameraPose("c", "n", (2.0, 3.0, 3.0)))
    c, r, vis = model.to_pixel([2.0], [3.0], 0.0)
    assert vis[0] and c[0] == pytest.approx(15.5) and r[0] == pytest.approx(11.5)
    # image columns run along +x, rows along -y
    c, r, _ = model.to_pixel([2.5, 2.0], [3.0, 3.5], 0.0)
    assert c[0] > 15.5 and r[1] < 11.5


def test_coverage_of_the_example_room():
    room = load_room(EXAMPLE_ROOM)
    _, _, seen, summary = coverage(room, height_m=0.6)
    assert summary["blind_m2"] == 0 and summary["overlap_m2"] > 10
    _, _, _, high = coverage(room, height_m=1.3)
    assert high["blind_m2"] > 0            # reported, not hidden


def test_coverage_command_says_where_a_person_is_out_of_every_view_with_a_camera_offline():
    import json
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "thermocc.cli", "coverage", "--room", EXAMPLE_ROOM],
                       capture_output=True, text=True, check=True)
    hidden = json.loads(r.stdout)["out_of_every_view"]
    assert hidden["all_working"] == {"hidden_m2": 0.0, "held_in": []}     # only strips narrower than a body
    assert hidden["node-b/cam2 offline"]["held_in"] == ["Pantry"]
    assert 10 < hidden["node-b/cam2 offline"]["hidden_m2"] < 21            # a quarter of the floor, less its edge


def test_calibrate_recovers_a_pose_from_reference_points():
    true = CameraPose("cam1", "node-a", (3.1, 1.8, 3.35), 4.0, 3.0, -2.0, "110x75")
    model = CameraModel(true)
    marks = [(1.0, 1.0), (5.0, 1.0), (3.0, 3.0), (1.5, 2.8), (4.5, 0.7), (3.0, 1.8)]
    points = []
    for x, y in marks:
        c, r, vis = model.to_pixel([x], [y], 1.0)
        assert vis[0]
        points.append({"pixel": (float(c[0]), float(r[0])), "floor": (x, y), "height": 1.0})
    guess = CameraPose("cam1", "node-a", (3.0, 1.9, 3.4), 0.0, 0.0, 0.0, "110x75", points)
    assert floor_residuals(guess, points).mean() > 0.05
    fitted, res = calibrate(guess)
    assert res.max() < 0.01
    assert fitted.position == pytest.approx(true.position, abs=0.02)
    assert fitted.yaw_deg == pytest.approx(true.yaw_deg, abs=0.5)


def test_calibrate_refuses_too_few_points():
    pose = CameraPose("c", "n", (3, 2, 3.4), reference_points=[{"pixel": (10, 10), "floor": (2, 2), "height": 1.0}])
    with pytest.raises(ValueError, match="at least 3"):
        calibrate(pose)


def _sampled_union(outlines, sub=16):
    """Pixels inside any of the outlines, by sample points (sub x sub per pixel) over the image."""
    import numpy as np
    from matplotlib.path import Path
    gx = np.arange(-0.5 + 0.5 / sub, 31.5, 1 / sub)
    gy = np.arange(-0.5 + 0.5 / sub, 23.5, 1 / sub)
    grid = np.column_stack([np.repeat(gx, len(gy)), np.tile(gy, len(gx))])
    inside = np.zeros(len(grid), bool)
    for o in outlines:
        inside |= Path(o).contains_points(grid)
    return inside.sum() / sub ** 2


@settings(max_examples=80, deadline=None)
@given(st.floats(-0.5, 12.5), st.floats(-0.5, 7.5),
       st.lists(st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0)), min_size=1, max_size=3))
def test_a_groups_pixel_area_is_the_union_of_their_outlines(x, y, offsets):
    """Two or three outlines are measured exactly (inclusion and exclusion over convex
    outlines, each clipped to the image), four by sample points: either agrees with sample
    points inside any outline, overlapping or apart, cut by the border or not."""
    model = CameraModel(load_room(EXAMPLE_ROOM).cameras[0])
    spots = [(x, y)] + [(x + dx, y + dy) for dx, dy in offsets]
    outlines = [o for o in (model.person_outline(*p) for p in spots) if o is not None]
    measured = model.group_area_px(spots)
    tolerance = 0.3 if len(spots) <= 3 else 1.5          # four: sampled at 4 x 4 per pixel
    assert measured == pytest.approx(_sampled_union(outlines), abs=tolerance) if outlines else measured == 0
    single = [model.group_area_px([p]) for p in spots]
    assert max(single) - tolerance <= measured <= sum(single) + tolerance


@settings(max_examples=60, deadline=None)
@given(st.floats(-0.5, 12.5), st.floats(-0.5, 7.5),
       st.lists(st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0)), min_size=0, max_size=5))
def test_a_groups_pixel_centroid_is_the_mean_of_the_pixels_it_covers_in_the_image(x, y, offsets):
    """group_moments_px: the pixels of the union of the outlines (as group_area_px counts
    them) and their mean col and row, clipped to the image, against sample points inside any
    outline; a group the border cuts has the centroid of what the image holds of it."""
    import numpy as np
    from matplotlib.path import Path
    model = CameraModel(load_room(EXAMPLE_ROOM).cameras[0])
    spots = [(x, y)] + [(x + dx, y + dy) for dx, dy in offsets]
    outlines = [o for o in (model.person_outline(*p) for p in spots) if o is not None]
    pixels, col, row = model.group_moments_px(spots)
    sub = 16
    gx, gy = np.meshgrid(np.arange(-0.5 + 0.5 / sub, 31.5, 1 / sub), np.arange(-0.5 + 0.5 / sub, 23.5, 1 / sub))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    inside = np.zeros(len(grid), bool)
    for o in outlines:
        inside |= Path(o).contains_points(grid)
    if inside.sum() < 2 * sub ** 2:         # under two pixels: 4 x 4 samples may miss it all
        assert pixels == pytest.approx(inside.sum() / sub ** 2, abs=2.0)
        return
    assert pixels == pytest.approx(inside.sum() / sub ** 2, abs=1.5)
    if len(spots) > 3:
        assert pixels == model.group_area_px(spots)     # the same sampling
    assert (col, row) == pytest.approx(tuple(grid[inside].mean(0)), abs=0.15)


def test_convex_hull_and_clipping():
    import numpy as np
    from thermocc.camera import IMAGE_OUTLINE, clip_convex, convex_hull
    from thermocc.room import polygon_area
    rng = np.random.default_rng(3)
    square = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
    inner = np.vstack([square, rng.uniform(0.1, 1.9, (40, 2)), [[1.0, 0.0], [2.0, 1.0]]])   # + points on edges
    hull = convex_hull(inner[rng.permutation(len(inner))])
    assert len(hull) == 4 and polygon_area(hull) == pytest.approx(4.0)
    assert {tuple(v) for v in hull} == {tuple(v) for v in square}
    shifted = convex_hull(square + 1.0)
    assert polygon_area(clip_convex(hull, shifted)) == pytest.approx(1.0)          # overlap 1 x 1
    assert len(clip_convex(hull, convex_hull(square + 5.0))) == 0                  # apart
    assert polygon_area(clip_convex(convex_hull(square * 40 - 10), IMAGE_OUTLINE)) == pytest.approx(32 * 24)


@settings(max_examples=60, deadline=None)
@given(st.floats(-0.5, 12.5), st.floats(-0.5, 7.5))
def test_one_persons_pixel_area_is_their_outline_within_the_image(x, y):
    """One outline's area is computed exactly (clipped to the image); it agrees with counting
    sample points inside it (how a union of several outlines is measured) to within the
    sampling error, also where the image border cuts it."""
    model = CameraModel(load_room(EXAMPLE_ROOM).cameras[0])
    outline = model.person_outline(x, y)
    exact = model.group_area_px([(x, y)])
    if outline is None:
        assert exact == 0
        return
    assert exact == pytest.approx(_sampled_union([outline]), abs=0.15)
