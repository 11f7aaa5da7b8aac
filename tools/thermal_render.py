"""What each camera of a simulated room sees: 32 x 24 object temperatures per tick.

Each pixel is traced as 4 x 4 sub-rays through the camera model (thermocc.camera) and the
mean of what they hit is the pixel's temperature, so a person covering part of a pixel,
or far off-axis, reads colder than skin. What rays can hit, nearest first:
  people   a vertical cylinder (shoulders/clothing; seated wider and lower) topped by a
           head sphere (warmest); apparent temperatures between air and skin: head
           air + 0.8 (34 - air) (face and hair), clothing air + k (34 - air), k 0.55 (0.3 winter)
  objects  monitors (on while their desk is used), a radiator in the heating season, a
           kettle in the pantry when someone is there, as horizontal hot rectangles
  floor    air temperature with a slow daily drift, plus a sunlit patch that moves along
           the window wall in the afternoon (configurable); the floor under it warms and
           cools with a time constant (sun_floor_s), as a real floor surface does. No sun
           reaches the floor under a person's body (any sun ray to it passes through
           them), so a seat's floor warms only once its sitter has gone
The result goes to the register-level sensor simulator, which adds the datasheet noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from thermocc.camera import COLS, ROWS, CameraModel

SUB = 4    # sub-rays per pixel side


def body_shape(posture):
    """(radius, height) of a person's body cylinder (m); the head sphere sits on top."""
    return (0.27, 1.05) if posture == "seated" else (0.2, 1.45)


@dataclass
class RenderSettings:
    air_c: float = 22.0
    drift_c: float = 0.8              # amplitude of the daily air temperature swing
    winter_clothing: bool = False
    # Clothing's apparent warmth as a share of (34 C - air); None: 0.55, or 0.3 in winter
    # clothing. Calibration sweeps set it between the two and beyond.
    clothing_k: float | None = None
    sun: bool = True                  # afternoon sun patch on the floor
    sun_excess_c: float = 7.0
    # Time constant (s) of the sunlit floor's surface temperature. A carpet (thermal
    # effusivity e ~ 125 W s^0.5/m2K) exchanging h ~ 8 W/m2K with the room reaches its
    # sunlit temperature on a time scale (e/h)^2 ~ 4 min; wood (~400) takes ~40 min,
    # concrete hours. 300 s is the fast end; 0 makes the patch appear and vanish at once.
    sun_floor_s: float = 300.0
    radiator: bool = False
    radiator_c: float = 45.0
    radiator_at: tuple = (10.5, 0.15, 0.8)   # x, y, height of the radiator's top (m)
    monitor_c: float = 36.0
    kettle_c: float = 92.0
    offline_cameras: tuple = ()      # indices of cameras that deliver nothing
    extra_objects: list = field(default_factory=list)   # (x0, y0, x1, y1, height, temperature)


def air_temperature(settings, t_s):
    """Air at t_s seconds after local midnight: coolest at 05:00, warmest at 15:00."""
    hour = (t_s / 3600.0) % 24
    return settings.air_c + settings.drift_c * math.sin((hour - 9.0) / 24 * 2 * math.pi)


