"""`make test` runs each module's tests on one xdist worker (tests/conftest.py), so two workers
never set up the same module's class hub or JupyterLab at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from conftest import ROOT, longest_first, schedule_group

MODULE = textwrap.dedent(
    """
    import os, time, pytest

    @pytest.fixture(scope="module")
    def expensive():
        with open(os.environ["SETUP_LOG"], "a") as log:
            log.write(f"{__name__} {os.getpid()}\\n")

    @pytest.mark.parametrize("case", range(4))
    def test_case(expensive, case):
        time.sleep(0.2)
    """
)


def test_groups_are_modules_and_assignments():
    assert schedule_group("tests/test_hub.py::test_login_with_unix_password") == "tests/test_hub.py"
    assert schedule_group("tests/test_class_cycle.py::test_grades_csv_matches_what_each_student_did") == "tests/test_class_cycle.py"
    assert schedule_group("tests/test_grading.py::test_reference_grade[05-parallelism]") == "tests/test_grading.py[05-parallelism]"
    # a parameter that is not an assignment keeps the test in its module's group
    assert schedule_group("tests/test_grading.py::test_something[student-2]") == "tests/test_grading.py"
    # a lesson's browser run is its own group (the seven in one group were a floor of 6 minutes on one worker)
    assert schedule_group("tests/test_browser.py::test_lesson[05-parallelism.ipynb]") == "tests/test_browser.py[05-parallelism]"
    assert schedule_group("tests/test_browser.py::test_jupyterlab_asks_the_network_for_nothing") == "tests/test_browser.py"
    assert schedule_group("tests/test_colab.py::test_lesson_runs_on_colab[00-welcome]") == "tests/test_colab.py[00-welcome]"


def test_the_longest_groups_start_first():
    """Recorded seconds order the groups; a group never recorded is guessed from its number of
    tests, so a new slow module is not left for last."""
    groups = {"short": 3, "long": 1, "new": 40, "tiny-new": 1}
    order = longest_first(groups, {"short": 10.0, "long": 300.0})
    assert order == ["long", "new", "short", "tiny-new"], f"expected the longest (recorded or guessed) first, got {order}"


def test_two_workers_never_share_a_module(tmp_path):
    """Four modules of four tests on two workers: each module's fixture is set up exactly once."""
    (tmp_path / "conftest.py").write_text(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('course_conftest', {str(ROOT / 'tests' / 'conftest.py')!r})\n"
        "course = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(course)\n"
        "pytest_xdist_make_scheduler = course.pytest_xdist_make_scheduler\n"
    )
    modules = [f"test_module_{letter}" for letter in "abcd"]
    for name in modules:
        (tmp_path / f"{name}.py").write_text(MODULE)
    log = tmp_path / "setups.log"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadscope", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "SETUP_LOG": str(log)},
    )
    assert run.returncode == 0, f"the inner pytest run should pass, got exit status {run.returncode}:\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
    setups = sorted(line.split()[0] for line in log.read_text().splitlines())
    assert setups == sorted(modules), f"each module's fixture should be set up once, on one worker; set up: {setups}"
    pids = {line.split()[1] for line in log.read_text().splitlines()}
    assert len(pids) == 2, f"the four modules should be spread over both workers, got worker pids {sorted(pids)}"
