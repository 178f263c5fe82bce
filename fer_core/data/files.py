"""The common base of every file-based dataset adapter, and the errors they raise.

An adapter subclasses :class:`FileDataset` and implements two hooks:

- ``scan()`` walks ``self.root`` and returns ``meta`` (one row per sample, with the
  columns of :mod:`fer_core.data.base` plus ``path``: the sample's file relative to
  the root, in POSIX form; ``"file.mat#17"`` names row 17 of a container file);
- ``read(i)`` (optional) returns the raw image of row ``i`` and its landmarks; the
  default decodes ``root / meta.path[i]`` with :func:`read_image`.

The base then validates ``meta``, prepares every image once (alignment from landmarks
or centre crop, resize, grayscale/RGB; :mod:`fer_core.data.align`) into the on-disk
cache of :mod:`fer_core.data.cache`, and serves items from the cache. With
``cache=False`` images are decoded on every access.

Faces without landmarks: an adapter whose dataset ships uncropped photos and no landmarks
sets ``detect_faces = True`` (JAFFE, KDEF, Oulu-CASIA, RAF-DB's originals, class folders).
With the optional faces extra installed (:mod:`fer_core.data.faces`) and ``faces="auto"``
(the default), the face and its 68 landmarks are found by dlib's detector, the face is
aligned like a dataset's own landmarks would align it, and the landmarks are cached and
returned with the item. An image where no face is found is centre-cropped and listed in
``dataset.no_face`` (announced by a :class:`FacesNotFound` warning), never dropped. Without
the extra the faces are centre-cropped. ``dataset.preparation`` says which was used.

Bad input is never dropped silently. A corrupt or truncated image raises
:class:`CorruptImageError`; with ``skip_bad=True`` such files are left out instead,
listed in ``dataset.skipped`` and announced by a :class:`BadImagesSkipped` warning
that gives their count.

Errors (all subclasses of :class:`fer_core.data.base.DataError`; each message names the
path and says what to do):

======================= ==========================================================
:class:`MissingFolderError` the root or a folder the layout needs does not exist
:class:`WrongRootError`     ``data_root`` points one level too high or too low (the
                            message names the folder to point at instead)
:class:`LabelFileError`     a label file is missing, unreadable or malformed
:class:`CorruptImageError`  an image cannot be decoded (truncated, not an image)
:class:`UnknownClassError`  a class code or class folder the dataset does not define
:class:`EmptyDatasetError`  the layout is right but holds no usable sample
======================= ==========================================================

Helpers for adapters: :func:`find_root` (with wrong-root detection), :func:`read_image`,
:func:`list_images`, :func:`read_text`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError

from fer_core.data import align as _align
from fer_core.data import cache as _cache
from fer_core.data import faces as _faces
from fer_core.data.base import DataError, FaceDataset

__all__ = [
    "FileDataset", "MissingFolderError", "WrongRootError", "LabelFileError", "CorruptImageError",
    "UnknownClassError", "EmptyDatasetError", "BadImagesSkipped", "FacesNotFound", "LeftOutOnRequest",
    "IMAGE_EXTENSIONS",
    "find_root", "read_image", "list_images", "subfolders", "folder_class", "read_text", "has_all", "canonical_class", "CLASS_ALIASES",
]

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".ppm", ".pgm")


class MissingFolderError(DataError):
    """The dataset root, or a folder the publisher's layout requires, does not exist."""


class WrongRootError(DataError):
    """``data_root`` points at the wrong level of the dataset's folder tree."""


class LabelFileError(DataError):
    """A label/list file is missing, unreadable or does not follow the publisher's syntax."""


class CorruptImageError(DataError):
    """An image file cannot be decoded (truncated download, not an image, unsupported)."""


class UnknownClassError(DataError):
    """A class code or class-folder name that the dataset does not define."""


class EmptyDatasetError(DataError):
    """The layout was recognised but no usable sample was found."""


class BadImagesSkipped(UserWarning):
    """Issued when ``skip_bad=True`` left some unreadable images out (the count is in the text)."""


class LeftOutOnRequest(UserWarning):
    """Issued when data is left out because the caller asked for it (a class folder mapped to None):
    reported, but not a problem (``fer inspect`` lists it as a note)."""


