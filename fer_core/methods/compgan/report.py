"""The Comp-GAN chapter's prose that depends on the run: task sizes, deviations, closing notes.

Every statement is computed from the study's settings and results; nothing here is a typed-in number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from fer_core import notes
from fer_core.claims import Ledger

if TYPE_CHECKING:
    from fer_core.methods.compgan.experiments import CompGANStudy

__all__ = ["task_sizes", "deviations", "closing_notes"]


def task_sizes(study: "CompGANStudy") -> pd.DataFrame:
    """Per fold: task, shots, training and test faces, novel classes and their training faces."""
    meta = study.data.dataset.meta
    rows = []
    for f, (task, shots, k) in enumerate(study.layout):
        s = study.data.splits[f]
        rows.append({"fold": f, "task": task, "shots": shots, "episode": k, "train faces": len(s.train),
                     "test faces": len(s.test), "test identities": meta.subject.iloc[s.test].nunique(),
                     "novel by": getattr(s, "novel_by", "") or "-",
                     "novel classes": ", ".join(str(v) for v in getattr(s, "novel", ())) or "-",
                     "novel training faces": len(getattr(s, "novel_train", ()))})
    return pd.DataFrame(rows).set_index("fold")


def deviations(study: "CompGANStudy") -> pd.DataFrame:
    """What this run does differently from the paper, read from the profile and the built objects."""
    P, g, c = study.P, study.gan_config, study.fcls_config()
    rows = [
        ("data", "F2ED: 219,719 faces, 119 identities, 54 expressions, 4 views", study.data.name),
        ("classes", "54 fine-grained expressions", f"{study.K} ({', '.join(study.data.classes[:4])}, ...)"
         + (f"; synthetic fine-grained classes spaced x{P['fine_spacing']:g}" if study.data.synthetic else "")),
        ("episodes", "one split per task, results 'averaged over multiple rounds'",
         f"{study.n_episodes} episode(s) per task x {len(study.seeds)} recogniser seed(s); claims pool the six "
         "tasks (a replicate: one task's episode under one seed)"),
        ("image size", "144 px resized, 128 px random crops", f"{g.image_size} px, no crop"),
        ("G(Exp), G(Pose)", "encoder-decoder [71], no layer table",
         f"encoder-decoder with skip connections, {g.levels} levels, widths {g.widths()}"
         + ("; the target attribute also enters as one-hot maps beside the reference face" if g.label_maps else "")
         + ("; residual: the editor adds its output to the source, so an untrained editor returns the source (a "
            "development remark: at this profile's few updates a plain editor's faces were still noise)"
            if g.residual else "")),
        ("D", "AttGAN's design", "conv trunk + real/fake head + expression and pose heads (trained on real faces)"),
        ("F_cls", "LightCNN-29 v2 pre-trained on CelebA, trained end to end with Comp-GAN",
         f"LightCNN-29 v2 layout, widths {c.widths}, blocks {c.layers}, {c.feature_dim}-d, from scratch on the "
         f"episode's training faces ({P['cls_steps']} SGD updates), then fixed while the generators train"
         + ("; BatchNorm after every convolution" if c.batch_norm else "")
         + (f"; the {' and '.join(P['cls_probe_heads'])} head(s) learn on the detached feature, so only the "
            "expression loss shapes the backbone (a development remark: trained jointly, the identity head made the "
            "expression head memorise identities and fall below chance on test faces)" if P["cls_probe_heads"]
            else "")),
        ("Eq. (5)", "second term compares with F((it,pt,es))", "compares with F((it,pt,et)), the image's own truth"),
        ("adversarial term of the generators", "log(1 - D(G(.)))", "non-saturating -log D(G(.))"),
        ("Comp-GAN training", "Adam 2e-4, batch 64, 50 epochs (decay to 0 from the 30th)",
         f"{P['gan_steps']} steps of {P['gan_batch_size']} tuples, Adam {P['gan_lr']:g}, constant rate; lambda "
         f"{dict(P['lam'])}, mu {dict(P['mu'])}"),
        ("generators per episode", "trained on the task's training set",
         "trained on the fewest-shot training set; the 3/5-shot recognisers add only real shots"),
        ("competitors", "Cycle-GAN, Pix2Pix, VAE/GAN, AttGAN", "Pix2Pix-style (one editor for pose and expression, "
         "L_GAN + 100 L1) and AttGAN-style (label-driven editor) on the same editor network and D"),
        ("augmentation", "10 generated faces per novel category",
         f"{P['n_per_class']} per novel class (every expression class where the training set holds no novel class); "
         "sources, targets and references drawn by our rules (fer_core.methods.compgan.augment)"),
        ("recogniser L.", "LightCNN-29 v2 (pre-trained on CelebA) fine-tuned on real + generated faces, SGD 0.01 "
                          "x0.457",
         f"the episode's F_cls fine-tuned per run and seed, SGD {P['rec_lr']:g} / batch {P['rec_batch_size']}, "
         f"x0.457 every {P['lr_step_epochs']} epochs of the real faces, {P['rec_steps']} updates for every variant "
         "(L. itself: the same fine-tuning on the real faces alone)"),
        ("+Front, +Combine, Ours", "features of pose-normalised faces (concatenated for Combine)",
         f"the trained recogniser's features, a linear classifier ({P['probe_steps']} full-batch Adam steps) on top"),
        ("Eqs. (14)-(18)", "pedestrian-attribute metrics (how f(x) is formed is not said)",
         f"f(x) = classes with probability >= {P['set_threshold']:g}; empty sets count 0"),
        ("ER-FE test set", "'20% images of each facial pose category'", "20% of each expression (see f2ed_tasks)"),
        ("plain-CNN reference", "-", f"the book's SmallCNN (width {P['cnn_width']}), Adam {P['cnn_lr']:g}, cosine "
                                     "decay, as many updates as F_cls and L.'s fine-tuning together"),
        ("validation set", "-", "none: the last step is evaluated"),
    ]
    return pd.DataFrame(rows, columns=["aspect", "paper", "this run"]).set_index("aspect")


def closing_notes(study: "CompGANStudy", ledger: Ledger) -> str:
    """The chapter's closing section as Markdown, every statement computed from ``study``'s results."""
    P = study.P
    t4 = study.table4()
    lines = [f"**Data and budget.** {study.data.name}, profile `{study.profile_name}`; {study.n_episodes} episode(s) "
             f"per task x {len(study.seeds)} seed(s); Comp-GAN {P['gan_steps']} steps per episode, L. "
             f"{P['rec_steps']} updates per run; {study.wall_time_summary()}."]
    lines.append("- **Table 4 here (accuracy %, mean over episodes and seeds).** " + "; ".join(
        f"{name}: " + ", ".join(f"{t} {row[t]}" for t in P["tasks"]) for name, row in t4.iterrows())
        + f" (chance {1 / study.K:.1%}).")
    lines.append(notes.gates_note(study.gates(), consequence="The claims below compare recognisers trained on "
                                  "faces from generators that have not reached that level, so they test this run's "
                                  "generators, not the paper's."))
    lines += notes.claim_notes(ledger, unit="paired episodes x seeds")
    return "\n\n".join(lines)
