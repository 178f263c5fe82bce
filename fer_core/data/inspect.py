"""``fer inspect PATH``: what a dataset folder holds, the first thing to run after a download.

:func:`inspect_dataset` finds which registered layout (:data:`fer_core.data.registry.DATASETS`)
a folder holds by letting every adapter try it: the adapter that accepts the folder is
the dataset; one that recognises the folder but finds it broken (a malformed label
file, an unknown class code, a missing part) is reported with its error; one that finds
its layout a level above or below says which folder to point ``data_root`` at. It then
counts images per class, subject, view and split, decodes every image (unless
``check_images=False``) and lists every problem: unreadable or misnamed files, images
without labels, empty classes or splits. :func:`format_report` prints the result.

Nothing is cached and no exception escapes for bad data: the report carries it.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.data.base import DataError
from fer_core.data.files import BadImagesSkipped, WrongRootError
from fer_core.data.registry import DATASETS, get_dataset_info

__all__ = ["InspectReport", "inspect_dataset", "format_report"]

_SUGGESTION = re.compile(r"data_root=(['\"])(.+?)\1")
_CHECK_SIZE = 16  # decode every image, but prepare it at a tiny size: inspect checks, it does not train
_LIST = 8


@dataclass
class InspectReport:
    """What :func:`inspect_dataset` found.

    Attributes:
        root: the folder inspected.
        name, title: the registry key and display name of the dataset found (None if none).
        samples: usable images.
        classes: class names in label order.
        per_class, per_subject, per_view, per_split: image counts (``per_class`` lists every
            class, empty ones included).
        problems: one line per problem (file, what is wrong, what to do).
        notes: observations that need not be errors (an empty class, subjects missing a view).
        skipped: ``(file, reason)`` of every file left out.
        hints: where ``data_root`` should point instead, when the folder is the wrong level.
        candidates: other registered layouts that also accept the folder.
        error: the adapter's error when the dataset was recognised but cannot be read.
    """

    root: str
    name: str | None = None
    title: str | None = None
    samples: int = 0
    classes: tuple[str, ...] = ()
    per_class: dict[str, int] = field(default_factory=dict)
    per_subject: dict[str, int] = field(default_factory=dict)
    per_view: dict[str, int] = field(default_factory=dict)
    per_split: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A dataset was found, read without error, and no problem was listed."""
        return self.name is not None and self.error is None and not self.problems and self.samples > 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _try(name: str, root: Path, *, check_images: bool) -> tuple[str, Any]:
    """Build adapter ``name`` on ``root``: ("ok", (dataset, warnings)) / ("wrong", hint or None) / ("broken", error)."""
    info = DATASETS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = info.build(root, cache=False, skip_bad=check_images, size=_CHECK_SIZE)
        except WrongRootError as exc:
            m = _SUGGESTION.search(str(exc))
            return "wrong", (str(exc), m.group(2) if m else None)
        except DataError as exc:
            return "broken", exc
    return "ok", (ds, [str(w.message) for w in caught if not issubclass(w.category, BadImagesSkipped)])


def inspect_dataset(root: str | os.PathLike, name: str | None = None, *, check_images: bool = True) -> InspectReport:
    """Detect and describe the dataset in ``root``.

    Args:
        root: the folder a reader would pass as ``data_root``.
        name: a registry key (``"rafdb"``) to skip detection; None tries every layout.
        check_images: decode every image and report unreadable ones (slower on big
            datasets: each image is read once); False only scans names and label files.

    Returns:
        An :class:`InspectReport` (never raises for bad data; unknown ``name`` raises ValueError).
    """
    root = Path(root).expanduser()
    report = InspectReport(root=str(root))
    if name is not None:
        get_dataset_info(name)  # ValueError listing the known names
    if not root.exists():
        report.problems.append(f"{root} does not exist. Point data_root at the folder you extracted the dataset to.")
        return report
    if not root.is_dir():
        report.problems.append(f"{root} is a file; point data_root at the folder that holds it ({root.parent}).")
        return report
    names = [name] if name is not None else list(DATASETS)
    found, broken, wrong = {}, {}, {}
    for n in names:
        status, payload = _try(n, root, check_images=check_images)
        {"ok": found, "broken": broken, "wrong": wrong}[status][n] = payload
    if found:
        best = max(found, key=lambda n: len(found[n][0]))
        report.candidates = [n for n in found if n != best]
        _describe(report, best, *found[best])
    elif broken:
        best = next(iter(broken))
        info = DATASETS[best]
        report.name, report.title, report.classes = best, info.title, tuple(info.classes)
        report.error = f"{type(broken[best]).__name__}: {broken[best]}"
        report.problems.append(report.error)
        report.candidates = [n for n in broken if n != best]
    else:
        for n, (msg, target) in wrong.items():
            if target is not None:
                report.hints.append(f"{DATASETS[n].title}: set data_root={target!r}")
        if name is not None and wrong:
            report.problems.append(next(iter(wrong.values()))[0])
        elif report.hints:
            report.problems.append(f"{root} is not a dataset root, but a dataset lies at another level (see hints).")
        else:
            report.problems.append(f"{root} matches none of the known layouts ({', '.join(DATASETS)}). See the Data "
                                   "chapter for each dataset's expected layout, or pass --dataset NAME to see what "
                                   "that adapter expects.")
    return report


