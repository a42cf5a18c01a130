"""An nbgrader class in JupyterLab, driven through Playwright's sync API as people would click it.

Used by tests/test_class_cycle.py. Each function is one thing a person does, and works on any
Jupyter server URL (a single-user ``jupyter lab`` on loopback, or ``HUB/user/NAME/`` behind
JupyterHub):

- :func:`hub_login` (or :func:`submit_login` for several people, then :func:`wait_for_server`
  for each): JupyterHub's login form, then the user's JupyterLab;
- the instructor, in nbgrader's Formgrader (Nbgrader menu > Formgrader, an iframe in
  JupyterLab): :func:`set_due_date` (the pencil), :func:`generate_assignment`,
  :func:`release_assignment`, :func:`collect_submissions`, :func:`generate_feedback`,
  :func:`release_feedback` (the buttons of the assignment's row);
- a student, in the Assignments tab (Nbgrader menu > Assignment List): :func:`fetch_assignment`,
  :func:`submit_assignment`, :func:`fetch_feedback`, then :func:`view_feedback` opens the fetched
  feedback in JupyterLab's HTML viewer and returns what it shows;
- :func:`save_notebook`: a student's answers written through their own server's contents API
  from their logged-in browser (what JupyterLab's Save does).

Every wait is bounded; a failure names the step, what was expected and what the page showed.
The selectors follow nbgrader 0.9.6's own UI tests (nbgrader/tests/ui-tests/*.spec.ts).
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

#: Default bound of one click's consequence (a fetch, a submit, a release), in ms.
STEP_MS = 90_000

MENU_LABEL = "#jp-MainMenu .lm-MenuBar-itemLabel"
NBGRADER_MENU = "#jp-mainmenu-nbgrader"
FORMGRADER_COMMAND = "nbgrader:open-formgrader"
ASSIGNMENT_LIST_COMMAND = "nbgrader:open-assignment-list"


class StepFailed(AssertionError):
    """A step of the class did not do what a person would have seen it do."""


def _page_text(page, chars: int = 1500) -> str:
    try:
        return " ".join(page.locator("body").inner_text(timeout=5_000).split())[:chars]
    except Exception as error:  # the page is navigating or gone
        return f"(page text unavailable: {error})"


# --- JupyterHub and JupyterLab ----------------------------------------------------------------


def submit_login(page, hub_url: str, username: str, password: str, timeout_ms: int = 60_000) -> None:
    """Fill in and send JupyterHub's login form; the hub then starts the user's server. Several
    people may be sent on their way before :func:`wait_for_server` waits for each."""
    hub_url = hub_url.rstrip("/")
    page.goto(f"{hub_url}/hub/login", timeout=timeout_ms)
    try:
        page.locator("#username_input").fill(username, timeout=30_000)
        page.locator("#password_input").fill(password)
        page.locator("#login_submit").click()
    except Exception as error:
        raise StepFailed(f"hub login as {username}: expected JupyterHub's login form at {hub_url}/hub/login, got {page.url}: {_page_text(page)}") from error


def wait_for_server(page, hub_url: str, username: str, timeout_ms: int = 180_000) -> str:
    """After :func:`submit_login`: wait until the user's JupyterLab is up. Returns the server's
    URL, ``HUB/user/NAME/``."""
    server = f"{hub_url.rstrip('/')}/user/{username}/"
    try:
        page.wait_for_url(re.compile(re.escape(server) + r"lab"), timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"hub login as {username}: expected to land in {server}lab within {timeout_ms / 1000:.0f} s, still at {page.url}: {_page_text(page)}") from error
    wait_for_lab(page, f"hub login as {username}", timeout_ms)
    return server


def hub_login(page, hub_url: str, username: str, password: str, timeout_ms: int = 180_000) -> str:
    """Log in with JupyterHub's login form and wait for the user's JupyterLab (the hub starts
    the server on login). Returns the server's URL, ``HUB/user/NAME/``."""
    submit_login(page, hub_url, username, password)
    return wait_for_server(page, hub_url, username, timeout_ms)


def wait_for_lab(page, step: str, timeout_ms: int = 120_000) -> None:
    """Wait until JupyterLab's shell and its Nbgrader menu are on the page."""
    try:
        page.locator(MENU_LABEL, has_text="Nbgrader").first.wait_for(state="visible", timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"{step}: expected JupyterLab with an Nbgrader menu within {timeout_ms / 1000:.0f} s, got {page.url}: {_page_text(page)}") from error


