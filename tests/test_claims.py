"""The claims ledger: intervals (plain and corrected paired t), Holm's adjustment, the no-effect margin,
checked against hand-computed cases and scipy."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from fer_core.claims import (ALPHA, DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, MIN_REPLICATES, NO_EFFECT, VERDICT_RULE,
                             Claim, Ledger, Replicates, evaluate_claim, holm, verdict_rule)

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
    assert r.detectable == pytest.approx(half, abs=1e-6)
    test = stats.ttest_rel(a, b)
    assert (r.ci_low, r.ci_high) == pytest.approx(tuple(test.confidence_interval(0.95)), rel=1e-9)
    assert r.p_value == pytest.approx(test.pvalue, rel=1e-9)
    assert r.n == 4 and r.mean_a == pytest.approx(0.815) and r.mean_b == pytest.approx(0.775)
    assert r.verdict == HOLDS


def test_corrected_resampled_t_widens_the_interval_by_the_test_train_ratio():
    # Nadeau & Bengio: se^2 = s^2 (1/n + n_test/n_train). Differences 0.05, 0.04, 0.05, 0.02 over 4 folds of
    # a 10-fold-like split (n_test/n_train = 1/9): se = sqrt(0.0002 * (1/4 + 1/9)).
    a, b = [0.80, 0.82, 0.85, 0.79], [0.75, 0.78, 0.80, 0.77]
    folds = Replicates.folds(n_test=10, n_train=90)
    r = evaluate_claim(TWO_STAGE, a, b, replicates=folds)
    se = math.sqrt(0.0002 * (1 / 4 + 1 / 9))
    assert r.detectable == pytest.approx(3.182446 * se, abs=1e-6)
    assert r.p_value == pytest.approx(2 * stats.t.sf(0.04 / se, 3), rel=1e-9)
    plain = evaluate_claim(TWO_STAGE, a, b)
    assert r.detectable > plain.detectable and r.p_value > plain.p_value
    assert "corrected resampled t" in folds.describe()
    with pytest.raises(ValueError, match="n_test > 0 and n_train > 0"):
        Replicates.folds(0, 10)


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 (m = 3): 0.03, max(0.03, 0.04) = 0.04, max(0.04, 0.04) = 0.04
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.3]) == pytest.approx([0.6, 0.6])
    out = holm([0.01, float("nan"), 0.04])  # NaN (no interval) is left out of the family
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)


def test_a_claim_significant_alone_can_be_inconclusive_in_its_family():
    a, b = [0.80, 0.82, 0.85, 0.79], [0.77, 0.80, 0.82, 0.74]  # p about 0.011 on its own
    alone = evaluate_claim(TWO_STAGE, a, b)
    assert alone.p_value < ALPHA and alone.verdict == HOLDS
    ledger = Ledger(min_replicates=2)
    ledger.add(TWO_STAGE, a, b)
    for _ in range(4):  # four null claims join the family
        ledger.add(TWO_STAGE, [0.8, 0.7, 0.9, 0.6], [0.7, 0.8, 0.6, 0.9])
    first = ledger.results[0]
    assert first.p_adjusted == pytest.approx(min(1.0, 5 * alone.p_value)) and first.verdict == INCONCLUSIVE
    assert ledger.counts()[INCONCLUSIVE] == 5


def test_no_effect_needs_the_whole_interval_inside_the_margin():
    similar = Claim("New identities are as good as same identities", "Sec. IV-D-4", "accuracy", "A", "A", "B",
                    margin=0.02, expects="no effect")
    tight = evaluate_claim(similar, [0.801, 0.799, 0.802, 0.800], [0.800, 0.800, 0.800, 0.801])
    assert -0.02 < tight.ci_low and tight.ci_high < 0.02 and tight.verdict == NO_EFFECT and tight.agrees is True
    wide = evaluate_claim(similar, [0.85, 0.75, 0.82, 0.78], [0.80, 0.80, 0.80, 0.80])
    assert wide.ci_high > 0.02 and wide.verdict == INCONCLUSIVE and wide.agrees is None
    differs = evaluate_claim(similar, [0.90, 0.91, 0.92], [0.80, 0.80, 0.82])
    assert differs.verdict == HOLDS and differs.agrees is False
    with pytest.raises(ValueError, match="needs the margin"):
        Claim("x", "y", "accuracy", "A", "A", "B", expects="no effect")


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
        assert r.ci_low > 0 and r.agrees is True
    elif verdict == DOES_NOT_HOLD:
        assert r.ci_high < 0 and r.effect < 0 and r.agrees is False
    else:
        assert r.ci_low <= 0 <= r.ci_high


def test_single_replicate_is_inconclusive_with_undefined_interval():
    r = evaluate_claim(TWO_STAGE, [0.95], [0.50])
    assert r.effect == pytest.approx(0.45)
    assert math.isnan(r.ci_low) and math.isnan(r.ci_high) and math.isnan(r.detectable)
    assert r.verdict == INCONCLUSIVE


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
    assert r.ci_low == pytest.approx(0.1) and r.ci_high == pytest.approx(0.1) and r.p_value < 1e-12
    assert r.verdict == HOLDS


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="must be variant_a"):
        Claim("x", "y", "accuracy", better="C", variant_a="A", variant_b="B")
    with pytest.raises(ValueError, match="with itself"):
        Claim("x", "y", "accuracy", better="A", variant_a="A", variant_b="A")
    with pytest.raises(ValueError, match="one value per replicate"):
        evaluate_claim(TWO_STAGE, [0.8, 0.9], [0.7])
    with pytest.raises(ValueError, match="non-finite"):
        evaluate_claim(TWO_STAGE, [0.8, float("nan")], [0.7, 0.6])
    with pytest.raises(ValueError, match="empty"):
        evaluate_claim(TWO_STAGE, [], [])


def test_ledger_renders_table_and_records():
    ledger = Ledger(min_replicates=2)
    ledger.add(TWO_STAGE, [0.90, 0.91, 0.92], [0.80, 0.80, 0.82])
    ledger.add(Claim("x", "Table 2", "accuracy", "A", "A", "B", paper_effect=0.021), [0.95], [0.50])
    df = ledger.to_frame()
    assert df["verdict"].tolist() == [HOLDS, INCONCLUSIVE]
    assert df.loc[0, "A vs B"] == "FESR_JL: 0.910 ± 0.010 vs FESR_OneSt: 0.807 ± 0.012"
    assert df.loc[1, "effect [interval]"] == "+0.450 [undefined]" and df.loc[1, "paper's effect"] == "+0.021"
    html = ledger._repr_html_()
    assert "<table" in html and HOLDS in html and "Sec. IV-D, Fig. 8" in html
    assert ledger.to_records()[0]["values_a"] == [0.90, 0.91, 0.92]
    assert Ledger().to_html().startswith("<p>")


def test_a_shown_ledger_carries_the_rule_that_decided_it():
    ledger = Ledger(confidence=0.9, min_replicates=2)
    ledger.add(TWO_STAGE, [0.90, 0.91, 0.92], [0.80, 0.80, 0.82])
    shown = ledger._repr_html_()
    assert shown.endswith(ledger.rule_html()) and "<table" in shown and TWO_STAGE.text in shown
    assert "90% interval" in shown and "90% interval" not in ledger.to_html()


def test_the_printed_rule_follows_the_confidence_the_code_uses():
    assert "95% interval" in VERDICT_RULE and "below 0.05" in VERDICT_RULE and "Holm" in VERDICT_RULE
    assert "90% interval" in verdict_rule(0.9) and "below 0.1 " in verdict_rule(0.9)
    assert Ledger(confidence=0.9).rule_html().count("90%") == 1


def test_closing_note_sentences_follow_the_verdict():
    from fer_core.notes import claim_notes, explain, gates_note

    holds = evaluate_claim(TWO_STAGE, [0.90, 0.91, 0.92], [0.80, 0.80, 0.82])
    assert explain(holds, unit="folds") == ("it goes the claimed way on 3 of 3 folds, and the effect is significant "
                                            "after Holm's adjustment.")
    against = evaluate_claim(TWO_STAGE, [0.70, 0.71, 0.72], [0.80, 0.82, 0.81])
    assert explain(against, unit="folds").startswith("it goes the claimed way on 0 of 3 folds; the effect goes "
                                                     "significantly the other way")
    mixed = evaluate_claim(TWO_STAGE, [0.80, 0.85, 0.78], [0.82, 0.79, 0.81])
    assert "2 of 3" not in explain(mixed) and "1 of 3 paired replicates" in explain(mixed)
    assert f"±{mixed.detectable:.3f}" in explain(mixed)
    one = evaluate_claim(TWO_STAGE, [0.8], [0.7], min_replicates=10)
    assert explain(one, unit="episodes") == ("1 paired value (episodes; the book's rule needs 10), so no interval can "
                                             "be formed.")
    few = evaluate_claim(TWO_STAGE, [0.90, 0.91, 0.92], [0.80, 0.80, 0.82], min_replicates=10)
    assert few.verdict == INCONCLUSIVE and few.too_few
    assert explain(few).endswith("fewer than the 10 paired replicates the book's rule needs to decide (effect +0.103, "
                                 f"this run could detect about ±{few.detectable:.3f}).")

    ledger = Ledger()
    paper = Claim("Two-stage beats one-stage", "Fig. 8", "accuracy", "A", "A", "B", paper_effect=0.001)
    ledger.add(paper, [0.80, 0.85, 0.78], [0.82, 0.79, 0.81])
    (line,) = claim_notes(ledger)
    assert line.startswith("- **Two-stage beats one-stage** (Fig. 8): not resolved here (inconclusive). A 0.810 vs "
                           "B 0.807 (accuracy);")
    assert "paper's own difference is +0.001; smaller than the" in line

    gates = pd.DataFrame({"this run": ["40%", "90%"], "target": [">= 50%", ">= 70%"], "passes": [False, True]},
                         index=["plain recogniser", "judge"])
    assert gates_note(gates, consequence="So there.") == ("- **The checks before the claims.** Not met: plain "
                                                          "recogniser (40% against >= 50%). So there.")
    assert gates_note(gates[gates.passes]).endswith("All pass.")


def test_a_book_ledger_needs_ten_replicates_to_decide():
    assert MIN_REPLICATES == 10 and Ledger().min_replicates == MIN_REPLICATES
    nine = [0.80 + 0.01 * i for i in range(9)]
    ledger = Ledger()
    r9 = ledger.add(TWO_STAGE, [v + 0.1 for v in nine], nine)
    assert r9.p_value < 1e-6 and r9.verdict == INCONCLUSIVE and r9.too_few  # clear, but only 9 replicates
    ten = [*nine, 0.9]
    r10 = ledger.add(TWO_STAGE, [v + 0.1 for v in ten], ten)
    assert r10.verdict == HOLDS and not r10.too_few
    assert "fewer than 10 paired replicates" in VERDICT_RULE and "fewer than 4 paired" in verdict_rule(0.95, 4)
    assert "fewer than 10 paired replicates" in Ledger().rule_html()
