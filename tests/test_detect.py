"""The shared detector: behaviour on constructed scenes, an independent labelling oracle,
identical results on real MicroPython, and the numba twin proven equal."""
import binascii
from array import array

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import ndimage

from thermocc_shared import detect as det
from thermocc_tools import micropython_run

from frames import adversarial, detector_cases, room, sequence, spiral, sun_past_a_hidden_sitter, \
    sun_round_a_sitter

EIGHT = np.ones((3, 3), int)


def frame_of(values):
    return array("f", [float(v) for v in values])


def blobs(d):
    return [d.blob(k) for k in range(d.count)]


def person(air=22.0, at=(10, 12), peak=33.0, radius=1.8):
    rr, cc = np.divmod(np.arange(768), 32)
    f = np.full(768, air) + 0.3 * (cc / 31 - 0.5)
    return np.maximum(f, air + (peak - air) * np.exp(-((rr - at[0]) ** 2 + (cc - at[1]) ** 2) / radius ** 2))


def test_one_person_found_at_its_place_with_ambient():
    d = det.Detector()
    d.detect(frame_of(person()))
    (b,) = blobs(d)
    cx, cy, c0, r0, c1, r1, n, peak, mean, kind = b
    assert kind == det.KIND_PERSON
    assert abs(cx - 12) < 0.05 and abs(cy - 10) < 0.05
    assert c0 <= 12 <= c1 and r0 <= 10 <= r1
    assert 4 < n <= (c1 - c0 + 1) * (r1 - r0 + 1)
    assert 32.5 < peak <= 33.0 and 27 < mean < peak
    assert abs(d.ambient - 22.0) < 0.1
    assert d.people == 1 and d.hot == 0


def test_nothing_in_an_empty_room_even_after_a_fast_air_change():
    d = det.Detector()
    d.detect(frame_of(person(peak=22.0)))
    assert d.count == 0
    d.detect(frame_of(person(air=26.0, peak=26.0)))   # HVAC or sun: the whole view warms by 4 C
    assert d.count == 0 and abs(d.ambient - 26.0) < 0.1


def test_a_person_who_stays_is_not_learned_into_the_background():
    d = det.Detector(background_s=2)
    f = frame_of(person())
    for _ in range(300):
        d.detect(f)
    assert d.people == 1
    assert abs(d.background[10 * 32 + 12] / 25600 - 22.0) < 0.5


def test_background_learns_a_warm_wall_below_threshold():
    d = det.Detector(background_s=2)
    wall = person(peak=22.0)
    wall[:32] += 3.0               # top row 3 C warmer: below threshold, learned
    for _ in range(1000):          # above threshold / 2: learned at the slow fringe rate
        d.detect(frame_of(wall))
    assert abs(d.background[5] / 25600 - wall[5]) < 0.1
    moved = wall.copy()
    moved[:32] += 4.0              # now 7 C over the learned floor level, but only 4 C over the wall
    d.detect(frame_of(moved))
    assert d.count == 0


def test_hot_objects_mask_and_small_blobs():
    f = person(at=(10, 8))
    f[5 * 32 + 25: 5 * 32 + 28] = 90.0          # a kettle: 3 pixels far above a person
    f[6 * 32 + 25: 6 * 32 + 28] = 90.0
    f[20 * 32 + 30] = 35.0                       # a single warm pixel: too small
    d = det.Detector(min_pixels=3, max_person_c=40.0)
    d.detect(frame_of(f))
    kinds = sorted(b[9] for b in blobs(d))
    assert kinds == [det.KIND_PERSON, det.KIND_HOT] and d.small == 1
    masked = det.Detector(mask=det.mask_from_rects([[4, 24, 7, 28]]))
    masked.detect(frame_of(f))
    assert [b[9] for b in blobs(masked)] == [det.KIND_PERSON]


