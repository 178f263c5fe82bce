"""The comparison chapter's plan: five generators, one recogniser, one protocol.

Per fold (:mod:`fer_core.methods.compare.protocol`):

- ``judge``: the independent judge (:mod:`fer_core.judge`), trained on the fold's real training faces
  only; its expression network is also the one feature network of every Fréchet distance;
- ``<method> G``: the method's generator trained with its own package's step
  (:mod:`fer_core.methods.compare.adapters`), ``gan_steps`` steps of ``gan_batch_size``, once per fold
  (shared by the seeds); evaluated for cost (FLOPs per training image, memory, wall time) and
  synthesis (Fréchet distance of its faces to the real training faces, the judge on its edits);

and per fold and seed:

- ``plain``: the book's plain CNN on the real training faces, ``steps`` steps of ``batch_size``;
- ``<method>``: the same network, rate, steps and batch, on the real training faces plus
  ``aug_ratio x`` as many faces from the fold's ``<method> G`` (GroupGAN: and every face magnified
  before the recogniser reads it).

Each recognition run is tested on the four conditions and stores its *run record* (fold, seed,
training and test rows, steps, batch, recogniser, generated faces): the chapter's test asserts from
these records that every method had the same folds, seeds and budget.
"""

from __future__ import annotations

import hashlib
import math
import time
from functools import cached_property
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from fer_core import evaluate, metrics, runtime
from fer_core.claims import Ledger
from fer_core.data.memory import MemoryCachedDataset, TensorFaces
from fer_core.experiments import ChapterData, Experiment, Plan, Study, tables
from fer_core.judge import JudgeMixin
from fer_core.methods.classifier import Classifier
from fer_core.methods.compare.adapters import ADAPTERS, Adapter, adapter
from fer_core.methods.compare.cost import step_cost
from fer_core.methods.compare.paper import METRICS, PLAIN, claims
from fer_core.methods.compare.protocol import CONDITIONS, conditions, protocol_splits, seen_views, world

from fer_core.nets.small import SmallCNN
from fer_core.train import Method

__all__ = ["CompareStudy", "G", "PREFIX", "DATA_KEYS"]

#: Settings that decide the data and the folds (every experiment depends on them).
DATA_KEYS = ("size", "channels", "n_identities", "n_frames", "weak_frames", "seen_views", "unseen_view", "folds",
             "nuisance", "idiosyncrasy")
#: Each method's own settings in the profile start with this prefix.
PREFIX = {"FESR": "fesr_", "JESRL": "jesrl_", "FaPE-GAN": "fape_", "GroupGAN": "groupgan_", "Comp-GAN": "compgan_"}
_RECOGNISER_KEYS = ("cnn_width", "lr", "steps", "batch_size", "aug_ratio")


def G(method: str) -> str:
    """The variant name of ``method``'s generator run."""
    return f"{method} G"


def _digest(rows: np.ndarray) -> str:
    return hashlib.sha1(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:12]


