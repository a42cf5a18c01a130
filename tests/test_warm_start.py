"""Warm start (sidebyside.grading.warm_start), for real: a warm server that imported the
frameworks, kernels forked from it through the same kernel manager nbgrader uses in
`sidebyside grade`, and a warm server that forks nbgrader's command line.

- a forked kernel behaves like a cold one (inline figures, its run folder, the requested
  environment, GPUs hidden, fresh random state) while it did not import the frameworks again;
- it is jailed like a cold one (another user, no network, instructor files hidden);
- the sandbox's memory cap and time budget reach it although it is not nbgrader's child;
- a kernel that exits is seen as dead, a kernel whose caller vanished is killed, a request
  for anything but this interpreter's ipykernel is refused, and without a server kernels
  start cold;
- a forked nbgrader runs its command line, with the caller's output and exit status.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from conftest import ROOT
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from sidebyside.grading import execute, sandbox, warm_start

pytestmark = pytest.mark.nbgrader

#: Runs one notebook through the grading kernel manager (as nbgrader does), in its own process.
DRIVER = """
import sys, nbformat
from nbclient import NotebookClient
from sidebyside.grading.execute import GradingKernelManager
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(sys.argv[1])])
NotebookClient(nb, timeout=600, kernel_manager_class=GradingKernelManager).execute()
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("warm") / "server.log"
    with warm_start.WarmServer(warm_start.KERNELS, sandbox.grading_env(sandbox.Limits(threads=1)), log) as warm:
        assert warm.wait_ready(), f"{warm.error}\n{log.read_text()[-3000:]}"
        yield warm


def grading_settings(monkeypatch, tmp_path, address, **extra) -> Path:
    pid_file = tmp_path / "kernel-pids"
    settings = {"warm_kernels": address, "kernel_pids": str(pid_file), **extra}
    monkeypatch.setenv(execute.SETTINGS_ENV, json.dumps(settings))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    return pid_file


