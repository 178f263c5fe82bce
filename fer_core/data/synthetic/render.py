"""The batched renderer of the synthetic face world.

A batch of faces is drawn with element-wise operations on the pixel grid:

1. *Ray casting.* Every pixel is traced (orthographically) onto the head ellipsoid
   rotated by yaw, pitch and roll; the visible surface point gives the frontal surface
   coordinates ``(u, v, w)`` of the pixel, its normal (Lambert shading) and the head's
   soft silhouette.
2. *Surface features.* Eyes, brows, wrinkles, mouth, hair, beard and glasses are soft-edged
   shapes in ``(u, v)``, so they move and foreshorten with the head pose. The nose is drawn
   in image space from its projected 3-D points (it protrudes, so it shifts more than the
   surface features when the head turns).
3. *Nuisances.* Background, illumination, global gain/bias and pixel noise.

The per-face parameters (rotation, landmarks, every scalar the pixel code needs, the pixel
box of each feature) are computed here with numpy. The pixels are then drawn either by
:func:`_render_torch` — batched torch operations, the reference and the GPU path — or, on
the CPU, by the compiled row loop of :mod:`~fer_core.data.synthetic.kernel`, a transcription
of the same expressions that is several times faster (see ``bench_renderer``).

Only ``+ - * /``, ``sqrt``, ``abs``, ``min``/``max``/``clamp`` and ``trunc`` touch the pixel
grid, and every feature has compact support inside its box (:func:`_boxes`): evaluating it
outside adds exactly nothing. A pixel's value therefore does not depend on which other
faces share its batch: one face alone or inside any batch gives the same bits on a given
device and path.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch

from fer_core.data.synthetic.groups import BOXES, COLOURS


__all__ = ["render", "uses_kernel", "project", "rotation", "noise_bank", "LUMA", "N_BANK"]

LUMA = np.array([0.299, 0.587, 0.114])
N_BANK = 61
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
        white = torch.randn(N_BANK, size, size, generator=g)
        coarse = torch.randn(N_BANK, 1, max(2, size // 16), max(2, size // 2), generator=g)
        smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        smooth = smooth / smooth.std(dim=(1, 2), keepdim=True)
        _BANKS[key] = (white.to(device), smooth.contiguous().to(device))
    return _BANKS[key]


def _pixel_boxes(pts: np.ndarray, margin: float, size: int) -> np.ndarray:
    """Per face, pixel rows/cols ``(r0, r1, c0, c1)`` (int64 ``(B, 4)``, ``[r0, r1) x [c0, c1)``, clipped to
    the image, ``r1 >= r0``) containing its ``pts`` ``(B, N, 2)`` (normalised coordinates) plus ``margin``."""
    x, y = pts[..., 0], pts[..., 1]
    # pixel j covers normalised [2j/S - 1, 2(j+1)/S - 1]
    c0 = np.floor((x.min(-1) - margin + 1) * size / 2).astype(np.int64) - 1
    r0 = np.floor((y.min(-1) - margin + 1) * size / 2).astype(np.int64) - 1
    c1 = np.ceil((x.max(-1) + margin + 1) * size / 2).astype(np.int64) + 1
    r1 = np.ceil((y.max(-1) + margin + 1) * size / 2).astype(np.int64) + 1
    r0, c0 = np.maximum(r0, 0), np.maximum(c0, 0)
    r1, c1 = np.minimum(r1, size), np.minimum(c1, size)
    return np.stack([r0, np.maximum(r1, r0), c0, np.maximum(c1, c0)], -1)


def _union(boxes: np.ndarray) -> tuple[slice, slice]:
    """The smallest ``(rows, cols)`` slices holding every box of ``boxes`` ``(B, 4)``."""
    if not len(boxes):
        return slice(0, 0), slice(0, 0)
    return slice(int(boxes[:, 0].min()), int(boxes[:, 1].max())), slice(int(boxes[:, 2].min()), int(boxes[:, 3].max()))


def _support_rect(p, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frontal ``(u_lo, u_hi, v_lo, v_hi)``, each ``(B,)``: a rectangle holding a feature group's whole support.

    The bounds follow the extents of the shapes drawn in ``_eye``, ``_centre``, ``_arms``,
    ``_forehead`` and ``_mouth_region`` (each feature has compact support), with a margin.
    """
    s = p
    ones = np.ones(len(p["ax"]))
    rim = 1.55 * s["ew"] + 0.02
    if which == "eyes":  # both eyes (mirror images), brows, cheeks, crow's feet, glasses rims
        u_hi = s["ex"] + np.maximum(np.maximum(s["b_out"], rim), s["ew"] + 0.09) + 0.01
        u_lo = -u_hi
        v_lo = s["ey"] + np.minimum(np.minimum(s["bv_in"], s["bv_out"]) - np.abs(s["arch"]) - s["brow_th"] * 1.4,
                                    -1.1 * s["ew"] - 0.02) - 0.01
        v_hi = s["ey"] + s["hl"] + 0.14
    elif which == "centre":
        u_hi = np.maximum(0.09 * ones, s["ex"] - 1.55 * s["ew"] + 0.03)
        u_lo = -u_hi
        v_lo = s["ey"] + np.minimum(s["bv_in"] - 0.06, -0.05)
        v_hi = s["ey"] + 0.125
    elif which in ("arm_l", "arm_r"):
        inner, outer = s["ex"] + 1.55 * s["ew"] - 0.02, s["ax"] + 0.03
        v_lo, v_hi = s["ey"] - 0.045, s["ey"] + 0.015
        u_lo, u_hi = (inner, outer) if which == "arm_r" else (-outer, -inner)
    elif which == "beard":
        u_lo, u_hi = -s["ax"] - 0.02, s["ax"] + 0.02
        v_lo, v_hi = s["nose_y"] + 0.03, s["ay"] + 0.02
    elif which == "forehead":
        v_lo, v_hi = s["ey"] + s["bv_in"] - 0.20, s["ey"] + s["bv_in"]
        u_lo, u_hi = -0.30 * ones, 0.30 * ones
    elif which == "mouth":
        u_hi = np.maximum(s["mw"] + 0.07, s["nose_w"] + 0.05)
        u_lo = -u_hi
        v_lo = np.minimum(s["nose_y"] + 0.01, s["my"] + np.minimum(np.minimum(s["cl"], s["cr"]), 0) - s["ou"] - s["lu"] - 0.04)
        v_hi = s["my"] + np.maximum(np.maximum(s["cl"], s["cr"]), 0) + s["ol"] + s["ll"] + 0.07
    else:
        raise ValueError(which)
    return u_lo, u_hi, v_lo, v_hi


