"""Convolution (卷积) from scratch: 1-D signals, and 2-D images like ``tf.nn.conv2d``.

A convolution slides a kernel w over its input and takes a weighted sum at
every position. For a signal, true convolution flips the kernel and
cross-correlation does not:

    (x ∗ w)[t] = Σ_k w[k] · x[t − k]        convolution        (``conv1d(x, w)``, ``np.convolve``)
    (x ⋆ w)[t] = Σ_k w[k] · x[t + k]        cross-correlation  (``conv1d(x, w, flip=False)``, ``np.correlate``)

Deep-learning "convolutions" are cross-correlations: the kernel is learned,
so flipping it changes nothing but its name. For a batch of images in NHWC
layout (batch, height, width, channels) and filters in HWIO layout (f_h, f_w,
c_in, c_out), with strides s and dilations d, output (i, j, k) of image n is

    z[n, i, j, k] = Σ_u Σ_v Σ_c x̃[n, i·s_h + u·d_h, j·s_w + v·d_w, c] · w[u, v, c, k]

where x̃ is x padded with zeros ("VALID": none; "SAME": TensorFlow's rule,
see :mod:`labcode.scratch.sizes`). Two implementations:

* :func:`conv2d_naive` loops over every output pixel and channel: the formula, slowly;
* :func:`conv2d` builds the *im2col* matrix (one row per receptive field,
  read through a strided view of x̃ with no copying, then copied once) and
  makes the whole convolution one matrix product with the filters reshaped to
  (f_h·f_w·c_in) × c_out.

The backward pass (:func:`conv2d_backward`) is two more products: ∂L/∂W =
colsᵀ · ∂L/∂Z, and ∂L/∂cols = ∂L/∂Z · Wᵀ, which *col2im* adds back onto the
pixels each window read (overlapping windows add up). With stride 1 and no more
output than input channels, both gradients come instead from the im2col matrix
of ∂L/∂Z: ∂L/∂x is then a convolution too (a *transposed convolution*), with no col2im.

Strides > 1 together with dilations > 1 are computed here, though Keras'
``Conv2D`` refuses that combination and TensorFlow documents it as unsupported.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from labcode.scratch.sizes import same_padding

__all__ = ["conv1d", "conv2d", "conv2d_naive", "conv2d_backward", "conv2d_backward_naive", "im2col", "col2im",
           "BLOCK_SIZE"]

#: The most numbers an im2col matrix holds at once (32 MiB in float64); bigger ones are built block by block.
BLOCK_SIZE = 2**22


# ---------------------------------------------------------------------------
# 1-D
# ---------------------------------------------------------------------------

def conv1d(x, w, mode: str = "full", flip: bool = True) -> np.ndarray:
    """1-D convolution (``flip=True``, like ``np.convolve``) or cross-correlation (``flip=False``, ``np.correlate``).

    Parameters
    ----------
    x : array_like
        The signal x, 1-D.
    w : array_like
        The kernel w, 1-D.
    mode : {"full", "valid", "same"}
        "full": every overlap, len(x) + len(w) − 1 values; "valid": only where
        w lies wholly inside x; "same": the len(x) central values of "full"
        (max(len(x), len(w)) of them), as NumPy centres them.
    flip : bool
        Flip the kernel (true convolution) or not (cross-correlation, what CNN layers compute).

    Examples
    --------
    A delayed signal (an echo): y(t) = x(t) + x(t − 1)/2 + x(t − 2)/4.

    >>> conv1d([1.0, 0.0, 0.0, 2.0], [1, 1/2, 1/4])
    array([1.  , 0.5 , 0.25, 2.  , 1.  , 0.5 ])
    """
    where = "conv1d"
    x = _check_1d(x, "the signal x", where)
    w = _check_1d(w, "the kernel w", where)
    if not isinstance(mode, str) or mode.lower() not in ("full", "valid", "same"):
        raise ValueError(f"{where}: mode must be 'full', 'valid' or 'same', got {mode!r}")
    mode = mode.lower()
    n, m = len(x), len(w)
    kernel = w[::-1] if flip else w
    # full[t] = Σ_j x̃[t + j]·kernel[j] for x̃ = x with m − 1 zeros on each side: every overlap of x and w
    full = sliding_window_view(np.pad(x, m - 1), m) @ kernel
    if mode == "full":
        return full
    short = min(n, m)
    if mode == "valid":
        return full[short - 1: short - 1 + abs(n - m) + 1]
    # NumPy centres "same"; np.correlate with a kernel longer than the signal rounds the other way
    start = short // 2 if (not flip and m > n) else (short - 1) // 2
    return full[start: start + max(n, m)]


def _check_1d(a, what, where) -> np.ndarray:
    arr = _numeric(np.asarray(a), what, where)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{where}: {what} must be a non-empty 1-D array, got shape {arr.shape}")
    return arr


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

def _numeric(arr: np.ndarray, what: str, where: str) -> np.ndarray:
    """Booleans become int64, float16 becomes float32; integers and float32/64 stay as they are."""
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype in (np.float32, np.float64):
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32)
    raise TypeError(f"{where}: {what} must hold real numbers, got dtype {arr.dtype}")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _pair(value, what: str, where: str) -> tuple[int, int]:
    """An int, (a,), (a_h, a_w) or tf.nn's NHWC [1, a_h, a_w, 1] → (a_h, a_w), positive ints."""
    expected = f"an int, a pair (h, w) or [1, h, w, 1] of positive ints, got {value!r}"
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        vals = list(value)
        if len(vals) == 1:
            vals = vals * 2
        elif len(vals) == 4:
            if not all(_is_int(v) for v in vals):
                raise ValueError(f"{where}: {what} must be {expected}")
            if vals[0] != 1 or vals[3] != 1:
                raise ValueError(
                    f"{where}: {what} along the batch and channel axes must be 1 "
                    f"(NHWC: [1, {what}_h, {what}_w, 1]), got {value!r}"
                )
            vals = vals[1:3]
        elif len(vals) != 2:
            raise ValueError(f"{where}: {what} must be {expected}")
    else:
        vals = [value, value]
    if not all(_is_int(v) and v >= 1 for v in vals):
        raise ValueError(f"{where}: {what} must be {expected}")
    return int(vals[0]), int(vals[1])


