"""Pooling (池化) from scratch, like ``tf.nn.max_pool2d`` and ``tf.nn.avg_pool2d``, and depth-wise max pooling.

A pooling layer summarises each window of each channel by one number and has
no parameters:

=============  ===================================  =============================================
pooling        forward                              backward
=============  ===================================  =============================================
max            the largest value of the window      all of ∂L/∂out goes to that one input (argmax)
average        the mean of the window               ∂L/∂out shared equally by the window's inputs
global avg     the mean of each whole feature map   ∂L/∂out / (H·W) to every pixel
depth max      the largest of k adjacent channels   to that one channel
=============  ===================================  =============================================

With "SAME" padding, max pooling pads with −∞ (never the maximum) and average
pooling leaves the padding out of the count: a corner window of a 3×3 average
pool with one pixel of padding averages its 4 real pixels, as TensorFlow does.
Overlapping windows (stride < window) add their gradients (col2im, as in
:mod:`labcode.scratch.conv`).
"""

from __future__ import annotations

import numpy as np

from labcode.scratch.conv import _add_windows, _check_nhwc, _Geometry, _geometry, _is_int, _padding, _pair

__all__ = [
    "max_pool2d", "avg_pool2d", "max_pool2d_backward", "avg_pool2d_backward",
    "max_pool_depth", "max_pool_depth_backward", "global_avg_pool2d",
]


def _pool_geometry(in_hw, ksize, strides, padding, where, shape_note="") -> _Geometry:
    f = _pair(ksize, "ksize", where)
    s = f if strides is None else _pair(strides, "strides", where)
    return _geometry(in_hw, f, s, _padding(padding, where, explicit=False), (1, 1), where, shape_note)


def _lowest(dtype):
    """−∞, or the smallest integer: the padding value that never wins a max."""
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _depth_window(ksize, strides, where):
    """k when ``ksize`` is tf.nn's depth-wise [1, 1, 1, k] (strides [1, 1, 1, k]), else None."""
    if not (isinstance(ksize, (tuple, list)) and len(ksize) == 4 and _is_int(ksize[3]) and ksize[3] != 1):
        return None
    k = ksize[3]
    if list(ksize[:3]) != [1, 1, 1] or (strides is not None and list(strides) != [1, 1, 1, k]):
        raise ValueError(
            f"{where}: pooling over channels needs ksize = strides = [1, 1, 1, k] (no spatial pooling at the same "
            f"time), got ksize={ksize!r}, strides={strides!r}"
        )
    return k


def _max_windows(x, g):
    """The windows of x̃ (padded with −∞) flattened to (N, out_h, out_w, f_h·f_w, C), and the argmax of each."""
    f_h, f_w = g.kernel
    windows = g.windows(g.pad(x, _lowest(x.dtype)))
    cols = windows.reshape(*windows.shape[:3], f_h * f_w, x.shape[3])
    return cols, cols.argmax(axis=3)


def _tiles(x, g):
    """Non-overlapping windows (stride = window, no padding, the common 2×2 pooling): x's windows as a view
    (N, out_h, f_h, out_w, f_w, C), by reshaping alone; None for other windows. Rows and columns left over
    at the bottom and right (VALID) belong to no window."""
    (t, b), (left, r) = g.pads
    if g.strides != g.kernel or t or b or left or r:
        return None
    (out_h, out_w), (f_h, f_w) = g.out_hw, g.kernel
    return x[:, :out_h * f_h, :out_w * f_w].reshape(x.shape[0], out_h, f_h, out_w, f_w, x.shape[3])


