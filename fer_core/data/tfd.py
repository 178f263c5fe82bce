"""The Toronto Face Database (TFD), the MATLAB release with its five official folds.

TFD pools aligned grey faces from several databases: 4,178 images carry one of seven
expression labels (FESR uses those), about 100k more are unlabelled. The release is a
``.mat`` file per resolution with the fields

=========== ============ ==================================================================
images      (N, S, S)    uint8 grey faces (S = 48 or 96), already aligned and cropped
labs_ex     (N, 1)       expression 1 anger, 2 disgust, 3 fear, 4 happiness, 5 sadness,
                         6 surprise, 7 neutral; -1 unlabelled
labs_id     (N, 1)       identity (-1 or 0 where unknown)
folds       (N, 5)       per fold: 0 unused, 1 train, 2 valid, 3 test
=========== ============ ==================================================================

Only the labelled images are loaded (``n_unlabeled`` counts the others). Each fold
splits the labelled images 70/10/20 into train/valid/test; FESR reports the
mean test accuracy over the five folds (``TFD.folds()``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fer_core.data.files import EmptyDatasetError, FileDataset, LabelFileError, UnknownClassError, find_root
from fer_core.data.protocols import Split, official_split

__all__ = ["TFD", "LAYOUT", "TFD_CLASSES"]

LAYOUT = """\
data_root/
  TFD_48x48.mat    (and/or TFD_96x96.mat; also accepted: TFD_ranzato_48x48.mat)
                   fields images (N,S,S) uint8, labs_ex (N,1), labs_id (N,1), folds (N,5)
