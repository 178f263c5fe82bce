"""The JESRL chapter's plan: data, the judge, every variant of Table VII per fold and seed, and the tables.

Paper: "Joint Expression Synthesis and Representation Learning for Facial Expression
Recognition" (JESRL; Sec. IV, Tables II-VII, Figs. 5-12). The method is
:mod:`fer_core.methods.jesrl.method`, its scoring :mod:`fer_core.methods.jesrl.evaluation`.

Per fold: the judge (trained on the fold's real training faces only). Per fold and seed:

- ``CNN``: the book's plain CNN on the real faces, with ``C``'s budget (the recogniser check);
- ``No_SynFI``: ``C`` (VGG-19 alone) on the real faces: the paper's plain VGG-19 and, without ImageNet
  weights, the source of the perceptual network ``F`` of Eq. (11) for every GAN of the same fold and seed;
- ``Ours``, ``No_InterL``, ``No_ExpR``, ``Official`` (and ``No_InterL_ExpR`` on ``light_seeds``): GAN and
  ``C`` trained together for ``steps`` iterations (``Official``: ``2 x steps`` iterations taking turns,
  so that its GAN and its ``C`` are updated as often as ``Ours``'s);
- ``TwoStage``: ``C`` trained for ``steps`` iterations after the GAN of ``No_ExpR`` (which is a GAN
  trained alone: its ``C`` never reaches it), reading its frozen ``G_enc``;
- ``Syn<k>N`` (Fig. 12, on ``light_seeds``): ``C`` (VGG-19 alone) on the real faces plus ``k x N`` faces
  made by ``Ours``'s generator; ``0N`` is ``No_SynFI``.
"""

from __future__ import annotations

import copy
import math
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from fer_core import evaluate, metrics
from fer_core.claims import Ledger
from fer_core.data.memory import MemoryCachedDataset
from fer_core.data.protocols import jesrl_frames
from fer_core.experiments import ChapterData, Experiment, Plan, Study, prepare_data, tables
from fer_core.judge import JudgeMixin
from fer_core.methods.classifier import train_plain_cnn
from fer_core.methods.jesrl import evaluation as ev
from fer_core.methods.jesrl.method import JESRL, JESRLConfig, interpolation_frames, jesrl_variant, transfer
from fer_core.methods.jesrl.nets import ClassifierConfig, PerceptualNet, SwitchGANConfig, VGG19Trunk
from fer_core.methods.jesrl.paper import CLAIMS, PSEUDO_VARIANTS
from fer_core.train import Method

__all__ = ["JESRLStudy", "GAN_VARIANTS", "RECOGNISERS", "TABLE_VII"]

#: Variants that train a GAN (and are scored by the judge).
GAN_VARIANTS = ("Ours", "No_InterL", "No_ExpR", "No_InterL_ExpR", "Official")
#: Every recognition variant, in Table VII's order (plus the plain CNN and the authors' code).
TABLE_VII = ("No_InterL", "No_ExpR", "No_InterL_ExpR", "No_SynFI", "TwoStage", "Official", "Ours")
RECOGNISERS = ("CNN", *TABLE_VII)


def _synthetic(P: Mapping[str, Any], seed: int):
    from fer_core.data.synthetic import multipie_like

    ds = multipie_like(n_identities=int(P["n_identities"]), size=int(P["size"]), channels=int(P["channels"]), seed=seed)
    return ds, f"synthetic Multi-PIE-like world ({P['n_identities']} identities, 6 classes, 5 yaws)"


def _splits(dataset: str, P: Mapping[str, Any]):
    if dataset == "rafdb":
        return lambda ds, seed: [ds.official_split()]
    return None


class _Faces(Dataset):
    """Stacked faces as a dataset of dict items (what :class:`MemoryCachedDataset` collates once)."""

    def __init__(self, image: torch.Tensor, expression: torch.Tensor):
        self.image, self.expression = image, expression

    def __len__(self) -> int:
        return len(self.image)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.image[i], "expression": self.expression[i]}


