"""Read SD log files pulled from boards (format: thermocc_shared.logformat, docs/formats.md).

Every complete record is recovered; damaged bytes (a record cut by a power loss, a bad
CRC, garbage) are skipped, reported with their offset and reason, and reading resumes
at the next good record.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thermocc_shared import logformat as lf
from thermocc_shared import wire


@dataclass
class Damage:
    file: str
    offset: int
    length: int
    reason: str


@dataclass
class LogContents:
    header: dict | None = None
    blobs: list = field(default_factory=list)     # decoded blob records (dicts), camera id added
    raw: list = field(default_factory=list)       # (record dict, float32[768] C)
    events: list = field(default_factory=list)    # decoded JSON events
    damage: list = field(default_factory=list)    # Damage entries
    records: int = 0


def iter_records(data: bytes, name: str = "?"):
    """Yield ("ok", rtype, payload, offset) for good records, ("damaged", Damage) otherwise."""
    offset = 0
    end = len(data)
    while offset < end:
        status, rtype, start, n, nxt = lf.check_record(data, offset)
        if status == "ok":
            yield "ok", rtype, data[start:start + n], offset
            offset = nxt
            continue
        if status == "short":
            yield "damaged", Damage(name, offset, end - offset,
                                    "record cut short (power loss?): %d of %d bytes"
                                    % (end - offset, lf.FRAMING + n if n else lf.HEAD_SIZE))
            # A cut record may hide good records after it only if the cut was not at the
            # end; look for the next sync marker past its start.
            nxt = lf.find_sync(data, offset + 1)
            if nxt >= end:
                return
            offset = nxt
            continue
        nxt = lf.find_sync(data, offset + 1)
        yield "damaged", Damage(name, offset, nxt - offset,
                                "bad record (CRC, length or type wrong); %d bytes skipped" % (nxt - offset))
        offset = nxt


def read_log(path: str | Path, contents: LogContents | None = None) -> LogContents:
    path = Path(path)
    data = path.read_bytes()
    out = contents or LogContents()
    cameras: list[str] = list(out.header.get("cameras", [])) if out.header else []
    for item in iter_records(data, path.name):
        if item[0] == "damaged":
            out.damage.append(item[1])
            continue
        _, rtype, payload, offset = item
        try:
            if rtype == lf.RECORD_HEADER:
                out.header = json.loads(payload)
                cameras = list(out.header.get("cameras", []))
            elif rtype == lf.RECORD_BLOBS:
                rec = lf.decode_blobs(payload)
                rec["camera_id"] = cameras[rec["camera"]] if rec["camera"] < len(cameras) else "cam%d" % rec["camera"]
                out.blobs.append(rec)
            elif rtype == lf.RECORD_RAW:
                rec = lf.decode_raw_head(payload)
                rec["camera_id"] = cameras[rec["camera"]] if rec["camera"] < len(cameras) else "cam%d" % rec["camera"]
                temps = np.frombuffer(payload, "<i2", lf.PIXELS, lf.RAW_HEAD_SIZE).astype(np.float32) / 100
                out.raw.append((rec, temps))
            elif rtype == lf.RECORD_EVENT:
                out.events.append(json.loads(payload))
            out.records += 1
        except (ValueError, lf.LogFormatError) as e:
            out.damage.append(Damage(path.name, offset, len(payload) + lf.FRAMING,
                                     "record with a good CRC does not decode: %s" % e))
    return out


def log_files(folder: str | Path) -> list[Path]:
    """The *.tlg files of one node, oldest first: in the folder `thermocc pull` wrote
    (logs/<node>), or in the thermocc/ folder of a card's root ([] if neither has any)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError("%s: no such folder of SD logs" % folder)
    for where in (folder, folder / "thermocc"):
        files = sorted(where.glob("*.tlg"))
        if files:
            return files
    return []


def read_logs(folder: str | Path) -> LogContents:
    """All *.tlg files of one node's folder (log_files), oldest first."""
    out = LogContents()
    for path in log_files(folder):
        read_log(path, out)
    return out


def blob_messages(contents: LogContents, node: str | None = None) -> list[dict]:
    """The blob records as the dicts the MQTT path delivers (same encoder, same validation)."""
    node = node or (contents.header or {}).get("node", "unknown")
    return [wire.parse_blob_message(wire.blob_message(rec, node, rec["camera_id"])) for rec in contents.blobs]


def write_frames_csv(path: str | Path, rows) -> int:
    """The raw-frame interchange CSV (timestamp,camera,p0..p767; docs/formats.md) from
    (utc_ms, "node/cam", temps) rows, in time order; written whole, then renamed."""
    path = Path(path)
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w") as f:
        f.write("timestamp,camera," + ",".join("p%d" % i for i in range(lf.PIXELS)) + "\n")
        for t_ms, cam, temps in rows:
            f.write("%.3f,%s,%s\n" % (t_ms / 1000, cam, ",".join("%.2f" % v for v in temps)))
    tmp.replace(path)
    return len(rows)


def decode_folder(folder: str | Path, out: str | Path, node: str | None = None) -> dict:
    """A pulled node folder -> <out>/blobs.jsonl (the MQTT blob messages, one per line),
    <out>/frames.csv (raw frames, when the board logged any) and <out>/damage.txt."""
    contents = read_logs(folder)
    node = node or (contents.header or {}).get("node", Path(folder).name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    messages = blob_messages(contents, node)
    tmp = out / "blobs.jsonl.partial"
    with open(tmp, "w") as f:
        for m in messages:
            f.write(json.dumps(m, separators=(",", ":")) + "\n")
    tmp.replace(out / "blobs.jsonl")
    frames = 0
    if contents.raw:
        frames = write_frames_csv(out / "frames.csv", [(rec["utc_ms"], "%s/%s" % (node, rec["camera_id"]), temps)
                                                       for rec, temps in contents.raw])
    (out / "damage.txt").write_text("".join("%s at byte %d (%d bytes): %s\n" % (d.file, d.offset, d.length, d.reason)
                                            for d in contents.damage))
    return {"records": contents.records, "blobs": len(messages), "frames": frames, "damage": contents.damage,
            "events": len(contents.events)}
