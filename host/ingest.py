"""Ingest: MQTT messages, SD log files and raw-frame CSV become one stream of Observations.

Every source ends in `Observation`s, and every Observation passes `OrderedIntake`, which
drops duplicates by (node, camera, seq), holds messages for `watermark_s` so late and
out-of-order ones are put back in capture-time order, and counts what it rejects.
Raw frames (SD RAW records, CSV) go through the detector (the numba twin) first, so they
carry the same blobs a board would have sent, plus the frame for frame-mode fusion.
"""
from __future__ import annotations

import csv
import heapq
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from thermocc_shared import wire

log = logging.getLogger("thermocc.ingest")

BLOB_FIELDS = 10     # cx, cy, col0, row0, col1, row1, n, peak, mean, kind
KIND_PERSON = 0      # kinds: the detector's (shared/wire.py KIND_NAMES) ...
KIND_HOT = 1
KIND_RESIDUAL = 2    # ... and the host's: a person's warm place after they left (host/residual.py)


@dataclass
class Observation:
    node: str
    cam: str
    seq: int
    t_ms: int
    synced: bool
    ambient_c: float
    blobs: np.ndarray                      # (k, BLOB_FIELDS)
    frame: np.ndarray | None = None        # float32[768] when raw frames are known
    source: str = ""

    @property
    def key(self):
        return (self.t_ms, self.node, self.cam, self.seq)

    def people(self):
        """(col, row, at_edge, pixels, col0, row0, col1, row1, mean excess, peak excess) of
        the blobs the detector called people; at_edge is 1 when the blob touches the image
        border (a partial view: its centroid lies inward); excess is over the ambient (C)."""
        b = np.asarray(self.blobs, np.float64)
        if not len(b):
            return np.zeros((0, 10))
        return person_detections(b, np.zeros(len(b), np.int64), np.full(len(b), float(self.ambient_c)))[:, 1:]


@njit(cache=True)
def person_detections(blobs, cams, ambients):
    """(k, 11) rows (camera, Observation.people()'s ten columns) of the person blobs among
    blobs (n, BLOB_FIELDS), blob i seen by camera cams[i] at ambient ambients[i] (C)."""
    out = np.empty((len(blobs), 11))
    k = 0
    for i in range(len(blobs)):
        b = blobs[i]
        if b[9] != KIND_PERSON:
            continue
        out[k, 0] = cams[i]
        out[k, 1], out[k, 2] = b[0], b[1]
        out[k, 3] = 1.0 if b[2] <= 0 or b[3] <= 0 or b[4] >= 31 or b[5] >= 23 else 0.0   # at the image border
        out[k, 4] = b[6]
        out[k, 5], out[k, 6], out[k, 7], out[k, 8] = b[2], b[3], b[4], b[5]
        out[k, 9] = b[8] - ambients[i]
        out[k, 10] = b[7] - ambients[i]
        k += 1
    return out[:k]


def observation_from_message(msg, source="mqtt"):
    """From a validated blob message dict (thermocc_shared.wire.parse_blob_message)."""
    rows = [(b["x"], b["y"], *b["box"], b["n"], b["peak"], b["mean"], wire.KIND_NAMES.index(b["kind"]))
            for b in msg["blobs"]]
    blobs = np.array(rows, float).reshape(-1, BLOB_FIELDS)
    return Observation(msg["node"], msg["cam"], msg["seq"], msg["t"], msg["sync"], float(msg["amb"]), blobs,
                       source=source)


def observations_from_stats(node, cam, seqs, times, stats, summary, frames=None, synced=True, source="frames"):
    """From the numba detector's output (thermocc.detect_fast) for a run of frames."""
    from thermocc import detect_fast as fd
    out = []
    for i in range(len(times)):
        n = int(summary[i, fd.COUNT])
        blobs = stats[i, :n].astype(float).copy()
        out.append(Observation(node, cam, int(seqs[i]), int(times[i]), synced,
                               summary[i, fd.AMBIENT] / 100.0, blobs,
                               None if frames is None else frames[i], source))
    return out


def observation_from_frame_message(msg, pixels, detector, source="mqtt"):
    """From a validated frame message (thermocc_shared.wire.parse_frame_message): the frame
    goes through the camera's detector (its background carries over between frames)."""
    frames = (np.frombuffer(pixels, "<i2").astype(np.float32) / 100).reshape(1, -1)
    stats, summary = detector.detect_frames(frames, [msg["t"]])
    return observations_from_stats(msg["node"], msg["cam"], [msg["seq"]], [msg["t"]], stats, summary, frames,
                                   msg["sync"], source)[0]


