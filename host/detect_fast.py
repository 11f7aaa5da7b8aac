"""The numba twin of thermocc_shared.detect, for replaying many raw frames on the host.

Same algorithm, same order of operations and float32 storage as the shared detector
(which runs on the boards); tests/test_detect_twin.py proves the two give the same
blobs. Change both together or neither.
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
HIST_STEP = ref.HIST_STEP
HIST_LOW = ref.HIST_LOW

# Columns of FrameSummary rows (per frame): what Detector exposes after detect().
AMBIENT, OFFSET, FRAME_MIN, FRAME_MAX, FRAME_MEAN, WARM, COUNT, PEOPLE, HOT, SMALL, OVERFLOW = range(11)
SUMMARY_FIELDS = 11


@njit(cache=True)
def _median_offset(frame, bg, mask, hist):
    hist[:] = 0
    n = 0
    top = HIST_BINS - 1
    for i in range(PIXELS):
        if mask[i]:
            continue
        v = (np.float64(frame[i]) - np.float64(bg[i]) - HIST_LOW) / HIST_STEP
        if v < 1:
            k = 0
        elif v >= top:
            k = top
        else:
            k = int(v)
        hist[k] += 1
        n += 1
    if n == 0:
        return 0.0
    half = (n + 1) // 2
    seen = 0
    for k in range(HIST_BINS):
        seen += hist[k]
        if seen >= half:
            return HIST_LOW + (k + 0.5) * HIST_STEP
    return 0.0


@njit(cache=True)
def _prime(frame, bg, mask, hist):
    total = 0.0
    n = 0
    for i in range(PIXELS):
        if not mask[i]:
            total += np.float64(frame[i])
            n += 1
    level = total / n if n else 0.0
    for i in range(PIXELS):
        bg[i] = level
    level += _median_offset(frame, bg, mask, hist)
    for i in range(PIXELS):
        bg[i] = level


@njit(cache=True)
def _detect_one(frame, bg, mask, threshold, alpha, min_pixels, max_person, max_blobs,
                hist, excess, labels, stack, stats, summary):
    offset = _median_offset(frame, bg, mask, hist)
    fringe = threshold / 2
    lo = 1e9
    hi = -1e9
    total = 0.0
    bg_total = 0.0
    n = 0
    warm = 0
    for i in range(PIXELS):
        t = np.float64(frame[i])
        b = np.float64(bg[i])
        e = t - (b + offset)
        excess[i] = e
        if mask[i]:
            labels[i] = 0
            continue
        n += 1
        total += t
        bg_total += b
        if t < lo:
            lo = t
        if t > hi:
            hi = t
        if e > threshold:
            labels[i] = 1
            warm += 1
        else:
            labels[i] = 0
            if e < fringe:
                bg[i] = b + alpha * (t - b)
    if n:
        summary[FRAME_MIN] = lo
        summary[FRAME_MAX] = hi
        summary[FRAME_MEAN] = total / n
        summary[AMBIENT] = bg_total / n + offset
    else:
        summary[FRAME_MIN] = 0.0
        summary[FRAME_MAX] = 0.0
        summary[FRAME_MEAN] = 0.0
        summary[AMBIENT] = 0.0
    summary[OFFSET] = offset
    summary[WARM] = warm
    count = 0
    people = 0
    hot = 0
    small = 0
    overflow = 0
    if warm:
        for seed in range(PIXELS):
            if labels[seed] != 1:
                continue
            labels[seed] = 2
            stack[0] = seed
            top = 1
            sw = 0.0
            swx = 0.0
            swy = 0.0
            st = 0.0
            peak = -1e9
            c0 = COLS
            r0 = ROWS
            c1 = -1
            r1 = -1
            npix = 0
            while top:
                top -= 1
                p = stack[top]
                r = p // COLS
                c = p - r * COLS
                w = np.float64(excess[p])
                t = np.float64(frame[p])
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
                for dr in (-1, 0, 1):
                    rr = r + dr
                    if rr < 0 or rr >= ROWS:
                        continue
                    for dc in (-1, 0, 1):
                        cc = c + dc
                        if cc < 0 or cc >= COLS:
                            continue
                        q = rr * COLS + cc
                        if labels[q] == 1:
                            labels[q] = 2
                            stack[top] = q
                            top += 1
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
            stats[count, 7] = peak
            stats[count, 8] = st / npix
            if peak > max_person:
                stats[count, 9] = 1
                hot += 1
            else:
                stats[count, 9] = 0
                people += 1
            count += 1
    summary[COUNT] = count
    summary[PEOPLE] = people
    summary[HOT] = hot
    summary[SMALL] = small
    summary[OVERFLOW] = overflow


@njit(cache=True)
def _detect_frames(frames, bg, primed, mask, threshold, alpha, min_pixels, max_person, max_blobs,
                   stats, summary):
    hist = np.zeros(HIST_BINS, np.int64)
    excess = np.zeros(PIXELS, np.float32)
    labels = np.zeros(PIXELS, np.uint8)
    stack = np.zeros(PIXELS, np.int64)
    for f in range(frames.shape[0]):
        frame = frames[f]
        if not primed:
            _prime(frame, bg, mask, hist)
            primed = True
        _detect_one(frame, bg, mask, threshold, alpha, min_pixels, max_person, max_blobs,
                    hist, excess, labels, stack, stats[f], summary[f])
    return primed


class FastDetector:
    """Bulk detection with the settings and running state of one camera.

    detect_frames(frames) takes an (N, 768) array of C and returns (stats, summary):
    stats (N, max_blobs, STAT_FIELDS) float32 with rows laid out as in the shared
    detector, summary (N, SUMMARY_FIELDS) float64; the background carries over between calls.
    """

    def __init__(self, threshold_c=5.0, min_pixels=3, max_person_c=40.0, mask=None,
                 background_alpha=1 / 128, max_blobs=24):
        # Validation is the shared detector's: one set of rules for both.
        checked = ref.Detector(threshold_c, min_pixels, max_person_c, mask, background_alpha, max_blobs)
        self.threshold_c = checked.threshold_c
        self.min_pixels = checked.min_pixels
        self.max_person_c = checked.max_person_c
        self.background_alpha = checked.background_alpha
        self.max_blobs = checked.max_blobs
        self.mask = np.frombuffer(bytes(checked.mask), np.uint8).copy()
        self.background = np.zeros(PIXELS, np.float32)
        self.primed = False

    def detect_frames(self, frames):
        frames = np.ascontiguousarray(frames, dtype=np.float32).reshape(-1, PIXELS)
        n = frames.shape[0]
        stats = np.zeros((n, self.max_blobs, STAT_FIELDS), np.float32)
        summary = np.zeros((n, SUMMARY_FIELDS), np.float64)
        self.primed = _detect_frames(frames, self.background, self.primed, self.mask,
                                     self.threshold_c, self.background_alpha, self.min_pixels,
                                     self.max_person_c, self.max_blobs, stats, summary)
        return stats, summary