class RoomRenderer:
    def __init__(self, room, settings=None):
        self.room = room
        self.settings = settings or RenderSettings()
        self.models = [CameraModel(p) for p in room.cameras]
        # sub-pixel ray directions per camera, (768, SUB*SUB, 3)
        offs = (np.arange(SUB) + 0.5) / SUB - 0.5
        cols = (np.arange(COLS)[None, :, None, None] + offs[None, None, None, :]) + 0 * offs[None, None, :, None]
        rows = (np.arange(ROWS)[:, None, None, None] + offs[None, None, :, None]) + 0 * offs[None, None, None, :]
        cols = np.broadcast_to(cols, (ROWS, COLS, SUB, SUB)).reshape(-1)
        rows = np.broadcast_to(rows, (ROWS, COLS, SUB, SUB)).reshape(-1)
        self.rays = [m.rays(cols, rows) for m in self.models]
        x0, y0, x1, y1 = room.bounds
        self.bounds = (x0, y0, x1, y1)
        # Where each camera's sub-rays meet the floor, and the sun's shortfall there from
        # bodies that shaded it (see shaded_deficit); its state is the last frame's.
        self.floor_t = [-m.origin[2] / d[:, 2] for m, d in zip(self.models, self.rays)]   # ray length to z = 0
        self.floor_hits = [(m.origin[0] + t * d[:, 0], m.origin[1] + t * d[:, 1])
                           for m, d, t in zip(self.models, self.rays, self.floor_t)]
        self._deficit = [np.zeros(len(d)) for d in self.rays]
        self._shade_input = [np.zeros(len(d)) for d in self.rays]
        self._deficit_t = None

    def objects(self, t_s, people, monitors):
        s = self.settings
        objs = list(s.extra_objects)
        for mx, my in monitors:
            objs.append((mx - 0.25, my - 0.06, mx + 0.25, my + 0.06, 1.15, s.monitor_c))
        if s.radiator:
            rx, ry, rh = s.radiator_at
            objs.append((rx - 0.6, ry - 0.06, rx + 0.6, ry + 0.06, rh, s.radiator_c))
        for i, z in enumerate(self.room.zones):
            if "pantry" in z.name.lower() and any(p[4] == i for p in people):
                c = z.polygon.max(axis=0)
                objs.append((c[0] - 0.45, c[1] - 0.45, c[0] - 0.25, c[1] - 0.25, 0.95, s.kettle_c))
        return objs

    SUN_START_H, SUN_END_H, SUN_HALF_W, SUN_DEPTH = 12.0, 17.0, 0.7, 1.2

    def _sun_centre_x(self, hour):
        """x of the patch's centre at hour (12:00-17:00): it moves from one end of the
        window wall (y = y0) to the other."""
        x0, _, x1, _ = self.bounds
        return x1 - 1.0 - (hour - self.SUN_START_H) / (self.SUN_END_H - self.SUN_START_H) * (x1 - x0 - 2.0)

    def sun_patch(self, t_s):
        """(x0, y0, x1, y1) of the sunlit floor patch, or None outside 12:00-17:00."""
        hour = (t_s / 3600.0) % 24
        if not self.settings.sun or not self.SUN_START_H <= hour <= self.SUN_END_H:
            return None
        _, y0, _, _ = self.bounds
        cx = self._sun_centre_x(hour)
        return (cx - self.SUN_HALF_W, y0, cx + self.SUN_HALF_W, y0 + self.SUN_DEPTH)

    def sun_floor_excess(self, fx, fy, t_s):
        """How much warmer than the air the floor is at points (fx, fy) at t_s (C): the
        sun's excess, filtered by the floor's first-order response (sun_floor_s) to the
        time each point has been lit. The patch moves at a constant speed, so each point's
        lit interval is known in closed form and the filter needs no state."""
        s = self.settings
        excess = np.zeros(np.shape(fx))
        if not s.sun:
            return excess
        day = t_s % 86400.0
        start, end = self.SUN_START_H * 3600.0, self.SUN_END_H * 3600.0
        if day < start:
            return excess
        _, y0, _, _ = self.bounds
        # the centre passes x at c(t) = c_start - speed (t - start); a point is lit while
        # |c(t) - x| <= half width, i.e. from t_on to t_off, within the sun's hours
        c_start = self._sun_centre_x(self.SUN_START_H)
        speed = (c_start - self._sun_centre_x(self.SUN_END_H)) / (end - start)
        t_on = np.clip(start + (c_start - fx - self.SUN_HALF_W) / speed, start, end)
        t_off = np.clip(start + (c_start - fx + self.SUN_HALF_W) / speed, start, end)
        in_band = (fy >= y0) & (fy <= y0 + self.SUN_DEPTH) & (t_on < t_off) & (t_on <= day)
        a, b = t_on, np.minimum(t_off, day)
        if s.sun_floor_s <= 0:
            return self.sun_input(fx, fy, t_s)
        tau = s.sun_floor_s
        # response at `day` to a unit step on at a and off at b (b = day while still lit)
        resp = np.exp(-(day - b) / tau) - np.exp(-(day - a) / tau)
        excess[in_band] = s.sun_excess_c * resp[in_band]
        return excess

    def sun_input(self, fx, fy, t_s):
        """The sun's excess at points (fx, fy) at t_s with no time lag: sun_excess_c inside
        sun_patch(t_s), 0 outside."""
        patch = self.sun_patch(t_s)
        if patch is None:
            return np.zeros(np.shape(fx))
        x0, y0, x1, y1 = patch
        lit = (fx >= x0) & (fx <= x1) & (fy >= y0) & (fy <= y1)
        return np.where(lit, self.settings.sun_excess_c, 0.0)

    def shaded_deficit(self, t_s, people):
        """How much cooler than sun_floor_excess the floor is at each camera's floor hits at
        t_s (a list, one array per camera), because people stood or sat on it in the sun.
        The floor is linear, so its temperature is the unshaded response minus the response
        to the sun it did not get: D' = (sun withheld - D) / sun_floor_s, stepped from the
        last call with the last call's people held over the interval. Calls must come in
        time order; one earlier than the last starts afresh (nobody has shaded anything)."""
        s = self.settings
        fresh = self._deficit_t is None or t_s < self._deficit_t
        keep = 1.0 if fresh or s.sun_floor_s <= 0 else np.exp(-(t_s - self._deficit_t) / s.sun_floor_s)
        self._deficit_t = t_s
        out = []
        for (fx, fy), deficit, held in zip(self.floor_hits, self._deficit, self._shade_input):
            if fresh:
                deficit[:] = 0.0
            else:
                deficit *= keep
                deficit += (1.0 - keep) * held
            # this call's withheld sun, held until the next call
            under = np.zeros(len(fx), bool)
            for _, x, y, posture, _ in people:
                r, _ = body_shape(posture)
                under |= (fx - x) ** 2 + (fy - y) ** 2 <= r * r
            held[:] = 0.0
            if under.any():
                held[under] = self.sun_input(fx[under], fy[under], t_s)
            # with no lag the floor misses exactly the sun it is denied now
            out.append(deficit if s.sun_floor_s > 0 else held)
        return out

    def render(self, t_s, people, monitors=()):
        """Object temperatures (n_cameras, 768) for people [(agent, x, y, posture, zone)]."""
        s = self.settings
        air = air_temperature(s, t_s)
        objs = self.objects(t_s, people, monitors)
        k_cloth = s.clothing_k if s.clothing_k is not None else 0.3 if s.winter_clothing else 0.55
        head_c = air + 0.8 * (34.0 - air)
        cloth_c = air + k_cloth * (34.0 - air)
        out = np.empty((len(self.models), ROWS * COLS))
        deficit = self.shaded_deficit(t_s, people) if s.sun else None
        for k, (m, d) in enumerate(zip(self.models, self.rays)):
            o = m.origin
            # floor (z = 0); rays that leave the floor polygon's box end on a wall at air temperature
            t_best = self.floor_t[k]
            temp = np.full(len(d), air)
            if s.sun:
                temp += self.sun_floor_excess(*self.floor_hits[k], t_s) - deficit[k]
            for x0, y0, x1, y1, h, tc in objs:
                t = (h - o[2]) / d[:, 2]
                px, py = o[0] + t * d[:, 0], o[1] + t * d[:, 1]
                hit = (t > 0) & (t < t_best) & (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
                t_best = np.where(hit, t, t_best)
                temp = np.where(hit, tc, temp)
            for _, x, y, posture, _ in people:
                r, top = body_shape(posture)
                head_z, head_r = top + 0.14, 0.11
                # head sphere
                oc = o - np.array([x, y, head_z])
                b = d @ oc
                c = oc @ oc - head_r * head_r
                disc = b * b - c
                ok = disc > 0
                th = -b - np.sqrt(np.where(ok, disc, 0))
                hit = ok & (th > 0) & (th < t_best)
                t_best = np.where(hit, th, t_best)
                temp = np.where(hit, head_c, temp)
                # body cylinder: side wall and top cap
                ox, oy = o[0] - x, o[1] - y
                a2 = d[:, 0] ** 2 + d[:, 1] ** 2
                b2 = ox * d[:, 0] + oy * d[:, 1]
                c2 = ox * ox + oy * oy - r * r
                disc = b2 * b2 - a2 * c2
                ok = (disc > 0) & (a2 > 1e-12)
                ts = (-b2 - np.sqrt(np.where(ok, disc, 0))) / np.where(a2 > 1e-12, a2, 1)
                zs = o[2] + ts * d[:, 2]
                hit = ok & (ts > 0) & (ts < t_best) & (zs >= 0) & (zs <= top)
                tcap = (top - o[2]) / d[:, 2]
                cx, cy = o[0] + tcap * d[:, 0] - x, o[1] + tcap * d[:, 1] - y
                cap = (tcap > 0) & (cx * cx + cy * cy <= r * r)
                tb = np.where(cap & (~hit | (tcap < ts)), tcap, np.where(hit, ts, np.inf))
                body = (tb < t_best)
                t_best = np.where(body, tb, t_best)
                temp = np.where(body, cloth_c, temp)
            out[k] = temp.reshape(ROWS * COLS, SUB * SUB).mean(axis=1)
        return out
