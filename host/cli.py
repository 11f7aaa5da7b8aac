"""The `thermocc` command."""
from __future__ import annotations

import argparse
import sys

from thermocc._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermocc",
        description="Room occupancy from MLX90640 thermal cameras: firmware tools, host fuser, simulators.")
    parser.add_argument("--version", action="version", version="thermocc " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the driver on a simulated sensor and show a frame (no hardware needed)")
    demo.add_argument("--frames", type=int, default=2, help="frames to read before showing the last (default 2)")
    demo.add_argument("--seed", type=int, default=1, help="which simulated sensor calibration (default 1)")
    demo.add_argument("--refresh-hz", type=float, default=4, choices=[0.5, 1, 2, 4, 8, 16, 32, 64])
    demo.add_argument("--no-noise", action="store_true", help="leave out the datasheet's sensor noise")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        if args.frames < 1:
            parser.error("--frames must be at least 1")
        from thermocc import sensor_demo
        sensor_demo.run(frames=args.frames, seed=args.seed, refresh_hz=args.refresh_hz, noise=not args.no_noise)
        return 0
    parser.error("unknown command %r" % args.command)
    return 2


if __name__ == "__main__":
    sys.exit(main())
