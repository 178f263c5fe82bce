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
all-reduce does not overlap with the backward pass. The arithmetic itself (gradient and
buffer averaging, rank streams) lives in :mod:`fer_core.distributed`; see ``book/distributed.md``.

:func:`fit` reads as its steps: :func:`_setup` (device, process group, networks),
:func:`_resume` (checkpoint), :func:`_loader` (batches), then the loop, with logging and
the non-finite guard in :class:`_Log` and checkpoints in :class:`_Checkpoints`.
"""

from __future__ import annotations

import abc
import contextlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from fer_core import distributed, runtime
from fer_core.data.memory import MemoryCachedDataset
from fer_core.io import atomic_write_bytes, atomic_write_json, load_checkpoint, save_checkpoint
from fer_core.progress import tqdm

__all__ = ["Method", "StepContext", "fit", "FitResult", "DivergenceError", "EpochBatchSampler", "prepare_nets",
           "make_adam", "cosine_decay", "sgd_with_steps", "amp_supported", "channels_last_pays", "cpu_has_native_bf16", "CPU_BF16_ENV", "finished_step",
           "snapshot_path", "CHECKPOINT_NAME", "CHECKPOINT_FORMAT"]

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

    def update(self, optimizer: str | tuple[str, ...], loss: torch.Tensor, *, retain_graph: bool = False) -> None:
        """Zero the optimiser's grads, back-propagate ``loss``, average grads over ranks, clip, step.

        Only the parameters owned by ``optimizer`` are zeroed and stepped, so gradients
        that ``loss`` leaves on other networks never leak into their next update.
        ``optimizer`` may name several optimisers (a tuple): one backward of ``loss`` then
        steps each of them, as one objective trained end to end over networks that keep
        optimisers of their own (different rates or kinds).
        """
        names = (optimizer,) if isinstance(optimizer, str) else tuple(optimizer)
        opts = []
        for name in names:
            try:
                opts.append(self._optimizers[name])
            except KeyError:
                raise ValueError(f"unknown optimizer {name!r}; the method has {sorted(self._optimizers)}") from None
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        loss.backward(retain_graph=retain_graph)
        for name, opt in zip(names, opts):
            params = [p for group in opt.param_groups for p in group["params"] if p.requires_grad]
            if self.world_size > 1:
                distributed.all_reduce_mean_grads(params, self.world_size)
            if self.clip_grad is not None:
                norm = torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], self.clip_grad)
                self.grad_norms[name] = norm
            opt.step()


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


def cosine_decay(optimizer: torch.optim.Optimizer, updates: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate falls from its value to 0 along a half cosine over ``updates`` updates (then stays 0).

    The papers train with constant rates; with the few hundred updates of a CPU profile a constant
    rate leaves the final accuracy at the mercy of the last noisy steps, and decaying it makes
    runs comparable. Chapters that use it list it among their deviations."""
    if updates < 1:
        raise ValueError(f"updates must be >= 1, got {updates}")
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda u: 0.5 * (1 + math.cos(math.pi * min(u, updates) / updates)))


def sgd_with_steps(params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float, weight_decay: float,
                   step: int, gamma: float) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.StepLR]:
    """SGD with momentum whose rate is multiplied by ``gamma`` every ``step`` updates (LightCNN's
    schedule, used by Fa-Net and Comp-GAN's F_cls)."""
    sgd = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return sgd, torch.optim.lr_scheduler.StepLR(sgd, step, gamma)


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


@dataclass
class _Run:
    """Where and how one :func:`fit` call trains (filled in by :func:`_setup`)."""

    device: torch.device
    rank: int
    world: int
    channels_last: bool
    run_dir: Path | None
    desc: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def checkpoint(self) -> Path | None:
        return self.run_dir / CHECKPOINT_NAME if self.run_dir is not None else None


