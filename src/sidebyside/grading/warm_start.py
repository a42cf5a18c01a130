"""Warm start: nbgrader processes and student kernels forked from servers that have already
imported what they need.

Every student's grading used to start two Python processes from scratch: ``nbgrader
autograde`` (about 2.3 CPU-seconds to import nbgrader and Jupyter's server stack) and the
kernel, whose first cells import PyTorch and TensorFlow (about 5 CPU-seconds). Together that
was more than half of what grading one submission cost. A grading run therefore starts two
*warm servers* (``python -m sidebyside.grading.warm_start ROLE SOCKET``), each waiting on a Unix
socket in a private folder after its imports:

- ``kernels`` takes the grading environment and imports NumPy, PyTorch, TensorFlow (which
  brings Keras, scikit-learn and matplotlib) and ipykernel. nbgrader's kernel manager
  (:class:`WarmKernelProvisioner`, used by :class:`sidebyside.grading.execute.GuardedExecute`)
  sends it the kernel command, environment, working folder and jail settings; the server forks;
  the child enters the jail (:func:`sidebyside.grading.jail.confine`), takes that environment
  and runs ``ipykernel_launcher`` in its own process.
- ``nbgrader`` imports nbgrader and the grading guard; the sandbox (:mod:`.sandbox`) asks it
  for each student's ``nbgrader autograde`` run, and the child runs nbgrader's command line.

A fork shares nothing writable with its server or with another student's processes, and the
grading guard is installed in a forked kernel exactly as in a cold one. So that the child
behaves like ``python -m MODULE ARGS``:

- the kernel server imports the frameworks under the variables a kernel would have set first
  (``MPLBACKEND`` as ipykernel sets it, the course's ``prepare_environment`` under grading), and
  its children get those variables on top of the requested environment;
- the child has its own session (process group), the caller's stdout and stderr (passed over
  the socket) and ``/dev/null`` as stdin; ``sys.path[0]`` is its working folder and
  ``sys.argv`` its command's; NumPy's global random state is reseeded from the OS (Python's
  ``random`` reseeds itself after a fork);
- it dies with its server (``PR_SET_PDEATHSIG``), and the server kills it when the process that
  asked for it goes away; out of memory, a kernel is killed before the server
  (``oom_score_adj``).

When a server is missing, or a command is not the one its role starts, the process is started
the ordinary way (a kernel in the same jail, entered by ``exec``); ``sidebyside grade
--cold-start`` starts everything that way.

Protocol: ``SOCK_SEQPACKET``, one JSON object per packet. Request ``{"argv", "env", "cwd",
"jail"}`` with the caller's stdout and stderr attached (``SCM_RIGHTS``); reply ``{"pid"}`` with
a pidfd of the child attached, or ``{"error"}``; when the child ends, ``{"exit": status}``.
"""

from __future__ import annotations

import ctypes
import json
import os
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
#: What each server imports once: for kernels, what every assignment's notebook imports.
PRELOAD = {
    KERNELS: ("numpy", "torch", "tensorflow", "keras", "ipykernel.ipkernel"),
    NBGRADER: ("nbgrader.apps", "sidebyside.grading.execute", "nbconvert.exporters"),
}
#: The module each server runs, as this interpreter's ``-m MODULE``.
MODULE = {KERNELS: "ipykernel_launcher", NBGRADER: "nbgrader"}
MAX_MESSAGE = 1 << 20
READY = "ready"
PR_SET_PDEATHSIG = 1


def can_start(role: str, argv: list[str]) -> bool:
    """Whether the ``role`` server can fork ``argv``: this interpreter, ``-m MODULE[role]``."""
    if len(argv) < 3 or argv[1:3] != ["-m", MODULE[role]]:
        return False
    try:
        return os.path.samefile(argv[0], sys.executable)
    except OSError:
        return False


# --- the server ---------------------------------------------------------------------------------


def import_time_environment() -> dict[str, str]:
    """The variables a cold kernel would have set before the frameworks were imported."""
    from ..frameworks import prepare_environment

    os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
    # ipykernel sets this before any user code runs; matplotlib reads it when imported
    # (TensorFlow imports matplotlib), so it must be set before the frameworks are.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    before = dict(os.environ)
    prepare_environment()
    changed = {k: v for k, v in os.environ.items() if before.get(k) != v}
    return {"MPLBACKEND": os.environ["MPLBACKEND"], **changed}


