"""Identity networks: the stand-in for LightCNN-29 v2 when no published weights are given.

FESR's ``F_id`` (and the front of its ``R``), Comp-GAN's and FaPE-GAN's identity features
and the generator judge all need a network that maps a face to an identity feature. With
the published LightCNN-29 v2 weights (:func:`~fer_core.nets.lightcnn.load_lightcnn29v2`)
that is LightCNN itself; without them :func:`train_identity_net` trains a small network on
the training identities of a split, and ``source`` says which one a chapter used.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from fer_core.nets.lightcnn import LightCNN29v2
from fer_core.nets.small import conv_block
from fer_core.train import Method, StepContext, fit, make_adam

__all__ = ["IdentityCNN", "IdentityExtractor", "IdentityTraining", "identity_classes", "build_identity_net",
           "describe_stand_in", "train_identity_net"]


class _Stem(nn.Sequential):
    out_channels: int


class IdentityCNN(nn.Module):
    """A small face-identity network: the stand-in for LightCNN-29 when no weights are given.

    Four blocks of [Conv 3x3, BN, ReLU] x 2 + MaxPool(2) with ``widths``, global average
    pooling, FC(``feature_dim``) (the identity feature), and FC(identities) for training.
    ``forward``/``features``: ``(B, C, S, S)`` in [-1, 1] -> ``(B, feature_dim)``; ``logits`` adds
    the identity classifier. :meth:`stem` copies the first three blocks (``S -> S/8``, the
    same reduction as LightCNN's Conv1-Pool3).

    Deviation from the papers: they use the published LightCNN-29. Trained from scratch on a
    few dozen identities for a few hundred steps, the LightCNN layout (no normalisation) stays
    near chance on the synthetic world; batch-normalised blocks learn in that budget.
    """

    def __init__(self, *, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64, 64), feature_dim: int = 128,
                 num_classes: int | None = None):
        super().__init__()
        if len(widths) != 4 or min(widths) < 1 or feature_dim < 1:
            raise ValueError(f"IdentityCNN needs 4 positive block widths and feature_dim >= 1, got {widths}, {feature_dim}")
        chans = (in_channels, *widths)
        self.blocks = nn.Sequential(*[conv_block(chans[i], chans[i + 1]) for i in range(4)])
        self.fc = nn.Linear(widths[-1], feature_dim)
        self.fc2 = nn.Linear(feature_dim, num_classes) if num_classes else None
        self.in_channels, self.widths, self.feature_dim, self.num_classes = in_channels, tuple(widths), feature_dim, num_classes
        self.source = "random initialisation"

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(x).mean(dim=(2, 3)))

    forward = features

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, num_classes)`` identity logits."""
        if self.fc2 is None:
            raise ValueError("this IdentityCNN was built without an identity classifier (num_classes=None)")
        return self.fc2(F.dropout(self.features(x), p=0.2, training=self.training))

    def stem(self) -> _Stem:
        """A copy of the first three blocks, ``(B, C, S, S)`` -> ``(B, widths[2], S/8, S/8)``."""
        stem = _Stem(*copy.deepcopy(list(self.blocks[:3])))
        stem.out_channels = self.widths[2]
        return stem


class IdentityExtractor(nn.Module):
    """A frozen identity network in eval mode, ``(B, c, S, S)`` in [-1, 1] -> ``(B, D)`` (FESR's ``F_id``).

    Wraps a LightCNN-29 v2 (published weights) or an :class:`IdentityCNN` stand-in;
    ``source`` says which.
    """

    def __init__(self, net: "LightCNN29v2 | IdentityCNN"):
        super().__init__()
        self.net = net
        self.source = net.source
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "IdentityExtractor":
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)


class IdentityTraining(Method):
    """Cross-entropy over the training identities (``batch["identity"]``), Adam."""

    def __init__(self, net: "LightCNN29v2 | IdentityCNN", lr: float = 1e-3):
        self.nets = nn.ModuleDict({"F_id": net})
        self.optimizers = {"F_id": make_adam(net.parameters(), lr=lr)}
        self.schedulers = {}

    def step(self, batch: dict, ctx: StepContext) -> dict[str, torch.Tensor]:
        with ctx.autocast():
            logits = self.nets["F_id"].logits(batch["image"])
            loss = F.cross_entropy(logits, batch["identity"])
        ctx.update("F_id", loss)
        return {"loss_id": loss, "acc_id": (logits.argmax(1) == batch["identity"]).float().mean()}


