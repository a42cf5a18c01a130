"""A class on the real JupyterHub, end to end (issue 16), in Debian's Chromium as people click it.

On the class hub of tests/hub_class.py (loopback, test Unix users, a temporary exchange and a
PostgreSQL gradebook), with the tiny fixture assignment (tests/fixtures/assignments/tiny, put
into the instructor's source/ beside the course's own: the cycle tests the hub, the exchange and
the gradebook, not a lesson, and a plain-Python notebook keeps every step quick):

1. everyone logs in through JupyterHub's login form; the instructor adds the three students in
   the Formgrader's Manage Students, opens Manage Assignments, then clicks Generate and Release;
2. in their Assignments tab, student 1 fetches, answers part (a) only and submits, then answers
   everything and submits again (the second submission must replace the first); student 2
   fetches and answers part (a) only; student 3 fetches and never submits. Answers are built
   from the solution (tests/fixtures/grading/tiny_class.py) and saved through the student's own
   server from their browser, as JupyterLab's Save does; fetching and submitting are clicks;
3. the instructor sets the due date (the pencil) to a moment after student 1's submissions, as
   one who extends or fixes a deadline after the release does; the hub restarts; student 2
   then submits (late);
4. the instructor clicks Collect, grades with ``sidebyside grade`` as the instructor's Unix user
   (the Formgrader has no button for it), PostgreSQL restarts, the instructor clicks Release
   Feedback (``sidebyside grade`` wrote the feedback, hidden tests removed);
5. students 1 and 2 click Fetch Feedback and open it: it shows their score and no hidden test;
   student 3 has nothing to fetch.

Then the scores in PostgreSQL and in grades.csv must be what each student did, the late one
late, and nothing lost to the restarts. The time from the Release click to the last feedback
fetched is recorded (``release_to_feedback_seconds``) and printed. Screenshots go to
test-artifacts/class-cycle/. Without root, JupyterHub's proxy, PostgreSQL or Chromium, the
fixtures skip, saying why.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from browser import headless_chromium
from browser_nbgrader import (
    StepFailed,
    add_students,
    collect_submissions,
    fetch_assignment,
    fetch_feedback,
    generate_assignment,
    generate_feedback,
    hub_login,
    open_assignments_tab,
    open_formgrader,
    read_file,
    refresh_assignments,
    reload_formgrader,
    release_assignment,
    release_feedback,
    save_notebook,
    set_due_date,
    submission_timestamps,
    submit_login,
    submit_assignment,
    view_feedback,
    wait_for_server,
)
from conftest import ARTIFACTS, ROOT
from hub_class import class_hub  # noqa: F401 - the fixture

sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))
import tiny_class  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.nbgrader]

A = tiny_class.ASSIGNMENT
SHOTS = ARTIFACTS / "class-cycle"
#: The due date is set this long after student 1's two submissions (so they are on time), and
#: student 2 submits after it: set once the on-time submissions are in, it needs no margin for
#: a slow machine and the cycle does not wait for it.
DUE_AFTER_ON_TIME = timedelta(seconds=2)
#: `sidebyside grade`'s bound for the whole run (2 students, 2 workers, 2 cores).
GRADE_TIMEOUT_S = 900
#: Scores of the autograded cells (2 points each): all six answers, or part (a)'s three.
FULL, PART_A = 12.0, 6.0
PART_A_CELLS = ("add", "mean", "clip")
#: Student 2's wrong answer to part (b)'s count_words: the misconception its feedback must name
#: (the tiny assignment's own catalogue, misconceptions.toml, released beside its notebook).
WRONG_COUNT_WORDS = ("split_on_one_space", 'def count_words(text):\n    return len(text.split(" "))\n')


def answered(released: dict, which: str) -> dict:
    """The released notebook (JSON) with the solution's answers: ``all``, or part (a) only with a
    wrong count_words."""
    right = tiny_class.answers(nbformat.read(tiny_class.SOLUTION, as_version=4))
    if which == "part a":
        right = {grade_id: source for grade_id, source in right.items() if grade_id in PART_A_CELLS}
        right["count_words"] = WRONG_COUNT_WORDS[1]
    notebook = tiny_class.with_answers(nbformat.from_dict(released), right)
    return json.loads(nbformat.writes(notebook))


def cell_source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def hidden_test_lines(released_text: str) -> list[str]:
    """Lines of the solution's hidden tests that the released notebook does not show."""
    solution = nbformat.read(tiny_class.SOLUTION, as_version=4)
    lines = set()
    for cell in solution.cells:
        for region in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S):
            lines |= {line.strip() for line in region.splitlines() if len(line.strip()) > 12}
    return sorted(line for line in lines if line not in released_text)


