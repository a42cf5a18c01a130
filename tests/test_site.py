"""The course's website (`make site`, sidebyside.instructor.site), built and read in Chromium.

The site is built from the lessons' executions in the cache (.site-cache/executed/): in `make
test` those that tests/test_browser.py stores from its JupyterLab runs, so no lesson runs twice.
This module's group starts after every other (conftest.START_LAST) and waits for the browser runs
still going; a lesson with no browser run in this session (no Chromium, or only this module
selected) and no cached execution is executed here, once, headless.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from browser import find_chromium, headless_chromium
from conftest import ARTIFACTS, ROOT, START_LAST, lessons, longest_first

from sidebyside import course
from sidebyside.instructor import site

SHOTS = ARTIFACTS / "site"
#: How long to wait for the browser runs of other workers (the whole suite's length, and more).
WAIT_FOR_BROWSER_RUNS_S = 60 * 60
SESSION_START = time.time()


def browser_runs_in_session(session) -> set[str]:
    """The lessons that tests/test_browser.py runs in this session (and so stores for the site)."""
    if find_chromium() is None:
        return set()
    return {
        item.callspec.params["lesson"]
        for item in session.items
        if item.nodeid.startswith("tests/test_browser.py::test_lesson_runs_in_jupyterlab[") and hasattr(item, "callspec")
    }


def wait_for_executions(lessons_to_wait_for: list[Path]) -> None:
    deadline = time.monotonic() + WAIT_FOR_BROWSER_RUNS_S
    pending = list(lessons_to_wait_for)
    while pending and time.monotonic() < deadline:
        for lesson in list(pending):
            failure = site.failure_path(ROOT, lesson)
            if site.executed_path(ROOT, lesson).is_file():
                pending.remove(lesson)
            elif failure.is_file() and failure.stat().st_mtime >= SESSION_START:
                pytest.fail(f"the site needs {lesson.name}'s execution from tests/test_browser.py, which failed: {failure.read_text()[:1500]}")
        time.sleep(2)
    if pending:
        pytest.fail(f"no execution of {[p.name for p in pending]} from tests/test_browser.py after {WAIT_FOR_BROWSER_RUNS_S} s")


@pytest.fixture(scope="module")
def built_site(request, tmp_path_factory):
    """The site, built twice into a scratch folder (cold, then warm), with the seconds each took."""
    by_browser = browser_runs_in_session(request.session)
    missing = site.missing_executions(ROOT)
    site.execute_missing(ROOT, only=[p for p in missing if p.name not in by_browser])
    wait_for_executions([p for p in missing if p.name in by_browser])
    work = tmp_path_factory.mktemp("site")
    timings = {}
    for build in ("cold Sphinx, cached executions", "warm"):
        start = time.monotonic()
        output = site.build(ROOT, work / "_site", work / "cache", execute=False)
        timings[build] = round(time.monotonic() - start, 1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "build-seconds.json").write_text(json.dumps(timings, indent=1) + "\n")
    print(f"site build seconds: {timings}")
    return output, timings


def test_a_text_change_keeps_the_execution_a_code_change_needs_a_new_one():
    lesson = site.read_notebook(ROOT / "lessons" / "01-learning-curve.ipynb")
    key = site.code_key(lesson)
    markdown = next(cell for cell in lesson["cells"] if cell["cell_type"] == "markdown")
    markdown["source"] = site.cell_source(markdown) + "\nA new sentence."
    assert site.code_key(lesson) == key, "a change of a lesson's text should keep its cached execution"
    code = next(cell for cell in lesson["cells"] if cell["cell_type"] == "code")
    code["source"] = site.cell_source(code) + "\nprint('changed')"
    assert site.code_key(lesson) != key, "a change of a lesson's code should need a new execution"


def test_a_rebuild_after_a_text_change_uses_the_cached_execution(built_site, tmp_path):
    """Edit the text of lesson 01 in a copy of the course: its page changes, and it still has
    its cached execution (nothing to execute); no other page changes."""
    output, _ = built_site
    course_copy = tmp_path / "course"
    for folder in ("lessons", "exercises", "site", f"{site.CACHE_DIR}/executed"):
        shutil.copytree(ROOT / folder, course_copy / folder)
    sources = tmp_path / "sources"
    shutil.copytree(output.parent / "cache" / "sources", sources)
    lesson = course_copy / "lessons" / "01-learning-curve.ipynb"
    notebook = site.read_notebook(lesson)
    markdown = next(cell for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    markdown["source"] = site.cell_source(markdown) + "\n\nA sentence added after the lesson ran."
    lesson.write_text(json.dumps(notebook, indent=1))
    assert site.missing_executions(course_copy) == [], "a change of text should keep the lesson's cached execution"
    changed = site.write_sources(course_copy, sources)
    assert changed == ["lessons/01-learning-curve.ipynb", "_notebooks/lessons/01-learning-curve.ipynb"], f"only lesson 01's page and download should change, changed: {changed}"
    assert "A sentence added after the lesson ran." in (sources / "lessons" / "01-learning-curve.ipynb").read_text()


def test_the_site_starts_after_every_other_group():
    groups = {"tests/test_site.py": 8, "tests/test_browser.py[05-parallelism]": 1, "tests/test_browser.py[00-welcome]": 1}
    order = longest_first(groups, {"tests/test_site.py": 900.0, "tests/test_browser.py[05-parallelism]": 98.0})
    assert order[-1] in START_LAST, f"the site's group waits for the browser runs and must start last, got {order}"


def test_an_assignment_page_refuses_a_solution():
    solution = site.read_notebook(next((ROOT / "solutions").glob("*/*.ipynb")))
    with pytest.raises(site.SiteError, match="BEGIN SOLUTION|BEGIN HIDDEN TESTS"):
        site.assignment_page(solution, "download.ipynb")


def test_a_rebuild_rewrites_no_source_that_did_not_change(built_site, tmp_path):
    """What keeps a warm build within its budget (measured in test-artifacts/site/build-seconds.json,
    not enforced on a busy machine): the sources are rewritten only where they changed, so
    Sphinx re-reads nothing."""
    output, timings = built_site
    sources = output.parent / "cache" / "sources"
    assert site.write_sources(ROOT, sources) == [], "a rebuild with nothing changed should rewrite no source"


# --- In Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(built_site):
    """The built site over HTTP on loopback, as `python -m http.server` serves it."""
    output, _ = built_site
    handler = functools.partial(QuietHandler, directory=str(output))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield output, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    yield from headless_chromium("SITE BROWSER TESTS SKIPPED")


class Visit:
    """One page opened in Chromium, with every request it made."""

    def __init__(self, browser, base: str, path: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(f"{base}/{path}", wait_until="networkidle")
        self.path = path

    def close(self):
        self.context.close()


def pages(output: Path) -> list[str]:
    return sorted(str(p.relative_to(output)) for p in output.rglob("*.html") if not p.relative_to(output).parts[0].startswith("_"))


def lesson_pages(output: Path) -> list[str]:
    return [p for p in pages(output) if p.startswith("lessons/")]


def assignment_pages(output: Path) -> list[str]:
    return [p for p in pages(output) if p.startswith("exercises/")]


def test_every_lesson_and_assignment_has_a_page(built_site):
    output, _ = built_site
    assert lesson_pages(output) == [f"lessons/{p.stem}.html" for p in lessons()]
    expected = sorted(f"exercises/{p.parent.name}/{p.stem}.html" for p in (ROOT / "exercises").glob("*/*.ipynb"))
    assert assignment_pages(output) == expected


LINKS_JS = """() => [...document.querySelectorAll('a[href], img[src], link[href], script[src]')]
    .map(e => e.href || e.src).filter(u => u && !u.startsWith('javascript:'))"""


def test_every_page_renders_locally_with_working_links(served, browser):
    """Every page: its article has text, nothing is asked of any server but the site's own, and
    every link into the site leads to a file that is there."""
    output, base = served
    problems = []
    for path in pages(output):
        visit = Visit(browser, base, path)
        try:
            text = visit.page.locator("main").first.inner_text()
            if path not in ("genindex.html", "search.html") and len(text.strip()) < 200:
                problems.append(f"{path}: its article shows almost nothing: {text!r}")
            outside = [url for url in visit.requests if not url.startswith(base + "/") and not url.startswith(("data:", "blob:"))]
            if outside:
                problems.append(f"{path}: requests outside the site: {outside}")
            for url in visit.page.evaluate(LINKS_JS):
                if not url.startswith(base + "/"):
                    continue
                target = urllib.parse.unquote(urllib.parse.urlsplit(url).path).lstrip("/")
                file = output / target
                if file.is_dir():
                    file = file / "index.html"
                if not file.is_file():
                    problems.append(f"{path}: broken link to {target}")
        finally:
            visit.close()
    assert not problems, "\n".join(problems)


def test_a_lesson_page_shows_outputs_and_both_frameworks_side_by_side(served, browser):
    output, base = served
    problems = []
    for path in lesson_pages(output):
        name = Path(path).stem
        visit = Visit(browser, base, path)
        try:
            page = visit.page
            outputs = page.locator(".cell_output").count()
            if outputs < 1:
                problems.append(f"{path}: no output")
            for tag in ("tag_pytorch", "tag_tensorflow"):
                code = page.locator(f".{tag} .cell_input").all_inner_texts()
                if not any(text.strip() for text in code):
                    problems.append(f"{path}: no code cell tagged {tag[4:]}")
            if not page.locator(".sbs-pair").count():
                problems.append(f"{path}: no PyTorch and TensorFlow pair side by side")
            colab = page.locator(f'a[href="{course.colab_url(f"lessons/{name}.ipynb")}"]')
            if not colab.count():
                problems.append(f"{path}: no Open in Colab badge for lessons/{name}.ipynb")
            download = page.locator("a.download").first
            href = download.get_attribute("href") if download.count() else None
            if not href:
                problems.append(f"{path}: no download link")
            elif (output / "lessons" / urllib.parse.unquote(href)).resolve().read_bytes() != (ROOT / "lessons" / f"{name}.ipynb").read_bytes():
                problems.append(f"{path}: the download is not the lesson's notebook")
            executed = site.read_notebook(site.executed_path(ROOT, ROOT / "lessons" / f"{name}.ipynb"))
            live = [o for c in executed["cells"] for o in c.get("outputs", []) if site.is_live(o)]
            pictured = [o for o in live if "image/png" in o.get("data", {})]
            notes = page.locator("p.sbs-live-note").count()
            if notes != len(live):
                problems.append(f"{path}: {len(live)} live output(s) in the execution, but {notes} note(s) saying they are live in JupyterLab or on Colab")
            shown = page.locator("p.sbs-live-note", has_text="shown as it was").count()
            if shown != len(pictured):
                problems.append(f"{path}: the execution has {len(pictured)} picture(s) of live outputs, the page shows {shown}")
            if name == "05-parallelism":
                page.locator(".sbs-pair").first.scroll_into_view_if_needed()
                page.screenshot(path=str(SHOTS / "05-parallelism.png"))
                page.locator("p.sbs-live-note").last.scroll_into_view_if_needed()
                page.screenshot(path=str(SHOTS / "05-parallelism-scaling-widget.png"))
        finally:
            visit.close()
    assert not problems, "\n".join(problems)


def secret_lines(solution: Path) -> set[str]:
    """Lines of the solution and hidden-test regions that appear nowhere else in the source
    (a line such as ``import torch`` also outside a region is no secret)."""
    inside, outside = set(), set()
    for cell in site.read_notebook(solution)["cells"]:
        region = None
        for line in site.cell_source(cell).splitlines():
            stripped = line.strip()
            if re.match(r"#+ BEGIN (SOLUTION|HIDDEN TESTS)", stripped):
                region = stripped
                continue
            if re.match(r"#+ END (SOLUTION|HIDDEN TESTS)", stripped):
                region = None
                continue
            (inside if region else outside).add(stripped)
    return {line for line in inside - outside if len(line) >= 8}


def test_an_assignment_page_shows_no_solution_and_no_hidden_test(served, browser):
    output, base = served
    problems = []
    for path in assignment_pages(output):
        assignment = Path(path).parent.name
        secrets = secret_lines(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
        assert secrets, f"expected solution or hidden-test lines in solutions/{assignment}"
        visit = Visit(browser, base, path)
        try:
            shown = visit.page.locator("body").inner_text()
            download = visit.page.locator("a.download").first.get_attribute("href")
            downloaded = site.read_notebook(output / Path(path).parent / urllib.parse.unquote(download))
        finally:
            visit.close()
        if "YOUR CODE HERE" not in shown:
            problems.append(f"{path}: expected the student's version (with 'YOUR CODE HERE')")
        # whole lines: a solution's `loss.backward()` may well be named in the task's prose
        page_lines = {line.strip() for line in shown.splitlines()}
        download_lines = {line.strip() for cell in downloaded["cells"] for line in site.cell_source(cell).splitlines()}
        for line in sorted(secrets):
            for where, lines in (("page", page_lines), ("download", download_lines)):
                if line in lines:
                    problems.append(f"{path}: its {where} shows a line of a solution or hidden test: {line!r}")
    assert not problems, "\n".join(problems)


def test_the_search_box_finds_a_lesson(served, browser):
    output, base = served
    visit = Visit(browser, base, "index.html")
    try:
        visit.page.locator("button.search-button-field").first.click()  # opens the theme's search dialog
        box = visit.page.locator("input[name='q']:visible").first
        box.fill("DistributedDataParallel")
        box.press("Enter")
        visit.page.wait_for_selector("#search-results li a", timeout=30_000)
        found = visit.page.locator("#search-results li a").evaluate_all("links => links.map(a => a.href)")
    finally:
        visit.close()
    assert any("lessons/05-parallelism.html" in url for url in found), f"searching DistributedDataParallel should find lesson 05, found {found}"


def test_the_home_page_is_lesson_00s_map(served, browser):
    output, base = served
    visit = Visit(browser, base, "index.html")
    try:
        hrefs = visit.page.locator("article a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    finally:
        visit.close()
    for lesson in lessons():
        assert f"lessons/{lesson.stem}.html" in hrefs, f"the home page's map should link lessons/{lesson.stem}.html, links: {hrefs}"
