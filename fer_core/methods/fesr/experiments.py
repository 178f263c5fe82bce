"""The FESR chapter's plan: data, the identity network, every variant per fold and seed, their evaluation.

Paper: "Joint Deep Learning of Facial Expression Synthesis and Recognition" (FESR;
Sections III-IV, Tables I-VII, Fig. 4-9). The method is :mod:`fer_core.methods.fesr.method`;
this module declares the chapter's experiments for the shared runner
(:mod:`fer_core.experiments`) and returns what each figure and table needs.

Per fold: a stand-in identity network ``F_id`` (unless LightCNN weights are given), one FG
pre-training run of ``P_pre`` steps that every two-stage variant continues from
(declared as a dependency; :func:`~fer_core.methods.fesr.method.continue_from_pretraining`),
the other ablation variants, and FG-IP (Table IV needs it on every fold). The figure-only
FESGAN variants of Fig. 4 run on the first ``fesgan_folds`` folds.
"""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from fer_core import evaluate, metrics
from fer_core.claims import Ledger
from fer_core.data.protocols import fesr_frames
from fer_core.experiments import ChapterData, Experiment, Plan, Study, prepare_data
from fer_core.experiments import tables
from fer_core.methods.fesr.method import (ABLATIONS, FESGAN_VARIANTS, FESR, TWO_STAGE, FESRConfig,
                                          continue_from_pretraining, fesr_variant, sample_new_identities, synthesize)
from fer_core.methods.fesr.nets import FESGANConfig, RConfig, label_code
from fer_core.methods.fesr.paper import (CLAIMS, PAPER_DATASET, PAPER_TABLE_III, PAPER_TABLE_IV, PAPER_TABLE_V,
                                         PAPER_TABLE_V_COLUMNS, PAPER_TABLE_VI, PAPER_TABLE_VII)
from fer_core.nets.identity import IdentityTraining, build_identity_net, describe_stand_in
from fer_core.nets.lightcnn import load_lightcnn29v2
from fer_core.train import Method

__all__ = ["FESRStudy", "VERIFICATION_FAR", "ground_truth_pairs"]

#: Face-verification operating point for Table IV: the true-accept rate at this false-accept
#: rate. The paper does not state its threshold; 1% is the usual report.
VERIFICATION_FAR = 0.01
#: Settings that decide the data and folds (the identity network depends on these and its own).
_DATA_KEYS = ("size", "channels", "n_identities", "n_frames", "folds")


def _synthetic(P: Mapping[str, Any], seed: int):
    from fer_core.data.synthetic import ckplus_like

    n_frames = int(P["n_frames"])
    ds = ckplus_like(n_identities=int(P["n_identities"]), n_frames=n_frames, frames=range(n_frames - 3, n_frames),
                     size=int(P["size"]), channels=int(P["channels"]), seed=seed)
    return ds, f"synthetic CK+-like world ({P['n_identities']} identities, 7 classes)"