def _boxes(P, R: np.ndarray, names: tuple[str, ...], S: int, margin: float) -> np.ndarray:
    """Per face, the pixel box ``(r0, r1, c0, c1)`` of each named feature group: ``(B, len(names), 4)``.

    A 9 x 5 grid over each group's support rectangle (finer across the face, where the head
    turns) is lifted onto the head surface and projected; the box holds those points plus ``margin``.
    """
    rects = np.stack([np.stack(_support_rect(P, n), -1) for n in names], 1).astype(np.float32)   # (B, G, 4)
    fu, fv = np.linspace(0.0, 1.0, 9, dtype=np.float32), np.linspace(0.0, 1.0, 5, dtype=np.float32)
    B, G = rects.shape[:2]
    uu = (rects[..., 0, None, None] + (rects[..., 1] - rects[..., 0])[..., None, None] * fu[:, None]
          + 0 * fv[None, :]).reshape(B, -1)
    vv = (rects[..., 2, None, None] + (rects[..., 3] - rects[..., 2])[..., None, None] * fv[None, :]
          + 0 * fu[:, None]).reshape(B, -1)
    f32 = {k: P[k].astype(np.float32) for k in ("ax", "ay", "az", "scale", "tx", "ty")}
    X = np.stack([uu, vv, _depth(f32, uu, vv)], -1)
    pts = project(X, R.astype(np.float32), f32["scale"], f32["tx"], f32["ty"]).reshape(B * G, -1, 2)
    return _pixel_boxes(pts, margin, S).reshape(B, G, 4)


class _Grid:
    """Per-sample scalars as ``(B, 1, 1)`` tensors (one host->device copy for all of them)."""

    def __init__(self, cols: Mapping[str, np.ndarray], device, dtype=torch.float32):
        names = list(cols)
        mat = np.stack([np.asarray(cols[n], dtype=np.float64) for n in names], 0)
        t = torch.from_numpy(mat).to(device=device, dtype=dtype)
        self._t = dict(zip(names, t.view(len(names), -1, 1, 1).unbind(0)))

    def __getattr__(self, name):
        try:
            return self._t[name]
        except KeyError:
            raise AttributeError(name) from None


def _soft(x: torch.Tensor, inv_px: float) -> torch.Tensor:
    """Anti-aliased coverage of the region ``x > 0`` (``x`` a signed distance in normalised units), in place."""
    return x.mul_(inv_px).add_(0.5).clamp_(0.0, 1.0)


def _lines(phase: torch.Tensor, width: float) -> torch.Tensor:
    """Periodic soft lines at half-integer ``phase``; ``width`` is the line width as a fraction of the period."""
    return torch.remainder(phase, 1.0).sub_(0.5).abs_().mul_(-2.0 / width).add_(1.0).clamp_(0.0, 1.0)


