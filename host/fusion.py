"""Fusion: the detections of all cameras of a room in one tick become one set of people.

Blob mode (`associate`): every person blob is a ray from its camera through its sub-pixel
centroid. Two blobs of different cameras are the same person when their rays pass within
`gate_m` of each other at a height a person's body occupies (person_height_range_m); the
fused position is where the rays meet, which also removes the parallax a single camera
has when a person is taller or shorter than the target height. A blob cut by the image
border is a partial view whose centroid lies inward: its pairs get twice the gate. Clusters grow greedily,
closest pairs first, with complete linkage, and never hold two blobs of one camera (two
blobs in one image are two people). A blob no other camera confirms stays one person,
placed where its ray crosses the target height, unless its ray meets another camera's at
floor level: then it is warm floor (a sun patch), nobody, or it holds too few pixels for a
whole person there (min_lone_fraction; past an image border where the room goes on, a
person may be partly out of view): then it is a fragment of something else, nobody. Such
a border sliver whose ray passes, anywhere from the floor up, within body_m of the ring of
a cluster two cameras confirm is part of those people (a meeting's edge, a person's feet),
and joins that cluster. A pair with a blob cut by the border is no evidence of floor (its
centroid is pulled inward, so the meeting height is off; it pairs as one body from 0 m up).
Then two people closer than `body_m` whose blobs come from different cameras are one body:
three or four views of one person whose rays do not all meet within the gate. Last, a cluster whose blobs hold
the pixels of several people (a meeting round a table merges into one blob in every view)
counts as that many: the largest m such that m people on a ring round the cluster's
position would cover no more than its blobs' pixels, by the outlines
CameraModel.group_area_px projects; they are placed on that ring. Only clusters that two
cameras see are sized (one view cannot tell a group from a sun patch), and a lone blob
where no other working camera sees the floor (there no second view can exist). People
whose clothing reads cold (a coat: their blobs' mean excess a small share of their peak)
fill less of those outlines, so their blobs' pixels count for more (cluster_clothing_fill).
Given where people were tracked before this tick, a group is not counted one more than
the tracks round it unless its pixels pass HOLD_FILL of the way to that count
(BlobFusion._hold_to_tracked): people are seen walking into a group, and an untracked
extra is a group spread wider than the model's ring.

Frame mode (`FrameFusion`): every pixel of every camera is mapped once onto a floor grid
at the target height; per tick the grid holds, per cell, the mean excess over ambient of
the cameras that see it (a fused thermal snapshot of the room), and its warm 8-connected
regions are where people are. Regions are not counted as people: a body is not at one
height, so each camera's view of it lands elsewhere on the grid (head beyond it, feet
short of it) and one person seen by two cameras makes two regions. Instead each camera's
warm pixel group (grown over the fringe, as the detector grows a blob) that reaches a
region becomes one detection, and the detections are
associated (and groups sized by their pixels) exactly as in blob mode (tested: a rendered
person anywhere is counted once in both modes). Only pixels inside the detector's person blobs take part
(pipeline.person_pixels): monitors, sun and kettles stay the detector's business; the
warm level follows the detector's warm-room rule.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from thermocc.camera import (COLS, EXACT_OUTLINES, PERSON_RADIUS_M, ROWS, CameraModel, box_floor_extents,
                             detection_rays, floor_mask, union_area, union_pixels)
from thermocc.ingest import KIND_PERSON
from thermocc_shared.detect import contrast_threshold_cd


@njit(cache=True)
def _ray_meeting(o1, d1, o2, d2):
    """(distance, height, x, y) of the closest approach of two rays, distance inf if parallel or behind."""
    w0 = o1 - o2
    a = d1[0] * d1[0] + d1[1] * d1[1] + d1[2] * d1[2]
    b = d1[0] * d2[0] + d1[1] * d2[1] + d1[2] * d2[2]
    c = d2[0] * d2[0] + d2[1] * d2[1] + d2[2] * d2[2]
    d = d1[0] * w0[0] + d1[1] * w0[1] + d1[2] * w0[2]
    e = d2[0] * w0[0] + d2[1] * w0[1] + d2[2] * w0[2]
    den = a * c - b * b
    if den < 1e-12:
        return np.inf, 0.0, 0.0, 0.0
    s = (b * e - c * d) / den
    t = (a * e - b * d) / den
    if s <= 0 or t <= 0:
        return np.inf, 0.0, 0.0, 0.0
    p = o1 + s * d1
    q = o2 + t * d2
    dist = np.sqrt(((p - q) ** 2).sum())
    return dist, (p[2] + q[2]) / 2, (p[0] + q[0]) / 2, (p[1] + q[1]) / 2


@njit(cache=True)
def associate(cams, origins, dirs, floor_xy, gate_m, h_low, h_high, body_m=0.0, at_edge=None):
    """Cluster detections into people. Returns (labels per detection, -1 for none; people (k, 2) xy, k).
    A detection no other camera confirms at person heights, whose ray meets another
    camera's at floor height (below h_low), is warm floor (sun, a spill), not a person;
    pairs with an at_edge detection are never floor evidence and meet a body from 0 m.
    body_m > 0: then clusters with no camera in common whose people are closer than body_m
    are one person (one body seen inconsistently by three or four cameras)."""
    n = cams.shape[0]
    if at_edge is None:
        at_edge = np.zeros(n, np.bool_)
    dist = np.full((n, n), np.inf)
    mid = np.zeros((n, n, 2))
    pairs_i = np.empty(n * n, np.int64)
    pairs_j = np.empty(n * n, np.int64)
    pair_d = np.empty(n * n)
    on_floor = np.zeros(n, np.bool_)
    m = 0
    for i in range(n):
        for j in range(i + 1, n):
            if cams[i] == cams[j]:
                continue
            dd, h, x, y = _ray_meeting(origins[i], dirs[i], origins[j], dirs[j])
            # a blob cut by the image border has its centroid pulled inward: twice the gate,
            # and the height where its ray meets another is no evidence of warm floor (the
            # view of a group at the border meets the others low); from 0 m it is a body
            edge = at_edge[i] or at_edge[j]
            gate = 2 * gate_m if edge else gate_m
            low = 0.0 if edge else h_low
            if dd <= gate and -h_low < h < h_low and not edge:       # at floor level
                on_floor[i] = True
                on_floor[j] = True
            if dd <= gate and low <= h <= h_high:
                dist[i, j] = dd
                dist[j, i] = dd
                mid[i, j, 0] = x
                mid[i, j, 1] = y
                mid[j, i, 0] = x
                mid[j, i, 1] = y
                pairs_i[m] = i
                pairs_j[m] = j
                pair_d[m] = dd
                m += 1
    labels = np.arange(n)
    order = np.argsort(pair_d[:m], kind="mergesort")     # stable: ties keep input order
    for k in range(m):
        a = labels[pairs_i[order[k]]]
        b = labels[pairs_j[order[k]]]
        if a == b:
            continue
        ok = True
        for i in range(n):
            if labels[i] != a:
                continue
            for j in range(n):
                if labels[j] == b and (cams[i] == cams[j] or dist[i, j] == np.inf):
                    ok = False
        if ok:
            for i in range(n):
                if labels[i] == b:
                    labels[i] = a
    # renumber clusters in order of first member; fused position = mean of pairwise meeting points
    out_label = np.full(n, -1)
    people = np.zeros((n, 2))
    k = 0
    for i in range(n):
        if out_label[i] >= 0:
            continue
        members = 0
        for j in range(n):
            if labels[j] == labels[i]:
                members += 1
        if members == 1 and on_floor[i]:
            continue                # warm floor (a sun patch): seen by two cameras at floor height
        sx = 0.0
        sy = 0.0
        w = 0
        for j in range(n):
            if labels[j] == labels[i]:
                out_label[j] = k
                for q in range(j + 1, n):
                    if labels[q] == labels[i]:
                        sx += mid[j, q, 0]
                        sy += mid[j, q, 1]
                        w += 1
        if w == 0:
            people[k, 0] = floor_xy[i, 0]
            people[k, 1] = floor_xy[i, 1]
        else:
            people[k, 0] = sx / w
            people[k, 1] = sy / w
        k += 1
    if body_m > 0:
        k = _merge_bodies(cams, out_label, people, k, body_m)
    return out_label, people[:k].copy(), k


@njit(cache=True)
def _merge_bodies(cams, label, people, k, body_m):
    """Closest pairs first: merge two people closer than body_m whose detections come from
    disjoint cameras (two blobs of one camera stay two people). The merged position is the
    detection-weighted mean. Returns the new count; labels and people are renumbered."""
    n = cams.shape[0]
    size = np.zeros(k)
    for i in range(n):
        if label[i] >= 0:
            size[label[i]] += 1
    alive = np.ones(k, np.bool_)
    while True:
        best = body_m
        a = -1
        b = -1
        for p in range(k):
            if not alive[p]:
                continue
            for q in range(p + 1, k):
                if not alive[q]:
                    continue
                d = np.sqrt((people[p, 0] - people[q, 0]) ** 2 + (people[p, 1] - people[q, 1]) ** 2)
                if d >= best:
                    continue
                shared = False
                for i in range(n):
                    if label[i] == p:
                        for j in range(n):
                            if label[j] == q and cams[i] == cams[j]:
                                shared = True
                if not shared:
                    best, a, b = d, p, q
        if a < 0:
            break
        w = size[a] + size[b]
        people[a, 0] = (people[a, 0] * size[a] + people[b, 0] * size[b]) / w
        people[a, 1] = (people[a, 1] * size[a] + people[b, 1] * size[b]) / w
        size[a] = w
        alive[b] = False
        for i in range(n):
            if label[i] == b:
                label[i] = a
    # renumber in order of first detection
    new = np.full(k, -1)
    out = np.zeros((k, 2))
    m = 0
    for i in range(n):
        c = label[i]
        if c < 0:
            continue
        if new[c] < 0:
            new[c] = m
            out[m] = people[c]
            m += 1
        label[i] = new[c]
    people[:m] = out[:m]
    return m


# A cluster counts m people when its blobs' pixels are nearer what m people round it would
# cover than what m - 1 would (the union of their outlines, so overlaps count once). One
# person's blob measures 0.85-1.2 of one person's area, 0.84-1.36 when cut by the image
# border (10th-90th percentile, seated and standing: `benchmarks/bench_groups.py --person`).
GROUP_SPACING_M = 0.7          # people in a group keep about this far apart
MAX_GROUP = 20
# Where m people of a group are, for the pixels they cover: m > 2 sit GROUP_SPACING_M apart
# round a circle as wide as the group's blobs show (group_ring), as people take neighbouring
# chairs round a table; on an arc of it when they do not fill it, which way it faces unknown,
# so its pixels are the mean over ARC_FACINGS turns. Spread evenly round that circle, people
# overlap less in the views than side by side, so a group side by side needs more pixels
# than it shows. Pixels cannot tell the two apart: rendered without noise at the example
# room's table (benchmarks/bench_groups.py, eight turns), arcs count people 0.55 m apart
# exactly more often (0.75 -> 0.81 of layouts) and people evenly round it less (0.64 ->
# 0.58); with the accuracy benchmark's meetings, who take neighbouring chairs 0.6 m apart,
# its runs replayed in blob mode went 0.915 -> 0.926 exact pooled (default seeds) and
# 0.907 -> 0.915 (seed 57).
ARC_FACINGS = 4
_ARC_TURNS = np.array([2 * math.pi * f / ARC_FACINGS for f in range(ARC_FACINGS)])   # BlobFusion._turns
_NO_TURN = np.array([-1.0])
# Counting m + 1 takes the pixels past STEP_FILL of the way from m people's to m + 1's: the
# nearer count. (Needing all of m + 1's, the count was one short whenever a group's blobs
# filled less than its outlines, as seated people whole in view do: 0.95 of them.)
STEP_FILL = 0.5
# A group is not counted more people than were tracked round it (confirmed tracks within
# HOLD_REACH_M of its ring) unless its pixels pass HOLD_FILL of the way from that count to
# one more. People joining a group are seen walking in and tracked; a group whose pixels
# pass half the way to one more person nobody was seen bringing is, far more often, a
# group that covers more pixels than the model's ring: people round a table with an empty
# chair between them, one at a desk beside it (the accuracy benchmark's Monday meeting of
# five reads 5.59 rendered without noise). A track born in a group as a walker merged
# into it is not counted round it for its first minute (tracker.LIFT_S). Replayed (three
# seeds, both modes, pooled exact): blob 0.967 -> 0.984 on the default seed (0.978 without
# the walker's lift), 0.966 -> 0.966 and 0.944 -> 0.944 on seeds 23 and 57; frame 0.963 ->
# 0.970, 0.961 -> 0.961, 0.929 -> 0.931. Holding both ways (nor one fewer than the tracks)
# kept walkers' tracks left in a meeting as people: seed 57's seated run 1.000 -> 0.875
# (docs/host.md, "How far pixels can go").
HOLD_FILL = 0.75
HOLD_REACH_M = 0.5
# A ring of fixed width that fills up, or runs out of the image, covers hardly more pixels
# with each person added: a blob a little larger than the model's area (its fringe) would
# then count many more people. Each person counted must add this share of one person's
# pixels there. (Eight people evenly round a table, rendered without noise, counted 16
# without it, 10 with it; the accuracy benchmark's counts are the same either way.)
MIN_PERSON_GAIN = 0.25
# A blob only one camera can see (sole view) holding SOLE_FILL of what two people on the
# ring would cover counts two (more than two: the nearer count, STEP_FILL). In the
# accuracy benchmark's runs the blobs of Pantry pairs (one camera sees the Pantry) held
# 0.95-1.2 of two people's ring pixels, 17 of 61 of them under 1.0 (one too few for minutes:
# a pixel or two short), while no blob of one person held more than 0.80 of it (28 900
# scored blobs, all scenarios but the offline one). 0.85 is in that gap, nearer the ones.
# (Measured with the person model from seat height; the Pantry camera sees its people
# from above, where the legs the model now includes add little.)
SOLE_FILL = 0.85
# Clothing that reads cold (a winter coat) shows fewer pixels above the detector's fringe
# than the outlines above expect: a pixel joins a blob when its covered share times the
# clothing's excess passes the fringe, so a coat's edge pixels drop out. Rendered groups in
# clothing at 0.3 of (skin - air) fill 0.79 of the pixels groups in normal clothing (0.55)
# fill, at 18, 22 and 26 C air (`benchmarks/bench_groups.py --clothing`; people alone
# 0.71-0.87). Measured again with the person model grown to the floor: 0.80-0.83 (alone
# 0.76-0.87); 0.79 is kept, since groups in coats still count short of the same groups in
# normal clothing (tests/test_simulated_room.py). A cluster's mean excess over its peak
# (the face) tells how warm the clothing reads: 0.39-0.44 in coats on the accuracy
# benchmark's noisy frames, 0.47 and up in normal clothing (groups 0.53 and up). Below
# COLD_CLOTHING_W its blobs' pixels count 1 / COLD_CLOTHING_FILL times, ramping to as they
# are at NORMAL_CLOTHING_W: without it a winter meeting of six was sized four. Frame mode
# corrects the detector blobs its detections hold, each by its own ratio, and those pixels
# only (its own groups, grown against the ambient, hold more pixels: correcting those too
# over-counted the week's meetings).
COLD_CLOTHING_W = 0.45
NORMAL_CLOTHING_W = 0.55
COLD_CLOTHING_FILL = 0.79
# Where a group is. Its position from the rays of its blobs' centroids is pulled towards
# the middle of a view whose image border cuts the group (the centroid of what is seen lies
# inward of the group's), and its size is read from the pixels the outline model gives at
# that position: the crowded benchmark meeting of eleven, whose every view the border cuts,
# was placed 0.35 m from its middle and sized ten. So a group of PLACE_MIN_GROUP or more
# that a cut blob is part of is placed where the model's blobs of that many people, clipped
# to each image, have the centroids its blobs have (least squares over its views, Gauss-
# Newton on the AREA_CELL_M cells, PLACE_STEPS steps, at most PLACE_MAX_M from the rays'
# position), and is sized again there. Smaller groups keep the rays' position: the sizing
# of arcs (ARC_FACINGS, STEP_FILL) was fitted there, and placed, two to six side by side on
# the benchmark's chairs counted one over (rendered: 30 of 30 exact -> 17); seven to
# sixteen placed went 2 -> 6 of 10 exact (docs/host.md, "Where a large group is").
PLACE_MIN_GROUP = 7
PLACE_STEPS = 2
PLACE_MAX_M = 0.5
AREA_CELL_M = 0.1              # expected areas are cached per camera and 10 cm cell
EDGE_SEARCH_PX = 6.0           # how far past the image border a partly seen person may stand
_LONE_BOUNDS = {}              # BlobFusion._lone_area_bound, per camera geometry


@njit(cache=True)
def ring_radius(m, spread=0.0):
    """Radius of the ring m people of a group stand on (0 for one person): at least
    GROUP_SPACING_M between neighbours, wider when the blobs show the group spread wider."""
    return 0.0 if m == 1 else max(GROUP_SPACING_M / 2, GROUP_SPACING_M * m / (2 * math.pi), spread)


@njit(cache=True)
def group_ring(x, y, m, spread=0.0, facing=-1.0):
    """Where m people of a group stand, (m, 2): evenly round a ring (ring_radius) centred
    on (x, y); or, given facing (an angle, radians), GROUP_SPACING_M apart along that ring
    where it is wider than they fill, the arc's middle towards facing and the ring moved so
    that their centroid stays at (x, y)."""
    radius = ring_radius(m, spread)
    step = 2 * math.pi / m
    if facing < 0:
        spots = np.empty((m, 2))
        for j in range(m):
            spots[j, 0] = x + radius * math.cos(j * step)
            spots[j, 1] = y + radius * math.sin(j * step)
        return spots
    if m > 1 and GROUP_SPACING_M < 2 * radius:
        step = min(step, 2 * math.asin(GROUP_SPACING_M / (2 * radius)))
    angles = facing + (np.arange(m) - (m - 1) / 2) * step
    back = radius * np.cos(angles - facing).mean()          # the arc's centroid from the ring's centre
    spots = np.empty((m, 2))
    spots[:, 0] = x - back * math.cos(facing) + radius * np.cos(angles)
    spots[:, 1] = y - back * math.sin(facing) + radius * np.sin(angles)
    return spots


@njit(cache=True)
def _pair_areas(origins, Rs, fxs, fys, cams, xs, ys, spreads):
    """BlobFusion.group_area of two people for each (camera, x, y, spread), on the same 10 cm
    cells as its cache: one call for every lone blob of a tick (most of them are one person,
    and this is what shows it)."""
    out = np.empty(len(cams))
    for i in range(len(cams)):
        k = cams[i]
        spots = group_ring(round(xs[i] / AREA_CELL_M) * AREA_CELL_M, round(ys[i] / AREA_CELL_M) * AREA_CELL_M, 2,
                           round(spreads[i] / AREA_CELL_M) * AREA_CELL_M)
        out[i] = union_area(origins[k], Rs[k], fxs[k], fys[k], spots)
    return out


@njit(cache=True)
def _arc_areas(origin, R, fx, fy, x, y, m, spread, facings):
    """CameraModel.group_area_px of m people on group_ring(x, y, m, spread, facing), per
    facing: BlobFusion._group_area's work in one call (a hot path)."""
    out = np.empty(len(facings))
    for f in range(len(facings)):
        out[f] = union_pixels(origin, R, fx, fy, group_ring(x, y, m, spread, facings[f]), 4)
    return out


