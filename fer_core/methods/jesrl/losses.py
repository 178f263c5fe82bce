"""The losses of JESRL, one function per equation (Eqs. 5, 7-12).

Paper: "Joint Expression Synthesis and Representation Learning for Facial Expression
Recognition" (JESRL). The adversarial terms are the original GAN's cross-entropy on logits
(:mod:`fer_core.losses`), summed over the two discriminators ``D1``, ``D2`` (Eq. 5). Every
discriminator output comes as a pair ``(D1 logits, D2 logits)``, each ``(B,)``.

Reductions (the paper writes norms without saying how they are averaged): ``L_r`` is the mean
squared error per value, ``L_p``, ``L_per`` and the total variation are means per value, so the
paper's weights λ1..λ4 act on per-pixel quantities at every image size.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from fer_core import losses as adversarial

__all__ = ["adv_loss_D", "adv_loss_G", "inter_loss_D", "inter_loss_G", "cls_loss", "recon_loss", "pixel_sum_loss",
           "perceptual_loss", "total_variation", "objective_G", "LAMBDAS"]

#: λ1..λ4 of Eq. (12): weights of L_r, L_per, L_p and TV (Sec. IV-B).
LAMBDAS = (10.0, 15.0, 5.0, 5.0)
Pair = Sequence[torch.Tensor]


def adv_loss_D(real: Pair, fake: Pair) -> torch.Tensor:
    """``-Σ_i E[log D_i(I, y)] + E[log(1 - D_i(G(I, y), y))]``: the discriminators' side of Eq. (5)."""
    return sum(adversarial.bce_discriminator(r.float(), f.float()) for r, f in zip(real, fake))


def adv_loss_G(fake: Pair) -> torch.Tensor:
    """``-Σ_i E[log D_i(G(I, y), y)]``: the generator's side of Eq. (5) (non-saturating)."""
    return sum(adversarial.bce_generator(f.float()) for f in fake)


def inter_loss_D(fake_p: Pair) -> torch.Tensor:
    """``-Σ_i E[log(1 - D_i(G_dec(x)))]`` on faces decoded from interpolated representations
    ``x = [R^p, R, S]``: the discriminators' side of Eq. (7) (they call those faces fake)."""
    return sum(F.binary_cross_entropy_with_logits(f.float(), torch.zeros_like(f.float())) for f in fake_p)


def inter_loss_G(fake_p: Pair) -> torch.Tensor:
    """``-Σ_i E[log D_i(G_dec(x))]``: the generator's side of Eq. (7), ``L_inter``, summed over
    ``x = [R_c^p, R_a, S_c]`` and ``[R_d^p, R_b, S_d]`` (both stacked in ``fake_p``)."""
    return adv_loss_G(fake_p)


def cls_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``L_C = -E[y^e log FC([VGG(I), G_enc(I)])]``, softmax cross-entropy over real and generated
    faces. Implements Eq. (8) (its sign as printed is a typo: the loss is the cross-entropy)."""
    return F.cross_entropy(logits.float(), labels)


def recon_loss(I_a: torch.Tensor, I_a_rec: torch.Tensor, I_b: torch.Tensor, I_b_rec: torch.Tensor) -> torch.Tensor:
    """``L_r = ||I_a - I'_a||_2 + ||I_b - I'_b||_2``, each read as the mean squared error per value.
    Implements Eq. (9)."""
    return F.mse_loss(I_a_rec.float(), I_a.float()) + F.mse_loss(I_b_rec.float(), I_b.float())


def pixel_sum_loss(I_a: torch.Tensor, I_b: torch.Tensor, I_c: torch.Tensor, I_d: torch.Tensor, *,
                   pixelwise: bool = False) -> torch.Tensor:
    """``L_p``: an exchange of expressions should conserve the pixels. Implements Eq. (10).

    ``pixelwise=False`` (the paper): ``| ||I_a + I_b||_1 - ||I_c + I_d||_1 |``, the norms taken per
    pair as means per value, averaged over the batch. Eq. (10) prints the difference without the
    absolute value, which a minimiser would drive to minus infinity; its stated intent ("the sum
    of image pixels before and after expression synthesis should be the same") is the absolute
    difference. ``pixelwise=True`` (the authors' code): ``L1(I_a + I_b, I_c + I_d)`` per value.
    """
    before, after = (I_a + I_b).float(), (I_c + I_d).float()
    if pixelwise:
        return F.l1_loss(after, before)
    return (before.abs().flatten(1).mean(1) - after.abs().flatten(1).mean(1)).abs().mean()


def perceptual_loss(F_net, I_a: torch.Tensor, I_b: torch.Tensor, I_c: torch.Tensor, I_d: torch.Tensor) -> torch.Tensor:
    """``L_per = Σ_i ||F^(i)(I_a) - F^(i)(I_d)||_1 + ||F^(i)(I_b) - F^(i)(I_c)||_1``. Implements Eq. (11).

    ``I_d`` (``I_b``'s face with ``I_a``'s expression) is compared with ``I_a`` and ``I_c`` with ``I_b``:
    each transferred face with the face whose expression it took. ``F_net(x)`` returns the list of
    feature maps ``F^(i)(x)``; all four faces go through it in one call (it is frozen, in eval mode,
    so they do not interact). Each layer's L1 is a mean per value; gradient flows into ``I_c``, ``I_d``.
    """
    n = I_a.shape[0]
    feats = F_net(torch.cat([I_a.detach(), I_b.detach(), I_d, I_c]))
    total = I_c.new_zeros((), dtype=torch.float32)
    for f in feats:
        real, fake = f[: 2 * n].detach(), f[2 * n:]
        total = total + (fake.float() - real.float()).abs().mean() * 2  # mean over both pairs, summed
    return total


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """``TV(I)``: the mean absolute difference between vertically and between horizontally
    neighbouring pixels, summed over the two directions (``λ4`` of Eq. 12 weighs it)."""
    x = images.float()
    return (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean() + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()


def objective_G(terms: Mapping[str, torch.Tensor], lambdas: Sequence[float] = LAMBDAS) -> torch.Tensor:
    """``L = L_adv + L_inter + L_C + λ1 L_r + λ2 L_per + λ3 L_p + λ4 TV(G(I_a, I_b))``: the generator's
    side of Eq. (12). ``terms`` keys: ``adv``, ``inter``, ``C``, ``r``, ``per``, ``p``, ``tv``; missing
    terms count 0 (an ablation drops its term by leaving it out)."""
    l1, l2, l3, l4 = lambdas
    zero = next(iter(terms.values())).new_zeros(()) if terms else torch.zeros(())
    t = lambda k: terms.get(k, zero)  # noqa: E731
    return t("adv") + t("inter") + t("C") + l1 * t("r") + l2 * t("per") + l3 * t("p") + l4 * t("tv")
