"""Landmark pose maps: the 68 facial landmarks drawn as a mask image (FaPE-GAN's Fig. 4b).

Paper: "Facial Expression Recognition with Multi-pose ... FaPE-GAN" (F2ED; Sec. 3.2, Fig. 4b):
"we convert the landmark position text file into images in a mask style". The mask is the
pose image ``I_P`` the generator is conditioned on.

The landmarks can come from anywhere that gives the usual iBUG/dlib order: the synthetic
world's ground truth (``batch["landmarks"]``), a real dataset's landmark files (the F2ED
adapter reads ``<frame>.txt``), or the optional face detector (:mod:`fer_core.data.faces`)
for a dataset that has none. Each point is drawn, and consecutive points of the same facial
part (jaw, brows, nose bridge, nostrils, eyes, outer and inner lips) are joined by a line,
as in the paper's figure; the lines make the map depend on the order of the points, so a
permuted landmark list gives a different map.
"""

from __future__ import annotations

import torch

__all__ = ["IBUG_PARTS", "pose_map", "segments"]

#: The iBUG-68 facial parts as ``(first, last, closed)``: points first..last are joined in order,
#: and the last back to the first when ``closed``.
IBUG_PARTS: tuple[tuple[int, int, bool], ...] = (
    (0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
    (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True),
)
_SAMPLES = 8  # points drawn along each segment (enough for unbroken lines up to 256 px faces)


def segments(n_points: int = 68) -> torch.Tensor:
    """``(M, 2)`` index pairs of the landmarks joined by a line (iBUG-68 parts, in order)."""
    if n_points != 68:
        raise ValueError(f"pose maps follow the iBUG 68-point order; got {n_points} landmarks. Use a 68-point "
                         "detector (dlib's shape predictor) or the dataset's 68-point landmark files.")
    pairs = []
    for first, last, closed in IBUG_PARTS:
        pairs += [(i, i + 1) for i in range(first, last)]
        if closed:
            pairs.append((last, first))
    return torch.tensor(pairs, dtype=torch.long)


def pose_map(landmarks: torch.Tensor, size: int, *, lines: bool = True) -> torch.Tensor:
    """Draw landmarks as a mask image.

    Args:
        landmarks: ``(B, 68, 2)`` or ``(68, 2)`` pixel coordinates ``(x, y)`` in the image's
            pixel-index convention (pixel ``(0, 0)`` has its centre at ``(0, 0)``), as the
            synthetic world and the dataset adapters give them. NaN rows (no landmarks) give an
            empty map.
        size: side ``S`` of the map (the face image's side).
        lines: join consecutive points of each facial part (the paper's Fig. 4b); ``False``
            draws the 68 points only.

    Returns:
        ``(B, 1, S, S)`` (or ``(1, S, S)``) float32 in [-1, 1]: 1 on the drawn pixels, -1 elsewhere
        (the value range of the face images it is concatenated with).
    """
    single = landmarks.dim() == 2
    lm = landmarks.unsqueeze(0) if single else landmarks
    if lm.dim() != 3 or lm.shape[-1] != 2:
        raise ValueError(f"landmarks must have shape (B, 68, 2) or (68, 2), got {tuple(landmarks.shape)}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    lm = lm.float()
    points = [lm]
    if lines:
        pairs = segments(lm.shape[1]).to(lm.device)
        t = torch.linspace(0, 1, _SAMPLES, device=lm.device).view(1, 1, -1, 1)
        a, b = lm[:, pairs[:, 0]].unsqueeze(2), lm[:, pairs[:, 1]].unsqueeze(2)
        points.append((a + t * (b - a)).flatten(1, 2))
    else:
        segments(lm.shape[1])  # the same check of the point count
    pts = torch.cat(points, dim=1)
    B = pts.shape[0]
    xy = pts.round()
    ok = torch.isfinite(xy).all(-1) & (xy >= 0).all(-1) & (xy <= size - 1).all(-1)
    xy = torch.where(ok.unsqueeze(-1), xy, torch.zeros_like(xy)).long()
    flat = torch.zeros(B, size * size, device=lm.device)
    index = xy[..., 1] * size + xy[..., 0]
    flat.scatter_add_(1, index, ok.float())
    out = (flat.view(B, 1, size, size) > 0).float() * 2 - 1
    return out[0] if single else out
