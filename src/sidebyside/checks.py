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
