"""The one protocol every method of the comparison runs on: data, folds, conditions.

No paper compares the five methods: each uses its own data, splits, backbone and budget. Here
they share one world and one cut of it. The synthetic world holds what all five ideas need at
once: neutral-to-peak sequences (GroupGAN's weak frames), several views (FaPE-GAN's and
Comp-GAN's poses), many identities (FESR's new people) and seven basic expressions (JESRL's
transfers). Two takes per person and class give a second recording of the people a model
trained on.

Per fold (subject-independent, ``P["folds"]`` of them over the identities):

- **train**: the training people, take 0, the seen views, the weak frames and the peak frame;
- test conditions (disjoint rows, one test part; :func:`conditions` names each row's):

  ``peak``      the *training* people in their other take (take 1), peak frame, seen views;
  ``weak``      the test people, take 0, weak frames, seen views;
  ``identity``  the test people, take 0, peak frame, seen views (unseen identities);
  ``pose``      the test people, take 0, peak frame, the held-out view (unseen pose).

On a real ``data_root`` the same roles are read from what the dataset has (sequences for weak
frames, views for the unseen pose, sessions for the second recording); a condition the data
cannot form is left out and said so.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fer_core.data.protocols import Split, subject_kfold

__all__ = ["CONDITIONS", "CONDITION_TITLES", "world", "protocol_splits", "conditions", "train_roles",
           "weak_peak_pairs", "seen_views"]

#: The four test conditions, in table order.
CONDITIONS = ("peak", "weak", "identity", "pose")
CONDITION_TITLES = {"peak": "peak frames (seen people, new take)", "weak": "weak frames (unseen people)",
                    "identity": "unseen identities (peak)", "pose": "unseen pose (peak)"}


def world(P: Mapping[str, Any], seed: int):
    """The comparison's synthetic world: ``n_identities`` people x basic-7 x 2 takes x ``views`` x
    (``weak_frames`` + the peak frame) of ``n_frames``-frame sequences, with the profile's ``nuisance`` and
    ``idiosyncrasy`` (see :class:`~fer_core.data.synthetic.world.FaceWorld`).

    Returns:
        ``(SyntheticFaces, description)`` (the ``synthetic`` callable of
        :func:`~fer_core.experiments.prepare_data`).
    """
    from fer_core.data.synthetic import SyntheticFaces

    n_frames, weak = int(P["n_frames"]), tuple(int(f) for f in P["weak_frames"])
    if not weak or max(weak) >= n_frames - 1 or min(weak) < 0:
        raise ValueError(f"weak_frames {weak} must lie in 0..{n_frames - 2} (before the peak frame {n_frames - 1})")
    views = (*P["seen_views"], P["unseen_view"])
    ds = SyntheticFaces(identities=int(P["n_identities"]), expressions="basic7", takes=2, n_frames=n_frames,
                        frames=(*weak, n_frames - 1), views=views, size=int(P["size"]), channels=int(P["channels"]),
                        seed=seed, nuisance=float(P["nuisance"]), idiosyncrasy=float(P["idiosyncrasy"]))
    return ds, (f"synthetic CK+-like world with views ({P['n_identities']} identities, 7 classes, 2 takes, "
                f"frames {[f + 1 for f in weak]} and {n_frames} of {n_frames}, views {', '.join(views)})")


def seen_views(meta: pd.DataFrame, P: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """``(seen views, held-out view)`` of ``meta`` (``([], None)`` without a ``view`` column)."""
    if "view" not in meta.columns:
        return [], None
    views = list(dict.fromkeys(meta["view"].astype(str)))
    unseen = str(P["unseen_view"]) if str(P["unseen_view"]) in views else (views[-1] if len(views) > 1 else None)
    return [v for v in views if v != unseen], unseen


def _peak_and_weak(meta: pd.DataFrame, P: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of peak and weak rows (without sequences every row is a peak face)."""
    n = len(meta)
    if not {"frame", "n_frames"} <= set(meta.columns):
        return np.ones(n, bool), np.zeros(n, bool)
    frame, last = meta["frame"].to_numpy(), meta["n_frames"].to_numpy() - 1
    weak = np.isin(frame, np.asarray(P["weak_frames"])) & (frame < last)
    return frame == last, weak


