"""GoogLeNet / Inception v1 (Szegedy et al. 2014) in Keras.

An Inception module runs four branches side by side on the same input and concatenates
their maps: a 1×1 convolution; a 1×1 "reduce" then a 3×3; a 1×1 reduce then a 5×5; and a
3×3/1 max pooling then a 1×1 "pool proj". The 1×1 reductions keep the 3×3 and 5×5
convolutions cheap. The paper's Table 1 (224×224×3 input; every convolution ReLU, SAME):

=======  =====  ========  =====  ========  =====  =========  ==========
module   #1×1   #3×3 red  #3×3   #5×5 red  #5×5   pool proj  output
=======  =====  ========  =====  ========  =====  =========  ==========
3a       64     96        128    16        32     32         28×28×256
3b       128    128       192    32        96     64         28×28×480
4a       192    96        208    16        48     64         14×14×512
4b       160    112       224    24        64     64         14×14×512
4c       128    128       256    24        64     64         14×14×512
4d       112    144       288    32        64     64         14×14×528
4e       256    160       320    32        128    128        14×14×832
5a       256    160       320    32        128    128        7×7×832
5b       384    192       384    48        128    128        7×7×1024
=======  =====  ========  =====  ========  =====  =========  ==========

Before them: conv 7×7/2 (64), max pool 3×3/2, LRN, conv 1×1 (64) and 3×3 (192), LRN, max pool
3×3/2; max pools 3×3/2 between 3b and 4a and between 4e and 5a; after them global average
pooling (the paper's 7×7/1 average pooling at 224×224), dropout 40 %, a dense classifier.

Parameters, 1,000 classes: 6,998,552 (6,990,272 weights and 8,280 biases); with the two
auxiliary classifiers 13,378,280. Table 1's parameter column sums to 6,797.7 K (≈ 6.8 M), but
its rows do not all follow from its own filter numbers: conv1 is listed as 2.7 K for a
7×7×3×64 kernel of 9,408 weights, 3a as 159 K for 163,328, 5b as 1,388 K for 1,442,816; so
"6.8 million" is the paper's estimate, and 6,990,272 the count of the table's architecture.
"""

from __future__ import annotations

import keras

from labcode.tf._checks import check_input_shape, check_num_classes, check_rate
from labcode.tf.cnn_layers import LocalResponseNormalization

__all__ = ["googlenet", "inception_module", "GOOGLENET_MODULES"]

#: Table 1 of the paper: module → (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj).
GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
_POOL_BEFORE = {"4a": "pool3_3x3_s2", "5a": "pool4_3x3_s2"}
MIN_SIZE = 32  # five stride-2 stages (SAME) bring 32 down to a 1×1 map, as in Keras' own minimum
MIN_SIZE_AUX = 65  # the auxiliary heads' 5×5/3 VALID pooling needs a 5×5 map after 4a (⌈n/16⌉ ≥ 5)


def _conv(x, filters, kernel_size, name, strides=1):
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", activation="relu",
                               name=name)(x)


def inception_module(x, filters, name):
    """One Inception module: [1×1 | 1×1→3×3 | 1×1→5×5 | 3×3 max pool→1×1], concatenated along the channels.

    Parameters
    ----------
    x : KerasTensor
        The input maps (N, H, W, C).
    filters : sequence of 6 ints
        (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj), a row of Table 1.
    name : str
        The layers are ``{name}_1x1``, ``{name}_3x3_reduce``, …, ``{name}_output``.

    Returns
    -------
    KerasTensor
        (N, H, W, #1×1 + #3×3 + #5×5 + pool proj).
    """
    if len(filters) != 6:
        raise ValueError(f"inception_module '{name}': filters must be the 6 numbers of a Table 1 row "
                         f"(#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj), got {filters!r}")
    n1, n3r, n3, n5r, n5, npool = filters
    b1 = _conv(x, n1, 1, f"{name}_1x1")
    b3 = _conv(_conv(x, n3r, 1, f"{name}_3x3_reduce"), n3, 3, f"{name}_3x3")
    b5 = _conv(_conv(x, n5r, 1, f"{name}_5x5_reduce"), n5, 5, f"{name}_5x5")
    bp = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = _conv(bp, npool, 1, f"{name}_pool_proj")
    return keras.layers.Concatenate(name=f"{name}_output")([b1, b3, b5, bp])


