"""FaPE-GAN's pose maps, networks, losses, training steps and augmentation (fer_core.methods.fapegan)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fer_core.data.memory import MemoryCachedDataset
from fer_core.data.synthetic import f2ed_like
from fer_core.methods.fapegan import (D, FaNet, FaNetConfig, FaNetTraining, FaPEConfig, FaPEGAN, G_FaPE, L_D, L_G_FaPE,
                                      L_L1, PairedViews, TensorFaces, augment, fine_tune_from, pose_map, segments,
                                      transfer, view_pairs)
from fer_core.train import StepContext, fit

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = FaPEConfig(image_size=32, channels=3, width=4)


@pytest.fixture(scope="module")
def faces():
    return MemoryCachedDataset(f2ed_like(n_identities=3, n_classes=3, size=32), "cpu")


def _ctx(method) -> StepContext:
    return StepContext(device=torch.device("cpu"), amp=False, _optimizers=method.optimizers)


# -- pose maps -------------------------------------------------------------------------------------------

def test_pose_map_draws_each_landmark_on_its_pixel():
    lm = torch.full((68, 2), float("nan"))
    lm[0] = torch.tensor([3.0, 5.0])  # x = 3, y = 5
    lm[40] = torch.tensor([10.4, 2.6])  # rounds to x = 10, y = 3
    m = pose_map(lm, 16, lines=False)
    assert m.shape == (1, 16, 16) and set(m.unique().tolist()) == {-1.0, 1.0}
    on = torch.nonzero(m[0] > 0).tolist()
    assert sorted(on) == [[3, 10], [5, 3]]  # (row = y, col = x)


def test_pose_map_lines_join_consecutive_points_of_a_part():
    lm = torch.full((68, 2), float("nan"))
    lm[0], lm[1] = torch.tensor([2.0, 4.0]), torch.tensor([9.0, 4.0])  # jaw points 0 and 1: a horizontal segment
    m = pose_map(lm, 16)
    assert (m[0, 4, 2:10] > 0).all() and (m > 0).sum() == 8


def test_permuted_landmarks_give_another_map(faces):
    lm = faces.data["landmarks"][:1]
    perm = lm[:, torch.randperm(68, generator=torch.Generator().manual_seed(0))]
    a, b = pose_map(lm, 32), pose_map(perm, 32)
    assert a.shape == (1, 1, 32, 32) and not torch.equal(a, b)
    assert torch.equal(pose_map(lm, 32, lines=False), pose_map(perm, 32, lines=False))  # the same points


def test_pose_map_points_off_the_image_are_dropped_and_bad_shapes_named():
    lm = torch.full((68, 2), 100.0)
    assert (pose_map(lm, 16) < 0).all()
    with pytest.raises(ValueError, match="68"):
        pose_map(torch.zeros(5, 2), 16)
    with pytest.raises(ValueError, match=r"\(B, 68, 2\)"):
        pose_map(torch.zeros(68, 3), 16)
    assert len(segments()) == 16 + 4 + 4 + 3 + 4 + 6 + 6 + 12 + 8


# -- networks --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [32, 64])
def test_generator_and_discriminator_shapes(size):
    cfg = FaPEConfig(image_size=size, channels=3, width=4)
    x, p = torch.rand(2, 3, size, size) * 2 - 1, torch.rand(2, 1, size, size) * 2 - 1
    G, Dn = G_FaPE(cfg), D(cfg)
    y = G(x, p)
    assert y.shape == x.shape and y.abs().max() <= 1
    feats = G.G_Enc(x, p)
    assert feats[-1].shape == (2, {32: 16, 64: 32}[size], 4, 4) and len(feats) == cfg.levels
    assert Dn(x).shape == (2, 1, 8, 8)


def test_generator_uses_the_pose_map():
    torch.manual_seed(0)
    G = G_FaPE(TINY).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert not torch.allclose(G(x, -torch.ones(1, 1, 32, 32)), G(x, torch.ones(1, 1, 32, 32)))


def test_bad_configurations_are_named():
    with pytest.raises(ValueError, match="power of two"):
        FaPEConfig(image_size=48)
    with pytest.raises(ValueError, match="channels"):
        FaPEConfig(image_size=32, channels=2)
    with pytest.raises(ValueError, match="num_classes"):
        FaNetConfig(num_classes=1)


def _fanet(k=5, bn=True):
    return FaNet(FaNetConfig(num_classes=k, input_size=32, widths=(4, 8, 8, 8, 8), layers=(0, 1, 1, 1), feature_dim=16,
                             batch_norm=bn))


def test_fanet_logits_and_batch_norm_option():
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert _fanet(5).eval()(x).shape == (3, 5)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in _fanet(5).modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in _fanet(5, bn=False).modules())


def test_fine_tune_replaces_the_head_and_keeps_the_backbone():
    torch.manual_seed(0)
    source = _fanet(9)
    torch.manual_seed(1)
    target = fine_tune_from(source, 7)
    assert target.head[-1].out_features == 7 and source.head[-1].out_features == 9
    for (n, a), (_, b) in zip(source.backbone.state_dict().items(), target.backbone.state_dict().items()):
        assert torch.equal(a, b), n
    p = next(target.backbone.parameters())
    with torch.no_grad():
        p.add_(1.0)
    assert not torch.equal(p, next(source.backbone.parameters()))  # a copy, not shared tensors


# -- losses ----------------------------------------------------------------------------------------------

def test_losses_on_hand_checkable_values():
    zero = torch.zeros(2, 1, 2, 2)
    assert math.isclose(float(L_D(zero, zero)), 2 * math.log(2), rel_tol=1e-6)  # D(x) = 1/2 everywhere
    big = torch.full((2, 1, 2, 2), 30.0)
    assert float(L_D(big, -big)) < 1e-6  # D certain and right
    a, b = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)
    assert math.isclose(float(L_L1(a, b)), 0.5)
    assert math.isclose(float(L_G_FaPE(zero, a, b, lam=10.0)), math.log(2) + 10 * 0.5, rel_tol=1e-6)
    assert math.isclose(float(L_G_FaPE(zero, a, b, lam=0.0)), math.log(2), rel_tol=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        L_L1(a, torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="lam"):
        L_G_FaPE(zero, a, b, lam=-1.0)


# -- training pairs and the step ---------------------------------------------------------------------------

def test_view_pairs_are_one_person_and_expression_in_two_views(faces):
    pairs = view_pairs(faces.data)
    d = faces.data
    i, t = pairs[:, 0], pairs[:, 1]
    assert len(pairs) == len(faces) * 3  # four views: three partners each
    assert (d["identity"][i] == d["identity"][t]).all() and (d["expression"][i] == d["expression"][t]).all()
    assert (d["view"][i] != d["view"][t]).all()


def test_paired_views_items_and_missing_landmarks(faces):
    pv = PairedViews(faces)
    b = pv.__getitems__([0, 1])
    assert b["image"].shape == (2, 3, 32, 32) and b["pose"].shape == (2, 1, 32, 32)
    t = pv.pairs[0, 1]
    assert torch.equal(b["target"][0], faces.data["image"][t])
    assert torch.equal(b["pose"][0], pose_map(faces.data["landmarks"][t], 32))
    no_lm = TensorFaces({k: v for k, v in faces.data.items() if k != "landmarks"})
    with pytest.raises(ValueError, match="landmarks"):
        PairedViews(no_lm)
    with pytest.raises(ValueError, match="'view'"):
        view_pairs({k: v for k, v in faces.data.items() if k != "view"})


def _batch(faces):
    return PairedViews(faces).__getitems__(list(range(4)))


def test_D_update_moves_D_only_and_G_update_moves_G_only(faces):
    torch.manual_seed(0)
    m = FaPEGAN(TINY)
    ctx, batch = _ctx(m), _batch(faces)
    weights = lambda name: {k: p.detach().clone() for k, p in m.nets[name].named_parameters()}  # noqa: E731
    same = lambda a, b: all(torch.equal(a[k], b[k]) for k in a)  # noqa: E731
    G0, D0 = weights("G"), weights("D")
    I_hat = m.nets["G"](batch["image"], batch["pose"])
    m.update_D(batch["image"], I_hat, ctx)
    assert same(G0, weights("G")) and not same(D0, weights("D"))
    D1 = weights("D")
    m.update_G(batch["target"], I_hat, ctx)
    assert same(D1, weights("D")) and not same(G0, weights("G"))


def test_D_loss_sends_no_gradient_to_G_and_G_loss_reaches_every_G_weight(faces):
    torch.manual_seed(0)
    m = FaPEGAN(TINY)
    b = _batch(faces)
    G, Dn = m.nets["G"], m.nets["D"]
    I_hat = G(b["image"], b["pose"])
    d_loss = L_D(*Dn(torch.cat([b["image"], I_hat.detach()])).chunk(2))
    grads = torch.autograd.grad(d_loss, list(G.parameters()), allow_unused=True)
    assert all(g is None for g in grads)
    g_loss = L_G_FaPE(Dn(I_hat), b["target"], I_hat)
    grads = torch.autograd.grad(g_loss, list(G.parameters()))
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_fapegan_training_is_deterministic(faces, tmp_path):
    def run(d):
        torch.manual_seed(0)
        m = FaPEGAN(TINY)
        fit(m, PairedViews(faces), steps=3, batch_size=4, device="cpu", run_dir=tmp_path / d, progress=False, seed=0)
        return m.nets["G"].state_dict()

    a, b = run("a"), run("b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fanet_step_uses_sgd_with_the_paper_schedule(faces):
    torch.manual_seed(0)
    m = FaNetTraining(_fanet(3), lr=0.01, lr_step=2)
    opt = m.optimizers["FaNet"]
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    ctx, batch = _ctx(m), faces.__getitems__(list(range(8)))
    for _ in range(4):
        out = m.step(batch, ctx)
    assert math.isclose(opt.param_groups[0]["lr"], 0.01 * 0.457 ** 2, rel_tol=1e-6)
    assert torch.isfinite(out["loss"])
    with pytest.raises(ValueError, match="lr_step"):
        FaNetTraining(_fanet(3), lr=0.01, lr_step=0)


# -- augmentation ----------------------------------------------------------------------------------------

def test_augment_balances_views_and_keeps_the_source_expression(faces):
    d = faces.data
    keep = torch.nonzero((d["view"] != 0) | (torch.arange(len(faces)) % 9 == 0)).flatten()  # view 0 is rare
    rare = TensorFaces({k: v[keep] for k, v in d.items()})
    torch.manual_seed(0)
    G = G_FaPE(TINY)
    out = augment(G, rare, 200, seed=0)
    assert out["image"].shape == (200, 3, 32, 32)
    assert torch.equal(out["expression"], rare.data["expression"][out["source"]])
    assert (out["view"] != rare.data["view"][out["source"]]).all()
    assert torch.equal(rare.data["view"][out["pose_row"]], out["view"])
    share = float((out["view"] == 0).float().mean())
    assert share > 1 / 3  # the rare view is drawn most often (inverse frequency)
    again = augment(G, rare, 200, seed=0)
    assert torch.equal(again["image"], out["image"]) and torch.equal(again["source"], out["source"])


def test_transfer_is_batched_and_in_eval_mode(faces):
    torch.manual_seed(0)
    G = G_FaPE(TINY)
    x, p = faces.data["image"][:5], pose_map(faces.data["landmarks"][:5], 32)
    a = transfer(G, x, p, batch_size=2)
    assert G.training  # eval mode only while transferring
    G.eval()
    with torch.no_grad():
        b = G(x, p)
    assert torch.allclose(a, b, atol=1e-6)
