"""What the Comp-GAN paper reports: its result tables and its headline claims (cited per table).

Paper: Comp-GAN / F2ED (Sec. 5.2-5.4, Tables 4-7, "The number of synthesized images"). The
"paper reports" column of the chapter, copied from the paper; never a result of this book.
"""

from __future__ import annotations

from fer_core.claims import Claim

__all__ = ["TASKS", "FEW_SHOT", "L", "P2P", "ATT", "POSE", "FRONT", "COMBINE", "EXP", "BOTH", "OURS", "NOLOOP",
           "CNN", "FCLS", "GAN", "NOLOOP_GAN", "PIX2PIX", "ATTGAN", "GANS", "RECOGNISERS", "PAPER_TABLE_4", "PAPER_TABLE_5", "PAPER_TABLE_6", "PAPER_TABLE_7", "PAPER_CURVE", "shot_variant",
           "curve_variant", "gain", "claims", "face_claims"]

TASKS = ("ER-SS", "ER-FID", "ER-ZID", "ER-FP", "ER-ZP", "ER-FE")
FEW_SHOT = ("ER-FID", "ER-FP", "ER-FE")

L, P2P, ATT = "L.", "L.+Pix2Pix", "L.+AttGAN"
POSE, FRONT, COMBINE = "L.+G(Pose)", "L.+G(Pose)+Front", "L.+G(Pose)+Combine"
EXP, BOTH, OURS = "L.+G(Exp)", "L.+G(Pose)+G(Exp)", "Comp-GAN"
NOLOOP = "L.+G(Pose)+G(Exp) w/o L_loop"
CNN = "CNN"

#: The generator experiments (the chapter's names for what each trains).
FCLS, GAN, NOLOOP_GAN, PIX2PIX, ATTGAN = "F_cls", "Comp-GAN (G)", "Comp-GAN w/o L_loop (G)", "Pix2Pix (G)", "AttGAN (G)"
GANS = (GAN, NOLOOP_GAN, PIX2PIX, ATTGAN)
#: recogniser variant -> (generator experiment, augmenter); "L." has none.
RECOGNISERS: dict[str, tuple[str, str] | None] = {L: None, P2P: (PIX2PIX, "Pix2Pix"), ATT: (ATTGAN, "AttGAN"),
                                                  POSE: (GAN, "G(Pose)"), EXP: (GAN, "G(Exp)"),
                                                  BOTH: (GAN, "G(Pose)+G(Exp)"), NOLOOP: (NOLOOP_GAN, "G(Pose)+G(Exp)")}


def _row(*v: float) -> dict[str, float]:
    return dict(zip(TASKS, v))


#: Table 4: accuracy (%) on F2ED, LightCNN with each generator's faces (1 shot where few-shot).
PAPER_TABLE_4 = {L: _row(70.63, 33.29, 10.44, 49.32, 42.17, 38.94),
                 "L.+Cycle-GAN": _row(65.38, 29.34, 4.02, 50.19, 42.29, 30.68),
                 P2P: _row(71.31, 31.68, 7.93, 43.12, 34.75, 37.25),
                 "L.+VAE/GAN": _row(70.88, 25.10, 5.17, 37.34, 30.89, 33.96),
                 ATT: _row(71.92, 34.64, 10.98, 50.14, 44.81, 40.14),
                 OURS: _row(74.92, 36.92, 14.25, 56.43, 51.29, 44.19)}
#: Table 5: the variants of Comp-GAN (accuracy, %).
PAPER_TABLE_5 = {L: PAPER_TABLE_4[L], POSE: _row(73.11, 35.56, 12.31, 54.49, 47.92, 40.93),
                 FRONT: _row(73.49, 35.89, 13.04, 54.92, 48.87, 41.76),
                 COMBINE: _row(73.84, 35.92, 13.48, 55.43, 49.02, 41.91),
                 EXP: _row(72.36, 34.95, 12.87, 53.21, 43.98, 42.97),
                 BOTH: _row(74.03, 36.78, 13.98, 56.04, 50.57, 43.84), OURS: PAPER_TABLE_4[OURS]}
#: Table 6: 1 / 3 / 5 shots on ER-FID, ER-FP, ER-FE (accuracy, %).
PAPER_TABLE_6 = {L: {"ER-FID": (33.29, 33.45, 34.36), "ER-FP": (49.32, 49.41, 50.21), "ER-FE": (38.94, 39.02, 39.87)},
                 POSE: {"ER-FID": (35.56, 35.74, 36.27), "ER-FP": (54.49, 54.44, 55.72),
                        "ER-FE": (40.93, 40.04, 41.26)},
                 EXP: {"ER-FID": (34.95, 35.81, 37.01), "ER-FP": (52.21, 52.89, 53.24),
                       "ER-FE": (42.97, 41.86, 42.50)},
                 BOTH: {"ER-FID": (36.78, 36.88, 37.43), "ER-FP": (56.04, 56.56, 57.36),
                        "ER-FE": (43.84, 43.90, 44.98)},
                 OURS: {"ER-FID": (36.92, 36.98, 37.69), "ER-FP": (56.43, 56.58, 57.59),
                        "ER-FE": (44.19, 44.22, 45.67)}}
