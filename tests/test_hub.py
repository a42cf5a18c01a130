"""The class hub on this machine (sidebyside.instructor.hub, `make hub`), started for real by tests/hub_class.py.

One hub for the module: the instructor's server and two students' servers are started through
the hub's API; the instructor releases an assignment and a student submits it with nbgrader's
own commands, so the exchange holds a real submission. Then a student tries, from a kernel on
their own server, to reach what is not theirs; each attempt must fail, and the test prints
the error it got. The hub and PostgreSQL are restarted mid-way and nothing is lost. The hub's
start time and each student server's memory are printed and recorded (record_property).
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest
from hub_class import class_hub  # noqa: F401 - the fixture

from sidebyside.instructor.hub import exchange

ASSIGNMENT = "01-learning-curve"


def http(url: str, token: str | None = None, method: str = "GET", body: dict | None = None) -> tuple[int, str, str]:
    """(status, Location header, body) of one request, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    headers = {"Authorization": f"token {token}"} if token else {}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=60) as reply:
            return reply.status, reply.headers.get("Location", ""), reply.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode(errors="replace")


@pytest.fixture(scope="module")
def hub(class_hub):  # noqa: F811 - the fixture
    return class_hub


SERVERS = 3  # the instructor's and two students' (the third student only logs in)


@pytest.fixture(scope="module")
def requested(hub):
    """Ask the hub for the instructor's and two students' servers, without waiting: they start
    while the first tests run (two shared cores make each take tens of seconds)."""
    from sidebyside.instructor.hub import api

    users = [login.name for login in hub.logins[:SERVERS]]
    for user in users:
        api.request_server(hub.settings, user)
    return users, time.monotonic()


@pytest.fixture(scope="module")
def servers(hub, requested):
    """{user: seconds from the request until the server was ready}."""
    from sidebyside.instructor.hub import api

    users, began = requested
    seconds = {}
    for user in users:
        api.wait_ready(hub.settings, user)
        seconds[user] = time.monotonic() - began
    return seconds


@pytest.fixture(scope="module")
def tokens(hub, servers):
    return {login.name: hub.user_token(login) for login in hub.logins}