class FESRStudy(Study):
    """Every experiment of the FESR chapter for one profile, data set and seed.

    Options (beyond :class:`~fer_core.experiments.study.Study`'s): ``lightcnn_weights``, the path
    of published LightCNN-29 v2 weights, used as ``F_id`` and as ``R``'s frozen front (loaded
    with ``weights_only=True``); ``None`` trains the stand-in
    :class:`~fer_core.nets.identity.IdentityCNN` on each fold's training identities.
    """

    chapter = "fesr"
    plan_settings = ("seeds", "fesgan_folds", "umap")
    evaluation_settings = ("n_show", "n_new", "intensity_levels", "verify_images")

    def __init__(self, P: Mapping[str, Any], data: ChapterData, *, lightcnn_weights: str | Path | None = None,
                 **kwargs: Any):
        super().__init__(P, data, lightcnn_weights=None if lightcnn_weights is None else str(lightcnn_weights),
                         **kwargs)
        self.lightcnn_weights = None if lightcnn_weights is None else Path(lightcnn_weights)
        self.K = len(data.classes)
        self._id_nets: dict[int, nn.Module] = {}

    @classmethod
    def build_data(cls, P: Mapping[str, Any], *, dataset: str = "synthetic", data_root: str | Path | None = None,
                   seed: int = 0) -> ChapterData:
        """The synthetic CK+-like world (the last three frames of each sequence) or a real dataset,
        in ``P["folds"]`` subject-independent folds with FESR's frame rule (train on the three apex
        frames, test on the peak)."""
        return prepare_data(P, synthetic=_synthetic, dataset=dataset, data_root=data_root, seed=seed,
                            frames=fesr_frames)

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
                       convs=tuple(P["r_convs"]), fcs=tuple(P["r_fcs"]))

    def steps_of(self, variant: str) -> int:
        """Training iterations: FESGAN variants ``P_pre``; the two-stage variants ``P_max`` (Algorithm 1:
        ``P_pre`` of pre-training, then ``P_max - P_pre`` joint iterations, one ``R`` update each);
        BASELINE and FESR_OneSt ``P_max - P_pre``, so that every recognition variant updates ``R``
        equally often; ``F_id`` its own ``id_steps``."""
        P_pre, P_max = int(self.P["P_pre"]), int(self.P["P_max"])
        if variant == "F_id":
            return int(self.P["id_steps"])
        if variant in FESGAN_VARIANTS:
            return P_pre
        return P_max if variant in TWO_STAGE else P_max - P_pre

    def variant_config(self, variant: str) -> FESRConfig:
        """The :class:`~fer_core.methods.fesr.method.FESRConfig` of ``variant`` under this profile
        (``lambda_rec`` replaces the paper's lambda_2 = 10; see the chapter's deviations)."""
        P = self.P
        lambdas = FESRConfig.lambdas
        lambdas = (lambdas[0], float(P["lambda_rec"]), *lambdas[2:])
        return fesr_variant(variant, gan=self.gan_config, r=self.r_config, P_pre=int(P["P_pre"]), lr=float(P["lr"]),
                            lr_R=None if P["lr_R"] is None else float(P["lr_R"]), batch_size=int(P["batch_size"]),
                            lambdas=lambdas)

    def configuration(self, exp: Experiment) -> dict[str, Any]:
        if exp.variant == "F_id":  # the identity network depends on the data and its own settings only
            return {"profile": {k: v for k, v in self.P.items() if k.startswith("id_") or k in _DATA_KEYS}}
        return super().configuration(exp)

    # -- the plan -------------------------------------------------------------------------------------
    def _cost(self, variant: str) -> float:
        """Rough relative run time (a joint step costs about 2.5 pre-training steps)."""
        P_pre, steps = int(self.P["P_pre"]), self.steps_of(variant)
        if variant in TWO_STAGE:
            return 2.5 * (steps - P_pre)
        if variant in ABLATIONS and variant != "BASELINE":
            return 2.5 * steps
        return float(steps)

    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        if variant == "F_id":
            return Experiment("F_id", fold, self.seed, cost=self._cost("F_id"))
        if variant not in ABLATIONS and variant not in FESGAN_VARIANTS:
            raise ValueError(f"unknown FESR variant {variant!r}; choose F_id or one of {[*ABLATIONS, *FESGAN_VARIANTS]}")
        after, why = [self.make("F_id", fold)], ["needs the identity network of its fold"]
        if variant in TWO_STAGE and int(self.P["P_pre"]) > 0:
            after.append(self.make("FG", fold, seed))
            why.append("continues from FG's pre-training of its fold and seed")
        return Experiment(variant, fold, seed, after=tuple(after), why=tuple(why), cost=self._cost(variant))

    def plan(self) -> Plan:
        runs = []
        for k in self.folds:
            for s in self.seeds:
                runs += [self.make(v, k, s) for v in ("FG", "FG-IP", *ABLATIONS)]
                if k < int(self.P["fesgan_folds"]):
                    runs += [self.make(v, k, s) for v in FESGAN_VARIANTS if v not in ("FG", "FG-IP")]
        return Plan(runs)

    def runs(self, *variants: str) -> list[Experiment]:
        """The planned training runs of ``variants`` (all but the identity networks when none given)."""
        return [e for e in self.experiments if e.variant != "F_id" and (not variants or e.variant in variants)]

    # -- training ---------------------------------------------------------------------------------------
    def identity_net(self, k: int) -> nn.Module:
        """``F_id`` for fold ``k`` (also ``R``'s front): published LightCNN-29 v2 when weights were
        given, else the stand-in trained on the fold's training identities (its own experiment)."""
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
        method = self.build(exp.variant, exp.fold, exp.seed)
        run_dir = self.run_dir(exp)
        if exp.variant in TWO_STAGE and int(P["P_pre"]) > 0 and not self.finished(exp, 0):
            fg = self.make("FG", exp.fold, exp.seed)
            if not self.finished(fg, self.steps_of("FG")):
                self.train(fg)
            continue_from_pretraining(method, self.run_dir(fg), run_dir)
        torch.manual_seed(exp.seed)
        self.fit(method, exp, train_set, steps=self.steps_of(exp.variant), batch_size=int(P["batch_size"]))
        method.nets.eval()
        return method

    # -- evaluation ---------------------------------------------------------------------------------------
    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        if exp.variant == "F_id":
            return {"source": method.nets["F_id"].source}
        test = self.data.fold(exp.fold, self.device)["test"]
        out: dict[str, Any] = {"log": self.log(exp), "identity_source": self.identity_net(exp.fold).source}
        gen = torch.Generator().manual_seed(1000 * exp.fold + exp.seed)
        if "R" in method.nets:
            net_R = method.nets["R"]
            scores = evaluate.classify(net_R, test, num_classes=self.K, batch_size=128)
            out.update(accuracy=scores["accuracy"], y_true=scores["y_true"], y_pred=scores["y_pred"],
                       stem_source=net_R.stem_source)
        if "G" in method.nets:
            out.update(self._synthesis_metrics(method.nets["G"], exp.fold, gen))
        if "G" in method.nets and "R" in method.nets:
            out.update(self._feature_gap(method, exp.fold, gen))
        return out

    def _synthesis_metrics(self, G: nn.Module, fold: int, gen: torch.Generator) -> dict[str, Any]:
        """PSNR/SSIM against same-identity ground truth (Table III), verification (Table IV) and the figures' images."""
        test = self.data.fold(fold, self.device)["test"]
        x, meta = test.data["image"], test.meta.reset_index(drop=True)
        pairs = ground_truth_pairs(meta)
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
        out["intensity"] = torch.stack([torch.cat([synthesize(G, x[show[:1]], y, intensity=float(v))
                                                   for y in range(self.K)]) for v in levels])
        out["prior"] = sample_new_identities(G.G_dec, int(self.P["n_new"]), range(self.K), generator=gen)
        out["real"] = x[show].cpu()
        return out

    def _verification(self, G: nn.Module, fold: int, gen: torch.Generator) -> float:
        """True-accept rate at ``VERIFICATION_FAR`` of (real, synthesized) pairs by ``F_id`` cosine similarity:
        each sampled test face against K faces synthesized from it and K from other people."""
        test = self.data.fold(fold, self.device)["test"]
        x, subjects = test.data["image"], test.meta["subject"].astype(str).to_numpy()
        n = min(len(x), int(self.P["verify_images"]))
        rows = torch.randperm(len(x), generator=gen)[:n].numpy()
        others = np.array([_other_subject_row(subjects, i, gen) for i in rows])
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
        """One row per training run: variant, fold, seed, accuracy, normalised feature gap,
        verification rate, PSNR, input-copy PSNR (NaN where not measured)."""
        rows = []
        for e in self.runs():
            r = self.result(e)
            rows.append({"variant": e.variant, "fold": e.fold, "seed": e.seed, "accuracy": r.get("accuracy", math.nan),
                         "gap": r["gap"]["normalized"] if "gap" in r else math.nan,
                         "verification": r.get("verification", math.nan), "psnr": r.get("psnr", math.nan),
                         "copy_psnr": r.get("copy_psnr", math.nan)})
        return pd.DataFrame(rows)

    def accuracy_table(self) -> pd.DataFrame:
        """One row per recognition variant, fold and seed: ``variant, fold, seed, accuracy``."""
        v = self.values()
        return v[v.variant.isin(list(ABLATIONS))][["variant", "fold", "seed", "accuracy"]].reset_index(drop=True)

    def accuracy_summary(self) -> pd.DataFrame:
        """Accuracy (%) per variant as ``mean ± std`` over folds and seeds, in the paper's order."""
        return tables.summary(self.accuracy_table(), "accuracy", order=list(ABLATIONS), scale=100,
                              name="accuracy (%)")

    def synthesis_table(self) -> pd.DataFrame:
        """Table III/IV analog: PSNR, SSIM, verification rate per FESGAN variant (and FESR_JL's
        generator after joint training), mean ± std over the folds/seeds it ran on."""
        rows = []
        for v in (*FESGAN_VARIANTS, "FESR_JL"):
            res = [self.result(e) for e in self.runs(v)]
            if not res:
                continue
            col = lambda name, scale=1.0: metrics.mean_std([r[name] for r in res], digits=3, scale=scale)  # noqa: E731
            rows.append({"generator": v, "PSNR (dB)": col("psnr"), "SSIM": col("ssim"),
                         f"verification rate (%) at FAR {VERIFICATION_FAR:.0%}": col("verification", 100),
                         "input-copy PSNR": col("copy_psnr"), "input-copy SSIM": col("copy_ssim"), "n": len(res)})
        return pd.DataFrame(rows).set_index("generator")

    def gap_table(self) -> pd.DataFrame:
        """The real-synthetic feature gap per fold/seed for every variant that has G and R."""
        return pd.DataFrame([{"variant": e.variant, "fold": e.fold, "seed": e.seed, **r["gap"]}
                             for e, r in ((e, self.result(e)) for e in self.runs()) if "gap" in r])

    def ledger(self) -> tuple[Ledger, pd.DataFrame]:
        """The claims ledger (paired over fold and seed, corrected for overlapping folds) and the
        per-replicate values behind it."""
        return tables.ledger(self.values(), CLAIMS, replicates=tables.fold_ratio(self.data.splits))

    def confusion(self, variant: str) -> torch.Tensor:
        """``(K, K)`` confusion counts of ``variant`` summed over folds and seeds (rows: true class)."""
        return sum(metrics.confusion_matrix(r["y_pred"], r["y_true"], self.K) for _, r in self.results(variant))

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
        acc = self.accuracy_table()
        ours = lambda v, col="accuracy", **kw: metrics.mean_std(  # noqa: E731
            self.values().query("variant == @v")[col].dropna().tolist(), **kw)
        rows = []
        if paper_ds in PAPER_TABLE_V_COLUMNS:
            j = PAPER_TABLE_V_COLUMNS.index(paper_ds)
            for v in ABLATIONS:
                paper = PAPER_TABLE_V.get(v, (None,) * 3)[j]
                rows.append(("V (accuracy, %)" if v in PAPER_TABLE_V else "Fig. 8 (accuracy, %)", v,
                             "only plotted" if paper is None else f"{paper:.2f}", ours(v, scale=100)))
            psnr, ssim = PAPER_TABLE_III[paper_ds]["FESGAN"]
            rows.append(("III (PSNR, dB)", "FESGAN (our FG)", f"{psnr:.3f}", ours("FG", "psnr", digits=3)))
            rows.append(("III (SSIM)", "FESGAN (our FG)", f"{ssim:.3f}",
                         metrics.mean_std([r["ssim"] for _, r in self.results("FG")], digits=3)))
            for v in ("FG", "FG-IP"):
                rows.append(("IV (verification, %)", v, f"{PAPER_TABLE_IV[paper_ds][v]:.2f}",
                             ours(v, "verification", scale=100)))
        else:
            paper = PAPER_TABLE_VI if paper_ds == "Multi-PIE" else {k: (v,) for k, v in PAPER_TABLE_VII.items()}
            for v in ("BASELINE", "FESR_JL"):
                rows.append(("VI (average, %)" if paper_ds == "Multi-PIE" else "VII (accuracy, %)", v,
                             f"{paper[v][-1]:.2f}", metrics.mean_std(acc[acc.variant == v].accuracy.tolist(), scale=100)))
        return tables.paper_vs_run([dict(zip(("table", "row", "paper", "this run"), r)) for r in rows],
                                   paper=f"paper ({paper_ds})", run=f"this run ({self.data.key}, profile {self.profile_name})")


def ground_truth_pairs(meta: pd.DataFrame) -> np.ndarray:
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
