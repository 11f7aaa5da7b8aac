"""Pictures: the L-level series, the floor plan with camera footprints, an animated floor plan."""
from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _draw_room(ax, room, footprints=True):
    from matplotlib.patches import Polygon
    from thermocc.camera import CameraModel
    ax.add_patch(Polygon(room.floor, closed=True, fill=False, lw=2, color="black"))
    colours = ["#e8f0fe", "#fdeee8", "#eafbea", "#fff7d6", "#f3e8fd", "#e8fbfb"]
    for i, z in enumerate(room.zones):
        ax.add_patch(Polygon(z.polygon, closed=True, color=colours[i % len(colours)], alpha=0.9, lw=0))
        c = z.polygon.mean(axis=0)
        ax.text(c[0], c[1], z.name, ha="center", va="center", fontsize=8, color="#444")
    for d in room.doors:
        ax.plot([d.a[0], d.b[0]], [d.a[1], d.b[1]], color="#c0392b", lw=5, solid_capstyle="butt")
    if footprints:
        for k, pose in enumerate(room.cameras):
            fp = CameraModel(pose).pixel_footprint(room.settings.target_height_m)
            ax.add_patch(Polygon(fp, closed=True, fill=False, ls="--", lw=1, color="C%d" % k))
            ax.plot(pose.position[0], pose.position[1], "^", color="C%d" % k, ms=8)
            ax.text(pose.position[0], pose.position[1] + 0.2, "%s/%s" % (pose.node, pose.id), fontsize=7,
                    ha="center", color="C%d" % k)
    x0, y0, x1, y1 = room.bounds
    ax.set_xlim(x0 - 0.7, x1 + 0.7)
    ax.set_ylim(y0 - 0.7, y1 + 0.7)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")


def floor_plan(room, png):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 6))
    _draw_room(ax, room)
    ax.set_title("%s: zones, doors (red), camera footprints at %.1f m" % (room.name, room.settings.target_height_m))
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def series_png(room, output_csv, png):
    import pandas as pd

    from thermocc.outputs import read_output_csv
    from thermocc.series import zone_slug
    plt = _plt()
    df = read_output_csv(output_csv, room)
    if df.empty:
        raise ValueError("%s has no rows yet (a row is written as each timestep closes); nothing to draw" % output_csv)
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    fig, axes = plt.subplots(4, 1, figsize=(11, 10), sharex=True)
    t = df["timestamp"]
    axes[0].step(t, df["L1_presence"], where="post", color="C0", label="L1 presence")
    axes[0].plot(t, df["L0_fraction"], color="grey", ls="--", label="L0 schedule fraction")
    axes[0].set_ylim(-0.05, 1.1)
    axes[1].step(t, df["L2_count"], where="post", label="L2 count")
    axes[1].plot(t, df["L2_mean_count"], alpha=0.6, label="mean count")
    axes[1].plot(t, df["L0_count"], color="grey", ls="--", label="L0 schedule count")
    axes[1].set_ylabel("people")
    zones = np.array([df["L3_%s_count" % zone_slug(z.name)].to_numpy() for z in room.zones])
    axes[2].stackplot(t, zones, labels=[z.name for z in room.zones], step="post")
    axes[2].set_ylabel("people by zone")
    axes[3].plot(t, df["L4_people_w"], label="people W")
    axes[3].plot(t, df["L4_equipment_w"], label="equipment W")
    axes[3].plot(t, df["L4_total_w"], label="total internal gains W", color="black")
    axes[3].set_ylabel("W")
    for ax in axes:
        ax.legend(loc="upper left", fontsize=7, ncol=3)
        ax.grid(alpha=0.3)
    axes[0].set_title("%s: occupancy levels L0-L4 (timestep %d min)" % (room.name, room.settings.timestep_min))
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def animate_floor(room, ticks_csv, out, truth=None, frames=120, fps=8):
    """Animated floor plan (GIF): zones, camera footprints, fused people (and ground truth when given:
    a dict time string -> list of (x, y))."""
    import pandas as pd
    from matplotlib.animation import FuncAnimation, PillowWriter
    plt = _plt()
    df = pd.read_csv(ticks_csv, dtype={"timestamp": str})
    stamps = df["timestamp"].unique()
    if len(stamps) == 0:
        raise ValueError("%s has no ticks to animate" % ticks_csv)
    pick = stamps[np.linspace(0, len(stamps) - 1, min(frames, len(stamps))).astype(int)]
    groups = {s: g for s, g in df[df["timestamp"].isin(set(pick))].groupby("timestamp")}
    fig, ax = plt.subplots(figsize=(8, 5.5))
    _draw_room(ax, room)
    fused = ax.scatter([], [], s=120, color="#d35400", edgecolor="black", zorder=5, label="fused people")
    true = ax.scatter([], [], s=30, color="black", marker="x", zorder=6, label="ground truth") if truth else None
    title = ax.set_title("")
    ax.legend(loc="upper right", fontsize=7)

    def draw(i):
        s = pick[i]
        g = groups[s].dropna(subset=["x"])
        fused.set_offsets(g[["x", "y"]].to_numpy() if len(g) else np.zeros((0, 2)))
        if true is not None:
            pts = truth.get(s, [])
            true.set_offsets(np.array(pts).reshape(-1, 2) if pts else np.zeros((0, 2)))
        title.set_text("%s  %s  count %d" % (room.name, s, len(g)))
        return fused, title

    anim = FuncAnimation(fig, draw, frames=len(pick), blit=False)
    anim.save(out, writer=PillowWriter(fps=fps))
    plt.close(fig)


