"""LightCNN-29 v2 (Wu, He, Sun & Tan, "A Light CNN for Deep Face Representation with Noisy
Labels", TIFS 2018): the face-recognition network several chapters use as an identity
feature extractor (FESR's ``F_id`` and the frozen front of its ``R``, Comp-GAN's and
FaPE-GAN's classifiers).

The layout and the attribute names follow the authors' public v2 model so that their
released checkpoint loads after the usual ``module.`` prefix is stripped:
``conv1`` (MFM 5x5) -> pool -> ``block1`` -> ``group1`` -> pool -> ``block2`` -> ``group2``
-> pool -> ``block3`` -> ``group3`` -> ``block4`` -> ``group4`` -> pool -> ``fc`` (256) ->
``fc2`` (identities). Every pool is ``max_pool(2) + avg_pool(2)`` as in v2.

No weights ship with this project (licence, and no downloads here). A user who has the
public file passes its path to :func:`load_lightcnn29v2`; otherwise the chapters train a
narrow network of the same layout on their training identities and say so (``source``).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MFM", "LightCNN29v2", "LightCNNSpec", "with_batch_norm", "LightCNNStem", "LightCNNWeightsError", "load_lightcnn29v2", "to_lightcnn_input"]

_PREFIXES = ("module.", "model.", "net.", "backbone.", "features.")


class LightCNNWeightsError(ValueError):
    """A LightCNN weight file does not fit the network (wrong keys or shapes)."""


class MFM(nn.Module):
    """Max-feature-map: a convolution (or linear map) to ``2 * out`` channels, then the
    element-wise max of its two halves."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, *, linear: bool = False):
        super().__init__()
        self.out_channels = out_channels
        self.filter = (nn.Linear(in_channels, 2 * out_channels) if linear else
                       nn.Conv2d(in_channels, 2 * out_channels, kernel_size, stride, padding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(self.filter(x), self.out_channels, dim=1)
        return torch.maximum(a, b)


class _Group(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_a = MFM(cin, cin, 1, 1, 0)
        self.conv = MFM(cin, cout, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv_a(x))


class _ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1 = MFM(c, c, 3, 1, 1)
        self.conv2 = MFM(c, c, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


class _MaxAvgPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 2) + F.avg_pool2d(x, 2)


def to_lightcnn_input(x: torch.Tensor, *, in_channels: int, input_size: int | None) -> torch.Tensor:
    """Map images of the dataset contract to LightCNN's convention.

    Args:
        x: ``(B, C, H, W)`` in [-1, 1], ``C`` in {1, 3}.
        in_channels: channels the network takes (1 for the public weights: grey).
        input_size: resize (bilinear) to this side length; ``None`` keeps ``H, W``.

    Returns:
        ``(B, in_channels, S, S)`` in [0, 1].
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    x = (x + 1) / 2
    c = x.shape[1]
    if c != in_channels:
        if c == 3 and in_channels == 1:
            x = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        elif c == 1:
            x = x.expand(-1, in_channels, -1, -1)
        else:
            raise ValueError(f"cannot feed {c}-channel images to a LightCNN built for {in_channels} channels")
    if input_size is not None and tuple(x.shape[-2:]) != (input_size, input_size):
        x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
    return x


class LightCNNStem(nn.Module):
    """LightCNN-29 v2 from the input up to the third pooling ("Conv1-Pool3", Table II of FESR).

    Input ``(B, C, H, W)`` in [-1, 1]; output ``(B, widths[2], S/8, S/8)`` with ``S`` the
    network's ``input_size`` (or ``H`` when it has none).
    """

    def __init__(self, net: "LightCNN29v2"):
        super().__init__()
        self.in_channels, self.input_size = net.in_channels, net.input_size
        self.layers = nn.Sequential(
            copy.deepcopy(net.conv1), _MaxAvgPool(), copy.deepcopy(net.block1), copy.deepcopy(net.group1), _MaxAvgPool(),
            copy.deepcopy(net.block2), copy.deepcopy(net.group2), _MaxAvgPool(),
        )
        self.out_channels = net.widths[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(to_lightcnn_input(x, in_channels=self.in_channels, input_size=self.input_size))


class LightCNN29v2(nn.Module):
    """LightCNN-29 v2, with the widths and input size as options for small profiles.

    Args:
        in_channels: 1 for the public weights (grey faces).
        widths: output channels of ``conv1, group1, group2, group3, group4``;
            ``(48, 96, 192, 128, 128)`` is the published network.
        layers: residual blocks in ``block1..block4``; ``(1, 2, 3, 4)`` makes the 29 layers.
        input_size: side length the network sees (128 published); inputs of another size are
            resized by :func:`to_lightcnn_input`. A multiple of 16.
        feature_dim: width of ``fc`` (the identity feature, 256 published).
        num_classes: identities of ``fc2``; ``None`` builds the feature extractor only.

    ``forward(x)`` takes ``(B, C, H, W)`` in [-1, 1] and returns the ``(B, feature_dim)``
    identity features; :meth:`logits` adds ``fc2``. ``source`` says where the weights came from.
    """

    def __init__(self, *, in_channels: int = 1, widths: Sequence[int] = (48, 96, 192, 128, 128),
                 layers: Sequence[int] = (1, 2, 3, 4), input_size: int = 128, feature_dim: int = 256,
                 num_classes: int | None = None):
        super().__init__()
        if len(widths) != 5 or len(layers) != 4 or min(widths) < 1 or min(layers) < 0:
            raise ValueError(f"LightCNN29v2 needs 5 positive widths and 4 block counts, got widths={widths}, layers={layers}")
        if input_size % 16:
            raise ValueError(f"LightCNN29v2 input_size must be a multiple of 16 (four 2x poolings), got {input_size}")
        self.in_channels, self.widths, self.layers_per_block = in_channels, tuple(widths), tuple(layers)
        self.input_size, self.feature_dim, self.num_classes = input_size, feature_dim, num_classes
        w0, w1, w2, w3, w4 = widths
        self.conv1 = MFM(in_channels, w0, 5, 1, 2)
        self.block1 = nn.Sequential(*[_ResBlock(w0) for _ in range(layers[0])])
        self.group1 = _Group(w0, w1)
        self.block2 = nn.Sequential(*[_ResBlock(w1) for _ in range(layers[1])])
        self.group2 = _Group(w1, w2)
        self.block3 = nn.Sequential(*[_ResBlock(w2) for _ in range(layers[2])])
        self.group3 = _Group(w2, w3)
        self.block4 = nn.Sequential(*[_ResBlock(w3) for _ in range(layers[3])])
        self.group4 = _Group(w3, w4)
        self.pool = _MaxAvgPool()
        self.fc = nn.Linear(w4 * (input_size // 16) ** 2, feature_dim)
        self.fc2 = nn.Linear(feature_dim, num_classes, bias=False) if num_classes else None
        self.source = "random initialisation"

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = to_lightcnn_input(x, in_channels=self.in_channels, input_size=self.input_size)
        x = self.pool(self.conv1(x))
        x = self.pool(self.group1(self.block1(x)))
        x = self.pool(self.group2(self.block2(x)))
        x = self.group3(self.block3(x))
        x = self.pool(self.group4(self.block4(x)))
        return self.fc(x.flatten(1))

    forward = features

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, num_classes)`` identity logits (dropout on the feature as in the original)."""
        if self.fc2 is None:
            raise ValueError("this LightCNN29v2 was built without fc2 (num_classes=None); it gives features only")
        return self.fc2(F.dropout(self.features(x), training=self.training))

    def stem(self) -> LightCNNStem:
        """A copy of the layers up to pool3 (FESR's frozen "Conv1-Pool3")."""
        return LightCNNStem(self)


def with_batch_norm(net: LightCNN29v2) -> LightCNN29v2:
    """``net`` with a BatchNorm after every MFM convolution (in place; returned for chaining).

    Not the published network (it has no normalisation): the book's CPU profiles use it because a
    narrow LightCNN trained from scratch for a few hundred SGD updates otherwise stays at chance.
    """
    for m in net.modules():
        if isinstance(m, MFM) and isinstance(m.filter, nn.Conv2d):
            m.filter = nn.Sequential(m.filter, nn.BatchNorm2d(m.filter.out_channels))
    return net


@dataclass(frozen=True)
class LightCNNSpec:
    """The LightCNN-29 v2 options of a recogniser built on it (Comp-GAN's ``F_cls``, Fa-Net).

    ``widths``/``layers``/``feature_dim`` are LightCNN's (published: (48, 96, 192, 128, 128),
    (1, 2, 3, 4), 256); ``input_size`` the side it sees (published 128; a multiple of 16);
    ``channels`` of the faces it reads; ``dropout`` on the feature before a head (0.5 in the
    original). ``batch_norm``: a BatchNorm after every MFM convolution (:func:`with_batch_norm`,
    the CPU profiles' deviation).
    """

    channels: int = 3
    input_size: int = 128
    widths: tuple[int, int, int, int, int] = (48, 96, 192, 128, 128)
    layers: tuple[int, int, int, int] = (1, 2, 3, 4)
    feature_dim: int = 256
    dropout: float = 0.5
    batch_norm: bool = False

    def backbone(self) -> LightCNN29v2:
        """A freshly initialised feature extractor of this shape (``(B, C, H, W)`` -> ``(B, feature_dim)``)."""
        net = LightCNN29v2(in_channels=self.channels, widths=self.widths, layers=self.layers,
                           input_size=self.input_size, feature_dim=self.feature_dim)
        return with_batch_norm(net) if self.batch_norm else net


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "net"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise LightCNNWeightsError(f"{path} holds no state_dict (a dict of tensors); save model.state_dict() to it")
    out = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            continue
        while k.startswith(_PREFIXES):
            k = k.split(".", 1)[1]
        out[k] = v
    return out


def load_lightcnn29v2(path: str | os.PathLike, *, num_classes: int | None = None, **arch) -> LightCNN29v2:
    """Build a :class:`LightCNN29v2` and load user weights from ``path``.

    Reads ``.pth``/``.pt``/``.pth.tar`` with ``torch.load(weights_only=True)`` and
    ``.safetensors`` with safetensors. Accepts a bare state_dict or one wrapped under
    ``"state_dict"``/``"model"``, with the prefixes ``module.`` (DataParallel), ``model.``,
    ``net.``, ``backbone.`` stripped. The identity classifier ``fc2`` of the file is dropped
    unless ``num_classes`` asks for it.

    Args:
        path: the weight file.
        num_classes: keep ``fc2`` with this many identities (must match the file).
        **arch: further :class:`LightCNN29v2` options (the defaults are the published network).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        LightCNNWeightsError: keys or shapes do not match the network.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"LightCNN-29 v2 weights not found at {path}. Pass the path of the authors' "
            "LightCNN_29Layers_V2 checkpoint you obtained, or pass none to train a stand-in identity net.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        raw: object = load_file(str(path))
    else:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise LightCNNWeightsError(f"{path} could not be read as a torch weight file ({type(exc).__name__}: {exc})") from exc
    state = _unwrap(raw, path)
    if num_classes is None:
        state = {k: v for k, v in state.items() if not k.startswith("fc2.")}
    net = LightCNN29v2(num_classes=num_classes, **arch)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs net {tuple(v.shape)}"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        def show(xs: list[str]) -> str:
            return ", ".join(xs[:5]) + (f" (+{len(xs) - 5} more)" if len(xs) > 5 else "")
        parts = [f"missing {show(missing)}" if missing else "", f"unexpected {show(unexpected)}" if unexpected else "",
                 f"shape mismatch {show(wrong)}" if wrong else ""]
        raise LightCNNWeightsError(
            f"{path} does not fit LightCNN29v2({arch or 'published layout'}): " + "; ".join(p for p in parts if p)
            + ". Is it a LightCNN-29 v2 file? For another layout pass matching widths/layers/input_size.")
    net.load_state_dict(state)
    net.source = f"LightCNN-29 v2 weights from {path}"
    return net
