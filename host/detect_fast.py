"""The numba twin of thermocc_shared.detect, for replaying many raw frames on the host.

Same algorithm and the same integer arithmetic on centi-degrees as the shared detector
(which runs on the boards), so the two agree exactly; tests/test_detect.py proves it
with a hypothesis property test. Change both together or neither.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from thermocc_shared import detect as ref

PIXELS = ref.PIXELS
ROWS = ref.ROWS
COLS = ref.COLS
STAT_FIELDS = ref.STAT_FIELDS
HIST_BINS = ref.HIST_BINS
HIST_STEP_CD = ref.HIST_STEP_CD
HIST_LOW_CD = ref.HIST_LOW_CD
assert HIST_LOW_CD == -HIST_BINS * HIST_STEP_CD // 2
BG_FRAC = ref.BG_FRAC
FRINGE_SLOWDOWN_SHIFT = ref.FRINGE_SLOWDOWN_SHIFT
CD_MIN = ref.CD_MIN
CD_MAX = ref.CD_MAX
MASKED_BG = ref._MASKED_BG
FOLLOW_STEP_MS = ref.FOLLOW_STEP_MS
RECENT_HIGH_MS = ref.RECENT_HIGH_MS
# The shared detector labels on a padded grid; the twin checks edges instead. Both give
# the same groups (8-connected) and, seeding in pixel order, the same blob order.
NEIGHBOURS = np.array((-33, -32, -31, -1, 1, 31, 32, 33), np.int64)

@njit(cache=True, inline="always")
def _beside(p, q):
    """Whether q (p plus one of NEIGHBOURS) is one of p's 8 neighbours in the image: not
    above its top row or below its bottom one, not wrapped round to the other end of a row."""
    dc = (q & 31) - (p & 31)
    return 0 <= q < PIXELS and -1 <= dc <= 1


# The warm-room rule and the learning step are the shared functions themselves, compiled:
# one implementation.
_contrast_threshold = njit(cache=True)(ref.contrast_threshold_cd)
_learning_shift = njit(cache=True)(ref.learning_shift)

# Columns of the per-frame summary: what the shared Detector exposes after detect()
# (temperatures in centi-degrees, as its *_cd attributes).
AMBIENT, OFFSET, FRAME_MIN, FRAME_MAX, FRAME_MEAN, WARM, COUNT, PEOPLE, HOT, SMALL, OVERFLOW = range(11)
SUMMARY_FIELDS = 11


@njit(cache=True)
def _convert_and_offset(frame, cd, bg, masked_sampled, sampled, hist):
    for i in range(PIXELS):
        x = np.float64(frame[i]) * 100
        if x >= CD_MAX:
            cd[i] = CD_MAX
        elif x <= CD_MIN:
            cd[i] = CD_MIN
        else:
            cd[i] = np.int64(np.rint(x))    # half-even, as Python's round()
    # The median of T - B over pixels of even index; masked ones sit in bin 0 (their
    # background is MASKED_BG) and are taken out as a count.
    hist[:] = 0
    top = HIST_BINS - 1
    for i in range(0, PIXELS, 2):
        k = (cd[i] - (bg[i] >> BG_FRAC) - HIST_LOW_CD) // HIST_STEP_CD
        if k < 0:
            k = 0
        elif k > top:
            k = top
        hist[k] += 1
    hist[0] -= masked_sampled
    if sampled == 0:
        return 0
    half = (sampled + 1) // 2
    seen = 0
    for k in range(HIST_BINS):
        seen += hist[k]
        if seen >= half:
            return HIST_LOW_CD + k * HIST_STEP_CD + HIST_STEP_CD // 2
    return 0


@njit(cache=True)
def _flat_background(bg, masked, level):
    for i in range(PIXELS):
        bg[i] = level << BG_FRAC
    for i in masked:
        bg[i] = MASKED_BG


@njit(cache=True)
def _prime(frame, cd, bg, masked, unmasked, masked_sampled, sampled, hist):
    _convert_and_offset(frame, cd, bg, masked_sampled, sampled, hist)   # for the conversion only
    total = np.int64(0)
    for i in range(PIXELS):
        total += cd[i]
    for i in masked:
        total -= cd[i]
    level = total // unmasked if unmasked else 0
    _flat_background(bg, masked, level)
    level += _convert_and_offset(frame, cd, bg, masked_sampled, sampled, hist)
    _flat_background(bg, masked, level)
    return level


@njit(cache=True)
def _follow_warming(cd, bg, held, mask, first_excess, offset, fringe, release, shift):
    """Step 7 of the shared detector (Detector._follow_warming)."""
    warmer = fringe << BG_FRAC
    gap = fringe - release
    for i in range(PIXELS):
        if not held[i]:
            first_excess[i] = 0
            continue
        b = bg[i]
        e = cd[i] - (b >> BG_FRAC) - offset
        if first_excess[i] == 0:
            first_excess[i] = e if e < CD_MAX else CD_MAX
            continue
        total = 0
        n = 0
        for d in NEIGHBOURS:
            q = i + d
            if not _beside(i, q) or held[q] or mask[q]:
                continue
            total += bg[q]
            n += 1
        if n == 0:
            continue
        around = total // n
        if around - b > warmer:
            target = (cd[i] - offset - first_excess[i] - gap) << BG_FRAC
            if target > b:
                b += (target - b) >> shift
                bg[i] = b if b < around else around


@njit(cache=True)
def _free_stranded(bg, high, held, mask, level, fringe, threshold, shift, min_pixels, labels, stack, members):
    """Step 8 of the shared detector (Detector._free_stranded and _island); returns the
    islands freed. labels: 1 raised and in no group, 2 in the island being looked at, 3
    round it."""
    labels[:] = 0
    raised = level + fringe
    found = 0
    for i in range(PIXELS):
        if mask[i]:
            continue
        b = bg[i] >> BG_FRAC
        h = high[i]
        high[i] = b if b >= h else h + ((b - h) >> shift)
        if b > raised and not held[i]:
            labels[i] = 1
            found += 1
    if found < min_pixels:
        return 0
    freed = 0
    warm = level + threshold
    for seed in range(PIXELS):
        if labels[seed] != 1:
            continue
        labels[seed] = 2
        stack[0] = seed
        top = 1
        n = 0
        border = False
        core = 0
        while top:
            top -= 1
            p = stack[top]
            members[n] = p
            n += 1
            r = p >> 5
            c = p & 31
            if r == 0 or r == ROWS - 1 or c == 0 or c == COLS - 1:
                border = True
            b = bg[p] >> BG_FRAC
            if b > warm and high[p] - b <= fringe:
                core += 1
            for d in NEIGHBOURS:
                q = p + d
                if not _beside(p, q) or labels[q] != 1:
                    continue
                labels[q] = 2
                stack[top] = q
                top += 1
        if border or core == 0 or n < min_pixels:
            continue
        around = 0
        fallen = 0
        total = 0
        for k in range(n):
            p = members[k]      # not on the border: its neighbours are all in the image
            for d in NEIGHBOURS:
                q = p + d
                if labels[q] != 0 or held[q] or mask[q]:
                    continue
                labels[q] = 3
                b = bg[q]
                total += b
                around += 1
                if high[q] - (b >> BG_FRAC) > fringe:
                    fallen += 1
        for k in range(n):
            p = members[k]
            for d in NEIGHBOURS:
                if labels[p + d] == 3:
                    labels[p + d] = 0
        if around == 0 or 3 * fallen < 2 * around:
            continue
        floor = total // around
        for k in range(n):
            p = members[k]
            bg[p] = floor
            high[p] = floor >> BG_FRAC
        freed += 1
    return freed


@njit(cache=True)
def _detect_one(frame, cd, bg, held, mask, first_excess, high, follow_shift, high_shift, masked, unmasked,
                masked_sampled, sampled, threshold, shift, min_pixels, max_person, max_blobs, hist, excess, labels,
                hot_zone, stack, stats, summary):
    """Returns the stranded islands freed (step 8)."""
    offset = _convert_and_offset(frame, cd, bg, masked_sampled, sampled, hist)
    fringe = threshold // 2
    release = threshold // 3        # the fringe of a pixel that was in a group last frame
    labels[:] = 0
    warm = 0
    for i in range(PIXELS):
        t = cd[i]
        b = bg[i]
        e = t - (b >> BG_FRAC) - offset
        if e > threshold:
            labels[i] = 1
            excess[i] = e
            warm += 1
        elif e < release or (e < fringe and not held[i]):
            bg[i] = b + (((t << BG_FRAC) - b) >> shift)
        else:
            labels[i] = 3               # fringe: joins a group that reaches it, never starts one
            excess[i] = e
    for i in masked:
        bg[i] = MASKED_BG
    total = np.int64(0)
    lo = CD_MAX
    hi = CD_MIN
    for i in range(PIXELS):
        total += cd[i]
        if cd[i] < lo:
            lo = cd[i]
        if cd[i] > hi:
            hi = cd[i]
    summary[FRAME_MIN] = lo
    summary[FRAME_MAX] = hi
    summary[FRAME_MEAN] = total // PIXELS
    summary[OFFSET] = offset
    summary[WARM] = warm
    count = 0
    people = 0
    hot = 0
    small = 0
    overflow = 0
    grouped_total = 0
    grouped = 0
    # The hot zone (pixels above max_person and the warm or fringe ones round them) is
    # grouped apart, after the people: pass 0 groups the rest, pass 1 the hot zone.
    hot_zone[:] = 0
    if hi > max_person:
        for i in range(PIXELS):
            if labels[i] != 1 or cd[i] <= max_person:
                continue
            hot_zone[i] = 1
            for d in NEIGHBOURS:
                q = i + d
                if _beside(i, q) and labels[q] != 0:
                    hot_zone[q] = 1
    for grouping in range((2 if hi > max_person else 1) if warm else 0):     # pass 1 only with a hot zone
        for seed in range(PIXELS):
            if labels[seed] != 1 or hot_zone[seed] != grouping:
                continue
            labels[seed] = 2
            stack[0] = seed
            top = 1
            sw = 0
            swx = 0
            swy = 0
            st = 0
            peak = CD_MIN
            c0 = COLS
            r0 = ROWS
            c1 = -1
            r1 = -1
            npix = 0
            while top:
                top -= 1
                p = stack[top]
                r = p >> 5
                c = p & 31
                w = excess[p]
                t = cd[p]
                sw += w
                swx += w * c
                swy += w * r
                st += t
                if t > peak:
                    peak = t
                if c < c0:
                    c0 = c
                if c > c1:
                    c1 = c
                if r < r0:
                    r0 = r
                if r > r1:
                    r1 = r
                npix += 1
                for d in NEIGHBOURS:
                    q = p + d
                    if not _beside(p, q) or (labels[q] != 1 and labels[q] != 3) or hot_zone[q] > grouping:
                        continue
                    labels[q] = 2
                    stack[top] = q
                    top += 1
            grouped_total += st
            grouped += npix
            if npix < min_pixels:
                small += 1
                continue
            if count >= max_blobs:
                overflow += 1
                continue
            stats[count, 0] = swx / sw
            stats[count, 1] = swy / sw
            stats[count, 2] = c0
            stats[count, 3] = r0
            stats[count, 4] = c1
            stats[count, 5] = r1
            stats[count, 6] = npix
            stats[count, 7] = peak / 100
            stats[count, 8] = st / npix / 100
            if peak > max_person:
                stats[count, 9] = 1
                hot += 1
            else:
                stats[count, 9] = 0
                people += 1
            count += 1
    # fringe pixels no group took (a warm patch appearing slowly) are learned slowly;
    # a group's pixels are part of someone, not learned, and held next frame
    slow = shift + FRINGE_SLOWDOWN_SHIFT
    for i in range(PIXELS):
        held[i] = labels[i] == 2
        if labels[i] == 3:
            b = bg[i]
            bg[i] = b + (((cd[i] << BG_FRAC) - b) >> slow)
    for i in masked:
        total -= cd[i]
    quiet = unmasked - grouped
    summary[AMBIENT] = (total - grouped_total) // quiet if quiet > 0 else 0
    summary[COUNT] = count
    summary[PEOPLE] = people
    summary[HOT] = hot
    summary[SMALL] = small
    summary[OVERFLOW] = overflow
    if follow_shift < 0:
        return 0
    _follow_warming(cd, bg, held, mask, first_excess, offset, fringe, release, follow_shift)
    # the label and stack buffers are free again; excess is reused for the island's pixels
    return _free_stranded(bg, high, held, mask, summary[AMBIENT] - offset, fringe, threshold, high_shift,
                          min_pixels, labels, stack, excess)


@njit(cache=True)
def _detect_frames(frames, bg, held, mask, first_excess, high, primed, masked, unmasked, masked_sampled, sampled,
                   threshold, contrast_pct, seen, background_ms, elapsed_ms, min_pixels, max_person, max_blobs, stats,
                   summary):
    """seen: [frames detected so far, ambient of the last one (the primed level before the
    first), ms since the last step-7 and 8 pass, stranded islands freed], carried between calls;
    elapsed_ms: per frame, the time since the camera's last frame."""
    hist = np.zeros(HIST_BINS, np.int64)
    cd = np.zeros(PIXELS, np.int64)
    excess = np.zeros(PIXELS, np.int64)
    labels = np.zeros(PIXELS, np.uint8)
    hot_zone = np.zeros(PIXELS, np.uint8)
    stack = np.zeros(PIXELS, np.int64)
    for f in range(frames.shape[0]):
        if not primed:
            seen[1] = _prime(frames[f], cd, bg, masked, unmasked, masked_sampled, sampled, hist)   # ambient
            held[:] = 0
            first_excess[:] = 0
            high[:] = seen[1]
            seen[2] = 0
            primed = True
        used = _contrast_threshold(threshold, contrast_pct, seen[1])
        shift = _learning_shift(background_ms, elapsed_ms[f])
        if elapsed_ms[f] > 0:
            seen[2] += elapsed_ms[f]
        follow_shift = -1
        high_shift = -1
        if seen[2] >= FOLLOW_STEP_MS:
            follow_shift = _learning_shift(background_ms, seen[2])
            high_shift = _learning_shift(RECENT_HIGH_MS, seen[2])
            seen[2] = 0
        seen[3] += _detect_one(frames[f], cd, bg, held, mask, first_excess, high, follow_shift, high_shift, masked,
                               unmasked, masked_sampled, sampled, used, shift, min_pixels, max_person, max_blobs, hist,
                               excess, labels, hot_zone, stack, stats[f], summary[f])
        seen[0] += 1
        seen[1] = summary[f, AMBIENT]
    return primed


