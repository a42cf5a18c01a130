"""The Colab profile (issue 23): Colab's package versions in an environment of their own, and
every lesson and solution run kernel-side in it as a student on Colab would.

    .venv/bin/python tests/colab_profile.py build           # build or reuse .venv/colab (make test-setup)
    .venv/bin/python tests/colab_profile.py run NOTEBOOK... # run notebooks in it, print times and problems

The environment, ``.venv/colab``, is a virtual environment made with the course's own Python:

1. ``requirements-colab.txt`` (Colab's versions; see its header for where they come from);
2. a fake ``google.colab`` package in its site-packages and an IPython start-up file
   (tests/colab_startup.py) that imports it, as Colab's kernel does, and reports and skips what
   the check must not do (the course package from the repository URL, %pip lines once the
   profile is built, shell lines that change the machine);
3. the course package from the checkout with ``--no-deps``, as a built wheel (as Colab's
   ``pip install git+...`` gets it, so a file missing from the package shows);
4. what the notebooks' Colab cells (tagged ``colab``) install: each notebook's Colab cells are run
   once, in a kernel of the profile, with their %pip lines run as written.

It is built once and reused while its stamp (a hash of the profile, the start-up file, this file
and every Colab cell) matches; the course package alone is reinstalled when ``src/`` changes. A
file lock keeps two test workers from building it at once. A Jupyter kernelspec for it lives
inside the environment (``.venv/colab/share/jupyter/kernels``) and is passed to nbclient
directly: nothing is registered in the user's Jupyter paths.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sidebyside.instructor.grading.gradebook_writes import file_lock

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "requirements-colab.txt"
STARTUP = Path(__file__).resolve().parent / "colab_startup.py"
ENV = ROOT / ".venv" / "colab"
LOCK = ROOT / ".venv" / "colab.lock"
KERNEL_NAME = "colab-profile"
#: What COLAB_RELEASE_TAG says in the profile's kernel (Colab sets it to its release's name).
RELEASE_TAG = "colab-profile-check"
#: Bump when build() installs differently: an environment built otherwise is built again.
BUILD_STEPS = "1: venv, pip, profile, course package, notebooks' Colab cells"
#: Colab's packages that the notebooks' own installs must leave as they are (their Colab cells say so).
KEPT = ("torch", "tensorflow", "keras", "numpy", "ipywidgets", "ipython", "ipykernel")

FAKE_COLAB = '''"""A fake google.colab for the course's Colab profile check (tests/colab_profile.py): present and
imported at kernel start-up as on Colab, with none of Colab's APIs."""

