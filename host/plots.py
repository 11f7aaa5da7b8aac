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

    from thermocc.series import zone_slug
    plt = _plt()
    df = pd.read_csv(output_csv, parse_dates=["timestamp"])
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