def open_lab(page, server_url: str, timeout_ms: int = 120_000) -> None:
    """Open JupyterLab of ``server_url`` (``.../`` of a Jupyter server), with a fresh workspace."""
    page.goto(f"{server_url.rstrip('/')}/lab?reset", timeout=timeout_ms)
    wait_for_lab(page, f"open JupyterLab at {server_url}", timeout_ms)


def nbgrader_menu(page, command: str) -> None:
    """Click Nbgrader > the item of ``command`` in JupyterLab's menu bar."""
    page.locator(MENU_LABEL, has_text="Nbgrader").first.click(timeout=30_000)
    item = page.locator(f'{NBGRADER_MENU} li[data-command="{command}"]')
    try:
        item.click(timeout=30_000)
    except Exception as error:
        items = page.locator(f"{NBGRADER_MENU} li").all_inner_texts()
        raise StepFailed(f"Nbgrader menu: expected an item for {command!r}, the menu shows {items}") from error


def _xsrf_headers(page, url: str) -> dict:
    """The header a Jupyter server asks of a cookie-authenticated write (its ``_xsrf`` cookie)."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies(url)}
    return {"X-XSRFToken": cookies["_xsrf"]} if "_xsrf" in cookies else {}


def save_notebook(page, server_url: str, path: str, notebook: dict) -> None:
    """Save ``notebook`` (nbformat JSON) at ``path`` through the server's contents API, from the
    logged-in browser: the same request as JupyterLab's File > Save."""
    url = f"{server_url.rstrip('/')}/api/contents/{path}"
    reply = page.request.put(url, data=json.dumps({"type": "notebook", "format": "json", "content": notebook}),
                             headers={"Content-Type": "application/json", **_xsrf_headers(page, server_url)}, timeout=60_000)
    if reply.status not in (200, 201):
        raise StepFailed(f"saving {path}: expected the contents API to answer 200 or 201, got {reply.status}: {reply.text()[:500]}")


def read_file(page, server_url: str, path: str) -> str:
    """A text file of the user's server, read through its contents API from the browser."""
    reply = page.request.get(f"{server_url.rstrip('/')}/api/contents/{path}?content=1&type=file&format=text", timeout=60_000)
    if reply.status != 200:
        raise StepFailed(f"reading {path}: expected 200 from the contents API, got {reply.status}: {reply.text()[:300]}")
    return reply.json()["content"]


def list_folder(page, server_url: str, path: str) -> list[str] | None:
    """Names in a folder of the user's server (None if it does not exist)."""
    reply = page.request.get(f"{server_url.rstrip('/')}/api/contents/{path}?content=1", timeout=60_000)
    if reply.status == 404:
        return None
    if reply.status != 200:
        raise StepFailed(f"listing {path}: expected 200 from the contents API, got {reply.status}: {reply.text()[:300]}")
    return sorted(item["name"] for item in reply.json()["content"])


# --- the instructor: nbgrader's Formgrader ----------------------------------------------------


def open_formgrader(page, assignment: str, timeout_ms: int = STEP_MS):
    """Nbgrader > Formgrader; returns the Formgrader's frame once it lists ``assignment``."""
    nbgrader_menu(page, FORMGRADER_COMMAND)
    deadline = time.monotonic() + timeout_ms / 1000
    frame = None
    while frame is None and time.monotonic() < deadline:
        frame = next((f for f in page.frames if "/formgrader" in f.url), None)
        if frame is None:
            page.wait_for_timeout(250)
    if frame is None:
        raise StepFailed(f"open the Formgrader: expected an iframe on /formgrader within {timeout_ms / 1000:.0f} s, got frames {[f.url for f in page.frames]}")
    try:
        formgrader_row(frame, assignment).wait_for(state="visible", timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"open the Formgrader: expected a row for {assignment!r} in Manage Assignments, the page shows: {_frame_text(frame)}") from error
    return frame


def _frame_text(frame, chars: int = 1500) -> str:
    try:
        return " ".join(frame.locator("body").inner_text(timeout=5_000).split())[:chars]
    except Exception as error:
        return f"(frame text unavailable: {error})"


def formgrader_row(frame, assignment: str):
    """The row of ``assignment`` in the Formgrader's Manage Assignments table."""
    return frame.locator("#main-table tr", has=frame.locator("td.name", has_text=re.compile(rf"^\s*{re.escape(assignment)}\s*$")))


