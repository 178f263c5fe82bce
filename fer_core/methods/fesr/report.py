"""The FESR chapter's prose that depends on the run: the deviations table and the closing notes.

Every statement is computed from the study's settings and results; nothing here is a typed-in number.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fer_core.claims import Ledger
from fer_core.methods.fesr.method import ABLATIONS, TWO_STAGE
from fer_core.methods.fesr.nets import FESGANConfig, fesgan_param_counts
from fer_core.methods.fesr.paper import PAPER_DATASET, PAPER_TABLE_V, PAPER_TABLE_V_COLUMNS

from fer_core.methods.fesr.experiments import VERIFICATION_FAR

if TYPE_CHECKING:
    from fer_core.methods.fesr.experiments import FESRStudy

__all__ = ["deviations", "closing_notes"]


def deviations(study: "FESRStudy") -> pd.DataFrame:
    """What this run does differently from the paper, read from the profile and the built objects."""
    P, gan, r = study.P, study.gan_config, study.r_config
    idnet = study.identity_net(0)
    stem = study.build("FESR_JL", 0, study.seeds[0]).nets["R"].stem_source
    n_params = lambda cfg: sum(fesgan_param_counts(cfg).values())  # noqa: E731
    rows = [
        ("data", "CK+, Oulu-CASIA, MMI, Multi-PIE, TFD (real faces)", study.data.name),
        ("resolution", "128 x 128", f"{P['size']} x {P['size']} (Table I rescaled: {len(gan.G_enc)} encoder convs)"),
        ("FESGAN widths / parameters", f"Table I / {n_params(FESGANConfig()):,}",
         f"G_enc {gan.G_enc}, G_dec {gan.G_dec}, D_img {gan.D_img} / {n_params(gan):,}"),
        ("R widths", "Conv(256), Conv(512), FC(2048), FC(512)", f"Conv{r.convs}, FC{r.fcs}"),
        ("identity extractor F_id (Eq. 12, Table IV)", "LightCNN-29 pre-trained on CASIA-WebFace + MS-Celeb-1M",
         idnet.source),
        ("R's front (Table II)", "Conv1-Pool3 of LightCNN-29, pre-trained", stem),
        ("iterations P_pre / P_max", "not stated", f"{P['P_pre']} / {P['P_max']}"),
        ("batch size", "16", str(P["batch_size"])),
        ("Adam lr (G, D_img, D_z / R), betas", "1e-4 / 1e-4, (0.5, 0.999)",
         f"{P['lr']:g} / {P['lr'] if P['lr_R'] is None else P['lr_R']:g}, (0.5, 0.999)"),
        ("folds x seeds", "10-fold subject-independent (CK+, Oulu, MMI), one run",
         f"{len(study.folds)}-fold subject-independent x {len(study.seeds)} seed(s)"),
        ("FESGAN ablations (Fig. 4)", "all variants, one data set",
         f"FG, FG-IP on every fold; FG-CO, FG-Dimg, FG-Dimg_cls, FG-Dz on {P['fesgan_folds']} fold(s); "
         f"{study.steps_of('FG')} steps (= P_pre)"),
        ("triplet {x, x^{p,r}, x^{p,f}}", "another real image of the class", "a same-class partner from the batch"),
        ("FESR_Real", "all K expressions per input", "one random expression per input"),
        ("verification threshold (Table IV)", "not stated", f"true-accept rate at {VERIFICATION_FAR:.0%} false accepts"),
        ("PSNR/SSIM target intensity (Table III)", "not stated", "u(y') with v = 1 (strongest)"),
        ("WGAN-GP weight, D_img^adv reduction", "not stated", "10 (the WGAN-GP default); mean of the 4x4 critic map"),
        ("R's Dropout(0.5)", "end of R_ext", "start of R_cls (features for L_intra and Fig. 9 are not masked)"),
        ("lambda_2 (weight of L_rec)", "10", f"{float(P['lambda_rec']):g}"
         + (" (the paper's 10 leaves the generator ignoring its input at this budget)"
            if float(P["lambda_rec"]) != 10.0 else "")),
        ("L_rec, L_id (Eqs. 10, 12)", "E||.||_1 (sum or mean not stated)",
         "mean absolute error per pixel / feature (a sum drowns the expression terms)"),
    ]
    return pd.DataFrame(rows, columns=["aspect", "paper", "this run"]).set_index("aspect")


def _why(r) -> str:
    """One sentence on why a verdict came out as it did, from the result's own numbers."""
    if math.isnan(r.ci_low):
        return "fewer than two paired values, so no interval can be formed."
    d = np.asarray(r.values_a) - np.asarray(r.values_b)
    favour = int((r.claim.sign * d > 0).sum())
    way = f"it goes the claimed way on {favour} of {r.n} paired folds/seeds"
    if r.verdict == "holds":
        return f"{way} and the whole interval lies above zero."
    if r.verdict == "does not hold":
        return f"{way} and the whole interval lies below zero."
    if r.verdict == "no effect":
        return f"{way}; the whole interval lies within the claim's margin of ±{r.claim.margin:g}."
    half = (r.ci_high - r.ci_low) / 2
    if half == 0 and r.effect == 0:
        return "both variants score exactly the same on every fold."
    return f"{way}; the effect ({r.effect:+.3f}) is smaller than its uncertainty (±{half:.3f})."


