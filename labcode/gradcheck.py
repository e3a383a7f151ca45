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

__all__ = ["numerical_gradient", "relative_error", "check_layer", "layer_errors", "check_loss"]


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


# ---------------------------------------------------------------------------
# Layers and losses
# ---------------------------------------------------------------------------

def _named_weights(layer) -> list[tuple[str, np.ndarray, Callable[[], np.ndarray]]]:
    """(name, parameter, getter of its gradient) for every trainable parameter of a layer or a model."""
    if hasattr(layer, "layers"):  # a model: its layers' parameters, "layer/param"
        return [(f"{sub.name}/{name}", p, g) for sub in layer.layers for name, p, g in _named_weights(sub)]
    if not getattr(layer, "trainable", True):
        return []
    params = getattr(layer, "params", {})
    return [(name, p, lambda name=name: layer.grads[name]) for name, p in params.items()]


def layer_errors(layer, x, training: bool = False, seed: int = 0, h: float = 1e-5) -> dict[str, float]:
    """The relative error of each of a layer's gradients against finite differences.

    The scalar probed is L = Σ forward(x) ⊙ R for a fixed random R, so
    ``backward(R)`` must return ∂L/∂x and fill ∂L/∂θ for each parameter θ.
    Stochastic layers (RReLU, dropout in training) are reseeded before every
    forward pass, so each pass draws the same noise (they keep that seed
    afterwards; ``layer.reseed(None)`` returns them to NumPy's global state).

    Parameters
    ----------
    layer : Layer or Sequential
        Anything with ``forward(x, training)``, ``backward(dout)`` and ``params`` / ``grads``.
    x : numpy.ndarray
        The input x, float64 (the layer is built in float64 on it if it is not built yet).
    training : bool
        Check the training-mode pass.
    seed : int
        Seed of R and of the layer's noise.
    h : float
        The finite-difference step h.

    Returns
    -------
    dict[str, float]
        ``{"input": …, "kernel": …, …}``: the input's error, then each parameter's.
    """
    if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
        raise TypeError(f"check_layer: expected a layer with forward and backward, got {type(layer).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"check_layer: x must be a float64 NumPy array (finite differences need it), got {got}")
    x = x.copy()
    reseed = getattr(layer, "reseed", None)

    def run(inp):
        if training and reseed is not None:
            reseed(seed + 1)
        return layer.forward(inp, training=training)

    out = run(x)  # builds the layer on the first call
    weights = _named_weights(layer)
    for name, p, _ in weights:
        if p.dtype != np.float64:
            raise TypeError(
                f"check_layer: parameter {name} of {layer!r} is {p.dtype}; build the layer on float64 input "
                "(a fresh layer called first on the float64 x) to check it"
            )
    r = np.random.default_rng(seed).standard_normal(np.shape(out))

    def loss_of_input(inp) -> float:
        return float(np.sum(run(inp) * r))

    def loss_of_params(_) -> float:  # the parameter is perturbed in place
        return float(np.sum(run(x) * r))

    run(x)
    dx = layer.backward(r.copy())  # the analytic gradients, before the probes overwrite the caches
    analytic = {name: get().copy() for name, _, get in weights}
    errors = {"input": relative_error(dx, numerical_gradient(loss_of_input, x, h=h))}
    for name, p, _ in weights:
        errors[name] = relative_error(analytic[name], numerical_gradient(loss_of_params, p, h=h))
    return errors


def check_layer(layer, x, training: bool = False, seed: int = 0, h: float = 1e-5) -> float:
    """The worst relative error over a layer's input gradient and parameter gradients.

    Compares ``backward`` with :func:`numerical_gradient` on L = Σ forward(x) ⊙ R,
    R random; see :func:`layer_errors` (which returns each error by name) for
    the parameters. In float64 a correct layer gives about 1e-7 or less.
    """
    return max(layer_errors(layer, x, training=training, seed=seed, h=h).values())


def check_loss(loss, y_true, y_pred, h: float = 1e-5) -> float:
    """The relative error of ``loss.gradient(y_true, y_pred)`` against finite differences of ``loss(y_true, ·)``.

    Parameters
    ----------
    loss : Loss or str
        A scratch loss (``labcode.scratch.losses``), or its name.
    y_true : array_like
        The targets y.
    y_pred : numpy.ndarray
        ŷ (probabilities or logits), float64, away from the clipping bounds ε and 1 − ε.
    h : float
        The finite-difference step h.
    """
    if isinstance(loss, str):
        from labcode.scratch import losses

        loss = losses.get(loss)
    if not (callable(loss) and hasattr(loss, "gradient")):
        raise TypeError(f"check_loss: expected a loss with __call__ and gradient, got {type(loss).__name__}")
    if not isinstance(y_pred, np.ndarray) or y_pred.dtype != np.float64:
        got = y_pred.dtype if isinstance(y_pred, np.ndarray) else type(y_pred).__name__
        raise TypeError(f"check_loss: y_pred must be a float64 NumPy array, got {got}")
    y_pred = y_pred.copy()
    analytic = loss.gradient(y_true, y_pred)
    return relative_error(analytic, numerical_gradient(lambda v: loss(y_true, v), y_pred, h=h))
