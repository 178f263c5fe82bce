"""The tables every chapter prints, from long-format results (one row per variant × fold × seed).

- :func:`summary`: ``mean ± std`` per variant, in a given order, with the replicate count;
- :func:`per_replicate`: the values per fold and seed (a pivot a reader can check by eye);
- :func:`paper_vs_run`: "paper reports / this run" rows into a table;
- :func:`ledger`: claims paired over (fold, seed), with the replicate design for the interval,
  and the per-replicate values behind each claim; :func:`replicate_values` prints those;
- :func:`switches`: what each variant of a chapter changes, one row per variant.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from fer_core import metrics
from fer_core.claims import Claim, Ledger, Replicates

__all__ = ["summary", "per_replicate", "paper_vs_run", "paired", "ledger", "replicate_values", "switches",
           "fold_ratio", "PAIR_ON"]

#: The columns that identify a replicate: claims pair two variants on them.
PAIR_ON = ("fold", "seed")


def _order(df: pd.DataFrame, by: str, order: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(df[by].tolist()))
    return [v for v in order if v in present] if order is not None else present


def summary(df: pd.DataFrame, value: str, *, by: str = "variant", order: Sequence[str] | None = None,
            scale: float = 1.0, digits: int = 2, name: str | None = None) -> pd.DataFrame:
    """``mean ± std`` of ``value`` per ``by`` (over folds and seeds), with ``n``; rows in ``order``."""
    rows = []
    for v in _order(df, by, order):
        vals = df.loc[df[by] == v, value].dropna()
        rows.append({by: v, name or value: metrics.mean_std(vals.tolist(), scale=scale, digits=digits),
                     "n": int(len(vals))})
    return pd.DataFrame(rows, columns=[by, name or value, "n"]).set_index(by)


def per_replicate(df: pd.DataFrame, value: str, *, by: str = "variant", order: Sequence[str] | None = None,
                  on: Sequence[str] = PAIR_ON) -> pd.DataFrame:
    """``value`` per ``by`` (rows) and replicate (columns ``on``)."""
    table = df.pivot_table(index=by, columns=list(on), values=value)
    return table.loc[_order(df, by, order)]


def paper_vs_run(rows: Iterable[Mapping[str, Any]], *, paper: str, run: str) -> pd.DataFrame:
    """Rows of ``{"table", "row", "paper", "this run"}`` as the chapter's comparison table, the two
    value columns named ``paper`` and ``run`` (e.g. ``"paper (CK+)"``, ``"this run (synthetic, small)"``)."""
    out = pd.DataFrame(list(rows), columns=["table", "row", "paper", "this run"])
    return out.rename(columns={"paper": paper, "this run": run}).set_index(["table", "row"])


def paired(df: pd.DataFrame, a: str, b: str, value: str, *, by: str = "variant",
           on: Sequence[str] = PAIR_ON) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """The values of variants ``a`` and ``b`` on the replicates both have (NaN dropped), aligned."""
    va = df[df[by] == a].dropna(subset=[value]).set_index(list(on))[value]
    vb = df[df[by] == b].dropna(subset=[value]).set_index(list(on))[value]
    both = [i for i in va.index if i in set(vb.index)]
    return va.loc[both].to_numpy(dtype=float), vb.loc[both].to_numpy(dtype=float), both


def ledger(df: pd.DataFrame, claims: Sequence[tuple[Claim, str]], *, replicates: Replicates,
           by: str = "variant", on: Sequence[str] = PAIR_ON) -> tuple[Ledger, pd.DataFrame]:
    """The chapter's ledger and the per-replicate values behind it.

    Args:
        df: long-format values, one row per (``by``, replicate), a column per metric.
        claims: ``(claim, metric column)`` pairs; a claim compares ``claim.variant_a`` with
            ``claim.variant_b`` on the replicates both ran.
        replicates: how the replicates were obtained (folds: the corrected interval).
    """
    book, rows = Ledger(), []
    for claim, column in claims:
        a, b, index = paired(df, claim.variant_a, claim.variant_b, column, by=by, on=on)
        if not len(a):
            raise ValueError(f"claim {claim.text!r}: no replicate has both {claim.variant_a} and "
                             f"{claim.variant_b} measured on {column!r}; check the chapter's plan")
        book.add(claim, a, b, replicates=replicates)
        for i, (x, y) in zip(index, zip(a, b)):
            key = dict(zip(on, i if isinstance(i, tuple) else (i,)))
            rows.append({"claim": claim.text, **key, "A": claim.variant_a, "value A": x,
                         "B": claim.variant_b, "value B": y})
    return book, pd.DataFrame(rows)


def replicate_values(per_replicate: pd.DataFrame, *, on: Sequence[str] = PAIR_ON, digits: int = 3):
    """The values behind a ledger (the second frame :func:`ledger` returns), indexed by claim and
    replicate, formatted to ``digits`` places: the numbers a reader can pair by hand."""
    fmt = f"{{:.{digits}f}}"
    return per_replicate.set_index(["claim", *on]).style.format({"value A": fmt, "value B": fmt})


def switches(variants: Mapping[str, Mapping[str, Any]], *, none: str = "(the method)") -> pd.DataFrame:
    """One row per variant: the options it changes (``name=value, ...``), ``none`` where it changes nothing."""
    rows = [{"variant": v, "changes": ", ".join(f"{k}={x}" for k, x in sw.items()) or none}
            for v, sw in variants.items()]
    return pd.DataFrame(rows, columns=["variant", "changes"]).set_index("variant")


def fold_ratio(splits: Sequence[Any]) -> Replicates:
    """The replicate design of cross-validation over ``splits``: mean test and train sizes."""
    n_test = float(np.mean([len(s.test) for s in splits]))
    n_train = float(np.mean([len(s.train) for s in splits]))
    if math.isnan(n_test) or n_train == 0:
        raise ValueError("fold_ratio needs at least one split with training rows")
    return Replicates.folds(n_test, n_train)