def _r_updates(exp: "FESRStudy", variant: str) -> int | None:
    """How many times ``variant`` updates R (None when it has no R)."""
    if variant not in ABLATIONS:
        return None
    return exp.steps_of(variant) - (int(exp.P["P_pre"]) if variant in TWO_STAGE else 0)


def closing_notes(exp: "FESRStudy", ledger: Ledger) -> str:
    """The chapter's closing section as Markdown, every statement computed from ``exp``'s results."""
    acc = exp.accuracy_table()
    means = acc.groupby("variant")["accuracy"].mean()
    chance, base, best = 1 / exp.K, means.get("BASELINE", math.nan), means.idxmax()
    paper_ds = PAPER_DATASET.get(exp.data.key, "CK+")
    lines = [f"**Data and budget.** {exp.data.name}, profile `{exp.profile_name}`, {len(exp.folds)} folds x "
             f"{len(exp.seeds)} seed(s), {exp.P['P_pre']} + {int(exp.P['P_max']) - int(exp.P['P_pre'])} iterations."]
    level = (f"- **How well R recognises here.** BASELINE reaches {base:.1%} on unseen subjects (chance {chance:.1%}); "
             f"the best variant is {best} with {means[best]:.1%}.")
    if paper_ds in PAPER_TABLE_V_COLUMNS:
        j = PAPER_TABLE_V_COLUMNS.index(paper_ds)
        level += (f" The paper reports {PAPER_TABLE_V['BASELINE'][j]:.2f}% and {PAPER_TABLE_V['FESR_JL'][j]:.2f}% "
                  f"on {paper_ds} (Table V).")
    spread = acc.groupby("variant")["accuracy"].std(ddof=1).mean()
    if base - chance < 0.15:
        level += (f" R is close to chance at this budget, so the variants' differences are small next to the "
                  f"fold-to-fold spread (mean std {spread:.1%}); our world's expressions are subtle at "
                  f"{exp.P['size']} px and R's front is a stand-in, not a network pre-trained on faces.")
    lines.append(level)
    final = [r["log"][-1].get("L_cls_R_real", math.nan) for _, r in exp.results("FESR_JL") if r["log"]]
    if final:
        loss = float(np.nanmean(final))
        lines.append(f"- **Is R still learning?** FESR_JL's loss on real faces ends at {loss:.2f} on average, "
                     f"against ln K = {math.log(exp.K):.2f} for a uniform guess"
                     + (": R has barely started to fit the training faces, so every recognition comparison below "
                        "compares recognisers early in training." if loss > 0.8 * math.log(exp.K) else "."))
    status = {True: "matched", False: "contradicted", None: "not resolved"}
    for r in ledger.results:
        c = r.claim
        line = (f"- **{c.text}** ({c.source}): {status[r.agrees]} here ({r.verdict}). {c.variant_a} {r.mean_a:.3f} vs "
                f"{c.variant_b} {r.mean_b:.3f} ({c.metric}); {_why(r)}")
        na, nb = _r_updates(exp, c.variant_a), _r_updates(exp, c.variant_b)
        if na is not None and nb is not None and na != nb:
            line += (f" Note that {c.variant_a} updates R {na} times and {c.variant_b} {nb} times (Algorithm 1 with "
                     f"P_pre = {exp.P['P_pre']}, P_max = {exp.P['P_max']}); while R is still learning, the extra "
                     "updates weigh on this comparison.")
        lines.append(line)
    fg = [r for _, r in exp.results("FG")]
    psnr, copy_psnr = float(np.mean([r["psnr"] for r in fg])), float(np.mean([r["copy_psnr"] for r in fg]))
    lines.append(f"- **Synthesis quality (Table III).** FG's faces score {psnr:.2f} dB PSNR against the same person's "
                 f"real face in the target expression, the unchanged input {copy_psnr:.2f} dB. "
                 + ("The generator moves the face towards the target." if psnr > copy_psnr else
                    "The generator does not beat copying its input: it loses more person-specific detail than it "
                    "gains by changing the expression, a bottleneck the paper also names (no skip connections, "
                    "Sec. IV-C-1), made worse here by the short training."))
    w = [r["log"][-1].get("W_dist", math.nan) for r in fg if r["log"]]
    if w:
        negative = sum(v < 0 for v in w)
        lines.append(f"- **Critic.** The Wasserstein estimate at the end of pre-training is negative on {negative} of "
                     f"{len(w)} FG runs (values {', '.join(f'{v:.2f}' for v in w)}); "
                     + ("a negative estimate means the critic rates fakes above real faces, i.e. it is not yet "
                        "separating them." if negative else "the critic still separates real from synthetic faces."))
    src = exp.identity_net(0).source
    lines.append(f"- **Identity network.** {src}. It defines L_id and judges verification (Table IV), so FG is "
                 "trained to please the network that scores it; the paper does the same with LightCNN-29.")
    return "\n\n".join(lines)
