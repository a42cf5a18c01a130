"""Check a submission before grading: repair what can be repaired, flag the rest.

Nothing in ``submitted/`` is ever changed: :func:`precheck` reads the submission and returns
the notebooks to grade (repaired copies) and the extra files that may go with them, plus a
list of :class:`Finding` s (repaired, info or review: see :class:`.results.Severity`).
Nothing is silently zeroed.

What it checks:

- the notebook is there (a single renamed notebook, ``02-graph-generation (1).ipynb``, is
  graded under its expected name), is valid JSON and a valid notebook;
- the kernel is the released one (nbgrader's ``OverwriteKernelspec`` puts the released one back);
- every read-only cell of the release is present once (deleted ones are put back where they
  were, duplicated ones removed; edited ones are restored by nbgrader's checksums), cell
  types are the released ones (nbgrader converts them back);
- answer cells are present (a deleted answer cell means its tests score 0: flagged);
- extra files: one that would shadow a module (``numpy.py``, ``torch/``) is not copied;
- answer cells that use the tools of an attack on the grader (``get_ipython``, ``builtins``,
  ``__eq__``, ``os._exit``, ``sys.modules``...) are sent to manual review.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .results import Finding, Severity

REPAIRED, INFO, REVIEW = Severity.REPAIRED, Severity.INFO, Severity.REVIEW


@dataclass
class Prechecked:
    """What to grade: ``notebooks`` maps each expected notebook name (no suffix) to the
    repaired notebook, or to None when it could not be read; ``files`` are extra files (paths
    in submitted/) to copy along."""

    student: str
    notebooks: dict[str, object] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def gradable(self) -> bool:
        return any(nb is not None for nb in self.notebooks.values())

    def add(self, severity: Severity, code: str, message: str):
        self.findings.append(Finding(severity, code, message))


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _grade_id(cell):
    return _meta(cell).get("grade_id")


def _is_readonly(cell) -> bool:
    """Read-only cells: instructor code/markdown and autograded tests."""
    m = _meta(cell)
    return bool(m.get("grade_id")) and not m.get("solution") and (m.get("locked") or m.get("grade"))


# --- suspicious code ------------------------------------------------------------------------

_SUSPICIOUS_NAMES = {
    "get_ipython": "reaches into the IPython shell",
    "builtins": "touches builtins",
    "__builtins__": "touches builtins",
    "__import__": "imports dynamically",
    "ctypes": "uses ctypes",
    "gc": "walks live objects (gc)",
    "inspect": "inspects frames or source",
    "signal": "handles signals",
    "subprocess": "starts processes",
    "socket": "opens sockets",
    "exec": "executes strings as code",
    "eval": "evaluates strings as code",
    "globals": "rewrites globals",
    "setattr": "sets attributes dynamically",
}
_SUSPICIOUS_ATTRS = {
    "_exit": "kills the process (os._exit)",
    "kill": "sends signals",
    "abort": "aborts the process",
    "excepthook": "replaces the exception hook",
    "showtraceback": "replaces traceback display",
    "set_custom_exc": "installs a custom exception handler",
    "input_transformers_cleanup": "rewrites cells before they run",
    "input_transformers_post": "rewrites cells before they run",
    "input_transformer_manager": "rewrites cells before they run",
    "ast_transformers": "rewrites cells before they run",
    "events": "registers IPython event hooks",
    "register": "registers hooks",
    "settrace": "installs a trace function",
    "setprofile": "installs a profile function",
    "modules": "touches sys.modules",
    "_getframe": "reads the caller's frame",
    "f_back": "reads the caller's frame",
    "f_globals": "reads the caller's frame",
    "f_locals": "reads the caller's frame",
    "__code__": "rewrites function code",
    "__class__": "rewrites object classes",
    "system": "runs shell commands",
    "popen": "runs shell commands",
}
_SUSPICIOUS_DEFS = {
    "__eq__": "defines __eq__ (an object that compares equal to anything?)",
    "__ne__": "defines __ne__",
    "__bool__": "defines __bool__",
    "__instancecheck__": "defines __instancecheck__",
    "__getattr__": "defines __getattr__",
    "__del__": "defines __del__",
}
_PATH_HINTS = re.compile(r"(\.\./|gradebook|submitted|autograded|solutions|source/|feedback|/proc/|/etc/)")


def suspicious(source: str) -> list[str]:
    """Why ``source`` (one answer cell) looks like an attack on the grader; empty if clean."""
    lines = [("pass" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()]
    reasons: set[str] = set()
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        reasons.add("uses IPython magics or shell escapes")
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return sorted(reasons)
    module_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top in _SUSPICIOUS_NAMES:
                    reasons.add(_SUSPICIOUS_NAMES[top])
                module_names.add(top)
            for alias in node.names:
                module_names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.Name) and node.id in _SUSPICIOUS_NAMES:
            reasons.add(_SUSPICIOUS_NAMES[node.id])
        elif isinstance(node, ast.Attribute) and node.attr in _SUSPICIOUS_ATTRS:
            reasons.add(_SUSPICIOUS_ATTRS[node.attr])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _SUSPICIOUS_DEFS:
            reasons.add(_SUSPICIOUS_DEFS[node.name])
        elif isinstance(node, ast.Global):
            reasons.add("rebinds globals from inside a function")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _PATH_HINTS.search(node.value):
            reasons.add(f"names a path outside its own work ({node.value[:40]!r})")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                # np.allclose = ..., checks.assert_close = ..., torch.Tensor.numpy = ...
                if isinstance(target, ast.Attribute):
                    root = target
                    while isinstance(root, ast.Attribute):
                        root = root.value
                    if isinstance(root, ast.Name) and (root.id in module_names or root.id in ("np", "torch", "tf", "checks", "sbs", "math", "sys", "os")):
                        reasons.add(f"assigns to a module attribute ({ast.unparse(target)})")
    return sorted(reasons)


# --- modules an extra file could shadow -----------------------------------------------------


def shadows_module(path: Path, imported: set[str]) -> str | None:
    """The module name that ``path`` (an extra file or folder in a submission) would shadow
    from the kernel's working folder, or None."""
    if path.is_dir():
        name = path.name
    elif path.suffix in (".py", ".pyc", ".pyw", ".so", ".pyd", ".pth"):
        name = path.name.split(".")[0]
    else:
        return None
    if not name.isidentifier():
        return None
    if name in imported or name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return name
    with contextlib.suppress(ImportError, ValueError):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def imported_modules(nb) -> set[str]:
    statement = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", re.M)
    return {name for cell in nb.cells if cell.cell_type == "code" for name in statement.findall(cell.source)}