def clothing_fill(mean_excess, peak_excess):
    """Share of the outline's pixels a blob of this warmth fills, relative to normal
    clothing (1): COLD_CLOTHING_FILL when its mean excess over ambient is under
    COLD_CLOTHING_W of its peak excess, 1 from NORMAL_CLOTHING_W, linear between.
    Arrays or numbers; 1 where the peak is not above ambient."""
    mean_excess = np.asarray(mean_excess, np.float64)
    peak_excess = np.asarray(peak_excess, np.float64)
    w = np.where(peak_excess > 0, mean_excess / np.where(peak_excess > 0, peak_excess, 1.0), 1.0)
    ramp = np.clip((w - COLD_CLOTHING_W) / (NORMAL_CLOTHING_W - COLD_CLOTHING_W), 0.0, 1.0)
    return COLD_CLOTHING_FILL + (1.0 - COLD_CLOTHING_FILL) * ramp


def cluster_clothing_fill(labels, n_clusters, pixels, mean_excess, peak_excess):
    """clothing_fill per detection, judged on its whole cluster (all views of the same
    people): the clusters' pixel-weighted mean excess over their highest peak. A small view
    reads its own ratio less surely (in the benchmark's winter meeting the smallest view read
    0.47-0.51, the others 0.42-0.45). 1 for detections in no cluster."""
    labels = np.ascontiguousarray(labels, np.int64)
    mean, peak = _cluster_warmth(labels, n_clusters, np.ascontiguousarray(pixels, np.float64),
                                 np.ascontiguousarray(mean_excess, np.float64),
                                 np.ascontiguousarray(peak_excess, np.float64))
    if n_clusters == 0:
        return np.ones(len(labels))
    return np.where(labels >= 0, clothing_fill(mean, peak)[np.maximum(labels, 0)], 1.0)