def _describe(report: InspectReport, name: str, ds, messages: list[str]) -> None:
    info = DATASETS[name]
    meta = ds.meta
    report.name, report.title = name, info.title
    report.classes = tuple(ds.classes)
    report.samples = len(meta)
    counts = np.bincount(meta["expression"].to_numpy(dtype=np.int64), minlength=len(ds.classes))
    report.per_class = {c: int(counts[i]) for i, c in enumerate(ds.classes)}
    report.per_subject = {str(k): int(v) for k, v in meta["subject"].value_counts().sort_index().items()}
    if "view" in meta.columns:
        order = list(getattr(ds, "views", ())) or sorted(meta["view"].astype(str).unique())
        vc = meta["view"].astype(str).value_counts()
        report.per_view = {v: int(vc.get(v, 0)) for v in order}
    if "split" in meta.columns:
        sc = meta["split"].astype(str).value_counts()
        report.per_split = {s: int(sc[s]) for s in ("train", "val", "test") if s in sc} | {
            str(s): int(c) for s, c in sc.items() if s not in ("train", "val", "test")}
    report.skipped = [(str(p), str(r)) for p, r in getattr(ds, "skipped", [])]
    for path, reason in report.skipped:
        report.problems.append(f"skipped {path}: {reason}")
    report.problems.extend(messages)
    for c, n in report.per_class.items():
        if n == 0:
            report.notes.append(f"class {c!r} has no image (expected for some protocols; else check the label "
                                "files / class folders).")
    if "split" in meta.columns:
        for part in ("train", "test"):
            if part not in report.per_split:
                report.problems.append(f"the official split has no {part!r} image (column 'split' holds "
                                       f"{sorted(report.per_split)}).")
    if "view" in meta.columns and len(report.per_view) > 1:
        views_of = meta.groupby("subject")["view"].nunique()
        short = views_of[views_of < len(report.per_view)]
        if len(short):
            report.notes.append(f"{len(short)} subject(s) lack some of the {len(report.per_view)} views, e.g. "
                                   f"{', '.join(map(str, short.index[:3]))}.")


def _counts_line(counts: dict[str, int], limit: int = 60) -> str:
    items = list(counts.items())
    text = "  ".join(f"{k} {v}" for k, v in items[:limit])
    return text + (f"  ... (+{len(items) - limit} more)" if len(items) > limit else "")


def format_report(report: InspectReport) -> str:
    """The report as text for a terminal (what ``fer inspect PATH`` prints)."""
    lines = [f"fer inspect: {report.root}"]
    if report.name is None:
        lines.append("dataset    not recognised")
    else:
        lines.append(f"dataset    {report.title} [{report.name}]")
        if report.candidates:
            lines.append(f"also fits  {', '.join(report.candidates)} (pass --dataset NAME to choose)")
    if report.samples:
        n_subj = len(report.per_subject)
        sizes = np.array(list(report.per_subject.values()))
        lines.append(f"images     {report.samples} in {len(report.classes)} classes, {n_subj} subjects "
                     f"({sizes.min()}-{sizes.max()} images each, median {int(np.median(sizes))})")
        lines.append(f"per class  {_counts_line(report.per_class)}")
        if report.per_split:
            lines.append(f"per split  {_counts_line(report.per_split)}")
        if report.per_view:
            lines.append(f"per view   {_counts_line(report.per_view)}")
        lines.append(f"subjects   {_counts_line(report.per_subject, limit=_LIST)}")
    for h in report.hints:
        lines.append(f"hint       {h}")
    if report.problems:
        lines.append(f"problems   {len(report.problems)}")
        lines.extend(f"  - {p}" for p in report.problems[:50])
        if len(report.problems) > 50:
            lines.append(f"  ... and {len(report.problems) - 50} more")
    else:
        lines.append("problems   none")
    for n in report.notes:
        lines.append(f"note       {n}")
    return "\n".join(lines)
