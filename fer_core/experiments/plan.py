"""Experiments, their run keys, and plans with declared dependencies.

An :class:`Experiment` is one training-and-evaluation of a chapter: a variant on a fold
under a seed. It may declare what it needs first (``after``): "continues from FG's
pre-training of fold k", "needs the identity network of fold k". A :class:`Plan` holds a
chapter's experiments with those dependencies; the runner
(:mod:`fer_core.experiments.runner`) derives from the graph which experiments can run at
the same time, so a chapter never groups experiments by hand.

A :class:`RunKey` addresses both places an experiment leaves behind: its checkpoint folder
(named by everything that changes the trained networks) and its stored result (that plus
the settings that only change what is evaluated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from fer_core.results import config_key

__all__ = ["Experiment", "Plan", "PlanError", "RunKey"]


class PlanError(ValueError):
    """A plan names one experiment twice with different dependencies."""


@dataclass(frozen=True)
class Experiment:
    """One experiment of a chapter: ``variant`` on ``fold`` under ``seed``.

    Attributes:
        variant: the paper's name for what is trained (``"FESR_JL"``, ``"F_id"``, ``"judge"``).
        fold, seed: which split and which run seed.
        after: experiments that must be finished first (declared dependencies).
        why: one phrase per dependency, for readers of the plan ("continues from FG's pre-training").
        cost: relative run time, used to start the longest chains first.

    Two experiments are the same when variant, fold and seed agree.
    """

    variant: str
    fold: int = 0
    seed: int = 0
    after: tuple["Experiment", ...] = field(default=(), compare=False)
    why: tuple[str, ...] = field(default=(), compare=False)
    cost: float = field(default=1.0, compare=False)

    @property
    def id(self) -> tuple[str, int, int]:
        return self.variant, self.fold, self.seed

    def __str__(self) -> str:
        return f"{self.variant} fold {self.fold} seed {self.seed}"


@dataclass(frozen=True)
class RunKey:
    """What identifies one experiment's checkpoint folder and stored result.

    Attributes:
        chapter, variant, fold, seed: as in :class:`Experiment`.
        config: everything that changes the trained networks (the variant's full configuration,
            the data, the keys of the runs it continues from).
        evaluation: settings that change only what is evaluated and stored.
    """

    chapter: str
    variant: str
    fold: int
    seed: int
    config: Mapping[str, Any]
    evaluation: Mapping[str, Any] = field(default_factory=dict)

    def training(self) -> dict[str, Any]:
        """The configuration of the training run (names its checkpoint folder)."""
        return {"chapter": self.chapter, "variant": self.variant, "fold": self.fold, "seed": self.seed,
                "config": dict(self.config)}

    def result(self) -> dict[str, Any]:
        """The configuration of the stored result (the training run plus the evaluation settings)."""
        return {**self.training(), "kind": "result", "evaluation": dict(self.evaluation)}

    @property
    def train_id(self) -> str:
        return config_key(self.training())

    def run_dir(self, root: str | Path) -> Path:
        """``root/<chapter>/<variant>-f<fold>-s<seed>-<digest>``: readable, and unique per configuration."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.variant)
        return Path(root) / self.chapter / f"{safe}-f{self.fold}-s{self.seed}-{self.train_id}"


class Plan:
    """A chapter's experiments and their declared dependencies (a directed acyclic graph).

    Dependencies named in ``after`` join the plan even when not listed themselves.
    Iteration yields a topological order that keeps the listed order where it can.

    Raises:
        PlanError: the same experiment is listed with two different sets of dependencies.
    """

    def __init__(self, experiments: Iterable[Experiment]):
        self._by_id: dict[tuple[str, int, int], Experiment] = {}
        pending = list(experiments)
        while pending:
            e = pending.pop(0)
            known = self._by_id.get(e.id)
            if known is not None:
                if tuple(d.id for d in known.after) != tuple(d.id for d in e.after):
                    raise PlanError(f"the plan lists {e} twice with different dependencies")
                continue
            self._by_id[e.id] = e
            pending.extend(e.after)
        self._order = self._topological()
        self._dependents: dict[tuple[str, int, int], list[Experiment]] = {e.id: [] for e in self._order}
        for e in self._order:
            for d in e.after:
                self._dependents[d.id].append(e)

    def _topological(self) -> list[Experiment]:
        # Experiments are frozen and name their dependencies by value, and an id may appear only with
        # one set of dependencies, so the graph cannot hold a cycle: a depth-first order suffices.
        order: list[Experiment] = []
        done: set[tuple[str, int, int]] = set()

        def visit(e: Experiment) -> None:
            if e.id in done:
                return
            done.add(e.id)
            for d in e.after:
                visit(self._by_id[d.id])
            order.append(e)

        for e in list(self._by_id.values()):
            visit(e)
        return order

    def __iter__(self) -> Iterator[Experiment]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, e: object) -> bool:
        return isinstance(e, Experiment) and e.id in self._by_id

    def get(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        """The experiment with this id (with its declared dependencies)."""
        try:
            return self._by_id[(variant, int(fold), int(seed))]
        except KeyError:
            raise KeyError(f"the plan has no experiment {variant} fold {fold} seed {seed}") from None

    def select(self, *variants: str) -> list[Experiment]:
        """The plan's experiments of these variants, in plan order."""
        return [e for e in self._order if e.variant in variants]

    def dependencies(self, e: Experiment) -> list[Experiment]:
        return [self._by_id[d.id] for d in self._by_id[e.id].after]

    def dependents(self, e: Experiment) -> list[Experiment]:
        return list(self._dependents[e.id])

    def remaining_cost(self) -> dict[tuple[str, int, int], float]:
        """Per experiment, its cost plus the costliest chain of experiments that wait for it.

        The runner starts the experiment with the largest value first, so that long chains
        (a pre-training and the runs that continue from it) do not finish last.
        """
        out: dict[tuple[str, int, int], float] = {}
        for e in reversed(self._order):
            out[e.id] = e.cost + max((out[x.id] for x in self.dependents(e)), default=0.0)
        return out
