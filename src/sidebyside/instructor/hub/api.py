"""The hub's REST API, as the ``class-admin`` service (token in ``STATE_DIR/admin_token``, root-only).

Used by ``stop`` (stop every user's server before the hub) and by the tests (start a server,
issue a user's token). It talks to the hub on loopback directly, not through the proxy.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from urllib.parse import quote

from .settings import HubSettings


class HubAPIError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def admin_token(settings: HubSettings) -> str:
    return (settings.state_dir / "admin_token").read_text().strip()


def call(settings: HubSettings, method: str, path: str, body: dict | None = None, *, token: str | None = None, timeout: float = 30):
    """``METHOD /hub/api/PATH``; returns the decoded JSON (None when empty)."""
    url = f"http://127.0.0.1:{settings.hub_port}/hub/api/{path.lstrip('/')}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"token {token or admin_token(settings)}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            text = reply.read().decode()
    except urllib.error.HTTPError as error:
        raise HubAPIError(error.code, error.read().decode(errors="replace")[:500]) from None
    return json.loads(text) if text.strip() else None


def users(settings: HubSettings) -> list[dict]:
    return call(settings, "GET", "users")


def server_of(settings: HubSettings, user: str) -> dict | None:
    """The user's default server as the hub sees it (None when it has none)."""
    return (call(settings, "GET", f"users/{quote(user)}").get("servers") or {}).get("")


def request_server(settings: HubSettings, user: str) -> None:
    """Ask the hub to start ``user``'s server (returns at once; :func:`wait_ready` waits)."""
    try:
        call(settings, "POST", f"users/{quote(user)}/server")
    except HubAPIError as error:
        if error.status != 400:  # 400: already running or already starting
            raise


def wait_ready(settings: HubSettings, user: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server = server_of(settings, user)
        if server and server.get("ready"):
            return
        if server is None:
            raise HubAPIError(500, f"{user}'s server is not running or starting: see {settings.logs_dir / 'hub.log'}")
        time.sleep(0.5)
    raise TimeoutError(f"{user}'s server was not ready within {timeout} s: see {settings.logs_dir / 'hub.log'}")


def start_server(settings: HubSettings, user: str, timeout: float = 180) -> float:
    """Start ``user``'s server and wait until it is ready; returns the seconds it took."""
    began = time.monotonic()
    request_server(settings, user)
    wait_ready(settings, user, timeout)
    return time.monotonic() - began


def stop_server(settings: HubSettings, user: str, timeout: float = 60) -> None:
    """Ask the hub to stop ``user``'s server and wait up to ``timeout`` s until it has stopped."""
    try:
        call(settings, "DELETE", f"users/{quote(user)}/server")
    except HubAPIError as error:
        if error.status not in (400, 404):  # 400: not running, or already stopping
            raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server_of(settings, user) is not None:
        time.sleep(0.5)


def user_token(settings: HubSettings, user: str, note: str = "sidebyside.instructor.hub") -> str:
    """A new API token for ``user`` (the user's own permissions, 1 hour)."""
    return call(settings, "POST", f"users/{quote(user)}/tokens", {"note": note, "expires_in": 3600})["token"]
