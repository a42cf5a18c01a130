"""nbgrader's ``Execute`` preprocessor, guarded: the parent-side half of the grading guard.

``sidebyside grade`` runs ``nbgrader autograde`` with this class in place of nbgrader's
``Execute`` (``c.Autograde.autograde_preprocessors``), so nbgrader still sanitizes,
executes, scores and saves; this class only adds, around nbgrader's own cell execution:

- the kernel is forked from the worker's kernel server, inside its sandbox (:mod:`.sandbox`,
  :mod:`.warm_start`), in a fresh folder holding only the assignment's extra files, never
  next to the autograded notebook (which holds the hidden tests);
- the in-kernel guard (:mod:`.kernel_guard`) is installed before the first cell and called
  before every read-only cell (putting back what student cells tampered with) and after every
  test cell (if the test's own run tampered, the cell gets an error output and scores 0);
- a test cell whose outputs hold an error scores 0 even if student code published an
  ``execute_result`` first (nbgrader reads only the first such output: a student function
  calling ``get_ipython().displayhook(3.0)`` before failing would otherwise earn 3 points);
- a kernel that dies (``os._exit``, a crash, the memory cap) stops the run of that notebook
  but not its grading: the cell that was running and every later code cell get a
  ``KernelDied`` error output, the cells before keep their scores, and the event is reported.

Its settings are traitlets options, set by :func:`sidebyside.instructor.grading.student.nbgrader_options`.
"""

from __future__ import annotations

import ast
import json
import secrets
import shutil
import time
import uuid
from pathlib import Path
from queue import Empty

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Unicode

GUARD_TIMEOUT = 60  # seconds for one guard call; a kernel that cannot answer fails the cell


def is_test_cell(cell) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def is_trusted_cell(cell) -> bool:
    """Read-only cells (instructor code and tests): their source is the instructor's, restored
    by nbgrader's OverwriteCells from the gradebook."""
    return cell.cell_type == "code" and "nbgrader" in cell.metadata and utils.is_locked(cell) and not utils.is_solution(cell)


def names_in(source: str) -> tuple[set[str], set[str], set[str]]:
    """(names loaded, names stored, dotted attribute chains) in ``source``, IPython magics
    ignored."""
    lines = [("pass" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set(), set(), set()
    loads, stores, chains = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else stores).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Attribute):
            parts, inner = [], node
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name):
                chains.add(".".join([inner.id, *reversed(parts)]))
    return loads, stores, chains


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class GradingKernelManager(AsyncKernelManager):
    """Starts the student's kernel as a fork of the worker's kernel server, in its sandbox
    (:mod:`.warm_start`); without a ``kernel_server``, the ordinary way."""

    kernel_server = Unicode("", help="Unix socket of the worker's kernel server").tag(config=True)

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None and self.kernel_server:
            from . import warm_start

            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = warm_start.provisioner(self.kernel_id, self.kernel_spec, self, address=self.kernel_server)
        return await super()._async_pre_start_kernel(**kw)


