"""Run a chapter's plan: reuse finished results, resume interrupted runs, use every core.

:func:`run_plan` looks up every experiment of a :class:`~fer_core.experiments.study.Study`'s
plan in the results store. What is missing runs

- in worker processes on a CPU, one single-threaded process per core (``FER_WORKERS``
  sets how many): an experiment starts as soon as the experiments it declared in
  ``after`` are finished, the one heading the costliest remaining chain first. Each worker
  rebuilds the study from :meth:`~fer_core.experiments.study.Study.spec` once and keeps its
  data in memory for the experiments it runs next;
- in this process on a GPU, or when every training run already uses several processes
  through torchrun (``--nproc``), in the plan's order.

Every experiment seeds itself from its own key and starts from its dependencies'
checkpoints, so the results do not depend on the number of workers or on the order in
which they finish. An interrupted run resumes from its last checkpoint (its run folder is
named by its key); a finished plan re-runs nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import torch

from fer_core import distributed
from fer_core.experiments.board import Board, QueueReporter, drain
from fer_core.experiments.plan import Experiment
from fer_core.train import compact_checkpoint

# The study is passed in, never imported: fer_core.experiments.study imports this module.
Study = Any

__all__ = ["WORKERS_ENV", "compact_runs", "run_plan", "workers_for"]

#: Environment variable: how many CPU worker processes :func:`run_plan` may use.
WORKERS_ENV = "FER_WORKERS"


def workers_for(study: Study, requested: int | None, todo: int) -> int:
    """How many worker processes to use: ``requested``, else ``$FER_WORKERS``, else one per core;
    never more than there are experiments to run, and 1 on a GPU or with ``nproc > 1``."""
    if requested is None:
        raw = os.environ.get(WORKERS_ENV, "").strip()
        try:
            requested = int(raw) if raw else (os.cpu_count() or 1)
        except ValueError:
            raise ValueError(f"{WORKERS_ENV}={raw!r} is not a process count; set it to a positive integer "
                             "or unset it") from None
    if requested < 1:
        raise ValueError(f"workers must be >= 1, got {requested}")
    if study.device.type != "cpu" or study.nproc > 1 or distributed.is_distributed():
        return 1
    return max(1, min(requested, todo))


def run_plan(study: Study, *, workers: int | None = None) -> dict[tuple[str, int, int], dict[str, Any]]:
    """Run (or load) every experiment of ``study``'s plan and return ``{id: result}`` in plan order."""
    plan = study.experiments
    todo = [e for e in plan if not study.is_stored(e)]
    n_workers = workers_for(study, workers, len(todo))
    board = Board(len(plan), cached=len(plan) - len(todo))
    if todo:
        print(f"{len(plan)} experiments: {len(plan) - len(todo)} from the results cache, {len(todo)} to run"
              + (f" in {n_workers} CPU processes (one thread each)" if n_workers > 1 else ""), flush=True)
    try:
        if n_workers > 1:
            _run_in_workers(study, todo, n_workers, board)
        else:
            _run_here(study, todo, board)
    finally:
        board.close()
    results = {e.id: study.result(e) for e in plan}
    if study.compact_checkpoints:
        compact_runs(study)  # runs stored by an earlier build of older code
    return results


def compact_runs(study: Study) -> int:
    """Compact the checkpoints (final and kept snapshots) in the run folders of ``study``'s plan,
    once every result is stored; returns the bytes saved."""
    saved = 0
    for e in study.experiments:
        run_dir = study.run_dir(e)
        if run_dir.is_dir():
            saved += sum(compact_checkpoint(p) for p in sorted(run_dir.glob("checkpoint*.pt")))
    return saved


def _run_here(study: Study, todo: list[Experiment], board: Board) -> None:
    previous, study.reporter = study.reporter, board
    try:
        for e in todo:  # plan order is a topological order
            t0 = time.perf_counter()
            study.result(e)
            board.done(str(e), time.perf_counter() - t0)
    finally:
        study.reporter = previous


# --------------------------------------------------------------------------------- worker processes
_QUEUE: Any = None
_STUDIES: dict[str, Study] = {}


def _init_worker(queue: Any) -> None:
    global _QUEUE
    _QUEUE = queue
    torch.set_num_threads(1)


def _run_in_worker(study_name: str, spec: dict[str, Any], exp_id: tuple[str, int, int]) -> float:
    """Compute one experiment in a worker process; returns its seconds (the result goes to the store)."""
    import json

    key = study_name + json.dumps(spec, sort_keys=True, default=str)
    study = _STUDIES.get(key)
    if study is None:
        study = _STUDIES[key] = distributed.resolve(study_name).from_spec(spec)
    study.reporter = QueueReporter(_QUEUE)
    exp = study.experiment(exp_id)
    t0 = time.perf_counter()
    try:
        study.result(exp)
    except Exception as e:
        e.add_note(f"while running {exp} in a worker process; its run folder is {study.run_dir(exp)}")
        raise
    return time.perf_counter() - t0


def _run_in_workers(study: Study, todo: list[Experiment], workers: int, board: Board) -> None:
    plan = study.experiments
    priority = plan.remaining_cost()
    waiting = {e.id: e for e in todo}
    finished = {e.id for e in plan if e.id not in waiting}
    name, spec = distributed.qualified_name(type(study)), study.spec()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    stop = threading.Event()
    drainer = threading.Thread(target=drain, args=(queue, board, stop), daemon=True)
    drainer.start()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(queue,))
    running: dict[Future, Experiment] = {}
    try:
        while waiting or running:
            ready = sorted((e for e in waiting.values() if all(d.id in finished for d in e.after)),
                           key=lambda e: -priority[e.id])
            for e in ready[: workers - len(running)]:
                del waiting[e.id]
                running[pool.submit(_run_in_worker, name, spec, e.id)] = e
            if not running:
                raise RuntimeError(f"experiments {sorted(map(str, waiting.values()))} wait for dependencies that "
                                   "are neither stored nor planned")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                e = running.pop(future)
                seconds = future.result()  # re-raises a worker's error here
                study.computed[e.id] = seconds
                finished.add(e.id)
                time.sleep(0.05)  # let the queue deliver the experiment's last log line first
                board.done(str(e), seconds)
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()  # a failed or interrupted plan takes its workers down
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        stop.set()
        drainer.join(timeout=5)
