"""Where the course lives, and in which situation a notebook is running.

The repository coordinates are set here and nowhere else: Colab badges, the Colab install
cell and the hygiene tests all read them.
"""

from __future__ import annotations

import os
import sys

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