def _take(meta: pd.DataFrame) -> np.ndarray:
    if "take" in meta.columns:
        return meta["take"].to_numpy()
    if "sequence" in meta.columns:  # a real dataset: a person's first session per class is take 0
        key = meta["subject"].astype(str) + "|" + meta["expression"].astype(str)
        first = meta.groupby(key.to_numpy())["sequence"].transform(lambda s: sorted(s.astype(str))[0])
        return np.where(meta["sequence"].astype(str).to_numpy() == first.to_numpy(), 0, 1)
    return np.zeros(len(meta), np.int64)


def conditions(meta: pd.DataFrame, rows: np.ndarray, train_rows: np.ndarray, P: Mapping[str, Any]) -> np.ndarray:
    """The condition (one of :data:`CONDITIONS`, or ``""``) of each of ``rows``, given the fold's training rows."""
    rows = np.asarray(rows, dtype=np.int64)
    peak, weak = _peak_and_weak(meta, P)
    take = _take(meta)
    seen, unseen = seen_views(meta, P)
    view = meta["view"].astype(str).to_numpy() if "view" in meta.columns else np.full(len(meta), "")
    in_seen = pd.Series(view).isin(seen).to_numpy() if seen else np.ones(len(meta), bool)
    subject = meta["subject"].astype(str)
    trained = subject.isin(set(subject.iloc[np.asarray(train_rows, dtype=np.int64)])).to_numpy()
    out = np.full(len(meta), "", dtype=object)
    out[trained & (take == 1) & peak & in_seen] = "peak"
    out[~trained & (take == 0) & weak & in_seen] = "weak"
    out[~trained & (take == 0) & peak & in_seen] = "identity"
    if unseen is not None:
        out[~trained & (take == 0) & peak & (view == unseen)] = "pose"
    return out[rows]


def train_roles(meta: pd.DataFrame, P: Mapping[str, Any]) -> np.ndarray:
    """Rows any fold may train on: take 0, seen views, weak and peak frames."""
    peak, weak = _peak_and_weak(meta, P)
    seen, _ = seen_views(meta, P)
    view = meta["view"].astype(str).to_numpy() if "view" in meta.columns else np.full(len(meta), "")
    ok = (_take(meta) == 0) & (peak | weak) & (pd.Series(view).isin(seen).to_numpy() if seen else True)
    return np.flatnonzero(ok)


def protocol_splits(P: Mapping[str, Any]):
    """``splits(dataset, seed)`` for :func:`~fer_core.experiments.prepare_data`: ``P["folds"]`` subject-independent
    folds, each with the training rows of :func:`train_roles` and the four conditions as its test part."""

    def splits(ds, seed: int) -> list[Split]:
        meta = ds.meta
        usable = train_roles(meta, P)
        out = []
        for k, s in enumerate(subject_kfold(meta, int(P["folds"]), seed=seed)):
            train = np.intersect1d(s.train, usable)
            every = np.arange(len(meta))
            cond = conditions(meta, every, train, P)
            test = every[cond != ""]
            split = Split(train, test, name=f"fold {k + 1}/{P['folds']}")
            split.require_nonempty(what="under the comparison's protocol")
            out.append(split)
        return out

    return splits


def weak_peak_pairs(meta: pd.DataFrame, rows: Sequence[int]) -> np.ndarray:
    """``(M, 2)`` positions ``(weak, peak)`` into ``rows``: each weak frame with the peak frame of the same
    sequence and view (GroupGAN's training pairs)."""
    rows = np.asarray(rows, dtype=np.int64)
    m = meta.iloc[rows]
    if not {"frame", "n_frames", "sequence"} <= set(m.columns):
        return np.zeros((0, 2), np.int64)
    view = m["view"].astype(str) if "view" in m.columns else pd.Series("", index=m.index)
    key = (m["subject"].astype(str) + "|" + m["sequence"].astype(str) + "|" + view).to_numpy()
    frame, last = m["frame"].to_numpy(), m["n_frames"].to_numpy() - 1
    peak_of = {key[i]: i for i in np.flatnonzero(frame == last)}
    pairs = [(i, peak_of[key[i]]) for i in np.flatnonzero(frame < last) if key[i] in peak_of]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
