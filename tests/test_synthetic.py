"""The synthetic face world: determinism, labels, geometry, sequences, fine-grained classes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from fer_core.data.base import EXPRESSIONS_7
from fer_core.data.synthetic import (MULTIPIE_6, VIEWS, FaceWorld, SyntheticFaces, WeakPeakPairs, ckplus_like,
                                     expression_set, f2ed_like, fine_grained, multipie_like, weak_peak)
from fer_core.data.synthetic.expressions import C, N_CONTROLS

# landmark indices (iBUG/dlib 68): mouth corners, eye outer corners, nose tip
MOUTH_L, MOUTH_R, EYE_L_OUT, EYE_R_OUT, NOSE_TIP = 48, 54, 36, 45, 30


@pytest.fixture(scope="module")
def clean_world() -> FaceWorld:
    """No nuisances: differences between renders come from the factors alone."""
    return FaceWorld(5, nuisance=0.0)


def test_same_seed_and_index_give_identical_bytes():
    a = SyntheticFaces(identities=4, size=48, seed=3)
    b = SyntheticFaces(identities=4, size=48, seed=3)
    for i in (0, 5, len(a) - 1):
        x, y = a[i], b[i]
        assert x["image"].numpy().tobytes() == y["image"].numpy().tobytes()
        assert torch.equal(x["landmarks"], y["landmarks"])
    assert not torch.equal(a[0]["image"], a[1]["image"])
    assert not torch.equal(a[0]["image"], SyntheticFaces(identities=4, size=48, seed=4)[0]["image"])


def test_batch_order_and_composition_do_not_change_a_sample():
    ds = multipie_like(n_identities=5, size=40)
    idx = np.random.default_rng(0).permutation(len(ds))[:48]
    whole = ds.batch(idx)["image"]
    reversed_ = ds.batch(idx[::-1].copy())["image"].flip(0)
    assert torch.equal(whole, reversed_)
    for j in (0, 17, 47):
        assert torch.equal(ds[int(idx[j])]["image"], whole[j])


@pytest.mark.parametrize("kernel", [None, False], ids=["compiled", "torch"])
def test_slicing_features_to_boxes_gives_the_same_image(kernel):
    world = FaceWorld(11, glasses_rate=0.5, beard_rate=0.5)
    kw = dict(identity=np.arange(8), expression=np.arange(8) % 7, yaw=[-45, -30, 0, 10, 30, 45, 0, 0],
              pitch=[0, 0, 30, 0, -20, 0, 10, 0], size=56, kernel=kernel)
    assert torch.equal(world.render(**kw)["image"], world.render(**kw, slices=False)["image"])


@pytest.mark.parametrize("kernel", [None, False], ids=["compiled", "torch"])
def test_a_face_renders_the_same_alone_or_in_any_batch(kernel):
    # the torch path evaluates features on boxes shared by the batch, the compiled loop on each face's own box
    world = FaceWorld(2, glasses_rate=0.5, beard_rate=0.5)
    kw = dict(identity=np.arange(6), expression=np.arange(6), yaw=[-40, -15, 0, 15, 40, 0], pitch=[0, 0, 0, 0, 0, 25],
              intensity=np.linspace(0.2, 1.0, 6), size=40, kernel=kernel)
    together = world.render(**kw)["image"]
    for j in range(6):
        alone = world.render(**{k: (v[j] if isinstance(v, (list, np.ndarray)) else v) for k, v in kw.items()})
        assert torch.equal(alone["image"][0], together[j])


@pytest.mark.parametrize("size,channels", [(32, 3), (57, 1), (96, 3)])
def test_compiled_cpu_loop_draws_what_the_torch_renderer_draws(size, channels):
    """The compiled loop transcribes the torch code op by op; torch's vectorised float32 sqrt is not always
    correctly rounded, so a few pixels differ in the last bits — and nothing more."""
    world = FaceWorld(4, glasses_rate=0.5, beard_rate=0.5)
    n = 24
    rng = np.random.default_rng(size)
    kw = dict(identity=np.arange(n), expression=np.arange(n) % 7, intensity=rng.uniform(0, 1, n),
              yaw=rng.uniform(-60, 60, n), pitch=rng.uniform(-30, 30, n), take=np.arange(n) % 3, size=size,
              channels=channels)
    compiled = world.render(**kw, kernel=True)
    reference = world.render(**kw, kernel=False)
    assert compiled["image"].shape == (n, channels, size, size)
    assert (compiled["image"] - reference["image"]).abs().max() < 1e-4
    assert torch.equal(torch.from_numpy(compiled["landmarks"]), torch.from_numpy(reference["landmarks"]))
    with pytest.raises(ValueError, match="kernel=True needs device='cpu'"):
        world.render(**kw, kernel=True, device="cuda")


def test_without_numba_the_cpu_renders_with_torch(monkeypatch):
    from fer_core.data.synthetic import render as render_module

    world = FaceWorld(1)
    kw = dict(identity=[0, 1], expression=[3, 4], size=32)
    reference = world.render(**kw, kernel=False)["image"]
    monkeypatch.setattr(render_module, "_KERNEL", False)  # what a failed ``import numba`` leaves behind
    assert not render_module.uses_kernel("cpu")
    assert torch.equal(world.render(**kw)["image"], reference)
    with pytest.raises(ValueError, match="numba installed"):
        world.render(**kw, kernel=True)


def test_dataloader_worker_count_does_not_change_batches():
    ds = SyntheticFaces(identities=3, expressions="ckplus8", size=32)
    batches = []
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=8, shuffle=False, num_workers=workers)
        batches.append([b["image"] for b in loader])
    assert len(batches[0]) == len(batches[1])
    for a, b in zip(*batches):
        assert torch.equal(a, b)


def test_items_and_meta_carry_the_requested_factors():
    ds = SyntheticFaces(identities=[7, 3, 12], expressions="basic7", takes=2, yaws=(-15.0, 15.0), size=32)
    ds.check_meta()
    assert len(ds) == 3 * 7 * 2 * 2
    assert ds.classes == EXPRESSIONS_7
    assert set(ds.meta["yaw"]) == {-15.0, 15.0}
    assert ds.subjects == ("s003", "s007", "s012")
    for i in (0, 9, len(ds) - 1):
        row, item = ds.meta.iloc[i], ds[i]
        assert item["expression"].item() == row["expression"]
        assert ds.subjects[item["identity"].item()] == row["subject"]
        assert item["yaw"].item() == row["yaw"]
        assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
        assert -1.0 <= item["image"].min() and item["image"].max() <= 1.0
        assert item["landmarks"].shape == (68, 2)
    for column in ("expression", "subject", "sequence", "frame", "n_frames", "intensity", "yaw", "pitch"):
        assert column in ds.meta.columns


def test_presets_mirror_the_papers_data_shapes():
    mp = multipie_like(n_identities=2, size=32)
    assert mp.classes == MULTIPIE_6 and sorted(set(mp.meta["yaw"])) == [-30.0, -15.0, 0.0, 15.0, 30.0]
    f2 = f2ed_like(n_identities=2, size=32)
    assert len(f2.classes) == 54 and set(f2.meta["view"]) == set(VIEWS)
    assert f2.meta.loc[f2.meta["view"] == "bird", "pitch"].eq(30.0).all()
    ck = ckplus_like(n_identities=2, classes=8, n_frames=6, size=32)
    assert "contempt" in ck.classes and set(ck.meta["frame"]) == set(range(6))
    grey = SyntheticFaces(identities=1, expressions=("neutral", "happiness"), size=32, channels=1)
    assert grey[0]["image"].shape == (1, 32, 32)


def test_happiness_raises_the_mouth_corners(clean_world):
    out = clean_world.render(identity=[0, 0, 1, 1], expression=["neutral", "happiness"] * 2, size=128)
    lm = out["landmarks"]
    corner_y = (lm[:, MOUTH_L, 1] + lm[:, MOUTH_R, 1]) / 2 - lm[:, NOSE_TIP, 1]
    assert corner_y[1] < corner_y[0] - 1.0 and corner_y[3] < corner_y[2] - 1.0
    sad = clean_world.render(identity=[0], expression=["sadness"], size=128)["landmarks"][0]
    assert (sad[MOUTH_L, 1] + sad[MOUTH_R, 1]) / 2 - sad[NOSE_TIP, 1] > corner_y[0]


def test_eye_spread_shrinks_with_yaw_and_features_move_geometrically(clean_world):
    yaws = [-45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0]
    out = clean_world.render(identity=2, expression=0, yaw=yaws, size=128)
    lm = out["landmarks"]
    spread = lm[:, EYE_R_OUT, 0] - lm[:, EYE_L_OUT, 0]
    for k in range(3):  # symmetric decrease away from the frontal view
        assert spread[k] < spread[k + 1] and spread[6 - k] < spread[5 - k]
    nose_x = lm[:, NOSE_TIP, 0]
    assert np.all(np.diff(nose_x) > 0)  # positive yaw turns the nose to the image right
    assert not torch.equal(out["image"][2], out["image"][4].flip(-1))  # a rotation, not a mirror
    bird = clean_world.render(identity=2, expression=0, pitch=30.0, size=128)["landmarks"][0]
    assert bird[NOSE_TIP, 1] > lm[3, NOSE_TIP, 1]  # seen from above, the face moves down in the image


def test_landmarks_sit_on_the_drawn_features(clean_world):
    out = clean_world.render(identity=3, expression=0, size=128)
    img, lm = out["image"][0].mean(0), out["landmarks"][0]
    pupils = [lm[[37, 38, 40, 41]].mean(0), lm[[43, 44, 46, 47]].mean(0)]
    for x, y in pupils:  # the iris is darker than the cheek below it
        cheek_y = int(round(y + 14))
        assert img[int(round(y)), int(round(x))] < img[cheek_y, int(round(x))] - 0.2
    assert np.all((lm >= 0) & (lm < 128))


def test_sequences_are_monotone_from_neutral_to_peak():
    ds = ckplus_like(n_identities=2, n_frames=8, size=32)
    for _, seq in ds.meta.groupby("sequence"):
        seq = seq.sort_values("frame")
        assert seq["intensity"].iloc[0] == 0.0
        assert np.all(np.diff(seq["intensity"].to_numpy()) > 0)
    world = FaceWorld(0, nuisance=0.0)
    levels = np.linspace(0, 1, 6)
    g = world.render(identity=1, expression="happiness", intensity=levels, size=32)["controls"]
    assert np.all(np.diff(g[:, C["corner_l"]]) > 0) and np.all(np.diff(g[:, C["cheek"]]) > 0)


def test_weak_peak_pairs():
    ds = weak_peak(n_identities=2, n_frames=12, size=32)
    assert isinstance(ds, WeakPeakPairs)
    assert set(ds.meta["frame"]) == {5, 6, 7} and (ds.meta["peak_frame"] == 11).all()
    assert (ds.meta["intensity"] < ds.meta["peak_intensity"]).all()
    b = ds.batch([0, 1])
    assert b["peak"].shape == b["image"].shape and not torch.equal(b["peak"], b["image"])
    last = ckplus_like(n_identities=2, n_frames=12, size=32)
    row = ds.meta.iloc[0]
    j = last.meta.index[(last.meta["sequence"] == row["sequence"]) & (last.meta["frame"] == 11)][0]
    assert torch.equal(last[int(j)]["image"], b["peak"][0])  # the peak is the sequence's last frame


def test_fine_grained_classes_are_all_distinct():
    eset = fine_grained(54)
    assert len(eset.classes) == len(set(eset.classes)) == 54
    d = np.abs(eset.controls[:, None] - eset.controls[None]).sum(-1)
    assert (d[~np.eye(54, dtype=bool)] > 0.1).all()
    world = FaceWorld(1, nuisance=0.0, idiosyncrasy=0.0)
    imgs = world.render(identity=0, expression=np.arange(54), expressions=eset, size=48)["image"].flatten(1)
    diff = torch.cdist(imgs, imgs)
    assert (diff[~torch.eye(54, dtype=torch.bool)] > 0).all()
    assert expression_set("fine12").controls.shape == (12, N_CONTROLS)


def test_unseen_identities_are_new_people():
    seen = SyntheticFaces(identities=2, expressions=("neutral",), size=32, nuisance=0.0)
    unseen = SyntheticFaces(identities=range(100, 102), expressions=("neutral",), size=32, nuisance=0.0)
    assert set(seen.meta["subject"]).isdisjoint(unseen.meta["subject"])
    assert not torch.equal(seen[0]["image"], unseen[0]["image"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(size=0), "size"),
    (dict(size=300), "size"),
    (dict(channels=2), "channels"),
    (dict(expressions=("neutral", "joyful")), "unknown expression"),
    (dict(expressions="basic9"), "unknown expression set"),
    (dict(yaws=(90.0,)), "yaw"),
    (dict(views=("left_profile",)), "unknown view"),
    (dict(identities=-3), "identities"),
    (dict(identities=[1, 1]), "identities"),
    (dict(takes=-1), "takes"),
    (dict(n_frames=0), "n_frames"),
    (dict(peak_intensity=1.5), "peak_intensity"),
    (dict(nuisance=-1.0), "nuisance"),
])
def test_invalid_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticFaces(**kwargs)


def test_invalid_render_arguments_raise_clear_errors(clean_world):
    with pytest.raises(ValueError, match="pitch"):
        clean_world.render(identity=0, expression=0, pitch=80.0)
    with pytest.raises(ValueError, match="intensity"):
        clean_world.render(identity=0, expression=0, intensity=1.2)
    with pytest.raises(ValueError, match="unknown expression"):
        clean_world.render(identity=0, expression="smirk")
    with pytest.raises(ValueError, match="identity"):
        clean_world.render(identity=-1, expression=0)
    with pytest.raises(IndexError):
        SyntheticFaces(identities=1, size=32)[99]


def test_subsets_keep_batched_rendering_and_labels():
    ds = SyntheticFaces(identities=3, size=32)
    sub = ds.subset([4, 9, 20])
    b = sub.batch([0, 2])
    assert torch.equal(b["image"][1], ds[20]["image"]) and b["expression"].tolist() == [4, ds.meta["expression"][20]]
    batch = next(iter(DataLoader(sub, batch_size=3)))
    assert torch.equal(batch["image"][0], ds[4]["image"])
    assert torch.equal(sub.subset([1])[0]["image"], ds[9]["image"])


def test_generic_subset_view_forwards_batched_fetching(monkeypatch):
    from fer_core.data.base import SubsetView

    ds = SyntheticFaces(identities=2, size=32)
    calls = []
    real = ds.__getitems__
    monkeypatch.setattr(ds, "__getitems__", lambda idx: calls.append(list(idx)) or real(idx))
    view = SubsetView(ds, np.array([3, 7, 11]))
    items = view.__getitems__([2, 0])
    assert calls == [[11, 3]]  # one batched call with the parent's row numbers
    assert torch.equal(items[0]["image"], real([11])[0]["image"])
    with pytest.raises(IndexError, match="out of range"):
        view.__getitems__([3])


def test_bench_renderer_reports_rates():
    from fer_core.data.synthetic import bench_renderer

    rows = bench_renderer(sizes=(32,), n=16, batch_size=8, repeats=1)
    assert len(rows) == 1 and rows[0]["size"] == 32
    assert rows[0]["render_img_s"] > 0 and rows[0]["png_img_s"] > 0 and rows[0]["ratio"] > 0
    with pytest.raises(ValueError, match="sizes"):
        bench_renderer(sizes=(0,), n=4)
