"""The synthetic face world as ``torch`` datasets, and presets shaped like the papers' data.

:class:`FaceWorld` fixes everything that is the same across datasets of one world: the
seed (so identity 7 is the same person everywhere), how idiosyncratic identities are,
how strong the nuisances are. :class:`SyntheticFaces` is a map-style dataset over a grid
of factors — identities × expressions × takes × frames × poses — whose ``meta`` table
follows :mod:`fer_core.data.base`, so the protocol helpers work on it unchanged.

A sample is a pure function of (world, factors): lighting, background and misalignment
come from a hash of the *scene* (identity, label set, class, take; shared by every frame
and camera of a take, as in a real capture session) and pixel noise from a hash of the
frame, so rendering is O(1) per index and reproducible bit for bit in any order, batch
or DataLoader worker. :meth:`SyntheticFaces.__getitems__` renders a whole batch in one
vectorised call (torch's DataLoader uses it for batched fetching).

Presets: :func:`ckplus_like` (neutral→peak sequences, 7 or 8 classes), :func:`multipie_like`
(5 yaws, 6 classes), :func:`f2ed_like` (54 fine-grained classes, 4 views, ~100 identities),
:func:`weak_peak` (weak frame + peak frame pairs, GroupGAN's setting).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from fer_core.data.base import FaceDataset, SubsetView
from fer_core.data.synthetic import expressions as ex
from fer_core.data.synthetic.face import (STREAM_FRAME, STREAM_MOTION, STREAM_SCENE, STREAM_TAKE, feature_shapes,
                                          hash_uniform, identity_params, landmarks_3d)
from fer_core.data.synthetic.render import N_BANK, render, uses_kernel

__all__ = ["FaceWorld", "SyntheticFaces", "SyntheticSubset", "WeakPeakPairs", "VIEWS", "MULTIPIE_YAWS", "ckplus_like",
           "multipie_like",
           "f2ed_like", "weak_peak", "sequence_intensity", "SIZE_RANGE", "YAW_LIMIT", "PITCH_LIMIT"]

#: F2ED's four cameras as (yaw, pitch) in degrees: half-left/right at 45° horizontally,
#: the bird view 30° above. Negative yaw turns the nose to the image left.
VIEWS: Mapping[str, tuple[float, float]] = {
    "half_left": (-45.0, 0.0), "front": (0.0, 0.0), "half_right": (45.0, 0.0), "bird": (0.0, 30.0),
}
MULTIPIE_YAWS: tuple[float, ...] = (-30.0, -15.0, 0.0, 15.0, 30.0)
SIZE_RANGE = (32, 256)
YAW_LIMIT = 60.0
PITCH_LIMIT = 45.0
#: Sequence intensity ramp exponent: frame f of n has intensity peak * (f / (n - 1)) ** RAMP
#: (calibrated: 0.7, a fast onset; see :mod:`fer_core.methods.sanity`).
RAMP = 0.7
# Faces rendered per call. The torch code keeps its (chunk, S, S) pixel arrays in cache with 64; the compiled
# CPU loop works one row at a time, so larger chunks only amortise the per-call parameter set-up.
_CHUNK_TORCH, _CHUNK_KERNEL = 64, 512


def sequence_intensity(frame: np.ndarray, n_frames: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Intensity of ``frame`` in a neutral→peak sequence of ``n_frames`` ending at ``peak`` (monotone)."""
    frame, n_frames = np.asarray(frame, dtype=np.float64), np.asarray(n_frames, dtype=np.float64)
    ramp = np.where(n_frames > 1, frame / np.maximum(n_frames - 1, 1), 1.0)
    return np.asarray(peak, dtype=np.float64) * ramp ** RAMP


def _check_size(size: int, channels: int) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise ValueError(f"size must be an integer in {SIZE_RANGE[0]}..{SIZE_RANGE[1]} pixels, got {size!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")


