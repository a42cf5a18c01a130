"""A private PostgreSQL cluster for a class's gradebook (Debian's server programs, our own cluster).

The class hub keeps its gradebook in PostgreSQL (issue 16; names and port in ``hub/class.toml``,
``[gradebook]``). This module runs a cluster of its own, not the system-wide service:

- a data directory (``make hub``: ``.hub/postgres/data``, git-ignored; tests use a tmp dir);
- listening on ``127.0.0.1`` only, at the given port, its Unix socket in ``DATA_DIR/socket``
  (mode 0700: the cluster's owner only);
- ``pg_hba.conf`` lets in the cluster's owner through that socket (peer) and each gradebook's
  role, into its own database only, over TCP from loopback with ``scram-sha-256``. Nothing else.

PostgreSQL refuses to run as root: as root the server runs as the unprivileged ``postgres`` user
(Debian's package creates it; a system user is made if it is missing), owning the data directory.

    cluster = Cluster(folder / "data", port=5433)
    cluster.init(); cluster.start()
    url = cluster.create_gradebook("sidebyside_gradebook", "sidebyside_grader", password)
    # postgresql+psycopg://sidebyside_grader:...@127.0.0.1:5433/sidebyside_gradebook

``sidebyside gradebook start|stop|status|url`` runs the class's cluster from
``hub/class.toml`` (password kept in ``.hub/postgres/gradebook.password``, mode 0600).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import quote

from ... import _processes

SERVER_USER = "postgres"  # as root, the server runs as this user (Debian's package creates it)
INSTALL_HINT = "run scripts/install-postgresql as root, or: apt-get install --no-install-recommends postgresql"


class PostgresError(RuntimeError):
    """Something about the cluster went wrong; the message says what and what to do."""


def server_bin() -> Path:
    """The folder of PostgreSQL's server programs (the newest under /usr/lib/postgresql)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for folder in reversed(found):
        if all(os.access(Path(folder, exe), os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb", path=str(Path(on_path).parent)):
        return Path(on_path).parent
    raise PostgresError(f"PostgreSQL's server programs (initdb, pg_ctl) are not installed: {INSTALL_HINT}")


class Cluster:
    """A PostgreSQL cluster in ``data_dir`` on ``host:port`` (loopback by default)."""

    def __init__(self, data_dir: Path | str, port: int, host: str = "127.0.0.1"):
        self.data_dir = Path(data_dir).absolute()
        self.port, self.host = int(port), host
        self.socket_dir = self.data_dir / "socket"
        self.log = self.data_dir / "server.log"
        self.user = SERVER_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    # --- running PostgreSQL's programs as the cluster's owner ------------------------------------

    def _run(self, exe: str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        account = pwd.getpwnam(self.user)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": account.pw_dir, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"}
        as_owner = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if os.geteuid() == 0 else {}
        result = subprocess.run([str(server_bin() / exe), *args], env=env, cwd="/", capture_output=True, text=True, timeout=timeout, **as_owner)
        if check and result.returncode != 0:
            raise PostgresError(f"`{exe} {' '.join(args)}` failed (exit {result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        return result

    def _ensure_server_user(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--user-group", "--home-dir", "/var/lib/postgresql", "--shell", "/usr/sbin/nologin", self.user], check=True)

    def _check_owner(self) -> None:
        owner = self.data_dir.stat().st_uid
        want = pwd.getpwnam(self.user).pw_uid
        if owner != want:
            try:
                name = pwd.getpwuid(owner).pw_name
            except KeyError:
                name = f"uid {owner}"
            raise PostgresError(
                f"the data directory {self.data_dir} is owned by {name}, but the server runs as {self.user}: "
                f"use another directory, or give it to {self.user} (chown -R {self.user} {self.data_dir})"
            )

    def _check_reachable(self) -> None:
        """As root: every folder above the data directory must let the server's user through."""
        if os.geteuid() != 0:
            return
        account = pwd.getpwnam(self.user)
        for folder in reversed(self.data_dir.parents):
            info = folder.stat()
            mode = info.st_mode
            through = mode & 0o001 or (info.st_uid == account.pw_uid and mode & 0o100) or (info.st_gid == account.pw_gid and mode & 0o010)
            if not through:
                raise PostgresError(
                    f"the server runs as {self.user}, who cannot enter {folder} (mode {oct(mode & 0o777)}): "
                    f"put the data directory where {self.user} can reach it, e.g. under /var/lib/postgresql or a 0755 folder"
                )

    # --- the cluster ------------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def init(self) -> Cluster:
        """Create the cluster (idempotent): ``initdb``, then our settings and ``pg_hba.conf``."""
        server_bin()
        self._ensure_server_user()
        if self.initialized:
            self._check_owner()
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if any(self.data_dir.iterdir()):
            raise PostgresError(f"{self.data_dir} is not empty and holds no PostgreSQL cluster: use an empty or a new directory")
        if os.geteuid() == 0:
            account = pwd.getpwnam(self.user)
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        self._check_owner()
        self._check_reachable()
        self.data_dir.chmod(0o700)
        self._run("initdb", "--pgdata", str(self.data_dir), "--username", self.user, "--auth", "reject", "--encoding", "UTF8", "--no-instructions")
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# sidebyside.instructor.hub.postgres: port, address and socket are set at each start (sidebyside.conf)\ninclude_if_exists = 'sidebyside.conf'\n")
        self._as_owner_file("socket", directory=True)
        self._write_hba([])
        return self

    def _as_owner_file(self, name: str, text: str | None = None, *, directory: bool = False) -> Path:
        path = self.data_dir / name
        if directory:
            path.mkdir(mode=0o700, exist_ok=True)
        else:
            path.write_text(text or "")
            path.chmod(0o600)
        if os.geteuid() == 0:
            account = pwd.getpwnam(self.user)
            os.chown(path, account.pw_uid, account.pw_gid)
        return path

    def _write_hba(self, gradebooks: list[tuple[str, str]]) -> None:
        lines = [
            "# Written by sidebyside.instructor.hub.postgres: the owner through the socket, each gradebook's role into its own",
            "# database from loopback with a password. Nothing else.",
            "# TYPE  DATABASE  USER  ADDRESS  METHOD",
            f"local   all   {self.user}   peer map=owner",
            *(f"host    {database}   {role}   {self.host}/32   scram-sha-256" for database, role in gradebooks),
        ]
        self._as_owner_file("pg_hba.conf", "\n".join(lines) + "\n")
        # peer map: the owner, and root (who may do anything here anyway), as the owner
        self._as_owner_file("pg_ident.conf", f"owner   {self.user}   {self.user}\nowner   root   {self.user}\n")

    def _gradebooks(self) -> list[tuple[str, str]]:
        lines = (self.data_dir / "pg_hba.conf").read_text().splitlines() if (self.data_dir / "pg_hba.conf").is_file() else []
        return [(parts[1], parts[2]) for parts in (line.split() for line in lines) if parts and parts[0] == "host"]

    def is_running(self) -> bool:
        if not self.initialized:
            return False
        return self._run("pg_ctl", "status", "--pgdata", str(self.data_dir), check=False).returncode == 0

    def start(self, timeout: float = 60) -> Cluster:
        """Start the server (nothing to do if it runs); clear errors for a busy port or a failed start."""
        if not self.initialized:
            raise PostgresError(f"no cluster in {self.data_dir}: call init() first (sidebyside gradebook start does)")
        self._check_owner()
        if self.is_running():
            return self
        busy = _processes.port_holder(self.port, self.host)
        if busy:
            raise PostgresError(f"port {self.port} on {self.host} is in use by {busy}: stop it, or choose another port ([gradebook] port in hub/class.toml)")
        self._as_owner_file("socket", directory=True)
        self._as_owner_file("sidebyside.conf", "\n".join([
            f"listen_addresses = '{self.host}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "unix_socket_permissions = 0700",
            "password_encryption = 'scram-sha-256'",
            "max_connections = 40",
            "",
        ]))
        log_size = self.log.stat().st_size if self.log.exists() else 0
        result = self._run("pg_ctl", "start", "--pgdata", str(self.data_dir), "--log", str(self.log), "--wait", f"--timeout={int(timeout)}", check=False, timeout=timeout + 30)
        if result.returncode != 0 or not self.is_running():
            tail = self.log.read_text(errors="replace")[log_size:].splitlines()[-15:] if self.log.exists() else []
            raise PostgresError(
                f"PostgreSQL did not start in {self.data_dir} (pg_ctl exit {result.returncode}): {result.stderr.strip()[-500:]}\n"
                f"last lines of {self.log}:\n  " + "\n  ".join(tail or ["(empty)"])
            )
        return self

    def stop(self) -> Cluster:
        if self.is_running():
            self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "fast", "--wait")
        return self

    def restart(self) -> Cluster:
        return self.stop().start()

    # --- SQL as the owner --------------------------------------------------------------------------

    def connect(self, database: str = "postgres"):
        """A psycopg connection as the cluster's owner, through its socket (autocommit)."""
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=self.user, dbname=database, autocommit=True)

    def create_gradebook(self, database: str, role: str, password: str) -> str:
        """Make (or update) ``role`` with ``password`` and its database ``database``, let that role
        in from loopback, and return the gradebook's SQLAlchemy URL. Idempotent."""
        from psycopg import sql

        if not password:
            raise PostgresError(f"the gradebook's role {role!r} needs a password")
        with self.connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role)))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
        gradebooks = self._gradebooks()
        if (database, role) not in gradebooks:
            self._write_hba([*gradebooks, (database, role)])
            with self.connect() as conn:
                conn.execute("SELECT pg_reload_conf()")
        return f"postgresql+psycopg://{quote(role, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{quote(database, safe='')}"


