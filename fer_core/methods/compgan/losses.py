"""Comp-GAN's objective, one function per equation (Sec. 4.3, Eqs. 1-13).

The eight images of Algorithm 1 are held in a mapping from their tag (``"(it,pt,es)a"`` ...,
see :mod:`fer_core.methods.compgan.algorithm`) to a ``(B, C, S, S)`` batch; a tag says which pose
(``ps``/``pt``) and expression (``es``/``et``) the image must show, always with identity ``it``.
Each cross-entropy and L1 term is a mean over the batch (and pixels); the equations' sums run
over the images of Algorithm 1 as written.

Deviations from the paper: Eq. (5)'s second term compares ``F^i((it,pt,et)^a)`` with
``F^i((it,pt,es))``; we read it as the typo it looks like and compare with ``(it,pt,et)``, the
image's own ground truth, as Eq. (4) does. The generator's adversarial term is the
non-saturating ``-log D(G(.))`` (the minimax ``log(1 - D(G(.)))`` of Eq. 11 has no gradient while D
wins, i.e. at every run's start). Eq. (11) leaves the real images of D open: the source faces.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from fer_core import losses

__all__ = ["LAMBDA", "MU", "GAMMA", "TERMS", "CON_TAGS", "RECON_TAGS", "pose_of", "expression_of", "L_exp", "L_pose",
           "L_id", "L1", "L2", "L_con", "L_recon", "L_loop", "L_adv_D", "L_adv_G", "L_G", "attribute_targets"]

#: The weights of Eq. (12), G(Pose)'s loss (Sec. 5.2.1).
LAMBDA = {"exp": 20.0, "pose": 20.0, "id": 10.0, "con": 30.0, "recon": 15.0, "loop": 10.0, "adv": 1.0}
#: The weights of Eq. (13), G(Exp)'s loss (Sec. 5.2.1).
MU = {"exp": 30.0, "pose": 10.0, "id": 15.0, "con": 40.0, "recon": 15.0, "loop": 10.0, "adv": 1.0}
#: γ1 (L1) and γ2 (perceptual) of Eqs. (6)-(7).
GAMMA = (1.0, 0.1)
#: The terms of Eqs. (12)-(13), in the paper's order.
TERMS = ("exp", "pose", "id", "con", "recon", "adv", "loop")
#: The images of Eqs. (4)-(5): steps 1-2 of Algorithm 1.
CON_TAGS = ("(it,pt,es)a", "(it,pt,et)a", "(it,ps,et)b", "(it,pt,et)b")
#: The images of Eqs. (8)-(9): steps 3-4, which re-generate faces the data holds.
RECON_TAGS = ("(it,ps,et)a", "(it,ps,es)a", "(it,pt,es)b", "(it,ps,es)b")


def pose_of(tag: str) -> str:
    """``"ps"`` or ``"pt"``: the pose a tagged image must show (``"(it,pt,es)a"`` -> ``"pt"``)."""
    _check_tag(tag)
    return tag[4:6]


def expression_of(tag: str) -> str:
    """``"es"`` or ``"et"``: the expression a tagged image must show."""
    _check_tag(tag)
    return tag[7:9]


def _check_tag(tag: str) -> None:
    if len(tag) != 11 or not tag.startswith("(it,") or tag[4:6] not in ("ps", "pt") or tag[7:9] not in ("es", "et") \
            or tag[-1] not in "ab":
        raise ValueError(f"not a tag of Algorithm 1: {tag!r} (expected e.g. '(it,pt,es)a')")


def attribute_targets(tag: str, labels: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pose labels, expression labels)`` a tagged image must show, from ``labels`` holding
    ``ps``, ``pt``, ``es``, ``et`` (each ``(B,)``)."""
    return labels[pose_of(tag)], labels[expression_of(tag)]


def L_exp(logits: Mapping[str, torch.Tensor], es: torch.Tensor, et: torch.Tensor) -> torch.Tensor:
    """Expression-prediction loss: implements Eq. (1).

    Args:
        logits: tag -> ``(B, K)`` F_cls expression logits of that generated image.
        es, et: ``(B,)`` source and target expressions.

    Returns:
        ``Σ_tags Φ(F_cls(image), its expression)``, Φ the batch-mean cross-entropy.
    """
    lab = {"es": es, "et": et}
    return sum(F.cross_entropy(z.float(), lab[expression_of(t)]) for t, z in logits.items())


def L_pose(logits: Mapping[str, torch.Tensor], ps: torch.Tensor, pt: torch.Tensor) -> torch.Tensor:
    """Posture-prediction loss: implements Eq. (2) (``(B, V)`` pose logits per tag)."""
    lab = {"ps": ps, "pt": pt}
    return sum(F.cross_entropy(z.float(), lab[pose_of(t)]) for t, z in logits.items())


