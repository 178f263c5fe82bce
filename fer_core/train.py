"""The one generic training loop shared by every method of the book.

A method (a paper) supplies a :class:`Method`: its networks in ``nets``, its optimisers
in ``optimizers`` and a ``step(batch, ctx)`` that performs *its own* updates (GANs
alternate discriminator and generator updates, so a "return one loss" step does not
fit). :func:`fit` owns everything else: device and precision, data order, progress,
logging, evaluation, checkpoints, exact resume, the non-finite guard, and data-parallel
gradient averaging under ``torchrun``.

Exact resume: the data order is a pure function of ``(seed, step)`` (see
:class:`EpochBatchSampler`) and the checkpoint holds every RNG state, so a run that is
interrupted and resumed ends with the same weights as one that never stopped (on CPU,
bit for bit; on GPU up to non-deterministic kernels).

Data parallelism (``torchrun --nproc_per_node N``): every rank holds a full copy of the
networks and trains on its own slice of each global batch. After each ``backward``,
:meth:`StepContext.update` averages the gradients of *that optimiser's* parameters over
the ranks with one flattened ``all_reduce`` before the optimiser steps, so N ranks with
batch b follow the same trajectory as one process with batch N*b (up to float rounding).
This is the arithmetic of :class:`~torch.nn.parallel.DistributedDataParallel`, done per
optimiser update instead of by a module wrapper, because GAN steps update D and G
alternately, call D several times before one backward, and take gradient penalties with
``torch.autograd.grad`` -- patterns the DDP wrapper does not support or handles only
with ``find_unused_parameters``/``static_graph`` workarounds. The price is that the
all-reduce does not overlap with the backward pass. See ``book/distributed.md``.
"""

from __future__ import annotations

import abc
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate
from tqdm.auto import tqdm

from fer_core import runtime
from fer_core.io import atomic_write_bytes, load_checkpoint, save_checkpoint

__all__ = ["Method", "StepContext", "fit", "FitResult", "DivergenceError", "EpochBatchSampler", "distributed_env",
           "prepare_nets", "make_adam", "GPUCachedDataset", "amp_supported"]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


class DivergenceError(RuntimeError):
    """Raised when a loss or a weight becomes NaN/Inf; the last good checkpoint is kept."""


