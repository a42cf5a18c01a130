"""Grade one student in a private scratch course, in its own process, within limits.

:func:`grade_one` lays out ``WORK/course/`` (the course's ``nbgrader_config.py`` plus the
guard settings, a copy of the assignment's gradebook, the assignment's extra files without
its solution notebook, and this one student's prechecked submission), runs
``nbgrader autograde ASSIGNMENT --student STUDENT`` there in a new process group, and reads
the scores back from that private gradebook. The parent merges them into the course's
gradebook (:mod:`.run`); student code never sees the real gradebook, the solutions or any
other submission:

- the kernel's working folder is an empty run folder, not the scratch course;
- isolation ``namespaces`` (root, or unprivileged user namespaces): the kernel runs in
  :mod:`.jail`: no network, ``/tmp`` replaced, the course's instructor paths hidden, its own
  user id. Isolation ``none`` (the documented weaker fallback, used where namespaces are not
  available): network open and files readable with the grader's rights; only the working
  folder and the limits apply.
- limits: a wall-clock budget for the whole student, and a memory cap on the resident memory
  of nbgrader plus the kernel, polled with psutil (``RLIMIT_AS`` is useless with the large
  virtual reservations of TensorFlow and PyTorch); either one kills the whole process tree.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import nbformat

from ..assignments import nbgrader_env, scratch_layout_config
from . import warm_start

GUARD_CONFIG = '''

# --- added by `sidebyside grade` for this private scratch course --------------------------
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import IgnorePattern, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata
from sidebyside.grading.execute import GuardedExecute

c.Autograde.autograde_preprocessors = [
    GuardedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
c.OverwriteCells.add_missing_cells = True
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
'''
JAIL_CONFIG = '''
c.KernelManager.transport = "ipc"
c.KernelManager.ip = {ip!r}
'''


@lru_cache(maxsize=None)
def isolation_available() -> str:
    """``"namespaces"`` when a kernel can be jailed here (root, or unprivileged user
    namespaces), else ``"none"``. Checked by really trying, in a child process."""
    probe = (
        "import sys, os; from sidebyside.grading import jail\n"
        "jail.enter_namespaces(sys.argv[1]); jail._mount('tmpfs', '/tmp', 'tmpfs', 0, 'size=1m')\n"
    )
    mode = "root" if os.geteuid() == 0 else "userns"
    result = subprocess.run([sys.executable, "-c", probe, mode], capture_output=True, timeout=60)
    return "namespaces" if result.returncode == 0 else "none"


def jail_mode() -> str:
    return "root" if os.geteuid() == 0 else "userns"


@dataclass
class Limits:
    wall_seconds: float = 1800.0
    memory_mb: float = 6000.0
    poll_seconds: float = 0.5
    threads: int = 0  # CPU threads per kernel; 0: the frameworks' default (all cores)


@dataclass
class Outcome:
    """What happened to one student's grading process."""

    student: str
    status: str = "graded"  # graded | timeout | memory | crashed | not_graded
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)  # notebook -> cell -> score
    max_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    needs_manual: list[str] = field(default_factory=list)
    guard: dict = field(default_factory=dict)  # notebook -> findings from GuardedExecute
    timeouts: list[str] = field(default_factory=list)  # cells that hit nbgrader's cell timeout
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    log_tail: str = ""
    isolation: str = "none"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def grading_env(limits: Limits) -> dict[str, str]:
    """The environment of nbgrader and its kernels (and of the warm server, which must import
    the frameworks under the same thread settings)."""
    env = nbgrader_env()
    # Parallel students share the cores: give each kernel its share of threads, or PyTorch's
    # and TensorFlow's thread pools oversubscribe the machine (a user's explicit setting wins).
    if limits.threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            env.setdefault(name, str(limits.threads))
    return env


def build_course(work: Path, root: Path, assignment: str, source_dir: str, template_db: Path, student: str, prechecked, config_extra: str = "") -> Path:
    """The private scratch course of one student; returns its folder."""
    course = work / "course"
    if course.exists():
        shutil.rmtree(course)
    course.mkdir(parents=True)
    config = (root / "nbgrader_config.py").read_text() + GUARD_CONFIG + scratch_layout_config(course, source_directory="source") + config_extra
    (course / "nbgrader_config.py").write_text(config)
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
        if item.is_dir():
            shutil.copytree(item, submitted / item.name)
        else:
            shutil.copy(item, submitted / item.name)
    timestamp = root / "submitted" / student / assignment / "timestamp.txt"
    if timestamp.is_file():
        shutil.copy(timestamp, submitted / "timestamp.txt")
    return course


