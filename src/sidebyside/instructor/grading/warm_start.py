"""Warm servers: nbgrader processes and student kernels forked from processes that have
already imported what they need.

Grading one student used to start two Python processes from scratch: ``nbgrader autograde``
(importing nbgrader and Jupyter's server stack) and the kernel, whose first cells import
PyTorch and TensorFlow. Together that was more than half of what grading one submission cost.
So a grading run starts *warm servers* (``python -m sidebyside.instructor.grading.warm_start ROLE ...``),
each waiting on a Unix socket after its imports:

- ``kernels``: one per worker, inside that worker's sandbox (:mod:`.sandbox`), started by
  bubblewrap, so every kernel it forks is confined like the server itself. It imports NumPy,
  PyTorch, TensorFlow and ipykernel once. For each kernel it forks a child that empties the
  sandbox's ``/tmp`` and ``/dev/shm`` (and SysV IPC objects) left by the student before,
  copies the kernel's input files into ``/tmp/work``, writes the connection file, takes a
  filtered environment, sets ``RLIMIT_NPROC`` and runs ``ipykernel_launcher``. The server is
  not dumpable, so a kernel (same user) can neither trace it nor read its memory; what a
  kernel leaves behind (a child that daemonized) is adopted by the server (a subreaper), so
  the sandbox's sweep finds it.
- ``nbgrader``: one per run, outside any sandbox (nbgrader runs no student code; the
  kernel does). Its child joins the worker's cgroup and runs nbgrader's command line.

A fork shares nothing writable with its server or with another student's processes. So that
the child behaves like ``python -m MODULE ARGS``, it gets its own session, the caller's stdout
and stderr (passed over the socket), ``/dev/null`` as stdin, ``sys.argv`` and ``sys.path[0]``
as ``-m`` sets them, the variables a kernel sets before importing the frameworks
(``MPLBACKEND``, :func:`sidebyside.frameworks.prepare_environment`), and fresh NumPy random
state. It dies with its server (``PR_SET_PDEATHSIG``); the server kills it when the caller
goes away; out of memory, a kernel is killed before the server (``oom_score_adj``).
``--cold-start`` makes the kernel server import nothing first (same sandbox, same grades,
slower) and starts nbgrader the ordinary way.

Protocol: ``SOCK_SEQPACKET``, one JSON object per packet. Request ``{"argv", "env", "cwd",
"connection", "cgroups"}`` with the caller's stdout and stderr attached (``SCM_RIGHTS``);
reply ``{"pid"}`` with a pidfd of the child attached, or ``{"error"}``; when the child ends,
``{"exit": status}``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

KERNELS, NBGRADER = "kernels", "nbgrader"
#: What each server imports once: for kernels, what every assignment's notebook imports,
#: including what it imports later: the course's ``setup()`` (its
#: ``torch.use_deterministic_algorithms``) brings Dynamo and Inductor, and its data module
#: scikit-learn, about 2 s in every kernel (measured in the note of issue 24).
PRELOAD = {
    KERNELS: ("numpy", "torch", "torch._dynamo", "torch._inductor", "tensorflow", "keras", "sklearn.datasets", "ipykernel.ipkernel"),
    NBGRADER: ("nbgrader.apps", "sidebyside.instructor.grading.execute", "nbconvert.exporters"),
}
#: The packages whose modules in PRELOAD[KERNELS] only some notebooks need, and those a
#: notebook's import brings (the course package's ``setup()`` imports all of them; one of its
#: modules alone, such as ``sidebyside.misconceptions``, none).
FRAMEWORKS = ("torch", "tensorflow", "keras", "sklearn")
IMPORTS_FRAMEWORKS = {"torch": ("torch",), "tensorflow": ("tensorflow",), "keras": ("keras",), "sklearn": ("sklearn",), "sidebyside": FRAMEWORKS}
#: Marks a module the kernel server imports if it can (one a notebook imports: if the import
#: fails there, it fails in the kernel too, where the student sees it).
OPTIONAL = "?"


def kernel_modules(notebooks) -> tuple[str, ...]:
    """What the kernel server imports for an assignment whose notebooks are ``notebooks``:
    PRELOAD[KERNELS] without the frameworks none of them imports (a notebook in plain Python
    gets kernels that do not wait for torch and TensorFlow it never uses), then, marked
    OPTIONAL, the other installed modules the notebooks import (03's TensorBoard and Visdom
    clients, the course's helper modules: each kernel would import them again). A notebook
    that cannot be read gets PRELOAD[KERNELS]."""
    statement = re.compile(r"^[ \t]*(?:import[ \t]+([\w.]+)|from[ \t]+([\w.]+)[ \t]+import[ \t]+\(?([\w, \t]+))", re.MULTILINE)
    wanted: set[str] = set()
    imported: list[str] = []
    for path in notebooks:
        try:
            cells = json.loads(Path(path).read_text())["cells"]
            text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells if c.get("cell_type") == "code")
        except (OSError, ValueError, KeyError, TypeError):
            return PRELOAD[KERNELS]
        for match in statement.finditer(text):
            module = match.group(1) or match.group(2)
            root = module.partition(".")[0]
            if root in IMPORTS_FRAMEWORKS and (root != "sidebyside" or module == root):
                wanted.update(IMPORTS_FRAMEWORKS[root])
            # `from package import name`: name may be a submodule (sidebyside's checks)
            names = [f"{module}.{name.strip()}" for name in (match.group(3) or "").split(",") if name.strip().isidentifier()]
            imported += [m for m in (module, *names) if m not in imported]
    base = tuple(m for m in PRELOAD[KERNELS] if m.partition(".")[0] not in FRAMEWORKS or m.partition(".")[0] in wanted)
    installed = {root for root in {m.partition(".")[0] for m in imported} if root != "__future__" and importlib.util.find_spec(root)}
    return base + tuple(OPTIONAL + m for m in imported if m.partition(".")[0] in installed and m not in base)


#: The module each server runs, as this interpreter's ``-m MODULE``.
MODULE = {KERNELS: "ipykernel_launcher", NBGRADER: "nbgrader"}
MAX_MESSAGE = 1 << 20
READY = "ready"
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
#: What a kernel keeps of the environment nbgrader asks for (names, or prefixes ending in "_").
KERNEL_ENV = (
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONWARNINGS", "MPLBACKEND",
    "LC_", "JPY_", "NBGRADER_", "OMP_", "MKL_", "OPENBLAS_", "KMP_", "TF_", "XLA_", "CUDA_", "CUBLAS_", "TORCH_", "KERAS_",
)
KERNEL_FILE_SIZE = 2 << 30  # RLIMIT_FSIZE of a kernel


def can_start(role: str, argv: list[str]) -> bool:
    """Whether the ``role`` server can fork ``argv``: this interpreter, ``-m MODULE[role]``."""
    if len(argv) < 3 or argv[1:3] != ["-m", MODULE[role]]:
        return False
    try:
        return os.path.samefile(argv[0], sys.executable)
    except OSError:
        return False


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


# --- the server ---------------------------------------------------------------------------------


class ForkServer:
    """A warm server's loop: accept requests, fork children, report their ends, reap orphans."""

    def __init__(self, role: str, listener: socket.socket, place: KernelPlace | None = None):
        self.role, self.listener, self.place = role, listener, place
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.children: dict[int, tuple[socket.socket, int]] = {}  # pid -> (connection, pidfd)

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select(timeout=1.0):
                kind, data = key.data
                if kind == "accept":
                    self._accept()
                elif kind == "ended":
                    self._reap(data)
                elif kind == "caller":
                    self._caller_event(data)
            self._reap_orphans()

    def _accept(self) -> None:
        connection, _ = self.listener.accept()
        fds: list[int] = []
        try:
            connection.settimeout(10)  # a caller that connects and says nothing must not stall the rest
            message, fds, _, _ = socket.recv_fds(connection, MAX_MESSAGE, 2)
            connection.settimeout(None)
            pid = self._fork(json.loads(message), fds, connection)
        except Exception as error:  # noqa: BLE001 - a bad request must not stop the server
            with contextlib.suppress(OSError):
                connection.send(json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
            connection.close()
            return
        finally:
            for fd in fds:
                os.close(fd)  # the child has its own copies
        pidfd = os.pidfd_open(pid)
        self.children[pid] = (connection, pidfd)
        self.selector.register(pidfd, selectors.EVENT_READ, ("ended", pid))
        self.selector.register(connection, selectors.EVENT_READ, ("caller", pid))
        try:
            socket.send_fds(connection, [json.dumps({"pid": pid}).encode()], [pidfd])
        except OSError:
            self._caller_event(pid)  # the caller left already: no one will talk to this child

    def _fork(self, request: dict, fds: list[int], connection: socket.socket) -> int:
        if not can_start(self.role, request["argv"]):
            raise ValueError(f"not a command the {self.role} server can start: {request['argv'][:3]}")
        if len(fds) != 2:
            raise ValueError("the caller's stdout and stderr must come with the request")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self.selector.close()
                self.listener.close()
                connection.close()
                for other, pidfd in self.children.values():
                    other.close()
                    os.close(pidfd)
                code = run_child(self.role, request, fds, self.place)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            except BaseException:  # noqa: BLE001 - the child must never return into the server
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        return pid

    def _reap(self, pid: int) -> None:
        if pid not in self.children:
            return
        connection, pidfd = self.children.pop(pid)
        # what the child left in its process group goes with it; the group's id is safe to
        # use until the child is reaped (after that the pid may name another process)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        with contextlib.suppress(KeyError, ValueError):  # already gone (see _caller_event)
            self.selector.unregister(connection)
        with contextlib.suppress(OSError):
            connection.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
        connection.close()

    def _reap_orphans(self) -> None:
        """Reap the ended processes this server adopted as a subreaper (never its own children,
        whose ends are reported through their pidfds)."""
        children = set()
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(OSError):
                children.update(map(int, (task / "children").read_text().split()))
        for pid in children - self.children.keys():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)

    def _caller_event(self, pid: int) -> None:
        if pid not in self.children:
            return  # reaped earlier in the same round of events
        connection, _ = self.children[pid]
        try:
            data = connection.recv(64)
        except OSError:
            data = b""
        if not data:
            # the caller is gone: what it started must not outlive it
            self.selector.unregister(connection)
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(OSError):
                    kill(pid, signal.SIGKILL)


class KernelPlace:
    """Where the kernels of a server run: ``scratch`` (emptied before each kernel: ``/tmp`` in
    a sandbox) and the exchange folder shared with the grader, seen at ``exchange_here`` in
    the sandbox and at ``exchange_host`` outside it."""

    def __init__(self, scratch: str, exchange_host: str, exchange_here: str, nproc: int, sandboxed: bool):
        self.scratch, self.exchange_host, self.exchange_here = Path(scratch), exchange_host, exchange_here
        self.nproc, self.sandboxed = nproc, sandboxed
        # mount points under scratch (the exchange folder, an interpreter under /tmp) stay
        self.keep = {Path(line.split()[4]) for line in Path("/proc/self/mountinfo").read_text().splitlines()}
        self.keep = {p for p in self.keep if p != self.scratch and p.is_relative_to(self.scratch)} | {Path(exchange_here)}

    def here(self, value: str) -> str:
        """A path of the grader's, as the kernel sees it."""
        if value == self.exchange_host or value.startswith(self.exchange_host + "/"):
            return self.exchange_here + value[len(self.exchange_host) :]
        return value

    def empty(self, folder: Path) -> None:
        """Remove everything in ``folder`` but the mount points in ``keep`` (and their parents)."""
        for entry in list(folder.iterdir()):
            if entry in self.keep:
                continue
            if any(k.is_relative_to(entry) for k in self.keep):
                self.empty(entry)
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, onerror=_force)
            else:
                entry.unlink()

    def fresh(self) -> Path:
        """Empty the sandbox of what earlier kernels left; return the kernel's working folder."""
        self.scratch.mkdir(exist_ok=True)
        self.empty(self.scratch)
        if self.sandboxed:
            self.empty(Path("/dev/shm"))
            if shutil.which("ipcrm"):
                subprocess.run(["ipcrm", "--all"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        work = self.scratch / "work"
        work.mkdir()
        (work / ".home").mkdir()
        source = Path(self.exchange_here) / "input"
        if source.is_dir():
            shutil.copytree(source, work, dirs_exist_ok=True, symlinks=True)
        return work


def uid_tasks(uid: int) -> int:
    """Processes and threads of ``uid`` on the machine (what RLIMIT_NPROC counts; the grader
    asks it too, to see a fork bomb sitting at its kernel's cap)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
    return count


def _force(function, path, _):
    """``rmtree``'s error handler: a student may have removed its own rights on a folder."""
    os.chmod(os.path.dirname(path), 0o700)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        shutil.rmtree(path, onerror=_force)
    else:
        function(path)


def run_child(role: str, request: dict, fds: list[int], place: KernelPlace | None) -> int:
    """In the forked child: become the requested process. Returns its exit status."""
    import runpy

    os.setsid()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in (null, *fds):
        os.close(fd)
    argv = list(request["argv"])
    if role == NBGRADER:
        for path in request.get("cgroups") or []:
            Path(path).write_text(str(os.getpid()))  # the worker's limits cover nbgrader too
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
    else:
        argv = _become_kernel(request, argv, place)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:
        return 1
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # a fresh process would have fresh entropy
    sys.path[0] = os.getcwd()  # what `python -m` puts first
    sys.argv = [MODULE[role], *argv[3:]]
    runpy.run_module(MODULE[role], run_name="__main__", alter_sys=True)
    return 0


def _become_kernel(request: dict, argv: list[str], place: KernelPlace) -> list[str]:
    """The kernel's part of :func:`run_child`: a fresh sandbox, its files, limits, environment."""
    _prctl(PR_SET_DUMPABLE, 1)  # its own /proc files are its own again (the server is not dumpable)
    if KERNEL_OOM_SCORE_ADJ is not None:
        _oom_score_adj(KERNEL_OOM_SCORE_ADJ)  # raising it needs no privilege
    work = place.fresh()
    connection = dict(request["connection"])
    if connection.get("transport") == "ipc":
        connection["ip"] = place.here(connection["ip"])
    connection_file = place.scratch / ".connection.json"
    connection_file.write_text(json.dumps(connection))
    connection_file.chmod(0o600)
    if "-f" in argv:
        argv[argv.index("-f") + 1] = str(connection_file)
    env = {k: place.here(v) for k, v in request["env"].items() if k in KERNEL_ENV or k.startswith(tuple(p for p in KERNEL_ENV if p.endswith("_")))}
    env.update(IMPORT_TIME_ENVIRONMENT)
    home = work / ".home"
    env.update(HOME=str(home), TMPDIR=str(place.scratch), MPLCONFIGDIR=str(home / "mpl"), PWD=str(work), JPY_PARENT_PID=str(os.getppid()))
    os.environ.clear()
    os.environ.update(env)
    os.chdir(work)
    nproc = uid_tasks(os.getuid()) + place.nproc
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (KERNEL_FILE_SIZE, KERNEL_FILE_SIZE))
    return argv


IMPORT_TIME_ENVIRONMENT: dict[str, str] = {}
KERNEL_OOM_SCORE_ADJ: str | None = None  # higher than the server's


def import_time_environment() -> dict[str, str]:
    """The variables a cold kernel would have set before the frameworks were imported."""
    from ...frameworks import prepare_environment

    os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
    # ipykernel sets this before any user code runs; matplotlib reads it when imported
    # (TensorFlow imports matplotlib), so it must be set before the frameworks are.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    before = dict(os.environ)
    prepare_environment()
    changed = {k: v for k, v in os.environ.items() if before.get(k) != v}
    return {"MPLBACKEND": os.environ["MPLBACKEND"], **changed}


def _oom_score_adj(value: str | None = None) -> str | None:
    """Read, or set, this process's ``oom_score_adj`` (None where it cannot be)."""
    path = Path("/proc/self/oom_score_adj")
    try:
        if value is not None:
            path.write_text(value)
        return path.read_text().strip()
    except OSError:
        return None


def serve(argv: list[str] | None = None) -> None:
    """A server's entry point: import, say ready on stdout, serve until killed."""
    global IMPORT_TIME_ENVIRONMENT, KERNEL_OOM_SCORE_ADJ
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=[KERNELS, NBGRADER])
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, inherited")
    parser.add_argument("--no-preload", action="store_true")
    parser.add_argument("--modules", help="what to import instead of PRELOAD[role] (comma-separated)")
    parser.add_argument("--scratch", help="kernels: the folder emptied before each kernel")
    parser.add_argument("--exchange", nargs=2, metavar=("HOST", "HERE"), help="kernels: the folder shared with the grader")
    parser.add_argument("--nproc", type=int, default=1024, help="kernels: processes and threads each may add")
    parser.add_argument("--sandboxed", action="store_true", help="kernels: /dev/shm and IPC objects are the sandbox's own")
    args = parser.parse_args(argv)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if args.role == KERNELS:
        _prctl(PR_SET_DUMPABLE, 0)  # no kernel (same user) may trace this server or read its memory
        _prctl(PR_SET_CHILD_SUBREAPER, 1)  # what kernels leave behind stays in this server's tree
    # Out of memory, a kernel should go, not the server all kernels come from: kernels raise
    # their score (lowering the server's would need CAP_SYS_RESOURCE, which containers lack).
    current = _oom_score_adj()
    KERNEL_OOM_SCORE_ADJ = str(min(1000, int(current) + 500)) if current is not None else None
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the grading run
    place = None
    if args.role == KERNELS:
        IMPORT_TIME_ENVIRONMENT = import_time_environment()
        place = KernelPlace(args.scratch, *args.exchange, nproc=args.nproc, sandboxed=args.sandboxed)
        os.chdir("/")
    start = time.monotonic()
    modules = args.modules.split(",") if args.modules else PRELOAD[args.role]
    for module in () if args.no_preload else modules:
        if module.startswith(OPTIONAL):
            with contextlib.suppress(Exception):  # a name, not a module, or a module that fails: the kernel will say
                importlib.import_module(module.removeprefix(OPTIONAL))
        else:
            importlib.import_module(module)
    listener = socket.socket(fileno=args.fd)
    server = ForkServer(args.role, listener, place)
    print(json.dumps({"status": READY, "seconds": round(time.monotonic() - start, 2), "pid": os.getpid()}), flush=True)
    server.serve()