def test_a_person_beside_a_kettle_is_a_person_and_the_kettle_a_hot_object():
    """The kettle's edge pixels read like a person; before, the person and the kettle were
    one group whose peak made it all a hot object, and the person was lost."""
    f = person(at=(10, 12), peak=32.0, radius=2.2)
    kettle = [(10, 15), (10, 16), (11, 15), (11, 16)]
    for r, c in kettle:
        f[r * 32 + c] = 90.0
    for r, c in [(9, 15), (9, 16), (9, 17), (10, 17), (11, 17), (12, 15), (12, 16), (12, 17)]:
        f[r * 32 + c] = max(f[r * 32 + c], 35.0)     # its partly covered edge
    d = det.Detector()
    d.detect(frame_of(np.full(768, 22.0)))            # the empty room first
    d.detect(frame_of(f))
    (p,) = [b for b in blobs(d) if b[9] == det.KIND_PERSON]
    (h,) = [b for b in blobs(d) if b[9] == det.KIND_HOT]
    assert abs(p[0] - 12) < 0.6 and abs(p[1] - 10) < 0.3 and p[7] < 32.5    # the person, without the kettle
    assert p[4] <= 13 and h[2] >= 14                # the kettle's edge (from column 14) is the kettle's
    assert h[7] == 90.0 and d.people == 1 and d.hot == 1
    # pixels of both are grouped: neither is learned into the background
    assert d.grouped_pixels == p[6] + h[6]


def test_diagonal_pixels_are_one_blob_and_the_spiral_needs_no_recursion():
    f = np.full(768, 22.0)
    for k in range(20):
        f[k * 32 + k] = 33.0
    d = det.Detector(min_pixels=1)
    d.detect(frame_of(np.full(768, 22.0)))       # prime on the empty room
    d.detect(frame_of(f))
    assert d.count == 1 and d.blob(0)[6] == 20
    s = det.Detector(min_pixels=1)
    s.detect(frame_of(np.full(768, 20.0)))
    s.detect(frame_of(spiral()))
    warm = spiral() > 30
    labels, n = ndimage.label(warm.reshape(24, 32), EIGHT)
    assert s.count == n and sum(b[6] for b in blobs(s)) == int(warm.sum())


def test_max_blobs_overflow_is_counted():
    f = np.full(768, 22.0)
    for k in range(10):
        f[(2 * k) * 32 + 3 * k] = 33.0
    d = det.Detector(min_pixels=1, max_blobs=4)
    d.detect(frame_of(np.full(768, 22.0)))
    d.detect(frame_of(f))
    assert d.count == 4 and d.overflow == 6


@pytest.mark.parametrize("bad", [{"threshold_c": 0}, {"threshold_c": "5"}, {"min_pixels": 0},
                                 {"max_person_c": 500}, {"background_s": 0}, {"max_blobs": 0},
                                 {"mask": bytearray(10)}, {"contrast": 1.5}, {"contrast": -0.1}])
def test_bad_settings_name_the_field(bad):
    with pytest.raises(det.DetectorConfigError) as e:
        det.Detector(**bad)
    assert list(bad)[0] in str(e.value)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), people=st.integers(0, 8), threshold=st.floats(1, 10),
       min_pixels=st.integers(1, 6))
