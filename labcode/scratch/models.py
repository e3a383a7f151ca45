"""Classic networks built from the scratch layers: LeNet-5.

The scratch LeNet-5 is the twin of ``labcode.tf.lenet5()`` (the modern variant): the same
layers in the same order with the same names and weight shapes, so weights copy across
either way (``keras_model.set_weights(scratch_model.get_weights())``) and both compute the
same function.
"""

from __future__ import annotations

from labcode.scratch.conv_layers import AvgPool2D, Conv2D, MaxPool2D
from labcode.scratch.layers import Dense, Flatten
from labcode.scratch.model import Sequential

__all__ = ["lenet5"]

_POOLS = {"max": MaxPool2D, "avg": AvgPool2D}


def _check_shape(input_shape, where):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (shape is None or len(shape) != 3
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)):
        raise ValueError(f"{where}: input_shape must be (height, width, channels), three positive ints, "
                         f"got {input_shape!r}")
    # C1 (SAME) keeps n; S2 gives ⌊n/2⌋; C3 (5×5 VALID) ⌊n/2⌋ − 4; S4 needs 2 of those: n ≥ 12
    if min(shape[:2]) < 12:
        raise ValueError(f"{where}: input_shape {shape} is too small: the smallest input it takes is 12×12 "
                         "(C3 and the two 2×2 poolings leave ≥ 1×1)")
    return shape


def lenet5(input_shape=(28, 28, 1), num_classes=10, activation="relu", pooling="max",
           classifier_activation="softmax", dtype="float32", name="lenet5"):
    """The modern LeNet-5 from scratch layers, built: C1 → S2 → C3 → S4 → flatten → C5 → F6 → output.

    ==========  =====================================  ============  ==========
    layer       scratch layer                          output        parameters
    ==========  =====================================  ============  ==========
    C1          Conv2D(6, 5, padding="same", ReLU)     28×28×6       156
    S2          MaxPool2D(2)                           14×14×6
    C3          Conv2D(16, 5, ReLU)                    10×10×16      2,416
    S4          MaxPool2D(2)                           5×5×16
    flatten     Flatten()                              400
    C5          Dense(120, ReLU)                       120           48,120
    F6          Dense(84, ReLU)                        84            10,164
    output      Dense(10, softmax)                     10            850
    ==========  =====================================  ============  ==========

    61,706 parameters at 28×28×1 and 10 classes, like ``labcode.tf.lenet5()``.

    Parameters
    ----------
    input_shape : (int, int, int)
        (height, width, channels), NHWC without the batch axis; at least 12×12.
    num_classes : int
        The output units.
    activation : str
        The hidden layers' activation ("relu", "tanh", "sigmoid", …).
    pooling : {"max", "avg"}
        S2 and S4.
    classifier_activation : str or None
        The output's activation; None gives logits (use a ``from_logits=True`` loss).
    dtype : {"float32", "float64"}
        The weights' dtype.
    name : str
        The model's name.

    Returns
    -------
    Sequential
        Built (its weights exist), not compiled.
    """
    where = "scratch.lenet5"
    shape = _check_shape(input_shape, where)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{where}: num_classes must be a positive int, got {num_classes!r}")
    if pooling not in _POOLS:
        raise ValueError(f"{where}: pooling must be 'max' or 'avg', got {pooling!r}")
    pool = _POOLS[pooling]
    model = Sequential([
        Conv2D(6, 5, padding="same", activation=activation, name="C1"),
        pool(2, name="S2"),
        Conv2D(16, 5, activation=activation, name="C3"),
        pool(2, name="S4"),
        Flatten(name="flatten"),
        Dense(120, activation=activation, name="C5"),
        Dense(84, activation=activation, name="F6"),
        Dense(num_classes, activation=classifier_activation, name="output"),
    ], name=name)
    model.build((None, *shape), dtype=dtype)
    return model
