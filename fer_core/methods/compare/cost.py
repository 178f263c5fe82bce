"""What one training step of a method costs: FLOPs and memory, measured on a copy of it.

- FLOPs: :class:`torch.utils.flop_counter.FlopCounterMode` around one call of the method's own
  ``step`` (every forward, backward and the discriminator/generator updates it makes), divided by
  the faces of the loop's batch: FLOPs per training image.
- Memory: on CUDA the peak of ``torch.cuda.max_memory_allocated`` during that step. On a CPU
  PyTorch keeps no allocation peak, so the step's training memory is *estimated* as the bytes of
  the weights, their gradients and the optimisers' state plus every tensor autograd saved for
  the backward passes of the step (``torch.autograd.graph.saved_tensors_hooks``).

The measured copy is thrown away: the trained method is never changed.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import torch
from torch.utils.flop_counter import FlopCounterMode

from fer_core.train import Method, StepContext, _to_device

__all__ = ["step_cost", "GlobalFlopCounter"]


class _NoModules:
    """Stands in for FlopCounterMode's module tracker: every FLOP is counted under ``Global`` only."""

    parents = {"Global"}

    def __enter__(self) -> "_NoModules":
        return self

    def __exit__(self, *args: Any) -> None:
        return None


class GlobalFlopCounter(FlopCounterMode):
    """:class:`~torch.utils.flop_counter.FlopCounterMode` without its per-module breakdown.

    The module tracker hooks every module's backward, which ``torch.autograd.grad`` refuses
    (WGAN-GP's gradient penalty in FESR calls it inside the step); the total is the same.
    """

    def __init__(self) -> None:
        super().__init__(display=False)
        self.mod_tracker = _NoModules()


def _state_bytes(method: Method) -> int:
    params = {id(p): p for p in method.nets.parameters()}
    total = sum(p.numel() * p.element_size() for p in params.values())
    total += sum(p.numel() * p.element_size() for p in params.values() if p.requires_grad)  # gradients
    for opt in method.optimizers.values():
        for state in opt.state.values():
            total += sum(v.numel() * v.element_size() for v in state.values() if isinstance(v, torch.Tensor))
    return int(total)


def step_cost(method: Method, batch: Mapping[str, Any], *, device: torch.device, images: int | None = None,
              step: int = 0) -> dict[str, float]:
    """FLOPs and memory of one ``method.step(batch)`` on a deep copy of ``method``.

    Args:
        method: a (trained or untrained) method; left unchanged.
        batch: one batch as the loop hands it to ``step`` (dict of tensors).
        device: where to run the measured step.
        images: faces in the batch (default: the length of ``batch["image"]``).
        step: the step number the context reports (a method whose step depends on it, e.g. a
            stage switch, is measured in the stage of that step).

    Returns:
        ``flops_per_step``, ``flops_per_image``, ``memory_bytes`` and ``memory_kind``
        (``"cuda peak"`` or ``"cpu estimate"``).
    """
    m = copy.deepcopy(method)
    m.nets.to(device).train()
    for opt in m.optimizers.values():  # a first Adam step allocates its state: count it as training does
        for state in opt.state.values():
            for k, v in list(state.items()):
                if isinstance(v, torch.Tensor):
                    state[k] = v.to(device)
    batch = _to_device(dict(batch), device, False)
    n = int(images if images is not None else len(batch["image"]))
    ctx = StepContext(device=device, step=step, amp=False, _optimizers=m.optimizers)
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    counter = GlobalFlopCounter()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        m.step(batch, ctx)
    flops = float(counter.get_total_flops())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        memory, kind = float(torch.cuda.max_memory_allocated(device) - base + _state_bytes(m)), "cuda peak"
    else:
        memory, kind = float(_state_bytes(m) + saved[0]), "cpu estimate"
    del m
    return {"flops_per_step": flops, "flops_per_image": flops / max(n, 1), "memory_bytes": memory,
            "memory_kind": kind}
