# The real hardware objects of a board, built from its board definition (board.json,
# from boards/) and the validated config. Only this module and main.py import `machine`
# and `network`; everything else receives these objects, so tests pass simulators.
import os

import machine

from thermocc_device.clock import SystemClock
from thermocc_device.eeprom_store import EepromStore
from thermocc_device.mlx90640 import MLX90640
from thermocc_device.mqtt import MQTTClient
from thermocc_device.storage import FileStorage


class Wifi:
    """Station interface; connect() only starts an attempt, the node's loop checks back."""

    def __init__(self, ssid, password, hostname=None):
        import network
        self.ssid = ssid
        self.password = password
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        if hostname:
            try:
                network.hostname(hostname)
            except (AttributeError, ValueError):
                pass

    def isconnected(self):
        return self.wlan.isconnected()

    def connect(self):
        try:
            self.wlan.connect(self.ssid, self.password)
        except OSError:
            pass   # already connecting


class NtpSync:
    def __init__(self, host):
        self.host = host

    def sync(self):
        import ntptime
        ntptime.host = self.host
        ntptime.settime()
        return True


class Watchdog:
    def __init__(self, seconds):
        self.wdt = machine.WDT(timeout=seconds * 1000) if seconds else None

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()


def mount_sd(board, log):
    """Mount the card at /sd; None when there is no card (the node runs without one)."""
    sd = board.get("sd") or {}
    try:
        if "spi" in sd:
            s = sd["spi"]
            card = machine.SDCard(slot=s.get("slot", 2), sck=machine.Pin(s["sck"]), mosi=machine.Pin(s["mosi"]),
                                  miso=machine.Pin(s["miso"]), cs=machine.Pin(s["cs"]))
        elif "sdmmc" in sd:
            card = machine.SDCard(slot=sd["sdmmc"].get("slot", 1), width=sd["sdmmc"].get("width", 1))
        else:
            return None
        os.mount(card, "/sd")
        return "/sd"
    except (OSError, KeyError) as e:
        log("sd: no card (%s)" % e)
        return None


def build(cfg, camera_ok, board, log=print):
    """(drivers, clock, sd storage, flash storage, wifi, mqtt, watchdog, time sync)."""
    clock = SystemClock()
    buses = {}
    drivers = []
    flash = FileStorage("/data")
    flash.makedirs()
    for i, cam in enumerate(cfg["cameras"]):
        if not camera_ok[i]:
            drivers.append(None)
            continue
        spec = board["i2c"][cam["bus"]]
        sda = cam["sda"] if cam["sda"] is not None else spec["sda"]
        scl = cam["scl"] if cam["scl"] is not None else spec["scl"]
        key = (cam["bus"], sda, scl)
        if key not in buses:
            buses[key] = machine.I2C(spec["id"], sda=machine.Pin(sda), scl=machine.Pin(scl), freq=cam["freq"])
        drivers.append(MLX90640(buses[key], address=cam["address"], bus_name="i2c%d" % cam["bus"], clock=clock,
                                eeprom_store=EepromStore("/data"), refresh_hz=cam["refresh_hz"],
                                emissivity=cam["emissivity"], log=log))
    root = mount_sd(board, log) if cfg["sd_ok"] else None
    sd = FileStorage(root + "/" + cfg["sd"]["folder"]) if root else None
    wifi = Wifi(cfg["wifi"]["ssid"], cfg["wifi"]["password"], cfg["wifi"]["hostname"]) if cfg["wifi_ok"] else None
    mqtt = None
    if cfg["mqtt_ok"]:
        m = cfg["mqtt"]
        tls = {"ca": m["ca"]} if m["tls"] else None
        mqtt = MQTTClient(cfg["node"], m["host"], m["port"], m["user"], m["password"], m["keepalive_s"],
                          tls=tls, clock=clock)
    sync = NtpSync(cfg["ntp"]["host"]) if cfg["ntp"]["host"] and wifi is not None else None
    return drivers, clock, sd, flash, wifi, mqtt, Watchdog(cfg["watchdog_s"]), sync
