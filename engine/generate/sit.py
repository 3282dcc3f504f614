"""SiT backbone over token sets: a transformer with adaLN-Zero blocks and patch size 1 over tokens.

Inputs are ``x [B,N,C]`` (tokens x channels), continuous time ``t [B]`` in [0,1], labels ``y [B]``
(index ``num_classes`` = no class) and an optional layout condition ``cond [B,N,5]``. Parameter names
equal the official SiT's, so the released generator files load strictly (conditioning "reference").
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeneratorConfig

FREQUENCY_DIM = 256


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation of ``x [B,N,H]`` by per-sample ``shift``/``scale [B,H]``."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def timestep_frequencies(t: torch.Tensor, dim: int = FREQUENCY_DIM, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features ``[B, dim]`` of (fractional) times ``t [B]``: cosines then sines."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def _mlp(d_in: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden))


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.mlp = _mlp(FREQUENCY_DIM, hidden)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_frequencies(t))


class LabelEmbedder(nn.Module):
    """One row per class plus the null class (last row)."""

    def __init__(self, num_classes: int, hidden: int) -> None:
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, hidden)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.embedding_table(y)


class TokenEmbedder(nn.Module):
    """Per-token linear map stored as the official 1x1 convolution ``proj`` ([H,C,1,1])."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(channels, hidden, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.proj.weight.flatten(1), self.proj.bias)


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, h))


class Mlp(nn.Module):
    def __init__(self, hidden: int, ratio: float) -> None:
        super().__init__()
        inner = int(hidden * ratio)
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class SiTBlock(nn.Module):
    """Attention + MLP with adaLN-Zero; with ``cond_channels`` it adds its own condition MLP first."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, cond_channels: int = 0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden, heads)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden, mlp_ratio)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))
        self.cond_mlp = _mlp(cond_channels, hidden) if cond_channels else None

    def forward(self, x: torch.Tensor, c: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_mlp is not None and cond is not None:
            x = x + self.cond_mlp(cond)
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate1.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift1, scale1))
        return x + gate2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    def __init__(self, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class SiT(nn.Module):
    """The backbone; ``forward`` returns the first ``in_channels`` outputs (the learn-sigma half is dropped)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        h, cond = config.hidden_size, config.cond_channels
        per_block = config.conditioning == "paper"
        self.x_embedder = TokenEmbedder(config.in_channels, h)
        self.t_embedder = TimestepEmbedder(h)
        self.y_embedder = LabelEmbedder(config.num_classes, h)
        self.pos_embed = nn.Parameter(torch.zeros(1, config.tokens, h))
        self.cond_embedder = _mlp(cond, h) if cond and not per_block else None
        self.blocks = nn.ModuleList(
            SiTBlock(h, config.num_heads, config.mlp_ratio, cond if per_block else 0) for _ in range(config.depth)
        )
        out = config.in_channels * (2 if config.learn_sigma else 1)
        self.final_layer = FinalLayer(h, out)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """SiT's initialisation: xavier linears, small label/time tables, zeroed adaLN and output."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        w = self.x_embedder.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.x_embedder.proj.bias)
        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        zeroed = [b.adaLN_modulation[-1] for b in self.blocks] + [self.final_layer.adaLN_modulation[-1],
                                                                 self.final_layer.linear]
        for layer in zeroed:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B,N,C]``, ``t [B]``, ``y [B]`` long, ``cond [B,N,cond_channels]`` or None -> ``[B,N,C]``.

        Without a condition the learned positional embedding is added (N must equal ``config.tokens``).
        """
        h = self.x_embedder(x)
        if cond is None:
            h = h + self.pos_embed
        elif self.cond_embedder is not None:
            h = h + self.cond_embedder(cond)
        c = self.t_embedder(t) + self.y_embedder(y)
        block_cond = cond if self.cond_embedder is None else None
        for block in self.blocks:
            h = block(h, c, block_cond)
        return self.final_layer(h, c)[..., : self.config.in_channels]
