"""Algorithm 1 of Comp-GAN: two branches x four steps, built from the same two generators.

Paper: Comp-GAN / F2ED (Sec. 4.2, Algorithm 1, Fig. 7). Branch *a* edits the pose first,
branch *b* the expression first; steps 3-4 edit back to the source's pose and expression (the
reconstruction of Eqs. 7-9), and steps 1-2 meet in the middle (the closed loop of Eq. 10).

=====  ======================================================  ======================================================
step   branch a                                                branch b
=====  ======================================================  ======================================================
1      F_P((it,ps,es), (ir,pt,es)) -> (it,pt,es)^a              F_E((it,ps,es), (ir,ps,et)) -> (it,ps,et)^b
2      F_E((it,pt,es)^a, (ir,pt,et)) -> (it,pt,et)^a            F_P((it,ps,et)^b, (ir,pt,et)) -> (it,pt,et)^b
3      F_P((it,pt,et)^a, (ir,ps,et)) -> (it,ps,et)^a            F_E((it,pt,et)^b, (ir,pt,es)) -> (it,pt,es)^b
4      F_E((it,ps,et)^a, (ir,ps,es)) -> (it,ps,es)^a            F_P((it,pt,es)^b, (ir,ps,es)) -> (it,ps,es)^b
=====  ======================================================  ======================================================

``F_P`` is G(Pose), ``F_E`` G(Exp). Each call gets the reference whose attribute it copies; with
label maps (:class:`~fer_core.methods.compgan.nets.CompGANConfig`) also that attribute's label.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch

__all__ = ["TAGS", "POSE_TAGS", "EXP_TAGS", "REFERENCES", "algorithm1", "tag_labels"]

#: The eight outputs, in the order Algorithm 1 produces them (step 1a, 1b, 2a, 2b, ...).
TAGS = ("(it,pt,es)a", "(it,ps,et)b", "(it,pt,et)a", "(it,pt,et)b", "(it,ps,et)a", "(it,pt,es)b", "(it,ps,es)a",
        "(it,ps,es)b")
#: The outputs of G(Pose) (Algorithm 1's "Output" line) and of G(Exp).
POSE_TAGS = ("(it,pt,es)a", "(it,pt,et)b", "(it,ps,et)a", "(it,ps,es)b")
EXP_TAGS = ("(it,ps,et)b", "(it,pt,et)a", "(it,pt,es)b", "(it,ps,es)a")
#: The reference faces Algorithm 1 takes, keyed by their (pose, expression): identity ``ir``.
REFERENCES = (("pt", "es"), ("ps", "et"), ("pt", "et"), ("ps", "es"))

Editor = Callable[..., torch.Tensor]


def tag_labels(tag: str, labels: Mapping[str, torch.Tensor]) -> dict[str, int | torch.Tensor]:
    """``{"pose": ..., "expression": ...}`` that the tagged image must show, read from ``labels``."""
    from fer_core.methods.compgan.losses import expression_of, pose_of

    return {"pose": labels[pose_of(tag)], "expression": labels[expression_of(tag)]}


def algorithm1(F_P: Editor, F_E: Editor, I: torch.Tensor, refs: Mapping[tuple[str, str], torch.Tensor],
               labels: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Run Algorithm 1 on a batch of source faces.

    Args:
        F_P, F_E: G(Pose) and G(Exp), called as ``F(x, reference, labels)`` (``labels`` a tuple,
            empty unless ``labels`` is given).
        I: ``(B, C, S, S)`` the source faces ``(it, ps, es)``.
        refs: the reference faces of identity ``ir``, keyed ``("pt", "es")``, ``("ps", "et")``,
            ``("pt", "et")``, ``("ps", "es")`` (:data:`REFERENCES`), each ``(B, C, S, S)``.
        labels: ``ps``, ``pt``, ``es``, ``et`` as ``(B,)`` codes, passed to each call as its target
            attribute (for editors with label maps); ``None`` passes none.

    Returns:
        tag -> ``(B, C, S, S)`` for the eight generated images, in :data:`TAGS` order.
    """
    missing = [k for k in REFERENCES if k not in refs]
    if missing:
        raise ValueError(f"Algorithm 1 needs the reference faces {list(REFERENCES)}; missing {missing}")

    def P(x: torch.Tensor, pose: str, ref: tuple[str, str]) -> torch.Tensor:
        return F_P(x, refs[ref], () if labels is None else (labels[pose],))

    def E(x: torch.Tensor, expr: str, ref: tuple[str, str]) -> torch.Tensor:
        return F_E(x, refs[ref], () if labels is None else (labels[expr],))

    out: dict[str, torch.Tensor] = {}
    out["(it,pt,es)a"] = P(I, "pt", ("pt", "es"))  # step 1
    out["(it,ps,et)b"] = E(I, "et", ("ps", "et"))
    out["(it,pt,et)a"] = E(out["(it,pt,es)a"], "et", ("pt", "et"))  # step 2
    out["(it,pt,et)b"] = P(out["(it,ps,et)b"], "pt", ("pt", "et"))
    out["(it,ps,et)a"] = P(out["(it,pt,et)a"], "ps", ("ps", "et"))  # step 3
    out["(it,pt,es)b"] = E(out["(it,pt,et)b"], "es", ("pt", "es"))
    out["(it,ps,es)a"] = E(out["(it,ps,et)a"], "es", ("ps", "es"))  # step 4
    out["(it,ps,es)b"] = P(out["(it,pt,es)b"], "ps", ("ps", "es"))
    return out
