"""The Comp-GAN chapter's tables, gates and ledger, read from its study's stored results
(:class:`CompGANTables` is a base of :class:`~fer_core.methods.compgan.experiments.CompGANStudy`;
the methods use its folds, ``runs`` and ``result``)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from fer_core import metrics
from fer_core.claims import Ledger
from fer_core.experiments import tables
from fer_core.methods.compgan.paper import (ATT, ATTGAN, BOTH, CNN, COMBINE, EXP, FEW_SHOT, FRONT, GAN, GANS, L,
                                            NOLOOP, NOLOOP_GAN, OURS, P2P, PAPER_CURVE, PAPER_TABLE_4, PAPER_TABLE_5,
                                            PAPER_TABLE_6, PAPER_TABLE_7, PIX2PIX, POSE, RECOGNISERS, claims,
                                            curve_variant, gain, shot_variant)

__all__ = ["CompGANTables"]


class CompGANTables:
    """Tables 4-7, the number-of-faces curve, the judge's readings, the gates, Figs. 13-15 and 18,
    the claims and the ledger of the Comp-GAN chapter."""

    def values(self) -> pd.DataFrame:
        """One row per recognition result: ``variant`` (the Tables' names; on the extra shot folds
        ``"<name> (k-shot)"``), ``task``, ``shots``, ``fold`` (the main fold of the episode: what claims pair
        on), ``seed`` (``seeds`` only) and the metrics; the derived rows +Front, +Combine and Comp-GAN; the
        gains per shot count (over ``shot_seeds`` too)."""
        rows = []
        recs = [*RECOGNISERS, CNN, *(curve_variant(int(n)) for n in self.P["curve"])]
        for e in self.runs(*recs):
            r = self.result(e)
            task, shots, _ = self.layout[e.fold]
            base = {"task": task, "shots": shots, "fold": self.main_fold(e.fold), "seed": e.seed}
            main = self.main_fold(e.fold) == e.fold
            name = lambda v: v if main or v.startswith(f"{BOTH} (n=") else shot_variant(v, shots)  # noqa: E731
            keys = ("accuracy", "mA", "acc", "prec", "rec", "F1")
            rows.append({"variant": name(e.variant), **base, **{k: r.get(k, math.nan) for k in keys}})
            derived = {POSE: (("front", FRONT), ("combine", COMBINE)), BOTH: (("combine", OURS),)}.get(e.variant, ())
            for prefix, v in derived:
                rows.append({"variant": name(v), **base, "accuracy": r[f"{prefix}_accuracy"],
                             **{k: r.get(f"{prefix}_{k}", math.nan) for k in keys[1:]}})
        df = pd.DataFrame(rows)
        extra = []
        if len(df):  # the gains pair every seed of the shot comparison; the tables read the study's seeds
            full, df = df, df[df.seed.isin(self.seeds)]
            for s in self.shots:
                for t in FEW_SHOT:
                    a = full[(full.variant == (BOTH if s == self.shots[0] else shot_variant(BOTH, s)))
                             & (full.task == t)]
                    b = full[(full.variant == (L if s == self.shots[0] else shot_variant(L, s))) & (full.task == t)]
                    d = (a.set_index(["fold", "seed"]).accuracy - b.set_index(["fold", "seed"]).accuracy).dropna()
                    extra += [{"variant": gain(s), "task": t, "shots": s, "fold": k, "seed": sd, "gain": v}
                              for (k, sd), v in d.items()]
        return pd.concat([df, pd.DataFrame(extra)], ignore_index=True)

    def face_values(self) -> tuple[list[tuple[Any, str]], pd.DataFrame]:
        """The face claims and their values, one row per (generator, episode): ``variant``, ``fold`` (the
        episode's main fold), ``seed``, ``l1`` (the composed edit's mean L1 to the true face, on every episode
        whose world renders it and that trained the generator without ``L_loop``) and ``identity_cosine`` (the
        judge's mean identity cosine of the composed edits, on the judged episodes). Comp-GAN and its
        competitor edit the same sources towards the same targets, so the claims pair over episodes: the
        generators' training is what replicates, not the choice of faces."""
        from fer_core.methods.compgan.paper import face_claims

        ran = {(e.variant, e.fold) for e in self.experiments}
        rows = []
        for f in self.main_folds:
            if (GAN, f) not in ran:
                continue
            both = self.result(GAN, f)["G(Pose)+G(Exp)"]
            if "l1_per_face" in both and (NOLOOP_GAN, f) in ran:
                rows += [{"variant": "Comp-GAN", "fold": f, "seed": self.seed, "l1": float(both["l1"])},
                         {"variant": "Comp-GAN w/o L_loop", "fold": f, "seed": self.seed,
                          "l1": float(self.result(NOLOOP_GAN, f)["G(Pose)+G(Exp)"]["l1"])}]
            if "identity_cosine" in both and (PIX2PIX, f) in ran:
                rows += [{"variant": "Comp-GAN", "fold": f, "seed": self.seed,
                          "identity_cosine": float(np.mean(np.asarray(both["identity_cosine"], float)))},
                         {"variant": "Pix2Pix", "fold": f, "seed": self.seed, "identity_cosine": float(np.mean(
                             np.asarray(self.result(PIX2PIX, f)["Pix2Pix"]["identity_cosine"], float)))}]
        df = pd.DataFrame(rows, columns=["variant", "fold", "seed", "l1", "identity_cosine"])
        claims = face_claims(loop=bool(df.l1.notna().any()), identity=bool(df.identity_cosine.notna().any()))
        return [(c, "l1" if c.variant_b == "Comp-GAN w/o L_loop" else "identity_cosine") for c in claims], df

    def _cell(self, v: pd.DataFrame, name: str, task: str | None = None, col: str = "accuracy") -> str:
        sel = v[(v.variant == name) & ((v.task == task) if task is not None else True)][col].dropna()
        return metrics.mean_std(sel.tolist(), scale=100)

    def table(self, names: tuple[str, ...], paper: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
        """Accuracy (%) of ``names`` per task, mean ± std over episodes and seeds, with the paper's numbers."""
        v = self.values()
        rows = []
        for name in names:
            row = {"method": name, **{t: self._cell(v, name, t) for t in self.P["tasks"]}}
            row["mean"] = self._cell(v, name)
            row["paper (mean of six)"] = round(float(np.mean(list(paper[name].values()))), 2) if name in paper else math.nan
            rows.append(row)
        return pd.DataFrame(rows).set_index("method")

    def table4(self) -> pd.DataFrame:
        """Table 4: the recogniser with each augmenter's faces over the six tasks."""
        return self.table((L, P2P, ATT, POSE, EXP, BOTH, OURS), PAPER_TABLE_4)

    def table5(self) -> pd.DataFrame:
        """Table 5: Comp-GAN's variants over the six tasks."""
        names = (L, POSE, FRONT, COMBINE, EXP, BOTH, OURS) + ((NOLOOP,) if self.P["loop_tasks"] else ())
        return self.table(names, PAPER_TABLE_5)

    def table6(self) -> pd.DataFrame:
        """Table 6: accuracy (%) at each shot count on the few-shot tasks, with the paper's."""
        v = self.values()
        rows = []
        for name in (L, POSE, EXP, BOTH, OURS):
            row: dict[str, Any] = {"method": name}
            for t in FEW_SHOT:
                if t not in self.P["tasks"]:
                    continue
                for i, s in enumerate(self.shots):
                    label = name if s == self.shots[0] else shot_variant(name, s)
                    row[f"{t} {s}-shot"] = self._cell(v, label, t)
                    if name in PAPER_TABLE_6 and s in (1, 3, 5):
                        row[f"{t} {s}-shot (paper)"] = PAPER_TABLE_6[name][t][(1, 3, 5).index(s)]
            rows.append(row)
        return pd.DataFrame(rows).set_index("method")

    def table7(self) -> pd.DataFrame:
        """Table 7: the five metrics of Eqs. (14)-(18) under ER-FE at the fewest shots (%)."""
        v = self.values()
        v = v[v.task == "ER-FE"]
        rows = []
        for name in (L, POSE, EXP, BOTH, ATT, OURS):
            row = {"method": name, **{m: self._cell(v, name, "ER-FE", c) for m, c in
                                      (("Acc.", "acc"), ("mA.", "mA"), ("Pre.", "prec"), ("Rec.", "rec"), ("F1.", "F1"))}}
            paper = PAPER_TABLE_7.get(name)
            row["paper (Acc./mA./Pre./Rec./F1.)"] = " / ".join(f"{x:.1f}" for x in paper) if paper else "-"
            rows.append(row)
        return pd.DataFrame(rows).set_index("method")

    def curve(self) -> pd.DataFrame:
        """Accuracy on ER-FE (most shots) against the generated faces per novel class (Sec. 5.4)."""
        if self.curve_fold is None:
            return pd.DataFrame(columns=["n", "accuracy", "std", "runs", "paper"])
        v = self.values()
        s = self.shots[-1]
        rows = []
        for n in sorted({0, *(int(x) for x in self.P["curve"])}):
            name = shot_variant(L, s) if n == 0 else (shot_variant(BOTH, s) if n == int(self.P["n_per_class"])
                                                      else curve_variant(n))
            sel = v[(v.variant == name) & (v.task == "ER-FE")].accuracy.dropna()
            rows.append({"n": n, "accuracy": sel.mean(), "std": sel.std(ddof=1) if len(sel) > 1 else math.nan,
                         "runs": len(sel), "paper": PAPER_CURVE.get(n, math.nan) / 100})
        return pd.DataFrame(rows)

    def judge_table(self) -> pd.DataFrame:
        """The judge on each augmenter's edits of test faces (judged folds), with the true faces' reading."""
        rows = []
        for e in self.runs(*GANS):
            if not self.judged(e.fold):
                continue
            r = self.result(e)
            for kind in r["kinds"]:
                j = r[kind]["judge"]
                t = r[kind].get("judge_truth", {})
                rows.append({"task": self.task(e.fold), "generator": e.variant.replace(" (G)", ""), "edit": kind,
                             "target expression": j.get("target_expression"),
                             "target view": j.get("target_pose"), "identity TAR": j.get("identity_tar"),
                             "identity TAR (true faces)": t.get("identity_tar", math.nan),
                             "L1 to true face": r[kind].get("l1", math.nan),
                             "copy L1": r[kind].get("copy_l1", math.nan)})
        return pd.DataFrame(rows)

    def gates(self) -> pd.DataFrame:
        """The checks before any claim: L. against the plain CNN on ER-SS; G(Exp) and G(Pose) read by the judge."""
        v = self.values()
        acc = lambda m: float(v[(v.variant == m) & (v.task == "ER-SS")].accuracy.mean())  # noqa: E731
        jt = self.judge_table()
        own = jt[jt.generator == "Comp-GAN"]
        g = lambda kind, col: float(own[own.edit == kind][col].mean()) if len(own) else math.nan  # noqa: E731
        rows = [("L. (no augmentation) at least as accurate as the plain CNN on ER-SS", f"{acc(L):.1%}",
                 f"{acc(CNN):.1%} (plain CNN)", acc(L) >= acc(CNN)),
                ("judge reads the target expression in G(Exp)'s faces", f"{g('G(Exp)', 'target expression'):.1%}",
                 ">= 70%", g("G(Exp)", "target expression") >= 0.70),
                ("judge reads the target view in G(Pose)'s faces", f"{g('G(Pose)', 'target view'):.1%}", ">= 70%",
                 g("G(Pose)", "target view") >= 0.70)]
        for kind in ("G(Exp)", "G(Pose)"):
            tar, ceiling = g(kind, "identity TAR"), g(kind, "identity TAR (true faces)")
            rows.append((f"identity kept by {kind}: judge's TAR of edited vs source faces", f"{tar:.1%}",
                         f">= half the true faces' ({ceiling:.1%})", tar >= 0.5 * ceiling))
            l1, c = g(kind, "L1 to true face"), g(kind, "copy L1")
            rows.append((f"{kind}'s face closer to the true face than a copy of the input", f"{l1:.3f} (L1)",
                         f"< {c:.3f} (copy)", l1 < c))
        return pd.DataFrame(rows, columns=["check", "this run", "target", "passes"]).set_index("check")

    def preservation(self) -> pd.DataFrame:
        """Figs. 13-15: per target class, the share of edited faces the judge reads as the target expression
        (Fig. 13) or view (Fig. 14), and the identity cosine to the source (Fig. 15), per generator."""
        rows = []
        for e in self.runs(GAN, PIX2PIX, ATTGAN):
            if not self.judged(e.fold):
                continue
            r = self.result(e)
            for kind in r["kinds"]:
                k = r[kind]
                for what, got, target in (("expression", k["judge_expression"], k["et"]),
                                          ("view", k["judge_pose"], k["pt"])):
                    for c in torch.unique(target).tolist():
                        m = target == c
                        name = self.data.classes[c] if what == "expression" else self.views[c]
                        rows.append({"generator": kind, "attribute": what, "class": name,
                                     "value": float((got[m] == c).double().mean()), "n": int(m.sum())})
                for c in torch.unique(k["et"]).tolist():
                    m = k["et"] == c
                    rows.append({"generator": kind, "attribute": "identity cosine", "class": self.data.classes[c],
                                 "value": float(k["identity_cosine"][m].mean()), "n": int(m.sum())})
        return pd.DataFrame(rows)

    def embedding(self, fold: int | None = None) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
        """Fig. 18's points: the judge's identity features of test faces and of their G(Pose) and G(Exp)
        edits (first judged fold): ``(features (N, D), identity (N,), kind (N,), is_generated (N,))``."""
        fold = fold if fold is not None else next(f for f in self.main_folds if self.judged(f))
        r = self.result(GAN, fold)
        feats, ids, kinds, gen = [], [], [], []
        for kind in ("G(Pose)", "G(Exp)"):
            em = r[kind]["embed"]
            for name, f in (("source", em["source"]), ("fake", em["fake"])):
                feats.append(f)
                ids.append(em["subjects"].numpy())
                kinds += [kind] * len(f)
                gen += [name == "fake"] * len(f)
        return torch.cat(feats), np.concatenate(ids), np.asarray(kinds), np.asarray(gen)

    def claims(self):
        shots = (self.shots[0], self.shots[-1]) if len(self.shots) > 1 and any(t in self.P["tasks"] for t in FEW_SHOT) \
            else None
        return claims(shots=shots)

    def ledger(self) -> tuple[Ledger, pd.DataFrame]:
        """The claims ledger: recognition claims paired over episode and seed, face claims paired over the
        episodes that scored both generators (resampled splits: the corrected interval); one Holm family."""
        ss = [self.data.splits[f] for f in self.main_folds]
        face_claims, faces = self.face_values()
        values = pd.concat([self.values(), faces], ignore_index=True)
        return tables.ledger(values, [*self.claims(), *face_claims], replicates=tables.fold_ratio(ss))

    def paper_comparison(self) -> pd.DataFrame:
        """"Paper reports / this run": Tables 4-5 per task, and Table 7."""
        v = self.values()
        rows = []
        for name in (L, P2P, ATT, POSE, EXP, BOTH, OURS):
            paper = PAPER_TABLE_5.get(name) or PAPER_TABLE_4[name]
            for t in self.P["tasks"]:
                rows.append(("4-5 (accuracy, %)", f"{name}, {t}", f"{paper[t]:.2f}", self._cell(v, name, t)))
        for name, vals in PAPER_TABLE_7.items():
            rows.append(("7 (ER-FE F1, %)", name, f"{vals[4]:.2f}", self._cell(v[v.task == "ER-FE"], name, "ER-FE", "F1")))
        return tables.paper_vs_run([dict(zip(("table", "row", "paper", "this run"), r)) for r in rows],
                                   paper="paper (F2ED, 54 classes)",
                                   run=f"this run ({self.data.key}, profile {self.profile_name})")
