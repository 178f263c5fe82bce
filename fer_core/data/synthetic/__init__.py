"""The synthetic face world: the book's embedded default data.

``world`` holds the datasets and presets, ``face`` the identities, ``expressions`` the
action-unit controls and label sets, ``render`` the batched renderer and ``bench`` the speed
measurement. The small-CNN calibration experiment lives with the methods
(:mod:`fer_core.methods.sanity`): the data layer never imports a method.
"""

from fer_core.data.synthetic.bench import bench_renderer
from fer_core.data.synthetic.expressions import (AU_CONTROLS, CONTROL_NAMES, EYE_FEATURES, MULTIPIE_6, PROTOTYPES,
                                                 ExpressionSet, expression_set, fine_grained)
from fer_core.data.synthetic.world import (MULTIPIE_YAWS, VIEWS, FaceWorld, SyntheticFaces, SyntheticSubset,
                                           WeakPeakPairs, ckplus_like, f2ed_like, multipie_like, sequence_intensity,
                                           weak_peak)

__all__ = [
    "FaceWorld", "SyntheticFaces", "SyntheticSubset", "WeakPeakPairs", "ckplus_like", "multipie_like", "f2ed_like", "weak_peak",
    "sequence_intensity", "VIEWS", "MULTIPIE_YAWS", "ExpressionSet", "expression_set", "fine_grained",
    "AU_CONTROLS", "CONTROL_NAMES", "EYE_FEATURES", "MULTIPIE_6", "PROTOTYPES", "bench_renderer",
]
