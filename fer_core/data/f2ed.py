"""F2ED-style folders: fine-grained expressions x identities x views (Comp-GAN, FaPE-GAN).

F2ED (Fine-grained Facial Expression Database) holds 219,719 aligned 256x256 face crops
of 119 identities, each filmed by four cameras - half left and half right (45 degrees
to the side), front, and a bird view (30 degrees above) - while expressing 54
fine-grained expressions (acceptance, anger, bravery, calm, ...). Every image carries
identity, view and expression labels; FaPE-GAN adds 68 dlib landmarks per image.

The papers describe the labels but no file layout, so this adapter reads the nesting
they imply, one folder level per label::

    <identity>/<view>/<expression>/<frame>.jpg   (optional <frame>.txt: 68 lines "x y")

View folders may be spelled ``half_left``/``front``/``half_right``/``bird_view`` or
``HL``/``F``/``HR``/``BV`` (``VIEW_ALIASES``); they become the views ``half_left``,
``front``, ``half_right``, ``bird`` (those of :mod:`fer_core.data.base`). Expression
folder names are the class names; ``classes`` is their sorted union unless given.
The task protocols (ER-SS ... ER-UP) are in :mod:`fer_core.data.f2ed_tasks`.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from fer_core.data.files import (
    FileDataset, LabelFileError, UnknownClassError, find_root, list_images, read_image, read_text,
)
from fer_core.data.f2ed_tasks import TaskSplit, f2ed_task

__all__ = ["F2ED", "LAYOUT", "F2ED_VIEWS", "VIEW_ALIASES", "canonical_view"]

LAYOUT = """\
data_root/
  001/ 002/ ...                              identity (any folder name; 119 in F2ED)
    half_left/ front/ half_right/ bird_view/ view (or HL/ F/ HR/ BV/)
      acceptance/ anger/ bravery/ ...        expression (54 in F2ED; folder name = class name)
        00000.jpg 00001.jpg ...              aligned face crops (256x256 in F2ED), key frames in order
        00000.txt ...                        optional: 68 landmark lines "x y" (pixel coordinates)
