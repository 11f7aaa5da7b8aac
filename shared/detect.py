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
# 3. The offset o = median of (T - B) over the unmasked pixels of even index (half the
#    frame, both halves of the chess pattern), from a 512-bin histogram of 0.05 C bins,
#    follows fast changes of the whole room (HVAC, sun behind a cloud); people are a
#    minority of pixels, so the median ignores them. Expected ambient per pixel: B + o.
# 4. A pixel is warm when T - (B + o) > threshold (default 5 C) and it is not masked.
#    The reported ambient is the mean of the unmasked pixels in no group (step 5):
#    the room's background temperature now, people and hot objects left out. In a warm
#    room the threshold is lowered (contrast_threshold_cd, from the last frame's ambient,
#    the primed level on the first): people cannot read warmer than skin, so their excess
#    shrinks as the air nears 34 C.
# 5. Warm pixels are grouped 8-connected by an explicit-stack flood fill (no
#    recursion, preallocated, on a label grid padded by one cell so neighbours need no
#    edge tests), seeded from the warm pixels in index order, growing over warm and
#    fringe pixels (threshold / 2 .. threshold; hysteresis: a head above a cold coat
#    brings the coat along, a fringe with no warm pixel is never a group); groups under
#    min_pixels (default 5, fringe included) are dropped. Pixels above max_person_c
#    (kettle, radiator) and the warm or fringe pixels next to them (the hot thing's
#    partly covered edge) are grouped apart, as hot objects; the rest is grouped first,
#    as people: someone standing by the kettle is a person beside a hot object, not
#    part of it.
# 6. Pixels clearly at background (excess < threshold / 2) pull B towards T with a time
#    constant of background_s seconds (a shift per frame from the time since the last
#    one: learning_shift); fringe pixels no group took (a warm patch appearing slowly)
#    16 times more slowly; pixels in a group, warm or fringe, never: a person who sits
#    for hours stays whole. A pixel that was in a group the frame before is let go
#    only below threshold / 3 (until then it is fringe): a person's edge pixel hovers
#    near threshold / 2, and one noisy frame under it would learn it for good (at 28 C
#    the fringe is 1.2 C, a few times the pixel noise).
# 7. Every FOLLOW_STEP_MS of room time, a pixel that has stayed in a group and whose
#    surroundings (unmasked neighbours in no group) have a background warmer than its
#    own by more than the fringe (a sun patch has arrived round a sitter) has its
#    background raised, at the background's rate, towards its reading less the excess
#    it had when a group first took it (less the release gap, so noise cannot ratchet
#    it up), never above the surroundings' and never down. The floor it half shows
#    warms with the sun, the person it half shows does not: without this the pixel
#    reads the floor's warming as excess, and when its person leaves it stays a warm
#    ghost of them until the sun moves on.
# 8. At the same passes, a stranded warm island is freed: 8-connected pixels in no group
#    whose background is over the room's by more than the fringe, at least one of them
#    over it by the threshold and not fallen since (its recent high, a memory of about an
#    hour, is within the fringe of it), not touching the image border, of min_pixels or
#    more, where at least two thirds of the pixels round it (in no group, unmasked) have
#    fallen by more than the fringe from their recent high. Its background is set to the
#    mean of theirs. This is someone who sat down on floor the sun had warmed to their own
#    temperature (learned at once: they read as the floor did), and stays as warm when
#    the sun moves on while the floor round them cools. A sun patch that moves on has
#    floor round it the sun has not reached yet; one the image border cuts hides that side.
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
HIST_BLOCK = const(32)                               # bins summed at once by the median search
HIST_LOW_CD = const(-1280)                    # -12.80 C: HIST_BINS * HIST_STEP_CD / 2 below 0
BG_FRAC = const(8)                                   # background fixed point: 1/256 centi-degree
# Pixels between threshold/2 and threshold over ambient that no group takes (a warm
# patch appearing) are learned 2**FRINGE_SLOWDOWN_SHIFT times more slowly.
FRINGE_SLOWDOWN_SHIFT = const(4)
MAX_SHIFT = const(16)
CD_MIN = const(-32768)
CD_MAX = const(32767)
_NOT_INT16 = const(-65536)     # bits that are set when v - CD_MIN is outside 0..65535
_NOT_BIN = const(-512)        # bits set when a bin index is outside 0..HIST_BINS-1
# Background of masked pixels, far above any reading: T - B is always below -1000 C,
# so they are never warm and always land in histogram bin 0.
_MASKED_BG = const(25600000)    # 100000 centi-degrees << BG_FRAC

