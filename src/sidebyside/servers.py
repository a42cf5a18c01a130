"""TensorBoard and Visdom servers on this machine, started and stopped from Python. Lesson 03.

``start_tensorboard(logdir)`` and ``start_visdom()`` start the real servers as child processes
on 127.0.0.1 (loopback only: nothing is exposed to the network), on a free port unless one is
given, and return once the server answers HTTP. Both return a :class:`Server`, which is also a
context manager::

    with servers.start_tensorboard("runs") as tensorboard:
        tensorboard.show()          # embed it in the notebook (works on Colab too)

Errors say what happened and what to do: :class:`PortInUseError` when the port is taken,
:class:`ServerDiedError` when the server stops (at start-up or later), with the end of its
output. No server outlives the Python process that started it: each one runs in its own
process group, is stopped at interpreter exit (``atexit``), is told by Linux to exit when its
parent dies (``PR_SET_PDEATHSIG``), and also watches its parent itself (macOS, Windows' WSL...).

Visdom offline
--------------
Visdom's pip package lacks the JavaScript, CSS and fonts its page needs. ``python -m visdom.server``
(and the ``visdom`` command) runs ``visdom.server.build.download_scripts`` at every start, which
downloads from CDNs each file missing from Visdom's ``static/`` folder, and every file again when
``static/version.built`` does not name the installed version (the first start after an install
or upgrade). Offline, a failed JavaScript, CSS or font download is only logged (the page stays
blank), and a missing MathJax file stops the server with ``requests.ConnectionError``; lesson 03
runs this check with the network refused and shows which case does what. The course instead
installs those files from the npm registry once, at set-up time (``scripts/install-visdom-assets``
calls :func:`install_visdom_assets`), into Visdom's own ``static/`` folder, and starts the server
through ``visdom.server.run_server.main``, which skips the download (see :func:`_run_visdom`,
which also fixes Visdom 0.2.4's page for Tornado 6.5 and later). Nothing is fetched at run
time. With the assets in place and ``static/version.built`` written, even the plain
``python -m visdom.server`` finds everything present and stays offline.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import _processes
from ._processes import HOST, free_port, port_is_free  # noqa: F401 - re-exported (serving, lessons)
from .course import on_colab
from .frameworks import TF_LOG_LEVEL

#: Set to 1 to act as if no server could run here (a locked-down lab): lessons fall back to
#: inline plots.
NO_SERVERS_ENV_VAR = "SIDEBYSIDE_NO_SERVERS"


class ServerError(RuntimeError):
    """A server could not be started or has stopped; the message says what to do."""


class PortInUseError(ServerError):
    """The requested port is already taken by another program."""


class ServerDiedError(ServerError):
    """The server process exited (at start-up or later)."""


# --- Ports ----------------------------------------------------------------------------------


def port_in_use_message(name: str, port: int, host: str) -> str:
    holder = _processes.port_holder(port, host)
    return (
        f"Cannot start {name}: port {port} on {host} is already in use by {holder or 'another program'} "
        f"(perhaps a {name} started earlier, from another notebook or a terminal). "
        f"Either leave out port= to get a free port, or stop that program "
        f"(find it with `lsof -i :{port}` or `ss -ltnp | grep {port}`)."
    )


# --- Child processes that die with their parent ----------------------------------------------

# Runs in the child: ask Linux to send SIGTERM when the parent dies, watch the parent anyway
# (other systems, and the race before prctl), then call the server's entry point.
_LAUNCHER = r"""
import os, signal, sys, threading, time
parent = int(sys.argv[1])
if sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except Exception:
        pass
def _orphaned():
    return os.getppid() != parent
def _watch():
    while not _orphaned():
        time.sleep(0.5)
    # SIGTERM ends a plain server here; one that handles it (TorchServe's launcher) gets 10 s
    # to stop its group, then the whole group is killed.
    os.killpg(os.getpgrp(), signal.SIGTERM)
    time.sleep(10)
    os.killpg(os.getpgrp(), signal.SIGKILL)
