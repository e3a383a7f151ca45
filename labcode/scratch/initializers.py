"""Weight initialisers (权重初始化), under Keras' names and definitions.

A weight W of shape (n_in, n_out) (a convolution kernel (kh, kw, c_in, c_out):
n_in = kh·kw·c_in, n_out = kh·kw·c_out) is drawn with a variance chosen so
that signals keep their scale from layer to layer:

==================  ==============  =====================================
Keras name          distribution    variance Var(W)
==================  ==============  =====================================
``glorot_uniform``  U(−r, r)        2 / (n_in + n_out)   (r = √(6/(n_in+n_out)))
``glorot_normal``   truncated N     2 / (n_in + n_out)
``he_uniform``      U(−r, r)        2 / n_in             (r = √(6/n_in))
``he_normal``       truncated N     2 / n_in
``lecun_uniform``   U(−r, r)        1 / n_in             (r = √(3/n_in))
``lecun_normal``    truncated N     1 / n_in
==================  ==============  =====================================

"Truncated N" is Keras' truncated normal: N(0, σ²) with the draws beyond 2σ
drawn again, and σ = √Var / 0.8796… so that the *truncated* distribution has
the variance in the table (truncation at 2σ shrinks the standard deviation by
0.87962566). All of them are :class:`VarianceScaling` with a ``scale``, a
``mode`` (fan_in, fan_out or fan_avg) and a ``distribution``.

The older table of the lecture notes, by activation function, is
:func:`init_table` (and the initialiser :class:`TableInitializer`).

Every random initialiser takes ``seed``: an int (the same values at every
call, like a seeded Keras initialiser), a ``numpy.random.Generator`` (its
stream continues), or None (NumPy's global state, which :func:`labcode.seed`
seeds).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "SmallRandom",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
    "TableInitializer", "compute_fans", "init_table", "get", "INIT_TABLE",
]

_TRUNCATION_STD = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2]


def compute_fans(shape) -> tuple[int, int]:
    """(n_in, n_out) of a weight shape, by Keras' rule.

    Parameters
    ----------
    shape : tuple of int
        (n_in, n_out) for a dense kernel; (…, c_in, c_out) for a convolution
        kernel, whose receptive field (the product of the leading axes)
        multiplies both fans; a 1-D shape (n,) gives n_in = n_out = n.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _dtype(dtype) -> np.dtype:
    return np.dtype(np.float32 if dtype is None else dtype)


def _check_seed(seed, where):
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"{where}: seed must be a non-negative int, a numpy.random.Generator or None, got {seed!r}")
    return int(seed)


class Initializer:
    """Base class: ``init(shape, dtype=None)`` → a new array (float32 by default, like Keras)."""

    def __call__(self, shape, dtype=None) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def get_config(self) -> dict:
        return {}


class _Random(Initializer):
    def __init__(self, seed=None):
        self.seed = _check_seed(seed, type(self).__name__)

    def get_config(self) -> dict:
        return {"seed": self.seed}

    def _rng(self):
        """A Generator, or the ``numpy.random`` module (its global state) when unseeded."""
        if self.seed is None:
            return np.random
        if isinstance(self.seed, np.random.Generator):
            return self.seed
        return np.random.default_rng(self.seed)

    def _standard_normal(self, shape) -> np.ndarray:
        return self._rng().standard_normal(shape)

    def _truncated_standard_normal(self, shape) -> np.ndarray:
        """N(0, 1) draws, each one beyond ±2 drawn again (like ``tf.random.truncated_normal``)."""
        rng = self._rng()
        z = rng.standard_normal(shape)
        bad = np.abs(z) > 2.0
        while bad.any():
            z[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(z) > 2.0
        return z

    def _uniform(self, low, high, shape) -> np.ndarray:
        return self._rng().uniform(low, high, shape)


class Zeros(Initializer):
    """All zeros (Keras' default for biases)."""

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=_dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=_dtype(dtype))


class Constant(Initializer):
    """Every entry ``value``."""

    def __init__(self, value=0.0):
        self.value = float(value)

    def get_config(self):
        return {"value": self.value}

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=_dtype(dtype))