# How often (ms of room time) pixels held in a group follow the warming round them (step 7)
# and stranded warm islands are freed (step 8).
FOLLOW_STEP_MS = const(16000)
# Step 8's memory of each pixel's recent high background: it falls back towards the
# background with this time constant (ms of room time; about an hour in power-of-two
# steps), so floor the sun left within the last hour or two counts as fallen.
RECENT_HIGH_MS = const(7200000)

# Labels live on a grid padded by one cell all round (26 x 34), so the 8 neighbours of
# any pixel are plain index offsets with no edge tests; the border is never warm.
_PAD_COLS = const(34)
_PAD_CELLS = const(884)          # 26 * 34
_PAD_FIRST = const(35)           # padded index of pixel 0: one row and one column in
# 8-connected neighbours are the padded offsets -35, -34, -33, -1, +1, +33, +34, +35.
_AROUND = (-35, -34, -33, -1, 0, 1, 33, 34, 35)    # a pixel and its neighbours
# Padded index -> pixel index (border cells map to 0; they are never labelled).
_UNPAD = array("H", bytes(2 * _PAD_CELLS))
for _p in range(PIXELS):
    _UNPAD[_p + _PAD_FIRST + ((_p >> 5) << 1)] = _p
del _p
_LABELS_ZERO = bytes(_PAD_CELLS)                  # to clear buffers without a loop
_HELD_ZERO = bytes(PIXELS)
_HIST_ZERO = array("H", bytes(2 * HIST_BINS))
_UNSEEN = const(1)   # labels: warm or fringe pixel not yet in a blob (0 once taken)
_ISLAND = const(2)   # step 8's labels: in the island being looked at
_AROUND_ISLAND = const(3)   # and round it (counted once)


# People read between the air and skin temperature: clothing shows about half of the
# difference (more with bare skin, less with a coat), the face about 0.8 of it.
SKIN_CD = const(3400)
MIN_THRESHOLD_CD = const(150)     # 1.5 C: several times the pixel noise at 4-8 Hz


def contrast_threshold_cd(threshold_cd, contrast_pct, ambient_cd):
    """The warm threshold for a room at ambient_cd (centi-degrees): the configured one,
    or contrast_pct % of (skin - ambient) where that is lower (a warm room), never below
    MIN_THRESHOLD_CD. contrast_pct 0 keeps the configured threshold at any ambient."""
    if contrast_pct <= 0:
        return threshold_cd
    t = (SKIN_CD - ambient_cd) * contrast_pct // 100
    if t < MIN_THRESHOLD_CD:
        t = MIN_THRESHOLD_CD
    return t if t < threshold_cd else threshold_cd


def learning_shift(background_ms, elapsed_ms):
    """The background's step for a frame elapsed_ms after the last: B moves 2**-shift of
    the way, with 2**shift the largest power of two not above background_ms / elapsed_ms.
    The time constant is in room time, not frames: a board at 4 Hz and a replay of one
    frame every 30 s learn a slow change alike."""
    if elapsed_ms <= 0:
        return MAX_SHIFT
    ratio = background_ms // elapsed_ms
    shift = 0
    while ratio > 1 and shift < MAX_SHIFT:
        ratio >>= 1
        shift += 1
    return shift


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


class WorkBuffers:
    """The buffers one frame's detection works in (7.1 KB), nothing in them carried to the
    next frame. Detectors given the same WorkBuffers share them: a board detects one frame
    at a time, so its cameras need one set (device/node.py). Such detectors must not run
    detect() at the same time (threads), and one's cd is the last frame any of them saw."""

    def __init__(self):
        self.cd = array("h", bytes(2 * PIXELS))            # a frame in centi-degrees
        self.warm = array("H", bytes(2 * PIXELS))          # its warm pixels from the start,
        # its fringe pixels from the end (together at most PIXELS); step 8's island
        self.labels = bytearray(_PAD_CELLS)                # padded grid, see _PAD_COLS
        self.hot_zone = bytearray(PIXELS)                  # 1: hot or beside a hot pixel (step 5)
        self.stack = array("H", bytes(2 * PIXELS))         # padded indices
        self.hist = array("H", bytes(2 * HIST_BINS))