@dataclass
class Person:
    name: str
    server: str
    page: object


@dataclass
class Cycle:
    """What the cycle saw, for the checks below."""

    hub: object
    due: datetime
    released_text: str
    timestamps: dict[str, list[str]]
    feedback: dict[str, str]
    grade_run: object
    grades_after_grading: dict
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def gradebook_rows(url: str) -> dict:
    """student: (score, max_score, timestamp, seconds late) for every submission of A in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        return {s.student_id: (s.score, s.max_score, s.timestamp, s.total_seconds_late) for s in gb.assignment_submissions(A)}


def gradebook_students(url: str) -> set[str]:
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        return {s.id for s in gb.students}


class Shots:
    def __init__(self):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, page, name: str) -> None:
        self.count += 1
        try:
            page.screenshot(path=str(SHOTS / f"{self.count:02d}-{name}.png"))
        except Exception:  # a screenshot must never hide the step's own failure
            pass


@pytest.fixture(scope="module")
def chromium():
    yield from headless_chromium("CLASS CYCLE SKIPPED")


def log_in_everyone(chromium, hub, shots) -> list[Person]:
    """The instructor and the three students send JupyterHub's login form one after the other,
    then each waits for their JupyterLab (the hub starts the four servers meanwhile)."""
    logins = (hub.instructor, *hub.students)
    pages = [chromium.new_context(viewport={"width": 1600, "height": 1000}).new_page() for _ in logins]
    for page in pages:
        page.set_default_timeout(60_000)
    try:
        for page, login in zip(pages, logins):
            submit_login(page, hub.url, login.name, login.password)
        return [Person(login.name, wait_for_server(page, hub.url, login.name), page) for page, login in zip(pages, logins)]
    except Exception:
        for page, login in zip(pages, logins):
            shots(page, f"login-{login.name}")
            page.context.close()
        raise


@pytest.fixture(scope="module")
def cycle(class_hub, chromium):  # noqa: F811 - the fixture
    """The whole class, once, as the module's docstring tells it."""
    add_the_tiny_assignment(class_hub)
    return run_cycle(class_hub, chromium)


def add_the_tiny_assignment(hub) -> None:
    """The tiny assignment in the instructor's source/, owned by the instructor, as
    sidebyside.instructor.hub.class_course puts the course's own there."""
    import pwd
    import shutil

    owner = pwd.getpwnam(hub.instructor.name)
    target = hub.course_dir / "source" / A
    shutil.copytree(tiny_class.SOLUTION.parent, target)
    for path in (target, *target.rglob("*")):
        os.chown(path, owner.pw_uid, owner.pw_gid)


