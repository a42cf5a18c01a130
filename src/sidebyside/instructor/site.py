"""The course as a static website (``make site``, ``sidebyside site``): Sphinx with myst-nb and
sphinx-book-theme (CONTRIBUTING.md says why), built offline and loading nothing from the network.

Three stages, each kept apart so that a rebuild does as little as it can:

1. **Executed lessons, cached.** ``.site-cache/executed/NN-topic-KEY.ipynb`` holds one execution of
   a lesson, where KEY hashes the lesson's code cells only: a change of text reuses the entry, a
   change of code needs a new one. The browser tests (tests/test_browser.py) store the notebook
   JupyterLab ran, with a picture of every live output (widgets, embedded server pages) taken in
   Chromium; ``make site`` executes headless only what is missing (live outputs then get a note).
2. **Sources**, ``.site-cache/sources/``: each lesson's current text with the cached outputs,
   badges and links made local, live outputs replaced by their picture; the assignments' student
   versions from ``exercises/`` (never ``solutions/``); the home page from lesson 00's map. A file
   is rewritten only when its content changes, so Sphinx re-reads only what changed.
3. **Sphinx** (``site/conf.py``) writes ``_site/`` (myst-nb never executes anything: execution
   mode "off").
"""

from __future__ import annotations

import base64
import concurrent.futures
import copy
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from sidebyside import course

log = logging.getLogger(__name__)

CACHE_DIR = ".site-cache"
OUTPUT_DIR = "_site"
#: MathJax, vendored from the npm registry at build time: lesson 00 has a formula, and the page
#: must not load MathJax from a CDN.
MATHJAX = ("mathjax", "3.2.2")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: What a reader sees under a live output (a widget, an embedded server page).
LIVE_NOTE = (
    "This output is live in JupyterLab or on Colab (use the <em>Open in Colab</em> badge above): "
    "here it is shown as it was when the lesson ran."
)
LIVE_NOTE_WITHOUT_PICTURE = (
    "A live output (a widget or an embedded server page) was here. It runs in JupyterLab or on Colab "
    "(use the <em>Open in Colab</em> badge above); this build had no picture of it (it was executed "
    "without a browser)."
)


class SiteError(RuntimeError):
    """The site cannot be built; the message says why and what to do."""


# --- 1. Executed lessons, cached --------------------------------------------------------------


def code_key(notebook: dict) -> str:
    """What an execution depends on in a notebook: its code cells and its kernel, not its text."""
    code = [cell_source(cell) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    kernel = notebook.get("metadata", {}).get("kernelspec", {}).get("name", "python3")
    return hashlib.sha256(json.dumps([kernel, code]).encode()).hexdigest()[:16]


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def read_notebook(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def executed_path(root: Path, lesson: Path) -> Path:
    """Where the cached execution of ``lesson`` (its code as it is now) is, or will be."""
    return Path(root) / CACHE_DIR / "executed" / f"{Path(lesson).stem}-{code_key(read_notebook(lesson))}.ipynb"


def failure_path(root: Path, lesson: Path) -> Path:
    """Where a browser run that could not store ``lesson``'s execution says why (for the site's test)."""
    return executed_path(root, lesson).with_suffix(".failed")


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (another test worker) see the whole file or none of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(data)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(handle.name, 0o666 & ~umask)  # as an ordinary file, not the temporary file's 0600
    os.replace(handle.name, path)


def store_execution(root: Path, lesson: Path, executed: dict, pictures: dict[tuple[int, int], bytes] | None = None) -> Path:
    """Keep one execution of ``lesson``. ``pictures`` maps (cell index, output index) to a PNG
    of that live output as it showed at execution time; it goes into the output's data as
    ``image/png``, beside what the kernel sent."""
    source = read_notebook(lesson)
    if code_key(executed) != code_key(source):
        raise SiteError(f"the executed notebook does not have the code of {lesson} as it is now: not stored")
    executed = copy.deepcopy(executed)
    for (cell_index, output_index), png in (pictures or {}).items():
        output = executed["cells"][cell_index]["outputs"][output_index]
        output.setdefault("data", {})["image/png"] = base64.b64encode(png).decode()
        output.setdefault("metadata", {})["sidebyside"] = {"picture_of_live_output": True}
    path = executed_path(root, lesson)
    _write_atomically(path, (json.dumps(executed, indent=1, ensure_ascii=False) + "\n").encode())
    failure_path(root, lesson).unlink(missing_ok=True)
    return path


def record_failure(root: Path, lesson: Path, reason: str) -> None:
    if not executed_path(root, lesson).is_file():
        _write_atomically(failure_path(root, lesson), reason.encode())


def execute_headless(root: Path, lesson: Path, timeout: int = 900) -> Path:
    """Execute ``lesson`` in a fresh kernel, in a scratch copy of the lessons (what a lesson
    writes stays out of the repository), and cache the result."""
    import nbformat
    from nbclient import NotebookClient

    from sidebyside.lab import lab_environment

    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="site-execute-") as scratch:
        shutil.copytree(root / "lessons", Path(scratch) / "lessons")
        copy_path = Path(scratch) / "lessons" / Path(lesson).name
        notebook = nbformat.read(copy_path, as_version=4)
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(copy_path.parent)}})
        client.execute(env=lab_environment(Path(scratch)))
        return store_execution(root, lesson, json.loads(nbformat.writes(notebook)))


