"""Real TensorBoard and Visdom servers on loopback (sidebyside.servers), and reading their logs
back (sidebyside.eventfiles). Lesson 03."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sidebyside import eventfiles, servers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def _write_torch_run(logdir: Path, steps=(1, 2, 3)) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(logdir)) as writer:
        for step in steps:
            writer.add_scalar("train/loss", 1.0 / step, step)


def _write_tf_run(logdir: Path, steps=(1, 2, 3)) -> None:
    from sidebyside.frameworks import import_tensorflow

    tf = import_tensorflow()
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for step in steps:
            tf.summary.scalar("train/loss", 1.0 / step, step=step)
    writer.close()


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory) -> Path:
    logdir = tmp_path_factory.mktemp("runs")
    _write_torch_run(logdir / "pytorch")
    _write_tf_run(logdir / "tensorflow")
    return logdir


@pytest.fixture
def visdom_server(tmp_path):
    if servers.missing_visdom_assets():
        pytest.skip("Visdom's web assets are not installed: run scripts/install-visdom-assets")
    with servers.start_visdom(tmp_path / "visdom-env") as server:
        yield server


# --- Ports ----------------------------------------------------------------------------------


def test_free_port_is_free_and_a_listening_port_is_not():
    port = servers.free_port()
    assert servers.port_is_free(port)
    with socket.socket() as listener:
        listener.bind((servers.HOST, 0))
        listener.listen()
        assert not servers.port_is_free(listener.getsockname()[1])


def test_busy_port_gives_a_clear_error(tmp_path):
    with socket.socket() as listener:
        listener.bind((servers.HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(servers.PortInUseError) as caught:
            servers.start_visdom(tmp_path, port=port, require_assets=False)
        message = str(caught.value)
        assert f"port {port}" in message and "already in use" in message
        assert "leave out port=" in message  # says what to do
        with pytest.raises(servers.PortInUseError):
            servers.start_tensorboard(tmp_path, port=port)
    assert servers.running_servers() == []


# --- TensorBoard ----------------------------------------------------------------------------


def test_tensorboard_lists_the_runs_of_both_frameworks(both_runs):
    with servers.start_tensorboard(both_runs) as tensorboard:
        assert tensorboard.running and tensorboard.url.startswith("http://127.0.0.1:")
        assert tensorboard.start_seconds > 0
        # the plain command lesson 03 prints: TensorBoard's own, with the same arguments
        assert tensorboard.command[:3] == ["tensorboard", "--logdir", str(both_runs.resolve())], tensorboard.command
        assert tensorboard.command[tensorboard.command.index("--port") + 1] == str(tensorboard.port)
        assert tensorboard.wait_for_runs(["pytorch", "tensorflow"]) == ["pytorch", "tensorflow"]
        assert tensorboard.scalar_tags() == {"pytorch": ["train/loss"], "tensorflow": ["train/loss"]}
        # Both frameworks' values, through TensorBoard's own HTTP API.
        for run in ("pytorch", "tensorflow"):
            points = tensorboard.get_json(f"/data/plugin/scalars/scalars?run={run}&tag=train/loss")
            assert [step for _, step, _ in points] == [1, 2, 3]
            assert np.allclose([value for *_, value in points], [1.0, 0.5, 1 / 3])
        assert tensorboard.memory_mb() > 10
        pid = tensorboard.pid
    assert not tensorboard.running and _wait_gone(pid)


# --- Visdom ---------------------------------------------------------------------------------


def test_visdom_assets_are_installed_for_offline_use():
    missing = servers.missing_visdom_assets()
    if missing:
        pytest.skip(f"Visdom's web assets are not installed ({len(missing)} missing): run scripts/install-visdom-assets")
    static = servers.visdom_static_dir()
    assert (static / "version.built").read_text().strip() == (static.parent / "VERSION").read_text().strip()
    assert (static / "js" / "plotly-plotly.min.js").stat().st_size > 1_000_000


def test_missing_assets_are_listed(tmp_path):
    missing = servers.missing_visdom_assets(tmp_path)
    assert "js/plotly-plotly.min.js" in missing and len(missing) == len(servers.VISDOM_ASSETS)


def test_visdom_server_receives_a_window(visdom_server):
    vis = visdom_server.client(env="lesson03")
    # The lesson's pattern: draw once, then append one point per step to the same window.
    vis.line(X=np.array([1]), Y=np.array([0.9]), win="loss", name="PyTorch", opts={"title": "loss"})
    for step, loss in [(2, 0.7), (3, 0.5)]:
        vis.line(X=np.array([step]), Y=np.array([loss]), win="loss", name="PyTorch", update="append")
    assert visdom_server.window_ids("lesson03") == ["loss"]
    data = json.loads(vis.get_window_data(win="loss", env="lesson03"))
    trace = data["content"]["data"][0]
    assert trace["x"] == [1, 2, 3] and np.allclose(trace["y"], [0.9, 0.7, 0.5])
    assert visdom_server.memory_mb() > 10 and visdom_server.start_seconds > 0
    assert visdom_server.command[:5] == ["python", "-m", "visdom.server", "-port", str(visdom_server.port)], visdom_server.command


def test_killed_server_gives_a_clear_error(visdom_server):
    os.kill(visdom_server.pid, signal.SIGKILL)
    visdom_server.process.wait(10)
    with pytest.raises(servers.ServerDiedError) as caught:
        visdom_server.client()
    message = str(caught.value)
    assert "not running" in message and "SIGKILL" in message and "Start a new one" in message
    with pytest.raises(servers.ServerDiedError):
        visdom_server.get("/")


def test_server_that_dies_at_start_up_gives_its_output(tmp_path):
    # TensorBoard exits at once on an unknown flag: what it printed must reach us.
    with pytest.raises(servers.ServerDiedError) as caught:
        servers.start_tensorboard(tmp_path, timeout=60, extra_args=["--no_such_flag=1"])
    message = str(caught.value)
    assert "TensorBoard" in message and "exited with code" in message and "no_such_flag" in message
    assert servers.running_servers() == []


def test_offline_log_replays_like_the_server(visdom_server, tmp_path):
    import visdom

    log = tmp_path / "visdom.log"
    offline = visdom.Visdom(offline=True, log_to_filename=str(log), env="replay")
    offline.line(X=np.array([1]), Y=np.array([3.0]), win="loss", name="TensorFlow", opts={"title": "loss"})
    for step in (2, 3):
        offline.line(X=np.array([step]), Y=np.array([3.0 - step]), win="loss", name="TensorFlow", update="append")
    offline.line(X=np.array([2]), Y=np.array([5.0]), win="loss", name="PyTorch", update="append")  # a new trace
    offline.image(np.zeros((1, 8, 8)), win="digit")
    ours = eventfiles.visdom_windows(log)
    assert list(ours) == ["loss", "digit"]
    assert ours["loss"].drawn == 1 and ours["loss"].updates == 3 and ours["loss"].title == "loss"
    assert ours["loss"].trace("TensorFlow") == {"name": "TensorFlow", "x": [1.0, 2.0, 3.0], "y": [3.0, 1.0, 0.0]}
    assert ours["digit"].type == "image"
    # The real server, fed the same log, holds the same traces.
    visdom_server.client(env="replay").replay_log(str(log))
    server_side = json.loads(visdom_server.client().get_window_data(win="loss", env="replay"))["content"]["data"]
    assert [(t["name"], t["x"], t["y"]) for t in server_side] == [(t["name"], t["x"], t["y"]) for t in ours["loss"].traces]


def _visdom_downloads(prepare, tmp_path, monkeypatch) -> tuple[list[str], str]:
    """What ``python -m visdom.server`` (visdom.server.build.download_scripts) would fetch with a
    static/ folder made by ``prepare``, every request refused; and whether it would go on."""
    import urllib.error
    import urllib.request

    import requests
    from visdom.server import build

    install_dir = tmp_path / "visdom-copy"
    prepare(install_dir / "static")
    asked = []

    def refuse_urllib(opener, request, *args, **kwargs):
        asked.append(request.full_url)
        raise urllib.error.URLError("refused by the test")

    def refuse_requests(url, *args, **kwargs):
        asked.append(url)
        raise requests.ConnectionError("refused by the test")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse_urllib)
    monkeypatch.setattr(requests, "get", refuse_requests)
    try:
        build.download_scripts(install_dir=str(install_dir))
    except requests.ConnectionError:
        return asked, "crashes"
    return asked, "starts"


def test_visdom_own_start_downloads_only_what_is_missing(tmp_path, monkeypatch):
    """Lesson 03, section 7: what visdom 0.2.4's own start-up check downloads, and when it crashes."""
    import importlib.metadata
    import shutil

    if servers.missing_visdom_assets():
        pytest.skip("Visdom's web assets are not installed")
    static = servers.visdom_static_dir()

    def as_set_up(folder):
        shutil.copytree(static, folder)

    asked, outcome = _visdom_downloads(as_set_up, tmp_path / "a", monkeypatch)
    assert (asked, outcome) == ([], "starts"), f"with the course's assets and version.built, expected no download; got {asked}, {outcome}"

    def from_pip(folder):
        for file in importlib.metadata.files("visdom"):
            if file.parts[:2] == ("visdom", "static"):
                target = folder.joinpath(*file.parts[2:])
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(file.locate(), target)

    asked, outcome = _visdom_downloads(from_pip, tmp_path / "b", monkeypatch)
    assert outcome == "crashes" and len(asked) > 20 and any("mathjax" in url for url in asked), f"a fresh install offline: {len(asked)} downloads, {outcome}"

    def without_built(folder):
        shutil.copytree(static, folder)
        (folder / "version.built").unlink()

    asked, outcome = _visdom_downloads(without_built, tmp_path / "c", monkeypatch)
    assert outcome == "starts" and len(asked) > 15 and not any("mathjax" in url for url in asked), f"no version.built: {len(asked)} downloads, {outcome}"
    assert (tmp_path / "c" / "visdom-copy" / "static" / "version.built").is_file(), "visdom writes version.built after a check, even a failed one"

    def one_missing(folder):
        shutil.copytree(static, folder)
        (folder / "js" / "plotly-plotly.min.js").unlink()

    asked, outcome = _visdom_downloads(one_missing, tmp_path / "d", monkeypatch)
    assert outcome == "starts" and len(asked) == 1 and "plotly" in asked[0], f"one file missing: {asked}, {outcome}"


