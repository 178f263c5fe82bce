"""The chapter runner: ``notebooks/*.py`` --jupytext--> ``.ipynb`` --papermill--> executed --> Jupyter Book.

``fer book --profile small`` executes every chapter listed in ``book/_toc.yml`` with
papermill (injecting ``profile``, ``seed``, ``data_root`` and ``device`` into the
notebook's ``parameters`` cell), writes the executed notebooks to ``_build/executed``
(git-ignored) and builds the HTML book into ``_build/html``. A failing chapter stops the
run with a non-zero exit naming the chapter and the cell; ``--keep-going`` builds the rest.

The book is built from a staging copy (``_build/src``) that mirrors the repository
layout, so the sources never mix with build outputs.

Converting a chapter adds what no chapter source should carry by hand (see :func:`convert`):
a first code cell that installs ``fer_core`` on Google Colab and starts the chapter's clock,
and a last cell (input hidden) with the page's provenance (:mod:`fer_core.provenance`).
After execution the parameters cell papermill injects is removed from the rendered page
(its values are in the provenance block).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

__all__ = ["Chapter", "ChapterError", "find_root", "chapters", "convert", "execute", "hide_injected_parameters",
           "build_html", "run_book"]

REPO_URL_TOKEN = "__FER_REPOSITORY_URL__"


class ChapterError(RuntimeError):
    """A chapter could not be found, converted or executed."""


@dataclass(frozen=True)
class Chapter:
    name: str  # e.g. "fesr"
    source: Path  # notebooks/fesr.py
    toc_file: str  # notebooks/fesr (as written in _toc.yml)


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The repository root: the nearest folder upwards holding ``_config.yml`` and ``notebooks/``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    raise ChapterError(f"no fer-book checkout found at or above {here} (looked for _config.yml and notebooks/)")


def _toc_files(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(str(node["file"]))
        for key in ("root", "parts", "chapters", "sections"):
            if key in node:
                value = node[key]
                out.extend([str(value)] if key == "root" and isinstance(value, str) else _toc_files(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_toc_files(item))
    return out


def chapters(root: Path, *, toc: Path | None = None) -> list[Chapter]:
    """The notebook chapters listed in the table of contents, in book order."""
    toc = toc or root / "book" / "_toc.yml"
    if not toc.is_file():
        raise ChapterError(f"table of contents {toc} is missing")
    found = []
    for entry in _toc_files(yaml.safe_load(toc.read_text())):
        if entry.startswith("notebooks/"):
            source = root / f"{entry}.py"
            if not source.is_file():
                raise ChapterError(f"{toc} lists {entry!r} but {source} does not exist")
            found.append(Chapter(name=Path(entry).name, source=source, toc_file=entry))
    return found


def select(all_chapters: Sequence[Chapter], only: Sequence[str] | None) -> list[Chapter]:
    if not only:
        return list(all_chapters)
    by_name = {c.name: c for c in all_chapters}
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise ChapterError(f"unknown chapter(s) {', '.join(unknown)}; the book has: {', '.join(by_name) or 'none'}")
    return [c for c in all_chapters if c.name in only]  # book order: the report page runs last


def repository_url(root: Path) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    return str((config.get("repository") or {}).get("url", ""))


#: What :func:`convert` puts before a chapter's first code cell (removed from the rendered page).
START_CELL = """\
# Added by fer_core.book. On Google Colab, install fer_core from the repository first (nothing
# happens elsewhere); then start the clock of this page's provenance block.
import sys as _sys
if "google.colab" in _sys.modules:
    import subprocess as _subprocess
    _subprocess.run([_sys.executable, "-m", "pip", "install", "-q", "git+{repo_url}"], check=True)
