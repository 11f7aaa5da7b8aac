"""A simulated thermocc board: the real firmware application (thermocc_device.node.Node)
with simulated MLX90640s on simulated I2C buses, a folder as its SD card and flash,
and the real MQTT client on a real socket. Used by tests, the demo and benchmarks.

Sensor time is virtual (SimClock: sleeping advances it instantly); the MQTT client
keeps real time, because the broker on the other end of the socket does.
"""
from __future__ import annotations

import errno
import math
import os
from pathlib import Path

from thermocc_device import config as device_config
from thermocc_device.clock import SystemClock
from thermocc_device.eeprom_store import EepromStore
from thermocc_device.mlx90640 import MLX90640
from thermocc_device.mqtt import MQTTClient
from thermocc_device.node import Node
from thermocc_device.storage import FileStorage
from thermocc_tools.mlx90640_sim import SimI2CBus, SimMLX90640, generate_eeprom
from thermocc_tools.sim_clock import SimClock

ROWS, COLS = 24, 32


class QuotaStorage(FileStorage):
    """An SD card of `capacity` bytes: writes past it fail with ENOSPC, as a full card does."""

    def __init__(self, root, capacity):
        super().__init__(root)
        self.capacity = capacity

    def used(self):
        if not os.path.isdir(self.root):
            return 0
        return sum(os.path.getsize(os.path.join(self.root, n)) for n in os.listdir(self.root))

    def free_bytes(self):
        return max(0, self.capacity - self.used())

    def open(self, name, mode):
        f = super().open(name, mode)
        if "w" in mode or "a" in mode:
            return _QuotaFile(f, self)
        return f


class _QuotaFile:
    def __init__(self, f, storage):
        self.f = f
        self.storage = storage

    def write(self, data):
        if self.storage.free_bytes() < len(data):
            raise OSError(errno.ENOSPC, "No space left on device (simulated card)")
        n = self.f.write(data)
        self.f.flush()
        return n

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


class PulledCard(FileStorage):
    """A card that was there at boot and is pulled out when `pull()` is called."""

    def __init__(self, root):
        super().__init__(root)
        self.pulled = False

    def pull(self):
        self.pulled = True

    def open(self, name, mode):
        if self.pulled:
            raise OSError(errno.EIO, "card removed")
        f = super().open(name, mode)
        card = self

        class _File:
            def write(self, data):
                if card.pulled:
                    raise OSError(errno.EIO, "card removed")
                return f.write(data)

            def __getattr__(self, attr):
                return getattr(f, attr)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()
        return _File()

    def free_bytes(self):
        if self.pulled:
            raise OSError(errno.EIO, "card removed")
        return super().free_bytes()


def person_scene(people, air_c=22.0, gradient_c=1.0):
    """768 temperatures: floor at air_c (a gentle left-right gradient), people as warm
    round blobs. people: (row, col, peak_c, radius_px)."""
    scene = []
    for r in range(ROWS):
        for c in range(COLS):
            t = air_c - gradient_c / 2 + gradient_c * c / (COLS - 1)
            for pr, pc, peak, radius in people:
                d = math.hypot(r - pr, c - pc)
                t = max(t, air_c + (peak - air_c) * math.exp(-(d / radius) ** 2))
            scene.append(t)
    return scene


def example_config(node="node-a", host="127.0.0.1", port=1883, cameras=("cam1", "cam2"), **overrides):
    cfg = {
        "site": "lab", "room": "room1", "node": node,
        "mqtt": {"host": host, "port": port, "keepalive_s": 30, "status_interval_s": 30, "refresh_s": 60},
        "sd": {"enabled": True},
        "cameras": [{"id": cid, "bus": i, "refresh_hz": 4} for i, cid in enumerate(cameras)],
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


class SimBoard:
    def __init__(self, raw_config, folder, seed=0, noise=True, sd_storage=None, clock=None,
                 mqtt=True, log=None):
        self.folder = Path(folder)
        self.clock = clock or SimClock()
        cfg, problems, camera_ok = device_config.validate(raw_config)
        self.config = cfg
        self.problems = problems
        flash = FileStorage(str(self.folder / "flash"))
        flash.makedirs()
        self.buses = {}
        self.sensors = []
        drivers = []
        for i, cam in enumerate(cfg["cameras"]):
            bus_id = cam["bus"] if isinstance(cam["bus"], int) else 0
            bus = self.buses.get(bus_id)
            if bus is None:
                bus = self.buses[bus_id] = SimI2CBus("i2c%d" % bus_id, freq=1_000_000, clock=self.clock)
            address = cam["address"] if isinstance(cam["address"], int) else 0x33
            sensor = bus.attach(SimMLX90640(generate_eeprom(seed * 10 + i, address=address), self.clock,
                                            address=address, noise=noise, seed=seed * 10 + i))
            sensor.set_scene(person_scene([]), air_c=22.0)
            self.sensors.append(sensor)
            drivers.append(MLX90640(bus, address=address, bus_name=bus.name, clock=self.clock,
                                    eeprom_store=EepromStore(str(self.folder / "flash")),
                                    refresh_hz=cam["refresh_hz"] if cam["refresh_hz"] in device_config.REFRESH_RATES else 2,
                                    emissivity=cam["emissivity"] if isinstance(cam["emissivity"], float) else 1.0,
                                    log=None))
        self.logs = []
        client = None
        if mqtt and cfg["mqtt_ok"]:
            m = cfg["mqtt"]
            client = MQTTClient(cfg["node"], m["host"], m["port"], m["user"], m["password"], m["keepalive_s"],
                                clock=SystemClock(), timeout_s=2)
        self.mqtt = client
        if sd_storage is None:
            sd_storage = FileStorage(str(self.folder / "sd" / cfg["sd"]["folder"]))
        self.sd = sd_storage
        self.node = Node(cfg, problems, camera_ok, drivers, self.clock, sd_storage, flash, mqtt=client,
                         log=log or self.logs.append)

    def set_people(self, people, air_c=22.0, cameras=None):
        for i, sensor in enumerate(self.sensors):
            if cameras is None or i in cameras:
                sensor.set_scene(person_scene(people, air_c), air_c=air_c)

    def run_frames(self, frames, idle_ms=5, max_steps=1_000_000):
        """Step the node until every working camera produced `frames` more frames."""
        target = [c.frames + frames for c in self.node.cameras]
        for _ in range(max_steps):
            if not self.node.step():
                self.clock.sleep_ms(idle_ms)
            if all(c.frames >= t or not c.ok for c, t in zip(self.node.cameras, target)):
                return
        raise RuntimeError("cameras did not produce %d frames" % frames)

    def run_ms(self, ms, idle_ms=5):
        end = self.clock.ticks_ms() + ms
        while self.clock.ticks_ms() < end:
            if not self.node.step():
                self.clock.sleep_ms(idle_ms)
