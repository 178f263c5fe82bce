"""FER2013, the ICML 2013 challenge faces: 35,887 grey 48x48 images in one CSV file.

Every row of ``fer2013.csv`` is ``emotion,pixels,Usage``: a code 0-6 (0 anger, 1 disgust,
2 fear, 3 happiness, 4 sadness, 5 surprise, 6 neutral; ``FER_CODES``), 2,304
space-separated grey values (row-major 48x48), and the split: ``Training`` (28,709),
``PublicTest`` (3,589) and ``PrivateTest`` (3,589). Comp-GAN and FaPE-GAN train on
Training, validate on PublicTest and test on PrivateTest, so ``meta.split`` reads
``train`` / ``val`` / ``test`` and :meth:`FER2013.official_split` returns exactly that.
The faces are in the wild without identities: every row is its own ``subject``.

Where ``torchvision.datasets.FER2013`` fits: this adapter accepts its folder layout
(``root/fer2013/fer2013.csv``, or ``icml_face_data.csv`` whose header is
``emotion, Usage, pixels`` with spaces) besides the folder holding the CSV itself.
It does not call torchvision's class: that class checks the file's MD5 (so it rejects
any edited copy and every test fixture) and merges PublicTest and PrivateTest into
one "test" split, which the papers keep apart.

:class:`FER2013Folders` reads the image-folder copy most readers download instead
(``LAYOUT_FOLDERS``): the 48x48 grey faces as image files in ``train/<emotion>/`` and
``test/<emotion>/`` (``val/`` where a copy has it), the emotion as a folder name (``angry``,
``happy``, ...). Such copies usually merge PublicTest and PrivateTest into ``test/``, so the
papers' validation/test distinction is lost unless the copy keeps a ``val/`` folder.
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from fer_core.data.base import EXPRESSIONS_7
from fer_core.data.classfolder import SPLIT_NAMES, class_images
from fer_core.data.files import (
    CorruptImageError, FileDataset, LabelFileError, UnknownClassError, WrongRootError,
    canonical_class, find_root, read_text,
    subfolders,
    folder_class,
)
from fer_core.data.protocols import Split, official_split

__all__ = ["FER2013", "FER2013Folders", "LAYOUT", "LAYOUT_FOLDERS", "FER_CODES", "USAGE", "read_fer2013_csv"]

LAYOUT = """\
data_root/                     the extracted fer2013/ folder (or its parent, torchvision's root)
  fer2013.csv                  header "emotion,pixels,Usage"; rows "0,70 80 82 ... (2304 values),Training"
                               Usage: Training / PublicTest / PrivateTest
  (or icml_face_data.csv       header "emotion, Usage, pixels", the same rows in another column order)
"""

LAYOUT_FOLDERS = """\
data_root/                                   the image-folder copy (e.g. Kaggle's "FER-2013")
  train/angry/ disgust/ fear/ happy/ neutral/ sad/ surprise/    one folder per emotion
    Training_10118481.jpg ...                48x48 grey faces (PNG or JPG)
  test/angry/ ... surprise/                  (PublicTest and PrivateTest together in most copies)
  val/ ...                                   optional
"""

FER_CODES: dict[int, str] = {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise",
                             6: "neutral"}
USAGE: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv")
SIDE = 48
_FIX = "Re-extract fer2013.csv from the Kaggle archive (fer2013.tar.gz)."


def _locate(root: Path) -> tuple[Path, Path]:
    """(folder, csv file): the CSV in ``root``, or in ``root/fer2013`` (torchvision's layout)."""
    for folder in (root, root / "fer2013"):
        for name in CSV_NAMES:
            if (folder / name).is_file():
                return folder, folder / name
    if (root / "train.csv").is_file() or (root / "fer2013" / "train.csv").is_file():
        where = root if (root / "train.csv").is_file() else root / "fer2013"
        raise LabelFileError(
            f"FER2013: {where} holds the Kaggle competition's train.csv/test.csv, whose test.csv has no labels. "
            "Download fer2013.csv (or icml_face_data.csv), which labels all three splits, into that folder.")
    folder = find_root(root, dataset="FER2013", marker=lambda p: any((p / n).is_file() for n in CSV_NAMES),
                       expected="fer2013.csv (or icml_face_data.csv)")
    return _locate(folder)  # pragma: no cover - find_root raises unless the marker holds


def read_fer2013_csv(path: str | Path, *,
                     skip_bad: bool = False) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, str]]]:
    """Parse ``fer2013.csv`` / ``icml_face_data.csv``.

    Returns:
        ``(meta, pixels, skipped)``: ``meta`` rows ``line, fer_code, expression, usage, split``;
        ``pixels`` ``(N, 48, 48)`` uint8; ``skipped`` the ``(where, why)`` of malformed pixel
        rows left out (only with ``skip_bad=True``).

    Raises:
        LabelFileError: missing file, wrong header, a row with the wrong number of fields,
            a non-integer emotion, an unknown Usage.
        UnknownClassError: an emotion code outside 0-6.
        CorruptImageError: a pixel string that is not 2,304 values in 0-255 (unless ``skip_bad``).
    """
    path = Path(path)
    text = read_text(path, dataset="FER2013", what="CSV file", fix=_FIX)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise LabelFileError(f"FER2013: {path} is empty. {_FIX}") from None
    need = ("emotion", "pixels", "Usage")
    if any(h not in header for h in need):
        raise LabelFileError(f"FER2013: {path} has header {header}; expected the columns emotion, pixels, Usage. "
                             f"{_FIX}")
    ie, ip, iu = (header.index(h) for h in need)
    rows, images, skipped = [], [], []
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{path.name} line {line}"
        if len(row) != len(header):
            raise LabelFileError(f"FER2013: {path} line {line} has {len(row)} fields, expected {len(header)} "
                                 f"({', '.join(header)}); the file is truncated or edited. {_FIX}")
        raw_e, raw_u = row[ie].strip(), row[iu].strip()
        try:
            code = int(raw_e)
        except ValueError:
            raise LabelFileError(
                f"FER2013: {path} line {line} has emotion {raw_e!r}, not an integer 0-6. {_FIX}") from None
        if code not in FER_CODES:
            raise UnknownClassError(f"FER2013: {path} line {line} has emotion {code}; FER2013 codes are 0-6 "
                                    f"({', '.join(f'{k} {v}' for k, v in FER_CODES.items())}).")
        if raw_u not in USAGE:
            raise LabelFileError(f"FER2013: {path} line {line} has Usage {raw_u!r}; expected one of {list(USAGE)}. "
                                 f"{_FIX}")
        try:
            values = np.array(row[ip].split(), dtype=np.int64)
            if values.size != SIDE * SIDE or values.min() < 0 or values.max() > 255:
                raise ValueError(f"{values.size} values in {values.min()}..{values.max()}")
        except ValueError as exc:
            reason = f"pixels are not {SIDE * SIDE} integers in 0-255 ({exc})"
            if skip_bad:
                skipped.append((where, reason))
                continue
            raise CorruptImageError(f"FER2013: {path} line {line}: {reason}. {_FIX} Or pass skip_bad=True to leave "
                                    "malformed rows out (their count is reported).") from None
        images.append(values.astype(np.uint8).reshape(SIDE, SIDE))
        rows.append({"line": line, "fer_code": code, "expression": EXPRESSIONS_7.index(FER_CODES[code]),
                     "usage": raw_u, "split": USAGE[raw_u]})
    meta = pd.DataFrame(rows, columns=["line", "fer_code", "expression", "usage", "split"])
    pixels = np.stack(images) if images else np.zeros((0, SIDE, SIDE), dtype=np.uint8)
    return meta, pixels, skipped


