"""The CNN decoder: feature map ``[B, C, h, w]`` -> image ``[B, 3, h*2^(L-1), w*2^(L-1)]``.

Module names follow the reference (``conv_in``, ``mid.block_1/attn_1/block_2``, ``up.{i}.block``,
``up.{i}.upsample``, ``norm_out``, ``conv_out``; ``up[0]`` is the highest resolution) so official
weights load unchanged. With a tile grid other than 1x1 it runs the reference's high-resolution path:
tile-blended GroupNorm statistics and mid attention within each latent tile.

``padding_mode="replicate"`` pads every 3x3 convolution with the edge values instead of zeros, so
the map's border looks like its interior: with zero padding the decoder answers a flat map with a
border response that the encoder learns to cancel per token position, and that cancellation shows
up as blobs at each tile's corner wherever the map goes on (the interior of a merged tile plane).

``norm="affine"`` replaces each GroupNorm by a per-channel scale and shift. GroupNorm over the whole
map lets a trained model park a large feature in one place (each tile's bottom-right tokens) whose
variance then dominates the statistics and sets the scale of everything else (the "droplet" of
StyleGAN's AdaIN); the spike decodes as a blob, and a map without one (a flat image) has its faint
ripples blown up to unit variance as stripes. Without statistics neither can happen.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ChannelAffine, GroupNorm32, ResnetBlock, TiledGroupNorm, swish
from .tiling import from_tiles, to_tiles


class LatentAttention(nn.Module):
    """Single-head self-attention over all positions of a map (GroupNorm, 1x1 q/k/v/proj_out)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = GroupNorm32(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        z = self.norm(x)
        # [b, 1, h*w, c] with unit stride on c (a free view of channels-last maps) takes the fused kernel.
        q, k, v = (m(z).permute(0, 2, 3, 1).reshape(b, 1, h * w, c).contiguous() for m in (self.q, self.k, self.v))
        att = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj_out(att.reshape(b, h, w, c).permute(0, 3, 1, 2))


NORMS = {"group": TiledGroupNorm, "affine": ChannelAffine}


class Upsample(nn.Module):
    """Nearest-neighbour x2 then a 3x3 convolution."""

    def __init__(self, channels: int, padding_mode: str = "zeros") -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Decoder(nn.Module):
    """LDM-style decoder with ``len(ch_mult)`` levels of ``num_res_blocks + 1`` resnet blocks;
    ``norm``: ``group`` (the reference's GroupNorm) or ``affine`` (no statistics)."""

    def __init__(self, ch: int, ch_mult: tuple[int, ...], num_res_blocks: int, z_channels: int,
                 out_channels: int = 3, mid_attention: bool = True, padding_mode: str = "zeros",
                 norm: str = "group") -> None:
        super().__init__()
        norm_class = NORMS[norm]
        width = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z_channels, width, 3, padding=1, padding_mode=padding_mode)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(width, norm=norm_class, padding_mode=padding_mode)
        if mid_attention:
            self.mid.attn_1 = LatentAttention(width)
        self.mid.block_2 = ResnetBlock(width, norm=norm_class, padding_mode=padding_mode)
        self.up = nn.ModuleList()
        for level in reversed(range(len(ch_mult))):
            stage = nn.Module()
            stage.block = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                stage.block.append(ResnetBlock(width, ch * ch_mult[level], norm=norm_class, padding_mode=padding_mode))
                width = ch * ch_mult[level]
            if level != 0:
                stage.upsample = Upsample(width, padding_mode)
            self.up.insert(0, stage)
        self.norm_out = norm_class(width)
        self.conv_out = nn.Conv2d(width, out_channels, 3, padding=1, padding_mode=padding_mode)

    def forward(self, z: torch.Tensor, tile_grid: tuple[int, int] = (1, 1)) -> torch.Tensor:
        """Decode ``z``; ``tile_grid`` (rows, cols) selects tile-blended statistics and tile-local
        attention (the map must split evenly into that grid)."""
        tile_grid = tuple(tile_grid)
        # Channels-last convolutions are markedly faster on CPU (and no slower on GPU).
        z = z.contiguous(memory_format=torch.channels_last)
        h = self.mid.block_1(self.conv_in(z), tile_grid)
        if hasattr(self.mid, "attn_1"):
            h = from_tiles(self.mid.attn_1(to_tiles(h, tile_grid)), tile_grid)
        h = self.mid.block_2(h, tile_grid)
        for stage in reversed(self.up):
            for block in stage.block:
                h = block(h, tile_grid)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        # The reference normalises the output over the whole map, not per tile.
        return self.conv_out(swish(self.norm_out(h)))
