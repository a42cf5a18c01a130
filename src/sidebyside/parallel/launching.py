"""Launching worker processes on one machine and reporting every rank (lesson 05).

:func:`torchrun` (PyTorch's own launcher) and :func:`tf_workers` (one process per TensorFlow
worker with its ``TF_CONFIG``), bounded in time, leaving no process behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .. import _processes


#: Every process a launcher here starts carries this variable; its value is
#: ``"<pid of the launching process>:<run id>"``.
MARKER = "SIDEBYSIDE_PARALLEL_RUN"
#: Worker lines that carry results back to the notebook start with this.
RESULT_PREFIX = "SIDEBYSIDE_RESULT "
#: How long the other workers may take to stop by themselves after one has failed.
FAILURE_GRACE_S = 3.0
#: Between a polite SIGTERM and SIGKILL.
TERM_GRACE_S = 2.0


# --- Results of a launch ---------------------------------------------------------------------


@dataclass
class RankResult:
    """What one worker did: its exit code (``None``: it was still running when stopped),
    what it printed, and its error in one line (``""`` when it succeeded)."""

    rank: int
    exitcode: int | None
    stdout: str
    stderr: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.exitcode == 0


@dataclass
class RunResult:
    """One launch of worker processes: each rank's result, and how the launch ended."""

    command: list[str]
    ranks: list[RankResult]
    seconds: float
    timeout: float
    timed_out: bool = False
    root_cause: int | None = None  # the rank that failed first
    launcher_output: str = ""
    stopped: list[int] = field(default_factory=list)  # pids the launcher had to stop
    folder: str = ""  # where the workers ran (their working folder)
    tf_configs: list[dict] = field(default_factory=list)  # tf_workers: each worker's TF_CONFIG

    @property
    def ok(self) -> bool:
        return not self.timed_out and bool(self.ranks) and all(r.ok for r in self.ranks)

    @property
    def command_line(self) -> str:
        return " ".join(_quote(part) for part in self.command)

    def summary(self) -> str:
        """One line per rank: exit code and error; the first failure is marked."""
        if self.ok:
            head = f"all {len(self.ranks)} ranks finished in {self.seconds:.1f} s"
        elif self.timed_out:
            head = f"stopped after the time limit of {self.timeout:g} s ({self.seconds:.1f} s)"
        else:
            head = f"failed after {self.seconds:.1f} s"
        lines = [head]
        for r in self.ranks:
            state = "still running (stopped)" if r.exitcode is None else f"exit code {r.exitcode}"
            mark = "  <- first failure" if r.rank == self.root_cause and not r.ok else ""
            lines.append(f"  rank {r.rank}: {state}" + (f": {r.error}" if r.error else "") + mark)
        if not self.ranks and self.launcher_output:
            lines.append("  the launcher said: " + _last_error(self.launcher_output))
        return "\n".join(lines)

    def check(self) -> RunResult:
        """Return self if every rank succeeded, else raise :class:`WorkerFailed`."""
        if not self.ok:
            raise WorkerFailed(self)
        return self

    def results(self, rank: int | None = None) -> list:
        """The JSON values the workers printed after :data:`RESULT_PREFIX` (all ranks, or one)."""
        found = []
        for r in self.ranks:
            if rank is None or r.rank == rank:
                for line in r.stdout.splitlines():
                    if line.startswith(RESULT_PREFIX):
                        found.append(json.loads(line[len(RESULT_PREFIX) :]))
        return found

    def __str__(self) -> str:
        return self.summary()


class WorkerFailed(RuntimeError):
    """A launch in which a rank failed, or that hit its time limit."""

    def __init__(self, result: RunResult):
        self.result = result
        super().__init__(result.summary())


def _quote(part: str) -> str:
    return part if re.fullmatch(r"[\w@%+=:,./-]+", part) else repr(part)


_PREFIX = re.compile(r"^(?:\[default\d+\]:)?(?:\[rank\d+\]:\s?)?")


def _strip_prefixes(text: str) -> str:
    """``text`` without the ``[default0]:`` and ``[rank0]:`` prefixes torch adds to worker lines."""
    return "".join(_PREFIX.sub("", line) for line in text.splitlines(keepends=True))


