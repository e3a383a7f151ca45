"""Keras layers the classic CNNs need and Keras does not ship.

- :class:`LocalResponseNormalization` — bᶜ = aᶜ / (k + α Σ_{c′ = c−r}^{c+r} (aᶜ′)²)^β over channels
  (AlexNet, GoogLeNet);
- :class:`SubSampling2D` — f(w_c · mean of each window + b_c), a trainable (w_c, b_c) per map (LeNet-5's S2, S4);
- :class:`PartialConv2D` — a convolution in which output map j sees only the input maps its connection
  table allows (LeNet-5's C3, :data:`LENET5_C3_TABLE`);
- :class:`RBF` — yᵢ = −Σⱼ (xⱼ − wᵢⱼ)², minus the squared distance to each class's code (LeNet-5's output);
- :func:`lecun_tanh` — 1.7159 · tanh(2x/3), LeCun's scaled hyperbolic tangent (LeNet-5, 1998).

Each is registered with Keras (package ``labcode``), so models that use them save and load.
"""

from __future__ import annotations

import math
import numbers

import keras
import numpy as np
from keras import ops

__all__ = ["LocalResponseNormalization", "SubSampling2D", "PartialConv2D", "RBF", "lecun_tanh",
           "LENET5_C3_TABLE"]

_PACKAGE = "labcode"


@keras.saving.register_keras_serializable(package=_PACKAGE)
def lecun_tanh(x):
    """LeCun's scaled tanh, f(a) = A·tanh(S·a) with A = 1.7159, S = 2/3 (LeCun et al. 1998, appendix A).

    The constants make f(±1) = ±1 and keep the second derivative largest at ±1,
    the targets of LeNet-5's output codes.
    """
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


