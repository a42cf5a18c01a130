"""Grade one student: a private scratch course, nbgrader run within limits, the scores read back.

:func:`grade_one` lays out ``WORK/course/`` (the course's own ``nbgrader_config.py``, a copy of
the assignment's gradebook, the assignment's extra files without its solution notebook, and
this one student's prechecked submission) and runs ``nbgrader autograde ASSIGNMENT --student
STUDENT --notebook NAME`` there, once per notebook, with the grading settings on its command
line (:func:`nbgrader_options`: they outrank every configuration file). nbgrader itself runs
outside the sandbox (it runs no student code); the kernel it asks for is forked in the worker's
sandbox (:mod:`.sandbox`). Student code never sees the real gradebook, the solutions or any
other submission; the parent merges the scores (:mod:`.run`).

Limits (:mod:`.limits`): nbgrader joins the worker's cgroup, where the kernel already is, so
the kernel enforces the memory cap and the process cap on both; without a cgroup the memory
is polled. A wall-clock budget covers the whole student.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil

from .. import misconception_report
from ..nbgrader_course import nbgrader_env, scratch_layout_args
from . import warm_start
from .limits import MB, Limits
from .results import Finding, Outcome, Severity, Status
from .sandbox import Sandbox, cgroup_entry

#: nbgrader's autograding steps, with the guarded Execute in place of nbgrader's own.
PREPROCESSORS = (
    "sidebyside.instructor.grading.execute.GuardedExecute", "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
)


def grading_env(limits: Limits) -> dict[str, str]:
    """The environment of nbgrader and its kernels (and of the warm servers, which import the
    frameworks under the same thread settings)."""
    # PGPASSWORD may carry the gradebook's password: never into a kernel
    env = {name: value for name, value in nbgrader_env().items() if not name.startswith("PG")}
    # Parallel students share the cores: give each kernel its share of threads, or PyTorch's
    # and TensorFlow's thread pools oversubscribe the machine (a user's explicit setting wins).
    if limits.threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            env.setdefault(name, str(limits.threads))
    return env


def nbgrader_options(course: Path, findings: Path, kernel_input: Path, sandbox: Sandbox) -> list[str]:
    """The grading settings, as nbgrader command-line options."""
    return [
        *(f"--Autograde.autograde_preprocessors={name}" for name in PREPROCESSORS),
        f"--GuardedExecute.findings_file={findings}",
        f"--GuardedExecute.kernel_input={kernel_input}",
        f"--GradingKernelManager.kernel_server={sandbox.address}",
        "--KernelManager.transport=ipc",
        f"--KernelManager.ip={sandbox.exchange / 'kernel'}",
        "--OverwriteCells.add_missing_cells=True",
        f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
        *scratch_layout_args(course, source_directory="source"),
    ]


def build_course(work: Path, root: Path, assignment: str, source_dir: str, template_db: Path, student: str, prechecked) -> Path:
    """The private scratch course of one student; returns its folder."""
    course = work / "course"
    if course.exists():
        shutil.rmtree(course)
    course.mkdir(parents=True)
    shutil.copy(root / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copy(template_db, course / "gradebook.db")
    source = course / "source" / assignment
    source.mkdir(parents=True)
    real_source = root / source_dir / assignment
    # the extra files of the assignment (data...), never its notebooks: nbgrader copies these
    # over the submission; the gradebook already holds every cell it needs.
    for item in real_source.rglob("*"):
        if item.is_file() and item.suffix != ".ipynb" and ".ipynb_checkpoints" not in item.parts and "__pycache__" not in item.parts:
            target = source / item.relative_to(real_source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(item, target)
    submitted = course / "submitted" / student / assignment
    submitted.mkdir(parents=True)
    for name, nb in prechecked.notebooks.items():
        if nb is not None:
            nbformat.write(nb, submitted / f"{name}.ipynb")
    for item in prechecked.files:
        (shutil.copytree if item.is_dir() else shutil.copy)(item, submitted / item.name)
    timestamp = root / "submitted" / student / assignment / "timestamp.txt"
    if timestamp.is_file():
        shutil.copy(timestamp, submitted / "timestamp.txt")
    return course


def _wait_for_end(process, timeout: float) -> bool:
    """True once ``process`` has ended, without reaping it (a ``Popen``'s pid, and so its
    process group, stays reserved until :meth:`wait`: killing the group is safe until then)."""
    if process.pidfd < 0:  # a forked process that was seen to end closes its pidfd
        try:
            process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    return bool(select.select([process.pidfd], [], [], timeout)[0])


class _WatchedPopen(subprocess.Popen):
    """A ``Popen`` with a pidfd, so that its end can be seen before it is reaped."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pidfd = os.pidfd_open(self.pid)  # not reaped yet: the pid is still this process's


