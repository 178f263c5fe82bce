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


# ----------------------------------------------------------------- a toy chapter for the experiment layer
import os  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fer_core.data.base import FaceDataset  # noqa: E402
from fer_core.data.protocols import subject_kfold  # noqa: E402
from fer_core.experiments import ChapterData, Experiment, Plan, Study  # noqa: E402
from fer_core.train import CHECKPOINT_NAME  # noqa: E402

#: Set to "<variant>:<step>" to make that variant's step raise once (a simulated crash).
CRASH_ENV = "FER_TOY_CRASH"


class BlobFaces(FaceDataset):
    """Two blobs as 8-D 'images' with subjects, so that protocols and folds apply."""

    classes = ("neg", "pos")

    def __init__(self, n: int = 48):
        self.meta = pd.DataFrame({"expression": np.arange(n) % 2, "subject": [f"s{i % 6}" for i in range(n)]})
        self.blobs = BlobDataset(n)

    def load(self, i: int) -> dict:
        item = self.blobs[i]
        return {"image": item["x"], "expression": item["y"], "identity": torch.tensor(i % 6)}


class CrashingClassifier(ToyClassifier):
    def __init__(self, variant: str, lr: float):
        super().__init__(lr=lr)
        self.variant = variant

    def step(self, batch, ctx):
        crash = os.environ.get(CRASH_ENV, "")
        if crash == f"{self.variant}:{ctx.step}":
            os.environ[CRASH_ENV] = ""
            raise RuntimeError(f"simulated crash of {self.variant} at step {ctx.step}")
        return super().step({"x": batch["image"], "y": batch["expression"]}, ctx)


class ToyStudy(Study):
    """Per fold and seed: "pre" trains 6 steps; "fast" and "slow" continue from it to 12 steps."""

    chapter = "toy"
    compact_checkpoints = False  # "fast" and "slow" continue from pre's optimiser state
    STEPS = {"pre": 6, "fast": 12, "slow": 12}
    LR = {"pre": 0.1, "fast": 0.2, "slow": 0.02}

    @classmethod
    def build_data(cls, P, *, dataset="synthetic", data_root=None, seed=0) -> ChapterData:
        ds = BlobFaces()
        return ChapterData(dataset=ds, splits=subject_kfold(ds.meta, int(P["folds"]), seed=seed), name="blobs",
                           key="synthetic", spec={"dataset": "blobs"},
                           build_args={"dataset": dataset, "data_root": data_root, "seed": seed})

    def make(self, variant, fold=0, seed=0):
        after = () if variant == "pre" else (self.make("pre", fold, seed),)
        return Experiment(variant, fold, seed, after=after, why=("continues from pre",) * len(after),
                          cost=self.STEPS[variant])

    def plan(self):
        return Plan([self.make(v, k, s) for k in self.folds for s in self.seeds for v in ("fast", "slow")])

    def train(self, exp):
        torch.manual_seed(exp.seed)
        method = CrashingClassifier(exp.variant, self.LR[exp.variant])
        if exp.variant != "pre" and not self.finished(exp, 0):
            pre = self.make("pre", exp.fold, exp.seed)
            self.run_dir(exp).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.run_dir(pre) / CHECKPOINT_NAME, self.run_dir(exp) / CHECKPOINT_NAME)
        train = self.data.fold(exp.fold, self.device)["train"]
        self.fit(method, exp, train, steps=self.STEPS[exp.variant], batch_size=4, ckpt_every=2, log_every=2)
        return method

    def evaluate(self, exp, method):
        test = self.data.fold(exp.fold, self.device)["test"]
        with torch.no_grad():
            logits = method.nets["C"].eval()(test.data["image"])
        return {"accuracy": float((logits.argmax(1) == test.data["expression"]).double().mean()),
                "weights": torch.cat([p.detach().flatten() for p in method.nets.parameters()])}
