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


def _outputs(cell) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))


def test_parameters_are_injected_hidden_and_shown_in_the_provenance_block(mini_repo):
    code = book.run_book(profile="smoke", only=["ok"], seed=7, root=mini_repo, build=False, progress=False)
    assert code == 0
    executed = mini_repo / "_build" / "executed"
    assert sorted(p.name for p in executed.iterdir()) == ["ok.ipynb"]  # no partial file left behind
    nb = nbformat.read(executed / "ok.ipynb", as_version=4)
    assert "profile=smoke seed=7" in "".join(_outputs(c) for c in nb.cells)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata.tags
    assert 'profile = "smoke"' in injected[0].source
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "git+https://example.org/r" in first.source and first.metadata.tags == ["remove-cell"]
    last = nb.cells[-1]
    assert last.metadata.tags == ["remove-input"] and nb.cells[-2].source == book.PROVENANCE_HEADING
    block = dict(line.split(None, 1) if " " in line else (line, "") for line in _outputs(last).splitlines())
    assert block["chapter"].strip() == "ok" and block["profile"].strip() == "smoke"
    assert block["experiments"].strip() == "no experiments"
    assert block["data"].strip() == "synthetic world, seed 7"
    assert "text/html" in last.outputs[0]["data"] and "fer-provenance" in last.outputs[0]["data"]["text/html"]


def test_a_failed_chapter_keeps_its_previous_executed_notebook(mini_repo):
    assert book.run_book(profile="smoke", only=["ok"], root=mini_repo, build=False, progress=False) == 0
    good = (mini_repo / "_build" / "executed" / "ok.ipynb").read_text()
    (mini_repo / "notebooks" / "ok.py").write_text(OK + '\n# %%\nraise ValueError("now broken")\n')
    assert book.run_book(profile="smoke", only=["ok"], root=mini_repo, build=False, progress=False) == 1
    assert (mini_repo / "_build" / "executed" / "ok.ipynb").read_text() == good
    assert "now broken" in (mini_repo / "_build" / "executed" / "ok.partial.ipynb").read_text()


def test_build_dir_is_where_executed_notebooks_go(mini_repo, tmp_path, monkeypatch):
    monkeypatch.chdir(mini_repo)
    out = tmp_path / "elsewhere"
    assert main(["book", "--profile", "smoke", "--only", "ok", "--no-build", "--build-dir", str(out)]) == 0
    assert (out / "executed" / "ok.ipynb").is_file()
    assert not (mini_repo / "_build" / "executed").exists()


def test_a_chapter_with_its_own_colab_cell_is_refused_naming_the_file(mini_repo):
    colab = '# %%\nimport sys\nif "google.colab" in sys.modules:\n    print("git+__FER_REPOSITORY_URL__")\n\n'
    (mini_repo / "notebooks" / "ok.py").write_text(colab + OK)
    with pytest.raises(book.ChapterError, match=r"ok\.py carries its own Colab install cell.*delete it"):
        book.convert_all(mini_repo / "out", root=mini_repo)


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
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    assert tags[0] == ["remove-cell"] and "parameters" in tags[1] and tags[-1] == ["remove-input"]
    assert "_fer_provenance.start('ok')" in "".join(nb["cells"][0]["source"])
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])


def test_book_cells_go_before_the_first_code_cell_after_the_title(tmp_path):
    source = tmp_path / "t.py"
    source.write_text("# %% [markdown]\n# # Title\n\n# %%\nx = 1\n")
    out = book.convert(book.Chapter("t", source, "notebooks/t"), tmp_path / "out", repo_url="u")
    cells = nbformat.read(out, as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "code", "markdown", "code"]
    assert cells[0].source == "# Title" and "remove-cell" in cells[1].metadata.tags and cells[2].source == "x = 1"


def test_hide_injected_parameters_tags_only_papermills_cell():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("a = 2", metadata={"tags": ["injected-parameters"]})])
    assert book.hide_injected_parameters(nb) == 1 and book.hide_injected_parameters(nb) == 0
    assert [c.metadata.tags for c in nb.cells] == [["parameters"], ["injected-parameters", "remove-cell"]]


