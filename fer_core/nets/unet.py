"""The encoder-decoder blocks and sizes that the pix2pix-style generators and patch
discriminators of Comp-GAN and FaPE-GAN share (Isola et al., 2017: 4x4 stride-2 convolutions,
LeakyReLU 0.2 going down, ReLU coming up)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from torch import nn

__all__ = ["EncoderDecoderSpec", "down", "up"]

Norm = Callable[[int], nn.Module]


@dataclass(frozen=True)
class EncoderDecoderSpec:
    """The sizes of an encoder-decoder on ``(B, channels, image_size, image_size)`` faces.

    Attributes:
        image_size: face side ``S`` (a power of two, >= 16).
        channels: 3 (RGB) or 1 (grey).
        width: channels of the first encoder level, doubled per level (capped at ``8 * width``).
        bottleneck: side of the deepest map (4: 32 px -> 3 levels, 256 px -> 6).
    """

    image_size: int = 64
    channels: int = 3
    width: int = 64
    bottleneck: int = 4

    def __post_init__(self) -> None:
        s, name = self.image_size, type(self).__name__
        if s < 16 or s & (s - 1):
            raise ValueError(f"{name}.image_size must be a power of two >= 16, got {s}")
        if self.channels not in (1, 3):
            raise ValueError(f"{name}.channels must be 1 or 3, got {self.channels}")
        if self.width < 1 or self.bottleneck < 1 or s % self.bottleneck or s // self.bottleneck < 4:
            raise ValueError(f"{name} needs width >= 1 and a bottleneck side dividing image_size at least 4 times "
                             f"(two levels), got width={self.width}, bottleneck={self.bottleneck}, image_size={s}")

    @property
    def levels(self) -> int:
        """Stride-2 levels from ``image_size`` down to ``bottleneck``."""
        return int(math.log2(self.image_size // self.bottleneck))

    def widths(self) -> list[int]:
        """Output channels of each encoder level."""
        return [min(self.width * 2 ** i, 8 * self.width) for i in range(self.levels)]


def down(c_in: int, c_out: int, *, norm: Norm | None = nn.BatchNorm2d) -> nn.Sequential:
    """``(B, c_in, s, s) -> (B, c_out, s/2, s/2)``: 4x4 stride-2 convolution, ``norm`` (none: a bias), LeakyReLU 0.2."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm is None)]
    if norm is not None:
        layers.append(norm(c_out))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def up(c_in: int, c_out: int, *, norm: Norm = nn.BatchNorm2d) -> nn.Sequential:
    """``(B, c_in, s, s) -> (B, c_out, 2s, 2s)``: 4x4 stride-2 transposed convolution, ``norm``, ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), norm(c_out), nn.ReLU(inplace=True))
