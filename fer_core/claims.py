"""The claims ledger: each headline claim of a paper, tested here, with an effect size and a verdict.

A chapter states a :class:`Claim` ("the two-stage schedule beats one-stage training on
accuracy", Sec. IV-D, Fig. 8), runs both variants over several seeds or folds, and
hands the per-seed values to :func:`evaluate_claim`. The verdict follows one rule,
:data:`VERDICT_RULE`, which the book prints next to the table; a :class:`Ledger`
collects the results and renders them.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Claim", "ClaimResult", "evaluate_claim", "Ledger", "VERDICT_RULE", "HOLDS", "DOES_NOT_HOLD",
           "INCONCLUSIVE"]

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
INCONCLUSIVE = "inconclusive"

VERDICT_RULE = (
    "The effect is the difference of the mean metric of the two variants, signed so that a "
    "positive effect is the direction the paper claims. Its confidence interval (95% unless "
    "stated) is a Student-t interval: on the per-seed/fold differences when the runs are paired "
    "(same seeds or folds for both variants), Welch's otherwise. The claim HOLDS if the whole "
    "interval lies above 0, DOES NOT HOLD if the whole interval lies below 0 (the effect goes the "
    "other way), and is INCONCLUSIVE otherwise, including when there are fewer than two values "
    "per variant and no interval can be formed."
)


@dataclass(frozen=True)
class Claim:
    """One headline claim of a paper: ``better`` beats the other variant on ``metric``.

    Attributes:
        text: the claim in a sentence, e.g. "Two-stage training beats one-stage training".
        source: where the paper makes it, e.g. "Sec. IV-D, Fig. 8".
        metric: the metric compared, e.g. "accuracy".
        better: the variant the paper says wins; one of ``variant_a`` / ``variant_b``.
        variant_a, variant_b: the two variants compared; :func:`evaluate_claim` takes their
            values in this order.
        higher_is_better: False for metrics such as FID or error rates.
    """

    text: str
    source: str
    metric: str
    better: str
    variant_a: str
    variant_b: str
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.variant_a == self.variant_b:
            raise ValueError(f"claim {self.text!r} compares {self.variant_a!r} with itself")
        if self.better not in (self.variant_a, self.variant_b):
            raise ValueError(f"claim {self.text!r}: better={self.better!r} must be variant_a={self.variant_a!r} "
                             f"or variant_b={self.variant_b!r}")

    @property
    def worse(self) -> str:
        return self.variant_b if self.better == self.variant_a else self.variant_a

    @property
    def sign(self) -> int:
        """+1 when a positive ``mean_a - mean_b`` supports the claim, else -1."""
        a_wins = self.better == self.variant_a
        return 1 if a_wins == self.higher_is_better else -1


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of testing a :class:`Claim` (see :data:`VERDICT_RULE`).

    ``effect`` = sign · (mean_a − mean_b), positive in the claimed direction; ``ci_low`` and
    ``ci_high`` bound it (NaN when undefined). ``n`` is the number of pairs when paired,
    else the smaller group size.
    """

    claim: Claim
    values_a: tuple[float, ...]
    values_b: tuple[float, ...]
    paired: bool
    confidence: float
    n: int
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    effect: float
    ci_low: float
    ci_high: float
    verdict: str

    def as_record(self) -> dict:
        """Plain numbers and strings for the results JSON."""
        rec = {k: v for k, v in asdict(self).items() if k != "claim"}
        rec.update(asdict(self.claim))
        rec["values_a"], rec["values_b"] = list(self.values_a), list(self.values_b)
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


def _verdict(lo: float, hi: float) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return INCONCLUSIVE
    if lo > 0:
        return HOLDS
    if hi < 0:
        return DOES_NOT_HOLD
    return INCONCLUSIVE


