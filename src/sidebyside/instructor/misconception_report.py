"""What the tests diagnosed, read back from graded notebooks: each student's misconceptions per
task, the class's table and chart in ``report.md``, and the feedback's hidden-test messages cut
down to their diagnosis.

A test names a mistake in its message (``Looks like mistake [id]: ...``, see
:mod:`sidebyside.misconceptions`). Failures inside a hidden test are told apart by the test
cell's line they were raised from: everything after ``### BEGIN HIDDEN TESTS``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import nbformat

from .. import misconceptions

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: The test cell's own frame in an IPython traceback: "Cell In[12], line 7" (IPython 8 and later).
_CELL_LINE = re.compile(r"(?:Cell In\s*\[[^\]]*\]|Input In \[[^\]]*\]|ipykernel_\d+/\d+\.py), line (\d+)")
HIDDEN_NOTE = "A hidden test failed here (its inputs and expected values are not shown)."


def hidden_from(source: str) -> int | None:
    """The first line (1-based) of the cell's hidden tests, or None."""
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == HIDDEN_BEGIN:
            return number
    return None


def failed_line(output: dict) -> int | None:
    """The test cell's line an error output was raised from, read from its traceback."""
    for entry in output.get("traceback", []):
        match = _CELL_LINE.search(_ANSI.sub("", entry))
        if match:
            return int(match.group(1))
    return None


def is_test_cell(cell) -> bool:
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(nbgrader.get("grade")) and not nbgrader.get("solution")


def diagnoses(notebook: Path) -> dict[str, list[str]]:
    """{test cell's grade_id: the misconception ids its outputs name} of a graded notebook;
    an empty list for a test that named none (a right answer, or an unrecognised mistake)."""
    if not notebook.is_file():
        return {}
    found = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        if not is_test_cell(cell):
            continue
        text = "\n".join(output.get("evalue", "") for output in cell.get("outputs", []) if output.get("output_type") == "error")
        found[cell.metadata.nbgrader["grade_id"]] = misconceptions.found_in(text)
    return found


def hide_hidden_details(cell) -> None:
    """In a test cell's outputs, replace what a failure inside the hidden tests says (its expected
    and got values, which may quote hidden inputs) with a plain note and the diagnosis it named.
    A failure whose line cannot be read is treated as hidden."""
    hidden = hidden_from(cell.source)
    if hidden is None:
        return
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            line = failed_line(output)
            if line is None or line >= hidden:
                output["evalue"] = "\n\n".join(filter(None, [HIDDEN_NOTE, misconceptions.diagnosis_part(output.get("evalue", ""))]))


# --- The class's report -----------------------------------------------------------------------


def by_student(students) -> dict[str, dict[str, list[str]]]:
    """{student: {task (test cell): [misconception ids]}}, for report.json."""
    return {s.student: {cell: ids for cells in s.outcome.misconceptions.values() for cell, ids in cells.items()} for s in students}


def markdown(assignment: str, students, report_dir: Path, source: Path | None = None) -> list[str]:
    """report.md's section: per task, each misconception with how many students and which, and
    a bar chart (``misconceptions-TASK.png`` beside the report). ``source``: the assignment's
    source folder, where an instructor's own assignment keeps its catalogue."""
    found = by_student(students)
    try:
        known = misconceptions.catalogue(assignment, beside=source or report_dir)
    except (OSError, ValueError):
        known = {}
    tasks: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for student, cells in found.items():
        for cell, ids in cells.items():
            for name in ids:
                tasks[cell][name].append(student)
    out = ["## Misconceptions", ""]
    if not known:
        return [*out, f"- {assignment} has no misconception catalogue yet.", ""]
    if not tasks:
        return [*out, "- none found: every failed test matched no known mistake, or nothing failed.", ""]
    for cell in sorted(tasks):
        counts = Counter({name: len(who) for name, who in tasks[cell].items()})
        out += [f"### {cell}", "", "| misconception | students | who |", "|---|---|---|"]
        for name, count in counts.most_common():
            title = known[name].title if name in known else "(not in the catalogue)"
            out.append(f"| {title} (`{name}`) | {count} | {', '.join(sorted(tasks[cell][name]))} |")
        chart = _bar_chart(cell, counts, known, report_dir)
        out += ["", f"![{cell}: students per misconception]({chart})" if chart else "", ""]
    return out


def _bar_chart(cell: str, counts: Counter, known: dict, report_dir: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = [name for name, _ in counts.most_common()][::-1]
    figure, axes = plt.subplots(figsize=(7, 0.45 * len(names) + 1.0))
    axes.barh([known[n].title if n in known else n for n in names], [counts[n] for n in names], color="#4c72b0")
    axes.set_xlabel("students")
    axes.set_title(cell)
    axes.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    path = report_dir / f"misconceptions-{cell}.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path.name
