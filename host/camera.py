"""Camera model: where a pixel looks in the room, and which pixel sees a room point.

A pinhole model of the MLX90640 lens (110x75 or 55x35 degrees over 32 x 24 pixels).
Pixel coordinates are those of the detector's centroids: column 0..31 and row 0..23 at
pixel centres, row 0 at the top of the image. Pose: mount position (x, y, height) in room
metres; with all angles 0 the camera looks straight down with image columns along +x and
image rows along -y. yaw turns the image about the vertical (counter-clockwise from
above), pitch tilts the optical axis towards the top of the image, roll towards its right.
"""
from __future__ import annotations

import math

import numpy as np

from thermocc.room import LENSES, CameraPose, polygon_area

COLS, ROWS = 32, 24
# One person as the cameras see them, for the expected size of a one-person blob: a
# vertical cylinder of shoulder width from seat height to the top of a seated head
# (anthropometry, not fitted to the simulator).
PERSON_RADIUS_M = 0.25
PERSON_BOTTOM_M = 0.4
PERSON_TOP_M = 1.3
_RING = np.linspace(0, 2 * math.pi, 16, endpoint=False)
_BASE = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])   # columns: camera x, y, z in room axes


def rotation(yaw_deg, pitch_deg, roll_deg):
    """Room-from-camera rotation matrix."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    # pitch: about the camera x axis, turning the optical axis (z) towards image top (-y)
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    # roll: about the camera y axis, turning the optical axis towards image right (+x)
    ry = np.array([[math.cos(r), 0, math.sin(r)], [0, 1, 0], [-math.sin(r), 0, math.cos(r)]])
    return rz @ _BASE @ rx @ ry


class CameraModel:
    def __init__(self, pose: CameraPose):
        self.pose = pose
        self.id = pose.id
        self.node = pose.node
        self.origin = np.array(pose.position, float)
        hfov, vfov = LENSES[pose.lens]
        self.fx = (COLS / 2) / math.tan(math.radians(hfov) / 2)
        self.fy = (ROWS / 2) / math.tan(math.radians(vfov) / 2)
        self.R = rotation(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)

    def rays(self, cols, rows):
        """Unit direction vectors (N, 3) in room axes of the pixels at (cols, rows)."""
        cols, rows = np.atleast_1d(np.asarray(cols, float)), np.atleast_1d(np.asarray(rows, float))
        d = np.stack([(cols - (COLS - 1) / 2) / self.fx, (rows - (ROWS - 1) / 2) / self.fy, np.ones_like(cols)], 1)
        d = d @ self.R.T
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def to_floor(self, cols, rows, height_m):
        """Points (N, 2) where the pixels' rays cross the plane at height_m; NaN where they do not."""
        return self.plane_points(self.rays(cols, rows), height_m)

    def plane_points(self, rays, height_m):
        """Where rays (N, 3) from this camera cross the plane at height_m; NaN where they do not."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (height_m - self.origin[2]) / rays[:, 2]
        t = np.where(t > 0, t, np.nan)
        return self.origin[:2] + t[:, None] * rays[:, :2]

    def to_pixel(self, xs, ys, height_m):
        """(cols, rows, visible) of room points at height_m; visible is False behind or outside the image."""
        p = np.stack([np.atleast_1d(np.asarray(xs, float)), np.atleast_1d(np.asarray(ys, float))], 1)
        v = np.concatenate([p, np.full((len(p), 1), float(height_m))], 1) - self.origin
        c = v @ self.R                        # camera coordinates
        with np.errstate(divide="ignore", invalid="ignore"):
            cols = self.fx * c[:, 0] / c[:, 2] + (COLS - 1) / 2
            rows = self.fy * c[:, 1] / c[:, 2] + (ROWS - 1) / 2
        visible = (c[:, 2] > 0) & (cols >= -0.5) & (cols <= COLS - 0.5) & (rows >= -0.5) & (rows <= ROWS - 0.5)
        return cols, rows, visible

    def person_outline(self, x, y):
        """Pixel outline (convex, (k, 2) cols/rows) of one person standing on floor point
        (x, y), or None when part of them is behind the camera."""
        from scipy.spatial import ConvexHull
        xs = np.tile(x + PERSON_RADIUS_M * np.cos(_RING), 2)
        ys = np.tile(y + PERSON_RADIUS_M * np.sin(_RING), 2)
        zs = np.repeat([PERSON_BOTTOM_M, PERSON_TOP_M], len(_RING))
        c = (np.column_stack([xs, ys, zs]) - self.origin) @ self.R          # camera coordinates
        if (c[:, 2] <= 1e-6).any():
            return None
        pts = np.column_stack([self.fx * c[:, 0] / c[:, 2] + (COLS - 1) / 2, self.fy * c[:, 1] / c[:, 2] + (ROWS - 1) / 2])
        return pts[ConvexHull(pts).vertices]

    def group_area_px(self, spots, sub=4):
        """Pixels covered by the union of the outlines of people at floor points `spots`
        (overlapping people cover less than the sum of their areas), clipped to the image;
        counted on a grid of sub x sub points per pixel over the outlines' bounding box."""
        from matplotlib.path import Path
        outlines = [o for o in (self.person_outline(x, y) for x, y in spots) if o is not None]
        if not outlines:
            return 0.0
        if len(outlines) == 1:          # one convex outline: its area within the image, exactly
            return polygon_area(_clip_to_image(outlines[0]))
        pts = np.concatenate(outlines)
        lo = np.maximum(np.floor(pts.min(axis=0) + 0.5) - 0.5, -0.5)
        hi = np.minimum(np.ceil(pts.max(axis=0) + 0.5) - 0.5, [COLS - 0.5, ROWS - 0.5])
        if (hi <= lo).any():
            return 0.0
        gx = np.arange(lo[0] + 0.5 / sub, hi[0], 1.0 / sub)
        gy = np.arange(lo[1] + 0.5 / sub, hi[1], 1.0 / sub)
        grid = np.column_stack([np.repeat(gx, len(gy)), np.tile(gy, len(gx))])
        inside = np.zeros(len(grid), bool)
        for o in outlines:
            inside |= Path(o).contains_points(grid)
        return inside.sum() / (sub * sub)

    def pixel_footprint(self, height_m):
        """Outline (4, 2) of the image at height_m (the edges of the corner pixels)."""
        corners = np.array([[-0.5, -0.5], [COLS - 0.5, -0.5], [COLS - 0.5, ROWS - 0.5], [-0.5, ROWS - 0.5]])
        return self.to_floor(corners[:, 0], corners[:, 1], height_m)


