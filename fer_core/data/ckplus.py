"""CK+ (Extended Cohn-Kanade): the publisher's layout, and the "CK+48" class-folder variant.

CK+ holds 593 posed sequences of 123 subjects, each from neutral to the apex of one
expression; 327 sequences (118 subjects) carry an emotion label, which belongs to the
last (peak) frame. Every frame of a labelled sequence becomes one row of ``meta`` with
the sequence's label; the frame rules of :mod:`fer_core.data.protocols` pick the frames
a paper uses (FESR: the last three for training, the last for testing; GroupGAN: frames
6-8 as weak, the last as peak). Unlabelled sequences are left out and counted in
``n_unlabeled``.

Emotion codes in the label files: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear,
5 happiness, 6 sadness, 7 surprise. ``classes`` are the seven emotions in that order
(code - 1); ``neutral=True`` adds neutral as class 0, so that the class index equals the
publisher's code.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from fer_core.data.files import (
    FileDataset, LabelFileError, MissingFolderError, UnknownClassError, canonical_class, find_root, has_all,
    list_images, read_image, read_text,
    subfolders,
    folder_class,
)

__all__ = ["CKPlus", "CKPlus48", "LAYOUT", "LAYOUT_48", "CK_CODES"]

LAYOUT = """\
data_root/
  cohn-kanade-images/S005/001/S005_001_00000001.png ...   frames (640x490 or 640x480, mostly 8-bit grey)
  Emotion/S005/001/S005_001_00000011_emotion.txt         one float code 0-7 (e.g. "   3.0000000e+00"),
                                                         only for labelled sequences, named after the last frame
  Landmarks/S005/001/S005_001_00000001_landmarks.txt     optional: 68 lines "x y" (pixel coordinates)
"""

LAYOUT_48 = """\
data_root/
  anger/ contempt/ disgust/ fear/ happy/ sadness/ surprise/   one folder per class
    S010_004_00000017.png ...                                  48x48 grey crops named subject_sequence_frame
"""

CK_CODES: tuple[str, ...] = ("neutral", "anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")

_FRAME_RE = re.compile(r"^(S\d+)_(\d+)_(\d+)$")
_EMO_RE = re.compile(r"^(S\d+)_(\d+)_(\d+)_emotion$")


def _fix() -> str:
    return "Re-extract Emotion_labels.zip from the CK+ distribution into data_root."


def parse_emotion_file(path: Path, *, neutral: bool) -> int:
    """The publisher's code (0-7) in one ``*_emotion.txt``; LabelFileError / UnknownClassError otherwise."""
    text = read_text(path, dataset="CK+", what="emotion label file", fix=_fix())
    tokens = text.split()
    if len(tokens) != 1:
        raise LabelFileError(f"CK+: emotion label file {path} should hold one number, found {len(tokens)} tokens "
                             f"({text.strip()[:40]!r}). {_fix()}")
    try:
        value = float(tokens[0])
    except ValueError:
        raise LabelFileError(f"CK+: emotion label file {path} holds {tokens[0]!r}, not a number. {_fix()}") from None
    code = int(round(value))
    if abs(value - code) > 1e-6 or not 0 <= code <= 7:
        raise UnknownClassError(f"CK+: emotion label file {path} holds code {value:g}; CK+ codes are 0-7 "
                                f"({', '.join(f'{i} {c}' for i, c in enumerate(CK_CODES))}). {_fix()}")
    if code == 0 and not neutral:
        raise UnknownClassError(f"CK+: emotion label file {path} holds code 0 (neutral), which is not one of the "
                                "seven emotion classes; pass neutral=True to keep neutral as a class.")
    return code


