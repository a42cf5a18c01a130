"""Every lesson and every solution runs top to bottom in a fresh kernel, headless."""

from __future__ import annotations

import os

import pytest
from conftest import ROOT, lessons, rel, solutions

from sidebyside import notebooks

pytestmark = pytest.mark.notebook


def kernel_environment() -> dict:
    env = dict(os.environ)
    # A student's own device choice must not leak into the test run.
    env.pop("SIDEBYSIDE_DEVICE", None)
    env.pop("NBGRADER_EXECUTION", None)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    return env


@pytest.mark.parametrize("path", lessons() + solutions(), ids=rel)
def test_notebook_runs_headless(path, record_property):
    try:
        run = notebooks.run(path, env=kernel_environment())
    except Exception as error:  # CellExecutionError carries the cell and its traceback
        pytest.fail(f"{rel(path)} failed to run top to bottom:\n{error}", pytrace=False)
    record_property(
        "measurement",
        {"kind": "lesson" if path.parent.name == "lessons" else "solution", "notebook": rel(path), "seconds": run.seconds, "peak_memory_mb": run.peak_memory_mb},
    )
    print(f"{rel(path)}: {run.seconds:.1f} s, peak {run.peak_memory_mb:.0f} MB")


def test_there_are_notebooks_to_run():
    assert (ROOT / "lessons" / "00-welcome.ipynb").exists(), "lesson 00 is missing"
