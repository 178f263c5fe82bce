"""LSEMSW: large-scale subtle emotions in movie stills, 13 classes, in the wild.

About 175k face crops (cropped by MTCNN) from more than 200 movies and TV serials,
labelled with thirteen subtle expressions and divided into training (80%), validation
(10%) and test (10%) sets. GroupGAN uses it without weak/peak pairs: a CNN trained on
the training set picks the images it predicts easily as "peak" images.

The papers do not describe the release's files, so this adapter reads the following,
documented layout: an image folder and one list file per split, each line
``<path relative to images/> <label>`` with labels 0-12 in the order of
``LSEMSW_CLASSES`` (or of ``classes.txt`` when the folder has one, one name per line).
Identities are not annotated: ``subject`` is the first folder of each image path (the
movie or serial) when the paths have folders, else ``"unknown"``.
"""

from __future__ import annotations

import pandas as pd

from fer_core.data.files import (
    FileDataset, LabelFileError, UnknownClassError, find_root, has_all, read_text,
)

__all__ = ["LSEMSW", "LAYOUT", "LSEMSW_CLASSES"]

LAYOUT = """\
data_root/
  images/<movie>/<name>.jpg ...    MTCNN face crops
  train.txt  val.txt  test.txt     lines "<path relative to images/> <label 0-12>"
  classes.txt                      optional: the 13 class names, one per line, in label order
"""

LSEMSW_CLASSES: tuple[str, ...] = (
    "happy", "anxious", "sad", "scared", "angry", "hesitant", "indifferent", "surprised", "arrogant", "thinking",
    "helpless", "suspicious", "questioning",
)
SPLITS = ("train", "val", "test")


class LSEMSW(FileDataset):
    """LSEMSW from its image folder and split lists (see ``LAYOUT``).

    Args:
        root: the folder holding ``images/`` and the list files.
        label_base: 0 when labels run 0-12 (default), 1 when they run 1-13.
        **kwargs: as :class:`fer_core.data.files.FileDataset`.

    ``meta`` columns: path, subject, split, expression.
    """

    name = "lsemsw"
    LAYOUT = LAYOUT

    def __init__(self, root, *, label_base: int = 0, **kwargs):
        if label_base not in (0, 1):
            raise ValueError(f"label_base must be 0 or 1, got {label_base!r}")
        self.label_base = label_base
        self.classes = LSEMSW_CLASSES
        super().__init__(root, **kwargs)

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="LSEMSW", marker=has_all("images", "train.txt"),
                         expected="images/ and train.txt, val.txt, test.txt",
                         missing=lambda p: (f"{p / 'train.txt'} is missing next to images/: put the split lists "
                                            "train.txt, val.txt, test.txt there.") if (p / "images").is_dir() else
                                           (f"{p / 'images'} is missing next to train.txt: extract the face crops "
                                            "into images/.") if (p / "train.txt").is_file() else None)
        self.root = root
        names_file = root / "classes.txt"
        if names_file.exists():
            names = tuple(ln.strip() for ln in read_text(names_file, dataset="LSEMSW", what="class list",
                                                         fix="Fix or delete classes.txt.").splitlines() if ln.strip())
            if len(names) != 13:
                raise LabelFileError(f"LSEMSW: {names_file} lists {len(names)} class names; LSEMSW has 13. "
                                     "Fix or delete classes.txt.")
            self.classes = names
        rows = []
        for split in SPLITS:
            path = root / f"{split}.txt"
            text = read_text(path, dataset="LSEMSW", what=f"{split} list", fix=f"Put {split}.txt next to images/.")
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2:
                    raise LabelFileError(f"LSEMSW: {path} line {n} is {line.strip()!r}; expected '<image path> <label>'.")
                rel, raw = parts[0].strip(), parts[1]
                try:
                    label = int(raw) - self.label_base
                except ValueError:
                    raise LabelFileError(f"LSEMSW: {path} line {n} has label {raw!r}, not an integer.") from None
                if not 0 <= label < len(self.classes):
                    lo = self.label_base
                    raise UnknownClassError(f"LSEMSW: {path} line {n} has label {raw}; labels run {lo}-{lo + 12}"
                                            f"{' (pass label_base=1 for 1-13)' if int(raw) == 13 else ''}.")
                # A listed but absent image surfaces as CorruptImageError when it is read (skip_bad applies).
                f = root / "images" / rel
                parts_rel = rel.replace("\\", "/").split("/")
                rows.append({"path": f.relative_to(root).as_posix(),
                             "subject": parts_rel[0] if len(parts_rel) > 1 else "unknown",
                             "split": split, "expression": label})
        meta = pd.DataFrame(rows, columns=["path", "subject", "split", "expression"])
        dup = meta["path"].duplicated()
        if dup.any():
            raise LabelFileError(f"LSEMSW: {int(dup.sum())} image(s) appear in more than one list line, e.g. "
                                 f"{meta.loc[dup, 'path'].iloc[0]}; each image belongs to one split.")
        return meta
