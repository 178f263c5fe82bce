"""What the GroupGAN paper reports: Tables 1-3 and its headline claims (cited per table).

Paper: "GroupGAN: weak expression recognition by magnifying expressions" (Niu et al., KBS 2022).
These are the "paper reports" column of the chapter, copied from the paper; never a result of this book.
"""

from __future__ import annotations

from fer_core.claims import Claim

__all__ = ["PAPER_TABLE_1", "PAPER_TABLE_2", "PAPER_TABLE_2_CLASSES", "PAPER_TABLE_3", "PSEUDO", "claims"]

#: Table 1: accuracy (%) on the mix of CK+ and Oulu-CASIA (weak frames, 5-fold), per BaseNet:
#: (CNN, DCGAN, GroupGAN(1V2), GroupGAN(2V2)).
PAPER_TABLE_1: dict[str, tuple[float, float, float, float]] = {
    "alexnet": (62.61, 63.29, 63.74, 67.12), "vgg11": (64.64, 65.77, 66.22, 68.02),
    "vgg13": (64.86, 66.67, 67.34, 70.05), "vgg16": (63.74, 64.86, 65.55, 68.69),
    "vgg19": (61.26, 62.61, 63.74, 64.19), "resnet18": (59.91, 60.14, 60.81, 62.61),
    "resnet34": (58.58, 59.47, 59.92, 62.21), "resnet50": (57.85, 58.32, 58.25, 61.89),
}
#: Table 2: confusion matrix (%) of the best model (rows: true class), classes in this order.
PAPER_TABLE_2_CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
PAPER_TABLE_2: tuple[tuple[float, ...], ...] = (
    (71.4, 10.1, 8.6, 2.7, 5.4, 1.8), (17.4, 62.1, 4.2, 5.2, 9.3, 1.8), (4.5, 5.4, 65.6, 6.9, 15.2, 2.4),
    (16.3, 2.4, 3.6, 67.4, 3.9, 6.4), (15.5, 10.3, 5.2, 3.3, 58.5, 7.2), (4.2, 8.2, 2.4, 12.6, 3.3, 69.3),
)
#: Table 3: accuracy (%) on LSEMSW (not reproduced: no paired weak/peak frames in the synthetic world).
PAPER_TABLE_3: dict[str, float] = {"LPQ": 10.86, "LBP": 10.53, "EOH": 13.47, "AlexNet": 26.77, "VGG": 28.07,
                                   "ResNet18": 33.47, "RN+LAF+ADA": 36.72, "SCN": 36.85, "GroupGAN": 37.17}

#: Values per replicate that some claims compare with (built from the runs of the same fold and seed).
PSEUDO = {"copy": "copy of the input", "all_CNN": "CNN (every BaseNet)", "all_2V2": "2V2 (every BaseNet)"}


def _t1(basenet: str, a: int, b: int) -> float:
    return (PAPER_TABLE_1[basenet][a] - PAPER_TABLE_1[basenet][b]) / 100


def claims(main: str) -> list[tuple[Claim, str]]:
    """The chapter's claims on the main BaseNet ``main`` (paper effects from Table 1's row of ``main``):
    ``(claim, metric column of GroupGANStudy.values)``."""
    v = lambda f: f"{f}/{main}"  # noqa: E731
    mean_gain = sum(_t1(b, 3, 0) for b in PAPER_TABLE_1) / len(PAPER_TABLE_1)
    return [
        (Claim("GroupGAN(2V2) beats the plain CNN framework on weak frames", "Sec. 4.3, Table 1", "accuracy",
               v("2V2"), v("2V2"), v("CNN"), paper_effect=_t1(main, 3, 0)), "accuracy"),
        (Claim("GroupGAN(1V2) beats DCGAN (the second discriminator D' helps)", "Sec. 4.3 (1), Table 1", "accuracy",
               v("1V2"), v("1V2"), v("DCGAN"), paper_effect=_t1(main, 2, 1)), "accuracy"),
        (Claim("DCGAN beats the CNN (magnifying before recognising helps)", "Sec. 4.3, Table 1", "accuracy",
               v("DCGAN"), v("DCGAN"), v("CNN"), paper_effect=_t1(main, 1, 0)), "accuracy"),
        (Claim("GroupGAN(2V2) beats 1V2 (the extractor E helps)", "Sec. 4.3 (2), Table 1", "accuracy", v("2V2"),
               v("2V2"), v("1V2"), paper_effect=_t1(main, 3, 2)), "accuracy"),
        (Claim("The gain of 2V2 over CNN holds across BaseNets", "Sec. 4.3, Table 1 (every row)", "accuracy",
               PSEUDO["all_2V2"], PSEUDO["all_2V2"], PSEUDO["all_CNN"], paper_effect=mean_gain), "accuracy"),
        (Claim("Magnification makes features of one expression more alike", "Sec. 4.3, Fig. 1b and 4",
               "intra-class / between-class feature distance", v("2V2"), v("2V2"), v("CNN"),
               higher_is_better=False), "intra_ratio"),
        (Claim("G magnifies: its face's intensity is closer to the true peak's than the input's", "Sec. 4.4, Fig. 5",
               "|judge's intensity - true peak's|", v("2V2"), v("2V2"), PSEUDO["copy"], higher_is_better=False),
         "intensity_gap"),
    ]
