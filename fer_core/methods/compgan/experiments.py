"""The Comp-GAN chapter's plan: the six F2ED tasks, the generators per episode, the recognisers per seed.

Paper: Comp-GAN / F2ED (Sec. 4.1 tasks T1-T6, Sec. 5.2-5.4, Tables 4-7, Figs. 11-18). The method is
:mod:`fer_core.methods.compgan.method`; this module declares the chapter's experiments for the
shared runner (:mod:`fer_core.experiments`); its tables are :mod:`fer_core.methods.compgan.tables`.

Folds: ``n_episodes`` random episodes of each task of ``P["tasks"]`` at the fewest shots of
``P["shots"]`` (the *main* folds: fold ``t * n_episodes + k``), then the same episodes of the few-shot
tasks at each further shot count (a superset of the main fold's training set: the few shots are
drawn one at a time, so the 1-shot draw is the first of the 5-shot draw; the test set is the same).

Per main fold: ``F_cls`` (the classifier of Eqs. 1-5) on the real training faces, then ``Comp-GAN``
(G(Exp) + G(Pose)), the competitors ``Pix2Pix`` and ``AttGAN``, on ``loop_tasks`` also Comp-GAN
without ``L_loop``, on the first ER-SS episode the loss ablations of Fig. 16, and on
``judge_tasks`` a judge. Per fold and seed: the recogniser "L." (LightCNN-29 v2) on the real faces
and on real + generated faces of each augmenter (the generators of the fold's main episode), the
same number of generated faces and updates for each,
each fine-tuning the episode's F_cls (the paper: "fine-tune the LightCNN-29v2 model"). "+Front", "+Combine" and "Comp-GAN" (Ours)
are read from the trained ``L.+G(Pose)`` and ``L.+G(Pose)+G(Exp)`` recognisers: their features of
pose-normalised faces feed a linear classifier. ER-SS also trains the book's plain CNN.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Mapping

import numpy as np
import torch

from fer_core import evaluate, metrics, runtime
from fer_core.data.f2ed_tasks import FEW_SHOT_TASKS, f2ed_task
from fer_core.data.memory import TensorFaces
from fer_core.experiments import ChapterData, Experiment, Plan, Study
from fer_core.experiments.data import f2ed_like_world
from fer_core.judge import JudgeMixin
from fer_core.methods.classifier import train_plain_cnn
from fer_core.methods.compgan.algorithm import REFERENCES, TAGS, algorithm1
from fer_core.methods.compgan.augment import CHANGES, augment, edit, pick_references, to_poses
from fer_core.methods.compgan.competitors import AttGANEditor, Pix2PixEditor
from fer_core.methods.compgan.method import CompGAN, FclsTraining, Quadruples, codes_of
from fer_core.methods.compgan.nets import CompGANConfig, F_cls, FclsConfig
from fer_core.methods.compgan.paper import (ATT, ATTGAN, BOTH, CNN, EXP, FCLS, FEW_SHOT, GAN, GANS, L, NOLOOP,
                                            NOLOOP_GAN, P2P, PIX2PIX, POSE, RECOGNISERS, curve_variant)
from fer_core.methods.compgan.tables import CompGANTables
from fer_core.train import Method

__all__ = ["CompGANStudy", "FCLS", "GAN", "NOLOOP_GAN", "PIX2PIX", "ATTGAN", "RECOGNISERS", "ablation_name"]



def ablation_name(term: str) -> str:
    """The generator experiment of Fig. 16 trained without loss ``term``."""
    return f"Comp-GAN w/o L_{term} (G)"


def fold_layout(P: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """``(task, shots, episode)`` of every fold, in fold order (module docstring)."""
    shots = sorted(int(s) for s in P["shots"])
    E = int(P["n_episodes"])
    out = [(t, shots[0] if t in FEW_SHOT_TASKS else 0, k) for t in P["tasks"] for k in range(E)]
    out += [(t, s, k) for t in P["tasks"] if t in FEW_SHOT_TASKS for s in shots[1:] for k in range(E)]
    return out


def task_splits(P: Mapping[str, Any]):
    """``splits(dataset, seed)`` for :func:`~fer_core.experiments.prepare_data`, in :func:`fold_layout` order."""

    def splits(ds, seed: int):
        return [f2ed_task(ds.meta, t, shots=s or None, seed=1_000 * seed + k, paper="compgan")
                for t, s, k in fold_layout(P)]

    return splits


class CompGANStudy(CompGANTables, JudgeMixin, Study):
    """Every experiment of the Comp-GAN chapter for one profile, data set and seed."""

    chapter = "compgan"
    plan_settings = ("seeds", "shot_seeds", "n_show", "judge_tasks", "loop_tasks", "ablations", "curve",
                     "shot_variants")
    evaluation_settings = ("n_pairs", "set_threshold", "probe_steps", "n_embed")

    def __init__(self, P: Mapping[str, Any], data: ChapterData, **kwargs: Any):
        super().__init__(P, data, **kwargs)
        self.K = len(data.classes)
        self.layout = fold_layout(self.P)
        views = getattr(data.dataset, "views", None)
        self.views = tuple(views) if views else tuple(sorted(data.dataset.meta["view"].astype(str).unique()))

    # The F2ED-like synthetic world or F2ED-style folders, cut into the six tasks (module docstring).
    synthetic_world = staticmethod(f2ed_like_world)
    split_rule = staticmethod(task_splits)

    # -- folds ------------------------------------------------------------------------------------------
    @property
    def n_episodes(self) -> int:
        return int(self.P["n_episodes"])

    @property
    def shots(self) -> list[int]:
        return sorted(int(s) for s in self.P["shots"])

    @property
    def shot_seeds(self) -> list[int]:
        """The seeds of the few-shot episodes' shot comparison (``seeds`` and ``shot_seeds``): the shots
        claim pairs few-shot tasks x episodes x these seeds; the tables read ``seeds`` only."""
        return sorted({*self.seeds, *(int(s) for s in self.P["shot_seeds"])})

    def has_shots(self, task: str) -> bool:
        """Whether ``task`` is run at more than one shot count (the shots claim's episodes)."""
        return task in FEW_SHOT and len(self.shots) > 1

    def fold_of(self, task: str, shots: int | None = None, episode: int = 0) -> int:
        s = (self.shots[0] if task in FEW_SHOT_TASKS else 0) if shots is None else int(shots)
        try:
            return self.layout.index((task, s, int(episode)))
        except ValueError:
            raise ValueError(f"no fold for {task} at {s} shot(s), episode {episode}; this profile runs "
                             f"{sorted(set(self.layout))}") from None

    def main_fold(self, fold: int) -> int:
        """The fold whose generators serve ``fold`` (the same task and episode at the fewest shots)."""
        t, _, k = self.layout[fold]
        return self.fold_of(t, None, k)

    @property
    def main_folds(self) -> list[int]:
        return [f for f in range(len(self.layout)) if self.main_fold(f) == f]

    def task(self, fold: int) -> str:
        return self.layout[fold][0]

    def judged(self, fold: int) -> bool:
        return self.main_fold(fold) == fold and self.task(fold) in tuple(self.P["judge_tasks"])

    @property
    def ablation_fold(self) -> int | None:
        return self.fold_of(self.P["tasks"][0], None, 0) if self.P["ablations"] else None

    # -- configuration ------------------------------------------------------------------------------------
    @cached_property
    def n_identities(self) -> int:
        return int(max(int(s.data["identity"].max()) for s in
                       [self.data.fold(0, "cpu")["train"], self.data.fold(0, "cpu")["test"]]) + 1)

    @cached_property
    def gan_config(self) -> CompGANConfig:
        P = self.P
        return CompGANConfig(image_size=int(P["size"]), channels=int(P["channels"]), width=int(P["gan_width"]),
                             n_expressions=self.K, n_poses=len(self.views), label_maps=bool(P["label_maps"]),
                             residual=bool(P["gan_residual"]))

    def fcls_config(self) -> FclsConfig:
        P = self.P
        return FclsConfig(n_expressions=self.K, n_poses=len(self.views), n_identities=self.n_identities,
                          channels=int(P["channels"]), input_size=int(P["size"]), widths=tuple(P["cls_widths"]),
                          layers=tuple(P["cls_layers"]), feature_dim=int(P["cls_feature_dim"]),
                          dropout=float(P["cls_dropout"]), batch_norm=bool(P["cls_bn"]))

    def configuration(self, exp: Experiment) -> dict[str, Any]:
        P = self.P
        pick = lambda *prefixes, extra=(): {k: P[k] for k in P if k.startswith(prefixes) or k in extra}  # noqa: E731
        if exp.variant == "judge":
            return {"profile": pick("judge_")}
        if exp.variant == FCLS:
            return {"profile": pick("cls_", extra=("lr_step_epochs",))}
        if exp.variant in GANS or exp.variant.startswith("Comp-GAN w/o"):
            return {"profile": pick("gan_", extra=("label_maps", "lam", "mu", "gamma", "per_source"))}
        return {"profile": pick("cls_", "rec_", "cnn_", extra=("lr_step_epochs", "n_per_class"))}

    # -- the plan ---------------------------------------------------------------------------------------------
    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        P = self.P
        if variant == "judge":
            return self.judge_experiment(fold)
        gan_cost = float(P["gan_steps"]) * 4
        if variant == FCLS:
            return Experiment(FCLS, fold, self.seed, cost=float(P["cls_steps"]))
        if variant in GANS or variant.startswith("Comp-GAN w/o"):
            after = [self.make(FCLS, fold)] if variant not in (PIX2PIX, ATTGAN) else []
            why = ["its losses read F_cls of the same episode"] if after else []
            if self.judged(fold):
                after.append(self.make("judge", fold))
                why.append("its faces are scored by the judge of the episode")
            cost = gan_cost if after and variant not in (PIX2PIX, ATTGAN) else gan_cost / 4
            return Experiment(variant, fold, self.seed, after=tuple(after), why=tuple(why), cost=cost)
        cost = float(P["rec_steps"])
        if variant == CNN:
            return Experiment(CNN, fold, seed, cost=cost + float(P["cls_steps"]))
        name, n = self._recogniser(variant)
        source = RECOGNISERS[name]
        after = [self.make(FCLS, self.main_fold(fold))]
        why = ["fine-tunes the episode's F_cls"]
        if source is not None:
            after.append(self.make(source[0], self.main_fold(fold)))
            why.append(f"trains on the faces {source[1]} generates")
        return Experiment(variant, fold, seed, after=tuple(after), why=tuple(why), cost=cost)

    def _recogniser(self, variant: str) -> tuple[str, int]:
        """``(recogniser name, faces per class)`` of a recogniser variant (a curve point names its count)."""
        if variant in RECOGNISERS:
            return variant, int(self.P["n_per_class"])
        for n in self.P["curve"]:
            if variant == curve_variant(int(n)):
                return BOTH, int(n)
        raise ValueError(f"unknown Comp-GAN chapter variant {variant!r}; choose judge, {FCLS}, {GAN}, {NOLOOP_GAN}, "
                         f"{PIX2PIX}, {ATTGAN}, {CNN} or a recogniser of {list(RECOGNISERS)}")

    @cached_property
    def curve_fold(self) -> int | None:
        if not self.P["curve"] or "ER-FE" not in self.P["tasks"]:
            return None
        return self.fold_of("ER-FE", self.shots[-1], 0)

    def plan(self) -> Plan:
        P = self.P
        runs: list[Experiment] = []
        recs = [L, P2P, ATT, POSE, EXP, BOTH]
        for f in range(len(self.layout)):
            task = self.task(f)
            main = self.main_fold(f) == f
            if main:
                runs += [self.make(FCLS, f), self.make(GAN, f), self.make(PIX2PIX, f), self.make(ATTGAN, f)]
                if self.judged(f):
                    runs.append(self.make("judge", f))
                if task in tuple(P["loop_tasks"]):
                    runs.append(self.make(NOLOOP_GAN, f))
            for s in self.seeds:
                if main:
                    runs += [self.make(v, f, s) for v in recs]
                    if task in tuple(P["loop_tasks"]):
                        runs.append(self.make(NOLOOP, f, s))
                    if task == "ER-SS":
                        runs.append(self.make(CNN, f, s))
                if f == self.curve_fold:
                    runs += [self.make(curve_variant(int(n)), f, s) for n in P["curve"]
                             if int(n) != int(P["n_per_class"])]
            for s in self.shot_seeds if self.has_shots(task) else ():
                if not main:
                    runs += [self.make(v, f, s) for v in P["shot_variants"]]
                elif s not in self.seeds:  # the shots claim's extra replicates: its two recognisers only
                    runs += [self.make(v, f, s) for v in (L, BOTH)]
        if self.ablation_fold is not None:
            runs += [self.make(ablation_name(t), self.ablation_fold) for t in P["ablations"]]
        return Plan(runs)

    def runs(self, *variants: str, folds: list[int] | None = None) -> list[Experiment]:
        return [e for e in self.experiments if e.variant in variants and (folds is None or e.fold in folds)]

    # -- training ------------------------------------------------------------------------------------------------
    def _lr_step(self, n_train: int, batch_size: int) -> int:
        return max(1, int(self.P["lr_step_epochs"]) * max(1, n_train // batch_size))

    def _gan_method(self, variant: str, fold: int) -> Method:
        P = self.P
        cfg = self.gan_config
        if variant == PIX2PIX:
            return Pix2PixEditor(cfg, lr=float(P["gan_lr"]))
        if variant == ATTGAN:
            return AttGANEditor(cfg, lr=float(P["gan_lr"]))
        drop = ("loop",) if variant == NOLOOP_GAN else ()
        for t in P["ablations"]:
            if variant == ablation_name(t):
                drop = (t,)
        Fc = self.train(self.make(FCLS, fold)).net
        return CompGAN(cfg, Fc, lam=dict(P["lam"]), mu=dict(P["mu"]), gamma=tuple(P["gamma"]), drop=drop,
                       lr=float(P["gan_lr"]))

    def train(self, exp: Experiment) -> Method:
        P = self.P
        if exp.variant == "judge":
            return self.train_judge(exp)
        train = self.data.fold(exp.fold, self.device)["train"]
        if exp.variant == FCLS:
            torch.manual_seed(self.seed + exp.fold)
            bs = int(P["cls_batch_size"])
            method = FclsTraining(F_cls(self.fcls_config()), probe_heads=tuple(P["cls_probe_heads"]),
                                  lr=float(P["cls_lr"]), lr_step=self._lr_step(len(train), bs))
            self.fit(method, exp, train, steps=int(P["cls_steps"]), batch_size=bs, seed=self.seed + exp.fold)
            method.nets.eval()
            return method
        if exp.variant in GANS or exp.variant.startswith("Comp-GAN w/o"):
            torch.manual_seed(self.seed + exp.fold)
            method = self._gan_method(exp.variant, exp.fold)
            self.fit(method, exp, Quadruples(train, per_source=int(P["per_source"]), seed=self.seed + exp.fold),
                     steps=int(P["gan_steps"]), batch_size=int(P["gan_batch_size"]), seed=self.seed + exp.fold)
            method.nets.eval()
            return method
        steps, bs = int(P["rec_steps"]), int(P["rec_batch_size"])
        if exp.variant == CNN:  # as many updates as F_cls and its fine-tuning together
            return train_plain_cnn(self, exp, train, steps=steps + int(P["cls_steps"]), batch_size=bs,
                                   lr=float(P["cnn_lr"]), decay=True)
        torch.manual_seed(exp.seed)
        runtime.seed_everything(exp.seed)
        data: Any = train
        fake = self.generated(exp)
        if fake is not None:
            data = TensorFaces({"image": torch.cat([train.data["image"].cpu(), fake["image"]]).to(self.device),
                                "expression": torch.cat([train.data["expression"].cpu(),
                                                         fake["expression"]]).to(self.device)},
                               classes=self.data.classes)
        base = self.train(self.make(FCLS, self.main_fold(exp.fold))).net
        net = F_cls(self.fcls_config())
        net.load_state_dict(base.state_dict())
        torch.manual_seed(exp.seed)
        method = FclsTraining(net.to(self.device), heads=("expression",), lr=float(P["rec_lr"]),
                              lr_step=self._lr_step(len(train), bs))
        self.fit(method, exp, data, steps=steps, batch_size=bs)
        method.nets.eval()
        return method

    def novel(self, fold: int) -> tuple[str, list[int]]:
        """``(novel_by, codes)``: the task's novel attribute and the codes of its novel classes in the
        training set (empty where train holds none: zero-shot tasks and ER-SS)."""
        split = self.data.splits[fold]
        by = {"expression": "expression", "view": "view", "subject": "subject"}.get(getattr(split, "novel_by", ""), "")
        rows = getattr(split, "novel_train", np.zeros(0, np.int64))
        if not by or not len(rows):
            return by, []
        pos = np.flatnonzero(np.isin(split.train, rows))
        codes = codes_of(self.data.fold(fold, "cpu")["train"].data, "the novel classes")
        col = {"subject": 0, "expression": 1, "view": 2}[by]
        return by, sorted(int(c) for c in np.unique(codes[pos, col]))

    def generators(self, variant: str, fold: int) -> dict[str, torch.nn.Module]:
        """The trained editors of a generator experiment, on the CPU: ``G_Pose`` + ``G_Exp`` or ``G``."""
        nets = self.train(self.make(variant, self.main_fold(fold))).nets
        keys = ("G",) if variant in (PIX2PIX, ATTGAN) else ("G_Pose", "G_Exp")
        return {k: nets[k].cpu().eval() for k in keys}

    def generated(self, exp: Experiment) -> dict[str, torch.Tensor] | None:
        """The generated faces a recogniser trains on (None for "L.")."""
        name, n = self._recogniser(exp.variant)
        source = RECOGNISERS[name]
        if source is None or n == 0:
            return None
        train = self.data.fold(exp.fold, self.device)["train"]
        by, novel = self.novel(exp.fold)
        return augment(source[1], self.generators(source[0], exp.fold), train, novel_by=by, novel=novel,
                       n_per_class=n, seed=1_000 * exp.seed + exp.fold)

    # -- evaluation --------------------------------------------------------------------------------------------
    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        if exp.variant == "judge":
            return self.evaluate_judge(exp, method)
        if exp.variant == FCLS:
            test = self.data.fold(exp.fold, self.device)["test"]
            return {"accuracy": evaluate.classify(_Head(method.net, "expression"), test, num_classes=self.K)["accuracy"],
                    "log": self.log(exp)}
        if exp.variant in GANS or exp.variant.startswith("Comp-GAN w/o"):
            return self._score_gan(exp)
        test = self.data.fold(exp.fold, self.device)["test"]
        if exp.variant == CNN:
            s = evaluate.classify(method.nets["net"], test, num_classes=self.K)
            return {"accuracy": s["accuracy"], "log": self.log(exp)}
        net = method.net
        logits, y = evaluate.predict(_Head(net, "expression"), test)
        out: dict[str, Any] = {"accuracy": float((logits.argmax(1) == y).double().mean()), "y_true": y,
                               "y_pred": logits.argmax(1), "log": self.log(exp)}
        out.update(self._attributes(logits.softmax(1), y, prefix=""))
        name, _ = self._recogniser(exp.variant)
        if exp.variant in (POSE, BOTH):
            out.update(self._pose_normalised(exp, net, y))
        return out

    def _attributes(self, probs: torch.Tensor, y: torch.Tensor, *, prefix: str) -> dict[str, float]:
        Y = torch.nn.functional.one_hot(y.long(), self.K).bool()
        m = metrics.attribute_metrics(Y, metrics.predicted_sets(probs, threshold=float(self.P["set_threshold"])))
        return {f"{prefix}{k}": v for k, v in m.items()}

    def _pose_normalised(self, exp: Experiment, net: F_cls, y_test: torch.Tensor) -> dict[str, Any]:
        """"+Front" and "+Combine" (Sec. 5.3 variants 3-4, and "Ours" for ``L.+G(Pose)+G(Exp)``): the real
        training and test faces turned into every view by the fold's G(Pose), features concatenated."""
        parts = self.data.fold(exp.fold, self.device)
        G = self.generators(GAN, exp.fold)["G_Pose"]
        views = sorted(int(v) for v in torch.unique(parts["train"].data["view"]).tolist())  # G(Pose) knows these
        front = self.views.index("front") if "front" in self.views else views[0]
        front = front if front in views else views[0]
        feats = {}
        net = net.cpu()
        for part in ("train", "test"):
            x = parts[part].data["image"].cpu()
            posed = to_poses(G, x, parts["train"], views=views, seed=exp.seed + (part == "test"))
            feats[part] = {"input": evaluate.features(net.features, x, modules=(net,)),
                           **{v: evaluate.features(net.features, posed[v], modules=(net,)) for v in views}}
        y_train = parts["train"].data["expression"].cpu()
        out = {}
        for name, keys in (("front", [front]), ("combine", ["input", *views])):
            f_tr = torch.cat([feats["train"][k] for k in keys], 1)
            f_te = torch.cat([feats["test"][k] for k in keys], 1)
            predict = evaluate.linear_probe(f_tr, y_train, self.K, steps=int(self.P["probe_steps"]), seed=exp.seed)
            logits = predict(f_te)
            out[f"{name}_accuracy"] = float((logits.argmax(1) == y_test).double().mean())
            out.update(self._attributes(logits.softmax(1), y_test, prefix=f"{name}_"))
        return out

    def test_edits(self, fold: int, n: int, kind: str) -> dict[str, Any]:
        """Up to ``n`` test faces of ``fold`` with random targets (another expression and/or view, as ``kind``
        changes), references from the training faces and, on the synthetic world, the true face."""
        parts = self.data.fold(fold, "cpu")
        test, train = parts["test"], parts["train"]
        tc, rc = codes_of(test.data, "the judge's edits"), codes_of(train.data, "the judge's edits")
        rng = np.random.default_rng(20_000 + fold)
        rows = rng.permutation(len(tc))[:n]
        exprs, views = np.unique(rc[:, 1]), np.unique(rc[:, 2])
        changes = CHANGES[kind]
        et = np.array([rng.choice(exprs[exprs != tc[r, 1]]) if "expression" in changes else tc[r, 1] for r in rows])
        pt = np.array([rng.choice(views[views != tc[r, 2]]) if "pose" in changes else tc[r, 2] for r in rows])
        refs = np.array([pick_references(rc, kind, tc[r, 0], tc[r, 1], tc[r, 2], e, p, rng)
                         for r, e, p in zip(rows, et, pt)]).reshape(-1, 3)
        img = train.data["image"]
        out = {"source": test.data["image"][torch.from_numpy(rows)], "et": torch.from_numpy(et),
               "pt": torch.from_numpy(pt), "ref_pose": img[torch.from_numpy(refs[:, 0])],
               "ref_exp": img[torch.from_numpy(refs[:, 1])], "ref_both": img[torch.from_numpy(refs[:, 2])],
               "subjects": tc[rows, 0], "rows": self.data.splits[fold].test[rows]}
        out["truth"] = self._truth(out["rows"], et, pt)
        return out

    def _truth(self, rows: np.ndarray, et: np.ndarray, pt: np.ndarray) -> torch.Tensor | None:
        ds = self.data.dataset
        if not hasattr(ds, "counterfactual"):
            return None
        from fer_core.data.synthetic import VIEWS

        yaw = np.array([VIEWS[self.views[int(p)]][0] for p in pt])
        pitch = np.array([VIEWS[self.views[int(p)]][1] for p in pt])
        return ds.counterfactual(rows, expression=et, yaw=yaw, pitch=pitch).cpu()

    def _score_gan(self, exp: Experiment) -> dict[str, Any]:
        """A generator's faces on the fold's test faces, read by the judge (judged folds), and the figures' examples."""
        P = self.P
        nets = self.generators(exp.variant, exp.fold)
        kinds = ("Pix2Pix",) if exp.variant == PIX2PIX else ("AttGAN",) if exp.variant == ATTGAN else \
            ("G(Pose)", "G(Exp)", "G(Pose)+G(Exp)")
        out: dict[str, Any] = {"log": self.log(exp), "kinds": list(kinds)}
        for kind in kinds:
            e = self.test_edits(exp.fold, int(P["n_pairs"]), kind)
            fake = edit(kind, nets, e["source"], ref_pose=e["ref_pose"], ref_exp=e["ref_exp"], ref_both=e["ref_both"],
                        et=e["et"], pt=e["pt"])
            r: dict[str, Any] = {"n": len(fake)}
            if e["truth"] is not None:
                r["l1_per_face"] = (fake.clamp(-1, 1) - e["truth"]).abs().mean((1, 2, 3))
                r.update(l1=float(r["l1_per_face"].mean()), copy_l1=float((e["source"] - e["truth"]).abs().mean()))
            if self.judged(exp.fold):
                judge = self.judge(exp.fold)
                r["judge"] = judge.score(fake, source=e["source"], subjects=e["subjects"], expression=e["et"],
                                         pose=e["pt"], truth=e["truth"])
                r["judge_expression"] = judge.expression(fake)
                r["judge_pose"] = judge.view(fake)
                r["identity_cosine"] = torch.nn.functional.cosine_similarity(
                    judge.identity_features(e["source"]), judge.identity_features(fake), dim=1)
                r["et"], r["pt"] = e["et"], e["pt"]
                m = min(len(fake), int(P["n_embed"]))
                r["embed"] = {"source": judge.identity_features(e["source"][:m]),
                              "fake": judge.identity_features(fake[:m]), "subjects": torch.as_tensor(e["subjects"][:m])}
                if e["truth"] is not None:
                    r["judge_truth"] = judge.score(e["truth"], source=e["source"], subjects=e["subjects"],
                                                   expression=e["et"], pose=e["pt"])
            k = int(P["n_show"])
            r["examples"] = torch.stack([e["source"][:k], e["ref_both" if kind == "Pix2Pix" else
                                                          "ref_pose" if kind == "G(Pose)" else "ref_exp"][:k],
                                         fake[:k]] + ([e["truth"][:k]] if e["truth"] is not None else []), 1)
            out[kind] = r
        if exp.variant not in (PIX2PIX, ATTGAN):
            out["algorithm1"] = self._algorithm1_examples(exp.fold, nets, int(P["n_show"]))
        return out

    def _algorithm1_examples(self, fold: int, nets: Mapping[str, torch.nn.Module], n: int) -> dict[str, Any]:
        """Algorithm 1 on up to ``n`` test faces with references of one training identity (Fig. 7's layout)."""
        parts = self.data.fold(fold, "cpu")
        tc, rc = codes_of(parts["test"].data, "Algorithm 1"), codes_of(parts["train"].data, "Algorithm 1")
        where = {tuple(c): i for i, c in enumerate(rc)}
        rng = np.random.default_rng(30_000 + fold)
        src, refs = [], {k: [] for k in REFERENCES}
        labels = {k: [] for k in ("ps", "pt", "es", "et")}
        ids = np.unique(rc[:, 0])
        for r in rng.permutation(len(tc)):
            i, es, ps = tc[r]
            et = int(rng.choice(np.unique(rc[:, 1])[np.unique(rc[:, 1]) != es]))
            pt = int(rng.choice(np.unique(rc[:, 2])[np.unique(rc[:, 2]) != ps]))
            for ir in rng.permutation(ids[ids != i]):
                want = {("pt", "es"): (ir, es, pt), ("ps", "et"): (ir, et, ps), ("pt", "et"): (ir, et, pt),
                        ("ps", "es"): (ir, es, ps)}
                if all(w in where for w in want.values()):
                    src.append(r)
                    for k, w in want.items():
                        refs[k].append(where[w])
                    for k, v in zip(("ps", "pt", "es", "et"), (ps, pt, es, et)):
                        labels[k].append(int(v))
                    break
            if len(src) >= n:
                break
        if not src:
            return {}
        img = parts["train"].data["image"]
        x = parts["test"].data["image"][torch.as_tensor(src)]
        R = {k: img[torch.as_tensor(v)] for k, v in refs.items()}
        lab = {k: torch.as_tensor(v) for k, v in labels.items()}
        with evaluate.eval_mode(*nets.values()):
            fakes = algorithm1(nets["G_Pose"], nets["G_Exp"], x, R, lab if self.gan_config.label_maps else None)
        rows = self.data.splits[fold].test[np.asarray(src)]
        truth = {}
        if hasattr(self.data.dataset, "counterfactual"):
            for p, e in (("pt", "es"), ("ps", "et"), ("pt", "et")):
                truth[f"(it,{p},{e})"] = self._truth(rows, lab[e].numpy(), lab[p].numpy())
        return {"source": x, "references": {f"(ir,{p},{e})": v for (p, e), v in R.items()},
                "fakes": {t: fakes[t].float() for t in TAGS}, "truth": truth, "labels": lab,
                "subjects": tc[np.asarray(src), 0]}


class _Head(torch.nn.Module):
    """One head of F_cls as a plain ``(B, K)`` logits network (for :mod:`fer_core.evaluate`)."""

    def __init__(self, net: F_cls, head: str):
        super().__init__()
        self.net, self.head = net, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[self.head]

