"""Convolutional and pooling layers (卷积层与池化层): the Keras twins, NHWC, with a backward pass.

==========================  ====================================  ==================================
layer                       forward                               parameters
==========================  ====================================  ==================================
Conv2D                      Z = conv2d(X, W) + b,  A = f(Z)        kernel W (f_h, f_w, c_in, filters),
                                                                  bias b (filters,)
MaxPool2D                   max of each window                    —
AvgPool2D                   mean of each window (SAME: of its     —
                            real pixels)
GlobalAveragePooling2D      mean of each feature map              —
DepthMaxPool                max over groups of k channels         —
==========================  ====================================  ==================================

A Conv2D layer is built on its first batch, from its number of channels;
later batches may have other heights and widths, as in Keras. Weights copy to
and from Keras by position (``get_weights`` / ``set_weights``). ``Flatten``
(:mod:`labcode.scratch.layers`) flattens NHWC maps in Keras' order.
"""

from __future__ import annotations

import numbers

import numpy as np

from labcode.scratch.base import Layer, unique_name
from labcode.scratch.conv import _check_nhwc, _conv_backward, _conv_forward, _geometry, _pair, _transposable
from labcode.scratch.layers import set_kernel_options
from labcode.scratch.pooling import (
    _avg_backward,
    _depth_backward,
    _max_backward,
    _max_forward,
    _window_counts,
)
from labcode.scratch.sizes import conv_output_size

__all__ = [
    "Conv2D", "MaxPool2D", "MaxPooling2D", "AvgPool2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "DepthMaxPool",
]


def _add_bias(z: np.ndarray, bias: np.ndarray) -> None:
    """z[n, i, j, :] += b, in place, one whole row of the maps (out_w·filters numbers) at a time: NumPy adds a
    bias of a few channels to every pixel several times slower than a row to every row."""
    if z.flags.c_contiguous:  # the reshape is then a view of z
        z.reshape(-1, z.shape[2] * z.shape[3])[...] += np.tile(bias, z.shape[2])
    else:
        z += bias


def _bias_gradient(dz: np.ndarray) -> np.ndarray:
    """∂L/∂b = Σ over images and pixels of ∂L/∂Z: each map row's (out_w, filters) sums first, as in :func:`_add_bias`
    (a sum over axes (0, 1, 2) with few channels is several times slower)."""
    rows = dz.reshape(-1, dz.shape[2] * dz.shape[3]).sum(axis=0)
    return rows.reshape(dz.shape[2], dz.shape[3]).sum(axis=0)


def _keras_padding(padding, where) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{where}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def _channels_last(data_format, where) -> str:
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{where}: only data_format='channels_last' (NHWC) is implemented, got {data_format!r}")
    return "channels_last"


def _named(kwargs, prefix):
    """Keras' automatic name (``conv2d``, ``conv2d_1`` …) unless one was given."""
    if kwargs.get("name") is None:
        kwargs["name"] = unique_name(prefix)
    return kwargs


class _Spatial(Layer):
    """A layer on NHWC batches: refuses other shapes with a message that says how to fix them."""

    def _prepare(self, x):
        return super()._prepare(_check_nhwc(x, self._where))

    def _check_input_shape(self, x):
        c = self.input_shape[-1]
        if x.shape[-1] != c:
            raise ValueError(
                f"{self._where}: expected {c} channels (learned from its first batch, NHWC), got {x.shape[-1]} "
                f"(input shape {x.shape})"
            )

    def _out_hw(self, input_shape, kernel, strides, padding, dilation=(1, 1)):
        if len(tuple(input_shape)) != 4:
            raise ValueError(
                f"{self._where}: expected a 4-D input shape (batch, height, width, channels), got {tuple(input_shape)}"
            )
        return tuple(None if n is None else conv_output_size(n, f, s, padding, d)
                     for n, f, s, d in zip(input_shape[1:3], kernel, strides, dilation, strict=True))


