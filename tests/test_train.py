"""The shared loop: exact resume, non-finite guard, atomic checkpoints, logging."""

from __future__ import annotations

import json

import pytest
import torch

from fer_core.io import CheckpointError, load_checkpoint, save_checkpoint
from fer_core.train import DivergenceError, EpochBatchSampler, fit
from tests._toys import BlobDataset, ExplodingMethod, ToyClassifier, ToyGAN


def _weights(method):
    return {k: v.clone() for k, v in method.nets.state_dict().items()}


@pytest.mark.parametrize("make", [ToyClassifier, ToyGAN], ids=["classifier", "gan"])
def test_interrupted_and_resumed_run_matches_uninterrupted(tmp_path, make):
    ref = make()
    fit(ref, BlobDataset(), steps=17, batch_size=8, run_dir=tmp_path / "a", seed=3, ckpt_every=5, progress=False)

    part = make()
    fit(part, BlobDataset(), steps=10, batch_size=8, run_dir=tmp_path / "b", seed=3, ckpt_every=5, progress=False)
    resumed = make()  # a fresh process: new objects, state only from disk
    torch.manual_seed(12345)  # RNG state must come from the checkpoint, not from here
    res = fit(resumed, BlobDataset(), steps=17, batch_size=8, run_dir=tmp_path / "b", seed=3, ckpt_every=5, progress=False)

    assert res.resumed_from == 10
    for k, v in _weights(ref).items():
        assert torch.equal(v, _weights(resumed)[k]), k
    log = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    ref_log = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [r["step"] for r in ref_log]


def test_divergence_stops_with_clear_message_and_keeps_last_good_checkpoint(tmp_path):
    m = ExplodingMethod(explode_at=12)
    with pytest.raises(DivergenceError, match=r"diverged at step 1[3-5].*loss 'loss' = nan.*step 10\) was kept"):
        fit(m, BlobDataset(), steps=30, batch_size=8, run_dir=tmp_path, ckpt_every=5, log_every=5, progress=False)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["step"] == 10
    assert all(torch.isfinite(v).all() for v in state["nets"].values())


def test_nonfinite_weights_are_never_checkpointed(tmp_path):
    class SilentNaN(ExplodingMethod):  # poisons the weights but reports a finite loss
        def step(self, batch, ctx):
            out = super().step(batch, ctx)
            out["loss"] = torch.tensor(0.0)
            return out

    with pytest.raises(DivergenceError, match="weight"):
        fit(SilentNaN(explode_at=7), BlobDataset(), steps=30, batch_size=8, run_dir=tmp_path, ckpt_every=5, progress=False)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 5


def test_checkpoint_write_is_atomic(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    def torn_writer(obj, buf):
        buf.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt  # killed mid-write

    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"step": 2}, path, _write=torn_writer)
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left


def test_truncated_checkpoint_is_refused_with_its_name(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"step": 1, "w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="checkpoint.pt.*truncated"):
        load_checkpoint(path)


def test_checkpoint_load_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"f": print}, path)  # a callable: only loadable by full unpickling
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_sampler_shards_without_overlap_and_matches_single_process():
    single = iter(EpochBatchSampler(20, 4, seed=1))
    ranks = [iter(EpochBatchSampler(20, 2, seed=1, rank=r, world_size=2)) for r in range(2)]
    for _ in range(12):  # crosses epoch boundaries
        a, b = next(ranks[0]), next(ranks[1])
        assert not set(a) & set(b)
        assert a + b == next(single)


def test_sampler_rejects_dataset_smaller_than_a_batch():
    with pytest.raises(ValueError, match="fewer than one global batch"):
        EpochBatchSampler(3, 4)


def test_fit_validates_arguments():
    with pytest.raises(ValueError, match="log_every"):
        fit(ToyClassifier(), BlobDataset(), steps=1, batch_size=2, log_every=0, progress=False)


