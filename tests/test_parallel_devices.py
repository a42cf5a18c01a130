"""Lesson 05 on every machine a student brings: which device each worker process uses, with
faked GPU counts (0, 1, 2) and a faked CUDA build without a GPU (this machine has no GPU).

The rule (sidebyside.parallel.worker_device): rank r gets cuda:r and NCCL when the machine has
a GPU per worker process, else every process uses the CPU and gloo. Before it, the lesson's
ddp_train.py asked for cuda:LOCAL_RANK whenever CUDA was available (rank 1 asked for cuda:1 on
Colab's one GPU), and the DataParallel cell left the module on the CPU (which raises on any
machine with a GPU). The lesson's own cells are run here against faked machines.
"""

from __future__ import annotations

import re
import sys
import types

import nbformat
import numpy as np
import pytest
import torch
from conftest import ROOT

from sidebyside import parallel

LESSON = ROOT / "lessons" / "05-parallelism.ipynb"

#: name -> (torch.version.cuda, torch.cuda.is_available(), torch.cuda.device_count())
MACHINES = {
    "CPU-only build": (None, False, 0),
    "CUDA build, no GPU": ("12.8", False, 0),
    "one GPU (Colab)": ("12.8", True, 1),
    "two GPUs": ("12.8", True, 2),
}


def fake_machine(monkeypatch, name: str) -> None:
    cuda, available, count = MACHINES[name]
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def lesson_cell(cell_id: str, path=LESSON) -> str:
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.get("id") == cell_id:
            return cell.source
    raise KeyError(f"{path} has no cell {cell_id!r}")


# --- the rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gpus, expected",
    [
        (0, [("cpu", "gloo"), ("cpu", "gloo")]),
        (1, [("cpu", "gloo"), ("cpu", "gloo")]),
        (2, [("cuda:0", "nccl"), ("cuda:1", "nccl")]),
        (4, [("cuda:0", "nccl"), ("cuda:1", "nccl")]),
    ],
)
def test_worker_device_gives_each_process_a_gpu_or_all_the_cpu(gpus, expected):
    got = [(w.device, w.backend) for w in (parallel.worker_device(rank, 2, gpu_count=gpus) for rank in range(2))]
    assert got == expected, f"with {gpus} GPU(s) and 2 processes, expected {expected}; got {got}"


@pytest.mark.parametrize("name", MACHINES)
def test_worker_device_reads_the_machine_and_torchruns_environment(monkeypatch, name):
    fake_machine(monkeypatch, name)
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    where = parallel.worker_device()
    expected = "cuda:1" if name == "two GPUs" else "cpu"
    assert where.device == expected, f"{name}, rank 1 of 2: expected {expected}; got {where.device} ({where.why})"
    assert where.backend == ("nccl" if expected != "cpu" else "gloo"), f"{name}: expected the backend of {expected}; got {where.backend}"
    if name == "CUDA build, no GPU":
        assert "CUDA build" in where.why, f"expected the reason to name the CUDA build without a GPU; got {where.why!r}"


def test_worker_device_counts_the_processes_on_this_machine_not_the_world(monkeypatch):
    """Two machines of two GPUs each, 4 ranks: each machine has a GPU per local process."""
    fake_machine(monkeypatch, "two GPUs")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert parallel.worker_device().device == "cuda:1", f"expected cuda:1; got {parallel.worker_device()}"


@pytest.mark.parametrize("gpus, expected", [(0, ["-1", "-1"]), (1, ["-1", "-1"]), (2, ["0", "1"])])
def test_tensorflow_workers_get_their_own_gpu_or_none(gpus, expected):
    got = [parallel.tf_worker_env(index, 2, gpus)["CUDA_VISIBLE_DEVICES"] for index in range(2)]
    assert got == expected, f"with {gpus} GPU(s), expected CUDA_VISIBLE_DEVICES {expected}; got {got}"


def test_tf_workers_pass_each_worker_its_own_environment(tmp_path):
    script = tmp_path / "show.py"
    script.write_text("import os\nprint(os.environ['CUDA_VISIBLE_DEVICES'], flush=True)\n")
    run = parallel.tf_workers(script, 2, timeout=60, env_for=lambda index: parallel.tf_worker_env(index, 2, 2)).check()
    got = [rank.stdout.strip() for rank in run.ranks]
    assert got == ["0", "1"], f"expected worker 0 to see GPU 0 and worker 1 GPU 1; got {got}"


