"""The Kubernetes configuration (hub/k8s/) agrees with hub/class.toml and requirements.txt.

Nothing here needs Docker, Helm, a cluster or the network: the files are read as text and YAML,
and the Python they embed is compiled and run against stand-ins. Each check is a function that
returns a list of problems (expected vs got), so the last tests can show that each one fails on
a deliberately broken copy.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from conftest import ROOT
from test_project_files import pins

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

K8S = ROOT / "hub" / "k8s"
CLASS = tomllib.loads((ROOT / "hub" / "class.toml").read_text())


def read_values() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text())


def read_gradebook() -> list[dict]:
    return [doc for doc in yaml.safe_load_all((K8S / "gradebook.yaml").read_text()) if doc]


def differ(what: str, want, got) -> list[str]:
    """One problem when ``got`` is not ``want``, else none."""
    return [] if got == want else [f"{what}: expected {want!r}, got {got!r}"]


# --- The Dockerfile ----------------------------------------------------------------------------


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction, continuation lines joined, comments dropped."""
    result, pending = [], ""
    for line in dockerfile.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    return result


def shell_commands(run: str) -> list[str]:
    """The commands of one RUN line, split at &&, || and ;."""
    return [part.strip() for part in re.split(r"&&|\|\||;", run) if part.strip()]


#: pip options that take no value and change nothing about what gets installed.
HARMLESS_OPTIONS = {"--no-cache-dir", "--quiet", "-q", "--disable-pip-version-check", "--no-deps"}
#: Installers other than pip that would bring packages in past requirements.txt.
OTHER_INSTALLERS = re.compile(r"\b(uv\s+pip|conda|mamba|micromamba|pipx|easy_install|poetry\s+add)\b")
PIP_PIN = re.compile(r"\$\(grep -E '\^pip==' (\S*requirements\.txt)\)")


def pip_install_problems(dockerfile: str) -> list[str]:
    """Every ``pip install`` installs requirements.txt (``-r``), pip at its own pin from it, or the
    course package with ``--no-deps``; nothing else installs Python packages."""
    problems, kinds = [], []
    copied = [shlex.split(arguments) for keyword, arguments in instructions(dockerfile) if keyword in ("COPY", "ADD")]
    package_dirs = {parts[-1].rstrip("/") or "/" for parts in copied if "pyproject.toml" in parts[:-1]}
    for keyword, arguments in instructions(dockerfile):
        if keyword != "RUN":
            continue
        for command in shell_commands(arguments):
            if OTHER_INSTALLERS.search(command):
                problems.append(f"only pip may install packages, from requirements.txt: got {command!r}")
            if not re.search(r"\bpip3?\s+install\b", command):
                continue
            words = shlex.split(command)
            rest = words[words.index("install") + 1 :]
            no_deps = "--no-deps" in rest
            while rest:
                word = rest.pop(0)
                if word in ("-r", "--requirement", "--build-constraint"):
                    value = rest.pop(0) if rest else ""
                    want = "build-constraints.txt" if word == "--build-constraint" else "requirements.txt"
                    problems += differ(f"{word} in {command!r}", want, Path(value).name)
                    kinds.append("requirements" if word != "--build-constraint" else "constraint")
                elif word.startswith("-"):
                    if word not in HARMLESS_OPTIONS:
                        problems.append(f"pip install takes only {sorted(HARMLESS_OPTIONS)}, -r requirements.txt and --build-constraint: got {word!r} in {command!r}")
                elif PIP_PIN.fullmatch(word):
                    kinds.append("pip")
                elif word.rstrip("/") in package_dirs:
                    kinds.append("package")
                    if not no_deps:
                        problems.append(f"the course package must be installed with --no-deps (its dependencies are requirements.txt): got {command!r}")
                else:
                    problems.append(f"pip installs only requirements.txt and the course package {sorted(package_dirs)}: got {word!r} in {command!r}")
    problems += differ("`pip install -r requirements.txt` lines", 1, kinds.count("requirements"))
    problems += differ("course package installs (pip install --no-deps DIR)", 1, kinds.count("package"))
    return problems


