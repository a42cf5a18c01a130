"""Colab as a tested platform (issue 23): every lesson and every solution runs to the end, kernel-side,
with Colab's package versions (requirements-colab.txt), in an empty working folder, with
``google.colab`` imported so that the notebooks' Colab cells run, and no traceback in any output.

The environment is built once (``make test-setup`` runs scripts/install-colab-profile; the
session fixture below builds or reuses it under a file lock if that was skipped). How the Colab
cells' lines are handled (the course package from the checkout, %pip lines installed at build
time, shell lines that change the machine skipped) is in tests/colab_startup.py; each skipped
line is printed by the notebook itself, and the test reports them.

Scheduling: ``test_colab`` is in conftest.SPLIT_BY_NOTEBOOK, so an assignment's lesson and
solution run in one group (``tests/test_colab.py[05-parallelism]``, lesson 00 alone in its own)
and the groups spread over the workers, the longest first.
"""

from __future__ import annotations

import json

import colab_profile
import pytest
from conftest import ROOT, assignments, rel

pytestmark = pytest.mark.notebook

#: A cell may take this long before the check fails it (a lesson's budget is 90 s in all; this
#: catches a wait that never ends, e.g. issue 23's ten-minute one in lesson 05).
CELL_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def colab_env():
    return colab_profile.ensure()


def lesson_names() -> list[str]:
    return [p.stem for p in sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb"))]


def check(path, tmp_path, record_property, kind: str) -> None:
    workdir = tmp_path / "content"  # Colab's working folder is /content, empty
    workdir.mkdir()
    result = colab_profile.run(path, workdir, timeout=CELL_TIMEOUT_S)
    record_property("measurement", {"kind": f"colab {kind}", "notebook": rel(path), "seconds": round(result.seconds, 1)})
    for line in result.skipped:
        print(line)
    assert not result.problems, (
        f"{rel(path)} does not run on Colab's versions (expected no traceback, got {len(result.problems)} problem(s)):\n  "
        + "\n  ".join(result.problems[:5])
    )


@pytest.mark.parametrize("name", lesson_names())
def test_lesson_runs_on_colab(name, colab_env, tmp_path, record_property):
    check(ROOT / "lessons" / f"{name}.ipynb", tmp_path, record_property, "lessons")


@pytest.mark.parametrize("assignment", assignments())
def test_solution_runs_on_colab(assignment, colab_env, tmp_path, record_property):
    """A solution as a student on Colab runs it: the notebook itself, outside nbgrader."""
    check(ROOT / "solutions" / assignment / f"{assignment}.ipynb", tmp_path, record_property, "solutions")


def test_colab_cells_leave_colabs_frameworks_alone(colab_env):
    """The notebooks' own Colab installs (run when the profile was built) keep Colab's torch,
    TensorFlow, Keras, NumPy, ipywidgets, IPython and ipykernel, as their cells promise."""
    changed = json.loads((colab_profile.ENV / "drift.json").read_text())
    kept = {name: versions for name, versions in changed.items() if name in colab_profile.KEPT}
    assert not kept, f"expected the Colab cells to keep Colab's versions, got changes (Colab's, after): {kept}"


def test_a_wrong_answer_is_diagnosed_on_colab(colab_env, tmp_path):
    """On Colab the visible tests are all a student has: the course package installed there (a
    wheel, as Colab's install cell builds it) carries every assignment's misconception catalogue,
    and a diagnosis links to the lesson on Colab (there is no checkout to link to)."""
    import subprocess

    script = (
        "from sidebyside import checks, misconceptions\n"
        "print(misconceptions.assignments())\n"
        "mistakes = checks.Mistakes('03-visualization')\n"
        "print(mistakes.explain('expected steps 1 to 4, got [0, 1, 2, 3]', counted_from_zero=True))\n"
        "print(mistakes.known['counted_from_zero'].markdown())\n"
    )
    done = subprocess.run([str(colab_profile.python()), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"expected the Colab profile's package to diagnose, got exit {done.returncode}:\n{done.stderr[-2000:]}"
    listed = done.stdout.splitlines()[0]
    for assignment in assignments():
        assert assignment in listed, f"expected {assignment}'s catalogue in the installed package, it lists {listed}"
    for words in ("Looks like mistake [counted_from_zero]", "lessons/03-visualization.ipynb", "colab.research.google.com/github/", "[open it on Colab]("):
        assert words in done.stdout, f"expected {words!r} in what the Colab profile says:\n{done.stdout}"
    assert "open it here" not in done.stdout, f"expected no link to a local lesson on Colab, got:\n{done.stdout}"
