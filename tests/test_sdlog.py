"""SD log format: round trip, power loss at every byte, corruption, rotation, full card;
the encoder under real MicroPython writes the same bytes."""
import json
from array import array

import numpy as np
import pytest

from thermocc.logreader import blob_messages, read_log, read_logs
from thermocc_device.sdlog import SdLog, file_name
from thermocc_device.storage import FileStorage
from thermocc_shared import detect as det
from thermocc_shared import logformat as lf
from thermocc_shared import wire
from thermocc_tools import micropython_run
from thermocc_tools.sim_board import QuotaStorage
from thermocc_tools.sim_clock import SimClock

from frames import room


def detector_with_people(seed=1, people=3):
    rng = np.random.default_rng(seed)
    d = det.Detector()
    d.detect(array("f", room(rng, 0).tobytes()))
    d.detect(array("f", room(rng, people).tobytes()))
    return d


def some_records(n=12):
    d = detector_with_people()
    rng = np.random.default_rng(5)
    recs = []
    for seq in range(n):
        if seq % 4 == 3:
            frame = room(rng, 2)
            recs.append((lf.RECORD_RAW, bytes(lf.encode_raw(array("f", frame.tobytes()), 1, seq, 1767225600000 + seq, 0))))
        else:
            recs.append((lf.RECORD_BLOBS, bytes(lf.encode_blobs(d, seq % 2, seq, 1767225600000 + 250 * seq,
                                                                lf.FLAG_SYNCED | lf.FLAG_PUBLISH))))
    return recs


def test_round_trip_blobs_and_raw():
    d = detector_with_people()
    payload = lf.encode_blobs(d, 1, 42, 1767225600123, lf.FLAG_SYNCED)
    rec = lf.decode_blobs(payload)
    assert (rec["camera"], rec["seq"], rec["utc_ms"], rec["ambient"]) == (1, 42, 1767225600123, d.ambient_cd)
    assert len(rec["blobs"]) == d.count > 0
    for k, b in enumerate(rec["blobs"]):
        cx, cy, c0, r0, c1, r1, n, peak, mean, kind = d.blob(k)
        assert abs(b[0] / 1000 - cx) <= 0.0005 and abs(b[1] / 1000 - cy) <= 0.0005
        assert b[2:7] == (c0, r0, c1, r1, n) and abs(b[7] / 100 - peak) <= 0.005 and b[9] == kind
    msg = wire.parse_blob_message(wire.blob_message(rec, "node-a", "cam2"))
    assert msg["seq"] == 42 and msg["cam"] == "cam2" and len(msg["blobs"]) == d.count
    frame = room(np.random.default_rng(3), 2)
    raw = lf.encode_raw(array("f", frame.tobytes()), 0, 7, 5, 0)
    temps = np.frombuffer(bytes(raw), "<i2", 768, lf.RAW_HEAD_SIZE) / 100
    assert np.abs(temps - frame).max() <= 0.005 + 1e-6


def test_blob_message_writes_signed_fixed_point_values_exactly():
    """Signs are written apart from the digits, so values between -1 and 0 keep theirs."""
    rec = {"camera": 0, "flags": 1, "seq": 9, "utc_ms": 5, "ambient": -5, "min": -1234, "max": 4567,
           "mean": 0, "warm": 3, "small": 1, "overflow": 0,
           "blobs": [(12345, 7, 1, 2, 3, 4, 6, -7, 1205, 0), (999, 22999, 0, 0, 31, 23, 9, 4000, -100, 1)]}
    msg = json.loads(wire.blob_message(rec, "node-a", "cam1"))
    assert (msg["amb"], msg["min"], msg["max"], msg["mean"]) == (-0.05, -12.34, 45.67, 0.0)
    assert [(b["x"], b["y"], b["peak"], b["mean"], b["kind"]) for b in msg["blobs"]] == [
        (12.345, 0.007, -0.07, 12.05, "person"), (0.999, 22.999, 40.0, -1.0, "hot")]
    assert wire.parse_blob_message(wire.blob_message(rec, "node-a", "cam1"))["blobs"][0]["box"] == [1, 2, 3, 4]


def write_file(path, records):
    data = b"".join(lf.frame_record(t, p) for t, p in records)
    path.write_bytes(data)
    return data


def test_power_loss_at_every_byte_of_a_record(tmp_path):
    """Cut the file at every offset inside one record: all complete records come back,
    the cut one is reported, nothing after a cut is lost when more data follows."""
    recs = some_records(6)
    framed = [lf.frame_record(t, p) for t, p in recs]
    start = sum(len(f) for f in framed[:3])
    victim = framed[3]
    for cut in range(1, len(victim)):
        data = b"".join(framed[:3]) + victim[:cut]
        (tmp_path / "a.tlg").write_bytes(data)
        got = read_log(tmp_path / "a.tlg")
        assert got.records == 3, cut
        assert len(got.damage) == 1 and got.damage[0].offset == start
        # The board rebooted and went on writing after the torn record (same file, as
        # when a card is reused): everything after it is recovered too.
        (tmp_path / "b.tlg").write_bytes(data + b"".join(framed[4:]))
        got = read_log(tmp_path / "b.tlg")
        assert got.records == 5, cut
        assert got.damage and got.damage[0].offset == start


