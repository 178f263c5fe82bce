"""Plain supervised expression recognition: the baseline every chapter compares against."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from fer_core.progress import tqdm

from fer_core import runtime
from fer_core.train import GPUCachedDataset, Method, StepContext, fit, make_adam

__all__ = ["Classifier", "train_classifier", "predict", "extract_features"]


class Classifier(Method):
    """Cross-entropy training of ``net`` on ``batch["image"] -> batch[target]`` with Adam."""

    def __init__(self, net: nn.Module, *, lr: float = 1e-3, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), target: str = "expression", label_smoothing: float = 0.0):
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.nets = nn.ModuleDict({"net": net})
        self.optimizers = {"net": make_adam(net.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)}
        self.schedulers = {}
        self.target = target
        self.label_smoothing = label_smoothing

    @property
    def net(self) -> nn.Module:
        return self.nets["net"]

    def step(self, batch: dict, ctx: StepContext) -> dict[str, torch.Tensor]:
        with ctx.autocast():
            logits = self.net(batch["image"])
            loss = nn.functional.cross_entropy(logits.float(), batch[self.target], label_smoothing=self.label_smoothing)
        ctx.update("net", loss)
        acc = (logits.argmax(1) == batch[self.target]).float().mean()
        return {"loss": loss, "acc": acc}


def train_classifier(train_ds: Dataset, *, net: nn.Module, steps: int, batch_size: int = 64, lr: float = 1e-3,
                     weight_decay: float = 0.0, seed: int = 0, device: str | torch.device = "auto",
                     target: str = "expression", run_dir=None, progress: bool = True, desc: str = "classifier",
                     **fit_kwargs) -> Classifier:
    """Train ``net`` on ``train_ds`` with the shared loop and return the trained :class:`Classifier`."""
    runtime.seed_everything(seed)
    method = Classifier(net, lr=lr, weight_decay=weight_decay, target=target)
    fit(method, train_ds, steps=steps, batch_size=batch_size, seed=seed, device=device, run_dir=run_dir,
        progress=progress, desc=desc, **fit_kwargs)
    return method


@torch.no_grad()
def _batches(dataset: Dataset, batch_size: int, device: torch.device, progress: bool, desc: str):
    resident = bool(getattr(dataset, "is_device_resident", False))  # GPUCachedDataset: batches come collated
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        collate_fn=GPUCachedDataset.collate if resident else None)
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
        yield {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


@torch.no_grad()
def predict(net: nn.Module, dataset: Dataset, *, batch_size: int = 256, device: str | torch.device = "auto",
            target: str = "expression", progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, K)`` and labels ``(N,)`` of ``net`` over ``dataset`` (in order, eval mode, on CPU)."""
    device = runtime.pick_device(device)
    was_training = net.training
    net.eval().to(device)
    logits, labels = [], []
    for batch in _batches(dataset, batch_size, device, progress, "predict"):
        with runtime.autocast(device):
            logits.append(net(batch["image"]).float().cpu())
        labels.append(batch[target].cpu())
    net.train(was_training)
    return torch.cat(logits), torch.cat(labels)


@torch.no_grad()
def extract_features(net: nn.Module, dataset: Dataset, *, batch_size: int = 256, device: str | torch.device = "auto",
                     keys: tuple[str, ...] = ("expression", "identity"), progress: bool = False) -> dict[str, torch.Tensor]:
    """``net.features`` of every sample, ``(N, D)``, with the label columns named in ``keys``."""
    device = runtime.pick_device(device)
    was_training = net.training
    net.eval().to(device)
    out: dict[str, list[torch.Tensor]] = {"features": [], **{k: [] for k in keys}}
    for batch in _batches(dataset, batch_size, device, progress, "features"):
        with runtime.autocast(device):
            out["features"].append(net.features(batch["image"]).float().cpu())
        for k in keys:
            out[k].append(batch[k].cpu())
    net.train(was_training)
    return {k: torch.cat(v) for k, v in out.items()}
