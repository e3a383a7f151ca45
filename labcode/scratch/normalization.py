"""Batch normalisation (批归一化), like ``keras.layers.BatchNormalization``.

For each feature (each channel of an NHWC batch), over the N values of the
batch (N = m, or m·H·W for images):

    training   μ = (1/N) Σ x,   σ² = (1/N) Σ (x − μ)²          (biased, like Keras)
               x̂ = (x − μ) / √(σ² + ε),   y = γ x̂ + β
               moving_mean ← moving_mean·momentum + μ·(1 − momentum)   (the same for σ²)
    inference  x̂ = (x − moving_mean) / √(moving_variance + ε),   y = γ x̂ + β

Backward in training (μ and σ² depend on x), with g = ∂L/∂y:

    ∂L/∂β = Σ g,   ∂L/∂γ = Σ g ⊙ x̂,
    ∂L/∂x = γ / (N √(σ² + ε)) · (N g − Σ g − x̂ ⊙ Σ (g ⊙ x̂))

the compact formula (the sums run over the batch, per feature). At inference
the statistics are constants and ∂L/∂x = γ g / √(moving_variance + ε).
The moving statistics are weights (so they copy with ``get_weights``) but
not trainable: no optimiser updates them.
"""

from __future__ import annotations

import numbers

import numpy as np

from labcode.scratch import initializers, regularizers
from labcode.scratch.base import Layer

__all__ = ["BatchNormalization"]


def _unit_interval(value, name, where, closed_high=True):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (
        0 <= value <= 1 if closed_high else 0 <= value < 1)
    if not ok:
        raise ValueError(f"{where}: {name} must be a number in [0, 1{']' if closed_high else ')'}, got {value!r}")
    return float(value)


class BatchNormalization(Layer):
    """Normalise each feature over the batch, then scale by γ and shift by β.

    Parameters
    ----------
    axis : int
        The feature axis (−1: the features of (batch, features), the channels of NHWC).
    momentum : float
        The moving averages' momentum (Keras' 0.99).
    epsilon : float
        ε, added to the variance (Keras' 1e-3).
    center, scale : bool
        Whether to learn β (``beta``) and γ (``gamma``).
    beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer : str or Initializer
        Keras' defaults: zeros, ones, zeros, ones.
    beta_regularizer, gamma_regularizer : Regularizer, optional
        Penalties on β and γ.

    Attributes
    ----------
    params : dict
        ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance``
        (updated by training-mode forward passes, never by an optimiser), in
        Keras' weight order.

    Notes
    -----
    Like Keras, a frozen layer (``trainable = False``) normalises with its
    moving statistics even in training mode, and leaves them alone: what
    transfer learning wants when the lower layers are frozen.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"{self._where}: axis must be an int, got {axis!r}")
        self.axis = int(axis)
        self.momentum = _unit_interval(momentum, "momentum", self._where)
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise ValueError(f"{self._where}: epsilon must be a positive number, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        try:
            self.regularizers = {"gamma": regularizers.get(gamma_regularizer),
                                 "beta": regularizers.get(beta_regularizer)}
        except ValueError as e:
            raise ValueError(f"{self._where}: {e}") from None
        self._ax = None  # the feature axis as a non-negative index, once built

    def __repr__(self):
        return f"<BatchNormalization '{self.name}' axis={self.axis}>"

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if ndim < 2:
            raise ValueError(f"{self._where}: expected an input with a batch axis and features, got {input_shape}")
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(
                f"{self._where}: axis {self.axis} is not a feature axis of a {ndim}-D input {input_shape} "
                "(the batch axis 0 cannot be normalised over)"
            )
        n = input_shape[self.axis]
        if n is None:
            raise ValueError(f"{self._where}: the feature axis {self.axis} of {input_shape} must have a known size")
        super().build(input_shape)
        self._ax = self.axis % ndim
        if self.scale:
            self.add_weight("gamma", (n,), self.gamma_initializer)
        if self.center:
            self.add_weight("beta", (n,), self.beta_initializer)
        self.add_weight("moving_mean", (n,), self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", (n,), self.moving_variance_initializer, trainable=False)

    def _check_input_shape(self, x):
        expected = self.input_shape
        if x.ndim != len(expected) or x.shape[self._ax] != expected[self._ax]:
            raise ValueError(
                f"{self._where}: expected {expected[self._ax]} features along axis {self.axis} of a "
                f"{len(expected)}-D input (learned from its first batch, shape {expected}), got shape {x.shape}"
            )

    def _bshape(self, ndim):
        shape = [1] * ndim
        shape[self._ax] = self.params["moving_mean"].shape[0]
        return tuple(shape)

    def forward(self, x, training=False):
        x = self._prepare(x)
        reduce = tuple(i for i in range(x.ndim) if i != self._ax)
        bshape = self._bshape(x.ndim)
        p = self.params
        self._batch_stats = bool(training and self.trainable)
        if self._batch_stats:
            mean = x.mean(axis=reduce)
            var = x.var(axis=reduce)  # biased: 1/N, like Keras (and the moving variance it feeds)
            mm, mv = p["moving_mean"], p["moving_variance"]
            mm *= self.momentum
            mm += (1.0 - self.momentum) * mean
            mv *= self.momentum
            mv += (1.0 - self.momentum) * var
        else:
            mean, var = p["moving_mean"], p["moving_variance"]
        inv_std = 1.0 / np.sqrt(var + self.epsilon)
        xhat = (x - mean.reshape(bshape)) * inv_std.reshape(bshape)
        out = xhat * p["gamma"].reshape(bshape) if self.scale else xhat.copy()
        if self.center:
            out += p["beta"].reshape(bshape)
        self._xhat, self._inv_std, self._reduce, self._out_shape = xhat, inv_std, reduce, out.shape
        return out

    def backward(self, dout):
        dout = self._check_dout(dout).astype(self.dtype, copy=False)
        xhat, reduce, bshape = self._xhat, self._reduce, self._bshape(dout.ndim)
        dbeta = dout.sum(axis=reduce)
        dgamma = (dout * xhat).sum(axis=reduce)
        if self.trainable:
            if self.scale:
                self.grads["gamma"][...] = dgamma
            if self.center:
                self.grads["beta"][...] = dbeta
        g_scale = self._inv_std * self.params["gamma"] if self.scale else self._inv_std
        if not self._batch_stats:
            # the output depends on the moving statistics (constants to an optimiser; these gradients are
            # for completeness, e.g. a gradient check): ∂y/∂μ = −γ/σ, ∂y/∂σ² = −γ x̂ / (2σ²)
            self.grads["moving_mean"][...] = -g_scale * dbeta
            self.grads["moving_variance"][...] = -0.5 * g_scale * self._inv_std * (dout * xhat).sum(axis=reduce)
        else:
            self.grads["moving_mean"][...] = 0.0
            self.grads["moving_variance"][...] = 0.0
        if not self.need_input_gradient:
            return None
        if not self._batch_stats:
            return dout * g_scale.reshape(bshape)
        n = dout.size // dout.shape[self._ax]  # N, the values per feature
        return (g_scale / n).reshape(bshape) * (n * dout - dbeta.reshape(bshape) - xhat * dgamma.reshape(bshape))