class FER2013(FileDataset):
    """FER2013 from ``fer2013.csv`` (see ``LAYOUT``).

    Args:
        root: the folder holding ``fer2013.csv`` (or ``icml_face_data.csv``), or its parent
            as for ``torchvision.datasets.FER2013``.
        **kwargs: as :class:`fer_core.data.files.FileDataset` (the faces are already
            cropped: ``align`` has no effect). ``skip_bad=True`` leaves malformed pixel
            rows out (``dataset.skipped``).

    ``meta`` columns: path (``fer2013.csv#<line>``), subject (``row<line>``), expression
    (``EXPRESSIONS_7`` index), split (train/val/test), usage (the publisher's), fer_code.
    """

    name = "fer2013"
    warn_name = "FER2013"
    scan_skips = "malformed row(s)"
    title = "FER2013"
    LAYOUT = LAYOUT
    classes = EXPRESSIONS_7
    subjects_known = False
    subjects_hint = "FER2013 publishes no identities."

    def __init__(self, root, **kwargs):
        super().__init__(root, **kwargs)
        if self._cache is not None:
            self._pixels = None  # the cache holds the prepared images; free the raw array

    def scan(self) -> pd.DataFrame:
        if not self.root.exists():
            find_root(self.root, dataset="FER2013", marker=lambda p: False, expected="fer2013.csv")
        if self.root.is_file():
            raise WrongRootError(f"FER2013: data_root {self.root} is a file; set data_root={str(self.root.parent)!r}, "
                                 "the folder that holds it.")
        folder, csv_path = _locate(self.root)
        self.root = folder
        meta, self._pixels, self._scan_skipped = read_fer2013_csv(csv_path, skip_bad=self.skip_bad)
        meta.insert(0, "path", [f"{csv_path.name}#{ln}" for ln in meta["line"]])
        meta.insert(1, "subject", [f"row{ln:05d}" for ln in meta["line"]])
        self._row_of = {p: i for i, p in enumerate(meta["path"])}
        return meta.drop(columns=["line"])

    def read(self, i: int):
        return self._pixels[self._row_of[str(self.meta.at[i, "path"])]], None

    def official_split(self) -> Split:
        """Training / PublicTest / PrivateTest as train / val / test (28,709 / 3,589 / 3,589)."""
        return official_split(self.meta, name="FER2013 Usage")


