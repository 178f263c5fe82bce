"""Evaluation metrics shared by the chapters.

Thin, documented wrappers around torchmetrics (accuracy, confusion matrix, PSNR, SSIM,
ROC, Fréchet distance) that fix the conventions of this book once: images are
``(B, C, H, W)`` floats in [-1, 1], labels are int64 class indices, and every scalar
comes back as a Python ``float`` ready for a results JSON. What torchmetrics does not
have (face-verification rate at a fixed false-accept rate, the real–synthetic feature
gap, ``mean ± std`` formatting) is written here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.functional.classification import (
    binary_roc,
    multiclass_accuracy,
    multiclass_confusion_matrix,
)
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
from torchmetrics.image.fid import FrechetInceptionDistance

__all__ = [
    "accuracy",
    "confusion_matrix",
    "psnr",
    "ssim",
    "frechet_distance",
    "make_fid",
    "fid",
    "verification_roc",
    "verification_rate",
    "FeatureGap",
    "feature_gap",
    "mean_std",
    "attribute_metrics",
    "predicted_sets",
]


def _as_tensor(x, *, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x.detach()
    try:
        return torch.as_tensor(np.asarray(x))
    except Exception as exc:
        raise TypeError(f"{name} must be a tensor or array-like, got {type(x).__name__}") from exc


# --------------------------------------------------------------------- classification


def _num_classes(preds: Tensor, labels: Tensor, num_classes: int | None) -> int:
    if num_classes is not None:
        return int(num_classes)
    if preds.ndim == 2:
        return int(preds.shape[1])
    return int(max(int(preds.max()), int(labels.max())) + 1)


def accuracy(logits_or_preds, labels, *, num_classes: int | None = None, average: str = "micro") -> float:
    """Classification accuracy in [0, 1].

    Args:
        logits_or_preds: ``(B, K)`` logits/probabilities (arg-max is taken) or ``(B,)``
            predicted class indices.
        labels: ``(B,)`` true class indices.
        num_classes: K; inferred from the logits' width or the largest index when omitted.
        average: ``"micro"`` (fraction of correct samples, the papers' "accuracy") or
            ``"macro"`` (mean per-class recall, for imbalanced sets such as RAF-DB).
    """
    preds = _as_tensor(logits_or_preds, name="logits_or_preds")
    labels = _as_tensor(labels, name="labels").long()
    if preds.ndim not in (1, 2) or preds.shape[0] != labels.shape[0]:
        raise ValueError(f"accuracy expects (B,) or (B, K) predictions for (B,) labels; got {tuple(preds.shape)} "
                         f"and {tuple(labels.shape)}")
    if labels.numel() == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    if preds.ndim == 1:
        preds = preds.long()
    k = _num_classes(preds, labels, num_classes)
    return float(multiclass_accuracy(preds, labels, num_classes=k, average=average))


def confusion_matrix(preds, labels, num_classes: int, *, normalize: str | None = None) -> Tensor:
    """``(K, K)`` confusion matrix; rows are true classes, columns predicted classes.

    Args:
        preds: ``(B,)`` predicted indices or ``(B, K)`` logits.
        labels: ``(B,)`` true indices.
        num_classes: K.
        normalize: ``None`` (int64 counts), ``"true"`` (rows sum to 1: per-class recall),
            ``"pred"`` or ``"all"``, as in torchmetrics.
    """
    preds = _as_tensor(preds, name="preds")
    labels = _as_tensor(labels, name="labels").long()
    if preds.ndim == 1:
        preds = preds.long()
    return multiclass_confusion_matrix(preds, labels, num_classes=num_classes, normalize=normalize)


# ---------------------------------------------------------------------------- images


def _check_images(x: Tensor, y: Tensor, value_range: tuple[float, float]) -> float:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two (B, C, H, W) image batches of the same shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    lo, hi = value_range
    tol = 1e-3 * (hi - lo)
    for name, t in (("x", x), ("y", y)):
        if t.numel() and (float(t.min()) < lo - tol or float(t.max()) > hi + tol):
            raise ValueError(f"{name} has values in [{float(t.min()):.3g}, {float(t.max()):.3g}] but "
                             f"value_range={value_range}; pass value_range=(0, 1) for [0, 1] images")
    return float(hi - lo)


def psnr(x, y, *, value_range: tuple[float, float] = (-1.0, 1.0), reduction: str = "mean") -> float | Tensor:
    """Peak signal-to-noise ratio in dB, computed per image and then averaged.

    Args:
        x, y: ``(B, C, H, W)`` images in ``value_range`` (default [-1, 1], so the peak-to-peak
            range is 2).
        reduction: ``"mean"`` (a float) or ``"none"`` (a ``(B,)`` tensor).

    Identical images give ``+inf`` (the MSE is zero); the value is not capped, so a mean
    over a batch containing an exact copy is ``inf`` too.
    """
    x, y = _as_tensor(x, name="x").float(), _as_tensor(y, name="y").float()
    data_range = _check_images(x, y, value_range)
    per_image = peak_signal_noise_ratio(x, y, data_range=data_range, dim=(1, 2, 3), reduction="none")
    return per_image.mean().item() if reduction == "mean" else per_image


def ssim(x, y, *, value_range: tuple[float, float] = (-1.0, 1.0), reduction: str = "mean") -> float | Tensor:
    """Structural similarity (Gaussian window 11, σ = 1.5), per image then averaged; 1 for identical images.

    Args:
        x, y: ``(B, C, H, W)`` images in ``value_range`` (default [-1, 1]).
        reduction: ``"mean"`` (a float) or ``"none"`` (a ``(B,)`` tensor).
    """
    x, y = _as_tensor(x, name="x").float(), _as_tensor(y, name="y").float()
    data_range = _check_images(x, y, value_range)
    per_image = structural_similarity_index_measure(x, y, data_range=data_range, reduction="none")
    return per_image.mean().item() if reduction == "mean" else per_image


# ------------------------------------------------------------------ Fréchet distances


class _Passthrough(nn.Module):
    """Feature "extractor" that returns its input, so FID's statistics run on given features."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        return x


class _FlattenFeatures(nn.Module):
    """Wraps a user network: eval mode (restored afterwards), no gradients, ``(B, D)`` output."""

    def __init__(self, net: nn.Module, num_features: int):
        super().__init__()
        self.net = net
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                return self.net(x).flatten(1)
        finally:
            self.net.train(was_training)


def frechet_distance(real_feats, fake_feats) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID without Inception).

    Args:
        real_feats, fake_feats: ``(N, D)`` and ``(M, D)`` features, N, M >= 2.

    Uses torchmetrics' :class:`~torchmetrics.image.fid.FrechetInceptionDistance` statistics
    (float64) on the given features. Numerical error makes the distance of a set to
    itself a tiny number (around 1e-6 relative), not exactly 0.
    """
    real = _as_tensor(real_feats, name="real_feats").double()
    fake = _as_tensor(fake_feats, name="fake_feats").double()
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) features, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if len(real) < 2 or len(fake) < 2:
        raise ValueError("the Fréchet distance needs at least 2 samples on each side")
    metric = FrechetInceptionDistance(feature=_Passthrough(real.shape[1]))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())


def make_fid(feature_extractor: nn.Module, *, num_features: int | None = None,
             input_size: tuple[int, int, int] = (3, 64, 64)) -> FrechetInceptionDistance:
    """A torchmetrics FID metric on a custom feature extractor (no Inception weights here).

    Args:
        feature_extractor: maps ``(B, C, H, W)`` images in [-1, 1] to ``(B, D)`` (or any shape
            that flattens to D); it is run in eval mode without gradients.
        num_features: D; inferred from one zero image of ``input_size`` when omitted.
        input_size: ``(C, H, W)`` of that probe image.

    Deviation from the papers: Switch-GAN reports FID with Inception-v3 pool features;
    we use a network trained on the book's own data, so values are comparable between our
    variants but not with the paper's numbers.
    """
    if num_features is None:
        was_training = feature_extractor.training
        feature_extractor.eval()
        with torch.no_grad():
            probe = torch.zeros(1, *input_size, device=next(feature_extractor.parameters(), torch.empty(0)).device)
            num_features = int(feature_extractor(probe).flatten(1).shape[1])
        feature_extractor.train(was_training)
    return FrechetInceptionDistance(feature=_FlattenFeatures(feature_extractor, num_features))


def _batches(images, batch_size: int) -> Iterable[Tensor]:
    if isinstance(images, Tensor):
        yield from images.split(batch_size)
    else:
        for b in images:
            yield b["image"] if isinstance(b, dict) else b


def fid(real_images, fake_images, feature_extractor: nn.Module, *, batch_size: int = 64,
        num_features: int | None = None) -> float:
    """FID between two image sets under ``feature_extractor`` (see :func:`make_fid`).

    Args:
        real_images, fake_images: ``(N, C, H, W)`` tensors in [-1, 1], or iterables of such
            batches (or of dict batches with an ``"image"`` key, as the data loaders yield).
    """
    device = next(feature_extractor.parameters(), torch.empty(0)).device
    metric = None
    for real, images in ((True, real_images), (False, fake_images)):
        for batch in _batches(images, batch_size):
            if metric is None:
                metric = make_fid(feature_extractor, num_features=num_features, input_size=tuple(batch.shape[1:]))
            metric.update(batch.to(device).float(), real=real)
    if metric is None:
        raise ValueError("fid got no images")
    return float(metric.compute())


# ------------------------------------------------------------------ face verification


def _pair_scores(emb_a, emb_b, same) -> tuple[Tensor, Tensor]:
    a = _as_tensor(emb_a, name="emb_a").float().flatten(1)
    b = _as_tensor(emb_b, name="emb_b").float().flatten(1)
    same = _as_tensor(same, name="same").bool().flatten()
    if a.shape != b.shape or len(same) != len(a):
        raise ValueError(f"expected (P, D) embeddings for both sides of P pairs and (P,) same-flags; got "
                         f"{tuple(a.shape)}, {tuple(b.shape)}, {tuple(same.shape)}")
    if same.all() or not same.any():
        raise ValueError("verification needs both genuine (same=True) and impostor (same=False) pairs")
    return F.cosine_similarity(a, b, dim=1), same


def verification_roc(emb_a, emb_b, same) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of face verification by cosine similarity of embedding pairs.

    Args:
        emb_a, emb_b: ``(P, D)`` embeddings of the two faces of each pair.
        same: ``(P,)`` bool, True when the pair shows the same identity.

    Returns:
        ``(far, tar, thresholds)``: false-accept rate, true-accept rate and the cosine
        threshold at each ROC point (accept when similarity >= threshold), by torchmetrics'
        ``binary_roc``.
    """
    scores, same = _pair_scores(emb_a, emb_b, same)
    # binary_roc applies a sigmoid to scores outside [0, 1]; map cosines there exactly.
    far, tar, thr = binary_roc(((scores + 1) / 2).clamp(0, 1), same.long())
    return far.numpy(), tar.numpy(), (thr * 2 - 1).clamp(-1, 1).numpy()