def identity_classes(dataset: Dataset) -> tuple[int, int]:
    """(classifier width = largest identity code + 1, number of distinct identities present)."""
    data = getattr(dataset, "data", None)
    if isinstance(data, dict) and isinstance(data.get("identity"), torch.Tensor):
        codes = data["identity"]
    else:
        codes = torch.as_tensor([int(dataset[i]["identity"]) for i in range(len(dataset))])
    return int(codes.max()) + 1, int(codes.unique().numel())


def build_identity_net(dataset: Dataset, *, arch: str = "cnn", widths: Sequence[int] | None = None,
                       layers: Sequence[int] = (1, 1, 1, 1), feature_dim: int = 128) -> "LightCNN29v2 | IdentityCNN":
    """An untrained identity network with one output per identity code of ``dataset``.

    Args:
        arch: ``"lightcnn"`` (the LightCNN-29 v2 layout; ``widths`` of its five stages, default
            ``(16, 32, 48, 32, 32)``, and ``layers``) or ``"cnn"`` (an :class:`IdentityCNN`;
            ``widths`` of its four blocks, default ``(16, 32, 64, 64)``).

    ``net.layout`` describes it; ``net.n_identities`` is how many identities ``dataset`` holds.
    """
    if arch not in ("lightcnn", "cnn"):
        raise ValueError(f"arch must be 'lightcnn' or 'cnn', got {arch!r}")
    probe = dataset[0]["image"]
    n_out, n_present = identity_classes(dataset)
    if arch == "lightcnn":
        widths = tuple(widths or (16, 32, 48, 32, 32))
        net: LightCNN29v2 | IdentityCNN = LightCNN29v2(in_channels=probe.shape[0], widths=widths, layers=layers,
                                                       input_size=probe.shape[-1], feature_dim=feature_dim,
                                                       num_classes=n_out)
        net.layout = f"LightCNN-29 v2 layout, widths {widths}, blocks {tuple(layers)}"
    else:
        widths = tuple(widths or (16, 32, 64, 64))
        net = IdentityCNN(in_channels=probe.shape[0], widths=widths, feature_dim=feature_dim, num_classes=n_out)
        net.layout = f"IdentityCNN, BN conv blocks {widths}"
    net.n_identities = n_present
    return net


def describe_stand_in(net: "LightCNN29v2 | IdentityCNN", steps: int) -> str:
    """The ``source`` line of a stand-in identity network trained for ``steps`` steps."""
    return (f"stand-in identity net ({net.layout}) trained from scratch on {net.n_identities} training identities "
            f"for {steps} steps")


def train_identity_net(dataset: Dataset, *, steps: int, arch: str = "cnn", batch_size: int = 32,
                       lr: float = 1e-3, widths: Sequence[int] | None = None, layers: Sequence[int] = (1, 1, 1, 1),
                       feature_dim: int = 128, seed: int = 0, run_dir: str | Path | None = None,
                       device: str | torch.device = "auto", progress: bool = True) -> "LightCNN29v2 | IdentityCNN":
    """Train a stand-in identity network that classifies the *training* identities of ``dataset``.

    ``dataset`` items need ``"image"`` ``(C, S, S)`` in [-1, 1] and ``"identity"``. With
    ``run_dir`` the training is checkpointed by :func:`~fer_core.train.fit` and a finished
    run is simply reloaded. Seeds the global RNG with ``seed`` before building the network.

    Returns:
        the trained network (in eval mode, on the CPU) with ``source`` set.
    """
    torch.manual_seed(seed)
    net = build_identity_net(dataset, arch=arch, widths=widths, layers=layers, feature_dim=feature_dim)
    fit(IdentityTraining(net, lr), dataset, steps=steps, batch_size=batch_size, run_dir=run_dir, seed=seed,
        device=device, progress=progress, desc="F_id")
    net.cpu().eval()
    net.source = describe_stand_in(net, steps)
    return net

