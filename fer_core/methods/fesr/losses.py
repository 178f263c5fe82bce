"""The losses of FESR, one function per equation (Eqs. 4-26).

Paper: "Joint Deep Learning of Facial Expression Synthesis and Recognition" (FESR).
The adversarial terms call the book's shared :mod:`fer_core.losses` (Wasserstein with gradient
penalty for ``D_img``, the original GAN for ``D_z``); the WGAN-GP weight (10) is not given in
the paper and is the WGAN-GP default.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple, Sequence

import torch
import torch.nn.functional as F

from fer_core import losses as adversarial
from fer_core.losses import gradient_penalty

__all__ = ["adv_img_loss_G", "adv_img_loss_D", "gradient_penalty", "adv_z_loss_G", "adv_z_loss_D", "cls_loss",
           "rec_loss", "id_loss", "IntraClass", "intra_class_loss", "objective_G", "objective_D_img", "objective_R",
           "same_class_partner"]


def adv_img_loss_G(critic_fake: torch.Tensor) -> torch.Tensor:
    """``L^img_adv_g = -E[D_img^adv(x̂)]``; ``critic_fake`` ``(B,)``. Implements Eq. (4) of FESR."""
    return adversarial.wgan_generator(critic_fake)


def adv_img_loss_D(critic_real: torch.Tensor, critic_fake: torch.Tensor) -> torch.Tensor:
    """``L^img_adv_d = -E[D_img^adv(x)] + E[D_img^adv(x̂)]``. Implements Eq. (5) of FESR (with the
    WGAN-GP penalty :func:`fer_core.losses.gradient_penalty` added in Eq. 23)."""
    return adversarial.wgan_critic(critic_real, critic_fake)


def adv_z_loss_G(logits_gx: torch.Tensor) -> torch.Tensor:
    """``L^z_adv_g = -E[log D_z(g(x))]`` from ``D_z`` logits ``(B,)``. Implements Eq. (6) of FESR."""
    return adversarial.bce_generator(logits_gx)


def adv_z_loss_D(logits_z: torch.Tensor, logits_gx: torch.Tensor) -> torch.Tensor:
    """``L^z_adv_d = -E[log D_z(z)] - E[log(1 - D_z(g(x)))]`` with ``z ~ U(-1, 1)``. Implements Eq. (7) (= Eq. 24)."""
    return adversarial.bce_discriminator(logits_z, logits_gx)


def cls_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``-E[log p(label | image)]``: Eq. (8) (``D_img`` on x̂, target y'), Eq. (9) (``D_img`` on x, y),
    Eqs. (20)-(21) (``R`` on x and x^{p,f}). ``logits`` ``(B, K)``, ``labels`` ``(B,)``."""
    return F.cross_entropy(logits, labels)


