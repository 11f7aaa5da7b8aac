# The SD log format: append-only records, each framed so that a power cut mid-write
# loses at most the record being written and a reader resumes at the next good one.
#
#   sync  b'\xa5\x5a'  2 bytes
#   type  uint8        RECORD_* below
#   len   uint16 LE    payload bytes
#   payload
#   crc   uint32 LE    CRC32 of type + len + payload
#
# Temperatures are int16 centi-degrees C, centroids uint16 milli-pixels. Runs unchanged
# under MicroPython (the board writes it) and CPython (the host reads it). docs/formats.md
# documents every field.
import struct

from thermocc_shared.detect import centi

try:
    from binascii import crc32
except ImportError:  # a MicroPython build without binascii.crc32
    crc32 = None

SYNC = b"\xa5\x5a"
HEAD = "<2sBH"
HEAD_SIZE = 5
CRC_SIZE = 4
FRAMING = HEAD_SIZE + CRC_SIZE
MAX_PAYLOAD = 4096

RECORD_HEADER = 1   # first record of every file: JSON {"schema", "node", "cameras", "boot"}
RECORD_BLOBS = 2    # one camera frame's detections
RECORD_RAW = 3      # one camera frame's 768 temperatures
RECORD_EVENT = 4    # JSON {"t", "event", ...}: sd_full, config_error, reboot, ...
RECORD_NAMES = {RECORD_HEADER: "header", RECORD_BLOBS: "blobs", RECORD_RAW: "raw", RECORD_EVENT: "event"}

# Blob record flags.
FLAG_SYNCED = 1     # the board's clock was NTP-synced when the frame was taken
FLAG_PUBLISH = 2    # the frame is to be published (changed, or a periodic refresh)

BLOBS_HEAD = "<BBIQhhhhHBBB"   # camera, flags, seq, utc_ms, ambient, min, max, mean, warm, n, small, overflow
BLOBS_HEAD_SIZE = struct.calcsize(BLOBS_HEAD)
BLOB = "<HHBBBBHhhB"           # cx, cy (milli-px), col0, row0, col1, row1, count, peak, mean, kind
BLOB_SIZE = struct.calcsize(BLOB)
RAW_HEAD = "<BBIQ"             # camera, flags, seq, utc_ms
RAW_HEAD_SIZE = struct.calcsize(RAW_HEAD)
PIXELS = 768


class LogFormatError(ValueError):
    pass


def _crc32_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


if crc32 is None:
    _TABLE = _crc32_table()

    def crc32(data, crc=0):
        crc ^= 0xFFFFFFFF
        for b in data:
            crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF


def milli_px(value):
    v = int(value * 1000 + 0.5)
    return 0 if v < 0 else (65535 if v > 65535 else v)


def frame_record(rtype, payload, out=None):
    """Frame a payload as one record (bytes); `out` (bytearray) is reused when given."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise LogFormatError("payload of %d bytes exceeds %d" % (n, MAX_PAYLOAD))
    head = struct.pack(HEAD, SYNC, rtype, n)
    crc = crc32(payload, crc32(head[2:])) & 0xFFFFFFFF
    if out is None:
        return head + bytes(payload) + struct.pack("<I", crc)
    out[:] = head
    out.extend(payload)
    out.extend(struct.pack("<I", crc))
    return out


def encode_blobs(detector, camera_index, seq, utc_ms, flags, out=None):
    """Payload of a RECORD_BLOBS from the detector's last frame (bytearray `out` reused)."""
    d = detector
    buf = out if out is not None else bytearray()
    buf[:] = struct.pack(BLOBS_HEAD, camera_index, flags, seq, utc_ms, d.ambient_cd,
                         d.min_cd, d.max_cd, d.mean_cd,
                         d.warm_pixels, d.count, min(d.small, 255), min(d.overflow, 255))
    s = d.stats
    # Locals, not globals, inside the per-blob loop: each global lookup costs on the board.
    pack, fmt, milli, cent, whole = struct.pack, BLOB, milli_px, centi, int
    for j in range(0, d.count * 10, 10):
        buf.extend(pack(fmt, milli(s[j]), milli(s[j + 1]), whole(s[j + 2]), whole(s[j + 3]),
                        whole(s[j + 4]), whole(s[j + 5]), whole(s[j + 6]), cent(s[j + 7]),
                        cent(s[j + 8]), whole(s[j + 9])))
    return buf


