"""The firmware application (device/node.py) under CPython: simulated sensors, a folder
as the SD card, the board's own MQTT client against a real mosquitto."""
import base64
import binascii
import json
import threading
import time

import paho.mqtt.client as paho

from thermocc.logreader import read_logs
from thermocc_shared import logformat as lf
from thermocc_shared import wire
from thermocc_tools.sim_board import PulledCard, QuotaStorage, SimBoard, example_config


class Subscriber:
    """A paho client that records everything under the prefix and re-subscribes on reconnect."""

    def __init__(self, broker, topic="thermocc/#"):
        self.messages = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        c = paho.Client(paho.CallbackAPIVersion.VERSION2)
        c.reconnect_delay_set(0.05, 0.2)

        def on_connect(client, userdata, flags, rc, props=None):
            client.subscribe(topic, 1)

        def on_subscribe(client, userdata, mid, rcs, props=None):
            self.connected.set()

        def on_disconnect(*args):
            self.connected.clear()

        def on_message(client, userdata, m):
            with self.lock:
                self.messages.append((m.topic, bytes(m.payload), m.retain))
        c.on_connect, c.on_subscribe, c.on_disconnect, c.on_message = on_connect, on_subscribe, on_disconnect, on_message
        c.connect(broker.host, broker.port)
        c.loop_start()
        self.client = c
        assert self.connected.wait(5)

    def on(self, suffix):
        with self.lock:
            return [(t, p) for t, p, _ in self.messages if t.endswith(suffix)]

    def blobs(self):
        return [wire.parse_blob_message(p) for _, p in self.on("/blobs")]

    def wait_for(self, predicate, timeout=10, step=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if step:
                step()
            if predicate():
                return True
            time.sleep(0.01)
        return False

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def walking(k):
    """One person walking across the view: a new position every frame, so every frame is published."""
    return [(12, 2 + (k % 28), 33.0, 1.8)]


def publishable(board):
    """(camera id, seq) of every frame the board logged for publishing, in log order."""
    contents = read_logs(board.sd.root)
    return [(r["camera_id"], r["seq"]) for r in contents.blobs if r["flags"] & lf.FLAG_PUBLISH]


def test_blob_messages_status_and_availability_follow_the_schema(broker, tmp_path):
    sub = Subscriber(broker)
    board = SimBoard(example_config(port=broker.port, mqtt={"status_interval_s": 2}), tmp_path, seed=1)
    board.run_frames(3)
    board.set_people([(10, 12, 33, 1.8), (5, 25, 32, 1.6)])
    board.run_frames(6)
    assert sub.wait_for(lambda: len(sub.on("/status")) >= 2, step=lambda: board.run_frames(1))
    msgs = sub.blobs()
    assert {m["cam"] for m in msgs} == {"cam1", "cam2"}
    for cam in ("cam1", "cam2"):
        seqs = [m["seq"] for m in msgs if m["cam"] == cam]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    people = [m for m in msgs if m["blobs"]][-1]
    assert len([b for b in people["blobs"] if b["kind"] == "person"]) == 2
    assert people["node"] == "node-a" and people["sync"] is True and 21 < people["amb"] < 23
    status = json.loads(sub.on("/status")[-1][1])
    for key in ("uptime_s", "heap_free", "cameras", "sd", "queued", "dropped"):
        assert key in status
    assert status["cameras"]["cam1"]["fps"] > 0 and status["cameras"]["cam1"]["i2c_errors"] == 0
    assert status["sd"]["present"] and status["sd"]["free"] > 0
    late = Subscriber(broker, "thermocc/+/+/+/availability")      # joins later: gets the retained state
    assert late.wait_for(lambda: late.messages)
    assert late.messages[0][1:] == (b"online", True)
    late.close()
    # Last will: the board vanishes without saying goodbye; the broker says it is offline.
    board.mqtt.sock.close()
    assert sub.wait_for(lambda: sub.on("/availability")[-1][1] == b"offline")
    sub.close()


def test_report_on_change_with_periodic_refresh(broker, tmp_path):
    sub = Subscriber(broker)
    board = SimBoard(example_config(port=broker.port, mqtt={"refresh_s": 5}, cameras=("cam1",)), tmp_path, seed=2)
    board.set_people([(10, 12, 33, 1.8)])
    board.run_frames(40)                                   # 20 s of a still scene at 2 frames/s
    assert sub.wait_for(lambda: len(sub.blobs()) >= 4)
    n = len(sub.blobs())
    assert 4 <= n <= 7                                     # first frame, then one refresh per 5 s
    board.set_people([(10, 20, 33, 1.8)])                  # the person moves: reported at once
    board.run_frames(2)
    assert sub.wait_for(lambda: len(sub.blobs()) > n and abs(sub.blobs()[-1]["blobs"][0]["x"] - 20) < 1)
    sub.close()


def test_broker_outage_every_record_arrives_exactly_once_in_order(broker, tmp_path):
    sub = Subscriber(broker)
    board = SimBoard(example_config(port=broker.port, mqtt={"backlog_rate_per_s": 50}), tmp_path, seed=3)
    k = 0
    for _ in range(10):
        board.set_people(walking(k))
        board.run_frames(1)
        k += 1
    broker.kill()
    for _ in range(30):                                    # 15 s of frames while the broker is gone
        board.set_people(walking(k))
        board.run_frames(1)
        k += 1
    assert not board.node.connected
    assert board.node.outbox.waiting() > 0
    broker.start()
    assert sub.connected.wait(10)
    for _ in range(10):
        board.set_people(walking(k))
        board.run_frames(1)
        k += 1
    expected = publishable(board)
    assert len(expected) >= 2 * 45

    def delivered():
        return {(m["cam"], m["seq"]) for m in sub.blobs()} >= set(expected)
    assert sub.wait_for(delivered, timeout=30, step=lambda: board.run_ms(200))
    got = [(m["cam"], m["seq"]) for m in sub.blobs()]
    first_seen = list(dict.fromkeys(got))                   # the host's de-duplication by (camera, seq)
    assert set(first_seen) >= set(expected)
    for cam in ("cam1", "cam2"):
        seqs = [s for c, s in first_seen if c == cam]
        assert seqs == sorted(seqs)                         # in order per camera
        assert set(seqs) >= {s for c, s in expected if c == cam}
    assert board.node.connects == 2 and board.node.outbox.resent >= 0
    sub.close()


def test_full_card_keeps_publishing_and_reports(broker, tmp_path):
    sub = Subscriber(broker)
    card = QuotaStorage(str(tmp_path / "card"), capacity=60_000)
    board = SimBoard(example_config(port=broker.port, sd={"raw_every": 1, "rotate_bytes": 8192,
                                                          "reserve_bytes": 16384},
                                    mqtt={"status_interval_s": 5}), tmp_path, seed=4, sd_storage=card)
    for k in range(60):
        board.set_people(walking(k))
        board.run_frames(1)
    status = board.node.status(board.clock.ticks_ms())
    assert status["sd"]["present"] and status["sd"]["full_events"] > 0 and status["sd"]["deleted_files"] > 0
    assert card.used() <= 60_000
    assert sub.wait_for(lambda: max([m["seq"] for m in sub.blobs() if m["cam"] == "cam1"] or [0]) >= 55,
                        step=lambda: board.run_ms(100))
    assert sub.wait_for(lambda: any(b'"sd_full"' in p for _, p in sub.on("/reply")), step=lambda: board.run_ms(500))
    sub.close()


def test_no_card_and_a_pulled_card_keep_publishing(broker, tmp_path):
    sub = Subscriber(broker)
    (tmp_path / "nocard").write_text("not a directory")
    board = SimBoard(example_config(port=broker.port), tmp_path / "a", seed=5,
                     sd_storage=QuotaStorage(str(tmp_path / "nocard" / "x"), 10**6))
    for k in range(6):
        board.set_people(walking(k))
        board.run_frames(1)
    assert not board.node.sdlog.present
    assert sub.wait_for(lambda: len([m for m in sub.blobs() if m["node"] == "node-a"]) >= 10,
                        step=lambda: board.run_ms(100))
    assert board.node.status(0)["sd"]["present"] is False

    card = PulledCard(str(tmp_path / "card"))
    other = SimBoard(example_config(node="node-b", port=broker.port), tmp_path / "b", seed=6, sd_storage=card)
    for k in range(4):
        other.set_people(walking(k))
        other.run_frames(1)
    card.pull()
    for k in range(4, 10):
        other.set_people(walking(k))
        other.run_frames(1)
    assert not other.node.sdlog.present
    assert sub.wait_for(lambda: max([m["seq"] for m in sub.blobs() if m["node"] == "node-b"] or [0]) >= 9,
                        step=lambda: other.run_ms(100))
    assert any("card lost" in line for line in other.logs)
    sub.close()


def test_frames_leave_the_board_only_when_configured(broker, tmp_path):
    """mqtt.frames streams every frame (what the SD raw record holds) for frame-mode hosts."""
    sub = Subscriber(broker)
    quiet = SimBoard(example_config(port=broker.port), tmp_path / "quiet", seed=8)
    streaming = SimBoard(example_config(node="node-b", port=broker.port, mqtt={"frames": True},
                                        sd={"raw_every": 1}), tmp_path / "streaming", seed=9)
    for k in range(5):
        for board in (quiet, streaming):
            board.set_people(walking(k))
            board.run_frames(1)
    assert sub.wait_for(lambda: len(sub.on("/frame")) == 10, step=lambda: streaming.run_ms(100))
    frames = {}
    for topic, payload in sub.on("/frame"):
        msg, pixels = wire.parse_frame_message(payload)
        assert topic == "thermocc/lab/room1/node-b/%s/frame" % msg["cam"] and msg["node"] == "node-b"
        frames[(msg["cam"], msg["seq"], msg["t"])] = pixels
    raw = {(rec["camera_id"], rec["seq"], rec["utc_ms"]): temps for rec, temps in read_logs(streaming.sd.root).raw}
    assert set(frames) == set(raw)
    for key, pixels in frames.items():
        temps = [int.from_bytes(pixels[i:i + 2], "little", signed=True) / 100 for i in range(0, 1536, 2)]
        assert max(abs(a - b) for a, b in zip(temps, raw[key])) < 1e-6
    assert not any("/node-a/" in t for t, _ in sub.on("/frame"))
    sub.close()


def test_frames_setting_is_validated():
    from thermocc_device.config import validate
    cfg, problems, _ = validate({**example_config(), "mqtt": {"host": "h", "frames": "yes"}})
    assert cfg["mqtt"]["frames"] is False
    assert [(p.field, p.message) for p in problems] == [("mqtt.frames", "must be true or false, got 'yes'")]


def test_commands(broker, tmp_path):
    sub = Subscriber(broker)
    board = SimBoard(example_config(port=broker.port), tmp_path, seed=7)
    rebooted = []
    board.node.reboot = lambda: rebooted.append(True)
    board.run_frames(4)
    cmd = "thermocc/lab/room1/node-a/cmd"

    def ask(payload, until):
        sub.client.publish(cmd, payload if isinstance(payload, bytes) else json.dumps(payload), qos=1)
        assert sub.wait_for(until, step=lambda: board.run_ms(100))

    def replies():
        return [json.loads(p) for _, p in sub.on("/reply")]

    ask({"cmd": "set_threshold", "camera": "cam2", "value": 6.5, "id": "t1"},
        lambda: any(r.get("id") == "t1" for r in replies()))
    assert [r for r in replies() if r.get("id") == "t1"][0]["ok"] and board.node.cameras[1].detector.threshold_c == 6.5
    ask({"cmd": "set_threshold", "camera": "cam2", "value": 99, "id": "t2"},
        lambda: any(r.get("id") == "t2" for r in replies()))
    assert "threshold_c" in [r for r in replies() if r.get("id") == "t2"][0]["error"]
    ask({"cmd": "snapshot", "camera": "cam1", "id": "s1"}, lambda: len(sub.on("/cam1/snapshot")) == 1)
    snap = json.loads(sub.on("/cam1/snapshot")[0][1])
    temps = [int.from_bytes(base64.b64decode(snap["data"])[i:i + 2], "little", signed=True) / 100 for i in range(0, 1536, 2)]
    assert len(temps) == 768 and 18 < sum(temps) / 768 < 26
    ask({"cmd": "list_logs", "id": "l1"}, lambda: any(r.get("id") == "l1" for r in replies()))
    files = [r for r in replies() if r.get("id") == "l1"][0]["files"]
    assert files and files[0][0].endswith(".tlg")
    name = files[0][0]
    ask({"cmd": "send_log", "name": name, "id": "g1"},
        lambda: any(json.loads(p).get("last") for _, p in sub.on("/logs")))
    chunks = [json.loads(p) for _, p in sub.on("/logs")]
    data = b""
    for c in chunks:
        piece = base64.b64decode(c["data"])
        assert binascii.crc32(piece) == c["crc32"] and c["offset"] == len(data)
        data += piece
    with open(board.sd.path(name), "rb") as f:      # append-only: the first `size` bytes never change
        assert data == f.read()[:len(data)]
    assert len(data) == chunks[-1]["size"]
    ask(b"{not json", lambda: board.node.bad_commands == 1)
    ask({"cmd": "dance", "id": "x"}, lambda: any(r.get("id") == "x" for r in replies()))
    ask({"cmd": "reboot", "id": "r"}, lambda: rebooted)
    sub.close()


def test_a_sitter_the_sun_hid_is_found_through_the_real_driver_and_the_board_logs_it(tmp_path):
    """The detector's step 8 on the firmware, through the register-level sensor simulator
    and the real driver: a sun patch crosses the view one frame every 30 s and someone sits
    down in it as warm as the sunlit floor (tests/frames.py). Once the patch has moved on
    they are found, and the board's log says that step 8 freed them. No broker is needed."""
    from frames import sun_past_a_hidden_sitter
    frames, sat = sun_past_a_hidden_sitter()
    board = SimBoard(example_config(cameras=("cam1",), port=1), tmp_path, seed=9, noise=False, mqtt=False)
    counts = []
    for k, f in enumerate(frames):
        board.clock.us = max(board.clock.us, (k + 1) * 30_000_000)
        board.sensors[0].set_scene(f.tolist(), air_c=22.0)
        board.run_frames(1)
        counts.append(board.node.cameras[0].detector.people)
    assert not any(counts[:sat + 2])                    # the patch, then the sitter in it: nobody
    assert counts[-20:] == [1] * 20                     # found after the patch has gone, and kept
    freed = [line for line in board.logs if "stranded warm island" in line]
    assert board.node.cameras[0].detector.freed_islands == 1 and len(freed) == 1 and "cam1" in freed[0]