class FacesNotFound(UserWarning):
    """Issued when the face detector found no face in some images (centre-cropped, kept, listed)."""


# Publisher spellings -> the book's class names (EXPRESSIONS_8 plus Multi-PIE's).
CLASS_ALIASES: dict[str, str] = {
    "neutral": "neutral", "ne": "neutral", "natural": "neutral",
    "anger": "anger", "angry": "anger", "an": "anger",
    "contempt": "contempt",
    "disgust": "disgust", "disgusted": "disgust", "disg": "disgust", "di": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear", "fe": "fear",
    "happiness": "happiness", "happy": "happiness", "joy": "happiness", "ha": "happiness",
    "sadness": "sadness", "sad": "sadness", "sa": "sadness",
    "surprise": "surprise", "surprised": "surprise", "surp": "surprise", "su": "surprise",
    "smile": "smile", "smiling": "smile", "squint": "squint", "scream": "scream",
}


def canonical_class(name: str) -> str | None:
    """The book's class name for a publisher's spelling (``"Happy"`` -> ``"happiness"``), or None."""
    return CLASS_ALIASES.get(str(name).strip().lower())


def folder_class(folder: Path, classes: Sequence[str], *, what: str, expected: str) -> str:
    """The book's class of a class folder; :class:`UnknownClassError` (``what`` names the dataset and the
    kind of folder, ``expected`` the classes it may be) when its name is none of ``classes``."""
    cls = canonical_class(folder.name)
    if cls not in classes:
        raise UnknownClassError(f"{what} {folder} is not one of {expected}. Move or remove it.")
    return cls


# --------------------------------------------------------------------------- helpers


def has_all(*names: str) -> Callable[[Path], bool]:
    """A root marker: true for a folder that contains every one of ``names``."""
    return lambda p: all((p / n).exists() for n in names)