def _pdeathsig(sig: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


class Server:
    """A warm server's loop: accept requests, fork children, report their ends."""

    def __init__(self, role: str, address: str):
        self.role, self.address = role, address
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(address)
        self.listener.listen(64)
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.children: dict[int, tuple[socket.socket, int]] = {}  # pid -> (connection, pidfd)

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                kind, data = key.data
                if kind == "accept":
                    self._accept()
                elif kind == "ended":
                    self._reap(data)
                elif kind == "caller":
                    self._caller_event(data)

    def _accept(self) -> None:
        connection, _ = self.listener.accept()
        try:
            connection.settimeout(10)  # a caller that connects and says nothing must not stall the rest
            message, fds, _, _ = socket.recv_fds(connection, MAX_MESSAGE, 2)
            connection.settimeout(None)
            request = json.loads(message)
            pid = self._fork(request, fds, connection)
        except Exception as error:  # noqa: BLE001 - a bad request must not stop the server
            try:
                connection.send(json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
            except OSError:
                pass
            connection.close()
            return
        finally:
            for fd in locals().get("fds", []):
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
        argv = request["argv"]
        if not can_start(self.role, argv):
            raise ValueError(f"not a command the {self.role} server can start: {argv[:3]}")
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
                code = run_child(self.role, argv, request["env"], request["cwd"], request.get("jail"), fds)
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
        try:
            # what the child left in its process group goes with it; the group's id is safe to
            # use until the child is reaped (after that the pid may name another process)
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _, status = os.waitpid(pid, 0)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        try:
            self.selector.unregister(connection)
        except (KeyError, ValueError):
            pass  # already gone (see _caller_event)
        try:
            connection.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
        except OSError:
            pass
        connection.close()

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
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def run_child(role: str, argv: list[str], env: dict[str, str], cwd: str, jail: dict | None, fds: list[int]) -> int:
    """In the forked child: become ``argv`` (a kernel, in its jail, or nbgrader). Returns its
    exit status."""
    import runpy

    os.setsid()
    if role == KERNELS and KERNEL_OOM_SCORE_ADJ is not None:
        _oom_score_adj(KERNEL_OOM_SCORE_ADJ)  # raising it needs no privilege
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in (null, *fds):
        os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update({**env, **IMPORT_TIME_ENVIRONMENT})
    argv = list(argv)
    if jail and role == KERNELS:
        from . import jail as jails

        argv, new_env = jails.confine(jail, argv)
        os.environ.clear()
        os.environ.update(new_env)
        if jail.get("mode") == "userns":
            jails.drop_capabilities()
    _pdeathsig(signal.SIGKILL)  # after any change of user id, which clears it
    if os.getppid() == 1:
        return 1
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # a fresh process would have fresh entropy
    sys.path[0] = os.getcwd()  # what `python -m` puts first
    sys.argv = [MODULE[role], *argv[3:]]
    runpy.run_module(MODULE[role], run_name="__main__", alter_sys=True)
    return 0


IMPORT_TIME_ENVIRONMENT: dict[str, str] = {}
KERNEL_OOM_SCORE_ADJ: str | None = None  # higher than the server's


def _oom_score_adj(value: str | None = None) -> str | None:
    """Read, or set, this process's ``oom_score_adj`` (None where it cannot be)."""
    path = Path("/proc/self/oom_score_adj")
    try:
        if value is not None:
            path.write_text(value)
        return path.read_text().strip()
    except OSError:
        return None


def serve(role: str, address: str) -> None:
    """A server's entry point: import, say ready on stdout, serve until killed."""
    global IMPORT_TIME_ENVIRONMENT, KERNEL_OOM_SCORE_ADJ
    _pdeathsig(signal.SIGKILL)
    # Out of memory, a kernel should go, not the server all kernels come from: kernels raise
    # their score (lowering the server's would need CAP_SYS_RESOURCE, which containers lack).
    current = _oom_score_adj()
    KERNEL_OOM_SCORE_ADJ = str(min(1000, int(current) + 500)) if current is not None else None
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the grading run
    if role == KERNELS:
        IMPORT_TIME_ENVIRONMENT = import_time_environment()
    start = time.monotonic()
    for module in PRELOAD[role]:
        __import__(module)
    server = Server(role, address)
    print(json.dumps({"status": READY, "seconds": round(time.monotonic() - start, 2), "pid": os.getpid()}), flush=True)
    server.serve()


# --- the grading run's side -------------------------------------------------------------------


class WarmServer:
    """Start and stop one warm server of a grading run (``with WarmServer(role, env, log) as s``)."""

    def __init__(self, role: str, env: dict[str, str], log: Path, start_timeout: float = 300.0):
        self.role = role
        self.env = {k: v for k, v in env.items() if not k.startswith(("SIDEBYSIDE_", "SUDO_"))}
        self.log, self.start_timeout = log, start_timeout
        self.folder = Path(tempfile.mkdtemp(prefix="sbs-warm-"))  # 0700, under /tmp: hidden in the jail
        self.address = str(self.folder / "socket")
        self.process: subprocess.Popen | None = None
        self.error: str | None = None
        self.import_seconds: float | None = None

    def start(self) -> "WarmServer":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log, "ab")
        # Its own home and working folder: Keras and matplotlib write their settings and caches
        # there when imported, and `python -m` puts the working folder on sys.path.
        home = self.folder / "home"
        home.mkdir()
        env = {**self.env, "HOME": str(home), "MPLCONFIGDIR": str(home / "mpl")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sidebyside.grading.warm_start", self.role, self.address],
            env=env, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
        )
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
        line = self.process.stdout.readline()
        try:
            answer = json.loads(line)
        except ValueError:
            answer = {}
        if answer.get("status") != READY:
            self.error = f"the warm {self.role} server failed to start (see {self.log})"
            self.stop()
            return False
        self.import_seconds = answer.get("seconds")
        return True

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:  # once reaped, its pid may name another process
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except OSError:
                    pass
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
    kernel, the sandbox for nbgrader)."""

    stdin = stdout = stderr = None

    def __init__(self, connection: socket.socket, pid: int, pidfd: int):
        self.connection, self.pid, self.pidfd = connection, pid, pidfd
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
        self._close()

    def _close(self) -> None:
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
            try:
                signal.pidfd_send_signal(self.pidfd, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def start(address: str, argv: list[str], env: dict[str, str], cwd: str, jail: dict | None = None, *, stdout: int | None = None, stderr: int | None = None) -> ForkedProcess:
    """Ask the warm server at ``address`` to fork ``argv``; raises OSError when it cannot.
    ``stdout`` and ``stderr`` (file descriptors) default to this process's."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.settimeout(60)
        connection.connect(address)
        payload = json.dumps({"argv": argv, "env": env, "cwd": cwd, "jail": jail}).encode()
        outputs = [sys.stdout.fileno() if stdout is None else stdout, sys.stderr.fileno() if stderr is None else stderr]
        socket.send_fds(connection, [payload], outputs)
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


