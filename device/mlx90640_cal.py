# MLX90640 calibration: the 832 EEPROM words -> the parameters of the maker's method.
#
# Runs unchanged on MicroPython (ESP32) and CPython. Per-pixel parameters live in
# compact arrays (int16 offsets, float32 alpha and Kta), never lists of floats: on an
# ESP32 every boxed float is a 16-byte heap block.
#
# Word indices below are relative to EEPROM address 0x2400 (datasheet section 11.1).
from array import array

EEPROM_ADDRESS = 0x2400
EEPROM_WORDS = 832
PIXELS = 768
ROWS = 24
COLS = 32
MAX_DEVIATING_PIXELS = 4


class CalibrationError(ValueError):
    """The EEPROM content cannot be a valid MLX90640 calibration."""


def _s(value, bits):
    # Two's complement of a `bits`-wide field.
    if value >= 1 << (bits - 1):
        return value - (1 << bits)
    return value


def _nibbles(ee, first, count):
    # `count` signed 4-bit values packed four per word, lowest nibble first.
    out = []
    for i in range(count):
        word = ee[first + (i >> 2)]
        out.append(_s((word >> ((i & 3) * 4)) & 0xF, 4))
    return out


def pixel_split(p):
    # Row/column parity index used by Kta and Kv: 0 even row & even column (the maker's
    # "RoCo", 1-based odd/odd), 1 even row & odd column, 2 odd row & even column, 3 odd/odd.
    return 2 * ((p >> 5) & 1) + (p & 1)


def pixels_adjacent(a, b):
    # The maker's adjacency rule: same or neighbouring pixel in a row, or directly
    # above/below (including diagonals).
    d = a - b
    return -34 < d < -30 or -2 < d < 2 or 30 < d < 34


def subpage_runs(cal, chess, subpage):
    """The pixels of one subpage as runs (start, stop, split, mode correction), step 4.

    Along a run the Kv split (row/column parity) and the correction the maker applies
    when the sensor runs in the other mode than it was calibrated in are constant, so
    they stay out of the per-pixel loop.
    """
    mismatch = (0x80 if chess else 0) != cal.calibration_mode_ee
    runs = []
    for row in range(ROWS):
        il = row & 1
        for col0 in range(4):
            p0 = row * COLS + col0
            pattern = ((row + col0) & 1) if chess else il
            if pattern != subpage:
                continue
            corr = 0.0
            if mismatch:
                conversion = (0, -1, 0, 1)[col0] * (1 - 2 * il)
                corr = cal.il_chess_c[2] * (2 * il - 1) - cal.il_chess_c[1] * conversion
            runs.append((p0, row * COLS + COLS, pixel_split(p0), corr))
    return tuple(runs)