def find_root(
    root: str | os.PathLike,
    *,
    dataset: str,
    marker: Callable[[Path], bool],
    expected: str,
    missing: Callable[[Path], str | None] | None = None,
) -> Path:
    """Return ``root`` after checking that it is the folder the layout starts at.

    Args:
        root: the user's ``data_root``.
        dataset: the dataset's display name (for messages).
        marker: true for the correct root folder (e.g. ``has_all("cohn-kanade-images")``).
        expected: one line describing what the root must contain (quoted in errors).
        missing: optional; given a root that fails ``marker``, returns a message
            naming the missing part when the root is right but incomplete, else None.

    Raises:
        MissingFolderError: ``root`` does not exist, or ``missing`` reports a gap.
        WrongRootError: the layout starts one or two levels below ``root`` (points too
            high) or at one of its ancestors (points too low); the message names the
            folder to use instead.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise MissingFolderError(
            f"{dataset}: data_root {root} does not exist. Point data_root at the folder that "
            f"contains {expected}."
        )
    if not root.is_dir():
        raise WrongRootError(f"{dataset}: data_root {root} is a file; point it at the folder that contains {expected}.")
    if marker(root):
        return root
    for depth, candidates in ((1, subfolders(root)), (2, [g for c in subfolders(root) for g in subfolders(c)])):
        found = [c for c in candidates if marker(c)]
        if found:
            raise WrongRootError(
                f"{dataset}: data_root {root} is {'one level' if depth == 1 else 'two levels'} too high: "
                f"the dataset starts at {found[0]}. Set data_root={str(found[0])!r}."
            )
    for up, anc in enumerate(list(root.resolve().parents)[:3], start=1):
        if marker(anc):
            raise WrongRootError(
                f"{dataset}: data_root {root} is {up} level{'s' if up > 1 else ''} too low (inside the dataset): "
                f"set data_root={str(anc)!r}, the folder that contains {expected}."
            )
    if missing is not None:
        msg = missing(root)
        if msg:
            raise MissingFolderError(f"{dataset}: {msg}")
    raise WrongRootError(
        f"{dataset}: {root} does not look like the {dataset} folder: expected it to contain {expected}. "
        "Point data_root at the folder obtained from the publisher (see the Data chapter)."
    )


def subfolders(p: Path) -> list[Path]:
    """The non-hidden subfolders of ``p``, sorted (none when ``p`` cannot be listed)."""
    try:
        return sorted(c for c in p.iterdir() if c.is_dir() and not c.name.startswith("."))
    except OSError:
        return []


def list_images(folder: Path, *, extensions: Sequence[str] = IMAGE_EXTENSIONS, recursive: bool = False) -> list[Path]:
    """Sorted image files in ``folder`` (hidden files such as ``.DS_Store`` and ``._x`` ignored)."""
    it: Iterable[Path] = folder.rglob("*") if recursive else folder.iterdir()
    exts = tuple(e.lower() for e in extensions)
    return sorted(p for p in it if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts)


def read_text(path: Path, *, dataset: str, what: str, fix: str) -> str:
    """Text of a label file; :class:`LabelFileError` (naming ``path`` and ``fix``) when absent or undecodable."""
    if not path.is_file():
        raise LabelFileError(f"{dataset}: {what} {path} is missing. {fix}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        try:
            return path.read_text(encoding="latin-1")
        except OSError as exc:  # pragma: no cover - platform dependent
            raise LabelFileError(f"{dataset}: {what} {path} cannot be read ({exc}). {fix}") from exc
    except OSError as exc:
        raise LabelFileError(f"{dataset}: {what} {path} cannot be read ({exc}). {fix}") from exc


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file to ``(H, W)`` (grayscale) or ``(H, W, 3)`` (colour) uint8.

    Palette, 1-bit, 16-bit, alpha and CMYK images are converted (JAFFE ships palette
    TIFFs, some CK+ frames are 16-bit). A truncated or undecodable file raises
    :class:`CorruptImageError` naming it.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return _to_array(img)
    except FileNotFoundError as exc:
        raise CorruptImageError(f"image {path} does not exist (was it moved after the dataset was scanned?)") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(
            f"image {path} cannot be decoded ({type(exc).__name__}: {exc}). The file is truncated or not an "
            "image: re-extract it from the publisher's archive, or pass skip_bad=True to leave unreadable "
            "files out (their count is reported)."
        ) from exc


def _to_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        return np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("1", "L"):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    if mode == "LA":
        return np.asarray(img.convert("L"), dtype=np.uint8)
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if mode == "RGB" or mode == "RGBA":
        # Palette images with a grey palette (JAFFE) come out as R == G == B: keep them 1-channel.
        if arr.shape[2] == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
            return np.ascontiguousarray(arr[..., 0])
    return arr


# --------------------------------------------------------------------------- the base class


class FileDataset(FaceDataset):
    """Base for adapters that read image files (or containers) listed in ``meta.path``.

    Args:
        root: the dataset folder (``data_root``); the adapter's ``LAYOUT`` says which.
        size: output side in pixels (images are square), 8..1024.
        grayscale: 1-channel output when True, else 3-channel RGB (grey sources are replicated).
        align: align with the dataset's landmarks where it ships them (similarity
            transform to the 5-point template of :mod:`fer_core.data.align`), else
            centre crop. ``False`` always centre-crops.
        cache: prepare every image once into the on-disk cache (:mod:`fer_core.data.cache`)
            and read only the cache afterwards. ``False`` decodes on every access.
        cache_dir: cache folder; default ``$FER_CACHE`` else ``~/.cache/fer-book``.
        skip_bad: leave unreadable images out instead of raising; they are listed in
            ``self.skipped`` and their count is announced by a :class:`BadImagesSkipped`
            warning. With ``cache=False`` this decodes every image once up front.
        transform: optional callable applied to ``item["image"]`` (augmentation).
        workers: decoding threads for the cache build.
        faces: find faces and 68 landmarks with the optional detector of
            :mod:`fer_core.data.faces` where the dataset ships none: ``"auto"`` for adapters
            whose images are uncropped photos (``detect_faces``) when the faces extra is
            installed; True for any adapter (the extra is then required); False never.
            Landmarks a dataset ships always take precedence.

    Items: ``"image"`` float ``(C, size, size)`` in [-1, 1], ``"expression"`` and
    ``"identity"`` int64, plus ``"frame"`` (int64), ``"yaw"`` (float32), ``"view"``
    (int64 code into ``self.views``), ``"intensity"`` (float32) where ``meta`` has those
    columns, and ``"landmarks"`` ``(K, 2)`` float32 in output pixel coordinates when the
    dataset ships landmarks (NaN rows where a frame has none).
    """

    name: ClassVar[str] = "files"
    LAYOUT: ClassVar[str] = ""
    classes: tuple[str, ...] = ()
    has_landmarks: bool = False
    n_landmarks: int = 68
    #: The images are uncropped photos without landmarks: ``faces="auto"`` detects the face.
    detect_faces: ClassVar[bool] = False
    #: What ``scan`` leaves out with ``skip_bad=True`` (the ``(path, why)`` pairs it appends to
    #: ``self._scan_skipped``), and the dataset's name, for the :class:`BadImagesSkipped` warning.
    scan_skips: ClassVar[str] = "bad file(s)"
    warn_name: ClassVar[str] = "dataset"

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        size: int = 64,
        grayscale: bool = False,
        align: bool = True,
        cache: bool = True,
        cache_dir: str | os.PathLike | None = None,
        skip_bad: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        workers: int | None = None,
        faces: bool | str = "auto",
    ):
        if not isinstance(size, int) or not 8 <= size <= 1024:
            raise ValueError(f"size must be an int in 8..1024, got {size!r}")
        if faces not in ("auto", True, False):
            raise ValueError(f"faces must be 'auto', True or False, got {faces!r}")
        self.faces = faces
        self.face_detection = False
        self._no_face_seen: set[str] = set()
        self.root = Path(root).expanduser()
        self.size, self.grayscale, self.align = size, bool(grayscale), bool(align)
        self.use_cache, self.skip_bad, self.transform = bool(cache), bool(skip_bad), transform
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.workers = workers
        self.skipped: list[tuple[str, str]] = []
        self.cache_hit: bool | None = None
        self._cache: _cache.ImageCache | None = None
        self._scan_skipped: list[tuple[str, str]] = []
        self._setup(self.scan())
        if self._scan_skipped:
            self.skipped = self._scan_skipped + self.skipped
            path, why = self._scan_skipped[0]
            warnings.warn(f"{self.warn_name}: skipped {len(self._scan_skipped)} {self.scan_skips} (skip_bad=True), "
                          f"e.g. {path} ({why}); the full list is in dataset.skipped.", BadImagesSkipped, stacklevel=3)

    # ---- hooks for subclasses

    def scan(self) -> pd.DataFrame:
        """Walk ``self.root`` and return ``meta`` (subclasses implement)."""
        raise NotImplementedError

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw image ``(H, W[, 3])`` uint8 of row ``i`` and its landmarks ``(K, 2)`` in its pixel coordinates, or None."""
        return read_image(self.root / self.meta.at[i, "path"]), None

    def cache_options(self) -> dict[str, Any]:
        """Options beyond size/grayscale/align that change the prepared images (part of the cache key)."""
        return {}

    # ---- machinery

    def _setup(self, meta: pd.DataFrame) -> None:
        if len(meta) == 0:
            raise EmptyDatasetError(
                f"{self.name}: no samples found under {self.root}. Expected layout: {self.LAYOUT.strip() or '(see docs)'}"
            )
        if "path" not in meta.columns:
            raise DataError(f"{type(self).__name__}.scan() must return a 'path' column")
        self.meta = meta.reset_index(drop=True)
        self.meta["expression"] = self.meta["expression"].astype(np.int64)
        self.meta["subject"] = self.meta["subject"].astype(str)
        self.check_meta()
        self._views = tuple(sorted(self.meta["view"].astype(str).unique())) if "view" in self.meta.columns else ()
        self._choose_face_detection()
        if self.use_cache:
            self._open_cache()
        elif self.skip_bad:
            bad = {}
            for i in range(len(self.meta)):
                try:
                    self._prepare(i)
                except CorruptImageError as exc:
                    bad[str(self.meta.at[i, "path"])] = str(exc)
            self._drop_bad(bad)
            self._warn_no_face()
        self._index_columns()

    def _choose_face_detection(self) -> None:
        """Decide ``face_detection`` (see ``faces``); with it, items carry the detected landmarks."""
        wanted = self.align and (self.faces is True or (self.faces == "auto" and self.detect_faces))
        if wanted and self.faces is True:
            _faces.require()  # FacesExtraMissing names the extra to install
        self.face_detection = bool(wanted and (self.faces is True or _faces.available()))
        if self.face_detection:
            self.has_landmarks = True

    @property
    def preparation(self) -> str:
        """How the faces were cut out, one phrase for a chapter to print."""
        if self.face_detection:
            missing = len(self.no_face)
            return "faces found by dlib's detector and aligned on its 68 landmarks" + (
                f" (no face found in {missing} of {len(self.meta)}: centre-cropped)" if missing else "")
        if self.align and self.has_landmarks:
            return "aligned on the dataset's landmarks"
        if not self.align:
            return "centre crop (align=False)"
        if self.detect_faces and self.faces is False:
            return "centre crop (faces=False)"
        if self.detect_faces:
            return f"centre crop (the faces extra is not installed; {_faces.INSTALL} detects and aligns the faces)"
        return "centre crop"

    @property
    def no_face(self) -> list[str]:
        """``meta.path`` of the images where the detector found no face (centre-cropped, still used).

        Complete once the cache is built; with ``cache=False`` it lists the images prepared so far.
        """
        if not self.face_detection:
            return []
        if self._cache is not None and self._cache.landmarks is not None:
            lm = self._cache.landmarks[self._rows]
            missing = np.isnan(lm).all(axis=(1, 2))
            return [str(p) for p in self.meta.loc[missing, "path"]]
        return sorted(self._no_face_seen)

    def _prepare(self, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        image, landmarks = self.read(i)
        if landmarks is None and self.face_detection:
            landmarks = _faces.shared_finder().find(image)
            if landmarks is None:
                self._no_face_seen.add(str(self.meta.at[i, "path"]))
        return _align.prepare_face(image, size=self.size, grayscale=self.grayscale, landmarks=landmarks, align=self.align)

    def _warn_no_face(self) -> None:
        missing = self.no_face
        if missing:
            warnings.warn(
                f"{self.name}: the face detector found no face in {len(missing)} of {len(self.meta)} image(s), e.g. "
                f"{missing[0]}; they are centre-cropped instead of aligned (kept, not dropped); the full list is in "
                "dataset.no_face.", FacesNotFound, stacklevel=4)

    def _open_cache(self) -> None:
        keys = [str(p) for p in self.meta["path"]]
        options = {"size": self.size, "grayscale": self.grayscale, "align": self.align, **self.cache_options()}
        if self.face_detection:
            options["faces"] = _faces.detector_id()
        directory = _cache.cache_path(
            dataset=self.name, options=options, keys=keys, root=self.root, cache_dir=self.cache_dir
        )
        channels = 1 if self.grayscale else 3
        index_of = {k: i for i, k in enumerate(keys)}
        self._cache = _cache.open_or_build(
            directory,
            keys,
            lambda key: self._prepare(index_of[key]),
            shape=(channels, self.size, self.size),
            n_landmarks=self.n_landmarks if self.has_landmarks else 0,
            skip_bad=self.skip_bad,
            bad_error=CorruptImageError,
            desc=f"caching {self.name} ({len(keys)} images, once)",
            workers=self.workers,
        )
        self.cache_hit = not self._cache.built
        if self._cache.bad and not self.skip_bad:
            key, reason = next(iter(self._cache.bad.items()))
            raise CorruptImageError(
                f"{self.name}: {len(self._cache.bad)} image(s) could not be decoded when the cache "
                f"{directory} was built, e.g. {self.root / key}: {reason}. Re-extract them, or pass skip_bad=True."
            )
        self._rows = np.array([self._cache.row(k) for k in keys], dtype=np.int64)
        self._drop_bad(self._cache.bad)
        self._warn_no_face()

    def _drop_bad(self, bad: Mapping[str, str]) -> None:
        if not bad:
            return
        keep = ~self.meta["path"].astype(str).isin(set(bad)).to_numpy()
        self.skipped = [(str(p), bad[str(p)]) for p in self.meta.loc[~keep, "path"]]
        if not keep.any():
            raise EmptyDatasetError(f"{self.name}: every image under {self.root} is unreadable; the first: {self.skipped[0]}")
        self.meta = self.meta.loc[keep].reset_index(drop=True)
        if hasattr(self, "_rows"):
            self._rows = self._rows[keep]
        self._extra_keep(keep)
        self._subjects = None
        warnings.warn(
            f"{self.name}: skipped {len(self.skipped)} unreadable image(s) of {len(keep)} (skip_bad=True), "
            f"e.g. {self.skipped[0][0]}; the full list is in dataset.skipped.",
            BadImagesSkipped,
            stacklevel=3,
        )

    def _extra_keep(self, keep: np.ndarray) -> None:
        """Subclasses holding per-row arrays besides ``meta`` filter them here."""

    @property
    def views(self) -> tuple[str, ...]:
        """Sorted distinct view names; ``item["view"]`` indexes into this."""
        return self._views

    def _index_columns(self) -> None:
        """Per-row label arrays, so that ``load`` does not touch pandas (it is called per item)."""
        m = self.meta
        self._expr = m["expression"].to_numpy(dtype=np.int64)
        self._ident = np.array([self.identity_code(s) for s in m["subject"]], dtype=np.int64)
        self._optional: dict[str, tuple[np.ndarray, torch.dtype]] = {}
        if "frame" in m.columns:
            self._optional["frame"] = (m["frame"].to_numpy(dtype=np.int64), torch.int64)
        if "yaw" in m.columns:
            self._optional["yaw"] = (m["yaw"].to_numpy(dtype=np.float32), torch.float32)
        if "intensity" in m.columns:
            self._optional["intensity"] = (m["intensity"].to_numpy(dtype=np.float32), torch.float32)
        if "view" in m.columns:
            code = {v: k for k, v in enumerate(self._views)}
            self._optional["view"] = (np.array([code[str(v)] for v in m["view"]], dtype=np.int64), torch.int64)

    def load(self, i: int) -> dict[str, Any]:
        if self._cache is not None:
            row = int(self._rows[i])
            chw = torch.from_numpy(np.array(self._cache.images[row]))
            lm = self._cache.landmarks[row] if self._cache.landmarks is not None else None
        else:
            arr, lm = self._prepare(i)
            chw = torch.from_numpy(arr)
        image = chw.float().div_(127.5).sub_(1.0)
        if self.transform is not None:
            image = self.transform(image)
        item: dict[str, Any] = {
            "image": image,
            "expression": torch.tensor(self._expr[i], dtype=torch.int64),
            "identity": torch.tensor(self._ident[i], dtype=torch.int64),
        }
        for key, (values, dtype) in self._optional.items():
            item[key] = torch.tensor(values[i], dtype=dtype)
        if self.has_landmarks:
            out = np.full((self.n_landmarks, 2), np.nan, dtype=np.float32)
            if lm is not None and len(lm) == self.n_landmarks:
                out[:] = lm
            item["landmarks"] = torch.from_numpy(out)
        return item

    def summary(self) -> dict[str, Any]:
        """Counts for a quick look: samples, per class, subjects, skipped files, cache state."""
        counts = self.meta["expression"].value_counts().reindex(range(len(self.classes)), fill_value=0)
        return {
            "dataset": self.name,
            "root": str(self.root),
            "samples": len(self.meta),
            "subjects": int(self.meta["subject"].nunique()),
            "per_class": {c: int(counts[i]) for i, c in enumerate(self.classes)},
            "skipped": len(self.skipped),
            "cache": None if self._cache is None else str(self._cache.path),
        }

    def __getstate__(self) -> dict:
        # DataLoader workers started with "spawn" pickle the dataset: reopen the memmap there.
        state = self.__dict__.copy()
        if state.get("_cache") is not None:
            state["_cache"] = state["_cache"].detached()
        return state

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(root={str(self.root)!r}, samples={len(self)}, classes={len(self.classes)}, "
                f"size={self.size}, grayscale={self.grayscale})")
