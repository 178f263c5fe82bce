"""A chapter on real data, end to end: the FESR chapter in the ``smoke`` profile on a CK+48-style
folder (the widely shared 48x48 class-folder crop of CK+), recognised from ``data_root`` alone."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fixtures_datasets as fx  # noqa: E402

from fer_core import book  # noqa: E402

ROOT = book.find_root(Path(__file__).parent)


def _outputs(nb) -> list[tuple[str, str]]:
    """(text, html) of every output of every code cell."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            out.append((o.get("text", "") + data.get("text/plain", ""), data.get("text/html", "")))
    return out


@pytest.mark.slow
def test_fesr_chapter_runs_on_a_ck48_folder(tmp_path, monkeypatch):
    data_root = tmp_path / "CK+48"
    facts = fx.make_ckplus48(data_root, per_class=4)  # 8 subjects, 28 sequences of 3 frames: 2 folds hold
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))  # the chapter's kernel inherits it
    code = book.run_book(profile="smoke", only=["fesr"], data_root=str(data_root), root=ROOT, build=False,
                         build_dir=tmp_path / "build", progress=False)
    executed = tmp_path / "build" / "executed" / "fesr.ipynb"
    partial = tmp_path / "build" / "executed" / "fesr.partial.ipynb"
    assert code == 0, f"the chapter failed on real data; see {partial}"
    outputs = _outputs(nbformat.read(executed, as_version=4))
    names = [t for t, _ in outputs if "CK+48 (class folders, 48x48) from" in t]
    assert names and f"({facts['images']} faces, 32x32x3; centre crop)" in names[0]  # the data it ran on, said
    ledgers = [h for _, h in outputs if "<table" in h and "p (Holm)" in h and "verdict" in h]
    assert len(ledgers) == 1 and ledgers[0].count("<tr") >= 2  # the claims ledger, with at least one claim