class Method(abc.ABC):
    """What a paper's method hands to :func:`fit`.

    Subclasses set ``self.nets`` (an :class:`~torch.nn.ModuleDict`), ``self.optimizers``
    (name -> optimiser) and optionally ``self.schedulers`` (name -> LR scheduler, stepped
    by the method itself), and implement :meth:`step`.
    """

    nets: nn.ModuleDict
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]

    @abc.abstractmethod
    def step(self, batch: dict[str, Any], ctx: "StepContext") -> Mapping[str, torch.Tensor | float]:
        """One training iteration on ``batch``; returns scalar losses/metrics to log."""

    def extra_state(self) -> dict:
        """Method state that is neither a module nor an optimiser (saved in checkpoints)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        del state


@dataclass
class StepContext:
    """What :meth:`Method.step` may use: device, precision, the step count and ``update``."""

    device: torch.device
    step: int = 0
    rank: int = 0
    world_size: int = 1
    amp: bool = True
    clip_grad: float | None = None
    grad_norms: dict[str, float] = field(default_factory=dict)
    _optimizers: Mapping[str, torch.optim.Optimizer] = field(default_factory=dict, repr=False)

    def autocast(self):
        """bf16 autocast on CUDA, no-op on CPU."""
        return runtime.autocast(self.device, enabled=self.amp)

    def update(self, optimizer: str, loss: torch.Tensor, *, retain_graph: bool = False) -> None:
        """Zero the optimiser's grads, back-propagate ``loss``, average grads over ranks, clip, step.

        Only the parameters owned by ``optimizer`` are zeroed and stepped, so gradients
        that ``loss`` leaves on other networks never leak into their next update.
        """
        try:
            opt = self._optimizers[optimizer]
        except KeyError:
            raise ValueError(f"unknown optimizer {optimizer!r}; the method has {sorted(self._optimizers)}") from None
        opt.zero_grad(set_to_none=True)
        loss.backward(retain_graph=retain_graph)
        params = [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
        if self.world_size > 1:
            _all_reduce_mean_grads(params, self.world_size)
        if self.clip_grad is not None:
            norm = torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], self.clip_grad)
            self.grad_norms[optimizer] = norm
        opt.step()


def _all_reduce_mean_grads(params: list[torch.nn.Parameter], world_size: int) -> None:
    """Average gradients across ranks in one flattened all-reduce (what DDP's reducer does).

    A parameter without a gradient on this rank contributes zeros; one without a gradient
    on *every* rank keeps ``grad=None``, so the optimiser skips it exactly as it would in a
    single process (Adam would otherwise move it with its momentum). One extra element per
    parameter carries that "has a gradient" flag inside the same all-reduce.
    """
    groups: dict[tuple[torch.device, torch.dtype], list[torch.nn.Parameter]] = {}
    for p in params:
        groups.setdefault((p.device, p.dtype), []).append(p)
    for (device, dtype), group in groups.items():
        flags = torch.tensor([0.0 if p.grad is None else 1.0 for p in group], device=device, dtype=dtype)
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in group]
        flat = torch._utils._flatten_dense_tensors([*grads, flags])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        *synced, seen = torch._utils._unflatten_dense_tensors(flat, [*grads, flags])
        for p, grad, value, flag in zip(group, grads, synced, seen.tolist()):
            if flag == 0:
                p.grad = None
                continue
            grad.copy_(value).div_(world_size)
            p.grad = grad


def _broadcast_from_rank0(nets: nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers (DDP does this at construction)."""
    tensors = [*nets.parameters(), *nets.buffers()]
    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t.data, src=0)


def _all_reduce_mean(values: dict[str, float], world_size: int, device: torch.device) -> dict[str, float]:
    """Mean of each logged value over the ranks (every rank gets the same numbers)."""
    if not values:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return dict(zip(values, (t / world_size).tolist()))


class EpochBatchSampler(Sampler[list[int]]):
    """Endless batches of indices; the order is a pure function of ``(seed, position)``.

    Epoch ``e`` is a permutation drawn from ``torch.Generator().manual_seed(seed + e)``;
    each global batch holds ``batch_size * world_size`` indices of which rank ``r`` takes
    the ``r``-th slice, so ranks never overlap and ``world_size`` ranks with batch ``b``
    see exactly the samples one process with batch ``world_size * b`` sees.
    ``start`` skips that many global batches (used on resume). Incomplete last batches
    of an epoch are dropped.
    """

    def __init__(self, n: int, batch_size: int, *, seed: int = 0, start: int = 0, rank: int = 0, world_size: int = 1):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        global_batch = batch_size * world_size
        if n < global_batch:
            raise ValueError(
                f"the dataset has {n} samples, fewer than one global batch ({batch_size} x {world_size} ranks); "
                "lower batch_size or use a larger split"
            )
        self.n, self.batch_size, self.seed, self.start = n, batch_size, seed, start
        self.rank, self.world_size = rank, world_size
        self.per_epoch = n // global_batch

    def __iter__(self) -> Iterator[list[int]]:
        position = self.start
        while True:
            epoch, k = divmod(position, self.per_epoch)
            perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + epoch))
            global_batch = self.batch_size * self.world_size
            lo = k * global_batch + self.rank * self.batch_size
            yield perm[lo : lo + self.batch_size].tolist()
            position += 1

    def __len__(self) -> int:  # DataLoader asks; the sampler itself is endless
        return 2**62


@dataclass
class FitResult:
    """What :func:`fit` returns: the final step, the last logged metrics and every evaluation."""

    step: int
    metrics: dict[str, float]
    evals: list[dict[str, Any]]
    run_dir: Path | None
    checkpoint: Path | None
    seconds: float
    resumed_from: int = 0


