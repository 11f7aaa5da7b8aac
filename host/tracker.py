"""Tracker: stable identities for the fused people of one room, tick after tick.

Assignment is optimal (Hungarian) on distance, gated by track_gate_m. A new track is
tentative until it has been seen track_confirm_ticks times; a track that is not seen
coasts for track_coast_ticks and then ends. A confirmed track born within door_radius_m
of a door counts as an entry; one that ends within it counts as an exit. Each track keeps
its zone and how long it has been in the room and in that zone (dwell), and how fast it
moved over its last few matched steps. Each update lists the tracks it confirmed and the
confirmed tracks it ended, for the people held out of view (host/hidden.py). A track born
in a group while someone tracked beside it walks is marked (Track.walker_lift): fusion
does not take it as someone in the group until it is LIFT_S old (RoomPipeline._tracked).
Each track also remembers when another was last within track_gate_m of it (crowded_ms:
host/hidden.py holds no one lost beside another).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from thermocc.room import distance_to_segment

WALKING_M_PER_S = 0.2     # a track this fast walks (1 m/s; slower as a view loses them); a sitter jitters a few cm/s
# A walker who merges into a group for a moment lifts its pixels past what its people cover
# (standing, taller than the seated outline fusion sizes groups by), and fusion may count
# one more: a track born in the group then, within LIFT_REACH_M of a walking track, is
# likely that lift, and once the walker has gone it would hold the group one over
# (fusion.HOLD_FILL). It does not count as someone round the group for LIFT_S.
LIFT_REACH_M = 1.5
LIFT_S = 60.0


@dataclass
class Track:
    id: int
    x: float
    y: float
    zone: int
    born_ms: int
    zone_since_ms: int
    born_at_door: bool
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    seen_ms: int = 0             # when last matched
    speed_m_s: float = 0.0       # its last matched step's, or half the one before if more: walking ~1, sitting ~0
    person: int = -1             # index of the fused person it matched in the last update (-1: none)
    walker_lift: bool = False    # born in a group while a track within LIFT_REACH_M walked
    crowded_ms: int | None = None    # when another track was last within track_gate_m (None: never)


class Tracker:
    def __init__(self, room):
        self.room = room
        s = room.settings
        self.gate = s.track_gate_m
        self.confirm = s.track_confirm_ticks
        self.coast = s.track_coast_ticks
        self.door_radius = s.door_radius_m
        self.tracks: list[Track] = []
        self.next_id = 1
        self.entries = 0
        self.exits = 0
        self.confirmed_now = []      # tracks confirmed by the last update
        self.ended_now = []          # (track, ended near a door) of confirmed tracks the last update ended

    def _near_door(self, x, y):
        return any(distance_to_segment(x, y, *d.a, *d.b) <= self.door_radius for d in self.room.doors)

    def update(self, people, t_ms, in_group=None):
        """people: (k, 2) fused positions of this tick; in_group: per person, whether fusion
        counted them in a group (None: none). Returns the tracks that count now."""
        tracks = self.tracks
        matched_t, matched_p = np.zeros(0, int), np.zeros(0, int)
        if tracks and len(people):
            pos = np.array([[t.x, t.y] for t in tracks])
            dx, dy = pos[:, None, 0] - people[None, :, 0], pos[:, None, 1] - people[None, :, 1]
            cost = np.sqrt(dx * dx + dy * dy)        # (as np.linalg.norm, without its overhead)
            big = 1e6
            rows, cols = linear_sum_assignment(np.where(cost <= self.gate, cost, big))
            keep = cost[rows, cols] <= self.gate
            matched_t, matched_p = rows[keep], cols[keep]
        self.confirmed_now, self.ended_now = [], []
        seen = set(matched_t.tolist())
        for ti, pi in zip(matched_t, matched_p):
            t = tracks[ti]
            t.person = int(pi)
            x, y = float(people[pi, 0]), float(people[pi, 1])
            # its last few steps: a walker's last one, cut by the border of a view, can read slow
            step = math.hypot(x - t.x, y - t.y) * 1000 / max(1, t_ms - t.seen_ms)
            t.speed_m_s = max(step, t.speed_m_s / 2)
            moved = x != t.x or y != t.y             # (a still room's ticks reuse one fusion)
            t.x, t.y, t.seen_ms = x, y, t_ms
            t.hits += 1
            t.misses = 0
            zone = self.room.zone_index(t.x, t.y) if moved else t.zone
            if zone != t.zone:
                t.zone, t.zone_since_ms = zone, t_ms
            if not t.confirmed and t.hits >= self.confirm:
                t.confirmed = True
                self.confirmed_now.append(t)
                if t.born_at_door:
                    self.entries += 1
        survivors = []
        for i, t in enumerate(tracks):
            if i not in seen:
                t.person = -1
                t.misses += 1
                if t.misses > self.coast:
                    if t.confirmed:
                        at_door = self._near_door(t.x, t.y)
                        self.exits += at_door
                        self.ended_now.append((t, at_door))
                    continue
            survivors.append(t)
        used = set(matched_p.tolist())
        for pi in range(len(people)):
            if pi in used:
                continue
            x, y = float(people[pi, 0]), float(people[pi, 1])
            lift = in_group is not None and bool(in_group[pi]) and any(
                o.confirmed and o.speed_m_s >= WALKING_M_PER_S and math.hypot(o.x - x, o.y - y) <= LIFT_REACH_M
                for o in survivors)
            t = Track(self.next_id, x, y, self.room.zone_index(x, y), t_ms, t_ms, self._near_door(x, y), seen_ms=t_ms,
                      person=pi, walker_lift=lift)
            self.next_id += 1
            if self.confirm <= 1:
                t.confirmed = True
                self.confirmed_now.append(t)
                if t.born_at_door:
                    self.entries += 1
            survivors.append(t)
        self.tracks = survivors
        if len(survivors) > 1:
            # the tracker could swap these two, or they are one person split in two
            pos = np.array([[t.x, t.y] for t in survivors])
            dx, dy = pos[:, None, 0] - pos[None, :, 0], pos[:, None, 1] - pos[None, :, 1]
            close = (dx * dx + dy * dy <= self.gate * self.gate).sum(1) > 1      # (itself is one)
            for t, c in zip(survivors, close.tolist()):
                if c:
                    t.crowded_ms = t_ms
        return [t for t in survivors if t.confirmed]
