"""The FESR chapter's plan: data, the identity network, the judge, every variant per fold and seed.

Paper: "Joint Deep Learning of Facial Expression Synthesis and Recognition" (FESR;
Sections III-IV, Tables I-VII, Fig. 4-9). The method is :mod:`fer_core.methods.fesr.method`,
its scoring :mod:`fer_core.methods.fesr.evaluation`; this module declares the chapter's
experiments for the shared runner (:mod:`fer_core.experiments`) and builds its tables.

Per fold and seed:

- ``F_id``: the stand-in identity network (unless LightCNN weights are given), once per fold;
- ``judge``: the independent judge of generated faces (:mod:`fer_core.judge`), once per fold;
- ``CNN``: the book's plain CNN trained on the real faces with R's budget (the reference R must reach);
- ``FG``: FESGAN pre-trained for ``P_pre`` steps; every two-stage variant continues from it (a
  declared dependency). With ``fesgan_steps < P_pre`` FG keeps a snapshot at ``fesgan_steps``,
  evaluated as ``FG_short``: the Fig. 4 ablations (FG-IP, FG-CO, FG-Dz, and on the first
  ``fesgan_folds`` folds FG-Dimg, FG-Dimg_cls) are trained for ``fesgan_steps`` and compared with it;
- the recognition variants of Section IV-D, each with ``P_max - P_pre`` updates of R.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import torch
from torch import nn

from fer_core import evaluate, metrics, runtime
from fer_core.claims import Ledger
from fer_core.data.protocols import fesr_frames
from fer_core.experiments import ChapterData, Experiment, Plan, Study, tables
from fer_core.judge import JudgeMixin
from fer_core.methods.classifier import Classifier
from fer_core.methods.fesr import evaluation as ev
from fer_core.methods.fesr.method import (ABLATIONS, FESGAN_VARIANTS, FESR, TWO_STAGE, FESRConfig,
                                          continue_from_pretraining, fesr_variant, sample_new_identities, synthesize)
from fer_core.methods.fesr.nets import FESGANConfig, RConfig, label_code
from fer_core.methods.fesr.paper import CLAIMS, PAPER_DATASET, PAPER_TABLE_III, PAPER_TABLE_IV, PAPER_TABLE_V, \
    PAPER_TABLE_V_COLUMNS, PAPER_TABLE_VI, PAPER_TABLE_VII, PSEUDO_VARIANTS
from fer_core.nets.identity import IdentityTraining, build_identity_net, describe_stand_in
from fer_core.nets.lightcnn import load_lightcnn29v2
from fer_core.nets.small import SmallCNN
from fer_core.train import Method, snapshot_path

__all__ = ["FESRStudy", "VERIFICATION_FAR", "ABLATION_GAN", "FIGURE_GAN", "JOINT", "TABLE_II"]

#: Face-verification operating point for Table IV: the true-accept rate at this false-accept
#: rate. The paper does not state its threshold; 1% is the usual report.
VERIFICATION_FAR = 0.01
#: Settings that decide the data and folds (the identity network and the judge depend on these and their own).
_DATA_KEYS = ("size", "channels", "n_identities", "n_frames", "folds")
#: The Fig. 4 ablations trained for ``fesgan_steps`` on every fold, and those only on the first ``fesgan_folds``.
ABLATION_GAN, FIGURE_GAN = ("FG-IP", "FG-CO", "FG-Dz"), ("FG-Dimg", "FG-Dimg_cls")
#: Runs whose generator is scored (the joint variants other than FESR_JL are read for recognition only).
_SYNTHESIS_SCORED = ("FG", "FG_short", "FESR_JL", *FESGAN_VARIANTS)
#: BASELINE with the paper's R (Table II) when the profile's R is the plain-CNN deviation.
TABLE_II = "BASELINE-TableII"
#: The recognition variants that learn jointly with FESGAN.
JOINT = ("FESR_OneSt", "FESR_JL-IL", "FESR_JL-RDBP", "FESR_Real", "FESR_JL")


def _synthetic(P: Mapping[str, Any], seed: int):
    from fer_core.data.synthetic import ckplus_like

    n_frames = int(P["n_frames"])
    ds = ckplus_like(n_identities=int(P["n_identities"]), n_frames=n_frames, frames=range(n_frames - 3, n_frames),
                     size=int(P["size"]), channels=int(P["channels"]), seed=seed)
    return ds, f"synthetic CK+-like world ({P['n_identities']} identities, 7 classes)"


class FESRStudy(JudgeMixin, Study):
    """Every experiment of the FESR chapter for one profile, data set and seed.

    Options (beyond :class:`~fer_core.experiments.study.Study`'s): ``lightcnn_weights``, the path
    of published LightCNN-29 v2 weights, used as ``F_id`` and as ``R``'s frozen front (loaded
    with ``weights_only=True``); ``None`` trains the stand-in
    :class:`~fer_core.nets.identity.IdentityCNN` on each fold's training identities.
    """

    chapter = "fesr"
    compact_checkpoints = False  # the two-stage variants resume FG's Adam states (continue_from_pretraining)
    plan_settings = ("seeds", "fesgan_folds", "umap")
    evaluation_settings = ("n_show", "n_new", "n_prior", "intensity_levels", "verify_images")

    def __init__(self, P: Mapping[str, Any], data: ChapterData, *, lightcnn_weights: str | Path | None = None,
                 **kwargs: Any):
        super().__init__(P, data, lightcnn_weights=None if lightcnn_weights is None else str(lightcnn_weights),
                         **kwargs)
        self.lightcnn_weights = None if lightcnn_weights is None else Path(lightcnn_weights)
        self.K = len(data.classes)
        self._id_nets: dict[int, nn.Module] = {}

    # The synthetic CK+-like world (the last three frames of each sequence) or a real dataset, in
    # P["folds"] subject-independent folds with FESR's frame rule (train on the three apex frames,
    # test on the peak).
    synthetic_world = staticmethod(_synthetic)
    frame_rule = staticmethod(fesr_frames)

    # -- configuration ------------------------------------------------------------------------------
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
                       convs=tuple(P["r_convs"]), fcs=tuple(P["r_fcs"]), dropout=float(P["r_dropout"]),
                       batch_norm=bool(P["r_batch_norm"]), body=str(P["r_body"]), plain_width=int(P["r_width"]))

    @property
    def R_updates(self) -> int:
        """Updates of R in every recognition variant (and steps of the plain CNN): ``P_max - P_pre``."""
        return int(self.P["P_max"]) - int(self.P["P_pre"])

    @property
    def fesgan_reference(self) -> str:
        """The FG run the Fig. 4 ablations are compared with: ``FG`` itself when they train as long,
        else ``FG_short`` (FG's snapshot at ``fesgan_steps``)."""
        return "FG" if int(self.P["fesgan_steps"]) >= int(self.P["P_pre"]) else "FG_short"

    def steps_of(self, variant: str) -> int:
        """Training iterations: FG ``P_pre``; the Fig. 4 ablations ``fesgan_steps``; the two-stage variants
        ``P_max`` (Algorithm 1: ``P_pre`` of pre-training, then ``P_max - P_pre`` joint iterations, one R
        update each); BASELINE, FESR_OneSt and the plain CNN ``P_max - P_pre``, so that every recognition
        variant updates R equally often; ``F_id`` and the judge their own."""
        P = self.P
        fixed = {"F_id": int(P["id_steps"]), "judge": int(P["judge_steps"]), "FG": int(P["P_pre"]),
                 "FG_short": min(int(P["fesgan_steps"]), int(P["P_pre"]))}
        if variant in fixed:
            return fixed[variant]
        if variant in FESGAN_VARIANTS:
            return min(int(P["fesgan_steps"]), int(P["P_pre"]))
        return int(P["P_max"]) if variant in TWO_STAGE else self.R_updates

    def variant_config(self, variant: str) -> FESRConfig:
        """The :class:`~fer_core.methods.fesr.method.FESRConfig` of ``variant`` under this profile
        (``lambda_rec``, ``lambda_cls`` replace the paper's lambda_2 = 10, lambda_4 = 1)."""
        P = self.P
        l1, _, l3, _, l5, l6 = FESRConfig.lambdas
        lambdas = (l1, float(P["lambda_rec"]), l3, float(P["lambda_cls"]), l5, l6)
        r = self.r_config
        if variant == TABLE_II:  # the paper's R (Table II) on the same budget: what the recogniser check measures
            r = dataclasses.replace(r, body="table2", batch_norm=False, dropout=RConfig.dropout)
        config = fesr_variant("BASELINE" if variant == TABLE_II else variant, gan=self.gan_config, r=r,
                              P_pre=int(P["P_pre"]), lr=float(P["lr"]),
                              lr_R=None if P["lr_R"] is None else float(P["lr_R"]), batch_size=int(P["batch_size"]),
                              lambdas=lambdas, R_updates=self.R_updates if P["r_schedule"] == "cosine" else None)
        return dataclasses.replace(config, variant=variant)

    def configuration(self, exp: Experiment) -> dict[str, Any]:
        if exp.variant == "F_id":  # the identity network depends on the data and its own settings only
            return {"profile": {k: v for k, v in self.P.items() if k.startswith("id_") or k in _DATA_KEYS}}
        if exp.variant == "judge":
            return {"profile": {k: v for k, v in self.P.items() if k.startswith("judge_") or k in _DATA_KEYS}}
        return super().configuration(exp)

    # -- the plan -------------------------------------------------------------------------------------
    def _cost(self, variant: str) -> float:
        """Rough relative run time (a joint step costs about 2.4 pre-training steps, an R step 0.6)."""
        steps = self.steps_of(variant)
        if variant in TWO_STAGE:
            return 2.4 * (steps - int(self.P["P_pre"]))
        if variant in JOINT:
            return 2.4 * steps
        return 0.6 * steps if variant in ("BASELINE", "CNN", TABLE_II) else (0.0 if variant == "FG_short" else float(steps))

    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        if variant == "F_id":
            return Experiment("F_id", fold, self.seed, cost=self._cost("F_id"))
        if variant == "judge":
            return self.judge_experiment(fold)
        if variant not in ("CNN", "FG_short", TABLE_II, *ABLATIONS, *FESGAN_VARIANTS):
            raise ValueError(f"unknown FESR variant {variant!r}; choose F_id, judge, CNN, FG_short or one of "
                             f"{[*ABLATIONS, *FESGAN_VARIANTS]}")
        after, why = [self.make("judge", fold)], ["is scored by the judge of its fold"]
        if variant != "CNN":
            after.append(self.make("F_id", fold))
            why.append("needs the identity network of its fold")
        if variant == "FG_short" or (variant in TWO_STAGE and int(self.P["P_pre"]) > 0):
            after.append(self.make("FG", fold, seed))
            why.append("is FG's snapshot at fesgan_steps" if variant == "FG_short"
                       else "continues from FG's pre-training of its fold and seed")
        return Experiment(variant, fold, seed, after=tuple(after), why=tuple(why), cost=self._cost(variant))

    def plan(self) -> Plan:
        runs = []
        for k in self.folds:
            for s in self.seeds:
                gan = ["FG", *ABLATION_GAN, *(FIGURE_GAN if k < int(self.P["fesgan_folds"]) else ())]
                if self.fesgan_reference == "FG_short":
                    gan.insert(1, "FG_short")
                recognisers = ("CNN", *((TABLE_II,) if self.P["r_body"] != "table2" else ()), *ABLATIONS)
                runs += [self.make(v, k, s) for v in (*gan, *recognisers)]
        return Plan(runs)

    def runs(self, *variants: str) -> list[Experiment]:
        """The planned runs of ``variants`` (all but the identity networks and judges when none given)."""
        return [e for e in self.experiments if e.variant not in ("F_id", "judge") and (not variants or e.variant in variants)]

    # -- training ---------------------------------------------------------------------------------------
    def identity_net(self, k: int) -> nn.Module:
        """``F_id`` for fold ``k`` (also ``R``'s front in Table II): published LightCNN-29 v2 when weights
        were given, else the stand-in trained on the fold's training identities (its own experiment)."""
        if k not in self._id_nets:
            if self.lightcnn_weights is not None:
                net = load_lightcnn29v2(self.lightcnn_weights)
            else:
                net = self.train(self.make("F_id", k)).nets["F_id"]
            self._id_nets[k] = net.to(self.device).eval()
        return self._id_nets[k]

    def build(self, variant: str, fold: int, seed: int) -> FESR:
        """An untrained :class:`~fer_core.methods.fesr.method.FESR` of ``variant`` (global RNG seeded first)."""
        idnet = self.identity_net(fold)
        config = self.variant_config(variant)
        torch.manual_seed(seed)
        return FESR(config, F_id=idnet if config.synthesis and config.use_id else None,
                    R_stem=idnet if config.recognition else None)

    def train(self, exp: Experiment) -> Method:
        """``exp`` trained (or resumed, or reloaded); two-stage variants start from FG's pre-training."""
        P, train_set = self.P, self.data.fold(exp.fold, self.device)["train"]
        if exp.variant == "judge":
            return self.train_judge(exp)
        if exp.variant == "F_id":
            torch.manual_seed(self.seed + exp.fold)
            net = build_identity_net(train_set, arch="cnn", widths=tuple(P["id_widths"]),
                                     feature_dim=int(P["id_feature_dim"]))
            method = IdentityTraining(net)
            self.fit(method, exp, train_set, steps=self.steps_of("F_id"), batch_size=int(P["id_batch_size"]),
                     seed=self.seed + exp.fold)
            net.cpu().eval()
            net.source = describe_stand_in(net, self.steps_of("F_id"))
            return method
        if exp.variant == "CNN":
            torch.manual_seed(exp.seed)
            net = SmallCNN(int(P["channels"]), self.K, width=int(P["r_width"]))
            runtime.seed_everything(exp.seed)
            method = Classifier(net, lr=float(P["lr_R"] or P["lr"]),
                                decay_steps=self.R_updates if P["r_schedule"] == "cosine" else None)
            self.fit(method, exp, train_set, steps=self.steps_of("CNN"), batch_size=int(P["batch_size"]))
            return method
        if exp.variant == "FG_short":
            return self._snapshot(self.make("FG", exp.fold, exp.seed), self.steps_of("FG_short"))
        method = self.build(exp.variant, exp.fold, exp.seed)
        if exp.variant in TWO_STAGE and int(P["P_pre"]) > 0 and not self.finished(exp, 0):
            fg = self.make("FG", exp.fold, exp.seed)
            if not self.finished(fg, self.steps_of("FG")):
                self.train(fg)
            continue_from_pretraining(method, self.run_dir(fg), self.run_dir(exp))
        keep = (self.steps_of("FG_short"),) if exp.variant == "FG" and self.fesgan_reference == "FG_short" else ()
        torch.manual_seed(exp.seed)
        self.fit(method, exp, train_set, steps=self.steps_of(exp.variant), batch_size=int(P["batch_size"]), keep=keep)
        method.nets.eval()
        return method

    def _snapshot(self, fg: Experiment, step: int) -> FESR:
        """FG as it was after ``step`` steps (the snapshot its run kept)."""
        from fer_core.io import load_checkpoint

        path = snapshot_path(self.run_dir(fg), step)
        if not path.exists():
            self.train(fg)
        method = self.build("FG", fg.fold, fg.seed)
        method.nets.load_state_dict(load_checkpoint(path)["nets"])
        method.nets.to(self.device).eval()
        return method

    # -- evaluation ---------------------------------------------------------------------------------------
    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        if exp.variant == "judge":
            return self.evaluate_judge(exp, method)
        if exp.variant == "F_id":
            return {"source": method.nets["F_id"].source}
        test = self.data.fold(exp.fold, self.device)["test"]
        out: dict[str, Any] = {"log": self.log(exp)}
        if exp.variant == "CNN":
            scores = evaluate.classify(method.net, test, num_classes=self.K)
            return {**out, "accuracy": scores["accuracy"], "y_true": scores["y_true"], "y_pred": scores["y_pred"]}
        out["identity_source"] = self.identity_net(exp.fold).source
        gen = torch.Generator().manual_seed(1000 * exp.fold + exp.seed)
        if "R" in method.nets:
            net_R = method.nets["R"]
            scores = evaluate.classify(net_R, test, num_classes=self.K, batch_size=128)
            out.update(accuracy=scores["accuracy"], y_true=scores["y_true"], y_pred=scores["y_pred"],
                       stem_source=net_R.stem_source)
        if "G" in method.nets and exp.variant in _SYNTHESIS_SCORED:
            out.update(self._synthesis(method.nets["G"], exp.fold, gen))
        if "G" in method.nets and "R" in method.nets:
            out.update(self._feature_gap(method, exp.fold, gen))
        return out

    def _synthesis(self, G: nn.Module, fold: int, gen: torch.Generator) -> dict[str, Any]:
        """Tables III-IV, the judge's reading, Figs. 6-7 as numbers, and the figures' images."""
        P, judge = self.P, self.judge(fold)
        parts = self.data.fold(fold, self.device)
        test, x = parts["test"], parts["test"].data["image"]
        out: dict[str, Any] = ev.paper_table_iii(G, test)
        out["verification"] = self._verification(G, fold, gen)
        out["judge"] = ev.judge_transfers(G, judge, self.data, fold, self.device)
        levels = torch.linspace(0, 1, int(P["intensity_levels"]))
        out["intensity_curve"] = ev.intensity_curve(G, judge, x, test.data["expression"], levels, self.K,
                                                    generator=gen)
        out.update(ev.prior_novelty(G, judge, parts["train"].data["image"], x, n=int(P["n_prior"]), K=self.K,
                                    generator=gen))
        show = _show_rows(test.meta.reset_index(drop=True), int(P["n_show"]))
        grid = [synthesize(G, x[show], y, intensity=1.0) for y in range(self.K)]
        out["grid"] = torch.stack([x[show].cpu(), *grid], dim=1)
        out["intensity_levels"] = levels
        out["intensity"] = torch.stack([torch.cat([synthesize(G, x[show[:1]], y, intensity=float(v))
                                                   for y in range(self.K)]) for v in levels])
        out["prior"] = sample_new_identities(G.G_dec, int(P["n_new"]), range(self.K), generator=gen)
        out["real"] = x[show].cpu()
        return out

    def _verification(self, G: nn.Module, fold: int, gen: torch.Generator) -> float:
        """Table IV's protocol with ``F_id`` (the network the generator trained against): each sampled
        test face against K faces synthesized from it and K from other people; TAR at ``VERIFICATION_FAR``."""
        test = self.data.fold(fold, self.device)["test"]
        x, subjects = test.data["image"], test.meta["subject"].astype(str).to_numpy()
        n = min(len(x), int(self.P["verify_images"]))
        rows = torch.randperm(len(x), generator=gen)[:n].numpy()
        others = [_other_subject_row(subjects, i, gen) for i in rows]
        F_id = self.identity_net(fold)
        genuine = torch.cat([synthesize(G, x[rows], y, intensity=1.0) for y in range(self.K)])
        impostors = torch.cat([synthesize(G, x[others], y, intensity=1.0) for y in range(self.K)])
        return evaluate.verification(F_id, x[rows].cpu().repeat(self.K, 1, 1, 1), genuine, impostors,
                                     far=VERIFICATION_FAR, modules=(F_id,))

    def _feature_gap(self, method: FESR, fold: int, gen: torch.Generator) -> dict[str, Any]:
        """R_ext features of real test faces and of ``x^{p,f} = G_dec([z, u(y)])`` with the same labels (Fig. 9)."""
        test = self.data.fold(fold, self.device)["test"]
        x, y = test.data["image"], test.data["expression"]
        G, net_R = method.nets["G"], method.nets["R"]
        z = (torch.rand(len(y), self.gan_config.latent_dim, generator=gen) * 2 - 1).to(self.device)
        u = label_code(y.cpu(), self.K, generator=gen).to(self.device)
        with evaluate.eval_mode(G):
            fake = G.G_dec(z, u)
        real_f = evaluate.features(net_R.R_ext, x, modules=(net_R,), batch_size=128)
        fake_f = evaluate.features(net_R.R_ext, fake, modules=(net_R,), batch_size=128)
        gap = metrics.feature_gap(real_f, y.cpu(), fake_f, y.cpu())
        return {"gap": gap.as_dict(), "features_real": real_f, "features_fake": fake_f, "labels": y.cpu()}

    # -- the chapter's tables -------------------------------------------------------------------------------
    def values(self) -> pd.DataFrame:
        """One row per run (and per pseudo-variant the claims compare with): the metrics of the ledger."""
        rows = []
        for e in self.runs():
            r = self.result(e)
            judge = r.get("judge", {})
            rows.append({"variant": e.variant, "fold": e.fold, "seed": e.seed, "accuracy": r.get("accuracy", math.nan),
                         "gap": r["gap"]["normalized"] if "gap" in r else math.nan,
                         "verification": r.get("verification", math.nan),
                         "judge_identity": judge.get("identity_tar", math.nan),
                         "judge_target": judge.get("target_expression", math.nan),
                         "psnr_true": judge.get("psnr", math.nan), "copy_psnr_true": judge.get("copy_psnr", math.nan),
                         "psnr": r.get("psnr", math.nan), "novelty": r.get("prior_novelty", math.nan),
                         "intensity_rho": r["intensity_curve"]["rho"] if "intensity_curve" in r else math.nan})
        df = pd.DataFrame(rows)
        return pd.concat([df, _pseudo_rows(df, self.fesgan_reference)], ignore_index=True)

    def accuracy_table(self) -> pd.DataFrame:
        """One row per recognition run (and the plain CNN), fold and seed: ``variant, fold, seed, accuracy``."""
        v = self.values()
        return v[v.variant.isin(["CNN", TABLE_II, *ABLATIONS])][["variant", "fold", "seed", "accuracy"]] \
            .reset_index(drop=True)

    def accuracy_summary(self) -> pd.DataFrame:
        """Accuracy (%) per variant as ``mean ± std`` over folds and seeds, in the paper's order, the plain CNN
        and the paper's R (when the profile uses the deviation) first."""
        return tables.summary(self.accuracy_table(), "accuracy", order=["CNN", TABLE_II, *ABLATIONS], scale=100,
                              name="accuracy (%)")

    def synthesis_table(self) -> pd.DataFrame:
        """Table III/IV and Fig. 4 as numbers: per FESGAN variant (and FESR_JL's generator after joint training),
        the judge's target-expression accuracy and identity TAR, PSNR to the true face and of a copy, the
        paper-protocol PSNR/SSIM, F_id verification, prior novelty; mean ± std over its runs."""
        rows = []
        for v in ("FG", self.fesgan_reference, *ABLATION_GAN, *FIGURE_GAN, "FESR_JL"):
            res = [self.result(e) for e in self.runs(v)]
            if not res or any(r["variant"] == v for r in rows):
                continue
            j = lambda name, scale=1.0: metrics.mean_std([r["judge"][name] for r in res if name in r["judge"]],  # noqa: E731
                                                         digits=2, scale=scale)
            col = lambda name, scale=1.0, d=2: metrics.mean_std([r[name] for r in res], digits=d, scale=scale)  # noqa: E731
            rows.append({"variant": v, "steps": self.steps_of(v), "target expression (%)": j("target_expression", 100),
                         "identity TAR (%)": j("identity_tar", 100), "PSNR to true face": j("psnr"),
                         "copy PSNR": j("copy_psnr"), "PSNR (Table III)": col("psnr"),
                         "SSIM (Table III)": col("ssim", d=3), "F_id verification (%)": col("verification", 100),
                         "prior novelty": col("prior_novelty", d=3), "runs": len(res)})
        return pd.DataFrame(rows).set_index("variant")

    def gates(self) -> pd.DataFrame:
        """The two checks before any claim: R (BASELINE) against the plain CNN on the same split and
        budget, and FG's faces read by the judge (target >= 70%, closer to the true face than a copy
        by >= 1 dB, identity kept)."""
        v = self.values()
        mean = lambda var, col: float(v[v.variant == var][col].mean())  # noqa: E731
        base, cnn = mean("BASELINE", "accuracy"), mean("CNN", "accuracy")
        judge_truth = [self.result(e)["judge"]["truth_expression"] for e in self.runs("FG")
                       if "truth_expression" in self.result(e)["judge"]]
        rows = [("R (BASELINE) at least as accurate as the plain CNN", f"{base:.1%}", f"{cnn:.1%} (plain CNN)",
                 base >= cnn)]
        if (v.variant == TABLE_II).any():
            t2 = mean(TABLE_II, "accuracy")
            rows.append(("the paper's R (Table II) at this budget, for reference", f"{t2:.1%}",
                         f"{cnn:.1%} (plain CNN)", t2 >= cnn))
        rows += [
                ("judge reads the target expression in FG's faces", f"{mean('FG', 'judge_target'):.1%}",
                 ">= 70%" + (f" (on the true faces: {sum(judge_truth) / len(judge_truth):.1%})" if judge_truth else ""),
                 mean("FG", "judge_target") >= 0.70)]
        if not v[v.variant == "FG"].psnr_true.isna().all():
            gain = mean("FG", "psnr_true") - mean("FG", "copy_psnr_true")
            rows.append(("FG's face closer to the true face than a copy of the input", f"{gain:+.2f} dB",
                         ">= +1 dB", gain >= 1.0))
        rows.append(("identity kept: judge's TAR of FG's faces vs their sources",
                     f"{mean('FG', 'judge_identity'):.1%}", f"{mean('FG-IP', 'judge_identity'):.1%} (FG-IP)",
                     mean("FG", "judge_identity") > mean("FG-IP", "judge_identity")))
        return pd.DataFrame(rows, columns=["check", "this run", "target", "passes"]).set_index("check")

    def gap_table(self) -> pd.DataFrame:
        """The real-synthetic feature gap per fold/seed for every variant that has G and R."""
        return pd.DataFrame([{"variant": e.variant, "fold": e.fold, "seed": e.seed, **r["gap"]}
                             for e, r in ((e, self.result(e)) for e in self.runs()) if "gap" in r])

    def ledger(self) -> tuple[Ledger, pd.DataFrame]:
        """The claims ledger (paired over fold and seed, corrected for overlapping folds) and the
        per-replicate values behind it."""
        claims = [(c, col) for c, col in CLAIMS
                  if not self.values().query("variant in @c.variant_a or variant in @c.variant_b")[col].isna().all()]
        return tables.ledger(self.values(), claims, replicates=tables.fold_ratio(self.data.splits))

    def confusion(self, variant: str) -> torch.Tensor:
        """``(K, K)`` confusion counts of ``variant`` summed over folds and seeds (rows: true class)."""
        return sum(metrics.confusion_matrix(r["y_pred"], r["y_true"], self.K) for _, r in self.results(variant))

    def intensity_table(self) -> pd.DataFrame:
        """Fig. 6 as numbers: the judge's mean probability of the target class per intensity v, per FG run."""
        rows = [{"fold": e.fold, "seed": e.seed, **{f"v={v:.2f}": p for v, p in zip(
            r["intensity_curve"]["levels"].tolist(), r["intensity_curve"]["target_prob"].tolist())},
                 "Spearman rho": r["intensity_curve"]["rho"]} for e, r in self.results("FG")]
        return pd.DataFrame(rows).set_index(["fold", "seed"])

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
        v = self.values()
        ours = lambda var, col="accuracy", **kw: metrics.mean_std(v[v.variant == var][col].dropna().tolist(), **kw)  # noqa: E731
        rows = []
        if paper_ds in PAPER_TABLE_V_COLUMNS:
            j = PAPER_TABLE_V_COLUMNS.index(paper_ds)
            for var in ABLATIONS:
                paper = PAPER_TABLE_V.get(var, (None,) * 3)[j]
                rows.append(("V (accuracy, %)" if var in PAPER_TABLE_V else "Fig. 8 (accuracy, %)", var,
                             "only plotted" if paper is None else f"{paper:.2f}", ours(var, scale=100)))
            psnr, ssim = PAPER_TABLE_III[paper_ds]["FESGAN"]
            rows.append(("III (PSNR, dB)", "FESGAN (our FG)", f"{psnr:.3f}", ours("FG", "psnr", digits=3)))
            rows.append(("III (SSIM)", "FESGAN (our FG)", f"{ssim:.3f}",
                         metrics.mean_std([r["ssim"] for _, r in self.results("FG")], digits=3)))
            for var, ref in (("FG", self.fesgan_reference), ("FG-IP", "FG-IP")):
                rows.append(("IV (verification, %)", f"{var} ({self.steps_of(ref)} steps)",
                             f"{PAPER_TABLE_IV[paper_ds][var]:.2f}", ours(ref, "verification", scale=100)))
        else:
            paper = PAPER_TABLE_VI if paper_ds == "Multi-PIE" else {k: (val,) for k, val in PAPER_TABLE_VII.items()}
            for var in ("BASELINE", "FESR_JL"):
                rows.append(("VI (average, %)" if paper_ds == "Multi-PIE" else "VII (accuracy, %)", var,
                             f"{paper[var][-1]:.2f}", ours(var, scale=100)))
        return tables.paper_vs_run([dict(zip(("table", "row", "paper", "this run"), r)) for r in rows],
                                   paper=f"paper ({paper_ds})", run=f"this run ({self.data.key}, profile {self.profile_name})")


def _pseudo_rows(df: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Per replicate, the values some claims compare with (:data:`~fer_core.methods.fesr.paper.PSEUDO_VARIANTS`):
    the worst recognition variant other than BASELINE, the worst joint variant, a copy of the input, no control."""
    rows = []
    for (k, s), part in df.groupby(["fold", "seed"]):
        acc = part.set_index("variant")["accuracy"]
        get = lambda names: [acc[n] for n in names if n in acc.index and not math.isnan(acc[n])]  # noqa: E731
        others, joint = get([v for v in ABLATIONS if v != "BASELINE"]), get(JOINT)
        fg = part[part.variant == "FG"]
        row = {"fold": k, "seed": s}
        if others:
            rows.append({**row, "variant": PSEUDO_VARIANTS["worst"], "accuracy": min(others)})
        if joint:
            rows.append({**row, "variant": PSEUDO_VARIANTS["worst_joint"], "accuracy": min(joint)})
        if len(fg):
            rows.append({**row, "variant": PSEUDO_VARIANTS["copy"], "psnr_true": float(fg.copy_psnr_true.iloc[0])})
            rows.append({**row, "variant": PSEUDO_VARIANTS["none"], "intensity_rho": 0.0})
        short = part[part.variant == reference]
        if len(short):  # the Fig. 4 comparisons read FG at the ablations' budget
            rows.append({**row, **short.drop(columns=["fold", "seed"]).iloc[0].to_dict(),
                         "variant": PSEUDO_VARIANTS["fg_ablation"]})
    return pd.DataFrame(rows)


def _show_rows(meta: pd.DataFrame, n: int):
    """``n`` test rows of different subjects, cycling through the expressions (the figures' inputs)."""
    import numpy as np

    subjects = sorted(meta["subject"].astype(str).unique())[:n]
    rows = []
    for j, s in enumerate(subjects):
        mine = meta.index[meta["subject"].astype(str) == s].to_numpy()
        rows.append(int(mine[j % len(mine)]))
    return np.asarray(rows, dtype=np.int64)


def _other_subject_row(subjects, i: int, gen: torch.Generator) -> int:
    import numpy as np

    candidates = np.flatnonzero(subjects != subjects[i])
    return int(candidates[torch.randint(len(candidates), (1,), generator=gen).item()])
