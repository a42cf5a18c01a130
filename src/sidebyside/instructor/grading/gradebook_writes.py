"""The course's gradebook as ``sidebyside grade`` writes it: SQLite or PostgreSQL.

- :func:`locked`: one writer at a time. Two graders running at once (on different students)
  would both create the gradebook's tables, the course or the assignment and one would fail;
  a PostgreSQL advisory lock (any machine) or a file lock (a SQLite file) serializes them.
- :func:`retrying`: a PostgreSQL server that restarts, or is briefly unreachable, is waited for
  (bounded, said on stderr); when it stays away the caller leaves the student unmerged, so that
  the next run (a resume) grades and writes that student again.
- :func:`for_nbgrader`: nbgrader's own processes get the URL without its password (anyone on the
  machine can read a command line) and the password in ``PGPASSWORD``.
"""

from __future__ import annotations

import contextlib
import fcntl
import sys
import time
from pathlib import Path

#: how long a gradebook that went away is waited for, in seconds
WAIT_SECONDS = 60.0
#: the PostgreSQL advisory lock of `sidebyside grade` (any fixed 64-bit number; "sbsgrade")
LOCK_KEY = 0x7362736772616465
#: how long to wait for another grader to release the lock before failing (a merge takes ~1 s)
LOCK_TIMEOUT_SECONDS = 300


class Unavailable(RuntimeError):
    """The gradebook could not be written within :data:`WAIT_SECONDS`."""


def is_postgres(db_url: str) -> bool:
    return db_url.startswith(("postgresql", "postgres:"))


def display(db_url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(db_url).render_as_string(hide_password=True)


def for_nbgrader(db_url: str) -> tuple[str, dict[str, str]]:
    """``(url, env)`` for an nbgrader command line: the password moves to ``PGPASSWORD``."""
    if not is_postgres(db_url):
        return db_url, {}
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.password is None:
        return db_url, {}
    return url.set(password=None).render_as_string(hide_password=False), {"PGPASSWORD": str(url.password)}


def backup_note(db_url: str) -> str:
    """What to run to back up a PostgreSQL gradebook (sidebyside grade does not)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    return (
        f"gradebook {display(db_url)} is PostgreSQL: not backed up by sidebyside grade; back it up with "
        f"`PGPASSWORD=... pg_dump --format=custom --file=gradebook-$(date +%Y%m%d-%H%M%S).dump "
        f"--host={url.host or '127.0.0.1'} --port={url.port or 5432} --username={url.username} {url.database}` "
        f"(restore: pg_restore --clean --dbname={url.database} FILE)"
    )


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock on ``path`` (made if missing) for the ``with`` block: graders of one
    course folder take turns (SQLite's gradebook; the grades CSV and feedback/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def locked(db_url: str, root: Path):
    """Hold the gradebook's writer lock for the ``with`` block."""
    if not is_postgres(db_url):
        with file_lock(Path(root) / ".grading" / "gradebook.lock"):
            yield
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'"))
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # a server that restarted has dropped the lock already
                    conn.execute(text("SELECT pg_advisory_unlock_all()"))
                    conn.commit()
    finally:
        engine.dispose()


def retrying(what: str, action, db_url: str, root: Path, wait: float = WAIT_SECONDS):
    """Run ``action()`` under :func:`locked`; while the database is unreachable, retry for up to
    ``wait`` seconds, then raise :class:`Unavailable`."""
    from nbgrader.api import InvalidEntry
    from sqlalchemy.exc import DBAPIError

    deadline = time.monotonic() + wait
    delay = 0.5
    while True:
        try:
            with locked(db_url, root):
                return action()
        except (DBAPIError, InvalidEntry) as error:
            # DBAPIError: the server went away (OperationalError) or a race (IntegrityError);
            # nbgrader turns both into InvalidEntry inside its own commits
            reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
            if time.monotonic() + delay > deadline:
                raise Unavailable(f"{what}: the gradebook {display(db_url)} failed for {wait:.0f} s: {reason}") from error
            print(f"{what}: the gradebook {display(db_url)} failed ({reason}); trying again in {delay:.1f} s (up to {wait:.0f} s)", file=sys.stderr, flush=True)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