"""

TFD_CLASSES: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
_SPLIT_NAMES = {0: "", 1: "train", 2: "val", 3: "test"}


def _candidates(resolution: int) -> tuple[str, ...]:
    return (f"TFD_{resolution}x{resolution}.mat", f"TFD_ranzato_{resolution}x{resolution}.mat")


class TFD(FileDataset):
    """TFD from its ``.mat`` file (see ``LAYOUT``).

    Args:
        root: the folder holding the ``.mat`` file.
        resolution: 48 or 96 (which file to read).
        fold: 0..4, the official fold copied into ``meta.split`` (all five are in
            ``split_0`` .. ``split_4``; :meth:`folds` returns them as Splits).
        **kwargs: as :class:`fer_core.data.files.FileDataset` (``align`` has no effect:
            the faces are already aligned).

    ``meta`` columns: path (``TFD_48x48.mat#row``), subject, expression, split, split_0..split_4.
    """

    name = "tfd"
    LAYOUT = LAYOUT
    classes = TFD_CLASSES

    def __init__(self, root, *, resolution: int = 48, fold: int = 0, **kwargs):
        if resolution not in (48, 96):
            raise ValueError(f"resolution must be 48 or 96, got {resolution!r}")
        if fold not in range(5):
            raise ValueError(f"fold must be 0..4, got {fold!r}")
        self.resolution, self.fold = resolution, fold
        super().__init__(root, **kwargs)
        if self._cache is not None:
            self._images = None  # the cache holds the prepared images; free the raw array (~1 GB at 96 px)

    def cache_options(self):
        return {"resolution": self.resolution}

    def _load_mat(self, path: Path) -> dict:
        import scipy.io

        fix = "Re-download the file; it must be the MATLAB v5/v7 release of TFD."
        try:
            mat = scipy.io.loadmat(path)
        except NotImplementedError:
            raise LabelFileError(f"TFD: {path} is a MATLAB v7.3 (HDF5) file, which scipy cannot read. Re-save it in "
                                 "MATLAB with save(..., '-v7') or obtain the v7 release.") from None
        except Exception as exc:  # scipy raises ValueError/TypeError/OSError for torn files
            raise LabelFileError(f"TFD: {path} cannot be read as a .mat file ({type(exc).__name__}: {exc}). {fix}") from exc
        missing = [k for k in ("images", "labs_ex", "labs_id", "folds") if k not in mat]
        if missing:
            raise LabelFileError(f"TFD: {path} lacks the field(s) {missing} (has {sorted(k for k in mat if not k.startswith('__'))}). {fix}")
        images = np.asarray(mat["images"])
        s = self.resolution
        if images.ndim != 3:
            raise LabelFileError(f"TFD: {path} images has shape {images.shape}, expected (N, {s}, {s}). {fix}")
        if images.shape[1:] != (s, s) and images.shape[:2] == (s, s):
            images = np.moveaxis(images, 2, 0)  # saved in MATLAB's (S, S, N) order
        if images.shape[1:] != (s, s):
            raise LabelFileError(f"TFD: {path} images has shape {images.shape}, expected (N, {s}, {s}). {fix}")
        n = len(images)
        labs_ex = np.asarray(mat["labs_ex"]).reshape(-1).astype(np.int64)
        labs_id = np.asarray(mat["labs_id"]).reshape(-1).astype(np.int64)
        folds = np.asarray(mat["folds"]).astype(np.int64)
        if folds.shape == (5, n) and n != 5:
            folds = folds.T
        if len(labs_ex) != n or len(labs_id) != n or folds.shape != (n, 5):
            raise LabelFileError(f"TFD: {path} field sizes disagree: images {n}, labs_ex {len(labs_ex)}, labs_id "
                                 f"{len(labs_id)}, folds {folds.shape} (expected ({n}, 5)). {fix}")
        bad = sorted(set(labs_ex.tolist()) - {-1, 0, *range(1, 8)})
        if bad:
            raise UnknownClassError(f"TFD: {path} labs_ex holds codes {bad[:5]}; TFD codes are 1-7 (and -1 unlabelled).")
        badf = sorted(set(np.unique(folds).tolist()) - set(_SPLIT_NAMES))
        if badf:
            raise LabelFileError(f"TFD: {path} folds holds values {badf}; expected 0 unused, 1 train, 2 valid, 3 test.")
        return {"images": images.astype(np.uint8, copy=False), "labs_ex": labs_ex, "labs_id": labs_id, "folds": folds}

    def scan(self) -> pd.DataFrame:
        names = _candidates(self.resolution)
        root = find_root(self.root, dataset="TFD", marker=lambda p: any((p / n).is_file() for n in names),
                         expected=f"{names[0]} (or {names[1]})",
                         missing=lambda p: (f"{p} holds no {names[0]}; found {[f.name for f in p.glob('TFD*.mat')]} - "
                                            f"pass resolution= to match." if any(p.glob("TFD*.mat")) else None))
        self.root = root
        fname = next(n for n in names if (root / n).is_file())
        data = self._load_mat(root / fname)
        keep = np.flatnonzero(data["labs_ex"] >= 1)
        self.n_unlabeled = int(len(data["labs_ex"]) - len(keep))
        if len(keep) == 0:
            raise EmptyDatasetError(f"TFD: {root / fname} holds no labelled image.")
        self._images = data["images"]
        ids = data["labs_id"][keep]
        meta = pd.DataFrame({
            "path": [f"{fname}#{i}" for i in keep],
            "subject": [f"id{v}" if v > 0 else f"unknown{i}" for v, i in zip(ids, keep)],
            "expression": data["labs_ex"][keep] - 1,
        })
        for k in range(5):
            meta[f"split_{k}"] = [_SPLIT_NAMES[int(v)] for v in data["folds"][keep, k]]
        meta["split"] = meta[f"split_{self.fold}"]
        return meta

    def read(self, i: int):
        row = int(str(self.meta.at[i, "path"]).rsplit("#", 1)[1])
        return self._images[row], None

    def folds(self) -> list[Split]:
        """The five official folds (rows of this dataset's ``meta``)."""
        return [official_split(self.meta, column=f"split_{k}", name=f"TFD fold {k + 1}/5") for k in range(5)]

