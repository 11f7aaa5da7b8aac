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
from numba import njit

from thermocc.room import LENSES, CameraPose, polygon_area

COLS, ROWS = 32, 24
# One person as the cameras see them, for the expected size of a one-person blob: a
# vertical cylinder of shoulder width from the floor (legs and feet are clothed and warm)
# to the top of a seated head (anthropometry, not fitted to the simulator). A camera that
# sees someone from the side, near its image border, sees the legs most of all. With the
# cylinder starting at seat height (0.4 m), the blobs of seated people cut by the border
# held 1.2-2.9 times the model's pixels (10th-90th percentile; from the floor 1.1-1.4),
# and groups at the example room's table, which all four cameras see near their borders,
# were counted up to half as many again. `benchmarks/bench_groups.py --person` prints the fit.
PERSON_RADIUS_M = 0.25
PERSON_BOTTOM_M = 0.0
PERSON_TOP_M = 1.3
_RING = np.linspace(0, 2 * math.pi, 16, endpoint=False)
# Groups of up to this many are measured exactly (inclusion and exclusion grows as 2**m).
EXACT_OUTLINES = 3
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
        return _pixel_rays(self.R, self.fx, self.fy, cols.ravel(), rows.ravel())

    def to_floor(self, cols, rows, height_m):
        """Points (N, 2) where the pixels' rays cross the plane at height_m; NaN where they do not."""
        return self.plane_points(self.rays(cols, rows), height_m)

    def plane_points(self, rays, height_m):
        """Where rays (N, 3) from this camera cross the plane at height_m; NaN where they do not."""
        return _plane_points(self.origin, np.asarray(rays, float), float(height_m))

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
        outline = _person_outline(self.origin, self.R, self.fx, self.fy, float(x), float(y))
        return outline if len(outline) else None

    def group_area_px(self, spots, sub=4):
        """Pixels covered by the union of the outlines of people at floor points `spots`
        (overlapping people cover less than the sum of their areas), clipped to the image.
        Up to EXACT_OUTLINES outlines exactly (convex outlines: A + B - A and B, and so on);
        more, counted on a grid of sub x sub points per pixel over their bounding box."""
        return union_pixels(self.origin, self.R, self.fx, self.fy, np.asarray(spots, float).reshape(-1, 2), sub)

    def group_moments_px(self, spots, sub=4):
        """(pixels, mean col, mean row) of the union group_area_px counts, sampled (sub x sub
        points per pixel) and clipped to the image: a group the border cuts shows its blob's
        centroid inward of its own. The means are NaN when no pixel is covered."""
        spots = np.asarray(spots, float).reshape(-1, 2)
        return _sampled_union(self.origin, self.R, self.fx, self.fy, spots, sub)

    def pixel_footprint(self, height_m):
        """Outline (4, 2) of the image at height_m (the edges of the corner pixels)."""
        corners = np.array([[-0.5, -0.5], [COLS - 0.5, -0.5], [COLS - 0.5, ROWS - 0.5], [-0.5, ROWS - 0.5]])
        return self.to_floor(corners[:, 0], corners[:, 1], height_m)


@njit(cache=True)
def _pixel_rays(R, fx, fy, cols, rows):
    """CameraModel.rays for a camera with room-from-camera rotation R."""
    d = np.empty((len(cols), 3))
    for i in range(len(cols)):
        v0, v1 = (cols[i] - (COLS - 1) / 2) / fx, (rows[i] - (ROWS - 1) / 2) / fy
        norm = 0.0
        for a in range(3):
            d[i, a] = R[a, 0] * v0 + R[a, 1] * v1 + R[a, 2]
            norm += d[i, a] * d[i, a]
        norm = np.sqrt(norm)
        for a in range(3):
            d[i, a] /= norm
    return d


@njit(cache=True)
def _plane_points(origin, rays, height_m):
    """CameraModel.plane_points: where rays from origin cross the plane at height_m (NaN where not)."""
    out = np.empty((len(rays), 2))
    for i in range(len(rays)):
        t = (height_m - origin[2]) / rays[i, 2] if rays[i, 2] != 0 else np.nan
        if not t > 0:
            t = np.nan
        out[i, 0] = origin[0] + t * rays[i, 0]
        out[i, 1] = origin[1] + t * rays[i, 1]
    return out


