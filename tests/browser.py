"""Driving the course's JupyterLab in headless Chromium (Debian's), as a student would.

Used by tests/test_browser.py. JupyterLab runs on loopback with a random port and token on a
*copy* of the notebooks (so nothing in the repository gets outputs), with two settings for the
test run on top of the course's own (:data:`sidebyside.lab.COURSE_SETTINGS`): notebook
windowing off (JupyterLab 4 otherwise leaves off-screen cells out of the page) and autosave off.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from sidebyside import _processes
from sidebyside.lab import lab_command, lab_environment, write_course_settings

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")
# Flags for a closed network and a root user (see the machine notes in the README of tests).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TEST_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def headless_chromium(skipped: str):
    """One headless Chromium for a test module (a generator for a module-scoped fixture), or the
    module skipped with ``skipped`` plus how to install it when there is no Chromium here."""
    import pytest
    from playwright.sync_api import sync_playwright

    path = find_chromium()
    if path is None:
        pytest.skip(f"{skipped}: no Chromium found (looked for /usr/bin/chromium). Install Debian's 'chromium' package (make test-setup does it as root).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def find_chromium() -> str | None:
    for candidate in (os.environ.get("SIDEBYSIDE_CHROMIUM"), *CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class LabServer:
    root: Path
    port: int
    token: str
    process: subprocess.Popen
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/lab/tree/{path}?reset&token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        _processes.stop_group(self.process, 20)


def start_lab(root: Path, timeout: float = 120) -> LabServer:
    """Start the project's JupyterLab (the same command as `make lab`) serving ``root``."""
    env = lab_environment(root)
    write_course_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]), TEST_SETTINGS)
    port, token = _processes.free_port(), secrets.token_hex(16)
    log_path = root / "jupyterlab.log"
    command = lab_command(root, port=port, token=token, open_browser=False, notebook=None)
    process = _processes.start_logged(command, log_path, env=env, cwd=root)
    server = LabServer(root, port, token, process, log_path)

    def answers() -> bool:
        with urllib.request.urlopen(f"{server.base_url}/api/status?token={token}", timeout=2) as reply:
            return reply.status == 200

    if _processes.wait_until(answers, timeout, alive=lambda: process.poll() is None, interval=0.5):
        return server
    if process.poll() is not None:
        raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{server.log_tail()}")
    server.stop()
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{server.log_tail()}")


# --- Page checks, in the browser ------------------------------------------------------------

PROMPTS_JS = "() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())"

PROBLEMS_JS = r"""
() => {
  const problems = [];
  const outputs = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')];
  outputs.forEach((out, i) => {
    const text = out.innerText || '';
    if (text.includes('Traceback (most recent call last)')) problems.push('traceback: ' + text.slice(0, 600));
    if (text.includes('Error displaying widget')) problems.push('widget error: ' + text.slice(0, 300));
    if (text.includes('Loading widget')) problems.push('widget stuck at "Loading widget": ' + text.slice(0, 200));
    if (out.querySelector('.jupyter-widgets-error-widget'))
      problems.push('widget failed to render (ipywidgets error view): ' + (out.querySelector('.jupyter-widgets-error-widget').title || text).slice(0, 300));
  });
  return problems;
}
"""

WIDGETS_JS = "() => document.querySelectorAll('.jp-Notebook .jp-OutputArea-output > .jupyter-widgets').length"


@dataclass
class LessonRun:
    seconds: float
    problems: list[str] = field(default_factory=list)
    widget_count: int = 0


IDLE_INDICATOR = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]'


def open_notebook(page, server: LabServer, path: str, timeout_ms: int = 120_000) -> None:
    page.goto(server.url(path))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_ms)
    # The kernel is ready when the toolbar's execution indicator says idle, and it is the
    # session's kernel for good (see wait_for_one_kernel).
    page.wait_for_selector(IDLE_INDICATOR, timeout=timeout_ms)
    wait_for_one_kernel(server, path, timeout_ms / 1000)
    page.wait_for_selector(IDLE_INDICATOR, timeout=timeout_ms)


def wait_for_one_kernel(server: LabServer, path: str, timeout_s: float, steady_s: float = 2.0) -> None:
    """Wait until the notebook's session has kept one kernel, idle, for ``steady_s`` seconds.

    On a loaded machine JupyterLab sometimes starts a second kernel for a notebook it just
    opened and shuts down the first (its log shows both starts, then the first's shutdown). Run
    All clicked in between ran the first cell and lost the others, which stayed "[ ]"."""
    deadline = time.monotonic() + timeout_s
    kernel, since, seen = None, 0.0, []
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{server.base_url}/api/sessions?token={server.token}", timeout=10) as reply:
            kernels = [session["kernel"] for session in json.load(reply) if session.get("path") == path and session.get("kernel")]
        seen = [(k["id"][:8], k.get("execution_state")) for k in kernels]
        if len(kernels) == 1 and kernels[0].get("execution_state") == "idle":
            if kernels[0]["id"] != kernel:
                kernel, since = kernels[0]["id"], time.monotonic()
            elif time.monotonic() - since >= steady_s:
                return
        else:
            kernel = None
        time.sleep(0.5)
    raise TimeoutError(f"{path}'s session did not keep one idle kernel for {steady_s} s within {timeout_s:.0f} s; last seen: {seen}")


