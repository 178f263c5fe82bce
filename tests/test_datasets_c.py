"""The layouts readers actually hold: RAF-DB and FER2013 as mirrors share them, any class-folder
dataset, stratified folds for data without subject ids, and what ``fer inspect`` says about each
(fixtures in tests/fixtures_datasets_b.py)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures_datasets as fxa  # noqa: E402
import fixtures_datasets_b as fx  # noqa: E402

from fer_core.data import faces  # noqa: E402
from fer_core.data.base import EXPRESSIONS_7  # noqa: E402
from fer_core.data.classfolder import ClassFolders  # noqa: E402
from fer_core.data.fer2013 import FER2013Folders  # noqa: E402
from fer_core.data.files import (  # noqa: E402
    CorruptImageError, EmptyDatasetError, LabelFileError, UnknownClassError, WrongRootError,
)
from fer_core.data.inspect import CHAPTERS, format_report, inspect_dataset  # noqa: E402
from fer_core.data.protocols import (  # noqa: E402
    FoldFileError, chapter_folds, stratified_kfold, subject_kfold,
)
from fer_core.data.rafdb import RAFDBFolders  # noqa: E402
from fer_core.data.registry import DATASETS  # noqa: E402

SMALL = {"size": 16}


@pytest.fixture(autouse=True)
def _cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "fer-cache"))


@pytest.fixture
def no_faces_extra(monkeypatch):
    """Behave as CI does without the faces extra, whether or not it is installed here."""
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now raises ImportError


def _labels_match_pixels(ds) -> None:
    for i in range(len(ds)):
        item = ds[i]
        assert fx.level_to_class(item["image"].mean().item()) == ds.classes[int(item["expression"])], ds.meta.iloc[i]


# --------------------------------------------------------------------------- RAF-DB, class folders + CSVs


@pytest.mark.parametrize("inside_dataset", [True, False])
def test_rafdb_folders_counts_labels_and_split(tmp_path, inside_dataset):
    root = fx.make_rafdb_folders(tmp_path, inside_dataset=inside_dataset)
    ds = RAFDBFolders(root, **SMALL)
    assert len(ds) == 21 and ds.classes == EXPRESSIONS_7 and ds.subjects_known is False
    assert ds.meta["split"].value_counts().to_dict() == {"train": 14, "test": 7}
    assert dict(zip(ds.meta["raf_code"], (ds.classes[e] for e in ds.meta["expression"]))) == fx.RAF_CODES
    prefix = "DATASET/" if inside_dataset else ""
    assert ds.meta["path"].iloc[0] == f"{prefix}train/1/train_00001_aligned.jpg"
    assert ds.meta["subject"].iloc[0] == "train_00001" and ds.meta["subject"].is_unique
    _labels_match_pixels(ds)
    split = ds.official_split()
    assert (len(split.train), len(split.test)) == (14, 7)
    assert ds.preparation == "centre crop"  # the aligned 100x100 faces need no detector


def test_rafdb_folders_missing_label_file(tmp_path):
    root = fx.make_rafdb_folders(tmp_path)
    (root / "test_labels.csv").unlink()
    with pytest.raises(LabelFileError, match=r"test_labels.csv is missing.*ships train_labels.csv and test_labels.csv"):
        RAFDBFolders(root)


@pytest.mark.parametrize("label,error,match", [
    ("8", UnknownClassError, r"test_labels.csv line 3 labels test_0002_aligned.jpg 8; RAF-DB's labels are 1-7"),
    ("0", UnknownClassError, r"line 3 .* 0; RAF-DB's labels are 1-7 \(1 surprise"),
    ("fear", LabelFileError, r"test_labels.csv line 3 has label 'fear', not an integer 1-7"),
])
def test_rafdb_folders_label_out_of_range(tmp_path, label, error, match):
    root = fx.make_rafdb_folders(tmp_path)
    f = root / "test_labels.csv"
    f.write_text(f.read_text().replace("test_0002_aligned.jpg,2", f"test_0002_aligned.jpg,{label}"))
    with pytest.raises(error, match=match):
        RAFDBFolders(root)


def test_rafdb_folders_header_and_duplicates(tmp_path):
    root = fx.make_rafdb_folders(tmp_path)
    f = root / "train_labels.csv"
    text = f.read_text()
    f.write_text(text.replace("image,label", "name,emotion"))
    with pytest.raises(LabelFileError, match=r"train_labels.csv has the columns \['name', 'emotion'\]; expected image"):
        RAFDBFolders(root)
    f.write_text(text + "train_00001_aligned.jpg,1\n")
    with pytest.raises(LabelFileError, match="lists train_00001_aligned.jpg more than once"):
        RAFDBFolders(root)


def test_rafdb_folders_listed_image_missing(tmp_path):
    root = fx.make_rafdb_folders(tmp_path)
    gone = root / "DATASET" / "train" / "4" / "train_00007_aligned.jpg"
    gone.unlink()
    ds = fx.refused_then_skipped(RAFDBFolders, root, CorruptImageError, r"train/4/train_00007_aligned.jpg is listed "
                                 r"in .*train_labels.csv line 8 but missing.*skip_bad=True", **SMALL)
    assert len(ds) == 20 and ds.skipped[0][0] == "DATASET/train/4/train_00007_aligned.jpg"


def test_rafdb_folders_image_in_the_wrong_label_folder(tmp_path):
    root = fx.make_rafdb_folders(tmp_path)
    base = root / "DATASET" / "train"
    shutil.move(base / "5" / "train_00009_aligned.jpg", base / "6" / "train_00009_aligned.jpg")
    with pytest.raises(CorruptImageError, match=r"train_00009_aligned.jpg is listed .* line 10 with label 5 but found "
                                                r"in train/6/ instead"):
        RAFDBFolders(root)


def test_rafdb_folders_unknown_and_empty_label_folders(tmp_path):
    root = fx.make_rafdb_folders(tmp_path)
    (root / "DATASET" / "train" / "happy").mkdir()
    with pytest.raises(UnknownClassError, match=r"train/happy is not a label folder; the folders of .* named 1-7"):
        RAFDBFolders(root)
    (root / "DATASET" / "train" / "happy").rmdir()
    for f in (root / "DATASET" / "test" / "7").iterdir():
        f.unlink()
    with pytest.raises(EmptyDatasetError, match=r"test/7 holds no image.*put its images there, or remove the folder"):
        RAFDBFolders(root)


def test_rafdb_folders_unlabelled_images_are_listed(tmp_path):
    root = fx.make_rafdb_folders(tmp_path)
    extra = root / "DATASET" / "train" / "3" / "train_09999_aligned.jpg"
    shutil.copy(root / "DATASET" / "train" / "3" / "train_00005_aligned.jpg", extra)
    with pytest.warns(UserWarning, match="1 image.* no line in the label files"):
        ds = RAFDBFolders(root, **SMALL)
    assert len(ds) == 21 and ds.unlabeled == ["train/3/train_09999_aligned.jpg"]


def test_rafdb_folders_wrong_level(tmp_path):
    root = fx.make_rafdb_folders(tmp_path)
    with pytest.raises(WrongRootError, match="too low") as err:
        RAFDBFolders(root / "DATASET")
    assert f"data_root={str(root)!r}" in str(err.value)
    with pytest.raises(WrongRootError, match="one level too high"):
        RAFDBFolders(tmp_path)


# --------------------------------------------------------------------------- FER2013 as image folders


def test_fer2013_folders_counts_labels_and_split(tmp_path):
    root = fx.make_fer2013_folders(tmp_path, per_split={"train": 2, "val": 1, "test": 1})
    ds = FER2013Folders(root, **SMALL)
    assert len(ds) == 28 and ds.classes == EXPRESSIONS_7 and ds.subjects_known is False
    assert ds.meta["split"].value_counts().to_dict() == {"train": 14, "val": 7, "test": 7}
    assert set(ds.meta["folder"]) == set(fx.FER_FOLDERS)
    assert ds.meta["subject"].is_unique
    _labels_match_pixels(ds)
    split = ds.official_split()
    assert (len(split.train), len(split.val), len(split.test)) == (14, 7, 7)


def test_fer2013_folders_unknown_empty_and_missing_class(tmp_path):
    root = fx.make_fer2013_folders(tmp_path)
    (root / "train" / "contempt").mkdir()
    fx._flat(100, (48, 48), rgb=False, seed=1).save(root / "train" / "contempt" / "x.png")
    with pytest.raises(UnknownClassError, match=r"train/contempt is not one of FER2013's emotions"):
        FER2013Folders(root)
    shutil.rmtree(root / "train" / "contempt")
    for f in (root / "test" / "sad").iterdir():
        f.unlink()
    with pytest.raises(EmptyDatasetError, match=r"test/sad holds no image"):
        FER2013Folders(root)
    (root / "test" / "sad").rmdir()
    with pytest.warns(UserWarning, match=r"test has no folder for sadness"):
        ds = FER2013Folders(root, **SMALL)
    assert len(ds) == 20


def test_fer2013_folders_of_other_sizes_are_a_class_folder_dataset(tmp_path):
    """Split folders of emotions whose images are not 48x48 are someone's own data, not FER2013."""
    root = tmp_path / "own"
    for split in ("train", "test"):
        for folder, name in list(fx.FER_FOLDERS.items())[:4]:
            (root / split / folder).mkdir(parents=True)
            fx._flat(fx.class_level(name), (60, 60), rgb=True, seed=3).save(root / split / folder / "a.jpg")
    with pytest.raises(WrongRootError, match="does not look like"):
        FER2013Folders(root)
    report = inspect_dataset(root)
    assert report.name == "classfolder" and report.ok and report.per_split == {"train": 4, "test": 4}