def _last_error(text: str) -> str:
    """The exception line that ends the last traceback in ``text`` (or its last line)."""
    lines = [line.rstrip() for line in _strip_prefixes(text).splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if starts:
        after = [line for line in lines[starts[-1] + 1 :] if not line.startswith((" ", "\t"))]
        if after:
            return after[-1][:500]
    return lines[-1][:500] if lines else ""


# --- Processes: start, watch, stop, clean up --------------------------------------------------


def free_ports(count: int = 1) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 now."""
    return _processes.free_ports(count)


def _new_run_id() -> str:
    return f"{os.getpid()}:{uuid.uuid4().hex}"


class NoLoopback(RuntimeError):
    """This process cannot reach 127.0.0.1: worker processes could not talk to each other."""


def check_loopback() -> None:
    """Raise :class:`NoLoopback` at once if a TCP connection to 127.0.0.1 fails (a network
    namespace whose ``lo`` interface is down, as in some sandboxes): every launcher here needs
    it, and without it torchrun would only retry until its time limit."""
    server = socket.socket()
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    except OSError as error:
        raise NoLoopback(
            f"expected to reach 127.0.0.1 (the loopback network, which the workers use to talk to each other); "
            f"got {error}. In a network namespace, the 'lo' interface must be up."
        ) from error
    finally:
        server.close()


def _marked(run_id: str | None = None, *, everyone: bool = False) -> list:
    """psutil processes that carry :data:`MARKER`: of the run ``run_id`` if given, else of every
    run launched from this process (of every launching process with ``everyone``)."""
    import psutil

    mine = f"{os.getpid()}:"
    found = []
    for proc in psutil.process_iter():
        try:
            value = proc.environ().get(MARKER)
        except (psutil.Error, OSError):
            continue
        if value is None or proc.pid == os.getpid():
            continue
        if (run_id is not None and value == run_id) or (run_id is None and (everyone or value.startswith(mine))):
            found.append(proc)
    return found


def leftover_processes(*, everyone: bool = False) -> list[int]:
    """Pids of worker processes that a launcher of this module started from this process (from
    any process with ``everyone``) and that are still running."""
    import psutil

    alive = []
    for proc in _marked(everyone=everyone):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except psutil.Error:
            continue
    return alive


def _stop(procs: list, grace: float = TERM_GRACE_S) -> list[int]:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Returns the pids signalled."""
    return _processes.stop_tree(procs, grace)


def _cleanup(run_id: str, popens: list[subprocess.Popen]) -> list[int]:
    """Stop every process of the run that is still alive and reap the direct children."""
    import psutil

    procs = []
    for popen in popens:
        if popen.poll() is None:
            try:
                procs.append(psutil.Process(popen.pid))
            except psutil.Error:
                pass
    known = {p.pid for p in procs}
    procs += [p for p in _marked(run_id) if p.pid not in known]
    killed = _stop(procs) if procs else []
    for popen in popens:
        try:
            popen.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
    return killed


def _worker_env(run_id: str, env: dict | None) -> dict:
    base = dict(os.environ)
    base.update(env or {})
    base[MARKER] = run_id
    base.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker (torchrun's default too)
    base.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    base.setdefault("PYTHONUNBUFFERED", "1")
    # Workers import the course package too (its scaling workers, the rank-folder wrapper).
    package_root = str(Path(__file__).resolve().parents[1])
    base["PYTHONPATH"] = package_root + (os.pathsep + base["PYTHONPATH"] if base.get("PYTHONPATH") else "")
    return base


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _run_folder(cwd) -> Path:
    """The workers' working folder: ``cwd`` (made if needed), else a new temporary folder."""
    if cwd is not None:
        folder = Path(cwd)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return Path(tempfile.mkdtemp(prefix="sidebyside-run-"))


# --- torchrun -----------------------------------------------------------------------------------


def torchrun_command(script, nproc: int, args=(), *, log_dir=None, rank_folders=None, module: bool = False) -> list[str]:
    """The command :func:`torchrun` runs: ``python -m torch.distributed.run`` (what the
    ``torchrun`` command does) on one machine, with each rank's output in ``log_dir``.
    ``module``: ``script`` is a module name, run as ``python -m script``."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    if log_dir is not None:
        command += ["--log-dir", str(log_dir), "--redirects", "3"]
    if rank_folders is not None:
        if module:
            raise ValueError("rank_folders runs a script file, not a module")
        command += ["-m", "sidebyside.parallel", "in-rank-folder", str(rank_folders), str(script)]
    elif module:
        command += ["-m", str(script)]
    else:
        command.append(str(script))
    return command + [str(a) for a in args]


def torchrun(script, nproc: int = 2, args=(), *, timeout: float = 120.0, cwd=None, env: dict | None = None,
             rank_folders: bool = False, module: bool = False) -> RunResult:
    """Run ``script`` on ``nproc`` worker processes with torchrun, for at most ``timeout`` s.

    Each worker gets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
    ``MASTER_PORT`` from torchrun (a free port on this machine: ``--standalone``), and one CPU
    thread (``OMP_NUM_THREADS=1``, as torchrun sets it). ``cwd``: the workers' working folder
    (default: a new temporary one). ``rank_folders``: run rank ``r`` in ``cwd/rank{r}`` instead,
    so that the files each rank writes show which rank wrote them. ``module``: ``script`` is
    a module name (``torchrun -m``).

    Returns a :class:`RunResult`: each rank's exit code, output and error; the first rank that
    failed; whether the time limit stopped the run. Every process it started is gone when it
    returns (also when the notebook interrupts it).
    """
    check_loopback()
    run_id = _new_run_id()
    folder = _run_folder(cwd)
    log_dir = Path(tempfile.mkdtemp(prefix="torchrun-logs-"))
    wrapper = None
    if rank_folders:
        wrapper = folder
        for rank in range(nproc):
            (folder / f"rank{rank}").mkdir(exist_ok=True)
    if not module:
        script = Path(script)
        script = script if script.is_absolute() else (Path.cwd() / script)
    command = torchrun_command(script, nproc, args, log_dir=log_dir, rank_folders=wrapper, module=module)
    start = time.monotonic()
    launcher_log = log_dir / "torchrun.log"
    timed_out = False
    with open(launcher_log, "w") as out:
        process = subprocess.Popen(command, cwd=folder, env=_worker_env(run_id, env), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Interrupted or out of time: torchrun forwards SIGTERM to its workers; whatever is
            # left (each worker runs in a session of its own) is found by its marker.
            killed = _cleanup(run_id, [process])
    seconds = time.monotonic() - start
    launcher_output = _read(launcher_log)
    ranks = _torchrun_ranks(log_dir, nproc, launcher_output, timed_out, process.returncode)
    root = _torchrun_root_cause(launcher_output)
    if root is None:
        failed = [r.rank for r in ranks if r.exitcode not in (0, None) and r.exitcode > 0]
        root = failed[0] if failed else None
    shutil.rmtree(log_dir, ignore_errors=True)
    return RunResult(command, ranks, seconds, timeout, timed_out, root, launcher_output, killed, str(folder))


_FAILURE_BLOCK = re.compile(r"rank\s*:\s*(\d+) \(local_rank: \d+\)\s*\n\s*exitcode\s*:\s*(-?\d+)")


def _torchrun_exitcodes(launcher_output: str) -> dict[int, int]:
    return {int(rank): int(code) for rank, code in _FAILURE_BLOCK.findall(launcher_output)}


def _torchrun_root_cause(launcher_output: str) -> int | None:
    part = launcher_output.split("Root Cause (first observed failure):", 1)
    if len(part) < 2:
        return None
    found = _FAILURE_BLOCK.search(part[1])
    return int(found.group(1)) if found else None


def _torchrun_ranks(log_dir: Path, nproc: int, launcher_output: str, timed_out: bool, returncode) -> list[RankResult]:
    codes = _torchrun_exitcodes(launcher_output)
    ranks = []
    for rank in range(nproc):
        attempts = sorted(log_dir.glob(f"*/attempt_*/{rank}"))
        stdout = _read(attempts[-1] / "stdout.log") if attempts else ""
        stderr = _read(attempts[-1] / "stderr.log") if attempts else ""
        if timed_out:
            code = None
            error = _last_error(stderr) if "Traceback" in stderr else "still running at the time limit: stopped"
        elif rank in codes:
            code = codes[rank]
            if code < 0:
                name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
                error = f"stopped by torchrun ({name}) after another rank failed"
                if "Traceback" in stderr:
                    error = _last_error(stderr) + f" (then stopped by torchrun, {name})"
            else:
                error = _last_error(stderr) or f"exit code {code}"
        elif returncode == 0 or not attempts:
            code = 0 if returncode == 0 else None
            error = "" if returncode == 0 else "never started: " + _last_error(launcher_output)
        else:
            code = 0  # torchrun lists every failed rank: this one succeeded
            error = ""
        ranks.append(RankResult(rank, code, _strip_prefixes(stdout), _strip_prefixes(stderr), error))
    return ranks


# --- TensorFlow workers with TF_CONFIG ---------------------------------------------------------


def tf_config(ports: list[int], index: int) -> dict:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of workers on 127.0.0.1:``ports``."""
    return {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]}, "task": {"type": "worker", "index": index}}


