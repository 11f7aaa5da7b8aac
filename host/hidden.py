"""People no camera shows: out of every working camera's view (where a person can be unseen,
and who is there), or lost in view where the floor is as warm as they are.

With its four cameras working, the example room has no floor where a whole person is
unseen (only strips along the walls, narrower than a body). With a camera offline, a
person who walks into what only that camera saw (the Pantry, when node-b/cam2 is
unplugged) vanishes from every image, yet can only have left through a door. So a
confirmed track lost while walking, away from the doors, within `hidden_reach_m` of such a
hiding place, is held there as a hidden person, unless a new track was confirmed in the
same moments: then it was a walker seen here and then there (the new track nearest them),
not someone hiding. A new track confirmed anywhere while someone is hidden is that person
coming back (the nearest hidden one; of several confirmed at once, the one nearest a hidden
person), unless an old track ends, or was lost in view, in the same moments (again a
walker). A hidden person also ends when their place comes into view and shows nobody, and
after `hidden_max_s` (they may have left through a door no camera sees). People a camera
saw when it went offline are held where it last saw them, sitting or not: its going silent
does not empty its part of the room.

Someone can also vanish in view: a person who sits down where the sun has warmed the floor
to their own temperature reads as that floor, which the detector's background had learned
(docs/detection.md, "stranded warm islands"), so their track is lost within minutes of
their sitting down. A confirmed track lost sitting still, away from the doors, counted when
it was lost, between STILL_MIN_S and STILL_MAX_S after it was first seen, and with no other
track within track_gate_m in its last NEIGHBOUR_S (else it may have been one person split
in two, or swapped with a neighbour), is held where it sat, unless a new track was
confirmed in the same moments (a walker seen here and then there, as above). Such a person
is in view: nothing ends their hold but a new track confirmed (the nearest held person
came back: they stood up and were seen) or hidden_max_s. Someone seated longer stays seen
(the background is not learned under people), so a track lost after STILL_MAX_S is someone
who left.

Hiding places are the floor cells at the target height that no working camera sees, less a
body's radius next to seen floor (`camera.PERSON_RADIUS_M`: a person there would show at
the edge of a view). A hidden person is placed in the zone that is most hidden, by share
of its area, within the hiding place they went into, at the centre of its hidden part.
"""
from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from thermocc.camera import PERSON_RADIUS_M, coverage, floor_mask
from thermocc.tracker import WALKING_M_PER_S

log = logging.getLogger("thermocc.hidden")

CELL_M = 0.1
STILL_MIN_S = 60.0       # a track seen this long, still when lost, had sat down (not paused)
STILL_MAX_S = 300.0      # one lost later than this after it was first seen left (unseen)
NEIGHBOUR_S = 60.0       # no other track within track_gate_m for this long before it was lost
# A track lost while walking (tracker.WALKING_M_PER_S) may have walked into a hiding place;
# one lost sitting still has not (it may have sat unseen, STILL_MIN_S..STILL_MAX_S). At one
# frame in 30 s nobody is seen walking, so no walker is held: people leave unseen between
# frames too.


class HiddenPerson:
    __slots__ = ("id", "x", "y", "zone", "since_ms", "in_view_ms", "sat_unseen")

    def __init__(self, pid, x, y, zone, since_ms, sat_unseen=False):
        self.id, self.x, self.y, self.zone, self.since_ms = pid, x, y, zone, since_ms
        self.in_view_ms = None       # since when their place is in a working camera's view
        self.sat_unseen = sat_unseen    # lost in view, sitting where the floor is as warm as they are

    def __getstate__(self):
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, state):
        for k, v in zip(self.__slots__, state):
            setattr(self, k, v)


