"""Warm start (sidebyside.instructor.grading.warm_start), for real: a worker's sandbox whose kernel server
imported the frameworks, kernels forked from it through the kernel manager nbgrader uses in
`sidebyside grade`, and a warm server that forks nbgrader's command line.

- a forked kernel behaves like a cold one (inline figures, its input files, the requested
  environment but nothing of the grader's own, GPUs hidden, fresh random state) while it did
  not import the frameworks again; out of memory it goes before its server;
- a kernel that exits is seen as dead, a kernel whose caller vanished is killed, a request for
  anything but this interpreter's ipykernel is refused, a bad request leaves the server up;
- a sandbox started with ``--cold-start`` preloads nothing; without a kernel server, a kernel
  starts the ordinary way;
- a forked nbgrader runs its command line, with the caller's output and exit status.
(What the sandbox keeps a kernel from doing: tests/test_sandbox.py.)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import psutil
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets.config import Config

from sidebyside.instructor.grading import execute, sandbox, student, warm_start
from sidebyside.instructor.grading.limits import Limits

pytestmark = pytest.mark.nbgrader


def start_sandbox(folder: Path, preload: bool = True, mode: sandbox.Isolation | None = None) -> sandbox.Sandbox:
    mode = mode or sandbox.available()[0]
    limits = Limits(threads=1)
    box = sandbox.Sandbox(0, mode, base=folder, hide=[], limits=limits, env=student.grading_env(limits), log=folder / "server.log", preload=preload)
    box.start()
    assert box.wait_ready(), f"{box.server.error}\n{(folder / 'server.log').read_text()[-3000:]}"
    return box


@pytest.fixture(scope="module")
def box():
    folder = Path(tempfile.mkdtemp(prefix="sbs-warm-test-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    started = start_sandbox(folder)
    yield started
    started.stop()


def run_cells(box: sandbox.Sandbox | None, sources: list[str], files: dict[str, str] | None = None, env: dict | None = None) -> list[str]:
    """Execute ``sources`` in one kernel started by the grading kernel manager (forked in
    ``box``, or the ordinary way without one); returns each cell's text output (plus the MIME
    types of its displays)."""
    config = Config()
    folder = Path(tempfile.mkdtemp())
    if box is not None:
        folder = box.prepare()
        config.GradingKernelManager.kernel_server = box.address
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(box.exchange / "kernel")
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        NotebookClient(nb, timeout=180, kernel_manager_class=execute.GradingKernelManager, config=config, resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    texts = []
    for cell in nb.cells:
        parts = [output.get("text", "") if output.output_type == "stream" else " ".join(output.get("data", {})) for output in cell.outputs]
        texts.append("".join(parts).strip())
    return texts


def test_a_warm_kernel_runs_like_a_cold_one(box):
    texts = run_cells(box, [
        "import os, sys; print('torch' in sys.modules, 'tensorflow' in sys.modules, os.getppid())",
        "import helper_module, numpy as np; print(helper_module.ANSWER, os.getcwd())",
        "print(os.environ.get('OMP_NUM_THREADS'), os.environ['CUDA_VISIBLE_DEVICES'], os.environ.get('GRADER_SECRET_TOKEN'))",
        "import matplotlib.pyplot as plt; plt.plot([1, 3, 2]);",
        "print(np.random.rand())",
        "import torch, tensorflow as tf; print(torch.ones(3).sum().item(), float(tf.reduce_sum(tf.ones(3))))",
        "print(open('/proc/self/oom_score_adj').read().strip())",
    ], files={"helper_module.py": "ANSWER = 42\n"}, env={"OMP_NUM_THREADS": "1", "GRADER_SECRET_TOKEN": "s3cret"})
    preloaded, parent = texts[0].rsplit(" ", 1)
    assert preloaded == "True True", f"the frameworks should come already imported, got {texts[0]!r}"
    assert int(parent) == box.server.pid_inside, f"the kernel should be a fork of the warm server (pid {box.server.pid_inside}), got parent {parent}"
    work = "/tmp/work" if box.isolation != sandbox.Isolation.NONE else str(box.exchange / "scratch" / "work")
    assert texts[1] == f"42 {work}", f"the kernel should start in {work} with its input files, got {texts[1]!r}"
    assert texts[2] == "1 -1 None", f"thread settings pass, GPUs are hidden, the grader's other variables do not, got {texts[2]!r}"
    assert "image/png" in texts[3], f"figures should show inline, as in a cold kernel, got {texts[3]!r}"
    assert texts[5] == "3.0 3.0", f"both frameworks should work, got {texts[5]!r}"
    server_score = int(Path(f"/proc/{box.server_process.pid}/oom_score_adj").read_text())
    assert int(texts[6]) > server_score or server_score == 1000, f"out of memory, a kernel should go before the server ({texts[6]} vs {server_score})"
    again = run_cells(box, ["import numpy as np; print(np.random.rand())"])
    assert again[0] != texts[4], f"each kernel should get fresh random state, not the server's: {again[0]} twice"


def test_a_kernel_that_exits_is_seen_dead(box):
    with pytest.raises(DeadKernelError):
        run_cells(box, ["import os; os._exit(3)", "print('never')"])


def test_the_server_refuses_other_commands_and_kills_orphans(box, tmp_path):
    with pytest.raises(OSError, match="not a command the kernels server can start"):
        warm_start.start(box.address, {"argv": ["/bin/sh", "-c", "sleep 100"], "env": {}})
    connection_file = tmp_path / "connection.json"
    connection_file.write_text(json.dumps({"transport": "ipc", "ip": str(box.exchange / "k"), "key": "x"}))
    request = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file)], "env": dict(os.environ),
               "connection": json.loads(connection_file.read_text())}
    box.prepare()
    kernel = warm_start.start(box.address, request)
    assert psutil.Process(kernel.pid).ppid() == box.server_process.pid, "the kernel should be the server's child"
    assert kernel.poll() is None
    pid = kernel.pid
    kernel.connection.close()  # as if the nbgrader process that asked for it had died
    try:
        psutil.Process(pid).wait(timeout=10)
    except psutil.TimeoutExpired:
        pytest.fail("a kernel nobody talks to must be killed")
    except psutil.NoSuchProcess:
        pass
    another = warm_start.start(box.address, request)
    another.send_signal(signal.SIGTERM)
    assert another.wait(timeout=30) == -signal.SIGTERM, "the server should report how the kernel ended"


def test_a_bad_request_does_not_stop_the_server(box):
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as raw:
        raw.connect(box.address)
        raw.send(b"not json")
        answer = json.loads(raw.recv(4096))
    assert "error" in answer, f"expected an error answer, got {answer}"
    assert box.running(), "the server should still run"


def test_a_cold_start_sandbox_preloads_nothing_and_no_server_means_an_ordinary_kernel(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="sbs-cold-test-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    cold = start_sandbox(folder, preload=False)
    try:
        texts = run_cells(cold, ["import sys; print('tensorflow' in sys.modules)", "import tensorflow as tf; print(float(tf.reduce_sum(tf.ones(2))))"])
    finally:
        cold.stop()
    # A cold `import tensorflow` may also print absl's start-up lines on the kernel's stderr
    # (TensorFlow writes them before it reads its log level; nbgrader's IgnorePattern drops them
    # from a graded cell): whether they reach the cell depends on timing, so only stdout counts.
    printed = [texts[0], texts[1].splitlines()[-1] if texts[1] else ""]
    assert printed == ["False", "2.0"], f"a cold sandbox's kernel imports the frameworks itself, got {texts}"
    plain = run_cells(None, ["import os, sys; print('tensorflow' in sys.modules, os.getppid())"])
    assert plain[0] == f"False {os.getpid()}", f"without a kernel server the kernel should be started the ordinary way, got {plain[0]!r}"


def test_without_isolation_kernels_run_unconfined_in_the_exchange_folder():
    """Isolation none (no bubblewrap): the same server, run directly; each kernel still gets a
    fresh folder of its own with its input files, and nothing else of the sandbox."""
    folder = Path(tempfile.mkdtemp(prefix="sbs-none-test-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    box = start_sandbox(folder, mode=sandbox.Isolation.NONE)
    try:
        first = run_cells(box, ["import os, sys; print(os.getcwd(), sorted(os.listdir('.')), 'torch' in sys.modules, os.getuid() == {uid})".format(uid=os.getuid()),
                                "open('left-behind', 'w').write('x')"], files={"data.txt": "input"})
        second = run_cells(box, ["import os; print(sorted(os.listdir('.')))"])
    finally:
        box.stop()
    work = box.exchange / "scratch" / "work"
    assert first[0] == f"{work} ['.home', 'data.txt'] True True", f"expected the kernel in {work} with its input, preloaded, as the grader, got {first[0]!r}"
    assert second[0] == "['.home']", f"the next kernel should start in an emptied folder, got {second[0]!r}"


def test_a_warm_nbgrader_runs_its_command_line(tmp_path):
    log = tmp_path / "server.log"
    with warm_start.WarmServer(warm_start.NBGRADER, student.grading_env(Limits()), log) as server:
        assert server.wait_ready(), f"{server.error}\n{log.read_text()[-3000:]}"
        with pytest.raises(OSError, match="not a command the nbgrader server can start"):
            warm_start.start(server.address, {"argv": [sys.executable, "-m", "ipykernel_launcher"], "env": {}, "cwd": str(tmp_path)})
        output = tmp_path / "output"
        with open(output, "wb") as out:
            for args in (["--version"], ["autograde", "--no-such-option"]):
                command = [sys.executable, "-m", "nbgrader", *args]
                cold = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120)
                request = {"argv": command, "env": dict(os.environ), "cwd": str(tmp_path)}
                process = warm_start.start(server.address, request, stdout=out.fileno(), stderr=out.fileno())
                assert process.wait(timeout=60) == cold.returncode, output.read_text()[-2000:]
    import nbgrader

    assert nbgrader.__version__ in output.read_text()
    assert "no-such-option" in output.read_text()


def test_the_kernel_server_imports_the_frameworks_the_notebooks_import(tmp_path):
    """A notebook in plain Python gets kernels that do not import torch and TensorFlow; one that
    imports the course package (whose setup() imports both) or a framework gets them, one of the
    course's modules alone does not; the other installed modules a notebook imports come after,
    marked optional (a failed import there is left to the kernel to report); a notebook that
    cannot be read gets every framework."""
    import json

    from sidebyside.instructor.grading import warm_start

    def notebook(name: str, *sources: str) -> Path:
        path = tmp_path / f"{name}.ipynb"
        path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": s} for s in sources] + [{"cell_type": "markdown", "source": "import torch"}]}))
        return path

    def required(modules):
        return tuple(m for m in modules if not m.startswith(warm_start.OPTIONAL))

    plain = notebook("plain", "import math", "def add(a, b):\n    return a + b\n", "import no_such_package_here")
    assert warm_start.kernel_modules([plain]) == ("numpy", "ipykernel.ipkernel", "?math"), warm_start.kernel_modules([plain])
    helper = notebook("helper", "from sidebyside.misconceptions import Mistakes")
    got = warm_start.kernel_modules([helper])
    assert got == ("numpy", "ipykernel.ipkernel", "?sidebyside.misconceptions", "?sidebyside.misconceptions.Mistakes"), got
    course = notebook("course", ["import sidebyside as sbs\n", "session = sbs.setup()"])
    assert required(warm_start.kernel_modules([plain, course])) == warm_start.PRELOAD[warm_start.KERNELS]
    torch_only = notebook("torch-only", "x = 1\n    from torch import nn")
    want = ("numpy", "torch", "torch._dynamo", "torch._inductor", "ipykernel.ipkernel", "?torch.nn")
    assert warm_start.kernel_modules([torch_only]) == want, warm_start.kernel_modules([torch_only])
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    assert warm_start.kernel_modules([plain, broken]) == warm_start.PRELOAD[warm_start.KERNELS]
