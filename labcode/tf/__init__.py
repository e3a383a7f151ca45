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