def _execute_in_a_process(root: str, lesson: str) -> tuple[str, float]:
    start = time.monotonic()
    execute_headless(Path(root), Path(lesson))
    return lesson, time.monotonic() - start


def lessons(root: Path) -> list[Path]:
    return sorted((Path(root) / "lessons").glob("[0-9][0-9]-*.ipynb"))


def missing_executions(root: Path) -> list[Path]:
    return [lesson for lesson in lessons(root) if not executed_path(root, lesson).is_file()]


def execute_missing(root: Path, workers: int = 2, say=print, only: list[Path] | None = None) -> None:
    """Execute headless every lesson (of ``only``, when given) whose code has no cached
    execution, ``workers`` at a time, the longest first (by size, for want of a better guess)."""
    missing = [p for p in missing_executions(root) if only is None or p in only]
    missing.sort(key=lambda p: -p.stat().st_size)
    if not missing:
        return
    say(f"executing {len(missing)} lesson(s) without a cached execution, {workers} at a time: {', '.join(p.name for p in missing)}")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_execute_in_a_process, str(root), str(lesson)) for lesson in missing]
        failures = []
        for future in concurrent.futures.as_completed(futures):
            try:
                name, seconds = future.result()
                say(f"  executed {Path(name).name} in {seconds:.0f} s")
            except Exception as error:  # noqa: BLE001 - every lesson's failure is reported together
                failures.append(f"{type(error).__name__}: {str(error)[-1500:]}")
    if failures:
        raise SiteError("a lesson failed to execute, so the site cannot show its outputs:\n" + "\n".join(failures))


# --- 2. Sources --------------------------------------------------------------------------------

BADGE_LINE = re.compile(r"\[!\[(Open In Colab|View on GitHub)\]\([^)]*\)\]\(([^)]*)\)")
BADGE_IMAGES = {"Open In Colab": "colab-badge.svg", "View on GitHub": "github-badge.svg"}
#: A link to a folder of the repository (``../exercises/NN-topic/``) or a code span naming one.
FOLDER_LINK = re.compile(r"\]\(((?:\.\./)*)exercises/([0-9][0-9]-[a-z-]+)/\)")
EXERCISE_SPAN = re.compile(r"`exercises/([0-9][0-9]-[a-z-]+)/`")
#: A relative link to a file that is not a page of the site (the package's source, the README):
#: it goes to the repository on GitHub instead.
REPOSITORY_FILE_LINK = re.compile(r"\]\(((?:\.\./)+)((?:src|tests|scripts|hub|solutions)/[^)\s]*|[A-Z][A-Za-z]*\.md)\)")


def _badges(text: str, depth: int) -> str:
    """The notebook's badges with images from the site itself (not from Colab's or shields.io's servers)."""
    static = "../" * depth + "_badges/"
    return BADGE_LINE.sub(lambda m: f"[![{m.group(1)}]({static}{BADGE_IMAGES[m.group(1)]})]({m.group(2)})", text)


def _links(text: str) -> str:
    text = FOLDER_LINK.sub(lambda m: f"]({m.group(1)}exercises/{m.group(2)}/{m.group(2)}.ipynb)", text)
    return REPOSITORY_FILE_LINK.sub(lambda m: f"]({course.github_url(m.group(2))})", text)


def is_live(output: dict) -> bool:
    """A widget, or HTML that embeds another page or loads a script: nothing of it works in a
    static page without a kernel or a server, and it would ask the network."""
    data = output.get("data", {})
    if WIDGET_MIME in data:
        return True
    html = data.get("text/html", "")
    html = "".join(html) if isinstance(html, list) else html
    return bool(re.search(r"<iframe|<script|\bsrc=[\"']?https?://", html, re.I))


