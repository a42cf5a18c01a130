"""Model servers on loopback (sidebyside.serving): TorchServe and a TensorFlow Serving REST
server (TensorFlow Serving itself, or KServe), the client side of the measurements, and the
serving dashboard's logic. Lesson 06.

The real-server tests start TorchServe (needs a Java runtime: scripts/install-java) and KServe
(``python -m sidebyside.serving install-kserve``); without them they are skipped, with the reason.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from sidebyside import serving
from sidebyside.widgets import serving as dashboard

needs_java = pytest.mark.skipif(serving.java_runtime() is None, reason="no Java runtime: TorchServe cannot start (run scripts/install-java)")
needs_tf_server = pytest.mark.skipif(serving.tf_serving_backend()[0] is None, reason=serving.tf_serving_backend()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_all_gone(pids, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return []
        time.sleep(0.2)
    return [pid for pid in pids if _alive(pid)]


def _tree(pid: int) -> list[int]:
    import psutil

    process = psutil.Process(pid)
    return [pid] + [child.pid for child in process.children(recursive=True)]


# --- The client side: no server needed ------------------------------------------------------------


def test_latency_summary_is_numpys_percentile_of_the_sorted_latencies():
    latencies = [0.031, 0.012, 0.011, 0.250, 0.013, 0.012, 0.015, 0.090]
    summary = serving.latency_summary(latencies, wall_seconds=0.5, rows_per_request=4)
    assert summary["p50_ms"] == pytest.approx(1e3 * np.percentile(latencies, 50))
    assert summary["p99_ms"] == pytest.approx(1e3 * np.percentile(latencies, 99))
    assert summary["requests_per_s"] == pytest.approx(16.0) and summary["rows_per_s"] == pytest.approx(64.0)
    assert summary["mean_ms"] > summary["p50_ms"], f"one slow request pulls the mean above the median: {summary}"
    with pytest.raises(ValueError):
        serving.latency_summary([], 1.0)


def test_request_bodies_use_the_row_format():
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert serving.torch_predict_body(X) == {"instances": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]}
    assert serving.tf_predict_body(X, "serving_default") == {"instances": X.tolist(), "signature_name": "serving_default"}


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers every POST with as many rows of predictions as it was sent (for client tests)."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({"predictions": [[1.0, 0.0] for _ in body["instances"]]}).encode()
        time.sleep(0.002)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_url():
    server = http.server.ThreadingHTTPServer((serving.HOST, 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{serving.HOST}:{server.server_address[1]}/v1/models/echo:predict"
    server.shutdown()
    server.server_close()


def test_burst_sends_exactly_the_requests_asked_from_each_thread(echo_url):
    latencies, wall = serving.burst(echo_url, {"instances": [[0.0] * 4] * 3}, requests=25, concurrency=4)
    assert len(latencies) == 25 and all(t > 0 for t in latencies)
    assert wall > 0
    with pytest.raises(ValueError):
        serving.burst(echo_url, {}, requests=0)


def test_burst_reports_a_failing_server():
    port = serving.free_port()  # nobody listens there
    with pytest.raises(serving.ServerError, match="failed"):
        serving.burst(f"http://{serving.HOST}:{port}/v1/models/x:predict", {"instances": [[0.0]]}, requests=3, timeout=2)


# --- Export and the handler, in-process ------------------------------------------------------------


def test_exported_program_has_a_dynamic_batch_and_the_handler_answers_each_request(tmp_path):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 5), torch.nn.Dropout(0.5), torch.nn.Linear(5, 3))
    serving.export_torch(model, torch.zeros(4, 8), tmp_path / serving.TorchServeHandler.serialized_file)
    assert not model.training, "export_torch puts the model in eval mode"
    handler = serving.TorchServeHandler()
    context = types.SimpleNamespace(system_properties={"model_dir": str(tmp_path)})
    assert handler.handle(None, context) is None and handler.initialized  # TorchServe's first call
    X1, X2 = np.ones((1, 8), np.float32), np.arange(56, dtype=np.float32).reshape(7, 8) / 56
    answers = handler.handle([{"body": {"instances": X1.tolist()}}, {"body": json.dumps({"instances": X2.tolist()}).encode()}], context)
    assert len(answers) == 2
    for answer, X in zip(answers, (X1, X2)):
        with torch.no_grad():
            expected = torch.softmax(model(torch.from_numpy(X)), 1).numpy()
        assert np.allclose(answer["predictions"], expected, atol=1e-6)


def test_keras_export_has_the_named_signature(tmp_path):
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input((6,), name="features"), keras.layers.Dense(3)])
    serving.export_keras(model, tmp_path / "saved")
    signature = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["pixels"]
    assert list(signature.structured_outputs) == ["probabilities"]
    X = np.random.default_rng(0).random((9, 6), dtype=np.float32)
    assert np.allclose(signature(pixels=tf.constant(X))["probabilities"].numpy(), tf.nn.softmax(model(X)).numpy(), atol=1e-6)


# --- Errors that say what to do ---------------------------------------------------------------------


def test_missing_java_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    (tmp_path / "store").mkdir()
    with pytest.raises(serving.JavaMissingError, match="Java runtime") as caught:
        serving.start_torchserve(tmp_path / "store", [])
    assert "openjdk" in str(caught.value) and "install-java" in str(caught.value)
    assert serving.running_servers() == []


@needs_java
def test_busy_port_is_a_clear_error_before_anything_starts(tmp_path):
    import torch

    serving.export_torch(torch.nn.Linear(4, 2), torch.zeros(2, 4), tmp_path / "m.pt2")
    serving.archive_course_model("m", tmp_path / "m.pt2", tmp_path / "store")
    with socket.socket() as listener:
        listener.bind((serving.HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(serving.PortInUseError, match=f"port {port}"):
            serving.start_torchserve(tmp_path / "store", port=port)
    assert serving.running_servers() == []


def test_no_savedmodel_is_a_clear_error(tmp_path):
    with pytest.raises(serving.ServerError, match="no SavedModel"):
        serving.start_tf_serving(tmp_path, "nothing")


@needs_tf_server
def test_a_server_that_dies_at_start_says_so(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    with pytest.raises(serving.ServerDiedError, match="not running") as caught:
        serving.start_tf_serving(broken, "broken", timeout=120)
    assert "Its last output" in str(caught.value)
    assert serving.running_servers() == []


# --- Real servers, and nothing left behind ----------------------------------------------------------

CHILD = textwrap.dedent("""
    import json, sys, tempfile
    from pathlib import Path
    import numpy as np, torch, keras, tensorflow as tf
    from sidebyside import serving

    work = Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    serving.export_torch(model, torch.zeros(2, 64), work / "digits.pt2")
    serving.archive_course_model("digits", work / "digits.pt2", work / "store")
    keras_model = keras.Sequential([keras.Input((64,), name="features"), keras.layers.Dense(10)])
    serving.export_keras(keras_model, work / "saved")
    ts = serving.start_torchserve(work / "store", wait=False)  # both start together
    tfs = serving.start_tf_serving(work / "saved", "digits", wait=False)
    ts, tfs = ts.wait(), tfs.wait()
    X = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    with torch.no_grad():
        torch_expected = torch.softmax(model(torch.from_numpy(X)), 1).numpy()
    report = {
        "torch_difference": float(np.abs(np.array(ts.predict("digits", X)["predictions"]) - torch_expected).max()),
        "tf_difference": float(np.abs(np.array(tfs.predict(X)["predictions"]) - tf.nn.softmax(keras_model(X)).numpy()).max()),
        "models": ts.management("/models"),
        "status": tfs.status(),
        "backend": tfs.backend,
        "inputs_answer": None,
        "pids": [],
        "ready": [ts.ready_seconds, tfs.ready_seconds],
        "memory_mb": [ts.memory_mb(), tfs.memory_mb()],
    }
    import psutil
    for server in (ts, tfs):
        report["pids"] += [server.pid] + [p.pid for p in psutil.Process(server.pid).children(recursive=True)]
    print("REPORT " + json.dumps(report), flush=True)
    sys.stdin.read()  # until the test kills us
