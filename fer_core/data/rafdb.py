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
faces are used as they are). With ``aligned=False`` the original photos are
centre-cropped, not aligned with the release's 5 manual landmarks.
"""

from __future__ import annotations

import re
import warnings

import pandas as pd

from fer_core.data.base import EXPRESSIONS_7
from fer_core.data.files import (
    BadImagesSkipped, CorruptImageError, FileDataset, LabelFileError, MissingFolderError, UnknownClassError,
    find_root, list_images, read_text,
)
from fer_core.data.protocols import Split, official_split

__all__ = ["RAFDB", "LAYOUT", "RAF_CODES", "parse_partition_labels"]

LAYOUT = """\
data_root/                                    the release's "basic" folder
  EmoLabel/list_patition_label.txt            one line per image: "train_00001.jpg 5" (label 1-7;
                                              the publisher spells it "patition")
  Image/aligned/train_00001_aligned.jpg ...   100x100 RGB aligned faces (aligned=True, the default)
  Image/original/train_00001.jpg ...          the original photos (aligned=False)
  Annotation/ ...                             landmarks and attributes (not used)
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
    LAYOUT = LAYOUT
    classes = EXPRESSIONS_7

    def __init__(self, root, *, aligned: bool = True, **kwargs):
        self.aligned = bool(aligned)
        self.unlabeled: list[str] = []
        self._scan_skipped: list[tuple[str, str]] = []
        super().__init__(root, **kwargs)
        if self._scan_skipped:
            self.skipped = self._scan_skipped + self.skipped
            _warn_skipped("RAF-DB", self._scan_skipped)

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


def _warn_skipped(dataset: str, skipped: list[tuple[str, str]]) -> None:
    warnings.warn(f"{dataset}: skipped {len(skipped)} bad file(s) (skip_bad=True), e.g. {skipped[0][0]} "
                  f"({skipped[0][1]}); the full list is in dataset.skipped.", BadImagesSkipped, stacklevel=3)
