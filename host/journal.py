"""The daemon's journal: nothing accepted is lost, and a restart does not replay months.

Files of one room under the state folder:
  <room>.journal                  the open segment: one JSON message per line, appended
                                  (flushed) before the message is processed, fsynced each second
  <room>.checkpoint               the room's processing state after every segment numbered
                                  below the one it names (pickle, written atomically)
  <room>.journal.<n>              a closed segment not yet archived (seen only after a crash)
  archive/<room>/<n>.jsonl.gz     closed segments, compressed; deleted after keep_days

Compaction (`compact`), which the Fuser runs at a closed step at most once per
`CHECKPOINT_EVERY_MS` of board time:
  1. the open segment is fsynced and renamed <room>.journal.<n>;
  2. the checkpoint of the state after it, naming segment n + 1, is written to a
     temporary file, fsynced and renamed over the old one;
  3. a new open segment starts;
  4. every closed segment below n + 1 is compressed into the archive (temporary file and
     rename) and deleted.
A crash between any two of these leaves files from which `recover` rebuilds the same
state: the checkpoint, then the segments numbered at or above it, in order.
"""
from __future__ import annotations

import gzip
import json
import logging
import os
import pickle
import re
import threading
import time
from pathlib import Path

log = logging.getLogger("thermocc.journal")

CHECKPOINT_EVERY_MS = 3_600_000
SEGMENT_NAME = re.compile(r"\.journal\.(\d+)$")


def read_messages(path, repair=False, bad_lines=None):
    """Messages of one segment (plain or .gz); a torn last line (crash mid-write) is left
    out, and with repair (the daemon recovering its own journal) truncated away so appends
    continue on a line boundary. A line that is not JSON is skipped, logged and, given a
    list bad_lines, added to it as (path, line number)."""
    path = Path(path)
    if not path.exists():
        return []
    if path.suffix == ".gz":
        data = gzip.decompress(path.read_bytes())
    else:
        data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    if repair and cut < len(data) and path.suffix != ".gz":
        with open(path, "r+b") as f:
            f.truncate(cut)
    out = []
    for n, line in enumerate(data[:cut].splitlines(), 1):
        try:
            out.append(json.loads(line))
        except ValueError:
            log.error("%s line %d is not JSON; skipped", path, n)
            if bad_lines is not None:
                bad_lines.append((str(path), n))
    return out


def _write_atomically(path, data):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _sync_dir(path.parent)


