"""Exponential moving average of model weights with the warm-up of ``ema_pytorch`` (facts §7)."""
from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Shadow copies of a module's parameters and buffers.

    Updates before ``update_after`` copy the weights; later, every ``update_every``-th call blends with
    decay ``min(beta, 1 - (1 + k)^-power)``, k counting updates after the warm-up start.
    """

    def __init__(self, module: nn.Module, beta: float, update_every: int, update_after: int, power: float) -> None:
        self.beta, self.update_every, self.update_after, self.power = beta, update_every, update_after, power
        self.shadow = {k: v.detach().clone().float() for k, v in module.state_dict().items()}
        self.step = 0

    def decay(self) -> float:
        k = max(self.step - self.update_after - 1, 0)
        return min(self.beta, 1.0 - (1.0 + k) ** -self.power)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        self.step += 1
        current = module.state_dict()
        if self.step <= self.update_after:
            for k, v in self.shadow.items():
                v.copy_(current[k])
            return
        if self.step % self.update_every:
            return
        d = self.decay()
        keys = [k for k, v in self.shadow.items() if v.is_floating_point()]
        torch._foreach_lerp_([self.shadow[k] for k in keys], [current[k].float() for k in keys], 1.0 - d)

    def state_dict(self) -> dict:
        return {"shadow": self.shadow, "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state["shadow"].items():
            self.shadow[k].copy_(v)
        self.step = int(state["step"])