def _started(prompts: list[str]) -> bool:
    return any(p != "[ ]:" for p in prompts)


def accept_dialogs(page) -> list[str]:
    """Answer any open JupyterLab dialog with its default button, as a student would (for
    example "Select Kernel", which JupyterLab can show when Run All comes before the session
    has its kernel). Each one is reported as a warning, with its text, so that CI shows it."""
    texts = []
    dialogs = page.locator(".jp-Dialog")
    for _ in range(3):
        if not dialogs.count():
            break
        dialog = dialogs.first
        texts.append(" ".join(dialog.inner_text().split())[:300])
        choices = dialog.locator("select")
        if choices.count():  # "Select Kernel": the notebook's Python kernel, not "No Kernel"
            options = choices.first.evaluate("s => [...s.options].map(o => [o.value, o.text])")
            python = [value for value, text in options if "Python" in text]
            if python:
                choices.first.select_option(python[0])
        accept = dialog.locator(".jp-Dialog-button.jp-mod-accept")
        if accept.count():
            accept.first.click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(500)
    for text in texts:
        warnings.warn(f"JupyterLab showed a dialog, answered with its default button: {text!r}", stacklevel=2)
    return texts


def run_all_from_menu(page, attempts: int = 4) -> None:
    """Run > Run All Cells, as a student would; retried if the click did not take."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    dialogs = []
    for _ in range(attempts):
        dialogs += accept_dialogs(page)
        try:
            page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=10_000)
        except PlaywrightTimeoutError:  # a dialog that opened meanwhile: answered at the next attempt
            continue
        item = page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first
        item.wait_for(state="visible", timeout=10_000)
        item.click()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if _started(page.evaluate(PROMPTS_JS)):
                return
            if page.locator(".jp-Dialog").count():
                break  # answered at the next attempt
            time.sleep(0.5)
        if not page.locator(".jp-Dialog").count():
            page.keyboard.press("Escape")  # close the menu if it is still open
    raise RuntimeError(f"Run > Run All Cells did not start the notebook: {page.evaluate(PROMPTS_JS)}; dialogs seen: {dialogs}")


def wait_until_done(page, timeout_s: float, watch=None) -> None:
    """Wait until nothing is running or queued ([*]) any more; call ``watch(page)`` meanwhile
    (to see what a student sees while the notebook runs, such as an embedded server's page)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if watch is not None:
            watch(page)
        if not any("*" in p for p in page.evaluate(PROMPTS_JS)):
            if watch is not None:
                watch(page)
            return
        time.sleep(1)
    raise TimeoutError(f"cells still running after {timeout_s:.0f} s: {page.evaluate(PROMPTS_JS)}")


def settle_widgets(page, timeout_s: float = 60) -> list[str]:
    """Give widgets time to render; return the problems still on the page."""
    deadline = time.monotonic() + timeout_s
    problems = page.evaluate(PROBLEMS_JS)
    # Only "Loading widget" can still resolve; tracebacks and error views are final.
    while any("Loading widget" in p for p in problems) and time.monotonic() < deadline:
        time.sleep(1)
        problems = page.evaluate(PROBLEMS_JS)
    return problems


def frame_texts(page) -> list[tuple[object, str, int]]:
    """(frame, visible text, number of Plotly plots) of every iframe on the page."""
    found = []
    for frame in page.frames[1:]:
        try:
            text = frame.evaluate("() => document.body ? document.body.innerText : ''")
            plots = frame.evaluate("() => document.querySelectorAll('.js-plotly-plot').length")
        except Exception:  # a frame that is navigating or gone
            continue
        found.append((frame, text, plots))
    return found


def screenshot_frame(frame, path) -> None:
    """A picture of one embedded page (best effort: the frame may be going away)."""
    try:
        frame.frame_element().screenshot(path=str(path))
    except Exception:
        pass


def never_ran(page) -> list[int]:
    """Indices of the code cells whose prompt is still empty ("[ ]:")."""
    return [index for index, prompt in enumerate(page.evaluate(PROMPTS_JS)) if prompt in ("[ ]:", "")]


def run_lesson(page, server: LabServer, path: str, timeout_s: float = 600, watch=None) -> LessonRun:
    start = time.monotonic()
    open_notebook(page, server, path)
    run_all_from_menu(page)
    wait_until_done(page, timeout_s, watch)
    problems = settle_widgets(page)
    # Run All stops at a cell that raises, and leaves the cells below it empty: a traceback
    # explains those. Empty cells without one mean the run was cut short: a failure too.
    skipped = never_ran(page)
    if skipped and not any(problem.startswith("traceback") for problem in problems):
        problems.append(f"code cells {skipped} never ran (their prompt stayed '[ ]:'), and no cell raised: Run All was cut short")
    return LessonRun(time.monotonic() - start, problems, page.evaluate(WIDGETS_JS))
