"""A one-off on-disk cache of prepared face images.

The first use of a real dataset decodes and prepares every image once (alignment,
resize, colour) into a compact uint8 array; every later epoch and run reads only that
array (memory-mapped, so a 100k-image dataset does not have to fit in RAM).

Layout of one cache entry, a folder ``<cache_dir>/<dataset>-<key>/``:

- ``images.npy``     ``(N, C, H, W)`` uint8, row ``i`` is ``keys[i]`` (zeros for bad files)
- ``landmarks.npy``  ``(N, K, 2)`` float32 in output pixels (NaN where absent), only
  when the dataset ships landmarks
- ``index.json``     keys, shape, the bad files and why, and the byte sizes of the two
  arrays. It is written **last**, atomically: it is the commit marker. A folder
  without it, or whose arrays do not match it, is an interrupted or torn build and
  is rebuilt, never trusted.

The key is a hash of the dataset name, the preparation options, the cache format
version, and the file list with each file's size and modification time: changing
any image, the size, grayscale or alignment gives a fresh entry.

``cache_dir`` defaults to ``$FER_CACHE``, else ``~/.cache/fer-book``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from fer_core.io import atomic_path, atomic_write_bytes, atomic_write_json

__all__ = ["CACHE_VERSION", "default_cache_dir", "cache_key", "cache_path", "ImageCache", "load_cache",
           "build_cache", "open_or_build"]

CACHE_VERSION = 1
INDEX = "index.json"
IMAGES = "images.npy"
LANDMARKS = "landmarks.npy"


def default_cache_dir() -> Path:
    """``$FER_CACHE`` if set, else ``~/.cache/fer-book``."""
    env = os.environ.get("FER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fer-book"


def _source_file(root: Path, key: str) -> Path:
    return root / key.split("#", 1)[0]


def cache_key(*, dataset: str, options: Mapping[str, Any], keys: Sequence[str], root: str | os.PathLike) -> str:
    """Hex digest (16 chars) of dataset, options, format version and each source file's (name, size, mtime).

    Keys ``"file#n"`` name row ``n`` of a container file; the container is stat'ed once.
    A missing source file hashes as absent (the adapter reports it when it reads it).
    """
    root = Path(root)
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "dataset": dataset, "options": dict(options)}, sort_keys=True,
                        default=str).encode())
    stats: dict[str, tuple[int, int]] = {}
    for key in keys:
        src = key.split("#", 1)[0]
        if src not in stats:
            try:
                st = _source_file(root, key).stat()
                stats[src] = (st.st_size, st.st_mtime_ns)
            except OSError:
                stats[src] = (-1, -1)
        size, mtime = stats[src]
        h.update(f"{key}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()[:16]


def cache_path(*, dataset: str, options: Mapping[str, Any], keys: Sequence[str], root: str | os.PathLike,
               cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the cache entry for these inputs (it may not exist yet)."""
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / f"{dataset}-{cache_key(dataset=dataset, options=options, keys=keys, root=root)}"


@dataclass
class ImageCache:
    """A complete, verified cache entry. ``images`` is memory-mapped read-only."""

    path: Path
    keys: tuple[str, ...]
    shape: tuple[int, ...]
    bad: dict[str, str]
    built: bool = False
    has_landmarks: bool = False
    _images: np.ndarray | None = field(default=None, repr=False)
    _landmarks: np.ndarray | None = field(default=None, repr=False)
    _row: dict[str, int] | None = field(default=None, repr=False)

    @property
    def images(self) -> np.ndarray:
        """``(N, C, H, W)`` uint8."""
        if self._images is None:
            self._images = np.load(self.path / IMAGES, mmap_mode="r")
        return self._images

    @property
    def landmarks(self) -> np.ndarray | None:
        """``(N, K, 2)`` float32 in output pixels, or None."""
        if self.has_landmarks and self._landmarks is None:
            self._landmarks = np.load(self.path / LANDMARKS)
        return self._landmarks

    def row(self, key: str) -> int:
        if self._row is None:
            self._row = {k: i for i, k in enumerate(self.keys)}
        return self._row[key]

    def detached(self) -> "ImageCache":
        """A copy without open arrays (cheap to pickle; reopens on first use)."""
        return replace(self, _images=None, _landmarks=None)


def _file_size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return -1


