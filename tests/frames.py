"""Test frames for the detector: plausible rooms and adversarial cases."""
import numpy as np

ROWS, COLS, PIXELS = 24, 32, 768


def room(rng, people=3, air=22.0, noise=0.2):
    f = air + rng.normal(0, noise, PIXELS) + np.linspace(-0.5, 0.5, COLS)[np.arange(PIXELS) % COLS]
    rr, cc = np.divmod(np.arange(PIXELS), COLS)
    for _ in range(people):
        r, c = rng.uniform(0, ROWS), rng.uniform(0, COLS)
        peak, radius = rng.uniform(28, 36), rng.uniform(0.8, 2.5)
        f = np.maximum(f, air + (peak - air) * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / radius ** 2))
    return f.astype(np.float32)


def spiral(hot=35.0, cold=20.0):
    f = np.full((ROWS, COLS), cold, np.float32)
    top, left, bottom, right = 0, 0, ROWS - 1, COLS - 1
    while top <= bottom and left <= right:
        f[top, left:right + 1] = hot
        f[top:bottom + 1, right] = hot
        f[bottom, left:right + 1] = hot
        f[top + 2:bottom + 1, left] = hot
        if top + 2 <= bottom:
            f[top + 2, left:left + 3] = hot
        top, left, bottom, right = top + 4, left + 4, bottom - 2, right - 4
    return f.ravel()


