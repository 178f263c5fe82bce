"""Small format-faithful fixtures for RAF-DB, FER2013, JAFFE, KDEF and F2ED-style folders,
the class-folder copies of RAF-DB and FER2013 readers download from mirrors, and a
class-folder dataset of one's own photos.

Each builder writes a folder with the publisher's names, nesting, label-file syntax and
image formats (JPEG for RAF-DB/KDEF/F2ED, a CSV of pixel strings for FER2013, 8-bit
grayscale and palette TIFFs for JAFFE, 48x48 grey PNGs for FER2013's image folders) and
returns the path a reader would pass as ``data_root``. Only the counts and the image sizes are
shrunk (keyword arguments restore the real sizes).

Every image is nearly flat with a grey level that encodes its expression in the book's
class order (:func:`class_level`), so a test can check that the label an adapter reports
belongs to the image it returns, and thus that code tables (RAF-DB's 1..7, FER2013's
0..6, KDEF's letters) are mapped correctly. Imported by tests only.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fer_core.data.base import EXPRESSIONS_7
from fixtures_datasets import refused_then_skipped  # noqa: F401  (the datasets tests call fx.refused_then_skipped)

# Publisher code tables, written here independently of the adapters so a wrong table in
# an adapter shows up as a brightness mismatch.
RAF_CODES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happiness", 5: "sadness", 6: "anger", 7: "neutral"}
FER_CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise", 6: "neutral"}
JAFFE_CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral", "SA": "sadness",
               "SU": "surprise"}
KDEF_CODES = {"AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happiness", "NE": "neutral", "SA": "sadness",
              "SU": "surprise"}
KDEF_VIEWS = ("FL", "HL", "S", "HR", "FR")
JAFFE_SUBJECTS = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")
F2ED_VIEW_DIRS = ("half_left", "front", "half_right", "bird_view")
F2ED_EXPRESSIONS = ("acceptance", "admiration", "anger", "anticipation", "bravery", "calm", "desire", "disgust",
                    "envy", "fear", "joy", "love", "neutral", "optimism")


def class_level(name: str) -> int:
    """Grey level (0..255) that encodes a 7-class expression name in the fixture images."""
    return 40 + 28 * EXPRESSIONS_7.index(name)


def level_to_class(mean_in_minus1_1: float) -> str:
    """Inverse of :func:`class_level` for an image mean in [-1, 1]."""
    level = (mean_in_minus1_1 + 1) * 127.5
    return EXPRESSIONS_7[int(round((level - 40) / 28))]


def _flat(level: int, size: tuple[int, int], *, rgb: bool, seed: int) -> Image.Image:
    """A nearly flat image (mean ~ ``level``) with faint texture so encoders do real work."""
    w, h = size
    rng = np.random.default_rng(seed)
    arr = np.clip(level + rng.integers(-3, 4, size=(h, w)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, mode="L")
    return img.convert("RGB") if rgb else img


# --------------------------------------------------------------------------- RAF-DB
def make_rafdb(tmp: Path, *, n_train: int = 2, n_test: int = 1, size: int = 100, original: bool = False) -> Path:
    """RAF-DB *basic*: ``basic/EmoLabel/list_patition_label.txt`` and ``basic/Image/aligned``.

    ``n_train``/``n_test`` images per class; names ``train_00001.jpg`` / ``test_0001.jpg``
    (five and four digits, as published), aligned copies ``<stem>_aligned.jpg`` at 100x100.
    Returns the ``basic`` folder.
    """
    root = Path(tmp) / "basic"
    (root / "EmoLabel").mkdir(parents=True)
    (root / "Image" / "aligned").mkdir(parents=True)
    lines = []
    seed = 0
    for split, n, width in (("train", n_train, 5), ("test", n_test, 4)):
        counter = itertools.count(1)
        for code, name in RAF_CODES.items():
            for _ in range(n):
                stem = f"{split}_{next(counter):0{width}d}"
                lines.append(f"{stem}.jpg {code}")
                _flat(class_level(name), (size, size), rgb=True, seed=seed).save(
                    root / "Image" / "aligned" / f"{stem}_aligned.jpg", quality=95)
                if original:
                    (root / "Image" / "original").mkdir(exist_ok=True)
                    _flat(class_level(name), (size + 20, size + 40), rgb=True, seed=seed).save(
                        root / "Image" / "original" / f"{stem}.jpg", quality=95)
                seed += 1
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return root


# --------------------------------------------------------------------------- FER2013
def fer_rows(*, per_usage: dict[str, int] | None = None) -> pd.DataFrame:
    """Rows ``emotion, pixels, Usage`` (``per_usage`` images per class and usage)."""
    per_usage = per_usage or {"Training": 2, "PublicTest": 1, "PrivateTest": 1}
    rows, seed = [], 0
    for usage, n in per_usage.items():
        for code, name in FER_CODES.items():
            for _ in range(n):
                arr = np.asarray(_flat(class_level(name), (48, 48), rgb=False, seed=seed))
                rows.append({"emotion": code, "pixels": " ".join(map(str, arr.ravel().tolist())), "Usage": usage})
                seed += 1
    return pd.DataFrame(rows)


def make_fer2013(tmp: Path, *, layout: str = "kaggle", per_usage: dict[str, int] | None = None) -> Path:
    """FER2013 as released on Kaggle: ``fer2013/fer2013.csv`` with ``emotion,pixels,Usage``.

    ``layout="kaggle"`` returns the ``fer2013`` folder; ``"torchvision"`` returns its parent
    (``torchvision.datasets.FER2013`` takes the parent as ``root``); ``"icml"`` writes
    ``icml_face_data.csv`` (header ``emotion, Usage, pixels``, note the spaces).
    """
    folder = Path(tmp) / "fer2013"
    folder.mkdir(parents=True)
    df = fer_rows(per_usage=per_usage)
    if layout == "icml":
        lines = ["emotion, Usage, pixels"] + [f"{r.emotion},{r.Usage},{r.pixels}" for r in df.itertuples()]
        (folder / "icml_face_data.csv").write_text("\n".join(lines) + "\n")
    else:
        lines = ["emotion,pixels,Usage"] + [f"{r.emotion},{r.pixels},{r.Usage}" for r in df.itertuples()]
        (folder / "fer2013.csv").write_text("\n".join(lines) + "\n")
    (folder / "README").write_text("fixture\n")
    return folder.parent if layout == "torchvision" else folder


# --------------------------------------------------------------------------- JAFFE
def make_jaffe(tmp: Path, *, subjects: tuple[str, ...] = JAFFE_SUBJECTS[:4], per_expression: int = 3,
               size: int = 256, palette_every: int = 3) -> Path:
    """JAFFE: a flat folder of ``<subject>.<code><k>.<number>.tiff`` 8-bit TIFFs.

    Every ``palette_every``-th image is written as a palette ("P" mode, grey palette) TIFF,
    the rest as grayscale ("L") TIFFs, as in the published archive. Image numbers run
    globally like the publisher's (1..219 with gaps). Returns the ``jaffe`` folder.
    """
    root = Path(tmp) / "jaffe"
    root.mkdir(parents=True)
    number = itertools.count(1)
    i = 0
    for subject in subjects:
        for code, name in JAFFE_CODES.items():
            for k in range(1, per_expression + 1):
                img = _flat(class_level(name), (size, size), rgb=False, seed=i)
                if palette_every and i % palette_every == 0:
                    img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
                img.save(root / f"{subject}.{code}{k}.{next(number)}.tiff")
                i += 1
    (root / "README_FIRST.txt").write_text("fixture of the JAFFE layout\n")
    return root


# --------------------------------------------------------------------------- KDEF
def make_kdef(tmp: Path, *, people: tuple[str, ...] = ("F01", "M02"), sessions: tuple[str, ...] = ("A", "B"),
              size: tuple[int, int] = (56, 76)) -> Path:
    """KDEF: ``KDEF/<session><gender><id>/<session><gender><id><expr><view>.JPG``.

    ``people`` are gender+number codes; real images are 562x762 RGB JPEGs (``size`` shrinks
    them). Returns the ``KDEF`` folder.
    """
    root = Path(tmp) / "KDEF"
    i = 0
    for session in sessions:
        for person in people:
            folder = root / f"{session}{person}"
            folder.mkdir(parents=True)
            for code, name in KDEF_CODES.items():
                for view in KDEF_VIEWS:
                    _flat(class_level(name), size, rgb=True, seed=i).save(
                        folder / f"{session}{person}{code}{view}.JPG", quality=94)
                    i += 1
    return root


# --------------------------------------------------------------------------- F2ED
def make_f2ed(tmp: Path, *, identities: int = 3, expressions: int = 4, frames: int = 2, size: int = 32) -> Path:
    """F2ED-style tree ``<identity>/<view>/<expression>/<frame>.jpg`` (256x256 in the papers).

    Returns the dataset root. Frames are named ``00000.jpg``, ``00001.jpg``, ...
    """
    root = Path(tmp) / "F2ED"
    i = 0
    for ident in range(1, identities + 1):
        for view in F2ED_VIEW_DIRS:
            for e in range(expressions):
                folder = root / f"{ident:03d}" / view / F2ED_EXPRESSIONS[e]
                folder.mkdir(parents=True)
                for f in range(frames):
                    _flat(40 + 10 * e, (size, size), rgb=True, seed=i).save(folder / f"{f:05d}.jpg", quality=95)
                    i += 1
    return root


def f2ed_meta(*, identities: int = 10, expressions: int = 10,
              views: tuple[str, ...] = ("half_left", "front", "half_right", "bird"), frames: int = 5,
              drop: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """An F2ED-like ``meta`` table (no images) for the task protocols.

    ``drop`` removes that fraction of rows at random, making the cells unequal as in the
    real database.
    """
    rows = [{"expression": e, "subject": f"{s:03d}", "view": v, "frame": f}
            for s in range(identities) for v in views for e in range(expressions) for f in range(frames)]
    meta = pd.DataFrame(rows)
    if drop:
        keep = np.random.default_rng(seed).random(len(meta)) >= drop
        meta = meta[keep].reset_index(drop=True)
    return meta


# --------------------------------------------------------------------------- redistributed layouts
def make_rafdb_folders(tmp: Path, *, n_train: int = 2, n_test: int = 1, size: int = 100,
                       inside_dataset: bool = True) -> Path:
    """RAF-DB basic as widely shared: ``DATASET/{train,test}/<label 1-7>/<stem>_aligned.jpg`` plus
    ``train_labels.csv`` / ``test_labels.csv`` (``image,label``) in the root.

    ``n_train``/``n_test`` images per label; names as published (five and four digits).
    ``inside_dataset=False`` puts ``train/`` and ``test/`` in the root itself. Returns the root.
    """
    root = Path(tmp) / "raf-db-dataset"
    images = root / "DATASET" if inside_dataset else root
    seed = 0
    for split, n, width in (("train", n_train, 5), ("test", n_test, 4)):
        counter = itertools.count(1)
        lines = ["image,label"]
        for code, name in RAF_CODES.items():
            folder = images / split / str(code)
            folder.mkdir(parents=True)
            for _ in range(n):
                image = f"{split}_{next(counter):0{width}d}_aligned.jpg"
                lines.append(f"{image},{code}")
                _flat(class_level(name), (size, size), rgb=True, seed=seed).save(folder / image, quality=95)
                seed += 1
        (root / f"{split}_labels.csv").write_text("\n".join(lines) + "\n")
    return root


FER_FOLDERS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "neutral": "neutral",
               "sad": "sadness", "surprise": "surprise"}


def make_fer2013_folders(tmp: Path, *, per_split: dict[str, int] | None = None, ext: str = ".png") -> Path:
    """FER2013 as image folders: ``{train,test}/<emotion>/<Usage>_<n>.png``, 48x48 grey.

    ``per_split`` images per emotion (default 2 train, 1 test). Returns the root.
    """
    root = Path(tmp) / "fer2013-images"
    per_split = per_split or {"train": 2, "test": 1}
    seed = 0
    for split, n in per_split.items():
        usage = {"train": "Training", "test": "PrivateTest", "val": "PublicTest"}[split]
        for folder, name in FER_FOLDERS.items():
            (root / split / folder).mkdir(parents=True)
            for _ in range(n):
                _flat(class_level(name), (48, 48), rgb=False, seed=seed).save(
                    root / split / folder / f"{usage}_{10000000 + 7919 * seed}{ext}")
                seed += 1
    return root


MY_FOLDERS = {"Happy": "happiness", "sad": "sadness", "angry": "anger", "neutral": "neutral"}


def make_classfolder(tmp: Path, *, folders: dict[str, str] | None = None, people: tuple[str, ...] = ("anna", "ben",
                     "carla"), per_person: int = 2, named: bool = True, size: tuple[int, int] = (64, 80)) -> Path:
    """Own photos in class folders: ``<folder>/<person>_<k>.jpg`` (``named``) or ``IMG_<n>.jpg``.

    ``folders`` maps folder names to the class their images encode (default
    :data:`MY_FOLDERS`, with the spellings people use). Returns the root.
    """
    root = Path(tmp) / "my-faces"
    folders = folders if folders is not None else MY_FOLDERS
    seed = 0
    for folder, name in folders.items():
        (root / folder).mkdir(parents=True)
        for person in people:
            for k in range(1, per_person + 1):
                stem = f"{person}_{k:02d}" if named else f"IMG_{1000 + seed:04d}"
                _flat(class_level(name), size, rgb=True, seed=seed).save(root / folder / f"{stem}.jpg", quality=95)
                seed += 1
    return root


# --------------------------------------------------------------------------- damage
def truncate(path: Path, keep: int = 200) -> Path:
    """Cut a file after ``keep`` bytes (a broken download)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:keep])
    return Path(path)


def garbage(path: Path) -> Path:
    """Overwrite a file with bytes that are no image at all."""
    Path(path).write_bytes(b"this is not an image\n" * 8)
    return Path(path)
