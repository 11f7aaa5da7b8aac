"""Group sizing on controlled scenes: m people seated round the example room's table,
rendered without noise (thermocc_tools.rendered_count), counted by both fusion modes.

    python3 benchmarks/bench_groups.py [--max-people 8] [--rotations 4]

Layouts: evenly round the table (radius 0.8 m), and shoulder to shoulder on one side of
it (0.55 m and 0.45 m apart, the tighter as the accuracy benchmark's meetings sit). Each
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-people", type=int, default=8)
    ap.add_argument("--rotations", type=int, default=4)
    a = ap.parse_args(argv)
    count = RenderedCount()
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
