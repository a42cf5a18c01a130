"""Strict checks for nbgrader test cells, the same for both frameworks.

A test cell converts each framework's answer to a NumPy copy through :func:`as_numpy`, which
insists on the exact type first, then compares with :func:`assert_close`. An object that
merely claims to be equal (``__eq__`` always True) or a subclass that fakes ``.numpy()`` fails.

Hardened against submissions that attack the checks themselves: types are compared by
identity (``is``), never with ``==`` or ``in`` (a metaclass can make ``type(x) == float``
true); the NumPy, math and builtin functions used here are captured when this module is
imported, before any student code runs; tensors are converted through the frameworks' C-level
methods, captured on first use, rather than methods a student could patch on the Python
classes. ``sidebyside grade`` additionally restores this module if a submission patches it.
"""

from __future__ import annotations

import math

import numpy as np

# the tests' read-only cells make theirs as checks.Mistakes("NN-topic"); it needs no NumPy
from .misconceptions import Mistakes  # noqa: F401

# Captured at import, before any student code runs, so that patching numpy, math or builtins
# later cannot weaken the comparison.
_allclose = np.allclose
_isfinite = np.isfinite
_array = np.array
_ndarray = np.ndarray
_isclose = math.isclose
_math_isfinite = math.isfinite
_type, _bool, _float, _any, _tuple = type, bool, float, any, tuple


def _is_one_of(kind, types) -> bool:
    """``kind`` is exactly one of ``types`` (identity: no ``__eq__`` of a metaclass runs)."""
    return _any(kind is t for t in types)


def _torch_types():
    import torch

    return (torch.Tensor, torch.nn.Parameter)


def _tensorflow_types():
    import tensorflow as tf

    return (type(tf.constant(0.0)), type(tf.Variable(0.0)))


def as_numpy(value, framework: str, *, what: str = "the answer") -> np.ndarray:
    """``value`` as a NumPy copy, after checking it is exactly a ``framework`` tensor.

    ``framework``: ``"torch"``, ``"tensorflow"`` or ``"numpy"``.
    """
    kind = _type(value)
    if framework == "torch":
        assert _is_one_of(kind, _torch_types()), f"{what} should be a torch.Tensor, got {kind.__name__}"
        import torch

        # the C methods of TensorBase: a student cannot patch them on torch.Tensor's behalf
        base = torch._C.TensorBase
        return _array(base.numpy(base.cpu(base.detach(value))), copy=True)
    if framework == "tensorflow":
        assert _is_one_of(kind, _tensorflow_types()), f"{what} should be a TensorFlow tensor, got {kind.__name__}"
        return _array(value.numpy(), copy=True)
    if framework == "numpy":
        assert kind is _ndarray, f"{what} should be a NumPy array, got {kind.__name__}"
        return _array(value, copy=True)
    raise ValueError(f"unknown framework {framework!r}")


def assert_close(actual: np.ndarray, expected, *, rtol: float = 1e-5, atol: float = 1e-6, what: str = "the answer") -> None:
    """``actual`` (from :func:`as_numpy`) matches ``expected`` in shape and values, all finite."""
    expected = _array(expected)
    assert _type(actual) is _ndarray, f"{what}: convert with as_numpy() first"
    assert actual.shape == expected.shape, f"{what} has shape {actual.shape}, expected {expected.shape}"
    assert bool(_isfinite(actual).all()), f"{what} contains NaN or infinity"
    assert bool(_allclose(actual, expected, rtol=rtol, atol=atol)), (
        f"{what} differs from the expected values (largest difference "
        f"{float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64)))):.3g})"
    )


def assert_number(value, expected: float | None = None, *, rel: float = 1e-6, what: str = "the answer") -> float:
    """``value`` is a real Python ``float`` or ``int`` (not a tensor, not a look-alike)."""
    assert _is_one_of(_type(value), (_float, int)), f"{what} should be a Python number, got {_type(value).__name__}"
    assert _math_isfinite(value), f"{what} is not finite"
    if expected is not None:
        assert _isclose(value, expected, rel_tol=rel, abs_tol=rel), f"{what} is {value}, expected {expected}"
    return _float(value)


# --- An answer does its own work ------------------------------------------------------------