def test_blobs_match_an_independent_labelling(seed, people, threshold, min_pixels):
    """scipy's 8-connected labelling of the same warm and fringe pixels gives the same blobs and stats."""
    rng = np.random.default_rng(seed)
    d = det.Detector(threshold_c=threshold, min_pixels=min_pixels, max_blobs=200)
    d.detect(frame_of(room(rng, 0)))
    f = room(rng, people)
    background_before = np.array(d.background, np.int64)
    held = np.frombuffer(bytes(d._held), np.uint8).astype(bool)     # in a group in the first frame
    d.detect(frame_of(f))
    cd = np.array(d.cd, np.int64)
    excess = (cd - (background_before >> det.BG_FRAC) - d.offset_cd).astype(np.float64)
    # hysteresis: groups of pixels at least at the fringe (half the threshold; a third for
    # pixels held from the first frame) that hold a warm one; weighed by the excess over the
    # background after the frame (fringe pixels learn slowly)
    weight = (cd - (np.array(d.background, np.int64) >> det.BG_FRAC) - d.offset_cd).astype(np.float64)
    warm = excess > d.used_threshold_cd
    fringe = np.where(held, d.used_threshold_cd // 3, d.used_threshold_cd // 2)
    labels, n = ndimage.label((excess >= fringe).reshape(24, 32), EIGHT)
    expected = []
    for k in range(1, n + 1):
        idx = np.flatnonzero(labels.ravel() == k)
        if not warm[idx].any() or len(idx) < min_pixels:
            continue
        r, c = np.divmod(idx, 32)
        w = weight[idx]
        t = np.array(d.cd, np.float64)[idx] / 100
        # blobs come in the order of their first warm pixel
        expected.append((idx[warm[idx]].min(), (w * c).sum() / w.sum(), (w * r).sum() / w.sum(), c.min(), r.min(),
                         c.max(), r.max(), len(idx), t.max(), t.mean()))
    expected.sort()
    got = blobs(d)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[0] == pytest.approx(e[1], abs=1e-4) and g[1] == pytest.approx(e[2], abs=1e-4)
        assert g[2:7] == tuple(int(v) for v in e[3:8])
        assert g[7] == pytest.approx(e[8], abs=1e-4) and g[8] == pytest.approx(e[9], abs=1e-3)


# -- the same code on real MicroPython -------------------------------------------------
# Collections run only in the guest's module body, between frames (tools/micropython_run:
# this WASI build cannot scan its native stack), and at most FRAMES_PER_RUN frames go
# through one interpreter run (its instruction budget).
FRAMES_PER_RUN = 80
CASES_GUEST = r"""
import json, binascii
from array import array
from thermocc_shared import detect as det
_cases = []
_file = None
_buf = array('f', bytes(4 * 768))
_case = 0
_at = 0
_d = None


def setup():
    global _cases, _file
    with open('/input/cases.json') as fh:
        _cases = json.load(fh)
    _file = open('/input/frames.bin', 'rb')


def step():
    # One frame of the current case (a fresh detector at its first); False when all are done.
    global _case, _at, _d
    if _case >= len(_cases):
        return False
    ci, case = _cases[_case]
    if not _at:
        kw = dict(case['settings'])
        if 'mask' in kw:
            kw['mask'] = det.mask_from_rects(kw['mask'])
        _d = det.Detector(**kw)
    k = case['frames'][_at]
    _file.seek(4 * 768 * k)
    _file.readinto(_buf)
    d = _d
    d.detect(_buf)
    print('R', ci, k, d.count, d.people, d.hot, d.small, d.overflow, d.warm_pixels,
          binascii.hexlify(bytes(d.stats)[:40 * d.count]).decode(),
          d.ambient_cd, d.offset_cd, d.min_cd, d.max_cd, d.mean_cd,
          binascii.crc32(bytes(d.background)))
    _at += 1
    if _at == len(case['frames']):
        _case += 1
        _at = 0
    return True
"""
GUEST = """
import gc
import detect_cases
detect_cases.setup()
while detect_cases.step():
    gc.collect()
"""


def _describe(d, ci, k):
    return " ".join(str(v) for v in (
        "R", ci, k, d.count, d.people, d.hot, d.small, d.overflow, d.warm_pixels,
        binascii.hexlify(bytes(d.stats)[:40 * d.count]).decode(),
        d.ambient_cd, d.offset_cd, d.min_cd, d.max_cd, d.mean_cd,
        binascii.crc32(bytes(d.background))))


@pytest.mark.micropython
def test_micropython_gives_identical_output(tmp_path):
    import json
    rng = np.random.default_rng(2026)
    frames = [f for _, f in adversarial(rng)]
    first_seq = len(frames)
    frames += sequence(rng, 8)
    first_sun = len(frames)
    frames += sun_round_a_sitter()
    first_hidden = len(frames)
    frames += sun_past_a_hidden_sitter()[0]
    all_frames = np.stack(frames).astype(np.float32)
    cases = []
    for settings_ in detector_cases():
        # Each adversarial frame on a fresh detector, then a running sequence (background state).
        for k in range(first_seq):
            cases.append({"settings": settings_, "frames": [k]})
        cases.append({"settings": settings_, "frames": list(range(first_seq, first_sun))})
    # one frame in 30 s: the background's step 7 runs every frame, and the sun patch round
    # a sitter takes its warming branch
    cases.append({"settings": {"frame_ms": 30000}, "frames": list(range(first_sun, first_hidden))})
    # and step 8 frees the island of someone the sun hid
    cases.append({"settings": {"frame_ms": 30000}, "frames": list(range(first_hidden, len(frames)))})
    expected = []
    for ci, case in enumerate(cases):
        kw = dict(case["settings"])
        if "mask" in kw:
            kw["mask"] = det.mask_from_rects(kw["mask"])
        d = det.Detector(**kw)
        for k in case["frames"]:
            d.detect(array("f", all_frames[k].tobytes()))
            expected.append(_describe(d, ci, k))
    got = []
    batch, size = [], 0
    for ci, case in enumerate(cases + [None]):
        if case is None or size + len(case["frames"]) > FRAMES_PER_RUN:
            out, _ = micropython_run.run(GUEST, {"frames.bin": all_frames.tobytes(), "cases.json": json.dumps(batch),
                                                 "detect_cases.py": CASES_GUEST})
            got += [line for line in out.splitlines() if line.startswith("R ")]
            batch, size = [], 0
        if case is not None:
            batch.append([ci, case])
            size += len(case["frames"])
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g == e
    assert any(int(line.split()[3]) > 1 for line in got)      # the comparison saw real blobs


# -- the numba twin ----------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 12), case=st.sampled_from(detector_cases()),
       adversarial_at=st.integers(-1, 11), timed=st.booleans())
