"""The renderer's pixel stage as one compiled CPU loop (numba).

:func:`~fer_core.data.synthetic.render.render` draws a batch with ~100 element-wise torch
passes over ``(B, S, S)`` arrays; on a CPU each pass streams the arrays through memory and
the time goes there, not into arithmetic. This module evaluates the same expressions one
image row at a time: a row's surface coordinates, shading and colours live in a few
``S``-long scratch arrays that stay in L1 cache, every feature touches only the columns of
its own box (per face, not the union over the batch), and the column loops compile to SIMD
code.

It is a transcription of the torch code, operation by operation and in the same order,
in float32: every constant is cast, so nothing is silently promoted to float64, and numba
does not contract ``a * b + c`` into fused multiply-adds. Its arithmetic is exactly
rounded, so its images are the same bits whatever the SIMD width the CPU offers. torch's
vectorised float32 ``sqrt`` is not always correctly rounded, so a few pixels of the two
paths differ in their last bits (``tests/test_synthetic.py`` bounds the difference). The
torch path stays the reference and the GPU path.

Column indices are unsigned: numba then skips the negative-index wrap-around, whose
non-affine addresses would stop LLVM from vectorising the column loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fer_core.data.synthetic.groups import BOXES, COLOURS

__all__ = ["render_rows"]

f4 = np.float32
_SKIN, _HAIR_SKIN, _BROW, _LIP, _NECK, _BG = (COLOURS.index(k) for k in ("skin", "hair_skin", "brow", "lip", "neck",
                                                                       "bg"))
_EYES, _CENTRE, _FOREHEAD, _MOUTH, _ARM_L, _ARM_R, _BEARD, _NOSE, _NECKBOX = (
    BOXES.index(k) for k in ("eyes", "centre", "forehead", "mouth", "arm_l", "arm_r", "beard", "nose", "neck"))

_opts = dict(cache=True, error_model="numpy", nogil=True)


@njit(inline="always")
def _min(a, b):
    return a if a < b else b


@njit(inline="always")
def _max(a, b):
    return a if a > b else b


@njit(inline="always")
def _clamp(x, lo, hi):
    return _min(_max(x, lo), hi)


@njit(inline="always")
def _soft(x, inv_px):
    return _clamp(x * inv_px + f4(0.5), f4(0.0), f4(1.0))


@njit(inline="always")
def _tent(x, k):
    """``max(0, 1 - |x| / half)`` with ``k = -1 / half``."""
    return _max(abs(x) * k + f4(1.0), f4(0.0))


@njit(inline="always")
def _lines(phase, k):
    """Soft periodic lines; ``k = -2 / width`` (torch's ``remainder(phase, 1)``: exact either way)."""
    m = phase - np.trunc(phase)
    if m < f4(0.0):
        m = m + f4(1.0)
    return _clamp(abs(m - f4(0.5)) * k + f4(1.0), f4(0.0), f4(1.0))


@njit(inline="always")
def _over(A, alpha, col, c0, c1):
    """``A = A (1 - alpha) + col alpha`` on columns ``c0:c1`` of every channel; ``alpha`` ``(S,)``, ``col`` ``(C,)``."""
    for ch in range(A.shape[0]):
        k = col[ch]
        for c in range(c0, c1):
            A[ch, c] = A[ch, c] * (f4(1.0) - alpha[c]) + k * alpha[c]


@njit(inline="always")
def _over_grey(A, alpha, premult, c0, c1):
    """``A = A (1 - alpha) + premult``: a grey layer, ``premult`` already times its alpha and the colour scale."""
    for ch in range(A.shape[0]):
        for c in range(c0, c1):
            A[ch, c] = A[ch, c] * (f4(1.0) - alpha[c]) + premult[c]


@njit(inline="always")
def _row(S):
    return np.empty(S, np.float32)


@njit(**_opts)
def render_rows(G, col, white, smooth, nk, boxes, flags, coords, inv_px, lash_k, out):
    """Render faces into ``out``.

    Args:
        G: ``(B,)`` record array of float32 per-face scalars (the columns of ``render._columns``).
        col: ``(B, 7, C)`` float32 colours in ``render.COLOURS`` order (times ``2 * gain``).
        white, smooth: ``(61, S, S)`` float32 noise banks; ``nk`` ``(B, 2)`` their entries per face.
        boxes: ``(B, 9, 4)`` int64 pixel boxes ``(r0, r1, c0, c1)`` in ``render.BOXES`` order.
        flags: ``(B, 2)`` bool: glasses, beard.
        coords: ``(S,)`` float32 pixel-centre coordinates in [-1, 1]; ``inv_px`` float32 ``S / 2``;
            ``lash_k`` float32 ``-0.9 S / 2`` (the lash line's slope, rounded once from float64 as torch does).
        out: ``(B, C, S, S)`` float32, written in place.
    """
    B, C, S = out.shape[0], out.shape[1], out.shape[2]
    qx = np.empty(S, np.float32)
    # one row of: surface coordinates u, v, w; head coverage; shading; hair; three layer buffers
    u, v, w, head, shade, hair = _row(S), _row(S), _row(S), _row(S), _row(S), _row(S)
    t0, t1, t2 = _row(S), _row(S), _row(S)
    A = np.empty((C, S), np.float32)   # albedo of the row, per channel
    for i in range(B):
        g = G[i]
        cl = col[i]
        tex = smooth[nk[i, 0]]
        noise = white[nk[i, 1]]
        bx = boxes[i]
        cb = bx[:, 2:].astype(np.uint64)  # column bounds, unsigned (see the module docstring)
        glasses, bearded = flags[i, 0], flags[i, 1]
        tx, ty, inv_s = g.tx, g.ty, g.inv_s
        for c in range(S):
            qx[c] = (coords[c] - tx) * inv_s
        for r in range(S):
            qy = (coords[r] - ty) * inv_s
            _surface(g, qx, qy, u, v, w, head, shade, hair, S, inv_px)
            if bearded and bx[_BEARD, 0] <= r < bx[_BEARD, 1]:
                _beard(g, v, w, hair, tex[r], cb[_BEARD, 0], cb[_BEARD, 1], inv_px)
            _hair_colour(u, v, w, hair, shade, tex[r], A, cl, S)
            if bx[_EYES, 0] <= r < bx[_EYES, 1]:
                _eye(g, u, v, A, shade, cl, cb[_EYES, 0], cb[_EYES, 1], inv_px, lash_k, glasses, t0, t1, t2)
            if bx[_CENTRE, 0] <= r < bx[_CENTRE, 1]:
                _centre(g, u, v, A, shade, cb[_CENTRE, 0], cb[_CENTRE, 1], inv_px, glasses, t0, t1)
            if glasses:
                if bx[_ARM_L, 0] <= r < bx[_ARM_L, 1]:
                    _arm(g, u, v, A, cb[_ARM_L, 0], cb[_ARM_L, 1], inv_px, -1, t0, t1)
                if bx[_ARM_R, 0] <= r < bx[_ARM_R, 1]:
                    _arm(g, u, v, A, cb[_ARM_R, 0], cb[_ARM_R, 1], inv_px, 1, t0, t1)
            if bx[_FOREHEAD, 0] <= r < bx[_FOREHEAD, 1]:
                _forehead(g, u, v, shade, cb[_FOREHEAD, 0], cb[_FOREHEAD, 1])
            if bx[_MOUTH, 0] <= r < bx[_MOUTH, 1]:
                _mouth(g, u, v, A, shade, cl, cb[_MOUTH, 0], cb[_MOUTH, 1], inv_px, t0, t1, t2)
            if bx[_NOSE, 0] <= r < bx[_NOSE, 1]:
                _nose(g, coords, coords[r], shade, cb[_NOSE, 0], cb[_NOSE, 1], inv_px)
            n0, n1 = (bx[_NECKBOX, 2], bx[_NECKBOX, 3]) if bx[_NECKBOX, 0] <= r < bx[_NECKBOX, 1] else (0, 0)
            _composite(g, qx, qy, coords, coords[r], head, shade, A, cl, noise[r], out[i], r, S, n0, n1, inv_px,
                       t0, t1)


@njit(inline="always")
def _surface(g, qx, qy, u, v, w, head, shade, hair, S, inv_px):
    """Ray casting onto the head ellipsoid, Lambert shading and the hair mask (one row)."""
    M00, M11, M01x2, M02, M12, M22, inv_M22 = g.M00, g.M11, g.M01x2, g.M02, g.M12, g.M22, g.inv_M22
    R00, R01, R02, R10, R11, R12, R20, R21, R22 = g.R00, g.R01, g.R02, g.R10, g.R11, g.R12, g.R20, g.R21, g.R22
    edge, ia4, ib4, ic4, lx, ly, lz = g.edge, g.inv_ax4, g.inv_ay4, g.inv_az4, g.lx, g.ly, g.lz
    dif, amb, rim = g.dif, g.amb, g.rim
    hair_side, hair_low, hair_curve, hairline = g.hair_side, g.hair_low, g.hair_curve, g.hairline
    cqy = M11 * qy * qy - f4(1.0)
    bqy, uqy, vqy, wqy = M12 * qy, R10 * qy, R11 * qy, R12 * qy
    for c in range(S):
        x = qx[c]
        b = M02 * x + bqy
        cc = (M01x2 * x) * qy
        cc = cc + M00 * x * x
        cc = cc + cqy
        disc = b * b - cc * M22
        head[c] = _clamp(disc * edge + f4(0.5), f4(0.0), f4(1.0))
        z = (np.sqrt(_max(disc, f4(0.0))) - b) * inv_M22
        uu = R20 * z + (R00 * x + uqy)
        vv = R21 * z + (R01 * x + vqy)
        ww = z * R22 + (R02 * x + wqy)
        nn = _max(np.sqrt((uu * uu) * ia4 + (vv * vv) * ib4 + (ww * ww) * ic4), f4(1e-6))
        s = _max((uu * lx + vv * ly + ww * lz) / nn, f4(0.0)) * dif + amb
        shade[c] = s * _min(ww * rim + f4(0.7), f4(1.0))
        h = _min(hair_side - ww, hair_low - vv)
        hair[c] = _soft(_max(h, (uu * uu) * hair_curve + hairline - vv), inv_px)
        u[c], v[c], w[c] = uu, vv, ww


@njit(inline="always")
def _beard(g, v, w, hair, tex, c0, c1, inv_px):
    beard_top, inv_az, beard_amt = g.beard_top, g.inv_az, g.beard
    for c in range(c0, c1):
        b = _soft(_min(v[c] - beard_top, w[c] * inv_az - f4(0.25)), inv_px)
        b = b * (_clamp(tex[c] * f4(0.25) + f4(0.75), f4(0.0), f4(1.0)) * beard_amt)
        hair[c] = _max(hair[c], b)


@njit(inline="always")
def _hair_colour(u, v, w, hair, shade, tex, A, cl, S):
    """Skin/hair albedo, the hair texture on the shading; surface features live on the front half only."""
    for ch in range(A.shape[0]):
        skin, hs = cl[_SKIN, ch], cl[_HAIR_SKIN, ch]
        for c in range(S):
            A[ch, c] = skin + hs * hair[c]
    for c in range(S):
        shade[c] = shade[c] * (tex[c] * (hair[c] * f4(0.18) + f4(0.015)) + f4(1.0))
        if w[c] < f4(0.0):
            u[c] = f4(10.0)
            v[c] = f4(10.0)


@njit(inline="always")
def _eye(g, u, v, A, shade, cl, c0, c1, inv_px, lash_k, glasses, a_brow, a_eye, p_eye):
    ex, ey, inv_ew, tilt, hu, hl, ew = g.ex, g.ey, g.inv_ew, g.tilt, g.hu, g.hl, g.ew
    cheek, wr_t, wr_b = g.cheek, g.wr_temporal, g.wr_below
    b_mid, inv_b_half, arch, c1b, c0b, brow_th, b_half, brow_a = (g.b_mid, g.inv_b_half, g.arch, g.brow_c1,
                                                                  g.brow_c0, g.brow_th, g.b_half, g.brow_a)
    ic, iris_r, pupil_r, iris_g, sclera_g, gain2, gl = g.ic, g.iris, g.pupil, g.iris_g, g.sclera_g, g.gain2, g.glasses
    ew06 = f4(0.6) * ew
    grey_iris, grey_pupil = iris_g - sclera_g, f4(0.03) - iris_g
    rx, ry = f4(1.55) * ew, f4(1.1) * ew
    irx, iry = f4(1.0) / rx, f4(1.0) / ry
    brow = cl[_BROW]
    for c in range(c0, c1):
        du = abs(u[c]) - ex
        dv = v[c] - ey
        t = du * inv_ew
        bump = f4(1.0) - t * t
        centre = du * tilt
        up = centre - hu * bump
        lo = centre + hl * bump
        eye = _soft(_min(dv - up, lo - dv), inv_px)
        cdu = du * f4(1 / 0.10)
        cdv = (dv - hl - f4(0.075)) * f4(1 / 0.055)
        fac = _clamp(f4(1.0) - (cdu * cdu + cdv * cdv), f4(0.0), f4(1.0)) * cheek + f4(1.0)
        o = du - ew
        win = _tent(o - f4(0.035), f4(-1.0 / 0.045)) * _tent(dv, f4(-1.0 / 0.065)) * wr_t
        dark = win * _lines(f4(1.0) / _max(o + ew06, f4(0.02)) * dv * f4(3.0), f4(-2.0 / 0.4))
        below = dv - lo
        win = _tent(below - f4(0.035), f4(-1.0 / 0.03)) * _clamp(bump * f4(1.5), f4(0.0), f4(1.0)) * wr_b
        dark = dark + win * _lines(below * f4(1 / 0.022), f4(-2.0 / 0.4))
        shade[c] = shade[c] * (fac * (f4(1.0) - _clamp(dark, f4(0.0), f4(0.8))))
        # brow and upper lash line
        tb = (du - b_mid) * inv_b_half
        cv = (arch * tb + c1b) * tb + c0b
        th = (tb * f4(-0.3) + f4(1.0)) * brow_th
        bw = _soft(th - abs(dv - cv), inv_px) * _soft((f4(1.0) - abs(tb)) * b_half, inv_px)
        lash = _clamp(abs(dv - up) * lash_k + f4(1.0), f4(0.0), f4(1.0)) * _clamp(bump * f4(4.0), f4(0.0), f4(1.0))
        a_brow[c] = _max(bw * brow_a, lash * f4(0.85))
        # eyeball, then the glasses
        dvi = dv - ic
        rr = np.sqrt(du * du + dvi * dvi)
        iris = _soft(iris_r - rr, inv_px)
        pupil = _soft(pupil_r - rr, inv_px)
        grey = iris * grey_iris + sclera_g + pupil * iris * grey_pupil
        alpha, premult = eye, grey * eye
        if glasses:
            gv = dv + f4(0.005)
            a, b = du * irx, gv * iry
            rg = np.sqrt(a * a + b * b)
            frame = _soft(f4(0.011) - abs(rg - f4(1.0)) * ry, inv_px) * gl
            lens = _soft((f4(1.0) - rg) * ry, inv_px) * (gl * f4(0.12))
            keep = (f4(1.0) - lens) * (f4(1.0) - frame)
            premult = premult * keep + lens * (f4(1.0) - frame) * f4(0.85) + frame * f4(0.08)
            alpha = alpha + (f4(1.0) - alpha) * (f4(1.0) - keep)
        a_eye[c], p_eye[c] = alpha, premult * gain2
    _over(A, a_brow, brow, c0, c1)
    _over_grey(A, a_eye, p_eye, c0, c1)


@njit(inline="always")
def _centre(g, u, v, A, shade, c0, c1, inv_px, glasses, alpha, premult):
    ey, wr_n, wr_g, bv_in, gl, gain2 = g.ey, g.wr_nasal, g.wr_glabella, g.bv_in, g.glasses, g.gain2
    rim_in = g.ex - f4(1.55) * g.ew + f4(0.006)
    for c in range(c0, c1):
        au = abs(u[c])
        dv = v[c] - ey
        win = _tent(au, f4(-1.0 / 0.075)) * _tent(dv - f4(0.05), f4(-1.0 / 0.055)) * wr_n
        dark = win * _lines(dv * f4(1 / 0.022), f4(-2.0 / 0.45))
        win = _tent(au, f4(-1.0 / 0.045)) * _tent(dv - bv_in - f4(0.005), f4(-1.0 / 0.045)) * wr_g
        dark = dark + win * _lines(au * f4(1 / 0.028) + f4(0.5), f4(-2.0 / 0.4))
        shade[c] = shade[c] * (f4(1.0) - _clamp(dark, f4(0.0), f4(0.8)))
        if glasses:
            bridge = _soft(f4(0.008) - abs(dv + f4(0.025)), inv_px)
            bridge = bridge * _soft(rim_in - au, inv_px) * gl
            alpha[c], premult[c] = bridge, bridge * f4(0.08) * gain2
    if glasses:
        _over_grey(A, alpha, premult, c0, c1)


@njit(inline="always")
def _arm(g, u, v, A, c0, c1, inv_px, side, alpha, premult):
    ey, ex, ax, gl, gain2 = g.ey, g.ex, g.ax, g.glasses, g.gain2
    rim = f4(1.55) * g.ew
    for c in range(c0, c1):
        uu = u[c]
        if side > 0:
            au = f4(10.0) if uu < f4(0.0) else uu
        else:
            au = f4(10.0) if uu >= f4(0.0) else -uu
        arm = _soft(f4(0.008) - abs(v[c] - ey + f4(0.015)), inv_px)
        arm = arm * _soft(_min(au - ex - rim + f4(0.004), ax - au), inv_px) * gl
        alpha[c], premult[c] = arm, arm * f4(0.08) * gain2
    _over_grey(A, alpha, premult, c0, c1)


@njit(inline="always")
def _forehead(g, u, v, shade, c0, c1):
    top, wr = g.ey + g.bv_in - f4(0.10), g.wr_forehead
    for c in range(c0, c1):
        vv = v[c]
        fw = _tent(vv - top, f4(-1.0 / 0.085)) * _tent(abs(u[c]), f4(-1.0 / 0.28)) * wr
        shade[c] = shade[c] * (f4(1.0) - fw * _lines(vv * f4(1 / 0.045), f4(-2.0 / 0.35)))


@njit(inline="always")
def _mouth(g, u, v, A, shade, cl, c0, c1, inv_px, a_lip, a_cav, p_cav):
    nose_w, nose_y, mw, my, inv_mw, ca, cd = g.nose_w, g.nose_y, g.mw, g.my, g.inv_mw, g.ca, g.cd
    ou, ol, lu, ll, teeth_amt, fold_amt, dim_l, dim_r, gain2 = (g.ou, g.ol, g.lu, g.ll, g.teeth, g.fold, g.dim_l,
                                                                g.dim_r, g.gain2)
    x1, y1 = nose_w + f4(0.02), nose_y + f4(0.03)
    dx, dy = mw + f4(0.015) - nose_w, my + f4(0.005) - nose_y
    ln = np.sqrt(dx * dx + dy * dy)
    ux, uy = dx / ln, dy / ln
    ax_, ay_ = ux / ln, uy / ln
    lip = cl[_LIP]
    for c in range(c0, c1):
        uu, vv = u[c], v[c]
        au = abs(uu)
        rx, ry = au - x1, vv - y1
        along = rx * ax_ + ry * ay_
        dist = abs(rx * uy - ry * ux)
        fold = _clamp(dist * f4(-1 / 0.012) + f4(1.0), f4(0.0), f4(1.0)) * _clamp(along * (f4(1.0) - along) * f4(5.0),
                                                                                f4(0.0), f4(1.0))
        fold = fold * fold_amt
        t = uu * inv_mw
        su = f4(1.0) if uu > f4(0.0) else (f4(-1.0) if uu < f4(0.0) else f4(0.0))
        a = (au - mw - f4(0.02)) * f4(1 / 0.018)
        b = (vv - my - ca - cd * su) * f4(1 / 0.02)
        dm = a * a + b * b
        fold = fold + _clamp(f4(1.0) - dm, f4(0.0), f4(1.0)) * (dim_l if uu < f4(0.0) else dim_r)
        shade[c] = shade[c] * (f4(1.0) - _clamp(fold, f4(0.0), f4(0.8)))
        dv = vv - my
        line = t * t * (ca + cd * t)
        bump = f4(1.0) - t * t
        ui = line - ou * bump
        li = line + ol * bump
        uo = ui - lu * bump
        lo = li + ll * bump
        ends = _soft((f4(1.0) - abs(t)) * mw, inv_px)
        a_lip[c] = _soft(_min(dv - uo, lo - dv), inv_px) * ends
        cav = _soft(_min(dv - ui, li - dv), inv_px) * ends
        teeth = _soft(ui + bump * f4(0.03) - dv, inv_px) * teeth_amt
        a_cav[c], p_cav[c] = cav, (teeth * f4(0.78) + f4(0.12)) * cav * gain2
    _over(A, a_lip, lip, c0, c1)
    _over_grey(A, a_cav, p_cav, c0, c1)


@njit(inline="always")
def _nose(g, xs, y, shade, c0, c1, inv_px):
    n_ax, n_ay, n_dx, n_dy, n_side, n_dark, nos_r = g.n_ax, g.n_ay, g.n_dx, g.n_dy, g.n_side, g.n_dark, g.nos_r
    kx, ky = n_dx * g.inv_n_len, n_dy * g.inv_n_len
    nlx, nly, nrx, nry = g.nos_lx, g.nos_ly, g.nos_rx, g.nos_ry
    ry = y - n_ay
    ly, ry2 = (y - nly) * f4(1.6), (y - nry) * f4(1.6)
    for c in range(c0, c1):
        x = xs[c]
        rx = x - n_ax
        along = rx * kx + ry * ky
        across = rx * n_dy - ry * n_dx
        width = (_clamp(along, f4(0.0), f4(1.0)) * f4(0.65) + f4(0.35)) * n_side
        dark = _clamp(f4(1.0) - abs(across - width) / (abs(width) * f4(0.8) + f4(0.012)), f4(0.0), f4(1.0))
        dark = dark * _clamp(along * (f4(1.15) - along) * f4(6.0), f4(0.0), f4(1.0)) * n_dark
        a = x - nlx
        d = np.sqrt(a * a + ly * ly)
        dark = dark + _soft(nos_r - d, inv_px) * f4(0.55)
        a = x - nrx
        d = np.sqrt(a * a + ry2 * ry2)
        dark = dark + _soft(nos_r - d, inv_px) * f4(0.55)
        shade[c] = shade[c] * (f4(1.0) - _clamp(dark, f4(0.0), f4(0.85)))


@njit(inline="always")
def _composite(g, qx, qy, xs, y, head, shade, A, cl, noise, img, r, S, n0, n1, inv_px, neck, bg):
    """Head over neck (columns ``n0:n1``) over the background, pixel noise, clamp to [-1, 1] into row ``r`` of
    ``img`` ``(C, S, S)``."""
    cr, sr, neck_w, neck_top = g.cr, g.sr, g.neck_w, g.neck_top
    bgy, bg_c, bg_k, nz = g.bg_s * y, g.bg_c, g.bg_k, g.noise
    for c in range(S):
        rest = f4(1.0) - head[c]
        head[c] = head[c] * shade[c]
        qxr = cr * qx[c] + sr * qy
        qyr = cr * qy - sr * qx[c]
        nk = _soft(_min(neck_w - abs(qxr), qyr - neck_top), inv_px) * rest
        nk = nk if n0 <= c < n1 else f4(0.0)  # exactly 0 outside the neck's box: the same sums as torch's
        rest = rest - nk
        neck[c] = nk
        bg[c] = (_clamp((bg_c * xs[c] + bgy) * bg_k, f4(-0.5), f4(0.5)) + f4(1.0)) * rest
        shade[c] = noise[c] * nz - f4(1.0)
    for ch in range(A.shape[0]):
        kn, kb = cl[_NECK, ch], cl[_BG, ch]
        dst = img[ch, r]
        for c in range(S):
            dst[c] = _clamp(A[ch, c] * head[c] + kn * neck[c] + kb * bg[c] + shade[c], f4(-1.0), f4(1.0))
