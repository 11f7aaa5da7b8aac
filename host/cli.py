"""The `thermocc` command."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from thermocc._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermocc",
        description="Room occupancy from MLX90640 thermal cameras: firmware tools, host fuser, simulators.")
    parser.add_argument("--version", action="version", version="thermocc " + __version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="the whole chain on a simulated room: boards, broker, fuser, outputs")
    demo.add_argument("--out", default="demo-output", help="folder for outputs (default demo-output)")
    demo.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    demo.add_argument("--start-hour", type=float, default=0.0, help="simulated start, hour of day (default 0)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--frame-interval-s", type=float, default=30.0,
                      help="simulated seconds between frames (default 30; the boards' refresh is kept)")
    demo.add_argument("--moving-interval-s", type=float, default=0.0,
                      help="frames also this often while someone walks (default 0: none, so a simulated day "
                           "takes minutes; `thermocc simulate` and the accuracy benchmark use 1)")
    demo.add_argument("--broker", help="host:port of a broker to use instead of an embedded one")
    demo.add_argument("--no-plots", action="store_true", help="skip the PNG and the animation")
    demo.add_argument("--mode", choices=["blob", "frame"],
                      help="frame: the boards stream raw frames and the host fuses pixels (default: the room's)")

    sensor = sub.add_parser("sensor-demo", help="the driver on one simulated sensor, as a text heat map")
    sensor.add_argument("--frames", type=int, default=2)
    sensor.add_argument("--seed", type=int, default=1)
    sensor.add_argument("--refresh-hz", type=float, default=4, choices=[0.5, 1, 2, 4, 8, 16, 32, 64])
    sensor.add_argument("--no-noise", action="store_true")

    run = sub.add_parser("run", help="the host daemon: subscribe, fuse, write outputs and live results")
    run.add_argument("--config", required=True, help="site file (docs/host.md)")
    run.add_argument("--room", action="append", help="serve only this room (repeatable)")
    run.add_argument("--out", help="output folder (default: the site file's outputs)")
    run.add_argument("--mode", choices=["blob", "frame"], help="override the rooms' fusion mode")

    rp = sub.add_parser("replay", help="process journals, SD log folders or raw-frame CSV into outputs")
    rp.add_argument("--config", required=True, help="site file")
    rp.add_argument("--room", action="append")
    rp.add_argument("--out", required=True, help="output folder")
    rp.add_argument("--journal", action="append", default=[], help="a daemon journal (repeatable)")
    rp.add_argument("--logs", action="append", default=[], help="a node's pulled SD log folder (repeatable)")
    rp.add_argument("--csv", action="append", default=[], help="raw-frame CSV timestamp,camera,p0..p767")
    rp.add_argument("--mode", choices=["blob", "frame"])
    rp.add_argument("--all-frames", action="store_true",
                    help="use every logged blob record, not only those the board published")

    cal = sub.add_parser("calibrate", help="fit a camera's pose from reference points; prints residuals in m")
    cal.add_argument("--room", required=True, help="room file")
    cal.add_argument("--camera", required=True, help="node/cam")
    cal.add_argument("--fit", default="x,y,height,yaw_deg,pitch_deg,roll_deg",
                     help="pose parameters to fit (default all six)")

    cov = sub.add_parser("coverage", help="floor area each camera sees, overlaps, blind area, and where a "
                         "whole person is out of every view with each camera offline")
    cov.add_argument("--room", required=True)
    cov.add_argument("--height", type=float, help="target height in m (default: the room's)")
    cov.add_argument("--png", help="also draw the floor plan with camera footprints here")

    ex = sub.add_parser("export", help="full-year Ladybug and EnergyPlus schedule files from an output.csv")
    ex.add_argument("--room", required=True, help="room file")
    ex.add_argument("--output-csv", required=True)
    ex.add_argument("--out", required=True)

    pl = sub.add_parser("plot", help="PNG of the L1-L4 series of an output.csv")
    pl.add_argument("--room", required=True)
    pl.add_argument("--output-csv", required=True)
    pl.add_argument("--png", required=True)

    pu = sub.add_parser("pull", help="copy a board's SD logs (USB, or --network over MQTT) into logs/<node>/")
    from thermocc_tools import pull
    pull.add_arguments(pu)
    nc = sub.add_parser("node-config", help="write each board's config.json from the site file's nodes")
    nc.add_argument("--site", default="site.json")
    nc.add_argument("--node", default=None, help="only this node")
    nc.add_argument("--out", default="build/nodes")

    from thermocc_tools import simulate_cli
    simulate_cli.add_commands(sub)
    return parser


def _fail(message):
    print("thermocc: " + message, file=sys.stderr)
    return 2


class _ReplayProgress:
    """One line per input on stderr, rewritten in place: 'what: i/n' (n None: rows read so far)."""

    def __init__(self):
        self.what = None

    def __call__(self, i, n, what):
        if self.what not in (None, what):
            print(file=sys.stderr)                  # the previous input's line stays
        self.what = None if i == n else what
        text = "%s: %d rows read" % (what, i) if n is None else "%s: %d/%d" % (what, i, n)
        print("\r" + text, end="\n" if i == n else "", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    from thermocc.room import RoomConfigError
    try:
        return _dispatch(parser, args)
    except RoomConfigError as e:
        return _fail(str(e))
    except (ValueError, FileNotFoundError) as e:
        return _fail(str(e))


def _dispatch(parser, args):
    if args.command == "sensor-demo":
        from thermocc import sensor_demo
        sensor_demo.run(frames=args.frames, seed=args.seed, refresh_hz=args.refresh_hz, noise=not args.no_noise)
        return 0
    if args.command == "run":
        from thermocc.daemon import run
        from thermocc.site import load_site
        return run(load_site(args.config, args.room), args.out, mode=args.mode)
    if args.command == "replay":
        from thermocc.daemon import replay
        from thermocc.site import load_site
        if not (args.journal or args.logs or args.csv):
            return _fail("replay needs input: --journal, --logs or --csv")
        stats = replay(load_site(args.config, args.room), Path(args.out), args.journal, args.logs, args.csv,
                       mode=args.mode, all_frames=args.all_frames,
                       progress=_ReplayProgress())
        print(json.dumps(stats, indent=1))
        return 0
    if args.command == "calibrate":
        from thermocc.camera import calibrate, floor_residuals
        from thermocc.room import load_room
        room = load_room(args.room)
        node, _, cam = args.camera.partition("/")
        pose = next((c for c in room.cameras if c.node == node and c.id == cam), None)
        if pose is None:
            return _fail("%s has no camera %s; cameras: %s" % (args.room, args.camera,
                                                                ", ".join("%s/%s" % (c.node, c.id) for c in room.cameras)))
        if not pose.reference_points:
            return _fail("camera %s has no reference_points in %s; record a person standing on known floor marks "
                         "(pixel + floor) first (docs/host.md)" % (args.camera, args.room))
        before = floor_residuals(pose, pose.reference_points)
        fitted, res = calibrate(pose, fit=[f.strip() for f in args.fit.split(",")])
        print("camera %s: %d reference points" % (args.camera, len(res)))
        print("residual before: mean %.3f m, max %.3f m" % (before.mean(), before.max()))
        print("residual after:  mean %.3f m, max %.3f m" % (res.mean(), res.max()))
        print("fitted pose (paste into the room file):")
        print(json.dumps({"position": [round(v, 3) for v in fitted.position], "yaw_deg": round(fitted.yaw_deg, 2),
                          "pitch_deg": round(fitted.pitch_deg, 2), "roll_deg": round(fitted.roll_deg, 2)}))
        return 0
    if args.command == "coverage":
        from thermocc.camera import coverage
        from thermocc.room import load_room
        room = load_room(args.room)
        _, _, _, summary = coverage(room, args.height)
        if args.height is None:         # people held out of view: at the room's target height
            from thermocc.hidden import HiddenPeople
            summary["out_of_every_view"] = HiddenPeople(room).summary()
        print(json.dumps(summary, indent=1))
        if summary["blind_m2"] > 0:
            print("warning: %.2f m2 of floor is seen by no camera at %.2f m" %
                  (summary["blind_m2"], args.height or room.settings.target_height_m), file=sys.stderr)
        if args.png:
            from thermocc.plots import floor_plan
            floor_plan(room, args.png)
            print("floor plan: %s" % args.png)
        return 0
    if args.command == "export":
        from thermocc.outputs import export_year
        from thermocc.room import load_room
        print(json.dumps(export_year(args.output_csv, load_room(args.room), args.out), indent=1))
        return 0
    if args.command == "plot":
        from thermocc.plots import series_png
        from thermocc.room import load_room
        series_png(load_room(args.room), args.output_csv, args.png)
        print(args.png)
        return 0
    if args.command == "pull":
        from thermocc_tools import pull
        return pull.run(args)
    if args.command == "node-config":
        from thermocc_tools.deploy import main as deploy_main
        return deploy_main(["node-config", "--site", args.site, "--out", args.out]
                           + (["--node", args.node] if args.node else []))
    from thermocc_tools import simulate_cli
    if simulate_cli.handles(args.command):
        return simulate_cli.dispatch(parser, args)
    parser.error("unknown command %r" % args.command)
    return 2


if __name__ == "__main__":
    sys.exit(main())
