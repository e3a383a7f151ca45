"""Loss functions (损失函数) with their gradients, matching ``keras.losses``.

Every loss object ``loss`` has

- ``loss(y_true, y_pred)`` → the mean loss over the batch, a float (Keras'
  default reduction, "sum_over_batch_size");
- ``loss.gradient(y_true, y_pred)`` → ∂loss/∂y_pred, the shape of y_pred;
- ``loss.value_and_gradient(y_true, y_pred)`` → both, computed once.

The functions ``binary_crossentropy`` etc. return one loss per sample, like
``keras.losses.binary_crossentropy``.

Stability. From logits z, the cross-entropies never take the log of a
probability: binary uses the softplus form
ℓ = max(z, 0) − z·y + log(1 + e^(−|z|)), softmax uses the log-sum-exp
log Σⱼ e^(zⱼ) = c + log Σⱼ e^(zⱼ − c) with c = maxⱼ zⱼ. Their gradients are
the famous σ(z) − y and softmax(z) − y (over the batch size).

From probabilities p (``from_logits=False``, the default), Keras clips p to
[ε, 1 − ε] with ε = 1e-7 (``keras.config.epsilon()``) before the log, and so
do we, with the same consequences: the loss of a confident wrong answer is at
most −log ε ≈ 16.1, and where p was clipped the gradient is 0 (the gradient of
the clip). Categorical cross-entropy first rescales p to sum to 1 along the
classes; sparse categorical cross-entropy renormalises the clipped p — each as
Keras does, so the numbers agree to rounding.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "EPSILON", "Loss", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "MeanSquaredError", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "mean_squared_error", "mse", "get",
]

EPSILON = 1e-7  #: Keras' fuzz factor, ``keras.config.epsilon()``


def _pred(y_pred, where) -> np.ndarray:
    if isinstance(y_pred, (str, bytes)):
        raise TypeError(f"{where}: y_pred must be an array of numbers, got {type(y_pred).__name__}")
    p = np.asarray(y_pred)
    if p.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(p.dtype, np.number) or p.dtype == bool) or np.iscomplexobj(p):
            raise TypeError(f"{where}: y_pred must hold real numbers, got dtype {p.dtype}")
        p = p.astype(np.float32 if np.issubdtype(p.dtype, np.floating) else np.float64)
    if p.ndim == 0 or p.size == 0:
        raise ValueError(f"{where}: y_pred must be a non-empty batch, got shape {p.shape}")
    return p


def _match(y_true, y_pred, where) -> tuple[np.ndarray, np.ndarray]:
    """y_true and y_pred as float arrays of the same shape (y_true cast to y_pred's dtype).

    Like Keras, a trailing axis of length 1 is added to or dropped from y_true
    when that makes the shapes equal ((m,) vs (m, 1)).
    """
    p = _pred(y_pred, where)
    y = np.asarray(y_true)
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool) or np.iscomplexobj(y):
        raise TypeError(f"{where}: y_true must hold real numbers, got dtype {y.dtype}")
    if y.shape != p.shape:
        if y.ndim == p.ndim - 1 and p.shape[-1] == 1:
            y = y[..., None]
        elif y.ndim == p.ndim + 1 and y.shape[-1] == 1:
            y = y[..., 0]
    if y.shape != p.shape:
        raise ValueError(f"{where}: y_true and y_pred must have the same shape, got {y.shape} and {p.shape}")
    return y.astype(p.dtype, copy=False), p


def _labels(y_true, y_pred, where) -> tuple[np.ndarray, np.ndarray]:
    """Integer class labels of shape y_pred.shape[:-1], checked to lie in 0..k−1."""
    p = _pred(y_pred, where)
    if p.ndim < 2:
        raise ValueError(f"{where}: y_pred must have a class axis last, shape (batch, classes); got {p.shape}")
    y = np.asarray(y_true)
    if y.ndim == p.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != p.shape[:-1]:
        raise ValueError(
            f"{where}: y_true must hold one integer label per sample, shape {p.shape[:-1]} for y_pred of shape "
            f"{p.shape}; got shape {np.shape(y_true)} (one-hot labels? use CategoricalCrossentropy)"
        )
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating) or not np.all(y == np.round(y)):
            raise ValueError(f"{where}: y_true must hold integer class labels, got dtype {y.dtype} with fractions")
        y = y.astype(np.int64)
    k = p.shape[-1]
    bad = (y < 0) | (y >= k)
    if bad.any():
        raise ValueError(
            f"{where}: label {y[bad].flat[0]} is out of range for {k} classes (expected labels 0..{k - 1})"
        )
    return y, p


def _logsumexp(z, axis=-1):
    """log Σⱼ e^(zⱼ) = c + log Σⱼ e^(zⱼ − c), c = max z, with the axis kept."""
    c = z.max(axis=axis, keepdims=True)
    return c + np.log(np.exp(z - c).sum(axis=axis, keepdims=True))


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


# ---------------------------------------------------------------------------
# The computations: per-sample losses and, if asked, ∂(mean loss)/∂y_pred
# ---------------------------------------------------------------------------

def _bce(y, p, from_logits, grad):
    n = p.size  # the mean over the last axis, then over the batch: over every element
    if from_logits:
        z = p
        elementwise = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        g = (_sigmoid(z) - y) / n if grad else None
    else:
        c = np.clip(p, EPSILON, 1 - EPSILON)
        elementwise = -(y * np.log(c) + (1 - y) * np.log1p(-c))
        g = None
        if grad:
            # the clip passes the gradient where it left p unchanged, and blocks it elsewhere
            g = np.where(p == c, (c - y) / (c * (1 - c)), 0) / n
    return elementwise.mean(axis=-1), g


def _cce(y, p, from_logits, grad):
    n = p.size // p.shape[-1]
    if from_logits:
        lse = _logsumexp(p)
        per_sample = np.sum(y * (lse - p), axis=-1)  # −Σ y log softmax(z)
        g = (_softmax(p) * y.sum(axis=-1, keepdims=True) - y) / n if grad else None
    else:
        s = p.sum(axis=-1, keepdims=True)
        q = p / s  # rescaled to sum to 1, as Keras does
        c = np.clip(q, EPSILON, 1 - EPSILON)
        per_sample = -np.sum(y * np.log(c), axis=-1)
        g = None
        if grad:
            gq = np.where(q == c, -y / c, 0)  # ∂ℓ/∂q
            g = (gq - np.sum(gq * q, axis=-1, keepdims=True)) / s / n  # through q = p / Σp
    return per_sample, g


def _sparse_cce(labels, p, from_logits, grad):
    k = p.shape[-1]
    flat_p = p.reshape(-1, k)
    flat_y = labels.reshape(-1)
    n = flat_y.size
    rows = np.arange(n)
    if from_logits:
        lse = _logsumexp(flat_p)[:, 0]
        per_sample = lse - flat_p[rows, flat_y]
        g = None
        if grad:
            g = _softmax(flat_p)
            g[rows, flat_y] -= 1
            g /= n
    else:
        c = np.clip(flat_p, EPSILON, 1 - EPSILON)
        total = c.sum(axis=-1)
        per_sample = np.log(total) - np.log(c[rows, flat_y])  # −log(c_y / Σ c)
        g = None
        if grad:
            g = np.broadcast_to((1 / total)[:, None], c.shape).copy()
            g[rows, flat_y] -= 1 / c[rows, flat_y]
            g = np.where(flat_p == c, g, 0) / n
    return per_sample.reshape(labels.shape), None if g is None else g.reshape(p.shape).astype(p.dtype, copy=False)


def _mse(y, p, grad):
    d = p - y
    return np.mean(d * d, axis=-1), (2 / p.size) * d if grad else None


# ---------------------------------------------------------------------------
# Keras-like functions: one loss per sample
# ---------------------------------------------------------------------------

def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample binary cross-entropy −[y log p + (1 − y) log(1 − p)], averaged over the last axis.

    Parameters
    ----------
    y_true : array_like
        y, targets in [0, 1].
    y_pred : array_like
        p, probabilities (clipped to [ε, 1 − ε]), or logits z when ``from_logits``.
    """
    y, p = _match(y_true, y_pred, "binary_crossentropy")
    return _bce(y, p, from_logits, grad=False)[0]


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample −Σₖ yₖ log pₖ, classes on the last axis.

    Parameters
    ----------
    y_true : array_like
        y, one-hot (or soft) targets.
    y_pred : array_like
        p, probabilities (rescaled to sum to 1, clipped), or logits z when ``from_logits``.
    """
    y, p = _match(y_true, y_pred, "categorical_crossentropy")
    return _cce(y, p, from_logits, grad=False)[0]


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample −log p_y for integer labels y.

    Parameters
    ----------
    y_true : array_like of int
        y, labels in 0..k−1, shape (m,) or (m, 1).
    y_pred : array_like
        p of shape (m, k), probabilities (clipped), or logits z when ``from_logits``.
    """
    labels, p = _labels(y_true, y_pred, "sparse_categorical_crossentropy")
    return _sparse_cce(labels, p, from_logits, grad=False)[0]


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of (y − ŷ)² over the last axis."""
    y, p = _match(y_true, y_pred, "mean_squared_error")
    return _mse(y, p, grad=False)[0]


mse = mean_squared_error


# ---------------------------------------------------------------------------
# Loss objects
# ---------------------------------------------------------------------------

class Loss:
    """Base class: ``loss(y_true, y_pred)`` → mean loss; ``gradient`` → ∂loss/∂y_pred.

    A subclass defines ``_compute(y_true, y_pred, grad)`` returning the
    per-sample losses and (if ``grad``) the gradient of their mean.
    """

    name = "loss"

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    def get_config(self) -> dict:
        return {"name": self.name}

    def __call__(self, y_true, y_pred) -> float:
        """The mean loss over the batch."""
        return float(np.mean(self._compute(y_true, y_pred, grad=False)[0]))

    def gradient(self, y_true, y_pred) -> np.ndarray:
        """∂(mean loss)/∂y_pred, the shape and dtype of y_pred."""
        return self._compute(y_true, y_pred, grad=True)[1]

    def value_and_gradient(self, y_true, y_pred) -> tuple[float, np.ndarray]:
        """``(loss(y_true, y_pred), gradient(y_true, y_pred))``, sharing the work."""
        per_sample, g = self._compute(y_true, y_pred, grad=True)
        return float(np.mean(per_sample)), g

    def accuracy(self, y_true, y_pred) -> float | None:
        """The fraction of correct predictions, or None where accuracy has no meaning (regression)."""
        return None

    def _compute(self, y_true, y_pred, grad):
        raise NotImplementedError


class _CrossEntropy(Loss):
    def __init__(self, from_logits=False, name=None):
        if not isinstance(from_logits, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}: from_logits must be True or False, got {from_logits!r}")
        self.from_logits = bool(from_logits)
        if name is not None:
            self.name = name

    def get_config(self):
        return {"from_logits": self.from_logits, **super().get_config()}


class BinaryCrossentropy(_CrossEntropy):
    """Binary cross-entropy, for sigmoid outputs (or logits with ``from_logits=True``).

    Parameters
    ----------
    from_logits : bool
        Whether y_pred holds logits z (then p = σ(z), computed stably) rather than probabilities p.
    """

    name = "binary_crossentropy"

    def _compute(self, y_true, y_pred, grad):
        y, p = _match(y_true, y_pred, type(self).__name__)
        return _bce(y, p, self.from_logits, grad)

    def accuracy(self, y_true, y_pred):
        y, p = _match(y_true, y_pred, type(self).__name__)
        threshold = 0.0 if self.from_logits else 0.5  # σ(z) > 0.5 ⇔ z > 0
        return float(np.mean((p > threshold) == (y > 0.5)))


class CategoricalCrossentropy(_CrossEntropy):
    """Softmax cross-entropy with one-hot targets.

    Parameters
    ----------
    from_logits : bool
        Whether y_pred holds logits z (then softmax and log are fused into a
        stable log-sum-exp) rather than probabilities p.
    """

    name = "categorical_crossentropy"

    def _compute(self, y_true, y_pred, grad):
        y, p = _match(y_true, y_pred, type(self).__name__)
        return _cce(y, p, self.from_logits, grad)

    def accuracy(self, y_true, y_pred):
        y, p = _match(y_true, y_pred, type(self).__name__)
        return float(np.mean(np.argmax(p, axis=-1) == np.argmax(y, axis=-1)))


class SparseCategoricalCrossentropy(_CrossEntropy):
    """Softmax cross-entropy with integer labels 0..k−1.

    Parameters
    ----------
    from_logits : bool
        Whether y_pred holds logits z rather than probabilities p.
    """

    name = "sparse_categorical_crossentropy"

    def _compute(self, y_true, y_pred, grad):
        labels, p = _labels(y_true, y_pred, type(self).__name__)
        return _sparse_cce(labels, p, self.from_logits, grad)

    def accuracy(self, y_true, y_pred):
        labels, p = _labels(y_true, y_pred, type(self).__name__)
        return float(np.mean(np.argmax(p, axis=-1) == labels))


class MeanSquaredError(Loss):
    """Mean squared error, the mean of (y − ŷ)² over every element."""

    name = "mean_squared_error"

    def __init__(self, name=None):
        if name is not None:
            self.name = name

    def _compute(self, y_true, y_pred, grad):
        y, p = _match(y_true, y_pred, type(self).__name__)
        return _mse(y, p, grad)


_BY_NAME = {
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
}


def get(identifier) -> Loss:
    """A loss from a name (``"sparse_categorical_crossentropy"``, ``"mse"`` …; Keras' class names too) or a Loss."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        for name, cls in _BY_NAME.items():
            if cls.__name__.lower() == key:
                key = name
        if key not in _BY_NAME:
            raise ValueError(f"unknown loss {identifier!r}; known: {', '.join(_BY_NAME)}")
        return _BY_NAME[key]()
    raise TypeError(
        f"loss must be a name ({', '.join(_BY_NAME)}) or a Loss object, got {type(identifier).__name__} "
        f"{identifier!r} (a plain function has no gradient)"
    )

