"""The FESR chapter's plan on a tiny configuration: declared dependencies, caching, shared pre-training,
shapes, tables, the ledger, torchrun."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from fer_core.methods.fesr import ABLATIONS, TWO_STAGE
from fer_core.methods.fesr import report
from fer_core.methods.fesr.evaluation import ground_truth_pairs
from fer_core.methods.fesr.experiments import ABLATION_GAN, FIGURE_GAN, TABLE_II, FESRStudy
from fer_core.methods.fesr.paper import (CLAIMS, PAPER_TABLE_III, PAPER_TABLE_IV, PAPER_TABLE_V,
                                         PAPER_TABLE_V_COLUMNS, PAPER_TABLE_VI, PAPER_TABLE_VII)
from fer_core.profiles import PROFILES
from tests._studies import assert_clear_data_root_errors, tiny_study

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest.one_thread


TINY = dict(size=32, channels=3, n_identities=4, n_frames=4, folds=2, seeds=(0,), gan_width=4, latent_dim=8,
            d_z=(8, 4, 2), r_body="plain", r_width=4, r_convs=(8, 8), r_fcs=(16, 8), r_dropout=0.2, r_batch_norm=True,
            r_schedule="cosine", id_widths=(4, 4, 4, 4), id_feature_dim=8, id_steps=2, id_batch_size=8,
            judge_steps=2, P_pre=2, P_max=3, fesgan_steps=1, batch_size=4, lr=5e-4, lr_R=1e-3, lambda_rec=100.0,
            lambda_cls=3.0, fesgan_folds=1, n_show=2, n_new=2, n_prior=4, intensity_levels=3, verify_images=8,
            umap=False)


def _study(root, P=TINY, **kw):
    return tiny_study(FESRStudy, P, root, **kw)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fesr")
    return _study(root), root


def test_profiles_define_every_setting_the_experiments_read():
    assert set(PROFILES["fesr"]["small"]) == set(TINY)
    assert PROFILES["fesr"]["paper"]["size"] == 128 and PROFILES["fesr"]["paper"]["lr"] == 1e-4


def test_synthetic_data_follows_fesr_protocol(tiny):
    study, _ = tiny
    meta = study.data.dataset.meta
    assert len(study.data.splits) == 2 and study.data.classes[0] == "neutral"
    for split in study.data.splits:
        split.check_disjoint(meta)
        assert set(meta.frame.iloc[split.test]) == {3}  # the peak (last) frame
        assert set(meta.frame.iloc[split.train]) == {1, 2, 3}  # the three apex frames
    assert "4 identities" in study.data.name


def test_data_root_without_a_dataset_is_a_clear_error(tmp_path):
    assert_clear_data_root_errors(FESRStudy, TINY, tmp_path, real="ckplus")


def test_steps_follow_algorithm_1(tiny):
    study, _ = tiny
    assert study.steps_of("FG") == 2 and study.steps_of("FG-Dz") == study.steps_of("FG_short") == 1
    assert study.steps_of("BASELINE") == study.steps_of("FESR_OneSt") == study.steps_of("CNN") == 1
    assert study.steps_of("FESR_JL") == 3 and study.fesgan_reference == "FG_short"
    assert study.variant_config("FESR_OneSt").P_pre == 0 and study.variant_config("FESR_JL").lr_R == 1e-3
    assert study.variant_config("FG").lambdas == (1.0, 100.0, 5.0, 3.0, 1.0, 0.001)
    assert study.variant_config("FESR_JL").R_updates == 1 and study.variant_config("FESR_JL").r.body == "plain"
    assert study.variant_config(TABLE_II).r.body == "table2" and study.variant_config(TABLE_II).variant == TABLE_II
    assert [report._r_updates(study, v) for v in ("FESR_OneSt", "FESR_JL", "BASELINE", "FG")] == [1, 1, 1, None]


def test_the_plan_declares_what_each_run_needs(tiny):
    study, _ = tiny
    plan = study.experiments
    per_fold = 2 + 2 + len(ABLATION_GAN) + 2 + len(ABLATIONS)  # F_id, judge; FG, FG_short; ablations; CNN, Table II
    assert len(plan) == 2 * per_fold + len(FIGURE_GAN)  # the figure-only Fig. 4 variants on one fold
    for e in plan:
        needs = {d.variant for d in e.after}
        if e.variant in ("F_id", "judge"):
            assert needs == set()
        elif e.variant == "CNN":
            assert needs == {"judge"}
        elif e.variant in TWO_STAGE or e.variant == "FG_short":
            assert needs == {"judge", "F_id", "FG"} and all(d.fold == e.fold for d in e.after)
        else:
            assert needs == {"judge", "F_id"}
    order = [e.id for e in plan]
    assert all(order.index(d.id) < order.index(e.id) for e in plan for d in e.after)


def test_result_is_cached_and_pretraining_is_shared(tiny):
    study, root = tiny
    first = study.result("FESR_JL", 0, 0)
    assert study.store.misses == 1
    fg_ckpt = torch.load(study.run_dir("FG", 0, 0) / "checkpoint.pt", weights_only=True)
    assert fg_ckpt["step"] == 2  # FG stopped at P_pre; FESR_JL continued from it
    assert [row["step"] for row in first["log"]] == [3]
    again = _study(root)
    second = again.result("FESR_JL", 0, 0)
    assert again.store.hits == 1 and again.store.misses == 0 and again.computed == {}
    assert torch.equal(first["y_pred"], second["y_pred"]) and first["accuracy"] == second["accuracy"]


def test_result_shapes(tiny):
    study, _ = tiny
    r = study.result("FESR_JL", 0, 0)
    n_test, K = len(study.data.splits[0].test), study.K
    assert 0 <= r["accuracy"] <= 1 and r["y_true"].shape == r["y_pred"].shape == (n_test,)
    assert r["grid"].shape == (2, K + 1, 3, 32, 32) and r["intensity"].shape == (3, K, 3, 32, 32)
    assert {"target_expression", "identity_tar", "psnr", "copy_psnr", "truth_expression"} <= set(r["judge"])
    assert -1 <= r["intensity_curve"]["rho"] <= 1 and r["intensity_curve"]["target_prob"].shape == (3,)
    assert 0 <= r["prior_novelty"] <= 2 and r["n_pairs"] > 0
    assert r["prior"].shape == (2, K, 3, 32, 32) and r["real"].shape == (2, 3, 32, 32)
    assert r["features_real"].shape == r["features_fake"].shape == (n_test, 8)
    assert set(r["gap"]) == {"fake_to_centroid", "real_to_centroid", "normalized", "centroid_shift"}
    assert all(math.isfinite(r[k]) for k in ("psnr", "ssim", "copy_psnr", "verification"))
    assert "stand-in identity net" in r["identity_source"] and "plain CNN body" in r["stem_source"]
    assert "fine-tuned with R" in study.result(TABLE_II, 0, 0)["stem_source"]  # Table II's R on the stand-in front
    emb = study.embedding("FESR_JL")
    assert emb["features"].shape == (2 * n_test, 8) and emb["synthetic"].sum() == n_test
    baseline = study.result("BASELINE", 0, 0)
    assert "grid" not in baseline and "gap" not in baseline


def test_evaluation_settings_change_results_not_training_runs(tiny):
    study, root = tiny
    other = _study(root, {**TINY, "n_show": 1, "seeds": (0, 1)})
    assert other.run_dir("FESR_JL", 0, 0) == study.run_dir("FESR_JL", 0, 0)
    assert other.key("FESR_JL", 0, 0).result() != study.key("FESR_JL", 0, 0).result()
    changed = _study(root, {**TINY, "lr": 1e-3})
    assert changed.run_dir("FESR_JL", 0, 0) != study.run_dir("FESR_JL", 0, 0)
    assert changed.run_dir("F_id", 0) == study.run_dir("F_id", 0)  # F_id depends on its own settings only
    assert changed.run_dir("judge", 0) == study.run_dir("judge", 0)  # and so does the judge


def test_tables(tiny, monkeypatch):
    study, _ = tiny
    short = [study.make(v, 0, 0) for v in ("FG", "FG_short", "FG-IP", "CNN", "BASELINE", "FESR_JL")]
    monkeypatch.setattr(study, "runs", lambda *v: [e for e in short if not v or e.variant in v])
    assert list(study.accuracy_summary().index) == ["CNN", "BASELINE", "FESR_JL"]
    assert list(study.synthesis_table().index) == ["FG", "FG_short", "FG-IP", "FESR_JL"]
    gates = study.gates()
    assert "R (BASELINE) at least as accurate as the plain CNN" in gates.index and gates.passes.dtype == bool
    comparison = study.paper_comparison()
    assert "paper (CK+)" in comparison.columns and "FESR_JL" in comparison.index.get_level_values("row")
    deviations = report.deviations(study)
    assert "stand-in identity net" in deviations.loc["identity extractor F_id (Eq. 12, Table IV)", "this run"]


def test_ledger_pairs_folds_and_closing_notes(tiny, monkeypatch):
    study, _ = tiny
    from fer_core.methods.fesr.experiments import _pseudo_rows

    names = ("FG", "FG_short", "FG-IP", "FG-CO", "FG-Dz", "CNN", *ABLATIONS)
    rows = [{"variant": v, "fold": k, "seed": 0, "accuracy": 0.5 + 0.01 * k + (0.1 if v == "FESR_JL" else 0),
             "gap": 1.0 + (0.0 if v == "FESR_JL" else 0.5) + 0.01 * k,
             "judge_identity": 0.9 if v == "FG_short" else 0.5 - 0.01 * k, "psnr": 20.0, "psnr_true": 20.0 + 0.01 * k,
             "copy_psnr_true": 30.0, "novelty": 0.3, "judge_target": 0.5, "intensity_rho": 0.8 + 0.05 * k}
            for v in names for k in range(10)]  # ten folds: the fewest a book ledger decides on
    df = pd.DataFrame(rows)
    monkeypatch.setattr(study, "values", lambda: pd.concat([df, _pseudo_rows(df, "FG_short")], ignore_index=True))
    ledger, per_fold = study.ledger()
    assert len(ledger) == len(CLAIMS) and len(per_fold) == 10 * len(CLAIMS)
    verdicts = {r.claim.text: r.verdict for r in ledger.results}
    assert verdicts["Two-stage learning beats one-stage learning"] == "holds"  # +0.1 on every fold
    assert verdicts["The intra-class loss pulls synthetic features to the real ones"] == "holds"  # lower gap
    assert verdicts["Synthetic faces of new identities do as well as same-identity ones (CK+)"] == "no effect"
    assert verdicts["FG's faces are closer to the true face than a copy of the input"] == "does not hold"
    assert verdicts["The identity-preserving loss keeps identities"] == "holds"  # FG at FG-IP's budget
    assert ledger.results[0].replicates.kind == "folds"
    monkeypatch.setattr(study, "runs", lambda *v: [e for e in (study.make(x, 0, 0) for x in (
        "FG", "FG_short", "FG-IP", "CNN", "BASELINE", "FESR_JL")) if not v or e.variant in v])
    notes = report.closing_notes(study, ledger)
    assert all(c.text in notes for c, _ in CLAIMS) and "matched here" in notes


def test_ground_truth_pairs_by_hand():
    meta = pd.DataFrame({"subject": ["a", "a", "b", "b", "b"], "expression": [0, 1, 0, 1, 2]})
    pairs = ground_truth_pairs(meta)
    assert pairs.tolist() == [[0, 1, 1], [1, 0, 0], [2, 1, 3], [2, 2, 4], [3, 0, 2], [3, 2, 4], [4, 0, 2], [4, 1, 3]]
    with pytest.raises(ValueError, match="no test subject shows two expressions"):
        ground_truth_pairs(pd.DataFrame({"subject": ["a", "b"], "expression": [0, 0]}))


def test_paper_constants_match_the_tables():
    assert set(PAPER_TABLE_III) == set(PAPER_TABLE_IV) == {"CK+", "Oulu-CASIA", "MMI"}
    assert all(set(rows) == {"ExprGAN", "G2-GAN", "FESGAN"} for rows in PAPER_TABLE_III.values())
    assert PAPER_TABLE_III["MMI"]["G2-GAN"] == (None, None)
    assert len(PAPER_TABLE_V) == 13 and all(len(v) == len(PAPER_TABLE_V_COLUMNS) for v in PAPER_TABLE_V.values())
    assert len(PAPER_TABLE_VI) == 11 and len(PAPER_TABLE_VII) == 9
    for name, row in PAPER_TABLE_VI.items():  # the printed average is the mean of the five poses
        assert abs(np.mean(row[:5]) - row[5]) < 0.01, name


@pytest.mark.slow
def test_nproc_2_trains_through_torchrun_and_the_chapter_loads_rank_0s_checkpoint(tmp_path, monkeypatch):
    from fer_core import distributed
    from fer_core.io import load_checkpoint
    from fer_core.train import CHECKPOINT_NAME

    calls = []
    real_run = distributed.run
    monkeypatch.setattr(distributed, "run", lambda fn, **kw: calls.append(kw["exp"][0]) or real_run(fn, **kw))
    study = _study(tmp_path, nproc=2)
    method = study.train(study.make("BASELINE", 0, 0))
    assert calls == ["F_id", "BASELINE"]  # every training run goes through torchrun (the judge is not needed)
    ckpt = load_checkpoint(study.run_dir("BASELINE", 0, 0) / CHECKPOINT_NAME)
    assert ckpt["step"] == study.steps_of("BASELINE") and ckpt["world_size"] == 2
    saved = {k[len("R."):]: v for k, v in ckpt["nets"].items() if k.startswith("R.")}
    assert saved
    for name, value in method.nets["R"].state_dict().items():
        assert torch.equal(value.cpu().contiguous(), saved[name].contiguous()), name
    study.train(study.make("BASELINE", 0, 0))  # finished: nothing is launched again
    assert calls == ["F_id", "BASELINE"]


def test_nproc_must_split_the_global_batch():
    with pytest.raises(ValueError, match="cannot be split evenly over 3 processes"):
        FESRStudy(TINY, FESRStudy.build_data(TINY, seed=0), device="cpu", nproc=3)
