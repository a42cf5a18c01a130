"""Model servers on loopback (sidebyside.serving): TorchServe and a TensorFlow Serving REST
server (TensorFlow Serving itself, or KServe), the client side of the measurements, and the
serving dashboard's logic. Lesson 06.

The real-server tests start TorchServe (needs a Java runtime: scripts/install-java) and KServe
(``python -m sidebyside.serving install-kserve``); without them they are skipped, with the reason.
"""

from __future__ import annotations

import contextlib
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

import nbformat
import numpy as np
import pytest
from conftest import ROOT

from sidebyside import serving
from sidebyside.widgets import serving_dashboard as dashboard

LESSON = ROOT / "lessons" / "06-deployment.ipynb"

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


def _described(pids) -> list[str]:
    """Each pid with its command line, so a failure says which process stayed."""
    import psutil

    described = []
    for pid in pids:
        try:
            described.append(f"{pid}: {' '.join(psutil.Process(pid).cmdline())[:200]}")
        except psutil.Error as error:
            described.append(f"{pid}: ({error})")
    return described


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


def test_request_bodies_use_the_row_format_or_the_columnar_one():
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert serving.torch_predict_body(X) == {"instances": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]}
    assert serving.tf_predict_body(X, "serving_default") == {"instances": X.tolist(), "signature_name": "serving_default"}
    assert serving.tf_predict_body(X, columnar=True) == {"inputs": X.tolist()}


# --- TensorFlow Serving's predict API, as the course's KServe predictor answers it (issue 20 §2) ---------


