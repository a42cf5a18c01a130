"""The instructor's nbgrader course and each role's Jupyter configuration.

- The instructor's course: ``~INSTRUCTOR/COURSE_ID`` (the instructor's, 0700) with ``source/``
  copied from the checkout's ``solutions/`` (assignments already there are left alone: they
  are the instructor's now), and ``nbgrader_config.py`` (0600): the checkout's own nbgrader
  settings (time limits, ignored log lines, restored test cells) plus the class's course id,
  exchange and PostgreSQL gradebook URL (with its password: hence 0600). ``sidebyside grade
  --course ~/COURSE_ID NN-topic`` and the formgrader both read it. The instructor's
  ``~/.jupyter/nbgrader_config.py`` points nbgrader at that course from anywhere.
- Students: an nbgrader configuration with the exchange and the course id only.
- The formgrader (server and JupyterLab extensions) and "Create Assignment" for the instructor
  only, as in nbgrader's "one class, one grader" demo. Each role's Jupyter configuration lives
  in ``STATE_DIR/jupyter/ROLE`` (root's, readable), put first on the user's
  ``JUPYTER_CONFIG_PATH`` by the hub: a student cannot edit it, and a value there wins over the
  virtualenv's and the user's own. What keeps the instructor's files from students is Unix
  permissions, not this: a student who started a formgrader would find no course to read.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
from pathlib import Path

from .settings import HubSettings
from ...lab import OFFLINE_LAB_SETTINGS

FORMGRADER_SERVER_EXTENSION = "nbgrader.server_extensions.formgrader"
INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment")
GENERATED = "# Written by `sidebyside hub start` at every start; edit the sources named below, not this file."


def _write(path: Path, text: str, mode: int, owner: pwd.struct_passwd | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    os.chmod(path, mode)


def _own_tree(folder: Path, owner: pwd.struct_passwd) -> None:
    for path in (folder, *folder.rglob("*")):
        if not path.is_symlink():
            os.chown(path, owner.pw_uid, owner.pw_gid)


def course_config(settings: HubSettings, gradebook_url: str) -> str:
    """The course's nbgrader_config.py: the checkout's settings, then the class's."""
    checkout_config = (settings.checkout / "nbgrader_config.py").read_text()
    return "\n".join(
        [
            GENERATED,
            f"# Sources: {settings.checkout / 'nbgrader_config.py'} (the course's settings, below) and",
            f"# {settings.checkout / 'hub' / 'class.toml'} (course id, exchange, gradebook: at the end).",
            "",
            checkout_config.rstrip(),
            "",
            "# --- The class hub ---",
            f"c.CourseDirectory.course_id = {settings.course_id!r}",
            f"c.CourseDirectory.root = {str(settings.course_dir)!r}",
            'c.CourseDirectory.source_directory = "source"',
            'c.CourseDirectory.release_directory = "release"',
            f"c.Exchange.root = {str(settings.exchange_root)!r}",
            f"c.CourseDirectory.db_url = {gradebook_url!r}",
            "",
        ]
    )


def instructor_pointer_config(settings: HubSettings) -> str:
    return "\n".join(
        [
            GENERATED,
            "# nbgrader, from any folder of the instructor: the class's course and its settings.",
            f"c.CourseDirectory.root = {str(settings.course_dir)!r}",
            f"load_subconfig('nbgrader_config.py', path={str(settings.course_dir)!r})  # noqa: F821 - traitlets' config loader",
            "",
        ]
    )


def student_config(settings: HubSettings) -> str:
    return "\n".join(
        [
            GENERATED,
            f"# Source: {settings.checkout / 'hub' / 'class.toml'}. Students know the exchange and the course, nothing else.",
            f"c.CourseDirectory.course_id = {settings.course_id!r}",
            f"c.Exchange.root = {str(settings.exchange_root)!r}",
            "",
        ]
    )


def prepare_course(settings: HubSettings, gradebook_url: str) -> list[str]:
    """Create (or refresh) the instructor's course; returns the assignments copied now."""
    owner = pwd.getpwnam(settings.instructor)
    course = settings.course_dir
    course.mkdir(parents=True, exist_ok=True)
    os.chown(course, owner.pw_uid, owner.pw_gid)
    os.chmod(course, 0o700)
    source = course / "source"
    source.mkdir(exist_ok=True)
    copied = []
    for assignment in sorted(p for p in (settings.checkout / "solutions").iterdir() if p.is_dir()):
        target = source / assignment.name
        if not target.exists():
            shutil.copytree(assignment, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
            copied.append(assignment.name)
    _own_tree(source, owner)
    _write(course / "nbgrader_config.py", course_config(settings, gradebook_url), 0o600, owner)
    jupyter_dir = settings.home(settings.instructor) / ".jupyter"
    jupyter_dir.mkdir(exist_ok=True)
    os.chown(jupyter_dir, owner.pw_uid, owner.pw_gid)
    _write(jupyter_dir / "nbgrader_config.py", instructor_pointer_config(settings), 0o600, owner)
    return copied


def prepare_role_configs(settings: HubSettings) -> None:
    """STATE_DIR/jupyter/{instructor,student}: readable by every user, written by root only."""
    os.chmod(settings.state_dir, 0o711)  # traversable (users read their role's folder), not listable
    for role in ("instructor", "student"):
        folder = settings.role_config_dir(role)
        folder.mkdir(parents=True, exist_ok=True)
        for path in (folder.parent, folder, folder / "labconfig"):
            path.mkdir(exist_ok=True)
            os.chmod(path, 0o755)
        instructor = role == "instructor"
        server = {"ServerApp": {"jpserver_extensions": {FORMGRADER_SERVER_EXTENSION: instructor}}, "LabApp": dict(OFFLINE_LAB_SETTINGS)}
        if instructor:
            # The formgrader opens in an iframe of JupyterLab: allow frames from the same server
            # (nbgrader's demos do the same; JupyterHub's default forbids every frame ancestor).
            server["ServerApp"]["tornado_settings"] = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
        _write(folder / "jupyter_server_config.json", json.dumps(server, indent=1) + "\n", 0o644)
        page = {"disabledExtensions": {plugin: not instructor for plugin in INSTRUCTOR_LAB_PLUGINS}}
        _write(folder / "labconfig" / "page_config.json", json.dumps(page, indent=1) + "\n", 0o644)
        if instructor:
            (folder / "nbgrader_config.py").unlink(missing_ok=True)
        else:
            _write(folder / "nbgrader_config.py", student_config(settings), 0o644)