def base_image_problems(dockerfile: str) -> list[str]:
    """A Debian-based python image, pinned to a patch release, of a Python the course supports."""
    images = [arguments.split()[0] for keyword, arguments in instructions(dockerfile) if keyword == "FROM"]
    if len(images) != 1:
        return [f"one FROM line expected, got {images!r}"]
    found = re.fullmatch(r"python:(\d+\.\d+\.\d+)-slim-(bookworm|trixie)", images[0])
    if not found:
        return [f"base image: expected python:X.Y.Z-slim-<debian release> (pinned tag), got {images[0]!r}"]
    python = Version(found[1])
    requires = re.search(r'^requires-python = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    problems = [] if python in SpecifierSet(requires) else [f"Python {python}: expected one that pyproject.toml's requires-python {requires!r} allows"]
    newest = re.search(r"Python 3\.\d+ to (3\.\d+) is needed", (ROOT / "Makefile").read_text())
    if newest and Version(f"{python.major}.{python.minor}") > Version(newest[1]):
        problems.append(f"Python {python}: expected at most {newest[1]}, the newest the Makefile supports")
    return problems


def apt_packages(dockerfile: str) -> set[str]:
    packages = set()
    for keyword, arguments in instructions(dockerfile):
        for command in shell_commands(arguments) if keyword == "RUN" else []:
            if re.search(r"\bapt-get\s+install\b", command):
                packages |= {word for word in shlex.split(command)[3:] if not word.startswith("-")}
    return packages


def content_problems(dockerfile: str, dockerignore: str) -> list[str]:
    """The packages the set-up scripts install, the lessons, the jovyan user; no solutions."""
    problems = []
    packages = apt_packages(dockerfile)
    java = re.search(r"for package in ([^;]+);", (ROOT / "scripts" / "install-java").read_text())[1].split()
    if not packages & set(java):
        problems.append(f"a Java runtime for TorchServe, one of {java} (scripts/install-java): got {sorted(packages)}")
    if "bubblewrap" not in packages:
        problems.append(f"bubblewrap for sidebyside grade (scripts/install-bubblewrap): got {sorted(packages)}")
    sources = [word for keyword, arguments in instructions(dockerfile) if keyword in ("COPY", "ADD") for word in shlex.split(arguments)[:-1]]
    for folder in ("lessons", "exercises"):
        if folder not in sources:
            problems.append(f"COPY {folder} expected: got sources {sources}")
    for forbidden in (".", "solutions", "tests"):
        if forbidden in sources or any(source.startswith(forbidden + "/") for source in sources if forbidden != "."):
            problems.append(f"the image must not copy {forbidden!r} (students run it): got sources {sources}")
    if not re.search(r"useradd\b[^\n]*--uid 1000\b[^\n]*\bjovyan\b", dockerfile):
        problems.append("a user jovyan with uid 1000 (z2jh's default) expected: no such useradd")
    users = [arguments for keyword, arguments in instructions(dockerfile) if keyword == "USER"]
    problems += differ("the last USER (not root)", "1000", users[-1] if users else None)
    lines = [line.strip() for line in dockerignore.splitlines() if line.strip() and not line.startswith("#")]
    if lines[:1] != ["*"] or any("solutions" in line for line in lines if line.startswith("!")):
        problems.append(f"Dockerfile.dockerignore must exclude everything first and never let solutions/ in: got {lines}")
    return problems


def test_dockerfile_installs_exactly_requirements_txt():
    problems = pip_install_problems((K8S / "Dockerfile").read_text())
    assert not problems, "\n".join(problems)


def test_dockerfile_base_image_is_a_pinned_supported_python():
    problems = base_image_problems((K8S / "Dockerfile").read_text())
    assert not problems, "\n".join(problems)


def test_dockerfile_has_what_the_course_needs_and_no_solutions():
    problems = content_problems((K8S / "Dockerfile").read_text(), (K8S / "Dockerfile.dockerignore").read_text())
    assert not problems, "\n".join(problems)


# --- The chart's version -----------------------------------------------------------------------


def chart_problems(values: dict, requirements: dict[str, str], readme: str) -> list[str]:
    """The chart is pinned, the README installs that version, and the chart's JupyterHub major
    is requirements.txt's, or the pair is exactly the one values.yaml records and explains."""
    chart = values["custom"]["sidebyside"]["chart"]
    problems = []
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(chart["version"])):
        problems.append(f"chart version: expected an exact X.Y.Z, got {chart['version']!r}")
    commands = re.findall(r"helm upgrade --install .*?--version (\S+)", readme, re.S)
    problems += differ("hub/k8s/README.md's `helm upgrade --install --version`", [str(chart["version"])], commands)
    hub, singleuser = Version(str(chart["jupyterhub"])), Version(requirements["jupyterhub"])
    if hub.major != singleuser.major:
        accepted = chart.get("acceptedMismatch") or {}
        got = {"hub": str(accepted.get("hub")), "singleuser": str(accepted.get("singleuser"))}
        problems += differ(
            f"chart JupyterHub {hub} vs requirements.txt's {singleuser}: majors differ, so custom.sidebyside.chart.acceptedMismatch", {"hub": str(hub), "singleuser": str(singleuser)}, got
        )
    elif "acceptedMismatch" in chart:
        problems.append(f"chart JupyterHub {hub} and requirements.txt's {singleuser} agree: remove acceptedMismatch")
    return problems


