"""The comparison's claims: each paper's headline claim, restated on the one protocol.

No paper compares the five methods, so there is no "paper reports" column for the comparison
itself. What each paper does claim is that its generated faces make a recogniser better, and
most name the condition they target (GroupGAN weak expressions, FaPE-GAN and Comp-GAN poses,
FESR and JESRL people the recogniser has not seen). Each claim below tests that against the same
plain recogniser, paired over folds x seeds.
"""

from __future__ import annotations

from fer_core.claims import Claim

__all__ = ["PLAIN", "TARGETED", "SOURCES", "claims", "METRICS"]

#: The plain recogniser: the book's plain CNN on the real training faces only.
PLAIN = "plain"
#: The condition each paper's idea targets (see :mod:`fer_core.methods.compare.protocol`).
TARGETED = {"FESR": "identity", "JESRL": "identity", "FaPE-GAN": "pose", "GroupGAN": "weak", "Comp-GAN": "pose"}
#: Where each paper makes its claim that generated faces help recognition.
SOURCES = {"FESR": "FESR, Sec. IV-D, Table V", "JESRL": "JESRL, Sec. IV-E, Tables IV-VI",
           "FaPE-GAN": "F2ED, Sec. 5.2, Table 5", "GroupGAN": "GroupGAN, Sec. 4.4, Table 1",
           "Comp-GAN": "Comp-GAN, Sec. 5, Tables 4-5"}
#: Metric column of the values table per condition (and the mean over the conditions).
METRICS = {"mean": "acc_mean", "peak": "acc_peak", "weak": "acc_weak", "identity": "acc_identity",
           "pose": "acc_pose"}

_WHAT = {"identity": "on unseen identities", "pose": "on the unseen pose", "weak": "on weak expressions",
         "peak": "on peak frames of seen people"}


def claims(methods: tuple[str, ...], conditions: tuple[str, ...]) -> list[tuple[Claim, str]]:
    """``(claim, metric column)`` for every method: better than the plain recogniser on the mean accuracy
    over ``conditions``, and on the condition its paper targets (when the data holds it)."""
    out = []
    for m in methods:
        out.append((Claim(f"{m}'s faces raise the plain recogniser's accuracy (mean over the conditions)",
                          SOURCES.get(m, m), "accuracy", m, m, PLAIN), METRICS["mean"]))
        c = TARGETED.get(m)
        if c in conditions:
            out.append((Claim(f"{m}'s faces raise the plain recogniser's accuracy {_WHAT[c]}", SOURCES.get(m, m),
                              "accuracy", m, m, PLAIN), METRICS[c]))
    return out