def test_each_inline_script_is_listed_once_per_page():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [_JavaScript(None, body="const A = 1"), _JavaScript("x.js"), _JavaScript("", body="const A = 1"),
               _JavaScript("x.js"), _JavaScript(None, body="const B = 2")]
    context = {"script_files": scripts}
    book._unique_scripts(None, "p", "page.html", context, None)
    assert context["script_files"] is scripts
    assert [(s.filename, s.attributes.get("body")) for s in scripts] == [
        (None, "const A = 1"), ("x.js", None), (None, "const B = 2")]


ROOT = book.find_root(Path(__file__).parent)
MAX_CODE_LINE = 100


def test_every_real_chapter_has_a_parameters_cell_reading_fer_profile():
    for chapter in book.chapters(ROOT):
        text = chapter.source.read_text()
        assert '# %% tags=["parameters"]' in text, chapter.source
        assert 'os.environ.get("FER_PROFILE", "small")' in text, chapter.source


def _too_long(text: str) -> list[str]:
    return [f"line {n}: {len(line)} characters" for n, line in enumerate(text.splitlines(), 1)
            if len(line) > MAX_CODE_LINE and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("source", sorted((ROOT / "notebooks").glob("*.py")), ids=lambda p: p.name)
def test_notebook_code_lines_fit_the_page(source):
    """A reader never scrolls sideways to read code (book/_static/fer.css sizes code for 100
    characters); markdown and comment lines (starting with ``#``) are prose and may be longer."""
    assert _too_long(source.read_text()) == [], f"{source}: code lines over {MAX_CODE_LINE} characters"


def test_the_line_length_check_sees_long_code_and_spares_prose():
    assert _too_long("x = 1\n# " + "p" * 120 + "\n    # " + "c" * 120 + "\n") == []
    assert _too_long("y = '" + "a" * 100 + "'\n") == ["line 1: 106 characters"]


# ------------------------------------------------------------------------------------ provenance
def test_provenance_counts_the_experiments_of_the_chapters_studies(tmp_path):
    import gc

    from fer_core import provenance
    from fer_core.results import ResultStore
    from tests._toys import ToyStudy

    P = {"folds": 2, "seeds": (0,)}
    provenance.start("toy")

    def study():
        return ToyStudy(P, ToyStudy.build_data(P), device="cpu", store=ResultStore("toy", root=tmp_path / "r"),
                        run_root=tmp_path / "runs", progress=False)

    first = study()
    first.result("pre", 0, 0)
    first.result("fast", 0, 0)
    assert provenance.studies() == [first]
    del first  # weakly held: a study the chapter dropped is not counted, and the tests keep none alive
    gc.collect()
    second = study()  # a rebuild reads what the first computed and computes the rest
    second.run_all(workers=1)
    assert provenance.studies() == [second]
    rows = provenance.collect({"profile": "ignored"}).as_dict()
    assert rows["chapter"] == "toy" and rows["profile"] == "custom"
    assert rows["data"] == "blobs, data seed 0, 2 splits, run seed 0"
    assert rows["device"].startswith("cpu (")
    assert rows["experiments"] == "6: 4 computed in this run, 2 from the results cache"
    del second
    gc.collect()
    assert provenance.studies() == []
    assert provenance.collect({"seed": 3, "data_root": None, "profile": "smoke"}).as_dict()["experiments"] \
        == "no experiments"
    provenance.start("next")
    assert provenance.collect({}).as_dict()["chapter"] == "next"


def test_provenance_version_and_commit():
    import subprocess

    from fer_core import provenance

    assert provenance.fer_version() == "0.1.0"
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:
        assert provenance.git_commit().split()[0] == head.stdout.strip()


def test_provenance_commit_is_unknown_without_git(monkeypatch):
    from fer_core import provenance

    def no_git(*args):
        raise FileNotFoundError("git")

    monkeypatch.setattr(provenance, "_git", no_git)
    assert provenance.git_commit() == "unknown"


def test_provenance_wall_time_counts_from_start(monkeypatch):
    from fer_core import provenance

    clock = iter([100.0, 175.5])
    monkeypatch.setattr(provenance.time, "perf_counter", lambda: next(clock))
    provenance.start("t")
    assert provenance.collect({}).as_dict()["wall time"] == "1 min 16 s"
