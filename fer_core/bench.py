"""``fer bench``: throughput of every method's training step, the loop's fast path against plain eager fp32.

For each registered benchmark the same model is stepped twice over, in one run:

- **eager fp32** -- contiguous (NCHW) tensors, fp32, PyTorch's default optimiser kernels
  (not fused), no compilation: the training step as PyTorch runs it out of the box;
- **fast** -- exactly what :func:`fer_core.train.fit` does on the device
  (:func:`~fer_core.train.prepare_nets`, bf16 autocast where :func:`~fer_core.train.amp_supported`,
  channels_last on CUDA, the method's own optimisers, fused when built with
  :func:`~fer_core.train.make_adam`; ``torch.compile`` only when asked).

Each row reports the median step time over repetitions, images/s, the speed-up ratio,
the peak memory (CUDA: ``torch.cuda.max_memory_allocated``; CPU: growth of the resident
set, approximate), a device-independent fp32 memory estimate (model and optimiser state
plus the tensors autograd saves for backward; see :func:`_probe_step`), the FLOPs of one step (counted with
:class:`torch.utils.flop_counter.FlopCounterMode` on the eager step), the achieved
TFLOP/s and, on a GPU whose peak is known, the fraction of its peak (MFU). Timings are
never asserted by tests: they depend on the machine and on what else runs on it.

A method registers its step with :func:`register_bench`; the factory gets a
:class:`BenchConfig` (image size, batch size, device) and returns a :class:`BenchCase`
(a :class:`~fer_core.train.Method` and one batch).
"""

from __future__ import annotations

import datetime as _dt
import gc
import importlib
import inspect
import math
import os
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from fer_core import runtime
from fer_core.io import atomic_write_json
from fer_core.train import (Method, StepContext, _to_device, amp_supported, channels_last_pays, cpu_has_native_bf16,
                             make_adam, prepare_nets)

__all__ = ["BenchConfig", "BenchCase", "BenchSpec", "BenchRow", "register_bench", "benches", "measure", "run_bench",
           "image_batch", "format_table", "peak_tflops", "METHOD_MODULES"]



def _method_bench_modules() -> tuple[str, ...]:
    """``fer_core.methods.<paper>.bench`` of every paper package that has one: each registers its
    method's step with :func:`register_bench` when imported."""
    import pkgutil

    import fer_core.methods as methods

    return tuple(f"{methods.__name__}.{m.name}.bench" for m in pkgutil.iter_modules(methods.__path__)
                 if m.ispkg and (Path(methods.__path__[0]) / m.name / "bench.py").exists())


METHOD_MODULES: tuple[str, ...] = _method_bench_modules()

# Dense bf16 tensor-core peaks (TFLOP/s) from the vendors' data sheets, matched against
# torch.cuda.get_device_name(); more specific names first. Override with $FER_PEAK_TFLOPS.
_BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0),
    ("A10", 125.0), ("RTX 4090", 165.0),
)
# fp32 peaks of GPUs without native bf16, where the loop trains in fp32.
_FP32_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (("T4", 8.1), ("V100", 15.7), ("P100", 9.3))


@dataclass(frozen=True)
class BenchConfig:
    """What a benchmark factory builds for: ``profile`` is ``"quick"`` or ``"paper"``."""

    profile: str
    size: int
    batch_size: int
    device: torch.device


@dataclass
class BenchCase:
    """A method and one batch (on the CPU; the bench moves it); ``images`` per step defaults to the batch size."""

    method: Method
    batch: dict[str, Any]
    images: int | None = None


@dataclass(frozen=True)
class BenchSpec:
    name: str
    factory: Callable[[BenchConfig], BenchCase]
    quick: tuple[int, int]  # (size, batch_size)
    paper: tuple[int, int]
    description: str = ""


