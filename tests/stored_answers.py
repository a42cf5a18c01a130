"""The stored answers every assignment is graded with in the tests (tests/wrong_answers/ and
tests/right_answers/), and how they are put into submissions; used by test_assignments (plain
nbgrader) and test_grading (`sidebyside grade`)."""

from __future__ import annotations

import runpy

from conftest import ROOT

#: Wrong answers whose name starts with this hand the task to the course package's own
#: implementation (sidebyside.checks.own_work catches them): they must score exactly 0.
DELEGATES = "delegates:"

#: A stored wrong answer's name starts with what it is: the id of the misconception it embodies
#: (in sidebyside/misconceptions/NN-topic.toml), or one of these plain categories, which are not
#: misconceptions: ``"not_flushed: never flushes the writer"``, ``"delegates: ..."``.
PLAIN_CATEGORIES = {
    "delegates": "runs the course package's own implementation of the task",
    "crashes": "raises before doing the task (an error of Python, not of understanding)",
    "cheats": "aims at the tests rather than the task",
}


def label(name: str) -> str | None:
    """What a stored wrong answer is: the misconception id or plain category its name starts with."""
    head, sep, _ = name.partition(":")
    return head.strip() if sep and head.strip().isidentifier() else None


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


def rounds(answers: dict[str, dict[str, str]]) -> list[dict[str, tuple[str, str]]]:
    """Round k holds the k-th stored answer of every cell that has one: {grade_id: (name, source)}.
    One submission per round: a cell's answer is graded by its own test cells, so the answers
    of different cells share a notebook without mixing their points (checked where they are graded)."""
    listed = {cell: list(by_name.items()) for cell, by_name in answers.items()}
    count = max((len(v) for v in listed.values()), default=0)
    return [{cell: items[k] for cell, items in listed.items() if k < len(items)} for k in range(count)]


def autograded_tests(nb) -> list[str]:
    """grade_ids of the autograded test cells (grade, not solution)."""
    return [
        c.metadata.nbgrader["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")
    ]


def totals(scores: dict[str, float], cells: list[str]) -> float:
    return sum(scores.get(c) or 0.0 for c in cells)
