"""Classification metrics (评估指标) and the train/dev/test split, checked against scikit-learn.

For one class c, counting over the samples:

    TP = #(ŷ = c and y = c),  FP = #(ŷ = c and y ≠ c),  FN = #(ŷ ≠ c and y = c)
    precision = TP / (TP + FP)       of the samples called c, the share that are c
    recall    = TP / (TP + FN)       of the samples that are c, the share found
    F1        = 2·P·R / (P + R)      their harmonic mean = 2TP / (2TP + FP + FN)

With several classes, ``average`` says how to combine them, as in
scikit-learn: "binary" reports the class ``pos_label`` only; "macro" the
unweighted mean over the classes; "weighted" the mean weighted by each class'
support (its number of true samples); "micro" pools the counts of all classes
first (for single-label data micro precision = recall = F1 = accuracy); None
returns one value per class. A ratio 0/0 counts as ``zero_division`` (0).

The functions take labels (``y_pred`` may also be scores of shape
(m, classes), e.g. ``model.predict(x)``: the arg-max is taken).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "accuracy_score", "confusion_matrix", "precision_recall_fscore_support", "precision_score", "recall_score",
    "f1_score", "train_dev_test_split",
]

_AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _labels_pair(y_true, y_pred, where):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_pred.ndim == 2 and y_true.ndim == 1:
        y_pred = y_pred.argmax(axis=1) if y_pred.shape[1] > 1 else y_pred[:, 0]
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(
            f"{where}: expected 1-D label arrays (or scores of shape (m, classes) for y_pred), "
            f"got shapes {y_true.shape} and {y_pred.shape}"
        )
    if len(y_true) != len(y_pred):
        raise ValueError(f"{where}: y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError(f"{where}: got no samples")
    return y_true, y_pred


def accuracy_score(y_true, y_pred) -> float:
    """The share of samples with ŷ = y."""
    y_true, y_pred = _labels_pair(y_true, y_pred, "accuracy_score")
    return float(np.mean(y_true == y_pred))


def _label_list(y_true, y_pred, labels):
    if labels is None:
        return np.unique(np.concatenate([y_true, y_pred]))
    return np.asarray(labels)


def confusion_matrix(y_true, y_pred, labels=None) -> np.ndarray:
    """C[i, j] = the number of samples of true class labels[i] predicted as labels[j].

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted labels.
    labels : array_like, optional
        The classes, in the order of the rows; by default the sorted labels that occur.

    Returns
    -------
    numpy.ndarray
        int64, (k, k); rows are the truth, columns the prediction, like scikit-learn.
    """
    y_true, y_pred = _labels_pair(y_true, y_pred, "confusion_matrix")
    labels = _label_list(y_true, y_pred, labels)
    k = len(labels)
    if k == 0:
        raise ValueError("confusion_matrix: labels is empty")
    index = {v.item() if hasattr(v, "item") else v: i for i, v in enumerate(labels)}
    t = np.array([index.get(v.item(), -1) for v in y_true])
    p = np.array([index.get(v.item(), -1) for v in y_pred])
    keep = (t >= 0) & (p >= 0)  # samples of other classes are left out, as scikit-learn does
    return np.bincount(t[keep] * k + p[keep], minlength=k * k).reshape(k, k).astype(np.int64)


def _ratio(num, den, zero_division):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, float(zero_division))
    np.divide(num, den, out=out, where=den > 0)
    return out


def precision_recall_fscore_support(y_true, y_pred, average=None, pos_label=1, labels=None, zero_division=0.0):
    """Precision, recall, F1 and support, like ``sklearn.metrics.precision_recall_fscore_support``.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted labels.
    average : {"binary", "micro", "macro", "weighted", None}
        How to combine the classes (see the module's docstring).
    pos_label : int or str
        The positive class for ``average="binary"``.
    labels : array_like, optional
        The classes to report (and average over); by default all that occur.
    zero_division : float
        The value of a ratio 0/0.

    Returns
    -------
    (precision, recall, f1, support)
        Floats for an average (support None), arrays of one value per class for ``average=None``.
    """
    where = "precision_recall_fscore_support"
    if average not in _AVERAGES:
        raise ValueError(f"{where}: average must be one of {_AVERAGES}, got {average!r}")
    y_true, y_pred = _labels_pair(y_true, y_pred, where)
    present = np.unique(np.concatenate([y_true, y_pred]))
    if average == "binary":
        if len(present) > 2:
            raise ValueError(
                f"{where}: average='binary' needs two classes, got {len(present)} ({present.tolist()}); "
                "choose average='macro', 'micro', 'weighted' or None"
            )
        if len(present) == 2 and pos_label not in present.tolist():
            raise ValueError(f"{where}: pos_label={pos_label!r} is not a label; the labels are {present.tolist()}")
        labels = [pos_label]
    labels = _label_list(y_true, y_pred, labels)
    tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in labels], dtype=np.float64)
    n_pred = np.array([np.sum(y_pred == c) for c in labels], dtype=np.float64)
    n_true = np.array([np.sum(y_true == c) for c in labels], dtype=np.float64)
    if average == "micro":
        tp, n_pred, n_true = tp.sum(keepdims=True), n_pred.sum(keepdims=True), n_true.sum(keepdims=True)
    precision = _ratio(tp, n_pred, zero_division)
    recall = _ratio(tp, n_true, zero_division)
    f1 = _ratio(2 * tp, n_pred + n_true, zero_division)  # = 2PR/(P+R), and 0/0 only when TP+FP+FN = 0
    if average is None:
        return precision, recall, f1, n_true.astype(np.int64)
    if average == "weighted":
        if n_true.sum() == 0:
            return float(zero_division), float(zero_division), float(zero_division), None
        w = n_true / n_true.sum()
        return float(precision @ w), float(recall @ w), float(f1 @ w), None
    return float(precision.mean()), float(recall.mean()), float(f1.mean()), None


def precision_score(y_true, y_pred, average="binary", pos_label=1, labels=None, zero_division=0.0):
    """TP / (TP + FP), like ``sklearn.metrics.precision_score`` (see :func:`precision_recall_fscore_support`)."""
    return precision_recall_fscore_support(y_true, y_pred, average, pos_label, labels, zero_division)[0]


def recall_score(y_true, y_pred, average="binary", pos_label=1, labels=None, zero_division=0.0):
    """TP / (TP + FN), like ``sklearn.metrics.recall_score``."""
    return precision_recall_fscore_support(y_true, y_pred, average, pos_label, labels, zero_division)[1]


def f1_score(y_true, y_pred, average="binary", pos_label=1, labels=None, zero_division=0.0):
    """2PR / (P + R), like ``sklearn.metrics.f1_score``."""
    return precision_recall_fscore_support(y_true, y_pred, average, pos_label, labels, zero_division)[2]


# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------

def _counts(sizes, m, where):
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) != 3:
        raise ValueError(f"{where}: sizes must be three fractions or three counts (train, dev, test), got {sizes!r}")
    if not all(isinstance(s, numbers.Real) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise ValueError(f"{where}: sizes must be non-negative numbers, got {sizes!r}")
    if all(isinstance(s, numbers.Integral) for s in sizes):
        counts = [int(s) for s in sizes]
        if sum(counts) > m:
            raise ValueError(f"{where}: the counts {tuple(counts)} add up to {sum(counts)}, more than the {m} samples")
        return counts
    total = float(sum(sizes))
    if not 0 < total <= 1 + 1e-9 or any(s > 1 for s in sizes):
        raise ValueError(f"{where}: fractions must add up to at most 1 (e.g. (0.7, 0.15, 0.15)), got {sizes!r}")
    n_dev, n_test = round(sizes[1] * m), round(sizes[2] * m)
    n_train = m - n_dev - n_test if abs(total - 1) < 1e-9 else round(sizes[0] * m)
    return [max(n_train, 0), n_dev, n_test]


def train_dev_test_split(x, y=None, sizes=(0.7, 0.15, 0.15), seed=None, stratify=False, shuffle=True):
    """Split samples into training, development (validation) and test sets.

    Parameters
    ----------
    x : array_like
        Samples along the first axis.
    y : array_like, optional
        Labels aligned with ``x``.
    sizes : (train, dev, test)
        Fractions (adding up to at most 1; with exactly 1 the training set takes
        the rounding remainder) or counts of samples.
    seed : int, numpy.random.Generator or None
        The shuffle's randomness (None: NumPy's global state).
    stratify : bool or array_like
        Keep each class' share the same in every part (to within one sample
        per class): True stratifies by ``y``, an array by its own labels.
    shuffle : bool
        Shuffle before splitting (False: the parts are consecutive slices).

    Returns
    -------
    (x_train, y_train), (x_dev, y_dev), (x_test, y_test)
        Or x_train, x_dev, x_test when ``y`` is None.
    """
    where = "train_dev_test_split"
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{where}: x must have samples along its first axis, got a scalar")
    m = len(x)
    if y is not None:
        y = np.asarray(y)
        if len(y) != m:
            raise ValueError(f"{where}: x has {m} samples but y has {len(y)}")
    n_train, n_dev, n_test = _counts(sizes, m, where)
    rng = seed if isinstance(seed, np.random.Generator) else (
        np.random.default_rng(seed) if seed is not None else None)
    if stratify is not False and stratify is not None:
        groups = y if stratify is True else np.asarray(stratify)
        if groups is None:
            raise ValueError(f"{where}: stratify=True needs the labels y")
        if len(groups) != m:
            raise ValueError(f"{where}: stratify has {len(groups)} labels for {m} samples")
        if not shuffle:
            raise ValueError(f"{where}: stratify needs shuffle=True")
        order = _stratified_order(groups, rng)
    elif shuffle:
        order = rng.permutation(m) if rng is not None else np.random.permutation(m)
    else:
        order = np.arange(m)
    parts = np.split(order, [n_train, n_train + n_dev, n_train + n_dev + n_test])[:3]
    if y is None:
        return tuple(x[idx] for idx in parts)
    return tuple((x[idx], y[idx]) for idx in parts)


def _stratified_order(groups, rng):
    """A random order in which every prefix (and every slice) holds each class in its overall share ± 1.

    Each class' samples, shuffled, are spread evenly over [0, 1): the r-th of
    n_c sits at (r + u_c)/n_c, u_c ~ U(0, 1); sorting all by that position
    interleaves the classes in proportion.
    """
    random = rng.random if rng is not None else np.random.random_sample
    permute = rng.permutation if rng is not None else np.random.permutation
    _, inverse = np.unique(groups, return_inverse=True)
    inverse = inverse.ravel()
    position = np.empty(len(groups))
    for c in range(inverse.max() + 1):
        idx = permute(np.flatnonzero(inverse == c))
        position[idx] = (np.arange(len(idx)) + random()) / len(idx)
    return np.argsort(position, kind="stable")