def decode_blobs(payload):
    """RECORD_BLOBS payload -> dict of integer fields (centi-degrees, milli-pixels)."""
    if len(payload) < BLOBS_HEAD_SIZE:
        raise LogFormatError("blob record of %d bytes is shorter than its header" % len(payload))
    (camera, flags, seq, utc_ms, ambient, lo, hi, mean, warm, n, small,
     overflow) = struct.unpack_from(BLOBS_HEAD, payload, 0)
    if len(payload) != BLOBS_HEAD_SIZE + n * BLOB_SIZE:
        raise LogFormatError("blob record says %d blobs but holds %d bytes" % (n, len(payload)))
    blobs = []
    for k in range(n):
        blobs.append(struct.unpack_from(BLOB, payload, BLOBS_HEAD_SIZE + k * BLOB_SIZE))
    return {"camera": camera, "flags": flags, "seq": seq, "utc_ms": utc_ms, "ambient": ambient,
            "min": lo, "max": hi, "mean": mean, "warm": warm, "small": small,
            "overflow": overflow, "blobs": blobs}


def encode_raw(frame, camera_index, seq, utc_ms, flags, out=None):
    """Payload of a RECORD_RAW: 768 int16 centi-degrees, row-major 24 x 32 (frame: array('f'))."""
    buf = out if out is not None else bytearray(RAW_HEAD_SIZE + 2 * PIXELS)
    if len(buf) != RAW_HEAD_SIZE + 2 * PIXELS:
        buf[:] = bytes(RAW_HEAD_SIZE + 2 * PIXELS)
    struct.pack_into(RAW_HEAD, buf, 0, camera_index, flags, seq, utc_ms)
    o = RAW_HEAD_SIZE
    for i in range(PIXELS):
        v = centi(frame[i]) & 0xFFFF
        buf[o] = v & 0xFF
        buf[o + 1] = v >> 8
        o += 2
    return buf


def decode_raw_head(payload):
    if len(payload) != RAW_HEAD_SIZE + 2 * PIXELS:
        raise LogFormatError("raw record of %d bytes, expected %d" % (len(payload), RAW_HEAD_SIZE + 2 * PIXELS))
    camera, flags, seq, utc_ms = struct.unpack_from(RAW_HEAD, payload, 0)
    return {"camera": camera, "flags": flags, "seq": seq, "utc_ms": utc_ms}


def check_record(data, offset):
    """Look at data[offset:]: returns (status, rtype, payload_start, payload_len, next_offset).

    status is "ok", "short" (the record runs past the end of data: a cut or still
    being written), "bad" (sync, length or CRC wrong: resynchronise from offset + 1).
    """
    end = len(data)
    if end - offset < HEAD_SIZE:
        return "short", 0, 0, 0, end
    if data[offset] != 0xA5 or data[offset + 1] != 0x5A:
        return "bad", 0, 0, 0, offset + 1
    rtype = data[offset + 2]
    n = data[offset + 3] | (data[offset + 4] << 8)
    if n > MAX_PAYLOAD or rtype not in RECORD_NAMES:
        return "bad", 0, 0, 0, offset + 1
    stop = offset + HEAD_SIZE + n + CRC_SIZE
    if stop > end:
        return "short", rtype, offset + HEAD_SIZE, n, end
    body = memoryview(data)[offset + 2:offset + HEAD_SIZE + n]
    crc = crc32(body) & 0xFFFFFFFF
    stored = struct.unpack_from("<I", data, offset + HEAD_SIZE + n)[0]
    if crc != stored:
        return "bad", rtype, 0, 0, offset + 1
    return "ok", rtype, offset + HEAD_SIZE, n, stop


def find_sync(data, offset):
    """Next offset >= offset where a sync marker starts, or len(data)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    i = data.find(SYNC, offset)
    return len(data) if i < 0 else i
