"""One room's processing: ordered observations -> fusion ticks -> tracker -> steps -> sinks.

Time is the boards' capture time: a tick [k*tick, (k+1)*tick) is processed when the first
observation of a later tick arrives, and a step closes when a tick of the next step is
processed. The live daemon and `thermocc replay` both drive this class with the same
ordered stream, so they write the same bytes.

Per tick, each camera contributes its most recent observation (boards report on change
plus a heartbeat) if it is younger than camera_timeout_s; older cameras count as missing
and lower the step's coverage, they never stop the room. As each observation arrives, the
warm places seated people left behind are marked, so no fusion counts them
(host/residual.py). The tick's count is the tracker's confirmed tracks, less those on a seat
someone walked away from that one camera's border still shows (host/left_behind.py, blob
mode), plus the people held where no working camera sees or where they vanished in view
minutes after sitting down (host/hidden.py). Fusion is a
function of the observations it is given and of where people were tracked before them (a
group is not counted one more than its tracks on pixels short of fusion.HOLD_FILL): a
tick with the same observations as the tick before (a still room, whose boards send only
on change) reuses that tick's people instead of fusing again.
"""
from __future__ import annotations

import logging

import numpy as np

from thermocc.fusion import BlobFusion, FrameFusion
from thermocc.hidden import HiddenPeople
from thermocc.ingest import KIND_PERSON, person_detections
from thermocc.left_behind import LeftBehind
from thermocc.residual import ResidualHeat
from thermocc.series import StepAggregates, build_rows, history_length
from thermocc.tracker import LIFT_S, Tracker

log = logging.getLogger("thermocc.pipeline")


class TickResult:
    __slots__ = ("t_ms", "count", "cameras_ok", "people")

    def __init__(self, t_ms, count, cameras_ok, people):
        self.t_ms, self.count, self.cameras_ok, self.people = t_ms, count, cameras_ok, people


