"""Figures for the book: image grids, confusion matrices, feature embeddings, heat maps,
training curves, and an interpolation slider that works without a kernel.

Conventions:

- every plotting function returns a :class:`matplotlib.figure.Figure` and never calls
  ``plt.show()``; the figure is detached from pyplot (closed) right after creation, so a
  notebook shows it exactly once when it is the cell's last expression (or via
  ``display(fig)``), and no figures pile up in long runs. Everything works under Agg;
- images are ``(N, C, H, W)`` tensors in [-1, 1] unless ``value_range`` says otherwise;
- colour-blind-safe colours only: seaborn's ``"colorblind"`` palette for classes,
  viridis / cividis for continuous values.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from PIL import Image
from torchvision.utils import make_grid

__all__ = [
    "image_grid",
    "landmark_overlay",
    "confusion_matrix_plot",
    "confusion_matrices",
    "embed_2d",
    "embedding_scatter",
    "embedding_grid",
    "heatmap_overlay",
    "loss_curves",
    "InterpolationSlider",
    "interpolation_slider",
    "live_slider",
    "to_pil",
    "show_source",
]

_MARKERS = ["o", "X", "s", "^", "D", "P", "v", "*"]

# Tables of the book hold sentences (deviations, claims, closing notes): show them whole, never cut
# to pandas' default 50 characters with an ellipsis; wide tables scroll in their own box (fer.css).
pd.set_option("display.max_colwidth", None)


def _figure(width: float, height: float) -> Figure:
    fig = plt.figure(figsize=(max(width, 1.0), max(height, 1.0)), layout="constrained")
    plt.close(fig)
    return fig


def _images(images: Any, *, ndim: int, name: str) -> torch.Tensor:
    t = images.detach().cpu() if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if t.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(t.shape)}")
    if t.shape[-3] not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels in dimension -3, got shape {tuple(t.shape)}")
    return t.float()


def _grid_array(images: torch.Tensor, nrow: int, value_range: tuple[float, float], padding: int,
                pad_value: float = 1.0) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(H', W', 3)`` uint8 grid via ``torchvision.utils.make_grid``."""
    grid = make_grid(images.clamp(*value_range), nrow=nrow, padding=padding, normalize=True,
                     value_range=value_range, pad_value=pad_value)
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def to_pil(images: Any, *, nrow: int | None = None, value_range: tuple[float, float] = (-1.0, 1.0),
           padding: int = 2) -> Image.Image:
    """A ``(C, H, W)`` image or an ``(N, C, H, W)`` batch (laid out ``nrow`` per row) as a PIL image."""
    t = images.detach().cpu() if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if t.ndim == 3:
        t = t[None]
    t = _images(t, ndim=4, name="images")
    return Image.fromarray(_grid_array(t, nrow or len(t), value_range, padding if len(t) > 1 else 0))


# ------------------------------------------------------------------------ image grids


