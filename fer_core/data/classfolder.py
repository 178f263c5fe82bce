"""Any class-folder dataset: ``root/<class>/*.png`` (or ``root/<split>/<class>/...``), e.g. your own photos.

The class of an image is the name of the folder it lies in, mapped to the book's label set
(:data:`BOOK_CLASSES`): the usual spellings are understood (``happy`` -> happiness, ``Angry``
-> anger, :data:`fer_core.data.files.CLASS_ALIASES`); any other name is an error that lists
the names and says how to map them. A folder holding only ``train/``, ``val/``, ``test/`` (and
their usual spellings) is read one level deeper, and ``meta.split`` keeps the split.

Identities: with ``subject_pattern`` (a regular expression searched in each image's path inside
its class folder, e.g. ``r"^(?P<subject>S\\d+)_"`` for ``S010_004_00000017.png``, or
``r"^(?P<subject>[^/]+)/"`` for one subfolder per person) the subject is the group named
``subject`` (else group 1, else the whole match), and chapters fold by subject. Without it
every image is its own subject, ``subjects_known`` is False, and chapters use stratified folds
with a warning that subject independence cannot be guaranteed
(:func:`fer_core.data.protocols.chapter_folds`).

Options come from keyword arguments or, so that a chapter run as ``fer book --data-root`` can
use them too, from a file ``classfolder.json`` in the root (keyword arguments win)::

    {"class_map": {"joy": "happiness", "unsure": null}, "subject_pattern": "^(?P<subject>[a-z]+)_"}

A folder mapped to ``null`` is left out on purpose (listed in ``dataset.excluded``, with a
warning). The faces are found and aligned by the optional detector when it is installed
(``detect_faces``; :mod:`fer_core.data.faces`), else centre-cropped.

The helper :func:`class_images` is shared with the class-folder
redistributions of FER2013 and RAF-DB.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from fer_core.data.base import EXPRESSIONS_8
from fer_core.data.files import (
    CLASS_ALIASES, EmptyDatasetError, FileDataset, LabelFileError, LeftOutOnRequest, UnknownClassError, WrongRootError,
    canonical_class, find_root, list_images,
    subfolders,
)

__all__ = ["ClassFolders", "LAYOUT", "BOOK_CLASSES", "CLASS_EXTENSIONS", "OPTIONS_FILE", "SPLIT_NAMES",
           "class_images"]

LAYOUT = """\
data_root/                      your folder of class folders (any names the book knows, or mapped)
  happy/ sad/ angry/ ...        one folder per class; images inside (.png .jpg .jpeg .tif .tiff .bmp),
    img_0001.jpg ...            subfolders included
  (or train/ val/ test/ each holding the class folders)
  classfolder.json              optional: {"class_map": {...}, "subject_pattern": "..."}