def tf_workers(script, num_workers: int = 2, args=(), *, timeout: float = 120.0, cwd=None, env: dict | None = None,
               grace: float = FAILURE_GRACE_S, module: bool = False, env_for=None) -> RunResult:
    """Start ``num_workers`` processes ``python script args``, worker ``i`` with the
    ``TF_CONFIG`` of task ``i`` in a cluster on loopback, and wait at most ``timeout`` s.

    TensorFlow has no launcher of its own: each worker is an ordinary process that reads
    ``TF_CONFIG`` when it creates ``tf.distribute.MultiWorkerMirroredStrategy()``. When a
    worker fails, the others get ``grace`` seconds to stop by themselves (they usually wait
    for it in a collective operation), then they are stopped. Returns a :class:`RunResult`
    (the rank of a worker is its task index); no process is left behind. ``module``:
    ``script`` is a module name, run as ``python -m script``. ``env_for``: a function of the
    worker's index that returns variables for that worker only (for example
    :func:`tf_worker_env`, its GPU or none).
    """
    check_loopback()
    ports = free_ports(num_workers)
    configs = [tf_config(ports, index) for index in range(num_workers)]

    def worker_env(index: int) -> dict:
        variables = dict(env_for(index)) if env_for is not None else {}
        variables["TF_CONFIG"] = json.dumps(configs[index])
        return variables

    result = _run_workers(_python_command(script, args, module), num_workers, worker_env, timeout=timeout, cwd=cwd, env=env, grace=grace)
    result.tf_configs = configs
    return result


