"""Helpers for *Side by Side*, a course that teaches PyTorch and TensorFlow together.

Importing this package is cheap: it imports neither torch nor tensorflow. The heavy
frameworks are imported inside the functions that need them.

The lesson side, what students import (on their machine or on Colab), is this folder; the
instructor's wing (the command line, nbgrader tools, class grading, the class hub) is
:mod:`sidebyside.instructor`, which imports the lesson side and is never imported by it.

Modules of the lesson side, named for what they do:

- ``course``: where the course lives (repository, Colab badges, the course folder), Colab and grading detection.
- ``session``: ``setup(seed=...)``, the one call at the top of every notebook.
- ``devices``: which devices each framework sees, and the course-wide device choice.
- ``data``: the course's data sets (scikit-learn's bundled digits, small generated sets).
- ``plots``: side-by-side matplotlib figures for the two frameworks.
- ``doctor``: the environment report shown in lesson 00.
- ``notebooks``: keeping notebooks clean and canonical.
- ``checks``: strict comparisons for nbgrader test cells, and ``Mistakes``: naming the misconception a failed test's answer shows.
- ``misconceptions``: the catalogues of each assignment's known mistakes (``NN-topic.toml``).
- ``timing``: fair timings (warm-up, device synchronization); ``benchmarks``: matmul GFLOP/s.
- ``training``: the reference models and training loops of both frameworks (lesson 01).
- ``graphs``: eager vs compiled workloads and graph drawings (lesson 02).
- ``servers``: TensorBoard and Visdom servers on loopback; ``eventfiles``: reading logs back (lesson 03).
- ``widgets``: the ipywidgets of the lessons, one module per topic.
- ``frameworks``: importing TensorFlow quietly; ``lab``: ``make lab``.
- ``parallel``: launchers, replays and scaling (lesson 05); ``serving``: model servers (lesson 06).
- ``_processes``: the one process toolkit (ports, start with a log, wait, stop a tree), private.
"""

__version__ = "0.1.0"

_LAZY = {
    "setup": ("sidebyside.session", "setup"),
    "doctor": ("sidebyside.doctor", "show"),
}


def __getattr__(name):
    # Keep `import sidebyside` light: load submodules only when their names are used.
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'sidebyside' has no attribute {name!r}")


__all__ = ["setup", "doctor", "__version__"]