@njit(cache=True)
def _cluster_warmth(labels, n_clusters, pixels, mean_excess, peak_excess):
    """Per cluster: the pixel-weighted mean excess of its detections (0 without pixels) and
    their highest peak excess (-inf without detections), summed in detection order."""
    weight = np.zeros(n_clusters)
    warmth = np.zeros(n_clusters)
    peak = np.full(n_clusters, -np.inf)
    for i in range(len(labels)):
        c = labels[i]
        if c >= 0:
            weight[c] += pixels[i]
            warmth[c] += pixels[i] * mean_excess[i]
            peak[c] = max(peak[c], peak_excess[i])
    for c in range(n_clusters):
        warmth[c] /= weight[c] if weight[c] > 0 else 1.0
    return warmth, peak


def ring_spread(extent):
    """Ring radius a blob (or blobs) whose bounding box spans `extent` m of floor shows:
    that extent less one person's width, halved (0 for one person's width or less)."""
    return np.maximum(0.0, (extent - 2 * PERSON_RADIUS_M) / 2)


def _keep_clusters(people, labels, keep):
    """The people where keep (bool per person) is set, with labels renumbered (-1: none)."""
    new = np.full(len(people), -1)
    new[keep] = np.arange(int(keep.sum()))
    return people[keep], np.where(labels >= 0, new[np.maximum(labels, 0)], -1)


