"""Sizes and costs of a convolutional layer (卷积层的尺寸与开销): output size, padding, parameters, work, memory.

For one spatial axis of n pixels, a kernel of f taps with dilation d (effective
size f_d = (f − 1)·d + 1) and a stride s:

=================  ====================================================================
padding            output size n_out
=================  ====================================================================
explicit p         ⌊(n + 2p − f_d) / s⌋ + 1   (p zeros on each side; (n + 2p − f)/s + 1 when s divides)
"VALID"            ⌊(n − f_d) / s⌋ + 1        (no padding: the kernel stays inside)
"SAME"             ⌈n / s⌉                    (TensorFlow: total padding max((n_out − 1)·s + f_d − n, 0),
                                               the odd pixel at the bottom / right)
=================  ====================================================================

A layer of c_out kernels f_h × f_w over c_in channels has f_h·f_w·c_in·c_out
weights plus c_out biases, and makes f_h·f_w·c_in multiplications for each of
its out_h·out_w·c_out outputs. The outputs stay in memory until the backward
pass: out_h·out_w·c_out numbers per instance (4 bytes each in float32).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "effective_kernel_size", "same_padding", "conv_output_size", "conv_params", "conv_mults", "conv_flops",
    "conv_memory", "dense_params", "dense_flops", "conv_layer_costs", "format_bytes",
]


def _count(value, what, where, minimum=1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int ≥ {minimum}"
        raise ValueError(f"{where}: {what} must be {kind}, got {value!r}")
    return int(value)


def effective_kernel_size(f: int, dilation: int = 1) -> int:
    """f_d = (f − 1)·d + 1: the span of a kernel of f taps with d − 1 holes between them."""
    f = _count(f, "the kernel size f", "effective_kernel_size")
    d = _count(dilation, "the dilation d", "effective_kernel_size")
    return (f - 1) * d + 1


def same_padding(n: int, f: int, s: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's "SAME" padding of one axis: (before, after), the odd pixel after (bottom / right).

    Parameters
    ----------
    n : int
        The input size n.
    f : int
        The kernel size f.
    s : int
        The stride s.
    dilation : int
        The dilation d.

    Returns
    -------
    tuple[int, int]
        With n_out = ⌈n / s⌉ and total p = max((n_out − 1)·s + f_d − n, 0): (⌊p / 2⌋, p − ⌊p / 2⌋).
    """
    where = "same_padding"
    n = _count(n, "the input size n", where)
    s = _count(s, "the stride s", where)
    f_d = effective_kernel_size(f, dilation)
    n_out = -(-n // s)
    total = max((n_out - 1) * s + f_d - n, 0)
    return total // 2, total - total // 2


def conv_output_size(n: int, f: int, s: int = 1, padding=0, dilation: int = 1) -> int:
    """The output size of a convolution or pooling along one axis.

    Parameters
    ----------
    n : int
        The input size n (pixels).
    f : int
        The kernel (or pooling window) size f.
    s : int
        The stride s.
    padding : int, (int, int) or {"valid", "same"}
        p, zeros added on each side: (n + 2p − f)/s + 1, rounded down; a pair
        (before, after) for uneven padding; or TensorFlow's rules (any case):
        "valid" ⌊(n − f)/s⌋ + 1, "same" ⌈n/s⌉.
    dilation : int
        The dilation d: the kernel spans f_d = (f − 1)·d + 1 pixels.

    Examples
    --------
    >>> conv_output_size(32, 5)                 # LeNet-5's C1: 32 − 5 + 1
    28
    >>> conv_output_size(7, 3, s=2, padding=1)  # (7 + 2 − 3)/2 + 1
    4
    >>> conv_output_size(13, 6, s=5, padding="same"), conv_output_size(13, 6, s=5, padding="valid")
    (3, 2)
    """
    where = "conv_output_size"
    n = _count(n, "the input size n", where)
    s = _count(s, "the stride s", where)
    f_d = effective_kernel_size(f, dilation)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "SAME":
            return -(-n // s)
        if mode != "VALID":
            raise ValueError(f"{where}: padding must be 'valid', 'same', an int p ≥ 0 or a pair, got {padding!r}")
        before = after = 0
    elif isinstance(padding, (tuple, list)) and len(padding) == 2:
        before, after = (_count(p, "padding", where, minimum=0) for p in padding)
    else:
        before = after = _count(padding, "the padding p", where, minimum=0)
    span = n + before + after
    if span < f_d:
        raise ValueError(
            f"{where}: the kernel spans {f_d} pixels (f = {f}, dilation {dilation}), more than the "
            f"{span} pixels of the padded input (n = {n}, padding {padding!r}); pad more or use a smaller kernel"
        )
    return (span - f_d) // s + 1


def conv_params(f_h: int, f_w: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """The parameters of a convolutional layer: f_h·f_w·c_in·c_out weights (+ c_out biases).

    >>> conv_params(5, 5, 3, 200)   # 5×5 kernels over RGB, 200 feature maps
    15200
    """
    where = "conv_params"
    f_h, f_w, c_in, c_out = (_count(v, name, where) for v, name in
                             ((f_h, "f_h"), (f_w, "f_w"), (c_in, "c_in"), (c_out, "c_out")))
    return f_h * f_w * c_in * c_out + (c_out if bias else 0)


def conv_mults(out_h: int, out_w: int, f_h: int, f_w: int, c_in: int, c_out: int) -> int:
    """Multiplications of a convolutional layer's forward pass, per instance: out_h·out_w·c_out · f_h·f_w·c_in.

    >>> conv_mults(150, 100, 5, 5, 3, 200)   # 225 million
    225000000
    """
    where = "conv_mults"
    values = (out_h, out_w, f_h, f_w, c_in, c_out)
    names = ("out_h", "out_w", "f_h", "f_w", "c_in", "c_out")
    return math.prod(_count(v, name, where) for v, name in zip(values, names, strict=True))


def conv_flops(out_h: int, out_w: int, f_h: int, f_w: int, c_in: int = 1, c_out: int = 1, bias: bool = False) -> int:
    """Floating-point operations of a convolution, per instance: k multiplications and k − 1 additions per output.

    With k = f_h·f_w·c_in products per output (plus one addition for a bias).

    >>> conv_flops(319, 280, 1, 2)   # edge detection: kernel [1, −1] on a 320 × 280 image
    267960
    """
    k = conv_mults(1, 1, f_h, f_w, c_in, 1)
    outputs = conv_mults(out_h, out_w, 1, 1, 1, c_out)
    return outputs * (2 * k - 1 + (1 if bias else 0))


def dense_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """The parameters of a dense layer: n_in·n_out weights (+ n_out biases)."""
    where = "dense_params"
    return _count(n_in, "n_in", where) * _count(n_out, "n_out", where) + (n_out if bias else 0)


def dense_flops(n_in: int, n_out: int, bias: bool = False) -> int:
    """Floating-point operations of a dense layer (a matrix-vector product): n_out·(2·n_in − 1) (+ n_out).

    >>> dense_flops(320 * 280, 319 * 280)   # the edge detector as a matrix: over 16 billion
    16006054680
    """
    where = "dense_flops"
    n_in, n_out = _count(n_in, "n_in", where), _count(n_out, "n_out", where)
    return n_out * (2 * n_in - 1 + (1 if bias else 0))


def conv_memory(out_h: int, out_w: int, c_out: int, batch: int = 1, dtype="float32") -> int:
    """Bytes of a layer's outputs (its activations): batch·out_h·out_w·c_out numbers of ``dtype``.

    >>> conv_memory(150, 100, 200)              # 12,000,000 B ≈ 11.4 MiB per instance
    12000000
    >>> conv_memory(150, 100, 200, batch=100)   # 1.2 GB for a batch of 100
    1200000000
    """
    where = "conv_memory"
    values = (out_h, out_w, c_out, batch)
    names = ("out_h", "out_w", "c_out", "batch")
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError as e:
        raise TypeError(f"{where}: dtype must be a NumPy dtype such as 'float32', got {dtype!r}") from e
    return math.prod(_count(v, name, where) for v, name in zip(values, names, strict=True)) * itemsize


def conv_layer_costs(input_shape, filters: int, kernel_size, strides=1, padding="valid", dilation_rate=1,
                     use_bias: bool = True, batch: int = 1, dtype="float32") -> dict:
    """Everything above for one ``Conv2D(filters, kernel_size, strides, padding)`` on ``input_shape``.

    Parameters
    ----------
    input_shape : (int, int, int)
        (height, width, channels) of one instance.
    filters, kernel_size, strides, padding, dilation_rate, use_bias
        As for :class:`labcode.scratch.Conv2D`; ``padding`` may also be an int p.
    batch : int
        Instances per batch, for ``memory_per_batch``.
    dtype : str
        The activations' dtype.

    Returns
    -------
    dict
        ``output_shape`` (h, w, c_out), ``params``, ``mults`` (per instance), ``flops`` (per instance),
        ``memory_per_instance`` and ``memory_per_batch`` (bytes).

    Examples
    --------
    >>> costs = conv_layer_costs((150, 100, 3), 200, 5, padding="same", batch=100)
    >>> costs["params"], costs["mults"], format_bytes(costs["memory_per_instance"])
    (15200, 225000000, '11.4 MiB')
    """
    where = "conv_layer_costs"
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"{where}: input_shape must be (height, width, channels), got {input_shape!r}")
    h, w, c_in = (_count(v, "input_shape", where) for v in input_shape)
    f_h, f_w = _pair(kernel_size, "kernel_size", where)
    s_h, s_w = _pair(strides, "strides", where)
    d_h, d_w = _pair(dilation_rate, "dilation_rate", where)
    out_h = conv_output_size(h, f_h, s_h, padding, d_h)
    out_w = conv_output_size(w, f_w, s_w, padding, d_w)
    c_out = _count(filters, "filters", where)
    return {
        "output_shape": (out_h, out_w, c_out),
        "params": conv_params(f_h, f_w, c_in, c_out, bias=use_bias),
        "mults": conv_mults(out_h, out_w, f_h, f_w, c_in, c_out),
        "flops": conv_flops(out_h, out_w, f_h, f_w, c_in, c_out, bias=use_bias),
        "memory_per_instance": conv_memory(out_h, out_w, c_out, 1, dtype),
        "memory_per_batch": conv_memory(out_h, out_w, c_out, batch, dtype),
    }


def _pair(value, what, where) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{where}: {what} must be an int or a pair of ints, got {value!r}")
        return _count(value[0], what, where), _count(value[1], what, where)
    v = _count(value, what, where)
    return v, v


def format_bytes(n: int) -> str:
    """A byte count in binary units: 12_000_000 → '11.4 MiB' (what the lecture notes call 11.4 MB)."""
    n = _count(n, "the byte count", "format_bytes", minimum=0)
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
