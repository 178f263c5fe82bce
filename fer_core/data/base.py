"""The dataset contract shared by the synthetic world and every real-dataset adapter.

Protocols (folds, frame selection, few-shot tasks) only ever look at ``meta``, a
:class:`pandas.DataFrame` with one row per sample, so the same protocol code serves
synthetic and real data.

``meta`` columns (``expression`` and ``subject`` are required, the rest where the
dataset has them):

========== ======= ===========================================================
column     dtype   meaning
========== ======= ===========================================================
expression int     index into ``dataset.classes``
subject    str     identity (subject id as the publisher writes it)
sequence   str     sequence/session id within a subject (CK+, Oulu, MMI)
frame      int     frame index within the sequence (0 = first)
n_frames   int     length of the sequence the frame belongs to
intensity  float   expression intensity in [0, 1] (synthetic world)
yaw        float   head yaw in degrees (Multi-PIE-like)
view       str     named view (F2ED: half_left, front, half_right, bird)
split      str     publisher's split where one exists (train / val / test)
path       str     file the sample was read from (real data)
========== ======= ===========================================================

Identities: ``subject`` is always filled, but some datasets have no identity labels (RAF-DB,
FER2013, a class-folder dataset without a subject pattern): there every image is its own
``subject`` and ``dataset.subjects_known`` is False, so folds by subject cannot guarantee that
no person appears in both train and test (:func:`fer_core.data.protocols.chapter_folds`
then uses stratified folds and says so).

Items are dicts: ``"image"`` a float tensor ``(C, H, W)`` in [-1, 1], ``"expression"``
and ``"identity"`` (the integer code of ``subject`` in ``dataset.subjects``) as int64,
plus optional ``"intensity"``, ``"yaw"``, ``"view"`` (int code), ``"landmarks"``
``(68, 2)`` in pixel coordinates of the returned image.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

__all__ = ["EXPRESSIONS_7", "EXPRESSIONS_8", "FaceDataset", "SubsetView", "DataError"]

EXPRESSIONS_7: tuple[str, ...] = ("neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise")
EXPRESSIONS_8: tuple[str, ...] = EXPRESSIONS_7 + ("contempt",)

REQUIRED_COLUMNS = ("expression", "subject")


class DataError(ValueError):
    """A dataset folder, label file or image is not what the adapter expects.

    The message always names the offending path and says how to fix it.
    """


class FaceDataset(Dataset):
    """Base class: subclasses set ``meta`` and ``classes`` and implement ``load(i)``."""

    meta: pd.DataFrame
    classes: tuple[str, ...]
    #: False when ``subject`` is a per-image placeholder (the dataset has no identity labels).
    subjects_known: bool = True

    def __len__(self) -> int:
        return len(self.meta)

    @property
    def subjects(self) -> tuple[str, ...]:
        """Sorted distinct subject ids; ``item["identity"]`` indexes into this."""
        cached = getattr(self, "_subjects", None)
        if cached is None:
            cached = tuple(sorted(self.meta["subject"].astype(str).unique()))
            self._subjects = cached
            self._subject_code = {s: i for i, s in enumerate(cached)}
        return cached

    def identity_code(self, subject: str) -> int:
        self.subjects  # noqa: B018 - builds the table
        return self._subject_code[str(subject)]

    def load(self, i: int) -> dict[str, Any]:
        """Return the item for row ``i`` of ``meta`` (subclasses implement)."""
        raise NotImplementedError

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= int(i) < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} samples")
        return self.load(int(i))

    def subset(self, indices: Sequence[int] | np.ndarray, *, name: str | None = None) -> "SubsetView":
        """A view on some rows (labels, classes and identity codes preserved)."""
        return SubsetView(self, np.asarray(indices, dtype=np.int64), name=name)

    def check_meta(self) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self.meta.columns]
        if missing:
            raise DataError(f"{type(self).__name__}.meta lacks required columns {missing}")
        bad = ~self.meta["expression"].between(0, len(self.classes) - 1)
        if bad.any():
            raise DataError(f"{type(self).__name__}: {int(bad.sum())} expression codes outside 0..{len(self.classes) - 1}")


class SubsetView(FaceDataset):
    """Rows ``indices`` of ``parent``; identity codes stay those of the parent."""

    def __init__(self, parent: FaceDataset, indices: np.ndarray, *, name: str | None = None):
        if len(indices) and (indices.min() < 0 or indices.max() >= len(parent)):
            raise IndexError(f"subset indices must lie in [0, {len(parent)}), got {indices.min()}..{indices.max()}")
        self.parent, self.indices, self.name = parent, indices, name
        self.meta = parent.meta.iloc[indices].reset_index(drop=True)
        self.classes = parent.classes
        self.subjects_known = bool(getattr(parent, "subjects_known", True))

    @property
    def subjects(self) -> tuple[str, ...]:
        return self.parent.subjects

    def identity_code(self, subject: str) -> int:
        return self.parent.identity_code(subject)

    def load(self, i: int) -> dict[str, Any]:
        return self.parent[int(self.indices[i])]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Batched fetching: forwarded to the parent's ``__getitems__`` when it has one (a
        synthetic world renders a whole batch in one call), else item by item."""
        for i in indices:
            if not 0 <= int(i) < len(self):
                raise IndexError(f"index {i} out of range for a dataset of {len(self)} samples")
        fetch = getattr(self.parent, "__getitems__", None)
        if fetch is None:
            return [self.load(int(i)) for i in indices]
        return fetch([int(self.indices[int(i)]) for i in indices])


def stack_images(dataset: Dataset, indices: Sequence[int]) -> torch.Tensor:
    """``(N, C, H, W)`` tensor of the images at ``indices`` (for figures and small evaluations)."""
    return torch.stack([dataset[int(i)]["image"] for i in indices])
