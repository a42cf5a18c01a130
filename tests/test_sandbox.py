"""The grading sandbox's limits kill what belongs to a student's run, and nothing else.

A kernel's pid reaches the sandbox through a file (a warm kernel is not nbgrader's child). Once
that kernel has ended, its pid can name any new process or thread on the machine; on a busy
machine that happens within seconds, and killing a thread's id kills its whole process (a
JupyterLab kernel, a test worker). These tests need no kernel: plain processes stand in.
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from sidebyside.grading import sandbox

# A bystander: an unrelated process with a second thread; prints that thread's id.
BYSTANDER = """
import threading, time
ready = threading.Event()
def work():
    ready.set()
    time.sleep(120)
threading.Thread(target=work, daemon=True).start()
ready.wait()
print(max(t.native_id for t in threading.enumerate()), flush=True)
time.sleep(120)
"""


@pytest.fixture
def bystanders():
    started = []

    def start():
        process = subprocess.Popen([sys.executable, "-c", BYSTANDER], stdout=subprocess.PIPE, text=True)
        thread_id = int(process.stdout.readline())
        started.append(process)
        return process, thread_id

    yield start
    for process in started:
        process.kill()
        process.wait()


def run_past_the_budget(tmp_path, pid_file, command=None):
    limits = sandbox.Limits(wall_seconds=1, memory_mb=6000, poll_seconds=0.1)
    command = command or [sys.executable, "-c", "import time; time.sleep(60)"]
    return sandbox.run_limited(command, tmp_path, {}, limits, tmp_path / "log", pid_file)


def test_a_kernel_listed_with_its_start_time_is_killed(tmp_path, bystanders):
    kernel, _ = bystanders()
    pid_file = tmp_path / "kernel-pids"
    pid_file.write_text(f"{kernel.pid} {psutil.Process(kernel.pid).create_time()!r}\n")
    status, seconds, _ = run_past_the_budget(tmp_path, pid_file)
    assert status == "timeout" and seconds < 30
    assert kernel.wait(timeout=10) == -9, "the sandbox must kill the kernels it was told of"


def test_a_reused_pid_is_left_alone(tmp_path, bystanders):
    """The pid file names a kernel that has ended; its pid (and a thread's id) now belong to
    unrelated processes started later. Neither may be touched."""
    process, thread_id = bystanders()
    other, _ = bystanders()
    earlier = psutil.Process(process.pid).create_time() - 5.0  # when the listed kernel started
    pid_file = tmp_path / "kernel-pids"
    pid_file.write_text(f"{thread_id} {earlier!r}\n{other.pid} {earlier!r}\n{other.pid}\n")
    status, _, _ = run_past_the_budget(tmp_path, pid_file)
    assert status == "timeout"
    time.sleep(0.5)
    assert process.poll() is None, "a thread whose id was once a kernel's pid: its process was killed"
    assert other.poll() is None, "a process whose pid was once a kernel's pid was killed"


def test_nothing_of_a_finished_run_survives_it(tmp_path):
    """A run that leaves a process behind in its group, then ends: the leftover is killed
    (before the run's own pid is reaped, while its group id still means that run)."""
    leftover = tmp_path / "leftover.pid"
    script = f"import subprocess; p = subprocess.Popen(['sleep', '120']); open({str(leftover)!r}, 'w').write(str(p.pid))"
    limits = sandbox.Limits(wall_seconds=60, memory_mb=6000, poll_seconds=0.1)
    status, _, _ = sandbox.run_limited([sys.executable, "-c", script], tmp_path, {}, limits, tmp_path / "log")
    assert status == "finished"
    sleeper = psutil.Process(int(leftover.read_text()))
    try:
        sleeper.wait(timeout=10)
    except psutil.TimeoutExpired:
        sleeper.kill()
        pytest.fail("a process left behind by the run outlived it")
