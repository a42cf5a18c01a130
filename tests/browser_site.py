"""What the browser run of a lesson keeps for the website (tests/test_browser.py): the notebook as
JupyterLab ran it, saved from JupyterLab, and a picture of each live output (a widget, an
embedded server page) as it showed then. The site is built from these (sidebyside.instructor.site),
so the test run executes no lesson a second time for it."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

from sidebyside.instructor import site

# Mark each top-level output of every cell that shows a widget or an embedded page, by its
# (cell index, output index) in the notebook. Only the cell's first output area counts: an
# Output widget has output areas of its own inside.
MARK_LIVE_OUTPUTS_JS = """() => {
  const found = [];
  [...document.querySelectorAll('.jp-Notebook .jp-Cell')].forEach((cell, i) => {
    const area = cell.querySelector('.jp-OutputArea');
    if (!area) return;
    [...area.children].filter(c => c.classList.contains('jp-OutputArea-child')).forEach((child, j) => {
      const output = child.querySelector('.jp-OutputArea-output');
      if (output && output.querySelector('.jupyter-widgets, iframe')) {
        output.setAttribute('data-sbs-live', i + '-' + j);
        found.push([i, j]);
      }
    });
  });
  return found;
}"""


def save_in_jupyterlab(page, notebook_file: Path, timeout_s: float = 60) -> dict:
    """Save the open notebook as a student would (Ctrl+S) and return what JupyterLab wrote."""
    before = notebook_file.stat().st_mtime_ns
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.focus()
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if notebook_file.stat().st_mtime_ns != before:
            try:
                return json.loads(notebook_file.read_text(encoding="utf-8"))
            except ValueError:  # still being written
                pass
        time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not save {notebook_file.name} within {timeout_s:.0f} s of Ctrl+S")


def keep_for_the_site(page, lab_root: Path, course_root: Path, lesson: str) -> Path:
    """Store the lesson's execution in the site's cache, with pictures of its live outputs."""
    executed = save_in_jupyterlab(page, lab_root / "lessons" / lesson)
    pictures = {}
    for cell_index, output_index in page.evaluate(MARK_LIVE_OUTPUTS_JS):
        try:
            output = executed["cells"][cell_index]["outputs"][output_index]
        except (IndexError, KeyError):
            output = {}
        if not site.is_live(output):
            warnings.warn(f"{lesson}: JupyterLab's output {output_index} of cell {cell_index} shows a widget, but the saved notebook has {sorted(output.get('data', {}))}: no picture kept", stacklevel=2)
            continue
        box = page.locator(f'[data-sbs-live="{cell_index}-{output_index}"]')
        box.scroll_into_view_if_needed()
        pictures[(cell_index, output_index)] = box.screenshot(type="png")
    return site.store_execution(course_root, course_root / "lessons" / lesson, executed, pictures)
