"""GroupGAN's study: the plan and its declared dependencies, the weak/peak frame roles, the evaluation
helpers on hand-checkable inputs, the sketch demo's data, and the claims' pairing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fer_core.methods.groupgan import evaluation as ev
from fer_core.methods.groupgan import sketch as sk
from fer_core.methods.groupgan.experiments import SIX_BASIC, GroupGANStudy, parse_variant, variant_name
from fer_core.methods.groupgan.paper import PAPER_TABLE_1, claims
from fer_core.profiles import get_profile
from fer_core.results import ResultStore

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    P = {**get_profile("groupgan", "smoke"), "basenets": ("resnet18", "vgg11"), "table_folds": 1}
    data = GroupGANStudy.build_data(P)
    root = tmp_path_factory.mktemp("gg")
    return GroupGANStudy(P, data, store=ResultStore("groupgan", root=root / "store"), run_root=root / "runs",
                         progress=False)


def test_data_has_the_six_classes_and_whole_sequences(study):
    assert study.data.classes == SIX_BASIC
    meta = study.data.dataset.meta
    assert sorted(meta.frame.unique()) == list(range(int(study.P["n_frames"])))


def test_plan_dependencies(study):
    plan = study.plan()
    e = plan.get("2V2/resnet18", 0, 0)
    assert {d.variant for d in plan.dependencies(e)} == {"E_pre/resnet18", "G_pre", "judge"}
    assert {d.variant for d in plan.dependencies(plan.get("CNN/resnet18", 0, 0))} == {"E_pre/resnet18"}
    # the main BaseNet runs every fold, the other BaseNets the first table_folds folds
    assert {x.fold for x in plan.select("2V2/resnet18")} == {0, 1}
    assert {x.fold for x in plan.select("2V2/vgg11")} == {0}
    assert len(plan.select("sketch")) == 1


def test_unknown_variant_and_main_basenet_messages(study):
    with pytest.raises(ValueError, match="unknown GroupGAN variant"):
        study.make("3V3/resnet18")
    with pytest.raises(ValueError, match="unknown GroupGAN variant"):
        study.make("2V2/vgg16")  # not one of this profile's BaseNets
    P = {**study.P, "main_basenet": "vgg19"}
    with pytest.raises(ValueError, match="main BaseNet"):
        GroupGANStudy(P, study.data, store=study.store, run_root=study.run_root)


def test_variant_names_round_trip():
    assert parse_variant(variant_name("1V2", "vgg13")) == ("1V2", "vgg13")
    assert parse_variant("G_pre") == ("G_pre", None)


def test_frame_roles_pick_frames_6_to_8_and_the_last(study):
    meta = study.data.fold(0, "cpu")["train"].meta.reset_index(drop=True)
    r = study.roles(0, "train")
    assert set(meta.frame.to_numpy()[r["weak"]]) == {5, 6, 7}
    assert set(meta.frame.to_numpy()[r["peak"]]) == {int(study.P["n_frames"]) - 1}
    w, p = r["pairs"][:, 0], r["pairs"][:, 1]
    assert (meta.sequence.to_numpy()[w] == meta.sequence.to_numpy()[p]).all()


def test_true_peak_is_the_weak_face_at_peak_intensity(study):
    r = study.roles(0, "test")
    truth = study._true_peak(0, r["pairs"][:2])
    rows = study.data.splits[0].test[r["pairs"][:2, 0]]
    level = study.data.dataset.meta.intensity.to_numpy()[study.data.splits[0].test[r["pairs"][:2, 1]]]
    assert torch.allclose(truth, study.data.dataset.counterfactual(rows, intensity=level).cpu())


def test_intra_class_ratio_on_hand_values():
    f = torch.tensor([[0., 0.], [0., 2.], [10., 0.], [10., 2.]])
    y = torch.tensor([0, 0, 1, 1])
    # each face is 1 from its centroid; the centroids (0, 1) and (10, 1) are 10 apart
    assert ev.intra_class_ratio(f, y) == pytest.approx(0.1)


def test_same_class_pairs_come_from_different_subjects():
    y = np.array([0, 0, 1, 1, 0, 1])
    subjects = np.array(["a", "b", "a", "b", "c", "c"])
    pairs = ev.same_class_pairs(y, subjects, 4, seed=0)
    assert pairs.shape == (4, 2)
    assert (y[pairs[:, 0]] == y[pairs[:, 1]]).all() and (subjects[pairs[:, 0]] != subjects[pairs[:, 1]]).all()


def test_sketches_are_deterministic_and_slashes_add_ink():
    a, b = sk.sketches(3, 32, seed=1), sk.sketches(3, 32, seed=1)
    assert a.shape == (3, 1, 32, 32) and torch.equal(a, b) and a.min() >= -1 and a.max() <= 1
    s = sk.slashed(a, seed=2)
    assert (s >= a).all() and (s > a).any()


def test_draw_segments_inks_the_segment_only():
    img = sk.draw_segments(torch.tensor([[[2., 5., 10., 5.]]]), 16)
    assert img[0, 0, 5, 6] == 1 and img[0, 0, 12, 6] == -1


def test_claims_compare_the_main_basenets_runs():
    cs = claims("vgg13")
    assert all(c.variant_a != c.variant_b for c, _ in cs)
    first = cs[0][0]
    assert (first.variant_a, first.variant_b) == ("2V2/vgg13", "CNN/vgg13")
    assert first.paper_effect == pytest.approx((PAPER_TABLE_1["vgg13"][3] - PAPER_TABLE_1["vgg13"][0]) / 100)


def test_pseudo_rows_pool_basenets_without_collisions(study):
    df = pd.DataFrame([{"variant": f"{f}/{b}", "framework": f, "basenet": b, "fold": 0, "seed": 0,
                        "accuracy": 0.5, "copy_intensity_gap": 0.1, "copy_psnr_true": 30.0}
                       for f in ("CNN", "2V2") for b in ("resnet18", "vgg11")])
    rows = study._pseudo_rows(df)
    pooled = rows[rows.variant == "2V2 (every BaseNet)"]
    assert len(pooled) == 2 and pooled.seed.nunique() == 2
    assert len(rows[rows.variant == "copy of the input"]) == 1
