"""``fer inspect PATH``: what a dataset folder holds, the first thing to run after a download.

:func:`inspect_dataset` finds which registered layout (:data:`fer_core.data.registry.DATASETS`)
a folder holds by letting every adapter try it: the adapter that accepts the folder is
the dataset; one that recognises the folder but finds it broken (a malformed label
file, an unknown class code, a missing part) is reported with its error; one that finds
its layout a level above or below says which folder to point ``data_root`` at. It then
counts images per class, subject, view and split, decodes every image (unless
``check_images=False``) and lists every problem: unreadable or misnamed files, images
without labels, empty classes or splits. :func:`format_report` prints the result, ending
with the chapters that can use the dataset (:data:`CHAPTERS`) and the command that runs one.

When several layouts accept a folder, a specific one wins over a generic one (the
class-folder reader, ``DatasetInfo.generic``), and of those the one reading the most images.

Nothing is cached, no face detector runs, and no exception escapes for bad data: the
report carries it.
"""

from __future__ import annotations

import os
import re
import shlex
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.data import faces as _faces
from fer_core.data.base import DataError
from fer_core.data.files import BadImagesSkipped, LeftOutOnRequest, WrongRootError
from fer_core.data.registry import DATASETS, get_dataset_info

__all__ = ["InspectReport", "inspect_dataset", "format_report", "CHAPTERS", "usable_chapters"]

#: The book's chapters that read a ``data_root`` (the notebook chapters of ``book/_toc.yml``, in
#: book order; a test keeps the two in step) and what each needs of a dataset.
CHAPTERS: dict[str, str] = {
    "data": "any dataset (the chapter inspects data_root)",
    "fesr": "expression labels and subject ids: subject-independent folds (the profile's number of them), and "
            "subjects showing several expressions (its Table III compares a synthesized face with the same person's)",
    "jesrl": "expression labels; subject ids for subject-independent folds (RAF-DB: its official split)",
    "groupgan": "expression sequences (weak and peak frames, e.g. CK+ or Oulu-CASIA) with subject ids for its folds",
    "fapegan": "expression labels and several views (F2ED-style folders) for its pose-transfer tasks",
    "compgan": "expression labels, subject ids and several views (F2ED-style folders) for its six few-shot tasks",
    "compare": "expression labels and subject ids for its subject-independent folds; sequences (weak frames) and "
               "several views (an unseen pose) where the dataset has them (else those conditions and methods are "
               "left out)",
    "reproducibility": "the data_root the chapters ran on: the page reads their stored results, it trains nothing",
}

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
        subjects_known: False when the dataset has no identity labels (each image its own subject).
        preparation: how a chapter will cut the faces out (dataset landmarks, detector, centre crop).
        versatile_subjects: subjects with images of two or more expressions.
        chapters: ``(chapter, remark)`` for each chapter that can use the dataset.
        command: the command that runs the first such chapter on it.
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
    subjects_known: bool = True
    versatile_subjects: int = 0
    preparation: str = ""
    chapters: list[tuple[str, str]] = field(default_factory=list)
    command: str = ""

    @property
    def ok(self) -> bool:
        """A dataset was found, read without error, and no problem was listed."""
        return self.name is not None and self.error is None and not self.problems and self.samples > 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _try(name: str, root: Path, *, check_images: bool) -> tuple[str, Any]:
    """Build adapter ``name`` on ``root``: ("ok", (dataset, problems, notes)) / ("wrong", (message, hint or None)) /
    ("broken", error); problems and notes are the warnings the adapter issued."""
    info = DATASETS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = info.build(root, cache=False, skip_bad=check_images, size=_CHECK_SIZE, faces=False)
        except WrongRootError as exc:
            m = _SUGGESTION.search(str(exc))
            return "wrong", (str(exc), m.group(2) if m else None)
        except DataError as exc:
            return "broken", exc
    problems = [str(w.message) for w in caught if not issubclass(w.category, (BadImagesSkipped, LeftOutOnRequest))]
    notes = [str(w.message) for w in caught if issubclass(w.category, LeftOutOnRequest)]
    return "ok", (ds, problems, notes)


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
        specific = [n for n in found if not DATASETS[n].generic] or list(found)
        best = max(specific, key=lambda n: len(found[n][0]))
        report.candidates = [n for n in found if n != best]
        _describe(report, best, *found[best])
    elif broken and (any(not DATASETS[n].generic for n in broken)
                     or not any(target for _, target in wrong.values())):
        # A specific layout that recognised the folder explains it best; a generic reader's
        # complaint (class folders it cannot name) only when no layout lies at another level.
        best = next((n for n in broken if not DATASETS[n].generic), next(iter(broken)))
        info = DATASETS[best]
        report.name, report.title, report.classes = best, info.title, tuple(info.classes)
        report.error = f"{type(broken[best]).__name__}: {broken[best]}"
        report.problems.append(report.error)
        report.candidates = [n for n in broken if n != best]
        for n in report.candidates:
            report.notes.append(f"read as {n} ({DATASETS[n].title}) it fails too: {type(broken[n]).__name__}: "
                                f"{broken[n]}")
    else:
        for n, (msg, target) in wrong.items():
            if target is not None:
                report.hints.append(f"{DATASETS[n].title}: set data_root={target!r}")
        for n, exc in broken.items():
            report.notes.append(f"read as {n} ({DATASETS[n].title}) it fails: {type(exc).__name__}: {exc}")
        if name is not None and wrong:
            report.problems.append(next(iter(wrong.values()))[0])
        elif report.hints:
            report.problems.append(f"{root} is not a dataset root, but a dataset lies at another level (see hints).")
        else:
            report.problems.append(f"{root} matches none of the known layouts ({', '.join(DATASETS)}). See the Data "
                                   "chapter for each dataset's expected layout, or pass --dataset NAME to see what "
                                   "that adapter expects.")
    return report


