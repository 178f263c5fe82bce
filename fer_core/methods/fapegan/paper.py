"""What the FaPE-GAN paper reports: its result tables and its headline claims (cited per table).

Paper: FaPE-GAN / F2ED (Sec. 5, Tables 2-5). The "paper reports" column of the chapter, copied
from the paper. Never a result of this book.
"""

from __future__ import annotations

from fer_core.claims import Claim

__all__ = ["PAPER_TABLE_2", "PAPER_TABLE_3", "PAPER_TABLE_4", "PAPER_TABLE_5", "TASKS", "FANET", "FAPE_FANET",
           "SCRATCH", "PRETRAINED", "CNN", "variant", "gain", "claims"]

#: Table 2: accuracy (%) on the FER2013 test set (supervised).
PAPER_TABLE_2 = {"Bag of Words": 67.4, "VGG+SVM": 66.3, "GoogleNet": 65.2, "Mollahosseini et al": 66.4,
                 "DNNRL": 70.6, "Attention CNN": 70.0, "Fa-Net": 71.1}
#: Table 3: accuracy (%) on the JAFFE test set (supervised).
PAPER_TABLE_3 = {"Fisherface": 89.2, "Salient Facial Patch": 92.6, "CNN+SVM": 95.3, "Attention CNN": 92.8,
                 "Fa-Net": 95.7}
#: Table 4: Fa-Net without / with pre-training on F2ED (accuracy, %).
PAPER_TABLE_4 = {"FER2013": (62.3, 71.1), "JAFFE": (82.9, 95.7)}
#: Table 5: accuracy (%) on F2ED, Fa-Net and FaPE-GAN + Fa-Net, per task.
PAPER_TABLE_5 = {"Fa-Net": {"ER-SS": 72.7, "ER-UE": 27.3, "ER-UP": 36.3, "ER-ZID": 6.7},
                 "FaPE-GAN+Fa-Net": {"ER-SS": 73.6, "ER-UE": 30.8, "ER-UP": 39.9, "ER-ZID": 7.1}}
TASKS = ("ER-SS", "ER-UE", "ER-UP", "ER-ZID")

FANET, FAPE_FANET, CNN = "Fa-Net", "FaPE-GAN+Fa-Net", "CNN"
SCRATCH, PRETRAINED = "Fa-Net (no pre-training)", "Fa-Net (pre-trained)"


def variant(name: str, task: str) -> str:
    """The ledger's name of ``name`` trained on ``task``: ``"Fa-Net | ER-UP"``."""
    return f"{name} | {task}"


def gain(task: str) -> str:
    """The ledger's name of the augmentation gain on ``task`` (FaPE-GAN+Fa-Net minus Fa-Net, per replicate)."""
    return f"gain | {task}"


def _t5(task: str) -> float:
    return (PAPER_TABLE_5["FaPE-GAN+Fa-Net"][task] - PAPER_TABLE_5["Fa-Net"][task]) / 100


def claims(tasks: tuple[str, ...], sparse: str | None, target: str, paper_target: str) -> list[tuple[Claim, str]]:
    """The chapter's claims for the tasks this run has: (claim, metric column of ``FaPEStudy.values``).

    Args:
        tasks: the F2ED tasks run (a subset of :data:`TASKS`).
        sparse: the label of the ER-SS task on a fraction of its training data (``"ER-SS 25%"``), or None.
        target: the label of the 7-class target of Table 4. paper_target: ``"JAFFE"`` or ``"FER2013"``.
    """
    out = []
    for t in tasks:
        a, b = variant(FAPE_FANET, t), variant(FANET, t)
        out.append((Claim(f"FaPE-GAN augmentation helps Fa-Net on {t}", "Sec. 5.3, Table 5", "accuracy", a, a, b,
                          paper_effect=_t5(t) if t in TASKS else None), "accuracy"))
    if "ER-UE" in tasks and "ER-SS" in tasks:
        out.append((Claim("Augmentation helps more with unbalanced expressions (ER-UE) than in ER-SS",
                          "Sec. 5.3 (ER-UE)", "accuracy gain", gain("ER-UE"), gain("ER-UE"), gain("ER-SS"),
                          paper_effect=_t5("ER-UE") - _t5("ER-SS")), "gain"))
    if sparse is not None and "ER-SS" in tasks:
        out.append((Claim(f"Augmentation helps more where training data is sparser ({sparse} vs ER-SS)",
                          "Sec. 5.3 (ER-UE: 'more effective in the data sparse condition')", "accuracy gain",
                          gain(sparse), gain(sparse), gain("ER-SS")), "gain"))
    no, yes = PAPER_TABLE_4[paper_target]
    a, b = variant(PRETRAINED, target), variant(SCRATCH, target)
    out.append((Claim(f"Pre-training on the fine-grained set helps a 7-class target ({target})", "Sec. 5.1-5.2, Table 4",
                      "accuracy", a, a, b, paper_effect=(yes - no) / 100), "accuracy"))
    return out
