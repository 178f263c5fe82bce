"""RAF-DB, FER2013, JAFFE, KDEF and F2ED adapters, the F2ED task protocols and ``inspect``,
on small format-faithful fixtures (tests/fixtures_datasets_b.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import fixtures_datasets_b as fx  # noqa: E402

from fer_core.data.base import EXPRESSIONS_7, DataError  # noqa: E402
from fer_core.data.f2ed import F2ED, canonical_view  # noqa: E402
from fer_core.data.f2ed_tasks import (  # noqa: E402
    F2ED_TASKS, FewShotError, TaskSplit, f2ed_task, standard_tasks,
)
from fer_core.data.fer2013 import FER2013  # noqa: E402
from fer_core.data.files import (  # noqa: E402
    CorruptImageError, EmptyDatasetError, LabelFileError, MissingFolderError, UnknownClassError,
    WrongRootError,
)
from fer_core.data.inspect import format_report, inspect_dataset  # noqa: E402
from fer_core.data.jaffe import JAFFE, deep_emotion_split, parse_jaffe_name  # noqa: E402
from fer_core.data.kdef import KDEF, parse_kdef_name  # noqa: E402
from fer_core.data.protocols import EmptySplitError, Split, subject_kfold  # noqa: E402
from fer_core.data.rafdb import RAFDB  # noqa: E402
from fer_core.data.registry import DATASETS  # noqa: E402

SMALL = {"size": 16}


@pytest.fixture(autouse=True)
def _cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "fer-cache"))


def _labels_match_pixels(ds) -> None:
    """Every item's label is the class its fixture image encodes (checks the code tables)."""
    for i in range(len(ds)):
        item = ds[i]
        assert fx.level_to_class(item["image"].mean().item()) == ds.classes[int(item["expression"])], ds.meta.iloc[i]


def _disjoint(split: Split) -> None:
    parts = [split.train, split.test, split.val]
    for a in range(3):
        for b in range(a + 1, 3):
            assert len(np.intersect1d(parts[a], parts[b])) == 0


# --------------------------------------------------------------------------- RAF-DB


def test_rafdb_reads_publisher_layout_and_maps_codes(tmp_path):
    ds = RAFDB(fx.make_rafdb(tmp_path), **SMALL)
    assert len(ds) == 21 and ds.classes == EXPRESSIONS_7
    assert ds.meta["split"].value_counts().to_dict() == {"train": 14, "test": 7}
    # RAF code 1 is surprise and 7 neutral, whatever the book's class order is
    code_to_class = dict(zip(ds.meta["raf_code"], (ds.classes[e] for e in ds.meta["expression"])))
    assert code_to_class == fx.RAF_CODES
    assert ds.meta["subject"].iloc[0] == "train_00001" and ds.meta["subject"].is_unique
    assert ds.meta["path"].iloc[-1] == "Image/aligned/test_0007_aligned.jpg"
    _labels_match_pixels(ds)
    split = ds.official_split()
    assert (len(split.train), len(split.test)) == (14, 7)
    _disjoint(split)
    assert ds[0]["image"].shape == (3, 16, 16)


def test_rafdb_original_images(tmp_path):
    ds = RAFDB(fx.make_rafdb(tmp_path, original=True), aligned=False, **SMALL)
    assert len(ds) == 21 and ds.meta["path"].iloc[0] == "Image/original/train_00001.jpg"
    _labels_match_pixels(ds)


def test_rafdb_missing_root(tmp_path):
    with pytest.raises(MissingFolderError, match="does not exist"):
        RAFDB(tmp_path / "nowhere")


@pytest.mark.parametrize("where", ["parent", "image_dir"])
def test_rafdb_wrong_root_names_the_basic_folder(tmp_path, where):
    root = fx.make_rafdb(tmp_path)
    bad = root.parent if where == "parent" else root / "Image"
    with pytest.raises(WrongRootError, match="too (high|low)") as err:
        RAFDB(bad)
    assert f"data_root={str(root)!r}" in str(err.value)


