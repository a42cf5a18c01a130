"""Shared paths and fixtures of the test suite, and the summary of notebook measurements."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sidebyside.frameworks import TF_LOG_LEVEL

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)


#: Modules whose tests for one assignment share nothing with another's: `make test` spreads
#: their assignments over the workers (each assignment's nbgrader runs take minutes).
SPLIT_BY_ASSIGNMENT = {"test_assignments", "test_grading"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Group tests for pytest-xdist's ``--dist loadgroup`` (see the Makefile): one group per
    module, so a module's expensive fixtures (one JupyterLab, one hub) are made once, on one
    worker; in SPLIT_BY_ASSIGNMENT modules, one group per assignment."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        group = item.module.__name__
        params = getattr(getattr(item, "callspec", None), "params", {})
        if group in SPLIT_BY_ASSIGNMENT and "assignment" in params:
            group = f"{group}[{params['assignment']}]"
        item.add_marker(pytest.mark.xdist_group(group))


def lessons() -> list[Path]:
    return sorted((ROOT / "lessons").glob("*.ipynb"))


def solutions() -> list[Path]:
    return sorted((ROOT / "solutions").glob("*/*.ipynb"))


def assignments() -> list[str]:
    from sidebyside.assignments import assignment_ids

    return assignment_ids(ROOT)


def rel(path: Path) -> str:
    return str(Path(path).resolve().relative_to(ROOT))


def pytest_terminal_summary(terminalreporter):
    """Print (and save) each notebook's time and peak memory, recorded by the tests."""
    rows = []
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "measurement":
                rows.append(value)
    if not rows:
        return
    rows.sort(key=lambda r: (r["kind"], r["notebook"]))
    terminalreporter.section("notebook measurements (2-core machine figures in the issue notes)")
    for row in rows:
        memory = f"{row['peak_memory_mb']:8.0f} MB" if "peak_memory_mb" in row else ""
        terminalreporter.line(f"{row['kind']:<22} {row['notebook']:<60} {row['seconds']:7.1f} s {memory}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "notebook-measurements.json").write_text(json.dumps(rows, indent=1))
