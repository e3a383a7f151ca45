"""Exponentially weighted averages (指数加权平均) with bias correction.

The building block of momentum, RMSprop and Adam:

    v₀ = 0,   v_t = β·v_{t−1} + (1 − β)·θ_t = (1 − β) Σ_{k=1..t} β^{t−k} θ_k,

an average over roughly the last 1 / (1 − β) values. Starting from v₀ = 0
biases the early v_t towards 0: their weights sum to 1 − βᵗ, not 1, so
the bias-corrected average divides by that sum,

    v̂_t = v_t / (1 − βᵗ),

which makes a constant series average to the constant from the first step.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["ExponentialMovingAverage", "ewa"]


def _check_beta(beta, where: str) -> float:
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise TypeError(f"{where}: beta must be a real number in [0, 1), got {type(beta).__name__} {beta!r}")
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"{where}: beta must be in [0, 1), got {beta!r}")
    return beta


class ExponentialMovingAverage:
    """A running exponentially weighted average of numbers or arrays.

    Parameters
    ----------
    beta : float
        β ∈ [0, 1), the weight of the past (0.9 averages ≈ 10 values).
    bias_correction : bool
        Return v̂_t = v_t / (1 − βᵗ) (the default) rather than v_t.

    Attributes
    ----------
    t : int
        The number of values seen.
    value : float or numpy.ndarray or None
        The raw average v_t (``None`` before the first update).

    Notes
    -----
    ``tf.train.ExponentialMovingAverage(decay)`` of TensorFlow 1 and
    ``keras.optimizers.Optimizer(use_ema=True, ema_momentum=β)`` now average
    model weights with the same recursion, but start from the first value
    instead of 0, so they need no bias correction.
    """

    def __init__(self, beta: float = 0.9, bias_correction: bool = True):
        self.beta = _check_beta(beta, "ExponentialMovingAverage")
        self.bias_correction = bool(bias_correction)
        self.t = 0
        self.value = None

    def update(self, x):
        """Add θ_t = ``x`` and return the (corrected) average.

        Parameters
        ----------
        x : float or array_like
            θ_t; every update must have the same shape.

        Returns
        -------
        float or numpy.ndarray
            v̂_t (or v_t without bias correction).
        """
        x = np.asarray(x, dtype=np.float64)
        if self.value is not None and np.shape(self.value) != x.shape:
            raise ValueError(
                f"ExponentialMovingAverage.update: expected shape {np.shape(self.value)} like the earlier values, "
                f"got {x.shape}"
            )
        previous = 0.0 if self.value is None else self.value
        self.value = self.beta * previous + (1.0 - self.beta) * x
        self.t += 1
        return self.average

    @property
    def average(self):
        """The current average: v̂_t with bias correction, else v_t."""
        if self.value is None:
            raise ValueError("ExponentialMovingAverage.average: no value yet; call update(x) first")
        out = self.value / (1.0 - self.beta**self.t) if self.bias_correction else self.value
        return float(out) if np.ndim(out) == 0 else np.array(out)

    def reset(self) -> None:
        """Forget every value (t = 0, v₀ = 0)."""
        self.t = 0
        self.value = None

    def __repr__(self) -> str:
        return f"ExponentialMovingAverage(beta={self.beta}, bias_correction={self.bias_correction}, t={self.t})"


def ewa(series, beta: float, bias_correction: bool = True) -> np.ndarray:
    """Exponentially weighted averages of a whole series at once.

    Without a Python loop over t: within a block of steps s+1 … s+n,
    v_{s+j} = β^j v_s + (1 − β) β^j Σ_{i≤j} β^{−i} θ_{s+i}, a cumulative sum.
    Blocks are short enough for β^{−i} to stay well inside float64's range.

    Parameters
    ----------
    series : array_like
        θ₁ … θ_T along axis 0 (further axes are averaged independently).
    beta : float
        β ∈ [0, 1).
    bias_correction : bool
        Return v̂_t = v_t / (1 − βᵗ) (the default) rather than v_t.

    Returns
    -------
    numpy.ndarray
        The averages, float64, the shape of ``series``.
    """
    beta = _check_beta(beta, "ewa")
    theta = np.asarray(series, dtype=np.float64)
    if theta.ndim == 0:
        raise ValueError("ewa: series must have at least one axis (the time axis 0), got a scalar")
    steps = theta.shape[0]
    if beta == 0.0:
        return theta.copy()  # v_t = θ_t, and 1 − 0ᵗ = 1
    # the longest block with β^{−n} ≤ 1e12
    block = max(1, min(steps, int(12 * math.log(10) / -math.log(beta))))
    out = np.empty_like(theta)
    v = np.zeros(theta.shape[1:])
    extra = (slice(None),) + (None,) * (theta.ndim - 1)  # broadcast the powers along axis 0
    for start in range(0, steps, block):
        chunk = theta[start : start + block]
        j = np.arange(1, len(chunk) + 1, dtype=np.float64)[extra]
        partial = np.cumsum(chunk * beta ** (1.0 - j), axis=0)  # Σ_{i≤j} β^{1−i} θ_{s+i}
        out[start : start + block] = beta**j * v + (1.0 - beta) * beta ** (j - 1.0) * partial
        v = out[start + len(chunk) - 1]
    if bias_correction:
        t = np.arange(1, steps + 1, dtype=np.float64)[extra]
        out /= 1.0 - beta**t
    return out