def test_rafdb_missing_label_file(tmp_path):
    root = fx.make_rafdb(tmp_path)
    (root / "EmoLabel" / "list_patition_label.txt").unlink()
    with pytest.raises(LabelFileError, match="list_patition_label.txt is missing"):
        RAFDB(root)


def test_rafdb_malformed_label_line(tmp_path):
    root = fx.make_rafdb(tmp_path)
    f = root / "EmoLabel" / "list_patition_label.txt"
    f.write_text(f.read_text().replace("train_00003.jpg 2", "train_00003.jpg"))
    with pytest.raises(LabelFileError, match=r"line 3 .*expected"):
        RAFDB(root)


def test_rafdb_unknown_code(tmp_path):
    root = fx.make_rafdb(tmp_path)
    f = root / "EmoLabel" / "list_patition_label.txt"
    f.write_text(f.read_text().replace("train_00001.jpg 1", "train_00001.jpg 9"))
    with pytest.raises(UnknownClassError, match="label 9; the basic set's labels are 1-7"):
        RAFDB(root)


def test_rafdb_listed_image_missing_is_skipped_only_on_request(tmp_path):
    root = fx.make_rafdb(tmp_path)
    (root / "Image" / "aligned" / "train_00002_aligned.jpg").unlink()
    ds = fx.refused_then_skipped(RAFDB, root, CorruptImageError, "1 image.*missing.*skip_bad=True", **SMALL)
    assert len(ds) == 20 and ds.skipped[0][0] == "Image/aligned/train_00002_aligned.jpg"


def test_rafdb_truncated_image(tmp_path):
    root = fx.make_rafdb(tmp_path)
    fx.truncate(root / "Image" / "aligned" / "test_0003_aligned.jpg")
    ds = fx.refused_then_skipped(RAFDB, root, CorruptImageError, "test_0003_aligned.jpg", **SMALL)
    assert len(ds) == 20 and len(ds.skipped) == 1


def test_rafdb_aligned_folder_missing_suggests_originals(tmp_path):
    root = fx.make_rafdb(tmp_path, original=True)
    shutil.rmtree(root / "Image" / "aligned")
    with pytest.raises(MissingFolderError, match="aligned=False"):
        RAFDB(root)


def test_rafdb_unlabelled_images_are_reported(tmp_path):
    root = fx.make_rafdb(tmp_path)
    folder = root / "Image" / "aligned"
    shutil.copy(folder / "train_00001_aligned.jpg", folder / "train_09999_aligned.jpg")
    with pytest.warns(UserWarning, match="1 image.*no line"):
        ds = RAFDB(root, **SMALL)
    assert ds.unlabeled == ["train_09999_aligned.jpg"] and len(ds) == 21


# --------------------------------------------------------------------------- FER2013


@pytest.mark.parametrize("layout", ["kaggle", "torchvision", "icml"])
def test_fer2013_layouts_and_usage_split(tmp_path, layout):
    ds = FER2013(fx.make_fer2013(tmp_path, layout=layout), grayscale=True, size=48)
    assert ds.root.name == "fer2013" and len(ds) == 28
    split = ds.official_split()
    assert (len(split.train), len(split.val), len(split.test)) == (14, 7, 7)
    assert set(ds.meta.loc[split.val, "usage"]) == {"PublicTest"}
    assert set(ds.meta.loc[split.test, "usage"]) == {"PrivateTest"}
    _disjoint(split)
    code_to_class = dict(zip(ds.meta["fer_code"], (ds.classes[e] for e in ds.meta["expression"])))
    assert code_to_class == fx.FER_CODES
    assert ds[0]["image"].shape == (1, 48, 48)
    _labels_match_pixels(ds)


def _fer_csv(tmp_path) -> Path:
    return fx.make_fer2013(tmp_path) / "fer2013.csv"


def _edit_line(path: Path, n: int, fn) -> None:
    lines = path.read_text().splitlines()
    lines[n - 1] = fn(lines[n - 1])
    path.write_text("\n".join(lines) + "\n")


