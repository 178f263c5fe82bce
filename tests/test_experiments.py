"""The shared experiment layer: plans with declared dependencies, workers, reuse, resume, keys, tables."""

from __future__ import annotations

from unittest import mock

import pandas as pd
import pytest
import torch

from fer_core.claims import Claim, Replicates
from fer_core.experiments import Experiment, MissingResultError, Plan, PlanError, RunKey, tables
from fer_core.experiments.runner import WORKERS_ENV, workers_for
from fer_core.results import ResultStore
from tests._toys import CRASH_ENV, ToyStudy

pytestmark = pytest.mark.usefixtures("one_thread")
P = {"folds": 2, "seeds": (0, 1)}


def _study(root, **kw):
    data = ToyStudy.build_data(P)
    return ToyStudy(P, data, device="cpu", store=ResultStore("toy", root=root / "results"), run_root=root / "runs",
                    progress=False, **kw)


def test_plan_adds_declared_dependencies_and_orders_them_first():
    a = Experiment("pre", 0, 0)
    b, c = Experiment("fast", 0, 0, after=(a,)), Experiment("slow", 0, 0, after=(a,))
    plan = Plan([b, c])
    assert [e.variant for e in plan] == ["pre", "fast", "slow"] and a in plan
    assert plan.dependents(a) == [b, c] and plan.dependencies(b) == [a]
    assert plan.remaining_cost()[a.id] == 2.0  # its own cost plus the costlier of the runs waiting for it


def test_plan_refuses_one_experiment_with_two_sets_of_dependencies():
    with pytest.raises(PlanError, match="twice with different dependencies"):
        Plan([Experiment("a"), Experiment("a", after=(Experiment("b"),))])


def test_run_key_separates_training_from_evaluation_settings(tmp_path):
    k1 = RunKey("toy", "fast", 0, 0, {"lr": 1}, {"n_show": 2})
    k2 = RunKey("toy", "fast", 0, 0, {"lr": 1}, {"n_show": 3})
    k3 = RunKey("toy", "fast", 0, 0, {"lr": 2}, {"n_show": 2})
    assert k1.run_dir(tmp_path) == k2.run_dir(tmp_path) != k3.run_dir(tmp_path)
    assert k1.run_dir(tmp_path).name.startswith("fast-f0-s0-")
    assert ResultStore("toy", root=tmp_path).path(k1.result()) != ResultStore("toy", root=tmp_path).path(k2.result())


def test_a_continuation_key_changes_with_the_run_it_continues_from(tmp_path):
    study = _study(tmp_path)
    other = ToyStudy({**P, "folds": 3}, ToyStudy.build_data({**P, "folds": 3}), device="cpu", run_root=tmp_path)
    assert study.key("pre", 0, 0).train_id != other.key("pre", 0, 0).train_id
    assert study.key("fast", 0, 0).config["after"] == [study.key("pre", 0, 0).train_id]


@pytest.mark.slow
def test_one_and_two_workers_give_identical_results_and_a_finished_plan_reruns_nothing(tmp_path, capsys,
                                                                                        monkeypatch):
    monkeypatch.setenv("FER_PROGRESS", "summary")
    runs = {}
    for workers in (1, 2):
        study = _study(tmp_path / f"w{workers}")
        runs[workers] = study.run_all(workers=workers)
        assert set(study.computed) == {e.id for e in study.experiments}  # pre, fast, slow per fold and seed
        printed = capsys.readouterr().out
        for e in study.experiments:  # progress reaches this process, with the last logged loss, from workers too
            assert f"] {e}: " in printed and "loss=" in printed.split(f"] {e}: ")[1].splitlines()[0], e
    assert runs[1].keys() == runs[2].keys() and len(runs[1]) == 2 * 2 * 3
    for key, one in runs[1].items():
        assert torch.equal(one["weights"], runs[2][key]["weights"]), key
    again = _study(tmp_path / "w2")
    again.run_all(workers=2)
    assert again.computed == {} and again.cache_counts() == {"computed": 0, "reused": 12}
    assert set(again.wall_times().source) == {"results cache"}


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_checkpoint_and_ends_where_an_uninterrupted_one_does(tmp_path,
                                                                                                    monkeypatch):
    clean = _study(tmp_path / "clean").run_all(workers=1)
    study = _study(tmp_path / "crash")
    monkeypatch.setenv(CRASH_ENV, "fast:9")
    with pytest.raises(RuntimeError, match="simulated crash of fast at step 9"):
        study.run_all(workers=1)
    crashed = study.make("fast", 0, 0)
    assert study.log(crashed)[-1]["step"] == 8  # checkpoints every 2 steps: it stopped after step 8
    resumed = _study(tmp_path / "crash")
    out = resumed.run_all(workers=1)
    assert crashed.id in resumed.computed and ("pre", 0, 0) not in resumed.computed  # pre was stored already
    for key, one in clean.items():
        assert torch.equal(one["weights"], out[key]["weights"]), key