class HidingPlaces:
    """The hiding places of one set of working cameras."""

    def __init__(self, room, xs, ys, on_floor, seen_by_working):
        r = max(1, int(round(PERSON_RADIUS_M / CELL_M)))
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        disk = xx * xx + yy * yy <= r * r
        unseen = np.pad(~seen_by_working | ~on_floor, r, constant_values=True)   # beyond the walls too
        hide = ndimage.binary_erosion(unseen, disk)[r:-r, r:-r] & on_floor
        labels, n = ndimage.label(hide)
        gx, gy = np.meshgrid(xs, ys)
        zone_of = np.array([room.zone_index(x, y) for x, y in zip(gx.ravel(), gy.ravel())]).reshape(gx.shape)
        self.cells = np.stack([gx[hide], gy[hide]], 1)
        self.cell_place = labels[hide]
        self.spots = {}              # place label -> (x, y, zone)
        for place in range(1, n + 1):
            mask = labels == place
            shares = [(mask & (zone_of == z)).sum() / max(1, ((zone_of == z) & on_floor).sum())
                      for z in range(len(room.zones))]
            zone = int(np.argmax(shares))
            part = mask & (zone_of == zone)
            cx, cy = gx[part].mean(), gy[part].mean()
            k = np.argmin((gx[part] - cx) ** 2 + (gy[part] - cy) ** 2)    # a cell of it (the part may be concave)
            self.spots[place] = (float(gx[part][k]), float(gy[part][k]), zone)

    def __bool__(self):
        return len(self.cells) > 0

    @property
    def area_m2(self):
        return len(self.cells) * CELL_M * CELL_M

    def near(self, x, y, reach_m):
        """The spot (x, y, zone) of the hiding place within reach_m of (x, y), or None."""
        if not len(self.cells):
            return None
        d2 = ((self.cells - (x, y)) ** 2).sum(1)
        k = int(np.argmin(d2))
        return self.spots[int(self.cell_place[k])] if d2[k] <= reach_m * reach_m else None

    def holds(self, x, y):
        """Whether a person at (x, y) is out of every working view (within a body's radius
        of a hiding place: the rest of them is too little to detect)."""
        return self.near(x, y, PERSON_RADIUS_M) is not None