def nbgrader(hub, user, *args, cwd=None):
    result = hub.run_as(user, "nbgrader", *args, cwd=cwd)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} as {user} should succeed, got exit {result.returncode}:\n{result.stdout[-1500:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def submitted(hub, requested):
    """The instructor generates and releases ASSIGNMENT; student 2 fetches and submits it."""
    nbgrader(hub, hub.instructor, "generate_assignment", ASSIGNMENT, "--force", cwd=hub.course_dir)
    nbgrader(hub, hub.instructor, "release_assignment", ASSIGNMENT, "--force", cwd=hub.course_dir)
    student = hub.students[1]
    nbgrader(hub, student, "fetch_assignment", ASSIGNMENT)
    nbgrader(hub, student, "submit", ASSIGNMENT)
    secret, home = hub.home(student) / "private-notes.txt", hub.home(student).stat()
    secret.write_text("student 2's own notes\n")
    os.chown(secret, home.st_uid, home.st_gid)
    os.chmod(secret, 0o600)
    inbound = hub.exchange / hub.settings.course_id / "inbound"
    found = sorted(p.name for p in inbound.iterdir())
    assert len(found) == 1 and found[0].startswith(f"{student.name}+{ASSIGNMENT}+"), f"one submission of {student.name} in {inbound}, got {found}"
    return inbound / found[0]


def test_hub_listens_on_loopback_only(hub, requested, record_property):
    status, _, body = http(f"{hub.url}/hub/health")
    assert status == 200, f"/hub/health through the proxy should answer 200, got {status}: {body[:200]}"
    listening = []
    for name in ("proxy", "hub"):
        process = psutil.Process(int((hub.settings.state_dir / f"{name}.pid").read_text()))
        listening += [(name, conn.laddr.ip, conn.laddr.port) for conn in process.net_connections("tcp") if conn.status == psutil.CONN_LISTEN]
    print("listening:", listening)
    ports = {hub.settings.port, hub.settings.proxy_api_port, hub.settings.hub_port}
    assert {port for _, _, port in listening} == ports, f"the proxy and the hub should listen on {sorted(ports)}, got {listening}"
    assert all(ip == "127.0.0.1" for _, ip, _ in listening), f"every listening socket should be on 127.0.0.1, got {listening}"
    record_property("hub_start_seconds", round(hub.hub_start_seconds, 2))
    record_property("hub_whole_start_seconds", round(hub.total_start_seconds, 2))
    print(f"hub start (cold, launch to /hub/health): {hub.hub_start_seconds:.1f} s; whole start (users, exchange, PostgreSQL, proxy, hub): {hub.total_start_seconds:.1f} s")


def test_login_with_unix_password(hub):
    """PAM: a student logs in with the password made for them; a wrong one is refused."""
    import requests

    student = hub.students[2]
    for password, want in ((student.password, 302), (student.password + "x", 403)):
        with requests.Session() as session:
            session.get(f"{hub.url}/hub/login", timeout=30)
            reply = session.post(
                f"{hub.url}/hub/login",
                data={"username": student.name, "password": password, "_xsrf": session.cookies.get("_xsrf", "")},
                allow_redirects=False,
                timeout=60,
            )
        assert reply.status_code == want, f"login of {student.name} with {'its' if want == 302 else 'a wrong'} password should give {want}, got {reply.status_code}"


def test_modes_of_the_exchange_homes_and_secrets(hub, submitted):
    """nbgrader's own modes on the exchange after a real release and submission; homes and the
    instructor's course private; the hub's secrets root-only."""
    modes = {
        hub.exchange: 0o1777,
        hub.exchange / hub.settings.course_id: 0o755,
        hub.exchange / hub.settings.course_id / "outbound": 0o755,
        hub.exchange / hub.settings.course_id / "inbound": 0o2733,
        hub.exchange / hub.settings.course_id / "feedback": 0o711,
        hub.course_dir: 0o700,
        hub.course_dir / "nbgrader_config.py": 0o600,
        hub.settings.state_dir: 0o711,
        hub.settings.state_dir / "jupyterhub.sqlite": 0o600,
        hub.settings.state_dir / "jupyterhub_cookie_secret": 0o600,
        hub.settings.state_dir / "proxy_token": 0o600,
        hub.settings.state_dir / "admin_token": 0o600,
        hub.settings.state_dir / "passwords": 0o600,
        **{hub.home(login): 0o700 for login in hub.logins},
    }
    got = {path: stat.S_IMODE(path.stat().st_mode) for path in modes}
    wrong = {str(p): f"want {oct(modes[p])}, got {oct(got[p])}" for p in modes if got[p] != modes[p]}
    print("\n".join(exchange.describe(hub.exchange, hub.settings.course_id)))
    assert not wrong, f"modes after a real release and submission: {wrong}"


def test_each_server_runs_as_its_user_with_the_course_kernel(hub, servers, tokens, record_property):
    found = hub.server_processes()
    for user, seconds in servers.items():
        owners = {p.username() for p in found.get(user, [])}
        assert owners == {user}, f"{user}'s server should run as {user}, got processes owned by {owners or 'nobody'}"
        record_property(f"server_ready_seconds_{user}", round(seconds, 1))
    print("servers ready after (s):", {u: round(s, 1) for u, s in servers.items()})
    student = hub.students[0]
    code = (
        "import json, os, pwd, sys, sysconfig, sidebyside, nbgrader\n"
        "print(json.dumps({'user': pwd.getpwuid(os.getuid()).pw_name, 'pid': os.getpid(), 'executable': sys.executable, 'prefix': sys.prefix,\n"
        "  'site_packages': os.path.realpath(sysconfig.get_paths()['purelib']), 'sidebyside': sidebyside.__file__, 'home': os.environ['HOME'],\n"
        "  'version': list(sys.version_info[:2])}))\n"
    )
    got = json.loads(hub.run_in_kernel(student, code, tokens[student.name]))
    print("student's kernel:", got)
    want_site = os.path.realpath(hub.settings.venv / "lib" / f"python{got['version'][0]}.{got['version'][1]}" / "site-packages")
    assert got["user"] == student.name, f"the kernel should run as {student.name}, got {got['user']}"
    assert got["prefix"] == str(hub.settings.class_venv), f"the kernel should be the course's python ({hub.settings.class_venv}), got {got['prefix']}"
    assert got["site_packages"] == want_site, f"the kernel should use the course's packages ({want_site}), got {got['site_packages']}"
    assert got["sidebyside"].startswith(str(hub.settings.checkout)), f"sidebyside should come from the checkout, got {got['sidebyside']}"
    assert got["home"] == str(hub.home(student)), f"HOME should be {hub.home(student)}, got {got['home']}"


def test_formgrader_for_the_instructor_only(hub, servers, tokens, submitted):
    """The instructor's formgrader reads the course (the released assignment); a student has none."""
    instructor, student = hub.instructor.name, hub.students[0].name
    status, location, body = http(f"{hub.server_url(instructor)}/formgrader/api/assignments", tokens[instructor])
    assert status == 200, f"the instructor's formgrader API should answer 200, got {status} {location}: {body[:300]}"
    released = {a["name"]: a["status"] for a in json.loads(body)}
    print("the instructor's formgrader lists:", released)
    assert released.get(ASSIGNMENT) == "released", f"the formgrader should list {ASSIGNMENT} as released, got {released}"
    status, _, body = http(f"{hub.server_url(student)}/formgrader/api/assignments", tokens[student])
    assert status == 404, f"a student's server should have no formgrader (404), got {status}: {body[:300]}"
    status, location, _ = http(f"{hub.server_url(instructor)}/formgrader/api/assignments", tokens[student])
    assert status in (302, 403), f"a student opening the instructor's formgrader should be refused (403) or sent to log in (302), got {status} {location}"
    for user, disabled in ((instructor, False), (student, True)):
        status, _, page = http(f"{hub.server_url(user)}/lab", tokens[user])
        start = page.index('id="jupyter-config-data"')
        config = json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])
        got = "@jupyter/nbgrader:formgrader" in config.get("disabledExtensions", [])
        assert got is disabled, f"JupyterLab's formgrader plugin for {user}: disabled should be {disabled}, got {got}"
        # no news feed, no "get Jupyter news?" prompt: the class's JupyterLab asks the network for nothing
        assert config.get("news") == {"disabled": True}, f"JupyterLab's news for {user} should be disabled, got {config.get('news')!r}"


