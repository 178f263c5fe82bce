"""The claims ledger: each headline claim of a paper, tested here, with an effect, an interval and a verdict.

A chapter states a :class:`Claim` ("the two-stage schedule beats one-stage training on
accuracy", Sec. IV-D, Fig. 8), runs both variants over paired replicates (folds × seeds,
or episodes × seeds) and hands the paired values to a :class:`Ledger`. The statistics:

- **Interval.** A Student-t interval on the paired differences. Over cross-validation
  folds the training sets overlap, so the plain variance underestimates the spread; the
  *corrected resampled t* of Nadeau & Bengio (2003) multiplies it by
  ``1/n + n_test/n_train`` instead of ``1/n`` (:class:`Replicates.folds`). Over
  independent runs (seeds, episodes) the plain paired t applies (:class:`Replicates.independent`).
- **Family.** A chapter's claims are one family: their p-values are adjusted with Holm's
  step-down method before a verdict is read from them.
- **No effect.** A claim may state a margin (e.g. ±1 accuracy point) within which a
  difference does not matter; when the whole interval lies inside it, the verdict is
  *no effect* (an equivalence test in the spirit of TOST), kept apart from *inconclusive*
  (the interval is too wide to say anything).
- **Power.** Each result carries the smallest effect this run could have detected (the
  interval's half-width), shown beside the effect the paper reports.

The rule the book prints (:func:`verdict_rule`) is generated from the same constants the
code applies.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Claim", "ClaimResult", "Replicates", "evaluate_claim", "holm", "Ledger", "verdict_rule", "VERDICT_RULE",
           "HOLDS", "DOES_NOT_HOLD", "NO_EFFECT", "INCONCLUSIVE", "ALPHA", "MIN_REPLICATES", "VERDICTS"]

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
NO_EFFECT = "no effect"
INCONCLUSIVE = "inconclusive"
VERDICTS = (HOLDS, DOES_NOT_HOLD, NO_EFFECT, INCONCLUSIVE)
#: Family-wise error rate of a chapter's claims (Holm), and 1 - coverage of each interval.
ALPHA = 0.05
#: The fewest paired replicates behind a verdict in the book's ledgers: with fewer, a claim is
#: inconclusive whatever its p-value (a chapter's own rule, applied by
#: :func:`fer_core.experiments.tables.ledger`; a bare :func:`evaluate_claim` needs two).
MIN_REPLICATES = 10


@dataclass(frozen=True)
class Claim:
    """One headline claim of a paper: ``better`` beats the other variant on ``metric``.

    Attributes:
        text: the claim in a sentence, e.g. "Two-stage training beats one-stage training".
        source: where the paper makes it, e.g. "Sec. IV-D, Fig. 8".
        metric: the metric compared, e.g. "accuracy".
        better: the variant the paper says wins; one of ``variant_a`` / ``variant_b``.
        variant_a, variant_b: the two variants compared, in the order their values are given.
        higher_is_better: False for metrics such as FID or error rates.
        margin: differences smaller than this (in the metric's units) do not matter; with it
            a narrow interval around zero reads *no effect*.
        expects: ``"effect"`` (the paper claims ``better`` wins) or ``"no effect"`` (the paper
            reports the two as similar; ``margin`` is then required).
        paper_effect: the paper's own difference, signed like :attr:`ClaimResult.effect`
            (``None`` where the paper gives no number).
    """

    text: str
    source: str
    metric: str
    better: str
    variant_a: str
    variant_b: str
    higher_is_better: bool = True
    margin: float | None = None
    expects: str = "effect"
    paper_effect: float | None = None

    def __post_init__(self) -> None:
        if self.variant_a == self.variant_b:
            raise ValueError(f"claim {self.text!r} compares {self.variant_a!r} with itself")
        if self.better not in (self.variant_a, self.variant_b):
            raise ValueError(f"claim {self.text!r}: better={self.better!r} must be variant_a={self.variant_a!r} "
                             f"or variant_b={self.variant_b!r}")
        if self.expects not in ("effect", "no effect"):
            raise ValueError(f"claim {self.text!r}: expects must be 'effect' or 'no effect', got {self.expects!r}")
        if self.margin is not None and not self.margin > 0:
            raise ValueError(f"claim {self.text!r}: margin must be > 0, got {self.margin!r}")
        if self.expects == "no effect" and self.margin is None:
            raise ValueError(f"claim {self.text!r} expects no effect and so needs the margin within which "
                             "a difference does not matter")

    @property
    def worse(self) -> str:
        return self.variant_b if self.better == self.variant_a else self.variant_a

    @property
    def sign(self) -> int:
        """+1 when a positive ``mean_a - mean_b`` supports the claim, else -1."""
        a_wins = self.better == self.variant_a
        return 1 if a_wins == self.higher_is_better else -1


@dataclass(frozen=True)
class Replicates:
    """How the paired values were obtained.

    ``kind="folds"``: cross-validation folds (possibly repeated over seeds), whose training sets
    overlap; ``test_train_ratio`` is ``n_test / n_train`` of one fold (the Nadeau-Bengio
    correction). ``kind="independent"``: independent runs (seeds, sampled episodes).
    """

    kind: str = "independent"
    test_train_ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("folds", "independent"):
            raise ValueError(f"Replicates.kind must be 'folds' or 'independent', got {self.kind!r}")
        if self.kind == "folds" and not self.test_train_ratio > 0:
            raise ValueError("Replicates of kind 'folds' need test_train_ratio = n_test / n_train > 0")

    @classmethod
    def folds(cls, n_test: float, n_train: float) -> "Replicates":
        if n_train <= 0 or n_test <= 0:
            raise ValueError(f"need n_test > 0 and n_train > 0, got {n_test}, {n_train}")
        return cls("folds", float(n_test) / float(n_train))

    @classmethod
    def independent(cls) -> "Replicates":
        return cls("independent")

    def variance_factor(self, n: int) -> float:
        """What multiplies the sample variance of the differences to give the squared standard error."""
        return 1.0 / n + (self.test_train_ratio if self.kind == "folds" else 0.0)

    def describe(self) -> str:
        if self.kind == "folds":
            return f"folds (corrected resampled t, n_test/n_train = {self.test_train_ratio:.3f})"
        return "independent runs (paired t)"


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of testing a :class:`Claim` (see :func:`verdict_rule`).

    ``effect`` = sign · mean(a − b), positive in the claimed direction; ``ci_low``/``ci_high``
    bound it (NaN when undefined); ``detectable`` is the interval's half-width (the smallest
    effect this run could tell from zero); ``p_value`` is two-sided, ``p_adjusted`` Holm-adjusted
    within the ledger's family (equal to ``p_value`` for a result on its own).
    """

    claim: Claim
    values_a: tuple[float, ...]
    values_b: tuple[float, ...]
    replicates: Replicates
    confidence: float
    n: int
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    effect: float
    ci_low: float
    ci_high: float
    detectable: float
    p_value: float
    p_adjusted: float
    verdict: str
    #: the fewest replicates the verdict's rule asked for (fewer: inconclusive)
    min_replicates: int = 2

    @property
    def too_few(self) -> bool:
        """Whether the run had fewer replicates than its rule needs to decide."""
        return self.n < self.min_replicates

    @property
    def agrees(self) -> bool | None:
        """Whether the verdict is what the paper claims (None when the run cannot say)."""
        if self.verdict == INCONCLUSIVE:
            return None
        if self.claim.expects == "no effect":
            return self.verdict == NO_EFFECT
        return self.verdict == HOLDS

    def as_record(self) -> dict:
        """Plain numbers and strings for the results store."""
        rec = {k: v for k, v in asdict(self).items() if k not in ("claim", "replicates")}
        rec.update(asdict(self.claim))
        rec["replicates"] = self.replicates.describe()
        rec["values_a"], rec["values_b"] = list(self.values_a), list(self.values_b)
        rec["agrees"] = self.agrees
        return rec


def _values(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty: run the variant on at least one seed or fold")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values {arr.tolist()}; a diverged run cannot back a verdict")
    return arr


def _std(x: np.ndarray) -> float:
    return float(x.std(ddof=1)) if x.size > 1 else math.nan


def _verdict(claim: Claim, effect: float, lo: float, hi: float, p_adjusted: float, alpha: float, *, n: int = 2,
             min_replicates: int = 2) -> str:
    if math.isnan(lo) or math.isnan(hi) or n < min_replicates:
        return INCONCLUSIVE
    if p_adjusted < alpha:
        return HOLDS if effect > 0 else DOES_NOT_HOLD
    if claim.margin is not None and -claim.margin < lo and hi < claim.margin:
        return NO_EFFECT
    return INCONCLUSIVE


def evaluate_claim(claim: Claim, values_a: Sequence[float], values_b: Sequence[float], *,
                   replicates: Replicates | None = None, confidence: float = 1 - ALPHA,
                   p_adjusted: float | None = None, min_replicates: int = 2) -> ClaimResult:
    """Test ``claim`` on paired values of its two variants.

    Args:
        claim: the claim.
        values_a, values_b: the metric of ``claim.variant_a`` and ``claim.variant_b``; the i-th
            values come from the same replicate (fold and seed, or episode and seed).
        replicates: how the pairs were obtained (default: independent runs).
        confidence: coverage of the interval, in (0, 1); ``1 - confidence`` is also the level
            the (adjusted) p-value is compared with.
        p_adjusted: the family-adjusted p-value to read the verdict from (a :class:`Ledger`
            passes Holm's); default the claim's own p-value.
        min_replicates: with fewer pairs the verdict is inconclusive, whatever the interval
            (the book's ledgers ask for :data:`MIN_REPLICATES`).

    Returns:
        A :class:`ClaimResult`. With fewer than two pairs the interval is NaN and the verdict
        inconclusive. When all differences are equal the interval shrinks to that value.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    replicates = replicates or Replicates.independent()
    a = _values(values_a, f"values of {claim.variant_a!r}")
    b = _values(values_b, f"values of {claim.variant_b!r}")
    if a.size != b.size:
        raise ValueError(f"a paired comparison needs one value per replicate for both variants; got {a.size} "
                         f"for {claim.variant_a!r} and {b.size} for {claim.variant_b!r}")
    n = a.size
    d = claim.sign * (a - b)
    effect = float(d.mean())
    lo = hi = half = p = math.nan
    if n >= 2:
        se = math.sqrt(d.var(ddof=1) * replicates.variance_factor(n))
        if se == 0.0:
            half, p = 0.0, (1.0 if effect == 0 else 0.0)
        else:
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * se)
            p = float(2 * stats.t.sf(abs(effect) / se, n - 1))
        lo, hi = effect - half, effect + half
    p_adj = p if p_adjusted is None else float(p_adjusted)
    return ClaimResult(
        claim=claim, values_a=tuple(a.tolist()), values_b=tuple(b.tolist()), replicates=replicates,
        confidence=confidence, n=int(n), mean_a=float(a.mean()), mean_b=float(b.mean()), std_a=_std(a),
        std_b=_std(b), effect=effect, ci_low=float(lo), ci_high=float(hi), detectable=float(half), p_value=float(p),
        p_adjusted=p_adj, min_replicates=int(min_replicates),
        verdict=_verdict(claim, effect, lo, hi, p_adj, 1 - confidence, n=int(n), min_replicates=int(min_replicates)),
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: ``p_(i) -> max_{j <= i} min(1, (m - j + 1) p_(j))`` in sorted order.

    NaN p-values (claims without an interval) are left out of the family and stay NaN.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    running = 0.0
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def verdict_rule(confidence: float = 1 - ALPHA, min_replicates: int = MIN_REPLICATES) -> str:
    """The verdict rule in words, built from the constants :func:`evaluate_claim` and :class:`Ledger` apply."""
    pct, alpha = f"{confidence:.0%}", 1 - confidence
    return (
        f"The effect is the mean over paired replicates of the difference between the two variants, signed so that "
        f"a positive effect is the direction the paper claims. Its {pct} interval is a Student-t interval on the "
        f"paired differences; over cross-validation folds the variance term is corrected for overlapping training "
        f"sets (Nadeau & Bengio's corrected resampled t: 1/n + n_test/n_train instead of 1/n), over independent "
        f"runs it is the plain paired t. A chapter's claims form one family: their two-sided p-values are adjusted "
        f"with Holm's method. A claim HOLDS when its adjusted p-value is below {alpha:g} and the effect is positive, "
        f"DOES NOT HOLD when it is below {alpha:g} and the effect is negative, shows NO EFFECT when it states a "
        f"margin and the whole interval lies inside ±margin, and is INCONCLUSIVE otherwise, and always with fewer "
        f"than {min_replicates} paired replicates, too few to decide. 'Detectable' is the interval's half-width: the smallest effect this run could "
        f"have told from zero."
    )


VERDICT_RULE = verdict_rule()


def _pm(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


_VERDICT_STYLE = {  # colour-blind-safe (seaborn "colorblind" blue / orange / green / grey); the text carries it too
    HOLDS: "background-color: #cfe3f3",
    DOES_NOT_HOLD: "background-color: #fbe0c4",
    NO_EFFECT: "background-color: #d5eedd",
    INCONCLUSIVE: "background-color: #e6e6e6",
}


@dataclass
class Ledger:
    """The claims of one chapter: one family, Holm-adjusted, with their verdicts.

    A claim with fewer than ``min_replicates`` paired replicates stays inconclusive (the book's
    rule: :data:`MIN_REPLICATES`).

    >>> ledger = Ledger(min_replicates=3)
    >>> claim = Claim("Two-stage beats one-stage", "Sec. IV-D", "accuracy", "FESR_JL", "FESR_JL", "FESR_OneSt")
    >>> ledger.add(claim, [0.81, 0.83, 0.80], [0.78, 0.79, 0.77]).verdict
    'holds'
    >>> Ledger().add(claim, [0.81, 0.83, 0.80], [0.78, 0.79, 0.77]).verdict
    'inconclusive'
    """

    confidence: float = 1 - ALPHA
    digits: int = 3
    min_replicates: int = MIN_REPLICATES
    _raw: list[ClaimResult] = field(default_factory=list, repr=False)

    def add(self, claim: Claim, values_a: Sequence[float], values_b: Sequence[float], *,
            replicates: Replicates | None = None) -> ClaimResult:
        """Evaluate ``claim`` and add it to the family; returns its result with the family's
        adjustment as it stands after this claim."""
        self._raw.append(evaluate_claim(claim, values_a, values_b, replicates=replicates,
                                        confidence=self.confidence, min_replicates=self.min_replicates))
        return self.results[-1]

    @property
    def results(self) -> list[ClaimResult]:
        """Every claim's result, verdicts read from Holm-adjusted p-values over the whole family."""
        adjusted = holm([r.p_value for r in self._raw])
        alpha = 1 - self.confidence
        return [replace(r, p_adjusted=p, verdict=_verdict(r.claim, r.effect, r.ci_low, r.ci_high, p, alpha, n=r.n,
                                                          min_replicates=r.min_replicates))
                for r, p in zip(self._raw, adjusted)]

    def __len__(self) -> int:
        return len(self._raw)

    def to_records(self) -> list[dict]:
        return [r.as_record() for r in self.results]

    def counts(self) -> dict[str, int]:
        """How many claims got each verdict."""
        got = [r.verdict for r in self.results]
        return {v: got.count(v) for v in VERDICTS}

    def to_frame(self, *, formatted: bool = True) -> pd.DataFrame:
        """One row per claim.

        ``formatted=True`` gives the table the book prints (claim, source, metric, "A vs B" as
        ``mean ± std``, effect [interval], detectable effect, the paper's effect, n, adjusted p,
        verdict); ``formatted=False`` the raw numbers.
        """
        if not formatted:
            return pd.DataFrame(self.to_records())
        k = self.digits
        rows = []
        for r in self.results:
            c = r.claim
            ci = "[undefined]" if math.isnan(r.ci_low) else f"[{r.ci_low:+.{k}f}, {r.ci_high:+.{k}f}]"
            claimed = "no effect" + (f" (±{c.margin:g})" if c.margin else "") if c.expects == "no effect" else \
                f"{c.better} better" + (f" (margin ±{c.margin:g})" if c.margin else "")
            rows.append({
                "claim": c.text,
                "source": c.source,
                "paper claims": claimed,
                "metric": c.metric + ("" if c.higher_is_better else " (lower is better)"),
                "A vs B": f"{c.variant_a}: {_pm(r.mean_a, r.std_a, k)} vs {c.variant_b}: {_pm(r.mean_b, r.std_b, k)}",
                "effect [interval]": f"{r.effect:+.{k}f} {ci}",
                "detectable": "–" if math.isnan(r.detectable) else f"{r.detectable:.{k}f}",
                "paper's effect": "–" if c.paper_effect is None else f"{c.paper_effect:+.{k}f}",
                "n": r.n,
                "p (Holm)": "–" if math.isnan(r.p_adjusted) else f"{r.p_adjusted:.3g}",
                "verdict": r.verdict,
            })
        cols = ["claim", "source", "paper claims", "metric", "A vs B", "effect [interval]", "detectable",
                "paper's effect", "n", "p (Holm)", "verdict"]
        return pd.DataFrame(rows, columns=cols)

    def to_html(self) -> str:
        """The formatted table as HTML, verdict cells shaded (the verdict is also written out)."""
        df = self.to_frame()
        if df.empty:
            return "<p><em>No claims evaluated.</em></p>"
        styler = df.style.hide(axis="index")
        styler = styler.map(lambda v: _VERDICT_STYLE.get(v, ""), subset=["verdict"])
        styler = styler.set_table_styles([{"selector": "td, th", "props": "text-align: left; padding: 2px 8px;"}])
        return styler.to_html()

    def _repr_html_(self) -> str:
        """The table followed by the verdict rule that decided it (what a notebook shows)."""
        return self.to_html() + self.rule_html()

    def rule_html(self) -> str:
        """The verdict rule as a paragraph, for printing under the table."""
        return f"<p><strong>Verdict rule.</strong> {html.escape(verdict_rule(self.confidence, self.min_replicates))}</p>"
