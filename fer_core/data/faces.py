"""Offline face detection and 68 landmarks: dlib's HOG detector and its 68-point shape predictor.

An optional extra: ``pip install "fer-book[faces]"`` installs the ``dlib-bin`` wheel (dlib
compiled, nothing to build) and ``face-recognition-models``, which ships the predictor
``shape_predictor_68_face_landmarks.dat`` inside the package, so nothing is downloaded at run
time. dlib is imported only when a detector is built; without the extra, :func:`available`
is False and :func:`require` raises :class:`FacesExtraMissing` saying what to install.

What it is used for:

- every file adapter whose dataset ships no landmarks (JAFFE, KDEF, Oulu-CASIA, RAF-DB's
  original photos, class-folder datasets) finds the face and its landmarks once, aligns it
  with the similarity transform of :mod:`fer_core.data.align`, and caches the result with the
  decoded image (:class:`fer_core.data.files.FileDataset`, ``faces="auto"``); images where no
  face is found are centre-cropped and listed in ``dataset.no_face``, never dropped;
- items then carry ``"landmarks"`` (the detected 68 points in the returned image), from which
  a chapter draws pose maps for real faces (FaPE-GAN);
- :func:`measure_on_synthetic` checks how face-like the synthetic world is to a real
  detector (detection rate and landmark error against the renderer's ground truth).

Coordinates are dlib's pixel-index convention (the centre of the top-left pixel is (0, 0)),
the convention of :mod:`fer_core.data.align` and of the synthetic world's landmarks.

Licence: dlib is Boost-licensed and Davis King released the model files into the public
domain, but the 68-point predictor was trained on the iBUG 300-W landmark data, whose licence
excludes commercial use (the Data chapter states the terms).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["FacesExtraMissing", "FaceFinder", "shared_finder", "available", "require", "predictor_path", "detector_id",
           "INSTALL", "measure_on_synthetic", "summarise"]

#: How to install the extra (quoted in every message about it).
INSTALL = 'pip install "fer-book[faces]"'

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


class FacesExtraMissing(ImportError):
    """The optional ``faces`` extra (dlib-bin, face-recognition-models) is not installed."""


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available() -> bool:
    """True when dlib and the predictor file are installed (without importing dlib)."""
    if not _has("dlib"):
        return False
    try:
        return predictor_path().is_file()
    except FacesExtraMissing:
        return False


def predictor_path() -> Path:
    """The 68-point predictor file inside ``face_recognition_models``.

    ``face_recognition_models.pose_predictor_model_location()`` gives it; that package imports
    ``pkg_resources``, which recent setuptools no longer ship, so when the import fails the file
    is found next to the package's ``__init__`` without importing it.
    """
    try:
        import face_recognition_models

        return Path(face_recognition_models.pose_predictor_model_location())
    except ImportError as exc:
        spec = None if not _has("face_recognition_models") else importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise FacesExtraMissing(f"face-recognition-models is not installed ({exc}); {INSTALL}") from None
        return Path(list(spec.submodule_search_locations)[0]) / "models" / PREDICTOR_FILE


def require() -> Any:
    """Import and return ``dlib``; :class:`FacesExtraMissing` with the install command otherwise."""
    try:
        import dlib
    except ImportError as exc:
        raise FacesExtraMissing(f"face detection needs the optional faces extra (dlib is missing: {exc}). "
                                f"Install it with {INSTALL}, or pass faces=False to centre-crop.") from None
    path = predictor_path()
    if not path.is_file():
        raise FacesExtraMissing(f"the 68-point predictor {path} is missing; reinstall it with {INSTALL}.")
    return dlib


def detector_id() -> str:
    """Names the detector and its version (part of the image-cache key of aligned datasets)."""
    dlib = require()
    return f"dlib {dlib.__version__} hog + {PREDICTOR_FILE}"


class FaceFinder:
    """The largest frontal face in an image and its 68 landmarks.

    Args:
        upsample: times the image is upsampled before detection; ``"auto"`` tries 0 and, when
            nothing is found in an image whose shorter side is at most ``small_side``, 1 (the
            HOG window is 80 px: faces smaller than that need one upsampling).
        max_side: images with a longer side are shrunk to it for detection (speed); the
            landmarks are then found on the full-size image.
        small_side: see ``upsample``.

    One instance may be shared by threads (calls into dlib are serialised by a lock), and it
    pickles without its dlib objects (rebuilt on first use).
    """

    def __init__(self, *, upsample: int | str = "auto", max_side: int = 800, small_side: int = 400):
        if upsample != "auto" and (not isinstance(upsample, int) or upsample < 0):
            raise ValueError(f"upsample must be 'auto' or an int >= 0, got {upsample!r}")
        self.upsample, self.max_side, self.small_side = upsample, int(max_side), int(small_side)
        self._dlib = self._detector = self._predictor = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"upsample": self.upsample, "max_side": self.max_side, "small_side": self.small_side}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def _load(self) -> None:
        if self._detector is None:
            dlib = require()
            self._predictor = dlib.shape_predictor(str(predictor_path()))
            self._detector = dlib.get_frontal_face_detector()
            self._dlib = dlib

    @staticmethod
    def _as_uint8(image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
            raise ValueError(f"image must be (H, W) or (H, W, 3) uint8, got {image.shape} {image.dtype}")
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        return np.ascontiguousarray(image)

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Face boxes ``(left, top, right, bottom)`` in pixels of ``image``, largest first."""
        image = self._as_uint8(image)
        with self._lock:
            self._load()
            return [(r.left(), r.top(), r.right(), r.bottom()) for r in self._boxes(image)]

    def _boxes(self, image: np.ndarray) -> list:
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = image
        if scale < 1.0:
            from PIL import Image

            small = np.asarray(Image.fromarray(image).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                             Image.Resampling.BILINEAR))
        tries = [self.upsample] if self.upsample != "auto" else ([0, 1] if min(h, w) <= self.small_side else [0])
        rects: list = []
        for up in tries:
            rects = list(self._detector(small, int(up)))
            if rects:
                break
        rects.sort(key=lambda r: -r.area())
        if scale < 1.0:
            rects = [self._dlib.rectangle(int(round(r.left() / scale)), int(round(r.top() / scale)),
                                          int(round(r.right() / scale)), int(round(r.bottom() / scale)))
                     for r in rects]
        return rects

    def find(self, image: np.ndarray) -> np.ndarray | None:
        """``(68, 2)`` float32 landmarks of the largest face, or None when no face is found."""
        image = self._as_uint8(image)
        with self._lock:
            self._load()
            rects = self._boxes(image)
            if not rects:
                return None
            shape = self._predictor(image, rects[0])
            return np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float32)