def test_fer2013_short_pixel_row(tmp_path):
    csv = _fer_csv(tmp_path)
    _edit_line(csv, 5, lambda ln: ln.rsplit(" ", 100)[0] + ",Training")
    ds = fx.refused_then_skipped(FER2013, csv.parent, CorruptImageError, "line 5: pixels are not 2304",
                                 skipped="skipped 1 malformed", **SMALL)
    assert len(ds) == 27 and ds.skipped[0][0] == "fer2013.csv line 5"


def test_fer2013_unknown_emotion_code(tmp_path):
    csv = _fer_csv(tmp_path)
    _edit_line(csv, 2, lambda ln: "7" + ln[1:])
    with pytest.raises(UnknownClassError, match="line 2 has emotion 7"):
        FER2013(csv.parent)


def test_fer2013_wrong_header(tmp_path):
    csv = _fer_csv(tmp_path)
    _edit_line(csv, 1, lambda ln: "label,pixels,Usage")
    with pytest.raises(LabelFileError, match="expected the columns emotion, pixels, Usage"):
        FER2013(csv.parent)


def test_fer2013_unknown_usage(tmp_path):
    csv = _fer_csv(tmp_path)
    _edit_line(csv, 3, lambda ln: ln.replace("Training", "Holdout"))
    with pytest.raises(LabelFileError, match="line 3 has Usage 'Holdout'"):
        FER2013(csv.parent)


def test_fer2013_row_with_missing_field(tmp_path):
    csv = _fer_csv(tmp_path)
    _edit_line(csv, 4, lambda ln: ln.rsplit(",", 1)[0])
    with pytest.raises(LabelFileError, match="line 4 has 2 fields, expected 3"):
        FER2013(csv.parent)


def test_fer2013_competition_files_without_test_labels(tmp_path):
    folder = tmp_path / "fer2013"
    folder.mkdir()
    (folder / "train.csv").write_text("emotion,pixels\n")
    (folder / "test.csv").write_text("pixels\n")
    with pytest.raises(LabelFileError, match="test.csv has no labels"):
        FER2013(tmp_path)


