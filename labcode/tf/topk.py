"""Top-k accuracy, the ImageNet (ILSVRC) measure, in NumPy.

ILSVRC scores a classifier by its *top-5 error*: a prediction counts as correct when the true
label is among the 5 classes with the highest scores. AlexNet's 15.3 %, GoogLeNet's 6.67 %
and ResNet's 3.57 % are top-5 errors, 1 − ``top_k_accuracy(y, scores, k=5)``.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["top_k_accuracy", "top_k_error"]


def top_k_accuracy(y_true, scores, k=5):
    """The fraction of samples whose true label is among the k highest scores.

    Parameters
    ----------
    y_true : array_like, shape (m,) or (m, n_classes)
        The labels y⁽ⁱ⁾ as integers 0 … n_classes − 1, or one-hot rows.
    scores : array_like, shape (m, n_classes)
        Any scores that rank the classes (probabilities or logits).
    k : int
        How many of the top-ranked classes count, 1 ≤ k.

    Returns
    -------
    float
        In [0, 1]. Ties are generous, as in ``tf.math.in_top_k`` and Keras'
        ``SparseTopKCategoricalAccuracy``: sample i counts when fewer than k
        classes score strictly higher than its true class. k ≥ n_classes gives 1
        for finite scores; a sample with a NaN or infinite score never counts
        (as in ``tf.math.in_top_k``).

    Examples
    --------
    >>> top_k_accuracy([2, 0], [[0.1, 0.3, 0.6], [0.2, 0.5, 0.3]], k=1)
    0.5
    >>> top_k_accuracy([2, 0], [[0.1, 0.3, 0.6], [0.2, 0.5, 0.3]], k=3)
    1.0
    """
    where = "top_k_accuracy"
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{where}: k must be a positive int, got {k!r}")
    s = np.asarray(scores)
    if s.ndim != 2 or not np.issubdtype(s.dtype, np.number) or s.shape[1] == 0:
        raise ValueError(f"{where}: scores must be a 2-D array of numbers (samples, classes), got shape {s.shape} "
                         f"and dtype {s.dtype}")
    y = np.asarray(y_true)
    if y.ndim == 2:
        if y.shape != s.shape:
            raise ValueError(f"{where}: one-hot y_true must have the shape of scores {s.shape}, got {y.shape}")
        y = y.argmax(axis=1)
    if y.ndim != 1 or len(y) != len(s):
        raise ValueError(f"{where}: y_true must hold one label per row of scores ({len(s)}), got shape {y.shape}")
    if len(y) == 0:
        raise ValueError(f"{where}: got no samples")
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)))):
        raise ValueError(f"{where}: labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    n_classes = s.shape[1]
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"{where}: labels must be in 0 … {n_classes - 1}, got {y.min()} … {y.max()}")
    true_score = s[np.arange(len(y)), y][:, None]
    higher = np.sum(s > true_score, axis=1)
    hit = (higher < k) & np.isfinite(s).all(axis=1)  # like tf.math.in_top_k: a non-finite row never counts
    return float(np.mean(hit))


def top_k_error(y_true, scores, k=5):
    """1 − :func:`top_k_accuracy`: ILSVRC's top-5 error with k = 5."""
    return 1.0 - top_k_accuracy(y_true, scores, k)
