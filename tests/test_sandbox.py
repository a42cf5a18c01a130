"""The grading sandbox, attacked, in each isolation mode this machine supports.

Modes (sidebyside.instructor.grading.sandbox): ``root`` when the tests run as root; ``user`` (bubblewrap
through unprivileged user namespaces) when they run as an ordinary user, or, as root, for a
test user (uid 62000, made by ``setpriv`` inside a root bubblewrap that shows it the
interpreter, which may live in root's closed home). A mode the machine cannot give is skipped
with the reason.

- In a worker's sandbox a kernel has no capability and ``no_new_privs``, cannot unmount or
  remount what hides the solutions (not even from a nested user namespace), sees no other
  student's files nor the grader's socket, reaches no network outside its own loopback, cannot
  trace its server; what it leaves (files in ``/tmp`` and ``/dev/shm``, a daemon) is gone
  before the next kernel.
- A whole class graded by ``sidebyside grade`` (tests/fixtures/grading/attacks.py): a fork
  bomb and a memory burst are stopped and the student's result says so; unmounting, reading
  another submission, the network and leftovers of an earlier student earn nothing; the
  honest student graded after them, in the same sandboxes, gets full marks.
- The limits' own mechanics, without kernels: the wall clock and the memory poll kill the
  whole tree, a cgroup's memory cap stops one burst, its pids cap stops a fork bomb.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import ROOT

from sidebyside.instructor.grading import limits, sandbox, student
from sidebyside.instructor.grading.results import Isolation, Status

sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))
import attacks  # noqa: E402
import tiny_class  # noqa: E402

TEST_UID = 62000


# --- running as the test user -----------------------------------------------------------------


def as_test_user(command: list[str], home: Path) -> list[str]:
    """``command`` run by the test user (root only): a root bubblewrap shows it the interpreter
    (a closed home such as /root is replaced, the interpreter bound back), then setpriv."""
    needed = sandbox.needed_paths()
    args = ["bwrap", "--dev-bind", "/", "/", "--die-with-parent"]
    for folder in sandbox.private_folders(Isolation.ROOT, needed):
        args += ["--perms", "0755", "--tmpfs", str(folder), *sandbox._bind_back(folder, needed)]
    args += ["--setenv", "HOME", str(home), "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin", "--"]
    return args + ["setpriv", f"--reuid={TEST_UID}", f"--regid={TEST_UID}", "--clear-groups", "--bounding-set=-all", "--inh-caps=-all", "--", *command]


def shared_folder() -> Path:
    """A folder the test user owns (pytest's own folders are closed to other users), outside
    /tmp: a sandbox has a /tmp of its own, so what is hidden there must be hidden by a mount."""
    folder = Path(tempfile.mkdtemp(prefix="sbs-test-", dir="/var/tmp" if os.access("/var/tmp", os.W_OK) else None))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(folder, TEST_UID, TEST_UID)
    return folder


def run_python(mode: str, code: str, args: dict, folder: Path, timeout: float) -> dict:
    """Run ``code`` (reads JSON ``sys.argv[1]``, writes JSON to ``sys.argv[2]``) in ``mode``."""
    out = folder / "result.json"
    command = [sys.executable, "-c", code, json.dumps(args), str(out)]
    if mode == "user" and os.geteuid() == 0:
        home = folder / "home"  # the test user's home: its sandboxes hide it whole
        home.mkdir(exist_ok=True)
        os.chown(home, TEST_UID, TEST_UID)
        command = as_test_user(command, home)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=folder)
    assert done.returncode == 0 and out.is_file(), f"the {mode} run failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return json.loads(out.read_text())


MODE_CHECK = "import json, sys; from sidebyside.instructor.grading import sandbox; json.dump(sandbox.available(), open(sys.argv[2], 'w'))"


def modes() -> list:
    return [pytest.param("root", id="root"), pytest.param("user", id="user")]


def require(mode: str) -> None:
    """Skip unless this machine gives ``mode``."""
    if mode == "root":
        if os.geteuid() != 0:
            pytest.skip("root mode needs the tests to run as root")
        got, why = sandbox.available()
    else:
        folder = shared_folder()
        try:
            got, why = run_python("user", MODE_CHECK, {}, folder, 300)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if got != mode:
        pytest.skip(f"isolation {mode!r} is not available here: {why or got}")


class Service:
    """A TCP service on the grader's machine, on every address: what the network attacks want."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.server = socket.create_server(("0.0.0.0", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.sendall(self.payload)

    @staticmethod
    def hosts() -> list[str]:
        """This machine's own addresses (not loopback), then 127.0.0.1."""
        found = [a.address for addrs in psutil.net_if_addrs().values() for a in addrs if a.family == socket.AF_INET and not a.address.startswith("127.")]
        return [*found[:2], "127.0.0.1"]

    def close(self):
        self.server.close()


# --- a worker's sandbox, probed from its kernels -----------------------------------------------

PROBE = r'''
import json, os, sys, time
from pathlib import Path
import nbformat, psutil
from nbclient import NotebookClient
from traitlets.config import Config
from sidebyside.instructor.grading import execute, limits, sandbox, student

args, out = json.loads(sys.argv[1]), sys.argv[2]
mode, why = sandbox.available()
base = Path(args["base"])
lim = limits.Limits(threads=1, memory_mb=3000, processes=300)
cgroup, _ = limits.Cgroup.create(f"sbs-probe-{os.getpid()}")
box = sandbox.Sandbox(0, mode, base=base, hide=args["hide"], limits=lim, env=student.grading_env(lim), log=base / "server.log", cgroup=cgroup)
result = {"mode": mode.value, "why": why, "cgroup": cgroup is not None, "kernels": []}
try:
    box.start()
    assert box.wait_ready(), box.server.error
    result["server_socket"] = box.address
    for cells in args["kernels"]:
        kernel_input = box.prepare()
        (kernel_input / "data.txt").write_text("input file")
        config = Config()
        config.GradingKernelManager.kernel_server = box.address
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(box.exchange / "kernel")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        NotebookClient(nb, timeout=180, kernel_manager_class=execute.GradingKernelManager, config=config, allow_errors=True,
                       resources={"metadata": {"path": str(kernel_input)}}).execute()
        texts = []
        for cell in nb.cells:
            texts.append("".join(o.get("text", "") if o.output_type == "stream" else f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs if o.output_type in ("stream", "error")).strip())
        left = box.student_processes()
        result["kernels"].append({"outputs": texts, "left_after_kernel": [p.pid for p in left]})
        box.sweep()
        result["kernels"][-1]["left_after_sweep"] = [p.pid for p in box.student_processes()]
    result["server_alive"] = box.running()
finally:
    box.stop()
    if cgroup is not None:
        cgroup.remove()
json.dump(result, open(out, "w"))
'''

# Each cell prints one JSON value.
IDENTITY = (
    "import json, os\n"
    "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
    "print(json.dumps({'uid': os.getuid(), 'cwd': os.getcwd(), 'files': sorted(os.listdir('.')),"
    " **{k: status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs')}}))"
)
HIDDEN = "print(json.dumps({'folder': os.listdir({folder!r}), 'file': open({file!r}).read()}))"
UNMOUNT = (
    "import subprocess\n"
    "tries = [['umount', '-l', {folder!r}], ['mount', '-o', 'remount,rw', {folder!r}], ['mount', '-t', 'tmpfs', 'x', {folder!r}],\n"
    "         ['unshare', '-Urm', 'sh', '-c', 'umount -l {folder} && ls -A {folder}']]\n"
    "runs = [subprocess.run(t, capture_output=True, text=True) for t in tries]\n"
    "print(json.dumps({{'codes': [r.returncode for r in runs], 'unshare_saw': runs[-1].stdout.split(), 'after': os.listdir({folder!r})}}))"
)
NETWORK = (
    "import socket\n"
    "def reach(host):\n"
    "    try:\n"
    "        with socket.create_connection((host, {port}), timeout=5) as c:\n"
    "            return c.recv(100).decode()\n"
    "    except OSError as error:\n"
    "        return f'{{type(error).__name__}} {{error.errno}}'\n"
    "server = socket.create_server(('127.0.0.1', 0))\n"
    "with socket.create_connection(server.getsockname(), timeout=5) as mine:\n"
    "    peer, _ = server.accept(); peer.sendall(b'own loopback'); own = mine.recv(100).decode()\n"
    "print(json.dumps({{'hosts': {{h: reach(h) for h in {hosts!r}}}, 'own': own}}))"
)
SERVER = (
    "def tried(path):\n"
    "    try:\n"
    "        open(path, 'rb').read(10)\n"
    "        return 'read'\n"
    "    except OSError as error:\n"
    "        return type(error).__name__\n"
    "server = os.getppid()\n"
    "print(json.dumps({{'socket': os.path.exists({socket!r}), 'mem': tried(f'/proc/{{server}}/mem'), 'environ': tried(f'/proc/{{server}}/environ'),"
    " 'processes': len([p for p in os.listdir('/proc') if p.isdigit()])}}))"
)
PLANT = (
    "import subprocess\n"
    "for path in ('/tmp/planted', '/dev/shm/planted', 'planted'):\n"
    "    open(path, 'w').write('left by an earlier kernel')\n"
    "daemon = subprocess.Popen(['setsid', 'sh', '-c', 'sleep 1000 & echo $!'], stdout=subprocess.PIPE, text=True)\n"
    "print(json.dumps({'daemon': int(daemon.stdout.readline())}))"
)
LOOK = "print(json.dumps({'tmp': sorted(os.listdir('/tmp')), 'shm': os.listdir('/dev/shm'), 'work': sorted(os.listdir('.'))}))"


@pytest.mark.nbgrader
@pytest.mark.parametrize("mode", modes())
def test_a_kernel_cannot_leave_its_sandbox(mode):
    require(mode)
    folder = shared_folder()
    hidden = folder / "solutions"
    hidden.mkdir()
    (hidden / "secret.ipynb").write_text("the solution")
    secret_file = folder / "gradebook.db"
    secret_file.write_text("grades")
    base = folder / "sandboxes"
    base.mkdir()
    if os.geteuid() == 0 and mode == "user":
        os.chown(base, TEST_UID, TEST_UID)
    service = Service(b"the host's secret")
    try:
        kernels = [
            [IDENTITY, HIDDEN.replace("{folder!r}", repr(str(hidden))).replace("{file!r}", repr(str(secret_file))),
             UNMOUNT.format(folder=str(hidden)), NETWORK.format(port=service.port, hosts=Service.hosts()),
             SERVER.format(socket="SOCKET"), PLANT],
            [IDENTITY, LOOK],
        ]
        # the server's socket path is known only once it runs: the probe substitutes it
        probe = PROBE.replace("nb = nbformat", "cells = [c.replace('SOCKET', box.address) for c in cells]\n        nb = nbformat")
        result = run_python(mode, probe, {"base": str(base), "hide": [str(hidden), str(secret_file)], "kernels": kernels}, folder, 900)
    finally:
        service.close()
        shutil.rmtree(folder, ignore_errors=True)
    assert result["mode"] == mode, f"expected the {mode} mode, got {result['mode']} ({result['why']})"
    first, second = (json_outputs(k) for k in result["kernels"])
    identity = first[0]
    caps = {k: identity[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    assert set(caps.values()) == {"0000000000000000"} and identity["NoNewPrivs"] == "1", f"expected no capability and no_new_privs, got {identity}"
    assert identity["cwd"] == "/tmp/work" and identity["files"] == [".home", "data.txt"], f"expected a fresh /tmp/work with the input file, got {identity}"
    if mode == "root":
        assert identity["uid"] == sandbox.UID_BASE, f"expected the worker's own user id {sandbox.UID_BASE}, got {identity['uid']}"
    assert first[1] == {"folder": [], "file": ""}, f"expected the hidden folder empty and the hidden file blank, got {first[1]}"
    unmount = first[2]
    assert all(code != 0 for code in unmount["codes"]), f"every unmount, remount and mount should fail, got {unmount}"
    assert unmount["after"] == [] and unmount["unshare_saw"] == [], f"the solutions must stay hidden, got {unmount}"
    network = first[3]
    assert network["own"] == "own loopback", f"the kernel's own loopback should work (05-parallelism needs it), got {network}"
    assert not any("secret" in answer for answer in network["hosts"].values()), f"the grader's machine must be out of reach, got {network['hosts']}"
    server = first[4]
    assert server["socket"] is False, f"the kernel server's socket must be out of the kernel's sight, got {server}"
    assert server["mem"] != "read" and server["environ"] != "read", f"the kernel must not read its server's memory or environment, got {server}"
    assert server["processes"] < 10, f"the kernel should see only its sandbox's processes, got {server['processes']}"
    assert result["kernels"][0]["left_after_kernel"], "the daemon the first kernel started should still run when its kernel ends (then be swept)"
    assert result["kernels"][0]["left_after_sweep"] == [], f"the sweep should leave nothing, got {result['kernels'][0]['left_after_sweep']}"
    look = second[1]
    # a checkout under /tmp (a clone in /tmp/ci, say) is bound back read-only: its mount point's top folder shows
    bound_back = {p.relative_to("/tmp").parts[0] for p in sandbox.needed_paths() if p.is_relative_to("/tmp") and p != Path("/tmp")}
    expected_tmp = sorted({".connection.json", ".exchange", "work"} | bound_back)
    assert look == {"tmp": expected_tmp, "shm": [], "work": [".home", "data.txt"]}, (
        f"the next kernel should find nothing the earlier one left, got {look}"
    )
    assert result["server_alive"], "the kernel server should survive its kernels"


def json_outputs(kernel: dict) -> list:
    values = []
    for text in kernel["outputs"]:
        try:
            values.append(json.loads(text.splitlines()[-1]) if text else None)
        except ValueError:
            values.append(text)
    return values


# --- a whole class of attacks, through `sidebyside grade` ---------------------------------------

GRADE = r'''
import json, sys
from pathlib import Path
from sidebyside.instructor.grading import run
from sidebyside.instructor.grading.limits import Limits
args, out = json.loads(sys.argv[1]), sys.argv[2]
limits = Limits(wall_seconds=900, memory_mb=args["memory_mb"], processes=args["processes"])
result = run.grade(run.Options(root=Path(args["course"]), assignment=args["assignment"], workers=2, progress=False, feedback=False, limits=limits))
json.dump(result.as_dict(), open(out, "w"), default=str)
'''
MEMORY_MB, PROCESSES = 2500, 300


@pytest.mark.nbgrader
@pytest.mark.parametrize("mode", modes())
def test_attacks_fail_and_say_why_and_spare_the_others(mode):
    require(mode)
    a = attacks.ASSIGNMENT
    folder = shared_folder()
    course = tiny_class.make_course(folder / "class")
    service = Service(attacks.answers_json(course / "solutions" / a / f"{a}.ipynb"))
    try:
        attacked = attacks.build(course, course / "solutions" / a / f"{a}.ipynb", tiny_class.release_path(),
                                 memory_mb=MEMORY_MB, port=service.port, hosts=Service.hosts())
        if os.geteuid() == 0 and mode == "user":
            subprocess.run(["chown", "-R", f"{TEST_UID}:{TEST_UID}", str(course)], check=True)
        args = {"course": str(course), "assignment": a, "memory_mb": MEMORY_MB, "processes": PROCESSES}
        result = run_python(mode, GRADE, args, folder, 2400)
    finally:
        service.close()
        for path in attacks.PLANTED:  # in case a kernel was unconfined after all
            Path(path).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    assert result["isolation"] == mode, f"expected the {mode} mode, got {result['isolation']}: {result['isolation_note']}"
    students = {s["student"]: s for s in result["students"]}
    for name, s in sorted(students.items()):  # shown with -s, and kept in the output of a failure
        print(f"{mode}: {name}: {s['score']:g}/{s['max_score']:g} {s['status']} {sorted({f['code'] for f in s['findings']})}")
    print(f"{mode}: limits: {result['limits_note']}")
    assert sorted(students) == sorted(attacked), f"expected every student graded, got {sorted(students)}: {result['notes']}"

    def tests_of(name):
        return {cell: score for nb in students[name]["outcome"]["scores"].values() for cell, score in nb.items() if cell.startswith("test_")}

    def codes(name):
        return {f["code"] for f in students[name]["findings"]}

    honest = students[attacks.HONEST]
    lost = {cell: score for cell, score in tests_of(attacks.HONEST).items() if not score}
    assert honest["status"] == Status.GRADED and not lost and not honest["findings"], (
        f"the honest student, graded after the attacks in the same sandboxes, should get full marks and no finding, "
        f"got {honest['status']}, lost {lost}, findings {honest['findings']}"
    )
    burst = students[attacks.BURST]
    assert burst["status"] == Status.MEMORY and "memory" in codes(attacks.BURST), f"the memory burst should stop at the cap and say so, got {burst['status']}: {burst['findings']}"
    bomb = students[attacks.BOMB]
    assert "processes" in codes(attacks.BOMB), f"the fork bomb should meet the process cap and say so, got {bomb['status']}: {bomb['findings']}"
    intruder = tests_of(attacks.INTRUDER)
    gained = {cell: intruder[f"test_{cell}"] for cell in attacked[attacks.INTRUDER] if intruder.get(f"test_{cell}")}
    assert not gained, f"every attack of the intruder should fail and score 0, these earned points: {gained}"
    kept = [cell for cell, score in intruder.items() if score and cell[len("test_"):] not in attacked[attacks.INTRUDER]]
    assert kept, f"the intruder's honest answers should keep their points, got {intruder}"
    assert "suspicious" in codes(attacks.INTRUDER), f"the intruder's code should be flagged for review, got {students[attacks.INTRUDER]['findings']}"
    limits_note = result["limits_note"]
    if mode == "root":
        assert "cgroup" in limits_note, f"as root the kernel should enforce the limits through cgroups, got {limits_note!r}"
    else:
        assert "cgroup" in limits_note or "POLLING" in limits_note, f"the report should name what enforced the limits, got {limits_note!r}"


# --- the limits' mechanics, without kernels -----------------------------------------------------


class NoSandbox:
    """Stands in for a worker's sandbox in run_watched (no kernel server, maybe a cgroup)."""

    def __init__(self, cgroup=None):
        self.cgroup, self.memory_baseline = cgroup, 0

    def student_processes(self):
        return []

    def sweep(self):
        pass


def test_the_wall_clock_and_the_memory_poll_kill_the_whole_tree(tmp_path):
    leftover = tmp_path / "leftover.pid"
    sleeper = f"import subprocess, time; p = subprocess.Popen(['sleep', '120']); open({str(leftover)!r}, 'w').write(str(p.pid)); time.sleep(120)"
    quick = limits.Limits(wall_seconds=3, memory_mb=6000, poll_seconds=0.1)
    status, seconds, _, _ = student.run_watched([sys.executable, "-c", sleeper], tmp_path, dict(os.environ), quick, tmp_path / "log", NoSandbox())
    assert status == Status.TIMEOUT and seconds < 30, f"expected a timeout within 30 s, got {status} after {seconds:.0f} s"
    child = psutil.Process(int(leftover.read_text()))
    try:
        child.wait(timeout=10)
    except psutil.TimeoutExpired:
        pytest.fail(f"the run's child {child} should be killed with it")
    hog = "import time; block = bytearray(b'x') * (400 * 2**20); time.sleep(60)"
    capped = limits.Limits(wall_seconds=120, memory_mb=200, poll_seconds=0.1)
    status, seconds, peak, found = student.run_watched([sys.executable, "-c", hog], tmp_path, dict(os.environ), capped, tmp_path / "log", NoSandbox())
    assert status == Status.MEMORY and seconds < 60, f"expected the memory poll to stop it, got {status} after {seconds:.0f} s (peak {peak:.0f} MB)"
    assert [f.code for f in found] == ["memory"] and "polling" in found[0].message, f"expected a finding naming the polling, got {found}"


class TaggedSandbox(NoSandbox):
    """A stand-in whose student's processes are those whose command line holds ``tag``."""

    def __init__(self, tag):
        super().__init__()
        self.tag = tag

    def student_processes(self):
        return [p for p in psutil.process_iter(["cmdline"]) if p.pid != os.getpid() and any(self.tag in part for part in p.info["cmdline"] or [])]

    def sweep(self):
        for process in self.student_processes():
            process.kill()


def test_a_fork_bomb_left_behind_is_watched_up_to_its_cap(tmp_path):
    """The run ends just after starting the bomb: what it left is watched until the cap, not
    looked at once (CI at 94531a1 saw a bomb in its first milliseconds and missed it)."""
    tag = f"sbs-late-bomb-{os.getpid()}-{time.monotonic_ns()}"
    bomb = (
        f"# {tag}\nimport os, time\n"
        "if os.fork() == 0:\n"
        "    time.sleep(0.2)\n"
        "    for _ in range(40):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60); os._exit(0)\n"
        "        time.sleep(0.002)\n"
        "    time.sleep(60)\n"
    )
    sandbox = TaggedSandbox(tag)
    capped = limits.Limits(wall_seconds=60, memory_mb=6000, processes=40, poll_seconds=0.1)
    try:
        status, _, _, found = student.run_watched([sys.executable, "-c", bomb], tmp_path, dict(os.environ), capped, tmp_path / "log", sandbox)
        assert "processes" in [f.code for f in found], f"expected a finding naming the process cap, got {status}: {found}"
        left = sandbox.student_processes()
        assert not left, f"nothing of the bomb should outlive the run, found {len(left)} processes"
    finally:
        sandbox.sweep()


def test_the_process_cap_is_seen_by_the_user_ids_count_not_only_the_students(tmp_path):
    """RLIMIT_NPROC counts every task of the user id: in the "user" mode the grader's and the
    other workers' count too, so a bomb may sit at the cap with fewer than 90% of
    ``limits.processes`` of its own (CI at 94531a1 and a full run at 40da54c missed one so)."""
    import resource

    from sidebyside.instructor.grading.student import _at_process_cap
    from sidebyside.instructor.grading.warm_start import uid_tasks

    def limited(extra):
        def set_limit():
            hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            wanted = uid_tasks(os.getuid()) + extra
            resource.setrlimit(resource.RLIMIT_NPROC, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=set_limit)

    at_cap, roomy = limited(3), limited(10_000)
    try:
        few = limits.Limits(processes=2)  # this student's own count (1) is far from 90% of any real cap
        assert _at_process_cap([psutil.Process(at_cap.pid)], few), "a user id at its RLIMIT_NPROC should be seen at the cap"
        assert not _at_process_cap([psutil.Process(roomy.pid)], few), "a user id far from its RLIMIT_NPROC is not at the cap"
    finally:
        for child in (at_cap, roomy):
            child.kill()
            child.wait()


def cgroup_or_skip():
    group, why = limits.Cgroup.create(f"sbs-test-{os.getpid()}-{time.monotonic_ns()}")
    if group is None:
        pytest.skip(f"no cgroup this user may write here: {why}")
    return group


def test_a_cgroup_stops_one_burst_and_a_fork_bomb(tmp_path):
    group = cgroup_or_skip()
    try:
        group.set_limits(300 * 2**20, 40)
        burst = "import time; block = bytearray(b'x') * (800 * 2**20); time.sleep(60)"
        capped = limits.Limits(wall_seconds=120, memory_mb=300, processes=40, poll_seconds=0.1)
        status, seconds, _, found = student.run_watched([sys.executable, "-c", burst], tmp_path, dict(os.environ), capped, tmp_path / "log", NoSandbox(group))
        assert status == Status.MEMORY and seconds < 30, f"the kernel's OOM killer should stop the burst at once, got {status} after {seconds:.0f} s"
        assert [f.code for f in found] == ["memory"] and "cgroup" in found[0].message, f"expected a finding naming the memory cgroup, got {found}"
        bomb = (
            "import os, time\n"
            "refused = 0\n"
            "for _ in range(200):\n"
            "    try:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(30); os._exit(0)\n"
            "    except OSError:\n"
            "        refused += 1\n"
            "print('refused', refused, flush=True)\n"
        )
        status, _, _, found = student.run_watched([sys.executable, "-c", bomb], tmp_path, dict(os.environ), capped, tmp_path / "log", NoSandbox(group))
        log = (tmp_path / "log").read_text()
        assert "refused" in log and "refused 0" not in log, f"the pids cap should refuse forks, got: {log[-500:]}"
        assert "processes" in [f.code for f in found], f"expected a finding naming the process cap, got {found}"
        deadline = time.monotonic() + 10
        while group.tasks() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert group.tasks() == 0, f"nothing should be left in the cgroup, found {group.tasks()} tasks"
    finally:
        group.remove()


def test_cgroup_v2_files(tmp_path):
    """The cgroup v2 side, on a stand-in folder (this machine may have only v1)."""
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    (tmp_path / "pids.events").write_text("max 5\n")
    (tmp_path / "memory.current").write_text("1048576\n")
    (tmp_path / "pids.current").write_text("7\n")
    group = limits.Cgroup(2, tmp_path, tmp_path)
    group.set_limits(512 * 2**20, 100)
    assert (tmp_path / "memory.max").read_text() == str(512 * 2**20) and (tmp_path / "pids.max").read_text() == "100"
    assert (group.oom_kills(), group.refused_tasks(), group.memory_bytes(), group.tasks()) == (2, 5, 2**20, 7)
    assert group.procs_files == [str(tmp_path / "cgroup.procs")]
