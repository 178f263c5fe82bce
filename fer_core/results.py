"""The results store: every experiment's outcome, keyed by its configuration.

Chapters build their tables and figures from what this store holds, never from typed
numbers. An entry is keyed by the experiment's configuration *and* a fingerprint of the
``fer_core`` source, so a rebuild of the book reuses finished experiments while any
change to the library (or the configuration) re-runs them.

Layout: ``<root>/<chapter>/<key>.pt`` (the result; tensors allowed, loaded with
``weights_only=True``) and ``<key>.json`` beside it (configuration, timings and the
scalar part of the result, for humans and for diffing).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

import fer_core
from fer_core.io import atomic_write_json, load_checkpoint, save_checkpoint

__all__ = ["cache_root", "code_fingerprint", "fingerprint_of", "config_key", "ResultStore", "NOT_IN_FINGERPRINT"]


def cache_root() -> Path:
    """``$FER_CACHE`` if set (the Makefile sets ``<repo>/.fer_cache``), else ``~/.cache/fer-book``."""
    env = os.environ.get("FER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "fer-book"


_FINGERPRINTS: dict[str | None, str] = {}


#: Modules that build pages, print tables, measure speed or parse the command line: they never change
#: an experiment's result, so editing them keeps the results cache.
#: ``profiles.py`` holds settings whose values enter every key themselves.
NOT_IN_FINGERPRINT = ("book.py", "provenance.py", "cli.py", "bench.py", "viz.py", "notes.py", "__main__.py",
                      "profiles.py")
#: Paper-package modules (and ``fer_core/methods`` modules) that only write prose or read stored results.
_METHODS_NOT_IN_FINGERPRINT = ("report.py", "bench.py", "reproducibility.py")
_IMPORTED_PACKAGE = re.compile(r"fer_core\.methods\.(\w+)|from fer_core\.methods import (\w+)")


def code_fingerprint(chapter: str | None = None) -> str:
    """Hash of the bytes of the ``fer_core/**/*.py`` files that can change a result of ``chapter``
    (16 hex digits): the shared library (all but :data:`NOT_IN_FINGERPRINT`) and, of the paper
    packages under ``fer_core/methods/``, only the chapter's own and those it imports (so editing
    one chapter's package never recomputes another chapter); a paper package's ``report.py`` and
    ``bench.py`` never count. ``chapter=None``: every package."""
    if chapter not in _FINGERPRINTS:
        _FINGERPRINTS[chapter] = fingerprint_of(Path(fer_core.__file__).parent, chapter=chapter)
    return _FINGERPRINTS[chapter]


def _packages_of(methods: Path, chapter: str) -> set[str]:
    """``chapter``'s paper package and the paper packages it imports, transitively."""
    todo, seen = [chapter], set()
    while todo:
        name = todo.pop()
        if name in seen or not (methods / name).is_dir():
            continue
        seen.add(name)
        for path in (methods / name).rglob("*.py"):
            for m in _IMPORTED_PACKAGE.finditer(path.read_text(errors="replace")):
                todo.append(m.group(1) or m.group(2))
    return seen


def fingerprint_of(pkg: Path, *, chapter: str | None = None) -> str:
    """:func:`code_fingerprint` of the package folder ``pkg``."""
    methods = pkg / "methods"
    packages = None if chapter is None else _packages_of(methods, chapter)
    h = hashlib.sha256()
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg)
        if len(rel.parts) == 1 and rel.name in NOT_IN_FINGERPRINT:
            continue
        if rel.parts[0] == "methods" and rel.name in _METHODS_NOT_IN_FINGERPRINT:
            continue
        if packages is not None and rel.parts[0] == "methods" and len(rel.parts) > 2 and rel.parts[1] not in packages:
            continue
        h.update(str(rel).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _canonical(config: Mapping[str, Any]) -> str:
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), default=_plain)
    except TypeError as exc:
        raise ValueError(f"experiment configuration must be JSON-like (numbers, strings, lists, dicts): {exc}") from exc


