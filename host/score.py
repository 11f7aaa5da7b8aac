"""Accuracy of a run against ground truth (`thermocc score`).

Inputs: the fused per-tick CSV (ticks.csv) and a ground-truth CSV (timestamp, agent, x,
y, zone; a time with nobody present has one row with empty fields) sampled at the times
the cameras looked. Each truth time t is compared with the fused tick at t + lag_s, once
the tracker has settled (`settle_s`: a person who appears counts after track_confirm_ticks
ticks, one who leaves still counts for track_coast_ticks ticks). An arrival shows sooner
than a departure, so one lag fits only one of them when frames come faster than truth
(a board sends blobs as they change): with earliest_s, the fused ticks from t + earliest_s
to t + lag_s are looked at and the first with the true count is taken, else the one at
t + lag_s (`settle_window`: from track_confirm_ticks - 1 ticks, before which nobody who
came after t can be counted). Frames every 30 s and truth with them give every tick of
that window the same fused state.
Per compared tick: exact count, absolute count error, presence (count > 0); people are
matched one to one (Hungarian, at most match_m apart) for position error and zone.
At the timestep: L2 = the rounded mean true count per step vs output.csv's L2_count, and
the same per zone for L3.

Why counts are wrong: on every tick whose count is wrong, each true person left unmatched
(missed) and each fused person left unmatched (extra) gets a cause (ERROR_CAUSES), and
runs of wrong ticks in a row with the same sign are episodes (when, how long, where, the
main cause). With the room, a missed person whose position is in no working camera's
image is "out of view": no fuser could count them, and `exact_if_in_view` is the
exact-count rate with those ticks forgiven (the ceiling the cameras allow).
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from thermocc.outputs import read_output_csv, read_table

GROUP_M = 1.0           # a true person with another this close is in a group
ERROR_CAUSES = {
    "missed, out of view": "no working camera's image holds the position (at the target height)",
    "missed, in a group": "another person within GROUP_M: their blobs merge and the group is sized short",
    "missed, alone": "in view, nobody near, not found (as warm as what is behind them, or too small)",
    "extra, beside someone": "within GROUP_M of a true person: one person split, or a group sized long",
    "extra, alone": "nobody within GROUP_M: a warm object or floor counted as a person (a ghost)",
}
MAX_EPISODES = 5


def _shift(stamps, seconds):
    t = pd.to_datetime(pd.Series(stamps)) + pd.Timedelta(seconds=seconds)
    return t.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()


def settle_s(room):
    """Seconds after a change until the fused count shows it (the scorer's default lag)."""
    s = room.settings
    return max(s.track_confirm_ticks, s.track_coast_ticks + 1) * s.tick_s


def settle_window(room):
    """(earliest_s, lag_s) for `score`: the fused ticks after truth time t that may show the
    room as it was at t. A person first seen just after t is counted track_confirm_ticks
    ticks later, so no tick before (track_confirm_ticks - 1) ticks counts them; one who left
    just before t may still be counted until settle_s."""
    s = room.settings
    return max(0, s.track_confirm_ticks - 1) * s.tick_s, settle_s(room)


TICKS_COLUMNS = ("timestamp", "count", "person", "x", "y", "zone")     # a run's ticks.csv (what it needs of it)
TRUTH_COLUMNS = ("timestamp", "agent", "x", "y", "zone")                # a simulation's truth.csv


class NothingToScore(ValueError):
    """The run's ticks and the truth share no time (other runs, or no step closed yet)."""


def _span(times):
    return "%s .. %s" % (times[0], times[-1]) if len(times) else "no rows"


def score(ticks_csv, truth_csv, output_csv=None, lag_s=4.0, match_m=1.5, step_min=5, zones=None, room=None,
          offline=(), detail=False, earliest_s=None):
    """Scores of one run (a dict, JSON-friendly). room (a Room) and offline (indices of its
    cameras that did not report) let missed people be found out of view. earliest_s: compare
    truth at t with the first fused tick from t + earliest_s to t + lag_s (1 s apart) that
    has the true count, else the one at t + lag_s (None: that one only; `settle_window`).
    detail adds what the error picture (thermocc.plots.count_errors) draws: "counts", per
    scored time (time, true count, fused count), and "errors", every (time, cause, zone, x,
    y) on wrong ticks."""
    views, target_h = None, 0.0
    if room is not None:
        from thermocc.camera import CameraModel
        views = [CameraModel(c) for k, c in enumerate(room.cameras) if k not in set(offline)]
        target_h = room.settings.target_height_m
    fused = read_table(ticks_csv, "a ticks.csv", TICKS_COLUMNS, {"timestamp": str, "zone": str})
    truth_all = read_table(truth_csv, "a truth.csv", TRUTH_COLUMNS, {"timestamp": str, "zone": str})
    # a sampled time with nobody present has one row with empty fields (as ticks.csv)
    times = sorted(set(truth_all["timestamp"]))
    truth = truth_all.dropna(subset=["x"])
    shifted = dict(zip(times, _shift(times, lag_s))) if times else {}
    # earlier ticks of the settling window, earliest first (none: the tick at t + lag_s only)
    sooner = [] if earliest_s is None else list(np.arange(earliest_s, lag_s - 1e-9, 1.0))
    earlier = {t: list(c) for t, c in zip(times, zip(*[_shift(times, s) for s in sooner]))} if sooner and times \
        else {t: [] for t in times}
    # only the fused ticks compared (a tick a second against truth every 30 s: most are not)
    fused_all = fused["timestamp"]
    wanted = set(shifted.values()).union(*earlier.values()) if times else set()
    fused = fused[fused["timestamp"].isin(wanted)]
    # per fused tick its people (a tick with nobody is one row with empty fields: none)
    people = fused.dropna(subset=["x"])
    with_people = {t: g for t, g in people.groupby("timestamp")}
    fused_by_t = {t: with_people.get(t, people.iloc[0:0]) for t in set(fused["timestamp"])}
    fused_count = {t: len(g) for t, g in fused_by_t.items()}
    truth_by_t = {t: g for t, g in truth.groupby("timestamp")}
    exact = errs = 0
    n = 0
    tp = fp = fn = tn = 0
    pos_err, zone_ok, zone_n = [], 0, 0
    over = under = 0
    missed, extra = Counter(), Counter()      # zones of unmatched true / fused people: where errors are
    causes = Counter()                        # people-ticks per ERROR_CAUSES key, on wrong ticks
    wrong = []                                # (time, sign, [(cause, zone, x, y)]) of wrong ticks
    out_of_view_only = 0                      # wrong ticks whose every error is a person out of view
    counts = []                               # (time, true, fused) per scored time, for detail
    for t in times:
        ft = fused_by_t.get(shifted[t])
        if ft is None:
            continue                     # no fused tick there (no data yet): not scored
        tt = truth_by_t.get(t, truth.iloc[0:0])
        settled = next((u for u in earlier[t] if fused_count.get(u) == len(tt)), None)
        if settled is not None:
            ft = fused_by_t[settled]
        nt, nf = len(tt), len(ft)
        n += 1
        exact += nt == nf
        counts.append((t, nt, nf))
        errs += abs(nt - nf)
        tp += nt > 0 and nf > 0
        fp += nt == 0 and nf > 0
        fn += nt > 0 and nf == 0
        tn += nt == 0 and nf == 0
        over += nf > nt
        under += nf < nt
        matched_t, matched_f = set(), set()
        if nt and nf:
            a = tt[["x", "y"]].to_numpy(float)
            b = ft[["x", "y"]].to_numpy(float)
            cost = np.linalg.norm(a[:, None] - b[None], axis=2)
            r, c = linear_sum_assignment(cost)
            for i, j in zip(r, c):
                if cost[i, j] <= match_m:
                    pos_err.append(cost[i, j])
                    zone_n += 1
                    zone_ok += tt["zone"].iloc[i] == ft["zone"].iloc[j]
                    matched_t.add(i)
                    matched_f.add(j)
        missed.update(tt["zone"].iloc[i] for i in range(nt) if i not in matched_t)
        extra.update(str(ft["zone"].iloc[j]) for j in range(nf) if j not in matched_f)
        if nt != nf:
            errors = _tick_errors(tt, ft, matched_t, matched_f, views, target_h)
            causes.update(e[0] for e in errors)
            wrong.append((t, 1 if nf > nt else -1, errors))
            # the count is right for the people in view: only out-of-view people are missing
            hidden = [e for e in errors if e[0] == "missed, out of view"]
            out_of_view_only += len(hidden) == nt - nf and len(hidden) == len(errors)
    if n == 0:
        raise NothingToScore("nothing to score: no time of %s (%s) has a tick %g s later in %s (%s); are they of "
                             "the same run?" % (truth_csv, _span(times), lag_s, ticks_csv, _span(sorted(set(fused_all)))))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    result = {
        "ticks_scored": n,
        "exact_count_rate": exact / n if n else math.nan,
        "count_mae": errs / n if n else math.nan,
        "presence_precision": precision, "presence_recall": recall, "presence_f1": f1,
        "position_error_mean_m": float(np.mean(pos_err)) if pos_err else math.nan,
        "position_error_p95_m": float(np.percentile(pos_err, 95)) if pos_err else math.nan,
        "zone_accuracy": zone_ok / zone_n if zone_n else math.nan,
        "over_count_ticks": over, "under_count_ticks": under,
        "missed_by_zone": dict(missed.most_common()), "extra_by_zone": dict(extra.most_common()),
        "error_causes": {k: causes[k] for k in ERROR_CAUSES if causes[k]},
        "exact_if_in_view": (exact + out_of_view_only) / n if n and views is not None else math.nan,
        "episodes": _episodes(wrong, times),
    }
    if output_csv is not None:
        result.update(_step_errors(output_csv, truth, times, step_min, zones))
    if detail:
        result["counts"] = counts
        result["errors"] = [(t, *e) for t, _, errors in wrong for e in errors]
    return result


def _tick_errors(tt, ft, matched_t, matched_f, views, target_h):
    """(cause, zone, x, y) of each unmatched true and fused person of one tick."""
    a = tt[["x", "y"]].to_numpy(float)
    b = ft[["x", "y"]].to_numpy(float)
    errors = []
    for i in range(len(a)):
        if i in matched_t:
            continue
        if views is not None and not any(v.to_pixel([a[i, 0]], [a[i, 1]], target_h)[2][0] for v in views):
            cause = "missed, out of view"
        elif (np.hypot(*(a - a[i]).T) < GROUP_M).sum() > 1:      # itself and someone else
            cause = "missed, in a group"
        else:
            cause = "missed, alone"
        errors.append((cause, str(tt["zone"].iloc[i]), a[i, 0], a[i, 1]))
    for j in range(len(b)):
        if j in matched_f:
            continue
        beside = len(a) and np.hypot(*(a - b[j]).T).min() < GROUP_M
        errors.append(("extra, beside someone" if beside else "extra, alone", str(ft["zone"].iloc[j]), b[j, 0], b[j, 1]))
    return errors


def _episodes(wrong, times):
    """The longest runs of wrong ticks in a row (consecutive scored times, same sign), as
    dicts: start, end, ticks, kind (over/under), cause and zone (the most frequent among
    their errors), x and y (the errors' mean position)."""
    index = {t: k for k, t in enumerate(times)}
    runs = []
    for t, sign, errors in wrong:
        if runs and runs[-1]["sign"] == sign and index[t] == index[runs[-1]["end"]] + 1:
            run = runs[-1]
        else:
            run = {"start": t, "sign": sign, "ticks": 0, "errors": []}
            runs.append(run)
        run["end"] = t
        run["ticks"] += 1
        run["errors"] += errors
    out = []
    for run in sorted(runs, key=lambda r: -r["ticks"])[:MAX_EPISODES]:
        errs = run["errors"] or [("", "", math.nan, math.nan)]
        out.append({"start": run["start"], "end": run["end"], "ticks": run["ticks"],
                    "kind": "over" if run["sign"] > 0 else "under",
                    "cause": Counter(e[0] for e in errs).most_common(1)[0][0],
                    "zone": Counter(e[1] for e in errs).most_common(1)[0][0],
                    "x": round(float(np.mean([e[2] for e in errs])), 2),
                    "y": round(float(np.mean([e[3] for e in errs])), 2)})
    return out


def format_causes(res, indent="  "):
    """Text lines: people-ticks per cause on wrong ticks, then the longest episodes (each with
    its "scenario" in brackets when it has one: a benchmark's pooled list)."""
    lines = []
    if res.get("error_causes"):
        lines.append(indent + "errors on wrong ticks (people-ticks): " + ", ".join(
            "%s %d" % kv for kv in res["error_causes"].items()))
    for e in res.get("episodes", []):
        lines.append(indent + "%s..%s %4d ticks %s-counted: %s, %s (%.1f, %.1f)%s" % (
            e["start"], e["end"][-8:], e["ticks"], e["kind"], e["cause"], e["zone"], e["x"], e["y"],
            " [%s]" % e["scenario"] if "scenario" in e else ""))
    return lines


def _step_errors(output_csv, truth, times, step_min, zones):
    out = read_output_csv(output_csv)
    counts = truth.groupby("timestamp").size()
    s = pd.Series([counts.get(t, 0) for t in times], index=pd.to_datetime(pd.Series(times)))
    true_steps = s.resample("%dmin" % step_min).mean()
    true_l2 = np.floor(true_steps + 0.5)
    got = out.set_index(pd.to_datetime(out["timestamp"]))["L2_count"]
    common = true_l2.index.intersection(got.index)
    res = {"steps_scored": len(common),
           "l2_mae": float(np.abs(true_l2[common] - got[common]).mean()) if len(common) else math.nan,
           "l2_exact_rate": float((true_l2[common] == got[common]).mean()) if len(common) else math.nan}
    if zones:
        from thermocc.series import zone_slug
        errs = []
        for z in zones:
            zc = truth[truth["zone"] == z].groupby("timestamp").size()
            zs = pd.Series([zc.get(t, 0) for t in times], index=s.index).resample("%dmin" % step_min).mean()
            col = "L3_%s_count" % zone_slug(z)
            if col in out:
                g = out.set_index(pd.to_datetime(out["timestamp"]))[col]
                errs.append(np.abs(np.floor(zs[common] + 0.5) - g[common]).to_numpy())
        res["l3_mae"] = float(np.mean(np.concatenate(errs))) if errs and len(common) else math.nan
    return res


def format_table(rows):
    """rows: {name: result dict} -> a text table of the main figures."""
    keys = [("exact_count_rate", "exact", "%.4f"), ("count_mae", "MAE", "%.4f"),
            ("presence_precision", "L1 P", "%.4f"), ("presence_recall", "L1 R", "%.4f"), ("presence_f1", "L1 F1", "%.4f"),
            ("position_error_mean_m", "pos m", "%.3f"), ("position_error_p95_m", "p95 m", "%.3f"),
            ("zone_accuracy", "zone", "%.3f"), ("l2_mae", "L2 MAE", "%.3f"), ("l3_mae", "L3 MAE", "%.3f"),
            ("exact_if_in_view", "in view", "%.4f")]
    width = max([len(r) for r in rows] + [8])
    lines = ["%-*s " % (width, "run") + " ".join("%8s" % k[1] for k in keys)]
    for name, r in rows.items():
        lines.append("%-*s " % (width, name) + " ".join(
            "%8s" % (fmt % r[k] if k in r and r[k] == r[k] else "-") for k, _, fmt in keys))
    return "\n".join(lines)
