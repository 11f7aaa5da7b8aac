"""Group sizing on controlled scenes: m people seated round the example room's table,
rendered without noise (thermocc_tools.rendered_count), counted by both fusion modes.

    python3 benchmarks/bench_groups.py [--max-people 8] [--rotations 4] [--winter]
    python3 benchmarks/bench_groups.py --clothing
    python3 benchmarks/bench_groups.py --person

--winter renders everyone in winter clothing. --clothing prints what fusion.clothing_fill
rests on: for clothing from a coat (0.25-0.3 of skin - air) to light (0.65), at three air
temperatures, the pixels the detector's blobs hold over those the people's outlines cover
(people alone anywhere, and groups at the table), relative to normal clothing (0.55), and
the blobs' mean excess over their peak excess.

--person prints what the one-person model (thermocc.camera: PERSON_RADIUS_M,
PERSON_BOTTOM_M, PERSON_TOP_M) rests on: for people alone, seated and standing, at random
places in the room, the detector's blob pixels over the model's pixels in each view that
sees them, split into views where the person is whole and views the image border cuts.

Layouts: evenly round the table (radius 0.8 m), and shoulder to shoulder on one side of
it (0.55 m apart, about as the accuracy benchmark's meeting chairs stand, and 0.45 m). Each
layout is turned to several angles; the table prints the counts of every turn beside the
true number, and the share counted exactly. Where pixels cannot tell m people spread out
from more people packed close, this is where it shows (docs/host.md).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thermocc_tools.rendered_count import RenderedCount      # noqa: E402

TABLE_RADIUS_M = 0.8
LAYOUTS = {"evenly round": None, "0.55 m apart": 0.55, "0.45 m apart": 0.45}


def seats(centre, m, spacing, turn):
    """m seats on the table's circle: evenly round it (spacing None) or spacing m apart."""
    step = 2 * math.pi / m if spacing is None else 2 * math.asin(spacing / (2 * TABLE_RADIUS_M))
    return [(centre[0] + TABLE_RADIUS_M * math.cos(turn + step * j), centre[1] + TABLE_RADIUS_M * math.sin(turn + step * j),
             "seated") for j in range(m)]


CLOTHING_K = (0.25, 0.3, 0.35, 0.4, 0.45, 0.55, 0.65)
NORMAL_K = 0.55


def clothing_fill_table():
    """Per air temperature and clothing: median fill (blob pixels / outline pixels) relative
    to normal clothing and median mean/peak excess, for people alone and groups."""
    print("fill = the detector's person-blob pixels / the pixels the people's outlines cover, per camera view;")
    print("relative to clothing at %.2f of (34 C - air); w = blob mean excess / peak excess (medians)" % NORMAL_K)
    for air in (18.0, 22.0, 26.0):
        rows = {}
        for k in CLOTHING_K:
            count = RenderedCount(air_c=air, clothing_k=k)
            centre = next(z for z in count.room.zones if z.name == "Main Area").polygon.mean(axis=0)
            rng = np.random.default_rng(1)
            scenes = [("alone", [(*rng.uniform([1.0, 1.0], [8.0, 4.8]), ("seated", "standing")[j % 2])])
                      for j in range(12)]
            scenes += [("group", seats(centre, m, spacing, 0.7)) for m in (2, 3, 4, 6) for spacing in (None, 0.55)]
            got = {"alone": ([], []), "group": ([], [])}
            for kind, people in scenes:
                spots = [(x, y) for x, y, _ in people]
                for cam, obs in enumerate(count.observations(people)):
                    b = obs.people()
                    outline = count.fusion.models[cam].group_area_px(spots)
                    if not len(b) or outline < 8:
                        continue
                    got[kind][0].append(b[:, 3].sum() / outline)
                    got[kind][1].append((b[:, 8] * b[:, 3]).sum() / b[:, 3].sum() / b[:, 9].max())
            rows[k] = {kind: (np.median(f), np.median(w)) for kind, (f, w) in got.items()}
        print("\nair %.0f C     alone: fill  w      group: fill  w" % air)
        for k in CLOTHING_K:
            a, g = rows[k]["alone"], rows[k]["group"]
            print("  k %.2f        %5.2f  %4.2f          %5.2f  %4.2f" % (
                k, a[0] / rows[NORMAL_K]["alone"][0], a[1], g[0] / rows[NORMAL_K]["group"][0], g[1]))


def person_fit_table(places=120, seed=5):
    """Blob pixels / model pixels of one person per view (RenderedCount.person_fill): 10th,
    50th and 90th percentile by posture and by whether the image border cuts the blob."""
    ratios = RenderedCount().person_fill(places, seed)
    print("blob pixels / model pixels of one person, per view (10th, 50th, 90th percentile)")
    for (posture, cut), r in sorted(ratios.items()):
        print("  %-9s %-18s %4d views   %.2f  %.2f  %.2f" % (posture, "cut by the border" if cut else "whole in view",
                                                            len(r), *np.percentile(r, [10, 50, 90])))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-people", type=int, default=8)
    ap.add_argument("--rotations", type=int, default=4)
    ap.add_argument("--winter", action="store_true", help="everyone in winter clothing")
    ap.add_argument("--clothing", action="store_true", help="the calibration of fusion.clothing_fill")
    ap.add_argument("--person", action="store_true", help="the fit of the one-person model")
    a = ap.parse_args(argv)
    if a.person:
        person_fit_table()
        return
    if a.clothing:
        clothing_fill_table()
        return
    count = RenderedCount(winter_clothing=a.winter)
    main_area = next(z for z in count.room.zones if z.name == "Main Area")
    centre = main_area.polygon.mean(axis=0)
    print("table at (%.1f, %.1f), radius %.1f m; counts blob / frame for %d turns" % (*centre, TABLE_RADIUS_M,
                                                                                      a.rotations))
    for name, spacing in LAYOUTS.items():
        exact = {"blob": 0, "frame": 0}
        total = 0
        print("\n== %s" % name)
        for m in range(1, a.max_people + 1):
            got = []
            for turn in np.linspace(0, 2 * math.pi, a.rotations, endpoint=False):
                counts = dict((mode, len(p)) for mode, p in count.people(seats(centre, m, spacing, turn)))
                got.append(counts)
                for mode in exact:
                    exact[mode] += counts[mode] == m
                total += 1
            print("  %d people: blob %s   frame %s" % (m, " ".join("%2d" % g["blob"] for g in got),
                                                     " ".join("%2d" % g["frame"] for g in got)))
        print("  exact: blob %.2f, frame %.2f" % (exact["blob"] / total, exact["frame"] / total))


if __name__ == "__main__":
    main()
