"""What the FESR paper reports: its result tables and its headline claims (cited per table).

Paper: "Joint Deep Learning of Facial Expression Synthesis and Recognition" (FESR). These are
the "paper reports" column of the chapter, copied from the paper's tables; ``None`` where the
paper prints "-". Never a result of this book.
"""

from __future__ import annotations

from fer_core.claims import Claim

__all__ = ["PAPER_TABLE_III", "PAPER_TABLE_IV", "PAPER_TABLE_V", "PAPER_TABLE_V_COLUMNS", "PAPER_TABLE_VI",
           "PAPER_TABLE_VI_COLUMNS", "PAPER_TABLE_VII", "PAPER_DATASET", "PSEUDO_VARIANTS", "CLAIMS"]

#: Table III of FESR: PSNR (dB) and SSIM of synthesized vs ground-truth same-identity images.
PAPER_TABLE_III: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "CK+": {"ExprGAN": (19.654, 0.575), "G2-GAN": (24.420, 0.767), "FESGAN": (21.380, 0.698)},
    "Oulu-CASIA": {"ExprGAN": (19.982, 0.648), "G2-GAN": (26.588, 0.914), "FESGAN": (22.079, 0.754)},
    "MMI": {"ExprGAN": (21.012, 0.565), "G2-GAN": (None, None), "FESGAN": (24.676, 0.761)},
}
#: Table IV of FESR: face-verification rates (%) of real vs synthesized faces, FG vs FG-IP.
PAPER_TABLE_IV: dict[str, dict[str, float]] = {
    "CK+": {"FG-IP": 55.15, "FG": 93.33},
    "Oulu-CASIA": {"FG-IP": 55.62, "FG": 99.41},
    "MMI": {"FG-IP": 60.95, "FG": 99.41},
}
#: Table V of FESR: recognition rates (%) on CK+, Oulu-CASIA, MMI (10-fold, subject-independent).
PAPER_TABLE_V: dict[str, tuple[float | None, float | None, float | None]] = {
    "LBP-TOP": (88.99, 68.13, 59.51), "3D-CNN-DAP": (92.40, None, 63.40), "AUDN": (93.70, None, 75.85),
    "STM-ExpLet": (94.19, 74.59, 75.12), "IACNN": (95.37, None, 71.55), "DTAGN": (97.25, 81.46, 70.24),
    "ExprGAN+R": (None, 83.75, None), "DeRL": (97.30, 88.00, 73.23), "PHRNN-MSCNN": (98.50, 86.25, 81.18),
    "BASELINE": (95.63, 82.92, 79.88), "FESR_SL": (96.82, 84.17, 81.66), "FESR_JL-IL": (97.18, 85.21, 82.80),
    "FESR_JL": (99.34, 88.13, 84.81),
}
PAPER_TABLE_V_COLUMNS = ("CK+", "Oulu-CASIA", "MMI")
#: Table VI of FESR: recognition rates (%) on Multi-PIE per yaw (-30, -15, 0, 15, 30 degrees) and average.
PAPER_TABLE_VI: dict[str, tuple[float, float, float, float, float, float]] = {
    "kNN": (80.88, 81.74, 68.36, 75.03, 74.78, 76.15), "LDA": (92.52, 94.37, 77.21, 87.07, 87.47, 87.72),
    "LPP": (92.42, 94.56, 77.33, 87.06, 87.68, 87.81), "D-GPLVM": (91.65, 93.51, 78.70, 85.96, 86.04, 87.17),
    "GPLRF": (91.65, 93.77, 77.59, 85.66, 86.01, 86.93), "GMLDA": (90.47, 94.18, 76.60, 86.64, 85.72, 86.72),
    "GMLPP": (91.86, 94.13, 78.16, 87.22, 87.36, 87.74), "MvDA": (92.49, 94.22, 77.51, 87.10, 87.89, 87.84),
    "DS-GPLVM": (93.55, 96.96, 82.42, 89.97, 90.11, 90.60), "BASELINE": (89.75, 90.12, 83.01, 88.97, 88.10, 87.99),
    "FESR_JL": (92.28, 94.23, 86.94, 92.29, 94.71, 92.09),
}
PAPER_TABLE_VI_COLUMNS = ("-30°", "-15°", "0°", "15°", "30°", "average")
#: Table VII of FESR: recognition rates (%) on TFD (5 official folds).
PAPER_TABLE_VII: dict[str, float] = {
    "Gabor+PCA": 80.20, "Deep mPoT": 82.40, "CDA+CCA": 85.50, "disRBM": 85.40, "bootstrap-recon": 86.80,
    "VGG": 86.70, "FN2EN": 88.90, "BASELINE": 85.45, "FESR_JL": 90.12,
}
#: Which of the paper's datasets a run is compared with (the synthetic world is CK+-like).
PAPER_DATASET = {"synthetic": "CK+", "ckplus": "CK+", "ckplus48": "CK+", "oulu": "Oulu-CASIA", "mmi": "MMI",
                 "multipie": "Multi-PIE", "tfd": "TFD"}