@dataclass
class BenchRow:
    """One line of the table (times in ms, memory in MiB, FLOPs per step in GFLOP)."""

    name: str
    profile: str
    size: int
    batch_size: int
    device: str
    fast_path: str
    eager_ms: float = math.nan
    fast_ms: float = math.nan
    speedup: float = math.nan
    eager_images_per_s: float = math.nan
    images_per_s: float = math.nan
    eager_peak_mib: float | None = None
    peak_mib: float | None = None
    estimate_mib: float | None = None
    bf16_ms: float | None = None  # CPU only: the fast path plus opt-in bf16 autocast
    bf16_speedup: float | None = None
    gflop_per_step: float | None = None
    tflops: float | None = None
    mfu: float | None = None
    reps: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, BenchSpec] = {}


def register_bench(name: str, factory: Callable[[BenchConfig], BenchCase], *, quick: tuple[int, int] = (64, 32),
                   paper: tuple[int, int] = (128, 64), description: str = "", replace: bool = False) -> None:
    """Add a training-step benchmark.

    Args:
        name: the row name and what ``fer bench --only NAME`` selects.
        factory: ``factory(config) -> BenchCase``; it builds the method as the chapter does
            (its own optimisers) at ``config.size`` px and ``config.batch_size``.
        quick: ``(size, batch_size)`` of ``fer bench --quick`` (CPU, about a minute in all).
        paper: ``(size, batch_size)`` of the chapter's ``paper`` profile.
        replace: allow re-registering ``name`` (otherwise a duplicate is a ``ValueError``).
    """
    if name in _REGISTRY and not replace:
        raise ValueError(f"a benchmark named {name!r} is already registered; pick another name or pass replace=True")
    for label, pair in (("quick", quick), ("paper", paper)):
        if len(pair) != 2 or min(pair) < 1:
            raise ValueError(f"{label} must be (size, batch_size) with positive values, got {pair!r}")
    _REGISTRY[name] = BenchSpec(name, factory, tuple(quick), tuple(paper), description)


def _import_method_modules() -> None:
    for module in METHOD_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                warnings.warn(f"fer bench: {module} could not be imported ({exc}); its benchmark is skipped",
                              stacklevel=3)
        except Exception as exc:  # a method module under construction must not take the other benchmarks down
            warnings.warn(f"fer bench: importing {module} failed ({type(exc).__name__}: {exc}); "
                          "its benchmark is skipped", stacklevel=3)


def benches() -> dict[str, BenchSpec]:
    """Every registered benchmark, after importing :data:`METHOD_MODULES`."""
    _import_method_modules()
    return dict(_REGISTRY)


# --- the built-in benchmarks: classifier backbones and a two-optimiser GAN step -----------------------


def image_batch(cfg: BenchConfig, *, classes: int = 7) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"image": torch.rand(cfg.batch_size, 3, cfg.size, cfg.size, generator=g) * 2 - 1,
            "expression": torch.randint(0, classes, (cfg.batch_size,), generator=g)}


def _classifier_case(net: nn.Module, cfg: BenchConfig) -> BenchCase:
    from fer_core.methods.classifier import Classifier

    method = Classifier(net, lr=1e-3)
    method.optimizers["net"] = make_adam(net.parameters(), lr=1e-3, device=cfg.device)
    return BenchCase(method, image_batch(cfg))


def _smallcnn(cfg: BenchConfig) -> BenchCase:
    from fer_core.nets.small import SmallCNN

    return _classifier_case(SmallCNN(3, 7, width=32), cfg)


def _resnet18(cfg: BenchConfig) -> BenchCase:
    import torchvision

    return _classifier_case(torchvision.models.resnet18(num_classes=7), cfg)