def test_chart_version_is_pinned_and_matches_jupyterhub():
    problems = chart_problems(read_values(), pins(), (K8S / "README.md").read_text())
    assert not problems, "\n".join(problems)


# --- values.yaml and gradebook.yaml against class.toml -----------------------------------------


def exchange_layout(values: dict, settings: dict) -> dict[str, tuple[str, str]]:
    """What `make hub` makes (src/sidebyside/instructor/hub/exchange.py): folder -> (mode, owner's uid)."""
    from sidebyside.instructor.hub import exchange

    root, instructor = settings["exchange"]["root"], str(values["custom"]["sidebyside"]["uidBase"])
    layout = {root: (f"{exchange.ROOT_MODE:o}", "")}
    for folder, mode in exchange.course_folders(Path(root), settings["course"]["id"]).items():
        layout[str(folder)] = (f"{mode:o}", instructor)
    return layout


def exchange_script_layout(values: dict) -> dict[str, tuple[str, str]]:
    """The folders, modes and owners the exchange-permissions init container's `fix` lines set."""
    (init,) = [init for init in values["singleuser"]["initContainers"] if init["name"] == "exchange-permissions"]
    lines = re.findall(r"^fix (\S+) (\d+) ?(\d*)$", init["command"][-1], re.M)
    return {folder: (mode, owner) for folder, mode, owner in lines}


def run_config(source: str, environ: dict[str, str] | None = None):
    """Run an nbgrader/Jupyter config file as they do (``c = get_config()``); its Config."""
    from traitlets.config import Config

    config = Config()
    compiled = compile(source, "nbgrader_config.py", "exec")
    saved = os.environ.copy()
    os.environ.update(environ or {})
    try:
        exec(compiled, {"get_config": lambda: config, "c": config})  # noqa: S102 - this repository's own file
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return config


