"""The host daemon (`thermocc run`) and batch replay (`thermocc replay`).

Fuser is the core both share: it validates what arrives, routes it to its room by
(node, camera), journals it, orders it (OrderedIntake) and feeds the room's pipeline.
`run` wires the Fuser to a broker (paho-mqtt, reconnecting forever with backoff) and
publishes live results; `replay` feeds it from journals, SD log folders or raw-frame CSV.
Both write through the same sinks, so the same input gives the same bytes.

Nothing is lost on a crash: every accepted message is appended to the room's journal
(thermocc.journal) before it is processed. Once an hour of board time the journal is
compacted: a checkpoint of the room's state, the segment before it archived (gzip). On
start the checkpoint is loaded and the segments after it replayed; the CSV sinks skip the
rows already written, so outputs continue with no missing and no duplicated timestep.
"""
from __future__ import annotations

import binascii
import dataclasses
import gc
import hashlib
import logging
import pickle
import signal
from pathlib import Path

from thermocc.ingest import OrderedIntake, observation_from_frame_message, observation_from_message
from thermocc.journal import CHECKPOINT_EVERY_MS, Journal, journal_files, read_messages
from thermocc.outputs import CsvSink
from thermocc.pipeline import RoomPipeline
from thermocc_shared import wire

log = logging.getLogger("thermocc.daemon")


def state_fingerprint(room, pipeline, intake):
    """What a checkpoint is for: the room, the mode and the shape of the state it pickles
    (the attribute names of the pipeline and intake and of the thermocc objects they hold,
    and of a frame detector).
    One pickled by a version whose objects had other fields is not loaded: after an upgrade
    it would fail later, wanting a field it does not have."""
    def names(v):        # a dataclass's fields (what a room caches beside them is not its shape)
        return sorted(f.name for f in dataclasses.fields(v)) if dataclasses.is_dataclass(v) else sorted(vars(v))

    shape = []
    for o in (pipeline, intake):
        shape.append(sorted(vars(o)))
        shape += [(type(v).__name__, names(v)) for _, v in sorted(vars(o).items())
                  if type(v).__module__.startswith("thermocc") and hasattr(v, "__dict__")]
    from thermocc.detect_fast import FastDetector     # the detectors of frames sent by MQTT are pickled too
    shape.append(("FastDetector", sorted(vars(FastDetector()))))
    return hashlib.sha256(repr((room, pipeline.mode, shape)).encode()).hexdigest()


