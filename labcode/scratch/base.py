"""The layer protocol every scratch layer follows.

A layer is a function with parameters. Its ``forward(x, training=False)``
computes the output and caches what the backward pass needs; its
``backward(dout)`` receives ∂L/∂out, returns ∂L/∂x and fills
``grads`` with ∂L/∂θ for each parameter θ in ``params``. Parameters and
gradients are plain NumPy arrays in dicts, named and ordered like Keras'
weights (``kernel``, ``bias``; PReLU's ``alpha``), so weights copy to and from
Keras by position (:meth:`Layer.get_weights`, :meth:`Layer.set_weights`).

Like Keras, a layer is *built* on its first batch: ``Dense(units)`` learns its
number of input features there, and creates its parameters in the dtype of that
batch (float64 for gradient checks, float32 for speed). The parameter arrays
are created once and then only updated in place (``p[...] = …``, ``p -= …``):
optimisers keep their per-parameter state (momentum, Adam's moments) keyed by
the array.
"""

from __future__ import annotations

import copy
import itertools
import re

import numpy as np

from labcode.scratch import initializers

__all__ = ["Layer", "as_batch"]

_name_counters: dict[str, itertools.count] = {}


def _snake(name: str) -> str:
    """``"LeakyReLU"`` → ``"leaky_re_lu"``, like Keras' automatic layer names."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """``dense``, then ``dense_1``, ``dense_2`` …, like Keras."""
    n = next(_name_counters.setdefault(prefix, itertools.count()))
    return prefix if n == 0 else f"{prefix}_{n}"


def as_batch(x, where: str) -> np.ndarray:
    """``x`` as a floating-point array with a batch axis (integers and booleans become float32).

    Parameters
    ----------
    x : array_like
        A batch, samples along the first axis.
    where : str
        Who asks, for the error message (e.g. ``"Dense 'dense'"``).
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{where}: expected a batch of numbers (a NumPy array), got {type(x).__name__} {x!r}")
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
            arr = arr.astype(np.float32)  # Keras' floatx
        else:
            raise TypeError(f"{where}: expected real numbers, got an array of dtype {arr.dtype}")
    elif arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)  # float16 / longdouble
    if arr.ndim == 0:
        raise ValueError(f"{where}: expected a batch with samples along the first axis, got a scalar")
    return arr


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


