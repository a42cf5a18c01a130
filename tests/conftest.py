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


#: Modules whose tests for one notebook share nothing with another's: `make test` spreads their
#: notebooks over the workers (a notebook's nbgrader runs, its Colab run or its JupyterLab run take
#: minutes), one group per lesson or assignment.
SPLIT_BY_NOTEBOOK = {"test_assignments", "test_grading", "test_colab", "test_browser"}

#: Seconds each group took in the last full run (written by pytest_sessionfinish below) and the
#: committed seed a fresh clone starts from (refresh it by copying the first over it).
RECORDED_DURATIONS = ARTIFACTS / "group-durations.json"
SEED_DURATIONS = ROOT / "tests" / "group-durations.json"
#: Groups that start after every other: tests/test_site.py builds the website from the lesson
#: executions that test_browser's lesson groups store, and waits for those still running.
START_LAST = {"tests/test_site.py"}
#: A group with no recorded duration is guessed at this many seconds per test.
GUESS_SECONDS_PER_TEST = 5.0


def notebook_of(param_id: str) -> str | None:
    """The lesson or assignment a test parameter names (``05-parallelism``, ``05-parallelism.ipynb``)."""
    stem = param_id.removesuffix(".ipynb")
    if (ROOT / "solutions" / stem).is_dir() or (ROOT / "lessons" / f"{stem}.ipynb").is_file():
        return stem
    return None


def schedule_group(nodeid: str) -> str:
    """The group a test runs in under `make test` (``--dist loadscope``): its module, so a
    module's expensive fixtures (one JupyterLab, one hub) are made once, on one worker; in
    SPLIT_BY_NOTEBOOK modules, a test parametrized by a lesson or an assignment goes in that
    notebook's group (``tests/test_grading.py[05-parallelism]``)."""
    module = nodeid.split("::", 1)[0]
    if Path(module).stem in SPLIT_BY_NOTEBOOK and nodeid.endswith("]"):
        notebook = notebook_of(nodeid[nodeid.rindex("[") + 1 : -1])
        if notebook:
            return f"{module}[{notebook}]"
    return module


def recorded_durations() -> dict[str, float]:
    """Seconds per group: the last full run's where there is one, else the committed seed."""
    durations: dict[str, float] = {}
    for path in (SEED_DURATIONS, RECORDED_DURATIONS):
        try:
            durations.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            pass
    return durations


def longest_first(groups: dict[str, int], durations: dict[str, float]) -> list[str]:
    """``groups`` ({group: number of tests}) in the order to start them: the longest expected
    first, so that no long group starts last and leaves one worker running alone at the end;
    START_LAST's groups after all others, so that every group they wait for is already handed to
    a worker, ahead of them in its queue (waiting cannot deadlock)."""
    expected = {g: durations.get(g, GUESS_SECONDS_PER_TEST * n) for g, n in groups.items()}
    return sorted(groups, key=lambda g: (g in START_LAST, -expected[g]))


