"""Device choice, seeding and mixed precision: the few facts every run shares."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

__all__ = ["pick_device", "seed_everything", "start_chapter", "autocast", "is_cuda", "rng_state", "set_rng_state"]


def pick_device(preference: str | torch.device | None = "auto") -> torch.device:
    """Return the device to run on.

    ``"auto"`` (or ``None``) picks CUDA when available, else CPU. Any other value is
    passed to :class:`torch.device`; asking for CUDA on a machine without it raises.
    """
    if preference is None or str(preference) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(preference)!r} was requested but CUDA is not available here; "
            "use device='auto' or device='cpu'."
        )
    return device


def is_cuda(device: torch.device | str) -> bool:
    return torch.device(device).type == "cuda"


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed python, numpy and torch (all devices).

    With ``deterministic=True`` torch uses deterministic algorithms where it has them
    (``warn_only`` so that a GPU op without a deterministic kernel does not crash a
    chapter); on CPU this makes runs bit-reproducible.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def start_chapter(settings: Mapping[str, Any], *, seed: int, device: str | torch.device | None = "auto",
                  show: Sequence[str] | None = None) -> torch.device:
    """A chapter's first cell: seed everything, keep the notebook's own process on one CPU thread (its
    experiments run in worker processes, one per core), print the profile and return the device.

    ``settings``: the chapter's :class:`~fer_core.profiles.Profile`; ``show``: the settings to print
    (all when None).
    """
    dev = pick_device(device)
    seed_everything(seed)
    if dev.type == "cpu":
        torch.set_num_threads(1)
    shown = dict(settings) if show is None else {k: settings[k] for k in show}
    print(f"profile={getattr(settings, 'name', '?')} device={dev} settings={shown}")
    return dev


@contextlib.contextmanager
def autocast(device: torch.device | str, *, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA; a no-op on CPU (CPU bf16 is slower than fp32 on most CPUs)."""
    if enabled and is_cuda(device):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def rng_state() -> dict:
    """All RNG states as tensors and plain Python values (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`rng_state`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_s = state["numpy"]
    np.random.set_state(
        ("MT19937", np_s["keys"].numpy().astype(np.uint32), np_s["pos"], np_s["has_gauss"], np_s["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
