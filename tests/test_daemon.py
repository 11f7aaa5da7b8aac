"""The host daemon against a real mosquitto: ingest, live results, journal, restart, replay."""
import json
import threading
import time

import paho.mqtt.client as mqtt

from thermocc.camera import CameraModel
from thermocc.daemon import replay, run
from thermocc.room import EXAMPLE_ROOM, load_room
from thermocc.site import load_site
from thermocc_shared import wire

ROOM = load_room(EXAMPLE_ROOM)
T0 = 1_772_442_000_000          # 2026-03-02 09:00 UTC


def scripted_messages(seconds=660, hz=1):
    """Blob messages of the four cameras: two people seated, one walking in from the door."""
    models = [CameraModel(p) for p in ROOM.cameras]
    msgs = []
    seq = {}
    for i in range(int(seconds * hz)):
        t = T0 + int(i * 1000 / hz)
        walker_y = max(3.0, 6.8 - 0.02 * i)
        people = [(1.0, 1.0, 1.2), (10.0, 5.5, 1.2), (5.0, walker_y, 1.5)] if i > 30 else [(1.0, 1.0, 1.2)]
        for k, m in enumerate(models):
            blobs = []
            for x, y, h in people:
                c, r, vis = m.to_pixel([x], [y], h)
                if vis[0] and 0 <= c[0] <= 31 and 0 <= r[0] <= 23:      # centroids lie on pixel centres' span
                    cx, cy = int(c[0] * 1000), int(r[0] * 1000)
                    blobs.append((cx, cy, max(0, cx // 1000 - 1), max(0, cy // 1000 - 1), min(31, cx // 1000 + 1),
                                  min(23, cy // 1000 + 1), 6, 3100, 2950, 0))
            key = (m.node, m.id)
            seq[key] = seq.get(key, 100) + 1
            rec = {"seq": seq[key], "utc_ms": t + k, "flags": 1, "ambient": 2200, "min": 2100, "max": 3100,
                   "mean": 2250, "warm": 6 * len(blobs), "small": 0, "overflow": 0, "blobs": blobs}
            topic = wire.camera_topic("thermocc", ROOM.site, ROOM.name, m.node, m.id, "blobs")
            msgs.append((topic, wire.blob_message(rec, m.node, m.id)))
    return msgs


def write_site(tmp_path, port):
    site = {"site": "campus", "mqtt": {"host": "127.0.0.1", "port": port, "client_id": "test-host"},
            "rooms": [str(EXAMPLE_ROOM)], "outputs": "outputs", "state": "state"}
    (tmp_path / "site.json").write_text(json.dumps(site))
    return load_site(tmp_path / "site.json")


class Daemon:
    def __init__(self, site):
        self.stop, self.ready = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=run, args=(site,), kwargs={"stop": self.stop, "ready": self.ready})
        self.thread.start()
        assert self.ready.wait(20)

    def close(self):
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def publisher(port):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-boards")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def journal_lines(site):
    path = site.state / "lab.journal"
    return len(path.read_text().splitlines()) if path.exists() else 0


def wait_for(cond, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def outputs(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.csv"))}


def test_daemon_live_restart_and_replay_agree(broker, tmp_path):
    site = write_site(tmp_path, broker.port)
    msgs = scripted_messages()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
    live = {}
    watcher.on_message = lambda c, u, m: live.__setitem__(m.topic, m.payload)
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe([("thermocc/campus/lab/occupancy/#", 1), ("homeassistant/#", 1), ("thermocc/campus/host/#", 1)])
    watcher.loop_start()

    daemon = Daemon(site)
    pub = publisher(broker.port)
    half = len(msgs) // 2
    bad = [b"{not json", json.dumps({"v": 1}).encode(), b"x" * 20000,
           json.dumps({**json.loads(msgs[5][1]), "amb": 9999}).encode()]
    for i, (topic, payload) in enumerate(msgs[:half]):
        pub.publish(topic, payload, qos=1).wait_for_publish(5)
        if i == 50:
            for b in bad:
                pub.publish(msgs[0][0], b, qos=1)
            pub.publish(*msgs[10], qos=1)                   # a duplicate (same node, camera, seq)
    assert wait_for(lambda: journal_lines(site) == half), (journal_lines(site), half)
    daemon.close()                                            # SIGTERM-like stop mid-run

    daemon = Daemon(site)                                     # restart: resumes from the journal
    for topic, payload in msgs[half:]:
        pub.publish(topic, payload, qos=1).wait_for_publish(5)
    if not wait_for(lambda: journal_lines(site) == len(msgs), 20):
        have = {(m["node"], m["cam"], m["seq"]) for m in map(json.loads, (site.state / "lab.journal").read_text().splitlines())}
        want = [(i, (json.loads(p)["node"], json.loads(p)["cam"], json.loads(p)["seq"])) for i, (t, p) in enumerate(msgs)]
        raise AssertionError([w for w in want if w[1] not in have])
    assert wait_for(lambda: "thermocc/campus/lab/occupancy/occupants_count" in live)
    daemon.close()
    pub.loop_stop()
    time.sleep(0.3)
    watcher.loop_stop()

    got = outputs(site.outputs / "lab")
    out = got["output.csv"].decode().splitlines()
    stamps = [line.split(",")[0] for line in out[1:]]
    assert stamps == ["2026-03-02 09:00", "2026-03-02 09:05"]  # two closed steps, none twice, none missing
    row = dict(zip(out[0].split(","), out[2].split(",")))
    assert row["L2_count"] == "3" and row["L1_presence"] == "1"
    assert sum(int(row[c]) for c in row if c.startswith("L3_") and c.endswith("_count")) == 3
    assert set(got) >= {"output.csv", "ticks.csv", "zones/Pantry.csv", "zones/Main_Area.csv"}

    # live results, availability and Home Assistant discovery
    count = json.loads(live["thermocc/campus/lab/occupancy/occupants_count"])
    assert count["value"] == 3 and count["measured_at"].startswith("2026-03-02T09:")
    state = json.loads(live["thermocc/campus/lab/occupancy/occupancy_state"])
    assert state["value"] == {"occupied": True, "confidence": 1.0}
    assert "in" in json.loads(live["thermocc/campus/lab/occupancy/directional_movement"])["value"]
    assert live["thermocc/campus/host/test-host/availability"] == b"offline"
    disc = json.loads(live["homeassistant/sensor/thermocc_campus_lab_count/config"])
    assert disc["state_topic"] == "thermocc/campus/lab/occupancy/occupants_count"

    # replay of the journal = the live run, byte for byte
    stats = replay(site, tmp_path / "replayed", journals=[site.state / "lab.journal"])
    assert stats["lab"]["accepted"] == len(msgs)
    assert outputs(tmp_path / "replayed" / "lab") == got


def test_malformed_and_unknown_messages_are_counted_not_fatal(tmp_path):
    from thermocc.daemon import Fuser
    site = write_site(tmp_path, 1883)
    fuser = Fuser(site, tmp_path / "out", journal=False)
    topic, good = scripted_messages(seconds=2)[0]
    assert fuser.handle_payload(topic, b"\xff\xfe") is None
    assert fuser.handle_payload(topic, good.replace('"v":1', '"v":7')) is None
    assert fuser.handle_payload(topic, good.replace('"node-a"', '"node-z"')) is None
    assert fuser.handle_payload(topic, good) is not None
    assert fuser.malformed == 2 and fuser.unknown == 1
    fuser.close()
