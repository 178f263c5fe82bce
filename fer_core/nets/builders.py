"""The shared networks' entries in :mod:`fer_core.nets.registry`."""

from __future__ import annotations

from torch import nn

from fer_core.nets.backbones import BACKBONES, MIN_SIZE, backbone
from fer_core.nets.identity import IdentityCNN
from fer_core.nets.lightcnn import LightCNN29v2
from fer_core.nets.registry import images, register_net
from fer_core.nets.small import SmallCNN

class _Logits(nn.Module):
    """``net.logits`` as ``forward`` (identity networks return features from ``forward``)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.logits(x)


register_net("SmallCNN", lambda k: SmallCNN(3, k, width=4), images(32), lambda b, k: (b, k))
register_net("IdentityCNN.logits", lambda k: _Logits(IdentityCNN(widths=(4, 4, 8, 8), feature_dim=8, num_classes=k)),
             images(32), lambda b, k: (b, k))
register_net("LightCNN29v2.logits", lambda k: _Logits(LightCNN29v2(in_channels=3, widths=(4, 8, 8, 8, 8),
                                                                   layers=(1, 1, 1, 1), input_size=32,
                                                                   feature_dim=8, num_classes=k)),
             images(32), lambda b, k: (b, k))
for _name, _spec in BACKBONES.items():
    _size = MIN_SIZE[_spec.family]
    register_net(f"backbone.{_name}", lambda k, n=_name: backbone(n, num_classes=k, fc=(16, 8)),
                 images(_size), lambda b, k: (b, k))