def test_fer2013_header_only_is_empty(tmp_path):
    folder = tmp_path / "fer2013"
    folder.mkdir()
    (folder / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    with pytest.raises(EmptyDatasetError, match="no samples"):
        FER2013(folder)


# --------------------------------------------------------------------------- JAFFE


def test_jaffe_palette_and_grey_tiffs_names_and_split(tmp_path):
    root = fx.make_jaffe(tmp_path)
    modes = {Image.open(p).mode for p in root.glob("*.tiff")}
    assert modes == {"L", "P"}
    ds = JAFFE(root, grayscale=True, **SMALL)
    assert len(ds) == 4 * 7 * 3 and set(ds.subjects) == {"KA", "KL", "KM", "KR"}
    _labels_match_pixels(ds)
    assert ds[0]["image"].shape == (1, 16, 16)
    split = ds.official_split()
    _disjoint(split)
    test = ds.meta.loc[split.test]
    # one test image per (subject, expression), the lowest sample index
    assert len(test) == 28 and not test.duplicated(["subject", "expression"]).any() and set(test["sample"]) == {1}
    assert len(split.val) == round(56 * 23 / 143) and len(split.train) == 84 - 28 - len(split.val)
    assert JAFFE(root, **SMALL).meta["split"].tolist() == ds.meta["split"].tolist()  # deterministic


def test_jaffe_full_size_split_is_120_23_70():
    rows, number = [], 0
    extra = {("KA", "AN"), ("KL", "HA"), ("YM", "SU")}
    for subject in fx.JAFFE_SUBJECTS:
        for code in fx.JAFFE_CODES:
            for k in range(1, 4 + ((subject, code) in extra)):
                number += 1
                name = f"{subject}.{code}{k}.{number}.tiff"
                rows.append({"path": name, **parse_jaffe_name(name)})
    meta = pd.DataFrame(rows)
    assert len(meta) == 213
    counts = deep_emotion_split(meta).value_counts().to_dict()
    assert counts == {"train": 120, "val": 23, "test": 70}


def test_jaffe_misnamed_file(tmp_path):
    root = fx.make_jaffe(tmp_path, size=32)
    shutil.copy(root / "KA.AN1.1.tiff", root / "KA_anger_copy.tiff")
    ds = fx.refused_then_skipped(JAFFE, root, LabelFileError, "KA_anger_copy.tiff.*skip_bad=True",
                                 skipped="skipped 1 file", **SMALL)
    assert len(ds) == 84 and ds.skipped[0][0] == "KA_anger_copy.tiff"


def test_jaffe_unknown_expression_code(tmp_path):
    root = fx.make_jaffe(tmp_path, size=32)
    (root / "KA.AN1.1.tiff").rename(root / "KA.XX1.1.tiff")
    with pytest.raises(UnknownClassError, match="expression code 'XX'"):
        JAFFE(root)


def test_jaffe_corrupt_tiff(tmp_path):
    root = fx.make_jaffe(tmp_path, size=32)
    target = next(root.glob("KL.HA1.*.tiff"))  # a test image under the split rule
    fx.garbage(target)
    ds = fx.refused_then_skipped(JAFFE, root, CorruptImageError, target.name, **SMALL)
    assert len(ds) == 83
    test = ds.meta[ds.meta["split"] == "test"]
    assert len(test) == 28 and not test.duplicated(["subject", "expression"]).any()  # the split re-drawn without it


def test_jaffe_duplicate_sample(tmp_path):
    root = fx.make_jaffe(tmp_path, size=32, subjects=("KA",))
    shutil.copy(next(root.glob("KA.SU2.*.tiff")), root / "KA.SU2.999.tiff")
    with pytest.raises(LabelFileError, match="two files for the same subject/expression/sample"):
        JAFFE(root)


def test_jaffe_root_one_level_too_high(tmp_path):
    root = fx.make_jaffe(tmp_path, size=32, subjects=("KA",))
    with pytest.raises(WrongRootError, match="one level too high") as err:
        JAFFE(root.parent)
    assert str(root) in str(err.value)


# --------------------------------------------------------------------------- KDEF


def test_kdef_names_views_identities(tmp_path):
    ds = KDEF(fx.make_kdef(tmp_path), **SMALL)
    assert len(ds) == 2 * 2 * 7 * 5
    assert ds.views == ("full_left", "half_left", "front", "half_right", "full_right")
    assert ds.subjects == ("F01", "M02")
    assert ds.meta.groupby("subject")["session"].nunique().to_dict() == {"F01": 2, "M02": 2}
    row = ds.meta.index[ds.meta["path"] == "BM02/BM02SUHR.JPG"][0]
    item = ds[row]
    assert ds.classes[int(item["expression"])] == "surprise"
    assert ds.views[int(item["view"])] == "half_right" and float(item["yaw"]) == 45.0
    assert ds.subjects[int(item["identity"])] == "M02"
    _labels_match_pixels(ds)
    folds = subject_kfold(ds.meta, 2)
    for f in folds:
        f.check_disjoint(ds.meta)


def test_kdef_view_and_session_filters(tmp_path):
    ds = KDEF(fx.make_kdef(tmp_path), views=["S", "half_left"], sessions="A", **SMALL)
    assert len(ds) == 2 * 7 * 2 and ds.views == ("half_left", "front")
    with pytest.raises(ValueError, match="views must be"):
        KDEF(tmp_path / "KDEF", views=["up"])


def test_kdef_parse_name():
    info = parse_kdef_name("AF01ANS.JPG")
    assert info == {"session": "A", "gender": "F", "subject": "F01", "code": "AN", "expression": 1,
                    "view": "front", "yaw": 0.0}
    assert parse_kdef_name("bm35affl.jpg")["view"] == "full_left"


def test_kdef_misnamed_release_file(tmp_path):
    root = fx.make_kdef(tmp_path)
    shutil.copy(root / "AF01" / "AF01ANS.JPG", root / "AF01" / "AF01V.JPG")  # as in the real release
    ds = fx.refused_then_skipped(KDEF, root, LabelFileError, "AF01V.JPG", **SMALL)
    assert len(ds) == 140 and ds.skipped[0][0] == "AF01/AF01V.JPG"


@pytest.mark.parametrize("name,match", [("AF01XXS.JPG", "expression code 'XX'"), ("AF01ANQQ.JPG", "view code 'QQ'")])
def test_kdef_unknown_codes(tmp_path, name, match):
    root = fx.make_kdef(tmp_path, people=("F01",), sessions=("A",))
    shutil.copy(root / "AF01" / "AF01ANS.JPG", root / "AF01" / name)
    with pytest.raises(UnknownClassError, match=match):
        KDEF(root)


def test_kdef_file_in_another_persons_folder(tmp_path):
    root = fx.make_kdef(tmp_path)
    shutil.move(root / "AM02" / "AM02HAS.JPG", root / "AF01" / "AM02HAS.JPG")
    with pytest.raises(LabelFileError, match="lies in folder AF01/"):
        KDEF(root)


def test_kdef_root_one_level_too_low(tmp_path):
    root = fx.make_kdef(tmp_path, people=("F01",), sessions=("A",))
    with pytest.raises(WrongRootError, match="too low") as err:
        KDEF(root / "AF01")
    assert f"data_root={str(root)!r}" in str(err.value)


# --------------------------------------------------------------------------- F2ED


def test_f2ed_identity_view_expression_folders(tmp_path):
    ds = F2ED(fx.make_f2ed(tmp_path), **SMALL)
    assert len(ds) == 3 * 4 * 4 * 2
    assert ds.classes == fx.F2ED_EXPRESSIONS[:4] and ds.views == ("half_left", "front", "half_right", "bird")
    assert ds.subjects == ("001", "002", "003")
    counts = ds.meta.groupby(["subject", "view", "expression"]).size()
    assert (counts == 2).all() and len(counts) == 3 * 4 * 4
    item = ds[int(np.flatnonzero(ds.meta["path"] == "002/bird_view/anger/00001.jpg")[0])]
    assert ds.views[int(item["view"])] == "bird" and ds.classes[int(item["expression"])] == "anger"
    assert int(item["frame"]) == 1 and ds.subjects[int(item["identity"])] == "002"


def test_f2ed_view_aliases_given_classes_and_landmarks(tmp_path):
    root = fx.make_f2ed(tmp_path, identities=2, expressions=2, frames=1)
    for ident in ("001", "002"):
        for long, short in zip(fx.F2ED_VIEW_DIRS, ("HL", "F", "HR", "BV")):
            (root / ident / long).rename(root / ident / short)
    lm = np.stack([np.linspace(8, 24, 68), np.linspace(10, 22, 68)], 1)
    for img in root.rglob("*.jpg"):
        img.with_suffix(".txt").write_text("\n".join(f"{x:.1f} {y:.1f}" for x, y in lm))
    ds = F2ED(root, classes=("admiration", "acceptance", "spare"), **SMALL)
    assert set(ds.meta["view"]) == {"half_left", "front", "half_right", "bird"}
    assert ds.classes[0] == "admiration" and ds.has_landmarks
    item = ds[0]
    assert item["landmarks"].shape == (68, 2) and np.isfinite(item["landmarks"].numpy()).all()
    assert canonical_view("Bird View") == "bird" and canonical_view("side") is None
    assert not ds.detect_faces and not F2ED(root, faces=False, **SMALL).face_detection  # its own points win


def test_f2ed_without_landmark_files_asks_the_detector_for_them(tmp_path):
    """FaPE-GAN's pose maps need 68 points: with no landmark files the adapter is one whose faces
    ``faces="auto"`` detects (when the faces extra is installed), and ``faces=False`` keeps it off."""
    root = fx.make_f2ed(tmp_path, identities=1, expressions=1, frames=1)
    ds = F2ED(root, faces=False, **SMALL)
    assert ds.detect_faces and not ds.has_landmarks and "landmarks" not in ds[0]
    assert ds.preparation == "centre crop (faces=False)"


def test_f2ed_unknown_view_folder(tmp_path):
    root = fx.make_f2ed(tmp_path, identities=1, expressions=1, frames=1)
    (root / "001" / "front").rename(root / "001" / "profile")
    with pytest.raises(UnknownClassError, match="profile is not a view folder"):
        F2ED(root)


def test_f2ed_image_outside_expression_folder(tmp_path):
    root = fx.make_f2ed(tmp_path, identities=1, expressions=1, frames=1)
    shutil.copy(root / "001" / "front" / "acceptance" / "00000.jpg", root / "001" / "front" / "stray.jpg")
    with pytest.raises(LabelFileError, match="directly in a view folder"):
        F2ED(root)


def test_f2ed_folder_not_in_given_classes(tmp_path):
    root = fx.make_f2ed(tmp_path, identities=1, expressions=2, frames=1)
    with pytest.raises(UnknownClassError, match=r"\['admiration'\].*classes="):
        F2ED(root, classes=("acceptance",))


def test_f2ed_malformed_landmark_file(tmp_path):
    root = fx.make_f2ed(tmp_path, identities=1, expressions=1, frames=1)
    for img in root.rglob("*.jpg"):
        img.with_suffix(".txt").write_text("1 2\n3 4\n")
    with pytest.raises(LabelFileError, match=r"00000.txt has shape \(2, 2\)"):
        F2ED(root, **SMALL)


# --------------------------------------------------------------------------- F2ED tasks


@pytest.fixture(scope="module")
def meta() -> pd.DataFrame:
    return fx.f2ed_meta(identities=10, expressions=10, frames=5, drop=0.1, seed=1)


@pytest.mark.parametrize("task,shots", standard_tasks())
def test_f2ed_tasks_disjoint_and_novel_classes_as_specified(meta, task, shots):
    s = f2ed_task(meta, task, shots=shots or None, seed=3)
    assert isinstance(s, TaskSplit) and s.task == task
    _disjoint(s)
    covered = np.union1d(np.union1d(s.train, s.test), s.val)
    if task == "ER-SS":
        assert len(covered) == len(meta)
        return
    col = s.novel_by
    train_novel = meta[col].iloc[s.train].isin(s.novel).to_numpy()
    if task in ("ER-FID", "ER-FP", "ER-FE"):
        counts = meta[col].iloc[s.train][train_novel].value_counts()
        assert set(counts.index) == set(s.novel) and (counts == shots).all()
        assert np.array_equal(s.train[train_novel], s.novel_train)
    elif task in ("ER-ZID", "ER-ZP"):
        assert not train_novel.any()
    if task in ("ER-FID", "ER-ZID", "ER-FP", "ER-ZP", "ER-FE"):
        # 20% of every class of the task's attribute in test (base and novel alike)
        total = meta[col].value_counts()
        in_test = meta[col].iloc[s.test].value_counts()
        for v, n in total.items():
            assert in_test[v] == int(np.floor(0.2 * n + 0.5))
        # base classes keep all their non-test images in train
        base_rows = np.flatnonzero(~meta[col].isin(s.novel).to_numpy())
        assert np.array_equal(np.sort(np.setdiff1d(base_rows, s.test)), s.base_train)
    if task in ("ER-UE", "ER-UP"):
        assert set(meta[col].iloc[s.test]) == set(s.novel)
        rare_total = meta[col].isin(s.novel).sum()
        assert len(s.test) + len(s.novel_train) == rare_total
        for v in s.novel:
            n = int((meta[col] == v).sum())
            assert int((meta[col].iloc[s.novel_train] == v).sum()) == int(np.ceil(0.1 * n))


def test_f2ed_task_novel_counts_and_views():
    m = fx.f2ed_meta(identities=10, expressions=10, frames=2)
    assert len(f2ed_task(m, "ER-FID", shots=1).novel) == 2  # 20% of 10 identities
    assert len(f2ed_task(m, "ER-FE", shots=1).novel) == 2
    assert f2ed_task(m, "ER-FP", shots=1).novel == ("half_left",)
    assert f2ed_task(m, "T5").task == "ER-ZP"
    assert len(f2ed_task(m, "ER-ZID", n_novel=3).novel) == 3


def test_f2ed_ss_is_balanced_over_cells(meta):
    s = f2ed_task(meta, "ER-SS", seed=0)
    assert len(s.test) == int(np.floor(0.2 * len(meta) + 0.5))
    for col in ("expression", "subject", "view"):
        share = meta[col].iloc[s.test].value_counts() / meta[col].value_counts()
        assert share.between(0.15, 0.25).all(), (col, share)
    fp = f2ed_task(meta, "ER-SS", paper="fapegan")
    assert len(fp.val) > 0 and abs(len(fp.test) / len(meta) - 25000 / 219719) < 0.01
    _disjoint(fp)


def test_f2ed_shots_spread_over_expressions_and_views(meta):
    s = f2ed_task(meta, "ER-FID", shots=5, seed=0)
    for ident in s.novel:
        rows = s.novel_train[meta["subject"].iloc[s.novel_train].to_numpy() == ident]
        assert meta["expression"].iloc[rows].nunique() == 5
        assert meta["view"].iloc[rows].value_counts().max() <= 2
    fp = f2ed_task(meta, "ER-FP", shots=3, seed=0)
    assert meta["expression"].iloc[fp.novel_train].nunique() == 3
    assert meta["subject"].iloc[fp.novel_train].nunique() == 3


def test_f2ed_zid_fapegan_splits_whole_identities(meta):
    s = f2ed_task(meta, "ER-ZID", paper="fapegan", seed=2)
    s.check_disjoint(meta, by="subject")
    assert len(s.train) + len(s.test) == len(meta)
    assert set(meta["subject"].iloc[s.test]) == set(s.novel)


def test_f2ed_tasks_are_seeded(meta):
    a, b = f2ed_task(meta, "ER-FE", shots=3, seed=5), f2ed_task(meta, "ER-FE", shots=3, seed=5)
    c = f2ed_task(meta, "ER-FE", shots=3, seed=6)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test) and a.novel == b.novel
    assert not np.array_equal(a.test, c.test)


