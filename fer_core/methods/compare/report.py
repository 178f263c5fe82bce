"""The comparison chapter's run-dependent prose and figures: deviations, figures, the pick, closing notes.

Every statement is computed from the study's settings and results; nothing here is a typed-in number.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from fer_core import viz
from fer_core.claims import HOLDS, Ledger
from fer_core.methods.compare.adapters import adapter
from fer_core.methods.compare.paper import METRICS, PLAIN, TARGETED
from fer_core.methods.compare.protocol import CONDITION_TITLES

if TYPE_CHECKING:
    from fer_core.methods.compare.experiments import CompareStudy

__all__ = ["protocol_table", "deviations", "gain_vs_cost", "gain_heatmap", "generated_row", "summary_table",
           "pick", "closing_notes"]


def protocol_table(study: "CompareStudy") -> pd.DataFrame:
    """Per fold: training faces, generated faces per method, and test faces per condition."""
    rows = []
    for k, s in enumerate(study.data.splits):
        cond = study.test_conditions(k)
        rows.append({"fold": k, "train faces": len(s.train), "generated faces (each method)": study.n_generated(k),
                     **{CONDITION_TITLES[c]: int((cond == c).sum()) for c in study.conditions}})
    return pd.DataFrame(rows).set_index("fold")


def deviations(study: "CompareStudy") -> pd.DataFrame:
    """What this run does differently from the five papers (read from the profile and the plan)."""
    P = study.P
    rows = [
        ("data", "each paper its own (CK+, Oulu-CASIA, MMI, Multi-PIE, RAF-DB, F2ED, ...)", study.data.name),
        ("world", "-", f"lab-like: nuisance {P['nuisance']:g}, idiosyncrasy {P['idiosyncrasy']:g} (CK+ and "
                       "Oulu-CASIA are recorded in a lab; GroupGAN's chapter uses the same)"
         if study.data.synthetic else "a real dataset: no synthetic world"),
        ("recogniser", "each paper its own (FESR's R, JESRL's VGG-19 + G_enc, Fa-Net, Comp-GAN's F_cls, "
                       "GroupGAN's BaseNets)",
         f"one for all: the book's plain CNN (SmallCNN width {P['cnn_width']}), Adam {P['lr']:g} with a cosine "
         f"decay, {P['steps']} steps of {P['batch_size']} faces, on the real faces plus the method's faces"),
        ("how a generator helps", "joint training (FESR's intra-class loss and RDBP; JESRL's G_enc representation "
                                  "inside C; GroupGAN's C on G's faces)",
         "the generator's faces enter the shared recogniser as extra training data (GroupGAN: and its magnified "
         "faces at test time); joint losses and shared representations stay in their chapters"),
        ("generators", "paper sizes and schedules (tens of thousands of iterations)",
         f"each package's networks at {P['size']} px, {P['gan_steps']} steps of {P['gan_batch_size']} once per fold, "
         "shared by the seeds (the CPU budget: five generators x folds within minutes)"),
        ("FESR", "FESGAN with L_id (LightCNN), then joint training with R",
         "FESGAN without L_id (variant FG-IP: no identity network to train per fold); faces of new identities "
         "z ~ U(-1, 1) in every expression"),
        ("JESRL", "switch GAN with L_per (VGG-19) and C reading G_enc(I), end to end",
         "the switch GAN as trained alone (variant No_ExpR: its C does not read G_enc), lambda_2 = 0 (no perceptual "
         "network); transfers between random training faces"),
        ("FaPE-GAN", "pairs of one person and expression in two views",
         "pairs of one person, take and frame in two seen views; balanced augmentation as in its chapter"),
        ("GroupGAN", "Algorithm 1 pre-trains E and G; BaseNets of Table 1",
         f"GroupGAN 2V2 on {P['groupgan_basenet']} without the pre-trainings, residual G, no flips; G magnifies "
         "weak training faces (the extra faces) and every test face"),
        ("Comp-GAN", "F_cls (LightCNN-29 v2) and G(Exp) + G(Pose) by Algorithm 1 on F2ED, few-shot tasks",
         f"its package's train_compgan on the fold's training faces: F_cls {P['compgan_cls_steps']} steps, then "
         f"Algorithm 1 for {P['gan_steps']} steps (its FLOPs count Algorithm 1's step; F_cls's pre-training is in "
         "its wall time); composed edits G(Pose) then G(Exp) with references drawn from the training faces"),
        ("generated faces", "each paper its own number", f"{P['aug_ratio']:g} per real training face for every method"),
        ("replicates", "-", f"{len(study.folds)} subject-independent folds x {len(study.seeds)} seeds (the corrected "
                            "resampled t)"),
    ]
    if "Comp-GAN" not in study.methods:
        rows = [r for r in rows if r[0] != "Comp-GAN"]
        rows.append(("Comp-GAN", "part of the comparison", "not in this run: "
                     + ("its package's public API is not in this checkout" if "Comp-GAN" not in P["methods"]
                        else study.left_out.get("Comp-GAN", ""))))
    if study.left_out:
        rows.append(("methods left out", "-", "; ".join(f"{m}: {why}" for m, why in study.left_out.items())))
    return pd.DataFrame(rows, columns=["aspect", "papers", "this run"]).set_index("aspect")


def _palette(methods) -> dict[str, tuple]:
    colours = sns.color_palette("colorblind", len(methods) + 1)
    return {m: colours[i + 1] for i, m in enumerate(methods)}


def summary_table(study: "CompareStudy", ledger: Ledger) -> pd.DataFrame:
    """Per method: mean gain (points) with its interval and verdict, gain per condition, cost: the table the
    conclusion is read from."""
    g, cost = study.gain_matrix(), study.cost_table()
    mean_claims = {r.claim.variant_a: r for r in ledger.results if r.claim.text.endswith("(mean over the conditions)")}
    rows = []
    for m in study.methods:
        r = mean_claims[m]
        rows.append({"method": m, "gain (points)": 100 * r.effect, "ci low": 100 * r.ci_low,
                     "ci high": 100 * r.ci_high, "verdict": r.verdict,
                     **{f"gain {c}": g.loc[m, c] for c in study.conditions},
                     "extra CPU minutes": cost.loc[m, "extra CPU minutes"],
                     "training TFLOP / run": cost.loc[m, "training TFLOP / run"],
                     "gain per extra CPU minute": 100 * r.effect / max(cost.loc[m, "extra CPU minutes"], 1e-9)})
    return pd.DataFrame(rows).set_index("method")


def gain_vs_cost(study: "CompareStudy", ledger: Ledger) -> Figure:
    """Mean accuracy gain (with its interval) against the extra training time and the training FLOPs."""
    t = summary_table(study, ledger)
    pal = _palette(study.methods)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, col, label in ((axes[0], "extra CPU minutes", "extra training time (CPU minutes per fold)"),
                           (axes[1], "training TFLOP / run", "training FLOPs per recogniser run (TFLOP)")):
        for m, r in t.iterrows():
            if not np.isfinite(r[col]) or r[col] <= 0:
                continue
            ax.errorbar(r[col], r["gain (points)"], yerr=[[r["gain (points)"] - r["ci low"]],
                                                          [r["ci high"] - r["gain (points)"]]],
                        fmt="o", capsize=4, color=pal[m], label=m)
            ax.annotate(m, (r[col], r["gain (points)"]), textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.axhline(0, color="grey", lw=1, ls="--")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy gain over plain (points, 95% CI)")
    axes[0].set_title("gain vs time")
    axes[1].set_title("gain vs FLOPs")
    fig.tight_layout()
    plt.close(fig)
    return fig


def gain_heatmap(study: "CompareStudy") -> Figure:
    """Mean gain (points) per method and condition."""
    g = study.gain_matrix().rename(columns={"mean": "mean", **{c: c for c in study.conditions}})
    fig, ax = plt.subplots(figsize=(1.3 * g.shape[1] + 2, 0.6 * g.shape[0] + 1.5))
    lim = max(1e-6, float(np.nanmax(np.abs(g.to_numpy()))))
    sns.heatmap(g, annot=True, fmt="+.1f", cmap="vlag", vmin=-lim, vmax=lim, center=0, ax=ax,
                cbar_kws={"label": "gain (accuracy points)"})
    ax.set_xlabel("test condition")
    ax.set_ylabel("method")
    ax.set_title("gain over the plain recogniser by condition")
    fig.tight_layout()
    plt.close(fig)
    return fig


def generated_row(study: "CompareStudy", fold: int = 0) -> Figure:
    """The same input faces (top row) and each method's edit of them (one row per method)."""
    ex = study.examples(fold)
    rows = ["input", *study.methods]
    images = torch.cat([ex[r] for r in rows])
    n = len(ex["input"])
    edits = {m: adapter(m).target for m in study.methods}
    labels = ["input (test face)"] + [f"{m} ({edits[m]})" for m in study.methods]
    fig = viz.image_grid(images, nrow=n, row_labels=labels, title=f"one row per method, same inputs (fold {fold})")
    return fig


