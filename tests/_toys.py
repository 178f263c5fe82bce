"""Tiny datasets and methods for testing the shared loop (imported by tests only)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from fer_core.train import Method, StepContext


class BlobDataset(Dataset):
    """Two Gaussian blobs in 8-D, a pure function of the index (like the synthetic world)."""

    def __init__(self, n: int = 64, dim: int = 8):
        self.n, self.dim = n, dim

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(1000 + i)
        label = i % 2
        x = torch.randn(self.dim, generator=g) + (2.0 if label else -2.0)
        noise = torch.rand(4, generator=g) * 2 - 1  # per-sample GAN noise, so runs shard exactly
        return {"x": x, "y": torch.tensor(label), "z": noise}


class ToyClassifier(Method):
    def __init__(self, dim: int = 8, lr: float = 0.1, dropout: float = 0.2):
        torch.manual_seed(0)
        self.nets = nn.ModuleDict({"C": nn.Sequential(nn.Linear(dim, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))})
        self.optimizers = {"C": torch.optim.Adam(self.nets.parameters(), lr=lr)}
        self.schedulers = {"C": torch.optim.lr_scheduler.StepLR(self.optimizers["C"], step_size=5, gamma=0.9)}

    def step(self, batch, ctx: StepContext):
        with ctx.autocast():
            loss = nn.functional.cross_entropy(self.nets["C"](batch["x"]), batch["y"])
        ctx.update("C", loss)
        self.schedulers["C"].step()
        return {"loss": loss}


class ToyGAN(Method):
    """A 2-optimiser GAN step (D then G) to exercise alternating updates."""

    def __init__(self, dim: int = 8):
        torch.manual_seed(0)
        self.nets = nn.ModuleDict({"G": nn.Linear(4, dim), "D": nn.Sequential(nn.Linear(dim, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))})
        self.optimizers = {
            "D": torch.optim.Adam(self.nets["D"].parameters(), lr=1e-2, betas=(0.5, 0.999)),
            "G": torch.optim.Adam(self.nets["G"].parameters(), lr=1e-2, betas=(0.5, 0.999)),
        }
        self.schedulers = {}

    def step(self, batch, ctx: StepContext):
        G, D = self.nets["G"], self.nets["D"]
        fake = G(batch["z"])
        bce = nn.functional.binary_cross_entropy_with_logits
        real_logit, fake_logit = D(batch["x"]), D(fake.detach())
        loss_d = bce(real_logit, torch.ones_like(real_logit)) + bce(fake_logit, torch.zeros_like(fake_logit))
        ctx.update("D", loss_d)
        g_logit = D(fake)
        loss_g = bce(g_logit, torch.ones_like(g_logit))
        ctx.update("G", loss_g)
        return {"loss_D": loss_d, "loss_G": loss_g}


class ExplodingMethod(ToyClassifier):
    """Returns NaN from step ``explode_at`` on."""

    def __init__(self, explode_at: int):
        super().__init__()
        self.explode_at = explode_at

    def step(self, batch, ctx):
        out = super().step(batch, ctx)
        if ctx.step >= self.explode_at:
            with torch.no_grad():
                for p in self.nets.parameters():
                    p.fill_(float("nan"))
            out["loss"] = torch.tensor(float("nan"))
        return out