class BlobFusion:
    """Blob-mode fusion for one room: cameras' pixel rays are computed once here."""

    def __init__(self, room):
        self.room = room
        self.models = [CameraModel(p) for p in room.cameras]
        s = room.settings
        self.gate_m, self.h_low, self.h_high = s.gate_m, s.person_height_range_m[0], s.person_height_range_m[1]
        self.body_m = s.body_m
        self.target_h = s.target_height_m
        self.min_lone_fraction = s.min_lone_fraction
        self._areas = {}
        self._centroids = {}     # group_centroid, per camera and 10 cm cell
        # the cameras' geometry as arrays, for numba kernels
        self._origins = np.array([m.origin for m in self.models])
        self._Rs = np.array([m.R for m in self.models])
        self._fxs = np.array([m.fx for m in self.models])
        self._fys = np.array([m.fy for m in self.models])
        self._sole = {}          # sole_view_pixels per set of working cameras
        self._lone_bars = {}     # _lone_bar per camera
        self.group_size = np.ones(0, np.int64)      # per person of the last fuse, their group's size

    def prepare(self, live=None):
        """Build what the first ticks of a run would otherwise wait for, tens of ms each: the
        tables for the working cameras (all, unless live says), and each geometry kernel
        loaded once from numba's cache. The area caches are left as they are."""
        live = np.ones(len(self.models), np.bool_) if live is None else np.asarray(live, np.bool_)
        self.sole_view_pixels(live)
        for k in range(len(self.models)):
            self._lone_bar(k)
        x, y = self.models[0].to_floor([(COLS - 1) / 2], [(ROWS - 1) / 2], self.target_h)[0]
        if np.isfinite(x):
            for m in (1, 2, EXACT_OUTLINES, EXACT_OUTLINES + 1, PLACE_MIN_GROUP):
                self._group_area(0, x, y, m, 0.3)
                self._group_centroid(0, x, y, m, 0.3)
                group_ring(x, y, m, 0.3)                 # (_spread_groups calls it from Python)
            _pair_areas(self._origins, self._Rs, self._fxs, self._fys, np.zeros(1, np.int64), np.array([x]),
                        np.array([y]), np.zeros(1))

    def sole_view_pixels(self, live):
        """(n_cameras, ROWS, COLS) bool: the pixels of each working camera (live: bool per
        camera) whose ray meets the room's floor plan, at the target height, where no other
        working camera sees. There no second view of a blob can exist."""
        key = live.tobytes()
        table = self._sole.get(key)
        if table is None:
            table = self._sole[key] = np.zeros((len(self.models), ROWS, COLS), np.bool_)
            rows, cols = np.divmod(np.arange(ROWS * COLS, dtype=float), COLS)
            for k, model in enumerate(self.models):
                if not live[k]:
                    continue
                xy = model.to_floor(cols, rows, self.target_h)
                inside = np.array([np.isfinite(x) and self.room.contains(x, y) for x, y in xy])
                others = np.zeros(len(xy), np.bool_)
                for j, other in enumerate(self.models):
                    if j != k and live[j]:
                        others |= other.to_pixel(np.nan_to_num(xy[:, 0]), np.nan_to_num(xy[:, 1]), self.target_h)[2]
                table[k] = (inside & ~others).reshape(ROWS, COLS)
        return table

    def group_area(self, cam, x, y, m, spread=0.0):
        """Pixels m people round (x, y) cover in camera cam (cached per 10 cm cell): two on
        a ring as wide as spread, more side by side round it (ARC_FACINGS)."""
        return self._per_cell(self._areas, self._group_area, cam, x, y, m, spread)

    def group_centroid(self, cam, x, y, m, spread=0.0):
        """(col, row) of the pixels group_area counts, clipped to camera cam's image (cached
        per 10 cm cell); for more than two people the area-weighted mean over the
        ARC_FACINGS turns of their arc. NaN when none is in the image."""
        return self._per_cell(self._centroids, self._group_centroid, cam, x, y, m, spread)

    @staticmethod
    def _cell(x, y, spread=0.0):
        """The caches' cell of (x, y) and spread: their 10 cm indices."""
        return int(round(x / AREA_CELL_M)), int(round(y / AREA_CELL_M)), int(round(spread / AREA_CELL_M))

    def _per_cell(self, cache, compute, cam, x, y, m, spread):
        """compute(cam, x, y, m, spread) at the centre of the 10 cm cell of (x, y), spread to
        the nearest 10 cm, cached in cache."""
        return self._at_cell(cache, compute, cam, self._cell(x, y, spread), m)

    @staticmethod
    def _key(cam, cell, m):
        return cam, cell[0], cell[1], m, cell[2]

    @staticmethod
    def _put(cache, key, value):
        if len(cache) > 100_000:             # (bounded: a daemon runs for years)
            cache.clear()
        cache[key] = value

    def _at_cell(self, cache, compute, cam, cell, m):
        """_per_cell for a cell already found (group sizing asks one cell for many sizes)."""
        key = self._key(cam, cell, m)
        out = cache.get(key)
        if out is None:
            out = compute(cam, cell[0] * AREA_CELL_M, cell[1] * AREA_CELL_M, m, cell[2] * AREA_CELL_M)
            self._put(cache, key, out)
        return out

    def _two_person_areas(self, cams, xs, ys, spreads):
        """group_area of two people for each (camera, x, y, spread): from the cache where it
        has them (people mostly stay put), the rest in one numba call (_pair_areas)."""
        keys = [self._key(k, self._cell(x, y, s), 2)
                for k, x, y, s in zip(cams.tolist(), xs.tolist(), ys.tolist(), spreads.tolist())]
        out = np.array([self._areas.get(key, np.nan) for key in keys])
        todo = np.flatnonzero(np.isnan(out))
        if len(todo):
            out[todo] = _pair_areas(self._origins, self._Rs, self._fxs, self._fys, cams[todo], xs[todo], ys[todo],
                                    spreads[todo])
            for i in todo.tolist():
                self._put(self._areas, keys[i], out[i])
        return out

    @staticmethod
    def _turns(m):
        """The facings m people's pixels are averaged over: ARC_FACINGS turns of their arc
        for more than two (side by side round a circle, facing any way); two stand on their
        ring, the blobs' spread the gap between them (no facing: -1)."""
        return _ARC_TURNS if m > 2 else _NO_TURN

    def _group_area(self, cam, x, y, m, spread):
        areas = _arc_areas(self._origins[cam], self._Rs[cam], self._fxs[cam], self._fys[cam], x, y, m, spread,
                           self._turns(m))
        return np.mean(areas) if m > 2 else areas[0]

    def _group_centroid(self, cam, x, y, m, spread):
        col = row = weight = 0.0
        for facing in self._turns(m):
            area, c, r = self.models[cam].group_moments_px(group_ring(x, y, m, spread, facing))
            if area > 0:
                col, row, weight = col + area * c, row + area * r, weight + area
        return (col / weight, row / weight) if weight > 0 else (np.nan, np.nan)

    def _place_groups(self, cams, det, at_edge, boxes, labels, people, sizes, spreads, sole=None):
        """Each group of PLACE_MIN_GROUP or more, seen by two cameras or more, that holds a
        blob the image border cuts is placed where the model's blobs have its blobs'
        centroids and sized again there (the module's note on PLACE_MIN_GROUP)."""
        todo = [c for c in np.flatnonzero(sizes >= PLACE_MIN_GROUP) if at_edge[labels == c].any()]
        if not todo:
            return people, sizes, spreads
        people, sizes, spreads = people.copy(), sizes.copy(), spreads.copy()
        h = AREA_CELL_M
        for c in todo:
            members = np.flatnonzero(labels == c)
            views = sorted(set(cams[members].tolist()))
            if len(views) < 2:
                continue
            seen = []           # per view, its blobs' centroid (pixel-weighted)
            for k in views:
                mine = members[cams[members] == k]
                w = np.maximum(det[mine, 4], 1e-9)
                seen.append((np.dot(w, det[mine, 1]) / w.sum(), np.dot(w, det[mine, 2]) / w.sum()))
            seen = np.array(seen)
            x0, y0 = people[c]
            x, y = x0, y0
            m, spread = int(sizes[c]), float(spreads[c])
            for _ in range(PLACE_STEPS):
                cx, cy = round(x / h) * h, round(y / h) * h
                here = np.array([self.group_centroid(k, cx, cy, m, spread) for k in views])
                dx = np.array([self.group_centroid(k, cx + h, cy, m, spread) for k in views]) - here
                dy = np.array([self.group_centroid(k, cx, cy + h, m, spread) for k in views]) - here
                jac = np.stack([dx.ravel(), dy.ravel()], 1) / h
                miss = (seen - here).ravel()
                ok = np.isfinite(jac).all(1) & np.isfinite(miss)
                if ok.sum() < 2:
                    break
                step = np.linalg.lstsq(jac[ok], miss[ok], rcond=None)[0]
                x, y = cx + step[0], cy + step[1]
                moved = math.hypot(x - x0, y - y0)
                if moved > PLACE_MAX_M:      # no further than PLACE_MAX_M from the rays' position
                    x, y = x0 + (x - x0) * PLACE_MAX_M / moved, y0 + (y - y0) * PLACE_MAX_M / moved
            people[c] = (x, y)
            size, spread = self.group_sizes(cams, det[:, 4], boxes, labels, people, only=c, sole=sole)
            sizes[c], spreads[c] = size[c], spread[c]
        return people, sizes, spreads

    def box_extents(self, cams, boxes):
        """Widest floor extent (m, at the target height) of each detection's bounding box
        (col0, row0, col1, row1); 0 where part of it does not reach the floor."""
        return box_floor_extents(self._origins, self._Rs, self._fxs, self._fys, np.ascontiguousarray(cams, np.int64),
                                 np.ascontiguousarray(boxes, np.float64), self.target_h)

    @staticmethod
    def group_spread(extents, members):
        """Ring radius the group's blobs show: the widest floor extent of a member's bounding
        box (box_extents), less one person's width, halved."""
        return ring_spread(extents[members].max())

    def _need(self, views, x, y, spread, m):
        """The pixels m people of a group at (x, y) cover in these views, from the per-cell
        cache (one person at their own cell, a group on its ring's)."""
        cell = self._cell(x, y) if m == 1 else self._cell(x, y, spread)
        return sum(self._at_cell(self._areas, self._group_area, k, cell, m) for k in views)

    def group_sizes(self, cams, pixels, boxes, labels, people, only=None, sole=None):
        """People in each cluster (or in cluster `only`) and their ring's spread: the m
        whose pixels (group_area, summed over the cameras that see it) are nearest its blobs'
        (STEP_FILL), each person adding at least MIN_PERSON_GAIN of one person's pixels.
        A cluster only one camera sees is one person (a large blob in one view may be a sun
        patch), unless its blob is where no other working camera sees (sole: per detection,
        sole_view_pixels at its centroid): no second view can tell there."""
        sizes = np.ones(len(people), np.int64)
        spreads = np.zeros(len(people))
        if only is None:               # plain lists: most clusters are one blob (a hot path)
            clusters = [[] for _ in range(len(people))]
            for i, c in enumerate(labels.tolist()):
                if c >= 0:
                    clusters[c].append(i)
            clusters = enumerate(clusters)
        else:
            clusters = [(only, np.flatnonzero(labels == only).tolist())]
        cam_of = cams.tolist()
        todo = []
        for c, members in clusters:
            if len(members) == 1 and (sole is None or not sole[members[0]]) or \
                    len(members) > 1 and len({cam_of[i] for i in members}) < 2:
                continue           # one view cannot tell a group from warm floor: one person
            todo.append((c, np.array(members, np.int64)))
        if not todo:
            return sizes, spreads
        extents = self.box_extents(cams, boxes)
        # a lone blob is two people from SOLE_FILL of two people's pixels, unless the image border
        # cuts it (such a blob of one person may hold more pixels than one person's ring)
        cut = (boxes[:, 0] <= 0) | (boxes[:, 1] <= 0) | (boxes[:, 2] >= COLS - 1) | (boxes[:, 3] >= ROWS - 1)
        pair_fill = np.where(cut, 1.0, SOLE_FILL)          # per detection, used when it is alone
        lone = np.array([m[0] for _, m in todo if len(m) == 1], np.int64)
        if len(lone):
            # a lone blob that holds fewer pixels than two people there is one person
            at = labels[lone]
            two = self._two_person_areas(cams[lone], people[at, 0], people[at, 1], ring_spread(extents[lone]))
            single = set(at[(two <= 0) | (pixels[lone] < pair_fill[lone] * two)].tolist())
            todo = [(c, m) for c, m in todo if c not in single]
        for c, members in todo:
            n = pixels[members].sum()
            second = pair_fill[members[0]] if len(members) == 1 else 1.0     # of the second person's need
            x, y = people[c]
            spreads[c] = spread = self.group_spread(extents, members)
            views = sorted(set(cams[members].tolist()))     # a camera's blobs share its expected pixels
            one = prev = self._need(views, x, y, spread, 1)
            while sizes[c] < MAX_GROUP:
                need = self._need(views, x, y, spread, sizes[c] + 1)
                # a lone blob's second person: its own bar (SOLE_FILL); otherwise the nearer count
                bar = second * need if sizes[c] == 1 and len(members) == 1 else prev + STEP_FILL * (need - prev)
                if need <= 0 or n < bar or need - prev < MIN_PERSON_GAIN * one:
                    break
                prev = need
                sizes[c] += 1
        return sizes, spreads

    def group_reading(self, cams, pixels, boxes, x, y, mean_excess=None, peak_excess=None, tracked=None):
        """How group sizing reads one cluster at (x, y): its blobs (one per camera: camera
        index, pixels, box col0, row0, col1, row1 and, optionally, mean and peak excess over
        ambient, C). Returns (count, reading): the count group_sizes gives it (clothing fill
        as fuse applies it; held to tracked, where people were tracked, as fuse holds it) and
        where its pixels lie on the model's scale, m plus the share of the step from m
        people's pixels to m + 1's (5.6: six tenths of the way from five to six; the count
        steps at STEP_FILL). For the accuracy benchmark's account of a group counted wrong,
        not for the hot path."""
        cams = np.asarray(cams, np.int64)
        pixels = np.asarray(pixels, np.float64)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        labels = np.zeros(len(cams), np.int64)
        if mean_excess is not None and peak_excess is not None:
            pixels = pixels / cluster_clothing_fill(labels, 1, pixels, mean_excess, peak_excess)
        people = np.array([[x, y]], np.float64)
        sizes, spreads = self.group_sizes(cams, pixels, boxes, labels, people)
        if tracked is not None and len(tracked) and sizes[0] > 1:
            sizes = self._hold_to_tracked(cams, pixels, labels, people, sizes, spreads,
                                          np.asarray(tracked, np.float64).reshape(-1, 2))
        views = sorted(set(cams.tolist()))
        n = pixels.sum()
        # (the spread group_sizes gives a cluster it sizes; one view's too, which it does not size)
        spread = float(self.group_spread(self.box_extents(cams, boxes), np.arange(len(cams))))
        m, below = 1, 0.0
        above = sum(self.group_area(k, x, y, 1, spread) for k in views)
        while n >= above and m < MAX_GROUP:
            m, below = m + 1, above
            above = sum(self.group_area(k, x, y, m, spread) for k in views)
        m -= 1                       # n lies between m people's pixels (below) and m + 1's (above)
        return int(sizes[0]), m + (n - below) / (above - below) if above > below else float(m)

    def fuse(self, detections, live=None, tracked=None):
        """detections: list of (camera index, col, row[, at_edge[, pixels[, col0, row0, col1, row1[,
        mean excess, peak excess]]]]) (excess over the camera's ambient, C); live: bool per
        camera, those working this tick (None: all); tracked: (n, 2) where people were
        tracked before this tick (None: not known). Returns people (k, 2) and labels (per
        detection, the first person of its cluster; -1 for none). With the blobs' pixel
        counts, a cluster that holds a group counts as the group's size (given tracked, no
        more than one beyond the tracks round it on less than HOLD_FILL of the way); with
        their excess, the pixels of clusters whose clothing reads cold count for more
        (cluster_clothing_fill). Afterwards self.group_size holds, per person returned, the
        size of the group they were counted in (1: alone)."""
        self.group_size = np.ones(0, np.int64)
        if len(detections) == 0:
            return np.zeros((0, 2)), np.zeros(0, np.int64)
        det = np.array(detections, np.float64)
        cams = det[:, 0].astype(np.int64)
        # (contiguous columns: one compiled kernel however many detections, numba types by layout)
        origins, dirs, floor = detection_rays(self._origins, self._Rs, self._fxs, self._fys, cams,
                                              np.ascontiguousarray(det[:, 1]), np.ascontiguousarray(det[:, 2]),
                                              self.target_h)
        at_edge = det[:, 3] > 0 if det.shape[1] > 3 else np.zeros(len(det), np.bool_)
        labels, people, _ = associate(cams, origins, dirs, floor, self.gate_m, self.h_low, self.h_high, self.body_m,
                                      at_edge)
        if det.shape[1] > 4 and len(people):
            people, labels = self._drop_fragments(cams, det, labels, people)
            if det.shape[1] > 10:
                det[:, 4] /= cluster_clothing_fill(labels, len(people), det[:, 4], det[:, 9], det[:, 10])
            boxes = det[:, 5:9] if det.shape[1] > 8 else np.tile(det[:, 1:3], 2)
            live = np.ones(len(self.models), np.bool_) if live is None else np.asarray(live, np.bool_)
            table = self.sole_view_pixels(live)
            sole = table[cams, np.clip(np.rint(det[:, 2]).astype(np.int64), 0, ROWS - 1),
                         np.clip(np.rint(det[:, 1]).astype(np.int64), 0, COLS - 1)]
            people, labels, sizes, spreads = self._merge_groups(cams, det[:, 4], boxes, labels, people, sole)
            people, labels, sizes, spreads = self._join_border_fragments(cams, at_edge, origins, dirs, det[:, 4],
                                                                         boxes, labels, people, sizes, spreads, sole)
            people, sizes, spreads = self._place_groups(cams, det, at_edge, boxes, labels, people, sizes, spreads,
                                                        sole)
            if tracked is not None and len(tracked) and len(people) and (sizes > 1).any():
                sizes = self._hold_to_tracked(cams, det[:, 4], labels, people, sizes, spreads,
                                              np.asarray(tracked, np.float64).reshape(-1, 2))
            self.group_size = np.repeat(sizes, sizes)
            people, labels = self._spread_groups(people, labels, sizes, spreads)
        if len(self.group_size) != len(people):
            self.group_size = np.ones(len(people), np.int64)
        return people, labels

    def _merge_groups(self, cams, pixels, boxes, labels, people, sole=None):
        """Group sizes, then: two clusters whose rings overlap, seen by disjoint cameras, are
        one group (a camera that sees only the near side of a group makes a cluster of its
        own beside the others'); the merged cluster is sized again from all its blobs.
        Returns (people, labels, sizes, spreads) with the clusters renumbered."""
        people = people.copy()
        labels = labels.copy()
        sizes, spreads = self.group_sizes(cams, pixels, boxes, labels, people, sole=sole)
        if (sizes == 1).all():
            return people, labels, sizes, spreads       # no group: nothing to merge (most ticks)
        alive = np.ones(len(people), bool)
        while True:
            best, pair = np.inf, None
            for a in np.flatnonzero(alive):
                for b in np.flatnonzero(alive):
                    if b <= a or max(sizes[a], sizes[b]) == 1:
                        continue
                    d = np.hypot(*(people[a] - people[b]))
                    if d >= ring_radius(sizes[a], spreads[a]) + ring_radius(sizes[b], spreads[b]) or d >= best:
                        continue
                    if set(cams[labels == a]) & set(cams[labels == b]):
                        continue
                    best, pair = d, (a, b)
            if pair is None:
                break
            a, b = pair
            wa, wb = pixels[labels == a].sum(), pixels[labels == b].sum()
            people[a] = (people[a] * wa + people[b] * wb) / (wa + wb)
            labels[labels == b] = a
            alive[b] = False
            size, spread = self.group_sizes(cams, pixels, boxes, labels, people, only=a, sole=sole)
            sizes[a], spreads[a] = size[a], spread[a]
        people, labels = _keep_clusters(people, labels, alive)
        return people, labels, sizes[alive], spreads[alive]

    def _join_border_fragments(self, cams, at_edge, origins, dirs, pixels, boxes, labels, people, sizes, spreads,
                               sole=None):
        """A blob no other camera confirms, cut by the image border, is someone partly out
        of view (lone_person_area), unless its ray passes, at any height from the floor to
        the top of person heights, within body_m of the ring of a cluster two cameras
        confirm: then it is part of those people that this camera sees apart from the rest
        (a meeting's edge, a standing person's legs at the border). Its blob joins that
        cluster, which is sized again with its pixels (group_sizes counts a camera's
        expected pixels once however many of its blobs a cluster holds)."""
        lone = (labels >= 0) & at_edge
        if lone.any():      # clusters of that one blob only (most ticks have none: no work)
            members = np.bincount(labels[labels >= 0], minlength=len(people))
            lone[lone] = members[labels[lone]] == 1
        if not lone.any():
            return people, labels, sizes, spreads
        views = [set() for _ in range(len(people))]
        for k, c in zip(cams.tolist(), labels.tolist()):
            if c >= 0:
                views[c].add(k)
        confirmed = np.array([len(v) >= 2 for v in views])
        if not confirmed.any():
            return people, labels, sizes, spreads
        labels = labels.copy()
        keep = np.ones(len(people), bool)
        joined = set()
        heights = np.linspace(0.0, self.h_high, 9)
        for i in np.flatnonzero(lone):
            c = labels[i]
            if dirs[i, 2] > -1e-6:
                continue
            t = (heights - origins[i, 2]) / dirs[i, 2]
            spots = origins[i, :2] + t[:, None] * dirs[i, :2]
            for g in np.flatnonzero(confirmed & keep):
                reach = ring_radius(sizes[g], spreads[g]) + self.body_m
                if np.hypot(spots[:, 0] - people[g, 0], spots[:, 1] - people[g, 1]).min() <= reach:
                    keep[c] = False
                    labels[i] = g
                    joined.add(int(g))
                    break
        if keep.all():
            return people, labels, sizes, spreads
        sizes, spreads = sizes.copy(), spreads.copy()
        for g in joined:
            size, spread = self.group_sizes(cams, pixels, boxes, labels, people, only=g, sole=sole)
            sizes[g], spreads[g] = size[g], spread[g]
        people, labels = _keep_clusters(people, labels, keep)
        return people, labels, sizes[keep], spreads[keep]

    def _drop_fragments(self, cams, det, labels, people):
        """A cluster of one blob (one camera sees it) holding fewer than min_lone_fraction
        of the pixels one whole person would show there (lone_person_area) is not a
        person: the corner of a monitor whose user has gone, say (0.25-0.38 of that area in
        the accuracy benchmark's runs; people seen by one camera 0.48-1.3)."""
        if self.min_lone_fraction <= 0:
            return people, labels
        keep = np.ones(len(people), bool)
        members = np.bincount(labels[labels >= 0], minlength=len(people)).tolist()
        pixels = det[:, 4].tolist()
        for i, (c, k) in enumerate(zip(labels.tolist(), cams.tolist())):
            # most blobs are more than a fragment anywhere in their image: no closer look
            if c >= 0 and members[c] == 1 and pixels[i] < self._lone_bar(k):
                keep[c] = pixels[i] >= self.min_lone_fraction * self.lone_person_area(k, people[c], det[i])
        if keep.all():
            return people, labels
        return _keep_clusters(people, labels, keep)

    def _lone_bar(self, cam):
        """min_lone_fraction of _lone_area_bound(cam), kept per camera (a hot path)."""
        bar = self._lone_bars.get(cam)
        if bar is None:
            bar = self._lone_bars[cam] = self.min_lone_fraction * self._lone_area_bound(cam)
        return bar

    def _lone_area_bound(self, cam):
        """The most pixels one whole person covers in camera cam where a lone blob can be
        (its ray at the target height): the largest over every other pixel, with 10 % to
        spare. A blob holding min_lone_fraction of it needs no closer look, which keeps the
        test off the hot path (were the bound short, a fragment would only be let through)."""
        model = self.models[cam]
        # it depends on the camera's height, orientation and lens, not on where it hangs
        key = (round(float(model.origin[2]), 3), model.R.round(9).tobytes(), model.fx, model.fy, self.target_h)
        bound = _LONE_BOUNDS.get(key)
        if bound is None:
            cols, rows = np.meshgrid(np.arange(0.0, COLS, 2), np.arange(0.0, ROWS, 2))
            spots = model.to_floor(cols.ravel(), rows.ravel(), self.target_h)
            areas = [model.group_area_px([(x, y)]) for x, y in spots if np.isfinite(x) and np.isfinite(y)]
            bound = _LONE_BOUNDS[key] = 1.1 * max(areas, default=0.0)
        return bound

    def lone_person_area(self, cam, xy, blob):
        """The fewest pixels one whole person could show in camera cam for this blob (camera
        index, col, row, at_edge, pixels, col0, row0, col1, row1): one person at xy, or, when
        the blob touches the image border, one standing further out across that border
        wherever the room goes on there (partly out of view, so smaller; the image clips the
        area). Beyond a border that looks past a wall nobody can stand."""
        area = self.group_area(cam, xy[0], xy[1], 1)
        if len(blob) < 9 or blob[3] <= 0:
            return area
        col, row = blob[1], blob[2]
        c0, r0, c1, r1 = blob[5:9]
        model = self.models[cam]
        for dc, dr, touches, to_border in ((-1, 0, c0 <= 0, col + 0.5), (1, 0, c1 >= COLS - 1, COLS - 0.5 - col),
                                           (0, -1, r0 <= 0, row + 0.5), (0, 1, r1 >= ROWS - 1, ROWS - 0.5 - row)):
            if not touches:
                continue
            steps = np.arange(0.5, to_border + EDGE_SEARCH_PX, 0.5)
            for x, y in model.to_floor(col + dc * steps, row + dr * steps, self.target_h):
                if np.isfinite(x) and self.room.contains(x, y):
                    area = min(area, self.group_area(cam, x, y, 1))
        return area

    def _hold_to_tracked(self, cams, pixels, labels, people, sizes, spreads, tracked):
        """Sizes, with each group that two cameras or more see counted as the tracks round it
        (those whose nearest cluster it is, within HOLD_REACH_M of its ring) where it was
        sized one more on less than HOLD_FILL of the way from their count to one more."""
        ring = np.array([ring_radius(int(m), s) for m, s in zip(sizes, spreads)])
        gap = np.hypot(tracked[:, None, 0] - people[None, :, 0], tracked[:, None, 1] - people[None, :, 1]) - ring
        nearest = np.argmin(gap, axis=1)
        near = gap[np.arange(len(tracked)), nearest] <= HOLD_REACH_M
        round_it = np.bincount(nearest[near], minlength=len(people))
        sizes = sizes.copy()
        for c in np.flatnonzero(sizes == round_it + 1):
            p = int(round_it[c])
            members = np.flatnonzero(labels == c)
            views = sorted(set(cams[members].tolist()))
            if p < 1 or len(views) < 2:
                continue
            x, y = people[c]
            need = [self._need(views, x, y, spreads[c], m) for m in (p, p + 1)]
            if need[1] > need[0] and pixels[members].sum() < need[0] + HOLD_FILL * (need[1] - need[0]):
                sizes[c] = p
        return sizes

    @staticmethod
    def _spread_groups(people, labels, sizes, spreads):
        """A cluster of size m > 1 becomes m people on its ring."""
        if (sizes == 1).all():
            return people, labels
        rings = [group_ring(x, y, sizes[c], spreads[c]) for c, (x, y) in enumerate(people)]
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        labels = np.where(labels >= 0, first[np.maximum(labels, 0)], -1)
        return np.concatenate(rings).reshape(-1, 2), labels


