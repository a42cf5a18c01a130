"""The sidebyside package: cheap to import, reproducible setup, data, plots, cleaning, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import ROOT

from sidebyside import course, data, notebooks


def run_python(code: str, **env) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_is_cheap():
    modules = "course devices data plots timing checks notebooks instructor.nbgrader_course lab instructor.cli widgets doctor session frameworks".split()
    code = f"import sys, importlib, sidebyside\nfor m in {modules!r}: importlib.import_module('sidebyside.' + m)\nprint(sorted(m for m in ('torch', 'tensorflow') if m in sys.modules))"
    assert run_python(code).strip() == "[]", "importing sidebyside must not import torch or tensorflow"


SEEDED_DRAWS = """
import json, random, numpy as np, sidebyside as sbs
sbs.setup(seed=7, verbose=False)
import torch, tensorflow as tf
print(json.dumps([random.random(), float(np.random.rand()), float(torch.rand(1)), float(tf.random.uniform([1])[0])]))
"""


def test_setup_seeds_every_framework_reproducibly():
    first, second = json.loads(run_python(SEEDED_DRAWS)), json.loads(run_python(SEEDED_DRAWS))
    assert first == second


def test_setup_quiets_tensorflow_and_reports():
    result = subprocess.run([sys.executable, "-c", "import sidebyside as sbs; sbs.setup(seed=0)"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0
    assert "oneDNN" not in result.stderr and "absl::InitializeLog" not in result.stderr, result.stderr
    assert "Side by Side: seed 0; torch 2.13.0" in result.stdout


def test_grading_runs_on_the_cpu_whatever_is_asked():
    out = run_python("import sidebyside as sbs; s = sbs.setup(seed=0, device='cuda', verbose=False); print(s.device.device.name, s.device.source)", NBGRADER_EXECUTION="autograde")
    assert out.split() == ["cpu", "grading"]


def test_missing_gpu_request_falls_back_with_a_message():
    out = run_python("import sidebyside as sbs; s = sbs.setup(seed=0, verbose=False); print(s.device.device.name); print(s.device.message)", SIDEBYSIDE_DEVICE="cuda:0")
    name, message = out.split("\n", 1)
    assert name == "cpu"
    assert "SIDEBYSIDE_DEVICE" in message and "Using the CPU" in message


def test_doctor_reports_both_frameworks():
    out = subprocess.run([sys.executable, "-m", "sidebyside.instructor.cli", "doctor"], capture_output=True, text=True, timeout=300).stdout
    for needle in ("PyTorch", "2.13.0", "TensorFlow", "2.21", "Course device", "Google Colab"):
        assert needle in out


def test_digits_split():
    split = data.load_digits(val_fraction=0.25, seed=1)
    assert split.X_train.dtype == np.float32 and split.X_train.shape[1] == 64
    assert len(split.X_train) + len(split.X_val) == 1797
    assert abs(len(split.X_val) - 1797 * 0.25) <= 1
    assert 0.0 <= split.X_train.min() and split.X_train.max() <= 1.0
    assert split.num_classes == 10
    small = data.load_digits(limit=200, seed=1)
    assert len(small.X_train) + len(small.X_val) == 200


def test_spirals_and_batches():
    X, y = data.make_spirals(n=100, seed=0)
    assert X.shape == (100, 2) and set(np.unique(y)) == {0, 1}
    again = data.make_spirals(n=100, seed=0)
    assert np.array_equal(X, again[0])
    epoch0, epoch1 = data.batches(10, 4, seed=0, epoch=0), data.batches(10, 4, seed=0, epoch=1)
    assert [len(b) for b in epoch0] == [4, 4, 2]
    assert sorted(np.concatenate(epoch0)) == list(range(10))
    assert not np.array_equal(np.concatenate(epoch0), np.concatenate(epoch1))


def test_plot_histories_draws_both_frameworks():
    import matplotlib

    matplotlib.use("Agg")
    from sidebyside import plots

    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}
    fig, axes = plots.plot_histories({"PyTorch": history, "TensorFlow": history})
    assert len(axes) == 2
    assert len(axes[0].lines) == 4 and len(axes[1].lines) == 2


def test_clean_strips_outputs_and_keeps_nbgrader_metadata(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1", metadata={"nbgrader": {"grade_id": "x", "solution": True}, "tags": ["pytorch"], "scrolled": True})
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    cell.execution_count = 1
    nb.cells = [cell, nbformat.v4.new_markdown_cell("# Hi")]
    nb.metadata["widgets"] = {"state": {}}
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert notebooks.clean_file(path, check=True) is True
    assert notebooks.clean_file(path) is True
    assert notebooks.clean_file(path) is False, "cleaning twice must change nothing"
    cleaned = nbformat.read(path, as_version=4)
    assert cleaned.cells[0].outputs == [] and cleaned.cells[0].execution_count is None
    assert cleaned.cells[0].metadata == {"nbgrader": {"grade_id": "x", "solution": True}, "tags": ["pytorch"]}
    assert "widgets" not in cleaned.metadata


def test_cli_clean_check_fails_on_dirty_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1")
    cell.execution_count = 3
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "dirty.ipynb")
    result = subprocess.run([sys.executable, "-m", "sidebyside.instructor.cli", "clean", "--check", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1 and "dirty.ipynb" in result.stdout


def test_colab_urls_come_from_one_setting():
    url = course.colab_url("lessons/00-welcome.ipynb")
    assert url == f"https://colab.research.google.com/github/{course.GITHUB_OWNER}/{course.GITHUB_REPO}/blob/{course.GITHUB_BRANCH}/lessons/00-welcome.ipynb"
    assert url in course.colab_badge_markdown("lessons/00-welcome.ipynb")


def test_lab_keeps_jupyter_state_inside_the_project(tmp_path):
    from sidebyside import lab

    env = lab.lab_environment(tmp_path, base={"PATH": "/usr/bin"})
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        assert env[key].startswith(str(tmp_path.resolve())), key
    command = lab.lab_command(tmp_path, port=8899, token="t", open_browser=False)
    assert ("--allow-root" in command) == (os.geteuid() == 0)
    assert "--ServerApp.port=8899" in command and "--no-browser" in command


def test_lab_starts_the_kernel_without_asking_and_keeps_saved_settings(tmp_path):
    from sidebyside import lab

    name = "@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
    lab.write_course_settings(tmp_path)
    assert json.loads((tmp_path / name).read_text()) == {"autoStartDefaultKernel": True}
    (tmp_path / name).write_text('{"autoStartDefaultKernel": false}')  # the student's own choice
    lab.write_course_settings(tmp_path)
    assert json.loads((tmp_path / name).read_text()) == {"autoStartDefaultKernel": False}


def test_find_course_root_says_what_to_do(tmp_path):
    from sidebyside.instructor.nbgrader_course import find_course_root

    assert find_course_root(ROOT / "src") == ROOT
    with pytest.raises(FileNotFoundError, match="run this from the course folder"):
        find_course_root(tmp_path)
    # the class hub's course keeps nbgrader's default source/ (its nbgrader_config.py says so)
    hub_course = tmp_path / "hub-course"
    (hub_course / "source" / "tiny").mkdir(parents=True)
    (hub_course / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.source_directory = "source"\n')
    assert find_course_root(hub_course / "source" / "tiny") == hub_course, "a course found by the source folder its config names"
    (hub_course / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.source_directory = "instructor"\n')
    with pytest.raises(FileNotFoundError, match="--course"):
        find_course_root(hub_course / "source")


def test_one_command_line(capsys):
    """`sidebyside` is the one command: --version, and the class's tools under it with their
    own --help (the `python -m sidebyside.X` forms stay as aliases)."""
    from sidebyside.instructor import cli

    done = subprocess.run([str(Path(sys.executable).parent / "sidebyside"), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("sidebyside ") and "unknown" not in done.stdout, (
        f"expected `sidebyside --version` to print the installed version, got {done.returncode}: {done.stdout!r} {done.stderr[-500:]!r}")
    for name, words in (("hub", "start,stop,status,restart"), ("gradebook", "start,stop,status,url"), ("serving", "install-kserve,check"),
                        ("servers", "install-visdom-assets,check-visdom-assets")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["-q", name, "--help"])
        out = capsys.readouterr().out
        assert exit_.value.code == 0 and f"usage: sidebyside {name}" in out and words in out, f"expected `sidebyside {name} --help`, got:\n{out}"
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    out = capsys.readouterr().out
    listed = ("lab", "doctor", "clean", "release", "grade", "hub", "gradebook", "serving", "servers")
    assert all(name in out for name in listed) and "--version" in out and "--verbose" in out, f"expected every subcommand listed, got:\n{out}"


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules a source file imports (relative imports resolved)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_two_wings_the_lessons_never_import_the_instructors_and_no_two_modules_share_a_name():
    """The lesson side (what a student imports, on Colab too) never imports sidebyside.instructor;
    each module's name says what it is, once."""
    package = ROOT / "src" / "sidebyside"
    wing = package / "instructor"
    leaks = {}
    for path in sorted(package.rglob("*.py")):
        if wing in path.parents:
            continue
        dotted = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        here = dotted if path.name == "__init__.py" else dotted.rsplit(".", 1)[0]
        found = sorted(m for m in _imported_modules(path, here.removesuffix(".__init__")) if m.startswith("sidebyside.instructor"))
        if found:
            leaks[str(path.relative_to(ROOT))] = found
    assert not leaks, f"expected the lesson side never to import the instructor's wing, got {leaks}"
    by_name: dict[str, list[str]] = {}
    for path in package.rglob("*.py"):
        if path.stem not in ("__init__", "__main__"):
            by_name.setdefault(path.stem, []).append(str(path.relative_to(package)))
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert not shared, f"expected no two modules with one name, got {shared}"
    assert (wing / "grading").is_dir() and (wing / "hub").is_dir() and (wing / "cli.py").is_file(), "the instructor's wing holds grading, the hub and the command line"
