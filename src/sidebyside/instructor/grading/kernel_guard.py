"""The in-kernel half of the grading guard: runs inside the student's kernel during
``sidebyside grade``, driven by :class:`sidebyside.instructor.grading.execute.GuardedExecute`.

Before every read-only (instructor or test) cell the grader asks this guard to put back
everything a student cell may have tampered with, and after every test cell to say whether
the test cell's run itself changed any of it (then the cell scores 0). What it watches:

- ``builtins`` (``isinstance = lambda *a: True``) and names that shadow builtins in the
  user namespace when the next trusted cell reads them;
- names bound by instructor cells (``assert_close = lambda *a, **k: None``,
  ``clip_reference = ...``) and the code, defaults and closures of instructor functions;
- the modules and classes trusted code reaches through attribute chains (``np.allclose``,
  ``torch._dynamo.explain``, ``checks.as_numpy``), every ``sidebyside`` module, and the
  Python-level tensor classes that :mod:`sidebyside.checks` converts (``torch.Tensor``);
- how cells run: IPython's input and AST transformers, event hooks (``post_run_cell``),
  custom exception handlers, ``showtraceback``, the traceback formatters, the compiler,
  the kernel's message handlers, ``sys.excepthook``/``displayhook``/``stdout``/``stderr``,
  trace and profile functions.

This is defence in depth, not a proof: code running in the same process can in principle
undo anything. The grader also scans the source of answer cells for the tools such attacks
need (:mod:`sidebyside.instructor.grading.precheck`) and sends those submissions to manual review.
"""

from __future__ import annotations

import builtins
import json
import re
import sys
import types

#: Modules watched whole (every attribute) once imported.
WATCHED_MODULES = ("builtins", "math", "operator", "numpy", "numpy.testing")
WATCHED_PREFIXES = ("sidebyside",)
#: Python-level classes whose methods sidebyside.checks relies on.
WATCHED_CLASSES = (
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("tensorflow.python.framework.ops", "_EagerTensorBase"),
    ("tensorflow.python.framework.ops", "EagerTensor"),
)
_SHELL_ATTRS = (
    "input_transformer_manager", "compile", "InteractiveTB", "SyntaxTB", "displayhook", "display_pub",
    "events", "custom_exceptions", "CustomTB", "kernel", "ast_transformers", "user_ns", "user_global_ns",
)
# (ipykernel itself swaps sys.excepthook and builtins.input around every request; IPython
# handles cell errors without sys.excepthook, so clearing it hides nothing.)
_SYS_ATTRS = ("displayhook", "stdout", "stderr", "breakpointhook", "meta_path", "path_hooks")
_KERNEL_SWAPPED_BUILTINS = ("input", "raw_input", "getpass")
_LAZY_CLASS_KEYS = ("__annotations__", "__abstractmethods__", "_abc_impl", "__slotnames__")  # created on first use (__slotnames__: by copyreg when an instance is pickled, e.g. by torch.export.save)
_FUNC_ATTRS = ("__code__", "__defaults__", "__kwdefaults__", "__globals__")


_VOLATILE = re.compile(r"^(_+|_i+|_i?\d+|_[iod]h|_exit_code|__doc__)$")


def _volatile(name: str) -> bool:
    """Names IPython itself rebinds after every cell (``_``, ``_i3``, ``_oh``...)."""
    return bool(_VOLATILE.match(name))


def _describe(value) -> str:
    text = getattr(value, "__qualname__", None) or (value.__name__ if isinstance(value, types.ModuleType) else type(value).__name__)
    return str(text)[:60]