_SHARED: FaceFinder | None = None
_SHARED_LOCK = threading.Lock()


def shared_finder() -> FaceFinder:
    """One :class:`FaceFinder` per process (the predictor takes ~100 MB and a second to load)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = FaceFinder()
        return _SHARED


# --------------------------------------------------------------------------- the synthetic world seen by dlib


def measure_on_synthetic(*, seed: int = 0, identities: int = 8, size: int = 128,
                         yaws: Sequence[float] = (-30.0, -15.0, 0.0, 15.0, 30.0),
                         expressions: str = "basic7", finder: FaceFinder | None = None):
    """Run the detector on synthetic faces and compare its landmarks with the renderer's.

    Renders ``identities`` x every class of ``expressions`` x ``yaws`` peak faces of
    ``FaceWorld(seed)`` at ``size`` px (8 x 7 x 5 = 280 faces by default, a few seconds).

    Returns:
        a :class:`pandas.DataFrame`, one row per face: identity, expression (name), yaw,
        found (bool), error (mean distance in px of the 68 points to the ground truth; NaN
        when not found), inner_error (the 51 points without the jaw line), eye_error (the
        two eye centres), seconds (detection and landmarks of this face).
    """
    import pandas as pd

    from fer_core.data.synthetic import FaceWorld

    finder = finder or FaceFinder()
    world = FaceWorld(seed)
    classes = world.expression_set(expressions).classes
    ids, cls, yaw = (a.ravel() for a in np.meshgrid(np.arange(identities), np.arange(len(classes)),
                                                    np.asarray(yaws, dtype=np.float64), indexing="ij"))
    out = world.render(identity=ids, expression=cls, yaw=yaw, expressions=expressions, size=size)
    images = ((out["image"].permute(0, 2, 3, 1).numpy() + 1.0) * 127.5 + 0.5).clip(0, 255).astype(np.uint8)
    truth = np.asarray(out["landmarks"], dtype=np.float64)
    finder.find(images[0])  # loads the model outside the timed loop
    rows = []
    for k in range(len(images)):
        t0 = time.perf_counter()
        found = finder.find(images[k])
        dt = time.perf_counter() - t0
        row = {"identity": int(ids[k]), "expression": classes[int(cls[k])], "yaw": float(yaw[k]),
               "found": found is not None, "error": np.nan, "inner_error": np.nan, "eye_error": np.nan,
               "seconds": dt}
        if found is not None:
            d = np.linalg.norm(found - truth[k], axis=1)
            eyes = [np.linalg.norm(found[a:b].mean(0) - truth[k][a:b].mean(0)) for a, b in ((36, 42), (42, 48))]
            row.update(error=float(d.mean()), inner_error=float(d[17:].mean()), eye_error=float(np.mean(eyes)))
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(measured, by: str | None = None):
    """Detection rate, mean landmark errors (px) and faces per second of :func:`measure_on_synthetic`'s
    table, overall or per value of ``by`` (``"yaw"`` or ``"expression"``)."""
    import pandas as pd

    def one(g) -> dict:
        return {"faces": len(g), "detected": f"{g['found'].mean():.0%}",
                "68-point error (px)": g["error"].mean(), "without jaw (px)": g["inner_error"].mean(),
                "eye centres (px)": g["eye_error"].mean(), "faces / s": len(g) / g["seconds"].sum()}

    if by is None:
        return pd.DataFrame([one(measured)], index=["all"])
    order = list(dict.fromkeys(measured[by]))
    labels = [f"{v:+.0f}°" if by == "yaw" else v for v in order]
    return pd.DataFrame([one(measured[measured[by] == v]) for v in order], index=pd.Index(labels, name=by))
