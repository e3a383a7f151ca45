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

# Convolution and pooling (chapter 6): functions, layers, size and cost calculators
from labcode.scratch import conv, pooling, sizes  # noqa: E402
from labcode.scratch.conv import (  # noqa: E402
    col2im,
    conv1d,
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_naive,
    im2col,
)
from labcode.scratch.conv_layers import (  # noqa: E402
    AveragePooling2D,
    AvgPool2D,
    Conv2D,
    DepthMaxPool,
    GlobalAveragePooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from labcode.scratch.pooling import (  # noqa: E402
    avg_pool2d,
    avg_pool2d_backward,
    global_avg_pool2d,
    max_pool2d,
    max_pool2d_backward,
    max_pool_depth,
    max_pool_depth_backward,
)
from labcode.scratch.sizes import (  # noqa: E402
    conv_flops,
    conv_layer_costs,
    conv_memory,
    conv_mults,
    conv_output_size,
    conv_params,
    dense_flops,
    dense_params,
    format_bytes,
    same_padding,
)

__all__ += [
    "conv", "pooling", "sizes",
    "Conv2D", "MaxPool2D", "MaxPooling2D", "AvgPool2D", "AveragePooling2D", "GlobalAveragePooling2D", "DepthMaxPool",
    "conv1d", "conv2d", "conv2d_naive", "conv2d_backward", "conv2d_backward_naive", "im2col", "col2im",
    "max_pool2d", "avg_pool2d", "max_pool2d_backward", "avg_pool2d_backward", "global_avg_pool2d",
    "max_pool_depth", "max_pool_depth_backward",
    "conv_output_size", "same_padding", "conv_params", "conv_mults", "conv_flops", "conv_memory",
    "dense_params", "dense_flops", "conv_layer_costs", "format_bytes",
]

# Regularisation (chapter 5): weight penalties, dropout, batch normalisation, callbacks, augmentation, metrics, transfer
from labcode.scratch import augmentation, callbacks, metrics, regularizers, transfer_learning  # noqa: E402
from labcode.scratch.augmentation import augment  # noqa: E402
from labcode.scratch.callbacks import Callback, EarlyStopping, LambdaCallback  # noqa: E402
from labcode.scratch.dropout import Dropout  # noqa: E402
from labcode.scratch.metrics import (  # noqa: E402
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    train_dev_test_split,
)
from labcode.scratch.normalization import BatchNormalization  # noqa: E402
from labcode.scratch.regularizers import L1, L1L2, L2, Regularizer, course_l1, course_l2  # noqa: E402
from labcode.scratch.transfer_learning import freeze, set_trainable, transfer, unfreeze  # noqa: E402

__all__ += [
    "augmentation", "callbacks", "metrics", "regularizers", "transfer_learning",
    "Dropout", "BatchNormalization",
    "Regularizer", "L1", "L2", "L1L2", "course_l1", "course_l2",
    "Callback", "EarlyStopping", "LambdaCallback",
    "accuracy_score", "precision_score", "recall_score", "f1_score", "precision_recall_fscore_support",
    "confusion_matrix", "train_dev_test_split",
    "augment", "transfer", "freeze", "unfreeze", "set_trainable",
]

# Classic networks (chapter 7)
from labcode.scratch import models  # noqa: E402
from labcode.scratch.models import lenet5  # noqa: E402

__all__ += ["models", "lenet5"]
