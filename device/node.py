# The firmware application: serves both cameras, turns frames into blob records, logs
# them to SD, publishes them through the outbox, answers commands and reports status.
# All hardware comes in from outside (main.py on a board, simulators in tests), so this
# exact code runs on the ESP32, under CPython against a real broker, and under the
# WASI MicroPython for heap figures.
import json

try:
    import gc
except ImportError:  # pragma: no cover
    gc = None

from thermocc_shared import detect as det
from thermocc_shared import logformat as lf
from thermocc_shared import wire
from thermocc_device.outbox import RamOutbox, SdOutbox
from thermocc_device.sdlog import SdLog

SEQ_LEASE = 4096          # sequence numbers reserved per flash write
SEQ_FILE = "seq.json"
CAMERA_RETRY_MS = 10000   # a missing camera is probed again this often
CAMERA_FAIL_LIMIT = 5     # consecutive faults before a camera is re-initialised
BACKOFF_MIN_MS = 1000
BACKOFF_MAX_MS = 60000
NTP_RETRY_MS = 60000
LOG_CHUNK = 1024          # bytes of a log file per MQTT message
MAX_COMMANDS = 4
MOVE_PX = 0.5             # a blob moving this far (pixels) counts as a change


class CameraSlot:
    """One camera: its driver, detector, sequence numbers and counters."""

    def __init__(self, index, cfg, driver, detector):
        self.index = index
        self.cfg = cfg
        self.id = cfg["id"]
        self.driver = driver
        self.detector = detector
        self.ok = False
        self.seq = 0
        self.lease_end = 0
        self.frames = 0
        self.frame_at = 0             # ticks_ms of the last frame
        self.frames_at_status = 0
        self.faults = 0
        self.consecutive_faults = 0
        self.last_error = None
        self.retry_at = 0
        self.snapshot_wanted = None   # command id when a snapshot is asked for
        self.prev_count = -1
        self.freed_islands = 0        # the detector's, when last logged
        self.prev = bytearray(3 * detector.max_blobs)  # kind, 2*cx, 2*cy of the last published frame
        self.prev_xy = [0.0] * (2 * detector.max_blobs)
        self.published_ms = 0

    def i2c_errors(self):
        d = self.driver
        if d is None:
            return 0
        c = d.error_counts
        return c.get("bus", 0) + c.get("data", 0)


