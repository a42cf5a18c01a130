"""The course's one process toolkit: ports, a process started in its own session with its
output in a log, waiting with a deadline, stopping a process tree.

The lessons' servers (:mod:`sidebyside.servers`, :mod:`sidebyside.serving`), the parallel
launchers (:mod:`sidebyside.parallel`), the class hub and the tests use it. Grading keeps its
own pidfd-based control (:mod:`sidebyside.instructor.grading.student`), where it faces hostile
code that may reuse a pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

#: Every server and worker of the course listens on loopback only.
HOST = "127.0.0.1"


# --- Ports ----------------------------------------------------------------------------------------


def port_is_free(port: int, host: str = HOST) -> bool:
    """True if a server could listen on ``host:port`` now (tested the way Tornado binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int = 1, host: str = HOST) -> list[int]:
    """``count`` distinct ports nobody listens on right now (the OS picks them)."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probes.append(probe)
            probe.bind((host, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    return free_ports(1, host)[0]


def port_holder(port: int, host: str = HOST) -> str:
    """Who holds ``host:port``: an empty string when it is free, else the process when this
    user may see it ("process 123 (command line, user u)")."""
    if port_is_free(port, host):
        return ""
    try:
        import psutil

        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                process = psutil.Process(conn.pid)
                return f"process {conn.pid} ({' '.join(process.cmdline())[:120] or process.name()}, user {process.username()})"
    except Exception:  # noqa: BLE001 - psutil may not see other users' processes
        pass
    return "another process (psutil cannot tell which)"


def listening(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """True if something accepts connections on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        return probe.connect_ex((host, port)) == 0


# --- Starting and waiting ---------------------------------------------------------------------------


def start_logged(command: list[str], log_path: Path, *, env: dict | None = None, cwd=None, append: bool = False) -> subprocess.Popen:
    """Start ``command`` in a session (and process group) of its own, its stdout and stderr
    in ``log_path``, nothing on its stdin: :func:`stop_group` ends it with everything it started."""
    with open(log_path, "ab" if append else "wb") as log:
        return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def log_tail(log_path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log ("" when there is none)."""
    try:
        return "\n".join(Path(log_path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(ready: Callable[[], bool], timeout: float, *, alive: Callable[[], bool] | None = None, interval: float = 0.1) -> bool:
    """Poll ``ready()`` until it is true (True), the deadline passes or ``alive()`` turns false
    (False). An exception from ``ready()`` counts as not ready yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return True
        except Exception:  # noqa: BLE001 - not up yet: refused, reset, 503...
            pass
        if (alive is not None and not alive()) or time.monotonic() > deadline:
            return False
        time.sleep(interval)


# --- Stopping -----------------------------------------------------------------------------------------


def group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` is still running (zombies, waiting to be reaped,
    do not count where ``/proc`` tells them apart)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc/self"):
        return True
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ")"
                fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def stop_group(process: subprocess.Popen, grace: float = 5.0) -> None:
    """End a process started by :func:`start_logged` and everything in its process group:
    SIGTERM, up to ``grace`` seconds for the whole group (not just its leader: TorchServe's Java
    front end outlives its launcher), then SIGKILL. Safe to call twice."""
    if process.poll() is not None and not group_alive(process.pid):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()
            if process.returncode is not None and not group_alive(process.pid):
                return
            time.sleep(0.05)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass


def stop_tree(processes: Iterable, grace: float = 5.0) -> list[int]:
    """SIGTERM each process (``psutil.Process`` objects or pids), wait up to ``grace`` seconds,
    then SIGKILL those left. Returns the pids signalled."""
    import psutil

    procs = []
    for process in processes:
        try:
            procs.append(process if isinstance(process, psutil.Process) else psutil.Process(int(process)))
        except psutil.Error:
            pass
    signalled = []
    for proc in procs:
        try:
            proc.terminate()
            signalled.append(proc.pid)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)
    return signalled
