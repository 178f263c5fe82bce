"""GroupGAN: G/E/D/D' shapes, the bottleneck concatenation, every energy of Eqs. 1-17 on hand-checkable
inputs, the heat map of Eq. 22, Fig. 4's map, each BaseNet's reduced head, and Algorithm 1's updates
(what each update moves, checked on the weights)."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch

from fer_core.methods.groupgan import (BASENETS, FRAMEWORKS, AutoencoderPretraining, Discriminator, Frames,
                                       Generator, GroupGAN, GroupGANConfig, GroupGANSettings, PairedFrames,
                                       PeakPretraining, Phi_C, Phi_D, V_D, V_E, V_G, adversarial_G, augment_pair,
                                       base_net, content_loss, continue_from, feature_difference_map, heat_map,
                                       magnify, phi_D, predict)
from fer_core.train import StepContext, fit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest.one_thread

S, K = 32, 6
GAN = GroupGANConfig.at(S, width=4, cond_dim=8)


def _settings(framework: str, **kw) -> GroupGANSettings:
    return GroupGANSettings(framework=framework, basenet="resnet18", num_classes=K, gan=GAN, fc=(16, 8),
                            optimizer="adam", lr=1e-3, lr_C=1e-3, **kw)


def _batch(n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(n, 3, S, S, generator=g) * 2 - 1, "peak": torch.rand(n, 3, S, S, generator=g) * 2 - 1,
            "expression": torch.randint(0, K, (n,), generator=g)}


def _ctx(method) -> StepContext:
    return StepContext(device=torch.device("cpu"), _optimizers=method.optimizers)


# -- networks -------------------------------------------------------------------------------------------
def test_generator_shapes_and_bottleneck_concatenation():
    G = Generator(GAN)
    x = torch.zeros(2, 3, S, S)
    assert G.encode(x).shape == (2, GAN.widths[-1], S // 8, S // 8)
    F = torch.arange(16.).reshape(2, 8)
    b = G.bottleneck(x, F)
    assert b.shape == (2, GAN.widths[-1] + 8, S // 8, S // 8)
    # the extractor's features are tiled over the map, after the encoder's channels
    assert torch.equal(b[:, GAN.widths[-1]:], F[:, :, None, None].expand(-1, -1, S // 8, S // 8))
    assert torch.equal(G.bottleneck(x)[:, GAN.widths[-1]:], torch.zeros(2, 8, S // 8, S // 8))
    with torch.no_grad():
        y = G(x, F)
    assert y.shape == x.shape and float(y.abs().max()) <= 1
    with pytest.raises(ValueError, match="F_exp must be"):
        G(x, torch.zeros(2, 5))


def test_generator_follows_the_papers_kernels():
    G = Generator(GroupGANConfig.at(S, width=4))
    enc = [m for block in list(G.G_enc)[::2] for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.kernel_size[0] for m in enc] == [7, 5, 3, 3]
    assert all(type(block).__name__ == "ResidualBlock" for block in list(G.G_enc)[1::2])
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in G.G_dec) == 4
    assert sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) for m in G.G_dec) == 2


def test_F_exp_changes_the_generated_face():
    torch.manual_seed(0)
    G = Generator(GAN).eval()
    x = torch.rand(2, 3, S, S) * 2 - 1
    assert not torch.allclose(G(x, torch.zeros(2, 8)), G(x, torch.ones(2, 8)))


def test_discriminators_shapes_and_condition():
    x, F = torch.zeros(3, 3, S, S), torch.zeros(3, 8)
    assert Discriminator(GAN)(x, F).shape == (3,)
    assert Discriminator(GAN, cond_dim=0)(x).shape == (3,)
    with pytest.raises(ValueError, match="pass F_exp"):
        Discriminator(GAN)(x)
    with pytest.raises(ValueError, match="takes no F_exp"):
        Discriminator(GAN, cond_dim=0)(x, F)


@pytest.mark.parametrize("name", BASENETS)
def test_each_basenet_builds_with_its_reduced_head(name):
    net = base_net(name, num_classes=K)
    linears = [m.out_features for m in net.head if isinstance(m, torch.nn.Linear)]
    assert linears == [512, 256] and net.feature_dim == 256 and net.classifier.out_features == K
    size = 64 if name == "alexnet" else 32
    x = torch.zeros(2, 3, size, size)
    net.eval()
    with torch.no_grad():
        assert net.E(x).shape == (2, 256)
        assert net(x).shape == (2, K)
    # E and C split the weights without overlap or omission
    e, c = {id(p) for p in net.E_parameters()}, {id(p) for p in net.C_parameters()}
    assert not e & c and e | c == {id(p) for p in net.parameters()}


def test_bad_configuration_messages():
    with pytest.raises(ValueError, match="Table 1 has"):
        base_net("vgg12")
    with pytest.raises(ValueError, match="unknown framework"):
        GroupGANSettings(framework="3V3")
    with pytest.raises(ValueError, match="cond_dim must be 8"):
        GroupGANSettings(framework="2V2", gan=GroupGANConfig.at(S, width=4, cond_dim=16), fc=(16, 8))
    with pytest.raises(ValueError, match="divisible"):
        GroupGANConfig(image_size=30)


# -- energies ----------------------------------------------------------------------------------------------
def test_content_loss_is_the_mean_squared_error():
    a, b = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1., -1.], [2., 0.]]]])
    assert content_loss(a, b).item() == pytest.approx((1 + 1 + 4 + 0) / 4)


def test_discriminator_energies_on_hand_values():
    zero = torch.zeros(2)  # D = sigmoid(0) = 1/2
    assert Phi_D(zero).item() == pytest.approx(math.log(2))
    assert phi_D(zero).item() == pytest.approx(math.log(2))
    assert V_D(zero, zero).item() == pytest.approx(2 * math.log(2))
    big = torch.full((2,), 20.)
    assert Phi_D(big).item() < 1e-6 and phi_D(-big).item() < 1e-6  # a confident, correct D pays nothing


def test_adversarial_G_forms():
    l = torch.tensor([math.log(3.)])  # D = 3/4
    assert adversarial_G(l).item() == pytest.approx(-math.log(0.75))
    assert adversarial_G(l, form="minimax").item() == pytest.approx(math.log(0.25))
    with pytest.raises(ValueError, match="nonsaturating"):
        adversarial_G(l, form="wgan")


def test_Phi_C_is_the_cross_entropy():
    logits = torch.tensor([[0., 0., 0.]])
    assert Phi_C(logits, torch.tensor([1])).item() == pytest.approx(math.log(3))


def test_V_G_and_V_E_weigh_their_terms():
    peak, fake = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    zero_logits, uniform = torch.zeros(2), torch.zeros(2, 3)
    y = torch.tensor([0, 1])
    e = V_G(peak, fake, zero_logits, zero_logits, uniform, y, alpha_G=0.1, beta_G=0.2, gamma_G=0.5)
    assert e.content.item() == pytest.approx(1.0)
    assert e.total.item() == pytest.approx(1.0 + 0.1 * math.log(2) + 0.2 * math.log(2) + 0.5 * math.log(3))
    dcgan = V_G(peak, fake, zero_logits, None, None, None, alpha_G=0.1, beta_G=0.2, gamma_G=0.5)
    assert dcgan.total.item() == pytest.approx(1.0 + 0.1 * math.log(2)) and dcgan.cls.item() == 0
    v = V_E(uniform, y, zero_logits, zero_logits, alpha_E=1.0, beta_E=2.0)
    assert v.item() == pytest.approx(math.log(3) + 3 * math.log(2))


def test_heat_map_of_eq_22_sums_squares_over_channels():
    p = torch.zeros(1, 3, 2, 2)
    x = torch.zeros(1, 3, 2, 2)
    x[0, :, 0, 1] = torch.tensor([1., 2., 2.])
    h = heat_map(p, x)
    assert h.shape == (1, 2, 2) and h[0, 0, 1].item() == pytest.approx(9.0) and h.sum().item() == pytest.approx(9.0)
    with pytest.raises(ValueError, match="one shape"):
        heat_map(p, torch.zeros(1, 3, 4, 4))


def test_feature_difference_map_is_8x32_and_thresholded():
    f1, f2 = torch.zeros(256), torch.zeros(256)
    f2[:10] = 1.0
    f2[10] = 0.4
    diff, lit = feature_difference_map(f1, f2, threshold=0.5)
    assert diff.shape == (8, 32) and lit.sum().item() == 10 and diff.max().item() == 1.0
    _, lit_scaled = feature_difference_map(f1, f2, threshold=0.5, scale=4.0)
    assert lit_scaled.sum().item() == 0  # on a larger scale the same difference is below the threshold
    with pytest.raises(ValueError, match="256"):
        feature_difference_map(torch.zeros(100), torch.zeros(100))


# -- Algorithm 1 ------------------------------------------------------------------------------------------------
def _snapshot(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def _moved(before: dict[str, torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in net.named_parameters())


@contextlib.contextmanager
def _only_moves(m: GroupGAN, *moved: str):
    """The block must change the weights of the nets ``moved``, and of no other net of ``m``."""
    before = {n: _snapshot(m.nets[n]) for n in m.nets}
    yield
    for n in m.nets:
        assert _moved(before[n], m.nets[n]) == (n in moved), f"{n} {'stayed' if n in moved else 'moved'}"


def test_update_G_moves_only_G():
    torch.manual_seed(0)
    m = GroupGAN(_settings("2V2"))
    b = _batch()
    with _only_moves(m, "G"):
        F = m.F_exp(b["image"]).detach()
        m.update_G(b["peak"], m.nets["G"](b["image"], F), F, b["expression"], _ctx(m))


def test_update_E_reaches_E_through_G_but_moves_neither_G_nor_D():
    torch.manual_seed(0)
    m = GroupGAN(_settings("2V2"))
    b = _batch()
    # the adversarial terms of Eq. 13 reach E only through F_exp: check the gradient on E's weights
    C = m.nets["C"]
    F = C.E(b["image"])
    adv = adversarial_G(m.nets["D"](m.nets["G"](b["image"], F), F))
    grads = torch.autograd.grad(adv, C.E_parameters(), allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    with _only_moves(m, "C"):
        m.update_E(b["image"], b["peak"], b["expression"], _ctx(m))


def test_update_D_moves_only_its_discriminator():
    torch.manual_seed(0)
    m = GroupGAN(_settings("1V2"))
    b = _batch()
    with _only_moves(m, "D_prime"):
        m.update_D("D_prime", b["peak"], m.nets["G"](b["image"]), None, _ctx(m))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_one_step_of_each_framework(framework):
    torch.manual_seed(0)
    m = GroupGAN(_settings(framework))
    assert ("G" in m.nets) == (framework != "CNN") and ("D_prime" in m.nets) == (framework in ("1V2", "2V2"))
    out = m.step(_batch(), _ctx(m))
    assert all(math.isfinite(float(v)) for v in out.values())
    logits, feats = predict(m, _batch()["image"])
    assert logits.shape == (4, K) and feats.shape == (4, 8)
    assert magnify(m, _batch()["image"]).shape == (4, 3, S, S)


def test_dcgan_has_no_classifier_term_in_G():
    torch.manual_seed(0)
    m = GroupGAN(_settings("DCGAN"))
    out = m.step(_batch(), _ctx(m))
    assert float(out["Phi_C_G"]) == 0.0 and float(out["adv_D_prime"]) == 0.0


def test_training_is_deterministic():
    def run():
        torch.manual_seed(0)
        m = GroupGAN(_settings("2V2"))
        data = PairedFrames(torch.rand(12, 3, S, S) * 2 - 1, torch.arange(12) % K,
                            np.stack([np.arange(6), np.arange(6, 12)], 1))
        fit(m, data, steps=2, batch_size=4, seed=0, device="cpu", progress=False)
        return [p.detach().clone() for p in m.nets.parameters()]

    torch.manual_seed(123)
    a = run()
    b = run()
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_pretrainings_and_continue_from():
    torch.manual_seed(0)
    s = _settings("2V2")
    pre_E, pre_G = PeakPretraining(s), AutoencoderPretraining(GAN)
    b = _batch()
    pre_E.step({"image": b["peak"], "expression": b["expression"]}, _ctx(pre_E))
    out = pre_G.step({"image": b["image"]}, _ctx(pre_G))
    assert out["reconstruction"] > 0
    m = continue_from(GroupGAN(s), C=pre_E.nets["C"], G=pre_G.nets["G"])
    for a, c in zip(m.nets["C"].parameters(), pre_E.nets["C"].parameters()):
        assert torch.equal(a, c)
    for a, c in zip(m.nets["G"].parameters(), pre_G.nets["G"].parameters()):
        assert torch.equal(a, c)


def test_paired_frames_and_augmentation_keep_pairs_aligned():
    x = torch.arange(4 * 3 * S * S, dtype=torch.float).reshape(4, 3, S, S)
    ds = PairedFrames(x, torch.tensor([0, 1, 2, 3]), [[0, 3], [1, 3]])
    item = ds.__getitems__([1])
    assert torch.equal(item["image"][0], x[1]) and torch.equal(item["peak"][0], x[3]) and item["expression"][0] == 1
    assert len(Frames(x, torch.arange(4), [2])) == 1
    g = torch.Generator().manual_seed(0)
    a, b = augment_pair(x, x.clone(), crop_pad=2, flip=True, generator=g)
    assert torch.equal(a, b) and a.shape == x.shape  # the weak face and its peak get the same crop and flip
    with pytest.raises(ValueError, match="at least one"):
        PairedFrames(x, torch.arange(4), np.zeros((0, 2)))
