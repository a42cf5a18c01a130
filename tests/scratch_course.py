"""The test suite's nbgrader helpers: a scratch course that also takes submissions, autogrades
them and reads the scores back; the real ``nbgrader validate``; and editing a notebook's cells
by grade_id. ``sidebyside`` itself needs none of these (it ships only what it runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sidebyside.instructor.nbgrader_course import ScratchCourse, run_nbgrader


class GradedScratchCourse(ScratchCourse):
    """A :class:`ScratchCourse` that also takes submissions, autogrades and exports."""

    def submit(self, student: str, notebook, name: str | None = None) -> Path:
        """Place ``notebook`` (a NotebookNode) as ``student``'s submission."""
        import nbformat

        target = self.folder / "submitted" / student / self.assignment / f"{name or self.assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        return target

    def autograde(self, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Autograde every submission (nbgrader adds unknown students itself)."""
        return self.nbgrader("autograde", self.assignment, "--force", "--create", timeout=timeout)

    def scores(self) -> dict[str, dict[str, float]]:
        """``{student: {grade_id: score}}`` for the assignment, read from the gradebook."""
        from nbgrader.api import Gradebook

        result: dict[str, dict[str, float]] = {}
        with Gradebook(self.db_url) as gradebook:
            assignment = gradebook.find_assignment(self.assignment)
            for submission in assignment.submissions:
                cells = result.setdefault(submission.student.id, {})
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        cells[grade.name] = grade.score
        return result

    def max_scores(self) -> dict[str, float]:
        """``{grade_id: max points}`` of every graded cell."""
        from nbgrader.api import Gradebook

        with Gradebook(self.db_url) as gradebook:
            assignment = gradebook.find_assignment(self.assignment)
            return {cell.name: cell.max_score for notebook in assignment.notebooks for cell in notebook.grade_cells}

    def export(self) -> Path:
        """Run ``nbgrader export``; return the CSV it wrote."""
        target = self.folder / "grades.csv"
        self.nbgrader("export", f"--to={target}")
        return target


#: Seconds a cell may run under nbgrader (the course's nbgrader_config.py sets the same).
CELL_TIMEOUT_S = 300


def validate(notebook: Path, *, invert: bool = False, timeout: float | None = None) -> tuple[bool, str]:
    """Run ``nbgrader validate`` (``--invert``: every test must fail) on one notebook.

    Returns ``(passed, nbgrader's output)``; nbgrader itself exits 0 either way.
    """
    notebook = Path(notebook).resolve()
    # validate runs in the notebook's folder, where the course's nbgrader_config.py is not read:
    # give it the course's per-cell time limit, not nbgrader's 30 s default (too short under load)
    args = ["validate", str(notebook), f"--Execute.timeout={CELL_TIMEOUT_S}"] + (["--invert"] if invert else [])
    result = run_nbgrader(args, notebook.parent, check=False, timeout=timeout)
    output = result.stdout + result.stderr
    expected = "Success! The notebook does not pass any tests." if invert else "Success! Your notebook passes all the tests."
    return (result.returncode == 0 and expected in output), output


def answer_cell_ids(nb) -> list[str]:
    """grade_ids of the autograded answer cells (solution, not grade), in notebook order."""
    return [
        cell.metadata.nbgrader["grade_id"]
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("solution") and not cell.metadata["nbgrader"].get("grade")
    ]


def replace_cells(nb, sources: dict[str, str]):
    """A copy of ``nb`` with the cells whose grade_id is a key given the new ``sources``."""
    import copy

    nb = copy.deepcopy(nb)
    unknown = set(sources) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if unknown:
        raise KeyError(f"no cell with grade_id {sorted(unknown)}")
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    return nb


def grading_cells_for(answer_id: str, max_scores: dict[str, float]) -> list[str]:
    """The autograded test cells that grade the answer cell ``answer_id`` (``test_<id>...``)."""
    return [name for name in max_scores if name == f"test_{answer_id}" or name.startswith(f"test_{answer_id}_")]
