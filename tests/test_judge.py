"""The generator judge and the synthetic world's true faces (counterfactual rendering)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_core.data.memory import MemoryCachedDataset
from fer_core.data.synthetic import ckplus_like, multipie_like
from fer_core.judge import Judge, JudgeConfig, JudgeTraining
from fer_core.train import fit

pytestmark = pytest.mark.usefixtures("one_thread")


def test_counterfactual_keeps_person_and_scene_and_changes_only_what_is_asked():
    ds = ckplus_like(n_identities=3, n_frames=8, size=32)
    rows = np.array([7, 15, 30])
    assert torch.equal(ds.counterfactual(rows), ds.batch(rows)["image"])
    happy = ds.counterfactual(rows, expression=4)
    src = ds.batch(rows)["image"]
    assert not torch.equal(happy, src)
    corner = (slice(None), slice(None), slice(0, 3), slice(0, 3))  # background: the take's scene is kept
    assert torch.allclose(happy[corner], src[corner], atol=0.05)
    other_take = ds.batch([int(ds.meta.index[(ds.meta.subject == "s000") & (ds.meta.expression == 4)
                                             & (ds.meta.frame == 7)][0])])["image"]
    assert (happy[:1] - src[:1]).abs().mean() < (other_take - src[:1]).abs().mean()
    neutral = ds.counterfactual(rows, frame=0)
    assert torch.allclose(neutral, ds.counterfactual(rows, frame=0, intensity=0.0))
    sub = ds.subset(rows)
    assert torch.equal(sub.counterfactual([1], expression=4), happy[1:2])
    with pytest.raises(ValueError, match="expression indices must lie in 0..6"):
        ds.counterfactual(rows, expression=9)
    with pytest.raises(ValueError, match="frame must lie"):
        ds.counterfactual(rows, frame=8)


@pytest.fixture(scope="module")
def judge():
    ds = multipie_like(n_identities=4, size=32, yaws=(-30.0, 0.0, 30.0))
    train = MemoryCachedDataset(ds, "cpu")
    torch.manual_seed(0)
    method = JudgeTraining(train, JudgeConfig(steps=3, batch_size=8, width=4, id_widths=(4, 4, 8, 8),
                                              id_feature_dim=8))
    fit(method, train, steps=3, batch_size=8, progress=False, device="cpu")
    return Judge.from_training(method), train


def test_judge_learns_pose_from_several_yaws_and_no_intensity_without_variation(judge):
    j, train = judge
    assert set(j.nets) == {"expression", "identity", "view"} and j.pose_key == "yaw"
    assert j.pose_values == [-30.0, 0.0, 30.0]
    assert j.pose_code(torch.tensor([30.0, -30.0])).tolist() == [2, 0]


def test_scoring_a_copy_and_the_truth(judge):
    j, train = judge
    x, meta = train.data["image"], train.meta
    subjects = meta.subject.to_numpy()
    target = torch.as_tensor((meta.expression.to_numpy() + 1) % 6)
    copy = j.score(x, source=x, subjects=subjects, expression=target, pose=train.data["yaw"], truth=x.flip(0))
    assert copy["target_expression"] == copy["source_expression"] and copy["psnr"] == copy["copy_psnr"]
    assert copy["identity_cosine"] == pytest.approx(1.0, abs=1e-5) and 0 <= copy["identity_tar"] <= 1
    assert copy["target_pose"] == copy["source_pose"]
    truth = x.flip(0)
    perfect = j.score(truth, source=x, subjects=subjects, expression=target, truth=truth)
    assert perfect["psnr"] > perfect["copy_psnr"] and perfect["l1"] == 0.0
    assert perfect["target_expression"] == perfect["truth_expression"]


def test_an_intensity_judge_only_where_training_intensities_vary():
    config = JudgeConfig(steps=1, batch_size=4, width=4, id_widths=(4, 4, 8, 8), id_feature_dim=8)
    sequences = MemoryCachedDataset(ckplus_like(n_identities=2, n_frames=6, size=32), "cpu")
    peaks = MemoryCachedDataset(ckplus_like(n_identities=2, n_frames=6, frames=[5], size=32), "cpu")
    assert "intensity" in JudgeTraining(sequences, config).nets
    assert "intensity" not in JudgeTraining(peaks, config).nets and "view" not in JudgeTraining(peaks, config).nets
