"""Networks of JESRL (Table I): the generator ``G`` (``G_enc``, switch unit, ``G_dec``), the
multi-scale discriminators ``D1``/``D2`` and the classifier ``C`` (VGG-19 ⊕ ``G_enc``).

Paper: "Joint Expression Synthesis and Representation Learning for Facial Expression
Recognition" (JESRL; Sec. III-B/C, Table I, Eqs. 2-4, 6, 8). The switch unit itself (Eqs. 3, 6)
is :mod:`fer_core.methods.jesrl.switch`; the losses are in :mod:`fer_core.methods.jesrl.losses`.

Geometry: five stride-2 convolutions take ``G_enc`` from ``S`` to ``S/32`` (the paper's 256 px
faces give an 8x8 representation ``R``); VGG-19's five max-pools give the same ``S/32`` map, which
is what lets Table I concatenate the two (``Concat(512 + 512)``) before ``C``'s head. Every size
divisible by 32 keeps that geometry; :meth:`SwitchGANConfig.at` rescales the widths.

Two readings of the generator are built from one class (``SwitchGANConfig``):

- the **paper** (Table I): LeakyReLU in ``G_dec``, no skip connections, a ``Tanh`` residual added
  to the input (Eq. 4);
- the **authors' code** (``official_code=True`` in :func:`SwitchGANConfig.at`): ReLU in ``G_dec``,
  U-Net skips from the source face's first four encoder stages, residual ``2·tanh`` and the image
  clamped to [-1, 1].
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models

from fer_core.methods.jesrl.switch import block_bounds, switch_code
from fer_core.nets.backbones import load_torchvision_weights
from fer_core.nets.registry import images, register_net
from fer_core.nets.tables import layer_table, param_counts

__all__ = ["L2Norm", "SwitchGANConfig", "G_enc", "G_dec", "Generator", "D", "MultiScaleD", "ClassifierConfig",
           "VGG19Trunk", "C", "PerceptualNet", "label_maps", "gan_layer_table", "classifier_layer_table",
           "gan_param_counts", "PERCEPTUAL_LAYERS"]

_LEVELS = 5


def _check_size(size: int, what: str) -> None:
    if size < 32 or size % 32:
        raise ValueError(f"{what} needs image_size divisible by 32 (five stride-2 stages), got {size}; "
                         "use 32, 64, 96, 128, ..., 256 (the paper)")


class L2Norm(nn.Module):
    """``l2-N`` of Table I: each pixel's channel vector scaled to unit length, then one learnable
    scalar scale and shift: ``(B, C, H, W) -> (B, C, H, W)``.

    The paper cites ELEGANT for ``l2-N`` without defining it; this is the authors' code's definition
    (``F.normalize`` over channels at every pixel, a scalar ``scale`` (init 1) and ``shift`` (init 0)).
    """

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.shift = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) * self.scale + self.shift


@dataclass(frozen=True)
class SwitchGANConfig:
    """The generator and discriminators of Table I, one field per column entry.

    Fields: ``image_size`` (S; 256 in the paper), ``channels`` (c), ``num_classes`` (n, the
    number of blocks of ``R``), ``G_enc`` (the five Conv widths), ``G_dec`` (the four DeConv widths
    before the final ``DeConv(c)``), ``D`` (the four Conv widths of ``D1`` and ``D2``),
    ``switch_repeat`` (the ``20`` of ``Concat(512 + 512 + 20 x n)``), ``leaky_slope``.
    Readings of the method: ``decoder_activation`` (``"lrelu"``: Table I; ``"relu"``: the authors'
    code), ``skips`` (U-Net skips from the source's first four encoder stages: the authors' code),
    ``residual_scale`` (1: Eq. 4's Tanh residual; 2: the code's ``2·tanh``) and ``clamp`` (the code
    clamps ``I + residual`` to [-1, 1]).

    Deviation from the paper: the LeakyReLU slope (0.2) and the transposed convolutions' padding
    (1, output padding 1, so each doubles the size) are not stated in the paper.
    """

    image_size: int = 256
    channels: int = 3
    num_classes: int = 6
    G_enc: tuple[int, ...] = (64, 128, 256, 512, 512)
    G_dec: tuple[int, ...] = (512, 256, 128, 64)
    D: tuple[int, ...] = (64, 128, 256, 512)
    switch_repeat: int = 20
    leaky_slope: float = 0.2
    decoder_activation: str = "lrelu"
    skips: bool = False
    residual_scale: float = 1.0
    clamp: bool = False

    def __post_init__(self) -> None:
        _check_size(self.image_size, "the switch GAN")
        if len(self.G_enc) != _LEVELS or len(self.G_dec) != _LEVELS - 1 or len(self.D) != 4:
            raise ValueError(f"Table I has 5 G_enc, 4 (+1) G_dec and 4 D widths, got {len(self.G_enc)}, "
                             f"{len(self.G_dec)}, {len(self.D)}")
        if self.num_classes < 2 or self.G_enc[-1] < self.num_classes:
            raise ValueError(f"need 2 <= num_classes <= G_enc[-1] (one channel block per expression), got "
                             f"n={self.num_classes}, G_enc[-1]={self.G_enc[-1]}")
        if self.decoder_activation not in ("lrelu", "relu"):
            raise ValueError(f"decoder_activation must be 'lrelu' (Table I) or 'relu' (the authors' code), "
                             f"got {self.decoder_activation!r}")
        if self.residual_scale <= 0 or self.switch_repeat < 1:
            raise ValueError(f"need residual_scale > 0 and switch_repeat >= 1, got {self.residual_scale}, "
                             f"{self.switch_repeat}")

    @classmethod
    def at(cls, image_size: int, *, width: int = 64, channels: int = 3, num_classes: int = 6,
           official_code: bool = False) -> "SwitchGANConfig":
        """Table I at another size and width (``width`` plays the paper's 64); ``official_code`` sets
        the authors' code's generator (ReLU decoder, skips, ``2·tanh`` residual, clamp)."""
        w = int(width)
        cfg = cls(image_size=image_size, channels=channels, num_classes=num_classes,
                  G_enc=(w, 2 * w, 4 * w, 8 * w, 8 * w), G_dec=(8 * w, 4 * w, 2 * w, w), D=(w, 2 * w, 4 * w, 8 * w))
        return cfg.official() if official_code else cfg

    def official(self) -> "SwitchGANConfig":
        """The same widths with the authors' code's generator choices."""
        return replace(self, decoder_activation="relu", skips=True, residual_scale=2.0, clamp=True)

    @property
    def rep_channels(self) -> int:
        """Channels of the representation ``R`` (``G_enc[-1]``)."""
        return self.G_enc[-1]

    @property
    def rep_size(self) -> int:
        """Side of ``R``'s map: ``S / 32``."""
        return self.image_size // 32


def _block(cin: int, cout: int, *, slope: float, transposed: bool = False, relu: bool = False) -> nn.Sequential:
    conv = (nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1) if transposed else nn.Conv2d(cin, cout, 3, 2, 1))
    return nn.Sequential(conv, L2Norm(), nn.ReLU() if relu else nn.LeakyReLU(slope))