@njit(cache=True)
def detection_rays(origins, Rs, fxs, fys, cams, cols, rows, height_m):
    """For pixels (cols[i], rows[i]) of cameras cams[i] (geometry as box_floor_extents takes
    it): each one's camera origin (n, 3), unit ray (n, 3) and where the ray crosses the plane
    at height_m (n, 2; NaN where it does not). CameraModel.rays and plane_points at once for
    a tick's detections of every camera."""
    n = len(cams)
    at, ray, floor = np.empty((n, 3)), np.empty((n, 3)), np.empty((n, 2))
    col, row = np.empty(1), np.empty(1)
    for i in range(n):
        k = cams[i]
        col[0], row[0] = cols[i], rows[i]
        d = _pixel_rays(Rs[k], fxs[k], fys[k], col, row)
        at[i] = origins[k]
        ray[i] = d[0]
        floor[i] = _plane_points(origins[k], d, height_m)[0]
    return at, ray, floor


@njit(cache=True)
def box_floor_extents(origins, Rs, fxs, fys, cams, boxes, height_m):
    """Widest floor extent (m, at height_m) of each pixel bounding box (col0, row0, col1,
    row1) of camera cams[i] (whose origin, rotation and focal lengths are origins[k], Rs[k],
    fxs[k], fys[k]): its corners' rays met with the plane; 0 where one does not reach it."""
    out = np.zeros(len(cams))
    cols, rows = np.empty(4), np.empty(4)
    for i in range(len(cams)):
        k = cams[i]
        c0, r0, c1, r1 = boxes[i, 0] - 0.5, boxes[i, 1] - 0.5, boxes[i, 2] + 0.5, boxes[i, 3] + 0.5
        cols[0], cols[1], cols[2], cols[3] = c0, c1, c0, c1
        rows[0], rows[1], rows[2], rows[3] = r0, r0, r1, r1
        p = _plane_points(origins[k], _pixel_rays(Rs[k], fxs[k], fys[k], cols, rows), height_m)
        if np.isfinite(p).all():
            out[i] = max(p[:, 0].max() - p[:, 0].min(), p[:, 1].max() - p[:, 1].min())
    return out


# The image's outer edges, in the turning order convex_hull gives (cross product > 0).
IMAGE_OUTLINE = np.array([[-0.5, -0.5], [COLS - 0.5, -0.5], [COLS - 0.5, ROWS - 0.5], [-0.5, ROWS - 0.5]])


@njit(cache=True)
def convex_hull(pts):
    """Convex hull (k, 2) of points (n, 2), vertices in order with a positive turn at each
    (Andrew's monotone chain); collinear points are left out."""
    by_y = np.argsort(pts[:, 1], kind="mergesort")
    p = pts[by_y[np.argsort(pts[by_y, 0], kind="mergesort")]]     # by x, then y
    n = len(p)
    hull = np.empty((2 * n, 2))
    k = 0
    for half in range(2):
        start = k
        for j in range(n):
            q = p[j] if half == 0 else p[n - 1 - j]
            while k >= start + 2 and ((hull[k - 1, 0] - hull[k - 2, 0]) * (q[1] - hull[k - 2, 1])
                                      - (hull[k - 1, 1] - hull[k - 2, 1]) * (q[0] - hull[k - 2, 0])) <= 0:
                k -= 1
            hull[k] = q
            k += 1
        k -= 1               # the last point of each half is the first of the other
    return hull[:max(k, 0)].copy()


