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

Modules, by job (every public name is also here, as lesson 06 uses it: ``serving.burst``)
------------------------------------------------------------------------------------------
- :mod:`.model_export`: exporting the models (torch.export, Keras' SavedModel export);
- :mod:`.server_start`: starting a server without waiting, and watching it become ready;
- :mod:`.torchserve_server`: TorchServe, its handler and model archives;
- :mod:`.tf_serving_server`: TensorFlow Serving, or KServe as its named stand-in, and the
  predictor that answers TensorFlow Serving's REST protocol;
- :mod:`.measuring`: requests, bursts, latencies and memory;
- :mod:`.kserve_install`: KServe's own environment, and ``sidebyside serving install-kserve``.

Measuring
---------
:func:`post_json`, :func:`burst` and :func:`latency_summary` are the client side of lesson 06's
measurements: real HTTP requests, per-request latencies, p50/p99 and throughput.
"""

from __future__ import annotations

from .model_export import export_keras, export_torch  # noqa: F401
from .torchserve_server import HANDLER_SHIM, JAVA_HINT, JavaMissingError, TorchServeHandler, TorchServeServer, archive_course_model, archive_torch_model, java_runtime, start_torchserve  # noqa: F401
from .tf_serving_server import KSERVE_ENV_VAR, KSERVE_VERSION, PredictError, TFServingServer, TF_SERVER_LABELS, TF_SERVING_BOTH_KEYS, TF_SERVING_MISSING_KEY, kserve_prefix, kserve_site, start_tf_serving, tf_serving_backend, tf_serving_command_lines, tf_serving_predict, version_folder  # noqa: F401
from .measuring import burst, latency_summary, measure, post_json, process_tree_memory_mb, tf_predict_body, torch_predict_body  # noqa: F401
from .kserve_install import install_kserve, main  # noqa: F401
from ..servers import HOST, NO_SERVERS_ENV_VAR, PortInUseError, Server, ServerDiedError, ServerError, free_port, port_is_free, running_servers  # noqa: F401 - re-exported

__all__ = [
    "HOST", "JavaMissingError", "KSERVE_VERSION", "PortInUseError", "ServerDiedError", "ServerError", "TFServingServer",
    "PredictError", "TF_SERVER_LABELS", "TF_SERVING_BOTH_KEYS", "TF_SERVING_MISSING_KEY",
    "TorchServeHandler", "TorchServeServer", "archive_torch_model", "burst", "export_keras", "export_torch", "install_kserve",
    "java_runtime", "kserve_site", "latency_summary", "post_json", "running_servers", "start_tf_serving", "start_torchserve",
    "tf_serving_backend", "tf_serving_command_lines", "tf_serving_predict", "torch_predict_body", "tf_predict_body",
    "version_folder",
]