def _formgrader_outcome(frame, action: str, timeout_ms: int) -> str:
    """Wait for the Formgrader's success or error dialog after ``action``; close it; return its
    text (an error dialog fails the step, with its log)."""
    dialog = frame.locator("#success-modal, #error-modal")
    try:
        dialog.first.wait_for(state="visible", timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"Formgrader, {action}: expected a Success or Error dialog within {timeout_ms / 1000:.0f} s, the page shows: {_frame_text(frame)}") from error
    text = dialog.first.inner_text()
    failed = dialog.first.get_attribute("id") == "error-modal"
    dialog.first.locator(".modal-footer button").first.click()
    dialog.first.wait_for(state="detached", timeout=30_000)
    if failed:
        raise StepFailed(f"Formgrader, {action}: expected success, got the Error dialog: {text[-3000:]}")
    return text


def _click_row_button(frame, assignment: str, column: str, action: str, timeout_ms: int) -> str:
    button = formgrader_row(frame, assignment).locator(f"td.{column} a")
    try:
        button.click(timeout=30_000)
    except Exception as error:
        raise StepFailed(f"Formgrader, {action}: expected a button in the {column!r} column of {assignment!r}, the row shows: "
                         f"{formgrader_row(frame, assignment).inner_text()!r}") from error
    return _formgrader_outcome(frame, action, timeout_ms)


def set_due_date(frame, assignment: str, due: datetime, timeout_ms: int = 30_000) -> str:
    """The pencil of ``assignment``'s row: type the due date (``due`` is aware; entered in UTC,
    to the second) and save. Returns the due date the row then shows."""
    due_utc = due.astimezone(timezone.utc)
    formgrader_row(frame, assignment).locator("td.edit a").click(timeout=30_000)
    modal = frame.locator("#edit-assignment-modal")
    modal.wait_for(state="visible", timeout=timeout_ms)
    modal.locator("input.modal-duedate").fill(due_utc.strftime("%Y-%m-%dT%H:%M:%S"))
    modal.locator("input.modal-timezone").fill("+0000")
    modal.locator("button.save").click()
    modal.wait_for(state="detached", timeout=timeout_ms)
    cell = formgrader_row(frame, assignment).locator("td.duedate")
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        shown = cell.inner_text().strip()
        if shown and shown != "None":
            return shown
        frame.page.wait_for_timeout(250)
    raise StepFailed(f"Formgrader, set the due date of {assignment!r}: expected the row to show {due_utc:%Y-%m-%d %H:%M:%S} UTC, it shows {cell.inner_text()!r}")


def generate_assignment(frame, assignment: str, timeout_ms: int = STEP_MS) -> str:
    """The Generate button (nbgrader generate_assignment: the student version)."""
    return _click_row_button(frame, assignment, "assign", f"generate {assignment!r}", timeout_ms)


def release_assignment(frame, assignment: str, timeout_ms: int = STEP_MS) -> str:
    """The Release button (nbgrader release_assignment, into the exchange)."""
    text = _click_row_button(frame, assignment, "release", f"release {assignment!r}", timeout_ms)
    status = formgrader_row(frame, assignment).locator("td.status")
    try:
        status.filter(has_text="released").wait_for(timeout=30_000)
    except Exception as error:
        raise StepFailed(f"Formgrader, release {assignment!r}: expected the status 'released', got {status.inner_text()!r}") from error
    return text


def collect_submissions(frame, assignment: str, timeout_ms: int = STEP_MS) -> str:
    """The Collect button (nbgrader collect --update: each student's latest submission)."""
    return _click_row_button(frame, assignment, "collect", f"collect {assignment!r}", timeout_ms)


def reload_formgrader(frame, assignment: str, timeout_ms: int = STEP_MS) -> None:
    """Reload Manage Assignments in the Formgrader's frame (as its browser's reload would)."""
    frame.goto(frame.url.split("#")[0], timeout=timeout_ms)
    try:
        formgrader_row(frame, assignment).wait_for(state="visible", timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"reload the Formgrader: expected a row for {assignment!r}, the page shows: {_frame_text(frame)}") from error


def submissions_shown(frame, assignment: str) -> str:
    """The '# Submissions' cell of the assignment's row (after a reload of the page)."""
    reload_formgrader(frame, assignment)
    return formgrader_row(frame, assignment).locator("td.num-submissions").inner_text().strip()


