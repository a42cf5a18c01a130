"""Starting a model server without waiting for it (the launcher of :mod:`sidebyside.servers`), and
watching it become ready.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .. import servers as _servers
from ..frameworks import TF_LOG_LEVEL
from ..servers import NO_SERVERS_ENV_VAR, PortInUseError, ServerError, free_port, port_is_free


# --- Starting without waiting ----------------------------------------------------------------


def _spawn(cls, name: str, entry_point: str, args: list[str], *, port: int | None, host: str, ready_path: str, env: dict, cleanup=None):
    """Start a server the way :mod:`sidebyside.servers` does (its launcher: own process group,
    parent-death signal, parent watch, stopped at exit) but return at once; ``server.wait()``
    then waits for it. Two servers can so start together from the notebook's own thread: a
    server started from a worker thread would get the parent-death signal when that thread ends
    (Linux sends it when the *thread* that started the child exits)."""
    if os.environ.get(NO_SERVERS_ENV_VAR):
        raise ServerError(f"{NO_SERVERS_ENV_VAR} is set: this machine does not run servers, so {name} was not started.")
    chosen = free_port(host) if port is None else int(port)
    if port is not None and not port_is_free(chosen, host):
        raise PortInUseError(_servers._port_in_use_message(name, chosen, host))
    log_dir = Path(tempfile.mkdtemp(prefix=f"sidebyside-{name.lower()}-"))
    log_path = log_dir / "server.log"
    command = [sys.executable, "-c", _servers._LAUNCHER, str(os.getpid()), entry_point, *[a.format(port=chosen, host=host) for a in args]]
    child_env = dict(env)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    child_env["PYTHONUNBUFFERED"] = "1"
    launched = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=child_env, start_new_session=True)
    server = cls(name, process, chosen, host, log_path, ready_path)
    server.launched_at = launched
    server._cleanup.append(lambda: shutil.rmtree(log_dir, ignore_errors=True))
    if cleanup is not None:
        server._cleanup.append(cleanup)
    _servers._RUNNING.append(server)
    return server


def _watch_readiness(server, models_ready=None, timeout: float = 240.0) -> None:
    """Note when ``server`` first answers its ready path (``server.answered_at``) and then when
    ``models_ready()`` is first true (``server.ready_at``), from a daemon thread that polls every
    0.1 s. So a cold start is measured from launch to the first answer even when ``wait()`` is
    called later: lesson 06 runs other sections while its servers start."""

    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and server.running:
            try:
                if server.answered_at == float("inf"):
                    with urllib.request.urlopen(server.url + server.ready_path, timeout=2) as response:
                        if response.status == 200:
                            server.answered_at = time.monotonic()
                if server.answered_at < float("inf") and (models_ready is None or models_ready()):
                    server.ready_at = time.monotonic() if models_ready is not None else server.answered_at
                    return
            except Exception:  # noqa: BLE001 - not up yet (refused, 503, no worker): poll again
                pass
            time.sleep(0.1)

    threading.Thread(target=watch, name=f"sidebyside-{server.name}-readiness", daemon=True).start()
