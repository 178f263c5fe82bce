"""A chapter's experiments as one object: the plan, the keys, training, cached results.

A chapter subclasses :class:`Study` and supplies only what is its own:

- its data: the class attributes :attr:`Study.synthetic_world`, :attr:`Study.frame_rule` and
  :attr:`Study.split_rule`, which the classmethod :meth:`Study.build_data` hands to
  :func:`~fer_core.experiments.data.prepare_data` (a chapter with other needs overrides it);
- :meth:`Study.make`: the :class:`~fer_core.experiments.plan.Experiment` of a variant on a
  fold under a seed, with its declared dependencies, and :meth:`Study.plan`: all of them;
- :meth:`Study.train` (builds the method and trains it with :meth:`Study.fit`) and
  :meth:`Study.evaluate` (what the chapter's tables and figures need, as a dict).

Everything else is here: run keys (:meth:`Study.key`), checkpoint folders
(:meth:`Study.run_dir`), the results store (:meth:`Study.result`), torchrun for several
GPUs and progress reporting (:meth:`Study.fit`), rebuilding the study in another process
(:meth:`Study.spec` / :meth:`Study.from_spec`), running a whole plan
(:meth:`Study.run_all`, see :mod:`fer_core.experiments.runner`) and the wall-time table.
"""

from __future__ import annotations

import abc
import json
import math
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import pandas as pd
import torch

from fer_core import distributed, provenance, runtime
from fer_core.experiments.board import format_seconds
from fer_core.experiments.data import ChapterData, prepare_data
from fer_core.experiments.plan import Experiment, Plan, RunKey
from fer_core.experiments.runner import run_plan
from fer_core.results import ResultStore, cache_root
from fer_core.train import FitResult, Method, compact_checkpoint, finished_step, fit

__all__ = ["Study", "MissingResultError", "studies"]

#: Every Study subclass by chapter name (filled as the paper packages are imported).
_STUDIES: dict[str, type] = {}


def studies() -> dict[str, type]:
    """The Study subclass of each chapter whose paper package has been imported, by chapter name."""
    return dict(_STUDIES)


class MissingResultError(LookupError):
    """A result that a stored-only study (see ``Study(stored_only=True)``) does not hold."""