# --------------------------------------------------------------------------- the image-folder copy


def _split_dirs(p: Path) -> list[tuple[str, Path]]:
    return [(SPLIT_NAMES[c.name.lower()], c) for c in subfolders(p) if c.name.lower() in SPLIT_NAMES]


def _first_image_size(folder: Path) -> tuple[int, int] | None:
    from PIL import Image

    for f in sorted(folder.iterdir()):
        if f.is_file() and not f.name.startswith("."):
            try:
                with Image.open(f) as img:
                    return img.size
            except (OSError, ValueError):
                continue
    return None


def _folders_marker(p: Path) -> bool:
    """Split folders whose subfolders are >= 3 of FER2013's emotions, holding 48x48 images."""
    for _, split in _split_dirs(p):
        emotions = [c for c in subfolders(split) if canonical_class(c.name) in EXPRESSIONS_7]
        if len(emotions) >= 3:
            sizes = [_first_image_size(c) for c in emotions[:3]]
            return any(s == (SIDE, SIDE) for s in sizes)
    return False


class FER2013Folders(FileDataset):
    """FER2013 as image folders (``LAYOUT_FOLDERS``).

    Args:
        root: the folder holding ``train/`` and ``test/``.
        **kwargs: as :class:`fer_core.data.files.FileDataset` (the faces are already cropped:
            no face detection, ``align`` has no effect).

    ``meta`` columns: path, subject (the image's path without extension: no identities),
    expression (``EXPRESSIONS_7`` index), split (train/val/test), folder (the emotion folder's name).
    """

    name = "fer2013_folders"
    title = "FER2013 (image folders)"
    LAYOUT = LAYOUT_FOLDERS
    classes = EXPRESSIONS_7
    subjects_known = False
    subjects_hint = "FER2013 publishes no identities."

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="FER2013 (image folders)", marker=_folders_marker,
                         expected="train/ and test/, each holding the emotion folders angry/ ... surprise/ of 48x48 "
                                  "faces")
        self.root = root
        rows, ignored = [], []
        splits = _split_dirs(root)
        for split, folder in splits:
            seen = set()
            for sub in subfolders(folder):
                cls = folder_class(sub, EXPRESSIONS_7, what="FER2013 (image folders):",
                                   expected=f"FER2013's emotions ({', '.join(FER_CODES.values())}; spellings such as "
                                            "angry, happy, sad are understood)")
                images, others = class_images(sub, dataset="FER2013 (image folders)", recursive=False)
                ignored.extend(o.relative_to(root).as_posix() for o in others)
                seen.add(cls)
                for f in images:
                    rel = f.relative_to(root).as_posix()
                    rows.append({"path": rel, "subject": rel.rsplit(".", 1)[0], "expression": EXPRESSIONS_7.index(cls),
                                 "split": split, "folder": sub.name})
            missing = [c for c in EXPRESSIONS_7 if c not in seen]
            if missing:
                warnings.warn(f"FER2013 (image folders): {folder} has no folder for {', '.join(missing)}; FER2013 has "
                              "all seven emotions in every split: is the copy complete?", stacklevel=3)
        if ignored:
            warnings.warn(f"FER2013 (image folders): {len(ignored)} file(s) in the emotion folders are not images and "
                          f"are not used, e.g. {ignored[0]}.", stacklevel=3)
        if not any(s == "train" for s, _ in splits):
            warnings.warn(f"FER2013 (image folders): {root} has no train/ folder (found "
                          f"{', '.join(f.name for _, f in splits)}).", stacklevel=3)
        return pd.DataFrame(rows, columns=["path", "subject", "expression", "split", "folder"])

    def official_split(self) -> Split:
        """The copy's train/(val/)test folders."""
        return official_split(self.meta, name="FER2013 image folders")
