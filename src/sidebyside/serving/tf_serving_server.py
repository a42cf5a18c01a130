"""TensorFlow Serving's REST protocol: ``tensorflow_model_server`` where it is installed, else KServe
with the course's predictor as its named stand-in (:data:`TF_SERVER_LABELS`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..servers import HOST, Server, ServerError, free_port
from .measuring import tf_predict_body
from .server_start import _spawn, _watch_readiness
from .torchserve_server import _json_request


#: The KServe release the course installs into ``.venv/kserve`` (see the module's docstring).
KSERVE_VERSION = "0.21.0"
#: Where :func:`install_kserve` puts KServe; override with this environment variable.
KSERVE_ENV_VAR = "SIDEBYSIDE_KSERVE_PREFIX"


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
        entry = "sidebyside.serving.tf_serving_server:_run_executable"
        ready = f"/v1/models/{model_name}"
    else:
        env["PYTHONPATH"] = os.pathsep.join([str(kserve_site()), *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("OMP_NUM_THREADS", "1")
        args = ["--sbs-model-dir", str(saved_model_dir), "--sbs-model-name", model_name, "--sbs-port", "{port}", "--sbs-host", "{host}"]
        entry = "sidebyside.serving.tf_serving_server:_run_kserve"
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