def _padding(padding, where: str, explicit: bool = True):
    """'VALID' or 'SAME' (any case), or explicit zeros ((top, bottom), (left, right))."""
    accepted = "'VALID' or 'SAME' (any case)"
    if explicit:
        accepted += ", or explicit zeros: an int p, (p_h, p_w), ((top, bottom), (left, right))"
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("VALID", "SAME"):
            raise ValueError(f"{where}: unknown padding {padding!r}; expected {accepted}")
        return mode
    try:
        arr = np.asarray(padding) if explicit and padding is not None else None
    except ValueError:  # a ragged sequence
        arr = None
    if arr is None or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0):
        raise ValueError(f"{where}: unknown padding {padding!r}; expected {accepted}")
    if arr.shape == ():
        return (int(arr), int(arr)), (int(arr), int(arr))
    if arr.shape == (2,):
        return (int(arr[0]), int(arr[0])), (int(arr[1]), int(arr[1]))
    if arr.shape == (4, 2) and not arr[0].any() and not arr[3].any():  # tf.nn's [[0, 0], [t, b], [l, r], [0, 0]]
        arr = arr[1:3]
    if arr.shape != (2, 2):
        raise ValueError(f"{where}: unknown padding {padding!r}; expected {accepted}")
    return (int(arr[0, 0]), int(arr[0, 1])), (int(arr[1, 0]), int(arr[1, 1]))


def _check_nhwc(x, where: str, what: str = "input") -> np.ndarray:
    """x as a 4-D array (batch, height, width, channels) of numbers, or a ValueError that says how to get one."""
    arr = _numeric(np.asarray(x), f"the {what}", where)
    if arr.ndim != 4:
        hint = ""
        if arr.ndim == 2:
            hint = "; for one grayscale image use x[None, :, :, None]"
        elif arr.ndim == 3:
            hint = "; for one image use x[None] (a batch of grayscale images: x[..., None])"
        raise ValueError(
            f"{where}: expected a 4-D {what} (batch, height, width, channels) — NHWC — got shape {arr.shape}{hint}"
        )
    if min(arr.shape[1:]) < 1:
        raise ValueError(f"{where}: the {what} (batch, height, width, channels) has an empty axis: shape {arr.shape}")
    return arr


def _check_hwio(w, where: str) -> np.ndarray:
    arr = _numeric(np.asarray(w), "the filter", where)
    if arr.ndim != 4 or min(arr.shape) < 1:
        hint = "; for one 2-D kernel k use k[:, :, None, None]" if arr.ndim == 2 else ""
        raise ValueError(
            f"{where}: expected a 4-D filter (f_h, f_w, c_in, c_out) — HWIO — with no empty axis, "
            f"got shape {arr.shape}{hint}"
        )
    return arr


