"""How the JESRL chapter scores a trained model: ``C``'s accuracy (per pose), unpaired transfers read by
the independent judge, FID per expression (Tables V-VI), and the figures' images (Figs. 8-11).

Transfers follow the paper's unpaired protocol (Figs. 8-10): every test face ``I_a`` is given every
other expression ``e`` by exchanging blocks with a *reference* face ``I_b`` of expression ``e`` from
another test subject (:func:`reference_pairs`). On the synthetic world the true face of that
person in expression ``e`` exists (:meth:`~fer_core.data.synthetic.world.SyntheticFaces.counterfactual`),
so the judge also measures the distance to it next to that of a copy of the input; real datasets
have no such face and those numbers are left out.

FID: the paper's Fréchet Inception Distance (Eq. 13) needs Inception-v3 weights. Offline, the
Fréchet distance is computed on the features of the judge's expression network (a SmallCNN trained
on the fold's *real* training faces only, never on generated ones); :func:`inception_fid` gives
the Inception version when the reader holds the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fer_core import evaluate, metrics
from fer_core.judge import Judge
from fer_core.methods.jesrl.method import transfer
from fer_core.methods.jesrl.nets import C, Generator

__all__ = ["reference_pairs", "classify", "per_pose_accuracy", "judge_transfers", "fid_per_expression",
           "inception_fid", "transfer_grid", "show_rows"]


def reference_pairs(labels: np.ndarray, subjects: np.ndarray, K: int, *, seed: int = 0) -> np.ndarray:
    """``(P, 3)`` rows ``(source, target expression, reference)``: every face with every other
    expression, the reference a random face of that expression from another subject.

    Raises:
        ValueError: some expression is shown only by the source's own subject (no reference).
    """
    g = torch.Generator().manual_seed(seed)
    out = []
    for a in range(len(labels)):
        for shift in range(1, K):
            e = (int(labels[a]) + shift) % K
            cand = np.flatnonzero((labels == e) & (subjects != subjects[a]))
            if len(cand) == 0:
                raise ValueError(f"no test face of expression {e} from a subject other than {subjects[a]!r}: "
                                 "unpaired transfers need at least two test subjects per expression")
            out.append((a, e, int(cand[torch.randint(len(cand), (1,), generator=g)])))
    return np.asarray(out, dtype=np.int64)


def _representation(G: Generator | None, net_C: C, x: torch.Tensor) -> torch.Tensor | None:
    if not net_C.uses_representation:
        return None
    return evaluate.apply(G.G_enc, x, modules=(G,))


def classify(net_C: C, G: Generator | None, x: torch.Tensor, *, features: bool = False) -> dict[str, torch.Tensor]:
    """``C``'s logits (and penultimate features) on faces ``x``, with ``R = G_enc(x)`` when ``C`` reads it."""
    R = _representation(G, net_C, x)
    dev = evaluate.module_device(net_C)
    logits, feats = [], []
    with evaluate.eval_mode(net_C):
        for lo in range(0, len(x), 256):
            xb = x[lo:lo + 256].to(dev)
            Rb = None if R is None else R[lo:lo + 256].to(dev)
            f = net_C.features(xb, Rb)
            feats.append(f.float().cpu())
            logits.append(net_C.out(f).float().cpu())
    out = {"logits": torch.cat(logits)}
    if features:
        out["features"] = torch.cat(feats)
    return out


def per_pose_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor, pose: np.ndarray) -> dict[str, float]:
    """Accuracy per pose value (Tables II, VII), keyed ``"<yaw>"`` (degrees) in ascending order."""
    pose = np.asarray(pose)
    ok = (y_true == y_pred).numpy()
    return {f"{v:g}": float(ok[pose == v].mean()) for v in sorted(set(pose.tolist()))}


def judge_transfers(G: Generator, judge: Judge, x: torch.Tensor, labels: np.ndarray, pairs: np.ndarray, *,
                    subjects: np.ndarray, pose: np.ndarray | None,
                    truth: torch.Tensor | None) -> tuple[dict[str, float], torch.Tensor]:
    """The judge's reading of the transfers ``pairs`` (see :func:`reference_pairs`) of faces ``x`` with
    expressions ``labels``: target expression, identity kept, pose kept and, with ``truth`` (the true
    faces), the distance to the true face next to a copy's, and the judge's identity verification of
    the true faces themselves (its reference for "identity kept"); ``kept_expression``: how often the
    judge still reads the source's own expression in the transfer. Returns ``(scores, fake faces)``."""
    src, tgt, ref = pairs[:, 0], torch.as_tensor(pairs[:, 1]), pairs[:, 2]
    fake = transfer(G, x[src], x[ref], torch.as_tensor(labels[src]), tgt)
    scores = judge.score(fake, source=x[src].cpu(), subjects=subjects[src], expression=tgt,
                         pose=None if pose is None else pose[src], truth=truth)
    scores["kept_expression"] = float((judge.expression(fake) == torch.as_tensor(labels[src])).double().mean())
    if truth is not None:
        ceiling = judge.score(truth.cpu(), source=x[src].cpu(), subjects=subjects[src])
        scores["truth_identity_tar"] = ceiling.get("identity_tar", float("nan"))
    return scores, fake