if _orphaned():
    os._exit(0)
threading.Thread(target=_watch, name="sidebyside-parent-watch", daemon=True).start()
module_name, _, function_name = sys.argv[2].partition(":")
sys.argv = [module_name] + sys.argv[3:]
import importlib
sys.exit(getattr(importlib.import_module(module_name), function_name)())
"""

_RUNNING: list["Server"] = []


def _stop_all_at_exit() -> None:
    for server in list(_RUNNING):
        server.stop()


atexit.register(_stop_all_at_exit)


def running_servers() -> list["Server"]:
    """The servers this Python process started and has not stopped."""
    return [s for s in _RUNNING if s.running]


@dataclass
class Server:
    """One server process started by this module. Stop it with :meth:`stop` (or ``with``)."""

    name: str
    process: subprocess.Popen
    port: int
    host: str
    log_path: Path
    ready_path: str
    start_seconds: float = float("nan")  # from launch to the first HTTP answer
    #: The tool's own command line for the same server, as you would type it in a terminal
    #: (for Visdom: what this module runs instead, see start_visdom).
    command: list = field(default_factory=list, repr=False)
    _cleanup: list = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self, last_lines: int = 30) -> str:
        """The end of what the server printed (stdout and stderr)."""
        return _processes.log_tail(self.log_path, last_lines)

    def _death_reason(self) -> str:
        code = self.process.returncode
        if code is not None and code < 0:
            try:
                return f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with code {code}"

    def check(self) -> None:
        """Raise :class:`ServerDiedError` (or :class:`PortInUseError`) if the server has stopped."""
        if self.running:
            return
        output = self.output()
        if "already in use" in output or "Address already in use" in output or "Errno 98" in output:
            raise PortInUseError(port_in_use_message(self.name, self.port, self.host) + f"\n--- {self.name} said:\n{output}")
        where = f"{self.name} (pid {self.pid}, {self.url})"
        raise ServerDiedError(
            f"{where} is not running: it {self._death_reason()}. "
            f"Start a new one (its data on disk is kept). Its last output:\n{output or '(nothing)'}"
        )

    def get(self, path: str = "/", timeout: float = 10.0) -> bytes:
        """HTTP GET ``path`` on the server; a clear error if the server has stopped."""
        self.check()
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.read()
        except (urllib.error.URLError, ConnectionError, socket.timeout) as error:
            self.check()  # the usual reason: it died meanwhile
            raise ServerError(f"{self.name} at {self.url} did not answer GET {path}: {error}") from error

    def get_json(self, path: str, timeout: float = 10.0):
        import json

        return json.loads(self.get(path, timeout).decode("utf-8"))

    def wait_until_ready(self, timeout: float = 60.0) -> float:
        """Poll until the server answers ``ready_path``; return the seconds it took from launch."""
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic()
            except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
                pass
            if time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise ServerError(
                    f"{self.name} did not answer on {self.url} within {timeout:.0f} s, so it was stopped. "
                    f"A slow machine may need a larger timeout=. Its last output:\n{output or '(nothing)'}"
                )
            time.sleep(0.1)

    def memory_mb(self) -> float:
        """Resident memory of the server and its child processes, in MB."""
        import psutil

        try:
            process = psutil.Process(self.pid)
            processes = [process, *process.children(recursive=True)]
            return sum(p.memory_info().rss for p in processes) / 2**20
        except psutil.NoSuchProcess:
            self.check()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server and everything it started (its process group). Safe to call twice."""
        _processes.stop_group(self.process, timeout)
        if self in _RUNNING:
            _RUNNING.remove(self)
        for cleanup in self._cleanup:
            cleanup()
        self._cleanup.clear()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.name} {state} at {self.url}, pid {self.pid}>"