def read_log_folder(folder, node=None, detector_settings=None, published_only=True):
    """Observations of one node's pulled SD log folder (blob records, and raw records through
    the detector), plus the log's damage report; a folder without logs is an error.
    published_only keeps the blob records the board published (report-on-change), i.e.
    exactly what a live subscriber received."""
    from thermocc import detect_fast as fd
    from thermocc.logreader import blob_messages, log_files, read_logs
    from thermocc_shared import logformat as lf
    if not log_files(folder):
        raise ValueError("%s: no SD log files (*.tlg) in it or in its thermocc/ folder; give the folder "
                         "`thermocc pull` wrote (logs/<node>) or the root of a card" % folder)
    contents = read_logs(folder)
    if published_only:
        contents.blobs = [r for r in contents.blobs if r["flags"] & lf.FLAG_PUBLISH]
    node = node or (contents.header or {}).get("node") or Path(folder).name
    obs = [observation_from_message(m, "sd") for m in blob_messages(contents, node)]
    by_cam = {}
    for rec, temps in contents.raw:
        by_cam.setdefault(rec["camera_id"], []).append((rec, temps))
    raw_keys = set()
    for cam, items in by_cam.items():
        frames = np.stack([t for _, t in items])
        det = fd.FastDetector(**(detector_settings or {}))
        stats, summary = det.detect_frames(frames, [r["utc_ms"] for r, _ in items])
        raw = observations_from_stats(node, cam, [r["seq"] for r, _ in items], [r["utc_ms"] for r, _ in items],
                                      stats, summary, frames, source="sd-raw")
        raw_keys.update((o.cam, o.seq) for o in raw)
        obs.extend(raw)
    # a frame logged raw also has its blob record: keep the one that carries the frame
    obs = [o for o in obs if o.frame is not None or (o.cam, o.seq) not in raw_keys]
    obs.sort(key=lambda o: o.key)
    return obs, contents.damage


def read_raw_csv(path, camera_map=None, detector_settings=None, chunk_rows=20000, report=None, progress=None):
    """Observations from a raw-frame CSV: timestamp,camera,p0..p767 (C, row-major 24 x 32).

    timestamp: seconds since 1970 UTC, or an ISO date-time (UTC unless it has an offset).
    camera: "node/cam", or a name that camera_map maps to (node, cam). Frames are numbered
    per camera in file order (the seq the boards would have given them). A damaged row (a
    time, camera or temperature that is not one, or the wrong number of fields) is skipped,
    logged and counted in report["bad_rows"] (report: a dict, optional); a wrong header
    is an error. progress(rows read, None, path) is called after each chunk, and
    progress(rows, rows, path) at the end."""
    import pandas as pd
    from thermocc import detect_fast as fd
    path = Path(path)
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    expected = ["timestamp", "camera"] + ["p%d" % i for i in range(768)]
    if header != expected:
        bad = next((i for i, (a, b) in enumerate(zip(header, expected)) if a != b), min(len(header), len(expected)))
        raise ValueError("%s: header column %d is %r, expected %r (format: timestamp,camera,p0..p767)"
                         % (path, bad + 1, header[bad] if bad < len(header) else None, expected[bad]))
    detectors, seqs, out = {}, Counter(), []
    parsed, bad_rows = 0, []
    # rows with too many or too few fields are dropped by the parser; counted below
    for chunk in pd.read_csv(path, chunksize=chunk_rows, dtype={"camera": str}, on_bad_lines="skip"):
        parsed += len(chunk)
        if progress:
            progress(parsed, None, str(path))
        times, good = _csv_times(chunk["timestamp"])
        pixels = chunk.iloc[:, 2:]
        for col in [c for c in pixels.columns if not pd.api.types.is_numeric_dtype(pixels[c])]:
            pixels[col] = pd.to_numeric(pixels[col], errors="coerce")
        frames = np.array(pixels, np.float32)
        good &= np.isfinite(frames).all(axis=1) & chunk["camera"].notna().to_numpy()
        if not good.all():
            bad_rows += (chunk.index[~good] + 1).tolist()
            chunk, times, frames = chunk[good], times[good], frames[good]
        cams = chunk["camera"].to_numpy()
        for name in pd.unique(cams):
            sel = np.flatnonzero(cams == name)
            if camera_map and name in camera_map:
                node, cam = camera_map[name]
            elif "/" in name:
                node, cam = name.split("/", 1)
            else:
                raise ValueError("%s: camera %r is not node/cam and not in the room's cameras" % (path, name))
            det = detectors.setdefault((node, cam), fd.FastDetector(**(detector_settings or {})))
            stats, summary = det.detect_frames(frames[sel], times[sel])
            seq0 = seqs[(node, cam)]
            seqs[(node, cam)] += len(sel)
            out.extend(observations_from_stats(node, cam, np.arange(seq0, seq0 + len(sel)), times[sel],
                                               stats, summary, frames[sel], source="csv"))
    if progress:
        progress(parsed, parsed, str(path))     # the input's last progress line
    with open(path, "rb") as f:                  # the parser skips blank lines too
        wrong_fields = max(0, sum(1 for line in f if line.strip()) - 1 - parsed)
    if bad_rows or wrong_fields:
        which = ""
        if bad_rows:
            which = ", data rows " + ", ".join(map(str, bad_rows[:5])) + (" ..." if len(bad_rows) > 5 else "")
        log.warning("%s: %d damaged rows skipped (%d with a value that is not a time, camera or temperature%s; "
                    "%d with the wrong number of fields)", path, len(bad_rows) + wrong_fields, len(bad_rows),
                    which, wrong_fields)
    if report is not None:
        report["bad_rows"] = report.get("bad_rows", 0) + len(bad_rows) + wrong_fields
    out.sort(key=lambda o: o.key)
    return out


