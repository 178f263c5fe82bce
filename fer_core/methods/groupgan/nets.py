"""Networks of GroupGAN (Sec. 3.2 "Architecture", Fig. 3): the generator G, the discriminators D and
D', and the BaseNet that is the extractor E and the classifier C.

Paper: "GroupGAN: weak expression recognition by magnifying expressions" (Niu et al., KBS 2022).
The losses are in :mod:`fer_core.methods.groupgan.losses`, the training step (Algorithm 1) and
the four frameworks of Table 1 in :mod:`fer_core.methods.groupgan.method`.

- ``G`` is an encoder-decoder: four convolutions with kernels 7, 5, 3, 3, each followed by a
  residual block, then four transposed convolutions and two 3x3 convolutions. At the bottleneck
  the encoder's map is concatenated with the extractor's expression features ``F_exp``
  (tiled over the map), Fig. 3's "blue and green cubes".
- ``D`` (real vs fake) and ``D'`` (peak vs weak) are VGG-like: 3x3 convolutions and max-pools,
  then fully connected layers; in 2V2 ``F_exp`` enters as conditional information next to the
  flattened image features (Eqs. 14-17).
- ``E`` and ``C`` are one BaseNet from :mod:`fer_core.nets.backbones` (torchvision AlexNet,
  VGG11/13/16/19, ResNet18/34/50 with the reduced 512/256 FC head of Sec. 4.3): ``E`` is the
  network without its last FC layer (``features``, ``(B, 256)``), ``C`` is that last layer.

Deviation from the paper: channel widths, strides, normalisation and the discriminators' depth
are not given; :class:`GroupGANConfig` holds our choices (the encoder halves the resolution
three times, so a 128 px face has a 16x16 bottleneck and a 32 px face a 4x4 one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from fer_core.nets.backbones import BACKBONES, MIN_SIZE, Backbone
from fer_core.nets.registry import images, register_net

__all__ = ["GroupGANConfig", "ResidualBlock", "Generator", "Discriminator", "BaseNet", "BASENETS",
           "base_net", "tile_features"]

#: Table 1's BaseNets, in the paper's order (keys of :data:`fer_core.nets.backbones.BACKBONES`).
BASENETS = ("alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "resnet18", "resnet34", "resnet50")


@dataclass(frozen=True)
class GroupGANConfig:
    """The generator's and discriminators' architecture (Sec. 3.2 "Architecture").

    Fields: ``image_size`` (S; 128 in the paper), ``channels``, ``kernels`` (the encoder's four
    filter sizes, 7-5-3-3 in the paper), ``strides`` (our choice: 1-2-2-2), ``widths`` (the four
    encoder widths; the decoder mirrors them), ``cond_dim`` (the length of ``F_exp``: the BaseNet's
    feature size, 256 with the reduced head; 0 builds G and D without the conditional input),
    ``d_widths`` (the VGG-like discriminators' conv widths, one max-pool after each),
    ``d_fc`` (their hidden FC width), ``leaky_slope``, ``residual`` (G adds its output to the input face,
    ``clamp(x + G_dec(...), -1, 1)``, so an untrained G starts near a copy; deviation from the paper, which
    decodes the face itself: at CPU budgets a decoder does not learn to redraw the whole face).
    """

    image_size: int = 128
    channels: int = 3
    kernels: tuple[int, int, int, int] = (7, 5, 3, 3)
    strides: tuple[int, int, int, int] = (1, 2, 2, 2)
    widths: tuple[int, int, int, int] = (32, 64, 128, 256)
    cond_dim: int = 256
    d_widths: tuple[int, ...] = (32, 64, 128, 256)
    d_fc: int = 256
    leaky_slope: float = 0.2
    residual: bool = False

    def __post_init__(self) -> None:
        if len(self.kernels) != 4 or len(self.strides) != 4 or len(self.widths) != 4:
            raise ValueError(f"GroupGAN's encoder has four convolutions: kernels, strides and widths need 4 entries "
                             f"each, got {self.kernels}, {self.strides}, {self.widths}")
        if any(k % 2 == 0 or k < 1 for k in self.kernels) or any(s not in (1, 2) for s in self.strides):
            raise ValueError(f"kernels must be odd and strides 1 or 2; got {self.kernels}, {self.strides}")
        down = 2 ** sum(s == 2 for s in self.strides)
        if self.image_size % down or self.image_size // down < 2:
            raise ValueError(f"image_size={self.image_size} must be divisible by {down} (the encoder's strides "
                             f"{self.strides}) and leave a bottleneck of at least 2x2")
        pools = 2 ** len(self.d_widths)
        if self.image_size % pools or not self.d_widths:
            raise ValueError(f"image_size={self.image_size} must be divisible by 2**len(d_widths) = {pools}; "
                             f"use fewer d_widths at small sizes (GroupGANConfig.at)")
        if self.channels not in (1, 3) or self.cond_dim < 0 or min(self.widths) < 1 or self.d_fc < 1:
            raise ValueError(f"need channels 1 or 3, cond_dim >= 0 and positive widths; got {self.channels}, "
                             f"{self.cond_dim}, {self.widths}, {self.d_fc}")

    @property
    def bottleneck(self) -> int:
        """Side of the encoder's output map."""
        return self.image_size // 2 ** sum(s == 2 for s in self.strides)

    @classmethod
    def at(cls, image_size: int, *, width: int = 32, channels: int = 3, cond_dim: int = 256,
           residual: bool = False) -> "GroupGANConfig":
        """The architecture for ``image_size`` px with first width ``width`` (widths w, 2w, 4w, 8w; the
        discriminators pool down to a 2x2 map at most four times)."""
        w = int(width)
        pools = max(1, min(4, (int(image_size) // 2).bit_length() - 1))
        return cls(image_size=int(image_size), channels=channels, widths=(w, 2 * w, 4 * w, 8 * w), cond_dim=cond_dim,
                   d_widths=tuple(w * 2 ** i for i in range(pools)), d_fc=8 * w, residual=residual)


class ResidualBlock(nn.Module):
    """[Conv 3x3, BN, ReLU, Conv 3x3, BN] + identity, then ReLU (He et al.): ``(B, c, H, W)`` -> same."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                                  nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


def tile_features(F_exp: torch.Tensor, side: int) -> torch.Tensor:
    """``(B, d)`` -> ``(B, d, side, side)``: a feature vector repeated over a map, for concatenation."""
    return F_exp[:, :, None, None].expand(-1, -1, side, side)


class Generator(nn.Module):
    """G: the weak face (and in 2V2 its expression features) -> the magnified face.

    ``G_enc``: four [Conv(k_i, stride s_i), BN, ReLU] each followed by a :class:`ResidualBlock`;
    ``G_dec``: four transposed convolutions (undoing the strides, the last keeping the size) and
    two 3x3 convolutions, the last to ``channels`` with tanh (with ``config.residual``: added to ``x``).

    Shapes: ``forward(x, F_exp=None)``: ``x`` ``(B, C, S, S)`` in [-1, 1], ``F_exp`` ``(B, cond_dim)``
    (``None``: zeros, what DCGAN and 1V2 use, which have no extractor) -> ``(B, C, S, S)`` in [-1, 1].
    ``encode(x)`` -> ``(B, widths[-1], S/8, S/8)``.
    """

    def __init__(self, config: GroupGANConfig):
        super().__init__()
        self.config = c = config
        layers, cin = [], c.channels
        for k, s, w in zip(c.kernels, c.strides, c.widths):
            layers += [nn.Sequential(nn.Conv2d(cin, w, k, stride=s, padding=k // 2, bias=False), nn.BatchNorm2d(w),
                                     nn.ReLU(inplace=True)), ResidualBlock(w)]
            cin = w
        self.G_enc = nn.Sequential(*layers)
        outs = (*reversed(c.widths[:-1]), c.widths[0])
        dec, cin = [], c.widths[-1] + c.cond_dim
        for s, w in zip(reversed(c.strides), outs):
            conv = (nn.ConvTranspose2d(cin, w, 4, stride=2, padding=1, bias=False) if s == 2
                    else nn.ConvTranspose2d(cin, w, 3, stride=1, padding=1, bias=False))
            dec += [conv, nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            cin = w
        dec += [nn.Conv2d(cin, cin, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(cin, c.channels, 3, padding=1),
                nn.Tanh()]
        self.G_dec = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.G_enc(x)

    def bottleneck(self, x: torch.Tensor, F_exp: torch.Tensor | None = None) -> torch.Tensor:
        """``[G_enc(x), F_exp]`` concatenated over channels: ``(B, widths[-1] + cond_dim, S/8, S/8)``."""
        h = self.G_enc(x)
        if self.config.cond_dim == 0:
            if F_exp is not None:
                raise ValueError("this G has cond_dim=0 and takes no F_exp")
            return h
        if F_exp is None:
            F_exp = h.new_zeros(h.shape[0], self.config.cond_dim)
        if F_exp.shape != (h.shape[0], self.config.cond_dim):
            raise ValueError(f"F_exp must be (B, {self.config.cond_dim}) = the extractor's feature size, got "
                             f"{tuple(F_exp.shape)}")
        return torch.cat([h, tile_features(F_exp.to(h.dtype), h.shape[-1])], dim=1)

    def forward(self, x: torch.Tensor, F_exp: torch.Tensor | None = None) -> torch.Tensor:
        out = self.G_dec(self.bottleneck(x, F_exp))
        return (x + out).clamp(-1, 1) if self.config.residual else out


class Discriminator(nn.Module):
    """D or D': a VGG-like binary classifier of faces, conditioned on ``F_exp`` in 2V2 (Eqs. 14-17).

    [Conv 3x3, LeakyReLU, MaxPool 2] per entry of ``d_widths``, flatten, FC(``d_fc``) + LeakyReLU;
    ``[that, F_exp]`` -> FC(``d_fc``) + LeakyReLU -> FC(1), a logit (``D(x) = sigmoid(logit)``).

    Shapes: ``forward(x, F_exp=None)``: ``(B, C, S, S)``, ``(B, cond_dim)`` -> ``(B,)`` logits.
    """

    def __init__(self, config: GroupGANConfig, *, cond_dim: int | None = None):
        super().__init__()
        self.config = c = config
        self.cond_dim = c.cond_dim if cond_dim is None else int(cond_dim)
        layers, cin = [], c.channels
        for w in c.d_widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1), nn.LeakyReLU(c.leaky_slope, inplace=True), nn.MaxPool2d(2)]
            cin = w
        side = c.image_size // 2 ** len(c.d_widths)
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * side * side, c.d_fc),
                                      nn.LeakyReLU(c.leaky_slope, inplace=True))
        self.head = nn.Sequential(nn.Linear(c.d_fc + self.cond_dim, c.d_fc), nn.LeakyReLU(c.leaky_slope, inplace=True),
                                  nn.Linear(c.d_fc, 1))

    def forward(self, x: torch.Tensor, F_exp: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        if self.cond_dim:
            if F_exp is None:
                raise ValueError(f"this discriminator is conditioned (cond_dim={self.cond_dim}): pass F_exp")
            h = torch.cat([h, F_exp.to(h.dtype)], dim=1)
        elif F_exp is not None:
            raise ValueError("this discriminator has cond_dim=0 and takes no F_exp")
        return self.head(h).squeeze(1)


class BaseNet(Backbone):
    """A BaseNet of Table 1 as GroupGAN's extractor E and classifier C (one network).

    ``E(x)`` is the BaseNet without its last FC layer, ``(B, C, S, S)`` -> ``F_exp`` ``(B, fc[-1])``
    (256 with the paper's reduced head); ``C(F)`` is that last layer, ``(B, fc[-1])`` -> ``(B, K)``
    logits; ``forward(x) = C(E(x))``. ``E_parameters()``/``C_parameters()`` split the weights for
    the two optimisers of Algorithm 1.
    """

    def E(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def C(self, F: torch.Tensor) -> torch.Tensor:
        return self.classifier(F)

    def E_parameters(self):
        return [*self.trunk.parameters(), *self.head.parameters()]

    def C_parameters(self):
        return list(self.classifier.parameters())


def base_net(name: str, *, num_classes: int = 7, fc: Sequence[int] = (512, 256), dropout: float = 0.5,
             weights: str | None = None) -> BaseNet:
    """The BaseNet ``name`` (a key of :data:`BASENETS`) with the reduced head ``fc`` (Sec. 4.3: the FC layers
    go from 4096 to 512 and 256 units).

    Raises:
        ValueError: ``name`` is not one of the eight BaseNets.
    """
    if name not in BASENETS:
        raise ValueError(f"unknown BaseNet {name!r}; Table 1 has {list(BASENETS)}")
    return BaseNet(name, num_classes=num_classes, fc=fc, dropout=dropout, weights=weights)


def _registry_inputs(k: int, g: torch.Generator) -> tuple:
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    return x, torch.randn(2, 8, generator=g)


class _GFor(nn.Module):
    """G's output reduced to per-class scores, so the shared registry tests (shape ``(B, K)``) cover G."""

    def __init__(self, k: int):
        super().__init__()
        self.G = Generator(GroupGANConfig.at(32, width=4, cond_dim=8))
        self.out = nn.Linear(3 * 32 * 32, k)

    def forward(self, x, F_exp):
        return self.out(self.G(x, F_exp).flatten(1))


register_net("groupgan.G", _GFor, _registry_inputs, lambda b, k: (b, k))
register_net("groupgan.D", lambda k: Discriminator(GroupGANConfig.at(32, width=4, cond_dim=8)), _registry_inputs,
             lambda b, k: (b,))
for _name in ("vgg11", "resnet18"):
    register_net(f"groupgan.BaseNet.{_name}", lambda k, n=_name: base_net(n, num_classes=k, fc=(16, 8)),
                 images(MIN_SIZE[BACKBONES[_name].family]), lambda b, k: (b, k))