def adversarial(rng):
    """A list of (name, frame) covering the cases a flood fill gets wrong."""
    out = []
    out.append(("all hot", np.full(PIXELS, 40.0, np.float32)))
    out.append(("all cold", np.full(PIXELS, -20.0, np.float32)))
    board = (np.add.outer(np.arange(ROWS), np.arange(COLS)) % 2).astype(np.float32)
    out.append(("checkerboard", (22 + 13 * board).ravel()))
    out.append(("coarse checkerboard", (22 + 13 * ((np.add.outer(np.arange(ROWS) // 2, np.arange(COLS) // 2) % 2)
                                                   .astype(np.float32))).ravel()))
    singles = np.full(PIXELS, 22.0, np.float32)
    singles[rng.choice(PIXELS, 40, replace=False)] = 34.0
    out.append(("single pixels", singles))
    out.append(("spiral", spiral()))
    out.append(("extremes", rng.uniform(-1e6, 1e6, PIXELS).astype(np.float32)))
    out.append(("sensor range", rng.uniform(-40, 300, PIXELS).astype(np.float32)))
    out.append(("uniform noise", rng.uniform(0, 100, PIXELS).astype(np.float32)))
    edges = np.full((ROWS, COLS), 22.0, np.float32)
    edges[0, :] = edges[-1, :] = edges[:, 0] = edges[:, -1] = 33.0
    out.append(("frame border", edges.ravel()))
    diag = np.full((ROWS, COLS), 22.0, np.float32)
    for k in range(ROWS):
        diag[k, k] = 33.0
    out.append(("diagonal line (8-connected)", diag.ravel()))
    hot_obj = room(rng, 2)
    hot_obj[300:303] = 90.0
    out.append(("kettle", hot_obj))
    by_kettle = np.full((ROWS, COLS), 22.0, np.float32)
    by_kettle[6:11, 10:14] = 31.0                  # a person ...
    by_kettle[8:10, 14:16] = 90.0                  # ... touching a kettle, whose edge reads like them
    by_kettle[7, 14:17] = 33.0
    by_kettle[0, 0] = by_kettle[23, 31] = by_kettle[5, 31] = 90.0   # hot at the borders: no wrap to
    by_kettle[6, 0:3] = by_kettle[4, 0:2] = 33.0                     # the next row's start
    by_kettle[18:21, 20:26] = 32.0                  # two people joined only through a hot pixel's zone
    by_kettle[19, 22] = 60.0
    out.append(("person by a kettle", by_kettle.ravel()))
    return out


def detector_cases():
    """Detector settings the cross-interpreter tests run through."""
    return [
        {},
        {"threshold_c": 3.0, "min_pixels": 1},
        {"threshold_c": 8.0, "min_pixels": 5, "max_person_c": 33.0},
        {"mask": [[0, 0, 3, 31], [10, 10, 12, 14]], "max_blobs": 3},
        {"background_s": 1, "min_pixels": 2},
        {"contrast": 0.0, "threshold_c": 4.0},
        {"contrast": 0.8, "threshold_c": 9.0},
    ]


def sequence(rng, n=20):
    """Frames of a room where people come and go, the air drifts and one adversarial frame drops in."""
    frames = []
    air = 21.0 if rng.integers(0, 2) else 27.5          # a warm room lowers the threshold
    for k in range(n):
        air += rng.normal(0, 0.05)
        frames.append(room(rng, people=int(rng.integers(0, 6)), air=air))
    return frames


def sun_round_a_sitter(leaves=True):
    """One frame every 30 s: an empty room, a sitter (a 3 x 3 core fully warm, the 16 pixels
    round it 40 % person, in the fringe), a sun patch arriving round them in steps the
    background learns (the ring's floor share warms with it, the core is their shade), then
    (leaves) the sitter gone: the ring shows sunlit floor, the core the shaded floor."""
    air, person, sun = 22.0, 30.0, (2.4, 4.8, 7.0, 7.0)
    core = np.zeros((ROWS, COLS), bool)
    core[11:14, 15:18] = True
    ring = np.zeros((ROWS, COLS), bool)
    ring[10:15, 14:19] = True
    ring &= ~core
    patch = np.zeros((ROWS, COLS), bool)
    patch[6:18, 8:24] = True             # a quarter of the view: the room's offset stays put
    frames = [np.full((ROWS, COLS), air)]
    for warm in (0.0,) + sun:
        f = np.full((ROWS, COLS), air)
        f[patch] += warm
        f[ring] = air + 0.4 * (person - air) + 0.6 * warm
        f[core] = person
        frames.append(f)
    if leaves:
        for _ in range(2):
            f = np.full((ROWS, COLS), air)
            f[patch] += sun[-1]
            f[core] = air
            frames.append(f)
    return [f.ravel().astype(np.float32) for f in frames]


def sun_past_a_hidden_sitter(sitter=True):
    """One frame every 30 s: a sun patch (rows 6-17, +7 C with 4-column ramps the background
    learns, 1.75 C a step) crosses the view from the right border to the left, one column a
    frame. While it covers columns 13-17, someone sits at rows 10-12, columns 14-16 reading
    air + 7 C, as warm as the sunlit floor: they read as the floor did. They stay, in the
    shade of themselves, while the patch moves on and the floor round them cools, and for 20
    frames after it has left. Returns (frames, index of the first frame with the sitter)."""
    air, sun, width, ramp = 22.0, 7.0, 8, 4
    cols = np.arange(COLS)
    frames = [np.full((ROWS, COLS), air) for _ in range(2)]
    sat = None
    for left in range(COLS, -width - 2 * ramp - 1, -1):
        # full strength from left + ramp to left + ramp + width, ramps either side
        rise = np.clip((cols - left + 1) / ramp, 0, 1)
        fall = np.clip((left + 2 * ramp + width - cols) / ramp, 0, 1)
        f = np.full((ROWS, COLS), air)
        f[6:18] += sun * np.minimum(rise, fall)
        if sitter and sat is None and (f[9:14, 13:18] == air + sun).all():
            sat = len(frames)
        if sitter and sat is not None:
            f[10:13, 14:17] = air + sun
        frames.append(f)
    for _ in range(20):
        f = np.full((ROWS, COLS), air)
        if sitter:
            f[10:13, 14:17] = air + sun
        frames.append(f)
    return [f.ravel().astype(np.float32) for f in frames], sat