def values_problems(values: dict, settings: dict) -> list[str]:
    course, exchange, gradebook, users, image = (settings[key] for key in ("course", "exchange", "gradebook", "users", "image"))
    own, single = values["custom"]["sidebyside"], values["singleuser"]
    problems = differ("singleuser.image", {"name": image["name"], "tag": image["tag"]}, {"name": single["image"]["name"], "tag": single["image"]["tag"]})
    problems += differ("custom.sidebyside.course", course["id"], own["course"])
    problems += differ("custom.sidebyside.instructor", users["instructor"], own["instructor"])
    problems += differ("custom.sidebyside.students", users["students"], own["students"])
    ports = [entry.get("port") for entry in values["proxy"]["service"].get("extraPorts", [])]
    problems += differ("proxy.service.extraPorts (class.toml's hub port)", [settings["hub"]["port"]], ports)
    mounts = [mount["mountPath"] for mount in single["storage"]["extraVolumeMounts"] if mount["name"] == "nbgrader-exchange"]
    problems += differ("singleuser exchange mountPath", [exchange["root"]], mounts)
    for init in single["initContainers"]:
        problems += differ(f"initContainer {init['name']} image", f"{image['name']}:{image['tag']}", init["image"])
        problems += differ(f"initContainer {init['name']} mounts", [exchange["root"]], [m["mountPath"] for m in init["volumeMounts"]])
    problems += differ("the exchange's folders, modes and owners (exchange-permissions)", exchange_layout(values, settings), exchange_script_layout(values))
    url = urlsplit(own["gradebook"]["url"])
    got = {"scheme": url.scheme, "user": url.username, "password": url.password, "port": url.port, "database": url.path.lstrip("/")}
    want = {"scheme": "postgresql+psycopg", "user": gradebook["role"], "password": None, "port": gradebook["port"], "database": gradebook["database"]}
    problems += differ("custom.sidebyside.gradebook.url (no password in it)", want, got)
    egress = [port["port"] for rule in single["networkPolicy"]["egress"] for port in rule["ports"]]
    problems += differ("singleuser.networkPolicy.egress ports (the gradebook's)", [gradebook["port"]], egress)
    files = single["extraFiles"]
    student = run_config(files["nbgrader-student"]["stringData"])
    # The instructor's course config as the README makes it: the course's own settings, then these.
    instructor_source = (ROOT / "nbgrader_config.py").read_text() + "\n" + files["nbgrader-instructor"]["stringData"]
    instructor = run_config(instructor_source, {"SIDEBYSIDE_GRADEBOOK_URL": own["gradebook"]["url"], "HOME": "/home/jovyan"})
    for who, config in (("the students'", student), ("the instructor's", instructor)):
        problems += differ(f"{who} nbgrader config: CourseDirectory.course_id", course["id"], config.CourseDirectory.get("course_id"))
        problems += differ(f"{who} nbgrader config: Exchange.root", exchange["root"], config.Exchange.get("root"))
    problems += differ("the instructor's nbgrader config: CourseDirectory.db_url", own["gradebook"]["url"], instructor.CourseDirectory.get("db_url"))
    problems += differ("the instructor's course (~/COURSE_ID, as on the local hub)", f"/home/jovyan/{course['id']}", instructor.CourseDirectory.get("root"))
    problems += differ("the students' nbgrader config: CourseDirectory.db_url (none)", None, student.CourseDirectory.get("db_url"))
    if "/etc/sidebyside/instructor/nbgrader_config.py" not in (K8S / "README.md").read_text():
        problems.append("hub/k8s/README.md must show how the instructor's course config is made from /etc/sidebyside/instructor/nbgrader_config.py")
    written = [f"{section}.{key}" for section, traits in values["hub"].get("config", {}).items() for key in traits if "password" in key.lower()]
    written += ["hub.db.password"] if values["hub"].get("db", {}).get("password") else []
    problems += differ("passwords written in values.yaml (pass them at install time)", [], written)
    return problems


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the init container runs as root (chown); run as root to check it")
def test_exchange_init_container_makes_the_local_hubs_modes(tmp_path):
    """Run the init container's script on a folder standing in for the exchange volume, twice."""
    values = read_values()
    root = CLASS["exchange"]["root"]
    (init,) = [init for init in values["singleuser"]["initContainers"] if init["name"] == "exchange-permissions"]
    stand_in = tmp_path / "exchange"
    stand_in.mkdir()
    script = init["command"][-1].replace(root, str(stand_in))
    for _ in range(2):  # the second run finds everything right
        done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    want = {folder.replace(root, str(stand_in)): layout for folder, layout in exchange_layout(values, CLASS).items()}
    got = {}
    for folder, (_, owner) in want.items():
        info = os.stat(folder)
        got[folder] = (f"{info.st_mode & 0o7777:o}", str(info.st_uid) if owner else "")
    assert got == want, f"exchange folders: expected {want}, got {got}"


