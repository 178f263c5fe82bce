"""The geometric controls an expression sets (one home, used by the expressions and the face model).

An expression reaches the renderer as a vector of ``N_CONTROLS`` numbers, one per control
below (brows, lids, wrinkles, cheeks, lip corners, mouth opening ...); ``C`` maps a
control's name to its index. :mod:`~fer_core.data.synthetic.expressions` builds the
vectors from action units, :mod:`~fer_core.data.synthetic.face` turns them into geometry.
"""

from __future__ import annotations

from typing import Mapping

__all__ = ["CONTROL_NAMES", "N_CONTROLS", "C"]

CONTROL_NAMES: tuple[str, ...] = (
    "brow_inner", "brow_outer", "brow_together", "brow_arch", "eye_open", "lower_lid",
    "temporal_wr", "below_wr", "nasal_wr", "cheek", "corner_l", "corner_r", "mouth_stretch",
    "lips_part", "jaw_drop", "lip_press", "upper_lip", "lower_lip", "dimple_l", "dimple_r",
    "forehead_wr", "nasolabial", "glabella",
)
N_CONTROLS = len(CONTROL_NAMES)
C: Mapping[str, int] = {name: i for i, name in enumerate(CONTROL_NAMES)}