def run_cycle(hub, chromium) -> Cycle:
    shots = Shots()
    seconds = {}
    began = time.monotonic()
    people = log_in_everyone(chromium, hub, shots)
    instructor, s1, s2, s3 = people
    seconds["log_in_four_users"] = time.monotonic() - began
    current = instructor
    try:
        # --- 1. the instructor: students, generate, release -------------------------------------
        formgrader = open_formgrader(instructor.page, A)
        add_students(formgrader, [s.name for s in hub.students])
        reload_formgrader(formgrader, A)  # Manage Assignments again, after Manage Students
        shots(instructor.page, "instructor-formgrader")
        generate_assignment(formgrader, A)
        for student in (s1, s2, s3):
            open_assignments_tab(student.page)
        released_at = time.monotonic()
        release_assignment(formgrader, A)
        shots(instructor.page, "instructor-released")

        # --- 2. students: fetch, answer, submit ------------------------------------------------
        current = s1
        fetch_assignment(s1.page, A)
        released = json.loads(read_file(s1.page, s1.server, f"{A}/{A}.ipynb"))
        released_text = "\n".join(cell_source(cell) for cell in released["cells"])
        save_notebook(s1.page, s1.server, f"{A}/{A}.ipynb", answered(released, "part a"))
        submit_assignment(s1.page, A)
        save_notebook(s1.page, s1.server, f"{A}/{A}.ipynb", answered(released, "all"))
        submit_assignment(s1.page, A)
        shots(s1.page, "student1-submitted-twice")
        current = s2
        fetch_assignment(s2.page, A)
        save_notebook(s2.page, s2.server, f"{A}/{A}.ipynb", answered(released, "part a"))
        current = s3
        fetch_assignment(s3.page, A)
        shots(s3.page, "student3-fetched-only")

        # --- 3. the due date, after student 1's submissions; the hub restarts; student 2 late --
        current = instructor
        due = datetime.now(timezone.utc).replace(microsecond=0) + DUE_AFTER_ON_TIME
        set_due_date(formgrader, A, due)
        seconds["hub_restart"] = hub.restart_hub()
        wait = (due - datetime.now(timezone.utc)).total_seconds() + 1
        seconds["due_date_wait"] = max(0.0, wait)
        if wait > 0:
            time.sleep(wait)
        current = s2
        refresh_assignments(s2.page)
        submit_assignment(s2.page, A)
        shots(s2.page, "student2-submitted-late")
        current = s1
        refresh_assignments(s1.page)
        timestamps = {s.name: submission_timestamps(s.page, A) for s in (s1, s2, s3)}

        # --- 4. collect, grade, restart PostgreSQL, release feedback ---------------------------
        current = instructor
        reload_formgrader(formgrader, A)
        collect_submissions(formgrader, A)
        shots(instructor.page, "instructor-collected")
        graded_at = time.monotonic()
        # from the course folder, without --course: found by its nbgrader_config.py and source/
        grade_run = hub.run_as(hub.instructor, "sidebyside", "grade", A, "--workers", "2", "--timeout", "600", "--quiet",
                               cwd=hub.course_dir, timeout=GRADE_TIMEOUT_S)
        seconds["sidebyside_grade"] = time.monotonic() - graded_at
        if grade_run.returncode != 0:
            raise StepFailed(f"`sidebyside grade {A}` as {hub.instructor.name}: expected exit status 0, got {grade_run.returncode}\n"
                             f"stdout: {grade_run.stdout[-3000:]}\nstderr: {grade_run.stderr[-3000:]}")
        missing = [s.name for s in (s1, s2) if not list((hub.course_dir / "feedback" / s.name / A).glob("*.html"))]
        if missing:
            raise StepFailed(f"`sidebyside grade {A}` as {hub.instructor.name}: expected feedback for {s1.name} and {s2.name} in "
                             f"{hub.course_dir / 'feedback'}, none for {missing}; its output: {grade_run.stdout[-3000:]}")
        grades = gradebook_rows(hub.gradebook_url)
        restarted = time.monotonic()
        hub.restart_postgres()
        seconds["postgres_restart"] = time.monotonic() - restarted
        reload_formgrader(formgrader, A)
        release_feedback(formgrader, A)
        shots(instructor.page, "instructor-released-feedback")

        # --- 5. students fetch their feedback --------------------------------------------------
        feedback = {}
        for student in (s1, s2):
            current = student
            fetch_feedback(student.page, A)
            feedback[student.name] = view_feedback(student.page)
            shots(student.page, f"{student.name}-feedback")
        seconds["release_to_feedback_fetched"] = time.monotonic() - released_at
        current = s3
        refresh_assignments(s3.page)
        shots(s3.page, "student3-nothing-to-fetch")
    except Exception as error:
        shots(current.page, f"failed-{current.name}")
        raise StepFailed(f"class cycle, as {current.name}: {error}\n--- hub log ---\n{hub_log(hub)}") from error
    finally:
        for person in people:
            person.page.context.close()
    return Cycle(hub, due, released_text, timestamps, feedback, grade_run, grades, seconds)