def test_worker_count_comes_from_the_environment_and_is_checked(tmp_path, monkeypatch):
    study = _study(tmp_path)
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert workers_for(study, None, 10) == 3 and workers_for(study, None, 2) == 2 and workers_for(study, 5, 0) == 1
    monkeypatch.setenv(WORKERS_ENV, "zero")
    with pytest.raises(ValueError, match="FER_WORKERS='zero' is not a process count"):
        workers_for(study, None, 3)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        workers_for(study, 0, 3)


def test_tables_summarise_pivot_and_pair_replicates():
    df = pd.DataFrame([{"variant": v, "fold": k, "seed": s, "acc": base + 0.01 * k + 0.001 * s}
                       for v, base in (("A", 0.8), ("B", 0.7)) for k in range(3) for s in range(2)])
    summary = tables.summary(df, "acc", order=["B", "A", "C"], scale=100)
    assert list(summary.index) == ["B", "A"] and summary.loc["A", "n"] == 6
    assert summary.loc["A", "acc"].startswith("81.05 ± ")
    assert tables.per_replicate(df, "acc").shape == (2, 6)
    claim = Claim("A beats B", "Sec. 1", "accuracy", "A", "A", "B")
    book, per = tables.ledger(df.drop(index=[0]), [(claim, "acc")], replicates=Replicates.independent())
    assert book.results[0].n == 5 and len(per) == 5  # fold 0 seed 0 of A is missing: that pair is left out
    assert book.results[0].effect == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no replicate has both A and C"):
        tables.ledger(df, [(Claim("A beats C", "s", "m", "A", "A", "C"), "acc")], replicates=Replicates.independent())


def test_replicate_values_and_switch_tables():
    per = pd.DataFrame([{"claim": "A beats B", "fold": k, "seed": 0, "A": "A", "value A": 0.81234, "B": "B",
                         "value B": 0.7} for k in range(2)])
    shown = tables.replicate_values(per, digits=2)
    assert list(shown.data.index.names) == ["claim", "fold", "seed"] and len(shown.data) == 2
    assert "0.81" in shown.to_html() and "0.812" not in shown.to_html()
    t = tables.switches({"Ours": {}, "No_L": {"use_l": False, "p": 0.5}}, none="(proposed)")
    assert t.loc["Ours", "changes"] == "(proposed)" and t.loc["No_L", "changes"] == "use_l=False, p=0.5"


def test_wall_time_table_counts_computed_and_cached_runs(tmp_path):
    study = _study(tmp_path)
    study.computed = {e.id: 2.0 for e in study.experiments if e.variant == "pre"}
    shown = study.wall_time_table()
    t = shown.data
    n_pre = sum(e.variant == "pre" for e in study.experiments)
    assert t.loc["pre", ("runs", "computed in this build")] == n_pre
    assert t.loc["pre", ("seconds", "computed in this build")] == 2.0 * n_pre
    assert t.loc["fast", ("runs", "results cache")] == n_pre  # one fast run per pre-training run
    assert pd.isna(t.loc["fast", ("seconds", "results cache")])  # nothing stored: no seconds to add up
    assert study.wall_time_summary() in shown.to_html()
    assert study.plan_summary() == f"{len(study.experiments)} experiments: 2 fold(s) x {len(study.seeds)} seed(s)"