def gradebook_problems(documents: list[dict], values: dict, settings: dict) -> list[str]:
    gradebook, own = settings["gradebook"], values["custom"]["sidebyside"]
    by_kind = {doc["kind"]: doc for doc in documents}
    url = urlsplit(own["gradebook"]["url"])
    service = by_kind["Service"]
    problems = differ("gradebook Service name (the URL's host)", url.hostname, service["metadata"]["name"])
    problems += differ("gradebook Service port", [gradebook["port"]], [port["port"] for port in service["spec"]["ports"]])
    container = by_kind["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}
    problems += differ("PostgreSQL's PGPORT", str(gradebook["port"]), env.get("PGPORT"))
    problems += differ("PostgreSQL's containerPort", [gradebook["port"]], [port["containerPort"] for port in container["ports"]])
    problems += differ("GRADEBOOK_ROLE", gradebook["role"], env.get("GRADEBOOK_ROLE"))
    problems += differ("GRADEBOOK_DATABASE", gradebook["database"], env.get("GRADEBOOK_DATABASE"))
    secrets = {value["secretKeyRef"]["name"] for value in env.values() if isinstance(value, dict)}
    problems += differ("the Secret PostgreSQL reads", {own["gradebook"]["secretName"]}, secrets)
    if not re.fullmatch(r"postgres:\d+\.\d+-\w+", container["image"]):
        problems.append(f"PostgreSQL image: expected a pinned postgres:MAJOR.MINOR-<debian>, got {container['image']!r}")
    policy = by_kind["NetworkPolicy"]["spec"]["ingress"]
    problems += differ("the gradebook NetworkPolicy's port", [gradebook["port"]], [port["port"] for rule in policy for port in rule["ports"]])
    claim = by_kind["PersistentVolumeClaim"]
    claims = [volume["persistentVolumeClaim"]["claimName"] for volume in values["singleuser"]["storage"]["extraVolumes"]]
    problems += differ("the exchange's claim", [claim["metadata"]["name"]], claims)
    problems += differ("the exchange's access mode", ["ReadWriteMany"], claim["spec"]["accessModes"])
    return problems


def test_values_name_the_class():
    problems = values_problems(read_values(), CLASS)
    assert not problems, "\n".join(problems)


def test_gradebook_manifest_names_the_class():
    problems = gradebook_problems(read_gradebook(), read_values(), CLASS)
    assert not problems, "\n".join(problems)


# --- The hub's code: who gets what ------------------------------------------------------------


def spawn(values: dict, name: str, user_id: int) -> types.SimpleNamespace:
    """Run hub.extraConfig as z2jh would, then its pre-spawn hook for one user; the spawner."""
    from traitlets.config import Config

    config = Config()
    z2jh = types.ModuleType("z2jh")
    z2jh.get_config = lambda key: copy.deepcopy(values["custom"]["sidebyside"]) if key == "custom.sidebyside" else None
    saved = sys.modules.get("z2jh")
    sys.modules["z2jh"] = z2jh
    try:
        for name_, code in values["hub"]["extraConfig"].items():
            exec(compile(code, f"hub.extraConfig.{name_}", "exec"), {"c": config})  # noqa: S102 - this repository's own file
    finally:
        sys.modules.pop("z2jh")
        if saved is not None:
            sys.modules["z2jh"] = saved
    spawner = types.SimpleNamespace(user=types.SimpleNamespace(name=name, id=user_id), environment={}, extra_labels={}, uid=1000, gid=None, config=config)
    config.KubeSpawner.pre_spawn_hook(spawner)
    return spawner


def hub_problems(values: dict, documents: list[dict], settings: dict) -> list[str]:
    users, own = settings["users"], values["custom"]["sidebyside"]
    teacher, student, other = spawn(values, users["instructor"], 1), spawn(values, users["students"][0], 2), spawn(values, users["students"][1], 3)
    config = teacher.config
    problems = differ("allowed_users", {users["instructor"], *users["students"]}, set(config.Authenticator.allowed_users))
    problems += differ("admin_users (the instructor)", {users["instructor"]}, set(config.Authenticator.admin_users))
    problems += differ("the instructor's uid (owner of the exchange's course folders)", own["uidBase"], teacher.uid)
    if len({teacher.uid, student.uid, other.uid, 1000}) != 4:
        problems.append(f"each person needs a user id of their own: instructor {teacher.uid}, students {student.uid} and {other.uid}")
    problems += differ("the student's gid (z2jh's fsGid)", values["singleuser"].get("fsGid", 100), student.gid)
    folders = {str(Path(spec["mountPath"]).parent) for spec in values["singleuser"]["extraFiles"].values()}
    roles = {spawner.environment.get("JUPYTER_CONFIG_PATH") for spawner in (teacher, student)}
    problems += differ("the folders of singleuser.extraFiles (each role's JUPYTER_CONFIG_PATH)", roles, {folder.split("/labconfig")[0] for folder in folders})
    secret = {"valueFrom": {"secretKeyRef": {"name": own["gradebook"]["secretName"], "key": "password"}}}
    problems += differ("the instructor's PGPASSWORD", secret, teacher.environment.get("PGPASSWORD"))
    problems += differ("the instructor's SIDEBYSIDE_GRADEBOOK_URL", own["gradebook"]["url"], teacher.environment.get("SIDEBYSIDE_GRADEBOOK_URL"))
    allowed = [entry["podSelector"]["matchLabels"] for doc in documents if doc["kind"] == "NetworkPolicy" for rule in doc["spec"]["ingress"] for entry in rule["from"]]
    problems += differ("the instructor pod's labels (the gradebook's NetworkPolicy admits these)", allowed, [teacher.extra_labels])
    role = {"JUPYTER_CONFIG_PATH": "/etc/sidebyside/student", "SIDEBYSIDE_CLASS_ROLE": "student"}
    problems += differ("a student's environment and labels", (role, {}), (student.environment, student.extra_labels))
    return problems


def test_only_the_instructor_gets_the_gradebook_and_each_user_an_own_uid():
    problems = hub_problems(read_values(), read_gradebook(), CLASS)
    assert not problems, "\n".join(problems)


#: Probe run in a fresh interpreter: which nbgrader server and lab extensions a pod would load.
PROBE = textwrap.dedent(
    """
    import json, os, sys
    from jupyter_server.serverapp import ServerApp
    from jupyterlab_server.config import get_page_config
    result = {}
    for who, path in json.loads(sys.argv[1]).items():
        os.environ["JUPYTER_CONFIG_PATH"] = path
        app = ServerApp()
        app.load_config_file()
        server = {k: v for k, v in app.jpserver_extensions.items() if k.startswith("nbgrader")}
        lab = get_page_config([], os.devnull)["disabledExtensions"]
        result[who] = {"server_off": sorted(k for k, v in server.items() if not v), "lab_off": sorted(x for x in lab if "nbgrader" in x)}
    print(json.dumps(result))
    """
)


def image_disables(dockerfile: str) -> tuple[list[str], list[str]]:
    """The server and lab extensions the Dockerfile disables (jupyter ... disable)."""
    server = re.findall(r"jupyter server extension disable --sys-prefix (\S+)", dockerfile)
    lab = re.findall(r"jupyter labextension disable --level=sys_prefix (\S+)", dockerfile)
    return sorted(server), sorted(lab)


def test_formgrader_is_the_instructors_only(tmp_path):
    """With Jupyter's own config loading: the image's settings turn the instructor's tools off,
    the instructor's files (values.yaml) turn them back on, in front of the image's."""
    server, lab = image_disables((K8S / "Dockerfile").read_text())
    assert "nbgrader.server_extensions.formgrader" in server and "@jupyter/nbgrader:formgrader" in lab, f"the image must disable the formgrader: got {server}, {lab}"
    # What `jupyter ... disable --sys-prefix` writes into the image's environment.
    image = tmp_path / "image"
    (image / "labconfig").mkdir(parents=True)
    (image / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": dict.fromkeys(server, False)}}))
    (image / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": dict.fromkeys(lab, True)}))
    # What the chart mounts (singleuser.extraFiles), placed under a stand-in for /etc/sidebyside.
    instructor = tmp_path / "instructor"
    for spec in read_values()["singleuser"]["extraFiles"].values():
        relative = Path(spec["mountPath"]).relative_to("/etc/sidebyside/instructor") if spec["mountPath"].startswith("/etc/sidebyside/instructor/") else None
        if relative is not None and "data" in spec:
            (instructor / relative).parent.mkdir(parents=True, exist_ok=True)
            (instructor / relative).write_text(json.dumps(spec["data"]))
    paths = {"student": str(image), "instructor": os.pathsep.join([str(instructor), str(image)])}
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "user"), "JUPYTER_NO_CONFIG": ""}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(paths)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.splitlines()[-1])
    assert got["student"] == {"server_off": server, "lab_off": lab}, f"a student's pod: expected {server} and {lab} off, got {got['student']}"
    assert got["instructor"] == {"server_off": [], "lab_off": []}, f"the instructor's pod: expected every nbgrader tool on, got {got['instructor']}"


