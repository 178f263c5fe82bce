"""RAF-DB (Real-world Affective Faces), the *basic* single-label subset.

About 15k in-the-wild faces (12,271 train, 3,068 test), each with one of seven basic
emotions agreed by about 40 annotators, split by the publisher into train and test. The
label file names every image and its label; the file name's prefix (``train_`` /
``test_``) is the split. RAF-DB has no identity labels, so every image is its own
``subject`` (the file stem): folds by subject are folds by image.

RAF-DB's label codes are *not* in the book's class order: 1 surprise, 2 fear, 3 disgust,
4 happiness, 5 sadness, 6 anger, 7 neutral (``RAF_CODES``). ``meta.expression`` indexes
``EXPRESSIONS_7`` (neutral, anger, disgust, fear, happiness, sadness, surprise);
``meta.raf_code`` keeps the publisher's code.

Deviation from the papers: none for the aligned images (the publisher's 100x100 aligned
faces are used as they are). With ``aligned=False`` the original photos are aligned on the
landmarks of the optional face detector (:mod:`fer_core.data.faces`) when it is installed,
else centre-cropped; the release's 5 manual landmarks are not read.

:class:`RAFDBFolders` reads the copy most readers hold (``LAYOUT_FOLDERS``): the aligned
faces sorted into ``train/<label>/`` and ``test/<label>/`` folders named by RAF-DB's codes
1-7, with ``train_labels.csv`` and ``test_labels.csv`` (columns ``image,label``) beside them.
The label files are the labels; an image's folder must agree with its line.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import pandas as pd

from fer_core.data.base import EXPRESSIONS_7
from fer_core.data.classfolder import class_images
from fer_core.data.files import (
    CorruptImageError, FileDataset, LabelFileError, MissingFolderError, UnknownClassError,
    WrongRootError, find_root, list_images, read_text,
    subfolders,
)
from fer_core.data.protocols import Split, official_split

__all__ = ["RAFDB", "RAFDBFolders", "LAYOUT", "LAYOUT_FOLDERS", "RAF_CODES", "parse_partition_labels",
           "parse_folder_labels"]

LAYOUT = """\
data_root/                                    the release's "basic" folder
  EmoLabel/list_patition_label.txt            one line per image: "train_00001.jpg 5" (label 1-7;
                                              the publisher spells it "patition")
  Image/aligned/train_00001_aligned.jpg ...   100x100 RGB aligned faces (aligned=True, the default)
  Image/original/train_00001.jpg ...          the original photos (aligned=False)
  Annotation/ ...                             landmarks and attributes (not used)
