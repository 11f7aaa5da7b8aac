"""Residual heat: the warm place a seated person leaves behind is not a person.

A seat keeps a person's warmth for minutes after they stand up, and floor the detector's
background never learned (it is not learned under people) shows as warm where they sat
when the sun has reached it meanwhile. Either way the detector still finds a blob where
the person was, and it is counted as them until it fades or the sun moves on (in the
accuracy benchmark's sunlit afternoons: 30 minutes, one person too many).

What tells it from the person: a person settled in one place shows a blob of about one
person's area that stays put; when they leave, the part of it that was their body goes at
once and what stays is smaller, in the same place. So, per camera: a blob that has kept
its place (centroid within MATCH_PX) for SETTLED_S at the size of a whole person there
(WHOLE of the pixels one person shows, `BlobFusion.group_area`) and then, in the same
place, shrinks in one frame to SHRINK of that size and to less than LONE_FRACTION of one
person's pixels is residual, and so is whatever blob stays in that place no larger than
that, until the place shows no blob for FORGET_S or a larger one (someone sits down
again), or for RESIDUAL_MAX_S at most (a person wrongly taken for their own warmth is not
lost for longer). Someone who sits down again where the sun has warmed the floor may add
hardly a pixel (their clothing reads as warm as the floor round the warm seat), so a place
whose blob grew at all just as a walker's blob beside it went (within ARRIVE_PX in the
camera's frame before, WALK_IN_S at most before, and gone now: it merged into the place)
is someone back too. Residual blobs are marked KIND_RESIDUAL: no fusion counts them.
The area tests keep a person whose blob shrank because a neighbour merged with it left
(what stays is still a whole person) and a person only partly seen, whose small blob
flickers (it never was a whole person's); blobs touching the image border (cut by it,
their size says nothing) are never marked.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from thermocc.ingest import KIND_PERSON, KIND_RESIDUAL

MATCH_PX = 1.0          # a blob in "the same place": centroids this close (pixels)
SETTLED_S = 60.0        # in place this long: someone sitting, not passing
WHOLE = 0.8             # of one person's pixels there: settled as a whole person (alone: 0.8-1.2)
SHRINK = 0.75           # of the settled size, in one frame: the body has gone
LONE_FRACTION = 0.75    # of one person's pixels there: what stays is not a whole person
RESIDUAL_MAX_S = 3600.0  # the longest a place stays residual
GROW_PX = 2             # a residual place shows a blob this much larger: someone is back
ARRIVE_PX = 5.0         # a walker's blob this close to a place, the frame before, may walk into it
WALK_IN_S = 2.0         # ... when that frame is this recent (a board sends a walker as it moves)
FORGET_S = 60.0         # a place showing no blob this long is forgotten
SIZE_WEIGHT = 0.25      # the settled size is a running mean of the blob's pixels
MAX_PLACES = 48         # per camera (a frame has at most 24 blobs)

log = logging.getLogger("thermocc.residual")


@dataclass
class Place:
    """Where a camera's blob has kept its place: its centroid (pixels), settled size
    (pixels), since when (ms), when last seen (ms), and whether it is residual heat."""
    col: float
    row: float
    pixels: float
    since_ms: int
    seen_ms: int
    residual: bool = False


class ResidualHeat:
    def __init__(self, room, fusion):
        self.fusion = fusion                 # BlobFusion: camera models and one person's area
        self.target_h = room.settings.target_height_m
        self.places = [[] for _ in room.cameras]
        self.last = [None] * len(room.cameras)   # per camera: (t_ms, [(col, row)] of its last person blobs)
        self.marked = 0                      # blobs marked residual, for the statistics

    def mark(self, cam, obs):
        """Mark the residual blobs of camera cam's observation obs (in place, kind column)."""
        b = obs.blobs
        t = obs.t_ms
        places = self.places[cam]
        forget_ms = FORGET_S * 1000
        places[:] = [p for p in places if t - p.seen_ms <= forget_ms]
        before, self.last[cam] = self.last[cam], None
        if not len(b):
            return
        # plain lists: a frame has a few blobs, on which numpy's per-call cost is most of the work
        rows = b.tolist()
        inner = [i for i, r in enumerate(rows)
                 if r[9] == KIND_PERSON and r[2] > 0 and r[3] > 0 and r[4] < 31 and r[5] < 23]
        taken = set()
        cols = [p.col for p in places]       # as they were: a place added or moved since is taken
        for i in sorted(inner, key=lambda i: -rows[i][6]):      # largest first (stable on ties)
            col, row, n = rows[i][0], rows[i][1], rows[i][6]
            best, best_d = None, MATCH_PX
            # the nearest place not yet taken (the last, on a tie); most are columns away
            for j in [j for j, c in enumerate(cols) if -MATCH_PX <= c - col <= MATCH_PX]:
                p = places[j]
                d = math.hypot(p.col - col, p.row - row)
                if j not in taken and d <= best_d:
                    best, best_d = j, d
            if best is None:
                if len(places) < MAX_PLACES:
                    places.append(Place(col, row, n, t, t))
                    taken.add(len(places) - 1)
                continue
            taken.add(best)
            p = places[best]
            if p.residual:
                if n <= p.pixels + GROW_PX and t - p.since_ms <= RESIDUAL_MAX_S * 1000 and \
                        not (n > p.pixels and self._walked_in(before, b, i, t)):
                    self._residual(b, i, p, col, row, t)
                else:                        # someone sits there again (or it has been too long)
                    places[best] = Place(col, row, n, t, t)
                continue
            if n > SHRINK * p.pixels:        # the same blob: follow it
                p.col, p.row, p.seen_ms = col, row, t
                p.pixels += SIZE_WEIGHT * (n - p.pixels)
                continue
            one = self._one_person(cam, col, row) if t - p.since_ms >= SETTLED_S * 1000 else 0.0
            if one and p.pixels >= WHOLE * one and n < LONE_FRACTION * one:
                log.info("%s/%s: the blob at pixel (%.1f, %.1f) shrank from %.0f to %.0f pixels in place (one "
                         "person there: %.0f): residual heat of someone who left, not counted while it stays",
                         obs.node, obs.cam, col, row, p.pixels, n, one)
                p.residual = True
                p.pixels = n
                p.since_ms = t
                self._residual(b, i, p, col, row, t)
            else:                            # still a whole person, or not settled yet: a new place
                places[best] = Place(col, row, n, t, t)

        self.last[cam] = (t, [(r[0], r[1]) for r, kind in zip(rows, b[:, 9].tolist()) if kind == KIND_PERSON])

    @staticmethod
    def _walked_in(before, b, i, t):
        """Whether a person blob of the camera's frame before (t_ms, centroids), WALK_IN_S at
        most before t, was within ARRIVE_PX of blob i and has no blob but i near it now."""
        if before is None or t - before[0] > WALK_IN_S * 1000:
            return False
        here = b[i, :2]
        others = np.delete(b[:, :2], i, axis=0)
        for q in before[1]:
            d = math.hypot(q[0] - here[0], q[1] - here[1])
            if MATCH_PX < d <= ARRIVE_PX and not (np.hypot(*(others - q).T) <= ARRIVE_PX).any():
                return True
        return False

    def _residual(self, b, i, place, col, row, t):
        b[i, 9] = KIND_RESIDUAL
        place.col, place.row, place.seen_ms = col, row, t
        self.marked += 1

    def _one_person(self, cam, col, row):
        x, y = self.fusion.models[cam].to_floor([col], [row], self.target_h)[0]
        if not np.isfinite(x):
            return 0.0
        return self.fusion.group_area(cam, x, y, 1)
