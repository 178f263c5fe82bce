"""FESR: networks of Tables I-II, losses (Eqs. 4-26), RDBP, Algorithm 1 and its variants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from fer_core.data.base import FaceDataset
from fer_core import evaluate
from fer_core.methods.fesr import (ABLATIONS, FESGAN_VARIANTS, FESR, VARIANTS, D_img, D_z, FESGANConfig, FESRConfig,
                                   G_dec, G_enc, Generator, R, RConfig, adv_img_loss_D, adv_img_loss_G, adv_z_loss_D,
                                   adv_z_loss_G, cls_loss, continue_from_pretraining, fesgan_layer_table, fesr_variant,
                                   gradient_penalty, id_loss, intra_class_loss, label_code, objective_D_img,
                                   objective_G, objective_R, rec_loss, recognition_layer_table, same_class_partner,
                                   sample_new_identities, synthesize)
from fer_core.nets.identity import IdentityCNN, IdentityExtractor, train_identity_net
from fer_core.nets.lightcnn import LightCNN29v2
from fer_core.train import StepContext, fit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest.one_thread


S, K = 32, 7
GAN = FESGANConfig.at(S, width=4, num_classes=K, latent_dim=8, d_z=(8, 4, 2))
RC = RConfig(image_size=S, num_classes=K, stem=(4, 8, 8), stem_blocks=(1, 1), convs=(8, 8), fcs=(16, 8))
ID_ARCH = {"widths": (4, 8, 8, 8, 8), "layers": (1, 1, 1, 1), "input_size": S, "feature_dim": 8}


class ToyFaces(FaceDataset):
    """Deterministic random 'faces': a pure function of the index, K expressions x 6 identities."""

    classes = tuple(f"e{i}" for i in range(K))

    def __init__(self, n: int = 42, size: int = S, channels: int = 3):
        self.size, self.channels = size, channels
        self.meta = pd.DataFrame({"expression": np.arange(n) % K, "subject": [f"s{i // K % 6}" for i in range(n)]})

    def load(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        row = self.meta.iloc[i]
        return {"image": torch.rand(self.channels, self.size, self.size, generator=g) * 2 - 1,
                "expression": torch.tensor(int(row["expression"])),
                "identity": torch.tensor(self.identity_code(row["subject"]))}


def _id_net(seed: int = 0, channels: int = 3) -> LightCNN29v2:
    torch.manual_seed(seed)
    return LightCNN29v2(in_channels=channels, **ID_ARCH)


def _method(name: str, *, P_pre: int = 1, seed: int = 0) -> FESR:
    idnet = _id_net()
    torch.manual_seed(seed)
    return FESR(fesr_variant(name, gan=GAN, r=RC, P_pre=P_pre), F_id=idnet, R_stem=idnet)


def _batch(B: int = 8, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.rand(B, 3, S, S, generator=g) * 2 - 1, "expression": torch.arange(B) % 3,
            "identity": torch.arange(B) % 4}


# ---------------------------------------------------------------------------- networks


@pytest.mark.parametrize("size,classes,channels", [(32, 5, 3), (64, 8, 1)])
def test_fesgan_shapes_finite_and_backward(size, classes, channels):
    torch.manual_seed(0)
    cfg = FESGANConfig.at(size, width=4, num_classes=classes, channels=channels, latent_dim=6)
    x = torch.rand(2, channels, size, size) * 2 - 1
    G, Dimg, Dz = Generator(cfg), D_img(cfg), D_z(cfg)
    g = G.G_enc(x)
    assert g.shape == (2, 6) and g.abs().max() <= 1
    x_hat = G.G_dec(g, label_code(torch.tensor([0, classes - 1]), classes))
    assert x_hat.shape == x.shape and x_hat.abs().max() <= 1
    critic, logits = Dimg(x_hat)
    assert critic.shape == (2,) and logits.shape == (2, classes)
    assert Dz(g).shape == (2,) and ((Dz.prob(g) > 0) & (Dz.prob(g) < 1)).all()
    assert D_img(cfg, classifier=False)(x)[1] is None
    loss = critic.sum() + logits.sum() + Dz(g).sum()
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in G.parameters())


def test_fesgan_at_128_keeps_table_one():
    cfg = FESGANConfig.at(128, width=2, latent_dim=4)  # paper depth, tiny widths
    enc = G_enc(cfg)
    x = torch.zeros(1, 3, 128, 128)
    assert len(list(enc.children())) == 6  # 5 convs + FC
    assert G_dec(cfg)(enc(x), torch.zeros(1, 7)).shape == (1, 3, 128, 128)
    assert len(list(G_dec(cfg).children())) == 6  # six DeConvs as in Table I


def test_default_config_is_table_one_and_layer_table_matches_modules():
    paper = FESGANConfig()
    assert paper == FESGANConfig.at(128)
    assert paper.G_enc == (64, 128, 256, 512, 1024) and paper.G_dec == (512, 256, 128, 64, 32)
    assert paper.D_img == (64, 128, 256, 512) and paper.D_img_cls == 1024 and paper.latent_dim == 64
    table = fesgan_layer_table(GAN)
    assert list(table.columns) == ["network", "layer", "spec", "output shape", "params"]
    enc = table[table.network == "G_enc"]
    assert enc["spec"].iloc[0] == "Conv(4,4,2), IN, LReLU" and enc["output shape"].iloc[-1] == (8,)
    assert table[table.network == "G_dec"]["output shape"].iloc[-1] == (3, S, S)
    assert table[table.network == "D_img"]["output shape"].tolist()[-2:] == [(1, 4, 4), (K, 1, 1)]
    for name, net in {"G_enc": G_enc(GAN), "G_dec": G_dec(GAN), "D_img": D_img(GAN), "D_z": D_z(GAN)}.items():
        assert table[table.network == name]["params"].sum() == sum(p.numel() for p in net.parameters())


def test_bad_resolution_and_widths_are_refused():
    with pytest.raises(ValueError, match="4 \\* 2\\*\\*L"):
        FESGANConfig.at(48)
    with pytest.raises(ValueError, match="FESGANConfig.at\\(64"):
        FESGANConfig(image_size=64)
    with pytest.raises(ValueError, match="divisible by 32"):
        RConfig(image_size=48)
    with pytest.raises(ValueError, match="disagree"):
        FESRConfig(gan=GAN, r=RConfig(image_size=S, num_classes=5))


@pytest.mark.parametrize("size,classes", [(32, 5), (64, 9)])
def test_recognition_network_shapes_and_frozen_stem(size, classes):
    cfg = RConfig(image_size=size, num_classes=classes, stem=(4, 8, 8), stem_blocks=(1, 1), convs=(8, 8), fcs=(16, 8))
    torch.manual_seed(0)
    stem_net = LightCNN29v2(in_channels=1, **{**ID_ARCH, "input_size": size})
    stem_net.source = "test weights"
    net = R(cfg, stem_from=stem_net)
    x = torch.rand(3, 3, size, size) * 2 - 1
    assert net.R_ext(x).shape == (3, 8) and net(x).shape == (3, classes)
    net(x).sum().backward()
    stem = net.R_ext.conv1_pool3
    assert all(p.grad is None and not p.requires_grad for p in stem.parameters())
    assert all(p.grad is not None for p in net.R_cls.parameters())
    assert net.stem_source == "Conv1-Pool3 of test weights, frozen"
    assert R(cfg).stem_source.endswith("trained with R")
    stand_in = IdentityCNN(in_channels=3, widths=(4, 8, 8, 8), feature_dim=8, num_classes=4)
    stand_in.source = "stand-in"
    tuned = R(cfg, stem_from=stand_in)  # not general face features: R fine-tunes it
    assert not tuned.stem_frozen and tuned.stem_source == "first three blocks of stand-in, fine-tuned with R"
    tuned(x).sum().backward()
    assert all(p.grad is not None for p in tuned.R_ext.conv1_pool3.parameters())
    table = recognition_layer_table(net)
    assert table["layer"].tolist() == ["conv1_pool3", "conv1", "conv2", "fc1", "fc2", "dropout", "fc"]
    assert table["trainable"].tolist() == [False, True, True, True, True, None, True]
    assert table["params"].sum() == sum(p.numel() for p in net.parameters())


def test_label_code_random_and_fixed_intensity():
    y = torch.tensor([0, 2])
    u = label_code(y, 3, generator=torch.Generator().manual_seed(0))
    assert u.shape == (2, 3) and (u.abs() <= 1).all()
    assert (u[0, 0] >= 0) and (u[0, 1:] <= 0).all() and (u[1, 2] >= 0)
    assert torch.equal(u, label_code(y, 3, generator=torch.Generator().manual_seed(0)))
    fixed = label_code(y, 3, intensity=0.5)
    assert fixed.tolist() == [[0.5, -0.5, -0.5], [-0.5, -0.5, 0.5]]
    assert label_code(y, 3, intensity=torch.tensor([1.0, 0.0])).tolist() == [[1, -1, -1], [0, 0, 0]]
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        label_code(y, 3, intensity=1.5)


# ---------------------------------------------------------------------------- losses


def test_adversarial_losses_by_hand():
    assert adv_img_loss_G(torch.tensor([1.0, 3.0])).item() == -2.0
    assert adv_img_loss_D(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 1.0])).item() == -2.0
    zero = torch.zeros(4)
    assert math.isclose(adv_z_loss_G(zero).item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(adv_z_loss_D(zero, zero).item(), 2 * math.log(2), rel_tol=1e-6)
    # D_z(z) = sigmoid(ln 3) = 3/4, D_z(g) = sigmoid(-ln 3) = 1/4: -ln(3/4) - ln(3/4)
    a = torch.full((2,), math.log(3))
    assert math.isclose(adv_z_loss_D(a, -a).item(), -2 * math.log(0.75), rel_tol=1e-6)
    assert math.isclose(adv_z_loss_G(-a).item(), -math.log(0.25), rel_tol=1e-6)


def test_classification_reconstruction_identity_losses_by_hand():
    assert math.isclose(cls_loss(torch.zeros(3, 4), torch.tensor([0, 1, 3])).item(), math.log(4), rel_tol=1e-6)
    x = torch.zeros(2, 1, 2, 2)
    x_rec = torch.full_like(x, 0.5)
    x_rec[1] = 1.0
    assert rec_loss(x, x_rec).item() == (4 * 0.5 + 4 * 1.0) / 8  # mean absolute error per pixel
    x = torch.zeros(2, 1, 2, 2, requires_grad=True)
    x_rec = torch.ones(2, 1, 2, 2, requires_grad=True)
    loss = id_loss(lambda t: 2 * t.flatten(1), x, x_rec)
    assert loss.item() == 2.0  # every feature differs by |2 - 0|
    loss.backward()
    assert x.grad is None and x_rec.grad.abs().sum() > 0  # F_id(x) is a target


def test_intra_class_loss_three_four_five():
    f_x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    f_pr = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    f_pf = torch.tensor([[6.0, 8.0], [1.0, 1.0]])
    out = intra_class_loss(f_x, f_pr, f_pf)
    assert out.r_dist.item() == 2.5 and out.rf_dist.item() == 5.0 and out.total.item() == 7.5
    masked = intra_class_loss(f_x, f_pr, f_pf, mask=torch.tensor([True, False]))
    assert masked.r_dist.item() == 5.0
    none = intra_class_loss(f_x, f_pr, f_pf, mask=torch.tensor([False, False]))
    assert none.r_dist.item() == 0.0


def test_objectives_weigh_terms_with_the_paper_lambdas():
    lam = FESRConfig().lambdas
    assert lam == (1.0, 10.0, 5.0, 1.0, 1.0, 0.001)
    ones = {k: torch.tensor(1.0) for k in ("adv_img", "adv_z", "rec", "id", "cls_D_fake")}
    assert objective_G(ones, lam).item() == 1 + 1 + 10 + 5 + 1  # Eq. (22)
    assert objective_G({**ones, "cls_R_fake": torch.tensor(1.0)}, lam).item() == 19  # Eq. (25)
    one = torch.tensor(1.0)
    assert objective_D_img(one, one, one, lambda5=2.0, lambda_gp=10.0).item() == 23.0
    assert objective_D_img(one, one, None, lambda5=1.0, lambda_gp=10.0).item() == 11.0
    assert math.isclose(objective_R(one * 100, one, one, lambda6=0.001).item(), 2.1, rel_tol=1e-6)
    assert objective_R(None, one, None, lambda6=0.001).item() == 1.0


def test_gradient_penalty_norm_is_per_sample():
    # D(x) = 0.5 ||x||^2 per sample, so grad D(x) = x: the norms are those of the samples.
    real = torch.zeros(2, 2, 3, 3)
    real[0, 0, 0, 0] = 3.0
    real[0, 1, 2, 2] = 4.0  # ||x_0|| = 5 -> (5 - 1)^2 = 16
    real[1, 0, 1, 1] = 1.0  # ||x_1|| = 1 -> 0
    critic = lambda t: 0.5 * t.pow(2).flatten(1).sum(1)  # noqa: E731
    assert gradient_penalty(critic, real, real).item() == 8.0
    # a per-pixel norm would give ((3-1)^2 + (4-1)^2 + 16 zeros... ) - clearly different
    # mixing: eps=1 keeps real, eps=0 keeps fake
    fake = 2 * real
    assert gradient_penalty(critic, real, fake, eps=torch.zeros(2)).item() == ((10 - 1) ** 2 + (2 - 1) ** 2) / 2
    # a linear critic <w, x>: gradient w everywhere
    w = torch.full((2, 3, 3), 0.5)  # ||w|| = sqrt(18 * 0.25) = sqrt(4.5)
    gp = gradient_penalty(lambda t: (t * w).flatten(1).sum(1), torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3))
    assert math.isclose(gp.item(), (math.sqrt(4.5) - 1) ** 2, rel_tol=1e-5)


def test_gradient_penalty_is_differentiable_in_the_critic():
    torch.manual_seed(0)
    Dimg = D_img(GAN)
    gp = gradient_penalty(Dimg.critic, torch.rand(2, 3, S, S), torch.rand(2, 3, S, S))
    gp.backward()
    assert Dimg.conv1[0].weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------- RDBP


@pytest.mark.parametrize("rdbp", [True, False])
def test_rdbp_stops_the_rf_gradient_at_the_real_features(rdbp):
    torch.manual_seed(0)
    f_x, f_pr, f_pf = (torch.randn(4, 5, requires_grad=True) for _ in range(3))
    rf = intra_class_loss(f_x, f_pr, f_pf, rdbp=rdbp).rf_dist
    g_x, g_pf = torch.autograd.grad(rf, [f_x, f_pf], allow_unused=True)
    assert g_pf.abs().sum() > 0
    if rdbp:
        assert g_x is None or torch.count_nonzero(g_x) == 0
    else:
        assert torch.count_nonzero(g_x) > 0
    # L^r_dist back-propagates normally (Eq. 17) in both cases
    r = intra_class_loss(f_x, f_pr, f_pf, rdbp=rdbp).r_dist
    assert torch.count_nonzero(torch.autograd.grad(r, f_x)[0]) > 0


def _bn_R(seed: int = 0) -> R:
    """R on a batch-normalised stand-in front (fine-tuned with R), the default without LightCNN weights."""
    torch.manual_seed(seed)
    return R(RC, stem_from=IdentityCNN(in_channels=3, widths=(4, 8, 8, 8), feature_dim=8, num_classes=4))


@pytest.mark.parametrize("rdbp", [True, False])
def test_rdbp_is_isolated_on_the_weights_even_with_batchnorm(rdbp):
    import copy

    from fer_core.methods.fesr import recognition_terms
    from fer_core.nets.modes import frozen_statistics

    net = _bn_R()
    net.train()
    ref = copy.deepcopy(net)
    g = torch.Generator().manual_seed(1)
    x, x_pf = (torch.rand(6, 3, S, S, generator=g) * 2 - 1 for _ in range(2))
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    cfg = fesr_variant("FESR_JL" if rdbp else "FESR_JL-RDBP", gan=GAN, r=RC)
    terms = recognition_terms(net, x, y, x_pf, y, cfg)
    params = [p for p in net.R_ext.parameters() if p.requires_grad]
    got = torch.autograd.grad(terms["L_rf_dist"], params, allow_unused=True)
    # the synthetic branch alone: R_ext(x) a constant, R_ext(x^{p,f}) with frozen statistics
    anchor = ref.R_ext(x).detach()
    with frozen_statistics(ref):
        f_pf = ref.R_ext(x_pf)
    alone = torch.autograd.grad((anchor - f_pf).norm(dim=1).mean(), [p for p in ref.R_ext.parameters()
                                                                      if p.requires_grad], allow_unused=True)
    same = all((a is None and b is None) or (a is not None and b is not None and torch.allclose(a, b, atol=1e-6))
               for a, b in zip(got, alone))
    assert same == rdbp  # plain SGD (FESR_JL-RDBP) also moves R_ext(x)
    # the synthetic pass leaves the statistics R uses at test time as the real faces alone set them
    for (name, b_net), b_ref in zip(net.R_ext.named_buffers(), ref.R_ext.buffers()):
        assert torch.equal(b_net, b_ref), name


def test_the_generator_update_uses_R_as_a_judge_and_leaves_its_state_alone():
    idnet = IdentityCNN(in_channels=3, widths=(4, 8, 8, 8), feature_dim=8, num_classes=4)
    torch.manual_seed(0)
    m = FESR(fesr_variant("FESR_JL", gan=GAN, r=RC, P_pre=0), F_id=idnet, R_stem=idnet)
    ctx = StepContext(device=torch.device("cpu"), _optimizers=m.optimizers)
    tracked = [b for n, b in m.nets["R"].named_buffers() if n.endswith("num_batches_tracked")]
    assert tracked
    m.step(_batch(), ctx)
    assert all(int(b) == 1 for b in tracked)  # one update of the statistics per step: the real faces'
    assert m.nets["R"].training


@pytest.mark.parametrize("variant, reaches", [("FESR_JL", True), ("FESR_SL", False)])
def test_joint_learning_is_the_path_from_R_to_the_generator(variant, reaches):
    """Eq. (25): only in joint learning does R's loss on x^{p,f} train G. Perturb R's classifier and take
    one stage-2 step from the same random state: G moves differently exactly when the path exists."""
    runs = []
    for perturb in (False, True):
        m = _method(variant, P_pre=0)
        if perturb:
            with torch.no_grad():
                m.nets["R"].R_cls.fc.weight.mul_(-3.0)
        ctx = StepContext(device=torch.device("cpu"), _optimizers=m.optimizers)
        torch.manual_seed(7)
        m.step(_batch(), ctx)
        runs.append({k: v.clone() for k, v in m.nets["G"].state_dict().items()})
    differs = any(not torch.equal(runs[0][k], runs[1][k]) for k in runs[0] if k.startswith("G_dec."))
    assert differs == reaches


def test_same_class_partner():
    torch.manual_seed(0)
    y = torch.tensor([0, 1, 0, 2, 1, 0])
    idx, valid = same_class_partner(y)
    assert valid.tolist() == [True, True, True, False, True, True]
    assert (y[idx] == y).all() and (idx[valid] != torch.arange(6)[valid]).all() and idx[3] == 3


# ---------------------------------------------------------------------------- Algorithm 1 and variants


def test_variant_table():
    assert set(ABLATIONS) == {"BASELINE", "FESR_SL", "FESR_OneSt", "FESR_JL-IL", "FESR_JL-RDBP", "FESR_Real", "FESR_JL"}
    assert set(FESGAN_VARIANTS) == {"FG", "FG-CO", "FG-IP", "FG-Dimg", "FG-Dimg_cls", "FG-Dz"}
    assert fesr_variant("FESR_OneSt", gan=GAN, r=RC, P_pre=50).P_pre == 0
    assert fesr_variant("FESR_JL", gan=GAN, r=RC, P_pre=50).P_pre == 50
    with pytest.raises(ValueError, match="unknown FESR variant 'FESR_XX'"):
        fesr_variant("FESR_XX")
    with pytest.raises(ValueError, match="needs F_id"):
        FESR(fesr_variant("FG", gan=GAN, r=RC))


EXPECTED_G_TERMS = {
    "BASELINE": None,
    "FESR_SL": {"adv_img", "adv_z", "rec", "id", "cls_D_fake"},
    "FESR_OneSt": {"adv_img", "adv_z", "rec", "id", "cls_D_fake", "cls_R_fake"},
    "FESR_JL-IL": {"adv_img", "adv_z", "rec", "id", "cls_D_fake", "cls_R_fake"},
    "FESR_JL-RDBP": {"adv_img", "adv_z", "rec", "id", "cls_D_fake", "cls_R_fake"},
    "FESR_Real": {"adv_img", "adv_z", "rec", "id", "cls_D_fake", "cls_R_fake"},
    "FESR_JL": {"adv_img", "adv_z", "rec", "id", "cls_D_fake", "cls_R_fake"},
    "FG": {"adv_img", "adv_z", "rec", "id", "cls_D_fake"},
    "FG-CO": {"adv_img", "adv_z", "cls_D_fake"},
    "FG-IP": {"adv_img", "adv_z", "rec", "cls_D_fake"},
    "FG-Dimg": {"adv_z", "rec", "id"},
    "FG-Dimg_cls": {"adv_img", "adv_z", "rec", "id"},
    "FG-Dz": {"adv_img", "rec", "id", "cls_D_fake"},
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_one_training_step_per_variant(name):
    m = _method(name, P_pre=1)
    ctx = StepContext(device=torch.device("cpu"), _optimizers=m.optimizers)
    before = {k: v.clone() for k, v in m.nets.state_dict().items()}
    ctx.step = 1  # stage 2 for the two-stage variants
    out = m.step(_batch(), ctx)
    assert all(torch.isfinite(v).all() and not v.requires_grad for v in out.values())
    expected = EXPECTED_G_TERMS[name]
    if expected is None:
        assert set(out) == {"L_R", "acc_R"}
    else:
        assert {k[2:] for k in out if k.startswith("G_")} == expected
    intra = ABLATIONS.get(name, {}).get("intra_class", True) and name in ABLATIONS and name != "BASELINE"
    assert ("L_rf_dist" in out) == intra
    after = m.nets.state_dict()
    changed = {k.split(".", 1)[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == set(m.optimizers)  # every trained network moved, F_id did not
    if "R" in m.nets:  # the LightCNN front of R is frozen
        assert all(torch.equal(before[k], after[k]) for k in before if ".conv1_pool3." in k)


def test_pretraining_stage_does_not_touch_R():
    m = _method("FESR_JL", P_pre=5)
    ctx = StepContext(device=torch.device("cpu"), step=4, _optimizers=m.optimizers)
    r_before = {k: v.clone() for k, v in m.nets["R"].state_dict().items()}
    out = m.step(_batch(), ctx)
    assert out["stage"].item() == 1.0 and "L_R" not in out and "G_cls_R_fake" not in out
    assert all(torch.equal(v, m.nets["R"].state_dict()[k]) for k, v in r_before.items())


def test_pos_image_key_replaces_in_batch_pairing():
    m = _method("FESR_JL", P_pre=0)
    ctx = StepContext(device=torch.device("cpu"), _optimizers=m.optimizers)
    batch = _batch()
    batch["pos_image"] = batch["image"].clone()  # identical positive: L^r_dist = 0
    assert m.step(batch, ctx)["L_r_dist"].item() == 0.0


def _weights(m: FESR) -> dict:
    return {k: v.clone() for k, v in m.nets.state_dict().items()}


def test_two_stage_schedule_resumes_exactly_across_P_pre(tmp_path):
    data = ToyFaces()
    ref = _method("FESR_JL", P_pre=3)
    fit(ref, data, steps=6, batch_size=7, run_dir=tmp_path / "a", seed=1, progress=False)
    part = _method("FESR_JL", P_pre=3)
    fit(part, data, steps=2, batch_size=7, run_dir=tmp_path / "b", seed=1, progress=False)  # stopped in stage 1
    resumed = _method("FESR_JL", P_pre=3)
    torch.manual_seed(999)
    res = fit(resumed, data, steps=6, batch_size=7, run_dir=tmp_path / "b", seed=1, progress=False)
    assert res.resumed_from == 2
    for k, v in _weights(ref).items():
        assert torch.equal(v, _weights(resumed)[k]), k
    with pytest.raises(ValueError, match="variant 'FESR_JL', not 'FESR_SL'"):
        fit(_method("FESR_SL", P_pre=3), data, steps=7, batch_size=7, run_dir=tmp_path / "b", seed=1, progress=False)


def test_shared_pretraining_equals_training_from_scratch(tmp_path):
    data = ToyFaces()
    scratch, fg = _method("FESR_JL-RDBP", P_pre=2), _method("FG", P_pre=2)
    torch.manual_seed(7)  # the runs are seeded right before fit, as the chapter does
    fit(scratch, data, steps=4, batch_size=7, run_dir=tmp_path / "scratch", seed=2, progress=False)
    torch.manual_seed(7)
    fit(fg, data, steps=2, batch_size=7, run_dir=tmp_path / "fg", seed=2, progress=False)
    shared = _method("FESR_JL-RDBP", P_pre=2)
    assert continue_from_pretraining(shared, tmp_path / "fg", tmp_path / "jl") == 2
    res = fit(shared, data, steps=4, batch_size=7, run_dir=tmp_path / "jl", seed=2, progress=False)
    assert res.resumed_from == 2
    for k, v in _weights(scratch).items():
        assert torch.equal(v, _weights(shared)[k]), k
    with pytest.raises(ValueError, match="exists already"):
        continue_from_pretraining(shared, tmp_path / "fg", tmp_path / "jl")
    with pytest.raises(ValueError, match="P_pre=1"):
        continue_from_pretraining(_method("FESR_JL", P_pre=1), tmp_path / "fg", tmp_path / "late")
    fit(_method("FG-IP"), data, steps=1, batch_size=7, run_dir=tmp_path / "fg_ip", seed=2, progress=False)
    with pytest.raises(ValueError, match="'FG-IP', whose stage 1 differs"):
        continue_from_pretraining(_method("FESR_JL", P_pre=2), tmp_path / "fg_ip", tmp_path / "other")


# ---------------------------------------------------------------------------- identity net and helpers


def test_train_identity_net_and_extractor(tmp_path):
    data = ToyFaces()
    net = train_identity_net(data, steps=2, batch_size=7, arch="lightcnn", widths=ID_ARCH["widths"], feature_dim=8,
                             run_dir=tmp_path, progress=False)
    assert net.num_classes == len(data.subjects) == 6
    assert "6 training identities" in net.source and "LightCNN-29 v2 layout" in net.source
    F_id = IdentityExtractor(net)
    F_id.train()
    assert not F_id.training and not any(p.requires_grad for p in F_id.parameters())
    assert F_id(torch.zeros(2, 3, S, S)).shape == (2, 8)
    m = FESR(fesr_variant("FG", gan=GAN, r=RC), F_id=net)
    assert m.identity_source == net.source


def test_synthesis_and_evaluation_helpers():
    m = _method("FESR_JL")
    G, net_R = m.nets["G"], m.nets["R"]
    x = torch.rand(3, 3, S, S) * 2 - 1
    a = synthesize(G, x, 2, intensity=0.7)
    assert a.shape == x.shape and torch.equal(a, synthesize(G, x, 2, intensity=0.7))
    assert not torch.equal(a, synthesize(G, x, 2, intensity=0.1))
    faces = sample_new_identities(G.G_dec, 4, [0, 3, 6], generator=torch.Generator().manual_seed(0))
    assert faces.shape == (4, 3, 3, S, S) and faces.abs().max() <= 1
    data = ToyFaces(n=10)
    scores = evaluate.classify(net_R, data, batch_size=4)
    assert scores["y_true"].tolist() == data.meta.expression.tolist() and len(scores["y_pred"]) == 10
    feats = evaluate.features(net_R.R_ext, data, modules=(net_R,), batch_size=4)
    assert feats.shape == (10, RC.fcs[1])
    assert torch.allclose(feats[:3], evaluate.features(net_R.R_ext, torch.stack([data[i]["image"] for i in range(3)]),
                                                      modules=(net_R,)), atol=1e-5)  # batch size does not matter
    assert net_R.training  # helpers restore the mode
