"""Real-dataset infrastructure (files, cache, align, protocols) and the CK+, Oulu-CASIA, MMI,
Multi-PIE, TFD and LSEMSW adapters, on tiny format-faithful fixtures."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import fixtures_datasets as fx  # noqa: E402

from fer_core.data import align, cache, files  # noqa: E402
from fer_core.data.base import DataError  # noqa: E402
from fer_core.data.ckplus import CKPlus, CKPlus48  # noqa: E402
from fer_core.data.files import (  # noqa: E402
    BadImagesSkipped, CorruptImageError, EmptyDatasetError, LabelFileError, MissingFolderError, UnknownClassError,
    WrongRootError,
)
from fer_core.data.lsemsw import LSEMSW  # noqa: E402
from fer_core.data.mmi import MMI  # noqa: E402
from fer_core.data.multipie import MultiPIE, MultiPIEAttributes  # noqa: E402
from fer_core.data.oulu import OuluCASIA  # noqa: E402
from fer_core.data.protocols import (  # noqa: E402
    EmptySplitError, FoldFileError, Split, fesr_frames, groupgan_frames, jesrl_frames, load_splits, official_split,
    select_frames, subject_kfold,
)
from fer_core.data.registry import get_dataset_info  # noqa: E402
from fer_core.data.tfd import TFD  # noqa: E402


@pytest.fixture(autouse=True)
def _cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "fer-cache"))


def _small_ck(root: Path, **kw) -> Path:
    args = {"subjects": 2, "sequences": 1, "frames": 4, "unlabeled": 0, **kw}
    fx.make_ckplus(root, **args)
    return root


def _count_reads(monkeypatch) -> list:
    calls = []
    real = files.read_image

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(files, "read_image", counting)
    import fer_core.data.ckplus as ck

    monkeypatch.setattr(ck, "read_image", counting)
    return calls


# =============================================================================== alignment


def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    ang, s, t = 0.3, 1.7, np.array([4.0, -9.0])
    rot = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    m = align.similarity_transform(src, src @ rot.T + t)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_similarity_transform_never_reflects():
    src = np.random.default_rng(3).uniform(0, 10, (6, 2))
    m = align.similarity_transform(src, src * [-1, 1])  # a mirror image: the best fit must stay a rotation
    a, b = m[:, :2]
    assert np.linalg.det(m[:, :2]) >= 0 and np.isclose(a[0], b[1]) and np.isclose(a[1], -b[0])


def test_alignment_maps_landmarks_onto_the_template():
    size = 64
    lm = fx.face_landmarks(60, 50, 30.0)
    image = np.zeros((120, 140), np.uint8)
    # rotate the face by 20 degrees about (70, 60): alignment must undo it
    a = np.deg2rad(20)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    lm = (lm - [70, 60]) @ rot.T + [70, 60]
    _, lm_out = align.align_face(image, lm, size=size)
    five = align.five_points(lm_out)
    target = align.TEMPLATE_5 * size - 0.5
    assert np.abs(five - target).max() < 0.06 * size  # least squares over 5 points of a generic face
    # An exact similarity image of the template is mapped onto it exactly.
    m = align.similarity_transform(target, align.five_points(lm))
    exact = align.apply_affine(m, target)
    _, out = align.align_face(image, exact, size=size)
    np.testing.assert_allclose(out, target, atol=1e-6)


def test_alignment_moves_pixels_with_the_landmarks():
    size = 48
    lm5 = align.apply_affine(np.array([[2.0, 0.3, 20], [-0.3, 2.0, 30]]), align.TEMPLATE_5 * 40)
    image = np.zeros((200, 200), np.uint8)
    nx, ny = np.round(lm5[2]).astype(int)
    image[ny - 1:ny + 2, nx - 1:nx + 2] = 255  # a bright dot on the nose tip
    out, lm_out = align.align_face(image, lm5, size=size)
    peak = np.unravel_index(np.argmax(out), out.shape)
    expect = align.TEMPLATE_5[2] * size - 0.5
    assert abs(peak[1] - expect[0]) <= 1.0 and abs(peak[0] - expect[1]) <= 1.0
    np.testing.assert_allclose(lm_out[2], expect, atol=0.5)


def test_prepare_face_channels_and_centre_crop_without_landmarks():
    rgb = np.random.default_rng(1).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    out, lm = align.prepare_face(rgb, size=16, grayscale=True)
    assert out.shape == (1, 16, 16) and out.dtype == np.uint8 and lm is None
    grey = rgb[..., 0]
    out, _ = align.prepare_face(grey, size=16, grayscale=False)
    assert out.shape == (3, 16, 16) and np.array_equal(out[0], out[2])
    crop, lm = align.center_crop(grey, size=30, landmarks=np.array([[25.0, 15.0]]))
    np.testing.assert_allclose(lm, [[15.0, 15.0]])  # the image centre stays the centre
    with pytest.raises(ValueError, match="uint8"):
        align.prepare_face(rgb.astype(np.float32), size=16)


# =============================================================================== image decoding


def test_read_image_palette_and_16_bit(tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    pal = Image.fromarray(grey, "P")
    pal.putpalette([v for g in range(256) for v in (g, g, g)])  # JAFFE: an 8-bit grey palette
    pal.save(tmp_path / "KA.AN1.39.tiff")
    assert Image.open(tmp_path / "KA.AN1.39.tiff").mode == "P"
    arr = files.read_image(tmp_path / "KA.AN1.39.tiff")
    assert arr.shape == (8, 8)
    np.testing.assert_array_equal(arr, grey)
    Image.fromarray(grey.astype("<u2") * 257).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(files.read_image(tmp_path / "deep.png"), grey)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_read_image_corrupt_files_name_the_file(tmp_path, damage):
    path = tmp_path / "S010_001_00000001.png"
    fx.tiny_image(0, (64, 64)).save(path)
    if damage == "truncated":
        fx.truncate(path, 0.5)
    elif damage == "garbage":
        path.write_bytes(b"this is not an image" * 10)
    else:
        path.write_bytes(b"")
    with pytest.raises(CorruptImageError, match="S010_001_00000001.png") as exc:
        files.read_image(path)
    assert "skip_bad=True" in str(exc.value)


# =============================================================================== cache


def test_cache_round_trip_second_load_does_not_decode(tmp_path, monkeypatch):
    root = _small_ck(tmp_path / "ck")
    first = CKPlus(root, size=24)
    assert first.cache_hit is False
    items = [first[i] for i in range(len(first))]

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although the cache exists")

    import fer_core.data.ckplus as ck

    monkeypatch.setattr(files, "read_image", no_decoding)
    monkeypatch.setattr(ck, "read_image", no_decoding)
    second = CKPlus(root, size=24)
    assert second.cache_hit is True
    for i, it in enumerate(items):
        again = second[i]
        assert torch.equal(again["image"], it["image"])
        assert torch.equal(again["landmarks"], it["landmarks"], ) or torch.allclose(
            again["landmarks"], it["landmarks"], equal_nan=True)
        assert again["expression"] == it["expression"] and again["identity"] == it["identity"]


def test_cache_key_follows_options_and_file_changes(tmp_path):
    root = _small_ck(tmp_path / "ck")
    a = CKPlus(root, size=24)
    b = CKPlus(root, size=32)
    assert a._cache.path != b._cache.path and b.cache_hit is False
    target = root / a.meta.at[0, "path"]
    fx.tiny_image(999, fx.CK_SIZE).save(target)  # the image changed on disk
    os.utime(target, ns=(1, 1))
    c = CKPlus(root, size=24)
    assert c._cache.path != a._cache.path and c.cache_hit is False
    assert not torch.equal(c[0]["image"], a[0]["image"])


def test_interrupted_cache_build_is_never_trusted(tmp_path, monkeypatch):
    root = _small_ck(tmp_path / "ck")
    real = CKPlus._prepare
    done = []

    def dies_after_three(self, i):
        if len(done) == 3:
            raise KeyboardInterrupt
        done.append(i)
        return real(self, i)

    monkeypatch.setattr(CKPlus, "_prepare", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        CKPlus(root, size=24, workers=1)
    entries = list((tmp_path / "fer-cache").iterdir())
    assert len(entries) == 1
    left = sorted(p.name for p in entries[0].iterdir())
    assert "index.json" not in left and "images.npy" not in left  # no commit marker, no half array
    assert cache.load_cache(entries[0]) is None
    monkeypatch.setattr(CKPlus, "_prepare", real)
    calls = _count_reads(monkeypatch)
    ds = CKPlus(root, size=24)
    assert ds.cache_hit is False and len(calls) == len(ds)


def test_torn_cache_is_rebuilt(tmp_path, monkeypatch):
    root = _small_ck(tmp_path / "ck")
    ds = CKPlus(root, size=24)
    images = ds._cache.path / "images.npy"
    images.write_bytes(images.read_bytes()[:-10])
    assert cache.load_cache(ds._cache.path) is None
    calls = _count_reads(monkeypatch)
    again = CKPlus(root, size=24)
    assert again.cache_hit is False and len(calls) == len(again)
    index = json.loads((again._cache.path / "index.json").read_text())
    assert index["complete"] and index["images_bytes"] == images.stat().st_size


def test_cached_dataset_pickles_for_spawned_workers(tmp_path):
    import pickle

    ds = CKPlus(_small_ck(tmp_path / "ck"), size=16)
    first = ds[5]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._cache._images is None  # the memmap is reopened in the worker, not copied through the pipe
    assert torch.equal(clone[5]["image"], first["image"]) and clone[5]["identity"] == first["identity"]


def test_default_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "x"))
    assert cache.default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("FER_CACHE")
    assert cache.default_cache_dir() == Path.home() / ".cache" / "fer-book"


# =============================================================================== skip_bad


@pytest.mark.parametrize("use_cache", [True, False])
def test_corrupt_image_raises_naming_the_file(tmp_path, use_cache):
    root = _small_ck(tmp_path / "ck")
    bad = root / "cohn-kanade-images/S015/001/S015_001_00000002.png"
    fx.truncate(bad)
    with pytest.raises(CorruptImageError, match="S015_001_00000002"):
        ds = CKPlus(root, size=24, cache=use_cache)
        [ds[i] for i in range(len(ds))]


@pytest.mark.parametrize("use_cache", [True, False])
def test_skip_bad_leaves_bad_images_out_and_reports_the_count(tmp_path, use_cache):
    root = _small_ck(tmp_path / "ck")
    fx.truncate(root / "cohn-kanade-images/S015/001/S015_001_00000002.png")
    with pytest.warns(BadImagesSkipped, match="skipped 1 unreadable image"):
        ds = CKPlus(root, size=24, cache=use_cache, skip_bad=True)
    assert len(ds) == 7 and len(ds.skipped) == 1 and "S015_001_00000002" in ds.skipped[0][0]
    assert "S015_001_00000002" not in " ".join(ds.meta["path"])
    assert all(ds[i]["image"].shape == (3, 24, 24) for i in range(len(ds)))


def test_cache_with_bad_files_is_not_used_silently_without_skip_bad(tmp_path):
    root = _small_ck(tmp_path / "ck")
    fx.truncate(root / "cohn-kanade-images/S010/001/S010_001_00000003.png")
    with pytest.warns(BadImagesSkipped):
        CKPlus(root, size=24, skip_bad=True)
    with pytest.raises(CorruptImageError, match="S010_001_00000003"):
        CKPlus(root, size=24)


# =============================================================================== protocols


def _seq_meta(subjects=12, seqs=2, frames=10) -> pd.DataFrame:
    rows = []
    for s in range(subjects):
        for q in range(seqs):
            for f in range(frames):
                rows.append({"subject": f"S{s:03d}", "sequence": f"S{s:03d}_{q}", "frame": f, "n_frames": frames,
                             "expression": (s + q) % 6})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("k,method", [(10, "balanced"), (5, "balanced"), (4, "sorted")])
def test_subject_kfold_is_subject_disjoint_and_covers_all_rows(k, method):
    meta = _seq_meta(subjects=13)
    splits = subject_kfold(meta, k, method=method)
    assert len(splits) == k
    tests = np.concatenate([s.test for s in splits])
    assert sorted(tests.tolist()) == list(range(len(meta)))  # every row tested exactly once
    for s in splits:
        s.check_disjoint(meta)
        assert len(np.intersect1d(s.train, s.test)) == 0 and len(s.train) + len(s.test) == len(meta)
    sizes = [len(s.test) for s in splits]
    assert max(sizes) - min(sizes) <= 20  # one subject (20 rows) at most
    again = subject_kfold(meta, k, method=method)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(splits, again))


def test_check_disjoint_detects_a_leaking_subject():
    meta = _seq_meta(subjects=3, seqs=1, frames=2)
    with pytest.raises(DataError, match="1 subject.*in both train and test"):
        Split(np.arange(0, 3), np.arange(3, 6), name="leaky").check_disjoint(meta)  # S001 on both sides


def test_sorted_folds_deal_subjects_round_robin():
    meta = _seq_meta(subjects=6, seqs=1, frames=1)
    splits = subject_kfold(meta, 3, method="sorted")
    assert [sorted(meta.subject.iloc[s.test]) for s in splits] == [["S000", "S003"], ["S001", "S004"], ["S002", "S005"]]


def test_fold_file_saved_and_reused(tmp_path):
    meta = _seq_meta()
    path = tmp_path / "folds" / "ck10.json"
    a = subject_kfold(meta, 10, path=path)
    assert path.is_file()
    b = subject_kfold(meta, 10, path=path)
    assert all(np.array_equal(x.test, y.test) and x.name == y.name for x, y in zip(a, b))
    # The file is what is used: a hand-edited (but consistent) fold file comes back as written.
    from fer_core.data.protocols import save_splits

    custom = [Split(np.arange(20, len(meta)), np.arange(20), name="mine")] + list(a[1:])
    save_splits(custom, path, meta=meta, settings={"k": 10, "seed": 0, "by": "subject", "method": "balanced"})
    assert subject_kfold(meta, 10, path=path)[0].name == "mine"
    with pytest.raises(FoldFileError, match="was made with"):
        subject_kfold(meta, 10, path=path, seed=1)


def test_fold_file_for_other_data_is_refused(tmp_path):
    path = tmp_path / "folds.json"
    subject_kfold(_seq_meta(subjects=12), 10, path=path)
    with pytest.raises(FoldFileError, match="different data"):
        subject_kfold(_seq_meta(subjects=11), 10, path=path)
    path.write_text("{ not json")
    with pytest.raises(FoldFileError, match="delete it"):
        load_splits(path)


def test_too_few_subjects_for_k_folds():
    with pytest.raises(EmptySplitError, match="at least 10 distinct subjects; this data has 4"):
        subject_kfold(_seq_meta(subjects=4), 10)


def test_fesr_frames_last_three_train_peak_test():
    meta = _seq_meta(subjects=10)
    sel = fesr_frames(meta)
    assert sorted(meta.frame.iloc[sel.roles["train"]].unique()) == [7, 8, 9]
    assert set(meta.frame.iloc[sel.roles["test"]]) == {9}
    assert len(sel.roles["test"]) == 20 and len(sel.roles["train"]) == 60
    split = subject_kfold(meta, 10)[0].restrict(sel)
    assert len(split.test) == 2 and len(split.train) == 54
    split.check_disjoint(meta)


def test_fesr_frames_use_the_peak_column_when_present():
    meta = _seq_meta(subjects=2, seqs=1, frames=9).assign(peak_frame=4)
    sel = fesr_frames(meta)
    assert sorted(meta.frame.iloc[sel.roles["train"]].unique()) == [3, 4, 5]
    assert set(meta.frame.iloc[sel.roles["test"]]) == {4}


def test_groupgan_frames_weak_6_to_8_vs_last():
    meta = _seq_meta(subjects=3, seqs=1, frames=12)
    sel = select_frames(meta, "groupgan")
    assert set(meta.frame.iloc[sel.roles["weak"]]) == {5, 6, 7}
    assert set(meta.frame.iloc[sel.roles["peak"]]) == {11}
    assert sel.pairs.shape == (9, 2)
    assert (meta.sequence.iloc[sel.pairs[:, 0]].to_numpy() == meta.sequence.iloc[sel.pairs[:, 1]].to_numpy()).all()
    short = _seq_meta(subjects=2, seqs=1, frames=8)
    with pytest.raises(EmptySplitError, match="frames 6-8"):
        groupgan_frames(short)


def test_official_split_and_its_errors():
    meta = pd.DataFrame({"subject": list("abcdef"), "expression": [0] * 6,
                         "split": ["train", "train", "Training", "val", "test", "test"]})
    s = official_split(meta)
    assert (len(s.train), len(s.val), len(s.test)) == (3, 1, 2)
    with pytest.raises(EmptySplitError, match=r"values found are \['test', 'train'"):
        official_split(meta.assign(split=["train"] * 3 + ["test"] * 3), test="privatetest")
    with pytest.raises(EmptySplitError, match="no 'Usage' column"):
        official_split(meta, column="Usage")


def test_restrict_to_an_empty_part_raises():
    meta = _seq_meta(subjects=4, seqs=1, frames=5)
    split = Split(np.arange(5), np.arange(5, 10), name="toy")
    sel = fesr_frames(meta.iloc[:10].reset_index(drop=True))
    with pytest.raises(EmptySplitError, match="train part is empty"):
        Split(np.zeros(0, int), np.arange(5, 10), name="toy").restrict(sel)
    assert len(split.restrict(sel).test) == 1


# =============================================================================== CK+


@pytest.fixture(scope="module")
def ck_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckplus")
    facts = fx.make_ckplus(root, subjects=4, sequences=2, frames=10)
    return root, facts


def test_ckplus_counts_labels_identities_frames(ck_root, tmp_path):
    root, facts = ck_root
    ds = CKPlus(root, size=32, cache_dir=tmp_path)
    assert len(ds) == facts["frames"] == 80 and ds.n_unlabeled == facts["unlabeled"] == 4
    assert ds.classes == ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
    assert list(ds.subjects) == facts["subjects"]
    per_seq = ds.meta.groupby("sequence").agg(code=("code", "first"), n=("frame", "size"), last=("frame", "max"))
    assert per_seq["code"].to_dict() == facts["codes"]
    assert (per_seq["n"] == 10).all() and (per_seq["last"] == 9).all()
    assert (ds.meta.expression == ds.meta.code - 1).all()
    item = ds[13]
    assert item["image"].shape == (3, 32, 32) and -1 <= item["image"].min() <= item["image"].max() <= 1
    assert int(item["identity"]) == ds.subjects.index(ds.meta.subject[13]) and int(item["frame"]) == 3
    assert item["landmarks"].shape == (68, 2) and torch.isfinite(item["landmarks"]).all()
    eight = CKPlus(root, size=32, neutral=True, cache_dir=tmp_path)
    assert eight.classes[0] == "neutral" and (eight.meta.expression == eight.meta.code).all()


def test_ckplus_protocol_fesr_10_fold(ck_root, tmp_path):
    root, _ = ck_root
    ds = CKPlus(root, size=16, grayscale=True, cache_dir=tmp_path)
    folds = subject_kfold(ds.meta, 4)
    sel = fesr_frames(ds.meta)
    for f in folds:
        s = f.restrict(sel)
        s.check_disjoint(ds.meta)
        assert len(s.test) == 2 and len(s.train) == 18  # one subject of 2 sequences tested
        parts = s.datasets(ds)
        assert parts["test"][0]["image"].shape == (1, 16, 16)


def test_ckplus_without_landmarks_folder_centre_crops(tmp_path):
    root = _small_ck(tmp_path / "ck", landmarks=False)
    ds = CKPlus(root, size=16)
    assert not ds.has_landmarks and "landmarks" not in ds[0]


def test_ckplus48_names_give_subject_sequence_frame(tmp_path):
    facts = fx.make_ckplus48(tmp_path / "ck48")
    ds = CKPlus48(tmp_path / "ck48", size=16, grayscale=True)
    assert len(ds) == facts["images"] == 42
    assert ds.meta.groupby("expression").size().tolist() == [6] * 7
    assert set(ds.meta.frame) == {14, 15, 16} and (ds.meta.n_frames == 17).all()
    assert ds.meta.sequence.iloc[0] == "S100_001" and ds.meta.subject.iloc[0] == "S100"
    sel = fesr_frames(ds.meta)
    assert len(sel.roles["test"]) == ds.meta.sequence.nunique()
    with pytest.raises(EmptySplitError, match="CK\\+48"):
        groupgan_frames(ds.meta)


# --------------------------------------------------------------------- CK+ bad input


def test_missing_root_folder(tmp_path):
    with pytest.raises(MissingFolderError, match="does not exist.*cohn-kanade-images"):
        CKPlus(tmp_path / "nowhere")


def test_root_one_level_too_high(tmp_path):
    _small_ck(tmp_path / "download" / "CK+")
    with pytest.raises(WrongRootError, match="one level too high") as exc:
        CKPlus(tmp_path / "download")
    assert str(tmp_path / "download" / "CK+") in str(exc.value)


def test_root_one_level_too_low(tmp_path):
    root = _small_ck(tmp_path / "CK+")
    with pytest.raises(WrongRootError, match="too low") as exc:
        CKPlus(root / "cohn-kanade-images")
    assert f"data_root={str(root)!r}" in str(exc.value)


def test_ckplus_emotion_folder_missing(tmp_path):
    root = _small_ck(tmp_path / "ck")
    shutil.rmtree(root / "Emotion")
    with pytest.raises(MissingFolderError, match="Emotion_labels.zip"):
        CKPlus(root)


def test_ckplus_malformed_emotion_file(tmp_path):
    root = _small_ck(tmp_path / "ck")
    f = next((root / "Emotion").rglob("*_emotion.txt"))
    f.write_text("happy\n")
    with pytest.raises(LabelFileError, match=f.name):
        CKPlus(root)


@pytest.mark.parametrize("text,match", [("   9.0000000e+00\n", "codes are 0-7"), ("   2.5\n", "codes are 0-7"),
                                        ("   0.0000000e+00\n", "neutral=True")])
def test_ckplus_unexpected_class_code(tmp_path, text, match):
    root = _small_ck(tmp_path / "ck")
    f = next((root / "Emotion").rglob("*_emotion.txt"))
    f.write_text(text)
    with pytest.raises(UnknownClassError, match=match):
        CKPlus(root)


def test_ckplus_malformed_landmark_file(tmp_path):
    root = _small_ck(tmp_path / "ck")
    f = next((root / "Landmarks").rglob("*_landmarks.txt"))
    f.write_text("\n".join(f.read_text().splitlines()[:67]) + "\n")
    with pytest.raises(LabelFileError, match=f"{f.name}.*68 lines"):
        CKPlus(root, size=16)


def test_ckplus_no_labelled_sequence_is_an_empty_dataset(tmp_path):
    root = _small_ck(tmp_path / "ck")
    for f in (root / "Emotion").rglob("*_emotion.txt"):
        f.unlink()
    with pytest.raises(EmptyDatasetError, match="no samples"):
        CKPlus(root)


def test_ckplus48_unknown_class_folder_and_bad_name(tmp_path):
    fx.make_ckplus48(tmp_path / "a", per_class=1)
    (tmp_path / "a" / "bored").mkdir()
    with pytest.raises(UnknownClassError,
                       match=r"CK\+48: class folder \S*/bored is not one of anger, .*Move or remove it"):
        CKPlus48(tmp_path / "a")
    fx.make_ckplus48(tmp_path / "b", per_class=1)
    fx.tiny_image(0, (48, 48)).save(tmp_path / "b" / "fear" / "img_001.png")
    with pytest.raises(LabelFileError, match="img_001.png"):
        CKPlus48(tmp_path / "b")


# =============================================================================== Oulu-CASIA


def test_oulu_counts_labels_and_filters(tmp_path):
    facts = fx.make_oulu(tmp_path / "oulu")
    ds = OuluCASIA(tmp_path / "oulu", size=16)
    assert len(ds) == facts["vl_strong_images"] == 80
    assert ds.meta.subject.nunique() == 4 and ds.meta.sequence.nunique() == 8
    assert (ds.meta.groupby("sequence").frame.max() == 9).all()
    assert ds.meta.groupby("subject").expression.apply(sorted).to_dict()["P002"][::10] == [2, 3]
    both = OuluCASIA(tmp_path / "oulu", size=16, modality=("VL", "NI"))
    assert len(both) == 100 and set(both.meta.modality) == {"VL", "NI"}
    weak = groupgan_frames(ds.meta)
    assert len(weak.roles["weak"]) == 24 and len(weak.roles["peak"]) == 8
    ds.meta.pipe(lambda m: [s.check_disjoint(m) for s in subject_kfold(m, 4)])


def test_oulu_unknown_expression_folder(tmp_path):
    fx.make_oulu(tmp_path / "oulu", subjects=1, per_subject=1, frames=2)
    (tmp_path / "oulu/OriginalImg/VL/Strong/P001/Contempt").mkdir()
    with pytest.raises(UnknownClassError,
                       match=r"expression folder \S*/Contempt is not one of Anger, .*Move or remove it"):
        OuluCASIA(tmp_path / "oulu")


def test_oulu_missing_illumination_folder(tmp_path):
    fx.make_oulu(tmp_path / "oulu", subjects=1, per_subject=1, frames=2)
    with pytest.raises(MissingFolderError, match="VL/Weak.*found: .*VL/Strong"):
        OuluCASIA(tmp_path / "oulu", illumination="Weak")


def test_oulu_root_pointing_at_originalimg_is_too_low(tmp_path):
    fx.make_oulu(tmp_path / "oulu", subjects=1, per_subject=1, frames=2)
    with pytest.raises(WrongRootError, match="too low"):
        OuluCASIA(tmp_path / "oulu" / "OriginalImg")


# =============================================================================== MMI


def test_mmi_sessions_labels_subjects_peaks(tmp_path):
    facts = fx.make_mmi(tmp_path / "mmi")
    ds = MMI(tmp_path / "mmi", size=16)
    assert len(ds) == 6 * 9 and ds.n_unlabeled == 1
    assert ds.classes[0] == "neutral"
    by_session = ds.meta.groupby("sequence").first()
    for sid, (subj, code) in facts["sessions"].items():
        assert by_session.loc[sid, "subject"] == subj
        assert ds.classes[by_session.loc[sid, "expression"]] == ["anger", "disgust", "fear", "happiness", "sadness",
                                                                  "surprise"][code - 1]
    assert (ds.meta.peak_frame == 4).all()
    sel = jesrl_frames(ds.meta)
    assert len(sel.roles["train"]) == 6 * 4 and len(sel.relabel) == 6
    assert sorted(ds.meta.frame.iloc[sel.roles["train"]].unique()) == [0, 3, 4, 5]
    split = subject_kfold(ds.meta, 3)[0].restrict(sel)
    views = split.datasets(ds)
    firsts = [i for i, r in enumerate(views["test"].meta.itertuples()) if r.frame == 0]
    assert firsts and all(int(views["test"][i]["expression"]) == 0 for i in firsts)
    assert all(int(views["test"][i]["expression"]) > 0 for i in range(len(views["test"])) if i not in firsts)


def test_mmi_peaks_csv_and_six_classes(tmp_path):
    fx.make_mmi(tmp_path / "mmi", subjects=1, per_subject=2, unlabeled=0)
    (tmp_path / "mmi" / "peaks.csv").write_text("session,peak_frame\n1700,2\n")
    ds = MMI(tmp_path / "mmi", size=16, neutral=False)
    assert len(ds.classes) == 6
    assert ds.meta.groupby("sequence").peak_frame.first().to_dict() == {"1700": 2, "1701": 4}
    assert set(ds.meta.frame.iloc[fesr_frames(ds.meta).roles["test"]]) == {2, 4}


def test_mmi_session_without_metadata(tmp_path):
    fx.make_mmi(tmp_path / "mmi", subjects=1, per_subject=2, unlabeled=0)
    (tmp_path / "mmi" / "1701" / "session.xml").unlink()
    with pytest.raises(LabelFileError, match="1701 has no session.xml"):
        MMI(tmp_path / "mmi")


def test_mmi_malformed_xml(tmp_path):
    fx.make_mmi(tmp_path / "mmi", subjects=1, per_subject=1, unlabeled=0)
    (tmp_path / "mmi" / "1700" / "session.xml").write_text("<Session><Subject Id='1'></Session")
    with pytest.raises(LabelFileError, match="not valid XML"):
        MMI(tmp_path / "mmi")


def test_mmi_unknown_emotion_code(tmp_path):
    fx.make_mmi(tmp_path / "mmi", subjects=1, per_subject=1, unlabeled=0)
    (tmp_path / "mmi" / "1700" / "session.xml").write_text(fx.mmi_session_xml(1, 9))
    with pytest.raises(UnknownClassError, match="Emotion code 9"):
        MMI(tmp_path / "mmi")


def test_mmi_session_without_frames(tmp_path):
    fx.make_mmi(tmp_path / "mmi", subjects=1, per_subject=1, unlabeled=0)
    shutil.rmtree(tmp_path / "mmi" / "1700" / "frames")
    with pytest.raises(MissingFolderError, match="ffmpeg"):
        MMI(tmp_path / "mmi")


def test_mmi_malformed_peaks_csv(tmp_path):
    fx.make_mmi(tmp_path / "mmi", subjects=1, per_subject=1, unlabeled=0)
    (tmp_path / "mmi" / "peaks.csv").write_text("session,peak_frame\n1700,middle\n")
    with pytest.raises(LabelFileError, match="peaks.csv line 2"):
        MMI(tmp_path / "mmi")


# =============================================================================== Multi-PIE


def test_multipie_expressions_yaws_subjects(tmp_path):
    facts = fx.make_multipie(tmp_path / "mpie")
    ds = MultiPIE(tmp_path / "mpie", size=16)
    assert len(ds) == facts["images"]
    counts = ds.meta.expression.value_counts().to_dict()
    assert {ds.classes[k]: v for k, v in counts.items()} == facts["per_class"]
    assert sorted(ds.meta.yaw.unique()) == [-30, -15, 0, 15, 30] and "08_0" not in set(ds.meta.camera)
    assert (ds.meta.illumination == 7).all()
    assert ds[0]["yaw"].dtype == torch.float32
    allflash = MultiPIE(tmp_path / "mpie", size=16, illuminations=None)
    assert len(allflash) == len(ds) + facts["flash00"]
    for s in subject_kfold(ds.meta, 5):
        s.check_disjoint(ds.meta)
        assert len(s.test) and set(ds.meta.yaw.iloc[s.test]) == {-30, -15, 0, 15, 30}


def test_multipie_root_pointing_at_data_is_too_low(tmp_path):
    fx.make_multipie(tmp_path / "mpie", subjects=1)
    with pytest.raises(WrongRootError, match="too low"):
        MultiPIE(tmp_path / "mpie" / "data")


def test_multipie_attribute_lists(tmp_path):
    facts = fx.make_multipie_attributes(tmp_path / "mp")
    ds = MultiPIE.from_attribute_list(tmp_path / "mp", size=16)
    assert isinstance(ds, MultiPIEAttributes) and len(ds) == 18
    split = official_split(ds.meta)
    assert (len(split.train), len(split.test)) == (12, 6)
    assert dict(zip(ds.meta.path, ds.meta.expression)) == facts["labels"]


def test_multipie_attribute_list_truncated(tmp_path):
    fx.make_multipie_attributes(tmp_path / "mp")
    f = tmp_path / "mp" / "list_attr_multipie_test.txt"
    f.write_text("\n".join(f.read_text().splitlines()[:-2]) + "\n")
    with pytest.raises(LabelFileError, match="announces 6 images but lists 4"):
        MultiPIEAttributes(tmp_path / "mp")


def test_multipie_attribute_two_expressions_on(tmp_path):
    fx.make_multipie_attributes(tmp_path / "mp")
    f = tmp_path / "mp" / "list_attr_multipie_train.txt"
    lines = f.read_text().splitlines()
    lines[2] = "train_0001.jpg  1  1 -1 -1 -1 -1 -1"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(LabelFileError, match="train_0001.jpg has 2 positive"):
        MultiPIEAttributes(tmp_path / "mp")


# =============================================================================== TFD


def test_tfd_labels_folds_and_pixels(tmp_path):
    facts = fx.make_tfd(tmp_path / "tfd")
    ds = TFD(tmp_path / "tfd", size=48, grayscale=True, align=False)
    assert len(ds) == 40 and ds.n_unlabeled == 10
    np.testing.assert_array_equal(ds.meta.expression, facts["labs_ex"][:40] - 1)
    assert ds.meta.subject.nunique() == 10
    expect = torch.from_numpy(facts["images"][3]).float() / 127.5 - 1
    assert torch.allclose(ds[3]["image"][0], expect, atol=1e-6)  # 48 px in, 48 px out: the pixels themselves
    folds = ds.folds()
    assert len(folds) == 5
    for s in folds:
        assert (len(s.train), len(s.val), len(s.test)) == (28, 4, 8)
        assert not set(s.train) & set(s.test)
    assert not np.array_equal(folds[0].test, folds[1].test)
    assert (ds.meta.split == ds.meta.split_0).all()


def test_tfd_missing_field(tmp_path):
    (tmp_path / "tfd").mkdir()
    scipy.io.savemat(tmp_path / "tfd" / "TFD_48x48.mat", {"images": np.zeros((2, 48, 48), np.uint8)})
    with pytest.raises(LabelFileError, match=r"lacks the field\(s\) \['labs_ex', 'labs_id', 'folds'\]"):
        TFD(tmp_path / "tfd")


def test_tfd_corrupt_mat(tmp_path):
    fx.make_tfd(tmp_path / "tfd")
    fx.truncate(tmp_path / "tfd" / "TFD_48x48.mat", 0.3)
    with pytest.raises(LabelFileError, match="TFD_48x48.mat cannot be read"):
        TFD(tmp_path / "tfd")


def test_tfd_unknown_expression_code(tmp_path):
    (tmp_path / "tfd").mkdir()
    scipy.io.savemat(tmp_path / "tfd" / "TFD_48x48.mat", {
        "images": np.zeros((2, 48, 48), np.uint8), "labs_ex": np.array([[1], [9]]), "labs_id": np.array([[1], [2]]),
        "folds": np.ones((2, 5), np.uint8)})
    with pytest.raises(UnknownClassError, match=r"codes \[9\]"):
        TFD(tmp_path / "tfd")


def test_tfd_other_resolution_only(tmp_path):
    fx.make_tfd(tmp_path / "tfd", labelled=7, unlabelled=0, resolution=96)
    with pytest.raises(MissingFolderError, match="resolution="):
        TFD(tmp_path / "tfd", resolution=48)
    assert len(TFD(tmp_path / "tfd", resolution=96, size=16)) == 7


# =============================================================================== LSEMSW


def test_lsemsw_lists_labels_and_official_split(tmp_path):
    facts = fx.make_lsemsw(tmp_path / "ls")
    ds = LSEMSW(tmp_path / "ls", size=16)
    assert len(ds) == 21 and len(ds.classes) == 13
    assert set(ds.meta.subject) == {"movie0", "movie1", "movie2"}
    got = {p.removeprefix("images/"): (s, e) for p, s, e in zip(ds.meta.path, ds.meta.split, ds.meta.expression)}
    assert got == facts["labels"]
    split = official_split(ds.meta)
    assert (len(split.train), len(split.val), len(split.test)) == (13, 4, 4)


def test_lsemsw_malformed_line_and_unknown_label(tmp_path):
    fx.make_lsemsw(tmp_path / "ls")
    (tmp_path / "ls" / "val.txt").write_text("movie0/00013.jpg\n")
    with pytest.raises(LabelFileError, match="val.txt line 1"):
        LSEMSW(tmp_path / "ls")
    (tmp_path / "ls" / "val.txt").write_text("movie0/00013.jpg 13\n")
    with pytest.raises(UnknownClassError, match="label_base=1"):
        LSEMSW(tmp_path / "ls")


def test_lsemsw_missing_list_file(tmp_path):
    fx.make_lsemsw(tmp_path / "ls")
    (tmp_path / "ls" / "test.txt").unlink()
    with pytest.raises(LabelFileError, match="test list .*test.txt is missing"):
        LSEMSW(tmp_path / "ls")


def test_lsemsw_listed_image_missing_can_be_skipped(tmp_path):
    fx.make_lsemsw(tmp_path / "ls")
    (tmp_path / "ls" / "images" / "movie1" / "00001.jpg").unlink()
    ds = fx.refused_then_skipped(LSEMSW, tmp_path / "ls", CorruptImageError, "00001.jpg does not exist", size=16)
    assert len(ds) == 20


def test_lsemsw_images_folder_missing(tmp_path):
    fx.make_lsemsw(tmp_path / "ls")
    shutil.rmtree(tmp_path / "ls" / "images")
    with pytest.raises(MissingFolderError, match="images is missing"):
        LSEMSW(tmp_path / "ls")


# =============================================================================== registry


def test_registry_entries_resolve():
    for key in ("ckplus", "ckplus48", "oulu", "mmi", "multipie", "multipie_attr", "tfd", "lsemsw"):
        info = get_dataset_info(key)
        assert info.name == key and info.layout and info.obtain and info.protocol
        assert info.constructor.LAYOUT.strip() == info.layout
    with pytest.raises(ValueError, match="known: "):
        get_dataset_info("affectnet")