class JESRLStudy(JudgeMixin, Study):
    """Every experiment of the JESRL chapter for one profile, data set and seed.

    Options: ``backbone_weights``, a torchvision VGG-19 ImageNet checkpoint (for ``C``'s trunk, which then
    needs ``vgg_width = 64``, and for the perceptual network ``F``); ``inception_weights``, Inception-v3
    weights for the paper's FID beside the offline one.
    """

    chapter = "jesrl"
    plan_settings = ("seeds", "light_seeds", "curve", "no_interl_expr", "umap")
    evaluation_settings = ("n_show", "interp_steps")

    def __init__(self, P: Mapping[str, Any], data: ChapterData, *, backbone_weights: str | Path | None = None,
                 inception_weights: str | Path | None = None, **kwargs: Any):
        super().__init__(P, data, backbone_weights=None if backbone_weights is None else str(backbone_weights),
                         inception_weights=None if inception_weights is None else str(inception_weights), **kwargs)
        self.backbone_weights = None if backbone_weights is None else str(backbone_weights)
        self.inception_weights = None if inception_weights is None else str(inception_weights)
        self.K = len(data.classes)

    @classmethod
    def build_data(cls, P: Mapping[str, Any], *, dataset: str = "synthetic", data_root: str | Path | None = None,
                   seed: int = 0) -> ChapterData:
        """The synthetic Multi-PIE-like world or a real dataset (Multi-PIE, MMI with its frame rule, RAF-DB's
        official split), in ``P["folds"]`` subject-independent folds."""
        from fer_core.experiments.data import resolve_dataset

        name = resolve_dataset(dataset, data_root)
        return prepare_data(P, synthetic=_synthetic, dataset=name, data_root=data_root, seed=seed,
                            frames=jesrl_frames if name == "mmi" else None, splits=_splits(name, P))

    # -- configuration --------------------------------------------------------------------------
    @cached_property
    def gan_config(self) -> SwitchGANConfig:
        P = self.P
        return SwitchGANConfig.at(int(P["size"]), width=int(P["gan_width"]), channels=int(P["channels"]),
                                  num_classes=self.K)

    @cached_property
    def clf_config(self) -> ClassifierConfig:
        P = self.P
        return ClassifierConfig(image_size=int(P["size"]), channels=int(P["channels"]), num_classes=self.K,
                                vgg_width=int(P["vgg_width"]), batch_norm=bool(P["vgg_bn"]), fuse=int(P["c_fuse"]),
                                fc=tuple(P["c_fc"]), dropout=float(P["c_dropout"]), weights=self.backbone_weights)

    def variant_config(self, variant: str) -> JESRLConfig:
        """The :class:`~fer_core.methods.jesrl.method.JESRLConfig` of ``variant`` under this profile."""
        P = self.P
        base = "No_SynFI" if variant.startswith("Syn") else variant
        return jesrl_variant(base, alternate=int(P["alternate"]), gan=self.gan_config, clf=self.clf_config,
                             lambdas=tuple(float(v) for v in P["lambdas"]), p=float(P["p"]), lr=float(P["lr"]),
                             weight_decay=float(P["weight_decay"]), lr_C=float(P["lr_C"]),
                             optimizer_C=str(P["optimizer_C"]), pairs=int(P["pairs"]))

    def steps_of(self, variant: str) -> int:
        """Iterations: ``steps`` for every recogniser (each updates ``C`` ``steps`` times) and GAN, twice as
        many for ``Official`` (GAN and ``C`` take turns), ``judge_steps`` for the judge."""
        if variant == "judge":
            return int(self.P["judge_steps"])
        return int(self.P["steps"]) * (2 if variant == "Official" else 1)

    @property
    def curve(self) -> list[int]:
        return [int(k) for k in self.P["curve"]]

    @property
    def light_seeds(self) -> list[int]:
        return self.seeds[: int(self.P["light_seeds"])]

    # -- the plan ---------------------------------------------------------------------------------
    def _cost(self, variant: str) -> float:
        if variant in GAN_VARIANTS:
            return 4.0 * self.steps_of(variant) / (2 if variant == "Official" else 1)
        return 1.5 * self.steps_of(variant) if variant == "TwoStage" else float(self.steps_of(variant))

    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        if variant == "judge":
            return self.judge_experiment(fold)
        known = ("CNN", *TABLE_VII, *(f"Syn{k}N" for k in self.curve if k))
        if variant not in known:
            raise ValueError(f"unknown JESRL experiment {variant!r}; choose judge or one of {list(known)}")
        after, why = [self.make("judge", fold)], ["is scored by the judge of its fold"]
        if variant in GAN_VARIANTS:
            after.append(self.make("No_SynFI", fold, seed))
            why.append("its perceptual network F is the plain VGG-19 of its fold and seed")
        if variant == "TwoStage":
            after.append(self.make("No_ExpR", fold, seed))
            why.append("continues from the GAN of No_ExpR (trained without C's influence)")
        if variant.startswith("Syn"):
            after.append(self.make("Ours", fold, seed))
            why.append("learns from faces made by Ours's generator")
        return Experiment(variant, fold, seed, after=tuple(after), why=tuple(why), cost=self._cost(variant))

    def plan(self) -> Plan:
        runs = []
        for k in self.folds:
            for s in self.seeds:
                light = s in self.light_seeds
                names = [v for v in ("CNN", *TABLE_VII)
                         if v != "No_InterL_ExpR" or (light and bool(self.P["no_interl_expr"]))]
                names += [f"Syn{c}N" for c in self.curve if c and light]
                runs += [self.make(v, k, s) for v in names]
        return Plan(runs)

    def runs(self, *variants: str) -> list[Experiment]:
        """The planned runs of ``variants`` (all but the judges when none given)."""
        return [e for e in self.experiments if e.variant != "judge" and (not variants or e.variant in variants)]

    # -- training ------------------------------------------------------------------------------------
    def perceptual(self, fold: int, seed: int) -> PerceptualNet:
        """``F`` of Eq. (11): ImageNet VGG-19 when ``backbone_weights`` were given, else the VGG-19 trunk of
        this fold and seed's plain classifier (No_SynFI), trained on the real training faces, frozen."""
        if self.backbone_weights is not None:
            return PerceptualNet(VGG19Trunk(64, weights=self.backbone_weights))
        plain = self.train(self.make("No_SynFI", fold, seed)).nets["C"]
        return PerceptualNet(copy.deepcopy(plain.vgg).cpu(), source="VGG-19 trunk of the plain classifier (No_SynFI) "
                             "trained on this fold's real training faces, frozen")

    def build(self, variant: str, fold: int, seed: int) -> JESRL:
        """An untrained :class:`~fer_core.methods.jesrl.method.JESRL` of ``variant`` (global RNG seeded first)."""
        config = self.variant_config(variant)
        train = self.data.fold(fold, self.device)["train"]
        F = self.perceptual(fold, seed) if config.synthesis and config.train_gan and config.lambdas[1] > 0 else None
        torch.manual_seed(seed)
        return JESRL(config, train=train.data, perceptual=F, seed=seed)

    def train(self, exp: Experiment) -> Method:
        P, parts = self.P, self.data.fold(exp.fold, self.device)
        if exp.variant == "judge":
            return self.train_judge(exp)
        batch = int(P["batch_size"])
        if exp.variant == "CNN":
            return train_plain_cnn(self, exp, parts["train"], steps=self.steps_of("CNN"), batch_size=batch,
                                   lr=float(P["lr_C"]))
        method = self.build(exp.variant, exp.fold, exp.seed)
        data = parts["train"]
        if exp.variant == "TwoStage":
            gan = self.train(self.make("No_ExpR", exp.fold, exp.seed)).nets["G"]
            method.nets["G"].load_state_dict(gan.state_dict())
        if exp.variant.startswith("Syn"):
            data = self._synthetic_pool(exp)
        torch.manual_seed(exp.seed)
        self.fit(method, exp, data, steps=self.steps_of(exp.variant), batch_size=batch)
        method.nets.eval()
        return method

    def _synthetic_pool(self, exp: Experiment) -> MemoryCachedDataset:
        """Fig. 12's training set: the N real training faces and ``k x N`` transfers made by Ours's generator
        (each face towards ``k`` other expressions, references from other training subjects)."""
        k = int(exp.variant[3:-1])
        G = self.train(self.make("Ours", exp.fold, exp.seed)).nets["G"]
        train = self.data.fold(exp.fold, self.device)["train"]
        x, y = train.data["image"], train.data["expression"].cpu().numpy()
        subjects = train.meta.subject.astype(str).to_numpy()
        per = self.K - 1  # every other expression once per round of references
        rounds = [ev.reference_pairs(y, subjects, self.K, seed=exp.seed + 7919 * r).reshape(len(y), per, 3)
                  for r in range(math.ceil(k / per))]
        chosen = np.concatenate(rounds, axis=1)[:, :k].reshape(-1, 3)
        fake = transfer(G, x[chosen[:, 0]], x[chosen[:, 2]], torch.as_tensor(y[chosen[:, 0]]),
                        torch.as_tensor(chosen[:, 1])).clamp(-1, 1)
        images = torch.cat([x.cpu(), fake])
        labels = torch.cat([torch.as_tensor(y), torch.as_tensor(chosen[:, 1])])
        return MemoryCachedDataset(_Faces(images, labels), self.device)

    # -- evaluation ------------------------------------------------------------------------------------
    def _pose(self, meta: pd.DataFrame) -> np.ndarray | None:
        if "yaw" in meta and meta["yaw"].nunique() > 1:
            return meta["yaw"].to_numpy(dtype=float)
        return None

    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        if exp.variant == "judge":
            return self.evaluate_judge(exp, method)
        test = self.data.fold(exp.fold, self.device)["test"]
        x, y = test.data["image"], test.data["expression"].cpu()
        pose = self._pose(test.meta)
        out: dict[str, Any] = {"log": self.log(exp)}
        first = exp.fold == 0 and exp.seed == self.seeds[0]
        if exp.variant == "CNN":
            logits = evaluate.apply(method.net, x, modules=(method.net,))
        else:
            G = method.nets["G"] if "G" in method.nets else None
            scored = ev.classify(method.nets["C"], G, x, features=first)
            logits = scored["logits"]
            if first:
                out["features"] = scored["features"]
        pred = logits.argmax(1)
        out.update(accuracy=float((pred == y).double().mean()), y_true=y, y_pred=pred)
        if pose is not None:
            out["per_pose"] = ev.per_pose_accuracy(y, pred, pose)
        if exp.variant in GAN_VARIANTS:
            out.update(self._synthesis(method.nets["G"], exp, first))
        return out

    def _synthesis(self, G, exp: Experiment, first: bool) -> dict[str, Any]:
        """The judge's reading of every unpaired transfer of the test faces, FID per expression, figures."""
        P, judge = self.P, self.judge(exp.fold)
        test = self.data.fold(exp.fold, self.device)["test"]
        x, y = test.data["image"], test.data["expression"].cpu().numpy()
        subjects = test.meta.subject.astype(str).to_numpy()
        pairs = ev.reference_pairs(y, subjects, self.K, seed=1000 * exp.fold + exp.seed)
        truth = None
        if hasattr(self.data.dataset, "counterfactual"):
            truth = self.data.dataset.counterfactual(self.data.splits[exp.fold].test[pairs[:, 0]],
                                                     expression=pairs[:, 1]).cpu()
        scores, fake = ev.judge_transfers(G, judge, x, y, pairs, subjects=subjects, pose=self._pose(test.meta),
                                          truth=truth)
        embed, net = judge.nets["expression"].features, judge.nets["expression"]
        tgt = torch.as_tensor(pairs[:, 1])
        out: dict[str, Any] = {"judge": scores, "fid": ev.fid_per_expression(embed, x, torch.as_tensor(y), fake, tgt,
                                                                            self.K, modules=(net,)),
                               "copy_fid": ev.fid_per_expression(embed, x, torch.as_tensor(y), x[pairs[:, 0]].cpu(),
                                                                 tgt, self.K, modules=(net,))}
        if self.inception_weights is not None:
            out["inception_fid"] = ev.inception_fid(x.cpu(), fake, self.inception_weights)
        if first:
            rows = ev.show_rows(test.meta.reset_index(drop=True), int(P["n_show"]))
            out["grid"] = ev.transfer_grid(G, x, y, subjects, rows, self.K)
            a, e = int(rows[0]), (int(y[rows[0]]) + 1) % self.K
            ref = int(out["grid"]["reference_rows"][e])
            ps = torch.linspace(1, 0, int(P["interp_steps"]))
            out["interp"] = {"frames": interpolation_frames(G, x[a].cpu(), x[ref].cpu(), int(y[a]), e, ps),
                             "p": ps, "source": x[a].cpu(), "reference": x[ref].cpu(), "target": e,
                             "source_expression": int(y[a])}
        return out

    # -- the chapter's tables ------------------------------------------------------------------------------
    def values(self) -> pd.DataFrame:
        """One row per run (and per pseudo-variant a claim compares with): the ledger's metrics."""
        rows = []
        for e in self.runs():
            r = self.result(e)
            j, fid = r.get("judge", {}), r.get("fid")
            rows.append({"variant": e.variant, "fold": e.fold, "seed": e.seed, "accuracy": r["accuracy"],
                         "fid": float(np.nanmean(list(fid.values()))) if fid else math.nan,
                         "judge_target": j.get("target_expression", math.nan),
                         "identity_tar": j.get("identity_tar", math.nan), "psnr_true": j.get("psnr", math.nan)})
            if e.variant == "Ours" and "copy_psnr" in j:
                rows.append({"variant": PSEUDO_VARIANTS["copy"], "fold": e.fold, "seed": e.seed,
                             "psnr_true": j["copy_psnr"]})
        return pd.DataFrame(rows)

    def accuracy_summary(self) -> pd.DataFrame:
        """Accuracy (%) per recogniser, ``mean ± std`` over folds and seeds, with the plain CNN first."""
        return tables.summary(self.values(), "accuracy", order=[*RECOGNISERS, *(f"Syn{k}N" for k in self.curve)],
                              scale=100, name="accuracy (%)")

    def per_pose_table(self) -> pd.DataFrame:
        """Tables II/VII: accuracy (%) per pose and on average, ``mean ± std`` over folds and seeds."""
        rows = []
        for v in RECOGNISERS:
            res = [r for _, r in self.results(v) if "per_pose" in r]
            if not res:
                continue
            row = {"variant": v}
            for pose in res[0]["per_pose"]:
                row[f"{pose}°"] = metrics.mean_std([r["per_pose"][pose] for r in res], scale=100)
            row["average"] = metrics.mean_std([r["accuracy"] for r in res], scale=100)
            row["runs"] = len(res)
            rows.append(row)
        return pd.DataFrame(rows).set_index("variant")

    def fid_table(self) -> pd.DataFrame:
        """Tables V-VI: the Fréchet distance per expression of each GAN variant's transfers (and of copies of
        the inputs), ``mean ± std`` over folds and seeds (lower is better)."""
        rows = []
        for v in GAN_VARIANTS:
            res = [r for _, r in self.results(v)]
            if not res:
                continue
            for label, key in ((v, "fid"), (f"copy of the input (as {v}'s sources)", "copy_fid")):
                if key == "copy_fid" and v != "Ours":
                    continue
                row = {"variant": label}
                for e, name in enumerate(self.data.classes):
                    row[name] = metrics.mean_std([r[key][e] for r in res if not math.isnan(r[key][e])])
                row["mean"] = metrics.mean_std([float(np.nanmean(list(r[key].values()))) for r in res])
                row["runs"] = len(res)
                rows.append(row)
        return pd.DataFrame(rows).set_index("variant")

    def synthesis_table(self) -> pd.DataFrame:
        """The judge's reading of every GAN variant's transfers, ``mean ± std`` over folds and seeds."""
        rows = []
        for v in GAN_VARIANTS:
            res = [r["judge"] for _, r in self.results(v)]
            if not res:
                continue
            col = lambda k, s=1.0: metrics.mean_std([j[k] for j in res if k in j], scale=s)  # noqa: E731
            row = {"variant": v, "target expression (%)": col("target_expression", 100),
                   "still the source's expression (%)": col("kept_expression", 100),
                   "identity TAR (%)": col("identity_tar", 100), "pose kept (%)": col("target_pose", 100)}
            if "psnr" in res[0]:
                row.update({"PSNR to true face": col("psnr"), "copy PSNR": col("copy_psnr"),
                            "true faces: judge (%)": col("truth_expression", 100),
                            "true faces: identity TAR (%)": col("truth_identity_tar", 100)})
            row["runs"] = len(res)
            rows.append(row)
        return pd.DataFrame(rows).set_index("variant")

    def gates(self) -> pd.DataFrame:
        """The checks before any claim: the plain VGG-19 against the plain CNN, and the transfers of
        Ours (With_inter), No_InterL (No_inter) and Official read by the judge."""
        v = self.values()
        mean = lambda var, col: float(v[v.variant == var][col].mean())  # noqa: E731
        vgg, cnn = mean("No_SynFI", "accuracy"), mean("CNN", "accuracy")
        rows = [("plain VGG-19 (No_SynFI) at least as accurate as the plain CNN", f"{vgg:.1%}",
                 f">= {cnn:.1%} (plain CNN)", vgg >= cnn)]
        for var in ("Ours", "No_InterL", "Official"):
            res = [r["judge"] for _, r in self.results(var)]
            if not res:
                continue
            target = float(np.mean([j["target_expression"] for j in res]))
            rows.append((f"{var}: judge reads the target expression", f"{target:.1%}", ">= 70%", target >= 0.70))
            tar = float(np.mean([j["identity_tar"] for j in res]))
            ref = [j["truth_identity_tar"] for j in res if "truth_identity_tar" in j]
            bar = min(0.9, float(np.mean(ref))) if ref else 0.9
            rows.append((f"{var}: identity kept (judge's TAR, transfer vs source)", f"{tar:.1%}",
                         f">= {bar:.1%}" + (" (the true faces' TAR, at most 90%)" if ref else ""), tar >= bar))
            if "psnr" in res[0]:
                gain = float(np.mean([j["psnr"] - j["copy_psnr"] for j in res]))
                rows.append((f"{var}: closer to the true face than a copy of the input", f"{gain:+.2f} dB", "> 0 dB",
                             gain > 0))
        return pd.DataFrame(rows, columns=["check", "this run", "target", "passes"]).set_index("check")

    def ledger(self) -> tuple[Ledger, pd.DataFrame]:
        """The claims ledger (paired over fold and seed, corrected for overlapping folds) and its values."""
        values = self.values()
        claims = [(c, col) for c, col in CLAIMS
                  if not values[values.variant.isin([c.variant_a, c.variant_b])][col].isna().all()]
        return tables.ledger(values, claims, replicates=tables.fold_ratio(self.data.splits))

    def confusion(self, variant: str) -> torch.Tensor:
        """``(K, K)`` confusion counts of ``variant`` summed over folds and seeds (rows: true class)."""
        return sum(metrics.confusion_matrix(r["y_pred"], r["y_true"], self.K) for _, r in self.results(variant))

    def curve_table(self) -> pd.DataFrame:
        """Fig. 12 as numbers: accuracy (%) per amount ``kN`` of synthetic faces, per fold (light seeds)."""
        rows = []
        for k in self.curve:
            name = "No_SynFI" if k == 0 else f"Syn{k}N"
            for e, r in self.results(name):
                if e.seed in self.light_seeds:
                    rows.append({"synthetic": f"{k}N", "k": k, "fold": e.fold, "seed": e.seed,
                                 "accuracy": 100 * r["accuracy"]})
        return pd.DataFrame(rows)

    def embedding(self, variant: str) -> dict[str, torch.Tensor]:
        """``C``'s penultimate features of fold 0's test faces (first seed), with labels and poses."""
        r = self.result(variant, 0, self.seeds[0])
        pose = self._pose(self.data.fold(0, self.device)["test"].meta)
        return {"features": r["features"], "labels": r["y_true"],
                "pose": None if pose is None else torch.as_tensor(pose.copy())}