class Calibration:
    """Every parameter the maker's temperature method needs, extracted once."""

    def __init__(self, ee):
        if len(ee) != EEPROM_WORDS:
            raise CalibrationError("EEPROM has %d words, expected %d" % (len(ee), EEPROM_WORDS))
        self._check_plausible_words(ee)
        self.device_id = (ee[7], ee[8], ee[9])
        self.i2c_address = ee[15] & 0xFF
        self._extract_supply_and_ptat(ee)
        self._extract_gain_and_ranges(ee)
        self._extract_compensation_pixel(ee)
        self._extract_pixels(ee)
        self._extract_deviating_pixels(ee)
        self._check_plausible_values()

    # -- checks ---------------------------------------------------------------------
    @staticmethod
    def _check_plausible_words(ee):
        blank = 0
        for w in ee:
            if w == 0xFFFF or w == 0x0000:
                blank += 1
        if blank > EEPROM_WORDS // 2:
            raise CalibrationError("EEPROM reads as blank (%d of %d words are 0x0000 or 0xFFFF)"
                                   % (blank, EEPROM_WORDS))
        header_blank = 0
        for i in range(16, 64):
            if ee[i] == 0xFFFF or ee[i] == 0:
                header_blank += 1
        if header_blank > 8:
            raise CalibrationError("EEPROM calibration header is blank (%d of 48 words)" % header_blank)

    def _check_plausible_values(self):
        # Ranges wide enough for every MLX90640 variant, narrow enough to catch byte swaps
        # and bit flips in the words that matter most.
        problems = []
        if not -32768 <= self.k_vdd < 0:
            problems.append("kVdd %d is not negative" % self.k_vdd)
        if not self.vdd25 < 0:
            problems.append("vdd25 %d is not negative" % self.vdd25)
        if not 0 < self.kt_ptat:
            problems.append("KtPTAT %r is not positive" % self.kt_ptat)
        if not 0 < self.v_ptat25:
            problems.append("vPTAT25 %d is not positive" % self.v_ptat25)
        if not 0 < self.gain_ee:
            problems.append("gainEE %d is not positive" % self.gain_ee)
        amin = amax = self.alpha[0]
        for a in self.alpha:
            if a < amin:
                amin = a
            elif a > amax:
                amax = a
        if not (1e-9 < amin and amax < 1e-6):
            problems.append("pixel sensitivity alpha out of range (%.3g..%.3g)" % (amin, amax))
        if problems:
            raise CalibrationError("implausible calibration: " + "; ".join(problems))

    # -- extraction (datasheet 11.1, the maker's ExtractParameters) -------------------
    def _extract_supply_and_ptat(self, ee):
        self.k_vdd = _s(ee[51] >> 8, 8) * 32
        self.vdd25 = (((ee[51] & 0xFF) - 256) << 5) - 8192
        self.kv_ptat = _s(ee[50] >> 10, 6) / 4096
        self.kt_ptat = _s(ee[50] & 0x03FF, 10) / 8
        self.v_ptat25 = _s(ee[49], 16)
        self.alpha_ptat = (ee[16] >> 12) / 4 + 8

    def _extract_gain_and_ranges(self, ee):
        self.gain_ee = _s(ee[48], 16)
        self.tgc = _s(ee[60] & 0xFF, 8) / 32
        self.ks_ta = _s(ee[60] >> 8, 8) / 8192
        self.resolution_ee = (ee[56] >> 12) & 0x3
        # The maker's encoding: 0x80 when calibrated in chess mode (bit 11 of word 10 clear).
        self.calibration_mode_ee = ((ee[10] & 0x0800) >> 4) ^ 0x80
        step = ((ee[63] >> 12) & 0x3) * 10
        ct2 = ((ee[63] >> 4) & 0xF) * step
        self.ct = (-40, 0, ct2, ct2 + ((ee[63] >> 8) & 0xF) * step)
        ks_to_scale = 1 << ((ee[63] & 0xF) + 8)
        self.ks_to = (_s(ee[61] & 0xFF, 8) / ks_to_scale, _s(ee[61] >> 8, 8) / ks_to_scale,
                      _s(ee[62] & 0xFF, 8) / ks_to_scale, _s(ee[62] >> 8, 8) / ks_to_scale)
        self.il_chess_c = (_s(ee[53] & 0x3F, 6) / 16, _s((ee[53] >> 6) & 0x1F, 5) / 2,
                           _s(ee[53] >> 11, 5) / 8)

    def _extract_compensation_pixel(self, ee):
        alpha_scale_cp = (ee[32] >> 12) + 27
        a0 = _s(ee[57] & 0x03FF, 10) / (1 << alpha_scale_cp)
        self.cp_alpha = (a0, (1 + _s(ee[57] >> 10, 6) / 128) * a0)
        o0 = _s(ee[58] & 0x03FF, 10)
        self.cp_offset = (o0, o0 + _s(ee[58] >> 10, 6))
        self.kta_scale1 = ((ee[56] >> 4) & 0xF) + 8
        self.kta_scale2 = ee[56] & 0xF
        self.kv_scale = (ee[56] >> 8) & 0xF
        self.cp_kta = _s(ee[59] & 0xFF, 8) / (1 << self.kta_scale1)
        self.cp_kv = _s(ee[59] >> 8, 8) / (1 << self.kv_scale)

    def _extract_pixels(self, ee):
        occ_rem = ee[16] & 0xF
        occ_col_scale = (ee[16] >> 4) & 0xF
        occ_row_scale = (ee[16] >> 8) & 0xF
        offset_ref = _s(ee[17], 16)
        occ_row = _nibbles(ee, 18, ROWS)
        occ_col = _nibbles(ee, 24, COLS)
        acc_rem = ee[32] & 0xF
        acc_col_scale = (ee[32] >> 4) & 0xF
        acc_row_scale = (ee[32] >> 8) & 0xF
        alpha_div = 1 << ((ee[32] >> 12) + 30)
        alpha_ref = ee[33]
        acc_row = _nibbles(ee, 34, ROWS)
        acc_col = _nibbles(ee, 40, COLS)
        kta_rc = (_s(ee[54] >> 8, 8), _s(ee[55] >> 8, 8), _s(ee[54] & 0xFF, 8), _s(ee[55] & 0xFF, 8))
        kta_div = 1 << self.kta_scale1
        kta_mul = 1 << self.kta_scale2
        kv_div = 1 << self.kv_scale
        kv_t = (_s(ee[52] >> 12, 4), _s((ee[52] >> 4) & 0xF, 4), _s((ee[52] >> 8) & 0xF, 4),
                _s(ee[52] & 0xF, 4))
        self.kv = (kv_t[0] / kv_div, kv_t[1] / kv_div, kv_t[2] / kv_div, kv_t[3] / kv_div)
        offset = array('h', bytes(2 * PIXELS))
        alpha = array('f', bytes(4 * PIXELS))
        kta = array('f', bytes(4 * PIXELS))
        for row in range(ROWS):
            row_off = offset_ref + (occ_row[row] << occ_row_scale)
            row_alpha = alpha_ref + (acc_row[row] << acc_row_scale)
            for col in range(COLS):
                p = row * COLS + col
                w = ee[64 + p]
                offset[p] = _s(w >> 10, 6) * (1 << occ_rem) + row_off + (occ_col[col] << occ_col_scale)
                alpha[p] = ((_s((w >> 4) & 0x3F, 6) * (1 << acc_rem) + row_alpha
                             + (acc_col[col] << acc_col_scale)) / alpha_div)
                kta[p] = (_s((w >> 1) & 0x7, 3) * kta_mul + kta_rc[pixel_split(p)]) / kta_div
        self.offset = offset
        self.alpha = alpha
        self.kta = kta

    def _extract_deviating_pixels(self, ee):
        broken = []
        outliers = []
        for p in range(PIXELS):
            w = ee[64 + p]
            if w == 0:
                broken.append(p)
            elif w & 1:
                outliers.append(p)
            if len(broken) + len(outliers) > MAX_DEVIATING_PIXELS:
                raise CalibrationError("more than %d deviating pixels (broken %r, outliers %r...)"
                                       % (MAX_DEVIATING_PIXELS, broken, outliers))
        bad = broken + outliers
        for i in range(len(bad)):
            for j in range(i + 1, len(bad)):
                if pixels_adjacent(bad[i], bad[j]):
                    raise CalibrationError("deviating pixels %d and %d are adjacent" % (bad[i], bad[j]))
        self.broken_pixels = tuple(broken)
        self.outlier_pixels = tuple(outliers)
        self.bad_pixels = tuple(sorted(bad))

    # -- the maker's view, for conformance checks and diagnostics -----------------------
    def maker_parameters(self):
        """The parameters under the names of the maker's library (per-pixel as lists)."""
        kv = [self.kv[pixel_split(p)] for p in range(PIXELS)]
        return {
            "kVdd": self.k_vdd, "vdd25": self.vdd25, "KvPTAT": self.kv_ptat,
            "KtPTAT": self.kt_ptat, "vPTAT25": self.v_ptat25, "alphaPTAT": self.alpha_ptat,
            "gainEE": self.gain_ee, "tgc": self.tgc, "cpKv": self.cp_kv, "cpKta": self.cp_kta,
            "resolutionEE": self.resolution_ee, "calibrationModeEE": self.calibration_mode_ee,
            "KsTa": self.ks_ta, "ksTo": list(self.ks_to), "ct": list(self.ct),
            "alpha": list(self.alpha), "offset": list(self.offset), "kta": list(self.kta),
            "kv": kv, "cpAlpha": list(self.cp_alpha), "cpOffset": list(self.cp_offset),
            "ilChessC": list(self.il_chess_c), "brokenPixels": list(self.broken_pixels),
            "outlierPixels": list(self.outlier_pixels),
        }