class Conv2D(_Spatial):
    """A 2-D convolutional layer: A = f(conv2d(X, W) + b), NHWC, like ``keras.layers.Conv2D``.

    Parameters
    ----------
    filters : int
        c_out, the number of feature maps (kernels).
    kernel_size : int or (int, int)
        (f_h, f_w).
    strides : int or (int, int)
        (s_h, s_w).
    padding : {"valid", "same"}
        "valid": none; "same": TensorFlow's rule (out = ⌈n/s⌉).
    data_format : {None, "channels_last"}
        NHWC, the only layout implemented.
    dilation_rate : int or (int, int)
        (d_h, d_w). Unlike Keras, strides > 1 may be combined with it.
    activation : str, activation layer or None
        f, as for :class:`~labcode.scratch.layers.Dense`.
    use_bias : bool
        Whether to add b (one per feature map).
    kernel_initializer, bias_initializer : str or Initializer
        For W and b; Keras' defaults (the fans of W count its receptive field f_h·f_w).
    kernel_regularizer, bias_regularizer : Regularizer, str or None
        Penalties Ω(W), Ω(b) added to the loss while training, as for
        :class:`~labcode.scratch.layers.Dense` (:mod:`labcode.scratch.regularizers`).

    Attributes
    ----------
    params : dict
        ``{"kernel": W, "bias": b}`` after the first batch; W is (f_h, f_w, c_in, filters) — HWIO.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**_named(kwargs, "conv2d"))
        where = self._where
        if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) or filters < 1:
            raise ValueError(f"{where}: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size", where)
        self.strides = _pair(strides, "strides", where)
        self.padding = _keras_padding(padding, where)
        self.data_format = _channels_last(data_format, where)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", where)
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                           kernel_regularizer, bias_regularizer)

    def __repr__(self):
        act = self.activation.name if self.activation is not None else "linear"
        return (f"<Conv2D '{self.name}' filters={self.filters} kernel_size={self.kernel_size} "
                f"strides={self.strides} padding={self.padding} activation={act}>")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"{self._where}: expected a 4-D input shape (batch, height, width, channels) with known channels, "
                f"got {input_shape}"
            )
        super().build(input_shape)
        self.add_weight("kernel", (*self.kernel_size, input_shape[-1], self.filters), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        out_h, out_w = self._out_hw(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)
        return (input_shape[0], out_h, out_w, self.filters)

    def forward(self, x, training=False):
        x = self._prepare(x)
        g = _geometry(x.shape[1:3], self.kernel_size, self.strides, self.padding.upper(), self.dilation_rate,
                      self._where, f" (input shape {x.shape})")
        self._g, self._x, kernel = g, x, self.params["kernel"]
        # keep the im2col matrix for ∂L/∂W = colsᵀ ∂L/∂Z (no second copy), unless backward will not need it, or
        # the input has one channel: its im2col copy moves whole image rows and costs less than keeping a fresh
        # matrix (LeNet's C1, batch 128: about 30 % faster forward + backward without)
        if (training and self.trainable and kernel.shape[2] > 1
                and not (self.need_input_gradient and _transposable(g, kernel.shape))):
            z, self._cols = _conv_forward(x, kernel, g, keep_cols=True)
        else:
            z, self._cols = _conv_forward(x, kernel, g), None
        if self.use_bias:
            _add_bias(z, self.params["bias"])
        out = z if self.activation is None else self.activation.forward(z, training=training)
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        dout = self._check_dout(dout).astype(self.dtype, copy=False)
        dz = dout if self.activation is None else self.activation.backward(dout)
        dx, dw = _conv_backward(self._x, self.params["kernel"], dz, self._g, need_dw=self.trainable,
                                need_dx=self.need_input_gradient, cols=self._cols)
        self._cols = None  # free it; a second backward copies it again from x
        if self.trainable:
            self.grads["kernel"][...] = dw
            if self.use_bias:
                self.grads["bias"][...] = _bias_gradient(dz)
        return None if dx is None else np.ascontiguousarray(dx)


class _Pool2D(_Spatial):
    _prefix = "pooling2d"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**_named(kwargs, self._prefix))
        where = self._where
        self.pool_size = _pair(pool_size, "pool_size", where)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", where)
        self.padding = _keras_padding(padding, where)
        self.data_format = _channels_last(data_format, where)

    def __repr__(self):
        return (f"<{type(self).__name__} '{self.name}' pool_size={self.pool_size} strides={self.strides} "
                f"padding={self.padding}>")

    def compute_output_shape(self, input_shape):
        out_h, out_w = self._out_hw(input_shape, self.pool_size, self.strides, self.padding)
        return (input_shape[0], out_h, out_w, input_shape[3])

    def _geometry(self, x):
        return _geometry(x.shape[1:3], self.pool_size, self.strides, self.padding.upper(), (1, 1), self._where,
                         f" (input shape {x.shape})")


class MaxPool2D(_Pool2D):
    """Max pooling, like ``keras.layers.MaxPooling2D``: the largest value of each window, channel by channel.

    Parameters
    ----------
    pool_size : int or (int, int)
        The window (f_h, f_w).
    strides : int, (int, int) or None
        (s_h, s_w); None: the pool size.
    padding : {"valid", "same"}
        "same" pads with −∞.
    """

    _prefix = "max_pooling2d"

    def forward(self, x, training=False):
        x = self._prepare(x)
        g = self._geometry(x)
        out, argmax = _max_forward(x, g)
        self._g, self._argmax, self._in_shape, self._in_dtype = g, argmax, x.shape, x.dtype
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        dout = self._check_dout(dout)
        return np.ascontiguousarray(_max_backward(self._argmax, dout, self._g, self._in_shape, self._in_dtype))


class AvgPool2D(_Pool2D):
    """Average pooling, like ``keras.layers.AveragePooling2D``: the mean of each window, channel by channel.

    Parameters
    ----------
    pool_size : int or (int, int)
        The window (f_h, f_w); no default, as in Keras.
    strides : int, (int, int) or None
        (s_h, s_w); None: the pool size.
    padding : {"valid", "same"}
        "same" leaves the padding out of each window's count (``tf.nn.avg_pool2d``).
    """

    _prefix = "average_pooling2d"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def forward(self, x, training=False):
        x = self._prepare(x)
        g = self._geometry(x)
        counts = _window_counts(g).astype(x.dtype)
        out = g.windows(g.pad(x)).sum(axis=(3, 4)) / counts
        self._g, self._counts, self._in_shape, self._in_dtype = g, counts, x.shape, x.dtype
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        dout = self._check_dout(dout)
        return np.ascontiguousarray(_avg_backward(dout, self._counts, self._g, self._in_shape, self._in_dtype))


MaxPooling2D = MaxPool2D
AveragePooling2D = AvgPool2D


class GlobalAveragePooling2D(_Spatial):
    """The mean of each feature map, like ``keras.layers.GlobalAveragePooling2D``: (N, H, W, C) → (N, C).

    Parameters
    ----------
    data_format : {None, "channels_last"}
        NHWC, the only layout implemented.
    keepdims : bool
        Keep the spatial axes: (N, 1, 1, C).
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**_named(kwargs, "global_average_pooling2d"))
        self.data_format = _channels_last(data_format, self._where)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        n, _, _, c = self._check_shape(input_shape)
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def _check_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise ValueError(
                f"{self._where}: expected a 4-D input shape (batch, height, width, channels), got {input_shape}"
            )
        return input_shape

    def forward(self, x, training=False):
        x = self._prepare(x)
        self._in_shape, self._in_dtype = x.shape, x.dtype
        out = x.mean(axis=(1, 2), keepdims=self.keepdims)
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        dout = self._check_dout(dout)
        n, h, w, c = self._in_shape
        share = (dout.reshape(n, 1, 1, c) / (h * w)).astype(self._in_dtype, copy=False)
        return np.ascontiguousarray(np.broadcast_to(share, self._in_shape))


