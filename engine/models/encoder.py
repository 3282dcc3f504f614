"""The refinement encoder: (image, g_init, regions) -> refined Gaussian tokens.

An image branch (conv + two resnet blocks at full resolution) is RoI-pooled to ``rois x rois`` cells
per region; a stack of transformer blocks refines one query per token, each block adding its own
linear pooling of the RoI cells to the stream. Module names equal the reference's state-dict keys.
"""
from __future__ import annotations

import torch
from torch import nn

from ..tokens import MY, RHO, SX, SY
from .layers import GroupNorm32, ResnetBlock
from .roi_align import roi_align

# The reference builds its image-branch blocks with a (never used) 512-wide time embedding.
UNUSED_TEMB_CHANNELS = 512
# Open-range margin for the logit/atanh residual; valid partitions never come this close.
_RANGE_EPS = 1e-6


class RefinementBlock(nn.Module):
    """RoI injection (Linear over the RoI cells, added), pre-LN self-attention, pre-LN GELU MLP."""

    def __init__(self, width: int, heads: int, roi_cells: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.roimlp = nn.Linear(roi_cells, 1)
        self.ln1 = nn.LayerNorm(width)
        self.attn1 = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))

    def forward(self, x: torch.Tensor, roi_features: torch.Tensor) -> torch.Tensor:
        """``x [B,N,E]``, ``roi_features [B*N,E,cells]`` -> ``[B,N,E]``."""
        x = x + self.roimlp(roi_features).reshape(x.shape)
        z = self.ln1(x)
        x = x + self.attn1(z, z, z, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TokenEncoder(nn.Module):
    """Image + initial Gaussians + their regions -> tokens ``[B, N, 5 + gps_c]``."""

    def __init__(self, gps_c: int, width: int, depth: int, heads: int, rois: int, image_channels: int) -> None:
        super().__init__()
        self.rois = rois
        self.preprocess_img = nn.Sequential(
            nn.Conv2d(3, image_channels, 3, padding=1),
            ResnetBlock(image_channels, temb_channels=UNUSED_TEMB_CHANNELS, norm=GroupNorm32),
            ResnetBlock(image_channels, temb_channels=UNUSED_TEMB_CHANNELS, norm=GroupNorm32),
        )
        self.roialign_layer = nn.Conv2d(image_channels, width, 1)
        self.gps_embed = nn.Embedding(1, width)
        self.attnblocks = nn.ModuleList(RefinementBlock(width, heads, rois * rois) for _ in range(depth))
        self.gps_embed_layer = nn.Sequential(nn.Linear(5, width), nn.GELU(), nn.Linear(width, width))
        self.to_gps = nn.ModuleList([nn.Linear(width, 5), nn.Linear(width, gps_c)])
        nn.init.zeros_(self.to_gps[0].weight)
        nn.init.zeros_(self.to_gps[0].bias)

    def forward(self, images: torch.Tensor, g_init: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        """``images [B,3,H,W]`` in [-1,1], ``g_init [B,N,5]``, ``regions [B,N,4]`` (normalised
        (x1, y1, x2, y2), inclusive ends) -> ``[B,N,5+gps_c]``. Inputs are not modified."""
        # Channels-last convolutions are faster, and RoIAlign gathers channel vectors anyway.
        features = self.preprocess_img(images.contiguous(memory_format=torch.channels_last))
        pooled = roi_align(features, _boxes(regions, images.shape[-2:]), self.rois)
        roi_features = self.roialign_layer(pooled).flatten(2)
        x = self.gps_embed.weight[None] + self.gps_embed_layer(g_init[..., :5])
        for block in self.attnblocks:
            x = block(x, roi_features)
        # The heads run in float32 even under autocast: bf16 would move centres by a pixel.
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            geometry = refine_geometry(g_init[..., :5].float(), self.to_gps[0](x))
            return torch.cat([geometry, self.to_gps[1](x)], dim=-1)


def _boxes(regions: torch.Tensor, size_hw: torch.Size) -> torch.Tensor:
    """Normalised regions ``[B,N,4]`` -> RoIAlign boxes ``[B*N,5]`` (batch index, pixel corners)."""
    h, w = size_hw
    b, n = regions.shape[:2]
    scale = regions.new_tensor([w - 1, h - 1, w - 1, h - 1], dtype=torch.float32)
    pixels = scale * (regions.float() + 1) / 2
    index = torch.arange(b, device=regions.device, dtype=torch.float32).repeat_interleave(n)
    return torch.cat([index[:, None], pixels.reshape(b * n, 4)], dim=1)


def refine_geometry(g_init: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """The reference's residual in logit/atanh space: sigma' = sigmoid(logit(sigma) + d),
    v' = tanh(atanh(v) + d/2) for rho, mu_x, mu_y."""
    g = g_init.to(delta.dtype)
    sigma = torch.sigmoid(torch.logit(g[..., SX:SY + 1].clamp(_RANGE_EPS, 1 - _RANGE_EPS)) + delta[..., SX:SY + 1])
    signed = g[..., RHO:MY + 1].clamp(-1 + _RANGE_EPS, 1 - _RANGE_EPS)
    signed = torch.tanh(torch.atanh(signed) + delta[..., RHO:MY + 1] / 2)
    return torch.cat([sigma, signed], dim=-1)
