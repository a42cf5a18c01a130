"""Measuring data parallelism: speed-up, throughput and efficiency from real multi-process runs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from .launching import tf_workers, torchrun
from .worker_devices import tf_gpu_count, tf_worker_env


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
    PyTorch: one :func:`torchrun` launch; TensorFlow: two :func:`tf_workers` launches.

    The sequential run (one worker on the whole global batch) is, in PyTorch, rank 0 alone in
    the same launch before the others join: they wait in ``dist.barrier()``, using no CPU. In
    TensorFlow it is a launch of its own, one process that makes no strategy: a process must
    make its strategy before any operation, and a step outside ``strategy.run`` after that is
    slower than in a plain process, which would flatter the speed-up. Each
    worker's device is :func:`worker_device`'s choice: one GPU each when this machine has a GPU
    per worker, else the CPU for all; the sequential run uses worker 0's device. Each launch is
    stopped after ``timeout`` seconds. Raises :class:`WorkerFailed`, with each rank's error, if
    one fails or runs out of time."""
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
        runs = [torchrun("sidebyside.parallel", workers, ["torch-scaling", *args], timeout=timeout, module=True).check()]
    else:
        gpus = tf_gpu_count()
        runs = [
            tf_workers("sidebyside.parallel", count, ["tf-scaling", *args, *extra], timeout=timeout, module=True,
                       env_for=lambda i: tf_worker_env(i, workers, gpus)).check()
            for count, extra in ((1, ["--alone"]), (workers, []))
        ]
    seconds = time.monotonic() - start
    rows: dict[int, dict] = {}
    for record in [r for run in runs for r in run.results()]:
        row = rows.setdefault(record["global_batch_size"], {"device": record["device"], "sequential": None, "ranks": {}})
        if record.get("step_s") is not None:
            row["ranks"][record["rank"]] = record["step_s"]
        if record.get("sequential_step_s") is not None:
            row["sequential"] = record["sequential_step_s"]
    return [
        ScalingResult(name, workers, b, rows[b]["device"], rows[b]["sequential"], [rows[b]["ranks"][r] for r in range(workers)], seconds)
        for b in sizes
    ]


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

    from ..plots import color_for

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
