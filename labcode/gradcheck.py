"""Numerical gradient checking (梯度检验).

Compare an analytic gradient with the centred finite difference

    ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / (2h),

whose error shrinks like h² (a one-sided difference only like h), using the
relative error ‖a − b‖ / (‖a‖ + ‖b‖). In float64, a correct gradient gives
about 1e-7 or less; 1e-3 or more almost always means a bug.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "relative_error"]


def numerical_gradient(f: Callable[[np.ndarray], float], x, h: float = 1e-5) -> np.ndarray:
    """Centred finite-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable
        f(x) → a number; may read ``x`` (it is restored after each probe).
    x : numpy.ndarray or float
        The point; a float64 array is perturbed in place, one entry at a time.
    h : float
        The step h.

    Returns
    -------
    numpy.ndarray
        ∂f/∂x, the shape of ``x``.
    """
    if not (isinstance(h, float) and h > 0):
        raise ValueError(f"numerical_gradient: h must be a positive float, got {h!r}")
    scalar = np.isscalar(x)
    x_arr = np.array(x, dtype=np.float64) if scalar else x
    if not isinstance(x_arr, np.ndarray):
        raise TypeError(f"numerical_gradient: x must be a NumPy array or a number, got {type(x).__name__}")
    if x_arr.dtype != np.float64:
        raise TypeError(
            f"numerical_gradient: x must be float64 (finite differences in {x_arr.dtype} are too coarse), "
            "convert it with x.astype(np.float64)"
        )

    def value():
        out = f(float(x_arr) if scalar else x_arr)
        out = np.asarray(out, dtype=np.float64)
        if out.size != 1:
            raise ValueError(f"numerical_gradient: f must return one number, got shape {out.shape}")
        return float(out)

    grad = np.zeros_like(x_arr)
    it = np.nditer(x_arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x_arr[i]
        x_arr[i] = old + h
        f_plus = value()
        x_arr[i] = old - h
        f_minus = value()
        x_arr[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a, b) -> float:
    """‖a − b‖ / (‖a‖ + ‖b‖), and 0 when both are exactly zero.

    Parameters
    ----------
    a, b : array_like
        Two gradients of the same shape.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ: {a.shape} vs {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    if denom == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / denom)
