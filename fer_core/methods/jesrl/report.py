"""The JESRL chapter's prose that depends on the run: paper vs authors' code, deviations, the "paper reports /
this run" table and the closing notes. Every number here is read from the study's settings and results.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fer_core import metrics
from fer_core.claims import Ledger
from fer_core.notes import claim_notes, gates_note
from fer_core.experiments import tables
from fer_core.methods.jesrl.nets import ClassifierConfig, SwitchGANConfig, gan_param_counts
from fer_core.methods.jesrl.paper import (PAPER_DATASET, PAPER_SETTINGS, PAPER_TABLE_II, PAPER_TABLE_III,
                                          PAPER_TABLE_IV, PAPER_TABLE_V, PAPER_TABLE_VI, PAPER_TABLE_VII, POSES)

if TYPE_CHECKING:
    from fer_core.methods.jesrl.experiments import JESRLStudy

__all__ = ["paper_vs_code", "deviations", "paper_comparison", "update_budget", "closing_notes"]

#: (aspect, the paper, the authors' public code (PyTorch 1.0), this book, reproduced by official_code=True?)
_CODE_POINTS = (
    ("l2-normalisation (l2-N)", "cited from ELEGANT, not defined",
     "F.normalize over channels at each pixel, one learnable scalar scale and shift, after every conv/deconv "
     "but the last", "as the code (both readings)", False),
    ("G_dec input", "[R_c, R_a, S_c], Concat(512 + 512 + 20 n)", "[swapped R, own R, switch code repeated 20x]",
     "as both", False),
    ("G_dec activation", "LeakyReLU (Table I)", "ReLU", "LeakyReLU; ReLU with official_code", True),
    ("skip connections", "'U-Net architecture' in the text, none in Table I", "U-Net skips from the source's first "
     "four encoder stages", "none; the code's skips with official_code", True),
    ("residual image (Eq. 4)", "Tanh residual added to the input", "2·tanh residual, clamp(A + residual, -1, 1)",
     "Tanh added; the code's 2·tanh and clamp with official_code", True),
    ("expression blocks of R", "n blocks along channels (sizes not stated)", "cut at round(C / n · k)", "as the code",
     False),
    ("pair draws", "one expression at a time, 'go over all expressions repeatedly'",
     "i uniform, I_a from class i, I_b from any other class", "i = step mod n; uniform with official_code", True),
    ("discriminators", "conditioned on y (Eq. 5), D1 full and D2 half resolution, sum of both",
     "image ⊕ n-channel label map, BCE with noisy targets, D loss 0.25 (D1 + 0.5 D2)",
     "image ⊕ label map, BCE with clean targets, D1 + D2 (Eq. 5)", False),
    ("L_p (Eq. 10)", "||I_a + I_b||_1 - ||I_c + I_d||_1 (unbounded below as printed)", "L1(A + B, C + D) per pixel",
     "absolute difference of the two norms; the code's L1 with official_code", True),
    ("total variation", "λ4 TV(G(I_a, I_b)) trains G", "computed on detached images (trains nothing)",
     "trains G; detached with official_code", True),
    ("classifier C", "trained end to end with the GAN (Eq. 12)", "encoder frozen, C and GAN take turns every few "
     "epochs", "end to end; frozen encoder and turns with official_code", True),
    ("optimisers", "Adam 2e-4 (0.5, 0.999) for the GAN; SGD 1e-3, momentum 0.9 for C",
     "Adam 2e-4 (0.5, 0.999), weight decay 1e-5, x0.97 every 300 iterations", "the profile's (deviations table)",
     False),
    ("batch, size, length", "256 px (batch and iterations not stated)", "batch 10, 256 px, about 30k iterations",
     "the profile's (deviations table)", False),
)


def paper_vs_code() -> pd.DataFrame:
    """Every point where the authors' public code differs from the paper, and what this book does."""
    return pd.DataFrame([dict(zip(("aspect", "paper", "authors' code", "this book", "official_code=True reproduces"),
                                  (*row[:4], "yes" if row[4] else "—"))) for row in _CODE_POINTS]).set_index("aspect")


def update_budget(study: "JESRLStudy") -> pd.DataFrame:
    """Per variant: iterations, GAN updates and C updates (every recogniser updates C equally often)."""
    rows = []
    T = int(study.P["steps"])
    for v in ("CNN", "No_SynFI", "Ours", "No_InterL", "No_ExpR", "No_InterL_ExpR", "TwoStage", "Official"):
        gan = 0 if v in ("CNN", "No_SynFI") else (f"{T} (No_ExpR's)" if v == "TwoStage" else T)
        rows.append({"variant": v, "iterations": study.steps_of(v), "GAN updates": gan, "C updates": T})
    return pd.DataFrame(rows).set_index("variant")


