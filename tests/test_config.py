"""config.json validation: every mistake is reported by field, and the board runs what it can."""
import json
from pathlib import Path

import pytest

from thermocc_device import config

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((REPO / "device" / "config.example.json").read_text())


def with_change(path, value):
    cfg = json.loads(json.dumps(EXAMPLE))
    node = cfg
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return cfg


def test_the_example_is_valid():
    cfg, problems, camera_ok = config.validate(EXAMPLE)
    assert problems == [] and camera_ok == [True, True] and cfg["mqtt_ok"] and cfg["sd_ok"] and cfg["wifi_ok"]


@pytest.mark.parametrize("path, value, field", [
    ("node", "node a!", "node"),
    ("site", 7, "site"),
    ("mqtt.port", 70000, "mqtt.port"),
    ("mqtt.port", "1883", "mqtt.port"),
    ("mqtt.tls", "yes", "mqtt.tls"),
    ("mqtt.keepalive_s", 0, "mqtt.keepalive_s"),
    ("mqtt.prefix", "a/b", "mqtt.prefix"),
    ("mqtt.hots", "x", "mqtt.hots"),
    ("wifi.ssid", "", "wifi.ssid"),
    ("sd.raw_every", -1, "sd.raw_every"),
    ("sd.enabled", 1, "sd.enabled"),
    ("detection.threshold_c", 0.1, "detection.threshold_c"),
    ("detection.background_s", 0, "detection.background_s"),
    ("watchdog_s", "30", "watchdog_s"),
    ("cameras.0.refresh_hz", 3, "cameras[0].refresh_hz"),
    ("cameras.0.threshold_c", "warm", "cameras[0].threshold_c"),
    ("cameras.1.address", 300, "cameras[1].address"),
    ("cameras.1.bus", 5, "cameras[1].bus"),
    ("cameras.1.id", "cam1", "cameras[1].id"),
    ("cameras.0.mask", [[0, 0, 30, 4]], "cameras[0].mask[0]"),
    ("cameras.0.emissivity", 0, "cameras[0].emissivity"),
    ("cameras.0.colour", "red", "cameras[0].colour"),
    ("cameras", [], "cameras"),
])
def test_each_bad_value_names_its_field(path, value, field):
    cfg, problems, camera_ok = config.validate(with_change(path, value))
    assert problems, "no problem reported for %s = %r" % (path, value)
    fields = [p.field for p in problems]
    assert field in fields, fields
    text = str(problems[fields.index(field)])
    assert text.startswith("config %s:" % field) and len(text) > len(field) + 20


def test_a_bad_camera_is_disabled_the_rest_runs():
    cfg, problems, camera_ok = config.validate(with_change("cameras.1.refresh_hz", 5))
    assert camera_ok == [True, False] and cfg["mqtt_ok"] and cfg["sd_ok"]


def test_a_bad_mqtt_section_means_sd_only():
    cfg, problems, camera_ok = config.validate(with_change("mqtt.port", -1))
    assert not cfg["mqtt_ok"] and camera_ok == [True, True] and cfg["sd_ok"]


def test_unreadable_or_broken_file():
    def missing(name):
        raise OSError(2, "ENOENT")
    cfg, problems, ok = config.load(missing)
    assert problems[0].field == "config.json" and "config.example.json" in str(problems[0])
    cfg, problems, ok = config.load(lambda name: "{nope")
    assert "not valid JSON" in str(problems[0])
