"""The class's Unix users: created by ``start`` when root, with generated passwords.

Every user (the instructor and each student) is a real Unix user: JupyterHub logs them in with
PAM and runs each one's server as that user, so the operating system keeps them apart. Homes
are 0700. Passwords are generated once, set with chpasswd, written to ``STATE_DIR/passwords``
(root-only, 0600) and printed once, when the user is created. A user that already exists is
kept as it is (its password too).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import time
from pathlib import Path

COMMENT = "Side by Side class hub"


class NeedsRoot(PermissionError):
    pass


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise NeedsRoot(
            f"{what} needs root: the class's instructor and students are Unix users that only root can create, "
            "and JupyterHub must be root to start each user's server as that user. Run it as root (sudo make hub)."
        )


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def read_passwords(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if " " in line and not line.startswith("#"))
    return {name: password for name, password in pairs}


def write_passwords(path: Path, passwords: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# The class hub's logins (user password), root-only. Written by sidebyside hub start.\n")
        handle.writelines(f"{name} {password}\n" for name, password in sorted(passwords.items()))
    os.chmod(path, 0o600)


def ensure_users(names: tuple[str, ...], home_root: Path, passwords_file: Path) -> dict[str, str]:
    """Create the users that do not exist yet; returns {name: password} of those created now."""
    require_root("Creating the class's users")
    passwords = read_passwords(passwords_file)
    created = {}
    for name in names:
        home = home_root / name
        if not exists(name):
            home_root.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--user-group", "--comment", COMMENT, name],
                check=True,
                capture_output=True,
                text=True,
            )
            password = secrets.token_urlsafe(12)
            subprocess.run(["chpasswd"], input=f"{name}:{password}\n", check=True, capture_output=True, text=True)
            passwords[name] = created[name] = password
        entry = pwd.getpwnam(name)
        Path(entry.pw_dir).mkdir(parents=True, exist_ok=True)
        os.chown(entry.pw_dir, entry.pw_uid, entry.pw_gid)
        os.chmod(entry.pw_dir, 0o700)  # nobody else reads a student's (or the instructor's) files
    if created:
        write_passwords(passwords_file, passwords)
    return created


def run_as(name: str, *command: str, **kwargs) -> subprocess.CompletedProcess:
    """Run ``command`` as the Unix user ``name`` (runuser, from root), in that user's home."""
    entry = pwd.getpwnam(name)
    env = {"HOME": entry.pw_dir, "USER": name, "LOGNAME": name, "PATH": kwargs.pop("path", os.environ.get("PATH", "/usr/bin:/bin")), "LANG": "C.UTF-8"}
    env.update(kwargs.pop("env", {}))
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin:/usr/bin:/bin") or "runuser"
    return subprocess.run([runuser, "-u", name, "--", *command], env=env, cwd=kwargs.pop("cwd", None) or entry.pw_dir, **kwargs)


def kill_processes_of(name: str) -> list[int]:
    """SIGKILL every process running as the user ``name`` (by pid); returns the pids."""
    import psutil

    uid = pwd.getpwnam(name).pw_uid
    killed = []
    for process in psutil.process_iter(["uids"]):
        try:
            if process.info["uids"] and process.info["uids"].real == uid:
                process.kill()
                killed.append(process)
        except psutil.Error:
            pass
    psutil.wait_procs(killed, timeout=5)
    return [process.pid for process in killed]


def remove_users(names: tuple[str, ...]) -> None:
    """Remove users created for the class (their processes, home and group too)."""
    require_root("Removing users")
    for name in names:
        if not exists(name):
            continue
        home = pwd.getpwnam(name).pw_dir
        for attempt in range(3):
            kill_processes_of(name)
            removed = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
            if removed.returncode in (0, 12):  # 12: home could not be removed (done below)
                break
            time.sleep(0.5 * (attempt + 1))
        if home and Path(home).is_dir() and Path(home).name == name:
            shutil.rmtree(home, ignore_errors=True)
