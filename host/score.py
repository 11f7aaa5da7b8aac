"""Accuracy of a run against ground truth (`thermocc score`).

Inputs: the fused per-tick CSV (ticks.csv) and a ground-truth CSV (timestamp, agent, x,
y, zone; a time with nobody present has one row with empty fields) sampled at the times
the cameras looked. Each truth time t is compared with the fused tick at t + lag_s, once
the tracker has settled (`settle_s`: a person who appears counts after track_confirm_ticks
ticks, one who leaves still counts for track_coast_ticks ticks).
Per compared tick: exact count, absolute count error, presence (count > 0); people are
matched one to one (Hungarian, at most match_m apart) for position error and zone.
At the timestep: L2 = the rounded mean true count per step vs output.csv's L2_count, and
the same per zone for L3.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment


def _shift(stamps, seconds):
    t = pd.to_datetime(pd.Series(stamps)) + pd.Timedelta(seconds=seconds)
    return t.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()


def settle_s(room):
    """Seconds after a change until the fused count shows it (the scorer's default lag)."""
    s = room.settings
    return max(s.track_confirm_ticks, s.track_coast_ticks + 1) * s.tick_s


def score(ticks_csv, truth_csv, output_csv=None, lag_s=4.0, match_m=1.5, step_min=5, zones=None):
    fused = pd.read_csv(ticks_csv, dtype={"timestamp": str, "zone": str})
    truth_all = pd.read_csv(truth_csv, dtype={"timestamp": str, "zone": str})
    # a sampled time with nobody present has one row with empty fields (as ticks.csv)
    times = sorted(set(truth_all["timestamp"]))
    truth = truth_all.dropna(subset=["x"])
    fused_by_t = {t: g.dropna(subset=["x"]) for t, g in fused.groupby("timestamp")}
    truth_by_t = {t: g for t, g in truth.groupby("timestamp")}
    shifted = dict(zip(times, _shift(times, lag_s))) if times else {}
    exact = errs = 0
    n = 0
    tp = fp = fn = tn = 0
    pos_err, zone_ok, zone_n = [], 0, 0
    over = under = 0
    missed, extra = Counter(), Counter()      # zones of unmatched true / fused people: where errors are
    for t in times:
        ft = fused_by_t.get(shifted[t])
        if ft is None:
            continue                     # no fused tick there (no data yet): not scored
        tt = truth_by_t.get(t, truth.iloc[0:0])
        nt, nf = len(tt), len(ft)
        n += 1
        exact += nt == nf
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
    }
    if output_csv is not None:
        result.update(_step_errors(output_csv, truth, times, step_min, zones))
    return result


def _step_errors(output_csv, truth, times, step_min, zones):
    out = pd.read_csv(output_csv)
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
    keys = [("exact_count_rate", "exact", "%.4f"), ("count_mae", "MAE", "%.4f"), ("presence_f1", "F1", "%.4f"),
            ("position_error_mean_m", "pos m", "%.3f"), ("position_error_p95_m", "p95 m", "%.3f"),
            ("zone_accuracy", "zone", "%.3f"), ("l2_mae", "L2 MAE", "%.3f"), ("l3_mae", "L3 MAE", "%.3f")]
    width = max([len(r) for r in rows] + [8])
    lines = ["%-*s " % (width, "run") + " ".join("%8s" % k[1] for k in keys)]
    for name, r in rows.items():
        lines.append("%-*s " % (width, name) + " ".join(
            "%8s" % (fmt % r[k] if k in r and r[k] == r[k] else "-") for k, _, fmt in keys))
    return "\n".join(lines)