class RoomState:
    def __init__(self, room, sinks, journal, mode=None):
        self.room = room
        self.pipeline = RoomPipeline(room, sinks, mode=mode)
        self.intake = OrderedIntake(room.settings.watermark_s * 1000)
        self.journal = journal
        self.detectors = {}          # (node, camera) -> FastDetector, for frames arriving by MQTT
        self.checkpoint_step = None  # series step of the last journal compaction
        self.fingerprint = state_fingerprint(room, self.pipeline, self.intake)

    def snapshot(self):
        """Everything processing depends on, without the sinks (files, broker)."""
        sinks, self.pipeline.sinks = self.pipeline.sinks, []
        try:
            return pickle.dumps((self.pipeline, self.intake, self.detectors, self.checkpoint_step),
                                protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            self.pipeline.sinks = sinks

    def restore(self, snapshot):
        sinks = self.pipeline.sinks
        self.pipeline, self.intake, self.detectors, self.checkpoint_step = pickle.loads(snapshot)
        self.pipeline.sinks = sinks

    def compact_if_due(self):
        """Checkpoint and archive the journal at a closed step, once per CHECKPOINT_EVERY_MS."""
        step = self.pipeline.step
        if step is None or self.journal is None:
            return
        if self.checkpoint_step is None:
            self.checkpoint_step = step
        elif (step - self.checkpoint_step) * self.pipeline.step_ms >= CHECKPOINT_EVERY_MS:
            self.checkpoint_step = step
            for sink in self.pipeline.sinks:
                sink.sync()            # the checkpoint says these steps are written: make it true
            self.journal.compact(self.snapshot(), self.fingerprint)

    @property
    def leaf(self):
        """What this room takes from the boards: frame mode fuses pixels, so raw frames."""
        return "frame" if self.pipeline.mode == "frame" else "blobs"

    def observation(self, msg, pixels=None):
        if "data" not in msg:
            return observation_from_message(msg)
        from thermocc.detect_fast import FastDetector
        if pixels is None:                      # from the journal: validated when it arrived
            pixels = binascii.a2b_base64(msg["data"])
        key = (msg["node"], msg["cam"])
        if key not in self.detectors:
            self.detectors[key] = FastDetector()
        return observation_from_frame_message(msg, pixels, self.detectors[key])


class Fuser:
    def __init__(self, site, out_dir=None, journal=True, mode=None, extra_sinks=None, ticks=True):
        self.site = site
        out_dir = Path(out_dir) if out_dir else site.outputs
        self.rooms = {}
        self.route = {}
        for room in site.rooms:
            sinks = [CsvSink(out_dir / room.name, room, ticks=ticks)] + list((extra_sinks or {}).get(room.name, []))
            j = Journal(site.state, room.name, site.journal_keep_days) if journal else None
            self.rooms[room.name] = RoomState(room, sinks, j, mode)
            for c in room.cameras:
                self.route[(c.node, c.id)] = self.rooms[room.name]
        self.malformed = 0
        self.unknown = 0
        self.other_mode = 0
        self.failed = 0

    def resume(self):
        """Replay the journals (after a restart); returns how many messages were replayed."""
        n = 0
        for state in self.rooms.values():
            if state.journal is None:
                continue
            snapshot, messages = state.journal.recover(state.fingerprint)
            if snapshot is not None:
                state.restore(snapshot)
            for msg in messages:
                self._process(state, msg, journal=False)
                n += 1
        return n

    def handle_payload(self, topic, payload):
        """One MQTT message (blobs, or a raw frame for frame-mode rooms). Never raises on
        bad input: counts and logs it."""
        parts = wire.split_topic(topic)
        if parts is None or parts[5] not in ("blobs", "frame"):
            return None
        pixels = None
        try:
            if parts[5] == "frame":
                msg, pixels = wire.parse_frame_message(payload)
            else:
                msg = wire.parse_blob_message(payload)
        except wire.WireError as e:
            self.malformed += 1
            log.warning("malformed message on %s: %s", topic, e)
            return None
        return self.handle_message(msg, pixels, raw=payload)

    def handle_message(self, msg, pixels=None, raw=None):
        state = self.route.get((msg["node"], msg["cam"]))
        if state is None:
            self.unknown += 1
            if self.unknown <= 10 or self.unknown % 1000 == 0:
                log.warning("camera %s/%s is in no room of this daemon (%d such messages)", msg["node"], msg["cam"],
                            self.unknown)
            return None
        if ("frame" if "data" in msg else "blobs") != state.leaf:
            # a room fuses one kind: blobs and frames of one camera share their seq numbers
            self.other_mode += 1
            if self.other_mode <= 10 or self.other_mode % 1000 == 0:
                log.warning("room %s fuses %s; a %s message of %s/%s was not used (%d such messages)",
                            state.room.name, state.leaf, "frame" if "data" in msg else "blob", msg["node"],
                            msg["cam"], self.other_mode)
            return None
        self._process(state, msg, journal=True, pixels=pixels, raw=raw)
        return state

    def _process(self, state, msg, journal, pixels=None, raw=None):
        if state.intake.has_seen(msg["node"], msg["cam"], msg["seq"]):
            state.intake.stats.duplicates += 1
            return
        if journal and state.journal is not None:
            state.journal.append(msg, raw)
        for o in state.intake.push(state.observation(msg, pixels)):
            state.pipeline.feed(o)
        if journal:
            state.compact_if_due()

    def feed_observations(self, observations, progress=None):
        """Observations from files (raw frames through the detector, SD logs): routed and
        ordered. progress(i, n, what) is called every 5000."""
        for i, obs in enumerate(observations):
            if progress and i % 5000 == 0:
                progress(i, len(observations), "frames")
            state = self.route.get((obs.node, obs.cam))
            if state is None:
                self.unknown += 1
                continue
            for o in state.intake.push(obs):
                state.pipeline.feed(o)
        if progress and observations:
            progress(len(observations), len(observations), "frames")

    def finish(self):
        """End of input (replay): release what the watermark holds. Steps still open stay open."""
        for state in self.rooms.values():
            for o in state.intake.flush():
                state.pipeline.feed(o)

    def close(self):
        for state in self.rooms.values():
            state.pipeline.close()
            if state.journal:
                state.journal.close()

    def handled(self):
        """Messages taken in so far, whatever became of them."""
        return (sum(s.intake.stats.accepted + s.intake.stats.duplicates + s.intake.stats.late
                    for s in self.rooms.values()) + self.malformed + self.unknown + self.other_mode + self.failed)

    def stats(self):
        return {name: {"accepted": s.intake.stats.accepted, "duplicates": s.intake.stats.duplicates,
                       "late": s.intake.stats.late, "ticks": s.pipeline.ticks_done,
                       "residual_blobs": s.pipeline.residual.marked, "left_behind_seats": s.pipeline.left_behind.count}
                for name, s in self.rooms.items()} | {"malformed": self.malformed, "unknown_camera": self.unknown,
                                                  "other_mode": self.other_mode, "failed": self.failed}


# -- live ---------------------------------------------------------------------------------
def warm_up(site, mode=None):
    """Run a few simulated minutes through a throwaway pipeline of the first room, so
    numba has loaded every kernel (fusion, tracker, series) before the broker's first
    message: otherwise the first real messages wait ~0.3 s for it."""
    import tempfile

    import numpy as np

    from thermocc.ingest import BLOB_FIELDS, Observation
    room = site.rooms[0]
    with tempfile.TemporaryDirectory() as tmp:
        probe = Fuser(dataclasses.replace(site, rooms=[room], state=Path(tmp)), Path(tmp), journal=False, mode=mode)
        blob = np.array([[15.5, 11.5, 14, 10, 17, 13, 12, 31.0, 29.0, 0]], float).reshape(-1, BLOB_FIELDS)
        frame = np.full(768, 22.0, np.float32)
        frame[11 * 32 + 15] = 31.0
        cams = room.cameras
        probe.feed_observations([Observation(c.node, c.id, s, 1_700_000_000_000 + s * 1000, True, 22.0, blob, frame)
                                 for s in range(400) for c in cams])
        probe.finish()
        probe.close()


def run(site, out_dir=None, stop=None, ready=None, mode=None, on_fuser=None):
    """Serve the site's rooms until SIGTERM/SIGINT (or `stop` is set). Returns 0.
    `ready` (an Event) is set once the broker has acknowledged the subscription;
    `on_fuser` is called with the Fuser before connecting (the simulated room reads
    `Fuser.handled()` to keep its boards from running ahead of delivery)."""
    import threading

    import paho.mqtt.client as mqtt

    from thermocc.live import LivePublisher
    stop = stop or threading.Event()
    m = site.mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=m.client_id, clean_session=False)
    if m.user:
        client.username_pw_set(m.user, m.password)
    if m.tls:
        client.tls_set(ca_certs=m.ca)
    availability = "%s/%s/host/%s/availability" % (m.prefix, site.name, m.client_id)
    client.will_set(availability, "offline", qos=1, retain=True)
    client.reconnect_delay_set(1, 60)
    publishers = {room.name: [LivePublisher(client, site, room, availability)] for room in site.rooms}
    fuser = Fuser(site, out_dir, journal=True, mode=mode, extra_sinks=publishers)
    if on_fuser:
        on_fuser(fuser)
    replayed = fuser.resume()
    if replayed:
        log.info("resumed from the journal: %d messages", replayed)
    warm_up(site, mode)
    for state in fuser.rooms.values():
        state.pipeline.prepare()
    # Everything loaded so far (numba, numpy, the rooms) lives as long as the daemon:
    # keep it out of the collector's full passes, which otherwise pause a message ~40 ms.
    gc.freeze()

    def on_connect(c, userdata, flags, reason, properties=None):
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        log.info("connected to %s:%d", m.host, m.port)
        wanted = ["%s/%s/%s/+/+/%s" % (m.prefix, s.room.site, s.room.name, s.leaf) for s in fuser.rooms.values()]
        # the session outlives a restart: drop the other kind a room took before a mode change
        unwanted = ["%s/%s/%s/+/+/%s" % (m.prefix, s.room.site, s.room.name, "blobs" if s.leaf == "frame" else "frame")
                    for s in fuser.rooms.values()]
        c.unsubscribe(unwanted)
        # the boards' availability (retained; "offline" is their last will): logged as it changes
        wanted += ["%s/%s/%s/+/availability" % (m.prefix, s.room.site, s.room.name) for s in fuser.rooms.values()]
        result, mid = c.subscribe([(topic, 1) for topic in wanted])
        pending_subscription[0] = mid
        c.publish(availability, "online", qos=1, retain=True)
        for name, pubs in publishers.items():
            for p in pubs:
                p.announce()
                p.boards_online(room_online(name))

    pending_subscription = [None]

    def on_subscribe(c, userdata, mid, reasons, properties=None):
        # ready for the boards' messages only once the broker holds the subscription
        if mid == pending_subscription[0] and ready is not None:
            ready.set()

    def on_disconnect(c, userdata, flags, reason, properties=None):
        if not stop.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def on_connect_fail(c, userdata):
        # paho retries with backoff (1 s doubling to 60 s); say so, or a wrong host or a
        # broker that is down looks like a daemon with nothing to do
        if not stop.is_set():
            log.warning("cannot connect to the broker at %s:%d (is it running? the site file's mqtt.host and "
                        "mqtt.port); retrying", m.host, m.port)

    boards = {}                     # availability topic of a board -> its last payload

    def room_online(room_name):
        # until a board says otherwise (boards publish it retained as they connect) a room is online
        states = [v for t, v in boards.items() if t.split("/")[-3] == room_name]
        return not states or "online" in states

    def on_message(c, userdata, message):
        # Handled on paho's network thread, before the message is acknowledged: a
        # message the broker considers delivered is already in the journal, and no
        # hand-off to another thread waits for the GIL (the latency target is 50 ms).
        if message.topic.endswith("/availability"):
            if message.topic.split("/")[-2] == "occupancy":
                return                  # the room's own (ours), not a board's
            state = message.payload.decode("utf-8", "replace")[:20]
            if boards.get(message.topic) != state:
                room_name, node = message.topic.split("/")[-3:-1]
                was = room_online(room_name)
                boards[message.topic] = state
                if state == "online":
                    log.info("board %s is online", node)
                else:
                    log.warning("board %s is %s (its last will: it lost the broker, or was switched off)",
                                node, state)
                if room_online(room_name) != was and room_name in publishers:
                    for p in publishers[room_name]:
                        p.boards_online(not was)
            return
        try:
            fuser.handle_payload(message.topic, message.payload)
        except Exception:
            # a fault of ours must not end paho's thread (the daemon would go deaf)
            fuser.failed += 1
            log.exception("message on %s could not be processed (%d so far)", message.topic, fuser.failed)

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_connect_fail = on_connect_fail
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect_async(m.host, m.port, keepalive=m.keepalive_s)
    client.loop_start()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            handlers[sig] = signal.signal(sig, lambda *a: stop.set())
    try:
        while not stop.wait(0.2):
            pass
    finally:
        # leave the broker first: after loop_stop no callback runs, so closing is safe
        info = client.publish(availability, "offline", qos=1, retain=True)
        try:
            info.wait_for_publish(2)
        except (RuntimeError, ValueError):
            pass
        client.disconnect()
        client.loop_stop()
        fuser.close()
        for sig, h in handlers.items():
            signal.signal(sig, h)
        log.info("stopped: %s", fuser.stats())
    return 0