class CompareStudy(JudgeMixin, Study):
    """Every experiment of the comparison chapter for one profile, data set and seed (module docstring)."""

    chapter = "compare"
    plan_settings = ("seeds", "n_show", "methods")
    evaluation_settings = ("n_edit", "n_frechet")

    def __init__(self, P: Mapping[str, Any], data: ChapterData, **kwargs: Any):
        super().__init__(P, data, **kwargs)
        self.K = len(data.classes)

    # The comparison's world (or a real dataset), cut by protocol.protocol_splits.
    synthetic_world = staticmethod(world)
    split_rule = staticmethod(protocol_splits)

    # -- what the data holds ---------------------------------------------------------------------------
    @cached_property
    def conditions(self) -> tuple[str, ...]:
        """The conditions this data can form (all four on the synthetic world)."""
        present = set()
        for k in self.folds:
            present |= set(self.test_conditions(k).tolist())
        return tuple(c for c in CONDITIONS if c in present)

    @cached_property
    def n_views(self) -> int:
        return len(seen_views(self.data.dataset.meta, self.P)[0])

    def _has(self, need: str) -> bool:
        if need == "views":
            return self.n_views > 1 and (self.data.synthetic or "landmarks" in self.data.fold(0, "cpu")["train"].data)
        if need == "sequences":
            return "weak" in self.conditions
        raise ValueError(f"unknown data need {need!r}")

    @cached_property
    def methods(self) -> tuple[str, ...]:
        """The profile's methods this data can run (see :attr:`left_out`)."""
        return tuple(m for m in self.P["methods"] if all(self._has(n) for n in adapter(m).needs))

    @property
    def left_out(self) -> dict[str, str]:
        """Methods of the profile this data cannot run, with why."""
        return {m: f"needs {', '.join(adapter(m).needs)}" for m in self.P["methods"] if m not in self.methods}

    def adapter(self, method: str) -> Adapter:
        return adapter(method)

    # -- keys -------------------------------------------------------------------------------------------
    def configuration(self, exp: Experiment) -> dict[str, Any]:
        P = self.P
        data = {k: P[k] for k in DATA_KEYS}
        if exp.variant == "judge":
            return {"profile": {**data, **{k: v for k, v in P.items() if k.startswith("judge_")}}}
        if exp.variant.endswith(" G"):
            m = exp.variant[:-2]
            own = {k: v for k, v in P.items() if k.startswith(PREFIX[m]) or k.startswith("gan_")}
            return {"profile": {**data, **own}}
        return {"profile": {**data, **{k: P[k] for k in _RECOGNISER_KEYS}}}

    # -- the plan ---------------------------------------------------------------------------------------
    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        P = self.P
        if variant == "judge":
            return self.judge_experiment(fold)
        if variant.endswith(" G") and variant[:-2] in ADAPTERS:
            return Experiment(variant, fold, self.seed, after=(self.judge_experiment(fold),),
                              why=("its faces are read by the fold's judge",), cost=3.0 * float(P["gan_steps"]))
        if variant == PLAIN:
            return Experiment(PLAIN, fold, seed, cost=float(P["steps"]))
        if variant in ADAPTERS:
            return Experiment(variant, fold, seed, after=(self.make(G(variant), fold),),
                              why=("trains on the faces its fold's generator makes",), cost=1.2 * float(P["steps"]))
        raise ValueError(f"unknown comparison variant {variant!r}; choose judge, {PLAIN}, one of {list(ADAPTERS)} "
                         "or '<method> G'")

    def plan(self) -> Plan:
        runs: list[Experiment] = []
        for f in self.folds:
            runs.append(self.make("judge", f))
            runs += [self.make(G(m), f) for m in self.methods]
            for s in self.seeds:
                runs += [self.make(PLAIN, f, s)] + [self.make(m, f, s) for m in self.methods]
        return Plan(runs)

    def runs(self, *variants: str) -> list[Experiment]:
        return [e for e in self.experiments if e.variant in variants]

    # -- data helpers -----------------------------------------------------------------------------------
    def faces(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """The faces at dataset ``rows``, decoded on the CPU (``image``, labels, ``landmarks``...)."""
        return MemoryCachedDataset(self.data.dataset.subset(np.asarray(rows, dtype=np.int64)), "cpu").data

    def counterfactual(self, rows: np.ndarray, **changes: Any) -> torch.Tensor | None:
        """The true faces of ``rows`` with ``changes`` (synthetic world only; ``None`` on real data)."""
        if not self.data.synthetic:
            return None
        return self.data.dataset.counterfactual(np.asarray(rows, dtype=np.int64), **changes).float().cpu()

    def test_conditions(self, fold: int) -> np.ndarray:
        """``(N_test,)`` the condition of each test face of ``fold`` (in the test part's order)."""
        cache = self.__dict__.setdefault("_conditions", {})
        if fold not in cache:
            s = self.data.splits[fold]
            cache[fold] = conditions(self.data.dataset.meta, s.test, s.train, self.P)
        return cache[fold]

    def edit_inputs(self, fold: int) -> dict[str, Any]:
        """The faces every method edits on ``fold``: ``n_edit`` test faces (weak frames where the data has
        them, else unseen identities), drawn with the fold's seed; the same for every method."""
        s = self.data.splits[fold]
        cond = self.test_conditions(fold)
        pool = s.test[cond == ("weak" if "weak" in self.conditions else "identity")]
        rows = np.sort(np.random.default_rng(10_000 + fold).permutation(pool)[: int(self.P["n_edit"])])
        data = self.faces(rows)
        meta = self.data.dataset.meta
        out = {"rows": rows, "fold": fold, "image": data["image"], "expression": data["expression"].long(),
               "subjects": meta["subject"].astype(str).to_numpy()[rows]}
        for k in ("view", "landmarks", "identity"):
            if k in data:
                out[k] = data[k]
        if "n_frames" in meta.columns:
            out["peak_frame"] = meta["n_frames"].to_numpy()[rows] - 1
        return out

    def other_views(self, src: Mapping[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor] | None:
        """For each input face, the dataset row of the same person, take and frame in another seen view, and
        that view's code: ``(rows, view codes)``; ``None`` without views."""
        meta = self.data.dataset.meta
        seen, _ = seen_views(meta, self.P)
        if len(seen) < 2:
            return None
        view = meta["view"].astype(str).to_numpy()
        seq = meta["sequence"].astype(str) if "sequence" in meta.columns else pd.Series("", index=meta.index)
        frame = meta["frame"].astype(str) if "frame" in meta.columns else pd.Series("", index=meta.index)
        key = (meta["subject"].astype(str) + "|" + seq + "|" + frame).to_numpy()
        index = {(k, v): i for i, (k, v) in enumerate(zip(key, view))}
        rows = []
        for r in src["rows"]:
            options = [index[(key[r], v)] for v in seen if v != view[r] and (key[r], v) in index]
            if not options:
                raise ValueError(f"face {r} has no recording in another seen view; the edit needs one")
            rows.append(options[int(rng.integers(len(options)))])
        rows = np.asarray(rows, dtype=np.int64)
        return rows, self.faces(rows)["view"].long()

    # -- training -------------------------------------------------------------------------------------------
    def train(self, exp: Experiment) -> Method:
        P = self.P
        if exp.variant == "judge":
            return self.train_judge(exp)
        if exp.variant.endswith(" G"):
            torch.manual_seed(self.seed + exp.fold)
            runtime.seed_everything(self.seed + exp.fold)
            method, seconds = self.adapter(exp.variant[:-2]).fit(self, exp)
            method.train_seconds = seconds
            return method
        fold, seed = exp.fold, exp.seed
        train = self.data.fold(fold, self.device)["train"]
        x, y = train.data["image"], train.data["expression"]
        record: dict[str, Any] = {"generated": 0, "generation_seconds": 0.0}
        if exp.variant != PLAIN:
            a = self.adapter(exp.variant)
            gen = self.train(self.make(G(exp.variant), fold))
            t0 = time.perf_counter()
            fake = a.augment(gen, self, fold, self.n_generated(fold), seed=1_000 * seed + fold)
            record = {"generated": int(len(fake["image"])), "generation_seconds": time.perf_counter() - t0}
            x = torch.cat([x, fake["image"].to(x.device)])
            y = torch.cat([y, fake["expression"].to(y.device).long()])
        torch.manual_seed(seed)
        runtime.seed_everything(seed)
        steps = int(P["steps"])
        method = Classifier(SmallCNN(int(P["channels"]), self.K, width=int(P["cnn_width"])), lr=float(P["lr"]),
                            decay_steps=steps)
        fresh = not self.finished(exp, steps)
        res = self.fit(method, exp, TensorFaces({"image": x, "expression": y}, classes=self.data.classes), steps=steps,
                       batch_size=int(P["batch_size"]))
        record["seconds"] = res.seconds if fresh and res.resumed_from == 0 else math.nan
        method.record = record
        method.nets.eval()
        return method

    def n_generated(self, fold: int) -> int:
        """Generated faces every method adds on ``fold``: ``aug_ratio`` per real training face."""
        return int(round(float(self.P["aug_ratio"]) * len(self.data.splits[fold].train)))

    # -- evaluation -----------------------------------------------------------------------------------------
    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        if exp.variant == "judge":
            return self.evaluate_judge(exp, method)
        if exp.variant.endswith(" G"):
            return self._evaluate_generator(exp, method)
        return self._evaluate_recogniser(exp, method)

    def _evaluate_recogniser(self, exp: Experiment, method: Classifier) -> dict[str, Any]:
        P, s = self.P, self.data.splits[exp.fold]
        test = self.data.fold(exp.fold, self.device)["test"]
        x = test.data["image"]
        if exp.variant != PLAIN:
            x = self.adapter(exp.variant).transform(self.train(self.make(G(exp.variant), exp.fold)), x)
        logits = evaluate.apply(method.net, x, modules=(method.net,))
        y = test.data["expression"].cpu()
        hit = (logits.argmax(1) == y).numpy()
        cond = self.test_conditions(exp.fold)
        acc = {f"acc_{c}": float(hit[cond == c].mean()) if (cond == c).any() else math.nan for c in CONDITIONS}
        present = [acc[f"acc_{c}"] for c in self.conditions]
        acc["acc_mean"] = float(np.mean(present))
        rec = getattr(method, "record", {})
        train = self.data.fold(exp.fold, self.device)["train"]
        batch = {"image": train.data["image"][: int(P["batch_size"])],
                 "expression": train.data["expression"][: int(P["batch_size"])]}
        run = {"variant": exp.variant, "fold": exp.fold, "seed": exp.seed, "train_rows": _digest(s.train),
               "test_rows": _digest(s.test), "n_train_real": len(s.train), "generated": rec.get("generated", 0),
               "steps": int(P["steps"]), "batch_size": int(P["batch_size"]), "lr": float(P["lr"]),
               "recogniser": f"SmallCNN(width={P['cnn_width']})",
               "parameters": int(sum(p.numel() for p in method.net.parameters())),
               "seconds": rec.get("seconds", math.nan), "generation_seconds": rec.get("generation_seconds", 0.0)}
        out = {**acc, "n_test": {c: int((cond == c).sum()) for c in CONDITIONS}, "record": run, "log": self.log(exp)}
        if exp.variant == PLAIN:  # the same network and batch in every variant: its step is measured once
            out["cost"] = step_cost(method, batch, device=self.device)
        return out

    def _evaluate_generator(self, exp: Experiment, method: Method) -> dict[str, Any]:
        P = self.P
        name = exp.variant[:-2]
        a = self.adapter(name)
        cost = a.cost(method, self, exp.fold)
        judge = self.judge(exp.fold)
        feat = judge.nets["expression"]
        train = self.data.fold(exp.fold, self.device)["train"].data["image"].cpu()
        test = self.data.fold(exp.fold, self.device)["test"].data["image"].cpu()
        fake = a.augment(method, self, exp.fold, self.n_generated(exp.fold), seed=exp.fold)["image"]
        n = int(P["n_frechet"])
        pick = lambda x: x[torch.randperm(len(x), generator=torch.Generator().manual_seed(exp.fold))[:n]]  # noqa: E731
        train, test, fake = pick(train), pick(test), pick(fake.clamp(-1, 1))
        fd = evaluate.frechet(feat.features, train, fake, modules=(feat,))
        fd_real = evaluate.frechet(feat.features, train, test, modules=(feat,))
        src = self.edit_inputs(exp.fold)
        e = a.edit(method, self, src, np.random.default_rng(20_000 + exp.fold))
        kw = dict(source=src["image"], subjects=src["subjects"], expression=e["expression"], pose=e["pose"])
        out: dict[str, Any] = {"method": name, "train_seconds": getattr(method, "train_seconds", math.nan),
                               "cost": cost, "frechet": fd, "frechet_real": fd_real,
                               "judge": judge.score(e["fake"], truth=e["truth"], **kw), "log": self.log(exp)}
        if e["truth"] is not None:
            out["judge_truth"] = judge.score(e["truth"], **kw)
        n = int(P["n_show"])
        out["examples"] = {"input": src["image"][:n], "fake": e["fake"][:n].clamp(-1, 1),
                           "truth": None if e["truth"] is None else e["truth"][:n]}
        return out

    # -- tables -------------------------------------------------------------------------------------------------
    @property
    def variants(self) -> list[str]:
        return [PLAIN, *self.methods]

    def values(self) -> pd.DataFrame:
        """One row per recognition run: variant, fold, seed, accuracy per condition and their mean."""
        rows = []
        for e in self.runs(*self.variants):
            r = self.result(e)
            rows.append({"variant": e.variant, "fold": e.fold, "seed": e.seed,
                         **{METRICS[c]: r[METRICS[c]] for c in ("mean", *CONDITIONS)}})
        return pd.DataFrame(rows)

    def records(self) -> pd.DataFrame:
        """The run record of every recognition run (what the protocol gave it)."""
        return pd.DataFrame([self.result(e)["record"] for e in self.runs(*self.variants)])

    def gains(self) -> pd.DataFrame:
        """Per method, condition and replicate: accuracy minus the plain recogniser's on the same fold and seed."""
        v = self.values().set_index(["variant", "fold", "seed"])
        rows = []
        for m in self.methods:
            for c in ("mean", *self.conditions):
                d = (v.loc[m][METRICS[c]] - v.loc[PLAIN][METRICS[c]]).dropna()
                rows += [{"method": m, "condition": c, "fold": f, "seed": s, "gain": g} for (f, s), g in d.items()]
        return pd.DataFrame(rows)

    def accuracy_table(self) -> pd.DataFrame:
        """Accuracy (%) per variant and condition, mean ± std over folds x seeds."""
        v = self.values()
        cols = {"mean": "mean of the conditions", **{c: c for c in self.conditions}}
        out = pd.DataFrame({title: [metrics.mean_std(v[v.variant == m][METRICS[c]].tolist(), scale=100)
                                    for m in self.variants] for c, title in cols.items()}, index=self.variants)
        out["replicates"] = [int((v.variant == m).sum()) for m in self.variants]
        out.index.name = "recogniser"
        return out

    def gain_matrix(self) -> pd.DataFrame:
        """Mean gain (accuracy points) per method (rows) and condition (columns)."""
        g = self.gains()
        return 100 * g.pivot_table(index="method", columns="condition", values="gain", aggfunc="mean").reindex(
            index=list(self.methods), columns=["mean", *self.conditions])

    def generator_results(self, method: str) -> list[dict[str, Any]]:
        return [self.result(e) for e in self.runs(G(method))]

    def cost_table(self) -> pd.DataFrame:
        """Per variant: training wall time, FLOPs per training image and for the whole training, memory."""
        rec = [self.result(e) for e in self.runs(PLAIN)]
        r_flops = float(np.mean([r["cost"]["flops_per_step"] for r in rec]))
        r_sec = float(np.nanmean([r["record"]["seconds"] for r in rec]))
        steps, gsteps = int(self.P["steps"]), int(self.P["gan_steps"])
        rows = [{"method": PLAIN, "generator s / fold": 0.0, "generation s / run": 0.0, "recogniser s / run": r_sec,
                 "generator GFLOP / image": 0.0, "recogniser GFLOP / image": rec[0]["cost"]["flops_per_image"] / 1e9,
                 "training TFLOP / run": r_flops * steps / 1e12,
                 "generator memory MiB": 0.0, "recogniser memory MiB": rec[0]["cost"]["memory_bytes"] / 2**20}]
        for m in self.methods:
            g = self.generator_results(m)
            runs = [self.result(e) for e in self.runs(m)]
            gf = float(np.mean([x["cost"]["flops_per_step"] for x in g]))
            rows.append({"method": m, "generator s / fold": float(np.nanmean([x["train_seconds"] for x in g])),
                         "generation s / run": float(np.mean([x["record"]["generation_seconds"] for x in runs])),
                         "recogniser s / run": float(np.nanmean([x["record"]["seconds"] for x in runs])),
                         "generator GFLOP / image": float(np.mean([x["cost"]["flops_per_image"] for x in g])) / 1e9,
                         "recogniser GFLOP / image": rec[0]["cost"]["flops_per_image"] / 1e9,
                         "training TFLOP / run": (gf * gsteps + r_flops * steps) / 1e12,
                         "generator memory MiB": float(np.mean([x["cost"]["memory_bytes"] for x in g])) / 2**20,
                         "recogniser memory MiB": rec[0]["cost"]["memory_bytes"] / 2**20})
        out = pd.DataFrame(rows).set_index("method")
        out["extra CPU minutes"] = (out["generator s / fold"] + out["generation s / run"]) / 60
        return out

    def synthesis_table(self) -> pd.DataFrame:
        """Per method: Fréchet distance of its faces (and of real test faces) to the real training faces on the
        judge's features, and the judge on its edits (target read, identity kept, distance to the true face)."""
        rows = []
        for m in self.methods:
            res = self.generator_results(m)
            j = pd.DataFrame([r["judge"] for r in res]).mean()
            t = pd.DataFrame([r["judge_truth"] for r in res if "judge_truth" in r]).mean() if "judge_truth" in res[0] \
                else pd.Series(dtype=float)
            target = adapter(m).target
            row = {"method": m, "edit": target, "Fréchet (its faces)": float(np.mean([r["frechet"] for r in res])),
                   "Fréchet (real test faces)": float(np.mean([r["frechet_real"] for r in res]))}
            if target == "intensity":
                row.update({"target read": j.get("intensity_fake", math.nan),
                            "copy": j.get("intensity_source", math.nan),
                            "true face": t.get("intensity_fake", math.nan)})
            else:
                key = "target_pose" if target == "pose" else "target_expression"
                read = j.get(key, math.nan) if target != "expression+pose" else \
                    min(j.get("target_expression", math.nan), j.get("target_pose", math.nan))
                copy_ = j.get(key.replace("target", "source"), math.nan) if target != "expression+pose" else \
                    min(j.get("source_expression", math.nan), j.get("source_pose", math.nan))
                true = t.get(key, math.nan) if target != "expression+pose" else \
                    min(t.get("target_expression", math.nan), t.get("target_pose", math.nan))
                row.update({"target read": read, "copy": copy_, "true face": true})
            row.update({"identity TAR": j.get("identity_tar", math.nan),
                        "identity TAR (true faces)": t.get("identity_tar", math.nan),
                        "PSNR to true face": j.get("psnr", math.nan), "copy PSNR": j.get("copy_psnr", math.nan),
                        "folds": len(res)})
            rows.append(row)
        return pd.DataFrame(rows).set_index("method")

    def gates(self) -> pd.DataFrame:
        """The checks before the claims: the plain recogniser well above chance (it *is* the book's plain
        CNN), and per generator: its edits move the judge's reading of the target at least halfway from a copy
        of the input to the true face (more than a copy where no true face exists), identity kept (TAR at
        least half the true faces'), and closer to the true face than a copy."""
        v = self.values()
        plain = float(v[v.variant == PLAIN].acc_mean.mean())
        rows = [("plain recogniser (the book's plain CNN) at least twice chance", f"{plain:.1%}",
                 f">= {2 / self.K:.1%}", plain >= 2 / self.K)]
        syn = self.synthesis_table()
        for m, r in syn.iterrows():
            if math.isnan(r["true face"]):
                rows.append((f"{m}: the judge reads the target {r['edit']} in its edits more than in a copy",
                             f"{r['target read']:.3f}", f"> {r['copy']:.3f} (copy)",
                             bool(r["target read"] > r["copy"])))
            else:
                bar = r["copy"] + 0.5 * (r["true face"] - r["copy"])
                rows.append((f"{m}: its edits move the judge's reading of the target {r['edit']} at least halfway "
                             "from a copy of the input to the true face", f"{r['target read']:.3f}",
                             f">= {bar:.3f} (copy {r['copy']:.3f}, true face {r['true face']:.3f})",
                             bool(r["target read"] >= bar and r["true face"] > r["copy"])))
            if not math.isnan(r["identity TAR (true faces)"]):
                rows.append((f"{m}: identity kept (judge's TAR)", f"{r['identity TAR']:.1%}",
                             f">= half the true faces' ({r['identity TAR (true faces)']:.1%})",
                             bool(r["identity TAR (true faces)"] > 0
                                  and r["identity TAR"] >= 0.5 * r["identity TAR (true faces)"])))
            if not math.isnan(r["PSNR to true face"]):
                gap = r["PSNR to true face"] - r["copy PSNR"]
                rows.append((f"{m}: closer to the true face than a copy", f"{gap:+.2f} dB", "> 0 dB", bool(gap > 0)))
        return pd.DataFrame(rows, columns=["check", "this run", "target", "passes"]).set_index("check")

    def claims(self):
        return claims(tuple(self.methods), tuple(self.conditions))

    def ledger(self) -> tuple[Ledger, pd.DataFrame]:
        """Every method against the plain recogniser, paired over folds x seeds (the corrected interval)."""
        return tables.ledger(self.values(), self.claims(), replicates=tables.fold_ratio(self.data.splits))

    def examples(self, fold: int = 0) -> dict[str, torch.Tensor]:
        """The figure row: the same input faces and each method's edit of them (and the true faces of one)."""
        out = {"input": None}
        for m in self.methods:
            ex = self.result(self.make(G(m), fold))["examples"]
            out["input"] = ex["input"]
            out[m] = ex["fake"]
        return out