def parse_landmarks_file(path: Path) -> np.ndarray:
    """``(68, 2)`` float32 from one ``*_landmarks.txt``; LabelFileError when malformed."""
    text = read_text(path, dataset="CK+", what="landmark file", fix="Re-extract Landmarks.zip into data_root.")
    try:
        arr = np.array([[float(v) for v in line.split()] for line in text.splitlines() if line.strip()], dtype=np.float64)
    except ValueError as exc:
        raise LabelFileError(f"CK+: landmark file {path} holds a non-number ({exc}). "
                             "Re-extract Landmarks.zip into data_root.") from None
    if arr.shape != (68, 2):
        raise LabelFileError(f"CK+: landmark file {path} should hold 68 lines of 'x y', found shape {arr.shape}. "
                             "Re-extract Landmarks.zip into data_root.")
    return arr.astype(np.float32)


class CKPlus(FileDataset):
    """CK+ in the publisher's layout (see ``LAYOUT``).

    Args:
        root: the folder holding ``cohn-kanade-images/`` and ``Emotion/``.
        neutral: add *neutral* as class 0 (class index = publisher code); needed when a
            protocol relabels first frames as neutral.
        landmarks: use ``Landmarks/`` for alignment and return ``item["landmarks"]``
            (ignored when the folder is absent; then faces are centre-cropped).
        **kwargs: ``size``, ``grayscale``, ``align``, ``cache``, ``cache_dir``,
            ``skip_bad``, ``transform``, ``workers`` of :class:`FileDataset`.

    ``meta`` columns: path, subject (``S005``), sequence (``S005_001``), frame (0-based),
    frame_number (the file's), n_frames, expression, code, landmarks (file or "").
    """

    name = "ckplus"
    LAYOUT = LAYOUT

    def __init__(self, root, *, neutral: bool = False, landmarks: bool = True, **kwargs):
        self.neutral = bool(neutral)
        self.use_landmarks = bool(landmarks)
        self.classes = CK_CODES if self.neutral else CK_CODES[1:]
        super().__init__(root, **kwargs)

    def scan(self) -> pd.DataFrame:
        root = find_root(
            self.root, dataset="CK+", marker=has_all("cohn-kanade-images"),
            expected="cohn-kanade-images/ and Emotion/",
            missing=lambda r: (f"{r / 'cohn-kanade-images'} is missing (found Emotion/ only): extract "
                               f"extended-cohn-kanade-images.zip into {r}.") if (r / "Emotion").is_dir() else None,
        )
        self.root = root
        images, emotion = root / "cohn-kanade-images", root / "Emotion"
        if not emotion.is_dir():
            raise MissingFolderError(f"CK+: {emotion} is missing: extract Emotion_labels.zip from the CK+ "
                                     f"distribution into {root} (the labels are not in the image archive).")
        lm_dir = root / "Landmarks"
        self.has_landmarks = self.use_landmarks and lm_dir.is_dir()
        labels: dict[tuple[str, str], int] = {}
        for subj in subfolders(emotion):
            for seq in subfolders(subj):
                files = sorted(f for f in seq.glob("*_emotion.txt") if not f.name.startswith("."))
                if len(files) > 1:
                    raise LabelFileError(f"CK+: {seq} holds {len(files)} emotion files; a sequence has one. "
                                         f"Remove the extra files ({', '.join(f.name for f in files)}).")
                if files:
                    labels[(subj.name, seq.name)] = parse_emotion_file(files[0], neutral=self.neutral)
        rows, unrecognized = [], []
        self.n_unlabeled = 0
        for (subj, seq), code in sorted(labels.items()):
            folder = images / subj / seq
            if not folder.is_dir():
                raise MissingFolderError(f"CK+: {emotion / subj / seq} labels a sequence whose frames folder {folder} "
                                         "does not exist; re-extract extended-cohn-kanade-images.zip.")
            frames = []
            for f in list_images(folder):
                m = _FRAME_RE.match(f.stem)
                if m is None or m.group(1) != subj:
                    unrecognized.append(f)
                    continue
                frames.append((int(m.group(3)), f))
            frames.sort()
            for rank, (num, f) in enumerate(frames):
                lm = lm_dir / subj / seq / f"{f.stem}_landmarks.txt"
                rows.append({
                    "path": f.relative_to(root).as_posix(), "subject": subj, "sequence": f"{subj}_{seq}",
                    "frame": rank, "frame_number": num, "n_frames": len(frames),
                    "expression": code if self.neutral else code - 1, "code": code,
                    "landmarks": lm.relative_to(root).as_posix() if self.has_landmarks and lm.is_file() else "",
                })
        if images.is_dir():
            labeled = set(labels)
            self.n_unlabeled = sum(1 for s in images.iterdir() if s.is_dir() and not s.name.startswith(".")
                                   for q in s.iterdir() if q.is_dir() and (s.name, q.name) not in labeled)
        self.unrecognized = unrecognized
        if unrecognized:
            warnings.warn(f"CK+: {len(unrecognized)} image(s) not named Sxxx_yyy_zzzzzzzz were ignored, e.g. "
                          f"{unrecognized[0]}; see dataset.unrecognized.", stacklevel=3)
        meta = pd.DataFrame(rows, columns=["path", "subject", "sequence", "frame", "frame_number", "n_frames",
                                           "expression", "code", "landmarks"])
        if self.has_landmarks and self.align:
            n_missing = int((meta["landmarks"] == "").sum())
            if n_missing:
                warnings.warn(f"CK+: {n_missing} frame(s) have no landmark file and are centre-cropped instead of "
                              "aligned.", stacklevel=3)
        return meta

    def read(self, i: int):
        image = read_image(self.root / self.meta.at[i, "path"])
        lm_rel = self.meta.at[i, "landmarks"]
        lm = parse_landmarks_file(self.root / lm_rel) if lm_rel else None
        return image, lm

    def cache_options(self):
        return {"landmarks": self.has_landmarks}


