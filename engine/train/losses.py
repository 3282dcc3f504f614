"""Tokenizer losses as the reference (facts §7): squared error, optional LPIPS, PatchGAN hinge with the
adaptive generator weight from ``disc_start`` on."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import GPSTokenError


class PatchDiscriminator(nn.Module):
    """PatchGAN: 4x4 convolutions, stride 2 then 1, BatchNorm, LeakyReLU 0.2; N(0, 0.02) init."""

    def __init__(self, channels: int = 3, width: int = 64, layers: int = 3) -> None:
        super().__init__()
        seq: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < layers else 1
            seq += [nn.Conv2d(width * prev, width * mult, 4, stride, 1, bias=False),
                    nn.BatchNorm2d(width * mult), nn.LeakyReLU(0.2, True)]
        seq.append(nn.Conv2d(width * mult, 1, 4, 1, 1))
        self.main = nn.Sequential(*seq)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def adaptive_weight(nll: torch.Tensor, g_loss: torch.Tensor, last_layer: torch.Tensor, scale: float) -> torch.Tensor:
    """||d nll / d w|| / (||d g / d w|| + 1e-4), clamped to [0, 1e4], times ``scale`` (w: the last layer)."""
    nll_grad = torch.autograd.grad(nll, last_layer, retain_graph=True)[0]
    g_grad = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    weight = torch.norm(nll_grad) / (torch.norm(g_grad) + 1e-4)
    return torch.clamp(weight, 0.0, 1e4).detach() * scale


def perceptual_module(weight: float) -> tuple[nn.Module | None, str]:
    """LPIPS (VGG) when the ``lpips`` package and its weights are on disk, else ``(None, why)``; nothing is downloaded."""
    if weight <= 0:
        return None, "off (weight 0)"
    try:
        from ..metrics import _lpips_model  # shares the offline weight check of the LPIPS metric

        model = _lpips_model("vgg")
    except GPSTokenError as exc:
        return None, f"off ({exc})"
    for p in model.parameters():
        p.requires_grad_(False)
    return model, "lpips-vgg"


class TokenizerLoss(nn.Module):
    """The autoencoder and discriminator objectives of one training step."""

    def __init__(self, perceptual_weight: float, disc_start: int, disc_weight: float) -> None:
        super().__init__()
        self.discriminator = PatchDiscriminator()
        self.perceptual, self.perceptual_status = perceptual_module(perceptual_weight)
        self.perceptual_weight = perceptual_weight
        self.disc_start, self.disc_weight = disc_start, disc_weight

    def gan_active(self, step: int) -> bool:
        return step >= self.disc_start

    def autoencoder(self, x: torch.Tensor, x_hat: torch.Tensor, step: int,
                    last_layer: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, float]]:
        """Total generator loss and its parts (``last_layer`` is needed once the GAN is on)."""
        rec = (x.float() - x_hat.float()).pow(2).mean()
        nll = rec
        logs = {"rec_loss": rec.item()}
        if self.perceptual is not None:
            p = self.perceptual(x.float(), x_hat.float()).mean()
            nll = nll + self.perceptual_weight * p
            logs["p_loss"] = p.item()
        total = nll
        if self.gan_active(step):
            g_loss = -self.discriminator(x_hat.float()).mean()
            d_weight = adaptive_weight(nll, g_loss, last_layer, self.disc_weight)
            total = nll + d_weight * g_loss
            logs.update(g_loss=g_loss.item(), d_weight=d_weight.item())
        logs["loss"] = total.item()
        return total, logs

    def discriminator_loss(self, x: torch.Tensor, x_hat: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        logits_real = self.discriminator(x.float().detach())
        logits_fake = self.discriminator(x_hat.float().detach())
        loss = hinge_d_loss(logits_real, logits_fake)
        return loss, {"disc_loss": loss.item(), "logits_real": logits_real.mean().item(),
                      "logits_fake": logits_fake.mean().item()}
