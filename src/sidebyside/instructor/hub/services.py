"""The class hub's processes: start, restart, stop and report PostgreSQL, the proxy and the hub.

``start`` (``make hub``) prepares what the hub needs, then starts, in the background:

1. PostgreSQL (:mod:`.gradebook`), the gradebook;
2. configurable-http-proxy on class.toml's ip:port (its REST API on 127.0.0.1, port + 1),
   started here rather than by the hub, so restarting the hub keeps every open connection;
3. JupyterHub (hub/jupyterhub_config.py) on 127.0.0.1, port + 2.

Their pids are in ``STATE_DIR/{proxy,hub}.pid`` and their logs in ``STATE_DIR/logs/``. Users'
servers are started by the hub (as their users) and survive a hub restart
(``cleanup_servers = False``); ``stop`` stops them through the hub's API first, then the hub,
the proxy and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ... import _processes
from . import api, class_course, class_gradebook, environment, exchange, users
from .settings import SETTINGS_ENV, HubSettings
from .spawning import ensure_secret


class HubError(RuntimeError):
    """The hub cannot start as asked; the message says why and what to do."""


@dataclass
class Started:
    url: str
    #: The settings the hub runs with (``class_venv`` resolved).
    settings: HubSettings | None = None
    #: Users created by this start, with their generated passwords (printed once).
    created: dict[str, str] = field(default_factory=dict)
    #: Assignments copied from solutions/ into the instructor's source/ by this start.
    copied: list[str] = field(default_factory=list)
    #: Seconds from launching JupyterHub to /hub/health answering through the proxy.
    hub_seconds: float = 0.0
    #: Seconds for the whole start (users, exchange, PostgreSQL, proxy, hub).
    total_seconds: float = 0.0
    already_running: bool = False
    #: The gradebook's SQLAlchemy URL (with its password: keep it to root and the instructor).
    gradebook_url: str = field(default="", repr=False)


# --- pids -----------------------------------------------------------------------------------------


def _pid_file(settings: HubSettings, name: str) -> Path:
    return settings.state_dir / f"{name}.pid"


def running_process(settings: HubSettings, name: str):
    """The live process of ``name`` ("hub" or "proxy") started for this state dir, or None."""
    import psutil

    marker = "jupyterhub" if name == "hub" else "configurable-http-proxy"
    try:
        process = psutil.Process(int(_pid_file(settings, name).read_text().strip()))
        alive = marker in " ".join(process.cmdline()) and process.status() != psutil.STATUS_ZOMBIE
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    return process if alive else None


def _terminate(process, timeout: float = 20) -> None:
    """SIGTERM the process alone (users' servers outlive a hub restart), SIGKILL after ``timeout``."""
    _processes.stop_tree([process], timeout)


def _launch(settings: HubSettings, name: str, command: list[str], env: dict) -> subprocess.Popen:
    settings.logs_dir.mkdir(mode=0o700, exist_ok=True)
    process = _processes.start_logged(command, settings.logs_dir / f"{name}.log", env=env, cwd=settings.state_dir, append=True)
    fd = os.open(_pid_file(settings, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{process.pid}\n")
    return process


def log_tail(settings: HubSettings, name: str, lines: int = 25) -> str:
    path = settings.logs_dir / f"{name}.log"
    text = path.read_text(errors="replace").splitlines()[-lines:] if path.is_file() else ["(no log)"]
    return "\n  ".join([f"last lines of {path}:", *text])


# --- checks -----------------------------------------------------------------------------------------


def port_holder(ip: str, port: int) -> str:
    """Who listens on ip:port ("" when free)."""
    return _processes.port_holder(port, ip)


def check_ports(settings: HubSettings) -> None:
    wanted = []
    if running_process(settings, "proxy") is None:
        wanted.append((settings.ip, settings.port, "the hub's public port, class.toml [hub] port"))
        wanted.append(("127.0.0.1", settings.proxy_api_port, "the proxy's API, port + 1"))
    if running_process(settings, "hub") is None:
        wanted.append(("127.0.0.1", settings.hub_port, "the hub itself, port + 2"))
    busy = [f"{ip}:{port} ({what}) is in use by {holder}" for ip, port, what in wanted if (holder := port_holder(ip, port))]
    if busy:
        raise HubError("Port busy: " + "; ".join(busy) + ". Stop that process, or choose another port: make hub HUB_PORT=8100 (or [hub] port in hub/class.toml).")


def check_proxy(settings: HubSettings) -> None:
    if not os.access(settings.proxy_command, os.X_OK):
        raise HubError(f"JupyterHub's proxy is missing ({settings.proxy_command}): run `make class-setup` (scripts/install-hub-proxy installs it with npm).")


def path_problems(settings: HubSettings) -> list[str]:
    """Folders above the checkout and the virtualenv that the class's users cannot go through."""
    problems = []
    for target in (settings.checkout, settings.class_venv):
        for folder in (*reversed(Path(target).parents), Path(target)):
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH or not mode & stat.S_IROTH:
                problems.append(f"{folder} (mode {stat.filemode(mode)})")
    return sorted(set(problems))


def saved_settings(settings: HubSettings) -> HubSettings:
    """The settings a running hub was started with (``STATE_DIR/settings.json``), else ``settings``."""
    try:
        return HubSettings.from_json(settings.settings_file.read_text())
    except (OSError, ValueError):
        return settings


def check_users_can_run(settings: HubSettings) -> None:
    """The class's users run the course's packages: try it as the first student."""
    problems = path_problems(settings)
    probe = users.run_as(settings.students[0] if settings.students else settings.instructor, str(settings.class_venv / "bin" / "python"), "-c", "import jupyterhub, nbgrader, sidebyside", cwd="/")
    if problems or probe.returncode != 0:
        raise HubError(
            "The class's users cannot run the course's virtualenv "
            f"({settings.class_venv}): {'; '.join(problems) or probe.stderr.strip()[-400:]}. Every folder from / down to the "
            f"checkout and its .venv must be o+rx (e.g. chmod o+rx {' '.join(p.split(' (')[0] for p in problems) or settings.checkout}), "
            "or put the course where every user may read it (such as /srv/sidebyside)."
        )


# --- the processes ---------------------------------------------------------------------------------


def _hub_env(settings: HubSettings) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR")}
    env[SETTINGS_ENV] = str(settings.settings_file)
    env["PATH"] = f"{settings.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def _wait_listening(port: int, process, timeout: float) -> bool:
    return _processes.wait_until(lambda: _processes.listening(port), timeout, alive=lambda: process.poll() is None, interval=0.2)


def start_proxy(settings: HubSettings) -> None:
    if running_process(settings, "proxy") is not None:
        return
    env = _hub_env(settings)
    env["CONFIGPROXY_AUTH_TOKEN"] = ensure_secret(settings.state_dir / "proxy_token")
    command = [
        str(settings.proxy_command),
        "--ip", settings.ip, "--port", str(settings.port),
        "--api-ip", "127.0.0.1", "--api-port", str(settings.proxy_api_port),
        "--default-target", f"http://127.0.0.1:{settings.hub_port}",
        "--error-target", f"http://127.0.0.1:{settings.hub_port}/hub/error",
        "--log-level", "warn",
    ]  # fmt: skip
    process = _launch(settings, "proxy", command, env)
    if not _wait_listening(settings.proxy_api_port, process, 30):
        process.kill()
        raise HubError(f"JupyterHub's proxy did not start.\n  {log_tail(settings, 'proxy')}")


def health(settings: HubSettings, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{settings.url}/hub/health", timeout=timeout) as reply:
            return reply.status == 200
    except OSError:
        return False


def start_hub(settings: HubSettings, timeout: float = 180) -> float:
    """Start JupyterHub (if it is not running); returns the seconds until /hub/health answered."""
    if running_process(settings, "hub") is not None and health(settings):
        return 0.0
    began = time.monotonic()
    # The hub's database (token hashes, servers' state) is root's alone: SQLite keeps the mode
    # of an existing file, and gives its journal the same.
    database = settings.state_dir / "jupyterhub.sqlite"
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(database, 0o600)
    command = [str(settings.venv / "bin" / "jupyterhub"), "-f", str(settings.checkout / "hub" / "jupyterhub_config.py")]
    process = _launch(settings, "hub", command, _hub_env(settings))
    while time.monotonic() - began < timeout:
        if process.poll() is not None:
            raise HubError(f"JupyterHub exited with code {process.returncode}.\n  {log_tail(settings, 'hub')}")
        if health(settings):
            return time.monotonic() - began
        time.sleep(0.25)
    _terminate_pid(process.pid)
    raise HubError(f"JupyterHub did not answer {settings.url}/hub/health within {timeout} s.\n  {log_tail(settings, 'hub')}")


def _terminate_pid(pid: int) -> None:
    import psutil

    try:
        _terminate(psutil.Process(pid))
    except psutil.NoSuchProcess:
        pass


def stop_hub(settings: HubSettings) -> bool:
    """Stop JupyterHub only (users' servers keep running); True if it was running."""
    process = running_process(settings, "hub")
    if process is None:
        return False
    _terminate(process)
    return True


def restart_hub(settings: HubSettings) -> float:
    """Stop and start JupyterHub; users' servers and the proxy keep running. Returns the start's seconds."""
    stop_hub(settings)
    return start_hub(settings)


def start(settings: HubSettings, *, create_users: bool = True) -> Started:
    """Everything ``make hub`` does (see the module's docstring); idempotent."""
    began = time.monotonic()
    users.require_root("Starting the class hub")
    if running_process(settings, "hub") is not None and health(settings):
        return Started(url=settings.url, settings=saved_settings(settings), already_running=True)
    check_proxy(settings)
    class_gradebook.check_installed()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    os.chown(settings.state_dir, 0, 0)
    os.chmod(settings.state_dir, 0o711)
    check_ports(settings)
    created = users.ensure_users(settings.users, settings.home_root, settings.state_dir / "passwords") if create_users else {}
    try:
        settings = dataclasses.replace(settings, users_venv=environment.users_venv(settings.venv))
    except FileNotFoundError as error:
        raise HubError(str(error)) from None
    check_users_can_run(settings)
    exchange.prepare(settings.exchange_root, settings.course_id, settings.instructor)
    gradebook_url = class_gradebook.start(settings)
    copied = class_course.prepare_course(settings, gradebook_url)
    class_course.prepare_role_configs(settings)
    fd = os.open(settings.settings_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(settings.to_json())
    ensure_secret(settings.state_dir / "admin_token")
    start_proxy(settings)
    hub_seconds = start_hub(settings)
    return Started(url=settings.url, settings=settings, created=created, copied=copied, hub_seconds=hub_seconds, total_seconds=time.monotonic() - began, gradebook_url=gradebook_url)


def server_processes(settings: HubSettings) -> dict[str, list]:
    """The class users' single-user servers (psutil processes), by user name."""
    import psutil

    found: dict[str, list] = {}
    names = set(settings.users)
    for process in psutil.process_iter(["username", "cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            if process.info["username"] in names and any(part.endswith("jupyterhub-singleuser") for part in cmdline[:2]):
                found.setdefault(process.info["username"], []).append(process)
        except psutil.Error:
            pass
    return found


def stop(settings: HubSettings) -> list[str]:
    """Stop users' servers, the hub, the proxy and PostgreSQL; returns what was done."""
    import psutil

    done = []
    if running_process(settings, "hub") is not None:
        try:
            running = [user["name"] for user in api.users(settings) if user.get("servers")]
            for name in running:  # ask for every stop first: they stop at once, not one by one
                api.stop_server(settings, name, timeout=0)
            for name in running:
                api.stop_server(settings, name)
                done.append(f"stopped {name}'s server")
        except (OSError, api.HubAPIError) as error:
            done.append(f"could not stop servers through the hub ({error}); stopping them by pid")
    for name, processes in server_processes(settings).items():
        for process in processes:
            children = process.children(recursive=True)
            for each in (process, *children):
                try:
                    each.terminate()
                except psutil.NoSuchProcess:
                    pass
            gone, alive = psutil.wait_procs([process, *children], timeout=10)
            for each in alive:
                each.kill()
            done.append(f"stopped {name}'s server (pid {process.pid})")
    if stop_hub(settings):
        done.append("stopped JupyterHub")
    proxy = running_process(settings, "proxy")
    if proxy is not None:
        _terminate(proxy)
        done.append("stopped the proxy")
    if class_gradebook.stop(settings):
        done.append("stopped PostgreSQL")
    return done or ["nothing was running"]


def status(settings: HubSettings) -> tuple[bool, list[str]]:
    """(hub running, lines saying what runs)."""
    lines = []
    hub = running_process(settings, "hub")
    proxy = running_process(settings, "proxy")
    answering = hub is not None and health(settings)
    lines.append(f"hub:        {'running, pid ' + str(hub.pid) if hub else 'not running'}{' and answering at ' + settings.url if answering else ''}")
    lines.append(f"proxy:      {'running, pid ' + str(proxy.pid) + ' on ' + settings.ip + ':' + str(settings.port) if proxy else 'not running'}")
    lines.append(f"PostgreSQL: {'running on ' + settings.gradebook_host + ':' + str(settings.gradebook_port) if class_gradebook.is_running(settings) else 'not running'}")
    for name, processes in sorted(server_processes(settings).items()):
        lines.append(f"server:     {name}, pid {', '.join(str(p.pid) for p in processes)}")
    return answering, lines