class Guard:
    """Snapshots of what trusted cells rely on; ``check`` compares, reports and restores."""

    def __init__(self, shell, chains: list[str]):
        self.shell = shell
        self.chains = [c.split(".") for c in chains]
        self.protected = {k: v for k, v in shell.user_ns.items() if not _volatile(k)}  # bound by trusted code
        self.pre_ns: dict[str, object] = {}
        self.last = ""
        self.take()

    # --- snapshots -------------------------------------------------------------------------

    def _watched_modules(self):
        names = set(WATCHED_MODULES)
        names.update(n for n in list(sys.modules) if n.split(".")[0] in WATCHED_PREFIXES and "grading" not in n)
        for name in sorted(names):
            module = sys.modules.get(name)
            if isinstance(module, types.ModuleType):
                yield name, module

    def _chain_targets(self):
        """(owner, attribute) pairs along attribute chains read by trusted code."""
        found = []
        for chain in self.chains:
            head = chain[0]
            obj = self.protected.get(head, builtins.__dict__.get(head))
            for attr in chain[1:]:
                if not isinstance(obj, (types.ModuleType, type)):
                    break
                try:
                    value = obj.__dict__[attr] if attr in obj.__dict__ else getattr(obj, attr)
                except Exception:
                    break
                found.append((obj, attr, value))
                obj = value
        return found

    def take(self):
        """Record the current state as the trusted one."""
        shell = self.shell
        self.modules = {name: (module, dict(module.__dict__)) for name, module in self._watched_modules()}
        classes = []
        for module_name, cls_name in WATCHED_CLASSES:
            cls = getattr(sys.modules.get(module_name), cls_name, None)
            if isinstance(cls, type):
                classes.append((cls, dict(cls.__dict__)))
        for cls in type(shell).__mro__ + type(shell.kernel).__mro__ + type(shell.compile).__mro__:
            if cls is not object and not any(cls is c for c, _ in classes):
                classes.append((cls, dict(cls.__dict__)))
        self.classes = classes
        self.chain_values = self._chain_targets()
        functions = {}
        for value in [*self.protected.values(), *(v for _, _, v in self.chain_values)]:
            self._add_function(functions, value)
        for _, saved in self.modules.values():
            for value in saved.values():
                if getattr(value, "__module__", "") and str(getattr(value, "__module__", "")).startswith("sidebyside"):
                    self._add_function(functions, value)
        self.functions = functions
        self.instance_dicts = [
            (obj, {k: v for k, v in vars(obj).items() if callable(v)}) for obj in (shell, shell.kernel, shell.compile, shell.InteractiveTB)
        ]
        itm = shell.input_transformer_manager
        self.lists = [
            ("input transformers (cleanup)", itm.cleanup_transforms, list(itm.cleanup_transforms)),
            ("input transformers (line)", itm.line_transforms, list(itm.line_transforms)),
            ("input transformers (token)", itm.token_transformers, list(itm.token_transformers)),
            ("AST transformers", shell.ast_transformers, list(shell.ast_transformers)),
            ("import hooks (sys.meta_path)", sys.meta_path, list(sys.meta_path)),
        ]
        self.lists += [(f"event hooks ({name})", hooks, list(hooks)) for name, hooks in shell.events.callbacks.items()]
        self.handlers = dict(shell.kernel.shell_handlers)
        self.shell_attrs = {name: getattr(shell, name, None) for name in _SHELL_ATTRS}
        self.sys_attrs = {name: getattr(sys, name, None) for name in _SYS_ATTRS}

    @staticmethod
    def _add_function(functions, value):
        func = getattr(value, "__func__", value)
        if isinstance(func, types.FunctionType) and id(func) not in functions:
            cells = tuple(c.cell_contents if _cell_full(c) else _EMPTY for c in (func.__closure__ or ()))
            functions[id(func)] = (func, {a: getattr(func, a) for a in _FUNC_ATTRS}, cells)

    # --- compare and restore ---------------------------------------------------------------

    def check(self, loads=(), stores=()) -> list[str]:
        """What changed since the trusted snapshot (ignoring user names in ``stores``), put back."""
        changes: list[str] = []
        # builtins first, with nothing but dict operations: the rest of this check uses them
        module, saved = self.modules["builtins"]
        current = module.__dict__
        for key, value in saved.items():
            if current.get(key, _EMPTY) is not value and key not in _KERNEL_SWAPPED_BUILTINS:
                changes.append(f"patched builtins.{key}")
                current[key] = value
        for key in [k for k in current if k not in saved]:
            changes.append(f"added builtins.{key}")
            del current[key]
        shell, ns = self.shell, self.shell.user_ns
        stores = set(stores)

        for name, value in list(self.protected.items()):
            if name in stores:
                continue
            if name not in ns or ns[name] is not value:
                changes.append(f"rebound {name!r} (set by a read-only cell)")
                ns[name] = value
        for name in loads:
            if name in ns and name not in self.protected and name in builtins.__dict__ and name not in stores:
                changes.append(f"shadowed the builtin {name!r}")
                del ns[name]

        resolved = False  # a submodule import rebound an attribute: the snapshot follows it
        for label, (module, saved) in self.modules.items():
            current = module.__dict__
            for key, value in saved.items():
                if current.get(key, _EMPTY) is not value and label != "builtins":
                    if _imported_submodule(module, key, current.get(key)):
                        saved[key], resolved = current[key], True
                        continue
                    changes.append(f"patched {label}.{key}")
                    current[key] = value
            if sys.modules.get(label) is not module:
                changes.append(f"replaced sys.modules[{label!r}]")
                sys.modules[label] = module

        for cls, saved in self.classes:
            current = cls.__dict__
            for key, value in saved.items():
                if current.get(key, _EMPTY) is not value:
                    changes.append(f"patched {_describe(cls)}.{key}")
                    _quietly(setattr, cls, key, value)
            for key in [k for k in current if k not in saved and k not in _LAZY_CLASS_KEYS]:
                changes.append(f"added {_describe(cls)}.{key}")
                _quietly(delattr, cls, key)

        for owner, attr, value in self.chain_values:
            if owner.__dict__.get(attr, _EMPTY) is not value and attr in owner.__dict__:
                if _imported_submodule(owner, attr, owner.__dict__[attr]):
                    resolved = True
                    continue
                changes.append(f"patched {_describe(owner)}.{attr}")
                _quietly(setattr, owner, attr, value)
        if resolved:
            self.chain_values = self._chain_targets()

        for func, attrs, cells in self.functions.values():
            for attr, value in attrs.items():
                if getattr(func, attr) is not value:
                    changes.append(f"rewrote {attr} of {_describe(func)}")
                    if attr != "__globals__":
                        setattr(func, attr, value)
            for cell, value in zip(func.__closure__ or (), cells):
                if (cell.cell_contents if _cell_full(cell) else _EMPTY) is not value:
                    changes.append(f"rewrote a closure variable of {_describe(func)}")
                    if value is not _EMPTY:
                        cell.cell_contents = value

        for obj, saved in self.instance_dicts:
            current = vars(obj)
            for key, value in saved.items():
                if current.get(key, _EMPTY) is not value:
                    changes.append(f"replaced {type(obj).__name__}.{key}")
                    current[key] = value
            for key in [k for k, v in current.items() if k not in saved and callable(v)]:
                changes.append(f"overrode {type(obj).__name__}.{key}")
                del current[key]

        for label, lst, saved in self.lists:
            if len(lst) != len(saved) or any(a is not b for a, b in zip(lst, saved)):
                changes.append(f"changed the {label}")
                lst[:] = saved
        for name in [n for n in shell.events.callbacks if not any(lab == f"event hooks ({n})" for lab, _, _ in self.lists)]:
            if shell.events.callbacks[name]:
                changes.append(f"changed the event hooks ({name})")
                shell.events.callbacks[name][:] = []

        if shell.kernel.shell_handlers != self.handlers or any(shell.kernel.shell_handlers[k] is not v for k, v in self.handlers.items()):
            changes.append("replaced the kernel's message handlers")
            shell.kernel.shell_handlers.clear()
            shell.kernel.shell_handlers.update(self.handlers)
        for name, value in self.shell_attrs.items():
            if getattr(shell, name, None) is not value:
                changes.append(f"replaced the shell's {name}")
                try:
                    setattr(shell, name, value)
                except Exception:
                    pass
        for name, value in self.sys_attrs.items():
            if getattr(sys, name, None) is not value:
                changes.append(f"replaced sys.{name}")
                setattr(sys, name, value)
        if sys.gettrace() is not None:
            changes.append("set a trace function (sys.settrace)")
            sys.settrace(None)
        if sys.getprofile() is not None:
            changes.append("set a profile function (sys.setprofile)")
            sys.setprofile(None)
        return sorted(set(changes))

    # --- the calls the grader makes --------------------------------------------------------

    def __call__(self, action: str, nonce: str, loads=(), stores=()) -> str:
        if action == "before":
            # Before a trusted cell: put back what student cells changed; remember the
            # namespace to learn which names this cell binds.
            changes = self.check(loads=loads)
            self.pre_ns = dict(self.shell.user_ns)
        elif action == "after_instructor":
            # After an instructor cell: what it bound or imported becomes trusted.
            ns = self.shell.user_ns
            for name, value in ns.items():
                if (name not in self.pre_ns or self.pre_ns[name] is not value) and not _volatile(name):
                    self.protected[name] = value
            for name in [n for n in self.protected if n not in ns]:
                del self.protected[name]
            self.take()
            changes = []
        elif action == "after_test":
            # After a test cell: anything changed while it ran (other than the names it
            # assigns itself) means the code under test tampered during the test.
            changes = self.check(stores=stores)
        else:
            raise ValueError(action)
        self.last = json.dumps({"nonce": nonce, "changes": changes})
        return self.last


_EMPTY = object()  # a missing key or an empty closure cell


def _imported_submodule(owner, attr: str, value) -> bool:
    """Whether ``value`` is what ``import OWNER.ATTR`` binds on ``owner``: the genuine submodule,
    as registered in ``sys.modules``. TensorFlow's ``model.export`` imports
    ``tensorflow.saved_model``, which replaces the API module ``tf.saved_model``: no tampering."""
    name = f"{getattr(owner, '__name__', '')}.{attr}"
    return isinstance(value, types.ModuleType) and getattr(value, "__name__", None) == name and sys.modules.get(name) is value


def _cell_full(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - reading it raises ValueError when the cell is empty
    except ValueError:
        return False
    return True


def _quietly(function, *args):
    """``setattr`` or ``delattr`` where the type allows it (built-in types refuse)."""
    try:
        function(*args)
    except (TypeError, AttributeError):
        pass


def install(shell, name: str, chains_json: str) -> str:
    """Create the guard and store it in ``builtins`` under ``name`` (the grader's secret)."""
    guard = Guard(shell, json.loads(chains_json))
    builtins.__dict__[name] = guard
    guard.take()  # builtins now include the guard itself
    guard.last = json.dumps({"nonce": "install", "changes": []})
    return guard.last