def test_numba_twin_equals_the_shared_detector(seed, n, case, adversarial_at, timed):
    from thermocc.detect_fast import FastDetector, SUMMARY_FIELDS, AMBIENT, OFFSET, FRAME_MIN, FRAME_MAX, \
        FRAME_MEAN, WARM, COUNT, PEOPLE, HOT, SMALL, OVERFLOW
    rng = np.random.default_rng(seed)
    frames = sequence(rng, n)
    if 0 <= adversarial_at < n:
        extra = adversarial(rng)
        frames[adversarial_at] = extra[int(rng.integers(0, len(extra)))][1]
    kw = dict(case)
    if "mask" in kw:
        kw["mask"] = det.mask_from_rects(kw["mask"])
    ref = det.Detector(**kw)
    fast = FastDetector(**kw)
    # irregular frame times (a board that stalls, a replay of one frame in 30 s) or none
    times = np.cumsum(rng.choice([0, 1, 125, 250, 900, 30000, 10 ** 7], n)) if timed else None
    stats, summary = fast.detect_frames(np.stack(frames), times)
    assert summary.shape == (n, SUMMARY_FIELDS)
    for k, f in enumerate(frames):
        elapsed = int(times[k] - times[k - 1]) if timed and k else None
        ref.detect(array("f", np.asarray(f, np.float32).tobytes()), elapsed)
        row = summary[k]
        assert (int(row[COUNT]), int(row[PEOPLE]), int(row[HOT]), int(row[SMALL]), int(row[OVERFLOW]),
                int(row[WARM])) == (ref.count, ref.people, ref.hot, ref.small, ref.overflow, ref.warm_pixels)
        assert (row[AMBIENT], row[OFFSET], row[FRAME_MIN], row[FRAME_MAX], row[FRAME_MEAN]) == \
            (ref.ambient_cd, ref.offset_cd, ref.min_cd, ref.max_cd, ref.mean_cd)
        got = stats[k, :ref.count].ravel()
        want = np.frombuffer(bytes(ref.stats), np.float32)[:ref.count * det.STAT_FIELDS]
        # Integer arithmetic on both sides: the blobs agree exactly; the float tolerance
        # only covers the final divisions, done in float64 before the float32 store.
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    assert list(fast.background) == list(ref.background)


