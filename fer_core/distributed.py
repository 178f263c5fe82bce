"""Several processes (GPUs) per run, launched by ``torchrun``.

The shared loop (:func:`fer_core.train.fit`) already runs unchanged under
``torchrun --nproc_per_node N``. This module is the glue between that and the places
readers start training from:

- from a shell, a script runs as is: ``torchrun --nproc_per_node 4 my_script.py``;
- from a notebook (a single kernel process), :func:`run` sends one *importable* function
  through torchrun and returns what rank 0 returned::

      from fer_core import distributed
      result = distributed.run(train_variant, nproc=4, variant="FESR_JL", fold=0)

  With ``nproc`` omitted it reads ``$FER_NPROC`` (``fer book --nproc 4`` sets it), and with
  one process it simply calls the function;
- :func:`launch` runs any script or module through torchrun in a subprocess.

The launcher is always PyTorch's own (``python -m torch.distributed.run``, i.e.
``torchrun``); the backend is NCCL on CUDA and gloo on CPU (chosen by ``fit``).
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from fer_core.io import load_checkpoint, save_checkpoint

__all__ = ["NPROC_ENV", "LaunchError", "rank", "local_rank", "world_size", "is_main", "is_distributed", "barrier",
           "nproc_from_env", "check_nproc", "per_rank_batch_size", "free_port", "torchrun_command", "launch", "run",
           "env", "init", "all_reduce_mean_grads", "all_reduce_mean", "broadcast_from_rank0", "broadcast_buffers",
           "seed_rank_stream", "check_same_start", "gather_objects", "qualified_name", "resolve"]

NPROC_ENV = "FER_NPROC"


class LaunchError(RuntimeError):
    """A torchrun launch exited with a non-zero status (the message holds the end of its output)."""

    def __init__(self, message: str, returncode: int):
        super().__init__(message)
        self.returncode = returncode


def rank() -> int:
    """This process's global rank (0 outside torchrun)."""
    return dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", 0))


def local_rank() -> int:
    """This process's rank on its machine, i.e. the index of its GPU (0 outside torchrun)."""
    return int(os.environ.get("LOCAL_RANK", 0))


def world_size() -> int:
    """Number of processes in the run (1 outside torchrun)."""
    return dist.get_world_size() if dist.is_initialized() else int(os.environ.get("WORLD_SIZE", 1))


def is_main() -> bool:
    """True on the one process that writes files and prints (rank 0)."""
    return rank() == 0


def is_distributed() -> bool:
    """True inside a torchrun launch with more than one process."""
    return world_size() > 1


def barrier() -> None:
    """Wait for every rank (a no-op in a single process)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def nproc_from_env(default: int = 1) -> int:
    """The process count requested with ``$FER_NPROC`` (what ``fer book --nproc N`` sets)."""
    raw = os.environ.get(NPROC_ENV, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{NPROC_ENV}={raw!r} is not a process count; set it to a positive integer (e.g. 2) "
                         "or unset it")
    return value


def per_rank_batch_size(global_batch_size: int, world: int | None = None) -> int:
    """The per-process ``batch_size`` for :func:`~fer_core.train.fit` that keeps the paper's global batch.

    ``fit`` takes the batch of *one* rank, so N ranks train with N times the batch; a
    chapter that wants the paper's global batch (and hence its learning rate) divides.

    Raises:
        ValueError: ``global_batch_size`` is not a multiple of the number of processes.
    """
    world = world_size() if world is None else world
    if global_batch_size < 1 or global_batch_size % world:
        raise ValueError(
            f"a global batch of {global_batch_size} cannot be split evenly over {world} processes; "
            f"use a process count that divides it or a batch size that is a multiple of {world}"
        )
    return global_batch_size // world


# ----------------------------------------------------------------- the arithmetic of data parallelism
# What DistributedDataParallel does, done per optimiser update by the shared loop (see train.py's
# module docstring for why GAN steps do not fit the DDP wrapper).


def env() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` from the variables ``torchrun`` sets (0, 0, 1 otherwise)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init(device: torch.device) -> tuple[int, int]:
    """Join the process group torchrun prepared (NCCL on CUDA, gloo on CPU); ``(rank, world_size)``."""
    rank_, local_rank_, world = env()
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(local_rank_)  # before init, so NCCL binds each rank to its own GPU
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank_, world


def all_reduce_mean_grads(params: list[torch.nn.Parameter], world_size: int) -> None:
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


def all_reduce_mean(values: dict[str, float], world_size: int, device: torch.device) -> dict[str, float]:
    """Mean of each logged value over the ranks (every rank gets the same numbers)."""
    if not values:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return dict(zip(values, (t / world_size).tolist()))


def broadcast_from_rank0(nets: nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers (DDP does this at construction)."""
    with torch.no_grad():
        for t in [*nets.parameters(), *nets.buffers()]:
            dist.broadcast(t.data, src=0)