def _bytes_on_disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).glob("events.out.tfevents.*"))


def test_torch_writer_flush_rules(tmp_path):
    """Lesson 03, section 1: max_queue does not flush PyTorch's writer; flush() and the timer do."""
    import inspect

    from torch.utils.tensorboard import SummaryWriter

    defaults = inspect.signature(SummaryWriter).parameters
    assert (defaults["max_queue"].default, defaults["flush_secs"].default) == (10, 120)
    writer = SummaryWriter(str(tmp_path / "queue"))
    header = _bytes_on_disk(tmp_path / "queue")
    for step in range(1, 12):  # more than max_queue
        writer.add_scalar("x", float(step), step)
    time.sleep(0.5)
    assert _bytes_on_disk(tmp_path / "queue") == header, "11 scalars (more than max_queue) reached the disk without a flush"
    writer.flush()
    assert _bytes_on_disk(tmp_path / "queue") > header
    writer.close()
    timed = SummaryWriter(str(tmp_path / "timer"), flush_secs=1)
    header = _bytes_on_disk(tmp_path / "timer")
    timed.add_scalar("x", 1.0, 1)
    deadline = time.monotonic() + 10
    while _bytes_on_disk(tmp_path / "timer") == header and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _bytes_on_disk(tmp_path / "timer") > header, "flush_secs=1: the background thread did not flush within 10 s"
    timed.close()


