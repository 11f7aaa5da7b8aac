"""The room file: floor, zones, doors, cameras and the fuser's settings, validated.

load_room(path) / parse_room(raw, source) return a Room or raise RoomConfigError listing
every problem as "<file>: <field>: <what is wrong>; <how to fix>". Unknown keys are
errors (a typo must not silently fall back to a default). docs/host.md describes the file.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

LENSES = {"110x75": (110.0, 75.0), "55x35": (55.0, 35.0)}

# Total metabolic heat per person (W) by activity: EnergyPlus I/O Reference
# "Metabolic Rates for Various Activities" and ASHRAE Fundamentals ch. 18 table 1.
ACTIVITY_W = {
    "seated_quiet": 108.0, "reading": 99.0, "writing": 108.0, "typing": 117.0,
    "office_work": 115.0, "moderately_active_office": 130.0, "filing_seated": 126.0,
    "filing_standing": 144.0, "standing_relaxed": 126.0, "walking": 180.0,
    "walking_standing": 145.0,
}
DEFAULT_ACTIVITY = "office_work"


class RoomConfigError(ValueError):
    def __init__(self, source, problems):
        self.source = source
        self.problems = problems
        super().__init__("%s has %d problem%s:\n  %s" % (source, len(problems), "" if len(problems) == 1 else "s",
                                                         "\n  ".join(problems)))


@dataclass
class Equipment:
    devices: int = 0
    w_per_device: float = 0.0
    hold_steps: int = 0


@dataclass
class Zone:
    name: str
    polygon: np.ndarray
    area_m2: float
    activity_w: float
    equipment: Equipment
    capacity: int | None = None


@dataclass
class Door:
    name: str
    a: tuple
    b: tuple


@dataclass
class CameraPose:
    id: str
    node: str
    position: tuple          # x, y, height (m)
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    lens: str = "110x75"
    reference_points: list = field(default_factory=list)   # [{"pixel": [x, y], "floor": [x, y], "height": h}]


@dataclass
class Settings:
    """Fusion, tracking and series windows; every field documented in docs/host.md."""
    mode: str = "blob"                 # blob | frame
    tick_s: float = 1.0
    timestep_min: int = 5
    target_height_m: float = 1.0
    person_height_range_m: tuple = (0.3, 2.0)
    gate_m: float = 0.35               # cross-camera ray distance for one person
    body_m: float = 0.5                # closer fused people seen by different cameras are one body
    min_lone_fraction: float = 0.4     # a blob one camera alone sees must fill this much of one person's area
    camera_timeout_s: float = 150.0
    watermark_s: float = 10.0
    track_gate_m: float = 1.2
    track_confirm_ticks: int = 2
    track_coast_ticks: int = 3
    door_radius_m: float = 1.0
    hidden_reach_m: float = 1.5        # a walker lost this close to floor no working camera sees is held there
    hidden_max_s: float = 1800.0
    grid_m: float = 0.1
    hysteresis_window: int = 3
    count_smoothing_window: int = 1
    schedule: str = "office"
    utc_offset_h: float = 0.0


@dataclass
class Room:
    site: str
    name: str
    floor: np.ndarray
    capacity: int
    zones: list
    doors: list
    cameras: list
    settings: Settings
    source: str = "?"

    @property
    def bounds(self):
        return (float(self.floor[:, 0].min()), float(self.floor[:, 1].min()),
                float(self.floor[:, 0].max()), float(self.floor[:, 1].max()))

    @property
    def area_m2(self):
        return polygon_area(self.floor)

    def zone_index(self, x, y):
        """Index of the zone holding (x, y); a point in no zone goes to the nearest one, so
        every person is in exactly one zone and zone counts sum to the room count."""
        table = self.__dict__.get("_zone_vertices")        # all zones' vertices, for one numba call
        if table is None:
            polygons = [np.ascontiguousarray(z.polygon, np.float64) for z in self.zones]
            table = self._zone_vertices = (np.concatenate(polygons) if polygons else np.zeros((0, 2)),
                                           np.cumsum([0] + [len(p) for p in polygons]))
        inside = _first_polygon_holding(float(x), float(y), *table)
        if inside >= 0:
            return inside
        best, best_d = 0, math.inf
        for i, z in enumerate(self.zones):
            d = distance_to_polygon(x, y, z.polygon)
            if d < best_d:
                best, best_d = i, d
        return best

    def contains(self, x, y, margin_m=0.0):
        """Whether (x, y) is on the floor, or within margin_m of it."""
        if point_in_polygon(x, y, self.floor):
            return True
        if margin_m == 0:                    # (on its outline: the common case, in numba)
            return _on_outline(float(x), float(y), self.floor)
        return distance_to_polygon(x, y, self.floor) <= margin_m

    def camera(self, cam_id):
        for c in self.cameras:
            if c.id == cam_id:
                return c
        return None


# -- geometry ------------------------------------------------------------------------------
@njit(cache=True)
def polygon_area(poly):
    """Area of a simple polygon (k, 2) float array (shoelace); 0 for fewer than 3 vertices."""
    twice = 0.0
    n = len(poly)
    for i in range(n):
        j = (i + 1) % n
        twice += poly[i, 0] * poly[j, 1] - poly[j, 0] * poly[i, 1]
    return abs(twice) / 2


@njit(cache=True)
def point_in_polygon(x, y, poly):
    """Whether (x, y) lies inside the polygon (k, 2) array (crossings of a ray along +x)."""
    inside = False
    n = len(poly)
    for i in range(n):
        j = (i + 1) % n
        x1, y1, x2, y2 = poly[i, 0], poly[i, 1], poly[j, 0], poly[j, 1]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


@njit(cache=True)
def _first_polygon_holding(x, y, vertices, first):
    """Index of the first polygon vertices[first[i]:first[i + 1]] holding (x, y); -1 for none."""
    for i in range(len(first) - 1):
        if point_in_polygon(x, y, vertices[first[i]:first[i + 1]]):
            return i
    return -1


@njit(cache=True)
def _on_outline(x, y, poly):
    """Whether distance_to_polygon(x, y, poly) is 0: distance_to_segment's two offsets, the
    same arithmetic, both exactly 0 for one of its edges."""
    n = len(poly)
    for i in range(n):
        ax, ay, bx, by = poly[i, 0], poly[i, 1], poly[(i + 1) % n, 0], poly[(i + 1) % n, 1]
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        if x - ax - t * dx == 0 and y - ay - t * dy == 0:
            return True
    return False


def distance_to_segment(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def distance_to_polygon(x, y, poly):
    n = len(poly)
    return min(distance_to_segment(x, y, *poly[i], *poly[(i + 1) % n]) for i in range(n))


# -- parsing -------------------------------------------------------------------------------
class _Checker:
    def __init__(self):
        self.problems = []

    def error(self, where, message):
        self.problems.append("%s: %s" % (where, message))

    def keys(self, obj, where, allowed, required=()):
        if not isinstance(obj, dict):
            self.error(where, "must be an object {...}, got %s" % type(obj).__name__)
            return False
        for k in obj:
            if k not in allowed:
                self.error("%s.%s" % (where, k) if where else k,
                           "unknown key; allowed here: %s" % ", ".join(sorted(allowed)))
        for k in required:
            if k not in obj:
                self.error("%s.%s" % (where, k) if where else k, "is required")
        return True

    def number(self, obj, key, where, default=None, lo=-math.inf, hi=math.inf, integer=False):
        if key not in obj:
            return default
        v = obj[key]
        name = "%s.%s" % (where, key) if where else key
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            self.error(name, "must be %s, got %r" % ("an integer" if integer else "a number", v))
            return default
        if not lo <= v <= hi:
            self.error(name, "= %r is outside %s..%s" % (v, lo, hi))
            return default
        return v

    def text(self, obj, key, where, default=None):
        if key not in obj:
            return default
        v = obj[key]
        if not isinstance(v, str) or not v or len(v) > 64 or any(ch in v for ch in "/#+,;\n\t"):
            self.error("%s.%s" % (where, key) if where else key,
                       "must be a name of 1-64 characters without / # + , ; or tabs, got %r" % (v,))
            return default
        return v

    def point(self, v, where, dims=2):
        if (not isinstance(v, (list, tuple)) or len(v) != dims
                or any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in v)):
            self.error(where, "must be [%s] in metres, got %r" % (", ".join("xyz"[:dims]), v))
            return None
        return tuple(float(c) for c in v)

    def polygon(self, v, where):
        if not isinstance(v, list) or len(v) < 3:
            self.error(where, "must be a list of at least 3 [x, y] corners in metres")
            return None
        pts = [self.point(p, "%s[%d]" % (where, i)) for i, p in enumerate(v)]
        if any(p is None for p in pts):
            return None
        poly = np.array(pts, float)
        if polygon_area(poly) <= 1e-6:
            self.error(where, "has no area (corners on one line or repeated)")
            return None
        return poly


ROOM_KEYS = {"site", "room", "floor", "capacity", "zones", "doors", "cameras", "settings", "description"}
ZONE_KEYS = {"name", "polygon", "activity", "activity_w", "equipment", "area_m2", "capacity"}
EQUIPMENT_KEYS = {"devices", "w_per_device", "hold_steps"}
DOOR_KEYS = {"name", "from", "to"}
CAMERA_KEYS = {"id", "node", "position", "yaw_deg", "pitch_deg", "roll_deg", "lens", "reference_points"}
REF_KEYS = {"pixel", "floor", "height"}
SETTING_RANGES = {
    "tick_s": (0.05, 60), "timestep_min": (1, 60), "target_height_m": (0, 2.5), "gate_m": (0.01, 3), "body_m": (0, 2),
    "min_lone_fraction": (0, 1),
    "camera_timeout_s": (1, 86400), "watermark_s": (0, 3600), "track_gate_m": (0.05, 10),
    "track_confirm_ticks": (1, 100), "track_coast_ticks": (0, 1000), "door_radius_m": (0, 10),
    "hidden_reach_m": (0, 20), "hidden_max_s": (0, 86400),
    "grid_m": (0.02, 1), "hysteresis_window": (1, 1000), "count_smoothing_window": (1, 1000),
    "utc_offset_h": (-14, 14),
}
INTEGER_SETTINGS = {"timestep_min", "track_confirm_ticks", "track_coast_ticks", "hysteresis_window",
                    "count_smoothing_window"}


def parse_room(raw, source="room"):
    from thermocc.schedules import SCHEDULES   # the L0 profiles a room may name
    ck = _Checker()
    if not ck.keys(raw, "", ROOM_KEYS, required=("room", "floor", "capacity", "zones", "cameras")):
        raise RoomConfigError(source, ck.problems)
    site = ck.text(raw, "site", "", default="site")
    name = ck.text(raw, "room", "")
    floor = ck.polygon(raw.get("floor"), "floor")
    capacity = ck.number(raw, "capacity", "", lo=1, hi=10000, integer=True)

    settings = Settings()
    s_raw = raw.get("settings", {})
    if ck.keys(s_raw, "settings", set(Settings.__dataclass_fields__)):
        for key, value in s_raw.items():
            if key in SETTING_RANGES:
                lo, hi = SETTING_RANGES[key]
                v = ck.number(s_raw, key, "settings", lo=lo, hi=hi, integer=key in INTEGER_SETTINGS)
                if v is not None:
                    setattr(settings, key, v)
        if s_raw.get("mode", "blob") not in ("blob", "frame"):
            ck.error("settings.mode", "must be 'blob' or 'frame', got %r" % (s_raw.get("mode"),))
        else:
            settings.mode = s_raw.get("mode", "blob")
        if "person_height_range_m" in s_raw:
            r = ck.point(s_raw["person_height_range_m"], "settings.person_height_range_m")
            if r and not 0 <= r[0] < r[1] <= 3:
                ck.error("settings.person_height_range_m", "must be [low, high] with 0 <= low < high <= 3")
            elif r:
                settings.person_height_range_m = r
        sched = s_raw.get("schedule", settings.schedule)
        if sched not in SCHEDULES:
            ck.error("settings.schedule", "unknown schedule %r; choose one of %s" % (sched, ", ".join(sorted(SCHEDULES))))
        else:
            settings.schedule = sched
        if 60 % settings.timestep_min:
            ck.error("settings.timestep_min", "must divide 60 (EnergyPlus 'Minutes per Item'), got %r"
                     % settings.timestep_min)

    zones = []
    z_raw = raw.get("zones")
    if not isinstance(z_raw, list) or not z_raw:
        ck.error("zones", "must be a non-empty list of zones")
        z_raw = []
    seen = set()
    for i, z in enumerate(z_raw):
        where = "zones[%d]" % i
        if not ck.keys(z, where, ZONE_KEYS, required=("name", "polygon")):
            continue
        zname = ck.text(z, "name", where)
        where = "zones[%s]" % (zname or i)
        if zname in seen:
            ck.error(where + ".name", "is used twice; zone names must be unique")
        seen.add(zname)
        poly = ck.polygon(z.get("polygon"), where + ".polygon")
        activity_w = ACTIVITY_W[DEFAULT_ACTIVITY]
        if "activity" in z and "activity_w" in z:
            ck.error(where, "give either 'activity' (a name) or 'activity_w' (W/person), not both")
        elif "activity" in z:
            if z["activity"] not in ACTIVITY_W:
                ck.error(where + ".activity", "unknown activity %r; choose one of %s or give activity_w"
                         % (z["activity"], ", ".join(sorted(ACTIVITY_W))))
            else:
                activity_w = ACTIVITY_W[z["activity"]]
        else:
            activity_w = ck.number(z, "activity_w", where, default=activity_w, lo=40, hi=1000)
        eq = Equipment()
        if "equipment" in z and ck.keys(z["equipment"], where + ".equipment", EQUIPMENT_KEYS):
            e = z["equipment"]
            eq = Equipment(ck.number(e, "devices", where + ".equipment", 0, 0, 10000, integer=True),
                           float(ck.number(e, "w_per_device", where + ".equipment", 0.0, 0, 100000)),
                           ck.number(e, "hold_steps", where + ".equipment", 0, 0, 10000, integer=True))
        area = ck.number(z, "area_m2", where, lo=0.01, hi=1e6)
        if area is None and poly is not None:
            area = polygon_area(poly)
        zcap = ck.number(z, "capacity", where, lo=1, hi=10000, integer=True)
        if poly is not None and floor is not None:
            outside = [tuple(p) for p in poly
                       if not point_in_polygon(p[0], p[1], floor) and distance_to_polygon(p[0], p[1], floor) > 0.01]
            if outside:
                ck.error(where + ".polygon", "corner %s lies outside the floor polygon" % (outside[0],))
        if zname and poly is not None:
            zones.append(Zone(zname, poly, float(area), float(activity_w), eq, zcap))

    doors = []
    for i, d in enumerate(raw.get("doors", []) if isinstance(raw.get("doors", []), list) else []):
        where = "doors[%d]" % i
        if ck.keys(d, where, DOOR_KEYS, required=("from", "to")):
            a, b = ck.point(d.get("from"), where + ".from"), ck.point(d.get("to"), where + ".to")
            if a and b:
                doors.append(Door(ck.text(d, "name", where, default="door%d" % (i + 1)), a, b))
    if "doors" in raw and not isinstance(raw["doors"], list):
        ck.error("doors", "must be a list of {name, from: [x, y], to: [x, y]}")

    cameras = []
    c_raw = raw.get("cameras")
    if not isinstance(c_raw, list) or not c_raw:
        ck.error("cameras", "must be a non-empty list of cameras")
        c_raw = []
    ids = set()
    for i, c in enumerate(c_raw):
        where = "cameras[%d]" % i
        if not ck.keys(c, where, CAMERA_KEYS, required=("id", "node", "position")):
            continue
        cid, node = ck.text(c, "id", where), ck.text(c, "node", where)
        where = "cameras[%s]" % (cid or i)
        if (node, cid) in ids:
            ck.error(where, "camera %s of node %s is listed twice" % (cid, node))
        ids.add((node, cid))
        pos = ck.point(c.get("position"), where + ".position", dims=3)
        if pos and pos[2] <= settings.target_height_m:
            ck.error(where + ".position", "mount height %.2f m must be above the target height %.2f m"
                     % (pos[2], settings.target_height_m))
            pos = None
        lens = c.get("lens", "110x75")
        if lens not in LENSES:
            ck.error(where + ".lens", "must be one of %s, got %r" % (", ".join(LENSES), lens))
        angles = [ck.number(c, k, where, 0.0, -360, 360) for k in ("yaw_deg", "pitch_deg", "roll_deg")]
        refs = []
        for j, r in enumerate(c.get("reference_points", [])):
            rw = "%s.reference_points[%d]" % (where, j)
            if ck.keys(r, rw, REF_KEYS, required=("pixel", "floor")):
                px, fl = ck.point(r.get("pixel"), rw + ".pixel"), ck.point(r.get("floor"), rw + ".floor")
                h = ck.number(r, "height", rw, settings.target_height_m, 0, 3)
                if px and fl:
                    refs.append({"pixel": px, "floor": fl, "height": h})
        if cid and node and pos and lens in LENSES:
            cameras.append(CameraPose(cid, node, pos, *(float(a) for a in angles), lens, refs))

    if ck.problems:
        raise RoomConfigError(source, ck.problems)
    return Room(site, name, floor, capacity, zones, doors, cameras, settings, source)


def read_config_json(path, what):
    """The JSON of a config file, or a RoomConfigError naming the file and what to do."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RoomConfigError(str(path), ["file not found; give the path of a %s (see docs/host.md)" % what])
    except ValueError as e:
        raise RoomConfigError(str(path), ["not valid JSON: %s" % e])


def load_room(path):
    return parse_room(read_config_json(path, "room file"), str(path))


EXAMPLE_ROOM = Path(__file__).with_name("rooms") / "lab.json"
