"""Small builders shared by the tests: simulated sensors on simulated buses."""
from thermocc_device.mlx90640 import MLX90640
from thermocc_tools.mlx90640_sim import SimI2CBus, SimMLX90640
from thermocc_tools.sim_clock import SimClock

DATASHEET_EEPROM_HEADER = """
4210 FFBB 0202 F202 F2F2 E2E2 D1E1 B1D1
F10F F00F E0EF E0EF E1E1 F3F2 F404 E504
79A6 2F44 FFDD 2210 3333 2233 EF01 9ACC
EEDC 10FF 2221 3333 2333 0112 EEFF BBDD
18EF 2FF1 5952 9D68 5454 0994 6956 5354
2363 E446 FBB5 044B F020 9797 9797 2889
"""


def datasheet_eeprom():
    """The datasheet's worked example (section 11.2): 0x2400-0x240F zero, pixels 0x08A0."""
    return [0] * 16 + [int(w, 16) for w in DATASHEET_EEPROM_HEADER.split()] + [0x08A0] * 768


def simulated_camera(eeprom, bus_name="i2c0", clock=None, bus_freq=1_000_000, sensor_kw=None, **driver_kw):
    clock = clock or SimClock()
    bus = SimI2CBus(bus_name, freq=bus_freq, clock=clock)
    sensor = bus.attach(SimMLX90640(eeprom, clock, **(sensor_kw or {})))
    driver_kw.setdefault("log", None)
    camera = MLX90640(bus, bus_name=bus_name, clock=clock, **driver_kw)
    return camera, sensor, bus, clock