class Detector:
    def __init__(self, threshold_c=5.0, min_pixels=5, max_person_c=40.0, mask=None,
                 background_s=32, max_blobs=24, contrast=0.45, frame_ms=250, work=None):
        # contrast: the warm-room rule's share of (skin - ambient); 0 turns it off.
        self.contrast_pct = int(round(100 * _check_range("contrast", contrast, 0, 1)))
        self.min_pixels = _check_range("min_pixels", min_pixels, 1, PIXELS, True)
        self.max_person_c = float(_check_range("max_person_c", max_person_c, 20, 200))
        self.max_person_cd = centi(self.max_person_c)
        # The background's time constant (s of room time); frame_ms is the frame interval
        # assumed when detect() is not told the time since the last frame.
        self.background_ms = int(1000 * _check_range("background_s", background_s, 0.1, 86400))
        self.frame_ms = _check_range("frame_ms", frame_ms, 1, 3600000, True)
        self.background_shift = learning_shift(self.background_ms, frame_ms)   # of the last frame
        self.max_blobs = _check_range("max_blobs", max_blobs, 1, 200, True)
        if mask is None:
            mask = bytearray(PIXELS)
        elif len(mask) != PIXELS:
            raise DetectorConfigError("mask must have %d entries, got %d" % (PIXELS, len(mask)))
        self.mask = mask
        self.masked = array("H", [i for i in range(PIXELS) if mask[i]])
        self.unmasked = PIXELS - len(self.masked)
        self.masked_sampled = len([i for i in self.masked if not i & 1])   # in the offset's sample
        self.sampled = PIXELS // 2 - self.masked_sampled
        self.background = array("i", bytes(4 * PIXELS))   # centi-degrees << BG_FRAC
        for i in self.masked:
            self.background[i] = _MASKED_BG
        self.primed = False
        # Work buffers: this detector's own, or shared with the board's other cameras.
        if work is None:
            work = WorkBuffers()
        self.cd = work.cd                                  # this frame in centi-degrees
        self._warm = work.warm
        self._labels = work.labels
        self._hot_zone = work.hot_zone
        self._stack = work.stack
        self._hist = work.hist
        # Carried from frame to frame.
        self._held = bytearray(PIXELS)                     # 1: in a group last frame (step 6)
        # step 7: a held pixel's excess (centi-degrees) at the first pass it was in a group;
        # 0 while it is in none (a grouped pixel's excess is at least the release level)
        self._first_excess = array("h", bytes(2 * PIXELS))
        self._since_follow_ms = 0
        # step 8: each pixel's recent high background (centi-degrees)
        self._recent_high = array("h", bytes(2 * PIXELS))
        self.freed_islands = 0     # stranded warm islands freed since start (step 8)
        self.stats = array("f", bytes(4 * STAT_FIELDS * self.max_blobs))
        self.set_threshold(threshold_c)
        # Results of the last frame.
        self.count = 0          # blobs in stats (people and hot objects)
        self.people = 0
        self.hot = 0
        self.small = 0          # warm groups dropped for size
        self.overflow = 0       # blobs beyond max_blobs, not reported
        self.ambient_cd = 0     # mean of the unmasked pixels in no group
        self.used_threshold_cd = 0   # the threshold of the last frame (after the warm-room rule)
        self.offset_cd = 0
        self.min_cd = 0         # frame statistics over all pixels
        self.max_cd = 0
        self.mean_cd = 0
        self.warm_pixels = 0
        self.grouped_pixels = 0  # pixels in warm groups (warm and the fringe they reach)
        self.frames = 0

    def set_threshold(self, threshold_c):
        self.threshold_c = float(_check_range("threshold_c", threshold_c, 0.5, 30))
        self.threshold_cd = centi(self.threshold_c)

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
        # Frame -> centi-degrees (centi() inline) and, in the same pass, the histogram of
        # T - B over every second pixel (even indices: both halves of the sensor's chess
        # pattern); returns its median to 0.05 C. Half the pixels give the same median
        # to well within a bin and save a third of this pass on the board. Masked pixels
        # sit on a background far above any reading (_MASKED_BG), so they all fall in
        # bin 0 and are taken out of it as a count.
        cd = self.cd
        bg = self.background
        hist = self._hist
        hist[0:HIST_BINS] = _HIST_ZERO
        top = HIST_BINS - 1
        low = HIST_LOW_CD
        rnd = round       # a local: a global lookup per pixel costs on the board
        for i in range(0, PIXELS, 2):
            v = rnd(frame[i] * 100)
            if (v - CD_MIN) & _NOT_INT16:          # one test for both ends (rarely true)
                v = CD_MAX if v > CD_MAX else CD_MIN
            cd[i] = v
            k = (v - (bg[i] >> BG_FRAC) - low) // HIST_STEP_CD
            if k & _NOT_BIN:
                k = top if k > top else 0
            hist[k] += 1
            v = rnd(frame[i + 1] * 100)
            if (v - CD_MIN) & _NOT_INT16:
                v = CD_MAX if v > CD_MAX else CD_MIN
            cd[i + 1] = v
        hist[0] -= self.masked_sampled
        n = self.sampled
        if n == 0:
            return 0
        half = (n + 1) // 2
        # Whole blocks of bins are summed by the C builtin over a memoryview (no copy);
        # only the block holding the median is walked bin by bin.
        view = memoryview(hist)
        seen = 0
        for base in range(0, HIST_BINS, HIST_BLOCK):
            block = sum(view[base:base + HIST_BLOCK])
            if seen + block >= half:
                for k in range(base, base + HIST_BLOCK):
                    seen += hist[k]
                    if seen >= half:
                        return low + k * HIST_STEP_CD + HIST_STEP_CD // 2
            seen += block
        return 0

    def _flat_background(self, level):
        bg = self.background
        for i in range(PIXELS):
            bg[i] = level << BG_FRAC
        for i in self.masked:
            bg[i] = _MASKED_BG

    def _prime(self, frame):
        # Flat start at the frame's unmasked mean, refined to its median. The first call
        # is for the conversion only (its offset is against an empty background).
        self._convert_and_offset(frame)
        cd = self.cd
        total = sum(cd)
        for i in self.masked:
            total -= cd[i]
        level = total // self.unmasked if self.unmasked else 0
        self._flat_background(level)
        level += self._convert_and_offset(frame)
        self._flat_background(level)
        self.ambient_cd = level
        self._held[0:PIXELS] = _HELD_ZERO
        first = self._first_excess
        high = self._recent_high
        for i in range(PIXELS):
            first[i] = 0
            high[i] = level
        self._since_follow_ms = 0
        self.primed = True

    def detect(self, frame, elapsed_ms=None):
        """Find the blobs of one frame (768 C, row-major 24 x 32); returns the blob count.
        elapsed_ms: time since the camera's last frame (frame_ms when not given).

        The frame is an array('f') or a list of floats (numpy float32 scalars would do
        float32 arithmetic; the host uses its numba twin for numpy frames)."""
        if not self.primed:
            self._prime(frame)      # the ambient is taken as the level it primes at
        offset = self._convert_and_offset(frame)
        cd = self.cd
        # the room's ambient: the last frame's, or the primed level on the first frame (a
        # 28 C room's people fall under the unlowered threshold: its first frame found 2 of 10)
        threshold = contrast_threshold_cd(self.threshold_cd, self.contrast_pct, self.ambient_cd)
        self.used_threshold_cd = threshold
        fringe = threshold // 2
        release = threshold // 3        # a grouped pixel's fringe (step 6)
        if elapsed_ms is None:
            elapsed_ms = self.frame_ms
        shift = self.background_shift = learning_shift(self.background_ms, elapsed_ms)
        # Compared in the background's fixed point, d = (T << BG_FRAC) - B, which the
        # update needs anyway, with the offset folded into the two limits. Exactly the
        # twin's tests on e = T - (B >> BG_FRAC) - o:
        #   e > threshold  <=>  d > (threshold + o) << BG_FRAC
        #   e < fringe     <=>  d < ((fringe + o - 1) << BG_FRAC) + 1   (and so for release)
        warm_above = (threshold + offset) << BG_FRAC
        fringe_below = ((fringe + offset - 1) << BG_FRAC) + 1
        release_below = ((release + offset - 1) << BG_FRAC) + 1
        bg = self.background
        held = self._held
        warm_list = self._warm
        # Warm and fringe pixels are marked on the padded label grid as they are found
        # (the row's padding is (i >> 5) << 1); grouping starts from the warm ones.
        labels = self._labels
        labels[0:_PAD_CELLS] = _LABELS_ZERO
        warm = 0
        edge = PIXELS           # fringe pixels are listed from the end of warm_list down
        for i in range(PIXELS):
            b = bg[i]
            d = (cd[i] << BG_FRAC) - b
            # Background first: most pixels are, and it takes one test. Masked pixels land
            # here (far below their background) and are reset below.
            if d < release_below or (d < fringe_below and not held[i]):
                bg[i] = b + (d >> shift)
            elif d > warm_above:
                warm_list[warm] = i
                warm += 1
                labels[i + _PAD_FIRST + ((i >> 5) << 1)] = _UNSEEN
            else:
                edge -= 1
                warm_list[edge] = i
                labels[i + _PAD_FIRST + ((i >> 5) << 1)] = _UNSEEN
        for i in self.masked:
            bg[i] = _MASKED_BG
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
        self.grouped_pixels = 0
        # Last frame's held pixels are read; _label marks this frame's (every pixel it puts
        # in a group).
        held[0:PIXELS] = _HELD_ZERO
        grouped_total = 0
        if warm:
            if self.max_cd > self.max_person_cd and self._set_hot_zone(warm):
                grouped_total = self._label(warm)      # people: the hot zone is out of their reach
                self._restore_hot_zone(warm, edge)     # then the hot objects
            grouped_total += self._label(warm)
        # Fringe pixels a group took have their labels cleared: they are part of someone.
        # The rest (a warm patch appearing slowly) is learned at the slow rate. Groups hold
        # every warm pixel, so when they hold as many more as there are fringe pixels,
        # none is left and the pass is skipped (the usual case with people about).
        if self.grouped_pixels - warm < PIXELS - edge:
            slow = shift + FRINGE_SLOWDOWN_SHIFT
            for n in range(edge, PIXELS):
                i = warm_list[n]
                if labels[i + _PAD_FIRST + ((i >> 5) << 1)]:
                    b = bg[i]
                    bg[i] = b + (((cd[i] << BG_FRAC) - b) >> slow)
        for i in self.masked:
            total -= cd[i]
        quiet = self.unmasked - self.grouped_pixels
        self.ambient_cd = (total - grouped_total) // quiet if quiet > 0 else 0
        if elapsed_ms > 0:
            self._since_follow_ms += elapsed_ms
        if self._since_follow_ms >= FOLLOW_STEP_MS:
            self._follow_warming(offset, fringe, release,
                                 learning_shift(self.background_ms, self._since_follow_ms))
            self._free_stranded(self.ambient_cd - offset, fringe, threshold,
                                learning_shift(RECENT_HIGH_MS, self._since_follow_ms))
            self._since_follow_ms = 0
        self.frames += 1
        return self.count

    def _follow_warming(self, offset, fringe, release, shift):
        # Step 7. Runs every FOLLOW_STEP_MS, not every frame: the neighbour sums cost, and
        # a sun patch warms the floor over minutes.
        held = self._held
        first = self._first_excess
        bg = self.background
        cd = self.cd
        mask = self.mask
        warmer = fringe << BG_FRAC
        gap = fringe - release
        for i in range(PIXELS):
            if not held[i]:
                first[i] = 0
                continue
            b = bg[i]
            e = cd[i] - (b >> BG_FRAC) - offset
            if not first[i]:                # newly in a group: remember its excess
                first[i] = e if e < CD_MAX else CD_MAX
                continue
            r = i >> 5
            c = i & 31
            total = 0
            n = 0
            for row in range(r - 1 if r else 0, r + 2 if r < ROWS - 1 else r + 1):
                for q in range((row << 5) + (c - 1 if c else 0), (row << 5) + (c + 2 if c < COLS - 1 else c + 1)):
                    if not held[q] and not mask[q]:
                        total += bg[q]
                        n += 1
            if not n:
                continue
            around = total // n
            if around - b > warmer:
                target = (cd[i] - offset - first[i] - gap) << BG_FRAC
                if target > b:
                    b += (target - b) >> shift
                    bg[i] = b if b < around else around

    def _free_stranded(self, level, fringe, threshold, shift):
        # Step 8. level: the room's background now (the ambient less the offset). Updates
        # every pixel's recent high, marks the raised pixels in no group on the label grid
        # (free until the next frame) and looks at each island they make.
        bg = self.background
        high = self._recent_high
        held = self._held
        mask = self.mask
        labels = self._labels
        labels[0:_PAD_CELLS] = _LABELS_ZERO
        raised = level + fringe
        found = 0
        for i in range(PIXELS):
            if mask[i]:
                continue
            b = bg[i] >> BG_FRAC
            h = high[i]
            high[i] = b if b >= h else h + ((b - h) >> shift)
            if b > raised and not held[i]:
                labels[i + _PAD_FIRST + ((i >> 5) << 1)] = _UNSEEN
                found += 1
        if found < self.min_pixels:
            return
        for i in range(PIXELS):
            if labels[i + _PAD_FIRST + ((i >> 5) << 1)] == _UNSEEN:
                self._island(i, level, fringe, threshold)

    def _island(self, seed, level, fringe, threshold):
        # One island of step 8, from its first pixel: gathered by flood fill into _warm
        # (free until the next frame), then the pixels round it are counted once each
        # (marked, then unmarked: another island may share them).
        labels = self._labels
        stack = self._stack
        members = self._warm
        bg = self.background
        high = self._recent_high
        held = self._held
        mask = self.mask
        unpad = _UNPAD
        q = seed + _PAD_FIRST + ((seed >> 5) << 1)
        labels[q] = _ISLAND
        stack[0] = q
        top = 1
        n = 0
        border = False
        core = 0
        warm = level + threshold
        while top:
            top -= 1
            pp = stack[top]
            members[n] = pp
            n += 1
            p = unpad[pp]
            r = p >> 5
            c = p & 31
            if r == 0 or r == ROWS - 1 or c == 0 or c == COLS - 1:
                border = True
            b = bg[p] >> BG_FRAC
            if b > warm and high[p] - b <= fringe:
                core += 1
            for d in _AROUND:
                q = pp + d
                if labels[q] == _UNSEEN:
                    labels[q] = _ISLAND
                    stack[top] = q
                    top += 1
        # the border cuts off what is round it; pixels round a border-free island are all
        # in the image
        if border or not core or n < self.min_pixels:
            return
        around = 0
        fallen = 0
        total = 0
        for k in range(n):
            pp = members[k]
            for d in _AROUND:
                q = pp + d
                if labels[q]:
                    continue
                p = unpad[q]
                if held[p] or mask[p]:
                    continue
                labels[q] = _AROUND_ISLAND
                b = bg[p]
                total += b
                around += 1
                if high[p] - (b >> BG_FRAC) > fringe:
                    fallen += 1
        for k in range(n):
            pp = members[k]
            for d in _AROUND:
                if labels[pp + d] == _AROUND_ISLAND:
                    labels[pp + d] = 0
        if not around or 3 * fallen < 2 * around:
            return
        floor = total // around
        for k in range(n):
            p = unpad[members[k]]
            bg[p] = floor
            high[p] = floor >> BG_FRAC
        self.freed_islands += 1

    def _set_hot_zone(self, warm):
        # Hot pixels (warm, above max_person) and the warm or fringe pixels round them are
        # the hot zone: taken off the label grid so people's groups cannot reach them.
        # Returns whether there is one. Only on frames with a pixel above max_person.
        cd = self.cd
        labels = self._labels
        warm_list = self._warm
        zone = self._hot_zone
        max_person = self.max_person_cd
        found = False
        for n in range(warm):
            i = warm_list[n]
            if cd[i] > max_person:
                found = True
                pp = i + _PAD_FIRST + ((i >> 5) << 1)
                for d in _AROUND:
                    q = pp + d
                    if labels[q]:
                        labels[q] = 0
                        zone[_UNPAD[q]] = 1
        return found

    def _restore_hot_zone(self, warm, edge):
        # Puts the hot zone back on the label grid (every warm or fringe pixel is listed
        # in _warm) for the hot objects' grouping, and clears it for the next frame.
        labels = self._labels
        warm_list = self._warm
        zone = self._hot_zone
        for first, end in ((0, warm), (edge, PIXELS)):
            for n in range(first, end):
                i = warm_list[n]
                if zone[i]:
                    zone[i] = 0
                    labels[i + _PAD_FIRST + ((i >> 5) << 1)] = _UNSEEN

    def _label(self, warm):
        # Seeds are the warm pixels in index order, so blobs come out in the order of
        # their first warm pixel (row-major), as the twin reports them (with a hot zone,
        # people's groups first, then the hot objects'). Groups grow over the warm and
        # fringe pixels detect() marked (hysteresis): a head above a cold coat brings the
        # coat along, while fringe pixels with no warm pixel among them are never a
        # group. A pixel's weight is its excess over the background (pixels in a group
        # are not learned). Adds to grouped_pixels; returns the sum of the readings of
        # the pixels it grouped.
        labels = self._labels
        warm_list = self._warm
        stack = self._stack
        held = self._held
        bg = self.background
        offset = self.offset_cd
        cd = self.cd
        stats = self.stats
        unpad = _UNPAD
        min_pixels = self.min_pixels
        max_person = self.max_person_cd
        grouped_total = 0
        grouped = 0
        for n in range(warm):
            seed = warm_list[n]
            q = seed + _PAD_FIRST + ((seed >> 5) << 1)
            if not labels[q]:
                continue
            labels[q] = 0
            stack[0] = q
            top = 1
            sw = 0
            swx = 0
            swp = 0         # sum of w * pixel index: the row sum is (swp - swx) / 32, exactly
            st = 0
            peak = CD_MIN
            c0 = COLS
            p0 = PIXELS     # first and last pixel index: their rows bound the blob
            c1 = -1
            p1 = -1
            count = 0
            while top:
                top -= 1
                pp = stack[top]
                p = unpad[pp]
                held[p] = 1
                c = p & 31
                t = cd[p]
                w = t - (bg[p] >> BG_FRAC) - offset
                sw += w
                swx += w * c
                swp += w * p
                st += t
                if t > peak:
                    peak = t
                if c < c0:
                    c0 = c
                if c > c1:
                    c1 = c
                if p < p0:
                    p0 = p
                if p > p1:
                    p1 = p
                count += 1
                # The 8 neighbours, written out: a loop over them costs a third more here.
                # A label is cleared when its pixel is taken, so the test is its truth.
                if labels[pp - 35]:
                    q = pp - 35
                    labels[q] = 0
                    stack[top] = q
                    top += 1
                if labels[pp - 34]:
                    q = pp - 34
                    labels[q] = 0
                    stack[top] = q
                    top += 1
                if labels[pp - 33]:
                    q = pp - 33
                    labels[q] = 0
                    stack[top] = q
                    top += 1
                if labels[pp - 1]:
                    q = pp - 1
                    labels[q] = 0
                    stack[top] = q
                    top += 1
                if labels[pp + 1]:
                    q = pp + 1
                    labels[q] = 0
                    stack[top] = q
                    top += 1
                if labels[pp + 33]:
                    q = pp + 33
                    labels[q] = 0
                    stack[top] = q
                    top += 1
                if labels[pp + 34]:
                    q = pp + 34
                    labels[q] = 0
                    stack[top] = q
                    top += 1
                if labels[pp + 35]:
                    q = pp + 35
                    labels[q] = 0
                    stack[top] = q
                    top += 1
            grouped_total += st
            grouped += count
            if count < min_pixels:
                self.small += 1
                continue
            if self.count >= self.max_blobs:
                self.overflow += 1
                continue
            j = self.count * STAT_FIELDS
            stats[j + CX] = swx / sw
            stats[j + CY] = ((swp - swx) >> 5) / sw
            stats[j + COL0] = c0
            stats[j + ROW0] = p0 >> 5
            stats[j + COL1] = c1
            stats[j + ROW1] = p1 >> 5
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
        self.grouped_pixels += grouped
        return grouped_total

    def blob(self, k):
        """Blob k of the last frame as a tuple (cx, cy, col0, row0, col1, row1, count, peak, mean, kind)."""
        j = k * STAT_FIELDS
        s = self.stats
        return (s[j + CX], s[j + CY], int(s[j + COL0]), int(s[j + ROW0]), int(s[j + COL1]),
                int(s[j + ROW1]), int(s[j + COUNT]), s[j + PEAK], s[j + MEAN], int(s[j + KIND]))
