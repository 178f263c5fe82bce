"""The switch unit of JESRL (Sec. III-B, Fig. 3): per-expression channel blocks of ``R``, the block
exchange (Eq. 3), the binary switch code ``S`` and the representation interpolation (Eq. 6).

``R`` ``(B, C, h, w)`` is cut along channels into ``n`` blocks, block ``k`` holding expression ``k``.
Blocks end at ``round(C / n * (k + 1))`` (the authors' code), so they differ in size by at most one
channel when ``n`` does not divide ``C``. Each pair ``(I_a, I_b)`` of a batch carries its own labels
``(i, j)``, so every function here takes ``(B,)`` label tensors and works on the whole batch at once.
"""

from __future__ import annotations

import torch

__all__ = ["block_bounds", "block_mask", "switch", "interpolate", "switch_code"]


def block_bounds(channels: int, n: int) -> tuple[int, ...]:
    """``(0, b_1, ..., b_n = C)``: block ``k`` of ``R`` is channels ``b_k .. b_{k+1} - 1``.

    Raises:
        ValueError: fewer channels than expressions (a block would be empty).
    """
    if n < 2 or channels < n:
        raise ValueError(f"R needs at least one channel per expression: C={channels}, n={n}")
    return tuple(round(channels / n * k) for k in range(n + 1))


def block_mask(i: torch.Tensor, j: torch.Tensor, bounds: tuple[int, ...]) -> torch.Tensor:
    """``(B, C, 1, 1)`` bool mask, True on the channels of blocks ``i[b]`` and ``j[b]`` of each pair."""
    C = bounds[-1]
    starts = torch.tensor(bounds[:-1], device=i.device)
    ends = torch.tensor(bounds[1:], device=i.device)
    ch = torch.arange(C, device=i.device)[None, :]
    in_block = lambda k: (ch >= starts[k][:, None]) & (ch < ends[k][:, None])  # noqa: E731
    return (in_block(i) | in_block(j))[:, :, None, None]


def switch(R_a: torch.Tensor, R_b: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
           bounds: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(R_c, R_d)``: blocks ``i`` and ``j`` exchanged between ``R_a`` and ``R_b``. Implements Eq. (3).

    ``R_c = [r_a^1, .., r_b^i, .., r_b^j, .., r_a^n]`` (``I_a``'s face with ``I_b``'s expression ``j``),
    ``R_d = [r_b^1, .., r_a^i, .., r_a^j, .., r_b^n]``; every other channel stays where it was.
    """
    m = block_mask(i, j, bounds)
    return torch.where(m, R_b, R_a), torch.where(m, R_a, R_b)


def interpolate(R_a: torch.Tensor, R_b: torch.Tensor, i: torch.Tensor, j: torch.Tensor, bounds: tuple[int, ...],
                p: float | torch.Tensor = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``(R_c^p, R_d^p)``: the exchanged blocks mixed, ``p r_a + (1 - p) r_b`` in ``R_c^p`` and
    ``p r_b + (1 - p) r_a`` in ``R_d^p``. Implements Eq. (6) (the paper's ``p = 0.5``).

    ``p = 0`` gives Eq. (3)'s ``(R_c, R_d)``, ``p = 1`` gives ``(R_a, R_b)`` back; ``p`` may be a
    ``(B,)`` tensor (one value per pair).
    """
    p = torch.as_tensor(p, dtype=R_a.dtype, device=R_a.device)
    p = p.view(-1, 1, 1, 1) if p.dim() else p
    m = block_mask(i, j, bounds)
    return torch.where(m, p * R_a + (1 - p) * R_b, R_a), torch.where(m, p * R_b + (1 - p) * R_a, R_b)


def switch_code(i: torch.Tensor, j: torch.Tensor | None, n: int) -> torch.Tensor:
    """The binary switch code ``S`` ``(B, n)``: 1 at the exchanged expressions ``i`` and ``j``, else 0.

    ``j=None`` gives the all-zero code of a reconstruction (``S_a``, ``S_b``: nothing exchanged).
    ``S_c = S_d``: both transfers of a pair exchange the same two blocks.
    """
    code = torch.zeros(len(i), n, device=i.device)
    if j is None:
        return code
    if bool((i == j).any()):
        raise ValueError("a transfer exchanges two different expressions (y^i != y^j, Sec. III-B); got i == j")
    rows = torch.arange(len(i), device=i.device)
    code[rows, i] = 1.0
    code[rows, j] = 1.0
    return code