# --- the check ----------------------------------------------------------------------------


def _read(path: Path, result: Prechecked):
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        result.add(REVIEW, "invalid_json", f"{path.name} is not valid JSON ({error}); it was not graded")
        return None
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as error:  # noqa: BLE001 - any reader error means the same thing here
        result.add(REVIEW, "invalid_notebook", f"{path.name} is not a readable notebook ({error}); it was not graded")
        return None
    if data.get("nbformat") != 4:
        result.add(REPAIRED, "old_format", f"{path.name} was nbformat {data.get('nbformat')}; converted to 4")
    try:
        nbformat.validate(nb)
    except Exception as error:  # noqa: BLE001
        result.add(INFO, "schema", f"{path.name} does not fully follow the notebook schema ({str(error)[:120]}); grading it anyway")
    return nb


def _find_candidate(folder: Path, name: str, expected: set[str]) -> Path | None:
    others = [p for p in folder.glob("*.ipynb") if p.stem not in expected]
    if len(others) == 1:
        return others[0]
    close = [p for p in others if p.stem.startswith(name) or name in p.stem]
    return close[0] if len(close) == 1 else None


def repair_cells(nb, release, result: Prechecked, name: str):
    """Put back deleted read-only cells (nbgrader's ``add_missing_cells`` puts back only grade
    and task cells, and fails on one that follows a plain read-only cell) and drop duplicated
    ones; what nbgrader restores itself (the kernelspec, cell types, sources) is reported."""
    nb = copy.deepcopy(nb)
    release_ids = [_grade_id(c) for c in release.cells]
    by_id = {_grade_id(c): c for c in release.cells if _grade_id(c)}

    # kernel (nbgrader's OverwriteKernelspec puts back the one its gradebook holds; say so)
    want, have = release.metadata.get("kernelspec", {}), nb.metadata.get("kernelspec", {})
    if have.get("name") != want.get("name"):
        result.add(REPAIRED, "kernel", f"{name}: kernel {have.get('name')!r}; nbgrader runs the released {want.get('name')!r}")

    # duplicates: keep the first copy of a read-only cell; answer cells are the student's
    seen: set[str] = set()
    cells = []
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid and gid in seen:
            if gid in by_id and _is_readonly(by_id[gid]):
                result.add(REPAIRED, "duplicate", f"{name}: read-only cell {gid!r} appeared twice; the extra copy was removed")
                continue
            result.add(INFO, "duplicate", f"{name}: answer cell {gid!r} appears twice; nbgrader grades the last copy, both run")
        if gid:
            seen.add(gid)
        cells.append(cell)
    nb.cells = cells

    # deleted cells
    present = {_grade_id(c) for c in nb.cells}
    for index, gid in enumerate(release_ids):
        if not gid or gid in present:
            continue
        source_cell = by_id[gid]
        if _is_readonly(source_cell):
            # insert after the nearest earlier release cell that is present
            position = 0
            for previous in reversed(release_ids[:index]):
                if previous in present:
                    position = next(i for i, c in enumerate(nb.cells) if _grade_id(c) == previous) + 1
                    break
            nb.cells.insert(position, copy.deepcopy(source_cell))
            present.add(gid)
            kind = "test" if _meta(source_cell).get("grade") else "read-only"
            result.add(REPAIRED, "deleted", f"{name}: {kind} cell {gid!r} was deleted; put back from the release")
        elif _meta(source_cell).get("grade"):
            result.add(REVIEW, "deleted_answer", f"{name}: the manually graded answer {gid!r} was deleted")
        else:
            result.add(REVIEW, "deleted_answer", f"{name}: answer cell {gid!r} was deleted; its tests will likely score 0")

    # retyped cells and edited read-only cells (nbgrader converts them back and restores
    # them by checksum; say so)
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid not in by_id:
            continue
        if cell.cell_type != by_id[gid].cell_type:
            result.add(REPAIRED, "retyped", f"{name}: cell {gid!r} was changed to {cell.cell_type}; nbgrader turns it back into {by_id[gid].cell_type}")
        elif _is_readonly(by_id[gid]) and _strip_hidden(cell.source).strip() != _strip_hidden(by_id[gid].source).strip():
            kind = "test" if _meta(by_id[gid]).get("grade") else "read-only"
            result.add(REPAIRED, "edited", f"{name}: {kind} cell {gid!r} was edited; nbgrader restores the original")
    return nb


