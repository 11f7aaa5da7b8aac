"""Seats left warm at an image border: a settled person's place that one camera still shows
after they walked away is not a person.

A sitter two cameras see only in part (each view cut by its image border) leaves a warm
sliver in one of them when they stand up: the sun lay round their seat and the background
was not learned under them. Blob by blob it looks like a person partly out of view, and
the sitter's track stays on it. What tells it from someone who is there: in the same tick
the place lost its second view, a new person appeared beside it (within DEPART_M of where
the track stood), and that person then walked away (further than LEAVE_M from the seat,
within LEAVE_S): the sitter, leaving. From then on the track is not counted while all that
shows it is one camera's blob cut by the border; a second view, or a blob inside the
image, counts it again. (A neighbour who sits down beside a sitter can take one of their
views into a merged blob too; they stay.)

The seat is remembered, not only its track: a walker passing by can merge with the sliver
for a moment and pull its track off it, and the walker's own track then lands on the sliver
(the benchmark's Wednesday, 15:31). Any track whose person is a border sliver within SEAT_M
of a marked seat is not counted either. A seat is forgotten when someone is seen on it whole
(a second view, or a blob inside the image: they sat back down) or when no track has been
on it for LEAVE_S.
"""
from __future__ import annotations

import logging
import math

log = logging.getLogger("thermocc.left_behind")

DEPART_M = 2.0          # a walker first seen this close to a sitter's last place may have been them
LEAVE_M = 3.0           # ... who then went this far from it
LEAVE_S = 20.0          # ... within this long
SEAT_M = 0.4            # a border sliver this close to a marked seat is that seat (its centroid wanders ~0.1 m)


class LeftBehind:
    def __init__(self, room):
        self.room = room
        self.last = {}               # track id -> (views, x, y) at the last tick
        self.pending = {}            # track id -> (seat x, seat y, since ms, [ids of walkers born beside it])
        self.marked = set()          # ids of tracks on a left-behind seat
        self.seats = []              # [x, y, ms a track was last on it] of the seats marked
        self.count = 0               # seats marked so far, for the statistics

    def update(self, tracks, support, t_ms):
        """tracks: every track after this tick's update; support: per fused person (views,
        cut: every blob cut by the border), or None (frame mode: nothing marked).
        Returns the ids of tracks not to count."""
        if support is None:
            return self.marked      # no blobs looked (no camera working, or frame mode): no evidence
        by_id = {t.id: t for t in tracks}
        born = [t for t in tracks if t.born_ms == t_ms]
        last = {}
        for t in tracks:
            if t.person < 0:
                if t.id in self.last:
                    last[t.id] = self.last[t.id]
                continue
            views, cut = support[t.person]
            before = self.last.get(t.id)
            sliver = views == 1 and cut
            seats = [seat for seat in self.seats if math.hypot(seat[0] - t.x, seat[1] - t.y) <= SEAT_M]
            for seat in seats:
                seat[2] = t_ms
            if seats and sliver:
                self.marked.add(t.id)              # whichever track is on it now
            elif seats:
                self.seats = [seat for seat in self.seats if seat not in seats]    # someone sits there, seen whole
            if t.id in self.marked:
                if not sliver:
                    self.marked.discard(t.id)
            elif t.id in self.pending:
                x, y, since, walkers = self.pending[t.id]
                if not sliver or t_ms - since > LEAVE_S * 1000:
                    del self.pending[t.id]
                elif any(w in by_id and math.hypot(by_id[w].x - x, by_id[w].y - y) > LEAVE_M for w in walkers):
                    del self.pending[t.id]
                    self.marked.add(t.id)
                    self.seats.append([t.x, t.y, t_ms])
                    self.count += 1
                    log.info("%s: track %d at (%.1f, %.1f): someone walked away from it as it lost its second view; "
                             "the border blob left is their seat, not counted while it is all that shows",
                             self.room.name, t.id, t.x, t.y)
            elif before is not None and before[0] >= 2 and sliver:
                walkers = [b.id for b in born if math.hypot(b.x - before[1], b.y - before[2]) <= DEPART_M]
                if walkers:
                    self.pending[t.id] = (before[1], before[2], t_ms, walkers)
            last[t.id] = (views, t.x, t.y)
        self.last = last
        self.marked &= set(last)
        self.seats = [seat for seat in self.seats if t_ms - seat[2] <= LEAVE_S * 1000]
        self.pending = {k: v for k, v in self.pending.items() if k in last}
        return self.marked