class ProcessTree:
    """The processes of one nbgrader run: nbgrader, its descendants, and the kernels listed in
    ``pid_file`` (a warm kernel is a child of the warm server, not of nbgrader, so the
    provisioner writes each kernel's pid and start time there: :func:`.warm_start.read_kernel_pids`).

    Each process is held as a ``psutil.Process`` made while it certainly was that process, and
    psutil checks a process's identity (pid and start time) before measuring or signalling it.
    A pid is reused as soon as its process has been reaped, and on a busy machine it soon names
    an unrelated process or thread (``kill`` on a thread's id kills its whole process): a bare
    pid read after the end of a run must never be signalled.
    """

    def __init__(self, process, pid_file: Path | None = None):
        import psutil

        self.pid_file = pid_file
        self.known: dict[int, psutil.Process] = {}
        try:
            root = psutil.Process(process.pid)
        except psutil.Error:
            return
        # the object was made before this check (which reaps nothing), so while the process
        # was alive: it is ours
        if not _wait_for_end(process, 0):
            self.known[root.pid] = root

    def _kernels(self) -> list:
        import psutil

        found = []
        for pid, start in warm_start.read_kernel_pids(self.pid_file):
            if pid in self.known:
                continue
            try:
                kernel = psutil.Process(pid)
                if abs(kernel.create_time() - start) < 0.005:  # else that pid is someone else's now
                    found.append(kernel)
            except psutil.Error:
                pass
        return found

    def processes(self) -> list:
        """The processes of the run that are still running (children found again each time)."""
        import psutil

        for kernel in self._kernels():
            self.known[kernel.pid] = kernel
        for proc in list(self.known.values()):
            try:
                for child in proc.children(recursive=True):  # psutil drops children older than proc
                    self.known.setdefault(child.pid, child)
            except psutil.Error:
                pass
        running = []
        for pid, proc in list(self.known.items()):
            if not proc.is_running():
                del self.known[pid]  # ended and reaped: its pid may name another process now
                continue
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    running.append(proc)
            except psutil.Error:
                pass
        return running

    def rss_mb(self) -> float:
        import psutil

        total = 0
        for proc in self.processes():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def kill(self) -> None:
        import psutil

        for proc in reversed(self.processes()):
            try:
                proc.kill()  # psutil refuses (NoSuchProcess) if the pid now names another process
            except psutil.Error:
                pass


def _wait_for_end(process, timeout: float) -> bool:
    """True once ``process`` has ended, without reaping it (a ``Popen``'s pid, and so its
    process group, stays reserved until :meth:`wait`: killing the group is safe until then)."""
    import select

    pidfd = getattr(process, "pidfd", None)
    if pidfd is None or pidfd < 0:
        try:
            process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    return bool(select.select([pidfd], [], [], timeout)[0])


