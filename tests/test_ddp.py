"""Data parallelism under torchrun: equivalence with one process, resume after a crash, launch helpers.

The multi-process tests start real ``torchrun`` launches of 2 gloo processes on the CPU
(what a reader types, with CPU instead of GPUs); the worker functions below are what each
rank runs (``fer_core.distributed.run`` imports them by name).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn

from fer_core import distributed
from fer_core.io import load_checkpoint
from fer_core.data.memory import MemoryCachedDataset
from fer_core.distributed import all_reduce_mean_grads
from fer_core.train import CPU_BF16_ENV, StepContext, amp_supported, cpu_has_native_bf16, fit, make_adam, prepare_nets
from tests._toys import BlobDataset, ToyClassifier, ToyGAN

STEPS, BATCH, SEED = 12, 8, 3  # 2 ranks x 8 = 16 of 64 samples: 12 steps cross 3 epochs
FIT = dict(steps=STEPS, seed=SEED, ckpt_every=5, log_every=4, progress=False, device="cpu")


class DropoutGAN(ToyGAN):
    """ToyGAN with dropout in D: its masks come from each rank's own random stream."""

    def __init__(self, crash_at: int | None = None):
        super().__init__()
        self.nets["D"] = nn.Sequential(nn.Dropout(0.3), *self.nets["D"])  # same Parameters, optimiser unchanged
        self.crash_at = crash_at

    def step(self, batch, ctx):
        if ctx.step == self.crash_at and ctx.rank == 1:
            os._exit(3)  # killed: no clean-up, no exception handling
        return super().step(batch, ctx)


def _with_sgd(method, lr: float = 0.05):
    """Adam is blind to a constant factor on the gradients; with SGD a wrong average shows."""
    method.optimizers = {name: torch.optim.SGD(opt.param_groups[0]["params"], lr=lr, momentum=0.5)
                         for name, opt in method.optimizers.items()}
    method.schedulers = {name: torch.optim.lr_scheduler.StepLR(method.optimizers[name], step_size=5, gamma=0.9)
                         for name in method.schedulers}
    return method


class BNClassifier(ToyClassifier):
    """ToyClassifier with BatchNorm: each rank's running statistics come from its own slice."""

    def __init__(self):
        super().__init__(dropout=0.0)
        self.nets["C"].insert(1, nn.BatchNorm1d(16))  # the optimiser already holds the other Parameters
        self.optimizers["C"].add_param_group({"params": list(self.nets["C"][1].parameters())})


def _make(kind: str, crash_at: int | None = None):
    if kind == "bn":
        return BNClassifier()
    if kind == "classifier":
        return _with_sgd(ToyClassifier(dropout=0.0))  # dropout masks cannot match across different batch splits
    if kind == "gan":
        return _with_sgd(ToyGAN())
    return DropoutGAN(crash_at)


def _ranks_agree(nets: nn.Module) -> bool:
    flat = torch.cat([t.detach().float().flatten() for t in [*nets.parameters(), *nets.buffers()]])
    copies = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(copies, flat)
    return all(torch.equal(c, flat) for c in copies)


def _grad_flags_check() -> dict[str, bool]:
    """All-reduce semantics for parameters with a gradient on no rank / on one rank only."""
    never, sometimes = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))
    if dist.get_rank() == 1:
        sometimes.grad = torch.full((3,), 4.0)
    all_reduce_mean_grads([never, sometimes], dist.get_world_size())
    return {"never_stays_none": never.grad is None,
            "sometimes_averaged": sometimes.grad is not None and torch.equal(sometimes.grad, torch.full((3,), 2.0))}


def worker(*, root: str, kinds: list[str], crash_at: int | None = None) -> dict:
    """What every rank runs: train each toy with the shared loop; rank 0's dict comes back."""
    out: dict = {"world_size": distributed.world_size()}
    for kind in kinds:
        method = _make(kind, crash_at)
        res = fit(method, BlobDataset(), batch_size=BATCH, run_dir=Path(root) / kind, **FIT)
        out[kind] = {"weights": method.nets.state_dict(), "resumed_from": res.resumed_from,
                     "ranks_agree": _ranks_agree(method.nets)}
    out["grad_flags"] = _grad_flags_check()
    return out


