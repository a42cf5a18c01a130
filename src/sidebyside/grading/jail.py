"""Start a student's kernel in a jail: ``python -m sidebyside.grading.jail SETTINGS -- KERNEL...``.

Used by :class:`sidebyside.grading.execute.GradingKernelManager` (a cold kernel, entered by
``exec``) and by :mod:`.warm_start` (a forked kernel, :func:`confine` in-process). In order:

1. new mount and network namespaces (``unshare(2)``; as root, or inside a new user namespace
   when unprivileged user namespaces are allowed): the kernel has no network at all (not even
   loopback; it talks to nbgrader over Unix sockets, ``KernelManager.transport = "ipc"``);
2. a fresh, empty ``/tmp`` (hides every other student's scratch course and run folder) and
   an empty read-only filesystem or ``/dev/null`` over each path in ``hide`` (the course's
   solutions, submissions, autograded notebooks, feedback and gradebook);
3. the assignment's extra files copied into ``/tmp/work``, the kernel's working folder;
4. limits (no core files, files of at most 2 GB, at most ``nproc`` threads), then, as root,
   a user id of its own (``uid``) with no capabilities and ``no_new_privs``, so the kernel
   can neither undo the mounts nor signal or read another student's kernel.

SETTINGS is JSON: ``{"mode": "root"|"userns", "uid": int, "hide": [paths], "nproc": int}``.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import sys
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None):
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def enter_namespaces(mode: str):
    """New mount + network namespaces (and a user namespace in ``userns`` mode)."""
    uid, gid = os.getuid(), os.getgid()
    if mode == "userns":
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET), "unshare")
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    else:
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def hide(paths: list[str]):
    for path in paths:
        p = Path(path)
        if p.is_dir():
            _mount("tmpfs", str(p), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
        elif p.exists():
            _mount("/dev/null", str(p), None, MS_BIND)


def _closed(folder: Path) -> bool:
    """Other users cannot traverse ``folder``."""
    return not folder.stat().st_mode & 0o001


def expose(paths: list[str]):
    """Make ``paths`` (the interpreter and its packages) reachable for an unprivileged user
    when an ancestor such as ``/root`` is closed (mode 0700): an empty tmpfs goes over the
    closed folder and only the needed children are moved back in. Everything else in it stays
    hidden; nothing on disk changes."""
    staged = 0
    for _ in range(8):  # nested closed folders: one level per round
        closed: dict[Path, set[str]] = {}
        for path in paths:
            p = Path(path)
            if not p.exists():
                continue
            for depth in range(1, len(p.parts)):
                folder = Path(*p.parts[:depth])
                if _closed(folder):
                    closed.setdefault(folder, set()).add(p.parts[depth])
                    break
        if not closed:
            return
        for folder, children in closed.items():
            moves = []
            for child in sorted(children):
                stage = Path(f"/tmp/.stage-{staged}")
                staged += 1
                stage.mkdir()
                _mount(str(folder / child), str(stage), None, MS_BIND | MS_REC)
                moves.append((child, stage, (folder / child).stat().st_mode & 0o7777))
            _mount("tmpfs", str(folder), "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=0755")
            for child, stage, mode in moves:
                (folder / child).mkdir()
                _mount(str(stage), str(folder / child), None, MS_BIND | MS_REC)
                _libc.umount2(str(stage).encode(), 2)  # MNT_DETACH
                stage.rmdir()
                del mode


def _needed_under_tmp() -> list[Path]:
    """The folders the kernel needs (the interpreter's prefixes, this package's source) that
    lie under /tmp, outermost only. Only these come back: a checkout's solutions/ stay hidden."""
    package_root = Path(__file__).resolve().parents[2]  # src/ of a checkout, or site-packages
    candidates = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, package_root)}
    under = sorted(p for p in candidates if p.is_relative_to("/tmp") and p != Path("/tmp"))
    return [p for p in under if not any(p != q and p.is_relative_to(q) for q in under)]


def confine(config: dict, kernel: list[str]) -> tuple[list[str], dict[str, str]]:
    """Steps 1 to 4 in this process (the working folder is the kernel's run folder); returns
    the kernel command and environment to run. Used by :func:`main` before ``exec`` and by a
    warm kernel (:mod:`.warm_start`) before it runs ipykernel in-process."""
    kernel = list(kernel)
    mode, uid = config.get("mode", "root"), int(config.get("uid", 0))
    extra = [(p.name, p.read_bytes() if p.is_file() else None) for p in sorted(Path.cwd().iterdir())] if Path.cwd().is_dir() else []
    connection = None
    if "-f" in kernel:
        # nbclient may write the connection file under /tmp, which is replaced below: carry it.
        at = kernel.index("-f") + 1
        connection_data = Path(kernel[at]).read_bytes()

    enter_namespaces(mode)
    # The interpreter and this package may live under /tmp (a checkout or virtualenv there, as
    # on some CI machines): keep a handle on the old /tmp to bind them back after it is replaced.
    keep = _needed_under_tmp()
    old_tmp = os.open("/tmp", os.O_PATH | os.O_DIRECTORY) if keep else None
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=2g,mode=1777")
    for path in keep:
        relative = path.relative_to("/tmp")
        path.mkdir(parents=True, exist_ok=True)
        _mount(f"/proc/self/fd/{old_tmp}/{relative}", str(path), None, MS_BIND | MS_REC)
    if old_tmp is not None:
        os.close(old_tmp)
    hide([p for p in config.get("hide", []) if not Path(p).resolve().is_relative_to("/tmp")])
    if mode == "root" and uid:
        expose(sorted({os.path.realpath(sys.executable), sys.base_prefix, sys.prefix, *(p for p in sys.path if p)}))
    work = Path("/tmp/work")
    (work / ".home").mkdir(parents=True)
    for name, data in extra:
        if data is not None:
            (work / name).write_bytes(data)
    if "-f" in kernel:
        connection = Path("/tmp/.kernel/connection.json")
        connection.parent.mkdir(mode=0o700)
        connection.write_bytes(connection_data)
        kernel[at] = str(connection)
    os.chdir(work)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDEBYSIDE_", "SUDO_"))}
    env.update(HOME=str(work / ".home"), TMPDIR="/tmp", MPLCONFIGDIR=str(work / ".home" / "mpl"), PWD=str(work))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 30, 2 << 30))
    if mode == "root" and uid:
        for path in [work, *work.rglob("*")]:
            os.chown(path, uid, uid)
        if connection:
            os.chown(connection, uid, uid)
            os.chown(connection.parent, uid, uid)
        nproc = int(config.get("nproc", 4096))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from root to another user: every capability is dropped
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")
    return kernel, env


def drop_capabilities():
    """Drop every capability of this process (root inside a user namespace), bounding set
    included, so that the mounts stay and nothing is regained by ``exec``."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "prctl(PR_CAPBSET_DROP)")
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (two words each): none
    _check(_libc.capset(header, data), "capset")


def main(argv: list[str]) -> None:
    split = argv.index("--")
    config, kernel = json.loads(argv[1]), argv[split + 1 :]
    kernel, env = confine(config, kernel)
    if config.get("mode") == "userns" and shutil.which("setpriv"):
        # root inside the user namespace: drop every capability, so the mounts stay.
        kernel = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", *kernel]
    os.execvpe(kernel[0], kernel, env)


if __name__ == "__main__":
    main(sys.argv)
