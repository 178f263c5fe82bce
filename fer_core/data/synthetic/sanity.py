"""Is the synthetic world neither trivial nor impossible? A small-CNN sanity experiment.

Three small CNNs (grayscale, 48 px by default) are trained on the world and tested in six
settings that mirror the papers' protocols; each has the accuracy range the world is
calibrated to land in (the real datasets are about this hard, in this order, in the papers):

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
unseen-identity and unseen-view rows;
model B is trained and tested on weak frames; model C on the 54 fine-grained classes, whose
takes are short clips (frames 8-11 of a 12-frame onset) as F2ED's are videos: the standard
split holds out one frame of each clip, as a random split of F2ED's frames does.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from fer_core.data.synthetic.world import FaceWorld, SyntheticFaces

__all__ = ["sanity_experiment", "TARGETS"]

#: setting -> (low, high) accuracy range the world is calibrated for (fractions).
TARGETS: dict[str, tuple[float, float]] = {
    "7-class peak, seen identities": (0.90, 1.00),
    "7-class peak, unseen identities": (0.70, 0.90),
    "7-class weak frames, unseen identities": (0.45, 0.75),
    "fine-grained, standard split": (0.50, 0.80),
    "fine-grained, unseen identities": (0.10, 0.40),
    "7-class peak, unseen view": (0.30, 0.60),
}

_UNSEEN_FIRST = 10_000  # identity numbers of the people no model is trained on


def _accuracy(net, dataset, *, batch_size: int, device) -> float:
    from fer_core.methods.classifier import predict

    logits, labels = predict(net, dataset, batch_size=batch_size, device=device)
    return float((logits.argmax(1) == labels).float().mean())


def _train(train_ds, *, classes: int, channels: int, width: int, steps: int, batch_size: int, lr: float, seed: int,
           device, progress: bool, desc: str):
    from fer_core.methods.classifier import train_classifier
    from fer_core.nets.small import SmallCNN

    torch.manual_seed(seed)
    net = SmallCNN(channels, classes, width=width)
    method = train_classifier(train_ds, net=net, steps=steps, batch_size=batch_size, lr=lr, seed=seed, device=device,
                              progress=progress, desc=desc)
    return method.net


def sanity_experiment(*, size: int = 48, n_identities: int = 40, fine_identities: int = 12, n_unseen: int = 12,
                      steps: int = 400, weak_steps: int | None = None, fine_steps: int | None = None,
                      batch_size: int = 32, lr: float = 1e-3, width: int = 16, channels: int = 1,
                      seeds: tuple[int, ...] = (0,), device: str | torch.device = "cpu", progress: bool = False,
                      threads: int | None = None, world_kwargs: dict[str, Any] | None = None) -> pd.DataFrame:
    """Train small CNNs on the synthetic world and report accuracy in the six calibration settings.

    Args:
        size: image side in pixels; channels: 1 (grayscale, default) or 3.
        n_identities: people in the 7-class training sets (models A, B); fine_identities: in the
            fine-grained one (model C); n_unseen: people only in the unseen-identity test sets.
        steps: training steps of model A; weak_steps (default ``5/4 * steps``) of model B;
            fine_steps (default ``3 * steps``) of model C. batch_size, lr, width: training
            batch, Adam learning rate, SmallCNN width.
        seeds: one world and one training run per seed (the world seed is the run seed).
        threads: torch CPU threads while the experiment runs (restored afterwards).
        world_kwargs: options of :class:`FaceWorld` (``idiosyncrasy``, ``nuisance``, ``fine_spacing``...).

    Returns:
        one row per setting: ``setting``, ``classes``, ``chance``, ``n_train``, ``n_test``,
        ``accuracy`` (mean over seeds), ``accuracy_std`` (over seeds; NaN with one seed), ``accuracies`` (per seed),
        ``target_low``/``target_high``, ``in_target``; ``attrs["seconds"]`` holds the run
        time and ``attrs["settings"]`` the arguments.
    """
    for name, value in (("n_identities", n_identities), ("fine_identities", fine_identities), ("n_unseen", n_unseen),
                        ("steps", steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"sanity_experiment: {name} must be a positive int, got {value!r}")
    if not seeds:
        raise ValueError("sanity_experiment: seeds must name at least one seed")
    weak_steps = round(5 * steps / 4) if weak_steps is None else weak_steps
    fine_steps = 3 * steps if fine_steps is None else fine_steps
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    results: dict[str, list[tuple[float, int, int, int]]] = {k: [] for k in TARGETS}

    def record(setting, net, train, test):
        acc = _accuracy(net, test, batch_size=256, device=device)
        results[setting].append((acc, len(train.classes), len(train), len(test)))

    try:
        for seed in seeds:
            world = FaceWorld(seed, **(world_kwargs or {}))
            ids, unseen = range(n_identities), range(_UNSEEN_FIRST, _UNSEEN_FIRST + n_unseen)
            common = dict(size=size, channels=channels, world=world, device=device, landmarks=False)
            fit = dict(channels=channels, width=width, batch_size=batch_size, lr=lr, seed=seed, device=device,
                       progress=progress)

            # A: 7-class peak, frontal: the last three frames of neutral->peak sequences of 16 (as CK+
            # studies take them); frames 13 and 15 train, frame 14 tests the same people
            peak = dict(expressions="basic7", n_frames=16, **common)
            train = SyntheticFaces(identities=ids, takes=range(2), frames=(13, 15), **peak)
            net = _train(train, classes=7, steps=steps, desc="sanity A: 7-class peak", **fit)
            record("7-class peak, seen identities", net, train,
                   SyntheticFaces(identities=ids, takes=range(2), frames=(14,), **peak))
            record("7-class peak, unseen identities", net, train,
                   SyntheticFaces(identities=unseen, frames=(13, 14, 15), **peak))
            record("7-class peak, unseen view", net, train,
                   SyntheticFaces(identities=ids, takes=range(2), frames=(14,), views=("half_left", "half_right"),
                                  **peak))

            # B: weak frames (frames 6-8 of neutral->peak sequences of 16), subject-independent
            weak = dict(expressions="basic7", n_frames=16, frames=(5, 6, 7), **common)
            train = SyntheticFaces(identities=ids, takes=range(2), **weak)
            net = _train(train, classes=7, steps=weak_steps, desc="sanity B: weak frames", **fit)
            record("7-class weak frames, unseen identities", net, train, SyntheticFaces(identities=unseen, **weak))

            # C: fine-grained, frontal clips of 4 frames; frame 10 is held out
            fine = dict(expressions="fine54", n_frames=12, peak_intensity=(0.8, 1.0), **common)
            fids = range(fine_identities)
            train = SyntheticFaces(identities=fids, frames=(8, 9, 11), **fine)
            net = _train(train, classes=len(train.classes), steps=fine_steps, desc="sanity C: fine-grained", **fit)
            record("fine-grained, standard split", net, train, SyntheticFaces(identities=fids, frames=(10,), **fine))
            record("fine-grained, unseen identities", net, train,
                   SyntheticFaces(identities=unseen, frames=(10,), **fine))
    finally:
        torch.set_num_threads(old_threads)
    rows = []
    for setting, (lo, hi) in TARGETS.items():
        acc = np.array([r[0] for r in results[setting]])
        k, n_train, n_test = results[setting][0][1:]
        rows.append({"setting": setting, "classes": k, "chance": 1.0 / k, "n_train": n_train, "n_test": n_test,
                     "accuracy": float(acc.mean()), "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else math.nan, "accuracies": acc.tolist(),
                     "target_low": lo, "target_high": hi, "in_target": bool(lo <= acc.mean() <= hi)})
    table = pd.DataFrame(rows)
    table.attrs["seconds"] = time.perf_counter() - t0
    table.attrs["settings"] = {"size": size, "channels": channels, "n_identities": n_identities,
                               "fine_identities": fine_identities, "n_unseen": n_unseen, "steps": steps,
                               "weak_steps": weak_steps, "fine_steps": fine_steps, "batch_size": batch_size, "lr": lr,
                               "width": width, "seeds": list(seeds), "world": dict(world_kwargs or {})}
    return table
