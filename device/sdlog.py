# The SD log: append-only files of framed records (thermocc_shared.logformat), rotated
# by size and age, oldest deleted first when the card fills, plus the store-and-forward
# cursor that remembers what the broker has acknowledged.
#
# Files are numbered without gaps (00000001.tlg, 00000002.tlg, ...), so only the oldest
# and newest numbers are kept in RAM however many files the card holds.
import json

from thermocc_shared import logformat as lf

SUFFIX = ".tlg"
CURSOR = "cursor"
FREE_CHECK_EVERY = 64   # appends between free-space checks (statvfs is slow on a card)


def file_name(number):
    return "%08d%s" % (number, SUFFIX)


def file_number(name):
    if len(name) == 8 + len(SUFFIX) and name.endswith(SUFFIX) and name[:8].isdigit():
        return int(name[:8])
    return 0


class SdLog:
    def __init__(self, storage, header, clock, rotate_bytes=1 << 20, rotate_s=3600,
                 reserve_bytes=512 * 1024, log=print):
        self.storage = storage
        self.header = header           # dict written as the first record of every file
        self.clock = clock
        self.rotate_bytes = rotate_bytes
        self.rotate_ms = rotate_s * 1000
        self.reserve_bytes = reserve_bytes
        self.log = log
        self.present = storage is not None
        self.first = 0                 # oldest file number on the card (0: none)
        self.last = 0                  # file being written
        self.size = 0                  # bytes in the file being written
        self.opened_ms = 0
        self._out = None
        self._frame = bytearray()
        self.appends = 0
        self.write_errors = 0
        self.lost_records = 0          # records that could not be written at all
        self.deleted_files = 0         # files removed to make room
        self.full_events = 0
        self.pending_events = []       # (name, detail) for the node to report; bounded
        if self.present:
            self._start()

    # -- start-up ---------------------------------------------------------------------
    def _start(self):
        try:
            self.storage.makedirs()
            lo = hi = 0
            for name in self.storage.names():
                n = file_number(name)
                if n:
                    lo = n if not lo or n < lo else lo
                    hi = n if n > hi else hi
            self.first = lo
            self.last = hi
            self._open_new()
        except OSError as e:
            self._lost_card("start", e)

    def _lost_card(self, where, error):
        self.present = False
        self._close()
        self._event("sd_missing", "%s: %s" % (where, error))

    def _event(self, name, detail):
        if len(self.pending_events) < 8:
            self.pending_events.append((name, detail))
        if self.log:
            self.log("sd: %s (%s)" % (name, detail))

    def _close(self):
        if self._out is not None:
            try:
                self._out.close()
            except OSError:
                pass
            self._out = None

    def _open_new(self):
        self._close()
        self.last += 1
        if not self.first:
            self.first = self.last
        self._out = self.storage.open(file_name(self.last), "wb")
        self.size = 0
        self.opened_ms = self.clock.ticks_ms()
        self._make_room()
        self._write(lf.RECORD_HEADER, json.dumps(self.header).encode())

    # -- writing ----------------------------------------------------------------------
    def append(self, rtype, payload):
        """Write one record; returns (file number, start offset, end offset) or None."""
        if not self.present:
            self.lost_records += 1
            return None
        try:
            if (self._out is None or self.size >= self.rotate_bytes
                    or self.clock.ticks_diff(self.clock.ticks_ms(), self.opened_ms) >= self.rotate_ms):
                self._open_new()
            self.appends += 1
            if self.appends % FREE_CHECK_EVERY == 0:
                self._make_room()
            return self._write(rtype, payload)
        except OSError as e:
            return self._write_failed(rtype, payload, e)

    def _write(self, rtype, payload):
        rec = lf.frame_record(rtype, payload, self._frame)
        start = self.size
        self._out.write(rec)
        self._out.flush()
        self.size += len(rec)
        return self.last, start, self.size

    def _write_failed(self, rtype, payload, error):
        self.write_errors += 1
        if getattr(error, "errno", None) == 28 or (error.args and error.args[0] == 28):  # ENOSPC
            # Full card: drop the oldest files, start a fresh file, try once more.
            if self._delete_oldest(force=True):
                try:
                    self._open_new()
                    return self._write(rtype, payload)
                except OSError as e:
                    error = e
            self.lost_records += 1
            self._event("sd_full", "nothing left to delete: %s" % error)
            return None
        self.lost_records += 1
        self._lost_card("write", error)
        return None

    def _make_room(self):
        try:
            free = self.storage.free_bytes()
        except OSError:
            return
        if free >= self.reserve_bytes:
            return
        removed = 0
        while free < self.reserve_bytes and self._delete_oldest():
            removed += 1
            free = self.storage.free_bytes()
        if removed:
            self._event("sd_full", "deleted %d oldest file(s), %d bytes free" % (removed, free))

    def _delete_oldest(self, force=False):
        # Never the file being written, unless forced (then a new one is opened after).
        if not self.first or (self.first >= self.last and not force):
            return False
        if self.first == self.last:
            self._close()
        try:
            self.storage.remove(file_name(self.first))
        except OSError:
            pass
        self.first += 1
        self.deleted_files += 1
        self.full_events += 1
        if self.first > self.last:
            self.first = 0
        return True

    def close(self):
        self._close()

    # -- reading (the backlog) --------------------------------------------------------
    def read_record(self, number, offset, handle_cache):
        """Record at (file, offset): returns (status, rtype, payload, next_file, next_offset).

        status: "ok"; "end" (caught up with the writer); "next" (end of a finished
        file, moved to the next); "skip" (damaged bytes or a cut record jumped over);
        "lost" (the file was deleted to make room, moved to the oldest one left). handle_cache is a 2-item list
        [number, file object] owned by the caller, so a file is not reopened per record.
        """
        if number < self.first:
            return "lost", 0, None, self.first, 0
        if number > self.last or (number == self.last and offset >= self.size):
            return "end", 0, None, number, offset
        f = self._reader(number, handle_cache)
        if f is None:
            return "lost", 0, None, number + 1, 0
        f.seek(offset)
        head = f.read(lf.HEAD_SIZE)
        if not head or len(head) < lf.HEAD_SIZE:
            if number < self.last:
                return ("skip" if head else "next"), 0, None, number + 1, 0
            return "end", 0, None, number, offset
        status, rtype, _, n, _ = lf.check_record(head, 0)
        if status == "bad":
            return "skip", 0, None, number, self._resync(f, offset + 1)
        body = f.read(n + lf.CRC_SIZE)
        data = head + body
        status, rtype, start, n, stop = lf.check_record(data, 0)
        if status == "ok":
            return "ok", rtype, data[start:start + n], number, offset + stop
        if status == "short":
            if number < self.last:
                return "skip", 0, None, number + 1, 0     # cut by a power loss: next file
            return "end", 0, None, number, offset
        return "skip", 0, None, number, self._resync(f, offset + 1)

    def _reader(self, number, cache):
        if cache[0] == number and cache[1] is not None:
            return cache[1]
        if cache[1] is not None:
            cache[1].close()
            cache[1] = None
        try:
            cache[1] = self.storage.open(file_name(number), "rb")
        except OSError:
            return None
        cache[0] = number
        return cache[1]

    @staticmethod
    def _resync(f, offset):
        f.seek(offset)
        while True:
            chunk = f.read(256)
            if not chunk:
                return offset
            i = chunk.find(lf.SYNC)
            if i >= 0:
                return offset + i
            # Keep the last byte: a sync marker may straddle two chunks.
            offset += len(chunk) - 1 if len(chunk) > 1 else 1
            f.seek(offset)

    # -- the store-and-forward cursor -------------------------------------------------
    def load_cursor(self):
        """(file, offset) of the first record the broker has not acknowledged."""
        data = self.storage.read_atomic(CURSOR) if self.present else None
        if data:
            try:
                number, offset = [int(v) for v in data.split()]
                if number >= self.first:
                    return number, offset
            except ValueError:
                self._event("cursor_damaged", repr(data[:40]))
        return (self.first or self.last), 0

    def save_cursor(self, number, offset):
        if not self.present:
            return
        try:
            self.storage.write_atomic(CURSOR, ("%d %d\n" % (number, offset)).encode())
        except OSError as e:
            self.write_errors += 1
            if self.log:
                self.log("sd: cursor not saved: %s" % e)

    def files(self):
        """(name, size) of every log file, oldest first."""
        out = []
        if not self.present or not self.first:
            return out
        for n in range(self.first, self.last + 1):
            try:
                out.append((file_name(n), self.storage.size(file_name(n))))
            except OSError:
                pass
        return out
