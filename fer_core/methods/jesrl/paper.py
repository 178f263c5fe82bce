"""What the JESRL paper reports: its result tables and its headline claims (cited per table).

Paper: "Joint Expression Synthesis and Representation Learning for Facial Expression
Recognition" (JESRL). These are the "paper reports" column of the chapter, copied from the
paper's tables; never a result of this book. Fig. 12 (accuracy against the amount of
synthetic faces) is only plotted in the paper, so it has no numbers here.
"""

from __future__ import annotations

from fer_core.claims import Claim

__all__ = ["POSES", "PAPER_TABLE_II", "PAPER_TABLE_III", "PAPER_TABLE_IV", "PAPER_TABLE_V", "PAPER_TABLE_VI",
           "PAPER_TABLE_VII", "PAPER_DATASET", "PSEUDO_VARIANTS", "CLAIMS", "PAPER_SETTINGS"]

#: The five Multi-PIE yaws of Tables II and VII (degrees), in the tables' column order.
POSES = (-30, -15, 0, 15, 30)
#: Table II: FER accuracy (%) per pose on Multi-PIE and the average (None: "—").
PAPER_TABLE_II: dict[str, tuple[float | None, ...]] = {
    "kNN": (80.88, 81.74, 68.36, 75.03, 74.78, 76.15), "LDA": (92.52, 94.37, 77.21, 87.07, 87.47, 87.72),
    "LPP": (92.42, 94.56, 77.33, 87.06, 87.68, 87.81), "GMLPP": (91.86, 94.13, 78.16, 87.22, 87.36, 87.74),
    "MvDA": (92.49, 94.22, 77.51, 87.10, 87.89, 87.84), "DS-GPLVM": (93.55, 96.96, 82.42, 89.97, 90.11, 90.60),
    "VGG19": (89.93, 90.91, 89.58, 91.47, 91.75, 90.72), "CG-FER": (90.76, 94.72, 89.11, 93.09, 91.30, 91.08),
    "PhaNet": (None, None, None, None, None, 93.53), "Ours": (93.83, 95.13, 93.16, 92.78, 93.39, 93.66),
}
#: Table III: MMI accuracy (%): the method with 6 and with 7 classes (image-based).
PAPER_TABLE_III = {"Ours (6 classes)": 79.23, "Ours (7 classes)": 76.44, "IF-GAN": 74.52, "DeRL": 73.23}
#: Table IV: RAF-DB accuracy (%).
PAPER_TABLE_IV = {"VGG": 58.22, "DLP-CNN": 74.2, "CP-CNN": 87.00, "Ours": 89.01}
#: Table V: FID per expression on Multi-PIE (Inception features), No_inter vs Ours.
PAPER_TABLE_V = {"columns": ("disgust", "scream", "smile", "squint", "surprise"),
                 "No_inter": (61.19, 106.16, 35.59, 53.34, 93.49), "Ours": (58.23, 99.38, 35.15, 52.48, 86.16)}
#: Table VI: FID per expression on RAF-DB, No_inter vs Ours.
PAPER_TABLE_VI = {"columns": ("surprise", "fear", "disgust", "happiness", "sadness", "anger"),
                  "No_inter": (77.14, 194.04, 85.52, 49.88, 67.60, 104.41),
                  "Ours": (76.30, 183.90, 77.93, 40.28, 62.95, 88.13)}
#: Table VII: accuracy (%) per pose on Multi-PIE for the ablations, and the average.
PAPER_TABLE_VII: dict[str, tuple[float, ...]] = {
    "No_InterL": (92.78, 93.06, 92.83, 93.50, 93.18, 93.07), "No_ExpR": (91.47, 94.05, 91.85, 93.18, 93.18, 92.74),
    "No_InterL_ExpR": (91.80, 92.40, 92.83, 89.93, 93.18, 92.03),
    "No_SynFI": (89.93, 90.91, 89.58, 91.47, 91.75, 90.72),
    "TwoStage_res50": (90.58, 93.83, 90.23, 90.49, 91.75, 91.38), "TwoStage": (91.23, 92.86, 89.58, 92.46, 91.09, 91.44),
    "GGPI_TwoStage": (90.37, 90.97, 87.54, 87.00, 92.14, 89.55),
    "StarGAN2_TwoStage": (91.56, 91.56, 91.21, 92.46, 93.73, 92.09),
    "Ours": (92.78, 93.39, 93.16, 93.83, 95.13, 93.66),
}
#: Which of the paper's datasets a run stands in for.
PAPER_DATASET = {"synthetic": "Multi-PIE", "multipie": "Multi-PIE", "multipie_attr": "Multi-PIE", "mmi": "MMI",
                 "rafdb": "RAF-DB"}
#: Sec. IV-B's settings (the "paper" column of the deviations table).
PAPER_SETTINGS = {"size": 256, "lr": 2e-4, "betas": (0.5, 0.999), "lr_C": 1e-3, "optimizer_C": "SGD, momentum 0.9",
                  "lambdas": (10, 15, 5, 5), "p": 0.5, "parameters": "154.1M (C 140.1M, GAN 14M)"}
#: Values per replicate some claims compare with.
PSEUDO_VARIANTS = {"copy": "copy of the input"}


def _vii(name: str) -> float:
    """Table VII's average of ``name`` as a fraction."""
    return PAPER_TABLE_VII[name][-1] / 100


#: The chapter's claims: (claim, metric column of :meth:`JESRLStudy.values`). ``paper_effect`` is the
#: paper's own difference where it prints one on this metric's scale (Table VII); the FID claim's paper
#: effect is on Inception features, another scale, so it is left out (the tables show it).
CLAIMS: tuple[tuple[Claim, str], ...] = (
    (Claim("Representation interpolation lowers FID", "Sec. IV-D, Table V", "Fréchet distance (judge features)",
           "Ours", "Ours", "No_InterL", higher_is_better=False), "fid"),
    (Claim("The interpolation loss helps recognition", "Sec. IV-E, Table VII", "accuracy", "Ours", "Ours",
           "No_InterL", paper_effect=_vii("Ours") - _vii("No_InterL")), "accuracy"),
    (Claim("The G_enc representation helps C", "Sec. IV-E, Table VII", "accuracy", "Ours", "Ours", "No_ExpR",
           paper_effect=_vii("Ours") - _vii("No_ExpR")), "accuracy"),
    (Claim("Synthesized faces help recognition", "Sec. IV-E, Table VII", "accuracy", "Ours", "Ours", "No_SynFI",
           paper_effect=_vii("Ours") - _vii("No_SynFI")), "accuracy"),
    (Claim("End-to-end training beats two-stage training", "Sec. IV-E, Table VII", "accuracy", "Ours", "Ours",
           "TwoStage", paper_effect=_vii("Ours") - _vii("TwoStage")), "accuracy"),
    (Claim("The paper's schedule beats the authors' code's (frozen encoder, turns)", "Sec. III-D vs public code",
           "accuracy", "Ours", "Ours", "Official"), "accuracy"),
    (Claim("Transfers are closer to the true face than a copy of the input", "Sec. IV-D, Figs. 8-9",
           "PSNR to the true face (dB)", "Ours", "Ours", PSEUDO_VARIANTS["copy"]), "psnr_true"),
)