from fer_core import provenance as _fer_provenance
_fer_provenance.start({chapter!r})"""

#: The heading and the cell (input hidden) :func:`convert` puts at the end of every chapter.
PROVENANCE_HEADING = "## Provenance of this page"
PROVENANCE_CELL = """\
# Added by fer_core.book: where this page's numbers came from, computed at the end of the run.
from fer_core import provenance as _fer_provenance
_fer_provenance.collect(globals())"""

#: Tags that keep book-added cells (and papermill's injected parameters) off the rendered page.
REMOVE_CELL, REMOVE_INPUT = "remove-cell", "remove-input"
INJECTED_PARAMETERS = "injected-parameters"


def convert(chapter: Chapter, out_dir: Path, *, repo_url: str = "") -> Path:
    """Jupytext percent ``.py`` -> ``.ipynb`` in ``out_dir``, with the book's own cells added.

    Before the first code cell: the Colab install (from ``repo_url``) and the start of the
    chapter's clock (tag ``remove-cell``). At the end: a "Provenance of this page" heading and
    a cell that shows :func:`fer_core.provenance.collect` (tag ``remove-input``).
    """
    import jupytext
    import nbformat

    notebook = jupytext.read(chapter.source, fmt="py:percent")
    for cell in notebook.cells:
        if cell.cell_type == "code" and REPO_URL_TOKEN in cell.source:  # the old copy-pasted install cell
            raise ChapterError(
                f"{chapter.source} carries its own Colab install cell; fer_core.book adds that cell to every "
                "chapter now: delete it from the chapter source")
    start = nbformat.v4.new_code_cell(START_CELL.format(repo_url=repo_url, chapter=chapter.name),
                                      metadata={"tags": [REMOVE_CELL]})
    first_code = next((i for i, c in enumerate(notebook.cells) if c.cell_type == "code"), len(notebook.cells))
    notebook.cells.insert(first_code, start)
    notebook.cells.append(nbformat.v4.new_markdown_cell(PROVENANCE_HEADING))
    notebook.cells.append(nbformat.v4.new_code_cell(PROVENANCE_CELL, metadata={"tags": [REMOVE_INPUT]}))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    target = out_dir / f"{chapter.name}.ipynb"
    _write_notebook(notebook, target)
    return target


def _write_notebook(notebook: Any, target: Path) -> None:
    """Write ``notebook`` atomically (the old file or the new one, never a torn one)."""
    import nbformat

    from fer_core.io import atomic_write_bytes

    atomic_write_bytes(target, (nbformat.writes(notebook) + "\n").encode())


def hide_injected_parameters(notebook: Any) -> int:
    """Tag papermill's injected parameters cell(s) ``remove-cell``; return how many were tagged."""
    tagged = 0
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if INJECTED_PARAMETERS in tags and REMOVE_CELL not in tags:
            cell.metadata["tags"] = [*tags, REMOVE_CELL]
            tagged += 1
    return tagged


