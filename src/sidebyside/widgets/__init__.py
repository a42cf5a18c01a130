"""The course's ipywidgets, one module per lesson topic.

Rules (see STYLE.md, section 3): the logic lives in plain functions elsewhere in the package,
which take values and return results; a widget only wires controls to them. Widgets work with
ipywidgets 8 (JupyterLab 4) and 7.7 (Colab), and no notebook needs a widget to run headless.
"""

from __future__ import annotations

from . import scaling  # noqa: F401 - lesson 05's scaling panel (imports neither framework)
from . import serving_dashboard  # noqa: F401 - lesson 06's serving dashboard (imports neither framework)


def ipywidgets_major() -> int:
    """The major version of the installed ipywidgets (7 on Colab, 8 in the course's JupyterLab)."""
    import ipywidgets

    return int(ipywidgets.__version__.split(".")[0])