class G_enc(nn.Module):
    """Encoder: ``(B, c, S, S)`` in [-1, 1] -> ``R`` ``(B, G_enc[-1], S/32, S/32)`` (Eq. 2).

    Five ``Conv(d, 3, 2), l2-N, LReLU`` (Table I). :meth:`stages` also returns the first four
    stages' outputs, the skips the authors' code feeds to ``G_dec``.
    """

    def __init__(self, cfg: SwitchGANConfig):
        super().__init__()
        widths = (cfg.channels,) + cfg.G_enc
        for k in range(_LEVELS):
            self.add_module(f"conv{k + 1}", _block(widths[k], widths[k + 1], slope=cfg.leaky_slope))

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's output, ``[S/2, S/4, S/8, S/16, S/32]``; the last is ``R``."""
        out = []
        for layer in self.children():
            x = layer(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = layer(x)
        return x


class G_dec(nn.Module):
    """Decoder: ``[R', R, S]`` -> a residual image ``(B, c, S, S)`` (Eq. 4).

    Input: ``R'`` (the switched or own representation) and ``R`` (the source's own), each
    ``(B, C_R, S/32, S/32)``, and the switch code ``S`` ``(B, n)`` (binary), which is repeated
    ``switch_repeat`` times and broadcast over the map: ``Concat(C_R + C_R + 20 n)`` of Table I.
    Four ``DeConv(d, 3, 2), l2-N, LReLU`` (ReLU in the authors' code) and ``DeConv(c, 3, 2), Tanh``.
    With ``skips`` each of the last four DeConvs also reads the source's encoder stage of its size.
    Output: ``residual_scale * tanh(...)``, in ``[-residual_scale, residual_scale]``.
    """

    def __init__(self, cfg: SwitchGANConfig):
        super().__init__()
        self.config = cfg
        relu = cfg.decoder_activation == "relu"
        cin = 2 * cfg.rep_channels + cfg.switch_repeat * cfg.num_classes
        skip_widths = tuple(reversed(cfg.G_enc[:-1])) if cfg.skips else (0,) * 4
        for k, cout in enumerate(cfg.G_dec):
            self.add_module(f"deconv{k + 1}", _block(cin, cout, slope=cfg.leaky_slope, transposed=True, relu=relu))
            cin = cout + skip_widths[k]
        self.add_module(f"deconv{_LEVELS}", nn.ConvTranspose2d(cin, cfg.channels, 3, 2, 1, output_padding=1))

    def forward(self, R_new: torch.Tensor, R_own: torch.Tensor, code: torch.Tensor,
                skips: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        cfg = self.config
        if cfg.skips and (skips is None or len(skips) != _LEVELS - 1):
            raise ValueError("this G_dec uses U-Net skips (the authors' code): pass the source's first four "
                             "encoder stages, G_enc.stages(x)[:4]")
        s = code.to(R_new.dtype).repeat(1, cfg.switch_repeat)[:, :, None, None].expand(-1, -1, *R_new.shape[-2:])
        h = torch.cat([R_new, R_own, s], dim=1)
        layers = list(self.children())
        for k, layer in enumerate(layers[:-1]):
            h = layer(h)
            if cfg.skips:
                h = torch.cat([h, skips[_LEVELS - 2 - k]], dim=1)
        return cfg.residual_scale * torch.tanh(layers[-1](h))


class Generator(nn.Module):
    """``G``: ``G_enc``, the switch unit and ``G_dec``; ``compose`` adds the residual (Eq. 4)."""

    def __init__(self, cfg: SwitchGANConfig):
        super().__init__()
        self.config = cfg
        self.G_enc, self.G_dec = G_enc(cfg), G_dec(cfg)
        self.bounds = block_bounds(cfg.rep_channels, cfg.num_classes)

    def compose(self, source: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``I = I^res + I_source`` (Eq. 4), clamped to [-1, 1] in the authors' code's reading."""
        out = source + residual
        return out.clamp(-1, 1) if self.config.clamp else out

    def decode(self, R_new: torch.Tensor, R_own: torch.Tensor, code: torch.Tensor, source: torch.Tensor,
               skips: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``source + G_dec([R_new, R_own, code])``: one batched decoder call for any number of faces."""
        return self.compose(source, self.G_dec(R_new, R_own, code, skips))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """``(R, skips)``: the representation and, for the authors' code's decoder, the first four stages."""
        if self.config.skips:
            stages = self.G_enc.stages(x)
            return stages[-1], stages[:-1]
        return self.G_enc(x), None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``G_dec([R, R, 0]) + x`` of each face (switch code all zero)."""
        R, skips = self.encode(x)
        code = torch.zeros(x.shape[0], self.config.num_classes, device=x.device)
        return self.decode(R, R, code, x, skips)


def label_maps(labels: torch.Tensor, num_classes: int, size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B,)`` labels -> ``(B, n, size, size)`` one-hot planes: how ``D`` is conditioned on ``y``."""
    onehot = F.one_hot(labels, num_classes).to(dtype)
    return onehot[:, :, None, None].expand(-1, -1, size, size)


class D(nn.Module):
    """One discriminator of Table I: ``(image (B, c, s, s), y (B,))`` -> logits ``(B,)``.

    The image is concatenated with an ``n``-channel label map (the authors' code's way of
    conditioning ``D`` on ``y``, Eq. 5), then four ``Conv(d, 3, 2), l2-N, LReLU`` and ``FC(1)``.
    """

    def __init__(self, cfg: SwitchGANConfig, image_size: int):
        super().__init__()
        self.num_classes = cfg.num_classes
        widths = (cfg.channels + cfg.num_classes,) + cfg.D
        for k in range(4):
            self.add_module(f"conv{k + 1}", _block(widths[k], widths[k + 1], slope=cfg.leaky_slope))
        side = image_size // 16
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(cfg.D[-1] * side * side, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, label_maps(y, self.num_classes, x.shape[-1], x.dtype)], dim=1)
        for layer in self.children():
            h = layer(h)
        return h.squeeze(1)


class MultiScaleD(nn.Module):
    """``{D1, D2}``: ``D1`` sees the ``S x S`` face, ``D2`` the same face average-pooled to ``S/2``.

    ``forward(x, y)`` returns ``(D1 logits (B,), D2 logits (B,))``; one call of each network per
    batch, however many kinds of faces (real, transferred, interpolated) the batch stacks.
    """

    def __init__(self, cfg: SwitchGANConfig):
        super().__init__()
        self.D1, self.D2 = D(cfg, cfg.image_size), D(cfg, cfg.image_size // 2)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.D1(x, y), self.D2(F.avg_pool2d(x, 2), y)


@dataclass(frozen=True)
class ClassifierConfig:
    """The classifier ``C`` of Table I.

    ``vgg_width`` is the first VGG-19 width (64 in VGG-19; the others double as in VGG-19, capped
    at 8x); ``batch_norm`` builds VGG-19-BN; ``fuse`` is the ``FC(512)`` applied at every position of
    the concatenated map; ``fc`` the two ``FC(4096)``; ``dropout`` after each of them (VGG-19's own
    classifier carries Dropout(0.5); Table I lists none); ``weights`` a torchvision ImageNet
    checkpoint for the VGG-19 trunk (``None``: trained from scratch).
    """

    image_size: int = 256
    channels: int = 3
    num_classes: int = 6
    vgg_width: int = 64
    batch_norm: bool = False
    fuse: int = 512
    fc: tuple[int, int] = (4096, 4096)
    dropout: float = 0.5
    weights: str | None = None

    def __post_init__(self) -> None:
        _check_size(self.image_size, "C (VGG-19 with five max-pools)")
        if self.num_classes < 2 or self.vgg_width < 1 or not 0 <= self.dropout < 1:
            raise ValueError(f"need num_classes >= 2, vgg_width >= 1, 0 <= dropout < 1; got {self.num_classes}, "
                             f"{self.vgg_width}, {self.dropout}")
        if self.weights is not None and (self.vgg_width != 64 or self.channels not in (1, 3)):
            raise ValueError(f"ImageNet weights ({self.weights}) fit VGG-19 only at vgg_width=64, got {self.vgg_width}")


def _vgg_cfg(width: int) -> list:
    return [v if v == "M" else width * min(8, v // 64) for v in models.vgg.cfgs["E"]]


#: Where the perceptual loss reads VGG-19 (Eq. 11): the last ReLU of the first four blocks
#: (relu1_2, relu2_2, relu3_4, relu4_4); the paper does not name its layers.
PERCEPTUAL_LAYERS = ("relu1_2", "relu2_2", "relu3_4", "relu4_4")
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGG19Trunk(nn.Module):
    """VGG-19's convolutional part (torchvision's layer layout, same state-dict keys under ``features``):
    ``(B, c, S, S)`` in [-1, 1] -> ``(B, 8 w, S/32, S/32)``. Grey faces are repeated to RGB; with
    ImageNet weights the input is normalised as torchvision's ImageNet models expect."""

    def __init__(self, width: int = 64, *, batch_norm: bool = False, weights: str | None = None):
        super().__init__()
        self.features = models.vgg.make_layers(_vgg_cfg(width), batch_norm=batch_norm)
        self.out_channels = 8 * width
        self.source = "random initialisation (no ImageNet weights), trained here"
        self.imagenet = weights is not None
        if weights is not None:
            load_torchvision_weights(self, weights)
            self.source = f"ImageNet weights from {weights}"
        mean = torch.tensor(_IMAGENET_MEAN if self.imagenet else (0.5, 0.5, 0.5)).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD if self.imagenet else (0.5, 0.5, 0.5)).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.taps = self._taps()

    def _taps(self) -> dict[int, str]:
        """Index in ``features`` of each block's last ReLU, named relu<block>_<conv>."""
        taps, block, conv = {}, 1, 0
        layers = list(self.features)
        for k, m in enumerate(layers):
            if isinstance(m, nn.ReLU):
                conv += 1
                if k + 1 < len(layers) and isinstance(layers[k + 1], nn.MaxPool2d):
                    taps[k] = f"relu{block}_{conv}"
            elif isinstance(m, nn.MaxPool2d):
                block, conv = block + 1, 0
        return taps

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return ((x + 1) / 2 - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.prepare(x))

    def tap(self, x: torch.Tensor, names: Sequence[str] = PERCEPTUAL_LAYERS) -> list[torch.Tensor]:
        """The feature maps ``F^(i)(x)`` at ``names`` (Eq. 11), computed in one pass."""
        want = {k for k, n in self.taps.items() if n in names}
        if len(want) != len(names):
            raise ValueError(f"VGG-19 has taps {sorted(self.taps.values())}, asked for {list(names)}")
        out, h = [], self.prepare(x)
        for k, layer in enumerate(self.features):
            h = layer(h)
            if k in want:
                out.append(h)
                if len(out) == len(want):
                    break
        return out


class C(nn.Module):
    """The classifier ``C`` (Eq. 8): ``FC([VGG(I), G_enc(I)])`` -> logits ``(B, n)``.

    ``VGG(I)`` is VGG-19's last feature map ``(B, 8 w, S/32, S/32)``; with ``expr_channels`` (the
    channels of ``R``) it is concatenated with ``R = G_enc(I)`` of the same size (``Concat(512 +
    512)``); then ``FC(512)`` at every position (a 1x1 convolution), ``AvgPool``, ``FC(4096), ReLU``
    twice and ``FC(n)``. ``expr_channels=None`` is ``C`` without the representation (No_ExpR,
    No_SynFI, the plain VGG-19).

    Deviation from the paper: Table I's ``AvgPool(7, 7)`` is a global average pool here (the map is
    ``S/32`` wide at every size); Dropout follows each FC(4096) as in VGG-19 (``dropout``).
    """

    def __init__(self, cfg: ClassifierConfig, *, expr_channels: int | None = None):
        super().__init__()
        self.config, self.expr_channels = cfg, expr_channels
        self.vgg = VGG19Trunk(cfg.vgg_width, batch_norm=cfg.batch_norm, weights=cfg.weights)
        self.fuse = nn.Conv2d(self.vgg.out_channels + (expr_channels or 0), cfg.fuse, 1)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Sequential(OrderedDict(
            fc1=nn.Linear(cfg.fuse, cfg.fc[0]), relu1=nn.ReLU(), drop1=nn.Dropout(cfg.dropout),
            fc2=nn.Linear(cfg.fc[0], cfg.fc[1]), relu2=nn.ReLU(), drop2=nn.Dropout(cfg.dropout)))
        self.out = nn.Linear(cfg.fc[1], cfg.num_classes)

    @property
    def uses_representation(self) -> bool:
        return self.expr_channels is not None

    def features(self, x: torch.Tensor, R: torch.Tensor | None = None) -> torch.Tensor:
        """The penultimate features ``(B, fc[1])`` (the t-SNE/UMAP figure's points)."""
        h = self.vgg(x)
        if self.uses_representation:
            if R is None or R.shape[1] != self.expr_channels or R.shape[-2:] != h.shape[-2:]:
                raise ValueError(f"this C concatenates G_enc(I) {(self.expr_channels, *h.shape[-2:])} with VGG(I); "
                                 f"got R of shape {None if R is None else tuple(R.shape[1:])}")
            h = torch.cat([h, R.to(h.dtype)], dim=1)
        return self.fc(self.pool(self.fuse(h)))

    def forward(self, x: torch.Tensor, R: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.features(x, R))


class PerceptualNet(nn.Module):
    """``F^(i)`` of Eq. (11): a frozen VGG-19 trunk read at :data:`PERCEPTUAL_LAYERS`, always in eval mode.

    ``source`` says which VGG-19: ImageNet weights when the reader gives them (the paper's
    pre-trained VGG), else the trunk of a VGG-19 trained in this chapter on the fold's real faces.
    """

    def __init__(self, trunk: VGG19Trunk, *, source: str | None = None):
        super().__init__()
        self.trunk = trunk
        self.trunk.requires_grad_(False)
        self.source = source or trunk.source

    def train(self, mode: bool = True) -> "PerceptualNet":
        super().train(False)
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.trunk.tap(x)


# ------------------------------------------------------------------------------ tables


def _gan_specs(cfg: SwitchGANConfig) -> dict[str, dict[str, str]]:
    act = "ReLU" if cfg.decoder_activation == "relu" else "LReLU"
    enc = {f"conv{k + 1}": f"Conv({w},3,2), l2-N, LReLU" for k, w in enumerate(cfg.G_enc)}
    cat = f"Concat({cfg.rep_channels} + {cfg.rep_channels} + {cfg.switch_repeat} x {cfg.num_classes}) -> "
    dec = {f"deconv{k + 1}": (cat if k == 0 else "") + f"DeConv({w},3,2), l2-N, {act}" + (
        " (+ skip)" if cfg.skips and k < 4 else "") for k, w in enumerate(cfg.G_dec)}
    dec[f"deconv{_LEVELS}"] = f"DeConv({cfg.channels},3,2), Tanh" + (" (+ skip)" if cfg.skips else "")
    d = {f"conv{k + 1}": f"Conv({w},3,2), l2-N, LReLU" for k, w in enumerate(cfg.D)}
    d["fc"] = "FC(1)"
    return {"G_enc": enc, "G_dec": dec, "D": d}


def gan_layer_table(cfg: SwitchGANConfig) -> pd.DataFrame:
    """``G_enc``, ``G_dec``, ``D1`` and ``D2`` as built for ``cfg``, beside Table I: network, layer,
    spec, output shape, params."""
    specs = _gan_specs(cfg)
    x = torch.zeros(1, cfg.channels, cfg.image_size, cfg.image_size)
    G, Ds = Generator(cfg), MultiScaleD(cfg)
    R, skips = G.encode(x)
    code = switch_code(torch.tensor([0]), torch.tensor([1]), cfg.num_classes)
    y = torch.zeros(1, dtype=torch.long)
    dec = G.G_dec

    class _Dec(nn.Module):  # layer_table wants one forward(*inputs)
        def __init__(self):
            super().__init__()
            for n, m in dec.named_children():
                self.add_module(n, m)

        def forward(self, R_, s_):
            return dec(R_, R_, s_, skips)

    parts = [layer_table(G.G_enc, x, spec=specs["G_enc"], network="G_enc"),
             layer_table(_Dec(), R, code, spec=specs["G_dec"], network="G_dec"),
             layer_table(Ds.D1, x, y, spec=specs["D"], network="D1"),
             layer_table(Ds.D2, F.avg_pool2d(x, 2), y, spec=specs["D"], network="D2 (S/2 input)")]
    return pd.concat(parts, ignore_index=True)


def classifier_layer_table(net: C) -> pd.DataFrame:
    """``C``'s parts beside Table I's classifier column: part, spec, output shape, params."""
    cfg, k = net.config, net.expr_channels
    spec = {"vgg": f"VGGNet-19({net.vgg.out_channels})" + (", BN" if cfg.batch_norm else "") + f": {net.vgg.source}",
            "fuse": (f"Concat({net.vgg.out_channels} + {k}) -> " if k else "") + f"FC({cfg.fuse}) per position",
            "pool": "AvgPool (global)", "fc": f"FC({cfg.fc[0]}), ReLU, FC({cfg.fc[1]}), ReLU (Dropout {cfg.dropout})",
            "out": f"FC({cfg.num_classes})"}
    x = torch.zeros(2, cfg.channels, cfg.image_size, cfg.image_size)
    R = torch.zeros(2, k, cfg.image_size // 32, cfg.image_size // 32) if k else None

    class _Parts(nn.Module):
        def __init__(self):
            super().__init__()
            self.vgg, self.fuse, self.pool, self.fc, self.out = net.vgg, net.fuse, net.pool, net.fc, net.out

        def forward(self, x_):
            h = self.vgg(x_)
            h = torch.cat([h, R], 1) if R is not None else h
            return self.out(self.fc(self.pool(self.fuse(h))))

    return layer_table(_Parts(), x, spec=spec, network="C")


def gan_param_counts(cfg: SwitchGANConfig) -> dict[str, int]:
    """Parameters of ``G_enc``, ``G_dec``, ``D1`` and ``D2`` built for ``cfg``."""
    G, Ds = Generator(cfg), MultiScaleD(cfg)
    return param_counts({"G_enc": G.G_enc, "G_dec": G.G_dec, "D1": Ds.D1, "D2": Ds.D2})


def _tiny(k: int, **kw) -> SwitchGANConfig:
    return SwitchGANConfig.at(32, width=4, num_classes=k, **kw)


def _dec_inputs(k: int, g: torch.Generator):
    cfg = _tiny(k)
    R = torch.rand(2, cfg.rep_channels, 1, 1, generator=g)
    return R, R.flip(0), switch_code(torch.tensor([0, 1]), torch.tensor([1, 2 % k]), k)


register_net("jesrl.G_enc", lambda k: G_enc(_tiny(k)), images(32), lambda b, k: (b, 32, 1, 1))
register_net("jesrl.G_dec", lambda k: G_dec(_tiny(k)), _dec_inputs, lambda b, k: (b, 3, 32, 32))
register_net("jesrl.Generator", lambda k: Generator(_tiny(k)), images(32), lambda b, k: (b, 3, 32, 32))
register_net("jesrl.Generator.official", lambda k: Generator(_tiny(k, official_code=True)), images(32),
             lambda b, k: (b, 3, 32, 32))
register_net("jesrl.D", lambda k: MultiScaleD(_tiny(k)),
             lambda k, g: (torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.tensor([0, k - 1])), lambda b, k: (b,))
register_net("jesrl.C", lambda k: C(ClassifierConfig(image_size=32, num_classes=k, vgg_width=4, batch_norm=True,
                                                     fuse=8, fc=(8, 8)), expr_channels=32),
             lambda k, g: (torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 32, 1, 1, generator=g)),
             lambda b, k: (b, k))