def _launch(cls, name: str, entry_point: str, args: list[str], *, port: int | None, host: str, ready_path: str, timeout: float, env: dict | None = None, cleanup=None, command: tuple = ()):
    """Start ``entry_point`` (``module:function``, which reads ``sys.argv``) as a server.

    With ``port=None``, a free port is chosen; if another program takes it between the choice
    and the server's start, one more free port is tried. ``command``: the tool's own command
    (e.g. ``("tensorboard",)``), completed with ``args`` into :attr:`Server.command`.
    """
    for attempt in range(2 if port is None else 1):
        try:
            return _launch_once(cls, name, entry_point, args, port=port, host=host, ready_path=ready_path, timeout=timeout, env=env, cleanup=cleanup, command=command)
        except PortInUseError:
            if port is not None or attempt == 1:
                raise


def spawn_server(cls, name: str, entry_point: str, args: list[str], *, port: int | None, host: str, ready_path: str,
                 env: dict | None = None, cleanup=None, command: tuple = ()):
    """Start ``entry_point`` (``module:function``) as a server of class ``cls`` and return at
    once (:func:`_launch` waits; lesson 06 starts two servers together): a free port unless one
    is given, its own process group, the parent-death signal and a parent watch, its output in
    a log, stopped at interpreter exit. ``server.launched_at``: when it was started."""
    if os.environ.get(NO_SERVERS_ENV_VAR):
        raise ServerError(f"{NO_SERVERS_ENV_VAR} is set: this machine does not run servers, so {name} was not started.")
    chosen = free_port(host) if port is None else int(port)
    if port is not None and not port_is_free(chosen, host):
        raise PortInUseError(port_in_use_message(name, chosen, host))
    log_dir = Path(tempfile.mkdtemp(prefix=f"sidebyside-{name.lower()}-"))
    arguments = [a.format(port=chosen, host=host) for a in args]
    launcher = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), entry_point, *arguments]
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    child_env["PYTHONUNBUFFERED"] = "1"
    launched = time.monotonic()
    process = _processes.start_logged(launcher, log_dir / "server.log", env=child_env)
    server = cls(name, process, chosen, host, log_dir / "server.log", ready_path, command=[*command, *arguments])
    server.launched_at = launched
    server._cleanup.append(lambda: shutil.rmtree(log_dir, ignore_errors=True))
    if cleanup is not None:
        server._cleanup.append(cleanup)
    _RUNNING.append(server)
    return server


def _launch_once(cls, name, entry_point, args, *, port, host, ready_path, timeout, env, cleanup, command=()):
    server = spawn_server(cls, name, entry_point, args, port=port, host=host, ready_path=ready_path, env=env, cleanup=cleanup, command=command)
    try:
        server.start_seconds = server.wait_until_ready(timeout) - server.launched_at
    except ServerError:
        server.stop()
        raise
    return server


# --- TensorBoard ----------------------------------------------------------------------------


class TensorBoardServer(Server):
    """A running TensorBoard."""

    def show(self, height: int = 600) -> None:
        """Embed this TensorBoard in the notebook output: what ``%tensorboard`` displays, for
        a server that is already running (on Colab through Colab's port proxy)."""
        self.check()
        from tensorboard import notebook

        notebook.display(port=self.port, height=height)

    def runs(self) -> list[str]:
        """The runs TensorBoard has loaded so far (its ``/data/runs`` HTTP API)."""
        return sorted(self.get_json("/data/runs"))

    def scalar_tags(self) -> dict[str, list[str]]:
        """``{run: [scalar tags]}`` from TensorBoard's scalars plugin HTTP API."""
        tags = self.get_json("/data/plugin/scalars/tags")
        return {run: sorted(run_tags) for run, run_tags in tags.items()}

    def wait_for_runs(self, runs, timeout: float = 30.0) -> list[str]:
        """Wait until TensorBoard has loaded every run in ``runs`` (it reloads every second)."""
        wanted = set(runs)
        deadline = time.monotonic() + timeout
        while True:
            seen = self.runs()
            if wanted <= set(seen):
                return seen
            if time.monotonic() > deadline:
                raise ServerError(f"TensorBoard at {self.url} shows runs {seen}, still missing {sorted(wanted - set(seen))} after {timeout:.0f} s.")
            time.sleep(0.25)


