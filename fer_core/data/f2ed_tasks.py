"""The F2ED learning tasks of Comp-GAN (T1-T6) and FaPE-GAN (ER-UE, ER-UP), on ``meta`` only.

Every task takes a ``meta`` table with ``expression``, ``subject`` and (for the pose
tasks) ``view`` columns, so it serves the real F2ED folders (:mod:`fer_core.data.f2ed`)
and the synthetic ``f2ed_like`` world alike, and returns a :class:`TaskSplit`: a
:class:`fer_core.data.protocols.Split` whose ``train`` is D_base plus D_novel and which
also records which classes were novel.

========= ====================================================================================
task      definition (C_novel = the novel classes of the task's attribute)
========= ====================================================================================
ER-SS     T1, standard: 20% of the images of every (expression, identity, view) cell to test,
          the rest to train. ``paper="fapegan"``: 175,000 / 19,719 / 25,000 train/val/test
          proportions instead (FaPE-GAN Sec. 4.1).
ER-FID    T2, few-shot identity: 20% of the identities are novel. Test = 20% of every
          identity's images; train = all other images of the base identities plus ``shots``
          images of every novel identity.
ER-ZID    T3, zero-shot identity: ER-FID with no image of the novel identities in train.
          ``paper="fapegan"``: all images of the novel identities are the test set and all
          images of the base identities the train set.
ER-FP     T4, few-shot pose: the left view (F2ED's ``half_left``) is novel. Test = 20% of
          every view's images; train = the other images of the three base views plus
          ``shots`` images of the left view.
ER-ZP     T5, zero-shot pose: ER-FP with no left-view image in train.
ER-FE     T6, few-shot expression: 20% of the expressions are novel. Test = 20% of every
          expression's images; train = the other images of the base expressions plus
          ``shots`` images of every novel expression.
ER-UE     FaPE-GAN, unbalanced expressions: 20% of the expressions are rare; 10% of each rare
          expression's images train, the other 90% are the whole test set; every image of
          the other expressions trains.
ER-UP     FaPE-GAN, unbalanced pose: ``half_left`` is rare; 10% of its images train, the
          other 90% are the test set; every image of the other views trains.
========= ====================================================================================

Balance, as the papers ask: every hold-out is drawn per class of the task's attribute
and spread over the cells of the other two attributes in proportion to their sizes
(systematic sampling over randomly ordered cells, so each cell gets its share up to
one image); the few shots of a novel class are drawn one at a time, each from the
least-used expression/identity/view so far. Train, val and test are always disjoint
sets of rows; the novel classes are absent from train in the zero-shot tasks and
present only through their shots in the few-shot ones.

Deviation from the papers: they say "20% identities" but use 21 of 119 (17.6%);
pass ``n_novel=21`` for their count (the default is ``round(0.2 * identities)``).
ER-FP says "sample 1, 3, or 5 images with left pose": with one novel view that is
``shots`` images in all (the same per-novel-class reading as ER-FID and ER-FE), spread
over expressions and identities. ER-FE says the test set is "20% images of each facial
pose category"; we take 20% of each expression (its own attribute, as in ER-FID/ER-FP),
which is also balanced over views by the spreading. The rare share of ER-UE/ER-UP is
rounded up, so every rare class keeps at least one training image; it reproduces
FaPE-GAN's ER-UP counts (4,706 of 47,053 half-left images train).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from fer_core.data.base import DataError
from fer_core.data.protocols import EmptySplitError, Split

__all__ = ["F2ED_TASKS", "TASK_ALIASES", "TaskSplit", "FewShotError", "f2ed_task", "standard_tasks",
           "er_ss", "er_fid", "er_zid", "er_fp", "er_zp", "er_fe", "er_ue", "er_up"]

F2ED_TASKS: tuple[str, ...] = ("ER-SS", "ER-FID", "ER-ZID", "ER-FP", "ER-ZP", "ER-FE", "ER-UE", "ER-UP")
TASK_ALIASES: dict[str, str] = {"T1": "ER-SS", "T2": "ER-FID", "T3": "ER-ZID", "T4": "ER-FP", "T5": "ER-ZP",
                                "T6": "ER-FE"}
FEW_SHOT_TASKS = ("ER-FID", "ER-FP", "ER-FE")
# FaPE-GAN Sec. 4.1: 175,000 train / 19,719 val / 25,000 test of 219,719 images.
FAPEGAN_SS = {"test_fraction": 25000 / 219719, "val_fraction": 19719 / 219719}


class FewShotError(DataError):
    """A few-shot request the data cannot satisfy (too few images of a novel class for ``shots``)."""


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class TaskSplit(Split):
    """A :class:`~fer_core.data.protocols.Split` of an F2ED task, with its novel classes.

    Attributes (besides ``train``/``test``/``val``/``name``):
        task: ``"ER-FID"`` etc.
        shots: images per novel class in train (0 for zero-shot and non-few-shot tasks).
        novel_by: the attribute whose classes are split into base/novel (``"subject"``,
            ``"view"`` or ``"expression"``; ``""`` for ER-SS).
        novel: the novel (or rare) values of ``meta[novel_by]``, sorted.
        novel_train: the train rows drawn from novel classes (D_novel), sorted.
    """

    task: str = ""
    shots: int = 0
    novel_by: str = ""
    novel: tuple = ()
    novel_train: np.ndarray = field(default_factory=_empty)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "novel_train", np.unique(np.asarray(self.novel_train, dtype=np.int64)))
        object.__setattr__(self, "novel", tuple(self.novel))

    @property
    def base_train(self) -> np.ndarray:
        """Train rows of base classes (D_base)."""
        return np.setdiff1d(self.train, self.novel_train)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "task": self.task, "shots": self.shots, "novel_by": self.novel_by,
                "novel": list(self.novel), "novel_train": self.novel_train.tolist()}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "TaskSplit":
        base = Split.from_json(obj)
        return cls(base.train, base.test, base.val, name=base.name, relabel=base.relabel, task=obj.get("task", ""),
                   shots=int(obj.get("shots", 0)), novel_by=obj.get("novel_by", ""), novel=tuple(obj.get("novel", ())),
                   novel_train=np.asarray(obj.get("novel_train", []), dtype=np.int64))

    def test_novel(self, meta: pd.DataFrame) -> np.ndarray:
        """Test rows whose ``novel_by`` value is novel (for accuracy on novel classes alone)."""
        if not self.novel_by:
            return _empty()
        mask = meta[self.novel_by].iloc[self.test].isin(self.novel).to_numpy()
        return self.test[mask]


# --------------------------------------------------------------------------- helpers


def _need(meta: pd.DataFrame, cols: Sequence[str], task: str) -> None:
    missing = [c for c in cols if c not in meta.columns]
    if missing:
        raise DataError(f"{task} needs meta columns {list(cols)}; missing {missing}. The F2ED tasks apply to data with "
                        "expression, identity and view labels (the F2ED adapter or the synthetic f2ed_like world).")
    if len(meta) == 0:
        raise EmptySplitError(f"{task}: meta has no rows.")


def _codes(meta: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """Integer cell id per row for the combination of ``cols`` (0 for all rows when empty)."""
    if not cols:
        return np.zeros(len(meta), dtype=np.int64)
    return meta.groupby(list(cols), sort=True, dropna=False).ngroup().to_numpy().astype(np.int64)


def _sorted_values(column: pd.Series) -> list:
    """Distinct values as plain Python scalars, sorted (numbers numerically, strings as text)."""
    values = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(column)]
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _spread(rows: np.ndarray, cells: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``rows``, each cell of ``cells[rows]`` getting its proportional share up to one."""
    if n <= 0:
        return _empty()
    if n >= len(rows):
        return np.sort(rows)
    cell = cells[rows]
    uniq, inv = np.unique(cell, return_inverse=True)
    cell_rank = rng.permutation(len(uniq))[inv]
    order = np.lexsort((rng.random(len(rows)), cell_rank))
    pos = np.floor((np.arange(n) + rng.random()) * (len(rows) / n)).astype(np.int64)
    return np.sort(rows[order[np.minimum(pos, len(rows) - 1)]])