def image_grid(images: Any, *, nrow: int, row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None, title: str | None = None,
               value_range: tuple[float, float] = (-1.0, 1.0), padding: int = 2, scale: float = 1.0) -> Figure:
    """A grid of faces, ``nrow`` images per row (torchvision's meaning of ``nrow``).

    Args:
        images: ``(N, C, H, W)`` with C in {1, 3}, values in ``value_range`` (default [-1, 1];
            pass ``(0, 1)`` for [0, 1] images). Out-of-range values are clipped.
        nrow: images per row, i.e. the number of columns.
        row_labels: one label per row (``ceil(N / nrow)``), written on the left.
        col_labels: one label per column (``nrow``), written on top.
        scale: figure size multiplier.
    """
    t = _images(images, ndim=4, name="images")
    if nrow < 1:
        raise ValueError(f"nrow must be >= 1, got {nrow}")
    n_rows, n_cols = math.ceil(len(t) / nrow), min(nrow, len(t))
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"{len(row_labels)} row_labels for {n_rows} rows ({len(t)} images, nrow={nrow})")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"{len(col_labels)} col_labels for {n_cols} columns (nrow={nrow})")
    grid = _grid_array(t, nrow, value_range, padding)
    h, w = t.shape[-2:]
    cell = 1.1 * scale
    fig = _figure(n_cols * cell + (1.2 if row_labels else 0.2), n_rows * cell + (0.5 if col_labels or title else 0.2))
    ax = fig.add_subplot()
    ax.imshow(grid, interpolation="nearest")
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xticks([padding + (w + padding) * (j + 0.5) - padding / 2 for j in range(n_cols)] if col_labels else [])
    ax.set_yticks([padding + (h + padding) * (i + 0.5) - padding / 2 for i in range(n_rows)] if row_labels else [])
    if col_labels:
        ax.set_xticklabels(col_labels, fontsize=8)
        ax.xaxis.tick_top()
    if row_labels:
        ax.set_yticklabels(row_labels, fontsize=8)
    ax.tick_params(length=0)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# iBUG/dlib 68-point groups: jaw, brows, nose, eyes, mouth (index ranges, end exclusive).
_LANDMARK_GROUPS = {"jaw": (0, 17), "brows": (17, 27), "nose": (27, 36), "eyes": (36, 48), "mouth": (48, 68)}


def landmark_overlay(images: Any, landmarks: Any, *, ncol: int | None = None, titles: Sequence[str] | None = None,
                     value_range: tuple[float, float] = (-1.0, 1.0), size: float = 1.8) -> Figure:
    """Faces with their 68 landmarks drawn on top, one colour per facial part.

    Args:
        images: ``(N, C, H, W)`` in ``value_range``.
        landmarks: ``(N, 68, 2)`` pixel coordinates ``(x, y)`` of each image, iBUG/dlib order.
    """
    t = _images(images, ndim=4, name="images")
    lm = np.asarray(landmarks.detach().cpu() if isinstance(landmarks, torch.Tensor) else landmarks, dtype=float)
    if lm.shape != (len(t), 68, 2):
        raise ValueError(f"landmarks must have shape ({len(t)}, 68, 2), got {lm.shape}")
    ncol = ncol or len(t)
    nrows = math.ceil(len(t) / ncol)
    fig = _figure(ncol * size, nrows * size + (0.3 if titles else 0))
    colours = sns.color_palette("colorblind", len(_LANDMARK_GROUPS))
    lo, hi = value_range
    for i in range(len(t)):
        ax = fig.add_subplot(nrows, ncol, i + 1)
        img = ((t[i].clamp(lo, hi) - lo) / (hi - lo)).permute(1, 2, 0).numpy()
        ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        for colour, (name, (a, b)) in zip(colours, _LANDMARK_GROUPS.items()):
            ax.scatter(lm[i, a:b, 0], lm[i, a:b, 1], s=6, color=colour, label=name if i == 0 else None)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.legend(loc="outside lower center", ncol=len(_LANDMARK_GROUPS), fontsize=7, frameon=False)
    return fig


# ------------------------------------------------------------------- confusion matrix


def confusion_matrix_plot(cm: Any, class_names: Sequence[str], *, normalize: bool = True, title: str | None = None,
                          ax: matplotlib.axes.Axes | None = None, cmap: str = "cividis") -> Figure:
    """Annotated confusion-matrix heat map (rows: true class, columns: predicted class).

    Args:
        cm: ``(K, K)`` counts, e.g. from :func:`fer_core.metrics.confusion_matrix`.
        class_names: K names.
        normalize: divide each row by its total (per-class recall; empty rows stay 0).
        ax: draw into this axes (e.g. one panel of a side-by-side comparison) instead of a
            new figure; its figure is returned.
    """
    m = np.asarray(cm.detach().cpu() if isinstance(cm, torch.Tensor) else cm, dtype=float)
    k = len(class_names)
    if m.shape != (k, k):
        raise ValueError(f"cm has shape {m.shape} but {k} class_names were given")
    if normalize:
        totals = m.sum(axis=1, keepdims=True)
        m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    if ax is None:
        side = 1.5 + 0.55 * k
        fig = _figure(side + 1.0, side)
        ax = fig.add_subplot()
    annot = k <= 15
    sns.heatmap(m, ax=ax, annot=annot, fmt=".2f" if normalize else ".0f", cmap=cmap, square=True,
                vmin=0, vmax=1 if normalize else None, xticklabels=class_names, yticklabels=class_names,
                cbar_kws={"shrink": 0.8}, annot_kws={"fontsize": 7})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(axis="x", labelrotation=45)
    ax.tick_params(axis="y", labelrotation=0)
    if title:
        ax.set_title(title)
    return ax.figure