def test_tensorflow_writer_flush_rules(tmp_path):
    """Lesson 03, section 1: TF's writer flushes past max_queue=10 and at the end of as_default();
    flush_millis is checked only when a summary is written (no background timer)."""
    import inspect

    from sidebyside.frameworks import import_tensorflow

    tf = import_tensorflow()
    source = inspect.getsource(tf.summary.create_file_writer)
    assert "max_queue = constant_op.constant(10)" in source and "flush_millis = constant_op.constant(2 * 60 * 1000)" in source
    writer = tf.summary.create_file_writer(str(tmp_path / "queue"))
    header = _bytes_on_disk(tmp_path / "queue")
    with writer.as_default():
        for step in range(1, 11):
            tf.summary.scalar("x", float(step), step=step)
        assert _bytes_on_disk(tmp_path / "queue") == header, "10 summaries reached the disk before the queue was full"
        tf.summary.scalar("x", 11.0, step=11)
        after_eleven = _bytes_on_disk(tmp_path / "queue")
        assert after_eleven > header, "the 11th summary (more than max_queue=10) did not flush"
        tf.summary.scalar("x", 12.0, step=12)
        assert _bytes_on_disk(tmp_path / "queue") == after_eleven
    assert _bytes_on_disk(tmp_path / "queue") > after_eleven, "the end of `with writer.as_default()` did not flush"
    writer.close()
    timed = tf.summary.create_file_writer(str(tmp_path / "timer"), flush_millis=1000)
    with timed.as_default():
        tf.summary.scalar("x", 1.0, step=1)
        timed.flush()
        tf.summary.scalar("x", 2.0, step=2)
        flushed = _bytes_on_disk(tmp_path / "timer")
        time.sleep(1.5)
        assert _bytes_on_disk(tmp_path / "timer") == flushed, "flush_millis: something flushed without a write"
        tf.summary.scalar("x", 3.0, step=3)
        assert _bytes_on_disk(tmp_path / "timer") > flushed, "flush_millis=1000: the first write 1.5 s after the last flush did not flush"
    timed.close()


def test_visdom_or_reason_falls_back_with_a_reason(monkeypatch):
    monkeypatch.setenv(servers.NO_SERVERS_ENV_VAR, "1")
    server, reason = servers.visdom_or_reason()
    assert server is None and servers.NO_SERVERS_ENV_VAR in reason and "matplotlib" in reason


