"""Closing-note sentences built from a chapter's own results (prose only: never changes a result).

Every paper chapter ends with notes that say, from the run's numbers, whether its checks passed
and why each claim's verdict came out as it did. The sentences are the same for every chapter,
so they live here once.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fer_core.claims import ClaimResult, Ledger

__all__ = ["explain", "claim_notes", "gates_note"]

_STATUS = {True: "matched", False: "contradicted", None: "not resolved"}


def explain(r: ClaimResult, *, unit: str = "paired replicates") -> str:
    """One sentence on why ``r``'s verdict came out as it did, from the result's own numbers.

    ``unit`` names the replicates ("paired folds/seeds", "episodes x seeds").
    """
    if math.isnan(r.ci_low):
        return (f"{r.n} paired value{'' if r.n == 1 else 's'} ({unit}; the book's rule needs {r.min_replicates}), "
                "so no interval can be formed.")
    d = np.asarray(r.values_a) - np.asarray(r.values_b)
    way = f"it goes the claimed way on {int((r.claim.sign * d > 0).sum())} of {r.n} {unit}"
    if r.too_few:
        return (f"{way}, fewer than the {r.min_replicates} paired replicates the book's rule needs to decide "
                f"(effect {r.effect:+.3f}, this run could detect about ±{r.detectable:.3f}).")
    if r.verdict == "holds":
        return f"{way}, and the effect is significant after Holm's adjustment."
    if r.verdict == "does not hold":
        return f"{way}; the effect goes significantly the other way."
    if r.verdict == "no effect":
        return f"{way}; the whole interval lies within the claim's margin of ±{r.claim.margin:g}."
    if r.detectable == 0 and r.effect == 0:
        return "both variants score exactly the same on every replicate."
    return (f"{way}; the effect ({r.effect:+.3f}) is not significant after Holm's adjustment "
            f"(this run could detect about ±{r.detectable:.3f}).")


def claim_notes(ledger: Ledger, *, unit: str = "paired replicates") -> list[str]:
    """One Markdown bullet per claim of ``ledger``: verdict, both means, why, and whether the
    paper's own difference was within what this run could detect."""
    lines = []
    for r in ledger.results:
        c = r.claim
        line = (f"- **{c.text}** ({c.source}): {_STATUS[r.agrees]} here ({r.verdict}). {c.variant_a} "
                f"{r.mean_a:.3f} vs {c.variant_b} {r.mean_b:.3f} ({c.metric}); {explain(r, unit=unit)}")
        if c.paper_effect is not None and not math.isnan(r.detectable):
            line += (f" The paper's own difference is {c.paper_effect:+.3f}; "
                     + ("this run could have detected it." if abs(c.paper_effect) >= r.detectable
                        else f"smaller than the ±{r.detectable:.3f} this run could detect."))
        lines.append(line)
    return lines


def gates_note(gates: pd.DataFrame, *, consequence: str = "The claims that rest on them compare recognisers "
               "or generators that have not reached that level.") -> str:
    """The "checks before the claims" bullet from a gates table (index: check; columns ``this run``,
    ``target``, ``passes``)."""
    failed = [c for c, row in gates.iterrows() if not row["passes"]]
    if not failed:
        return "- **The checks before the claims.** All pass."
    return ("- **The checks before the claims.** Not met: "
            + "; ".join(f"{c} ({gates.loc[c, 'this run']} against {gates.loc[c, 'target']})" for c in failed)
            + ". " + consequence)