@njit(cache=True)
def _person_outline(origin, R, fx, fy, x, y):
    """CameraModel.person_outline for a camera at origin with room-from-camera rotation R;
    an empty outline when part of the person is behind the camera."""
    n = len(_RING)
    cos, sin = np.empty(n), np.empty(n)      # the ring's, once for its bottom and its top
    for j in range(n):
        cos[j], sin[j] = np.cos(_RING[j]), np.sin(_RING[j])
    pts = np.empty((2 * n, 2))
    for i in range(2 * n):
        v0 = x + PERSON_RADIUS_M * cos[i % n] - origin[0]
        v1 = y + PERSON_RADIUS_M * sin[i % n] - origin[1]
        v2 = (PERSON_BOTTOM_M if i < n else PERSON_TOP_M) - origin[2]
        c0 = v0 * R[0, 0] + v1 * R[1, 0] + v2 * R[2, 0]             # camera coordinates (v @ R)
        c1 = v0 * R[0, 1] + v1 * R[1, 1] + v2 * R[2, 1]
        c2 = v0 * R[0, 2] + v1 * R[1, 2] + v2 * R[2, 2]
        if c2 <= 1e-6:
            return np.empty((0, 2))
        pts[i, 0] = fx * c0 / c2 + (COLS - 1) / 2
        pts[i, 1] = fy * c1 / c2 + (ROWS - 1) / 2
    return convex_hull(pts)


@njit(cache=True)
def union_area(origin, R, fx, fy, spots):
    """CameraModel.group_area_px for up to EXACT_OUTLINES spots (k, 2), exactly: the
    image's pixels inside any person's convex outline, by inclusion and exclusion over
    the outlines clipped to the image (A + B + C - AB - AC - BC + ABC; all convex)."""
    clipped = []
    for k in range(len(spots)):
        o = _person_outline(origin, R, fx, fy, spots[k, 0], spots[k, 1])
        if len(o):
            o = clip_convex(o, IMAGE_OUTLINE)
            if len(o) >= 3:
                clipped.append(o)
    n = len(clipped)
    area = 0.0
    for i in range(n):
        area += polygon_area(clipped[i])
        for j in range(i + 1, n):
            both = clip_convex(clipped[i], clipped[j])
            if len(both) < 3:
                continue
            area -= polygon_area(both)
            for k in range(j + 1, n):
                area += polygon_area(clip_convex(both, clipped[k]))
    return area


@njit(cache=True)
def union_pixels(origin, R, fx, fy, spots, sub=4):
    """CameraModel.group_area_px for a camera's geometry: exactly for up to EXACT_OUTLINES
    spots (union_area), sampled beyond (_sampled_union)."""
    if len(spots) <= EXACT_OUTLINES:
        return union_area(origin, R, fx, fy, spots)
    return _sampled_union(origin, R, fx, fy, spots, sub)[0]


@njit(cache=True)
def _sampled_union(origin, R, fx, fy, spots, sub):
    """(pixels, mean col, mean row) of the union of the outlines of people at spots, clipped
    to the image: sample points (sub x sub per pixel) over the outlines' bounding box within
    the image, counted when inside any outline (inside a convex outline: on the inner side
    of every edge). The mean is NaN when no point is inside."""
    outlines = []
    lo0, lo1, hi0, hi1 = np.inf, np.inf, -np.inf, -np.inf
    for k in range(len(spots)):
        o = _person_outline(origin, R, fx, fy, spots[k, 0], spots[k, 1])
        if len(o):
            outlines.append(o)
            lo0, lo1 = min(lo0, o[:, 0].min()), min(lo1, o[:, 1].min())
            hi0, hi1 = max(hi0, o[:, 0].max()), max(hi1, o[:, 1].max())
    if len(outlines) == 0:
        return 0.0, np.nan, np.nan
    # whole pixels round the outlines, within the image
    lo0, lo1 = max(np.floor(lo0 + 0.5) - 0.5, -0.5), max(np.floor(lo1 + 0.5) - 0.5, -0.5)
    hi0, hi1 = min(np.ceil(hi0 + 0.5) - 0.5, COLS - 0.5), min(np.ceil(hi1 + 0.5) - 0.5, ROWS - 0.5)
    if hi0 <= lo0 or hi1 <= lo1:
        return 0.0, np.nan, np.nan
    # per outline: its vertices' box (a point outside it is outside the outline) and its
    # edges (start, end - start) for the inside test
    boxes = np.empty((len(outlines), 4))
    first = np.zeros(len(outlines) + 1, np.int64)      # outline q's edges: edges[first[q]:first[q + 1]]
    for q in range(len(outlines)):
        first[q + 1] = first[q] + len(outlines[q])
    edges = np.empty((first[-1], 4))
    for q in range(len(outlines)):
        o = outlines[q]
        n = len(o)
        boxes[q] = o[:, 0].min(), o[:, 1].min(), o[:, 0].max(), o[:, 1].max()
        for i in range(n):
            edges[first[q] + i] = o[i, 0], o[i, 1], o[(i + 1) % n, 0] - o[i, 0], o[(i + 1) % n, 1] - o[i, 1]
    step = 1.0 / sub
    inside = 0
    sum_col = 0.0
    sum_row = 0.0
    gx = lo0 + step / 2
    while gx < hi0:
        gy = lo1 + step / 2
        while gy < hi1:
            for q in range(len(boxes)):
                if gx < boxes[q, 0] or gy < boxes[q, 1] or gx > boxes[q, 2] or gy > boxes[q, 3]:
                    continue
                hit = True
                for i in range(first[q], first[q + 1]):
                    if edges[i, 2] * (gy - edges[i, 1]) - edges[i, 3] * (gx - edges[i, 0]) < 0:
                        hit = False
                        break
                if hit:
                    inside += 1
                    sum_col += gx
                    sum_row += gy
                    break
            gy += step
        gx += step
    if inside == 0:
        return 0.0, np.nan, np.nan
    return inside / (sub * sub), sum_col / inside, sum_row / inside