def _plain(obj: Any) -> Any:
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    raise TypeError(f"{type(obj).__name__} is not a plain value")


def config_key(config: Mapping[str, Any], *, code: str | None = None) -> str:
    """Stable 20-hex-digit key of ``config`` plus the code fingerprint (default: that of the chapter
    ``config["chapter"]`` names, else of all of ``fer_core``)."""
    chapter = config.get("chapter") if isinstance(config.get("chapter"), str) else None
    payload = _canonical(config) + "|" + (code if code is not None else code_fingerprint(chapter))
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _scalars(result: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in result.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
        elif isinstance(v, torch.Tensor) and v.numel() == 1:
            out[k] = v.item()
        elif isinstance(v, Mapping):
            out[k] = _scalars(v)
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str, bool)) for x in v) and len(v) <= 64:
            out[k] = list(v)
    return out


class ResultStore:
    """Results of one chapter's experiments, on disk.

    >>> store = ResultStore("fesr")                       # doctest: +SKIP
    >>> res = store.cached({"variant": "FESR_JL", "fold": 0}, lambda: run(...))  # doctest: +SKIP
    """

    def __init__(self, chapter: str, *, root: str | os.PathLike | None = None):
        if not chapter or "/" in chapter:
            raise ValueError(f"chapter must be a plain name, got {chapter!r}")
        self.chapter = chapter
        self.dir = Path(root) if root is not None else cache_root() / "results" / chapter
        self.hits = 0
        self.misses = 0

    def path(self, config: Mapping[str, Any]) -> Path:
        return self.dir / f"{config_key(config, code=code_fingerprint(self.chapter))}.pt"

    def load(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        path = self.path(config)
        if not path.exists():
            return None
        entry = load_checkpoint(path)
        return entry["result"]

    def meta(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """The JSON sidecar of a stored result (configuration, code fingerprint, ``created``,
        ``seconds``), or ``None`` when nothing is stored for ``config``."""
        path = self.path(config).with_suffix(".json")
        return json.loads(path.read_text()) if path.exists() else None

    def save(self, config: Mapping[str, Any], result: Mapping[str, Any], *, seconds: float | None = None) -> Path:
        path = self.path(config)
        meta = {
            "chapter": self.chapter,
            "config": json.loads(_canonical(config)),
            "code": code_fingerprint(self.chapter),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "seconds": seconds,
        }
        save_checkpoint({"meta_json": json.dumps(meta), "result": dict(result)}, path)
        atomic_write_json(path.with_suffix(".json"), {**meta, "result": _scalars(result)})
        return path

    def cached(self, config: Mapping[str, Any], fn: Callable[[], Mapping[str, Any]], *, force: bool = False) -> dict[str, Any]:
        """Return the stored result for ``config``, computing and storing it with ``fn()`` if absent."""
        if not force:
            hit = self.load(config)
            if hit is not None:
                self.hits += 1
                return hit
        self.misses += 1
        t0 = time.perf_counter()
        result = dict(fn())
        self.save(config, result, seconds=time.perf_counter() - t0)
        return result

    def entries_count(self) -> int:
        """How many results this chapter's store holds (any configuration, any code)."""
        return sum(1 for _ in self.dir.glob("*.json")) if self.dir.exists() else 0

    def same_config_other_code(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """The sidecar of a result stored for ``config`` by other ``fer_core`` code (a stale result),
        newest first, or ``None``."""
        def own(c: Mapping[str, Any]) -> Any:  # the dependencies' keys carry their code fingerprints too
            c = json.loads(_canonical(c))
            if isinstance(c.get("config"), dict):
                c["config"].pop("after", None)
            return c

        want, code = own(config), code_fingerprint(self.chapter)
        found = [e for e in self.entries() if own(e.get("config", {})) == want and e.get("code") != code]
        return max(found, key=lambda e: e.get("created", "")) if found else None

    def entries(self) -> list[dict[str, Any]]:
        """Every stored entry's JSON sidecar (configuration, timing, scalars)."""
        return [json.loads(p.read_text()) for p in sorted(self.dir.glob("*.json"))]
