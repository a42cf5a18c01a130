"""Starting a model server without waiting for it (the launcher of :mod:`sidebyside.servers`), and
watching it become ready.
"""

from __future__ import annotations

import threading
import time
import urllib.request

from ..servers import spawn_server


# --- Starting without waiting ----------------------------------------------------------------


def _spawn(cls, name: str, entry_point: str, args: list[str], *, port: int | None, host: str, ready_path: str, env: dict, cleanup=None):
    """Start a server with :func:`sidebyside.servers.spawn_server` and return at once;
    ``server.wait()`` then waits for it. Two servers can so start together from the notebook's
    own thread: a server started from a worker thread would get the parent-death signal when
    that thread ends (Linux sends it when the *thread* that started the child exits)."""
    return spawn_server(cls, name, entry_point, args, port=port, host=host, ready_path=ready_path, env=env, cleanup=cleanup)


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
