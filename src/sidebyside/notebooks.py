"""Keeping notebooks clean and canonical, and running them headless.

Clean means: no outputs, execution counts or widget state; only metadata that matters
(kernelspec, tags, nbgrader's cell metadata) is kept; every cell has a unique id. Canonical
means: written exactly as ``nbformat`` writes it, so a clean notebook re-cleans to the same bytes.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
#: Cell metadata worth keeping; everything else (execution timing, scroll state...) is dropped.
KEPT_CELL_METADATA = ("tags", "nbgrader", "deletable", "editable")
#: The only cell tags the course uses: which framework a paired cell belongs to.
KNOWN_TAGS = {"pytorch", "tensorflow", "setup", "colab"}


def clean(nb):
    """Return ``nb`` (a NotebookNode) cleaned in place."""
    import nbformat

    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 5))
    nb.metadata = nbformat.from_dict({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    seen = set()
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict({k: cell.metadata[k] for k in KEPT_CELL_METADATA if k in cell.metadata})
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            if not cell.get("attachments"):
                cell.pop("attachments", None)
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen or not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", cell_id):
            cell.id = uuid.uuid4().hex[:8]
        seen.add(cell.id)
    return nb


def canonical_text(nb) -> str:
    import nbformat

    return nbformat.writes(nb) + "\n"


def clean_file(path: Path, check: bool = False) -> bool:
    """Clean the notebook at ``path``; return True if it was not clean already.

    With ``check`` the file is left alone (the test suite uses this).
    """
    import nbformat

    path = Path(path)
    before = path.read_text(encoding="utf-8")
    text = canonical_text(clean(nbformat.reads(before, as_version=4)))
    changed = text != before
    if changed and not check:
        path.write_text(text, encoding="utf-8")
    return changed


def notebook_paths(*folders: Path) -> list[Path]:
    paths = []
    for folder in folders:
        folder = Path(folder)
        found = [folder] if folder.suffix == ".ipynb" else folder.rglob("*.ipynb")
        paths += [p for p in found if ".ipynb_checkpoints" not in p.parts]
    return sorted(paths)


@dataclass
class Run:
    """One headless execution of a notebook."""

    path: Path
    seconds: float
    peak_memory_mb: float
    notebook: object


# The kernel's peak resident memory. On Linux, VmHWM of this process image; not ru_maxrss,
# which keeps the high-water mark of the process that forked the kernel (here, a test worker
# that may hold both frameworks already).
_PEAK_MEMORY_PROBE = """
import re as _re, resource as _r
try:
    with open("/proc/self/status") as _f:
        print("PEAK_RSS_KB", _re.search(r"VmHWM:\\s+(\\d+) kB", _f.read()).group(1))
except OSError:
    print("PEAK_RSS_KB", _r.getrusage(_r.RUSAGE_SELF).ru_maxrss // 1024)  # macOS: bytes
"""


def run(path: Path, *, timeout: int = 600, env: dict | None = None, cwd: Path | None = None) -> Run:
    """Execute a notebook top to bottom in a fresh ``python3`` kernel, as a student would.

    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell. Measures the
    wall time and the kernel's peak resident memory.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_MEMORY_PROBE))
    kernel_env = dict(os.environ if env is None else env)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd or path.parent)}},
    )
    start = time.perf_counter()
    client.execute(env=kernel_env)
    seconds = time.perf_counter() - start
    probe = nb.cells.pop()
    text = "".join(o.get("text", "") for o in probe.outputs)
    match = re.search(r"PEAK_RSS_KB (\d+)", text)
    peak_mb = int(match.group(1)) / 1024 if match else float("nan")
    return Run(path, seconds, peak_mb, nb)
