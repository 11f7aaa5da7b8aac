"""Bad sensors and bad buses give typed, counted errors that name bus, address and fault."""
import pytest

from thermocc_device.eeprom_store import EepromStore
from thermocc_device.mlx90640 import (
    SensorBusError, SensorDataError, SensorEepromError, SensorError)
from thermocc_tools.mlx90640_sim import generate_eeprom
from helpers import simulated_camera


def test_missing_sensor_names_bus_and_address():
    camera, _, bus, _ = simulated_camera(generate_eeprom(0), bus_name="i2c1")
    bus.detach(0x33)
    with pytest.raises(SensorBusError) as e:
        camera.begin()
    assert "i2c1" in str(e.value) and "0x33" in str(e.value) and "no answer" in str(e.value)
    assert camera.error_counts["bus"] == 1


def test_blank_eeprom_is_refused_with_the_reason():
    camera, _, _, _ = simulated_camera(generate_eeprom(0))
    sensor = camera.bus.targets[0x33]
    for i in range(832):
        sensor.eeprom[i] = 0xFFFF
    with pytest.raises(SensorEepromError) as e:
        camera.begin()
    assert "blank" in str(e.value) and "0x33" in str(e.value)


def test_garbage_answers_are_data_errors_retried_and_counted():
    camera, sensor, _, _ = simulated_camera(generate_eeprom(1), retries=2)
    camera.begin()
    sensor.fault = "garbage"
    with pytest.raises(SensorError) as e:
        camera.read_frame()
    assert isinstance(e.value, (SensorDataError, SensorBusError))
    assert camera.retry_count == 2
    assert sum(camera.error_counts.values()) == 3
    # The fault clears: the same driver reads good frames again.
    sensor.fault = None
    sensor.set_scene([30.0] * 768, air_c=22)
    frame = camera.read_frame()
    assert abs(frame[100] - 30.0) < 0.3


@pytest.mark.parametrize("fault, words", [("swapped_bytes", "supply reads"),   # Vdd is checked first
                                          ("stuck_7fff", "pixel 0 reads 0x7FFF")])
def test_implausible_pixels_are_reported(fault, words):
    camera, sensor, _, _ = simulated_camera(generate_eeprom(2), retries=0)
    camera.begin()
    sensor.set_scene([25.0] * 768, air_c=22)
    sensor.fault = fault
    with pytest.raises(SensorDataError) as e:
        camera.read_frame()
    assert words in str(e.value)
    assert camera.error_counts["data"] == 1


def test_swapped_pixel_words_alone_read_as_impossible_temperatures():
    camera, sensor, _, _ = simulated_camera(generate_eeprom(2), retries=0)
    camera.begin()
    sensor.set_scene([25.0] * 768, air_c=22)
    camera.read_frame()
    camera._wait_new_data()
    ram = camera._ram
    camera._read_into(0x0400, ram)
    for i in range(0, 2 * 768, 2):
        ram[i], ram[i + 1] = ram[i + 1], ram[i]
    with pytest.raises(SensorDataError) as e:
        camera._compute_subpage(0)
    assert "outside the sensor's range" in str(e.value) or "gives no temperature" in str(e.value)


def test_a_sensor_that_stops_measuring_times_out():
    camera, sensor, _, _ = simulated_camera(generate_eeprom(3), retries=1)
    camera.begin()
    sensor.fault = "no_new_data"
    with pytest.raises(SensorBusError) as e:
        camera.read_frame()
    assert "no new data" in str(e.value)
    assert camera.error_counts["bus"] == 2


def test_wrong_address_in_eeprom_is_reported():
    eeprom = generate_eeprom(4, address=0x34)
    camera, sensor, bus, _ = simulated_camera(eeprom)
    bus.detach(0x34)
    sensor.address = 0x33
    bus.attach(sensor)
    with pytest.raises(SensorEepromError) as e:
        camera.begin()
    assert "0x34" in str(e.value)


def test_saved_eeprom_copy_replaces_a_corrupted_one(tmp_path):
    store = EepromStore(str(tmp_path / "eeprom"))
    eeprom = generate_eeprom(5)
    warnings = []
    camera, sensor, _, _ = simulated_camera(eeprom, eeprom_store=store)
    camera.begin()
    assert camera.eeprom_warning is None
    good_alpha = list(camera.cal.alpha)
    # A bus glitch flips bits in two pixel words of the sensor's EEPROM.
    sensor.eeprom[64 + 100] ^= 0x0F00
    sensor.eeprom[64 + 500] ^= 0x00F0
    again, _, _, _ = simulated_camera(sensor.eeprom, eeprom_store=store, log=warnings.append)
    again.begin()
    assert "no longer matches" in again.eeprom_warning and "2 of 832 words" in again.eeprom_warning
    assert warnings and "i2c0" in warnings[0]
    assert list(again.cal.alpha) == good_alpha


def test_corrupted_eeprom_without_a_copy_is_an_error_but_with_a_copy_works(tmp_path):
    store = EepromStore(str(tmp_path / "eeprom"))
    eeprom = generate_eeprom(6)
    camera, _, _, _ = simulated_camera(eeprom, eeprom_store=store)
    camera.begin()
    def corrupted(camera):
        # The simulated sensor keeps its factory physics; only its EEPROM words break.
        sensor = camera.bus.targets[0x33]
        sensor.eeprom[48] = 0x0000     # gainEE gone
        sensor.eeprom[51] = 0x0000     # kVdd, vdd25 gone
        return camera

    fresh = corrupted(simulated_camera(eeprom)[0])
    with pytest.raises(SensorEepromError) as e:
        fresh.begin()
    assert "gainEE" in str(e.value) and "no saved copy" in str(e.value)
    saved = corrupted(simulated_camera(eeprom, eeprom_store=store)[0])
    saved.begin()
    assert "using the saved copy" in saved.eeprom_warning


def test_a_replaced_sensor_gets_its_own_copy(tmp_path):
    store = EepromStore(str(tmp_path / "eeprom"))
    first, _, _, _ = simulated_camera(generate_eeprom(7), eeprom_store=store)
    first.begin()
    second, _, _, _ = simulated_camera(generate_eeprom(8), eeprom_store=store)
    second.begin()
    assert "different sensor" in second.eeprom_warning
    assert list(second.cal.alpha) != list(first.cal.alpha)
    third, _, _, _ = simulated_camera(generate_eeprom(8), eeprom_store=store)
    third.begin()
    assert third.eeprom_warning is None
