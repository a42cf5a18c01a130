"""The two commands, the pins and the install route agree with each other and with the README."""

from __future__ import annotations

import re

from conftest import ROOT


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def pins() -> dict[str, str]:
    result = {}
    for line in requirement_lines():
        name, _, version = line.partition("==")
        result[name.lower()] = version
    return result


def test_every_requirement_is_pinned_exactly():
    loose = [line for line in requirement_lines() if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][\w.+]*", line)]
    assert not loose, f"requirements.txt must pin every package with ==: {loose}"


def test_pins_the_versions_the_course_teaches():
    have = pins()
    assert have["torch"] == "2.13.0"
    assert have["tensorflow-cpu"].startswith("2.21.")
    assert have["tensorboard"].startswith("2.21.")
    assert have["jupyterlab"].startswith("4.")
    assert have["ipywidgets"].startswith("8.")
    assert have["nbgrader"].startswith("0.9.")
    for name in ("visdom", "matplotlib", "scikit-learn", "nbclient", "pytest", "numpy"):
        assert name in have, f"{name} is not pinned"


def test_conda_environment_uses_the_same_pins():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- -r requirements\.txt\s*$", text, re.M), "environment.yml must install requirements.txt"
    conda_pip = re.search(r"^\s*- pip=(\S+)\s*$", text, re.M)
    assert conda_pip and conda_pip.group(1) == pins()["pip"], "environment.yml's pip must match requirements.txt"
    python = re.search(r"^\s*- python=(3\.\d+)\s*$", text, re.M)
    assert python, "environment.yml must name a Python version"
    minor = int(python.group(1).split(".")[1])
    assert 10 <= minor <= 13, "the course supports Python 3.10 to 3.13"
    # Nothing else may be pinned there: one file of pins.
    others = [line for line in re.findall(r"^\s*- ([A-Za-z][\w.\-]*[=<>]\S*)\s*$", text, re.M) if not line.startswith(("python=", "pip="))]
    assert not others, f"environment.yml pins packages itself: {others}; pin them in requirements.txt"


def test_python_support_declared():
    # (No tomllib: the suite also runs on Python 3.10.)
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^requires-python = ">=3\.10"$', text, re.M)
    assert re.search(r"^dependencies = \[\]$", text, re.M), "the package must install on Colab without touching its frameworks"


def test_visdom_is_built_with_old_setuptools():
    assert "setuptools<81" in (ROOT / "build-constraints.txt").read_text()
    assert "--build-constraint build-constraints.txt -r requirements.txt" in (ROOT / "Makefile").read_text()


def test_readme_shows_the_two_commands_first():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, re.M)
    assert commands[:2] == ["make lab", "make test"], f"the README must show `make lab` then `make test` first, found {commands[:2]}"
    for route in ("environment.yml", "Colab"):
        assert route in readme, f"the README should describe the {route} route"


def test_ci_and_makefile_provide_those_commands():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must run `make test`"
