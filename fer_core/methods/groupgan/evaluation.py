"""How the GroupGAN chapter scores a trained framework: recognition of weak frames, the judge's reading
of G's faces, the features' intra-class spread (Fig. 4 as a number), and accuracy per frame.

Paper: "GroupGAN: weak expression recognition by magnifying expressions" (Niu et al., KBS 2022).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from fer_core.data.protocols import groupgan_frames
from fer_core.judge import Judge
from fer_core.methods.groupgan.losses import feature_difference_map, heat_map
from fer_core.methods.groupgan.method import GroupGAN, magnify, predict

__all__ = ["frame_roles", "intra_class_ratio", "per_frame_accuracy", "magnification_scores", "fig5_rows",
           "same_class_pairs", "feature_maps"]


def frame_roles(meta: pd.DataFrame, weak: tuple[int, int] = (6, 8)) -> dict[str, np.ndarray]:
    """Positional rows of a split part's ``meta``: ``weak`` (frames 6-8, 1-based), ``peak`` (last frames),
    ``pairs`` ``(P, 2)`` (weak row, its sequence's peak row), by :func:`~fer_core.data.protocols.groupgan_frames`."""
    sel = groupgan_frames(meta.reset_index(drop=True), weak=weak)
    return {"weak": sel.roles["weak"], "peak": sel.roles["peak"], "pairs": sel.pairs}


def intra_class_ratio(features: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean distance of a feature to its class centroid over the mean distance between class centroids
    (``(N, D)``, ``(N,)``): lower means tighter classes (Fig. 1b, Fig. 4's "more similar features")."""
    f, y = features.float().cpu(), labels.cpu()
    classes = torch.unique(y)
    mu = torch.stack([f[y == c].mean(0) for c in classes])
    own = mu[torch.searchsorted(classes, y)]
    within = (f - own).norm(dim=1).mean()
    between = torch.pdist(mu).mean() if len(classes) > 1 else torch.tensor(float("nan"))
    return float(within / between.clamp_min(1e-12))


def per_frame_accuracy(method: GroupGAN, x: torch.Tensor, y: torch.Tensor, frames: np.ndarray) -> dict[int, float]:
    """Accuracy of the framework on the test faces of each frame number (0-based): neutral to peak."""
    pred = predict(method, x)[0].argmax(1).cpu()
    y = y.cpu()
    return {int(f): float((pred[frames == f] == y[frames == f]).double().mean()) for f in np.unique(frames)}


def magnification_scores(method: GroupGAN, judge: Judge, x: torch.Tensor, y: torch.Tensor, subjects: np.ndarray,
                         truth: torch.Tensor | None) -> dict[str, float]:
    """The judge's reading of G's faces of the weak test frames (:meth:`~fer_core.judge.Judge.score`):
    intensity of G's face, the input and the true peak face; expression and identity kept; PSNR to the
    true peak face next to a copy of the input. Adds ``intensity_gap`` (|truth - G's face|) and
    ``copy_intensity_gap`` (|truth - input|) per face, averaged."""
    fake = magnify(method, x).cpu()
    out = judge.score(fake, source=x.cpu(), subjects=subjects, expression=y.cpu(), truth=truth)
    if "intensity" in judge.nets and truth is not None:
        t = judge.intensity(truth.float().cpu())
        out["intensity_gap"] = float((t - judge.intensity(fake)).abs().mean())
        out["copy_intensity_gap"] = float((t - judge.intensity(x.float().cpu())).abs().mean())
    return out


def fig5_rows(y: np.ndarray, n: int) -> np.ndarray:
    """``n`` rows cycling through the expressions (Fig. 5's one row per expression)."""
    rows, classes = [], np.unique(y)
    for i in range(n):
        mine = np.flatnonzero(y == classes[i % len(classes)])
        rows.append(int(mine[(i // len(classes)) % len(mine)]))
    return np.asarray(rows, dtype=np.int64)


def fig5(method: GroupGAN, x: torch.Tensor, x_peak: torch.Tensor) -> dict[str, torch.Tensor]:
    """Fig. 5: weak input, G's face and its heat map, the real peak and its heat map (Eq. 22, each against
    the input: where the face changed)."""
    fake = magnify(method, x).cpu()
    x, x_peak = x.cpu(), x_peak.cpu()
    return {"input": x, "fake": fake, "heat_fake": heat_map(fake, x), "peak": x_peak, "heat_peak": heat_map(x_peak, x)}


def same_class_pairs(y: np.ndarray, subjects: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` rows of two faces of one expression from different subjects (Fig. 4's pairs)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        c = np.unique(y)[i % len(np.unique(y))]
        rows = np.flatnonzero(y == c)
        a = int(rng.choice(rows))
        others = rows[subjects[rows] != subjects[a]]
        out.append((a, int(rng.choice(others if len(others) else rows))))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def feature_maps(features: torch.Tensor, pairs: np.ndarray, *, threshold: float = 0.5) -> dict[str, Any]:
    """Fig. 4 for ``pairs`` of rows of ``features`` ``(N, 256)``: the 8x32 difference maps, their lit
    positions and the fraction lit per pair. The scale is this network's own: the 95th percentile of
    ``|f_a - f_b|`` over all pairs of consecutive faces, of any expression."""
    f = features.float()
    scale = torch.quantile((f[1:] - f[:-1]).abs().flatten(), 0.95)
    diff, lit = feature_difference_map(f[pairs[:, 0]], f[pairs[:, 1]], threshold=threshold, scale=scale)
    return {"diff": diff, "lit": lit, "lit_fraction": lit.float().mean(dim=(1, 2))}
