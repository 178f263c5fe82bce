"""The comparison chapter: the protocol's conditions and folds, the cost counter, and one tiny run whose
records show that every method had the same folds, seeds and budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_core.methods.classifier import Classifier
from fer_core.methods.compare import report
from fer_core.methods.compare.adapters import ADAPTERS, adapter, other_labels
from fer_core.methods.compare.cost import step_cost
from fer_core.methods.compare.experiments import G, CompareStudy
from fer_core.methods.compare.paper import PLAIN
from fer_core.methods.compare.protocol import CONDITIONS, conditions, protocol_splits, weak_peak_pairs, world
from fer_core.nets.small import SmallCNN
from fer_core.profiles import PROFILES
from tests._studies import chapter_profiles, tiny_factory

pytestmark = pytest.mark.usefixtures("one_thread")

SMOKE = PROFILES["compare"]["smoke"]
TINY = dict(SMOKE, steps=3, gan_steps=2, judge_steps=2, n_edit=8, n_show=2)


_study, tiny = tiny_factory(CompareStudy, TINY)


def test_profiles_define_every_setting_and_enough_replicates():
    _, small, paper = chapter_profiles("compare")
    assert small["folds"] * len(small["seeds"]) >= 10
    assert set(small["methods"]) <= set(ADAPTERS)


def test_conditions_are_disjoint_subject_independent_and_all_present():
    ds, _ = world(TINY, 0)
    meta = ds.meta
    for s in protocol_splits(TINY)(ds, 0):
        cond = conditions(meta, s.test, s.train, TINY)
        assert set(cond) == set(CONDITIONS)
        trained = set(meta.subject.iloc[s.train])
        test = meta.iloc[s.test]
        # only the "peak" condition holds people the fold trained on, and only in their other take
        assert set(test.subject[cond == "peak"]) <= trained
        assert (test["take"][cond == "peak"] == 1).all()
        for c in ("weak", "identity", "pose"):
            assert not set(test.subject[cond == c]) & trained, c
        assert (test.view[cond == "pose"] == TINY["unseen_view"]).all()
        assert (test.frame[cond == "weak"] < test.n_frames[cond == "weak"] - 1).all()
        tr = meta.iloc[s.train]
        assert (tr["take"] == 0).all() and TINY["unseen_view"] not in set(tr.view)


def test_weak_peak_pairs_join_a_weak_frame_to_the_peak_of_its_own_sequence_and_view():
    ds, _ = world(TINY, 0)
    meta = ds.meta
    rows = protocol_splits(TINY)(ds, 0)[0].train
    pairs = weak_peak_pairs(meta, rows)
    m = meta.iloc[rows].reset_index(drop=True)
    assert len(pairs) == int((m.frame < m.n_frames - 1).sum())
    w, p = m.iloc[pairs[:, 0]].reset_index(drop=True), m.iloc[pairs[:, 1]].reset_index(drop=True)
    assert (w.sequence == p.sequence).all() and (w.view == p.view).all() and (p.frame == p.n_frames - 1).all()
    assert (w.frame < p.frame).all()


def test_other_labels_never_returns_the_label_itself():
    y = torch.arange(7).repeat(20)
    out = other_labels(y, 7, np.random.default_rng(0))
    assert (out != y).all() and out.min() >= 0 and out.max() < 7


def test_step_cost_counts_flops_per_image_and_leaves_the_method_unchanged():
    torch.manual_seed(0)
    method = Classifier(SmallCNN(3, 7, width=4))
    before = {k: v.clone() for k, v in method.nets.state_dict().items()}
    batch = {"image": torch.randn(8, 3, 32, 32), "expression": torch.randint(0, 7, (8,))}
    c8 = step_cost(method, batch, device=torch.device("cpu"))
    c4 = step_cost(method, {k: v[:4] for k, v in batch.items()}, device=torch.device("cpu"))
    assert c8["flops_per_step"] > 0 and c8["flops_per_image"] == pytest.approx(c8["flops_per_step"] / 8)
    assert c8["flops_per_step"] == pytest.approx(2 * c4["flops_per_step"], rel=0.05)  # linear in the batch
    assert c8["memory_bytes"] > c4["memory_bytes"] > 0
    for k, v in method.nets.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown method 'nope'.*FESR"):
        adapter("nope")


def test_every_method_gets_the_same_folds_seeds_and_budget_by_its_run_records(tiny):
    study, _ = tiny
    rec = study.records()
    assert set(rec.variant) == {PLAIN, *study.methods} and len(study.methods) >= 4
    same = ["train_rows", "test_rows", "n_train_real", "steps", "batch_size", "lr", "recogniser", "parameters"]
    for (fold, seed), group in rec.groupby(["fold", "seed"]):
        assert len(group) == 1 + len(study.methods)
        for col in same:
            assert group[col].nunique() == 1, (fold, seed, col)
        gen = group.set_index("variant").generated
        assert gen[PLAIN] == 0 and (gen.drop(PLAIN) == study.n_generated(fold)).all()
    replicates = rec.groupby("variant")[["fold", "seed"]].apply(lambda d: sorted(map(tuple, d.to_numpy())))
    assert replicates.map(tuple).nunique() == 1  # every variant ran the same (fold, seed) pairs


def test_the_tables_the_ledger_and_the_pick_come_from_the_run(tiny):
    study, _ = tiny
    v = study.values()
    assert set(v.variant) == {PLAIN, *study.methods}
    assert ((v.acc_mean >= 0) & (v.acc_mean <= 1)).all()
    g = study.gains()
    row = g[(g.method == study.methods[0]) & (g.condition == "mean")].iloc[0]
    pair = v.set_index(["variant", "fold", "seed"])
    assert row.gain == pytest.approx(pair.loc[(study.methods[0], row.fold, row.seed), "acc_mean"]
                                     - pair.loc[(PLAIN, row.fold, row.seed), "acc_mean"])
    ledger, per_rep = study.ledger()
    assert len(ledger.results) == len(study.claims()) >= 2 * len(study.methods) - 1
    cost = study.cost_table()
    assert (cost.drop(PLAIN)["generator GFLOP / image"] > 0).all() and cost.loc[PLAIN, "extra CPU minutes"] == 0
    syn = study.synthesis_table()
    assert set(syn.index) == set(study.methods) and (syn["Fréchet (its faces)"] >= 0).all()
    text = report.pick(study, ledger)
    assert "Overall" in text and text.count("\n- **") >= len(study.conditions) + 1
    assert study.examples(0)["input"].shape[0] == TINY["n_show"]


def test_a_generator_run_is_shared_by_the_seeds_and_results_come_back_from_the_store(tiny):
    study, root = tiny
    assert all(G(m) in {d.variant for d in study.make(m, 0, s).after} for m in study.methods for s in study.seeds)
    again = _study(root)
    again.run_all(workers=1)
    assert again.cache_counts()["computed"] == 0


def test_the_reproducibility_report_finds_the_comparison_ledger():
    from fer_core.methods.reproducibility import chapter_studies

    assert [name for name, _ in chapter_studies(["compare"])] == ["compare"]


def test_groupgan_trains_its_plain_basenet_with_its_own_optimisers(tiny):
    from fer_core.methods.compare.adapters import PlainBaseNet
    from fer_core.train import StepContext

    study, _ = tiny
    a = adapter("GroupGAN")
    torch.manual_seed(0)
    method = a.build(study, 0)
    net = method.nets["C"]
    assert isinstance(net, PlainBaseNet)
    owned = {id(p) for name in ("E", "C") for g in method.optimizers[name].param_groups for p in g["params"]}
    assert owned == {id(p) for p in net.parameters()}  # no weight of the replaced torchvision BaseNet is stepped
    ds = a.train_set(study, 0)
    batch = ds.__getitems__(list(range(4)))
    before = {k: v.detach().clone() for k, v in net.state_dict().items()}
    method.step(batch, StepContext(device=torch.device("cpu"), amp=False, _optimizers=method.optimizers))
    after = net.state_dict()
    assert not torch.equal(before["trunk.0.0.0.weight"], after["trunk.0.0.0.weight"])  # E learns (Eq. 13)
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])  # and C
    assert net.E(batch["image"]).shape == (4, TINY["groupgan_fc"][-1])
