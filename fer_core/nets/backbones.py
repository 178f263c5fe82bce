"""torchvision backbones with replaceable heads: AlexNet, VGG11/13/16/19, ResNet18/34/50.

GroupGAN runs its four frameworks on eight "BaseNets" (AlexNet, VGG11/13/16/19,
ResNet18/34/50) with reduced fully connected heads of 512 and 256 units; JESRL's classifier
and perceptual loss use VGG19. :func:`backbone` builds any of them by name from
torchvision's own definitions (``weights=None``: nothing is downloaded), replaces the
classifier by the book's head, and optionally loads ImageNet weights from a file the reader
holds (``weights_only=True``).

A :class:`Backbone` maps ``(B, C, H, W)`` in [-1, 1] (C = 1 or 3; grey faces are repeated to
three channels) to ``features`` ``(B, fc[-1])`` and logits ``(B, K)``:
``trunk`` (the convolutional part) -> global pooling -> ``head`` (FC-ReLU-Dropout per entry of
``fc``) -> ``classifier`` (FC to K).

Deviation from the papers: torchvision pools VGG and AlexNet features to 7x7 and 6x6 before
their FC layers (made for 224 px ImageNet images); at the book's 32-128 px faces we pool to
``pool`` x ``pool`` (default 1, a global average), which keeps the first FC layer small.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
from torchvision import models

__all__ = ["BACKBONES", "Backbone", "backbone", "load_torchvision_weights", "MIN_SIZE"]


@dataclass(frozen=True)
class _Spec:
    build: Callable[..., nn.Module]
    family: str  # "vgg", "resnet", "alexnet"


class _VGGFeatures(nn.Module):
    """torchvision's VGG convolutional part alone (``features``, same layer names), built without the
    102M-parameter ImageNet classifier the book replaces anyway."""

    def __init__(self, cfg: str, *, weights: None = None):
        super().__init__()
        self.features = models.vgg.make_layers(models.vgg.cfgs[cfg])


BACKBONES: dict[str, _Spec] = {
    "alexnet": _Spec(models.alexnet, "alexnet"),
    "vgg11": _Spec(lambda weights=None: _VGGFeatures("A"), "vgg"),
    "vgg13": _Spec(lambda weights=None: _VGGFeatures("B"), "vgg"),
    "vgg16": _Spec(lambda weights=None: _VGGFeatures("D"), "vgg"),
    "vgg19": _Spec(lambda weights=None: _VGGFeatures("E"), "vgg"),
    "resnet18": _Spec(models.resnet18, "resnet"), "resnet34": _Spec(models.resnet34, "resnet"),
    "resnet50": _Spec(models.resnet50, "resnet"),
}
#: Smallest input side each family accepts (AlexNet's stride-4 stem and three max-pools need 64 px).
MIN_SIZE = {"alexnet": 64, "vgg": 32, "resnet": 32}


def load_torchvision_weights(model: nn.Module, path: str | os.PathLike) -> list[str]:
    """Load an ImageNet checkpoint of the same torchvision architecture from ``path`` (a state dict
    in a ``.pth`` file read with ``weights_only=True``, or ``.safetensors``). The classifier's
    weights are skipped (the book replaces it). Returns the keys that were loaded.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file's keys or shapes do not fit ``model``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights not found at {path}; pass the path of the torchvision ImageNet "
                                "checkpoint you hold (e.g. vgg19-dcbb9e9d.pth), or none to train from scratch")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and not k.startswith(("classifier.", "fc."))}
    wrong = [k for k, v in usable.items() if own[k].shape != v.shape]
    if wrong or not usable:
        raise ValueError(f"{path} does not fit torchvision's {type(model).__name__}: "
                         + (f"shape mismatch in {wrong[:3]}" if wrong else "no matching keys") +
                         "; is it the ImageNet checkpoint of the same architecture?")
    model.load_state_dict(usable, strict=False)
    return sorted(usable)


def _trunk(model: nn.Module, family: str, pool: int) -> tuple[nn.Module, int]:
    """The convolutional part of a torchvision model, pooled to ``pool`` x ``pool``, and its flat width."""
    if family == "resnet":
        body = nn.Sequential(*list(model.children())[:-2])
        width = model.fc.in_features
    else:
        body = model.features
        width = [m for m in body if isinstance(m, nn.Conv2d)][-1].out_channels
    return nn.Sequential(body, nn.AdaptiveAvgPool2d(pool), nn.Flatten()), width * pool * pool


class Backbone(nn.Module):
    """A torchvision network as a face-expression recogniser with a replaceable head.

    Args:
        name: a key of :data:`BACKBONES`.
        num_classes: K, the classifier's outputs.
        fc: widths of the head's FC layers (GroupGAN's reduced head: ``(512, 256)``); ``()``
            puts the classifier right on the pooled trunk.
        dropout: dropout after each head layer.
        pool: side of the pooled feature map before the head (1: global average).
        weights: path of torchvision ImageNet weights to start the trunk from.

    Shapes: ``forward`` ``(B, C, H, W)`` -> ``(B, K)``; ``features`` -> ``(B, feature_dim)``;
    ``trunk`` alone -> ``(B, trunk_dim)``.
    """

    def __init__(self, name: str, *, num_classes: int = 7, fc: Sequence[int] = (512, 256), dropout: float = 0.5,
                 pool: int = 1, weights: str | os.PathLike | None = None):
        super().__init__()
        if name not in BACKBONES:
            raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
        if num_classes < 2 or pool < 1 or not 0 <= dropout < 1 or any(w < 1 for w in fc):
            raise ValueError(f"need num_classes >= 2, pool >= 1, 0 <= dropout < 1 and positive fc widths; got "
                             f"{num_classes}, {pool}, {dropout}, {tuple(fc)}")
        spec = BACKBONES[name]
        model = spec.build(weights=None)
        self.weights_source = "random initialisation (no ImageNet weights)"
        if weights is not None:
            load_torchvision_weights(model, weights)
            self.weights_source = f"ImageNet weights from {weights}"
        self.name, self.family = name, spec.family
        self.trunk, self.trunk_dim = _trunk(model, spec.family, pool)
        layers: list[nn.Module] = []
        cin = self.trunk_dim
        for w in fc:
            layers += [nn.Linear(cin, w), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            cin = w
        self.head = nn.Sequential(*layers)
        self.feature_dim = cin
        self.classifier = nn.Linear(cin, num_classes)
        self.num_classes = num_classes

    def _rgb(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected (B, 1 or 3, H, W) images, got {tuple(x.shape)}")
        if min(x.shape[-2:]) < MIN_SIZE[self.family]:
            raise ValueError(f"{self.name} needs images of at least {MIN_SIZE[self.family]} px, got "
                             f"{tuple(x.shape[-2:])}")
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(self._rgb(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def backbone(name: str, **options) -> Backbone:
    """:class:`Backbone` ``name`` (see its arguments)."""
    return Backbone(name, **options)
