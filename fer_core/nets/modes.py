"""Context managers that change how networks behave for one part of a training step.

GAN steps use the same network in several roles within one iteration: a discriminator is
trained, then judges the generator's faces without being trained; a recogniser is trained on
real faces, sees synthetic ones, and then scores the generator's faces. These blocks make each
role explicit:

- :func:`frozen_weights`: no parameter gradients for some networks (the backward of a generator
  loss must not leave gradients on its critics);
- :func:`frozen_statistics`: BatchNorm layers normalise with the current batch as in training,
  but do not update their running statistics (a synthetic batch must not shape the statistics
  a recogniser uses at test time);
- :func:`as_judge`: eval mode (running statistics, no dropout) with gradients still flowing
  through the inputs (a network that scores another network's outputs).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

__all__ = ["frozen_weights", "frozen_statistics", "as_judge"]


@contextlib.contextmanager
def frozen_weights(*modules: nn.Module | None) -> Iterator[None]:
    """Parameters of ``modules`` get no gradient inside the block (``requires_grad`` restored after)."""
    params = [p for m in modules if m is not None for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


_NORMS = (nn.modules.batchnorm._BatchNorm,)


@contextlib.contextmanager
def frozen_statistics(*modules: nn.Module | None) -> Iterator[None]:
    """BatchNorm layers of ``modules`` keep their running statistics inside the block.

    Layers in train mode still normalise with the statistics of the batch at hand (momentum 0:
    ``running = (1 - 0) running + 0 batch``); layers in eval mode are unaffected anyway.
    """
    norms = [m for mod in modules if mod is not None for m in mod.modules() if isinstance(m, _NORMS)]
    saved = [(m, m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
             for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


@contextlib.contextmanager
def as_judge(*modules: nn.Module | None) -> Iterator[None]:
    """``modules`` in eval mode inside the block (train/eval state restored after); gradients flow."""
    mods = [m for m in modules if m is not None]
    states = [m.training for m in mods]
    for m in mods:
        m.eval()
    try:
        yield
    finally:
        for m, was in zip(mods, states):
            m.train(was)
