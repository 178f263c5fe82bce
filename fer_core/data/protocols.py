"""The papers' evaluation protocols, on ``meta`` tables only (synthetic and real data alike).

Everything here takes a ``meta`` :class:`pandas.DataFrame` (see :mod:`fer_core.data.base`)
and returns row indices, so one protocol serves the synthetic world and every adapter.

- :func:`subject_kfold` - subject-independent k-fold: CK+, Oulu-CASIA and MMI use 10
  folds in FESR, Multi-PIE 5 (FESR, Switch-GAN), MMI 5 in Switch-GAN, GroupGAN 5.
  With ``path=`` the folds are saved (atomic JSON) on first use and re-read afterwards.
- :func:`stratified_kfold` - k folds with each class spread evenly, for data without identity
  labels (RAF-DB, FER2013, class folders without a subject pattern), where subject
  independence cannot be guaranteed; :func:`chapter_folds` picks one of the two from the
  dataset's ``subjects_known`` and returns the warning a chapter prints.
- frame rules for sequences (:func:`fesr_frames`, :func:`jesrl_frames`,
  :func:`groupgan_frames`), combined with a fold by :meth:`Split.restrict`:

  ======== =============================================================================
  fesr     train on the three frames at the apex (the last three for CK+/Oulu; for MMI
           the peak and its two neighbours), test on the peak frame (FESR Sec. IV-B)
  jesrl    the first frame of each sequence relabelled *neutral*, plus three frames
           around the peak with the sequence's label (Switch-GAN on MMI, Sec. IV-A)
  groupgan weak = frames 6-8 (1-based), peak = the last frame, paired per sequence
           (GroupGAN Sec. 4.1)
  ======== =============================================================================

  The peak frame is ``meta.peak_frame`` where an adapter provides it (MMI), else the
  last frame of the sequence.
- :func:`official_split` - the publisher's split from a ``split`` column (RAF-DB,
  FER2013 ``Usage``, TFD folds, JAFFE 120/23/70).

A split part that comes out empty raises :class:`EmptySplitError`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from fer_core.data.base import DataError, FaceDataset, SubsetView
from fer_core.io import atomic_write_json

__all__ = ["Split", "FrameSelection", "EmptySplitError", "FoldFileError", "subject_kfold", "stratified_kfold",
           "chapter_folds", "SUBJECTS_UNKNOWN", "save_splits",
           "load_splits", "official_split", "peak_frames", "fesr_frames", "jesrl_frames", "groupgan_frames",
           "select_frames", "meta_fingerprint", "RelabeledView"]


class EmptySplitError(DataError):
    """A protocol produced an empty train/test part (too few subjects, no matching frames, ...)."""


class FoldFileError(DataError):
    """A saved fold file is unreadable or was made for different data."""


def _rows(x: Iterable[int] | np.ndarray | None) -> np.ndarray:
    if x is None:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=np.int64))


@dataclass(frozen=True)
class FrameSelection:
    """Rows of ``meta`` chosen by a frame rule, grouped by role.

    Attributes:
        rule: the rule's name.
        roles: role name -> sorted row indices (``"train"``/``"test"``, or ``"weak"``/``"peak"``).
        relabel: row -> expression code that replaces the row's label (JESRL's neutral first frames).
        pairs: ``(P, 2)`` rows ``(weak, peak)`` of the same sequence (GroupGAN), else None.
        excluded: reason -> number of sequences the rule could not use.
    """

    rule: str
    roles: Mapping[str, np.ndarray]
    relabel: Mapping[int, int] = field(default_factory=dict)
    pairs: np.ndarray | None = None
    excluded: Mapping[str, int] = field(default_factory=dict)

    def rows(self, *roles: str) -> np.ndarray:
        """Union of the rows of ``roles``."""
        unknown = [r for r in roles if r not in self.roles]
        if unknown:
            raise ValueError(f"frame rule {self.rule!r} has roles {sorted(self.roles)}, not {unknown}")
        return _rows(np.concatenate([self.roles[r] for r in roles])) if roles else _rows(None)


@dataclass(frozen=True)
class Split:
    """Row indices of one train/test(/val) partition of a ``meta`` table.

    Attributes:
        train, test, val: sorted int64 row indices (``val`` may be empty).
        name: e.g. ``"fold 3/10"``.
        relabel: row -> expression code overriding the row's label in :meth:`datasets`.
    """

    train: np.ndarray
    test: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    name: str = ""
    relabel: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", _rows(self.train))
        object.__setattr__(self, "test", _rows(self.test))
        object.__setattr__(self, "val", _rows(self.val))
        object.__setattr__(self, "relabel", {int(k): int(v) for k, v in dict(self.relabel).items()})

    def restrict(self, selection: FrameSelection, *, train: Sequence[str] | str = ("train",),
                 test: Sequence[str] | str = ("test",), val: Sequence[str] | str | None = None) -> "Split":
        """Keep only the frames a rule chose: ``train`` rows of roles ``train``, ``test`` rows of roles ``test``.

        Example (FESR on CK+, fold 0): ``subject_kfold(meta, 10)[0].restrict(fesr_frames(meta))``.
        GroupGAN: ``split.restrict(groupgan_frames(meta), train=("weak", "peak"), test="weak")``.
        """
        as_t = (lambda r: (r,) if isinstance(r, str) else tuple(r))
        tr = np.intersect1d(self.train, selection.rows(*as_t(train)))
        te = np.intersect1d(self.test, selection.rows(*as_t(test)))
        va = np.intersect1d(self.val, selection.rows(*as_t(val if val is not None else train)))
        keep = set(tr.tolist()) | set(te.tolist()) | set(va.tolist())
        relabel = {**self.relabel, **{k: v for k, v in selection.relabel.items() if k in keep}}
        out = Split(tr, te, va, name=f"{self.name} [{selection.rule}]".strip(), relabel=relabel)
        out.require_nonempty(what=f"after frame rule {selection.rule!r}")
        return out

    def require_nonempty(self, *, what: str = "") -> None:
        for part in ("train", "test"):
            if len(getattr(self, part)) == 0:
                raise EmptySplitError(
                    f"split {self.name or '(unnamed)'}: the {part} part is empty {what}".rstrip()
                    + ". Check the dataset holds the rows this protocol needs (run `python -m fer_core inspect`)."
                )

    def datasets(self, dataset: FaceDataset) -> dict[str, FaceDataset]:
        """``{"train", "test"[, "val"]}`` views of ``dataset`` with ``relabel`` applied."""
        out = {"train": _view(dataset, self.train, self.relabel, "train"),
               "test": _view(dataset, self.test, self.relabel, "test")}
        if len(self.val):
            out["val"] = _view(dataset, self.val, self.relabel, "val")
        return out

    def check_disjoint(self, meta: pd.DataFrame, *, by: str = "subject") -> None:
        """Raise DataError if any value of ``meta[by]`` occurs in both train and test."""
        both = set(meta[by].iloc[self.train]) & set(meta[by].iloc[self.test])
        if both:
            raise DataError(f"split {self.name}: {len(both)} {by}(s) in both train and test, e.g. {sorted(both)[:3]}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "train": self.train.tolist(), "test": self.test.tolist(),
                "val": self.val.tolist(), "relabel": {str(k): v for k, v in self.relabel.items()}}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Split":
        return cls(np.asarray(obj["train"]), np.asarray(obj["test"]), np.asarray(obj.get("val", [])),
                   name=obj.get("name", ""), relabel={int(k): int(v) for k, v in obj.get("relabel", {}).items()})


class RelabeledView(SubsetView):
    """Rows of ``parent`` with some expression labels replaced (``relabel`` keyed by parent row)."""

    def __init__(self, parent: FaceDataset, indices: np.ndarray, relabel: Mapping[int, int], *, name: str | None = None):
        super().__init__(parent, indices, name=name)
        self.overrides = {pos: int(relabel[int(r)]) for pos, r in enumerate(indices) if int(r) in relabel}
        if self.overrides:
            expr = self.meta["expression"].to_numpy().copy()
            for pos, code in self.overrides.items():
                expr[pos] = code
            self.meta = self.meta.assign(expression=expr)
            self.check_meta()

    def load(self, i: int) -> dict[str, Any]:
        item = super().load(i)
        if i in self.overrides:
            import torch

            item = {**item, "expression": torch.tensor(self.overrides[i], dtype=torch.int64)}
        return item


def _view(dataset: FaceDataset, rows: np.ndarray, relabel: Mapping[int, int], name: str) -> FaceDataset:
    if any(int(r) in relabel for r in rows):
        return RelabeledView(dataset, rows, relabel, name=name)
    return dataset.subset(rows, name=name)


# --------------------------------------------------------------------------- k-fold


def meta_fingerprint(meta: pd.DataFrame) -> str:
    """Hash of the columns that identify rows (path, subject, sequence, frame, expression)."""
    h = hashlib.sha256(str(len(meta)).encode())
    for col in ("path", "subject", "sequence", "frame", "expression"):
        if col in meta.columns:
            h.update(col.encode())
            h.update("\n".join(map(str, meta[col].tolist())).encode())
    return h.hexdigest()[:16]


def subject_kfold(
    meta: pd.DataFrame,
    k: int = 10,
    *,
    seed: int = 0,
    by: str = "subject",
    method: str = "balanced",
    path: str | os.PathLike | None = None,
) -> list[Split]:
    """Subject-independent k-fold: every value of ``meta[by]`` falls in exactly one test fold.

    Args:
        meta: the dataset's ``meta``.
        k: number of folds (10 for CK+/Oulu/MMI in FESR, 5 for Multi-PIE).
        seed: shuffles subjects before assignment (``method="balanced"``).
        by: the grouping column (``"sequence"`` for GroupGAN's sequence-wise folds).
        method: ``"balanced"`` assigns subjects, largest first, to the fold with the fewest
            rows (folds of near-equal size); ``"sorted"`` deals sorted subject ids round-robin
            (fold ``i`` = subjects ``i, i+k, ...``), the common fixed CK+ assignment.
        path: a JSON fold file; read if it exists (and was made for this ``meta``, this
            ``k`` and ``by``), else written atomically for reuse.

    Returns:
        ``k`` :class:`Split` objects (``train`` = all rows outside the test fold).
    """
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an int >= 2, got {k!r}")
    if method not in ("balanced", "sorted"):
        raise ValueError(f"method must be 'balanced' or 'sorted', got {method!r}")
    if by not in meta.columns:
        raise DataError(f"subject_kfold: meta has no {by!r} column (columns: {list(meta.columns)})")
    settings = {"k": k, "seed": seed, "by": by, "method": method}
    if path is not None and Path(path).is_file():
        splits = load_splits(path, meta=meta, settings=settings)
        return splits
    groups = meta[by].astype(str).to_numpy()
    names, counts = np.unique(groups, return_counts=True)
    if len(names) < k:
        raise EmptySplitError(
            f"{k}-fold cross-validation by {by!r} needs at least {k} distinct {by}s; this data has {len(names)}. "
            f"Use fewer folds (k={max(2, len(names))}) or more data."
        )
    fold_of: dict[str, int] = {}
    if method == "sorted":
        for i, s in enumerate(sorted(names, key=_natural_key)):
            fold_of[s] = i % k
    else:
        order = np.random.default_rng(seed).permutation(len(names))
        order = order[np.argsort(-counts[order], kind="stable")]
        load = np.zeros(k, dtype=np.int64)
        for j in order:
            f = int(np.argmin(load))
            fold_of[names[j]] = f
            load[f] += counts[j]
    fold = np.array([fold_of[g] for g in groups])
    rows = np.arange(len(meta))
    splits = [Split(rows[fold != f], rows[fold == f], name=f"fold {f + 1}/{k}") for f in range(k)]
    if path is not None:
        save_splits(splits, path, meta=meta, settings=settings)
    return splits


def stratified_kfold(
    meta: pd.DataFrame,
    k: int = 10,
    *,
    seed: int = 0,
    by: str = "expression",
    path: str | os.PathLike | None = None,
) -> list[Split]:
    """k folds in which every class of ``meta[by]`` is spread as evenly as possible.

    For data without identity labels: rows are shuffled within each class (``seed``) and
    dealt round-robin to the folds, each class starting where the previous one stopped,
    so fold sizes differ by at most one row and each fold's class counts by at most one.
    Nothing here keeps a person out of both train and test (see :func:`chapter_folds`).

    Args:
        meta: the dataset's ``meta``.
        k: number of folds.
        seed: the shuffle within classes.
        by: the column to stratify on.
        path: a JSON fold file, read if it exists (made for this ``meta`` and settings),
            else written atomically, as in :func:`subject_kfold`.

    Returns:
        ``k`` :class:`Split` objects named ``"stratified fold i/k"``.
    """
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an int >= 2, got {k!r}")
    if by not in meta.columns:
        raise DataError(f"stratified_kfold: meta has no {by!r} column (columns: {list(meta.columns)})")
    settings = {"k": k, "seed": seed, "by": by, "method": "stratified"}
    if path is not None and Path(path).is_file():
        return load_splits(path, meta=meta, settings=settings)
    if len(meta) < k:
        raise EmptySplitError(f"{k}-fold cross-validation needs at least {k} rows; this data has {len(meta)}. "
                              f"Use fewer folds (k={max(2, len(meta))}) or more data.")
    rng = np.random.default_rng(seed)
    labels = meta[by].to_numpy()
    fold = np.empty(len(meta), dtype=np.int64)
    start = 0
    for value in sorted(set(labels.tolist()), key=str):
        rows = np.flatnonzero(labels == value)
        rows = rows[rng.permutation(len(rows))]
        fold[rows] = (start + np.arange(len(rows))) % k
        start = (start + len(rows)) % k
    rows = np.arange(len(meta))
    splits = [Split(rows[fold != f], rows[fold == f], name=f"stratified fold {f + 1}/{k}") for f in range(k)]
    if path is not None:
        save_splits(splits, path, meta=meta, settings=settings)
    return splits


#: What :func:`chapter_folds` says when it has to fall back to stratified folds.
SUBJECTS_UNKNOWN = (
    "{name} has no identity labels (every image is its own subject), so these are stratified folds: "
    "subject independence cannot be guaranteed, and the same person may appear in train and test "
    "(scores can be optimistic). {fix}"
)


def chapter_folds(dataset: FaceDataset, k: int, *, seed: int = 0) -> tuple[list[Split], str | None]:
    """A chapter's default folds: subject-independent when the dataset knows its subjects.

    Returns:
        ``(splits, warning)``: :func:`subject_kfold` and None when ``dataset.subjects_known``
        (the default); else :func:`stratified_kfold` and the sentence a chapter prints
        (:data:`SUBJECTS_UNKNOWN`, with the fix the dataset suggests in ``subjects_hint``).
    """
    if getattr(dataset, "subjects_known", True):
        return subject_kfold(dataset.meta, k, seed=seed), None
    name = str(getattr(dataset, "title", None) or getattr(dataset, "name", None) or type(dataset).__name__)
    hint = str(getattr(dataset, "subjects_hint", "") or "")
    return stratified_kfold(dataset.meta, k, seed=seed), SUBJECTS_UNKNOWN.format(name=name, fix=hint).strip()


def _natural_key(s: str) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def save_splits(splits: Sequence[Split], path: str | os.PathLike, *, meta: pd.DataFrame | None = None,
                settings: Mapping[str, Any] | None = None) -> Path:
    """Write ``splits`` as JSON atomically, with a fingerprint of ``meta`` to detect stale files."""
    obj = {"format": "fer-book splits v1", "fingerprint": meta_fingerprint(meta) if meta is not None else None,
           "n_rows": None if meta is None else len(meta), "settings": dict(settings or {}),
           "splits": [s.to_json() for s in splits]}
    return atomic_write_json(path, obj)


def load_splits(path: str | os.PathLike, *, meta: pd.DataFrame | None = None,
                settings: Mapping[str, Any] | None = None) -> list[Split]:
    """Read a fold file written by :func:`save_splits`.

    Raises:
        FoldFileError: unreadable, not a fold file, or made for other data/settings
            (the message says to delete it so that it is regenerated).
    """
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
        if obj.get("format") != "fer-book splits v1":
            raise ValueError("not a fer-book fold file")
        splits = [Split.from_json(s) for s in obj["splits"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FoldFileError(f"fold file {path} cannot be read ({exc}); delete it to regenerate the folds.") from exc
    if meta is not None and obj.get("fingerprint") not in (None, meta_fingerprint(meta)):
        raise FoldFileError(
            f"fold file {path} was made for different data ({obj.get('n_rows')} rows; this dataset has {len(meta)} "
            "or different files). Delete it to regenerate the folds, or pass another path."
        )
    if settings is not None and obj.get("settings") and {k: obj["settings"].get(k) for k in settings} != dict(settings):
        raise FoldFileError(
            f"fold file {path} was made with {obj['settings']}, not {dict(settings)}; delete it or pass another path."
        )
    return splits


# --------------------------------------------------------------------------- official splits


def official_split(
    meta: pd.DataFrame,
    *,
    column: str = "split",
    train: Sequence[str] | str = ("train", "training"),
    test: Sequence[str] | str = ("test", "publictest", "privatetest"),
    val: Sequence[str] | str = ("val", "valid", "validation"),
    name: str | None = None,
) -> Split:
    """The publisher's partition from ``meta[column]`` (values compared case-insensitively).

    FER2013's ``Usage`` is Training / PublicTest / PrivateTest: pass
    ``val="publictest", test="privatetest"`` for the usual val/test reading.

    Raises:
        EmptySplitError: train or test matches no row (the message lists the values found).
    """
    if column not in meta.columns:
        raise EmptySplitError(f"official_split: meta has no {column!r} column; this dataset has no official split "
                              "(use subject_kfold).")
    norm = (lambda v: {v.lower()} if isinstance(v, str) else {x.lower() for x in v})
    values = meta[column].astype(str).str.lower().str.strip().to_numpy()
    tr, te, va = norm(train), norm(test), norm(val)
    if tr & te or (tr | te) & va:
        raise ValueError(f"official_split: the value sets overlap: train={tr}, test={te}, val={va}")
    rows = np.arange(len(meta))
    out = Split(rows[np.isin(values, list(tr))], rows[np.isin(values, list(te))], rows[np.isin(values, list(va))],
                name=name or f"official ({column})")
    found = sorted(set(values))
    for part in ("train", "test"):
        if len(getattr(out, part)) == 0:
            raise EmptySplitError(
                f"official split: no row has {column} in {sorted(tr if part == 'train' else te)}; "
                f"the values found are {found}. Check the label file, or pass {part}=... with the right names."
            )
    return out


# --------------------------------------------------------------------------- frame rules


def _need(meta: pd.DataFrame, cols: Sequence[str], rule: str) -> None:
    missing = [c for c in cols if c not in meta.columns]
    if missing:
        raise DataError(f"frame rule {rule!r} needs meta columns {list(cols)}; missing {missing}. "
                        "It applies to sequence datasets (CK+, Oulu-CASIA, MMI, the synthetic sequences).")


def _groups(meta: pd.DataFrame) -> Iterable[tuple[Any, np.ndarray, np.ndarray]]:
    """Per sequence: (key, rows sorted by frame, their frame numbers)."""
    key = meta["subject"].astype(str) + "\0" + meta["sequence"].astype(str)
    frames = meta["frame"].to_numpy()
    for k, idx in pd.Series(np.arange(len(meta))).groupby(key.to_numpy()):
        rows = idx.to_numpy()
        rows = rows[np.argsort(frames[rows], kind="stable")]
        yield k, rows, frames[rows]


def peak_frames(meta: pd.DataFrame) -> dict[Any, int]:
    """Sequence key -> the peak frame number: ``meta.peak_frame`` if present, else the last frame."""
    _need(meta, ("subject", "sequence", "frame"), "peak")
    out = {}
    for k, rows, frames in _groups(meta):
        if "peak_frame" in meta.columns and pd.notna(meta["peak_frame"].iloc[rows[0]]):
            out[k] = int(meta["peak_frame"].iloc[rows[0]])
        else:
            out[k] = int(frames[-1])
    return out


def _apex_window(rows: np.ndarray, frames: np.ndarray, peak: int, n: int = 3) -> tuple[np.ndarray, int] | None:
    """``n`` consecutive available frames around ``peak`` (ending at it when it is the last), and the peak row."""
    pos = np.flatnonzero(frames == peak)
    if len(pos) == 0 or len(rows) < n:
        return None
    p = int(pos[0])
    start = min(max(p - (n - 1) // 2, 0), len(rows) - n)
    return rows[start:start + n], int(rows[p])


def fesr_frames(meta: pd.DataFrame) -> FrameSelection:
    """FESR: train on three frames at the apex, test on the peak frame.

    For CK+/Oulu-CASIA the peak is the last frame, so training uses the last three; for
    MMI (``meta.peak_frame``) the peak and its two neighbours. Sequences with fewer than
    three frames, or whose peak frame is absent, are counted in ``excluded``.
    """
    _need(meta, ("subject", "sequence", "frame"), "fesr")
    peaks = peak_frames(meta)
    train, test, excluded = [], [], {}
    for k, rows, frames in _groups(meta):
        w = _apex_window(rows, frames, peaks[k])
        if w is None:
            excluded["fewer than 3 frames or no peak frame"] = excluded.get("fewer than 3 frames or no peak frame", 0) + 1
            continue
        train.extend(w[0].tolist())
        test.append(w[1])
    return FrameSelection("fesr", {"train": _rows(train), "test": _rows(test)}, excluded=excluded)


def jesrl_frames(meta: pd.DataFrame, *, neutral: int = 0) -> FrameSelection:
    """Switch-GAN (JESRL) on MMI: first frame as *neutral* + three frames around the peak.

    Both roles ``train`` and ``test`` hold the same rows (the protocol's folds decide
    which sequences go where). The first frames are relabelled to class ``neutral``.
    """
    _need(meta, ("subject", "sequence", "frame"), "jesrl")
    peaks = peak_frames(meta)
    rows_out, relabel, excluded = [], {}, {}
    for k, rows, frames in _groups(meta):
        w = _apex_window(rows, frames, peaks[k])
        if w is None or int(rows[0]) in set(w[0].tolist()):
            excluded["too short for neutral + 3 apex frames"] = excluded.get("too short for neutral + 3 apex frames", 0) + 1
            continue
        rows_out.append(int(rows[0]))
        relabel[int(rows[0])] = int(neutral)
        rows_out.extend(w[0].tolist())
    sel = _rows(rows_out)
    return FrameSelection("jesrl", {"train": sel, "test": sel}, relabel=relabel, excluded=excluded)


def groupgan_frames(meta: pd.DataFrame, *, weak: tuple[int, int] = (6, 8)) -> FrameSelection:
    """GroupGAN: weak = frames ``weak[0]..weak[1]`` (1-based, inclusive), peak = the last frame.

    ``pairs`` lists every (weak row, peak row) of the same sequence. Sequences too short
    to have the weak frames before their peak are counted in ``excluded``.
    """
    _need(meta, ("subject", "sequence", "frame"), "groupgan")
    lo, hi = weak
    if not 1 <= lo <= hi:
        raise ValueError(f"weak must be (first, last) 1-based frame numbers with first <= last, got {weak}")
    weak_rows, peak_rows, pairs, excluded = [], [], [], {}
    for _, rows, frames in _groups(meta):
        sel = rows[(frames >= lo - 1) & (frames <= hi - 1)]
        if len(sel) == 0 or frames[-1] <= hi - 1:
            excluded[f"no frames {lo}-{hi} before the peak"] = excluded.get(f"no frames {lo}-{hi} before the peak", 0) + 1
            continue
        weak_rows.extend(sel.tolist())
        peak_rows.append(int(rows[-1]))
        pairs.extend((int(w), int(rows[-1])) for w in sel)
    if not weak_rows:
        raise EmptySplitError(
            f"groupgan frame rule: no sequence has frames {lo}-{hi} before its last frame "
            f"({sum(excluded.values())} sequences checked). It needs full neutral-to-peak sequences "
            "(the original CK+ / Oulu-CASIA layouts, not CK+48 which keeps only the last frames)."
        )
    return FrameSelection("groupgan", {"weak": _rows(weak_rows), "peak": _rows(peak_rows)},
                          pairs=np.asarray(pairs, dtype=np.int64).reshape(-1, 2), excluded=excluded)


_RULES = {"fesr": fesr_frames, "jesrl": jesrl_frames, "groupgan": groupgan_frames}


def select_frames(meta: pd.DataFrame, rule: str, **kwargs: Any) -> FrameSelection:
    """Dispatch by name: ``"fesr"``, ``"jesrl"`` or ``"groupgan"``."""
    if rule not in _RULES:
        raise ValueError(f"unknown frame rule {rule!r}; choose one of {sorted(_RULES)}")
    return _RULES[rule](meta, **kwargs)
