# The MQTT contract between boards and host: topics and the blob message (schema 1).
# The board builds messages from SD log records (live and backlog go through the same
# function, so a resent message is byte-identical); the host validates them here.
# Numbers are formatted from integers, so MicroPython and CPython write the same bytes.
# docs/mqtt.md documents every topic and field.
import binascii
import json

SCHEMA = 1
MAX_MESSAGE_BYTES = 16384
KIND_NAMES = ("person", "hot")
ROWS = 24
COLS = 32


class WireError(ValueError):
    pass


def node_topic(prefix, site, room, node, leaf):
    """<prefix>/<site>/<room>/<node>/<leaf>: availability, status, cmd, reply, logs."""
    return "%s/%s/%s/%s/%s" % (prefix, site, room, node, leaf)


def camera_topic(prefix, site, room, node, camera, leaf):
    """<prefix>/<site>/<room>/<node>/<camera>/<leaf>: blobs, frame, snapshot."""
    return "%s/%s/%s/%s/%s/%s" % (prefix, site, room, node, camera, leaf)


def split_topic(topic):
    """(prefix, site, room, node, camera or None, leaf) of a thermocc topic, or None."""
    parts = topic.split("/")
    if len(parts) == 5:
        return parts[0], parts[1], parts[2], parts[3], None, parts[4]
    if len(parts) == 6:
        return parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
    return None


# Messages are formatted with one % per blob and integer fields only: on the board
# every small str made (str(n), "%d" % n) costs a lookup in the interned-string table,
# so fixed-point numbers are written as "%d.%02d" inside the one format, with the sign
# apart (so -0.05 keeps its sign).
_HEAD = ('{"v":%d,"node":"%s","cam":"%s","seq":%d,"t":%d,"sync":%s,"amb":%s%d.%02d,"min":%s%d.%02d,'
         '"max":%s%d.%02d,"mean":%s%d.%02d,"warm":%d,"small":%d,"overflow":%d,"blobs":[')
_BLOB = ('%s{"x":%d.%03d,"y":%d.%03d,"box":[%d,%d,%d,%d],"n":%d,"peak":%s%d.%02d,"mean":%s%d.%02d,'
         '"kind":"%s"}')


