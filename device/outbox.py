# What is waiting for the broker. Two backends with one interface:
#  - SdOutbox: the SD log is the queue. A cursor (file, offset) marks the first record
#    the broker has not acknowledged; after an outage everything from the cursor is sent
#    again in order (the host drops duplicates by node, camera, seq).
#  - RamOutbox: no card. A bounded ring of messages; the oldest is dropped and counted.
# Both hand out (camera index, payload) pairs built by the same encoder, so a message
# from the backlog is byte-identical to the one that would have gone out live.
from thermocc_shared import logformat as lf
from thermocc_shared import wire


class _Inflight:
    """Packet ids sent and not yet acknowledged, oldest first, bounded by the window."""

    def __init__(self, window):
        self.window = window
        self.pids = []
        self.marks = []      # position (or token) to commit when this pid and all before it are acked
        self.acked = []

    def full(self):
        return len(self.pids) >= self.window

    def add(self, pid, mark):
        self.pids.append(pid)
        self.marks.append(mark)
        self.acked.append(False)

    def ack(self, pid):
        """Mark pid acked; returns (mark of the longest fully acked prefix or None, its length)."""
        try:
            i = self.pids.index(pid)
        except ValueError:
            return None, 0
        self.acked[i] = True
        mark = None
        released = 0
        while self.acked and self.acked[0]:
            mark = self.marks[0]
            self.pids.pop(0)
            self.marks.pop(0)
            self.acked.pop(0)
            released += 1
        return mark, released

    def clear(self):
        self.pids = []
        self.marks = []
        self.acked = []

    def __len__(self):
        return len(self.pids)


class SdOutbox:
    def __init__(self, sdlog, node, camera_ids, window=8, save_every=32):
        self.sdlog = sdlog
        self.node = node
        self.camera_ids = camera_ids
        self.inflight = _Inflight(window)
        self.save_every = save_every
        self.cursor = sdlog.load_cursor()
        self.read_pos = self.cursor
        self._handle = [0, None]
        self._acks_since_save = 0
        self.sent = 0
        self.resent = 0
        self.dropped = 0        # publishable records lost before the broker took them
        self.damaged = 0        # damaged or cut records skipped while reading the log
        self.queued = 0         # publishable records appended since boot and not yet acked
        self._high_water = self.cursor   # end of the furthest record ever sent (resend detection)

    def appended(self):
        """A publishable record went into the log."""
        self.queued += 1

    def next_message(self):
        """(camera index, JSON text, mark) of the next record to send, or None."""
        if self.inflight.full():
            return None
        number, offset = self.read_pos
        for _ in range(64):   # bounded work per call: skip over raw/event records
            status, rtype, payload, number, offset = self.sdlog.read_record(number, offset, self._handle)
            if status == "end":
                break
            if status == "lost":
                self.dropped += 1
                self.cursor = (number, offset)
                continue
            if status == "skip":
                self.damaged += 1
                continue
            if status == "next" or rtype != lf.RECORD_BLOBS:
                continue
            try:
                record = lf.decode_blobs(payload)
            except lf.LogFormatError:
                self.damaged += 1
                continue
            if not record["flags"] & lf.FLAG_PUBLISH:
                continue
            self.read_pos = (number, offset)
            cam = record["camera"]
            camera = self.camera_ids[cam] if cam < len(self.camera_ids) else "cam%d" % cam
            if self.read_pos <= self._high_water:
                self.resent += 1
            else:
                self._high_water = self.read_pos
            return cam, wire.blob_message(record, self.node, camera), self.read_pos
        self.read_pos = (number, offset)
        if not len(self.inflight):
            # Nothing waiting for an ack: everything up to here is delivered or skipped.
            self._commit(self.read_pos, force=False)
        return None

    def sent_as(self, pid, mark):
        self.inflight.add(pid, mark)
        self.sent += 1

    def acked(self, pid):
        mark, released = self.inflight.ack(pid)
        if mark is not None:
            self.queued = max(0, self.queued - released)
            self._commit(mark, force=False)

    def _commit(self, mark, force):
        if mark == self.cursor:
            return
        self.cursor = mark
        self._acks_since_save += 1
        if force or self._acks_since_save >= self.save_every:
            self.flush()

    def flush(self):
        self._acks_since_save = 0
        self.sdlog.save_cursor(self.cursor[0], self.cursor[1])

    def rewind(self):
        """Connection lost: everything unacknowledged goes again, from the cursor."""
        self.inflight.clear()
        self.read_pos = self.cursor
        self.flush()

    def waiting(self):
        return self.queued


class RamOutbox:
    def __init__(self, node, camera_ids, capacity=32, window=8):
        self.node = node
        self.camera_ids = camera_ids
        self.capacity = capacity
        self.inflight = _Inflight(window)
        self.items = []          # [serial, camera index, JSON text]
        self.serial = 0
        self.next_index = 0      # items[:next_index] are sent and waiting for acks
        self.sent = 0
        self.resent = 0
        self.dropped = 0
        self.damaged = 0
        self.queued = 0

    def appended_record(self, payload):
        """Queue a publishable RECORD_BLOBS payload (there is no card to read it back from)."""
        record = lf.decode_blobs(payload)
        cam = record["camera"]
        camera = self.camera_ids[cam] if cam < len(self.camera_ids) else "cam%d" % cam
        if len(self.items) >= self.capacity:
            self.items.pop(0)
            self.dropped += 1
            if self.next_index:
                self.next_index -= 1
        self.serial += 1
        self.items.append((self.serial, cam, wire.blob_message(record, self.node, camera)))

    def next_message(self):
        if self.inflight.full() or self.next_index >= len(self.items):
            return None
        serial, cam, text = self.items[self.next_index]
        self.next_index += 1
        return cam, text, serial

    def sent_as(self, pid, mark):
        self.inflight.add(pid, mark)
        self.sent += 1

    def acked(self, pid):
        mark, _ = self.inflight.ack(pid)
        if mark is None:
            return
        # Drop everything up to and including the acked serial.
        k = 0
        while k < len(self.items) and self.items[k][0] <= mark:
            k += 1
        if k:
            del self.items[:k]
            self.next_index = max(0, self.next_index - k)

    def rewind(self):
        self.inflight.clear()
        self.next_index = 0

    def flush(self):
        pass

    def waiting(self):
        return len(self.items)
