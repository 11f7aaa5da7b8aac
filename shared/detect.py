# Where a frame becomes blobs. Runs unchanged on the board (MicroPython) and on the
# host (CPython); host/detect_fast.py is its numba twin for bulk replay, proven equal
# by tests/test_detect_twin.py. Keep the two in step: same order of operations, same
# float32 storage, so both give the same blobs.
#
# Method (docs/detection.md has the longer story):
# 1. A per-pixel background B (float32) is learned slowly, never under people.
# 2. Each frame, the offset o = median over unmasked pixels of (T - B) follows fast
#    changes of the whole room (HVAC, sun behind a cloud); people are a minority of
#    pixels, so the median ignores them. Expected ambient per pixel: B + o.
# 3. A pixel is warm when T - (B + o) > threshold (default 5 C) and it is not masked.
# 4. Warm pixels are grouped 8-connected by an explicit-stack flood fill (no
#    recursion, preallocated); groups under min_pixels are dropped; groups whose peak
#    is above max_person_c are hot objects (kettle, radiator), not people.
# 5. Pixels clearly at background (excess < threshold / 2) pull B towards T by
#    background_alpha per frame; warm pixels and their fringe are left alone.
# The first frame primes B flat at its own median, so people present at power-up are
# still found, and the wall/vignetting pattern is learned within a few time constants.
from array import array

ROWS = 24
COLS = 32
PIXELS = ROWS * COLS

# One row of STAT_FIELDS floats per blob in Detector.stats.
CX = 0      # temperature-weighted centroid, column units (pixel centres at 0..31)
CY = 1      # same, row units (0..23)
COL0 = 2    # bounding box, inclusive
ROW0 = 3
COL1 = 4
ROW1 = 5
COUNT = 6   # pixels
PEAK = 7    # C
MEAN = 8    # C
KIND = 9    # KIND_PERSON or KIND_HOT
STAT_FIELDS = 10
KIND_PERSON = 0
KIND_HOT = 1

# Median of (T - B) by histogram: no sorting, no float objects kept, fixed memory.
HIST_BINS = 512
HIST_STEP = 0.05
HIST_LOW = -HIST_BINS * HIST_STEP / 2   # -12.8 C

_UNSEEN = 1   # labels: warm pixel not yet in a blob
_SEEN = 2


class DetectorConfigError(ValueError):
    pass


def mask_from_rects(rects):
    """Pixel mask (bytearray, 1 = ignored) from [row0, col0, row1, col1] inclusive rectangles."""
    mask = bytearray(PIXELS)
    for n, rect in enumerate(rects or ()):
        if len(rect) != 4:
            raise DetectorConfigError("mask[%d]: expected [row0, col0, row1, col1], got %r" % (n, rect))
        r0, c0, r1, c1 = rect
        for v, hi in ((r0, ROWS), (r1, ROWS), (c0, COLS), (c1, COLS)):
            if not isinstance(v, int) or not 0 <= v < hi:
                raise DetectorConfigError("mask[%d]: rows must be 0..23 and columns 0..31, got %r"
                                          % (n, rect))
        if r1 < r0 or c1 < c0:
            raise DetectorConfigError("mask[%d]: row1/col1 must not be below row0/col0, got %r" % (n, rect))
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                mask[r * COLS + c] = 1
    return mask


def _check_range(name, value, lo, hi):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
        raise DetectorConfigError("%s must be a number from %s to %s, got %r" % (name, lo, hi, value))
    return value


