"""The logistic arithmetic of the dropout hazard."""

from __future__ import annotations

import numpy as np


def logit(p):
    return np.log(p / (1 - p))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def solve_intercepts(x: np.ndarray, group: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-group intercept a with mean(sigmoid(a + x)) == target[group] (Newton, vectorised).

    >>> a = solve_intercepts(np.zeros(4), np.array([0, 0, 1, 1]), np.array([0.1, 0.2]))
    >>> np.round(sigmoid(a), 6).tolist()
    [0.1, 0.2]
    """
    ng = len(target)
    a = logit(np.clip(target, 1e-6, 0.5)) - np.bincount(group, x, ng) / np.maximum(
        np.bincount(group, None, ng), 1
    )
    cnt = np.maximum(np.bincount(group, None, ng), 1)
    for _ in range(30):
        p = sigmoid(a[group] + x)
        f = np.bincount(group, p, ng) / cnt - target
        df = np.bincount(group, p * (1 - p), ng) / cnt
        step = f / np.maximum(df, 1e-12)
        a -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return a
