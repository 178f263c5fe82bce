"""A chapter's data: dataset + protocol -> per-fold splits -> decoded tensors on the device.

Every chapter does the same three things with its data, whether it is the synthetic world
or a real dataset a reader points ``data_root`` at:

1. build the dataset (a synthetic preset, or the registry adapter, recognised from the
   folder when the chapter leaves ``dataset="synthetic"``);
2. cut it into the paper's splits (subject-independent folds by default, restricted by
   the paper's frame rule where the data has sequences; stratified folds, with a warning in
   ``ChapterData.warnings``, for a dataset without identity labels);
3. decode each fold once into a :class:`~fer_core.data.memory.MemoryCachedDataset` on the
   device, so epochs only index tensors.

:func:`prepare_data` does 1 and 2 and returns a :class:`ChapterData`, whose
:meth:`ChapterData.fold` does 3. ``build_args`` are plain values from which another
process (an experiment worker, a torchrun rank) rebuilds the same data.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import torch

from fer_core import runtime
from fer_core.data.base import FaceDataset
from fer_core.data.memory import MemoryCachedDataset
from fer_core.data.protocols import FrameSelection, Split, chapter_folds

__all__ = ["ChapterData", "FoldWarning", "prepare_data", "resolve_dataset", "f2ed_like_world"]


class FoldWarning(UserWarning):
    """The default folds could not be made subject-independent (the dataset has no identity labels)."""


@dataclass
class ChapterData:
    """A chapter's dataset, its splits, and how to name it.

    Attributes:
        dataset: the full :class:`~fer_core.data.base.FaceDataset` (every row a protocol uses).
        splits: one :class:`~fer_core.data.protocols.Split` per fold (or task).
        name: a description for tables ("synthetic CK+-like world (...)" or the real dataset).
        key: ``"synthetic"`` or the registry name of the real dataset.
        spec: what identifies the data in the keys of experiments.
        build_args: keyword arguments from which the chapter rebuilds this data in another process.
        warnings: what a chapter should print about its data (e.g. that the folds are stratified
            because the dataset has no subject ids, so subject independence cannot be guaranteed).
    """

    dataset: FaceDataset
    splits: list[Split]
    name: str
    key: str
    spec: dict[str, Any]
    build_args: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _folds: dict[tuple[int, str], dict[str, MemoryCachedDataset]] = field(default_factory=dict, repr=False)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.dataset.classes)

    @property
    def synthetic(self) -> bool:
        return self.key == "synthetic"

    def fold(self, k: int, device: str | torch.device = "auto") -> dict[str, MemoryCachedDataset]:
        """The parts of split ``k`` (``"train"``, ``"test"``, and ``"val"`` when it has one), decoded
        once and kept on ``device``."""
        device = runtime.pick_device(device)
        cache_key = (int(k), str(device))
        if cache_key not in self._folds:
            if not 0 <= k < len(self.splits):
                raise IndexError(f"fold {k} does not exist; the data has {len(self.splits)} splits")
            parts = self.splits[k].datasets(self.dataset)
            self._folds[cache_key] = {name: MemoryCachedDataset(ds, device) for name, ds in parts.items()}
        return self._folds[cache_key]

    def sizes(self) -> pd.DataFrame:
        """Train/test faces and test subjects per split (a chapter's data table)."""
        meta = self.dataset.meta
        return pd.DataFrame([{"fold": k, "train faces": len(s.train), "test faces": len(s.test),
                              "test subjects": meta.subject.iloc[s.test].nunique()}
                             for k, s in enumerate(self.splits)]).set_index("fold")


def resolve_dataset(dataset: str, data_root: str | Path | None) -> str:
    """The registry name of the data: ``dataset`` itself, or what ``data_root`` holds when
    ``dataset="synthetic"`` was left as it is but a folder was given."""
    if dataset == "synthetic" and data_root is not None:
        from fer_core.data.inspect import inspect_dataset

        report = inspect_dataset(data_root, check_images=False)
        if report.name is None:
            raise ValueError(f"data_root={str(data_root)!r} holds no dataset this book reads: "
                             + "; ".join(report.problems + report.hints) + ". Pass dataset=<registry name> to see "
                             "what that adapter expects, or data_root=None for the synthetic world.")
        return report.name
    if dataset != "synthetic" and data_root is None:
        raise ValueError(f"dataset={dataset!r} needs data_root, the folder you obtained it in; "
                         "or use dataset='synthetic'")
    return dataset


def f2ed_like_world(P: Mapping[str, Any], seed: int) -> tuple[FaceDataset, str]:
    """The synthetic F2ED-like world of the Comp-GAN and FaPE-GAN chapters (a ``synthetic`` preset
    of :func:`prepare_data`): ``P["n_identities"]`` identities, ``P["n_classes"]`` fine-grained
    expressions ``P["fine_spacing"]`` apart, the four F2ED views, peak intensities 0.6-1."""
    from fer_core.data.synthetic import VIEWS, SyntheticFaces
    from fer_core.data.synthetic.expressions import fine_grained

    K = int(P["n_classes"])
    ds = SyntheticFaces(identities=int(P["n_identities"]), expressions=fine_grained(K, spacing=float(P["fine_spacing"])),
                        views=tuple(VIEWS), peak_intensity=(0.6, 1.0), size=int(P["size"]),
                        channels=int(P["channels"]), seed=seed)
    return ds, f"synthetic F2ED-like world ({P['n_identities']} identities, {K} fine-grained classes, 4 views)"


def prepare_data(P: Mapping[str, Any], *, synthetic: Callable[[Mapping[str, Any], int], tuple[FaceDataset, str]],
                 dataset: str = "synthetic", data_root: str | Path | None = None, seed: int = 0,
                 frames: Callable[[pd.DataFrame], FrameSelection] | None = None,
                 splits: Callable[[FaceDataset, int], list[Split]] | None = None,
                 real_options: Mapping[str, Any] | None = None) -> ChapterData:
    """Build a chapter's data from profile ``P``.

    Args:
        P: the chapter's profile; ``size``, ``channels`` and (for the default splits) ``folds`` are read.
        synthetic: ``synthetic(P, seed) -> (dataset, description)``, the chapter's synthetic preset.
        dataset: ``"synthetic"`` or a registry name (``"ckplus"``, ...); with ``data_root`` and
            ``"synthetic"`` the folder's dataset is recognised by :func:`~fer_core.data.inspect.inspect_dataset`.
        data_root: the folder of a real dataset.
        seed: the data seed (the synthetic world's seed and the fold shuffle).
        frames: the paper's frame rule, applied to each split when the data has sequences
            (``meta`` holds ``sequence`` and ``frame``).
        splits: ``splits(dataset, seed) -> [Split, ...]``; default:
            :func:`~fer_core.data.protocols.chapter_folds` with ``P["folds"]``: subject-independent
            folds, or, for a dataset without identity labels (``dataset.subjects_known`` False),
            stratified folds and a :class:`FoldWarning` that is also kept in ``ChapterData.warnings``.
        real_options: extra keyword arguments of the real adapter's ``build`` (e.g. the
            ``class_map`` and ``subject_pattern`` of ``"classfolder"``).

    Returns:
        a :class:`ChapterData` whose ``build_args`` hold ``dataset``, ``data_root`` and ``seed``
        (and ``real_options`` when given).
    """
    size, channels = int(P["size"]), int(P["channels"])
    dataset = resolve_dataset(dataset, data_root)
    if dataset == "synthetic":
        ds, description = synthetic(P, seed)
        name = f"{description} (seed {seed}, {size}x{size}x{channels})"
        spec: dict[str, Any] = {"dataset": "synthetic", "world": repr(getattr(ds, "world", None)), "rows": len(ds),
                                "description": description}
    else:
        from fer_core.data.registry import get_dataset_info

        info = get_dataset_info(dataset)
        ds = info.build(data_root, size=size, grayscale=channels == 1, **dict(real_options or {}))
        prep = getattr(ds, "preparation", "")
        name = f"{info.title} from {data_root} ({len(ds)} faces, {size}x{size}x{channels}" + (f"; {prep})" if prep
                                                                                              else ")")
        spec = {"dataset": dataset, "data_root": str(Path(data_root).resolve()), "rows": len(ds)}
        if getattr(ds, "face_detection", False):  # detected and aligned faces are other pixels than centre crops
            from fer_core.data.faces import detector_id

            spec["faces"] = detector_id()
        if real_options:
            spec["options"] = {k: real_options[k] for k in sorted(real_options)}
    notes: list[str] = []
    if splits is not None:
        parts = splits(ds, seed)
    else:
        parts, warning = chapter_folds(ds, int(P["folds"]), seed=seed)
        if warning is not None:
            notes.append(warning)
            name += "; stratified folds: subject independence cannot be guaranteed"
            spec["folds"] = "stratified"
            _warnings.warn(warning, FoldWarning, stacklevel=2)
    if frames is not None and {"sequence", "frame"} <= set(ds.meta.columns):
        selection = frames(ds.meta)
        parts = [p.restrict(selection) for p in parts]
    build_args = {"dataset": dataset, "data_root": None if data_root is None else str(data_root), "seed": int(seed)}
    if real_options:
        build_args["real_options"] = dict(real_options)
    return ChapterData(dataset=ds, splits=list(parts), name=name, key=dataset, spec=spec, build_args=build_args,
                       warnings=notes)
