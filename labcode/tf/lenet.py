"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998) in Keras: the modern version and the 1998 design.

=====  =====================  ===============  ====================  =================================
layer  modern (28×28×1)       output           classic (32×32×1)     output, parameters
=====  =====================  ===============  ====================  =================================
C1     conv 6@5×5 SAME, ReLU  28×28×6, 156     conv 6@5×5, tanh*     28×28×6, 156
S2     max pool 2×2/2         14×14×6          sub-sampling, tanh*   14×14×6, 12
C3     conv 16@5×5, ReLU      10×10×16, 2,416  partial conv 16@5×5   10×10×16, 1,516 (Table I)
S4     max pool 2×2/2         5×5×16           sub-sampling, tanh*   5×5×16, 32
C5     dense 120, ReLU        120, 48,120      conv 120@5×5, tanh*   1×1×120, 48,120
F6     dense 84, ReLU         84, 10,164       dense 84, tanh*       84, 10,164
out    dense 10, softmax      10, 850          RBF 10 (fixed codes)  10, 840 non-trainable
total                         61,706                                 60,000 trainable + 840 fixed
=====  =====================  ===============  ====================  =================================

tanh* is LeCun's scaled tanh 1.7159·tanh(2x/3) (:func:`~labcode.tf.cnn_layers.lecun_tanh`). The
modern C5 is a Dense layer on the flattened 5×5×16 maps: on a 5×5 input a 5×5 convolution *is*
a dense layer, with the same 48,120 parameters, and the scratch twin
(:func:`labcode.scratch.lenet5`) needs only Flatten and Dense.
"""

from __future__ import annotations

import keras

from labcode.tf._checks import check_input_shape, check_num_classes, smallest_input_size
from labcode.tf.cnn_layers import RBF, PartialConv2D, SubSampling2D, lecun_tanh

__all__ = ["lenet5"]

_MODERN_CHAIN = [(5, 1, "same"), (2, 2, "valid"), (5, 1, "valid"), (2, 2, "valid")]
_CLASSIC_CHAIN = [(5, 1, "valid"), (2, 2, "valid"), (5, 1, "valid"), (2, 2, "valid"), (5, 1, "valid")]
_POOLS = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}


def lenet5(variant="modern", input_shape=None, num_classes=10, activation=None, pooling=None,
           classifier_activation="softmax", dtype=None, name=None):
    """LeNet-5 as a ``keras.Model``, layers named C1, S2, C3, S4, C5, F6, output like the paper's figure 2.

    Parameters
    ----------
    variant : {"modern", "classic"}
        "modern": 28×28 input with a SAME first convolution, ReLU, max pooling,
        dense C5–F6, softmax output; 61,706 parameters. "classic": the 1998
        design on 32×32 inputs: scaled tanh, trainable sub-sampling (S2, S4),
        C3's partial connection table, a 5×5 convolutional C5 and Euclidean
        RBF outputs (−squared distance to fixed random ±1 codes, our stand-in
        for the paper's hand-drawn 7×12 bitmaps); 60,000 trainable parameters,
        the paper's count, plus the 840 fixed codes.
    input_shape : (int, int, int), optional
        (height, width, channels); (28, 28, 1) modern, (32, 32, 1) classic.
        Smallest: 12×12 modern, 32×32 classic (C5 needs a 5×5 S4 map).
    num_classes : int
        Output units.
    activation : str or callable, optional
        The hidden layers' activation: "relu" (modern), LeCun's scaled tanh (classic).
    pooling : {"max", "avg"}, optional
        S2 and S4 of the modern variant ("max" by default); the classic one
        always uses its trainable sub-sampling.
    classifier_activation : str or None
        Applied to the outputs; None gives logits (classic: −squared distances).
    dtype : str, optional
        "float32" or "float64" for every layer (default: Keras' floatx).
    name : str, optional
        The model's name: "lenet5" / "lenet5_classic" by default.

    Returns
    -------
    keras.Model
        Not compiled.
    """
    where = "lenet5"
    if variant not in ("modern", "classic"):
        raise ValueError(f"{where}: variant must be 'modern' or 'classic', got {variant!r}")
    classic = variant == "classic"
    chain = _CLASSIC_CHAIN if classic else _MODERN_CHAIN
    if input_shape is None:
        input_shape = (32, 32, 1) if classic else (28, 28, 1)
    why = "C5's 5×5 kernel needs a 5×5 S4 map" if classic else "C3 and the two 2×2 poolings leave ≥ 1×1"
    shape = check_input_shape(input_shape, f"{where}({variant!r})", smallest_input_size(chain), why)
    num_classes = check_num_classes(num_classes, where)
    if classic and pooling is not None:
        raise ValueError(f"{where}: pooling is for the modern variant; the classic one sub-samples with its own "
                         f"trainable layers (got pooling={pooling!r})")
    pooling = "max" if pooling is None else pooling
    if pooling not in _POOLS:
        raise ValueError(f"{where}: pooling must be 'max' or 'avg', got {pooling!r}")
    act = (lecun_tanh if classic else "relu") if activation is None else activation
    L, kw = keras.layers, {"dtype": dtype}

    inputs = keras.Input(shape=shape, dtype=dtype, name="input")
    if classic:
        x = L.Conv2D(6, 5, activation=act, name="C1", **kw)(inputs)
        x = SubSampling2D(2, activation=act, name="S2", **kw)(x)
        x = PartialConv2D(16, 5, activation=act, name="C3", **kw)(x)
        x = SubSampling2D(2, activation=act, name="S4", **kw)(x)
        x = L.Conv2D(120, 5, activation=act, name="C5", **kw)(x)
        x = L.Flatten(name="flatten", **kw)(x)
        x = L.Dense(84, activation=act, name="F6", **kw)(x)
        x = RBF(num_classes, name="output", **kw)(x)
        if classifier_activation is not None:
            x = L.Activation(classifier_activation, name="probabilities", **kw)(x)
    else:
        pool = _POOLS[pooling]
        x = L.Conv2D(6, 5, padding="same", activation=act, name="C1", **kw)(inputs)
        x = pool(2, name="S2", **kw)(x)
        x = L.Conv2D(16, 5, activation=act, name="C3", **kw)(x)
        x = pool(2, name="S4", **kw)(x)
        x = L.Flatten(name="flatten", **kw)(x)
        x = L.Dense(120, activation=act, name="C5", **kw)(x)
        x = L.Dense(84, activation=act, name="F6", **kw)(x)
        x = L.Dense(num_classes, activation=classifier_activation, name="output", **kw)(x)
    return keras.Model(inputs, x, name=name or ("lenet5_classic" if classic else "lenet5"))