def test_a_study_without_a_synthetic_world_says_how_to_supply_its_data():
    from fer_core.experiments import Study

    class Bare(Study):
        chapter = "bare"
        make = plan = train = evaluate = None

    with pytest.raises(NotImplementedError, match="Bare sets no synthetic_world; declare it or override build_data"):
        Bare.build_data({"folds": 2})


def test_board_lines_show_step_losses_and_time_left(capsys):
    from fer_core.experiments.board import Board, format_seconds

    board = Board(3, cached=1, mode="summary")
    board.start("FG fold 0 seed 0")
    board.log("FG fold 0 seed 0", 10, 100, {"stage": 1.0, "L_G": 0.5})
    board.running["FG fold 0 seed 0"].first = (board.running["FG fold 0 seed 0"].first[0] - 10.0, 0)  # 1 step/s
    text = board._text()
    assert "1 of 3 done (1 from the results cache), 1 running" in text
    assert "10/100" in text and "L_G=0.5" in text and "stage" not in text and "ETA 1m30s" in text
    board.done("FG fold 0 seed 0", 75.2)
    assert capsys.readouterr().out.strip() == "[2/3] FG fold 0 seed 0: 1m15s, L_G=0.5"
    assert format_seconds(4.25) == "4.2s" and format_seconds(7200) == "2h00m"


# ------------------------------------------------------------------ stored-only studies and the book's report
class LedgerToyStudy(ToyStudy):
    """ToyStudy with a one-claim ledger ("fast beats slow"), as a paper chapter keeps one."""

    chapter = "ledgertoy"

    def ledger(self):
        from fer_core.claims import Claim
        from fer_core.experiments import tables

        values = pd.DataFrame([{"variant": e.variant, "fold": e.fold, "seed": e.seed, "accuracy": r["accuracy"]}
                               for e, r in self.results()])
        claim = Claim("fast beats slow", "toy", "accuracy", "fast", "fast", "slow", paper_effect=0.05)
        return tables.ledger(values, [(claim, "accuracy")], replicates=tables.fold_ratio(self.data.splits))


def _ledger_toy(tmp_path, **kwargs):
    P = {"folds": 3, "seeds": (0, 1)}
    return LedgerToyStudy(P, LedgerToyStudy.build_data(P), device="cpu", progress=False,
                          store=ResultStore("ledgertoy", root=tmp_path / "results"), run_root=tmp_path / "runs",
                          **kwargs), P


def test_a_stored_only_study_reads_results_and_never_trains(tmp_path):
    study, P = _ledger_toy(tmp_path)
    study.run_all(workers=1)
    reader, _ = _ledger_toy(tmp_path, stored_only=True)
    (ledger, values) = reader.ledger()
    assert [r.n for r in ledger.results] == [6] and reader.computed == {}
    assert values.equals(study.ledger()[1])


def test_a_stored_only_study_refuses_missing_and_stale_results_saying_how_to_fix(tmp_path, monkeypatch):
    reader, _ = _ledger_toy(tmp_path, stored_only=True)
    with pytest.raises(MissingResultError, match=r"ledgertoy chapter has no stored result.*holds no results.*"
                                                 r"--only ledgertoy"):
        reader.ledger()
    assert not (tmp_path / "runs").exists()  # nothing was trained
    study, _ = _ledger_toy(tmp_path)
    study.run_all(workers=1)
    monkeypatch.setattr("fer_core.results.code_fingerprint", lambda chapter=None: "other-code")
    with pytest.raises(MissingResultError, match=r"other fer_core code.*stale"):
        _ledger_toy(tmp_path, stored_only=True)[0].ledger()


def test_options_left_none_are_in_no_key(tmp_path):
    a, _ = _ledger_toy(tmp_path)
    b, _ = _ledger_toy(tmp_path, weights=None)
    c, _ = _ledger_toy(tmp_path, weights="/some/path.pth")
    assert a.key("fast").result() == b.key("fast").result() != c.key("fast").result()


