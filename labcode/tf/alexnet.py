"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) in Keras.

=======  =========================================  ==========  ======================================
layer    what                                       output      parameters (groups=1 / groups=2)
=======  =========================================  ==========  ======================================
conv1    96@11×11, stride 4, VALID, ReLU, LRN       55×55×96    34,944
pool1    max 3×3, stride 2 (overlapping)            27×27×96
conv2    256@5×5, SAME, ReLU, LRN                   27×27×256   614,656 / 307,456
pool2    max 3×3/2                                  13×13×256
conv3    384@3×3, SAME, ReLU                        13×13×384   885,120
conv4    384@3×3, SAME, ReLU                        13×13×384   1,327,488 / 663,936
conv5    256@3×3, SAME, ReLU                        13×13×256   884,992 / 442,624
pool5    max 3×3/2                                  6×6×256
fc6      dense 4,096, ReLU, dropout 0.5             4096        37,752,832
fc7      dense 4,096, ReLU, dropout 0.5             4096        16,781,312
fc8      dense 1,000, softmax                       1000        4,097,000
total                                                           62,378,344 / 60,965,224
=======  =========================================  ==========  ======================================

The paper's figure says 224×224 inputs, but (224 − 11)/4 + 1 is not a whole number: 227×227
gives its 55×55 maps, as every reimplementation found. Its "60 million parameters" is the
two-GPU model, in which conv2, conv4 and conv5 only see the maps on their own GPU
(``groups=2``: 60,965,224); on one device, without the split, it is 62,378,344. conv3 and the
dense layers see both halves in the paper, so they are never grouped.
"""

from __future__ import annotations

import keras

from labcode.tf._checks import check_input_shape, check_num_classes, check_rate, smallest_input_size
from labcode.tf.cnn_layers import LocalResponseNormalization

__all__ = ["alexnet"]

# conv1 11/4 VALID and the three overlapping 3×3/2 VALID poolings shrink the maps; the SAME convs keep them
_CHAIN = [(11, 4, "valid"), (3, 2, "valid"), (3, 2, "valid"), (3, 2, "valid")]


def alexnet(input_shape=(227, 227, 3), num_classes=1000, groups=1, lrn=True, dropout=0.5,
            classifier_activation="softmax", name="alexnet"):
    """AlexNet as a ``keras.Model``: five convolutional and three dense layers, named conv1 … fc8.

    Parameters
    ----------
    input_shape : (int, int, int)
        (height, width, channels); the smallest is 67×67 (the last pooling
        needs a 3×3 map).
    num_classes : int
        fc8's units.
    groups : {1, 2}
        2 splits conv2, conv4 and conv5 into two independent halves like the
        paper's two GPUs (Keras ``Conv2D(groups=2)``; 1,413,120 fewer
        parameters); it trains on a CPU too.
    lrn : bool
        Local response normalisation after conv1 and conv2 (n = 5, k = 2,
        α = 1e-4, β = 0.75: ``tf.nn.local_response_normalization(depth_radius=2,
        bias=2, alpha=1e-4, beta=0.75)``, which uses the paper's formula, α times
        the *sum* of squares; Caffe-style ports divide α by n).
    dropout : float
        The dropout rate after fc6 and fc7.
    classifier_activation : str or None
        fc8's activation; None gives logits.
    name : str
        The model's name.

    Returns
    -------
    keras.Model
        Not compiled.
    """
    where = "alexnet"
    shape = check_input_shape(input_shape, where, smallest_input_size(_CHAIN),
                              "conv1 11×11/4 and three 3×3/2 poolings, all VALID, must leave a 1×1 map")
    num_classes = check_num_classes(num_classes, where)
    if groups not in (1, 2) or isinstance(groups, bool):
        raise ValueError(f"{where}: groups must be 1 (one device) or 2 (the paper's two GPUs), got {groups!r}")
    dropout = check_rate(dropout, "dropout", where)
    L = keras.layers

    def norm(x, label):
        return LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, name=label)(x) if lrn else x

    inputs = keras.Input(shape=shape, name="input")
    x = L.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(inputs)
    x = norm(x, "norm1")
    x = L.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = L.Conv2D(256, 5, padding="same", groups=groups, activation="relu", name="conv2")(x)
    x = norm(x, "norm2")
    x = L.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = L.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.Conv2D(384, 3, padding="same", groups=groups, activation="relu", name="conv4")(x)
    x = L.Conv2D(256, 3, padding="same", groups=groups, activation="relu", name="conv5")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool5")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(4096, activation="relu", name="fc6")(x)
    x = L.Dropout(dropout, name="drop6")(x)
    x = L.Dense(4096, activation="relu", name="fc7")(x)
    x = L.Dropout(dropout, name="drop7")(x)
    x = L.Dense(num_classes, activation=classifier_activation, name="fc8")(x)
    return keras.Model(inputs, x, name=name)
