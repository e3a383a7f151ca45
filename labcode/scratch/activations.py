"""Activation functions (激活函数), as NumPy functions and as layers with a backward pass.

===========  ======================================  =======================================
layer        forward  y = f(x)                       backward  ∂L/∂x = ∂L/∂y · f′(x)
===========  ======================================  =======================================
Sigmoid      σ(x) = 1 / (1 + e^(−x))                 σ(x) (1 − σ(x)) = y (1 − y)
Tanh         tanh x                                  1 − y²
ReLU         max(x, 0)                               1 if x > 0 else 0
LeakyReLU    x if x > 0 else a x                     1 if x > 0 else a
PReLU        x if x > 0 else α x  (α learned)        1 if x > 0 else α;  ∂y/∂α = min(x, 0)
RReLU        x if x ≥ 0 else a x, a ~ U(l, u)        1 if x ≥ 0 else a  (a = (l + u)/2 at inference)
ELU          x if x > 0 else α (eˣ − 1)              1 if x > 0 else y + α
Softmax      eˣⁱ / Σⱼ eˣʲ                            y ⊙ (g − ⟨g, y⟩),  g = ∂L/∂y
===========  ======================================  =======================================

The derivative at a kink (x = 0) is the one TensorFlow uses, so gradients
agree with Keras everywhere.
"""

from __future__ import annotations

import numbers

import numpy as np

from labcode.scratch import initializers
from labcode.scratch.base import Layer

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softmax", "linear",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "Softmax", "Linear", "get",
]


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)), computed without overflow for any x.

    With e = e^(−|x|) ≤ 1: σ(x) = 1 / (1 + e) for x ≥ 0 and e / (1 + e) for x < 0.
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def tanh(x):
    """tanh x."""
    return np.tanh(x)


