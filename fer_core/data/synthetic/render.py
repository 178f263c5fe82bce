"""The batched renderer of the synthetic face world.

A batch of faces is drawn at once with element-wise tensor operations on the pixel grid
(torch, so the same code runs on CPU or GPU):

1. *Ray casting.* Every pixel is traced (orthographically) onto the head ellipsoid
   rotated by yaw, pitch and roll; the visible surface point gives the frontal surface
   coordinates ``(u, v, w)`` of the pixel, its normal (Lambert shading) and the head's
   soft silhouette.
2. *Surface features.* Eyes, brows, wrinkles, mouth, hair, beard and glasses are soft-edged
   shapes in ``(u, v)``, so they move and foreshorten with the head pose. The nose is drawn
   in image space from its projected 3-D points (it protrudes, so it shifts more than the
   surface features when the head turns).
3. *Nuisances.* Background, illumination, global gain/bias and pixel noise.

Only ``+ - * /``, ``sqrt``, ``abs``, ``min``/``max``/``clamp`` and ``floor`` touch the pixel
grid (all exactly rounded), and each feature is evaluated on a slice of rows/columns that
contains its whole support (:func:`_union_box`): a pixel's value therefore does not depend
on which other samples share its batch — rendering one face or the same face inside any
batch gives the same bits on a given device.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch

from fer_core.data.synthetic.face import brow_curve  # noqa: F401  (documented companion of the eye code)

__all__ = ["render", "project", "rotation", "noise_bank", "LUMA"]

LUMA = np.array([0.299, 0.587, 0.114])
_N_BANK = 61
_BANKS: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}


def rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """``(B, 3, 3)`` head rotations ``Rz(roll) Rx(-pitch) Ry(yaw)`` from angles in degrees.

    Positive yaw turns the nose towards the image right; positive pitch shows the face
    from above (the F2ED bird view); positive roll turns the face clockwise in the image.
    """
    cy, sy, cp, sp, cr, sr = _cos(yaw), _sin(yaw), _cos(pitch), _sin(pitch), _cos(roll), _sin(roll)
    one, zero = np.ones_like(cy), np.zeros_like(cy)
    ry = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cp, sp], -1), np.stack([zero, -sp, cp], -1)], -2)
    rz = np.stack([np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1), np.stack([zero, zero, one], -1)], -2)
    return _mat(rz, _mat(rx, ry))


def _mat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched 3x3 product with explicit sums (no BLAS: same bits whatever the batch size)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    for i in range(3):
        for j in range(3):
            out[..., i, j] = a[..., i, 0] * b[..., 0, j] + a[..., i, 1] * b[..., 1, j] + a[..., i, 2] * b[..., 2, j]
    return out


def project(X: np.ndarray, R: np.ndarray, scale: np.ndarray, tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
    """Head-frame points ``(B, N, 3)`` -> normalised image coordinates ``(B, N, 2)`` in [-1, 1] (y down)."""
    x = R[:, 0, 0, None] * X[..., 0] + R[:, 0, 1, None] * X[..., 1] + R[:, 0, 2, None] * X[..., 2]
    y = R[:, 1, 0, None] * X[..., 0] + R[:, 1, 1, None] * X[..., 1] + R[:, 1, 2, None] * X[..., 2]
    return np.stack([scale[:, None] * x + tx[:, None], scale[:, None] * y + ty[:, None]], -1)


def noise_bank(size: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Two fixed banks of ``(61, size, size)`` textures: white noise and smooth (streaky) noise.

    Built once per size and device from a fixed generator; samples pick two entries of a
    bank by hash (61² combinations), so noise never costs a random-number call per pixel.
    """
    key = (size, str(device))
    if key not in _BANKS:
        g = torch.Generator().manual_seed(9157 + size)
        white = torch.randn(_N_BANK, size, size, generator=g)
        k = max(1, size // 32)
        smooth = torch.nn.functional.avg_pool2d(torch.randn(_N_BANK, 1, size + 2 * k, size + 2 * k, generator=g),
                                                (4 * k + 1, k + 1), stride=1, padding=(2 * k, 0))[:, 0, k:k + size, :size]
        smooth = smooth / smooth.std(dim=(1, 2), keepdim=True)
        _BANKS[key] = (white.to(device), smooth.contiguous().to(device))
    return _BANKS[key]


def _union_box(pts: np.ndarray, margin: float, size: int) -> tuple[int, int, int, int]:
    """Pixel rows/cols ``[r0, r1) x [c0, c1)`` containing all ``pts`` (normalised, any batch) plus ``margin``."""
    lo = pts.reshape(-1, 2).min(0) - margin
    hi = pts.reshape(-1, 2).max(0) + margin
    # pixel j covers normalised [2j/S - 1, 2(j+1)/S - 1]
    c0, r0 = (np.floor((lo + 1) * size / 2) - 1).astype(int)
    c1, r1 = (np.ceil((hi + 1) * size / 2) + 1).astype(int)
    return max(r0, 0), min(r1, size), max(c0, 0), min(c1, size)


def _support_points(p, s, which: str) -> tuple[np.ndarray, np.ndarray]:
    """Frontal ``(u, v)`` grid (B, 25) covering the texture-space support of a feature group."""
    B = len(p["ax"])
    if which == "eyes":  # full face width: the glasses' arms reach the ears
        u_hi = p["ax"] + 0.02
        v_lo = s["ey"] + np.minimum(np.minimum(s["bv_in"], s["bv_out"]) - np.abs(s["arch"]), -1.25 * s["ew"]) - 0.07
        v_hi = s["ey"] + s["hl"] + 0.21
    elif which == "forehead":
        v_lo, v_hi = s["ey"] + s["bv_in"] - 0.20, s["ey"] + s["bv_in"]
        u_hi = 0.30 * np.ones(B)
    elif which == "mouth":
        u_hi = np.maximum(s["mw"] + 0.07, s["nose_w"] + 0.05)
        v_lo = np.minimum(s["nose_y"] + 0.01, s["my"] + np.minimum(np.minimum(s["cl"], s["cr"]), 0) - s["ou"] - s["lu"] - 0.04)
        v_hi = s["my"] + np.maximum(np.maximum(s["cl"], s["cr"]), 0) + s["ol"] + s["ll"] + 0.07
    else:
        raise ValueError(which)
    u_lo = -u_hi
    f = np.linspace(0.0, 1.0, 5)
    uu = u_lo[:, None, None] + (u_hi - u_lo)[:, None, None] * f[None, :, None]
    vv = v_lo[:, None, None] + (v_hi - v_lo)[:, None, None] * f[None, None, :]
    return np.broadcast_to(uu, (B, 5, 5)).reshape(B, 25), np.broadcast_to(vv, (B, 5, 5)).reshape(B, 25)


class _Grid:
    """Per-sample scalars as ``(B, 1, 1)`` tensors (one host->device copy for all of them)."""

    def __init__(self, cols: Mapping[str, np.ndarray], device, dtype=torch.float32):
        names = list(cols)
        mat = np.stack([np.asarray(cols[n], dtype=np.float64) for n in names], 1)
        t = torch.from_numpy(mat).to(device=device, dtype=dtype)
        self._t = {n: t[:, j, None, None] for j, n in enumerate(names)}

    def __getattr__(self, name):
        try:
            return self._t[name]
        except KeyError:
            raise AttributeError(name) from None


def _soft(x: torch.Tensor, inv_px: float) -> torch.Tensor:
    """Anti-aliased coverage of the region ``x > 0`` (x a signed distance in normalised units)."""
    return x.mul_(inv_px).add_(0.5).clamp_(0.0, 1.0)


def _lerp_(dst: torch.Tensor, colour: torch.Tensor, alpha: torch.Tensor) -> None:
    """``dst += alpha * (colour - dst)`` in place; dst ``(B, C, h, w)``, alpha ``(B, h, w)``."""
    dst.add_((colour - dst).mul_(alpha.unsqueeze(1)))


def _lines(phase: torch.Tensor, width: float) -> torch.Tensor:
    """Periodic soft lines at integer ``phase``; ``width`` is the line width as a fraction of the period."""
    f = phase - torch.floor(phase)
    return (f - 0.5).abs_().mul_(-2.0 / width).add_(1.0).clamp_(0.0, 1.0)


def render(P: Mapping[str, np.ndarray], *, size: int, channels: int, device: torch.device | str = "cpu",
           slices: bool = True) -> tuple[torch.Tensor, np.ndarray]:
    """Render a batch of faces.

    Args:
        P: per-sample parameters, one row per face (assembled by :class:`~fer_core.data.synthetic.world.FaceWorld`):
            identity ``p`` fields, feature shapes ``s`` (see :func:`~fer_core.data.synthetic.face.feature_shapes`),
            ``lm3d`` ``(B, 68, 3)``, pose ``yaw``/``pitch``/``roll`` (degrees), ``scale``, ``tx``, ``ty`` and the
            scene nuisances.
        size: output side S in pixels; channels: 3 (RGB) or 1 (luma).
        slices: evaluate each feature only on the rows/columns that can hold it (faster;
            ``False`` evaluates everything everywhere, giving the same image).

    Returns:
        ``images`` ``(B, channels, S, S)`` float32 in [-1, 1] on ``device`` and
        ``landmarks`` ``(B, 68, 2)`` float32 pixel coordinates (x, y) of the returned image
        (pixel ``j`` has its centre at coordinate ``j``).
    """
    device = torch.device(device)
    B = len(P["yaw"])
    S = size
    px = 2.0 / S
    inv_px = 1.0 / px
    R = rotation(P["yaw"], P["pitch"], P["roll"])
    lm = project(P["lm3d"], R, P["scale"], P["tx"], P["ty"])
    ax, ay, az = P["ax"], P["ay"], P["az"]
    inv_a2 = np.stack([1 / ax ** 2, 1 / ay ** 2, 1 / az ** 2], 1)
    M = {}
    for i in range(3):
        for j in range(i, 3):
            M[f"M{i}{j}"] = R[:, i, 0] * R[:, j, 0] * inv_a2[:, 0] + R[:, i, 1] * R[:, j, 1] * inv_a2[:, 1] + \
                R[:, i, 2] * R[:, j, 2] * inv_a2[:, 2]
    # light direction in the head frame (the light is fixed to the camera)
    lcam = _light(P)
    lh = np.stack([R[:, 0, k] * lcam[:, 0] + R[:, 1, k] * lcam[:, 1] + R[:, 2, k] * lcam[:, 2] for k in range(3)], 1)
    s = P
    mean_a = (ax + ay + az) / 3
    # nose segment in image space: bridge (27) -> tip (30), and the side its shadow falls on
    nose_a, nose_b = lm[:, 27], lm[:, 30]
    seg = nose_b - nose_a
    seg_len = np.sqrt(seg[:, 0] ** 2 + seg[:, 1] ** 2) + 1e-6
    side = np.where(P["yaw"] + 25.0 * lcam[:, 0] >= 0, 1.0, -1.0)
    cols = {
        "tx": P["tx"], "ty": P["ty"], "inv_s": 1 / P["scale"], **M,
        "R00": R[:, 0, 0], "R01": R[:, 0, 1], "R02": R[:, 0, 2], "R10": R[:, 1, 0], "R11": R[:, 1, 1],
        "R12": R[:, 1, 2], "R20": R[:, 2, 0], "R21": R[:, 2, 1], "R22": R[:, 2, 2],
        "edge": mean_a ** 3 / 2 * inv_px, "inv_ax2": inv_a2[:, 0], "inv_ay2": inv_a2[:, 1], "inv_az2": inv_a2[:, 2],
        "inv_ax4": inv_a2[:, 0] ** 2, "inv_ay4": inv_a2[:, 1] ** 2, "inv_az4": inv_a2[:, 2] ** 2,
        "lx": lh[:, 0], "ly": lh[:, 1], "lz": lh[:, 2], "amb": P["ambient"], "dif": P["diffuse"], "inv_az": 1 / az,
        "cr": _cos(P["roll"]), "sr": _sin(P["roll"]), "neck_w": P["neck_w"],
        "neck_top": 0.45 * ay,
        "ex": s["ex"], "ey": s["ey"], "ew": s["ew"], "inv_ew": 1 / s["ew"], "hu": s["hu"], "hl": s["hl"],
        "tilt": -0.35 * s["tilt"], "iris": s["iris"], "pupil": 0.45 * s["iris"], "ic": (s["eh_lo"] - s["eh_up"]) / 2,
        "b_mid": (s["b_in"] + s["b_out"]) / 2, "b_half": (s["b_out"] - s["b_in"]) / 2,
        "inv_b_half": 2 / (s["b_out"] - s["b_in"]), "bv_in": s["bv_in"], "bv_out": s["bv_out"], "arch": s["arch"],
        "brow_th": s["brow_th"], "brow_a": s["brow_dark"],
        "my": s["my"], "mw": s["mw"], "inv_mw": 1 / s["mw"], "ca": (s["cl"] + s["cr"]) / 2, "cd": (s["cr"] - s["cl"]) / 2,
        "ou": s["ou"], "ol": s["ol"], "lu": s["lu"], "ll": s["ll"],
        "teeth": np.clip((s["ou"] + s["ol"] - 0.025) / 0.02, 0, 1),
        "wr_temporal": 0.45 * s["temporal_wr"], "wr_below": 0.40 * s["below_wr"], "wr_nasal": 0.45 * s["nasal_wr"],
        "wr_forehead": 0.30 * s["forehead_wr"], "wr_glabella": 0.45 * s["glabella"], "fold": 0.45 * s["nasolabial"],
        "cheek": 0.22 * s["cheek"], "dim_l": 0.5 * s["dimple_l"], "dim_r": 0.5 * s["dimple_r"],
        "nose_y": s["nose_y"], "nose_w": s["nose_w"],
        "hairline": s["hairline"], "hair_curve": s["hair_curve"] / ax ** 2, "hair_side": s["hair_side"],
        "hair_low": s["hair_low"], "beard": s["beard"], "glasses": s["glasses"],
        "n_ax": nose_a[:, 0], "n_ay": nose_a[:, 1], "n_dx": seg[:, 0] / seg_len, "n_dy": seg[:, 1] / seg_len,
        "n_len": seg_len, "n_side": side * s["nose_w"] * P["scale"] * 0.55, "n_dark": 0.10 + 0.18 * P["diffuse"],
        "nos_lx": lm[:, 32, 0], "nos_ly": lm[:, 32, 1], "nos_rx": lm[:, 34, 0], "nos_ry": lm[:, 34, 1],
        "nos_r": 0.022 * P["scale"], "bg_c": _cos(P["bg_angle"]), "bg_s": _sin(P["bg_angle"]), "bg_k": P["bg_sharp"],
        "noise": P["noise"] / math.sqrt(2.0), "out_gain": 2.0 * P["gain"], "out_bias": 2.0 * P["bias"] - 1.0,
    }
    g = _Grid(cols, device)
    colour = _colours(P, channels, device)

    ys = (torch.arange(S, device=device, dtype=torch.float32) * px + (px / 2 - 1.0))
    xg = ys.view(1, 1, S)
    yg = ys.view(1, S, 1)
    qx = (xg - g.tx) * g.inv_s                                    # (B, 1, S)
    qy = (yg - g.ty) * g.inv_s                                    # (B, S, 1)
    # ray / ellipsoid intersection (quadratic in the depth z)
    b = g.M02 * qx + g.M12 * qy                                   # (B, S, S)
    c = (g.M00 * qx * qx) + (g.M11 * qy * qy - 1.0) + (2.0 * g.M01 * qx) * qy
    disc = b * b - g.M22 * c
    head_a = (disc * g.edge).add_(0.5).clamp_(0.0, 1.0)
    z = disc.clamp_(min=0.0).sqrt_().sub_(b).div_(g.M22)
    u = g.R00 * qx + g.R10 * qy + g.R20 * z
    v = g.R01 * qx + g.R11 * qy + g.R21 * z
    w = g.R02 * qx + g.R12 * qy + g.R22 * z
    del b, c, z

    # --- background and neck
    C = channels
    t = (g.bg_c * xg + g.bg_s * yg).mul_(g.bg_k).add_(0.5).clamp_(0.0, 1.0)
    img = colour["bg0"] + (colour["bg1"] - colour["bg0"]) * t.unsqueeze(1)
    qxr = g.cr * qx + g.sr * qy
    qyr = g.cr * qy - g.sr * qx
    neck = _soft(g.neck_w - qxr.abs(), inv_px) * _soft(qyr - g.neck_top, inv_px)
    _lerp_(img, colour["neck"], neck)
    del t, qxr, qyr, neck

    # --- albedo of the head surface
    white, smooth = noise_bank(S, device)
    k1 = torch.from_numpy(P["noise_k"][:, 0]).to(device)
    k2 = torch.from_numpy(P["noise_k"][:, 1]).to(device)
    tex = smooth[k1]                                              # hair / beard / skin texture
    A = colour["skin"].expand(B, C, S, S) * (1.0 + 0.04 * tex.unsqueeze(1))
    hv = g.hairline + g.hair_curve * u * u
    hair_top = _soft(hv - v, inv_px)
    hair_side = _soft(g.hair_side * (1.0 / g.inv_az) - w, inv_px).mul_(_soft(g.hair_low - v, inv_px))
    hair = torch.maximum(hair_top, hair_side)
    _lerp_(A, colour["hair"] * (1.0 + 0.18 * tex.unsqueeze(1)), hair)
    del hv, hair_top, hair_side
    au = u.abs()

    def box(which):
        if not slices:
            return slice(None), slice(None)
        uu, vv = _support_points(P, P, which)
        X = np.stack([uu, vv, _depth(P, uu, vv)], -1)
        r0, r1, c0, c1 = _union_box(project(X, R, P["scale"], P["tx"], P["ty"]), 0.04, S)
        return slice(r0, max(r1, r0)), slice(c0, max(c1, c0))

    # beard (below the nose, on the face), drawn before the mouth so lips cover it
    if P["beard"].any():
        beard = _soft(v - (g.nose_y + 0.055), inv_px).mul_(_soft(w * g.inv_az - 0.25, inv_px))
        beard.mul_(g.beard).mul_((0.75 + 0.25 * tex).clamp_(0.0, 1.0))
        _lerp_(A, colour["hair"], beard)
        del beard

    # --- eye region: eyes, brows, wrinkles, cheeks, glasses
    rs, cs = box("eyes")
    _eye_region(A, g, colour, au[:, rs, cs], u[:, rs, cs], v[:, rs, cs], w[:, rs, cs], A[:, :, rs, cs], inv_px, P)
    rs, cs = box("forehead")
    vv = v[:, rs, cs]
    fw = (1.0 - ((vv - (g.ey + g.bv_in - 0.10)) * (1 / 0.085)).abs_()).clamp_(0.0, 1.0)
    fw.mul_((1.0 - au[:, rs, cs] * (1 / 0.28)).clamp_(0.0, 1.0)).mul_(g.wr_forehead)
    fw.mul_(_lines(vv * (1 / 0.045), 0.35))
    A[:, :, rs, cs].mul_(1.0 - fw.unsqueeze(1))
    del fw, vv
    rs, cs = box("mouth")
    _mouth_region(g, colour, au[:, rs, cs], u[:, rs, cs], v[:, rs, cs], A[:, :, rs, cs], inv_px)

    # --- shading (Lambert on the ellipsoid normal, darker towards the silhouette)
    nn_ = (u * u).mul_(g.inv_ax4).add_((v * v).mul_(g.inv_ay4)).add_((w * w).mul_(g.inv_az4)).sqrt_()
    ndl = (u * (g.lx * g.inv_ax2)).add_(v * (g.ly * g.inv_ay2)).add_(w * (g.lz * g.inv_az2)).div_(nn_.clamp_(min=1e-6))
    shade = ndl.clamp_(min=0.0).mul_(g.dif).add_(g.amb)
    shade.mul_((w * g.inv_az).mul_(0.6).add_(0.7).clamp_(max=1.0))
    A.mul_(shade.unsqueeze(1))
    del nn_, ndl, shade

    # --- nose (image space, after shading: it casts its own shadows)
    rs, cs = _nose_box(lm, P, S) if slices else (slice(None), slice(None))
    _nose(A[:, :, rs, cs], g, xg[..., cs], yg[:, rs], inv_px)

    # --- composite, gain/bias, noise
    _lerp_(img, A, head_a)
    noise = white[k1] + white[k2].transpose(1, 2)
    img.mul_(g.out_gain.unsqueeze(1)).add_(g.out_bias.unsqueeze(1)).add_((noise * g.noise).unsqueeze(1)).clamp_(-1.0, 1.0)
    px_lm = ((lm + 1.0) * (S / 2) - 0.5).astype(np.float32)
    return img, px_lm


def _cos(deg) -> np.ndarray:
    # numpy's vectorised cos/sin give the same bits for an element whatever its position in the array
    return np.cos(np.asarray(deg, dtype=np.float64) * (math.pi / 180.0))


def _sin(deg) -> np.ndarray:
    return np.sin(np.asarray(deg, dtype=np.float64) * (math.pi / 180.0))


def _light(P) -> np.ndarray:
    """Unit light directions in the camera frame (towards the light), from azimuth/elevation in degrees."""
    ca, sa, ce, se = _cos(P["light_az"]), _sin(P["light_az"]), _cos(P["light_el"]), _sin(P["light_el"])
    return np.stack([sa * ce, -se, ca * ce], 1)


def _depth(P, u, v):
    ax, ay, az = P["ax"][:, None], P["ay"][:, None], P["az"][:, None]
    return az * np.sqrt(np.maximum(1.0 - (u / ax) ** 2 - (v / ay) ** 2, 0.0))


def _nose_box(lm: np.ndarray, P, S: int) -> tuple[slice, slice]:
    margin = float(np.max(P["nose_w"] * P["scale"])) * 1.2 + 0.06
    r0, r1, c0, c1 = _union_box(lm[:, 27:36], margin, S)
    return slice(r0, max(r1, r0)), slice(c0, max(c1, c0))


def _colours(P, channels: int, device) -> dict[str, torch.Tensor]:
    skin = P["skin"]
    cols = {
        "skin": skin, "hair": P["hair"], "iris": P["iris_rgb"], "lip": P["lip"],
        "sclera": np.broadcast_to(np.array([0.93, 0.92, 0.90]), skin.shape) * (0.85 + 0.15 * P["ambient"][:, None]),
        "pupil": np.broadcast_to(np.array([0.03, 0.03, 0.04]), skin.shape),
        "lash": P["hair"] * 0.35 + 0.02,
        "cavity": np.broadcast_to(np.array([0.22, 0.06, 0.07]), skin.shape),
        "teeth": np.broadcast_to(np.array([0.92, 0.90, 0.84]), skin.shape),
        "frame": np.broadcast_to(np.array([0.08, 0.08, 0.10]), skin.shape),
        "lens": np.broadcast_to(np.array([0.75, 0.82, 0.90]), skin.shape),
        "neck": skin * 0.72,
        "bg0": P["bg0"], "bg1": P["bg1"],
    }
    names = list(cols)
    mat = np.stack([np.asarray(cols[n], dtype=np.float64) for n in names], 1)  # (B, K, 3)
    if channels == 1:
        mat = mat[..., 0:1] * LUMA[0] + mat[..., 1:2] * LUMA[1] + mat[..., 2:3] * LUMA[2]
    t = torch.from_numpy(mat).to(device=device, dtype=torch.float32)
    return {n: t[:, k, :, None, None] for k, n in enumerate(names)}


def _eye_region(A_full, g, colour, au, u, v, w, A, inv_px, P) -> None:
    """Eyes, brows, eye-region wrinkles, cheeks and glasses on a slice (mirrored about the midline)."""
    del A_full, P
    du = au - g.ex
    dv = v - g.ey
    t = du * g.inv_ew
    bump = 1.0 - t * t
    centre = du * g.tilt
    up = centre - g.hu * bump
    lo = centre + g.hl * bump
    eye = _soft(torch.minimum(dv - up, lo - dv), inv_px)
    # cheek raise: a brighter, rounder cheek under the eye
    cdu = du * (1 / 0.10)
    cdv = (dv - (g.hl + 0.11)) * (1 / 0.075)
    cheek = (1.0 - cdu * cdu - cdv * cdv).clamp_(0.0, 1.0).mul_(g.cheek)
    A.mul_(1.0 + cheek.unsqueeze(1))
    # wrinkles: crow's feet (temporal), below the eyes, across the nose bridge, between the brows
    dark = torch.zeros_like(du)
    o = du - g.ew
    win = (1.0 - (o - 0.035).abs_() * (1 / 0.045)).clamp_(0.0, 1.0) * (1.0 - dv.abs() * (1 / 0.065)).clamp_(0.0, 1.0)
    dark.add_(win.mul_(g.wr_temporal).mul_(_lines(dv / (o + 0.6 * g.ew).clamp_(min=0.02) * 3.0, 0.4)))
    below = dv - lo
    win = (1.0 - (below - 0.035).abs_() * (1 / 0.03)).clamp_(0.0, 1.0) * (bump * 1.5).clamp_(0.0, 1.0)
    dark.add_(win.mul_(g.wr_below).mul_(_lines(below * (1 / 0.022), 0.4)))
    win = (1.0 - au * (1 / 0.075)).clamp_(0.0, 1.0) * (1.0 - (dv - 0.05).abs_() * (1 / 0.055)).clamp_(0.0, 1.0)
    dark.add_(win.mul_(g.wr_nasal).mul_(_lines(dv * (1 / 0.022), 0.45)))
    win = (1.0 - au * (1 / 0.045)).clamp_(0.0, 1.0) * (1.0 - (dv - (g.bv_in + 0.005)).abs_() * (1 / 0.045)).clamp_(0.0, 1.0)
    dark.add_(win.mul_(g.wr_glabella).mul_(_lines(au * (1 / 0.028) + 0.5, 0.4)))
    A.mul_(1.0 - dark.clamp_(0.0, 0.8).unsqueeze(1))
    del dark, win, below, o
    # eyeball: sclera, iris, pupil, lash line
    _lerp_(A, colour["sclera"], eye)
    dvi = dv - g.ic
    r = (du * du + dvi * dvi).sqrt_()
    _lerp_(A, colour["iris"], _soft(g.iris - r, inv_px).mul_(eye))
    _lerp_(A, colour["pupil"], _soft(g.pupil - r, inv_px).mul_(eye))
    lash = (1.0 - (dv - up).abs_() * (inv_px * 0.9)).clamp_(0.0, 1.0).mul_((bump * 4.0).clamp_(0.0, 1.0))
    _lerp_(A, colour["lash"], lash.mul_(0.85))
    # brows
    tb = (du - g.b_mid) * g.inv_b_half
    cv = g.bv_in * (1.0 - tb) * 0.5 + g.bv_out * (1.0 + tb) * 0.5 - g.arch * (1.0 - tb * tb)
    th = g.brow_th * (1.0 - 0.3 * tb)
    brow = _soft(th - (dv - cv).abs_(), inv_px).mul_(_soft((1.0 - tb.abs()) * g.b_half, inv_px))
    _lerp_(A, colour["hair"] * 0.7, brow.mul_(g.brow_a))
    # glasses: two rims, a bridge, the temple arms (visible when the head turns)
    if float(g.glasses.max()) > 0:
        rx, ry = 1.55 * g.ew, 1.1 * g.ew
        gv = dv + 0.005
        rr = ((du * (1 / rx)) ** 2 + (gv * (1 / ry)) ** 2).sqrt_()
        rim = _soft(0.011 - (rr - 1.0).abs_() * ry, inv_px)
        lens = _soft((1.0 - rr) * ry, inv_px).mul_(0.12)
        bridge = _soft(0.008 - (gv + 0.02).abs_(), inv_px).mul_(_soft(g.ex - rx + 0.006 - au, inv_px))
        arm = _soft(0.008 - (gv + 0.01).abs_(), inv_px).mul_(_soft(au - g.ex - rx + 0.004, inv_px))
        frame = torch.maximum(torch.maximum(rim, bridge), arm).mul_(g.glasses)
        _lerp_(A, colour["lens"], lens.mul_(g.glasses))
        _lerp_(A, colour["frame"], frame)


def _mouth_region(g, colour, au, u, v, A, inv_px) -> None:
    """Lips, mouth opening and teeth, nasolabial folds and dimples on a slice."""
    # nasolabial fold: from beside the nose wing to beyond the mouth corner (mirrored)
    x1, y1 = g.nose_w + 0.02, g.nose_y + 0.03
    x2, y2 = g.mw + 0.035, g.my + 0.035
    dx, dy = x2 - x1, y2 - y1
    ln = (dx * dx + dy * dy).sqrt()
    ux, uy = dx / ln, dy / ln
    rx, ry = au - x1, v - y1
    along = (rx * ux + ry * uy) / ln
    dist = (rx * uy - ry * ux).abs_()
    fold = (1.0 - dist * (1 / 0.012)).clamp_(0.0, 1.0).mul_((along * (1.0 - along) * 5.0).clamp_(0.0, 1.0)).mul_(g.fold)
    # dimples: small dark dents beyond the corners (one side for contempt)
    t = u * g.inv_mw
    dm = ((au - g.mw - 0.02) * (1 / 0.018)) ** 2 + ((v - g.my - g.ca - g.cd * torch.sign(u)) * (1 / 0.02)) ** 2
    side = torch.where(u < 0, g.dim_l, g.dim_r)
    fold.add_((1.0 - dm).clamp_(0.0, 1.0).mul_(side))
    A.mul_(1.0 - fold.clamp_(0.0, 0.8).unsqueeze(1))
    dv = v - g.my
    line = t * t * (g.ca + g.cd * t)
    bump = 1.0 - t * t
    ui = line - g.ou * bump
    li = line + g.ol * bump
    uo = ui - g.lu * bump
    lo = li + g.ll * bump
    lips = _soft(torch.minimum(dv - uo, lo - dv), inv_px)
    cav = _soft(torch.minimum(dv - ui, li - dv), inv_px)
    _lerp_(A, colour["lip"], lips)
    _lerp_(A, colour["cavity"], cav)
    teeth = _soft(ui + 0.03 * bump - dv, inv_px).mul_(cav).mul_(g.teeth)
    _lerp_(A, colour["teeth"], teeth)


def _nose(A, g, x, y, inv_px) -> None:
    """Shadow along the nose side and the two nostrils, from the projected nose landmarks."""
    rx, ry = x - g.n_ax, y - g.n_ay
    along = (rx * g.n_dx + ry * g.n_dy) / g.n_len
    across = rx * g.n_dy - ry * g.n_dx
    f = along.clamp(0.0, 1.0)
    width = g.n_side * (0.35 + 0.65 * f)
    shadow = (1.0 - (across - width).abs_() / (width.abs() * 0.8 + 0.012)).clamp_(0.0, 1.0)
    shadow.mul_((along * (1.15 - along) * 6.0).clamp_(0.0, 1.0)).mul_(g.n_dark)
    for cx, cy in ((g.nos_lx, g.nos_ly), (g.nos_rx, g.nos_ry)):
        d = ((x - cx) ** 2 + ((y - cy) * 1.6) ** 2).sqrt_()
        shadow.add_(_soft(g.nos_r - d, inv_px).mul_(0.55))
    A.mul_(1.0 - shadow.clamp_(0.0, 0.85).unsqueeze(1))