# --- The checks can fail ---------------------------------------------------------------------


def broken_values(path: tuple, value) -> dict:
    values = read_values()
    target = values
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return values


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (lambda text: text + "RUN pip install --no-cache-dir requests\n", "'requests'"),
        (lambda text: text.replace("--no-deps /tmp/course", "/tmp/course"), "--no-deps"),
        (lambda text: text.replace("-r /tmp/course/requirements.txt", "-r /tmp/course/requirements-dev.txt"), "requirements-dev.txt"),
        (lambda text: text + "RUN uv pip install torch\n", "only pip"),
    ],
    ids=["extra package", "package with its dependencies", "another requirements file", "another installer"],
)
def test_dockerfile_check_catches(change, expect):
    problems = pip_install_problems(change((K8S / "Dockerfile").read_text()))
    assert any(expect in problem for problem in problems), f"expected a problem mentioning {expect!r}, got {problems}"


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (lambda text: re.sub(r"^FROM python:\S+", "FROM python:3.9.19-slim-bookworm", text, flags=re.M), "requires-python"),
        (lambda text: re.sub(r"^FROM python:\S+", "FROM python:3.11-alpine", text, flags=re.M), "pinned tag"),
        (lambda text: text + "COPY solutions /srv/solutions\n", "must not copy 'solutions'"),
    ],
    ids=["old python", "unpinned alpine", "solutions copied"],
)
def test_image_checks_catch(change, expect):
    text = change((K8S / "Dockerfile").read_text())
    problems = base_image_problems(text) + content_problems(text, (K8S / "Dockerfile.dockerignore").read_text())
    assert any(expect in problem for problem in problems), f"expected a problem mentioning {expect!r}, got {problems}"


