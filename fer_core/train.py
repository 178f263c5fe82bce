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
import contextlib
import json
import math
import os
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from fer_core import runtime
from fer_core.io import atomic_write_bytes, load_checkpoint, save_checkpoint
from fer_core.progress import tqdm

__all__ = ["Method", "StepContext", "fit", "FitResult", "DivergenceError", "EpochBatchSampler", "distributed_env",
           "prepare_nets", "make_adam", "GPUCachedDataset", "amp_supported", "channels_last_pays",
           "cpu_has_native_bf16", "CPU_BF16_ENV"]

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
    cpu_amp: bool = False

    def autocast(self):
        """bf16 autocast on CUDA; on CPU only with ``cpu_amp`` (opt-in, see :func:`amp_supported`)."""
        if self.device.type == "cpu":
            if self.amp and self.cpu_amp:
                return torch.autocast("cpu", dtype=torch.bfloat16)
            return contextlib.nullcontext()
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
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)  # before init, so NCCL binds each rank to its own GPU
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, world


def _seed_rank_stream(seed: int, rank: int) -> None:
    """Give rank ``rank`` its own random stream, so ranks draw different noise and dropout masks."""
    derived = (seed * 1_000_003 + 7_919 * rank) % 2**31
    random.seed(derived)
    np.random.seed(derived)
    torch.manual_seed(derived)