def _positive_int(value, what, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: {what} must be a positive int, got {value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalisation across channels (AlexNet, §3.3), ``tf.nn.local_response_normalization``.

    b^c = a^c / (k + α Σ_{c' = c−r}^{c+r} (a^{c'})²)^β, summed over the n = 2r + 1
    neighbouring channels at the same pixel.

    Parameters
    ----------
    depth_radius : int
        r; the paper's n = 2r + 1 = 5 is r = 2.
    bias : float
        k (AlexNet: 2).
    alpha : float
        α, multiplying the *sum* of squares, as in the AlexNet paper's formula
        and in TensorFlow. Caffe (and PyTorch's ``LocalResponseNorm``) divide
        their α by n: Caffe's ``alpha: 1e-4, local_size: 5`` is α = 2e-5 here.
    beta : float
        β (AlexNet: 0.75).

    Notes
    -----
    float16/float32 inputs go to ``tf.nn.local_response_normalization``, which
    has no float64 kernel; other dtypes use the same formula in ``keras.ops``.
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        where = f"LocalResponseNormalization '{self.name}'"
        if isinstance(depth_radius, bool) or not isinstance(depth_radius, numbers.Integral) or depth_radius < 0:
            raise ValueError(f"{where}: depth_radius must be a non-negative int, got {depth_radius!r}")
        for what, v in [("bias", bias), ("alpha", alpha), ("beta", beta)]:
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ValueError(f"{where}: {what} must be a finite number, got {v!r}")
        self.depth_radius, self.bias, self.alpha, self.beta = int(depth_radius), float(bias), float(alpha), float(beta)

    def call(self, x):
        if keras.backend.backend() == "tensorflow" and x.dtype in ("float16", "float32"):
            import tensorflow as tf

            return tf.nn.local_response_normalization(x, self.depth_radius, self.bias, self.alpha, self.beta)
        r = self.depth_radius
        sq = ops.pad(ops.square(x), [(0, 0), (0, 0), (0, 0), (r, r)])
        c = ops.shape(x)[-1]
        window = sum(sq[..., i:i + c] for i in range(2 * r + 1))
        return x / ops.power(self.bias + self.alpha * window, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SubSampling2D(keras.layers.Layer):
    """LeNet-5's sub-sampling layer: f(w_c · mean of each window + b_c), a trainable (w_c, b_c) per map.

    The paper adds the four inputs of each 2×2 window, multiplies by a
    trainable coefficient and adds a trainable bias, then applies the
    sigmoidal function: that is this layer with w_c = 4 × the paper's
    coefficient. 2·C parameters for C maps (S2: 12, S4: 32).

    Parameters
    ----------
    pool_size : int
        The window (and stride) p: non-overlapping p×p windows, VALID.
    activation : str or callable, optional
        f; LeNet-5 uses :func:`lecun_tanh`.
    coefficient_initializer, bias_initializer
        w starts at 1 (plain average pooling), b at 0.
    """

    def __init__(self, pool_size=2, activation=None, coefficient_initializer="ones", bias_initializer="zeros",
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _positive_int(pool_size, "pool_size", f"SubSampling2D '{self.name}'")
        self.activation = keras.activations.get(activation)
        self.coefficient_initializer = keras.initializers.get(coefficient_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        c = input_shape[-1]
        self.coefficient = self.add_weight(shape=(c,), initializer=self.coefficient_initializer, name="coefficient")
        self.bias = self.add_weight(shape=(c,), initializer=self.bias_initializer, name="bias")

    def call(self, x):
        p = self.pool_size
        pooled = ops.average_pool(x, pool_size=(p, p), strides=(p, p), padding="valid")
        return self.activation(pooled * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        p = self.pool_size
        return (n, None if h is None else h // p, None if w is None else w // p, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size,
                "activation": keras.activations.serialize(self.activation),
                "coefficient_initializer": keras.initializers.serialize(self.coefficient_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}


def _lenet5_c3_table() -> np.ndarray:
    """Table I of LeCun et al. (1998): which of S2's 6 maps (rows) each of C3's 16 maps (columns) sees."""
    table = np.zeros((6, 16), dtype=bool)
    for j in range(6):  # maps 0–5: three contiguous S2 maps
        table[[j, (j + 1) % 6, (j + 2) % 6], j] = True
    for j in range(6):  # maps 6–11: four contiguous
        table[[(j + k) % 6 for k in range(4)], 6 + j] = True
    for j, rows in enumerate([(0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5)]):  # maps 12–14: four, not contiguous
        table[list(rows), 12 + j] = True
    table[:, 15] = True  # map 15: all six
    return table


#: LeNet-5's C3 connection table (6 S2 maps × 16 C3 maps, 60 connections), Table I of the 1998 paper.
LENET5_C3_TABLE = _lenet5_c3_table()


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PartialConv2D(keras.layers.Layer):
    """A convolution with a connection table: output map j sums only over the input maps i with table[i, j].

    Only the connected 5×5 kernels exist as weights (kernel shape
    (f_h, f_w, connections)), so ``count_params`` counts what the paper
    counts: LeNet-5's C3 has 60 connections, 60·25 + 16 = 1,516 parameters
    (a full 6→16 convolution would have 2,416). The forward pass scatters them
    into a full (f_h, f_w, C_in, filters) kernel with zeros elsewhere.

    Parameters
    ----------
    filters : int
        The output maps; the table's columns.
    kernel_size : int
        f (square kernels).
    connections : array_like of bool, shape (C_in, filters)
        table[i, j]: whether output map j sees input map i (default: LeNet-5's
        :data:`LENET5_C3_TABLE`).
    padding : {"valid", "same"}
    activation : str or callable, optional
    kernel_initializer : optional
        Default: Glorot uniform with each map's own fans, ±√(6 / (f²·(n_in + n_out))),
        n_in and n_out the mean number of connections per output and per input map.
    """

    def __init__(self, filters=16, kernel_size=5, connections=None, padding="valid", activation=None,
                 kernel_initializer=None, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        where = f"PartialConv2D '{self.name}'"
        self.filters = _positive_int(filters, "filters", where)
        self.kernel_size = _positive_int(kernel_size, "kernel_size", where)
        table = LENET5_C3_TABLE if connections is None else np.asarray(connections)
        if table.ndim != 2 or table.shape[1] != self.filters:
            raise ValueError(f"{where}: connections must be a (input maps, {self.filters}) table, got shape "
                             f"{table.shape}")
        if not table.astype(bool).any(axis=0).all():
            raise ValueError(f"{where}: every output map needs at least one input map in connections")
        self.connections = table.astype(bool)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{where}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding.lower()
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = None if kernel_initializer is None else keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        c_in, table = input_shape[-1], self.connections
        if c_in != table.shape[0]:
            raise ValueError(f"PartialConv2D '{self.name}': its connection table has {table.shape[0]} rows, "
                             f"one per input map, but the input has {c_in} channels")
        rows, cols = np.nonzero(table)
        n = len(rows)
        # (connections, C_in · filters) one-hot: connection k goes to kernel[..., rows[k], cols[k]]
        scatter = np.zeros((n, table.size), dtype="float32")
        scatter[np.arange(n), rows * self.filters + cols] = 1
        self._scatter = scatter
        f = self.kernel_size
        init = self.kernel_initializer
        if init is None:
            fan_in, fan_out = f * f * n / self.filters, f * f * n / table.shape[0]
            limit = math.sqrt(6 / (fan_in + fan_out))
            init = keras.initializers.RandomUniform(-limit, limit)
        self.kernel = self.add_weight(shape=(f, f, n), initializer=init, name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer, name="bias")

    def full_kernel(self):
        """The (f, f, C_in, filters) kernel, zeros where the table has no connection."""
        f, (c_in, c_out) = self.kernel_size, self.connections.shape
        scatter = ops.cast(self._scatter, self.kernel.dtype)
        return ops.reshape(ops.matmul(self.kernel, scatter), (f, f, c_in, c_out))

    def call(self, x):
        z = ops.conv(x, self.full_kernel(), strides=1, padding=self.padding) + self.bias
        return self.activation(z)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        if self.padding == "valid":
            h, w = (None if d is None else d - self.kernel_size + 1 for d in (h, w))
        return (n, h, w, self.filters)

    def get_config(self):
        init = None if self.kernel_initializer is None else keras.initializers.serialize(self.kernel_initializer)
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "connections": self.connections.tolist(), "padding": self.padding,
                "activation": keras.activations.serialize(self.activation), "kernel_initializer": init,
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class RBF(keras.layers.Layer):
    """LeNet-5's output layer: Euclidean radial basis function units, yᵢ = −Σⱼ (xⱼ − wᵢⱼ)².

    The paper's RBF unit outputs the squared distance itself, a penalty to
    minimise; here it is negated so that the largest output is the nearest
    class code and a softmax (or ``from_logits=True`` loss) reads it as
    scores. Softmax cross-entropy on −distances is close to the paper's MAP
    criterion (which adds log(e^{−j} + Σᵢ e^{−yᵢ}) to the correct class's
    penalty).

    Parameters
    ----------
    units : int
        The classes.
    trainable_centers : bool
        The paper fixes the codes wᵢ by hand (stylised 7×12 bitmaps of the
        characters, ±1 per pixel) and does not train them; by default they
        are fixed here too, so they count as non-trainable parameters.
    seed : int
        Our stand-in for the hand-drawn bitmaps: random ±1 codes from this seed.
    """

    def __init__(self, units, trainable_centers=False, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.units = _positive_int(units, "units", f"RBF '{self.name}'")
        self.trainable_centers = bool(trainable_centers)
        self.seed = int(seed)

    def build(self, input_shape):
        d = input_shape[-1]
        codes = np.random.default_rng(self.seed).choice([-1.0, 1.0], size=(d, self.units))
        self.centers = self.add_weight(shape=(d, self.units), initializer=keras.initializers.Constant(codes),
                                       trainable=self.trainable_centers, name="centers")

    def call(self, x):
        # −‖x − wᵢ‖² = 2 x·wᵢ − ‖x‖² − ‖wᵢ‖²
        xx = ops.sum(ops.square(x), axis=-1, keepdims=True)
        ww = ops.sum(ops.square(self.centers), axis=0)
        return 2 * ops.matmul(x, self.centers) - xx - ww

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "trainable_centers": self.trainable_centers,
                "seed": self.seed}