class CKPlus48(FileDataset):
    """The widely shared "CK+48" variant: class folders of 48x48 crops (see ``LAYOUT_48``).

    Subject, sequence and frame come from the file names (``S010_004_00000017.png``).
    Only the last frames of each sequence are present, so ``frame`` is the original
    0-based frame index and ``n_frames`` the largest frame number seen in the sequence.

    Args:
        root: the folder holding the class folders.
        **kwargs: as :class:`FileDataset`.
    """

    name = "ckplus48"
    LAYOUT = LAYOUT_48
    classes = CK_CODES[1:]

    def __init__(self, root, **kwargs):
        super().__init__(root, **kwargs)

    @staticmethod
    def _is_root(p: Path) -> bool:
        """Three or more CK+ class folders, with images named like CK+ frames (``S010_004_00000017``):
        other class-folder datasets (one's own photos) are left to the ``classfolder`` reader."""
        try:
            folders = [c for c in p.iterdir() if c.is_dir() and canonical_class(c.name) in CK_CODES[1:]]
        except OSError:
            return False
        return len(folders) >= 3 and any(_FRAME_RE.match(f.stem) for c in folders for f in list_images(c))

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="CK+48", marker=self._is_root,
                         expected="the class folders anger/ contempt/ disgust/ fear/ happy/ sadness/ surprise/")
        self.root = root
        rows = []
        for folder in subfolders(root):
            cls = folder_class(folder, self.classes, what="CK+48: class folder",
                               expected=f"{', '.join(self.classes)} (or their usual spellings happy/sad/angry)")
            for f in list_images(folder):
                m = _FRAME_RE.match(f.stem)
                if m is None:
                    raise LabelFileError(f"CK+48: file {f} is not named Sxxx_yyy_zzzzzzzz.png, so its subject and "
                                         "sequence cannot be recovered. Rename or remove it.")
                rows.append({"path": f.relative_to(root).as_posix(), "subject": m.group(1),
                             "sequence": f"{m.group(1)}_{m.group(2)}", "frame": int(m.group(3)) - 1,
                             "frame_number": int(m.group(3)), "expression": self.classes.index(cls)})
        meta = pd.DataFrame(rows, columns=["path", "subject", "sequence", "frame", "frame_number", "expression"])
        meta["n_frames"] = meta.groupby("sequence")["frame_number"].transform("max") if len(meta) else []
        return meta
