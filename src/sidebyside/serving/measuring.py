"""The client side of lesson 06's measurements: request bodies, bursts, latencies, memory.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from ..servers import ServerError
from .torchserve_server import _plain


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
