"""Oulu-CASIA NIR&VIS facial expression database.

80 subjects (``P001``-``P080``) pose six expressions, each recorded as a sequence from
neutral to peak, by a visible-light (``VL``) and a near-infrared (``NI``) camera under
three illuminations (``Strong`` = normal, ``Weak``, ``Dark``): 480 sequences per
camera and illumination. FESR and GroupGAN use ``VL``/``Strong``.

Every frame is one row of ``meta`` with its sequence's label; pick frames with
:mod:`fer_core.data.protocols` (FESR: last three / last; GroupGAN: frames 6-8 / last).
The release has no landmarks: with the optional faces extra the faces are aligned on dlib's
landmarks as in the papers (:mod:`fer_core.data.faces`), else centre-cropped (a deviation).
"""

from __future__ import annotations

import re
import warnings
from typing import Sequence

import pandas as pd

from fer_core.data.files import (
    FileDataset, MissingFolderError, find_root, folder_class, has_all, list_images, subfolders,
)

__all__ = ["OuluCASIA", "LAYOUT", "OULU_CLASSES"]

LAYOUT = """\
data_root/
  OriginalImg/                       (or "Preprocess Img/", the cropped release: variant=...)
    VL/ NI/                          camera: visible light / near infrared
      Strong/ Weak/ Dark/            illumination
        P001/ ... P080/              subject
          Anger/ Disgust/ Fear/ Happiness/ Sadness/ Surprise/
            000.jpeg 001.jpeg ...    frames, neutral (000) to peak (last)
"""

OULU_CLASSES: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
MODALITIES = ("VL", "NI")
ILLUMINATIONS = ("Strong", "Weak", "Dark")


def _as_tuple(v: str | Sequence[str], allowed: Sequence[str], what: str) -> tuple[str, ...]:
    vals = (v,) if isinstance(v, str) else tuple(v)
    bad = [x for x in vals if x not in allowed]
    if bad or not vals:
        raise ValueError(f"{what} must be among {list(allowed)}, got {list(vals)}")
    return vals


class OuluCASIA(FileDataset):
    """Oulu-CASIA in the publisher's layout (see ``LAYOUT``).

    Args:
        root: the folder that holds ``OriginalImg/``.
        modality: ``"VL"`` (default), ``"NI"``, or a tuple of both.
        illumination: ``"Strong"`` (default; the papers' "normal" light), ``"Weak"``,
            ``"Dark"``, or a tuple.
        variant: the top folder, ``"OriginalImg"`` or ``"Preprocess Img"``.
        **kwargs: as :class:`fer_core.data.files.FileDataset`.

    ``meta`` columns: path, subject, sequence (``VL_Strong_P001_Anger``), frame, n_frames,
    expression, modality, illumination.
    """

    name = "oulu"
    LAYOUT = LAYOUT
    detect_faces = True  # uncropped photos without landmarks (fer_core.data.faces aligns them)
    classes = OULU_CLASSES

    def __init__(self, root, *, modality: str | Sequence[str] = "VL", illumination: str | Sequence[str] = "Strong",
                 variant: str = "OriginalImg", **kwargs):
        self.modalities = _as_tuple(modality, MODALITIES, "modality")
        self.illuminations = _as_tuple(illumination, ILLUMINATIONS, "illumination")
        self.variant = variant
        super().__init__(root, **kwargs)

    def cache_options(self):
        return {"variant": self.variant}

    def scan(self) -> pd.DataFrame:
        root = find_root(self.root, dataset="Oulu-CASIA", marker=has_all(self.variant),
                         expected=f"the folder {self.variant}/ (with VL/ and NI/ inside)")
        self.root = root
        rows, ignored = [], []
        for mod in self.modalities:
            for ill in self.illuminations:
                base = root / self.variant / mod / ill
                if not base.is_dir():
                    have = sorted(p.relative_to(root).as_posix() for p in (root / self.variant).glob("*/*") if p.is_dir())
                    raise MissingFolderError(
                        f"Oulu-CASIA: {base} does not exist (found: {', '.join(have) or 'nothing'}). Re-extract the "
                        f"{mod} {ill} part of the release, or choose modality=/illumination= among those found.")
                for subj in subfolders(base):
                    for expr in subfolders(subj):
                        cls = folder_class(expr, self.classes, what="Oulu-CASIA: expression folder",
                                           expected="Anger, Disgust, Fear, Happiness, Sadness, Surprise")
                        frames = []
                        for f in list_images(expr):
                            if re.fullmatch(r"\d+", f.stem):
                                frames.append((int(f.stem), f))
                            else:
                                ignored.append(f)
                        frames.sort()
                        for rank, (_, f) in enumerate(frames):
                            rows.append({"path": f.relative_to(root).as_posix(), "subject": subj.name,
                                         "sequence": f"{mod}_{ill}_{subj.name}_{expr.name}", "frame": rank,
                                         "n_frames": len(frames), "expression": self.classes.index(cls),
                                         "modality": mod, "illumination": ill})
        self.ignored = ignored
        if ignored:
            warnings.warn(f"Oulu-CASIA: {len(ignored)} image(s) not named like 000.jpeg were ignored, e.g. "
                          f"{ignored[0]}; see dataset.ignored.", stacklevel=3)
        return pd.DataFrame(rows, columns=["path", "subject", "sequence", "frame", "n_frames", "expression",
                                           "modality", "illumination"])