def run_watched(command: list[str], cwd: Path, env: dict, limits: Limits, log: Path, sandbox: Sandbox, nbgrader_server: str | None = None) -> tuple[Status, float, float, list[Finding]]:
    """Run nbgrader's ``command`` (forked from the warm nbgrader server when there is one) in
    the worker's cgroup; kill all the student's processes past a limit and at the end.
    Returns (status, seconds, peak MB, findings about limits)."""
    cgroup = sandbox.cgroup
    start = time.monotonic()
    status, peak, most_tasks, at_cap = Status.GRADED, 0.0, 0, False
    oom_before, refused_before = (cgroup.oom_kills(), cgroup.refused_tasks()) if cgroup else (0, 0)
    with open(log, "wb") as out:
        process = None
        if nbgrader_server and warm_start.can_start(warm_start.NBGRADER, command):
            request = {"argv": command, "env": env, "cwd": str(cwd), "cgroups": cgroup.procs_files if cgroup else []}
            try:
                process = warm_start.start(nbgrader_server, request, stdout=out.fileno(), stderr=out.fileno())
            except OSError as error:
                out.write(f"warm nbgrader unavailable ({error}): starting it cold\n".encode())
                out.flush()
        if process is None:
            process = _WatchedPopen(cgroup_entry(cgroup) + command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            nbgrader = psutil.Process(process.pid)  # made while it runs: it is ours
        except psutil.Error:
            nbgrader = None
        try:
            while not _wait_for_end(process, 0):
                if time.monotonic() - start > limits.wall_seconds:
                    status = Status.TIMEOUT
                    break
                in_sandbox = sandbox.student_processes()
                most_tasks = max(most_tasks, _tasks(in_sandbox))
                at_cap = at_cap or _at_process_cap(in_sandbox, limits)
                if cgroup is not None:
                    peak = max(peak, (cgroup.memory_bytes() - sandbox.memory_baseline) / MB)
                else:
                    peak = max(peak, _pss(in_sandbox + _tree(nbgrader)) / MB)
                    if peak > limits.memory_mb:
                        status = Status.MEMORY
                        break
                _wait_for_end(process, limits.poll_seconds)  # returns as soon as it ends
        finally:
            # Past a limit, or at the end: nothing of the student's may outlive the run (a fork
            # bomb is still there to be counted, at its cap even if the notebook ended just after
            # starting it).
            left, left_at_cap = _leftover_tasks(sandbox, limits)
            most_tasks, at_cap = max(most_tasks, left), at_cap or left_at_cap
            for child in _tree(nbgrader)[1:]:
                with contextlib.suppress(psutil.Error):
                    child.kill()  # psutil refuses (NoSuchProcess) if the pid now names another process
            if isinstance(process, _WatchedPopen):
                if process.returncode is None:
                    with contextlib.suppress(OSError):
                        os.killpg(process.pid, signal.SIGKILL)  # safe: not reaped yet
                process.wait()
                os.close(process.pidfd)
            else:
                process.kill()
                process.wait()
            sandbox.sweep()
    findings = []
    if cgroup is not None:
        if (measured := cgroup.peak_bytes()) is not None:
            peak = max(peak, (measured - sandbox.memory_baseline) / MB)
        if cgroup.oom_kills() > oom_before:
            status = Status.MEMORY
            findings.append(Finding(Severity.REVIEW, "memory", f"a process passed the memory cap of {limits.memory_mb:.0f} MB and the kernel's OOM killer stopped it (memory cgroup)"))
    elif status == Status.MEMORY:
        findings.append(Finding(Severity.REVIEW, "memory", f"the processes passed the memory cap of {limits.memory_mb:.0f} MB (seen by polling every {limits.poll_seconds:g} s) and were killed"))
    # a bomb sits at the cap (RLIMIT_NPROC first, then pids.max), short of it only by what ended
    if (cgroup is not None and cgroup.refused_tasks() > refused_before) or most_tasks >= 0.9 * limits.processes or at_cap:
        enforced = "RLIMIT_NPROC" + (" and the pids cgroup" if cgroup is not None else "")
        findings.append(Finding(Severity.REVIEW, "processes", f"the cap of {limits.processes} processes and threads was reached: the kernel refused new ones ({enforced}; a fork bomb?)"))
    if status == Status.GRADED and process.returncode != 0:
        status = Status.CRASHED
    return status, time.monotonic() - start, peak, findings


def _leftover_tasks(sandbox: Sandbox, limits: Limits, seconds: float = 2.0) -> tuple[int, bool]:
    """The most processes and threads of the student's seen in one look or, when the run left
    some behind, while watching them until they have not grown for ``seconds`` (at most five
    times that): a fork bomb started just before the notebook ended reaches its cap meanwhile,
    even on a busy machine where it forks slowly; nothing left costs one look. Also whether they
    sat at their process cap (:func:`_at_process_cap`)."""
    most, at_cap = 0, False
    start = grew = time.monotonic()
    while True:
        processes = sandbox.student_processes()
        count, now = _tasks(processes), time.monotonic()
        if count > most:
            most, grew = count, now
        at_cap = at_cap or _at_process_cap(processes, limits)
        if most == 0 or at_cap or most >= 0.9 * limits.processes or now - grew > seconds or now - start > 5 * seconds:
            return most, at_cap
        time.sleep(0.1)


def _at_process_cap(processes: list[psutil.Process], limits: Limits) -> bool:
    """Whether the student's processes sit at their RLIMIT_NPROC. The kernel counts every
    process and thread of their user id against it: in the "user" mode that includes the grader
    and the other workers, which may grow after the kernel set its limit, so a fork bomb can stop
    short of ``limits.processes`` of its own. Looked at only past half the cap (a scan of /proc)."""
    if _tasks(processes) < limits.processes // 2:
        return False
    for process in processes:
        try:
            soft = process.rlimit(psutil.RLIMIT_NPROC)[0]
            uid = process.uids().real
        except (psutil.Error, AttributeError, ValueError, OSError):
            continue
        if soft <= 0 or soft == psutil.RLIM_INFINITY:
            continue
        return warm_start.uid_tasks(uid) >= soft - max(5, soft // 50)
    return False


def _tree(process: psutil.Process | None) -> list[psutil.Process]:
    if process is None:
        return []
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def _pss(processes: list[psutil.Process]) -> int:
    """Proportional set size: pages shared with the warm server (or between forked copies)
    count once in all, not once per process as in the resident set size."""
    total = 0
    for process in processes:
        with contextlib.suppress(OSError, StopIteration, ValueError), open(f"/proc/{process.pid}/smaps_rollup") as smaps:
            total += next(int(line.split()[1]) for line in smaps if line.startswith("Pss:")) * 1024
    return total


def _tasks(processes: list[psutil.Process]) -> int:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.num_threads()
    return total


def read_scores(course: Path, assignment: str, student: str, outcome: Outcome) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return
        for notebook in submission.notebooks:
            cells, maxima = outcome.scores.setdefault(notebook.name, {}), outcome.max_scores.setdefault(notebook.name, {})
            for grade in notebook.grades:
                cells[grade.name] = grade.auto_score
                maxima[grade.name] = grade.max_score


def timed_out_cells(notebook: Path) -> list[str]:
    if not notebook.is_file():
        return []
    cells = enumerate(nbformat.read(notebook, as_version=4).cells)
    return [cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}" for index, cell in cells
            for output in cell.get("outputs", []) if output.get("output_type") == "error" and output.get("ename") == "CellTimeoutError"]


def grade_one(*, root: Path, assignment: str, student: str, prechecked, work: Path, template_db: Path, source_dir: str,
              limits: Limits, sandbox: Sandbox, nbgrader_server: str | None = None) -> Outcome:
    """Grade ``student`` in ``work`` (a private folder) on ``sandbox``'s worker; never raises
    for a student's fault."""
    outcome = Outcome(isolation=sandbox.isolation)
    work.mkdir(parents=True, exist_ok=True)
    if not prechecked.gradable:
        outcome.status = Status.NOT_GRADED
        return outcome
    env = grading_env(limits)
    try:
        course = build_course(work, root, assignment, source_dir, template_db, student, prechecked)
        logs = []
        start = time.monotonic()
        for name in [name for name, nb in prechecked.notebooks.items() if nb is not None]:
            # one nbgrader process per notebook, so that each gets its own findings file
            findings = work / f"guard-{name}.json"
            findings.unlink(missing_ok=True)
            kernel_input = sandbox.prepare()
            command = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", student, "--notebook", name, "--force",
                       *nbgrader_options(course, findings, kernel_input, sandbox)]
            left = dataclasses.replace(limits, wall_seconds=max(1.0, limits.wall_seconds - (time.monotonic() - start)))
            log = work / f"nbgrader-{name}.log"
            status, _, peak, met = run_watched(command, course, env, left, log, sandbox, nbgrader_server)
            outcome.peak_memory_mb = max(outcome.peak_memory_mb, peak)
            outcome.limits += met
            logs.append(log.read_text(errors="replace")[-3000:])
            if findings.is_file():
                outcome.guard[name] = json.loads(findings.read_text())["findings"]
            graded = course / "autograded" / student / assignment / f"{name}.ipynb"
            outcome.timeouts += timed_out_cells(graded)
            outcome.misconceptions[name] = misconception_report.diagnoses(graded)
            if status != Status.GRADED:
                outcome.status = status
            if status in (Status.TIMEOUT, Status.MEMORY) and not findings.is_file():
                break
        outcome.seconds = time.monotonic() - start
        outcome.log_tail = "\n".join(logs)[-4000:]
        read_scores(course, assignment, student, outcome)
    except Exception as error:  # noqa: BLE001 - a student's failure never stops the others
        outcome.status = Status.CRASHED
        outcome.log_tail += f"\n{type(error).__name__}: {error}"
    return outcome
