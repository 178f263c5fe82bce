"""The FESR chapter's experiments: data, folds, every variant per fold and seed, cached results.

Paper: "Joint Deep Learning of Facial Expression Synthesis and Recognition" (FESR;
Sections III-IV, Tables I-VII, Fig. 4-9). The method itself is :mod:`fer_core.methods.fesr`;
this module only orchestrates it for ``notebooks/fesr.py`` and returns exactly what each
figure and table of the chapter needs.

Everything is cached twice: training runs keep their checkpoints under
``<cache>/runs/fesr/<key>/`` (so an interrupted chapter resumes), and each evaluated
experiment is stored in :class:`~fer_core.results.ResultStore` ``("fesr")`` keyed by its
full configuration and the code fingerprint (so a rebuild reuses finished experiments and
any change of configuration or library code re-runs them).

Per fold: a stand-in identity network ``F_id`` (unless LightCNN weights are given), one FG
pre-training run of ``P_pre`` steps that every two-stage variant continues from
(:func:`~fer_core.methods.fesr.continue_from_pretraining`), the other ablation variants,
and FG-IP (Table IV needs it on every fold). The figure-only FESGAN variants of Fig. 4 run
on the first ``fesgan_folds`` folds.
"""

from __future__ import annotations

import inspect
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from fer_core import distributed, metrics, runtime
from fer_core.claims import Claim, Ledger
from fer_core.data.base import FaceDataset
from fer_core.data.protocols import Split, fesr_frames, subject_kfold
from fer_core.methods.fesr import (ABLATIONS, FESGAN_VARIANTS, FESR, FESRConfig, R_ext_features, continue_from_pretraining,
                                   fesr_variant, recognition_accuracy, sample_new_identities, synthesize)
from fer_core.methods.fesr_nets import FESGANConfig, IdentityCNN, RConfig, label_code, train_identity_net
from fer_core.nets.lightcnn import LightCNN29v2, load_lightcnn29v2
from fer_core.profiles import Profile
from fer_core.results import ResultStore, cache_root, config_key
from fer_core.train import CHECKPOINT_NAME, GPUCachedDataset, fit

__all__ = ["FESRData", "FESRExperiments", "build_data", "PAPER_TABLE_III", "PAPER_TABLE_IV", "PAPER_TABLE_V",
           "PAPER_TABLE_VI", "PAPER_TABLE_VII", "PAPER_DATASET", "VERIFICATION_FAR", "TWO_STAGE", "CLAIMS",
           "show_source", "closing_notes", "fesgan_param_counts"]

#: Face-verification operating point for Table IV: the true-accept rate at this false-accept
#: rate. The paper does not state its threshold; 1% is the usual report.
VERIFICATION_FAR = 0.01
#: Environment variable: how many CPU processes :meth:`FESRExperiments.run_all` may use.
WORKERS_ENV = "FER_WORKERS"
#: Variants whose stage 1 is FG's pre-training (all but BASELINE and FESR_OneSt).
TWO_STAGE = ("FESR_SL", "FESR_JL-IL", "FESR_JL-RDBP", "FESR_Real", "FESR_JL")

# ---------------------------------------------------------------------------- the paper's numbers
# The "paper reports" column of the chapter. Copied from the paper's tables (cited per table);
# None where the paper prints "-". Never a result of this book.

#: Table III of FESR: PSNR (dB) and SSIM of synthesized vs ground-truth same-identity images.
PAPER_TABLE_III: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "CK+": {"ExprGAN": (19.654, 0.575), "G2-GAN": (24.420, 0.767), "FESGAN": (21.380, 0.698)},
    "Oulu-CASIA": {"ExprGAN": (19.982, 0.648), "G2-GAN": (26.588, 0.914), "FESGAN": (22.079, 0.754)},
    "MMI": {"ExprGAN": (21.012, 0.565), "G2-GAN": (None, None), "FESGAN": (24.676, 0.761)},
}
#: Table IV of FESR: face-verification rates (%) of real vs synthesized faces, FG vs FG-IP.
PAPER_TABLE_IV: dict[str, dict[str, float]] = {
    "CK+": {"FG-IP": 55.15, "FG": 93.33},
    "Oulu-CASIA": {"FG-IP": 55.62, "FG": 99.41},
    "MMI": {"FG-IP": 60.95, "FG": 99.41},
}
#: Table V of FESR: recognition rates (%) on CK+, Oulu-CASIA, MMI (10-fold, subject-independent).
PAPER_TABLE_V: dict[str, tuple[float | None, float | None, float | None]] = {
    "LBP-TOP": (88.99, 68.13, 59.51), "3D-CNN-DAP": (92.40, None, 63.40), "AUDN": (93.70, None, 75.85),
    "STM-ExpLet": (94.19, 74.59, 75.12), "IACNN": (95.37, None, 71.55), "DTAGN": (97.25, 81.46, 70.24),
    "ExprGAN+R": (None, 83.75, None), "DeRL": (97.30, 88.00, 73.23), "PHRNN-MSCNN": (98.50, 86.25, 81.18),
    "BASELINE": (95.63, 82.92, 79.88), "FESR_SL": (96.82, 84.17, 81.66), "FESR_JL-IL": (97.18, 85.21, 82.80),
    "FESR_JL": (99.34, 88.13, 84.81),
}
PAPER_TABLE_V_COLUMNS = ("CK+", "Oulu-CASIA", "MMI")
#: Table VI of FESR: recognition rates (%) on Multi-PIE per yaw (-30, -15, 0, 15, 30 degrees) and average.
PAPER_TABLE_VI: dict[str, tuple[float, float, float, float, float, float]] = {
    "kNN": (80.88, 81.74, 68.36, 75.03, 74.78, 76.15), "LDA": (92.52, 94.37, 77.21, 87.07, 87.47, 87.72),
    "LPP": (92.42, 94.56, 77.33, 87.06, 87.68, 87.81), "D-GPLVM": (91.65, 93.51, 78.70, 85.96, 86.04, 87.17),
    "GPLRF": (91.65, 93.77, 77.59, 85.66, 86.01, 86.93), "GMLDA": (90.47, 94.18, 76.60, 86.64, 85.72, 86.72),
    "GMLPP": (91.86, 94.13, 78.16, 87.22, 87.36, 87.74), "MvDA": (92.49, 94.22, 77.51, 87.10, 87.89, 87.84),
    "DS-GPLVM": (93.55, 96.96, 82.42, 89.97, 90.11, 90.60), "BASELINE": (89.75, 90.12, 83.01, 88.97, 88.10, 87.99),
    "FESR_JL": (92.28, 94.23, 86.94, 92.29, 94.71, 92.09),
}
PAPER_TABLE_VI_COLUMNS = ("-30°", "-15°", "0°", "15°", "30°", "average")
#: Table VII of FESR: recognition rates (%) on TFD (5 official folds).
PAPER_TABLE_VII: dict[str, float] = {
    "Gabor+PCA": 80.20, "Deep mPoT": 82.40, "CDA+CCA": 85.50, "disRBM": 85.40, "bootstrap-recon": 86.80,
    "VGG": 86.70, "FN2EN": 88.90, "BASELINE": 85.45, "FESR_JL": 90.12,
}
#: Which of the paper's datasets a run is compared with (the synthetic world is CK+-like).
PAPER_DATASET = {"synthetic": "CK+", "ckplus": "CK+", "ckplus48": "CK+", "oulu": "Oulu-CASIA", "mmi": "MMI",
                 "multipie": "Multi-PIE", "tfd": "TFD"}