def rec_loss(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """``L_rec = E||x - x^rec||_1``, read as the mean absolute error per pixel and channel.
    Implements Eq. (10) of FESR.

    The paper does not say whether the norm is summed or averaged over pixels. A sum over the
    ``C * H * W`` values is the mean times ``C * H * W``, so with the mean the weight lambda_2 of
    Eq. (22) acts on a term ``C * H * W`` times smaller than a sum would be (3,072 times at
    32 x 32 x 3): the effective weight of the summed norm is ``lambda_2 / (C * H * W)``. The
    chapter's profiles set lambda_2 (``lambda_rec``) for this mean reduction, as StarGAN's and
    ExprGAN's code reduce their L1 terms."""
    return (x - x_rec).abs().mean()


def id_loss(F_id: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """``L_id = E||F_id(x^rec) - F_id(x)||_1``, the mean absolute difference per feature (averaged
    like :func:`rec_loss`); gradient flows into ``x_rec`` only. Implements Eq. (12) of FESR.

    Both faces go through ``F_id`` in one call (it is frozen and in eval mode, so the two halves
    do not interact)."""
    n = x.shape[0]
    feats = F_id(torch.cat([x.detach(), x_rec]))
    return (feats[n:] - feats[:n].detach()).abs().mean()


class IntraClass(NamedTuple):
    total: torch.Tensor
    r_dist: torch.Tensor
    rf_dist: torch.Tensor


def intra_class_loss(f_x: torch.Tensor, f_pr: torch.Tensor, f_pf: torch.Tensor, *, rdbp: bool = True,
                     mask: torch.Tensor | None = None) -> IntraClass:
    """``L_intra = ||R_ext(x) - R_ext(x^{p,r})||_2 + ||R_ext(x) - R_ext(x^{p,f})||_2``, batch means.

    Implements Eqs. (14)-(16) of FESR and, with ``rdbp=True``, its real data-guided
    back-propagation (Eqs. 17-18): in the ``L^rf_dist`` term ``R_ext(x)`` is a constant, so that
    term's gradient reaches the weights only through ``R_ext(x^{p,f})``. ``rdbp=False`` is plain
    SGD (gradient through both features; FESR_JL-RDBP).

    Args:
        f_x, f_pr, f_pf: ``(B, D)`` features of x, x^{p,r}, x^{p,f}.
        mask: ``(B,)`` bool, which rows of ``f_pr`` are real partners (rows without one are
            left out of ``L^r_dist``); default all.
    """
    d_r = (f_x - f_pr).norm(dim=1)
    r_dist = d_r[mask].mean() if mask is not None else d_r.mean()
    if not torch.isfinite(r_dist):  # no valid partner in the batch
        r_dist = f_x.sum() * 0
    anchor = f_x.detach() if rdbp else f_x
    rf_dist = (anchor - f_pf).norm(dim=1).mean()
    return IntraClass(r_dist + rf_dist, r_dist, rf_dist)


def objective_G(terms: Mapping[str, torch.Tensor], lambdas: Sequence[float]) -> torch.Tensor:
    """``L_G`` of Eq. (22), or Eq. (25) when ``terms`` holds ``"cls_R_fake"``; missing terms are 0.

    ``terms`` keys: ``adv_img``, ``adv_z``, ``rec``, ``id``, ``cls_D_fake``, ``cls_R_fake``.
    """
    l1, l2, l3, l4 = lambdas[:4]
    zero = next(iter(terms.values())).new_zeros(()) if terms else torch.zeros(())
    t = lambda k: terms.get(k, zero)  # noqa: E731
    return t("adv_img") + l1 * t("adv_z") + l2 * t("rec") + l3 * t("id") + l4 * (t("cls_D_fake") + t("cls_R_fake"))


def objective_D_img(adv_d: torch.Tensor, gp: torch.Tensor, cls_real: torch.Tensor | None, *, lambda5: float,
                    lambda_gp: float) -> torch.Tensor:
    """``L_D_img = λ5 (L^img_adv_d + λ_gp GP) + L^r_cls,D``. Implements Eq. (23) with WGAN-GP."""
    out = lambda5 * (adv_d + lambda_gp * gp)
    return out if cls_real is None else out + cls_real


def objective_R(intra: torch.Tensor | None, cls_real: torch.Tensor, cls_fake: torch.Tensor | None, *,
                lambda6: float) -> torch.Tensor:
    """``L_R = λ6 L_intra + L^r_cls,R + L^f_cls,R``. Implements Eqs. (19) and (26) of FESR."""
    out = cls_real
    if cls_fake is not None:
        out = out + cls_fake
    return out if intra is None else out + lambda6 * intra


def same_class_partner(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample, a random *other* sample of the batch with the same label.

    Returns ``(index (B,), valid (B,) bool)``; where no partner exists the index is the sample itself.
    """
    same = y[:, None] == y[None, :]
    same.fill_diagonal_(False)
    scores = torch.rand(same.shape, device=y.device).masked_fill(~same, -1.0)
    valid = same.any(dim=1)
    return torch.where(valid, scores.argmax(dim=1), torch.arange(len(y), device=y.device)), valid
