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

__all__ = ["__version__", "seed", "show_source"]


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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ info lines
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