ATTACKS = r"""
import glob, json, os, urllib.request, urllib.error
import psycopg

results = {}

def attempt(name, action):
    try:
        got = action()
        results[name] = "ALLOWED: " + repr(got)[:160]
    except Exception as error:
        results[name] = f"denied: {type(error).__name__}: {str(error).strip().splitlines()[0][:160] if str(error).strip() else ''}"

def nothing_found(pattern):
    found = glob.glob(pattern)
    if not found:
        raise FileNotFoundError(f"glob {pattern} finds nothing")
    return found

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl}", headers, fp)

def server(url):
    request = urllib.request.Request(url, headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]})
    with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as reply:
        return reply.status, reply.read()[:80]

T = json.loads(TARGETS)
attempt("control: list my own home", lambda: os.listdir(os.environ["HOME"]))
attempt("control: list released assignments", lambda: os.listdir(T["outbound"]))
attempt("list another student's home", lambda: os.listdir(T["other_home"]))
attempt("read another student's file", lambda: open(T["other_file"]).read())
attempt("list the exchange's inbound", lambda: os.listdir(T["inbound"]))
attempt("find submissions by glob", lambda: nothing_found(T["inbound"] + "/*"))
attempt("read a submission at a guessed name", lambda: open(T["guessed"]).read())
attempt("list the exchange's feedback", lambda: os.listdir(T["feedback"]))
attempt("list the instructor's home", lambda: os.listdir(T["instructor_home"]))
attempt("read a solution (source/)", lambda: open(T["solution"]).read())
attempt("read the course's nbgrader_config.py", lambda: open(T["course_config"]).read())
attempt("list the hub's state", lambda: os.listdir(T["state"]))
attempt("read the hub's passwords", lambda: open(T["passwords"]).read())
attempt("read the gradebook's password", lambda: open(T["pg_password"]).read())
attempt("list PostgreSQL's data", lambda: os.listdir(T["pg_data"]))
attempt("gradebook as its role, no password", lambda: psycopg.connect(host=T["pg_host"], port=T["pg_port"], dbname=T["pg_db"], user=T["pg_role"], connect_timeout=5))
attempt("gradebook as its role, guessed password", lambda: psycopg.connect(host=T["pg_host"], port=T["pg_port"], dbname=T["pg_db"], user=T["pg_role"], password=T["pg_role"], connect_timeout=5))
attempt("gradebook as myself", lambda: psycopg.connect(host=T["pg_host"], port=T["pg_port"], dbname=T["pg_db"], user=os.environ["USER"] if "USER" in os.environ else "student", connect_timeout=5))
attempt("gradebook through PostgreSQL's socket", lambda: psycopg.connect(host=T["pg_socket"], port=T["pg_port"], dbname=T["pg_db"], user="postgres", connect_timeout=5))
attempt("another student's server through the hub", lambda: server(T["other_server"] + "/api/contents"))
attempt("another student's server on its own port", lambda: server(T["other_direct"] + "/api/contents"))
attempt("the instructor's server through the hub", lambda: server(T["instructor_server"] + "/api/contents"))
print(json.dumps(results))
"""


