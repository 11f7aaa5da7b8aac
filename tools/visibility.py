"""Whether a simulated person could be seen at all, and what a group shows: what they
change in each view, against the same room rendered as if they had never been there.

The accuracy benchmark asks this of the people its runs missed. A detector that knew the
room without them exactly (the floor as the sun left it, nobody's shade on it) finds a
person in a camera when at least `min_pixels` of its pixels read warmer by half the warm
threshold and one of them by all of it (the detector's rule for a group, docs/detection.md,
with a perfect background). Someone who changes no view that much cannot be found by any
detector working from these images: clothing as warm as the sunlit floor behind it, say.
The threshold is the detector's at the air temperature (its warm-room rule included).

For a group counted wrong it asks the same of all its people at once (`views`): the pixels
each view's blob of them would hold, noise-free against a perfect background, which group
sizing then reads (fusion.BlobFusion.group_reading). Its people are those chained to one
of them within GROUP_LINK_M (`group_around`).

The renderer's sunlit floor remembers who shaded it, so both renderings follow the run from
its start at its frame times: one with everyone, one without the person asked about.
"""
from __future__ import annotations

import math

import numpy as np

from thermocc_shared.detect import COLS, Detector, contrast_threshold_cd
from thermocc_tools.thermal_render import RoomRenderer, air_temperature

_DEFAULTS = Detector()    # the detector's default settings: warm threshold, warm-room rule, group size
THRESHOLD_CD = _DEFAULTS.threshold_cd
CONTRAST_PCT = _DEFAULTS.contrast_pct
MIN_PIXELS = _DEFAULTS.min_pixels
# People this close (centre to centre) make one blob in the views that see them both: in the
# accuracy benchmark's Monday meeting, seated people 1.0 m apart merged in all four views.
GROUP_LINK_M = 1.3


class Visibility:
    """Follows one simulated run (behaviour: positions(t_s) and monitors_on(t_s), as
    tools/occupancy_sim.Behaviour) for one agent, or a group of them (agent: an id, or a
    collection of ids). frame_times: the run's frame times in order (seconds, as
    room_chain.run_frame_times gives them, or plain numbers). seen(t_s) says whether they, if
    in the room at t_s, could be seen by any of the working cameras; calls must come in time
    order, at frame times."""

    def __init__(self, room, settings, behaviour, agent, frame_times, working=None):
        self.behaviour = behaviour
        self.agents = set(agent) if isinstance(agent, (set, frozenset, list, tuple)) else {agent}
        self.settings = settings
        self.everyone = RoomRenderer(room, settings)
        self.without = RoomRenderer(room, settings)
        self.working = list(range(len(room.cameras))) if working is None else list(working)
        self.times = (t[0] if isinstance(t, tuple) else t for t in frame_times)
        self.next_s = next(self.times, None)     # the run's next frame time not yet followed

    def _follow(self, t_s):
        # the frames before t_s: only the sunlit floor's memory of who shaded it changes
        while self.next_s is not None and self.next_s < t_s - 1e-6:
            people = self.behaviour.positions(self.next_s)
            if self.settings.sun:
                self.everyone.shaded_deficit(self.next_s, people)
                self.without.shaded_deficit(self.next_s, [p for p in people if p[0] not in self.agents])
            self.next_s = next(self.times, None)
        while self.next_s is not None and self.next_s <= t_s + 1e-6:     # t_s's own frame: change renders it
            self.next_s = next(self.times, None)

    def _raised(self, t_s):
        """(frames with everyone, how much warmer than without the agents, the detector's
        threshold, C) for the working cameras at t_s; None when none of the agents is in the
        room."""
        self._follow(t_s)
        people = self.behaviour.positions(t_s)
        others = [p for p in people if p[0] not in self.agents]
        monitors = self.behaviour.monitors_on(t_s)
        full = self.everyone.render(t_s, people, monitors)     # (rendering t_s's frame moves the sun's memory on)
        empty = self.without.render(t_s, others, monitors)
        if len(others) == len(people):
            return None
        air_cd = int(round(100 * air_temperature(self.settings, t_s)))
        threshold = contrast_threshold_cd(THRESHOLD_CD, CONTRAST_PCT, air_cd) / 100
        return full[self.working], full[self.working] - empty[self.working], threshold

    def change(self, t_s):
        """Per working camera, (pixels raised by half the threshold, by all of it); None when
        none of the agents is in the room at t_s."""
        raised = self._raised(t_s)
        if raised is None:
            return None
        _, raised, threshold = raised
        return list(zip((raised >= threshold / 2).sum(axis=1).tolist(), (raised >= threshold).sum(axis=1).tolist()))

    def views(self, t_s):
        """The blobs the agents would make, noise-free against a perfect background: per
        working camera in which they could be seen (seen's rule), (camera index, pixels
        raised by half the threshold, their box col0, row0, col1, row1, their mean and peak
        excess over the air, C). None when none of them is in the room at t_s."""
        raised = self._raised(t_s)
        if raised is None:
            return None
        full, raised, threshold = raised
        air = air_temperature(self.settings, t_s)
        out = []
        for k, frame, up in zip(self.working, full, raised):
            fringe = up >= threshold / 2
            if not _found(fringe.sum(), (up >= threshold).sum()):
                continue
            rows, cols = np.divmod(np.flatnonzero(fringe), COLS)
            out.append((k, int(fringe.sum()), (int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())),
                        float(frame[fringe].mean() - air), float(frame[fringe].max() - air)))
        return out

    def seen(self, t_s):
        """True or False (could be seen at t_s), None when none of the agents is in the room."""
        change = self.change(t_s)
        if change is None:
            return None
        return any(_found(half, whole) for half, whole in change)


def _found(half, whole):
    """The detector's rule for a group, given a view's pixels raised by half the threshold
    and by all of it: at least MIN_PIXELS, one of them warm."""
    return half >= MIN_PIXELS and whole >= 1


def nearest_agent(behaviour, t_s, x, y, within_m=1.0):
    """The agent nearest (x, y) at t_s, or None if nobody is within within_m."""
    best, best_d = None, within_m
    for p in behaviour.positions(t_s):
        d = float(np.hypot(p[1] - x, p[2] - y))
        if d <= best_d:
            best, best_d = p[0], d
    return best


def group_around(behaviour, t_s, agent, link_m=GROUP_LINK_M):
    """The ids of the agents chained to agent at t_s, each within link_m of another (agent
    included); empty if agent is not in the room."""
    where = {p[0]: (p[1], p[2]) for p in behaviour.positions(t_s)}
    if agent not in where:
        return set()
    group, todo = {agent}, [agent]
    while todo:
        x, y = where[todo.pop()]
        for other, (ox, oy) in where.items():
            if other not in group and math.hypot(ox - x, oy - y) < link_m:
                group.add(other)
                todo.append(other)
    return group
