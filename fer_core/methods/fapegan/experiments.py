"""The FaPE-GAN chapter's plan: the F2ED tasks, FaPE-GAN per split, Fa-Net with and without it, Table 4.

Paper: FaPE-GAN / F2ED (Sec. 4-5, Tables 4-5, Figs. 6-8). The method is
:mod:`fer_core.methods.fapegan.method`; this module declares the chapter's experiments for the
shared runner (:mod:`fer_core.experiments`) and builds its tables.

Data: the F2ED-like synthetic world (fine-grained classes x identities x the four views) or
F2ED-style folders, cut into the paper's tasks (:mod:`fer_core.data.f2ed_tasks`, FaPE-GAN's
protocols), ``n_splits`` random splits of each, plus ER-SS on a fraction of its training
faces (``fractions``: the sparse-data question). A split is a *fold* of the runner: fold
``t * n_splits + k`` is split ``k`` of task ``t``.

Per split: ``FaPE-GAN`` (trained on the split's view pairs); per split and seed: ``Fa-Net``
(real faces only) and ``FaPE-GAN+Fa-Net`` (real + generated faces; continues after its
split's FaPE-GAN). On ER-SS splits also the book's plain ``CNN``, and on the first ``judge_splits`` the ``judge``
(:mod:`fer_core.judge`) that scores FaPE-GAN's faces. Table 4: on split ``k`` of a 7-class
target (the synthetic basic-7 world of new people, or JAFFE / FER2013 given ``target_root``),
Fa-Net from scratch and Fa-Net fine-tuned from the ER-SS Fa-Net of split ``k`` and the same seed.
"""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from fer_core import evaluate, metrics
from fer_core.claims import Ledger
from fer_core.data.f2ed_tasks import f2ed_task
from fer_core.data.memory import MemoryCachedDataset
from fer_core.data.protocols import Split
from fer_core.experiments import ChapterData, Experiment, Plan, Study, prepare_data, tables
from fer_core.experiments.data import f2ed_like_world
from fer_core.judge import JudgeMixin
from fer_core.methods.classifier import train_plain_cnn
from fer_core.methods.fapegan.method import FaNetTraining, FaPEGAN, PairedViews, TensorFaces, augment, transfer
from fer_core.methods.fapegan.nets import FaNet, FaNetConfig, FaPEConfig, fine_tune_from
from fer_core.methods.fapegan.paper import (CNN, FANET, FAPE_FANET, PAPER_TABLE_4, PAPER_TABLE_5, PRETRAINED,
                                            SCRATCH, claims, gain, variant)
from fer_core.methods.fapegan.posemap import pose_map
from fer_core.train import Method

__all__ = ["FaPEStudy", "GAN", "TARGET", "task_splits", "fraction_split"]

GAN = "FaPE-GAN"
#: Table 4's runs on the 7-class target.
TARGET = (SCRATCH, PRETRAINED)
_RECOGNISERS = (FANET, FAPE_FANET, CNN)
TARGET_DATASETS = {"jaffe": "JAFFE", "fer2013": "FER2013", "fer2013_folders": "FER2013"}