def test_a_student_cannot_reach_what_is_not_theirs(hub, servers, tokens, submitted):
    me, other = hub.students[0], hub.students[1]
    course = hub.settings.course_id
    direct = next(
        f"http://127.0.0.1:{conn.laddr.port}/user/{other.name}"
        for process in hub.server_processes()[other.name]
        for conn in process.net_connections("tcp")
        if conn.status == psutil.CONN_LISTEN
    )
    targets = {
        "outbound": str(hub.exchange / course / "outbound"),
        "other_home": str(hub.home(other)),
        "other_file": str(hub.home(other) / "private-notes.txt"),
        "inbound": str(hub.exchange / course / "inbound"),
        "guessed": str(hub.exchange / course / "inbound" / f"{other.name}+{ASSIGNMENT}" / f"{ASSIGNMENT}.ipynb"),
        "feedback": str(hub.exchange / course / "feedback"),
        "instructor_home": str(hub.home(hub.instructor)),
        "solution": str(hub.course_dir / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
        "course_config": str(hub.course_dir / "nbgrader_config.py"),
        "state": str(hub.settings.state_dir),
        "passwords": str(hub.settings.state_dir / "passwords"),
        "pg_password": str(hub.settings.postgres_dir / "gradebook.password"),
        "pg_data": str(hub.settings.postgres_dir / "data"),
        "pg_socket": str(hub.settings.postgres_dir / "data" / "socket"),
        "pg_host": hub.settings.gradebook_host,
        "pg_port": hub.settings.gradebook_port,
        "pg_db": hub.settings.gradebook_database,
        "pg_role": hub.settings.gradebook_role,
        "other_server": hub.server_url(other),
        "other_direct": direct,
        "instructor_server": hub.server_url(hub.instructor),
    }
    output = hub.run_in_kernel(me, f"TARGETS = {json.dumps(json.dumps(targets))}\n" + ATTACKS, tokens[me.name])
    try:
        results = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail(f"the attack cell should print its results as JSON, got:\n{output[-3000:]}")
    print(f"\nas {me.name}, from a kernel on their own server:")
    for name, result in results.items():
        print(f"  {name:<45} {result}")
    controls = {k: v for k, v in results.items() if k.startswith("control")}
    attacks = {k: v for k, v in results.items() if not k.startswith("control")}
    assert all(v.startswith("ALLOWED") for v in controls.values()), f"the controls (own home, released assignments) should work, got {controls}"
    allowed = {k: v for k, v in attacks.items() if not v.startswith("denied")}
    assert not allowed, f"every attempt should be denied, got allowed: {allowed}"
    assert len(attacks) == 20, f"20 attempts expected, got {len(attacks)}: {sorted(attacks)}"
    # The same through the hub from outside, with the student's own token and with none.
    for token, want in ((tokens[me.name], {403}), (None, {302, 403})):
        status, location, _ = http(f"{hub.server_url(other)}/api/contents", token)
        print(f"  /user/{other.name}/api/contents with {'my token' if token else 'no token'}: {status} {location}")
        assert status in want, f"{other.name}'s contents with {'a student token' if token else 'no token'} should give {want}, got {status} {location}"


def tree_memory(process) -> tuple[float, float]:
    """(RSS, PSS) in MB of a process and its children."""
    rss = pss = 0
    for each in (process, *process.children(recursive=True)):
        try:
            info = each.memory_full_info()
            rss, pss = rss + info.rss, pss + info.pss
        except psutil.Error:
            pass
    return rss / 2**20, pss / 2**20


def test_memory_per_student_server(hub, servers, tokens, record_property):
    student = hub.students[0]
    process = hub.server_processes()[student.name][0]
    idle = tree_memory(process)
    status, _, body = http(f"{hub.server_url(student)}/api/kernels", tokens[student.name], "POST", {"name": "python3"})
    assert status == 201, f"starting a kernel should give 201, got {status}: {body[:200]}"
    kernel = json.loads(body)["id"]
    try:
        time.sleep(3)
        with_kernel = tree_memory(process)
    finally:
        http(f"{hub.server_url(student)}/api/kernels/{kernel}", tokens[student.name], "DELETE")
    print(f"student server memory: idle RSS {idle[0]:.0f} MB, PSS {idle[1]:.0f} MB; with one idle python3 kernel RSS {with_kernel[0]:.0f} MB, PSS {with_kernel[1]:.0f} MB")
    record_property("student_server_rss_mb", round(idle[0]))
    record_property("student_server_pss_mb", round(idle[1]))
    record_property("student_server_with_kernel_rss_mb", round(with_kernel[0]))
    record_property("student_server_with_kernel_pss_mb", round(with_kernel[1]))
    assert 20 < idle[0] < 1000, f"an idle student server should use 20 MB to 1 GB, got RSS {idle[0]:.0f} MB"


def gradebook_assignments(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), connect_timeout=10) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM assignment ORDER BY name")]


