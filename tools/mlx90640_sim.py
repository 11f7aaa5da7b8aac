"""A register-level MLX90640 and an I2C bus to hang it on, for tests and simulated boards.

The simulated sensor answers the EEPROM, RAM, status and control registers and measures a
new subpage every 1/R seconds of (virtual) time at the configured refresh rate R. Given a
scene (object temperatures for the 24 x 32 pixels and the air temperature), it writes the
raw RAM words a real sensor with its calibration would, using the radiometric model the
maker's method inverts: IR = alpha_comp * (1 + KsTo (To - CT)) * (To^4 - Ta_r^4), then the
pixel offset, supply and ambient terms and the gain. The driver therefore has to recover
the scene; the only loss is the integer RAM word (and noise, when asked for).
"""
from __future__ import annotations

import errno
import random
from array import array

from thermocc_device.mlx90640_cal import (
    COLS, EEPROM_ADDRESS, EEPROM_WORDS, PIXELS, ROWS, Calibration, pixels_adjacent, subpage_runs)

RAM_ADDRESS = 0x0400
RAM_WORDS = 832
REG_STATUS = 0x8000
REG_CONTROL = 0x800D
REG_I2C_CONFIG = 0x800F
STATUS_NEW_DATA = 0x0008
REFRESH_RATES_HZ = (0.5, 1, 2, 4, 8, 16, 32, 64)
_K = 273.15
# Datasheet noise (C rms) by refresh rate for the 110x75 (BAA) and 55x35 (BAB) variants.
NOISE_RMS_C = {
    "BAA": {0.5: 0.11, 1: 0.14, 2: 0.19, 4: 0.26, 8: 0.36, 16: 0.52, 32: 0.74, 64: 1.05},
    "BAB": {0.5: 0.18, 1: 0.26, 2: 0.35, 4: 0.48, 8: 0.68, 16: 0.99, 32: 1.40, 64: 1.98},
}
# What a sensor in open air reads above its surroundings (the maker's tr = Ta - 8).
SELF_HEATING_C = 8.0
VBE_WORD = 19_800          # a typical Vbe reading; Ta is encoded in the PTAT word
I2C_BITS_PER_BYTE = 9      # 8 data bits + ACK


def _u16(v):
    return int(v) & 0xFFFF


def _clamp16(v):
    return max(-32768, min(32766, int(round(v))))   # 0x7FFF is the sensor's "no data"