def broadcast_buffers(nets: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) to every rank, as DDP's ``broadcast_buffers``."""
    with torch.no_grad():
        for b in nets.buffers():
            dist.broadcast(b.data, src=0)


def seed_rank_stream(seed: int, rank_: int) -> None:
    """Give rank ``rank_`` its own random stream, so ranks draw different noise and dropout masks."""
    derived = (seed * 1_000_003 + 7_919 * rank_) % 2**31
    random.seed(derived)
    np.random.seed(derived)
    torch.manual_seed(derived)


def check_same_start(start: int, world: int, device: torch.device, ckpt: Path | None) -> None:
    """Refuse to go on when the ranks would resume from different steps."""
    mine = torch.tensor([start], dtype=torch.long, device=device)
    starts = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(starts, mine)
    found = [int(s.item()) for s in starts]
    if len(set(found)) > 1:
        raise ValueError(
            f"the ranks would resume from different steps {found}: {ckpt} must be on a file system that every "
            "rank sees (run all ranks on one machine, or put run_dir on shared storage)"
        )


def gather_objects(obj: Any, world: int) -> list[Any]:
    """``obj`` of every rank, in rank order (a picklable value such as an RNG state)."""
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def free_port() -> int:
    """A TCP port on localhost that was free a moment ago (for torchrun's ``--master_port``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check_nproc(nproc: int) -> None:
    """Refuse a process count that is not a positive integer, or more processes than GPUs (with CUDA)."""
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive integer, got {nproc!r}")
    if torch.cuda.is_available() and nproc > torch.cuda.device_count():
        raise ValueError(
            f"nproc={nproc} but this machine has {torch.cuda.device_count()} CUDA device(s); with CUDA each process "
            f"drives one GPU, so use nproc <= {torch.cuda.device_count()}"
        )


def torchrun_command(target: str, args: Sequence[str] = (), *, nproc: int, module: bool | None = None,
                     master_port: int | None = None) -> list[str]:
    """The ``torchrun`` command line that starts ``target`` on ``nproc`` local processes.

    Args:
        target: a script path (``train.py``) or a module name (``fer_core.distributed``).
        args: arguments passed to every process.
        module: run ``target`` with ``-m``; by default, when it does not end in ``.py``.
        master_port: the rendezvous port (default: a free one).
    """
    if module is None:
        module = not target.endswith(".py")
    port = master_port if master_port is not None else free_port()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(nproc),
           "--master_addr", "127.0.0.1", "--master_port", str(port)]
    if module:
        cmd.append("-m")
    return [*cmd, target, *map(str, args)]


def launch(target: str, args: Sequence[str] = (), *, nproc: int, module: bool | None = None,
           env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None, timeout: float | None = None,
           echo: bool = True) -> subprocess.CompletedProcess:
    """Run ``target`` on ``nproc`` processes through ``torchrun`` and wait for it.

    The processes' output is relayed to this process's ``stdout`` as it comes (so it
    shows in a notebook, progress bars included) when ``echo`` is true.

    Raises:
        LaunchError: a process failed; the message holds the last lines of the output.
    """
    check_nproc(nproc)
    cmd = torchrun_command(target, args, nproc=nproc, module=module)
    child_env = {**os.environ, **(env or {})}
    child_env.pop(NPROC_ENV, None)  # the children are the distributed run; they must not launch again
    # torchrun sets OMP_NUM_THREADS=1 unless told otherwise; share the cores between the ranks instead
    child_env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    tail = ""
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        _stop(proc)

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=child_env, cwd=cwd)
    watchdog = threading.Timer(timeout, on_timeout) if timeout else None
    if watchdog is not None:
        watchdog.daemon = True
        watchdog.start()
    try:
        assert proc.stdout is not None
        # raw chunks, not lines: progress bars redraw with "\r", which terminals and notebooks honour
        while chunk := proc.stdout.read1(65536):
            text = decoder.decode(chunk)
            tail = (tail + text)[-6000:]
            if echo:
                sys.stdout.write(text)
                sys.stdout.flush()
        rc = proc.wait()
    except BaseException:  # e.g. the notebook's stop button: take the workers down with us
        _stop(proc)
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
    if rc != 0:
        why = f"was stopped after the {timeout} s timeout" if timed_out.is_set() else f"exited with status {rc}"
        raise LaunchError(f"torchrun {why}: {' '.join(cmd)}\n--- last output ---\n{tail}", rc)
    return subprocess.CompletedProcess(cmd, rc)


def _stop(proc: subprocess.Popen) -> None:
    """Ask torchrun to stop (it terminates its workers), then kill it if it does not within 30 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def qualified_name(fn: Callable | str) -> str:
    """``"package.module:function"`` of an importable function (what another process can import)."""
    if isinstance(fn, str):
        if ":" not in fn:
            raise ValueError(f"expected 'package.module:function', got {fn!r}")
        return fn
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if module in (None, "__main__") or "<" in qualname:
        raise ValueError(
            f"{getattr(fn, '__name__', fn)!r} is defined in a notebook or script (module {module!r}); the processes "
            "that torchrun or the experiment runner start can only import functions from a module, so move it "
            "into fer_core (or pass "
            "'package.module:function')"
        )
    return f"{module}:{qualname}"