@njit(cache=True)
def clip_convex(poly, clipper):
    """The part of polygon poly (k, 2) inside convex polygon clipper (vertices turning as
    convex_hull's do), by Sutherland-Hodgman: one pass per clipper edge, between two
    buffers (a hot path: each pass keeps or cuts each vertex, two outputs at most)."""
    m = len(clipper)
    cap = 2 * (len(poly) + m)
    out, kept, side = np.empty((cap, 2)), np.empty((cap, 2)), np.empty(cap)
    n = len(poly)
    out[:n] = poly
    for e in range(m):
        if n == 0:
            break
        if 2 * n > cap:                      # (convex polygons never need it)
            cap = 2 * n
            grown = np.empty((cap, 2))
            grown[:n] = out[:n]
            out, kept, side = grown, np.empty((cap, 2)), np.empty(cap)
        ax, ay = clipper[e, 0], clipper[e, 1]
        ex, ey = clipper[(e + 1) % m, 0] - ax, clipper[(e + 1) % m, 1] - ay
        for i in range(n):                   # > 0 inside this edge's half-plane
            side[i] = ex * (out[i, 1] - ay) - ey * (out[i, 0] - ax)
        k = 0
        for i in range(n):
            j = (i + 1) % n
            if side[i] >= 0:
                kept[k] = out[i]
                k += 1
            if (side[i] >= 0) != (side[j] >= 0):
                f = side[i] / (side[i] - side[j])
                kept[k, 0] = out[i, 0] + f * (out[j, 0] - out[i, 0])
                kept[k, 1] = out[i, 1] + f * (out[j, 1] - out[i, 1])
                k += 1
        out, kept, n = kept, out, k
    return out[:n].copy()


def coverage(room, height_m=None, cell_m=0.1):
    """Which cameras see each floor cell at the target height.

    Returns (xs, ys, seen) with seen (len(ys), len(xs), n_cameras) bool, and a summary dict:
    floor area seen by each camera, by two or more (overlap) and by none (blind)."""
    height_m = room.settings.target_height_m if height_m is None else height_m
    x0, y0, x1, y1 = room.bounds
    xs = np.arange(x0 + cell_m / 2, x1, cell_m)
    ys = np.arange(y0 + cell_m / 2, y1, cell_m)
    gx, gy = np.meshgrid(xs, ys)
    on_floor = floor_mask(room, xs, ys)
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


def floor_mask(room, xs, ys):
    """(len(ys), len(xs)) bool: which cell centres of the grid xs x ys lie on the room's floor."""
    from thermocc.room import point_in_polygon
    return np.array([[point_in_polygon(x, y, room.floor) for x in xs] for y in ys], bool).reshape(len(ys), len(xs))


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