def _aux_head(x, num_classes, classifier_activation, name):
    """An auxiliary classifier: avg pool 5×5/3 → conv 1×1 (128) → dense 1,024 → dropout 70 % → dense."""
    L = keras.layers
    x = L.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = L.Conv2D(128, 1, activation="relu", name=f"{name}_conv")(x)
    x = L.Flatten(name=f"{name}_flatten")(x)
    x = L.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = L.Dropout(0.7, name=f"{name}_drop")(x)
    return L.Dense(num_classes, activation=classifier_activation, name=f"{name}_predictions")(x)


def googlenet(input_shape=(224, 224, 3), num_classes=1000, aux_logits=False, lrn=True, dropout=0.4,
              classifier_activation="softmax", name="googlenet"):
    """GoogLeNet (Inception v1) as a ``keras.Model``, layers named after the paper's (and Caffe's) table.

    Parameters
    ----------
    input_shape : (int, int, int)
        (height, width, channels); at least 32×32 (65×65 with ``aux_logits``).
    num_classes : int
        The classifier's units.
    aux_logits : bool
        Add the two auxiliary classifiers on 4a and 4d (training only; the
        paper weights their losses by 0.3). The model then has three outputs,
        ``[predictions, aux1_predictions, aux2_predictions]``.
    lrn : bool
        The local response normalisations after the first max pooling and after
        conv2_3x3 (Caffe's GoogLeNet: n = 5, α = 1e-4/n, β = 0.75, k = 1, i.e.
        ``depth_radius=2, bias=1, alpha=2e-5``).
    dropout : float
        The rate before the classifier (the paper's 40 %).
    classifier_activation : str or None
        The output's activation; None gives logits.
    name : str
        The model's name.

    Returns
    -------
    keras.Model
        Not compiled; 6,998,552 parameters at 1,000 classes without the auxiliary classifiers.
    """
    where = "googlenet"
    min_size, why = ((MIN_SIZE_AUX, "the auxiliary classifiers' 5×5/3 pooling needs a 5×5 map after 4a")
                     if aux_logits else (MIN_SIZE, "five stride-2 stages must leave a 1×1 map"))
    shape = check_input_shape(input_shape, where, min_size, why)
    num_classes = check_num_classes(num_classes, where)
    dropout = check_rate(dropout, "dropout", where)
    L = keras.layers

    def norm(x, label):
        return LocalResponseNormalization(depth_radius=2, bias=1.0, alpha=2e-5, beta=0.75, name=label)(x) if lrn else x

    def pool(x, label):
        return L.MaxPooling2D(3, strides=2, padding="same", name=label)(x)

    inputs = keras.Input(shape=shape, name="input")
    x = _conv(inputs, 64, 7, "conv1_7x7_s2", strides=2)
    x = norm(pool(x, "pool1_3x3_s2"), "pool1_norm1")
    x = _conv(x, 64, 1, "conv2_3x3_reduce")
    x = _conv(x, 192, 3, "conv2_3x3")
    x = pool(norm(x, "conv2_norm2"), "pool2_3x3_s2")
    aux = []
    for module, filters in GOOGLENET_MODULES.items():
        if module in _POOL_BEFORE:
            x = pool(x, _POOL_BEFORE[module])
        x = inception_module(x, filters, f"inception_{module}")
        if aux_logits and module in ("4a", "4d"):
            aux.append(_aux_head(x, num_classes, classifier_activation, f"aux{len(aux) + 1}"))
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    x = L.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, [x, *aux] if aux_logits else x, name=name)
