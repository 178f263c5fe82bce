"""Progress bars: live by default, one summary line in rendered runs, silent when off."""

from __future__ import annotations

import pytest

from fer_core.progress import tqdm


def test_summary_mode_prints_the_final_state_once(monkeypatch, capsys):
    monkeypatch.setenv("FER_PROGRESS", "summary")
    bar = tqdm(total=5, desc="train")
    for _ in range(5):
        bar.update(1)
    bar.set_postfix(loss=0.5)
    bar.close()
    bar.close()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("train: 100%") and "5/5" in out[0] and "loss=0.5" in out[0]


def test_summary_mode_keeps_transient_bars_quiet(monkeypatch, capsys):
    monkeypatch.setenv("FER_PROGRESS", "summary")
    for _ in tqdm(range(3), leave=False):
        pass
    assert capsys.readouterr().out == ""


def test_off_mode_and_bad_value(monkeypatch, capsys):
    monkeypatch.setenv("FER_PROGRESS", "off")
    assert list(tqdm(range(3))) == [0, 1, 2]
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("FER_PROGRESS", "loud")
    with pytest.raises(ValueError, match="FER_PROGRESS must be one of"):
        tqdm(range(1))
