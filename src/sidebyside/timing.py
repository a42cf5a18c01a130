"""Timing code fairly in both frameworks: warm-up first, then wait for the device to finish.

GPUs run asynchronously in both frameworks: a call returns before the work is done. PyTorch
waits with ``torch.accelerator.synchronize(device)`` (torch 2.6 and later; before that
``torch.cuda.synchronize()`` or ``torch.mps.synchronize()``); TensorFlow waits with
``tf.test.experimental.sync_devices()``. Both wait without copying anything to the host, so
that the two frameworks' times measure the same thing (reading a whole result back with
``.numpy()`` would add a device-to-host copy to TensorFlow's times only). Where there is
nothing to wait for (the CPU, with TensorFlow's default synchronous execution) both
synchronizers do nothing. Taught in lessons 02 and 04.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Timing:
    first_call_s: float  # includes tracing, compiling, kernel selection
    times_s: list[float] = field(default_factory=list)  # the steady-state calls

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def best_s(self) -> float:
        return min(self.times_s)


def torch_synchronizer(device) -> Callable[[object], None]:
    """A function that waits until ``device`` has finished its queued work."""
    import torch

    device = torch.device(device)
    if device.type == "cpu":
        return lambda result: None
    accelerator = getattr(torch, "accelerator", None)  # torch 2.6+; Colab's older torch lacks it
    if accelerator is not None and hasattr(accelerator, "synchronize"):
        return lambda result: accelerator.synchronize(device)
    if device.type == "cuda":
        return lambda result: torch.cuda.synchronize(device)
    if device.type == "mps":
        return lambda result: torch.mps.synchronize()
    return lambda result: None


def tensorflow_synchronizer(tf=None) -> Callable[[object], None]:
    """A function that waits until TensorFlow has finished its queued work, as
    :func:`torch_synchronizer` does for PyTorch: no copy of the result to the host.

    It calls ``tf.test.experimental.sync_devices()`` (eager code only, not inside a
    ``tf.function``); a TensorFlow without it reads back one element of each result, which
    waits for the work that made it and copies 4 bytes, not the whole result. With no GPU and
    synchronous execution (TensorFlow's default) a call has finished when it returns, so it
    does nothing, like PyTorch on the CPU. ``tf`` is for tests.
    """
    if tf is None:
        from .frameworks import import_tensorflow

        tf = import_tensorflow()
    sync_devices = getattr(getattr(tf.test, "experimental", None), "sync_devices", None)
    gpus = bool(tf.config.list_physical_devices("GPU"))  # physical: does not start TensorFlow's devices

    def wait(result):
        if not gpus and tf.config.experimental.get_synchronous_execution():
            return  # the CPU, synchronous: nothing is queued
        if sync_devices is not None:
            sync_devices()
            return
        for value in result if isinstance(result, (list, tuple)) else [result]:
            if hasattr(value, "numpy") and getattr(value, "shape", None) is not None:
                flat = tf.reshape(value, [-1])
                if flat.shape[0]:
                    flat[:1].numpy()  # one element: waits for the work that made it

    return wait


def measure(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1, synchronize: Callable[[object], None] | None = None) -> Timing:
    """Time ``fn()``: the first call on its own, then ``warmup`` untimed calls, then ``repeat``
    timed calls, each ended by ``synchronize(result)``."""
    sync = synchronize or (lambda result: None)
    start = time.perf_counter()
    sync(fn())
    first = time.perf_counter() - start
    for _ in range(warmup):
        sync(fn())
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - start)
    return Timing(first, times)