""")


@needs_java
@needs_tf_server
def test_both_servers_answer_and_vanish_when_their_parent_is_killed(tmp_path):
    """Both real servers answer like the in-process models; SIGKILL of the Python process that
    started them (a kernel killed by Jupyter) leaves no server process behind."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    report, lines = None, []
    deadline = time.monotonic() + 400
    try:
        for line in child.stdout:
            lines.append(line)
            if line.startswith("REPORT "):
                report = json.loads(line[len("REPORT "):])
                break
            if time.monotonic() > deadline:
                break
    finally:
        if report is None:
            child.kill()
            child.wait()
    assert report is not None, "the child never reported:\n" + "".join(lines[-40:])
    assert report["torch_difference"] < 1e-5 and report["tf_difference"] < 1e-5, report
    assert report["models"] == {"models": [{"modelName": "digits", "modelUrl": "digits.mar"}]}, report["models"]
    assert report["status"], report
    pids = report["pids"]
    assert len(pids) >= 4, f"expected launcher, java and a worker for TorchServe and the TF server, got {pids}"
    assert all(_alive(pid) for pid in pids)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = _wait_all_gone(pids, timeout=45)
    assert not left, f"server processes still running after their parent was killed: {left}"


@needs_java
def test_torchserve_stop_ends_its_java_front_end_and_workers(tmp_path):
    import torch

    serving.export_torch(torch.nn.Linear(4, 2), torch.zeros(2, 4), tmp_path / "m.pt2")
    serving.archive_course_model("m", tmp_path / "m.pt2", tmp_path / "store")
    with serving.start_torchserve(tmp_path / "store") as torchserve:
        assert torchserve.predict("m", np.ones((2, 4), np.float32))["predictions"]
        pids = _tree(torchserve.pid)
        assert len(pids) >= 3, f"launcher, java and a worker expected, got {pids}"
    assert not torchserve.running and serving.running_servers() == []
    assert not _wait_all_gone(pids, timeout=5), "stop() returned while TorchServe processes were still running"


