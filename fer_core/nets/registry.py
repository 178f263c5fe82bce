"""A registry of every network builder in the book, for tests generated over all of them.

Each entry builds a network for a given number of classes and gives a seeded input of its
canonical shape; the tests (``tests/test_nets_registry.py``) check for every entry: the output
shape, finite values, that a backward pass reaches every trainable parameter, and that a
non-default class count is honoured (so no builder hard-codes 7 classes). Paper packages
register their own networks when imported (:func:`register_net`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = ["NetEntry", "register_net", "net_entries", "images"]


@dataclass(frozen=True)
class NetEntry:
    """``build(num_classes) -> net``; ``inputs(num_classes, generator) -> args of forward``;
    ``out_shape(batch, num_classes) -> expected output shape`` (of the first output when
    the network returns a tuple)."""

    name: str
    build: Callable[[int], nn.Module]
    inputs: Callable[[int, torch.Generator], tuple]
    out_shape: Callable[[int, int], tuple[int, ...]]
    batch: int = 2


_ENTRIES: dict[str, NetEntry] = {}


def register_net(name: str, build: Callable[[int], nn.Module], inputs: Callable[[int, torch.Generator], tuple],
                 out_shape: Callable[[int, int], tuple[int, ...]], *, batch: int = 2) -> None:
    """Add a builder (re-registering a name replaces it, so re-imports are harmless)."""
    _ENTRIES[name] = NetEntry(name, build, inputs, out_shape, batch)


def images(size: int, channels: int = 3, batch: int = 2) -> Callable[[int, torch.Generator], tuple]:
    """An ``inputs`` function: one seeded ``(batch, channels, size, size)`` image batch in [-1, 1]."""
    return lambda k, g: (torch.rand(batch, channels, size, size, generator=g) * 2 - 1,)


def net_entries() -> dict[str, NetEntry]:
    """Every registered builder, after importing the shared nets and every paper package."""
    import importlib
    import pkgutil

    import fer_core.methods as methods

    importlib.import_module("fer_core.nets.builders")
    for m in pkgutil.iter_modules(methods.__path__):
        if m.ispkg:
            importlib.import_module(f"{methods.__name__}.{m.name}")
    return dict(_ENTRIES)

