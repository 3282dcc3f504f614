"""The ``gpstoken`` command line: one module per sub-command, each with ``add_parser`` and ``run``.

Building the parser imports no numpy, torch or PIL (the command modules import those inside ``run``),
so ``--help`` and argument errors answer at once.
"""
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


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line on stderr (``PROG: error: ...``, usage via --help) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered sub-command."""
    parser = OneLineParser(prog="gpstoken", description="GPSToken engine command line.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: $GPSTOKEN_THREADS or 1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        mod = importlib.import_module(f"{__name__}.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, and turn user errors into one line on stderr with exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        from ..settings import set_threads

        set_threads(args.threads)
        return int(args._run(args) or 0)
    except GPSTokenError as exc:
        message = str(exc).strip().splitlines()
        print(f"gpstoken {args.command}: error: {message[0] if message else type(exc).__name__}", file=sys.stderr)
        return 2
    except Cancelled:
        print(f"gpstoken {args.command}: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"gpstoken {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