CPU_BF16_ENV = "FER_CPU_BF16"


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX); emulated bf16 is slow."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_supported(device: torch.device | str) -> bool:
    """Whether :func:`fit` uses bf16 autocast on ``device``.

    - CUDA: when the GPU has native bf16 (compute capability >= 8.0). Older GPUs (the T4
      of free Colab, V100) only emulate bf16, which is slower than fp32, so they train in fp32.
    - CPU: only when asked for with ``FER_CPU_BF16=1`` *and* the CPU has native bf16
      (:func:`cpu_has_native_bf16`). Opt-in because it changes the numbers a chapter
      prints on a CPU, and a run on another CPU without bf16 would then differ more.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return os.environ.get(CPU_BF16_ENV, "") == "1" and cpu_has_native_bf16()
    return False


def channels_last_pays(device: torch.device | str) -> bool:
    """Whether :func:`fit` stores conv weights and image batches as NHWC on ``device``.

    On CUDA always (cuDNN's tensor-core convolutions are NHWC); on CPU as well, where
    oneDNN's convolutions are NHWC too (``fer bench`` measures what it brings).
    """
    return torch.device(device).type in ("cuda", "cpu")


def prepare_nets(method: Method, device: torch.device, *, channels_last: bool = False,
                 compile: bool | Mapping[str, Any] = False, sync_batchnorm: bool = False) -> None:
    """Move ``method.nets`` to ``device`` and set them up the way :func:`fit` trains them.

    ``fer bench`` calls this too, so a benchmark measures exactly the loop's set-up.

    Args:
        method: its ``nets`` are modified in place (the optimisers keep their parameters).
        channels_last: store 4-D weights as NHWC, the layout cuDNN's fast convolutions use.
        compile: ``torch.compile`` each network in place (``nn.Module.compile``, so
            state-dict keys and checkpoints do not change); a mapping is passed on as
            compile options, e.g. ``{"mode": "max-autotune"}``.
        sync_batchnorm: replace every BatchNorm layer by :class:`~torch.nn.SyncBatchNorm`,
            which normalises with the statistics of the *global* batch (CUDA only).
    """
    if sync_batchnorm:
        for name in list(method.nets.keys()):
            # convert_sync_batchnorm re-uses the weight/bias Parameters, so optimisers stay valid
            method.nets[name] = nn.SyncBatchNorm.convert_sync_batchnorm(method.nets[name])
    method.nets.to(device)
    if channels_last:
        method.nets.to(memory_format=torch.channels_last)
    if compile:
        options = dict(compile) if isinstance(compile, Mapping) else {}
        for net in method.nets.values():
            net.compile(**options)
    method.nets.train()


def make_adam(params: Iterable[torch.nn.Parameter] | Iterable[dict], *, lr: float,
              betas: tuple[float, float] = (0.9, 0.999), weight_decay: float = 0.0,
              device: str | torch.device = "cpu", decoupled: bool = False) -> torch.optim.Optimizer:
    """Adam (or AdamW with ``decoupled=True``) with the fastest update kernel for ``device``.

    The fused implementation (one kernel for all parameters) on CUDA and on CPU; it
    computes the same update as the default one up to float rounding.

    Args:
        params: parameters or parameter groups, as for :class:`torch.optim.Adam`.
        device: where the parameters will live when the optimiser steps (``fit`` moves
            the networks after the method built its optimisers).
    """
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
        raise ValueError(f"betas must lie in [0, 1), got {betas}")
    kind = torch.optim.AdamW if decoupled else torch.optim.Adam
    device = runtime.pick_device(device)
    fused = device.type in ("cuda", "cpu")
    return kind(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=fused or None)


class GPUCachedDataset(Dataset):
    """A small dataset collated once and kept on ``device`` (GPU memory, or RAM on CPU).

    Each epoch then costs one ``index_select`` per batch instead of decoding, rendering
    and copying every sample. :func:`fit` recognises it (``is_device_resident``) and
    turns off worker processes and pinned memory, which do not apply to device tensors.
    Items are the wrapped dataset's items with every value collated by
    :func:`torch.utils.data.default_collate` (numbers become 0-d tensors).

    Args:
        dataset: a map-style dataset of dicts, e.g. a :class:`~fer_core.data.base.FaceDataset`.
        device: where to keep the tensors (``"auto"``: CUDA when present).
        max_bytes: refuse datasets larger than this (default 4 GiB) with a ``ValueError``.
        batch_size: how many items are read and collated at a time while caching.
    """

    is_device_resident = True

    def __init__(self, dataset: Dataset, device: str | torch.device = "auto", *, max_bytes: int = 4 * 2**30,
                 batch_size: int = 256, num_workers: int = 0):
        self.device = runtime.pick_device(device)
        n = len(dataset)  # type: ignore[arg-type]
        if n == 0:
            raise ValueError("GPUCachedDataset: the dataset is empty")
        parts: dict[str, list[Any]] = {}
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                            generator=torch.Generator().manual_seed(0))  # leaves the global RNG alone
        seen = 0
        for batch in loader:
            if not isinstance(batch, Mapping):
                raise ValueError(f"GPUCachedDataset needs items that are dicts, got {type(batch).__name__}")
            for key, value in batch.items():
                parts.setdefault(key, []).append(value)
            seen += len(next(iter(batch.values())))
            nbytes = sum(v.element_size() * v.numel() for vs in parts.values() for v in vs
                         if isinstance(v, torch.Tensor))
            if nbytes * n / seen > max_bytes:
                raise ValueError(
                    f"GPUCachedDataset: the {n} items would take about {nbytes * n / seen / 2**30:.1f} GiB, more than "
                    f"max_bytes={max_bytes / 2**30:.1f} GiB; stream this dataset from the DataLoader instead "
                    "or raise max_bytes"
                )
        self.data: dict[str, Any] = {
            k: torch.cat(vs).to(self.device) if isinstance(vs[0], torch.Tensor) else [x for v in vs for x in v]
            for k, vs in parts.items()
        }
        self.n = n
        for attr in ("classes", "meta"):
            if hasattr(dataset, attr):
                setattr(self, attr, getattr(dataset, attr))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {k: v[i] for k, v in self.data.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        """A whole batch at once (the DataLoader's batched fetch); already collated."""
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.device)
        return {k: v.index_select(0, idx) if isinstance(v, torch.Tensor) else [v[i] for i in indices]
                for k, v in self.data.items()}

    @staticmethod
    def collate(batch: Any) -> Any:
        """Identity: :meth:`__getitems__` returns a collated batch."""
        return batch


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


def _broadcast_buffers(nets: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) to every rank, as DDP's ``broadcast_buffers``."""
    with torch.no_grad():
        for b in nets.buffers():
            dist.broadcast(b.data, src=0)


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
    compile: bool | Mapping[str, Any] = False,
    sync_batchnorm: bool = False,
) -> FitResult:
    """Train ``method`` on ``dataset`` for ``steps`` iterations.

    Runs unchanged under ``torchrun --nproc_per_node N``: each rank trains on its own
    slice of every global batch (``batch_size`` per rank), gradients are averaged over the
    ranks at every optimiser update, logged values are averaged over the ranks, and only
    rank 0 writes logs and checkpoints. Every rank resumes from the same checkpoint.

    Args:
        method: the paper's :class:`Method` (networks, optimisers, ``step``).
        dataset: a map-style dataset whose items are dicts (e.g. ``{"image": (C, H, W), ...}``),
            or a :class:`GPUCachedDataset`.
        steps: total number of iterations (not epochs); a resumed run continues up to it.
        batch_size: per-process batch size (the global batch is ``batch_size * world_size``).
        run_dir: where metrics (``metrics.jsonl``, ``evals.jsonl``) and ``checkpoint.pt`` go;
            ``None`` trains in memory without either.
        ckpt_every: write a checkpoint every this many steps (0: only at the end).
        log_every: average the step outputs over this many steps, log them and check them
            for NaN/Inf (the non-finite guard).
        eval_every: call ``evaluate(method, step)`` every this many steps and at the end
            (on every rank; rank 0 logs the result).
        resume: continue from ``run_dir/checkpoint.pt`` when it exists.
        amp: bf16 autocast inside ``ctx.autocast()`` where it pays (:func:`amp_supported`:
            Ampere or newer GPUs; CPUs only with ``FER_CPU_BF16=1``).
        channels_last: NHWC weights and image batches (:func:`channels_last_pays`).
        compile: ``torch.compile`` every network (off by default: compilation takes tens
            of seconds per network and pays only on long GPU runs; see ``fer bench``).
        sync_batchnorm: with several CUDA ranks, turn BatchNorm into SyncBatchNorm so the
            statistics are those of the global batch (default: each rank normalises with
            its own slice, as DDP does).

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
    if sync_batchnorm and world > 1 and not on_cuda:
        raise ValueError("sync_batchnorm=True needs CUDA (SyncBatchNorm has no CPU kernel); "
                         "train on GPUs or leave sync_batchnorm off")
    use_cl = channels_last and channels_last_pays(device)
    is_main = rank == 0
    run_dir = Path(run_dir) if run_dir is not None else None
    ckpt_path = run_dir / CHECKPOINT_NAME if run_dir is not None else None

    prepare_nets(method, device, channels_last=use_cl, compile=compile, sync_batchnorm=sync_batchnorm and world > 1)

    start = 0
    resuming = resume and ckpt_path is not None and ckpt_path.exists()
    if resuming:
        start = _restore(method, ckpt_path, device, rank=rank, world=world, seed=seed, steps=steps)
    if world > 1:
        _check_same_start(start, world, device, ckpt_path)
        _broadcast_from_rank0(method.nets)
        if not resuming and rank > 0:
            _seed_rank_stream(seed, rank)

    if is_main and run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        _truncate_log(run_dir / "metrics.jsonl", start)
        _truncate_log(run_dir / "evals.jsonl", start)

    resident = bool(getattr(dataset, "is_device_resident", False))
    sampler = EpochBatchSampler(len(dataset), batch_size, seed=seed, start=start, rank=rank, world_size=world)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=0 if resident else num_workers,
                        pin_memory=on_cuda and not resident, persistent_workers=num_workers > 0 and not resident,
                        collate_fn=collate_fn or (GPUCachedDataset.collate if resident else None),
                        # its own generator: creating the iterator must not consume the global RNG
                        generator=torch.Generator().manual_seed(seed))
    ctx = StepContext(device=device, rank=rank, world_size=world, amp=amp and amp_supported(device),
                      clip_grad=clip_grad, _optimizers=method.optimizers, cpu_amp=amp_supported(device))

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
                if world > 1:  # every rank then sees the same values, so all stop together on NaN
                    last_metrics = _all_reduce_mean(last_metrics, world, device)
                problem = _nonfinite(last_metrics)
                if problem:
                    raise DivergenceError(_divergence_message(desc, problem, step, ckpt_path, last_good))
                if is_main:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(last_metrics.items())[:4]})
                    if run_dir is not None:
                        _append_log(run_dir / "metrics.jsonl", {"step": step, **last_metrics})
            if evaluate is not None and ((eval_every and step % eval_every == 0) or at_end):
                if world > 1:
                    _broadcast_buffers(method.nets)
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
                rng_ranks = None
                if world > 1:
                    _broadcast_buffers(method.nets)
                    rng_ranks = [None] * world
                    dist.all_gather_object(rng_ranks, runtime.rng_state())
                if is_main:
                    _save(method, ckpt_path, step, rng_ranks=rng_ranks)
                last_good = step
                if world > 1:
                    dist.barrier()
        if world > 1:
            _broadcast_buffers(method.nets)  # every rank returns the same model
    finally:
        bar.close()
    return FitResult(step=step, metrics=last_metrics, evals=evals, run_dir=run_dir,
                     checkpoint=ckpt_path if last_good is not None else None,
                     seconds=time.perf_counter() - t0, resumed_from=start)


def _check_same_start(start: int, world: int, device: torch.device, ckpt: Path | None) -> None:
    mine = torch.tensor([start], dtype=torch.long, device=device)
    starts = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(starts, mine)
    found = [int(s.item()) for s in starts]
    if len(set(found)) > 1:
        raise ValueError(
            f"the ranks would resume from different steps {found}: {ckpt} must be on a file system that every "
            "rank sees (run all ranks on one machine, or put run_dir on shared storage)"
        )


def _divergence_message(desc: str, problem: str, step: int, ckpt: Path | None, last_good: int | None) -> str:
    kept = (f"The last good checkpoint {ckpt} (step {last_good}) was kept; resuming restarts from it."
            if last_good is not None else "No checkpoint had been written yet.")
    return (f"{desc}: training diverged at step {step}: {problem}. {kept} "
            "Lower the learning rate, set clip_grad, or check the inputs for NaN.")


def _save(method: Method, path: Path, step: int, *, rng_ranks: list[dict] | None = None) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "nets": method.nets.state_dict(),
        "optimizers": {k: o.state_dict() for k, o in method.optimizers.items()},
        "schedulers": {k: s.state_dict() for k, s in getattr(method, "schedulers", {}).items()},
        "extra": method.extra_state(),
        "rng": runtime.rng_state(),
        "world_size": 1 if rng_ranks is None else len(rng_ranks),
    }
    if rng_ranks is not None:
        state["rng_ranks"] = rng_ranks
    save_checkpoint(state, path)


def _rng_to_cpu(rng: Any) -> Any:
    """RNG states loaded with ``map_location=cuda`` back on the CPU, where the setters want them."""
    if isinstance(rng, torch.Tensor):
        return rng.cpu()
    if isinstance(rng, dict):
        return {k: _rng_to_cpu(v) for k, v in rng.items()}
    if isinstance(rng, list):
        return [_rng_to_cpu(v) for v in rng]
    return rng


def _restore(method: Method, path: Path, device: torch.device, *, rank: int = 0, world: int = 1, seed: int = 0,
             steps: int | None = None) -> int:
    state = load_checkpoint(path, map_location=device)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a fer-book training checkpoint (format {state.get('format')!r})")
    method.nets.load_state_dict(state["nets"])
    for name, opt in method.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    for name, sched in getattr(method, "schedulers", {}).items():
        sched.load_state_dict(state["schedulers"][name])
    method.load_extra_state(state.get("extra", {}))
    step = int(state["step"])
    saved_world = int(state.get("world_size", 1))
    rng_ranks = state.get("rng_ranks")
    if rng_ranks is not None and len(rng_ranks) == world:
        runtime.set_rng_state(_rng_to_cpu(rng_ranks[rank]))
    elif rank == 0:
        runtime.set_rng_state(_rng_to_cpu(state["rng"]))
    else:
        _seed_rank_stream(seed + step, rank)
    if saved_world != world and rank == 0 and (steps is None or step < steps):  # a finished run is only reloaded
        warnings.warn(
            f"{path} was written by a run with {saved_world} process(es), resumed with {world}: training "
            "continues, but the data order and random streams differ from an uninterrupted run",
            stacklevel=3,
        )
    return step


def _append_log(path: Path, row: Mapping[str, Any]) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row, default=float) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows past ``step`` so a resumed run's log reads as if it never stopped."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    atomic_write_bytes(path, "".join(r + "\n" for r in rows).encode())
