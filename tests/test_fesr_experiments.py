"""The FESR chapter's orchestration on a tiny configuration: caching, shared pre-training, shapes, tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from fer_core.claims import Claim, Ledger
from fer_core.methods import fesr_experiments as fx
from fer_core.methods.fesr import ABLATIONS
from fer_core.profiles import PROFILES
from fer_core.results import ResultStore

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest.one_thread


TINY = dict(size=32, channels=3, n_identities=4, n_frames=4, folds=2, seeds=(0,), gan_width=4, latent_dim=8,
            d_z=(8, 4, 2), r_convs=(8, 8), r_fcs=(16, 8), id_widths=(4, 4, 4, 4), id_feature_dim=8, id_steps=2,
            id_batch_size=8, P_pre=2, P_max=3, batch_size=4, lr=5e-4, lr_R=1e-3, lambda_rec=100.0, fesgan_folds=1, n_show=2, n_new=2,
            intensity_levels=3, verify_images=8, umap=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fesr")
    data = fx.build_data(TINY, seed=0)
    exp = fx.FESRExperiments(TINY, data, device="cpu", store=ResultStore("fesr", root=root / "results"),
                             run_root=root / "runs", progress=False)
    return exp, root


def test_profiles_define_every_setting_the_experiments_read():
    assert set(PROFILES["fesr"]["small"]) == set(TINY)
    assert PROFILES["fesr"]["paper"]["size"] == 128 and PROFILES["fesr"]["paper"]["lr"] == 1e-4


def test_synthetic_data_follows_fesr_protocol(tiny):
    exp, _ = tiny
    meta = exp.data.dataset.meta
    assert len(exp.data.splits) == 2 and exp.data.classes[0] == "neutral"
    for split in exp.data.splits:
        split.check_disjoint(meta)
        assert set(meta.frame.iloc[split.test]) == {3}  # the peak (last) frame
        assert set(meta.frame.iloc[split.train]) == {1, 2, 3}  # the three apex frames
    assert "4 identities" in exp.data.name


def test_data_root_without_a_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="holds no dataset"):
        fx.build_data(TINY, data_root=tmp_path)
    with pytest.raises(ValueError, match="needs data_root"):
        fx.build_data(TINY, dataset="ckplus")


def test_steps_follow_algorithm_1(tiny):
    exp, _ = tiny
    assert exp.steps_of("FG") == exp.steps_of("FG-Dz") == 2
    assert exp.steps_of("BASELINE") == 1 and exp.steps_of("FESR_JL") == exp.steps_of("FESR_OneSt") == 3
    assert exp.variant_config("FESR_OneSt").P_pre == 0 and exp.variant_config("FESR_JL").lr_R == 1e-3
    assert exp.variant_config("FG").lambdas == (1.0, 100.0, 5.0, 1.0, 1.0, 0.001)
    assert [fx._r_updates(exp, v) for v in ("FESR_OneSt", "FESR_JL", "BASELINE", "FG")] == [3, 1, 1, None]


def test_result_is_cached_and_pretraining_is_shared(tiny):
    exp, root = tiny
    first = exp.result("FESR_JL", 0, 0)
    assert exp.store.misses == 1
    fg_ckpt = torch.load(exp.run_dir("FG", 0, 0) / "checkpoint.pt", weights_only=True)
    assert fg_ckpt["step"] == 2  # FG stopped at P_pre; FESR_JL continued from it
    assert [row["step"] for row in first["log"]] == [3]
    again = fx.FESRExperiments(TINY, exp.data, device="cpu", store=ResultStore("fesr", root=root / "results"),
                               run_root=root / "runs", progress=False)
    second = again.result("FESR_JL", 0, 0)
    assert again.store.hits == 1 and again.store.misses == 0
    assert torch.equal(first["y_pred"], second["y_pred"]) and first["accuracy"] == second["accuracy"]


def test_result_shapes(tiny):
    exp, _ = tiny
    r = exp.result("FESR_JL", 0, 0)
    n_test, K = len(exp.data.splits[0].test), exp.K
    assert 0 <= r["accuracy"] <= 1 and r["y_true"].shape == r["y_pred"].shape == (n_test,)
    assert r["grid"].shape == (2, K + 1, 3, 32, 32) and r["intensity"].shape == (3, K, 3, 32, 32)
    assert r["prior"].shape == (2, K, 3, 32, 32) and r["real"].shape == (2, 3, 32, 32)
    assert r["features_real"].shape == r["features_fake"].shape == (n_test, 8)
    assert set(r["gap"]) == {"fake_to_centroid", "real_to_centroid", "normalized", "centroid_shift"}
    assert all(math.isfinite(r[k]) for k in ("psnr", "ssim", "copy_psnr", "verification"))
    assert "stand-in identity net" in r["identity_source"] and "fine-tuned with R" in r["stem_source"]
    emb = exp.embedding("FESR_JL")
    assert emb["features"].shape == (2 * n_test, 8) and emb["synthetic"].sum() == n_test
    baseline = exp.result("BASELINE", 0, 0)
    assert "grid" not in baseline and "gap" not in baseline


def test_evaluation_settings_change_results_not_training_runs(tiny):
    exp, root = tiny
    other = fx.FESRExperiments({**TINY, "n_show": 1, "seeds": (0, 1)}, exp.data, device="cpu", store=exp.store,
                               run_root=root / "runs", progress=False)
    assert other.run_dir("FESR_JL", 0, 0) == exp.run_dir("FESR_JL", 0, 0)
    assert other.store.path(other._config("result", variant="FESR_JL", fold=0, seed=0)) != \
        exp.store.path(exp._config("result", variant="FESR_JL", fold=0, seed=0))


def test_plan_and_tables(tiny, monkeypatch):
    exp, _ = tiny
    plan = exp.plan()
    assert len(plan) == 2 * (2 + len(ABLATIONS)) + 4  # FG, FG-IP, ablations per fold; other FESGAN variants on fold 0
    short = [(v, 0, 0) for v in ("FG", "FG-IP", "BASELINE", "FESR_JL")]
    monkeypatch.setattr(exp, "plan", lambda: short)
    assert list(exp.accuracy_summary().index) == ["BASELINE", "FESR_JL"]
    assert list(exp.synthesis_table().index) == ["FG", "FG-IP", "FESR_JL"]
    assert exp.confusion("BASELINE").sum() == len(exp.data.splits[0].test)
    comparison = exp.paper_comparison()
    assert "paper (CK+)" in comparison.columns and (comparison.row == "FESR_JL").any()
    deviations = exp.deviations()
    assert "stand-in identity net" in deviations.loc["identity extractor F_id (Eq. 12, Table IV)", "this run"]


def test_ledger_pairs_folds_and_closing_notes(tiny, monkeypatch):
    exp, _ = tiny
    rows = [{"variant": v, "fold": k, "seed": 0, "accuracy": 0.5 + 0.01 * k + (0.1 if v == "FESR_JL" else 0),
             "gap": 1.0 + (0.0 if v == "FESR_JL" else 0.5) + 0.01 * k, "verification": 0.9 if v == "FG" else 0.5 - 0.1 * k}
            for v in ("FG", "FG-IP", *ABLATIONS) for k in range(3)]
    monkeypatch.setattr(exp, "claim_values", lambda: pd.DataFrame(rows))
    ledger, per_fold = exp.ledger()
    assert len(ledger) == len(fx.CLAIMS) and len(per_fold) == 3 * len(fx.CLAIMS)
    verdicts = {r.claim.text: r.verdict for r in ledger.results}
    assert verdicts["Two-stage learning beats one-stage learning"] == "holds"
    assert verdicts["The intra-class loss pulls synthetic features to the real ones"] == "holds"  # lower gap
    assert verdicts["Synthetic faces of new identities beat same-identity ones"] == "inconclusive"  # equal values
    short = [(v, 0, 0) for v in ("FG", "BASELINE", "FESR_JL")]
    monkeypatch.setattr(exp, "plan", lambda: short)
    notes = fx.closing_notes(exp, ledger)
    assert all(c.text in notes for c, _ in fx.CLAIMS) and "matched here" in notes


def test_ground_truth_pairs_by_hand():
    meta = pd.DataFrame({"subject": ["a", "a", "b", "b", "b"], "expression": [0, 1, 0, 1, 2]})
    pairs = fx._ground_truth_pairs(meta)
    assert pairs.tolist() == [[0, 1, 1], [1, 0, 0], [2, 1, 3], [2, 2, 4], [3, 0, 2], [3, 2, 4], [4, 0, 2], [4, 1, 3]]
    with pytest.raises(ValueError, match="no test subject shows two expressions"):
        fx._ground_truth_pairs(pd.DataFrame({"subject": ["a", "b"], "expression": [0, 0]}))


def test_paper_constants_match_the_tables():
    assert set(fx.PAPER_TABLE_III) == set(fx.PAPER_TABLE_IV) == {"CK+", "Oulu-CASIA", "MMI"}
    assert all(set(rows) == {"ExprGAN", "G2-GAN", "FESGAN"} for rows in fx.PAPER_TABLE_III.values())
    assert fx.PAPER_TABLE_III["MMI"]["G2-GAN"] == (None, None)
    assert all(set(rows) == {"FG", "FG-IP"} for rows in fx.PAPER_TABLE_IV.values())
    assert len(fx.PAPER_TABLE_V) == 13 and all(len(v) == len(fx.PAPER_TABLE_V_COLUMNS) for v in fx.PAPER_TABLE_V.values())
    assert {"BASELINE", "FESR_SL", "FESR_JL-IL", "FESR_JL"} <= set(fx.PAPER_TABLE_V) <= set(fx.PAPER_TABLE_V) | set(ABLATIONS)
    assert len(fx.PAPER_TABLE_VI) == 11 and len(fx.PAPER_TABLE_VII) == 9
    for name, row in fx.PAPER_TABLE_VI.items():  # the printed average is the mean of the five poses
        assert abs(np.mean(row[:5]) - row[5]) < 0.01, name
    assert all(isinstance(c, Claim) and col in ("accuracy", "gap", "verification") for c, col in fx.CLAIMS)
    assert isinstance(Ledger(), Ledger)


@pytest.mark.slow
def test_nproc_2_trains_through_torchrun_and_the_chapter_loads_rank_0s_checkpoint(tmp_path, monkeypatch):
    from fer_core import distributed
    from fer_core.io import load_checkpoint
    from fer_core.train import CHECKPOINT_NAME

    calls = []
    real_run = distributed.run
    monkeypatch.setattr(distributed, "run", lambda fn, **kw: calls.append(kw["variant"]) or real_run(fn, **kw))
    data = fx.build_data(TINY, seed=0)
    exp = fx.FESRExperiments(TINY, data, device="cpu", store=ResultStore("fesr", root=tmp_path / "results"),
                             run_root=tmp_path / "runs", progress=False, nproc=2)
    method = exp.train("BASELINE", 0, 0)
    assert calls == ["BASELINE"]  # the identity network trains in this process, R's run under torchrun
    ckpt = load_checkpoint(exp.run_dir("BASELINE", 0, 0) / CHECKPOINT_NAME)
    assert ckpt["step"] == exp.steps_of("BASELINE")
    saved = {k[len("R."):]: v for k, v in ckpt["nets"].items() if k.startswith("R.")}
    assert saved
    for name, value in method.nets["R"].state_dict().items():
        assert torch.equal(value.cpu().contiguous(), saved[name].contiguous()), name
    exp.train("BASELINE", 0, 0)  # finished: nothing is launched again
    assert calls == ["BASELINE"]


def test_nproc_must_split_the_global_batch():
    data = fx.build_data(TINY, seed=0)
    with pytest.raises(ValueError, match="cannot be split evenly over 3 processes"):
        fx.FESRExperiments(TINY, data, device="cpu", nproc=3)


@pytest.mark.slow
def test_run_all_in_two_worker_processes_gives_the_same_results(tmp_path, monkeypatch):
    data = fx.build_data(TINY, seed=0)
    runs = {}
    for workers in (1, 2):
        root = tmp_path / f"w{workers}"
        exp = fx.FESRExperiments(TINY, data, device="cpu", store=ResultStore("fesr", root=root / "results"),
                                 run_root=root / "runs", progress=False)
        runs[workers] = exp.run_all(workers=workers)
        assert exp.store.misses == len(exp.plan()) and exp.store.hits == 0
    assert runs[1].keys() == runs[2].keys()
    for key, one in runs[1].items():
        two = runs[2][key]
        for name in ("accuracy", "psnr", "ssim", "verification"):
            if name in one:
                assert one[name] == two[name], (key, name)
        if "grid" in one:
            assert torch.equal(one["grid"], two["grid"]), key


def test_chains_keep_fg_with_its_two_stage_variants(tiny):
    exp, _ = tiny
    chains = exp.chains(exp.plan())
    assert sorted(k for c in chains for k in c) == sorted(exp.plan())
    for chain in chains:
        variants = {v for v, _, _ in chain}
        assert len({(k, s) for _, k, s in chain}) == 1  # one fold and seed per chain
        if variants & set(fx.TWO_STAGE):
            assert "FG" in variants and [v for v, _, _ in chain][0] == "FG"
    assert exp._workers(4, len(chains)) == min(4, len(chains))
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv(fx.WORKERS_ENV, "zero")
    with pytest.raises(ValueError, match="FER_WORKERS"):
        exp._workers(None, 3)
    monkeypatch.undo()
