"""Argument checks shared by the classic-CNN builders (private).

Every builder checks ``input_shape`` (height, width, channels) and
``num_classes`` before it builds anything, so a mistake fails in a line that
names the builder, what it expected and what came, not deep inside Keras.
"""

from __future__ import annotations

import numbers

from labcode.scratch.sizes import conv_output_size

__all__ = ["check_input_shape", "check_num_classes", "check_rate", "smallest_input_size"]


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def smallest_input_size(chain, limit: int = 10_000) -> int:
    """The smallest side n for which every window of ``chain`` still has an output of at least 1 pixel.

    Parameters
    ----------
    chain : sequence of (f, s, padding)
        The kernel (or pooling window) size f, the stride s and the padding
        ("valid", "same" or an int p) of each layer along one axis, input
        first. Layers that keep the size (SAME, stride 1) may be left out.

    Examples
    --------
    >>> smallest_input_size([(11, 4, "valid"), (3, 2, "valid"), (3, 2, "valid"), (3, 2, "valid")])  # AlexNet
    67
    """
    for n in range(1, limit + 1):
        m = n
        try:
            for f, s, padding in chain:
                m = conv_output_size(m, f, s, padding)
        except ValueError:  # the window is larger than the (padded) map
            continue
        if m >= 1:
            return n
    raise ValueError(f"smallest_input_size: no input side up to {limit} fits {chain}")


def check_input_shape(input_shape, where: str, min_size: int, why: str = "") -> tuple[int, int, int]:
    """``input_shape`` as (height, width, channels) of positive ints, each side at least ``min_size``.

    Parameters
    ----------
    input_shape : sequence of 3 ints
        One image's shape, NHWC without the batch axis.
    where : str
        The builder, for the message (``"alexnet"``).
    min_size : int
        The smallest height and width the architecture takes.
    why : str
        Where ``min_size`` comes from, appended to the message.
    """
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) != 3 or not all(_is_int(d) and d >= 1 for d in shape):
        raise ValueError(
            f"{where}: input_shape must be (height, width, channels), three positive ints (NHWC without the "
            f"batch axis), got {input_shape!r}"
        )
    h, w, c = (int(d) for d in shape)
    if h < min_size or w < min_size:
        raise ValueError(
            f"{where}: input_shape {shape} is too small: the smallest input it takes is "
            f"{min_size}×{min_size}{f' ({why})' if why else ''}"
        )
    return h, w, c


def check_num_classes(num_classes, where: str) -> int:
    """``num_classes`` as a positive int."""
    if not _is_int(num_classes) or num_classes < 1:
        raise ValueError(f"{where}: num_classes must be a positive int, got {num_classes!r}")
    return int(num_classes)


def check_rate(rate, what: str, where: str) -> float:
    """A dropout rate in [0, 1)."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"{where}: {what} must be a rate in [0, 1), got {rate!r}")
    return float(rate)