def L_id(logits: Mapping[str, torch.Tensor], it: torch.Tensor) -> torch.Tensor:
    """ID-preserving loss: implements Eq. (3) (``(B, N)`` identity logits per tag; every image is ``it``)."""
    for t in logits:
        _check_tag(t)
    return sum(F.cross_entropy(z.float(), it) for z in logits.values())


def _truth(tag: str, truths: Mapping[tuple[str, str], torch.Tensor]) -> torch.Tensor:
    key = (pose_of(tag), expression_of(tag))
    if key not in truths:
        raise ValueError(f"no ground-truth face {key} for {tag}; truths hold {sorted(truths)}")
    return truths[key]


def L1(fakes: Mapping[str, torch.Tensor], truths: Mapping[tuple[str, str], torch.Tensor],
       tags: Sequence[str]) -> torch.Tensor:
    """``Σ_tags ||fake - truth||_1`` (mean absolute error per pixel): Eqs. (4) and (8).

    Args:
        fakes: tag -> ``(B, C, S, S)`` generated faces.
        truths: ``(pose, expression)`` -> ``(B, C, S, S)`` the real face of identity ``it`` with them
            (``("ps", "es")`` is the source itself).
        tags: which generated faces enter (:data:`CON_TAGS` or :data:`RECON_TAGS`).
    """
    return sum((fakes[t].float() - _truth(t, truths).float()).abs().mean() for t in tags)


def L2(fake_maps: Mapping[str, Sequence[torch.Tensor]], truth_maps: Mapping[tuple[str, str], Sequence[torch.Tensor]],
       tags: Sequence[str]) -> torch.Tensor:
    """Perceptual term ``Σ_i Σ_tags ||F^i_cls(fake) - F^i_cls(truth)||_1``: Eqs. (5) and (9).

    ``fake_maps[tag]`` and ``truth_maps[(pose, expression)]`` are F_cls's four feature maps
    (:meth:`~fer_core.methods.compgan.nets.F_cls.feature_maps`).
    """
    total = 0.0
    for t in tags:
        ref = truth_maps[(pose_of(t), expression_of(t))]
        if len(ref) != len(fake_maps[t]):
            raise ValueError(f"{t}: {len(fake_maps[t])} feature maps of the fake, {len(ref)} of the truth")
        total = total + sum((a.float() - b.float()).abs().mean() for a, b in zip(fake_maps[t], ref))
    return total


def L_con(fakes, truths, fake_maps, truth_maps, *, gamma: tuple[float, float] = GAMMA) -> torch.Tensor:
    """Construction loss ``L_con = γ1 L1_con + γ2 L2_con``: implements Eqs. (4)-(6) over :data:`CON_TAGS`."""
    return gamma[0] * L1(fakes, truths, CON_TAGS) + gamma[1] * L2(fake_maps, truth_maps, CON_TAGS)


def L_recon(fakes, truths, fake_maps, truth_maps, *, gamma: tuple[float, float] = GAMMA) -> torch.Tensor:
    """Reconstruction loss ``L_recon = γ1 L1_recon + γ2 L2_recon``: implements Eqs. (7)-(9) over :data:`RECON_TAGS`."""
    return gamma[0] * L1(fakes, truths, RECON_TAGS) + gamma[1] * L2(fake_maps, truth_maps, RECON_TAGS)


def L_loop(fakes: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Closed-loop loss: implements Eq. (10),
    ``||(it,pt,es)^a - (it,pt,es)^b||_1 + ||(it,ps,et)^a - (it,ps,et)^b||_1``."""
    return sum((fakes[f"(it,{p},{e})a"].float() - fakes[f"(it,{p},{e})b"].float()).abs().mean()
               for p, e in (("pt", "es"), ("ps", "et")))


def L_adv_D(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """D's side of Eq. (11): ``-E[log D(I)] - E[log(1 - D(G(I, I_ref)))]`` (logits in, any shape)."""
    return losses.bce_discriminator(d_real, d_fake)


def L_adv_G(d_fake: torch.Tensor) -> torch.Tensor:
    """The generators' side of Eq. (11), non-saturating: ``-E[log D(G(I, I_ref))]``."""
    return losses.bce_generator(d_fake)


def L_G(terms: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """``Σ_k w_k L_k``: implements Eq. (12) with ``weights=LAMBDA`` (G(Pose)) and Eq. (13) with
    ``weights=MU`` (G(Exp)). A term left out of ``terms`` (an ablation) contributes nothing.

    Raises:
        ValueError: a weight or term is not one of :data:`TERMS`, or a weight is negative.
    """
    unknown = (set(weights) | set(terms)) - set(TERMS)
    if unknown:
        raise ValueError(f"unknown loss terms {sorted(unknown)}; Eqs. (12)-(13) have {list(TERMS)}")
    bad = {k: w for k, w in weights.items() if w < 0}
    if bad:
        raise ValueError(f"loss weights must be >= 0, got {bad}")
    return sum(float(weights.get(k, 0.0)) * v for k, v in terms.items())
