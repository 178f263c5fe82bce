"""GroupGAN's energies (Eqs. 1-17), the heat map of Eq. (22) and the feature-difference map of Fig. 4.

Paper: "GroupGAN: weak expression recognition by magnifying expressions" (Niu et al., KBS 2022).
Discriminator outputs are logits (``D(x) = sigmoid(logit)``); every energy is a batch mean.

Signs. Eq. (6) writes the generator's adversarial terms as ``alpha_G * phi_D(X_fake)`` with
``phi_D = -log(1 - D(X_fake))`` (Eq. 8), which, minimised, would help D; Algorithm 1 descends on
``log(1 - D(X_fake))`` instead, the generator of the original GAN, and on ``P log Q`` where Eq. (11)
has the cross-entropy ``-P log Q``. We follow the game the text describes: G and E make D and D'
call their faces real and peak, and lower the cross-entropy of C. :func:`adversarial_G` is that
generator term, by default in the non-saturating form ``-log D(X_fake)`` (same fixed point, usable
gradients while D wins; ``form="minimax"`` is Algorithm 1's ``log(1 - D(X_fake))``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from fer_core.losses import bce_discriminator

__all__ = ["content_loss", "Phi_D", "phi_D", "V_D", "adversarial_G", "Phi_C", "V_G", "V_E", "EnergiesG",
           "heat_map", "feature_difference_map"]


def content_loss(X_peak: torch.Tensor, X_fake: torch.Tensor) -> torch.Tensor:
    """Implements Eq. (1) and Eq. (12): ``||X_peak - G(X_weak)||_2^2``.

    Args:
        X_peak, X_fake: ``(B, C, H, W)`` in [-1, 1], the real peak face and G's face of its weak frame.

    Returns:
        the squared error summed over the image and averaged over the batch, divided by the
        number of pixels (``C * H * W``): the mean squared error, so the weights of Eq. (6) do not
        depend on the resolution (deviation: the paper's norm is not normalised).
    """
    if X_peak.shape != X_fake.shape:
        raise ValueError(f"content_loss needs faces of one shape, got {tuple(X_peak.shape)} and {tuple(X_fake.shape)}")
    return F.mse_loss(X_fake, X_peak)


def Phi_D(logits_real: torch.Tensor) -> torch.Tensor:
    """Implements Eqs. (7), (9), (14), (16): ``Phi_D(X) = -log D(X)`` on the discriminator's real class."""
    return F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))


def phi_D(logits_fake: torch.Tensor) -> torch.Tensor:
    """Implements Eqs. (8), (10), (15), (17): ``phi_D(X_fake) = -log(1 - D(X_fake))``."""
    return F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))


