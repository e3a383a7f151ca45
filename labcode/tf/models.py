"""Keras model builders."""

from __future__ import annotations

import numbers

import keras

__all__ = ["mlp"]


def mlp(layer_sizes, activation="relu", output_activation=None, input_shape=None, dtype="float32", seed=None,
        name=None):
    """A multilayer perceptron: [Flatten →] Dense(n₁, f) → … → Dense(n_L, output f), as a ``keras.Sequential``.

    Parameters
    ----------
    layer_sizes : sequence of int
        n₁ … n_L, the units of each Dense layer; the last is the output layer.
    activation : str or callable
        f, the hidden layers' activation (any ``keras.activations`` name).
    output_activation : str or callable, optional
        The output layer's activation; None for logits (pair them with a loss
        ``from_logits=True``).
    input_shape : tuple of int, optional
        One sample's shape, without the batch axis, e.g. ``(784,)`` or
        ``(28, 28)`` (then a Flatten layer comes first). By default the model
        is built on its first batch of flat samples.
    dtype : str
        The weights' and computations' dtype, "float32" or "float64".
    seed : int, optional
        Seeds the Glorot-uniform initialisers (layer i uses ``seed + i``) for
        reproducible weights; by default they come from Keras' global seed
        (:func:`labcode.seed`).
    name : str, optional
        The model's name.

    Returns
    -------
    keras.Sequential
        Not compiled.
    """
    sizes = list(layer_sizes) if isinstance(layer_sizes, (list, tuple)) else None
    if not sizes or any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 for n in sizes):
        raise ValueError(f"mlp: layer_sizes must be a non-empty list of positive ints, got {layer_sizes!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"mlp: seed must be a non-negative int or None, got {seed!r}")
    layers = []
    if input_shape is not None:
        input_shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else (input_shape,)
        layers.append(keras.Input(shape=input_shape, dtype=dtype))
        if len(input_shape) > 1:
            layers.append(keras.layers.Flatten(dtype=dtype))
    for i, units in enumerate(sizes):
        last = i == len(sizes) - 1
        init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)
        layers.append(keras.layers.Dense(int(units), activation=output_activation if last else activation,
                                         kernel_initializer=init, dtype=dtype))
    return keras.Sequential(layers, name=name)