# -- frame mode ----------------------------------------------------------------------------
@njit(cache=True)
def _fuse_grid(pixel_of_cell, frames, ambients, ok, grid):
    """grid[c] = mean over usable cameras k that see cell c of frames[k, pixel_of_cell[k, c]] - ambients[k]
    (-1e9 where no usable camera sees it)."""
    ncam, ncell = pixel_of_cell.shape
    for c in range(ncell):
        total = 0.0
        seen = 0
        for k in range(ncam):
            p = pixel_of_cell[k, c]
            if ok[k] and p >= 0:
                total += frames[k, p] - ambients[k]
                seen += 1
        grid[c] = total / seen if seen else -1e9


@njit(cache=True)
def _grid_people(grid, ny, nx, threshold, max_excess, min_cells, labels, stack, out):
    """8-connected regions of cells above threshold; out rows (x index, y index, cells, peak, region
    label). labels[cell] is the region label (from 1) of every cell in a region. Returns count."""
    for i in range(ny * nx):
        labels[i] = 0
    k = 0
    region = 0
    for start in range(ny * nx):
        if labels[start] or grid[start] < threshold:
            continue
        region += 1
        labels[start] = region
        top = 0
        stack[0] = start
        top = 1
        sw = 0.0
        sx = 0.0
        sy = 0.0
        cells = 0
        peak = -1e9
        while top > 0:
            top -= 1
            i = stack[top]
            y = i // nx
            x = i - y * nx
            w = grid[i] - threshold + 0.01
            sw += w
            sx += w * x
            sy += w * y
            cells += 1
            if grid[i] > peak:
                peak = grid[i]
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    yy = y + dy
                    xx = x + dx
                    if 0 <= yy < ny and 0 <= xx < nx:
                        j = yy * nx + xx
                        if not labels[j] and grid[j] >= threshold:
                            labels[j] = region
                            stack[top] = j
                            top += 1
        if cells >= min_cells and peak <= max_excess and k < out.shape[0]:
            out[k, 0] = sx / sw
            out[k, 1] = sy / sw
            out[k, 2] = cells
            out[k, 3] = peak
            out[k, 4] = region
            k += 1
    return k


