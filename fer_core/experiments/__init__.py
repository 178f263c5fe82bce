"""The shared experiment layer: what every chapter's experiments are built on.

- :mod:`~fer_core.experiments.plan`: :class:`Experiment` (a variant on a fold under a seed, with
  declared dependencies), :class:`Plan`, :class:`RunKey` (checkpoint folder and stored result);
- :mod:`~fer_core.experiments.study`: :class:`Study`, the base class of a chapter's experiments
  (keys, training through the shared loop and torchrun, cached results, wall times);
- :mod:`~fer_core.experiments.runner`: :func:`run_plan` (worker processes, reuse, resume);
- :mod:`~fer_core.experiments.board`: progress lines that reach the notebook from workers;
- :mod:`~fer_core.experiments.data`: dataset + protocol -> splits -> tensors on the device;
- :mod:`~fer_core.experiments.tables`: summaries, per-replicate pivots, paper vs run, ledgers.

A chapter is a paper package under :mod:`fer_core.methods` (its networks, losses, method step,
a :class:`Study` subclass and the paper's numbers) plus a notebook.
"""

from fer_core.experiments.data import ChapterData, prepare_data
from fer_core.experiments.plan import Experiment, Plan, PlanError, RunKey
from fer_core.experiments.runner import WORKERS_ENV, run_plan
from fer_core.experiments.study import MissingResultError, Study, studies

__all__ = ["ChapterData", "prepare_data", "Experiment", "Plan", "PlanError", "RunKey", "WORKERS_ENV", "run_plan",
           "Study", "MissingResultError", "studies"]
