"""Face detection for datasets without landmarks (fer_core.data.faces and its use by the adapters).

The plumbing (which adapters detect, cached landmarks, images without a face listed, the message
when the extra is missing) is tested with a stand-in finder and runs everywhere. Only
``test_dlib_aligns_synthetic_faces_at_128px`` needs the optional extra
(``pip install "fer-book[faces]"``); without it that one test is skipped, saying why.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import fixtures_datasets as fxa  # noqa: E402
import fixtures_datasets_b as fx  # noqa: E402

from fer_core.data import align, faces  # noqa: E402
from fer_core.data.ckplus import CKPlus  # noqa: E402
from fer_core.data.classfolder import ClassFolders  # noqa: E402
from fer_core.data.files import FacesNotFound  # noqa: E402
from fer_core.data.jaffe import JAFFE  # noqa: E402
from fer_core.data.registry import DATASETS  # noqa: E402

SIZE = 32
FACE = fxa.face_landmarks(32, 36, 14.0)  # where the stand-in "finds" the face in a 64x80 fixture image


@pytest.fixture(autouse=True)
def _cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "fer-cache"))


class StandInFinder:
    """Finds a face at ``FACE`` in every image brighter than grey level 50 (the fixture's neutral
    images, level 40, have "no face"), and counts its calls."""

    def __init__(self):
        self.calls = 0

    def find(self, image):
        self.calls += 1
        return FACE.astype(np.float32) if np.asarray(image).mean() > 50 else None


@pytest.fixture
def stand_in(monkeypatch):
    finder = StandInFinder()
    monkeypatch.setattr(faces, "available", lambda: True)
    monkeypatch.setattr(faces, "require", lambda: None)
    monkeypatch.setattr(faces, "detector_id", lambda: "stand-in detector")
    monkeypatch.setattr(faces, "shared_finder", lambda: finder)
    return finder


def test_adapters_without_landmarks_detect_faces():
    detecting = {k for k, info in DATASETS.items() if info.constructor.detect_faces is True}
    assert detecting == {"jaffe", "kdef", "oulu", "classfolder"}
    from fer_core.data.rafdb import RAFDB

    assert RAFDB.detect_faces.fget(type("R", (), {"aligned": False})()) is True  # the originals, not the aligned
    assert RAFDB.detect_faces.fget(type("R", (), {"aligned": True})()) is False


def test_detected_faces_are_aligned_cached_and_the_faceless_listed(tmp_path, stand_in):
    root = fx.make_classfolder(tmp_path)
    with pytest.warns(FacesNotFound, match=r"no face in 6 of 24 image.*kept, not dropped"):
        ds = ClassFolders(root, size=SIZE)
    assert ds.face_detection and ds.has_landmarks and len(ds) == 24 and stand_in.calls == 24
    assert ds.preparation == ("faces found by dlib's detector and aligned on its 68 landmarks (no face found in 6 of "
                              "24: centre-cropped)")
    neutral = ds.classes.index("neutral")
    assert sorted(ds.no_face) == sorted(ds.meta.path[ds.meta.expression == neutral])
    target = align.TEMPLATE_5 * SIZE - 0.5
    for i in range(len(ds)):
        lm = ds[i]["landmarks"]
        if int(ds[i]["expression"]) == neutral:
            assert torch.isnan(lm).all()  # centre-cropped, kept, no landmarks
        else:
            assert np.abs(align.five_points(lm.numpy()) - target).max() < 0.08 * SIZE
    stand_in.calls = 0
    with pytest.warns(FacesNotFound, match="no face in 6 of 24"):
        again = ClassFolders(root, size=SIZE)
    assert again.cache_hit and stand_in.calls == 0 and again.no_face == ds.no_face
    assert torch.allclose(again[3]["landmarks"], ds[3]["landmarks"], equal_nan=True)
    plain = ClassFolders(root, size=SIZE, faces=False)
    assert plain._cache.path != ds._cache.path and "landmarks" not in plain[0]
    assert plain.preparation == "centre crop (faces=False)"
    assert not torch.equal(plain[3]["image"], ds[3]["image"])


def test_without_cache_the_faceless_are_listed_as_they_are_prepared(tmp_path, stand_in):
    root = fx.make_classfolder(tmp_path)
    ds = ClassFolders(root, size=SIZE, cache=False)
    _ = [ds[i] for i in range(len(ds))]
    assert len(ds.no_face) == 6


def test_shipped_landmarks_win_over_the_detector(tmp_path, stand_in):
    fxa.make_ckplus(tmp_path / "ck", subjects=2, sequences=1, frames=3, unlabeled=0)
    ds = CKPlus(tmp_path / "ck", size=SIZE, faces=True)
    assert stand_in.calls == 0 and ds.preparation == "faces found by dlib's detector and aligned on its 68 landmarks"
    assert torch.isfinite(ds[0]["landmarks"]).all()


def test_without_the_extra_faces_are_centre_cropped_and_the_fix_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # as on CI without the extra
    assert not faces.available()
    with pytest.raises(faces.FacesExtraMissing, match=r'pip install "fer-book\[faces\]"'):
        faces.require()
    root = fx.make_jaffe(tmp_path, size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FacesNotFound)
        ds = JAFFE(root, size=SIZE)
    assert not ds.face_detection and "landmarks" not in ds[0]
    assert ds.preparation == ('centre crop (the faces extra is not installed; pip install "fer-book[faces]" detects '
                              "and aligns the faces)")
    with pytest.raises(faces.FacesExtraMissing, match="faces=False to centre-crop"):
        JAFFE(root, size=SIZE, faces=True)
    with pytest.raises(ValueError, match="faces must be"):
        JAFFE(root, faces="yes")


def test_summarise_counts_rates_per_group():
    import pandas as pd

    m = pd.DataFrame({"yaw": [0.0, 0.0, 15.0, 15.0], "expression": ["a", "b", "a", "b"],
                      "found": [True, False, True, True], "error": [2.0, np.nan, 4.0, 6.0],
                      "inner_error": [1.0, np.nan, 2.0, 3.0], "eye_error": [1.0, np.nan, 1.0, 1.0],
                      "seconds": [0.5, 0.5, 0.5, 0.5]})
    by_yaw = faces.summarise(m, "yaw")
    assert by_yaw["detected"].tolist() == ["50%", "100%"] and by_yaw["68-point error (px)"].tolist() == [2.0, 5.0]
    assert faces.summarise(m).loc["all", "faces / s"] == 2.0


@pytest.mark.skipif(not faces.available(), reason=f"the optional faces extra is not installed ({faces.INSTALL}); "
                                                  "the detector test needs dlib and its 68-point predictor")
def test_dlib_aligns_synthetic_faces_at_128px(tmp_path):
    """dlib on the synthetic world at 128 px (4 people x 7 expressions x yaws -15, 0, +15).

    Tolerances (measured on worlds 0-3: detection 98-100 %, 68-point error 3.4-3.9 px, eye
    centres 2.1-2.9 px): a face found in at least 90 % of the images; landmarks on average within
    5.5 px (4.3 % of the side) of the renderer's, eye centres within 4 px; and the aligned faces'
    true eye centres within 3 px of the template's at 64 px.
    """
    finder = faces.shared_finder()  # the predictor loads once
    measured = faces.measure_on_synthetic(seed=0, identities=4, size=128, yaws=(-15.0, 0.0, 15.0), finder=finder)
    assert len(measured) == 84 and measured["found"].mean() >= 0.9
    assert measured["error"].mean() <= 5.5 and measured["eye_error"].mean() <= 4.0

    from fer_core.data.synthetic import FaceWorld

    world = FaceWorld(0)
    classes = world.expression_set("basic7").classes
    ids, cls = np.repeat(np.arange(4), len(classes)), np.tile(np.arange(len(classes)), 4)
    out = world.render(identity=ids, expression=cls, size=128)
    images = ((out["image"].permute(0, 2, 3, 1).numpy() + 1) * 127.5 + 0.5).clip(0, 255).astype(np.uint8)
    eye_target, errors = align.TEMPLATE_5[:2] * 64 - 0.5, []
    for image, truth in zip(images, np.asarray(out["landmarks"])):
        found = finder.find(image)
        if found is None:
            continue
        m = align.similarity_transform(align.five_points(found), align.TEMPLATE_5 * 64 - 0.5)
        errors.append(np.linalg.norm(align.apply_affine(m, align.five_points(truth)[:2]) - eye_target, axis=1).mean())
    assert len(errors) >= 0.9 * len(images) and np.mean(errors) <= 3.0

    from PIL import Image

    root = tmp_path / "synthetic-faces"  # the same faces as a class-folder dataset: the adapters' path
    for k, (image, c) in enumerate(zip(images, cls)):
        (root / classes[c]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / classes[c] / f"id{ids[k]}_{k:03d}.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FacesNotFound)
        ds = ClassFolders(root, size=64, subject_pattern=r"^(id\d+)_", faces=True)
    assert ds.face_detection and len(ds) == 28 and len(ds.no_face) <= 2
    eyes = [align.five_points(ds[i]["landmarks"].numpy())[:2] for i in range(len(ds)) if ds.meta.path[i] not in
            ds.no_face]
    assert np.abs(np.stack(eyes) - eye_target).mean() <= 3.0
