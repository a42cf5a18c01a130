"""`sidebyside grade`, for real: a fixture class (tests/fixtures/grading/class_03.py) of honest,
blank, partial, wrong, broken and cheating submissions of 03-visualization, graded in one run
with two workers:

- every student gets exactly the expected score, and the expected findings and status;
- the cheats gain nothing (plain nbgrader, for the record, is fooled by the same cheats:
  test_plain_nbgrader_is_fooled_by_the_cheats in tests/test_assignments.py);
- submitted/ is byte-for-byte unchanged, the gradebook was backed up, the grades CSV lists
  everyone, the feedback hides the hidden tests, and a second run resumes without regrading.

Every assignment's stored answers are graded in one `sidebyside grade` class per assignment
(warm kernels): the reference and the stored right answers keep full marks with no finding, a
half-done submission scores in between, and each stored wrong answer loses its own cell's points
(a delegating one earns 0).

Unit tests of the pure parts (prechecks, the suspicious-code scan, shadowing, the guard in a
real IPython shell, the hardened checks) run fast and need no nbgrader run.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import html
import json
import runpy
import shutil
import sys
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
import stored_answers as stored
from conftest import ROOT

from sidebyside.instructor.grading import precheck, report, run
from sidebyside.instructor.grading.limits import Limits
from sidebyside.instructor.grading.results import Isolation, Status

FIXTURES = ROOT / "tests" / "fixtures" / "grading"
sys.path.insert(0, str(FIXTURES))
import class_03  # noqa: E402
import tiny_class  # noqa: E402

A = class_03.ASSIGNMENT


def make_class(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "solutions" / A, folder / "solutions" / A)
    wrong = runpy.run_path(str(ROOT / "tests" / "wrong_answers" / f"{A}.py"))["WRONG_ANSWERS"]
    class_03.build(folder, folder / "solutions" / A / f"{A}.ipynb", ROOT / "exercises" / A / f"{A}.ipynb", wrong)
    return folder


def tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@lru_cache(maxsize=None)
def graded(folder: str):
    course = make_class(Path(folder))
    before = tree_hash(course / "submitted")
    options = run.Options(root=course, assignment=A, workers=2, progress=False, limits=Limits(wall_seconds=600, memory_mb=6000))
    result = run.grade(options)
    return course, before, result


@pytest.fixture
def grading(tmp_path_factory):
    return graded(str(tmp_path_factory.getbasetemp() / "grading-class"))


def by_student(result):
    return {s.student: s for s in result.students}


# --- the fixture class, graded in one run -------------------------------------------------------


@pytest.mark.nbgrader
def test_every_student_gets_exactly_the_expected_score(grading):
    _, _, result = grading
    students = by_student(result)
    assert set(students) == set(class_03.EXPECTED), f"graded {sorted(students)}"
    confined = result.isolation != Isolation.NONE
    problems = []
    for name, (score, _, _) in class_03.EXPECTED.items():
        student = students[name]
        cells = {cell: value for nb in student.outcome.scores.values() for cell, value in nb.items()}
        tests = {cell: value for cell, value in cells.items() if cell.startswith("test_")}
        want = score
        if not confined and name == class_03.FILE_THIEF_CELL[0]:
            want = score + 2.0  # unconfined, the thief finds the course's solutions
        got = None if score is None else sum(v or 0.0 for v in tests.values())
        if score is None:
            got = None if not student.outcome.scores else sum(v or 0.0 for v in tests.values())
        if got != want:
            problems.append(f"{name}: {got} (cells {tests}), expected {want}")
    assert not problems, "\n".join(problems) + "\n" + report.markdown(result)[-6000:]


@pytest.mark.nbgrader
def test_findings_and_status_are_reported(grading):
    _, _, result = grading
    students = by_student(result)
    problems = []
    for name, (_, codes, status) in class_03.EXPECTED.items():
        student = students[name]
        found = {f.code for f in student.findings}
        if not codes <= found:
            problems.append(f"{name}: findings {sorted(found)} lack {sorted(codes - found)}")
        if student.status != status:
            problems.append(f"{name}: status {student.status}, expected {status}")
    honest = students["honest"]
    if [f for f in honest.findings if f.code != "unconfined"]:
        problems.append(f"the honest student has findings: {honest.findings}")
    assert not problems, "\n".join(problems)


@pytest.mark.nbgrader
def test_cheats_are_caught_by_the_guard(grading):
    _, _, result = grading
    students = by_student(result)
    text = json.dumps([f.message for name in ("cheat-runtime", "cheat-objects") for f in students[name].findings])
    for expected in ("input transformers", "AST transformers", "event hooks (post_run_cell)", "custom_exceptions",
                     "showtraceback", "sys.excepthook", "builtins.isinstance", "numpy.allclose", "assert_close",
                     "rebound 'SummaryWriter'", "rebound 'check_history_logged'", "rebound 'check_weights_and_image'",
                     "execute_result came before an error", "kernel died"):
        assert expected in text, f"no finding mentions {expected!r}:\n{text}"


def test_an_sqlite_gradebook_is_backed_up_whole_and_left_closed(tmp_path):
    import sqlite3

    gradebook = tmp_path / "gradebook.db"
    with contextlib.closing(sqlite3.connect(gradebook)) as db, db:
        db.execute("create table grade (student text, score real)")
        db.executemany("insert into grade values (?, ?)", [("ada", 12.0), ("bo", 6.5)])
    note = run.backup_gradebook(f"sqlite:///{gradebook}", tmp_path / "backups")
    copies = list((tmp_path / "backups").glob("gradebook-*.db"))
    assert note.startswith("gradebook backed up to") and len(copies) == 1, f"expected one backup and its note, got {copies} and {note!r}"
    with contextlib.closing(sqlite3.connect(copies[0])) as copy:
        rows = copy.execute("select student, score from grade order by student").fetchall()
    assert rows == [("ada", 12.0), ("bo", 6.5)], f"expected the backup to hold every row, got {rows}"
    import psutil

    still_open = [f.path for f in psutil.Process().open_files() if f.path.endswith(".db")]
    assert not still_open, f"expected both SQLite files closed after the backup, still open: {still_open}"


@pytest.mark.nbgrader
def test_submitted_is_unchanged_and_the_run_is_recorded(grading):
    course, before, result = grading
    assert result.submitted_unchanged
    assert tree_hash(course / "submitted") == before
    assert any("backed up" in n or "nothing to back up" in n for n in result.notes), result.notes
    for what in ("kernels", "nbgrader processes"):
        assert any(n.startswith(f"{what} forked from a warm server") for n in result.notes), f"the class should be graded with warm {what}: {result.notes}"
    with open(course / "reports" / A / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(class_03.EXPECTED) <= set(rows)
    assert float(rows["honest"]["raw_score"]) == 12.0
    assert (course / "reports" / A / "report.md").read_text().split("\n## Students\n")[1].count("### ") == len(class_03.EXPECTED)
    feedback = (course / "feedback" / "honest" / A / f"{A}.html").read_text()
    assert "HIDDEN TESTS" not in feedback and "other = {" not in feedback, "the feedback shows hidden tests"
    assert (course / "autograded" / "honest" / A / f"{A}.ipynb").is_file()


@pytest.mark.nbgrader
def test_misconceptions_reach_the_report_and_the_feedback_without_hidden_values(grading):
    """What the tests diagnosed is in report.json (a list per student and test, empty when none)
    and in report.md's class table with its chart; a student's feedback shows a hidden test's
    diagnosis (title, explanation, lesson) but not the hidden step it expected."""
    from sidebyside import misconceptions

    course, _, _ = grading
    reports = course / "reports" / A
    found = json.loads((reports / "report.json").read_text())["misconceptions"]
    problems = []
    for student in ("honest", "hidden-miss", "wrong-shadow"):
        expected = class_03.MISCONCEPTIONS.get(student, {})
        named = {cell: ids for cell, ids in found.get(student, {}).items() if ids}
        if named != expected:
            problems.append(f"{student}: expected the misconceptions {expected}, got {named}")
        if not found.get(student) or not all(cell in found[student] for cell in ("test_torch_log_history", "test_tf_train_live")):
            problems.append(f"{student}: expected a (possibly empty) list for every test cell, got {found.get(student)}")
    assert not problems, "\n".join(problems)
    markdown = (reports / "report.md").read_text()
    ignores_step = misconceptions.catalogue(A)["ignores_step"]
    for words in ("## Misconceptions", "### test_torch_log_weights_and_image_histogram", f"| {ignores_step.title} (`ignores_step`) | 1 | hidden-miss |"):
        assert words in markdown, f"expected {words!r} in report.md's misconceptions, got:\n{markdown[:3000]}"
    chart = reports / "misconceptions-test_torch_log_weights_and_image_histogram.png"
    assert chart.is_file() and chart.read_bytes()[:4] == b"\x89PNG", f"expected the class chart {chart.name} beside report.md"
    feedback = (course / "feedback" / "hidden-miss" / A / f"{A}.html").read_text()
    for words in ("A hidden test failed here", "Looks like mistake [ignores_step]", ignores_step.title, ignores_step.section):
        assert html.escape(words, quote=False) in feedback or words in feedback, f"expected the feedback to show {words!r}"
    for hidden in ("step 11", "np.triu", "torch_model(7)"):
        assert hidden not in feedback, f"expected the feedback to hide the hidden tests' {hidden!r}; it shows it"
    visible = (course / "feedback" / "wrong-shadow" / A / f"{A}.html").read_text()
    assert "Looks like mistake [not_flushed]" in visible and "found none" in visible, "expected a visible failure's message in full, with its diagnosis"


@pytest.mark.nbgrader
def test_a_second_run_resumes_without_regrading(grading):
    course, _, first = grading
    again = run.grade(run.Options(root=course, assignment=A, workers=2, progress=False, feedback=False))
    assert again.graded == 0 and sorted(again.resumed) == sorted(class_03.EXPECTED)
    assert [s.score for s in again.students] == [s.score for s in first.students]


@pytest.mark.nbgrader
def test_a_cold_start_gives_the_same_grades(grading, tmp_path):
    """A warm start is only a way to start faster: an honest, a cheating and a broken
    submission graded by nbgrader processes and kernels started the ordinary way get the very
    same cell scores."""
    _, _, warm = grading
    course = make_class(tmp_path / "cold-class")
    chosen = ["honest", "cheat-runtime", "partial-broken"]
    cold = run.grade(run.Options(root=course, assignment=A, students=chosen, workers=2, progress=False, feedback=False, warm_start=False))
    assert not any("warm server" in note for note in cold.notes), cold.notes
    warm_students, cold_students = by_student(warm), by_student(cold)
    for name in chosen:
        assert cold_students[name].outcome.scores == warm_students[name].outcome.scores, (
            f"{name}: expected the same cell scores cold and warm, got {cold_students[name].outcome.scores} and {warm_students[name].outcome.scores}"
        )
        assert cold_students[name].status == warm_students[name].status, name


@pytest.mark.nbgrader
def test_a_course_root_in_the_config_stays_out_of_scratch_courses(tmp_path):
    """nbgrader's docs suggest ``CourseDirectory.root`` for shared setups; scratch courses set
    their own layout, so students are still graded (not "extra notebook ...") and nothing is
    released or graded into the real course."""
    course = tiny_class.make_class(tmp_path / "rooted-class", ["honest"])  # the layout matters here, not the notebook
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.root = {str(course)!r}\n")
    before = sorted(p.name for p in course.iterdir())
    result = run.grade(run.Options(root=course, assignment=tiny_class.ASSIGNMENT, students=["honest"], workers=1, progress=False, feedback=False))
    honest = by_student(result)["honest"]
    want_score, _, want_status = tiny_class.EXPECTED["honest"]
    tests = {cell: value for nb in honest.outcome.scores.values() for cell, value in nb.items() if cell.startswith("test_")}
    assert honest.status == want_status, f"expected status {want_status!r}, got {honest.status!r}: {honest.findings}"
    assert sum(v or 0.0 for v in tests.values()) == want_score, f"expected {want_score} points, got {tests}"
    # autograded/STUDENT is copied back on purpose; a release (exercises/) would come from a scratch course
    assert not (course / "exercises").exists(), (
        f"a scratch course released into the real course: {sorted(p.name for p in course.iterdir())} (before: {before})"
    )
    graded_students = sorted(p.name for p in (course / "autograded").iterdir())
    assert graded_students == ["honest"], f"expected only the honest student in autograded/, got {graded_students}"


# --- fast unit tests ----------------------------------------------------------------------------


def release_nb():
    return nbformat.read(ROOT / "exercises" / A / f"{A}.ipynb", as_version=4)


def test_precheck_repairs_a_renamed_notebook_and_deleted_cells(tmp_path):
    nb = release_nb()
    del nb.cells[next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "readonly_3")]  # the setup cell
    folder = tmp_path / "s" / A
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "my work.ipynb")
    result = precheck.precheck("s", folder, ROOT / "exercises" / A)
    codes = {f.code for f in result.findings}
    assert {"renamed", "deleted"} <= codes, result.findings
    repaired = result.notebooks[A]
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in repaired.cells] == [c.metadata.get("nbgrader", {}).get("grade_id") for c in release_nb().cells]


def test_precheck_flags_invalid_json_and_missing_notebooks(tmp_path):
    folder = tmp_path / "s" / A
    folder.mkdir(parents=True)
    (folder / f"{A}.ipynb").write_text('{"cells": [')
    result = precheck.precheck("s", folder, ROOT / "exercises" / A)
    assert not result.gradable and [f.code for f in result.findings] == ["invalid_json"]
    (folder / f"{A}.ipynb").unlink()
    (folder / "notes.txt").write_text("hi")
    result = precheck.precheck("s", folder, ROOT / "exercises" / A)
    assert "missing_notebook" in {f.code for f in result.findings} and not result.gradable


def test_shadowing_files_are_detected(tmp_path):
    for name in ("numpy.py", "json.py", "torch", "tensorflow.pyc"):
        path = tmp_path / name
        path.mkdir() if "." not in name else path.write_text("")
        assert precheck.shadows_module(path, set()) == name.split(".")[0]
    (tmp_path / "data.csv").write_text("1")
    (tmp_path / "my_helpers_xyz.py").write_text("")
    assert precheck.shadows_module(tmp_path / "data.csv", set()) is None
    assert precheck.shadows_module(tmp_path / "my_helpers_xyz.py", set()) is None
    assert precheck.shadows_module(tmp_path / "my_helpers_xyz.py", {"my_helpers_xyz"}) == "my_helpers_xyz"


def test_suspicious_code_is_flagged_and_honest_code_is_not():
    solution = nbformat.read(ROOT / "solutions" / A / f"{A}.ipynb", as_version=4)
    for cell in solution.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            assert precheck.suspicious(cell.source) == [], cell.source
    for cheat in (class_03.CHEAT_OBJECTS_TORCH_LOG_HISTORY, class_03.CHEAT_OBJECTS_TF_LOG_HISTORY, class_03.CHEAT_RUNTIME_TORCH_LOG_HISTORY,
                  class_03.CHEAT_READ_FILES, class_03.CHEAT_EXIT_TF_TRAIN_LIVE, class_03.CHEAT_DISPLAYHOOK_TF_WEIGHTS, class_03.CHEAT_OBJECTS_TORCH_WEIGHTS):
        assert precheck.suspicious(cheat), cheat


def test_the_guard_restores_a_tampered_shell():
    """The in-kernel guard, in a real IPython shell (no kernel process needed)."""
    from IPython.core.interactiveshell import InteractiveShell

    from sidebyside.instructor.grading import kernel_guard

    shell = InteractiveShell.instance()
    try:
        shell.kernel = type("K", (), {"shell_handlers": {}})()
        shell.run_cell("import numpy as np\nfrom sidebyside import checks\ndef reference(x):\n    return x")
        kernel_guard.install(shell, "_test_guard", json.dumps(["np.allclose", "checks.assert_close"]))
        guard = __import__("builtins").__dict__["_test_guard"]
        guard("before", "n1")
        shell.run_cell("x = 1")
        guard("after_instructor", "n2")
        shell.run_cell(
            "import builtins, sys\n"
            "builtins.len = lambda x: 0\n"
            "np.allclose = lambda *a, **k: True\n"
            "checks.assert_close = lambda *a, **k: None\n"
            "reference.__code__ = (lambda x: 0).__code__\n"
            "x = 2\n"
            "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
            "sorted = lambda *a: []\n"
        )
        changes = json.loads(guard("before", "n3", loads=["sorted"]))["changes"]
        text = "\n".join(changes)
        for expected in ("builtins.len", "numpy.allclose", "assert_close", "__code__", "rebound 'x'", "input transformers", "shadowed the builtin 'sorted'"):
            assert expected in text, text
        shell.run_cell("result = (len([1, 2]), reference(5), x, 'sorted' in globals())")
        assert shell.user_ns["result"] == (2, 5, 1, False)
        assert json.loads(guard("before", "n4"))["changes"] == []
    finally:
        InteractiveShell.clear_instance()
        __import__("builtins").__dict__.pop("_test_guard", None)


def test_honest_test_cells_are_not_taken_for_tampering():
    """Pickling a tensor (as torch.export.save does) makes copyreg cache ``__slotnames__`` on
    torch.Tensor, and checks.own_work sets and removes a profile function: neither is a change
    the guard reports (solution 02 once scored 8 of 10 under `sidebyside grade` for the first)."""
    from IPython.core.interactiveshell import InteractiveShell

    from sidebyside.instructor.grading import kernel_guard

    shell = InteractiveShell.instance()
    try:
        shell.kernel = type("K", (), {"shell_handlers": {}})()
        shell.run_cell("import io, pickle, torch\nfrom sidebyside import checks, timing")
        torch = sys.modules["torch"]
        torch.Tensor.__dict__.get("__slotnames__") is None or delattr(torch.Tensor, "__slotnames__")
        kernel_guard.install(shell, "_test_guard", json.dumps(["checks.own_work"]))
        guard = __import__("builtins").__dict__["_test_guard"]
        guard("before", "n1")
        result = shell.run_cell(
            "pickle.dump(torch.ones(2), io.BytesIO())\n"
            "with checks.own_work(timing.measure):\n"
            "    total = sum(range(10))\n"
        )
        assert result.success, f"the honest test cell failed: {result.error_in_exec!r}"
        assert "__slotnames__" in torch.Tensor.__dict__, "pickling should have cached __slotnames__ (the case under test)"
        changes = json.loads(guard("after_test", "n2", stores=["total"]))["changes"]
        assert changes == [], f"expected no tampering reported for an honest test cell, got {changes}"
    finally:
        InteractiveShell.clear_instance()
        __import__("builtins").__dict__.pop("_test_guard", None)


def test_a_submodule_import_is_not_taken_for_tampering(tmp_path, monkeypatch):
    """`import pkg.sub` rebinds ``pkg.sub`` to the real submodule (TensorFlow's ``model.export``
    does this to ``tf.saved_model``; solution 06 was sent to review for it): not tampering. A
    look-alike module put there by hand still is."""
    from IPython.core.interactiveshell import InteractiveShell

    from sidebyside.instructor.grading import kernel_guard

    package = tmp_path / "fakepkg"
    (package / "_api").mkdir(parents=True)
    (package / "_api" / "__init__.py").write_text("")
    (package / "_api" / "sub.py").write_text("def load():\n    return 'api'\n")
    (package / "sub.py").write_text("def load():\n    return 'real'\n")
    (package / "__init__.py").write_text("from ._api import sub\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    shell = InteractiveShell.instance()
    try:
        shell.kernel = type("K", (), {"shell_handlers": {}})()
        shell.run_cell("import fakepkg")
        kernel_guard.install(shell, "_test_guard", json.dumps(["fakepkg.sub.load"]))
        guard = __import__("builtins").__dict__["_test_guard"]
        guard("before", "n1")
        shell.run_cell("import fakepkg.sub")
        assert sys.modules["fakepkg"].sub.__name__ == "fakepkg.sub", "the import should have rebound fakepkg.sub (the case under test)"
        changes = json.loads(guard("after_test", "n2"))["changes"]
        assert changes == [], f"expected a submodule import not reported, got {changes}"
        shell.run_cell("import types\nfakepkg.sub = types.ModuleType('fakepkg.sub')")
        changes = json.loads(guard("before", "n3"))["changes"]
        assert changes == ["patched fakepkg.sub"], f"expected a hand-made look-alike module reported, got {changes}"
    finally:
        InteractiveShell.clear_instance()
        __import__("builtins").__dict__.pop("_test_guard", None)
        for name in [n for n in sys.modules if n.startswith("fakepkg")]:
            del sys.modules[name]


def test_an_unconfined_grade_says_so_and_a_result_survives_a_resume():
    """Isolation none: every graded student carries an "unconfined" finding (info: the status is
    unchanged) and the table marks the grade UNCONFINED; a result read back from its resume
    marker is the same result."""
    from sidebyside.instructor.grading.results import Finding, Outcome, RunReport, Severity, StudentResult

    outcome = Outcome(scores={"nb": {"test_a": 2.0}}, max_scores={"nb": {"test_a": 2.0}}, isolation=Isolation.NONE,
                      limits=[Finding(Severity.REVIEW, "processes", "the cap was reached")])
    result = StudentResult.of("s", [Finding(Severity.INFO, "extra_file", "x")], outcome, "hash")
    assert {f.code for f in result.findings} == {"extra_file", "processes", "unconfined"}, f"got {result.findings}"
    assert result.status == Status.REVIEW and not result.confined, f"expected review (the process cap) and unconfined, got {result.status}"
    run_report = RunReport("a", "/course", Isolation.NONE, 1, students=[result])
    assert "UNCONFINED" in report.table(run_report), report.table(run_report)
    again = StudentResult.from_dict(json.loads(json.dumps(result.as_dict())))
    assert again == result, f"a resumed result should equal the saved one, got {again} for {result}"


def test_hardened_checks_reject_look_alikes():
    import numpy as np

    from sidebyside import checks

    class Meta(type):
        def __eq__(cls, other):
            return True

        __hash__ = type.__hash__

    class LooksLikeAFloat(metaclass=Meta):
        def __float__(self):
            return 1.0

    with pytest.raises(AssertionError):
        checks.assert_number(LooksLikeAFloat())
    with pytest.raises(AssertionError):
        checks.as_numpy(LooksLikeAFloat(), "numpy")
    saved = np.allclose
    np.allclose = lambda *a, **k: True
    try:
        with pytest.raises(AssertionError):
            checks.assert_close(np.array([1.0]), [2.0])
    finally:
        np.allclose = saved
    assert checks.assert_number(2, 2.0) == 2.0


# --- every assignment's stored answers, one `sidebyside grade` class per assignment ------------------


def every_assignment() -> list[str]:
    from conftest import assignments

    return assignments()


@dataclasses.dataclass
class AnswersClass:
    """One assignment's class of stored answers, graded in one `sidebyside grade` run (warm
    kernels, two workers): the reference (the solution), a half-done submission, one student per
    round of stored wrong answers and one per round of stored right answers."""

    solution: nbformat.NotebookNode
    wrong_rounds: list[dict[str, tuple[str, str]]]
    answers_in: dict[str, str]  # student: what the submission holds, for messages
    result: object  # RunReport

    def student(self, name: str):
        return by_student(self.result).get(name)

    def scores(self, name: str) -> dict[str, float]:
        student = self.student(name)
        return {cell: value for nb in student.outcome.scores.values() for cell, value in nb.items()} if student else {}

    def max_scores(self) -> dict[str, float]:
        return {cell: value for s in self.result.students for nb in s.outcome.max_scores.values() for cell, value in nb.items()}


@lru_cache(maxsize=None)
def answers_class(assignment: str, folder: str) -> AnswersClass:
    import scratch_course as course_tools

    course = Path(folder)
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    solution = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    blank = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = course_tools.answer_cell_ids(solution)
    blank_sources = {c.metadata.nbgrader["grade_id"]: c.source for c in blank.cells if c.metadata.get("nbgrader", {}).get("grade_id") in answers}
    submissions = {"reference": solution, "half": course_tools.replace_cells(solution, {a: blank_sources[a] for a in answers[len(answers) // 2 :]})}
    answers_in = {"reference": "the solution", "half": f"the untouched {', '.join(answers[len(answers) // 2 :])}"}
    wrong = stored.rounds(stored.wrong_answers(assignment))
    for kind, rounds in (("wrong", wrong), ("right", stored.rounds(stored.right_answers(assignment)))):
        for k, round_ in enumerate(rounds, start=1):
            submissions[f"{kind}-{k}"] = course_tools.replace_cells(solution, {cell: source for cell, (_, source) in round_.items()})
            answers_in[f"{kind}-{k}"] = f"the {kind} answers " + "; ".join(f"{cell}: {name!r}" for cell, (name, _) in round_.items())
    for student, notebook in submissions.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(notebook, target)
    result = run.grade(run.Options(root=course, assignment=assignment, workers=2, progress=False, feedback=False))
    missing = set(submissions) - {s.student for s in result.students}
    assert not missing, f"expected every submission graded, missing {sorted(missing)}; notes: {result.notes}"
    return AnswersClass(solution, wrong, answers_in, result)


@pytest.fixture
def stored_answers_class(request, tmp_path_factory) -> AnswersClass:
    assignment = request.node.callspec.params["assignment"]
    return answers_class(assignment, str(tmp_path_factory.getbasetemp() / f"answers-{assignment}"))


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", every_assignment())
def test_reference_and_valid_answers_get_full_marks_from_sidebyside_grade(assignment, stored_answers_class):
    """The solution and the stored right answers (tests/right_answers/: another valid spelling,
    or the task's statement followed literally) of every assignment score full marks under the
    guard, with no finding: tests ask for behaviour, not one spelling, and an honest answer
    never loses points to the grader's own checks."""
    graded = stored_answers_class
    problems = []
    for student in graded.result.students:
        if not (student.student == "reference" or student.student.startswith("right-")):
            continue
        if [f for f in student.findings if f.code != "unconfined"]:
            problems.append(f"{student.student}: expected no finding, got {[f.message for f in student.findings]}")
        scores, maxima = student.outcome.scores, student.outcome.max_scores
        lost = {
            cell: (score, maxima.get(nb, {}).get(cell))
            for nb, cells in scores.items()
            for cell, score in cells.items()
            if cell.startswith("test_") and score != maxima.get(nb, {}).get(cell)
        }
        if student.status != Status.GRADED or lost or not scores:
            problems.append(
                f"{student.student} ({graded.answers_in[student.student]}): expected every test cell at full marks and status 'graded', "
                f"got {student.status!r} and (score, max) {lost or scores}; a lost cell means a test checks one spelling, or asks for more than the task states"
            )
    assert not problems, "\n".join(problems) + "\n" + report.markdown(graded.result)[-6000:]


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", every_assignment())
def test_half_done_scores_in_between(assignment, stored_answers_class):
    graded = stored_answers_class
    tests = stored.autograded_tests(graded.solution)
    half, full = stored.totals(graded.scores("half"), tests), stored.totals(graded.max_scores(), tests)
    assert 0 < half < full, f"expected a half-done submission ({graded.answers_in['half']}) to score between 0 and {full}, got {half}"


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", every_assignment())
def test_every_wrong_answer_loses_its_points(assignment, stored_answers_class):
    """Each stored wrong answer loses its own cell's points, and only those; one that hands the
    task to the course package's own implementation earns 0."""
    import scratch_course as course_tools

    graded = stored_answers_class
    max_scores, tests = graded.max_scores(), stored.autograded_tests(graded.solution)
    problems = []
    for k, round_ in enumerate(graded.wrong_rounds, start=1):
        if graded.student(f"wrong-{k}") is None:
            problems.append(f"wrong-{k} was not graded")
            continue
        student = graded.scores(f"wrong-{k}")
        for answer in course_tools.answer_cell_ids(graded.solution):
            cells = [c for c in course_tools.grading_cells_for(answer, max_scores) if c in tests]
            if not cells:
                continue
            got, full = stored.totals(student, cells), stored.totals(max_scores, cells)
            if answer in round_ and got >= full:
                problems.append(f"wrong answer {round_[answer][0]!r} for {answer} keeps all {full} points of {cells}")
            elif answer in round_ and round_[answer][0].startswith(stored.DELEGATES) and got > 0:
                problems.append(f"{round_[answer][0]!r} for {answer} earns {got} of {full} points of {cells}: an answer that delegates the task must earn 0")
            if answer not in round_ and got < full:
                problems.append(f"in wrong-{k}, the correct {answer} lost points ({got}/{full}): a test depends on another answer cell")
    assert not problems, "\n".join(problems) + "\n" + report.markdown(graded.result)[-3000:]


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", every_assignment())
def test_every_wrong_answer_is_diagnosed_by_its_own_misconception(assignment, stored_answers_class, record_property):
    """Through `sidebyside grade`: each stored wrong answer named after a misconception makes its
    task's tests name exactly that misconception (read back from the graded notebook), and the
    reference and every stored right answer make them name none. The diagnosed share is printed."""
    import scratch_course as course_tools

    from sidebyside import misconceptions

    graded = stored_answers_class
    known = misconceptions.catalogue(assignment)
    max_scores, tests = graded.max_scores(), stored.autograded_tests(graded.solution)
    problems, diagnosed, total = [], 0, 0
    for student in graded.result.students:
        named = {cell: ids for cells in student.outcome.misconceptions.values() for cell, ids in cells.items() if ids}
        if (student.student == "reference" or student.student.startswith("right-")) and named:
            problems.append(f"{student.student} ({graded.answers_in[student.student]}): expected no misconception named, got {named}")
    for k, round_ in enumerate(graded.wrong_rounds, start=1):
        student = graded.student(f"wrong-{k}")
        named = {cell: ids for cells in student.outcome.misconceptions.values() for cell, ids in cells.items()} if student else {}
        for answer, (name, _) in round_.items():
            label = stored.label(name)
            if label in stored.PLAIN_CATEGORIES:
                continue
            total += 1
            if label not in known:
                problems.append(f"{answer}: the wrong answer {name!r} names {label!r}, which is neither in {assignment}'s catalogue nor a plain category {sorted(stored.PLAIN_CATEGORIES)}")
                continue
            cells = [c for c in course_tools.grading_cells_for(answer, max_scores) if c in tests]
            got = sorted({i for c in cells for i in named.get(c, [])})
            if got == [label]:
                diagnosed += 1
            else:
                problems.append(f"{answer}: expected the wrong answer {name!r} diagnosed as [{label}] by {cells}, got {got}")
    share = f"{assignment}: {diagnosed} of {total} misconception answers diagnosed by their own id"
    print(share)
    record_property("diagnosed share", {"assignment": assignment, "diagnosed": diagnosed, "total": total})
    assert not problems, share + "\n" + "\n".join(problems)


def test_grade_refuses_to_run_students_code_unconfined_unless_asked_by_name(tmp_path, monkeypatch, capsys):
    """A machine where kernels cannot be confined (any Mac, many containers) grades nothing by
    default: exit 3, a message naming what to install and the flag that opts out, and nothing
    written in the course. Unconfined grading happens only with --isolation none."""
    from sidebyside.instructor import cli

    course = tiny_class.make_course(tmp_path / "course")
    monkeypatch.setattr(run.sandbox, "available", lambda: (Isolation.NONE, "bubblewrap is not installed"))
    before = sorted(p.relative_to(course) for p in course.rglob("*"))
    status = cli.main(["grade", tiny_class.ASSIGNMENT, "--course", str(course), "--quiet"])
    err = capsys.readouterr().err
    assert status == cli.UNSAFE == 3, f"expected exit status 3 (could not grade safely), got {status}; stderr:\n{err}"
    for words in ("cannot be confined", "bubblewrap is not installed", "install bubblewrap", "--isolation none"):
        assert words in err, f"expected the message to say {words!r}, got:\n{err}"
    after = sorted(p.relative_to(course) for p in course.rglob("*"))
    assert after == before, f"expected nothing written in the course, got new {sorted(set(after) - set(before))}"
    for asked in ("auto", "namespaces", "bubblewrap"):
        with pytest.raises(run.UnsafeToGrade):
            run.choose_isolation(asked)
    assert run.choose_isolation("none") == (Isolation.NONE, "--isolation none"), "--isolation none, named, is obeyed"


def test_a_crash_of_grade_has_an_exit_status_of_its_own(tmp_path, monkeypatch, capsys):
    """An uncaught error exits 70 with its traceback and a way to resume, not Python's 1 (which
    means "some submissions need review" to an instructor's script)."""
    from sidebyside.instructor import cli

    def crash(options):
        raise OSError("disk full (a stand-in for any unexpected error)")

    monkeypatch.setattr(run, "grade", crash)
    status = cli.main(["grade", tiny_class.ASSIGNMENT, "--course", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert status == cli.CRASHED == 70, f"expected exit status 70 for a crash, got {status}; stderr:\n{err}"
    assert "OSError: disk full" in err and "crashed" in err and "run the same command again" in err, f"expected the traceback and how to resume, got:\n{err}"
    assert len({cli.GRADED, cli.NEEDS_REVIEW, cli.USAGE, cli.UNSAFE, cli.SUBMITTED_CHANGED, cli.OUTPUTS_FAILED, cli.CRASHED}) == 7, "every ending has its own status"


@pytest.mark.nbgrader
def test_failed_feedback_is_reported_and_fails_the_command(tmp_path):
    """When nbgrader generate_feedback fails (here: a course with nothing autograded, so it finds
    no notebook), the report says FAILED and `sidebyside grade` exits 5, not 0: the students
    would get no feedback, and an instructor's script must notice."""
    from sidebyside.instructor import cli
    from sidebyside.instructor.grading.results import Outcome, RunReport, StudentResult

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    outcome = Outcome(scores={A: {"test_a": 2.0}}, max_scores={A: {"test_a": 2.0}}, isolation=Isolation.ROOT)
    run_report = RunReport(A, str(course), Isolation.ROOT, 1, students=[StudentResult.of("s1", [], outcome, "hash")])
    assert cli.grade_exit_status(run_report) == 0, "a clean run with its outputs written should exit 0"
    report.write(run_report, course, f"sqlite:///{course / 'gradebook.db'}", course / "reports" / A, feedback=True)
    failures = run_report.output_failures
    assert any("generate_feedback failed" in failure for failure in failures), f"expected generate_feedback's failure recorded, got {failures}"
    markdown = (course / "reports" / A / "report.md").read_text()
    assert "**FAILED**: nbgrader generate_feedback failed" in markdown, f"expected the failure in report.md, got:\n{markdown}"
    assert cli.grade_exit_status(run_report) == 5, f"expected exit status 5 when feedback failed, got {cli.grade_exit_status(run_report)}"


@pytest.mark.nbgrader
def test_a_run_for_some_students_keeps_the_others_in_the_report(tmp_path):
    """Grading one student again (--student, or a second grader) rewrites that student's line of
    reports/ASSIGNMENT/report.md and keeps every other student's result from the earlier run."""
    from sidebyside.instructor.grading.results import Finding, Outcome, RunReport, Severity, StudentResult

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    db_url, report_dir = f"sqlite:///{course / 'gradebook.db'}", course / "reports" / A

    def result(name: str, score: float, findings=()) -> StudentResult:
        outcome = Outcome(scores={A: {"test_a": score}}, max_scores={A: {"test_a": 2.0}}, isolation=Isolation.ROOT)
        return StudentResult.of(name, list(findings), outcome, f"hash-{name}")

    first = RunReport(A, str(course), Isolation.ROOT, 2, students=[result("ada", 2.0, [Finding(Severity.REVIEW, "extra_file", "ada's numpy.py")]), result("bob", 0.0)])
    report.write(first, course, db_url, report_dir, feedback=False)
    again = RunReport(A, str(course), Isolation.ROOT, 1, students=[result("bob", 2.0)])
    report.write(again, course, db_url, report_dir, feedback=False)

    saved = json.loads((report_dir / "report.json").read_text())
    scores = {s["student"]: s["score"] for s in saved["students"]}
    assert scores == {"ada": 2.0, "bob": 2.0}, f"expected ada's earlier result kept and bob's new one, got {scores}"
    markdown = (report_dir / "report.md").read_text()
    assert "ada's numpy.py" in markdown and "keep their result from an earlier run: ada" in markdown, f"expected ada's finding and a note, got:\n{markdown}"
    assert [s.student for s in again.students] == ["bob"], "the run's own result (and so its exit status) is about bob only"