def hub_log(hub, chars: int = 2500) -> str:
    """The end of JupyterHub's own log (not the proxy's, which a restart fills with refusals)."""
    logs = [path for path in sorted(Path(hub.settings.logs_dir).glob("*.log")) if "proxy" not in path.name]
    return "\n".join(f"{path.name}: ...{path.read_text(errors='replace')[-chars:]}" for path in logs) or "(no hub log found)"


# --- the checks ---------------------------------------------------------------------------------


def test_release_to_feedback_is_measured(cycle, record_property):
    s = {name: round(value, 1) for name, value in cycle.seconds.items()}
    record_property("release_to_feedback_seconds", s["release_to_feedback_fetched"])
    record_property("class_cycle_seconds", s)
    (SHOTS / "timings.json").write_text(json.dumps(s, indent=1))
    print(f"class cycle: release -> feedback fetched {s['release_to_feedback_fetched']:.0f} s "
          f"(of it: waiting for the due date {s['due_date_wait']:.0f} s, `sidebyside grade` {s['sidebyside_grade']:.0f} s, "
          f"hub restart {s['hub_restart']:.1f} s, PostgreSQL restart {s['postgres_restart']:.1f} s); four logins {s['log_in_four_users']:.0f} s")
    assert s["release_to_feedback_fetched"] > 0, f"expected a positive release -> feedback time, got {s}"


def test_each_student_sees_the_submissions_they_made(cycle):
    s1, s2, s3 = (s.name for s in cycle.hub.students)
    got = {name: len(stamps) for name, stamps in cycle.timestamps.items()}
    assert got == {s1: 2, s2: 1, s3: 0}, f"submissions listed in each Assignments tab: expected {{{s1}: 2, {s2}: 1, {s3}: 0}}, got {got}"


def test_the_exchange_kept_every_submission_through_the_hub_restart(cycle):
    inbound = cycle.hub.exchange / cycle.hub.settings.course_id / "inbound"
    got = sorted(p.name.split("+")[0] for p in inbound.iterdir())
    s1, s2, _ = (s.name for s in cycle.hub.students)
    assert got == sorted([s1, s1, s2]), f"submissions in {inbound}: expected two of {s1} and one of {s2}, got {got}"


def test_postgresql_holds_what_each_student_did(cycle):
    s1, s2, s3 = (s.name for s in cycle.hub.students)
    rows = gradebook_rows(cycle.hub.gradebook_url)
    got = {name: row[0] for name, row in rows.items()}
    assert got == {s1: FULL, s2: PART_A}, (
        f"scores in PostgreSQL: expected {s1} {FULL} (second submission replaces the first, which had part (a) only), "
        f"{s2} {PART_A} (part (a)), {s3} no submission; got {got}")
    assert rows == cycle.grades_after_grading, f"PostgreSQL restart: expected the grades read before it, {cycle.grades_after_grading}, got {rows}"


def test_the_late_submission_is_late_and_the_others_are_not(cycle):
    s1, s2, _ = (s.name for s in cycle.hub.students)
    rows = gradebook_rows(cycle.hub.gradebook_url)
    late = {name: row[3] > 0 for name, row in rows.items()}
    assert late == {s1: False, s2: True}, (
        f"late in PostgreSQL (due {cycle.due:%Y-%m-%d %H:%M:%S} UTC): expected {s1} on time and {s2} late, got "
        f"{ {name: (str(row[2]), round(row[3], 1)) for name, row in rows.items()} }")


def grades_csv(hub) -> dict[str, dict]:
    path = hub.course_dir / "reports" / A / "grades.csv"
    assert path.is_file(), f"expected `sidebyside grade` to write {path}, it is missing"
    return {row["student_id"]: row for row in csv.DictReader(io.StringIO(path.read_text())) if row["assignment"] == A}