# ---------------------------------------------------------------------------
# Where the windows lie
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Geometry:
    """The windows of a 2-D convolution or pooling: kernel, strides, dilations, padding, input and output sizes."""

    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]

    def pad(self, x: np.ndarray, value=0) -> np.ndarray:
        """x̃: x with the padding around its height and width."""
        (t, b), (left, r) = self.pads
        if t == b == left == r == 0:
            return x
        return np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=value)

    def padded_shape(self, n: int, c: int) -> tuple[int, int, int, int]:
        (t, b), (left, r) = self.pads
        return n, self.in_hw[0] + t + b, self.in_hw[1] + left + r, c

    def windows_shape(self, n: int, c: int) -> tuple[int, int, int, int, int, int]:
        """The shape of :meth:`windows`: (N, out_h, out_w, f_h, f_w, C)."""
        return n, *self.out_hw, *self.kernel, c

    def windows(self, xp: np.ndarray) -> np.ndarray:
        """Every window of x̃ as a read-only view (N, out_h, out_w, f_h, f_w, C): no copying.

        Moving one output pixel down moves s_h rows in x̃, one kernel tap down
        d_h rows; the strides of the view say exactly that.
        """
        n, _, _, c = xp.shape
        s_n, s_row, s_col, s_c = xp.strides
        (s_h, s_w), (d_h, d_w) = self.strides, self.dilations
        return as_strided(xp, shape=(n, *self.out_hw, *self.kernel, c),
                          strides=(s_n, s_row * s_h, s_col * s_w, s_row * d_h, s_col * d_w, s_c), writeable=False)

    def crop(self, xp: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`pad`: the pixels of x inside x̃."""
        (t, _), (left, _) = self.pads
        h, w = self.in_hw
        return xp[:, t:t + h, left:left + w, :]


def _geometry(in_hw, kernel, strides, padding, dilations, where, shape_note="") -> _Geometry:
    """Check the arguments and place the windows; ``padding`` is what :func:`_padding` returns."""
    spans = [(f - 1) * d + 1 for f, d in zip(kernel, dilations, strict=True)]
    if padding == "SAME":
        pads = tuple(same_padding(n, f, s, d) for n, f, s, d in zip(in_hw, kernel, strides, dilations, strict=True))
    elif padding == "VALID":
        pads = ((0, 0), (0, 0))
    else:
        pads = padding
    padded = [n + p0 + p1 for n, (p0, p1) in zip(in_hw, pads, strict=True)]
    if any(span > n for span, n in zip(spans, padded, strict=True)):
        dil = f" with dilations {dilations}" if dilations != (1, 1) else ""
        mode = f"padding {padding!r}" if isinstance(padding, str) else f"padding {pads}"
        raise ValueError(
            f"{where}: the window ({kernel[0]}×{kernel[1]}{dil}, spanning {spans[0]}×{spans[1]} pixels) is larger "
            f"than the {padded[0]}×{padded[1]} input with {mode}{shape_note}; "
            "use padding='SAME' or a smaller window"
        )
    out_hw = tuple((n - span) // s + 1 for n, span, s in zip(padded, spans, strides, strict=True))
    return _Geometry(tuple(kernel), tuple(strides), tuple(dilations), tuple(pads), tuple(in_hw), out_hw)


def _conv_setup(x, w, strides, padding, dilations, where):
    x = _check_nhwc(x, where)
    w = _check_hwio(w, where)
    if x.shape[3] != w.shape[2]:
        raise ValueError(
            f"{where}: the input has {x.shape[3]} channels (x.shape = {x.shape}, NHWC) but the filter expects "
            f"{w.shape[2]} (w.shape = {w.shape}, HWIO: (f_h, f_w, c_in, c_out)); c_in must match"
        )
    g = _geometry(x.shape[1:3], w.shape[:2], _pair(strides, "strides", where), _padding(padding, where),
                  _pair(dilations, "dilations", where), where, f" (x.shape = {x.shape})")
    dtype = np.result_type(x, w)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), g


def _blocks(shape, size=None):
    """(batch slice, output-row slice) pairs covering an (N, out_h, out_w, …) array, ≤ ``size`` numbers each
    (BLOCK_SIZE by default)."""
    n, out_h = shape[:2]
    row = max(math.prod(shape[2:]), 1)  # numbers per output row
    rows = max((size or BLOCK_SIZE) // row, 1)
    if rows >= out_h:  # whole images at a time
        per = max(rows // max(out_h, 1), 1)
        for b in range(0, n, per):
            yield slice(b, b + per), slice(None)
    else:  # one image, a band of output rows at a time
        for b in range(n):
            for i in range(0, out_h, rows):
                yield slice(b, b + 1), slice(i, i + rows)


# ---------------------------------------------------------------------------
# Speed: small blocks, reused buffers, every core
# ---------------------------------------------------------------------------
# None of this changes what is computed; together (with the backward pass of _transposed_backward) it took the
# VGG block of bench/bench_conv_targets.py from about 160 ms to under 100 ms on 2 cores, and LeNet's C1 and C3
# (batch 128, forward + backward) from about 6.5 and 4.5 ms to 4.6 and 2.7:
# * one buffer per thread, reused for every block's im2col matrix, and padding image by image into a small array:
#   a fresh large array costs the operating system a page fault (and zeroing) per page touched, which made the
#   copies about 4 times slower than the copying itself;
# * blocks of at most CACHE_BLOCK numbers, so that a block's im2col copy is still in the core's cache when the
#   matrix product reads it;
# * the work of a convolution of PARALLEL_MACS multiply-adds or more (LeNet's layers on a batch of 128, the VGG
#   block) spread over THREADS threads, each running its own copies and products with one BLAS thread: runs of
#   blocks for the forward pass and ∂L/∂W, and for ∂L/∂x by col2im (:func:`_input_gradient`) a share of the
#   images each. NumPy releases the GIL in both copies and products, so the threads really run at once, and
#   the copies, which a multi-threaded BLAS would leave to one core, are shared too. We never hand the cores
#   to BLAS instead: its thin products gain little from them, and OpenBLAS's threads keep spinning on the cores
#   for a while after each product, which took the cores from our own threads (on 2 cores, LeNet's backward
#   pass then ran no faster on two threads than on one).

#: Numbers in one block of an im2col matrix when speed decides (1 MiB of float32), see above.
CACHE_BLOCK = 2**18
#: Threads a convolution may use (see above); 1 keeps everything on the calling thread, NumPy's BLAS as it is set.
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
#: Multiply-adds from which a convolution spreads its work over THREADS threads (see above); smaller ones (a
#: batch of a few images) stay on the calling thread, where starting threads would cost more than they save.
PARALLEL_MACS = 4 * 10**6

_pool = None  # (process id, ThreadPoolExecutor), created on first use
_blas = None  # threadpoolctl's ThreadpoolController, created on first use


def _plan(shape, macs: int):
    """(blocks, threads): the blocks of an (N, out_h, out_w, …) array, and how many threads to run them on.

    Small convolutions stay on the calling thread, in blocks of up to BLOCK_SIZE numbers; large ones use
    THREADS threads and blocks of up to CACHE_BLOCK numbers.
    """
    threads = THREADS if macs >= PARALLEL_MACS else 1
    blocks = list(_blocks(shape, min(BLOCK_SIZE, CACHE_BLOCK) if threads > 1 else BLOCK_SIZE))
    return blocks, min(threads, len(blocks))


def _blas_threads(n: int):
    """A context in which NumPy's BLAS runs on n threads (threadpoolctl)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=n, user_api="blas")


def _run_parts(parts: list, run) -> list:
    """Call ``run(part)`` for every part, at the same time on as many threads, each with one BLAS thread (the
    calling thread takes the first part); their results, in the order of ``parts``. A single part runs here,
    BLAS as it is set."""
    if len(parts) <= 1:
        return [run(part) for part in parts]
    global _pool
    if _pool is None or _pool[0] != os.getpid():  # a forked child does not inherit the pool's threads
        from concurrent.futures import ThreadPoolExecutor

        _pool = os.getpid(), ThreadPoolExecutor(max(THREADS, 2), thread_name_prefix="labcode-conv")
    with _blas_threads(1):
        futures = [_pool[1].submit(run, part) for part in parts[1:]]
        first = run(parts[0])
        return [first, *(f.result() for f in futures)]


def _split(items, threads: int) -> list:
    """``items`` (a list, or a range of images) cut into ``threads`` consecutive runs of (nearly) equal length."""
    cuts = [len(items) * t // threads for t in range(threads + 1)]
    return [items[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def _run_blocks(blocks: list, run, threads: int) -> list:
    """Call ``run(part)`` on ``threads`` parts of ``blocks``, runs of consecutive blocks; their results, in order.

    Each run adds up its own partial results, so that the sum does not depend on which thread is faster.
    """
    return _run_parts(_split(blocks, max(threads, 1)), run)


def _add_taps(target: np.ndarray, dtaps: np.ndarray, g: _Geometry) -> None:
    """col2im, tap by tap: add dtaps[u, v, n, i, j, c] onto the pixel of ``target`` (x̃) that window (i, j) read
    at tap (u, v).

    One strided slice per kernel tap (f_h·f_w of them) covers all windows at
    once; overlapping windows add up, as the chain rule requires. Only axes 1 and
    2 are the image's rows and columns: the same code adds dtaps[u, v, c, i, j, n]
    into x̃ held as (C, H, W, N) (:func:`_input_gradient`). Each add is fastest
    when ``dtaps[u, v]`` is contiguous.
    """
    f_h, f_w, _, out_h, out_w, _ = dtaps.shape
    (s_h, s_w), (d_h, d_w) = g.strides, g.dilations
    for u in range(f_h):
        for v in range(f_w):
            r, q = u * d_h, v * d_w
            target[:, r:r + s_h * (out_h - 1) + 1:s_h, q:q + s_w * (out_w - 1) + 1:s_w, :] += dtaps[u, v]


def _add_windows(target: np.ndarray, dcols: np.ndarray, g: _Geometry) -> None:
    """col2im: add dcols[n, i, j, u, v, c] onto the pixel of ``target`` (x̃) that window (i, j) read at tap (u, v)."""
    _add_taps(target, dcols.transpose(3, 4, 0, 1, 2, 5), g)


def _im2col(windows: np.ndarray, buffer: np.ndarray | None = None) -> np.ndarray:
    """The im2col matrix (one row per receptive field, columns in (u, v, c) order) of a block of windows: a copy,
    made in ``buffer`` (a 1-D array, reused from block to block) when one is given.

    With one input channel (LeNet's C1) the row-by-row copy would move f_w numbers at a time; copying the
    transposed matrix instead (one row per tap, running along the image rows) moves whole image rows, and
    BLAS reads the F-ordered result with no further copy.
    """
    n, out_h, out_w, f_h, f_w, c = windows.shape
    rows, k = n * out_h * out_w, f_h * f_w * c
    if c == 1:
        windows = windows.transpose(3, 4, 5, 0, 1, 2)
    cols = np.empty(windows.shape, windows.dtype) if buffer is None else buffer[:rows * k].reshape(windows.shape)
    np.copyto(cols, windows)
    return cols.reshape(k, rows).T if c == 1 else cols.reshape(rows, k)


class _Im2col:
    """im2col block by block on one thread, fast (see "Speed" above): ``im2col(b, i)`` is the im2col matrix of
    output rows i of images b (slices, as :func:`_blocks` yields them), copied out of a strided view of x̃.

    With padding, the block's images are padded into a small array of its own, whose border stays zero, instead
    of padding all of x at once. The matrix is made in one buffer, reused (valid until the next call), or with
    ``keep=True`` as a new array each time, to be kept.
    """

    def __init__(self, x: np.ndarray, g: _Geometry, keep: bool = False):
        self.x, self.g, self.keep = x, g, keep
        self.images, self.windows, self.padded, self.buffer = None, None, None, None

    def __call__(self, b: slice, i: slice) -> np.ndarray:
        if b != self.images:  # other images than the last block's
            self.images, self.windows = b, self._windows(self.x[b])
        windows = self.windows[:, i]
        if self.keep:
            return _im2col(windows)
        if self.buffer is None or self.buffer.size < windows.size:
            self.buffer = np.empty(windows.size, dtype=self.x.dtype)
        return _im2col(windows, self.buffer)

    def _windows(self, images: np.ndarray) -> np.ndarray:
        g = self.g
        if g.pads == ((0, 0), (0, 0)):
            return g.windows(images)
        if self.padded is None or len(self.padded) < len(images):
            self.padded = np.zeros(g.padded_shape(len(images), images.shape[3]), dtype=images.dtype)
        xp = self.padded[:len(images)]
        g.crop(xp)[...] = images  # the border of xp stays zero
        return g.windows(xp)


def _conv_forward(x: np.ndarray, w: np.ndarray, g: _Geometry, keep_cols: bool = False):
    """Z = im2col(x̃) · W, block by block: each block's im2col matrix is copied out of the view, then multiplied.

    With ``keep_cols`` it returns (Z, the list of im2col blocks) so that a layer's backward pass can reuse them
    for ∂L/∂W instead of copying them again (at most the whole im2col matrix is kept). Large convolutions run
    their blocks on several threads at once (:func:`_run_blocks`).
    """
    c_out = w.shape[3]
    w_mat = w.reshape(-1, c_out)  # (f_h·f_w·c_in, c_out): column order (u, v, c), the order of a window's row
    out = np.empty((x.shape[0], *g.out_hw, c_out), dtype=np.result_type(x, w))

    def run(blocks):  # consecutive blocks, on one thread
        im2col, kept = _Im2col(x, g, keep=keep_cols), []
        for b, i in blocks:
            cols = im2col(b, i)  # im2col: one row per receptive field
            np.matmul(cols, w_mat, out=out[b, i].reshape(-1, c_out))
            if keep_cols:
                kept.append(cols)
        return kept

    macs = out.size * w_mat.shape[0]
    blocks, threads = _plan(g.windows_shape(x.shape[0], x.shape[3]), macs)
    kept = _run_blocks(blocks, run, threads)
    return (out, [cols for run_kept in kept for cols in run_kept]) if keep_cols else out


def _conv_backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray, g: _Geometry, need_dw: bool = True,
                   need_dx: bool = True, cols=None):
    """(∂L/∂x, ∂L/∂W) from ∂L/∂Z: ∂L/∂W = colsᵀ ∂L/∂Z; ∂L/∂x = col2im(∂L/∂Z Wᵀ), cropped to x.

    ``cols``: the im2col blocks :func:`_conv_forward` kept, or None to copy them again. ∂L/∂x is computed by
    :func:`_input_gradient`. For stride 1 a *transposed convolution* gives both gradients faster, from one
    im2col matrix: :func:`_transposed_backward`.
    """
    if need_dx and _transposable(g, w.shape):
        return _transposed_backward(x, w, dout, g, need_dw)
    n, c_out = x.shape[0], w.shape[3]
    # the forward pass's blocks (its kept cols are one per block), and its threads
    blocks, threads = _plan(g.windows_shape(n, x.shape[3]), macs=dout.size * math.prod(w.shape[:3]))
    items = list(zip(blocks, cols or [None] * len(blocks), strict=True))
    dx = np.empty(x.shape, dtype=np.result_type(dout, w)) if need_dx else None

    def weight_gradient(items):  # these blocks' part of ∂L/∂W
        im2col, part = _Im2col(x, g), np.zeros((math.prod(w.shape[:3]), c_out), dtype=np.result_type(x, dout))
        for (b, i), block_cols in items:
            block_cols = im2col(b, i) if block_cols is None else block_cols
            part += block_cols.T @ dout[b, i].reshape(-1, c_out)
        return part  # and im2col's buffer is freed, for _input_gradient's to take its place

    def run(part):  # these blocks' part of ∂L/∂W, and ∂L/∂x of these images
        items, images = part
        dw_part = weight_gradient(items) if need_dw else None
        if need_dx and len(images):
            _input_gradient(w, dout[images.start:images.stop], g, out=dx[images.start:images.stop])
        return dw_part

    threads = max(threads, 1)  # an empty batch has no blocks, and still one (empty) part
    parts = list(zip(_split(items, threads), _split(range(n), threads), strict=True))
    dw_parts = _run_parts(parts, run)
    return dx, (sum(dw_parts).reshape(w.shape) if need_dw else None)


def _transposed_pads(g: _Geometry):
    """The padding of ∂L/∂Z whose VALID convolution gives ∂L/∂x (stride 1): span − 1 − p on each side."""
    spans = [(f - 1) * d + 1 for f, d in zip(g.kernel, g.dilations, strict=True)]
    return tuple((span - 1 - p0, span - 1 - p1) for span, (p0, p1) in zip(spans, g.pads, strict=True))


def _transposable(g: _Geometry, w_shape) -> bool:
    """Whether :func:`_transposed_backward` applies, and pays: stride 1, no more outputs than inputs per pixel
    (c_out ≤ c_in: its im2col matrix has f_h·f_w·c_out columns), and padding no wider than span − 1."""
    return g.strides == (1, 1) and w_shape[3] <= w_shape[2] and min(min(p) for p in _transposed_pads(g)) >= 0


def _transposed_backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray, g: _Geometry, need_dw: bool = True):
    """(∂L/∂x, ∂L/∂W) of a stride-1 convolution through the *transposed convolution*, with one im2col matrix.

    Pixel y of x̃ received ∂L/∂z[y − u·d]·W[u] from every tap u, so ∂L/∂x̃ is the VALID convolution of ∂L/∂Z,
    padded with span − 1 zeros, by the flipped kernel with c_in and c_out swapped — the forward pass again, with
    no col2im at all. We pad only enough to produce x's own pixels. Its im2col matrix D has one row per pixel
    of x, and row y holds the ∂L/∂z that x[y] met at each tap (tap u in column f − 1 − u), so the same matrix
    gives ∂L/∂W = xᵀ D, taps flipped back: one im2col copy instead of two (x's and ∂L/∂Z's).
    """
    f_h, f_w, c_in, c_out = w.shape
    gt = _geometry(g.out_hw, g.kernel, (1, 1), _transposed_pads(g), g.dilations, "conv2d_backward")
    w_t = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2)).reshape(-1, c_in)  # flipped, c_out ↔ c_in
    dx = np.empty(x.shape, dtype=np.result_type(dout, w))

    def run(blocks):  # these blocks' ∂L/∂x, and their part of xᵀ D
        im2col = _Im2col(dout, gt)
        part = np.zeros((c_in, f_h * f_w * c_out), dtype=dx.dtype) if need_dw else None
        for b, i in blocks:
            d = im2col(b, i)  # one row per pixel of x: the window of ∂L/∂Z that it met
            np.matmul(d, w_t, out=dx[b, i].reshape(-1, c_in))
            if need_dw:
                part += x[b, i].reshape(-1, c_in).T @ d
        return part

    blocks, threads = _plan(gt.windows_shape(x.shape[0], c_out), macs=dx.size * w_t.shape[0] * (1 + need_dw))
    parts = _run_blocks(blocks, run, threads)
    dw = None
    if need_dw:  # xᵀ D is (c_in, f_h, f_w, c_out) with the taps flipped
        dw = np.ascontiguousarray(sum(parts).reshape(c_in, f_h, f_w, c_out)[:, ::-1, ::-1].transpose(1, 2, 0, 3))
    return dx, dw


