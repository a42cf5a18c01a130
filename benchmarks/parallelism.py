"""Benchmark (not a test) for lesson 05: the figures its budgets are about, measured here.

    .venv/bin/python benchmarks/parallelism.py [--workers 1,2] [--batch-sizes 64,512,2048] [--steps 11] [--skip-notebooks]

Prints, as Markdown:

1. lesson 05 and its solution run headless top to bottom: wall time, CPU time (kernel and
   every worker process), the kernel's peak memory and the peak memory of the kernel with all
   its workers (budgets: lesson <= 45 s (issue 21), solution <= 60 s on 2 cores, each kernel <= 2 GB), and
   whether any worker process outlived the run;
2. the speed-up table of both frameworks (sidebyside.parallel.measure_scaling) for each number
   of workers and global batch size;
3. PyTorch's sequential baseline (one worker on the whole global batch): timed, as the lesson
   does, by rank 0 inside the multi-worker launch while the others wait, against the same steps
   in a process of its own with no process group (``--alone``, what TensorFlow's baseline always
   is), runs interleaved;
4. how long a crashing and a hanging worker take to be reported, with each launcher.

Run it on an otherwise idle machine: other programs take cores and every figure drops.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
# The worker processes, too, run this checkout's package (not another one installed editable).
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))

from sidebyside import notebooks, parallel  # noqa: E402

CRASH = """
import json, os, time
rank = json.loads(os.environ["TF_CONFIG"])["task"]["index"] if "TF_CONFIG" in os.environ else int(os.environ["RANK"])
if rank == 1:
    raise ValueError("rank 1 is broken on purpose")
time.sleep(600)
"""
HANG = "import time\ntime.sleep(600)\n"


class TreeWatch:
    """Peak RSS of this process's children (the kernel and every worker under it), sampled
    every 0.2 s, and their CPU time."""

    def __init__(self):
        self.me = psutil.Process()
        self.peak_mb = 0.0
        self.cpu_s: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            total = 0
            for proc in self.me.children(recursive=True):
                try:
                    total += proc.memory_info().rss
                    times = proc.cpu_times()
                    self.cpu_s[proc.pid] = times.user + times.system + times.children_user + times.children_system
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_notebook(path: Path) -> dict:
    env = dict(os.environ)
    env.pop("SIDEBYSIDE_DEVICE", None)
    env.pop("NBGRADER_EXECUTION", None)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    before = os.times()
    with TreeWatch() as watch:
        run = notebooks.run(path, env=env, timeout=900)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"notebook": str(path.relative_to(ROOT)), "seconds": run.seconds, "cpu_s": max(cpu, sum(watch.cpu_s.values())),
            "kernel_peak_mb": run.peak_memory_mb, "tree_peak_mb": watch.peak_mb, "leftovers": parallel.leftover_processes()}


def alone_baseline(workers: int, sizes: list[int], steps: int) -> dict[int, float]:
    """PyTorch's median sequential step per global batch size, in a process of its own on the
    device rank 0 of a ``workers``-worker launch gets."""
    from sidebyside.parallel.launching import RESULT_PREFIX

    env = {**os.environ, "OMP_NUM_THREADS": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": str(workers)}
    command = [sys.executable, "-m", "sidebyside.parallel", "torch-scaling", "--batch-sizes", ",".join(map(str, sizes)),
               "--steps", str(steps), "--warmup", "3", "--alone"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=300).stdout
    records = [json.loads(line[len(RESULT_PREFIX):]) for line in out.splitlines() if line.startswith(RESULT_PREFIX)]
    return {r["global_batch_size"]: statistics.median(r["sequential_step_s"]) for r in records}


def baseline_check(workers: int, sizes: list[int], steps: int, repeats: int) -> list[str]:
    """Markdown rows: per batch size, the median over ``repeats`` interleaved runs of PyTorch's
    sequential step timed inside the launch and alone, with every run's figure."""
    inside: dict[int, list[float]] = {b: [] for b in sizes}
    alone: dict[int, list[float]] = {b: [] for b in sizes}
    for _ in range(repeats):
        for r in parallel.measure_scaling("torch", workers, sizes, steps=steps, warmup=3):
            inside[r.global_batch_size].append(statistics.median(r.sequential_step_s))
        for b, seconds in alone_baseline(workers, sizes, steps).items():
            alone[b].append(seconds)

    def runs(xs):
        return ", ".join(f"{x * 1e3:.2f}" for x in xs)

    return [f"| {b} | {statistics.median(inside[b]) * 1e3:.2f} ms ({runs(inside[b])}) | {statistics.median(alone[b]) * 1e3:.2f} ms ({runs(alone[b])}) "
            f"| {statistics.median(inside[b]) / statistics.median(alone[b]):.2f} |" for b in sizes]


