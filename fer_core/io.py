"""Atomic writes and safe loading.

Every file the project writes that a later run trusts (checkpoints, results, caches,
fold files) goes through :func:`atomic_write`: the bytes land in a temporary file in
the same folder, are flushed to disk, and only then renamed over the target. A run
killed half-way leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import torch

__all__ = ["atomic_path", "atomic_write", "atomic_write_bytes", "atomic_write_json", "save_checkpoint", "load_checkpoint",
           "CheckpointError"]


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or not a fer-book checkpoint."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file name beside ``path``; when the block succeeds the file is flushed to
    disk and renamed onto ``path``, otherwise it is removed. For writers that want a name, not
    a handle (a ``numpy`` memmap)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary binary file that replaces ``path`` only if the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        yield fh
        fh.flush()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_write(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default)
    return atomic_write_bytes(path, (text + "\n").encode())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_checkpoint(obj: dict, path: str | os.PathLike, *, _write: Callable[[dict, io.BufferedIOBase], None] | None = None) -> Path:
    """Atomically write a checkpoint dictionary with :func:`torch.save`."""
    buf = io.BytesIO()
    (_write or torch.save)(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``), with an error that names the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for torn/garbage files
        raise CheckpointError(
            f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}). "
            "It is truncated or not a checkpoint; delete it to start the run afresh."
        ) from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict")
    return obj