def test_background_learns_in_room_time_not_frames():
    assert det.learning_shift(32000, 250) == 7          # 4 frames a second: 1/128 per frame
    assert det.learning_shift(32000, 30000) == 0        # one frame in 30 s: all the way
    assert det.learning_shift(32000, 0) == det.MAX_SHIFT
    # a floor 2 C warmer after a minute: learned after 8 frames 30 s apart as after 960 at 4 Hz
    slow, fast = det.Detector(), det.Detector()
    empty, warmer = frame_of(np.full(768, 22.0)), frame_of(np.full(768, 22.0) + np.r_[np.zeros(384), np.full(384, 2.0)])
    slow.detect(empty)
    fast.detect(empty)
    for _ in range(8):
        slow.detect(warmer, 30000)
    for _ in range(960):
        fast.detect(warmer, 250)
    for d in (slow, fast):
        assert abs(d.background[700] / 25600 - 24.0) < 0.05 and abs(d.background[10] / 25600 - 22.0) < 0.05


def test_a_seated_persons_fringe_is_not_learned():
    # A person whose clothing reads in the fringe (between threshold/2 and threshold) under
    # a warm head: the group takes the fringe, and it stays whole however long they sit.
    img = np.full((24, 32), 22.0)
    img[9:14, 10:15] = 25.5          # coat: 3.5 C over the floor (fringe at threshold 5)
    img[11, 12] = 30.0               # head
    d = det.Detector()
    d.detect(frame_of(np.full(768, 22.0)))
    for _ in range(200):             # 100 min at one frame in 30 s
        d.detect(frame_of(img.ravel()), 30000)
    assert d.people == 1 and d.blob(0)[6] == 25
    # a coat-warm patch with no warm pixel (a patch appearing slowly) is learned instead
    patch = np.full((24, 32), 22.0)
    patch[2:5, 2:5] = 25.5
    d.detect(frame_of(patch.ravel()), 30000)
    before = d.background[3 * 32 + 3]
    for _ in range(50):
        d.detect(frame_of(patch.ravel()), 30000)
    assert d.background[3 * 32 + 3] > before + 256 * 100


def test_a_grouped_pixel_is_let_go_only_well_below_the_fringe():
    """A person's edge pixel reads near threshold / 2; one noisy frame just under it must not
    learn it into the background (at one frame in 30 s learning goes all the way at once),
    or the person's blob loses it for good. Once it reads at the floor, it is let go.
    The numba twin does the same, frame by frame."""
    from thermocc.detect_fast import FastDetector
    img = np.full((24, 32), 22.0)
    img[9:14, 10:15] = 25.5          # coat, fringe at threshold 5 (2.5 .. 5 C over the floor)
    img[11, 12] = 30.0               # head
    edge = 11 * 32 + 15              # beside the coat
    frames = [np.full(768, 22.0)]
    for over in (2.7, 2.3, 2.7, 2.3, 2.7, 0.2, 3.0):   # fringe, noise dip, ..., floor, fringe
        f = img.copy().ravel()
        f[edge] = 22.0 + over
        frames.append(f)
    d = det.Detector()
    counts, learned = [], []
    for k, f in enumerate(frames):
        d.detect(frame_of(f), 30000 if k else None)     # the twin's first frame: frame_ms after none
        counts.append(d.blob(0)[6] if d.count else 0)
        learned.append(d.background[edge] / 25600 - 22.0)
    assert counts[1:6] == [26, 26, 26, 26, 26]               # dips at 2.3 C keep it in the group
    assert max(abs(v) for v in learned[:6]) < 0.05            # and leave the background alone
    assert counts[6] == 25 and abs(learned[6] - 0.2) < 0.05   # at the floor it is learned
    assert counts[7] == 26                                    # and found again as fringe
    fast = FastDetector()
    stats, _ = fast.detect_frames(np.stack(frames), np.arange(len(frames)) * 30000)
    assert [int(s[0, 6]) for s in stats] == counts
    assert list(fast.background) == list(d.background)