# --------------------------------------------------------------------------- any class-folder dataset


def test_classfolder_without_subject_ids(tmp_path, no_faces_extra):
    root = fx.make_classfolder(tmp_path, named=False)
    ds = ClassFolders(root, **SMALL)
    assert len(ds) == 24 and ds.classes == ("neutral", "anger", "happiness", "sadness")  # the book's order
    assert ds.subjects_known is False and ds.meta["subject"].is_unique
    assert ds.meta["subject"].iloc[0] == "Happy/IMG_1000"
    assert ds.meta.groupby("folder")["expression"].first().map(dict(enumerate(ds.classes))).to_dict() == \
        {"Happy": "happiness", "angry": "anger", "neutral": "neutral", "sad": "sadness"}
    _labels_match_pixels(ds)
    assert ds.preparation.startswith("centre crop (the faces extra is not installed") and "fer-book[faces]" in \
        ds.preparation and not ds.face_detection


@pytest.mark.parametrize("how", ["argument", "options file"])
def test_classfolder_subject_pattern(tmp_path, how):
    root = fx.make_classfolder(tmp_path, people=("anna", "ben", "carla", "dave"))
    pattern = r"^(?P<subject>[a-z]+)_\d+"
    if how == "argument":
        ds = ClassFolders(root, subject_pattern=pattern, faces=False, **SMALL)
    else:
        (root / "classfolder.json").write_text(json.dumps({"subject_pattern": pattern}))
        ds = ClassFolders(root, faces=False, **SMALL)
    assert ds.subjects_known is True and ds.subjects == ("anna", "ben", "carla", "dave")
    assert ds.meta.groupby("subject").size().tolist() == [8, 8, 8, 8]
    for s in subject_kfold(ds.meta, 4):
        s.check_disjoint(ds.meta)
    folds, warning = chapter_folds(ds, 4)
    assert warning is None and [f.name for f in folds][0] == "fold 1/4"