class _WatchedPopen(subprocess.Popen):
    """A ``Popen`` with a pidfd, so that its end can be seen before it is reaped."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pidfd = os.pidfd_open(self.pid)  # not reaped yet: the pid is still this process's

    def close_pidfd(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


def run_limited(
    command: list[str], cwd: Path, env: dict, limits: Limits, log: Path, pid_file: Path | None = None, warm_nbgrader: str | None = None,
) -> tuple[str, float, float]:
    """Run ``command`` (forked from the warm nbgrader server at ``warm_nbgrader`` when it can
    be); kill its whole tree, and the kernels listed in ``pid_file``, past the limits. Returns
    (status, seconds, peak MB)."""
    start = time.monotonic()
    peak = 0.0
    status = "finished"
    with open(log, "wb") as out:
        process = None
        if warm_nbgrader and warm_start.can_start(warm_start.NBGRADER, command):
            try:
                process = warm_start.start(warm_nbgrader, command, env, str(cwd), stdout=out.fileno(), stderr=out.fileno())
            except OSError as error:
                out.write(f"warm nbgrader unavailable ({error}): starting it cold\n".encode())
                out.flush()
        if process is None:
            process = _WatchedPopen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        tree = ProcessTree(process, pid_file)
        try:
            while not _wait_for_end(process, 0):
                peak = max(peak, tree.rss_mb())
                if peak > limits.memory_mb:
                    status = "memory"
                    break
                if time.monotonic() - start > limits.wall_seconds:
                    status = "timeout"
                    break
                _wait_for_end(process, limits.poll_seconds)  # returns as soon as it ends
        finally:
            # Past a limit, or at the end: nothing of the run may outlive it (the kernel may
            # outlive nbgrader when nbgrader itself is killed).
            tree.kill()
            if isinstance(process, _WatchedPopen) and process.returncode is None:
                # its group too, which is safe only before it is reaped (a forked nbgrader's
                # group is killed by its warm server, which reaps it)
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except OSError:
                    pass
                process.wait()
                process.close_pidfd()
            else:
                process.wait()
    if status == "finished" and process.returncode != 0:
        status = "crashed"
    return status, time.monotonic() - start, peak


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
                if grade.needs_manual_grade:
                    outcome.needs_manual.append(f"{notebook.name}:{grade.name}")


def timed_out_cells(notebook: Path) -> list[str]:
    if not notebook.is_file():
        return []
    nb = nbformat.read(notebook, as_version=4)
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") == "CellTimeoutError":
                found.append(cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}")
    return found


def grade_one(
    *, root: Path, assignment: str, student: str, prechecked, work: Path, template_db: Path, source_dir: str,
    limits: Limits, isolation: str, hide: list[str], uid: int, warm: dict[str, str] | None = None,
) -> Outcome:
    """Grade ``student`` in ``work`` (a private folder); never raises for a student's fault."""
    outcome = Outcome(student, isolation=isolation)
    work.mkdir(parents=True, exist_ok=True)
    if not prechecked.gradable:
        outcome.status = "not_graded"
        return outcome
    ipc_dir = None
    config_extra = ""
    settings: dict = {"findings": None, "run_dir": None}
    run_dir = Path(tempfile.mkdtemp(prefix="sbs-run-"))
    settings["run_dir"] = str(run_dir)
    pid_file = work / "kernel-pids"
    pid_file.unlink(missing_ok=True)
    settings["kernel_pids"] = str(pid_file)
    warm = warm or {}
    if warm.get(warm_start.KERNELS):
        settings["warm_kernels"] = warm[warm_start.KERNELS]
    env = grading_env(limits)
    if isolation == "namespaces":
        base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
        ipc_dir = Path(tempfile.mkdtemp(prefix="sbs-ipc-", dir=base))
        mode = jail_mode()
        if mode == "root":
            os.chown(ipc_dir, uid, uid)
        os.chmod(ipc_dir, 0o700)
        config_extra = JAIL_CONFIG.format(ip=str(ipc_dir / "kernel"))
        settings["jail"] = {"mode": mode, "uid": uid, "hide": hide}
        env["JUPYTER_RUNTIME_DIR"] = str(ipc_dir)
    try:
        course = build_course(work, root, assignment, source_dir, template_db, student, prechecked, config_extra)
        notebooks = [name for name, nb in prechecked.notebooks.items() if nb is not None]
        findings_files = {}
        logs = []
        start = time.monotonic()
        for name in notebooks:
            # one nbgrader process per notebook, so that each gets its own findings file
            findings = work / f"guard-{name}.json"
            findings_files[name] = findings
            settings["findings"] = str(findings)
            env[ "SIDEBYSIDE_GRADING"] = json.dumps(settings)
            command = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", student, "--notebook", name, "--force"]
            left = Limits(max(1.0, limits.wall_seconds - (time.monotonic() - start)), limits.memory_mb, limits.poll_seconds, limits.threads)
            log = work / f"nbgrader-{name}.log"
            status, _, peak = run_limited(command, course, env, left, log, pid_file, warm.get(warm_start.NBGRADER))
            outcome.peak_memory_mb = max(outcome.peak_memory_mb, peak)
            logs.append(log.read_text(errors="replace")[-3000:])
            if status != "finished":
                outcome.status = status
            if status in ("timeout", "memory"):
                break
        outcome.seconds = time.monotonic() - start
        outcome.log_tail = "\n".join(logs)[-4000:]
        read_scores(course, assignment, student, outcome)
        for name, path in findings_files.items():
            if path.is_file():
                outcome.guard[name] = json.loads(path.read_text())
            outcome.timeouts += timed_out_cells(course / "autograded" / student / assignment / f"{name}.ipynb")
    except Exception as error:  # noqa: BLE001 - a student's failure never stops the others
        outcome.status = "crashed"
        outcome.log_tail += f"\n{type(error).__name__}: {error}"
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if ipc_dir:
            shutil.rmtree(ipc_dir, ignore_errors=True)
    return outcome


def new_uid(index: int) -> int:
    """A user id of its own for each student's kernel (no passwd entry needed)."""
    return 61000 + (index % 4000)


def token() -> str:
    return secrets.token_hex(4)
