"""Identities of the synthetic face world: geometry, appearance and expression style.

The face is a 3-D model in a head frame (``x`` to the subject's left = image right when
frontal, ``y`` down, ``z`` towards the camera), in units where the rendered image spans
``[-1, 1]``. The head is an ellipsoid with semi-axes ``(ax, ay, az)``; eyes, brows, mouth,
wrinkles, hair, beard and glasses are drawn on its surface as functions of the frontal
surface coordinates ``(u, v)`` (the surface point is ``(u, v, w(u, v))``), so that a
rotation of the head moves and foreshortens them. The nose protrudes from the surface
and is drawn from its projected 3-D points.

Everything random is drawn with a counter-based hash (:func:`hash_uniform`): a value is
a pure function of ``(seed, stream, key, k)``, never of the order or batch in which it
is asked for. That is what makes every sample of the world a pure function of
``(seed, index)``.

Controls: :mod:`~fer_core.data.synthetic.expressions` turns an expression label into a
vector of ``N_CONTROLS`` geometric controls (see ``controls.CONTROL_NAMES``); this module
turns controls into the shape of each facial feature (:func:`feature_shapes`) and the
68 iBUG/dlib landmarks (:func:`landmarks_3d`).
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from fer_core.data.synthetic.controls import C

__all__ = [
    "hash_uniform", "hash_normal", "identity_params", "feature_shapes", "landmarks_3d", "surface_depth",
    "IDENTITY_FIELDS", "STYLE_SCALES",
]

_M64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _as_u64(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "iu":
        return (a.astype(np.int64) if a.dtype.kind == "i" else a).astype(np.uint64)
    if a.dtype.kind == "f":
        return np.round(a * 1000.0).astype(np.int64).astype(np.uint64)
    raise TypeError(f"hash keys must be integers or floats, got {a.dtype}")


def hash_uniform(*keys, n: int) -> np.ndarray:
    """``(N, n)`` float64 uniforms in [0, 1), a pure function of ``keys`` (ints or arrays of length N).

    Each element depends only on its own keys and column ``k``, so asking for a value
    alone, in a batch, or in another process gives the same bits.
    """
    h = None
    for key in keys:
        k = _as_u64(key)
        with np.errstate(over="ignore"):
            h = _mix(k) if h is None else _mix(h ^ _mix(k))
    h = np.atleast_1d(h)
    cols = (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03))[None, :]
    with np.errstate(over="ignore"):
        z = _mix(h[:, None] ^ cols)
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def hash_normal(*keys, n: int) -> np.ndarray:
    """``(N, n)`` approximately standard-normal values (Irwin–Hall of 4 uniforms; exact arithmetic only)."""
    u = hash_uniform(*keys, n=4 * n).reshape(-1, n, 4)
    return (u[..., 0] + u[..., 1] + u[..., 2] + u[..., 3] - 2.0) * math.sqrt(3.0)


# Streams of the hash: one per kind of random quantity, so adding one never shifts another.
STREAM_IDENTITY, STREAM_STYLE, STREAM_CLASS_STYLE = 11, 12, 13
STREAM_SCENE, STREAM_FRAME, STREAM_TAKE, STREAM_MOTION = 21, 22, 23, 24

# (name, low, high): identity geometry and appearance, uniform in [low, high].
_GEOMETRY = (
    ("ax", 0.56, 0.66), ("ay", 0.72, 0.82), ("az_ratio", 0.85, 1.0),
    ("ex", 0.225, 0.265), ("ey", -0.12, -0.06), ("ew", 0.095, 0.115),
    ("eh_up", 0.045, 0.060), ("eh_lo", 0.030, 0.040), ("tilt", -0.15, 0.25), ("iris", 0.040, 0.050),
    ("brow_gap", 0.085, 0.115), ("brow_in", 0.85, 1.05), ("brow_out", 1.15, 1.45), ("brow_th", 0.020, 0.032),
    ("brow_arch", 0.010, 0.035), ("brow_slope", -0.015, 0.020),
    ("nose_y", 0.16, 0.22), ("nose_p", 0.16, 0.24), ("nose_w", 0.065, 0.085),
    ("mouth_y", 0.35, 0.42), ("mouth_w", 0.15, 0.185), ("lip_up", 0.022, 0.034), ("lip_lo", 0.028, 0.042),
    ("hairline", -0.52, -0.36), ("hair_curve", 0.05, 0.22), ("hair_side", 0.05, 0.45), ("hair_low", -0.15, 0.30),
    ("skin_t", 0.0, 1.0), ("skin_hue", -1.0, 1.0), ("hair_t", 0.0, 1.0), ("iris_t", 0.0, 1.0),
    ("lip_red", 0.10, 0.30), ("brow_dark", 0.55, 0.95), ("glasses_u", 0.0, 1.0), ("beard_u", 0.0, 1.0),
    ("beard_d", 0.35, 0.85), ("neck_w", 0.26, 0.34), ("age", 0.0, 1.0),
)
IDENTITY_FIELDS: tuple[str, ...] = tuple(name for name, _, _ in _GEOMETRY)

#: How strongly identities differ in the way they express, at ``idiosyncrasy=1``:
#: ``rest`` the standard deviation of the per-identity resting offsets of the controls,
#: ``gain`` the half-width of the per-identity, per-control gains around 1,
#: ``class`` the standard deviation of each identity's own version of each expression.
STYLE_SCALES: Mapping[str, float] = {"rest": 0.06, "gain": 0.35, "class": 0.28}

_SKIN_LIGHT = np.array([0.93, 0.78, 0.68])
_SKIN_DARK = np.array([0.38, 0.25, 0.18])
_HAIR = np.array([[0.07, 0.05, 0.04], [0.30, 0.19, 0.10], [0.55, 0.38, 0.22], [0.86, 0.72, 0.46], [0.62, 0.62, 0.62]])
_IRIS = np.array([[0.20, 0.12, 0.07], [0.35, 0.22, 0.10], [0.25, 0.38, 0.50], [0.30, 0.42, 0.28]])


def identity_params(seed: int, ids: np.ndarray, *, n_controls: int, idiosyncrasy: float = 1.0,
                    glasses_rate: float = 0.2, beard_rate: float = 0.25) -> dict[str, np.ndarray]:
    """Geometry, colours and expression style of identities ``ids`` of world ``seed``.

    Args:
        seed: the world seed.
        ids: ``(N,)`` non-negative identity numbers; identity ``i`` is the same person in
            every dataset of the same world.
        n_controls: length of the control vector (``controls.N_CONTROLS``).
        idiosyncrasy: scales how much identities differ in *how* they express (resting
            offsets, per-control gains); 0 gives every identity the same style.
        glasses_rate, beard_rate: fraction of identities with glasses / a beard.

    Returns:
        dict of float64 arrays: every field of ``IDENTITY_FIELDS`` ``(N,)`` plus ``az``,
        ``skin``/``hair``/``iris_rgb``/``lip`` ``(N, 3)`` RGB in [0, 1], ``glasses``, ``beard``
        ``(N,)`` and ``rest``/``gain`` ``(N, n_controls)``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or (ids < 0).any():
        raise ValueError(f"identity numbers must be a 1-D array of non-negative ints, got {ids!r}")
    u = hash_uniform(seed, STREAM_IDENTITY, ids, n=len(_GEOMETRY))
    p = {name: lo + (hi - lo) * u[:, j] for j, (name, lo, hi) in enumerate(_GEOMETRY)}
    p["az"] = p["ax"] * p["az_ratio"]
    # skin along a light-dark line with a small hue shift; hair from a palette (grey rarely).
    t = p["skin_t"][:, None]
    skin = _SKIN_LIGHT * (1 - t) + _SKIN_DARK * t
    skin = skin + 0.03 * p["skin_hue"][:, None] * np.array([1.0, 0.0, -1.0])
    p["skin"] = np.clip(skin, 0.0, 1.0)
    hair_pos = p["hair_t"] * 3.98
    lo = np.minimum(hair_pos.astype(np.int64), 3)
    frac = (hair_pos - lo)[:, None]
    p["hair"] = _HAIR[lo] * (1 - frac) + _HAIR[lo + 1] * frac
    p["iris_rgb"] = _IRIS[np.minimum((p["iris_t"] * 4).astype(np.int64), 3)]
    p["lip"] = np.clip(p["skin"] * (1 - p["lip_red"][:, None]) + np.array([0.62, 0.18, 0.20]) * p["lip_red"][:, None] * 1.2,
                       0.0, 1.0)
    p["glasses"] = (p["glasses_u"] < glasses_rate).astype(np.float64)
    p["beard"] = (p["beard_u"] < beard_rate).astype(np.float64) * p["beard_d"]
    k = float(idiosyncrasy)
    p["rest"] = k * STYLE_SCALES["rest"] * hash_normal(seed, STREAM_STYLE, ids, n=n_controls)
    p["gain"] = 1.0 + k * STYLE_SCALES["gain"] * (2.0 * hash_uniform(seed, STREAM_STYLE + 100, ids, n=n_controls) - 1.0)
    return p


