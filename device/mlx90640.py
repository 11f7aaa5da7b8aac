# MLX90640 driver: I2C protocol, subpage reads, temperatures with the sensor's own
# calibration, deviating-pixel repair. Runs unchanged on MicroPython and CPython.
#
# The bus is any object with MicroPython's machine.I2C methods
# `readfrom_mem_into(addr, reg, buf, addrsize=16)` and `writeto_mem(addr, reg, buf,
# addrsize=16)` (both use a repeated start, which the sensor needs); if it also has
# `set_freq(hz)`, the EEPROM is read at <= 400 kHz and the bus then returns to
# `operating_hz`. Time comes from a clock object (see clock.py) so tests run on virtual time.
import math
from array import array

from thermocc_device.mlx90640_cal import (
    COLS, EEPROM_ADDRESS, EEPROM_WORDS, PIXELS, ROWS, Calibration, CalibrationError, subpage_runs)

RAM_ADDRESS = 0x0400
RAM_WORDS = 832            # 768 pixels + 64 auxiliary words
REG_STATUS = 0x8000
REG_CONTROL = 0x800D
STATUS_NEW_DATA = 0x0008
STATUS_CLEAR = 0x0030      # the maker's value: new-data flag cleared, overwrite enabled
EEPROM_MAX_HZ = 400000
REFRESH_RATES_HZ = (0.5, 1, 2, 4, 8, 16, 32, 64)
RESOLUTIONS_BITS = (16, 17, 18, 19)
# Auxiliary RAM words, as word offsets from 0x0400.
_VBE, _CP0, _GAIN, _PTAT, _CP1, _VDD = 768, 776, 778, 800, 808, 810
# The sensor measures -40..300 C; anything well outside is a bus or byte-order fault.
TO_PLAUSIBLE_MIN = -45.0
TO_PLAUSIBLE_MAX = 320.0
_K = 273.15


class SensorError(Exception):
    """Base of the driver's typed errors; `kind` names the counter it goes to."""
    kind = "sensor"

    def __init__(self, bus, address, what):
        super().__init__("MLX90640 on %s at 0x%02x: %s" % (bus, address, what))
        self.bus = bus
        self.address = address
        self.what = what


class SensorBusError(SensorError):
    """The sensor did not answer, or a register write did not stick."""
    kind = "bus"


class SensorDataError(SensorError):
    """The sensor answered with data no working sensor produces."""
    kind = "data"


class SensorEepromError(SensorError):
    """The calibration EEPROM is unreadable or corrupt and no good copy is saved."""
    kind = "eeprom"


def _word(buf, i):
    return (buf[2 * i] << 8) | buf[2 * i + 1]


def _signed_word(buf, i):
    w = (buf[2 * i] << 8) | buf[2 * i + 1]
    return w - 65536 if w > 32767 else w