# --- The dashboard's logic ------------------------------------------------------------------------


def test_dashboard_settings_are_checked_and_described():
    settings = dashboard.BurstSettings(("TorchServe",), 4, 32, 40)
    assert dashboard.check_settings(settings, {"TorchServe": {}}) == []
    assert "40 requests of 32 rows each to TorchServe, 4 at a time" == settings.text()
    assert dashboard.check_settings(dashboard.BurstSettings((), 1, 1, 10), {}) == ["choose at least one server"]
    assert "between 1 and" in dashboard.check_settings(dashboard.BurstSettings(("a",), 1, 1, 10_000), {"a": {}})[0]
    shown = dashboard.BurstSettings(("a",), 1, 1, 10)
    assert "until then the chart below shows: 10 requests of 1 row each to a, 1 at a time" in dashboard.pending_status(settings, shown)


def test_dashboard_fires_a_burst_and_says_what_it_shows(echo_url):
    targets = {"Echo A": {"url": echo_url, "body": serving.tf_predict_body, "server": None},
               "Echo B": {"url": echo_url, "body": serving.torch_predict_body, "server": None}}
    panel = dashboard.ServingDashboard(targets, np.zeros((200, 4), np.float32), requests=20)
    assert "Nothing fired yet" in panel.status_text
    panel.batch_size.value = 8
    assert "Batch size 8" in panel.status_text and "8 rows each" in panel.status_text
    panel.server_boxes["Echo B"].value = False
    assert "Echo B off" in panel.status_text
    panel._on_click()
    assert panel.status_text.startswith("The chart below shows: 20 requests of 8 rows each to Echo A"), panel.status_text
    assert [row["server"] for row in panel.rows] == ["Echo A"] and len(panel.rows[0]["latencies"]) == 20
    assert "p50" in dashboard.results_table(panel.rows)
    panel.server_boxes["Echo A"].value = False
    assert "cannot fire" in panel.status_text
    panel._on_click()
    assert "failed" in panel.status_text and "still shows" in panel.status_text


def test_dashboard_names_a_stopped_server():
    stopped = types.SimpleNamespace(running=False)
    assert dashboard.stopped_servers({"TorchServe": {"server": stopped}}) == {"TorchServe": "TorchServe has stopped (run the cell that starts it again)"}
