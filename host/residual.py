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
lost for longer). Residual blobs are marked KIND_RESIDUAL: no fusion counts them.
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
        self.marked = 0                      # blobs marked residual, for the statistics

    def mark(self, cam, obs):
        """Mark the residual blobs of camera cam's observation obs (in place, kind column)."""
        b = obs.blobs
        t = obs.t_ms
        places = self.places[cam]
        forget_ms = FORGET_S * 1000
        places[:] = [p for p in places if t - p.seen_ms <= forget_ms]
        if not len(b):
            return
        inner = (b[:, 9] == KIND_PERSON) & (b[:, 2] > 0) & (b[:, 3] > 0) & (b[:, 4] < 31) & (b[:, 5] < 23)
        taken = set()
        for i in np.flatnonzero(inner)[np.argsort(-b[inner, 6], kind="stable")]:
            col, row, n = float(b[i, 0]), float(b[i, 1]), float(b[i, 6])
            best, best_d = None, MATCH_PX
            for j, p in enumerate(places):
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
                if n <= p.pixels + GROW_PX and t - p.since_ms <= RESIDUAL_MAX_S * 1000:
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

    def _residual(self, b, i, place, col, row, t):
        b[i, 9] = KIND_RESIDUAL
        place.col, place.row, place.seen_ms = col, row, t
        self.marked += 1

    def _one_person(self, cam, col, row):
        x, y = self.fusion.models[cam].to_floor([col], [row], self.target_h)[0]
        if not np.isfinite(x):
            return 0.0
        return self.fusion.group_area(cam, x, y, 1)
