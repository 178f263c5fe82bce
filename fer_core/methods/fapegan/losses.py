"""FaPE-GAN's objective, one function per equation (Sec. 4.2, Eqs. 1-3).

``L_GAN = E[log D(I_i)] + E[log(1 - D(G_FaPE(I_i, I_P)))]`` (Eqs. 1-2); the discriminator
minimises ``L_D = -L_GAN``, the generator ``L_G = L_GAN + λ·L_L1`` (Eq. 3) with
``L_L1 = E|I_t - Î_i|`` and λ = 10 (Sec. 5).

Deviation from the paper: the generator's adversarial term is the non-saturating
``-E[log D(Î_i)]`` (Goodfellow et al.'s own recommendation; ``log(1 - D(Î_i))`` has no gradient
while D still wins easily, which is every run's start). ``L_L1`` is the mean absolute error per
pixel (the paper's expectation does not say whether the norm is summed or averaged).
"""

from __future__ import annotations

import torch

from fer_core import losses

__all__ = ["LAMBDA", "L_D", "L_GAN_G", "L_L1", "L_G_FaPE"]

#: λ of Eq. (3) (Sec. 5: "The λ is set to 10").
LAMBDA = 10.0


def L_D(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator loss ``L_D = -L_GAN``: implements Eqs. (1)-(2).

    Args:
        d_real: D's logits on real faces ``I_i`` (any shape, e.g. ``(B, 1, s, s)`` patches).
        d_fake: D's logits on generated faces ``G_FaPE(I_i, I_P)`` (detached for this update).

    Returns:
        ``-E[log D(I_i)] - E[log(1 - D(Î_i))]``, a scalar (each expectation a mean over patches).
    """
    return losses.bce_discriminator(d_real, d_fake)


def L_GAN_G(d_fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial term of Eq. (3), non-saturating: ``-E[log D(Î_i)]`` (see the
    module's deviation)."""
    return losses.bce_generator(d_fake)


def L_L1(I_t: torch.Tensor, I_hat: torch.Tensor) -> torch.Tensor:
    """``L_L1 = E|I_t - Î_i|``: the real target face against the generated one (Eq. 3).

    Args:
        I_t, I_hat: ``(B, C, S, S)`` in [-1, 1].
    """
    if I_t.shape != I_hat.shape:
        raise ValueError(f"L_L1 compares faces of one shape, got {tuple(I_t.shape)} and {tuple(I_hat.shape)}")
    return (I_t - I_hat).abs().mean()


def L_G_FaPE(d_fake: torch.Tensor, I_t: torch.Tensor, I_hat: torch.Tensor, *, lam: float = LAMBDA) -> torch.Tensor:
    """The generator loss ``L_G_FaPE = L_GAN + λ·L_L1``: implements Eq. (3).

    Args:
        d_fake: D's logits on ``Î_i`` (not detached: the generator learns through D).
        I_t: ``(B, C, S, S)`` the real face of the same person and expression in the target pose.
        I_hat: ``(B, C, S, S)`` the generated face ``G_FaPE(I_i, I_P)``.
        lam: λ (10 in the paper).
    """
    if lam < 0:
        raise ValueError(f"lam (λ of Eq. 3) must be >= 0, got {lam}")
    return L_GAN_G(d_fake) + lam * L_L1(I_t, I_hat)