class GuardedExecute(Execute):
    """nbgrader's Execute with the grading guard around every cell (see the module text)."""

    findings_file = Unicode("", help="where the guard's findings are written (JSON)").tag(config=True)
    kernel_input = Unicode("", help="folder for the files the kernel starts with (the assignment's extra files)").tag(config=True)

    def __init__(self, *args, **kwargs):
        # a keyword, not a config option: nbgrader's Execute passes AsyncKernelManager as one, and keywords outrank config
        kwargs.setdefault("kernel_manager_class", GradingKernelManager)
        super().__init__(*args, **kwargs)

    # --- whole notebook ---------------------------------------------------------------------

    def preprocess(self, nb, resources=None, km=None):
        self._findings: list[dict] = []
        self._dead_at: int | None = None
        self._guard = "__sbs_guard_" + secrets.token_hex(8)
        self._installed = False
        self._chains = sorted(set().union(*(names_in(cell.source)[2] for cell in nb.cells if is_trusted_cell(cell))))
        if self.kernel_input and resources is not None:
            # only the extra files: never the autograded notebook's folder (see the module text)
            source = Path(resources.get("metadata", {}).get("path") or ".")
            target = Path(self.kernel_input)
            target.mkdir(parents=True, exist_ok=True)
            for item in source.iterdir():
                if item.suffix != ".ipynb" and item.is_file():
                    shutil.copy(item, target / item.name)
                elif item.is_dir() and item.name not in (".ipynb_checkpoints",):
                    shutil.copytree(item, target / item.name, dirs_exist_ok=True)
            resources.setdefault("metadata", {})["path"] = str(target)
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self.findings_file:
                Path(self.findings_file).write_text(json.dumps({"findings": self._findings, "kernel_died_at": self._dead_at}, indent=1))

    def _note(self, kind: str, cell, index: int, details: list[str] | str):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        self._findings.append({"kind": kind, "cell": grade_id, "index": index, "details": details})

    # --- the guard ----------------------------------------------------------------------------

    async def _call(self, code: str, expression: str) -> str | None:
        """Run ``code`` silently in the kernel and return the value of ``expression`` (a str),
        or None when the kernel did not answer as expected."""
        try:
            msg_id = await ensure_async(
                self.kc.execute(code, silent=True, store_history=False, user_expressions={"r": expression}, stop_on_error=False)
            )
            reply = None
            deadline = time.monotonic() + GUARD_TIMEOUT
            while reply is None:
                if time.monotonic() > deadline:
                    await ensure_async(self.km.interrupt_kernel())
                    return None
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=1))
                except Empty:
                    if not await ensure_async(self.kc.is_alive()):
                        return None
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg
        except Exception:  # noqa: BLE001 - a guard that cannot answer is reported, not fatal
            return None
        if reply["content"].get("status") != "ok":
            return None
        result = reply["content"].get("user_expressions", {}).get("r", {})
        if result.get("status") != "ok":
            return None
        try:
            return ast.literal_eval(result["data"]["text/plain"])
        except (ValueError, SyntaxError, KeyError):
            return None

    async def _guard_call(self, action: str, cell, index: int, loads=(), stores=()) -> list[str] | None:
        nonce = secrets.token_hex(8)
        code = f"{self._guard}({action!r}, {nonce!r}, {sorted(loads)!r}, {sorted(stores)!r})"
        raw = await self._call(code, f"{self._guard}.last")
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = None
        if not answer or answer.get("nonce") != nonce:
            self._note("guard", cell, index, f"the grading guard did not answer before/after this cell ({action})")
            return None
        return answer["changes"]

    async def _install(self):
        code = (
            "__import__('sidebyside.instructor.grading.kernel_guard', fromlist=['install'])"
            f".install(get_ipython(), {self._guard!r}, {json.dumps(self._chains)!r})"
        )
        raw = await self._call(code, f"{self._guard}.last")
        self._installed = bool(raw)
        if not self._installed:
            self._findings.append({"kind": "guard", "cell": None, "index": -1, "details": "the grading guard could not be installed"})

    # --- one cell -----------------------------------------------------------------------------

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self._dead_at is not None:
            cell.outputs = [error_output("KernelDied", f"the kernel died in cell {self._dead_at}; this cell was not run")]
            return cell
        if not self._installed:
            await self._install()
        trusted, test = is_trusted_cell(cell), is_test_cell(cell)
        loads, stores, _ = names_in(cell.source)
        guard_failed = False
        if trusted and self._installed:
            changes = await self._guard_call("before", cell, cell_index, loads=loads)
            if changes is None:
                guard_failed = True
            elif changes:
                self._note("restored", cell, cell_index, changes)
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            self._dead_at = cell_index
            cell.outputs = list(cell.get("outputs", [])) + [error_output("KernelDied", "the kernel died while running this cell")]
            self._note("kernel_died", cell, cell_index, "the kernel died while running this cell")
            return cell
        if trusted and self._installed:
            action = "after_test" if test else "after_instructor"
            changes = await self._guard_call(action, cell, cell_index, stores=stores)
            if changes is None:
                guard_failed = True
            elif changes and test:
                guard_failed = True
                self._note("tampered", cell, cell_index, changes)
        if test:
            if guard_failed:
                cell.outputs.append(error_output("GradingIntegrityError", "this test cell could not be run in a trusted state; it scores 0 and is sent to manual review"))
            # nbgrader scores by the first error / stderr / execute_result output: errors first.
            bad = [o for o in cell.outputs if o.output_type == "error" or (o.output_type == "stream" and o.get("name") == "stderr")]
            if bad and any(o.output_type == "execute_result" for o in cell.outputs):
                self._note("reordered", cell, cell_index, "an execute_result came before an error: the error counts")
                cell.outputs = bad + [o for o in cell.outputs if o not in bad]
        return cell


# nbclient binds the sync wrapper to its own coroutine at class creation: rebind it to ours.
GuardedExecute.execute_cell = run_sync(GuardedExecute.async_execute_cell)
