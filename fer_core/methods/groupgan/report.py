"""The GroupGAN chapter's prose that depends on the run: the deviations table and the closing notes.

Every statement is computed from the study's settings and results; nothing here is a typed-in number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from fer_core.claims import Ledger
from fer_core.notes import claim_notes, gates_note
from fer_core.methods.groupgan.method import FRAMEWORKS
from fer_core.methods.groupgan.paper import PAPER_TABLE_1

if TYPE_CHECKING:
    from fer_core.methods.groupgan.experiments import GroupGANStudy

__all__ = ["deviations", "closing_notes", "update_budget"]


def update_budget(study: "GroupGANStudy") -> pd.DataFrame:
    """Per experiment kind: its iterations and batch size, read from the profile."""
    P = study.P
    rows = [("G_pre: G's encoder-decoder on faces (Algorithm 1)", study.steps_of("G_pre"), P["pre_batch_size"]),
            ("E_pre/<BaseNet>: E and C on peak faces (Algorithm 1)", study.steps_of("E_pre"), P["pre_batch_size"]),
            *[(f"{f}/<BaseNet>: after the pre-training(s)", study.steps_of(f), P["batch_size"]) for f in FRAMEWORKS],
            ("plainCNN: the book's plain CNN on the same frames", study.steps_of("plainCNN"), P["pre_batch_size"])]
    return pd.DataFrame(rows, columns=["experiment", "iterations", "batch"]).set_index("experiment")


def deviations(study: "GroupGANStudy") -> pd.DataFrame:
    """What this run does differently from the paper (or chose where the paper is silent), from the profile."""
    P, gan = study.P, study.gan_config()
    split = study.data.splits[0]
    rows = [
        ("data", "CK+ and Oulu-CASIA mixed (weak = frames 6-8, peak = last frame)", study.data.name),
        ("classes", "six basic expressions (Table 2)", ", ".join(study.data.classes)),
        ("folds", "5-fold by sequence groups", f"{len(study.folds)}-fold subject-independent; {len(split.train)} "
         f"training / {len(split.test)} test faces (all frames) in fold 0; {len(study.seeds)} seed(s) on "
         f"{study.main}, {len(P['table_seeds'])} on the other BaseNets"),
        ("resolution, augmentation", "144 px resized, 128 x 128 random crops, horizontal flips",
         f"{P['size']} x {P['size']}, " + (f"{P['crop_pad']} px reflect-padded random crops, " if P["crop_pad"]
                                             else "no crops, ") + ("flips" if P["flip"] else "no flips")),
        ("BaseNets", "AlexNet, VGG11/13/16/19, ResNet18/34/50 (FC 4096 -> 512, 256)",
         ", ".join(study.basenets) + f" (torchvision definitions, random initialisation, FC {tuple(P['fc'])}, "
         "features pooled to 1x1 before the FC head" + ("; cheapest at 32 px, AlexNet needs 64 px" if P["size"] < 64
                                                        else "") + ")"),
        ("G widths / strides", "not stated", f"encoder {gan.widths}, strides {gan.strides}, bottleneck "
         f"{gan.bottleneck}x{gan.bottleneck}; F_exp tiled over the bottleneck"),
        ("D, D'", "VGG-like, not detailed", f"conv widths {gan.d_widths} with max-pools, FC {gan.d_fc}; F_exp "
         "concatenated before the last two FC layers (2V2)"),
        ("reals of D / D'", "Algorithm 1: real faces / peak faces", "half weak, half peak frames per batch / the "
         "paired peak frames"),
        ("adversarial term of G and E", "Eq. (6): alpha_G phi_D; Algorithm 1: log(1 - D(X_fake))",
         "non-saturating -log D(X_fake) (same fixed point; Eq. 6's printed sign would help D)"),
        ("weights", "alpha, beta = 2e-3; gamma_G not stated", f"alpha, beta = {P['adv']}; gamma_G = {P['gamma_G']}"),
        ("optimiser", "SGD, lr 1e-4 -> 1e-5 on plateau, momentum 0.9, weight decay 0.005",
         "SGD as the paper, constant rate" if P["optimizer"] == "sgd" else
         f"Adam (betas 0.5, 0.999), lr {P['lr']} (G, D, D'), {P['lr_C']} (BaseNet); pre-training {P['lr_pre']}"),
        ("batch / iterations", "4 / not stated", f"{P['batch_size']} / {P['steps']} after E's pre-training of "
         f"{P['pre_steps']} and G's of {P['g_pre_steps']}"),
        ("weights init", "N(0, 0.01), biases 1", "PyTorch's defaults (the paper's initialisation is not tried here)"),
        ("DCGAN and 1V2", "no extractor", "G keeps the F_exp slot of the bottleneck and receives zeros there "
         "(equivalent to a G without it); C is trained on G's faces by Eq. (11)"),
        ("what C learns", "Eqs. (11), (13): G's faces; Sec. 3.1: \"real and fake images\"",
         "G's faces and the real peak faces, in every GAN framework"),
        ("dropout in the BaseNet head", "not stated", f"{P['dropout']}"),
        ("world", "CK+ and Oulu-CASIA are recorded in a lab (normal illumination used)",
         f"synthetic world with nuisance {P['nuisance']} and idiosyncrasy {P['idiosyncrasy']} (the book's "
         "default is 1.0 for both)"),
        ("CNN framework", "trained on weak faces by Eq. (11)", "continues from E's pre-training on the weak and "
         "peak frames (every framework starts from the same pre-trained BaseNet)"),
        ("true peak face", "the real last frame", "synthetic world: the weak frame rendered at its sequence's peak "
         "intensity (same person, scene and head pose); content loss: the real last frame, as the paper"),
        ("Table 3 (LSEMSW)", "in-the-wild weak expressions", "not reproduced (no such data in the synthetic world)"),
    ]
    return pd.DataFrame(rows, columns=["what", "paper", "this run"]).set_index("what")


def closing_notes(study: "GroupGANStudy", ledger: Ledger) -> str:
    """The chapter's closing section as Markdown, every statement computed from ``study``'s results."""
    v = study.values()
    t1 = study.table1()
    lines = [f"**Data and budget.** {study.data.name}, profile `{study.profile_name}`, {len(study.folds)} folds; "
             f"{study.main} with {len(study.seeds)} seed(s) (the claims' replicates), "
             f"{', '.join(b for b in study.basenets if b != study.main) or 'no other BaseNet'} with "
             f"{len(study.P['table_seeds'])} seed(s) on the first {min(int(study.P['table_folds']), len(study.folds))} "
             "fold(s)."]
    lines.append("**Table 1 analog (weak-frame accuracy, %).** " + "; ".join(
        f"{b}: " + ", ".join(f"{f} {t1.loc[b, f]}" for f in FRAMEWORKS) for b in study.basenets)
        + f". Chance is {1 / study.K:.1%}.")
    paper_gain = {b: PAPER_TABLE_1[b][3] - PAPER_TABLE_1[b][0] for b in study.basenets if b in PAPER_TABLE_1}
    if paper_gain:
        lines.append("The paper's 2V2-over-CNN gains on these rows: " + ", ".join(
            f"{b} {g:+.2f} points" for b, g in paper_gain.items()) + ".")
    lines.append(gates_note(study.gates(), consequence=(
        "The claims that rest on them compare recognisers or a generator that have not reached that "
        "level.")))
    lines.extend(claim_notes(ledger, unit="paired folds/seeds"))
    main = v[v.variant == f"2V2/{study.main}"]
    if len(main) and not main.psnr_true.isna().all():
        lines.append(f"- **The generator.** 2V2's faces score {main.psnr_true.mean():.2f} dB against the true peak "
                     f"face, a copy of the input {main.copy_psnr_true.mean():.2f} dB; the judge's intensity of G's "
                     f"faces is {main.intensity_gap.mean():.3f} from the true peak's, the input's "
                     f"{main.copy_intensity_gap.mean():.3f}.")
    lines.append(f"- **Wall time.** {study.wall_time_summary()}.")
    return "\n\n".join(lines)
