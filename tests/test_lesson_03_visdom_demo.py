"""Lesson 03's Visdom download demo runs on a Visdom installed by pip alone (issue 23).

The demo (section 7) copies Visdom's ``static/`` folder and runs ``visdom.server.build.download_scripts`` on the copies,
with every download refused. Its third case removes ``static/version.built``, a file that only a start of Visdom's
server (or this course's set-up, which runs that check) writes: a Visdom that pip installed and that never started, as
on Colab, has none, and ``unlink()`` raised ``FileNotFoundError`` there. The test runs the lesson's own cell on such a
folder: the package files of Visdom's install record, no ``version.built``, nothing downloaded.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import shutil
import tempfile
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

LESSON = ROOT / "lessons" / "03-visualization.ipynb"


def demo_cell() -> str:
    sources = [cell.source for cell in nbformat.read(LESSON, as_version=4).cells if cell.cell_type == "code" and "def visdom_downloads" in cell.source]
    assert len(sources) == 1, f"lesson 03 should have one cell defining visdom_downloads (the demo of Visdom's downloads), got {len(sources)}"
    return sources[0]


def pip_only_visdom(folder: Path) -> Path:
    """A stand-in for Visdom's package folder as pip leaves it: the static files its install record lists, and nothing else."""
    package = folder / "visdom"
    for file in importlib.metadata.files("visdom"):
        if file.parts[:2] == ("visdom", "static"):
            target = package.joinpath(*file.parts[1:])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(file.locate(), target)
    (package / "__init__.py").write_text("")
    return package


def test_the_demo_runs_where_pip_installed_visdom(monkeypatch, tmp_path):
    visdom = pytest.importorskip("visdom")
    pytest.importorskip("visdom.server.build")
    package = pip_only_visdom(tmp_path)
    assert not (package / "static" / "version.built").exists(), "the stand-in should have no static/version.built, as after pip install"
    monkeypatch.setattr(visdom, "__file__", str(package / "__init__.py"))  # the cell finds static/ beside visdom.__file__
    namespace = {"Path": Path, "tempfile": tempfile, "urllib": urllib, "visdom": visdom}  # what earlier cells imported
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            exec(compile(demo_cell(), str(LESSON), "exec"), namespace)
        except FileNotFoundError as error:
            pytest.fail(f"lesson 03's Visdom demo should run where pip installed Visdom (no static/version.built); got FileNotFoundError: {error}")
    lines = printed.getvalue().splitlines()
    assert "static/version.built here: none" in lines, f"the demo should say that this Visdom has no version.built; it printed {lines!r}"
    outcomes = [line for line in lines if "downloads tried, then it" in line]
    assert len(outcomes) == 3, f"the demo should report its three situations, got {outcomes!r}"
    assert all("crashes" in line for line in outcomes), (
        f"with nothing downloaded, each situation needs the missing files and (offline) crashes on MathJax; got {outcomes!r}"
    )
