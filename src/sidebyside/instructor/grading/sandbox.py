"""The sandbox: one bubblewrap container per worker, holding that worker's kernel server.

A worker grades one student at a time. Its kernel server (:mod:`.warm_start`) runs inside a
container made by bubblewrap (``bwrap``, Debian's ``bubblewrap``), and every kernel it forks
inherits that confinement, which the kernel cannot undo:

- namespaces of its own: pid (it sees only its sandbox's processes), network (a private
  loopback ``lo``, up, and nothing else: 05-parallelism's workers may talk over 127.0.0.1),
  IPC, UTS and cgroup; kernels talk to nbgrader over Unix sockets in the exchange folder;
- the host's ``/`` read-only, a fresh ``/proc`` and a read-only minimal ``/dev``; ``/tmp``
  (2 GB) and ``/dev/shm`` (1 GB) are tmpfs of the sandbox's own, emptied before each kernel;
- hidden: the course's solutions, submissions, autograded notebooks, feedback, gradebook and
  grading folders (an empty read-only tmpfs over folders, an empty file over files), and the
  grader's home (the interpreter and packages that live there are bound back read-only);
- no capabilities and ``no_new_privs``; the mounts are locked (a nested user namespace cannot
  unmount them).

Modes (:class:`.results.Isolation`):

- ``root``: bwrap run as root; the server and its kernels run as a user id of the worker's own
  (``61000 + worker``, through util-linux ``setpriv``): they cannot read files only root may;
- ``user``: bwrap run by an ordinary user, through unprivileged user namespaces; kernels run
  as that user, mapped into a user namespace of their own, with nested user namespaces
  disabled: they can read what the grader can, except what is hidden;
- ``none``: only when the instructor names it (``--isolation none``): kernels run UNCONFINED,
  as the grader, with the network and the grader's files in reach. The report says so on every
  grade. Where bubblewrap cannot confine and nobody named ``none``, nothing is graded
  (:class:`.run.UnsafeToGrade`).

Between two students the sandbox's processes other than the server are killed (the server is
a subreaper, so nothing escapes its tree) and the exchange folder is emptied.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from functools import lru_cache
from pathlib import Path

import psutil

import sidebyside

from . import warm_start
from .limits import Cgroup, Limits
from .results import Isolation

UID_BASE = 61000  # root mode: the user id of worker N's kernels is UID_BASE + N
TMP_SIZE, SHM_SIZE = 2 << 30, 1 << 30
EXCHANGE = "/tmp/.exchange"  # the exchange folder, as kernels see it
NBGRADER_TASKS = 64  # room in a worker's pids.max for nbgrader's own threads


@lru_cache(maxsize=None)
def bwrap_features() -> frozenset[str]:
    """The options this bwrap has (``--size`` and ``--disable-userns`` are recent)."""
    try:
        text = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return frozenset()
    return frozenset(word for word in text.split() if word.startswith("--"))


def _outermost(paths) -> list[Path]:
    paths = sorted(set(paths))
    return [p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths)]


def needed_paths() -> list[Path]:
    """What a kernel needs to see: the interpreter, its standard library and packages, this
    package's source (outermost folders only)."""
    candidates = {
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
        *site.getsitepackages(), *sysconfig.get_paths().values(), str(Path(sidebyside.__file__).resolve().parents[1]),  # the folder holding sidebyside/
        *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)),
    }
    return _outermost(Path(os.path.realpath(p)) for p in candidates if p and os.path.exists(p))


def private_folders(isolation: Isolation, needed: list[Path]) -> list[Path]:
    """Folders replaced by an empty tmpfs (only ``needed`` paths bound back): the grader's home
    and, as root, every folder on the way to a needed path that other users cannot enter."""
    folders = set()
    home = Path(os.path.realpath(Path.home()))
    if home != Path("/") and home.is_dir():
        folders.add(home)
    if isolation == Isolation.ROOT:
        folders.add(Path("/root"))
        for path in needed:
            for depth in range(2, len(path.parts)):
                folder = Path(*path.parts[:depth])
                if not folder.stat().st_mode & 0o001:
                    folders.add(folder)
                    break
    return _outermost(p for p in folders if p.is_dir() and not p.is_relative_to("/tmp"))  # /tmp is fresh anyway


def _bind_back(folder: Path, needed: list[Path]) -> list[str]:
    """Options that bring each needed path under ``folder`` back, read-only."""
    args = []
    made = set()
    for path in needed:
        if path != folder and path.is_relative_to(folder):
            for depth in range(len(folder.parts) + 1, len(path.parts)):
                parent = Path(*path.parts[:depth])
                if parent not in made:
                    made.add(parent)
                    args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", str(path), str(path)]
    return args


