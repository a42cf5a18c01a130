"""Benchmark (not a test): the kernel's share of a device change in lesson 04's device picker.

    .venv/bin/python benchmarks/device_picker.py [--changes 300]

Sets the picker's dropdown as a click does (``dropdown.value = ...``) and times until the
status widget holds the new text: the course-wide choice and the status HTML, computed in the
kernel. The browser test (tests/test_browser.py, lesson 04) measures the whole round trip, from
the change in Chromium to the repainted status, against the 100 ms budget; the difference is
JupyterLab's and the widget protocol's. Uses this machine's devices (as the lesson does) and a
made-up machine with two GPUs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sidebyside import devices  # noqa: E402
from sidebyside.widgets import device_panels as device_widgets  # noqa: E402

BUDGET_MS = 100


def time_changes(picker, values, changes: int) -> list[float]:
    """Milliseconds from setting the dropdown to the status holding the new request, per change."""
    samples = []
    for k in range(changes):
        value = values[(k + 1) % len(values)]  # values[0] is the current choice: start with a change
        before = picker.status.value
        start = time.perf_counter()
        picker.dropdown.value = value
        elapsed = (time.perf_counter() - start) * 1e3
        assert picker.status.value != before, f"choosing {value!r} left the status as it was: {before!r}"
        samples.append(elapsed)
    return samples


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"{label:<32} median {statistics.median(samples):6.3f} ms   p95 {p95:6.3f} ms   max {max(samples):6.3f} ms   ({len(samples)} changes; budget {BUDGET_MS} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=300)
    args = parser.parse_args()
    start = time.perf_counter()
    here = device_widgets.DevicePicker(initial="auto", environ={})
    print(f"picker built in {(time.perf_counter() - start) * 1e3:.0f} ms (imports both frameworks to list the devices)")
    values = [value for _, value in here.options]
    report(f"this machine ({', '.join(values)})", time_changes(here, values, args.changes))
    two_gpus = devices.merge_devices(["cpu", "cuda:0", "cuda:1"], ["/CPU:0", "/GPU:0", "/GPU:1"])
    faked = device_widgets.DevicePicker(two_gpus, {}, initial="auto", environ={})
    report("two made-up GPUs", time_changes(faked, ["auto", "cpu", "cuda:1", "cuda:0"], args.changes))


if __name__ == "__main__":
    main()