def test_the_reproducibility_report_collects_every_chapter_ledger(tmp_path, monkeypatch):
    from fer_core.methods import reproducibility as rep

    study, P = _ledger_toy(tmp_path)
    study.run_all(workers=1)
    monkeypatch.setattr(rep, "chapter_studies", lambda names: [("ledgertoy", LedgerToyStudy)])
    monkeypatch.setattr(LedgerToyStudy, "__init__", _stored_in(tmp_path))
    table = rep.collect(chapters=["ledgertoy"], profiles={"ledgertoy": P})
    want = study.ledger()[0].results[0]
    assert table[["chapter", "claim", "n", "verdict"]].values.tolist() == [["ledgertoy", "fast beats slow", 6,
                                                                              want.verdict]]
    assert table["effect"][0] == pytest.approx(want.effect) and table["paper's effect"][0] == 0.05
    counts = rep.verdict_counts(table)
    assert counts.loc["all chapters", "claims"] == 1 and counts.loc["ledgertoy", want.verdict] == 1
    assert "tested **1 claim** from 1 chapter (ledgertoy)" in rep.summary(table)


def _stored_in(tmp_path):
    init = ToyStudy.__init__

    def __init__(self, P, data, **kwargs):
        kwargs.update(store=ResultStore("ledgertoy", root=tmp_path / "results"), run_root=tmp_path / "runs")
        init(self, P, data, **kwargs)
    return __init__


def test_the_report_finds_the_paper_chapters_that_keep_a_ledger():
    from fer_core.methods.reproducibility import chapter_studies

    found = dict(chapter_studies(["data", "fesr", "jesrl", "no_such_chapter"]))
    assert set(found) == {"fesr", "jesrl"}
    assert found["fesr"].chapter == "fesr"


def test_stored_runs_drop_optimiser_states_unless_the_chapter_continues_from_them(tmp_path):
    from fer_core.io import load_checkpoint
    from fer_core.methods.fesr.experiments import FESRStudy

    class WeightsOnly(ToyStudy):  # runs that nothing continues from
        chapter = "toy_weights_only"
        compact_checkpoints = True

        def plan(self):
            return Plan([self.make("pre", k, s) for k in self.folds for s in self.seeds])

    study = WeightsOnly(P, ToyStudy.build_data(P), device="cpu", store=ResultStore("toy_w", root=tmp_path / "a"),
                        run_root=tmp_path / "a" / "runs", progress=False)
    exp = study.make("pre", 1, 1)
    weights = study.result(exp)["weights"]  # computed, stored, then compacted at once
    assert load_checkpoint(study.run_dir(exp) / "checkpoint.pt")["compact"]
    reader = WeightsOnly(P, ToyStudy.build_data(P), device="cpu", store=ResultStore("toy_w", root=tmp_path / "a"),
                         run_root=tmp_path / "a" / "runs", progress=False, stored_only=True)
    with mock.patch("fer_core.experiments.study.compact_checkpoint") as compact:
        assert torch.equal(reader.result(exp)["weights"], weights)
    compact.assert_not_called()  # a result read from the store leaves its checkpoint alone (no reload)
    study.run_all(workers=1)
    ckpts = sorted((tmp_path / "a" / "runs").rglob("checkpoint*.pt"))
    assert len(ckpts) == 4 and all(load_checkpoint(p).get("compact") for p in ckpts)
    reloaded = study.train(exp)  # a finished run reloads from its compact checkpoint
    assert torch.equal(torch.cat([p.detach().flatten() for p in reloaded.nets.parameters()]), weights)

    kept = _study(tmp_path / "b")  # ToyStudy: "fast" and "slow" resume pre's optimiser
    kept.run_all(workers=1)
    assert not any(load_checkpoint(p).get("compact") for p in (tmp_path / "b" / "runs").rglob("checkpoint*.pt"))
    assert FESRStudy.compact_checkpoints is False  # its two-stage variants resume FG's Adam states
