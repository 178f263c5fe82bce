"""Sec. 4.6's demo, small: GroupGAN's generator restoring line drawings crossed out by slashes.

The paper takes 1000 sketches of the Sketchy database and adds slashes to them. Without that
database, :func:`sketches` draws synthetic line drawings (a closed polygon of 3-6 corners and a
smaller inner shape, like a crude object outline) and :func:`slashed` adds 1-3 straight strokes
across each. :class:`SketchRestoration` trains G with the content loss (Eq. 1) and the
discriminator D (Eqs. 2-4), as in Eq. (3): a demonstration, not a measurement of the paper's claim.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from fer_core.methods.groupgan import losses as L
from fer_core.methods.groupgan.nets import Discriminator, Generator, GroupGANConfig
from fer_core.nets.modes import frozen_weights
from fer_core.train import Method, StepContext, make_adam

__all__ = ["draw_segments", "sketches", "slashed", "SketchRestoration"]


def draw_segments(segments: torch.Tensor, size: int, *, width: float = 0.8) -> torch.Tensor:
    """Strokes as an image: ``segments`` ``(N, M, 4)`` (x0, y0, x1, y1 in pixels; NaN rows are skipped)
    -> ``(N, 1, size, size)`` in [-1, 1] (white strokes on black)."""
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float), torch.arange(size, dtype=torch.float),
                            indexing="ij")
    p = torch.stack([xx, yy], -1).reshape(1, 1, -1, 2)
    a, b = segments[..., None, :2], segments[..., None, 2:]
    ab = b - a
    t = (((p - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-6)).clamp(0, 1)
    d = (p - (a + t[..., None] * ab)).norm(dim=-1)
    d = torch.where(torch.isnan(d), torch.full_like(d, float("inf")), d)
    ink = (1 - (d.min(dim=1).values - width / 2).clamp_min(0)).clamp(0, 1)
    return (ink * 2 - 1).reshape(-1, 1, size, size)


def _polygon(g: torch.Generator, size: int, scale: float) -> list[tuple[float, float, float, float]]:
    k = int(torch.randint(3, 7, (1,), generator=g))
    cx, cy = (0.5 + (torch.rand(2, generator=g) - 0.5) * 0.2).tolist()
    r = scale * (0.6 + 0.4 * torch.rand(k, generator=g))
    phase = float(torch.rand(1, generator=g)) * 2 * math.pi
    pts = [((cx + ri * math.cos(phase + 2 * math.pi * i / k)) * size, (cy + ri * math.sin(phase + 2 * math.pi * i / k))
            * size) for i, ri in enumerate(r.tolist())]
    return [(*pts[i], *pts[(i + 1) % k]) for i in range(k)]


def sketches(n: int, size: int = 32, *, seed: int = 0) -> torch.Tensor:
    """``n`` synthetic line drawings ``(n, 1, size, size)`` in [-1, 1], a pure function of ``seed``."""
    g = torch.Generator().manual_seed(seed)
    segs = [_polygon(g, size, 0.38) + _polygon(g, size, 0.15) for _ in range(n)]
    m = max(len(s) for s in segs)
    out = torch.full((n, m, 4), float("nan"))
    for i, s in enumerate(segs):
        out[i, :len(s)] = torch.tensor(s)
    return draw_segments(out, size)


def slashed(clean: torch.Tensor, *, seed: int = 0, max_slashes: int = 3) -> torch.Tensor:
    """``clean`` ``(N, 1, S, S)`` with 1-``max_slashes`` straight strokes across each drawing added."""
    g = torch.Generator().manual_seed(seed)
    N, S = clean.shape[0], clean.shape[-1]
    segs = torch.full((N, max_slashes, 4), float("nan"))
    for i in range(N):
        k = int(torch.randint(1, max_slashes + 1, (1,), generator=g))
        segs[i, :k] = torch.rand(k, 4, generator=g) * S
    return torch.maximum(clean, draw_segments(segs, S))


class SketchRestoration(Method):
    """G (the chapter's generator) and D trained by Eq. (3): content to the clean drawing + lambda * adversarial.

    A batch holds ``image`` (the slashed drawing) and ``peak`` (the clean one), as :class:`PairedFrames` gives."""

    def __init__(self, gan: GroupGANConfig, *, lr: float = 1e-3, lam: float = 2e-3):
        self.nets = nn.ModuleDict({"G": Generator(gan), "D": Discriminator(gan, cond_dim=0)})
        self.optimizers = {n: make_adam(self.nets[n].parameters(), lr=lr, betas=(0.5, 0.999)) for n in self.nets}
        self.schedulers, self.lam = {}, lam

    def step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x, clean = batch["image"], batch["peak"]
        fake = self.nets["G"](x)
        logits = self.nets["D"](torch.cat([clean, fake.detach()]))
        v_d = L.V_D(logits[: len(x)], logits[len(x):])
        ctx.update("D", v_d)
        with frozen_weights(self.nets["D"]):
            content = L.content_loss(clean, fake)
            loss = content + self.lam * L.adversarial_G(self.nets["D"](fake))
        ctx.update("G", loss)
        return {"V_D": v_d.detach(), "content": content.detach()}