@pytest.fixture(scope="module")
def saved_signatures(tmp_path_factory):
    """A SavedModel with two signatures: one output (``serving_default``) and two (``both``)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(3)])
    module = tf.Module()
    module.model = model

    @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="pixels")])
    def one(pixels):
        return {"probabilities": tf.nn.softmax(module.model(pixels))}

    @tf.function(input_signature=[tf.TensorSpec((None, 4), tf.float32, name="pixels")])
    def both(pixels):
        logits = module.model(pixels)
        return {"probabilities": tf.nn.softmax(logits), "classes": tf.argmax(logits, axis=1)}

    path = tmp_path_factory.mktemp("signatures") / "saved"
    tf.saved_model.save(module, str(path), signatures={"serving_default": one, "both": both})
    X = np.random.default_rng(0).random((3, 4), dtype=np.float32)
    logits = model(X).numpy()
    return serving.tf_serving_server._saved_model_signatures(tf.saved_model.load(str(path))), X, tf.nn.softmax(logits).numpy(), logits.argmax(1)


def test_the_predictor_answers_both_formats_as_tensorflow_serving_does(saved_signatures):
    """TensorFlow Serving's REST API (api_rest.md): row format -> "predictions", columnar -> "outputs";
    one output: its values; several: one object per row (row format) or one object of tensors (columnar)."""
    signatures, X, probabilities, classes = saved_signatures
    rows = serving.tf_serving_predict({"instances": X.tolist()}, signatures)
    assert list(rows) == ["predictions"] and np.allclose(rows["predictions"], probabilities, atol=1e-6), rows
    named_rows = serving.tf_serving_predict({"instances": [{"pixels": row} for row in X.tolist()]}, signatures)
    assert np.allclose(named_rows["predictions"], probabilities, atol=1e-6), named_rows
    columns = serving.tf_serving_predict({"inputs": X.tolist()}, signatures)
    assert list(columns) == ["outputs"] and np.allclose(columns["outputs"], probabilities, atol=1e-6), columns
    named_columns = serving.tf_serving_predict({"inputs": {"pixels": X.tolist()}}, signatures)
    assert np.allclose(named_columns["outputs"], probabilities, atol=1e-6), named_columns
    several = serving.tf_serving_predict({"instances": X.tolist(), "signature_name": "both"}, signatures)
    assert [sorted(row) for row in several["predictions"]] == [["classes", "probabilities"]] * 3, several
    assert [row["classes"] for row in several["predictions"]] == classes.tolist()
    several = serving.tf_serving_predict({"inputs": X.tolist(), "signature_name": "both"}, signatures)
    assert sorted(several["outputs"]) == ["classes", "probabilities"] and several["outputs"]["classes"] == classes.tolist(), several


def test_the_predictor_refuses_what_tensorflow_serving_refuses(saved_signatures):
    """Neither or both formats, an unknown signature: TensorFlow Serving's own words; the rest, the course's."""
    signatures, X, _, _ = saved_signatures
    for body, message in (
        ({"rows": X.tolist()}, "Missing 'inputs' or 'instances' key"),
        ({"instances": X.tolist(), "inputs": X.tolist()}, "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist"),
        ({"instances": X.tolist(), "signature_name": "nope"}, 'Serving signature name: "nope" not found in signature def'),
    ):
        with pytest.raises(serving.PredictError) as caught:
            serving.tf_serving_predict(body, signatures)
        assert str(caught.value) == message
    for body in ({"instances": []}, {"instances": [{"other": [0.0] * 4}]}, {"inputs": {"other": X.tolist()}}, {"instances": [["a"] * 4]}, [1, 2]):
        with pytest.raises(serving.PredictError):
            serving.tf_serving_predict(body, signatures)


def test_the_kserve_stand_in_is_named_for_what_it_is(monkeypatch):
    """Every number measured on KServe is labelled "KServe V1 (TF Serving's REST protocol)", never TensorFlow Serving."""
    stand_in = serving.TFServingServer.__new__(serving.TFServingServer)
    stand_in.backend = "kserve"
    assert stand_in.label == "KServe V1 (TF Serving's REST protocol)"
    stand_in.backend = "tensorflow_model_server"
    assert stand_in.label == "TensorFlow Serving"
    monkeypatch.setattr(serving.tf_serving_server.shutil, "which", lambda name, *args, **kwargs: None)
    monkeypatch.setattr(serving.tf_serving_server, "kserve_site", lambda: Path("/somewhere/site-packages"))
    backend, why = serving.tf_serving_backend()
    assert backend == "kserve" and "stand-in" in why and "V1" in why and "predictor this course wrote" in why, why


def test_version_folder_and_tensorflow_serving_command_lines(tmp_path):
    """TensorFlow Serving reads MODEL_BASE_PATH/VERSION/saved_model.pb; its binary and its Docker image are started so."""
    saved = tmp_path / "saved"
    (saved / "variables").mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"graph")
    base = serving.version_folder(saved, tmp_path / "models" / "digits", version=1)
    assert (base / "1" / "saved_model.pb").read_bytes() == b"graph" and (base / "1" / "variables").is_dir()
    with pytest.raises(serving.ServerError, match="exists already"):
        serving.version_folder(saved, base, version=1)
    lines = serving.tf_serving_command_lines(base, "digits")
    assert lines["tensorflow_model_server"] == ["tensorflow_model_server", "--port=8500", "--rest_api_port=8501", "--model_name=digits",
                                                f"--model_base_path={base.resolve()}"]
    assert lines["docker"] == ["docker", "run", "-t", "--rm", "-p", "8501:8501", "-v", f"{base.resolve()}:/models/digits", "-e", "MODEL_NAME=digits", "tensorflow/serving"]


# --- Lesson 06: what it says and installs (issue 20 §1, §2) ----------------------------------------------


def _lesson_cells():
    return nbformat.read(LESSON, as_version=4).cells


def test_lesson_06_colab_cell_pins_what_the_course_pins():
    """Every package the Colab cell installs is pinned to requirements.txt's version; no apt-key."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    cell = next(c for c in _lesson_cells() if c.id == "l06-colab-extra")
    installed = []
    for line in cell.source.splitlines():
        if "pip install" in line:
            installed += [word for word in line.split("install", 1)[1].split() if not word.startswith("-")]
    assert installed, f"the Colab cell installs nothing?\n{cell.source}"
    unpinned = [word for word in installed if "==" not in word]
    assert not unpinned, f"the Colab cell installs {unpinned} unpinned: pin the versions in requirements.txt"
    wrong = {name: (version, pins.get(name.lower())) for name, version in (word.split("==", 1) for word in installed) if pins.get(name.lower()) != version}
    assert not wrong, f"the Colab cell's pins differ from requirements.txt (Colab pin, requirements pin): {wrong}"
    assert "executorch" in {word.split("==")[0] for word in installed}, "the Colab cell should install ExecuTorch (beside its torch)"
    commands = "\n".join(line for line in cell.source.splitlines() if not line.strip().startswith("#"))
    assert "apt-key" not in commands, "apt-key is deprecated: put the repository's key in a keyring and name it with signed-by"
    assert "signed-by=" in commands and "gpg --dearmor" in commands, commands