def test_f2ed_task_on_adapter_meta(tmp_path):
    ds = F2ED(fx.make_f2ed(tmp_path, identities=5, expressions=5, frames=2), **SMALL)
    s = ds.task("ER-ZP")
    parts = s.datasets(ds)
    assert "half_left" not in set(parts["train"].meta["view"]) and len(parts["test"]) == len(s.test)
    assert ds.views[int(parts["train"][0]["view"])] != "half_left"


def test_f2ed_impossible_few_shot_request():
    m = fx.f2ed_meta(identities=5, expressions=2, views=("half_left", "front"), frames=1)
    with pytest.raises(FewShotError, match=r"has 4 image\(s\).*3 remain, too few for 5 shot"):
        f2ed_task(m, "ER-FID", shots=5)


def test_f2ed_task_needs_view_column():
    m = fx.f2ed_meta(identities=4, expressions=4, frames=2).drop(columns=["view"])
    with pytest.raises(DataError, match=r"missing \['view'\]"):
        f2ed_task(m, "ER-FP", shots=1)


def test_f2ed_task_unknown_novel_view():
    m = fx.f2ed_meta(identities=4, expressions=4, views=("front", "bird"), frames=2)
    with pytest.raises(DataError, match="novel view 'half_left' does not occur"):
        f2ed_task(m, "ER-ZP")


