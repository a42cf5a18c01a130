"""Which device each worker process uses: one GPU each when there is one per worker, else the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


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
