"""Edits with trained editors, the augmentation step, and the pose normalisation of "+Front"/"+Combine".

Paper: Comp-GAN / F2ED (Sec. 5.3 variants (1)-(7), Sec. 5.4 "The number of synthesized images":
"We choose to generate 10 synthesized images for each novel input category").

- :func:`edit` applies one augmenter (``"G(Pose)"``, ``"G(Exp)"``, ``"G(Pose)+G(Exp)"``,
  ``"Pix2Pix"``, ``"AttGAN"``) to source faces with references (or target labels);
- :func:`plan_augmentation` chooses, for each generated face, its source, targets and references
  so that it belongs to a *novel* class of the task (a novel expression, view or identity); where
  the task has no novel class in its training set (ER-SS, ER-ZID, ER-ZP) every expression class is
  a target. An augmenter changes only what it can: G(Pose) keeps the expression (so a novel
  expression is reached by re-posing its shots), G(Exp) keeps the pose (a novel view is reached by
  re-expressing its shots);
- :func:`augment` = both, returning labelled faces for the recogniser;
- :func:`to_poses` turns faces into each of the four views with G(Pose) ("+Front": the front
  view; "+Combine" and "Ours": all four, whose features are concatenated with the input's).

Deviation from the paper: it does not say how sources, targets and references of the generated
faces are drawn; the rules above are ours. The references of :func:`to_poses` are random training
faces of the target view (a test face's expression is unknown, so it cannot pick one that matches).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from fer_core.evaluate import eval_mode
from fer_core.methods.compgan.method import codes_of

__all__ = ["AUGMENTERS", "CHANGES", "edit", "pick_references", "plan_augmentation", "augment", "to_poses"]

#: Augmenters and the attributes each changes.
CHANGES: dict[str, tuple[str, ...]] = {"G(Pose)": ("pose",), "G(Exp)": ("expression",),
                                       "G(Pose)+G(Exp)": ("pose", "expression"), "Pix2Pix": ("pose", "expression"),
                                       "AttGAN": ("pose", "expression")}
AUGMENTERS = tuple(CHANGES)


def _labels(net: nn.Module, *ys: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return tuple(ys) if getattr(net, "label_sizes", ()) else ()


@torch.no_grad()
def edit(kind: str, nets: Mapping[str, nn.Module], x: torch.Tensor, *, ref_pose: torch.Tensor | None = None,
         ref_exp: torch.Tensor | None = None, ref_both: torch.Tensor | None = None, et: torch.Tensor,
         pt: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``(N, C, S, S)`` faces edited by augmenter ``kind`` (eval mode, batched; result on the CPU).

    Args:
        kind: one of :data:`AUGMENTERS`.
        nets: ``G_Pose`` and ``G_Exp`` (Comp-GAN's), or ``G`` (the competitor's editor).
        x: ``(N, C, S, S)`` sources in [-1, 1].
        ref_pose: references showing the target pose (G(Pose), and the first step of the composition,
            pose first as Algorithm 1's branch a); ref_exp: the target expression (G(Exp), second step);
            ref_both: both (Pix2Pix). et, pt: ``(N,)`` target expression and pose codes.
    """
    if kind not in CHANGES:
        raise ValueError(f"unknown augmenter {kind!r}; choose one of {AUGMENTERS}")
    device = next(iter(nets.values())).parameters().__next__().device
    out = []
    with eval_mode(*nets.values()):
        for lo in range(0, len(x), batch_size):
            sl = slice(lo, lo + batch_size)
            xs, e, p = x[sl].to(device), et[sl].to(device), pt[sl].to(device)
            r = lambda ref: ref[sl].to(device)  # noqa: E731
            if kind == "G(Pose)":
                y = nets["G_Pose"](xs, r(ref_pose), _labels(nets["G_Pose"], p))
            elif kind == "G(Exp)":
                y = nets["G_Exp"](xs, r(ref_exp), _labels(nets["G_Exp"], e))
            elif kind == "G(Pose)+G(Exp)":
                y = nets["G_Pose"](xs, r(ref_pose), _labels(nets["G_Pose"], p))
                y = nets["G_Exp"](y, r(ref_exp), _labels(nets["G_Exp"], e))
            elif kind == "Pix2Pix":
                y = nets["G"](xs, r(ref_both), _labels(nets["G"], e, p))
            else:
                y = nets["G"](xs, None, (e, p))
            out.append(y.float().cpu())
    return torch.cat(out) if out else torch.zeros(0, *x.shape[1:])


def _pick(codes: np.ndarray, rng: np.random.Generator, *masks: np.ndarray) -> int:
    """A random row satisfying the first mask combination that has any (masks ANDed in order, dropped from the end)."""
    for k in range(len(masks), 0, -1):
        m = np.logical_and.reduce(masks[:k])
        rows = np.flatnonzero(m)
        if len(rows):
            return int(rows[rng.integers(len(rows))])
    return int(rng.integers(len(codes)))


def pick_references(codes: np.ndarray, kind: str, i: int, es: int, ps: int, et: int, pt: int,
                    rng: np.random.Generator) -> tuple[int, int, int]:
    """Rows of ``codes`` to use as references when augmenter ``kind`` edits a face ``(i, ps, es)`` to
    ``(pt, et)``: ``(ref_pose, ref_exp, ref_both)``, each of another identity where one exists.

    ``ref_pose`` shows ``pt`` (preferably with expression ``es``), ``ref_exp`` shows ``et`` (preferably in
    the view the face has when G(Exp) edits it: ``pt`` after G(Pose) in the composition, else ``ps``),
    ``ref_both`` shows ``et`` (preferably in ``pt``).
    """
    ident, expr, view = codes[:, 0], codes[:, 1], codes[:, 2]
    v_exp = pt if "pose" in CHANGES[kind] else ps
    return (_pick(codes, rng, view == pt, ident != i, expr == es), _pick(codes, rng, expr == et, ident != i, view == v_exp),
            _pick(codes, rng, expr == et, view == pt, ident != i))


