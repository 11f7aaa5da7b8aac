"""Counts of noise-free rendered scenes: what each fusion mode makes of people placed by hand.

The renderer (thermal_render) draws the room at night (no sun, no drift, no noise), each
camera's frame goes through the detector primed on the empty room, and both fusion modes
count the result. Tests use it to pin behaviour on known scenes; benchmarks/bench_groups.py
uses it to measure group sizing on controlled layouts.
"""
from __future__ import annotations

import numpy as np

from thermocc.room import EXAMPLE_ROOM, load_room
from thermocc_tools.thermal_render import RenderSettings, RoomRenderer

NIGHT_S = 3 * 3600            # 03:00: no sun


class RenderedCount:
    """Noise-free rendered scenes through each camera's detector and the fusion of both modes."""

    def __init__(self, room=None, **render_settings):
        from thermocc.fusion import BlobFusion, FrameFusion
        self.room = room or load_room(EXAMPLE_ROOM)
        self.renderer = RoomRenderer(self.room, RenderSettings(**{"sun": False, "drift_c": 0.0, **render_settings}))
        self.fusion = BlobFusion(self.room)
        self.grid = FrameFusion(self.room)
        self.empty = self.renderer.render(NIGHT_S, [], [])

    def observations(self, people, monitors=()):
        """Each camera's Observation (detector blobs and frame) of people [(x, y, posture)] and
        monitors [(x, y)] that are on."""
        from thermocc import detect_fast as fd
        from thermocc.ingest import observations_from_stats
        room = self.room
        temps = self.renderer.render(NIGHT_S, [(i, x, y, p, room.zone_index(x, y)) for i, (x, y, p) in enumerate(people)],
                                     monitors)
        out = []
        for k in range(len(room.cameras)):
            det = fd.FastDetector()
            det.detect_frames(np.stack([self.empty[k]] * 3))
            stats, summary = det.detect_frames(temps[k][None])
            out.append(observations_from_stats("n", "c", [1], [0], stats, summary, temps[k][None])[0])
        return out

    def person_fill(self, places=40, seed=5):
        """How the one-person model (thermocc.camera: PERSON_RADIUS_M, PERSON_BOTTOM_M,
        PERSON_TOP_M) fits: for people alone at random places, seated and standing, the
        detector's blob pixels over the model's pixels (CameraModel.group_area_px) in each
        view that sees them. Returns {(posture, cut): [ratio per view]}, cut True where the
        image border cuts the blob."""
        from thermocc.camera import COLS, ROWS
        x0, y0, x1, y1 = self.room.bounds
        rng = np.random.default_rng(seed)
        ratios = {}
        for posture in ("seated", "standing"):
            for _ in range(places):
                x, y = rng.uniform([x0 + 0.8, y0 + 0.8], [x1 - 0.8, y1 - 0.8])
                if not self.room.contains(x, y):
                    continue
                for cam, obs in enumerate(self.observations([(x, y, posture)])):
                    blobs = obs.people()
                    model = self.fusion.models[cam].group_area_px([(x, y)])
                    if not len(blobs) or model < 1:
                        continue
                    cut = bool(blobs[:, 4].min() <= 0 or blobs[:, 5].min() <= 0 or blobs[:, 6].max() >= COLS - 1
                               or blobs[:, 7].max() >= ROWS - 1)
                    ratios.setdefault((posture, cut), []).append(float(blobs[:, 3].sum() / model))
        return ratios

    def people(self, people, monitors=()):
        """[(mode, fused people (k, 2))] for people [(x, y, posture)] and monitors [(x, y)] that are on."""
        from thermocc.pipeline import person_pixels
        obs = self.observations(people, monitors)
        dets = [(k, *row) for k, o in enumerate(obs) for row in o.people()]      # col, row, at_edge, pixels
        frames = np.array([person_pixels(o) for o in obs])
        ambients = np.array([o.ambient_c for o in obs])
        return [("blob", self.fusion.fuse(dets)[0]),
                ("frame", self.grid.fuse(frames, ambients, np.ones(len(obs), bool), [o.blobs for o in obs]))]
