"""The FaPE-GAN chapter's prose that depends on the run: task sizes, deviations, closing notes.

Every statement is computed from the study's settings and results; nothing here is a typed-in number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fer_core.claims import Ledger
from fer_core.notes import claim_notes, gates_note
from fer_core.methods.fapegan.paper import FANET, FAPE_FANET, PRETRAINED, SCRATCH, variant

if TYPE_CHECKING:
    from fer_core.methods.fapegan.experiments import FaPEStudy

__all__ = ["task_sizes", "deviations", "closing_notes", "cross_domain_note"]


def task_sizes(study: "FaPEStudy") -> pd.DataFrame:
    """Per task: training and test faces, identities and views in test, rare classes (split 0 and the mean)."""
    meta = study.data.dataset.meta
    rows = []
    for task in study.tasks:
        splits = [study.data.splits[study.fold_of(task, k)] for k in range(study.n_splits)]
        s = splits[0]
        rows.append({"task": task, "train faces": np.mean([len(x.train) for x in splits]),
                     "test faces": np.mean([len(x.test) for x in splits]),
                     "test identities": meta.subject.iloc[s.test].nunique(),
                     "test views": ", ".join(sorted(meta.view.iloc[s.test].astype(str).unique())),
                     "rare / unseen (split 0)": ", ".join(str(v) for v in getattr(s, "novel", ())) or "-",
                     "splits": len(splits)})
    return pd.DataFrame(rows).set_index("task")


def deviations(study: "FaPEStudy") -> pd.DataFrame:
    """What this run does differently from the paper, read from the profile and the built objects."""
    P, gan, fan = study.P, study.gan_config, study.fanet_config(study.K)
    rows = [
        ("data", "F2ED: 219,719 faces, 119 identities, 54 expressions, 4 views, 256 px", study.data.name),
        ("classes", "54 fine-grained expressions", f"{study.K} ({', '.join(study.data.classes[:4])}, ...)"
         + (f"; the synthetic fine-grained classes spaced x{P['fine_spacing']:g} apart" if study.data.synthetic
            else "")),
        ("splits", "one split per task", f"{study.n_splits} random draws of each task x {len(study.seeds)} run seed(s): "
                                          "the replicates of the ledger"),
        ("sparse-data question", "argued from ER-UE vs ER-SS",
         "also ER-SS on " + ", ".join(f"{float(f):.0%}" for f in P["fractions"]) + " of its training faces"),
        ("G_FaPE, D", "encoder-decoder and discriminator, no layer table",
         f"pix2pix-style U-Net ({gan.levels} levels, widths {gan.widths()}) and patch discriminator at "
         f"{gan.image_size} px"),
        ("adversarial term of L_G", "log(1 - D(G(I_i, I_P)))", "non-saturating -log D(G(I_i, I_P))"),
        ("real images of D", "I_i (Eq. 1)", "I_i, as in Eq. (1)"),
        ("FaPE-GAN training", "100 epochs, Adam 2e-4, (0.5, 0.999), lambda = 10",
         f"{P['gan_steps']} steps of {P['gan_batch_size']} pairs, Adam {P['gan_lr']:g}, (0.5, 0.999), "
         f"lambda = {P['lam']:g}" + ("" if float(P["lam"]) == 10 else " (a development remark: at CPU budgets the "
                                      "heavier L1 weight reached the judge's view check in far fewer steps)")),
        ("augmentation", "'synthesize plenty of additional face images' (count and poses not stated)",
         f"{P['aug_ratio']:g} generated face per real training face; sources weighted 1/n(expression), target "
         "views 1/n(view); the pose map of a real training face in the target view (same person and expression "
         "if the training set has it, else same expression, else any)"),
        ("Fa-Net", "LightCNN-29 v2, 128 px grey input (published widths)",
         f"LightCNN-29 v2 layout, widths {fan.widths}, blocks {fan.layers}, {fan.feature_dim}-d feature, "
         f"{fan.input_size} px, {fan.channels} channels"
         + ("; BatchNorm after every convolution (without it LightCNN stayed at chance within the CPU budget)"
            if fan.batch_norm else "")),
        ("Fa-Net training", "SGD, momentum 0.9, lr 0.01 / batch 128 on F2ED, x0.457 every 10 steps, 100 epochs",
         f"SGD, momentum 0.9, lr {P['fanet_lr']:g} / batch {P['fanet_batch_size']}, x0.457 every "
         f"{P['lr_step_epochs']} epochs of the real training faces, {P['fanet_steps']} updates (with or without "
         "augmentation: the same number of updates)"),
        ("Table 4 pre-training set", "all of F2ED", "the ER-SS training faces of the same split (the Fa-Net of ER-SS)"),
        ("Table 4 target", "JAFFE (120/23/70) and FER2013 (Usage split)", study.target.name),
        ("Table 4 fine-tuning", "JAFFE: lr 5e-4 / batch 32; FER2013: 2e-3 / 64",
         f"lr {P['target_lr']:g} / batch {P['target_batch_size']}, {P['target_steps']} updates; a new head"),
        ("validation set", "used to validate", "not used: no model selection, the last step is evaluated"),
        ("plain-CNN reference", "-", f"the book's SmallCNN (width {P['cnn_width']}), Adam {P['cnn_lr']:g} with a "
                                     "cosine decay, as many updates as Fa-Net"),
    ]
    return pd.DataFrame(rows, columns=["aspect", "paper", "this run"]).set_index("aspect")


def cross_domain_note(study: "FaPEStudy") -> str:
    """Whether this run measured pre-training on the synthetic world for a real target, and what it found."""
    if study.target.synthetic:
        return ("**Not measured in this run**: no real 7-class data set was given (`target_root`), so the target "
                "is itself synthetic and the gain above is synthetic-to-synthetic. Point `target_root` at a JAFFE "
                "or FER2013 folder to ask whether the synthetic world helps a real target.")
    v = study.values()
    t = study.target_name
    a = v[v.variant == variant(PRETRAINED, t)].accuracy
    b = v[v.variant == variant(SCRATCH, t)].accuracy
    return (f"Measured on {study.target.name}: pre-trained on the synthetic world {a.mean():.1%}, from scratch "
            f"{b.mean():.1%} over {len(a)} runs (the ledger's last claim has the interval and the verdict).")




def closing_notes(study: "FaPEStudy", ledger: Ledger) -> str:
    """The chapter's closing section as Markdown, every statement computed from ``study``'s results."""
    P = study.P
    t5, t4 = study.table5(), study.table4()
    lines = [f"**Data and budget.** {study.data.name}, profile `{study.profile_name}`; {study.n_splits} splits x "
             f"{len(study.seeds)} seed(s) per task; FaPE-GAN {P['gan_steps']} steps per split, Fa-Net "
             f"{P['fanet_steps']} updates per run; {study.wall_time_summary()}."]
    lines.append("- **Table 5 here.** " + "; ".join(
        f"{task}: Fa-Net {row[FANET]}%, FaPE-GAN+Fa-Net {row[FAPE_FANET]}% (gain {row['gain (points)']} points)"
        for task, row in t5.iterrows()) + f" (chance {1 / study.K:.1%}).")
    lines.append("- **Table 4 here.** " + "; ".join(f"{'pre-trained' if pre else 'from scratch'}: {row['accuracy (%)']}%"
                                                   for (_, pre), row in t4.iterrows()) + f" on {study.target.name}.")
    lines.append(gates_note(study.gates(), consequence=(
        "The claims that rest on them compare a recogniser or generator that has not reached that level.")))
    lines.extend(claim_notes(ledger, unit="paired splits/seeds"))
    lines.append("- **Synthetic and real.** " + cross_domain_note(study))
    return "\n\n".join(lines)
