"""Inverted dropout (随机失活), like ``keras.layers.Dropout``.

In training, each unit is kept with probability p = 1 − rate and the kept
units are scaled by 1/p, so the expected activation is unchanged:

    forward   D ~ Bernoulli(p) elementwise,   A = X ⊙ D / p
    backward  ∂L/∂X = ∂L/∂A ⊙ D / p

At inference the layer is the identity (no scaling is needed there: that
is the point of scaling at training time, the "inverted" in inverted dropout).
"""

from __future__ import annotations

import numbers

import numpy as np

from labcode.scratch.base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Drop each unit with probability ``rate`` in training and scale the rest by 1/(1 − rate).

    Parameters
    ----------
    rate : float
        The drop probability, in [0, 1); keep_prob p = 1 − rate.
    noise_shape : tuple of int or None, optional
        The shape of the mask, broadcast over the input (``None`` entries take
        the input's size), e.g. ``(None, 1, 1, C)`` to drop whole channels of an
        NHWC batch; by default one mask entry per input element.
    seed : int, numpy.random.Generator or None
        The masks' randomness; see :meth:`Layer.reseed`.

    Attributes
    ----------
    mask : numpy.ndarray or None
        D / p of the last training-mode forward (the kept units' scale, 0 where dropped).
    """

    stochastic = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(
                f"{self._where}: rate must be a drop probability in [0, 1) (keep_prob = 1 − rate > 0), got {rate!r}"
            )
        self.rate = float(rate)
        if noise_shape is not None:
            if isinstance(noise_shape, str) or not all(
                d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1)
                for d in noise_shape
            ):
                raise ValueError(
                    f"{self._where}: noise_shape must be a tuple of positive ints or None, got {noise_shape!r}"
                )
            noise_shape = tuple(None if d is None else int(d) for d in noise_shape)
        self.noise_shape = noise_shape
        self.mask = None
        self.reseed(seed)

    def __repr__(self):
        return f"<Dropout '{self.name}' rate={self.rate}>"

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape) or any(
            d is not None and d != 1 and d != s for d, s in zip(self.noise_shape, shape, strict=True)
        ):
            raise ValueError(
                f"{self._where}: noise_shape {self.noise_shape} does not broadcast to the input shape {shape} "
                "(each entry must be None, 1 or the input's size)"
            )
        return tuple(s if d is None else d for d, s in zip(self.noise_shape, shape, strict=True))

    def forward(self, x, training=False):
        x = self._prepare(x)
        self._out_shape = x.shape
        if not training or self.rate == 0:
            self.mask = None
            return x
        keep = 1.0 - self.rate
        u = self._uniform(0.0, 1.0, self._mask_shape(x.shape), x.dtype)
        self.mask = np.where(u >= self.rate, x.dtype.type(1.0 / keep), x.dtype.type(0.0))  # D / p
        return x * self.mask

    def backward(self, dout):
        dout = self._check_dout(dout)
        return dout if self.mask is None else dout * self.mask
