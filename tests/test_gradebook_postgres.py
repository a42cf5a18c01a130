"""The class gradebook in a real PostgreSQL server (issue 16): our own cluster, in a tmp folder on
a free port (:mod:`sidebyside.instructor.hub.postgres`), and ``sidebyside grade`` writing into it.

- the cluster starts, stops and restarts, keeping its data; only the gradebook's role, with its
  password, gets into its database from loopback; what goes wrong is said plainly (a busy port
  and who holds it, a data directory owned by someone else, a server that does not start, with
  its log, PostgreSQL not installed);
- the students of the tiny fixture class (tests/fixtures/grading/tiny_class.py: plain Python,
  no framework, since these tests are about the gradebook, not a lesson) graded into
  PostgreSQL get exactly their expected scores (``tiny_class.EXPECTED``), in the gradebook and
  in ``grades.csv``, while PostgreSQL restarts just before a grade is written;
- two ``sidebyside grade`` processes at once, on disjoint halves of those students, into an
  empty database, lose nothing.

PostgreSQL's server comes from ``scripts/install-postgresql`` (``make test`` runs it); without
it, and where it cannot be installed, the module is skipped with the reason.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT

from sidebyside import _processes
from sidebyside.instructor.hub import postgres
from sidebyside.instructor.grading import gradebook_writes as gradebooks
from sidebyside.instructor.grading import run
from sidebyside.instructor.grading.limits import Limits

sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "grading"))
import tiny_class  # noqa: E402

A = tiny_class.ASSIGNMENT

PASSWORD = "s3cret-Gr4des"
#: students graded here: two per grader, cheap to grade, each scoring something different
FIRST_HALF, SECOND_HALF = ["blank", "honest"], ["partial", "wrong-shadow"]


@pytest.fixture(scope="module")
def cluster():
    try:
        postgres.server_bin()
    except postgres.PostgresError:
        subprocess.run([str(ROOT / "scripts" / "install-postgresql")], check=False)
        try:
            postgres.server_bin()
        except postgres.PostgresError as error:
            if os.environ.get("CI"):  # make test's setup installs it: a skip in CI would hide a missing step
                pytest.fail(f"{error} (in CI, where make test's setup must have installed it)")
            pytest.skip(f"{error} (scripts/install-postgresql could not install it here: it needs root and apt-get)")
    folder = Path(tempfile.mkdtemp(prefix="sbs-pg-"))
    folder.chmod(0o755)  # as root, the server runs as `postgres`, who must enter it
    began = time.monotonic()
    server = postgres.Cluster(folder / "data", _processes.free_port()).init()
    initialized = time.monotonic()
    server.start()
    print(f"\nPostgreSQL cluster: init {initialized - began:.1f} s, start {time.monotonic() - initialized:.1f} s")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def connect(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=5)


def refused(url: str) -> str:
    """The server's refusal of ``url`` ("" if it let it in)."""
    import psycopg

    try:
        connect(url).close()
    except psycopg.OperationalError as error:
        return str(error)
    return ""


# --- the cluster ----------------------------------------------------------------------------------


