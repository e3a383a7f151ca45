"""VGG-16 and VGG-19 (Simonyan & Zisserman 2014, configurations D and E) in Keras.

Five blocks of 3×3 SAME convolutions (64, 128, 256, 512, 512 maps; 2-2-3-3-3 of them in
VGG-16, 2-2-4-4-4 in VGG-19), each block closed by a 2×2/2 max pooling, then
4,096-4,096-1,000 dense layers. The layer names and weights are those of
``keras.applications.VGG16`` / ``VGG19`` (so ``set_weights`` copies between them):
138,357,544 and 143,667,240 parameters at 224×224×3 with 1,000 classes, 102,764,544 of them
in fc1 alone. Unlike Keras' version, the paper's dropout (0.5) follows fc1 and fc2; it has
no weights.
"""

from __future__ import annotations

import keras

from labcode.tf._checks import check_input_shape, check_num_classes, check_rate

__all__ = ["vgg16", "vgg19", "vgg"]

_CONFIGS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
_FILTERS = (64, 128, 256, 512, 512)
MIN_SIZE = 32  # five VALID 2×2/2 poolings: 32 → 1; 31 would leave 0


def vgg(depth, input_shape=(224, 224, 3), num_classes=1000, dropout=0.5, classifier_activation="softmax",
        name=None):
    """VGG-``depth`` (16 or 19) as a ``keras.Model``; see :func:`vgg16`."""
    where = f"vgg{depth}"
    if depth not in _CONFIGS:
        raise ValueError(f"vgg: depth must be 16 or 19, got {depth!r}")
    shape = check_input_shape(input_shape, where, MIN_SIZE, "five 2×2/2 max poolings must leave a 1×1 map")
    num_classes = check_num_classes(num_classes, where)
    dropout = check_rate(dropout, "dropout", where)
    L = keras.layers
    inputs = keras.Input(shape=shape, name="input")
    x = inputs
    for b, (convs, filters) in enumerate(zip(_CONFIGS[depth], _FILTERS, strict=True), start=1):
        for i in range(1, convs + 1):
            x = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{b}_conv{i}")(x)
        x = L.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(4096, activation="relu", name="fc1")(x)
    x = L.Dropout(dropout, name="drop1")(x)
    x = L.Dense(4096, activation="relu", name="fc2")(x)
    x = L.Dropout(dropout, name="drop2")(x)
    x = L.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name or where)


def vgg16(input_shape=(224, 224, 3), num_classes=1000, dropout=0.5, classifier_activation="softmax", name="vgg16"):
    """VGG-16 (configuration D) as a ``keras.Model``: 13 convolutional and 3 dense layers.

    Parameters
    ----------
    input_shape : (int, int, int)
        (height, width, channels), at least 32×32.
    num_classes : int
        The output units ("predictions").
    dropout : float
        The rate after fc1 and fc2 (the paper's 0.5; 0 for Keras' model).
    classifier_activation : str or None
        The output's activation; None gives logits.
    name : str
        The model's name.

    Returns
    -------
    keras.Model
        Not compiled; 138,357,544 parameters at 224×224×3, 1,000 classes.
    """
    return vgg(16, input_shape, num_classes, dropout, classifier_activation, name)


def vgg19(input_shape=(224, 224, 3), num_classes=1000, dropout=0.5, classifier_activation="softmax", name="vgg19"):
    """VGG-19 (configuration E) as a ``keras.Model``: 16 convolutional and 3 dense layers.

    Arguments as for :func:`vgg16`; 143,667,240 parameters at 224×224×3, 1,000 classes.
    """
    return vgg(19, input_shape, num_classes, dropout, classifier_activation, name)
