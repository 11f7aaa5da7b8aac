"""Virtual time for simulated boards and sensors: sleeping advances the clock instantly."""


class SimClock:
    """Same methods as thermocc_device.clock.SystemClock, on integer microseconds."""

    def __init__(self, start_utc_ms=1_767_225_600_000, synced=True):  # 2026-01-01T00:00Z
        self.us = 0
        self.start_utc_ms = start_utc_ms
        self.synced = synced

    def ticks_ms(self):
        return self.us // 1000

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        self.us += int(ms * 1000)

    def advance_us(self, us):
        self.us += int(us)

    def utc_ms(self):
        return self.start_utc_ms + self.us // 1000