def test_flipped_bytes_lose_only_their_record(tmp_path):
    recs = some_records(8)
    data = bytearray(b"".join(lf.frame_record(t, p) for t, p in recs))
    rng = np.random.default_rng(0)
    for _ in range(30):
        pos = int(rng.integers(0, len(data)))
        broken = bytearray(data)
        broken[pos] ^= 0x5A
        (tmp_path / "x.tlg").write_bytes(bytes(broken))
        got = read_log(tmp_path / "x.tlg")
        assert got.records >= 7 and got.damage


def test_rotation_by_size_and_time_and_cursor(tmp_path):
    clock = SimClock()
    storage = FileStorage(str(tmp_path / "sd"))
    log = SdLog(storage, {"node": "n", "cameras": ["a", "b"]}, clock, rotate_bytes=4096, rotate_s=60, log=None)
    recs = some_records(40)
    for t, p in recs:
        log.append(t, p)
    assert log.last > log.first                      # rotated by size
    n = log.last
    clock.sleep_ms(61_000)
    log.append(*recs[0])
    assert log.last == n + 1                         # rotated by age
    log.save_cursor(log.first + 1, 17)
    log.close()
    after_reboot = SdLog(storage, {"node": "n", "cameras": ["a", "b"]}, clock, log=None)
    assert after_reboot.load_cursor() == (log.first + 1, 17)
    assert after_reboot.last == log.last + 1               # a new file per boot, numbering goes on
    contents = read_logs(tmp_path / "sd")
    files = after_reboot.last - after_reboot.first + 1
    assert contents.records == 41 + files                  # every record, plus one header per file
    assert not contents.damage
    assert len(contents.blobs) == sum(1 for t, _ in recs if t == lf.RECORD_BLOBS) + 1
    assert contents.header["cameras"] == ["a", "b"]
    assert len(blob_messages(contents)) == len(contents.blobs)


def test_full_card_deletes_oldest_files_and_says_so(tmp_path):
    clock = SimClock()
    card = QuotaStorage(str(tmp_path / "sd"), capacity=40_000)
    log = SdLog(card, {"node": "n", "cameras": ["a"]}, clock, rotate_bytes=8000, reserve_bytes=10_000, log=None)
    recs = some_records(200)
    written = 0
    for t, p in recs * 3:
        if log.append(t, p) is not None:
            written += 1
    assert log.present and log.deleted_files > 0 and log.full_events > 0
    assert any(name == "sd_full" for name, _ in log.pending_events)
    assert card.used() <= 40_000
    assert not (tmp_path / "sd" / file_name(1)).exists()      # the oldest went first
    assert (tmp_path / "sd" / file_name(log.last)).exists()
    assert written >= len(recs) * 3 - 2


def test_missing_card_is_not_fatal(tmp_path):
    clock = SimClock()
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the card's folder should be")
    log = SdLog(FileStorage(str(blocked / "thermocc")), {}, clock, log=None)
    assert not log.present
    assert log.append(lf.RECORD_EVENT, b"{}") is None and log.lost_records == 1
    assert log.pending_events[0][0] == "sd_missing"


ENCODE_GUEST = r"""
import gc, json, binascii
gc.disable()
from array import array
from thermocc_shared import detect as det
from thermocc_shared import logformat as lf
from thermocc_shared import wire
buf = array('f', bytes(4 * 768))
d = det.Detector()
with open('/input/frames.bin', 'rb') as f:
    for k in range(3):
        f.readinto(buf)
        d.detect(buf)
        p = lf.encode_blobs(d, 1, 100 + k, 1767225600000 + k, lf.FLAG_SYNCED | lf.FLAG_PUBLISH)
        rec = lf.frame_record(lf.RECORD_BLOBS, p)
        raw = lf.frame_record(lf.RECORD_RAW, lf.encode_raw(buf, 1, 100 + k, 1767225600000 + k, 0))
        print('REC', binascii.hexlify(rec).decode(), binascii.crc32(raw))
        print('MSG', wire.blob_message(lf.decode_blobs(p), 'node-a', 'cam2'))
        st, t, s0, n, nxt = lf.check_record(rec, 0)
        print('CHK', st, t, s0, n, nxt)
"""


@pytest.mark.micropython
def test_micropython_writes_the_same_bytes():
    rng = np.random.default_rng(9)
    frames = [room(rng, 0), room(rng, 4), room(rng, 6)]
    out, _ = micropython_run.run(ENCODE_GUEST, {"frames.bin": np.stack(frames).astype(np.float32).tobytes()})
    d = det.Detector()
    expected = []
    import binascii
    for k, f in enumerate(frames):
        buf = array("f", f.astype(np.float32).tobytes())
        d.detect(buf)
        p = lf.encode_blobs(d, 1, 100 + k, 1767225600000 + k, lf.FLAG_SYNCED | lf.FLAG_PUBLISH)
        rec = lf.frame_record(lf.RECORD_BLOBS, p)
        raw = lf.frame_record(lf.RECORD_RAW, lf.encode_raw(buf, 1, 100 + k, 1767225600000 + k, 0))
        expected.append("REC %s %d" % (binascii.hexlify(rec).decode(), binascii.crc32(raw)))
        expected.append("MSG " + wire.blob_message(lf.decode_blobs(p), "node-a", "cam2"))
        expected.append("CHK ok %d %d %d %d" % ((lf.RECORD_BLOBS,) + lf.check_record(rec, 0)[2:]))
    got = [line for line in out.splitlines() if line[:4] in ("REC ", "MSG ", "CHK ")]
    assert got == expected
    assert json.loads(got[4][4:])["blobs"]           # the 4-person frame carried blobs
