"""Benchmark (not a test): lesson 06's servers measured side by side on this machine.

    .venv/bin/python benchmarks/serving.py [--requests 100] [--concurrency 1 4 8] [--batch 1 32 128]

Starts TorchServe and the TensorFlow Serving REST server (TensorFlow Serving when
``tensorflow_model_server`` is on PATH, else the stand-in, labelled "KServe V1 (TF Serving's REST
protocol)" in every row: KServe's Python server with the course's predictor) on loopback with the
same digits model,
measures cold start (launch to first answer) and resident memory of each server's processes,
then p50/p99 latency and throughput for every concurrency level and batch size, and in-process
inference of the same exported models as the baseline. Prints a table (and ``--json`` writes
the rows). Every server is stopped at the end. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sidebyside import data, serving  # noqa: E402


def in_process(fn, X, repeat: int) -> dict:
    latencies = []
    start = time.perf_counter()
    for _ in range(repeat):
        sent = time.perf_counter()
        fn(X)
        latencies.append(time.perf_counter() - sent)
    return serving.latency_summary(latencies, time.perf_counter() - start, len(X))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf
    import torch

    work = Path(tempfile.mkdtemp(prefix="sidebyside-bench-serving-"))
    digits = data.load_digits(seed=0)
    X = np.concatenate([digits.X_val] * 2)
    torch.manual_seed(0)
    torch_model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(32, 10))
    program = serving.export_torch(torch_model, torch.from_numpy(X[:8]), work / "digits.pt2")
    serving.archive_course_model("digits", work / "digits.pt2", work / "store")
    keras.utils.set_random_seed(0)
    keras_model = keras.Sequential([keras.Input((64,), name="pixels"), keras.layers.Dense(32, activation="relu"), keras.layers.Dropout(0.2), keras.layers.Dense(10)])
    serving.export_keras(keras_model, work / "saved")

    servers, starting = {}, {}
    for name, start in (("TorchServe", lambda: serving.start_torchserve(work / "store", wait=False)),
                        ("TensorFlow", lambda: serving.start_tf_serving(work / "saved", "digits", wait=False))):
        try:
            starting[name] = start()  # as in the lesson: both start at once
        except serving.ServerError as error:
            print(f"{name}: not started: {error}")
    for name, server in starting.items():
        try:
            servers[name] = server.wait()
        except serving.ServerError as error:
            print(f"{name}: not started: {error}")
    try:
        print(f"{'server':40}{'cold start s':>13}{'memory MB':>11}")
        for name, server in servers.items():
            ready = getattr(server, "ready_seconds", server.start_seconds)
            label = server.label if name == "TensorFlow" else name
            print(f"{label:40}{ready:>13.1f}{server.memory_mb():>11.0f}")
        targets = {}
        if "TorchServe" in servers:
            targets["TorchServe"] = (servers["TorchServe"].predict_url("digits"), serving.torch_predict_body)
        if "TensorFlow" in servers:  # named for what it is: TensorFlow Serving, or the KServe stand-in
            targets[servers["TensorFlow"].label] = (servers["TensorFlow"].predict_url, serving.tf_predict_body)
        rows = serving.measure(targets, X, concurrency_levels=args.concurrency, batch_sizes=args.batch, requests=args.requests, max_seconds=120)
        module = program.module()
        signature = tf.saved_model.load(str(work / "saved")).signatures["serving_default"]

        def torch_fn(batch):
            with torch.no_grad():
                return torch.softmax(module(torch.from_numpy(batch)), 1).numpy()

        def tf_fn(batch):
            return signature(pixels=tf.constant(batch))["probabilities"].numpy()

        for name, fn in (("PyTorch in-process", torch_fn), ("TensorFlow in-process", tf_fn)):
            for batch_size in args.batch:
                rows.append({"server": name, "batch_size": batch_size, "concurrency": 1, **in_process(fn, X[:batch_size], args.requests)})
    finally:
        for server in servers.values():
            server.stop()
    print(f"\n{'server':40}{'batch':>6}{'clients':>8}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'rows/s':>10}")
    for row in rows:
        print(f"{row['server']:40}{row['batch_size']:>6}{row['concurrency']:>8}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['requests_per_s']:>9.0f}{row['rows_per_s']:>10.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
