"""Every notebook is stored clean and follows the course's shape (CONTRIBUTING.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, lessons, rel, solutions

from sidebyside import course, notebooks

EXERCISES = sorted((ROOT / "exercises").glob("*/*.ipynb"))
ALL = lessons() + solutions() + EXERCISES
AUTHORED = lessons() + solutions()


#: What Colab ships and the course must never reinstall there (pinning them broke d2l for years).
COLAB_OWNED = {"torch", "tensorflow", "tensorflow-cpu", "numpy", "ipywidgets", "ipython", "keras", "nbgrader"}


def student_path(path: Path) -> str:
    """Where students open a notebook: a solution's badge points to its released exercise."""
    relative = rel(path)
    if relative.startswith("solutions/"):
        return "exercises/" + relative[len("solutions/") :]
    return relative


def read(path: Path):
    return nbformat.read(path, as_version=4)


def tags(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_valid_and_clean(path):
    nb = read(path)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", "kernelspec must be python3"
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs a unique id"
    assert not notebooks.clean_file(path, check=True), (
        f"{rel(path)} is not clean (outputs, execution counts, widget state or non-canonical JSON): "
        "run `make clean-notebooks`"
    )


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_only_known_tags(path):
    unknown = {t for c in read(path).cells for t in tags(c)} - notebooks.KNOWN_TAGS
    assert not unknown, f"unknown cell tags {sorted(unknown)}; known: {sorted(notebooks.KNOWN_TAGS)}"


@pytest.mark.parametrize("path", AUTHORED + EXERCISES, ids=rel)
def test_notebook_shape(path):
    nb = read(path)
    text = [c.source for c in nb.cells]
    h1 = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if re.match(r"#\s", line)]
    assert len(h1) == 1, f"expected one H1 title, found {h1}"
    assert re.match(r"# \d\d · ", h1[0]), f"the title should read '# NN · Title', not {h1[0]!r}"
    badge = course.colab_url(student_path(path))
    assert any(badge in t for t in text[:3]), f"the Open in Colab badge must point to {badge}"
    headings = [line.strip() for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("## ")]
    required = ("## Setup", "## Summary") if path.parent.name == "lessons" else ("## Setup",)
    for heading in required:
        assert heading in headings, f"missing the {heading!r} section"
    colab = [c for c in nb.cells if "colab" in tags(c)]
    installs_course = [c for c in colab if course.pip_install_spec() in c.source and "--no-deps" in c.source]
    assert len(installs_course) == 1, "one cell tagged 'colab' must install the course package with --no-deps: " + course.pip_install_spec()
    for cell in colab:
        assert 'if "google.colab" in sys.modules' in cell.source, "Colab cells must do nothing outside Colab"
        for line in cell.source.splitlines():
            if "pip install" in line:
                named = set(re.findall(r"[\"' ]([A-Za-z][\w\-]*)(?:[=<>\[]|[\"' ]|$)", line.split("install", 1)[1]))
                touched = {n.lower() for n in named} & COLAB_OWNED
                assert not touched, f"a Colab cell must not install {sorted(touched)}: Colab ships its own"
    setup = [c for c in nb.cells if "setup" in tags(c)]
    assert setup and "setup(seed=" in setup[0].source, "a cell tagged 'setup' must call sbs.setup(seed=...)"


@pytest.mark.parametrize("path", AUTHORED, ids=rel)
def test_uses_both_frameworks(path):
    nb = read(path)
    torch_cells = [c for c in nb.cells if "pytorch" in tags(c)]
    tf_cells = [c for c in nb.cells if "tensorflow" in tags(c)]
    assert torch_cells and tf_cells, "a notebook teaches both frameworks: cells tagged 'pytorch' and 'tensorflow'"
    assert any("torch" in c.source for c in torch_cells), "cells tagged 'pytorch' should use torch"
    assert any(re.search(r"\btf\.|keras", c.source) for c in tf_cells), "cells tagged 'tensorflow' should use TensorFlow"


def strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.strip().startswith("### "))


def names_a_value(message) -> bool:
    """A failure message that shows something received: an f-string with a value in it, or
    any expression that is not a plain literal (a call, a name, a concatenation)."""
    if isinstance(message, ast.Constant):
        return False
    if isinstance(message, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in message.values)
    return True


def silent_failures(tree) -> list[str]:
    """Every ``assert`` and ``raise AssertionError`` whose failure would not say what was received."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            text = ast.unparse(node.test)[:70]
            if node.msg is None:
                found.append(f"line {node.lineno}: bare `assert {text}`: say what was expected and what was received")
            elif not names_a_value(node.msg):
                found.append(f"line {node.lineno}: `assert {text}` fails with a fixed message: show the received value (an f-string)")
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and getattr(node.exc.func, "id", "") == "AssertionError":
            if not node.exc.args or not names_a_value(node.exc.args[0]):
                found.append(f"line {node.lineno}: `raise AssertionError` with a fixed message: show the received value (an f-string)")
    return found


def test_silent_failures_are_found():
    """The check above catches what it is meant to, and lets informative messages through."""
    found = silent_failures(ast.parse('assert x == 1\nassert x, "fixed"\nassert x, f"got {x!r}"\nraise AssertionError("no")\nassert y, message(y)'))
    assert [line.split(":")[0] for line in found] == ["line 1", "line 2", "line 4"], f"expected lines 1, 2 and 4 flagged, got {found}"


@pytest.mark.parametrize("path", solutions(), ids=rel)
def test_assignment_cells(path):
    nb = read(path)
    problems = []
    for cell in nb.cells:
        meta = nbgrader(cell)
        grade_id = meta.get("grade_id", "(no grade_id)")
        if cell.cell_type == "code" and not meta:
            problems.append(f"code cell {cell.id} is not read-only: mark every instructor cell read-only")
        elif cell.cell_type == "code" and not (meta.get("solution") or meta.get("locked")):
            problems.append(f"code cell {grade_id} is neither an answer nor read-only")
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            if not meta.get("points"):
                problems.append(f"test cell {grade_id} has no points")
            if not grade_id.startswith("test_"):
                problems.append(f"test cell {grade_id} should be named test_<answer grade_id>")
            body = ast.parse(strip_markers(cell.source)).body
            if not (body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str)):
                problems.append(f"test cell {grade_id} should start with a one-line docstring saying what it checks")
            problems.extend(f"test cell {grade_id}: {problem}" for problem in silent_failures(ast.parse(strip_markers(cell.source))))
            if body and isinstance(body[-1], ast.Expr) and not isinstance(body[-1].value, ast.Call):
                problems.append(f"test cell {grade_id} ends with a bare expression (nbgrader reads it as partial credit)")
        if meta.get("solution") and cell.cell_type == "code" and "### BEGIN SOLUTION" not in cell.source:
            problems.append(f"answer cell {grade_id} has no ### BEGIN SOLUTION region")
    manual = [c for c in nb.cells if nbgrader(c).get("grade") and nbgrader(c).get("solution")]
    if not manual:
        problems.append("no manually graded reflection cell comparing the two frameworks")
    ids = [nbgrader(c)["grade_id"] for c in nb.cells if nbgrader(c).get("grade_id")]
    if len(set(ids)) != len(ids):
        problems.append("grade_ids are not unique")
    assert not problems, "\n".join(problems)


def test_exercises_mirror_solutions():
    assert {p.parent.name for p in EXERCISES} == {p.parent.name for p in solutions()}, (
        "every assignment in solutions/ is released to exercises/: run `make exercises`"
    )
