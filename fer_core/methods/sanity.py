"""Is the synthetic world neither trivial nor impossible? The Data chapter's small-CNN sanity experiment.

Three small CNNs (grayscale, 48 px in ``small``) are trained on the world and tested in six
settings that mirror the papers' protocols; each setting has the accuracy range the world
is calibrated to land in (the real datasets are about this hard, in this order, in the papers):

=======================================  ==========================================  =======
setting                                  protocol                                    target
=======================================  ==========================================  =======
7-class peak, seen identities            held-out peak frame of train people         >= 90 %
7-class peak, unseen identities          new people (subject-independent)            70-90 %
7-class weak frames, unseen identities   frames 6-8 of 16 (GroupGAN), new people     45-75 %
fine-grained, standard split             held-out video frame (F2ED ER-SS)           50-80 %
fine-grained, unseen identities          new people (F2ED ER-ZID)                    10-40 %
7-class peak, unseen view                trained frontal, tested at +-45 deg yaw     30-60 %
=======================================  ==========================================  =======

Model A (7-class, the last three frames of frontal sequences) serves the seen,
unseen-identity and unseen-view rows; model B is trained and tested on weak frames; model C
on the 54 fine-grained classes, whose takes are short clips (frames 8-11 of a 12-frame
onset) as F2ED's are videos: the standard split holds out one frame of each clip. Each seed
is a new world (new people) and a new training run; each (model, seed) is one experiment of
the shared runner, so a rebuild reuses them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from fer_core import evaluate, runtime
from fer_core.data.memory import MemoryCachedDataset
from fer_core.data.synthetic.world import FaceWorld, SyntheticFaces
from fer_core.experiments import ChapterData, Experiment, Plan, Study
from fer_core.methods.classifier import Classifier
from fer_core.nets.small import SmallCNN
from fer_core.train import Method

__all__ = ["SanityStudy", "TARGETS", "MODELS", "steps_of"]

#: setting -> (low, high) accuracy range the world is calibrated for (fractions).
TARGETS: dict[str, tuple[float, float]] = {
    "7-class peak, seen identities": (0.90, 1.00),
    "7-class peak, unseen identities": (0.70, 0.90),
    "7-class weak frames, unseen identities": (0.45, 0.75),
    "fine-grained, standard split": (0.50, 0.80),
    "fine-grained, unseen identities": (0.10, 0.40),
    "7-class peak, unseen view": (0.30, 0.60),
}
#: model -> the settings its test sets measure.
MODELS: dict[str, tuple[str, ...]] = {
    "A": ("7-class peak, seen identities", "7-class peak, unseen identities", "7-class peak, unseen view"),
    "B": ("7-class weak frames, unseen identities",),
    "C": ("fine-grained, standard split", "fine-grained, unseen identities"),
}
_UNSEEN_FIRST = 10_000  # identity numbers of the people no model is trained on
#: Training steps of each model relative to the profile's ``steps`` (B and C need longer, see the chapter).
STEP_FACTORS = {"A": 1.0, "B": 1.25, "C": 3.0}
LR = 1e-3
CHANNELS = 1


def steps_of(model: str, steps: int) -> int:
    """Training steps of ``model`` when model A trains for ``steps``."""
    return round(STEP_FACTORS[model] * steps)


def _datasets(model: str, P: Mapping[str, Any], seed: int) -> tuple[SyntheticFaces, dict[str, SyntheticFaces]]:
    """Model ``model``'s training set and its test set per setting, in the world of ``seed``."""
    world = FaceWorld(seed)
    ids, unseen = range(int(P["n_identities"])), range(_UNSEEN_FIRST, _UNSEEN_FIRST + int(P["n_unseen"]))
    common = dict(size=int(P["size"]), channels=CHANNELS, world=world, landmarks=False)
    if model == "A":  # frames 13 and 15 of neutral->peak sequences of 16 train, frame 14 tests the same people
        peak = dict(expressions="basic7", n_frames=16, **common)
        train = SyntheticFaces(identities=ids, takes=range(2), frames=(13, 15), **peak)
        tests = {MODELS["A"][0]: SyntheticFaces(identities=ids, takes=range(2), frames=(14,), **peak),
                 MODELS["A"][1]: SyntheticFaces(identities=unseen, frames=(13, 14, 15), **peak),
                 MODELS["A"][2]: SyntheticFaces(identities=ids, takes=range(2), frames=(14,),
                                                views=("half_left", "half_right"), **peak)}
    elif model == "B":  # weak frames (frames 6-8 of sequences of 16), subject-independent
        weak = dict(expressions="basic7", n_frames=16, frames=(5, 6, 7), **common)
        train = SyntheticFaces(identities=ids, takes=range(2), **weak)
        tests = {MODELS["B"][0]: SyntheticFaces(identities=unseen, **weak)}
    else:  # fine-grained, frontal clips of 4 frames; frame 10 is held out
        fine = dict(expressions="fine54", n_frames=12, peak_intensity=(0.8, 1.0), **common)
        fids = range(int(P["fine_identities"]))
        train = SyntheticFaces(identities=fids, frames=(8, 9, 11), **fine)
        tests = {MODELS["C"][0]: SyntheticFaces(identities=fids, frames=(10,), **fine),
                 MODELS["C"][1]: SyntheticFaces(identities=unseen, frames=(10,), **fine)}
    return train, tests


