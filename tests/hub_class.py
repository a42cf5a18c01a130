"""A real class hub for tests: the fixture ``class_hub`` (module scope).

It runs what ``make hub`` runs (:func:`sidebyside.instructor.hub.services.start`), with test values in
place of hub/class.toml's: Unix users ``sbs-test-TAG-instructor`` and
``sbs-test-TAG-student1..3`` (TAG from the test module, so a real hub's users and other test
modules' hubs, even on another xdist worker, are untouched), free loopback ports, and a
temporary folder (mode 0755, so the class's users can reach the exchange in it) holding the
exchange, the hub's state and PostgreSQL's data. Everything is stopped and the test users
are removed afterwards; a run that crashed is cleaned up by the next one.

Usage in a test module::

    from hub_class import class_hub  # noqa: F401 - the fixture

    def test_something(class_hub):
        class_hub.url, class_hub.instructor.name, class_hub.students[0].password
        class_hub.run_as(class_hub.students[0], "nbgrader", "list")

Without root, JupyterHub's proxy or PostgreSQL, the fixture skips the tests, saying which
and what to run (make class-setup).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sidebyside import _processes
from sidebyside.instructor.hub import api, class_gradebook, services, users
from sidebyside.instructor.hub.settings import HubSettings, load

STUDENTS = 3


@dataclass(frozen=True)
class Login:
    name: str
    password: str

    def __str__(self) -> str:
        return self.name


@dataclass
class ClassHub:
    settings: HubSettings
    instructor: Login
    students: list[Login]
    gradebook_url: str
    base: Path
    #: Seconds from launching JupyterHub (cold) to /hub/health answering; and the whole start.
    hub_start_seconds: float
    total_start_seconds: float
    stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def course_dir(self) -> Path:
        return self.settings.course_dir

    @property
    def exchange(self) -> Path:
        return self.settings.exchange_root

    @property
    def logins(self) -> list[Login]:
        return [self.instructor, *self.students]

    def home(self, user: Login | str) -> Path:
        return self.settings.home(str(user))

    def run_as(self, user: Login | str, *command: str, **kwargs) -> subprocess.CompletedProcess:
        """Run ``command`` as that Unix user (runuser) in their home, with the course's
        virtualenv first on PATH and the user's role configuration, as their server has it.
        Returns the CompletedProcess (text output captured, no check)."""
        name = str(user)
        env = {
            "JUPYTER_CONFIG_PATH": str(self.settings.role_config_dir("instructor" if name == self.instructor.name else "student")),
            **kwargs.pop("env", {}),
        }
        path = f"{self.settings.class_venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
        return users.run_as(name, *command, env=env, path=path, **kwargs)

    # --- the hub's API as the class-admin service ---------------------------------------------------

    def start_server(self, user: Login | str, timeout: float = 180) -> float:
        """Start the user's server through the hub; returns the seconds until it was ready."""
        return api.start_server(self.settings, str(user), timeout)

    def stop_server(self, user: Login | str) -> None:
        api.stop_server(self.settings, str(user))

    def user_token(self, user: Login | str) -> str:
        """A fresh API token of that user (the user's own permissions)."""
        return api.user_token(self.settings, str(user))

    def server_processes(self) -> dict[str, list]:
        return services.server_processes(self.settings)

    def server_url(self, user: Login | str) -> str:
        return f"{self.url}/user/{user}"

    def run_in_kernel(self, user: Login | str, code: str, token: str | None = None, timeout: float = 120) -> str:
        """Run ``code`` in a new kernel on ``user``'s own server, through the hub and its proxy
        (Jupyter's REST API and the kernel's websocket, with the user's token), and return what
        it printed (stdout, then any error's traceback). The kernel is shut down afterwards."""
        return run_in_kernel(self.server_url(user), token or self.user_token(user), code, timeout)

    # --- restarts and the end ------------------------------------------------------------------------

    def restart_hub(self) -> float:
        """Restart JupyterHub (users' servers and the proxy keep running); returns its start's seconds."""
        return services.restart_hub(self.settings)

    def restart_postgres(self) -> None:
        class_gradebook.cluster(self.settings).restart()

    def stop(self) -> None:
        """Stop every process, remove the test users and the temporary folder (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        try:
            services.stop(self.settings)
        finally:
            users.remove_users(tuple(login.name for login in self.logins))
            shutil.rmtree(self.base, ignore_errors=True)


def run_in_kernel(server_url: str, token: str, code: str, timeout: float = 120) -> str:
    """See :meth:`ClassHub.run_in_kernel`."""
    import asyncio
    import json
    import urllib.request
    import uuid

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Authorization": f"token {token}"}

    def rest(method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{server_url}/api/{path}", data=data, method=method, headers={**headers, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            text = reply.read().decode()
        return json.loads(text) if text.strip() else None

    kernel = rest("POST", "kernels", {"name": "python3"})

    async def execute() -> str:
        url = server_url.replace("http://", "ws://", 1) + f"/api/kernels/{kernel['id']}/channels"
        connection = await websocket_connect(HTTPRequest(url, headers=headers, connect_timeout=60, request_timeout=timeout))
        session, msg_id = uuid.uuid4().hex, uuid.uuid4().hex
        header = {"msg_id": msg_id, "username": "test", "session": session, "msg_type": "execute_request", "version": "5.3", "date": ""}
        content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
        await connection.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell", "buffers": []}))
        out = []
        while True:
            raw = await asyncio.wait_for(connection.read_message(), timeout)
            if raw is None:
                raise RuntimeError(f"the kernel's websocket closed; output so far: {''.join(out)!r}")
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if kind == "stream":
                out.append(message["content"]["text"])
            elif kind == "error":
                out.append("\n".join(message["content"]["traceback"]))
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                connection.close()
                return "".join(out)

    try:
        return asyncio.run(execute())
    finally:
        rest("DELETE", f"kernels/{kernel['id']}")


def free_port_block(count: int) -> int:
    """A port P with P..P+count-1 free on loopback (the hub uses port, port + 1 and port + 2)."""
    for _ in range(200):
        port = _processes.free_port()
        if port + count < 65535 and all(_processes.port_is_free(port + i) for i in range(count)):
            return port
    raise RuntimeError("no block of free loopback ports found")


def why_not() -> str | None:
    """Why a class hub cannot start here (None when it can)."""
    if os.geteuid() != 0:
        return "CLASS HUB TESTS SKIPPED: they need root (the class's users are Unix users; JupyterHub runs each user's server as that user)."
    settings = load()
    unreachable = services.path_problems(settings)
    if unreachable:
        return (
            f"CLASS HUB TESTS SKIPPED: the class's users cannot reach the course: {'; '.join(unreachable)}. "
            f"Every folder down to the checkout must be o+rx (chmod o+rx {' '.join(p.split(' (')[0] for p in unreachable)}), "
            "or check the course out where every user may read it (such as /srv or /opt)."
        )
    if not os.access(settings.proxy_command, os.X_OK):
        return f"CLASS HUB TESTS SKIPPED: JupyterHub's proxy is missing ({settings.proxy_command}): run `make class-setup`."
    from sidebyside.instructor.hub.postgres import PostgresError, server_bin

    try:
        server_bin()
    except PostgresError as error:
        return f"CLASS HUB TESTS SKIPPED: {error} (`make class-setup` does it)."
    return None


def user_names(tag: str) -> tuple[str, tuple[str, ...]]:
    tag = "".join(ch for ch in tag.lower() if ch.isalnum())[:8] or "hub"
    return f"sbs-test-{tag}-instructor", tuple(f"sbs-test-{tag}-student{i}" for i in range(1, STUDENTS + 1))


def start_class_hub(tag: str) -> ClassHub:
    """Start a class hub for tests (see the module's docstring); the caller must ``stop()`` it."""
    reason = why_not()
    if reason and os.environ.get("CI"):
        # CI runs `make test`, whose setup installs all of it: a skip there would hide a missing step.
        pytest.fail(f"{reason} (in CI, where make test's setup must have installed it)")
    if reason:
        pytest.skip(reason)
    instructor, students = user_names(tag)
    users.remove_users((instructor, *students))  # left by a crashed run
    base = Path(tempfile.mkdtemp(prefix=f"sbs-test-{tag}-"))
    os.chmod(base, 0o755)
    settings = load(
        instructor=instructor,
        students=students,
        port=free_port_block(3),
        gradebook_port=free_port_block(1),
        exchange_root=base / "exchange",
        state_dir=base / "state",
    )
    try:
        started = services.start(settings)
    except BaseException:
        hub = ClassHub(settings, Login(instructor, ""), [Login(s, "") for s in students], "", base, 0.0, 0.0)
        hub.stop()
        raise
    settings = started.settings
    passwords = users.read_passwords(settings.state_dir / "passwords")
    return ClassHub(
        settings=settings,
        instructor=Login(instructor, passwords[instructor]),
        students=[Login(s, passwords[s]) for s in students],
        gradebook_url=started.gradebook_url,
        base=base,
        hub_start_seconds=started.hub_seconds,
        total_start_seconds=started.total_seconds,
    )


@pytest.fixture(scope="module")
def class_hub(request):
    """A running class hub for this test module (see :class:`ClassHub`)."""
    tag = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    hub = start_class_hub(tag)
    try:
        yield hub
    finally:
        hub.stop()
