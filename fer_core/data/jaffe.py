"""JAFFE, the Japanese Female Facial Expression database: 213 posed images of 10 women.

One flat folder of 256x256 8-bit TIFFs (some stored with a grey palette, some as plain
grayscale; both decode to the same grey image). The file name is the label:
``KA.AN1.39.tiff`` = subject ``KA``, expression ``AN`` (anger), the subject's first
anger image, image number 39 of the database. Codes: AN anger, DI disgust, FE fear,
HA happiness, NE neutral, SA sadness, SU surprise (``JAFFE_CODES``); subjects KA, KL,
KM, KR, MK, NA, NM, TM, UY, YM.

The split of Comp-GAN and FaPE-GAN follows the deep-emotion paper: 120 train,
23 validation, 70 test images, the test set holding one image per subject and
expression (7 x 10). That paper publishes no file list, so ``meta.split`` is built by
this deterministic rule (the same on every machine, no random generator involved):

1. test: for every (subject, expression), the image with the lowest sample index
   (``AN1`` before ``AN2``; ties by image number);
2. validation: of the remaining images, ``round(23/143 * remaining)`` (23 of 143 in the
   full set), taken round-robin over the seven expressions in ``EXPRESSIONS_7`` order,
   each expression contributing its images in the order of the SHA-1 of their file names;
3. train: the rest.

Deviation from the papers: the 120/23/70 sizes are theirs; which images fall in which
part is our rule (their lists are unpublished).
"""

from __future__ import annotations

import hashlib
import re

import pandas as pd

from fer_core.data.base import EXPRESSIONS_7
from fer_core.data.files import (
    FileDataset, LabelFileError, UnknownClassError, find_root, list_images,
)
from fer_core.data.protocols import Split, official_split

__all__ = ["JAFFE", "LAYOUT", "JAFFE_CODES", "parse_jaffe_name", "deep_emotion_split"]

LAYOUT = """\
data_root/                 the extracted folder (jaffe/ or jaffedbase/), flat
  KA.AN1.39.tiff           <subject>.<expression code><sample>.<image number>.tiff, 256x256 8-bit grey
  KA.AN2.40.tiff           (grayscale or grey-palette TIFF)
  ...
  README_FIRST.txt         (not used)
"""

JAFFE_CODES: dict[str, str] = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral",
                               "SA": "sadness", "SU": "surprise"}
_NAME_RE = re.compile(r"^([A-Za-z]{2})\.([A-Za-z]{2})(\d+)\.(\d+)\.tiff?$", re.IGNORECASE)
_LOOSE_RE = re.compile(r"^[A-Za-z]{2}\.[A-Za-z]{2}\d*\.\d+\.tiff?$", re.IGNORECASE)
VAL_SHARE = (23, 143)


def parse_jaffe_name(name: str) -> dict:
    """``"KA.AN1.39.tiff"`` -> ``{"subject": "KA", "code": "AN", "sample": 1, "number": 39, "expression": 1}``.

    Raises:
        LabelFileError: the name does not follow ``<XX>.<YY><k>.<n>.tiff``.
        UnknownClassError: the expression code is not one of ``JAFFE_CODES``.
    """
    m = _NAME_RE.match(name)
    if not m:
        raise LabelFileError(f"JAFFE: file name {name!r} does not follow '<subject>.<expression code><sample>."
                             "<number>.tiff' (e.g. KA.AN1.39.tiff); the label is in the name. Rename the file.")
    subject, code, sample, number = m.group(1).upper(), m.group(2).upper(), int(m.group(3)), int(m.group(4))
    if code not in JAFFE_CODES:
        raise UnknownClassError(f"JAFFE: file {name!r} has expression code {code!r}; JAFFE's codes are "
                                f"{', '.join(f'{k} {v}' for k, v in JAFFE_CODES.items())}. Rename the file.")
    return {"subject": subject, "code": code, "sample": sample, "number": number,
            "expression": EXPRESSIONS_7.index(JAFFE_CODES[code])}