def relu(x):
    """max(x, 0)."""
    return np.maximum(x, 0)


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, a·x otherwise (a = ``negative_slope``; 0.2 is ``keras.activations.leaky_relu``'s default)."""
    x = np.asarray(x)
    return np.where(x > 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    """x for x > 0, α(eˣ − 1) otherwise."""
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def softmax(x, axis=-1):
    """eˣⁱ / Σⱼ eˣʲ along ``axis``, stable: the max is subtracted first (softmax(x − c) = softmax(x))."""
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def linear(x):
    """The identity."""
    return np.asarray(x)


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

def _check_slope(value, what, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{where}: {what} must be a number ≥ 0, got {value!r}")
    return float(value)


class Sigmoid(Layer):
    """The logistic function σ(x) = 1 / (1 + e^(−x)); backward: y (1 − y)."""

    def forward(self, x, training=False):
        x = self._prepare(x)
        y = sigmoid(x)
        self._y, self._out_shape = y, y.shape
        return y

    def backward(self, dout):
        dout = self._check_dout(dout)
        y = self._y
        return dout * y * (1 - y)


class Tanh(Layer):
    """tanh x; backward: 1 − y²."""

    def forward(self, x, training=False):
        x = self._prepare(x)
        y = np.tanh(x)
        self._y, self._out_shape = y, y.shape
        return y

    def backward(self, dout):
        dout = self._check_dout(dout)
        y = self._y
        return dout * (1 - y * y)


class ReLU(Layer):
    """max(x, 0); backward: passes ∂L/∂y where x > 0, zero elsewhere (also at 0, like TensorFlow)."""

    def forward(self, x, training=False):
        x = self._prepare(x)
        self._mask = x > 0
        self._out_shape = x.shape
        return np.maximum(x, 0)

    def backward(self, dout):
        dout = self._check_dout(dout)
        return dout * self._mask


class LeakyReLU(Layer):
    """x for x > 0, a·x otherwise, a fixed.

    Parameters
    ----------
    negative_slope : float
        a, the slope for x ≤ 0 (Keras 3's name and default, 0.3).
    alpha : float, optional
        The same a under Keras 2's (and the lecture notes') name.
    """

    def __init__(self, negative_slope=0.3, *, alpha=None, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = _check_slope(negative_slope if alpha is None else alpha, "negative_slope", self._where)

    @property
    def alpha(self) -> float:
        return self.negative_slope

    def forward(self, x, training=False):
        x = self._prepare(x)
        self._mask = x > 0
        self._out_shape = x.shape
        return np.where(self._mask, x, self.negative_slope * x)

    def backward(self, dout):
        dout = self._check_dout(dout)
        return np.where(self._mask, dout, self.negative_slope * dout)


class PReLU(Layer):
    """Parametric ReLU: x for x > 0, α·x otherwise, with α learned.

    y = max(x, 0) + α·min(x, 0), so ∂y/∂α = min(x, 0), summed over the batch
    (and over ``shared_axes``).

    Parameters
    ----------
    alpha_initializer : str or Initializer
        For α; Keras' default "zeros" starts as a ReLU.
    shared_axes : sequence of int, optional
        Axes (counting the batch axis as 0) along which one α is shared, e.g.
        ``[1, 2]`` for one α per channel of an NHWC image. By default one α
        per feature: α has the shape of a sample.
    """

    def __init__(self, alpha_initializer="zeros", shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        if shared_axes is not None:
            shared_axes = [shared_axes] if isinstance(shared_axes, numbers.Integral) else list(shared_axes)
            if any(isinstance(a, bool) or not isinstance(a, numbers.Integral) or a < 1 for a in shared_axes):
                raise ValueError(f"{self._where}: shared_axes must be axes ≥ 1 (0 is the batch), got {shared_axes}")
        self.shared_axes = shared_axes

    def build(self, input_shape):
        super().build(input_shape)
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if a > len(shape):
                raise ValueError(f"{self._where}: shared axis {a} does not exist in input shape {tuple(input_shape)}")
            shape[a - 1] = 1
        self.add_weight("alpha", shape, self.alpha_initializer)

    def forward(self, x, training=False):
        x = self._prepare(x)
        self._x, self._out_shape = x, x.shape
        return np.maximum(x, 0) + self.params["alpha"] * np.minimum(x, 0)

    def backward(self, dout):
        dout = self._check_dout(dout)
        x = self._x
        alpha = self.params["alpha"]
        if self.trainable:
            axes = (0, *(self.shared_axes or []))
            self.grads["alpha"][...] = np.sum(dout * np.minimum(x, 0), axis=axes, keepdims=True)[0]
        return np.where(x > 0, dout, 0) + np.where(x < 0, alpha * dout, 0)


class RReLU(Layer):
    """Randomised leaky ReLU: in training, each element gets its own slope a ~ U(lower, upper).

    At inference the slope is the mean (lower + upper) / 2, so the layer is a
    LeakyReLU. In training ``forward`` draws fresh slopes (from ``seed``'s
    generator, or NumPy's global state) and ``backward`` uses the same ones.

    Parameters
    ----------
    lower, upper : float
        l and u, the range of the slopes (defaults 1/8 and 1/3, as in Xu et al. 2015).
    seed : int, numpy.random.Generator or None
        The slopes' randomness; see :meth:`Layer.reseed`.
    """

    stochastic = True

    def __init__(self, lower=1 / 8, upper=1 / 3, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.lower = _check_slope(lower, "lower", self._where)
        self.upper = _check_slope(upper, "upper", self._where)
        if self.lower > self.upper:
            raise ValueError(f"{self._where}: needs lower ≤ upper, got lower={lower!r} > upper={upper!r}")
        self.reseed(seed)

    def forward(self, x, training=False):
        x = self._prepare(x)
        if training:
            slope = self._uniform(self.lower, self.upper, x.shape, x.dtype)
        else:
            slope = (self.lower + self.upper) / 2
        self._slope, self._mask, self._out_shape = slope, x >= 0, x.shape
        return np.where(self._mask, x, slope * x)

    def backward(self, dout):
        dout = self._check_dout(dout)
        return np.where(self._mask, dout, self._slope * dout)


class ELU(Layer):
    """Exponential linear unit: x for x > 0, α(eˣ − 1) otherwise; backward: 1 or y + α.

    Parameters
    ----------
    alpha : float
        α, the value −α that the output approaches for x → −∞ (Keras' default 1.0).
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _check_slope(alpha, "alpha", self._where)

    def forward(self, x, training=False):
        x = self._prepare(x)
        y = elu(x, self.alpha)
        self._mask, self._y, self._out_shape = x > 0, y, y.shape
        return y

    def backward(self, dout):
        dout = self._check_dout(dout)
        return np.where(self._mask, dout, dout * (self._y + self.alpha))


class Softmax(Layer):
    """yᵢ = eˣⁱ / Σⱼ eˣʲ along ``axis``, stable.

    The Jacobian is ∂yᵢ/∂xⱼ = yᵢ (δᵢⱼ − yⱼ), so its product with g = ∂L/∂y is
    ∂L/∂x = y ⊙ (g − Σⱼ gⱼ yⱼ), without forming the matrix.

    Parameters
    ----------
    axis : int
        The axis that sums to 1 (Keras' default −1, the classes).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"{self._where}: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def forward(self, x, training=False):
        x = self._prepare(x)
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self._where}: axis {self.axis} is out of range for an input of shape {x.shape}")
        y = softmax(x, self.axis)
        self._y, self._out_shape = y, y.shape
        return y

    def backward(self, dout):
        dout = self._check_dout(dout)
        y = self._y
        return y * (dout - np.sum(dout * y, axis=self.axis, keepdims=True))


class Linear(Layer):
    """The identity (``activation=None`` or ``"linear"``)."""

    def forward(self, x, training=False):
        x = self._prepare(x)
        self._out_shape = x.shape
        return x

    def backward(self, dout):
        return self._check_dout(dout)


# Keras' activation *functions* by name: "leaky_relu" is keras.activations.leaky_relu, slope 0.2
# (the LeakyReLU *layer*'s default is 0.3).
_BY_NAME = {
    "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU,
    "leaky_relu": lambda name: LeakyReLU(negative_slope=0.2, name=name),
    "elu": ELU, "softmax": Softmax, "linear": Linear,
}


def get(identifier) -> Layer | None:
    """An activation layer from a name (``"relu"`` …), a layer instance (copied), or None (no activation).

    Names follow ``keras.activations``: "sigmoid", "tanh", "relu",
    "leaky_relu" (slope 0.2, like ``keras.activations.leaky_relu``), "elu",
    "softmax", "linear".
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"unknown activation {identifier!r}; known: {', '.join(_BY_NAME)} (or None)")
        return _BY_NAME[key](name=key)
    if isinstance(identifier, Layer):
        if identifier.params or isinstance(identifier, PReLU):
            raise TypeError(
                f"activation {identifier!r} has parameters; add it as a layer of its own instead of as an activation"
            )
        return identifier.copy_unbuilt()
    raise TypeError(
        f"activation must be a name ({', '.join(_BY_NAME)}), an activation layer such as LeakyReLU(0.1), or None; "
        f"got {type(identifier).__name__} {identifier!r} (a plain function has no backward pass)"
    )

