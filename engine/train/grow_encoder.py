"""Deepen a tokenizer's refinement encoder without changing what it computes, as a start for fine-tuning.

New blocks are appended as copies of the last block with their three residual outputs (the RoI
injection, the attention's output projection and the MLP's last layer) set to zero, so each starts as
the identity and the grown model encodes exactly as before.

``python -m gpstoken.train.grow_encoder MODEL OUT --depth N``
"""
from __future__ import annotations

import argparse
import copy
import os

import torch

from ..errors import GPSTokenError
from ..models.encoder import RefinementBlock
from ..models.tokenizer import GPSTokenizer


def identity_block(template: RefinementBlock) -> RefinementBlock:
    """A copy of ``template`` whose residual outputs are zero: it passes its input through unchanged."""
    block = copy.deepcopy(template)
    with torch.no_grad():
        for layer in (block.roimlp, block.attn1.out_proj, block.mlp[2]):
            layer.weight.zero_()
            layer.bias.zero_()
    return block


def grown_encoder_model(model: GPSTokenizer, depth: int) -> GPSTokenizer:
    """A copy of ``model`` whose encoder has ``depth`` blocks, the extra ones identity copies of its last."""
    have = model.config.gpsenc_n
    if have < 1:
        raise GPSTokenError("the model's encoder has no block to copy")
    if depth <= have:
        raise GPSTokenError(f"--depth must be more than the encoder's {have} blocks, got {depth}")
    grown = GPSTokenizer(model.config.replace(gpsenc_n=depth))
    grown.load_state_dict(model.state_dict(), strict=False)  # all but the new blocks
    identity = identity_block(model.encoder.attnblocks[-1]).state_dict()
    for block in grown.encoder.attnblocks[have:]:
        block.load_state_dict(identity)
    return grown.eval()


def main(argv: list[str] | None = None) -> int:
    from ..models.checkpoint import load_tokenizer, save_tokenizer

    parser = argparse.ArgumentParser(description="Deepen a tokenizer's encoder with identity blocks.")
    parser.add_argument("model", help="tokenizer .safetensors")
    parser.add_argument("out", help="grown .safetensors to write")
    parser.add_argument("--depth", type=int, required=True, help="encoder blocks of the grown model")
    args = parser.parse_args(argv)
    try:
        model = load_tokenizer(args.model)
        save_tokenizer(grown_encoder_model(model, args.depth), os.fspath(args.out))
    except GPSTokenError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"{args.out}: encoder grown from {model.config.gpsenc_n} to {args.depth} blocks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