class Study(abc.ABC):
    """Every experiment of one chapter, for one profile, data set and seed.

    Args:
        P: the chapter's profile (see :mod:`fer_core.profiles`); a plain dict works too.
        data: the chapter's data (from :meth:`build_data`).
        seed: the chapter's seed; the profile's ``seeds`` are run seeds on top of it.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        store: the results store (default ``ResultStore(chapter)``).
        run_root: where training runs keep their checkpoints (default ``<cache>/runs``).
        progress: show progress bars when training outside the runner.
        nproc: processes (GPUs) per training run, through torchrun; default ``$FER_NPROC``
            (``fer book --nproc N``), else 1. The profile's ``batch_size`` stays the global batch.
        stored_only: only read the results store, never train: :meth:`result` raises
            :class:`MissingResultError` (saying why and how to compute it) for anything not stored
            (the book's reproducibility report reads the chapters' results this way).
        options: the chapter's other plain settings (e.g. a weights path); part of every key
            (an option left ``None`` means "not given" and is in no key).
    """

    chapter: ClassVar[str] = ""
    #: Profile settings that choose which experiments run or how results are shown: in no key.
    plan_settings: ClassVar[tuple[str, ...]] = ("seeds",)
    #: Profile settings that change only what is evaluated: in result keys, not in run folders.
    evaluation_settings: ClassVar[tuple[str, ...]] = ()
    #: Drop a run's optimiser states (:func:`fer_core.train.compact_checkpoint`) as soon as its result
    #: is stored: later runs and figures reload only its weights. A chapter whose runs continue from
    #: another run's optimiser state (FESR's two-stage variants resume FG's Adam) sets this to False.
    compact_checkpoints: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.chapter and not getattr(cls, "__abstractmethods__", None):
            _STUDIES[cls.chapter] = cls

    def __init__(self, P: Mapping[str, Any], data: ChapterData, *, seed: int = 0, device: str = "auto",
                 store: ResultStore | None = None, run_root: str | Path | None = None, progress: bool = True,
                 nproc: int | None = None, stored_only: bool = False, **options: Any):
        if not self.chapter:
            raise TypeError(f"{type(self).__name__} must set the class attribute chapter")
        self.P, self.data, self.seed, self.progress = dict(P), data, int(seed), progress
        self.profile_name = getattr(P, "name", None) or self.P.pop("_profile_name", "custom")
        self.options = dict(options)
        self.stored_only = bool(stored_only)
        self.nproc = distributed.nproc_from_env() if nproc is None else int(nproc)
        distributed.check_nproc(self.nproc)
        if self.nproc > 1 and "batch_size" in self.P:
            distributed.per_rank_batch_size(int(self.P["batch_size"]), self.nproc)  # fails early if it cannot split
        self.device = runtime.pick_device(device)
        self.store = store if store is not None else ResultStore(self.chapter)
        self.run_root = Path(run_root) if run_root is not None else cache_root() / "runs"
        #: where training progress goes while the runner runs the plan (a Board or a QueueReporter)
        self.reporter: Any = None
        #: experiments this process (or its workers) computed: id -> seconds
        self.computed: dict[tuple[str, int, int], float] = {}
        provenance.register(self)  # for the chapter page's provenance block

    # -- what a chapter supplies -----------------------------------------------------------------
    #: ``synthetic_world(P, seed) -> (dataset, description)``: the chapter's synthetic world.
    synthetic_world: ClassVar[Callable[[Mapping[str, Any], int], tuple[Any, str]] | None] = None
    #: The paper's frame rule for data with sequences (``frames`` of ``prepare_data``), or None.
    frame_rule: ClassVar[Callable[[pd.DataFrame], Any] | None] = None
    #: ``split_rule(P) -> splits(dataset, seed)``; None: ``P["folds"]`` subject-independent folds.
    split_rule: ClassVar[Callable[[Mapping[str, Any]], Callable] | None] = None

    @classmethod
    def build_data(cls, P: Mapping[str, Any], *, dataset: str = "synthetic", data_root: str | Path | None = None,
                   seed: int = 0) -> ChapterData:
        """The chapter's data for profile ``P``: its synthetic world, or the real dataset at ``data_root``,
        cut by its split and frame rules (see :func:`~fer_core.experiments.data.prepare_data`)."""
        if cls.synthetic_world is None:
            raise NotImplementedError(f"{cls.__name__} sets no synthetic_world; declare it or override build_data")
        return prepare_data(P, synthetic=cls.synthetic_world, dataset=dataset, data_root=data_root, seed=seed,
                            frames=cls.frame_rule, splits=None if cls.split_rule is None else cls.split_rule(P))

    @abc.abstractmethod
    def make(self, variant: str, fold: int = 0, seed: int = 0) -> Experiment:
        """The experiment ``variant`` on ``fold`` under ``seed``, with its declared dependencies."""

    @abc.abstractmethod
    def plan(self) -> Plan:
        """Every experiment the chapter runs."""

    @abc.abstractmethod
    def train(self, exp: Experiment) -> Method:
        """Build ``exp``'s method and train it with :meth:`fit` (resuming, or reloading a finished run)."""

    @abc.abstractmethod
    def evaluate(self, exp: Experiment, method: Method) -> dict[str, Any]:
        """What the chapter stores of a trained ``exp`` (tensors allowed)."""

    def configuration(self, exp: Experiment) -> dict[str, Any]:
        """Everything that changes ``exp``'s trained networks (default: the profile without the plan
        and evaluation settings). A chapter narrows it for experiments that depend on less."""
        skip = set(self.plan_settings) | set(self.evaluation_settings)
        return {"profile": {k: v for k, v in self.P.items() if k not in skip}}

    # -- keys and places ---------------------------------------------------------------------------
    @cached_property
    def experiments(self) -> Plan:
        """The plan, built once."""
        return self.plan()

    @property
    def folds(self) -> list[int]:
        return list(range(len(self.data.splits)))

    @property
    def seeds(self) -> list[int]:
        return [self.seed + int(s) for s in self.P.get("seeds", (0,))]

    def experiment(self, variant: str | Experiment | tuple, fold: int = 0, seed: int = 0) -> Experiment:
        """``exp`` itself, or the experiment named by ``(variant, fold, seed)`` (built by :meth:`make`)."""
        if isinstance(variant, Experiment):
            return variant
        if isinstance(variant, tuple):
            variant, fold, seed = variant
        return self.make(variant, int(fold), int(seed))

    def key(self, exp: Experiment | str, fold: int = 0, seed: int = 0) -> RunKey:
        """The run key of an experiment: its configuration, the data, the options, and the keys of
        the runs it depends on."""
        exp = self.experiment(exp, fold, seed)
        config = {**self.configuration(exp), "data": self.data.spec, "data_seed": self.seed,
                  "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in self.options.items()
                              if v is not None},
                  "after": [self.key(d).train_id for d in exp.after]}
        evaluation = {k: self.P[k] for k in self.evaluation_settings if k in self.P}
        return RunKey(self.chapter, exp.variant, exp.fold, exp.seed, config, evaluation)

    def run_dir(self, exp: Experiment | str, fold: int = 0, seed: int = 0) -> Path:
        """The checkpoint folder of an experiment's training run."""
        return self.key(exp, fold, seed).run_dir(self.run_root)

    def is_stored(self, exp: Experiment) -> bool:
        return self.store.path(self.key(exp).result()).exists()

    def log(self, exp: Experiment | str, fold: int = 0, seed: int = 0) -> list[dict[str, float]]:
        """The logged training values of an experiment's run (``metrics.jsonl``)."""
        path = self.run_dir(exp, fold, seed) / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    # -- training and results ------------------------------------------------------------------------
    def fit(self, method: Method, exp: Experiment, dataset: Any, *, steps: int, batch_size: int, seed: int | None = None,
            **fit_kwargs: Any) -> FitResult:
        """Train ``method`` for ``exp`` with the shared loop, in ``exp``'s run folder.

        ``seed`` (default ``exp.seed``) orders the data; the global RNG is left as :meth:`train`
        seeded it (before building the networks). ``batch_size`` is the global batch: with ``nproc > 1`` the run goes through torchrun (every rank rebuilds
        this study from :meth:`spec` and calls :meth:`train`), each rank takes its share, and
        this process then reloads rank 0's finished checkpoint. Progress goes to the runner's
        board when the runner runs the plan, else to a progress bar.
        """
        seed = exp.seed if seed is None else int(seed)
        run_dir = self.run_dir(exp)
        to_train = finished_step(run_dir) < steps
        if self.nproc > 1 and not distributed.is_distributed() and to_train:
            distributed.run(_train_on_rank, nproc=self.nproc, study=distributed.qualified_name(type(self)),
                            spec=self.spec(), exp=list(exp.id))
        world = distributed.world_size()
        reporter = self.reporter if to_train else None  # a finished run is only reloaded: nothing to show
        label = str(exp)
        on_log = None if reporter is None else (lambda step, total, values: reporter.log(label, step, total, values))
        if reporter is not None:
            reporter.start(label)
        return fit(method, dataset, steps=steps, batch_size=distributed.per_rank_batch_size(batch_size, world),
                   run_dir=run_dir, seed=seed, device=self.device,
                   progress=self.progress and self.reporter is None and distributed.is_main(), desc=label,
                   on_log=on_log,
                   **fit_kwargs)

    def finished(self, exp: Experiment, steps: int) -> bool:
        """Whether ``exp``'s run folder holds a checkpoint that reached ``steps``."""
        return finished_step(self.run_dir(exp)) >= steps

    def result(self, exp: Experiment | str, fold: int = 0, seed: int = 0) -> dict[str, Any]:
        """The evaluated experiment, from the store when it was computed before (with any
        configuration and ``fer_core`` code: see :mod:`fer_core.results`)."""
        exp = self.experiment(exp, fold, seed)
        config = self.key(exp).result()
        if self.stored_only and not self.store.path(config).exists():
            raise MissingResultError(self._why_missing(exp, config))

        ran = []

        def compute() -> dict[str, Any]:
            t0 = time.perf_counter()
            out = _cpu(self.evaluate(exp, self.train(exp)))
            self.computed[exp.id] = time.perf_counter() - t0
            ran.append(exp.id)
            return out

        out = self.store.cached(config, compute)
        if self.compact_checkpoints and ran:
            # stored just now: the run is only ever reloaded for its weights (a result read from the store
            # leaves its checkpoint alone; the runner compacts what an interrupted build left behind)
            compact_checkpoint(self.run_dir(exp))
        return out

    def _why_missing(self, exp: Experiment, config: Mapping[str, Any]) -> str:
        stale = self.store.same_config_other_code(config)
        if stale:
            why = (f"it was stored on {stale['created']} by other fer_core code (fingerprint {stale['code']}), so it is "
                   f"stale: the code changed since the chapter ran")
        elif self.store.entries_count():
            why = (f"the store {self.store.dir} holds {self.store.entries_count()} results of this chapter, none with "
                   f"this configuration (another profile, seed or data set?)")
        else:
            why = f"the store {self.store.dir} holds no results of this chapter (FER_CACHE set elsewhere?)"
        return (f"the {self.chapter} chapter has no stored result for {exp} under profile {self.profile_name!r}: "
                f"{why}. This page only reads results; run the chapter first: "
                f"python -m fer_core book --only {self.chapter} --profile {self.profile_name} --no-build "
                f"(or make book, which runs every chapter before this page)")

    def run_all(self, workers: int | None = None) -> dict[tuple[str, int, int], dict[str, Any]]:
        """Run (or load) every experiment of the plan; see :func:`fer_core.experiments.runner.run_plan`."""
        return run_plan(self, workers=workers)

    def results(self, *variants: str) -> list[tuple[Experiment, dict[str, Any]]]:
        """``(experiment, result)`` for every planned experiment of ``variants`` (all when none given)."""
        chosen = [e for e in self.experiments if not variants or e.variant in variants]
        return [(e, self.result(e)) for e in chosen]

    # -- other processes ---------------------------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        """Plain values from which :meth:`from_spec` rebuilds this study in another process."""
        return {"P": self.P, "profile_name": self.profile_name, "build_args": self.data.build_args, "seed": self.seed,
                "device": self.device.type, "store_root": str(self.store.dir), "run_root": str(self.run_root),
                "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in self.options.items()}}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, progress: bool = False) -> "Study":
        """The study :meth:`spec` describes (in a worker process or on a torchrun rank: ``nproc=1``)."""
        data = cls.build_data(spec["P"], **spec["build_args"])
        P = {**spec["P"], "_profile_name": spec.get("profile_name", "custom")}
        return cls(P, data, seed=spec["seed"], device=spec["device"],
                   store=ResultStore(cls.chapter, root=spec["store_root"]), run_root=spec["run_root"],
                   progress=progress, nproc=1, **spec["options"])

    # -- what the runner leaves for the chapter's last table ------------------------------------------------
    def wall_times(self) -> pd.DataFrame:
        """One row per planned experiment: whether it was computed in this build or came from the
        results cache, and the seconds its computation took (when it was computed)."""
        rows = []
        for e in self.experiments:
            meta = self.store.meta(self.key(e).result()) or {}
            computed = e.id in self.computed
            seconds = self.computed.get(e.id, meta.get("seconds"))
            rows.append({"experiment": e.variant, "fold": e.fold, "seed": e.seed,
                         "source": "computed in this build" if computed else "results cache",
                         "seconds": math.nan if seconds is None else float(seconds)})
        return pd.DataFrame(rows)

    def cache_counts(self) -> dict[str, int]:
        """How many planned experiments this build computed and how many it read from the results cache."""
        computed = sum(e.id in self.computed for e in self.experiments)
        return {"computed": computed, "reused": len(self.experiments) - computed}

    def wall_time_table(self):
        """:meth:`wall_times` per experiment and source: how many runs, and their seconds in all
        ("–" where none were recorded); the caption is :meth:`wall_time_summary`."""
        g = self.wall_times().groupby(["experiment", "source"], sort=False).seconds
        t = pd.DataFrame({"runs": g.size(), "seconds": g.sum(min_count=1)}).unstack("source")
        return t.style.format("{:.0f}", na_rep="–").set_caption(self.wall_time_summary())

    def plan_summary(self) -> str:
        """How many experiments the plan holds, over how many folds and seeds."""
        return f"{len(self.experiments)} experiments: {len(self.folds)} fold(s) x {len(self.seeds)} seed(s)"

    def wall_time_summary(self) -> str:
        t = self.wall_times()
        done = t[t.source == "computed in this build"].seconds
        return (f"{len(t)} experiments: {len(done)} computed in this build ({format_seconds(float(done.sum()))} of "
                f"training and evaluation), {len(t) - len(done)} from the results cache")


def _cpu(x: Any) -> Any:
    """Tensors (and numpy arrays) moved to the CPU, recursively: what the results store keeps."""
    import numpy as np

    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if isinstance(x, Mapping):
        return {k: _cpu(v) for k, v in x.items()}
    return x


def _train_on_rank(*, study: str, spec: dict[str, Any], exp: list) -> None:
    """One process of a multi-process training run (started by :func:`fer_core.distributed.run`).

    Every rank rebuilds the same study and trains the same experiment; the shared loop shards
    each global batch over the ranks and averages the gradients; rank 0 writes the checkpoint.
    """
    if spec["device"] == "cuda":
        torch.cuda.set_device(distributed.local_rank())  # before any tensor is put on "cuda"
    s = distributed.resolve(study).from_spec(spec, progress=True)
    s.train(s.experiment(tuple(exp)))