def verification_rate(emb_a, emb_b, same, *, far: float = 0.01) -> float:
    """True-accept rate at a false-accept rate of at most ``far`` (FESR Table IV).

    The threshold is the one among the ROC points with FAR <= ``far`` that accepts most
    genuine pairs. With few impostor pairs the attainable FAR values are coarse (steps of
    1 / #impostors); choose ``far`` accordingly.
    """
    if not 0.0 <= far <= 1.0:
        raise ValueError(f"far must be in [0, 1], got {far}")
    fars, tars, _ = verification_roc(emb_a, emb_b, same)
    return float(tars[fars <= far + 1e-12].max())


# ---------------------------------------------------------------- real–synthetic gap


@dataclass(frozen=True)
class FeatureGap:
    """How far synthetic features sit from the real ones, class by class (Euclidean).

    Attributes:
        fake_to_centroid: mean distance of a synthetic feature to its class's real centroid.
        real_to_centroid: mean distance of a real feature to its class's real centroid
            (the real data's own spread).
        normalized: ``fake_to_centroid / real_to_centroid``; 1 means synthetic samples are
            as close to the class centre as real ones, above 1 means farther.
        centroid_shift: mean over classes of the distance between the synthetic and the
            real class centroids; 0 when the two sets coincide.
    """

    fake_to_centroid: float
    real_to_centroid: float
    normalized: float
    centroid_shift: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def feature_gap(real_feats, real_labels, fake_feats, fake_labels) -> FeatureGap:
    """Real–synthetic feature gap (the quantitative side of FESR Fig. 9).

    Args:
        real_feats: ``(N, D)`` features of real images; real_labels: ``(N,)`` classes.
        fake_feats: ``(M, D)`` features of synthetic images; fake_labels: ``(M,)`` classes,
            each of which must occur among the real labels.
    """
    real = _as_tensor(real_feats, name="real_feats").double().flatten(1)
    fake = _as_tensor(fake_feats, name="fake_feats").double().flatten(1)
    ry = _as_tensor(real_labels, name="real_labels").long().flatten()
    fy = _as_tensor(fake_labels, name="fake_labels").long().flatten()
    if len(real) != len(ry) or len(fake) != len(fy) or real.shape[1] != fake.shape[1]:
        raise ValueError(f"shape mismatch: real {tuple(real.shape)} / {tuple(ry.shape)}, "
                         f"fake {tuple(fake.shape)} / {tuple(fy.shape)}")
    if len(real) == 0 or len(fake) == 0:
        raise ValueError("feature_gap needs real and synthetic features")
    classes = torch.unique(ry)
    missing = sorted(set(torch.unique(fy).tolist()) - set(classes.tolist()))
    if missing:
        raise ValueError(f"synthetic classes {missing} have no real samples to form a centroid")
    lut = torch.full((int(max(classes.max(), fy.max())) + 1,), -1, dtype=torch.long)
    lut[classes] = torch.arange(len(classes))
    centroids = torch.stack([real[ry == c].mean(0) for c in classes])
    fake_d = (fake - centroids[lut[fy]]).norm(dim=1).mean().item()
    real_d = (real - centroids[lut[ry]]).norm(dim=1).mean().item()
    fake_classes = torch.unique(fy)
    shift = torch.stack([(fake[fy == c].mean(0) - centroids[lut[c]]).norm() for c in fake_classes]).mean().item()
    normalized = fake_d / real_d if real_d > 0 else (0.0 if fake_d == 0 else math.inf)
    return FeatureGap(fake_to_centroid=fake_d, real_to_centroid=real_d, normalized=normalized, centroid_shift=shift)


