"""Comp-GAN's networks, Algorithm 1, losses (Eqs. 1-13), metrics (Eqs. 14-18), training steps and
augmentation (fer_core.methods.compgan)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fer_core import metrics
from fer_core.data.memory import MemoryCachedDataset
from fer_core.data.synthetic import f2ed_like
from fer_core.methods.compgan import (CON_TAGS, EXP_TAGS, LAMBDA, MU, POSE_TAGS, RECON_TAGS, TAGS, AttGANEditor,
                                      CompGAN, CompGANConfig, D, F_cls, FclsConfig, FclsTraining, G_Att, G_Exp, G_PA,
                                      G_Pose, L1, L_exp, L_G, L_id, L_loop, L_pose, Pix2PixEditor, Quadruples,
                                      algorithm1, augment, label_maps, plan_augmentation, to_poses, train_compgan)
from fer_core.nets.lightcnn import LightCNN29v2, load_lightcnn29v2, with_batch_norm
from fer_core.train import StepContext, fit

pytestmark = pytest.mark.usefixtures("one_thread")

CFG = CompGANConfig(image_size=32, channels=3, width=4, n_expressions=3, n_poses=4, label_maps=True)
FCFG = FclsConfig(n_expressions=3, n_poses=4, n_identities=4, input_size=32, widths=(4, 8, 8, 8, 8),
                  layers=(0, 1, 1, 1), feature_dim=16, dropout=0.0, batch_norm=True)


@pytest.fixture(scope="module")
def faces():
    return MemoryCachedDataset(f2ed_like(n_identities=4, n_classes=3, size=32), "cpu")


def _ctx(method) -> StepContext:
    return StepContext(device=torch.device("cpu"), amp=False, _optimizers=method.optimizers)


def _batch(faces, n=4):
    return Quadruples(faces, per_source=1, seed=0).__getitems__(list(range(n)))


# -- networks ---------------------------------------------------------------------------------------------

def test_editors_shapes_labels_and_bad_input():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = torch.tensor([0, 2])
    for G, labels in ((G_Exp(CFG), (y,)), (G_Pose(CFG), (torch.tensor([1, 3]),)), (G_PA(CFG), (y, torch.tensor([0, 1])))):
        out = G(x, x, labels)
        assert out.shape == x.shape and out.abs().max() <= 1
    assert G_Att(CFG)(x, None, (y, torch.tensor([0, 1]))).shape == x.shape
    with pytest.raises(ValueError, match="reference face"):
        G_Exp(CFG)(x, None, (y,))
    with pytest.raises(ValueError, match="label tensor"):
        G_Exp(CFG)(x, x)
    with pytest.raises(ValueError, match="0..2"):
        label_maps(torch.tensor([3]), 3, 4)
    with pytest.raises(ValueError, match="power of two"):
        CompGANConfig(image_size=48)


def test_label_maps_change_the_edit():
    torch.manual_seed(0)
    G = G_Exp(CFG).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert not torch.allclose(G(x, x, (torch.tensor([0]),)), G(x, x, (torch.tensor([1]),)))


def test_a_residual_editor_starts_near_its_source():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 1.6 - 0.8
    y = (torch.tensor([0, 1]),)
    near = (G_Exp(CompGANConfig(**{**CFG.__dict__, "residual": True})).eval()(x, x, y) - x).abs().mean()
    far = (G_Exp(CFG).eval()(x, x, y) - x).abs().mean()
    assert float(near) < 0.1 < float(far)


def test_discriminator_heads_and_classifier_maps():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = D(CFG)(x)
    assert out["adv"].shape == (2,) and out["expression"].shape == (2, 3) and out["pose"].shape == (2, 4)
    net = F_cls(FCFG).eval()
    logits, maps = net.outputs(x)
    assert {k: tuple(v.shape) for k, v in logits.items()} == {"expression": (2, 3), "pose": (2, 4), "identity": (2, 4)}
    assert [m.shape[-1] for m in maps] == [16, 8, 4, 2]
    torch.testing.assert_close(logits["expression"], net(x)["expression"])
    torch.testing.assert_close(net.features(x), net.backbone.features(x))


def test_lightcnn_checkpoint_with_and_without_module_prefix_loads_into_F_cls_backbone(tmp_path):
    arch = dict(in_channels=3, widths=(4, 8, 8, 8, 8), layers=(0, 1, 1, 1), input_size=32, feature_dim=16)
    src = LightCNN29v2(**arch)
    for prefix in ("", "module."):
        path = tmp_path / f"w{prefix or 'plain'}.pth"
        torch.save({prefix + k: v for k, v in src.state_dict().items()}, path)
        net = load_lightcnn29v2(path, **arch)
        x = torch.rand(2, 3, 32, 32) * 2 - 1
        torch.testing.assert_close(net(x), src(x))
    bn = with_batch_norm(LightCNN29v2(**arch))
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in bn.modules()) == 1 + 2 * 3 + 2 * 4  # conv1, three residual blocks, four groups


# -- Algorithm 1 --------------------------------------------------------------------------------------------

def test_algorithm1_returns_eight_tagged_images_from_two_generators_only():
    # a face is (pose, expression) in two channels; F_P copies the reference's pose, F_E its expression
    calls = {"P": 0, "E": 0}

    def F_P(x, ref, labels):
        calls["P"] += 1
        return torch.cat([ref[:, :1], x[:, 1:]], 1)

    def F_E(x, ref, labels):
        calls["E"] += 1
        return torch.cat([x[:, :1], ref[:, 1:]], 1)

    face = lambda p, e: torch.tensor([[[[p]], [[e]]]], dtype=torch.float)  # noqa: E731
    ps, pt, es, et = 0.0, 1.0, 10.0, 11.0
    val = {"ps": ps, "pt": pt, "es": es, "et": et}
    refs = {(p, e): face(val[p], val[e]) + 100 for p, e in (("pt", "es"), ("ps", "et"), ("pt", "et"), ("ps", "es"))}
    refs = {k: torch.cat([face(val[k[0]], val[k[1]])], 0) for k in refs}
    out = algorithm1(F_P, F_E, face(ps, es), refs)
    assert tuple(out) == TAGS and len(out) == 8 and calls == {"P": 4, "E": 4}
    for tag, img in out.items():
        assert img.flatten().tolist() == [val[tag[4:6]], val[tag[7:9]]], tag
    assert set(POSE_TAGS) | set(EXP_TAGS) == set(TAGS) and not set(POSE_TAGS) & set(EXP_TAGS)
    with pytest.raises(ValueError, match="reference faces"):
        algorithm1(F_P, F_E, face(ps, es), {("pt", "es"): refs[("pt", "es")]})


def test_algorithm1_passes_each_call_its_target_label():
    seen = []

    def F(x, ref, labels):
        seen.append(int(labels[0]))
        return x

    labels = {"ps": torch.tensor(0), "pt": torch.tensor(1), "es": torch.tensor(10), "et": torch.tensor(11)}
    refs = {k: torch.zeros(1) for k in (("pt", "es"), ("ps", "et"), ("pt", "et"), ("ps", "es"))}
    algorithm1(F, F, torch.zeros(1), refs, labels)
    assert seen == [1, 11, 11, 1, 0, 10, 10, 0]  # steps 1a, 1b, 2a, 2b, 3a, 3b, 4a, 4b


# -- losses -------------------------------------------------------------------------------------------------

def test_attribute_losses_by_hand():
    B, K = 2, 3
    logits = {t: torch.zeros(B, K) for t in TAGS}  # uniform: each cross-entropy is log K
    y = torch.zeros(B, dtype=torch.long)
    assert math.isclose(float(L_exp(logits, y, y)), 8 * math.log(K), rel_tol=1e-6)
    assert math.isclose(float(L_id(logits, y)), 8 * math.log(K), rel_tol=1e-6)
    # confident and right on every image that must show e_s, uniform elsewhere: only the e_t images cost
    sharp = {t: (torch.tensor([[50.0, 0, 0]]).expand(B, K) if t[7:9] == "es" else torch.zeros(B, K)) for t in TAGS}
    es, et = torch.zeros(B, dtype=torch.long), torch.ones(B, dtype=torch.long)
    assert math.isclose(float(L_exp(sharp, es, et)), 4 * math.log(K), rel_tol=1e-5)
    sharp_p = {t: (torch.tensor([[50.0, 0, 0]]).expand(B, K) if t[4:6] == "ps" else torch.zeros(B, K)) for t in TAGS}
    assert math.isclose(float(L_pose(sharp_p, es, et)), 4 * math.log(K), rel_tol=1e-5)
    with pytest.raises(ValueError, match="tag"):
        L_id({"(it,px,es)a": torch.zeros(B, K)}, y)


def test_construction_and_loop_losses_by_hand():
    one, zero = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    fakes = {t: zero for t in TAGS}
    truths = {("ps", "es"): one, ("pt", "es"): one, ("ps", "et"): zero, ("pt", "et"): 0.5 * one}
    # CON_TAGS: (pt,es) 1, (pt,et) 0.5, (ps,et) 0, (pt,et) 0.5
    assert math.isclose(float(L1(fakes, truths, CON_TAGS)), 2.0)
    # RECON_TAGS: (ps,et) 0, (ps,es) 1, (pt,es) 1, (ps,es) 1
    assert math.isclose(float(L1(fakes, truths, RECON_TAGS)), 3.0)
    assert float(L_loop(fakes)) == 0
    fakes2 = dict(fakes, **{"(it,pt,es)a": one, "(it,ps,et)b": -one})
    assert math.isclose(float(L_loop(fakes2)), 2.0)


def test_L_G_weights_each_term_and_rejects_unknown_ones():
    terms = {"exp": torch.tensor(1.0), "loop": torch.tensor(2.0)}
    assert float(L_G(terms, LAMBDA)) == 20 * 1 + 10 * 2
    assert float(L_G(terms, MU)) == 30 * 1 + 10 * 2
    assert LAMBDA["con"] == 30 and MU["con"] == 40 and MU["exp"] == 30 and LAMBDA["pose"] == 20
    with pytest.raises(ValueError, match="unknown loss terms"):
        L_G({"style": torch.tensor(1.0)}, LAMBDA)
    with pytest.raises(ValueError, match=">= 0"):
        L_G(terms, {"exp": -1.0})


# -- Eqs. 14-18 ----------------------------------------------------------------------------------------------

def test_attribute_metrics_on_a_hand_computed_case():
    Y = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
    F = torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]])
    m = metrics.attribute_metrics(Y, F)
    # label 0: P=2 TP=1, N=2 TN=2; label 1: P=1 TP=1, N=3 TN=2; label 2: P=1 TP=0, N=3 TN=2
    assert math.isclose(m["mA"], (1 / 2 + 1 + 1 + 2 / 3 + 0 + 2 / 3) / 6)
    # per example: acc 1/2, 1, 0 (empty prediction: 0/1), 0; prec 1/2, 1, 0 (0/0 -> 0), 0; rec 1, 1, 0, 0
    assert math.isclose(m["acc"], 1.5 / 4) and math.isclose(m["prec"], 1.5 / 4) and math.isclose(m["rec"], 0.5)
    assert math.isclose(m["F1"], 2 * 0.375 * 0.5 / 0.875)
    single = metrics.attribute_metrics(Y, Y)
    assert single["acc"] == single["prec"] == single["rec"] == single["F1"] == single["mA"] == 1.0
    probs = torch.tensor([[0.6, 0.3, 0.1], [0.4, 0.35, 0.25]])
    assert metrics.predicted_sets(probs).tolist() == [[True, False, False], [False, False, False]]
    with pytest.raises(ValueError, match=r"\(N, M\)"):
        metrics.attribute_metrics(Y, F[:2])


# -- training ------------------------------------------------------------------------------------------------

def test_quadruples_hold_the_faces_algorithm1_needs(faces):
    q = Quadruples(faces, per_source=2, seed=0)
    b = q.__getitems__(list(range(len(q))))
    codes = {k: faces.data[k] for k in ("identity", "expression", "view")}
    img = faces.data["image"]

    def row_of(x):
        return int(torch.nonzero((img == x).flatten(1).all(1))[0])

    for j in range(0, len(q), 7):
        it, ps, pt, es, et = (int(b[k][j]) for k in ("it", "ps", "pt", "es", "et"))
        assert ps != pt and es != et
        for key, (p, e, same) in {"image": (ps, es, True), "gt_pt_es": (pt, es, True), "gt_ps_et": (ps, et, True),
                                  "gt_pt_et": (pt, et, True), "r_pt_es": (pt, es, False), "r_ps_et": (ps, et, False),
                                  "r_pt_et": (pt, et, False), "r_ps_es": (ps, es, False)}.items():
            r = row_of(b[key][j])
            assert (int(codes["view"][r]), int(codes["expression"][r])) == (p, e), key
            assert (int(codes["identity"][r]) == it) == same, key


def test_fcls_training_step_and_bad_heads(faces):
    torch.manual_seed(0)
    m = FclsTraining(F_cls(FCFG), lr=0.05, lr_step=1)
    before = [p.clone() for p in m.net.parameters()]
    out = m.step(faces.__getitems__(list(range(8))), _ctx(m))
    assert {"L_expression", "L_pose", "L_identity", "acc"} <= set(out)
    assert any(not torch.equal(a, b) for a, b in zip(before, m.net.parameters()))
    assert math.isclose(m.optimizers["F_cls"].param_groups[0]["lr"], 0.05 * 0.457)
    with pytest.raises(ValueError, match="heads"):
        FclsTraining(F_cls(FCFG), heads=("age",))


def test_probe_heads_learn_without_moving_the_backbone(faces):
    torch.manual_seed(0)
    m = FclsTraining(F_cls(FCFG), heads=("identity",), probe_heads=("identity",), lr=0.05)
    backbone = [p.clone() for p in m.net.backbone.parameters()]
    head = [p.clone() for p in m.net.heads["identity"].parameters()]
    m.step(faces.__getitems__(list(range(8))), _ctx(m))
    assert not _changed(backbone, m.net.backbone) and _changed(head, m.net.heads["identity"])
    with pytest.raises(ValueError, match="probe_heads"):
        FclsTraining(F_cls(FCFG), heads=("expression",), probe_heads=("pose",))


def _changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_compgan_step_updates_both_generators_and_D_never_F_cls(faces):
    torch.manual_seed(0)
    m = CompGAN(CFG, F_cls(FCFG).eval())
    snap = {k: [p.clone() for p in net.parameters()] for k, net in m.nets.items()}
    out = m.step(_batch(faces), _ctx(m))
    assert {"L_exp", "L_pose", "L_id", "L_con", "L_recon", "L_adv", "L_loop", "L_D", "L_G_Pose", "L_G_Exp"} <= set(out)
    assert all(math.isfinite(float(v)) for v in out.values())
    for k in ("G_Pose", "G_Exp", "D"):
        assert _changed(snap[k], m.nets[k]), k
    assert not _changed(snap["F_cls"], m.nets["F_cls"])
    assert all(p.grad is None for p in m.nets["F_cls"].parameters())


def test_each_generator_follows_its_own_weights(faces):
    # lambda all zero: G(Pose)'s loss is 0, so Adam leaves it; G(Exp) with mu still moves
    torch.manual_seed(0)
    m = CompGAN(CFG, F_cls(FCFG).eval(), lam={}, mu=MU)
    snap = {k: [p.clone() for p in m.nets[k].parameters()] for k in ("G_Pose", "G_Exp")}
    m.step(_batch(faces), _ctx(m))
    assert not _changed(snap["G_Pose"], m.nets["G_Pose"]) and _changed(snap["G_Exp"], m.nets["G_Exp"])
    with pytest.raises(ValueError, match="unknown loss terms"):
        CompGAN(CFG, F_cls(FCFG), drop=("style",))


def test_dropping_a_loss_removes_it(faces):
    torch.manual_seed(0)
    m = CompGAN(CFG, F_cls(FCFG).eval(), drop=("loop",))
    out = m.step(_batch(faces), _ctx(m))
    assert "L_loop" not in out and "L_con" in out


def test_competitor_steps(faces):
    torch.manual_seed(0)
    for m in (Pix2PixEditor(CFG), AttGANEditor(CFG)):
        snap = [p.clone() for p in m.nets["G"].parameters()]
        out = m.step(_batch(faces), _ctx(m))
        assert "L_G" in out and "L_D" in out and _changed(snap, m.nets["G"])


# -- augmentation --------------------------------------------------------------------------------------------

def test_plan_reaches_the_novel_class_with_what_each_augmenter_changes(faces):
    codes = np.stack([faces.data[k].numpy() for k in ("identity", "expression", "view")], 1)
    for kind in ("G(Exp)", "G(Pose)+G(Exp)", "G(Pose)", "AttGAN"):
        plan = plan_augmentation(codes, kind, novel_by="expression", novel=[2], n_per_class=6, seed=0)
        assert (plan["et"] == 2).all() and len(plan["source"]) == 6
        if kind == "G(Pose)":  # keeps the expression: re-poses faces of the novel class
            assert (codes[plan["source"], 1] == 2).all() and (plan["pt"] != codes[plan["source"], 2]).all()
        else:
            assert (codes[plan["source"], 1] != 2).all()
            assert (codes[plan["ref_exp"], 1] == 2).all() and (codes[plan["ref_exp"], 0] != codes[plan["source"], 0]).all()
    view = plan_augmentation(codes, "G(Exp)", novel_by="view", novel=[0], n_per_class=4, seed=1)
    assert (codes[view["source"], 2] == 0).all() and (view["pt"] == 0).all()
    every = plan_augmentation(codes, "G(Pose)", novel_by="", novel=[], n_per_class=2, seed=0)
    assert sorted(set(every["et"].tolist())) == [0, 1, 2] and len(every["et"]) == 6
    with pytest.raises(ValueError, match="augmenter"):
        plan_augmentation(codes, "CycleGAN", novel_by="", novel=[], n_per_class=1)


def test_augment_and_to_poses_shapes(faces):
    torch.manual_seed(0)
    nets = {"G_Pose": G_Pose(CFG), "G_Exp": G_Exp(CFG)}
    out = augment("G(Pose)+G(Exp)", nets, faces, novel_by="expression", novel=[1], n_per_class=3, seed=0)
    assert out["image"].shape == (3, 3, 32, 32) and (out["expression"] == 1).all()
    posed = to_poses(nets["G_Pose"], faces.data["image"][:2], faces, views=[0, 3])
    assert set(posed) == {0, 3} and posed[3].shape == (2, 3, 32, 32)


def test_public_api_trains_and_edits(faces):
    d = faces.data
    model = train_compgan(d["image"], d["expression"], d["identity"], d["view"], steps=2, batch_size=4, width=4,
                          cls_steps=2, cls_widths=(4, 8, 8, 8, 8), device="cpu")
    x = d["image"][:3]
    assert model.edit(x, expression=torch.tensor([0, 1, 2]), source_expression=d["expression"][:3],
                      source_view=d["view"][:3]).shape == x.shape
    both = model.edit(x, expression=torch.tensor([0, 1, 2]), view=torch.tensor([1, 2, 3]),
                      source_expression=d["expression"][:3], source_view=d["view"][:3],
                      source_identity=d["identity"][:3])
    assert both.shape == x.shape and torch.isfinite(both).all()
    assert model.augment(2, novel_by="expression", novel=[0])["image"].shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="target"):
        model.edit(x)
