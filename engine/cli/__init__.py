"""The ``gpstoken`` command line: one module per sub-command, each with ``add_parser`` and ``run``."""
from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import Cancelled, GPSTokenError

# Sub-command name -> module in this package. Each module defines
# ``add_parser(subparsers) -> argparse.ArgumentParser`` and ``run(args) -> int``.
COMMANDS = {
    "partition": "partition_cmd",
    "render": "render_cmd",
    "fit": "fit_cmd",
    "extract": "extract_cmd",
    "generate": "generate_cmd",
    "train": "train_cmd",
    "encode": "encode_cmd",
    "decode": "decode_cmd",
    "reconstruct": "reconstruct_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="gpstoken", description="GPSToken engine command line.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: $GPSTOKEN_THREADS or 1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        mod = importlib.import_module(f"{__name__}.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, and turn user errors into one line on stderr with exit status 2."""
    from ..settings import set_threads

    args = build_parser().parse_args(argv)
    try:
        set_threads(args.threads)
        return int(args._run(args) or 0)
    except GPSTokenError as exc:
        print(f"gpstoken {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Cancelled:
        print(f"gpstoken {args.command}: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"gpstoken {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
