"""Xception (Chollet 2016) in Keras: depthwise separable convolutions with residual connections.

A separable convolution filters each input map on its own (a 3×3 depthwise convolution) and
then mixes the maps with a 1×1 (pointwise) convolution: 9·C + C·C′ weights instead of
9·C·C′. Xception is 36 of them in 14 blocks:

- entry flow: two 3×3 convolutions (32, 64 maps, the first stride 2, both VALID), then three
  blocks of two separable convolutions (128, 256, 728 maps) and a 3×3/2 max pooling, each
  with a 1×1/2 convolution on its shortcut;
- middle flow: eight blocks of three separable convolutions (728 maps), identity shortcuts;
- exit flow: a block of two separable convolutions (728, 1,024 maps) + max pooling with a
  1×1/2 shortcut, two separable convolutions (1,536, 2,048 maps), global average pooling,
  the classifier.

The layers follow ``keras.applications.Xception`` one for one (its names; the shortcut
layers, unnamed there, are ``block{n}_shortcut`` / ``_shortcut_bn`` / ``block{n}_add`` here),
so the parameters are the same: 22,910,480 at 299×299×3 with 1,000 classes, of which 54,528
are BN's moving statistics; 22,855,952 trainable, the paper's Table 3 count.
"""

from __future__ import annotations

import keras

from labcode.tf._checks import check_input_shape, check_num_classes

__all__ = ["xception"]

MIN_SIZE = 71  # Keras' own minimum for Xception (the two VALID 3×3 convolutions alone would allow 7×7)


def _sep(x, filters, name, relu_before=True, act_name=None):
    L = keras.layers
    if relu_before:
        x = L.Activation("relu", name=act_name or f"{name}_act")(x)
    x = L.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return L.BatchNormalization(name=f"{name}_bn")(x)


def _shortcut(x, filters, block):
    x = keras.layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False, name=f"block{block}_shortcut")(x)
    return keras.layers.BatchNormalization(name=f"block{block}_shortcut_bn")(x)


def xception(input_shape=(299, 299, 3), num_classes=1000, classifier_activation="softmax", name="xception"):
    """Xception as a ``keras.Model``, layer for layer ``keras.applications.Xception`` (22,910,480 parameters).

    Parameters
    ----------
    input_shape : (int, int, int)
        (height, width, channels), at least 71×71 (Keras' minimum).
    num_classes : int
    classifier_activation : str or None
        None gives logits.
    name : str

    Returns
    -------
    keras.Model
        Not compiled.
    """
    where = "xception"
    shape = check_input_shape(input_shape, where, MIN_SIZE, "keras.applications.Xception's minimum")
    num_classes = check_num_classes(num_classes, where)
    L = keras.layers
    inputs = keras.Input(shape=shape, name="input")
    x = L.Conv2D(32, 3, strides=2, use_bias=False, name="block1_conv1")(inputs)
    x = L.Activation("relu", name="block1_conv1_act")(L.BatchNormalization(name="block1_conv1_bn")(x))
    x = L.Conv2D(64, 3, use_bias=False, name="block1_conv2")(x)
    x = L.Activation("relu", name="block1_conv2_act")(L.BatchNormalization(name="block1_conv2_bn")(x))

    # entry flow: blocks 2-4 (block 2 starts without a ReLU; Keras names its middle ReLU block2_sepconv2_act)
    for block, filters in [(2, 128), (3, 256), (4, 728)]:
        residual = _shortcut(x, filters, block)
        x = _sep(x, filters, f"block{block}_sepconv1", relu_before=block != 2)
        x = _sep(x, filters, f"block{block}_sepconv2")
        x = L.MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(x)
        x = L.Add(name=f"block{block}_add")([x, residual])

    # middle flow: blocks 5-12
    for block in range(5, 13):
        residual = x
        for i in (1, 2, 3):
            x = _sep(x, 728, f"block{block}_sepconv{i}")
        x = L.Add(name=f"block{block}_add")([x, residual])

    # exit flow
    residual = _shortcut(x, 1024, 13)
    x = _sep(x, 728, "block13_sepconv1")
    x = _sep(x, 1024, "block13_sepconv2")
    x = L.MaxPooling2D(3, strides=2, padding="same", name="block13_pool")(x)
    x = L.Add(name="block13_add")([x, residual])
    x = L.SeparableConv2D(1536, 3, padding="same", use_bias=False, name="block14_sepconv1")(x)
    x = L.Activation("relu", name="block14_sepconv1_act")(L.BatchNormalization(name="block14_sepconv1_bn")(x))
    x = L.SeparableConv2D(2048, 3, padding="same", use_bias=False, name="block14_sepconv2")(x)
    x = L.Activation("relu", name="block14_sepconv2_act")(L.BatchNormalization(name="block14_sepconv2_bn")(x))
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name)
