"""What hub/jupyterhub_config.py hands JupyterHub: the per-role hook and the hub's secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .settings import HubSettings


def role_of(settings: HubSettings, user: str) -> str:
    return "instructor" if user == settings.instructor else "student"


def pre_spawn_hook(settings: HubSettings):
    """Put the user's role configuration (``STATE_DIR/jupyter/ROLE``) first on JUPYTER_CONFIG_PATH."""

    def hook(spawner) -> None:
        role = role_of(settings, spawner.user.name)
        # A new dict: Spawner.environment from the config is shared by every spawner.
        spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": str(settings.role_config_dir(role)), "SIDEBYSIDE_CLASS_ROLE": role}

    return hook


def read_secret(path: Path) -> str:
    """A secret that ``start`` wrote (root-only); a clear error when the hub was not started by it."""
    try:
        return Path(path).read_text().strip()
    except FileNotFoundError:
        raise SystemExit(f"{path} is missing: start the hub with `make hub` (sidebyside hub start), not `jupyterhub` by hand.") from None


def ensure_secret(path: Path) -> str:
    """Make a random token in ``path`` (0600) once; return it."""
    path = Path(path)
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
    return path.read_text().strip()