def test_warm_room_lowers_the_threshold_to_a_share_of_the_skin_contrast():
    """At 22 C the configured 5 C applies (0.45 x 12 C = 5.4 C is higher); at 28 C a person
    whose clothing reads 3.3 C over the air is found only with the warm-room rule."""
    assert det.contrast_threshold_cd(500, 45, 2200) == 500
    assert det.contrast_threshold_cd(500, 45, 2800) == 270
    assert det.contrast_threshold_cd(500, 45, 3600) == det.MIN_THRESHOLD_CD      # hotter than skin
    assert det.contrast_threshold_cd(500, 0, 3000) == 500
    rng = np.random.default_rng(5)
    air = 28.0
    quiet = [room(rng, 0, air=air, noise=0.15) for _ in range(3)]
    person = room(rng, 0, air=air, noise=0.15).reshape(24, 32)
    person[10:14, 14:17] = air + 3.3                     # clothing
    person[9, 15] = air + 4.8                            # head
    for contrast, found in ((0.45, 1), (0.0, 0)):
        d = det.Detector(contrast=contrast)
        for f in quiet:
            d.detect(frame_of(f))
        d.detect(frame_of(person.ravel()))
        assert d.people == found
        if contrast:                                     # from the measured ambient, ~28 C
            assert abs(d.used_threshold_cd - 270) <= 10
        else:
            assert d.used_threshold_cd == 500
    # a person there already at power-up: the first frame's threshold comes from the level
    # the background primes at (the frame's median), not the configured 5 C
    for contrast, found in ((0.45, 1), (0.0, 0)):
        d = det.Detector(contrast=contrast)
        d.detect(frame_of(person.ravel()))
        assert d.people == found and d.frames == 1
        assert abs(d.used_threshold_cd - (270 if contrast else 500)) <= 10


def test_a_sitter_in_an_arriving_sun_patch_stays_whole_and_leaves_no_ghost():
    """The floor round a sitter warms in the sun; the pixels they half cover are held in
    their group, so without step 7 that warming reads as excess, and when they leave the
    sunlit floor those pixels show is a warm ghost of them (16 pixels here, until the sun
    moves on). With it, their background follows the surroundings' warming: the sitter
    stays whole while the sun arrives and for hours in it (noise cannot ratchet it away),
    and nothing is left when they go. The numba twin does the same, frame by frame."""
    from thermocc.detect_fast import FastDetector
    leaving = sun_round_a_sitter(leaves=True)
    d = det.Detector()
    sizes = []
    for k, f in enumerate(leaving):
        d.detect(frame_of(f), 30000 if k else None)
        sizes.append([d.blob(j)[6] for j in range(d.count)])
    assert sizes == [[], [25], [25], [25], [25], [25], [], []]
    fast = FastDetector()
    stats, _ = fast.detect_frames(np.stack(leaving), np.arange(len(leaving)) * 30000)
    assert [[int(v) for v in s[:, 6] if v] for s in stats] == sizes
    assert list(fast.background) == list(d.background)
    # staying: three hours in the sun with pixel noise, whole every frame
    rng = np.random.default_rng(7)
    staying = sun_round_a_sitter(leaves=False)
    staying += [staying[-1] + rng.normal(0, 0.25, 768).astype(np.float32) for _ in range(360)]
    d = det.Detector()
    for k, f in enumerate(staying):
        d.detect(frame_of(f), 30000 if k else None)
        assert k == 0 or [d.blob(j)[6] for j in range(d.count)] == [25], k


class _WithoutStep8(det.Detector):
    def _free_stranded(self, level, fringe, threshold, shift):
        pass


