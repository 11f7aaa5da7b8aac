"""Ground truth for a simulated room: who is where, second by second, over days.

Agents have a home seat in a zone (seats respect zone capacities), arrive and leave
through the door, work at their seat, walk to the pantry, go out for lunch, and join
meetings at the Main Area table. The day's scenario comes from an academic calendar
(normal term day, finals, summer, holiday, weekend), each with its attendance and hours,
like the synthetic schedules of the source project. Everything is drawn from one seeded
numpy Generator: the same seed gives the same days.

`Behaviour.positions(t_s)` gives the people present at a time (seconds since the start
day's midnight, local time) as (agent, x, y, posture, zone index); `moving_spans` when
someone walks; `schedule_csv` writes the expected count per timestep (an L0-style input).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from thermocc.room import point_in_polygon

SCENARIOS = {
    # attendance probability, arrival mean/sd (h), stay mean/sd (h), lunch-out probability,
    # pantry walks per hour, meeting probability
    "normal": dict(attend=0.75, arrive=(9.0, 0.8), stay=(7.0, 1.5), lunch=0.6, walks=0.35, meeting=0.5),
    "finals": dict(attend=0.95, arrive=(9.5, 1.2), stay=(9.5, 2.0), lunch=0.3, walks=0.5, meeting=0.2),
    "summer": dict(attend=0.3, arrive=(9.5, 1.0), stay=(5.5, 1.5), lunch=0.7, walks=0.3, meeting=0.1),
    "holiday": dict(attend=0.03, arrive=(11.0, 1.0), stay=(3.0, 1.0), lunch=0.5, walks=0.2, meeting=0.0),
    "weekend": dict(attend=0.08, arrive=(11.0, 1.5), stay=(4.0, 1.5), lunch=0.5, walks=0.3, meeting=0.0),
    "crowded": dict(attend=1.0, arrive=(8.5, 0.3), stay=(8.0, 0.5), lunch=0.0, walks=0.3, meeting=1.0),
}


def academic_scenario(day: dt.date) -> str:
    """Which scenario a calendar date is (northern-hemisphere academic year)."""
    if day.weekday() >= 5:
        return "weekend"
    md = (day.month, day.day)
    if md >= (12, 20) or md <= (1, 5):
        return "holiday"
    if (6, 1) <= md <= (8, 31):
        return "summer"
    if (12, 5) <= md <= (12, 19) or (5, 1) <= md <= (5, 14):
        return "finals"
    return "normal"


@dataclass
class Seat:
    x: float
    y: float
    zone: int
    posture: str        # "seated" or "standing"
    monitor: tuple | None   # (x, y) of the desk's monitor, if any


def make_seats(room, spacing_m=1.4, inset_m=0.6):
    """Seats on a grid inside each zone (standing spots in zones whose name says pantry),
    at most the zone's capacity (or area / 4 m2) per zone; desks in zones with equipment
    get a monitor 0.45 m towards the nearest wall."""
    seats = []
    for zi, z in enumerate(room.zones):
        poly = z.polygon
        x0, y0 = poly.min(axis=0)
        x1, y1 = poly.max(axis=0)
        cap = z.capacity or max(1, int(z.area_m2 // 4))
        standing = "pantry" in z.name.lower()
        pts = []
        for x in np.arange(x0 + inset_m, x1 - inset_m + 1e-9, spacing_m):
            for y in np.arange(y0 + inset_m, y1 - inset_m + 1e-9, spacing_m):
                if point_in_polygon(x, y, poly):
                    pts.append((float(x), float(y)))
        if not pts:
            c = poly.mean(axis=0)
            pts = [(float(c[0]), float(c[1]))]
        for x, y in pts[:cap]:
            monitor = None
            if z.equipment.devices and not standing:
                bx0, by0, bx1, by1 = room.bounds
                d = {(-0.45, 0): x - bx0, (0.45, 0): bx1 - x, (0, -0.45): y - by0, (0, 0.45): by1 - y}
                dx, dy = min(d, key=d.get)
                monitor = (x + dx, y + dy)
            seats.append(Seat(x, y, zi, "standing" if standing else "seated", monitor))
    return seats


# Two people never stand closer than this (centre to centre): no sensor can part bodies
# that overlap, and real ones do not.
PERSONAL_SPACE_M = 0.5
# Meeting chairs stand this far apart round the Main Area table (a chair's width: seated
# people, 0.54 m across in the renderer, side by side), on rings at these radii: the
# table's edge, then a second row. Until session 19 attendees sat at an angle drawn from
# their agent number, and two could sit 0.2 m apart (one body inside the other) for a
# whole meeting.
MEETING_CHAIR_M = 0.6
MEETING_RINGS_M = (0.8, 1.5)
# No meeting chair or pantry visitor is nearer than this to a desk, whose sitter may stay.
DESK_CLEARANCE_M = 0.6


class Behaviour:
    """Waypoint paths of every agent over `days` days from `start_date`."""

    def __init__(self, room, start_date=dt.date(2026, 3, 2), days=1, agents=None, seed=0, scenario=None,
                 walk_speed=1.0):
        self.room = room
        self.rng = np.random.default_rng(seed)
        self.seats = make_seats(room)
        self.n_agents = agents or min(len(self.seats), room.capacity + 2)
        homes = self.rng.permutation(len(self.seats))[:self.n_agents]
        self.home = [self.seats[i] for i in homes]
        d = room.doors[0] if room.doors else None
        self.door = ((d.a[0] + d.b[0]) / 2, (d.a[1] + d.b[1]) / 2) if d else tuple(room.floor.mean(axis=0))
        pantry = [i for i, z in enumerate(room.zones) if "pantry" in z.name.lower()]
        self.pantry = tuple(room.zones[pantry[0]].polygon.mean(axis=0)) if pantry else self.door
        main = [i for i, z in enumerate(room.zones) if "main" in z.name.lower()]
        self.table = tuple(room.zones[main[0]].polygon.mean(axis=0)) if main else tuple(room.floor.mean(axis=0))
        self.chairs = self._meeting_chairs()
        self.speed = walk_speed
        self.standing = []         # (x, y, from, to) of pantry spots taken: bodies do not overlap
        self.start_date = start_date
        self.scenario_names = []
        self.paths = [[] for _ in range(self.n_agents)]   # per agent: [(t, x, y, posture, inside)]
        for day in range(days):
            date = start_date + dt.timedelta(days=day)
            name = scenario or academic_scenario(date)
            self.scenario_names.append(name)
            self._plan_day(day * 86400.0, SCENARIOS[name])
        self._arrays = [self._as_arrays(p) for p in self.paths]

    # -- planning ---------------------------------------------------------------------------
    def _walk(self, path, t, a, b, posture_after, inside_after=True):
        """Append a walk from a to b starting at t; returns the arrival time."""
        dist = math.hypot(b[0] - a[0], b[1] - a[1])
        path.append((t, a[0], a[1], "standing", True))
        t2 = t + max(1.0, dist / self.speed)
        path.append((t2, b[0], b[1], posture_after, inside_after))
        return t2

    def _meeting_chairs(self):
        """Chairs round the table, in the order attendees take them: side by side round the
        first ring, then the second; each inside the table's zone and clear of the desks."""
        zone = self.room.zone_index(*self.table)
        chairs = []
        for radius in MEETING_RINGS_M:
            n = int(2 * math.pi * radius / MEETING_CHAIR_M)
            for j in range(n):
                ang = 2 * math.pi * j / n
                x, y = self.table[0] + radius * math.cos(ang), self.table[1] + radius * math.sin(ang)
                if self.room.zone_index(x, y) == zone and \
                        all(math.hypot(x - s.x, y - s.y) >= DESK_CLEARANCE_M for s in self.seats):
                    chairs.append((x, y))
        return chairs

    def _free_spot(self, rng, t_from, t_to, tries=30):
        """A standing spot near the pantry at least PERSONAL_SPACE_M from anyone standing
        there meanwhile and DESK_CLEARANCE_M from the desks (the Pantry has two, whose
        sitters stay), or None when it is full (the visit is skipped)."""
        for _ in range(tries):
            spot = (self.pantry[0] + rng.uniform(-0.6, 0.6), self.pantry[1] + rng.uniform(-0.6, 0.6))
            if any(math.hypot(spot[0] - s.x, spot[1] - s.y) < DESK_CLEARANCE_M for s in self.seats):
                continue
            if all(math.hypot(spot[0] - x, spot[1] - y) >= PERSONAL_SPACE_M
                   for x, y, a, b in self.standing if a < t_to and t_from < b):
                self.standing.append((spot[0], spot[1], t_from, t_to))
                return spot
        return None

    def _plan_day(self, t0, p):
        rng = self.rng
        meeting = None
        taken = 0                  # meeting chairs taken so far
        if rng.random() < p["meeting"]:
            start = t0 + 3600 * rng.uniform(10.5, 15.0)
            meeting = (start, start + 3600 * rng.uniform(0.5, 1.0))
        for a in range(self.n_agents):
            if rng.random() >= p["attend"]:
                continue
            seat = self.home[a]
            arrive = t0 + 3600 * float(np.clip(rng.normal(*p["arrive"]), 6.5, 14))
            leave = arrive + 3600 * float(np.clip(rng.normal(*p["stay"]), 0.5, 14))
            leave = min(leave, t0 + 3600 * 23.5)
            path = self.paths[a]
            t = self._walk(path, arrive, self.door, (seat.x, seat.y), seat.posture)
            events = []
            if rng.random() < p["lunch"]:
                lunch = t0 + 3600 * rng.uniform(11.8, 13.2)
                events.append((lunch, "out", 60 * rng.uniform(30, 60)))
            hours = (leave - t) / 3600
            for _ in range(rng.poisson(p["walks"] * max(hours, 0))):
                events.append((rng.uniform(t, leave), "pantry", 60 * rng.uniform(2, 6)))
            if meeting and meeting[0] > t + 60 and meeting[1] < leave - 60 and rng.random() < 0.8 \
                    and taken < len(self.chairs):
                events.append((meeting[0], "meeting", meeting[1] - meeting[0]))
                chair = self.chairs[taken]
                taken += 1
            events.sort()
            for when, kind, dur in events:
                if when < t + 30 or when + dur > leave - 30:
                    continue
                spot = self._free_spot(rng, when, when + dur + 60) if kind == "pantry" else None
                if kind == "pantry" and spot is None:
                    continue                      # the pantry is full: stay at the desk
                path.append((when, seat.x, seat.y, seat.posture, True))
                if kind == "out":
                    back = self._walk(path, when, (seat.x, seat.y), self.door, "standing", inside_after=False)
                    path.append((back + dur, self.door[0], self.door[1], "standing", True))
                    t = self._walk(path, back + dur, self.door, (seat.x, seat.y), seat.posture)
                else:
                    if kind == "pantry":
                        posture = "standing"
                    else:
                        # where in their chair: a few cm either way (one draw per attendee,
                        # as the old angle's jitter took: meetings draw what they drew)
                        nudge = 0.1 * rng.uniform(-0.2, 0.2)
                        spot = (chair[0] + nudge, chair[1] + nudge)
                        posture = "seated"
                    arrive_spot = self._walk(path, when, (seat.x, seat.y), spot, posture)
                    path.append((arrive_spot + dur, spot[0], spot[1], posture, True))
                    t = self._walk(path, arrive_spot + dur, spot, (seat.x, seat.y), seat.posture)
            path.append((leave, seat.x, seat.y, seat.posture, True))
            out = self._walk(path, leave, (seat.x, seat.y), self.door, "standing", inside_after=False)
            path.append((out + 1, self.door[0], self.door[1], "standing", False))

    @staticmethod
    def _as_arrays(path):
        path.sort(key=lambda w: w[0])
        if not path:
            return None
        t = np.array([w[0] for w in path])
        xy = np.array([(w[1], w[2]) for w in path])
        seated = np.array([w[3] == "seated" for w in path])
        inside = np.array([w[4] for w in path])
        return t, xy, seated, inside

    # -- queries ----------------------------------------------------------------------------
    def positions(self, t_s):
        """People in the room at t_s: list of (agent, x, y, posture, zone)."""
        out = []
        for a, arr in enumerate(self._arrays):
            if arr is None:
                continue
            t, xy, seated, inside = arr
            k = int(np.searchsorted(t, t_s, side="right")) - 1
            if k < 0 or k >= len(t) - 1 or not inside[k]:
                continue
            # on the way to a waypoint outside (the door, leaving) they walk there and then are gone
            f = 0.0 if t[k + 1] == t[k] else (t_s - t[k]) / (t[k + 1] - t[k])
            x, y = xy[k] + f * (xy[k + 1] - xy[k])
            # a segment has the posture of its first waypoint (walks start standing)
            out.append((a, float(x), float(y), "seated" if seated[k] else "standing",
                        self.room.zone_index(float(x), float(y))))
        return out

    def moving_spans(self, t0_s, t1_s):
        """When someone in the room walks between t0_s and t1_s: merged (start, end) spans,
        in time order, clipped to [t0_s, t1_s]."""
        spans = []
        for arr in self._arrays:
            if arr is None:
                continue
            t, xy, _, inside = arr
            for k in np.flatnonzero(inside[:-1] & (xy[:-1] != xy[1:]).any(axis=1)):
                a, b = max(t0_s, float(t[k])), min(t1_s, float(t[k + 1]))
                if a < b:
                    spans.append((a, b))
        spans.sort()
        merged = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def monitors_on(self, t_s, hold_s=600):
        """Monitors of seats whose owner sat there within the last hold_s."""
        where = [{p[0]: (p[1], p[2]) for p in self.positions(t_s - lag)} for lag in (0, hold_s / 2, hold_s)]
        on = []
        for a, seat in enumerate(self.home):
            if seat.monitor is None:
                continue
            if any(a in w and math.hypot(w[a][0] - seat.x, w[a][1] - seat.y) < 0.3 for w in where):
                on.append(seat.monitor)
        return on

    def schedule_csv(self, path, start_utc_s, step_min=5, days=1):
        """Ground-truth mean count per timestep (an L0-style schedule input)."""
        with open(path, "w") as f:
            f.write("timestamp,count\n")
            for k in range(int(days * 24 * 60 / step_min)):
                t0 = k * step_min * 60
                n = np.mean([len(self.positions(t0 + s)) for s in range(0, step_min * 60, 30)])
                stamp = dt.datetime.fromtimestamp(start_utc_s + t0, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
                f.write("%s,%.3f\n" % (stamp, n))
