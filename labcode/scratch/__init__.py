"""Deep learning from scratch in NumPy (从零实现): layers, activations, losses, initialisers, optimisers, models.

Every layer follows one protocol (:class:`~labcode.scratch.base.Layer`):
``forward(x, training=False)`` caches what the backward pass needs and returns
the output; ``backward(dout)`` returns ∂L/∂x and fills ``layer.grads``; the
parameters are plain NumPy arrays in ``layer.params``, named and ordered like
Keras' weights. Names and arguments mirror Keras (``Dense(units,
activation)``), so each scratch object has a ``keras.layers`` /
``keras.losses`` / ``keras.initializers`` / ``keras.optimizers`` twin.

Only NumPy (and tqdm for progress bars) is imported: never TensorFlow.
"""

from labcode.scratch import activations, initializers, losses, optimizers, schedules
from labcode.scratch.activations import ELU, LeakyReLU, Linear, PReLU, ReLU, RReLU, Sigmoid, Softmax, Tanh
from labcode.scratch.base import Layer
from labcode.scratch.ewa import ExponentialMovingAverage, ewa
from labcode.scratch.initializers import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Ones,
    RandomNormal,
    RandomUniform,
    SmallRandom,
    TableInitializer,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
    init_table,
)
from labcode.scratch.layers import Dense, Flatten
from labcode.scratch.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)
from labcode.scratch.model import History, Sequential
from labcode.scratch.optimizers import SGD, AdaGrad, Adagrad, Adam, Optimizer, RMSprop
from labcode.scratch.schedules import (
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    StepDecay,
)

__all__ = [
    # modules
    "activations", "initializers", "losses", "optimizers", "schedules",
    # layers
    "Layer", "Dense", "Flatten",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "Softmax", "Linear",
    # losses
    "Loss", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "MeanSquaredError",
    # initialisers
    "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "SmallRandom",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "TableInitializer", "init_table",
    # optimisers, schedules, moving averages
    "Optimizer", "SGD", "Adagrad", "AdaGrad", "RMSprop", "Adam",
    "LearningRateSchedule", "InverseTimeDecay", "ExponentialDecay", "PiecewiseConstantDecay", "StepDecay",
    "ExponentialMovingAverage", "ewa",
    # models
    "Sequential", "History",
]
