"""Adversarial losses shared by the book's GANs: Wasserstein with gradient penalty, the original
(non-saturating) cross-entropy GAN, and least squares.

Every function takes discriminator outputs (logits or critic values, any shape) and returns a
scalar. The paper packages name their terms after the paper (FESR's ``adv_img_loss_G`` is
:func:`wgan_generator` of Eq. 4) and call these.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["wgan_generator", "wgan_critic", "gradient_penalty", "bce_generator", "bce_discriminator",
           "lsgan_generator", "lsgan_discriminator"]


def wgan_generator(critic_fake: torch.Tensor) -> torch.Tensor:
    """``-E[D(x̂)]``: the Wasserstein generator loss (WGAN)."""
    return -critic_fake.mean()


def wgan_critic(critic_real: torch.Tensor, critic_fake: torch.Tensor) -> torch.Tensor:
    """``E[D(x̂)] - E[D(x)]``: the Wasserstein critic loss (add :func:`gradient_penalty`)."""
    return critic_fake.mean() - critic_real.mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, *,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP penalty ``E[(||∇ D(x̃)||_2 - 1)^2]`` on ``x̃ = eps x + (1 - eps) x̂`` (Gulrajani et al., 2017).

    The norm is taken per sample over all of ``(C, H, W)``, not per pixel.

    Args:
        critic: maps ``(B, C, H, W)`` to ``(B,)``.
        real, fake: ``(B, C, H, W)``; both are detached here.
        eps: ``(B,)`` mixing weights in [0, 1]; default ``U(0, 1)``.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device)
    e = eps.view(-1, *[1] * (real.dim() - 1))
    mix = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def bce_generator(logits_fake: torch.Tensor) -> torch.Tensor:
    """``-E[log D(x̂)]``: the non-saturating generator loss of the original GAN, on logits."""
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))


def bce_discriminator(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """``-E[log D(x)] - E[log(1 - D(x̂))]``: the original GAN's discriminator loss, on logits."""
    return (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
            + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))


def lsgan_generator(out_fake: torch.Tensor) -> torch.Tensor:
    """``E[(D(x̂) - 1)^2] / 2``: the least-squares generator loss (Mao et al., 2017)."""
    return 0.5 * ((out_fake - 1) ** 2).mean()


def lsgan_discriminator(out_real: torch.Tensor, out_fake: torch.Tensor) -> torch.Tensor:
    """``(E[(D(x) - 1)^2] + E[D(x̂)^2]) / 2``: the least-squares discriminator loss."""
    return 0.5 * (((out_real - 1) ** 2).mean() + (out_fake ** 2).mean())