def execute(chapter: Chapter, notebook: Path, out_dir: Path, *, parameters: dict[str, Any], progress: bool = True) -> Path:
    """Run ``notebook`` with papermill; raise :class:`ChapterError` naming the failing cell.

    Papermill writes into ``<name>.partial.ipynb`` as it goes; only a chapter that ran to the
    end replaces ``<name>.ipynb`` (atomically), with the injected parameters cell hidden.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{chapter.name}.ipynb"
    partial = out_dir / f"{chapter.name}.partial.ipynb"
    try:
        papermill.execute_notebook(str(notebook), str(partial), parameters=parameters, kernel_name="python3",
                                   progress_bar=progress, cwd=str(out_dir), log_output=False)
    except PapermillExecutionError as exc:
        raise ChapterError(
            f"chapter {chapter.name!r} ({chapter.source}) failed in cell {exc.cell_index} "
            f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
            f"The executed notebook with the full traceback is {partial}"
        ) from None
    executed = nbformat.read(partial, as_version=4)
    hide_injected_parameters(executed)
    _write_notebook(executed, target)
    partial.unlink()
    return target


def build_html(root: Path, executed: dict[str, Path], build_dir: Path, *, quiet: bool = True) -> Path:
    """Stage the book sources plus executed notebooks and run ``jupyter-book build``; return index.html."""
    src = build_dir / "src"
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    shutil.copy2(root / "_config.yml", src / "_config.yml")
    shutil.copytree(root / "book", src / "book")
    for name, path in executed.items():
        shutil.copy2(path, src / "notebooks" / f"{name}.ipynb")
    jb = Path(sys.executable).with_name("jupyter-book")
    # --all: when no page is out of date Sphinx skips copying static files, so an edited
    # stylesheet would never reach an otherwise unchanged book (a full build takes seconds).
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(src), "--path-output", str(build_dir / "jb"),
           "--toc", str(src / "book" / "_toc.yml"), "--config", str(src / "_config.yml"), "--all"]
    if quiet:
        cmd.append("-q")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ChapterError(f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    built = build_dir / "jb" / "_build" / "html"
    html = build_dir / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(built, html)
    return html / "index.html"


def run_book(*, profile: str = "small", only: Sequence[str] | None = None, keep_going: bool = False,
             seed: int = 0, data_root: str | None = None, device: str = "auto", build: bool = True,
             root: Path | None = None, build_dir: Path | None = None, toc: Path | None = None,
             progress: bool = True, nproc: int = 1) -> int:
    """Execute the chapters and build the book; return a process exit code."""
    from fer_core.profiles import PROFILE_NAMES

    if profile not in PROFILE_NAMES:
        raise ChapterError(f"unknown profile {profile!r}; choose one of {PROFILE_NAMES}")
    root = root or find_root()
    build_dir = build_dir or root / "_build"
    os.environ.setdefault("FER_CACHE", str(root / ".fer_cache"))
    os.environ.setdefault("FER_PROGRESS", "summary")  # rendered notebooks cannot keep live widgets
    if nproc != 1:
        from fer_core.distributed import NPROC_ENV, check_nproc

        check_nproc(nproc)
        os.environ[NPROC_ENV] = str(nproc)  # chapter kernels inherit it; training runs go through torchrun
    todo = select(chapters(root, toc=toc), only)
    repo_url = repository_url(root)
    params = {"profile": profile, "seed": seed, "data_root": data_root, "device": device}
    executed: dict[str, Path] = {}
    failures: list[str] = []
    t_all = time.perf_counter()
    for chapter in todo:
        t0 = time.perf_counter()
        print(f"[fer book] executing {chapter.name} (profile={profile}) ...", flush=True)
        notebook = convert(chapter, build_dir / "notebooks", repo_url=repo_url)
        try:
            executed[chapter.name] = execute(chapter, notebook, build_dir / "executed", parameters=params,
                                             progress=progress)
        except ChapterError as exc:
            print(f"[fer book] ERROR: {exc}", file=sys.stderr, flush=True)
            failures.append(chapter.name)
            if not keep_going:
                return 1
            continue
        print(f"[fer book] {chapter.name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    if build and executed:
        # Chapters not executed in this run keep their previous executed notebook, if any.
        for chapter in chapters(root, toc=toc):
            previous = build_dir / "executed" / f"{chapter.name}.ipynb"
            if chapter.name not in executed and chapter.name not in failures and previous.exists():
                executed[chapter.name] = previous
        t0 = time.perf_counter()
        index = build_html(root, executed, build_dir)
        print(f"[fer book] HTML book built in {time.perf_counter() - t0:.0f} s: {index}", flush=True)
    print(f"[fer book] total {time.perf_counter() - t_all:.0f} s", flush=True)
    if failures:
        print(f"[fer book] failed chapters: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def convert_all(out_dir: Path, *, root: Path | None = None, only: Sequence[str] | None = None) -> list[Path]:
    """Convert every chapter to ``.ipynb`` (used by the test command before nbval)."""
    root = root or find_root()
    repo_url = repository_url(root)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    return [convert(c, out_dir, repo_url=repo_url) for c in select(chapters(root), only)]


# ------------------------------------------------------------------------ a Sphinx extension (_config.yml)
def setup(app: Any) -> dict[str, Any]:
    """``fer_core.book`` as a Sphinx extension: every page lists each script once.

    Sphinx 7 lists an inline script twice when an extension adds it while the sources are read
    (sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's selector): the second
    ``const`` is an error in every reader's browser console.
    """
    app.connect("html-page-context", _unique_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _unique_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (str(getattr(js, "filename", js) or ""), repr(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique
