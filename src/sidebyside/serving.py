"""Model servers on this machine, started and stopped from Python. Lesson 06.

Two real servers, each a child process on 127.0.0.1 (loopback only), through the same launcher
as TensorBoard and Visdom (:mod:`sidebyside.servers`: a free port unless one is given, its own
process group, stopped at interpreter exit, told to exit when its parent dies, clear errors):

- :func:`start_torchserve`: PyTorch's TorchServe (PyPI ``torchserve`` and
  ``torch-model-archiver``). Its front end is a Java program (a Java 11+ runtime is needed:
  ``scripts/install-java`` installs Debian's), which starts one Python worker per model copy.
- :func:`start_tf_serving`: a SavedModel served over TensorFlow Serving's REST protocol
  (``POST /v1/models/NAME:predict``: the row format ``{"instances": ...}`` answered with
  ``{"predictions": ...}``, the columnar format ``{"inputs": ...}`` with ``{"outputs": ...}``).
  It is TensorFlow Serving itself, ``tensorflow_model_server``, when that binary is on ``PATH``
  (Colab, TensorFlow Serving's Docker image: it is on neither PyPI nor Debian). Everywhere else
  it is a stand-in: KServe's Python model server (PyPI ``kserve``) speaking KServe's "V1"
  protocol, which KServe's documentation says is *based on* TensorFlow Serving's REST API, with
  a predictor this course wrote (:func:`tf_serving_predict`, run in KServe by ``_run_kserve``).
  Wherever a number measured on it is shown, it is called :data:`TF_SERVER_LABELS` ``["kserve"]``,
  "KServe V1 (TF Serving's REST protocol)", never TensorFlow Serving. The client code is the same
  for both.

KServe beside the course's pins
-------------------------------
Every ``kserve`` release on PyPI requires ``psutil<6`` and (0.17 and later) ``protobuf<7``,
while the course pins ``psutil==7.2.2`` and TensorFlow 2.21 brings ``protobuf`` 7. So KServe
cannot live in the course's ``.venv``: ``sidebyside serving install-kserve`` puts it
in its own small environment, ``.venv/kserve`` (only what the course's environment lacks, plus
KServe's own ``psutil`` and ``protobuf``), and the KServe server process alone puts it first on
its ``sys.path``. The notebook's kernel never imports KServe.

Measuring
---------
:func:`post_json`, :func:`burst` and :func:`latency_summary` are the client side of lesson 06's
measurements: real HTTP requests, per-request latencies, p50/p99 and throughput.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import servers as _servers
from .frameworks import TF_LOG_LEVEL
from .servers import HOST, NO_SERVERS_ENV_VAR, PortInUseError, Server, ServerDiedError, ServerError, free_port, port_is_free, running_servers  # noqa: F401 - re-exported

__all__ = [
    "HOST", "JavaMissingError", "KSERVE_VERSION", "PortInUseError", "ServerDiedError", "ServerError", "TFServingServer",
    "PredictError", "TF_SERVER_LABELS", "TF_SERVING_BOTH_KEYS", "TF_SERVING_MISSING_KEY",
    "TorchServeHandler", "TorchServeServer", "archive_torch_model", "burst", "export_keras", "export_torch", "install_kserve",
    "java_runtime", "kserve_site", "latency_summary", "post_json", "running_servers", "start_tf_serving", "start_torchserve",
    "tf_serving_backend", "tf_serving_command_lines", "tf_serving_predict", "torch_predict_body", "tf_predict_body",
    "version_folder",
]

#: The KServe release the course installs into ``.venv/kserve`` (see the module's docstring).
KSERVE_VERSION = "0.21.0"
#: Where :func:`install_kserve` puts KServe; override with this environment variable.
KSERVE_ENV_VAR = "SIDEBYSIDE_KSERVE_PREFIX"
JAVA_HINT = (
    "TorchServe's front end is a Java program: install a Java runtime, version 11 or newer "
    "(Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`, or the course's `scripts/install-java` as root), "
    "or set JAVA_HOME to one."
)


class JavaMissingError(ServerError):
    """TorchServe needs a Java runtime and none was found."""


# --- 1. Export (the framework code is in lesson 06, section 1) --------------------------------


def export_torch(model, example, path=None, *, max_batch: int = 4096):
    """``torch.export`` of ``model`` (put in eval mode) with a dynamic batch dimension; saved to
    ``path`` (a ``.pt2`` file) when given. Lesson 06, section 1."""
    import torch

    model.eval()
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    if path is not None:
        torch.export.save(program, str(path))
    return program


def export_keras(model, path, *, input_name: str = "pixels", output_name: str = "probabilities", softmax: bool = True):
    """A SavedModel at ``path`` whose ``serving_default`` signature takes ``input_name``
    (any batch size) and returns ``{output_name: softmax(model(x))}``. Lesson 06, section 1."""
    import keras
    import tensorflow as tf

    shape = (None, *model.inputs[0].shape[1:])
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(x):
        y = model(x, training=False)
        return {output_name: tf.nn.softmax(y) if softmax else y}

    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[tf.TensorSpec(shape, tf.float32, name=input_name)])
    archive.write_out(str(path), verbose=False)
    return Path(path)


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
        if family:
            import psutil

            _, alive = psutil.wait_procs(family, timeout=timeout)
            for process in alive:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(alive, timeout=timeout)

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
    not pass it on to its Java front end and workers."""
    argv = sys.argv[1:]
    template = Path(argv[argv.index("--sbs-config") + 1])
    port = argv[argv.index("--sbs-port") + 1]
    config = template.with_name("config.properties")
    config.write_text(template.read_text().replace("{port}", port))
    rest = [a for i, a in enumerate(argv) if a not in ("--sbs-config", "--sbs-port") and (i == 0 or argv[i - 1] not in ("--sbs-config", "--sbs-port"))]

    def stop_group(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
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
    management_port, metrics_port = free_port(host), free_port(host)
    template = home / "config.template"
    template.write_text(_TORCHSERVE_CONFIG.replace("{port}", "\0").format(
        host=host, management_port=management_port, metrics_port=metrics_port, model_store=model_store,
        load_models=",".join(models), workers=workers, vmargs=f"-Xmx{java_heap} -XX:+UseSerialGC",
    ).replace("\0", "{port}"))
    env = dict(os.environ)
    env.update(TMPDIR=str(home), TEMP=str(home), LOG_LOCATION=str(home / "logs"), METRICS_LOCATION=str(home / "logs"))
    env.setdefault("OMP_NUM_THREADS", "1")
    server = _spawn(
        TorchServeServer, "TorchServe", "sidebyside.serving:_run_torchserve",
        ["--sbs-config", str(template), "--sbs-port", "{port}", "--model-store", str(model_store)],
        port=port, host=host, ready_path="/ping", env=env, cleanup=lambda: shutil.rmtree(home, ignore_errors=True),
    )
    server.management_port, server.metrics_port = management_port, metrics_port
    server.config_path = home / "config.properties"
    server.model_names = tuple(m[: -len(".mar")] for m in models)
    _watch_readiness(server, server.models_ready if server.model_names else None, timeout)
    return server.wait(timeout) if wait else server


# --- 3. A TensorFlow Serving REST server ------------------------------------------------------


def kserve_prefix() -> Path:
    """Where :func:`install_kserve` puts KServe: ``$SIDEBYSIDE_KSERVE_PREFIX``, else
    ``.venv/kserve`` inside the course's virtual environment."""
    if os.environ.get(KSERVE_ENV_VAR):
        return Path(os.environ[KSERVE_ENV_VAR])
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "kserve"
    return Path.home() / ".cache" / "sidebyside" / "kserve"


def kserve_site() -> Path | None:
    """The ``site-packages`` folder holding KServe, if it is installed; else None."""
    prefix = kserve_prefix()
    for site in sorted(prefix.glob("lib/python*/site-packages")) + sorted(prefix.glob("Lib/site-packages")):
        if (site / "kserve" / "__init__.py").exists():
            return site
    return None


#: What lesson 06, its dashboard and benchmarks/serving.py call each backend of
#: :func:`start_tf_serving` wherever they show a number measured on it.
TF_SERVER_LABELS = {
    "tensorflow_model_server": "TensorFlow Serving",
    "kserve": "KServe V1 (TF Serving's REST protocol)",
}


def tf_serving_backend() -> tuple[str | None, str]:
    """Which TensorFlow Serving REST server :func:`start_tf_serving` would start, and why."""
    binary = shutil.which("tensorflow_model_server")
    if binary:
        return "tensorflow_model_server", f"TensorFlow Serving's own server is on PATH ({binary})"
    if kserve_site() is not None:
        return "kserve", (
            "tensorflow_model_server is not on PATH (it is on neither PyPI nor Debian), so a stand-in serves the same "
            f"SavedModel: KServe {KSERVE_VERSION}'s Python model server, over KServe's V1 protocol (based on TensorFlow "
            "Serving's REST API), with a predictor this course wrote (sidebyside.serving.tf_serving_predict); "
            f"installed in {kserve_prefix()}"
        )
    return None, (
        "neither tensorflow_model_server (TensorFlow Serving's binary: Colab, its Docker image) nor KServe is "
        "installed. Install KServe once with `.venv/bin/sidebyside serving install-kserve` (`make setup` does it)."
    )


class TFServingServer(Server):
    """A running TensorFlow Serving REST server (TensorFlow Serving itself, or the KServe stand-in)."""

    backend: str = ""
    model_name: str = ""
    launched_at: float = float("nan")
    ready_seconds: float = float("nan")
    answered_at: float = float("inf")
    ready_at: float = float("inf")  # when the model first answered, as _watch_readiness saw it

    @property
    def label(self) -> str:
        """What it is, for every table and chart: "TensorFlow Serving" or "KServe V1 (TF Serving's REST protocol)"."""
        return TF_SERVER_LABELS.get(self.backend, self.backend)

    @property
    def predict_url(self) -> str:
        return f"{self.url}/v1/models/{self.model_name}:predict"

    def wait(self, timeout: float = 240.0) -> "TFServingServer":
        """Wait until the model answers (its status URL); sets :attr:`start_seconds` and
        :attr:`ready_seconds` (from launch). Stops the server on failure."""
        if self.ready_seconds == self.ready_seconds:
            return self
        try:
            self.start_seconds = self.ready_seconds = min(self.wait_until_ready(timeout), self.ready_at) - self.launched_at
        except ServerError:
            self.stop()
            raise
        return self

    def predict(self, instances, *, signature_name: str | None = None, columnar: bool = False, timeout: float = 30.0):
        """POST ``{"instances": ...}`` (or, with ``columnar=True``, ``{"inputs": ...}``) to
        ``/v1/models/NAME:predict``; the parsed answer (``{"predictions": ...}``, or ``{"outputs": ...}``)."""
        self.check()
        return _json_request(self.predict_url, tf_predict_body(instances, signature_name, columnar=columnar), timeout=timeout)

    def status(self, timeout: float = 10.0):
        """``GET /v1/models/NAME``: the model's status, in each server's own format."""
        self.check()
        return _json_request(f"{self.url}/v1/models/{self.model_name}", timeout=timeout)


# --- TensorFlow Serving's predict API, as the course's KServe predictor answers it -------------

#: TensorFlow Serving's own error messages for a body with neither or both of the two formats
#: (tensorflow_serving/util/json_tensor.cc): :func:`tf_serving_predict` answers those mistakes
#: with the same words. Its other refusals are in the course's own words.
TF_SERVING_MISSING_KEY = "Missing 'inputs' or 'instances' key"
TF_SERVING_BOTH_KEYS = "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist"


class PredictError(ValueError):
    """A predict request :func:`tf_serving_predict` refuses; ``str()`` is the ``{"error": ...}`` text."""


def _tf_serving_signature_not_found(name: str) -> str:
    # TensorFlow Serving's words (tensorflow_serving/servables/tensorflow/util.cc).
    return f'Serving signature name: "{name}" not found in signature def'


def tf_serving_predict(payload, signatures: dict, default_signature: str = "serving_default"):
    """Answer the body of a ``POST /v1/models/NAME:predict`` as TensorFlow Serving's REST API does.

    ``signatures``: ``{name: (input_dtypes, run)}``, where ``input_dtypes`` is ``{input name:
    NumPy dtype}`` and ``run(feeds)`` returns ``{output name: array}`` for ``{input name: array}``.
    ``"signature_name"`` in the body picks one (default ``serving_default``).

    - Row format, ``{"instances": [...]}``: one entry per row, a value (one input) or an object of
      named inputs; answered ``{"predictions": ...}``: the output's rows (one output) or one
      object of named outputs per row.
    - Columnar format, ``{"inputs": ...}``: one tensor (one input) or an object of named tensors;
      answered ``{"outputs": ...}``: the tensor (one output) or an object of named tensors.

    Raises :class:`PredictError` for a body TensorFlow Serving would refuse: with neither or
    both keys, TensorFlow Serving's own message (:data:`TF_SERVING_MISSING_KEY`,
    :data:`TF_SERVING_BOTH_KEYS`); an unknown signature, its words too; anything else, the
    course's own words. Used by the course's KServe predictor; testable without KServe.
    """
    import numpy as np

    if not isinstance(payload, dict):
        raise PredictError(f"the request body must be a JSON object, got {type(payload).__name__}")
    name = payload.get("signature_name") or default_signature
    if name not in signatures:
        raise PredictError(_tf_serving_signature_not_found(name))
    input_dtypes, run = signatures[name]
    names = list(input_dtypes)
    rows, columns = "instances" in payload, "inputs" in payload
    if rows and columns:
        raise PredictError(TF_SERVING_BOTH_KEYS)
    if not rows and not columns:
        raise PredictError(TF_SERVING_MISSING_KEY)
    if rows:
        instances = payload["instances"]
        if not isinstance(instances, list) or not instances:
            raise PredictError(f'"instances" must be a non-empty list of rows (the row format), got {json.dumps(instances)[:80]}')
        if all(isinstance(row, dict) for row in instances):
            missing = sorted({n for row in instances for n in names if n not in row})
            if missing:
                raise PredictError(f"an instance has no value for the input(s) {missing}; this signature's inputs: {names}")
            values = {n: [row[n] for row in instances] for n in names}
        elif len(names) == 1:
            values = {names[0]: instances}
        else:
            raise PredictError(f"this signature has the inputs {names}: send each instance as an object of named inputs")
    else:
        given = payload["inputs"]
        if isinstance(given, dict) and (len(names) > 1 or set(given) == set(names)):
            if set(given) != set(names):
                raise PredictError(f'"inputs" names {sorted(given)}; this signature\'s inputs: {names}')
            values = dict(given)
        elif len(names) == 1:
            values = {names[0]: given}
        else:
            raise PredictError(f'this signature has the inputs {names}: send "inputs" as an object of named tensors')
    feeds = {}
    for n, value in values.items():
        try:
            feeds[n] = np.asarray(value, dtype=input_dtypes[n])
        except (TypeError, ValueError) as error:
            raise PredictError(f"input {n!r}: {error}") from None
    try:
        outputs = {k: np.asarray(v) for k, v in run(feeds).items()}
    except (TypeError, ValueError) as error:  # shapes the signature does not accept
        raise PredictError(f"the signature {name!r} refused the input: {' '.join(str(error).split())[:300]}") from None
    if rows:
        if len(outputs) == 1:
            return {"predictions": next(iter(outputs.values())).tolist()}
        count = len(next(iter(outputs.values())))
        return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(count)]}
    if len(outputs) == 1:
        return {"outputs": next(iter(outputs.values())).tolist()}
    return {"outputs": {k: v.tolist() for k, v in outputs.items()}}