def bwrap_command(isolation: Isolation, exchange: Path, hide: list[str], uid: int) -> list[str]:
    """The command that runs what follows it in a worker's sandbox (hidden files are covered
    by ``EXCHANGE_PARENT/empty``, an empty file next to the exchange folder)."""
    features = bwrap_features()
    size = lambda n: ["--size", str(n)] if "--size" in features else []  # noqa: E731
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if isolation == Isolation.USER:
        args += ["--unshare-user", "--cap-drop", "ALL"] + (["--disable-userns"] if "--disable-userns" in features else [])
    args += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", *size(SHM_SIZE), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    args += ["--perms", "1777", *size(TMP_SIZE), "--tmpfs", "/tmp"]
    needed = needed_paths()
    masked = private_folders(isolation, needed)
    for folder in masked:
        args += ["--perms", "0755", "--tmpfs", str(folder), *_bind_back(folder, needed), "--remount-ro", str(folder)]
    args += _bind_back(Path("/tmp"), [p for p in needed if not any(p.is_relative_to(m) for m in masked)])
    for path in map(Path, _outermost(Path(os.path.realpath(p)) for p in hide)):
        out_of_sight = any(path.is_relative_to(f) for f in (Path("/tmp"), *masked)) and not any(path.is_relative_to(n) for n in needed)
        if out_of_sight or not path.exists():
            continue
        if path.is_dir():
            args += ["--perms", "0555", "--tmpfs", str(path), "--remount-ro", str(path)]
        else:
            args += ["--ro-bind", str(empty_file(exchange.parent)), str(path)]
    args += ["--bind", str(exchange), EXCHANGE, "--chdir", "/", "--"]
    if isolation == Isolation.ROOT:
        args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--"]
    return args