class SimI2CBus:
    """machine.I2C look-alike: repeated-start memory reads/writes with 16-bit addresses.

    Transfers take virtual time on the clock (9 bits a byte at the bus frequency), so a
    slow bus really does fall behind a fast refresh rate.
    """

    def __init__(self, name="i2c0", freq=1_000_000, clock=None):
        self.name = name
        self.freq = freq
        self.clock = clock
        self.targets = {}
        self.transfers = 0

    def attach(self, target):
        self.targets[target.address] = target
        target.bus = self
        return target

    def detach(self, address):
        self.targets.pop(address, None)

    def set_freq(self, hz):
        self.freq = hz

    def scan(self):
        return sorted(a for a, t in self.targets.items() if t.answers())

    def _target(self, addr):
        t = self.targets.get(addr)
        if t is None or not t.answers():
            raise OSError(errno.ENODEV, "no device at 0x%02x" % addr)
        return t

    def _spend(self, nbytes):
        self.transfers += 1
        if self.clock is not None:
            self.clock.advance_us((nbytes + 4) * I2C_BITS_PER_BYTE * 1_000_000 / self.freq)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=16):
        t = self._target(addr)
        words = t.read_words(memaddr, len(buf) // 2)
        for i, w in enumerate(words):
            buf[2 * i] = w >> 8
            buf[2 * i + 1] = w & 0xFF
        self._spend(len(buf))

    def writeto_mem(self, addr, memaddr, buf, addrsize=16):
        t = self._target(addr)
        for i in range(len(buf) // 2):
            t.write_word(memaddr + i, (buf[2 * i] << 8) | buf[2 * i + 1])
        self._spend(len(buf))


class SimMLX90640:
    """One simulated sensor. Faults for tests: set `fault` to one of FAULTS."""

    FAULTS = (None, "no_answer", "garbage", "swapped_bytes", "stuck_7fff", "no_new_data")

    def __init__(self, eeprom_words, clock, address=None, variant="BAA", noise=False, seed=0,
                 emissivity=1.0):
        if len(eeprom_words) != EEPROM_WORDS:
            raise ValueError("an MLX90640 EEPROM has 832 words")
        self.eeprom = array("H", eeprom_words)
        self.cal = Calibration(self.eeprom)
        self.address = address if address is not None else self.cal.i2c_address
        self.clock = clock
        self.variant = variant
        self.noise = noise
        self.emissivity = emissivity
        self.rng = random.Random(seed)
        self.bus = None
        self.fault = None
        self.ram = array("H", [0] * RAM_WORDS)
        self.control = 0x1901          # power-on default: 2 Hz, 18 bit, chess, subpages on
        self.status = 0x0000
        self.subpage = 1                # the first measurement is subpage 0
        self.eeprom_read_freqs = []     # bus frequency of every EEPROM read, for tests
        self.subpages_measured = 0
        self.vdd = 3.3
        self.air_c = 22.0
        self.objects_c = [22.0] * PIXELS
        # Per pixel, after each measurement: the temperature its integer word stands for
        # (exact root of the radiometric model) and the temperature step of one count.
        self.represented_c = array("d", [0.0] * PIXELS)
        self.quantum_c = array("d", [0.0] * PIXELS)
        self._next_us = self._period_us()

    # -- scene ----------------------------------------------------------------------
    def set_scene(self, objects_c, air_c=None, vdd=3.3):
        """Object temperatures (768, row-major, C) the driver should read; air temperature."""
        if len(objects_c) != PIXELS:
            raise ValueError("a scene has 768 pixel temperatures")
        self.objects_c = list(objects_c)
        if air_c is not None:
            self.air_c = air_c
        self.vdd = vdd

    @property
    def die_c(self):
        return self.air_c + SELF_HEATING_C

    @property
    def refresh_hz(self):
        return REFRESH_RATES_HZ[(self.control >> 7) & 7]

    @property
    def chess(self):
        return bool(self.control & 0x1000)

    def noise_rms_c(self):
        return NOISE_RMS_C[self.variant][self.refresh_hz] if self.noise else 0.0

    def _period_us(self):
        return int(1_000_000 / REFRESH_RATES_HZ[(self.control >> 7) & 7])

    # -- register access ------------------------------------------------------------
    def answers(self):
        return self.fault != "no_answer"

    def _advance(self):
        if self.clock is None or self.fault == "no_new_data":
            return
        period = self._period_us()
        behind = (self.clock.us - self._next_us) // period
        if behind > 4:
            # the sensor only keeps its latest subpages: skip what nobody could have read,
            # an even number of periods so the subpage order is kept
            self._next_us += (behind - behind % 2 - 2) * period
        while self.clock.us >= self._next_us:
            self.measure()
            self._next_us += self._period_us()

    def read_words(self, reg, n):
        self._advance()
        out = []
        for i in range(n):
            out.append(self._read_one(reg + i))
        if self.fault == "garbage":
            out = [self.rng.randrange(65536) for _ in out]
        elif self.fault == "swapped_bytes" and RAM_ADDRESS <= reg < RAM_ADDRESS + RAM_WORDS:
            out = [((w & 0xFF) << 8) | (w >> 8) for w in out]
        return out

    def _read_one(self, a):
        if EEPROM_ADDRESS <= a < EEPROM_ADDRESS + EEPROM_WORDS:
            if a == EEPROM_ADDRESS and self.bus is not None:
                self.eeprom_read_freqs.append(self.bus.freq)
            return self.eeprom[a - EEPROM_ADDRESS]
        if RAM_ADDRESS <= a < RAM_ADDRESS + RAM_WORDS:
            if self.fault == "stuck_7fff" and a < RAM_ADDRESS + PIXELS:
                return 0x7FFF
            return self.ram[a - RAM_ADDRESS]
        if a == REG_STATUS:
            return self.status
        if a == REG_CONTROL:
            return self.control
        if a == REG_I2C_CONFIG:
            return 0x0000
        return 0x0000

    def write_word(self, a, value):
        self._advance()
        if a == REG_STATUS:
            # Writing 0 to bit 3 clears "new data"; bits 4-5 are settings.
            self.status = (self.status & 0x0007) | (value & 0x0038)
        elif a == REG_CONTROL:
            rate_changed = (value ^ self.control) & 0x0380
            self.control = value & 0xFFFF
            if rate_changed and self.clock is not None:
                self._next_us = self.clock.us + self._period_us()
        # EEPROM writes need the maker's erase/write sequence; the firmware never writes it.

    # -- measurement ------------------------------------------------------------------
    def measure(self, subpage=None):
        """Take the next subpage (alternating) now, as the sensor does every 1/R s."""
        self.subpage = (1 - self.subpage) if subpage is None else subpage
        self.encode_subpage(self.subpage)
        self.status = (self.status & 0x0030) | STATUS_NEW_DATA | self.subpage
        self.subpages_measured += 1

    def load_ram(self, words, subpage, control=None):
        """Put recorded RAM words (834 or 832) in place, as if just measured."""
        for i in range(RAM_WORDS):
            self.ram[i] = words[i]
        if control is not None:
            self.control = control
        self.subpage = subpage
        self.status = (self.status & 0x0030) | STATUS_NEW_DATA | subpage

    def encode_subpage(self, subpage):
        cal = self.cal
        ram = self.ram
        resolution_ram = (self.control >> 10) & 3
        correction = (1 << cal.resolution_ee) / (1 << resolution_ram)
        vdd_word = _clamp16(((self.vdd - 3.3) * cal.k_vdd + cal.vdd25) / correction)
        vdd = (correction * vdd_word - cal.vdd25) / cal.k_vdd + 3.3
        # PTAT from the die temperature: invert Ta = (PTATart / (1 + KvPTAT dV) - VPTAT25) / KtPTAT + 25.
        ptat_art = ((self.die_c - 25) * cal.kt_ptat + cal.v_ptat25) * (1 + cal.kv_ptat * (vdd - 3.3))
        ptat_word = _clamp16(ptat_art * VBE_WORD / (262144 - ptat_art * cal.alpha_ptat))
        ptat_art = ptat_word / (ptat_word * cal.alpha_ptat + VBE_WORD) * 262144
        ta = (ptat_art / (1 + cal.kv_ptat * (vdd - 3.3)) - cal.v_ptat25) / cal.kt_ptat + 25
        gain_word = _clamp16(cal.gain_ee / 1.01)
        gain = cal.gain_ee / gain_word
        dta = ta - 25
        dv = vdd - 3.3
        cp_factor = (1 + cal.cp_kta * dta) * (1 + cal.cp_kv * dv)
        mismatch = (0x80 if self.chess else 0) != cal.calibration_mode_ee
        cp_offset = cal.cp_offset[subpage] + (cal.il_chess_c[0] if subpage == 1 and mismatch else 0)
        cp_word = _clamp16(cp_offset * cp_factor / gain)   # a blind pixel reads its own offset
        cp = cp_word * gain - cp_offset * cp_factor
        ram[768] = VBE_WORD
        ram[768 + (8 if subpage == 0 else 40)] = _u16(cp_word)
        ram[768 + 10] = _u16(gain_word)
        ram[768 + 32] = _u16(ptat_word)
        ram[768 + 42] = _u16(vdd_word)
        # Pixels.
        tr = ta - SELF_HEATING_C
        ta4 = (ta + _K) ** 4
        tr4 = (tr + _K) ** 4
        tatr = tr4 - (tr4 - ta4) / self.emissivity
        ksta = 1 + cal.ks_ta * dta
        alpha_cp = cal.tgc * (cal.cp_alpha[0] + cal.cp_alpha[1]) / 2
        ks, ct = cal.ks_to, cal.ct
        corr_r = (1 / (1 + ks[0] * 40), 1.0, 1 + ks[1] * ct[2],
                  (1 + ks[1] * ct[2]) * (1 + ks[2] * (ct[3] - ct[2])))
        noise = self.noise_rms_c()
        for start, stop, split, corr in subpage_runs(cal, self.chess, subpage):
            kvf = 1 + cal.kv[split] * dv
            for p in range(start, stop, 4):
                to = self.objects_c[p]
                if noise:
                    to += self.rng.gauss(0.0, noise)
                r = 0 if to < ct[1] else 1 if to < ct[2] else 2 if to < ct[3] else 3
                x = _radiance(to, r, tatr, corr_r, ks, ct)
                to_x = (cal.alpha[p] - alpha_cp) * ksta * self.emissivity   # IR per unit x
                pixel_offset = cal.offset[p] * (1 + cal.kta[p] * dta) * kvf - corr + cal.tgc * cp
                raw = _clamp16((x * to_x + pixel_offset) / gain)
                ram[p] = _u16(raw)
                # What that integer stands for: solve radiance(T) = x_raw by Newton steps.
                x_raw = (raw * gain - pixel_offset) / to_x
                t = to
                for _ in range(6):
                    f = _radiance(t, r, tatr, corr_r, ks, ct) - x_raw
                    d = _radiance_slope(t, r, tatr, corr_r, ks, ct)
                    t -= f / d
                self.represented_c[p] = t
                self.quantum_c[p] = gain / (to_x * _radiance_slope(t, r, tatr, corr_r, ks, ct))


def _radiance(to_c, r, tatr, corr_r, ks, ct):
    # IR / alpha_comp of an object at to_c in temperature range r (datasheet 11.2.2.9).
    return ((to_c + _K) ** 4 - tatr) * corr_r[r] * (1 + ks[r] * (to_c - ct[r]))


def _radiance_slope(to_c, r, tatr, corr_r, ks, ct):
    tk = to_c + _K
    return corr_r[r] * (4 * tk ** 3 * (1 + ks[r] * (to_c - ct[r])) + (tk ** 4 - tatr) * ks[r])


# -- calibration sets -----------------------------------------------------------------------
def _field(value, bits):
    return value & ((1 << bits) - 1)


def _nibble_words(values):
    words = []
    for i in range(0, len(values), 4):
        w = 0
        for j, v in enumerate(values[i:i + 4]):
            w |= _field(v, 4) << (4 * j)
        words.append(w)
    return words


def generate_eeprom(seed=0, variant="BAA", address=0x33, tgc=None, deviating=0, chess_calibrated=True):
    """A plausible, self-consistent 832-word EEPROM (a sensor that was never made).

    Fields are drawn within the ranges real sensors show; `variant` sets the pixel
    sensitivity scale (the 55x35 BAB lens sees more signal per pixel than the 110x75 BAA).
    """
    rng = random.Random(seed)
    ee = [0] * EEPROM_WORDS
    ri = rng.randint
    ee[0], ee[1], ee[3] = 0x00AE, 0x499A, 0x2061
    ee[7], ee[8], ee[9] = ri(0, 0xFFFF), ri(0, 0xFFFF), ri(0, 0xFFFF)
    ee[10] = 0x0499 | (0 if chess_calibrated else 0x0800)
    ee[12] = 0x1901
    ee[15] = 0xBE00 | address
    occ_rem, occ_col, occ_row = ri(0, 1), ri(0, 2), ri(1, 3)
    ee[16] = (4 << 12) | (occ_row << 8) | (occ_col << 4) | occ_rem      # alphaPTAT = 9
    ee[17] = _field(ri(-110, -30), 16)                                     # offset reference
    ee[18:24] = _nibble_words([ri(-2, 2) for _ in range(ROWS)])
    ee[24:32] = _nibble_words([ri(-3, 3) for _ in range(COLS)])
    alpha_scale = 8 if variant == "BAA" else 7
    acc_rem, acc_col, acc_row = ri(4, 5), ri(8, 9), ri(7, 8)
    ee[32] = ((alpha_scale - 0) << 12) | (acc_row << 8) | (acc_col << 4) | acc_rem
    ee[33] = ri(9_500, 14_000) if variant == "BAA" else ri(13_000, 16_000)
    ee[34:40] = _nibble_words([ri(-3, 3) for _ in range(ROWS)])
    ee[40:48] = _nibble_words([ri(-3, 3) for _ in range(COLS)])
    ee[48] = ri(5_000, 6_500)                                              # gainEE
    ee[49] = ri(11_600, 12_600)                                            # vPTAT25
    ee[50] = (_field(ri(5, 12), 6) << 10) | _field(ri(320, 360), 10)       # KvPTAT, KtPTAT*8
    ee[51] = (_field(ri(-110, -90), 8) << 8) | ri(100, 140)                # kVdd, vdd25
    ee[52] = _nibble_words([ri(4, 7) for _ in range(4)])[0]                # KvT
    ee[53] = (_field(ri(-4, 4), 5) << 11) | (_field(ri(-4, 4), 5) << 6) | _field(ri(-10, 10), 6)
    ee[54] = (_field(ri(50, 70), 8) << 8) | _field(ri(50, 70), 8)          # KtaRC
    ee[55] = (_field(ri(50, 70), 8) << 8) | _field(ri(50, 70), 8)
    ee[56] = (2 << 12) | (4 << 8) | (5 << 4) | 2                           # resolution, scales
    ee[57] = (_field(ri(-10, 10), 6) << 10) | ri(80, 140)                  # CP alpha
    ee[58] = (_field(ri(-3, 3), 6) << 10) | _field(ri(-90, -50), 10)       # CP offset
    ee[59] = (_field(ri(4, 8), 8) << 8) | _field(ri(25, 45), 8)            # CP Kv, CP Kta
    tgc_value = ri(-8, 40) if tgc is None else int(round(tgc * 32))
    ee[60] = (_field(ri(-24, -12), 8) << 8) | _field(tgc_value, 8)        # KsTa, TGC
    ks_to = _field(ri(-110, -95), 8)
    ee[61] = (ks_to << 8) | ks_to
    ee[62] = (ks_to << 8) | ks_to
    ee[63] = (2 << 12) | (10 << 8) | (15 << 4) | 11                       # CT step 20: 300, 500
    for p in range(PIXELS):
        ee[64 + p] = (_field(ri(-12, 12), 6) << 10) | (_field(ri(-8, 8), 6) << 4) | (_field(ri(-2, 2), 3) << 1)
        if ee[64 + p] == 0:
            ee[64 + p] = 0x0400
    bad = []
    while len(bad) < deviating:
        p = ri(0, PIXELS - 1)
        if all(not pixels_adjacent(p, q) for q in bad):
            bad.append(p)
    for i, p in enumerate(bad):
        ee[64 + p] = 0 if i % 2 == 0 else ee[64 + p] | 1
    return ee


def attach_sensor(bus, eeprom_words, clock, **kw):
    """Create a simulated sensor on `bus` and return it."""
    return bus.attach(SimMLX90640(eeprom_words, clock, **kw))