def test_classfolder_subject_from_a_folder_per_person_and_split_folders(tmp_path):
    root = tmp_path / "split"
    for split in ("train", "test"):
        for folder, name in (("happy", "happiness"), ("surprised", "surprise")):
            for person in ("p1", "p2"):
                (root / split / folder / person).mkdir(parents=True)
                face = fx._flat(fx.class_level(name), (40, 40), rgb=True, seed=0)
                face.save(root / split / folder / person / "0.png")
    ds = ClassFolders(root, subject_pattern=r"^(?P<subject>[^/]+)/", faces=False, **SMALL)
    assert len(ds) == 8 and ds.classes == ("happiness", "surprise") and ds.subjects == ("p1", "p2")
    assert ds.meta["split"].value_counts().to_dict() == {"train": 4, "test": 4}
    _labels_match_pixels(ds)


def test_classfolder_unknown_class_names_are_listed_with_the_fix(tmp_path):
    root = fx.make_classfolder(tmp_path, folders={**fx.MY_FOLDERS, "bored": "neutral", "Grinning": "happiness"})
    with pytest.raises(UnknownClassError) as err:
        ClassFolders(root)
    text = str(err.value)
    assert "'Grinning', 'bored'" in text and "class_map=" in text and str(root / "classfolder.json") in text
    ds = ClassFolders(root, class_map={"bored": "neutral", "grinning": "happy"}, faces=False, **SMALL)  # spellings ok
    assert len(ds) == 36
    _labels_match_pixels(ds)
    (root / "classfolder.json").write_text(json.dumps({"class_map": {"bored": None, "Grinning": "happiness"}}))
    with pytest.warns(UserWarning, match="1 folder.* mapped to null are left out: bored"):
        ds = ClassFolders(root, faces=False, **SMALL)
    assert len(ds) == 30 and ds.excluded == ["bored"]
    with pytest.raises(UnknownClassError, match="maps 'bored' to 'sleepy'"):
        ClassFolders(root, class_map={"bored": "sleepy"})


