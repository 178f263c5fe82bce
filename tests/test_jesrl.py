"""JESRL: the switch unit (Eqs. 2-3, 6), networks of Table I, the losses (Eqs. 5, 7-12), the step and its
variants, the Fréchet distance's closed form, the shared multi-optimiser update."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fer_core import metrics
from fer_core.methods.jesrl import (VARIANTS, C, ClassifierConfig, G_dec, Generator, JESRL, MultiScaleD, PairSampler,
                                    PerceptualNet, SwitchGANConfig, VGG19Trunk, adv_loss_D, adv_loss_G, block_bounds,
                                    block_mask, classifier_layer_table, cls_loss, gan_layer_table, gan_param_counts,
                                    inter_loss_D, inter_loss_G, interpolate, interpolation_frames, jesrl_variant,
                                    objective_G, perceptual_loss, pixel_sum_loss, recon_loss, switch, switch_code,
                                    total_variation, transfer)
from fer_core.methods.jesrl.evaluation import fid_per_expression, inception_fid, per_pose_accuracy, reference_pairs
from fer_core.train import StepContext, make_adam

pytestmark = pytest.mark.usefixtures("one_thread")

S, N = 32, 6
GAN = SwitchGANConfig.at(S, width=4, num_classes=N)
CLF = ClassifierConfig(image_size=S, num_classes=N, vgg_width=2, batch_norm=True, fuse=8, fc=(8, 8))


def _pool(n: int = 24, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(n, 3, S, S, generator=g) * 2 - 1, "expression": torch.arange(n) % N}


def _method(name: str = "Ours", seed: int = 0, **kw) -> JESRL:
    torch.manual_seed(seed)
    config = jesrl_variant(name, gan=GAN, clf=CLF, pairs=4, optimizer_C="adam", **kw)
    F_net = PerceptualNet(VGG19Trunk(2, batch_norm=True)) if config.synthesis and config.train_gan else None
    torch.manual_seed(seed)
    return JESRL(config, train=_pool(), perceptual=F_net, seed=seed)


def _ctx(m: JESRL, step: int = 0) -> StepContext:
    return StepContext(device=torch.device("cpu"), step=step, _optimizers=m.optimizers)


def _batch(B: int = 4) -> dict[str, torch.Tensor]:
    pool = _pool(seed=9)
    return {"image": pool["image"][:B], "expression": pool["expression"][:B]}


# ----------------------------------------------------------------------------- the switch unit


@pytest.mark.parametrize("C_ch,n", [(12, 6), (32, 6), (7, 3)])
def test_switch_exchanges_exactly_blocks_i_and_j_and_nothing_else(C_ch, n):
    bounds = block_bounds(C_ch, n)
    assert bounds[0] == 0 and bounds[-1] == C_ch and all(b > a for a, b in zip(bounds, bounds[1:]))
    R_a, R_b = torch.randn(n * (n - 1), C_ch, 2, 2), torch.randn(n * (n - 1), C_ch, 2, 2)
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    i, j = torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])
    R_c, R_d = switch(R_a, R_b, i, j, bounds)
    for row, (a, b) in enumerate(pairs):
        moved = set(range(bounds[a], bounds[a + 1])) | set(range(bounds[b], bounds[b + 1]))
        for ch in range(C_ch):
            src_c, src_d = (R_b, R_a) if ch in moved else (R_a, R_b)
            assert torch.equal(R_c[row, ch], src_c[row, ch]) and torch.equal(R_d[row, ch], src_d[row, ch])


def test_blocks_are_cut_where_the_authors_code_cuts_them():
    assert block_bounds(512, 6) == (0, 85, 171, 256, 341, 427, 512)  # round(C / n * k)
    with pytest.raises(ValueError, match="at least one channel per expression"):
        block_bounds(4, 6)


def test_switch_code_marks_the_exchanged_expressions():
    code = switch_code(torch.tensor([0, 2]), torch.tensor([3, 1]), 4)
    assert code.tolist() == [[1, 0, 0, 1], [0, 1, 1, 0]]
    assert switch_code(torch.tensor([0, 2]), None, 4).abs().sum() == 0  # reconstructions: nothing exchanged
    with pytest.raises(ValueError, match="two different expressions"):
        switch_code(torch.tensor([1]), torch.tensor([1]), 4)


def test_interpolation_runs_from_the_transfer_to_the_own_representation():
    bounds = block_bounds(12, 6)
    R_a, R_b = torch.randn(3, 12, 1, 1), torch.randn(3, 12, 1, 1)
    i, j = torch.tensor([0, 1, 5]), torch.tensor([2, 4, 3])
    assert all(torch.equal(x, y) for x, y in zip(interpolate(R_a, R_b, i, j, bounds, 0.0), switch(R_a, R_b, i, j, bounds)))
    assert all(torch.equal(x, y) for x, y in zip(interpolate(R_a, R_b, i, j, bounds, 1.0), (R_a, R_b)))
    R_cp, R_dp = interpolate(R_a, R_b, i, j, bounds, 0.5)
    m = block_mask(i, j, bounds)
    assert torch.allclose(R_cp[m.expand_as(R_cp)], ((R_a + R_b) / 2)[m.expand_as(R_a)])
    assert torch.equal(R_cp[~m.expand_as(R_cp)], R_a[~m.expand_as(R_a)])
    assert torch.allclose(R_cp + R_dp, R_a + R_b)  # Eq. 6 only redistributes the two blocks


# ----------------------------------------------------------------------------- networks


def test_table_one_at_256_px_has_the_papers_widths_and_about_14M_parameters():
    cfg = SwitchGANConfig.at(256)
    assert cfg == SwitchGANConfig() and cfg.G_enc == (64, 128, 256, 512, 512) and cfg.D == (64, 128, 256, 512)
    assert cfg.rep_size == 8
    total = sum(gan_param_counts(cfg).values())
    assert 12e6 < total < 16e6  # the paper: "the GAN-based facial expression synthesis module has 14M parameters"
    table = gan_layer_table(SwitchGANConfig.at(64, width=4))
    assert "Concat(32 + 32 + 20 x 6)" in table.spec.iloc[5] and table.network.nunique() == 4


def test_residual_composition_adds_the_decoders_output_to_the_source():
    torch.manual_seed(0)
    G = Generator(GAN)
    x = torch.rand(2, 3, S, S) * 2 - 1
    R, _ = G.encode(x)
    code = switch_code(torch.tensor([0, 1]), torch.tensor([2, 3]), N)
    res = G.G_dec(R.flip(0), R, code)
    assert res.abs().max() <= 1  # Tanh residual (Eq. 4)
    assert torch.allclose(G.decode(R.flip(0), R, code, x), x + res)
    official = Generator(GAN.official())
    R, skips = official.encode(x)
    res = official.G_dec(R, R, code, skips)
    assert res.abs().max() <= 2 and res.abs().max() > 0  # 2 tanh
    assert torch.equal(official.decode(R, R, code, x, skips), (x + res).clamp(-1, 1))
    with pytest.raises(ValueError, match="pass the source's first four encoder stages"):
        official.G_dec(R, R, code)


def test_the_batched_decoder_call_equals_four_separate_calls():
    torch.manual_seed(0)
    for cfg in (GAN, GAN.official()):
        G = Generator(cfg)
        I_a, I_b = torch.rand(3, 3, S, S) * 2 - 1, torch.rand(3, 3, S, S) * 2 - 1
        i, j = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])
        R, skips = G.encode(torch.cat([I_a, I_b]))
        R_a, R_b = R[:3], R[3:]
        R_c, R_d = switch(R_a, R_b, i, j, G.bounds)
        S_, Z = switch_code(i, j, N), switch_code(i, None, N)
        sk = None if skips is None else [s.repeat(2, 1, 1, 1) for s in skips]
        batched = G.decode(torch.cat([R_c, R_d, R_a, R_b]), torch.cat([R_a, R_b, R_a, R_b]),
                           torch.cat([S_, S_, Z, Z]), torch.cat([I_a, I_b, I_a, I_b]), sk).split(3)
        part = lambda k, n=3: None if skips is None else [s[k * n:(k + 1) * n] for s in skips]  # noqa: E731
        single = [G.decode(R_c, R_a, S_, I_a, part(0)), G.decode(R_d, R_b, S_, I_b, part(1)),
                  G.decode(R_a, R_a, Z, I_a, part(0)), G.decode(R_b, R_b, Z, I_b, part(1))]
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(batched, single))


def test_D2_sees_the_face_at_half_resolution_and_both_read_the_label():
    torch.manual_seed(0)
    Ds = MultiScaleD(GAN)
    seen = {}
    def record(name):
        def hook(module, inputs, output):
            seen[name] = inputs[0].shape
        return hook

    Ds.D1.conv1.register_forward_hook(record("D1"))
    Ds.D2.conv1.register_forward_hook(record("D2"))
    x = torch.rand(2, 3, S, S)
    d1, d2 = Ds(x, torch.tensor([0, 1]))
    assert seen["D1"] == (2, 3 + N, S, S) and seen["D2"] == (2, 3 + N, S // 2, S // 2)
    assert d1.shape == d2.shape == (2,)
    other = Ds(x, torch.tensor([2, 3]))
    assert not torch.equal(other[0], d1)  # the label planes change the verdict


def test_C_concatenates_the_representation_and_refuses_a_wrong_one():
    torch.manual_seed(0)
    net = C(CLF, expr_channels=GAN.rep_channels)
    x, R = torch.rand(2, 3, S, S), torch.rand(2, GAN.rep_channels, 1, 1)
    assert net(x, R).shape == (2, N) and net.features(x, R).shape == (2, 8)
    assert net.fuse.in_channels == net.vgg.out_channels + GAN.rep_channels
    with pytest.raises(ValueError, match="concatenates G_enc"):
        net(x)
    assert C(CLF)(x).shape == (2, N)  # No_ExpR / No_SynFI: VGG features only
    assert "VGGNet-19" in classifier_layer_table(net).spec.iloc[0]


def test_vgg_trunk_taps_the_perceptual_layers_in_one_pass():
    trunk = VGG19Trunk(2)
    assert sorted(trunk.taps.values()) == ["relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4"]
    maps = trunk.tap(torch.rand(2, 3, S, S))
    assert [m.shape[1:] for m in maps] == [(2, 32, 32), (4, 16, 16), (8, 8, 8), (16, 4, 4)]
    F_net = PerceptualNet(trunk)
    F_net.train()
    assert not F_net.training and not any(p.requires_grad for p in F_net.parameters())


def test_bad_configuration_is_named():
    with pytest.raises(ValueError, match="divisible by 32"):
        SwitchGANConfig.at(48)
    with pytest.raises(ValueError, match="decoder_activation"):
        dataclasses.replace(GAN, decoder_activation="tanh")
    with pytest.raises(ValueError, match="ImageNet weights"):
        ClassifierConfig(image_size=S, vgg_width=8, weights="/x.pth")
    with pytest.raises(ValueError, match="unknown JESRL variant"):
        jesrl_variant("Nope")
    with pytest.raises(ValueError, match="perceptual=PerceptualNet"):
        JESRL(jesrl_variant("Ours", gan=GAN, clf=CLF), train=_pool())
    with pytest.raises(ValueError, match="no face of expression"):
        PairSampler(torch.zeros(5, dtype=torch.long), 3)


# ----------------------------------------------------------------------------- losses


def test_adversarial_and_interpolation_losses_on_hand_checkable_logits():
    zero = (torch.zeros(4), torch.zeros(4))
    assert torch.isclose(adv_loss_D(zero, zero), torch.tensor(4 * np.log(2), dtype=torch.float32))  # 2 scales x 2
    assert torch.isclose(adv_loss_G(zero), torch.tensor(2 * np.log(2), dtype=torch.float32))
    assert torch.isclose(inter_loss_D(zero), torch.tensor(2 * np.log(2), dtype=torch.float32))
    confident = (torch.full((4,), 20.0), torch.full((4,), 20.0))
    assert inter_loss_G(confident) < 1e-6 and inter_loss_D(confident) > 19


def test_reconstruction_pixel_sum_perceptual_tv_and_cls_on_hand_checkable_inputs():
    a, b = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    assert recon_loss(a, a + 0.5, b, b) == pytest.approx(0.25)  # MSE per value
    c, d = torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.5)
    assert pixel_sum_loss(a, b, c, d) == pytest.approx(0.0)  # |mean|a+b| - mean|c+d|| = |1 - 1|
    assert pixel_sum_loss(a, b, c, d * 0) == pytest.approx(0.5)
    assert pixel_sum_loss(a, b, torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]]), a, pixelwise=True) == pytest.approx(0.5)
    step = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])
    assert total_variation(step) == pytest.approx(1.0)  # horizontal jumps of 1, no vertical ones
    ident = lambda x: [x, 2 * x]  # noqa: E731  two "layers"
    assert perceptual_loss(ident, a, b, b, a).item() == pytest.approx(0.0)  # I_d = I_a and I_c = I_b
    assert perceptual_loss(ident, a, b, a, b).item() == pytest.approx(2 * (1 + 2))
    logits = torch.tensor([[10.0, 0.0], [0.0, 10.0]])
    assert cls_loss(logits, torch.tensor([0, 1])) < 1e-3
    terms = {"adv": torch.tensor(1.0), "r": torch.tensor(1.0), "per": torch.tensor(1.0), "p": torch.tensor(1.0),
             "tv": torch.tensor(1.0), "C": torch.tensor(1.0)}
    assert objective_G(terms) == pytest.approx(1 + 1 + 10 + 15 + 5 + 5)


def test_frechet_distance_matches_the_closed_form_of_two_gaussians():
    g = torch.Generator().manual_seed(0)
    n, d = 400, 3

    def exact(mean, cov):  # samples whose unbiased sample mean and covariance are exactly mean, cov
        z = torch.randn(n, d, generator=g, dtype=torch.float64)
        z = z - z.mean(0)
        L = torch.linalg.cholesky(z.T @ z / (n - 1))
        z = z @ torch.linalg.inv(L).T
        return mean + z @ torch.linalg.cholesky(cov).T

    m1, m2 = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    c1, c2 = torch.diag(torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64)), torch.eye(3, dtype=torch.float64) * 4
    # diagonal covariances: Tr(C1 + C2 - 2 (C1 C2)^1/2) = sum (s1 - s2)^2
    closed = float((m1 - m2).square().sum() + ((c1.diag().sqrt() - c2.diag().sqrt()) ** 2).sum())
    assert metrics.frechet_distance(exact(m1, c1), exact(m2, c2)) == pytest.approx(closed, rel=1e-6)
    embed = torch.nn.Identity()
    x = torch.cat([exact(m1, c1), exact(m2, c2)]).float()
    y = torch.cat([torch.zeros(n), torch.ones(n)]).long()
    per = fid_per_expression(embed, x, y, x, 1 - y, 2)
    assert per[0] == pytest.approx(closed, rel=1e-4) and per[1] == pytest.approx(closed, rel=1e-4)


def test_inception_fid_without_weights_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="Inception weights not found"):
        inception_fid(torch.zeros(2, 3, S, S), torch.zeros(2, 3, S, S), tmp_path / "none.pth")


# ----------------------------------------------------------------------------- pairs and the step


def test_pairs_cycle_over_expressions_and_are_a_pure_function_of_seed_and_step():
    labels = torch.arange(30) % N
    cyc = PairSampler(labels, N, scheme="cycle", seed=3)
    for t in range(8):
        i, a, b = cyc.draw(t, 5)
        assert i == t % N and (labels[a] == i).all() and (labels[b] != i).all()
    assert all(torch.equal(x, y) for x, y in zip(cyc.draw(4, 5)[1:], PairSampler(labels, N, seed=3).draw(4, 5)[1:]))
    uni = PairSampler(labels, N, scheme="uniform", seed=3)
    assert len({uni.draw(t, 2)[0] for t in range(40)}) > 3


def test_a_step_updates_every_network_it_trains_and_is_deterministic():
    def run():
        m = _method("Ours")
        before = {k: [p.detach().clone() for p in m.nets[k].parameters()] for k in ("G", "D", "C", "F")}
        out = m.step(_batch(), _ctx(m))
        return m, before, out

    m, before, out = run()
    assert {"L_D", "L_G", "L_C", "G_adv", "G_inter", "G_per", "G_tv", "G_C"} <= set(out)
    for k in ("G", "D", "C"):
        assert any(not torch.equal(p, q) for p, q in zip(before[k], m.nets[k].parameters())), k
    assert all(torch.equal(p, q) for p, q in zip(before["F"], m.nets["F"].parameters()))  # F is frozen
    m2, _, out2 = run()
    assert all(torch.equal(p, q) for p, q in zip(m.nets.parameters(), m2.nets.parameters()))
    assert out["L_G"] == out2["L_G"]


def test_the_classifier_gradient_reaches_G_enc_end_to_end_and_not_with_the_frozen_encoder():
    m = _method("Ours")
    x, y = _batch()["image"], _batch()["expression"]
    G = m.nets["G"]
    I_a, I_b, i, j = m._pairs(_ctx(m))
    R_x, _ = G.encode(x)
    fake = (I_a.detach(), I_b.detach())
    enc = list(G.G_enc.parameters())
    loss, _ = m._loss_C(x, y, R_x, *fake, i, j, grad_enc=True)
    grads = torch.autograd.grad(loss, enc, allow_unused=True)
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    loss, _ = m._loss_C(x, y, None, *fake, i, j, grad_enc=False)
    assert all(g is None for g in torch.autograd.grad(loss, enc + list(m.nets["C"].parameters()), allow_unused=True)[
        :len(enc)])
    # the authors' code: during C's turn (odd blocks) G does not move; during the GAN's turn C does not
    off = _method("Official", alternate=1)
    G_before = [p.detach().clone() for p in off.nets["G"].parameters()]
    C_before = [p.detach().clone() for p in off.nets["C"].parameters()]
    off.step(_batch(), _ctx(off, step=1))
    assert all(torch.equal(p, q) for p, q in zip(G_before, off.nets["G"].parameters()))
    assert any(not torch.equal(p, q) for p, q in zip(C_before, off.nets["C"].parameters()))
    C_before = [p.detach().clone() for p in off.nets["C"].parameters()]
    off.step(_batch(), _ctx(off, step=2))
    assert all(torch.equal(p, q) for p, q in zip(C_before, off.nets["C"].parameters()))


def test_without_the_representation_C_never_reaches_the_GAN():
    """No_ExpR trains its GAN exactly as a GAN trained alone: what TwoStage continues from."""
    joint, alone = _method("No_ExpR"), _method("No_ExpR")
    alone.config = dataclasses.replace(alone.config, alternate=10**9)  # every iteration a GAN turn, C never updated
    for t in range(2):
        joint.step(_batch(), _ctx(joint, t))
        alone.step(_batch(), _ctx(alone, t))
    assert all(torch.equal(p, q) for p, q in zip(joint.nets["G"].parameters(), alone.nets["G"].parameters()))
    ours = _method("Ours")
    ours.step(_batch(), _ctx(ours, 0))
    first = _method("No_ExpR")
    first.step(_batch(), _ctx(first, 0))
    assert any(not torch.equal(p, q) for p, q in zip(ours.nets["G"].G_enc.parameters(),
                                                      first.nets["G"].G_enc.parameters()))


def test_variants_switch_what_the_paper_says():
    assert set(VARIANTS) == {"Ours", "No_InterL", "No_ExpR", "No_InterL_ExpR", "No_SynFI", "TwoStage", "Official"}
    off = jesrl_variant("Official", gan=GAN, clf=CLF, alternate=7)
    assert off.gan.skips and off.gan.decoder_activation == "relu" and off.gan.residual_scale == 2 and off.gan.clamp
    assert not off.end_to_end and off.alternate == 7 and off.pairing == "uniform" and not off.tv_trains
    assert jesrl_variant("Ours", gan=GAN, clf=CLF).joint and not jesrl_variant("TwoStage", gan=GAN, clf=CLF).joint
    plain = _method("No_SynFI")
    assert set(plain.nets) == {"C"} and not plain.nets["C"].uses_representation
    out = plain.step(_batch(), _ctx(plain))
    assert set(out) == {"L_C", "acc_C"}
    no_inter = _method("No_InterL")
    assert "G_inter" not in no_inter.step(_batch(), _ctx(no_inter))
    two = _method("TwoStage")
    assert set(two.optimizers) == {"C"} and "D" not in two.nets


def test_transfer_and_interpolation_frames_for_figures():
    torch.manual_seed(0)
    G = Generator(GAN)
    x = torch.rand(4, 3, S, S) * 2 - 1
    out = transfer(G, x[:2], x[2:], torch.tensor([0, 1]), torch.tensor([2, 3]))
    assert out.shape == (2, 3, S, S)
    frames = interpolation_frames(G, x[0], x[1], 0, 2, torch.linspace(1, 0, 3))
    assert frames.shape == (3, 3, S, S)
    with torch.no_grad():  # p = 1: the own representation (with the pair's switch code)
        R_a = G.G_enc(x[:1])
        own = G.decode(R_a, R_a, switch_code(torch.tensor([0]), torch.tensor([2]), N), x[:1])
    assert torch.allclose(frames[0], own[0], atol=1e-6)
    assert not torch.allclose(frames[0], frames[-1])


def test_reference_pairs_and_per_pose_accuracy():
    labels, subjects = np.array([0, 1, 2, 0, 1, 2]), np.array(["a", "a", "a", "b", "b", "b"])
    pairs = reference_pairs(labels, subjects, 3)
    assert len(pairs) == 6 * 2
    assert all(labels[r] == e and subjects[r] != subjects[a] and e != labels[a] for a, e, r in pairs)
    with pytest.raises(ValueError, match="at least two test subjects"):
        reference_pairs(labels, np.array(["a"] * 6), 3)
    acc = per_pose_accuracy(torch.tensor([0, 1, 0, 1]), torch.tensor([0, 0, 0, 1]), np.array([-15.0, -15.0, 0.0, 0.0]))
    assert acc == {"-15": 0.5, "0": 1.0}


def test_one_backward_steps_several_optimisers_shared_update():
    """fer_core.train.StepContext.update with a tuple of optimisers (the shared change for end-to-end JESRL)."""
    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    opts = {"a": make_adam(a.parameters(), lr=0.1), "b": torch.optim.SGD(b.parameters(), lr=0.1)}
    ctx = StepContext(device=torch.device("cpu"), _optimizers=opts)
    before = [p.detach().clone() for p in [*a.parameters(), *b.parameters()]]
    ctx.update(("a", "b"), b(a(torch.ones(2, 3))).square().mean())
    assert all(not torch.equal(p, q) for p, q in zip(before, [*a.parameters(), *b.parameters()]))
    with pytest.raises(ValueError, match="unknown optimizer 'c'"):
        ctx.update(("a", "c"), b(a(torch.ones(2, 3))).sum())
    a_before = [p.detach().clone() for p in a.parameters()]
    ctx.update("b", b(a(torch.ones(2, 3))).sum())  # one name: as before, only b steps
    assert all(torch.equal(p, q) for p, q in zip(a_before, a.parameters()))