class SanityStudy(Study):
    """The sanity experiment: models A, B, C, one world and one training run per seed."""

    chapter = "data"
    plan_settings = ("seeds", "bench_sizes", "bench_images", "protocol_identities", "protocol_folds")

    @classmethod
    def build_data(cls, P: Mapping[str, Any], *, dataset: str = "synthetic", data_root: str | Path | None = None,
                   seed: int = 0) -> ChapterData:
        """No shared dataset: every (model, seed) builds its own from its world. This records what they are."""
        if dataset != "synthetic":
            raise ValueError("the sanity experiment measures the synthetic world; it takes no real dataset")
        probe, _ = _datasets("A", {**P, "n_identities": 1, "n_unseen": 1}, seed)
        return ChapterData(dataset=probe, splits=[], name="synthetic worlds, one per seed", key="synthetic",
                           spec={"dataset": "synthetic", "models": sorted(MODELS)},
                           build_args={"dataset": dataset, "data_root": data_root, "seed": int(seed)})

    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        if variant not in MODELS:
            raise ValueError(f"the sanity experiment has models {sorted(MODELS)}, not {variant!r}")
        return Experiment(variant, 0, seed, cost=STEP_FACTORS[variant])

    def plan(self) -> Plan:
        return Plan([self.make(m, 0, s) for s in self.seeds for m in MODELS])

    def train(self, exp: Experiment) -> Method:
        P = self.P
        train, _ = _datasets(exp.variant, P, exp.seed)
        torch.manual_seed(exp.seed)
        net = SmallCNN(CHANNELS, len(train.classes), width=int(P["width"]))
        runtime.seed_everything(exp.seed)
        method = Classifier(net, lr=LR)
        self.fit(method, exp, MemoryCachedDataset(train, self.device), steps=steps_of(exp.variant, int(P["steps"])),
                 batch_size=int(P["batch_size"]))
        return method

    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        train, tests = _datasets(exp.variant, self.P, exp.seed)
        return {"settings": {name: {"accuracy": evaluate.classify(method.net, MemoryCachedDataset(test, self.device))
                                    ["accuracy"], "classes": len(train.classes), "n_train": len(train),
                                    "n_test": len(test)} for name, test in tests.items()}}

    def table(self) -> pd.DataFrame:
        """One row per setting: classes, chance, n_train, n_test, accuracy (mean over seeds),
        accuracy_std (NaN with one seed), accuracies, target_low/high, in_target."""
        per: dict[str, list[dict[str, Any]]] = {k: [] for k in TARGETS}
        for _, r in self.results():
            for name, row in r["settings"].items():
                per[name].append(row)
        rows = []
        for setting, (lo, hi) in TARGETS.items():
            acc = np.array([r["accuracy"] for r in per[setting]])
            first = per[setting][0]
            rows.append({"setting": setting, "classes": first["classes"], "chance": 1.0 / first["classes"],
                         "n_train": first["n_train"], "n_test": first["n_test"], "accuracy": float(acc.mean()),
                         "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else math.nan,
                         "accuracies": acc.tolist(), "target_low": lo, "target_high": hi,
                         "in_target": bool(lo <= acc.mean() <= hi)})
        return pd.DataFrame(rows).set_index("setting")
