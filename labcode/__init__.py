"""labcode: the code behind *Deep Learning from Scratch and with TensorFlow*.

Importing :mod:`labcode` is cheap: it does not import TensorFlow. The
TensorFlow counterparts live in :mod:`labcode.tf`, imported on demand.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys

__version__ = "0.1.0"

__all__ = ["__version__", "import_tensorflow", "seed", "show_source"]


def import_tensorflow():
    """``import tensorflow as tf``, without the log lines TensorFlow's C++ core prints on start-up.

    TensorFlow 2.21 writes oneDNN, CUDA-probing and absl lines straight to the
    process's stderr while it loads, whatever ``TF_CPP_MIN_LOG_LEVEL`` says; in a
    notebook they show as red output, and in a graded exercise any stderr
    scores a test cell 0. This silences file descriptor 2 for the import and
    the first device query only; Python exceptions still propagate. Set the
    environment variable ``LABCODE_TF_LOGS=1`` to see the lines.

    Returns
    -------
    module
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("LABCODE_TF_LOGS"):
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow

        tensorflow.config.list_physical_devices()  # CUDA probing logs on the first device query
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def seed(n: int, tensorflow: bool | None = None) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow/Keras with one number.

    Parameters
    ----------
    n : int
        The seed, a non-negative integer.
    tensorflow : bool or None
        Whether to seed TensorFlow too. ``None`` (the default) seeds it when
        it is installed, importing it if needed, so that a model built after
        the call is reproducible; ``False`` leaves TensorFlow alone (and
        unimported).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"seed(n): expected a non-negative int, got {type(n).__name__} {n!r}")
    if n < 0:
        raise ValueError(f"seed(n): expected a non-negative int, got {n}")
    import numpy as np

    random.seed(n)
    np.random.seed(n)
    if tensorflow is False:
        return
    if tensorflow is None and "tensorflow" not in sys.modules:
        if importlib.util.find_spec("tensorflow") is None:
            return
    import_tensorflow()
    import keras

    keras.utils.set_random_seed(n)  # seeds random, NumPy and TensorFlow


def show_source(obj):
    """Display the source code of a labcode function or class, highlighted.

    Chapters use it to show the tested code itself rather than a copy that
    could drift from it. In a notebook the result renders with syntax
    highlighting; elsewhere its ``repr`` is the plain source.
    """
    import inspect
    import textwrap

    from IPython.display import Code

    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as e:
        raise TypeError(f"show_source: expected a function, class or method defined in Python, got {obj!r}") from e
    return Code(textwrap.dedent(source), language="python")
