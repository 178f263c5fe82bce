"""The JESRL chapter's plan on a tiny configuration: declared dependencies, caching, TwoStage continuing from
No_ExpR's GAN, result shapes, the tables, the ledger, the profiles, the bench entry and real-data errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fer_core.judge import JudgeConfig
from fer_core.methods.jesrl import JESRL, report
from fer_core.methods.jesrl.experiments import GAN_VARIANTS, RECOGNISERS, JESRLStudy
from fer_core.methods.jesrl.nets import PerceptualNet, VGG19Trunk
from fer_core.methods.jesrl.paper import CLAIMS, PAPER_TABLE_V, PAPER_TABLE_VII, POSES
from fer_core.profiles import PROFILES
from fer_core.train import StepContext
from tests._studies import assert_clear_data_root_errors, chapter_profiles, tiny_factory

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(PROFILES["jesrl"]["smoke"], steps=2, judge_steps=2)


_study, tiny = tiny_factory(JESRLStudy, TINY)


def test_profiles_define_the_same_settings_and_the_papers_sizes():
    _, small, paper = chapter_profiles("jesrl")
    assert paper["size"] == 256 and paper["gan_width"] == 64 and paper["vgg_width"] == 64 and paper["lr"] == 2e-4
    assert paper["lambdas"] == (10.0, 15.0, 5.0, 5.0) and paper["optimizer_C"] == "sgd" and paper["p"] == 0.5
    assert small["folds"] * len(small["seeds"]) >= 10  # at least 10 paired replicates behind each claim


def test_judge_config_reads_the_identity_widths_from_the_profile():
    """The shared JudgeConfig.from_profile reads judge_id_widths (and keeps its default without it)."""
    assert JudgeConfig.from_profile({"judge_id_widths": (4, 4, 8, 8)}).id_widths == (4, 4, 8, 8)
    assert JudgeConfig.from_profile({}).id_widths == JudgeConfig.id_widths


def test_synthetic_data_is_multipie_like_in_subject_independent_folds(tiny):
    study, _ = tiny
    meta = study.data.dataset.meta
    assert study.K == 6 and meta.yaw.nunique() == 5 and len(study.data.splits) == 2
    for split in study.data.splits:
        split.check_disjoint(meta)
    assert "Multi-PIE-like" in study.data.name


def test_data_root_without_a_dataset_is_a_clear_error(tmp_path):
    assert_clear_data_root_errors(JESRLStudy, TINY, tmp_path, real="rafdb")


def test_the_plan_declares_what_each_run_needs(tiny):
    study, _ = tiny
    plan = study.experiments
    expected = {"judge": set(), "CNN": {"judge"}, "No_SynFI": {"judge"}, "TwoStage": {"judge", "No_ExpR"},
                "Syn1N": {"judge", "Ours"}, **{v: {"judge", "No_SynFI"} for v in GAN_VARIANTS}}
    assert {e.variant for e in plan} == set(expected)
    for e in plan:
        assert {d.variant for d in e.after} == expected[e.variant], e
        assert all(d.fold == e.fold and (d.variant == "judge" or d.seed == e.seed) for d in e.after)
    order = [e.id for e in plan]
    assert all(order.index(d.id) < order.index(e.id) for e in plan for d in e.after)
    assert study.steps_of("Official") == 2 * study.steps_of("Ours") == 2 * study.steps_of("TwoStage")
    no_row = _study_plan_only(dict(TINY, no_interl_expr=False))
    assert "No_InterL_ExpR" not in {e.variant for e in no_row.experiments}


def _study_plan_only(P):
    return JESRLStudy(P, JESRLStudy.build_data(P, seed=0), device="cpu", progress=False)


def test_results_are_cached_and_twostage_starts_from_no_expr_gan(tiny):
    study, root = tiny
    again = _study(root)
    r = again.result("TwoStage", 0, 0)
    assert again.store.hits == 1 and again.computed == {}
    two = again.train(again.make("TwoStage", 0, 0)).nets["G"]
    gan = again.train(again.make("No_ExpR", 0, 0)).nets["G"]
    assert all(torch.equal(p, q) for p, q in zip(two.parameters(), gan.parameters()))
    assert 0 <= r["accuracy"] <= 1


def test_result_shapes(tiny):
    study, _ = tiny
    r = study.result("Ours", 0, 0)
    n_test, K = len(study.data.splits[0].test), study.K
    assert r["y_true"].shape == r["y_pred"].shape == (n_test,) and set(r["per_pose"]) == {f"{p:g}" for p in POSES}
    assert {"target_expression", "identity_tar", "psnr", "copy_psnr", "kept_expression", "truth_identity_tar",
            "target_pose"} <= set(r["judge"])
    assert set(r["fid"]) == set(range(K)) and all(v >= 0 for v in r["fid"].values())
    assert r["grid"]["grid"].shape == (2, K + 1, 3, 32, 32) and r["grid"]["references"].shape == (K, 3, 32, 32)
    assert r["interp"]["frames"].shape == (3, 3, 32, 32) and r["interp"]["target"] != r["interp"]["source_expression"]
    assert r["features"].shape == (n_test, 8)
    assert "grid" not in study.result("Ours", 1, 0)  # figures only for the first fold


def test_tables_gates_and_ledger(tiny):
    study, _ = tiny
    assert set(study.per_pose_table().index) == set(RECOGNISERS)
    assert list(study.fid_table().columns)[:6] == list(study.data.classes)
    gates = study.gates()
    assert "plain VGG-19 (No_SynFI) at least as accurate as the plain CNN" in gates.index
    assert any("closer to the true face" in c for c in gates.index)
    ledger, per_fold = study.ledger()
    assert len(ledger) == len(CLAIMS) and set(per_fold.fold) == {0, 1}
    assert set(study.curve_table().synthetic) == {"0N", "1N"}
    assert study.embedding("No_ExpR")["features"].shape[0] == len(study.data.splits[0].test)
    assert study.confusion("Ours").sum() == sum(len(s.test) for s in study.data.splits)


def test_report_tables_are_computed_from_the_study(tiny):
    study, _ = tiny
    assert "official_code=True reproduces" in report.paper_vs_code().columns
    dev = report.deviations(study)
    assert str(TINY["steps"]) in dev.loc["iterations / pairs / C's real batch", "this run"]
    comparison = report.paper_comparison(study)
    assert "paper (Multi-PIE)" in comparison.columns
    row = comparison.loc[("VII (average accuracy, %)", "Ours")]
    assert row.iloc[0] == f"{PAPER_TABLE_VII['Ours'][-1]:.2f}"
    assert report.update_budget(study).loc["Official", "iterations"] == 2 * TINY["steps"]
    ledger, _ = study.ledger()
    notes = report.closing_notes(study, ledger, wall="x")
    assert "FID per expression" in notes and f"{np.mean(PAPER_TABLE_V['Ours']):.2f}" in notes


def test_the_paper_profile_builds_and_runs_one_step():
    """The paper's sizes (256 px, Table I widths, VGG-19 with FC(4096)) construct and take one step (two pairs)."""
    P = dict(PROFILES["jesrl"]["paper"])
    study = JESRLStudy(P, JESRLStudy.build_data(dict(P, n_identities=2, size=32, folds=2), seed=0), device="cpu",
                       progress=False)
    config = dataclasses.replace(study.variant_config("Ours"), pairs=2)
    assert config.gan.image_size == 256 and config.clf.fc == (4096, 4096) and config.optimizer_C == "sgd"
    g = torch.Generator().manual_seed(0)
    pool = {"image": torch.rand(6, 3, 256, 256, generator=g) * 2 - 1, "expression": torch.arange(6) % 6}
    torch.manual_seed(0)
    method = JESRL(config, train=pool, perceptual=PerceptualNet(VGG19Trunk(64)))
    out = method.step({"image": pool["image"][:1], "expression": pool["expression"][:1]},
                      StepContext(device=torch.device("cpu"), _optimizers=method.optimizers))
    assert all(torch.isfinite(v) for v in out.values())


def test_bench_entries_are_registered_and_measure():
    from fer_core.bench import benches, measure

    specs = benches()
    assert specs["jesrl"].paper == (128, 10) and "authors' configuration" in specs["jesrl"].description
    row = measure("jesrl_full", quick=True, device="cpu", reps=1, warmup=0, size=32, batch_size=2)
    assert row.error is None and row.fast_ms > 0
