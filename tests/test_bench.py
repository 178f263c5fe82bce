"""``fer bench`` machinery on tiny configurations (never asserts a timing)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from fer_core import bench
from fer_core.methods.classifier import Classifier


@pytest.fixture(autouse=True)
def one_thread():
    """On a shared 2-core machine, two OpenMP threads per tiny op stall whenever another process
    runs; one thread keeps these machinery tests fast (no timing is asserted either way)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def registry():
    saved = bench.benches()  # every method module imported (and registered) before the test adds its own
    yield bench._REGISTRY
    bench._REGISTRY.clear()
    bench._REGISTRY.update(saved)


def _tiny(cfg: bench.BenchConfig) -> bench.BenchCase:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 7))
    g = torch.Generator().manual_seed(0)
    batch = {"image": torch.rand(cfg.batch_size, 3, cfg.size, cfg.size, generator=g) * 2 - 1,
             "expression": torch.randint(0, 7, (cfg.batch_size,), generator=g)}
    return bench.BenchCase(Classifier(net), batch)


def _check_row(row: bench.BenchRow) -> None:
    assert row.error is None, row.error
    for value in (row.eager_ms, row.fast_ms, row.speedup, row.images_per_s, row.eager_images_per_s):
        assert math.isfinite(value) and value > 0
    assert row.gflop_per_step is not None and row.gflop_per_step > 0
    assert row.estimate_mib is not None and row.estimate_mib > 0
    assert row.tflops is not None and row.tflops > 0
    assert row.mfu is None  # no peak is known for a CPU


def test_tiny_benchmark_gives_a_well_formed_row(registry):
    bench.register_bench("tiny", _tiny, quick=(8, 2))
    row = bench.measure("tiny", device="cpu", reps=2, warmup=0)
    _check_row(row)
    assert (row.name, row.profile, row.size, row.batch_size, row.reps) == ("tiny", "quick", 8, 2, 2)


@pytest.mark.parametrize("name", ["smallcnn", "resnet18", "vgg", "dcgan"])
def test_builtin_benchmarks_run_a_step(name):
    _check_row(bench.measure(name, device="cpu", size=32, batch_size=2, reps=1, warmup=0))


def test_method_benchmarks_are_registered():
    assert {"smallcnn", "resnet18", "vgg", "dcgan", "fesr"} <= set(bench.benches())


def test_run_bench_prints_the_table_and_writes_json(registry, tmp_path, capsys):
    bench.register_bench("tiny", _tiny, quick=(8, 2))
    out = tmp_path / "bench.json"
    assert bench.run_bench(quick=True, only=["tiny"], device="cpu", out=str(out), reps=1) == 0
    printed = capsys.readouterr().out
    assert "speed-up" in printed and "\ntiny " in printed
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["torch"] == torch.__version__
    assert [r["name"] for r in report["rows"]] == ["tiny"] and report["rows"][0]["error"] is None


def test_a_failing_benchmark_is_reported_not_raised(registry, capsys):
    def broken(cfg):
        raise RuntimeError("no such layer")

    bench.register_bench("broken", broken, quick=(8, 2))
    assert bench.run_bench(quick=True, only=["broken"], device="cpu", out=None, reps=1) == 1
    assert "FAILED: RuntimeError: no such layer" in capsys.readouterr().out


def test_registry_rejects_duplicates_and_unknown_names(registry):
    bench.register_bench("tiny", _tiny)
    with pytest.raises(ValueError, match="already registered"):
        bench.register_bench("tiny", _tiny)
    bench.register_bench("tiny", _tiny, replace=True)
    with pytest.raises(ValueError, match="unknown benchmark.*registered:.*smallcnn"):
        bench.run_bench(quick=True, only=["nope"], device="cpu", out=None)
    with pytest.raises(ValueError, match="size, batch_size"):
        bench.register_bench("bad", _tiny, quick=(0, 2))


def test_peak_can_be_given_by_environment(monkeypatch):
    monkeypatch.setenv("FER_PEAK_TFLOPS", "312")
    assert bench.peak_tflops(torch.device("cpu")) == (312.0, "$FER_PEAK_TFLOPS")
    monkeypatch.setenv("FER_PEAK_TFLOPS", "fast")
    with pytest.raises(ValueError, match="FER_PEAK_TFLOPS"):
        bench.peak_tflops(torch.device("cpu"))
    monkeypatch.delenv("FER_PEAK_TFLOPS")
    assert bench.peak_tflops(torch.device("cpu"))[0] is None
