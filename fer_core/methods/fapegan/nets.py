"""FaPE-GAN's networks: the pose-conditioned generator G_FaPE, its discriminator D, and Fa-Net.

Paper: FaPE-GAN / F2ED (Sec. 4.2, Fig. 5). ``Î_i = G_FaPE(I_i, I_P) = G_Dec(G_Enc(I_i, I_P))``
turns a face ``I_i`` into the same person with the pose of the landmark map ``I_P``
(:func:`~fer_core.methods.fapegan.posemap.pose_map`); ``D`` tells real faces from generated
ones; Fa-Net is the LightCNN-based expression classifier trained on real and generated faces.

Deviation from the paper: it gives no layer table for G_FaPE or D. G_FaPE is an
encoder-decoder with skip connections (the pix2pix generator of its reference [24], whose
objective, L_GAN + λ·L1, Eq. 3 is) and D a pix2pix-style patch discriminator, both built by
:class:`FaPEConfig` at any power-of-two size. Fa-Net is LightCNN-29 v2
(:class:`~fer_core.nets.lightcnn.LightCNN29v2`, the layout of the published network) with a
linear expression head on its 256-d feature; profiles narrow its widths for CPU budgets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fer_core.nets.lightcnn import LightCNNSpec
from fer_core.nets.registry import images, register_net
from fer_core.nets.unet import EncoderDecoderSpec, down, up

__all__ = ["FaPEConfig", "FaNetConfig", "G_Enc", "G_Dec", "G_FaPE", "D", "FaNet", "fine_tune_from"]


@dataclass(frozen=True)
class FaPEConfig(EncoderDecoderSpec):
    """G_FaPE and D (Sec. 4.2; sizes are ours, see the module docstring): the sizes of
    :class:`~fer_core.nets.unet.EncoderDecoderSpec`, faces and pose maps alike (the pose map adds
    one input channel to the face's)."""


def _down(c_in: int, c_out: int, *, norm: bool = True) -> nn.Sequential:
    return down(c_in, c_out, norm=nn.BatchNorm2d if norm else None)


class G_Enc(nn.Module):
    """``G_Enc(I_i, I_P)``: ``(B, C, S, S)`` face and ``(B, 1, S, S)`` pose map -> the features of
    every level, the last ``(B, widths[-1], bottleneck, bottleneck)``."""

    def __init__(self, config: FaPEConfig):
        super().__init__()
        w = config.widths()
        self.blocks = nn.ModuleList([_down(config.channels + 1, w[0], norm=False)]
                                    + [_down(a, b) for a, b in zip(w[:-1], w[1:])])

    def forward(self, I_i: torch.Tensor, I_P: torch.Tensor) -> list[torch.Tensor]:
        h = torch.cat([I_i, I_P], dim=1)
        feats = []
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        return feats


class G_Dec(nn.Module):
    """``G_Dec``: the encoder's features (deepest last) -> ``(B, C, S, S)`` face in [-1, 1]; each level
    concatenates the encoder's map of the same size (skip connections)."""

    def __init__(self, config: FaPEConfig):
        super().__init__()
        w = config.widths()
        ups = [up(w[-1], w[-2])]
        for i in range(len(w) - 2, 0, -1):
            ups.append(up(2 * w[i], w[i - 1]))
        self.ups = nn.ModuleList(ups)
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * w[0], config.channels, 4, 2, 1), nn.Tanh())

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        h = feats[-1]
        skips = feats[:-1][::-1]
        for i, level in enumerate(self.ups):
            h = torch.cat([level(h), skips[i]], dim=1)
        return self.out(h)


class G_FaPE(nn.Module):
    """``Î_i = G_Dec(G_Enc(I_i, I_P))``: ``(B, C, S, S)`` face, ``(B, 1, S, S)`` pose map -> ``(B, C, S, S)``."""

    def __init__(self, config: FaPEConfig):
        super().__init__()
        self.config = config
        self.G_Enc, self.G_Dec = G_Enc(config), G_Dec(config)

    def forward(self, I_i: torch.Tensor, I_P: torch.Tensor) -> torch.Tensor:
        return self.G_Dec(self.G_Enc(I_i, I_P))


class D(nn.Module):
    """The discriminator of Eqs. (1)-(2): ``(B, C, S, S)`` face -> ``(B, 1, s, s)`` logits, one per
    patch (``s = 2 * bottleneck``), positive for "real"."""

    def __init__(self, config: FaPEConfig):
        super().__init__()
        w = config.widths()[: max(config.levels - 1, 1)]
        layers = [_down(config.channels, w[0], norm=False)] + [_down(a, b) for a, b in zip(w[:-1], w[1:])]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(w[-1], 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass(frozen=True)
class FaNetConfig(LightCNNSpec):
    """Fa-Net (Sec. 4.2): LightCNN-29 v2 (Wu et al.; the options of
    :class:`~fer_core.nets.lightcnn.LightCNNSpec`) with an expression head of ``num_classes``.

    Deviation from the paper (``batch_norm=True``, the CPU profiles): LightCNN has no
    normalisation, and at a few hundred SGD updates from scratch it did not leave chance on
    the synthetic world (nor with Adam); with BatchNorm it trains within the budget.
    """

    num_classes: int = 54

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"Fa-Net needs at least 2 expression classes, got num_classes={self.num_classes}")


class FaNet(nn.Module):
    """Fa-Net: ``(B, C, H, W)`` faces in [-1, 1] -> ``(B, K)`` expression logits.

    ``backbone`` is the LightCNN (its ``features`` give ``(B, feature_dim)``), ``head`` the
    expression classifier; :func:`fine_tune_from` swaps the head for a new class set.
    """

    def __init__(self, config: FaNetConfig):
        super().__init__()
        self.config = config
        self.backbone = config.backbone()
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.feature_dim, config.num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def fine_tune_from(pretrained: FaNet, num_classes: int) -> FaNet:
    """A Fa-Net for ``num_classes`` expressions whose backbone starts from ``pretrained``'s weights
    and whose head is new (Sec. 5.1: pre-trained on F2ED, fine-tuned on FER2013 / JAFFE).

    The copy shares no tensor with ``pretrained``; the new head is initialised by the global RNG.
    """
    import dataclasses

    net = FaNet(dataclasses.replace(pretrained.config, num_classes=num_classes))
    net.backbone.load_state_dict(pretrained.backbone.state_dict())
    return net


def _tiny(size: int = 32) -> FaPEConfig:
    return FaPEConfig(image_size=size, channels=3, width=4)


register_net("fapegan.G_FaPE", lambda k: G_FaPE(_tiny()),
             lambda k, g: (torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 1, 32, 32, generator=g) * 2 - 1),
             lambda b, k: (b, 3, 32, 32))
register_net("fapegan.D", lambda k: D(_tiny()), images(32), lambda b, k: (b, 1, 8, 8))
register_net("fapegan.FaNet", lambda k: FaNet(FaNetConfig(num_classes=k, input_size=32, widths=(4, 8, 8, 8, 8),
                                                          layers=(1, 1, 1, 1), feature_dim=16, batch_norm=True)),
             images(32), lambda b, k: (b, k))
