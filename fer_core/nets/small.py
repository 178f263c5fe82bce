"""A small CNN: the book's baseline recogniser and sanity-check network."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SmallCNN", "conv_block"]


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """[Conv 3x3, BatchNorm, ReLU] x 2, then MaxPool(2): ``(B, c_in, H, W)`` -> ``(B, c_out, H/2, W/2)``."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class SmallCNN(nn.Module):
    """Four conv blocks (width w, 2w, 4w, 4w), global average pooling, a linear head.

    Works at any input size >= 16 px thanks to the global pooling.

    Args:
        in_channels: 1 (grayscale) or 3 (RGB).
        num_classes: K, the number of output logits (1: a regressor, e.g. the judge's intensity).
        width: channels of the first block, w.
        dropout: dropout before the head.

    Shapes:
        ``forward``: ``(B, in_channels, H, W)`` in [-1, 1] -> logits ``(B, K)``.
        ``features``: ``(B, in_channels, H, W)`` -> ``(B, 4w)`` (the penultimate layer).
    """

    def __init__(self, in_channels: int, num_classes: int, *, width: int = 32, dropout: float = 0.2):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
        if num_classes < 1:
            raise ValueError(f"num_classes (the outputs; 1 for a regressor) must be >= 1, got {num_classes}")
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        w = width
        self.body = nn.Sequential(
            conv_block(in_channels, w), conv_block(w, 2 * w), conv_block(2 * w, 4 * w), conv_block(4 * w, 4 * w)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w, num_classes))
        self.feature_dim = 4 * w
        self.num_classes = num_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.body(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