#: The chapter's claims: (claim, metric key, higher is better). ``metric`` names a column of
#: :meth:`FESRExperiments.claim_values`.
CLAIMS: tuple[tuple[Claim, str], ...] = (
    (Claim("Two-stage learning beats one-stage learning", "Sec. IV-D-5, Fig. 8", "accuracy", "FESR_JL",
           "FESR_JL", "FESR_OneSt"), "accuracy"),
    (Claim("The intra-class loss improves recognition", "Sec. IV-D-2, Fig. 8, Table V", "accuracy", "FESR_JL",
           "FESR_JL", "FESR_JL-IL"), "accuracy"),
    (Claim("RDBP beats plain SGD on the intra-class loss", "Sec. IV-D-3, Fig. 8", "accuracy", "FESR_JL",
           "FESR_JL", "FESR_JL-RDBP"), "accuracy"),
    (Claim("Synthetic faces of new identities beat same-identity ones", "Sec. IV-D-4, Fig. 8", "accuracy",
           "FESR_JL-IL", "FESR_JL-IL", "FESR_Real"), "accuracy"),
    (Claim("Joint learning beats separate learning", "Sec. IV-D-1, Fig. 8, Table V", "accuracy", "FESR_JL",
           "FESR_JL", "FESR_SL"), "accuracy"),
    (Claim("FESR beats the baseline recogniser", "Sec. IV-D, Table V", "accuracy", "FESR_JL", "FESR_JL",
           "BASELINE"), "accuracy"),
    (Claim("The intra-class loss pulls synthetic features to the real ones", "Sec. IV-D-2, Fig. 9",
           "normalised feature gap", "FESR_JL", "FESR_JL", "FESR_JL-IL", higher_is_better=False), "gap"),
    (Claim("The identity-preserving loss keeps identities", "Sec. IV-C-4, Table IV", "verification rate", "FG",
           "FG", "FG-IP"), "verification"),
)


def show_source(fn: Callable) -> Any:
    """The source of ``fn`` as a syntax-highlighted IPython object (the chapter prints the code beside each equation)."""
    from IPython.display import Code

    return Code(inspect.getsource(fn), language="python")


# ---------------------------------------------------------------------------- data


@dataclass
class FESRData:
    """The chapter's data: the dataset, its subject-independent folds, and how to name it.

    Attributes:
        dataset: the full :class:`~fer_core.data.base.FaceDataset` (all frames the protocol uses).
        splits: one :class:`~fer_core.data.protocols.Split` per fold (FESR's frame rule applied:
            three apex frames of training subjects, the peak frame of test subjects).
        name: a description for tables (``"synthetic CK+-like world (...)"`` or the real dataset).
        key: ``"synthetic"`` or the registry name; ``spec``: what identifies the data in cache keys.
        build_args: the keyword arguments of :func:`build_data` besides the profile (so that the
            processes of a multi-GPU run can rebuild the same data).
    """

    dataset: FaceDataset
    splits: list[Split]
    name: str
    key: str
    spec: dict[str, Any]
    build_args: dict[str, Any] | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.dataset.classes)


def build_data(P: Profile | Mapping[str, Any], *, dataset: str = "synthetic", data_root: str | Path | None = None,
               seed: int = 0) -> FESRData:
    """The data of profile ``P``: the synthetic CK+-like world by default, a real dataset when given.

    Synthetic: ``ckplus_like(n_identities=P["n_identities"], n_frames=P["n_frames"])`` at
    ``P["size"]`` pixels, only the last three frames rendered (FESR trains on them and tests on
    the last). Real: ``DATASETS[dataset].build(data_root, size=..., grayscale=...)``; sequence
    datasets get FESR's frame rule, the others (Multi-PIE, TFD) use all their rows. A
    ``data_root`` with ``dataset="synthetic"`` is recognised by :func:`~fer_core.data.inspect.inspect_dataset`.
    Folds: ``subject_kfold(meta, P["folds"], seed=seed)``.
    """
    size, channels, k = int(P["size"]), int(P["channels"]), int(P["folds"])
    if dataset == "synthetic" and data_root is not None:
        from fer_core.data.inspect import inspect_dataset

        report = inspect_dataset(data_root, check_images=False)
        if report.name is None:
            raise ValueError(f"data_root={str(data_root)!r} holds no dataset this book reads: "
                             + "; ".join(report.problems + report.hints) + ". Pass dataset=<registry name> to see "
                             "what that adapter expects, or data_root=None for the synthetic world.")
        dataset = report.name
    if dataset == "synthetic":
        from fer_core.data.synthetic import ckplus_like

        n_frames = int(P["n_frames"])
        ds = ckplus_like(n_identities=int(P["n_identities"]), n_frames=n_frames, frames=range(n_frames - 3, n_frames),
                         size=size, channels=channels, seed=seed)
        name = (f"synthetic CK+-like world (seed {seed}, {P['n_identities']} identities, 7 classes, "
                f"{size}x{size}x{channels})")
        spec = {"dataset": "synthetic", "world": repr(ds.world), "n_identities": int(P["n_identities"]),
                "n_frames": n_frames}
    else:
        if data_root is None:
            raise ValueError(f"dataset={dataset!r} needs data_root, the folder you obtained it in; "
                             "or use dataset='synthetic'")
        from fer_core.data.registry import get_dataset_info

        info = get_dataset_info(dataset)
        ds = info.build(data_root, size=size, grayscale=channels == 1)
        name = f"{info.title} from {data_root} ({size}x{size}x{channels})"
        spec = {"dataset": dataset, "data_root": str(Path(data_root).resolve()), "rows": len(ds)}
    folds = subject_kfold(ds.meta, k, seed=seed)
    if {"sequence", "frame"} <= set(ds.meta.columns):
        selection = fesr_frames(ds.meta)
        folds = [f.restrict(selection) for f in folds]
    return FESRData(dataset=ds, splits=folds, name=name, key=dataset, spec=spec,
                    build_args={"dataset": dataset, "data_root": None if data_root is None else str(data_root),
                                "seed": int(seed)})


# ---------------------------------------------------------------------------- experiments


