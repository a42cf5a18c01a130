"""Start JupyterLab on the course, registering nothing outside the project.

``make lab`` runs ``sidebyside lab``. Jupyter's config, data, runtime and JupyterLab's
settings all live under ``.jupyter/`` in the course folder; the kernel is this virtualenv's
own ``python3``. The browser tests start JupyterLab the same way.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .frameworks import TF_LOG_LEVEL

FIRST_NOTEBOOK = "lessons/00-welcome.ipynb"

# JupyterLab settings the course starts with (a student's own choices, once saved, win): start
# the notebook's kernel without asking. Otherwise JupyterLab can show a "Select Kernel" dialog
# when a notebook opens before it has listed the kernels, as on a busy machine.
COURSE_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
    # without it JupyterLab still asks "get notified about official Jupyter news?" in a toast,
    # even with its news feed turned off on the server
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def write_course_settings(settings_dir: Path, extra: dict | None = None) -> None:
    """Write :data:`COURSE_SETTINGS` (plus ``extra``, merged per file) into each settings file
    not saved yet: settings a student has saved stay as they are."""
    files = {name: dict(values) for name, values in COURSE_SETTINGS.items()}
    for name, values in (extra or {}).items():
        files.setdefault(name, {}).update(values)
    for name, values in files.items():
        path = Path(settings_dir) / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))


#: JupyterLab asks the network for nothing: no news feed (and no "get Jupyter news?" prompt)
#: and no check for a newer version. The course uses no network beyond loopback at run time.
OFFLINE_LAB_SETTINGS = {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}
OFFLINE_LAB_OPTIONS = tuple(f"--LabApp.{name}={value}" for name, value in OFFLINE_LAB_SETTINGS.items())


def lab_environment(root: Path, base: dict | None = None) -> dict:
    """Environment variables that keep Jupyter's state inside ``root/.jupyter``."""
    state = Path(root).resolve() / ".jupyter"
    env = dict(os.environ if base is None else base)
    env.update(
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_DATA_DIR=str(state / "data"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "lab" / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "lab" / "workspaces"),
        # nbgrader runs alembic from PATH.
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    return env


def lab_command(root: Path, *, port: int | None = None, token: str | None = None, open_browser: bool = True, notebook: str | None = FIRST_NOTEBOOK) -> list[str]:
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(root).resolve()}", "--ServerApp.ip=127.0.0.1", *OFFLINE_LAB_OPTIONS]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root
    if port is not None:
        command.append(f"--ServerApp.port={port}")
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        command.append("--no-browser")
    if notebook:
        command.append(notebook)
    return command


def main() -> None:
    from .course import find_course_root

    root = find_course_root()
    for folder in ("config", "data", "runtime"):
        (root / ".jupyter" / folder).mkdir(parents=True, exist_ok=True)
    print(f"Starting JupyterLab on the course in {root}; open the URL it prints below.", flush=True)
    os.chdir(root)
    env = lab_environment(root)
    write_course_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]))
    command = lab_command(root, open_browser=bool(os.environ.get("DISPLAY") or sys.platform == "darwin"))
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