def _provisioner_class():
    from jupyter_client.provisioning import LocalProvisioner

    class WarmKernelProvisioner(LocalProvisioner):
        """Starts the kernel as a fork of the warm server when it can (see the module text)."""

        #: file the kernel's pid is appended to, for the sandbox's memory and time limits
        pid_file: str | None = None
        address: str | None = None
        jail: dict | None = None

        async def launch_kernel(self, cmd: list[str], **kwargs):
            kernel = list(cmd)
            jail = None
            if kernel[1:3] == ["-m", "sidebyside.grading.jail"] and "--" in kernel:
                jail, kernel = json.loads(kernel[3]), kernel[kernel.index("--") + 1 :]
            if self.address and can_start(KERNELS, kernel):
                env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
                if not kwargs.get("independent"):
                    env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher sets it
                cwd = str(kwargs.get("cwd") or os.getcwd())
                try:
                    self.process = start(self.address, kernel, env, cwd, jail)
                except OSError as error:
                    self.log.warning("warm kernel unavailable (%s): starting a cold one", error)
                else:
                    self.pid = self.pgid = self.process.pid
                    self.cwd = cwd
                    self._record_pid()
                    return self.connection_info
            connection_info = await super().launch_kernel(cmd, **kwargs)
            self._record_pid()
            return connection_info

        def _record_pid(self):
            """Append the kernel's pid and start time to ``pid_file`` (read back by
            :func:`read_kernel_pids`): the start time tells whether that pid still names this
            kernel (pids are reused)."""
            import psutil

            if not self.pid_file:
                return
            try:
                started = psutil.Process(self.pid).create_time()
            except psutil.Error:
                return  # gone already: nothing left to limit
            if self.process.poll() is not None:
                return  # ended meanwhile: that start time may be another process's
            with open(self.pid_file, "a") as out:
                out.write(f"{self.pid} {started!r}\n")

    return WarmKernelProvisioner


def read_kernel_pids(pid_file: Path | str | None) -> list[tuple[int, float]]:
    """(pid, start time) of each kernel the provisioner listed in ``pid_file``: the sandbox's
    memory cap and time budget reach the kernels through it (a reused pid is told apart by
    its start time)."""
    if pid_file is None or not Path(pid_file).is_file():
        return []
    found = []
    for line in Path(pid_file).read_text().splitlines():
        try:
            pid, start = line.split()
            found.append((int(pid), float(start)))
        except ValueError:
            continue
    return found


def provisioner(kernel_id: str, kernel_spec, parent, *, address: str | None, pid_file: str | None):
    """A :class:`WarmKernelProvisioner` for one kernel manager."""
    instance = _provisioner_class()(kernel_id=kernel_id, kernel_spec=kernel_spec, parent=parent)
    instance.address, instance.pid_file = address, pid_file
    return instance


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