def test_classfolder_empty_class_and_bad_options(tmp_path):
    root = fx.make_classfolder(tmp_path)
    (root / "fear").mkdir()
    with pytest.raises(EmptyDatasetError, match=r"class folder .*fear holds no image .*remove the folder"):
        ClassFolders(root)
    (root / "fear").rmdir()
    with pytest.raises(LabelFileError, match=r"matches no subject in 24 file name.*Happy/anna_01.jpg"):
        ClassFolders(root, subject_pattern=r"^S\d+")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        ClassFolders(root, subject_pattern="(")
    (root / "classfolder.json").write_text("{class_map: }")
    with pytest.raises(LabelFileError, match="classfolder.json is not valid JSON"):
        ClassFolders(root)
    (root / "classfolder.json").write_text(json.dumps({"classes": {}}))
    with pytest.raises(LabelFileError, match=r"unknown key\(s\) \['classes'\]"):
        ClassFolders(root)


def test_classfolder_reports_what_it_does_not_use(tmp_path):
    root = fx.make_classfolder(tmp_path)
    (root / "sad" / "notes.txt").write_text("taken in 2023\n")
    shutil.copy(root / "sad" / "anna_01.jpg", root / "loose.jpg")
    with pytest.warns(UserWarning) as caught:
        ds = ClassFolders(root, faces=False, **SMALL)
    text = " ".join(str(w.message) for w in caught)
    assert "outside any class folder" in text and "loose.jpg" in text and "are not images" in text
    assert ds.ignored == ["sad/notes.txt"] and len(ds) == 24


def test_classfolder_root_one_level_too_low(tmp_path):
    root = fx.make_classfolder(tmp_path)
    with pytest.raises(WrongRootError, match="too low") as err:
        ClassFolders(root / "sad")
    assert f"data_root={str(root)!r}" in str(err.value)


# --------------------------------------------------------------------------- folds without subjects


def _meta(n_per_class=(7, 5, 3)):
    import pandas as pd

    expr = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)])
    return pd.DataFrame({"expression": expr, "subject": [f"img{i}" for i in range(len(expr))]})


def test_stratified_kfold_spreads_every_class(tmp_path):
    meta = _meta()
    splits = stratified_kfold(meta, 4, seed=1)
    tests = np.concatenate([s.test for s in splits])
    assert sorted(tests.tolist()) == list(range(len(meta)))
    sizes = [len(s.test) for s in splits]
    assert max(sizes) - min(sizes) <= 1
    per_class = np.array([np.bincount(meta.expression.iloc[s.test], minlength=3) for s in splits])
    assert (per_class.max(0) - per_class.min(0) <= 1).all()
    assert splits[0].name == "stratified fold 1/4"
    again = stratified_kfold(meta, 4, seed=1)
    assert all(np.array_equal(a.test, b.test) for a, b in zip(splits, again))
    assert not all(np.array_equal(a.test, b.test) for a, b in zip(splits, stratified_kfold(meta, 4, seed=2)))
    path = tmp_path / "folds.json"
    stratified_kfold(meta, 4, seed=1, path=path)
    assert [s.test.tolist() for s in stratified_kfold(meta, 4, seed=1, path=path)] == [s.test.tolist() for s in splits]
    with pytest.raises(FoldFileError, match="was made with"):
        stratified_kfold(meta, 4, seed=5, path=path)


def test_chapter_folds_warn_when_subjects_are_unknown(tmp_path):
    ds = RAFDBFolders(fx.make_rafdb_folders(tmp_path), **SMALL)
    folds, warning = chapter_folds(ds, 3)
    assert folds[0].name.startswith("stratified") and "subject independence cannot be guaranteed" in warning
    assert warning.startswith("RAF-DB (basic, class folders) has no identity labels")


def test_prepare_data_uses_stratified_folds_and_says_so(tmp_path):
    from fer_core.experiments.data import FoldWarning, prepare_data

    root = fx.make_classfolder(tmp_path, people=("anna", "ben", "carla", "dave"))
    P = {"size": 16, "channels": 1, "folds": 2}
    with pytest.warns(FoldWarning, match="subject independence cannot be guaranteed"):
        data = prepare_data(P, synthetic=None, data_root=root, real_options={"faces": False})
    assert data.key == "classfolder" and len(data.warnings) == 1 and "stratified folds" in data.name
    assert data.spec["folds"] == "stratified" and data.splits[0].name == "stratified fold 1/2"
    assert data.build_args["real_options"] == {"faces": False}
    opts = {"faces": False, "subject_pattern": r"^(?P<subject>[a-z]+)_"}
    data = prepare_data(P, synthetic=None, dataset="classfolder", data_root=root, real_options=opts)
    assert data.warnings == [] and "stratified" not in data.name and "folds" not in data.spec
    for s in data.splits:
        s.check_disjoint(data.dataset.meta)
    assert data.spec["options"] == {k: opts[k] for k in sorted(opts)}


