"""Where the course lives, and in which situation a notebook is running.

The repository coordinates are set here and nowhere else: Colab badges, the Colab install
cell and the hygiene tests all read them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

GITHUB_OWNER = "sidebyside-course"
GITHUB_REPO = "side-by-side"
GITHUB_BRANCH = "main"

#: Assignments and lessons use these ids; lessons/NN-topic.ipynb, solutions/NN-topic/NN-topic.ipynb.
GRADING_ENV_VAR = "NBGRADER_EXECUTION"


def colab_url(path: str) -> str:
    """The Open-in-Colab URL of a notebook at ``path`` (relative to the repository root)."""
    return (
        "https://colab.research.google.com/github/"
        f"{GITHUB_OWNER}/{GITHUB_REPO}/blob/{GITHUB_BRANCH}/{path}"
    )


def github_url(path: str) -> str:
    """The View-on-GitHub URL of a file at ``path`` (relative to the repository root)."""
    return f"https://github.com/{GITHUB_OWNER}/{GITHUB_REPO}/blob/{GITHUB_BRANCH}/{path}"


def colab_badge_markdown(path: str) -> str:
    """The two badges every notebook starts with, for the notebook at ``path``."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})\n"
        f"[![View on GitHub](https://img.shields.io/badge/view-GitHub-181717)]({github_url(path)})"
    )


def pip_install_spec() -> str:
    """What Colab's setup cell installs: this package from the course repository."""
    return f"sidebyside @ git+https://github.com/{GITHUB_OWNER}/{GITHUB_REPO}@{GITHUB_BRANCH}"


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def under_grading() -> bool:
    """True while nbgrader executes the notebook (autograde, validate): shrink the work."""
    return bool(os.environ.get(GRADING_ENV_VAR))


def course_setting(root: Path, name: str, default: str) -> str:
    """One ``CourseDirectory`` setting of the course's ``nbgrader_config.py``, read by
    traitlets' own loader (as nbgrader reads it)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    value = config.CourseDirectory.get(name)
    return value if isinstance(value, str) and value else default


def find_course_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding ``nbgrader_config.py`` and the source
    folder it names (``CourseDirectory.source_directory``: ``solutions/`` in this repository,
    ``source/`` in the class hub's course, nbgrader's default)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / course_setting(folder, "source_directory", "source")).is_dir():
            return folder
    raise FileNotFoundError(
        f"No course found at or above {here}: run this from the course folder (the one with nbgrader_config.py "
        "and the source folder it names, such as solutions/ or source/), or name it with --course."
    )
