"""The book's reproducibility report: every claim of every chapter, read from stored results.

Each paper chapter decides its claims with a :class:`~fer_core.claims.Ledger` (its study's
``ledger()``). This module rebuilds each chapter's study for the same profile, data and seed in
*stored-only* mode (``Study(stored_only=True)``), so it never trains: a result the chapter did
not store, or stored with other ``fer_core`` code, stops the report with
:class:`~fer_core.experiments.MissingResultError` naming the chapter and the command that
computes it.

>>> table = collect("small")                       # doctest: +SKIP
>>> verdict_counts(table)                          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from fer_core.claims import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, NO_EFFECT, VERDICTS, Ledger
from fer_core.experiments import Study, studies

__all__ = ["chapter_studies", "chapter_claims", "collect", "verdict_counts", "summary", "verdict_plot",
           "formatted"]

#: Verdict colours (seaborn "colorblind": blue, orange, green, grey), as in the chapters' ledgers.
VERDICT_COLOURS = {HOLDS: "#0173b2", DOES_NOT_HOLD: "#de8f05", NO_EFFECT: "#029e73", INCONCLUSIVE: "#949494"}


def chapter_studies(names: Iterable[str]) -> list[tuple[str, type[Study]]]:
    """``(chapter, Study subclass)`` for every chapter in ``names`` (book order) whose paper package
    ``fer_core.methods.<chapter>`` has an experiments module with a study that keeps a claims ledger."""
    out = []
    for name in names:
        try:
            importlib.import_module(f"fer_core.methods.{name}.experiments")
        except ModuleNotFoundError as err:
            if err.name not in (f"fer_core.methods.{name}", f"fer_core.methods.{name}.experiments"):
                raise
            continue
        cls = studies().get(name)
        if cls is not None and callable(getattr(cls, "ledger", None)):
            out.append((name, cls))
    return out


def _ledger_of(study: Study) -> Ledger:
    got = study.ledger()
    ledger = got[0] if isinstance(got, tuple) else got
    if not isinstance(ledger, Ledger):
        raise TypeError(f"{type(study).__name__}.ledger() must return a Ledger (or (Ledger, table)), got {type(got)}")
    return ledger


def chapter_claims(chapter: str, study_cls: type[Study], P: Mapping[str, Any], *, seed: int = 0,
                   dataset: str = "synthetic", data_root: str | Path | None = None) -> pd.DataFrame:
    """One row per claim of ``chapter``: its ledger recomputed from the results the chapter stored
    (profile ``P``, ``dataset``, ``seed``), never from new training."""
    data = study_cls.build_data(P, dataset=dataset, data_root=data_root, seed=seed)
    study = study_cls(P, data, seed=seed, device="cpu", progress=False, stored_only=True)
    rows = []
    for r in _ledger_of(study).results:
        c = r.claim
        rows.append({"chapter": chapter, "claim": c.text, "source": c.source,
                     "metric": c.metric + ("" if c.higher_is_better else " (lower is better)"),
                     "compared": f"{c.better} vs {c.variant_b if c.better == c.variant_a else c.variant_a}",
                     "paper's effect": math.nan if c.paper_effect is None else float(c.paper_effect),
                     "effect": r.effect, "ci_low": r.ci_low, "ci_high": r.ci_high, "detectable": r.detectable,
                     "n": r.n, "p (Holm)": r.p_adjusted, "verdict": r.verdict})
    return pd.DataFrame(rows)


def collect(profile: str = "small", *, chapters: Sequence[str] | None = None, seed: int = 0,
            dataset: str = "synthetic", data_root: str | Path | None = None,
            profiles: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Every claim of every chapter (book order from the table of contents unless ``chapters``),
    read from the stored results of ``profile``. ``profiles`` (chapter -> settings) overrides the
    book's profiles (tests)."""
    from fer_core import book
    from fer_core.profiles import get_profile

    names = list(chapters) if chapters is not None else [c.name for c in book.chapters(book.find_root())]
    frames = []
    for name, cls in chapter_studies(names):
        P = dict(profiles[name]) if profiles is not None and name in profiles else get_profile(name, profile)
        frames.append(chapter_claims(name, cls, P, seed=seed, dataset=dataset, data_root=data_root))
    if not frames:
        raise LookupError(f"none of the chapters {names} keeps a claims ledger; nothing to report")
    return pd.concat(frames, ignore_index=True)


