"""Series: per-timestep aggregates of the fused ticks become the L0-L4 occupancy levels.

A step [t, t + TIMESTEP) is labelled with its start t in local standard time (EnergyPlus
convention). Every window is trailing, so a step's values depend only on that step and
the ones before it: the live daemon, which closes one step at a time, and a replay,
which closes thousands at once, compute the same numbers with the same code
(`compute_levels`, explicit loops in numba, no order-dependent reductions).

  L0  schedule fraction (settings.schedule) and schedule count (fraction x capacity)
  L1  presence: 1 if anyone was counted in any of the last HYSTERESIS_WINDOW steps
  L2  count: mean tick count per step, trailing mean over COUNT_SMOOTHING_WINDOW,
      rounded half up, clipped to [0, capacity]; fraction = count / capacity; mean count
  L3  per-zone counts: zone means smoothed the same way, apportioned to the L2 count by
      largest remainder (so they always sum to it); fraction = count / zone capacity
      (the room's capacity when the zone has none)
  L4  people heat = zone count x W/person; devices on = min(devices, the zone's largest
      count over the step and the hold_steps before it); equipment W; W/m2; room totals
docs/host.md (Outputs) lists every column.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from thermocc.schedules import schedule_fraction


@njit(cache=True)
def compute_levels(mean_count, count_max, zone_mean, capacity, hysteresis, smoothing, hold, devices, fallback):
    """Levels for every row of the inputs (rows before the ones you need act as history).

    mean_count (N,), count_max (N,), zone_mean (N, Z) per step; hold, devices (Z,) ints;
    fallback (Z,) zone weights used when zones saw nobody but the room count is > 0.
    Returns presence (N,), smoothed (N,), count (N,), zone_counts (N, Z), devices_on (N, Z)."""
    n, nz = zone_mean.shape
    presence = np.zeros(n, np.int64)
    smoothed = np.zeros(n)
    count = np.zeros(n, np.int64)
    zone_counts = np.zeros((n, nz), np.int64)
    devices_on = np.zeros((n, nz), np.int64)
    zs = np.zeros(nz)
    for i in range(n):
        p = 0
        for j in range(max(0, i - hysteresis + 1), i + 1):
            if count_max[j] > 0:
                p = 1
        presence[i] = p
        lo = max(0, i - smoothing + 1)
        s = 0.0
        for j in range(lo, i + 1):
            s += mean_count[j]
        smoothed[i] = s / (i + 1 - lo)
        c = np.int64(np.floor(smoothed[i] + 0.5))
        count[i] = min(capacity, max(0, c))
        total_w = 0.0
        for z in range(nz):
            s = 0.0
            for j in range(lo, i + 1):
                s += zone_mean[j, z]
            zs[z] = s / (i + 1 - lo)
            total_w += zs[z]
        if total_w <= 0:
            total_w = 0.0
            for z in range(nz):
                zs[z] = fallback[z]
                total_w += zs[z]
        # largest remainder: floors first, then the largest fractional parts (ties: lower zone index)
        left = count[i]
        rem = np.zeros(nz)
        for z in range(nz):
            q = zs[z] / total_w * count[i] if total_w > 0 else 0.0
            f = np.int64(np.floor(q))
            zone_counts[i, z] = f
            rem[z] = q - f
            left -= f
        while left > 0:
            best = 0
            for z in range(1, nz):
                if rem[z] > rem[best]:
                    best = z
            zone_counts[i, best] += 1
            rem[best] = -1.0
            left -= 1
        for z in range(nz):
            m = 0
            for j in range(max(0, i - hold[z]), i + 1):
                if zone_counts[j, z] > m:
                    m = zone_counts[j, z]
            devices_on[i, z] = min(devices[z], m)
    return presence, smoothed, count, zone_counts, devices_on


class StepAggregates:
    """What the ticks of closed steps add up to (arrays that grow by one row per step)."""

    FIELDS = ("start_ms", "ticks", "covered_ticks", "count_sum", "count_max", "camera_ticks_ok",
              "camera_ticks", "entries", "exits")

    def __init__(self, n_zones):
        self.n_zones = n_zones
        self.rows = []          # tuples of FIELDS
        self.zone_sums = []     # (Z,) arrays: person-ticks per zone
        self.zone_dwell = []    # (Z,) arrays: seconds in the zone so far, summed over those person-ticks

    def append(self, row, zone_sum, zone_dwell):
        self.rows.append(row)
        self.zone_sums.append(zone_sum)
        self.zone_dwell.append(zone_dwell)

    def keep_last(self, n):
        for history in (self.rows, self.zone_sums, self.zone_dwell):
            del history[:-n]


def zone_slug(name):
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")


def header(room):
    cols = ["timestamp", "L0_fraction", "L0_count", "L1_presence", "L2_count", "L2_fraction", "L2_mean_count"]
    for z in room.zones:
        s = zone_slug(z.name)
        cols += ["L3_%s_count" % s, "L3_%s_fraction" % s, "L3_%s_dwell_s" % s]
    for z in room.zones:
        s = zone_slug(z.name)
        cols += ["L4_%s_people_w" % s, "L4_%s_devices_on" % s, "L4_%s_equipment_w" % s, "L4_%s_w_per_m2" % s]
    cols += ["L4_people_w", "L4_equipment_w", "L4_total_w", "L4_w_per_m2", "entries", "exits", "net",
             "coverage"]
    return cols


ZONE_HEADER = ["timestamp", "count", "fraction", "dwell_s", "people_w", "devices_on", "equipment_w", "total_w", "w_per_m2"]


def build_rows(room, agg_rows, zone_sums, first, zone_dwell=None):
    """Rows (room row, per-zone rows) for steps first..end of the aggregates; earlier rows are history.
    Dwell per zone and step: the mean, over the person-ticks in the zone, of how long that
    person had been in the zone (s); 0 when nobody was there."""
    s = room.settings
    zones = room.zones
    a = np.array(agg_rows, dtype=np.float64).reshape(-1, len(StepAggregates.FIELDS))
    zsum = np.array(zone_sums, np.float64).reshape(-1, len(zones))
    covered = a[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_count = np.where(covered > 0, a[:, 3] / np.maximum(covered, 1), 0.0)
        zone_mean = np.where(covered[:, None] > 0, zsum / np.maximum(covered, 1)[:, None], 0.0)
        dwell = (np.zeros_like(zsum) if zone_dwell is None else
                 np.where(zsum > 0, np.array(zone_dwell, np.float64).reshape(zsum.shape) / np.maximum(zsum, 1), 0.0))
    hold = np.array([z.equipment.hold_steps for z in zones], np.int64)
    devices = np.array([z.equipment.devices for z in zones], np.int64)
    fallback = np.array([z.area_m2 for z in zones], np.float64)
    presence, _, count, zone_counts, devices_on = compute_levels(
        mean_count, a[:, 4].astype(np.int64), zone_mean, room.capacity, s.hysteresis_window,
        s.count_smoothing_window, hold, devices, fallback)
    starts = a[first:, 0].astype(np.int64)
    offset_ms = int(round(s.utc_offset_h * 3_600_000))
    local = (starts + offset_ms).astype("datetime64[ms]")
    l0 = schedule_fraction(s.schedule, local)
    stamps = np.datetime_as_string(local.astype("datetime64[m]"), unit="m")
    activity = np.array([z.activity_w for z in zones])
    w_dev = np.array([z.equipment.w_per_device for z in zones])
    areas = np.array([z.area_m2 for z in zones])
    zcap = np.array([z.capacity or room.capacity for z in zones], float)
    room_area = room.area_m2
    sl = slice(first, len(a))
    ts = np.char.replace(stamps.astype(str), "T", " ")
    zc = zone_counts[sl]
    dev = devices_on[sl]
    people_w = zc * activity
    equip_w = dev * w_dev
    total = people_w + equip_w
    entries, exits = a[sl, 7].astype(np.int64), a[sl, 8].astype(np.int64)
    cov = np.where(a[sl, 6] > 0, a[sl, 5] / np.where(a[sl, 6] > 0, a[sl, 6], 1), 0.0)
    col = _column
    cols = [ts, col(l0, 3), col(l0 * room.capacity, 2), col(presence[sl], 0), col(count[sl], 0),
            col(count[sl] / room.capacity, 3), col(mean_count[sl], 3)]
    l3 = []
    for z in range(len(zones)):
        l3.append([col(zc[:, z], 0), col(zc[:, z] / zcap[z], 3), col(dwell[sl, z], 1)])
        cols += l3[-1]
    zone_cols = []
    for z in range(len(zones)):
        per = [col(people_w[:, z], 1), col(dev[:, z], 0), col(equip_w[:, z], 1), col(total[:, z] / areas[z], 2)]
        cols += per
        zone_cols.append([ts] + l3[z] + [per[0], per[1], per[2], col(total[:, z], 1), per[3]])
    cols += [col(people_w.sum(axis=1), 1), col(equip_w.sum(axis=1), 1), col(total.sum(axis=1), 1),
             col(total.sum(axis=1) / room_area, 2), col(entries, 0), col(exits, 0), col(entries - exits, 0),
             col(cov, 3)]
    rows = [list(r) for r in zip(*cols)]
    zone_rows = [[list(r) for r in zip(*zcols)] for zcols in zone_cols]
    return rows, zone_rows


def _column(values, digits):
    """Text of a numeric column, fixed decimals (integers when digits is 0)."""
    values = np.asarray(values)
    if digits == 0:
        return [str(v) for v in values.astype(np.int64).tolist()]
    fmt = "%." + str(digits) + "f"
    return [fmt % v for v in values.astype(np.float64).tolist()]


def history_length(room):
    s = room.settings
    hold = max([z.equipment.hold_steps for z in room.zones] + [0])
    # L3 of the hold rows needs their own smoothing history
    return max(s.hysteresis_window, s.count_smoothing_window + hold + 1)