class HiddenPeople:
    def __init__(self, room):
        s = room.settings
        self.room = room
        self.reach_m = s.hidden_reach_m
        self.max_ms = int(round(s.hidden_max_s * 1000))
        # a walker's new track is confirmed before the old one coasts out: their events pair up this long
        self.pair_ms = int(round((s.track_coast_ticks + 1) * s.tick_s * 1000))
        self.settle_ms = self.pair_ms
        self.people: list[HiddenPerson] = []
        self.births = []             # [t_ms, track, HiddenPerson it took or None] of recent births, oldest first
        self.recent_losses = []      # t_ms of tracks lost in view (nobody held), oldest first
        self.went = self.returned = self.timed_out = self.seen_gone = 0
        self._places = {}            # working cameras (tuple of bool) -> HidingPlaces
        self.cameras = None          # which cameras work now (tuple of bool), since cameras_since_ms
        self.cameras_since_ms = 0
        self._grid = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_places"], state["_grid"] = {}, None       # derived from the room: rebuilt on demand
        return state

    def places(self, ok):
        key = tuple(bool(v) for v in ok)
        if key not in self._places:
            if self._grid is None:
                xs, ys, seen, _ = coverage(self.room, cell_m=CELL_M)
                self._grid = (xs, ys, seen, floor_mask(self.room, xs, ys))
            xs, ys, seen, on_floor = self._grid
            self._places[key] = HidingPlaces(self.room, xs, ys, on_floor, seen[..., list(key)].any(2))
        return self._places[key]

    def summary(self):
        """Floor where a whole person is unseen with every camera working and with each one
        offline, and the zones the people held there count in (for `thermocc coverage`)."""
        def of(ok):
            places = self.places(ok)
            return {"hidden_m2": round(places.area_m2, 2),
                    "held_in": sorted({self.room.zones[z].name for _, _, z in places.spots.values()})}
        n = len(self.room.cameras)
        out = {"all_working": of([True] * n)}
        for k, c in enumerate(self.room.cameras):
            out["%s/%s offline" % (c.node, c.id)] = of([j != k for j in range(n)])
        return out

    def update(self, ok, confirmed, ended, t_ms, uncounted=()):
        """One tick. confirmed: tracks confirmed this tick; ended: (track, at_door) of the
        confirmed tracks that ended this tick; uncounted: ids of tracks not counted at the
        tick before (host/left_behind.py). Returns the people hidden now."""
        if self.reach_m <= 0 or not any(ok):
            return self.people           # no camera looked: no evidence either way
        cameras = tuple(bool(v) for v in ok)
        places = self.places(cameras)
        if cameras != self.cameras:
            self.cameras, self.cameras_since_ms = cameras, t_ms
        self.births = [b for b in self.births if t_ms - b[0] <= self.pair_ms]
        self.recent_losses = [ms for ms in self.recent_losses if t_ms - ms <= self.pair_ms]
        if self.people and len(confirmed) > 1:
            # several at once: who came back is the one seen nearest a hidden person; walkers
            # lost in view a moment ago (taken first) are found again further from them
            confirmed = sorted(confirmed, key=lambda t: min((h.x - t.x) ** 2 + (h.y - t.y) ** 2 for h in self.people))
            split = len(confirmed) - min(len(self.recent_losses), len(confirmed))
            confirmed = confirmed[split:] + confirmed[:split]
        for t in confirmed:
            if self.recent_losses:
                self.recent_losses.pop(0)    # a walker lost in view a moment ago, found again
                continue
            taken = self._take_nearest(t.x, t.y) if self.people else None
            self.births.append([t_ms, t, taken])
        for t, at_door in ended:
            other = [b for b in self.births if b[1].id != t.id]
            if other:
                # a walker seen here and then there between frames: the other track (the
                # nearest, where it is now) is them
                match = min(other, key=lambda b: (b[1].x - t.x) ** 2 + (b[1].y - t.y) ** 2)
                taken = match[2]
                self.births.remove(match)
                if taken is not None:
                    self.people.append(taken)
                    self.returned -= 1
                continue
            if at_door:
                continue
            if places and t.seen_ms < self.cameras_since_ms and places.holds(t.x, t.y):
                # last seen before a camera went offline, where no working camera sees now
                zone = self.room.zone_index(t.x, t.y)
                self._hold(HiddenPerson(t.id, t.x, t.y, zone, t_ms), "was seen only by a camera now missing")
                continue
            if self._sat_unseen(t, t_ms, uncounted):
                self._hold(HiddenPerson(t.id, t.x, t.y, t.zone, t_ms, sat_unseen=True),
                           "was lost in view %.0f s after first seen, sitting still" % ((t.seen_ms - t.born_ms) / 1000))
                continue
            if not places:
                self.recent_losses.append(t_ms)
                continue
            spot = places.near(t.x, t.y, self.reach_m) if t.speed_m_s >= WALKING_M_PER_S else None
            if spot is not None:
                self._hold(HiddenPerson(t.id, spot[0], spot[1], spot[2], t_ms), "walked out of every working view")
            else:
                self.recent_losses.append(t_ms)
        keep = []
        for h in self.people:
            if h.sat_unseen or places.holds(h.x, h.y):
                h.in_view_ms = None      # (a person sat unseen is in view: their place shows nothing)
            elif h.in_view_ms is None:
                h.in_view_ms = t_ms
            if h.in_view_ms is not None and t_ms - h.in_view_ms > self.settle_ms:
                self.seen_gone += 1          # their place is in view again and nobody came out of it
                log.info("%s: person %d no longer held: their place is in view and shows nobody", self.room.name, h.id)
            elif t_ms - h.since_ms > self.max_ms:
                self.timed_out += 1
                log.info("%s: person %d no longer held: out of view for hidden_max_s (%.0f s)", self.room.name, h.id,
                         self.max_ms / 1000)
            else:
                keep.append(h)
        self.people = keep
        return self.people

    def _sat_unseen(self, t, t_ms, uncounted):
        """Whether a confirmed track lost in view is someone who sat down where the floor is
        as warm as they are (see the module's text)."""
        seen_s = (t.seen_ms - t.born_ms) / 1000
        return (t.speed_m_s < WALKING_M_PER_S and STILL_MIN_S <= seen_s <= STILL_MAX_S and t.id not in uncounted
                and (t.crowded_ms is None or t_ms - t.crowded_ms > NEIGHBOUR_S * 1000))

    def _hold(self, person, why):
        self.people.append(person)
        self.went += 1
        log.info("%s: person %d %s; counted in %s until seen again (%d held)", self.room.name, person.id, why,
                 self.room.zones[person.zone].name, len(self.people))

    def _take_nearest(self, x, y):
        k = min(range(len(self.people)), key=lambda i: (self.people[i].x - x) ** 2 + (self.people[i].y - y) ** 2)
        self.returned += 1
        return self.people.pop(k)