class RandomNormal(_Random):
    """N(mean, stddev²) (Keras' defaults: mean 0, stddev 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}

    def __call__(self, shape, dtype=None):
        return (self.mean + self.stddev * self._standard_normal(shape)).astype(_dtype(dtype))


class TruncatedNormal(RandomNormal):
    """N(mean, stddev²) with the draws farther than 2·stddev from the mean drawn again."""

    def __call__(self, shape, dtype=None):
        return (self.mean + self.stddev * self._truncated_standard_normal(shape)).astype(_dtype(dtype))


class RandomUniform(_Random):
    """U(minval, maxval) (Keras' defaults: ±0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}

    def __call__(self, shape, dtype=None):
        return self._uniform(self.minval, self.maxval, shape).astype(_dtype(dtype))


class SmallRandom(_Random):
    """Small random numbers: ``scale`` · N(0, 1), the classic ``0.01 * np.random.randn(n_in, n_out)``.

    Fine for small networks; in deep ones the signal shrinks by the factor
    scale·√n_in at each layer (the problem Glorot and He initialisation fix).
    """

    def __init__(self, scale=0.01, seed=None):
        super().__init__(seed)
        self.scale = float(scale)

    def get_config(self):
        return {"scale": self.scale, **super().get_config()}

    def __call__(self, shape, dtype=None):
        return (self.scale * self._standard_normal(shape)).astype(_dtype(dtype))


class VarianceScaling(_Random):
    """Draws with variance ``scale / n``, n the fan given by ``mode`` (Keras' ``VarianceScaling``).

    Parameters
    ----------
    scale : float
        s in Var(W) = s / n.
    mode : {"fan_in", "fan_out", "fan_avg"}
        n = n_in, n_out or (n_in + n_out) / 2.
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}
        Truncated normal (σ = √(s/n) / 0.8796…), normal (σ = √(s/n)), or
        U(−r, r) with r = √(3s/n).
    seed : int, numpy.random.Generator or None
    """

    _modes = ("fan_in", "fan_out", "fan_avg")
    _distributions = ("truncated_normal", "untruncated_normal", "normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if not scale > 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale!r}")
        if mode not in self._modes:
            raise ValueError(f"VarianceScaling: mode must be one of {self._modes}, got {mode!r}")
        if distribution not in self._distributions:
            raise ValueError(
                f"VarianceScaling: distribution must be one of {self._distributions}, got {distribution!r}"
            )
        self.scale, self.mode = float(scale), mode
        self.distribution = "untruncated_normal" if distribution == "normal" else distribution

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}

    def variance(self, shape) -> float:
        """The variance s / n of the draws for ``shape``."""
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, n)

    def __call__(self, shape, dtype=None):
        var = self.variance(shape)
        if self.distribution == "truncated_normal":
            w = (math.sqrt(var) / _TRUNCATION_STD) * self._truncated_standard_normal(shape)
        elif self.distribution == "untruncated_normal":
            w = math.sqrt(var) * self._standard_normal(shape)
        else:
            limit = math.sqrt(3.0 * var)
            w = self._uniform(-limit, limit, shape)
        return w.astype(_dtype(dtype))


class GlorotUniform(VarianceScaling):
    """Glorot/Xavier uniform: U(−r, r), r = √(6 / (n_in + n_out)) (Keras' default kernel initialiser)."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    """Glorot/Xavier normal: truncated normal with variance 2 / (n_in + n_out)."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    """He uniform: U(−r, r), r = √(6 / n_in) (for ReLU)."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    """He normal: truncated normal with variance 2 / n_in (for ReLU)."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    """LeCun uniform: U(−r, r), r = √(3 / n_in) (for SELU)."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    """LeCun normal: truncated normal with variance 1 / n_in (for SELU)."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


# ---------------------------------------------------------------------------
# The lecture notes' table, by activation function
# ---------------------------------------------------------------------------