def _check_pose(yaw: np.ndarray, pitch: np.ndarray) -> None:
    if not np.all(np.isfinite(yaw)) or np.any(np.abs(yaw) > YAW_LIMIT):
        raise ValueError(f"yaw must lie in [-{YAW_LIMIT:g}, {YAW_LIMIT:g}] degrees, got {np.unique(yaw)}")
    if not np.all(np.isfinite(pitch)) or np.any(np.abs(pitch) > PITCH_LIMIT):
        raise ValueError(f"pitch must lie in [-{PITCH_LIMIT:g}, {PITCH_LIMIT:g}] degrees, got {np.unique(pitch)}")


class FaceWorld:
    """One synthetic world: a seed and the knobs that set how hard it is.

    Args:
        seed: the world seed; identity ``i`` of a world is the same person in every dataset.
        idiosyncrasy: how differently identities express (resting offsets, per-control gains,
            their own rendition of each class); 0 = everybody expresses the same way, 1 = the
            calibrated default (see ``face.STYLE_SCALES`` and :mod:`fer_core.methods.sanity`).
        nuisance: strength of illumination, background, framing, head motion and noise
            variation (0 = a clean canonical studio, 1 = the calibrated default).
        nuisance_seed: seed of the nuisances (default: ``seed``); change it to re-shoot the
            same people under new conditions.
        fine_spacing: how far apart the fine-grained classes are (see
            :func:`~fer_core.data.synthetic.expressions.fine_grained`).
        glasses_rate, beard_rate: fraction of identities wearing glasses / a beard.
    """

    def __init__(self, seed: int = 0, *, idiosyncrasy: float = 1.0, nuisance: float = 1.0,
                 nuisance_seed: int | None = None, fine_spacing: float = 1.0, glasses_rate: float = 0.2,
                 beard_rate: float = 0.25):
        for name, value in (("seed", seed), ("nuisance_seed", 0 if nuisance_seed is None else nuisance_seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        for name, value in (("idiosyncrasy", idiosyncrasy), ("nuisance", nuisance), ("fine_spacing", fine_spacing)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name, value in (("glasses_rate", glasses_rate), ("beard_rate", beard_rate)):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        self.seed = int(seed)
        self.idiosyncrasy = float(idiosyncrasy)
        self.nuisance = float(nuisance)
        self.nuisance_seed = int(self.seed if nuisance_seed is None else nuisance_seed)
        self.fine_spacing = float(fine_spacing)
        self.glasses_rate, self.beard_rate = float(glasses_rate), float(beard_rate)

    def __repr__(self) -> str:
        return (f"FaceWorld(seed={self.seed}, idiosyncrasy={self.idiosyncrasy:g}, nuisance={self.nuisance:g}, "
                f"nuisance_seed={self.nuisance_seed}, fine_spacing={self.fine_spacing:g})")

    def expression_set(self, spec: str | Sequence[str] | ex.ExpressionSet) -> ex.ExpressionSet:
        return ex.expression_set(spec, fine_spacing=self.fine_spacing)

    def identities(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Identity parameters, one row per entry of ``ids`` (see :func:`~fer_core.data.synthetic.face.identity_params`)."""
        return identity_params(self.seed, ids, n_controls=ex.N_CONTROLS, idiosyncrasy=self.idiosyncrasy,
                               glasses_rate=self.glasses_rate, beard_rate=self.beard_rate)

    def scene(self, scene_keys: tuple[np.ndarray, ...], motion_keys: tuple[np.ndarray, ...],
              frame_keys: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
        """Nuisances of each sample.

        Lighting, background, framing and gain are shared by a take (``scene_keys``); a small
        head motion changes from frame to frame (``motion_keys``: the same for every camera);
        the pixel noise is drawn per image (``frame_keys``).
        """
        u = hash_uniform(self.nuisance_seed, STREAM_SCENE, *scene_keys, n=16)
        k = self.nuisance
        B = len(u)
        out = {
            "light_az": k * (u[:, 0] * 50.0 - 25.0), "light_el": 15.0 + k * (u[:, 1] * 20.0 - 10.0),
            "ambient": 0.62 + k * (u[:, 2] - 0.5) * 0.08, "diffuse": 0.40 + k * (u[:, 3] - 0.5) * 0.12,
            "scale": 1.12 + k * (u[:, 4] - 0.5) * 0.06, "tx": k * (u[:, 5] - 0.5) * 0.05,
            "ty": 0.08 + k * (u[:, 6] - 0.5) * 0.05, "roll": k * (u[:, 7] - 0.5) * 6.0,
            "bg_angle": u[:, 8] * 360.0, "bg_ramp": k * 0.3 * u[:, 9],
            "gain": 1.0 + k * (u[:, 10] - 0.5) * 0.15, "noise": k * (0.005 + 0.02 * u[:, 12]),
        }
        grey = np.array([0.55, 0.55, 0.57])
        colour = 0.15 + 0.7 * hash_uniform(self.nuisance_seed, STREAM_SCENE + 1, *scene_keys, n=3)
        mix = 0.3 * min(k, 2.0)
        out["bg"] = grey * (1 - mix) + colour * mix
        m = hash_uniform(self.nuisance_seed, STREAM_MOTION, *motion_keys, n=5) - 0.5
        out["d_yaw"], out["d_pitch"] = k * 6.0 * m[:, 0], k * 4.0 * m[:, 1]
        out["roll"] = out["roll"] + k * 3.0 * m[:, 2]
        out["tx"], out["ty"] = out["tx"] + k * 0.02 * m[:, 3], out["ty"] + k * 0.02 * m[:, 4]
        nk = hash_uniform(self.nuisance_seed, STREAM_FRAME, *frame_keys, n=2)
        out["noise_k"] = np.minimum((nk * N_BANK).astype(np.int64), N_BANK - 1)
        return out

    def render(self, *, identity, expression, expressions: str | Sequence[str] | ex.ExpressionSet = "basic7",
               intensity=1.0, yaw=0.0, pitch=0.0, take=0, frame=0, size: int = 64, channels: int = 3,
               device: torch.device | str = "cpu", slices: bool = True, kernel: bool | None = None) -> dict[str, Any]:
        """Render faces from explicit factors (scalars or equal-length arrays, broadcast).

        Args:
            identity: identity numbers (>= 0). expression: class indices or names of ``expressions``.
            intensity: in [0, 1]. yaw, pitch: degrees (|yaw| <= 60, |pitch| <= 45).
            take: the recording session (selects lighting, background, misalignment).
            frame: frame number within the take (selects a small head motion and the pixel noise).
            slices, kernel: how the pixels are computed (same image either way up to float32
                rounding); see :func:`~fer_core.data.synthetic.render.render`.

        Returns:
            dict with ``image`` ``(B, C, S, S)`` float32 in [-1, 1] on ``device``,
            ``landmarks`` ``(B, 68, 2)`` float32 pixel coordinates, ``controls``
            ``(B, N_CONTROLS)`` (the expression as the renderer received it).
        """
        _check_size(size, channels)
        eset = self.expression_set(expressions)
        expression = np.atleast_1d(np.asarray(expression))
        if expression.dtype.kind in "US":
            expression = np.array([eset.index(str(e)) for e in expression])
        identity, expression, intensity, yaw, pitch, take, frame = np.broadcast_arrays(
            np.atleast_1d(identity), expression, np.atleast_1d(np.asarray(intensity, dtype=np.float64)),
            np.atleast_1d(np.asarray(yaw, dtype=np.float64)), np.atleast_1d(np.asarray(pitch, dtype=np.float64)),
            np.atleast_1d(take), np.atleast_1d(frame))
        identity = identity.astype(np.int64)
        if (identity < 0).any():
            raise ValueError(f"identity numbers must be >= 0, got {identity.min()}")
        if expression.dtype.kind not in "iu" or (expression < 0).any() or (expression >= len(eset.classes)).any():
            raise ValueError(f"expression indices must lie in 0..{len(eset.classes) - 1} for {eset.name!r}")
        if not np.all((intensity >= 0) & (intensity <= 1)):
            raise ValueError(f"intensity must lie in [0, 1], got {np.unique(intensity)}")
        _check_pose(yaw, pitch)
        return self._render(identity, expression.astype(np.int64), intensity, yaw, pitch, take.astype(np.int64),
                            frame.astype(np.int64), eset, size, channels, torch.device(device), slices,
                            kernel=kernel)

    def _render(self, ids, cls, intensity, yaw, pitch, take, frame, eset, size, channels, device, slices,
                ident=None, out=None, kernel=None, scene_cls=None):
        p = self.identities(ids) if ident is None else ident
        g = ex.expression_controls(eset, cls, intensity, ids, p, seed=self.seed, idiosyncrasy=self.idiosyncrasy)
        s = feature_shapes(p, g)
        # the scene (lighting, background, framing) belongs to the recorded take: a counterfactual face
        # with another expression keeps the scene of the take it was derived from (scene_cls)
        scene_keys = (ids, np.full(len(ids), eset.key), cls if scene_cls is None else scene_cls, take)
        motion_keys = scene_keys + (frame,)
        frame_keys = motion_keys + (np.round(yaw * 10).astype(np.int64), np.round(pitch * 10).astype(np.int64))
        P = {**p, **s, **self.scene(scene_keys, motion_keys, frame_keys)}
        P["yaw"], P["pitch"] = yaw + P.pop("d_yaw"), pitch + P.pop("d_pitch")
        P["lm3d"] = landmarks_3d(p, s)
        image, lm = render(P, size=size, channels=channels, device=device, slices=slices, out=out, kernel=kernel)
        return {"image": image, "landmarks": lm, "controls": g}


class SyntheticFaces(FaceDataset):
    """A grid of synthetic faces: identities × expressions × takes × frames × poses.

    Args:
        identities: a count ``n`` (identities ``0..n-1``) or explicit identity numbers
            (e.g. ``range(100, 120)`` for people never seen by a model trained on ``0..99``).
        expressions: label set (``"basic7"``, ``"ckplus8"``, ``"multipie6"``, ``"fine54"``,
            or class names; see :func:`~fer_core.data.synthetic.expressions.expression_set`).
        takes: recordings per identity and class (each with its own lighting, background,
            misalignment and peak intensity): a count, or explicit take numbers (e.g. ``[3]``
            for a held-out recording session of the same people).
        n_frames: frames per take; ``1`` gives peak images, ``> 1`` neutral→peak sequences.
        frames: which frames of each sequence to include (default all).
        yaws: camera yaws in degrees (ignored when ``views`` is given).
        views: named F2ED views (keys of ``VIEWS``), e.g. ``("half_left", "front", "half_right", "bird")``.
        peak_intensity: the peak intensity of a take, a number or a ``(low, high)`` range
            drawn per take.
        size: image side in pixels (32..256); channels: 3 (RGB) or 1 (grayscale).
        world: the :class:`FaceWorld` (default: ``FaceWorld(seed, **world_kwargs)``).
        device: where images are rendered and returned (``"cuda"`` renders on the GPU;
            use ``num_workers=0`` then).
        landmarks: include ``"landmarks"`` in items.

    Items: ``image`` ``(C, S, S)`` float32 in [-1, 1]; ``expression``, ``identity`` int64;
    ``intensity``, ``yaw``, ``pitch`` float32; ``view`` int64 (index into ``self.views``;
    -1 without views); ``landmarks`` ``(68, 2)`` float32 pixel coordinates.
    """

    def __init__(self, *, identities: int | Sequence[int] = 20, expressions: str | Sequence[str] = "basic7",
                 takes: int | Sequence[int] = 1, n_frames: int = 1, frames: Sequence[int] | None = None,
                 yaws: Sequence[float] = (0.0,), views: Sequence[str] | None = None,
                 peak_intensity: float | tuple[float, float] = (0.85, 1.0), size: int = 64, channels: int = 3,
                 seed: int = 0, world: FaceWorld | None = None, device: torch.device | str = "cpu",
                 landmarks: bool = True, **world_kwargs):
        _check_size(size, channels)
        self.world = world if world is not None else FaceWorld(seed, **world_kwargs)
        if world is not None and world_kwargs:
            raise ValueError(f"pass either world= or world options {sorted(world_kwargs)}, not both")
        self.eset = self.world.expression_set(expressions)
        self.classes = self.eset.classes
        ids = _count_or_numbers(identities, "identities", "identity")
        take_ids = _count_or_numbers(takes, "takes", "take")
        if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
            raise ValueError(f"n_frames must be an int >= 1, got {n_frames!r}")
        frames = np.arange(n_frames) if frames is None else np.asarray(list(frames), dtype=np.int64)
        if len(frames) == 0 or (frames < 0).any() or (frames >= n_frames).any():
            raise ValueError(f"frames must be non-empty and lie in 0..{n_frames - 1}, got {list(frames)}")
        if np.isscalar(peak_intensity):
            lo_i = hi_i = float(peak_intensity)
        else:
            lo_i, hi_i = (float(x) for x in peak_intensity)
        if not 0 <= lo_i <= hi_i <= 1:
            raise ValueError(f"peak_intensity must be a number or (low, high) range within [0, 1], got {peak_intensity!r}")
        if views is not None:
            views = tuple(views)
            unknown = [v for v in views if v not in VIEWS]
            if unknown or not views:
                raise ValueError(f"unknown view(s) {unknown}; known views: {tuple(VIEWS)}")
            pose_yaw = np.array([VIEWS[v][0] for v in views])
            pose_pitch = np.array([VIEWS[v][1] for v in views])
        else:
            pose_yaw = np.asarray(list(yaws), dtype=np.float64)
            if len(pose_yaw) == 0:
                raise ValueError("yaws must hold at least one angle")
            pose_pitch = np.zeros_like(pose_yaw)
        _check_pose(pose_yaw, pose_pitch)
        self.views = views
        self.size, self.channels, self.device, self.landmarks = int(size), int(channels), torch.device(device), landmarks

        K, T, F, V = len(self.classes), len(take_ids), len(frames), len(pose_yaw)
        grid = np.stack(np.meshgrid(np.arange(len(ids)), np.arange(K), np.arange(T), np.arange(F), np.arange(V),
                                    indexing="ij"), -1).reshape(-1, 5)
        self._ids = ids[grid[:, 0]]
        self._cls = grid[:, 1]
        self._take = take_ids[grid[:, 2]]
        self._frame = frames[grid[:, 3]]
        self._yaw = pose_yaw[grid[:, 4]]
        self._pitch = pose_pitch[grid[:, 4]]
        self._view = grid[:, 4] if views is not None else np.full(len(grid), -1)
        peak_u = hash_uniform(self.world.seed, STREAM_TAKE, self._ids, self.eset.key, self._cls, self._take, n=1)[:, 0]
        self._peak = lo_i + (hi_i - lo_i) * peak_u
        self._n_frames = np.full(len(grid), int(n_frames))
        self._intensity = sequence_intensity(self._frame, self._n_frames, self._peak)
        width = max(3, len(str(int(ids.max()))))
        names = np.array([f"s{i:0{width}d}" for i in ids])
        subject = names[grid[:, 0]]
        meta = {
            "expression": self._cls, "subject": subject,
            "sequence": [f"{s}_{c:02d}_{t}" for s, c, t in zip(subject, self._cls, self._take)],
            "frame": self._frame, "n_frames": self._n_frames, "intensity": self._intensity,
            "yaw": self._yaw, "pitch": self._pitch,
        }
        if views is not None:
            meta["view"] = np.array(views)[grid[:, 4]]
        meta["take"] = self._take
        meta["identity_number"] = self._ids
        self.meta = pd.DataFrame(meta)
        codes = {s: i for i, s in enumerate(sorted(set(names)))}
        self._code = np.array([codes[s] for s in subject], dtype=np.int64)
        self._id_row = grid[:, 0]
        self._ident = self.world.identities(ids)  # identity parameters depend on the identity only: cache them

    def __repr__(self) -> str:
        poses = list(self.views) if self.views is not None else sorted(set(self._yaw.tolist()))
        return (f"{type(self).__name__}({len(self)} faces: {len(self.subjects)} identities x {len(self.classes)} "
                f"'{self.eset.name}' classes, poses {poses}, {self.size}px x {self.channels}ch, {self.world})")

    # -- rendering -------------------------------------------------------------------------
    def _rows(self, idx: np.ndarray, frame: np.ndarray | None = None, out: torch.Tensor | None = None) -> dict[str, Any]:
        if frame is None:
            frame, intensity = self._frame[idx], self._intensity[idx]
        else:
            intensity = sequence_intensity(frame, self._n_frames[idx], self._peak[idx])
        rows = self._id_row[idx]
        ident = {k: v[rows] for k, v in self._ident.items()}
        return self.world._render(self._ids[idx], self._cls[idx], intensity, self._yaw[idx], self._pitch[idx],
                                  self._take[idx], frame, self.eset, self.size, self.channels, self.device, True,
                                  ident=ident, out=out)

    def _render_all(self, idx: np.ndarray, frame: np.ndarray | None = None) -> tuple[torch.Tensor, np.ndarray]:
        images = torch.empty(len(idx), self.channels, self.size, self.size, device=self.device)
        lms = np.zeros((len(idx), 68, 2), np.float32)
        chunk = _CHUNK_KERNEL if uses_kernel(self.device) else _CHUNK_TORCH
        for lo in range(0, len(idx), chunk):
            part = slice(lo, lo + chunk)
            lms[part] = self._rows(idx[part], None if frame is None else frame[part], out=images[part])["landmarks"]
        return images, lms

    def _check_indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"indices must lie in [0, {len(self)}), got {idx.min()}..{idx.max()}")
        return idx

    def batch(self, indices: Sequence[int] | np.ndarray) -> dict[str, torch.Tensor]:
        """The samples at ``indices`` already stacked: ``image`` ``(N, C, S, S)`` and ``(N,)`` labels.

        Rendered in vectorised chunks; the fastest way to get many faces.
        """
        idx = self._check_indices(indices)
        images, lms = self._render_all(idx)
        out = {
            "image": images,
            "expression": torch.from_numpy(self._cls[idx].copy()),
            "identity": torch.from_numpy(self._code[idx].copy()),
            "intensity": torch.from_numpy(self._intensity[idx].astype(np.float32)),
            "yaw": torch.from_numpy(self._yaw[idx].astype(np.float32)),
            "pitch": torch.from_numpy(self._pitch[idx].astype(np.float32)),
            "view": torch.from_numpy(self._view[idx].copy()),
        }
        if self.landmarks:
            out["landmarks"] = torch.from_numpy(lms)
        return out

    def load(self, i: int) -> dict[str, Any]:
        return self.__getitems__([i])[0]

    def counterfactual(self, indices: Sequence[int] | np.ndarray, *, expression=None, intensity=None, yaw=None,
                       pitch=None, frame=None) -> torch.Tensor:
        """The faces at ``indices`` as they would look with other factors: the true face a generator aims at.

        The identity, the take's scene (lighting, background, framing) and, unless ``frame`` is
        given, the frame's head motion stay those of each row; the arguments given replace the
        rest (each a scalar or one value per row). With a new ``expression`` and no ``intensity``
        the expression is shown at the take's peak intensity; with a new ``frame`` and no
        ``intensity`` at the intensity the sequence has at that frame.

        Returns:
            ``(N, C, S, S)`` float32 in [-1, 1] on the dataset's device.
        """
        idx = self._check_indices(indices)
        n = len(idx)

        def given(value, default, dtype):
            return default.astype(dtype) if value is None else np.broadcast_to(np.asarray(value, dtype=dtype), (n,))

        cls = given(expression, self._cls[idx], np.int64)
        if (cls < 0).any() or (cls >= len(self.classes)).any():
            raise ValueError(f"expression indices must lie in 0..{len(self.classes) - 1} for {self.eset.name!r}")
        frm = given(frame, self._frame[idx], np.int64)
        if (frm < 0).any() or (frm >= self._n_frames[idx]).any():
            raise ValueError(f"frame must lie in 0..{int(self._n_frames[idx].min()) - 1}")
        if intensity is not None:
            level = given(intensity, None, np.float64)
        elif frame is not None:
            level = sequence_intensity(frm, self._n_frames[idx], self._peak[idx])
        elif expression is not None:
            level = self._peak[idx]
        else:
            level = self._intensity[idx]
        if not np.all((level >= 0) & (level <= 1)):
            raise ValueError(f"intensity must lie in [0, 1], got {np.unique(level)}")
        yw, pt = given(yaw, self._yaw[idx], np.float64), given(pitch, self._pitch[idx], np.float64)
        _check_pose(yw, pt)
        images = torch.empty(n, self.channels, self.size, self.size, device=self.device)
        chunk = _CHUNK_KERNEL if uses_kernel(self.device) else _CHUNK_TORCH
        for lo in range(0, n, chunk):
            part = slice(lo, lo + chunk)
            rows = idx[part]
            ident = {k: v[self._id_row[rows]] for k, v in self._ident.items()}
            self.world._render(self._ids[rows], cls[part], level[part], yw[part], pt[part], self._take[rows],
                               frm[part], self.eset, self.size, self.channels, self.device, True, ident=ident,
                               out=images[part], scene_cls=self._cls[rows])
        return images

    def subset(self, indices: Sequence[int] | np.ndarray, *, name: str | None = None) -> "SyntheticSubset":
        """A view on some rows that keeps batched rendering (see :class:`SyntheticSubset`)."""
        return SyntheticSubset(self, np.asarray(indices, dtype=np.int64), name=name)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Batched fetching (called by torch's DataLoader): one vectorised render for all ``indices``."""
        b = self.batch(indices)
        keys = list(b)
        return [{k: b[k][j] for k in keys} for j in range(len(b["image"]))]



def _count_or_numbers(value: int | Sequence[int], name: str, unit: str) -> np.ndarray:
    """``value`` as an array of numbers: ``0..value-1`` for a count, else the given distinct non-negative ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"{name} must be a count >= 1 or a sequence of {unit} numbers, got {value!r}")
        return np.arange(int(value))
    numbers = np.asarray(list(value), dtype=np.int64)
    if numbers.ndim != 1 or len(numbers) == 0 or (numbers < 0).any() or len(np.unique(numbers)) != len(numbers):
        raise ValueError(f"{name} must be a count >= 1 or distinct non-negative {unit} numbers, got {value!r}")
    return numbers

class SyntheticSubset(SubsetView):
    """Rows ``indices`` of a :class:`SyntheticFaces`; fetches batches with one vectorised render."""

    def batch(self, indices: Sequence[int] | np.ndarray) -> dict[str, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"indices must lie in [0, {len(self)}), got {idx.min()}..{idx.max()}")
        return self.parent.batch(self.indices[idx])

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        b = self.batch(indices)
        return [{k: v[j] for k, v in b.items()} for j in range(len(b["image"]))]

    def subset(self, indices: Sequence[int] | np.ndarray, *, name: str | None = None) -> "SyntheticSubset":
        return SyntheticSubset(self.parent, self.indices[np.asarray(indices, dtype=np.int64)], name=name)

    def counterfactual(self, indices: Sequence[int] | np.ndarray, **changes: Any) -> torch.Tensor:
        """:meth:`SyntheticFaces.counterfactual` of these rows."""
        return self.parent.counterfactual(self.indices[np.asarray(indices, dtype=np.int64)], **changes)


class WeakPeakPairs(SyntheticFaces):
    """Weak-expression frames paired with the peak (last) frame of the same take.

    Each row is one weak frame (``frame`` in ``weak_frames``) of a neutral→peak take; the
    item holds ``image`` (the weak frame) and ``peak`` (the last frame, same identity,
    class, scene), with ``intensity`` and ``peak_intensity``. ``meta`` adds ``peak_frame``
    and ``peak_intensity``. GroupGAN's CK+/Oulu protocol: frames 6-8 (1-based) are weak,
    the last frame is the peak, hence the default ``weak_frames=(5, 6, 7)`` (0-based).
    """

    def __init__(self, *, n_frames: int = 16, weak_frames: Sequence[int] = (5, 6, 7), **kwargs):
        if "frames" in kwargs:
            raise ValueError("WeakPeakPairs takes weak_frames=, not frames=")
        weak_frames = tuple(int(f) for f in weak_frames)
        if isinstance(n_frames, (int, np.integer)) and weak_frames and max(weak_frames) >= n_frames - 1:
            raise ValueError(f"weak_frames {weak_frames} must come before the peak frame {n_frames - 1}")
        super().__init__(n_frames=n_frames, frames=weak_frames, **kwargs)
        self.meta["peak_frame"] = self._n_frames - 1
        self.meta["peak_intensity"] = self._peak

    def batch(self, indices: Sequence[int] | np.ndarray) -> dict[str, torch.Tensor]:
        idx = self._check_indices(indices)
        out = super().batch(idx)
        out["peak"], lms = self._render_all(idx, frame=self._n_frames[idx] - 1)
        out["peak_intensity"] = torch.from_numpy(self._peak[idx].astype(np.float32))
        if self.landmarks:
            out["peak_landmarks"] = torch.from_numpy(lms)
        return out


# -- presets ----------------------------------------------------------------------------------

def ckplus_like(*, n_identities: int = 30, classes: int = 7, n_frames: int = 16, takes: int = 1, **kwargs) -> SyntheticFaces:
    """CK+-like: frontal neutral→peak sequences of ``n_frames`` frames; ``classes`` 7 (basic7) or 8 (+ contempt)."""
    if classes not in (7, 8):
        raise ValueError(f"ckplus_like has 7 or 8 classes, got {classes!r}")
    return SyntheticFaces(identities=n_identities, expressions="basic7" if classes == 7 else "ckplus8",
                          n_frames=n_frames, takes=takes, **kwargs)


def multipie_like(*, n_identities: int = 30, yaws: Sequence[float] = MULTIPIE_YAWS, takes: int = 1,
                  **kwargs) -> SyntheticFaces:
    """Multi-PIE-like: 6 classes (neutral, smile, surprise, squint, disgust, scream) at 5 yaws (-30..30 step 15)."""
    return SyntheticFaces(identities=n_identities, expressions="multipie6", yaws=yaws, takes=takes, **kwargs)


def f2ed_like(*, n_identities: int = 100, n_classes: int = 54, views: Sequence[str] = tuple(VIEWS), takes: int = 1,
              peak_intensity: float | tuple[float, float] = (0.6, 1.0), **kwargs) -> SyntheticFaces:
    """F2ED-like: ``n_classes`` fine-grained classes, the four views, ``n_identities`` people."""
    return SyntheticFaces(identities=n_identities, expressions=f"fine{n_classes}", views=views, takes=takes,
                          peak_intensity=peak_intensity, **kwargs)


def weak_peak(*, n_identities: int = 30, classes: int = 7, n_frames: int = 16, weak_frames: Sequence[int] = (5, 6, 7),
              **kwargs) -> WeakPeakPairs:
    """GroupGAN-like weak/peak pairs from CK+-like sequences (see :class:`WeakPeakPairs`)."""
    if classes not in (7, 8):
        raise ValueError(f"weak_peak has 7 or 8 classes, got {classes!r}")
    return WeakPeakPairs(identities=n_identities, expressions="basic7" if classes == 7 else "ckplus8",
                         n_frames=n_frames, weak_frames=weak_frames, **kwargs)
