"""nbgrader, for real, on every assignment in solutions/, each notebook run once:

- exercises/ is exactly what `nbgrader generate_assignment` makes from solutions/ (the release
  made once per assignment, in the scratch course that is then autograded);
- an autograde round trip in that scratch course with two students: the solution scores full
  marks with no error in any cell (what `nbgrader validate` checks), the untouched release
  scores 0 without a grading error, each of its tests failing for the placeholder (what
  `validate --invert` checks, and why), and `nbgrader export` lists both; in 03's, a third
  student, a cheat of tests/fixtures/grading/class_03.py, earns points: plain nbgrader is
  fooled by what `sidebyside grade` catches (tests/test_grading.py). The command
  `nbgrader validate` itself runs, both ways, on the tiny fixture assignment
  (tests/fixtures/assignments/tiny), where it takes seconds.

The half-done submission, the stored wrong answers (each loses its cell's points; those that
delegate the task to the course package score 0) and the stored right answers (full marks) are
graded in one `sidebyside grade` class per assignment, in warm kernels, in tests/test_grading.py.
"""

from __future__ import annotations

import csv
import sys
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, assignments

import scratch_course as course
from stored_answers import DELEGATES, autograded_tests, right_answers, wrong_answers


sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))
import class_03  # noqa: E402
import tiny_class  # noqa: E402

pytestmark = pytest.mark.nbgrader
ASSIGNMENTS = assignments()  # make test runs one assignment's tests on one worker (tests/conftest.py)
REGENERATE = "Regenerate it with `make exercises` (or `.venv/bin/sidebyside release {a}`); never edit exercises/ by hand."


def solution_path(assignment: str) -> Path:
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def exercise_path(assignment: str) -> Path:
    return ROOT / "exercises" / assignment / f"{assignment}.ipynb"


@lru_cache(maxsize=None)
def graded(assignment: str, folder: str):
    """The assignment released once in a scratch course, and the solution and the untouched
    release autograded there by plain nbgrader; cached per worker."""
    scratch = course.GradedScratchCourse(Path(folder), ROOT, assignment)
    scratch.generate()
    solution = nbformat.read(solution_path(assignment), as_version=4)
    scratch.submit("solution", solution)
    release = nbformat.read(scratch.release_folder / f"{assignment}.ipynb", as_version=4)
    scratch.submit("blank", release)
    if assignment == class_03.ASSIGNMENT:  # a cheat `sidebyside grade` catches, which fools plain nbgrader
        scratch.submit("cheat-objects", class_03.cheats(solution, release)["cheat-objects"])
    result = scratch.autograde(timeout=1200)
    return scratch, solution, result


@pytest.fixture
def grading(request, tmp_path_factory):
    assignment = request.node.callspec.params["assignment"]
    folder = tmp_path_factory.getbasetemp() / f"graded-{assignment}"
    if not folder.exists():
        folder.mkdir()
    return graded(assignment, str(folder))


# --- exercises/ is generated ----------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_are_what_nbgrader_generates(assignment, grading):
    scratch, _, _ = grading
    generated = scratch.release_folder
    released = ROOT / "exercises" / assignment
    hint = REGENERATE.format(a=assignment)
    assert released.is_dir(), f"exercises/{assignment}/ is missing. {hint}"
    want = {p.relative_to(generated) for p in generated.rglob("*") if p.is_file()}
    have = {p.relative_to(released) for p in released.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}
    assert have == want, f"exercises/{assignment}/ has files {sorted(map(str, have))}, nbgrader makes {sorted(map(str, want))}. {hint}"
    for name in sorted(want):
        assert (released / name).read_bytes() == (generated / name).read_bytes(), f"exercises/{assignment}/{name} differs from what nbgrader generates. {hint}"


def test_no_exercise_without_a_solution():
    orphans = sorted({p.name for p in (ROOT / "exercises").iterdir() if p.is_dir()} - set(assignments()))
    assert not orphans, f"exercises/ has assignments with no source in solutions/: {orphans}"


# --- nbgrader validate ------------------------------------------------------------------------


def test_solution_passes_nbgrader_validate():
    """The command itself, on the tiny fixture assignment (every course assignment's solution is
    checked the same way from its autograde run, below)."""
    passed, output = course.validate(tiny_class.SOLUTION, timeout=600)
    assert passed, f"expected nbgrader validate to pass the tiny assignment's solution, got:\n{output[-6000:]}"


def test_every_test_fails_on_the_untouched_exercise():
    passed, output = course.validate(tiny_class.release_path(), invert=True, timeout=600)
    assert passed, f"expected nbgrader validate --invert to pass the tiny assignment's untouched release (every test failing), got:\n{output[-6000:]}"


# --- autograde round trip ---------------------------------------------------------------------


def errors_in(notebook: Path) -> dict[str, str]:
    """{cell (grade_id, or its index): "Name: message"} of every error output in ``notebook``."""
    nb = nbformat.read(notebook, as_version=4)
    return {
        cell.metadata.get("nbgrader", {}).get("grade_id", str(index)): f"{output.get('ename')}: {output.get('evalue')}"
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    }


