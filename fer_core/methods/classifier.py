"""Plain supervised expression recognition: the baseline every chapter compares against.

Evaluation (predictions, accuracy, features) lives in :mod:`fer_core.evaluate`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from fer_core import runtime
from fer_core.train import Method, StepContext, cosine_decay, fit, make_adam

__all__ = ["Classifier", "train_classifier", "train_plain_cnn"]


class Classifier(Method):
    """Cross-entropy training of ``net`` on ``batch["image"] -> batch[target]`` with Adam."""

    def __init__(self, net: nn.Module, *, lr: float = 1e-3, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), target: str = "expression", label_smoothing: float = 0.0,
                 decay_steps: int | None = None):
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.nets = nn.ModuleDict({"net": net})
        self.optimizers = {"net": make_adam(net.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)}
        # decay_steps: the rate falls to 0 along a cosine over that many steps (see train.cosine_decay)
        self.schedulers = {"net": cosine_decay(self.optimizers["net"], decay_steps)} if decay_steps else {}
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
        if "net" in self.schedulers:
            self.schedulers["net"].step()
        acc = (logits.argmax(1) == batch[self.target]).float().mean()
        return {"loss": loss, "acc": acc}


def train_plain_cnn(study, exp, train: Dataset, *, steps: int, batch_size: int, lr: float,
                    decay: bool = False) -> Classifier:
    """The book's plain CNN (:class:`~fer_core.nets.small.SmallCNN` of ``P["cnn_width"]``) for
    ``exp`` of ``study``: seeded by ``exp.seed``, trained by ``study.fit`` on ``train`` for ``steps``
    updates (the learning rate cosine-decayed over them when ``decay``); returned in eval mode."""
    from fer_core.nets.small import SmallCNN

    torch.manual_seed(exp.seed)
    runtime.seed_everything(exp.seed)
    net = SmallCNN(int(study.P["channels"]), len(study.data.classes), width=int(study.P["cnn_width"]))
    method = Classifier(net, lr=lr, decay_steps=steps if decay else None)
    study.fit(method, exp, train, steps=steps, batch_size=batch_size)
    method.nets.eval()
    return method


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