def render(P: Mapping[str, np.ndarray], *, size: int, channels: int, device: torch.device | str = "cpu",
           slices: bool = True, out: torch.Tensor | None = None,
           kernel: bool | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """Render a batch of faces.

    Args:
        P: per-sample parameters, one row per face (assembled by :class:`~fer_core.data.synthetic.world.FaceWorld`):
            identity fields, feature shapes (see :func:`~fer_core.data.synthetic.face.feature_shapes`),
            ``lm3d`` ``(B, 68, 3)``, pose ``yaw``/``pitch``/``roll`` (degrees), ``scale``, ``tx``, ``ty`` and the
            scene nuisances.
        size: output side S in pixels; channels: 3 (RGB) or 1 (luma).
        slices: evaluate each feature only on the rows/columns that can hold it (faster;
            ``False`` evaluates everything everywhere and gives the same image).
        out: optional ``(B, channels, S, S)`` float32 tensor on ``device`` to write the images into.
        kernel: on the CPU, draw the pixels with the compiled row loop of
            :mod:`~fer_core.data.synthetic.kernel` (the torch code's image up to float32 rounding,
            several times faster). ``None``: whenever the device is the CPU and numba imports;
            ``False``: the torch code.

    Returns:
        ``images`` ``(B, channels, S, S)`` float32 in [-1, 1] on ``device`` and
        ``landmarks`` ``(B, 68, 2)`` float32 pixel coordinates (x, y) of the returned image
        (pixel ``j`` has its centre at coordinate ``j``).
    """
    device = torch.device(device)
    if kernel is None:
        kernel = uses_kernel(device)
    elif kernel and (device.type != "cpu" or _kernel() is None):
        raise ValueError("kernel=True needs device='cpu' and numba installed (pip install numba); "
                         "use kernel=None to choose automatically")
    if not kernel and device.type == "cpu" and torch.get_num_threads() > 1:
        # The pixel tensors are small: splitting each op over threads costs more than it saves (and
        # stalls badly when the cores are busy, e.g. training in the same process). Render on one.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return render(P, size=size, channels=channels, device=device, slices=slices, out=out, kernel=False)
        finally:
            torch.set_num_threads(threads)
    B, S = len(P["yaw"]), size
    px = 2.0 / S
    inv_px = 1.0 / px
    R = rotation(P["yaw"], P["pitch"], P["roll"])
    lm = project(P["lm3d"], R, P["scale"], P["tx"], P["ty"])
    cols = _columns(P, R, lm, inv_px)
    colour = _colours(P, channels)
    coords = torch.arange(S, dtype=torch.float32) * px + (px / 2 - 1.0)
    boxes = _all_boxes(P, R, lm, S, px, slices)
    px_lm = ((lm + 1.0) * (S / 2) - 0.5).astype(np.float32)
    if kernel:
        return _render_kernel(P, cols, colour, boxes, coords, S, channels, inv_px, out), px_lm
    return _render_torch(P, cols, colour, boxes, coords.to(device), S, channels, inv_px, device, out), px_lm


def uses_kernel(device: torch.device | str) -> bool:
    """Whether :func:`render` draws on ``device`` with the compiled CPU loop by default."""
    return torch.device(device).type == "cpu" and _kernel() is not None


def _kernel():
    """The compiled CPU loop (:mod:`~fer_core.data.synthetic.kernel`), or ``None`` without numba."""
    global _KERNEL
    if _KERNEL is None:
        try:
            from fer_core.data.synthetic import kernel
        except ImportError:
            _KERNEL = False
        else:
            _KERNEL = kernel.render_rows
    return _KERNEL or None


_KERNEL = None


def _all_boxes(P, R, lm, S: int, px: float, slices: bool) -> np.ndarray:
    """Per face, the pixel box of every feature group in :data:`BOXES` order: ``(B, 9, 4)`` int64.

    Arms and beard get an empty box on faces without glasses/beard; ``slices=False`` gives every
    group the whole image.
    """
    B = len(P["yaw"])
    if not slices:
        return np.tile(np.array([0, S, 0, S], np.int64), (B, len(BOXES), 1))
    margin = 0.02 + 1.5 * px
    boxes = np.zeros((B, len(BOXES), 4), np.int64)
    boxes[:, :7] = _boxes(P, R, BOXES[:7], S, margin)
    boxes[:, 7] = _nose_box(lm, P, S)
    boxes[:, 8] = _neck_box(P, S, margin)
    boxes[P["glasses"] <= 0, 4:6] = 0
    boxes[P["beard"] <= 0, 6] = 0
    return boxes


def _render_kernel(P, cols, colour, boxes, coords, S, channels, inv_px, out) -> torch.Tensor:
    B = len(P["yaw"])
    G = np.empty(B, dtype=[(n, np.float32) for n in cols])
    for n, col in cols.items():
        G[n] = col
    white, smooth = noise_bank(S)
    target = out if out is not None and out.is_contiguous() and out.dtype == torch.float32 else \
        torch.empty(B, channels, S, S)
    flags = np.stack([P["glasses"] > 0, P["beard"] > 0], 1)
    _kernel()(G, colour, white.numpy(), smooth.numpy(), np.ascontiguousarray(P["noise_k"], dtype=np.int64), boxes,
              flags, coords.numpy(), np.float32(inv_px), np.float32(-inv_px * 0.9), target.numpy())
    if out is not None and target is not out:
        out.copy_(target)
        return out
    return target


def _render_torch(P, cols, colour_mat, boxes, coords, S, channels, inv_px, device, out) -> torch.Tensor:
    """The pixel stage with batched torch operations (any device)."""
    g = _Grid(cols, device)
    cm = torch.from_numpy(colour_mat).to(device)
    colour = {n: cm[:, k, :, None, None] for k, n in enumerate(COLOURS)}
    px = 1.0 / inv_px

    def box(which):
        k = BOXES.index(which)
        return _union(boxes[boxes[:, k, 1] > boxes[:, k, 0], k] if which in ("arm_l", "arm_r", "beard")
                      else boxes[:, k])

    xg, yg = coords.view(1, 1, S), coords.view(1, S, 1)
    qx = (xg - g.tx) * g.inv_s                                    # (B, 1, S)
    qy = (yg - g.ty) * g.inv_s                                    # (B, S, 1)
    # ray / ellipsoid intersection: a quadratic in the depth z of the visible surface point
    b = g.M02 * qx + g.M12 * qy
    c = (g.M01x2 * qx) * qy
    c.add_(g.M00 * qx * qx).add_(g.M11 * qy * qy - 1.0)
    disc = (b * b).sub_(c.mul_(g.M22))
    head = (disc * g.edge).add_(0.5).clamp_(0.0, 1.0)
    z = disc.clamp_(min=0.0).sqrt_().sub_(b).mul_(g.inv_M22)
    u = (g.R20 * z).add_(g.R00 * qx + g.R10 * qy)
    v = (g.R21 * z).add_(g.R01 * qx + g.R11 * qy)
    w = z.mul_(g.R22).add_(g.R02 * qx + g.R12 * qy)
    del b, c, disc, z

    # lighting: Lambert on the ellipsoid normal, darker towards the silhouette
    nn_ = (u * u).mul_(g.inv_ax4).add_((v * v).mul_(g.inv_ay4)).add_((w * w).mul_(g.inv_az4)).sqrt_().clamp_(min=1e-6)
    shade = (u * g.lx).add_(v * g.ly).add_(w * g.lz).div_(nn_).clamp_(min=0.0).mul_(g.dif).add_(g.amb)
    shade.mul_((w * g.rim).add_(0.7).clamp_(max=1.0))
    del nn_

    # hair (top, sides, back) and beard share the hair colour; a streaky texture modulates both
    white, smooth = noise_bank(S, device)
    tex = smooth.index_select(0, torch.from_numpy(P["noise_k"][:, 0]).to(device))
    hair = torch.minimum(g.hair_side - w, g.hair_low - v)          # sides and back, above hair_low
    hair = _soft(torch.maximum(hair, (u * u).mul_(g.hair_curve).add_(g.hairline).sub_(v)), inv_px)
    bearded = P["beard"] > 0
    glasses = bool(P["glasses"].any())
    if bearded.any():
        rs, cs = box("beard")
        vb, wb = v[:, rs, cs], w[:, rs, cs]
        beard = _soft(torch.minimum(vb - g.beard_top, (wb * g.inv_az).sub_(0.25)), inv_px)
        beard.mul_((tex[:, rs, cs] * 0.25 + 0.75).clamp_(0.0, 1.0).mul_(g.beard))
        torch.maximum(hair[:, rs, cs], beard, out=beard)
        hair[:, rs, cs] = beard
        del beard, vb, wb
    A = colour["skin"] + colour["hair_skin"] * hair.unsqueeze(1)
    shade.mul_(tex.mul_(hair * 0.18 + 0.015).add_(1.0))
    del hair, tex


    # Surface features live on the front half of the head only: move the back half far away.
    back = w < 0.0
    u.masked_fill_(back, 10.0)
    v.masked_fill_(back, 10.0)
    del back, w

    def region(which, side=0, signed=False):
        """Slices of the box and the grids there: ``|u|`` (or ``u`` on a one-sided box, with the other
        side of the midline moved far away), ``v`` and, if ``signed``, ``u``."""
        rs, cs = box(which)
        uu, vv = u[:, rs, cs], v[:, rs, cs]
        if side:
            far = torch.where((uu < 0.0) if side > 0 else (uu >= 0.0), 10.0, uu if side > 0 else -uu)
        else:
            far = uu.abs()
        return (rs, cs, far, vv, uu) if signed else (rs, cs, far, vv)

    rs, cs, au, v_ = region("eyes")
    _eye(g, colour, au, v_, A[:, :, rs, cs], shade[:, rs, cs], inv_px, glasses)
    rs, cs, au, v_ = region("centre")
    _centre(g, au, v_, A[:, :, rs, cs], shade[:, rs, cs], inv_px, glasses)
    if glasses:
        for which, side in (("arm_l", -1), ("arm_r", 1)):
            rs, cs, au, v_ = region(which, side)
            _arm(g, au, v_, A[:, :, rs, cs], inv_px)
    rs, cs, au, v_ = region("forehead")
    _forehead(g, au, v_, shade[:, rs, cs])
    rs, cs, au, v_, u_ = region("mouth", signed=True)
    _mouth_region(g, colour, au, u_, v_, A[:, :, rs, cs], shade[:, rs, cs], inv_px)
    rs, cs = box("nose")
    _nose(g, xg[..., cs], yg[:, rs], shade[:, rs, cs], inv_px)
    del u, v

    # composite head over neck over the background (one colour, a brightness ramp); noise; [-1, 1].
    # Colours already carry the gain and the factor 2 of the [-1, 1] range.
    img = torch.mul(A, (head * shade).unsqueeze(1), out=out)
    rest = head.neg_().add_(1.0)
    rs, cs = box("neck")
    qxr = g.cr * qx[..., cs] + g.sr * qy[:, rs]
    qyr = g.cr * qy[:, rs] - g.sr * qx[..., cs]
    neck = _soft(torch.minimum(g.neck_w - qxr.abs_(), qyr.sub_(g.neck_top)), inv_px).mul_(rest[:, rs, cs])
    rest[:, rs, cs] -= neck
    img[:, :, rs, cs] += colour["neck"] * neck.unsqueeze(1)
    del qxr, qyr, neck
    bg = (g.bg_c * xg + g.bg_s * yg).mul_(g.bg_k).clamp_(-0.5, 0.5).add_(1.0).mul_(rest)
    img.add_(colour["bg"] * bg.unsqueeze(1))
    noise = white.index_select(0, torch.from_numpy(P["noise_k"][:, 1]).to(device)).mul_(g.noise).sub_(1.0)
    return img.add_(noise.unsqueeze(1)).clamp_(-1.0, 1.0)


def _columns(P, R, lm, inv_px) -> dict[str, np.ndarray]:
    """Every per-sample scalar the pixel code needs (float64; cast once to the device)."""
    ax, ay, az = P["ax"], P["ay"], P["az"]
    ia = np.stack([1 / ax ** 2, 1 / ay ** 2, 1 / az ** 2], 1)
    M = {}
    for i in range(3):
        for j in range(i, 3):
            M[f"M{i}{j}"] = R[:, i, 0] * R[:, j, 0] * ia[:, 0] + R[:, i, 1] * R[:, j, 1] * ia[:, 1] + \
                R[:, i, 2] * R[:, j, 2] * ia[:, 2]
    lcam = _light(P)  # the light is fixed to the camera; express it in the head frame
    lh = np.stack([R[:, 0, k] * lcam[:, 0] + R[:, 1, k] * lcam[:, 1] + R[:, 2, k] * lcam[:, 2] for k in range(3)], 1)
    mean_a = (ax + ay + az) / 3
    nose_a, nose_b = lm[:, 27], lm[:, 30]
    seg = nose_b - nose_a
    seg_len = np.sqrt(seg[:, 0] ** 2 + seg[:, 1] ** 2) + 1e-6
    side = np.where(P["yaw"] + 25.0 * lcam[:, 0] >= 0, 1.0, -1.0)
    sc = P["scale"]
    return {
        "tx": P["tx"], "ty": P["ty"], "inv_s": 1 / sc, "M00": M["M00"], "M11": M["M11"], "M01x2": 2 * M["M01"],
        "M02": M["M02"], "M12": M["M12"], "M22": M["M22"], "inv_M22": 1 / M["M22"],
        **{f"R{i}{j}": R[:, i, j] for i in range(3) for j in range(3)},
        "edge": mean_a ** 3 / 2 * inv_px,
        "inv_ax4": ia[:, 0] ** 2, "inv_ay4": ia[:, 1] ** 2, "inv_az4": ia[:, 2] ** 2,
        "lx": lh[:, 0] * ia[:, 0], "ly": lh[:, 1] * ia[:, 1], "lz": lh[:, 2] * ia[:, 2],
        "amb": P["ambient"], "dif": P["diffuse"], "inv_az": 1 / az, "rim": 0.6 / az,
        "cr": _cos(P["roll"]), "sr": _sin(P["roll"]), "neck_w": P["neck_w"], "neck_top": 0.45 * ay,
        "hairline": P["hairline"], "hair_curve": P["hair_curve"] / ax ** 2, "hair_side": P["hair_side"] * az,
        "hair_low": P["hair_low"], "beard": P["beard"], "beard_top": P["nose_y"] + 0.055,
        "ax": ax, "ex": P["ex"], "ey": P["ey"], "ew": P["ew"], "inv_ew": 1 / P["ew"], "hu": P["hu"], "hl": P["hl"],
        "tilt": -0.35 * P["tilt"], "iris": P["iris"], "pupil": 0.45 * P["iris"], "ic": (P["eh_lo"] - P["eh_up"]) / 2,
        "iris_g": 0.8 * (P["iris_rgb"][:, 0] * LUMA[0] + P["iris_rgb"][:, 1] * LUMA[1] + P["iris_rgb"][:, 2] * LUMA[2]),
        "sclera_g": 0.80 + 0.12 * P["ambient"],
        "b_mid": (P["b_in"] + P["b_out"]) / 2, "b_half": (P["b_out"] - P["b_in"]) / 2,
        "inv_b_half": 2 / (P["b_out"] - P["b_in"]), "bv_in": P["bv_in"], "arch": P["arch"],
        "brow_c0": (P["bv_in"] + P["bv_out"]) / 2 - P["arch"], "brow_c1": (P["bv_out"] - P["bv_in"]) / 2,
        "brow_th": P["brow_th"], "brow_a": P["brow_dark"], "glasses": P["glasses"],
        "my": P["my"], "mw": P["mw"], "inv_mw": 1 / P["mw"], "ca": (P["cl"] + P["cr"]) / 2,
        "cd": (P["cr"] - P["cl"]) / 2, "ou": P["ou"], "ol": P["ol"], "lu": P["lu"], "ll": P["ll"],
        "teeth": np.clip((P["ou"] + P["ol"] - 0.025) / 0.02, 0, 1),
        "wr_temporal": 0.7 * P["temporal_wr"], "wr_below": 0.6 * P["below_wr"], "wr_nasal": 0.7 * P["nasal_wr"],
        "wr_forehead": 0.35 * P["forehead_wr"], "wr_glabella": 0.6 * P["glabella"], "fold": 0.5 * P["nasolabial"],
        "cheek": 0.22 * P["cheek"], "dim_l": 0.5 * P["dimple_l"], "dim_r": 0.5 * P["dimple_r"],
        "nose_y": P["nose_y"], "nose_w": P["nose_w"],
        "n_ax": nose_a[:, 0], "n_ay": nose_a[:, 1], "n_dx": seg[:, 0] / seg_len, "n_dy": seg[:, 1] / seg_len,
        "inv_n_len": 1 / seg_len, "n_side": side * P["nose_w"] * sc * 0.55, "n_dark": 0.12 + 0.25 * P["diffuse"],
        "nos_lx": lm[:, 32, 0], "nos_ly": lm[:, 32, 1], "nos_rx": lm[:, 34, 0], "nos_ry": lm[:, 34, 1],
        "nos_r": 0.022 * sc, "bg_c": _cos(P["bg_angle"]), "bg_s": _sin(P["bg_angle"]), "bg_k": P["bg_ramp"],
        "noise": P["noise"], "gain2": 2.0 * P["gain"],
    }


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


def _nose_box(lm: np.ndarray, P, S: int) -> np.ndarray:
    """Per face, the pixel box ``(B, 4)`` of the nose's shadow and nostrils (drawn in image space)."""
    margin = float(np.max(P["nose_w"] * P["scale"])) * 1.2 + 0.06
    return _pixel_boxes(lm[:, 27:36], margin, S)


def _neck_box(P, S: int, margin: float) -> np.ndarray:
    """Per face, the pixel box ``(B, 4)`` of the neck (a vertical band below the head, turned by the roll only)."""
    cr, sr = _cos(P["roll"]), _sin(P["roll"])
    pts = []
    for a in (-1.0, 1.0):
        for b in (0.0, 3.0):
            qxr, qyr = a * P["neck_w"], 0.45 * P["ay"] + b
            qx, qy = cr * qxr - sr * qyr, sr * qxr + cr * qyr
            pts.append(np.stack([P["tx"] + P["scale"] * qx, P["ty"] + P["scale"] * qy], -1))
    return _pixel_boxes(np.stack(pts, 1), margin, S)


def _colours(P, channels: int) -> np.ndarray:
    """Per-face colours ``(B, K, C)`` float32 in :data:`COLOURS` order: RGB in [0, 1] (luma when
    ``channels == 1``) times ``2 * gain``."""
    skin = P["skin"]
    cols = {"skin": skin, "hair": P["hair"], "hair_skin": P["hair"] - skin, "brow": P["hair"] * 0.6 + 0.01,
            "lip": P["lip"], "neck": skin * 0.72, "bg": P["bg"]}
    mat = np.stack([np.asarray(cols[n], dtype=np.float64) for n in COLOURS], 1)  # (B, K, 3)
    if channels == 1:
        mat = mat[..., 0:1] * LUMA[0] + mat[..., 1:2] * LUMA[1] + mat[..., 2:3] * LUMA[2]
    mat = mat * (2.0 * P["gain"])[:, None, None]  # gain, and the factor 2 of the [-1, 1] output range
    return mat.astype(np.float32)


def _over(A: torch.Tensor, alpha: torch.Tensor, colour: torch.Tensor) -> None:
    """``A = A (1 - alpha) + colour * alpha`` in place; A ``(B, C, h, w)``, alpha ``(B, h, w)``, colour ``(B, C, 1, 1)``."""
    a = alpha.unsqueeze(1)
    A.mul_(1.0 - a).add_(colour * a)


def _over_grey(A: torch.Tensor, alpha: torch.Tensor, premult: torch.Tensor, scale: torch.Tensor) -> None:
    """``A = A (1 - alpha) + scale * premult``: a grey layer given premultiplied (grey * alpha) in [0, 1];
    ``scale`` is the colours' factor (``2 * gain``)."""
    A.mul_((1.0 - alpha).unsqueeze(1)).add_(premult.mul_(scale).unsqueeze(1))


def _eye(g, colour, au, v, A, shade, inv_px, glasses: bool) -> None:
    """One eye on its box: eyeball, lids, brow, crow's feet, wrinkles below, cheek, glasses rim.

    ``au`` is the distance from the face midline (the two eyes are mirror images).
    """
    du = au - g.ex
    dv = v - g.ey
    t = du * g.inv_ew
    bump = (t * t).neg_().add_(1.0)
    centre = du * g.tilt
    up = centre - g.hu * bump
    lo = centre.add_(g.hl * bump)
    eye = _soft(torch.minimum(dv - up, lo - dv), inv_px)
    # multiplicative detail: cheek raise (brighter), crow's feet and wrinkles below the eye (darker)
    cdu = du * (1 / 0.10)
    cdv = (dv - g.hl).sub_(0.075).mul_(1 / 0.055)
    fac = (cdu.mul_(cdu)).add_(cdv.mul_(cdv)).neg_().add_(1.0).clamp_(0.0, 1.0).mul_(g.cheek).add_(1.0)
    del cdu, cdv
    o = du - g.ew
    win = _tent(o - 0.035, 0.045).mul_(_tent(dv, 0.065)).mul_(g.wr_temporal)
    dark = win.mul_(_lines((o + 0.6 * g.ew).clamp_(min=0.02).reciprocal_().mul_(dv).mul_(3.0), 0.4))
    below = dv - lo
    win = _tent(below - 0.035, 0.03).mul_((bump * 1.5).clamp_(0.0, 1.0)).mul_(g.wr_below)
    dark.add_(win.mul_(_lines(below.mul_(1 / 0.022), 0.4)))
    shade.mul_(fac.mul_(dark.clamp_(0.0, 0.8).neg_().add_(1.0)))
    del fac, dark, win, below, o
    # brow and the upper lash line (hair-coloured)
    tb = (du - g.b_mid).mul_(g.inv_b_half)
    cv = (g.arch * tb).add_(g.brow_c1).mul_(tb).add_(g.brow_c0)  # the brow line, a parabola in tb
    th = (tb * -0.3 + 1.0).mul_(g.brow_th)
    brow = _soft(th.sub_((dv - cv).abs_()), inv_px).mul_(_soft(tb.abs_().neg_().add_(1.0).mul_(g.b_half), inv_px))
    lash = (dv - up).abs_().mul_(-inv_px * 0.9).add_(1.0).clamp_(0.0, 1.0).mul_((bump * 4.0).clamp_(0.0, 1.0))
    _over(A, torch.maximum(brow.mul_(g.brow_a), lash.mul_(0.85)), colour["brow"])
    del brow, lash, cv, th, tb
    # eyeball (grey): sclera, iris, pupil — then the glasses rim and lens on top
    dvi = dv - g.ic
    r = (du * du).add_(dvi.mul_(dvi)).sqrt_()
    iris = _soft(g.iris - r, inv_px)
    pupil = _soft(r.neg_().add_(g.pupil), inv_px)
    grey = (iris * (g.iris_g - g.sclera_g)).add_(g.sclera_g).add_(pupil.mul_(iris).mul_(0.03 - g.iris_g))
    alpha, premult = eye, grey.mul_(eye)
    if glasses:
        rx, ry = 1.55 * g.ew, 1.1 * g.ew
        gv = dv + 0.005
        rr = (du * (1 / rx)).square_().add_((gv * (1 / ry)).square_()).sqrt_()
        frame = _soft((rr - 1.0).abs_().mul_(ry).neg_().add_(0.011), inv_px).mul_(g.glasses)
        lens = _soft((1.0 - rr).mul_(ry), inv_px).mul_(g.glasses * 0.12)
        keep = (1.0 - lens).mul_(1.0 - frame)
        premult = premult.mul_(keep).add_(lens.mul_(1.0 - frame).mul_(0.85)).add_(frame * 0.08)
        alpha = alpha + (1.0 - alpha).mul_(keep.neg_().add_(1.0))  # exactly alpha where there are no glasses
    _over_grey(A, alpha, premult, g.gain2)


def _centre(g, au, v, A, shade, inv_px, glasses: bool) -> None:
    """Between the eyes: nasal wrinkles (AU9), vertical lines between the brows (AU4), the glasses' bridge."""
    dv = v - g.ey
    win = _tent(au, 0.075).mul_(_tent(dv - 0.05, 0.055)).mul_(g.wr_nasal)
    dark = win.mul_(_lines(dv * (1 / 0.022), 0.45))
    win = _tent(au, 0.045).mul_(_tent(dv - g.bv_in - 0.005, 0.045)).mul_(g.wr_glabella)
    dark.add_(win.mul_(_lines(au * (1 / 0.028) + 0.5, 0.4)))
    shade.mul_(dark.clamp_(0.0, 0.8).neg_().add_(1.0))
    if glasses:
        bridge = _soft(0.008 - (dv + 0.025).abs_(), inv_px)
        bridge.mul_(_soft(g.ex - 1.55 * g.ew + 0.006 - au, inv_px)).mul_(g.glasses)
        _over_grey(A, bridge, bridge * 0.08, g.gain2)


def _arm(g, au, v, A, inv_px) -> None:
    """A temple arm of the glasses, from the rim to the side of the head (seen when the head turns)."""
    arm = _soft(0.008 - (v - g.ey + 0.015).abs_(), inv_px)
    arm.mul_(_soft(torch.minimum(au - g.ex - 1.55 * g.ew + 0.004, g.ax - au), inv_px)).mul_(g.glasses)
    _over_grey(A, arm, arm * 0.08, g.gain2)


def _forehead(g, au, v, shade) -> None:
    """Horizontal forehead lines (AU1/AU2)."""
    fw = _tent(v - (g.ey + g.bv_in - 0.10), 0.085).mul_(_tent(au, 0.28)).mul_(g.wr_forehead)
    shade.mul_(fw.mul_(_lines(v * (1 / 0.045), 0.35)).neg_().add_(1.0))


def _mouth_region(g, colour, au, u, v, A, shade, inv_px) -> None:
    """Lips, mouth opening and teeth, nasolabial folds and dimples on a slice."""
    x1, y1 = g.nose_w + 0.02, g.nose_y + 0.03
    dx, dy = g.mw + 0.015 - g.nose_w, g.my + 0.005 - g.nose_y
    ln = (dx * dx + dy * dy).sqrt()
    ux, uy = dx / ln, dy / ln
    rx, ry = au - x1, v - y1
    along = (rx * (ux / ln)).add_(ry * (uy / ln))
    dist = (rx.mul_(uy)).sub_(ry.mul_(ux)).abs_()
    fold = dist.mul_(-1 / 0.012).add_(1.0).clamp_(0.0, 1.0).mul_((along * (1.0 - along)).mul_(5.0).clamp_(0.0, 1.0))
    fold.mul_(g.fold)
    t = u * g.inv_mw
    su = torch.sign(u)
    dm = ((au - g.mw - 0.02) * (1 / 0.018)).square_().add_(((v - g.my - g.ca).sub_(g.cd * su)).mul_(1 / 0.02).square_())
    fold.add_(dm.neg_().add_(1.0).clamp_(0.0, 1.0).mul_(torch.where(u < 0, g.dim_l, g.dim_r)))
    shade.mul_(fold.clamp_(0.0, 0.8).neg_().add_(1.0))
    del fold, dm, su, along, dist, rx, ry
    dv = v - g.my
    line = (t * t).mul_(g.ca + g.cd * t)
    bump = (t * t).neg_().add_(1.0)
    ui = line - g.ou * bump
    li = line.add_(g.ol * bump)
    uo = ui - g.lu * bump
    lo = li + g.ll * bump
    ends = _soft(t.abs_().neg_().add_(1.0).mul_(g.mw), inv_px)  # the mouth stops at its corners
    _over(A, _soft(torch.minimum(dv - uo, lo.sub_(dv)), inv_px).mul_(ends), colour["lip"])
    cav = _soft(torch.minimum(dv - ui, li.sub_(dv)), inv_px).mul_(ends)
    teeth = _soft(ui.add_(bump.mul_(0.03)).sub_(dv), inv_px).mul_(g.teeth)
    premult = teeth.mul_(0.78).add_(0.12).mul_(cav)
    _over_grey(A, cav, premult, g.gain2)


def _nose(g, x, y, shade, inv_px) -> None:
    """Shadow along the nose side and the two nostrils, from the projected nose landmarks."""
    rx, ry = x - g.n_ax, y - g.n_ay
    along = rx * (g.n_dx * g.inv_n_len) + ry * (g.n_dy * g.inv_n_len)
    across = rx * g.n_dy - ry * g.n_dx
    width = along.clamp(0.0, 1.0).mul_(0.65).add_(0.35).mul_(g.n_side)
    dark = (across.sub_(width)).abs_().div_(width.abs_().mul_(0.8).add_(0.012)).neg_().add_(1.0).clamp_(0.0, 1.0)
    dark.mul_((along * (1.15 - along)).mul_(6.0).clamp_(0.0, 1.0)).mul_(g.n_dark)
    for cx, cy in ((g.nos_lx, g.nos_ly), (g.nos_rx, g.nos_ry)):
        d = ((x - cx).square_() + ((y - cy) * 1.6).square_()).sqrt_()
        dark.add_(_soft(d.neg_().add_(g.nos_r), inv_px).mul_(0.55))
    shade.mul_(dark.clamp_(0.0, 0.85).neg_().add_(1.0))


def _tent(x: torch.Tensor, half: float) -> torch.Tensor:
    """``max(0, 1 - |x| / half)``: a compact window (exactly 0 beyond ``half``)."""
    return x.abs().mul_(-1.0 / half).add_(1.0).clamp_(min=0.0)
