"""Where a chapter page's numbers came from: the provenance block at the end of every chapter.

``fer book`` (see :mod:`fer_core.book`) adds two cells to every chapter it converts:

- before the chapter's first code cell, :func:`start` (after the Colab install): it starts
  the chapter's clock and forgets the studies of any earlier chapter in this kernel;
- as the last cell (input hidden), :func:`collect`: a small table computed in the kernel at
  the end of the run, with the profile, the data, the device, the ``fer_core`` version and
  git commit, the date, the chapter's wall time, and how many experiments this run computed
  versus read from the results cache.

Every :class:`~fer_core.experiments.Study` registers itself here when it is created
(:func:`register`), by weak reference: the block reads the studies the chapter still
holds, and a long-lived process (the test suite) keeps none alive. A chapter without a
study says "no experiments".
"""

from __future__ import annotations

import datetime as _dt
import html
import subprocess
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

__all__ = ["Provenance", "register", "start", "studies", "collect", "fer_version", "git_commit"]

_REGISTRY: list[weakref.ref] = []
_CLOCK: dict[str, Any] = {"chapter": None, "t0": time.perf_counter(), "date": _dt.datetime.now(_dt.timezone.utc),
                          "started": False}


def register(study: Any) -> None:
    """Remember ``study`` (weakly) for this kernel's provenance block (called by ``Study.__init__``)."""
    _REGISTRY.append(weakref.ref(study))


def start(chapter: str | None = None) -> None:
    """Start the chapter's clock and forget the studies registered before it."""
    _REGISTRY.clear()
    _CLOCK.update(chapter=chapter, t0=time.perf_counter(), date=_dt.datetime.now(_dt.timezone.utc), started=True)


def studies() -> list[Any]:
    """The studies created since :func:`start` that are still alive, in creation order."""
    alive = [ref() for ref in _REGISTRY]
    return [s for s in alive if s is not None]


def fer_version() -> str:
    """The installed ``fer-book`` distribution's version (package metadata), else ``fer_core.__version__``."""
    from importlib import metadata

    try:
        return metadata.version("fer-book")
    except metadata.PackageNotFoundError:
        import fer_core

        return str(getattr(fer_core, "__version__", "unknown"))


def git_commit() -> str:
    """The commit of the checkout ``fer_core`` is imported from (``+ uncommitted changes`` when
    the working tree differs from it), or ``"unknown"`` (installed from a wheel, no git)."""
    pkg = Path(__file__).resolve().parent
    try:
        top = _git(pkg, "rev-parse", "--show-toplevel")
        if Path(top).resolve() != pkg.parent:  # fer_core sits inside some other repository
            return "unknown"
        commit = _git(pkg, "rev-parse", "--short=12", "HEAD")
        dirty = _git(pkg, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=True)
    return proc.stdout.strip()


def _seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _device(device: Any) -> str:
    """``cpu (4 threads)`` or ``cuda:0 (NVIDIA H200)``."""
    import torch

    from fer_core import runtime

    dev = runtime.pick_device(device)
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    if dev.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'s' if threads != 1 else ''})"
    return str(dev)


def _data(study: Any) -> str:
    """The study's data: its name, what the data set is, and its counts."""
    data = study.data
    spec = dict(getattr(data, "spec", {}) or {})
    parts = [str(data.name)]
    if getattr(data, "key", "synthetic") != "synthetic":
        parts.append(f"dataset {data.key}")
    elif f"seed {study.seed}" not in parts[0]:
        parts.append(f"data seed {study.seed}")
    if "rows" in spec:
        parts.append(f"{int(spec['rows'])} faces")
    splits = len(getattr(data, "splits", []) or [])
    if splits:
        parts.append(f"{splits} split{'s' if splits != 1 else ''}")
    seeds = list(getattr(study, "seeds", []))
    if seeds:
        parts.append(f"run seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))}")
    return ", ".join(parts)


@dataclass(frozen=True)
class Provenance:
    """The facts of one chapter run, as ``(label, value)`` rows; shown as a small table."""

    rows: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.rows)

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.rows)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self.rows)
        caption = "<p>Computed by the run that produced this page.</p>"
        return f'<div class="fer-provenance">{caption}<table>{body}</table></div>'


def collect(namespace: Mapping[str, Any] | None = None) -> Provenance:
    """The provenance of the chapter running in this kernel.

    Args:
        namespace: the chapter's globals; its parameters (``profile``, ``seed``, ``data_root``,
            ``device``) describe a chapter that created no study.
    """
    ns = dict(namespace or {})
    found = studies()
    if found:
        profile = ", ".join(dict.fromkeys(str(s.profile_name) for s in found))
        data = "; ".join(dict.fromkeys(_data(s) for s in found))
        device = ", ".join(dict.fromkeys(_device(s.device) for s in found))
        counts = [s.cache_counts() for s in found]
        computed, reused = sum(c["computed"] for c in counts), sum(c["reused"] for c in counts)
        experiments = (f"{computed + reused}: {computed} computed in this run, {reused} from the results cache")
    else:
        profile = str(ns.get("profile", "unknown"))
        root = ns.get("data_root")
        data = f"synthetic world, seed {ns.get('seed', 'unknown')}" if root is None else f"data_root {root}"
        device = _device(ns.get("device", "auto"))
        experiments = "no experiments"
    elapsed = time.perf_counter() - _CLOCK["t0"]
    wall = _seconds(elapsed) + ("" if _CLOCK["started"] else " (since fer_core.provenance was imported)")
    rows = (("chapter", str(_CLOCK["chapter"] or "unknown")),
            ("profile", profile), ("data", data), ("device", device),
            ("fer_core", f"{fer_version()}, commit {git_commit()}"),
            ("date", _CLOCK["date"].strftime("%Y-%m-%d %H:%M UTC")),
            ("wall time", wall), ("experiments", experiments))
    return Provenance(rows)