def autograded(scratch, student: str, assignment: str) -> Path:
    return scratch.folder / "autograded" / student / assignment / f"{assignment}.ipynb"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(assignment, grading):
    scratch, solution, result = grading
    tests, max_scores, scores = autograded_tests(solution), scratch.max_scores(), scratch.scores()
    assert "solution" in scores, f"the solution was not graded:\n{result.stderr[-4000:]}"
    lost = {c: (scores["solution"].get(c), max_scores[c]) for c in tests if scores["solution"].get(c) != max_scores[c]}
    assert not lost, f"the solution loses points (cell: (score, max)): {lost}\n{result.stderr[-4000:]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_cell_of_the_solution_fails(assignment, grading):
    """What `nbgrader validate` checks, read from the autograded solution (hidden tests included):
    no cell, test or not, ends in an error."""
    scratch, _, _ = grading
    errors = errors_in(autograded(scratch, "solution", assignment))
    assert not errors, f"expected no error in any cell of the autograded solution, got: {errors}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_untouched_release_fails_each_test_for_the_placeholder(assignment, grading):
    """Each test cell of the untouched release fails (`validate --invert`) because an answer is
    missing: NotImplementedError from a placeholder, an assertion that says so, or the name its
    placeholder cell left undefined; another error (a setup cell that fails, a test that calls a
    name nobody defines) would hide what the test checks."""
    scratch, solution, _ = grading
    errors = errors_in(autograded(scratch, "blank", assignment))
    tests = autograded_tests(solution)
    passing = [cell for cell in tests if cell not in errors]
    assert not passing, f"expected every test cell to fail on the untouched release, these pass: {passing}"
    setup = {cell: error for cell, error in errors.items() if cell not in tests and not error.startswith("NotImplementedError")}
    assert not setup, f"expected no error outside test cells but the placeholders' own, got: {setup}"
    answers = course.answer_cell_ids(solution)

    def for_the_placeholder(cell: str) -> bool:
        if errors[cell].startswith(("NotImplementedError", "AssertionError")):
            return True
        # a whole `def` is the answer: the placeholder raised instead, so the name is undefined
        mine = [a for a in answers if cell == f"test_{a}" or cell.startswith(f"test_{a}_")]
        return errors[cell].startswith("NameError") and any(errors.get(a, "").startswith("NotImplementedError") for a in mine)

    other = {cell: errors[cell] for cell in tests if not for_the_placeholder(cell)}
    assert not other, f"expected each test to fail with NotImplementedError, an AssertionError or its answer's undefined name, got: {other}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_exercise_scores_zero_without_error(assignment, grading):
    scratch, solution, result = grading
    scores = scratch.scores()
    assert "blank" in scores, f"the untouched release was not graded:\n{result.stderr[-4000:]}"
    earned = {c: scores["blank"].get(c) for c in autograded_tests(solution) if scores["blank"].get(c)}
    assert not earned, f"the untouched release earns points: {earned}"
    assert (scratch.folder / "autograded" / "blank" / assignment / f"{assignment}.ipynb").exists()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_export_lists_every_student(assignment, grading):
    scratch, _, _ = grading
    with open(scratch.export(), newline="") as handle:
        students = {row["student_id"] for row in csv.DictReader(handle)}
    assert {"solution", "blank"} <= students, f"expected the solution and blank students in the export, got {sorted(students)}"


@pytest.mark.parametrize("assignment", [class_03.ASSIGNMENT])
def test_plain_nbgrader_is_fooled_by_the_cheats(assignment, grading):
    """A cheat that patches the checks and rebinds the instructor's names (class_03's
    cheat-objects), held to its one honest task's points by `sidebyside grade`
    (tests/test_grading.py), earns more under plain `nbgrader autograde`: the guard is needed.
    (class_03's other cheat ends its kernel, which plain nbgrader scores 0: it fools nobody.)"""
    scratch, solution, result = grading
    honest = class_03.EXPECTED["cheat-objects"][0]
    earned = sum(scratch.scores().get("cheat-objects", {}).get(c) or 0.0 for c in autograded_tests(solution))
    assert earned > honest, f"expected plain nbgrader fooled by cheat-objects (more than its honest {honest} points), got {earned}\n{result.stderr[-3000:]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_answer_cell_has_wrong_answers(assignment):
    solution = nbformat.read(solution_path(assignment), as_version=4)
    answers, stored = course.answer_cell_ids(solution), wrong_answers(assignment)
    unknown = sorted(set(stored) - set(answers))
    assert not unknown, f"tests/wrong_answers/{assignment}.py names cells that are not answer cells: {unknown}"
    missing = [a for a in answers if not stored.get(a)]
    assert not missing, f"tests/wrong_answers/{assignment}.py has no wrong answer for: {missing}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_answer_cell_has_right_answers(assignment):
    solution = nbformat.read(solution_path(assignment), as_version=4)
    answers, stored = course.answer_cell_ids(solution), right_answers(assignment)
    unknown = sorted(set(stored) - set(answers))
    assert not unknown, f"tests/right_answers/{assignment}.py names cells that are not answer cells: {unknown}"
    missing = [a for a in answers if not stored.get(a)]
    assert not missing, f"tests/right_answers/{assignment}.py has no other valid answer for: {missing}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_delegating_answers_are_stored_for_both_frameworks(assignment):
    """Each assignment stores answers that hand a task to the course package, in each framework."""
    stored = wrong_answers(assignment)
    delegating = {cell for cell, by_name in stored.items() if any(name.startswith(DELEGATES) for name in by_name)}
    for prefix in ("torch_", "tf_"):
        assert any(cell.startswith(prefix) for cell in delegating), (
            f"tests/wrong_answers/{assignment}.py: expected a wrong answer named '{DELEGATES} ...' for a "
            f"{prefix}... cell; got delegating answers only for {sorted(delegating) or 'no cell'}"
        )