def _input_gradient(w: np.ndarray, dout: np.ndarray, g: _Geometry, out: np.ndarray) -> np.ndarray:
    """∂L/∂x by col2im of ∂L/∂cols = ∂L/∂Z Wᵀ, block by block.

    Each block's product is taken the other way round, W ∂L/∂Zᵀ, with the batch axis last: rows (u, v, c),
    columns (i, j, n). col2im then adds, for each kernel tap, a (c_in, out_h, out_w, images) block into ∂L/∂x̃
    held as (c_in, H, W, images): runs of out_w·images contiguous numbers, where the NHWC layout would add
    c_in numbers at a time (LeNet's ∂L/∂x: about 1.8 ms instead of 3.5 for a batch of 128). ∂L/∂x goes back to
    NHWC once per block of images, into ``out`` (∂L/∂x of dout's images, NHWC, returned); the blocks' three
    arrays are reused from block to block.
    """
    f_h, f_w, c_in, c_out = w.shape
    w_mat = w.reshape(-1, c_out)  # rows in (u, v, c) order
    n, dx, dtype = out.shape[0], out, out.dtype
    _, hp, wp, _ = g.padded_shape(n, c_in)
    blocks = list(_blocks(g.windows_shape(n, c_in)))
    most = max((len(range(n)[b]) for b, _ in blocks), default=0)
    acc_buffer = np.empty(c_in * hp * wp * most, dtype=dtype)
    d_buffer, taps_buffer = np.empty(0, dtype=dtype), np.empty(0, dtype=dtype)
    images, acc = None, None  # the block of images being summed up, and its ∂L/∂x̃ as (c_in, H, W, images)
    for b, i in blocks:
        if b != images:
            if acc is not None:
                dx[images] = g.crop(acc.transpose(3, 1, 2, 0))
            images, nb = b, len(range(n)[b])
            acc = acc_buffer[:c_in * hp * wp * nb].reshape(c_in, hp, wp, nb)
            acc.fill(0)
        block = dout[b, i]
        if d_buffer.size < block.size:
            d_buffer, taps_buffer = np.empty(block.size, dtype), np.empty(block.size // c_out * w_mat.shape[0], dtype)
        d = d_buffer[:block.size].reshape(block.shape[3], block.shape[1], block.shape[2], block.shape[0])
        np.copyto(d, block.transpose(3, 1, 2, 0))  # ∂L/∂Zᵀ: columns in (i, j, n) order
        dtaps = taps_buffer[:w_mat.shape[0] * block.size // c_out].reshape(w_mat.shape[0], -1)
        np.matmul(w_mat, d.reshape(c_out, -1), out=dtaps)
        row0 = (i.start or 0) * g.strides[0]
        _add_taps(acc[:, row0:], dtaps.reshape(f_h, f_w, c_in, *block.shape[1:3], -1), g)
    if acc is not None:
        dx[images] = g.crop(acc.transpose(3, 1, 2, 0))
    return dx


# ---------------------------------------------------------------------------
# 2-D
# ---------------------------------------------------------------------------

def conv2d_naive(x, w, strides=1, padding="VALID", dilations=1) -> np.ndarray:
    """2-D convolution (cross-correlation) with loops: one window and one filter at a time.

    The same contract as :func:`conv2d`, for reading, not for speed: it
    computes z[n, i, j, k] = Σ_u Σ_v Σ_c x̃[n, i·s_h + u·d_h, j·s_w + v·d_w, c] · w[u, v, c, k] literally.
    """
    x, w, g = _conv_setup(x, w, strides, padding, dilations, "conv2d_naive")
    xp = g.pad(x)
    n = x.shape[0]
    f_h, f_w, _, c_out = w.shape
    (s_h, s_w), (d_h, d_w) = g.strides, g.dilations
    out_h, out_w = g.out_hw
    z = np.zeros((n, out_h, out_w, c_out), dtype=np.result_type(x, w))
    for b in range(n):
        for i in range(out_h):
            for j in range(out_w):
                top, left = i * s_h, j * s_w  # the window's corner in x̃
                window = xp[b, top:top + (f_h - 1) * d_h + 1:d_h, left:left + (f_w - 1) * d_w + 1:d_w, :]
                for k in range(c_out):
                    z[b, i, j, k] = np.sum(window * w[:, :, :, k])
    return z


def conv2d_backward_naive(x, w, dout, strides=1, padding="VALID", dilations=1) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of a convolution with loops, for reading: (∂L/∂x, ∂L/∂w) given ``dout`` = ∂L/∂Z.

    Output z[n, i, j, k] read window x̃[n, i·s_h + u·d_h, j·s_w + v·d_w, :] with filter k, so each of its
    gradients g = ∂L/∂z[n, i, j, k] adds g · window to ∂L/∂w[:, :, :, k] and g · w[:, :, :, k] to ∂L/∂(window).
    """
    x, w, dout, g = _backward_setup(x, w, dout, strides, padding, dilations, "conv2d_backward_naive")
    xp = g.pad(x)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    f_h, f_w, _, c_out = w.shape
    (s_h, s_w), (d_h, d_w) = g.strides, g.dilations
    out_h, out_w = g.out_hw
    for b in range(x.shape[0]):
        for i in range(out_h):
            for j in range(out_w):
                top, left = i * s_h, j * s_w
                rows = slice(top, top + (f_h - 1) * d_h + 1, d_h)
                cols = slice(left, left + (f_w - 1) * d_w + 1, d_w)
                for k in range(c_out):
                    dw[:, :, :, k] += dout[b, i, j, k] * xp[b, rows, cols, :]
                    dxp[b, rows, cols, :] += dout[b, i, j, k] * w[:, :, :, k]
    return g.crop(dxp), dw


def conv2d(x, w, strides=1, padding="VALID", dilations=1) -> np.ndarray:
    """2-D convolution (cross-correlation) of a batch of images, like ``tf.nn.conv2d`` (im2col + one matrix product).

    Parameters
    ----------
    x : array_like
        The input, (N, H, W, c_in) — NHWC.
    w : array_like
        The filters, (f_h, f_w, c_in, c_out) — HWIO.
    strides : int, (s_h, s_w) or [1, s_h, s_w, 1]
        s, the step between windows.
    padding : {"VALID", "SAME"} (any case), or explicit zeros
        "VALID": none; "SAME": TensorFlow's rule (out = ⌈n/s⌉, the odd pixel
        bottom / right); or p, (p_h, p_w), ((top, bottom), (left, right)), or
        tf.nn's [[0, 0], [top, bottom], [left, right], [0, 0]].
    dilations : int, (d_h, d_w) or [1, d_h, d_w, 1]
        d: the kernel's taps are d pixels apart (d − 1 holes).

    Returns
    -------
    numpy.ndarray
        Z, (N, out_h, out_w, c_out), in the dtype of x and w together (integers stay integers).

    Examples
    --------
    >>> x = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]])
    >>> k = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    >>> conv2d(x[None, :, :, None], k[:, :, None, None])[0, :, :, 0]
    array([[4, 3, 4],
           [2, 4, 3],
           [2, 3, 4]])
    """
    x, w, g = _conv_setup(x, w, strides, padding, dilations, "conv2d")
    return _conv_forward(x, w, g)


def conv2d_backward(x, w, dout, strides=1, padding="VALID", dilations=1) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of :func:`conv2d`: (∂L/∂x, ∂L/∂w) given ``dout`` = ∂L/∂Z.

    Parameters
    ----------
    x, w, strides, padding, dilations
        As for :func:`conv2d`.
    dout : array_like
        ∂L/∂Z, the shape of ``conv2d(x, w, …)``: (N, out_h, out_w, c_out).
    """
    x, w, dout, g = _backward_setup(x, w, dout, strides, padding, dilations, "conv2d_backward")
    return _conv_backward(x, w, dout, g)