def _describe(report: InspectReport, name: str, ds, messages: list[str], notes: list[str]) -> None:
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
    report.subjects_known = bool(getattr(ds, "subjects_known", True))
    report.versatile_subjects = int((meta.groupby("subject")["expression"].nunique() >= 2).sum())
    report.preparation = _preparation(ds)
    report.skipped = [(str(p), str(r)) for p, r in getattr(ds, "skipped", [])]
    for path, reason in report.skipped:
        report.problems.append(f"skipped {path}: {reason}")
    report.problems.extend(messages)
    report.notes.extend(notes)
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
    if not report.subjects_known:
        hint = str(getattr(ds, "subjects_hint", "") or "")
        report.notes.append("no subject ids: every image counts as its own subject, so chapters fold it with "
                            "stratified folds and cannot guarantee subject independence."
                            + (f" {hint}" if hint else ""))
    report.chapters = usable_chapters(report)
    if report.chapters:
        chapter = next((c for c, _ in report.chapters if c != "data"), report.chapters[0][0])
        report.command = f"fer book --only {chapter} --data-root {shlex.quote(str(Path(report.root).resolve()))}"


def _preparation(ds) -> str:
    """How a chapter will prepare the faces (inspect builds with ``faces=False``, so say what it would do)."""
    if getattr(ds, "has_landmarks", False):
        return "aligned on the landmarks the dataset ships"
    if getattr(ds, "detect_faces", False):
        if _faces.available():
            return ("faces found and aligned by dlib's detector and 68-point predictor (the faces extra is "
                    "installed; images where no face is found are centre-cropped and listed)")
        return f"centre crop: no landmarks in this dataset and the faces extra is not installed ({_faces.INSTALL})"
    return "centre crop"


def usable_chapters(report: InspectReport) -> list[tuple[str, str]]:
    """``(chapter, remark)`` for each chapter of :data:`CHAPTERS` that can use the dataset of ``report``;
    why a chapter cannot is added to ``report.notes``.

    ``fesr`` needs subject ids, at least as many subjects as its ``small`` profile has folds, and
    subjects that show two or more expressions.
    """
    from fer_core.profiles import get_profile

    if report.name is None or report.error is not None or not report.samples:
        return []
    out = [("data", "")]
    folds = int(get_profile("fesr", "small")["folds"])
    if not report.subjects_known:
        report.notes.append("the fesr chapter needs subject ids (subject-independent folds, and the same person "
                            "with several expressions); this dataset has none.")
    elif len(report.per_subject) < folds:
        report.notes.append(f"the fesr chapter needs at least {folds} subjects for its {folds} subject-independent "
                            f"folds (profile small); this dataset has {len(report.per_subject)}.")
    elif report.versatile_subjects == 0:
        report.notes.append("the fesr chapter needs subjects with images of several expressions; here every "
                            "subject shows one.")
    else:
        out.append(("fesr", ""))
    if report.subjects_known and len(report.per_subject) >= int(get_profile("jesrl", "small")["folds"]) or \
            report.name == "rafdb":
        out.append(("jesrl", ""))
    else:
        report.notes.append("the jesrl chapter needs subject ids for its subject-independent folds (or RAF-DB's "
                            "official split).")
    if report.name in ("ckplus", "oulu", "mmi"):
        out.append(("groupgan", ""))
    else:
        report.notes.append("the groupgan chapter needs expression sequences with weak and peak frames (CK+, "
                            "Oulu-CASIA, MMI).")
    if len(report.per_view) > 1:
        out.append(("fapegan", ""))
    else:
        report.notes.append("the fapegan chapter needs faces in several views (an F2ED-style folder).")
    if len(report.per_view) > 1 and report.subjects_known:
        out.append(("compgan", ""))
    else:
        report.notes.append("the compgan chapter needs faces in several views with subject ids (an F2ED-style "
                            "folder).")
    if report.subjects_known and len(report.per_subject) >= int(get_profile("compare", "small")["folds"]):
        out.append(("compare", ""))
    else:
        report.notes.append("the compare chapter needs subject ids for its subject-independent folds.")
    return out


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
        if report.subjects_known:
            lines.append(f"images     {report.samples} in {len(report.classes)} classes, {n_subj} subjects "
                         f"({sizes.min()}-{sizes.max()} images each, median {int(np.median(sizes))})")
        else:
            lines.append(f"images     {report.samples} in {len(report.classes)} classes, no subject ids")
        lines.append(f"per class  {_counts_line(report.per_class)}")
        if report.per_split:
            lines.append(f"per split  {_counts_line(report.per_split)}")
        if report.per_view:
            lines.append(f"per view   {_counts_line(report.per_view)}")
        if report.subjects_known:
            lines.append(f"subjects   {_counts_line(report.per_subject, limit=_LIST)}")
        if report.preparation:
            lines.append(f"faces      {report.preparation}")
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
    for k, (chapter, remark) in enumerate(report.chapters):
        head = "chapters   " if k == 0 else "           "
        lines.append(f"{head}{chapter}" + (f" ({remark})" if remark else ""))
    if report.command:
        after = "  (after fixing the problems above)" if report.problems else ""
        lines.append(f"run        {report.command}{after}")
    return "\n".join(lines)