def test_restarts_lose_nothing(hub, servers, tokens, submitted, record_property):
    """The hub restarts: servers (and a running kernel) stay, files stay; PostgreSQL restarts: grades stay."""
    student = hub.students[0]
    token = tokens[student.name]
    status, _, body = http(f"{hub.server_url(student)}/api/contents/before-restart.txt", token, "PUT", {"type": "file", "format": "text", "content": "written before the restart"})
    assert status in (200, 201), f"saving a file should give 200/201, got {status}: {body[:200]}"
    status, _, body = http(f"{hub.server_url(student)}/api/kernels", token, "POST", {"name": "python3"})
    kernel = json.loads(body)["id"]
    pids = {user: sorted(p.pid for p in procs) for user, procs in hub.server_processes().items()}
    in_gradebook = gradebook_assignments(hub.gradebook_url)

    seconds = hub.restart_hub()
    record_property("hub_restart_seconds", round(seconds, 2))
    print(f"hub restarted in {seconds:.1f} s; servers before: {pids}")
    after = {user: sorted(p.pid for p in procs) for user, procs in hub.server_processes().items()}
    assert after == pids, f"users' servers should survive the hub's restart with the same pids: before {pids}, after {after}"
    status, _, body = http(f"{hub.server_url(student)}/api/contents/before-restart.txt", token)
    assert status == 200 and json.loads(body)["content"] == "written before the restart", f"the file should be served after the restart, got {status}: {body[:200]}"
    status, _, body = http(f"{hub.server_url(student)}/api/kernels", token)
    assert kernel in body, f"the kernel started before the restart should still run, got {status}: {body[:300]}"
    http(f"{hub.server_url(student)}/api/kernels/{kernel}", token, "DELETE")

    hub.restart_postgres()
    assert gradebook_assignments(hub.gradebook_url) == in_gradebook == [ASSIGNMENT], f"the gradebook should keep {[ASSIGNMENT]} across PostgreSQL's restart, got {in_gradebook} then {gradebook_assignments(hub.gradebook_url)}"
    assert submitted.is_dir(), f"the submission {submitted} should still be in the exchange"


