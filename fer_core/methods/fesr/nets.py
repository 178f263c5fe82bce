"""Networks of FESR (Table I: FESGAN's ``G_enc``, ``G_dec``, ``D_img``, ``D_z``; Table II: ``R``).

Paper: "Joint Deep Learning of Facial Expression Synthesis and Recognition" (FESR).
The losses are in :mod:`fer_core.methods.fesr.losses`, the training step and variants in
:mod:`fer_core.methods.fesr.method`.

Resolution: Table I is written for 128x128 faces, where five stride-2 convolutions bring
``G_enc`` to a 4x4 map and six transposed convolutions bring ``G_dec`` from a 1x1 code to
128x128. :meth:`FESGANConfig.at` keeps that geometry at other sizes by dropping layers
(``log2(S / 4)`` encoder convolutions), so every profile keeps the 4x4 bottleneck and the
8x8 map before the heads of ``D_img``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import torch
from torch import nn

from fer_core.nets.identity import IdentityCNN
from fer_core.nets.lightcnn import LightCNN29v2
from fer_core.nets.registry import images, register_net
from fer_core.nets.small import conv_block
from fer_core.nets.tables import layer_table, param_counts

__all__ = ["FESGANConfig", "RConfig", "G_enc", "G_dec", "Generator", "D_img", "D_z", "R", "label_code",
           "fesgan_layer_table", "recognition_layer_table", "fesgan_param_counts"]


def _levels(image_size: int) -> int:
    levels = math.log2(image_size / 4) if image_size > 0 else -1
    if levels != int(levels) or levels < 2:
        raise ValueError(f"FESGAN needs image_size = 4 * 2**L with L >= 2 (16, 32, 64, 128, ...), got {image_size}")
    return int(levels)


@dataclass(frozen=True)
class FESGANConfig:
    """FESGAN's architecture, one field per column of Table I of FESR.

    Fields: ``image_size`` (S, 128 in the paper), ``channels`` (c), ``num_classes`` (K),
    ``latent_dim`` (n, the FC(64) of ``G_enc``), ``G_enc`` (Conv widths), ``G_dec`` (DeConv
    widths before the final DeConv(c)), ``D_img`` (shared Conv widths), ``D_img_cls`` (the
    Conv(1024) of the classifier head), ``D_z`` (hidden FC widths), ``leaky_slope``.

    The defaults are Table I at 128x128; :meth:`at` derives the table for another size/width.
    Deviation from the paper: the LeakyReLU slope (0.2) and ``G_dec``'s first DeConv having no
    padding (1x1 -> 4x4) are not stated in the paper; they are what makes Table I's six
    DeConvs produce 128x128.
    """

    image_size: int = 128
    channels: int = 3
    num_classes: int = 7
    latent_dim: int = 64
    G_enc: tuple[int, ...] = (64, 128, 256, 512, 1024)
    G_dec: tuple[int, ...] = (512, 256, 128, 64, 32)
    D_img: tuple[int, ...] = (64, 128, 256, 512)
    D_img_cls: int = 1024
    D_z: tuple[int, ...] = (64, 32, 16)
    leaky_slope: float = 0.2

    def __post_init__(self) -> None:
        L = _levels(self.image_size)
        if len(self.G_enc) != L or len(self.G_dec) != L or len(self.D_img) != L - 1:
            raise ValueError(
                f"at image_size={self.image_size} Table I needs {L} G_enc, {L} G_dec and {L - 1} D_img widths, got "
                f"{len(self.G_enc)}, {len(self.G_dec)}, {len(self.D_img)}; use FESGANConfig.at({self.image_size}, ...)")
        if self.num_classes < 2 or self.channels < 1 or self.latent_dim < 1:
            raise ValueError(f"need num_classes >= 2, channels >= 1, latent_dim >= 1; got {self.num_classes}, "
                             f"{self.channels}, {self.latent_dim}")

    @classmethod
    def at(cls, image_size: int, *, width: int = 64, channels: int = 3, num_classes: int = 7,
           latent_dim: int = 64, d_z: Sequence[int] = (64, 32, 16)) -> "FESGANConfig":
        """Table I rescaled: ``width`` plays the paper's 64 (first conv) and doubles per level."""
        L = _levels(image_size)
        return cls(image_size=image_size, channels=channels, num_classes=num_classes, latent_dim=latent_dim,
                   G_enc=tuple(width * 2**i for i in range(L)),
                   G_dec=tuple(max(1, int(width * 2.0 ** (L - 2 - j))) for j in range(L)),
                   D_img=tuple(width * 2**i for i in range(L - 1)), D_img_cls=width * 2 ** (L - 1), D_z=tuple(d_z))