def run_cells(sources: list[str], run_dir: Path, config=None) -> list[str]:
    """Execute ``sources`` in one kernel started by the grading kernel manager; returns each
    cell's text output (plus the MIME types of its displays)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    kwargs = {"config": config} if config is not None else {}
    NotebookClient(nb, timeout=120, kernel_manager_class=execute.GradingKernelManager, resources={"metadata": {"path": str(run_dir)}}, **kwargs).execute()
    texts = []
    for cell in nb.cells:
        parts = []
        for output in cell.outputs:
            parts.append(output.get("text", "") if output.output_type == "stream" else " ".join(output.get("data", {})))
        texts.append("".join(parts).strip())
    return texts


def test_a_warm_kernel_runs_like_a_cold_one(server, monkeypatch, tmp_path):
    pid_file = grading_settings(monkeypatch, tmp_path, server.address)
    monkeypatch.setenv("COURSE_TEST_MARKER", "from the kernel manager")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as the sandbox sets it for nbgrader
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "helper_module.py").write_text("ANSWER = 42\n")
    texts = run_cells([
        "import os, sys; print('torch' in sys.modules, 'tensorflow' in sys.modules, os.getpid(), os.getppid())",
        "import helper_module, numpy as np; print(helper_module.ANSWER, os.getcwd())",
        "print(os.environ['COURSE_TEST_MARKER'], os.environ['CUDA_VISIBLE_DEVICES'], os.environ['OMP_NUM_THREADS'])",
        "import matplotlib.pyplot as plt; plt.plot([1, 3, 2]);",
        "print(np.random.rand())",
        "import torch, tensorflow as tf; print(torch.ones(3).sum().item(), float(tf.reduce_sum(tf.ones(3))))",
        "print(open('/proc/self/oom_score_adj').read().strip())",
    ], run_dir)
    preloaded, pid, parent = texts[0].rsplit(" ", 2)
    assert preloaded == "True True", "the frameworks should come already imported"
    assert int(parent) == server.process.pid, "the kernel should be a fork of the warm server"
    assert [k for k, _ in warm_start.read_kernel_pids(pid_file)] == [int(pid)], "the sandbox needs the kernel's pid for its limits"
    assert texts[1] == f"42 {run_dir}"
    assert texts[2] == "from the kernel manager -1 1"
    assert "image/png" in texts[3], "figures should show inline, as in a cold kernel"
    assert texts[5] == "3.0 3.0"
    server_score = int(Path(f"/proc/{server.process.pid}/oom_score_adj").read_text())
    assert int(texts[6]) > server_score or server_score == 1000, "out of memory, a kernel should go before the server"
    again = run_cells(["import numpy as np; print(np.random.rand())"], run_dir)
    assert again[0] != texts[4], "each kernel should get fresh random state, not the server's"


@pytest.mark.skipif(sandbox.isolation_available() != "namespaces", reason="no namespaces on this machine: the jail is not available")
def test_a_warm_kernel_is_jailed(server, monkeypatch, tmp_path):
    from traitlets.config import Config

    hidden = tmp_path / "instructor"  # under /tmp, which the jail replaces
    hidden.mkdir()
    (hidden / "solution.ipynb").write_text("{}")
    uid = sandbox.new_uid(7)
    ipc = Path("/dev/shm") / f"sbs-test-{os.getpid()}"
    ipc.mkdir()
    try:
        if sandbox.jail_mode() == "root":
            os.chown(ipc, uid, uid)
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(ipc / "kernel")
        jail = {"mode": sandbox.jail_mode(), "uid": uid, "hide": [str(hidden), str(ROOT / "solutions")]}
        grading_settings(monkeypatch, tmp_path, server.address, jail=jail)
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        texts = run_cells([
            "import os; print(os.getuid(), os.getcwd(), os.getppid())",
            f"solutions = {str(ROOT / 'solutions')!r}\n"
            f"print(os.path.exists({str(hidden)!r}), os.listdir(solutions) if os.path.exists(solutions) else [], os.path.exists({server.address!r}))",
            "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=2)\nexcept OSError as error:\n    print(error.errno)",
        ], run_dir, config)
    finally:
        ipc.rmdir() if ipc.is_dir() and not any(ipc.iterdir()) else None
    user, cwd, parent = texts[0].split()
    assert int(parent) == server.process.pid
    assert cwd == "/tmp/work"
    if sandbox.jail_mode() == "root":
        assert int(user) == uid
    # (a checkout under /tmp, as on CI, is gone with the rest of /tmp; elsewhere it is emptied)
    assert texts[1] == "False [] False", "instructor files and the warm server's socket must be out of reach"
    assert texts[2] in {"101", "99"}, f"the kernel should have no network, got: {texts[2]}"


def _limited(server, tmp_path, cell: str, limits: sandbox.Limits):
    pid_file = tmp_path / "kernel-pids"
    env = sandbox.grading_env(limits)
    env[execute.SETTINGS_ENV] = json.dumps({"warm_kernels": server.address, "kernel_pids": str(pid_file)})
    env["NBGRADER_EXECUTION"] = "autograde"
    status, seconds, peak = sandbox.run_limited([sys.executable, "-c", DRIVER, cell], tmp_path, env, limits, tmp_path / "log", pid_file)
    kernels = [pid for pid, _ in warm_start.read_kernel_pids(pid_file)]
    assert len(kernels) == 1, (tmp_path / "log").read_text()[-3000:]
    deadline = time.monotonic() + 10
    while psutil.pid_exists(kernels[0]) and time.monotonic() < deadline:
        time.sleep(0.1)  # the server reaps it
    assert not psutil.pid_exists(kernels[0]), "the kernel must not outlive its student's grading"
    return status, seconds, peak


def test_the_memory_cap_reaches_a_warm_kernel(server, tmp_path):
    limits = sandbox.Limits(wall_seconds=120, memory_mb=2500, poll_seconds=0.2)
    status, seconds, peak = _limited(server, tmp_path, "import numpy as np, time; block = np.ones(500_000_000); time.sleep(60)", limits)
    assert status == "memory", f"got {status} after {seconds:.0f} s, peak {peak:.0f} MB"
    assert seconds < 60


def test_the_time_budget_reaches_a_warm_kernel(server, tmp_path):
    limits = sandbox.Limits(wall_seconds=15, memory_mb=6000, poll_seconds=0.2)
    status, seconds, _ = _limited(server, tmp_path, "import time; time.sleep(300)", limits)
    assert status == "timeout"
    assert seconds < 60


def test_a_kernel_that_exits_is_seen_dead(server, monkeypatch, tmp_path):
    grading_settings(monkeypatch, tmp_path, server.address)
    with pytest.raises(DeadKernelError):
        run_cells(["import os; os._exit(3)", "print('never')"], tmp_path)


def test_the_server_refuses_other_commands_and_kills_orphans(server, tmp_path):
    with pytest.raises(OSError, match="not a command the kernels server can start"):
        warm_start.start(server.address, ["/bin/sh", "-c", "sleep 100"], dict(os.environ), str(tmp_path))
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "connection.json")]
    kernel = warm_start.start(server.address, argv, dict(os.environ), str(tmp_path))
    assert psutil.Process(kernel.pid).ppid() == server.process.pid
    assert kernel.poll() is None
    kernel.connection.close()  # as if the nbgrader process that asked for it had died
    deadline = time.monotonic() + 10
    while psutil.pid_exists(kernel.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(kernel.pid), "a kernel nobody talks to must be killed"
    another = warm_start.start(server.address, argv, dict(os.environ), str(tmp_path))
    another.send_signal(signal.SIGTERM)
    assert another.wait(timeout=30) == -signal.SIGTERM, "the server should report how the kernel ended"


def test_without_a_server_kernels_start_cold(monkeypatch, tmp_path):
    missing = tmp_path / "no-server"
    pid_file = grading_settings(monkeypatch, tmp_path, str(missing))
    texts = run_cells(["import os, sys; print('tensorflow' in sys.modules, os.getppid())"], tmp_path)
    assert texts[0] == f"False {os.getpid()}", "the kernel should have been started the ordinary way"
    assert len(warm_start.read_kernel_pids(pid_file)) == 1


def test_a_bad_request_does_not_stop_the_server(server):
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as raw:
        raw.connect(server.address)
        raw.send(b"not json")
        assert "error" in json.loads(raw.recv(4096))
    assert server.process.poll() is None


def test_a_warm_nbgrader_runs_its_command_line(tmp_path):
    log = tmp_path / "server.log"
    with warm_start.WarmServer(warm_start.NBGRADER, sandbox.grading_env(sandbox.Limits()), log) as nbgrader_server:
        assert nbgrader_server.wait_ready(), f"{nbgrader_server.error}\n{log.read_text()[-3000:]}"
        with pytest.raises(OSError, match="not a command the nbgrader server can start"):
            warm_start.start(nbgrader_server.address, [sys.executable, "-m", "ipykernel_launcher"], dict(os.environ), str(tmp_path))
        output = tmp_path / "output"
        with open(output, "wb") as out:
            for args in (["--version"], ["autograde", "--no-such-option"]):
                command = [sys.executable, "-m", "nbgrader", *args]
                cold = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120)
                process = warm_start.start(nbgrader_server.address, command, dict(os.environ), str(tmp_path), stdout=out.fileno(), stderr=out.fileno())
                assert process.wait(timeout=60) == cold.returncode, output.read_text()[-2000:]
    import nbgrader

    assert nbgrader.__version__ in output.read_text()
    assert "no-such-option" in output.read_text()


@pytest.mark.skipif(sandbox.isolation_available() != "namespaces", reason="no namespaces on this machine")
def test_a_kernel_in_a_user_namespace_keeps_no_capability():
    """The jail's unprivileged mode (root only inside its own user namespace) drops every
    capability in-process before a forked kernel runs, bounding set included."""
    code = (
        "from sidebyside.grading import jail\n"
        "jail.enter_namespaces('userns'); jail.drop_capabilities()\n"
        "print(*[l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapPrm', 'CapEff', 'CapBnd'))])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if "unshare" in result.stderr:
        pytest.skip(f"no user namespaces here: {result.stderr.strip().splitlines()[-1]}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0000000000000000"] * 3