def evaluate_claim(claim: Claim, values_a: Sequence[float], values_b: Sequence[float], *, paired: bool = True,
                   confidence: float = 0.95) -> ClaimResult:
    """Test ``claim`` on per-seed/fold values of its two variants.

    Args:
        claim: the claim.
        values_a, values_b: the metric of ``claim.variant_a`` and ``claim.variant_b``, one value
            per seed or fold; when ``paired`` the i-th values must come from the same seed/fold.
        paired: Student-t interval on the paired differences (needs equal lengths); otherwise
            Welch's interval on two independent samples.
        confidence: coverage of the interval, in (0, 1).

    Returns:
        A :class:`ClaimResult` whose verdict follows :data:`VERDICT_RULE`. With fewer than two
        values (per variant, or pairs) the interval is NaN and the verdict inconclusive. When
        all paired differences are equal the interval shrinks to that value.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    a = _values(values_a, f"values of {claim.variant_a!r}")
    b = _values(values_b, f"values of {claim.variant_b!r}")
    s = claim.sign
    q = 0.5 + confidence / 2
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired comparison needs one value per seed/fold for both variants; got {a.size} "
                             f"for {claim.variant_a!r} and {b.size} for {claim.variant_b!r} (or pass paired=False)")
        n = a.size
        d = s * (a - b)
        effect = float(d.mean())
        if n < 2:
            lo = hi = math.nan
        else:
            half = stats.t.ppf(q, n - 1) * d.std(ddof=1) / math.sqrt(n)
            lo, hi = effect - half, effect + half
    else:
        n = min(a.size, b.size)
        effect = float(s * (a.mean() - b.mean()))
        if n < 2:
            lo = hi = math.nan
        else:
            va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
            se = math.sqrt(va + vb)
            if se == 0.0:
                lo = hi = effect
            else:
                df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
                half = stats.t.ppf(q, df) * se
                lo, hi = effect - half, effect + half
    return ClaimResult(
        claim=claim, values_a=tuple(a.tolist()), values_b=tuple(b.tolist()), paired=paired, confidence=confidence,
        n=int(n), mean_a=float(a.mean()), mean_b=float(b.mean()), std_a=_std(a), std_b=_std(b),
        effect=effect, ci_low=float(lo), ci_high=float(hi), verdict=_verdict(float(lo), float(hi)),
    )


def _pm(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


_VERDICT_STYLE = {  # colour-blind-safe (seaborn "colorblind" blue / orange / grey); the text carries it too
    HOLDS: "background-color: #cfe3f3",
    DOES_NOT_HOLD: "background-color: #fbe0c4",
    INCONCLUSIVE: "background-color: #e6e6e6",
}


@dataclass
class Ledger:
    """The claims of one chapter and their verdicts.

    >>> ledger = Ledger()
    >>> claim = Claim("Two-stage beats one-stage", "Sec. IV-D", "accuracy", "FESR_JL", "FESR_JL", "FESR_OneSt")
    >>> ledger.add(claim, [0.81, 0.83, 0.80], [0.78, 0.79, 0.77]).verdict
    'holds'
    """

    results: list[ClaimResult] = field(default_factory=list)
    digits: int = 3

    def add(self, claim: Claim, values_a: Sequence[float], values_b: Sequence[float], *, paired: bool = True,
            confidence: float = 0.95) -> ClaimResult:
        """Evaluate ``claim`` (see :func:`evaluate_claim`), record and return the result."""
        result = evaluate_claim(claim, values_a, values_b, paired=paired, confidence=confidence)
        self.results.append(result)
        return result

    def append(self, result: ClaimResult) -> None:
        self.results.append(result)

    def __len__(self) -> int:
        return len(self.results)

    def to_records(self) -> list[dict]:
        return [r.as_record() for r in self.results]

    def to_frame(self, *, formatted: bool = True) -> pd.DataFrame:
        """One row per claim.

        ``formatted=True`` gives the table the book prints (claim, source, metric,
        "A vs B" as ``mean ± std``, effect [CI], n, verdict); ``formatted=False`` the raw numbers.
        """
        if not formatted:
            return pd.DataFrame(self.to_records())
        k = self.digits
        rows = []
        for r in self.results:
            c = r.claim
            ci = "[undefined]" if math.isnan(r.ci_low) else f"[{r.ci_low:+.{k}f}, {r.ci_high:+.{k}f}]"
            rows.append({
                "claim": c.text,
                "source": c.source,
                "metric": c.metric + ("" if c.higher_is_better else " (lower is better)"),
                "A vs B": f"{c.variant_a}: {_pm(r.mean_a, r.std_a, k)} vs {c.variant_b}: {_pm(r.mean_b, r.std_b, k)}",
                "effect [CI]": f"{r.effect:+.{k}f} {ci}" + ("" if r.confidence == 0.95 else f" ({r.confidence:.0%})"),
                "n": r.n if r.paired else f"{len(r.values_a)}/{len(r.values_b)}",
                "verdict": r.verdict,
            })
        cols = ["claim", "source", "metric", "A vs B", "effect [CI]", "n", "verdict"]
        return pd.DataFrame(rows) if rows else pd.DataFrame(columns=cols)

    def to_html(self) -> str:
        """The formatted table as HTML, verdict cells shaded (the verdict is also written out)."""
        df = self.to_frame()
        if df.empty:
            return "<p><em>No claims evaluated.</em></p>"
        try:
            styler = df.style.hide(axis="index")
        except ImportError:  # pandas' Styler needs jinja2
            return df.to_html(index=False)
        styler = styler.map(lambda v: _VERDICT_STYLE.get(v, ""), subset=["verdict"])
        styler = styler.set_table_styles([{"selector": "td, th", "props": "text-align: left; padding: 2px 8px;"}])
        return styler.to_html()

    def _repr_html_(self) -> str:
        return self.to_html()

    def rule_html(self) -> str:
        """The verdict rule as a paragraph, for printing under the table."""
        return f"<p><strong>Verdict rule.</strong> {html.escape(VERDICT_RULE)}</p>"