__version__ = "0+colab-profile-check"
'''


def say(message: str) -> None:
    print(f"[colab profile] {message}", flush=True)


# --- What the notebooks' Colab cells do -------------------------------------------------------


def notebooks() -> list[Path]:
    return sorted((ROOT / "lessons").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*/*.ipynb"))


def colab_cells(path: Path) -> list[str]:
    """The sources of a notebook's code cells tagged ``colab``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code" and "colab" in c.metadata.get("tags", [])]


def is_course_install(line: str) -> bool:
    return "sidebyside @ git+" in line or "sidebyside@git+" in line


def installs_something(cells: list[str]) -> bool:
    """Whether Colab cells install more than the course package (a %pip line of their own)."""
    for source in cells:
        for line in source.splitlines():
            stripped = line.strip()
            if stripped.startswith(("%pip", "!pip")) and not is_course_install(stripped):
                return True
    return False


# --- Stamps -----------------------------------------------------------------------------------


def _digest(parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def env_stamp() -> str:
    """What the built environment depends on: how it is built, the profile's pins (not its
    comments), the Python and every notebook's Colab cells. (The start-up file, the fake google.colab and the kernelspec are
    written again at every use; the course package has its own stamp.)"""
    pins = [line.split("#")[0].strip() for line in PROFILE.read_text().splitlines()]
    parts = [BUILD_STEPS, *[pin for pin in pins if pin], sys.version, _base_python()]
    for path in notebooks():
        parts += [str(path.relative_to(ROOT)), *colab_cells(path)]
    return _digest(parts)


def package_stamp() -> str:
    """The course package's files (reinstalled into the profile when they change)."""
    files = [ROOT / "pyproject.toml", *sorted(p for p in (ROOT / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p))]
    return _digest(x for p in files for x in (str(p.relative_to(ROOT)), p.read_bytes()))


# --- Building ---------------------------------------------------------------------------------


def _base_python() -> str:
    """The course's own interpreter (not its virtual environment's launcher)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def python() -> Path:
    return ENV / "bin" / "python"


def site_packages() -> Path:
    out = subprocess.run([str(python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def ipython_dir() -> Path:
    return ENV / "ipython"


def kernel_dir() -> Path:
    return ENV / "share" / "jupyter" / "kernels"


def _pip(*args: str, env: dict | None = None) -> None:
    command = [str(python()), "-m", "pip", "install", "--quiet", *args]
    say("$ " + " ".join(command[1:]))
    subprocess.run(command, check=True, env=env)


def _pins() -> dict[str, str]:
    pins = {}
    for line in PROFILE.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def installed_versions(names) -> dict[str, str | None]:
    code = (
        "import json, sys\nfrom importlib import metadata\nout = {}\n"
        "for n in sys.argv[1:]:\n    try:\n        out[n] = metadata.version(n)\n    except metadata.PackageNotFoundError:\n        out[n] = None\n"
        "print(json.dumps(out))"
    )
    out = subprocess.run([str(python()), "-c", code, *names], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def drift() -> dict[str, tuple[str, str | None]]:
    """Pinned packages whose installed version differs from the profile: ``{name: (pinned, installed)}``.
    Local version labels (torch's ``+cpu``) are ignored."""
    pins = _pins()
    found = installed_versions(pins)
    return {n: (v, found[n]) for n, v in pins.items() if (found[n] or "").split("+")[0] != v}


def install_package() -> None:
    """The course package from the checkout, --no-deps, built as a wheel from a copy of the files a
    clone has (so nothing is written into the checkout)."""
    with tempfile.TemporaryDirectory(prefix="sidebyside-colab-") as tmp:
        copy = Path(tmp) / "side-by-side"
        copy.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, copy / name)
        shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        _pip("--no-deps", "--force-reinstall", str(copy))
    (ENV / ".package-stamp").write_text(package_stamp())


def install_kernel_side() -> None:
    """The fake google.colab, the IPython start-up file and the kernelspec (cheap: written at
    every use, so changing them rebuilds nothing)."""
    colab = site_packages() / "google" / "colab"
    colab.mkdir(parents=True, exist_ok=True)
    if not (colab / "__init__.py").is_file() or (colab / "__init__.py").read_text() != FAKE_COLAB:
        (colab / "__init__.py").write_text(FAKE_COLAB)
    startup = ipython_dir() / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    shutil.copy2(STARTUP, startup / "00-colab-profile.py")
    write_kernelspec()


def write_kernelspec() -> Path:
    spec = kernel_dir() / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python()), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (Colab profile)",
                "language": "python",
                # PYDEVD_DISABLE_FILE_VALIDATION: ipykernel 6.17's debugger otherwise warns on the
                # kernel's stderr, at every start, that Python 3.11 uses frozen modules.
                "env": {"IPYTHONDIR": str(ipython_dir()), "COLAB_RELEASE_TAG": RELEASE_TAG, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
            },
            indent=1,
        )
    )
    return spec


def install_colab_cells() -> None:
    """Run each notebook's Colab cells that install something, in a fresh kernel of the profile,
    with their %pip lines run as written (the same cells run once per notebook with the same
    sources are run once)."""
    import nbformat

    done = set()
    for path in notebooks():
        cells = colab_cells(path)
        if not installs_something(cells) or tuple(cells) in done:
            continue
        done.add(tuple(cells))
        say(f"running the Colab cells of {path.relative_to(ROOT)} (their %pip lines install into the profile)")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
        with tempfile.TemporaryDirectory(prefix="colab-cells-") as tmp:
            ran = execute(nb, Path(tmp), mode="build", timeout=1200)
        for cell in ran.cells:
            for output in cell.get("outputs", []):
                text = output.get("text") or "\n".join(output.get("traceback", []))
                for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines():
                    # pip 24's complaint about this machine's local package index, once per package
                    if line.strip() and "is ignored: it is neither a file nor a directory" not in line:
                        print("    " + line, flush=True)
        errors = problems(ran)
        if errors:
            raise RuntimeError(f"the Colab cells of {path.relative_to(ROOT)} failed in the profile: {errors[0]}")


def ensure(rebuild: bool = False) -> dict:
    """Build the profile, or reuse it; return what was done and how long it took."""
    started = time.perf_counter()
    with file_lock(LOCK):  # two xdist workers never build at once
        stamp_file = ENV / ".stamp"
        stamp = env_stamp()
        cached = not rebuild and stamp_file.is_file() and stamp_file.read_text() == stamp and python().exists()
        package_file = ENV / ".package-stamp"
        if not cached:
            build(stamp)
        elif not package_file.is_file() or package_file.read_text() != package_stamp():
            say("the course package changed: reinstalling it from the checkout (--no-deps)")
            install_package()
        if cached:
            install_kernel_side()
    seconds = time.perf_counter() - started
    say(f"{'reused' if cached else 'built'} {ENV.relative_to(ROOT)} in {seconds:.1f} s")
    return {"cached": cached, "seconds": seconds}


def build(stamp: str) -> None:
    say(f"building {ENV.relative_to(ROOT)} from {PROFILE.name} with {_base_python()}")
    if ENV.exists():
        shutil.rmtree(ENV)
    subprocess.run([_base_python(), "-m", "venv", str(ENV)], check=True)
    pins = _pins()
    _pip(f"pip=={pins['pip']}")
    _pip("-r", str(PROFILE))
    install_kernel_side()
    install_package()
    install_colab_cells()
    changed = drift()
    (ENV / "drift.json").write_text(json.dumps(changed, indent=1))
    for name, (pinned, got) in sorted(changed.items()):
        say(f"the notebooks' Colab installs changed {name}: Colab's {pinned}, now {got}")
    (ENV / ".stamp").write_text(stamp)


# --- Running notebooks --------------------------------------------------------------------------


def kernel_environment(mode: str = "check") -> dict:
    """The kernel's environment: this process's, less what the course's own set-up or a test
    adds, with the profile's bin/ first on PATH (as Colab's /usr/local/bin)."""
    env = dict(os.environ)
    for name in ("SIDEBYSIDE_DEVICE", "NBGRADER_EXECUTION", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH", "IPYTHONDIR", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND"):
        env.pop(name, None)
    course_bin = str(Path(sys.executable).parent)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != course_bin]
    env["PATH"] = os.pathsep.join([str(ENV / "bin"), *path])
    env["COLAB_PROFILE_MODE"] = mode
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # Colab sets it so
    return env


def execute(nb, cwd: Path, *, mode: str = "check", timeout: int = 300):
    """Run ``nb`` in place in a kernel of the profile, in ``cwd``; errors stay in the outputs."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir())]))
    client = NotebookClient(nb, km=km, timeout=timeout, startup_timeout=120, allow_errors=False, resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=kernel_environment(mode), cwd=str(cwd))
    except (CellExecutionError, CellTimeoutError) as error:
        nb.metadata["colab_profile_error"] = str(error).strip().splitlines()[-1][:300] if str(error).strip() else type(error).__name__
    finally:
        # nbclient shuts down only the kernels it made itself; this one was handed to it.
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb


def problems(nb) -> list[str]:
    """Each traceback or error in a run notebook's outputs, and code cells that never ran."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                evalue = " | ".join(line.strip() for line in str(output.get("evalue", "")).splitlines() if line.strip())
                found.append(f"cell {index}: {output.get('ename')}: {evalue[:600]}")
            elif output.get("output_type") == "stream" and "Traceback (most recent call last)" in output.get("text", ""):
                text = output["text"]
                last = [line for line in text[text.index("Traceback") :].splitlines() if line.strip() and not line.startswith(" ")]
                found.append(f"cell {index}: traceback in {output.get('name')}: {last[-1] if last else 'Traceback'}")
    error = nb.metadata.get("colab_profile_error")
    if error and not found:
        found.append(error)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    never = [i for i in code if nb.cells[i].get("execution_count") is None]
    if never and not found:
        found.append(f"cells {never[:5]} never ran")
    return found


def skipped(nb) -> list[str]:
    """The lines the profile's kernel reported as skipped."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("[colab profile] skipped"):
                    lines.append(line)
    return lines


@dataclass
class Run:
    path: Path
    seconds: float
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notebook: object = None


def run(path: Path, cwd: Path, *, timeout: int = 300) -> Run:
    """Run a lesson or a solution top to bottom in the profile, in ``cwd`` (an empty folder, like
    Colab's /content), as a student on Colab would (a solution as itself, outside nbgrader)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    execute(nb, cwd, timeout=timeout)
    seconds = time.perf_counter() - started
    return Run(Path(path), seconds, problems(nb), skipped(nb), nb)


def slowest_cells(nb, count: int) -> list[tuple[float, int, str]]:
    """(seconds, index, first line) of a run notebook's ``count`` slowest code cells, from the
    timings nbclient records (benchmarks/notebooks.py reads them)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmark_notebooks", ROOT / "benchmarks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return sorted(module.cell_seconds(nb), reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build_parser = sub.add_parser("build", help="build or reuse .venv/colab")
    build_parser.add_argument("--rebuild", action="store_true", help="build it again even if its stamp matches")
    run_parser = sub.add_parser("run", help="run notebooks in the profile")
    run_parser.add_argument("paths", nargs="*", type=Path)
    run_parser.add_argument("--repeat", type=int, default=1)
    run_parser.add_argument("--slowest", type=int, default=0, metavar="N", help="also print each run's N slowest cells")
    run_parser.add_argument("--json", type=Path, help="also write each run's figures here")
    args = parser.parse_args()
    if args.command == "build":
        ensure(rebuild=args.rebuild)
        return 0
    ensure()
    failed, rows = 0, []
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for path in [p.resolve() for p in args.paths] or notebooks():
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="colab-run-") as tmp:
                result = run(path, Path(tmp))
            failed += bool(result.problems)
            verdict = "ok" if not result.problems else f"FAILED: {result.problems[0]}"
            print(f"{str(path.relative_to(ROOT)):<55} {result.seconds:7.1f} s  {verdict}", flush=True)
            slow = slowest_cells(result.notebook, args.slowest)
            for seconds, index, first in slow:
                print(f"    cell {index:>3} {seconds:6.1f} s  {first}", flush=True)
            rows.append({"notebook": str(path.relative_to(ROOT)), "seconds": round(result.seconds, 1), "problems": result.problems, "skipped": result.skipped, "slowest": slow})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