def V_D(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Implements Eq. (4) (for D, reals: real faces) and Eq. (5) (for D', reals: peak faces):
    ``V = Phi_D(X_real) + phi_D(X_fake)``."""
    return bce_discriminator(logits_real, logits_fake)


def adversarial_G(logits_fake: torch.Tensor, *, form: str = "nonsaturating") -> torch.Tensor:
    """The generator group's adversarial term of Eqs. (2), (6), (13) and Algorithm 1.

    ``form="nonsaturating"``: ``-log D(X_fake)``; ``"minimax"``: ``log(1 - D(X_fake))`` as in Algorithm 1.
    Both are minimised by G (and E) and reach their optimum where D calls the fakes real.
    """
    if form == "nonsaturating":
        return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))
    if form == "minimax":
        return -phi_D(logits_fake)
    raise ValueError(f"form must be 'nonsaturating' or 'minimax', got {form!r}")


def Phi_C(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Implements Eq. (11): ``Phi_C(X) = -sum P(X) log Q(X)``, the cross-entropy of C's prediction ``Q``
    (logits ``(B, K)``) against the true expression ``P`` (labels ``(B,)``)."""
    return F.cross_entropy(logits.float(), y)


class EnergiesG(NamedTuple):
    total: torch.Tensor
    content: torch.Tensor
    adv_D: torch.Tensor
    adv_D_prime: torch.Tensor
    cls: torch.Tensor


def V_G(X_peak: torch.Tensor, X_fake: torch.Tensor, logits_D: torch.Tensor | None, logits_D_prime: torch.Tensor | None,
        logits_C: torch.Tensor | None, y: torch.Tensor | None, *, alpha_G: float, beta_G: float, gamma_G: float,
        form: str = "nonsaturating") -> EnergiesG:
    """Implements Eq. (6): ``V_G = Phi_G(X_real, X_fake) + alpha_G adv(D) + beta_G adv(D') + gamma_G Phi_C(X_fake)``.

    A term whose input is ``None`` (DCGAN has no D', no C term) counts as 0. ``Phi_G`` is
    :func:`content_loss` (Eq. 12) against the paired peak face.
    """
    zero = X_fake.new_zeros(())
    content = content_loss(X_peak, X_fake)
    adv = adversarial_G(logits_D, form=form) if logits_D is not None else zero
    adv2 = adversarial_G(logits_D_prime, form=form) if logits_D_prime is not None else zero
    cls = Phi_C(logits_C, y) if logits_C is not None else zero
    return EnergiesG(content + alpha_G * adv + beta_G * adv2 + gamma_G * cls, content, adv, adv2, cls)


def V_E(logits_C: torch.Tensor, y: torch.Tensor, logits_D: torch.Tensor, logits_D_prime: torch.Tensor, *,
        alpha_E: float, beta_E: float, form: str = "nonsaturating") -> torch.Tensor:
    """Implements Eq. (13): ``V_E = Phi_C(X_fake) + alpha_E adv(D) + beta_E adv(D')``: the extractor
    helps G's faces pass D and D' (through ``F_exp``) while C classifies them."""
    return (Phi_C(logits_C, y) + alpha_E * adversarial_G(logits_D, form=form)
            + beta_E * adversarial_G(logits_D_prime, form=form))


def heat_map(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Implements Eq. (22): ``H_{i,j} = sum_k dv_{i,j,k}^2`` with ``dv = p - x`` (Eq. 21).

    Args:
        p, x: ``(B, C, H, W)`` (or ``(C, H, W)``), e.g. a real peak face and G's face, or G's face and its input.

    Returns:
        ``(B, H, W)`` (or ``(H, W)``) non-negative.
    """
    if p.shape != x.shape:
        raise ValueError(f"heat_map needs two images of one shape, got {tuple(p.shape)} and {tuple(x.shape)}")
    return ((p - x) ** 2).sum(dim=-3)


def feature_difference_map(f1: torch.Tensor, f2: torch.Tensor, *, threshold: float = 0.5,
                           shape: tuple[int, int] = (8, 32),
                           scale: float | torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fig. 4: the difference of two faces' 256-d expression features, as an 8x32 map, and its lit positions.

    ``|f1 - f2|`` is normalised to [0, 1] (divided by ``scale`` and clipped; ``None``: by the pair's
    largest entry) and reshaped to ``shape``; a position "lights on" where the normalised difference
    exceeds ``threshold``. To compare two networks, give each its own ``scale`` (e.g. a high quantile
    of its differences between any two faces), so that "lit" means "as different as unrelated faces".

    Args:
        f1, f2: ``(D,)`` or ``(B, D)`` with ``D = shape[0] * shape[1]``.

    Returns:
        ``(diff, lit)``: ``(B, *shape)`` float in [0, 1] and bool (without the batch axis for 1-d input).
    """
    if f1.shape != f2.shape or f1.shape[-1] != shape[0] * shape[1]:
        raise ValueError(f"feature_difference_map needs two feature vectors of {shape[0] * shape[1]} = "
                         f"{shape[0]}x{shape[1]} entries, got {tuple(f1.shape)} and {tuple(f2.shape)}")
    d = (f1 - f2).abs().float()
    d = d / (d.amax(dim=-1, keepdim=True).clamp_min(1e-12) if scale is None else torch.as_tensor(scale).clamp_min(1e-12))
    d = d.clamp(0, 1)
    d = d.reshape(*d.shape[:-1], *shape)
    return d, d > threshold