def test_f2ed_task_empty_test_part():
    m = fx.f2ed_meta(identities=1, expressions=5, views=("front",), frames=1)  # one image per rare class
    with pytest.raises(EmptySplitError, match="test part is empty"):
        f2ed_task(m, "ER-UE")


def test_f2ed_task_bad_arguments(meta):
    with pytest.raises(ValueError, match="takes no shots"):
        f2ed_task(meta, "ER-ZID", shots=3)
    with pytest.raises(ValueError, match="needs shots >= 1"):
        f2ed_task(meta, "ER-FE")
    with pytest.raises(ValueError, match="unknown F2ED task"):
        f2ed_task(meta, "ER-XX")
    assert len(F2ED_TASKS) == 8 and len(standard_tasks()) == 14


# --------------------------------------------------------------------------- inspect


BUILDERS = {"rafdb": fx.make_rafdb, "fer2013": fx.make_fer2013, "jaffe": lambda p: fx.make_jaffe(p, size=32),
            "kdef": fx.make_kdef, "f2ed": fx.make_f2ed}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_inspect_detects_each_layout(tmp_path, name):
    root = BUILDERS[name](tmp_path)
    report = inspect_dataset(root)
    assert report.name == name and report.ok and report.candidates == []
    assert sum(report.per_class.values()) == report.samples > 0
    assert sum(report.per_subject.values()) == report.samples
    text = format_report(report)
    assert DATASETS[name].title in text and "problems   none" in text
    if name == "kdef":
        assert report.per_view == {"full_left": 28, "half_left": 28, "front": 28, "half_right": 28, "full_right": 28}
    if name == "rafdb":
        assert report.per_split == {"train": 14, "test": 7}