def _saved_model_signatures(loaded) -> dict:
    """:func:`tf_serving_predict`'s ``signatures`` for a loaded SavedModel."""
    import tensorflow as tf

    signatures = {}
    for name, function in loaded.signatures.items():
        dtypes = {n: spec.dtype.as_numpy_dtype for n, spec in function.structured_input_signature[1].items()}

        def run(feeds, function=function):
            try:
                result = function(**{k: tf.constant(v) for k, v in feeds.items()})
            except tf.errors.InvalidArgumentError as error:
                raise ValueError(error.message) from None
            return {k: v.numpy() for k, v in result.items()}

        signatures[name] = (dtypes, run)
    return signatures


def _run_kserve() -> None:
    """KServe's ModelServer with one model that runs a SavedModel's serving signature. Runs in
    the server's own process, with KServe's environment first on ``sys.path``."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--sbs-model-dir", required=True)
    parser.add_argument("--sbs-model-name", required=True)
    parser.add_argument("--sbs-port", type=int, required=True)
    parser.add_argument("--sbs-host", default=HOST)
    parser.add_argument("--sbs-signature", default="serving_default")
    options, _ = parser.parse_known_args()
    sys.argv = sys.argv[:1]  # KServe parses sys.argv when imported

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.killpg(os.getpgrp(), signal.SIGTERM)

    import tensorflow as tf
    import uvicorn

    # KServe binds 0.0.0.0; the course's servers listen on loopback only.
    original_config = uvicorn.Config.__init__

    def loopback_config(self, *args, **kwargs):
        kwargs["host"] = options.sbs_host
        original_config(self, *args, **kwargs)

    uvicorn.Config.__init__ = loopback_config
    import kserve

    class SavedModelPredictor(kserve.Model):
        """The course's predictor: a SavedModel's signatures behind TensorFlow Serving's predict
        API, both formats (:func:`tf_serving_predict`)."""

        def load(self):
            self.loaded = tf.saved_model.load(options.sbs_model_dir)
            self.signatures = _saved_model_signatures(self.loaded)
            self.ready = True
            return True

        def predict(self, payload, headers=None, response_headers=None):
            if isinstance(payload, (bytes, bytearray)):
                payload = json.loads(payload)
            try:
                return tf_serving_predict(payload, self.signatures, options.sbs_signature)
            except PredictError as error:  # KServe answers HTTP 400 {"error": message}
                raise kserve.errors.InvalidInput(str(error)) from None

    import logging

    for name in ("kserve.trace", "uvicorn.access"):  # one line per request otherwise
        logging.getLogger(name).setLevel(logging.WARNING)
    model = SavedModelPredictor(options.sbs_model_name)
    model.load()
    signal.signal(signal.SIGTERM, stop)
    kserve.ModelServer(http_port=options.sbs_port, enable_grpc=False, workers=1, enable_latency_logging=False).start([model])


def _run_executable() -> None:
    """Replace this process with ``sys.argv[1:]`` (same pid, process group and death signal)."""
    os.execvp(sys.argv[1], sys.argv[1:])


def start_tf_serving(saved_model_dir, model_name: str = "digits", *, port: int | None = None, host: str = HOST,
                     backend: str = "auto", timeout: float = 240.0, wait: bool = True) -> TFServingServer:
    """Serve the SavedModel at ``saved_model_dir`` as ``model_name`` over TensorFlow Serving's REST
    API, and wait until the model answers. Lesson 06.

    ``backend``: ``"auto"`` (TensorFlow Serving's ``tensorflow_model_server`` when on ``PATH``,
    else KServe), ``"tensorflow_model_server"`` or ``"kserve"``. See :func:`tf_serving_backend`.
    ``wait=False``: return at once; ``server.wait()`` waits.
    """
    saved_model_dir = Path(saved_model_dir).resolve()
    if not (saved_model_dir / "saved_model.pb").exists():
        raise ServerError(f"{saved_model_dir} holds no SavedModel (saved_model.pb): export one with model.export(path).")
    chosen, why = tf_serving_backend()
    if backend != "auto":
        if backend == "kserve" and kserve_site() is None:
            raise ServerError("KServe is not installed: " + tf_serving_backend()[1])
        if backend == "tensorflow_model_server" and not shutil.which("tensorflow_model_server"):
            raise ServerError("tensorflow_model_server is not on PATH.")
        chosen = backend
    if chosen is None:
        raise ServerError("No TensorFlow Serving REST server can start here: " + why)
    home = Path(tempfile.mkdtemp(prefix="sidebyside-tf-serving-"))
    cleanup = lambda: shutil.rmtree(home, ignore_errors=True)  # noqa: E731
    env = dict(os.environ)
    if chosen == "tensorflow_model_server":
        # TensorFlow Serving wants MODEL_BASE_PATH/VERSION/saved_model.pb.
        base = version_folder(saved_model_dir, home / model_name, link=True)
        args = [shutil.which("tensorflow_model_server"), "--rest_api_port={port}", f"--port={free_port(host)}",
                f"--model_name={model_name}", f"--model_base_path={base}"]
        entry = "sidebyside.serving:_run_executable"
        ready = f"/v1/models/{model_name}"
    else:
        env["PYTHONPATH"] = os.pathsep.join([str(kserve_site()), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("OMP_NUM_THREADS", "1")
        args = ["--sbs-model-dir", str(saved_model_dir), "--sbs-model-name", model_name, "--sbs-port", "{port}", "--sbs-host", "{host}"]
        entry = "sidebyside.serving:_run_kserve"
        ready = f"/v1/models/{model_name}"
    server = _spawn(TFServingServer, "TF-Serving" if chosen == "tensorflow_model_server" else "KServe", entry, args,
                    port=port, host=host, ready_path=ready, env=env, cleanup=cleanup)
    server.backend, server.model_name = chosen, model_name
    _watch_readiness(server, None, timeout)
    return server.wait(timeout) if wait else server


def version_folder(saved_model_dir, model_base_path, version: int = 1, *, link: bool = False) -> Path:
    """Lay a SavedModel out as TensorFlow Serving reads it: ``MODEL_BASE_PATH/VERSION/saved_model.pb``
    (it serves the highest numbered version folder). Copies (or, ``link=True``, symlinks) the
    SavedModel folder to ``model_base_path/version``; returns ``model_base_path``."""
    saved_model_dir, base = Path(saved_model_dir).resolve(), Path(model_base_path)
    base.mkdir(parents=True, exist_ok=True)
    target = base / str(int(version))
    if target.is_symlink() or target.exists():
        raise ServerError(f"{target} exists already: TensorFlow Serving's version folders are never overwritten; pick another version")
    if link:
        target.symlink_to(saved_model_dir, target_is_directory=True)
    else:
        shutil.copytree(saved_model_dir, target)
    return base


def tf_serving_command_lines(model_base_path, model_name: str, *, rest_api_port: int = 8501, grpc_port: int = 8500) -> dict[str, list[str]]:
    """TensorFlow Serving's own command lines for ``model_base_path`` (laid out by :func:`version_folder`):
    ``"tensorflow_model_server"``, the binary, and ``"docker"``, its Docker image (which runs that
    binary with ``--model_base_path=/models/$MODEL_NAME``)."""
    base = str(Path(model_base_path).resolve())
    return {
        "tensorflow_model_server": ["tensorflow_model_server", f"--port={grpc_port}", f"--rest_api_port={rest_api_port}",
                                    f"--model_name={model_name}", f"--model_base_path={base}"],
        "docker": ["docker", "run", "-t", "--rm", "-p", f"{rest_api_port}:8501", "-v", f"{base}:/models/{model_name}",
                   "-e", f"MODEL_NAME={model_name}", "tensorflow/serving"],
    }


# --- 4. Requests and measurements ---------------------------------------------------------------


def torch_predict_body(X) -> dict:
    """The JSON body the course's TorchServe handler expects: ``{"instances": rows}``."""
    return {"instances": _plain(X)}


