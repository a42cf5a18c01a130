"""Benchmark (not a test): the share of stored wrong answers each assignment's tests diagnose
by their own misconception, and where they do not, what the tests said instead.

    .venv/bin/python benchmarks/misconceptions.py                      # every assignment with a catalogue
    .venv/bin/python benchmarks/misconceptions.py 03-visualization [--task torch_log_history] [-v]

Quick, for writing a catalogue: one kernel per assignment runs the solution once (under
nbgrader's grading flag, as autograde does), then for each stored wrong answer runs the answer
and its task's test cells (hidden tests included), reads the ids the failure names, and puts
the solution's answer back. The check that counts is in `make test`
(tests/test_grading.py::test_every_wrong_answer_is_diagnosed_by_its_own_misconception), through
`sidebyside grade`, one notebook per student.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import nbformat  # noqa: E402
from jupyter_client.manager import start_new_kernel  # noqa: E402

from sidebyside import misconceptions  # noqa: E402
from sidebyside.course import GRADING_ENV_VAR  # noqa: E402


def run(client, source: str, timeout: float = 300) -> str:
    """Execute ``source``; the text of its errors and stdout."""
    msg_id = client.execute(source, store_history=False)
    texts = []
    while True:
        try:
            msg = client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return "\n".join(texts) + "\n(timed out)"
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            texts.append(f"{content['ename']}: {content['evalue']}")
        elif kind == "stream":
            texts.append(content["text"])
        elif kind == "status" and content["execution_state"] == "idle":
            return "\n".join(texts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--task", help="only this answer cell's wrong answers")
    parser.add_argument("-v", "--verbose", action="store_true", help="print what the tests said for each answer not diagnosed")
    args = parser.parse_args(argv)
    from stored_answers import PLAIN_CATEGORIES, label, wrong_answers

    shares = {}
    for assignment in args.assignments or misconceptions.assignments():
        folder = ROOT / "solutions" / assignment
        solution = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in solution.cells}
        env = {**os.environ, GRADING_ENV_VAR: "1"}
        manager, client = start_new_kernel(kernel_name="python3", cwd=str(folder), env=env)
        try:
            for cell in solution.cells:
                if cell.cell_type == "code":
                    out = run(client, cell.source)
                    if "Error" in out and cell.metadata.get("nbgrader", {}).get("grade"):
                        print(f"  the solution fails {cell.metadata.nbgrader.get('grade_id')}: {out[-400:]}")
            right = total = 0
            for task, answers in wrong_answers(assignment).items():
                if args.task and task != args.task:
                    continue
                tests = [gid for gid in cells if gid and (gid == f"test_{task}" or gid.startswith(f"test_{task}_"))]
                for name, source in answers.items():
                    expected = label(name)
                    if expected in PLAIN_CATEGORIES or expected is None:
                        continue
                    total += 1
                    said = run(client, source) + "\n" + "\n".join(run(client, cells[t].source) for t in tests)
                    found = misconceptions.found_in(said)
                    run(client, cells[task].source)  # the solution back, for the next answer
                    if found == [expected]:
                        right += 1
                    else:
                        print(f"  {task}: {name!r}: expected [{expected}], found {found}")
                        if args.verbose:
                            print("      " + said.strip()[-700:].replace("\n", "\n      "))
            shares[assignment] = (right, total)
            print(f"{assignment}: {right} of {total} misconception answers diagnosed by their own id ({100 * right / max(total, 1):.0f}%)")
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    right, total = sum(r for r, _ in shares.values()), sum(t for _, t in shares.values())
    print(f"all: {right} of {total} ({100 * right / max(total, 1):.0f}%)")
    return 0 if right == total else 1


if __name__ == "__main__":
    sys.exit(main())
