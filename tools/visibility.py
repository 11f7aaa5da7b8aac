"""Whether a simulated person could be seen at all: what they change in each view, against
the same room rendered as if they had never been there.

The accuracy benchmark asks this of the people its runs missed. A detector that knew the
room without them exactly (the floor as the sun left it, nobody's shade on it) finds a
person in a camera when at least `min_pixels` of its pixels read warmer by half the warm
threshold and one of them by all of it (the detector's rule for a group, docs/detection.md,
with a perfect background). Someone who changes no view that much cannot be found by any
detector working from these images: clothing as warm as the sunlit floor behind it, say.
The threshold is the detector's at the air temperature (its warm-room rule included).

The renderer's sunlit floor remembers who shaded it, so both renderings follow the run from
its start at its frame times: one with everyone, one without the person asked about.
"""
from __future__ import annotations

import numpy as np

from thermocc_shared.detect import Detector, contrast_threshold_cd
from thermocc_tools.thermal_render import RoomRenderer, air_temperature

_DEFAULTS = Detector()    # the detector's default settings: warm threshold, warm-room rule, group size
THRESHOLD_CD = _DEFAULTS.threshold_cd
CONTRAST_PCT = _DEFAULTS.contrast_pct
MIN_PIXELS = _DEFAULTS.min_pixels


class Visibility:
    """Follows one simulated run (behaviour: positions(t_s) and monitors_on(t_s), as
    tools/occupancy_sim.Behaviour) for one agent. frame_times: the run's frame times in order
    (seconds, as room_chain.run_frame_times gives them, or plain numbers). seen(t_s) says
    whether that agent, if in the room at t_s, could be seen by any of the working cameras;
    calls must come in time order, at frame times."""

    def __init__(self, room, settings, behaviour, agent, frame_times, working=None):
        self.behaviour = behaviour
        self.agent = agent
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
                self.without.shaded_deficit(self.next_s, [p for p in people if p[0] != self.agent])
            self.next_s = next(self.times, None)
        while self.next_s is not None and self.next_s <= t_s + 1e-6:     # t_s's own frame: change renders it
            self.next_s = next(self.times, None)

    def change(self, t_s):
        """Per working camera, (pixels raised by half the threshold, by all of it); None when
        the agent is not in the room at t_s."""
        self._follow(t_s)
        people = self.behaviour.positions(t_s)
        others = [p for p in people if p[0] != self.agent]
        monitors = self.behaviour.monitors_on(t_s)
        full = self.everyone.render(t_s, people, monitors)
        empty = self.without.render(t_s, others, monitors)
        if len(others) == len(people):
            return None
        air_cd = int(round(100 * air_temperature(self.settings, t_s)))
        threshold = contrast_threshold_cd(THRESHOLD_CD, CONTRAST_PCT, air_cd) / 100
        raised = full[self.working] - empty[self.working]
        return list(zip((raised >= threshold / 2).sum(axis=1).tolist(), (raised >= threshold).sum(axis=1).tolist()))

    def seen(self, t_s):
        """True or False (could be seen at t_s), None when the agent is not in the room."""
        change = self.change(t_s)
        if change is None:
            return None
        return any(half >= MIN_PIXELS and whole >= 1 for half, whole in change)


def nearest_agent(behaviour, t_s, x, y, within_m=1.0):
    """The agent nearest (x, y) at t_s, or None if nobody is within within_m."""
    best, best_d = None, within_m
    for p in behaviour.positions(t_s):
        d = float(np.hypot(p[1] - x, p[2] - y))
        if d <= best_d:
            best, best_d = p[0], d
    return best