def _cpu(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if isinstance(x, Mapping):
        return {k: _cpu(v) for k, v in x.items()}
    return x


def _read_log(run_dir: Path) -> list[dict[str, float]]:
    import json

    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


class FESRExperiments:
    """Every experiment of the FESR chapter for one profile, data set and seed.

    Args:
        P: the ``fesr`` profile (see :mod:`fer_core.profiles`).
        data: from :func:`build_data`.
        seed: the chapter's seed (the profile's ``seeds`` are run seeds on top of it).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        lightcnn_weights: path of published LightCNN-29 v2 weights: used as ``F_id`` and as
            ``R``'s frozen front (loaded with ``weights_only=True``). ``None`` trains the
            stand-in :class:`~fer_core.methods.fesr_nets.IdentityCNN` on each fold's training
            identities.
        store: the results store (default ``ResultStore("fesr")``); ``run_root`` holds the
            training runs (default ``<cache>/runs/fesr``).
        progress: show progress bars while training.
        nproc: processes (GPUs) per training run, launched through ``torchrun`` by
            :func:`fer_core.distributed.run`; default ``$FER_NPROC`` (``fer book --nproc N``), else 1.
            The profile's ``batch_size`` stays the global batch (each process takes its share).
    """

    def __init__(self, P: Profile | Mapping[str, Any], data: FESRData, *, seed: int = 0, device: str = "auto",
                 lightcnn_weights: str | Path | None = None, store: ResultStore | None = None,
                 run_root: str | Path | None = None, progress: bool = True, nproc: int | None = None):
        self.P, self.data, self.seed, self.progress = dict(P), data, int(seed), progress
        self.nproc = distributed.nproc_from_env() if nproc is None else int(nproc)
        distributed.check_nproc(self.nproc)
        if self.nproc > 1:
            distributed.per_rank_batch_size(int(self.P["batch_size"]), self.nproc)  # fails early if it cannot split
        self.profile_name = getattr(P, "name", "custom")
        self.device = runtime.pick_device(device)
        self.lightcnn_weights = None if lightcnn_weights is None else Path(lightcnn_weights)
        self.store = store if store is not None else ResultStore("fesr")
        self.run_root = Path(run_root) if run_root is not None else cache_root() / "runs" / "fesr"
        self.K = len(data.classes)
        self._folds: dict[int, dict[str, GPUCachedDataset]] = {}
        self._id_nets: dict[int, nn.Module] = {}

    # -- configuration -------------------------------------------------------------------
    @cached_property
    def gan_config(self) -> FESGANConfig:
        P = self.P
        if int(P["size"]) == 128 and int(P["gan_width"]) == 64:
            return FESGANConfig(channels=int(P["channels"]), num_classes=self.K, latent_dim=int(P["latent_dim"]))
        return FESGANConfig.at(int(P["size"]), width=int(P["gan_width"]), channels=int(P["channels"]),
                               num_classes=self.K, latent_dim=int(P["latent_dim"]), d_z=tuple(P["d_z"]))

    @cached_property
    def r_config(self) -> RConfig:
        P = self.P
        return RConfig(image_size=int(P["size"]), channels=int(P["channels"]), num_classes=self.K,
                       convs=tuple(P["r_convs"]), fcs=tuple(P["r_fcs"]))

    @property
    def folds(self) -> list[int]:
        return list(range(len(self.data.splits)))

    @property
    def seeds(self) -> list[int]:
        return [self.seed + int(s) for s in self.P["seeds"]]

    def steps_of(self, variant: str) -> int:
        """Training iterations: FESGAN variants ``P_pre``; BASELINE the ``P_max - P_pre`` R updates of
        FESR; the others ``P_max`` (Algorithm 1)."""
        P_pre, P_max = int(self.P["P_pre"]), int(self.P["P_max"])
        if variant in FESGAN_VARIANTS:
            return P_pre
        return P_max - P_pre if variant == "BASELINE" else P_max

    def variant_config(self, variant: str):
        """The :class:`~fer_core.methods.fesr.FESRConfig` of ``variant`` under this profile.

        ``lambda_rec`` replaces the paper's lambda_2 = 10. With a few hundred pre-training
        iterations at 32 px, lambda_2 = 10 leaves the adversarial terms in charge: the
        generator draws an average face and ignores its input. The ``small`` profile weighs
        reconstruction 10 times more so that the input's person survives within its budget;
        the ``paper`` profile keeps 10.
        """
        P = self.P
        lambdas = FESRConfig.lambdas
        lambdas = (lambdas[0], float(P["lambda_rec"]), *lambdas[2:])
        return fesr_variant(variant, gan=self.gan_config, r=self.r_config, P_pre=int(P["P_pre"]), lr=float(P["lr"]),
                            lr_R=None if P["lr_R"] is None else float(P["lr_R"]), batch_size=int(P["batch_size"]),
                            lambdas=lambdas)

    def _config(self, kind: str, **extra: Any) -> dict[str, Any]:
        """The cache key of an experiment: training runs ignore the evaluation-only settings."""
        skip = _NOT_PER_RUN + (_EVALUATION_ONLY if kind != "result" else ())
        profile = {k: v for k, v in self.P.items() if k not in skip}
        if kind == "identity":  # F_id depends on the data and its own settings only
            profile = {k: v for k, v in profile.items() if k.startswith("id_") or k in _DATA_KEYS}
        base = {"chapter": "fesr", "kind": kind, "profile": profile,
                "data": self.data.spec, "data_seed": self.seed, "lightcnn_weights": str(self.lightcnn_weights)}
        return {**base, **extra}

    def run_dir(self, variant: str, fold: int, seed: int) -> Path:
        return self.run_root / config_key(self._config("run", variant=variant, fold=fold, seed=seed))

    # -- data and identity network ---------------------------------------------------------
    def fold(self, k: int) -> dict[str, GPUCachedDataset]:
        """``{"train", "test"}`` of fold ``k``, rendered/decoded once and kept on the device."""
        if k not in self._folds:
            parts = self.data.splits[k].datasets(self.data.dataset)
            self._folds[k] = {name: GPUCachedDataset(ds, self.device) for name, ds in parts.items()}
        return self._folds[k]

    def identity_net(self, k: int) -> nn.Module:
        """``F_id`` for fold ``k`` (also ``R``'s front): published LightCNN-29 v2 when weights
        were given, else the stand-in trained on the fold's training identities (checkpointed)."""
        if k not in self._id_nets:
            if self.lightcnn_weights is not None:
                net = load_lightcnn29v2(self.lightcnn_weights)
            else:
                P = self.P
                run = self.run_root / config_key(self._config("identity", fold=k))
                net = train_identity_net(self.fold(k)["train"], steps=int(P["id_steps"]), arch="cnn",
                                         batch_size=int(P["id_batch_size"]), widths=tuple(P["id_widths"]),
                                         feature_dim=int(P["id_feature_dim"]), seed=self.seed + k, run_dir=run,
                                         device=self.device, progress=self.progress)
            self._id_nets[k] = net.to(self.device).eval()
        return self._id_nets[k]

    # -- training ---------------------------------------------------------------------------
    def build(self, variant: str, fold: int, seed: int) -> FESR:
        """An untrained :class:`~fer_core.methods.fesr.FESR` of ``variant`` (global RNG seeded first)."""
        idnet = self.identity_net(fold)
        config = self.variant_config(variant)
        torch.manual_seed(seed)
        return FESR(config, F_id=idnet if config.synthesis and config.use_id else None,
                    R_stem=idnet if config.recognition else None)

    def train(self, variant: str, fold: int, seed: int) -> FESR:
        """``variant`` trained on fold ``fold`` under ``seed``; resumes or reloads its checkpoint.

        The two-stage variants start from FG's pre-training run (trained first if needed).
        With ``nproc > 1`` the training itself runs on that many processes through torchrun
        (:func:`_train_on_rank`); this process then loads the finished checkpoint.
        """
        method = self.build(variant, fold, seed)
        run_dir = self.run_dir(variant, fold, seed)
        if variant in TWO_STAGE and int(self.P["P_pre"]) > 0 and not (run_dir / CHECKPOINT_NAME).exists():
            fg_dir = self.run_dir("FG", fold, seed)
            if not _finished(fg_dir, self.steps_of("FG")):
                self.train("FG", fold, seed)
            continue_from_pretraining(method, fg_dir, run_dir)
        if self.nproc > 1 and not distributed.is_distributed() and not _finished(run_dir, self.steps_of(variant)):
            distributed.run(_train_on_rank, nproc=self.nproc, **self._rank_args(variant, fold, seed))
        self._fit(method, variant, fold, seed)
        method.nets.eval()
        return method

    def _fit(self, method: FESR, variant: str, fold: int, seed: int) -> None:
        """Train (or resume, or just reload) ``method`` with the shared loop; the global batch is the profile's."""
        world = distributed.world_size()
        torch.manual_seed(seed)
        fit(method, self.fold(fold)["train"], steps=self.steps_of(variant),
            batch_size=distributed.per_rank_batch_size(int(self.P["batch_size"]), world), run_dir=self.run_dir(variant, fold, seed),
            seed=seed, device=self.device, progress=self.progress and distributed.is_main(), log_every=10,
            desc=f"{variant} fold {fold} seed {seed}")

    def _rebuild_args(self) -> dict[str, Any]:
        """What another process needs to rebuild these experiments (plain values only)."""
        if self.data.build_args is None:
            raise ValueError("running in other processes needs data made by build_data (FESRData.build_args is None)")
        return {"P": self.P, "build_args": self.data.build_args, "seed": self.seed, "device": self.device.type,
                "lightcnn_weights": None if self.lightcnn_weights is None else str(self.lightcnn_weights),
                "run_root": str(self.run_root)}

    def _rank_args(self, variant: str, fold: int, seed: int) -> dict[str, Any]:
        """The arguments of :func:`_train_on_rank` for one training run."""
        return {**self._rebuild_args(), "variant": variant, "fold": fold, "run_seed": seed}

    # -- evaluation (cached) ----------------------------------------------------------------
    def result(self, variant: str, fold: int, seed: int) -> dict[str, Any]:
        """The evaluated experiment (see :meth:`_evaluate`), from the store when it was run before."""
        return self.store.cached(self._config("result", variant=variant, fold=fold, seed=seed),
                                 lambda: self._evaluate(variant, fold, seed))

    def _evaluate(self, variant: str, fold: int, seed: int) -> dict[str, Any]:
        method = self.train(variant, fold, seed)
        test = self.fold(fold)["test"]
        out: dict[str, Any] = {"log": _read_log(self.run_dir(variant, fold, seed)),
                               "identity_source": self.identity_net(fold).source}
        gen = torch.Generator().manual_seed(1000 * fold + seed)
        if "R" in method.nets:
            acc = recognition_accuracy(method.nets["R"], test)
            out.update(accuracy=acc["accuracy"], y_true=torch.from_numpy(acc["y_true"]),
                       y_pred=torch.from_numpy(acc["y_pred"]), stem_source=method.nets["R"].stem_source)
        if "G" in method.nets:
            out.update(self._synthesis_metrics(method.nets["G"], fold, gen))
        if "G" in method.nets and "R" in method.nets:
            out.update(self._feature_gap(method, fold, gen))
        return _cpu(out)

    def _synthesis_metrics(self, G: nn.Module, fold: int, gen: torch.Generator) -> dict[str, Any]:
        """PSNR/SSIM against same-identity ground truth (Table III), verification (Table IV) and the figures' images."""
        test = self.fold(fold)["test"]
        x, meta = test.data["image"], test.meta.reset_index(drop=True)
        pairs = _ground_truth_pairs(meta)
        fake = torch.empty(len(pairs), *x.shape[1:])
        for idx, y in _chunks(pairs[:, 1]):
            fake[idx] = synthesize(G, x[pairs[idx, 0]], y, intensity=1.0)
        truth, inputs = x[pairs[:, 2]].cpu(), x[pairs[:, 0]].cpu()
        out = {"psnr": metrics.psnr(fake, truth), "ssim": metrics.ssim(fake, truth),
               "copy_psnr": metrics.psnr(inputs, truth), "copy_ssim": metrics.ssim(inputs, truth),
               "n_pairs": len(pairs), "verification": self._verification(G, fold, gen)}
        show = _show_rows(meta, int(self.P["n_show"]))
        grid = [synthesize(G, x[show], y, intensity=1.0) for y in range(self.K)]
        out["grid"] = torch.stack([x[show].cpu(), *grid], dim=1)
        levels = torch.linspace(0, 1, int(self.P["intensity_levels"]))
        out["intensity_levels"] = levels
        out["intensity"] = torch.stack([torch.cat([synthesize(G, x[show[:1]], y, intensity=float(v)) for y in range(self.K)])
                                        for v in levels])
        out["prior"] = sample_new_identities(G.G_dec, int(self.P["n_new"]), range(self.K), generator=gen)
        out["real"] = x[show].cpu()
        return out

    def _verification(self, G: nn.Module, fold: int, gen: torch.Generator) -> float:
        """True-accept rate at ``VERIFICATION_FAR`` of (real, synthesized) pairs by ``F_id`` cosine similarity."""
        test = self.fold(fold)["test"]
        x, subjects = test.data["image"], test.meta["subject"].astype(str).to_numpy()
        n = min(len(x), int(self.P["verify_images"]))
        rows = torch.randperm(len(x), generator=gen)[:n].numpy()
        others = np.array([_other_subject_row(subjects, i, gen) for i in rows])
        F_id = self.identity_net(fold)
        with torch.no_grad():
            anchor = F_id(x[rows])
            emb_a, emb_b, same = [], [], []
            for y in range(self.K):
                for src, genuine in ((rows, True), (others, False)):
                    emb_a.append(anchor)
                    emb_b.append(F_id(synthesize(G, x[src], y, intensity=1.0).to(self.device)))
                    same.append(torch.full((n,), genuine))
        return metrics.verification_rate(torch.cat(emb_a).cpu(), torch.cat(emb_b).cpu(), torch.cat(same),
                                         far=VERIFICATION_FAR)

    def _feature_gap(self, method: FESR, fold: int, gen: torch.Generator) -> dict[str, Any]:
        """R_ext features of real test faces and of ``x^{p,f} = G_dec([z, u(y)])`` with the same labels (Fig. 9)."""
        test = self.fold(fold)["test"]
        x, y = test.data["image"], test.data["expression"]
        G, net_R = method.nets["G"], method.nets["R"]
        z = (torch.rand(len(y), self.gan_config.latent_dim, generator=gen) * 2 - 1).to(self.device)
        u = label_code(y.cpu(), self.K, generator=gen).to(self.device)
        with torch.no_grad():
            fake = G.G_dec(z, u)
        real_f, fake_f = R_ext_features(net_R, x), R_ext_features(net_R, fake)
        gap = metrics.feature_gap(real_f, y.cpu(), fake_f, y.cpu())
        return {"gap": gap.as_dict(), "features_real": real_f, "features_fake": fake_f, "labels": y.cpu()}

    # -- the chapter's tables ---------------------------------------------------------------
    def plan(self) -> list[tuple[str, int, int]]:
        """Every (variant, fold, seed) the chapter runs, in the order :meth:`run_all` runs them."""
        runs = []
        for k in self.folds:
            for s in self.seeds:
                runs += [(v, k, s) for v in ("FG", "FG-IP", *ABLATIONS)]
                if k < int(self.P["fesgan_folds"]):
                    runs += [(v, k, s) for v in FESGAN_VARIANTS if v not in ("FG", "FG-IP")]
        return runs

    def run_all(self, workers: int | None = None) -> dict[tuple[str, int, int], dict[str, Any]]:
        """Run (or load) every experiment of :meth:`plan`.

        On a CPU the experiments that are not cached yet run in ``workers`` processes at once
        (default ``$FER_WORKERS``, else one per CPU core), one single-threaded chain of
        experiments per process (see :meth:`chains`); each writes its results to the store, and
        this process then loads them. The results are the same as in one process: every
        experiment has its own seeds. On a GPU, or with ``nproc > 1``, everything runs here.
        """
        plan = self.plan()
        todo = [key for key in plan
                if not self.store.path(self._config("result", variant=key[0], fold=key[1], seed=key[2])).exists()]
        chains = self.chains(todo)
        workers = self._workers(workers, len(chains))
        if workers > 1:
            self._run_in_workers(chains, workers)
        out = {key: self.result(*key) for key in plan}
        if workers > 1:  # computed by the workers and only loaded here: count them as computed
            self.store.hits -= len(todo)
            self.store.misses += len(todo)
        return out

    def chains(self, keys: Sequence[tuple[str, int, int]]) -> list[list[tuple[str, int, int]]]:
        """``keys`` cut into chains that can run in parallel, longest first.

        Per fold and seed: FG's pre-training with the two-stage variants that continue from it;
        FG-IP, BASELINE and FESR_OneSt (independent of FG); the figure-only FESGAN variants.
        The identity network, which all of them share, is trained before the chains start.
        """
        groups: dict[tuple[int, int, str], list[tuple[str, int, int]]] = {}
        for v, k, s in keys:
            kind = "A" if v == "FG" or v in TWO_STAGE else ("B" if v in ("FG-IP", *ABLATIONS) else "C")
            groups.setdefault((k, s, kind), []).append((v, k, s))
        return sorted(groups.values(), key=lambda chain: -sum(self._cost(v) for v, _, _ in chain))

    def _cost(self, variant: str) -> float:
        """Rough relative run time of one experiment (a joint step costs about 2.5 pre-training steps)."""
        P_pre, steps = int(self.P["P_pre"]), self.steps_of(variant)
        if variant in TWO_STAGE:
            return 2.5 * (steps - P_pre)
        if variant in ABLATIONS and variant != "BASELINE":
            return 2.5 * steps
        return float(steps)

    def _workers(self, workers: int | None, n_chains: int) -> int:
        if workers is None:
            raw = os.environ.get(WORKERS_ENV, "").strip()
            try:
                workers = int(raw) if raw else (os.cpu_count() or 1)
            except ValueError:
                raise ValueError(f"{WORKERS_ENV}={raw!r} is not a process count; set it to a positive integer "
                                 "or unset it") from None
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if self.device.type != "cpu" or self.nproc > 1 or distributed.is_distributed():
            return 1
        return min(workers, n_chains)

    def _run_in_workers(self, chains: list[list[tuple[str, int, int]]], workers: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        for k in sorted({k for chain in chains for _, k, _ in chain}):
            self.identity_net(k)  # shared by every chain of the fold: train it once, here
        args = {**self._rebuild_args(), "store_root": str(self.store.dir), "store_chapter": self.store.chapter}
        n = sum(len(c) for c in chains)
        print(f"running {n} experiments in {workers} CPU processes at once (one thread each); "
              "each line below is a finished chain")
        done = 0
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_run_chain, args, chain): chain for chain in chains}
            for future in as_completed(futures):
                chain = future.result()  # re-raises a worker's error here
                done += len(chain)
                print(f"  [{done}/{n}] fold {chain[0][1]} seed {chain[0][2]}: {', '.join(v for v, _, _ in chain)}",
                      flush=True)

    def accuracy_table(self) -> pd.DataFrame:
        """One row per recognition variant, fold and seed: ``variant, fold, seed, accuracy``."""
        rows = [{"variant": v, "fold": k, "seed": s, "accuracy": self.result(v, k, s)["accuracy"]}
                for v, k, s in self.plan() if v in ABLATIONS]
        return pd.DataFrame(rows)

    def accuracy_summary(self) -> pd.DataFrame:
        """Accuracy (%) per variant as ``mean ± std`` over folds and seeds, in the paper's order."""
        df = self.accuracy_table()
        order = [v for v in ABLATIONS if v in set(df.variant)]
        rows = [{"variant": v, "accuracy (%)": metrics.mean_std(df[df.variant == v].accuracy.tolist(), scale=100),
                 "n": int((df.variant == v).sum())} for v in order]
        return pd.DataFrame(rows).set_index("variant")

    def synthesis_table(self) -> pd.DataFrame:
        """Table III/IV analog: PSNR, SSIM, verification rate per FESGAN variant (and FESR_JL's
        generator after joint training), mean ± std over the folds/seeds it ran on."""
        rows = []
        for v in (*FESGAN_VARIANTS, "FESR_JL"):
            res = [self.result(*key) for key in self.plan() if key[0] == v]
            if not res:
                continue
            col = lambda name, scale=1.0: metrics.mean_std([r[name] for r in res], digits=3, scale=scale)  # noqa: E731
            rows.append({"generator": v, "PSNR (dB)": col("psnr"), "SSIM": col("ssim"),
                         f"verification rate (%) at FAR {VERIFICATION_FAR:.0%}": col("verification", 100),
                         "input-copy PSNR": col("copy_psnr"), "input-copy SSIM": col("copy_ssim"), "n": len(res)})
        return pd.DataFrame(rows).set_index("generator")

    def gap_table(self) -> pd.DataFrame:
        """The real-synthetic feature gap per fold/seed for every variant that has G and R."""
        rows = []
        for v, k, s in self.plan():
            r = self.result(v, k, s)
            if "gap" in r:
                rows.append({"variant": v, "fold": k, "seed": s, **r["gap"]})
        return pd.DataFrame(rows)

    def claim_values(self) -> pd.DataFrame:
        """Per variant, fold and seed: accuracy, normalised feature gap, verification rate (NaN where not measured)."""
        rows = []
        for v, k, s in self.plan():
            r = self.result(v, k, s)
            rows.append({"variant": v, "fold": k, "seed": s, "accuracy": r.get("accuracy", math.nan),
                         "gap": r["gap"]["normalized"] if "gap" in r else math.nan,
                         "verification": r.get("verification", math.nan)})
        return pd.DataFrame(rows)

    def ledger(self) -> tuple[Ledger, pd.DataFrame]:
        """The claims ledger (paired over fold and seed) and the per-fold values behind it."""
        values = self.claim_values()
        ledger, per_fold = Ledger(), []
        for claim, col in CLAIMS:
            a = values[values.variant == claim.variant_a].set_index(["fold", "seed"])[col]
            b = values[values.variant == claim.variant_b].set_index(["fold", "seed"])[col]
            both = a.index.intersection(b.index)
            ledger.add(claim, a[both].to_numpy(), b[both].to_numpy())
            per_fold += [{"claim": claim.text, "fold": k, "seed": s, claim.variant_a: a[(k, s)],
                          claim.variant_b: b[(k, s)]} for k, s in both]
        return ledger, pd.DataFrame(per_fold)

    def confusion(self, variant: str) -> torch.Tensor:
        """``(K, K)`` confusion counts of ``variant`` summed over folds and seeds (rows: true class)."""
        res = [self.result(*key) for key in self.plan() if key[0] == variant]
        return sum(metrics.confusion_matrix(r["y_pred"], r["y_true"], self.K) for r in res)

    def embedding(self, variant: str, *, fold: int = 0) -> dict[str, torch.Tensor]:
        """Real and synthetic R_ext features of ``variant`` on ``fold`` (first seed), stacked for
        t-SNE/UMAP: ``features (N, D)``, ``labels (N,)``, ``synthetic (N,)`` (0 real, 1 synthetic)."""
        r = self.result(variant, fold, self.seeds[0])
        feats = torch.cat([r["features_real"], r["features_fake"]])
        n = len(r["features_real"])
        return {"features": feats, "labels": torch.cat([r["labels"], r["labels"]]),
                "synthetic": torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])}

    def paper_comparison(self) -> pd.DataFrame:
        """"Paper reports / this run": Tables III, IV and V rows for the paper dataset this data stands in for."""
        paper_ds = PAPER_DATASET.get(self.data.key, "CK+")
        ours = f"this run ({self.data.key}, profile {self.profile_name})"
        acc = self.accuracy_table()
        syn = {v: [self.result(*key) for key in self.plan() if key[0] == v] for v in ("FG", "FG-IP")}
        rows = []
        if paper_ds in PAPER_TABLE_V_COLUMNS:
            j = PAPER_TABLE_V_COLUMNS.index(paper_ds)
            for v in ABLATIONS:
                paper = PAPER_TABLE_V.get(v, (None,) * 3)[j]
                rows.append({"table": "V (accuracy, %)" if v in PAPER_TABLE_V else "Fig. 8 (accuracy, %)",
                             "row": v, f"paper ({paper_ds})": "only plotted" if paper is None else f"{paper:.2f}",
                             ours: metrics.mean_std(acc[acc.variant == v].accuracy.tolist(), scale=100)})
            psnr, ssim = PAPER_TABLE_III[paper_ds]["FESGAN"]
            rows.append({"table": "III (PSNR, dB)", "row": "FESGAN (our FG)", f"paper ({paper_ds})": f"{psnr:.3f}",
                         ours: metrics.mean_std([r["psnr"] for r in syn["FG"]], digits=3)})
            rows.append({"table": "III (SSIM)", "row": "FESGAN (our FG)", f"paper ({paper_ds})": f"{ssim:.3f}",
                         ours: metrics.mean_std([r["ssim"] for r in syn["FG"]], digits=3)})
            for v in ("FG", "FG-IP"):
                rows.append({"table": "IV (verification, %)", "row": v,
                             f"paper ({paper_ds})": f"{PAPER_TABLE_IV[paper_ds][v]:.2f}",
                             ours: metrics.mean_std([r["verification"] for r in syn[v]], scale=100)})
        else:
            paper = PAPER_TABLE_VI if paper_ds == "Multi-PIE" else {k: (v,) for k, v in PAPER_TABLE_VII.items()}
            for v in ("BASELINE", "FESR_JL"):
                rows.append({"table": "VI (average, %)" if paper_ds == "Multi-PIE" else "VII (accuracy, %)", "row": v,
                             f"paper ({paper_ds})": f"{paper[v][-1]:.2f}",
                             ours: metrics.mean_std(acc[acc.variant == v].accuracy.tolist(), scale=100)})
        return pd.DataFrame(rows)

    def deviations(self) -> pd.DataFrame:
        """What this run does differently from the paper, read from the profile and the built objects."""
        P, gan, r = self.P, self.gan_config, self.r_config
        idnet = self.identity_net(0)
        stem = self.build("FESR_JL", 0, self.seeds[0]).nets["R"].stem_source
        n_params = lambda cfg: _fesgan_params(cfg)  # noqa: E731
        rows = [
            ("data", "CK+, Oulu-CASIA, MMI, Multi-PIE, TFD (real faces)", self.data.name),
            ("resolution", "128 x 128", f"{P['size']} x {P['size']} (Table I rescaled: {len(gan.G_enc)} encoder convs)"),
            ("FESGAN widths / parameters", f"Table I / {n_params(FESGANConfig()):,}",
             f"G_enc {gan.G_enc}, G_dec {gan.G_dec}, D_img {gan.D_img} / {n_params(gan):,}"),
            ("R widths", "Conv(256), Conv(512), FC(2048), FC(512)", f"Conv{r.convs}, FC{r.fcs}"),
            ("identity extractor F_id (Eq. 12, Table IV)", "LightCNN-29 pre-trained on CASIA-WebFace + MS-Celeb-1M",
             idnet.source),
            ("R's front (Table II)", "Conv1-Pool3 of LightCNN-29, pre-trained", stem),
            ("iterations P_pre / P_max", "not stated", f"{P['P_pre']} / {P['P_max']}"),
            ("batch size", "16", str(P["batch_size"])),
            ("Adam lr (G, D_img, D_z / R), betas", "1e-4 / 1e-4, (0.5, 0.999)",
             f"{P['lr']:g} / {P['lr'] if P['lr_R'] is None else P['lr_R']:g}, (0.5, 0.999)"),
            ("folds x seeds", "10-fold subject-independent (CK+, Oulu, MMI), one run",
             f"{len(self.folds)}-fold subject-independent x {len(self.seeds)} seed(s)"),
            ("FESGAN ablations (Fig. 4)", "all variants, one data set",
             f"FG, FG-IP on every fold; FG-CO, FG-Dimg, FG-Dimg_cls, FG-Dz on {P['fesgan_folds']} fold(s); "
             f"{self.steps_of('FG')} steps (= P_pre)"),
            ("triplet {x, x^{p,r}, x^{p,f}}", "another real image of the class", "a same-class partner from the batch"),
            ("FESR_Real", "all K expressions per input", "one random expression per input"),
            ("verification threshold (Table IV)", "not stated", f"true-accept rate at {VERIFICATION_FAR:.0%} false accepts"),
            ("PSNR/SSIM target intensity (Table III)", "not stated", "u(y') with v = 1 (strongest)"),
            ("WGAN-GP weight, D_img^adv reduction", "not stated", "10 (the WGAN-GP default); mean of the 4x4 critic map"),
            ("R's Dropout(0.5)", "end of R_ext", "start of R_cls (features for L_intra and Fig. 9 are not masked)"),
            ("lambda_2 (weight of L_rec)", "10", f"{float(P['lambda_rec']):g}"
             + (" (the paper's 10 leaves the generator ignoring its input at this budget)"
                if float(P["lambda_rec"]) != 10.0 else "")),
            ("L_rec, L_id (Eqs. 10, 12)", "E||.||_1 (sum or mean not stated)",
             "mean absolute error per pixel / feature (a sum drowns the expression terms)"),
        ]
        return pd.DataFrame(rows, columns=["aspect", "paper", "this run"]).set_index("aspect")


