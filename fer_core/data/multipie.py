"""CMU Multi-PIE, expression subset: six expressions under five yaws.

FESR and Switch-GAN follow the same setting: 270 subjects, the expressions neutral,
smile, surprise, squint, disgust and scream, and the cameras at -30, -15, 0, +15 and +30
degrees of yaw (1,531 images per pose, 7,655 in all), evaluated by subject-independent
5-fold cross-validation.

The expression is fixed by (session, recording) in the publisher's capture protocol:

======== ============ ============ ============
session  recording 01 recording 02 recording 03
======== ============ ============ ============
01       neutral      smile
02       neutral      surprise     squint
03       neutral      smile        disgust
04       neutral      neutral      scream
======== ============ ============ ============

and the yaw by the camera: 13_0 -30, 14_0 -15, 05_1 0, 05_0 +15, 04_1 +30 degrees.
Flash ``illuminations`` default to 07 (frontal-ish light, one image per recording and
camera); pass ``illuminations=None`` for all twenty. Faces are centre-cropped (the
release ships no landmarks for these images).

:class:`MultiPIEAttributes` reads the variant that public expression-transfer code
uses: aligned crops listed in CelebA-style attribute files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from fer_core.data.files import (
    FileDataset, LabelFileError, MissingFolderError, UnknownClassError, find_root, has_all, list_images, read_text,
    subfolders,
)

__all__ = ["MultiPIE", "MultiPIEAttributes", "LAYOUT", "LAYOUT_ATTRIBUTES", "MULTIPIE_CLASSES", "CAMERA_YAW",
           "RECORDING_EXPRESSION"]

LAYOUT = """\
data_root/
  data/
    session01/ ... session04/
      multiview/
        001/ ... 346/                     subject
          01/ 02/ 03/                     recording (the expression, by session)
            13_0/ 14_0/ 05_1/ 05_0/ 04_1/ camera (yaw -30 -15 0 +15 +30)
              001_01_01_051_07.png        subject_session_recording_camera_flash.png
"""

LAYOUT_ATTRIBUTES = """\
data_root/
  list_attr_multipie_train.txt     CelebA style: line 1 the image count, line 2 attribute names,
  list_attr_multipie_test.txt      then "<image> v1 v2 ..." with +1/-1 (or 1/0) per attribute
  align_5p/train_0001.jpg ...      the images: the first token of each line, or <split>_<row:04d>.jpg
