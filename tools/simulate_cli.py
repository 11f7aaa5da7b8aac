"""`thermocc demo`, `thermocc simulate` and `thermocc score`: the simulated-room commands."""
from __future__ import annotations

import json
import sys

COMMANDS = ("demo", "simulate", "score")


def add_commands(sub):
    sim = sub.add_parser("simulate", help="write simulated data without the live chain: raw-frame CSV, "
                                          "SD logs, ground truth")
    sim.add_argument("--out", required=True)
    sim.add_argument("--room", help="room file (default: the example lab)")
    sim.add_argument("--hours", type=float, default=2.0)
    sim.add_argument("--start-hour", type=float, default=8.0)
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--frame-interval-s", type=float, default=30.0,
                     help="simulated seconds between frames; truth is written at these (default 30)")
    sim.add_argument("--moving-interval-s", type=float, default=1.0,
                     help="frames also this often while someone walks, as a board sends blobs when they "
                          "change (default 1, as the accuracy benchmark; 0: none)")
    sim.add_argument("--scenario", help="normal, finals, summer, holiday, weekend, crowded (default: calendar)")

    sc = sub.add_parser("score", help="compare a run's fused ticks with ground truth")
    sc.add_argument("--ticks", required=True, help="ticks.csv of the run")
    sc.add_argument("--truth", required=True, help="truth.csv of the simulation")
    sc.add_argument("--output-csv", help="output.csv of the run, for the L2/L3 errors")
    sc.add_argument("--room", help="room file (zone names for L3 errors; camera views, so that people no "
                                   "camera sees are told apart)")
    sc.add_argument("--offline", action="append", default=[], metavar="NODE/CAMERA",
                    help="a camera of the room that delivered nothing in this run (repeat for more)")
    sc.add_argument("--png", help="also draw the count errors: when (true and fused counts) and, with --room, "
                                  "where, by cause")
    sc.add_argument("--lag-s", type=float, help="compare truth at t with ticks at t + this (default: the room's "
                                                "tracker settling time, 4 s for the defaults)")
    sc.add_argument("--earliest-s", type=float,
                    help="or with the first tick from t + this to t + lag that has the true count (an arrival "
                         "shows sooner than a departure; default: track_confirm_ticks - 1 ticks, 1 s for the "
                         "defaults; the lag or more: that tick only)")


def handles(command):
    return command in COMMANDS


def _check_times(parser, args):
    """demo and simulate: how long to simulate and how often the cameras look."""
    if args.hours <= 0 or args.frame_interval_s <= 0:
        parser.error("--hours and --frame-interval-s must be positive")
    if args.moving_interval_s < 0:
        parser.error("--moving-interval-s must be 0 (none) or positive")


def dispatch(parser, args):
    if args.command == "demo":
        from thermocc_tools.room_chain import run_chain
        broker = None
        if args.broker:
            host, _, port = args.broker.rpartition(":")
            if not host or not port.isdigit():
                parser.error("--broker must be host:port, got %r" % args.broker)
            broker = (host, int(port))
        _check_times(parser, args)
        result = run_chain(args.out, hours=args.hours, start_hour=args.start_hour, seed=args.seed,
                           frame_interval_s=args.frame_interval_s, broker=broker, plots=not args.no_plots,
                           mode=args.mode, moving_interval_s=args.moving_interval_s)
        from thermocc.room import EXAMPLE_ROOM, load_room
        from thermocc.score import NothingToScore, format_causes, format_table, score, settle_window
        room = load_room(EXAMPLE_ROOM)
        out = result["outputs"]
        earliest, lag = settle_window(room)
        try:
            res = score(out + "/ticks.csv", result["truth"], out + "/output.csv", zones=[z.name for z in room.zones],
                        lag_s=lag, earliest_s=earliest, room=room, detail=not args.no_plots)
        except NothingToScore:
            res = None                      # so short a run closed no timestep: ticks are written per step
        if res is not None and not args.no_plots:
            from pathlib import Path

            from thermocc.plots import count_errors
            result["errors_png"] = str(Path(args.out) / "errors.png")
            count_errors(res, result["errors_png"], room, title="demo, %s mode" % (args.mode or room.settings.mode))
        print("\nthermocc demo: %s" % ", ".join(result["scenario"]))
        print("  outputs:    %s/output.csv, zones/, ticks.csv" % out)
        for key in ("levels_png", "floor_png", "animation", "errors_png"):
            if key in result:
                print("  picture:    %s" % result[key])
        print("  truth:      %s" % result["truth"])
        if res is None:
            print("\naccuracy: nothing to score yet, the run closed no %d-minute step (give it more --hours)"
                  % room.settings.timestep_min)
            return 0
        print("\naccuracy against the simulation's ground truth:")
        print(format_table({"demo (%s mode)" % (args.mode or room.settings.mode): res}))
        print("\n".join(format_causes(res)))
        return 0
    if args.command == "simulate":
        from thermocc_tools.room_chain import simulate_files
        _check_times(parser, args)
        result = simulate_files(args.out, hours=args.hours, start_hour=args.start_hour, seed=args.seed,
                                frame_interval_s=args.frame_interval_s, room_file=args.room, scenario=args.scenario,
                                moving_interval_s=args.moving_interval_s)
        print(json.dumps(result, indent=1))
        return 0
    if args.command == "score":
        from thermocc.room import EXAMPLE_ROOM, load_room
        from thermocc.score import format_causes, format_table, score, settle_window
        room = load_room(args.room or EXAMPLE_ROOM)
        zones = [z.name for z in room.zones] if args.room else None
        names = ["%s/%s" % (c.node, c.id) for c in room.cameras]
        if args.offline and not args.room:
            parser.error("--offline needs --room (the room whose cameras were offline)")
        unknown = [c for c in args.offline if c not in names]
        if unknown:
            parser.error("--offline %s: not a camera of %s (its cameras: %s)" % (unknown[0], room.name, ", ".join(names)))
        earliest, lag = settle_window(room)
        lag = args.lag_s if args.lag_s is not None else lag
        earliest = min(lag, args.earliest_s if args.earliest_s is not None else earliest)
        res = score(args.ticks, args.truth, args.output_csv, lag_s=lag, earliest_s=earliest, zones=zones,
                    room=room if args.room else None,
                    offline=[names.index(c) for c in args.offline], detail=bool(args.png))
        print(format_table({"run": res}))
        print("\n".join(format_causes(res)))
        if args.png:
            from thermocc.plots import count_errors
            count_errors(res, args.png, room if args.room else None, title=args.ticks)
            print("picture: %s" % args.png)
            del res["counts"], res["errors"]
        print(json.dumps(res, indent=1), file=sys.stderr)
        return 0
    return 2