# --- the grading run's side -------------------------------------------------------------------


class WarmServer:
    """Start and stop one warm server (``with WarmServer(role, env, log) as s``); ``prefix`` is
    what runs it (a cgroup entry and the sandbox, for kernels)."""

    def __init__(self, role: str, env: dict[str, str], log: Path, *, prefix: list[str] = (), args: list[str] = (),
                 preload: bool = True, modules: tuple[str, ...] | None = None, home: str | None = None, start_timeout: float = 300.0):
        self.role, self.env, self.log = role, dict(env), log
        self.prefix, self.args, self.preload, self.start_timeout = list(prefix), list(args), preload, start_timeout
        self.modules = modules  # what to preload; None: PRELOAD[role]
        self.home = home  # default: a folder of its own
        self.folder = Path(tempfile.mkdtemp(prefix="sbs-warm-"))  # 0700: the grader's alone
        self.address = str(self.folder / "socket")
        self.process: subprocess.Popen | None = None
        self.error: str | None = None
        self.import_seconds: float | None = None
        self.pid_inside: int | None = None

    def start(self) -> WarmServer:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log, "ab")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(self.address)
        listener.listen(64)
        # Its own home: Keras and matplotlib write their settings and caches there when imported.
        home = self.home or str(self.folder / "home")
        env = {**self.env, "HOME": home, "MPLCONFIGDIR": f"{home}/mpl"}
        command = [*self.prefix, sys.executable, "-m", "sidebyside.instructor.grading.warm_start", self.role, "--fd", str(listener.fileno()), *self.args]
        try:
            self.process = subprocess.Popen(
                command + ([] if self.preload else ["--no-preload"]) + ([f"--modules={','.join(self.modules)}"] if self.modules else []), env=env, cwd="/", stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=self._log, start_new_session=True, pass_fds=[listener.fileno()],
            )
        finally:
            listener.close()  # the server has its own copy
        return self

    def wait_ready(self) -> bool:
        """Block until the server has imported everything; False (with ``error``) if it failed."""
        if self.process is None:
            return False
        if self.import_seconds is not None:
            return True
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(self.start_timeout):
            self.error = f"the warm {self.role} server did not start within {self.start_timeout:.0f} s"
            self.stop()
            return False
        try:
            answer = json.loads(self.process.stdout.readline())
        except ValueError:
            answer = {}
        if answer.get("status") != READY:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.is_file() else []
            self.error = f"the warm {self.role} server failed to start ({tail[0] if tail else 'no output'}; see {self.log})"
            self.stop()
            return False
        self.import_seconds, self.pid_inside = answer.get("seconds"), answer.get("pid")
        return True

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:  # once reaped, its pid may name another process
                with contextlib.suppress(OSError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process.stdout.close()
            self.process = None
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ForkedProcess:
    """A ``Popen``-like handle on a forked child (jupyter_client's provisioner keeps one for a
    kernel, the student's grading for nbgrader). Signals go through its pidfd, which names that
    process whatever pid namespace it is in, and never another one."""

    stdin = stdout = stderr = None

    def __init__(self, connection: socket.socket, pid: int, pidfd: int):
        self.connection, self.pidfd = connection, pidfd
        self.pid = _pid_of(pidfd) or pid  # as this process sees it (the sandbox has its own pids)
        self.returncode: int | None = None

    def _read_end(self, timeout: float | None) -> None:
        if self.returncode is not None:
            return
        self.connection.settimeout(timeout)
        try:
            data = self.connection.recv(4096)
        except (socket.timeout, BlockingIOError):
            return
        except OSError:
            data = b""
        try:
            self.returncode = int(json.loads(data)["exit"]) if data else -signal.SIGKILL
        except (ValueError, KeyError, TypeError):
            self.returncode = -signal.SIGKILL
        self.connection.close()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def poll(self) -> int | None:
        self._read_end(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        self._read_end(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired("forked process", timeout)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None and self.pidfd >= 0:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _pid_of(pidfd: int) -> int | None:
    """The pid, in this process's pid namespace, of the process ``pidfd`` refers to."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/self/fdinfo/{pidfd}").read_text().splitlines():
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
                return pid if pid > 0 else None
    return None


def start(address: str, request: dict, *, stdout: int | None = None, stderr: int | None = None) -> ForkedProcess:
    """Ask the warm server at ``address`` to fork ``request["argv"]``; raises OSError when it
    cannot. ``stdout`` and ``stderr`` (file descriptors) default to this process's."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.settimeout(60)
        connection.connect(address)
        outputs = [sys.stdout.fileno() if stdout is None else stdout, sys.stderr.fileno() if stderr is None else stderr]
        socket.send_fds(connection, [json.dumps(request).encode()], outputs)
        message, fds, _, _ = socket.recv_fds(connection, MAX_MESSAGE, 1)
        answer = json.loads(message) if message else {"error": "the warm server closed the connection"}
        if "pid" not in answer or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise OSError(answer.get("error", "nothing started by the warm server"))
    except BaseException:
        connection.close()
        raise
    return ForkedProcess(connection, int(answer["pid"]), fds[0])


def provisioner(kernel_id: str, kernel_spec, parent, *, address: str):
    """A kernel provisioner for one kernel manager: it forks the kernel from the kernel server at
    ``address``, in its sandbox (see the module text), and never starts a kernel any other way:
    a kernel outside the sandbox is not an option."""
    from jupyter_client.provisioning import LocalProvisioner

    class WarmKernelProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd: list[str], **kwargs):
            if not can_start(KERNELS, cmd) or "-f" not in cmd:
                raise RuntimeError(f"the kernel server starts only this interpreter's ipykernel, not {cmd[:3]}")
            env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
            connection = json.loads(Path(cmd[cmd.index("-f") + 1]).read_text())
            self.process = start(address, {"argv": list(cmd), "env": env, "connection": connection})
            # pgid stays None: jupyter_client then signals the kernel through its pidfd
            self.pid, self.pgid = self.process.pid, None
            return self.connection_info

    return WarmKernelProvisioner(kernel_id=kernel_id, kernel_spec=kernel_spec, parent=parent)


if __name__ == "__main__":
    serve()