def tf_predict_body(X, signature_name: str | None = None, *, columnar: bool = False) -> dict:
    """TensorFlow Serving's request body: the row format ``{"instances": rows}``, or with
    ``columnar=True`` the columnar format ``{"inputs": tensor}``."""
    body = {"inputs" if columnar else "instances": _plain(X)}
    if signature_name:
        body["signature_name"] = signature_name
    return body


def post_json(url: str, body: dict, timeout: float = 30.0) -> tuple[float, object]:
    """POST ``body`` as JSON; ``(seconds from sending to the parsed answer, answer)``."""
    data = json.dumps(body).encode()
    start = time.perf_counter()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    return time.perf_counter() - start, answer


def burst(url: str, body: dict, *, requests: int, concurrency: int = 1, timeout: float = 30.0, max_seconds: float = 60.0) -> tuple[list[float], float]:
    """Send ``requests`` copies of ``body`` to ``url`` from ``concurrency`` threads (each waits for
    its answer before sending the next). Returns (per-request latencies in seconds, wall seconds).
    Bounded: stops sending after ``max_seconds``. Raises if any request fails."""
    if requests < 1 or concurrency < 1:
        raise ValueError(f"requests and concurrency must be at least 1, got {requests} and {concurrency}")
    data = json.dumps(body).encode()
    latencies: list[float] = []
    errors: list[BaseException] = []
    counter = iter(range(requests))
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def client():
        while True:
            with lock:
                if errors or time.monotonic() > deadline or next(counter, None) is None:
                    return
            try:
                start = time.perf_counter()
                request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    response.read()
                elapsed = time.perf_counter() - start
            except BaseException as error:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(error)
                return
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(min(concurrency, requests))]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    if errors:
        raise ServerError(f"a request to {url} failed: {errors[0]!r}")
    return latencies, wall