def deep_emotion_split(meta: pd.DataFrame) -> pd.Series:
    """The 120/23/70 train/val/test assignment of the module docstring, one value per row.

    ``meta`` needs ``path``, ``subject``, ``expression``, ``sample`` and ``number``.
    """
    split = pd.Series("train", index=meta.index, dtype=object)
    order = meta.sort_values(["subject", "expression", "sample", "number"])
    test_idx = order.groupby(["subject", "expression"], sort=False).head(1).index
    split[test_idx] = "test"
    rest = meta.loc[split == "train"].copy()
    n_val = int(round(len(rest) * VAL_SHARE[0] / VAL_SHARE[1]))
    rest["_h"] = [hashlib.sha1(str(p).rsplit("/", 1)[-1].encode()).hexdigest() for p in rest["path"]]
    rest["_rank"] = rest.sort_values("_h").groupby("expression").cumcount()
    val_idx = rest.sort_values(["_rank", "expression"]).index[:n_val]
    split[val_idx] = "val"
    return split


class JAFFE(FileDataset):
    """JAFFE from its flat folder of TIFFs (see ``LAYOUT``).

    Args:
        root: the folder holding the ``.tiff`` files.
        **kwargs: as :class:`fer_core.data.files.FileDataset`. With ``skip_bad=True``,
            TIFFs whose names do not parse (or carry an unknown code) are left out and
            listed in ``dataset.skipped``, like unreadable images.

    ``meta`` columns: path, subject, expression (``EXPRESSIONS_7`` index), split
    (train/val/test, the rule above), code, sample, number.
    """

    name = "jaffe"
    warn_name = "JAFFE"
    scan_skips = "file(s) whose names do not parse"
    LAYOUT = LAYOUT
    detect_faces = True  # uncropped photos without landmarks (fer_core.data.faces aligns them)
    classes = EXPRESSIONS_7

    def _setup(self, meta: pd.DataFrame) -> None:
        super()._setup(meta)
        if self.skipped:  # the rule applies to the usable images: a skipped test image is replaced
            self.meta["split"] = deep_emotion_split(self.meta).to_numpy()

    def scan(self) -> pd.DataFrame:
        def marker(p):
            return p.is_dir() and any(_LOOSE_RE.match(f.name) for f in list_images(p, extensions=(".tiff", ".tif")))

        root = find_root(self.root, dataset="JAFFE", marker=marker,
                         expected="the JAFFE .tiff files (KA.AN1.39.tiff, ...)")
        self.root = root
        rows = []
        for f in list_images(root, extensions=(".tiff", ".tif")):
            try:
                info = parse_jaffe_name(f.name)
            except (LabelFileError, UnknownClassError) as exc:
                if not self.skip_bad:
                    raise type(exc)(f"{exc} ({f}; or pass skip_bad=True to leave such files out)") from None
                self._scan_skipped.append((f.name, str(exc)))
                continue
            rows.append({"path": f.name, **info})
        meta = pd.DataFrame(rows, columns=["path", "subject", "code", "sample", "number", "expression"])
        dup = meta.duplicated(["subject", "code", "sample"], keep=False)
        if dup.any():
            raise LabelFileError(f"JAFFE: {root} holds two files for the same subject/expression/sample, e.g. "
                                 f"{sorted(meta.loc[dup, 'path'])[:2]}; remove the duplicate.")
        if len(meta):
            meta["split"] = deep_emotion_split(meta)
        else:
            meta["split"] = pd.Series(dtype=object)
        return meta[["path", "subject", "expression", "split", "code", "sample", "number"]]

    def official_split(self) -> Split:
        """The deep-emotion 120/23/70 split (rule in the module docstring)."""
        return official_split(self.meta, name="JAFFE 120/23/70 (deep-emotion)")