def fraction_split(split: Split, meta: pd.DataFrame, fraction: float, *, seed: int) -> Split:
    """``split`` with only ``fraction`` of its training rows, drawn per expression (at least one each)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fractions must lie in (0, 1], got {fraction!r}")
    rng = np.random.default_rng(seed)
    y = meta["expression"].to_numpy()[split.train]
    keep = [rng.choice(split.train[y == c], size=max(1, math.ceil(fraction * int((y == c).sum()))), replace=False)
            for c in np.unique(y)]
    return Split(np.sort(np.concatenate(keep)), split.test, name=f"{split.name} ({fraction:.0%} of train)")


def task_splits(P: Mapping[str, Any]):
    """``splits(dataset, seed)`` for :func:`~fer_core.experiments.prepare_data`: ``n_splits`` draws of every task
    of ``P["tasks"]`` (FaPE-GAN's protocols), then of ER-SS at every ``P["fractions"]``."""

    def splits(ds, seed: int) -> list[Split]:
        out, n = [], int(P["n_splits"])
        for task in P["tasks"]:
            out += [f2ed_task(ds.meta, task, seed=1_000 * seed + k, paper="fapegan") for k in range(n)]
        for f in P["fractions"]:
            out += [fraction_split(f2ed_task(ds.meta, "ER-SS", seed=1_000 * seed + k, paper="fapegan"), ds.meta,
                                   float(f), seed=1_000 * seed + k) for k in range(n)]
        return out

    return splits


class FaPEStudy(JudgeMixin, Study):
    """Every experiment of the FaPE-GAN chapter for one profile, data set and seed.

    Options (beyond :class:`~fer_core.experiments.study.Study`'s): ``target_root``, the folder of a
    real 7-class dataset (JAFFE or FER2013) for Table 4, with ``target_dataset`` its registry name
    (recognised from the folder when ``None``); without it the target is the synthetic basic-7 world.
    """

    chapter = "fapegan"
    plan_settings = ("seeds", "n_show")
    evaluation_settings = ("n_pairs",)

    def __init__(self, P: Mapping[str, Any], data: ChapterData, *, target_root: str | Path | None = None,
                 target_dataset: str | None = None, **kwargs: Any):
        super().__init__(P, data, target_root=None if target_root is None else str(target_root),
                         target_dataset=target_dataset, **kwargs)
        self.target_root, self.target_dataset = target_root, target_dataset
        self.K = len(data.classes)

    # The F2ED-like synthetic world or F2ED-style folders, cut into the tasks (module docstring).
    synthetic_world = staticmethod(f2ed_like_world)
    split_rule = staticmethod(task_splits)

    # -- tasks and folds --------------------------------------------------------------------------
    @cached_property
    def tasks(self) -> list[str]:
        """Task labels in fold order: ``P["tasks"]``, then ``"ER-SS 25%"`` per fraction."""
        return [*self.P["tasks"], *(f"ER-SS {float(f):.0%}" for f in self.P["fractions"])]

    @property
    def n_splits(self) -> int:
        return int(self.P["n_splits"])

    def fold_of(self, task: str, k: int) -> int:
        if task not in self.tasks:
            raise ValueError(f"unknown task {task!r}; this profile runs {self.tasks}")
        return self.tasks.index(task) * self.n_splits + int(k)

    def task_of(self, fold: int) -> tuple[str, int]:
        """``(task, split index)`` of runner fold ``fold``."""
        return self.tasks[fold // self.n_splits], fold % self.n_splits

    def judged(self, fold: int) -> bool:
        """Whether ``fold``'s FaPE-GAN is read by a judge: the first ``judge_splits`` splits of ER-SS."""
        task, k = self.task_of(fold)
        return task == "ER-SS" and k < int(self.P["judge_splits"])

    @property
    def sparse_task(self) -> str | None:
        return self.tasks[len(self.P["tasks"])] if self.P["fractions"] else None

    # -- the 7-class target of Table 4 ------------------------------------------------------------------
    @cached_property
    def target(self) -> ChapterData:
        """Table 4's target: a real JAFFE / FER2013 folder (its official split) or the synthetic basic-7
        world of people the fine-grained world does not hold, in ``n_splits`` subject-independent folds."""
        P = self.P
        if self.target_root is not None:
            return prepare_data(P, synthetic=f2ed_like_world, dataset=self.target_dataset or "synthetic",
                                data_root=self.target_root, seed=self.seed,
                                splits=lambda ds, seed: [ds.official_split()])

        def basic7(P: Mapping[str, Any], seed: int):
            from fer_core.data.synthetic import SyntheticFaces

            n = int(P["target_identities"])
            ds = SyntheticFaces(identities=range(10_000, 10_000 + n), expressions="basic7", views=("front",),
                                takes=int(P["target_takes"]), size=int(P["size"]), channels=int(P["channels"]),
                                seed=seed)
            return ds, f"synthetic basic-7 world ({n} new identities, frontal)"

        return prepare_data({**P, "folds": max(2, self.n_splits)}, synthetic=basic7, seed=self.seed)

    @property
    def target_name(self) -> str:
        return TARGET_DATASETS.get(self.target.key, "synthetic 7-class")

    def target_fold(self, k: int) -> int:
        """The target split of replicate ``k`` (a real target has one split, repeated over replicates)."""
        return k % len(self.target.splits)

    # -- configuration ------------------------------------------------------------------------------------
    @cached_property
    def gan_config(self) -> FaPEConfig:
        return FaPEConfig(image_size=int(self.P["size"]), channels=int(self.P["channels"]),
                          width=int(self.P["gan_width"]))

    def fanet_config(self, num_classes: int) -> FaNetConfig:
        P = self.P
        return FaNetConfig(num_classes=num_classes, channels=int(P["channels"]), input_size=int(P["size"]),
                           widths=tuple(P["fanet_widths"]), layers=tuple(P["fanet_layers"]),
                           feature_dim=int(P["fanet_feature_dim"]), dropout=float(P["fanet_dropout"]),
                           batch_norm=bool(P["fanet_bn"]))

    def configuration(self, exp: Experiment) -> dict[str, Any]:
        P = self.P
        if exp.variant == "judge":
            return {"profile": {k: v for k, v in P.items() if k.startswith("judge_")}}
        if exp.variant == GAN:
            return {"profile": {k: v for k, v in P.items() if k.startswith("gan_") or k == "lam"}}
        if exp.variant in TARGET:
            keys = [k for k in P if k.startswith("target_") or k.startswith("fanet_")] + ["lr_step_epochs"]
            return {"profile": {k: P[k] for k in keys}, "target": self.target.spec}
        keys = [k for k in P if k.startswith(("fanet_", "cnn_"))] + ["lr_step_epochs", "aug_ratio"]
        return {"profile": {k: P[k] for k in keys}}

    # -- the plan ------------------------------------------------------------------------------------------
    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        P = self.P
        if variant == "judge":
            return self.judge_experiment(fold)
        if variant == GAN:
            # a judged split's FaPE-GAN result holds the judge's reading: a new judge is a new result
            judged = self.judged(fold)
            return Experiment(GAN, fold, self.seed, after=(self.judge_experiment(fold),) if judged else (),
                              why=("is scored by the judge of its split",) if judged else (),
                              cost=float(P["gan_steps"]))
        cost = 0.8 * float(P["fanet_steps"])
        if variant in (FANET, CNN):
            return Experiment(variant, fold, seed, cost=cost)
        if variant == FAPE_FANET:
            return Experiment(variant, fold, seed, after=(self.make(GAN, fold),),
                              why=("trains on the faces its split's FaPE-GAN generates",), cost=cost)
        if variant == SCRATCH:
            return Experiment(variant, fold, seed, cost=0.5 * float(P["target_steps"]))
        if variant == PRETRAINED:
            return Experiment(variant, fold, seed, after=(self.make(FANET, self.fold_of("ER-SS", fold), seed),),
                              why=("fine-tunes the ER-SS Fa-Net of its split and seed",),
                              cost=0.5 * float(P["target_steps"]))
        raise ValueError(f"unknown FaPE-GAN chapter variant {variant!r}; choose judge, {GAN}, {FANET}, {FAPE_FANET}, "
                         f"{CNN}, {SCRATCH} or {PRETRAINED}")

    def plan(self) -> Plan:
        runs: list[Experiment] = []
        for f in range(len(self.data.splits)):
            task, k = self.task_of(f)
            runs.append(self.make(GAN, f))
            if self.judged(f):
                runs.append(self.make("judge", f))
            for s in self.seeds:
                runs += [self.make(FANET, f, s), self.make(FAPE_FANET, f, s)]
                if task == "ER-SS":
                    runs.append(self.make(CNN, f, s))
        if "ER-SS" in self.tasks:
            for k in range(self.n_splits):
                runs += [self.make(v, k, s) for s in self.seeds for v in TARGET]
        return Plan(runs)

    def runs(self, *variants: str, task: str | None = None) -> list[Experiment]:
        """The planned runs of ``variants`` (on ``task`` when given)."""
        return [e for e in self.experiments if e.variant in variants
                and (task is None or (e.variant not in TARGET and self.task_of(e.fold)[0] == task))]

    # -- training -----------------------------------------------------------------------------------------
    def _lr_step(self, n_train: int, batch_size: int) -> int:
        return max(1, int(self.P["lr_step_epochs"]) * max(1, n_train // batch_size))

    def _fit_fanet(self, exp: Experiment, net: FaNet, train: Any, n_real: int, *, steps: int, batch_size: int,
                   lr: float) -> FaNetTraining:
        method = FaNetTraining(net, lr=lr, lr_step=self._lr_step(n_real, batch_size))
        self.fit(method, exp, train, steps=steps, batch_size=batch_size)
        method.nets.eval()
        return method

    def train(self, exp: Experiment) -> Method:
        P = self.P
        if exp.variant == "judge":
            return self.train_judge(exp)
        if exp.variant in TARGET:
            return self._train_target(exp)
        train = self.data.fold(exp.fold, self.device)["train"]
        if exp.variant == GAN:
            torch.manual_seed(self.seed + exp.fold)
            method = FaPEGAN(self.gan_config, lam=float(P["lam"]), lr=float(P["gan_lr"]))
            self.fit(method, exp, PairedViews(train), steps=int(P["gan_steps"]), batch_size=int(P["gan_batch_size"]),
                     seed=self.seed + exp.fold)
            method.nets.eval()
            return method
        steps, bs = int(P["fanet_steps"]), int(P["fanet_batch_size"])
        if exp.variant == CNN:
            return train_plain_cnn(self, exp, train, steps=steps, batch_size=bs, lr=float(P["cnn_lr"]), decay=True)
        data: Any = train
        if exp.variant == FAPE_FANET:
            G = self.train(self.make(GAN, exp.fold)).nets["G"]
            fake = augment(G, train, round(float(P["aug_ratio"]) * len(train)), seed=1_000 * exp.seed + exp.fold)
            data = TensorFaces({"image": torch.cat([train.data["image"].cpu(), fake["image"]]).to(self.device),
                                "expression": torch.cat([train.data["expression"].cpu(),
                                                         fake["expression"]]).to(self.device)},
                               classes=self.data.classes)
        torch.manual_seed(exp.seed)
        return self._fit_fanet(exp, FaNet(self.fanet_config(self.K)), data, len(train), steps=steps, batch_size=bs,
                               lr=float(P["fanet_lr"]))

    def _train_target(self, exp: Experiment) -> FaNetTraining:
        P = self.P
        target = self.target
        train = target.fold(self.target_fold(exp.fold), self.device)["train"]
        K_t = len(target.classes)
        torch.manual_seed(exp.seed)
        if exp.variant == PRETRAINED:
            source = self.train(self.make(FANET, self.fold_of("ER-SS", exp.fold), exp.seed)).net
            net = fine_tune_from(source.cpu(), K_t)
        else:
            net = FaNet(self.fanet_config(K_t))
        return self._fit_fanet(exp, net, train, len(train), steps=int(P["target_steps"]),
                               batch_size=int(P["target_batch_size"]), lr=float(P["target_lr"]))

    # -- evaluation ---------------------------------------------------------------------------------------
    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        if exp.variant == "judge":
            return self.evaluate_judge(exp, method)
        if exp.variant == GAN:
            return self._score_gan(exp, method.nets["G"])
        if exp.variant in TARGET:
            test = self.target.fold(self.target_fold(exp.fold), self.device)["test"]
            K = len(self.target.classes)
        else:
            test, K = self.data.fold(exp.fold, self.device)["test"], self.K
        net = method.nets["net"] if exp.variant == CNN else method.nets["FaNet"]
        scores = evaluate.classify(net, test, num_classes=K, batch_size=256)
        return {"accuracy": scores["accuracy"], "y_true": scores["y_true"], "y_pred": scores["y_pred"],
                "log": self.log(exp)}

    def test_pairs(self, fold: int, n: int) -> dict[str, Any]:
        """Up to ``n`` test faces of ``fold`` with a target: the same person and expression in another view
        (anywhere in the data set: on the synthetic world the same take and scene, i.e. the true face)."""
        meta = self.data.dataset.meta
        test = self.data.splits[fold].test
        rng = np.random.default_rng(10_000 + fold)
        sources = rng.permutation(test)
        view = meta["view"].astype(str).to_numpy()
        key = meta["subject"].astype(str).to_numpy() + "|" + meta["expression"].astype(str).to_numpy()
        if "take" in meta:
            key = key + "|" + meta["take"].astype(str).to_numpy()
        by_key = pd.Series(np.arange(len(meta))).groupby(key).apply(list).to_dict()
        src, tgt = [], []
        for i in sources:
            others = [j for j in by_key[key[i]] if view[j] != view[i]]
            if others:
                src.append(int(i))
                tgt.append(int(others[rng.integers(len(others))]))
            if len(src) >= n:
                break
        if not src:
            raise ValueError(f"fold {fold}: no test face has a partner of the same person and expression in another "
                             "view, so pose transfer cannot be scored")
        rows = np.asarray(src + tgt)
        data = MemoryCachedDataset(self.data.dataset.subset(rows), "cpu").data
        m = len(src)
        return {"source": data["image"][:m], "truth": data["image"][m:], "landmarks": data["landmarks"][m:],
                "target_view": data["view"][m:], "expression": data["expression"][:m],
                "subjects": meta["subject"].astype(str).to_numpy()[src], "rows": np.asarray(src),
                "target_rows": np.asarray(tgt)}

    def _score_gan(self, exp: Experiment, G: torch.nn.Module) -> dict[str, Any]:
        """Pose transfer on the fold's test faces: distances to the true face (every fold) and the judge's
        reading (ER-SS folds), and the Fig. 6 examples."""
        pairs = self.test_pairs(exp.fold, int(self.P["n_pairs"]))
        I_P = pose_map(pairs["landmarks"], int(self.P["size"]))
        fake = transfer(G, pairs["source"], I_P)
        truth, source = pairs["truth"], pairs["source"]
        out: dict[str, Any] = {"psnr": metrics.psnr(fake.clamp(-1, 1), truth), "copy_psnr": metrics.psnr(source, truth),
                               "l1": float((fake.clamp(-1, 1) - truth).abs().mean()),
                               "copy_l1": float((source - truth).abs().mean()), "n_pairs": len(fake),
                               "log": self.log(exp)}
        if self.judged(exp.fold):
            judge = self.judge(exp.fold)
            views = pairs["target_view"].numpy()
            out["judge"] = judge.score(fake, source=source, subjects=pairs["subjects"], expression=pairs["expression"],
                                       pose=views, truth=truth)
            out["judge_truth"] = judge.score(truth, source=source, subjects=pairs["subjects"],
                                             expression=pairs["expression"], pose=views)
        n = int(self.P["n_show"])
        out["examples"] = torch.stack([source[:n], I_P[:n].expand_as(source[:n]), fake[:n], truth[:n]], 1)
        return out

    # -- the chapter's tables --------------------------------------------------------------------------------
    def values(self) -> pd.DataFrame:
        """One row per recognition run, named ``"<variant> | <task>"``, with ``fold`` the split index within its
        task; plus the augmentation gain per task and replicate (``"gain | <task>"``)."""
        rows = []
        for e in self.runs(FANET, FAPE_FANET, CNN):
            task, k = self.task_of(e.fold)
            rows.append({"variant": variant(e.variant, task), "task": task, "model": e.variant, "fold": k,
                         "seed": e.seed, "accuracy": self.result(e)["accuracy"]})
        for e in self.runs(*TARGET):
            rows.append({"variant": variant(e.variant, self.target_name), "task": self.target_name, "model": e.variant,
                         "fold": e.fold, "seed": e.seed, "accuracy": self.result(e)["accuracy"]})
        df = pd.DataFrame(rows)
        gains = []
        for task in self.tasks:
            a = df[df.variant == variant(FAPE_FANET, task)].set_index(["fold", "seed"]).accuracy
            b = df[df.variant == variant(FANET, task)].set_index(["fold", "seed"]).accuracy
            for (k, s), v in (a - b).dropna().items():
                gains.append({"variant": gain(task), "task": task, "model": "gain", "fold": k, "seed": s, "gain": v})
        return pd.concat([df, pd.DataFrame(gains)], ignore_index=True)

    def table5(self) -> pd.DataFrame:
        """Table 5: accuracy (%) of Fa-Net and FaPE-GAN + Fa-Net per task, mean ± std over splits and seeds,
        with the gain and the paper's numbers."""
        v = self.values()
        rows = []
        for task in self.tasks:
            cell = lambda m: metrics.mean_std(v[v.variant == variant(m, task)].accuracy.tolist(), scale=100)  # noqa: E731
            g = v[v.variant == gain(task)].gain
            rows.append({"task": task, FANET: cell(FANET), FAPE_FANET: cell(FAPE_FANET),
                         "gain (points)": metrics.mean_std(g.tolist(), scale=100), "replicates": len(g),
                         "paper Fa-Net": PAPER_TABLE_5[FANET].get(task, math.nan),
                         "paper FaPE-GAN+Fa-Net": PAPER_TABLE_5[FAPE_FANET].get(task, math.nan)})
        return pd.DataFrame(rows).set_index("task")

    def table4(self) -> pd.DataFrame:
        """Table 4: Fa-Net on the 7-class target without and with pre-training (accuracy, %)."""
        v = self.values()
        t = self.target_name
        paper = PAPER_TABLE_4.get(t, PAPER_TABLE_4["JAFFE"])
        return pd.DataFrame([{"target": t, "pre-trained": name == PRETRAINED,
                              "accuracy (%)": metrics.mean_std(v[v.variant == variant(name, t)].accuracy.tolist(),
                                                               scale=100),
                              "replicates": int((v.variant == variant(name, t)).sum()),
                              f"paper ({'JAFFE' if t not in PAPER_TABLE_4 else t})": paper[i]}
                             for i, name in enumerate(TARGET)]).set_index(["target", "pre-trained"])

    def gain_by_fraction(self) -> pd.DataFrame:
        """The augmentation gain on ER-SS against the fraction of its training faces kept."""
        v = self.values()
        rows = []
        for task, f in [("ER-SS", 1.0), *((f"ER-SS {float(f):.0%}", float(f)) for f in self.P["fractions"])]:
            g = v[v.variant == gain(task)].gain
            n_train = np.mean([len(self.data.splits[self.fold_of(task, k)].train) for k in range(self.n_splits)])
            rows.append({"task": task, "fraction": f, "training faces": n_train, "gain": g.mean(),
                         "std": g.std(ddof=1) if len(g) > 1 else math.nan, "n": len(g)})
        return pd.DataFrame(rows).sort_values("fraction")

    def synthesis_table(self) -> pd.DataFrame:
        """FaPE-GAN's pose transfer on each task's test faces: PSNR / L1 to the true face and of a copy."""
        rows = []
        for task in self.tasks:
            res = [self.result(e) for e in self.runs(GAN, task=task)]
            ms = lambda k, d=2: metrics.mean_std([r[k] for r in res], digits=d)  # noqa: E731
            rows.append({"task": task, "PSNR to true face": ms("psnr"), "copy PSNR": ms("copy_psnr"),
                         "L1 to true face": ms("l1", 3), "copy L1": ms("copy_l1", 3), "splits": len(res)})
        return pd.DataFrame(rows).set_index("task")

    def judge_table(self) -> pd.DataFrame:
        """The judge on FaPE-GAN's faces and on the true faces (its ceiling), per ER-SS split."""
        rows = []
        for e in self.runs(GAN, task="ER-SS"):
            if not self.judged(e.fold):
                continue
            r = self.result(e)
            j, t = r["judge"], r["judge_truth"]
            rows.append({"split": self.task_of(e.fold)[1], "target view": j["target_pose"],
                         "target view (true faces)": t["target_pose"], "expression kept": j["target_expression"],
                         "expression (true faces)": t["target_expression"], "identity TAR": j["identity_tar"],
                         "identity TAR (true faces)": t["identity_tar"], "PSNR": j["psnr"], "copy PSNR": j["copy_psnr"]})
        return pd.DataFrame(rows).set_index("split")

    def gates(self) -> pd.DataFrame:
        """The checks before any claim: Fa-Net against the plain CNN on ER-SS, and FaPE-GAN's faces read by
        the judge (target view >= 80%, source expression >= 70%, identity kept, closer to the true face)."""
        v = self.values()
        acc = lambda m: float(v[v.variant == variant(m, "ER-SS")].accuracy.mean())  # noqa: E731
        j = self.judge_table().mean()
        rows = [("Fa-Net (no augmentation) at least as accurate as the plain CNN on ER-SS", f"{acc(FANET):.1%}",
                 f"{acc(CNN):.1%} (plain CNN)", acc(FANET) >= acc(CNN)),
                ("judge reads the target view in FaPE-GAN's faces", f"{j['target view']:.1%}",
                 f">= 80% (true faces: {j['target view (true faces)']:.1%})", j["target view"] >= 0.80),
                ("judge reads the source expression in FaPE-GAN's faces", f"{j['expression kept']:.1%}",
                 f">= 70% (true faces: {j['expression (true faces)']:.1%})", j["expression kept"] >= 0.70),
                ("identity kept: judge's TAR of generated vs source faces", f"{j['identity TAR']:.1%}",
                 f">= half the true faces' ({j['identity TAR (true faces)']:.1%})",
                 j["identity TAR"] >= 0.5 * j["identity TAR (true faces)"]),
                ("generated face closer to the true face than a copy of the input",
                 f"{j['PSNR'] - j['copy PSNR']:+.2f} dB", "> 0 dB", j["PSNR"] > j["copy PSNR"])]
        return pd.DataFrame(rows, columns=["check", "this run", "target", "passes"]).set_index("check")

    def claims(self):
        return claims(tuple(t for t in self.P["tasks"]), self.sparse_task, self.target_name,
                      self.target_name if self.target_name in PAPER_TABLE_4 else "JAFFE")

    def ledger(self) -> tuple[Ledger, pd.DataFrame]:
        """The claims ledger, paired over split and seed (resampled splits: the corrected interval)."""
        ss = [self.data.splits[self.fold_of("ER-SS", k)] for k in range(self.n_splits)]
        return tables.ledger(self.values(), self.claims(), replicates=tables.fold_ratio(ss))

    def confusion(self, name: str) -> torch.Tensor:
        """``(K, K)`` confusion counts of a Table 4 run (``SCRATCH`` / ``PRETRAINED``) summed over its runs."""
        K = len(self.target.classes)
        return sum(metrics.confusion_matrix(self.result(e)["y_pred"], self.result(e)["y_true"], K)
                   for e in self.runs(name))

    def paper_comparison(self) -> pd.DataFrame:
        """"Paper reports / this run": Tables 4 and 5."""
        v = self.values()
        ours = lambda name: metrics.mean_std(v[v.variant == name].accuracy.tolist(), scale=100)  # noqa: E731
        rows = []
        for task in self.P["tasks"]:
            for m in (FANET, FAPE_FANET):
                rows.append(("5 (accuracy, %)", f"{m}, {task}", f"{PAPER_TABLE_5[m][task]:.1f}", ours(variant(m, task))))
        t = self.target_name
        paper_t = t if t in PAPER_TABLE_4 else "JAFFE"
        for i, name in enumerate(TARGET):
            rows.append(("4 (accuracy, %)", f"{name}, {paper_t} / {t}", f"{PAPER_TABLE_4[paper_t][i]:.1f}",
                         ours(variant(name, t))))
        return tables.paper_vs_run([dict(zip(("table", "row", "paper", "this run"), r)) for r in rows],
                                   paper="paper (F2ED; JAFFE/FER2013)",
                                   run=f"this run ({self.data.key}, profile {self.profile_name})")
