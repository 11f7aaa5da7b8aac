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

import numpy as np
from numba import njit

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

# A camera's places are rows of a (MAX_PLACES, 6) array, the first `count` in use, oldest
# first: centroid (pixels), settled size (pixels), since when and last seen (ms), and
# whether it is residual heat (1.0). Matching them runs per frame, in numba (_match_places).
COL, ROW, PIXELS, SINCE_MS, SEEN_MS, RESIDUAL = range(6)
_NO_FRAME = np.zeros((0, 10))


class ResidualHeat:
    def __init__(self, room, fusion):
        self.fusion = fusion                 # BlobFusion: camera models and one person's area
        self.target_h = room.settings.target_height_m
        self.places = [np.zeros((MAX_PLACES, 6)) for _ in room.cameras]
        self.counts = [0] * len(room.cameras)
        # per camera: (t_ms, blobs) of its last frame, marked; None when it had no blob
        self.last = [None] * len(room.cameras)
        self._pending = np.empty((64, 2), np.int64)     # _match_places's output, grown as needed
        self.marked = 0                      # blobs marked residual, for the statistics

    def mark(self, cam, obs):
        """Mark the residual blobs of camera cam's observation obs (in place, kind column)."""
        b = obs.blobs
        t = float(obs.t_ms)
        places = self.places[cam]
        before, self.last[cam] = self.last[cam], None
        before_t, before_b = before if before is not None else (-np.inf, _NO_FRAME)
        if len(self._pending) < len(b):
            self._pending = np.empty((len(b), 2), np.int64)
        pending = self._pending
        self.counts[cam], marked, n_pending = _match_places(places, self.counts[cam], b, t, before_t, before_b,
                                                            pending)
        self.marked += marked
        # a settled place whose blob shrank: residual when it was a whole person's blob there
        # and what stays is not (one person's pixels there: BlobFusion's cached outline model)
        for i, j in pending[:n_pending].tolist() if n_pending else ():
            p = places[j]
            col, row, n = b[i, 0], b[i, 1], b[i, 6]
            one = self._one_person(cam, col, row)
            residual = bool(one and p[PIXELS] >= WHOLE * one and n < LONE_FRACTION * one)
            if residual:
                log.info("%s/%s: the blob at pixel (%.1f, %.1f) shrank from %.0f to %.0f pixels in place (one "
                         "person there: %.0f): residual heat of someone who left, not counted while it stays",
                         obs.node, obs.cam, col, row, p[PIXELS], n, one)
                b[i, 9] = KIND_RESIDUAL
                self.marked += 1
            p[:] = (col, row, n, t, t, float(residual))  # residual, or still a whole person: a new place
        if len(b):
            self.last[cam] = (t, b)

    def _one_person(self, cam, col, row):
        x, y = self.fusion.models[cam].to_floor([col], [row], self.target_h)[0]
        if not np.isfinite(x):
            return 0.0
        return self.fusion.group_area(cam, x, y, 1)


@njit(cache=True)
def _match_places(places, count, blobs, t, before_t, before, pending):
    """One frame of ResidualHeat.mark: forget places unseen for FORGET_S, then give each
    person blob inside the image (largest first, stable on ties) the nearest place within
    MATCH_PX not yet taken (the last, on a tie), and follow, mark or start places. A settled
    place whose blob shrank needs one person's pixels there, which the caller has: those
    (blob, place) pairs go to pending. Returns (places in use, blobs marked, pending)."""
    kept = 0
    for j in range(count):
        if t - places[j, SEEN_MS] <= FORGET_S * 1000:
            places[kept] = places[j]
            kept += 1
    count = kept
    order = np.empty(len(blobs), np.int64)
    m = 0
    for i in range(len(blobs)):
        r = blobs[i]
        if r[9] == KIND_PERSON and r[2] > 0 and r[3] > 0 and r[4] < 31 and r[5] < 23:
            k = m                            # insertion sort, largest first; equal sizes keep their order
            while k > 0 and blobs[order[k - 1], 6] < r[6]:
                order[k] = order[k - 1]
                k -= 1
            order[k] = i
            m += 1
    cols = places[:count, COL].copy()        # as they were: a place added or moved since is taken
    taken = np.zeros(MAX_PLACES, np.bool_)
    marked = 0
    n_pending = 0
    for q in range(m):
        i = order[q]
        col, row, n = blobs[i, 0], blobs[i, 1], blobs[i, 6]
        best, best_d = -1, MATCH_PX
        for j in range(len(cols)):
            if -MATCH_PX <= cols[j] - col <= MATCH_PX:
                d = math.hypot(places[j, COL] - col, places[j, ROW] - row)
                if not taken[j] and d <= best_d:
                    best, best_d = j, d
        if best < 0:
            if count < MAX_PLACES:
                _start(places[count], col, row, n, t)
                taken[count] = True
                count += 1
            continue
        taken[best] = True
        p = places[best]
        if p[RESIDUAL] > 0:
            if n <= p[PIXELS] + GROW_PX and t - p[SINCE_MS] <= RESIDUAL_MAX_S * 1000 and \
                    not (n > p[PIXELS] and _walked_in(before_t, before, blobs, i, t)):
                p[COL], p[ROW], p[SEEN_MS] = col, row, t
                blobs[i, 9] = KIND_RESIDUAL
                marked += 1
            else:                            # someone sits there again (or it has been too long)
                _start(p, col, row, n, t)
            continue
        if n > SHRINK * p[PIXELS]:           # the same blob: follow it
            p[COL], p[ROW], p[SEEN_MS] = col, row, t
            p[PIXELS] += SIZE_WEIGHT * (n - p[PIXELS])
        elif t - p[SINCE_MS] >= SETTLED_S * 1000:
            pending[n_pending, 0], pending[n_pending, 1] = i, best
            n_pending += 1
        else:                                # not settled yet: a new place
            _start(p, col, row, n, t)
    return count, marked, n_pending


@njit(cache=True)
def _start(p, col, row, n, t):
    p[COL], p[ROW], p[PIXELS], p[SINCE_MS], p[SEEN_MS], p[RESIDUAL] = col, row, n, t, t, 0.0


@njit(cache=True)
def _walked_in(before_t, before, blobs, i, t):
    """Whether a person blob of the camera's frame before (at before_t, blobs before),
    WALK_IN_S at most before t, was within ARRIVE_PX of blob i and has no blob but i near
    it now."""
    if t - before_t > WALK_IN_S * 1000:
        return False
    for q in range(len(before)):
        if before[q, 9] != KIND_PERSON:
            continue
        d = math.hypot(before[q, 0] - blobs[i, 0], before[q, 1] - blobs[i, 1])
        if MATCH_PX < d <= ARRIVE_PX:
            alone = True
            for o in range(len(blobs)):
                if o != i and math.hypot(blobs[o, 0] - before[q, 0], blobs[o, 1] - before[q, 1]) <= ARRIVE_PX:
                    alone = False
            if alone:
                return True
    return False