# --- What `python -m sidebyside.instructor.hub start` says when it cannot start (no hub needed) -------------


@pytest.fixture
def start_here(tmp_path, monkeypatch):
    """Run ``python -m sidebyside.instructor.hub start`` in-process with a state dir of its own; returns (exit code, stderr)."""
    from sidebyside.instructor.hub import __main__ as cli
    from sidebyside.instructor.hub import settings as hub_settings

    def run(**overrides):
        loaded = hub_settings.load
        monkeypatch.setattr(cli, "load", lambda **kw: loaded(**{**kw, "state_dir": tmp_path / "state", **overrides}))
        code = cli.main(["start"])
        return code

    return run


def test_start_needs_root(start_here, monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code = start_here()
    err = capsys.readouterr().err
    print(err)
    assert code == 1 and "needs root" in err and "sudo make hub" in err, f"without root: exit 1 and a message naming root, got {code}: {err}"


def test_start_names_what_is_missing(start_here, tmp_path, monkeypatch, capsys):
    import socket

    from hub_class import why_not

    from sidebyside.instructor.hub import postgres

    if why_not():
        pytest.skip(why_not())

    # The proxy: a virtualenv without .venv/hub-proxy.
    code = start_here(venv=tmp_path / "venv")
    err = capsys.readouterr().err
    assert code == 1 and "make class-setup" in err and "configurable-http-proxy" in err, f"without the proxy: exit 1 naming make class-setup, got {code}: {err}"
    # PostgreSQL's programs.
    with monkeypatch.context() as patch:
        patch.setattr(postgres, "server_bin", lambda: (_ for _ in ()).throw(postgres.PostgresError("PostgreSQL's server programs (initdb, pg_ctl) are not installed")))
        code = start_here()
        err = capsys.readouterr().err
    assert code == 1 and "not installed" in err and "make class-setup" in err, f"without PostgreSQL: exit 1 naming make class-setup, got {code}: {err}"
    # A busy port, and who holds it.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        code = start_here(port=holder.getsockname()[1])
        err = capsys.readouterr().err
    print(err)
    assert code == 1 and "Port busy" in err and f"process {os.getpid()}" in err, f"a busy port: exit 1 naming the process, got {code}: {err}"


def test_the_users_view_of_the_virtualenv_follows_a_rewritten_script(tmp_path):
    """A view made for the class's users (their own interpreter, the course's packages) copies
    the course's scripts; when pip rewrites one (a new entry point after an upgrade), the next
    hub start remakes the view, or the users would run the old entry point (seen: `sidebyside
    grade` failing in the hub after the command moved to sidebyside.instructor.cli)."""
    from sidebyside.instructor.hub import environment

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {tmp_path / 'nowhere' / 'bin'}\n")
    (venv / "bin" / "python").symlink_to(sys.executable)
    tool = venv / "bin" / "tool"
    tool.write_text(f"#!{venv / 'bin'}/python\nfrom old.place import main\n")
    try:
        view = environment.make_view(venv)
    except FileNotFoundError as error:
        pytest.skip(f"no system Python to make a view with here: {error}")
    assert "old.place" in (view / "bin" / "tool").read_text()
    time.sleep(0.01)
    tool.write_text(f"#!{venv / 'bin'}/python\nfrom new.place import main\n")
    view = environment.make_view(venv)
    copied = (view / "bin" / "tool").read_text()
    assert "new.place" in copied and copied.startswith(f"#!{view / 'bin' / 'python'}"), f"expected the view remade with the new script, got:\n{copied}"