def deviations(study: "JESRLStudy") -> pd.DataFrame:
    """What this run does differently from the paper, read from the profile and the built objects."""
    P, gan, clf = study.P, study.gan_config, study.clf_config
    paper_gan = SwitchGANConfig.at(256, num_classes=study.K)
    n_gan = lambda cfg: sum(gan_param_counts(cfg).values())  # noqa: E731
    F_source = (f"ImageNet VGG-19 from {study.backbone_weights}" if study.backbone_weights else
                "the VGG-19 trunk of the plain classifier (No_SynFI) of the same fold and seed, trained on the fold's "
                "real faces, frozen (no ImageNet weights offline)")
    split = study.data.splits[0]
    rows = [
        ("data", "Multi-PIE (270 subjects, 5 yaws, 6 classes), MMI, RAF-DB", study.data.name),
        ("folds", "five-fold subject-independent (Multi-PIE, MMI); RAF-DB official split",
         f"{len(study.folds)} split(s), {len(split.train)} training / {len(split.test)} test faces in the first; "
         f"{len(study.seeds)} run seed(s) each"),
        ("resolution", f"{PAPER_SETTINGS['size']} x {PAPER_SETTINGS['size']}", f"{P['size']} x {P['size']} "
         f"(R is {gan.rep_size} x {gan.rep_size}, as VGG-19's last map)"),
        ("GAN widths / parameters", f"Table I / {n_gan(paper_gan):,} (the paper: 14M)",
         f"G_enc {gan.G_enc}, G_dec {gan.G_dec}, D {gan.D} / {n_gan(gan):,}"),
        ("classifier C", "VGG-19 pre-trained on ImageNet, FC(512), AvgPool, FC(4096) x 2, FC(n)",
         f"VGG-19{'-BN' if clf.batch_norm else ''} at width {clf.vgg_width} ({clf.weights or 'from scratch'}), "
         f"FC({clf.fuse}), global AvgPool, FC({clf.fc[0]}), FC({clf.fc[1]}), Dropout {clf.dropout}"),
        ("perceptual network F (Eq. 11)", "pre-trained VGG, layers not named", F_source + "; relu1_2, relu2_2, "
         "relu3_4, relu4_4"),
        ("C's optimiser", f"{PAPER_SETTINGS['optimizer_C']}, lr {PAPER_SETTINGS['lr_C']:g}",
         f"{'SGD, momentum 0.9' if P['optimizer_C'] == 'sgd' else 'Adam'}, lr {float(P['lr_C']):g}"),
        ("GAN optimiser", "Adam 2e-4, (0.5, 0.999)", f"Adam {float(P['lr']):g}, (0.5, 0.999), weight decay "
         f"{float(P['weight_decay']):g}"),
        ("iterations / pairs / C's real batch", "not stated (the code: ~30k, batch 10)",
         f"{P['steps']} / {P['pairs']} / {P['batch_size']} (the update budget below)"),
        ("generated faces in C's loss", "'original and generated images' (ratio not stated)",
         f"per iteration {P['batch_size']} real faces and the {2 * int(P['pairs'])} transfers I_c, I_d, as data "
         "(detached: the bridge to G_enc is the representation, Sec. IV-E)"),
        ("TwoStage", "synthesis and recognition trained separately", "C trained after No_ExpR's GAN (a GAN that C "
         "never reaches), reading its frozen G_enc, on real and freshly generated faces"),
        ("Official (the authors' code)", "—", f"{study.steps_of('Official')} iterations taking turns in blocks of "
         f"{P['alternate']} (as many GAN and C updates as Ours)"),
        ("reductions of L_r, L_p, L_per, TV", "norms (sum or mean not stated)", "means per value; λ1..λ4 = "
         f"{tuple(P['lambdas'])}"),
        ("FID (Eq. 13)", "Inception-v3 features", "Fréchet distance on the judge's expression features (a network "
         "trained on the fold's real faces only)" + (f"; Inception FID from {study.inception_weights}"
                                                      if study.inception_weights else "")),
        ("Fig. 12 curve", "0N .. 6N synthetic faces", f"{', '.join(f'{k}N' for k in study.curve)} on "
         f"{len(study.light_seeds)} seed(s) per fold, C without G_enc(I), generator of Ours"),
    ]
    return pd.DataFrame(rows, columns=["aspect", "paper", "this run"]).set_index("aspect")