def plan_augmentation(codes: np.ndarray, kind: str, *, novel_by: str, novel: Sequence[int], n_per_class: int,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Sources, targets and references of the generated faces (rows of the training faces).

    Args:
        codes: ``(N, 3)`` identity, expression and view codes of the training faces.
        kind: the augmenter (:data:`AUGMENTERS`).
        novel_by: ``"expression"``, ``"view"``, ``"subject"`` or ``""``: the task's novel attribute.
        novel: the novel classes' codes that the training set holds (their shots); empty: every expression.
        n_per_class: generated faces per class.

    Returns:
        ``source``, ``et``, ``pt``, ``ref_pose``, ``ref_exp``, ``ref_both``: ``(M,)`` arrays.
    """
    if kind not in CHANGES:
        raise ValueError(f"unknown augmenter {kind!r}; choose one of {AUGMENTERS}")
    if n_per_class < 0:
        raise ValueError(f"n_per_class must be >= 0, got {n_per_class}")
    changes = CHANGES[kind]
    rng = np.random.default_rng(seed)
    ident, expr, view = codes[:, 0], codes[:, 1], codes[:, 2]
    expressions, views = np.unique(expr), np.unique(view)
    col = {"expression": 1, "view": 2, "subject": 0}
    mode = novel_by if novel_by in col and len(novel) else "expression"
    classes = list(novel) if len(novel) and novel_by in col else expressions.tolist()
    out: dict[str, list[int]] = {k: [] for k in ("source", "et", "pt", "ref_pose", "ref_exp", "ref_both")}

    def other(values: np.ndarray, v: int) -> int:
        rest = values[values != v]
        return int(rest[rng.integers(len(rest))]) if len(rest) else int(v)

    for c in classes:
        for _ in range(n_per_class):
            if mode == "expression":
                if "expression" in changes:
                    s = _pick(codes, rng, expr != c)
                    et = int(c)
                else:
                    s = _pick(codes, rng, expr == c)
                    et = int(expr[s])
                pt = other(views, view[s]) if "pose" in changes else int(view[s])
            elif mode == "view":
                if "pose" in changes:
                    s = _pick(codes, rng, view != c)
                    pt = int(c)
                else:
                    s = _pick(codes, rng, view == c)
                    pt = int(view[s])
                et = other(expressions, expr[s]) if "expression" in changes else int(expr[s])
            else:
                s = _pick(codes, rng, ident == c)
                et = other(expressions, expr[s]) if "expression" in changes else int(expr[s])
                pt = other(views, view[s]) if "pose" in changes else int(view[s])
            out["source"].append(s)
            out["et"].append(et)
            out["pt"].append(pt)
            for k, r in zip(("ref_pose", "ref_exp", "ref_both"),
                            pick_references(codes, kind, ident[s], expr[s], view[s], et, pt, rng)):
                out[k].append(r)
    return {k: np.asarray(v, np.int64) for k, v in out.items()}


def augment(kind: str, nets: Mapping[str, nn.Module], faces: Any, *, novel_by: str, novel: Sequence[int],
            n_per_class: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Generated, labelled faces of augmenter ``kind`` from a split's training faces (module docstring).

    Returns:
        ``image`` ``(M, C, S, S)`` (CPU), ``expression`` (the target expression, the recogniser's label),
        ``view``, ``identity``, ``source`` ``(M,)``.
    """
    data = faces.data
    codes = codes_of(data, "Comp-GAN's augmentation")
    plan = plan_augmentation(codes, kind, novel_by=novel_by, novel=novel, n_per_class=n_per_class, seed=seed)
    images = data["image"].cpu()
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    fake = edit(kind, nets, images[t(plan["source"])], ref_pose=images[t(plan["ref_pose"])],
                ref_exp=images[t(plan["ref_exp"])], ref_both=images[t(plan["ref_both"])], et=t(plan["et"]),
                pt=t(plan["pt"]))
    return {"image": fake, "expression": t(plan["et"]), "view": t(plan["pt"]),
            "identity": data["identity"].cpu()[t(plan["source"])], "source": t(plan["source"])}


def to_poses(G_Pose: nn.Module, x: torch.Tensor, references: Any, *, views: Sequence[int],
             seed: int = 0) -> dict[int, torch.Tensor]:
    """Faces ``x`` ``(N, C, S, S)`` turned into each of ``views`` by G(Pose), each with a random
    training face of that view as reference: view code -> ``(N, C, S, S)`` (CPU)."""
    codes = codes_of(references.data, "pose normalisation")
    rng = np.random.default_rng(seed)
    images = references.data["image"].cpu()
    out = {}
    for v in views:
        rows = np.flatnonzero(codes[:, 2] == v)
        if not len(rows):
            raise ValueError(f"pose normalisation to view {v}: the reference faces hold none in that view")
        ref = images[torch.from_numpy(rows[rng.integers(len(rows), size=len(x))])]
        out[int(v)] = edit("G(Pose)", {"G_Pose": G_Pose}, x.cpu(), ref_pose=ref, et=torch.zeros(len(x), dtype=torch.long),
                           pt=torch.full((len(x),), int(v)))
    return out