"""

LAYOUT_FOLDERS = """\
data_root/                                  the widely shared copy (e.g. Kaggle's "RAF-DB dataset")
  train_labels.csv  test_labels.csv         header "image,label"; rows "train_00001_aligned.jpg,5" (label 1-7)
  DATASET/train/1/ ... 7/                   one folder per label (or train/ and test/ in data_root itself)
    train_00001_aligned.jpg ...             100x100 RGB aligned faces, each in the folder of its label
  DATASET/test/1/ ... 7/
    test_0001_aligned.jpg ...
"""

# Publisher code -> the book's class name (EXPRESSIONS_7 order differs).
RAF_CODES: dict[int, str] = {1: "surprise", 2: "fear", 3: "disgust", 4: "happiness", 5: "sadness", 6: "anger",
                             7: "neutral"}
LABEL_FILE = "EmoLabel/list_patition_label.txt"
_NAME_RE = re.compile(r"^(train|test)_(\d+)\.jpg$")
_FIX = "Re-extract EmoLabel/ from the RAF-DB basic archive."


def parse_partition_labels(path) -> pd.DataFrame:
    """Rows ``name, split, raf_code, expression`` of ``list_patition_label.txt``.

    Raises:
        LabelFileError: the file is missing, a line is not ``<train|test>_<n>.jpg <code>``,
            or an image is listed twice.
        UnknownClassError: a code outside 1-7.
    """
    text = read_text(path, dataset="RAF-DB", what="label file", fix=_FIX)
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not _NAME_RE.match(parts[0]):
            raise LabelFileError(f"RAF-DB: {path} line {n} is {line.strip()[:60]!r}; expected "
                                 f"'<train|test>_<number>.jpg <label 1-7>'. {_FIX}")
        try:
            code = int(parts[1])
        except ValueError:
            raise LabelFileError(
                f"RAF-DB: {path} line {n} has label {parts[1]!r}, not an integer 1-7. {_FIX}") from None
        if code not in RAF_CODES:
            raise UnknownClassError(
                f"RAF-DB: {path} line {n} has label {code}; the basic set's labels are 1-7 "
                f"({', '.join(f'{k} {v}' for k, v in RAF_CODES.items())}). Is this the compound set's label file? "
                "Point data_root at the basic/ folder.")
        rows.append({"name": parts[0], "split": _NAME_RE.match(parts[0]).group(1), "raf_code": code,
                     "expression": EXPRESSIONS_7.index(RAF_CODES[code])})
    meta = pd.DataFrame(rows, columns=["name", "split", "raf_code", "expression"])
    dup = meta["name"].duplicated()
    if dup.any():
        raise LabelFileError(f"RAF-DB: {path} lists {meta.loc[dup, 'name'].iloc[0]} more than once. {_FIX}")
    return meta


class RAFDB(FileDataset):
    """RAF-DB basic in the publisher's layout (see ``LAYOUT``).

    Args:
        root: the ``basic`` folder (holding ``EmoLabel/`` and ``Image/``).
        aligned: read ``Image/aligned/<stem>_aligned.jpg`` (default) or ``Image/original/<stem>.jpg``.
        **kwargs: as :class:`fer_core.data.files.FileDataset`. With ``skip_bad=True`` images
            listed in the label file but absent are left out too (``dataset.skipped``).

    ``meta`` columns: path, subject (the file stem), expression (``EXPRESSIONS_7`` index),
    split (``train``/``test``), raf_code (the publisher's 1-7). Images on disk without a
    label line are not used; they are listed in ``dataset.unlabeled`` (with a warning).
    """

    name = "rafdb"
    warn_name = "RAF-DB"
    title = "RAF-DB (basic)"
    LAYOUT = LAYOUT
    classes = EXPRESSIONS_7
    subjects_known = False
    subjects_hint = "RAF-DB publishes no identities."

    @property
    def detect_faces(self) -> bool:  # the original photos are uncropped; the aligned faces are ready
        return not self.aligned

    def __init__(self, root, *, aligned: bool = True, **kwargs):
        self.aligned = bool(aligned)
        self.unlabeled: list[str] = []
        super().__init__(root, **kwargs)

    def cache_options(self):
        return {"aligned": self.aligned}

    def scan(self) -> pd.DataFrame:
        sub = "aligned" if self.aligned else "original"

        def missing(p):
            if (p / "EmoLabel").is_dir() and not (p / "Image").is_dir():
                return f"{p / 'Image'} is missing next to EmoLabel/: extract Image/ from the RAF-DB basic archive."
            if (p / "Image").is_dir() and not (p / "EmoLabel").is_dir():
                return f"{p / LABEL_FILE} is missing (no EmoLabel/ next to Image/). {_FIX}"
            return None

        root = find_root(self.root, dataset="RAF-DB",
                         marker=lambda p: (p / "EmoLabel").is_dir() and (p / "Image").is_dir(),
                         expected="EmoLabel/ and Image/ (the basic folder of the release)", missing=missing)
        self.root = root
        folder = root / "Image" / sub
        if not folder.is_dir():
            other = "original" if self.aligned else "aligned"
            hint = (f" Found Image/{other}/: pass aligned={not self.aligned}."
                    if (root / "Image" / other).is_dir() else "")
            raise MissingFolderError(f"RAF-DB: {folder} does not exist. Extract Image/{sub} from the archive.{hint}")
        labels = parse_partition_labels(root / LABEL_FILE)
        stems = labels["name"].str.slice(0, -4)
        files = stems + "_aligned.jpg" if self.aligned else labels["name"]
        labels["path"] = f"Image/{sub}/" + files
        labels["subject"] = stems
        on_disk = {p.name for p in list_images(folder)}
        absent = ~files.isin(on_disk)
        if absent.any():
            first = folder / files[absent].iloc[0]
            if not self.skip_bad:
                raise CorruptImageError(
                    f"RAF-DB: {int(absent.sum())} image(s) listed in {root / LABEL_FILE} are missing from {folder}, "
                    f"e.g. {first}. Re-extract Image/{sub}/, or pass skip_bad=True to leave them out.")
            self._scan_skipped = [(p, "listed in the label file but missing") for p in labels.loc[absent, "path"]]
            labels = labels[~absent]
        self.unlabeled = sorted(on_disk - set(files))
        if self.unlabeled:
            warnings.warn(f"RAF-DB: {len(self.unlabeled)} image(s) in {folder} have no line in {LABEL_FILE} and are "
                          f"not used, e.g. {self.unlabeled[0]}; see dataset.unlabeled.", stacklevel=3)
        return labels[["path", "subject", "expression", "split", "raf_code"]].reset_index(drop=True)

    def official_split(self) -> Split:
        """The publisher's train/test partition (12,271 / 3,068 images in the full release)."""
        return official_split(self.meta, name="RAF-DB official train/test")


# --------------------------------------------------------------------------- the class-folder redistribution

_FOLDERS_FIX = ("The shared copy of RAF-DB ships train_labels.csv and test_labels.csv (columns image,label) next to "
                "the train/ and test/ folders, or next to DATASET/ when those lie inside it; restore them from the "
                "archive you downloaded.")
_SPLITS = ("train", "test")


def _folders_base(p: Path) -> Path | None:
    """``p`` or ``p/DATASET`` when it holds ``train/`` or ``test/`` with label folders 1-7, else None."""
    for base in (p, p / "DATASET"):
        for split in _SPLITS:
            names = {c.name for c in subfolders(base / split)}
            if names and names & {str(k) for k in RAF_CODES}:
                return base
    return None


def parse_folder_labels(path: Path) -> pd.DataFrame:
    """Rows ``image, raf_code, expression, line`` of a ``train_labels.csv`` / ``test_labels.csv``.

    Raises:
        LabelFileError: the file is missing or empty, lacks the columns image and label, a label
            is not an integer, or an image is listed twice.
        UnknownClassError: a label outside 1-7.
    """
    text = read_text(path, dataset="RAF-DB (folders)", what="label file", fix=_FOLDERS_FIX)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise LabelFileError(f"RAF-DB (folders): label file {path} is empty. {_FOLDERS_FIX}") from None
    if "image" not in header or "label" not in header:
        raise LabelFileError(f"RAF-DB (folders): label file {path} has the columns {header}; expected image,label "
                             f"(e.g. 'train_00001_aligned.jpg,5'). {_FOLDERS_FIX}")
    ii, il = header.index("image"), header.index("label")
    rows = []
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) <= max(ii, il):
            raise LabelFileError(f"RAF-DB (folders): {path} line {line} has {len(row)} field(s), expected "
                                 f"{len(header)} ({', '.join(header)}). {_FOLDERS_FIX}")
        image, raw = row[ii].strip(), row[il].strip()
        try:
            code = int(raw)
        except ValueError:
            raise LabelFileError(f"RAF-DB (folders): {path} line {line} has label {raw!r}, not an integer 1-7. "
                                 f"{_FOLDERS_FIX}") from None
        if code not in RAF_CODES:
            raise UnknownClassError(
                f"RAF-DB (folders): {path} line {line} labels {image} {code}; RAF-DB's labels are 1-7 "
                f"({', '.join(f'{k} {v}' for k, v in RAF_CODES.items())}). Correct the line (a copy relabelled "
                "0-6 or by name is not this layout: sort such images into class folders and use 'classfolder').")
        rows.append({"image": image, "raf_code": code, "expression": EXPRESSIONS_7.index(RAF_CODES[code]),
                     "line": line})
    meta = pd.DataFrame(rows, columns=["image", "raf_code", "expression", "line"])
    dup = meta["image"].duplicated()
    if dup.any():
        raise LabelFileError(f"RAF-DB (folders): {path} lists {meta.loc[dup, 'image'].iloc[0]} more than once; "
                             "remove the duplicate line.")
    return meta


class RAFDBFolders(FileDataset):
    """RAF-DB basic as widely redistributed: label folders 1-7 plus two label CSVs (``LAYOUT_FOLDERS``).

    Args:
        root: the folder holding ``train_labels.csv`` and ``test_labels.csv``.
        **kwargs: as :class:`fer_core.data.files.FileDataset`. With ``skip_bad=True`` images
            listed in a label file but absent (or found under another label's folder) are left
            out (``dataset.skipped``).

    ``meta`` columns: path, subject (the file stem without ``_aligned``, as in :class:`RAFDB`),
    expression (``EXPRESSIONS_7`` index), split (train/test), raf_code. Images in the folders
    without a label line are not used; they are listed in ``dataset.unlabeled`` (with a warning).
    """

    name = "rafdb_folders"
    warn_name = "RAF-DB (folders)"
    title = "RAF-DB (basic, class folders)"
    LAYOUT = LAYOUT_FOLDERS
    classes = EXPRESSIONS_7
    subjects_known = False
    subjects_hint = "RAF-DB publishes no identities."

    def __init__(self, root, **kwargs):
        self.unlabeled: list[str] = []
        super().__init__(root, **kwargs)

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="RAF-DB (folders)", marker=lambda p: _folders_base(p) is not None,
                         expected="train_labels.csv, test_labels.csv and the train/ and test/ folders of labels 1-7 "
                                  "(or DATASET/ holding them)")
        base = _folders_base(root)
        if root.name == "DATASET" and not any((root / f"{s}_labels.csv").is_file() for s in _SPLITS) \
                and any((root.parent / f"{s}_labels.csv").is_file() for s in _SPLITS):
            raise WrongRootError(f"RAF-DB (folders): data_root {root} is 1 level too low: the label files are in its "
                                 f"parent; set data_root={str(root.parent)!r}.")
        self.root = root
        rows = []
        for split in _SPLITS:
            folder = base / split
            if not folder.is_dir():
                raise MissingFolderError(f"RAF-DB (folders): {folder} does not exist (the {split} images); restore "
                                         f"it from the archive you downloaded.")
            labels = parse_folder_labels(root / f"{split}_labels.csv")
            on_disk: dict[str, list[str]] = {}
            for sub in subfolders(folder):
                if sub.name not in {str(k) for k in RAF_CODES}:
                    raise UnknownClassError(
                        f"RAF-DB (folders): {sub} is not a label folder; the folders of {folder} must be named 1-7 "
                        f"({', '.join(f'{k} {v}' for k, v in RAF_CODES.items())}). Move or remove it.")
                images, _ = class_images(sub, dataset="RAF-DB (folders)", recursive=False)
                for f in images:
                    on_disk.setdefault(f.name, []).append(sub.name)
            listed = set()
            for r in labels.itertuples():
                listed.add(r.image)
                where = on_disk.get(r.image, [])
                if str(r.raf_code) in where:
                    stem = r.image.rsplit(".", 1)[0]
                    rows.append({"path": (folder / str(r.raf_code) / r.image).relative_to(root).as_posix(),
                                 "subject": stem[: -len("_aligned")] if stem.endswith("_aligned") else stem,
                                 "expression": r.expression, "split": split, "raf_code": r.raf_code})
                    continue
                path = folder / str(r.raf_code) / r.image
                why = (f"listed in {root / f'{split}_labels.csv'} line {r.line} with label {r.raf_code} but found in "
                       f"{split}/{', '.join(where)}/ instead" if where else
                       f"listed in {root / f'{split}_labels.csv'} line {r.line} but missing")
                if not self.skip_bad:
                    raise CorruptImageError(
                        f"RAF-DB (folders): image {path} is {why}. Restore the image into its label's folder (or "
                        "correct the label line), or pass skip_bad=True to leave such images out.")
                self._scan_skipped.append((path.relative_to(root).as_posix(), why))
            extra = sorted(f"{split}/{k}/{name}" for name, ks in on_disk.items() if name not in listed for k in ks)
            self.unlabeled.extend(extra)
        if self.unlabeled:
            warnings.warn(f"RAF-DB (folders): {len(self.unlabeled)} image(s) have no line in the label files and are "
                          f"not used, e.g. {self.unlabeled[0]}; see dataset.unlabeled.", stacklevel=3)
        return pd.DataFrame(rows, columns=["path", "subject", "expression", "split", "raf_code"])

    def official_split(self) -> Split:
        """The publisher's train/test partition, as the two label files give it."""
        return official_split(self.meta, name="RAF-DB official train/test")
