"""nbgrader, driven from Python: releasing exercises and grading in a scratch course.

The real ``nbgrader`` command line does the work; these functions lay out the directories,
run it, and read the gradebook back. The test suite and ``sidebyside release`` use them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import notebooks
from .frameworks import TF_LOG_LEVEL


def course_setting(root: Path, name: str, default: str) -> str:
    """One ``CourseDirectory`` setting of the course's ``nbgrader_config.py``, read by
    traitlets' own loader (as nbgrader reads it)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    value = config.CourseDirectory.get(name)
    return value if isinstance(value, str) and value else default


def find_course_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding ``nbgrader_config.py`` and the source
    folder it names (``CourseDirectory.source_directory``: ``solutions/`` in this repository,
    ``source/`` in the class hub's course, nbgrader's default)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / course_setting(folder, "source_directory", "source")).is_dir():
            return folder
    raise FileNotFoundError(
        f"No course found at or above {here}: run this from the course folder (the one with nbgrader_config.py "
        "and the source folder it names, such as solutions/ or source/), or name it with --course."
    )


def assignment_ids(root: Path) -> list[str]:
    """Every assignment: a folder ``solutions/NN-topic/`` holding ``NN-topic.ipynb``."""
    return sorted(p.parent.name for p in Path(root, "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


def interpreter_bin_on_path() -> None:
    """Put this interpreter's bin/ first on this process's PATH: nbgrader's gradebook runs
    ``alembic`` from PATH when it creates a database, also when used in-process."""
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def nbgrader_env() -> dict:
    """The environment for running nbgrader: the interpreter's bin/ first on PATH (nbgrader
    runs ``alembic`` from PATH), and grading on the CPU."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    return env


def run_nbgrader(args: list[str], cwd: Path, *, check: bool = True, timeout: float | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``cwd`` (``env``: more environment variables); on failure raise
    with nbgrader's own output."""
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(command, cwd=cwd, env={**nbgrader_env(), **(env or {})}, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"`nbgrader {' '.join(args)}` failed in {cwd} (exit {result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


def release(assignment: str, root: Path) -> list[Path]:
    """Regenerate ``exercises/ASSIGNMENT`` from ``solutions/ASSIGNMENT``, cleaned.

    Uses a throwaway gradebook so that the course's own ``gradebook.db`` is never touched.
    """
    import tempfile

    root = Path(root)
    with tempfile.TemporaryDirectory() as scratch:
        db_url = f"sqlite:///{Path(scratch) / 'release.db'}"
        run_nbgrader(["generate_assignment", assignment, "--force", f"--CourseDirectory.db_url={db_url}"], root)
    written = notebooks.notebook_paths(root / "exercises" / assignment)
    for path in written:
        notebooks.clean_file(path)
    return written


#: Where a scratch course keeps things. Set explicitly (with ``CourseDirectory.root``), so that
#: what the instructor's nbgrader_config.py says about paths (nbgrader's docs suggest setting
#: ``root`` for shared setups) never sends a scratch course's work into the real course.
SCRATCH_LAYOUT = {
    "source_directory": "solutions",
    "release_directory": "exercises",
    "submitted_directory": "submitted",
    "autograded_directory": "autograded",
    "feedback_directory": "feedback",
}


def scratch_layout(folder: Path, **overrides: str) -> dict[str, str]:
    """The CourseDirectory settings of a scratch course in ``folder``."""
    return {"root": str(Path(folder).resolve()), **SCRATCH_LAYOUT, **overrides}


def scratch_layout_args(folder: Path, **overrides: str) -> list[str]:
    """:func:`scratch_layout` as nbgrader command-line options."""
    return [f"--CourseDirectory.{key}={value}" for key, value in scratch_layout(folder, **overrides).items()]


def scratch_layout_config(folder: Path, **overrides: str) -> str:
    """:func:`scratch_layout` as lines of an nbgrader_config.py."""
    return "".join(f"c.CourseDirectory.{key} = {value!r}\n" for key, value in scratch_layout(folder, **overrides).items())


@dataclass
class ScratchCourse:
    """A throwaway nbgrader course in ``folder``, with the course's config and one assignment.

    Used to check releases and to autograde made-up submissions without touching the real
    course.
    """

    folder: Path
    root: Path
    assignment: str
    #: where the real course keeps its sources (its CourseDirectory.source_directory: this
    #: repository's `solutions`, a hub course's `source`); the scratch course always uses SCRATCH_LAYOUT
    source_dir: str = "solutions"

    def __post_init__(self):
        self.folder = Path(self.folder)
        shutil.copy(Path(self.root) / "nbgrader_config.py", self.folder / "nbgrader_config.py")
        shutil.copytree(
            Path(self.root) / self.source_dir / self.assignment,
            self.folder / "solutions" / self.assignment,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
        self.db_url = f"sqlite:///{self.folder / 'gradebook.db'}"

    def nbgrader(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return run_nbgrader([*args, f"--CourseDirectory.db_url={self.db_url}", *scratch_layout_args(self.folder)], self.folder, **kwargs)

    def generate(self) -> Path:
        """Release the assignment; return the released folder."""
        self.nbgrader("generate_assignment", self.assignment, "--force")
        for path in notebooks.notebook_paths(self.release_folder):
            notebooks.clean_file(path)
        return self.release_folder

    @property
    def release_folder(self) -> Path:
        return self.folder / "exercises" / self.assignment

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