def _setup(method: Method, device: str | torch.device, run_dir: str | os.PathLike | None, *, channels_last: bool,
           compile: bool | Mapping[str, Any], sync_batchnorm: bool, desc: str) -> _Run:
    """Pick the device, join a torchrun process group, and put the networks on the device."""
    device = runtime.pick_device(device)
    rank, world = distributed.init(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", distributed.env()[1])
        torch.cuda.set_device(device)
    if sync_batchnorm and world > 1 and device.type != "cuda":
        raise ValueError("sync_batchnorm=True needs CUDA (SyncBatchNorm has no CPU kernel); "
                         "train on GPUs or leave sync_batchnorm off")
    run = _Run(device=device, rank=rank, world=world, channels_last=channels_last and channels_last_pays(device),
               run_dir=Path(run_dir) if run_dir is not None else None, desc=desc)
    prepare_nets(method, device, channels_last=run.channels_last, compile=compile,
                 sync_batchnorm=sync_batchnorm and world > 1)
    return run


def _resume(method: Method, run: _Run, *, resume: bool, seed: int, steps: int) -> int:
    """Restore the checkpoint when there is one; give every rank the same start. Returns the start step."""
    start, resuming = 0, resume and run.checkpoint is not None and run.checkpoint.exists()
    if resuming:
        start = _restore(method, run.checkpoint, run.device, rank=run.rank, world=run.world, seed=seed, steps=steps)
    if run.world > 1:
        distributed.check_same_start(start, run.world, run.device, run.checkpoint)
        distributed.broadcast_from_rank0(method.nets)
        if not resuming and run.rank > 0:
            distributed.seed_rank_stream(seed, run.rank)
    if run.is_main and run.run_dir is not None:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        _truncate_log(run.run_dir / "metrics.jsonl", start)
        _truncate_log(run.run_dir / "evals.jsonl", start)
    return start


def _loader(dataset: Dataset, run: _Run, *, batch_size: int, seed: int, start: int, num_workers: int,
            collate_fn: Callable | None) -> Iterator[Any]:
    """Endless batches from ``start`` on (see :class:`EpochBatchSampler`), already on the device."""
    resident = bool(getattr(dataset, "is_device_resident", False))
    sampler = EpochBatchSampler(len(dataset), batch_size, seed=seed, start=start, rank=run.rank, world_size=run.world)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=0 if resident else num_workers,
                        pin_memory=run.device.type == "cuda" and not resident,
                        persistent_workers=num_workers > 0 and not resident,
                        collate_fn=collate_fn or (MemoryCachedDataset.collate if resident else None),
                        # its own generator: creating the iterator must not consume the global RNG
                        generator=torch.Generator().manual_seed(seed))
    return (_to_device(batch, run.device, run.channels_last) for batch in loader)


class _Checkpoints:
    """Checkpoint writing with the non-finite guard; remembers the last good step."""

    def __init__(self, method: Method, run: _Run, *, every: int, start: int, keep: tuple[int, ...] = ()):
        self.method, self.run, self.every, self.keep = method, run, every, tuple(int(k) for k in keep)
        self.last_good = start if run.checkpoint is not None and run.checkpoint.exists() else None

    def scheduled(self, step: int) -> bool:
        """Whether ``ckpt_every`` or ``keep`` asks for a checkpoint at ``step`` (the end of a run always
        writes one)."""
        return bool(self.every and step % self.every == 0) or step in self.keep

    def fail(self, problem: str, step: int) -> DivergenceError:
        return DivergenceError(_divergence_message(self.run.desc, problem, step, self.run.checkpoint, self.last_good))

    def save(self, step: int) -> None:
        problem = _nonfinite_weights(self.method.nets)
        if problem:
            raise self.fail(problem, step)
        run, rng_ranks = self.run, None
        if run.world > 1:
            distributed.broadcast_buffers(self.method.nets)
            rng_ranks = distributed.gather_objects(runtime.rng_state(), run.world)
        if run.is_main:
            _save(self.method, run.checkpoint, step, rng_ranks=rng_ranks)
            if step in self.keep:  # a snapshot that later checkpoints do not overwrite
                _save(self.method, snapshot_path(run.run_dir, step), step, rng_ranks=rng_ranks)
        self.last_good = step
        if run.world > 1:
            distributed.barrier()