class RoomPipeline:
    def __init__(self, room, sinks=(), mode=None, detector_threshold_c=5.0):
        self.room = room
        s = room.settings
        self.mode = mode or s.mode
        self.tick_ms = int(round(s.tick_s * 1000))
        self.step_ms = s.timestep_min * 60_000
        self.timeout_ms = int(s.camera_timeout_s * 1000)
        self.cam_index = {(c.node, c.id): k for k, c in enumerate(room.cameras)}
        self.latest = [None] * len(room.cameras)
        self.fusion = BlobFusion(room)
        self.frame_fusion = FrameFusion(room, detector_threshold_c) if self.mode == "frame" else None
        self.tracker = Tracker(room)
        self.residual = ResidualHeat(room, self.fusion)
        self.hidden = HiddenPeople(room)
        self.left_behind = LeftBehind(room)
        self.left_before = set()     # ids of the tracks left_behind did not count at the last tick
        self.sinks = list(sinks)
        self.tick = None            # index of the tick being filled
        self.step = None            # index of the step being filled
        self.agg = StepAggregates(len(room.zones))
        self.keep = history_length(room)
        self._reset_step()
        self.ticks_done = 0
        self.fused_from = ()         # the observations the last fusion was given (None: a camera not used)
        self.fused_people = np.zeros((0, 2))
        self.fused_support = None
        self.fused_in_group = None
        self.unknown = 0
        self.blobs_only = 0
        self.missing = [False] * len(room.cameras)      # logged as missing (no frame for camera_timeout_s)
        self.first_tick_ms = None

    def prepare(self):
        """Build the tables and load the kernels that the first ticks with every camera
        working need, so they do not wait for them (the daemon calls it before its first
        message). Results are the same with or without it."""
        self.fusion.prepare()
        self.hidden.places([True] * len(self.room.cameras))
        n = len(self.room.cameras)
        one_step = (0, 300, 300, 0.0, 0, n, n, 0, 0)      # (StepAggregates.FIELDS) a step of an empty room
        build_rows(self.room, [one_step], [np.zeros(len(self.room.zones))], 0)

    def _reset_step(self):
        self.s_ticks = self.s_cov = self.s_max = self.s_cam_ok = self.s_cam = 0
        self.s_sum = 0.0
        self.s_zone = np.zeros(len(self.room.zones))
        self.s_zone_dwell = np.zeros(len(self.room.zones))
        self.s_entries0 = self.tracker.entries
        self.s_exits0 = self.tracker.exits

    # -- input --------------------------------------------------------------------------
    def feed(self, obs):
        k = self.cam_index.get((obs.node, obs.cam))
        if k is None:
            self.unknown += 1
            return
        self.advance_to(obs.t_ms)
        if self.mode == "frame" and obs.frame is None:
            self.blobs_only += 1
            if self.blobs_only == 1 or self.blobs_only % 10000 == 0:
                log.warning("frame mode needs raw frames; %d observations had blobs only (first: %s/%s)",
                            self.blobs_only, obs.node, obs.cam)
        self.residual.mark(k, obs)
        self.latest[k] = obs

    def advance_to(self, t_ms):
        """Process every tick that ends at or before t_ms."""
        tick = t_ms // self.tick_ms
        if self.tick is None:
            self.tick = tick
            self.step = tick * self.tick_ms // self.step_ms
            return
        while self.tick < tick:
            start = self.tick * self.tick_ms
            if not any(o is not None and start - o.t_ms <= self.timeout_ms for o in self.latest) \
                    and not self.tracker.tracks:
                # nothing can be seen until the next observation: skip to the next step boundary or tick
                next_step_tick = -(-((start // self.step_ms + 1) * self.step_ms) // self.tick_ms)
                jump = min(tick, next_step_tick) - self.tick
                n_cam = len(self.latest)
                self.s_ticks += jump
                self.s_cam += jump * n_cam
                self.tick += jump
            else:
                self._process_tick(start)
                self.tick += 1
            step = self.tick * self.tick_ms // self.step_ms
            if step != self.step:
                self._close_steps(step)

    # -- one tick -------------------------------------------------------------------------
    def _process_tick(self, start_ms):
        end_ms = start_ms + self.tick_ms
        ok = [o is not None and start_ms - o.t_ms <= self.timeout_ms for o in self.latest]
        self._log_missing(start_ms, ok)
        n_ok = sum(ok)
        used = tuple(o if good else None for o, good in zip(self.latest, ok))
        support = None
        if len(used) == len(self.fused_from) and all(a is b for a, b in zip(used, self.fused_from)):
            people, support, in_group = self.fused_people, self.fused_support, self.fused_in_group
        elif self.mode == "frame":
            frames = np.zeros((len(ok), 768))
            amb = np.zeros(len(ok))
            usable = np.zeros(len(ok), bool)
            blobs = [None] * len(ok)
            for k, o in enumerate(self.latest):
                if ok[k] and o.frame is not None:
                    frames[k], amb[k], usable[k], blobs[k] = person_pixels(o), o.ambient_c, True, o.blobs
            people = self.frame_fusion.fuse(frames, amb, usable, blobs, self._tracked())
            in_group = self.frame_fusion.association.group_size > 1 if len(people) else None
        else:
            dets = _detections(self.latest, ok)
            people, labels = self.fusion.fuse(dets, ok, self._tracked())
            support = _support(dets, labels, len(people))
            in_group = self.fusion.group_size > 1
        if n_ok == 0:
            people, support, in_group = np.zeros((0, 2)), None, None
        self.fused_from, self.fused_people, self.fused_support, self.fused_in_group = used, people, support, in_group
        tracks = self.tracker.update(people, end_ms, in_group)
        left = self.left_behind.update(self.tracker.tracks, support, end_ms)
        if left:
            tracks = [t for t in tracks if t.id not in left]
        hidden = self.hidden.update(ok, self.tracker.confirmed_now, self.tracker.ended_now, end_ms, self.left_before)
        self.left_before = set(left)     # (a track that ends is no longer in left_behind's set)
        count = len(tracks) + len(hidden)
        self.s_ticks += 1
        self.s_cam_ok += n_ok
        self.s_cam += len(ok)
        if n_ok:
            self.s_cov += 1
            self.s_sum += count
            self.s_max = max(self.s_max, count)
            for t in tracks:
                self.s_zone[t.zone] += 1
                self.s_zone_dwell[t.zone] += (end_ms - t.zone_since_ms) / 1000
            for h in hidden:
                self.s_zone[h.zone] += 1
                self.s_zone_dwell[h.zone] += (end_ms - h.since_ms) / 1000
        self.ticks_done += 1
        result = TickResult(start_ms, count, n_ok, [(t.id, t.x, t.y, t.zone) for t in tracks] +
                            [(h.id, h.x, h.y, h.zone) for h in hidden])
        for sink in self.sinks:
            sink.tick(self, result)

    def _tracked(self):
        """Where the confirmed tracks were last (fusion holds a group's count to them), but
        for tracks born of a walker's lift less than tracker.LIFT_S before their last match."""
        return np.array([(t.x, t.y) for t in self.tracker.tracks if t.confirmed and
                         not (t.walker_lift and t.seen_ms - t.born_ms < LIFT_S * 1000)]).reshape(-1, 2)

    def _log_missing(self, start_ms, ok):
        """Log a camera going missing (no frame for camera_timeout_s) and coming back, once
        each way; the coverage column counts it every step."""
        if self.first_tick_ms is None:
            self.first_tick_ms = start_ms
        for k, good in enumerate(ok):
            o, cam = self.latest[k], self.room.cameras[k]
            if good and self.missing[k]:
                log.info("%s: %s/%s reports again", self.room.name, cam.node, cam.id)
                self.missing[k] = False
            elif not good and not self.missing[k] and \
                    (o is not None or start_ms - self.first_tick_ms > self.timeout_ms):
                # (one not heard from yet, while the run has only just begun, is not missing)
                since = o.t_ms if o is not None else self.first_tick_ms
                log.warning("%s: %s/%s missing: no frame for %.0f s (camera_timeout_s); coverage drops until it "
                            "reports", self.room.name, cam.node, cam.id, (start_ms - since) / 1000)
                self.missing[k] = True

    # -- steps ----------------------------------------------------------------------------
    def _close_steps(self, new_step):
        first = len(self.agg.rows)
        while self.step < new_step:
            start = self.step * self.step_ms
            self.agg.append((start, self.s_ticks, self.s_cov, self.s_sum, self.s_max, self.s_cam_ok, self.s_cam,
                             self.tracker.entries - self.s_entries0, self.tracker.exits - self.s_exits0),
                            self.s_zone.copy(), self.s_zone_dwell.copy())
            self._reset_step()
            self.step += 1
        rows, zone_rows = build_rows(self.room, self.agg.rows, self.agg.zone_sums, first, self.agg.zone_dwell)
        for sink in self.sinks:
            sink.steps(self, rows, zone_rows)
        # keep only the history later steps need
        if len(self.agg.rows) > self.keep:
            self.agg.keep_last(self.keep)

    def close(self):
        for sink in self.sinks:
            sink.close()


def person_pixels(obs):
    """The frame with everything outside the detector's person blobs set to ambient.

    Frame mode fuses pixels on the floor grid, but which pixels are warm because of a
    person is the detector's call: its per-pixel background absorbs monitors, radiators
    and sun patches, and its hot-object rule drops kettles. Fusing raw excess over the
    ambient counted every monitor as a person. In a blob's box, pixels warmer than its
    peak are not its own (a kettle beside someone): the grid drops a region as hot when
    its peak is far above a person's, and would drop them both."""
    frame = np.asarray(obs.frame, np.float64).reshape(24, 32)
    keep = np.zeros((24, 32), bool)
    for b in obs.blobs:
        if b[9] == KIND_PERSON:
            c0, r0, c1, r1 = (int(v) for v in b[2:6])
            box = frame[r0:r1 + 1, c0:c1 + 1]
            keep[r0:r1 + 1, c0:c1 + 1] |= box <= b[7] + 0.01    # the peak is to 0.01 C
    return np.where(keep, frame, obs.ambient_c).reshape(-1)


def _detections(latest, ok):
    """(k, 11): camera index and Observation.people() of the person blobs of the working
    cameras' latest observations (BlobFusion.fuse's detections)."""
    seen = [(k, o) for k, o in enumerate(latest) if ok[k] and len(o.blobs)]
    if not seen:
        return np.zeros((0, 11))
    n = [len(o.blobs) for _, o in seen]
    return person_detections(np.concatenate([o.blobs for _, o in seen]), np.repeat([k for k, _ in seen], n),
                             np.repeat([o.ambient_c for _, o in seen], n))


def _support(dets, labels, n_people):
    """Per fused person, (views, cut): how many cameras' blobs it holds and whether the
    image border cuts every one of them; (99, False) for a group's people after the first
    (host/left_behind.py leaves groups alone)."""
    views = [set() for _ in range(n_people)]
    cut = [True] * n_people
    for cam, edge, lab in zip(dets[:, 0].tolist(), dets[:, 3].tolist(), labels.tolist()):
        if lab >= 0:
            views[lab].add(cam)
            cut[lab] = cut[lab] and edge > 0
    return [(len(v), c) if v else (99, False) for v, c in zip(views, cut)]
