"""The claims ledger: t intervals checked against scipy, and the one verdict rule."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from fer_core.claims import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    VERDICT_RULE,
    Claim,
    Ledger,
    evaluate_claim,
)

TWO_STAGE = Claim("Two-stage training beats one-stage training", "Sec. IV-D, Fig. 8", "accuracy",
                  better="FESR_JL", variant_a="FESR_JL", variant_b="FESR_OneSt")


def test_paired_interval_hand_computed_and_matches_scipy():
    a = [0.80, 0.82, 0.85, 0.79]
    b = [0.75, 0.78, 0.80, 0.77]
    r = evaluate_claim(TWO_STAGE, a, b)
    # differences 0.05, 0.04, 0.05, 0.02: mean 0.04, sd sqrt(0.0002), t(0.975, 3) = 3.182446
    half = 3.182446 * math.sqrt(0.0002) / 2
    assert r.effect == pytest.approx(0.04)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.04 - half, 0.04 + half), abs=1e-6)
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert r.n == 4 and r.mean_a == pytest.approx(0.815) and r.mean_b == pytest.approx(0.775)
    assert r.verdict == HOLDS


def test_welch_interval_matches_scipy():
    a, b = [0.70, 0.74, 0.71, 0.78, 0.69], [0.66, 0.71, 0.64]
    r = evaluate_claim(TWO_STAGE, a, b, paired=False, confidence=0.9)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert r.n == 3 and not r.paired


@pytest.mark.parametrize(
    "a, b, verdict",
    [
        ([0.90, 0.91, 0.92], [0.80, 0.80, 0.82], HOLDS),  # clear positive
        ([0.70, 0.71, 0.72], [0.80, 0.82, 0.81], DOES_NOT_HOLD),  # clear negative
        ([0.80, 0.85, 0.78], [0.82, 0.79, 0.81], INCONCLUSIVE),  # interval straddles 0
    ],
    ids=["positive", "negative", "overlapping"],
)
def test_verdict_rule(a, b, verdict):
    r = evaluate_claim(TWO_STAGE, a, b)
    assert r.verdict == verdict
    if verdict == HOLDS:
        assert r.ci_low > 0
    elif verdict == DOES_NOT_HOLD:
        assert r.ci_high < 0 and r.effect < 0
    else:
        assert r.ci_low <= 0 <= r.ci_high


def test_single_seed_is_inconclusive_with_undefined_interval():
    r = evaluate_claim(TWO_STAGE, [0.95], [0.50])
    assert r.effect == pytest.approx(0.45)
    assert math.isnan(r.ci_low) and math.isnan(r.ci_high)
    assert r.verdict == INCONCLUSIVE
    assert evaluate_claim(TWO_STAGE, [0.95, 0.96], [0.5], paired=False).verdict == INCONCLUSIVE


def test_direction_follows_better_and_higher_is_better():
    fid = Claim("Switch-GAN images are closer to real ones", "Table 5", "FID", better="switch", variant_a="cyclegan",
                variant_b="switch", higher_is_better=False)
    r = evaluate_claim(fid, [30.0, 32.0, 31.0], [20.0, 21.0, 19.5])
    assert fid.sign == 1 and r.effect == pytest.approx(31.0 - 20.166666, abs=1e-5)
    assert r.verdict == HOLDS
    flipped = Claim("B wins", "x", "accuracy", better="B", variant_a="A", variant_b="B")
    assert evaluate_claim(flipped, [0.9, 0.91, 0.92], [0.8, 0.8, 0.82]).verdict == DOES_NOT_HOLD


def test_equal_paired_differences_give_a_point_interval():
    r = evaluate_claim(TWO_STAGE, [0.8, 0.9, 0.7], [0.7, 0.8, 0.6])
    assert r.ci_low == pytest.approx(0.1) and r.ci_high == pytest.approx(0.1)
    assert r.verdict == HOLDS


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="must be variant_a"):
        Claim("x", "y", "accuracy", better="C", variant_a="A", variant_b="B")
    with pytest.raises(ValueError, match="with itself"):
        Claim("x", "y", "accuracy", better="A", variant_a="A", variant_b="A")
    with pytest.raises(ValueError, match="paired=False"):
        evaluate_claim(TWO_STAGE, [0.8, 0.9], [0.7])
    with pytest.raises(ValueError, match="non-finite"):
        evaluate_claim(TWO_STAGE, [0.8, float("nan")], [0.7, 0.6])
    with pytest.raises(ValueError, match="empty"):
        evaluate_claim(TWO_STAGE, [], [])


def test_ledger_renders_table_and_records():
    ledger = Ledger()
    ledger.add(TWO_STAGE, [0.90, 0.91, 0.92], [0.80, 0.80, 0.82])
    ledger.add(TWO_STAGE, [0.95], [0.50])
    df = ledger.to_frame()
    assert list(df.columns) == ["claim", "source", "metric", "A vs B", "effect [CI]", "n", "verdict"]
    assert df["verdict"].tolist() == [HOLDS, INCONCLUSIVE]
    assert df.loc[0, "A vs B"] == "FESR_JL: 0.910 ± 0.010 vs FESR_OneSt: 0.807 ± 0.012"
    assert df.loc[1, "effect [CI]"] == "+0.450 [undefined]"
    html = ledger._repr_html_()
    assert "<table" in html and HOLDS in html and "Sec. IV-D, Fig. 8" in html
    raw = ledger.to_frame(formatted=False)
    assert raw.loc[0, "effect"] == pytest.approx(0.1033333, abs=1e-6)
    assert ledger.to_records()[0]["values_a"] == [0.90, 0.91, 0.92]
    assert "HOLDS" in VERDICT_RULE and "DOES NOT HOLD" in VERDICT_RULE and "INCONCLUSIVE" in VERDICT_RULE
    assert Ledger().to_html().startswith("<p>")