class DepthMaxPool(_Spatial):
    """Depth-wise max pooling: the largest of each group of k adjacent channels, (N, H, W, C) → (N, H, W, C/k).

    ``tf.nn.max_pool2d(x, ksize=(1, 1, 1, k), strides=(1, 1, 1, k), padding="VALID")`` (the lecture notes'
    TF-1 example); Keras has no layer for it.

    Parameters
    ----------
    pool_size : int
        k, the channels per group; it must divide the number of channels.
    """

    def __init__(self, pool_size=2, **kwargs):
        super().__init__(**_named(kwargs, "depth_max_pool"))
        if isinstance(pool_size, bool) or not isinstance(pool_size, numbers.Integral) or pool_size < 1:
            raise ValueError(f"{self._where}: pool_size must be a positive int, got {pool_size!r}")
        self.pool_size = int(pool_size)

    def __repr__(self):
        return f"<DepthMaxPool '{self.name}' pool_size={self.pool_size}>"

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise ValueError(
                f"{self._where}: expected a 4-D input shape (batch, height, width, channels), got {input_shape}"
            )
        c = input_shape[3]
        return (*input_shape[:3], None if c is None else c // self.pool_size)

    def forward(self, x, training=False):
        x = self._prepare(x)
        n, h, w, c = x.shape
        k = self.pool_size
        if c % k:
            raise ValueError(
                f"{self._where}: the {c} channels of the input (shape {x.shape}, NHWC) are not a multiple of "
                f"pool_size = {k}"
            )
        groups = x.reshape(n, h, w, c // k, k)
        self._argmax, self._in_dtype = groups.argmax(axis=4), x.dtype
        out = np.take_along_axis(groups, self._argmax[..., None], axis=4)[..., 0]
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        dout = self._check_dout(dout)
        return _depth_backward(self._argmax, dout, self.pool_size, self._in_dtype)
