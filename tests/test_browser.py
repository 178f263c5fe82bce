"""The built book as a reader sees it, in a real (headless) Chromium, with the network blocked.

``make test`` builds the smoke-profile book after nbval (from nbval's results cache) and
runs this file with ``FER_BOOK_HTML`` pointing at that build's ``html`` folder. Without
the variable the tests skip (build a book first: ``fer book --profile smoke --build-dir
_build/browser``, then ``FER_BOOK_HTML=_build/browser/html pytest tests/test_browser.py``);
the browser tests also skip, with the reason printed, where Chromium or ChromeDriver is
missing (Debian: ``apt-get install chromium chromium-driver``).

Per chapter page the browser tests assert: the math is typeset by MathJax served from the
book itself (no raw ``\\(`` / ``\\[`` left, no request leaves the machine), every ``<img>``
has loaded, every static interpolation slider shows another frame when its input moves,
no code cell scrolls sideways, and the console holds no error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from fer_core import book

ROOT = book.find_root(Path(__file__).parent)
CHAPTERS = [c.name for c in book.chapters(ROOT)]
OTHER_PAGES = [f for f in book._toc_files(yaml.safe_load((ROOT / "book" / "_toc.yml").read_text()))
               if not f.startswith("notebooks/")]
HTML_ENV = "FER_BOOK_HTML"
CHROMIUM = os.environ.get("FER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = os.environ.get("FER_CHROMEDRIVER") or shutil.which("chromedriver")
WIDTH, HEIGHT = 1400, 1000  # a laptop browser window
NARROW = 760  # a narrow window (the side bars fold away)


def _skip(reason: str) -> None:
    print(f"\n[test_browser] skipped: {reason}", flush=True)  # visible with -s and in CI logs
    pytest.skip(reason)


@pytest.fixture(scope="module")
def html_dir() -> Path:
    value = os.environ.get(HTML_ENV)
    if not value:
        _skip(f"{HTML_ENV} is not set: `make test` sets it to the smoke book it builds")
    path = Path(value).resolve()
    if not (path / "index.html").is_file():
        pytest.fail(f"{HTML_ENV}={value} holds no index.html; build the book there first "
                    f"(fer book --profile smoke --build-dir {path.parent})")
    return path


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM or not CHROMEDRIVER:
        _skip("no Chromium/ChromeDriver on PATH (Debian: apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _skip("selenium is not installed (pip install -e '.[test]')")
    profile = tempfile.mkdtemp(prefix="fer-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}", f"--user-data-dir={profile}",
                 "--allow-file-access-from-files"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as exc:  # a browser that does not start is an environment problem, said plainly
        shutil.rmtree(profile, ignore_errors=True)
        _skip(f"Chromium did not start ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    # Whatever the machine's network, a page must not need it: every http(s) request fails.
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


MATHJAX_DONE = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done("no MathJax on the page"); return; }
// MathJax's page-ready promise settles once the page is typeset
MathJax.startup.promise.then(() => done("ok"), (e) => done("MathJax failed: " + e));
"""

RAW_TEX = """
const body = document.body.cloneNode(true);
body.querySelectorAll("pre, code, script, style, mjx-container, textarea").forEach((e) => e.remove());
const text = body.textContent;
const hits = [];
for (const d of ["\\\\(", "\\\\[", "$$"]) {
  const i = text.indexOf(d);
  if (i >= 0) hits.push(text.slice(Math.max(0, i - 30), i + 50));
}
return hits;
"""

BROKEN_IMAGES = """
return Array.from(document.images)
  .filter((img) => !(img.complete && img.naturalWidth > 0))
  .map((img) => (img.currentSrc || img.src || "(no src)").slice(0, 120));
"""

VISIBLE_FRAME = """
const c = arguments[0];
const frames = Array.from(c.querySelectorAll("img.fer-frame"));
const shown = frames.filter((m) => getComputedStyle(m).display !== "none");
return {n: frames.length, shown: shown.map((m) => frames.indexOf(m)), src: shown.map((m) => m.src),
        label: c.querySelector(".fer-label").textContent};
"""

WIDE_CODE = """
const [selector, unwrapped] = arguments;
return Array.from(document.querySelectorAll(selector)).filter((p) => {
  const before = p.style.whiteSpace;
  if (unwrapped) p.style.whiteSpace = "pre";  // as if lines could not wrap
  const wide = p.scrollWidth > p.clientWidth + 1;
  p.style.whiteSpace = before;
  return wide;
}).map((p) => p.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 120));
"""

CELL_CODE = ".cell_input pre"  # the notebook's code cells
SHOWN_CODE = ".cell_output pre"  # what cells print, and library code they show (viz.show_source)
PAGE_WIDER_THAN_WINDOW = "return document.scrollingElement.scrollWidth > window.innerWidth + 1"

REMOTE = """
return performance.getEntriesByType("resource").map((e) => e.name)
  .filter((u) => !u.startsWith("file:") && !u.startsWith("data:") && !u.startsWith("blob:"));
"""


