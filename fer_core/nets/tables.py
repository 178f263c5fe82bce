"""Layer tables and parameter counts: what a chapter prints beside the paper's architecture table."""

from __future__ import annotations

from typing import Mapping

import pandas as pd
import torch
from torch import nn

__all__ = ["layer_table", "param_count", "param_counts"]


def param_count(net: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters of ``net`` (only those with ``requires_grad`` when ``trainable_only``)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


def param_counts(nets: Mapping[str, nn.Module]) -> dict[str, int]:
    """``{name: parameter count}`` of several networks (no forward pass)."""
    return {name: param_count(net) for name, net in nets.items()}


def layer_table(net: nn.Module, *inputs: torch.Tensor, spec: dict[str, str] | None = None,
                network: str | None = None) -> pd.DataFrame:
    """One row per direct child of ``net`` in call order: output shape and parameter count.

    Runs ``net(*inputs)`` once in eval mode under ``no_grad`` with forward hooks (the train/eval
    state is restored). ``spec`` maps a child name to its Table-style description (e.g.
    ``"Conv(64,4,2), IN, LReLU"``); ``network`` names the network in a first column.
    """
    rows: list[dict] = []

    def hook(name: str):
        def record(_m: nn.Module, _i: tuple, out: torch.Tensor) -> None:
            shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else None
            rows.append({"layer": name, "output shape": shape})
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in net.named_children()]
    params = {n: param_count(m) for n, m in net.named_children()}
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(*inputs)
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    table = pd.DataFrame(rows, columns=["layer", "output shape"])
    table["params"] = table["layer"].map(params)
    if spec is not None:
        table.insert(1, "spec", table["layer"].map(spec).fillna(""))
    if network is not None:
        table.insert(0, "network", network)
    return table
