"""TorchServe (PyPI ``torchserve``): the course's handler, model archives, the Java front end and
:func:`start_torchserve`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .. import _processes
from ..servers import HOST, NO_SERVERS_ENV_VAR, Server, ServerError
from .server_start import _spawn, _watch_readiness


JAVA_HINT = (
    "TorchServe's front end is a Java program: install a Java runtime, version 11 or newer "
    "(Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`, or the course's `scripts/install-java` as root), "
    "or set JAVA_HOME to one."
)


class JavaMissingError(ServerError):
    """TorchServe needs a Java runtime and none was found."""


# --- 2. TorchServe ----------------------------------------------------------------------------


class TorchServeHandler:
    """The course's TorchServe handler for a model exported with :func:`export_torch`.

    TorchServe calls ``initialize(context)`` once per worker, then ``handle(data, context)`` with
    a list of requests (one per client request in the server-side batch). Each request's JSON
    body is ``{"instances": [[...], ...]}``; each answer is ``{"predictions": [[...], ...]}``
    (class probabilities). Lesson 06, section 2 writes the same handler in full.
    """

    serialized_file = "model.pt2"

    def __init__(self):
        self.model = None
        self.initialized = False

    def initialize(self, context):
        import torch

        torch.set_num_threads(1)  # one worker, one core: the server's batching does the rest
        model_dir = context.system_properties["model_dir"]
        self.model = torch.export.load(os.path.join(model_dir, self.serialized_file)).module()
        self.initialized = True

    def preprocess(self, data):
        import torch

        batches = []
        for request in data:
            body = request.get("body") if request.get("body") is not None else request.get("data")
            if isinstance(body, (bytes, bytearray)):
                body = json.loads(body)
            batches.append(torch.as_tensor(body["instances"], dtype=torch.float32))
        return batches

    def inference(self, batches):
        import torch

        with torch.no_grad():
            return [self.model(x) for x in batches]

    def postprocess(self, outputs):
        import torch

        return [{"predictions": torch.softmax(y, dim=1).tolist()} for y in outputs]

    def handle(self, data, context):
        if not self.initialized:
            self.initialize(context)
        if data is None:  # TorchServe's first call, when the worker loads a module-level handle()
            return None
        return self.postprocess(self.inference(self.preprocess(data)))


#: The handler file the course archives: TorchServe imports it and calls ``handle``.
HANDLER_SHIM = '''"""TorchServe handler: the course's sidebyside.serving.TorchServeHandler (lesson 06)."""
from sidebyside.serving import TorchServeHandler

_service = TorchServeHandler()


def handle(data, context):
    return _service.handle(data, context)