def test_the_cluster_starts_stops_and_restarts_keeping_its_data(cluster):
    url = cluster.create_gradebook("lifecycle", "lifecycle_role", PASSWORD)
    with connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (n int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    assert cluster.is_running(), "expected the cluster running after start(), got not running"
    cluster.stop()
    assert not cluster.is_running(), "expected the cluster stopped after stop(), got running"
    assert "refused" in refused(url) or "failed" in refused(url), f"expected no server after stop(), got in with {url}"
    cluster.start()
    began = time.monotonic()
    cluster.restart()
    seconds = time.monotonic() - began
    assert cluster.is_running(), "expected the cluster running after restart(), got not running"
    with connect(url) as conn:
        kept = conn.execute("SELECT n FROM kept").fetchall()
    assert kept == [(42,)], f"expected the row written before the restarts, got {kept}"
    assert seconds < 30, f"expected a restart within 30 s, got {seconds:.1f} s"


def test_only_the_gradebook_role_with_its_password_gets_in(cluster):
    url = cluster.create_gradebook("guarded", "guarded_role", PASSWORD)
    other = cluster.create_gradebook("elsewhere", "elsewhere_role", "another-password")
    assert refused(url) == "", f"expected the role with its password let in, got refused: {refused(url)}"
    port = cluster.port
    cases = {
        "no password": f"postgresql://guarded_role@127.0.0.1:{port}/guarded",
        "a wrong password": f"postgresql://guarded_role:wrong@127.0.0.1:{port}/guarded",
        "another database": f"postgresql://guarded_role:{PASSWORD}@127.0.0.1:{port}/elsewhere",
        "the maintenance database": f"postgresql://guarded_role:{PASSWORD}@127.0.0.1:{port}/postgres",
        "the cluster's owner over TCP": f"postgresql://{cluster.user}@127.0.0.1:{port}/postgres",
    }
    env_password = os.environ.pop("PGPASSWORD", None)
    try:
        for what, attempt in cases.items():
            reason = refused(attempt)
            assert reason, f"expected {what} to be refused, got let in ({attempt})"
            assert any(word in reason for word in ("password", "pg_hba.conf")), f"expected {what} refused by authentication, got: {reason}"
    finally:
        if env_password is not None:
            os.environ["PGPASSWORD"] = env_password
    assert refused(other) == "", f"expected the other gradebook's own role let in, got: {refused(other)}"
    with socket.socket() as probe:
        probe.settimeout(2)
        reached = probe.connect_ex(("127.0.0.2", port))
    assert reached != 0, f"expected the server on 127.0.0.1 only, got a connection on 127.0.0.2:{port}"


def test_what_goes_wrong_is_said_plainly(cluster, tmp_path, monkeypatch):
    # a busy port, and who holds it
    second = postgres.Cluster(tmp_path / "unused", cluster.port)
    (tmp_path / "unused").mkdir()
    (tmp_path / "unused" / "PG_VERSION").write_text("15\n")
    if os.geteuid() == 0:
        import pwd

        postgres_account = pwd.getpwnam(postgres.SERVER_USER)
        os.chown(tmp_path / "unused", postgres_account.pw_uid, postgres_account.pw_gid)
    monkeypatch.setattr(postgres.Cluster, "is_running", lambda self: False)
    with pytest.raises(postgres.PostgresError) as busy:
        second.start()
    monkeypatch.undo()
    assert f"port {cluster.port}" in str(busy.value) and "in use by" in str(busy.value), f"expected the busy port named, got: {busy.value}"
    if os.geteuid() == 0:
        assert "postgres" in str(busy.value), f"expected the process holding the port named (postgres), got: {busy.value}"

    # a data directory that belongs to someone else
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir()
        (foreign / "PG_VERSION").write_text("15\n")
        os.chown(foreign, 65534, 65534)
        with pytest.raises(postgres.PostgresError) as owned:
            postgres.Cluster(foreign, _processes.free_port()).init()
        assert "owned by" in str(owned.value) and "chown" in str(owned.value), f"expected the owner and what to do, got: {owned.value}"

    # a server that fails to start: the log's tail is shown
    conf = cluster.data_dir / "postgresql.conf"
    saved = conf.read_text()
    cluster.stop()
    try:
        conf.write_text(saved + "\nshared_buffers = 'not a size'\n")
        with pytest.raises(postgres.PostgresError) as failed:
            cluster.start(timeout=20)
        assert "did not start" in str(failed.value) and "shared_buffers" in str(failed.value), f"expected the failure and the log's tail, got: {failed.value}"
    finally:
        conf.write_text(saved)
        cluster.start()

    # PostgreSQL not installed
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(postgres.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(postgres.PostgresError) as missing:
        postgres.server_bin()
    assert "not installed" in str(missing.value) and "install-postgresql" in str(missing.value), f"expected what to install, got: {missing.value}"


def test_the_class_gradebook_from_class_toml(cluster, capsys):
    """``python -m sidebyside.instructor.hub.postgres start|status|url|stop`` on a course whose hub/class.toml is
    the project's, but for a free port: the printed URL lets the class's role in."""
    import tomllib

    settings = tomllib.loads((ROOT / "hub" / "class.toml").read_text())["gradebook"]
    settings["port"] = _processes.free_port()
    course = Path(tempfile.mkdtemp(prefix="sbs-pg-course-"))
    course.chmod(0o755)  # as root, the server runs as `postgres`, who must enter it
    (course / "hub").mkdir()
    (course / "hub" / "class.toml").write_text("[gradebook]\n" + "".join(
        f"{key} = {value if isinstance(value, int) else chr(34) + value + chr(34)}\n" for key, value in settings.items()))
    try:
        assert postgres.main(["start", "--course", str(course)]) == 0, f"expected start to succeed, got: {capsys.readouterr()}"
        assert postgres.main(["status", "--course", str(course)]) == 0, f"expected status 0 (running), got: {capsys.readouterr()}"
        capsys.readouterr()
        assert postgres.main(["url", "--course", str(course)]) == 0, f"expected url to succeed, got: {capsys.readouterr()}"
        url = capsys.readouterr().out.strip()
        want = f"@{settings['host']}:{settings['port']}/{settings['database']}"
        assert url.startswith(f"postgresql+psycopg://{settings['role']}:") and url.endswith(want), f"expected the class's URL (…{want}), got {url}"
        assert refused(url) == "", f"expected the class's role let in with the printed URL, got: {refused(url)}"
        password_file = course / ".hub" / "postgres" / "gradebook.password"
        assert password_file.stat().st_mode & 0o077 == 0, f"expected the password file private (0600), got {oct(password_file.stat().st_mode & 0o777)}"
    finally:
        postgres.main(["stop", "--course", str(course)])
        stopped = postgres.main(["status", "--course", str(course)])
        shutil.rmtree(course, ignore_errors=True)
    assert stopped == 3, f"expected status 3 (not running) after stop, got {stopped}"


def test_a_gradebook_that_stays_away_is_reported_not_waited_for_forever(cluster, tmp_path):
    url = cluster.create_gradebook("away", "away_role", PASSWORD)
    cluster.stop()
    try:
        began = time.monotonic()
        with pytest.raises(gradebooks.Unavailable) as away:
            gradebooks.retrying("writing someone's scores", lambda: None, url, tmp_path, wait=2)
        seconds = time.monotonic() - began
    finally:
        cluster.start()
    assert "writing someone's scores" in str(away.value) and PASSWORD not in str(away.value), f"expected what failed, without the password, got: {away.value}"
    assert seconds < 10, f"expected to give up after about 2 s, got {seconds:.1f} s"


def test_writers_at_once_on_an_empty_gradebook_all_succeed(cluster, tmp_path):
    """Three writers (threads, each with its own connections, as separate graders have) start at
    the same instant on an empty database: each makes the tables and the course, adds its own
    student, and all add the same one. Without the writers' lock nbgrader fails on this
    (duplicate tables, duplicate keys); under it every writer succeeds."""
    from nbgrader.api import Gradebook

    from sidebyside.instructor.nbgrader_course import interpreter_bin_on_path

    interpreter_bin_on_path()  # nbgrader runs alembic from PATH when it makes the tables
    url = cluster.create_gradebook("race", "race_role", PASSWORD)
    barrier, failures = threading.Barrier(3), []

    def writer(name: str) -> None:
        def write():
            with Gradebook(url) as gb:
                gb.update_or_create_student(name)
                gb.update_or_create_student("shared")

        barrier.wait()
        try:
            gradebooks.retrying(f"writing {name}", write, url, tmp_path, wait=20)
        except Exception as error:  # noqa: BLE001 - collected for the assert
            failures.append(f"{name}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=writer, args=(f"s{k}",)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, "expected every writer to succeed, got:\n" + "\n".join(failures)
    with Gradebook(url) as gb:
        students = sorted(s.id for s in gb.students)
    assert students == ["s0", "s1", "s2", "shared"], f"expected s0, s1, s2 and shared in the gradebook, got {students}"


# --- sidebyside grade into PostgreSQL ------------------------------------------------------------------


def class_of(folder: Path, students: list[str]) -> Path:
    """The tiny fixture class with only ``students``' submissions."""
    return tiny_class.make_class(folder, students)


def gradebook_scores(url: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        return {s.student.id: s.score for s in gb.find_assignment(A).submissions}


def csv_scores(path: Path) -> dict[str, float]:
    with open(path, newline="") as handle:
        return {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle) if row["assignment"] == A}


def expected(students: list[str]) -> dict[str, float]:
    return {name: tiny_class.EXPECTED[name][0] for name in students}


@pytest.mark.nbgrader
def test_grades_in_postgresql_equal_sqlites_through_a_restart(cluster, tmp_path, monkeypatch):
    """The course's own setting (CourseDirectory.db_url) names the PostgreSQL gradebook;
    PostgreSQL stops just before the first grade is written and comes back 2 s later."""
    students = FIRST_HALF
    url = cluster.create_gradebook("single", "single_role", PASSWORD)
    course = class_of(tmp_path / "class", students)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {url!r}\n")

    real_merge, restarted = run.merge, []

    def merge_after_a_restart(db_url, assignment, name, *args):
        if not restarted:
            restarted.append(name)
            cluster.stop()
            threading.Timer(2.0, cluster.start).start()
        return real_merge(db_url, assignment, name, *args)

    monkeypatch.setattr(run, "merge", merge_after_a_restart)
    result = run.grade(run.Options(root=course, assignment=A, workers=1, progress=False, limits=Limits(wall_seconds=600, memory_mb=6000)))
    assert restarted, "expected PostgreSQL restarted during the run, got no merge at all"
    assert cluster.is_running(), "expected PostgreSQL back after the restart"

    got = {s.student: s.score for s in result.students}
    assert got == expected(students), f"expected the scores of the SQLite path {expected(students)}, got {got}\n{result.notes}"
    assert gradebook_scores(url) == expected(students), f"expected in PostgreSQL {expected(students)}, got {gradebook_scores(url)}"
    assert result.csv, f"expected a grades CSV, got none: {result.notes}"
    assert csv_scores(Path(result.csv)) == expected(students), f"expected grades.csv {expected(students)}, got {csv_scores(Path(result.csv))}"
    feedback = course / "feedback" / "honest" / A / f"{A}.html"
    assert feedback.is_file(), f"expected feedback for the honest student at {feedback}, got {result.notes}"
    assert any("pg_dump" in note for note in result.notes), f"expected the backup note to name pg_dump, got {result.notes}"
    written = (course / "reports" / A / "report.md").read_text() + (course / "reports" / A / "report.json").read_text()
    assert PASSWORD not in written, "expected the gradebook's password nowhere in the report, got it there"


@pytest.mark.nbgrader
def test_two_graders_at_once_lose_nothing(cluster, tmp_path):
    """Two `sidebyside grade` processes, started together on disjoint halves of the class, into an
    empty database: both create its tables and register the assignment at the same moment.
    One passes the password in its URL, the other in PGPASSWORD."""
    students = FIRST_HALF + SECOND_HALF
    url = cluster.create_gradebook("together", "together_role", PASSWORD)
    course = class_of(tmp_path / "class", students)
    command = [sys.executable, "-m", "sidebyside.instructor.cli", "grade", A, "--course", str(course), "--workers", "1", "--no-feedback", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    graders = [
        subprocess.Popen([*command, "--db-url", url, *(f"--student={s}" for s in FIRST_HALF)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        subprocess.Popen([*command, "--db-url", url.replace(f":{PASSWORD}@", "@"), *(f"--student={s}" for s in SECOND_HALF)],
                         env={**env, "PGPASSWORD": PASSWORD}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
    ]
    outputs = [grader.communicate(timeout=1200)[0] for grader in graders]
    for grader, output in zip(graders, outputs):
        # 0: all graded cleanly; 1: some need a person (wrong-shadow's numpy.py)
        assert grader.returncode in (0, 1), f"expected each grader to finish (exit 0 or 1), got exit {grader.returncode}:\n{output[-4000:]}"
    assert gradebook_scores(url) == expected(students), f"expected in PostgreSQL {expected(students)}, got {gradebook_scores(url)}\n" + "\n".join(o[-2000:] for o in outputs)
    grades = course / "reports" / A / "grades.csv"
    assert csv_scores(grades) == expected(students), f"expected grades.csv (written last) {expected(students)}, got {csv_scores(grades)}"
    for output in outputs:
        assert PASSWORD not in output, f"expected no grader to print the gradebook's password, got it in:\n{output[-2000:]}"
