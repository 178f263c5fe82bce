"""A dataset decoded once and held in memory as collated tensors: GPU memory or CPU RAM.

Every chapter trains for many epochs on small folds. Decoding (or rendering) each image
once and serving batches with one ``index_select`` keeps the data from ever being what
training waits for, on a GPU (the tensors live in device memory) as on a CPU (they live
in RAM). :func:`fer_core.train.fit` recognises such a dataset (``is_device_resident``)
and turns off worker processes and pinned memory, which do not apply to it.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch.utils.data import DataLoader, Dataset

from fer_core import runtime

__all__ = ["MemoryCachedDataset", "TensorFaces"]


class MemoryCachedDataset(Dataset):
    """A dataset collated once and kept on ``device`` (GPU memory, or RAM on a CPU).

    Items are the wrapped dataset's items with every value collated by
    :func:`torch.utils.data.default_collate` (numbers become 0-d tensors); ``data`` holds
    the stacked tensors (``data["image"]`` is ``(N, C, H, W)``), and ``classes`` and
    ``meta`` are carried over from the wrapped dataset when it has them.

    Args:
        dataset: a map-style dataset of dicts, e.g. a :class:`~fer_core.data.base.FaceDataset`.
        device: where to keep the tensors (``"auto"``: CUDA when present, else CPU RAM).
        max_bytes: refuse datasets larger than this (default 4 GiB) with a ``ValueError``.
        batch_size: how many items are read and collated at a time while caching.
    """

    is_device_resident = True

    def __init__(self, dataset: Dataset, device: str | torch.device = "auto", *, max_bytes: int = 4 * 2**30,
                 batch_size: int = 256, num_workers: int = 0):
        self.device = runtime.pick_device(device)
        n = len(dataset)  # type: ignore[arg-type]
        if n == 0:
            raise ValueError("MemoryCachedDataset: the dataset is empty")
        parts: dict[str, list[Any]] = {}
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                            generator=torch.Generator().manual_seed(0))  # leaves the global RNG alone
        seen = 0
        for batch in loader:
            if not isinstance(batch, Mapping):
                raise ValueError(f"MemoryCachedDataset needs items that are dicts, got {type(batch).__name__}")
            for key, value in batch.items():
                parts.setdefault(key, []).append(value)
            seen += len(next(iter(batch.values())))
            nbytes = sum(v.element_size() * v.numel() for vs in parts.values() for v in vs
                         if isinstance(v, torch.Tensor))
            if nbytes * n / seen > max_bytes:
                raise ValueError(
                    f"MemoryCachedDataset: the {n} items would take about {nbytes * n / seen / 2**30:.1f} GiB, more "
                    f"than max_bytes={max_bytes / 2**30:.1f} GiB; stream this dataset from the DataLoader instead "
                    "or raise max_bytes"
                )
        self.data: dict[str, Any] = {
            k: torch.cat(vs).to(self.device) if isinstance(vs[0], torch.Tensor) else [x for v in vs for x in v]
            for k, vs in parts.items()
        }
        self.n = n
        for attr in ("classes", "meta"):
            if hasattr(dataset, attr):
                setattr(self, attr, getattr(dataset, attr))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {k: v[i] for k, v in self.data.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        """A whole batch at once (the DataLoader's batched fetch); already collated."""
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.device)
        return {k: v.index_select(0, idx) if isinstance(v, torch.Tensor) else [v[i] for i in indices]
                for k, v in self.data.items()}

    @staticmethod
    def collate(batch: Any) -> Any:
        """Identity: :meth:`__getitems__` returns a collated batch."""
        return batch


class TensorFaces(Dataset):
    """Faces already stacked as tensors (``data["image"]`` ``(N, C, S, S)`` and ``(N,)`` labels),
    served one batch per ``index_select`` like :class:`MemoryCachedDataset` (e.g. real training
    faces joined with generated ones)."""

    is_device_resident = True

    def __init__(self, data: Mapping[str, torch.Tensor], *, classes: tuple[str, ...] = ()):
        sizes = {k: len(v) for k, v in data.items()}
        if len(set(sizes.values())) != 1 or not sizes:
            raise ValueError(f"TensorFaces needs tensors of one length, got {sizes}")
        self.data = dict(data)
        self.classes = tuple(classes)
        self.n = next(iter(sizes.values()))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.data.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.data["image"].device)
        return {k: v.index_select(0, idx.to(v.device)) for k, v in self.data.items()}

    @staticmethod
    def collate(batch: Any) -> Any:
        return batch
