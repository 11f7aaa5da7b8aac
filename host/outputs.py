"""Sinks: the CSV files a building-energy user loads, written so a crash loses nothing.

CsvSink writes, per room folder:
  output.csv            one row per closed timestep, every L-level column (series.header)
  zones/<zone>.csv      the zone's L3/L4 columns
  ticks.csv             one row per person per fusion tick (timestamp, count, cameras_ok,
                        person, x, y, zone); a tick with nobody has one row with empty
                        person fields
Rows are appended and flushed as steps close. On start an existing folder is resumed:
a torn last line is cut off and rows already written (by timestamp) are not written
again, so a restarted daemon that replays its journal continues with no gap and no
duplicate.

export_year() turns output.csv into a full-year Ladybug "LB Load Data" CSV and
EnergyPlus Schedule:File CSVs (+ the IDF objects that read them).
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from thermocc.series import ZONE_HEADER, header, zone_slug

TICK_HEADER = ["timestamp", "count", "cameras_ok", "person", "x", "y", "zone"]


class _AppendCsv:
    """Append-only CSV with resume: remembers the last timestamp already on disk."""

    def __init__(self, path, columns, grouped=False):
        # grouped: several rows share a timestamp (ticks.csv); on resume the last group is
        # cut and written again whole, since a crash may have torn it
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        head = ",".join(columns) + "\n"
        self.last = ""
        if self.path.exists() and self.path.stat().st_size:
            data = self.path.read_bytes()
            if not data.startswith(head.encode()):
                raise ValueError("%s has other columns than this room produces; move it away or use another "
                                 "output folder" % self.path)
            cut = data.rfind(b"\n") + 1
            if cut < len(data):                 # torn last line from a crash: drop it
                with open(self.path, "r+b") as f:
                    f.truncate(cut)
                data = data[:cut]
            lines = data[len(head):].rstrip(b"\n").split(b"\n")
            if grouped and lines and lines[-1]:
                stamp = lines[-1].split(b",", 1)[0]
                while lines and lines[-1].split(b",", 1)[0] == stamp:
                    lines.pop()
                keep = len(head) + sum(len(x) + 1 for x in lines)
                with open(self.path, "r+b") as f:
                    f.truncate(keep)
            if lines and lines[-1]:
                self.last = lines[-1].split(b",", 1)[0].decode()
            self.f = open(self.path, "a", newline="")
        else:
            self.f = open(self.path, "w", newline="")
            self.f.write(head)

    def write(self, rows):
        new = [r for r in rows if r[0] > self.last]
        if new:
            self.f.write("".join(",".join(r) + "\n" for r in new))
            self.last = new[-1][0]

    def flush(self, sync=False):
        self.f.flush()
        if sync:
            os.fsync(self.f.fileno())

    def close(self):
        self.f.close()


class CsvSink:
    def __init__(self, folder, room, ticks=True):
        self.folder = Path(folder)
        self.room = room
        self.output = _AppendCsv(self.folder / "output.csv", header(room))
        self.zones = [_AppendCsv(self.folder / "zones" / ("%s.csv" % zone_slug(z.name)), ZONE_HEADER)
                      for z in room.zones]
        self.ticks = _AppendCsv(self.folder / "ticks.csv", TICK_HEADER, grouped=True) if ticks else None
        self.offset_ms = int(round(room.settings.utc_offset_h * 3_600_000))
        self.tick_rows = []
        self.fmt = "%Y-%m-%d %H:%M:%S" if room.settings.tick_s >= 1 else "%Y-%m-%d %H:%M:%S.%f"

    def _stamp(self, t_ms):
        t = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=t_ms + self.offset_ms)
        s = t.strftime(self.fmt)
        return s[:-3] if s.endswith("000") and "." in s else s

    def tick(self, pipeline, result):
        if self.ticks is None:
            return
        ts = self._stamp(result.t_ms)
        names = self.room.zones
        if not result.people:
            self.tick_rows.append([ts, "0", str(result.cameras_ok), "", "", "", ""])
        for pid, x, y, zone in result.people:
            self.tick_rows.append([ts, str(result.count), str(result.cameras_ok), str(pid), "%.3f" % x, "%.3f" % y,
                                   names[zone].name])

    def steps(self, pipeline, rows, zone_rows):
        if self.ticks is not None:
            self.ticks.write(self.tick_rows)
            self.tick_rows = []
            self.ticks.flush()
        self.output.write(rows)
        for z, zr in zip(self.zones, zone_rows):
            z.write(zr)
            z.flush()
        self.output.flush(sync=True)

    def sync(self):
        """Everything written so far on disk (before a journal checkpoint relies on it)."""
        for f in [self.output, *self.zones] + ([self.ticks] if self.ticks else []):
            f.flush(sync=True)

    def close(self):
        # ticks of an unfinished step are not written: after a restart the journal replays them
        for f in [self.output, *self.zones] + ([self.ticks] if self.ticks else []):
            f.close()


# -- reading our CSV files back -----------------------------------------------------------------
def read_table(path, what, columns, dtype=None):
    """The CSV at path as a DataFrame, refused naming the columns it lacks when it is not
    `what` (e.g. "a ticks.csv"): files given the wrong way round fail here, not deep inside."""
    import pandas as pd
    table = pd.read_csv(path, dtype=dtype)
    lacking = [c for c in columns if c not in table.columns]
    if lacking:
        more = " and %d more" % (len(lacking) - 3) if len(lacking) > 3 else ""
        raise ValueError("%s is not %s: it has no column %s%s" % (path, what, ", ".join(lacking[:3]), more))
    return table


def read_output_csv(path, room=None):
    """An output.csv (of this room's, given the room: its zones' columns too)."""
    if room is None:
        return read_table(path, "an output.csv", ["timestamp", "L2_count"])
    return read_table(path, "an output.csv of room %s" % room.name, header(room))


# -- year exports ----------------------------------------------------------------------------
def _year_frame(output_csv, room):
    import numpy as np
    import pandas as pd
    df = read_output_csv(output_csv, room)
    if df.empty:
        raise ValueError("%s has no rows yet; nothing to export" % output_csv)
    t = pd.to_datetime(df["timestamp"])
    year = int(t.iloc[0].year)
    step = room.settings.timestep_min
    index = pd.date_range("%d-01-01" % year, "%d-01-01" % (year + 1), freq="%dmin" % step, inclusive="left")
    df.index = t
    df = df[df.index.year == year].drop(columns="timestamp")
    full = df.reindex(index)
    filled = int(full["L2_count"].isna().sum())
    full = full.fillna(0)
    return full, year, filled, np.int64(60 // step)


def export_year(output_csv, room, folder):
    """Write <folder>/ladybug_load_data.csv and <folder>/energyplus/{schedules.csv,
    schedules.idf} for the calendar year of the first row. Steps without data are 0 and
    counted in the returned summary."""
    folder = Path(folder)
    full, year, filled, per_hour = _year_frame(output_csv, room)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    period = "1/1 to 12/31 between 0 and 23 @%d%s" % (per_hour, "*" if leap else "")
    stamps = full.index.strftime("%d %b %H:%M")
    cols = [("L2_count", "People Count | people", "people", room.name, "L2", "%d"),
            ("L2_fraction", "Fraction", "fraction", room.name, "L2 fraction", "%.3f"),
            ("L1_presence", "Fraction", "fraction", room.name, "L1", "%d"),
            ("L4_people_w", "Power", "W", room.name, "L4 people", "%.1f"),
            ("L4_equipment_w", "Power", "W", room.name, "L4 equipment", "%.1f"),
            ("L4_total_w", "Power", "W", room.name, "L4 total", "%.1f")]
    for z in room.zones:
        s = zone_slug(z.name)
        cols += [("L3_%s_count" % s, "People Count | people", "people", z.name, "L3", "%d"),
                 ("L4_%s_people_w" % s, "Power", "W", z.name, "L4 people", "%.1f"),
                 ("L4_%s_equipment_w" % s, "Power", "W", z.name, "L4 equipment", "%.1f")]
    folder.mkdir(parents=True, exist_ok=True)
    lb = folder / "ladybug_load_data.csv"
    tmp = lb.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        f.write("," + ",".join(c[1] for c in cols) + "\n")
        f.write("," + ",".join(c[2] for c in cols) + "\n")
        f.write("HourlyContinuous," + ",".join("zone: %s" % c[3] for c in cols) + "\n")
        f.write(period + "," + ",".join("level: %s" % c[4] for c in cols) + "\n")
        values = [[c[5] % v for v in full[c[0]].to_numpy()] for c in cols]
        for i, ts in enumerate(stamps):
            f.write(ts + "," + ",".join(v[i] for v in values) + "\n")
    os.replace(tmp, lb)

    # EnergyPlus: one CSV, one column per schedule; fractions for People/Equipment, W/person for activity
    ep = folder / "energyplus"
    ep.mkdir(exist_ok=True)
    sched = [("%s_occupancy_fraction" % zone_slug(room.name), full["L2_fraction"].to_numpy(), "%.4f")]
    cap = max(room.capacity, 1)
    for z in room.zones:
        s = zone_slug(z.name)
        zcap = z.capacity or cap
        sched.append(("%s_occupancy_fraction" % s, full["L3_%s_count" % s].to_numpy() / zcap, "%.4f"))
        peak_w = max(z.equipment.devices * z.equipment.w_per_device, 1e-9)
        sched.append(("%s_equipment_fraction" % s, full["L4_%s_equipment_w" % s].to_numpy() / peak_w
                      if z.equipment.devices else full["L4_%s_equipment_w" % s].to_numpy() * 0, "%.4f"))
        sched.append(("%s_activity_w" % s, full["L3_%s_count" % s].to_numpy() * 0 + z.activity_w, "%.1f"))
    csv_path = ep / "schedules.csv"
    tmp = csv_path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        f.write(",".join(n for n, _, _ in sched) + "\n")
        cols_txt = [[fmt % v for v in vals] for _, vals, fmt in sched]
        for i in range(len(full)):
            f.write(",".join(c[i] for c in cols_txt) + "\n")
    os.replace(tmp, csv_path)
    hours = 8784 if leap else 8760
    idf = []
    for col, (name, _, _) in enumerate(sched, start=1):
        limits = "Any Number" if name.endswith("_activity_w") else "Fraction"
        idf.append("Schedule:File,\n  %s,  !- Name\n  %s,  !- Schedule Type Limits Name\n  %s,  !- File Name\n"
                   "  %d,  !- Column Number\n  1,  !- Rows to Skip at Top\n  %d,  !- Number of Hours of Data\n"
                   "  Comma,  !- Column Separator\n  No,  !- Interpolate to Timestep\n  %d;  !- Minutes per Item\n"
                   % (name, limits, csv_path.name, col, hours, room.settings.timestep_min))
    (ep / "schedules.idf").write_text("\n".join(idf))
    return {"year": year, "steps": len(full), "steps_without_data": filled, "ladybug": str(lb),
            "energyplus_csv": str(csv_path), "energyplus_idf": str(ep / "schedules.idf")}