CAUSE_COLOURS = {"missed, out of view": "#7f8c8d", "missed, in a group": "#2471a3", "missed, alone": "#17a589",
                 "extra, beside someone": "#d68910", "extra, alone": "#c0392b"}


def count_errors(result, png, room=None, title="count errors"):
    """Where and when counts are wrong, from thermocc.score.score(..., detail=True): the true
    and fused counts over time with the wrong ticks marked and the longest episodes named;
    with the room, every error's position on the floor plan, coloured by its cause."""
    import pandas as pd
    plt = _plt()
    counts = pd.DataFrame(result["counts"], columns=["t", "true", "fused"])
    counts["t"] = pd.to_datetime(counts["t"])
    errors = pd.DataFrame(result["errors"], columns=["t", "cause", "zone", "x", "y"])
    if room is not None:
        fig, (ax, floor) = plt.subplots(1, 2, figsize=(16, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.step(counts["t"], counts["true"], where="post", color="black", lw=1.2, label="true count")
    ax.step(counts["t"], counts["fused"], where="post", color="#d35400", lw=1, alpha=0.8, label="fused count")
    for sign, colour, label in ((1, "#c0392b", "over-counted"), (-1, "#2471a3", "under-counted")):
        wrong = counts[np.sign(counts["fused"] - counts["true"]) == sign]
        ax.scatter(wrong["t"], wrong["fused"], s=6, color=colour, zorder=4, label="%s (%d ticks)" % (label, len(wrong)))
    for k, e in enumerate(result.get("episodes", [])[:3]):       # named along the bottom of the plot
        ax.text(pd.Timestamp(e["start"]), 0.03 + 0.09 * k, "%s, %s, %d ticks" % (e["cause"], e["zone"], e["ticks"]),
                transform=ax.get_xaxis_transform(), fontsize=7, color="#555")
        ax.axvspan(pd.Timestamp(e["start"]), pd.Timestamp(e["end"]), color="#f5b7b1" if e["kind"] == "over"
                   else "#aed6f1", alpha=0.35, lw=0)
    import matplotlib.dates as mdates
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_ylabel("people")
    ax.set_ylim(bottom=-0.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    ax.set_title("%s: exact-count rate %.4f, MAE %.4f" % (title, result["exact_count_rate"], result["count_mae"]))
    if room is not None:
        _draw_room(floor, room, footprints=False)
        for cause, colour in CAUSE_COLOURS.items():
            sel = errors[errors["cause"] == cause]
            if len(sel):
                floor.scatter(sel["x"], sel["y"], s=14, color=colour, alpha=0.5, edgecolor="none", zorder=5,
                              label="%s (%d)" % (cause, len(sel)))
        if len(errors):
            floor.legend(loc="upper right", fontsize=7)
        floor.set_title("where (people-ticks on wrong ticks, by cause)" if len(errors) else "no count errors")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
