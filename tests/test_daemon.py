"""The host daemon against a real mosquitto: ingest, live results, journal, restart, replay."""
import json
import logging
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from thermocc.camera import CameraModel
from thermocc.daemon import replay, run
from thermocc.room import EXAMPLE_ROOM, load_room
from thermocc.site import load_site
from thermocc_shared import wire

ROOM = load_room(EXAMPLE_ROOM)
T0 = 1_772_442_000_000          # 2026-03-02 09:00 UTC


def scripted_messages(seconds=660, hz=1):
    """Blob messages of the four cameras: two people seated, one walking in from the door.
    A camera that sees at least the detector's smallest blob of someone (5 pixels of their
    outline) shows them, at its border when their centre lies beyond it, as the detector
    does."""
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
                c, r, _ = m.to_pixel([x], [y], h)
                if np.isfinite(c[0]) and np.isfinite(r[0]) and m.group_area_px([(x, y)]) >= 5:
                    # centroids lie on pixel centres' span
                    cx, cy = int(np.clip(c[0], 0, 31) * 1000), int(np.clip(r[0], 0, 23) * 1000)
                    # 16 pixels: about what one whole person covers in these views (fewer is a fragment)
                    blobs.append((cx, cy, max(0, cx // 1000 - 2), max(0, cy // 1000 - 2), min(31, cx // 1000 + 2),
                                  min(23, cy // 1000 + 1), 16, 3100, 2950, 0))
            key = (m.node, m.id)
            seq[key] = seq.get(key, 100) + 1
            rec = {"seq": seq[key], "utc_ms": t + k, "flags": 1, "ambient": 2200, "min": 2100, "max": 3100,
                   "mean": 2250, "warm": 16 * len(blobs), "small": 0, "overflow": 0, "blobs": blobs}
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
        # a daemon thread: a test that fails before close() must not keep the run alive
        self.thread = threading.Thread(target=run, args=(site,), kwargs={"stop": self.stop, "ready": self.ready},
                                       daemon=True)
        self.thread.start()
        # ready once warm_up has loaded every numba kernel: on a fresh install they are
        # compiled first (15-17 s on this machine's 2 cores, more when they are busy), and
        # how fast is the benchmarks' business, not this test's
        assert self.ready.wait(180)

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
    assert disc["availability"] == [{"topic": "thermocc/campus/host/test-host/availability"},
                                    {"topic": "thermocc/campus/lab/occupancy/availability"}]
    assert disc["availability_mode"] == "all"
    assert live["thermocc/campus/lab/occupancy/availability"] == b"online"    # no board said otherwise

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


def test_out_of_order_within_the_watermark_is_reordered_and_later_is_counted_late(tmp_path):
    """Messages reordered by up to 5 s (watermark 10 s) give the same bytes as in order; a
    message held back 60 s is counted late and left out, the same way live and in replay."""
    from thermocc.daemon import Fuser
    site = write_site(tmp_path, 1883)
    msgs = scripted_messages(seconds=700)

    def run_fuser(name, sequence):
        fuser = Fuser(site, tmp_path / name, journal=False)
        for topic, payload in sequence:
            fuser.handle_payload(topic, payload)
        fuser.close()
        return fuser.stats(), outputs(tmp_path / name / "lab")

    in_order, expected = run_fuser("in_order", msgs)
    shuffled = [m for i in range(0, len(msgs), 20) for m in reversed(msgs[i:i + 20])]   # 5 s blocks reversed
    stats, got = run_fuser("shuffled", shuffled)
    assert stats["lab"]["late"] == 0 and got == expected
    held = msgs[800]                                                   # second 200, delivered at second 260
    delayed = msgs[:800] + msgs[801:1040] + [held] + msgs[1040:]
    stats, got = run_fuser("delayed", delayed)
    assert stats["lab"]["late"] == 1 and stats["lab"]["accepted"] == len(msgs) - 1
    assert got["output.csv"].count(b"\n") == expected["output.csv"].count(b"\n")     # the same steps closed


def retarget(msgs, room, nodes):
    """The scripted messages as if sent by the boards of another room (other node names)."""
    out = []
    for topic, payload in msgs:
        for old, new in nodes.items():
            topic = topic.replace("/lab/%s/" % old, "/%s/%s/" % (room, new))
            payload = payload.replace('"node":"%s"' % old, '"node":"%s"' % new)
        out.append((topic, payload))
    return out


def test_one_daemon_serves_two_rooms_and_rooms_split_over_two_daemons(broker, tmp_path):
    raw = json.loads(EXAMPLE_ROOM.read_text())
    raw["room"] = "annex"
    nodes = {"node-a": "node-c", "node-b": "node-d"}
    for cam in raw["cameras"]:
        cam["node"] = nodes[cam["node"]]
    (tmp_path / "annex.json").write_text(json.dumps(raw))
    site_raw = {"site": "campus", "mqtt": {"host": "127.0.0.1", "port": broker.port},
                "rooms": [str(EXAMPLE_ROOM), "annex.json"], "outputs": "outputs", "state": "state"}
    msgs = scripted_messages(seconds=400)
    annex = retarget(msgs, "annex", nodes)
    pub = publisher(broker.port)
    results = {}
    for layout in ("together", "split"):
        folder = tmp_path / layout
        folder.mkdir()
        (folder / "annex.json").write_text(json.dumps(raw))
        (folder / "site.json").write_text(json.dumps(site_raw))
        shares = [None] if layout == "together" else [["lab"], ["annex"]]
        sites = [load_site(folder / "site.json", share) for share in shares]
        assert len({s.mqtt.client_id for s in sites}) == len(sites)        # split daemons keep their own sessions
        daemons = [Daemon(s) for s in sites]
        for a, b in zip(msgs, annex):
            pub.publish(*a, qos=1)
            pub.publish(*b, qos=1).wait_for_publish(5)
        assert wait_for(lambda: all((folder / "state" / ("%s.journal" % r)).exists() and
                                    len((folder / "state" / ("%s.journal" % r)).read_text().splitlines()) == len(msgs)
                                    for r in ("lab", "annex")))
        for d in daemons:
            d.close()
        results[layout] = {r: outputs(folder / "outputs" / r) for r in ("lab", "annex")}
        assert results[layout]["lab"]["output.csv"].count(b"\n") >= 2
        assert results[layout]["lab"] == results[layout]["annex"]          # rooms do not leak into each other
    pub.loop_stop()
    assert results["together"] == results["split"]


def test_daemon_over_tls_with_the_sites_ca(tmp_path):
    """A broker with a TLS listener signed by a private CA; the site names the CA file."""
    import datetime as dt
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from thermocc_tools.broker import MosquittoBroker

    def cert(subject, issuer, key, signer, ca):
        now = dt.datetime.now(dt.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
             .not_valid_after(now + dt.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(cert("thermocc test CA", "thermocc test CA", ca_key, ca_key, True).public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(cert("127.0.0.1", "thermocc test CA", server_key, ca_key, False)
                                          .public_bytes(pem))
    (tmp_path / "server.key").write_bytes(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                                   serialization.NoEncryption()))
    with MosquittoBroker(tls=(tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key")) as tls_broker:
        (tmp_path / "site.json").write_text(json.dumps({
            "site": "campus", "rooms": [str(EXAMPLE_ROOM)], "outputs": "outputs", "state": "state",
            "mqtt": {"host": "127.0.0.1", "port": tls_broker.port, "tls": True, "ca": "ca.pem"}}))
        site = load_site(tmp_path / "site.json")
        daemon = Daemon(site)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="tls-boards")
        pub.tls_set(ca_certs=str(tmp_path / "ca.pem"))
        pub.connect("127.0.0.1", tls_broker.port)
        pub.loop_start()
        msgs = scripted_messages(seconds=60)
        for topic, payload in msgs:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        assert wait_for(lambda: journal_lines(site) == len(msgs))
        daemon.close()
        pub.loop_stop()
    # without the CA the site is refused at start, naming the field
    (tmp_path / "site.json").write_text(json.dumps({"site": "campus", "rooms": [str(EXAMPLE_ROOM)],
                                                    "mqtt": {"tls": True, "ca": "missing.pem"}}))
    import pytest
    from thermocc.room import RoomConfigError
    with pytest.raises(RoomConfigError, match="mqtt.ca: .*missing.pem is not a file"):
        load_site(tmp_path / "site.json")


def test_journal_is_compacted_and_a_crash_resumes_from_the_checkpoint(tmp_path):
    """Three hours of messages: the journal is checkpointed and archived every hour of board
    time, so a restart replays less than an hour; a crash (no close) and resume give the
    bytes of an uninterrupted run, and a replay of the archive + open segment does too."""
    from thermocc.daemon import Fuser, replay
    from thermocc.journal import journal_files
    site = write_site(tmp_path, 1883)
    msgs = scripted_messages(seconds=3 * 3600 + 400)
    reference = Fuser(site, tmp_path / "reference", journal=False)
    for m in msgs:
        reference.handle_payload(*m)
    reference.close()

    crash_at = len(msgs) * 3 // 4
    first = Fuser(site, journal=True)
    for m in msgs[:crash_at]:
        first.handle_payload(*m)
    for state in first.rooms.values():          # a crash: the files as the OS has them, nothing closed
        state.journal.f.flush()
        state.journal.archiver.join()             # (once the last archiving is done, so the count is known)
    archived = sorted((site.state / "archive" / "lab").glob("*.jsonl.gz"))
    assert len(archived) >= 2 and (site.state / "lab.checkpoint").exists()
    open_segment = (site.state / "lab.journal").read_text().splitlines()
    assert 0 < len(open_segment) <= 4 * 3600 + 4 * 300            # under an hour (and a step) of messages

    second = Fuser(site, journal=True)
    assert second.resume() == len(open_segment)                  # not the whole history
    for m in msgs[crash_at - 50:]:                               # the boards resend what was unacknowledged
        second.handle_payload(*m)
    second.close()
    assert outputs(site.outputs / "lab") == outputs(tmp_path / "reference" / "lab")

    files = journal_files(site.state / "lab.journal")
    assert files[:len(archived)] == archived and files[-1] == site.state / "lab.journal"
    stats = replay(site, tmp_path / "replayed", journals=[site.state / "lab.journal"])
    assert stats["lab"]["accepted"] == len(msgs) and stats["journal_bad_lines"] == 0
    assert outputs(tmp_path / "replayed" / "lab") == outputs(tmp_path / "reference" / "lab")
    # a damaged line in a segment is skipped and counted; the others replay
    segment = (site.state / "lab.journal").read_text().splitlines()
    segment[1] = segment[1][:40]
    (site.state / "lab.journal").write_text("\n".join(segment) + "\n")
    stats = replay(site, tmp_path / "damaged", journals=[site.state / "lab.journal"])
    assert stats["journal_bad_lines"] == 1 and stats["lab"]["accepted"] == len(msgs) - 1


def test_journal_recovers_from_a_crash_inside_compaction(tmp_path):
    from thermocc.journal import Journal, journal_files, read_messages
    j = Journal(tmp_path, "lab")
    for i in range(3):
        j.append({"i": i})
    j.compact("state after 3", "fp")
    j.append({"i": 3})
    j.append({"i": 4})
    j.close()
    # crash after step 1 of the next compaction: the open segment renamed, no new checkpoint
    (tmp_path / "lab.journal").rename(tmp_path / "lab.journal.1")
    j = Journal(tmp_path, "lab")
    state, messages = j.recover("fp")
    assert state == "state after 3" and messages == [{"i": 3}, {"i": 4}]
    j.append({"i": 5})
    # crash after step 2: checkpoint written, the closed segments not yet archived
    j._archive_below = lambda segment: None
    j.compact("state after 6", "fp")
    assert (tmp_path / "lab.journal.1").exists() and (tmp_path / "lab.journal.2").exists()
    j = Journal(tmp_path, "lab")
    state, messages = j.recover("fp")
    assert state == "state after 6" and messages == []
    assert not list(tmp_path.glob("lab.journal.*"))
    everything = [m["i"] for f in journal_files(tmp_path / "lab.journal") for m in read_messages(f)]
    assert everything == [0, 1, 2, 3, 4, 5]
    # another room configuration: the checkpoint is not used
    state, messages = Journal(tmp_path, "lab").recover("another fp")
    assert state is None and messages == []


def test_the_journal_keeps_a_one_line_payload_as_it_came_and_encodes_one_that_is_not(tmp_path):
    """A message is journaled as the payload it came in (no second JSON encoding on the
    message path) when that is one line; a payload spread over lines (pretty-printed JSON
    is valid JSON) is encoded on one. Both read back as the message."""
    from thermocc.journal import Journal, read_messages
    msg = {"v": 1, "node": "node-a", "seq": 7, "amb": 22.1, "blobs": [{"x": 3.25, "kind": "person"}]}
    spaced = json.dumps(msg).encode()                    # one line, with the sender's spaces
    pretty = json.dumps(msg, indent=2)                   # several lines (str: as tests pass them)
    j = Journal(tmp_path, "lab")
    j.append(msg, spaced)
    j.append(msg, pretty)
    j.append(msg)
    j.close()
    lines = (tmp_path / "lab.journal").read_bytes().splitlines()
    assert lines == [spaced, json.dumps(msg, separators=(",", ":")).encode(),
                     json.dumps(msg, separators=(",", ":")).encode()]
    assert read_messages(tmp_path / "lab.journal") == [msg, msg, msg]


def test_duplicates_are_told_for_an_hour_per_camera_and_forgotten_after(tmp_path):
    """The intake knows each camera's sequence numbers for dedup_horizon_ms of capture time:
    a message seen again within it is a duplicate; once more than 100,000 are known, those
    older than the horizon are forgotten (memory stays bounded on a daemon run for years)."""
    from thermocc.ingest import Observation, OrderedIntake
    blobs = np.zeros((0, 10))
    intake = OrderedIntake(watermark_ms=0, dedup_horizon_ms=60_000)
    for seq in range(110_000):                      # 4 Hz for 7.6 hours, two cameras
        for cam in ("cam1", "cam2"):
            intake.push(Observation("node-a", cam, seq, T0 + seq * 250, True, 22.0, blobs))
    assert intake.has_seen("node-a", "cam1", 109_999) and intake.has_seen("node-a", "cam2", 109_999)
    assert not intake.has_seen("node-a", "cam1", 1000)               # hours old: forgotten
    assert intake.n_seen <= 100_000 + 2 * 240
    assert intake.push(Observation("node-a", "cam2", 109_990, T0 + 109_990 * 250, True, 22.0, blobs)) == []
    assert intake.stats.duplicates == 1


def test_a_camera_going_silent_is_logged_once_each_way_and_a_checkpoint_is_for_the_shape_of_its_state(caplog):
    import numpy as np
    from thermocc.daemon import RoomState
    from thermocc.ingest import BLOB_FIELDS, Observation
    from thermocc.pipeline import RoomPipeline
    room = load_room(EXAMPLE_ROOM)
    pipeline = RoomPipeline(room)
    cams = [(c.node, c.id) for c in room.cameras]

    def second(t, silent=()):
        for k, (node, cam) in enumerate(cams):
            if (node, cam) not in silent:
                pipeline.feed(Observation(node, cam, t, t * 1000, True, 22.0, np.zeros((0, BLOB_FIELDS))))

    with caplog.at_level(logging.INFO, logger="thermocc.pipeline"):
        for t in range(100):
            second(t, silent=[cams[3]] if t < 20 else ())          # late to start: not "missing"
        for t in range(100, 600):
            second(t, silent=[cams[1]])                            # node-a/cam2 unplugged for 500 s
        for t in range(600, 700):
            second(t)
    missing = [r.getMessage() for r in caplog.records if "missing" in r.getMessage()]
    assert missing == ["lab: node-a/cam2 missing: no frame for 151 s (camera_timeout_s); coverage drops until it "
                       "reports"]
    assert [r.getMessage() for r in caplog.records if "again" in r.getMessage()] == ["lab: node-a/cam2 reports again"]
    # a checkpoint is for the shape of the state it pickles: one from a version whose
    # pipeline had other fields (an upgrade) is not loaded
    from thermocc.daemon import state_fingerprint
    fresh, older = RoomState(room, [], None), RoomState(room, [], None)
    assert fresh.fingerprint == older.fingerprint
    # what a room caches once it has been used (its zones' vertices) is not its shape
    unused = load_room(EXAMPLE_ROOM)
    assert "_zone_vertices" in vars(room) and "_zone_vertices" not in vars(unused)
    assert RoomState(unused, [], None).fingerprint == fresh.fingerprint
    del older.pipeline.missing                      # as pickled before this field existed
    assert state_fingerprint(room, older.pipeline, older.intake) != fresh.fingerprint
    # nor one whose frame detectors had other fields
    from thermocc import detect_fast
    init = detect_fast.FastDetector.__init__
    def with_a_new_field(self, *a, **kw):
        init(self, *a, **kw)
        self.new_field = 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(detect_fast.FastDetector, "__init__", with_a_new_field)
        assert state_fingerprint(room, fresh.pipeline, fresh.intake) != fresh.fingerprint


def test_a_daemon_started_before_its_broker_says_so_and_connects_when_it_comes(tmp_path, caplog):
    from thermocc_tools.broker import MosquittoBroker, free_port
    port = free_port()
    site = write_site(tmp_path, port)
    stop, ready = threading.Event(), threading.Event()
    with caplog.at_level(logging.WARNING, logger="thermocc.daemon"):
        thread = threading.Thread(target=run, args=(site,), kwargs={"stop": stop, "ready": ready})
        thread.start()
        try:
            assert wait_for(lambda: "cannot connect to the broker at 127.0.0.1:%d" % port in caplog.text, 180)
            assert not ready.is_set()
            with MosquittoBroker(port=port):
                assert ready.wait(60)                         # connected and subscribed once it is up
        finally:
            stop.set()
            thread.join(30)
    assert not thread.is_alive()


def test_a_board_going_offline_is_logged_and_the_rooms_live_results_become_unavailable(broker, tmp_path, caplog):
    site = write_site(tmp_path, broker.port)
    room_av, boards = [], []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
    watcher.on_message = lambda c, u, m: room_av.append(m.payload)
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe("thermocc/campus/lab/occupancy/availability", 1)
    watcher.loop_start()
    for node in ("node-a", "node-b"):
        board = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=node)
        board.will_set("thermocc/campus/lab/%s/availability" % node, "offline", qos=1, retain=True)
        board.connect("127.0.0.1", broker.port)
        board.loop_start()
        board.publish("thermocc/campus/lab/%s/availability" % node, "online", qos=1, retain=True).wait_for_publish(5)
        boards.append(board)
    with caplog.at_level(logging.INFO, logger="thermocc.daemon"):
        daemon = Daemon(site)
        try:
            assert wait_for(lambda: caplog.text.count("is online") == 2)       # the retained states, on connect
            assert wait_for(lambda: room_av[-1:] == [b"online"])
            for board in boards:
                board.loop_stop()
                board.socket().close()          # the board drops off the network: the broker sends its will
                assert wait_for(lambda: caplog.text.count("is offline") == boards.index(board) + 1, 30)
                # one board left is enough for the room; with none, its results are unavailable
                assert wait_for(lambda: room_av[-1:] == [b"online" if board is boards[0] else b"offline"], 10)
        finally:
            daemon.close()
            watcher.loop_stop()
    assert "board node-b is offline (its last will" in caplog.text


def test_daemon_reconnects_after_the_broker_restarts(tmp_path):
    from thermocc_tools.broker import MosquittoBroker
    with MosquittoBroker() as b:
        site = write_site(tmp_path, b.port)
        daemon = Daemon(site)
        online = []
        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
        watcher.on_connect = lambda c, u, f, r, p=None: c.subscribe("thermocc/campus/host/#", 1)
        watcher.on_message = lambda c, u, m: online.append(m.payload)
        watcher.reconnect_delay_set(0.1, 0.5)
        watcher.connect("127.0.0.1", b.port)
        watcher.loop_start()
        pub = publisher(b.port)
        pub.reconnect_delay_set(0.1, 0.5)
        msgs = scripted_messages(seconds=120)
        for m in msgs[:240]:
            pub.publish(*m, qos=1).wait_for_publish(5)
        assert wait_for(lambda: journal_lines(site) == 240)
        online.clear()
        b.restart()                                           # the broker goes away and comes back empty
        assert wait_for(lambda: b"online" in online, 30)      # the daemon is back and subscribed again
        for m in msgs[240:]:
            pub.publish(*m, qos=1).wait_for_publish(10)
        assert wait_for(lambda: journal_lines(site) == len(msgs))
        daemon.close()
        pub.loop_stop()
        watcher.loop_stop()