@pytest.mark.parametrize(
    ("path", "value", "expect"),
    [
        (("singleuser", "image", "tag"), "latest", "singleuser.image"),
        (("singleuser", "storage", "extraVolumeMounts"), [{"name": "nbgrader-exchange", "mountPath": "/srv/exchange"}], "exchange mountPath"),
        (("singleuser", "networkPolicy", "egress"), [{"ports": [{"port": 5432}]}], "egress ports"),
        (("custom", "sidebyside", "gradebook", "url"), "postgresql+psycopg://sidebyside_grader:secret@sidebyside-gradebook:5433/sidebyside_gradebook", "no password"),
    ],
    ids=["image tag", "exchange path", "gradebook port", "inline password"],
)
def test_values_check_catches(path, value, expect):
    problems = values_problems(broken_values(path, value), CLASS)
    assert any(expect in problem for problem in problems), f"expected a problem mentioning {expect!r}, got {problems}"


def test_values_check_catches_a_wrong_course_id_in_the_nbgrader_config():
    values = read_values()
    files = values["singleuser"]["extraFiles"]
    files["nbgrader-student"]["stringData"] = files["nbgrader-student"]["stringData"].replace(f'"{CLASS["course"]["id"]}"', '"side-by-side"')
    problems = values_problems(values, CLASS)
    assert any("the students' nbgrader config: CourseDirectory.course_id" in problem for problem in problems), problems


