# Where a frame becomes blobs. Runs unchanged on the board (MicroPython) and on the
# host (CPython); host/detect_fast.py is its numba twin for bulk replay, proven equal
# by tests/test_detect_twin.py. Keep the two in step: same order of operations, same
# float32 storage, so both give the same blobs.
#
# Method (docs/detection.md has the longer story). All per-pixel work is integer
# arithmetic on centi-degrees: MicroPython boxes every float result on the heap, small
# integers it does not, so this is ~3x cheaper on the board and exact on every
# interpreter (the numba twin matches it bit for bit).
# 1. Each frame is converted once to centi-degrees (int16 range, 0.01 C steps,
#    half-even rounding), in the same pass as the histogram of step 3. Frame min,
#    max and mean are over all pixels (C-level builtins on the integer array).
# 2. A per-pixel background B is learned slowly (fixed point, 1/256 centi-degree),
#    never under people.
# 3. The offset o = median over unmasked pixels of (T - B), from a 512-bin histogram
#    of 0.05 C bins, follows fast changes of the whole room (HVAC, sun behind a cloud);
#    people are a minority of pixels, so the median ignores them. Expected ambient per
#    pixel: B + o.
# 4. A pixel is warm when T - (B + o) > threshold (default 5 C) and it is not masked.
#    The reported ambient is the mean of the unmasked pixels that are not warm: the
#    room's background temperature now, people and hot objects left out.
# 5. Warm pixels are grouped 8-connected by an explicit-stack flood fill (no
#    recursion, preallocated); groups under min_pixels are dropped; groups whose peak
#    is above max_person_c are hot objects (kettle, radiator), not people.
# 6. Pixels clearly at background (excess < threshold / 2) pull B towards T by
#    2**-background_shift per frame; the fringe (threshold / 2 .. threshold) 16 times
#    more slowly, so a static warm patch is learned within minutes while a person's
#    edge is barely touched; warm pixels are never learned.
# The first frame primes B flat at its own median, so people present at power-up are
# still found, and the wall/vignetting pattern is learned within a few time constants.
from array import array

try:
    from micropython import const   # constants folded into the bytecode on the board
except ImportError:
    def const(x):
        return x

ROWS = const(24)
COLS = const(32)
PIXELS = const(768)

# One row of STAT_FIELDS floats per blob in Detector.stats.
CX = const(0)      # temperature-weighted centroid, column units (pixel centres at 0..31)
CY = const(1)      # same, row units (0..23)
COL0 = const(2)    # bounding box, inclusive
ROW0 = const(3)
COL1 = const(4)
ROW1 = const(5)
COUNT = const(6)   # pixels
PEAK = const(7)    # C
MEAN = const(8)    # C
KIND = const(9)    # KIND_PERSON or KIND_HOT
STAT_FIELDS = const(10)
KIND_PERSON = const(0)
KIND_HOT = const(1)

# Median of (T - B) by histogram: no sorting, no float objects, fixed memory.
HIST_BINS = const(512)
HIST_STEP_CD = const(5)                              # 0.05 C
HIST_LOW_CD = const(-1280)                    # -12.80 C: HIST_BINS * HIST_STEP_CD / 2 below 0
BG_FRAC = const(8)                                   # background fixed point: 1/256 centi-degree
# Pixels between threshold/2 and threshold over ambient (a person's fringe, or a warm
# patch appearing) are learned 2**FRINGE_SLOWDOWN_SHIFT times more slowly.
FRINGE_SLOWDOWN_SHIFT = const(4)
CD_MIN = const(-32768)
CD_MAX = const(32767)

_NEIGHBOURS = (-33, -32, -31, -1, 1, 31, 32, 33)   # 8-connected, as index offsets
_UNSEEN = const(1)   # labels: warm pixel not yet in a blob
_SEEN = const(2)


class DetectorConfigError(ValueError):
    pass


def centi(value):
    """C -> centi-degrees, half-even rounding (round() on every interpreter), clipped to int16.

    The detector's conversion loop is this function written inline (a call per pixel
    costs too much on the board); keep the two the same."""
    x = value * 100
    if x >= CD_MAX:
        return CD_MAX
    if x <= CD_MIN:
        return CD_MIN
    return round(x)


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


