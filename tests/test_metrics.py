"""Metrics on tensors whose answers can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from fer_core import metrics


def test_accuracy_from_logits_and_from_indices():
    logits = torch.tensor([[2.0, 0.1, 0.0], [0.0, 3.0, 1.0], [0.5, 0.0, 0.1], [0.0, 0.0, 1.0]])
    labels = torch.tensor([0, 1, 2, 2])
    assert metrics.accuracy(logits, labels) == pytest.approx(0.75)
    assert metrics.accuracy(torch.tensor([0, 1, 0, 2]), labels) == pytest.approx(0.75)
    # macro: per-class recall 1, 1, 0.5 -> 2.5 / 3
    assert metrics.accuracy(logits, labels, average="macro") == pytest.approx(2.5 / 3)
    with pytest.raises(ValueError, match="predictions for"):
        metrics.accuracy(logits, labels[:3])


def test_confusion_matrix_rows_are_true_classes():
    cm = metrics.confusion_matrix(torch.tensor([0, 1, 1, 2, 0]), torch.tensor([0, 1, 0, 2, 2]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    rows = metrics.confusion_matrix(torch.tensor([0, 1, 1, 2, 0]), torch.tensor([0, 1, 0, 2, 2]), 3, normalize="true")
    torch.testing.assert_close(rows.sum(1), torch.ones(3))


def test_psnr_hand_computed_and_identical_is_inf():
    x = torch.zeros(2, 3, 8, 8)
    y = torch.full_like(x, 0.1)  # MSE 0.01, peak-to-peak range 2 in [-1, 1]
    assert metrics.psnr(x, y) == pytest.approx(10 * math.log10(4 / 0.01), rel=1e-5)
    assert metrics.psnr(x, y, value_range=(0, 1)) == pytest.approx(20.0, rel=1e-5)
    assert math.isinf(metrics.psnr(y, y))
    per_image = metrics.psnr(x, torch.cat([y[:1], x[:1]]), reduction="none")
    assert per_image.shape == (2,) and math.isinf(per_image[1])


def test_ssim_identical_is_one_and_noise_lowers_it():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    assert metrics.ssim(x, x) == pytest.approx(1.0, abs=1e-5)
    noisy = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    assert metrics.ssim(x, noisy) < 0.9


def test_image_metrics_reject_out_of_range_and_mismatched_inputs():
    x = torch.rand(1, 3, 16, 16) * 255
    with pytest.raises(ValueError, match="value_range=\\(0, 1\\)"):
        metrics.psnr(x, x)
    with pytest.raises(ValueError, match="same shape"):
        metrics.ssim(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 8, 8))


def _frechet_reference(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_distance_matches_closed_form_and_is_zero_on_itself():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 4))
    b = rng.normal(size=(150, 4)) * 1.5 + 0.7
    assert metrics.frechet_distance(a, b) == pytest.approx(_frechet_reference(a, b), rel=1e-6)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.frechet_distance(a[:1], b)


def test_fid_with_a_custom_feature_extractor():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(2))  # 16 features
    g = torch.Generator().manual_seed(1)
    real = torch.rand(24, 3, 16, 16, generator=g) * 2 - 1
    assert metrics.fid(real, real, net, batch_size=7) == pytest.approx(0.0, abs=1e-6)
    assert metrics.fid(real, real * 0.2, net, batch_size=7) > 1e-3
    assert metrics.make_fid(net, input_size=(3, 16, 16)).inception.num_features == 16
    assert net.training  # the probe left the caller's mode alone


def _pairs(genuine: list[float], impostor: list[float]):
    """2-D unit embeddings whose cosine similarities are exactly the given scores."""
    scores = torch.tensor(genuine + impostor, dtype=torch.float64)
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64).repeat(len(scores), 1)
    b = torch.stack([scores, torch.sqrt(1 - scores**2)], dim=1)
    same = torch.tensor([True] * len(genuine) + [False] * len(impostor))
    return a, b, same


def test_verification_rate_on_hand_built_scores():
    a, b, same = _pairs([0.9, 0.6, 0.2], [0.5, 0.1, -0.3, -0.5])
    # accepting no impostor: threshold above 0.5 accepts 0.9 and 0.6
    assert metrics.verification_rate(a, b, same, far=0.0) == pytest.approx(2 / 3)
    assert metrics.verification_rate(a, b, same, far=0.2) == pytest.approx(2 / 3)
    # one impostor in four (0.5) may pass: threshold 0.2 accepts every genuine pair
    assert metrics.verification_rate(a, b, same, far=0.25) == pytest.approx(1.0)
    far, tar, thr = metrics.verification_roc(a, b, same)
    assert far[0] == 0 and tar[-1] == 1 and far[-1] == 1
    assert np.all(np.diff(far) >= 0) and np.all(np.diff(tar) >= 0)
    assert thr[1] == pytest.approx(0.9, abs=1e-6)  # thresholds are in cosine units


def test_verification_rate_separable_toy_case_is_perfect():
    g = torch.Generator().manual_seed(0)
    ids = torch.randn(10, 32, generator=g)
    a = ids + 0.01 * torch.randn(10, 32, generator=g)
    b = torch.cat([ids[:5], ids[5:].roll(1, 0)]) + 0.01 * torch.randn(10, 32, generator=g)
    same = torch.arange(10) < 5
    assert metrics.verification_rate(a, b, same, far=0.0) == 1.0
    with pytest.raises(ValueError, match="both genuine"):
        metrics.verification_rate(a, b, torch.ones(10, dtype=torch.bool))


def test_feature_gap_zero_shift_when_fake_equals_real_and_hand_example():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(40, 8, generator=g)
    labels = torch.arange(40) % 4
    same = metrics.feature_gap(real, labels, real.clone(), labels.clone())
    assert same.centroid_shift == pytest.approx(0.0, abs=1e-12)
    assert same.normalized == pytest.approx(1.0)

    real = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [10.0, 4.0]])  # centroids (1, 0), (10, 2)
    real_y = torch.tensor([0, 0, 1, 1])
    fake = torch.tensor([[1.0, 3.0], [10.0, 2.0]])
    gap = metrics.feature_gap(real, real_y, fake, torch.tensor([0, 1]))
    assert gap.fake_to_centroid == pytest.approx(1.5)  # (3 + 0) / 2
    assert gap.real_to_centroid == pytest.approx(1.5)  # (1 + 1 + 2 + 2) / 4
    assert gap.normalized == pytest.approx(1.0)
    assert gap.centroid_shift == pytest.approx(1.5)
    assert set(gap.as_dict()) == {"fake_to_centroid", "real_to_centroid", "normalized", "centroid_shift"}
    with pytest.raises(ValueError, match=r"synthetic classes \[7\]"):
        metrics.feature_gap(real, real_y, fake, torch.tensor([0, 7]))


def test_mean_std_formatting():
    assert metrics.mean_std([0.81, 0.85], scale=100) == "83.00 ± 2.83"
    assert metrics.mean_std(torch.tensor([0.5]), digits=3) == "0.500"
    assert metrics.mean_std([]) == "–"