def _clip_to_image(poly):
    """Convex polygon (k, 2) in pixel coordinates clipped to the image (Sutherland-Hodgman)."""
    for axis, bound, sign in ((0, -0.5, -1), (0, COLS - 0.5, 1), (1, -0.5, -1), (1, ROWS - 0.5, 1)):
        outside = sign * (poly[:, axis] - bound)          # > 0 beyond this edge of the image
        if (outside <= 0).all():
            continue
        if (outside > 0).all():
            return poly[:0]
        nxt, out_nxt = np.roll(poly, -1, axis=0), np.roll(outside, -1)
        kept = []
        for p, q, a, b in zip(poly, nxt, outside, out_nxt):
            if a <= 0:
                kept.append(p)
            if (a <= 0) != (b <= 0):
                kept.append(p + a / (a - b) * (q - p))
        poly = np.array(kept)
    return poly


def coverage(room, height_m=None, cell_m=0.1):
    """Which cameras see each floor cell at the target height.

    Returns (xs, ys, seen) with seen (len(ys), len(xs), n_cameras) bool, and a summary dict:
    floor area seen by each camera, by two or more (overlap) and by none (blind)."""
    from thermocc.room import point_in_polygon
    height_m = room.settings.target_height_m if height_m is None else height_m
    x0, y0, x1, y1 = room.bounds
    xs = np.arange(x0 + cell_m / 2, x1, cell_m)
    ys = np.arange(y0 + cell_m / 2, y1, cell_m)
    gx, gy = np.meshgrid(xs, ys)
    on_floor = np.array([point_in_polygon(x, y, room.floor) for x, y in zip(gx.ravel(), gy.ravel())]).reshape(gx.shape)
    seen = np.zeros(gx.shape + (len(room.cameras),), bool)
    for k, pose in enumerate(room.cameras):
        _, _, vis = CameraModel(pose).to_pixel(gx.ravel(), gy.ravel(), height_m)
        seen[..., k] = vis.reshape(gx.shape) & on_floor
    cell = cell_m * cell_m
    n = seen.sum(axis=2)
    summary = {
        "floor_m2": float(on_floor.sum() * cell),
        "per_camera_m2": {"%s/%s" % (p.node, p.id): float(seen[..., k].sum() * cell) for k, p in enumerate(room.cameras)},
        "overlap_m2": float(((n >= 2) & on_floor).sum() * cell),
        "blind_m2": float(((n == 0) & on_floor).sum() * cell),
    }
    return xs, ys, seen, summary