#: Values per replicate that some claims compare with (built from the runs of the same fold and seed).
PSEUDO_VARIANTS = {"worst": "worst other variant", "worst_joint": "worst joint variant", "copy": "copy of the input",
                   "none": "no control", "fg_ablation": "FG (Fig. 4 budget)"}


def _v(name: str, column: int = 0) -> float:
    """Table V of the paper, CK+ column by default, as a fraction."""
    return PAPER_TABLE_V[name][column] / 100


_FG = PSEUDO_VARIANTS["fg_ablation"]
#: The chapter's claims: (claim, metric column of :meth:`FESRStudy.values`). ``paper_effect`` is the paper's own
#: difference on CK+ where it prints one (Tables IV, V); None where it only plots (Fig. 8) or writes a sentence.
CLAIMS: tuple[tuple[Claim, str], ...] = (
    (Claim("FESR beats the baseline recogniser", "Sec. IV-D, Table V", "accuracy", "FESR_JL", "FESR_JL", "BASELINE",
           paper_effect=_v("FESR_JL") - _v("BASELINE")), "accuracy"),
    (Claim("The baseline is the worst variant", "Sec. IV-D, Fig. 8", "accuracy", PSEUDO_VARIANTS["worst"],
           PSEUDO_VARIANTS["worst"], "BASELINE"), "accuracy"),
    (Claim("Joint learning beats separate learning", "Sec. IV-D-1, Table V", "accuracy", "FESR_JL", "FESR_JL",
           "FESR_SL", paper_effect=_v("FESR_JL") - _v("FESR_SL")), "accuracy"),
    (Claim("Every joint variant beats separate learning", "Sec. IV-D-1, Fig. 8", "accuracy",
           PSEUDO_VARIANTS["worst_joint"], PSEUDO_VARIANTS["worst_joint"], "FESR_SL"), "accuracy"),
    (Claim("The intra-class loss improves recognition", "Sec. IV-D-2, Table V", "accuracy", "FESR_JL", "FESR_JL",
           "FESR_JL-IL", paper_effect=_v("FESR_JL") - _v("FESR_JL-IL")), "accuracy"),
    (Claim("RDBP beats plain SGD on the intra-class loss", "Sec. IV-D-3, Fig. 8", "accuracy", "FESR_JL", "FESR_JL",
           "FESR_JL-RDBP"), "accuracy"),
    (Claim("Synthetic faces of new identities do as well as same-identity ones (CK+)", "Sec. IV-D-4, Fig. 8",
           "accuracy", "FESR_JL-IL", "FESR_JL-IL", "FESR_Real", margin=0.02, expects="no effect"), "accuracy"),
    (Claim("Two-stage learning beats one-stage learning", "Sec. IV-D-5, Fig. 8", "accuracy", "FESR_JL", "FESR_JL",
           "FESR_OneSt"), "accuracy"),
    (Claim("The intra-class loss pulls synthetic features to the real ones", "Sec. IV-D-2, Fig. 9",
           "normalised feature gap", "FESR_JL", "FESR_JL", "FESR_JL-IL", higher_is_better=False), "gap"),
    (Claim("The identity-preserving loss keeps identities", "Sec. IV-C-4, Table IV", "judge's verification rate",
           _FG, _FG, "FG-IP", paper_effect=(PAPER_TABLE_IV["CK+"]["FG"] - PAPER_TABLE_IV["CK+"]["FG-IP"]) / 100),
     "judge_identity"),
    (Claim("Content learning preserves the face (FG beats FG-CO)", "Sec. IV-C-1, Fig. 4", "PSNR (Table III protocol)",
           _FG, _FG, "FG-CO"), "psnr"),
    (Claim("FG's faces are closer to the true face than a copy of the input", "Sec. IV-C-1, Table III",
           "PSNR to the true face", "FG", "FG", PSEUDO_VARIANTS["copy"]), "psnr_true"),
    (Claim("The prior D_z gives faces of new identities", "Sec. IV-C-3, Fig. 7",
           "identity distance to the nearest training face", _FG, _FG, "FG-Dz"), "novelty"),
    (Claim("The code u(y') controls the expression's intensity", "Sec. IV-C-2, Fig. 6",
           "Spearman rho of the judge's target probability with v", "FG", "FG", PSEUDO_VARIANTS["none"]),
     "intensity_rho"),
)