# ------------------------------------------------------- label- and instance-based attribute metrics


def attribute_metrics(truth, predicted) -> dict[str, float]:
    """mA, acc, prec, rec and F1 of a multi-label prediction, as Comp-GAN's Eqs. (14)-(18) define them
    (after pedestrian-attribute recognition, Li et al. 2015):

    - ``mA = 1/(2M) Σ_i (TP_i/P_i + TN_i/N_i)`` over the ``M`` labels (label-based, Eq. 14);
    - ``acc = 1/N Σ_j |Y_j ∩ f(x_j)| / |Y_j ∪ f(x_j)|``, ``prec = 1/N Σ_j |Y_j ∩ f(x_j)| / |f(x_j)|``,
      ``rec = 1/N Σ_j |Y_j ∩ f(x_j)| / |Y_j|`` over the ``N`` examples (instance-based, Eqs. 15-17);
    - ``F1 = 2 prec rec / (prec + rec)`` (Eq. 18).

    Args:
        truth, predicted: ``(N, M)`` boolean (or 0/1) matrices: ``Y_j`` and ``f(x_j)`` as indicator rows.

    A ratio whose denominator is 0 (an empty predicted set in Eq. 16, a label with no negative or no
    positive example in Eq. 14) counts as 0 in Eqs. (15)-(17) and is left out of Eq. (14)'s mean; the
    paper writes the same symbol ``M`` for labels and examples, we read Eqs. (15)-(17) as means over examples.
    """
    Y = _as_tensor(truth, name="truth").bool()
    Fx = _as_tensor(predicted, name="predicted").bool()
    if Y.shape != Fx.shape or Y.dim() != 2:
        raise ValueError(f"attribute_metrics needs two (N, M) indicator matrices, got {tuple(Y.shape)} and "
                         f"{tuple(Fx.shape)}")
    if len(Y) == 0:
        raise ValueError("attribute_metrics needs at least one example")
    Yd, Fd = Y.double(), Fx.double()
    P, Nn = Yd.sum(0), (1 - Yd).sum(0)
    TP, TN = (Yd * Fd).sum(0), ((1 - Yd) * (1 - Fd)).sum(0)
    terms = torch.cat([(TP / P)[P > 0], (TN / Nn)[Nn > 0]])
    mA = float(terms.mean()) if len(terms) else float("nan")  # = Σ/(2M) when every label has both
    inter, union = (Yd * Fd).sum(1), ((Yd + Fd) > 0).double().sum(1)
    ratio = lambda a, b: torch.where(b > 0, a / b.clamp(min=1), torch.zeros_like(a))  # noqa: E731
    acc = float(ratio(inter, union).mean())
    prec = float(ratio(inter, Fd.sum(1)).mean())
    rec = float(ratio(inter, Yd.sum(1)).mean())
    f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return {"mA": mA, "acc": acc, "prec": prec, "rec": rec, "F1": f1}


