"""``--refine STEPS`` of encode and reconstruct: test-time refinement of the encoded tokens (gpstoken.refine)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Callable

from ..errors import GPSTokenError
from .model_options import precision

if TYPE_CHECKING:
    import numpy as np

    from ..models import GPSTokenizer
    from ..refine import RefineResult, RefineStatus


def add_refine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="after encoding, optimise the tokens through the frozen decoder against the image for up "
                        "to STEPS steps (early stop; the result is never worse than the encoder's)")


def check_refine(args: argparse.Namespace) -> None:
    """Refuse bad ``--refine`` values (and a tile-by-tile decode, which refinement does not optimise)."""
    if args.refine < 0:
        raise GPSTokenError(f"--refine must be >= 0, got {args.refine}")
    if args.refine and getattr(args, "mode", None) == "tiles":
        raise GPSTokenError("--refine optimises the merged decode; it cannot be combined with --mode tiles")


def refine_tokens(model: GPSTokenizer, image: np.ndarray, tokens: np.ndarray, tile_grid: tuple[int, int],
                  args: argparse.Namespace, on_status: Callable[[RefineStatus], object] | None = None,
                  ) -> tuple[np.ndarray, RefineResult]:
    """Tile-local tokens ``[T, N, D]`` -> refined tile-local tokens and the refinement's record."""
    import numpy as np

    from ..refine import refine
    from ..tokens import merge_tiles, split_tiles

    merged = merge_tiles(np.ascontiguousarray(tokens, dtype=np.float32), tile_grid)[0]
    result = refine(model, image, merged, tile_grid, steps=args.refine, precision=precision(args), progress=on_status)
    return split_tiles(result.tokens[None], tile_grid), result


def refine_facts(result: RefineResult) -> dict:
    """The refinement's record for a JSON report."""
    return {"steps": result.steps_done, "best_step": result.best_step, "stopped": result.stopped,
            "psnr_gain_db": round(result.gain_db, 4), "cpu_seconds": round(float(result.seconds_history[-1]), 3)}
