"""The FESR chapter's prose that depends on the run: the deviations table and the closing notes.

Every statement is computed from the study's settings and results; nothing here is a typed-in number.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fer_core.claims import Ledger
from fer_core.notes import claim_notes, gates_note
from fer_core.methods.fesr.experiments import ABLATION_GAN, FIGURE_GAN, VERIFICATION_FAR
from fer_core.methods.fesr.method import ABLATIONS, TWO_STAGE
from fer_core.methods.fesr.nets import FESGANConfig, RConfig, fesgan_param_counts
from fer_core.methods.fesr.paper import PAPER_DATASET, PAPER_TABLE_V, PAPER_TABLE_V_COLUMNS

if TYPE_CHECKING:
    from fer_core.methods.fesr.experiments import FESRStudy

__all__ = ["deviations", "closing_notes", "update_budget"]


def update_budget(study: "FESRStudy") -> pd.DataFrame:
    """Per variant: its training iterations, how many update G, and how many update R."""
    rows = []
    P_pre = int(study.P["P_pre"])
    for v in ("FG", *ABLATION_GAN, *FIGURE_GAN, *ABLATIONS):
        steps = study.steps_of(v)
        g = 0 if v == "BASELINE" else steps
        r = None if v not in ABLATIONS else (steps - P_pre if v in TWO_STAGE else steps)
        rows.append({"variant": v, "iterations": steps, "G updates": g, "R updates": r})
    rows.append({"variant": "plain CNN", "iterations": study.steps_of("CNN"), "G updates": 0,
                 "R updates": study.steps_of("CNN")})
    return pd.DataFrame(rows).set_index("variant")


def deviations(study: "FESRStudy") -> pd.DataFrame:
    """What this run does differently from the paper, read from the profile and the built objects."""
    P, gan, r = study.P, study.gan_config, study.r_config
    idnet = study.identity_net(0)
    stem = study.build("FESR_JL", 0, study.seeds[0]).nets["R"].stem_source
    n_params = lambda cfg: sum(fesgan_param_counts(cfg).values())  # noqa: E731
    split = study.data.splits[0]
    budget = update_budget(study)
    r_paper = RConfig()
    rows = [
        ("data", "CK+, Oulu-CASIA, MMI, Multi-PIE, TFD (real faces)", study.data.name),
        ("class set", "CK+: anger, contempt, disgust, fear, happiness, sadness, surprise",
         ", ".join(study.data.classes)),
        ("folds", "10-fold subject-independent (CK+, Oulu, MMI), assignment as in [46], [64]",
         f"{len(study.folds)}-fold subject-independent, subjects shuffled with the data seed and dealt to "
         f"balance fold sizes; {len(split.train)} training / {len(split.test)} test faces in fold 0; "
         f"{len(study.seeds)} run seed(s)"),
        ("resolution", "128 x 128", f"{P['size']} x {P['size']} (Table I rescaled: {len(gan.G_enc)} encoder convs)"),
        ("FESGAN widths / parameters", f"Table I / {n_params(FESGANConfig()):,}",
         f"G_enc {gan.G_enc}, G_dec {gan.G_dec}, D_img {gan.D_img} / {n_params(gan):,}"),
        ("R", "Table II: LightCNN Conv1-Pool3 (frozen), Conv(256,3,2), Conv(512,3,2), FC(2048), FC(512), "
              f"Dropout({r_paper.dropout})",
         ("Table II" if r.body == "table2" else
          f"the book's plain CNN body (4 conv blocks, width {r.plain_width}, global pooling), FC({r.fcs[1]})")
         + (", BatchNorm after each layer" if r.batch_norm else "") + f", Dropout({r.dropout}): "
         + ("Table II's layout trained from scratch on a stand-in front stays well below the plain CNN at this "
            "budget (see the recogniser check)" if r.body == "plain" else "as in the paper")),
        ("identity extractor F_id (Eq. 12, Table IV)", "LightCNN-29 pre-trained on CASIA-WebFace + MS-Celeb-1M",
         idnet.source + "; features compared by cosine similarity (no further normalisation)"),
        ("R's front (Table II)", "Conv1-Pool3 of LightCNN-29, pre-trained, frozen", stem),
        ("iterations P_pre / P_max", "not stated", f"{P['P_pre']} / {P['P_max']}"),
        ("update budget per variant", "FESR_OneSt: P_max joint iterations (twice the R updates of FESR_JL)",
         "; ".join(f"{v} {int(row['R updates'])} R updates" for v, row in budget.iterrows()
                   if not pd.isna(row["R updates"])) + " (every recognition variant updates R equally often)"),
        ("Fig. 4 ablations", "same training as FG",
         f"FG-IP, FG-CO, FG-Dz on every fold, FG-Dimg, FG-Dimg_cls on {P['fesgan_folds']} fold(s), "
         f"{study.steps_of('FG-IP')} steps each, compared with FG at the same step count ({study.fesgan_reference})"),
        ("R's learning rate", "Adam 1e-4, constant",
         f"Adam {P['lr_R'] or P['lr']:g}" + (", decayed to 0 along a cosine over R's updates (the plain CNN "
                                              "too)" if P["r_schedule"] == "cosine" else ", constant")),
        ("batch size", "16", str(P["batch_size"])),
        ("Adam lr (G, D_img, D_z), betas", "1e-4, (0.5, 0.999)", f"{P['lr']:g}, (0.5, 0.999)"),
        ("FESR_SL", "'two separated CNNs' (not detailed)",
         "FESGAN keeps training with Eq. (22) in stage 2 and R learns from its faces, but R's loss never "
         "reaches G"),
        ("triplet {x, x^{p,r}, x^{p,f}}", "another real image of the class", "a same-class partner from the batch"),
        ("FESR_Real", "all K expressions per input", "one random expression per input"),
        ("real and synthetic faces through R_ext", "not stated",
         "separate passes; the synthetic pass uses frozen BatchNorm statistics (RDBP isolated on the weights), "
         "and R scores G's faces in eval mode"),
        ("verification (Table IV)", "LightCNN-29 features, threshold not stated",
         f"true-accept rate at {VERIFICATION_FAR:.0%} false accepts; by F_id (the paper's protocol) and by the "
         "independent judge (the ledger)"),
        ("PSNR/SSIM target intensity (Table III)", "not stated", "u(y') with v = 1 (strongest)"),
        ("WGAN-GP weight, D_img^adv reduction", "not stated", "10 (the WGAN-GP default); mean of the 4x4 critic map"),
        ("R's Dropout", "end of R_ext", "start of R_cls (features for L_intra and Fig. 9 are not masked)"),
        ("lambda_2 (weight of L_rec)", "10", f"{float(P['lambda_rec']):g} on the mean absolute error per value"),
        ("lambda_4 (weight of the classification terms in L_G)", "1", f"{float(P['lambda_cls']):g}"),
        ("L_rec, L_id (Eqs. 10, 12)", "E||.||_1 (sum or mean not stated)", "mean absolute error per pixel / feature"),
    ]
    return pd.DataFrame(rows, columns=["aspect", "paper", "this run"]).set_index("aspect")




def _r_updates(study: "FESRStudy", variant: str) -> int | None:
    """How many times ``variant`` updates R (None when it has no R)."""
    if variant not in ABLATIONS:
        return None
    return study.steps_of(variant) - (int(study.P["P_pre"]) if variant in TWO_STAGE else 0)


def closing_notes(study: "FESRStudy", ledger: Ledger) -> str:
    """The chapter's closing section as Markdown, every statement computed from ``study``'s results."""
    acc = study.accuracy_table()
    means = acc.groupby("variant")["accuracy"].mean()
    chance, base, cnn = 1 / study.K, means.get("BASELINE", math.nan), means.get("CNN", math.nan)
    best = means.drop("CNN", errors="ignore").idxmax()
    paper_ds = PAPER_DATASET.get(study.data.key, "CK+")
    P = study.P
    lines = [f"**Data and budget.** {study.data.name}, profile `{study.profile_name}`, {len(study.folds)} folds x "
             f"{len(study.seeds)} seed(s); FG pre-trains for {P['P_pre']} iterations, every recognition variant "
             f"updates R {study.R_updates} times."]
    level = (f"- **How well R recognises here.** BASELINE reaches {base:.1%} on unseen subjects (chance "
             f"{chance:.1%}), the plain CNN with the same budget {cnn:.1%}; the best variant is {best} with "
             f"{means[best]:.1%}.")
    if paper_ds in PAPER_TABLE_V_COLUMNS:
        j = PAPER_TABLE_V_COLUMNS.index(paper_ds)
        level += (f" The paper reports {PAPER_TABLE_V['BASELINE'][j]:.2f}% and {PAPER_TABLE_V['FESR_JL'][j]:.2f}% "
                  f"on {paper_ds} (Table V), with thousands of iterations at 128 px.")
    lines.append(level)
    lines.append(gates_note(study.gates(), consequence=(
        "The claims below that rest on them compare variants of a recogniser or generator that has not "
        "reached that level.")))
    lines.extend(claim_notes(ledger, unit="paired folds/seeds"))
    fg = [r for _, r in study.results("FG")]
    judged = [r["judge"] for r in fg]
    if judged and "psnr" in judged[0]:
        psnr, copy = float(np.mean([j["psnr"] for j in judged])), float(np.mean([j["copy_psnr"] for j in judged]))
        lines.append(f"- **Synthesis quality.** FG's faces score {psnr:.2f} dB PSNR against the true face (the same "
                     f"person, take and scene with the target expression), a copy of the input {copy:.2f} dB. "
                     + ("The generator changes the face towards the target more than it loses." if psnr > copy else
                        "The generator loses more of the person's detail than it gains by changing the expression: "
                        "FESGAN draws every face from a 64-number code without skip connections, a bottleneck the "
                        "paper names itself (Sec. IV-C-1)."))
    w = [r["log"][-1].get("W_dist", math.nan) for r in fg if r["log"]]
    if w:
        negative = sum(v < 0 for v in w)
        lines.append(f"- **Critic.** The Wasserstein estimate at the end of pre-training is negative on {negative} of "
                     f"{len(w)} FG runs (median {np.median(w):.2f}); "
                     + ("a negative estimate means the critic rates fakes above real faces." if negative else
                        "the critic still separates real from synthetic faces."))
    lines.append(f"- **Identity network.** {study.identity_net(0).source}. It defines L_id, so FG is trained to "
                 "please it; the ledger's identity claim is judged by the independent judge instead.")
    return "\n\n".join(lines)