class _Log:
    """Averages step outputs over ``every`` steps, checks them for NaN/Inf, logs and reports them."""

    def __init__(self, run: _Run, checkpoints: _Checkpoints, *, every: int, steps: int, start: int, progress: bool,
                 on_log: Callable[[int, int, Mapping[str, float]], None] | None):
        self.run, self.checkpoints, self.every, self.steps, self.on_log = run, checkpoints, every, steps, on_log
        self.pending: dict[str, list[torch.Tensor]] = {}
        self.last: dict[str, float] = {}
        self.bar = tqdm(total=steps, initial=start, desc=run.desc, disable=not (progress and run.is_main),
                        dynamic_ncols=True)

    def record(self, out: Mapping[str, Any], step: int, *, flush: bool) -> None:
        for k, v in out.items():
            self.pending.setdefault(k, []).append(v.detach().float() if isinstance(v, torch.Tensor)
                                                  else torch.tensor(float(v)))
        self.bar.update(1)
        if flush or step % self.every == 0:
            self._flush(step)

    def _flush(self, step: int) -> None:
        run = self.run
        self.last = {k: torch.stack(v).mean().item() for k, v in self.pending.items()}
        self.pending.clear()
        if run.world > 1:  # every rank then sees the same values, so all stop together on NaN
            self.last = distributed.all_reduce_mean(self.last, run.world, run.device)
        problem = _nonfinite(self.last)
        if problem:
            raise self.checkpoints.fail(problem, step)
        if run.is_main:
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in list(self.last.items())[:4]})
            if run.run_dir is not None:
                _append_log(run.run_dir / "metrics.jsonl", {"step": step, **self.last})
            if self.on_log is not None:
                self.on_log(step, self.steps, self.last)

    def close(self) -> None:
        self.bar.close()


def _evaluate(method: Method, evaluate: Callable[[Method, int], Mapping[str, Any]], step: int,
              run: _Run) -> dict[str, Any]:
    if run.world > 1:
        distributed.broadcast_buffers(method.nets)
    method.nets.eval()
    with torch.no_grad():
        result = {"step": step, **dict(evaluate(method, step))}
    method.nets.train()
    if run.is_main and run.run_dir is not None:
        _append_log(run.run_dir / "evals.jsonl", result)
    return result


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
    on_log: Callable[[int, int, Mapping[str, float]], None] | None = None,
    keep: tuple[int, ...] = (),
) -> FitResult:
    """Train ``method`` on ``dataset`` for ``steps`` iterations.

    Runs unchanged under ``torchrun --nproc_per_node N``: each rank trains on its own
    slice of every global batch (``batch_size`` per rank), gradients are averaged over the
    ranks at every optimiser update, logged values are averaged over the ranks, and only
    rank 0 writes logs and checkpoints. Every rank resumes from the same checkpoint.

    Args:
        method: the paper's :class:`Method` (networks, optimisers, ``step``).
        dataset: a map-style dataset whose items are dicts (e.g. ``{"image": (C, H, W), ...}``),
            or a :class:`~fer_core.data.memory.MemoryCachedDataset`.
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
        on_log: called on rank 0 as ``on_log(step, steps, values)`` whenever values are
            logged (the experiment runner's progress lines come from it).
        keep: steps whose checkpoint is also kept as ``checkpoint-<step>.pt`` (:func:`snapshot_path`),
            e.g. to evaluate a run part-way without training it twice.

    Raises:
        DivergenceError: a logged value or a weight became NaN/Inf. The last good
            checkpoint on disk is left untouched.
    """
    if steps < 0 or log_every < 1 or ckpt_every < 0 or eval_every < 0:
        raise ValueError(f"need steps >= 0, log_every >= 1, ckpt_every >= 0, eval_every >= 0; got "
                         f"steps={steps}, log_every={log_every}, ckpt_every={ckpt_every}, eval_every={eval_every}")
    run = _setup(method, device, run_dir, channels_last=channels_last, compile=compile, sync_batchnorm=sync_batchnorm,
                 desc=desc)
    start = _resume(method, run, resume=resume, seed=seed, steps=steps)
    batches = _loader(dataset, run, batch_size=batch_size, seed=seed, start=start, num_workers=num_workers,
                      collate_fn=collate_fn)
    ctx = StepContext(device=run.device, rank=run.rank, world_size=run.world, amp=amp and amp_supported(run.device),
                      clip_grad=clip_grad, _optimizers=method.optimizers, cpu_amp=amp_supported(run.device))
    if keep and run.checkpoint is None:
        raise ValueError("keep= needs a run_dir to write the snapshots into")
    checkpoints = _Checkpoints(method, run, every=ckpt_every, start=start, keep=keep)
    log = _Log(run, checkpoints, every=log_every, steps=steps, start=start, progress=progress, on_log=on_log)
    evals: list[dict[str, Any]] = []
    t0, step = time.perf_counter(), start
    try:
        while step < steps:
            ctx.step = step
            out = method.step(next(batches), ctx)
            step += 1
            at_end = step == steps
            log.record(out, step, flush=at_end or checkpoints.scheduled(step))
            if evaluate is not None and (at_end or (eval_every and step % eval_every == 0)):
                evals.append(_evaluate(method, evaluate, step, run))
            if run.checkpoint is not None and (at_end or checkpoints.scheduled(step)):
                checkpoints.save(step)
        if run.world > 1:
            distributed.broadcast_buffers(method.nets)  # every rank returns the same model
    finally:
        log.close()
    return FitResult(step=step, metrics=log.last, evals=evals, run_dir=run.run_dir,
                     checkpoint=run.checkpoint if checkpoints.last_good is not None else None,
                     seconds=time.perf_counter() - t0, resumed_from=start)