def _single_process(kind: str) -> dict[str, torch.Tensor]:
    method = _make(kind)
    fit(method, BlobDataset(), batch_size=2 * BATCH, **FIT)
    return method.nets.state_dict()


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    """One torchrun launch, 2 gloo processes, every toy trained uninterrupted."""
    root = tmp_path_factory.mktemp("ddp")
    result = distributed.run("tests.test_ddp:worker", nproc=2, echo=False, timeout=300, root=str(root),
                             kinds=["classifier", "gan", "gan_dropout", "bn"])
    return root, result


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["classifier", "gan"])
def test_two_ranks_with_batch_b_match_one_process_with_batch_2b(ddp_run, kind):
    root, result = ddp_run
    assert result["world_size"] == 2
    assert result[kind]["ranks_agree"]
    ref = _single_process(kind)
    for name, value in result[kind]["weights"].items():
        torch.testing.assert_close(value, ref[name], rtol=1e-5, atol=1e-6, msg=f"{kind}: {name}")
    # Only rank 0 writes: one row per logging point (4, 5, 8, 10, 12), not one per rank.
    rows = [json.loads(r) for r in (root / kind / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [4, 5, 8, 10, 12]


@pytest.mark.slow
def test_batchnorm_statistics_agree_across_ranks_after_training(ddp_run):
    result = ddp_run[1]["bn"]
    assert result["ranks_agree"]  # parameters and the running statistics copied from rank 0
    assert result["weights"]["C.1.num_batches_tracked"] == STEPS


@pytest.mark.slow
def test_gradients_missing_on_every_rank_stay_none_so_adam_skips_them(ddp_run):
    assert ddp_run[1]["grad_flags"] == {"never_stays_none": True, "sometimes_averaged": True}


@pytest.mark.slow
def test_run_killed_midway_under_torchrun_resumes_to_the_same_weights(ddp_run, tmp_path):
    _, uninterrupted = ddp_run
    launch = dict(nproc=2, echo=False, timeout=300, root=str(tmp_path), kinds=["gan_dropout"])
    with pytest.raises(distributed.LaunchError, match="exited with status"):
        distributed.run("tests.test_ddp:worker", crash_at=7, **launch)
    assert load_checkpoint(tmp_path / "gan_dropout" / "checkpoint.pt")["step"] == 5
    resumed = distributed.run("tests.test_ddp:worker", **launch)
    assert resumed["gan_dropout"]["resumed_from"] == 5
    assert resumed["gan_dropout"]["ranks_agree"]
    for name, value in uninterrupted["gan_dropout"]["weights"].items():
        assert torch.equal(value, resumed["gan_dropout"]["weights"][name]), name
    rows = [json.loads(r)["step"] for r in (tmp_path / "gan_dropout" / "metrics.jsonl").read_text().splitlines()]
    assert rows == [4, 5, 8, 10, 12]


# --- launch helpers (single process, fast) -------------------------------------------------------


def _double(*, x: int) -> int:
    return 2 * x


def test_run_with_one_process_just_calls_the_function(monkeypatch):
    monkeypatch.delenv(distributed.NPROC_ENV, raising=False)
    assert distributed.run(_double, x=21) == 42
    assert distributed.run(f"{__name__}:_double", nproc=1, x=2) == 4


def test_run_refuses_a_function_defined_in_a_notebook():
    def local(**_):
        return 0

    local.__module__ = "__main__"
    with pytest.raises(ValueError, match="notebook or script.*move it into fer_core"):
        distributed.run(local, nproc=2)


def test_nproc_env_is_validated(monkeypatch):
    monkeypatch.setenv(distributed.NPROC_ENV, "two")
    with pytest.raises(ValueError, match="FER_NPROC='two'"):
        distributed.nproc_from_env()
    monkeypatch.setenv(distributed.NPROC_ENV, "3")
    assert distributed.nproc_from_env() == 3


def test_torchrun_command_uses_pytorch_launcher():
    cmd = distributed.torchrun_command("fer_core.distributed", ["a", 1], nproc=4, master_port=29555)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert cmd[cmd.index("--nproc_per_node") + 1] == "4" and cmd[cmd.index("--master_port") + 1] == "29555"
    assert cmd[-4:] == ["-m", "fer_core.distributed", "a", "1"]
    assert "-m" not in distributed.torchrun_command("train.py", nproc=2)[3:]


def test_per_rank_batch_keeps_the_global_batch():
    assert distributed.per_rank_batch_size(64, 4) == 16
    assert distributed.per_rank_batch_size(64) == 64  # one process
    with pytest.raises(ValueError, match="cannot be split evenly over 3"):
        distributed.per_rank_batch_size(64, 3)


def test_rank_helpers_outside_torchrun(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main(), distributed.is_distributed()) == (
        0, 1, True, False)
    distributed.barrier()  # a no-op


# --- single-process pieces of the fast path ------------------------------------------------------


def test_cached_dataset_trains_exactly_like_the_streamed_one():
    cached = MemoryCachedDataset(BlobDataset(), device="cpu")
    assert len(cached) == 64 and cached[5]["x"].shape == (8,)
    a = ToyClassifier()  # seeds the global RNG: dropout masks are drawn alike in both runs
    fit(a, BlobDataset(), steps=6, batch_size=8, seed=1, progress=False, device="cpu")
    b = ToyClassifier()
    fit(b, cached, steps=6, batch_size=8, seed=1, progress=False, device="cpu")
    for k, v in a.nets.state_dict().items():
        assert torch.equal(v, b.nets.state_dict()[k]), k


def test_cached_dataset_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="GiB.*max_bytes"):
        MemoryCachedDataset(BlobDataset(), device="cpu", max_bytes=100)


def test_make_adam_takes_the_same_steps_as_adam():
    torch.manual_seed(0)
    w1 = nn.Parameter(torch.randn(5, 4))
    w2 = nn.Parameter(w1.detach().clone())
    fast = make_adam([w1], lr=1e-2, betas=(0.5, 0.999), weight_decay=1e-3, device="cpu")
    plain = torch.optim.Adam([w2], lr=1e-2, betas=(0.5, 0.999), weight_decay=1e-3, foreach=False)
    assert fast.param_groups[0]["fused"]
    for i in range(5):
        g = torch.randn(5, 4, generator=torch.Generator().manual_seed(i))
        w1.grad, w2.grad = g.clone(), g.clone()
        fast.step()
        plain.step()
    torch.testing.assert_close(w1, w2)
    with pytest.raises(ValueError, match="lr must be > 0"):
        make_adam([w1], lr=0.0)


class _Recorder(ToyClassifier):
    """Records the memory format of the image batches the loop hands to ``step``."""

    def __init__(self):
        super().__init__()
        self.nets["conv"] = nn.Conv2d(3, 2, 3)
        self.formats = []

    def step(self, batch, ctx):
        self.formats.append(batch["img"].is_contiguous(memory_format=torch.channels_last))
        return super().step(batch, ctx)


class _ImageBlobs(BlobDataset):
    def __getitem__(self, i):
        item = super().__getitem__(i)
        item["img"] = torch.zeros(3, 4, 4)
        return item


def test_fit_uses_channels_last_for_conv_weights_and_image_batches_on_cpu():
    m = _Recorder()
    fit(m, _ImageBlobs(), steps=2, batch_size=4, progress=False, device="cpu")
    assert m.formats == [True, True]
    assert m.nets["conv"].weight.is_contiguous(memory_format=torch.channels_last)


def test_compile_is_applied_in_place_and_keeps_state_dict_keys():
    m = ToyGAN()
    keys = list(m.nets.state_dict())
    prepare_nets(m, torch.device("cpu"), compile=True)  # compiles lazily, on the first call
    assert all(net._compiled_call_impl is not None for net in m.nets.values())
    assert list(m.nets.state_dict()) == keys


def test_cpu_bf16_autocast_is_opt_in(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(CPU_BF16_ENV, raising=False)
    assert not amp_supported(cpu)
    with StepContext(device=cpu).autocast():  # amp=True by default, still fp32 on a CPU
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with StepContext(device=cpu, cpu_amp=True).autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    assert amp_supported(cpu) == cpu_has_native_bf16()