def surface_depth(p: Mapping[str, np.ndarray], u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``w(u, v)``: depth of the head surface (front half of the ellipsoid) at frontal coordinates ``(u, v)``."""
    ax, ay, az = p["ax"], p["ay"], p["az"]
    if u.ndim == 2:
        ax, ay, az = ax[:, None], ay[:, None], az[:, None]
    r = 1.0 - (u / ax) ** 2 - (v / ay) ** 2
    return az * np.sqrt(np.maximum(r, 0.0))


def feature_shapes(p: Mapping[str, np.ndarray], g: np.ndarray) -> dict[str, np.ndarray]:
    """Shape of every facial feature, in head-frame units, given identity ``p`` and controls ``g``.

    Args:
        p: identity parameters (one row per sample; see :func:`identity_params`).
        g: ``(B, N_CONTROLS)`` controls (already including the identity's style).

    Returns:
        dict of ``(B,)`` float64 arrays used by both the renderer and :func:`landmarks_3d`
        (one definition, so landmarks always sit on the drawn features). Eye and brow
        coordinates are relative to the eye centre ``(±ex, ey)`` with ``du`` pointing
        away from the face midline and ``dv`` down; mouth coordinates relative to
        ``(0, my)``.
    """
    def c(name):
        return g[:, C[name]]

    s = {}
    s["ex"], s["ey"], s["ew"], s["tilt"] = p["ex"], p["ey"], p["ew"], p["tilt"]
    open_ = c("eye_open")
    s["hu"] = p["eh_up"] * np.clip(1.0 + 1.1 * open_ - 0.15 * np.maximum(c("lower_lid"), 0), 0.10, 2.6)
    s["hl"] = p["eh_lo"] * np.clip(1.0 + 0.3 * np.maximum(open_, 0) - 0.65 * c("lower_lid"), 0.20, 1.7)
    s["iris"] = p["iris"]
    # brows: du of the inner/outer ends, v of the ends relative to the eye centre, arch.
    shift = -0.7 * p["ew"] * c("brow_together")
    s["b_in"] = -p["brow_in"] * p["ew"] + shift
    s["b_out"] = p["brow_out"] * p["ew"] + 0.4 * shift
    base = -p["brow_gap"] - 0.5 * s["hu"] + 0.5 * p["eh_up"]
    s["bv_in"] = base + p["brow_slope"] - 0.11 * c("brow_inner")
    s["bv_out"] = base - p["brow_slope"] - 0.10 * c("brow_outer")
    s["arch"] = np.clip(p["brow_arch"] + 0.045 * c("brow_arch"), -0.03, 0.10)
    s["brow_th"] = p["brow_th"] * (1.0 + 0.15 * np.maximum(c("brow_together"), 0))
    # mouth
    mw = p["mouth_w"] * np.clip(1.0 + 0.22 * c("mouth_stretch") + 0.10 * np.maximum(c("corner_l") + c("corner_r"), 0), 0.6, 1.6)
    s["my"], s["mw"] = p["mouth_y"], mw
    s["cl"] = -0.075 * c("corner_l")
    s["cr"] = -0.075 * c("corner_r")
    part = np.maximum(c("lips_part"), 0)
    jaw = np.maximum(c("jaw_drop"), 0)
    s["ou"] = 0.006 + 0.022 * part + 0.030 * np.maximum(c("upper_lip"), 0) + 0.012 * jaw
    s["ol"] = 0.006 + 0.028 * part + 0.095 * jaw + 0.030 * np.maximum(c("lower_lip"), 0)
    press = np.clip(c("lip_press"), 0, 1)
    s["lu"] = p["lip_up"] * (1.0 - 0.65 * press)
    s["ll"] = p["lip_lo"] * (1.0 - 0.60 * press + 0.35 * np.maximum(c("lower_lip"), 0))
    s["nose_y"], s["nose_p"], s["nose_w"] = p["nose_y"], p["nose_p"], p["nose_w"] * (1 + 0.12 * np.maximum(c("nasal_wr"), 0))
    for name in ("temporal_wr", "below_wr", "nasal_wr", "forehead_wr", "glabella", "nasolabial", "cheek",
                 "dimple_l", "dimple_r"):
        s[name] = np.clip(c(name), 0.0, 2.5)
    s["nasolabial"] = np.clip(s["nasolabial"] + 0.25 * p["age"], 0.0, 1.5)
    s["temporal_wr"] = np.clip(s["temporal_wr"] + 0.1 * p["age"], 0.0, 1.5)
    return s


_JAW_ANGLES = tuple(-0.05 + (math.pi + 0.10) * k / 16 for k in range(17))
_JAW_COS = np.array([math.cos(a) for a in _JAW_ANGLES])
_JAW_SIN = np.array([math.sin(a) for a in _JAW_ANGLES])


def landmarks_3d(p: Mapping[str, np.ndarray], s: Mapping[str, np.ndarray]) -> np.ndarray:
    """The 68 iBUG/dlib landmarks in the head frame, ``(B, 68, 3)``.

    Points 0-16 are fixed 3-D points of the face contour (the 3-D landmark convention:
    they do not slide to the silhouette when the head turns). Points 27-35 (nose)
    protrude from the surface by up to ``nose_p``; all others lie on the surface.
    """
    B = len(p["ax"])
    us, vs, extra = np.zeros((B, 68)), np.zeros((B, 68)), np.zeros((B, 68))

    def col(name):
        return np.asarray(s[name] if name in s else p[name], dtype=np.float64)[:, None]

    # jaw 0..16 from the image-left temple around the chin, at fixed angles
    us[:, :17] = -0.95 * col("ax") * _JAW_COS
    vs[:, :17] = 0.95 * col("ay") * _JAW_SIN
    # brows 17..21 (image left, outer -> inner) and 22..26 (image right, inner -> outer)
    t = np.array([1.0, 0.5, 0.0, -0.5, -1.0])
    du = col("b_in") * (1 - t) / 2 + col("b_out") * (1 + t) / 2
    bv = col("ey") + col("bv_in") * (1 - t) / 2 + col("bv_out") * (1 + t) / 2 - col("arch") * (1 - t * t)
    us[:, 17:22], vs[:, 17:22] = -(col("ex") + du), bv
    us[:, 22:27], vs[:, 22:27] = (col("ex") + du)[:, ::-1], bv[:, ::-1]
    # nose bridge 27..30 and base 31..35
    f = np.arange(4) / 3
    vs[:, 27:31] = (col("ey") - 0.01) * (1 - f) + col("nose_y") * f
    extra[:, 27:31] = col("nose_p") * (0.25 + 0.75 * f)
    f = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    us[:, 31:36] = f * col("nose_w")
    vs[:, 31:36] = col("nose_y") + (0.035 - 0.012 * np.abs(f))
    extra[:, 31:36] = col("nose_p") * (0.70 - 0.45 * np.abs(f))
    # eyes 36..41 (image left: outer corner, upper lid x2, inner corner, lower lid x2) and 42..47
    t = np.array([1.0, 1 / 3, -1 / 3, -1.0, -1 / 3, 1 / 3])
    lid = np.array([0.0, -1.0, -1.0, 0.0, 1.0, 1.0])
    ew = col("ew")
    h = np.where(lid < 0, col("hu"), col("hl"))
    dv = -0.35 * col("tilt") * ew * t + lid * h * (1 - t * t)
    us[:, 36:42], vs[:, 36:42] = -(col("ex") + t * ew), col("ey") + dv
    order = [3, 2, 1, 0, 5, 4]  # 42 inner corner, 43-44 upper lid, 45 outer corner, 46-47 lower lid
    us[:, 42:48], vs[:, 42:48] = (col("ex") + t * ew)[:, order], (col("ey") + dv)[:, order]
    # mouth: outer 48..59, inner 60..67; "which" 0 corner, 1 upper outer, 2 lower outer, 3 upper inner, 4 lower inner
    t = np.array([-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0, -1 / 3, -2 / 3,
                  -0.9, -1 / 3, 0, 1 / 3, 0.9, 1 / 3, 0, -1 / 3])
    which = np.array([0, 1, 1, 1, 1, 1, 0, 2, 2, 2, 2, 2, 0, 3, 3, 3, 0, 4, 4, 4])
    ca, cd = (col("cl") + col("cr")) / 2, (col("cr") - col("cl")) / 2
    line = t * t * (ca + cd * t)
    bump = 1 - t * t
    off = np.select([which == 1, which == 2, which == 3, which == 4],
                    [-(col("ou") + col("lu")) * bump, (col("ol") + col("ll")) * bump, -col("ou") * bump,
                     col("ol") * bump], 0.0)
    us[:, 48:68] = t * col("mw")
    vs[:, 48:68] = col("my") + line + off
    w = surface_depth(p, us, vs) + extra
    return np.stack([us, vs, w], -1)
