"""The course's data sets: nothing is downloaded at run time.

- ``load_digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).
- ``make_spirals``: a small generated two-class problem a linear model cannot solve.

Arrays are float32 NumPy arrays, so both frameworks read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray

    @property
    def num_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max()) + 1)


def split(X: np.ndarray, y: np.ndarray, val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Shuffle with ``seed`` and split into training and validation parts."""
    order = np.random.default_rng(seed).permutation(len(X))
    n_val = int(round(len(X) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    return Split(X[train], y[train], X[val], y[val])


def load_digits(val_fraction: float = 0.2, seed: int = 0, limit: int | None = None) -> Split:
    """scikit-learn's bundled digits, pixels scaled to [0, 1], flattened to 64 features.

    ``limit`` keeps only the first ``limit`` examples (after shuffling), to shrink work under
    grading.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    if limit is not None:
        keep = np.random.default_rng(seed).permutation(len(X))[:limit]
        X, y = X[keep], y[keep]
    return split(X, y, val_fraction, seed)


def make_spirals(n: int = 400, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals: ``X`` of shape (n, 2) float32, ``y`` of 0/1 int64."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t = np.sqrt(rng.uniform(0.05, 1.0, size=half)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    X = np.concatenate([arm, -arm]) + rng.normal(scale=noise / 5, size=(2 * half, 2))
    y = np.concatenate([np.zeros(half), np.ones(half)]).astype(np.int64)
    order = rng.permutation(2 * half)
    return X[order].astype(np.float32), y[order]


def batches(n: int, batch_size: int, seed: int | None = 0, epoch: int = 0):
    """Index arrays for one epoch of mini-batches, identical for both frameworks.

    With ``seed`` set the order is shuffled reproducibly per ``epoch``; with ``None`` it is not
    shuffled.
    """
    order = np.arange(n) if seed is None else np.random.default_rng([seed, epoch]).permutation(n)
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]