class FrameFusion:
    """Frame-mode fusion: back-projects whole frames onto a floor grid (weights once per camera)."""

    def __init__(self, room, threshold_c=5.0, max_person_excess_c=18.0, min_area_m2=0.03, contrast=0.45):
        self.room = room
        s = room.settings
        x0, y0, x1, y1 = room.bounds
        self.cell = s.grid_m
        self.xs = np.arange(x0 + self.cell / 2, x1, self.cell)
        self.ys = np.arange(y0 + self.cell / 2, y1, self.cell)
        gx, gy = np.meshgrid(self.xs, self.ys)
        on_floor = floor_mask(room, self.xs, self.ys).ravel()
        self.pixel_of_cell = np.full((len(room.cameras), gx.size), -1, np.int64)
        for k, pose in enumerate(room.cameras):
            cols, rows, vis = CameraModel(pose).to_pixel(gx.ravel(), gy.ravel(), s.target_height_m)
            c = np.clip(np.rint(cols), 0, COLS - 1).astype(np.int64)
            r = np.clip(np.rint(rows), 0, ROWS - 1).astype(np.int64)
            self.pixel_of_cell[k] = np.where(vis & on_floor, r * COLS + c, -1)
        self.grid = np.zeros(gx.size)
        self.labels = np.zeros(gx.size, np.int64)
        self.stack = np.zeros(gx.size, np.int64)
        self.out = np.zeros((64, 5))
        self.association = BlobFusion(room)
        self.threshold = threshold_c
        self.contrast_pct = round(100 * contrast)
        self.max_excess = max_person_excess_c
        self.min_cells = max(1, int(round(min_area_m2 / (self.cell * self.cell))))

    def fuse(self, frames, ambients, ok, blobs=None, tracked=None):
        """frames (n_cameras, 768) C, ambients (n_cameras,) C, ok (n_cameras,) bool -> people (k, 2).
        blobs: per camera, the detector's blobs of that frame (Observation.blobs) or None;
        tracked: where people were tracked before this tick (BlobFusion.fuse)."""
        frames = np.asarray(frames, np.float64)
        ambients = np.asarray(ambients, np.float64)
        ok = np.asarray(ok, np.bool_)
        _fuse_grid(self.pixel_of_cell, frames, ambients, ok, self.grid)
        # the detector's threshold at each camera's ambient (lower in a warm room)
        thresholds = np.array([contrast_threshold_cd(round(self.threshold * 100), self.contrast_pct,
                                                     round(a * 100)) / 100 for a in ambients])
        level = thresholds[ok].min() if ok.any() else self.threshold
        k = _grid_people(self.grid, len(self.ys), len(self.xs), level, self.max_excess, self.min_cells,
                         self.labels, self.stack, self.out)
        return self._people(k, frames, ambients, ok, thresholds, blobs, tracked)

    def _people(self, k, frames, ambients, ok, thresholds, blobs=None, tracked=None):
        """The grid's regions, counted as blob mode counts. A body's views land apart on the
        grid (it is not at one height), so regions are not people: each camera's group of
        pixels that reaches a region is one detection, and the detections are associated by
        their rays (BlobFusion), as blobs are. A group is grown as the detector grows a blob
        (8-connected, in the image, over warm pixels and the fringe down to half the
        threshold), so its pixel count and box are what group sizing expects of a blob;
        its centroid is that of its warm pixels. Its pixel count is at least that of the
        detector's person blobs whose centroids it holds: the detector measures against
        its background with hysteresis (a group's edge pixel is kept down to a third of the
        threshold), which a count against the ambient cannot redo, and a meeting's edge
        pixels, near half the threshold, flicker in and out of it with the noise."""
        from scipy import ndimage
        accepted = np.isin(self.labels, self.out[:k, 4])      # cells of the regions kept
        dets = []
        for cam in np.flatnonzero(ok):
            excess = frames[cam] - ambients[cam] - thresholds[cam]
            warm = excess >= 0
            groups, n = ndimage.label((excess >= -thresholds[cam] / 2).reshape(ROWS, COLS), np.ones((3, 3)))
            if not n:
                continue
            groups = groups.ravel()
            cells = self.pixel_of_cell[cam]
            seen = cells[(cells >= 0) & accepted]               # pixels on the regions kept
            reached = np.unique(groups[seen[warm[seen]]])         # groups with a warm pixel there
            for g in reached[reached > 0]:
                pix = np.flatnonzero(groups == g)
                core = pix[warm[pix]]
                w = excess[core] + 0.01
                rows, cols = np.divmod(pix, COLS)
                at_edge = bool(rows.min() == 0 or rows.max() == ROWS - 1 or cols.min() == 0 or cols.max() == COLS - 1)
                count = max(len(pix), self._detector_pixels(blobs, cam, pix, ambients[cam]))
                dets.append((cam, (core % COLS * w).sum() / w.sum(), (core // COLS * w).sum() / w.sum(), at_edge,
                             count, cols.min(), rows.min(), cols.max(), rows.max()))
        if not dets:
            return np.zeros((0, 2))
        people, _ = self.association.fuse(dets, ok, tracked)
        return people

    @staticmethod
    def _detector_pixels(blobs, cam, pix, ambient):
        """Pixels of camera cam's person blobs (detector) whose centroid is one of pix, each
        blob's over its own clothing_fill (the clusters blob mode judges are not known yet);
        0 without blobs."""
        if blobs is None or blobs[cam] is None or not len(blobs[cam]):
            return 0
        b = blobs[cam][blobs[cam][:, 9] == KIND_PERSON]
        b = b[np.isin(np.rint(b[:, 1]).astype(np.int64) * COLS + np.rint(b[:, 0]).astype(np.int64), pix)]
        return float((b[:, 6] / clothing_fill(b[:, 8] - ambient, b[:, 7] - ambient)).sum())