# -- calibration ---------------------------------------------------------------------------
POSE_PARAMS = ("x", "y", "height", "yaw_deg", "pitch_deg", "roll_deg")


def _pose_values(pose):
    return {"x": pose.position[0], "y": pose.position[1], "height": pose.position[2],
            "yaw_deg": pose.yaw_deg, "pitch_deg": pose.pitch_deg, "roll_deg": pose.roll_deg}


def _pose_with(pose, values, names):
    d = _pose_values(pose)
    d.update(dict(zip(names, values)))
    return CameraPose(pose.id, pose.node, (d["x"], d["y"], d["height"]), d["yaw_deg"], d["pitch_deg"],
                      d["roll_deg"], pose.lens, pose.reference_points)


def floor_residuals(pose, points):
    """Distance (m) between each reference mark and where its pixel projects."""
    model = CameraModel(pose)
    out = []
    for p in points:
        xy = model.to_floor([p["pixel"][0]], [p["pixel"][1]], p["height"])[0]
        out.append(math.hypot(xy[0] - p["floor"][0], xy[1] - p["floor"][1]) if np.all(np.isfinite(xy)) else math.inf)
    return np.array(out)


def calibrate(pose, points=None, fit=POSE_PARAMS):
    """Least-squares fit of the pose parameters in `fit` to reference points (a person on
    known floor marks, seen at known pixels). Starts from the configured pose; returns
    (fitted pose, residuals in m per point). Needs at least ceil(len(fit) / 2) points."""
    from scipy.optimize import least_squares
    points = pose.reference_points if points is None else points
    fit = tuple(fit)
    unknown = [f for f in fit if f not in POSE_PARAMS]
    if unknown:
        raise ValueError("cannot fit %s; choose from %s" % (unknown, ", ".join(POSE_PARAMS)))
    if 2 * len(points) < len(fit):
        raise ValueError("camera %s: %d reference points give %d equations for %d unknowns; record at least %d"
                         % (pose.id, len(points), 2 * len(points), len(fit), (len(fit) + 1) // 2))
    start = np.array([_pose_values(pose)[f] for f in fit], float)
    scale = np.array([1.0 if f in ("x", "y", "height") else 10.0 for f in fit])

    def residual(v):
        model = CameraModel(_pose_with(pose, v * scale, fit))
        r = []
        for p in points:
            xy = model.to_floor([p["pixel"][0]], [p["pixel"][1]], p["height"])[0]
            if not np.all(np.isfinite(xy)):
                xy = np.array([1e3, 1e3])
            r.extend([xy[0] - p["floor"][0], xy[1] - p["floor"][1]])
        return np.array(r)

    result = least_squares(residual, start / scale, method="trf")
    fitted = _pose_with(pose, result.x * scale, fit)
    return fitted, floor_residuals(fitted, points)