#: The multiplier of the logistic row in the lecture notes' table, by activation.
INIT_TABLE = {"logistic": 1.0, "tanh": 4.0, "relu": math.sqrt(2.0)}
_TABLE_ALIASES = {"sigmoid": "logistic", "logistic": "logistic", "tanh": "tanh", "relu": "relu",
                  "leaky_relu": "relu", "elu": "relu", "prelu": "relu", "rrelu": "relu"}


def init_table(activation: str, fan_in: int, fan_out: int) -> dict[str, float]:
    """The lecture notes' initialisation table: r of U(−r, r) and σ of N(0, σ²) for an activation.

    ==========  ============================  ============================
    activation  uniform, r =                  normal, σ =
    ==========  ============================  ============================
    logistic    √(6 / (n_in + n_out))         √(2 / (n_in + n_out))
    tanh        4 √(6 / (n_in + n_out))       4 √(2 / (n_in + n_out))
    ReLU        √2 √(6 / (n_in + n_out))      √2 √(2 / (n_in + n_out))
    ==========  ============================  ============================

    The logistic row is Glorot & Bengio (2010). The factor 4 of the tanh row
    is as the table has it; Glorot & Bengio's argument (the logistic's slope
    at 0 is 1/4, tanh's is 1) puts the 4 on the logistic row instead, relative
    to tanh. Keras' ``glorot_*`` use the logistic row for every activation, and
    ``he_*`` use n_in alone (Var = 2 / n_in) rather than the √2 row.

    Parameters
    ----------
    activation : str
        "logistic" (or "sigmoid"), "tanh", or "relu" (and its variants "leaky_relu", "elu", "prelu", "rrelu").
    fan_in, fan_out : int
        n_in and n_out.

    Returns
    -------
    dict
        ``{"r": r, "sigma": σ}``.
    """
    key = _TABLE_ALIASES.get(str(activation).lower())
    if key is None:
        raise ValueError(f"init_table: unknown activation {activation!r}; known: {sorted(_TABLE_ALIASES)}")
    for name, n in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"init_table: {name} must be a positive int, got {n!r}")
    k = INIT_TABLE[key]
    return {"r": k * math.sqrt(6.0 / (fan_in + fan_out)), "sigma": k * math.sqrt(2.0 / (fan_in + fan_out))}


class TableInitializer(_Random):
    """Draws by :func:`init_table`: U(−r, r) or N(0, σ²) (untruncated) for ``activation``.

    Parameters
    ----------
    activation : str
        A row of the table: "logistic", "tanh" or "relu".
    distribution : {"uniform", "normal"}
    seed : int, numpy.random.Generator or None
    """

    def __init__(self, activation="logistic", distribution="uniform", seed=None):
        super().__init__(seed)
        init_table(activation, 1, 1)  # validates the name
        if distribution not in ("uniform", "normal"):
            raise ValueError(f"TableInitializer: distribution must be 'uniform' or 'normal', got {distribution!r}")
        self.activation, self.distribution = activation, distribution

    def get_config(self):
        return {"activation": self.activation, "distribution": self.distribution, **super().get_config()}

    def __call__(self, shape, dtype=None):
        row = init_table(self.activation, *compute_fans(shape))
        if self.distribution == "uniform":
            w = self._uniform(-row["r"], row["r"], shape)
        else:
            w = row["sigma"] * self._standard_normal(shape)
        return w.astype(_dtype(dtype))


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "small_random": SmallRandom,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}


def get(identifier) -> Initializer:
    """An initialiser from a name (``"he_normal"``, Keras' class name ``"HeNormal"`` too) or an instance.

    A callable ``f(shape, dtype=None)`` is accepted as it is.
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        key = _snake_name(identifier)
        if key not in _BY_NAME:
            raise ValueError(f"unknown initializer {identifier!r}; known: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key]()
    if callable(identifier):
        return identifier
    raise TypeError(f"expected an initializer name, an Initializer or a callable, got {type(identifier).__name__}")


def _snake_name(name: str) -> str:
    if name in _BY_NAME:
        return name
    for key, cls in _BY_NAME.items():
        if cls.__name__.lower() == name.lower():
            return key
    return name.lower()