def _static_outputs(outputs: list[dict]) -> list[dict]:
    """Outputs as a static page can show them: a live output becomes its picture (when the
    browser took one) and a note that it is live in JupyterLab or on Colab."""
    shown = []
    for output in outputs:
        if output.get("output_type") not in ("display_data", "execute_result") or not is_live(output):
            shown.append(output)
            continue
        picture = output.get("data", {}).get("image/png")
        if picture:
            shown.append({"output_type": "display_data", "metadata": {}, "data": {"image/png": picture, "text/plain": "a live output, as it was"}})
        note = LIVE_NOTE if picture else LIVE_NOTE_WITHOUT_PICTURE
        shown.append({"output_type": "display_data", "metadata": {}, "data": {"text/html": f'<p class="sbs-live-note">{note}</p>', "text/plain": note}})
    return shown


def lesson_page(source: dict, executed: dict, download: str) -> dict:
    """The lesson's current text, with the outputs of its cached execution (same code cells, in order)."""
    page = copy.deepcopy(source)
    executed_code = [cell for cell in executed["cells"] if cell["cell_type"] == "code"]
    code_cells = [cell for cell in page["cells"] if cell["cell_type"] == "code"]
    if len(executed_code) != len(code_cells):
        raise SiteError("the cached execution does not have the lesson's code cells")
    for cell, ran in zip(code_cells, executed_code):
        cell["outputs"] = _static_outputs(ran.get("outputs", []))
        cell["execution_count"] = ran.get("execution_count")
    return _page_text(page, depth=1, download=download)