def test_grades_csv_matches_what_each_student_did(cycle):
    s1, s2, s3 = (s.name for s in cycle.hub.students)
    rows = grades_csv(cycle.hub)
    got = {name: (float(row["score"]), row["timestamp"] != "") for name, row in rows.items()}
    want = {s1: (FULL, True), s2: (PART_A, True), s3: (0.0, False)}
    assert got == want, f"grades.csv (score, has a submission): expected {want}, got {got}"
    duedate = {name: row["duedate"] for name, row in rows.items()}
    late = {name: datetime.fromisoformat(row["timestamp"]) > datetime.fromisoformat(row["duedate"]) for name, row in rows.items() if row["timestamp"]}
    assert late == {s1: False, s2: True}, f"grades.csv, timestamp after the due date: expected {s1} on time and {s2} late, got {late} (due dates {duedate})"


def test_feedback_shows_the_score_and_no_hidden_test(cycle):
    s1, s2, _ = (s.name for s in cycle.hub.students)
    hidden = hidden_test_lines(cycle.released_text)
    assert hidden, "expected the solution of 03-visualization to have hidden test lines that the release does not show"
    for name, score in ((s1, FULL), (s2, PART_A)):
        text = cycle.feedback[name]
        want = f"{A} (Score: {score:.1f} / "
        shown = re.search(rf"{re.escape(A)} \(Score: [^)]*\)", text)
        assert want in text, f"{name}'s feedback: expected it to show {want!r}..., it shows {shown.group(0) if shown else text[:300]!r}"
        leaked = [line for line in hidden if line in text] + (["BEGIN HIDDEN TESTS"] if "HIDDEN TESTS" in text else [])
        assert not leaked, f"{name}'s feedback: expected no hidden test, got {len(leaked)} hidden lines, such as {leaked[:3]}"


def test_the_fetched_feedback_names_the_misconception(cycle):
    """Student 2's wrong count_words: the feedback they fetched through the hub names its
    misconception, with its title and explanation; student 1's names none."""
    from sidebyside import misconceptions

    s1, s2, _ = (s.name for s in cycle.hub.students)
    entry = misconceptions.catalogue(A, beside=tiny_class.SOLUTION.parent)[WRONG_COUNT_WORDS[0]]
    text = html.unescape(re.sub(r"<[^>]+>", "", cycle.feedback[s2]))
    for words in (f"Looks like mistake [{entry.id}]: {entry.title}", entry.explanation.split(".")[0].strip()):
        assert " ".join(words.split()) in " ".join(text.split()), f"{s2}'s fetched feedback: expected {words!r}, got:\n{text[-3000:]}"
    assert "Looks like mistake" not in html.unescape(cycle.feedback[s1]), f"{s1} answered everything right: expected no diagnosis in their feedback"


def test_a_student_who_never_submitted_has_no_feedback(cycle):
    s3 = cycle.hub.students[2].name
    folder = cycle.hub.home(s3) / A / "feedback"
    assert not folder.exists(), f"{s3} never submitted: expected no {folder}, found {sorted(p.name for p in folder.rglob('*'))}"


def test_the_formgraders_generate_feedback_hides_the_hidden_tests(cycle, chromium):
    """Last: after grading, an instructor may click Generate Feedback in the Formgrader (the
    README's "then generate and release feedback"); that feedback must not show hidden tests
    either. Read from the course's feedback/ (the instructor's side), then the students' copies
    are not touched."""
    hub = cycle.hub
    page = chromium.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    try:
        hub_login(page, hub.url, hub.instructor.name, hub.instructor.password)
        generate_feedback(open_formgrader(page, A), A)
        page.screenshot(path=str(SHOTS / "instructor-generate-feedback-button.png"))
    finally:
        page.context.close()
    hidden = hidden_test_lines(cycle.released_text)
    leaked = {}
    for student in hub.students[:2]:
        path = hub.course_dir / "feedback" / student.name / A / f"{A}.html"
        text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))
        leaked[student.name] = [line for line in hidden if line in text]
    assert not any(leaked.values()), f"feedback from the Formgrader's button: expected no hidden test line, got {({k: v[:2] for k, v in leaked.items()})}"