def blob_message(record, node, camera):
    """JSON text of one blob message from a decoded RECORD_BLOBS (thermocc_shared.logformat)."""
    r = record
    amb, lo, hi, mean = r["ambient"], r["min"], r["max"], r["mean"]
    # Signs are tested inline, not by a helper: a call per field costs on the board.
    sa = sl = sh = sm = ""
    if amb < 0:
        sa, amb = "-", -amb
    if lo < 0:
        sl, lo = "-", -lo
    if hi < 0:
        sh, hi = "-", -hi
    if mean < 0:
        sm, mean = "-", -mean
    parts = [_HEAD % (SCHEMA, node, camera, r["seq"], r["utc_ms"], "true" if r["flags"] & 1 else "false",
                      sa, amb // 100, amb % 100, sl, lo // 100, lo % 100, sh, hi // 100, hi % 100,
                      sm, mean // 100, mean % 100, r["warm"], r["small"], r["overflow"])]
    sep = ""
    for cx, cy, c0, r0, c1, r1, n, peak, mean, kind in r["blobs"]:
        # cx, cy are milli-pixels from 0 (unsigned in the record).
        ps, ms = "", ""
        if peak < 0:
            ps, peak = "-", -peak
        if mean < 0:
            ms, mean = "-", -mean
        parts.append(_BLOB % (sep, cx // 1000, cx % 1000, cy // 1000, cy % 1000, c0, r0, c1, r1, n,
                              ps, peak // 100, peak % 100, ms, mean // 100, mean % 100,
                              KIND_NAMES[kind] if kind < 2 else "hot"))
        sep = ","
    parts.append("]}")
    return "".join(parts)


# Raw frames leave the board only when asked: a `snapshot` command, or the frame stream
# of a node configured with mqtt.frames (for frame-mode fusion on the host).
FRAME_ENCODING = "int16le-centi-c"
FRAME_BYTES = 2 * ROWS * COLS
_FRAME = ('{"v":%d,"node":"%s","cam":"%s","seq":%d,"t":%d,"sync":%s,"rows":24,"cols":32,'
          '"encoding":"int16le-centi-c","data":"%s"}')


def frame_message(node, camera, seq, utc_ms, synced, pixels):
    """JSON text of one raw frame. pixels: the 1536 bytes of a RECORD_RAW body (int16
    little-endian centi-degrees C, row-major 24 x 32)."""
    data = binascii.b2a_base64(pixels).strip().decode()
    return _FRAME % (SCHEMA, node, camera, seq, utc_ms, "true" if synced else "false", data)


# -- host side: validation of what arrives ----------------------------------------------
def _number(msg, key, lo, hi):
    v = msg.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise WireError("field %r must be a number, got %r" % (key, v))
    if not lo <= v <= hi:
        raise WireError("field %r = %r is outside %s..%s" % (key, v, lo, hi))
    return v


def _int(msg, key, lo, hi):
    v = msg.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise WireError("field %r must be an integer, got %r" % (key, v))
    if not lo <= v <= hi:
        raise WireError("field %r = %r is outside %s..%s" % (key, v, lo, hi))
    return v


def _text(msg, key):
    v = msg.get(key)
    if not isinstance(v, str) or not v or len(v) > 64:
        raise WireError("field %r must be a non-empty string of at most 64 characters" % key)
    return v


def _message_head(payload):
    """The JSON object of a message and its common fields checked (v, node, cam, seq, t, sync)."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError("message of %d bytes exceeds %d" % (len(payload), MAX_MESSAGE_BYTES))
    try:
        msg = json.loads(payload)
    except ValueError as e:
        raise WireError("not JSON: %s" % e)
    if not isinstance(msg, dict):
        raise WireError("not a JSON object")
    if msg.get("v") != SCHEMA:
        raise WireError("schema version %r, this host reads %d" % (msg.get("v"), SCHEMA))
    _text(msg, "node")
    _text(msg, "cam")
    _int(msg, "seq", 0, 0xFFFFFFFF)
    _int(msg, "t", 0, 2 ** 53)
    if not isinstance(msg.get("sync"), bool):
        raise WireError("field 'sync' must be true or false")
    return msg


def parse_frame_message(payload):
    """Validate a raw frame message; returns (dict, the 1536 pixel bytes) or raises WireError."""
    msg = _message_head(payload)
    if msg.get("rows") != ROWS or msg.get("cols") != COLS or msg.get("encoding") != FRAME_ENCODING:
        raise WireError("a frame must be rows 24, cols 32, encoding %r" % FRAME_ENCODING)
    data = msg.get("data")
    try:
        pixels = binascii.a2b_base64(data) if isinstance(data, str) else b""
    except ValueError:
        pixels = b""
    if len(pixels) != FRAME_BYTES:
        raise WireError("field 'data' must be base64 of %d bytes" % FRAME_BYTES)
    return msg, pixels


def parse_blob_message(payload):
    """Validate a blob message (bytes or str); returns the decoded dict or raises WireError."""
    msg = _message_head(payload)
    for key in ("amb", "min", "max", "mean"):
        _number(msg, key, -60, 400)
    _int(msg, "warm", 0, ROWS * COLS)
    blobs = msg.get("blobs")
    if not isinstance(blobs, list) or len(blobs) > 200:
        raise WireError("field 'blobs' must be a list of at most 200 blobs")
    for b in blobs:
        if not isinstance(b, dict):
            raise WireError("each blob must be a JSON object")
        _number(b, "x", 0, COLS - 1)
        _number(b, "y", 0, ROWS - 1)
        box = b.get("box")
        if (not isinstance(box, list) or len(box) != 4 or any(isinstance(v, bool) or not isinstance(v, int) for v in box)
                or not (0 <= box[0] <= box[2] < COLS and 0 <= box[1] <= box[3] < ROWS)):
            raise WireError("blob 'box' must be [col0, row0, col1, row1] inside the 32 x 24 frame, got %r" % (box,))
        _int(b, "n", 1, ROWS * COLS)
        _number(b, "peak", -60, 400)
        _number(b, "mean", -60, 400)
        if b.get("kind") not in KIND_NAMES:
            raise WireError("blob 'kind' must be one of %s, got %r" % (KIND_NAMES, b.get("kind")))
    return msg
