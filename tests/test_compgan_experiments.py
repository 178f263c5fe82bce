"""The Comp-GAN chapter's plan on a tiny configuration: folds and shots, declared dependencies, the
tables, the gates, the judge's independence and the ledger."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core.methods.compgan.experiments import FCLS, GAN, NOLOOP_GAN, PIX2PIX, CompGANStudy, fold_layout
from fer_core.methods.compgan.paper import BOTH, CNN, COMBINE, FEW_SHOT, FRONT, L, NOLOOP, OURS, POSE, shot_variant
from fer_core.profiles import PROFILES
from tests._studies import chapter_profiles, tiny_factory

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(PROFILES["compgan"]["smoke"], tasks=("ER-SS", "ER-FE"), n_identities=5, n_classes=4, n_pairs=8,
            n_show=2, n_embed=6, curve=(), shot_seeds=(1,))


_study, tiny = tiny_factory(CompGANStudy, TINY)


def test_profiles_define_every_setting_and_enough_replicates():
    _, small, paper = chapter_profiles("compgan")
    assert paper["gan_lr"] == 2e-4 and paper["cls_lr"] == 0.01 and paper["gan_batch_size"] == 64
    assert paper["size"] == 128 and paper["n_classes"] == 54 and paper["shots"] == (1, 3, 5)
    for P in (small, paper):
        # claims pool the six tasks: episodes x seeds x tasks replicates
        assert len(P["tasks"]) * P["n_episodes"] * len(P["seeds"]) >= 10
        # the shots claim: few-shot tasks x episodes x (seeds and shot_seeds)
        few = [t for t in P["tasks"] if t in FEW_SHOT]
        assert len(few) * P["n_episodes"] * len({*P["seeds"], *P["shot_seeds"]}) >= 10
    # the face claims pair over episodes: the paper profile judges (and trains w/o L_loop on) ten or more
    assert len(paper["judge_tasks"]) * paper["n_episodes"] >= 10 and len(paper["loop_tasks"]) * paper["n_episodes"] >= 10


def test_folds_grow_by_real_shots_only(tiny):
    study, _ = tiny
    assert study.layout == fold_layout(TINY) == [("ER-SS", 0, 0), ("ER-FE", 1, 0), ("ER-FE", 3, 0)]
    one, three = (study.data.splits[study.fold_of("ER-FE", s)] for s in (1, 3))
    assert set(one.train) < set(three.train) and np.array_equal(one.test, three.test)
    assert len(set(three.train) - set(one.train)) == 2 * len(one.novel)  # two more shots per novel expression
    assert study.main_fold(study.fold_of("ER-FE", 3)) == study.fold_of("ER-FE", 1)
    for s in study.data.splits:
        assert not set(s.train) & set(s.test)


def test_plan_declares_what_each_experiment_needs(tiny):
    study, _ = tiny
    ss, fe3 = study.fold_of("ER-SS"), study.fold_of("ER-FE", 3)
    gan = study.experiments.get(GAN, ss)
    assert {d.variant for d in gan.after} == {FCLS, "judge"}
    assert study.experiments.get(PIX2PIX, ss).after == (study.make("judge", ss),)
    fe1 = study.fold_of("ER-FE", 1)
    rec = study.experiments.get(BOTH, fe3, 0)  # fine-tunes the 1-shot episode's F_cls on its generator's faces
    assert rec.after == (study.make(FCLS, fe1), study.make(GAN, fe1))
    assert study.experiments.get(L, ss, 0).after == (study.make(FCLS, ss),)
    assert study.experiments.get(NOLOOP, ss, 0).after == (study.make(FCLS, ss), study.make(NOLOOP_GAN, ss))
    with pytest.raises(ValueError, match="unknown Comp-GAN chapter variant"):
        study.make("L.+CycleGAN", ss)


def test_results_are_cached(tiny):
    study, root = tiny
    again = _study(root)
    again.run_all(workers=1)
    assert not again.computed  # every result came from the store
    assert again.result(L, 0, 0)["accuracy"] == study.result(L, 0, 0)["accuracy"]


def test_tables_gates_and_ledger(tiny):
    study, _ = tiny
    v = study.values()
    assert {L, BOTH, OURS, POSE, FRONT, COMBINE, CNN, shot_variant(L, 3)} <= set(v.variant)
    t4 = study.table4()
    assert list(t4.columns[:2]) == ["ER-SS", "ER-FE"] and OURS in t4.index
    assert "ER-FE 3-shot" in study.table6().columns
    assert set(study.table7().columns[:5]) == {"Acc.", "mA.", "Pre.", "Rec.", "F1."}
    gates = study.gates()
    assert gates.passes.dtype == bool and len(gates) == 7
    ledger, per_rep = study.ledger()
    texts = [r.claim.text for r in ledger.results]
    assert any("closed-loop" in t for t in texts) and any("More shots" in t for t in texts)
    assert any("identity" in t for t in texts) and len(per_rep)
    faces = [r for r in ledger.results if r.claim.metric in ("L1 to the true face", "identity cosine")]
    # paired over the episodes that scored both generators (one judged ER-SS episode here): too few to decide
    assert len(faces) == 2 and all(r.n == 1 and r.verdict == "inconclusive" for r in faces)
    assert all(r.replicates.kind == "folds" for r in ledger.results)
    shots = next(r for r in ledger.results if "More shots" in r.claim.text)
    assert shots.n == 2  # ER-FE's episode under seed 0 and the extra shot seed 1
    assert {"generator", "attribute", "class", "value"} <= set(study.preservation().columns)
    feats, ids, kinds, gen = study.embedding()
    assert len(feats) == len(ids) == len(kinds) == len(gen) and gen.any() and (~gen).any()


def test_extra_shot_seeds_run_the_shot_comparison_only(tiny):
    study, _ = tiny
    fe1, fe3, ss = study.fold_of("ER-FE", 1), study.fold_of("ER-FE", 3), study.fold_of("ER-SS")
    extra = {(e.variant, e.fold) for e in study.experiments if e.seed == 1 and e.variant not in (FCLS, GAN)}
    assert extra == {(L, fe1), (BOTH, fe1), (L, fe3), (BOTH, fe3)}  # no ER-SS run, no other augmenter
    assert not any(e.seed == 1 and e.fold == ss for e in study.experiments)
    v = study.values()
    assert set(v[v.variant == L].seed) == {0}  # the tables read the study's seeds only
    assert set(v[v.variant.str.startswith("gain")].seed) == {0, 1}


def test_judge_shares_no_weights_with_F_cls(tiny):
    study, _ = tiny
    ss = study.fold_of("ER-SS")
    judge = study.judge(ss)
    fcls = study.train(study.make(FCLS, ss)).net
    ours = {p.data_ptr() for p in fcls.parameters()}
    theirs = {p.data_ptr() for net in judge.nets.values() for p in net.parameters()}
    assert ours and theirs and not ours & theirs
    assert type(judge.nets["expression"]).__name__ != type(fcls).__name__


def test_the_curve_runs_every_seed_even_with_one_shot_count(tmp_path):
    from fer_core.methods.compgan.paper import curve_variant

    for shots in ((1, 3), (1,)):
        P = dict(TINY, shots=shots, curve=(4,), seeds=(0, 1), shot_seeds=(2,))
        study = _study(tmp_path / str(len(shots)), P)
        curve = [e for e in study.experiments if e.variant == curve_variant(4)]
        assert {e.seed for e in curve} == {0, 1} and {e.fold for e in curve} == {study.curve_fold}
