"""The driver against the sensor maker's own worked examples."""
import math

import pytest

from thermocc_device.mlx90640_cal import Calibration, pixel_split
from helpers import datasheet_eeprom, simulated_camera


def _decimals(text):
    return len(text.split(".")[1]) if "." in text else 0


def test_every_extracted_parameter_matches_the_makers_workbook(melexis_example):
    got = Calibration(melexis_example["ee"]).maker_parameters()
    checked = 0
    for key, text in melexis_example["params"].items():
        expected = float(text)
        if "[" in key:
            name, index = key[:-1].split("[")
            values = got[name]
            index = int(index)
            if name in ("brokenPixels", "outlierPixels"):
                # The workbook lists 0xFFFF for "no such pixel".
                assert expected == 65535 and index >= len(values) or values[index] == expected, key
                checked += 1
                continue
            value = values[index]
        else:
            value = got[key]
        if float(expected).is_integer() and "e" not in text and _decimals(text) == 0:
            assert value == expected, key
        else:
            # Floats to 1e-6 relative, or to the precision the workbook printed them with.
            tolerance = max(abs(expected) * 1e-6, 0.5 * 10 ** -_decimals(text))
            assert abs(value - expected) <= tolerance, (key, value, expected)
        checked += 1
    assert checked == len(melexis_example["params"]) > 3000


@pytest.fixture()
def example_camera(melexis_example):
    camera, sensor, _, _ = simulated_camera(melexis_example["ee"])
    camera.begin()
    sensor.fault = "no_new_data"   # only the recorded frames, loaded below
    return camera, sensor


def test_vdd_ta_and_every_pixel_of_both_frames(melexis_example, example_camera):
    camera, sensor = example_camera
    expected_vdd = {0: 3.304375, 1: 3.292500}
    expected_ta = {0: 33.88238, 1: 33.98956}
    for frame, to in ((melexis_example["f0"], melexis_example["to0"]),
                      (melexis_example["f1"], melexis_example["to1"])):
        subpage = frame[833]
        sensor.load_ram(frame, subpage, frame[832])
        assert camera.read_subpage() == subpage
        assert abs(camera.vdd - expected_vdd[subpage]) < 1e-4
        assert abs(camera.ta - expected_ta[subpage]) < 1e-3
        computed = [p for p in range(768) if ((p >> 5) + p) & 1 == subpage]
        assert len(computed) == 384
        for p in (computed if subpage == 0 else range(768)):
            assert abs(camera.frame[p] - to[p]) < 0.002, (subpage, p, camera.frame[p], to[p])


def test_datasheet_one_pixel_example_stage_by_stage():
    ee = datasheet_eeprom()
    cal = Calibration(ee)
    # Restoring the calibration (datasheet 11.1).
    assert cal.k_vdd == -3168 and cal.vdd25 == -13056
    assert cal.kv_ptat == 0.00537109375 and cal.kt_ptat == 42.25
    assert cal.v_ptat25 == 12273 and cal.alpha_ptat == 9
    assert cal.gain_ee == 6383 and cal.tgc == 1 and cal.ks_ta == -0.001953125
    assert cal.ct == (-40, 0, 160, 320)

    # The RAM of the example, measured in interleaved mode (control 0x0901), tr = 31 C.
    ee[15] = 0x0033     # the datasheet leaves the address word blank
    camera, sensor, _, _ = simulated_camera(ee, reflected_c=31.0, chess=False)
    camera.begin()
    sensor.fault = "no_new_data"
    ram = [0] * 832
    p = 11 * 32 + 15    # row 12, column 16 (1-based)
    ram[p] = 0x0261
    ram[768], ram[776], ram[808] = 0x4BF2, 0xFFCA, 0xFFC8
    ram[778], ram[800], ram[810] = 0x1881, 0x06AF, 0xCCC5
    sensor.load_ram(ram, subpage=1, control=0x0901)
    camera.read_subpage()
    assert abs(camera.vdd - 3.3186237) < 1e-6
    assert abs(camera.ta - 39.184424) < 1e-5
    kgain = cal.gain_ee / 0x1881
    assert abs(kgain - 1.0175355) < 1e-7
    # Offset, Ta and Vdd compensation of the pixel, from the extracted pixel parameters.
    pix_os = 0x0261 * kgain - cal.offset[p] * (1 + cal.kta[p] * (camera.ta - 25)) * (
        1 + cal.kv[pixel_split(p)] * (camera.vdd - 3.3))
    assert abs(pix_os - 700.88250) < 1e-4
    # alpha_comp 1.18764874e-7 with the datasheet's convention (CP alpha of subpage 0)
    # gives back the pixel's own alpha: the alpha, CP alpha and KsTa extraction agree.
    alpha = 1.18764874e-7 / (1 + cal.ks_ta * (camera.ta - 25)) + cal.tgc * cal.cp_alpha[0]
    assert abs(cal.alpha[p] - alpha) < 1e-6 * alpha   # the acceptance for float parameters
    # End to end: the maker's library gives 80.38-80.41 C for this pixel.
    assert 80.38 <= camera.frame[p] <= 80.415, camera.frame[p]


def test_to_stage_matches_the_datasheet_first_estimate():
    # Section 11.2.2.9 from the datasheet's own V_IR (679.2509) and alpha_comp: 80.3633 C.
    # The driver's pixel loop runs the same three steps; its first range-1 estimate is
    # the datasheet's To.
    ta, ks_to1 = 39.184424, Calibration(datasheet_eeprom()).ks_to[1]
    assert ks_to1 == -0.00080108642578125
    tatr = (ta + 273.15) ** 4   # emissivity 1: the reflected temperature drops out
    x = 679.2509 / 1.18764874e-7
    t = math.sqrt(math.sqrt(x + tatr))
    t = math.sqrt(math.sqrt(x / (1 - ks_to1 * 273.15 + ks_to1 * t) + tatr))
    assert abs(t - 273.15 - 80.3633) < 5e-4
