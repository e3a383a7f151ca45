"""Dense (fully connected) and Flatten layers.

Dense, for a batch X of m rows:

    forward   Z = X W + b,    A = f(Z)
    backward  ∂L/∂Z = ∂L/∂A ⊙ f′(Z)   (the activation layer's backward)
              ∂L/∂W = Xᵀ ∂L/∂Z,  ∂L/∂b = Σ_rows ∂L/∂Z,  ∂L/∂X = ∂L/∂Z Wᵀ
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from labcode.scratch import activations, initializers, regularizers
from labcode.scratch.base import Layer

__all__ = ["Dense", "Flatten"]



def set_kernel_options(layer, activation, use_bias, kernel_initializer, bias_initializer,
                       kernel_regularizer, bias_regularizer) -> None:
    """The arguments a layer with a kernel and a bias shares with Keras (Dense, Conv2D), checked and stored."""
    layer.activation = activations.get(activation)
    layer.use_bias = bool(use_bias)
    layer.kernel_initializer = initializers.get(kernel_initializer)
    layer.bias_initializer = initializers.get(bias_initializer)
    try:
        layer.kernel_regularizer = regularizers.get(kernel_regularizer)
        layer.bias_regularizer = regularizers.get(bias_regularizer)
    except ValueError as e:
        raise ValueError(f"{layer._where}: {e}") from None
    layer.regularizers = {"kernel": layer.kernel_regularizer, "bias": layer.bias_regularizer}

class Dense(Layer):
    """A fully connected layer: A = f(X W + b).

    Parameters
    ----------
    units : int
        n_out, the number of outputs (neurons).
    activation : str, activation layer or None
        f: "sigmoid", "tanh", "relu", "leaky_relu" (slope 0.2, like
        ``keras.activations.leaky_relu``), "elu", "softmax", "linear" / None,
        or a layer such as ``LeakyReLU(0.1)`` (copied).
    use_bias : bool
        Whether to add b.
    kernel_initializer, bias_initializer : str or Initializer
        For W (n_in × n_out) and b (n_out,); Keras' defaults.
    kernel_regularizer, bias_regularizer : Regularizer, str or None
        Penalties Ω(W), Ω(b) added to the model's loss while training, e.g.
        ``L2(0.01)`` (Keras' λ‖W‖²) or ``course_l2(0.7)`` (λ/(2m)‖W‖²); see
        :mod:`labcode.scratch.regularizers`.

    Attributes
    ----------
    params : dict
        ``{"kernel": W, "bias": b}`` (no "bias" when ``use_bias=False``), after the first batch.
    """

    input_ndim = 2

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
            raise ValueError(f"{self._where}: units must be a positive int, got {units!r}")
        self.units = int(units)
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                           kernel_regularizer, bias_regularizer)

    def __repr__(self):
        act = self.activation.name if self.activation is not None else "linear"
        return f"<Dense '{self.name}' units={self.units} activation={act}>"

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{self._where}: expected a 2-D input shape (batch, features), got {tuple(input_shape)}")
        super().build(input_shape)
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def _check_input_shape(self, x):
        n_in = self.input_shape[-1]
        if x.shape[-1] != n_in:
            raise ValueError(
                f"{self._where}: expected {n_in} input features (learned from its first batch), "
                f"got {x.shape[-1]} (input shape {x.shape})"
            )

    def forward(self, x, training=False):
        x = self._prepare(x)
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        self._x = x
        out = z if self.activation is None else self.activation.forward(z, training=training)
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        dout = self._check_dout(dout).astype(self.dtype, copy=False)
        dz = dout if self.activation is None else self.activation.backward(dout)
        if self.trainable:
            np.matmul(self._x.T, dz, out=self.grads["kernel"])
            if self.use_bias:
                np.sum(dz, axis=0, out=self.grads["bias"])
        if not self.need_input_gradient:
            return None  # the first layer of a model in training: ∂L/∂X is not needed
        return dz @ self.params["kernel"].T


class Flatten(Layer):
    """Reshape each sample to one vector: (m, d₁, d₂, …) → (m, d₁·d₂·…); backward reshapes back."""

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        n = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], n)

    def forward(self, x, training=False):
        x = self._prepare(x)
        self._in_shape = x.shape
        out = x.reshape(x.shape[0], math.prod(x.shape[1:]))
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        dout = self._check_dout(dout)
        return dout.reshape(self._in_shape)