def add_students(frame, students: list[str], timeout_ms: int = 30_000) -> None:
    """Manage Students (the Formgrader's sidebar): "Add new student..." for each of ``students``
    not listed yet, then back to Manage Assignments. Checked after a reload of the page."""
    manage = frame.url.split("/formgrader")[0] + "/formgrader"
    frame.locator("a", has_text="Manage Students").first.click(timeout=timeout_ms)
    frame.wait_for_url(re.compile(r".*/formgrader/manage_students$"), timeout=timeout_ms)
    frame.locator("#main-table").wait_for(timeout=timeout_ms)
    frame.wait_for_function("() => !document.body.innerText.includes('Loading, please wait')", timeout=timeout_ms)

    def listed() -> set[str]:
        return {t.strip() for t in frame.locator("#main-table td.id").all_inner_texts()}

    for name in students:
        if name in listed():
            continue
        frame.locator("a", has_text="Add new student").click(timeout=timeout_ms)
        modal = frame.locator("#add-student-modal")
        modal.wait_for(state="visible", timeout=timeout_ms)
        modal.locator("input.id").fill(name)
        modal.locator("button.save").click()
        modal.wait_for(state="detached", timeout=timeout_ms)
        frame.locator("#main-table td.id", has_text=name).first.wait_for(timeout=timeout_ms)
    frame.page.wait_for_timeout(500)  # each row saves itself (a PUT) after the dialog closes
    frame.goto(f"{manage}/manage_students", timeout=timeout_ms)
    frame.wait_for_function("() => !document.body.innerText.includes('Loading, please wait')", timeout=timeout_ms)
    missing = set(students) - listed()
    if missing:
        raise StepFailed(f"Formgrader, add students: expected {sorted(students)} in Manage Students after a reload, missing {sorted(missing)}; "
                         f"the page shows {_frame_text(frame)}")
    frame.locator("a", has_text="Manage Assignments").first.click(timeout=timeout_ms)
    frame.wait_for_url(re.compile(r".*/formgrader/manage_assignments$"), timeout=timeout_ms)


def generate_feedback(frame, assignment: str, timeout_ms: int = STEP_MS) -> str:
    """The Generate Feedback button (nbgrader generate_feedback for every graded student).

    Beware: with nbgrader 0.9.6's default ``GenerateFeedback.preprocessors`` this feedback shows
    the hidden tests (``sidebyside grade`` removes them: its ``FEEDBACK_PREPROCESSORS``), unless
    the course's nbgrader_config.py sets those preprocessors."""
    return _click_row_button(frame, assignment, "generate-feedback", f"generate feedback of {assignment!r}", timeout_ms)


def release_feedback(frame, assignment: str, timeout_ms: int = STEP_MS) -> str:
    """The Release Feedback button (nbgrader release_feedback, into the exchange)."""
    return _click_row_button(frame, assignment, "release-feedback", f"release feedback of {assignment!r}", timeout_ms)


# --- a student: the Assignments tab -----------------------------------------------------------


def open_assignments_tab(page, timeout_ms: int = STEP_MS) -> None:
    """Nbgrader > Assignment List: the Assignments tab, once its three lists have loaded."""
    nbgrader_menu(page, ASSIGNMENT_LIST_COMMAND)
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab .lm-TabBar-tabLabel", has_text="Assignments")
    try:
        tab.first.wait_for(timeout=timeout_ms)
        for name in ("released", "fetched", "submitted"):
            page.locator(f"#{name}_assignments_list").wait_for(state="attached", timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"open the Assignments tab: expected a tab 'Assignments' with its lists, got: {_page_text(page)}") from error
    _wait_loaded(page, "open the Assignments tab", timeout_ms)


def _wait_loaded(page, step: str, timeout_ms: int) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if not page.locator("[id$='_assignments_list_loading']:visible").count():
            break
        page.wait_for_timeout(250)
    else:
        raise StepFailed(f"{step}: the Assignments tab was still loading after {timeout_ms / 1000:.0f} s")
    errors = [t for t in page.locator("[id$='_assignments_list_error']:visible").all_inner_texts() if t.strip()]
    if errors:
        raise StepFailed(f"{step}: expected the assignment lists, the Assignments tab shows errors: {errors}")


def refresh_assignments(page, timeout_ms: int = STEP_MS) -> None:
    page.locator("#refresh_assignments_list").click(timeout=30_000)
    page.wait_for_timeout(300)
    _wait_loaded(page, "refresh the Assignments tab", timeout_ms)


def assignment_row(page, listing: str, assignment: str):
    """``assignment``'s row in the Assignments tab's list ``listing`` (released, fetched, submitted)."""
    return page.locator(f"#{listing}_assignments_list > .list_item", has=page.locator(".item_name", has_text=assignment))


def _lists_text(page) -> str:
    parts = []
    for name in ("released", "fetched", "submitted"):
        text = " ".join(page.locator(f"#{name}_assignments_list").inner_text().split())
        parts.append(f"{name}: {text[:400]!r}")
    return "; ".join(parts)


