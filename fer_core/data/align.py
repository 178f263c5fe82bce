"""Face preparation: alignment from landmarks, else centre crop; resize; grayscale/RGB.

Coordinates: landmarks are ``(x, y)`` in *pixel-index* units, the convention of dlib,
CK+ and the iBUG annotations (the centre of the top-left pixel is ``(0, 0)``). The
template is given in unit-square units (``(0, 0)`` the top-left corner of the output,
``(1, 1)`` the bottom-right corner), so it is independent of the output size.

Alignment (as FESR's "align with landmarks, crop, resize"): the five points - the two
eye centres, the nose tip, the two mouth corners - are mapped onto
:data:`TEMPLATE_5` by the least-squares similarity transform (rotation, uniform scale,
translation; Umeyama's closed form), and the output is sampled bilinearly (border
pixels repeat outward). Large reductions are pre-filtered with an antialiased resize
so that small outputs do not alias.

Landmarks: those the dataset ships (CK+, F2ED); for datasets without them (JAFFE, KDEF,
Oulu-CASIA, RAF-DB's originals, class folders) those of dlib's detector and 68-point
predictor, as in the papers, when the optional faces extra is installed
(:mod:`fer_core.data.faces`). Deviation from the papers otherwise: such faces are
centre-cropped (as are MMI and Multi-PIE frames, roughly centred faces).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["TEMPLATE_5", "five_points", "similarity_transform", "apply_affine", "align_face", "center_crop",
           "prepare_face"]

# Eye centres (image-left eye first), nose tip, mouth corners (image-left first), as
# fractions of the output side; the common 112-pixel face-recognition template divided by 112.
TEMPLATE_5 = np.array(
    [[0.3419, 0.4616], [0.6565, 0.4598], [0.5002, 0.6405], [0.3710, 0.8247], [0.6315, 0.8233]], dtype=np.float64
)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """``(5, 2)`` eye centres, nose tip, mouth corners from 68 iBUG/dlib points (or 5 passed through).

    In the 68-point order the eye of the image's left side is points 36-41, the other
    42-47; the nose tip is 30; the mouth corners are 48 and 54.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape == (5, 2):
        return lm
    if lm.shape == (68, 2):
        return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])
    raise ValueError(f"landmarks must have shape (68, 2) or (5, 2), got {lm.shape}")


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The ``(2, 3)`` similarity ``M`` minimising ``sum |M [src; 1] - dst|^2`` (no reflection).

    Args:
        src, dst: ``(N, 2)`` corresponding points, N >= 2.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two (N, 2) arrays with N >= 2, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("source points are all identical; cannot estimate a similarity transform")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N, 2)`` points mapped by the ``(2, 3)`` affine ``m``."""
    p = np.asarray(points, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC, reducing_gap=None))


def _warp(image: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """Sample ``image`` at ``m^-1`` of each output pixel (bilinear, edge-replicated)."""
    a = np.vstack([m, [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(a)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    h, w = image.shape[:2]
    sx = np.clip(sx, 0, w - 1)
    sy = np.clip(sy, 0, h - 1)
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = sx - x0, sy - y0
    img = image.astype(np.float64)
    if img.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bot = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return np.clip(top * (1 - fy) + bot * fy + 0.5, 0, 255).astype(np.uint8)


def align_face(
    image: np.ndarray, landmarks: np.ndarray, *, size: int, template: np.ndarray = TEMPLATE_5
) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``image`` so that the five points of ``landmarks`` land on ``template``.

    Args:
        image: ``(H, W)`` or ``(H, W, 3)`` uint8.
        landmarks: ``(68, 2)`` or ``(5, 2)`` in pixel-index coordinates of ``image``.
        size: output side.
        template: ``(5, 2)`` target points in unit-square coordinates.

    Returns:
        ``(size, size[, 3])`` uint8 and all ``landmarks`` mapped to output pixel coordinates.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if not np.isfinite(lm).all():
        raise ValueError("landmarks contain NaN or inf")
    dst = np.asarray(template, dtype=np.float64) * size - 0.5
    m = similarity_transform(five_points(lm), dst)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale < 0.5:
        # Downscale first (antialiased), so the bilinear warp never skips more than a pixel.
        r = min(1.0, 2.0 * scale)
        h, w = image.shape[:2]
        nw, nh = max(1, round(w * r)), max(1, round(h * r))
        image = _resize(image, nw, nh)
        rx, ry = nw / w, nh / h
        pre = np.array([[rx, 0.0, 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5]])
        lm_small = apply_affine(pre, lm)
        m = similarity_transform(five_points(lm_small), dst)
        return _warp(image, m, size), apply_affine(m, lm_small).astype(np.float32)
    return _warp(image, m, size), apply_affine(m, lm).astype(np.float32)


def center_crop(
    image: np.ndarray, *, size: int, landmarks: np.ndarray | None = None, fraction: float = 1.0
) -> tuple[np.ndarray, np.ndarray | None]:
    """The central square (side ``fraction`` x the shorter side), resized to ``size``; landmarks follow."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    h, w = image.shape[:2]
    side = max(1, int(round(min(h, w) * fraction)))
    x0, y0 = (w - side) // 2, (h - side) // 2
    crop = image[y0:y0 + side, x0:x0 + side]
    out = _resize(np.ascontiguousarray(crop), size, size)
    if landmarks is None:
        return out, None
    s = size / side
    lm = (np.asarray(landmarks, dtype=np.float64) + 0.5 - [x0, y0]) * s - 0.5
    return out, lm.astype(np.float32)


def _to_channels(image: np.ndarray, grayscale: bool) -> np.ndarray:
    """``(C, H, W)`` uint8 with C = 1 (ITU-R 601 luma) or 3."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if grayscale:
        if image.ndim == 3:
            luma = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
            image = np.clip(luma + 0.5, 0, 255).astype(np.uint8)
        return image[None]
    if image.ndim == 2:
        return np.repeat(image[None], 3, axis=0)
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def prepare_face(
    image: np.ndarray,
    *,
    size: int,
    grayscale: bool = False,
    landmarks: np.ndarray | None = None,
    align: bool = True,
    template: np.ndarray = TEMPLATE_5,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Align (or centre-crop), resize and convert one face.

    Args:
        image: ``(H, W)`` or ``(H, W, 3)`` uint8.
        size: output side in pixels.
        grayscale: 1 channel when True, else 3 (a grey source is replicated).
        landmarks: ``(68, 2)``/``(5, 2)`` pixel-index coordinates, or None.
        align: use ``landmarks`` when given; otherwise (or without landmarks) centre crop.

    Returns:
        ``(C, size, size)`` uint8 and the landmarks in output pixel coordinates (or None).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ValueError(f"image must be (H, W) or (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if align and landmarks is not None and np.isfinite(np.asarray(landmarks, dtype=np.float64)).all():
        out, lm = align_face(image, landmarks, size=size, template=template)
    else:
        out, lm = center_crop(image, size=size, landmarks=landmarks)
    return _to_channels(out, grayscale), lm