def distributed_env() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` from the variables ``torchrun`` sets (0, 0, 1 otherwise)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _init_distributed(device: torch.device) -> tuple[int, int]:
    rank, local_rank, world = distributed_env()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, world


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.dim() == 4 and batch.is_floating_point():
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device, channels_last) for v in batch)
    return batch


def _nonfinite(values: Mapping[str, float]) -> str | None:
    for name, value in values.items():
        if not math.isfinite(value):
            return f"loss {name!r} = {value}"
    return None


def _nonfinite_weights(nets: nn.Module) -> str | None:
    for name, p in nets.named_parameters():
        if not torch.isfinite(p).all():
            return f"weight {name!r} holds NaN/Inf"
    return None


def fit(
    method: Method,
    dataset: Dataset,
    *,
    steps: int,
    batch_size: int,
    run_dir: str | os.PathLike | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    ckpt_every: int = 0,
    log_every: int = 10,
    eval_every: int = 0,
    evaluate: Callable[[Method, int], Mapping[str, Any]] | None = None,
    clip_grad: float | None = None,
    num_workers: int = 0,
    resume: bool = True,
    progress: bool = True,
    desc: str = "train",
    amp: bool = True,
    channels_last: bool = True,
    collate_fn: Callable | None = None,
) -> FitResult:
    """Train ``method`` on ``dataset`` for ``steps`` iterations.

    Args:
        method: the paper's :class:`Method` (networks, optimisers, ``step``).
        dataset: a map-style dataset whose items are dicts (e.g. ``{"image": (C, H, W), ...}``).
        steps: total number of iterations (not epochs); a resumed run continues up to it.
        batch_size: per-process batch size.
        run_dir: where metrics (``metrics.jsonl``, ``evals.jsonl``) and ``checkpoint.pt`` go;
            ``None`` trains in memory without either.
        ckpt_every: write a checkpoint every this many steps (0: only at the end).
        log_every: average the step outputs over this many steps, log them and check them
            for NaN/Inf (the non-finite guard).
        eval_every: call ``evaluate(method, step)`` every this many steps and at the end.
        resume: continue from ``run_dir/checkpoint.pt`` when it exists.

    Raises:
        DivergenceError: a logged value or a weight became NaN/Inf. The last good
            checkpoint on disk is left untouched.
    """
    if steps < 0 or log_every < 1 or ckpt_every < 0 or eval_every < 0:
        raise ValueError(f"need steps >= 0, log_every >= 1, ckpt_every >= 0, eval_every >= 0; got "
                         f"steps={steps}, log_every={log_every}, ckpt_every={ckpt_every}, eval_every={eval_every}")
    device = runtime.pick_device(device)
    rank, world = _init_distributed(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", distributed_env()[1])
        torch.cuda.set_device(device)
    on_cuda = device.type == "cuda"
    use_cl = channels_last and on_cuda
    is_main = rank == 0
    run_dir = Path(run_dir) if run_dir is not None else None
    ckpt_path = run_dir / CHECKPOINT_NAME if run_dir is not None else None

    method.nets.to(device)
    if use_cl:
        method.nets.to(memory_format=torch.channels_last)
    method.nets.train()

    start = 0
    if resume and ckpt_path is not None and ckpt_path.exists():
        start = _restore(method, ckpt_path, device)
    if world > 1:
        dist.barrier()

    if is_main and run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        _truncate_log(run_dir / "metrics.jsonl", start)
        _truncate_log(run_dir / "evals.jsonl", start)

    sampler = EpochBatchSampler(len(dataset), batch_size, seed=seed, start=start, rank=rank, world_size=world)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, pin_memory=on_cuda,
                        persistent_workers=num_workers > 0, collate_fn=collate_fn,
                        # its own generator: creating the iterator must not consume the global RNG
                        generator=torch.Generator().manual_seed(seed))
    ctx = StepContext(device=device, rank=rank, world_size=world, amp=amp, clip_grad=clip_grad,
                      _optimizers=method.optimizers)

    t0 = time.perf_counter()
    pending: dict[str, list[torch.Tensor]] = {}
    last_metrics: dict[str, float] = {}
    evals: list[dict[str, Any]] = []
    last_good = start if ckpt_path is not None and ckpt_path.exists() else None
    step = start
    bar = tqdm(total=steps, initial=start, desc=desc, disable=not (progress and is_main), dynamic_ncols=True)
    batches = iter(loader)
    try:
        while step < steps:
            batch = _to_device(next(batches), device, use_cl)
            ctx.step = step
            out = method.step(batch, ctx)
            step += 1
            for k, v in out.items():
                pending.setdefault(k, []).append(v.detach().float() if isinstance(v, torch.Tensor) else torch.tensor(float(v)))
            bar.update(1)
            at_end = step == steps
            if step % log_every == 0 or at_end or (ckpt_every and step % ckpt_every == 0):
                last_metrics = {k: torch.stack(v).mean().item() for k, v in pending.items()}
                pending.clear()
                problem = _nonfinite(last_metrics)
                if problem:
                    raise DivergenceError(_divergence_message(desc, problem, step, ckpt_path, last_good))
                if is_main:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(last_metrics.items())[:4]})
                    if run_dir is not None:
                        _append_log(run_dir / "metrics.jsonl", {"step": step, **last_metrics})
            if evaluate is not None and ((eval_every and step % eval_every == 0) or at_end):
                method.nets.eval()
                with torch.no_grad():
                    result = {"step": step, **dict(evaluate(method, step))}
                method.nets.train()
                evals.append(result)
                if is_main and run_dir is not None:
                    _append_log(run_dir / "evals.jsonl", result)
            if ckpt_path is not None and ((ckpt_every and step % ckpt_every == 0) or at_end):
                problem = _nonfinite_weights(method.nets)
                if problem:
                    raise DivergenceError(_divergence_message(desc, problem, step, ckpt_path, last_good))
                if is_main:
                    _save(method, ckpt_path, step)
                last_good = step
                if world > 1:
                    dist.barrier()
    finally:
        bar.close()
    return FitResult(step=step, metrics=last_metrics, evals=evals, run_dir=run_dir,
                     checkpoint=ckpt_path if last_good is not None else None,
                     seconds=time.perf_counter() - t0, resumed_from=start)


def _divergence_message(desc: str, problem: str, step: int, ckpt: Path | None, last_good: int | None) -> str:
    kept = (f"The last good checkpoint {ckpt} (step {last_good}) was kept; resuming restarts from it."
            if last_good is not None else "No checkpoint had been written yet.")
    return (f"{desc}: training diverged at step {step}: {problem}. {kept} "
            "Lower the learning rate, set clip_grad, or check the inputs for NaN.")


def _save(method: Method, path: Path, step: int) -> None:
    save_checkpoint(
        {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "nets": method.nets.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in method.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in getattr(method, "schedulers", {}).items()},
            "extra": method.extra_state(),
            "rng": runtime.rng_state(),
        },
        path,
    )


def _restore(method: Method, path: Path, device: torch.device) -> int:
    state = load_checkpoint(path, map_location=device)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a fer-book training checkpoint (format {state.get('format')!r})")
    method.nets.load_state_dict(state["nets"])
    for name, opt in method.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    for name, sched in getattr(method, "schedulers", {}).items():
        sched.load_state_dict(state["schedulers"][name])
    method.load_extra_state(state.get("extra", {}))
    rng = state["rng"]
    rng["torch"] = rng["torch"].cpu()
    runtime.set_rng_state(rng)
    return int(state["step"])


def _append_log(path: Path, row: Mapping[str, Any]) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row, default=float) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows past ``step`` so a resumed run's log reads as if it never stopped."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    atomic_write_bytes(path, "".join(r + "\n" for r in rows).encode())