# --- the class's cluster (hub/class.toml) -------------------------------------------------------------


def class_settings(root: Path) -> dict:
    """``[gradebook]`` of ``hub/class.toml``: database, role, host, port."""
    with open(Path(root) / "hub" / "class.toml", "rb") as handle:
        return tomllib.load(handle)["gradebook"]


def class_cluster(root: Path) -> tuple[Cluster, dict, Path]:
    """The class's cluster (``.hub/postgres/data``), its settings and its password file."""
    settings = class_settings(root)
    folder = Path(root) / ".hub" / "postgres"
    return Cluster(folder / "data", settings["port"], settings["host"]), settings, folder / "gradebook.password"


def class_password(path: Path) -> str:
    """The gradebook role's password, made once and kept (mode 0600) in ``path``."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def main(argv: list[str] | None = None, prog: str = "python -m sidebyside.instructor.hub.postgres") -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description="The class's PostgreSQL gradebook (hub/class.toml, [gradebook]).")
    parser.add_argument("command", choices=["start", "stop", "status", "url"])
    parser.add_argument("--course", metavar="DIR", default=".", help="the course folder, holding hub/class.toml (default: here)")
    args = parser.parse_args(argv)
    try:
        cluster, settings, password_file = class_cluster(Path(args.course).resolve())
        if args.command == "start":
            began = time.monotonic()
            cluster.init().start()
            cluster.create_gradebook(settings["database"], settings["role"], class_password(password_file))
            print(f"PostgreSQL gradebook on {cluster.host}:{cluster.port} ({cluster.data_dir}), ready in {time.monotonic() - began:.1f} s")
            role, database = settings["role"], settings["database"]
            print(f"grade into it: PGPASSWORD=\"$(cat {password_file})\" sidebyside grade ASSIGNMENT "
                  f"--db-url postgresql+psycopg://{role}@{cluster.host}:{cluster.port}/{database}")
        elif args.command == "stop":
            cluster.stop()
            print(f"PostgreSQL in {cluster.data_dir}: stopped")
        elif args.command == "status":
            running = cluster.is_running()
            print(f"PostgreSQL in {cluster.data_dir}: {'running on ' + cluster.host + ':' + str(cluster.port) if running else 'not running'}")
            return 0 if running else 3
        else:
            if not password_file.is_file():
                raise PostgresError(f"no gradebook yet (no {password_file}): run `sidebyside gradebook start` first")
            role, database = settings["role"], settings["database"]
            print(f"postgresql+psycopg://{quote(role, safe='')}:{quote(class_password(password_file), safe='')}@{cluster.host}:{cluster.port}/{quote(database, safe='')}")
    except PostgresError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