def _per_group(meta: pd.DataFrame, rows: np.ndarray, group: str, cells: np.ndarray, count, rng) -> np.ndarray:
    """Union over the values of ``meta[group]`` of ``_spread`` picks of ``count(n_group)`` rows."""
    values = meta[group].to_numpy()[rows]
    out = []
    for v in _sorted_values(pd.Series(values)):
        g = rows[values == v]
        out.append(_spread(g, cells, count(len(g)), rng))
    return np.sort(np.concatenate(out)) if out else _empty()


def _shots(meta: pd.DataFrame, pool: np.ndarray, k: int, balance: Sequence[str],
           rng: np.random.Generator) -> np.ndarray:
    """``k`` rows of ``pool``, each from the least-used values of the ``balance`` columns so far."""
    cand = rng.permutation(pool)
    codes = [pd.factorize(meta[c].to_numpy()[cand])[0] for c in balance]
    used = [np.zeros(c.max() + 1 if len(c) else 0, dtype=np.int64) for c in codes]
    taken = np.zeros(len(cand), dtype=bool)
    chosen = []
    for _ in range(k):
        score = sum(u[c] for u, c in zip(used, codes)) if codes else np.zeros(len(cand), dtype=np.int64)
        score = np.where(taken, np.iinfo(np.int64).max, score)
        j = int(np.argmin(score))
        chosen.append(cand[j])
        taken[j] = True
        for u, c in zip(used, codes):
            u[c[j]] += 1
    return np.sort(np.asarray(chosen, dtype=np.int64))


