"""Progress of a chapter's experiments, wherever they run: one live line per running experiment.

Training runs of a chapter may run in this process or in worker processes. Either way
their progress reaches a :class:`Board` in the chapter's process (worker processes send it
through a queue, see :class:`QueueReporter`), which shows:

- in a live Jupyter kernel, a block updated in place with one line per running
  experiment: name, step/total, the last logged losses and the time left;
- in a terminal and in a notebook executed for the book (``FER_PROGRESS=summary``), one
  line per finished experiment, which stays in the rendered page;
- nothing with ``FER_PROGRESS=off``.
"""

from __future__ import annotations

import queue as queue_module
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from fer_core.progress import progress_mode

__all__ = ["Board", "QueueReporter", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``75.2`` -> ``"1m15s"``; ``4.2`` -> ``"4.2s"``."""
    if seconds != seconds or seconds < 0:  # NaN
        return "?"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


#: Logged values that say where a run is rather than how it does; not shown on progress lines.
HIDDEN = ("stage",)


def _shown(values: Mapping[str, float], n: int = 3) -> str:
    return " ".join(f"{k}={v:.3g}" for k, v in [kv for kv in values.items() if kv[0] not in HIDDEN][:n])


@dataclass
class _Line:
    label: str
    started: float
    step: int = 0
    steps: int = 0
    values: dict[str, float] = field(default_factory=dict)
    first: tuple[float, int] | None = None

    def eta(self, now: float) -> float:
        if self.first is None or self.step <= self.first[1]:
            return float("nan")
        rate = (self.step - self.first[1]) / max(now - self.first[0], 1e-9)
        return (self.steps - self.step) / rate

    def render(self, now: float, width: int) -> str:
        losses = _shown(self.values)
        steps = f"{self.step}/{self.steps}" if self.steps else "starting"
        return f"{self.label:<{width}}  {steps:>11}  {losses:<42}  ETA {format_seconds(self.eta(now))}"


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and hasattr(shell, "kernel")


class Board:
    """Collects ``start``/``log``/``done`` events of a plan's experiments and shows them.

    Args:
        total: experiments in the plan; cached: how many of them came from the results store.
        mode: ``"auto"``, ``"summary"`` or ``"off"`` (default: ``$FER_PROGRESS``, see
            :mod:`fer_core.progress`).
        refresh: at most one redraw of the live block per this many seconds.
    """

    def __init__(self, total: int, *, cached: int = 0, mode: str | None = None, refresh: float = 0.5):
        self.total, self.cached, self.mode = total, cached, mode or progress_mode()
        self.refresh = refresh
        self.running: dict[str, _Line] = {}
        self.finished: list[tuple[str, float]] = []
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._handle = None
        self._drawn = 0.0
        self.live = self.mode == "auto" and _in_kernel()

    # -- events ---------------------------------------------------------------------------
    def start(self, label: str) -> None:
        with self._lock:
            self.running[label] = _Line(label, time.perf_counter())
        self._draw()

    def log(self, label: str, step: int, steps: int, values: Mapping[str, float]) -> None:
        now = time.perf_counter()
        with self._lock:
            line = self.running.setdefault(label, _Line(label, now))
            line.step, line.steps, line.values = int(step), int(steps), dict(values)
            if line.first is None:
                line.first = (now, int(step))
        self._draw()

    def done(self, label: str, seconds: float) -> None:
        with self._lock:
            line = self.running.pop(label, None)
            self.finished.append((label, seconds))
            n = self.cached + len(self.finished)
        if self.mode != "off":
            detail = ""
            if line is not None and line.values:
                detail = ", " + _shown(line.values)
            print(f"  [{n}/{self.total}] {label}: {format_seconds(seconds)}{detail}", flush=True)
        self._draw(force=True)

    def apply(self, event: tuple) -> None:
        """Apply an event sent by a :class:`QueueReporter` (``(kind, *args)``)."""
        kind, *args = event
        getattr(self, kind)(*args)

    # -- drawing ----------------------------------------------------------------------------
    def _text(self) -> str:
        now = time.perf_counter()
        with self._lock:
            lines = list(self.running.values())
            done = self.cached + len(self.finished)
        head = (f"experiments: {done} of {self.total} done ({self.cached} from the results cache), "
                f"{len(lines)} running, {format_seconds(now - self.t0)} elapsed")
        width = max([len(line.label) for line in lines] + [10])
        return "\n".join([head] + [line.render(now, width) for line in lines])

    def _draw(self, *, force: bool = False) -> None:
        if not self.live:
            return
        now = time.perf_counter()
        if not force and now - self._drawn < self.refresh:
            return
        self._drawn = now
        from IPython.display import Pretty, display

        if self._handle is None:
            self._handle = display(Pretty(self._text()), display_id=True)
        else:
            self._handle.update(Pretty(self._text()))

    def close(self) -> None:
        """Replace the live block by a one-line summary."""
        if self.live and self._handle is not None:
            from IPython.display import Pretty

            computed = len(self.finished)
            self._handle.update(Pretty(f"experiments: {self.total} ({computed} computed, {self.cached} from the "
                                       f"results cache) in {format_seconds(time.perf_counter() - self.t0)}"))
        sys.stdout.flush()


class QueueReporter:
    """What a worker process reports through: puts the :class:`Board`'s events on a queue."""

    def __init__(self, queue: Any):
        self.queue = queue

    def start(self, label: str) -> None:
        self.queue.put(("start", label))

    def log(self, label: str, step: int, steps: int, values: Mapping[str, float]) -> None:
        self.queue.put(("log", label, int(step), int(steps), {k: float(v) for k, v in values.items()}))


def drain(queue: Any, board: Board, stop: threading.Event) -> None:
    """Move events from ``queue`` to ``board`` until ``stop`` is set and the queue is empty."""
    while True:
        try:
            board.apply(queue.get(timeout=0.1))
        except queue_module.Empty:
            if stop.is_set():
                return
        except (EOFError, OSError):  # the queue's process went away
            return