def _backward_setup(x, w, dout, strides, padding, dilations, where):
    x, w, g = _conv_setup(x, w, strides, padding, dilations, where)
    dout = np.asarray(dout)
    expected = (x.shape[0], *g.out_hw, w.shape[3])
    if dout.shape != expected:
        raise ValueError(f"{where}: dout must have the output's shape (N, out_h, out_w, c_out) = {expected}, "
                         f"got {dout.shape}")
    dtype = np.result_type(x, w, dout)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.float64
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), dout.astype(dtype, copy=False), g


def im2col(x, kernel_size, strides=1, padding="VALID", dilations=1) -> np.ndarray:
    """Every receptive field of x as one row of a matrix: (N·out_h·out_w, f_h·f_w·c_in).

    Rows run over (n, i, j) and columns over (u, v, c), both in C order, so
    ``conv2d(x, w)`` is ``(im2col(x, w.shape[:2], …) @ w.reshape(-1, c_out)).reshape(N, out_h, out_w, c_out)``.

    Parameters
    ----------
    x : array_like
        The input, (N, H, W, C) — NHWC.
    kernel_size : int or (int, int)
        (f_h, f_w).
    strides, padding, dilations
        As for :func:`conv2d`.
    """
    where = "im2col"
    x = _check_nhwc(x, where)
    f = _pair(kernel_size, "kernel_size", where)
    g = _geometry(x.shape[1:3], f, _pair(strides, "strides", where), _padding(padding, where),
                  _pair(dilations, "dilations", where), where, f" (x.shape = {x.shape})")
    return g.windows(g.pad(x)).reshape(-1, f[0] * f[1] * x.shape[3])