def test_evaluate_hook_runs_in_eval_mode_and_is_logged(tmp_path):
    seen = []

    def evaluate(method, step):
        seen.append((step, method.nets.training))
        return {"acc": 1.0}

    res = fit(ToyClassifier(), BlobDataset(), steps=6, batch_size=8, run_dir=tmp_path, eval_every=3,
              evaluate=evaluate, progress=False)
    assert seen == [(3, False), (6, False)]
    assert [e["step"] for e in res.evals] == [3, 6]
    assert len((tmp_path / "evals.jsonl").read_text().splitlines()) == 2


def test_keep_leaves_a_snapshot_equal_to_a_shorter_run(tmp_path):
    from fer_core.io import load_checkpoint
    from fer_core.train import snapshot_path

    full = ToyClassifier()
    fit(full, BlobDataset(), steps=8, batch_size=4, run_dir=tmp_path / "full", keep=(3,), progress=False, device="cpu")
    short = ToyClassifier()
    fit(short, BlobDataset(), steps=3, batch_size=4, run_dir=tmp_path / "short", progress=False, device="cpu")
    snap = load_checkpoint(snapshot_path(tmp_path / "full", 3))
    assert snap["step"] == 3 and load_checkpoint(tmp_path / "full" / "checkpoint.pt")["step"] == 8
    for k, v in short.nets.state_dict().items():
        assert torch.equal(snap["nets"][k], v), k
    with pytest.raises(ValueError, match="keep= needs a run_dir"):
        fit(ToyClassifier(), BlobDataset(), steps=2, batch_size=4, keep=(1,), progress=False, device="cpu")


def test_compacted_checkpoint_reloads_its_weights_but_refuses_to_train_on(tmp_path):
    from fer_core.train import compact_checkpoint

    done = ToyGAN()
    fit(done, BlobDataset(), steps=6, batch_size=4, run_dir=tmp_path / "run", progress=False, device="cpu")
    ckpt = tmp_path / "run" / "checkpoint.pt"
    size = ckpt.stat().st_size
    assert compact_checkpoint(tmp_path / "run") > 0 and ckpt.stat().st_size < size
    assert compact_checkpoint(ckpt) == 0  # already compact
    state = load_checkpoint(ckpt)
    assert state["compact"] and state["optimizers"] == {} and state["step"] == 6

    again = ToyGAN()
    res = fit(again, BlobDataset(), steps=6, batch_size=4, run_dir=tmp_path / "run", progress=False, device="cpu")
    assert res.resumed_from == 6
    for k, v in _weights(done).items():
        assert torch.equal(v, _weights(again)[k]), k
    with pytest.raises(ValueError, match=r"checkpoint\.pt holds only the final weights.*Delete .*run"):
        fit(ToyGAN(), BlobDataset(), steps=9, batch_size=4, run_dir=tmp_path / "run", progress=False, device="cpu")


def test_the_plain_cnn_is_seeded_by_its_experiment_trained_by_the_study_and_left_in_eval_mode():
    from types import SimpleNamespace

    from fer_core.experiments import Experiment
    from fer_core.methods.classifier import train_plain_cnn

    calls = []

    def fit(method, exp, train, *, steps, batch_size):  # what Study.fit receives
        assert method.nets.training
        calls.append((exp.id, steps, batch_size))

    study = SimpleNamespace(P={"channels": 1, "cnn_width": 4}, data=SimpleNamespace(classes=("a", "b", "c")), fit=fit)
    a = train_plain_cnn(study, Experiment("CNN", 0, 3), None, steps=7, batch_size=5, lr=1e-3, decay=True)
    torch.manual_seed(99)  # the global state must not matter: the experiment's seed decides
    b = train_plain_cnn(study, Experiment("CNN", 1, 3), None, steps=7, batch_size=5, lr=1e-3)
    c = train_plain_cnn(study, Experiment("CNN", 0, 4), None, steps=7, batch_size=5, lr=1e-3)
    assert calls == [(("CNN", 0, 3), 7, 5), (("CNN", 1, 3), 7, 5), (("CNN", 0, 4), 7, 5)]
    assert not a.nets.training and a.net.num_classes == 3 and a.net.feature_dim == 16  # 4 x cnn_width
    wa, wb, wc = (torch.cat([p.flatten() for p in m.net.parameters()]) for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert "net" in a.schedulers and b.schedulers == {}