def predicted_sets(probs, *, threshold: float = 0.5) -> Tensor:
    """``(N, K)`` class probabilities -> the indicator matrix ``f(x)`` of the classes with probability
    ``>= threshold`` (the pedestrian-attribute convention of Eqs. 14-18; may be empty for a row)."""
    p = _as_tensor(probs, name="probs").float()
    if p.dim() != 2:
        raise ValueError(f"predicted_sets takes (N, K) probabilities, got shape {tuple(p.shape)}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    return p >= threshold


# ----------------------------------------------------------------------- formatting


def mean_std(values: Sequence[float] | Tensor | np.ndarray, *, digits: int = 2, scale: float = 1.0) -> str:
    """Format ``mean ± std`` (sample std, ddof = 1) of ``values`` times ``scale``.

    ``mean_std([0.81, 0.85], scale=100)`` gives ``"83.00 ± 2.83"``. A single value is
    printed without a spread (``"81.00"``); an empty sequence gives ``"–"``.
    """
    arr = np.asarray(_as_tensor(values, name="values").double().flatten()) * scale
    if arr.size == 0:
        return "–"
    if arr.size == 1:
        return f"{arr[0]:.{digits}f}"
    return f"{arr.mean():.{digits}f} ± {arr.std(ddof=1):.{digits}f}"
