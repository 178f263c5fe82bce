"""Names of the per-face feature boxes and colours, shared by the two pixel paths.

The torch path (:mod:`~fer_core.data.synthetic.render`) and the compiled CPU loop
(:mod:`~fer_core.data.synthetic.kernel`) index the same per-face arrays by these names;
keeping them here lets the torch path import without numba.
"""

__all__ = ["BOXES", "COLOURS"]

#: Feature groups with a pixel box of their own per face (the order of ``render._all_boxes``'s rows).
BOXES = ("eyes", "centre", "forehead", "mouth", "arm_l", "arm_r", "beard", "nose", "neck")
#: Per-face colours (the order of ``render._colours``'s rows).
COLOURS = ("skin", "hair", "hair_skin", "brow", "lip", "neck", "bg")