def _strip_hidden(source: str) -> str:
    return re.sub(r"(?ms)^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", "", source)


def precheck(student: str, folder: Path, release_folder: Path) -> Prechecked:
    """Check ``folder`` (``submitted/STUDENT/ASSIGNMENT``) against the released notebooks."""
    folder, release_folder = Path(folder), Path(release_folder)
    result = Prechecked(student)
    expected = sorted(p.stem for p in release_folder.glob("*.ipynb"))
    if not folder.is_dir():
        result.add(REVIEW, "missing", f"no submission folder {folder}")
        result.notebooks = {name: None for name in expected}
        return result
    used: set[Path] = set()
    imported: set[str] = set()
    for name in expected:
        release = nbformat.read(release_folder / f"{name}.ipynb", as_version=4)
        imported |= imported_modules(release)
        path = folder / f"{name}.ipynb"
        if not path.is_file():
            candidate = _find_candidate(folder, name, set(expected))
            if candidate is None:
                result.add(REVIEW, "missing_notebook", f"{name}.ipynb is missing (files: {sorted(p.name for p in folder.iterdir())})")
                result.notebooks[name] = None
                continue
            result.add(REPAIRED, "renamed", f"{candidate.name} graded as {name}.ipynb")
            path = candidate
        used.add(path)
        nb = _read(path, result)
        if nb is None:
            result.notebooks[name] = None
            continue
        nb = repair_cells(nb, release, result, name)
        release_ids = {_grade_id(c) for c in release.cells if _is_readonly(c)}
        for cell in nb.cells:
            if cell.cell_type != "code" or _grade_id(cell) in release_ids:
                continue
            if reasons := suspicious(cell.source):
                label = _grade_id(cell) or f"an added cell ({cell.source.strip().splitlines()[0][:40] if cell.source.strip() else ''})"
                result.add(REVIEW, "suspicious", f"{name}: {label} {'; '.join(reasons)}")
        result.notebooks[name] = nb

    for item in sorted(folder.iterdir()):
        if item in used or item.name == "timestamp.txt" or item.name in (".ipynb_checkpoints", "__pycache__"):
            continue
        if item.suffix == ".ipynb":
            result.add(INFO, "extra_notebook", f"extra notebook {item.name} is not graded")
            continue
        if module := shadows_module(item, imported):
            result.add(REVIEW, "shadow", f"{item.name} would shadow the module {module!r}; it was not copied for grading")
            continue
        result.add(INFO, "extra_file", f"extra file {item.name} copied for grading")
        result.files.append(item)
    return result