def _open(driver, html_dir: Path, chapter: str, *, folder: str = "notebooks", math: bool = True) -> list[dict]:
    """Load a page, wait for MathJax (Sphinx loads it only on pages with math: ``math=False``
    also accepts a page without it), and return the console entries of the load."""
    page = html_dir / folder / f"{chapter}.html"
    assert page.is_file(), f"{page} was not built; is {chapter!r} in book/_toc.yml?"
    driver.get_log("browser")  # drop entries of an earlier page
    driver.get(page.as_uri())
    driver.set_script_timeout(60)
    state = driver.execute_async_script(MATHJAX_DONE)
    assert state == "ok" or (not math and state == "no MathJax on the page"), f"{page.name}: {state}"
    return driver.get_log("browser")


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page_renders_offline(browser, html_dir, chapter):
    console = _open(browser, html_dir, chapter)
    name = f"notebooks/{chapter}.html"

    mathjax = browser.execute_script("return (document.querySelector('script[src*=\"tex-\"]') || {}).src || ''")
    assert mathjax.startswith("file:"), f"{name}: MathJax is not served by the book itself ({mathjax or 'no script'})"
    typeset = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    assert typeset > 0, f"{name}: no equation was typeset (no mjx-container)"
    assert browser.execute_script(RAW_TEX) == [], f"{name}: raw TeX left in the page text"

    assert browser.execute_script(BROKEN_IMAGES) == [], f"{name}: images that did not load"

    for slider in browser.find_elements("css selector", ".fer-slider"):
        before = browser.execute_script(VISIBLE_FRAME, slider)
        assert before["n"] > 1 and before["shown"] == [0], f"{name}: slider starts on {before['shown']}"
        rng = slider.find_element("css selector", "input[type=range]")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", rng)
        rng.send_keys("\ue010")  # the End key, as a reader would press it
        after = browser.execute_script(VISIBLE_FRAME, slider)
        assert after["shown"] == [before["n"] - 1], f"{name}: the slider shows frame {after['shown']} after End"
        assert after["src"] != before["src"], f"{name}: the slider's last frame is the same image as its first"
        assert after["label"] != before["label"], f"{name}: the slider's caption did not change"

    # No sideways scrolling: at WIDTH every code line fits unwrapped; in a narrow window lines
    # wrap, and wide tables scroll inside their own box, never the page.
    assert browser.execute_script(WIDE_CODE, CELL_CODE, True) == [], f"{name}: code lines too wide at {WIDTH} px"
    for width in (WIDTH, NARROW):
        browser.set_window_size(width, HEIGHT)
        try:
            for code in (CELL_CODE, SHOWN_CODE):
                assert browser.execute_script(WIDE_CODE, code, False) == [], \
                    f"{name}: {code} scrolls sideways at {width} px"
            assert not browser.execute_script(PAGE_WIDER_THAN_WINDOW), f"{name}: the page scrolls sideways at {width} px"
        finally:
            browser.set_window_size(WIDTH, HEIGHT)
    assert browser.execute_script(REMOTE) == [], f"{name}: requests that leave the machine"
    errors = [e["message"] for e in console if e.get("level") == "SEVERE"]
    assert errors == [], f"{name}: errors in the browser console"


@pytest.mark.slow
@pytest.mark.parametrize("page", OTHER_PAGES)
def test_reference_page_renders_offline(browser, html_dir, page):
    """The introduction and reference pages: no raw TeX, images loaded, nothing remote, no console error."""
    console = _open(browser, html_dir, Path(page).name, folder=str(Path(page).parent), math=False)
    assert browser.execute_script(RAW_TEX) == [], f"{page}.html: raw TeX left in the page text"
    assert browser.execute_script(BROKEN_IMAGES) == [], f"{page}.html: images that did not load"
    assert browser.execute_script(REMOTE) == [], f"{page}.html: requests that leave the machine"
    assert [e["message"] for e in console if e.get("level") == "SEVERE"] == [], f"{page}.html: console errors"


@pytest.mark.slow
def test_the_book_has_a_static_slider(browser, html_dir):
    """The slider checks above run on at least one page (the Data chapter has one)."""
    _open(browser, html_dir, "data")
    assert browser.find_elements("css selector", ".fer-slider"), "notebooks/data.html has no interpolation slider"


# ------------------------------------------------------------ the same build, read as HTML (no browser)
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_page_carries_provenance_not_injected_parameters(html_dir, chapter):
    text = (html_dir / "notebooks" / f"{chapter}.html").read_text()
    assert "fer-provenance" in text, f"notebooks/{chapter}.html has no provenance block"
    for label in ("profile", "data", "device", "fer_core", "date", "wall time", "experiments"):
        assert f"<th>{label}</th>" in text, f"notebooks/{chapter}.html: the provenance block lacks {label!r}"
    assert "<th>profile</th><td>smoke</td>" in text, f"notebooks/{chapter}.html was not built in the smoke profile"
    assert "tag_injected-parameters" not in text, f"notebooks/{chapter}.html shows papermill's parameters cell"
    assert "google.colab" not in text, f"notebooks/{chapter}.html shows the Colab install cell"


def test_mathjax_ships_with_the_book(html_dir):
    assert list((html_dir / "_static" / "mathjax").glob("tex-*.js")), f"{html_dir}/_static/mathjax has no MathJax"