def fid_per_expression(embed, real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor,
                       fake_labels: torch.Tensor, K: int, *, modules: tuple = ()) -> dict[int, float]:
    """Tables V-VI: per expression ``e``, the Fréchet distance (Eq. 13) between real faces of ``e`` and
    faces generated with target ``e``, on ``embed`` features (NaN where a side has fewer than 2 faces)."""
    fr = evaluate.features(embed, real, modules=modules)
    ff = evaluate.features(embed, fake, modules=modules)
    out = {}
    for e in range(K):
        a, b = fr[real_labels == e], ff[fake_labels == e]
        out[e] = metrics.frechet_distance(a, b) if len(a) > 1 and len(b) > 1 else float("nan")
    return out


def inception_fid(real: torch.Tensor, fake: torch.Tensor, weights: str | Path) -> float:
    """The paper's FID (Eq. 13) on Inception-v3 pool features, from weights the reader holds
    (torchmetrics' ``FrechetInceptionDistance`` with ``feature_extractor_weights_path``; needs the
    ``torch-fidelity`` package). Faces in [-1, 1], grey faces repeated to RGB.

    Raises:
        FileNotFoundError: no file at ``weights``.
        ValueError: torchmetrics cannot build its Inception network here (the message says why).
    """
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"Inception weights not found at {path}; pass the path of the pt_inception "
                                "weights torchmetrics/torch-fidelity use (e.g. pt_inception-2015-12-05-6726825d.pth), "
                                "or inception_weights=None for the offline Fréchet distance")
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance

        metric = FrechetInceptionDistance(feature=2048, normalize=True, feature_extractor_weights_path=str(path))
    except (ModuleNotFoundError, RuntimeError) as exc:
        raise ValueError(f"the Inception FID could not be built ({exc}); install torch-fidelity "
                         "(pip install torch-fidelity) next to torchmetrics") from exc
    rgb = lambda t: ((t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t).float().clamp(-1, 1) + 1) / 2  # noqa: E731
    for real_side, images in ((True, real), (False, fake)):
        for batch in images.split(64):
            metric.update(rgb(batch), real=real_side)
    return float(metric.compute())


def show_rows(meta, n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` test rows of different subjects and, cycling, different poses and expressions (figure inputs)."""
    subjects = sorted(meta["subject"].astype(str).unique())[:n]
    poses = sorted(meta["yaw"].unique()) if "yaw" in meta else [None]
    rows = []
    for k, s in enumerate(subjects):
        mine = meta[meta["subject"].astype(str) == s]
        if poses[0] is not None:
            at = mine[mine["yaw"] == poses[k % len(poses)]]
            mine = at if len(at) else mine
        rows.append(int(mine.index[(k + seed) % len(mine)]))
    return np.asarray(rows, dtype=np.int64)


def transfer_grid(G: Generator, x: torch.Tensor, labels: np.ndarray, subjects: np.ndarray, sources: np.ndarray,
                  K: int) -> dict[str, Any]:
    """Figs. 8-9: each source face (rows) given every expression (columns) taken from one reference face
    per expression, the references of subjects not among the sources. Returns ``references (K, c, S, S)``,
    ``grid (len(sources), K + 1, c, S, S)`` (column 0: the source) and the reference rows."""
    taken = set(subjects[sources].tolist())
    refs = []
    for e in range(K):
        cand = np.flatnonzero((labels == e) & ~np.isin(subjects, list(taken)))
        if len(cand) == 0:
            cand = np.flatnonzero(labels == e)
        refs.append(int(cand[0]))
    refs = np.asarray(refs)
    rows = []
    for a in sources:
        own = int(labels[a])
        cells = [x[a].cpu()]
        for e in range(K):
            if e == own:
                cells.append(x[a].cpu())
                continue
            out = transfer(G, x[[a]], x[[refs[e]]], torch.tensor([own]), torch.tensor([e]))
            cells.append(out[0])
        rows.append(torch.stack(cells))
    return {"references": x[refs].cpu(), "grid": torch.stack(rows), "reference_rows": torch.as_tensor(refs)}