def pick(study: "CompareStudy", ledger: Ledger) -> str:
    """"Which method would you pick, and when", read from the summary table (Markdown)."""
    t = summary_table(study, ledger)
    holds = t[t.verdict == HOLDS]
    lines = []
    if holds.empty:
        best = t["gain (points)"].idxmax()
        lines.append(f"- **Overall.** No method's mean gain over the plain recogniser holds on this run "
                     f"({len(study.folds)} folds x {len(study.seeds)} seeds); the largest mean gain is {best}'s "
                     f"({t.loc[best, 'gain (points)']:+.1f} points, interval {t.loc[best, 'ci low']:+.1f} to "
                     f"{t.loc[best, 'ci high']:+.1f}). On this evidence the plain recogniser is the pick: no generator "
                     "bought a gain this run can show.")
    else:
        best = holds["gain (points)"].idxmax()
        cheap = holds["gain per extra CPU minute"].idxmax()
        lines.append(f"- **Overall.** {best}: the largest mean gain that holds "
                     f"({holds.loc[best, 'gain (points)']:+.1f} points, interval {holds.loc[best, 'ci low']:+.1f} "
                     f"to {holds.loc[best, 'ci high']:+.1f}).")
        lines.append(f"- **On a budget.** {cheap}: the most gain per extra CPU minute among the gains that hold "
                     f"({holds.loc[cheap, 'gain per extra CPU minute']:+.1f} points per minute).")
    for c in study.conditions:
        col = f"gain {c}"
        m = t[col].idxmax()
        lines.append(f"- **{CONDITION_TITLES[c][0].upper() + CONDITION_TITLES[c][1:]}.** {m} has the largest mean gain "
                     f"({t.loc[m, col]:+.1f} points)" + ("" if t.loc[m, col] > 0 else "; no method gains here") + ".")
    targeted = {r.claim.variant_a: r for r in ledger.results if not r.claim.text.endswith("(mean over the conditions)")}
    met = [m for m, r in targeted.items() if r.verdict == HOLDS]
    lines.append("- **Each paper on its own ground.** " + (
        ", ".join(f"{m} ({TARGETED[m]})" for m in met) + " gain significantly where their paper aims."
        if met else "No method's gain on the condition its paper targets holds on this run."))
    return "\n".join(lines)