def _check_range(name, value, lo, hi, integer=False):
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi
            or (integer and not isinstance(value, int))):
        raise DetectorConfigError("%s must be %s from %s to %s, got %r"
                                  % (name, "a whole number" if integer else "a number", lo, hi, value))
    return value


class Detector:
    def __init__(self, threshold_c=5.0, min_pixels=3, max_person_c=40.0, mask=None,
                 background_shift=7, max_blobs=24):
        self.min_pixels = _check_range("min_pixels", min_pixels, 1, PIXELS, True)
        self.max_person_c = float(_check_range("max_person_c", max_person_c, 20, 200))
        self.max_person_cd = centi(self.max_person_c)
        # The background moves 2**-background_shift of the way to each new frame (7: 1/128).
        self.background_shift = _check_range("background_shift", background_shift, 0, 16, True)
        self.max_blobs = _check_range("max_blobs", max_blobs, 1, 200, True)
        if mask is None:
            mask = bytearray(PIXELS)
        elif len(mask) != PIXELS:
            raise DetectorConfigError("mask must have %d entries, got %d" % (PIXELS, len(mask)))
        self.mask = mask
        self.masked = array("H", [i for i in range(PIXELS) if mask[i]])
        self.unmasked = PIXELS - len(self.masked)
        self.background = array("i", bytes(4 * PIXELS))   # centi-degrees << BG_FRAC
        self.primed = False
        # Work buffers, allocated once.
        self.cd = array("h", bytes(2 * PIXELS))            # this frame in centi-degrees
        self._threshold = array("h", bytes(2 * PIXELS))    # per pixel; CD_MAX where masked
        self._excess = array("i", bytes(4 * PIXELS))
        self._labels = bytearray(PIXELS)
        self._labels_zero = bytes(PIXELS)
        self._stack = array("H", bytes(2 * PIXELS))
        self._hist = array("H", bytes(2 * HIST_BINS))
        self._hist_zero = array("H", bytes(2 * HIST_BINS))
        self.stats = array("f", bytes(4 * STAT_FIELDS * self.max_blobs))
        self.set_threshold(threshold_c)
        # Results of the last frame.
        self.count = 0          # blobs in stats (people and hot objects)
        self.people = 0
        self.hot = 0
        self.small = 0          # warm groups dropped for size
        self.overflow = 0       # blobs beyond max_blobs, not reported
        self.ambient_cd = 0     # mean of unmasked pixels that are not warm
        self.offset_cd = 0
        self.min_cd = 0         # frame statistics over all pixels
        self.max_cd = 0
        self.mean_cd = 0
        self.warm_pixels = 0
        self.frames = 0

    def set_threshold(self, threshold_c):
        self.threshold_c = float(_check_range("threshold_c", threshold_c, 0.5, 30))
        self.threshold_cd = centi(self.threshold_c)
        thr = self._threshold
        mask = self.mask
        for i in range(PIXELS):
            thr[i] = CD_MAX if mask[i] else self.threshold_cd

    # Results in C, for people reading them.
    @property
    def ambient(self):
        return self.ambient_cd / 100

    @property
    def frame_min(self):
        return self.min_cd / 100

    @property
    def frame_max(self):
        return self.max_cd / 100

    @property
    def frame_mean(self):
        return self.mean_cd / 100

    def reset_background(self):
        self.primed = False

    def _convert_and_offset(self, frame):
        # Frame -> centi-degrees (centi() inline), and the histogram of T - B in the
        # same pass; returns the median offset over unmasked pixels to 0.05 C (masked
        # pixels are taken out after).
        cd = self.cd
        bg = self.background
        hist = self._hist
        hist[0:HIST_BINS] = self._hist_zero
        top = HIST_BINS - 1
        low = HIST_LOW_CD
        for i in range(PIXELS):
            v = round(frame[i] * 100)
            if v > CD_MAX:
                v = CD_MAX
            elif v < CD_MIN:
                v = CD_MIN
            cd[i] = v
            k = (v - (bg[i] >> BG_FRAC) - low) // HIST_STEP_CD
            if k < 0:
                k = 0
            elif k > top:
                k = top
            hist[k] += 1
        for i in self.masked:
            k = (cd[i] - (bg[i] >> BG_FRAC) - low) // HIST_STEP_CD
            if k < 0:
                k = 0
            elif k > top:
                k = top
            hist[k] -= 1
        n = self.unmasked
        if n == 0:
            return 0
        half = (n + 1) // 2
        seen = 0
        for k in range(HIST_BINS):
            seen += hist[k]
            if seen >= half:
                return low + k * HIST_STEP_CD + HIST_STEP_CD // 2
        return 0

    def _prime(self, frame):
        # Flat start at the frame's unmasked mean, refined to its median. The first call
        # is for the conversion only (its offset is against an empty background).
        self._convert_and_offset(frame)
        bg = self.background
        cd = self.cd
        total = sum(cd)
        for i in self.masked:
            total -= cd[i]
        level = total // self.unmasked if self.unmasked else 0
        for i in range(PIXELS):
            bg[i] = level << BG_FRAC
        level += self._convert_and_offset(frame)
        for i in range(PIXELS):
            bg[i] = level << BG_FRAC
        self.primed = True

    def detect(self, frame):
        """Find the blobs of one frame (768 C, row-major 24 x 32); returns the blob count.

        The frame is an array('f') or a list of floats (numpy float32 scalars would do
        float32 arithmetic; the host uses its numba twin for numpy frames)."""
        if not self.primed:
            self._prime(frame)
        offset = self._convert_and_offset(frame)
        cd = self.cd
        fringe = self.threshold_cd // 2
        shift = self.background_shift
        slow = shift + FRINGE_SLOWDOWN_SHIFT
        thr = self._threshold
        bg = self.background
        excess = self._excess
        labels = self._labels
        labels[0:PIXELS] = self._labels_zero
        warm = 0
        for i in range(PIXELS):
            t = cd[i]
            b = bg[i]
            e = t - (b >> BG_FRAC) - offset
            if e > thr[i]:
                labels[i] = _UNSEEN
                excess[i] = e
                warm += 1
            elif e < fringe:
                bg[i] = b + (((t << BG_FRAC) - b) >> shift)
            else:
                # Masked pixels land here too: their background is never used.
                bg[i] = b + (((t << BG_FRAC) - b) >> slow)
        total = sum(cd)
        self.min_cd = min(cd)
        self.max_cd = max(cd)
        self.mean_cd = total // PIXELS
        self.offset_cd = offset
        self.warm_pixels = warm
        self.count = 0
        self.people = 0
        self.hot = 0
        self.small = 0
        self.overflow = 0
        warm_total = self._label() if warm else 0
        for i in self.masked:
            total -= cd[i]
        quiet = self.unmasked - warm
        self.ambient_cd = (total - warm_total) // quiet if quiet > 0 else 0
        self.frames += 1
        return self.count

    def _label(self):
        labels = self._labels
        stack = self._stack
        excess = self._excess
        cd = self.cd
        stats = self.stats
        min_pixels = self.min_pixels
        max_person = self.max_person_cd
        warm_total = 0
        for seed in range(PIXELS):
            if labels[seed] != _UNSEEN:
                continue
            labels[seed] = _SEEN
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
            count = 0
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
                count += 1
                for q in _NEIGHBOURS:
                    # Neighbours of p; those that wrap past the left/right edge or fall
                    # off the top/bottom are rejected by comparing rows and columns.
                    q += p
                    if q < 0 or q >= PIXELS or labels[q] != _UNSEEN:
                        continue
                    dc = (q & 31) - c
                    if dc > 1 or dc < -1:
                        continue
                    labels[q] = _SEEN
                    stack[top] = q
                    top += 1
            warm_total += st
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
            stats[j + PEAK] = peak / 100
            stats[j + MEAN] = st / count / 100
            if peak > max_person:
                stats[j + KIND] = KIND_HOT
                self.hot += 1
            else:
                stats[j + KIND] = KIND_PERSON
                self.people += 1
            self.count += 1
        return warm_total

    def blob(self, k):
        """Blob k of the last frame as a tuple (cx, cy, col0, row0, col1, row1, count, peak, mean, kind)."""
        j = k * STAT_FIELDS
        s = self.stats
        return (s[j + CX], s[j + CY], int(s[j + COL0]), int(s[j + ROW0]), int(s[j + COL1]),
                int(s[j + ROW1]), int(s[j + COUNT]), s[j + PEAK], s[j + MEAN], int(s[j + KIND]))
