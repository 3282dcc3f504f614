"""Convolutional building blocks shared by the image branch and the decoder (LDM/VQGAN style)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .tiling import from_tiles, to_tiles

GROUPS = 32
EPS = 1e-6


def swish(x: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(x)."""
    return F.silu(x)


class GroupNorm32(nn.GroupNorm):
    """Plain GroupNorm(32, eps 1e-6), normalising by sqrt(var + eps) over the whole map."""

    def __init__(self, channels: int) -> None:
        super().__init__(GROUPS, channels, eps=EPS, affine=True)

    def forward(self, x: torch.Tensor, tile_grid: tuple[int, int] = (1, 1)) -> torch.Tensor:
        if tuple(tile_grid) != (1, 1):
            raise ValueError("GroupNorm32 has no tiled statistics")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


class TiledGroupNorm(nn.GroupNorm):
    """The reference decoder's norm: GroupNorm(32) statistics per tile of a ``rows x cols`` grid,
    bicubically resized to the full map and applied as ``(z - mean) / (std + eps)``.

    Note the eps placement (not sqrt(var + eps)); with a 1x1 grid the statistics are global.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(GROUPS, channels, eps=EPS, affine=True)

    def forward(self, x: torch.Tensor, tile_grid: tuple[int, int] = (1, 1)) -> torch.Tensor:
        rows, cols = tile_grid
        b, c, h, w = x.shape
        g = self.num_groups
        if (rows, cols) == (1, 1) and not _tracks_grad(x):
            # The fused kernel gives x_hat = (x - mean) / sqrt(var + eps); one per-group gain turns
            # it into (x - mean) / (std + eps).
            x_hat, _, rstd = torch.native_group_norm(_dense(x), None, None, b, c, h * w, g, self.eps)
            gain = 1.0 / ((_std_from_rstd(rstd, self.eps) + self.eps) * rstd)
            scale = (gain[:, :, None] * self.weight.reshape(g, c // g)).reshape(b, c, 1, 1)
            return torch.addcmul(self.bias.reshape(1, c, 1, 1), x_hat, scale.to(x_hat.dtype))
        with torch.autocast(device_type=x.device.type, enabled=False):  # statistics stay in float32
            mean, std = (_at_least_float32(s) for s in _tile_statistics(x, (rows, cols), g, self.eps))
            if (rows, cols) != (1, 1):
                mean, std = _resize_bicubic(mean, (h, w)), _resize_bicubic(std, (h, w))
            inv = 1.0 / (std + self.eps)
        # Work on the (b, h, w, g, c/g) view: a free view of channels-last maps.
        z = x.permute(0, 2, 3, 1).reshape(b, h, w, g, c // g)
        z = (z - mean.permute(0, 2, 3, 1)[..., None]) * inv.permute(0, 2, 3, 1)[..., None]
        z = torch.addcmul(self.bias.reshape(g, c // g), z, self.weight.reshape(g, c // g))
        return z.reshape(b, h, w, c).permute(0, 3, 1, 2)


class ChannelAffine(nn.Module):
    """A per-channel scale and shift in a norm's place (``weight``/``bias`` as GroupNorm names them):
    no statistics, so no one region of the map can set the scale of the rest."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, tile_grid: tuple[int, int] = (1, 1)) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        return torch.addcmul(self.bias.reshape(shape), x, self.weight.reshape(shape).to(x.dtype))


def _tracks_grad(x: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and x.requires_grad


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _tile_statistics(x: torch.Tensor, tile_grid: tuple[int, int], groups: int, eps: float):
    """Per-tile group mean and biased std, each arranged as a ``[B, groups, rows, cols]`` map."""
    tiles = to_tiles(x, tile_grid).contiguous(memory_format=torch.channels_last)
    n, c, th, tw = tiles.shape
    if _tracks_grad(tiles):  # differentiable statistics (the fused kernel's have no gradient)
        var, mean = torch.var_mean(tiles.reshape(n, groups, -1), dim=2, unbiased=False)
        std = var.clamp_min(1e-20).sqrt()
    else:
        _, mean, rstd = torch.native_group_norm(tiles, None, None, n, c, th * tw, groups, eps)
        std = _std_from_rstd(rstd, eps)
    return tuple(from_tiles(s.reshape(n, groups, 1, 1), tile_grid) for s in (mean, std))


def _resize_bicubic(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.interpolate(maps, size, mode="bicubic", align_corners=False)`` computed separably with
    small weight matrices (much faster when a few values are blown up to a large map)."""
    wy = _bicubic_weights(maps.shape[-2], size[0], maps)
    wx = _bicubic_weights(maps.shape[-1], size[1], maps)
    return torch.einsum("yi,bgij,xj->bgyx", wy, maps, wx)


def _bicubic_weights(n_in: int, n_out: int, like: torch.Tensor) -> torch.Tensor:
    """``[n_out, n_in]`` matrix of torch's bicubic resampling along one axis."""
    basis = torch.eye(n_in, dtype=like.dtype, device=like.device).reshape(1, n_in, n_in, 1)
    return F.interpolate(basis, size=(n_out, 1), mode="bicubic", align_corners=False)[0, :, :, 0].T


def _std_from_rstd(rstd: torch.Tensor, eps: float) -> torch.Tensor:
    """The biased std back from GroupNorm's 1/sqrt(var + eps)."""
    return (1.0 / (rstd.double() ** 2) - eps).clamp(min=0).sqrt().to(rstd.dtype)


def _dense(x: torch.Tensor) -> torch.Tensor:
    """``x`` in a dense layout (contiguous or channels-last), as the fused GroupNorm kernel needs."""
    if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
        return x
    return x.contiguous(memory_format=torch.channels_last)


class ResnetBlock(nn.Module):
    """norm -> swish -> conv3x3 -> norm -> swish -> conv3x3, plus a (1x1-projected) skip.

    ``norm`` is the norm class (``TiledGroupNorm`` in the decoder, ``GroupNorm32`` in the image
    branch). ``temb_channels > 0`` creates the reference's unused ``temb_proj`` so its weights load.
    ``padding_mode``: how the 3x3 convolutions pad (``zeros`` as the reference, or ``replicate``).
    """

    def __init__(self, in_channels: int, out_channels: int | None = None, temb_channels: int = 0,
                 norm: type[nn.GroupNorm] = TiledGroupNorm, padding_mode: str = "zeros") -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        self.norm1 = norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode=padding_mode)
        if temb_channels > 0:
            self.temb_proj = nn.Linear(temb_channels, out_channels)
        self.norm2 = norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, padding_mode=padding_mode)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, tile_grid: tuple[int, int] = (1, 1)) -> torch.Tensor:
        h = self.conv1(swish(self.norm1(x, tile_grid)))
        h = self.conv2(swish(self.norm2(h, tile_grid)))
        skip = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return skip + h