"""

MULTIPIE_CLASSES: tuple[str, ...] = ("neutral", "smile", "surprise", "squint", "disgust", "scream")
RECORDING_EXPRESSION: dict[tuple[int, int], str] = {
    (1, 1): "neutral", (1, 2): "smile",
    (2, 1): "neutral", (2, 2): "surprise", (2, 3): "squint",
    (3, 1): "neutral", (3, 2): "smile", (3, 3): "disgust",
    (4, 1): "neutral", (4, 2): "neutral", (4, 3): "scream",
}
CAMERA_YAW: dict[str, float] = {"13_0": -30.0, "14_0": -15.0, "05_1": 0.0, "05_0": 15.0, "04_1": 30.0}
_NAME_RE = re.compile(r"^(\d{3})_(\d{2})_(\d{2})_(\d{3})_(\d{2})$")


class MultiPIE(FileDataset):
    """Multi-PIE's expression subset in the publisher's layout (see ``LAYOUT``).

    Args:
        root: the folder that holds ``data/``.
        cameras: camera ids to include (default the five of ``CAMERA_YAW``).
        illuminations: flash numbers to include (default ``(7,)``); None for all.
        **kwargs: as :class:`fer_core.data.files.FileDataset`.

    ``meta`` columns: path, subject, session, recording, camera, yaw, illumination, expression.
    """

    name = "multipie"
    LAYOUT = LAYOUT
    classes = MULTIPIE_CLASSES

    def __init__(self, root, *, cameras: Sequence[str] = tuple(CAMERA_YAW),
                 illuminations: Sequence[int] | None = (7,), **kwargs):
        unknown = [c for c in cameras if c not in CAMERA_YAW]
        if unknown:
            raise ValueError(f"cameras must be among {list(CAMERA_YAW)} (the five yaws of the papers), got {unknown}")
        self.cameras = tuple(cameras)
        self.illuminations = None if illuminations is None else tuple(int(i) for i in illuminations)
        super().__init__(root, **kwargs)

    @classmethod
    def from_attribute_list(cls, root, **kwargs) -> "MultiPIEAttributes":
        """The CelebA-style attribute-list variant (:class:`MultiPIEAttributes`)."""
        return MultiPIEAttributes(root, **kwargs)

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="Multi-PIE", marker=lambda p: (p / "data").is_dir() and any(
            (p / "data").glob("session0[1-4]")), expected="data/session01 ... data/session04")
        self.root = root
        rows = []
        for session_dir in sorted((root / "data").glob("session0[1-4]")):
            session = int(session_dir.name[-2:])
            mv = session_dir / "multiview"
            if not mv.is_dir():
                raise MissingFolderError(f"Multi-PIE: {mv} is missing; the expression images live in "
                                         "data/sessionNN/multiview/. Re-extract that session.")
            for subj in subfolders(mv):
                for rec in subfolders(subj):
                    key = (session, int(rec.name)) if rec.name.isdigit() else None
                    if key not in RECORDING_EXPRESSION:
                        raise UnknownClassError(
                            f"Multi-PIE: recording folder {rec} is not a recording of session {session:02d} "
                            f"(known: {sorted(r for s, r in RECORDING_EXPRESSION if s == session)}). Remove it.")
                    expr = RECORDING_EXPRESSION[key]
                    for cam in self.cameras:
                        cam_dir = rec / cam
                        if not cam_dir.is_dir():
                            continue
                        for f in list_images(cam_dir):
                            m = _NAME_RE.match(f.stem)
                            if m is None or m.group(4) != cam.replace("_", ""):
                                raise LabelFileError(
                                    f"Multi-PIE: {f} is not named subject_session_recording_camera_flash.png for "
                                    f"camera {cam}; rename or remove it.")
                            flash = int(m.group(5))
                            if self.illuminations is not None and flash not in self.illuminations:
                                continue
                            rows.append({"path": f.relative_to(root).as_posix(), "subject": m.group(1),
                                         "session": session, "recording": int(rec.name), "camera": cam,
                                         "yaw": CAMERA_YAW[cam], "illumination": flash,
                                         "expression": self.classes.index(expr)})
        return pd.DataFrame(rows, columns=["path", "subject", "session", "recording", "camera", "yaw",
                                           "illumination", "expression"])


_ATTR_ALIASES = {
    "neutral": "neutral", "natural": "neutral", "smile": "smile", "smiling": "smile", "happy": "smile",
    "surprise": "surprise", "surp": "surprise", "squint": "squint", "disgust": "disgust", "disg": "disgust",
    "scream": "scream",
}


def parse_attribute_list(path: Path) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """(attribute names, [(image token, values)]) of a CelebA-style list; LabelFileError when malformed."""
    fix = "The file must follow the CelebA attribute-list syntax (count, names, then one line per image)."
    lines = [ln for ln in read_text(path, dataset="Multi-PIE", what="attribute list", fix=fix).splitlines() if ln.strip()]
    if len(lines) < 2:
        raise LabelFileError(f"Multi-PIE: attribute list {path} has {len(lines)} line(s); expected a count, the "
                             f"attribute names, then the images. {fix}")
    try:
        count = int(lines[0].split()[0])
    except ValueError:
        raise LabelFileError(f"Multi-PIE: {path} line 1 is {lines[0]!r}, not the image count. {fix}") from None
    names = lines[1].split()
    entries = []
    for n, ln in enumerate(lines[2:], start=3):
        tok = ln.split()
        if len(tok) != len(names) + 1:
            raise LabelFileError(f"Multi-PIE: {path} line {n} has {len(tok) - 1} values for {len(names)} attributes. {fix}")
        try:
            vals = [int(v) for v in tok[1:]]
        except ValueError:
            raise LabelFileError(f"Multi-PIE: {path} line {n} holds a non-integer value: {ln.strip()!r}. {fix}") from None
        if any(v not in (-1, 0, 1) for v in vals):
            raise LabelFileError(f"Multi-PIE: {path} line {n} holds values other than +1/-1/0. {fix}")
        entries.append((tok[0], vals))
    if count != len(entries):
        raise LabelFileError(f"Multi-PIE: {path} announces {count} images but lists {len(entries)}; the file is "
                             f"truncated or edited. {fix}")
    return names, entries


class MultiPIEAttributes(FileDataset):
    """Multi-PIE as public expression-transfer code ships it (see ``LAYOUT_ATTRIBUTES``).

    Each image has exactly one positive expression attribute among the six classes
    (other attributes are ignored). The two list files give the official ``split``.
    Subjects are recovered from Multi-PIE file names (``001_01_01_051_07``) where the
    images keep them; otherwise ``subject`` is ``"unknown"`` and only the official split
    applies (subject-independent folds need the original layout).

    Args:
        root: the folder holding the two list files.
        image_dir: the images' folder inside ``root`` (default ``align_5p``).
        **kwargs: as :class:`fer_core.data.files.FileDataset`.
    """

    name = "multipie_attr"
    LAYOUT = LAYOUT_ATTRIBUTES
    classes = MULTIPIE_CLASSES

    def __init__(self, root, *, image_dir: str = "align_5p", **kwargs):
        self.image_dir = image_dir
        super().__init__(root, **kwargs)

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="Multi-PIE (attribute lists)",
                         marker=has_all("list_attr_multipie_train.txt"),
                         expected="list_attr_multipie_train.txt and list_attr_multipie_test.txt")
        self.root = root
        images = root / self.image_dir
        if not images.is_dir():
            raise MissingFolderError(f"Multi-PIE: image folder {images} is missing; extract the aligned images "
                                     "there or pass image_dir= with the folder's name.")
        rows = []
        for split in ("train", "test"):
            path = root / f"list_attr_multipie_{split}.txt"
            names, entries = parse_attribute_list(path)
            cols = {i: _ATTR_ALIASES[n.lower()] for i, n in enumerate(names) if n.lower() in _ATTR_ALIASES}
            if len(set(cols.values())) < 2:
                raise LabelFileError(f"Multi-PIE: {path} names no expression attributes among {names}; expected "
                                     f"some of {', '.join(MULTIPIE_CLASSES)}.")
            for n, (token, vals) in enumerate(entries):
                on = [cols[i] for i in cols if vals[i] == 1]
                if len(on) != 1:
                    raise LabelFileError(f"Multi-PIE: {path} image {token} has {len(on)} positive expression "
                                         f"attributes ({on}); exactly one is expected.")
                f = images / token
                if not f.is_file():
                    f = images / f"{split}_{n + 1:04d}.jpg"
                if not f.is_file():
                    raise LabelFileError(f"Multi-PIE: {path} lists {token}, but neither {images / token} nor {f} "
                                         "exists. Check image_dir=.")
                m = _NAME_RE.match(Path(token).stem)
                rows.append({"path": f.relative_to(root).as_posix(), "subject": m.group(1) if m else "unknown",
                             "split": split, "expression": self.classes.index(on[0])})
        return pd.DataFrame(rows, columns=["path", "subject", "split", "expression"])