_setprofile = __import__("sys").setprofile
_getprofile = __import__("sys").getprofile
_thread_setprofile = __import__("threading").setprofile
_iscode = __import__("inspect").iscode
_CodeType = type((lambda: 0).__code__)


class DelegatedWork(AssertionError):
    """The answer ran the course package's own implementation of the task it was asked to write."""


def _code_keys(reference) -> dict[tuple, str]:
    """``(file, first line, name)`` of every code object a reference runs, nested ones included.

    Keys, not code objects: a copy made with ``code.replace()`` or ``types.FunctionType`` keeps them.
    """
    import types

    if isinstance(reference, types.ModuleType):
        # a package (sidebyside.serving) stands for its submodules too (serving.torchserve_server...)
        modules, pending_modules = [], [reference]
        while pending_modules:
            module = pending_modules.pop()
            modules.append(module)
            pending_modules.extend(v for v in vars(module).values() if isinstance(v, types.ModuleType) and v.__name__.startswith(module.__name__ + ".") and v not in modules)
        members = [v for module in modules for v in vars(module).values() if getattr(v, "__module__", None) == module.__name__]
        label = reference.__name__
    elif isinstance(reference, type):
        members = [v for v in vars(reference).values()]
        label = f"{reference.__module__}.{reference.__qualname__}"
    else:
        members = [reference]
        label = f"{getattr(reference, '__module__', '?')}.{getattr(reference, '__qualname__', reference)}"
    keys: dict[tuple, str] = {}
    pending = []
    for member in members:
        member = getattr(member, "__func__", member)  # methods, classmethods, staticmethods
        member = getattr(member, "fget", member)  # properties
        if isinstance(member, type) and member is not reference:
            keys.update(_code_keys(member))
            continue
        code = getattr(member, "__code__", None)
        if _type(code) is _CodeType:
            pending.append(code)
    while pending:
        code = pending.pop()
        if code.co_filename.startswith("<"):
            # generated code (a dataclass's __init__, __eq__...: all "<string>", line 2): such keys
            # are shared by every class of that kind, so they would catch honest code
            continue
        keys[(code.co_filename, code.co_firstlineno, code.co_name)] = label
        pending.extend(c for c in code.co_consts if _iscode(c))
    return keys


class own_work:
    """Fail the test if the answer runs the course's own implementation of the task.

    Use it around the call of the student's code in a test cell::

        with checks.own_work(training.train_torch, training.copy_keras_to_torch):
            history = train(model, X, y)

    However the answer reaches a reference (an alias, ``getattr``, ``importlib``, a reference
    captured before the test, a copy of its code object, a thread started inside the call),
    running its code is seen here through a profile function, and the call fails with
    :class:`DelegatedWork` naming what ran. A reference is a function, a class (all its
    methods) or a module (every function and class defined in it).
    """

    def __init__(self, *references, task: str = "this task"):
        self.keys: dict[tuple, str] = {}
        for reference in references:
            self.keys.update(_code_keys(reference))
        self.task = task
        self.seen: list[str] = []

    def _profile(self, frame, event, arg):
        if event == "call":
            label = self.keys.get((frame.f_code.co_filename, frame.f_code.co_firstlineno, frame.f_code.co_name))
            if label is not None:
                self.seen.append(label)
                raise DelegatedWork(self._message())

    def _message(self) -> str:
        return (
            f"expected the answer to do {self.task} with its own framework code; got a call to the course "
            f"package's own implementation {self.seen[0]}. Write it yourself: the lesson shows the framework code."
        )

    def __enter__(self):
        self.previous = _getprofile()
        self.hook = self._profile  # one bound method, so that it can be recognised by identity
        _thread_setprofile(self.hook)
        _setprofile(self.hook)
        return self

    def __exit__(self, kind, value, traceback):
        still_ours = _getprofile() is self.hook
        _setprofile(self.previous)
        _thread_setprofile(None)
        if self.seen:
            raise DelegatedWork(self._message()) from (value if kind is not DelegatedWork else None)
        if not still_ours and kind is None:
            raise DelegatedWork(
                "expected the answer to leave the interpreter's profile function alone; got it replaced "
                "or removed while the answer ran"
            )
        return False
