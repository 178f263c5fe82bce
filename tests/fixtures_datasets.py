"""Builders of tiny, format-faithful dataset folders for the adapter tests.

Each ``make_<dataset>(root, ...)`` writes the publisher's layout under ``root`` (file
names, folder nesting, label-file syntax, image formats) with a few tiny images, and
returns a dict of the facts the tests check (counts, subjects, ...). No real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from fer_core.data.files import BadImagesSkipped

# ---------------------------------------------------------------------------- small helpers


def refused_then_skipped(cls, root: Path, error: type[Exception], match: str, *, skipped: str = "skipped 1",
                         **options):
    """``cls(root, **options)`` raises ``error`` matching ``match``; with ``skip_bad=True`` it warns
    (:class:`BadImagesSkipped` matching ``skipped``) and returns the dataset without the bad entries."""
    with pytest.raises(error, match=match):
        cls(root, **options)
    with pytest.warns(BadImagesSkipped, match=skipped):
        return cls(root, skip_bad=True, **options)


def face_landmarks(cx: float, cy: float, scale: float, *, smile: float = 0.0) -> np.ndarray:
    """68 plausible iBUG-ordered points of a frontal face centred at (cx, cy); ``scale`` ~ eye distance."""
    s = scale
    pts = np.zeros((68, 2))
    t = np.linspace(-1.0, 1.0, 17)
    pts[0:17] = np.stack([cx + 1.05 * s * t, cy + 0.1 * s + 0.9 * s * (1 - t**2) ** 0.5 * 0.9], 1)  # jaw
    pts[17:22] = np.stack([cx - s * np.linspace(0.85, 0.2, 5), np.full(5, cy - 0.62 * s)], 1)
    pts[22:27] = np.stack([cx + s * np.linspace(0.2, 0.85, 5), np.full(5, cy - 0.62 * s)], 1)
    pts[27:31] = np.stack([np.full(4, cx), cy - 0.35 * s + np.linspace(0, 0.75, 4) * s], 1)  # 30 = nose tip
    pts[31:36] = np.stack([cx + s * np.linspace(-0.25, 0.25, 5), np.full(5, cy + 0.45 * s)], 1)
    for start, ex in ((36, cx - 0.5 * s), (42, cx + 0.5 * s)):
        ang = np.linspace(0, 2 * np.pi, 7)[:6]
        pts[start:start + 6] = np.stack([ex + 0.18 * s * np.cos(ang), cy - 0.3 * s + 0.07 * s * np.sin(ang)], 1)
    ang = np.linspace(0, 2 * np.pi, 13)[:12]
    mouth = np.stack([cx - 0.42 * s * np.cos(ang), cy + 0.85 * s + 0.15 * s * np.sin(ang)], 1)
    mouth[0, 1] -= smile * s
    mouth[6, 1] -= smile * s
    pts[48:60] = mouth  # 48 and 54 are the corners
    inner = np.linspace(0, 2 * np.pi, 9)[:8]
    pts[60:68] = np.stack([cx - 0.3 * s * np.cos(inner), cy + 0.85 * s + 0.05 * s * np.sin(inner)], 1)
    return pts


def tiny_image(seed: int, size: tuple[int, int] = (40, 32), *, mode: str = "L") -> Image.Image:
    """A deterministic small image (``size`` = (width, height)) in PIL ``mode``."""
    rng = np.random.default_rng(seed)
    w, h = size
    if mode == "L":
        return Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file to ``keep`` of its bytes (a torn download)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: max(8, int(len(data) * keep))])


def _fmt(v: float) -> str:
    return f"   {v:.7e}"


# ---------------------------------------------------------------------------- CK+


CK_SIZE = (40, 32)


def make_ckplus(root: Path, *, subjects: int = 4, sequences: int = 2, frames: int = 10, landmarks: bool = True,
                unlabeled: int = 1) -> dict:
    """CK+ original layout: ``cohn-kanade-images/``, ``Emotion/``, ``Landmarks/``.

    Subject ``S{10+5i:03d}``, sequences ``001..``, frames ``00000001..``; sequence j of
    subject i gets code ``1 + (i * sequences + j) % 7``. ``unlabeled`` extra sequences per
    subject have frames but no emotion file.
    """
    root = Path(root)
    facts = {"subjects": [], "sequences": 0, "frames": 0, "codes": {}}
    for i in range(subjects):
        subj = f"S{10 + 5 * i:03d}"
        facts["subjects"].append(subj)
        for j in range(sequences + unlabeled):
            seq = f"{j + 1:03d}"
            img_dir = root / "cohn-kanade-images" / subj / seq
            img_dir.mkdir(parents=True, exist_ok=True)
            for k in range(1, frames + 1):
                name = f"{subj}_{seq}_{k:08d}"
                tiny_image(1000 * i + 100 * j + k, CK_SIZE).save(img_dir / f"{name}.png")
                if landmarks:
                    lm_dir = root / "Landmarks" / subj / seq
                    lm_dir.mkdir(parents=True, exist_ok=True)
                    lm = face_landmarks(20 + 0.2 * k, 15, 9.0)
                    (lm_dir / f"{name}_landmarks.txt").write_text("".join(f"{_fmt(x)}{_fmt(y)}\n" for x, y in lm))
            emo_dir = root / "Emotion" / subj / seq
            emo_dir.mkdir(parents=True, exist_ok=True)
            if j < sequences:
                code = 1 + (i * sequences + j) % 7
                (emo_dir / f"{subj}_{seq}_{frames:08d}_emotion.txt").write_text(f"{_fmt(code)}\n")
                facts["codes"][f"{subj}_{seq}"] = code
                facts["sequences"] += 1
                facts["frames"] += frames
    facts["unlabeled"] = subjects * unlabeled
    return facts


def make_ckplus48(root: Path, *, per_class: int = 2) -> dict:
    """CK+48: class folders of 48x48 grey PNGs named ``Sxxx_yyy_zzzzzzzz.png`` (last three frames)."""
    root = Path(root)
    folders = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
    n = 0
    for c, folder in enumerate(folders):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for s in range(per_class):
            subj, seq = f"S{100 + 2 * s + (c % 2):03d}", f"{c + 1:03d}"
            for k in (15, 16, 17):
                tiny_image(c * 100 + s * 10 + k, (48, 48)).save(root / folder / f"{subj}_{seq}_{k:08d}.png")
                n += 1
    return {"images": n, "classes": folders}


# ---------------------------------------------------------------------------- Oulu-CASIA

OULU_EXPRESSIONS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")


def make_oulu(root: Path, *, subjects: int = 4, per_subject: int = 2, frames: int = 10) -> dict:
    """``OriginalImg/VL/Strong/P0xx/<Expression>/000.jpeg``; plus one subject under ``VL/Dark`` and ``NI/Strong``.

    Subject ``P{i+1:03d}`` shows expressions ``(per_subject * i + j) % 6``.
    """
    root = Path(root)
    n = 0
    for mod, ill, subs in (("VL", "Strong", subjects), ("VL", "Dark", 1), ("NI", "Strong", 1)):
        for i in range(subs):
            subj = f"P{i + 1:03d}"
            for j in range(per_subject):
                expr = OULU_EXPRESSIONS[(per_subject * i + j) % 6]
                d = root / "OriginalImg" / mod / ill / subj / expr
                d.mkdir(parents=True, exist_ok=True)
                for k in range(frames):
                    tiny_image(7 * i + 3 * j + k, (32, 24), mode="RGB").save(d / f"{k:03d}.jpeg", quality=90)
                if (mod, ill) == ("VL", "Strong"):
                    n += frames
    return {"vl_strong_images": n, "subjects": subjects, "sequences": subjects * per_subject, "frames": frames}


# ---------------------------------------------------------------------------- MMI


def mmi_session_xml(subject: int, emotion: int | None) -> str:
    tag = f'  <Metatag Name="Emotion" Value="{emotion}" />\n' if emotion is not None else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n<Session SessionId="x" View="frontal">\n'
            f'  <Subject Id="{subject}" Gender="Female" />\n{tag}</Session>\n')


def make_mmi(root: Path, *, subjects: int = 3, per_subject: int = 2, frames: int = 9, unlabeled: int = 1) -> dict:
    """Sessions ``1700+n/`` with ``session.xml``, a dummy ``S00s-00q.avi`` and ``frames/0001.png ...``.

    Session n of subject s is labelled ``1 + n % 6`` (MMI codes). ``unlabeled`` extra
    sessions have no Emotion tag (and no frames).
    """
    root = Path(root)
    sessions, n = {}, 0
    for s in range(subjects):
        for q in range(per_subject):
            sid = str(1700 + n)
            d = root / sid
            (d / "frames").mkdir(parents=True, exist_ok=True)
            code = 1 + n % 6
            (d / "session.xml").write_text(mmi_session_xml(s + 1, code))
            (d / f"S{s + 1:03d}-{q + 1:03d}.avi").write_bytes(b"RIFF\0\0\0\0AVI ")
            for k in range(1, frames + 1):
                tiny_image(50 * n + k, (32, 32)).save(d / "frames" / f"{k:04d}.png")
            sessions[sid] = (f"S{s + 1:03d}", code)
            n += 1
    for u in range(unlabeled):
        d = root / str(1900 + u)
        d.mkdir(parents=True, exist_ok=True)
        (d / "session.xml").write_text(mmi_session_xml(1, None))
    return {"sessions": sessions, "frames": frames, "unlabeled": unlabeled}


# ---------------------------------------------------------------------------- Multi-PIE

MPIE_CAMERAS = ("13_0", "14_0", "05_1", "05_0", "04_1")
MPIE_RECORDINGS = {1: ("neutral", "smile"), 2: ("neutral", "surprise", "squint"), 3: ("neutral", "smile", "disgust"),
                   4: ("neutral", "neutral", "scream")}


def make_multipie(root: Path, *, subjects: int = 5, extra_camera: bool = True) -> dict:
    """``data/sessionNN/multiview/SSS/RR/CC_C/SSS_NN_RR_CCC_FF.png`` (flash 07; one flash-00 duplicate).

    Subject s attends session 1 and session ``2 + s % 3``. ``extra_camera`` adds a
    non-selected camera (08_0, -45 degrees) that must be ignored.
    """
    root = Path(root)
    per_class: dict[str, int] = {}
    n = flash00 = 0
    for s in range(subjects):
        subj = f"{s + 1:03d}"
        for session in (1, 2 + s % 3):
            for r, expr in enumerate(MPIE_RECORDINGS[session], start=1):
                cams = MPIE_CAMERAS + (("08_0",) if extra_camera else ())
                for cam in cams:
                    d = root / "data" / f"session{session:02d}" / "multiview" / subj / f"{r:02d}" / cam
                    d.mkdir(parents=True, exist_ok=True)
                    stem = f"{subj}_{session:02d}_{r:02d}_{cam.replace('_', '')}"
                    tiny_image(n, (32, 24), mode="RGB").save(d / f"{stem}_07.png")
                    if s == 0 and cam == "05_1":
                        tiny_image(n + 1, (32, 24), mode="RGB").save(d / f"{stem}_00.png")
                        flash00 += 1
                    if cam != "08_0":
                        n += 1
                        per_class[expr] = per_class.get(expr, 0) + 1
    return {"images": n, "per_class": per_class, "subjects": subjects, "flash00": flash00}


def make_multipie_attributes(root: Path, *, train: int = 12, test: int = 6) -> dict:
    """CelebA-style ``list_attr_multipie_{train,test}.txt`` plus ``align_5p/<split>_<row:04d>.jpg``."""
    root = Path(root)
    (root / "align_5p").mkdir(parents=True, exist_ok=True)
    names = ["Neutral", "Smile", "Surprise", "Squint", "Disgust", "Scream", "Male"]
    labels = {}
    for split, count in (("train", train), ("test", test)):
        lines = [str(count), " ".join(names)]
        for i in range(count):
            name = f"{split}_{i + 1:04d}.jpg"
            cls = i % 6
            vals = ["1" if k == cls else "-1" for k in range(6)] + ["1" if i % 2 else "-1"]
            lines.append(f"{name} " + " ".join(f"{v:>2}" for v in vals))
            tiny_image(i + (0 if split == "train" else 500), (32, 32), mode="RGB").save(root / "align_5p" / name)
            labels[f"align_5p/{name}"] = cls
        (root / f"list_attr_multipie_{split}.txt").write_text("\n".join(lines) + "\n")
    return {"train": train, "test": test, "labels": labels}


# ---------------------------------------------------------------------------- TFD


def make_tfd(root: Path, *, labelled: int = 40, unlabelled: int = 10, resolution: int = 48) -> dict:
    """``TFD_48x48.mat`` with images (N,S,S) uint8, labs_ex, labs_id, folds (N,5) coded 0/1/2/3.

    Labelled image i has expression code ``1 + i % 7`` and identity ``1 + i // 4``; in
    fold k its split is test for the 20% with ``(i + k) % 10 in {0, 1}``, valid for
    ``== 2``, else train. Unlabelled images have label -1 and fold code 0.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    n = labelled + unlabelled
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, resolution, resolution), dtype=np.uint8)
    labs_ex = np.full((n, 1), -1, dtype=np.int16)
    labs_id = np.full((n, 1), -1, dtype=np.int16)
    folds = np.zeros((n, 5), dtype=np.uint8)
    for i in range(labelled):
        labs_ex[i, 0] = 1 + i % 7
        labs_id[i, 0] = 1 + i // 4
        for k in range(5):
            r = (i + k) % 10
            folds[i, k] = 3 if r in (0, 1) else 2 if r == 2 else 1
    scipy.io.savemat(root / f"TFD_{resolution}x{resolution}.mat",
                     {"images": images, "labs_ex": labs_ex, "labs_id": labs_id, "folds": folds})
    return {"labelled": labelled, "unlabelled": unlabelled, "images": images, "labs_ex": labs_ex[:, 0],
            "folds": folds}


# ---------------------------------------------------------------------------- LSEMSW


def make_lsemsw(root: Path, *, per_split: dict[str, int] | None = None) -> dict:
    """``images/movieN/xxxxx.jpg`` and ``train.txt``/``val.txt``/``test.txt`` lines ``path label``."""
    root = Path(root)
    per_split = per_split or {"train": 13, "val": 4, "test": 4}
    labels, k = {}, 0
    for split, count in per_split.items():
        lines = []
        for i in range(count):
            rel = f"movie{k % 3}/{k:05d}.jpg"
            (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
            tiny_image(k, (24, 24), mode="RGB").save(root / "images" / rel)
            lines.append(f"{rel} {k % 13}")
            labels[rel] = (split, k % 13)
            k += 1
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return {"labels": labels, "per_split": per_split}