def test_a_sitter_the_sun_hid_is_found_when_it_moves_on_and_the_sun_patch_never_is():
    """Someone sits down where the sun has warmed the floor to their own temperature: they
    read as the floor did, and the background has them. When the patch moves on, the floor
    round them cools and they do not: step 8 frees the island (its background set to the
    floor's round it) and they are found, at their place, to the end. The patch alone
    (entering and leaving through the image border) is never reported. Without step 8 the
    sitter is never found. The numba twin does the same, at one frame in 30 s and at four
    frames a second."""
    from thermocc.detect_fast import FastDetector
    frames, sat = sun_past_a_hidden_sitter()
    empty, _ = sun_past_a_hidden_sitter(sitter=False)
    # the frames from which the floor round them cools, and from which it is back at air
    around = [f.reshape(24, 32)[9:14, 13:18] for f in frames]
    cooling = next(k for k in range(sat, len(frames)) if around[k].min() < 29.0)
    passed = next(k for k in range(sat, len(frames)) if (around[k] <= 22.0).sum() == 25 - 9)

    def run(detector, frames):
        found = []
        for k, f in enumerate(frames):
            detector.detect(frame_of(f), 30000 if k else None)
            found.append([(round(detector.blob(j)[0], 1), round(detector.blob(j)[1], 1), detector.blob(j)[6])
                          for j in range(detector.count)])
        return found

    d = det.Detector()
    found = run(d, frames)
    assert d.freed_islands == 1
    assert all(not f for f in found[:cooling])          # hidden while the patch is round them
    first = next(k for k, f in enumerate(found) if f)
    assert first <= passed                               # found by the time the floor has cooled
    assert all(f == [(15.0, 11.0, 9)] for f in found[first:])
    alone = det.Detector()
    assert all(not f for f in run(alone, empty)) and alone.freed_islands == 0
    assert not any(run(_WithoutStep8(), frames))
    for frames_, d_ in ((frames, d), (empty, alone)):
        fast = FastDetector()
        stats, _ = fast.detect_frames(np.stack(frames_), np.arange(len(frames_)) * 30000)
        assert fast.freed_islands == d_.freed_islands
        assert list(fast.background) == list(d_.background)
        assert [int((s[:, 6] > 0).sum()) for s in stats] == [len(f) for f in run(det.Detector(), frames_)]
    # as a board sees it: four frames a second (each scene for 30 s, with pixel noise); the
    # recent high and the background follow room time, so they are found by the same minute
    rng = np.random.default_rng(3)
    for frames_, freed in ((frames, 1), (empty, 0)):
        board = np.repeat(np.stack(frames_), 120, axis=0)
        board += rng.normal(0, 0.2, board.shape).astype(np.float32)
        fast = FastDetector()
        stats, _ = fast.detect_frames(board, np.arange(len(board)) * 250)
        assert fast.freed_islands == freed
        if freed:
            assert (stats[passed * 120:, :, 6] > 0).sum(axis=1).min() == 1


def test_cameras_sharing_work_buffers_detect_as_with_their_own():
    """A board's detectors share one set of work buffers (7 KB a camera less heap): frames
    of two cameras detected in turn give what each detector gives alone."""
    rng = np.random.default_rng(11)
    a_frames, b_frames = sequence(rng, 10), sequence(rng, 10)
    b_frames[4] = adversarial(rng)[-1][1]                   # a kettle: the hot zone buffer
    work = det.WorkBuffers()
    shared = [det.Detector(work=work), det.Detector(threshold_c=3.0, min_pixels=2, work=work)]
    alone = [det.Detector(), det.Detector(threshold_c=3.0, min_pixels=2)]
    assert shared[0].cd is shared[1].cd and alone[0].cd is not alone[1].cd
    seen = 0
    for fa, fb in zip(a_frames, b_frames):
        for k, f in ((0, fa), (1, fb)):
            shared[k].detect(frame_of(f), 30000)
            alone[k].detect(frame_of(f), 30000)
            assert bytes(shared[k].stats)[:40 * shared[k].count] == bytes(alone[k].stats)[:40 * alone[k].count]
            assert (shared[k].count, shared[k].ambient_cd, shared[k].offset_cd) == \
                (alone[k].count, alone[k].ambient_cd, alone[k].offset_cd)
            assert list(shared[k].background) == list(alone[k].background)
            seen += shared[k].count
    assert seen > 10