def _max_forward(x, g):
    """(max pooling of x, the argmax of each window: its tap u·f_w + v), shaped (N, out_h, out_w, C) both.

    For non-overlapping windows (:func:`_tiles`) tap by tap: f_h·f_w slices of x, each compared with the
    running maximum, which is much faster than copying every window out of x and reducing along a short axis
    (and keeps the argmax in int8). A tap must be strictly larger to take over, so ties go to the first tap,
    as with ``argmax``; the rare window with a NaN takes the general path, which sends its gradient to the NaN.
    """
    tiles = _tiles(x, g)
    if tiles is not None and g.kernel[0] * g.kernel[1] <= 127:
        f_w = g.kernel[1]
        out = tiles[:, :, 0, :, 0].copy()
        argmax = np.zeros(out.shape, dtype=np.int8)
        for t in range(1, g.kernel[0] * f_w):
            tap = tiles[:, :, t // f_w, :, t % f_w]
            took_over = tap > out  # strictly larger: ties stay with the earlier tap
            # the argmax is the last tap to take over, the largest t so far (cheaper than argmax[took_over] = t)
            np.maximum(argmax, took_over.view(np.int8) * np.int8(t), out=argmax)
            np.maximum(out, tap, out=out)
        if not (np.issubdtype(out.dtype, np.floating) and np.isnan(out).any()):
            return out, argmax
    cols, argmax = _max_windows(x, g)
    return np.take_along_axis(cols, argmax[:, :, :, None, :], axis=3)[:, :, :, 0, :], argmax


def _max_backward(argmax, dout, g, x_shape, dtype):
    if argmax.dtype == np.int8:  # the argmax of non-overlapping windows, from _max_forward's faster path
        return _max_tiles_backward(argmax, dout, g, x_shape, dtype)
    n, c = x_shape[0], x_shape[3]
    dcols = np.zeros((n, *g.out_hw, g.kernel[0] * g.kernel[1], c), dtype=dtype)
    np.put_along_axis(dcols, argmax[:, :, :, None, :], dout[:, :, :, None, :], axis=3)
    dxp = np.zeros(g.padded_shape(n, c), dtype=dtype)
    _add_windows(dxp, dcols.reshape(n, *g.out_hw, *g.kernel, c), g)
    return g.crop(dxp)


def _max_tiles_backward(argmax, dout, g, x_shape, dtype):
    """:func:`_max_backward` for non-overlapping windows: tap t's gradients (∂L/∂out where the argmax is t, else 0)
    written straight into the slice of ∂L/∂x that tap t of every window covers; no col2im, nothing to add up."""
    (out_h, out_w), (f_h, f_w) = g.out_hw, g.kernel
    covered = out_h * f_h == x_shape[1] and out_w * f_w == x_shape[2]  # no rows or columns left over
    dx = (np.empty if covered else np.zeros)(x_shape, dtype=dtype)
    tiles = _tiles(dx, g)
    for t in range(f_h * f_w):
        np.multiply(dout, argmax == t, out=tiles[:, :, t // f_w, :, t % f_w])
    return dx


def _window_counts(g) -> np.ndarray:
    """How many real (unpadded) pixels each window covers, shaped (1, out_h, out_w, 1)."""
    per_axis = []
    for n, f, s, (before, _), out in zip(g.in_hw, g.kernel, g.strides, g.pads, g.out_hw, strict=True):
        start = np.arange(out) * s - before
        per_axis.append(np.minimum(start + f, n) - np.maximum(start, 0))
    return np.outer(*per_axis)[None, :, :, None]


def _avg_backward(dout, counts, g, x_shape, dtype):
    n, c = x_shape[0], x_shape[3]
    share = (dout / counts).astype(dtype, copy=False)
    dcols = np.broadcast_to(share[:, :, :, None, None, :], (n, *g.out_hw, *g.kernel, c))
    dxp = np.zeros(g.padded_shape(n, c), dtype=dtype)
    _add_windows(dxp, dcols, g)
    return g.crop(dxp)


def _float_dtype(*arrays):
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _check_dout(dout, expected, where):
    dout = np.asarray(dout)
    if dout.shape != tuple(expected):
        raise ValueError(f"{where}: dout must have the output's shape {tuple(expected)}, got {dout.shape}")
    return dout


def max_pool2d(x, ksize, strides=None, padding="VALID") -> np.ndarray:
    """Max pooling, like ``tf.nn.max_pool2d``: the largest value of each window, channel by channel.

    Parameters
    ----------
    x : array_like
        The input, (N, H, W, C) — NHWC.
    ksize : int, (f_h, f_w) or [1, f_h, f_w, 1]
        The window size f. tf.nn's depth-wise form [1, 1, 1, k] (with strides
        [1, 1, 1, k]) pools over channels instead: :func:`max_pool_depth`.
    strides : int, (s_h, s_w) or [1, s_h, s_w, 1], optional
        s; by default the window size (non-overlapping windows, like Keras).
    padding : {"VALID", "SAME"} (any case)
        "SAME" pads with −∞, TensorFlow's rule (out = ⌈n/s⌉).
    """
    where = "max_pool2d"
    k = _depth_window(ksize, strides, where)
    if k is not None:
        if _padding(padding, where, explicit=False) != "VALID":
            raise ValueError(f"{where}: pooling over channels supports only padding 'VALID', got {padding!r}")
        return max_pool_depth(x, k)
    x = _check_nhwc(x, where)
    g = _pool_geometry(x.shape[1:3], ksize, strides, padding, where, f" (x.shape = {x.shape})")
    tiles = _tiles(x, g)  # non-overlapping windows: a view of x, no padding
    if tiles is not None:
        return tiles.max(axis=(2, 4))
    return g.windows(g.pad(x, _lowest(x.dtype))).max(axis=(3, 4))


def max_pool2d_backward(x, dout, ksize, strides=None, padding="VALID") -> np.ndarray:
    """∂L/∂x of :func:`max_pool2d` given ``dout`` = ∂L/∂out: each window's gradient goes to its maximum."""
    where = "max_pool2d_backward"
    x = _check_nhwc(x, where)
    g = _pool_geometry(x.shape[1:3], ksize, strides, padding, where, f" (x.shape = {x.shape})")
    dout = _check_dout(dout, (x.shape[0], *g.out_hw, x.shape[3]), where)
    _, argmax = _max_forward(x, g)
    return np.ascontiguousarray(_max_backward(argmax, dout, g, x.shape, _float_dtype(x, dout)))


def avg_pool2d(x, ksize, strides=None, padding="VALID") -> np.ndarray:
    """Average pooling, like ``tf.nn.avg_pool2d``: the mean of each window, channel by channel.

    Parameters
    ----------
    x : array_like
        The input, (N, H, W, C) — NHWC.
    ksize : int, (f_h, f_w) or [1, f_h, f_w, 1]
        The window size f.
    strides : int, (s_h, s_w) or [1, s_h, s_w, 1], optional
        s; by default the window size.
    padding : {"VALID", "SAME"} (any case)
        "SAME": TensorFlow's rule, and the padding is left out of each window's count.
    """
    where = "avg_pool2d"
    x = _check_nhwc(x, where)
    g = _pool_geometry(x.shape[1:3], ksize, strides, padding, where, f" (x.shape = {x.shape})")
    dtype = _float_dtype(x)
    sums = g.windows(g.pad(x.astype(dtype, copy=False))).sum(axis=(3, 4))
    return sums / _window_counts(g).astype(dtype)


def avg_pool2d_backward(x, dout, ksize, strides=None, padding="VALID") -> np.ndarray:
    """∂L/∂x of :func:`avg_pool2d`: each window shares ∂L/∂out equally among its real pixels."""
    where = "avg_pool2d_backward"
    x = _check_nhwc(x, where)
    g = _pool_geometry(x.shape[1:3], ksize, strides, padding, where, f" (x.shape = {x.shape})")
    dout = _check_dout(dout, (x.shape[0], *g.out_hw, x.shape[3]), where)
    return np.ascontiguousarray(_avg_backward(dout, _window_counts(g), g, x.shape, _float_dtype(x, dout)))


def global_avg_pool2d(x, keepdims: bool = False) -> np.ndarray:
    """The mean of each feature map: (N, H, W, C) → (N, C) (or (N, 1, 1, C) with ``keepdims``)."""
    x = _check_nhwc(x, "global_avg_pool2d")
    return x.mean(axis=(1, 2), keepdims=keepdims)


def _check_depth(x, k, where):
    x = _check_nhwc(x, where)
    if not _is_int(k) or k < 1:
        raise ValueError(f"{where}: the depth window k must be a positive int, got {k!r}")
    if x.shape[3] % k:
        raise ValueError(
            f"{where}: the {x.shape[3]} channels of the input (shape {x.shape}, NHWC) are not a multiple of the "
            f"depth window k = {k}"
        )
    return x


def max_pool_depth(x, k: int) -> np.ndarray:
    """Depth-wise max pooling: the largest of each group of k adjacent channels, (N, H, W, C) → (N, H, W, C/k).

    What ``tf.nn.max_pool2d(x, ksize=(1, 1, 1, k), strides=(1, 1, 1, k), padding="VALID")`` computes: a
    network can learn k detectors of one pattern in k orientations and keep whichever responds.
    """
    x = _check_depth(x, k, "max_pool_depth")
    n, h, w, c = x.shape
    return x.reshape(n, h, w, c // k, k).max(axis=4)


def max_pool_depth_backward(x, dout, k: int) -> np.ndarray:
    """∂L/∂x of :func:`max_pool_depth`: each group's gradient goes to its largest channel."""
    where = "max_pool_depth_backward"
    x = _check_depth(x, k, where)
    n, h, w, c = x.shape
    dout = _check_dout(dout, (n, h, w, c // k), where)
    return _depth_backward(x.reshape(n, h, w, c // k, k).argmax(axis=4), dout, k, _float_dtype(x, dout))


def _depth_backward(argmax, dout, k, dtype):
    n, h, w, groups = dout.shape
    dx = np.zeros((n, h, w, groups, k), dtype=dtype)
    np.put_along_axis(dx, argmax[..., None], dout[..., None], axis=4)
    return dx.reshape(n, h, w, groups * k)