def start_tensorboard(logdir, *, port: int | None = None, host: str = HOST, timeout: float = 90.0, reload_interval: float = 1.0, extra_args=()) -> TensorBoardServer:
    """Start TensorBoard on ``logdir`` and wait until it answers. Lesson 03.

    ``port=None`` picks a free port. Runs TensorBoard's pure-Python reader
    (``--load_fast=false``), reloading the logs every ``reload_interval`` seconds.
    ``extra_args``: more TensorBoard flags, e.g. ``["--samples_per_plugin=images=100"]``.
    """
    logdir = Path(logdir).resolve()
    logdir.mkdir(parents=True, exist_ok=True)
    args = ["--logdir", str(logdir), "--host", "{host}", "--port", "{port}", "--load_fast=false", f"--reload_interval={reload_interval}", *extra_args]
    return _launch(TensorBoardServer, "TensorBoard", "tensorboard.main:run_main", args, port=port, host=host, ready_path="/data/logdir", timeout=timeout, command=("tensorboard",))


# --- Visdom ---------------------------------------------------------------------------------

#: What Visdom 0.2.4's ``download_scripts`` fetches from CDNs, as npm packages:
#: (package, version, file in the package, where it goes under visdom/static/).
VISDOM_ASSETS: list[tuple[str, str, str, str]] = [
    ("jquery", "3.1.1", "dist/jquery.min.js", "js/jquery.min.js"),
    ("bootstrap", "3.3.7", "dist/js/bootstrap.min.js", "js/bootstrap.min.js"),
    ("bootstrap", "3.3.7", "dist/css/bootstrap.min.css", "css/bootstrap.min.css"),
    ("bootstrap", "3.3.7", "dist/fonts/glyphicons-halflings-regular.eot", "fonts/glyphicons-halflings-regular.eot"),
    ("bootstrap", "3.3.7", "dist/fonts/glyphicons-halflings-regular.woff2", "fonts/glyphicons-halflings-regular.woff2"),
    ("bootstrap", "3.3.7", "dist/fonts/glyphicons-halflings-regular.woff", "fonts/glyphicons-halflings-regular.woff"),
    ("bootstrap", "3.3.7", "dist/fonts/glyphicons-halflings-regular.ttf", "fonts/glyphicons-halflings-regular.ttf"),
    ("bootstrap", "3.3.7", "dist/fonts/glyphicons-halflings-regular.svg", "fonts/glyphicons-halflings-regular.svg"),
    # The name visdom's downloader checks for (it keeps the URL's #fragment in the file name).
    ("bootstrap", "3.3.7", "dist/fonts/glyphicons-halflings-regular.svg", "fonts/glyphicons-halflings-regular.svg#glyphicons_halflingsregular"),
    ("react", "16.2.0", "umd/react.production.min.js", "js/react-react.min.js"),
    ("react-dom", "16.2.0", "umd/react-dom.production.min.js", "js/react-dom.min.js"),
    ("react-modal", "3.1.10", "dist/react-modal.min.js", "js/react-modal.min.js"),
    ("plotly.js-dist-min", "2.11.1", "plotly.min.js", "js/plotly-plotly.min.js"),
    ("sjcl", "1.0.7", "sjcl.js", "js/sjcl.js"),
    ("layout-bin-packer", "1.4.0", "dist/layout-bin-packer.js", "js/layout_bin_packer.js"),
    ("layout-bin-packer", "1.4.0", "dist/layout-bin-packer.js.map", "js/layout-bin-packer.js.map"),
    ("d3", "3.5.17", "d3.min.js", "js/d3.v3.min.js"),
    ("d3-selection-multi", "1.0.1", "build/d3-selection-multi.js", "js/d3-selection-multi.v1.js"),
    ("save-svg-as-png", "1.4.17", "lib/saveSvgAsPng.js", "js/saveSvgAsPng.js"),
    ("react-resizable", "1.4.6", "css/styles.css", "css/react-resizable-styles.css"),
    ("react-grid-layout", "0.16.3", "css/styles.css", "css/react-grid-layout-styles.css"),
    ("classnames", "2.2.5", "index.js", "fonts/classnames"),
] + [
    ("mathjax", "2.7.5", path, f"js/mathjax/2.7.5/{path}")
    for path in (
        "MathJax.js",
        "config/Safe.js",
        "config/TeX-AMS-MML_HTMLorMML.js",
        "extensions/Safe.js",
        "jax/output/SVG/fonts/TeX/fontdata.js",
        "jax/output/SVG/jax.js",
        "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js",
        "jax/output/SVG/config.js",
    )
]