def _failed_by_method(failed: list[str], methods) -> str:
    """The failed checks grouped by method, in a few words each."""
    short = {"move the judge": "target", "identity kept": "identity", "closer to the true face": "true face",
             "plain recogniser": "recogniser"}
    out = []
    for m in ["plain", *methods]:
        mine = [c for c in failed if c.startswith(f"{m}:") or (m == "plain" and c.startswith("plain"))]
        if mine:
            words = [next((v for k, v in short.items() if k in c), c) for c in mine]
            out.append(f"{m}: {', '.join(words)}")
    return "; ".join(out)


def closing_notes(study: "CompareStudy", ledger: Ledger) -> str:
    """The chapter's closing section as Markdown, computed from the run."""
    P = study.P
    acc = study.accuracy_table()
    gates = study.gates()
    failed = [c for c, r in gates.iterrows() if not r["passes"]]
    lines = [f"**Data and budget.** {study.data.name}, profile `{study.profile_name}`; {len(study.folds)} folds x "
             f"{len(study.seeds)} seeds; every generator {P['gan_steps']} steps per fold, every recogniser "
             f"{P['steps']} steps; {study.wall_time_summary()}.",
             f"- **The plain recogniser.** {acc.loc[PLAIN, 'mean of the conditions']}% over the conditions (chance "
             f"{100 / study.K:.1f}%): " + "; ".join(f"{c} {acc.loc[PLAIN, c]}%" for c in study.conditions) + ".",
             "- **The checks before the claims.** " + ("All pass." if not failed else
                                                       f"{len(failed)} of {len(gates)} not met ("
                                                       + _failed_by_method(failed, study.methods)
                                                       + "). A gain (or its absence) from a generator that failed a "
                                                         "check says little about its paper's idea; at these "
                                                         "budgets it says what the idea buys when trained this "
                                                         "briefly.")]
    counts = pd.Series([r.verdict for r in ledger.results]).value_counts()
    lines.append("- **Verdicts.** " + ", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(ledger.results)} "
                 "claims (Holm over the family).")
    for r in ledger.results:
        lines.append(f"- {r.claim.text}: {100 * r.effect:+.1f} points ({100 * r.ci_low:+.1f} to {100 * r.ci_high:+.1f}"
                     f"; detectable ±{100 * r.detectable:.1f}), **{r.verdict}**.")
    return "\n".join(lines)
