"""The GroupGAN chapter's plan: data, the judge, the pre-trainings, the four frameworks on several BaseNets.

Paper: "GroupGAN: weak expression recognition by magnifying expressions" (Niu et al., KBS 2022;
Sec. 4, Tables 1-2, Figs. 4-5). The method is :mod:`fer_core.methods.groupgan.method`; this
module declares the chapter's experiments for the shared runner and builds its tables.

Variants are named ``"<framework>/<BaseNet>"``. Per fold and seed:

- ``judge``: the independent judge of generated faces (:mod:`fer_core.judge`), once per fold;
- ``plainCNN``: the book's plain CNN on the same frames and as many updates as the CNN framework
  (its pre-training included): the reference every BaseNet's CNN must reach on peak frames;
- ``G_pre``: Algorithm 1's pre-training of G's encoder-decoder on faces;
- ``E_pre/<b>``: Algorithm 1's pre-training of E (with C) on peak faces, per BaseNet ``b``;
- ``CNN/<b>``, ``DCGAN/<b>``, ``1V2/<b>``, ``2V2/<b>``: Table 1's frameworks, each continuing from
  ``E_pre/<b>`` (and ``G_pre``) for ``steps`` iterations; the GAN frameworks are scored by the judge.

The main BaseNet runs every fold and every seed of ``seeds`` (the claims' replicates); the other
BaseNets of Table 1 run ``table_seeds`` on the first ``table_folds`` folds.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from fer_core import evaluate, metrics, runtime
from fer_core.claims import Ledger
from fer_core.experiments import ChapterData, Experiment, Plan, Study, tables
from fer_core.judge import JudgeMixin
from fer_core.methods.classifier import train_plain_cnn
from fer_core.methods.groupgan import evaluation as ev
from fer_core.methods.groupgan import sketch as sk
from fer_core.methods.groupgan.method import (FRAMEWORKS, AutoencoderPretraining, Frames, GroupGAN,
                                              GroupGANSettings, PairedFrames, PeakPretraining, continue_from,
                                              predict)
from fer_core.methods.groupgan.nets import GroupGANConfig
from fer_core.methods.groupgan.paper import PAPER_TABLE_1, PSEUDO, claims
from fer_core.train import Method

__all__ = ["GroupGANStudy", "SIX_BASIC", "variant_name", "parse_variant"]

#: The six classes of the paper's CK+ / Oulu-CASIA mix (Table 2), as the synthetic world names them.
SIX_BASIC = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
_DATA_KEYS = ("size", "channels", "n_identities", "n_frames", "folds", "nuisance", "idiosyncrasy")


def variant_name(framework: str, basenet: str) -> str:
    return f"{framework}/{basenet}"


def parse_variant(variant: str) -> tuple[str, str | None]:
    """``"2V2/vgg13"`` -> ``("2V2", "vgg13")``; ``"G_pre"`` -> ``("G_pre", None)``."""
    head, _, tail = variant.partition("/")
    return head, (tail or None)


def _synthetic(P: Mapping[str, Any], seed: int):
    from fer_core.data.synthetic import SyntheticFaces

    ds = SyntheticFaces(identities=int(P["n_identities"]), expressions=SIX_BASIC, n_frames=int(P["n_frames"]),
                        size=int(P["size"]), channels=int(P["channels"]), seed=seed, nuisance=float(P["nuisance"]),
                        idiosyncrasy=float(P["idiosyncrasy"]))
    return ds, (f"synthetic CK+/Oulu-like world ({P['n_identities']} identities, 6 classes, neutral-to-peak "
                f"sequences of {P['n_frames']} frames, lab-like: nuisance {P['nuisance']}, idiosyncrasy "
                f"{P['idiosyncrasy']})")


class GroupGANStudy(JudgeMixin, Study):
    """Every experiment of the GroupGAN chapter for one profile, data set and seed."""

    chapter = "groupgan"
    plan_settings = ("seeds", "table_seeds", "table_folds", "basenets")
    evaluation_settings = ("n_show", "n_pairs")

    def __init__(self, P: Mapping[str, Any], data: ChapterData, **kwargs: Any):
        super().__init__(P, data, **kwargs)
        self.K = len(data.classes)
        if self.main not in self.basenets:
            raise ValueError(f"the profile's main BaseNet {self.main!r} must be one of basenets {self.basenets}")

    # Whole neutral-to-peak sequences (the synthetic world, or CK+ / Oulu-CASIA from data_root) in
    # P["folds"] subject-independent folds; the weak/peak frame rule is applied per fold by the study
    # (weak = frames 6-8, peak = the last), since the intensity curve also reads the other frames.
    synthetic_world = staticmethod(_synthetic)

    # -- configuration ---------------------------------------------------------------------------------
    @property
    def basenets(self) -> tuple[str, ...]:
        return tuple(self.P["basenets"])

    @property
    def main(self) -> str:
        return str(self.P["main_basenet"])

    @property
    def weak(self) -> tuple[int, int]:
        return tuple(int(f) for f in self.P["weak_frames"])

    def gan_config(self) -> GroupGANConfig:
        P = self.P
        return GroupGANConfig.at(int(P["size"]), width=int(P["gan_width"]), channels=int(P["channels"]),
                                 cond_dim=int(P["fc"][-1]), residual=bool(P["residual_G"]))

    def settings(self, framework: str, basenet: str) -> GroupGANSettings:
        P = self.P
        return GroupGANSettings(framework=framework, basenet=basenet, num_classes=self.K, gan=self.gan_config(),
                                fc=tuple(P["fc"]), dropout=float(P["dropout"]), alpha_G=float(P["adv"]),
                                beta_G=float(P["adv"]), alpha_E=float(P["adv"]), beta_E=float(P["adv"]),
                                gamma_G=float(P["gamma_G"]), lr=float(P["lr"]), lr_C=float(P["lr_C"]),
                                optimizer=str(P["optimizer"]), crop_pad=int(P["crop_pad"]), flip=bool(P["flip"]))

    def seeds_of(self, basenet: str) -> list[int]:
        return self.seeds if basenet == self.main else [self.seed + int(s) for s in self.P["table_seeds"]]

    def configuration(self, exp: Experiment) -> dict[str, Any]:
        if exp.variant == "judge":
            return {"profile": {k: v for k, v in self.P.items() if k.startswith("judge_") or k in _DATA_KEYS}}
        return super().configuration(exp)

    def steps_of(self, variant: str) -> int:
        """Iterations: ``G_pre`` ``g_pre_steps``, ``E_pre`` ``pre_steps``, every framework ``steps`` after
        them, the plain CNN ``pre_steps + steps`` (as many updates as the CNN framework with its pre-training)."""
        head, _ = parse_variant(variant)
        P = self.P
        return {"G_pre": int(P["g_pre_steps"]), "E_pre": int(P["pre_steps"]), "judge": int(P["judge_steps"]),
                "sketch": int(P["sketch_steps"]),
                "plainCNN": int(P["pre_steps"]) + int(P["steps"])}.get(head, int(P["steps"]))

    # -- the plan --------------------------------------------------------------------------------------
    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        head, basenet = parse_variant(variant)
        if variant == "judge":
            return self.judge_experiment(fold)
        cost = float(self.steps_of(variant)) * {"2V2": 3.4, "1V2": 2.1, "DCGAN": 1.3, "CNN": 1.0, "E_pre": 1.0,
                                                "G_pre": 0.2, "plainCNN": 0.2}.get(head, 1.0)
        if variant in ("G_pre", "plainCNN", "sketch"):
            return Experiment(variant, fold, seed, cost=cost)
        if basenet not in self.basenets or head not in ("E_pre", *FRAMEWORKS):
            raise ValueError(f"unknown GroupGAN variant {variant!r}; use judge, G_pre, plainCNN, or "
                             f"'<E_pre|{'|'.join(FRAMEWORKS)}>/<BaseNet>' with a BaseNet of {self.basenets}")
        if head == "E_pre":
            return Experiment(variant, fold, seed, cost=cost)
        after, why = [self.make(variant_name("E_pre", basenet), fold, seed)], ["continues from E's pre-training"]
        if head != "CNN":
            after += [self.make("G_pre", fold, seed), self.make("judge", fold)]
            why += ["continues from G's pre-training", "is scored by the judge of its fold"]
        return Experiment(variant, fold, seed, after=tuple(after), why=tuple(why), cost=cost)

    def plan(self) -> Plan:
        runs = []
        for k in self.folds:
            runs += [self.make("plainCNN", k, s) for s in self.seeds]
            for b in self.basenets:
                if b == self.main or k < int(self.P["table_folds"]):
                    runs += [self.make(variant_name(f, b), k, s) for s in self.seeds_of(b) for f in FRAMEWORKS]
        return Plan([*runs, self.make("sketch", 0, self.seeds[0])])

    def runs(self, *heads: str) -> list[Experiment]:
        """The planned framework runs (and plain CNNs) whose framework is one of ``heads`` (all when none)."""
        keep = ("plainCNN", *FRAMEWORKS)
        return [e for e in self.experiments if parse_variant(e.variant)[0] in keep
                and (not heads or parse_variant(e.variant)[0] in heads)]

    # -- data of a fold ----------------------------------------------------------------------------------
    def roles(self, fold: int, part: str) -> dict[str, np.ndarray]:
        cache = self.__dict__.setdefault("_roles", {})
        if (fold, part) not in cache:
            cache[(fold, part)] = ev.frame_roles(self.data.fold(fold, self.device)[part].meta, self.weak)
        return cache[(fold, part)]

    def _train_sets(self, fold: int) -> dict[str, Any]:
        train = self.data.fold(fold, self.device)["train"]
        x, y, r = train.data["image"], train.data["expression"], self.roles(fold, "train")
        return {"pairs": PairedFrames(x, y, r["pairs"]), "peak": Frames(x, y, r["peak"]),
                "faces": Frames(x, y, np.union1d(r["weak"], r["peak"]))}

    # -- training ------------------------------------------------------------------------------------------
    def train(self, exp: Experiment) -> Method:
        if exp.variant == "judge":
            return self.train_judge(exp)
        if exp.variant == "sketch":
            return self._train_sketch(exp)
        P, sets = self.P, self._train_sets(exp.fold)
        head, basenet = parse_variant(exp.variant)
        bs, steps = int(P["batch_size"]), self.steps_of(exp.variant)
        torch.manual_seed(exp.seed)
        runtime.seed_everything(exp.seed)
        if head == "plainCNN":
            method: Method = train_plain_cnn(self, exp, sets["faces"], steps=steps, batch_size=int(P["pre_batch_size"]),
                                             lr=float(P["lr_pre"]))
        elif head == "G_pre":
            method = AutoencoderPretraining(self.gan_config(), lr=float(P["lr_pre"]))
            self.fit(method, exp, sets["faces"], steps=steps, batch_size=int(P["pre_batch_size"]))
        elif head == "E_pre":
            method = PeakPretraining(self.settings("CNN", basenet), lr=float(P["lr_pre"]))
            self.fit(method, exp, sets["peak"], steps=steps, batch_size=int(P["pre_batch_size"]))
        else:
            method = GroupGAN(self.settings(head, basenet))
            if not self.finished(exp, steps):
                C = self.train(self.make(variant_name("E_pre", basenet), exp.fold, exp.seed)).nets["C"]
                G = self.train(self.make("G_pre", exp.fold, exp.seed)).nets["G"] if head != "CNN" else None
                continue_from(method, C=C, G=G)
                torch.manual_seed(exp.seed)
            self.fit(method, exp, sets["pairs"], steps=steps, batch_size=bs)
        method.nets.eval()
        return method

    def _sketch_data(self, part: str) -> PairedFrames:
        """Sec. 4.6's demo data: synthetic line drawings and their slashed copies (train / test drawings differ)."""
        n = int(self.P["sketch_images"]) if part == "train" else 64
        seed = self.seed + (0 if part == "train" else 1)
        clean = sk.sketches(n, int(self.P["size"]), seed=seed)
        both = torch.cat([sk.slashed(clean, seed=seed), clean])
        return PairedFrames(both, torch.zeros(2 * n, dtype=torch.long), np.stack([np.arange(n), np.arange(n, 2 * n)], 1))

    def _train_sketch(self, exp: Experiment) -> Method:
        torch.manual_seed(exp.seed)
        gan = GroupGANConfig.at(int(self.P["size"]), width=int(self.P["gan_width"]), channels=1, cond_dim=0)
        method = sk.SketchRestoration(gan, lr=float(self.P["lr_pre"]), lam=float(self.P["adv"]))
        self.fit(method, exp, self._sketch_data("train"), steps=self.steps_of("sketch"),
                 batch_size=int(self.P["pre_batch_size"]))
        method.nets.eval()
        return method

    # -- evaluation -----------------------------------------------------------------------------------------
    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        if exp.variant == "judge":
            return self.evaluate_judge(exp, method)
        if exp.variant == "sketch":
            test = self._sketch_data("test").data
            with torch.no_grad():
                out = method.nets["G"](test["image"].to(self.device)).cpu()
            return {"psnr": metrics.psnr(out, test["peak"]), "copy_psnr": metrics.psnr(test["image"], test["peak"]),
                    "input": test["image"][:6], "output": out[:6], "truth": test["peak"][:6]}
        head, _ = parse_variant(exp.variant)
        test = self.data.fold(exp.fold, self.device)["test"]
        x, y = test.data["image"], test.data["expression"]
        r = self.roles(exp.fold, "test")
        weak, peak = r["weak"], r["peak"]
        out: dict[str, Any] = {"log": self.log(exp)}
        if head in ("plainCNN", "G_pre", "E_pre"):
            net = method.nets["net"] if head == "plainCNN" else (method.nets["C"] if "C" in method.nets else None)
            if net is not None:
                pred = evaluate.apply(net, x, modules=(net,)).argmax(1).cpu()
                out.update(accuracy=_acc(pred[weak], y[weak]), peak_accuracy=_acc(pred[peak], y[peak]))
            return out
        logits, feats = predict(method, x)
        pred, yc = logits.argmax(1).cpu(), y.cpu()
        frames = test.meta["frame"].to_numpy()
        out.update(accuracy=_acc(pred[weak], yc[weak]), peak_accuracy=_acc(pred[peak], yc[peak]),
                   y_true=yc[weak], y_pred=pred[weak], intra_ratio=ev.intra_class_ratio(feats[weak], yc[weak]),
                   per_frame={int(f): _acc(pred[frames == f], yc[frames == f]) for f in np.unique(frames)})
        first = exp.fold == 0 and exp.seed == self.seeds_of(parse_variant(exp.variant)[1])[0]
        subjects = test.meta["subject"].astype(str).to_numpy()
        if first:
            pairs = ev.same_class_pairs(yc[weak].numpy(), subjects[weak], int(self.P["n_pairs"]), seed=self.seed)
            out["fig4"] = ev.feature_maps(feats[weak], pairs)
        if "G" in method.nets:
            pw = r["pairs"]
            truth = self._true_peak(exp.fold, pw)
            judge = self.judge(exp.fold)
            out["judge"] = ev.magnification_scores(method, judge, x[pw[:, 0]], y[pw[:, 0]], subjects[pw[:, 0]],
                                                   truth if truth is not None else x[pw[:, 1]].cpu())
            if "intensity" in judge.nets:
                fake = ev.magnify(method, x)
                out["intensity_per_frame"] = {
                    int(f): (float(judge.intensity(x[frames == f]).mean()),
                             float(judge.intensity(fake[frames == f]).mean())) for f in np.unique(frames)}
            if first:
                show = pw[ev.fig5_rows(yc[pw[:, 0]].numpy(), int(self.P["n_show"]))]
                out["fig5"] = ev.fig5(method, x[show[:, 0]], x[show[:, 1]])
        return out

    def _true_peak(self, fold: int, pairs: np.ndarray) -> torch.Tensor | None:
        """On the synthetic world: each weak test face as it would look at its sequence's peak intensity, with
        the weak frame's own head motion (the true magnified face); else None (the real peak frame stands in)."""
        if not hasattr(self.data.dataset, "counterfactual"):
            return None
        rows = self.data.splits[fold].test
        level = self.data.dataset.meta["intensity"].to_numpy()[rows[pairs[:, 1]]]
        return self.data.dataset.counterfactual(rows[pairs[:, 0]], intensity=level).cpu()

    # -- the chapter's tables -----------------------------------------------------------------------------
    def values(self) -> pd.DataFrame:
        """One row per run (plus the pseudo-variants of the claims): the metrics of the tables and the ledger."""
        rows = []
        for e in self.runs():
            r = self.result(e)
            head, basenet = parse_variant(e.variant)
            j = r.get("judge", {})
            rows.append({"variant": e.variant, "framework": head, "basenet": basenet or "SmallCNN", "fold": e.fold,
                         "seed": e.seed, "accuracy": r.get("accuracy", math.nan),
                         "peak_accuracy": r.get("peak_accuracy", math.nan),
                         "intra_ratio": r.get("intra_ratio", math.nan),
                         "intensity_gap": j.get("intensity_gap", math.nan),
                         "copy_intensity_gap": j.get("copy_intensity_gap", math.nan),
                         "psnr_true": j.get("psnr", math.nan), "copy_psnr_true": j.get("copy_psnr", math.nan),
                         "judge_expression": j.get("target_expression", math.nan),
                         "judge_expression_input": j.get("source_expression", math.nan),
                         "judge_identity": j.get("identity_tar", math.nan)})
        df = pd.DataFrame(rows)
        return pd.concat([df, self._pseudo_rows(df)], ignore_index=True)

    def _pseudo_rows(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of the input (per 2V2 run of the main BaseNet) and the frameworks pooled over all BaseNets
        (replicate = BaseNet x fold x seed, coded in ``seed``)."""
        rows = []
        main = df[df.variant == variant_name("2V2", self.main)]
        for _, m in main.iterrows():
            rows.append({"variant": PSEUDO["copy"], "fold": m.fold, "seed": m.seed,
                         "intensity_gap": m.copy_intensity_gap, "psnr_true": m.copy_psnr_true})
        for i, b in enumerate(self.basenets):
            for f in ("CNN", "2V2"):
                for _, m in df[df.variant == variant_name(f, b)].iterrows():
                    rows.append({"variant": PSEUDO[f"all_{f}"], "fold": m.fold, "seed": 1000 * i + m.seed,
                                 "accuracy": m.accuracy})
        return pd.DataFrame(rows)

    def table1(self) -> pd.DataFrame:
        """Table 1: weak-frame accuracy (%) per BaseNet (rows) and framework (columns), mean ± std over
        folds and seeds, with the replicate count."""
        v = self.values()
        out = {}
        for b in self.basenets:
            part = v[v.basenet == b]
            out[b] = {f: metrics.mean_std(part[part.framework == f].accuracy.dropna().tolist(), scale=100)
                      for f in FRAMEWORKS}
            out[b]["runs per cell"] = int((part.framework == "CNN").sum())
        return pd.DataFrame(out).T.rename_axis("BaseNet")

    def gates(self) -> pd.DataFrame:
        """The checks before any claim: each BaseNet's CNN against the book's plain CNN on peak frames; the
        2V2 generator of the main BaseNet read by the judge."""
        v = self.values()
        mean = lambda var, col: float(v[v.variant == var][col].mean())  # noqa: E731
        plain = mean("plainCNN", "peak_accuracy")
        rows = [(f"CNN on {b}: peak-frame accuracy at least the plain CNN's",
                 f"{mean(variant_name('CNN', b), 'peak_accuracy'):.1%}", f">= {plain:.1%} (plain CNN)",
                 mean(variant_name("CNN", b), "peak_accuracy") >= plain) for b in self.basenets]
        g = variant_name("2V2", self.main)
        gi, ci = mean(g, "intensity_gap"), mean(g, "copy_intensity_gap")
        rows.append(("G magnifies: judge's intensity of G's face closer to the true peak's than the input's",
                     f"|gap| {gi:.3f}", f"< {ci:.3f} (input)", gi < ci))
        ge, ce = mean(g, "judge_expression"), mean(g, "judge_expression_input")
        rows.append(("expression kept: judge reads the true class in G's faces at least as often as in the input",
                     f"{ge:.1%}", f">= {ce:.1%} (input)", ge >= ce))
        gid = mean(g, "judge_identity")
        rows.append(("identity kept: judge's verification of G's face against its input (TAR at 1% FAR)",
                     f"{gid:.1%}", ">= 90%", gid >= 0.9))
        gp, cp = mean(g, "psnr_true"), mean(g, "copy_psnr_true")
        rows.append(("G's face closer to the true peak face than a copy of the input (PSNR)", f"{gp:.2f} dB",
                     f"> {cp:.2f} dB (copy)", gp > cp))
        return pd.DataFrame(rows, columns=["check", "this run", "target", "passes"]).set_index("check")

    def ledger(self) -> tuple[Ledger, pd.DataFrame]:
        """The claims ledger (paired over fold and seed, corrected for overlapping folds) and its values."""
        return tables.ledger(self.values(), claims(self.main), replicates=tables.fold_ratio(self.data.splits))

    def confusion(self, variant: str) -> torch.Tensor:
        """``(K, K)`` confusion counts of ``variant`` on weak frames, summed over folds and seeds."""
        return sum(metrics.confusion_matrix(r["y_pred"], r["y_true"], self.K) for _, r in self.results(variant))

    def best_variant(self) -> str:
        """The framework/BaseNet with the highest mean weak-frame accuracy (Table 2's "best model")."""
        v = self.values()
        v = v[v.framework.isin(FRAMEWORKS)]
        return str(v.groupby("variant").accuracy.mean().idxmax())

    def frame_curve(self) -> pd.DataFrame:
        """Accuracy per frame (neutral to peak) of every framework on the main BaseNet and the plain CNN:
        ``framework, frame, intensity, accuracy`` (mean over folds and seeds)."""
        meta = self.data.dataset.meta
        level = meta.groupby("frame").intensity.mean() if "intensity" in meta else None
        rows = []
        for f in FRAMEWORKS:
            for e, r in self.results(variant_name(f, self.main)):
                for frame, acc in r["per_frame"].items():
                    rows.append({"framework": f, "frame": frame + 1, "fold": e.fold, "seed": e.seed, "accuracy": acc,
                                 "intensity": float(level[frame]) if level is not None else math.nan})
        return pd.DataFrame(rows)

    def intensity_curve(self) -> pd.DataFrame:
        """The judge's intensity of the input and of G's face per frame (2V2, main BaseNet), mean over runs."""
        rows = []
        for e, r in self.results(variant_name("2V2", self.main)):
            for frame, (i_in, i_fake) in r.get("intensity_per_frame", {}).items():
                rows.append({"frame": frame + 1, "fold": e.fold, "seed": e.seed, "input": i_in, "G(input)": i_fake})
        return pd.DataFrame(rows)

    def judge_table(self) -> pd.DataFrame:
        """The judge's reading of each GAN framework's faces on the main BaseNet, mean over runs."""
        v = self.values()
        cols = {"intensity_gap": "|intensity - true peak| of G's face", "copy_intensity_gap": "... of the input",
                "judge_expression": "expression kept (G's face)", "judge_expression_input": "expression (input)",
                "judge_identity": "identity TAR", "psnr_true": "PSNR to true peak", "copy_psnr_true": "copy PSNR"}
        rows = {f: {name: float(v[v.variant == variant_name(f, self.main)][c].mean()) for c, name in cols.items()}
                for f in ("DCGAN", "1V2", "2V2")}
        return pd.DataFrame(rows).T.rename_axis("framework")

    def paper_comparison(self) -> pd.DataFrame:
        """"Paper reports / this run": Table 1 per BaseNet and framework (the paper's CK+ + Oulu-CASIA mix)."""
        t = self.table1()
        rows = [{"table": "1 (accuracy, %)", "row": f"{b} / {f}", "paper": f"{PAPER_TABLE_1[b][i]:.2f}",
                 "this run": t.loc[b, f]} for b in self.basenets for i, f in enumerate(FRAMEWORKS)]
        return tables.paper_vs_run(rows, paper="paper (CK+ and Oulu-CASIA, 5 folds)",
                                   run=f"this run ({self.data.key}, profile {self.profile_name})")


def _acc(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred.cpu() == y.cpu()).double().mean()) if len(y) else math.nan