def verdict_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Claims per chapter and verdict (every verdict a column, a total row and column)."""
    counts = pd.crosstab(table["chapter"], table["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    counts = counts.reindex(list(dict.fromkeys(table["chapter"])))
    counts["claims"] = counts.sum(axis=1)
    counts.loc["all chapters"] = counts.sum()
    return counts.astype(int)


def formatted(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The report's table as printed: effect with its interval, detectable effect, paper's effect."""
    def num(x: float, sign: bool = True) -> str:
        return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else (
            f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}")

    out = table[["chapter", "claim", "source", "metric", "compared"]].copy()
    out["paper's effect"] = [num(v) for v in table["paper's effect"]]
    out["this run: effect [interval]"] = [
        f"{num(e)} [undefined]" if math.isnan(lo) else f"{num(e)} [{num(lo)}, {num(hi)}]"
        for e, lo, hi in zip(table["effect"], table["ci_low"], table["ci_high"])]
    out["detectable"] = [num(v, sign=False) for v in table["detectable"]]
    out["n"] = table["n"]
    out["verdict"] = table["verdict"]
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary(table: pd.DataFrame) -> str:
    """A plain-language summary computed from the table's counts (Markdown)."""
    n, chapters = len(table), list(dict.fromkeys(table["chapter"]))
    c = table["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)
    lines = [f"This build tested **{_plural(n, 'claim')}** from {_plural(len(chapters), 'chapter')} "
             f"({', '.join(chapters)}): {c[HOLDS]} hold, {c[DOES_NOT_HOLD]} do not hold, {c[NO_EFFECT]} show no "
             f"effect and {c[INCONCLUSIVE]} are inconclusive."]
    decided = c[HOLDS] + c[DOES_NOT_HOLD] + c[NO_EFFECT]
    lines.append(f"{_plural(int(decided), 'claim')} of {n} got a decided verdict; the rest could not be told from "
                 f"noise with this run's replicates (their 'detectable' column says how large an effect would have "
                 f"been needed).")
    per = verdict_counts(table).drop(index="all chapters")
    for name, row in per.iterrows():
        lines.append(f"- **{name}**: {row[HOLDS]} of {row['claims']} hold, {row[DOES_NOT_HOLD]} do not hold, "
                     f"{row[NO_EFFECT]} no effect, {row[INCONCLUSIVE]} inconclusive.")
    with_paper = table.dropna(subset=["paper's effect"])
    if len(with_paper):
        same_sign = int(((with_paper["effect"] > 0) == (with_paper["paper's effect"] > 0)).sum())
        inside = int(((with_paper["ci_low"] <= with_paper["paper's effect"])
                      & (with_paper["paper's effect"] <= with_paper["ci_high"])).sum())
        lines.append(f"\nWhere the paper prints its effect on this run's scale ({_plural(len(with_paper), 'claim')}), "
                     f"this run's effect has the paper's sign in {same_sign}, and the paper's effect lies inside this "
                     f"run's interval in {inside}.")
    return "\n".join(lines)


def verdict_plot(table: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Stacked horizontal bars: claims per chapter, coloured by verdict (the legend names them)."""
    counts = verdict_counts(table).drop(index="all chapters")[list(VERDICTS)]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.6 * len(counts) + 1.5))
    left = pd.Series(0, index=counts.index)
    for verdict in VERDICTS:
        ax.barh(counts.index, counts[verdict], left=left, color=VERDICT_COLOURS[verdict], label=verdict)
        left = left + counts[verdict]
    ax.invert_yaxis()
    ax.set_xlabel("claims")
    ax.set_ylabel("chapter")
    ax.legend(title="verdict", bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_title("Verdicts per chapter")
    return ax