def latency_summary(latencies, wall_seconds: float, rows_per_request: int = 1) -> dict:
    """p50 and p99 (linear interpolation between sorted values, as ``numpy.percentile``), mean,
    and throughput, from per-request latencies in seconds. Lesson 06, section 3."""
    import numpy as np

    values = np.sort(np.asarray(latencies, dtype=np.float64))
    if values.size == 0:
        raise ValueError("no latencies to summarize")
    return {
        "requests": int(values.size),
        "p50_ms": float(np.percentile(values, 50) * 1e3),
        "p99_ms": float(np.percentile(values, 99) * 1e3),
        "mean_ms": float(values.mean() * 1e3),
        "requests_per_s": float(values.size / wall_seconds),
        "rows_per_s": float(values.size * rows_per_request / wall_seconds),
    }


def measure(targets: dict, X, *, concurrency_levels=(1, 4), batch_sizes=(1, 32), requests: int = 40, max_seconds: float = 20.0) -> list[dict]:
    """Bursts against each ``{name: (url, make_body)}`` at every concurrency level and batch size;
    one :func:`latency_summary` row per combination. Lesson 06, section 3."""
    rows = []
    for batch_size in batch_sizes:
        for concurrency in concurrency_levels:
            for name, (url, make_body) in targets.items():
                latencies, wall = burst(url, make_body(X[:batch_size]), requests=requests, concurrency=concurrency, max_seconds=max_seconds)
                rows.append({"server": name, "batch_size": batch_size, "concurrency": concurrency, **latency_summary(latencies, wall, batch_size)})
    return rows


