"""The misconception catalogues (sidebyside/misconceptions/NN-topic.toml) and the machinery that
turns them into feedback: checks.Mistakes in the tests' messages, the graded notebooks read back,
hidden tests' failures cut to their diagnosis, the class's table and chart.

Cheap: no nbgrader. That every stored wrong answer is diagnosed by its own id through
`sidebyside grade` is tested in test_grading.py; in the feedback and the report, there too.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest
import stored_answers as stored
from conftest import ROOT

from sidebyside import checks, misconceptions
from sidebyside.instructor import misconception_report

CATALOGUED = misconceptions.assignments()
A = "03-visualization"


def test_every_assignment_has_a_catalogue():
    from conftest import assignments

    missing = sorted(set(assignments()) - set(CATALOGUED))
    assert not missing, f"expected a catalogue sidebyside/misconceptions/NN-topic.toml for every assignment, missing {missing}"


@pytest.mark.parametrize("assignment", CATALOGUED)
def test_every_entry_is_complete_and_points_at_a_real_lesson_section(assignment):
    problems = []
    for entry in misconceptions.catalogue(assignment).values():
        if not entry.frameworks:
            problems.append(f"[{entry.id}]: a course catalogue's entry names the frameworks it applies to")
        if not (entry.lesson and entry.section):
            problems.append(f"[{entry.id}]: a course catalogue's entry names the lesson and section that teach it")
            continue
        lesson = ROOT / entry.lesson_path
        if not lesson.is_file():
            problems.append(f"[{entry.id}]: no lesson {entry.lesson_path}")
            continue
        headings = {line.lstrip("#").strip() for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("#")}
        if entry.section not in headings:
            problems.append(f"[{entry.id}]: expected the section {entry.section!r} to be a heading of {entry.lesson_path}")
        sentences = len(re.findall(r"[.!?](?:\s|$)", entry.explanation.strip()))
        if not 1 <= sentences <= 4:
            problems.append(f"[{entry.id}]: expected an explanation of two or three sentences, got {sentences}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", CATALOGUED)
def test_every_stored_wrong_answer_names_what_it_is_and_every_entry_has_one(assignment):
    known = misconceptions.catalogue(assignment)
    used, problems = set(), []
    for task, answers in stored.wrong_answers(assignment).items():
        for name in answers:
            label = stored.label(name)
            if label in known:
                used.add(label)
            elif label not in stored.PLAIN_CATEGORIES:
                problems.append(f"{task}: {name!r} should start with a misconception id of {assignment}.toml or one of {sorted(stored.PLAIN_CATEGORIES)}, then ':'")
    unused = sorted(set(known) - used)
    assert not problems and not unused, "\n".join(problems) + (f"\nentries no stored wrong answer embodies (store one): {unused}" if unused else "")


def _named_in_tests(assignment: str) -> set[str]:
    """The misconception ids the solution's cells name in mistakes.explain(...) and mistakes.when_it_raises(...)."""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    names = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or "mistakes." not in cell.source:
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("explain", "when_it_raises"):
                names |= {k.arg for k in node.keywords if k.arg}
    return names


@pytest.mark.parametrize("assignment", CATALOGUED)
def test_the_tests_name_only_catalogued_misconceptions(assignment):
    named, known = _named_in_tests(assignment), set(misconceptions.catalogue(assignment))
    assert named, f"expected {assignment}'s tests to diagnose with mistakes.explain(...), found none"
    assert named <= known, f"the tests of {assignment} name {sorted(named - known)}, not in its catalogue"
    assert known <= named, f"entries of {assignment}'s catalogue no test can name: {sorted(known - named)}"


def test_explain_names_the_match_with_its_lesson_or_says_plainly_it_has_none():
    mistakes = checks.Mistakes(A)
    entry = mistakes.known["counted_from_zero"]
    said = mistakes.explain("expected steps [1, 2], got [0, 1]", counted_from_zero=True, step_per_scalar=lambda: False)
    for words in ("expected steps [1, 2], got [0, 1]", f"Looks like mistake [counted_from_zero]: {entry.title}.", entry.explanation.strip()[:40], entry.lesson_path, entry.section, entry.colab_link):
        assert words in said, f"expected {words!r} in the message, got:\n{said}"
    assert misconceptions.found_in(said) == ["counted_from_zero"]
    none = mistakes.explain("expected 3, got 4", counted_from_zero=False, step_per_scalar=lambda: 1 / 0)
    assert misconceptions.NO_MATCH in none and misconceptions.found_in(none) == [], f"a probe that raises matches nothing; got:\n{none}"
    author_error = mistakes.explain("expected 3, got 4", no_such_mistake=True)
    assert "missing from" in author_error and "no_such_mistake" in author_error, author_error
    assert entry.lab_link(ROOT / "exercises" / A) == f"../../lessons/{A}.ipynb#heading=1.-Log-scalars-and-histograms-while-training"


