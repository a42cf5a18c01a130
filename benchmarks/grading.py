"""Benchmark (not a test): grade a class of N copies of one assignment, half honest (the
solution) and half blank (the release), with plain sequential `nbgrader autograde` and with
`sidebyside grade`, in the same run on this machine; also time the solution notebook alone.

    .venv/bin/python benchmarks/grading.py [--students 40] [--assignment 03-visualization] [--workers 2]

Prints students per minute, the speed-up, the per-submission overhead over executing the
notebook alone, and peak memory. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sidebyside import assignments, notebooks  # noqa: E402


class PeakMemory:
    """Peak total RSS of a process tree, sampled every 0.2 s."""

    def __init__(self, pid: int):
        self.pid, self.peak_mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                self.peak_mb = max(self.peak_mb, rss / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def make_course(folder: Path, assignment: str, students: int) -> Path:
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "solutions" / assignment, folder / "solutions" / assignment)
    shutil.copytree(ROOT / "exercises" / assignment, folder / "exercises" / assignment)
    solution = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    blank = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    for k in range(students):
        target = folder / "submitted" / f"student{k:03d}" / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(solution if k % 2 == 0 else blank, target)
    return folder


def timed(command: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=assignments.nbgrader_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with PeakMemory(process.pid) as memory:
        output, _ = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode not in (0, 1):
        print(output[-3000:])
        raise SystemExit(f"{' '.join(command)} failed with exit code {process.returncode}")
    return seconds, memory.peak_mb, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--assignment", default="03-visualization")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    a, n = args.assignment, args.students

    alone = []
    for _ in range(2):
        run = notebooks.run(ROOT / "solutions" / a / f"{a}.ipynb", env={**assignments.nbgrader_env(), "NBGRADER_EXECUTION": "autograde"})
        alone.append(run.seconds)
    notebook_s = statistics.mean(alone)
    print(f"solution notebook alone (under grading): {notebook_s:.1f} s (runs: {', '.join(f'{s:.1f}' for s in alone)}), peak {run.peak_memory_mb:.0f} MB")

    with tempfile.TemporaryDirectory(prefix="bench-plain-") as plain_dir, tempfile.TemporaryDirectory(prefix="bench-sbs-") as sbs_dir:
        plain = make_course(Path(plain_dir), a, n)
        assignments.run_nbgrader(["generate_assignment", a, "--force"], plain)
        plain_s, plain_mb, _ = timed([sys.executable, "-m", "nbgrader", "autograde", a, "--force"], plain)
        print(f"plain nbgrader autograde: {n} students in {plain_s:.0f} s = {60 * n / plain_s:.2f} students/min, peak {plain_mb:.0f} MB")

        ours = make_course(Path(sbs_dir), a, n)
        ours_s, ours_mb, _ = timed([sys.executable, "-m", "sidebyside.cli", "grade", a, "--workers", str(args.workers), "--quiet", "--no-feedback"], ours)
        print(f"sidebyside grade --workers {args.workers}: {n} students in {ours_s:.0f} s = {60 * n / ours_s:.2f} students/min, peak {ours_mb:.0f} MB")

    print(f"speed-up over plain nbgrader: {plain_s / ours_s:.2f}x (target 1.8x)")
    per_student = ours_s * args.workers / n
    print(f"per-submission cost per worker: {per_student:.1f} s vs {notebook_s:.1f} s alone: overhead {100 * (per_student / notebook_s - 1):.0f}% (target 20%)")


if __name__ == "__main__":
    main()