def _csv_times(column):
    """(ms since 1970 UTC as int64, bool: a time was read) for a CSV timestamp column:
    seconds since 1970, or ISO date-times."""
    import pandas as pd
    seconds = pd.to_numeric(column, errors="coerce")
    if seconds.notna().sum() * 2 >= len(column):
        good = np.array(seconds.notna(), bool)
        return (seconds.fillna(0).to_numpy(float) * 1000).round().astype(np.int64), good
    when = pd.to_datetime(column, utc=True, format="ISO8601", errors="coerce")
    good = np.array(when.notna(), bool)
    return (when.fillna(pd.Timestamp(0, tz="UTC")).astype("int64") // 1_000_000).to_numpy(), good


@dataclass
class IntakeStats:
    accepted: int = 0
    duplicates: int = 0
    late: int = 0
    malformed: int = 0
    unknown_camera: int = 0
    reasons: Counter = field(default_factory=Counter)


class OrderedIntake:
    """Duplicate filter and reordering buffer. push() returns the observations that are now
    safe to process, in capture-time order: those older than the newest seen minus the
    watermark. flush() releases the rest (end of a replay)."""

    def __init__(self, watermark_ms, dedup_horizon_ms=3_600_000):
        self.watermark_ms = int(watermark_ms)
        self.horizon_ms = dedup_horizon_ms
        self.heap = []
        # (node, cam) -> {seq: t_ms}, pruned after the horizon: per camera, so a checkpoint
        # pickles plain ints (an hour of four cameras is ~58,000 entries)
        self.seen_seqs = {}
        self.n_seen = 0
        self.newest_ms = None
        self.released_ms = None        # capture time of the last released observation
        self.stats = IntakeStats()
        self._tie = 0

    def has_seen(self, node, cam, seq):
        """Whether camera (node, cam)'s message seq came within the dedup horizon."""
        return seq in self.seen_seqs.get((node, cam), ())

    def push(self, obs):
        if self.has_seen(obs.node, obs.cam, obs.seq):
            self.stats.duplicates += 1
            return []
        if self.released_ms is not None and obs.t_ms < self.released_ms:
            self.stats.late += 1
            log.warning("late message dropped: %s/%s seq %d is %.1f s behind the released stream",
                        obs.node, obs.cam, obs.seq, (self.released_ms - obs.t_ms) / 1000)
            return []
        self.seen_seqs.setdefault((obs.node, obs.cam), {})[obs.seq] = obs.t_ms
        self.n_seen += 1
        self.stats.accepted += 1
        self._tie += 1
        heapq.heappush(self.heap, (obs.key, self._tie, obs))
        if self.newest_ms is None or obs.t_ms > self.newest_ms:
            self.newest_ms = obs.t_ms
        return self._release(self.newest_ms - self.watermark_ms)

    def _release(self, until_ms):
        out = []
        while self.heap and self.heap[0][0][0] <= until_ms:
            out.append(heapq.heappop(self.heap)[2])
        if out:
            self.released_ms = out[-1].t_ms
            if self.n_seen > 100_000:
                cut = self.released_ms - self.horizon_ms
                self.seen_seqs = {cam: {seq: t for seq, t in seqs.items() if t >= cut}
                                  for cam, seqs in self.seen_seqs.items()}
                self.n_seen = sum(len(seqs) for seqs in self.seen_seqs.values())
        return out

    def flush(self):
        return self._release(float("inf"))

    def reject(self, reason):
        self.stats.malformed += 1
        self.stats.reasons[reason] += 1
