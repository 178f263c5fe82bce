"""One home for evaluation: predictions, per-class recall, features, verification, Fréchet distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fer_core import evaluate
from fer_core.data.memory import MemoryCachedDataset
from tests._toys import BlobFaces


class Oracle(nn.Module):
    """Reads the label from the blob's sign: right on every sample of BlobFaces."""

    def __init__(self, flip: bool = False):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(-1.0 if flip else 1.0))
        self.drop = nn.Dropout(0.9)

    def forward(self, x):
        s = self.drop(x).mean(1, keepdim=True) * self.w
        return torch.cat([-s, s], 1)


def test_classify_on_an_oracle_and_on_its_opposite():
    data = MemoryCachedDataset(BlobFaces(), "cpu")
    right = evaluate.classify(Oracle(), data)
    assert right["accuracy"] == 1.0 and right["per_class_recall"].tolist() == [1.0, 1.0]
    assert right["confusion"].tolist() == [[24, 0], [0, 24]]
    wrong = evaluate.classify(Oracle(flip=True), BlobFaces(), batch_size=5)  # a plain dataset, odd batches
    assert wrong["accuracy"] == 0.0 and wrong["y_true"].tolist() == right["y_true"].tolist()


def test_eval_mode_is_used_and_restored():
    net = Oracle()
    net.train()
    data = MemoryCachedDataset(BlobFaces(), "cpu")
    assert evaluate.classify(net, data)["accuracy"] == 1.0  # dropout(0.9) would break the oracle in train mode
    assert net.training


def test_verification_separates_same_from_other_people():
    torch.manual_seed(0)
    people = torch.randn(10, 16)
    anchors = people + 0.05 * torch.randn(10, 16)
    genuine = people + 0.05 * torch.randn(10, 16)
    impostors = people.roll(1, 0)
    assert evaluate.verification(lambda x: x, anchors, genuine, impostors, far=0.1) == 1.0
    assert evaluate.verification(lambda x: x, anchors, impostors, genuine, far=0.1) < 0.5
    with pytest.raises(ValueError, match="as many genuine and impostor faces"):
        evaluate.verification(lambda x: x, anchors, genuine[:3], impostors)


def test_frechet_distance_matches_the_closed_form_of_two_gaussians():
    # For N(m1, s1^2 I) and N(m2, s2^2 I) in d dimensions: |m1 - m2|^2 + d (s1 - s2)^2.
    rng = np.random.default_rng(0)
    d, n = 4, 200_000
    a = rng.normal(0.0, 1.0, (n, d))
    b = rng.normal(0.5, 2.0, (n, d))
    expected = d * 0.5**2 + d * (1.0 - 2.0) ** 2
    got = evaluate.frechet(lambda x: x, torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert got == pytest.approx(expected, rel=0.02)
    assert evaluate.frechet(lambda x: x, torch.from_numpy(a).float(), torch.from_numpy(a).float()) < 1e-3


def test_nearest_distance_finds_the_closest_reference():
    refs = torch.eye(3)
    q = torch.tensor([[0.0, 2.0, 0.0], [1.0, 1.0, 0.0]])
    d = evaluate.nearest_distance(q, refs)
    assert d[0] == pytest.approx(0.0, abs=1e-6) and d[1] == pytest.approx(1 - 2 ** -0.5, abs=1e-6)