def confusion_matrices(cms: Mapping[str, Any], class_names: Sequence[str], *, normalize: bool = True,
                       width: float = 6.0, height: float = 5.0) -> Figure:
    """:func:`confusion_matrix_plot` of each ``title -> (K, K) counts`` entry, side by side, to compare
    two variants' per-class recall at a glance."""
    fig, axes = plt.subplots(1, len(cms), figsize=(width * len(cms), height), squeeze=False)
    for ax, (title, cm) in zip(axes[0], cms.items()):
        confusion_matrix_plot(cm, class_names, normalize=normalize, ax=ax, title=title)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------- embeddings


def embed_2d(features: Any, *, method: str = "tsne", seed: int = 0, perplexity: float | None = None,
             n_neighbors: int | None = None, pca_dims: int | None = 50) -> np.ndarray:
    """2-D embedding of ``(N, D)`` features by t-SNE (scikit-learn) or UMAP (umap-learn).

    Deterministic for a fixed ``seed`` on one machine. Features with more than ``pca_dims``
    dimensions are first reduced by PCA (the usual practice; ``None`` disables it).
    ``perplexity`` defaults to ``min(30, (N - 1) / 3)``, ``n_neighbors`` to ``min(15, N - 1)``.
    The first UMAP call in a process compiles numba code (about 10 s on a laptop CPU).
    """
    x = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, float)
    x = x.reshape(len(x), -1)
    n = len(x)
    if n < 5:
        raise ValueError(f"a 2-D embedding needs at least 5 points, got {n}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features contain NaN or Inf")
    if pca_dims is not None and x.shape[1] > pca_dims and n > pca_dims:
        from sklearn.decomposition import PCA
        x = PCA(n_components=pca_dims, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        p = perplexity if perplexity is not None else min(30.0, (n - 1) / 3)
        tsne = TSNE(n_components=2, perplexity=p, init="pca", learning_rate="auto", random_state=seed)
        # Small sets: OpenMP threads only add barrier waits (20x slower on a busy 2-core machine).
        with threadpool_limits(1 if n < 2000 else None, user_api="openmp"):
            emb = tsne.fit_transform(x)
    elif method == "umap":
        import warnings

        import umap
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value.*")
            reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors or min(15, n - 1), random_state=seed)
            emb = reducer.fit_transform(x)
    else:
        raise ValueError(f"method must be 'tsne' or 'umap', got {method!r}")
    return np.asarray(emb, dtype=float)


def _class_palette(k: int) -> list:
    return sns.color_palette("colorblind", k) if k <= 10 else sns.color_palette("viridis", k)