def _conv(cin: int, cout: int, *, norm: bool, slope: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.InstanceNorm2d(cout, affine=True))
    layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


class G_enc(nn.Module):
    """Encoder: ``(B, c, S, S)`` in [-1, 1] -> face representation ``g(x)`` ``(B, n)`` in [-1, 1].

    Implements Eq. (1) of FESR with the ``G_enc`` column of Table I.
    """

    def __init__(self, cfg: FESGANConfig):
        super().__init__()
        widths = (cfg.channels,) + cfg.G_enc
        for i in range(len(cfg.G_enc)):
            self.add_module(f"conv{i + 1}", _conv(widths[i], widths[i + 1], norm=True, slope=cfg.leaky_slope))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(cfg.G_enc[-1] * 16, cfg.latent_dim), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = layer(x)
        return x


class G_dec(nn.Module):
    """Decoder: ``[g, u]`` with ``g`` ``(B, n)`` and ``u`` ``(B, K)`` -> ``(B, c, S, S)`` in [-1, 1].

    Implements Eq. (3) (and Eqs. 11, 13 with other inputs) with the ``G_dec`` column of Table I.
    """

    def __init__(self, cfg: FESGANConfig):
        super().__init__()
        self.latent_dim, self.num_classes = cfg.latent_dim, cfg.num_classes
        cin = cfg.latent_dim + cfg.num_classes
        for i, cout in enumerate(cfg.G_dec):
            self.add_module(f"deconv{i + 1}", nn.Sequential(
                nn.ConvTranspose2d(cin, cout, 4, 2, 0 if i == 0 else 1, bias=False),
                nn.InstanceNorm2d(cout, affine=True), nn.ReLU()))
            cin = cout
        self.add_module(f"deconv{len(cfg.G_dec) + 1}", nn.Sequential(nn.ConvTranspose2d(cin, cfg.channels, 4, 2, 1), nn.Tanh()))

    def forward(self, g: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        x = torch.cat([g, u.to(g.dtype)], dim=1)[:, :, None, None]
        for layer in self.children():
            x = layer(x)
        return x


class Generator(nn.Module):
    """``G``: ``G_enc`` then ``G_dec``; ``G(x, u) = G_dec([G_enc(x), u])``."""

    def __init__(self, cfg: FESGANConfig):
        super().__init__()
        self.config = cfg
        self.G_enc, self.G_dec = G_enc(cfg), G_dec(cfg)

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.G_dec(self.G_enc(x), u)


class D_img(nn.Module):
    """Image discriminator with the two heads of Table I.

    ``forward(x)`` with ``x`` ``(B, c, S, S)`` returns ``(D_adv, D_cls)``: the WGAN critic value
    ``(B,)`` (unbounded) and the K-way logits ``(B, K)`` (``None`` when ``classifier=False``,
    the FG-Dimg_cls variant).

    Deviation from the paper: the adversarial head Conv(1,4,2) leaves a 4x4 map; its mean is
    the critic value (the paper does not say how the map is reduced).
    """

    def __init__(self, cfg: FESGANConfig, *, classifier: bool = True):
        super().__init__()
        widths = (cfg.channels,) + cfg.D_img
        for i in range(len(cfg.D_img)):
            self.add_module(f"conv{i + 1}", _conv(widths[i], widths[i + 1], norm=False, slope=cfg.leaky_slope))
        self.adv = nn.Conv2d(widths[-1], 1, 4, 2, 1)
        self.cls = nn.Sequential(_conv(widths[-1], cfg.D_img_cls, norm=False, slope=cfg.leaky_slope),
                                 nn.Conv2d(cfg.D_img_cls, cfg.num_classes, 4, 1, 0)) if classifier else None
        self.n_trunk = len(cfg.D_img)

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.n_trunk):
            x = getattr(self, f"conv{i + 1}")(x)
        return x

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        """``D_img^adv(x)``: ``(B,)`` critic values (no classifier computed)."""
        return self.adv(self._trunk(x)).mean(dim=(1, 2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self._trunk(x)
        critic = self.adv(h).mean(dim=(1, 2, 3))
        return critic, (self.cls(h).flatten(1) if self.cls is not None else None)


class D_z(nn.Module):
    """Latent discriminator FC(64)-FC(32)-FC(16)-FC(1): ``(B, n)`` -> logits ``(B,)``.

    The Sigmoid of Table I is applied inside the losses (BCE on logits, numerically safer);
    :meth:`prob` returns ``D_z(z)`` in (0, 1) as written in Eqs. (6)-(7).
    """

    def __init__(self, cfg: FESGANConfig):
        super().__init__()
        layers: list[nn.Module] = []
        cin = cfg.latent_dim
        for w in cfg.D_z:
            layers += [nn.Linear(cin, w), nn.LeakyReLU(cfg.leaky_slope)]
            cin = w
        layers.append(nn.Linear(cin, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)

    def prob(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(z))


def label_code(y: torch.Tensor, num_classes: int, *, intensity: float | torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """The continuous label code ``u(y') = v * (2 y' - 1)``. Implements Eq. (2) of FESR.

    Args:
        y: ``(B,)`` int64 expression labels in ``[0, K)``.
        num_classes: K.
        intensity: ``None`` draws every ``v_i ~ U(0, 1)`` (training, Eq. 2). A float or a
            ``(B,)``/``(B, K)`` tensor in [0, 1] fixes ``v`` (figures: 0 = no expression code,
            1 = strongest), so the target entry is ``+v`` and the others ``-v``.
        generator: RNG for ``v`` (default: the global one).

    Returns:
        ``(B, K)`` float in [-1, 1].
    """
    sign = 2 * nn.functional.one_hot(y, num_classes).float() - 1
    if intensity is None:
        v = torch.rand(sign.shape, generator=generator, device=y.device if generator is None else "cpu").to(y.device)
    else:
        v = torch.as_tensor(intensity, dtype=torch.float32, device=y.device)
        if v.dim() == 1:
            v = v[:, None]
        if bool(((v < 0) | (v > 1)).any()):
            raise ValueError(f"intensity must lie in [0, 1], got values in [{v.min().item()}, {v.max().item()}]")
    return v * sign


@dataclass(frozen=True)
class RConfig:
    """The recognition network ``R``, one field per row of Table II of FESR.

    ``stem`` are the widths of LightCNN-29's conv1/group1/group2 (the frozen Conv1-Pool3, used
    only when ``R`` builds its own stem), ``stem_blocks`` its residual blocks, ``convs`` the two
    Conv(·,3,2), ``fcs`` the FC(2048) and FC(512), ``dropout`` the Dropout(0.5), ``num_classes`` K.
    ``batch_norm`` puts a BatchNorm after each of those four layers.

    ``body="plain"`` replaces the front and the two strided convolutions by the book's plain CNN
    (:class:`~fer_core.nets.small.SmallCNN`'s four conv blocks of width ``plain_width``, then global
    average pooling), keeping Table II's FC(``fcs[1]``) feature layer, Dropout and FC(K).

    Deviations from the paper (only when asked for): Table II has no normalisation after the
    LightCNN front (``batch_norm``) and a LightCNN front with two strided convolutions (``body``).
    The chapter's ``small`` profile uses ``body="plain"`` because Table II's layout, trained from
    scratch on a stand-in front, stays well below the plain CNN at that budget (the chapter
    measures both).
    """

    image_size: int = 128
    channels: int = 3
    num_classes: int = 7
    stem: tuple[int, int, int] = (48, 96, 192)
    stem_blocks: tuple[int, int] = (1, 2)
    convs: tuple[int, int] = (256, 512)
    fcs: tuple[int, int] = (2048, 512)
    dropout: float = 0.5
    batch_norm: bool = False
    body: str = "table2"
    plain_width: int = 16

    def __post_init__(self) -> None:
        if self.body not in ("table2", "plain"):
            raise ValueError(f"R's body must be 'table2' (Table II) or 'plain' (the book's plain CNN), got {self.body!r}")
        if self.image_size % 32:
            raise ValueError(f"R needs image_size divisible by 32 (pool3 then two stride-2 convs), got {self.image_size}")
        if self.num_classes < 2 or not 0 <= self.dropout < 1:
            raise ValueError(f"need num_classes >= 2 and 0 <= dropout < 1, got {self.num_classes}, {self.dropout}")


class R(nn.Module):
    """Recognition network ``R = R_cls(R_ext(x))`` of Table II.

    ``R_ext``: LightCNN-29 Conv1-Pool3 (frozen when taken from a given network), Conv(256,3,2),
    ReLU, Conv(512,3,2), ReLU, FC(2048), ReLU, FC(512), ReLU -> features ``(B, 512)``.
    ``R_cls``: Dropout(0.5), FC(K) -> logits ``(B, K)``. Input ``(B, c, S, S)`` in [-1, 1].

    Args:
        cfg: the Table II widths.
        stem_from: an identity network whose front (its ``stem()``: LightCNN's Conv1-Pool3, or the
            first three blocks of an :class:`IdentityCNN`) is copied: the published weights, or a
            stand-in trained here; ``None`` builds a fresh LightCNN stem with ``cfg.stem`` widths.
        freeze_stem: default ``True`` when ``stem_from`` is a LightCNN-29 v2 (published weights, as
            in the paper), ``False`` for the stand-in :class:`IdentityCNN` and for a fresh stem.
            The stand-in's front learned identities from a few dozen people in a few hundred
            steps, not the general face features of LightCNN; frozen, it left ``R`` near chance
            after hundreds of updates on the synthetic world, so ``R`` fine-tunes it.

    ``stem_source`` records which of these was used. A frozen stem stays in eval mode when ``R``
    trains, so normalisation statistics it may hold are not updated either.

    Deviation from the paper: Table II puts Dropout(0.5) at the end of ``R_ext``; here it opens
    ``R_cls`` so that the intra-class loss (Eqs. 14-16) and the feature plots see un-masked
    features. The classifier sees the same dropout as in the paper.
    """

    def __init__(self, cfg: RConfig, *, stem_from: "LightCNN29v2 | IdentityCNN | None" = None,
                 freeze_stem: bool | None = None):
        super().__init__()
        self.config = cfg
        if cfg.body == "plain":
            self._plain(cfg)
            return
        if stem_from is None:
            stem_net = LightCNN29v2(in_channels=cfg.channels, widths=cfg.stem + (8, 8), layers=cfg.stem_blocks + (0, 0),
                                    input_size=cfg.image_size, feature_dim=8)
            freeze = bool(freeze_stem)
            self.stem_source = "fresh LightCNN-29 v2 stem, " + ("frozen at random init" if freeze else "trained with R")
        else:
            stem_net = stem_from
            freeze = isinstance(stem_from, LightCNN29v2) if freeze_stem is None else bool(freeze_stem)
            front = "Conv1-Pool3" if isinstance(stem_from, LightCNN29v2) else "first three blocks"
            self.stem_source = f"{front} of {stem_from.source}" + (", frozen" if freeze else ", fine-tuned with R")
        stem = stem_net.stem()
        stem.requires_grad_(not freeze)
        self.stem_frozen = freeze
        with torch.no_grad():
            h = stem.eval()(torch.zeros(1, cfg.channels, cfg.image_size, cfg.image_size))
        stem.train(not freeze)
        c1, c2 = cfg.convs
        f1, f2 = cfg.fcs
        side = math.ceil(math.ceil(h.shape[-1] / 2) / 2)
        self.R_ext = nn.Sequential()
        self.R_ext.add_module("conv1_pool3", stem)
        bn = cfg.batch_norm
        norm2d = (lambda c: [nn.BatchNorm2d(c)]) if bn else (lambda c: [])
        norm1d = (lambda c: [nn.BatchNorm1d(c)]) if bn else (lambda c: [])
        self.R_ext.add_module("conv1", nn.Sequential(nn.Conv2d(h.shape[1], c1, 3, 2, 1), *norm2d(c1), nn.ReLU()))
        self.R_ext.add_module("conv2", nn.Sequential(nn.Conv2d(c1, c2, 3, 2, 1), *norm2d(c2), nn.ReLU()))
        self.R_ext.add_module("fc1", nn.Sequential(nn.Flatten(), nn.Linear(c2 * side * side, f1), *norm1d(f1),
                                                   nn.ReLU()))
        self.R_ext.add_module("fc2", nn.Sequential(nn.Linear(f1, f2), *norm1d(f2), nn.ReLU()))
        self.R_cls = nn.Sequential(OrderedDict(dropout=nn.Dropout(cfg.dropout), fc=nn.Linear(f2, cfg.num_classes)))

    def _plain(self, cfg: RConfig) -> None:
        w, f2 = cfg.plain_width, cfg.fcs[1]
        self.stem_frozen = False
        self.stem_source = f"none: the book's plain CNN body (width {w}) trained from scratch with R"
        self.R_ext = nn.Sequential(OrderedDict(
            body=nn.Sequential(conv_block(cfg.channels, w), conv_block(w, 2 * w), conv_block(2 * w, 4 * w),
                               conv_block(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
            fc2=nn.Sequential(nn.Linear(4 * w, f2), *([nn.BatchNorm1d(f2)] if cfg.batch_norm else []), nn.ReLU())))
        self.R_cls = nn.Sequential(OrderedDict(dropout=nn.Dropout(cfg.dropout), fc=nn.Linear(f2, cfg.num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.R_cls(self.R_ext(x))

    def train(self, mode: bool = True) -> "R":
        super().train(mode)
        if self.stem_frozen:
            self.R_ext.conv1_pool3.eval()
        return self


def _fesgan_specs(cfg: FESGANConfig) -> dict[str, dict[str, str]]:
    enc = {f"conv{i + 1}": f"Conv({w},4,2), IN, LReLU" for i, w in enumerate(cfg.G_enc)}
    enc["fc"] = f"FC({cfg.latent_dim}), Tanh"
    dec = {f"deconv{i + 1}": f"DeConv({w},4,2), IN, ReLU" for i, w in enumerate(cfg.G_dec)}
    dec[f"deconv{len(cfg.G_dec) + 1}"] = f"DeConv({cfg.channels},4,2), Tanh"
    dimg = {f"conv{i + 1}": f"Conv({w},4,2), LReLU" for i, w in enumerate(cfg.D_img)}
    dimg["adv"] = "Conv(1,4,2) (D_img^adv)"
    dimg["cls"] = f"Conv({cfg.D_img_cls},4,2), LReLU; Conv({cfg.num_classes},4,1) (D_img^cls)"
    return {"G_enc": enc, "G_dec": dec, "D_img": dimg}


def fesgan_layer_table(cfg: FESGANConfig) -> pd.DataFrame:
    """FESGAN's layers as built for ``cfg``, beside Table I: network, layer, spec, output shape, params."""
    specs = _fesgan_specs(cfg)
    x = torch.zeros(1, cfg.channels, cfg.image_size, cfg.image_size)
    g, u = torch.zeros(1, cfg.latent_dim), torch.zeros(1, cfg.num_classes)
    parts = [layer_table(G_enc(cfg), x, spec=specs["G_enc"], network="G_enc"),
             layer_table(G_dec(cfg), g, u, spec=specs["G_dec"], network="G_dec"),
             layer_table(D_img(cfg), x, spec=specs["D_img"], network="D_img")]
    rows, cin = [], cfg.latent_dim
    for i, w in enumerate(cfg.D_z + (1,)):
        act = "Sigmoid" if i == len(cfg.D_z) else "LReLU"
        rows.append({"network": "D_z", "layer": f"fc{i + 1}", "spec": f"FC({w}), {act}", "output shape": (w,),
                     "params": cin * w + w})
        cin = w
    return pd.concat(parts + [pd.DataFrame(rows)], ignore_index=True)


def recognition_layer_table(r: R) -> pd.DataFrame:
    """``R``'s layers beside Table II: part (R_ext / R_cls), layer, spec, output shape, params, trainable."""
    cfg = r.config
    bn = ", BN" if cfg.batch_norm else ""
    spec = {"conv1_pool3": f"Conv1-Pool3 ({r.stem_source})", "conv1": f"Conv({cfg.convs[0]},3,2){bn}, ReLU",
            "conv2": f"Conv({cfg.convs[1]},3,2){bn}, ReLU", "fc1": f"FC({cfg.fcs[0]}){bn}, ReLU",
            "fc2": f"FC({cfg.fcs[1]}){bn}, ReLU",
            "body": f"plain CNN: 4 x [Conv 3x3, BN, ReLU] x 2 + MaxPool, widths {cfg.plain_width}..."
                    f"{4 * cfg.plain_width}, global average pool (deviation: replaces Conv1-Pool3, Conv, Conv, FC)"}
    x = torch.zeros(2, cfg.channels, cfg.image_size, cfg.image_size)
    ext = layer_table(r.R_ext, x, spec=spec, network="R_ext")
    with torch.no_grad():
        feats = r.R_ext.eval()(x)
    r.R_ext.train(r.training)
    cls = layer_table(r.R_cls, feats, spec={"dropout": f"Dropout({cfg.dropout})", "fc": f"FC({cfg.num_classes})"},
                      network="R_cls")
    table = pd.concat([ext, cls], ignore_index=True)
    children = [*r.R_ext.named_children(), *r.R_cls.named_children()]
    trainable = {n: (any(p.requires_grad for p in m.parameters()) if any(True for _ in m.parameters()) else None)
                 for n, m in children}
    table["trainable"] = [trainable[n] for n in table["layer"]]
    return table


def fesgan_param_counts(cfg: FESGANConfig) -> dict[str, int]:
    """Parameters of ``G_enc``, ``G_dec``, ``D_img`` and ``D_z`` built for ``cfg`` (no forward pass)."""
    return param_counts({"G_enc": G_enc(cfg), "G_dec": G_dec(cfg), "D_img": D_img(cfg), "D_z": D_z(cfg)})


def _tiny(k: int) -> FESGANConfig:
    return FESGANConfig.at(32, width=4, num_classes=k, latent_dim=8, d_z=(8, 4))


register_net("fesr.G_enc", lambda k: G_enc(_tiny(k)), images(32), lambda b, k: (b, 8))
register_net("fesr.G_dec", lambda k: G_dec(_tiny(k)),
             lambda k, g: (torch.rand(2, 8, generator=g) * 2 - 1, torch.rand(2, k, generator=g) * 2 - 1),
             lambda b, k: (b, 3, 32, 32))
register_net("fesr.D_img", lambda k: D_img(_tiny(k)), images(32), lambda b, k: (b,))
register_net("fesr.D_z", lambda k: D_z(_tiny(k)), lambda k, g: (torch.rand(2, 8, generator=g) * 2 - 1,),
             lambda b, k: (b,))
register_net("fesr.R", lambda k: R(RConfig(image_size=32, num_classes=k, stem=(4, 8, 8), convs=(8, 8), fcs=(16, 8))),
             images(32), lambda b, k: (b, k))

