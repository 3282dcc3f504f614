"""Neural models: the GPSToken tokenizer (encoder, decoder), its configs and checkpoints."""
from __future__ import annotations

from .checkpoint import load_tokenizer, save_tokenizer
from .config import PRESETS, TokenizerConfig, from_official_yaml, preset
from .pipeline import Reconstruction, decode_tokens, encode_image, reconstruct
from .tokenizer import GPSTokenizer

__all__ = [
    "GPSTokenizer", "TokenizerConfig", "PRESETS", "preset", "from_official_yaml",
    "load_tokenizer", "save_tokenizer", "Reconstruction", "encode_image", "decode_tokens", "reconstruct",
]