def failure_latency(folder: Path) -> list[tuple[str, float, str]]:
    crash, hang = folder / "crash.py", folder / "hang.py"
    crash.write_text(CRASH)
    hang.write_text(HANG)
    rows = []
    for name, launch in (
        ("torchrun, rank 1 crashes", lambda: parallel.torchrun(crash, 2, timeout=120)),
        ("torchrun, both hang (limit 20 s)", lambda: parallel.torchrun(hang, 2, timeout=20)),
        ("tf_workers, rank 1 crashes", lambda: parallel.tf_workers(crash, 2, timeout=120)),
        ("tf_workers, both hang (limit 20 s)", lambda: parallel.tf_workers(hang, 2, timeout=20)),
    ):
        start = time.monotonic()
        result = launch()
        rows.append((name, time.monotonic() - start, result.summary().splitlines()[0] + " | " + "; ".join(
            f"rank {r.rank}: {r.error or 'ok'}" for r in result.ranks)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default=",".join(str(w) for w in range(1, parallel.max_workers() + 1)))
    parser.add_argument("--batch-sizes", default="64,512,2048")
    parser.add_argument("--steps", type=int, default=11)
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--baseline-repeats", type=int, default=5, help="interleaved runs of the sequential-baseline check (0: skip it)")
    args = parser.parse_args()
    print(f"# Lesson 05 benchmark: {parallel.max_workers()} cores, load average {os.getloadavg()[0]:.1f} at the start\n")

    if not args.skip_notebooks:
        print("| notebook | wall | CPU (kernel + workers) | kernel peak | kernel + workers peak | processes left |")
        print("| --- | --- | --- | --- | --- | --- |")
        for path in (ROOT / "lessons" / "05-parallelism.ipynb", ROOT / "solutions" / "05-parallelism" / "05-parallelism.ipynb"):
            row = run_notebook(path)
            print(f"| {row['notebook']} | {row['seconds']:.1f} s | {row['cpu_s']:.1f} s | {row['kernel_peak_mb']:.0f} MB | {row['tree_peak_mb']:.0f} MB | {row['leftovers'] or 'none'} |")
        print()

    sizes = [int(b) for b in args.batch_sizes.split(",")]
    results = []
    for framework in ("torch", "tensorflow"):
        for workers in (int(w) for w in args.workers.split(",")):
            usable = [b for b in sizes if b % workers == 0]
            results += parallel.measure_scaling(framework, workers, usable, steps=args.steps, warmup=3)
    print("## Speed-up\n\n```")
    print(parallel.scaling_table(results))
    print("```\n")

    if args.baseline_repeats:
        workers = max(int(w) for w in args.workers.split(","))
        usable = [b for b in sizes if b % workers == 0]
        print(f"## PyTorch's sequential baseline: inside the {workers}-worker launch (the lesson's) or alone\n")
        print("| batch | inside the launch (each run) | alone (each run) | inside / alone |\n| --- | --- | --- | --- |")
        print("\n".join(baseline_check(workers, usable, args.steps, args.baseline_repeats)) + "\n")

    print("## Failure reports\n\n| case | reported after | report |\n| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name, seconds, report in failure_latency(Path(folder)):
            print(f"| {name} | {seconds:.1f} s | {report} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; processes left: {parallel.leftover_processes() or 'none'}")


if __name__ == "__main__":
    main()
