"""The chapter runner: discovery, parameter injection, failures named by chapter and cell."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import pytest

from fer_core import book
from fer_core.cli import main

OK = '''\
# %% tags=["parameters"]
profile = "small"
seed = 0
data_root = None
device = "auto"

# %%
print(f"profile={profile} seed={seed}")
REPO = "__FER_REPOSITORY_URL__"
'''

BAD = '''\
# %% tags=["parameters"]
profile = "small"

# %%
x = 1

# %%
raise ValueError("the third cell breaks")
'''


@pytest.fixture
def mini_repo(tmp_path: Path) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "_config.yml").write_text("title: t\nrepository:\n  url: https://example.org/r\n")
    (tmp_path / "book" / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: book/intro
        parts:
          - caption: C
            chapters:
              - file: notebooks/ok
              - file: notebooks/bad
              - file: book/page
        """))
    (tmp_path / "notebooks" / "ok.py").write_text(OK)
    (tmp_path / "notebooks" / "bad.py").write_text(BAD)
    return tmp_path


def test_chapters_come_from_the_toc_in_order(mini_repo):
    assert [c.name for c in book.chapters(mini_repo)] == ["ok", "bad"]


def test_unknown_chapter_is_a_clear_error(mini_repo):
    with pytest.raises(book.ChapterError, match=r"unknown chapter\(s\) nope; the book has: ok, bad"):
        book.run_book(only=["nope"], root=mini_repo, build=False)


def test_toc_entry_without_source_is_named(mini_repo):
    (mini_repo / "notebooks" / "bad.py").unlink()
    with pytest.raises(book.ChapterError, match=r"lists 'notebooks/bad' but .*bad.py does not exist"):
        book.chapters(mini_repo)


def test_unknown_profile_is_refused(mini_repo):
    with pytest.raises(book.ChapterError, match="unknown profile 'huge'"):
        book.run_book(profile="huge", root=mini_repo, build=False)


def test_parameters_are_injected_and_repository_url_filled(mini_repo):
    code = book.run_book(profile="smoke", only=["ok"], seed=7, root=mini_repo, build=False, progress=False)
    assert code == 0
    nb = nbformat.read(mini_repo / "_build" / "executed" / "ok.ipynb", as_version=4)
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "profile=smoke seed=7" in outputs
    assert "https://example.org/r" in "".join(c.source for c in nb.cells)


def test_failing_cell_gives_nonzero_exit_naming_chapter_and_cell(mini_repo, capsys):
    code = book.run_book(profile="smoke", only=["ok", "bad"], root=mini_repo, build=False, progress=False)
    assert code == 1
    err = capsys.readouterr().err
    assert "chapter 'bad'" in err and "failed in cell" in err and "ValueError: the third cell breaks" in err


def test_cli_reports_unknown_chapter_without_traceback(mini_repo, monkeypatch, capsys):
    monkeypatch.chdir(mini_repo)
    assert main(["book", "--only", "nope", "--no-build"]) == 2
    assert "unknown chapter(s) nope" in capsys.readouterr().err


def test_convert_all_writes_ipynb_for_every_chapter(mini_repo):
    paths = book.convert_all(mini_repo / "out", root=mini_repo)
    assert [p.name for p in paths] == ["ok.ipynb", "bad.ipynb"]
    nb = json.loads(paths[0].read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "parameters" in nb["cells"][0]["metadata"]["tags"]


def test_every_real_chapter_has_a_parameters_cell_reading_fer_profile():
    root = book.find_root(Path(__file__).parent)
    for chapter in book.chapters(root):
        text = chapter.source.read_text()
        assert '# %% tags=["parameters"]' in text, chapter.source
        assert 'os.environ.get("FER_PROFILE", "small")' in text, chapter.source
