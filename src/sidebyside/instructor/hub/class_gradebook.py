"""The class's gradebook: PostgreSQL, in a cluster of the hub's own (:mod:`sidebyside.instructor.hub.postgres`).

Data in ``STATE_DIR/postgres/data``, the role's password in ``STATE_DIR/postgres/gradebook.password``
(root-only), the same layout as ``sidebyside gradebook``. The URL, with its password,
goes only into the instructor's course configuration (0600).
"""

from __future__ import annotations

from .settings import HubSettings


class GradebookMissing(RuntimeError):
    pass


def cluster(settings: HubSettings):
    from .postgres import Cluster

    return Cluster(settings.postgres_dir / "data", settings.gradebook_port, settings.gradebook_host)


def check_installed() -> None:
    """PostgreSQL's server programs are there (before anything is created)."""
    from .postgres import PostgresError, server_bin

    try:
        server_bin()
    except PostgresError as error:
        raise GradebookMissing(f"{error}\nRun `make class-setup` (it installs Debian's PostgreSQL as root).") from error


def start(settings: HubSettings) -> str:
    """Start the cluster (created the first time) and the gradebook; returns its SQLAlchemy URL."""
    from .postgres import PostgresError, class_password

    settings.postgres_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
    settings.postgres_dir.chmod(0o711)  # the server's user (postgres) goes through to data/
    try:
        db = cluster(settings).init().start()
        return db.create_gradebook(settings.gradebook_database, settings.gradebook_role, class_password(settings.postgres_dir / "gradebook.password"))
    except PostgresError as error:
        raise GradebookMissing(f"The gradebook (PostgreSQL) could not start: {error}\nRun `make class-setup` (it installs Debian's PostgreSQL as root).") from error


def stop(settings: HubSettings) -> bool:
    """Stop the cluster; True if it was running."""
    db = cluster(settings)
    try:
        running = db.is_running()
    except Exception:  # noqa: BLE001 - PostgreSQL not installed: nothing runs
        return False
    if running:
        db.stop()
    return running


def is_running(settings: HubSettings) -> bool:
    try:
        return cluster(settings).is_running()
    except Exception:  # noqa: BLE001 - PostgreSQL not installed: nothing runs
        return False