class Node:
    def __init__(self, cfg, problems, camera_ok, drivers, clock, sd_storage=None, flash_storage=None,
                 network=None, mqtt=None, watchdog=None, time_sync=None, reboot=None, log=print):
        self.cfg = cfg
        self.problems = [str(p) for p in problems]
        self.clock = clock
        self.flash = flash_storage
        self.network = network
        self.mqtt = mqtt
        self.watchdog = watchdog
        self.time_sync = time_sync
        self.reboot = reboot
        self.log = log or (lambda text: None)
        for p in self.problems:
            self.log(p)
        m = cfg["mqtt"]
        node = cfg["node"]
        self.node = node
        base = (m["prefix"], cfg["site"], cfg["room"], node)
        self.topic_availability = wire.node_topic(*(base + ("availability",)))
        self.topic_status = wire.node_topic(*(base + ("status",)))
        self.topic_cmd = wire.node_topic(*(base + ("cmd",)))
        self.topic_reply = wire.node_topic(*(base + ("reply",)))
        self.topic_logs = wire.node_topic(*(base + ("logs",)))

        self.cameras = []
        work = det.WorkBuffers()        # one frame is detected at a time: the cameras share them
        for i, cam_cfg in enumerate(cfg["cameras"]):
            d = cfg["detection"]
            detector = det.Detector(cam_cfg["threshold_c"], cam_cfg["min_pixels"], cam_cfg["max_person_c"],
                                    det.mask_from_rects(cam_cfg["mask"]) if camera_ok[i] else None,
                                    d["background_s"], d["max_blobs"], d["contrast"], work=work)
            slot = CameraSlot(i, cam_cfg, drivers[i] if camera_ok[i] and i < len(drivers) else None, detector)
            slot.topic_blobs = wire.camera_topic(*(base + (slot.id, "blobs")))
            slot.topic_snapshot = wire.camera_topic(*(base + (slot.id, "snapshot")))
            slot.topic_frame = wire.camera_topic(*(base + (slot.id, "frame")))
            self.cameras.append(slot)
        camera_ids = [c.id for c in self.cameras]

        sd = cfg["sd"]
        header = {"schema": 1, "node": node, "site": cfg["site"], "room": cfg["room"],
                  "cameras": camera_ids}
        self.sdlog = SdLog(sd_storage if cfg["sd_ok"] else None, header, clock, sd["rotate_bytes"],
                           sd["rotate_s"], sd["reserve_bytes"], log=self.log)
        self.raw_every = sd["raw_every"]
        self.stream_frames = cfg["mqtt"]["frames"]
        self.frames_sent = 0
        if self.sdlog.present:
            self.outbox = SdOutbox(self.sdlog, node, camera_ids, window=m["window"])
        else:
            self.outbox = RamOutbox(node, camera_ids, capacity=m["ram_queue"], window=m["window"])
        self._payload = bytearray()
        self._raw = bytearray(lf.RAW_HEAD_SIZE + 2 * lf.PIXELS)

        self.started_ms = clock.ticks_ms()
        self.uptime_ms = 0
        self._uptime_mark = self.started_ms
        self.status_at = self.started_ms
        self.status_sent = 0
        self.connected = False
        self.connects = 0
        self.connect_failures = 0
        self.backoff_ms = BACKOFF_MIN_MS
        self.next_attempt = self.started_ms
        self.tokens = float(m["backlog_rate_per_s"])
        self.tokens_at = self.started_ms
        self.commands = []
        self.bad_commands = 0
        self.dropped_commands = 0
        self.transfer = None          # [name, offset, size, command id]
        self.reboot_at = None
        self.ntp_at = self.started_ms
        self.steps = 0
        if self.mqtt is not None:
            self.mqtt.on_message = self._on_message
            self.mqtt.on_puback = self.outbox.acked
        self._load_seq()
        for cam in self.cameras:
            self._start_camera(cam)
        self.now = self.started_ms
        self.busy = False
        self.parts = [self._part_camera(cam) for cam in self.cameras] + [self._part_link, self._part_housekeeping]
        self._sync_time(self.started_ms)

    # -- sequence numbers that survive reboots ----------------------------------------
    def _load_seq(self):
        stored = {}
        if self.flash is not None:
            data = self.flash.read_atomic(SEQ_FILE)
            if data:
                try:
                    stored = json.loads(data)
                except ValueError:
                    self.log("seq: %s damaged, sequence numbers restart from the next lease" % SEQ_FILE)
        for cam in self.cameras:
            v = stored.get(cam.id, 0) if isinstance(stored, dict) else 0
            cam.seq = v if isinstance(v, int) and v >= 0 else 0
            cam.lease_end = cam.seq
        self._renew_lease()

    def _renew_lease(self):
        # Reserve the next SEQ_LEASE numbers before using them: after a crash the board
        # starts past anything it may have sent, so the host never drops new data as a duplicate.
        for cam in self.cameras:
            if cam.seq >= cam.lease_end:
                cam.lease_end = cam.seq + SEQ_LEASE
        if self.flash is not None:
            try:
                self.flash.write_atomic(SEQ_FILE, json.dumps({c.id: c.lease_end for c in self.cameras}).encode())
            except OSError as e:
                self.log("seq: lease not saved (%s)" % e)

    def _next_seq(self, cam):
        if cam.seq >= cam.lease_end:
            self._renew_lease()
        s = cam.seq
        cam.seq += 1
        return s

    # -- cameras ----------------------------------------------------------------------
    def _start_camera(self, cam):
        if cam.driver is None:
            return
        try:
            cam.driver.begin()
            cam.ok = True
            cam.consecutive_faults = 0
            self.log("camera %s: ready (%s)" % (cam.id, cam.driver.bus_name))
        except Exception as e:   # SensorError or OSError from the bus: keep the board running
            cam.ok = False
            cam.faults += 1
            cam.last_error = str(e)
            cam.retry_at = self.clock.ticks_ms() + CAMERA_RETRY_MS
            self.log("camera %s: %s; retrying every %d s" % (cam.id, e, CAMERA_RETRY_MS // 1000))

    def _serve_camera(self, cam, now):
        if cam.driver is None:
            return False
        if not cam.ok:
            if self.clock.ticks_diff(now, cam.retry_at) >= 0:
                self._start_camera(cam)
            return False
        try:
            frame = cam.driver.poll_frame()
        except Exception as e:
            cam.faults += 1
            cam.consecutive_faults += 1
            cam.last_error = str(e)
            if cam.consecutive_faults >= CAMERA_FAIL_LIMIT:
                self.log("camera %s: %d faults in a row (%s); re-initialising" % (cam.id, cam.consecutive_faults, e))
                cam.ok = False
                cam.retry_at = now
            return False
        if frame is None:
            return False
        cam.consecutive_faults = 0
        self._process(cam, frame, now)
        return True

    def _process(self, cam, frame, now):
        d = cam.detector
        # the background learns in room time: tell it how long since this camera's last frame
        d.detect(frame, self.clock.ticks_diff(now, cam.frame_at) if cam.frames else None)
        if d.freed_islands != cam.freed_islands:
            cam.freed_islands = d.freed_islands
            self.log("camera %s: freed a stranded warm island, background the sun had warmed round "
                     "someone as warm as it (detection step 8)" % cam.id)
        cam.frame_at = now
        cam.frames += 1
        clock = self.clock
        publish = self._changed(cam, now)
        flags = (lf.FLAG_SYNCED if clock.synced else 0) | (lf.FLAG_PUBLISH if publish else 0)
        seq = self._next_seq(cam)
        utc = clock.utc_ms()
        payload = lf.encode_blobs(d, cam.index, seq, utc, flags, self._payload)
        self.sdlog.append(lf.RECORD_BLOBS, payload)
        self._check_card()
        if publish:
            if isinstance(self.outbox, SdOutbox):
                self.outbox.appended()
            else:
                self.outbox.appended_record(payload)
        raw = None
        if self.raw_every and cam.frames % self.raw_every == 0 and self.sdlog.present:
            raw = lf.encode_raw(frame, cam.index, seq, utc, flags, self._raw)
            self.sdlog.append(lf.RECORD_RAW, raw)
        if self.stream_frames and self.mqtt is not None and self.mqtt.connected:
            # live only (QoS 0, no backlog): the SD raw records are the complete copy
            raw = raw or lf.encode_raw(frame, cam.index, seq, utc, flags, self._raw)
            if self._publish(cam.topic_frame, self._frame_message(cam, raw, seq, utc), qos=0) is not None:
                self.frames_sent += 1
        if cam.snapshot_wanted is not None:
            raw = raw or lf.encode_raw(frame, cam.index, seq, utc, flags, self._raw)
            self._send_snapshot(cam, raw, seq, utc)

    def _changed(self, cam, now):
        """Report on change, or when refresh_s has passed since the last published frame."""
        d = cam.detector
        changed = d.count != cam.prev_count
        if not changed:
            stats = d.stats
            prev = cam.prev_xy
            for k in range(d.count):
                j = k * det.STAT_FIELDS
                if (int(stats[j + det.KIND]) != cam.prev[k] or abs(stats[j] - prev[2 * k]) >= MOVE_PX
                        or abs(stats[j + 1] - prev[2 * k + 1]) >= MOVE_PX):
                    changed = True
                    break
        if not changed and self.clock.ticks_diff(now, cam.published_ms) < self.cfg["mqtt"]["refresh_s"] * 1000:
            return False
        cam.prev_count = d.count
        for k in range(d.count):
            j = k * det.STAT_FIELDS
            cam.prev[k] = int(d.stats[j + det.KIND])
            cam.prev_xy[2 * k] = d.stats[j]
            cam.prev_xy[2 * k + 1] = d.stats[j + 1]
        cam.published_ms = now
        return True

    def _check_card(self):
        # The card went away (or failed): carry on with the RAM queue, and say so.
        if not self.sdlog.present and isinstance(self.outbox, SdOutbox):
            old = self.outbox
            self.outbox = RamOutbox(self.node, [c.id for c in self.cameras], self.cfg["mqtt"]["ram_queue"],
                                    self.cfg["mqtt"]["window"])
            self.outbox.dropped = old.dropped + old.queued
            if self.mqtt is not None:
                self.mqtt.on_puback = self.outbox.acked
            self.log("sd: card lost; queueing in RAM (at most %d messages)" % self.outbox.capacity)

    # -- MQTT link --------------------------------------------------------------------
    def _service_link(self, now):
        client = self.mqtt
        if client is None or not self.cfg["mqtt_ok"]:
            return
        if client.connected:
            try:
                client.poll()
            except OSError as e:
                self._link_down(now, e)
            return
        if self.clock.ticks_diff(now, self.next_attempt) < 0:
            return
        if self.network is not None and not self.network.isconnected():
            self.network.connect()    # non-blocking kick; checked again after the backoff
            self.next_attempt = now + self.backoff_ms
            return
        try:
            client.connect(will_topic=self.topic_availability, will_payload=b"offline", will_retain=True,
                           will_qos=1)
            client.subscribe(self.topic_cmd, 1)
            client.publish(self.topic_availability, b"online", qos=1, retain=True)
        except OSError as e:
            self.connect_failures += 1
            if self.connect_failures == 1 or self.backoff_ms == BACKOFF_MAX_MS:
                self.log("mqtt: cannot reach %s:%d (%s); retrying with backoff"
                         % (self.cfg["mqtt"]["host"], self.cfg["mqtt"]["port"], e))
            self.next_attempt = now + self.backoff_ms
            self.backoff_ms = min(self.backoff_ms * 2, BACKOFF_MAX_MS)
            return
        self.connected = True
        self.connects += 1
        self.backoff_ms = BACKOFF_MIN_MS
        self.outbox.rewind()
        self.log("mqtt: connected to %s:%d" % (self.cfg["mqtt"]["host"], self.cfg["mqtt"]["port"]))
        self._send_status(now)

    def _link_down(self, now, error):
        self.connected = False
        self.outbox.rewind()
        self.log("mqtt: connection lost (%s)" % error)
        self.next_attempt = now + self.backoff_ms

    def _publish(self, topic, payload, qos=0, retain=False):
        """Publish if connected; a failure takes the link down (the outbox will resend)."""
        client = self.mqtt
        if client is None or not client.connected:
            return None
        try:
            return client.publish(topic, payload, qos, retain)
        except OSError as e:
            self._link_down(self.clock.ticks_ms(), e)
            return None

    def _publish_pending(self, now):
        client = self.mqtt
        if client is None or not client.connected:
            return
        rate = self.cfg["mqtt"]["backlog_rate_per_s"]
        elapsed = self.clock.ticks_diff(now, self.tokens_at)
        self.tokens_at = now
        self.tokens = min(float(rate), self.tokens + elapsed * rate / 1000)
        while self.tokens >= 1:
            item = self.outbox.next_message()
            if item is None:
                break
            cam, text, mark = item
            pid = self._publish(self.cameras[cam].topic_blobs, text, qos=1)
            if pid is None:
                break
            self.outbox.sent_as(pid, mark)
            self.tokens -= 1

    # -- commands ---------------------------------------------------------------------
    def _on_message(self, topic, payload):
        if topic != self.topic_cmd:
            return
        if len(self.commands) >= MAX_COMMANDS:
            self.dropped_commands += 1
            self.log("cmd: queue full, command dropped")
            return
        self.commands.append(bytes(payload))

    def _reply(self, cid, ok, **fields):
        fields["id"] = cid
        fields["ok"] = ok
        fields["node"] = self.node
        self._publish(self.topic_reply, json.dumps(fields), qos=1)

    def _camera_named(self, name):
        for cam in self.cameras:
            if cam.id == name:
                return cam
        return None

    def _run_commands(self):
        while self.commands:
            raw = self.commands.pop(0)
            try:
                cmd = json.loads(raw)
                if not isinstance(cmd, dict) or not isinstance(cmd.get("cmd"), str):
                    raise ValueError("expected {\"cmd\": ...}")
            except ValueError as e:
                self.bad_commands += 1
                self.log("cmd: bad command %r (%s)" % (raw[:60], e))
                self._reply(None, False, error="bad command: %s" % e)
                continue
            self._run(cmd)

    def _run(self, cmd):
        name = cmd["cmd"]
        cid = cmd.get("id")
        if name in ("snapshot", "set_threshold"):
            cam = self._camera_named(cmd.get("camera"))
            if cam is None:
                return self._reply(cid, False, error="unknown camera %r; this node has %s"
                                   % (cmd.get("camera"), [c.id for c in self.cameras]))
            if name == "snapshot":
                cam.snapshot_wanted = cid if cid is not None else ""
                return None
            try:
                cam.detector.set_threshold(cmd.get("value"))
            except ValueError as e:
                return self._reply(cid, False, error=str(e))
            self.log("cmd: camera %s threshold now %.2f C" % (cam.id, cam.detector.threshold_c))
            return self._reply(cid, True, camera=cam.id, threshold_c=cam.detector.threshold_c)
        if name == "list_logs":
            return self._reply(cid, True, files=self.sdlog.files()[-100:], sd=self.sdlog.present)
        if name == "send_log":
            fname = cmd.get("name")
            sizes = dict(self.sdlog.files())
            if fname not in sizes:
                return self._reply(cid, False, error="no log file %r on the card" % (fname,))
            offset = cmd.get("offset", 0)
            if not isinstance(offset, int) or not 0 <= offset <= sizes[fname]:
                return self._reply(cid, False, error="offset must be 0..%d" % sizes[fname])
            self.transfer = [fname, offset, sizes[fname], cid]
            return self._reply(cid, True, name=fname, size=sizes[fname], offset=offset)
        if name == "reboot":
            self.reboot_at = self.clock.ticks_ms() + 500
            self.outbox.flush()
            return self._reply(cid, True, rebooting=True)
        self.bad_commands += 1
        return self._reply(cid, False, error="unknown command %r (snapshot, set_threshold, list_logs, "
                           "send_log, reboot)" % name)

    def _frame_message(self, cam, raw, seq, utc):
        return wire.frame_message(self.node, cam.id, seq, utc, self.clock.synced,
                                  memoryview(raw)[lf.RAW_HEAD_SIZE:])

    def _send_snapshot(self, cam, raw, seq, utc):
        cid = cam.snapshot_wanted
        cam.snapshot_wanted = None
        self._publish(cam.topic_snapshot, self._frame_message(cam, raw, seq, utc), qos=0)
        self._reply(cid, True, camera=cam.id, seq=seq, topic=cam.topic_snapshot)

    def _send_log_chunk(self):
        t = self.transfer
        if t is None or self.mqtt is None or not self.mqtt.connected:
            return
        import binascii
        name, offset, size, cid = t
        try:
            with self.sdlog.storage.open(name, "rb") as f:
                f.seek(offset)
                chunk = f.read(LOG_CHUNK)
        except OSError as e:
            self.transfer = None
            return self._reply(cid, False, error="reading %s: %s" % (name, e))
        last = offset + len(chunk) >= size or not chunk
        msg = json.dumps({"id": cid, "node": self.node, "name": name, "offset": offset, "size": size,
                          "crc32": lf.crc32(chunk) & 0xFFFFFFFF, "last": last,
                          "data": binascii.b2a_base64(chunk).strip().decode()})
        if self._publish(self.topic_logs, msg, qos=1) is None:
            return None
        t[1] = offset + len(chunk)
        if last:
            self.transfer = None
        return None

    # -- status, time -----------------------------------------------------------------
    def status(self, now):
        secs = max(1, self.clock.ticks_diff(now, self.status_at)) / 1000
        sd = self.sdlog
        try:
            sd_free = sd.storage.free_bytes() if sd.present else None
        except OSError:
            sd_free = None
        cams = {}
        for cam in self.cameras:
            cams[cam.id] = {"ok": cam.ok, "fps": round((cam.frames - cam.frames_at_status) / secs, 2),
                            "frames": cam.frames, "faults": cam.faults, "i2c_errors": cam.i2c_errors(),
                            "threshold_c": cam.detector.threshold_c, "seq": cam.seq,
                            "error": cam.last_error}
        return {"v": 1, "node": self.node, "t": self.clock.utc_ms(), "sync": bool(self.clock.synced),
                "uptime_s": self.uptime_ms // 1000, "heap_free": gc.mem_free() if hasattr(gc, "mem_free") else None,
                "cameras": cams,
                "sd": {"present": sd.present, "free": sd_free, "files": (sd.last - sd.first + 1) if sd.first else 0,
                       "full_events": sd.full_events, "deleted_files": sd.deleted_files,
                       "write_errors": sd.write_errors, "lost_records": sd.lost_records},
                "queued": self.outbox.waiting(), "dropped": self.outbox.dropped, "damaged": self.outbox.damaged,
                "sent": self.outbox.sent, "resent": self.outbox.resent, "frames_sent": self.frames_sent,
                "mqtt": {"connects": self.connects, "failures": self.connect_failures},
                "commands": {"bad": self.bad_commands, "dropped": self.dropped_commands},
                "config_errors": self.problems}

    def _send_status(self, now):
        msg = json.dumps(self.status(now))
        for cam in self.cameras:
            cam.frames_at_status = cam.frames
        self.status_at = now
        self.status_sent += 1
        self._publish(self.topic_status, msg, qos=0)
        if self.sdlog.present:
            self.sdlog.append(lf.RECORD_EVENT, ('{"event":"status","status":%s}' % msg).encode())
        for name, detail in self.sdlog.pending_events:
            self._publish(self.topic_reply, json.dumps({"node": self.node, "event": name, "detail": detail}))
        self.sdlog.pending_events = []
        self.outbox.flush()

    def _sync_time(self, now):
        if self.time_sync is None:
            return
        try:
            ok = self.time_sync.sync()
        except OSError as e:
            ok = False
            self.log("ntp: %s" % e)
        self.clock.synced = bool(ok) or self.clock.synced
        interval = self.cfg["ntp"]["interval_s"] * 1000 if ok else NTP_RETRY_MS
        self.ntp_at = now + interval

    # -- the loop ---------------------------------------------------------------------
    def step(self):
        """One pass: cameras, link, outbox, commands, status. Returns True if a frame was processed."""
        self.begin_step()
        for part in self.parts:
            part()
        return self.busy

    # step() in parts, so that a test can look at the heap between them (loop_heap).
    def begin_step(self):
        clock = self.clock
        now = self.now = clock.ticks_ms()
        self.busy = False
        self.steps += 1
        if self.watchdog is not None:
            self.watchdog.feed()
        self.uptime_ms += clock.ticks_diff(now, self._uptime_mark)
        self._uptime_mark = now

    def _part_camera(self, cam):
        def serve():
            if self._serve_camera(cam, self.now):
                self.busy = True
        return serve

    def _part_link(self):
        self._service_link(self.now)
        self._publish_pending(self.now)

    def _part_housekeeping(self):
        now = self.now
        clock = self.clock
        self._run_commands()
        self._send_log_chunk()
        if clock.ticks_diff(now, self.status_at) >= self.cfg["mqtt"]["status_interval_s"] * 1000:
            self._send_status(now)
        if self.time_sync is not None and clock.ticks_diff(now, self.ntp_at) >= 0:
            self._sync_time(now)
        if self.reboot_at is not None and clock.ticks_diff(now, self.reboot_at) >= 0:
            self.shutdown()
            if self.reboot is not None:
                self.reboot()
            self.reboot_at = None

    def run(self, idle_ms=5):
        while True:
            if not self.step():
                self.clock.sleep_ms(idle_ms)

    def shutdown(self):
        """Flush the cursor, close the log, say goodbye to the broker."""
        self.outbox.flush()
        if self.mqtt is not None and self.mqtt.connected:
            try:
                self.mqtt.publish(self.topic_availability, b"offline", qos=1, retain=True)
            except OSError:
                pass
            self.mqtt.disconnect()
        self.sdlog.close()
