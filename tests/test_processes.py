"""The one process toolkit (src/sidebyside/_processes.py), on real processes and sockets."""

from __future__ import annotations

import os
import socket
import sys
import time

import psutil

from sidebyside import _processes


def test_ports_free_and_held():
    ports = _processes.free_ports(3)
    assert len(set(ports)) == 3 and all(_processes.port_is_free(p) for p in ports), f"expected 3 distinct free ports, got {ports}"
    with socket.socket() as holder:
        holder.bind((_processes.HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not _processes.port_is_free(port), f"port {port} is held, expected it reported busy"
        assert _processes.listening(port), f"expected something listening on {port}"
        who = _processes.port_holder(port)
        assert f"process {os.getpid()}" in who, f"expected this test's process named as the holder of {port}, got {who!r}"
    assert _processes.port_holder(ports[0]) == "", "a free port has no holder"


def test_started_in_a_session_of_its_own_waited_for_and_stopped_with_its_children(tmp_path):
    """A process that starts a child and ignores SIGTERM: stop_group still ends both (SIGKILL
    after the grace), and wait_until notices a process that died."""
    marker = tmp_path / "child.pid"
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "out.log"
    process = _processes.start_logged([sys.executable, "-c", code], log)
    assert os.getpgid(process.pid) == process.pid, "expected a process group of its own"
    assert _processes.wait_until(lambda: "ready" in log.read_text() and marker.exists(), 30, alive=lambda: process.poll() is None), (
        f"expected the process ready within 30 s; its log: {_processes.log_tail(log)!r}")
    child = psutil.Process(int(marker.read_text()))
    began = time.monotonic()
    _processes.stop_group(process, grace=1)
    assert process.poll() is not None, "expected the process ended"
    gone, alive = psutil.wait_procs([child], timeout=10)
    assert not alive, f"expected its child {child.pid} ended with its group"
    assert time.monotonic() - began < 15, "SIGKILL follows the grace"
    dead = _processes.start_logged([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "dead.log")
    assert not _processes.wait_until(lambda: False, 30, alive=lambda: dead.poll() is None), "a dead process is not waited for"
    assert dead.returncode == 3


def test_a_child_that_outlives_its_leader_is_still_stopped(tmp_path):
    """TorchServe's shape: the leader ends at SIGTERM at once, its child (Java) ignores it and
    lingers. stop_group waits for the whole group, then SIGKILLs what is left."""
    marker = tmp_path / "child.pid"
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {stubborn!r}])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    process = _processes.start_logged([sys.executable, "-c", code], tmp_path / "out.log")
    assert _processes.wait_until(marker.exists, 30, alive=lambda: process.poll() is None), "expected the child started within 30 s"
    child = psutil.Process(int(marker.read_text()))
    time.sleep(0.5)  # the child has set its handler
    _processes.stop_group(process, grace=1)
    gone, alive = psutil.wait_procs([child], timeout=5)
    assert not alive, f"expected the leader's lingering child {child.pid} ended with its group, it is {child.status()}"
    assert not _processes.group_alive(process.pid), "expected nothing left in the group"


def test_stop_tree_terminates_then_kills(tmp_path):
    stubborn = _processes.start_logged([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('x', flush=True); time.sleep(60)"], tmp_path / "s.log")
    polite = _processes.start_logged([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "p.log")
    assert _processes.wait_until(lambda: "x" in (tmp_path / "s.log").read_text(), 30), "the stubborn process should start"
    began = time.monotonic()
    signalled = _processes.stop_tree([stubborn.pid, psutil.Process(polite.pid)], grace=1)
    took = time.monotonic() - began
    assert sorted(signalled) == sorted([stubborn.pid, polite.pid]), f"expected both signalled, got {signalled}"
    left = [p for p in (stubborn.pid, polite.pid) if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not left, f"expected both ended, still running: {left}"
    assert 1 <= took < 10, f"expected the stubborn one killed after the 1 s grace, took {took:.1f} s"