def test_lesson_06_names_what_really_runs():
    """The stand-in is labelled as KServe wherever a number is shown; TensorFlow Serving's real command lines,
    the model API before POST /models, and the deprecation notice's date are explained."""
    cells = _lesson_cells()
    text = "\n".join(c.source for c in cells)
    assert "TF Serving REST" not in text, "the KServe stand-in must not be labelled 'TF Serving REST'"
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    for call in ("tf_server.label", "serving.tf_serving_command_lines(", "serving.version_folder("):
        assert call in code, f"lesson 06's code should use {call}"
    assert "tf_server.backend" not in code, "name the TensorFlow server by its label, not its backend's short name"
    markdown = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    for phrase in ("tensorflow_model_server --rest_api_port=8501 --model_name=digits --model_base_path=", "docker run -p 8501:8501",
                   "tensorflow/serving", "digits/1/saved_model.pb", '{"inputs":', '{"outputs":', "KServe V1 (TF Serving's REST protocol)",
                   "0.4.0", "archived", "scheduled for deletion in TF 2.20"):
        assert phrase in markdown, f"lesson 06's text should show {phrase!r}"
    assert markdown.index("enable_model_api=true") < markdown.index("POST /models"), "say that start_torchserve enables the model API before teaching POST /models"


def test_dashboard_rows_carry_the_servers_names_in_full():
    rows = [{"server": "KServe V1 (TF Serving's REST protocol)", "requests": 3, "p50_ms": 1.0, "p99_ms": 2.0, "requests_per_s": 5.0, "rows_per_s": 5.0},
            {"server": "TorchServe", "requests": 3, "p50_ms": 1.0, "p99_ms": 2.0, "requests_per_s": 5.0, "rows_per_s": 5.0}]
    lines = dashboard.results_table(rows).splitlines()
    assert lines[1].startswith("KServe V1 (TF Serving's REST protocol)  "), lines
    assert len({len(line) for line in lines}) == 1, f"the table's columns should line up: {lines}"


