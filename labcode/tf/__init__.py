"""TensorFlow/Keras counterparts of :mod:`labcode.scratch`.

Importing this package imports TensorFlow (quietly, through
:func:`labcode.import_tensorflow`) and Keras; :mod:`labcode` itself never does.

- :func:`to_keras` — the ``keras.Sequential`` twin of a scratch model, same weights and dtype;
- :func:`copy_weights` — weights from scratch to Keras or back, checked layer by layer;
- :func:`keras_optimizer`, :func:`keras_loss` — the Keras optimiser / loss with the same hyperparameters;
- :func:`mlp` — a Keras multilayer perceptron.
"""

from labcode import import_tensorflow

import_tensorflow()

from labcode.tf.models import mlp  # noqa: E402
from labcode.tf.twins import copy_weights, keras_loss, keras_optimizer, to_keras  # noqa: E402

__all__ = ["copy_weights", "to_keras", "keras_optimizer", "keras_loss", "mlp"]

# The classic CNNs (chapter 7): builders taking input_shape and num_classes, their blocks and layers, top-k accuracy
from labcode.tf import cnn_layers  # noqa: E402
from labcode.tf.alexnet import alexnet  # noqa: E402
from labcode.tf.cnn_layers import (  # noqa: E402
    RBF,
    LocalResponseNormalization,
    PartialConv2D,
    SubSampling2D,
    lecun_tanh,
)
from labcode.tf.inception import googlenet, inception_module  # noqa: E402
from labcode.tf.lenet import lenet5  # noqa: E402
from labcode.tf.resnet import residual_block, resnet, resnet18, resnet34, resnet50, resnet101, resnet152  # noqa: E402
from labcode.tf.senet import se_block, se_resnet50  # noqa: E402
from labcode.tf.topk import top_k_accuracy, top_k_error  # noqa: E402
from labcode.tf.vgg import vgg16, vgg19  # noqa: E402
from labcode.tf.xception import xception  # noqa: E402

__all__ += [
    "lenet5", "alexnet", "vgg16", "vgg19", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnet", "xception", "se_resnet50",
    "inception_module", "residual_block", "se_block",
    "cnn_layers", "LocalResponseNormalization", "SubSampling2D", "PartialConv2D", "RBF", "lecun_tanh",
    "top_k_accuracy", "top_k_error",
]