class Detector:
    def __init__(self, threshold_c=5.0, min_pixels=3, max_person_c=40.0, mask=None,
                 background_alpha=1 / 128, max_blobs=24):
        self.set_threshold(threshold_c)
        self.min_pixels = int(_check_range("min_pixels", min_pixels, 1, PIXELS))
        self.max_person_c = float(_check_range("max_person_c", max_person_c, 20, 200))
        self.background_alpha = float(_check_range("background_alpha", background_alpha, 0, 1))
        self.max_blobs = int(_check_range("max_blobs", max_blobs, 1, 200))
        if mask is None:
            mask = bytearray(PIXELS)
        elif len(mask) != PIXELS:
            raise DetectorConfigError("mask must have %d entries, got %d" % (PIXELS, len(mask)))
        self.mask = mask
        self.background = array("f", bytes(4 * PIXELS))
        self.primed = False
        # Work buffers, allocated once.
        self._labels = bytearray(PIXELS)
        self._stack = array("H", bytes(2 * PIXELS))
        self._hist = array("H", bytes(2 * HIST_BINS))
        self._excess = array("f", bytes(4 * PIXELS))
        self.stats = array("f", bytes(4 * STAT_FIELDS * self.max_blobs))
        # Results of the last frame.
        self.count = 0          # blobs in stats (people and hot objects)
        self.people = 0
        self.hot = 0
        self.small = 0          # warm groups dropped for size
        self.overflow = 0       # blobs beyond max_blobs, not reported
        self.ambient = 0.0
        self.offset = 0.0
        self.frame_min = 0.0
        self.frame_max = 0.0
        self.frame_mean = 0.0
        self.warm_pixels = 0
        self.frames = 0

    def set_threshold(self, threshold_c):
        self.threshold_c = float(_check_range("threshold_c", threshold_c, 0.5, 30))

    def reset_background(self):
        self.primed = False

    def _median_offset(self, frame):
        # Median of frame - background over unmasked pixels, to HIST_STEP.
        hist = self._hist
        for k in range(HIST_BINS):
            hist[k] = 0
        mask = self.mask
        bg = self.background
        n = 0
        top = HIST_BINS - 1
        for i in range(PIXELS):
            if mask[i]:
                continue
            v = (frame[i] - bg[i] - HIST_LOW) / HIST_STEP
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

    def _prime(self, frame):
        # Flat start at the frame's unmasked mean, refined to its median in a second pass.
        bg = self.background
        mask = self.mask
        total = 0.0
        n = 0
        for i in range(PIXELS):
            if not mask[i]:
                total += frame[i]
                n += 1
        level = total / n if n else 0.0
        for i in range(PIXELS):
            bg[i] = level
        level += self._median_offset(frame)
        for i in range(PIXELS):
            bg[i] = level
        self.primed = True

    def detect(self, frame):
        """Find the blobs of one frame (768 C, row-major 24 x 32); returns the blob count."""
        if not self.primed:
            self._prime(frame)
        offset = self._median_offset(frame)
        threshold = self.threshold_c
        fringe = threshold / 2
        alpha = self.background_alpha
        mask = self.mask
        bg = self.background
        excess = self._excess
        labels = self._labels
        lo = 1e9
        hi = -1e9
        total = 0.0
        bg_total = 0.0
        n = 0
        warm = 0
        for i in range(PIXELS):
            t = frame[i]
            b = bg[i]
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
                labels[i] = _UNSEEN
                warm += 1
            else:
                labels[i] = 0
                if e < fringe:
                    bg[i] = b + alpha * (t - b)
        if n:
            self.frame_min = lo
            self.frame_max = hi
            self.frame_mean = total / n
            self.ambient = bg_total / n + offset
        else:
            self.frame_min = self.frame_max = self.frame_mean = self.ambient = 0.0
        self.offset = offset
        self.warm_pixels = warm
        self.count = 0
        self.people = 0
        self.hot = 0
        self.small = 0
        self.overflow = 0
        if warm:
            self._label(frame)
        self.frames += 1
        return self.count

    def _label(self, frame):
        labels = self._labels
        stack = self._stack
        excess = self._excess
        stats = self.stats
        min_pixels = self.min_pixels
        max_person = self.max_person_c
        for seed in range(PIXELS):
            if labels[seed] != _UNSEEN:
                continue
            labels[seed] = _SEEN
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
            count = 0
            while top:
                top -= 1
                p = stack[top]
                r = p // COLS
                c = p - r * COLS
                w = excess[p]
                t = frame[p]
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
                count += 1
                for dr in (-1, 0, 1):
                    rr = r + dr
                    if rr < 0 or rr >= ROWS:
                        continue
                    for dc in (-1, 0, 1):
                        cc = c + dc
                        if cc < 0 or cc >= COLS:
                            continue
                        q = rr * COLS + cc
                        if labels[q] == _UNSEEN:
                            labels[q] = _SEEN
                            stack[top] = q
                            top += 1
            if count < min_pixels:
                self.small += 1
                continue
            if self.count >= self.max_blobs:
                self.overflow += 1
                continue
            j = self.count * STAT_FIELDS
            stats[j + CX] = swx / sw
            stats[j + CY] = swy / sw
            stats[j + COL0] = c0
            stats[j + ROW0] = r0
            stats[j + COL1] = c1
            stats[j + ROW1] = r1
            stats[j + COUNT] = count
            stats[j + PEAK] = peak
            stats[j + MEAN] = st / count
            if peak > max_person:
                stats[j + KIND] = KIND_HOT
                self.hot += 1
            else:
                stats[j + KIND] = KIND_PERSON
                self.people += 1
            self.count += 1

    def blob(self, k):
        """Blob k of the last frame as a tuple (cx, cy, col0, row0, col1, row1, count, peak, mean, kind)."""
        j = k * STAT_FIELDS
        s = self.stats
        return (s[j + CX], s[j + CY], int(s[j + COL0]), int(s[j + ROW0]), int(s[j + COL1]),
                int(s[j + ROW1]), int(s[j + COUNT]), s[j + PEAK], s[j + MEAN], int(s[j + KIND]))