def col2im(cols, x_shape, kernel_size, strides=1, padding="VALID", dilations=1) -> np.ndarray:
    """The adjoint of :func:`im2col`: add each row of ``cols`` back onto the pixels its window covers.

    Pixels covered by several windows receive the sum, so ``col2im`` is the
    backward pass of ``im2col`` (⟨im2col(x), C⟩ = ⟨x, col2im(C)⟩), not its inverse.

    Parameters
    ----------
    cols : array_like
        (N·out_h·out_w, f_h·f_w·C), like ``im2col``'s result.
    x_shape : (int, int, int, int)
        (N, H, W, C), the shape of the image to rebuild.
    kernel_size, strides, padding, dilations
        As for :func:`im2col`.
    """
    where = "col2im"
    shape = tuple(int(v) for v in x_shape)
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"{where}: x_shape must be a 4-D shape (N, H, W, C) — NHWC — got {x_shape!r}")
    f = _pair(kernel_size, "kernel_size", where)
    g = _geometry(shape[1:3], f, _pair(strides, "strides", where), _padding(padding, where),
                  _pair(dilations, "dilations", where), where, f" (x_shape = {shape})")
    cols = np.asarray(cols)
    n, c = shape[0], shape[3]
    expected = (n * g.out_hw[0] * g.out_hw[1], f[0] * f[1] * c)
    if cols.shape != expected:
        raise ValueError(f"{where}: cols must have shape (N·out_h·out_w, f_h·f_w·C) = {expected}, got {cols.shape}")
    dtype = cols.dtype if np.issubdtype(cols.dtype, np.floating) else np.float64
    xp = np.zeros(g.padded_shape(n, c), dtype=dtype)
    _add_windows(xp, cols.reshape(n, *g.out_hw, *f, c), g)
    return np.ascontiguousarray(g.crop(xp))