def _sync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Journal:
    def __init__(self, state_dir, room_name, keep_days=90):
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.room = room_name
        self.path = self.dir / ("%s.journal" % room_name)
        self.checkpoint_path = self.dir / ("%s.checkpoint" % room_name)
        self.archive = self.dir / "archive" / room_name
        self.keep_days = keep_days
        self.segment = 0              # number the open segment gets when it is closed
        self.f = None
        self.last_sync = 0.0
        self.archiver = None          # compressing closed segments happens off the message path
        self.archive_lock = threading.Lock()

    # -- writing ----------------------------------------------------------------------
    def append(self, msg, raw=None):
        """One message, a line: the payload as it came (raw, bytes or str) when it is one
        line (it decodes to msg, so it need not be encoded again), else msg encoded."""
        if self.f is None:
            self.f = open(self.path, "ab")
        if isinstance(raw, str):
            raw = raw.encode()
        if raw is None or b"\n" in raw or b"\r" in raw:
            raw = json.dumps(msg, separators=(",", ":")).encode()
        self.f.write(raw + b"\n")
        self.f.flush()
        now = time.monotonic()
        if now - self.last_sync >= 1.0:
            os.fsync(self.f.fileno())
            self.last_sync = now

    def close(self):
        if self.f:
            self.f.flush()
            os.fsync(self.f.fileno())
            self.f.close()
            self.f = None
        if self.archiver is not None:
            self.archiver.join()
            self.archiver = None

    def compact(self, state, fingerprint):
        """Close the open segment, checkpoint `state` (any picklable object: the state after
        every message journaled so far) and archive what the checkpoint covers."""
        self.close()                    # also waits for the previous archiving
        n = self.segment
        if self.path.exists():
            os.replace(self.path, self._closed(n))
            _sync_dir(self.dir)
        self.segment = n + 1
        _write_atomically(self.checkpoint_path, pickle.dumps(
            {"segment": self.segment, "fingerprint": fingerprint, "state": state}, protocol=pickle.HIGHEST_PROTOCOL))
        # step 4 takes ~0.1 s per hour of messages (gzip): a thread, so messages keep flowing
        self.archiver = threading.Thread(target=self._archive_and_forget, args=(self.segment,),
                                         name="journal-archiver", daemon=True)
        self.archiver.start()

    def _archive_and_forget(self, segment):
        try:
            self._archive_below(segment)
            self._forget_old_archives()
        except OSError as e:             # recover() finishes the job at the next start
            log.error("archiving journal segments of %s failed: %s", self.room, e)

    def _closed(self, n):
        return self.dir / ("%s.journal.%d" % (self.room, n))

    def _closed_segments(self):
        found = []
        for p in self.dir.glob("%s.journal.*" % self.room):
            m = SEGMENT_NAME.search(p.name)
            if m:
                found.append((int(m.group(1)), p))
        return sorted(found)

    def _archive_below(self, segment):
        with self.archive_lock:
            self._archive_below_locked(segment)

    def _archive_below_locked(self, segment):
        self.archive.mkdir(parents=True, exist_ok=True)
        for n, p in self._closed_segments():
            if n >= segment:
                continue
            target = self.archive / ("%06d.jsonl.gz" % n)
            if not target.exists():
                _write_atomically(target, gzip.compress(p.read_bytes(), compresslevel=6))
            p.unlink()
            _sync_dir(self.dir)

    def _forget_old_archives(self):
        if not self.keep_days:
            return
        cutoff = time.time() - self.keep_days * 86400
        for p in self.archive.glob("*.jsonl.gz"):
            if p.stat().st_mtime < cutoff:
                p.unlink()
                log.info("archived journal segment %s is older than %d days; deleted", p, self.keep_days)

    # -- reading ----------------------------------------------------------------------
    def recover(self, fingerprint):
        """(state or None, messages to replay after it). A checkpoint made for another room
        configuration or fusion mode is not used: processing starts afresh from the
        segments still in the state folder (outputs already written are kept)."""
        state, segment = None, 0
        if self.checkpoint_path.exists():
            try:
                ck = pickle.loads(self.checkpoint_path.read_bytes())
                segment = ck["segment"]
                if ck["fingerprint"] == fingerprint:
                    state = ck["state"]
                else:
                    log.warning("%s was made for another configuration of room %s (or another mode); "
                                "starting from the journal segments after it", self.checkpoint_path, self.room)
            except Exception as e:          # a checkpoint is written atomically; this is a foreign file
                log.error("%s cannot be read (%s); starting from the journal segments after it",
                          self.checkpoint_path, e)
        self._archive_below(segment)          # finish a compaction a crash interrupted
        later = [n for n, _ in self._closed_segments()]
        self.segment = max([segment] + [n + 1 for n in later])
        messages = []
        for n in later:
            messages += read_messages(self._closed(n), repair=True)
        messages += read_messages(self.path, repair=True)
        return state, messages


def journal_files(path):
    """The files that hold a room's journal, oldest first, given its open segment's path
    (state/<room>.journal): archived segments, closed segments, the open one. Any other
    path (a copied .jsonl or .gz) is itself."""
    path = Path(path)
    if not path.name.endswith(".journal"):
        return [path]
    room = path.name[:-len(".journal")]
    archived = sorted((path.parent / "archive" / room).glob("*.jsonl.gz"))
    closed = sorted((int(m.group(1)), p) for p in path.parent.glob("%s.journal.*" % room)
                    if (m := SEGMENT_NAME.search(p.name)))
    return archived + [p for _, p in closed] + ([path] if path.exists() else [])
