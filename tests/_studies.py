"""A chapter's study on a tiny profile, for the chapters' experiment tests (imported by tests only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pytest

from fer_core.profiles import PROFILES
from fer_core.results import ResultStore


def tiny_study(cls, P: Mapping[str, Any], root: Path, *, seed: int = 0, **kw):
    """``cls`` on ``cls.build_data(P)``, on the CPU, its results and runs under ``root``, without progress lines."""
    return cls(P, cls.build_data(P, seed=seed), device="cpu", store=ResultStore(cls.chapter, root=root / "results"),
               run_root=root / "runs", progress=False, **kw)


def finished_study(cls, P: Mapping[str, Any], tmp_path_factory) -> tuple[Any, Path]:
    """:func:`tiny_study` with every experiment of its plan run (one worker), and its root."""
    root = tmp_path_factory.mktemp(cls.chapter)
    study = tiny_study(cls, P, root)
    study.run_all(workers=1)
    return study, root


def tiny_factory(cls, P: Mapping[str, Any]):
    """``(_study, tiny)`` for a chapter's test module: ``_study(root, P=P, **kw)`` builds the study
    under ``root``; ``tiny`` is a module fixture giving ``(study, root)`` with its plan finished."""

    def make(root: Path, P: Mapping[str, Any] = P, **kw):
        return tiny_study(cls, P, root, **kw)

    @pytest.fixture(scope="module", name="tiny")
    def tiny(tmp_path_factory):
        return finished_study(cls, P, tmp_path_factory)

    return make, tiny


def chapter_profiles(chapter: str) -> tuple[dict, dict, dict]:
    """``smoke``, ``small`` and ``paper`` of ``chapter``, checked to set the same settings."""
    smoke, small, paper = (PROFILES[chapter][k] for k in ("smoke", "small", "paper"))
    assert set(smoke) == set(small) == set(paper), f"{chapter}: the profiles set different settings"
    return smoke, small, paper


def assert_clear_data_root_errors(cls, P: Mapping[str, Any], empty: Path, *, real: str | None = None) -> None:
    """An empty ``data_root`` names itself as holding no dataset; a real dataset without one asks for it."""
    with pytest.raises(ValueError, match="holds no dataset"):
        cls.build_data(P, data_root=empty)
    if real is not None:
        with pytest.raises(ValueError, match="needs data_root"):
            cls.build_data(P, dataset=real)