def _python_command(script, args, module: bool) -> list[str]:
    """``python -m script args`` (a module) or ``python /absolute/script args``."""
    if module:
        return [sys.executable, "-m", str(script), *[str(a) for a in args]]
    script = Path(script)
    return [sys.executable, str(script if script.is_absolute() else Path.cwd() / script), *[str(a) for a in args]]


def _run_workers(command: list[str], count: int, env_for, *, timeout: float, cwd, env: dict | None, grace: float) -> RunResult:
    """Start ``count`` processes of ``command``, process ``i`` with ``env_for(i)`` added to its
    environment; wait until all have exited, or one failed ``grace`` seconds ago, or ``timeout``
    seconds have passed; stop what is left (:func:`tf_workers`)."""
    run_id = _new_run_id()
    folder = _run_folder(cwd)
    logs = Path(tempfile.mkdtemp(prefix="workers-logs-"))
    popens, files = [], []
    start = time.monotonic()
    timed_out, root, failed_at = False, None, None
    try:
        for index in range(count):
            worker_env = _worker_env(run_id, env)
            worker_env.update(env_for(index))
            out = open(logs / f"{index}.out", "w")
            err = open(logs / f"{index}.err", "w")
            files += [out, err]
            popens.append(subprocess.Popen(command, cwd=folder, env=worker_env, stdout=out, stderr=err,
                                           stdin=subprocess.DEVNULL, start_new_session=True))
        while True:
            codes = [p.poll() for p in popens]
            if root is None:
                for index, code in enumerate(codes):
                    if code not in (None, 0):
                        root, failed_at = index, time.monotonic()
                        break
            if all(code is not None for code in codes):
                break
            now = time.monotonic()
            if now - start > timeout:
                timed_out = True
                break
            if failed_at is not None and now - failed_at > grace:
                break
            time.sleep(0.05)
    finally:
        stopped = {i for i, p in enumerate(popens) if p.poll() is None}
        killed = _cleanup(run_id, popens)
        for f in files:
            f.close()
    seconds = time.monotonic() - start
    ranks = []
    for index, popen in enumerate(popens):
        stdout, stderr = _read(logs / f"{index}.out"), _read(logs / f"{index}.err")
        if index in stopped:
            code = None
            why = "still running at the time limit: stopped" if timed_out else f"stopped by the launcher after rank {root} failed"
            error = (_last_error(stderr) + f" ({why})") if "Traceback" in stderr else why
        else:
            code = popen.returncode
            error = "" if code == 0 else (_last_error(stderr) or f"exit code {code}")
        ranks.append(RankResult(index, code, stdout, stderr, error))
    shutil.rmtree(logs, ignore_errors=True)
    return RunResult(command, ranks, seconds, timeout, timed_out, root, "", killed, str(folder))