RUN_LESSON = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from sidebyside import notebooks
    try:
        run = notebooks.run(Path(sys.argv[1]))
    except Exception as error:  # the first cell that failed
        print("REPORT " + json.dumps({"failed": f"{type(error).__name__}: {error}"[-3000:]}))
        raise SystemExit(0)
    outputs = {c.id: "".join(o.get("text", "") for o in c.get("outputs", [])) for c in run.notebook.cells if c.cell_type == "code"}
    errors = [(c.id, o.get("ename")) for c in run.notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    print("REPORT " + json.dumps({"outputs": outputs, "errors": errors, "executable": sys.executable}))
""")


@pytest.mark.notebook
def test_lesson_06_runs_where_no_server_can_start(tmp_path):
    """Colab: no Java, no KServe, no tensorflow_model_server, and an interpreter whose folder does not
    hold pip's scripts (/usr/bin/python3 beside /usr/local/bin/torch-model-archiver). Every cell runs,
    and each server that cannot start says why in one line, never with a traceback."""
    venv = Path(sys.prefix)
    colab_like = tmp_path / "colab-like"  # the same environment, reached through an interpreter in another folder
    (colab_like / "bin").mkdir(parents=True)
    (colab_like / "bin" / "python3").symlink_to(Path(sys.executable).resolve())
    (colab_like / "pyvenv.cfg").write_text((venv / "pyvenv.cfg").read_text())
    for folder in ("lib", "lib64"):
        if (venv / folder).exists():
            (colab_like / folder).symlink_to(venv / folder, target_is_directory=True)
    env = dict(os.environ, JAVA_HOME=str(tmp_path / "no-java"), SIDEBYSIDE_KSERVE_PREFIX=str(tmp_path / "no-kserve"),
               MPLBACKEND="module://matplotlib_inline.backend_inline")
    # pip's scripts on PATH, but not beside the interpreter (Colab: /usr/local/bin); no tensorflow_model_server
    env["PATH"] = os.pathsep.join([str(colab_like / "bin"), str(venv / "bin")] + [d for d in env.get("PATH", "").split(os.pathsep)
                                                                if d and not (Path(d) / "tensorflow_model_server").exists()])
    env.pop("SIDEBYSIDE_DEVICE", None)
    result = subprocess.run([str(colab_like / "bin" / "python3"), "-c", RUN_LESSON, str(LESSON)], env=env, capture_output=True, text=True, timeout=600)
    line = next((line for line in result.stdout.splitlines() if line.startswith("REPORT ")), None)
    assert line, f"the lesson's runner reported nothing:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    report = json.loads(line[len("REPORT "):])
    assert "failed" not in report, f"a cell of lesson 06 failed where no server can start: {report.get('failed')}"
    assert report["executable"] == str(colab_like / "bin" / "python3"), report["executable"]
    outputs = report["outputs"]
    assert not report["errors"], report["errors"]
    for cell_id, what in (("l06-start-torch", "No Java runtime"), ("l06-start-tf", "No TensorFlow Serving REST server can start here")):
        lines = [line for line in outputs[cell_id].splitlines() if line.startswith("NOT STARTED")]
        assert len(lines) == 1 and what in lines[0], f"{cell_id} should say in one line why its server did not start, got {outputs[cell_id]!r}"
    assert "digits.mar holds" in outputs["l06-handler-torch"], f"the archive should be made wherever torch-model-archiver is installed: {outputs['l06-handler-torch']!r}"
    assert "Traceback" not in "".join(outputs.values())


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


@needs_tf_server
def test_cold_start_is_measured_from_launch_even_when_wait_is_called_late(tmp_path):
    """Lesson 06 runs other sections while its servers start: the cold start is when the server first
    answered (a thread polls from launch), not when the notebook got round to waiting."""
    import keras

    serving.export_keras(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), tmp_path / "saved")
    server = serving.start_tf_serving(tmp_path / "saved", "m", wait=False)
    try:
        deadline = time.monotonic() + 240
        while server.ready_at == float("inf") and time.monotonic() < deadline:
            server.check()
            time.sleep(0.2)
        time.sleep(3)  # the notebook is busy elsewhere
        waited = time.monotonic()
        server.wait()
        assert server.ready_seconds <= waited - server.launched_at - 2.5, (
            f"cold start {server.ready_seconds:.1f} s should end when the server first answered, not at wait() ({waited - server.launched_at:.1f} s)")
    finally:
        server.stop()


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
        "tf_columnar_difference": float(np.abs(np.array(tfs.predict(X, columnar=True)["outputs"]) - tf.nn.softmax(keras_model(X)).numpy()).max()),
        "models": ts.management("/models"),
        "status": tfs.status(),
        "backend": tfs.backend,
        "inputs_answer": tfs.predict(X, columnar=True),
        "label": tfs.label,
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
    assert report["tf_columnar_difference"] < 1e-5, report
    assert list(report["inputs_answer"]) == ["outputs"], f"the columnar format is answered with 'outputs', got {report['inputs_answer']}"
    assert report["label"] == serving.TF_SERVER_LABELS[report["backend"]], report
    assert report["models"] == {"models": [{"modelName": "digits", "modelUrl": "digits.mar"}]}, report["models"]
    assert report["status"], report
    pids = report["pids"]
    assert len(pids) >= 4, f"expected launcher, java and a worker for TorchServe and the TF server, got {pids}"
    assert all(_alive(pid) for pid in pids)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = _wait_all_gone(pids, timeout=45)
    assert not left, f"server processes still running after their parent was killed: {_described(left)}"


@needs_java
def test_torchserve_stop_ends_its_java_front_end_and_workers(tmp_path):
    """Also: TorchServe starts while another program listens on gRPC's default ports (7070 and
    7071, the same for every TorchServe): a second TorchServe, from another notebook, must too."""
    import torch

    serving.export_torch(torch.nn.Linear(4, 2), torch.zeros(2, 4), tmp_path / "m.pt2")
    serving.archive_course_model("m", tmp_path / "m.pt2", tmp_path / "store")
    with contextlib.ExitStack() as held:
        for port in (7070, 7071):
            listener = held.enter_context(socket.socket())
            with contextlib.suppress(OSError):  # already taken: by someone else, which tests the same
                listener.bind((serving.HOST, port))
                listener.listen()
        torchserve = serving.start_torchserve(tmp_path / "store")
    with torchserve:
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