def load_cache(directory: str | os.PathLike, keys: Sequence[str] | None = None) -> ImageCache | None:
    """The entry at ``directory`` if it is complete and consistent, else None (absent, interrupted or torn)."""
    directory = Path(directory)
    try:
        index = json.loads((directory / INDEX).read_text())
    except (OSError, ValueError):
        return None
    try:
        if index.get("version") != CACHE_VERSION or not index.get("complete"):
            return None
        if keys is not None and list(index["keys"]) != list(keys):
            return None
        if _file_size(directory / IMAGES) != index["images_bytes"]:
            return None
        if index["has_landmarks"] and _file_size(directory / LANDMARKS) != index["landmarks_bytes"]:
            return None
        return ImageCache(path=directory, keys=tuple(index["keys"]), shape=tuple(index["shape"]),
                          bad=dict(index["bad"]), has_landmarks=bool(index["has_landmarks"]))
    except (KeyError, TypeError):
        return None


@contextlib.contextmanager
def _atomic_memmap(path: Path, shape: tuple[int, ...], dtype: Any):
    """A writable ``.npy`` memmap at a temporary name, renamed onto ``path`` only on success."""
    with atomic_path(path) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        yield arr
        arr.flush()
        del arr


def build_cache(
    directory: str | os.PathLike,
    keys: Sequence[str],
    produce: Callable[[str], tuple[np.ndarray, np.ndarray | None]],
    *,
    shape: tuple[int, int, int],
    n_landmarks: int = 0,
    skip_bad: bool = False,
    bad_error: type[Exception] = ValueError,
    desc: str = "caching",
    workers: int | None = None,
) -> ImageCache:
    """Prepare every key once and write the entry (arrays first, ``index.json`` last).

    Args:
        produce: key -> (``(C, H, W)`` uint8, landmarks ``(K, 2)`` or None); raises
            ``bad_error`` for an unreadable file.
        skip_bad: record ``bad_error`` failures in ``index["bad"]`` instead of raising.
        workers: decoding threads (PIL releases the GIL while decoding); default
            ``min(4, cpu_count)``.

    An exception (or Ctrl-C) leaves no ``index.json``, so the partial entry is never trusted.
    """
    from fer_core.progress import tqdm

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (directory / INDEX).unlink()  # whatever was here is no longer vouched for
    n = len(keys)
    workers = workers or min(4, os.cpu_count() or 1)
    bad: dict[str, str] = {}
    landmarks = np.full((n, n_landmarks, 2), np.nan, dtype=np.float32) if n_landmarks else None

    def attempt(i: int):
        try:
            return produce(keys[i])
        except bad_error as exc:
            return exc

    with _atomic_memmap(directory / IMAGES, (n, *shape), np.uint8) as images:
        with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(total=n, desc=desc, disable=None, leave=False) as bar:
            chunk = 256
            for start in range(0, n, chunk):
                idx = range(start, min(n, start + chunk))
                for i, res in zip(idx, pool.map(attempt, idx) if workers > 1 else map(attempt, idx)):
                    if isinstance(res, Exception):
                        if not skip_bad:
                            raise res
                        bad[keys[i]] = str(res)
                        continue
                    arr, lm = res
                    if arr.shape != tuple(shape):
                        raise ValueError(f"prepared image for {keys[i]} has shape {arr.shape}, expected {tuple(shape)}")
                    images[i] = arr
                    if landmarks is not None and lm is not None and len(lm) == n_landmarks:
                        landmarks[i] = lm
                bar.update(len(idx))
    if landmarks is not None:
        buf = io.BytesIO()
        np.save(buf, landmarks)
        atomic_write_bytes(directory / LANDMARKS, buf.getvalue())
    index = {
        "version": CACHE_VERSION,
        "complete": True,
        "keys": list(keys),
        "shape": [n, *shape],
        "bad": bad,
        "has_landmarks": landmarks is not None,
        "images_bytes": _file_size(directory / IMAGES),
        "landmarks_bytes": _file_size(directory / LANDMARKS) if landmarks is not None else 0,
    }
    atomic_write_json(directory / INDEX, index)
    out = load_cache(directory, keys)
    if out is None:  # pragma: no cover - only if the disk lies
        raise OSError(f"cache {directory} failed verification right after it was written")
    out.built = True
    return out


def open_or_build(directory: str | os.PathLike, keys: Sequence[str], produce, **kwargs) -> ImageCache:
    """:func:`load_cache` if the entry is complete, else :func:`build_cache` (same arguments)."""
    found = load_cache(directory, keys)
    if found is not None:
        return found
    return build_cache(directory, keys, produce, **kwargs)