'''


def _archiver_command() -> list[str]:
    found = Path(sys.executable).with_name("torch-model-archiver")
    if found.exists():
        return [str(found)]
    return [sys.executable, "-m", "model_archiver.model_packaging"]


def archive_torch_model(name: str, serialized_file, handler, export_dir, *, version: str = "1.0", extra_files=()) -> Path:
    """Run ``torch-model-archiver``: ``export_dir/NAME.mar`` with the model file and its handler.

    ``handler`` is a handler file (``path.py`` or ``path.py:function``). Lesson 06, section 2.
    """
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True, exist_ok=True)
    command = [*_archiver_command(), "--model-name", name, "--version", version, "--serialized-file", str(serialized_file),
               "--handler", str(handler), "--export-path", str(export_dir), "--force"]
    if extra_files:
        command += ["--extra-files", ",".join(str(f) for f in extra_files)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise ServerError(f"torch-model-archiver failed ({result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")
    return export_dir / f"{name}.mar"


def archive_course_model(name: str, program_path, export_dir) -> Path:
    """Archive a ``.pt2`` file with the course's handler (:class:`TorchServeHandler`)."""
    scratch = Path(tempfile.mkdtemp(prefix="sidebyside-archive-"))
    try:
        shutil.copy(program_path, scratch / TorchServeHandler.serialized_file)
        handler = scratch / "sidebyside_handler.py"
        handler.write_text(HANDLER_SHIM)
        return archive_torch_model(name, scratch / TorchServeHandler.serialized_file, handler, export_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def java_runtime() -> tuple[str, str] | None:
    """``(path, version line)`` of the Java runtime TorchServe would use, or None."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (result.stderr or result.stdout).strip().splitlines()
    return java, (lines[0] if lines else "")


def _json_request(url: str, body=None, *, method: str | None = None, timeout: float = 30.0):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8") or "null")


class TorchServeServer(Server):
    """A running TorchServe: inference API on :attr:`url`, management API on :attr:`management_url`."""

    management_port: int = 0
    metrics_port: int = 0
    model_names: tuple = ()
    config_path: Path | None = None  # the config.properties TorchServe was started with
    launched_at: float = float("nan")
    ready_seconds: float = float("nan")  # from launch to every model's workers being ready
    answered_at: float = float("inf")  # when it first answered /ping, as _watch_readiness saw it
    ready_at: float = float("inf")  # when every model first had a ready worker, as _watch_readiness saw it

    def models_ready(self) -> bool:
        """Whether every model has a READY worker now."""
        return all(any(w.get("status") == "READY" for w in self.management(f"/models/{n}")[0].get("workers", [])) for n in self.model_names)

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}"

    def predict_url(self, model: str) -> str:
        return f"{self.url}/predictions/{model}"

    def predict(self, model: str, instances, timeout: float = 30.0):
        """POST ``{"instances": instances}`` to ``/predictions/MODEL``; the parsed answer."""
        self.check()
        return _json_request(self.predict_url(model), {"instances": _plain(instances)}, timeout=timeout)

    def management(self, path: str, *, method: str = "GET", timeout: float = 30.0):
        """Call the management API (``/models``, ``/models/NAME``, ...); the parsed answer."""
        self.check()
        try:
            return _json_request(self.management_url + path, method=method, timeout=timeout)
        except urllib.error.HTTPError as error:
            raise ServerError(f"TorchServe's management API answered {error.code} to {method} {path}: {error.read().decode(errors='replace')[:500]}") from error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop TorchServe: its launcher, the Java front end and every Python worker. Waits
        until all of them have exited (the front end shuts its workers down first)."""
        try:
            import psutil

            family = psutil.Process(self.pid).children(recursive=True) if self.running else []
        except Exception:  # noqa: BLE001 - already gone
            family = []
        super().stop(timeout)
        if family:  # Java's workers may have left the group: end them too
            _processes.stop_tree(family, timeout)

    def wait(self, timeout: float = 240.0) -> "TorchServeServer":
        """Wait until TorchServe answers and every model has a ready worker; sets
        :attr:`start_seconds` and :attr:`ready_seconds` (from launch). Stops it on failure."""
        try:
            if not self.start_seconds == self.start_seconds:  # NaN: not waited for yet
                self.start_seconds = min(self.wait_until_ready(timeout), self.answered_at) - self.launched_at
            if self.model_names and not self.ready_seconds == self.ready_seconds:
                remaining = max(10.0, timeout - (time.monotonic() - self.launched_at))
                self.ready_seconds = min(self.wait_for_models(timeout=remaining), self.ready_at) - self.launched_at
        except ServerError:
            self.stop()
            raise
        return self

    def wait_for_models(self, names=None, timeout: float = 180.0) -> float:
        """Wait until every model has a READY worker; the monotonic time when it had."""
        names = list(names or self.model_names)
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            try:
                if all(any(w.get("status") == "READY" for w in self.management(f"/models/{n}")[0].get("workers", [])) for n in names):
                    return time.monotonic()
            except (ServerError, OSError, urllib.error.URLError, IndexError, KeyError):
                pass
            if time.monotonic() > deadline:
                output = self.output(40)
                raise ServerError(f"TorchServe's workers for {names} were not ready after {timeout:.0f} s. Its last output:\n{output}")
            time.sleep(0.2)


def _plain(values):
    """NumPy arrays and tensors as nested lists, for JSON."""
    if hasattr(values, "tolist"):
        return values.tolist()
    return values


_TORCHSERVE_CONFIG = """\
# Written by sidebyside.serving.start_torchserve (lesson 06).
inference_address=http://{host}:{port}
management_address=http://{host}:{management_port}
metrics_address=http://{host}:{metrics_port}
grpc_inference_address={host}
grpc_inference_port={grpc_inference_port}
grpc_management_address={host}
grpc_management_port={grpc_management_port}
model_store={model_store}
load_models={load_models}
default_workers_per_model={workers}
disable_token_authorization=true
enable_model_api=true
install_py_dep_per_model=false
vmargs={vmargs}
"""


def _run_torchserve() -> None:
    """TorchServe's own ``torchserve --foreground`` entry point, run in the server process.

    Writes the config file with the port the launcher chose (``--sbs-config TEMPLATE --sbs-port
    PORT``), and makes SIGTERM stop the whole process group: TorchServe's Python launcher does
    not pass it on to its Java front end and workers. The launcher then returns when Java has
    stopped."""
    argv = sys.argv[1:]
    template = Path(argv[argv.index("--sbs-config") + 1])
    port = argv[argv.index("--sbs-port") + 1]
    config = template.with_name("config.properties")
    config.write_text(template.read_text().replace("{port}", port))
    rest = [a for i, a in enumerate(argv) if a not in ("--sbs-config", "--sbs-port") and (i == 0 or argv[i - 1] not in ("--sbs-config", "--sbs-port"))]

    def stop_group(signum, frame):
        # This launcher stays until Java has stopped, so that whoever stops it (Server.stop, the
        # parent watch) can still kill the group if Java hangs while shutting down.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.killpg(os.getpgrp(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_group)
    os.chdir(config.parent)  # TorchServe writes logs/ and key files in its working directory
    sys.argv = ["torchserve", "--foreground", "--ncs", "--ts-config", str(config), *rest]
    from ts.model_server import start

    start()


def start_torchserve(model_store, models=None, *, port: int | None = None, host: str = HOST, workers: int = 1,
                     java_heap: str = "256m", timeout: float = 240.0, wait: bool = True) -> TorchServeServer:
    """Start TorchServe on ``model_store`` (a folder of ``.mar`` files), loading ``models``
    (names of ``.mar`` files there; default: all), and wait until each model answers. Lesson 06.

    The inference API listens on ``port`` (a free one by default), the management and metrics
    APIs on two more free ports. Token authorization is off (``disable_token_authorization=true``)
    and the model API on (``enable_model_api=true``): TorchServe 0.12 turns the first on and the
    second off by default, so that ``POST /models`` and ``DELETE /models/NAME`` (register and
    unregister a model) answer only where they are enabled; this server listens on loopback only.
    With ``wait=False`` it returns at once; ``server.wait()`` then waits (lesson 06 starts both
    servers so, to let them start together).
    """
    if os.environ.get(NO_SERVERS_ENV_VAR):
        raise ServerError(f"{NO_SERVERS_ENV_VAR} is set: this machine does not run servers, so TorchServe was not started.")
    if java_runtime() is None:
        raise JavaMissingError("No Java runtime found, so TorchServe cannot start. " + JAVA_HINT)
    model_store = Path(model_store).resolve()
    if models is None:
        models = sorted(p.name for p in model_store.glob("*.mar"))
    models = [m if m.endswith(".mar") else f"{m}.mar" for m in models]
    missing = [m for m in models if not (model_store / m).exists()]
    if missing:
        raise ServerError(f"No model archive {missing} in {model_store}: make one with torch-model-archiver (archive_torch_model).")
    home = Path(tempfile.mkdtemp(prefix="sidebyside-torchserve-"))
    # gRPC cannot be turned off, and its default ports (7070, 7071) are the same for every
    # TorchServe: a second one (another notebook, a test worker) would fail to bind them.
    management_port, metrics_port, grpc_inference_port, grpc_management_port = _processes.free_ports(4, host)
    template = home / "config.template"
    template.write_text(_TORCHSERVE_CONFIG.replace("{port}", "\0").format(
        host=host, management_port=management_port, metrics_port=metrics_port, model_store=model_store,
        grpc_inference_port=grpc_inference_port, grpc_management_port=grpc_management_port,
        load_models=",".join(models), workers=workers, vmargs=f"-Xmx{java_heap} -XX:+UseSerialGC",
    ).replace("\0", "{port}"))
    env = dict(os.environ)
    env.update(TMPDIR=str(home), TEMP=str(home), LOG_LOCATION=str(home / "logs"), METRICS_LOCATION=str(home / "logs"))
    env.setdefault("OMP_NUM_THREADS", "1")
    server = _spawn(
        TorchServeServer, "TorchServe", "sidebyside.serving.torchserve_server:_run_torchserve",
        ["--sbs-config", str(template), "--sbs-port", "{port}", "--model-store", str(model_store)],
        port=port, host=host, ready_path="/ping", env=env, cleanup=lambda: shutil.rmtree(home, ignore_errors=True),
    )
    server.management_port, server.metrics_port = management_port, metrics_port
    server.config_path = home / "config.properties"
    server.model_names = tuple(m[: -len(".mar")] for m in models)
    _watch_readiness(server, server.models_ready if server.model_names else None, timeout)
    return server.wait(timeout) if wait else server
