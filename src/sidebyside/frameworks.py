"""Importing the frameworks the course's way: environment first, start-up noise hidden."""

from __future__ import annotations

import contextlib
import os
import sys

from .course import under_grading

#: TensorFlow's C++ log level for the course (see prepare_environment).
TF_LOG_LEVEL = "3"


def prepare_environment() -> None:
    """Environment variables that only work if set before the frameworks are imported."""
    # 3 hides TensorFlow's C++ log lines up to ERROR: Keras' fit() in TF 2.21 logs a harmless
    # "NodeDef mentions attribute use_unbounded_threadpool" error line. Real failures still
    # raise Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
    # Deterministic cuBLAS, needed by torch.use_deterministic_algorithms on CUDA.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # PyTorch and TensorFlow each bring an OpenMP runtime; spinning threads of one starve the
    # other on a small machine and make timings erratic. Passive waiting costs nothing here.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if under_grading() and "torch" not in sys.modules and "tensorflow" not in sys.modules:
        # Grading is reproducible only on the CPU: hide GPUs from both frameworks.
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence what C++ code writes to file descriptor 2 (Python exceptions still propagate).

    TensorFlow 2.21 logs "oneDNN custom operations are on" through absl before its log level
    is read, so TF_CPP_MIN_LOG_LEVEL cannot hide it; in a notebook it would show as red text.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow():
    """``import tensorflow`` without its start-up log lines."""
    if "tensorflow" not in sys.modules:
        prepare_environment()
        with quiet_native_stderr():
            import tensorflow  # noqa: F401
    return sys.modules["tensorflow"]