@pytest.mark.parametrize("name, expected", [("CPU-only build", "cpu"), ("CUDA build, no GPU", "cpu"), ("one GPU (Colab)", "cuda:0"), ("two GPUs", "cuda:0")])
def test_data_parallel_device(monkeypatch, name, expected):
    fake_machine(monkeypatch, name)
    assert parallel.data_parallel_device() == expected, f"{name}: expected {expected}; got {parallel.data_parallel_device()}"


# --- the lesson's own code, on faked machines --------------------------------------------------


class ReachedTheProcessGroup(Exception):
    """Raised by the faked init_process_group: the script chose its backend (and device)."""

    def __init__(self, backend):
        super().__init__(backend)
        self.backend = backend


def run_ddp_script_until_init(source: str, monkeypatch, tmp_path) -> tuple[str, dict]:
    """Run the lesson's ddp_train.py as rank 1 of 2 up to init_process_group; return the
    backend it asked for and its variables at that point."""
    source = re.sub(r"^%%writefile.*\n", "", source)

    def fake_init(backend=None, *args, **kwargs):
        raise ReachedTheProcessGroup(backend)

    monkeypatch.setattr(torch.distributed, "init_process_group", fake_init)
    for name, value in {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["ddp_train.py", str(tmp_path / "digits.npz"), str(tmp_path)])
    namespace = {"__name__": "__main__"}
    with pytest.raises(ReachedTheProcessGroup) as reached:
        exec(compile(source, "ddp_train.py", "exec"), namespace)
    return reached.value.backend, namespace


@pytest.mark.parametrize("name", MACHINES)
def test_the_lessons_ddp_script_picks_a_device_that_exists(monkeypatch, tmp_path, name):
    fake_machine(monkeypatch, name)
    backend, namespace = run_ddp_script_until_init(lesson_cell("code-4-ddp-writefile"), monkeypatch, tmp_path)
    expected = ("nccl", "cuda:1") if name == "two GPUs" else ("gloo", "cpu")
    assert backend == expected[0], f"{name}, rank 1 of 2: expected the {expected[0]} backend (device {expected[1]}); the script asked for {backend}"
    device = namespace.get("device")
    assert str(device) == expected[1], f"{name}, rank 1 of 2: expected the device {expected[1]}; got {device}"


class FakeDataParallel:
    """nn.DataParallel's checks, on a faked GPU: the 'meta' device stands for cuda:0."""

    class Forwarded(Exception):
        pass

    def __init__(self, module, *args, **kwargs):
        found = {p.device for p in module.parameters()} | {b.device for b in module.buffers()}
        if found != {torch.device("meta")}:
            raise RuntimeError(f"module must have its parameters and buffers on device meta (the first GPU) but found them on {found}")
        self.module, self.device_ids = module, [0]

    def __call__(self, X):
        if X.device != torch.device("meta"):
            raise RuntimeError(f"expected the input on the first GPU (meta); got it on {X.device}")
        raise FakeDataParallel.Forwarded()


def run_data_parallel_cell(source: str, monkeypatch) -> None:
    monkeypatch.setattr(torch.nn, "DataParallel", FakeDataParallel)
    monkeypatch.setattr(parallel, "data_parallel_device", lambda gpu_count=None: "meta")
    digits = types.SimpleNamespace(X_train=np.zeros((64, 64), dtype=np.float32))
    namespace = {"torch": torch, "nn": torch.nn, "parallel": parallel, "digits": digits}
    with pytest.raises(FakeDataParallel.Forwarded):
        exec(compile(source, "cell", "exec"), namespace)


def test_the_lessons_data_parallel_cell_puts_module_and_input_on_the_first_gpu(monkeypatch):
    run_data_parallel_cell(lesson_cell("code-3-torch"), monkeypatch)


def test_the_lesson_never_states_where_things_ran():
    """What ran where is printed by the cells, not written in the Markdown."""
    markdown = "\n".join(c.source for c in nbformat.read(LESSON, as_version=4).cells if c.cell_type == "markdown")
    for claim in ("here both are the CPU", "on a machine with two GPUs, where it picks", "Everything runs on the CPU"):
        assert claim not in markdown, f"expected the lesson to print where code ran; its Markdown still says {claim!r}"
