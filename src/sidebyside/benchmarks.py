"""How fast is a matrix multiplication? Timed fairly in PyTorch, TensorFlow and NumPy.

A matmul of two ``n x n`` matrices does ``2 n^3`` floating-point operations (n^3 multiplies,
n^3 adds), so its speed in GFLOP/s is ``2 n^3 / seconds / 1e9``. Each framework is timed the
same way (:func:`sidebyside.timing.measure`): one first call on its own (it includes kernel
selection and memory allocation), warm-up calls, then timed calls that each wait until the
device has finished. The speed is that of the fastest timed call, as ``timeit`` advises: on a
shared machine slower calls measure the other programs. NumPy on the CPU is the reference line. Taught in lesson 04, where the
benchmark panel (``sidebyside.widgets.device_panels``) runs these functions.

The three ``*_matmul`` functions have the same signature: ``(n, device, *, dtype, repeat,
warmup, seed)``, returning a :class:`BenchmarkResult`.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import timing

FRAMEWORKS = ("PyTorch", "TensorFlow", "NumPy")


@dataclass(frozen=True)
class BenchmarkResult:
    framework: str  # "PyTorch", "TensorFlow" or "NumPy"
    n: int  # the matrices are n x n
    device: str  # the device as the framework names it: "cuda:0", "/GPU:0", "cpu"
    dtype: str
    first_call_s: float  # the first call, alone: not counted in the speed
    median_s: float  # median of the timed calls
    best_s: float  # fastest timed call: what the hardware can do when nothing else gets in the way
    repeat: int

    @property
    def gflops(self) -> float:
        """Speed of the fastest timed call (on a shared machine the median wanders with the load)."""
        return gflops(self.n, self.best_s)


def matmul_flops(n: int) -> int:
    """Floating-point operations of one ``n x n`` by ``n x n`` matmul: ``2 n^3``."""
    return 2 * n**3


def gflops(n: int, seconds: float) -> float:
    """Speed in GFLOP/s of an ``n x n`` matmul that took ``seconds``."""
    return matmul_flops(n) / seconds / 1e9 if seconds > 0 else float("inf")


def torch_matmul(n: int, device="cpu", *, dtype: str = "float32", repeat: int = 5, warmup: int = 2, seed: int = 0) -> BenchmarkResult:
    """Time ``A @ B`` in PyTorch on ``device``, synchronizing the device after each call."""
    import torch

    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    A = torch.randn(n, n, generator=generator, dtype=getattr(torch, dtype)).to(device)
    B = torch.randn(n, n, generator=generator, dtype=getattr(torch, dtype)).to(device)
    result = timing.measure(lambda: A @ B, repeat=repeat, warmup=warmup, synchronize=timing.torch_synchronizer(device))
    return BenchmarkResult("PyTorch", n, str(device), dtype, result.first_call_s, result.median_s, result.best_s, repeat)


def _tensorflow_wait(result) -> None:
    # Reading one element back waits for the whole matmul (the GPU runs its queue in order)
    # without timing a copy of the full n x n result to the host.
    result[0, 0].numpy()


def tensorflow_matmul(n: int, device="/CPU:0", *, dtype: str = "float32", repeat: int = 5, warmup: int = 2, seed: int = 0) -> BenchmarkResult:
    """Time ``tf.matmul(A, B)`` in TensorFlow under ``tf.device(device)``, reading a value
    back after each call (TensorFlow runs GPU work asynchronously too)."""
    from .frameworks import import_tensorflow

    tf = import_tensorflow()
    generator = tf.random.Generator.from_seed(seed)
    with tf.device(device):
        A = tf.cast(generator.normal((n, n)), dtype)
        B = tf.cast(generator.normal((n, n)), dtype)

        result = timing.measure(lambda: tf.matmul(A, B), repeat=repeat, warmup=warmup, synchronize=_tensorflow_wait)
    return BenchmarkResult("TensorFlow", n, "/" + A.device.split("device:")[-1], dtype, result.first_call_s, result.median_s, result.best_s, repeat)


def numpy_matmul(n: int, device="cpu", *, dtype: str = "float32", repeat: int = 5, warmup: int = 2, seed: int = 0) -> BenchmarkResult:
    """Time ``A @ B`` in NumPy (always on the CPU: ``device`` must be ``"cpu"``)."""
    import numpy as np

    if str(device).lower() not in ("cpu", "/cpu:0"):
        raise ValueError(f"NumPy runs on the CPU only, not on {device!r}")
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    result = timing.measure(lambda: A @ B, repeat=repeat, warmup=warmup)
    return BenchmarkResult("NumPy", n, "cpu", dtype, result.first_call_s, result.median_s, result.best_s, repeat)


def run(sizes, choice=None, *, frameworks=FRAMEWORKS, dtype: str = "float32", repeat: int = 5, warmup: int = 2) -> list[BenchmarkResult]:
    """Benchmark every framework at every size on the course-wide device (or ``choice``, a
    :class:`sidebyside.devices.DeviceChoice`). NumPy always runs on the CPU."""
    from . import devices

    choice = devices.current_device() if choice is None else choice
    runners = {
        "PyTorch": (torch_matmul, choice.torch),
        "TensorFlow": (tensorflow_matmul, choice.tensorflow),
        "NumPy": (numpy_matmul, "cpu"),
    }
    unknown = set(frameworks) - set(runners)
    if unknown:
        raise ValueError(f"unknown frameworks {sorted(unknown)}; choose from {list(runners)}")
    results = []
    for n in sorted(int(n) for n in sizes):
        for name in frameworks:
            runner, device = runners[name]
            results.append(runner(n, device, dtype=dtype, repeat=repeat, warmup=warmup))
    return results


def table(results: list[BenchmarkResult]) -> str:
    """The results as aligned text, one line per framework and size (GFLOP/s of the best call)."""
    lines = [f"{'framework':<11} {'n':>5} {'device':<8} {'first call':>11} {'median':>10} {'best':>10} {'GFLOP/s':>9}"]
    for r in results:
        lines.append(
            f"{r.framework:<11} {r.n:>5} {r.device:<8} {r.first_call_s * 1e3:>8.2f} ms {r.median_s * 1e3:>7.2f} ms "
            f"{r.best_s * 1e3:>7.2f} ms {r.gflops:>9.1f}"
        )
    return "\n".join(lines)


def plot(results: list[BenchmarkResult], *, ax=None, title: str = "Matmul speed"):
    """GFLOP/s against matrix size: one line per framework, NumPy dashed as the reference."""
    import matplotlib.pyplot as plt

    from .plots import color_for

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.4))
    for name in FRAMEWORKS:
        rows = sorted((r for r in results if r.framework == name), key=lambda r: r.n)
        if rows:
            device = rows[0].device
            ax.plot(
                [r.n for r in rows],
                [r.gflops for r in rows],
                "--" if name == "NumPy" else "-o",
                color=color_for(name),
                label=f"{name} ({device})",
            )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("matrix size n (n x n)")
    ax.set_ylabel("GFLOP/s (best call)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize="small")
    return ax