def pytest_xdist_make_scheduler(config, log):
    """Schedule ``--dist loadscope`` by :func:`schedule_group`, longest group first.

    Not ``--dist loadgroup`` with ``xdist_group`` marks: with pytest 9.2, xdist 3.8.0's
    loadgroup silently groups nothing (it still writes the group into the node id's old field;
    pytest-dev/pytest-xdist#1386), so two workers set up the same module's class hub at once
    and killed each other's users' processes in CI."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByNotebookLongestFirst(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return schedule_group(nodeid)

        def _assign_work_unit(self, node) -> None:
            if not self.ordered:  # the queue is complete before the first unit is handed out
                self.ordered = True
                order = longest_first({g: len(tests) for g, tests in self.workqueue.items()}, recorded_durations())
                for group in order:
                    self.workqueue.move_to_end(group)
                self.log("groups, longest first:", order)
            super()._assign_work_unit(node)

    return ByNotebookLongestFirst(config, log)


_group_seconds: dict[str, float] = {}
#: CPU seconds per group: the test process's own and its children's once they ended (a child
#: counts when it is waited for, so a fixture's server counts in the group that stops it).
#: Not counted: daemons (PostgreSQL's server), and what a child's own children used when it
#: was killed before waiting for them (the sandboxed kernels of `sidebyside grade`): the
#: summary prints the whole machine's busy CPU beside the sum, to show how much that is.
#: The suite is CPU-bound on 2 cores: CPU, not wall time, says which group to make cheaper.
_group_cpu: dict[str, float] = {}


def _machine_busy_seconds() -> float | None:
    """CPU seconds every process on this machine has used since boot (Linux's /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    except (OSError, ValueError, IndexError):
        return None


_machine_busy_at_start = _machine_busy_seconds()


def _cpu_so_far() -> float:
    import resource

    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


_cpu_seen = [_cpu_so_far()]  # the process's start-up is no test's


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the CPU seconds this phase (setup, call or teardown) used to its report (in the
    process that ran it: an xdist worker sends it to the controller with the report)."""
    outcome = yield
    now = _cpu_so_far()
    outcome.get_result().user_properties.append(("cpu_s", now - _cpu_seen[0]))
    _cpu_seen[0] = now


def pytest_runtest_logreport(report):
    """Add each test's setup, call and teardown time (and CPU) to its group (on the xdist
    controller, or in a run without workers)."""
    group = schedule_group(report.nodeid)
    _group_seconds[group] = _group_seconds.get(group, 0.0) + report.duration
    for name, value in getattr(report, "user_properties", []):
        if name == "cpu_s":
            _group_cpu[group] = _group_cpu.get(group, 0.0) + value


def pytest_sessionfinish(session, exitstatus):
    """Keep each group's measured seconds for the next run's schedule."""
    from _pytest.config import Config

    config = session.config
    whole_run = config.args_source == Config.ArgsSource.TESTPATHS and not config.option.keyword and not config.option.markexpr
    if hasattr(config, "workerinput") or not _group_seconds or not whole_run:
        return  # a run of some tests would record a part of a group as the whole
    durations = {}
    try:
        durations = json.loads(RECORDED_DURATIONS.read_text())
    except (OSError, ValueError):
        pass
    durations.update({group: round(seconds, 1) for group, seconds in _group_seconds.items()})
    ARTIFACTS.mkdir(exist_ok=True)
    RECORDED_DURATIONS.write_text(json.dumps(dict(sorted(durations.items())), indent=1) + "\n")
    cpu = {group: round(seconds, 1) for group, seconds in sorted(_group_cpu.items())}
    (ARTIFACTS / "group-cpu.json").write_text(json.dumps(cpu, indent=1) + "\n")


def lessons() -> list[Path]:
    return sorted((ROOT / "lessons").glob("*.ipynb"))


def solutions() -> list[Path]:
    return sorted((ROOT / "solutions").glob("*/*.ipynb"))


def assignments() -> list[str]:
    from sidebyside.instructor.nbgrader_course import assignment_ids

    return assignment_ids(ROOT)


def rel(path: Path) -> str:
    return str(Path(path).resolve().relative_to(ROOT))


def pytest_terminal_summary(terminalreporter):
    """Print (and save) each notebook's time and peak memory, recorded by the tests, and the
    groups that used the most CPU."""
    if _group_cpu:
        terminalreporter.section("CPU seconds per group, the 15 largest (wall seconds beside them)")
        for group, seconds in sorted(_group_cpu.items(), key=lambda g: -g[1])[:15]:
            terminalreporter.line(f"{seconds:7.1f} s CPU {_group_seconds.get(group, 0.0):7.1f} s wall  {group}")
        busy = _machine_busy_seconds()
        machine = f"; the machine was busy {busy - _machine_busy_at_start:.1f} s of CPU meanwhile" if busy and _machine_busy_at_start else ""
        terminalreporter.line(f"{sum(_group_cpu.values()):7.1f} s CPU in all groups (see conftest.py for what is not counted){machine}")
    rows, shares = [], []
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "measurement":
                rows.append(value)
            elif name == "diagnosed share":
                shares.append(value)
    if shares:
        terminalreporter.section("stored wrong answers diagnosed by their own misconception (through sidebyside grade)")
        for share in sorted(shares, key=lambda s: s["assignment"]):
            terminalreporter.line(f"{share['assignment']:<24} {share['diagnosed']:4d} of {share['total']:4d}")
        right, total = sum(s["diagnosed"] for s in shares), sum(s["total"] for s in shares)
        terminalreporter.line(f"{'all':<24} {right:4d} of {total:4d} ({100 * right / max(total, 1):.0f}%)")
    if not rows:
        return
    rows.sort(key=lambda r: (r["kind"], r["notebook"]))
    terminalreporter.section("notebook measurements (2-core machine figures in the issue notes)")
    for row in rows:
        memory = f"{row['peak_memory_mb']:8.0f} MB" if "peak_memory_mb" in row else ""
        terminalreporter.line(f"{row['kind']:<22} {row['notebook']:<60} {row['seconds']:7.1f} s {memory}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "notebook-measurements.json").write_text(json.dumps(rows, indent=1))
