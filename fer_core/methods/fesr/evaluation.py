"""How the FESR chapter scores a trained FESGAN: Tables III-IV, Figs. 6-7, and the independent judge.

Every function takes the generator ``G`` (eval mode is set inside) and the fold's test faces.
Two ground truths exist for a synthesized face:

- the paper's (Table III): the real test face of the same person in the target expression,
  recorded in another take (another lighting, background, framing);
- on the synthetic world, the *true* face: the same person, take and scene rendered with the
  target expression (:meth:`~fer_core.data.synthetic.world.SyntheticFaces.counterfactual`), which
  separates "did it change the expression?" from "did it guess the lighting?".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from fer_core import evaluate, metrics
from fer_core.experiments.data import ChapterData
from fer_core.judge import Judge
from fer_core.methods.fesr.method import sample_new_identities, synthesize

__all__ = ["transfers", "synthesize_to", "judge_transfers", "paper_table_iii", "intensity_curve", "prior_novelty",
           "ground_truth_pairs"]


def transfers(labels: torch.Tensor, K: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, targets)``: every face paired with every expression other than its own."""
    y = labels.cpu().numpy()
    rows = np.repeat(np.arange(len(y)), K - 1)
    shift = np.tile(np.arange(1, K), len(y))
    return rows, (y[rows] + shift) % K


def synthesize_to(G: nn.Module, x: torch.Tensor, targets: np.ndarray, *, intensity: float = 1.0,
                  chunk: int = 256) -> torch.Tensor:
    """``x̂`` for each face of ``x`` (N, C, S, S) towards ``targets`` (N,), in the input order, on the CPU."""
    out = torch.empty(len(x), *x.shape[1:])
    for t in np.unique(targets):
        idx = np.flatnonzero(targets == t)
        for lo in range(0, len(idx), chunk):
            part = idx[lo:lo + chunk]
            out[part] = synthesize(G, x[part], int(t), intensity=intensity)
    return out


def judge_transfers(G: nn.Module, judge: Judge, data: ChapterData, fold: int, device: torch.device) -> dict[str, float]:
    """The judge's reading of every test face turned into every other expression (see :meth:`Judge.score`):
    target-expression accuracy, identity kept, and, on the synthetic world, the distance to the true face
    next to that of a copy of the input."""
    test = data.fold(fold, device)["test"]
    x, K = test.data["image"], len(data.classes)
    rows, targets = transfers(test.data["expression"], K)
    fake = synthesize_to(G, x[rows], targets)
    truth = None
    if hasattr(data.dataset, "counterfactual"):
        truth = data.dataset.counterfactual(data.splits[fold].test[rows], expression=targets).cpu()
    return judge.score(fake, source=x[rows].cpu(), subjects=test.meta.subject.to_numpy()[rows],
                       expression=torch.as_tensor(targets), truth=truth)


def ground_truth_pairs(meta) -> np.ndarray:
    """``(P, 3)`` rows ``(input row, target expression, ground-truth row)``: every test face with every
    other expression its subject shows in the test set (same identity, same target class)."""
    lookup = {(s, e): i for i, (s, e) in enumerate(zip(meta["subject"].astype(str), meta["expression"]))}
    pairs = [(i, e2, lookup[(s, e2)]) for i, (s, e) in enumerate(zip(meta["subject"].astype(str), meta["expression"]))
             for e2 in sorted({e for (s2, e) in lookup if s2 == s}) if e2 != e]
    if not pairs:
        raise ValueError("no test subject shows two expressions, so there is no same-identity ground truth for "
                         "Table III; use a dataset with several expressions per subject")
    return np.asarray(pairs, dtype=np.int64)


def paper_table_iii(G: nn.Module, test: Any) -> dict[str, float]:
    """Table III's protocol: PSNR/SSIM of each synthesized face against the real test face of the same
    person in the target expression, and the same for the unchanged input."""
    x, meta = test.data["image"], test.meta.reset_index(drop=True)
    pairs = ground_truth_pairs(meta)
    fake = synthesize_to(G, x[pairs[:, 0]], pairs[:, 1])
    truth, inputs = x[pairs[:, 2]].cpu(), x[pairs[:, 0]].cpu()
    return {"psnr": metrics.psnr(fake, truth), "ssim": metrics.ssim(fake, truth),
            "copy_psnr": metrics.psnr(inputs, truth), "copy_ssim": metrics.ssim(inputs, truth), "n_pairs": len(pairs)}


def intensity_curve(G: nn.Module, judge: Judge, x: torch.Tensor, labels: torch.Tensor, levels: torch.Tensor,
                    K: int, *, generator: torch.Generator) -> dict[str, Any]:
    """Fig. 6 as a number: the judge's mean probability of the target class at each intensity ``v`` of
    ``u(y')`` (every test face towards one other expression drawn at random), and its Spearman rank
    correlation with ``v`` (1 = rises monotonically)."""
    shift = torch.randint(1, K, (len(labels),), generator=generator)
    targets = ((labels.cpu() + shift) % K).numpy()
    means = []
    for v in levels.tolist():
        probs = judge.expression_probs(synthesize_to(G, x, targets, intensity=float(v)))
        means.append(float(probs[torch.arange(len(targets)), torch.as_tensor(targets)].mean()))
    rho = float(stats.spearmanr(levels.numpy(), np.asarray(means)).statistic) if np.ptp(means) > 0 else 0.0
    return {"levels": levels, "target_prob": torch.tensor(means), "rho": rho}


def prior_novelty(G: nn.Module, judge: Judge, train_images: torch.Tensor, test_images: torch.Tensor, *, n: int,
                  K: int, generator: torch.Generator) -> dict[str, float]:
    """Are faces decoded from the prior (Eq. 13) new people? The judge's identity-feature cosine distance
    from each prior face to its nearest *training* face, averaged; beside it the same for real test faces
    (people the networks never saw), and the Fréchet distance of prior faces to real test faces in the
    judge's identity space (how face-like the new people are)."""
    faces = sample_new_identities(G.G_dec, n, range(K), generator=generator).flatten(0, 1)
    train_f = judge.identity_features(train_images)
    prior = evaluate.nearest_distance(judge.identity_features(faces), train_f)
    unseen = evaluate.nearest_distance(judge.identity_features(test_images), train_f)
    return {"prior_novelty": float(prior.mean()), "unseen_novelty": float(unseen.mean()),
            "prior_frechet": evaluate.frechet(judge.identity_features, test_images, faces)}
