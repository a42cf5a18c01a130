"""Parallel and distributed training from a notebook (lesson 05).

Launching worker processes
    :func:`torchrun` runs a script with PyTorch's own launcher (``python -m
    torch.distributed.run``, the ``torchrun`` command) and :func:`tf_workers` starts one
    process per TensorFlow worker with its ``TF_CONFIG``, all on loopback. Both wait a bounded
    time, report every rank's exit code, output and error (a crash names its rank; a hang is
    stopped at the time limit and says which ranks were still running) and leave no process
    behind: every process they start carries a marker in its environment, and whatever still
    carries it when the call returns is killed (:func:`leftover_processes` lists them). Where
    127.0.0.1 cannot be reached (a network namespace whose ``lo`` is down, as in some
    sandboxes) they raise :class:`NoLoopback` at once instead of waiting for the time limit.

What the lesson proves and measures, as plain functions
    :func:`torch_replica_gradients` / :func:`tf_replica_gradients` split a batch across
    replicas and average their gradients; :func:`simulate_ddp_torch` /
    :func:`simulate_mirrored_tf` replay synchronous data-parallel training in one process (the
    expected weights of a real run); :func:`scaling_metrics` turns step times into speed-up,
    throughput and efficiency; :func:`measure_scaling` times real multi-process runs of both
    frameworks (this module run as ``python -m sidebyside.parallel torch-scaling`` /
    ``tf-scaling`` is the worker), :func:`scaling_table` and :func:`plot_scaling` show them.

Lesson 05 shows each of these in framework code first. Importing this module is cheap: torch
and TensorFlow are imported inside the functions that need them (and only in the workers).
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
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


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
    import psutil

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


# --- Which device each worker uses -------------------------------------------------------------


@dataclass(frozen=True)
class WorkerDevice:
    """Where one worker process of a launch runs: ``device`` (``"cuda:K"`` or ``"cpu"``), the
    ``torch.distributed`` backend that goes with it (``"nccl"`` between GPUs, ``"gloo"`` on
    CPUs), ``gpu`` (the GPU's index, ``None`` on the CPU) and ``why``, one line that says why."""

    device: str
    backend: str
    gpu: int | None
    why: str

    @property
    def cuda_visible_devices(self) -> str:
        """What ``CUDA_VISIBLE_DEVICES`` gives this worker only its own GPU (``"-1"``: none), for
        a framework that otherwise takes every GPU it sees (TensorFlow)."""
        return "-1" if self.gpu is None else str(self.gpu)


def torch_gpu_count() -> int:
    """How many CUDA GPUs torch can use here: 0 with a CPU-only build, and 0 with a CUDA build
    on a machine without a (visible, working) GPU."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _cuda_build() -> str | None:
    try:
        import torch

        return torch.version.cuda
    except ImportError:
        return None


def worker_device(local_rank: int | None = None, local_world_size: int | None = None, *,
                  gpu_count: int | None = None) -> WorkerDevice:
    """The device of worker ``local_rank`` out of ``local_world_size`` worker processes on this
    machine: GPU ``local_rank`` when the machine has at least one GPU per process, else the CPU
    for every process (two processes on one GPU is what NCCL refuses, and a rank asking for
    ``cuda:1`` on a one-GPU machine fails).

    Defaults: ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` (else ``WORLD_SIZE``) from the
    environment torchrun gives each worker, and :func:`torch_gpu_count`. The lesson's
    ``ddp_train.py`` and :func:`measure_scaling`'s workers both choose with this function."""
    if local_rank is None:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if local_world_size is None:
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    if gpu_count is None:
        gpu_count = torch_gpu_count()
    if not 0 <= local_rank < local_world_size:
        raise ValueError(f"local_rank should be in 0..{local_world_size - 1}; got {local_rank}")
    processes = f"{local_world_size} process{'es' if local_world_size != 1 else ''}"
    if gpu_count >= local_world_size:
        return WorkerDevice(f"cuda:{local_rank}", "nccl", local_rank,
                            f"{gpu_count} GPU(s) for {processes} on this machine: one GPU each, NCCL between them")
    if gpu_count > 0:
        why = f"{gpu_count} GPU(s) for {processes} on this machine: not one each, so every process uses the CPU (gloo)"
    elif _cuda_build():
        why = f"a CUDA build of torch (CUDA {_cuda_build()}) but no GPU it can use: every process uses the CPU (gloo)"
    else:
        why = "no GPU (a CPU-only build of torch, or none visible): every process uses the CPU (gloo)"
    return WorkerDevice("cpu", "gloo", None, why)


def data_parallel_device(gpu_count: int | None = None) -> str:
    """Where ``nn.DataParallel`` needs its module and input: ``"cuda:0"`` (it takes every GPU
    torch can use and gathers on the first) when there is one, else ``"cpu"`` (with no GPU it
    just calls the module). ``gpu_count`` defaults to :func:`torch_gpu_count`."""
    if gpu_count is None:
        gpu_count = torch_gpu_count()
    return "cuda:0" if gpu_count > 0 else "cpu"


def tf_worker_env(index: int, num_workers: int, gpu_count: int) -> dict:
    """The environment that gives TensorFlow worker ``index`` of ``num_workers`` on this
    machine the device :func:`worker_device` would give a torch worker: its own GPU, or none
    (``CUDA_VISIBLE_DEVICES=-1``), since a TensorFlow process otherwise takes every GPU it sees
    (and, by default, nearly all of each one's memory)."""
    return {"CUDA_VISIBLE_DEVICES": worker_device(index, num_workers, gpu_count=gpu_count).cuda_visible_devices}


def tf_gpu_count() -> int:
    """How many GPUs TensorFlow sees in this process."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


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
    run_id = _new_run_id()
    folder = _run_folder(cwd)
    logs = Path(tempfile.mkdtemp(prefix="tf-workers-logs-"))
    if module:
        command = [sys.executable, "-m", str(script), *[str(a) for a in args]]
    else:
        script = Path(script)
        command = [sys.executable, str(script if script.is_absolute() else Path.cwd() / script), *[str(a) for a in args]]
    ports = free_ports(num_workers)
    configs = [tf_config(ports, index) for index in range(num_workers)]
    popens, files = [], []
    start = time.monotonic()
    timed_out, root, failed_at = False, None, None
    try:
        for index in range(num_workers):
            worker_env = _worker_env(run_id, env)
            worker_env.update(env_for(index) if env_for is not None else {})
            worker_env["TF_CONFIG"] = json.dumps(configs[index])
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
    return RunResult(command, ranks, seconds, timeout, timed_out, root, "", killed, str(folder), configs)


# --- Proof of correctness: replica gradients and one-process replays -------------------------


def torch_replica_gradients(model, loss_fn, X, y, num_replicas: int):
    """Split ``X, y`` into ``num_replicas`` equal consecutive shards, compute each shard's
    gradient of ``loss_fn`` (a mean over the shard) and average them, as synchronous data
    parallelism does. Returns ``(per_replica, averaged)``: a list of gradient lists (one
    tensor per parameter, in ``model.parameters()`` order) and the averaged list. The model's
    ``.grad`` fields are left as they were."""
    import torch

    params = [p for p in model.parameters()]
    shards = zip(torch.tensor_split(X, num_replicas), torch.tensor_split(y, num_replicas))
    per_replica = []
    for X_shard, y_shard in shards:
        loss = loss_fn(model(X_shard), y_shard)
        per_replica.append([g.detach() for g in torch.autograd.grad(loss, params)])
    averaged = [torch.stack(grads).mean(dim=0) for grads in zip(*per_replica)]
    return per_replica, averaged


def tf_replica_gradients(model, loss_fn, X, y, num_replicas: int):
    """:func:`torch_replica_gradients` for a Keras model: ``(per_replica, averaged)``, one
    tensor per variable in ``model.trainable_variables`` order."""
    import tensorflow as tf

    per_replica = []
    for X_shard, y_shard in zip(tf.split(X, num_replicas), tf.split(y, num_replicas)):
        with tf.GradientTape() as tape:
            loss = loss_fn(y_shard, model(X_shard, training=True))
        per_replica.append(tape.gradient(loss, model.trainable_variables))
    averaged = [tf.reduce_mean(tf.stack(grads), axis=0) for grads in zip(*per_replica)]
    return per_replica, averaged


def ddp_batches(num_samples: int, world_size: int, batch_size: int, num_epochs: int, seed: int = 0):
    """The sample indices of each step of a DDP run with ``DistributedSampler(shuffle=True,
    seed=seed)`` and ``set_epoch(epoch)``: for each step, the global batch as the ranks' local
    batches one after the other (rank 0 first). ``batch_size`` is the global batch size."""
    from torch.utils.data import DistributedSampler

    local = batch_size // world_size
    steps = []
    for epoch in range(num_epochs):
        orders = []
        for rank in range(world_size):
            sampler = DistributedSampler(range(num_samples), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
            sampler.set_epoch(epoch)
            orders.append(list(sampler))
        for start in range(0, len(orders[0]), local):
            steps.append([i for order in orders for i in order[start : start + local]])
    return steps


def simulate_ddp_torch(model, X, y, *, world_size: int, batch_size: int, num_epochs: int, lr: float, seed: int = 0,
                       loss_fn=None):
    """Train ``model`` (in place) in one process exactly as DDP on ``world_size`` ranks would,
    with ``DistributedSampler(shuffle=True, seed=seed)``, ``set_epoch`` each epoch, SGD with
    ``lr`` and global batch ``batch_size``: at each step, the average of the ranks' gradients.
    Returns the model."""
    import torch

    loss_fn = loss_fn or torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for indices in ddp_batches(len(X), world_size, batch_size, num_epochs, seed):
        index = torch.tensor(indices)
        _, averaged = torch_replica_gradients(model, loss_fn, X[index], y[index], world_size)
        for param, grad in zip(model.parameters(), averaged):
            param.grad = grad
        optimizer.step()
    return model


def simulate_mirrored_tf(model, X, y, *, batch_size: int, num_epochs: int, lr: float, loss_fn=None,
                        num_replicas: int = 1):
    """Train a Keras ``model`` (in place) in one process on consecutive global batches of
    ``batch_size`` (no shuffling), plain SGD, as synchronous data parallelism over
    ``num_replicas`` replicas does: each global batch split into ``num_replicas`` equal
    consecutive shares, each share's gradient computed with the model called on that share
    alone, the gradients averaged. For a model whose output for a sample depends on that sample
    only, any ``num_replicas`` gives the weights of one worker on the global batch; with
    BatchNormalization (not synchronized) each replica normalizes its share with the share's
    statistics, and ``num_replicas`` matters. Returns the model."""
    import keras
    import tensorflow as tf

    loss_fn = loss_fn or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=lr)
    for _ in range(num_epochs):
        for start in range(0, len(X), batch_size):
            Xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            if num_replicas == 1:
                with tf.GradientTape() as tape:
                    loss = loss_fn(yb, model(Xb, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
            else:
                _, grads = tf_replica_gradients(model, loss_fn, tf.convert_to_tensor(Xb), tf.convert_to_tensor(yb), num_replicas)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return model


# --- Measuring: speed-up, throughput, efficiency ---------------------------------------------


def scaling_metrics(sequential_step_s, rank_step_s, global_batch_size: int) -> dict[str, float]:
    """Speed-up, throughput and efficiency from measured step times.

    ``sequential_step_s``: the step times of one process training on the global batch alone.
    ``rank_step_s``: one row per rank, the step times of the parallel run. A parallel step
    lasts as long as its slowest rank (the others wait in the all-reduce), so its time is the
    maximum over ranks; each run's time per step is the median over its steps, the course's one
    definition: the middle value once sorted, the mean of the two middle values for an even
    number of steps (``np.median``; ``torch.median`` would return the lower one).
    """
    import numpy as np

    sequential = np.asarray(sequential_step_s, dtype=np.float64)
    ranks = np.asarray(rank_step_s, dtype=np.float64)
    if ranks.ndim != 2:
        raise ValueError(f"rank_step_s should have one row per rank, got shape {ranks.shape}")
    t_seq = float(np.median(sequential))
    t_par = float(np.median(ranks.max(axis=0)))
    workers = ranks.shape[0]
    speedup = t_seq / t_par
    return {
        "workers": workers,
        "sequential_s": t_seq,
        "parallel_s": t_par,
        "speedup": speedup,
        "throughput": global_batch_size / t_par,
        "sequential_throughput": global_batch_size / t_seq,
        "efficiency": speedup / workers,
    }


@dataclass
class ScalingResult:
    """One measured configuration: a framework, a number of workers, a global batch size."""

    framework: str  # "PyTorch" or "TensorFlow"
    workers: int
    global_batch_size: int
    device: str
    sequential_step_s: list[float]
    rank_step_s: list[list[float]]
    launch_s: float = float("nan")  # the whole launch, process start-up included

    @property
    def metrics(self) -> dict[str, float]:
        return scaling_metrics(self.sequential_step_s, self.rank_step_s, self.global_batch_size)


FRAMEWORK_NAMES = {"torch": "PyTorch", "pytorch": "PyTorch", "tensorflow": "TensorFlow", "tf": "TensorFlow"}
#: The scaling workers' model: an MLP on 64 features (the digits' size), 10 classes.
SCALING_MODEL = {"features": 64, "hidden": 256, "classes": 10}


def max_workers() -> int:
    """How many workers this machine allows: its CPU cores (each worker uses one thread)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


def measure_scaling(framework: str, workers: int = 2, global_batch_sizes=(64, 512), *, steps: int = 20, warmup: int = 3,
                    timeout: float = 180.0) -> list[ScalingResult]:
    """Launch ``workers`` real worker processes of ``framework`` ("torch" or "tensorflow") and
    time training steps of the same MLP for each global batch size, each rank on its share.

    The sequential run (one worker on the whole global batch) is, for PyTorch, rank 0 alone in
    the same launch before the others join (they wait in a barrier, using no CPU); for
    TensorFlow, a launch of one worker of the same program, started with the parallel launch
    but timed after it (:func:`_tf_scaling_runs`). (In a multi-worker TensorFlow
    process, a step outside ``strategy.run`` measured about 1.8 times slower than the same step
    in a process of its own, which would flatter the parallel run.) Each worker's device is
    :func:`worker_device`'s choice: one GPU each when this machine has a GPU per worker, else
    the CPU for all; the sequential run uses worker 0's device. Each launch
    is stopped after ``timeout`` seconds. Raises :class:`WorkerFailed`, with each rank's error,
    if a launch fails or runs out of time."""
    name = FRAMEWORK_NAMES.get(framework.lower())
    if name is None:
        raise ValueError(f"unknown framework {framework!r}: 'torch' or 'tensorflow'")
    workers = int(workers)
    sizes = [int(b) for b in global_batch_sizes]
    bad = [b for b in sizes if b < workers or b % workers]
    if workers < 1 or bad:
        raise ValueError(f"each global batch size must be a multiple of the number of workers ({workers}); got {bad}")
    args = ["--batch-sizes", ",".join(map(str, sizes)), "--steps", str(steps), "--warmup", str(warmup)]
    start = time.monotonic()
    if name == "PyTorch":
        parallel_run = torchrun("sidebyside.parallel", workers, ["torch-scaling", *args], timeout=timeout, module=True).check()
        sequential_run = parallel_run
    else:
        sequential_run, parallel_run = _tf_scaling_runs(workers, args, timeout)
    seconds = time.monotonic() - start
    rows: dict[int, dict] = {}
    for record in parallel_run.results():
        row = rows.setdefault(record["global_batch_size"], {"device": record["device"], "sequential": None, "ranks": {}})
        row["ranks"][record["rank"]] = record["step_s"]
        if record.get("sequential_step_s") is not None:
            row["sequential"] = record["sequential_step_s"]
    if name == "TensorFlow":
        for record in sequential_run.results():
            rows[record["global_batch_size"]]["sequential"] = record["step_s"]
    return [
        ScalingResult(name, workers, b, rows[b]["device"], rows[b]["sequential"], [rows[b]["ranks"][r] for r in range(workers)], seconds)
        for b in sizes
    ]


def _tf_scaling_runs(workers: int, args: list[str], timeout: float) -> tuple[RunResult, RunResult]:
    """The sequential and the parallel TensorFlow launches of :func:`measure_scaling`. Both
    start together, so that their start-up (importing TensorFlow: seconds) overlaps, but no
    step is timed while the other launch computes: the parallel workers time their steps once
    the sequential worker is set up and waiting, and the sequential worker times its steps once
    the parallel launch has ended."""
    import threading

    gpus = tf_gpu_count()
    env_for = lambda i: tf_worker_env(i, workers, gpus)  # noqa: E731 (the sequential run: worker 0's device)
    if workers == 1:
        run = tf_workers("sidebyside.parallel", 1, ["tf-scaling", *args], timeout=timeout, module=True, env_for=env_for).check()
        return run, run
    folder = Path(tempfile.mkdtemp(prefix="tf-scaling-"))
    ready, go = folder / "sequential-ready", folder / "parallel-done"
    wait = ["--wait-timeout", str(timeout)]
    found: dict[str, RunResult] = {}
    sequential = threading.Thread(target=lambda: found.update(sequential=tf_workers(
        "sidebyside.parallel", 1, ["tf-scaling", *args, "--ready-file", str(ready), "--wait-for", str(go), *wait],
        timeout=timeout, module=True, env_for=env_for)))
    sequential.start()
    try:
        parallel_run = tf_workers("sidebyside.parallel", workers, ["tf-scaling", *args, "--wait-for", str(ready), *wait],
                                  timeout=timeout, module=True, env_for=env_for)
    finally:
        go.touch()  # the sequential worker may time its steps now (or stop waiting, if this failed)
        sequential.join()
        shutil.rmtree(folder, ignore_errors=True)
    return found["sequential"].check(), parallel_run.check()


def scaling_table(results: list[ScalingResult]) -> str:
    """The measurements as aligned text: one line per framework, workers and batch size."""
    head = f"{'framework':<11} {'workers':>7} {'batch':>6} {'device':<7} {'1 worker':>10} {'N workers':>10} {'speed-up':>8} {'efficiency':>10} {'samples/s':>10}"
    lines = [head]
    for r in sorted(results, key=lambda r: (r.framework, r.global_batch_size, r.workers)):
        m = r.metrics
        lines.append(
            f"{r.framework:<11} {r.workers:>7} {r.global_batch_size:>6} {r.device:<7} {m['sequential_s'] * 1e3:>7.2f} ms "
            f"{m['parallel_s'] * 1e3:>7.2f} ms {m['speedup']:>8.2f} {m['efficiency']:>10.2f} {m['throughput']:>10,.0f}"
        )
    return "\n".join(lines)


def plot_scaling(results: list[ScalingResult], *, axes=None, title: str = ""):
    """Two panels: throughput (samples/s) and speed-up, bars per framework side by side for
    each (workers, batch size), the sequential run's throughput as a black line across each
    bar, and the ideal speed-up (= workers) as a dashed line. Returns ``(fig, axes)``."""
    import matplotlib.pyplot as plt

    from .plots import color_for

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    else:
        fig = axes[0].figure
    configs = sorted({(r.workers, r.global_batch_size) for r in results}, key=lambda c: (c[1], c[0]))
    frameworks = [f for f in ("PyTorch", "TensorFlow") if any(r.framework == f for r in results)]
    width = 0.8 / max(1, len(frameworks))
    by_key = {(r.framework, r.workers, r.global_batch_size): r for r in results}
    throughput_ax, speedup_ax = axes
    if results:  # headroom above the highest bar or line, for the legends
        top_throughput = max(max(r.metrics["throughput"], r.metrics["sequential_throughput"]) for r in results)
        throughput_ax.set_ylim(0, 1.35 * top_throughput)
        speedup_ax.set_ylim(0, 1.35 * max(max(r.metrics["speedup"], r.workers) for r in results))
    for k, framework in enumerate(frameworks):
        xs, thr, seq, spd = [], [], [], []
        for i, config in enumerate(configs):
            r = by_key.get((framework, *config))
            if r is None:
                continue
            m = r.metrics
            xs.append(i + (k - (len(frameworks) - 1) / 2) * width)
            thr.append(m["throughput"])
            seq.append(m["sequential_throughput"])
            spd.append(m["speedup"])
        color = color_for(framework)
        throughput_ax.bar(xs, thr, width, color=color, label=f"{framework}, N workers")
        throughput_ax.hlines(seq, [x - width / 2 for x in xs], [x + width / 2 for x in xs], colors="black", linewidth=2,
                             label="1 worker (sequential)" if k == 0 else None)
        speedup_ax.bar(xs, spd, width, color=color, label=framework)
    labels = [f"{w} workers\nbatch {b}" for w, b in configs]
    for ax in axes:
        ax.set_xticks(range(len(configs)), labels)
        ax.grid(alpha=0.3, axis="y")
    if configs:
        ideal_x = [i + dx for i in range(len(configs)) for dx in (-0.45, 0.45)]
        ideal_y = [configs[i][0] for i in range(len(configs)) for _ in (0, 1)]
        speedup_ax.plot(ideal_x, ideal_y, "k--", linewidth=1, label="ideal (= workers)")
    throughput_ax.set_ylabel("samples per second")
    throughput_ax.set_title("Throughput")
    speedup_ax.set_ylabel("speed-up over 1 worker")
    speedup_ax.set_title("Speed-up")
    speedup_ax.axhline(1.0, color="grey", linewidth=0.8)
    for ax in axes:
        if ax.has_data():
            ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig, axes


# --- The workers (python -m sidebyside.parallel COMMAND ...) ---------------------------------


def _scaling_args(argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-sizes", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--ready-file", default="")  # created once set up (imports done)
    parser.add_argument("--wait-for", default="")  # a file to wait for before the timed steps
    parser.add_argument("--wait-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    return args


def _torch_scaling_worker(argv: list[str]) -> None:
    """DDP on the MLP, timed per step; rank 0 first times the sequential run alone."""
    import copy

    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    args = _scaling_args(argv)
    torch.set_num_threads(1)
    where = worker_device()
    use_gpu = where.gpu is not None
    dist.init_process_group(where.backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(where.device)

    def wait():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    torch.manual_seed(0)
    f, h, c = SCALING_MODEL["features"], SCALING_MODEL["hidden"], SCALING_MODEL["classes"]
    template = torch.nn.Sequential(torch.nn.Linear(f, h), torch.nn.ReLU(), torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, c))
    largest = max(args.batch_sizes)
    X = torch.randn(largest, f, device=device)
    y = torch.randint(0, c, (largest,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def time_steps(model, Xb, yb):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        times = []
        for step in range(args.warmup + args.steps):
            start = time.perf_counter()
            optimizer.zero_grad()
            loss_fn(model(Xb), yb).backward()
            optimizer.step()
            wait()
            if step >= args.warmup:
                times.append(time.perf_counter() - start)
        return times

    for batch in args.batch_sizes:
        sequential = None
        if rank == 0:
            sequential = time_steps(copy.deepcopy(template).to(device), X[:batch], y[:batch])
        dist.barrier()
        local = batch // world
        ddp = DDP(copy.deepcopy(template).to(device), device_ids=[device.index] if use_gpu else None)
        step_s = time_steps(ddp, X[rank * local : (rank + 1) * local], y[rank * local : (rank + 1) * local])
        print(RESULT_PREFIX + json.dumps({"rank": rank, "global_batch_size": batch, "device": device.type,
                                          "sequential_step_s": sequential, "step_s": step_s}), flush=True)
        dist.barrier()
    dist.destroy_process_group()


def _ready_then_wait(args) -> None:
    """Say this worker is set up (``--ready-file``), then wait for ``--wait-for`` (at most
    ``--wait-timeout`` s, then fail): how :func:`measure_scaling` lets the sequential TensorFlow
    run start up while the parallel one does, and time its steps only once the other is done."""
    if args.ready_file:
        Path(args.ready_file).touch()
    if args.wait_for:
        deadline = time.monotonic() + args.wait_timeout
        while not Path(args.wait_for).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {args.wait_timeout:g} s for {args.wait_for}: the other run never got there")
            time.sleep(0.05)


def _tf_scaling_worker(argv: list[str]) -> None:
    """MultiWorkerMirroredStrategy on the MLP, each worker on its share, timed per step."""
    args = _scaling_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rank = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    gpus = tf.config.list_physical_devices("GPU")
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    world = strategy.num_replicas_in_sync
    import keras

    f, h, c = SCALING_MODEL["features"], SCALING_MODEL["hidden"], SCALING_MODEL["classes"]
    largest = max(args.batch_sizes)
    X = tf.random.stateless_normal((largest, f), seed=[0, 0])
    y = tf.random.stateless_uniform((largest,), seed=[0, 1], maxval=c, dtype=tf.int32)
    per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    _ready_then_wait(args)

    def make_step(model, optimizer, batch):
        @tf.function
        def step_fn(Xb, yb):
            def replica_step(Xb, yb):
                with tf.GradientTape() as tape:
                    loss = tf.nn.compute_average_loss(per_example(yb, model(Xb, training=True)), global_batch_size=batch)
                optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
                return loss

            return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(Xb, yb)), axis=None)

        return step_fn

    for batch in args.batch_sizes:
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((f,)), keras.layers.Dense(h, activation="relu"),
                                      keras.layers.Dense(h, activation="relu"), keras.layers.Dense(c)])
            optimizer = keras.optimizers.SGD(0.01)
        local = batch // world
        step_fn = make_step(model, optimizer, batch)
        Xb, yb = X[rank * local : (rank + 1) * local], y[rank * local : (rank + 1) * local]
        step_s = []
        for step in range(args.warmup + args.steps):
            start = time.perf_counter()
            step_fn(Xb, yb).numpy()  # reading the loss back waits for the step
            if step >= args.warmup:
                step_s.append(time.perf_counter() - start)
        print(RESULT_PREFIX + json.dumps({"rank": rank, "global_batch_size": batch, "device": "gpu" if gpus else "cpu",
                                          "sequential_step_s": None, "step_s": step_s}), flush=True)


def _in_rank_folder(argv: list[str]) -> None:
    """``in-rank-folder BASE SCRIPT ARGS...``: run SCRIPT as ``__main__`` in BASE/rank{RANK}."""
    import runpy

    base, script, *rest = argv
    os.chdir(Path(base) / f"rank{os.environ.get('RANK', '0')}")
    sys.argv = [script, *rest]
    sys.path.insert(0, str(Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")


COMMANDS = {"torch-scaling": _torch_scaling_worker, "tf-scaling": _tf_scaling_worker, "in-rank-folder": _in_rank_folder}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        raise SystemExit(f"usage: python -m sidebyside.parallel {{{','.join(COMMANDS)}}} ...")
    COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    main()