def _wait_row(page, listing: str, assignment: str, step: str, timeout_ms: int):
    row = assignment_row(page, listing, assignment)
    try:
        row.first.wait_for(state="visible", timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"{step}: expected {assignment!r} in the {listing} list within {timeout_ms / 1000:.0f} s, the tab shows {_lists_text(page)}") from error
    return row.first


def _dialog_text(page) -> str:
    dialogs = page.locator(".jp-Dialog")
    return " | ".join(" ".join(t.split())[:800] for t in dialogs.all_inner_texts())


def fetch_assignment(page, assignment: str, timeout_ms: int = STEP_MS) -> None:
    """Refresh, then Fetch on ``assignment`` in Released assignments; wait until it is fetched."""
    step = f"fetch {assignment!r}"
    refresh_assignments(page)
    row = _wait_row(page, "released", assignment, step, timeout_ms)
    row.locator(".item_status button", has_text="Fetch").click(timeout=30_000)
    _wait_row(page, "fetched", assignment, step, timeout_ms)


def submission_rows(page, assignment: str):
    """The timestamps listed under ``assignment`` in Submitted assignments (one per submission)."""
    row = assignment_row(page, "submitted", assignment)
    return row.locator("[id$='-submissions'] > .list_item .item_name")


def submission_timestamps(page, assignment: str) -> list[str]:
    return [t.strip() for t in submission_rows(page, assignment).all_inner_texts() if t.strip()]


def submit_assignment(page, assignment: str, timeout_ms: int = STEP_MS) -> str:
    """Submit on ``assignment`` in Downloaded assignments; wait until Submitted assignments lists
    one more submission. Returns its timestamp as the tab shows it."""
    step = f"submit {assignment!r}"
    before = submission_timestamps(page, assignment)
    row = _wait_row(page, "fetched", assignment, step, timeout_ms)
    row.locator(".item_status button", has_text="Submit").click(timeout=30_000)
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        now = submission_timestamps(page, assignment)
        if len(now) > len(before):
            return next(t for t in now if t not in before) if set(now) - set(before) else now[-1]
        if page.locator(".jp-Dialog").count():
            raise StepFailed(f"{step}: expected the submission to be listed, JupyterLab showed a dialog: {_dialog_text(page)}")
        page.wait_for_timeout(250)
    raise StepFailed(f"{step}: expected {len(before) + 1} submissions listed within {timeout_ms / 1000:.0f} s, "
                     f"got {submission_timestamps(page, assignment)}; the tab shows {_lists_text(page)}")


def fetch_feedback(page, assignment: str, timeout_ms: int = STEP_MS) -> None:
    """Refresh, then Fetch Feedback on ``assignment`` in Submitted assignments; wait until a
    submission offers '(view feedback)'."""
    step = f"fetch feedback of {assignment!r}"
    refresh_assignments(page)
    row = _wait_row(page, "submitted", assignment, step, timeout_ms)
    row.locator(".item_status button", has_text="Fetch Feedback").first.click(timeout=30_000)
    link = assignment_row(page, "submitted", assignment).locator("a", has_text="view feedback")
    try:
        link.first.wait_for(state="visible", timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"{step}: expected a '(view feedback)' link within {timeout_ms / 1000:.0f} s, the tab shows {_lists_text(page)}; "
                         f"dialogs: {_dialog_text(page)!r}") from error


def view_feedback(page, timeout_ms: int = STEP_MS) -> str:
    """Click '(view feedback)' (the file browser goes to the feedback folder), open the HTML
    file there in JupyterLab's HTML viewer, and return the text it shows."""
    page.locator("#submitted_assignments_list a", has_text="view feedback").first.click(timeout=30_000)
    item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text=".html"))
    try:
        item.first.wait_for(state="visible", timeout=timeout_ms)
    except Exception as error:
        shown = page.locator(".jp-DirListing-item").all_inner_texts()
        raise StepFailed(f"view feedback: expected an .html file in the file browser, it lists {shown}") from error
    item.first.dblclick()
    viewer = page.frame_locator(".jp-HTMLViewer:visible iframe").first
    try:
        viewer.locator("body").wait_for(state="attached", timeout=timeout_ms)
        page.wait_for_function("() => { const f = document.querySelector('.jp-HTMLViewer:not(.lm-mod-hidden) iframe');"
                               " return f && f.contentDocument && f.contentDocument.body && f.contentDocument.body.innerText.length > 50; }",
                               timeout=timeout_ms)
    except Exception as error:
        raise StepFailed(f"view feedback: expected the feedback in JupyterLab's HTML viewer, the page shows {_page_text(page)}") from error
    return viewer.locator("body").inner_text()
