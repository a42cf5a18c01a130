"""Per-student limits, enforced by the Linux kernel where the machine allows it.

- Memory and process count: one cgroup per worker (a worker grades one student at a time),
  holding that student's nbgrader process and everything the worker's sandbox runs for the
  student. cgroup v1 (the ``memory`` and ``pids`` controllers) or v2 (``memory.max``,
  ``pids.max``), whichever the machine has and this user may write: as root, or as an
  ordinary user inside a systemd scope with ``Delegate=yes``
  (``systemd-run --user --scope -p Delegate=yes sidebyside grade ...``). An allocation burst
  past the cap is stopped by the kernel's OOM killer, a fork bomb by ``pids.max``.
- Processes, in every mode: ``RLIMIT_NPROC`` in each kernel (set by :mod:`.warm_start`).
- Memory without a writable cgroup: the resident memory is polled every ``poll_seconds``
  (the last fallback, named in the report: a fast allocation can outrun it).
- Time: a wall-clock budget per student, kept by the run itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MB = 2**20


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 1800.0
    memory_mb: float = 6000.0
    processes: int = 1024  # processes and threads of one student, on top of the warm server's
    threads: int = 0  # CPU threads per kernel; 0: the frameworks' default (every core)
    poll_seconds: float = 0.5


def _own_cgroups() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    found = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            found[name] = path
    return found


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(fstype, root, mount point, super options) of every cgroup mount."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        dash = fields.index("-")
        fstype, options = fields[dash + 1], set(fields[dash + 3].split(","))
        if fstype in ("cgroup", "cgroup2"):
            found.append((fstype, fields[3], fields[4], options))
    return found


def _folder(mount_root: str, mount_point: str, path: str) -> Path:
    return Path(mount_point) / os.path.relpath(path, mount_root)


class Cgroup:
    """One worker's cgroup: ``version`` 1 (a folder per controller) or 2 (one folder)."""

    def __init__(self, version: int, memory: Path, pids: Path):
        self.version, self.memory, self.pids = version, memory, pids

    @classmethod
    def create(cls, name: str) -> tuple[Cgroup | None, str]:
        """A new cgroup ``name`` under this process's own; (None, why) when there is none to make."""
        try:
            own, mounts = _own_cgroups(), _mounts()
        except (OSError, ValueError) as error:
            return None, f"cgroups unreadable ({error})"
        v1 = {}
        for controller in ("memory", "pids"):
            for fstype, root, point, options in mounts:
                if fstype == "cgroup" and controller in options and controller in own:
                    v1[controller] = _folder(root, point, own[controller]) / name
        try:
            if len(v1) == 2:
                for folder in v1.values():
                    folder.mkdir()
                return cls(1, v1["memory"], v1["pids"]), ""
            unified = next(((root, point) for fstype, root, point, _ in mounts if fstype == "cgroup2"), None)
            if unified is None or "" not in own:
                return None, "no cgroup v1 memory and pids controllers and no cgroup v2"
            parent = _folder(*unified, own[""])
            if not {"memory", "pids"} <= set((parent / "cgroup.controllers").read_text().split()):
                return None, f"cgroup v2 at {parent} offers no memory and pids controllers"
            if own[""] != "/" and str(os.getpid()) in (parent / "cgroup.procs").read_text().split():
                # v2 lets only leaves hold processes: this process moves to a leaf of its own
                leaf = parent / "sbs-grader"
                leaf.mkdir(exist_ok=True)
                (leaf / "cgroup.procs").write_text(str(os.getpid()))
            enabled = set((parent / "cgroup.subtree_control").read_text().split())
            if not {"memory", "pids"} <= enabled:
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
            (parent / name).mkdir()
            return cls(2, parent / name, parent / name), ""
        except OSError as error:
            for folder in v1.values():
                _rmdir(folder)
            return None, f"no cgroup this user may write ({error.strerror or error})"

    @property
    def procs_files(self) -> list[str]:
        """The files a process writes its pid to, to join this cgroup."""
        return sorted({str(self.memory / "cgroup.procs"), str(self.pids / "cgroup.procs")})

    def set_limits(self, memory_bytes: int, tasks: int) -> None:
        if self.version == 1:
            (self.memory / "memory.limit_in_bytes").write_text(str(int(memory_bytes)))
        else:
            (self.memory / "memory.max").write_text(str(int(memory_bytes)))
            if (self.memory / "memory.swap.max").exists():
                (self.memory / "memory.swap.max").write_text("0")
        (self.pids / "pids.max").write_text(str(int(tasks)))

    def memory_bytes(self) -> int:
        return int((self.memory / ("memory.usage_in_bytes" if self.version == 1 else "memory.current")).read_text())

    def tasks(self) -> int:
        return int((self.pids / "pids.current").read_text())

    def reset_peak(self) -> None:
        with contextlib.suppress(OSError):  # v2 before Linux 6.12: the peak is sampled instead
            (self.memory / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")).write_text("0")

    def peak_bytes(self) -> int | None:
        try:
            return int((self.memory / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")).read_text())
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        return _counter(self.memory / ("memory.oom_control" if self.version == 1 else "memory.events"), "oom_kill")

    def refused_tasks(self) -> int:
        return _counter(self.pids / "pids.events", "max")

    def remove(self) -> None:
        for folder in {self.memory, self.pids}:
            _rmdir(folder)


def _counter(path: Path, name: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    return 0


def _rmdir(folder: Path) -> None:
    """Remove an empty cgroup (its processes must have ended: they are killed first)."""
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            for pid in (folder / "cgroup.procs").read_text().split() if (folder / "cgroup.procs").exists() else []:
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)  # a member of this cgroup this very moment
            time.sleep(0.1)


def describe(cgroup: Cgroup | None, reason: str, limits: Limits) -> str:
    """One line for the report: what enforces each limit."""
    if cgroup is not None:
        return (
            f"memory cap {limits.memory_mb:.0f} MB and {limits.processes} processes/threads per student, enforced by the "
            f"kernel (cgroup v{cgroup.version}: memory and pids); RLIMIT_NPROC in each kernel; wall clock {limits.wall_seconds:.0f} s"
        )
    return (
        f"memory cap {limits.memory_mb:.0f} MB by POLLING every {limits.poll_seconds:g} s (the last fallback: {reason}; a fast "
        f"allocation can outrun it); {limits.processes} processes/threads per kernel by RLIMIT_NPROC; wall clock {limits.wall_seconds:.0f} s"
    )
