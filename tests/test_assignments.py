"""nbgrader, for real, on every assignment in solutions/:

- exercises/ is exactly what `nbgrader generate_assignment` makes from solutions/;
- `nbgrader validate` passes on each solution, `--invert` on each released exercise;
- an autograde round trip in a scratch course: the solution scores full marks, the untouched
  release 0 (without a grading error), a half-done submission in between, and the stored wrong
  answers each lose their cell's points (those that delegate the task to the course package's
  own implementation score 0); `nbgrader export` lists every student. The stored right answers
  (another valid spelling, and answers that follow each task's statement literally) are graded
  once, by `sidebyside grade` in tests/test_grading.py, where they must keep full marks with no
  finding of the guard.
"""

from __future__ import annotations

import csv
import runpy
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, assignments

from sidebyside import assignments as course

pytestmark = pytest.mark.nbgrader
ASSIGNMENTS = assignments()  # make test runs one assignment's tests on one worker (tests/conftest.py)
REGENERATE = "Regenerate it with `make exercises` (or `.venv/bin/sidebyside release {a}`); never edit exercises/ by hand."


def solution_path(assignment: str) -> Path:
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def exercise_path(assignment: str) -> Path:
    return ROOT / "exercises" / assignment / f"{assignment}.ipynb"


def autograded_tests(nb) -> list[str]:
    """grade_ids of the autograded test cells (grade, not solution)."""
    return [
        c.metadata.nbgrader["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    ]


#: Wrong answers whose name starts with this hand the task to the course package's own
#: implementation (sidebyside.checks.own_work catches them): they must score exactly 0.
DELEGATES = "delegates:"


def stored_answers(kind: str, assignment: str) -> dict[str, dict[str, str]]:
    """``tests/{kind}_answers/NN-topic.py``: {grade_id: {name: answer cell source}}."""
    path = ROOT / "tests" / f"{kind}_answers" / f"{assignment}.py"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: store {kind} answers for every answer cell"
    return runpy.run_path(str(path))[f"{kind.upper()}_ANSWERS"]


def wrong_answers(assignment: str) -> dict[str, dict[str, str]]:
    return stored_answers("wrong", assignment)


def right_answers(assignment: str) -> dict[str, dict[str, str]]:
    """Correct answers written another valid way, or following the task's statement literally."""
    return stored_answers("right", assignment)


def wrong_answer_rounds(answers: dict[str, dict[str, str]]) -> list[dict[str, tuple[str, str]]]:
    """Round k holds the k-th wrong answer of every cell that has one: {grade_id: (name, source)}."""
    listed = {cell: list(by_name.items()) for cell, by_name in answers.items()}
    count = max((len(v) for v in listed.values()), default=0)
    return [{cell: items[k] for cell, items in listed.items() if k < len(items)} for k in range(count)]


# --- exercises/ is generated ----------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_are_what_nbgrader_generates(assignment, tmp_path):
    scratch = course.ScratchCourse(tmp_path, ROOT, assignment)
    generated = scratch.generate()
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


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_passes_nbgrader_validate(assignment):
    passed, output = course.validate(solution_path(assignment), timeout=1200)
    assert passed, f"nbgrader validate failed on solutions/{assignment}:\n{output[-6000:]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_test_fails_on_the_untouched_exercise(assignment):
    passed, output = course.validate(exercise_path(assignment), invert=True, timeout=1200)
    assert passed, f"nbgrader validate --invert: some tests pass on the untouched exercises/{assignment}:\n{output[-6000:]}"


# --- autograde round trip ---------------------------------------------------------------------


@lru_cache(maxsize=None)
def graded(assignment: str, folder: str):
    """One autograde run per assignment with every made-up student; cached per worker."""
    scratch = course.ScratchCourse(Path(folder), ROOT, assignment)
    scratch.generate()
    solution = nbformat.read(solution_path(assignment), as_version=4)
    blank = nbformat.read(scratch.release_folder / f"{assignment}.ipynb", as_version=4)
    answers = course.answer_cell_ids(solution)
    blank_sources = {c.metadata.nbgrader["grade_id"]: c.source for c in blank.cells if c.metadata.get("nbgrader", {}).get("grade_id") in answers}
    second_half = answers[len(answers) // 2 :]
    scratch.submit("solution", solution)
    scratch.submit("blank", blank)
    scratch.submit("half", course.replace_cells(solution, {a: blank_sources[a] for a in second_half}))
    rounds = wrong_answer_rounds(wrong_answers(assignment))
    for k, round_ in enumerate(rounds, start=1):
        scratch.submit(f"wrong-{k}", course.replace_cells(solution, {cell: source for cell, (_, source) in round_.items()}))
    result = scratch.autograde(timeout=3000)
    return scratch, solution, rounds, result


@pytest.fixture
def grading(request, tmp_path_factory):
    assignment = request.node.callspec.params["assignment"]
    folder = tmp_path_factory.getbasetemp() / f"graded-{assignment}"
    if not folder.exists():
        folder.mkdir()
    return graded(assignment, str(folder))


def totals(scores: dict[str, float], cells: list[str]) -> float:
    return sum(scores.get(c) or 0.0 for c in cells)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(assignment, grading):
    scratch, solution, _, result = grading
    tests, max_scores, scores = autograded_tests(solution), scratch.max_scores(), scratch.scores()
    lost = {c: (scores["solution"].get(c), max_scores[c]) for c in tests if scores["solution"].get(c) != max_scores[c]}
    assert not lost, f"the solution loses points (cell: (score, max)): {lost}\n{result.stderr[-4000:]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_exercise_scores_zero_without_error(assignment, grading):
    scratch, solution, _, result = grading
    scores = scratch.scores()
    assert "blank" in scores, f"the untouched release was not graded:\n{result.stderr[-4000:]}"
    earned = {c: scores["blank"].get(c) for c in autograded_tests(solution) if scores["blank"].get(c)}
    assert not earned, f"the untouched release earns points: {earned}"
    assert (scratch.folder / "autograded" / "blank" / assignment / f"{assignment}.ipynb").exists()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_half_done_scores_in_between(assignment, grading):
    scratch, solution, _, _ = grading
    tests = autograded_tests(solution)
    half, full = totals(scratch.scores()["half"], tests), totals(scratch.max_scores(), tests)
    assert 0 < half < full, f"a half-done submission scores {half} of {full}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_export_lists_every_student(assignment, grading):
    scratch, _, rounds, _ = grading
    with open(scratch.export(), newline="") as handle:
        students = {row["student_id"] for row in csv.DictReader(handle)}
    assert {"solution", "blank", "half", *(f"wrong-{k}" for k in range(1, len(rounds) + 1))} <= students


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


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_wrong_answer_loses_its_points(assignment, grading):
    scratch, solution, rounds, result = grading
    max_scores, scores = scratch.max_scores(), scratch.scores()
    tests = autograded_tests(solution)
    problems = []
    for k, round_ in enumerate(rounds, start=1):
        student = scores.get(f"wrong-{k}")
        if student is None:
            problems.append(f"wrong-{k} was not graded")
            continue
        for answer in course.answer_cell_ids(solution):
            cells = [c for c in course.grading_cells_for(answer, max_scores) if c in tests]
            if not cells:
                continue
            got, full = totals(student, cells), totals(max_scores, cells)
            if answer in round_ and got >= full:
                problems.append(f"wrong answer {round_[answer][0]!r} for {answer} keeps all {full} points of {cells}")
            elif answer in round_ and round_[answer][0].startswith(DELEGATES) and got > 0:
                problems.append(f"{round_[answer][0]!r} for {answer} earns {got} of {full} points of {cells}: an answer that delegates the task must earn 0")
            if answer not in round_ and got < full:
                problems.append(f"in wrong-{k}, the correct {answer} lost points ({got}/{full}): a test depends on another answer cell")
    assert not problems, "\n".join(problems) + f"\n{result.stderr[-3000:]}"
