"""Every network builder of the book, generated over the registry (torchvision's model-test pattern)."""

from __future__ import annotations

import pytest
import torch

from fer_core.nets.registry import net_entries

pytestmark = pytest.mark.usefixtures("one_thread")
ENTRIES = net_entries()


def _outputs(out) -> list[torch.Tensor]:
    return [o for o in (out if isinstance(out, tuple) else (out,)) if o is not None]


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("classes", [7, 5])
def test_builder_output_shape_finite_and_backward_reaches_every_weight(name, classes):
    entry = ENTRIES[name]
    torch.manual_seed(0)
    net = entry.build(classes)
    inputs = entry.inputs(classes, torch.Generator().manual_seed(1))
    outs = _outputs(net(*inputs))
    assert tuple(outs[0].shape) == entry.out_shape(entry.batch, classes), name
    assert all(torch.isfinite(o).all() for o in outs), name
    sum(o.float().square().mean() for o in outs).backward()
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    assert trainable, f"{name} has no trainable parameters"
    unreached = [n for n, p in trainable if p.grad is None]
    assert not unreached, f"{name}: no gradient reaches {unreached[:5]}"


def test_the_registry_holds_the_shared_backbones_and_each_papers_networks():
    assert {f"backbone.{n}" for n in ("alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "resnet18", "resnet34",
                                      "resnet50")} <= set(ENTRIES)
    assert {"fesr.G_enc", "fesr.G_dec", "fesr.D_img", "fesr.D_z", "fesr.R", "SmallCNN"} <= set(ENTRIES)
