"""LightCNN-29 v2: layout, input convention, stem, and safe weight loading."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from fer_core.nets.lightcnn import MFM, LightCNN29v2, LightCNNWeightsError, load_lightcnn29v2, to_lightcnn_input

TINY = {"widths": (4, 8, 12, 8, 8), "layers": (1, 1, 1, 1), "input_size": 32, "feature_dim": 16}


def test_mfm_takes_the_elementwise_max_of_the_two_halves():
    m = MFM(2, 2, linear=True)
    with torch.no_grad():
        m.filter.weight.copy_(torch.eye(4, 2))  # outputs (a, b, 0, 0)
        m.filter.bias.copy_(torch.tensor([0.0, 0.0, 1.0, -1.0]))
    out = m(torch.tensor([[3.0, -5.0]]))
    assert out.tolist() == [[3.0, -1.0]]


def test_published_layout_shapes_and_key_names():
    torch.manual_seed(0)
    net = LightCNN29v2()
    keys = net.state_dict().keys()
    # the public checkpoint's names (after stripping "module.")
    for k in ("conv1.filter.weight", "block1.0.conv1.filter.weight", "group1.conv_a.filter.weight",
              "block4.3.conv2.filter.bias", "group4.conv.filter.weight", "fc.weight"):
        assert k in keys
    assert net.fc.in_features == 8 * 8 * 128 and net.fc.out_features == 256
    small = LightCNN29v2(input_size=32)  # same widths, a quarter of the side: cheap on CPU
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    assert small.stem()(x).shape == (1, 192, 4, 4)
    assert small(x).shape == (1, 256)
    assert small.stem()(torch.zeros(1, 3, 16, 16)).shape == (1, 192, 4, 4)  # resized to 32, made grey


@pytest.mark.parametrize("size,channels,classes", [(32, 3, 5), (64, 1, 11)])
def test_narrow_network_shapes_finite_and_backward(size, channels, classes):
    torch.manual_seed(0)
    net = LightCNN29v2(in_channels=channels, **{**TINY, "input_size": size}, num_classes=classes)
    x = torch.rand(3, channels, size, size) * 2 - 1
    feats, logits = net(x), net.logits(x)
    assert feats.shape == (3, 16) and logits.shape == (3, classes)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert net.stem()(x).shape == (3, 12, size // 8, size // 8)


def test_input_convention_grey_range_and_resize():
    rgb = torch.full((1, 3, 16, 16), -1.0)
    rgb[:, 0] = 1.0  # pure red in [-1, 1]
    grey = to_lightcnn_input(rgb, in_channels=1, input_size=32)
    assert grey.shape == (1, 1, 32, 32)
    assert torch.allclose(grey, torch.full_like(grey, 0.299))
    assert to_lightcnn_input(torch.zeros(1, 1, 8, 8), in_channels=3, input_size=None).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match="2-channel"):
        to_lightcnn_input(torch.zeros(1, 2, 8, 8), in_channels=1, input_size=None)


def test_features_only_network_refuses_logits():
    with pytest.raises(ValueError, match="num_classes=None"):
        LightCNN29v2(**TINY).logits(torch.zeros(1, 1, 32, 32))


def test_bad_layout_is_refused():
    with pytest.raises(ValueError, match="multiple of 16"):
        LightCNN29v2(input_size=40)
    with pytest.raises(ValueError, match="5 positive widths"):
        LightCNN29v2(widths=(4, 8))


def test_weights_round_trip_with_dataparallel_prefix_and_wrapper(tmp_path):
    torch.manual_seed(1)
    src = LightCNN29v2(**TINY, num_classes=7)
    state = {f"module.{k}": v for k, v in src.state_dict().items()}
    path = tmp_path / "LightCNN_29Layers_V2_checkpoint.pth.tar"
    torch.save({"epoch": 80, "arch": "LightCNN-29v2", "state_dict": state}, path)

    net = load_lightcnn29v2(path, **TINY)  # features only: fc2 dropped
    assert net.fc2 is None and str(path) in net.source
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    src.eval()
    assert torch.equal(net(x), src(x))
    with_head = load_lightcnn29v2(path, num_classes=7, **TINY)
    assert torch.equal(with_head.fc2.weight, src.fc2.weight)


def test_safetensors_round_trip(tmp_path):
    src = LightCNN29v2(**TINY)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    net = load_lightcnn29v2(path, **TINY)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), src.state_dict().values()))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_lightcnn29v2(tmp_path / "nowhere.pth")


def test_mismatched_keys_and_shapes_are_reported(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, path)
    with pytest.raises(LightCNNWeightsError, match=r"other.pth.*missing block1.0.conv1.filter.bias.*unexpected encoder.weight"):
        load_lightcnn29v2(path, **TINY)
    torch.save(LightCNN29v2(**{**TINY, "widths": (4, 8, 12, 8, 6)}).state_dict(), path)
    with pytest.raises(LightCNNWeightsError, match="shape mismatch group4.conv.filter.weight"):
        load_lightcnn29v2(path, **TINY)
    torch.save({"epoch": 3}, path)
    with pytest.raises(LightCNNWeightsError, match="no state_dict"):
        load_lightcnn29v2(path, **TINY)