# --------------------------------------------------------------------------- inspect


def test_inspect_new_layouts(tmp_path, no_faces_extra):
    cases = {
        "rafdb_folders": fx.make_rafdb_folders(tmp_path / "a"),
        "fer2013_folders": fx.make_fer2013_folders(tmp_path / "b"),
        "classfolder": fx.make_classfolder(tmp_path / "c", named=False),
    }
    for name, root in cases.items():
        report = inspect_dataset(root)
        assert report.name == name and report.ok and not report.subjects_known, format_report(report)
        assert sum(report.per_class.values()) == report.samples
        text = format_report(report)
        assert f"dataset    {DATASETS[name].title} [{name}]" in text and "no subject ids" in text
        assert report.chapters == [("data", "")] and "the fesr chapter needs subject ids" in text
        assert text.splitlines()[-1] == f"run        fer book --only data --data-root {root.resolve()}"
    assert inspect_dataset(cases["fer2013_folders"]).candidates == ["classfolder"]  # specific beats generic
    assert "faces extra is not installed" in inspect_dataset(cases["classfolder"]).preparation


def test_inspect_class_folders_with_subjects_and_the_fesr_minimum(tmp_path):
    few = fx.make_classfolder(tmp_path / "few")
    (few / "classfolder.json").write_text(json.dumps({"subject_pattern": "^([a-z]+)_"}))
    report = inspect_dataset(few)
    assert report.subjects_known and len(report.per_subject) == 3
    assert report.chapters == [("data", "")] and any("at least 10 subjects" in n for n in report.notes)
    assert any("compare chapter needs subject ids" in n for n in report.notes)
    assert format_report(report).splitlines()[-1].startswith("run        fer book --only data --data-root")
    people = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett")
    many = fx.make_classfolder(tmp_path / "many", people=people, per_person=1)
    (many / "classfolder.json").write_text(json.dumps({"subject_pattern": "^([a-z]+)_"}))
    report = inspect_dataset(many)
    assert report.chapters == [("data", ""), ("fesr", ""), ("jesrl", ""), ("compare", "")]
    assert "--only fesr" in report.command
    assert any("groupgan chapter needs expression sequences" in n for n in report.notes)
    assert any("fapegan chapter needs faces in several views" in n for n in report.notes)


def test_inspect_fesr_needs_subjects_with_several_expressions(tmp_path):
    root = tmp_path / "one-each"
    people = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett")
    for k, person in enumerate(people):  # every person in one class folder only
        folder = root / ("happy", "sad")[k % 2]
        folder.mkdir(parents=True, exist_ok=True)
        fx._flat(fx.class_level(("happiness", "sadness")[k % 2]), (40, 40), rgb=True, seed=k).save(
            folder / f"{person}_01.jpg")
    (root / "classfolder.json").write_text(json.dumps({"subject_pattern": "^([a-z]+)_"}))
    report = inspect_dataset(root)
    assert report.ok and len(report.per_subject) == 10 and report.versatile_subjects == 0
    assert report.chapters == [("data", ""), ("jesrl", ""), ("compare", "")]  # no two-expression person needed
    assert any("every subject shows one" in n for n in report.notes)


def test_inspect_prefers_ck48_and_explains_unknown_class_folders(tmp_path):
    root = tmp_path / "ck48"
    fxa.make_ckplus48(root)
    report = inspect_dataset(root)
    assert report.name == "ckplus48" and report.candidates == ["classfolder"] and report.subjects_known
    mine = fx.make_classfolder(tmp_path / "mine", folders={**fx.MY_FOLDERS, "bored": "neutral"})
    report = inspect_dataset(mine)
    assert report.name == "classfolder" and report.error.startswith("UnknownClassError") and "class_map" in report.error
    assert report.chapters == [] and report.command == ""


def test_inspect_chapters_are_the_books_chapters():
    from fer_core import book

    assert list(CHAPTERS) == [c.name for c in book.chapters(book.find_root(Path(__file__).parent))]


def test_registry_entries_of_the_new_layouts_resolve():
    for key in ("rafdb_folders", "fer2013_folders", "classfolder"):
        info = DATASETS[key]
        assert info.name == key and info.layout and info.obtain and info.protocol
        assert info.constructor.LAYOUT.strip() == info.layout and info.constructor.name == key
    assert [k for k, i in DATASETS.items() if i.generic] == ["classfolder"]
    assert faces.INSTALL == 'pip install "fer-book[faces]"'