def embedding_scatter(features: Any, labels: Any, *, method: str = "tsne", class_names: Sequence[str] | None = None,
                      style: Any = None, style_names: Sequence[str] | Mapping[Any, str] | None = None,
                      seed: int = 0, title: str | None = None, embedding: np.ndarray | None = None,
                      ax: matplotlib.axes.Axes | None = None, hue_title: str = "class", style_title: str = "group",
                      **embed_kwargs: Any) -> Figure:
    """Scatter of a t-SNE/UMAP embedding of features, coloured by class, marker by ``style``.

    Args:
        features: ``(N, D)`` features (ignored when ``embedding`` is given).
        labels: ``(N,)`` int class indices.
        method: ``"tsne"`` or ``"umap"`` (see :func:`embed_2d`; extra keywords go there).
        class_names: names indexed by class; defaults to the indices.
        style: ``(N,)`` group per point, e.g. 0 = real, 1 = synthetic (FESR Fig. 9).
        style_names: names of the style groups (a sequence indexed by group, or a mapping).
        embedding: a precomputed ``(N, 2)`` embedding, to draw several panels from one run.
        ax: draw into this axes instead of a new figure.
        hue_title, style_title: legend headings, e.g. "expression" and "data".

    Returns:
        The figure; the 2-D embedding is stored on it as ``fig.embedding`` (``(N, 2)``).
    """
    y = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels).astype(int).ravel()
    emb = np.asarray(embedding, float) if embedding is not None else embed_2d(features, method=method, seed=seed,
                                                                              **embed_kwargs)
    if emb.shape != (len(y), 2):
        raise ValueError(f"embedding has shape {emb.shape} for {len(y)} labels")
    classes = sorted(set(y.tolist()))
    name_of = (lambda c: str(class_names[c])) if class_names is not None else str
    hue = [name_of(c) for c in y]
    hue_order = [name_of(c) for c in classes]
    data = {"x": emb[:, 0], "y": emb[:, 1], hue_title: hue}
    kwargs: dict[str, Any] = {}
    if style is not None:
        s = np.asarray(style.detach().cpu() if isinstance(style, torch.Tensor) else style).ravel()
        if len(s) != len(y):
            raise ValueError(f"style has {len(s)} entries for {len(y)} points")
        groups = sorted(set(s.tolist()), key=str)
        if style_names is None:
            snames = {g: str(g) for g in groups}
        elif isinstance(style_names, Mapping):
            snames = {g: str(style_names[g]) for g in groups}
        else:
            snames = {g: str(style_names[int(g)]) for g in groups}
        data[style_title] = [snames[g] for g in s.tolist()]
        order = [snames[g] for g in groups]
        kwargs = {"style": style_title, "style_order": order, "markers": dict(zip(order, _MARKERS * 4))}
    if style is not None and style_title == hue_title:
        raise ValueError(f"hue_title and style_title must differ, both are {hue_title!r}")
    if ax is None:
        fig = _figure(6.0, 4.8)
        ax = fig.add_subplot()
    sns.scatterplot(data=pd.DataFrame(data), x="x", y="y", hue=hue_title, hue_order=hue_order,
                    palette=_class_palette(len(classes)), s=18, alpha=0.85, linewidth=0.2, ax=ax, **kwargs)
    label = {"tsne": "t-SNE", "umap": "UMAP"}.get(method, method) if embedding is None else "embedding"
    ax.set_xlabel(f"{label} 1")
    ax.set_ylabel(f"{label} 2")
    ax.legend(fontsize=7, markerscale=0.9, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    if title:
        ax.set_title(title)
    fig = ax.figure
    fig.embedding = emb
    return fig


def embedding_grid(panels: Mapping[str, Mapping[str, Any]], *, methods: Sequence[str] = ("tsne",),
                   class_names: Sequence[str] | None = None, style: str | None = None,
                   style_names: Sequence[str] | Mapping[Any, str] | Callable[[Any], Any] | None = None,
                   hue_title: str = "class", style_title: str = "group", seed: int = 0) -> Figure:
    """:func:`embedding_scatter` of several feature sets side by side: one row per ``methods``
    entry (``"tsne"``, ``"umap"``), one column per panel.

    Args:
        panels: title -> ``{"features": (N, D), "labels": (N,), ...}``.
        style: the key of each panel's marker groups (e.g. ``"synthetic"``); a panel that lacks it,
            or holds None there, is drawn without markers. Float groups (yaws) are rounded to ints.
        style_names: as in :func:`embedding_scatter`, or a callable from a panel's groups to them.
    """
    fig, axes = plt.subplots(len(methods), len(panels), figsize=(6 * len(panels), 4.6 * len(methods)), squeeze=False)
    for r, method in enumerate(methods):
        for c, (name, panel) in enumerate(panels.items()):
            groups = None if style is None else panel.get(style)
            if isinstance(groups, torch.Tensor) and groups.is_floating_point():
                groups = groups.round().long()
            names = None if groups is None else (style_names(groups) if callable(style_names) else style_names)
            embedding_scatter(panel["features"], panel["labels"], method=method, class_names=class_names,
                              style=groups, style_names=names, hue_title=hue_title, style_title=style_title,
                              ax=axes[r, c], title=f"{name} ({method.upper()})", seed=seed)
    fig.tight_layout()
    plt.close(fig)
    return fig


# ----------------------------------------------------------------------- heat maps


def heatmap_overlay(images: Any, heatmaps: Any, *, alpha: float = 0.5, titles: Sequence[str] | None = None,
                    ncol: int | None = None, cmap: str = "viridis", value_range: tuple[float, float] = (-1.0, 1.0),
                    normalize: bool = True) -> Figure:
    """Heat maps laid over faces (e.g. GroupGAN Eq. 22), one panel per image.

    Args:
        images: ``(N, C, H, W)`` faces in ``value_range``.
        heatmaps: ``(N, h, w)`` or ``(N, 1, h, w)`` non-negative maps at any resolution;
            resized bilinearly to ``(H, W)``.
        alpha: opacity of the heat map.
        titles: one caption per panel.
        ncol: panels per row (default ``min(N, 8)``).
        normalize: scale each map to [0, 1] by its own min and max (maps are then compared
            by their shape, not their magnitude); otherwise maps must already lie in [0, 1].

    Faces are drawn in grey (luminance) so the colour of the map reads unambiguously.
    """
    imgs = _images(images, ndim=4, name="images")
    hm = heatmaps.detach().cpu().float() if isinstance(heatmaps, torch.Tensor) else torch.as_tensor(
        np.asarray(heatmaps), dtype=torch.float32)
    if hm.ndim == 4 and hm.shape[1] == 1:
        hm = hm[:, 0]
    if hm.ndim != 3 or len(hm) != len(imgs):
        raise ValueError(f"heatmaps must be (N, h, w) or (N, 1, h, w) with N={len(imgs)}, got {tuple(hm.shape)}")
    if titles is not None and len(titles) != len(imgs):
        raise ValueError(f"{len(titles)} titles for {len(imgs)} images")
    hm = F.interpolate(hm[:, None], size=tuple(imgs.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
    if normalize:
        lo = hm.flatten(1).min(1).values[:, None, None]
        hi = hm.flatten(1).max(1).values[:, None, None]
        hm = (hm - lo) / (hi - lo).clamp_min(1e-12)
    lo_v, hi_v = value_range
    faces = (imgs.clamp(lo_v, hi_v) - lo_v) / (hi_v - lo_v)
    if faces.shape[1] == 3:
        faces = (faces * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)
    faces = faces[:, 0].numpy()
    n = len(imgs)
    ncol = ncol or min(n, 8)
    nrows = math.ceil(n / ncol)
    fig = _figure(1.6 * ncol + 0.8, 1.75 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncol, squeeze=False)).ravel()
    mappable = None
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(faces[i], cmap="gray", vmin=0, vmax=1)
        mappable = ax.imshow(hm[i].numpy(), cmap=cmap, alpha=alpha, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes), shrink=0.8, label="relative importance" if normalize else "value")
    return fig


# ---------------------------------------------------------------- training curves


def _read_rows(source: str | os.PathLike | Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            path = path / "metrics.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"no training log at {path}: pass a run folder, its metrics.jsonl, or rows")
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return pd.DataFrame(rows)
    return pd.DataFrame(list(source))


def loss_curves(metrics: str | os.PathLike | Iterable[Mapping[str, Any]] | pd.DataFrame, *,
                keys: Sequence[str] | None = None, smooth: int | None = None, logy: bool = False,
                title: str | None = None, ncol: int = 3) -> Figure:
    """Training curves from the loop's ``metrics.jsonl`` (rows ``{"step": int, name: float, ...}``).

    Args:
        metrics: a run folder, a ``metrics.jsonl``/``evals.jsonl`` path, a list of row dicts or a
            DataFrame with a ``step`` column.
        keys: the quantities to plot, one panel each (default: every numeric column).
        smooth: window of a centred rolling mean drawn over the raw curve.
        logy: logarithmic y axis (for positive losses).
    """
    df = _read_rows(metrics)
    if "step" not in df.columns:
        raise ValueError(f"training log rows need a 'step' column, got columns {list(df.columns)}")
    df = df.sort_values("step")
    available = [c for c in df.columns if c != "step" and pd.api.types.is_numeric_dtype(df[c])]
    keys = list(keys) if keys is not None else available
    unknown = [k for k in keys if k not in available]
    if unknown:
        raise ValueError(f"unknown keys {unknown}; the log has {available}")
    if not keys:
        raise ValueError("nothing to plot: the log has no numeric columns besides 'step'")
    ncol = min(ncol, len(keys))
    nrows = math.ceil(len(keys) / ncol)
    fig = _figure(3.3 * ncol, 2.5 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncol, squeeze=False)).ravel()
    colour = sns.color_palette("colorblind")[0]
    for ax, key in zip(axes, keys):
        series = df[["step", key]].dropna()
        ax.plot(series["step"], series[key], color=colour, lw=1, alpha=0.4 if smooth else 1.0)
        if smooth:
            smoothed = series[key].rolling(smooth, center=True, min_periods=1).mean()
            ax.plot(series["step"], smoothed, color=colour, lw=1.6)
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax.set_title(key, fontsize=9)
        if logy:
            ax.set_yscale("log")
    for ax in axes[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


# ------------------------------------------------------------------- sliders


def _png_base64(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


class InterpolationSlider:
    """Precomputed frames behind an HTML range input; see :func:`interpolation_slider`.

    Attributes:
        frames_png: one base64 PNG per frame.
        labels: one caption per frame.
        element_id: the id of the outer ``<div>`` (unique per instance).
    """

    def __init__(self, frames_png: list[str], labels: list[str], *, title: str | None, width: int):
        self.frames_png, self.labels, self.title, self.width = frames_png, labels, title, width
        self.element_id = f"fer-slider-{uuid.uuid4().hex}"

    def __len__(self) -> int:
        return len(self.frames_png)

    def to_html(self) -> str:
        """The self-contained snippet: every frame inlined, one range input, a few lines of inline JS."""
        eid = self.element_id
        imgs = "\n".join(
            f'<img class="fer-frame" src="data:image/png;base64,{png}" alt="{html.escape(lab)}" width="{self.width}" '
            f'data-label="{html.escape(lab)}" style="image-rendering:pixelated;{"" if i == 0 else "display:none;"}">'
            for i, (png, lab) in enumerate(zip(self.frames_png, self.labels))
        )
        on_input = ("var c=document.getElementById('" + eid + "'),i=+this.value;"
                    "c.querySelectorAll('img.fer-frame').forEach(function(m,k){m.style.display=(k===i)?'':'none';});"
                    "c.querySelector('.fer-label').textContent=c.querySelectorAll('img.fer-frame')[i].dataset.label;")
        title = f'<div style="font-weight:bold;margin-bottom:4px">{html.escape(self.title)}</div>' if self.title else ""
        return (
            f'<div class="fer-slider" id="{eid}" style="display:inline-block;font-family:sans-serif;font-size:13px">\n'
            f"{title}<div>{imgs}</div>\n"
            f'<div><input type="range" id="{eid}-range" min="0" max="{len(self) - 1}" step="1" value="0" '
            f'style="width:{self.width}px" aria-label="{html.escape(self.title or "frame")}" '
            f'oninput="{html.escape(on_input)}"></div>\n'
            f'<div class="fer-label">{html.escape(self.labels[0])}</div>\n</div>'
        )

    def _repr_html_(self) -> str:
        return self.to_html()


def interpolation_slider(frames: Any, *, labels: Sequence[Any] | None = None, title: str | None = None,
                         width: int | None = None, value_range: tuple[float, float] = (-1.0, 1.0),
                         padding: int = 2) -> InterpolationSlider:
    """A slider over precomputed frames that works in the static HTML book (no kernel) and in Jupyter/Colab.

    Args:
        frames: ``(T, C, H, W)`` (one face per frame) or ``(T, N, C, H, W)`` (a row of N faces
            per frame, e.g. one per expression as the intensity code u(y') grows), in ``value_range``.
        labels: one caption per frame (e.g. the intensity value); default ``"frame t / T"``.
        title: shown above the image.
        width: displayed width in pixels; default: the native width scaled up by an integer
            factor to at least 256 px (pixels stay sharp).

    Returns:
        An object whose ``_repr_html_()`` is a self-contained snippet: frames as inline base64
        PNGs, an ``<input type="range">`` whose inline handler shows one frame, unique
        element ids per instance, no external script.
    """
    t = frames.detach().cpu() if isinstance(frames, torch.Tensor) else torch.as_tensor(np.asarray(frames))
    if t.ndim == 4:
        t = t[:, None]
    t = _images(t, ndim=5, name="frames")
    if len(t) == 0:
        raise ValueError("interpolation_slider needs at least one frame")
    labels = [f"frame {i + 1} / {len(t)}" for i in range(len(t))] if labels is None else [str(x) for x in labels]
    if len(labels) != len(t):
        raise ValueError(f"{len(labels)} labels for {len(t)} frames")
    pngs = [_png_base64(to_pil(f, nrow=f.shape[0], value_range=value_range, padding=padding)) for f in t]
    n, w = t.shape[1], t.shape[-1]
    native = n * w + (padding * (n + 1) if n > 1 else 0)
    if width is None:
        width = native * max(1, math.ceil(256 / native))
    return InterpolationSlider(pngs, labels, title=title, width=int(width))


def live_slider(render_fn: Callable[[Any], Any], values: Sequence[Any], *, description: str = "value",
                value: Any = None, continuous_update: bool = False):
    """An ipywidgets slider that calls ``render_fn(value)`` live (Jupyter/Colab with a kernel).

    ``render_fn`` may return a Figure, a PIL image, an image tensor (``(C, H, W)`` or
    ``(N, C, H, W)`` in [-1, 1], shown as one row) or anything IPython can display; or it
    may display itself and return ``None``. In the static book use :func:`interpolation_slider`.

    Returns:
        An ``ipywidgets.VBox`` holding the slider (``.children[0]``) and the output area.
    """
    import ipywidgets as widgets
    from IPython.display import display

    values = list(values)
    if not values:
        raise ValueError("live_slider needs at least one value")
    slider = widgets.SelectionSlider(options=[(str(v), v) for v in values], value=values[0] if value is None else value,
                                     description=description, continuous_update=continuous_update)
    out = widgets.Output()

    def show(v: Any) -> None:
        with out:
            out.clear_output(wait=True)
            result = render_fn(v)
            if isinstance(result, torch.Tensor):
                result = to_pil(result, nrow=result.shape[0] if result.ndim == 4 else None)
            if result is not None:
                display(result)

    slider.observe(lambda change: show(change["new"]), names="value")
    show(slider.value)
    return widgets.VBox([slider, out])


def show_source(fn: Callable) -> Any:
    """The source of ``fn`` as a syntax-highlighted IPython object (chapters print the code beside each equation)."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(fn), language="python")