def test_inspect_broken_folder_lists_problems(tmp_path):
    root = fx.make_kdef(tmp_path)
    fx.truncate(root / "AF01" / "AF01HAS.JPG")
    shutil.copy(root / "AF01" / "AF01ANS.JPG", root / "AF01" / "AF01V.JPG")
    report = inspect_dataset(root)
    assert report.name == "kdef" and not report.ok and report.samples == 139
    assert {p for p, _ in report.skipped} == {"AF01/AF01V.JPG", "AF01/AF01HAS.JPG"}
    assert "AF01HAS.JPG" in format_report(report)


def test_inspect_recognised_but_unreadable(tmp_path):
    root = fx.make_rafdb(tmp_path)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 12\n")
    report = inspect_dataset(root)
    assert report.name == "rafdb" and report.error.startswith("UnknownClassError") and not report.ok


def test_inspect_wrong_level_and_unknown_folder(tmp_path):
    root = fx.make_f2ed(tmp_path, identities=1, expressions=1, frames=1)
    report = inspect_dataset(root / "001")
    assert report.name is None and any(f"data_root={str(root)!r}" in h for h in report.hints)
    (tmp_path / "empty").mkdir()
    assert "matches none of the known layouts" in inspect_dataset(tmp_path / "empty").problems[0]
    assert "does not exist" in inspect_dataset(tmp_path / "missing").problems[0]
    with pytest.raises(ValueError, match="unknown dataset"):
        inspect_dataset(root, name="nope")


def test_registry_entries_of_part_b_resolve():
    for key in ("rafdb", "fer2013", "jaffe", "kdef", "f2ed"):
        info = DATASETS[key]
        assert info.name == key and info.layout and info.obtain and info.protocol
        assert info.constructor.LAYOUT.strip() == info.layout and info.constructor.name == key


def test_task_split_json_round_trip(meta):
    s = f2ed_task(meta, "ER-FID", shots=3, seed=1)
    back = TaskSplit.from_json(s.to_json())
    assert back.novel == s.novel and back.shots == 3 and back.task == "ER-FID"
    assert np.array_equal(back.train, s.train) and np.array_equal(back.novel_train, s.novel_train)


def test_f2ed_tasks_serve_the_synthetic_world():
    from fer_core.data.synthetic.world import f2ed_like

    world = f2ed_like(n_identities=5, n_classes=10)
    s = f2ed_task(world.meta, "ER-FP", shots=1, seed=0)
    _disjoint(s)
    assert set(world.meta["view"].iloc[s.novel_train]) == {"half_left"} and len(s.novel_train) == 1