def test_values_check_catches_a_readable_inbound():
    values = read_values()
    init = values["singleuser"]["initContainers"][0]
    init["command"][-1] = init["command"][-1].replace("inbound 2733", "inbound 2777")
    problems = values_problems(values, CLASS)
    assert any("the exchange's folders" in problem and "2777" in problem for problem in problems), problems


def test_chart_check_catches_a_new_pair_and_a_range():
    readme = (K8S / "README.md").read_text()
    newer_hub = broken_values(("custom", "sidebyside", "chart", "jupyterhub"), "5.6.0")
    assert any("acceptedMismatch" in problem for problem in chart_problems(newer_hub, pins(), readme)), "a hub version the record does not name must fail"
    assert any("acceptedMismatch" in problem for problem in chart_problems(read_values(), {**pins(), "jupyterhub": "6.2.0"}, readme)), "a jupyterhub pin the record does not name must fail"
    ranged = broken_values(("custom", "sidebyside", "chart", "version"), "^4.4")
    assert any("exact X.Y.Z" in problem for problem in chart_problems(ranged, pins(), readme)), "a version range must fail"


def test_gradebook_and_hub_checks_catch():
    documents = read_gradebook()
    for doc in documents:
        if doc["kind"] == "Service":
            doc["spec"]["ports"][0]["port"] = 5432
        if doc["kind"] == "NetworkPolicy":
            doc["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] = {"component": "singleuser-server"}
    problems = gradebook_problems(documents, read_values(), CLASS)
    assert any("gradebook Service port" in problem for problem in problems), problems
    problems = hub_problems(read_values(), documents, CLASS)
    assert any("NetworkPolicy admits" in problem for problem in problems), problems
    same_uid = read_values()
    same_uid["hub"]["extraConfig"]["sidebyside"] = same_uid["hub"]["extraConfig"]["sidebyside"].replace('sidebyside_class["uidBase"] + (0 if instructor else spawner.user.id)', "1000")
    assert any("user id of their own" in problem for problem in hub_problems(same_uid, read_gradebook(), CLASS)), "one uid for everyone must fail"


def test_the_course_checkouts_nbgrader_config_names_the_class_course():
    """nbgrader_config.py (local grading) and hub/class.toml (the hub, Kubernetes) name one course."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    course_id = config.CourseDirectory.course_id
    assert course_id == CLASS["course"]["id"], f"nbgrader_config.py's course id should be hub/class.toml's {CLASS['course']['id']!r}, got {course_id!r}"
