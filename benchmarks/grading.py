"""Benchmark (not a test): grade a class of N copies of one assignment, half honest (the
solution) and half blank (the release), with plain sequential `nbgrader autograde` and with
`sidebyside grade`, in the same run on this machine; also time the solution notebook alone.

    .venv/bin/python benchmarks/grading.py [--students 40] [--assignment 03-visualization] [--workers 2] [--cold-start] [--stored-answers]

Prints students per minute, the speed-up, the per-submission overhead over executing the
notebook alone, and peak memory, and compares every student's score in each grade cell between
the two gradebooks. ``--stored-answers``: the class cycles through the solution, the blank, a
half-done copy and one student per round of the stored right and wrong answers (tests/), not
just the first two; the cheats and delegations among the wrong answers are left out (plain
nbgrader is fooled by them on purpose: tests/test_assignments.py). Run it on an otherwise
idle machine.
"""

from __future__ import annotations

import argparse
import os
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

from sidebyside import notebooks  # noqa: E402
from sidebyside.instructor import nbgrader_course as assignments  # noqa: E402


class PeakMemory:
    """Peak total memory of a process tree, sampled every 0.2 s: RSS (pages shared between
    processes, such as a warm kernel's and its server's, counted in each) and PSS (shared pages
    split between the processes that share them)."""

    def __init__(self, pid: int):
        # made now, while the process runs: psutil then never mistakes a later holder of the pid for it
        self.root = psutil.Process(pid)
        self.peak_mb, self.peak_pss_mb, self._stop = 0.0, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree)
                pss = sum(p.memory_full_info().pss for p in tree)
                self.peak_mb = max(self.peak_mb, rss / 2**20)
                self.peak_pss_mb = max(self.peak_pss_mb, pss / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def submissions(assignment: str, stored_answers: bool) -> list[nbformat.NotebookNode]:
    """The notebooks the class cycles through: the solution and the blank; with
    ``stored_answers``, also a half-done copy and the stored answers' rounds (no cheats)."""
    solution = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    blank = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    if not stored_answers:
        return [solution, blank]
    sys.path.insert(0, str(ROOT / "tests"))
    import scratch_course
    import stored_answers as stored

    answers = scratch_course.answer_cell_ids(solution)
    untouched = {c.metadata.nbgrader["grade_id"]: c.source for c in blank.cells if c.metadata.get("nbgrader", {}).get("grade_id") in answers}
    notebooks = [solution, blank, scratch_course.replace_cells(solution, {a: untouched[a] for a in answers[len(answers) // 2 :]})]
    honest = lambda by_name: {n: a for n, a in by_name.items() if stored.label(n) not in ("cheats", "delegates")}  # noqa: E731
    for kind in ("right", "wrong"):
        answers_ = {cell: honest(by_name) for cell, by_name in stored.stored_answers(kind, assignment).items()}
        for round_ in stored.rounds({cell: by_name for cell, by_name in answers_.items() if by_name}):
            notebooks.append(scratch_course.replace_cells(solution, {cell: source for cell, (_, source) in round_.items()}))
    return notebooks


def make_course(folder: Path, assignment: str, students: int, notebooks: list) -> Path:
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copytree(ROOT / "solutions" / assignment, folder / "solutions" / assignment)
    shutil.copytree(ROOT / "exercises" / assignment, folder / "exercises" / assignment)
    for k in range(students):
        target = folder / "submitted" / f"student{k:03d}" / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(notebooks[k % len(notebooks)], target)
    return folder


def scores(course: Path, assignment: str) -> dict[tuple[str, str], float | None]:
    """{(student, grade cell): score} from the course's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    found = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    found[(student.id, grade.name)] = grade.score
    return found


def compare_scores(plain: dict, ours: dict, students: int) -> str:
    """One line: every student's score in every grade cell the same in both gradebooks, or
    the differences."""
    graded = {student for student, _ in plain} | {student for student, _ in ours}
    differ = sorted(key for key in plain.keys() | ours.keys() if plain.get(key) != ours.get(key))
    if not differ and len(graded) == students:
        return f"same scores: all {students} students, {len(plain)} grade cells, equal in both gradebooks"
    shown = "; ".join(f"{s} {cell}: nbgrader {plain.get((s, cell))}, sidebyside {ours.get((s, cell))}" for s, cell in differ[:20])
    return f"SCORES DIFFER: {len(differ)} cells ({len(graded)} of {students} students in the gradebooks): {shown}"


def timed(command: list[str], cwd: Path) -> tuple[float, PeakMemory, str]:
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=assignments.nbgrader_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with PeakMemory(process.pid) as memory:
        output, _ = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode not in (0, 1):
        print(output[-3000:])
        raise SystemExit(f"{' '.join(command)} failed with exit code {process.returncode}")
    return seconds, memory, output


def notebook_in_warm_kernel(path: Path, threads: int) -> float:
    """Seconds to execute ``path`` alone in a kernel forked in a worker's sandbox, from its warm
    server, under the grading environment of a run (``threads`` per kernel): the baseline of
    the harness's own overhead when `sidebyside grade` uses warm kernels."""
    from nbclient import NotebookClient
    from traitlets.config import Config

    from sidebyside.instructor.grading import execute, limits, sandbox, student

    settings = limits.Limits(threads=threads)
    mode, _ = sandbox.available()
    with tempfile.TemporaryDirectory(prefix="bench-warm-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None) as folder:
        box = sandbox.Sandbox(0, mode, base=Path(folder), hide=[], limits=settings, env=student.grading_env(settings), log=Path(folder) / "log")
        try:
            box.start()
            assert box.wait_ready(), box.server.error
            kernel_input = box.prepare()
            config = Config()
            config.GradingKernelManager.kernel_server = box.address
            config.KernelManager.transport = "ipc"
            config.KernelManager.ip = str(box.exchange / "kernel")
            saved = dict(os.environ)
            os.environ.update({**student.grading_env(settings), "NBGRADER_EXECUTION": "autograde"})
            try:
                nb = nbformat.read(path, as_version=4)
                start = time.perf_counter()
                NotebookClient(nb, timeout=600, kernel_manager_class=execute.GradingKernelManager, config=config, allow_errors=True,
                               resources={"metadata": {"path": str(kernel_input)}}).execute()
                return time.perf_counter() - start
            finally:
                os.environ.clear()
                os.environ.update(saved)
        finally:
            box.stop()


def peak(memory: PeakMemory) -> str:
    return f"peak {memory.peak_mb:.0f} MB RSS, {memory.peak_pss_mb:.0f} MB PSS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--assignment", default="03-visualization")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cold-start", action="store_true", help="grade with --cold-start (the method before warm starts)")
    parser.add_argument("--stored-answers", action="store_true", help="a class of the stored right and wrong answers too, not just solution and blank")
    args = parser.parse_args()
    a, n = args.assignment, args.students

    alone = []
    for _ in range(2):
        run = notebooks.run(ROOT / "solutions" / a / f"{a}.ipynb", env={**assignments.nbgrader_env(), "NBGRADER_EXECUTION": "autograde"})
        alone.append(run.seconds)
    notebook_s = statistics.mean(alone)
    print(f"solution notebook alone (under grading): {notebook_s:.1f} s (runs: {', '.join(f'{s:.1f}' for s in alone)}), peak {run.peak_memory_mb:.0f} MB")
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    warm = [notebook_in_warm_kernel(ROOT / "solutions" / a / f"{a}.ipynb", threads) for _ in range(2)]
    warm_s = statistics.mean(warm)
    print(f"solution notebook alone in a warm kernel in a sandbox ({threads} thread(s), as in the run): {warm_s:.1f} s (runs: {', '.join(f'{s:.1f}' for s in warm)})")

    with tempfile.TemporaryDirectory(prefix="bench-plain-") as plain_dir, tempfile.TemporaryDirectory(prefix="bench-sbs-") as sbs_dir:
        class_notebooks = submissions(a, args.stored_answers)
        print(f"the class: {n} students cycling through {len(class_notebooks)} different submissions")
        plain = make_course(Path(plain_dir), a, n, class_notebooks)
        assignments.run_nbgrader(["generate_assignment", a, "--force"], plain)
        plain_s, plain_memory, _ = timed([sys.executable, "-m", "nbgrader", "autograde", a, "--force"], plain)
        print(f"plain nbgrader autograde: {n} students in {plain_s:.0f} s = {60 * n / plain_s:.2f} students/min, {peak(plain_memory)}")

        ours = make_course(Path(sbs_dir), a, n, class_notebooks)
        command = [sys.executable, "-m", "sidebyside.instructor.cli", "grade", a, "--workers", str(args.workers), "--quiet", "--no-feedback"]
        ours_s, ours_memory, _ = timed(command + (["--cold-start"] if args.cold_start else []), ours)
        label = " --cold-start" if args.cold_start else ""
        print(f"sidebyside grade --workers {args.workers}{label}: {n} students in {ours_s:.0f} s = {60 * n / ours_s:.2f} students/min, {peak(ours_memory)}")
        print(compare_scores(scores(plain, a), scores(ours, a), n))

    print(f"speed-up over plain nbgrader: {plain_s / ours_s:.2f}x (budget 5x for 40 students, 4x for 12, on 2 idle cores)")
    per_student = ours_s * args.workers / n
    print(f"per-submission cost per worker: {per_student:.1f} s vs {notebook_s:.1f} s alone: overhead {100 * (per_student / notebook_s - 1):.0f}% (target 20%)")
    if not args.cold_start:
        print(f"  and vs {warm_s:.1f} s alone in a warm kernel: overhead {100 * (per_student / warm_s - 1):.0f}% (the harness's own cost)")


if __name__ == "__main__":
    main()