def paper_comparison(study: "JESRLStudy") -> pd.DataFrame:
    """"Paper reports / this run" for the paper dataset this data stands in for."""
    paper_ds = PAPER_DATASET.get(study.data.key, "Multi-PIE")
    v = study.values()
    ours = lambda var, col="accuracy", s=100: metrics.mean_std(v[v.variant == var][col].dropna().tolist(), scale=s)  # noqa: E731
    rows = []
    if paper_ds == "Multi-PIE":
        for var in ("No_InterL", "No_ExpR", "No_InterL_ExpR", "No_SynFI", "TwoStage", "Ours"):
            rows.append(("VII (average accuracy, %)", var, f"{PAPER_TABLE_VII[var][-1]:.2f}", ours(var)))
        rows.append(("II (average accuracy, %)", "VGG19 (our No_SynFI)", f"{PAPER_TABLE_II['VGG19'][-1]:.2f}",
                     ours("No_SynFI")))
        fid = study.fid_table()
        for name, key in (("No_inter (our No_InterL)", "No_InterL"), ("Ours", "Ours")):
            val = fid.loc[key, "mean"] if key in fid.index else "not run"
            rows.append(("V (mean FID over expressions)", name, f"{np.mean(PAPER_TABLE_V[key.replace('No_InterL', 'No_inter')]):.2f}"
                         " (Inception)", f"{val} (judge features)"))
    elif paper_ds == "MMI":
        rows.append(("III (accuracy, %)", "Ours (7 classes)", f"{PAPER_TABLE_III['Ours (7 classes)']:.2f}", ours("Ours")))
    else:
        rows.append(("IV (accuracy, %)", "Ours", f"{PAPER_TABLE_IV['Ours']:.2f}", ours("Ours")))
        rows.append(("VI (mean FID)", "Ours", f"{np.mean(PAPER_TABLE_VI['Ours']):.2f} (Inception)",
                     f"{study.fid_table().loc['Ours', 'mean']} (judge features)"))
    return tables.paper_vs_run([dict(zip(("table", "row", "paper", "this run"), r)) for r in rows],
                               paper=f"paper ({paper_ds})", run=f"this run ({study.data.key}, profile {study.profile_name})")


def pose_comparison(study: "JESRLStudy") -> pd.DataFrame:
    """Table VII's per-pose columns beside this run's (synthetic or Multi-PIE data only)."""
    ours = study.per_pose_table()
    rows = []
    for var in ("No_SynFI", "TwoStage", "Ours"):
        if var not in ours.index:
            continue
        rows.append({"variant": var, "source": "paper", **{f"{p}°": f"{x:.2f}" for p, x in zip(POSES, PAPER_TABLE_VII[var])},
                     "average": f"{PAPER_TABLE_VII[var][-1]:.2f}"})
        rows.append({"variant": var, "source": "this run", **{c: ours.loc[var, c] for c in ours.columns if c != "runs"}})
    return pd.DataFrame(rows).set_index(["variant", "source"])




def closing_notes(study: "JESRLStudy", ledger: Ledger, *, wall: str | None = None) -> str:
    """The chapter's closing section as Markdown, every statement computed from ``study``'s results."""
    P, v = study.P, study.values()
    acc = v.groupby("variant")["accuracy"].mean()
    chance = 1 / study.K
    lines = [f"**Data and budget.** {study.data.name}, profile `{study.profile_name}`, {len(study.folds)} folds x "
             f"{len(study.seeds)} seed(s); every recogniser updates C {P['steps']} times, every GAN {P['steps']} "
             f"times with {P['pairs']} pairs per iteration."]
    lines.append(f"- **Recognition.** Ours reaches {acc.get('Ours', math.nan):.1%} (chance {chance:.1%}); the plain "
                 f"VGG-19 (No_SynFI) {acc.get('No_SynFI', math.nan):.1%}, the plain CNN {acc.get('CNN', math.nan):.1%}. "
                 f"The paper reports {PAPER_TABLE_VII['Ours'][-1]:.2f}% and {PAPER_TABLE_VII['No_SynFI'][-1]:.2f}% on "
                 "Multi-PIE with ImageNet VGG-19 at 256 px.")
    lines.append(gates_note(study.gates(), consequence=(
        "The claims below compare variants whose recogniser or generator has not reached that level, so "
        "they describe this budget, not the method at the paper's.")))
    syn = study.synthesis_table()
    if "Ours" in syn.index:
        kept = syn.loc["Ours", "still the source's expression (%)"]
        lines.append(f"- **What the transfers are.** The judge reads the target expression in "
                     f"{syn.loc['Ours', 'target expression (%)']}% of Ours's transfers and still the source's own "
                     f"expression in {kept}%. C learns from these "
                     "faces under their *target* labels, so where they keep the source's expression they teach C "
                     "wrong labels.")
    fid = study.fid_table()
    if {"Ours", "No_InterL"} <= set(fid.index):
        lines.append(f"- **FID per expression.** Ours {fid.loc['Ours', 'mean']}, No_InterL {fid.loc['No_InterL', 'mean']}"
                     " (mean over expressions, judge features; the per-expression table is above). The paper's "
                     f"Table V: {np.mean(PAPER_TABLE_V['Ours']):.2f} vs {np.mean(PAPER_TABLE_V['No_inter']):.2f} "
                     "on Inception features, another scale.")
    lines.extend(claim_notes(ledger, unit="paired folds/seeds"))
    curve = study.curve_table()
    if len(curve):
        means = curve.groupby("k").accuracy.mean()
        lines.append("- **Fig. 12 (synthetic amount).** " + ", ".join(f"{k}N {m:.1f}%" for k, m in means.items())
                     + f" ({curve.fold.nunique()} fold(s), one seed; no claim: fewer than 10 replicates).")
    if wall:
        lines.append(f"- **Wall time.** {wall}")
    return "\n\n".join(lines)
