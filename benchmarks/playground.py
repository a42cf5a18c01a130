"""Benchmark (not a test): how long lesson 01's learning-curve playground takes to answer the
*Train both* button, the first time in a fresh Python and the times after, with its default
settings, on the CPU. No browser: the playground is driven as the tests drive it
(``playground.button.click()``), which runs exactly what a click runs in a notebook (training
both frameworks, progress, status and the chart redrawn into its image widget).

    .venv/bin/python benchmarks/playground.py [--runs 4] [--json results.json]

For each run it prints the wall time, the CPU time of the process (less sensitive to other
work on a shared machine), the training time of each framework, the time spent drawing and the
number of redraws; then the same for the training alone (``learning_curves.run``, no chart) in
a second fresh Python. The budget (issue 12) is 3 s for the first and for later runs. The load
average is printed first: on a busy machine wall times grow, CPU times much less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

BUDGET_S = 3.0


def measure(label: str, action) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    extra = action() or {}
    return {"run": label, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, **extra}


def prepare():
    """What the lesson has done before the playground: setup, the frameworks, the digits."""
    start = time.perf_counter()
    import sidebyside as sbs

    sbs.setup(seed=0, device="cpu", verbose=False)
    import tensorflow  # noqa: F401
    import torch  # noqa: F401

    from sidebyside import data

    split = data.load_digits()
    return sbs, split, time.perf_counter() - start


def click_runs(runs: int) -> tuple[list[dict], dict]:
    sbs, split, prepared = prepare()
    from sidebyside.widgets import learning_curves

    created = {}

    def create():
        created["playground"] = learning_curves.Playground(learning_curves.DEFAULT_CONFIG, split, device=sbs.devices.current_device())

    setup = {"prepare_s": prepared, **measure("create the playground (draws its empty chart)", create)}
    playground = created["playground"]
    results = []
    for k in range(runs):

        def click():
            playground.button.click()
            t = playground.timings
            return {
                "torch_s": t["training"]["PyTorch"],
                "tensorflow_s": t["training"]["TensorFlow"],
                "drawing_s": t["drawing_seconds"],
                "redraws": t["redraws"],
                "status": playground.status.value,
            }

        results.append(measure("first" if k == 0 else f"later {k}", click))
    return results, setup


def training_runs(runs: int) -> list[dict]:
    sbs, split, _ = prepare()
    from sidebyside.widgets import learning_curves

    results = []
    for k in range(runs):

        def train():
            result = learning_curves.run(learning_curves.DEFAULT_CONFIG, split, device=sbs.devices.current_device())
            return {"torch_s": result.seconds["PyTorch"], "tensorflow_s": result.seconds["TensorFlow"]}

        results.append(measure("first" if k == 0 else f"later {k}", train))
    return results


def table(title: str, results: list[dict]) -> None:
    print(f"\n{title}")
    print(f"{'run':>9} | {'wall s':>6} | {'CPU s':>6} | {'PyTorch s':>9} | {'TensorFlow s':>12} | {'drawing s':>9} | redraws")
    for r in results:
        drawing = f"{r['drawing_s']:>9.2f}" if "drawing_s" in r else f"{'-':>9}"
        print(
            f"{r['run']:>9} | {r['wall_s']:>6.2f} | {r['cpu_s']:>6.2f} | {r['torch_s']:>9.2f} | {r['tensorflow_s']:>12.2f} | "
            f"{drawing} | {r.get('redraws', '-')}"
        )


def verdict(results: list[dict]) -> dict:
    first, later = results[0], results[1:]
    summary = {"first_wall_s": first["wall_s"], "first_cpu_s": first["cpu_s"]}
    if later:
        summary["later_wall_s_median"] = statistics.median(r["wall_s"] for r in later)
        summary["later_cpu_s_median"] = statistics.median(r["cpu_s"] for r in later)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="runs per fresh Python, the first included (default 4)")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--training-only", action="store_true", help=argparse.SUPPRESS)  # the second fresh Python
    args = parser.parse_args()
    if args.training_only:
        print(json.dumps(training_runs(args.runs)))
        return
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPU cores; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (1, 5, 15 min)")
    clicks, setup = click_runs(args.runs)
    print(
        f"setup, frameworks and digits: {setup['prepare_s']:.1f} s; creating the playground: "
        f"{setup['wall_s']:.2f} s wall, {setup['cpu_s']:.2f} s CPU"
    )
    table("Train both, clicked (training, progress, status and chart), default settings:", clicks)
    print(f"status after the last run: {clicks[-1]['status']}")
    child = subprocess.run(
        [sys.executable, __file__, "--training-only", "--runs", str(args.runs)], capture_output=True, text=True, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    )
    trainings = json.loads(child.stdout.strip().splitlines()[-1])
    table("Training alone (learning_curves.run, no chart), in another fresh Python:", trainings)
    summary = {"click": verdict(clicks), "training_only": verdict(trainings), "budget_s": BUDGET_S, "load_average": load}
    click = summary["click"]
    print(
        f"\nBudget {BUDGET_S:.0f} s. Click: first {click['first_wall_s']:.2f} s wall ({click['first_cpu_s']:.2f} s CPU), "
        f"later {click.get('later_wall_s_median', float('nan')):.2f} s wall median ({click.get('later_cpu_s_median', float('nan')):.2f} s CPU)."
    )
    over = [name for name, value in (("first", click["first_wall_s"]), ("later", click.get("later_wall_s_median", 0.0))) if value > BUDGET_S]
    print("Within budget." if not over else f"Over budget: {', '.join(over)} (see the load average above).")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "clicks": clicks, "setup": setup, "training_only": trainings}, indent=1))


if __name__ == "__main__":
    main()