"""

#: The book's label set, in the order classes are numbered (those present are kept).
BOOK_CLASSES: tuple[str, ...] = EXPRESSIONS_8 + ("smile", "squint", "scream")
CLASS_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
OPTIONS_FILE = "classfolder.json"
#: Split-folder spellings -> ``meta.split``.
SPLIT_NAMES: dict[str, str] = {"train": "train", "training": "train", "val": "val", "valid": "val",
                               "validation": "val", "test": "test", "testing": "test"}
_OPTION_KEYS = ("class_map", "subject_pattern")


def class_images(folder: Path, *, dataset: str, recursive: bool = True,
                 extensions: Sequence[str] = CLASS_EXTENSIONS) -> tuple[list[Path], list[Path]]:
    """``(images, other files)`` in a class folder (hidden files ignored).

    Raises:
        EmptyDatasetError: the folder holds no image (naming it and the fix).
    """
    walk = folder.rglob("*") if recursive else folder.iterdir()
    every = sorted(p for p in walk if p.is_file() and not any(q.startswith(".") for q in p.relative_to(folder).parts))
    exts = tuple(e.lower() for e in extensions)
    images = [p for p in every if p.suffix.lower() in exts]
    others = [p for p in every if p.suffix.lower() not in exts]
    if not images:
        raise EmptyDatasetError(
            f"{dataset}: class folder {folder} holds no image ({' '.join(extensions)}). An empty class is an "
            "incomplete copy: put its images there, or remove the folder.")
    return images, others


def _split_layout(root: Path) -> bool:
    subs = subfolders(root)
    return bool(subs) and all(p.name.lower() in SPLIT_NAMES for p in subs)


def _holds_images(p: Path) -> bool:
    """``p`` or a folder below it holds an image (stops at the first one found)."""
    try:
        return any(f.suffix.lower() in CLASS_EXTENSIONS and not f.name.startswith(".") and f.is_file()
                   for f in p.rglob("*"))
    except OSError:
        return False


def _is_root(p: Path) -> bool:
    """A folder with >= 2 class folders holding images, directly or under split folders."""
    if _split_layout(p):
        return any(sum(_holds_images(c) for c in subfolders(s)) >= 2 for s in subfolders(p))
    return sum(_holds_images(c) for c in subfolders(p)) >= 2


def _find_root(root: Path) -> Path:
    """``root`` if it is a class-folder root; else WrongRootError naming the folder to use.

    Only the plain cases are diagnosed (a class folder given instead of its parent, a folder
    holding the dataset's folder): any folder with two image-holding subfolders is a
    class-folder root, so the deeper searches of :func:`find_root` would suggest unrelated folders.
    """
    expected = "two or more class folders (happy/, sad/, ...) holding images"
    root = find_root(root, dataset="classfolder", marker=lambda p: True, expected=expected)  # exists, is a folder
    if _is_root(root):
        return root
    direct = any(f.is_file() and f.suffix.lower() in CLASS_EXTENSIONS for f in root.iterdir())
    parent = root.resolve().parent
    if direct and _is_root(parent):
        raise WrongRootError(f"classfolder: data_root {root} is 1 level too low (it is one class folder): set "
                             f"data_root={str(parent)!r}, the folder that contains {expected}.")
    inner = [c for c in subfolders(root) if _is_root(c)]
    if inner:
        raise WrongRootError(f"classfolder: data_root {root} is one level too high: the dataset starts at "
                             f"{inner[0]}. Set data_root={str(inner[0])!r}.")
    raise WrongRootError(f"classfolder: {root} does not look like a class-folder dataset: expected it to contain "
                         f"{expected}.")


class ClassFolders(FileDataset):
    """A dataset of class folders (see ``LAYOUT``).

    Args:
        root: the folder holding the class folders (or the split folders).
        class_map: folder name -> one of :data:`BOOK_CLASSES` (or a spelling of one), or None
            to leave that folder out. Names not in the map are read with the usual spellings.
        subject_pattern: regular expression that takes the subject id from an image's path
            inside its class folder (group ``subject``, else group 1, else the match).
        **kwargs: as :class:`fer_core.data.files.FileDataset`.

    ``meta`` columns: path, subject, expression, folder (the class folder's name), split
    (with split folders). Attributes: ``excluded`` (folders mapped to None), ``ignored``
    (non-image files found in class folders, with a warning), ``subjects_known``.
    """

    name = "classfolder"
    title = "class-folder dataset"
    LAYOUT = LAYOUT
    detect_faces = True
    subjects_hint = (f"Give a subject_pattern (a regular expression whose group 'subject' takes the person's id "
                     f"from each file name) in real_options or in {OPTIONS_FILE} for subject-independent folds.")

    def __init__(self, root, *, class_map: Mapping[str, str | None] | None = None,
                 subject_pattern: str | None = None, **kwargs: Any):
        self._given = {"class_map": class_map, "subject_pattern": subject_pattern}
        self.excluded: list[str] = []
        self.ignored: list[str] = []
        super().__init__(root, **kwargs)

    # -- options
    def _options(self, root: Path) -> tuple[dict[str, str | None], re.Pattern | None]:
        file_opts: dict[str, Any] = {}
        path = root / OPTIONS_FILE
        if path.is_file():
            try:
                file_opts = json.loads(path.read_text(encoding="utf-8-sig"))
            except (OSError, ValueError) as exc:
                raise LabelFileError(f"classfolder: {path} is not valid JSON ({exc}). Fix it (keys: "
                                     f"{', '.join(_OPTION_KEYS)}) or delete it.") from None
            unknown = sorted(set(file_opts) - set(_OPTION_KEYS)) if isinstance(file_opts, dict) else ["(not an object)"]
            if unknown:
                raise LabelFileError(f"classfolder: {path} has unknown key(s) {unknown}; it may hold only "
                                     f"{', '.join(_OPTION_KEYS)}.")
        class_map = self._given["class_map"] if self._given["class_map"] is not None else file_opts.get("class_map")
        pattern = self._given["subject_pattern"] if self._given["subject_pattern"] is not None \
            else file_opts.get("subject_pattern")
        where = "class_map" if self._given["class_map"] is not None else f"class_map in {path}"
        mapping: dict[str, str | None] = {}
        for folder, target in dict(class_map or {}).items():
            if target is None:
                mapping[str(folder)] = None
                continue
            cls = str(target) if str(target) in BOOK_CLASSES else canonical_class(str(target))
            if cls not in BOOK_CLASSES:
                raise UnknownClassError(f"classfolder: {where} maps {folder!r} to {target!r}, which is not one of the "
                                        f"book's classes ({', '.join(BOOK_CLASSES)}).")
            mapping[str(folder)] = cls
        compiled = None
        if pattern is not None:
            try:
                compiled = re.compile(str(pattern))
            except re.error as exc:
                raise ValueError(f"classfolder: subject_pattern {pattern!r} is not a valid regular expression "
                                 f"({exc}).") from None
        return mapping, compiled

    def _class_of(self, folder: str, mapping: Mapping[str, str | None]) -> tuple[bool, str | None]:
        """(known, class or None to exclude) for a folder name."""
        if folder in mapping:
            return True, mapping[folder]
        lowered = {k.lower(): v for k, v in mapping.items()}
        if folder.lower() in lowered:
            return True, lowered[folder.lower()]
        if folder.lower() in BOOK_CLASSES:
            return True, folder.lower()
        cls = canonical_class(folder)
        return (cls is not None), cls

    # -- scan
    def scan(self) -> pd.DataFrame:
        root = _find_root(self.root)
        self.root = root
        mapping, pattern = self._options(root)
        self.subjects_known = pattern is not None
        splits = [(SPLIT_NAMES[s.name.lower()], s) for s in subfolders(root)] if _split_layout(root) else [(None, root)]
        folders = [(split, f) for split, base in splits for f in subfolders(base)]
        unknown = sorted({f.name for _, f in folders if not self._class_of(f.name, mapping)[0]})
        if unknown:
            example = ", ".join(f"{n!r}: 'neutral'" for n in unknown[:2])
            raise UnknownClassError(
                f"classfolder: the class folder name(s) {', '.join(map(repr, unknown))} in {root} are not classes this "
                f"book knows ({', '.join(BOOK_CLASSES)}, or spellings such as {', '.join(sorted(CLASS_ALIASES)[:6])}, "
                f"...). Map each to one of them, or to null to leave it out: pass class_map={{{example}}} (the "
                f"real_options of a chapter's data), or write {{\"class_map\": {{{example}}}}} into "
                f"{root / OPTIONS_FILE}.")
        stray = [f for _, base in splits for f in list_images(base, extensions=CLASS_EXTENSIONS)]
        if stray:
            warnings.warn(f"classfolder: {len(stray)} image(s) lie in {stray[0].parent} outside any class folder and "
                          f"are not used, e.g. {stray[0].name}; move them into their class folder.", stacklevel=4)
        rows, unmatched = [], []
        for split, folder in folders:
            cls = self._class_of(folder.name, mapping)[1]
            if cls is None:
                self.excluded.append(folder.relative_to(root).as_posix())
                continue
            images, others = class_images(folder, dataset="classfolder")
            self.ignored.extend(p.relative_to(root).as_posix() for p in others)
            for f in images:
                inside = f.relative_to(folder).as_posix()
                rel = f.relative_to(root).as_posix()
                if pattern is None:
                    subject = rel.rsplit(".", 1)[0]
                else:
                    m = pattern.search(inside)
                    if m is None:
                        unmatched.append((rel, inside))
                        continue
                    subject = m.group("subject") if "subject" in pattern.groupindex else (
                        m.group(1) if pattern.groups else m.group(0))
                rows.append({"path": rel, "subject": str(subject), "folder": folder.name, "cls": cls,
                             **({"split": split} if split else {})})
        if unmatched:
            raise LabelFileError(
                f"classfolder: subject_pattern {pattern.pattern!r} matches no subject in {len(unmatched)} file "
                f"name(s), "
                f"e.g. {root / unmatched[0][0]} (it is searched in the path inside the class folder, "
                f"{unmatched[0][1]!r}). Fix the pattern, or rename those files.")
        if self.excluded:
            warnings.warn(f"classfolder: {len(self.excluded)} folder(s) mapped to null are left out: "
                          f"{', '.join(self.excluded)}.", LeftOutOnRequest, stacklevel=4)
        if self.ignored:
            warnings.warn(f"classfolder: {len(self.ignored)} file(s) in class folders are not images "
                          f"({' '.join(CLASS_EXTENSIONS)}) and are not used, e.g. {self.ignored[0]}; see "
                          "dataset.ignored.", stacklevel=4)
        present = {r["cls"] for r in rows}
        self.classes = tuple(c for c in BOOK_CLASSES if c in present)
        columns = ["path", "subject", "expression", "folder"] + (["split"] if splits[0][0] else [])
        meta = pd.DataFrame(rows)
        if not len(meta):
            return pd.DataFrame(columns=columns)
        meta["expression"] = [self.classes.index(c) for c in meta["cls"]]
        return meta[columns]