class FastDetector:
    """Bulk detection with the settings and running state of one camera.

    detect_frames(frames, times_ms) takes an (N, 768) array of C and their capture times
    (ms; without them, frames are frame_ms apart) and returns (stats, summary):
    stats (N, max_blobs, STAT_FIELDS) float32 laid out as the shared detector's stats,
    summary (N, SUMMARY_FIELDS) int64 (centi-degrees and counts); the background carries
    over between calls.
    """

    def __init__(self, threshold_c=5.0, min_pixels=5, max_person_c=40.0, mask=None,
                 background_s=32, max_blobs=24, contrast=0.45, frame_ms=250):
        # Validation is the shared detector's: one set of rules for both.
        checked = ref.Detector(threshold_c, min_pixels, max_person_c, mask, background_s, max_blobs, contrast,
                               frame_ms)
        self.threshold_cd = checked.threshold_cd
        self.contrast_pct = checked.contrast_pct
        self.seen = np.zeros(4, np.int64)
        self.min_pixels = checked.min_pixels
        self.max_person_cd = checked.max_person_cd
        self.background_ms = checked.background_ms
        self.frame_ms = checked.frame_ms
        self.last_t_ms = None          # capture time of the last frame seen
        self.max_blobs = checked.max_blobs
        self.mask = np.frombuffer(bytes(checked.mask), np.uint8).copy()
        self.masked = np.flatnonzero(self.mask).astype(np.int64)
        self.unmasked = PIXELS - len(self.masked)
        self.masked_sampled = checked.masked_sampled
        self.sampled = checked.sampled
        self.background = np.zeros(PIXELS, np.int64)
        self.background[self.masked] = MASKED_BG
        self.held = np.zeros(PIXELS, np.uint8)    # pixels in a group last frame
        self.first_excess = np.zeros(PIXELS, np.int64)   # step 7: 0 while in no group
        self.recent_high = np.zeros(PIXELS, np.int64)    # step 8: centi-degrees
        self.primed = False

    @property
    def freed_islands(self):
        """Stranded warm islands freed so far (the shared detector's freed_islands)."""
        return int(self.seen[3])

    def detect_frames(self, frames, times_ms=None):
        frames = np.ascontiguousarray(frames, dtype=np.float32).reshape(-1, PIXELS)
        n = frames.shape[0]
        elapsed = np.full(n, self.frame_ms, np.int64)
        if times_ms is not None and n:
            times = np.asarray(times_ms, np.int64)
            elapsed[1:] = np.diff(times)
            if self.last_t_ms is not None:
                elapsed[0] = times[0] - self.last_t_ms
            self.last_t_ms = int(times[-1])
        stats = np.zeros((n, self.max_blobs, STAT_FIELDS), np.float32)
        summary = np.zeros((n, SUMMARY_FIELDS), np.int64)
        self.primed = _detect_frames(frames, self.background, self.held, self.mask, self.first_excess,
                                     self.recent_high, self.primed,
                                     self.masked, self.unmasked, self.masked_sampled, self.sampled, self.threshold_cd,
                                     self.contrast_pct, self.seen, self.background_ms, elapsed,
                                     self.min_pixels, self.max_person_cd, self.max_blobs, stats, summary)
        return stats, summary