def _median(values):
    values.sort()
    n = len(values)
    return values[n // 2] if n & 1 else (values[n // 2 - 1] + values[n // 2]) / 2


class MLX90640:
    def __init__(self, bus, address=0x33, bus_name="i2c", clock=None, eeprom_store=None,
                 log=print, refresh_hz=2, resolution_bits=18, chess=True, emissivity=1.0,
                 reflected_c=None, retries=2, operating_hz=None):
        if clock is None:
            from thermocc_device.clock import SystemClock
            clock = SystemClock()
        self.bus = bus
        self.address = address
        self.bus_name = bus_name
        self.clock = clock
        self.eeprom_store = eeprom_store
        self.log = log
        self.refresh_hz = refresh_hz
        self.resolution_bits = resolution_bits
        self.chess = chess
        self.emissivity = emissivity
        self.reflected_c = reflected_c   # None: Ta - 8, the maker's value for open air
        self.retries = retries
        self.operating_hz = operating_hz
        self.cal = None
        self.eeprom_warning = None
        self.frame = array('f', bytes(4 * PIXELS))   # latest full frame, C, row-major 24 x 32
        self.ta = 0.0
        self.vdd = 0.0
        self.frames = 0
        self.subpages = 0
        self.retry_count = 0
        self.error_counts = {"bus": 0, "data": 0, "eeprom": 0}
        self._ram = bytearray(2 * RAM_WORDS)
        self._w = bytearray(2)
        self._fresh = 0          # bit s set when subpage s was computed since the last frame
        self._control = 0
        self._segments = ((), ())

    # -- I2C ----------------------------------------------------------------------
    def _error(self, cls, what):
        return cls(self.bus_name, self.address, what)

    def _read_into(self, reg, buf):
        try:
            self.bus.readfrom_mem_into(self.address, reg, buf, addrsize=16)
        except OSError as e:
            raise self._error(SensorBusError, "no answer reading 0x%04x (%s)" % (reg, e))

    def _read_word(self, reg):
        self._read_into(reg, self._w)
        return (self._w[0] << 8) | self._w[1]

    def _write_word(self, reg, value):
        self._w[0] = value >> 8
        self._w[1] = value & 0xFF
        try:
            self.bus.writeto_mem(self.address, reg, self._w, addrsize=16)
        except OSError as e:
            raise self._error(SensorBusError, "no answer writing 0x%04x (%s)" % (reg, e))

    def _set_freq(self, hz):
        if hz and hasattr(self.bus, "set_freq"):
            self.bus.set_freq(hz)

    # -- start-up -----------------------------------------------------------------
    def begin(self):
        """Read and check the calibration, then configure the sensor. Raises SensorError."""
        try:
            self._load_calibration()
        except SensorError as e:
            self.error_counts[e.kind] += 1
            raise
        self.configure()
        return self

    def _read_eeprom(self):
        raw = bytearray(2 * EEPROM_WORDS)
        running_hz = self.operating_hz or getattr(self.bus, "freq", None)
        if running_hz is None or running_hz > EEPROM_MAX_HZ:
            self._set_freq(EEPROM_MAX_HZ)
        try:
            self._read_into(EEPROM_ADDRESS, raw)
        finally:
            self._set_freq(running_hz)
        return raw

    def _load_calibration(self):
        raw = self._read_eeprom()
        slot = "%s_%02x" % (self.bus_name, self.address)
        saved = self.eeprom_store.load(slot) if self.eeprom_store else None
        live_cal, live_problem = self._calibration_from(raw)
        if saved is None or saved == raw:
            if live_cal is None:
                raise self._error(SensorEepromError, "EEPROM corrupt and no saved copy: " + live_problem)
            if saved is None and self.eeprom_store:
                self.eeprom_store.save(slot, raw)
            self.cal = live_cal
            return
        differ = 0
        for i in range(0, len(raw), 2):
            if raw[i] != saved[i] or raw[i + 1] != saved[i + 1]:
                differ += 1
        same_sensor = raw[14:20] == saved[14:20]   # device id, words 7..9
        if live_cal is not None and not same_sensor:
            self._warn("a different sensor is fitted (device id changed): saved its EEPROM")
            self.eeprom_store.save(slot, raw)
            self.cal = live_cal
            return
        saved_cal, saved_problem = self._calibration_from(saved)
        if saved_cal is None:
            raise self._error(SensorEepromError, "EEPROM differs from an unusable saved copy: "
                              + saved_problem)
        self._warn("EEPROM no longer matches the copy saved on flash (%d of %d words differ%s): "
                   "using the saved copy" % (differ, EEPROM_WORDS,
                                             "" if live_cal else "; live copy: " + live_problem))
        self.cal = saved_cal

    def _calibration_from(self, raw):
        words = array('H', bytes(2 * EEPROM_WORDS))
        for i in range(EEPROM_WORDS):
            words[i] = _word(raw, i)
        try:
            cal = Calibration(words)
        except CalibrationError as e:
            return None, str(e)
        if cal.i2c_address != self.address:
            return None, "EEPROM holds I2C address 0x%02x, sensor answers at 0x%02x" % (
                cal.i2c_address, self.address)
        return cal, None

    def _warn(self, text):
        self.eeprom_warning = text
        if self.log:
            self.log("WARNING %s at 0x%02x: %s" % (self.bus_name, self.address, text))

    def configure(self, refresh_hz=None, resolution_bits=None, chess=None):
        """Write refresh rate, ADC resolution and chess/interleaved mode; verify them."""
        if refresh_hz is not None:
            self.refresh_hz = refresh_hz
        if resolution_bits is not None:
            self.resolution_bits = resolution_bits
        if chess is not None:
            self.chess = chess
        if self.refresh_hz not in REFRESH_RATES_HZ:
            raise ValueError("refresh_hz must be one of %r" % (REFRESH_RATES_HZ,))
        if self.resolution_bits not in RESOLUTIONS_BITS:
            raise ValueError("resolution_bits must be one of %r" % (RESOLUTIONS_BITS,))
        control = self._read_word(REG_CONTROL) & ~0x1F80
        control |= REFRESH_RATES_HZ.index(self.refresh_hz) << 7
        control |= RESOLUTIONS_BITS.index(self.resolution_bits) << 10
        control |= 0x1000 if self.chess else 0
        self._write_word(REG_CONTROL, control)
        back = self._read_word(REG_CONTROL)
        if back != control:
            raise self._error(SensorBusError, "control register reads 0x%04x after writing 0x%04x"
                              % (back, control))
        self._control = control
        self._segments = (subpage_runs(self.cal, self.chess, 0), subpage_runs(self.cal, self.chess, 1))
        self._fresh = 0

    # -- frames -------------------------------------------------------------------
    def subpage_ready(self):
        """True when the sensor has a new subpage waiting (non-blocking)."""
        return bool(self._read_word(REG_STATUS) & STATUS_NEW_DATA)

    def subpage_period_ms(self):
        return int(1000 / self.refresh_hz)

    def read_frame(self):
        """Block until both subpages are fresh, then return the full frame (C, 24 x 32).

        Faults are counted in `error_counts` and retried `retries` times; after that the
        typed SensorError is raised for the caller to count and carry on.
        """
        attempt = 0
        while True:
            try:
                while self._fresh != 3:
                    self.read_subpage()
                break
            except SensorError as e:
                self.error_counts[e.kind] += 1
                if attempt >= self.retries:
                    raise
                attempt += 1
                self.retry_count += 1
        self._fresh = 0
        self._repair_bad_pixels()
        self.frames += 1
        return self.frame

    def poll_frame(self):
        """Non-blocking: read the waiting subpage, if any. Returns the frame once both
        subpages are fresh, else None. Faults are counted, then raised as SensorError
        (no retries here: the caller's loop comes back on its next pass)."""
        try:
            if not self.subpage_ready():
                return None
            self.read_subpage()
        except SensorError as e:
            self.error_counts[e.kind] += 1
            raise
        if self._fresh != 3:
            return None
        self._fresh = 0
        self._repair_bad_pixels()
        self.frames += 1
        return self.frame

    def read_subpage(self):
        """Wait for, read and compute one subpage; returns its number (0 or 1)."""
        status = self._wait_new_data()
        for _ in range(5):
            self._write_word(REG_STATUS, STATUS_CLEAR)
            self._read_into(RAM_ADDRESS, self._ram)
            status = self._read_word(REG_STATUS)
            if not status & STATUS_NEW_DATA:
                break
        else:
            raise self._error(SensorDataError, "RAM kept changing during 5 reads (bus too slow?)")
        subpage = status & 1
        self._compute_subpage(subpage)
        self._fresh |= 1 << subpage
        self.subpages += 1
        return subpage

    def _wait_new_data(self):
        clock = self.clock
        period = self.subpage_period_ms()
        poll = period // 16 or 1
        start = clock.ticks_ms()
        while True:
            status = self._read_word(REG_STATUS)
            if status & STATUS_NEW_DATA:
                return status
            if clock.ticks_diff(clock.ticks_ms(), start) > 3 * period + 100:
                raise self._error(SensorBusError, "no new data for %d ms (status 0x%04x)"
                                  % (3 * period + 100, status))
            clock.sleep_ms(poll)

    def _supply_and_ambient(self):
        # Vdd (V) and Ta (C) of the subpage in the RAM buffer; datasheet 11.2.2.2-11.2.2.3.
        ram = self._ram
        cal = self.cal
        for i in (_VBE, _CP0, _GAIN, _PTAT, _CP1, _VDD):
            if _word(ram, i) == 0x7FFF:
                raise self._error(SensorDataError, "auxiliary word 0x%04x reads 0x7FFF" % (RAM_ADDRESS + i))
        resolution_ram = (self._control >> 10) & 3
        correction = (1 << cal.resolution_ee) / (1 << resolution_ram)
        vdd = (correction * _signed_word(ram, _VDD) - cal.vdd25) / cal.k_vdd + 3.3
        if not 2.5 < vdd < 4.0:
            raise self._error(SensorDataError, "supply reads %.2f V" % vdd)
        ptat = _signed_word(ram, _PTAT)
        denominator = ptat * cal.alpha_ptat + _signed_word(ram, _VBE)
        if denominator == 0:
            raise self._error(SensorDataError, "PTAT/VBE words are zero")
        ptat_art = ptat / denominator * 262144
        ta = (ptat_art / (1 + cal.kv_ptat * (vdd - 3.3)) - cal.v_ptat25) / cal.kt_ptat + 25
        if not -45.0 < ta < 95.0:
            raise self._error(SensorDataError, "sensor ambient reads %.1f C" % ta)
        return vdd, ta

    def _compute_subpage(self, subpage):
        # Datasheet 11.2.2.5-11.2.2.9 with everything that depends only on the EEPROM,
        # Vdd or Ta hoisted out of the pixel loop (the loop is the per-frame cost).
        cal = self.cal
        ram = self._ram
        vdd, ta = self._supply_and_ambient()
        self.vdd = vdd
        self.ta = ta
        gain_ram = _signed_word(ram, _GAIN)
        if gain_ram == 0:
            raise self._error(SensorDataError, "gain word reads 0")
        gain = cal.gain_ee / gain_ram
        dta = ta - 25
        dv = vdd - 3.3
        cp_factor = (1 + cal.cp_kta * dta) * (1 + cal.cp_kv * dv)
        if subpage == 0:
            cp = _signed_word(ram, _CP0) * gain - cal.cp_offset[0] * cp_factor
        else:
            cp_offset = cal.cp_offset[1]
            if (0x80 if self.chess else 0) != cal.calibration_mode_ee:
                cp_offset += cal.il_chess_c[0]
            cp = _signed_word(ram, _CP1) * gain - cp_offset * cp_factor
        tgc_cp = cal.tgc * cp
        # The maker's current library subtracts the mean of both CP alphas (the datasheet
        # example uses the subpage's own; the two differ by ~0.03 C at TGC = 1).
        tgc_alpha = cal.tgc * (cal.cp_alpha[0] + cal.cp_alpha[1]) / 2
        tr = (ta - 8) if self.reflected_c is None else self.reflected_c
        ta4 = (ta + _K) ** 4
        tr4 = (tr + _K) ** 4
        tatr = tr4 - (tr4 - ta4) / self.emissivity
        # x = IR / alpha_comp, with emissivity and the KsTa factor folded into the scale.
        scale = 1 / (self.emissivity * (1 + cal.ks_ta * dta))
        gain_s = gain * scale
        kvs = cal.kv
        k1 = cal.ks_to[1]
        c1 = 1 - k1 * _K
        lo = _K + cal.ct[1]
        hi = _K + cal.ct[2]
        offset = cal.offset
        kta = cal.kta
        alpha = cal.alpha
        frame = self.frame
        sqrt = math.sqrt
        p = -1
        raw = 0
        try:
            for start, stop, split, corr in self._segments[subpage]:
                kvf = (1 + kvs[split] * dv) * scale
                add = (corr - tgc_cp) * scale
                for p in range(start, stop, 4):
                    i = p + p
                    raw = (ram[i] << 8) | ram[i + 1]
                    if raw > 32767:
                        raw -= 65536
                    x = (raw * gain_s - offset[p] * (1.0 + kta[p] * dta) * kvf + add) / (alpha[p] - tgc_alpha)
                    # Three fixed-point steps of the maker's method: no KsTo, the range-1
                    # estimate, then the range-1 result (datasheet 11.2.2.9).
                    t = sqrt(sqrt(x + tatr))
                    t = sqrt(sqrt(x / (c1 + k1 * t) + tatr))
                    if lo <= t < hi:
                        frame[p] = sqrt(sqrt(x / (c1 + k1 * t) + tatr)) - _K
                    else:
                        frame[p] = self._to_outside_range1(p, raw, x, t - _K, tatr)
        except (ValueError, ZeroDivisionError):
            raise self._error(SensorDataError, "pixel %d (word 0x%04x) gives no temperature"
                              % (p, raw & 0xFFFF))

    def _to_outside_range1(self, p, raw, x, to, tatr):
        # Rare: below 0 C or above CT2. Ranges 0, 2, 3 of the maker's method.
        if raw == 0x7FFF:
            raise self._error(SensorDataError, "pixel %d reads 0x7FFF" % p)
        cal = self.cal
        ct = cal.ct
        ks = cal.ks_to
        if to < ct[1]:
            r, corr_r = 0, 1 / (1 + ks[0] * 40)
        elif to < ct[2]:
            r, corr_r = 1, 1.0
        elif to < ct[3]:
            r, corr_r = 2, 1 + ks[1] * ct[2]
        else:
            r, corr_r = 3, (1 + ks[1] * ct[2]) * (1 + ks[2] * (ct[3] - ct[2]))
        to = math.sqrt(math.sqrt(x / (corr_r * (1 + ks[r] * (to - ct[r]))) + tatr)) - _K
        if not TO_PLAUSIBLE_MIN <= to <= TO_PLAUSIBLE_MAX:
            raise self._error(SensorDataError, "pixel %d reads %.0f C, outside the sensor's range "
                              "(swapped bytes or a bus fault)" % (p, to))
        return to

    def _repair_bad_pixels(self):
        # Broken and outlier pixels (never adjacent) take the median of their neighbours.
        frame = self.frame
        for p in self.cal.bad_pixels:
            row = p >> 5
            col = p & 31
            around = []
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                r = row + dr
                c = col + dc
                if 0 <= r < ROWS and 0 <= c < COLS:
                    around.append(frame[r * COLS + c])
            frame[p] = _median(around)
