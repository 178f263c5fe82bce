"""The FaPE-GAN chapter's plan on a tiny configuration: the four task splits, declared dependencies,
caching, the tables, the gates and the ledger."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fer_core.methods.fapegan.experiments import GAN, FaPEStudy, fraction_split
from fer_core.methods.fapegan.paper import CNN, FANET, FAPE_FANET, PRETRAINED, SCRATCH, gain, variant
from fer_core.profiles import PROFILES
from tests._studies import assert_clear_data_root_errors, chapter_profiles, tiny_factory

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(PROFILES["fapegan"]["smoke"], n_identities=10, n_classes=5, n_splits=2, gan_steps=2, fanet_steps=2,
            target_steps=2, judge_steps=2, n_pairs=12, n_show=2)


_study, tiny = tiny_factory(FaPEStudy, TINY)


def test_profiles_define_every_setting_the_chapter_reads():
    _, small, paper = chapter_profiles("fapegan")
    assert paper["lam"] == 10.0 and paper["gan_lr"] == 2e-4 and paper["n_classes"] == 54
    assert len(small["seeds"]) * small["n_splits"] >= 10  # replicates behind every claim


def test_the_four_tasks_follow_section_4_1(tiny):
    study, _ = tiny
    meta = study.data.dataset.meta
    for k in range(study.n_splits):
        ss, ue, up, zid = (study.data.splits[study.fold_of(t, k)] for t in ("ER-SS", "ER-UE", "ER-UP", "ER-ZID"))
        for s in (ss, ue, up, zid):
            assert not set(s.train) & set(s.test) and len(s.train) and len(s.test)
        assert math.isclose(len(ss.test) / len(meta), 25000 / 219719, abs_tol=0.01)
        # ER-UE: 20% of the expressions rare; 10% of their images train (rounded up), the rest is the test set
        assert len(ue.novel) == 1 and set(meta.expression.iloc[ue.test]) == set(ue.novel)
        for c in ue.novel:
            n_c = int((meta.expression == c).sum())
            assert len(ue.novel_train) == math.ceil(0.1 * n_c) and len(ue.test) == n_c - len(ue.novel_train)
        assert len(ue.train) == len(meta) - len(ue.test)
        # ER-UP: half_left rare, 10% of it trains
        n_hl = int((meta.view == "half_left").sum())
        assert set(meta.view.iloc[up.test]) == {"half_left"} and len(up.test) == n_hl - math.ceil(0.1 * n_hl)
        # ER-ZID: disjoint identities, 20% of them unseen
        zid.check_disjoint(meta)
        assert meta.subject.iloc[zid.test].nunique() == 2
    assert study.data.splits[0].test.tolist() != study.data.splits[1].test.tolist()  # splits differ


def test_fraction_split_keeps_a_share_of_every_class(tiny):
    study, _ = tiny
    meta = study.data.dataset.meta
    full, sparse = study.data.splits[study.fold_of("ER-SS", 0)], study.data.splits[study.fold_of("ER-SS 50%", 0)]
    assert set(sparse.train) <= set(full.train) and np.array_equal(sparse.test, full.test)
    y_full, y_sparse = meta.expression.iloc[full.train], meta.expression.iloc[sparse.train]
    for c in y_full.unique():
        assert (y_sparse == c).sum() == math.ceil(0.5 * (y_full == c).sum())
    with pytest.raises(ValueError, match="fractions"):
        fraction_split(full, meta, 1.5, seed=0)


def test_the_plan_declares_what_each_run_needs(tiny):
    study, _ = tiny
    plan = study.experiments
    aug = [e for e in plan if e.variant == FAPE_FANET]
    assert aug and all(e.after == (study.make(GAN, e.fold),) for e in aug)
    pre = [e for e in plan if e.variant == PRETRAINED]
    assert pre and all(e.after[0].variant == FANET and study.task_of(e.after[0].fold) == ("ER-SS", e.fold)
                       for e in pre)
    judged = {study.task_of(e.fold)[0] for e in plan if e.variant in ("judge", CNN)}
    assert judged == {"ER-SS"}
    gans = [e for e in plan if e.variant == GAN]
    assert gans and all(e.after == ((study.make("judge", e.fold),) if study.judged(e.fold) else ()) for e in gans)
    with pytest.raises(ValueError, match="unknown FaPE-GAN chapter variant"):
        study.make("FG")


def test_a_new_judge_is_a_new_gan_result_on_judged_splits(tiny):
    study, root = tiny
    other = _study(root, P={**TINY, "judge_width": 2 * TINY["judge_width"]})
    for k in range(study.n_splits):
        f = study.fold_of("ER-SS", k)
        assert study.judged(f) == (k < int(study.P["judge_splits"]))
        assert (study.key(GAN, f).result() != other.key(GAN, f).result()) == study.judged(f)
    unjudged = study.fold_of("ER-UE", 0)
    assert study.key(GAN, unjudged).result() == other.key(GAN, unjudged).result()


def test_results_are_cached_and_tables_built(tiny):
    study, root = tiny
    again = _study(root)
    again.run_all(workers=1)
    assert again.cache_counts()["computed"] == 0
    t5 = study.table5()
    assert list(t5.index) == ["ER-SS", "ER-UE", "ER-UP", "ER-ZID", "ER-SS 50%"] and (t5.replicates == 2).all()
    v = study.values()
    a = v[v.variant == variant(FAPE_FANET, "ER-UP")].set_index(["fold", "seed"]).accuracy
    b = v[v.variant == variant(FANET, "ER-UP")].set_index(["fold", "seed"]).accuracy
    g = v[v.variant == gain("ER-UP")].set_index(["fold", "seed"]).gain
    assert np.allclose((a - b).sort_index().to_numpy(), g.sort_index().to_numpy())
    assert len(study.table4()) == 2 and study.confusion(SCRATCH).sum() == sum(
        len(study.result(e)["y_true"]) for e in study.runs(SCRATCH))
    gates = study.gates()
    assert len(gates) == 5 and gates.passes.dtype == bool
    r = study.result(GAN, study.fold_of("ER-SS", 0))
    assert r["examples"].shape == (2, 4, 3, 32, 32) and {"target_pose", "identity_tar", "psnr"} <= set(r["judge"])


def test_ledger_has_every_claim_with_paired_replicates(tiny):
    study, _ = tiny
    ledger, per = study.ledger()
    texts = [c.text for c, _ in study.claims()]
    assert len(texts) == 4 + 2 + 1 and set(per.claim) == set(texts)
    assert (per.groupby("claim").size() == 2).all()


def test_data_root_without_a_dataset_is_a_clear_error(tmp_path):
    assert_clear_data_root_errors(FaPEStudy, TINY, tmp_path)


def test_a_real_target_answers_the_cross_domain_question(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    import fixtures_datasets_b as fx

    from fer_core.methods.fapegan import report

    root = fx.make_jaffe(tmp_path / "data", per_expression=2, size=64)
    P = dict(TINY, n_splits=1, tasks=("ER-SS",), fractions=())
    study = _study(tmp_path, P, target_root=root, target_dataset="jaffe")
    assert study.target_name == "JAFFE" and len(study.target.splits) == 1
    study.run_all(workers=1)
    t4 = study.table4()
    assert t4.index.get_level_values("target").unique().tolist() == ["JAFFE"] and "paper (JAFFE)" in t4
    assert report.cross_domain_note(study).startswith("Measured on")
    assert len(study.ledger()[0].results) == 2
