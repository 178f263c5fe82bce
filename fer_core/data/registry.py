"""The registry of real datasets: what each adapter reads, which protocol, how to obtain it.

``DATASETS`` maps a short name to a :class:`DatasetInfo`. The Data chapter's dataset
table and ``python -m fer_core inspect`` are generated from it, so every adapter must
have an entry.

Adding a dataset (e.g. ``"rafdb"``): write the adapter module with a class that
subclasses :class:`fer_core.data.files.FileDataset` and a module-level ``LAYOUT``
string (also set as the class attribute ``LAYOUT``), then add one entry to the ``DATASETS`` literal below::

    "rafdb": DatasetInfo(
        name="rafdb", title="RAF-DB (basic)", target="fer_core.data.rafdb:RAFDB",
        classes=(...), protocol="official train/test (list_patition_label.txt)",
        obtain="Request access from the publisher; extract basic/ and point data_root at it.",
        papers=("Switch-GAN",)),

``target`` is ``"module:Class"``; the class (and with it ``LAYOUT``) is imported
only when asked for (``info.constructor``, ``info.layout``), so the registry stays cheap
to import and one broken adapter does not break the others.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from fer_core.data.base import EXPRESSIONS_7

__all__ = ["DatasetInfo", "DATASETS", "get_dataset_info"]


@dataclass(frozen=True)
class DatasetInfo:
    """One real dataset.

    Attributes:
        name: registry key (``"ckplus"``).
        title: display name (``"CK+"``).
        target: ``"module:Class"`` of the adapter.
        classes: the adapter's default class names, in label order.
        protocol: the papers' evaluation protocol, one line.
        obtain: how a reader obtains the data and which folder ``data_root`` names.
        papers: chapters that use it.
        generic: the adapter reads a general layout (any class folders) that also fits
            specific datasets; ``fer inspect`` prefers a specific layout that fits too.
    """

    name: str
    title: str
    target: str
    classes: tuple[str, ...]
    protocol: str
    obtain: str
    papers: tuple[str, ...] = ()
    generic: bool = False

    @property
    def constructor(self) -> type:
        """The adapter class (imported on first use)."""
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)

    @property
    def layout(self) -> str:
        """The expected folder layout (the adapter class's ``LAYOUT``)."""
        return str(getattr(self.constructor, "LAYOUT", "")).strip()

    def build(self, root: Any, **kwargs: Any):
        """``constructor(root, **kwargs)``."""
        return self.constructor(root, **kwargs)


_CK7 = ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
_OULU6 = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
_MULTIPIE6 = ("neutral", "smile", "surprise", "squint", "disgust", "scream")
_LSEMSW13 = ("happy", "anxious", "sad", "scared", "angry", "hesitant", "indifferent", "surprised", "arrogant",
             "thinking", "helpless", "suspicious", "questioning")

DATASETS: dict[str, DatasetInfo] = {
    "ckplus": DatasetInfo(
        name="ckplus", title="CK+ (Extended Cohn-Kanade)", target="fer_core.data.ckplus:CKPlus", classes=_CK7,
        protocol="subject-independent 10-fold (FESR); GroupGAN: weak frames 6-8 vs peak (last), 5-fold",
        obtain="Request CK+ from the publisher (University of Pittsburgh / Jeffrey Cohn). Extract "
               "extended-cohn-kanade-images.zip, Emotion_labels.zip and Landmarks.zip into one folder and point "
               "data_root at it (it then holds cohn-kanade-images/, Emotion/, Landmarks/).",
        papers=("FESR", "GroupGAN")),
    "ckplus48": DatasetInfo(
        name="ckplus48", title="CK+48 (class folders, 48x48)", target="fer_core.data.ckplus:CKPlus48", classes=_CK7,
        protocol="subject-independent 10-fold on the last three frames per sequence",
        obtain="The widely shared 48x48 crop of CK+ (class folders anger/ ... surprise/). Point data_root at the "
               "folder holding the class folders. Only the last frames are kept, so GroupGAN's weak frames are "
               "not available; use the original layout for that.",
        papers=("FESR",)),
    "oulu": DatasetInfo(
        name="oulu", title="Oulu-CASIA NIR&VIS", target="fer_core.data.oulu:OuluCASIA", classes=_OULU6,
        protocol="subject-independent 10-fold (FESR), VL Strong; GroupGAN: weak frames 6-8 vs peak, 5-fold",
        obtain="Request Oulu-CASIA from the University of Oulu (CMVS). Point data_root at the folder that holds "
               "OriginalImg/ (or the OriginalImg folder's parent).",
        papers=("FESR", "GroupGAN")),
    "mmi": DatasetInfo(
        name="mmi", title="MMI Facial Expression", target="fer_core.data.mmi:MMI", classes=EXPRESSIONS_7,
        protocol="subject-independent 10-fold, 3 apex frames train / peak test (FESR); first frame neutral + "
                 "3 middle frames, 5-fold (Switch-GAN)",
        obtain="Register at the MMI database site and download the frontal sessions. Extract each session's "
               "video to frames inside its folder (see the layout) and point data_root at Sessions/.",
        papers=("FESR", "Switch-GAN")),
    "multipie": DatasetInfo(
        name="multipie", title="CMU Multi-PIE (expression subset)", target="fer_core.data.multipie:MultiPIE",
        classes=_MULTIPIE6,
        protocol="subject-independent 5-fold over 5 yaws (-30..+30 degrees)",
        obtain="License Multi-PIE from CMU. Point data_root at the folder that holds data/ (session01/...). "
               "Public code also ships aligned crops with a CelebA-style list_attr_multipie_{train,test}.txt: "
               "use MultiPIE.from_attribute_list(root) for that variant.",
        papers=("FESR", "Switch-GAN")),
    "multipie_attr": DatasetInfo(
        name="multipie_attr", title="Multi-PIE (aligned crops with attribute lists)",
        target="fer_core.data.multipie:MultiPIEAttributes", classes=_MULTIPIE6,
        protocol="the lists' own train/test split (subject-independent folds need the original layout)",
        obtain="The aligned Multi-PIE crops some public expression-transfer code ships with CelebA-style "
               "list_attr_multipie_{train,test}.txt; point data_root at the folder holding the two lists.",
        papers=("Switch-GAN",)),
    "tfd": DatasetInfo(
        name="tfd", title="Toronto Face Database", target="fer_core.data.tfd:TFD",
        classes=("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"),
        protocol="the 5 official folds (train 70% / valid 10% / test 20% of the labelled images)",
        obtain="TFD is distributed by the University of Toronto on request as TFD_48x48.mat / TFD_96x96.mat. "
               "Point data_root at the folder that holds the .mat file.",
        papers=("FESR",)),
    "lsemsw": DatasetInfo(
        name="lsemsw", title="LSEMSW (subtle expressions in movies)", target="fer_core.data.lsemsw:LSEMSW",
        classes=_LSEMSW13,
        protocol="official train/val/test lists (80/10/10); peak images chosen by a CNN (GroupGAN)",
        obtain="Request LSEMSW from its authors. Arrange it as the layout shows (images/ plus "
               "train.txt/val.txt/test.txt and classes.txt) and point data_root at that folder.",
        papers=("GroupGAN",)),
    "rafdb": DatasetInfo(
        name="rafdb", title="RAF-DB (basic)", target="fer_core.data.rafdb:RAFDB", classes=EXPRESSIONS_7,
        protocol="official train/test from list_patition_label.txt (12,271 / 3,068)",
        obtain="Request RAF-DB from its authors (whdeng.cn). Extract the basic/ archive and point data_root at "
               "basic/ (it holds EmoLabel/ and Image/).",
        papers=("Switch-GAN",)),
    "rafdb_folders": DatasetInfo(
        name="rafdb_folders", title="RAF-DB (basic, class folders)", target="fer_core.data.rafdb:RAFDBFolders",
        classes=EXPRESSIONS_7,
        protocol="official train/test from train_labels.csv / test_labels.csv (12,271 / 3,068)",
        obtain="The widely shared copy of RAF-DB basic (e.g. Kaggle's 'RAF-DB dataset'): train/ and test/ folders "
               "of labels 1-7 holding the 100x100 aligned faces, with train_labels.csv and test_labels.csv. Point "
               "data_root at the folder holding the two CSV files.",
        papers=("Switch-GAN",)),
    "fer2013": DatasetInfo(
        name="fer2013", title="FER2013", target="fer_core.data.fer2013:FER2013", classes=EXPRESSIONS_7,
        protocol="Usage: Training / PublicTest / PrivateTest as train / val / test (28,709 / 3,589 / 3,589)",
        obtain="Download fer2013.tar.gz from the Kaggle challenge 'Challenges in Representation Learning: Facial "
               "Expression Recognition'. Point data_root at the extracted fer2013/ folder (or at its parent, as "
               "torchvision does).",
        papers=("Comp-GAN", "FaPE-GAN")),
    "fer2013_folders": DatasetInfo(
        name="fer2013_folders", title="FER2013 (image folders)", target="fer_core.data.fer2013:FER2013Folders",
        classes=EXPRESSIONS_7,
        protocol="the copy's train/ and test/ folders (most copies merge PublicTest and PrivateTest into test/)",
        obtain="The image-folder copy of FER2013 (e.g. Kaggle's 'FER-2013'): train/<emotion>/ and test/<emotion>/ "
               "of 48x48 grey faces. Point data_root at the folder holding train/ and test/.",
        papers=("Comp-GAN", "FaPE-GAN")),
    "jaffe": DatasetInfo(
        name="jaffe", title="JAFFE", target="fer_core.data.jaffe:JAFFE", classes=EXPRESSIONS_7,
        protocol="120 / 23 / 70 train / val / test (deep-emotion split; one test image per subject and expression)",
        obtain="Request JAFFE on Zenodo (record 3451524). Point data_root at the folder holding the .tiff files.",
        papers=("Comp-GAN", "FaPE-GAN")),
    "kdef": DatasetInfo(
        name="kdef", title="KDEF (Karolinska Directed Emotional Faces)", target="fer_core.data.kdef:KDEF",
        classes=EXPRESSIONS_7,
        protocol="no official split: subject-independent k-fold by person (both sessions together)",
        obtain="Request KDEF at kdef.se. Point data_root at the KDEF/ folder (holding AF01/ ... BM35/).",
        papers=()),
    "f2ed": DatasetInfo(
        name="f2ed", title="F2ED (fine-grained expressions, 4 views)", target="fer_core.data.f2ed:F2ED",
        classes=(),
        protocol="Comp-GAN T1-T6 (ER-SS, ER-FID, ER-ZID, ER-FP, ER-ZP, ER-FE; 1/3/5 shots) and FaPE-GAN ER-UE, "
                 "ER-UP (fer_core.data.f2ed_tasks)",
        obtain="F2ED is held by its authors (Fudan University); arrange the images as "
               "<identity>/<view>/<expression>/<frame>.jpg and point data_root at the folder of identities. "
               "classes come from the expression folder names (54 in F2ED).",
        papers=("Comp-GAN", "FaPE-GAN")),
    "classfolder": DatasetInfo(
        name="classfolder", title="class-folder dataset", target="fer_core.data.classfolder:ClassFolders",
        classes=(),
        protocol="subject-independent k-fold with a subject_pattern; else stratified k-fold (subject independence "
                 "not guaranteed; the chapter says so)",
        obtain="Any folder of class folders (happy/, sad/, ...; or train/ and test/ holding them), e.g. your own "
               "photos. Point data_root at it. Unknown folder names are mapped with class_map, and subject ids "
               "are read with subject_pattern (options of the adapter, or classfolder.json in the folder).",
        papers=(), generic=True),
}


def get_dataset_info(name: str) -> DatasetInfo:
    """The entry for ``name``; ValueError listing the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None
