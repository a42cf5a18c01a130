"""nbgrader, driven from Python: releasing exercises and grading in a scratch course.

The real ``nbgrader`` command line does the work; these functions lay out the directories
and run it, for ``sidebyside release`` and ``sidebyside grade``. The test suite's extras
(submitting, autograding and reading scores back in a scratch course; ``nbgrader validate``)
are in tests/scratch_course.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import notebooks
from ..course import course_setting, find_course_root  # noqa: F401 - the course's own settings, for callers here
from ..frameworks import TF_LOG_LEVEL


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


def run_nbgrader(args: list[str], cwd: Path, *, check: bool = True, timeout: float | None = None, env: dict | None = None,
                 server: str | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``cwd`` (``env``: more environment variables); on failure raise
    with nbgrader's own output. ``server``: the address of a grading run's warm nbgrader server
    (:mod:`.grading.warm_start`), which forks the command with nbgrader already imported (the
    same command, seconds sooner); started the ordinary way when it cannot."""
    command = [sys.executable, "-m", "nbgrader", *args]
    full_env = {**nbgrader_env(), **(env or {})}
    result = _forked(server, command, cwd, full_env, timeout) if server else None
    if result is None:
        result = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"`nbgrader {' '.join(args)}` failed in {cwd} (exit {result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


def _forked(server: str, command: list[str], cwd: Path, env: dict, timeout: float | None) -> subprocess.CompletedProcess | None:
    """``command`` forked by the warm nbgrader server at ``server``, its output captured; None
    when that server cannot start it."""
    import tempfile

    from .grading import warm_start

    if not warm_start.can_start(warm_start.NBGRADER, command):
        return None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = warm_start.start(server, {"argv": command, "env": env, "cwd": str(cwd), "cgroups": []}, stdout=out.fileno(), stderr=err.fileno())
        except OSError:
            return None
        try:
            returncode = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        out.seek(0), err.seek(0)
        return subprocess.CompletedProcess(command, returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"))


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

    ``sidebyside grade`` generates its release template in one; the tests also submit and
    autograde in one (tests/scratch_course.py) without touching the real course.
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

    def generate(self, server: str | None = None) -> Path:
        """Release the assignment; return the released folder (``server``: see :func:`run_nbgrader`)."""
        self.nbgrader("generate_assignment", self.assignment, "--force", server=server)
        for path in notebooks.notebook_paths(self.release_folder):
            notebooks.clean_file(path)
        return self.release_folder

    @property
    def release_folder(self) -> Path:
        return self.folder / "exercises" / self.assignment
