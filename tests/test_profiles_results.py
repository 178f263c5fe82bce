"""Profiles in one place; the results store keyed by configuration and code."""

from __future__ import annotations


import pytest
import torch

from fer_core import results
from fer_core.profiles import PROFILE_NAMES, PROFILES, get_profile
from fer_core.results import ResultStore, config_key


@pytest.mark.parametrize("chapter", sorted(PROFILES))
def test_every_chapter_defines_all_profiles_with_the_same_keys(chapter):
    assert set(PROFILES[chapter]) == set(PROFILE_NAMES)
    keys = {name: set(values) for name, values in PROFILES[chapter].items()}
    assert keys["smoke"] == keys["small"] == keys["paper"], chapter


def test_profile_access_and_errors():
    p = get_profile("data", "smoke")
    assert p.name == "smoke" and p.size == p["size"]
    with pytest.raises(AttributeError, match="no setting 'nope'"):
        p.nope
    with pytest.raises(ValueError, match="unknown profile 'tiny'"):
        get_profile("data", "tiny")
    with pytest.raises(ValueError, match="unknown chapter 'x'"):
        get_profile("x", "small")
    with pytest.raises(TypeError):
        p._values["size"] = 1  # read-only


def test_start_chapter_seeds_keeps_one_thread_and_prints_the_profile(capsys):
    from fer_core import runtime

    threads = torch.get_num_threads()
    try:
        P = get_profile("fesr", "smoke")
        dev = runtime.start_chapter(P, seed=3, device="cpu", show=("folds", "seeds"))
        a = torch.rand(3)
        assert dev == torch.device("cpu") and torch.get_num_threads() == 1
        assert capsys.readouterr().out.strip() == "profile=smoke device=cpu settings={'folds': 2, 'seeds': (0,)}"
        runtime.start_chapter(P, seed=3, device="cpu")
        assert torch.equal(torch.rand(3), a)  # the same seed, the same draws
        assert "'gan_width': 8" in capsys.readouterr().out  # every setting when show is None
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            runtime.start_chapter(P, seed=-1, device="cpu")
    finally:
        torch.set_num_threads(threads)


def test_cached_computes_once_and_round_trips_tensors(tmp_path):
    store = ResultStore("demo", root=tmp_path)
    calls = []

    def run():
        calls.append(1)
        return {"acc": 0.5, "cm": torch.eye(3), "per_seed": [0.4, 0.6]}

    a = store.cached({"variant": "A", "seed": 0}, run)
    b = store.cached({"seed": 0, "variant": "A"}, run)  # same config, other key order
    assert len(calls) == 1 and store.hits == 1
    assert torch.equal(b["cm"], torch.eye(3)) and b["per_seed"] == [0.4, 0.6]
    store.cached({"variant": "B", "seed": 0}, run)
    assert len(calls) == 2
    sidecars = store.entries()
    assert {e["config"]["variant"] for e in sidecars} == {"A", "B"}
    assert sidecars[0]["result"]["acc"] == 0.5


def test_key_depends_on_code_fingerprint():
    cfg = {"a": 1}
    assert config_key(cfg, code="x") != config_key(cfg, code="y")
    assert len(results.code_fingerprint()) == 16


def test_non_plain_config_is_refused(tmp_path):
    with pytest.raises(ValueError, match="JSON-like"):
        ResultStore("demo", root=tmp_path).path({"f": object()})


def test_default_root_follows_fer_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_CACHE", str(tmp_path))
    assert ResultStore("c").dir == tmp_path / "results" / "c"


def test_the_fingerprint_ignores_modules_that_cannot_change_a_result(tmp_path):
    from fer_core.results import fingerprint_of

    pkg = tmp_path / "fer_core"
    (pkg / "methods" / "paper").mkdir(parents=True)
    for name in ("train.py", "book.py", "methods/paper/method.py", "methods/paper/report.py"):
        (pkg / name).write_text("x = 1\n")
    before = fingerprint_of(pkg)
    (pkg / "book.py").write_text("x = 2\n")
    (pkg / "methods/paper/report.py").write_text("x = 2\n")
    assert fingerprint_of(pkg) == before
    (pkg / "methods/paper/method.py").write_text("x = 2\n")
    assert fingerprint_of(pkg) != before


def test_a_chapter_fingerprint_covers_its_package_and_the_packages_it_imports_only(tmp_path):
    from fer_core.results import fingerprint_of

    pkg = tmp_path / "fer_core"
    for name in ("a", "b", "c"):
        (pkg / "methods" / name).mkdir(parents=True)
        (pkg / "methods" / name / "method.py").write_text("x = 1\n")
    (pkg / "methods" / "a" / "nets.py").write_text("from fer_core.methods.b import nets\n")
    (pkg / "train.py").write_text("x = 1\n")
    before = {ch: fingerprint_of(pkg, chapter=ch) for ch in ("a", "b", "c")}
    (pkg / "methods" / "c" / "method.py").write_text("x = 2\n")  # only c changes
    assert fingerprint_of(pkg, chapter="a") == before["a"] and fingerprint_of(pkg, chapter="b") == before["b"]
    assert fingerprint_of(pkg, chapter="c") != before["c"]
    (pkg / "methods" / "b" / "method.py").write_text("x = 2\n")  # a imports b
    assert fingerprint_of(pkg, chapter="a") != before["a"]
    (pkg / "train.py").write_text("x = 2\n")  # the shared library counts for every chapter
    assert all(fingerprint_of(pkg, chapter=ch) != before[ch] for ch in ("a", "b", "c"))
