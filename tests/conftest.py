"""Shared paths and fixtures of the test suite, and the summary of notebook measurements."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sidebyside.frameworks import TF_LOG_LEVEL

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)


#: Modules whose tests for one assignment share nothing with another's: `make test` spreads
#: their assignments over the workers (each assignment's nbgrader runs take minutes).
SPLIT_BY_ASSIGNMENT = {"test_assignments", "test_grading", "test_colab"}


def schedule_group(nodeid: str) -> str:
    """The group a test runs in under `make test` (``--dist loadscope``): its module, so a
    module's expensive fixtures (one JupyterLab, one hub) are made once, on one worker; in
    SPLIT_BY_ASSIGNMENT modules, a test parametrized by an assignment goes in that assignment's
    group (``tests/test_grading.py[05-parallelism]``)."""
    module = nodeid.split("::", 1)[0]
    if Path(module).stem in SPLIT_BY_ASSIGNMENT and nodeid.endswith("]"):
        param_id = nodeid[nodeid.rindex("[") + 1 : -1]
        if (ROOT / "solutions" / param_id).is_dir():
            return f"{module}[{param_id}]"
    return module


def pytest_xdist_make_scheduler(config, log):
    """Schedule ``--dist loadscope`` by :func:`schedule_group`.

    Not ``--dist loadgroup`` with ``xdist_group`` marks: with pytest 9.2, xdist 3.8.0's
    loadgroup silently groups nothing (it still writes the group into the node id's old field;
    pytest-dev/pytest-xdist#1386), so two workers set up the same module's class hub at once
    and killed each other's users' processes in CI."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByModuleOrAssignment(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return schedule_group(nodeid)

    return ByModuleOrAssignment(config, log)


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