def process_tree_memory_mb(pid: int) -> float:
    """Resident memory (RSS) of a process and all its descendants, in MB."""
    import psutil

    process = psutil.Process(pid)
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


# --- Installing KServe ----------------------------------------------------------------------------


def _course_pins() -> list[str]:
    requirements = Path(__file__).resolve().parents[2] / "requirements.txt"
    if not requirements.exists():
        return []
    pins = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if re.match(r"^[A-Za-z0-9_.\-\[\]]+==", line) and not line.lower().startswith(("psutil", "protobuf", "pip==")):
            pins.append(re.sub(r"\[[^\]]*\]", "", line))  # pip refuses extras in a constraints file
    return pins


def install_kserve(prefix=None, *, log=print) -> Path:
    """Install KServe into its own environment (``.venv/kserve``), which sees the course's
    packages but keeps its own ``psutil`` and ``protobuf``. Idempotent. Returns its site-packages."""
    prefix = Path(prefix) if prefix is not None else kserve_prefix()
    site = kserve_site() if prefix == kserve_prefix() else None
    if site is not None:
        version_file = next(site.glob(f"kserve-{KSERVE_VERSION}.dist-info"), None)
        if version_file is not None:
            return site
    log(f"Installing KServe {KSERVE_VERSION} into {prefix} (its own psutil and protobuf; everything else from the course's environment)")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    sites = sorted(prefix.glob("lib/python*/site-packages")) or sorted(prefix.glob("Lib/site-packages"))
    if not sites:
        raise ServerError(f"the new environment {prefix} has no site-packages folder")
    site = sites[0]
    import sysconfig

    (site / "zz-sidebyside-course.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\n".join(_course_pins()) + "\n")
    try:
        subprocess.run([sys.executable, "-m", "pip", "--python", str(prefix / "bin" / "python"), "install", "--quiet",
                        "--disable-pip-version-check", "-c", constraints.name, f"kserve=={KSERVE_VERSION}"], check=True)
    finally:
        os.unlink(constraints.name)
    return site


def main(argv: list[str] | None = None, prog: str = "python -m sidebyside.serving") -> int:
    """``sidebyside serving install-kserve | check``: used by the set-up."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("command", choices=["install-kserve", "check"])
    args = parser.parse_args(argv)
    if args.command == "check":
        java = java_runtime()
        print("Java runtime (TorchServe):", f"{java[1]} at {java[0]}" if java else "MISSING. " + JAVA_HINT)
        backend, why = tf_serving_backend()
        print("TensorFlow Serving REST server:", backend or "MISSING", "-", why)
        return 0 if java and backend else 1
    started = time.monotonic()
    try:
        site = install_kserve()
    except (ServerError, OSError, subprocess.SubprocessError) as error:
        print(f"WARNING: could not install KServe {KSERVE_VERSION}: {error}\n  Lesson 06 will skip its TensorFlow Serving "
              "REST server (and say why). Retry online: .venv/bin/sidebyside serving install-kserve", file=sys.stderr)
        return 1
    print(f"KServe {KSERVE_VERSION}: ready in {site} ({time.monotonic() - started:.0f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