# -- batch --------------------------------------------------------------------------------
def replay(site, out_dir, journals=(), log_folders=(), csv_files=(), mode=None, progress=None, all_frames=False):
    """Process recorded input into outputs; returns the Fuser's statistics."""
    from thermocc.ingest import read_log_folder, read_raw_csv
    fuser = Fuser(site, out_dir, journal=False, mode=mode)
    journal_bad = []
    for path in journals:
        msgs = [msg for f in journal_files(path) for msg in read_messages(f, bad_lines=journal_bad)]
        for i, msg in enumerate(msgs):
            fuser.handle_message(msg)
            if progress and i % 5000 == 0:
                progress(i, len(msgs), str(path))
        if progress and msgs:
            progress(len(msgs), len(msgs), str(path))
    # files hold one node (or one recording) each: merge them into one time order before
    # the intake, or a second file would arrive entirely "late"
    observations = []
    damaged = {"regions": 0, "bytes": 0}
    for folder in log_folders:
        obs, damage = read_log_folder(folder, published_only=not all_frames)
        for d in damage:
            log.warning("%s: %s", folder, d)
            damaged["regions"] += 1
            damaged["bytes"] += d.length
        observations += obs
    # a CSV may name cameras by id alone where the id is unique in the site
    ids = [c.id for room in site.rooms for c in room.cameras]
    camera_map = {c.id: (c.node, c.id) for room in site.rooms for c in room.cameras if ids.count(c.id) == 1}
    csv_report = {"bad_rows": 0}
    for path in csv_files:
        observations += read_raw_csv(path, camera_map, report=csv_report, progress=progress)
    observations.sort(key=lambda o: o.key)
    fuser.feed_observations(observations, progress)
    fuser.finish()
    fuser.close()
    stats = fuser.stats()
    if journals:
        stats["journal_bad_lines"] = len(journal_bad)     # skipped, each logged with its file and line
    if log_folders:
        stats["log_damage"] = damaged          # skipped, each logged with its file, offset and reason
    if csv_files:
        stats["csv_bad_rows"] = csv_report["bad_rows"]   # skipped and logged
    return stats
