# The board's clock behind a small object, so tests and the simulated room can run
# device code on virtual time. MicroPython's `time` has ticks_ms/sleep_ms; CPython's
# does not, so the same names are built from monotonic time there.
import time

try:
    _ticks_ms = time.ticks_ms
    _ticks_diff = time.ticks_diff
    _sleep_ms = time.sleep_ms
except AttributeError:  # CPython
    def _ticks_ms():
        return int(time.monotonic() * 1000)

    def _ticks_diff(a, b):
        return a - b

    def _sleep_ms(ms):
        time.sleep(ms / 1000)

# MicroPython's epoch is 2000-01-01 on most ports, CPython's 1970-01-01.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


class SystemClock:
    """Monotonic ticks for timing, wall time (UTC ms since 1970) for timestamps."""

    def __init__(self):
        self.synced = False  # set by the NTP step once wall time is trustworthy

    def ticks_ms(self):
        return _ticks_ms()

    def ticks_diff(self, a, b):
        return _ticks_diff(a, b)

    def sleep_ms(self, ms):
        _sleep_ms(ms)

    def utc_ms(self):
        return (int(time.time()) + _EPOCH_OFFSET_S) * 1000 + _ticks_ms() % 1000