@lru_cache(maxsize=None)
def available() -> tuple[Isolation, str]:
    """The confinement this machine gives (really tried once), and why when it is none."""
    if not shutil.which("bwrap"):
        return Isolation.NONE, "bubblewrap is not installed (Debian/Ubuntu: `scripts/install-bubblewrap` as root, or `apt-get install bubblewrap`)"
    mode = Isolation.ROOT if os.geteuid() == 0 else Isolation.USER
    if mode == Isolation.ROOT and not shutil.which("setpriv"):
        return Isolation.NONE, "setpriv (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="sbs-probe-") as folder:
        if mode == Isolation.ROOT:
            os.chmod(folder, 0o755)
        command = bwrap_command(mode, Path(folder), [], UID_BASE) + [sys.executable, "-c", "import sidebyside.instructor.grading"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            return Isolation.NONE, f"bubblewrap failed here ({error})"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        why = lines[-1] if lines else f"exit status {done.returncode}"
        hint = " (unprivileged user namespaces are off? run as root, or allow them)" if mode == Isolation.USER else ""
        return Isolation.NONE, f"bubblewrap cannot make a sandbox here: {why}{hint}"
    return mode, ""


def describe(isolation: Isolation, reason: str = "") -> str:
    """What a mode gives, for the report."""
    common = (
        "own pid, network (a private loopback only), IPC and UTS namespaces; / read-only; a fresh /tmp and /dev/shm for "
        "every kernel; the course's solutions, submissions, autograded notebooks, feedback, gradebook and the grader's home "
        "hidden; no capabilities, no_new_privs"
    )
    if isolation == Isolation.ROOT:
        return f"bubblewrap, run as root: kernels ran as a user id of their worker's own ({UID_BASE}+worker), {common}"
    if isolation == Isolation.USER:
        return (
            f"bubblewrap through user namespaces (run by an ordinary user): kernels ran as the grader's user mapped into a user "
            f"namespace of their own (nested ones disabled), {common}; they could read what the grader may read, except what is hidden"
        )
    return (
        "NONE: kernels ran UNCONFINED, as the grader, with the network, the course's solutions and other students' "
        f"submissions in reach (the limits still held){': ' + reason if reason else ''}"
    )


def empty_file(folder: Path) -> Path:
    """An empty, read-only file in ``folder`` (bound over hidden files)."""
    path = folder / "empty"
    if not path.exists():
        path.touch(mode=0o444)
    return path


def cgroup_entry(cgroup: Cgroup | None) -> list[str]:
    """A command prefix that puts what follows in ``cgroup`` before it starts."""
    if cgroup is None:
        return []
    script = 'for f; do [ "$f" = -- ] && break; echo $$ > "$f"; done; while [ "$1" != -- ]; do shift; done; shift; exec "$@"'
    return ["/bin/sh", "-c", script, "sh", *cgroup.procs_files, "--"]


class Sandbox:
    """Worker ``index``'s sandbox and the kernel server inside it."""

    def __init__(self, index: int, isolation: Isolation, *, base: Path, hide: list[str], limits: Limits, env: dict[str, str],
                 log: Path, preload: bool = True, modules: tuple[str, ...] | None = None, cgroup: Cgroup | None = None):
        self.index, self.isolation, self.hide, self.limits, self.cgroup = index, isolation, hide, limits, cgroup
        self.exchange = base / f"w{index}"
        self.uid = UID_BASE + index if isolation == Isolation.ROOT else os.getuid()
        sandboxed = isolation != Isolation.NONE
        args = [
            "--scratch", "/tmp" if sandboxed else str(self.exchange / "scratch"),
            "--exchange", str(self.exchange), EXCHANGE if sandboxed else str(self.exchange),
            "--nproc", str(limits.processes), *(["--sandboxed"] if sandboxed else []),
        ]
        prefix = cgroup_entry(cgroup) + (bwrap_command(isolation, self.exchange, hide, self.uid) if sandboxed else [])
        self.server = warm_start.WarmServer(warm_start.KERNELS, env, log, prefix=prefix, args=args, preload=preload, modules=modules,
                                            home="/tmp/.server-home" if sandboxed else None)
        self.keep: set[int] = set()  # host pids of the server and what runs it
        self.memory_baseline = 0

    @property
    def address(self) -> str:
        return self.server.address

    def start(self) -> Sandbox:
        self.exchange.mkdir(parents=True, exist_ok=True)
        if self.isolation == Isolation.ROOT:
            os.chown(self.exchange, self.uid, self.uid)
        self.exchange.chmod(0o700)
        self.server.start()
        return self

    def wait_ready(self) -> bool:
        if not self.server.wait_ready():
            return False
        root = psutil.Process(self.server.process.pid)
        server = root
        if self.isolation != Isolation.NONE:
            found = [p for p in root.children(recursive=True) if _pid_inside(p) == self.server.pid_inside]
            if len(found) != 1:
                self.server.error = f"the kernel server was not found in its sandbox ({len(found)} candidates)"
                return False
            server = found[0]
        self.server_process = server
        self.keep = {server.pid} | {p.pid for p in server.parents() if p.pid == root.pid or root.pid in {q.pid for q in p.parents()}}
        if self.cgroup is not None:
            # The server's own memory and threads are charged to this cgroup too. The kernel's
            # RLIMIT_NPROC, checked before a fork copies anything, stops a fork bomb first;
            # pids.max, with room for nbgrader's threads, is the backstop.
            self.memory_baseline = self.cgroup.memory_bytes()
            self.cgroup.set_limits(self.memory_baseline + self.limits.memory_mb * 2**20, self.cgroup.tasks() + self.limits.processes + NBGRADER_TASKS)
        return True

    def running(self) -> bool:
        return self.server.running() and getattr(self, "server_process", None) is not None and self.server_process.is_running()

    def student_processes(self) -> list[psutil.Process]:
        """What runs in the sandbox for the current student (everything but the server)."""
        if self.server.process is None:
            return []
        try:
            found = psutil.Process(self.server.process.pid).children(recursive=True)
        except psutil.Error:
            return []
        return [p for p in found if p.pid not in self.keep]

    def sweep(self) -> None:
        """Kill every process of the current student in the sandbox (repeated: some fork)."""
        for _ in range(100):
            processes = self.student_processes()
            if not processes:
                return
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    process.kill()  # psutil checks it is still that process
            psutil.wait_procs(processes, timeout=2)

    def prepare(self) -> Path:
        """Ready for the next student: nothing of the last one is left. Returns the folder for
        the kernel's input files."""
        self.sweep()
        for entry in self.exchange.iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        folder = self.exchange / "input"
        folder.mkdir()
        if self.cgroup is not None:
            self.cgroup.reset_peak()
        return folder

    def stop(self) -> None:
        self.sweep()
        self.server.stop()
        shutil.rmtree(self.exchange, ignore_errors=True)
        if self.cgroup is not None:
            self.cgroup.remove()


def _pid_inside(process: psutil.Process) -> int | None:
    """A process's pid in the innermost pid namespace it belongs to."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return None