@pytest.mark.browser
def test_visdom_page_shows_a_plot_in_chromium(visdom_server):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (scripts/install-chromium installs it)")
    playwright = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")
    vis = visdom_server.client(env="main")
    vis.line(X=np.arange(1, 6), Y=np.array([5.0, 3, 2, 1.5, 1.2]), win="loss", opts={"title": "loss"})
    outside = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: None if r.url.startswith(visdom_server.url) else outside.append(r.url))
            page.goto(visdom_server.url + "/env/main")
            page.wait_for_selector(".js-plotly-plot .scatterlayer .trace path.js-line", timeout=30_000)
            assert page.locator(".js-plotly-plot").count() == 1
            assert "loss" in page.locator(".js-plotly-plot .gtitle").text_content()
        finally:
            browser.close()
    assert outside == [], f"the page tried to reach the internet: {outside}"


# --- No orphans -----------------------------------------------------------------------------

_CHILD = """
import sys, time
from sidebyside import servers
server = servers.start_visdom(sys.argv[1], require_assets=False)
print(server.pid, flush=True)
if sys.argv[2] == "wait":
    time.sleep(600)
"""


def _start_parent(tmp_path, mode: str) -> tuple[subprocess.Popen, int]:
    parent = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), mode], stdout=subprocess.PIPE, text=True)
    line = parent.stdout.readline()
    assert line.strip().isdigit(), f"the parent did not start a server: {line!r}"
    return parent, int(line)


def test_server_stops_when_python_exits_normally(tmp_path):
    parent, pid = _start_parent(tmp_path, "exit")
    assert parent.wait(30) == 0
    assert _wait_gone(pid), "the server outlived the Python process that started it (atexit)"


def test_server_dies_when_its_parent_is_killed(tmp_path):
    parent, pid = _start_parent(tmp_path, "wait")
    assert _pid_alive(pid)
    parent.kill()  # SIGKILL: no atexit, no cleanup in the parent
    parent.wait(10)
    assert _wait_gone(pid), "the server was orphaned when its parent was killed"


# --- Event files from both frameworks --------------------------------------------------------


def test_the_two_frameworks_store_scalars_differently(both_runs):
    table = {(row["run"], row["tag"]): row for row in eventfiles.storage_table(both_runs)}
    assert table["pytorch", "train/loss"]["storage"] == "simple_value"
    assert table["tensorflow", "train/loss"]["storage"] == "tensor"
    values = eventfiles.scalars(both_runs)
    for run in ("pytorch", "tensorflow"):
        steps, losses = zip(*values[run]["train/loss"])
        assert steps == (1, 2, 3) and np.allclose(losses, [1.0, 0.5, 1 / 3])
    assert eventfiles.tags(both_runs)["tensorflow"] == {"scalars": ["train/loss"]}


def test_histograms_and_images_decode_alike(tmp_path):
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from sidebyside.frameworks import import_tensorflow

    tf = import_tensorflow()
    values = np.linspace(-1, 1, 50, dtype=np.float32)
    image = np.tile(np.linspace(0, 1, 8, dtype=np.float32), (8, 1))
    with SummaryWriter(str(tmp_path / "pytorch")) as writer:
        writer.add_histogram("w", torch.from_numpy(values), 2)
        writer.add_image("img", torch.from_numpy(image), 2, dataformats="HW")
    tf_writer = tf.summary.create_file_writer(str(tmp_path / "tensorflow"))
    with tf_writer.as_default():
        tf.summary.histogram("w", values, step=2)
        tf.summary.image("img", image[None, :, :, None], step=2)
    tf_writer.close()
    found = {(r.run, r.tag): r for r in eventfiles.records(tmp_path)}
    for run in ("pytorch", "tensorflow"):
        edges, counts = found[run, "w"].value
        assert counts.sum() == 50 and edges[0] <= -1 and edges[-1] >= 1
        pixels = found[run, "img"].value
        assert pixels.shape[:2] == (8, 8) and pixels.dtype == np.uint8
        assert np.allclose(pixels[..., 0], np.round(image * 255), atol=1)
    assert found["pytorch", "img"].storage == "image" and found["tensorflow", "img"].storage == "tensor"


def test_unflushed_torch_writer_leaves_nothing_to_read(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path))
    writer.add_scalar("loss", 1.0, 1)
    assert eventfiles.scalars(tmp_path) == {}
    writer.flush()
    assert eventfiles.scalars(tmp_path) == {".": {"loss": [(1, 1.0)]}}
    writer.close()


def test_install_script_is_fast_when_assets_are_present():
    if servers.missing_visdom_assets():
        pytest.skip("Visdom's web assets are not installed")
    root = Path(__file__).resolve().parents[1]
    start = time.monotonic()
    result = subprocess.run([str(root / "scripts" / "install-visdom-assets"), sys.executable], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "already installed" in result.stdout
    assert time.monotonic() - start < 5