class Layer:
    """Base class of the scratch layers.

    Parameters
    ----------
    name : str, optional
        Defaults to the class name in snake case, numbered like Keras' (``dense``, ``dense_1`` …).
    trainable : bool
        Whether an optimiser should update the parameters; a frozen layer still
        back-propagates ∂L/∂x but skips its parameter gradients.
    dtype : str or numpy.dtype, optional
        float32 or float64; by default, the dtype of the first batch.

    Attributes
    ----------
    params : dict[str, numpy.ndarray]
        The parameters θ by Keras' weight names, in Keras' order.
    grads : dict[str, numpy.ndarray]
        ∂L/∂θ for each parameter, same keys and shapes, overwritten (not
        accumulated) by every ``backward``.
    built : bool
        Whether the parameters exist (after the first ``forward`` or ``build``).
    input_shape : tuple
        The input shape the layer was built for, batch axis as ``None``.

    Notes
    -----
    A subclass writes ``build(input_shape)`` (creating parameters with
    :meth:`add_weight`), ``forward`` (beginning with ``x = self._prepare(x)``)
    and ``backward`` (beginning with ``self._check_dout(dout)``). Layers that
    draw random numbers in training (RReLU, dropout) set ``stochastic = True``
    and draw from :meth:`_uniform`, which :meth:`reseed` can make repeat: a
    gradient check reseeds before every forward pass, so each pass draws the
    same noise.
    """

    stochastic = False
    input_ndim: int | None = None  # required number of axes, batch included (None: any)
    #: When False, ``backward`` may skip ∂L/∂x and return None: a model sets it on its
    #: first layer while training (nothing needs the gradient of the data), as Keras does.
    need_input_gradient = True

    def __init__(self, *, name: str | None = None, trainable: bool = True, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string, got {type(name).__name__}")
        self.name = name if name else unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.dtype = None if dtype is None else _check_dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.built = False
        self.input_shape: tuple | None = None
        self._out_shape: tuple | None = None  # shape of the last forward's output
        self._rng: np.random.Generator | None = None
        self._non_trainable: set[str] = set()  # parameters no optimiser updates (BatchNormalization's moving stats)
        #: Weight penalties by parameter name (``{"kernel": L2(0.01)}``); see :mod:`labcode.scratch.regularizers`.
        self.regularizers: dict = {}
        self._batch_size: int | None = None  # samples in the last forward's batch (m, for the course's penalties)

    # -- description -----------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self.name}'>"

    @property
    def _where(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    # -- building ----------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the parameters for inputs of ``input_shape`` (batch axis first, any value).

        Called by the first ``forward``; call it yourself to create the
        parameters before any data (they are then float32 unless the layer
        was given a dtype).
        """
        if self.dtype is None:
            self.dtype = np.dtype(np.float32)
        self.input_shape = (None, *tuple(input_shape)[1:])
        self.built = True

    def add_weight(self, name: str, shape, initializer, trainable: bool = True) -> np.ndarray:
        """Create the parameter ``name`` of ``shape`` with ``initializer`` and its zero gradient.

        ``trainable=False`` makes a state that the layer updates itself and no
        optimiser touches (BatchNormalization's moving statistics); it still
        belongs to ``weights``, so it copies with ``get_weights`` / ``set_weights``.
        """
        init = initializers.get(initializer)
        value = np.ascontiguousarray(init(tuple(shape), dtype=self.dtype), dtype=self.dtype)
        if value.shape != tuple(shape):
            raise ValueError(f"{self._where}: initializer {init!r} returned shape {value.shape}, expected {shape}")
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)
        if not trainable:
            self._non_trainable.add(name)
        return value

    def compute_output_shape(self, input_shape) -> tuple:
        """The output shape for an input shape (the same, for element-wise layers)."""
        return tuple(input_shape)

    # -- calling -----------------------------------------------------------------------------
    def __call__(self, x, training: bool = False) -> np.ndarray:
        return self.forward(x, training=training)

    def forward(self, x, training: bool = False) -> np.ndarray:
        """The output for the batch ``x``; caches what ``backward`` needs.

        Parameters
        ----------
        x : numpy.ndarray
            The input batch x, samples along the first axis.
        training : bool
            Training mode (stochastic layers draw their noise only then).
        """
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, dout) -> np.ndarray:
        """∂L/∂x for the last ``forward``, given ``dout`` = ∂L/∂out; fills ``grads``.

        Parameters
        ----------
        dout : numpy.ndarray
            ∂L/∂out, the shape of the last output.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def _prepare(self, x) -> np.ndarray:
        """Check the batch ``x``, build the layer on its first batch, and cast ``x`` to the parameters' dtype."""
        x = as_batch(x, self._where)
        self._batch_size = len(x)
        if self.input_ndim is not None and x.ndim != self.input_ndim:
            axes = "(batch, features)" if self.input_ndim == 2 else f"{self.input_ndim} axes, batch first"
            hint = "; put a Flatten layer before it" if self.input_ndim == 2 and x.ndim > 2 else ""
            raise ValueError(f"{self._where}: expected a {self.input_ndim}-D input {axes}, got shape {x.shape}{hint}")
        if not self.built:
            if self.dtype is None:
                self.dtype = x.dtype
            self.build(x.shape)
        elif self.params:
            self._check_input_shape(x)
        if self.params and x.dtype != self.dtype:
            x = x.astype(self.dtype)  # like Keras' autocasting to the layer's dtype
        return x

    def _check_input_shape(self, x: np.ndarray) -> None:
        """Refuse a batch whose shape does not fit the parameters built for ``input_shape``."""
        if x.shape[1:] != tuple(self.input_shape[1:]):
            raise ValueError(
                f"{self._where}: was built for inputs of shape {self.input_shape} "
                f"(on its first batch), got shape {x.shape}"
            )

    def _check_dout(self, dout) -> np.ndarray:
        """Check that a forward pass came first and that ``dout`` has the output's shape."""
        if self._out_shape is None:
            raise RuntimeError(f"{self._where}: backward() called before forward(); run forward(x) first")
        dout = np.asarray(dout)
        if dout.shape != self._out_shape:
            raise ValueError(
                f"{self._where}: dout must have the shape of the last output {self._out_shape}, got {dout.shape}"
            )
        return dout

    # -- randomness --------------------------------------------------------------------------
    def reseed(self, seed=None) -> None:
        """Draw this layer's noise from ``numpy.random.default_rng(seed)`` from now on.

        ``seed`` may be an int, a Generator, or None (back to NumPy's global
        state, which :func:`labcode.seed` seeds).
        """
        if seed is None or isinstance(seed, np.random.Generator):
            self._rng = seed
        else:
            self._rng = np.random.default_rng(seed)

    def _uniform(self, low: float, high: float, shape, dtype) -> np.ndarray:
        """U(low, high) samples of ``shape`` in ``dtype``, from this layer's generator or NumPy's global state."""
        if self._rng is None:
            u = np.random.random_sample(shape).astype(dtype, copy=False)
        else:
            u = self._rng.random(shape, dtype=dtype)
        u *= high - low
        u += low
        return u

    # -- parameters --------------------------------------------------------------------------
    @property
    def weights(self) -> list[np.ndarray]:
        """All parameters, in Keras' order."""
        return list(self.params.values())

    def _trainable_names(self) -> list[str]:
        return [k for k in self.params if k not in self._non_trainable] if self.trainable else []

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The parameters an optimiser updates ([] when frozen)."""
        return [self.params[k] for k in self._trainable_names()]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The parameters no optimiser updates: all when frozen, else the layer's own state (moving statistics)."""
        names = set(self._trainable_names())
        return [p for k, p in self.params.items() if k not in names]

    def parameters(self) -> list[np.ndarray]:
        """Same as ``trainable_weights``."""
        return self.trainable_weights

    def gradients(self) -> list[np.ndarray]:
        """∂L/∂θ from the last ``backward``, matching ``trainable_weights``."""
        return [self.grads[k] for k in self._trainable_names()]

    def grads_and_vars(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(gradient, parameter)`` pairs, for ``optimizer.apply_gradients``."""
        return list(zip(self.gradients(), self.trainable_weights, strict=True))

    # -- weight penalties (regularisation) ---------------------------------------------------
    def _penalised(self):
        return [(k, self.regularizers[k]) for k in self._trainable_names() if self.regularizers.get(k) is not None]

    def regularization_loss(self, batch_size: int | None = None) -> float:
        """Σ of the weight penalties Ω(θ) of the trainable parameters (0 when frozen, like Keras).

        Parameters
        ----------
        batch_size : int, optional
            m, for penalties in the course's convention (λ/(2m)·‖W‖²); by
            default the size of the last batch seen.
        """
        m = self._batch_size if batch_size is None else batch_size
        return float(sum(reg(self.params[k], batch_size=m) for k, reg in self._penalised()))

    def add_regularization_gradients(self, batch_size: int | None = None) -> None:
        """Add ∂Ω/∂θ to ``grads`` (after ``backward``), for each penalised trainable parameter θ."""
        m = self._batch_size if batch_size is None else batch_size
        for k, reg in self._penalised():
            self.grads[k] += reg.gradient(self.params[k], batch_size=m)

    @property
    def losses(self) -> list[float]:
        """The weight penalties, one per penalised parameter, like Keras' ``layer.losses``."""
        return [float(reg(self.params[k], batch_size=self._batch_size)) for k, reg in self._penalised()]

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameters, in Keras' order (``keras_layer.set_weights`` takes them)."""
        return [p.copy() for p in self.params.values()]

    def set_weights(self, weights) -> None:
        """Copy ``weights`` (e.g. ``keras_layer.get_weights()``) into the parameters, in place."""
        weights = list(weights)
        if not self.built and weights:
            raise ValueError(f"{self._where}: not built yet; call it on a batch (or build(input_shape)) first")
        if len(weights) != len(self.params):
            raise ValueError(
                f"{self._where}: expected {len(self.params)} arrays ({', '.join(self.params) or 'none'}), "
                f"got {len(weights)}"
            )
        for (name, p), w in zip(self.params.items(), weights, strict=True):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(f"{self._where}: {name} has shape {p.shape}, got an array of shape {w.shape}")
            p[...] = w

    def copy_unbuilt(self) -> Layer:
        """A fresh copy with the same configuration and no parameters (for reuse as an activation)."""
        new = copy.copy(self)
        new.params, new.grads, new._non_trainable = {}, {}, set()
        new.regularizers = dict(self.regularizers)
        new.built, new.input_shape, new._out_shape = False, None, None
        return new