def _finished(run_dir: Path, steps: int) -> bool:
    """Whether ``run_dir`` holds a checkpoint of a run that reached ``steps``."""
    from fer_core.io import load_checkpoint

    path = run_dir / CHECKPOINT_NAME
    return path.exists() and int(load_checkpoint(path).get("step", -1)) >= steps


def _run_chain(args: dict[str, Any], chain: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Run the experiments of ``chain`` in order in a worker process (see :meth:`FESRExperiments.run_all`)."""
    torch.set_num_threads(1)
    data = build_data(args["P"], **args["build_args"])
    store = ResultStore(args["store_chapter"], root=args["store_root"])
    exp = FESRExperiments(args["P"], data, seed=args["seed"], device=args["device"],
                          lightcnn_weights=args["lightcnn_weights"], store=store, run_root=args["run_root"],
                          progress=False, nproc=1)
    for key in chain:
        try:
            exp.result(*key)
        except Exception as e:
            e.add_note(f"while running {key[0]} on fold {key[1]} (seed {key[2]}) in a worker process; its run "
                       f"folder is {exp.run_dir(*key)}")
            raise
    return chain


def _train_on_rank(*, P: dict[str, Any], build_args: dict[str, Any], seed: int, device: str,
                   lightcnn_weights: str | None, run_root: str, variant: str, fold: int, run_seed: int) -> None:
    """One process of a multi-process training run (started by :func:`fer_core.distributed.run`).

    Every rank rebuilds the same data and experiment and calls the shared loop, which shards
    each global batch over the ranks and averages the gradients; rank 0 writes the checkpoint.
    """
    if device == "cuda":
        torch.cuda.set_device(distributed.local_rank())  # before any tensor is put on "cuda"
    data = build_data(P, **build_args)
    exp = FESRExperiments(P, data, seed=seed, device=device, lightcnn_weights=lightcnn_weights, run_root=run_root,
                          progress=True, nproc=1)
    exp._fit(exp.build(variant, fold, run_seed), variant, fold, run_seed)


#: Profile settings that do not change one experiment (they choose which experiments run or how they are shown).
_NOT_PER_RUN = ("seeds", "fesgan_folds", "umap")
#: Settings that decide the data and folds.
_DATA_KEYS = ("size", "channels", "n_identities", "n_frames", "folds")
#: Settings that change what is evaluated and stored, not how a network is trained.
_EVALUATION_ONLY = ("n_show", "n_new", "intensity_levels", "verify_images")


def fesgan_param_counts(cfg: FESGANConfig) -> dict[str, int]:
    """Parameters of ``G_enc``, ``G_dec``, ``D_img`` and ``D_z`` built for ``cfg`` (no forward pass)."""
    from fer_core.methods.fesr_nets import D_img, D_z, G_dec, G_enc

    nets = {"G_enc": G_enc(cfg), "G_dec": G_dec(cfg), "D_img": D_img(cfg), "D_z": D_z(cfg)}
    return {name: sum(p.numel() for p in net.parameters()) for name, net in nets.items()}


def _fesgan_params(cfg: FESGANConfig) -> int:
    return sum(fesgan_param_counts(cfg).values())


def _ground_truth_pairs(meta: pd.DataFrame) -> np.ndarray:
    """``(P, 3)`` rows ``(input row, target expression, ground-truth row)``: every test face with every
    other expression its subject shows in the test set (same identity, same target class)."""
    lookup = {(s, e): i for i, (s, e) in enumerate(zip(meta["subject"].astype(str), meta["expression"]))}
    pairs = [(i, e2, lookup[(s, e2)]) for i, (s, e) in enumerate(zip(meta["subject"].astype(str), meta["expression"]))
             for e2 in sorted({e for (s2, e) in lookup if s2 == s}) if e2 != e]
    if not pairs:
        raise ValueError("no test subject shows two expressions, so there is no same-identity ground truth for "
                         "Table III; use a dataset with several expressions per subject")
    return np.asarray(pairs, dtype=np.int64)


def _chunks(targets: np.ndarray, size: int = 256):
    """``(positions, target)``: positions in ``targets`` sharing one target, at most ``size`` at a time."""
    for t in np.unique(targets):
        idx = np.flatnonzero(targets == t)
        for lo in range(0, len(idx), size):
            yield idx[lo:lo + size], int(t)


def _show_rows(meta: pd.DataFrame, n: int) -> np.ndarray:
    """``n`` test rows of different subjects, cycling through the expressions (the figures' inputs)."""
    subjects = sorted(meta["subject"].astype(str).unique())[:n]
    rows = []
    for j, s in enumerate(subjects):
        mine = meta.index[meta["subject"].astype(str) == s].to_numpy()
        rows.append(int(mine[j % len(mine)]))
    return np.asarray(rows, dtype=np.int64)


def _other_subject_row(subjects: np.ndarray, i: int, gen: torch.Generator) -> int:
    candidates = np.flatnonzero(subjects != subjects[i])
    return int(candidates[torch.randint(len(candidates), (1,), generator=gen).item()])


def _why(r) -> str:
    """One sentence on why a verdict came out as it did, from the result's own numbers."""
    if math.isnan(r.ci_low):
        return "fewer than two paired values, so no interval can be formed."
    d = np.asarray(r.values_a) - np.asarray(r.values_b)
    favour = int((r.claim.sign * d > 0).sum())
    way = f"it goes the claimed way on {favour} of {r.n} paired folds/seeds"
    if r.verdict == "holds":
        return f"{way} and the whole interval lies above zero."
    if r.verdict == "does not hold":
        return f"{way} and the whole interval lies below zero."
    half = (r.ci_high - r.ci_low) / 2
    if half == 0 and r.effect == 0:
        return "both variants score exactly the same on every fold."
    return f"{way}; the effect ({r.effect:+.3f}) is smaller than its uncertainty (±{half:.3f})."


def _r_updates(exp: "FESRExperiments", variant: str) -> int | None:
    """How many times ``variant`` updates R (None when it has no R)."""
    if variant not in ABLATIONS:
        return None
    return exp.steps_of(variant) - (int(exp.P["P_pre"]) if variant in TWO_STAGE else 0)


def closing_notes(exp: FESRExperiments, ledger: Ledger) -> str:
    """The chapter's closing section as Markdown, every statement computed from ``exp``'s results."""
    acc = exp.accuracy_table()
    means = acc.groupby("variant")["accuracy"].mean()
    chance, base, best = 1 / exp.K, means.get("BASELINE", math.nan), means.idxmax()
    paper_ds = PAPER_DATASET.get(exp.data.key, "CK+")
    lines = [f"**Data and budget.** {exp.data.name}, profile `{exp.profile_name}`, {len(exp.folds)} folds x "
             f"{len(exp.seeds)} seed(s), {exp.P['P_pre']} + {int(exp.P['P_max']) - int(exp.P['P_pre'])} iterations."]
    level = (f"- **How well R recognises here.** BASELINE reaches {base:.1%} on unseen subjects (chance {chance:.1%}); "
             f"the best variant is {best} with {means[best]:.1%}.")
    if paper_ds in PAPER_TABLE_V_COLUMNS:
        j = PAPER_TABLE_V_COLUMNS.index(paper_ds)
        level += (f" The paper reports {PAPER_TABLE_V['BASELINE'][j]:.2f}% and {PAPER_TABLE_V['FESR_JL'][j]:.2f}% "
                  f"on {paper_ds} (Table V).")
    spread = acc.groupby("variant")["accuracy"].std(ddof=1).mean()
    if base - chance < 0.15:
        level += (f" R is close to chance at this budget, so the variants' differences are small next to the "
                  f"fold-to-fold spread (mean std {spread:.1%}); our world's expressions are subtle at "
                  f"{exp.P['size']} px and R's front is a stand-in, not a network pre-trained on faces.")
    lines.append(level)
    final = [r["log"][-1].get("L_cls_R_real", math.nan) for v, k, s in exp.plan() if v == "FESR_JL"
             for r in [exp.result(v, k, s)] if r["log"]]
    if final:
        loss = float(np.nanmean(final))
        lines.append(f"- **Is R still learning?** FESR_JL's loss on real faces ends at {loss:.2f} on average, "
                     f"against ln K = {math.log(exp.K):.2f} for a uniform guess"
                     + (": R has barely started to fit the training faces, so every recognition comparison below "
                        "compares recognisers early in training." if loss > 0.8 * math.log(exp.K) else "."))
    status = {"holds": "matched", "does not hold": "contradicted", "inconclusive": "not resolved"}
    for r in ledger.results:
        c = r.claim
        line = (f"- **{c.text}** ({c.source}): {status[r.verdict]} here. {c.variant_a} {r.mean_a:.3f} vs "
                f"{c.variant_b} {r.mean_b:.3f} ({c.metric}); {_why(r)}")
        na, nb = _r_updates(exp, c.variant_a), _r_updates(exp, c.variant_b)
        if na is not None and nb is not None and na != nb:
            line += (f" Note that {c.variant_a} updates R {na} times and {c.variant_b} {nb} times (Algorithm 1 with "
                     f"P_pre = {exp.P['P_pre']}, P_max = {exp.P['P_max']}); while R is still learning, the extra "
                     "updates weigh on this comparison.")
        lines.append(line)
    fg = [exp.result(*key) for key in exp.plan() if key[0] == "FG"]
    psnr, copy_psnr = float(np.mean([r["psnr"] for r in fg])), float(np.mean([r["copy_psnr"] for r in fg]))
    lines.append(f"- **Synthesis quality (Table III).** FG's faces score {psnr:.2f} dB PSNR against the same person's "
                 f"real face in the target expression, the unchanged input {copy_psnr:.2f} dB. "
                 + ("The generator moves the face towards the target." if psnr > copy_psnr else
                    "The generator does not beat copying its input: it loses more person-specific detail than it "
                    "gains by changing the expression, a bottleneck the paper also names (no skip connections, "
                    "Sec. IV-C-1), made worse here by the short training."))
    w = [r["log"][-1].get("W_dist", math.nan) for r in fg if r["log"]]
    if w:
        negative = sum(v < 0 for v in w)
        lines.append(f"- **Critic.** The Wasserstein estimate at the end of pre-training is negative on {negative} of "
                     f"{len(w)} FG runs (values {', '.join(f'{v:.2f}' for v in w)}); "
                     + ("a negative estimate means the critic rates fakes above real faces, i.e. it is not yet "
                        "separating them." if negative else "the critic still separates real from synthetic faces."))
    src = exp.identity_net(0).source
    lines.append(f"- **Identity network.** {src}. It defines L_id and judges verification (Table IV), so FG is "
                 "trained to please the network that scores it; the paper does the same with LightCNN-29.")
    return "\n\n".join(lines)