def _choose_novel(meta: pd.DataFrame, col: str, fraction: float, n_novel: int | None, rng: np.random.Generator,
                  task: str) -> tuple:
    values = _sorted_values(meta[col])
    if len(values) < 2:
        raise EmptySplitError(f"{task}: needs at least 2 distinct {col} values to split into base and novel; "
                              f"this data has {len(values)}.")
    if n_novel is None:
        if not 0 < fraction < 1:
            raise ValueError(f"{task}: novel_fraction must be in (0, 1), got {fraction!r}")
        n_novel = min(max(_round_half_up(fraction * len(values)), 1), len(values) - 1)
    elif not isinstance(n_novel, (int, np.integer)) or not 1 <= n_novel < len(values):
        raise ValueError(f"{task}: n_novel must be an int in 1..{len(values) - 1} (there are {len(values)} "
                         f"{col} values), got {n_novel!r}")
    picked = rng.choice(len(values), size=int(n_novel), replace=False)
    return tuple(values[i] for i in sorted(picked))


def _check_fraction(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")


def _check_shots(task: str, shots: Any) -> int:
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ValueError(f"{task} needs shots >= 1 (the papers use 1, 3 and 5), got {shots!r}")
    return int(shots)


def _few_shot(meta: pd.DataFrame, *, task: str, novel_by: str, novel: tuple, shots: int, test_fraction: float,
              rng: np.random.Generator, what: str) -> TaskSplit:
    """Test = ``test_fraction`` of every ``novel_by`` class; train = base rest + ``shots`` per novel class."""
    others = [c for c in ("expression", "subject", "view") if c != novel_by and c in meta.columns]
    cells = _codes(meta, others)
    rows = np.arange(len(meta))
    test = _per_group(meta, rows, novel_by, cells, lambda n: _round_half_up(test_fraction * n), rng)
    rest = np.setdiff1d(rows, test)
    is_novel = meta[novel_by].isin(novel).to_numpy()
    base_train = rest[~is_novel[rest]]
    novel_train = []
    if shots:
        values = meta[novel_by].to_numpy()
        for v in novel:
            pool = rest[values[rest] == v]
            if len(pool) < shots:
                total = int((values == v).sum())
                raise FewShotError(
                    f"{task}: {what} {v!r} has {total} image(s); after the {test_fraction:.0%} test hold-out "
                    f"{len(pool)} remain, too few for {shots} shot(s). Ask for shots<={len(pool)}, or use data "
                    f"with more images per {what} (novel {what}s are drawn at random: another seed may pick others)."
                )
            novel_train.append(_shots(meta, pool, shots, others, rng))
    novel_train = np.concatenate(novel_train) if novel_train else _empty()
    label = f"{task} ({shots}-shot)" if task in FEW_SHOT_TASKS else task
    out = TaskSplit(np.concatenate([base_train, novel_train]), test, name=label, task=task, shots=shots,
                    novel_by=novel_by, novel=novel, novel_train=novel_train)
    out.require_nonempty(what=f"for {task}")
    return out


# --------------------------------------------------------------------------- the tasks


def er_ss(meta: pd.DataFrame, *, test_fraction: float = 0.2, val_fraction: float = 0.0, seed: int = 0) -> TaskSplit:
    """T1 ER-SS: a random split balanced over expression, identity and view.

    Args:
        meta: rows with ``expression`` and ``subject`` (``view`` used when present).
        test_fraction: share of all images in test (Comp-GAN: 0.2).
        val_fraction: share in validation (FaPE-GAN: 19,719 / 219,719; see ``FAPEGAN_SS``).
        seed: the random draw.
    """
    _need(meta, ("expression", "subject"), "ER-SS")
    _check_fraction("test_fraction", test_fraction)
    if not 0 <= val_fraction < 1 - test_fraction:
        raise ValueError(f"val_fraction must be in [0, {1 - test_fraction:g}), got {val_fraction!r}")
    rng = np.random.default_rng(seed)
    cells = _codes(meta, [c for c in ("expression", "subject", "view") if c in meta.columns])
    rows = np.arange(len(meta))
    test = _spread(rows, cells, _round_half_up(test_fraction * len(meta)), rng)
    rest = np.setdiff1d(rows, test)
    val = _spread(rest, cells, _round_half_up(val_fraction * len(meta)), rng)
    out = TaskSplit(np.setdiff1d(rest, val), test, val, name="ER-SS", task="ER-SS")
    out.require_nonempty(what="for ER-SS")
    return out


def er_fid(meta: pd.DataFrame, *, shots: int, seed: int = 0, novel_fraction: float = 0.2,
           n_novel: int | None = None, test_fraction: float = 0.2) -> TaskSplit:
    """T2 ER-FID: ``shots`` training images per novel identity (see the module table)."""
    return _few_shot_novel(meta, task="ER-FID", by="subject", what="identity", shots=shots, seed=seed,
                           novel_fraction=novel_fraction, n_novel=n_novel, test_fraction=test_fraction)


def _few_shot_novel(meta: pd.DataFrame, *, task: str, by: str, what: str, shots: Any, seed: int,
                    novel_fraction: float, n_novel: int | None, test_fraction: float) -> TaskSplit:
    """ER-FID / ER-FE: a drawn set of novel values of ``by`` (identities, expressions), ``shots`` each."""
    _need(meta, ("expression", "subject"), task)
    shots = _check_shots(task, shots)
    _check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(seed)
    novel = _choose_novel(meta, by, novel_fraction, n_novel, rng, task)
    return _few_shot(meta, task=task, novel_by=by, novel=novel, shots=shots, test_fraction=test_fraction,
                     rng=rng, what=what)


def er_zid(meta: pd.DataFrame, *, seed: int = 0, novel_fraction: float = 0.2, n_novel: int | None = None,
           test_fraction: float = 0.2, paper: str = "compgan") -> TaskSplit:
    """T3 ER-ZID: no image of the novel identities in train.

    ``paper="compgan"``: test = ``test_fraction`` of every identity (novel and base).
    ``paper="fapegan"``: test = every image of the novel identities, train = every image of
    the base identities (FaPE-GAN's text swaps "21 and 98 persons"; its image counts,
    189,306 train / 30,413 test, show 98 identities train).
    """
    _need(meta, ("expression", "subject"), "ER-ZID")
    if paper not in ("compgan", "fapegan"):
        raise ValueError(f"paper must be 'compgan' or 'fapegan', got {paper!r}")
    _check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(seed)
    novel = _choose_novel(meta, "subject", novel_fraction, n_novel, rng, "ER-ZID")
    if paper == "compgan":
        return _few_shot(meta, task="ER-ZID", novel_by="subject", novel=novel, shots=0, test_fraction=test_fraction,
                         rng=rng, what="identity")
    is_novel = meta["subject"].isin(novel).to_numpy()
    rows = np.arange(len(meta))
    out = TaskSplit(rows[~is_novel], rows[is_novel], name="ER-ZID (FaPE-GAN)", task="ER-ZID", novel_by="subject",
                    novel=novel)
    out.require_nonempty(what="for ER-ZID")
    return out


def _novel_view(meta: pd.DataFrame, view: str, task: str) -> tuple:
    views = sorted(pd.unique(meta["view"].astype(str)))
    if view not in views:
        raise DataError(f"{task}: the novel view {view!r} does not occur in meta.view (views: {views}). Pass "
                        "novel_view= with one of them.")
    if len(views) < 2:
        raise EmptySplitError(f"{task}: needs at least 2 views; this data has only {views}.")
    return (view,)


def er_fp(meta: pd.DataFrame, *, shots: int, seed: int = 0, novel_view: str = "half_left",
          test_fraction: float = 0.2) -> TaskSplit:
    """T4 ER-FP: ``shots`` training images of the novel (left) view."""
    _need(meta, ("expression", "subject", "view"), "ER-FP")
    shots = _check_shots("ER-FP", shots)
    _check_fraction("test_fraction", test_fraction)
    novel = _novel_view(meta, novel_view, "ER-FP")
    return _few_shot(meta.assign(view=meta["view"].astype(str)), task="ER-FP", novel_by="view", novel=novel,
                     shots=shots, test_fraction=test_fraction, rng=np.random.default_rng(seed), what="view")


def er_zp(meta: pd.DataFrame, *, seed: int = 0, novel_view: str = "half_left", test_fraction: float = 0.2) -> TaskSplit:
    """T5 ER-ZP: no image of the novel (left) view in train."""
    _need(meta, ("expression", "subject", "view"), "ER-ZP")
    _check_fraction("test_fraction", test_fraction)
    novel = _novel_view(meta, novel_view, "ER-ZP")
    return _few_shot(meta.assign(view=meta["view"].astype(str)), task="ER-ZP", novel_by="view", novel=novel, shots=0,
                     test_fraction=test_fraction, rng=np.random.default_rng(seed), what="view")


def er_fe(meta: pd.DataFrame, *, shots: int, seed: int = 0, novel_fraction: float = 0.2,
          n_novel: int | None = None, test_fraction: float = 0.2) -> TaskSplit:
    """T6 ER-FE: ``shots`` training images per novel expression."""
    return _few_shot_novel(meta, task="ER-FE", by="expression", what="expression", shots=shots, seed=seed,
                           novel_fraction=novel_fraction, n_novel=n_novel, test_fraction=test_fraction)


def _unbalanced(meta: pd.DataFrame, *, task: str, by: str, rare: tuple, train_fraction: float,
                rng: np.random.Generator) -> TaskSplit:
    others = [c for c in ("expression", "subject", "view") if c != by and c in meta.columns]
    cells = _codes(meta, others)
    rows = np.arange(len(meta))
    is_rare = meta[by].isin(rare).to_numpy()
    rare_train = _per_group(meta, rows[is_rare], by, cells, lambda n: math.ceil(train_fraction * n), rng)
    test = np.setdiff1d(rows[is_rare], rare_train)
    out = TaskSplit(np.concatenate([rows[~is_rare], rare_train]), test, name=task, task=task, novel_by=by,
                    novel=rare, novel_train=rare_train)
    out.require_nonempty(what=f"for {task} (each rare class needs at least 2 images)")
    return out


def er_ue(meta: pd.DataFrame, *, seed: int = 0, rare_fraction: float = 0.2, n_rare: int | None = None,
          train_fraction: float = 0.1) -> TaskSplit:
    """FaPE-GAN ER-UE: 20% of the expressions rare, 10% of their images train, 90% test."""
    _need(meta, ("expression", "subject"), "ER-UE")
    _check_fraction("train_fraction", train_fraction)
    rng = np.random.default_rng(seed)
    rare = _choose_novel(meta, "expression", rare_fraction, n_rare, rng, "ER-UE")
    return _unbalanced(meta, task="ER-UE", by="expression", rare=rare, train_fraction=train_fraction, rng=rng)


def er_up(meta: pd.DataFrame, *, seed: int = 0, rare_view: str = "half_left", train_fraction: float = 0.1) -> TaskSplit:
    """FaPE-GAN ER-UP: the ``rare_view`` keeps 10% of its images in train, 90% are the test set."""
    _need(meta, ("expression", "subject", "view"), "ER-UP")
    _check_fraction("train_fraction", train_fraction)
    rare = _novel_view(meta, rare_view, "ER-UP")
    return _unbalanced(meta.assign(view=meta["view"].astype(str)), task="ER-UP", by="view", rare=rare,
                       train_fraction=train_fraction, rng=np.random.default_rng(seed))


_TASKS = {"ER-SS": er_ss, "ER-FID": er_fid, "ER-ZID": er_zid, "ER-FP": er_fp, "ER-ZP": er_zp, "ER-FE": er_fe,
          "ER-UE": er_ue, "ER-UP": er_up}


def f2ed_task(meta: pd.DataFrame, task: str, *, shots: int | None = None, seed: int = 0, paper: str = "compgan",
              **options: Any) -> TaskSplit:
    """Dispatch by name: ``f2ed_task(meta, "ER-FID", shots=5, seed=1)``.

    Args:
        meta: the dataset's ``meta``.
        task: one of ``F2ED_TASKS`` (case-insensitive; Comp-GAN's ``"T1"``..``"T6"`` accepted).
        shots: images per novel class for ER-FID/ER-FP/ER-FE; omitted (or 0) for the others.
        seed: the random draw (novel classes and samples).
        paper: ``"compgan"`` or ``"fapegan"``: which paper's ER-SS/ER-ZID protocol.
        **options: the task function's other keywords (``test_fraction``, ``n_novel``, ...).
    """
    key = str(task).strip().upper()
    key = TASK_ALIASES.get(key, key)
    if key not in _TASKS:
        raise ValueError(f"unknown F2ED task {task!r}; choose one of {list(F2ED_TASKS)} (or T1..T6)")
    if paper not in ("compgan", "fapegan"):
        raise ValueError(f"paper must be 'compgan' or 'fapegan', got {paper!r}")
    if key in FEW_SHOT_TASKS:
        return _TASKS[key](meta, shots=shots, seed=seed, **options)
    if shots not in (None, 0):
        raise ValueError(f"{key} takes no shots (few-shot tasks: {list(FEW_SHOT_TASKS)}), got shots={shots!r}")
    if key == "ER-SS" and paper == "fapegan":
        options = {**FAPEGAN_SS, **options}
    if key == "ER-ZID":
        options = {"paper": paper, **options}
    return _TASKS[key](meta, seed=seed, **options)


def standard_tasks(shots: Iterable[int] = (1, 3, 5)) -> list[tuple[str, int]]:
    """The papers' grid of ``(task, shots)``: T1-T6 with 1/3/5 shots where few-shot, then ER-UE and ER-UP."""
    out: list[tuple[str, int]] = []
    for task in F2ED_TASKS:
        if task in FEW_SHOT_TASKS:
            out.extend((task, int(k)) for k in shots)
        else:
            out.append((task, 0))
    return out
