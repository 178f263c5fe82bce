"""How fast is the synthetic world? Renderer throughput against decoding PNG files.

:func:`bench_renderer` renders ``n`` faces per size in DataLoader-sized batches on one
thread and, in the same run, writes the same faces as PNG files to a temporary folder and
decodes them again with PIL — what a dataset of files on disk would do every epoch. The
ratio says whether the renderer can ever be the bottleneck of training compared with
reading data from disk (ratio >= 1: never slower than PNG decoding).

This is a measurement, not a test: numbers depend on the machine and on what else runs
on it (timings are CPU time of this process, the best of ``repeats`` runs).
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from fer_core.data.synthetic.world import SIZE_RANGE, SyntheticFaces

__all__ = ["bench_renderer"]


def _best_time(fn, repeats: int, clock) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def bench_renderer(sizes: Sequence[int] = (64, 128), n: int = 1024, *, batch_size: int = 128, repeats: int = 3,
                   threads: int | None = 1, device: str | torch.device = "cpu", channels: int = 3,
                   png: bool = True, progress: bool = False) -> list[dict[str, Any]]:
    """Images per second of the renderer (and of PIL PNG decoding) at each size.

    Args:
        sizes: image sides in pixels (32..256).
        n: images per measurement (rendered in batches of ``batch_size``, the way a
            DataLoader fetches them with ``__getitems__``).
        repeats: runs per measurement; the fastest is reported.
        threads: torch CPU threads during the measurement (1 = single core; ``None`` leaves
            the setting alone). Restored afterwards.
        device: ``"cpu"`` or ``"cuda"`` (GPU rendering; wall time after synchronising).
        channels: 3 (RGB) or 1.
        png: also time PIL decoding of the same images written as PNG files.

    Returns:
        one dict per size: ``size``, ``n``, ``device``, ``threads``, ``render_img_s``;
        ``png_img_s`` (PIL decode to a uint8 array) and ``ratio`` (render / that);
        ``png_tensor_img_s`` (decode + conversion to the ``(C, H, W)`` float tensor in [-1, 1]
        a dataset item holds) and ``ratio_tensor``; ``png_kib`` (mean file size). The PNG
        fields are ``None`` without ``png``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if batch_size < 1 or repeats < 1:
        raise ValueError(f"batch_size and repeats must be >= 1, got {batch_size}, {repeats}")
    for size in sizes:
        if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
            raise ValueError(f"sizes must lie in {SIZE_RANGE[0]}..{SIZE_RANGE[1]}, got {size}")
    device = torch.device(device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available here; use device='cpu'")
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    rows = []
    try:
        for size in sizes:
            # a Multi-PIE-like mix of identities, classes and yaws, in shuffled order
            ds = SyntheticFaces(identities=max(8, n // 35 + 1), expressions="basic7", yaws=(-30, -15, 0, 15, 30),
                                size=size, channels=channels, device=device, landmarks=False)
            idx = np.random.default_rng(0).permutation(len(ds))[:n]
            if len(idx) < n:
                idx = np.resize(idx, n)
            batches = [idx[i:i + batch_size] for i in range(0, n, batch_size)]
            ds.batch(batches[0])  # warm-up: noise bank, allocator

            def render_all():
                for b in batches:
                    ds.batch(b)
                if cuda:
                    torch.cuda.synchronize(device)

            clock = time.perf_counter if cuda else time.process_time
            t_render = _best_time(render_all, repeats, clock)
            row = {"size": size, "n": n, "device": str(device), "threads": torch.get_num_threads(),
                   "render_img_s": n / t_render, "png_img_s": None, "png_tensor_img_s": None, "ratio": None,
                   "ratio_tensor": None, "png_kib": None}
            if png:
                row.update(_png_decode_rate(ds, idx, channels, repeats))
                row["ratio"] = row["render_img_s"] / row["png_img_s"]
                row["ratio_tensor"] = row["render_img_s"] / row["png_tensor_img_s"]
            rows.append(row)
            if progress:
                print(row)
    finally:
        torch.set_num_threads(old_threads)
    return rows


def _png_decode_rate(ds: SyntheticFaces, idx: np.ndarray, channels: int, repeats: int) -> dict[str, float]:
    """Write the faces as PNGs, then time opening + decoding them into arrays (CPU time)."""
    mode = "RGB" if channels == 3 else "L"
    with tempfile.TemporaryDirectory(prefix="fer_bench_") as tmp:
        paths = []
        for lo in range(0, len(idx), 256):
            imgs = ds.batch(idx[lo:lo + 256])["image"].cpu()
            arr = ((imgs + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
            for k, a in enumerate(arr):
                path = os.path.join(tmp, f"{lo + k:06d}.png")
                Image.fromarray(np.ascontiguousarray(a[..., 0]) if channels == 1 else a).save(path)
                paths.append(path)

        def decode_all():
            for path in paths:
                with Image.open(path) as im:
                    np.asarray(im.convert(mode))

        def decode_to_tensors():  # what a FaceDataset item needs: (C, H, W) float in [-1, 1]
            for path in paths:
                with Image.open(path) as im:
                    a = torch.from_numpy(np.array(im.convert(mode)))
                a = a[None] if a.dim() == 2 else a.permute(2, 0, 1)
                a.float().div_(127.5).sub_(1.0)

        t = _best_time(decode_all, repeats, time.process_time)
        t_tensor = _best_time(decode_to_tensors, repeats, time.process_time)
        kib = float(np.mean([os.path.getsize(p) for p in paths])) / 1024
    return {"png_img_s": len(paths) / t, "png_tensor_img_s": len(paths) / t_tensor, "png_kib": kib}