#: Table 7: ER-FE, 1 shot: acc, mA, prec, rec, F1 (%).
PAPER_TABLE_7 = {L: (38.94, 36.83, 40.35, 29.32, 33.96), POSE: (40.93, 41.24, 44.78, 31.45, 36.95),
                 EXP: (42.97, 42.98, 42.13, 30.17, 35.16), BOTH: (43.84, 44.46, 48.52, 32.80, 39.14),
                 ATT: (40.14, 38.55, 43.90, 26.55, 33.09), OURS: (44.19, 45.79, 50.18, 35.02, 41.25)}
#: Sec. 5.4: ER-FE, k = 5 shots, accuracy (%) against the number of synthesized faces.
PAPER_CURVE = {0: 39.24, 1: 44.19, 3: 44.22, 5: 45.67, 10: 47.45, 20: 49.78, 50: 53.98, 100: 55.17, 200: 56.31,
               500: 56.92, 1000: 57.14}


def shot_variant(name: str, shots: int) -> str:
    """The ledger's name of ``name`` on the ``shots``-shot episodes: ``"L. (5-shot)"``."""
    return f"{name} ({shots}-shot)"


def curve_variant(n: int) -> str:
    """Comp-GAN's augmentation with ``n`` synthesized faces per novel class."""
    return f"{BOTH} (n={n})"


def gain(shots: int) -> str:
    """The augmentation gain (``L.+G(Pose)+G(Exp)`` minus ``L.``) on the few-shot tasks at ``shots`` shots."""
    return f"gain | {shots}-shot"


def _mean(table: dict[str, dict[str, float]], name: str) -> float:
    return sum(table[name].values()) / len(table[name])


def _t4(a: str, b: str) -> float:
    return (_mean(PAPER_TABLE_5 if a in PAPER_TABLE_5 else PAPER_TABLE_4, a)
            - _mean(PAPER_TABLE_5 if b in PAPER_TABLE_5 else PAPER_TABLE_4, b)) / 100


def claims(*, shots: tuple[int, int] | None) -> list[tuple[Claim, str]]:
    """The chapter's claims for what this run measured: (claim, metric column of ``CompGANStudy.values``).

    Accuracy claims pool the six tasks: a replicate is one task's episode under one seed. The paper's
    effect is the mean over its six tasks.

    Args:
        shots: ``(fewest, most)`` shots of the few-shot episodes, or None.
    """
    out = []
    for other, src in ((P2P, "Table 4"), (ATT, "Table 4"), (L, "Tables 4-5")):
        out.append((Claim(f"Comp-GAN beats {other} over the six tasks", f"Sec. 5.2.2, {src}", "accuracy", OURS,
                          OURS, other, paper_effect=_t4(OURS, other)), "accuracy"))
    for other in (POSE, EXP):
        out.append((Claim(f"Both generators beat one alone ({BOTH} vs {other})", "Sec. 5.3 (2), Table 5", "accuracy",
                          BOTH, BOTH, other, paper_effect=_t4(BOTH, other)), "accuracy"))
    out.append((Claim("Pose normalisation helps (+Combine vs L.+G(Pose))", "Sec. 5.3 (3), Table 5", "accuracy", COMBINE,
                      COMBINE, POSE, paper_effect=_t4(COMBINE, POSE)), "accuracy"))
    if shots is not None:
        lo, hi = shots
        paper = sum((PAPER_TABLE_6[BOTH][t][0] - PAPER_TABLE_6[L][t][0]) - (PAPER_TABLE_6[BOTH][t][2]
                    - PAPER_TABLE_6[L][t][2]) for t in FEW_SHOT) / 3 / 100
        out.append((Claim(f"More shots leave less for augmentation to add (gain at {lo} vs {hi} shots)",
                          "Sec. 5.4, Table 6", "accuracy gain", gain(lo), gain(lo), gain(hi), paper_effect=paper),
                    "gain"))
    return out


def face_claims(*, loop: bool, identity: bool) -> list[Claim]:
    """The claims about generated faces, paired over episodes (the same sources and targets in each)."""
    out = []
    if loop:
        out.append(Claim("The closed-loop loss helps: composed faces lie closer to the true face", "Sec. 4.3, Fig. 16",
                         "L1 to the true face", "Comp-GAN", "Comp-GAN", "Comp-GAN w/o L_loop",
                         higher_is_better=False))
    if identity:
        out.append(Claim("Comp-GAN's faces keep identity better than Pix2Pix's (judge's identity cosine)",
                         "Sec. 5.2.2, Figs. 15, 18", "identity cosine", "Comp-GAN", "Comp-GAN", "Pix2Pix"))
    return out