def snapshot_path(run_dir: str | os.PathLike, step: int) -> Path:
    """Where :func:`fit` keeps the checkpoint of ``step`` asked for with ``keep=``."""
    return Path(run_dir) / f"checkpoint-{int(step)}.pt"


def compact_checkpoint(path: str | os.PathLike) -> int:
    """Drop the optimiser and scheduler states from a finished run's checkpoint (file or run folder).

    A finished run is only ever reloaded for its weights, and Adam's two moments per weight make
    up two thirds of a checkpoint. The compacted file (written atomically) still reloads with
    :func:`fit` at its final step; training past that step raises, naming the file. Returns the
    bytes saved (0 when there is no checkpoint or it was compacted already)."""
    path = Path(path)
    path = path / CHECKPOINT_NAME if path.is_dir() else path
    if not path.exists():
        return 0
    before = path.stat().st_size
    state = load_checkpoint(path)
    if state.get("compact"):
        return 0
    state.update(optimizers={}, schedulers={}, compact=True)
    save_checkpoint(state, path)
    atomic_write_json(path.with_suffix(".json"), {"step": int(state["step"]), "format": CHECKPOINT_FORMAT})
    return max(0, before - path.stat().st_size)


def finished_step(path: str | os.PathLike) -> int:
    """The step a checkpoint (file or run folder) was written at; -1 when there is none.

    Reads the small ``checkpoint.json`` written beside every checkpoint (the checkpoint itself
    when an older run left none)."""
    path = Path(path)
    path = path / CHECKPOINT_NAME if path.is_dir() or not path.suffix else path
    if not path.exists():
        return -1
    side = path.with_suffix(".json")
    if side.exists() and side.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        return int(json.loads(side.read_text())["step"])
    return int(load_checkpoint(path).get("step", -1))


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
    atomic_write_json(path.with_suffix(".json"), {"step": step, "format": CHECKPOINT_FORMAT})


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
    if state.get("compact"):  # weights only: fine for reloading a finished run, not for training on
        if steps is None or int(state["step"]) < steps:
            raise ValueError(f"{path} holds only the final weights of a finished run (step {state['step']}; its "
                             "optimiser states were dropped to save disk), so training cannot continue from it. "
                             f"Delete {path.parent} to train this run again.")
    else:
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
        distributed.seed_rank_stream(seed + step, rank)
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