def _page_text(notebook: dict, depth: int, download: str) -> dict:
    notebook["metadata"].pop("widgets", None)  # a widget state would make myst-nb load a CDN's widget manager
    markdown = [cell for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
    for cell in markdown:
        cell["source"] = _links(_badges(cell_source(cell), depth))
    if markdown:  # under the title and the badges
        markdown[0]["source"] += f"\n\n{{download}}`Download the notebook <{download}>`"
    return notebook


def assignment_page(student_version: dict, download: str) -> dict:
    """The released exercise as it is (nothing executed); refuses anything with an nbgrader
    solution or hidden-test marker in it, whatever generated it."""
    for cell in student_version["cells"]:
        text = cell_source(cell)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            if marker in text:
                raise SiteError(f"an exercise contains {marker!r}: exercises/ must be the student version (make exercises)")
    return _page_text(copy.deepcopy(student_version), depth=2, download=download)


def home_page(welcome: dict) -> str:
    """The home page: lesson 00's title and opening, and its course map with every lesson and
    assignment linked."""
    cells = [cell_source(cell) for cell in welcome["cells"] if cell["cell_type"] == "markdown"]
    title, _, opening = cells[0].partition("\n")
    opening = BADGE_LINE.sub("", opening).strip()
    course_map = next((text for text in cells if text.startswith("## The course map")), None)
    if course_map is None:
        raise SiteError("lesson 00 has no '## The course map' cell: the home page is made from it")
    course_map = course_map.replace("Welcome (this notebook)", "[Welcome](lessons/00-welcome.ipynb)")
    course_map = re.sub(r"\]\(([0-9][0-9]-[a-z-]+\.ipynb)\)", r"](lessons/\1)", course_map)
    course_map = EXERCISE_SPAN.sub(lambda m: f"[{m.group(1)}](exercises/{m.group(1)}/{m.group(1)}.ipynb)", course_map)
    title = title.removeprefix("# 00 · ").strip()
    return "\n".join(
        [
            f"# {title}",
            "",
            opening,
            "",
            "Every lesson is here with the outputs of one run, the PyTorch and TensorFlow cells side by side. "
            "To run a lesson yourself, use its *Open in Colab* badge or download it.",
            "",
            course_map,
            "",
            "```{toctree}\n:hidden:\n:caption: Lessons\n:glob:\n\nlessons/*\n```",
            "",
            "```{toctree}\n:hidden:\n:caption: Assignments\n:glob:\n\nexercises/*/*\n```",
            "",
        ]
    )


def _write_if_changed(path: Path, text: str) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def _notebook_text(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _mathjax(root: Path) -> Path:
    """A folder holding ``mathjax/``: MathJax's CHTML bundle and its fonts, from the npm
    registry once (kept in the cache). MathJax finds its fonts beside its script."""
    name, version = MATHJAX
    folder = Path(root) / CACHE_DIR / "assets" / f"{name}-{version}"
    if (folder / "mathjax" / "tex-chtml.js").is_file():
        return folder
    from sidebyside.servers import _npm_tarballs

    with tempfile.TemporaryDirectory() as download:
        try:
            tarball = _npm_tarballs([MATHJAX], Path(download), log=log.info)[MATHJAX]
        except Exception as error:
            raise SiteError(f"MathJax {version} (for the formulas) could not be fetched from the npm registry: {error}") from error
        staging = folder.with_name(folder.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(tarball) as archive:
            for member in archive.getmembers():
                inside = member.name.removeprefix("package/es5/")
                if member.isfile() and (inside == "tex-chtml.js" or inside.startswith("output/chtml/fonts/woff-v2/")):
                    target = staging / "mathjax" / inside
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.extractfile(member).read())
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return folder


def write_sources(root: Path, sources: Path) -> list[str]:
    """Write the Sphinx sources of the whole site; return the files that changed."""
    root, sources = Path(root), Path(sources)
    wanted: dict[Path, str] = {}
    for lesson in lessons(root):
        executed = executed_path(root, lesson)
        if not executed.is_file():
            raise SiteError(f"no cached execution of {lesson.name} (its code as it is now): run `make site`, which executes it")
        download = f"../_notebooks/lessons/{lesson.name}"
        wanted[sources / "lessons" / lesson.name] = _notebook_text(lesson_page(read_notebook(lesson), read_notebook(executed), download))
        wanted[sources / "_notebooks" / "lessons" / lesson.name] = lesson.read_text(encoding="utf-8")
    for exercise in sorted((root / "exercises").glob("[0-9][0-9]-*/[0-9][0-9]-*.ipynb")):
        relative = exercise.relative_to(root / "exercises")
        download = f"../../_notebooks/exercises/{relative.name}"
        wanted[sources / "exercises" / relative] = _notebook_text(assignment_page(read_notebook(exercise), download))
        wanted[sources / "_notebooks" / "exercises" / relative.name] = exercise.read_text(encoding="utf-8")
    for badge in BADGE_IMAGES.values():  # images of the pages, copied by Sphinx like any other
        wanted[sources / "_badges" / badge] = (root / "site" / "badges" / badge).read_text(encoding="utf-8")
    wanted[sources / "index.md"] = home_page(read_notebook(root / "lessons" / "00-welcome.ipynb"))
    changed = [str(path.relative_to(sources)) for path, text in wanted.items() if _write_if_changed(path, text)]
    # a page whose notebook is gone goes too (a renamed lesson)
    for path in sources.rglob("*"):
        if path.is_file() and path not in wanted:
            path.unlink()
            changed.append(str(path.relative_to(sources)))
    return changed


# --- 3. Sphinx ---------------------------------------------------------------------------------


def build(root: Path, output: Path | None = None, work: Path | None = None, *, execute: bool = True, say=print) -> Path:
    """Build the site into ``output`` (default ``ROOT/_site``); return it. ``work`` holds the
    sources and Sphinx's own cache (default ``ROOT/.site-cache``). Without ``execute``, a lesson
    with no cached execution is an error instead of being executed."""
    root = Path(root).resolve()
    output = Path(output or root / OUTPUT_DIR).resolve()
    work = Path(work or root / CACHE_DIR).resolve()
    if execute:
        execute_missing(root, say=say)
    elif missing_executions(root):
        names = ", ".join(p.name for p in missing_executions(root))
        raise SiteError(f"no cached execution of {names}, and execution was not asked for")
    changed = write_sources(root, work / "sources")
    if changed:
        say(f"{len(changed)} source file(s) changed")
    mathjax = _mathjax(root)
    command = [
        sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "2",
        "-c", str(root / "site"), "-d", str(work / "doctrees"),
        "-D", f"html_static_path=_static,{mathjax}",
        str(work / "sources"), str(work / "html"),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=root)
    if result.returncode != 0:
        raise SiteError(f"Sphinx failed (exit {result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-5000:]}")
    if result.stderr.strip():
        say(result.stderr.strip()[-3000:])
    # Sphinx builds inside the cache: myst-nb writes a jupyter_execute/ folder beside its output
    # folder, whatever the settings, and ROOT/jupyter_execute/ would land in the repository.
    shutil.rmtree(output, ignore_errors=True)
    shutil.copytree(work / "html", output, ignore=shutil.ignore_patterns(".buildinfo*", ".doctrees"))
    return output


def main(argv: list[str] | None = None, prog: str = "sidebyside site") -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description="Build the course's static website (make site).")
    parser.add_argument("--course", metavar="DIR", help="course folder (default: found from the current folder)")
    parser.add_argument("--output", metavar="DIR", help=f"where the site goes (default COURSE/{OUTPUT_DIR})")
    args = parser.parse_args(argv)
    root = Path(args.course) if args.course else course.find_course_root()
    start = time.monotonic()
    try:
        output = build(root, Path(args.output) if args.output else None)
    except SiteError as error:
        print(f"sidebyside site: {error}", file=sys.stderr)
        return 1
    shown = os.path.relpath(output)
    print(f"The site is built ({time.monotonic() - start:.0f} s): {shown}/index.html")
    print(f"Serve it with:  {os.path.relpath(sys.executable)} -m http.server --bind 127.0.0.1 --directory {shown} 8000")
    print("then open http://127.0.0.1:8000/ (it loads nothing from the network).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