def resolve(name: str) -> Callable:
    """The object a ``"package.module:qualname"`` string names (inverse of :func:`qualified_name`)."""
    module_name, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def run(fn: Callable | str, /, *, nproc: int | None = None, timeout: float | None = None, echo: bool = True,
        **kwargs: Any) -> Any:
    """Call ``fn(**kwargs)`` on ``nproc`` processes through torchrun; return rank 0's return value.

    With ``nproc == 1`` (the default when ``$FER_NPROC`` is unset), or when already inside a
    distributed run, this is just ``fn(**kwargs)``. Otherwise ``fn`` must be importable
    (defined in a module, not in a notebook), and both ``kwargs`` and the return value
    must be what a ``weights_only`` checkpoint holds: tensors, numbers, strings, lists,
    tuples and dicts of those (a state dict, a metrics dict), not networks or objects.

    Every rank calls ``fn`` with the same arguments; ``fn`` trains with
    :func:`fer_core.train.fit`, which shards the data and averages gradients.
    """
    nproc = nproc_from_env() if nproc is None else nproc
    check_nproc(nproc)
    if nproc == 1 or is_distributed():
        return (resolve(fn) if isinstance(fn, str) else fn)(**kwargs)
    name = qualified_name(fn)
    with tempfile.TemporaryDirectory(prefix="fer-run-") as tmp:
        args_path, result_path = Path(tmp) / "kwargs.pt", Path(tmp) / "result.pt"
        save_checkpoint({"kwargs": kwargs}, args_path)
        # the children must import the same fer_core as this process, wherever it was started
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (root, os.getcwd(), os.environ.get("PYTHONPATH", "")) if p)
        launch("fer_core.distributed", [name, "--kwargs", str(args_path), "--result", str(result_path)],
               nproc=nproc, module=True, env={"PYTHONPATH": path}, timeout=timeout, echo=echo)
        return load_checkpoint(result_path)["result"]


def _worker_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of each process started by :func:`run` (``python -m fer_core.distributed``)."""
    parser = argparse.ArgumentParser(prog="python -m fer_core.distributed",
                                     description="call package.module:function on this rank (started by torchrun)")
    parser.add_argument("function")
    parser.add_argument("--kwargs", required=True, help="checkpoint file holding {'kwargs': {...}}")
    parser.add_argument("--result", required=True, help="where rank 0 writes {'result': return value}")
    args = parser.parse_args(argv)
    fn = resolve(args.function)
    kwargs = load_checkpoint(args.kwargs)["kwargs"]
    try:
        result = fn(**kwargs)
        if rank() == 0:
            save_checkpoint({"result": result}, args.result)
        barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker_main())
