"""Scene -> register-level simulator -> driver, over many calibrations and conditions."""
import random

from hypothesis import given, settings, strategies as st

import adafruit_mlx90640
from thermocc_tools.busio_shim import BusioI2C
from thermocc_tools.mlx90640_sim import generate_eeprom
from helpers import simulated_camera

REFRESH = st.sampled_from([0.5, 1, 2, 4, 8, 16, 32, 64])


def _scene(seed, lo=-10.0, hi=60.0):
    rng = random.Random(seed)
    return [rng.uniform(lo, hi) for _ in range(768)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), variant=st.sampled_from(["BAA", "BAB"]), refresh=REFRESH,
       air=st.floats(10, 35), deviating=st.integers(0, 4), chess=st.booleans(),
       resolution=st.sampled_from([16, 17, 18, 19]))
def test_driver_recovers_the_scene(seed, variant, refresh, air, deviating, chess, resolution):
    eeprom = generate_eeprom(seed, variant=variant, deviating=deviating)
    camera, sensor, _, _ = simulated_camera(eeprom, refresh_hz=refresh, chess=chess,
                                            resolution_bits=resolution)
    camera.begin()
    scene = _scene(seed)
    sensor.set_scene(scene, air_c=air)
    frame = camera.read_frame()
    assert abs(camera.ta - sensor.die_c) < 0.1
    bad = set(sensor.cal.bad_pixels)
    for p in range(768):
        if p in bad:
            continue
        # The driver against the exact temperature of the integer word the sensor wrote...
        assert abs(frame[p] - sensor.represented_c[p]) < 0.05, p
        # ...and the scene: within 0.05 C beyond half an ADC count, which is the sensor's
        # own resolution (0.06-0.45 C a count depending on lens and temperature).
        assert abs(frame[p] - scene[p]) <= 0.05 + sensor.quantum_c[p] / 2, p
    # Deviating pixels are repaired from their neighbours, not left at a wrong value.
    for p in bad:
        row, col = divmod(p, 32)
        around = [frame[r * 32 + c] for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
                  if 0 <= r < 24 and 0 <= c < 32]
        assert min(around) <= frame[p] <= max(around)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), variant=st.sampled_from(["BAA", "BAB"]), air=st.floats(10, 35))
def test_agrees_with_the_adafruit_driver(seed, variant, air):
    eeprom = generate_eeprom(seed, variant=variant)
    camera, sensor, bus, _ = simulated_camera(eeprom, emissivity=0.95)
    camera.begin()
    # The Adafruit driver keeps calibration in class attributes; reset its pixel lists.
    adafruit_mlx90640.MLX90640.brokenPixels = []
    adafruit_mlx90640.MLX90640.outlierPixels = []
    reference = adafruit_mlx90640.MLX90640(BusioI2C(bus))   # emissivity 0.95, tr = Ta - 8
    sensor.set_scene(_scene(seed), air_c=air)
    theirs = [0.0] * 768
    reference.getFrame(theirs)
    ours = camera.read_frame()
    assert max(abs(a - b) for a, b in zip(ours, theirs)) < 0.01


def test_two_sensors_on_two_buses_keep_their_own_calibration():
    cam_a, sensor_a, _, clock = simulated_camera(generate_eeprom(1, variant="BAA"), bus_name="i2c0")
    cam_b, sensor_b, _, _ = simulated_camera(generate_eeprom(2, variant="BAB"), bus_name="i2c1", clock=clock)
    cam_a.begin()
    cam_b.begin()
    assert cam_a.cal.alpha[0] != cam_b.cal.alpha[0]
    sensor_a.set_scene(_scene(10, 15, 20), air_c=20)
    sensor_b.set_scene(_scene(11, 30, 40), air_c=25)
    for _ in range(3):
        frame_a = list(cam_a.read_frame())
        frame_b = list(cam_b.read_frame())
        for p in range(768):
            assert abs(frame_a[p] - sensor_a.represented_c[p]) < 0.05
            assert abs(frame_b[p] - sensor_b.represented_c[p]) < 0.05
    # Same answer as a camera whose sensor was alone on the board.
    alone, sensor_alone, _, _ = simulated_camera(generate_eeprom(1, variant="BAA"))
    alone.begin()
    sensor_alone.set_scene(_scene(10, 15, 20), air_c=20)
    assert list(alone.read_frame()) == frame_a


def test_eeprom_is_read_at_400khz_then_the_bus_runs_at_its_own_speed():
    camera, sensor, bus, _ = simulated_camera(generate_eeprom(3), bus_freq=1_000_000)
    camera.begin()
    assert sensor.eeprom_read_freqs == [400_000]
    assert bus.freq == 1_000_000


def test_configuration_reaches_the_control_register():
    camera, sensor, _, _ = simulated_camera(generate_eeprom(4))
    camera.begin()
    camera.configure(refresh_hz=8, resolution_bits=19, chess=False)
    assert sensor.refresh_hz == 8 and not sensor.chess
    assert (sensor.control >> 10) & 3 == 3
    # Subpages arrive at the configured rate: a full frame (two subpages) every 2/R s.
    start = sensor.subpages_measured
    for _ in range(4):
        camera.read_frame()
    assert sensor.subpages_measured - start in (8, 9)