"""

F2ED_VIEWS: tuple[str, ...] = ("half_left", "front", "half_right", "bird")
VIEW_ALIASES: dict[str, str] = {
    "half_left": "half_left", "halfleft": "half_left", "hl": "half_left", "left": "half_left",
    "front": "front", "frontal": "front", "f": "front",
    "half_right": "half_right", "halfright": "half_right", "hr": "half_right", "right": "half_right",
    "bird": "bird", "bird_view": "bird", "birdview": "bird", "bv": "bird", "top": "bird",
}
N_LANDMARKS = 68


def canonical_view(name: str) -> str | None:
    """``"HL"`` / ``"half-left"`` -> ``"half_left"``; None for a name that is no F2ED view."""
    return VIEW_ALIASES.get(re.sub(r"[\s\-]+", "_", str(name).strip().lower()))


def _natural(s: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def _dirs(p: Path) -> list[Path]:
    return sorted((c for c in p.iterdir() if c.is_dir() and not c.name.startswith(".")), key=lambda c: _natural(c.name))


def _is_f2ed_root(p: Path) -> bool:
    if not p.is_dir():
        return False
    for ident in _dirs(p)[:8]:
        if any(canonical_view(v.name) for v in _dirs(ident)):
            return True
    return False


def parse_landmarks(path: Path) -> np.ndarray:
    """``(68, 2)`` float32 from a sidecar ``<frame>.txt``; LabelFileError when malformed."""
    text = read_text(path, dataset="F2ED", what="landmark file", fix="Regenerate or delete it.")
    try:
        pts = np.array([[float(v) for v in ln.replace(",", " ").split()] for ln in text.splitlines() if ln.strip()],
                       dtype=np.float32)
    except ValueError:
        raise LabelFileError(f"F2ED: landmark file {path} holds non-numbers; expected 68 lines 'x y'. "
                             "Regenerate or delete it.") from None
    if pts.shape != (N_LANDMARKS, 2):
        raise LabelFileError(f"F2ED: landmark file {path} has shape {pts.shape}; expected 68 lines 'x y'. "
                             "Regenerate or delete it.")
    return pts


class F2ED(FileDataset):
    """F2ED-style identity/view/expression folders (see ``LAYOUT``).

    Args:
        root: the folder holding the identity folders.
        classes: the expression class names in label order; default the sorted expression
            folder names found. With ``classes`` given, any other folder raises
            :class:`~fer_core.data.files.UnknownClassError`.
        views: keep only these views (names or aliases); default all four.
        **kwargs: as :class:`fer_core.data.files.FileDataset`.

    ``meta`` columns: path, subject (identity folder), view (``F2ED_VIEWS``), expression,
    sequence (``<identity>/<view>/<expression>``), frame (rank within its folder).
    ``item["view"]`` indexes ``dataset.views`` in the order half_left, front, half_right, bird.
    Landmarks are returned when every image has a sidecar ``.txt`` (``has_landmarks``); without
    them the optional face detector (``faces="auto"`` with the faces extra installed) finds the
    68 points, which FaPE-GAN's pose maps need.
    """

    name = "f2ed"
    LAYOUT = LAYOUT

    @property
    def landmark_files(self) -> bool:
        """Every image has its ``<frame>.txt`` of 68 points (then ``meta`` lists them)."""
        return "landmarks" in self.meta.columns

    @property
    def detect_faces(self) -> bool:  # no landmark files: let the detector give the 68 points
        return not self.landmark_files

    def __init__(self, root, *, classes: Sequence[str] | None = None, views: Sequence[str] | None = None, **kwargs):
        self._given_classes = tuple(classes) if classes is not None else None
        if self._given_classes is not None and len(set(self._given_classes)) != len(self._given_classes):
            raise ValueError(f"classes must be distinct, got {list(classes)}")
        if views is None:
            self.keep_views = F2ED_VIEWS
        else:
            wanted = [canonical_view(v) for v in ((views,) if isinstance(views, str) else views)]
            if None in wanted:
                raise ValueError(f"views must be among {list(F2ED_VIEWS)} (or {sorted(VIEW_ALIASES)}), got {views!r}")
            self.keep_views = tuple(v for v in F2ED_VIEWS if v in wanted)
        self.has_landmarks = False
        super().__init__(root, **kwargs)

    def cache_options(self):
        return {"classes": list(self.classes)}

    def _setup(self, meta: pd.DataFrame) -> None:
        super()._setup(meta)
        present = set(self.meta["view"])
        self._views = tuple(v for v in F2ED_VIEWS if v in present)
        if hasattr(self, "_index_columns"):
            self._index_columns()

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="F2ED", marker=_is_f2ed_root,
                         expected="identity folders, each with view folders (half_left/ front/ half_right/ bird_view/)")
        self.root = root
        records, n_lm = [], 0
        for ident in _dirs(root):
            for vdir in _dirs(ident):
                view = canonical_view(vdir.name)
                if view is None:
                    raise UnknownClassError(
                        f"F2ED: {vdir} is not a view folder; views are {list(F2ED_VIEWS)} (or HL, F, HR, BV). "
                        "Rename or remove it.")
                stray = list_images(vdir)
                if stray:
                    raise LabelFileError(f"F2ED: {stray[0]} lies directly in a view folder; images belong in "
                                         f"<identity>/<view>/<expression>/ (the folder name is the label).")
                if view not in self.keep_views:
                    continue
                for edir in _dirs(vdir):
                    images = sorted(list_images(edir), key=lambda f: _natural(f.name))
                    for rank, f in enumerate(images):
                        lm = f.with_suffix(".txt")
                        has = lm.is_file()
                        n_lm += has
                        records.append((f.relative_to(root).as_posix(), ident.name, view, edir.name,
                                        f"{ident.name}/{view}/{edir.name}", rank,
                                        lm.relative_to(root).as_posix() if has else ""))
        meta = pd.DataFrame(records, columns=["path", "subject", "view", "expression_name", "sequence", "frame",
                                              "landmarks"])
        found = sorted(meta["expression_name"].unique(), key=_natural)
        if self._given_classes is not None:
            unknown = [c for c in found if c not in self._given_classes]
            if unknown:
                raise UnknownClassError(f"F2ED: expression folder(s) {unknown[:5]} under {root} are not in the given "
                                        f"classes ({len(self._given_classes)} names). Add them to classes= or remove "
                                        "the folders.")
            self.classes = self._given_classes
        else:
            self.classes = tuple(found)
        code = {c: i for i, c in enumerate(self.classes)}
        meta["expression"] = meta["expression_name"].map(code).astype(np.int64) if len(meta) else []
        if 0 < n_lm < len(meta):
            warnings.warn(f"F2ED: only {n_lm} of {len(meta)} images have a landmark file; landmarks are not used. "
                          "Provide one <frame>.txt per image (68 lines 'x y') to use them.", stacklevel=3)
        self.has_landmarks = len(meta) > 0 and n_lm == len(meta)
        return meta.drop(columns=["expression_name"]) if self.has_landmarks else meta.drop(
            columns=["expression_name", "landmarks"])

    def read(self, i: int):
        image = read_image(self.root / self.meta.at[i, "path"])
        if not self.landmark_files:
            return image, None
        return image, parse_landmarks(self.root / self.meta.at[i, "landmarks"])

    def task(self, task: str, *, shots: int | None = None, seed: int = 0, **options) -> TaskSplit:
        """One of the F2ED tasks on this dataset (:func:`fer_core.data.f2ed_tasks.f2ed_task`)."""
        return f2ed_task(self.meta, task, shots=shots, seed=seed, **options)
