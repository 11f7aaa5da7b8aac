"""A first look with no hardware: the real driver reading a simulated MLX90640.

The scene is a small office seen from the ceiling: floor at air temperature with a slight
gradient, two people (heads warmest), and a monitor that is warm but not a person.
"""
from __future__ import annotations

import math

from thermocc_device.mlx90640 import MLX90640
from thermocc_tools.mlx90640_sim import SimI2CBus, SimMLX90640, generate_eeprom
from thermocc_tools.sim_clock import SimClock

SHADES = " .:-=+*#%@"


def office_scene(air_c: float = 22.0) -> list[float]:
    scene = []
    people = ((7.0, 9.0), (15.0, 22.0))          # (row, col) of each head
    for row in range(24):
        for col in range(32):
            t = air_c - 0.5 + 1.0 * col / 31     # window side a little warmer
            for pr, pc in people:
                d = math.hypot(row - pr, (col - pc) * 0.9)
                t = max(t, air_c + 12.0 * math.exp(-(d / 1.6) ** 2))   # shoulders fade out
            if 18 <= row <= 19 and 3 <= col <= 7:
                t = max(t, air_c + 14.0)        # a monitor
            scene.append(t)
    return scene


def heat_map(frame, rows: int = 24, cols: int = 32) -> str:
    lo, hi = min(frame), max(frame)
    span = (hi - lo) or 1.0
    lines = []
    for r in range(rows):
        lines.append("".join(SHADES[min(len(SHADES) - 1, int((frame[r * cols + c] - lo) / span * len(SHADES)))] * 2
                             for c in range(cols)))
    return "\n".join(lines) + "\n%.1f C %s %.1f C" % (lo, SHADES, hi)


def run(frames: int = 2, seed: int = 1, refresh_hz: float = 4, noise: bool = True, out=print) -> list[float]:
    clock = SimClock()
    bus = SimI2CBus("i2c0", freq=1_000_000, clock=clock)
    sensor = bus.attach(SimMLX90640(generate_eeprom(seed), clock, noise=noise, seed=seed))
    camera = MLX90640(bus, bus_name="i2c0", clock=clock, refresh_hz=refresh_hz, log=out).begin()
    scene = office_scene()
    sensor.set_scene(scene, air_c=22.0)
    frame = None
    for _ in range(frames):
        frame = camera.read_frame()
    out(heat_map(frame))
    error = max(abs(a - b) for a, b in zip(frame, scene))
    out("simulated MLX90640 (seed %d) on %s: Ta %.2f C, Vdd %.3f V, %d frames in %.2f s of sensor time, "
        "noise %.2f C rms, largest deviation from the scene %.2f C"
        % (seed, camera.bus_name, camera.ta, camera.vdd, camera.frames, clock.us / 1e6,
           sensor.noise_rms_c(), error))
    return list(frame)
