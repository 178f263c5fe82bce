"""Expressions of the synthetic world: action-unit-like controls and the papers' label sets.

Two layers:

1. **Action units** (``AU_CONTROLS``): each FACS action unit we model moves a few
   geometric *controls* of the face (``CONTROL_NAMES``: brow ends, lids, wrinkles, lip
   corners, mouth opening, ...). The mapping is ours, chosen so that each AU does what
   its FACS description says (AU12 pulls the lip corners up, AU4 lowers and draws the
   brows together, ...).
2. **Label sets** (:class:`ExpressionSet`): each class is a mixture of AUs. The basic
   classes follow the EMFACS prototypes (happiness AU6+AU12; sadness AU1+AU4+AU15;
   surprise AU1+AU2+AU5+AU26; fear AU1+AU2+AU4+AU5+AU7+AU20+AU26; anger AU4+AU5+AU7+AU23;
   disgust AU9+AU15+AU16; contempt unilateral AU12+AU14). The Multi-PIE-like set adds
   squint (AU6+AU7) and scream (wide-open mouth with tightened eyes). The fine-grained
   F2ED-like set (default 54 classes) varies seven eye-region features — temporal
   wrinkles, wrinkles below the eyes, nasal wrinkles, brow slope, brow curve, brow
   distance and eye aperture — on top of four coarse groups, so neighbouring classes
   differ only in small eye-region details.

Identity style (:func:`expression_controls`): each identity has resting offsets and
per-control gains (from :func:`~fer_core.data.synthetic.face.identity_params`) and its
own rendition of every class, so a classifier must generalise across *how* people
express, not only across what they look like.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from fer_core.data.base import EXPRESSIONS_7, EXPRESSIONS_8
from fer_core.data.synthetic.controls import CONTROL_NAMES, N_CONTROLS, C
from fer_core.data.synthetic.face import STREAM_CLASS_STYLE, STYLE_SCALES, hash_normal, hash_uniform

__all__ = [
    "CONTROL_NAMES", "N_CONTROLS", "C", "AU_CONTROLS", "PROTOTYPES", "EYE_FEATURES", "MULTIPIE_6", "ExpressionSet",
    "expression_set", "fine_grained", "expression_controls", "au_controls",
]


#: Action unit -> the controls it moves (weights per unit AU intensity). ``corner_l`` is
#: the lip corner on the image left (the subject's right); "R12"/"R14" act on one side only.
AU_CONTROLS: Mapping[str, Mapping[str, float]] = {
    "AU1": {"brow_inner": 1.0, "brow_arch": -0.3, "forehead_wr": 0.6},
    "AU2": {"brow_outer": 1.0, "brow_arch": 0.4, "forehead_wr": 0.5},
    "AU4": {"brow_inner": -0.8, "brow_outer": -0.35, "brow_together": 1.0, "glabella": 1.0, "eye_open": -0.1},
    "AU5": {"eye_open": 1.0},
    "AU6": {"cheek": 1.0, "lower_lid": 0.5, "temporal_wr": 1.0, "below_wr": 0.6, "eye_open": -0.3, "nasolabial": 0.4},
    "AU7": {"eye_open": -0.6, "lower_lid": 0.8, "below_wr": 0.4},
    "AU9": {"nasal_wr": 1.0, "upper_lip": 0.4, "brow_inner": -0.35, "brow_outer": -0.2, "nasolabial": 0.5,
            "eye_open": -0.2},
    "AU10": {"upper_lip": 1.0, "nasolabial": 0.5},
    "AU12": {"corner_l": 1.0, "corner_r": 1.0, "mouth_stretch": 0.35, "cheek": 0.3, "nasolabial": 0.6},
    "AU14": {"dimple_l": 1.0, "dimple_r": 1.0, "mouth_stretch": 0.1},
    "AU15": {"corner_l": -1.0, "corner_r": -1.0},
    "AU16": {"lower_lip": 1.0, "lips_part": 0.2},
    "AU20": {"mouth_stretch": 1.0, "lips_part": 0.1},
    "AU23": {"lip_press": 1.0, "mouth_stretch": -0.3},
    "AU25": {"lips_part": 0.6},
    "AU26": {"jaw_drop": 1.0, "lips_part": 0.4},
    "AU27": {"jaw_drop": 1.7, "lips_part": 0.7, "mouth_stretch": -0.1},
    "R12": {"corner_r": 1.1, "mouth_stretch": 0.15, "nasolabial": 0.2},
    "R14": {"dimple_r": 1.2},
}

#: Class name -> AU intensities at the peak (EMFACS prototypes; Multi-PIE's smile/squint/scream).
PROTOTYPES: Mapping[str, Mapping[str, float]] = {
    "neutral": {},
    "anger": {"AU4": 1.0, "AU5": 0.5, "AU7": 0.8, "AU23": 1.0},
    "disgust": {"AU9": 1.0, "AU15": 0.6, "AU16": 0.7, "AU10": 0.3, "AU25": 0.2},
    "fear": {"AU1": 0.9, "AU2": 0.6, "AU4": 0.5, "AU5": 1.0, "AU7": 0.3, "AU20": 1.0, "AU26": 0.45, "AU25": 0.4},
    "happiness": {"AU6": 0.9, "AU12": 1.0, "AU25": 0.35},
    "sadness": {"AU1": 0.9, "AU4": 0.55, "AU15": 0.9},
    "surprise": {"AU1": 1.0, "AU2": 1.0, "AU5": 0.9, "AU26": 0.85, "AU25": 0.4},
    "contempt": {"R12": 0.9, "R14": 0.9},
    "smile": {"AU6": 0.8, "AU12": 1.0},
    "squint": {"AU6": 0.7, "AU7": 1.0},
    "scream": {"AU27": 1.0, "AU6": 0.5, "AU7": 0.8, "AU4": 0.5, "AU20": 0.5, "AU10": 0.6},
}

MULTIPIE_6: tuple[str, ...] = ("neutral", "smile", "surprise", "squint", "disgust", "scream")

#: The seven eye-region features of F2ED's fine-grained classes and the controls each moves.
EYE_FEATURES: Mapping[str, Mapping[str, float]] = {
    "temporal_wrinkles": {"temporal_wr": 2.25},
    "wrinkles_below_eyes": {"below_wr": 2.25},
    "nasal_wrinkles": {"nasal_wr": 2.25},
    "brow_slope": {"brow_inner": 1.6, "brow_outer": -1.6},
    "brow_curve": {"brow_arch": 2.25},
    "brow_distance": {"brow_together": -2.0},
    "eye_aperture": {"eye_open": 1.8},
}
_WRINKLE_FEATURES = ("temporal_wrinkles", "wrinkles_below_eyes", "nasal_wrinkles")

# The four coarse groups of the fine-grained classes (F2ED clusters its 54 classes into 4).
_FINE_GROUPS: tuple[tuple[str, Mapping[str, float]], ...] = (
    ("pos", {"AU6": 0.25, "AU12": 0.55}),
    ("neg", {"AU1": 0.35, "AU15": 0.55}),
    ("nar", {"AU4": 0.35, "AU7": 0.3, "AU23": 0.5}),
    ("wid", {"AU1": 0.3, "AU2": 0.3, "AU5": 0.3, "AU25": 0.6}),
)


def au_controls(aus: Mapping[str, float]) -> np.ndarray:
    """``(N_CONTROLS,)`` control vector of an AU mixture ``{"AU12": 1.0, ...}``."""
    g = np.zeros(N_CONTROLS)
    for au, amount in aus.items():
        if au not in AU_CONTROLS:
            raise ValueError(f"unknown action unit {au!r}; known: {sorted(AU_CONTROLS)}")
        for name, w in AU_CONTROLS[au].items():
            g[C[name]] += amount * w
    return g


@dataclass(frozen=True, eq=False)
class ExpressionSet:
    """A label set: class names and each class's peak control vector.

    Attributes:
        name: e.g. ``"basic7"``, ``"ckplus8"``, ``"multipie6"``, ``"fine54"``.
        classes: the class names, in label order.
        controls: ``(K, N_CONTROLS)`` float64, the peak controls of each class.
        eye_levels: ``(K, 7)`` the levels of ``EYE_FEATURES`` (fine-grained sets only).
    """

    name: str
    classes: tuple[str, ...]
    controls: np.ndarray
    eye_levels: np.ndarray | None = None

    @property
    def key(self) -> int:
        """A stable integer naming the set (feeds the hash of each identity's class style)."""
        return zlib.crc32(self.name.encode()) & 0x7FFFFFFF

    def index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise ValueError(f"unknown expression {name!r} in label set {self.name!r}; classes: {self.classes}") from None


def _from_names(name: str, classes: Sequence[str]) -> ExpressionSet:
    unknown = [c for c in classes if c not in PROTOTYPES]
    if unknown:
        raise ValueError(f"unknown expression class(es) {unknown}; known: {sorted(PROTOTYPES)} "
                         "(or use expressions='fine54' for the fine-grained set)")
    if len(set(classes)) != len(classes):
        raise ValueError(f"expression classes must be distinct, got {tuple(classes)}")
    return ExpressionSet(name, tuple(classes), np.stack([au_controls(PROTOTYPES[c]) for c in classes]))


def fine_grained(n: int = 54, *, spacing: float = 1.0) -> ExpressionSet:
    """The F2ED-like fine-grained label set: ``n`` close classes.

    Class ``k`` belongs to one of four coarse groups (a mild AU mixture, cycled) and has
    its own levels of the seven ``EYE_FEATURES`` (wrinkles 0, 0.5 or 1; brow slope,
    curve, distance and eye aperture -1, 0 or +1), chosen so that any two classes of a
    group differ in at least two features. ``spacing`` scales the eye-feature offsets
    (smaller = closer classes = harder). The level table does not depend on any seed.
    """
    if not isinstance(n, (int, np.integer)) or not 2 <= n <= 400:
        raise ValueError(f"the fine-grained set needs 2 <= n <= 400 classes, got {n!r}")
    if spacing <= 0:
        raise ValueError(f"spacing must be > 0, got {spacing}")
    grid = np.stack(np.meshgrid(*[np.arange(3)] * 7, indexing="ij"), -1).reshape(-1, 7)
    n_groups = len(_FINE_GROUPS)
    # each group scans the lattice nearest-to-its-centre first (in its own hashed order), so
    # classes stay close: most differ from their group's centre in one or two features.
    radius = np.abs(grid - 1).sum(1)
    orders = [np.lexsort((hash_uniform(20240601, gi, np.arange(len(grid)), n=1)[:, 0], radius))
              for gi in range(n_groups)]
    chosen: list[list[np.ndarray]] = [[] for _ in range(n_groups)]
    levels, names, controls = [], [], []
    for k in range(n):
        gi = k % n_groups
        for cand in grid[orders[gi]]:
            if all(np.abs(cand - prev).sum() >= 2 for prev in chosen[gi]):
                break
        else:  # pragma: no cover - 2187 lattice points always suffice for n <= 400
            raise RuntimeError("ran out of fine-grained level combinations")
        chosen[gi].append(cand)
        lev = cand.astype(np.float64) - 1.0  # -1, 0, 1
        for j, feat in enumerate(EYE_FEATURES):
            if feat in _WRINKLE_FEATURES:
                lev[j] = cand[j] / 2.0  # 0, 0.5, 1
        gname, aus = _FINE_GROUPS[gi]
        g = au_controls(aus)
        for j, feat in enumerate(EYE_FEATURES):
            for ctrl, w in EYE_FEATURES[feat].items():
                g[C[ctrl]] += spacing * w * lev[j]
        levels.append(lev)
        names.append(f"{gname}{len(chosen[gi]) - 1:02d}")
        controls.append(g)
    name = f"fine{n}" if spacing == 1.0 else f"fine{n}_s{spacing:g}"
    return ExpressionSet(name, tuple(names), np.stack(controls), np.stack(levels))


_PRESETS = {
    "basic7": lambda: _from_names("basic7", EXPRESSIONS_7),
    "ckplus8": lambda: _from_names("ckplus8", EXPRESSIONS_8),
    "basic8": lambda: _from_names("ckplus8", EXPRESSIONS_8),
    "multipie6": lambda: _from_names("multipie6", MULTIPIE_6),
}


def expression_set(spec: str | Sequence[str] | ExpressionSet = "basic7", *, fine_spacing: float = 1.0) -> ExpressionSet:
    """Resolve a label-set spec.

    Args:
        spec: ``"basic7"`` (neutral + the six basic emotions, ``EXPRESSIONS_7`` order),
            ``"ckplus8"`` (+ contempt), ``"multipie6"``, ``"fine"``/``"fineN"`` (the
            fine-grained set with N classes, default 54), a sequence of class names from
            ``PROTOTYPES``, or an :class:`ExpressionSet`.
        fine_spacing: ``spacing`` of :func:`fine_grained` for ``"fine..."`` specs.
    """
    if isinstance(spec, ExpressionSet):
        return spec
    if isinstance(spec, str):
        if spec in _PRESETS:
            return _PRESETS[spec]()
        if spec.startswith("fine"):
            digits = spec[4:]
            if digits == "" or digits.isdigit():
                return fine_grained(int(digits) if digits else 54, spacing=fine_spacing)
        raise ValueError(f"unknown expression set {spec!r}; use one of {sorted(_PRESETS)}, 'fine' / 'fine54', "
                         "or a tuple of class names")
    names = tuple(spec)
    if not names or not all(isinstance(c, str) for c in names):
        raise ValueError(f"expressions must be a preset name or a non-empty sequence of class names, got {spec!r}")
    return _from_names("custom:" + ",".join(names), names)


def expression_controls(eset: ExpressionSet, cls: np.ndarray, intensity: np.ndarray, ids: np.ndarray,
                        ident: Mapping[str, np.ndarray], *, seed: int, idiosyncrasy: float = 1.0) -> np.ndarray:
    """Controls ``(B, N_CONTROLS)`` of class ``cls`` at ``intensity`` as identity ``ids`` expresses it.

    ``controls = rest_id + intensity * (proto ⊙ gain_id ⊙ (1 + σ ε₁) + σ |proto| ε₂)``: the
    identity's resting face, its per-control gains, and its own rendition of this class
    (ε₁, ε₂ drawn from the hash of (seed, identity, label set, class)); σ is
    ``STYLE_SCALES["class"] * idiosyncrasy``. Intensity 0 gives the identity's neutral face
    whatever the class, and the controls are affine, hence monotone, in the intensity.

    Args:
        cls: ``(B,)`` class indices; intensity: ``(B,)`` in [0, 1]; ids: ``(B,)`` identity numbers;
        ident: identity parameters with one row per sample (``rest``, ``gain``).
    """
    cls = np.asarray(cls, dtype=np.int64)
    proto = eset.controls[cls]
    sigma = STYLE_SCALES["class"] * float(idiosyncrasy)
    eps = hash_normal(seed, STREAM_CLASS_STYLE, ids, eset.key, cls, n=2 * N_CONTROLS)
    size = np.abs(proto)
    mag = np.zeros((len(cls), 1))
    for j in range(N_CONTROLS):  # explicit sum: same bits whatever the batch
        mag[:, 0] += size[:, j]
    mag /= N_CONTROLS
    own = proto * ident["gain"] * (1.0 + sigma * eps[:, :N_CONTROLS]) + sigma * (0.5 * size + mag) * eps[:, N_CONTROLS:]
    return ident["rest"] + np.asarray(intensity, dtype=np.float64)[:, None] * own