def _vgg(cfg: BenchConfig) -> BenchCase:
    from torchvision.models.vgg import cfgs, make_layers

    # VGG-11-BN features for the quick run, VGG-19-BN (Switch-GAN's classifier) for paper, with a
    # small head on global pooling instead of the 4096-wide ImageNet one (100M parameters).
    features = make_layers(cfgs["A" if cfg.profile == "quick" else "E"], batch_norm=True)
    head = nn.Sequential(nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(512, 7))
    net = nn.Sequential(features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    return _classifier_case(net, cfg)


class DCGANStep(Method):
    """A DCGAN-style two-optimiser step (D on real and fake, then G): the shape of every chapter's GAN step.

    G: ConvTranspose + BatchNorm + ReLU up to ``(B, 3, size, size)`` in [-1, 1] from ``z`` ``(B, z_dim, 1, 1)``;
    D: strided Conv + InstanceNorm + LeakyReLU down to one logit per image.
    """

    def __init__(self, size: int, *, width: int = 32, z_dim: int = 100, device: torch.device | str = "cpu"):
        if size < 8 or size & (size - 1):
            raise ValueError(f"DCGANStep needs a power-of-two image size >= 8, got {size}")
        n_up = int(math.log2(size)) - 2
        chans = [min(width * 2 ** (n_up - 1 - i), 8 * width) for i in range(n_up)]
        g: list[nn.Module] = [nn.ConvTranspose2d(z_dim, chans[0], 4, 1, 0, bias=False), nn.BatchNorm2d(chans[0]),
                              nn.ReLU(True)]
        for c_in, c_out in zip(chans, chans[1:]):
            g += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        g += [nn.ConvTranspose2d(chans[-1], 3, 4, 2, 1), nn.Tanh()]
        d: list[nn.Module] = [nn.Conv2d(3, chans[-1], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(chans[::-1], chans[::-1][1:]):
            # InstanceNorm (as in WGAN-GP critics) keeps samples independent, so real and fake
            # can go through D in one call without changing the maths
            d += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.InstanceNorm2d(c_out, affine=True),
                  nn.LeakyReLU(0.2, True)]
        d += [nn.Conv2d(chans[0], 1, 4, 1, 0), nn.Flatten()]
        self.z_dim = z_dim
        self.nets = nn.ModuleDict({"G": nn.Sequential(*g), "D": nn.Sequential(*d)})
        self.optimizers = {k: make_adam(self.nets[k].parameters(), lr=2e-4, betas=(0.5, 0.999), device=device)
                           for k in ("D", "G")}
        self.schedulers = {}

    def step(self, batch: dict, ctx: StepContext) -> dict[str, torch.Tensor]:
        G, D = self.nets["G"], self.nets["D"]
        bce = nn.functional.binary_cross_entropy_with_logits
        real = batch["image"]
        with ctx.autocast():
            fake = G(batch["z"])
            # real and fake through D in one call: one kernel launch per layer instead of two
            logits = D(torch.cat([real, fake.detach()])).float()
            target = torch.cat([torch.ones_like(logits[: len(real)]), torch.zeros_like(logits[len(real):])])
            loss_d = bce(logits, target)
        ctx.update("D", loss_d)
        with ctx.autocast():
            g_logits = D(fake).float()
            loss_g = bce(g_logits, torch.ones_like(g_logits))
        ctx.update("G", loss_g)
        return {"loss_D": loss_d, "loss_G": loss_g}


def _dcgan(cfg: BenchConfig) -> BenchCase:
    method = DCGANStep(cfg.size, width=32 if cfg.profile == "quick" else 64, device=cfg.device)
    g = torch.Generator().manual_seed(0)
    batch = {"image": torch.rand(cfg.batch_size, 3, cfg.size, cfg.size, generator=g) * 2 - 1,
             "z": torch.randn(cfg.batch_size, method.z_dim, 1, 1, generator=g)}
    return BenchCase(method, batch)


register_bench("smallcnn", _smallcnn, quick=(64, 16), paper=(128, 128),
               description="fer_core.nets.small.SmallCNN(width=32), Adam (the data chapter's recogniser)")
register_bench("resnet18", _resnet18, quick=(64, 16), paper=(128, 64), description="torchvision ResNet-18, Adam")
register_bench("vgg", _vgg, quick=(64, 8), paper=(128, 32),
               description="torchvision VGG-11-BN (quick) / VGG-19-BN (paper) features + small head, Adam")
register_bench("dcgan", _dcgan, quick=(64, 16), paper=(128, 64),
               description="DCGAN-style G and D, two Adam optimisers, D then G update")

# --- measuring ---------------------------------------------------------------------------------------


def peak_tflops(device: torch.device) -> tuple[float | None, str]:
    """The device's peak TFLOP/s for the precision the loop trains in, and where the figure came from."""
    env = os.environ.get("FER_PEAK_TFLOPS")
    if env:
        try:
            return float(env), "$FER_PEAK_TFLOPS"
        except ValueError:
            raise ValueError(f"FER_PEAK_TFLOPS={env!r} is not a number (TFLOP/s)") from None
    if device.type != "cuda":
        return None, "unknown"
    name = torch.cuda.get_device_name(device)
    table = _BF16_PEAK_TFLOPS if amp_supported(device) else _FP32_PEAK_TFLOPS
    for key, value in table:
        if key in name:
            return value, f"data sheet ({'bf16' if amp_supported(device) else 'fp32'}, {key})"
    return None, f"unknown for {name!r} (set FER_PEAK_TFLOPS)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rss_mib() -> float | None:
    try:
        import psutil
    except ImportError:  # resource gives the peak only, which cannot go down between variants
        return None
    return psutil.Process().memory_info().rss / 2**20


def _plain_optimizers(method: Method) -> None:
    """Switch every optimiser to PyTorch's default kernels (before its first step): no fused kernel;
    the multi-tensor ``foreach`` one on CUDA and the single-tensor one on CPU, as PyTorch chooses."""
    for opt in method.optimizers.values():
        for group in opt.param_groups:
            for key in ("foreach", "fused"):
                if key in group:
                    group[key] = None


def _fast_path_label(device: torch.device, compile: bool) -> str:
    parts = []
    if amp_supported(device):
        parts.append("bf16")
    if channels_last_pays(device):
        parts.append("channels_last")
    parts.append("method's optimisers")
    if compile:
        parts.append("compile")
    return "+".join(parts)


class _Variant:
    """One built copy of a benchmark: eager fp32 (``fast=False``) or the loop's fast path."""

    def __init__(self, spec: BenchSpec, cfg: BenchConfig, *, fast: bool, compile: bool, cpu_bf16: bool = False):
        self.device = device = cfg.device
        runtime.seed_everything(0)  # as the chapters run: deterministic algorithms
        case = spec.factory(cfg)
        self.method = case.method
        use_cl = fast and channels_last_pays(device)
        if not fast:
            _plain_optimizers(self.method)
        prepare_nets(self.method, device, channels_last=use_cl, compile=compile and fast)
        self.ctx = StepContext(device=device, amp=fast and (cpu_bf16 or amp_supported(device)),
                               cpu_amp=cpu_bf16 or amp_supported(device), _optimizers=self.method.optimizers)
        self.batch = _to_device(case.batch, device, use_cl)
        self.images = case.images or cfg.batch_size
        self.times: list[float] = []

    def step(self, *, timed: bool) -> None:
        _sync(self.device)
        t0 = time.perf_counter()
        self.method.step(self.batch, self.ctx)
        _sync(self.device)
        self.ctx.step += 1
        if timed:
            self.times.append(time.perf_counter() - t0)

    @property
    def ms(self) -> float:
        return statistics.median(self.times) * 1e3


def _measure_variants(spec: BenchSpec, cfg: BenchConfig, *, compile: bool, reps: int,
                      warmup: int) -> tuple[_Variant, _Variant, dict[str, Any]]:
    """Build and time both variants; returns them and the memory/FLOP figures.

    On a GPU the variants run one after the other, so that each one's peak memory is its
    own. On a CPU, which other processes share, their timed steps alternate, so that a
    burst of outside load slows both alike instead of biasing the ratio. On a CPU with
    native bf16 a third variant, the fast path plus the opt-in bf16 autocast
    (``FER_CPU_BF16=1``), is timed alongside (``info["bf16"]``).
    """
    device = cfg.device
    info: dict[str, Any] = {}
    if device.type == "cuda":
        variants = []
        for fast in (False, True):
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            v = _Variant(spec, cfg, fast=fast, compile=compile)
            for _ in range(warmup + (2 if compile and fast else 0)):
                v.step(timed=False)
            if not fast:
                info["flops"], info["estimate_mib"] = _probe_step(v.method, v.batch, v.ctx)
            for _ in range(reps):
                v.step(timed=True)
            info["peak_mib" if fast else "eager_peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
            variants.append(v)
            if not fast:  # free its memory before the fast variant; keep the times
                v.method = v.batch = v.ctx = None  # type: ignore[assignment]
        return variants[0], variants[1], info
    rss = [_rss_mib()]
    eager = _Variant(spec, cfg, fast=False, compile=False)
    for _ in range(warmup):
        eager.step(timed=False)
    info["flops"], info["estimate_mib"] = _probe_step(eager.method, eager.batch, eager.ctx)
    rss.append(_rss_mib())
    fast = _Variant(spec, cfg, fast=True, compile=compile)
    for _ in range(warmup + (2 if compile else 0)):
        fast.step(timed=False)
    rss.append(_rss_mib())
    bf16 = None
    if device.type == "cpu" and cpu_has_native_bf16() and not amp_supported(device):
        bf16 = _Variant(spec, cfg, fast=True, compile=compile, cpu_bf16=True)
        for _ in range(warmup + (2 if compile else 0)):
            bf16.step(timed=False)
        info["bf16"] = bf16
    for _ in range(reps):
        for v in (eager, fast, bf16):
            if v is not None:
                v.step(timed=True)
    if None not in rss:
        info["eager_peak_mib"], info["peak_mib"] = max(0.0, rss[1] - rss[0]), max(0.0, rss[2] - rss[1])
    return eager, fast, info


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker: every FLOP counts towards the total only."""

    parents = frozenset({"Global"})

    def __enter__(self) -> "_GlobalOnly":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def _probe_step(method: Method, batch: dict[str, Any], ctx: StepContext) -> tuple[int, float]:
    """FLOPs of one step, and an fp32 memory estimate: model state plus every tensor saved for backward.

    The estimate needs no GPU: parameters, gradients, optimiser state and buffers, plus
    the distinct storages autograd keeps for the backward passes of the step (summed
    over the whole step, so an upper bound when a GAN frees D's graph before G's forward).
    bf16 autocast roughly halves the activation part on a GPU.
    """
    from torch.utils.flop_counter import FlopCounterMode

    params = {p.untyped_storage().data_ptr() for p in method.nets.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    counter = FlopCounterMode(display=False)
    if hasattr(counter, "mod_tracker"):
        # Per-module attribution hooks every module's backward, which torch.autograd.grad (the
        # gradient penalties of WGAN-GP) refuses; the total needs no attribution.
        counter.mod_tracker = _GlobalOnly()
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        method.step(batch, ctx)
    state = sum(t.numel() * t.element_size() for t in [*method.nets.parameters(), *method.nets.buffers()])
    state += sum(p.numel() * p.element_size() for p in method.nets.parameters() if p.grad is not None)
    for opt in method.optimizers.values():
        state += sum(v.numel() * v.element_size() for st in opt.state.values() for v in st.values()
                     if isinstance(v, torch.Tensor))
    return counter.get_total_flops(), (state + sum(saved.values())) / 2**20


def measure(name: str, *, quick: bool = True, device: str | torch.device = "auto", reps: int | None = None,
            warmup: int | None = None, compile: bool = False, size: int | None = None,
            batch_size: int | None = None) -> BenchRow:
    """Benchmark one registered step: eager fp32 first, then the loop's fast path.

    Args:
        name: a registered benchmark (see :func:`benches`).
        quick: the quick sizes (else the ``paper`` ones).
        reps: timed steps per variant (default 3 quick, 20 paper); ``warmup`` untimed steps
            before them (default 1 quick, 3 paper; compilation adds 2).
        size, batch_size: override the registered sizes (tests use tiny ones).
    """
    specs = benches()
    if name not in specs:
        raise ValueError(f"unknown benchmark {name!r}; registered: {', '.join(sorted(specs))}")
    spec = specs[name]
    profile = "quick" if quick else "paper"
    dev = runtime.pick_device(device)
    s, b = spec.quick if quick else spec.paper
    cfg = BenchConfig(profile=profile, size=size or s, batch_size=batch_size or b, device=dev)
    reps = reps if reps is not None else (3 if quick else 20)
    warmup = warmup if warmup is not None else (1 if quick else 3)
    if reps < 1 or warmup < 0:
        raise ValueError(f"need reps >= 1 and warmup >= 0, got reps={reps}, warmup={warmup}")
    row = BenchRow(name=name, profile=profile, size=cfg.size, batch_size=cfg.batch_size, device=_device_name(dev),
                   fast_path=_fast_path_label(dev, compile), reps=reps)
    try:
        eager, fast, info = _measure_variants(spec, cfg, compile=compile, reps=reps, warmup=warmup)
    except Exception as exc:  # one failing benchmark must not hide the others
        row.error = f"{type(exc).__name__}: {exc}"
        return row
    row.eager_ms, row.fast_ms = eager.ms, fast.ms
    row.speedup = eager.ms / fast.ms
    row.eager_images_per_s = eager.images / eager.ms * 1e3
    row.images_per_s = fast.images / fast.ms * 1e3
    row.eager_peak_mib, row.peak_mib = info.get("eager_peak_mib"), info.get("peak_mib")
    row.estimate_mib = info["estimate_mib"]
    if "bf16" in info:
        row.bf16_ms = info["bf16"].ms
        row.bf16_speedup = eager.ms / row.bf16_ms
    if info["flops"]:
        row.gflop_per_step = info["flops"] / 1e9
        row.tflops = info["flops"] / (fast.ms * 1e-3) / 1e12
        peak, _ = peak_tflops(dev)
        row.mfu = row.tflops / peak if peak else None
    return row


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def format_table(rows: Sequence[BenchRow]) -> str:
    """The rows as a fixed-width text table (the bf16 columns appear when a row has them)."""
    with_bf16 = any(r.bf16_ms is not None for r in rows if not r.error)
    head = ["bench", "profile", "px", "B", "eager ms", "fast ms", "speed-up", "img/s", "peak MiB", "est. MiB",
            "GFLOP/step", "TFLOP/s", "MFU"]
    if with_bf16:
        head += ["bf16 ms", "bf16 speed-up"]
    lines, failures = [], []
    for r in rows:
        if r.error:
            failures.append(f"{r.name} ({r.profile}, {r.size} px, B {r.batch_size}): FAILED: {r.error}")
            continue
        line = [r.name, r.profile, str(r.size), str(r.batch_size), _fmt(r.eager_ms, ".1f"), _fmt(r.fast_ms, ".1f"),
                _fmt(r.speedup, ".2f") + "x", _fmt(r.images_per_s, ".1f"), _fmt(r.peak_mib, ".0f"),
                _fmt(r.estimate_mib, ".0f"), _fmt(r.gflop_per_step, ".1f"), _fmt(r.tflops, ".3f"),
                "-" if r.mfu is None else f"{100 * r.mfu:.1f}%"]
        if with_bf16:
            line += [_fmt(r.bf16_ms, ".1f"), "-" if r.bf16_speedup is None else f"{r.bf16_speedup:.2f}x"]
        lines.append(line)
    widths = [max([len(head[i]), *(len(line[i]) for line in lines)]) for i in range(len(head))]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out + failures)


def _renderer_rows(quick: bool, device: torch.device) -> list[dict[str, Any]] | None:
    """The synthetic world's renderer throughput (``fer_core.data.synthetic.bench``), when that module exists."""
    try:
        module = importlib.import_module("fer_core.data.synthetic.bench")
    except ModuleNotFoundError as exc:
        if exc.name in ("fer_core.data.synthetic.bench", "fer_core.data.synthetic"):
            return None
        raise
    fn = getattr(module, "bench_renderer")
    wanted = {"n": 256 if quick else 1024, "repeats": 2 if quick else 3, "device": str(device)}
    accepted = inspect.signature(fn).parameters
    try:
        result = fn(**{k: v for k, v in wanted.items() if k in accepted})
    except Exception as exc:  # reported like a failing row, without hiding the table
        return [{"error": f"{type(exc).__name__}: {exc}"}]
    if isinstance(result, dict):
        return [result]
    return [r if isinstance(r, dict) else asdict(r) for r in result]


def _warn_if_busy(device: torch.device) -> None:
    """Say so when other processes keep the CPU busy: OpenMP threads then wait on each other."""
    if device.type != "cpu" or not hasattr(os, "getloadavg"):
        return
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cores:
        print(f"[fer bench] warning: the CPU is busy (load {load:.1f} on {cores} cores); CPU timings with "
              f"{torch.get_num_threads()} threads will be slow and noisy. OMP_NUM_THREADS=1 avoids most of the "
              "stalls of threads waiting for each other.", flush=True)


def run_bench(*, quick: bool, only: list[str] | None, device: str, out: str | None, compile: bool = False,
              reps: int | None = None) -> int:
    """``fer bench``: measure, print the table (and write JSON to ``out``); exit status 1 if a row failed."""
    specs = benches()
    names = list(only) if only else list(specs)
    wanted_renderer = not only or "renderer" in names
    names = [n for n in names if n != "renderer"]
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {', '.join(unknown)}; registered: {', '.join(sorted(specs))}, renderer")
    dev = runtime.pick_device(device)
    peak, peak_source = peak_tflops(dev)
    print(f"[fer bench] device: {_device_name(dev)}, torch {torch.__version__}, "
          f"profile {'quick' if quick else 'paper'}; "
          f"fast path: {_fast_path_label(dev, compile)}; peak: {peak or '-'} TFLOP/s ({peak_source})", flush=True)
    _warn_if_busy(dev)
    rows = []
    t0 = time.perf_counter()
    for name in names:
        row = measure(name, quick=quick, device=dev, reps=reps, compile=compile)
        rows.append(row)
        print(f"[fer bench] {name}: " + (f"FAILED {row.error}" if row.error else
                                         f"{row.eager_ms:.1f} ms eager, {row.fast_ms:.1f} ms fast"), flush=True)
    renderer = _renderer_rows(quick, dev) if wanted_renderer else None
    print()
    print(format_table(rows))
    if renderer:
        print("\nsynthetic renderer:")
        for r in renderer:
            print("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
    print(f"\n[fer bench] {time.perf_counter() - t0:.0f} s. speed-up = eager fp32 step time / fast-path step time, "
          "same model and batch; medians over repetitions.")
    if any(r.bf16_ms is not None for r in rows):
        print("[fer bench] bf16 columns: the fast path plus bf16 autocast on this CPU's native bf16 units, "
              "which fit uses only with FER_CPU_BF16=1.")
    if dev.type != "cuda":
        print("[fer bench] CPU peak memory is the growth of the process's resident set (approximate); est. MiB is "
              "the fp32 model state plus the tensors saved for backward (device-independent). "
              "GPU memory figures must be measured on a GPU.")
    if out:
        atomic_write_json(out, {
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "commit": _git_commit(), "torch": torch.__version__, "device": _device_name(dev),
            "peak_tflops": peak, "peak_source": peak_source, "quick": quick, "compile": compile,
            "python": sys.version.split()[0], "rows": [asdict(r) for r in rows], "renderer": renderer,
        })
    return 1 if any(r.error for r in rows) else 0