#: Where to get the assets when they are missing.
INSTALL_HINT = "run `make setup` (or `scripts/install-visdom-assets`) once while online"


def visdom_static_dir() -> Path:
    """Visdom's ``static/`` folder, where its server looks for its web assets."""
    import importlib.util

    spec = importlib.util.find_spec("visdom")
    if spec is None or spec.origin is None:
        raise ServerError("Visdom is not installed in this Python: pip install visdom==0.2.4")
    return Path(spec.origin).parent / "static"


def missing_visdom_assets(static_dir: Path | None = None) -> list[str]:
    """The web assets Visdom's page needs that are not installed (paths under static/)."""
    static_dir = Path(static_dir) if static_dir is not None else visdom_static_dir()
    return [target for *_, target in VISDOM_ASSETS if not (static_dir / target).is_file()]


def _npm_tarballs(packages: list[tuple[str, str]], into: Path, log=print) -> dict[tuple[str, str], Path]:
    """Fetch npm package tarballs with the machine's ``npm pack`` (npm checks their integrity),
    or, without npm, straight from the npm registry, checking the registry's sha512."""
    into.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm:
        specs = [f"{name}@{version}" for name, version in packages]
        result = subprocess.run([npm, "pack", "--silent", "--pack-destination", str(into), *specs], capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise ServerError(f"`npm pack` failed: {result.stderr.strip()[-2000:]}")
        found = {}
        for name, version in packages:
            path = into / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
            if not path.is_file():
                raise ServerError(f"`npm pack {name}@{version}` did not write {path.name}")
            found[(name, version)] = path
        return found
    import base64
    import json

    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
    log(f"npm not found: fetching from {registry} directly")
    found = {}
    for name, version in packages:
        with urllib.request.urlopen(f"{registry}/{name}/{version}", timeout=60) as response:
            dist = json.load(response)["dist"]
        with urllib.request.urlopen(dist["tarball"], timeout=300) as response:
            data = response.read()
        integrity = dist.get("integrity", "")
        if integrity.startswith("sha512-"):
            digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
            if digest != integrity[len("sha512-"):]:
                raise ServerError(f"{name}@{version}: the download does not match the registry's checksum")
        path = into / f"{name.replace('/', '-')}-{version}.tgz"
        path.write_bytes(data)
        found[(name, version)] = path
    return found


def install_visdom_assets(static_dir: Path | None = None, *, log=print) -> list[str]:
    """Put the files Visdom's page needs into its ``static/`` folder, from the npm registry.

    Idempotent: does nothing (and needs no network) when every file is present. Returns the
    paths it wrote. Also writes ``static/version.built`` so Visdom's own downloader considers
    the build complete.
    """
    import tarfile

    static_dir = Path(static_dir) if static_dir is not None else visdom_static_dir()
    missing = set(missing_visdom_assets(static_dir))
    written: list[str] = []
    if missing:
        packages = sorted({(name, version) for name, version, _, target in VISDOM_ASSETS if target in missing})
        log(f"Installing {len(missing)} Visdom web assets from {len(packages)} npm packages into {static_dir}")
        with tempfile.TemporaryDirectory(prefix="visdom-assets-") as scratch:
            tarballs = _npm_tarballs(packages, Path(scratch), log)
            for (name, version), tarball in tarballs.items():
                with tarfile.open(tarball, "r:gz") as archive:
                    members = {m.name: m for m in archive.getmembers() if m.isfile()}
                    for package, package_version, source, target in VISDOM_ASSETS:
                        if (package, package_version) != (name, version) or target not in missing:
                            continue
                        member = members.get(f"package/{source}")
                        if member is None:
                            raise ServerError(f"{name}@{version} has no file {source}")
                        destination = static_dir / target
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        data = archive.extractfile(member).read()
                        partial = destination.with_name(destination.name + ".part")
                        partial.write_bytes(data)
                        partial.replace(destination)
                        written.append(target)
    still_missing = missing_visdom_assets(static_dir)
    if still_missing:
        raise ServerError(f"These Visdom assets are still missing: {still_missing}")
    version_file = static_dir.parent / "VERSION"  # what visdom.__version__ reads
    version = version_file.read_text().strip() if version_file.is_file() else ""
    built = static_dir / "version.built"
    if version and (not built.is_file() or built.read_text().strip() != version):
        built.write_text(version)
    return written


class VisdomServer(Server):
    """A running Visdom server."""

    def client(self, env: str = "main", **kwargs):
        """A ``visdom.Visdom`` client for this server that raises on errors instead of printing."""
        import logging

        self.check()
        import visdom

        kwargs.setdefault("use_incoming_socket", False)  # we only send; no callbacks thread
        visdom_logger = logging.getLogger("visdom")
        level = visdom_logger.level
        visdom_logger.setLevel(logging.ERROR)  # hide "Without the incoming socket..." warning
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # visdom calls logger.warn
                client = visdom.Visdom(server=f"http://{self.host}", port=self.port, env=env, raise_exceptions=True, **kwargs)
        finally:
            visdom_logger.setLevel(level)
        if not client.check_connection(timeout_seconds=5):
            self.check()
            raise ServerError(f"Visdom at {self.url} does not accept connections.")
        return client

    def window_ids(self, env: str = "main") -> list[str]:
        """The ids of the windows in ``env``, as the server holds them (its /win_data API)."""
        import json

        self.check()
        request = urllib.request.Request(self.url + "/win_data", data=json.dumps({"eid": env, "win": None}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return sorted(json.load(response))

    def show(self, env: str = "main", height: int = 500) -> None:
        """Embed this Visdom's page in the notebook output (Jupyter on this machine only)."""
        self.check()
        from IPython.display import IFrame, display

        display(IFrame(f"{self.url}/env/{env}", width="100%", height=height))


def _run_visdom() -> None:
    """Visdom's server ``main`` (which parses ``sys.argv``), without the CDN download that
    ``python -m visdom.server`` does first. Runs in the server's own process.

    Also works around Visdom 0.2.4 with Tornado >= 6.5: its page template asks for
    ``static_url("../user/style.css")``, which Tornado now refuses (403 for every page load).
    That one URL is made without Tornado's version hash, so the browser requests
    ``/user/style.css``, which Visdom serves itself.
    """
    # visdom/__init__.py imports torch when it can, only for the client's tensor checks; the
    # server never needs it, and it would cost the server about 200 MB of memory.
    sys.modules.setdefault("torch", None)
    import tornado.web
    from visdom.server import run_server

    original = tornado.web.StaticFileHandler.make_static_url.__func__

    def make_static_url(cls, settings, path, include_version=True):
        if path.startswith("../"):
            return settings.get("static_url_prefix", "/static/") + path
        return original(cls, settings, path, include_version)

    tornado.web.StaticFileHandler.make_static_url = classmethod(make_static_url)
    run_server.main()


def start_visdom(env_path=None, *, port: int | None = None, host: str = HOST, timeout: float = 60.0, require_assets: bool = True) -> VisdomServer:
    """Start a Visdom server on ``host`` without downloading anything; wait until it answers.
    Lesson 03.

    ``env_path``: where Visdom saves its environments (default: a temporary folder removed when
    the server stops). Raises :class:`ServerError` if the web assets are missing and
    ``require_assets`` (the page would stay blank).
    """
    missing = missing_visdom_assets()
    if missing and require_assets:
        raise ServerError(
            f"Visdom's web page needs {len(missing)} files that are not installed (e.g. {missing[0]}); "
            f"{INSTALL_HINT}. Without them Visdom would try to download them and fail offline."
        )
    cleanup = None
    if env_path is None:
        env_path = tempfile.mkdtemp(prefix="sidebyside-visdom-env-")
        cleanup = lambda path=env_path: shutil.rmtree(path, ignore_errors=True)  # noqa: E731
    env_path = Path(env_path).resolve()
    env_path.mkdir(parents=True, exist_ok=True)
    args = ["-port", "{port}", "--hostname", "{host}", "-env_path", str(env_path) + os.sep, "-logging_level", "WARNING"]
    if host in ("127.0.0.1", "localhost"):
        args.append("-bind_local")
    return _launch(VisdomServer, "Visdom", "sidebyside.servers:_run_visdom", args, port=port, host=host, ready_path="/", timeout=timeout, cleanup=cleanup, command=("python", "-m", "visdom.server"))


def visdom_or_reason(env_path=None, **kwargs) -> tuple[VisdomServer | None, str]:
    """Start Visdom if it can be used here; otherwise ``(None, why not)``. Lesson 03.

    Not on Colab: Colab's output frames reach a kernel's port only through Colab's proxy, and
    Visdom's page does not work through it. Not when ``SIDEBYSIDE_NO_SERVERS`` is set, when the
    web assets are missing, or when the server fails to start.
    """
    if on_colab():
        return None, ("this is Colab: Visdom's page cannot be reached through Colab's port proxy, "
                      "so the curves are drawn inline with matplotlib instead")
    if os.environ.get(NO_SERVERS_ENV_VAR):
        return None, f"{NO_SERVERS_ENV_VAR} is set (no servers on this machine), so the curves are drawn inline with matplotlib"
    try:
        return start_visdom(env_path, **kwargs), ""
    except ServerError as error:
        return None, f"Visdom could not start ({error}); the curves are drawn inline with matplotlib instead"


def main(argv: list[str] | None = None, prog: str = "python -m sidebyside.servers") -> int:
    """``sidebyside servers install-visdom-assets``: used by the set-up script."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("command", choices=["install-visdom-assets", "check-visdom-assets"])
    args = parser.parse_args(argv)
    if args.command == "check-visdom-assets":
        missing = missing_visdom_assets()
        print("Visdom web assets: all present" if not missing else f"Visdom web assets missing: {missing}")
        return 1 if missing else 0
    started = time.monotonic()
    try:
        written = install_visdom_assets()
    except (ServerError, OSError, urllib.error.URLError, subprocess.SubprocessError) as error:
        print(
            "WARNING: could not install Visdom's web assets from the npm registry:\n"
            f"  {error}\n"
            "  Visdom's server will refuse to start (its page would be blank offline). Retry with\n"
            "  network access to registry.npmjs.org: scripts/install-visdom-assets",
            file=sys.stderr,
        )
        return 1
    if written:
        print(f"Installed {len(written)} Visdom web assets in {time.monotonic() - started:.1f} s.")
    else:
        print("Visdom web assets: already installed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