def test_feedback_links_the_lesson_on_colab_only(monkeypatch):
    """Under nbgrader (autograde: the feedback is read away from the grading folder) a diagnosis
    links to the lesson on Colab, not to a local path that would be broken there."""
    from sidebyside.course import GRADING_ENV_VAR

    entry = misconceptions.catalogue(A)["counted_from_zero"]
    assert "[open it here](" in entry.markdown(ROOT / "exercises" / A)
    monkeypatch.setenv(GRADING_ENV_VAR, "autograde")
    shown = entry.markdown(ROOT / "exercises" / A)
    assert "open it here" not in shown and f"[open it on Colab]({entry.colab_link})" in shown, shown


def test_an_error_the_answer_raises_becomes_a_diagnosed_failure():
    mistakes = checks.Mistakes(A)
    with pytest.raises(AssertionError) as caught:
        with mistakes.when_it_raises(image_without_batch=lambda error: "rank 4" in str(error)):
            raise ValueError("Tensor must have rank 4. Received rank 3")
    assert misconceptions.found_in(str(caught.value)) == ["image_without_batch"] and "ValueError" in str(caught.value)
    with pytest.raises(checks.DelegatedWork):  # a delegation stays a delegation (it scores 0 as such)
        with mistakes.when_it_raises(image_without_batch=lambda error: True):
            raise checks.DelegatedWork("ran the course's code")


def _test_cell(source: str, evalue: str, line: int | None):
    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "test_x", "points": 1}})
    traceback = ["\x1b[0;31m---------------------------------------------------------------------------\x1b[0m"]
    if line is not None:
        traceback.append(f"Cell \x1b[0;32mIn[7], line {line}\x1b[0m\n\x1b[1;32m      1\x1b[0m check(...)")
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=evalue, traceback=traceback)]
    return cell


@pytest.mark.parametrize("line, hidden", [(2, False), (5, True), (None, True)], ids=["visible", "hidden", "unknown line"])
def test_a_hidden_tests_failure_shows_only_its_diagnosis_in_the_feedback(line, hidden):
    entry = misconceptions.catalogue(A)["ignores_step"]
    source = "x = 1\ncheck(x)\n### BEGIN HIDDEN TESTS\ny = 11\ncheck(y)\n### END HIDDEN TESTS\n"
    evalue = f"expected the image at step 11, got step 3\n\n{entry.text()}"
    cell = _test_cell(source, evalue, line)
    misconception_report.hide_hidden_details(cell)
    shown = cell.outputs[0]["evalue"]
    if hidden:
        assert "step 11" not in shown and misconception_report.HIDDEN_NOTE in shown and entry.text() in shown, shown
    else:
        assert shown == evalue, "a visible test's message stays whole"


def test_the_class_report_counts_each_misconception_per_task_with_a_chart(tmp_path):
    from sidebyside.instructor.grading.results import Isolation, Outcome, StudentResult

    def student(name, found):
        outcome = Outcome(scores={A: {}}, isolation=Isolation.ROOT, misconceptions={A: found})
        return StudentResult.of(name, [], outcome, "hash")

    students = [
        student("ada", {"test_torch_log_history": ["counted_from_zero"], "test_tf_log_history": []}),
        student("bo", {"test_torch_log_history": ["counted_from_zero"], "test_tf_log_history": ["own_tags"]}),
        student("cy", {"test_torch_log_history": [], "test_tf_log_history": []}),
    ]
    assert misconception_report.by_student(students)["bo"] == {"test_torch_log_history": ["counted_from_zero"], "test_tf_log_history": ["own_tags"]}
    text = "\n".join(misconception_report.markdown(A, students, tmp_path))
    known = misconceptions.catalogue(A)
    assert f"| {known['counted_from_zero'].title} (`counted_from_zero`) | 2 | ada, bo |" in text, text
    assert f"| {known['own_tags'].title} (`own_tags`) | 1 | bo |" in text, text
    for task in ("test_torch_log_history", "test_tf_log_history"):
        assert (tmp_path / f"misconceptions-{task}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"![{task}: students per misconception](misconceptions-{task}.png)" in text
