"""Comp-GAN's networks: the editors G(Exp) and G(Pose), the discriminator D and the classifier F_cls.

Paper: Comp-GAN / F2ED (Sec. 4.2, Sec. 5.2.1 "Implementation details"). G(Exp) changes the
expression of a source face to that of a *reference* face, G(Pose) its pose, both keeping the
source identity; "a classic encoder-decoder network ... progressively down-samples the input
image into compact hidden space and then progressively up-samples" (ref. [71]). D "follows the
design in AttGAN": a convolutional trunk with a real/fake head and attribute heads. F_cls is
LightCNN-29 v2 with three heads (expression, pose, identity); its feature maps give the
perceptual terms of Eqs. (5) and (9).

Deviation from the paper: it gives no layer tables. The editors are encoder-decoders at any
power-of-two size with skip connections between levels of the same size (kept identity and
background in fewer updates than a plain bottleneck); the source and the reference face enter as
one tensor of ``2C`` channels. With ``label_maps`` (the CPU profiles) the target attribute also
enters as one-hot maps (StarGAN-style), beside the reference face.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fer_core.nets.lightcnn import LightCNNSpec, to_lightcnn_input
from fer_core.nets.registry import images, register_net
from fer_core.nets.unet import EncoderDecoderSpec, down, up

__all__ = ["CompGANConfig", "FclsConfig", "Editor", "G_Exp", "G_Pose", "G_PA", "G_Att", "D", "F_cls", "label_maps"]


@dataclass(frozen=True)
class CompGANConfig(EncoderDecoderSpec):
    """The editors and D (Sec. 4.2; sizes ours, see the module docstring): the sizes of
    :class:`~fer_core.nets.unet.EncoderDecoderSpec` (128 px by default), and

    Attributes:
        n_expressions, n_poses: the label sets (54 expressions and 4 views on F2ED).
        label_maps: feed the target attribute as one-hot maps beside the reference face.
        residual: the editor adds its output to the source (in tanh's pre-image), so that an untrained
            editor returns about the source and training learns only the change.
    """

    image_size: int = 128
    n_expressions: int = 54
    n_poses: int = 4
    label_maps: bool = False
    residual: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_expressions < 2 or self.n_poses < 1:
            raise ValueError(f"CompGANConfig needs n_expressions >= 2 and n_poses >= 1, got {self.n_expressions}, "
                             f"{self.n_poses}")


def label_maps(labels: torch.Tensor, n: int, size: int) -> torch.Tensor:
    """``(B,)`` class indices -> ``(B, n, size, size)`` one-hot maps in {-1, 1}."""
    if labels.dim() != 1:
        raise ValueError(f"label_maps takes (B,) class indices, got shape {tuple(labels.shape)}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= n):
        raise ValueError(f"labels must lie in 0..{n - 1}, got {int(labels.min())}..{int(labels.max())}")
    onehot = torch.nn.functional.one_hot(labels.long(), n).float() * 2 - 1
    return onehot[:, :, None, None].expand(-1, -1, size, size)


def _in(c: int) -> nn.Module:
    return nn.InstanceNorm2d(c, affine=True)


def _down(c_in: int, c_out: int, *, norm: bool = True) -> nn.Sequential:
    return down(c_in, c_out, norm=_in if norm else None)


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return up(c_in, c_out, norm=_in)


class Editor(nn.Module):
    """An encoder-decoder editor: ``(B, C, S, S)`` source, ``(B, C, S, S)`` reference and optional
    ``(B,)`` target labels (one per label set in ``label_sizes``) -> ``(B, C, S, S)`` in [-1, 1].

    Args:
        config: the :class:`CompGANConfig`.
        reference: whether a reference face enters (False: an attribute editor driven by labels only).
        label_sizes: sizes of the label sets whose one-hot maps enter (empty: none).
    """

    def __init__(self, config: CompGANConfig, *, reference: bool = True, label_sizes: tuple[int, ...] = ()):
        super().__init__()
        if not reference and not label_sizes:
            raise ValueError("an Editor needs a reference face, target labels, or both")
        self.config, self.reference, self.label_sizes = config, reference, tuple(label_sizes)
        c_in = config.channels * (2 if reference else 1) + sum(self.label_sizes)
        w = config.widths()
        self.down = nn.ModuleList([_down(c_in, w[0], norm=False)] + [_down(a, b) for a, b in zip(w[:-1], w[1:])])
        ups = [_up(w[-1], w[-2])]
        for i in range(len(w) - 2, 0, -1):
            ups.append(_up(2 * w[i], w[i - 1]))
        self.up = nn.ModuleList(ups)
        last = nn.ConvTranspose2d(2 * w[0], config.channels, 4, 2, 1)
        if config.residual:
            with torch.no_grad():
                last.weight.mul_(0.1)
                last.bias.zero_()
            self.out = last
        else:
            self.out = nn.Sequential(last, nn.Tanh())

    def forward(self, source: torch.Tensor, reference: torch.Tensor | None = None,
                labels: tuple[torch.Tensor, ...] = ()) -> torch.Tensor:
        parts = [source]
        if self.reference:
            if reference is None or reference.shape != source.shape:
                raise ValueError(f"{type(self).__name__} needs a reference face of the source's shape "
                                 f"{tuple(source.shape)}, got {None if reference is None else tuple(reference.shape)}")
            parts.append(reference)
        if len(labels) != len(self.label_sizes):
            raise ValueError(f"{type(self).__name__} takes {len(self.label_sizes)} label tensor(s) "
                             f"(sets of sizes {self.label_sizes}), got {len(labels)}")
        parts += [label_maps(y, n, source.shape[-1]).to(source) for y, n in zip(labels, self.label_sizes)]
        h = torch.cat(parts, 1)
        feats = []
        for block in self.down:
            h = block(h)
            feats.append(h)
        skips = feats[:-1][::-1]
        for i, level in enumerate(self.up):
            h = torch.cat([level(h), skips[i]], 1)
        if self.config.residual:
            return torch.tanh(torch.atanh(source.clamp(-0.995, 0.995)) + self.out(h))
        return self.out(h)


class G_Exp(Editor):
    """G(Exp) = F_E: ``G_Exp(I, I_ref[, e_t])`` gives ``I``'s identity and pose with the reference's expression."""

    def __init__(self, config: CompGANConfig):
        super().__init__(config, label_sizes=(config.n_expressions,) if config.label_maps else ())


class G_Pose(Editor):
    """G(Pose) = F_P: ``G_Pose(I, I_ref[, p_t])`` gives ``I``'s identity and expression in the reference's pose."""

    def __init__(self, config: CompGANConfig):
        super().__init__(config, label_sizes=(config.n_poses,) if config.label_maps else ())


class G_PA(Editor):
    """One editor for pose *and* expression (the paper's "Generator P&A", a pix2pix-style competitor):
    ``G_PA(I, I_ref[, e_t, p_t])`` -> ``I``'s identity with the reference's expression and pose."""

    def __init__(self, config: CompGANConfig):
        super().__init__(config, label_sizes=(config.n_expressions, config.n_poses) if config.label_maps else ())


class G_Att(Editor):
    """An AttGAN-style attribute editor: ``G_Att(I, labels=(e_t, p_t))``, no reference face."""

    def __init__(self, config: CompGANConfig):
        super().__init__(config, reference=False, label_sizes=(config.n_expressions, config.n_poses))


class D(nn.Module):
    """AttGAN-style discriminator: ``(B, C, S, S)`` -> ``{"adv": (B,), "expression": (B, K), "pose": (B, V)}``.

    A stride-2 convolutional trunk down to ``bottleneck``, then one small fully connected head for
    real/fake (logit, positive = real) and one per attribute.
    """

    def __init__(self, config: CompGANConfig):
        super().__init__()
        w = config.widths()
        self.trunk = nn.Sequential(_down(config.channels, w[0], norm=False), *[_down(a, b) for a, b in zip(w[:-1], w[1:])],
                                   nn.Flatten())
        n = w[-1] * config.bottleneck ** 2
        hidden = 4 * w[-1]

        def head(k: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(n, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, k))

        self.adv, self.expression, self.pose = head(1), head(config.n_expressions), head(config.n_poses)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(x)
        return {"adv": self.adv(h).squeeze(1), "expression": self.expression(h), "pose": self.pose(h)}


@dataclass(frozen=True)
class FclsConfig(LightCNNSpec):
    """F_cls (Sec. 4.3, 5.2.1): LightCNN-29 v2 (the options of
    :class:`~fer_core.nets.lightcnn.LightCNNSpec`; 128 px input in the paper) with expression,
    pose and identity heads of ``n_expressions``, ``n_poses`` and ``n_identities`` classes.
    """

    n_expressions: int = 54
    n_poses: int = 4
    n_identities: int = 119

    def __post_init__(self) -> None:
        if self.n_expressions < 2 or self.n_poses < 1 or self.n_identities < 1:
            raise ValueError(f"F_cls needs >= 2 expressions and >= 1 pose and identity, got {self.n_expressions}, "
                             f"{self.n_poses}, {self.n_identities}")


class F_cls(nn.Module):
    """``F_cls(x)``: ``(B, C, H, W)`` in [-1, 1] -> ``{"expression": (B, K), "pose": (B, V), "identity": (B, N)}``.

    The expression head reads LightCNN's feature; the pose and identity heads also read the four
    feature maps averaged to 2x2 (pose and identity show in shallow layers, which an
    expression-shaped feature need not keep; 2x2 keeps left from right). Deviation from the paper: it does not say where its
    three heads sit.

    :meth:`features` gives the ``(B, feature_dim)`` feature (the recogniser's representation, and
    what "+Combine" concatenates); :meth:`feature_maps` the four pooled maps ``F^i_cls`` of Eqs. (5), (9).
    """

    HEADS = ("expression", "pose", "identity")

    def __init__(self, config: FclsConfig):
        super().__init__()
        self.config = config
        self.backbone = config.backbone()
        sizes = {"expression": config.n_expressions, "pose": config.n_poses, "identity": config.n_identities}
        w = config.widths
        wide = config.feature_dim + 4 * (w[0] + w[1] + w[2] + w[4])
        self.heads = nn.ModuleDict({k: nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.feature_dim, n))
                                    if k == "expression" else nn.Sequential(nn.LayerNorm(wide), nn.Linear(wide, n))
                                    for k, n in sizes.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.features(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.outputs(x)[0]

    def head_inputs(self, maps: list[torch.Tensor], *, detach: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
        """What each head reads: the expression head the ``feature_dim`` feature; the pose and identity heads
        that feature beside the four maps averaged to 2x2 (``detach``: heads whose input is detached)."""
        h = self.backbone.fc(maps[-1].flatten(1))
        wide = torch.cat([h, *(nn.functional.adaptive_avg_pool2d(m, 2).flatten(1) for m in maps)], 1)
        out = {"expression": h, "pose": wide, "identity": wide}
        return {k: v.detach() if k in detach else v for k, v in out.items()}

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The maps after LightCNN's four poolings, ``F^1_cls .. F^4_cls`` (shallow to deep)."""
        b = self.backbone
        x = to_lightcnn_input(x, in_channels=b.in_channels, input_size=b.input_size)
        m1 = b.pool(b.conv1(x))
        m2 = b.pool(b.group1(b.block1(m1)))
        m3 = b.pool(b.group2(b.block2(m2)))
        m4 = b.pool(b.group4(b.block4(b.group3(b.block3(m3)))))
        return [m1, m2, m3, m4]

    def outputs(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        """``(forward(x), feature_maps(x))`` from one pass of the backbone."""
        maps = self.feature_maps(x)
        inputs = self.head_inputs(maps)
        return {k: head(inputs[k]) for k, head in self.heads.items()}, maps


def _tiny(size: int = 32, **kw) -> CompGANConfig:
    return CompGANConfig(image_size=size, channels=3, width=4, n_expressions=5, n_poses=4, **kw)


def _pair(k: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1)


register_net("compgan.G_Exp", lambda k: G_Exp(_tiny()), _pair, lambda b, k: (b, 3, 32, 32))
register_net("compgan.G_Pose", lambda k: G_Pose(_tiny()), _pair, lambda b, k: (b, 3, 32, 32))
register_net("compgan.F_cls", lambda k: _FclsHeads(k), images(32), lambda b, k: (b, k + 4 + 3))


class _FclsHeads(nn.Module):
    """F_cls's three heads' logits side by side (the generated network tests expect one tensor)."""

    def __init__(self, k: int):
        super().__init__()
        self.net = F_cls(FclsConfig(n_expressions=k, n_poses=4, n_identities=3, input_size=32, widths=(4, 8, 8, 8, 8),
                                    layers=(1, 1, 1, 1), feature_dim=16, batch_norm=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(list(self.net(x).values()), 1)
