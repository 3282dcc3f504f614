"""GPSTokenizer: the refinement encoder, the splatting renderer and the CNN decoder together.

Tensor-level API (differentiable; the caller picks grad/inference mode and autocast):
``encode`` (image tiles + layout -> tokens), ``render`` (tokens -> feature map), ``decode_features``
and ``decode`` (tokens -> image). Image-level helpers live in :mod:`gpstoken.models.pipeline`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import GPSTokenError
from .config import DECODE_MODES, TokenizerConfig
from .decoder import Decoder
from .encoder import TokenEncoder
from .tiling import from_tiles

_ENCODER_PREFIX = "encoder."


class GPSTokenizer(nn.Module):
    """GPSToken tokenizer of a given :class:`TokenizerConfig`."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = TokenEncoder(
            gps_c=config.gps_c, width=config.gpsenc_c, depth=config.gpsenc_n, heads=config.heads,
            rois=config.rois, image_channels=config.preprocess_channels,
        )
        self.decoder = Decoder(
            ch=config.decoder_ch, ch_mult=config.decoder_ch_mult, num_res_blocks=config.decoder_num_res_blocks,
            z_channels=config.z_channels, mid_attention=config.mid_attention,
            padding_mode=config.decoder_padding, norm=config.decoder_norm,
        )

    # --- weights under the reference's key names -------------------------------------------------

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict with the reference's key names (encoder parts at the top level)."""
        return {_official_key(k): v for k, v in self.state_dict().items()}

    def load_official_state_dict(self, state: dict[str, torch.Tensor], assign: bool = False) -> None:
        """Strictly load weights stored under the reference's key names (``assign``: adopt the tensors)."""
        ours = {k if k.startswith("decoder.") else _ENCODER_PREFIX + k: v for k, v in state.items()}
        self.load_state_dict(ours, strict=True, assign=assign)

    # --- tensor API -------------------------------------------------------------------------------

    def encode(self, images: torch.Tensor, g_init: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """``images [B,3,H,W]`` in [-1,1] (one tile each), ``g_init [B,N,5]``, ``regions [B,N,4]``
        (normalised, inclusive ends) -> tokens ``[B,N,5+gps_c]``. Any N; inputs are not modified."""
        _check_encode_inputs(images, g_init, regions)
        device = self.device
        return self.encoder(images.to(device), g_init.to(device), regions.to(device))

    def render(self, tokens: torch.Tensor, tile_grid: tuple[int, int] = (1, 1)) -> torch.Tensor:
        """Tile-local tokens ``[B*T,N,D]`` -> merged feature map ``[B, gps_c, rs*rows, rs*cols]``."""
        from ..render import render_tiles

        _check_tokens(tokens, self.config)
        with torch.autocast(device_type=tokens.device.type, enabled=False):  # splat in float32
            return render_tiles(tokens.float(), tile_grid, grid_per_tile=self.config.gps_rs[0],
                                support=self.config.gps_dmax)

    def decode_features(self, features: torch.Tensor, tile_grid: tuple[int, int] = (1, 1)) -> torch.Tensor:
        """Feature map ``[B, gps_c, h, w]`` -> image ``[B, 3, h*u, w*u]`` (u = upsampling factor), with
        tile-blended statistics and tile-local attention over the ``tile_grid`` of the map."""
        return self.decoder(features.to(self.device), tuple(tile_grid))

    def decode(self, tokens: torch.Tensor, tile_grid: tuple[int, int] = (1, 1), mode: str | None = None,
               tiles_per_batch: int = 4) -> torch.Tensor:
        """Tile-local tokens ``[B*T,N,D]`` -> raw images ``[B,3,H,W]`` (unclamped).

        ``mode="merged"``: all tokens rendered on one plane and decoded once (the reference's path for
        models under 256 tokens); ``"tiles"``: each tile rendered and decoded alone, then stitched
        (its path for 256-token models). None picks the reference's rule for this model.
        """
        mode = mode or self.config.default_decode_mode
        if mode not in DECODE_MODES:
            raise GPSTokenError(f"decode mode must be one of {', '.join(DECODE_MODES)}, got {mode!r}")
        grid = _check_grid(tile_grid, tokens)
        tokens = tokens.to(self.device)
        if mode == "merged":
            return self.decode_features(self.render(tokens, grid), grid)
        chunks = [self.decode_features(self.render(part)) for part in torch.split(tokens, tiles_per_batch)]
        return from_tiles(torch.cat(chunks), grid)

    def forward(self, images: torch.Tensor, g_init: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """Encode then decode single tiles (the training step): ``[B,3,H,W]`` -> ``[B,3,H,W]``."""
        return self.decode(self.encode(images, g_init, regions), (1, 1), "merged")

    @property
    def device(self) -> torch.device:
        return self.decoder.conv_out.weight.device


def _official_key(key: str) -> str:
    return key[len(_ENCODER_PREFIX):] if key.startswith(_ENCODER_PREFIX) else key


def _check_encode_inputs(images: torch.Tensor, g_init: torch.Tensor, regions: torch.Tensor) -> None:
    if images.dim() != 4 or images.shape[1] != 3:
        raise GPSTokenError(f"encode: images must be [B,3,H,W], got {tuple(images.shape)}")
    if g_init.dim() != 3 or g_init.shape[-1] < 5:
        raise GPSTokenError(f"encode: g_init must be [B,N,5], got {tuple(g_init.shape)}")
    if regions.dim() != 3 or regions.shape[-1] != 4:
        raise GPSTokenError(f"encode: regions must be [B,N,4], got {tuple(regions.shape)}")
    if not images.shape[0] == g_init.shape[0] == regions.shape[0] or g_init.shape[1] != regions.shape[1]:
        raise GPSTokenError(
            f"encode: images {tuple(images.shape)}, g_init {tuple(g_init.shape)} and regions "
            f"{tuple(regions.shape)} disagree in batch or token count"
        )
    if images.shape[-1] < 2 or images.shape[-2] < 2:
        raise GPSTokenError(f"encode: images must be at least 2x2 pixels, got {tuple(images.shape)}")
    for name, t in (("g_init", g_init), ("regions", regions)):
        if not torch.isfinite(t).all():
            raise GPSTokenError(f"encode: {name} holds NaN or infinite values")


def _check_tokens(tokens: torch.Tensor, config: TokenizerConfig) -> None:
    if tokens.dim() != 3 or tokens.shape[-1] != config.token_dim:
        raise GPSTokenError(
            f"tokens must be [tiles, N, {config.token_dim}] for this model (gps_c={config.gps_c}), "
            f"got {tuple(tokens.shape)}"
        )


def _check_grid(tile_grid: tuple[int, int], tokens: torch.Tensor) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in tile_grid)
    except (TypeError, ValueError):
        raise GPSTokenError(f"tile_grid must be (rows, cols), got {tile_grid!r}") from None
    if rows < 1 or cols < 1 or tokens.shape[0] % (rows * cols):
        raise GPSTokenError(f"{tokens.shape[0]} token sets do not fill whole images of {rows}x{cols} tiles")
    return rows, cols
