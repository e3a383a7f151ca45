"""Optimisers (优化器) that update NumPy parameters in place, with Keras 3's API.

``optimizer.apply_gradients(zip(grads, params))`` takes (gradient, parameter)
pairs of NumPy arrays, updates every parameter in place (``p -= …``) and then
adds one to ``optimizer.iterations``, exactly like
``keras.optimizers.Optimizer.apply_gradients``. The arguments, their defaults
and the update formulas are Keras 3's, so a scratch optimiser and its Keras
twin follow the same trajectory; where the lecture notes or the original
paper write a formula differently, the other form is an argument
(``momentum_form``, ``epsilon_placement``), documented with its math.

Notation: θ a parameter, g its gradient, η the learning rate at this step
(a float, or ``schedule(iterations)``), t = iterations + 1 the step number.
The per-parameter state (velocities, accumulators, moments: Keras calls them
optimizer variables, TensorFlow 1 called them slots) lives in the optimiser,
keyed by the parameter array, and can be read with :meth:`Optimizer.get_slot`.

In float64 the trajectories are Keras' to the last bit, with one caveat on
Keras' side: it rounds ``momentum``, ``beta_1`` and ``beta_2`` (in the bias
correction), Adagrad's ``initial_accumulator_value`` and, unless
``keras.config.set_floatx("float64")``, a float learning rate to float32, so
with 0.9 and 0.999 a float64 Keras run drifts from the exact formulas by
about 1e-5 (relative) over 100 Adam steps.

Speed. Each update is written with in-place ufuncs (``np.multiply(…, out=)``,
``+=``) into two scratch buffers the optimiser reuses, so a step allocates
no temporary arrays; the operations and their order are the formulas' (and
Keras'), so the rounding is the same as the one-line NumPy expressions.

Subnormal numbers. Where a gradient stays exactly 0 (the weights of a dead
ReLU unit), the state decays geometrically (Adam's m ← β₁·m, SGD's v ← μ·v) into the
subnormal range below ``np.finfo(dtype).tiny`` (1.2e-38 in float32), and
may stick there (rounding keeps the smallest subnormals from reaching 0).
CPUs compute with subnormals many times slower, enough to double a whole
training step. TensorFlow runs its kernels with the CPU's flush-to-zero
mode (a subnormal result becomes 0, so its state stalls at small normal
numbers instead); NumPy cannot, so every ``flush_subnormals_every`` steps
(default 100) the optimiser sets state entries with |x| < tiny to 0. The
numbers that change are below 1.2e-38 (float32) or 2.2e-308 (float64): the
parameters do not move measurably.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["Optimizer", "SGD", "Adagrad", "AdaGrad", "RMSprop", "Adam", "get"]


def _real(value, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite, got {value!r}")
    return value


def _in_unit_interval(value, name: str, where: str) -> float:
    """A hyperparameter such as momentum or β, checked to be in [0, 1)."""
    value = _real(value, name, where)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1), got {value!r}")
    return value


def _non_negative(value, name: str, where: str) -> float:
    value = _real(value, name, where)
    if value < 0.0:
        raise ValueError(f"{where}: {name} must be >= 0, got {value!r}")
    return value


def _choice(value, name: str, options: tuple[str, ...], where: str) -> str:
    if value not in options:
        raise ValueError(f"{where}: {name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


def _takes_no_argument(fn) -> bool:
    """Whether ``fn()`` is a valid call (a Keras-style learning-rate callable)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # no signature (some builtins): assume it takes the step
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in positional and p.default is p.empty]
    return not required and not any(p.kind == p.VAR_POSITIONAL for p in params)


class Optimizer:
    """Base class: the bookkeeping shared by every optimiser.

    Subclasses implement :meth:`update_step`, which updates one parameter
    in place given its gradient and the learning rate.

    Parameters
    ----------
    learning_rate : float or callable
        η > 0, or a schedule: a callable ``step → η`` (e.g. one of
        :mod:`labcode.scratch.schedules`, or a Keras schedule), called with
        ``iterations`` (0 at the first update). A callable taking no argument
        is called without one, as Keras does.
    name : str, optional
        Shown in error messages; the class name by default.

    Attributes
    ----------
    iterations : int
        The number of ``apply_gradients`` calls so far.
    flush_subnormals_every : int
        Every this many steps, state entries with |x| < ``np.finfo(dtype).tiny``
        (subnormal numbers, slow on CPUs) are set to 0, as TensorFlow's
        flush-to-zero does; 0 never flushes. See the module's notes.
    """

    flush_subnormals_every = 100

    def __init__(self, learning_rate: float | Callable = 0.001, name: str | None = None):
        self.name = name or type(self).__name__
        self.iterations = 0
        self.learning_rate = learning_rate
        self._slots: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        self._buffers: dict[tuple[np.dtype, int], np.ndarray] = {}

    # ------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float:
        """η at the current step: the float, or the schedule at ``iterations``."""
        if self._schedule is None:
            return self._learning_rate
        lr = self._schedule() if self._schedule_takes_no_step else self._schedule(self.iterations)
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            raise TypeError(
                f"{self.name}: the learning-rate schedule must return a number, got {type(lr).__name__} {lr!r}"
            ) from None
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(
                f"{self.name}: the learning-rate schedule returned {lr!r} at step {self.iterations}; "
                "a learning rate must be finite and > 0"
            )
        return lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if callable(value):
            self._schedule, self._learning_rate = value, None
            self._schedule_takes_no_step = _takes_no_argument(value)
            return
        value = _real(value, "learning_rate", self.name)
        if value <= 0:
            raise ValueError(f"{self.name}: learning_rate must be > 0, got {value!r}")
        self._schedule, self._learning_rate = None, value

    # -------------------------------------------------------------- state
    def _state(self, param: np.ndarray) -> dict[str, np.ndarray]:
        """The state of ``param``, created by :meth:`build_state` on first use.

        Keyed by ``id(param)``; the entry keeps a reference to the array, so
        its id cannot be reused by another array while the optimiser lives.
        """
        entry = self._slots.get(id(param))
        if entry is None:
            entry = (param, self.build_state(param))
            self._slots[id(param)] = entry
        return entry[1]

    def build_state(self, param: np.ndarray) -> dict[str, np.ndarray]:
        """New state arrays for ``param`` (none for plain gradient descent)."""
        return {}

    def _buffer(self, like: np.ndarray, i: int = 0) -> np.ndarray:
        """Scratch array ``i`` with the shape and dtype of ``like``, reused across steps (contents undefined).

        One flat buffer per (dtype, i), grown to the largest parameter; views of
        it hold an update's intermediate results instead of new temporaries.
        """
        key = (like.dtype, i)
        flat = self._buffers.get(key)
        if flat is None or flat.size < like.size:
            flat = self._buffers[key] = np.empty(like.size, dtype=like.dtype)
        return flat[:like.size].reshape(like.shape)

    def _flush_subnormals(self) -> None:
        """Set every state entry with |x| < ``np.finfo(dtype).tiny`` to 0 (subnormals and −0)."""
        for _, state in self._slots.values():
            for s in state.values():
                if not (isinstance(s, np.ndarray) and s.dtype.kind == "f"):
                    continue  # a subclass's own state of another kind
                a = self._buffer(s)
                np.abs(s, out=a)
                np.copyto(s, 0, where=a < np.finfo(s.dtype).tiny)

    def get_slot(self, param: np.ndarray, name: str) -> np.ndarray:
        """The state array ``name`` (e.g. ``"momentum"``, ``"velocity"``) kept for ``param``."""
        entry = self._slots.get(id(param))
        if entry is None or entry[0] is not param:
            raise ValueError(f"{self.name}.get_slot: this parameter has not been updated by this optimizer yet")
        if name not in entry[1]:
            raise ValueError(f"{self.name}.get_slot: no slot {name!r}; this optimizer keeps {sorted(entry[1])}")
        return entry[1][name]

    # ------------------------------------------------------------ updates
    def _check_pair(self, i: int, pair) -> tuple[np.ndarray, np.ndarray] | None:
        where = f"{self.name}.apply_gradients"
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise ValueError(
                f"{where}: expected (gradient, parameter) pairs, e.g. zip(grads, params); item {i} is {pair!r}"
            )
        grad, param = pair
        if not isinstance(param, np.ndarray):
            raise TypeError(
                f"{where}: parameter {i} must be a NumPy array (it is updated in place), got {type(param).__name__}"
            )
        if not np.issubdtype(param.dtype, np.floating):
            raise ValueError(
                f"{where}: parameter {i} must be a float array to be updated in place, got dtype {param.dtype}; "
                "convert it with param.astype(np.float64) (or float32) first"
            )
        if not param.flags.writeable:
            raise ValueError(f"{where}: parameter {i} is read-only and cannot be updated in place")
        if grad is None:  # like Keras: a parameter without a gradient is left alone
            return None
        grad = np.asarray(grad)
        if not (np.issubdtype(grad.dtype, np.floating) or np.issubdtype(grad.dtype, np.integer)):
            raise TypeError(f"{where}: gradient {i} must be numeric, got dtype {grad.dtype}")
        if grad.shape != param.shape:
            raise ValueError(
                f"{where}: gradient {i} has shape {grad.shape} but its parameter has shape {param.shape}; "
                "they must match"
            )
        return grad.astype(param.dtype, copy=False), param

    def apply_gradients(self, grads_and_vars: Iterable) -> int:
        """Update each parameter in place from its gradient, then count one step.

        Parameters
        ----------
        grads_and_vars : iterable of (numpy.ndarray, numpy.ndarray)
            (g, θ) pairs, e.g. ``zip(grads, params)``; θ is a float array,
            g an array of the same shape (or ``None`` to skip θ).

        Returns
        -------
        int
            ``iterations`` after the update.
        """
        pairs = [self._check_pair(i, pair) for i, pair in enumerate(grads_and_vars)]
        pairs = [pair for pair in pairs if pair is not None]
        if not pairs:
            raise ValueError(f"{self.name}.apply_gradients: no gradients provided for any parameter")
        seen = set()
        for _, param in pairs:
            if id(param) in seen:
                raise ValueError(f"{self.name}.apply_gradients: the same parameter array appears twice")
            seen.add(id(param))
        lr = self.learning_rate
        for grad, param in pairs:
            self.update_step(grad, param, lr)
        self.iterations += 1
        every = self.flush_subnormals_every
        if every and self.iterations % every == 0:
            self._flush_subnormals()
        return self.iterations

    def apply(self, grads, params) -> int:
        """``apply_gradients(zip(grads, params))``, with a length check (Keras 3's ``apply``)."""
        grads, params = list(grads), list(params)
        if len(grads) != len(params):
            raise ValueError(f"{self.name}.apply: got {len(grads)} gradients for {len(params)} parameters")
        return self.apply_gradients(zip(grads, params, strict=True))

    def update_step(self, grad: np.ndarray, param: np.ndarray, lr: float) -> None:
        """Update ``param`` in place (to be overridden)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The hyperparameters, like Keras' ``get_config()``."""
        lr = self._schedule if self._schedule is not None else self._learning_rate
        return {"name": self.name, "learning_rate": lr}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent, with momentum and Nesterov momentum.

    ``momentum_form="keras"`` (the default; Keras, Sutskever et al. 2013),
    velocity v₀ = 0:

        μ = 0:      θ ← θ − η·g
        momentum:   v ← μ·v − η·g;   θ ← θ + v
        Nesterov:   v ← μ·v − η·g;   θ ← θ + μ·v − η·g

    ``momentum_form="ewa"`` (the course's form: v is an exponentially
    weighted average of the gradients, β = ``momentum``):

        momentum:   v ← β·v + (1 − β)·g;   θ ← θ − η·v
        Nesterov:   v ← β·v + (1 − β)·g;   θ ← θ − η·(β·v + (1 − β)·g)

    With a constant learning rate the two forms give the same trajectory
    when η_keras = (1 − β)·η_ewa. With a schedule they differ: Keras' v
    keeps the learning rates it was built with, the EWA form applies the
    current η to the whole average. TensorFlow 1's ``MomentumOptimizer``
    and PyTorch's SGD sum instead of averaging (v ← μ·v + g; θ ← θ − η·v,
    Nesterov θ ← θ − η·(g + μ·v)): that is the EWA form with η_ewa = η / (1 − μ).

    Parameters
    ----------
    learning_rate : float or callable
        η > 0, or a schedule ``step → η``.
    momentum : float
        μ (or β) ∈ [0, 1); 0 is plain gradient descent.
    nesterov : bool
        Use Nesterov's accelerated gradient.
    momentum_form : {"keras", "ewa"}
        Which momentum formula, as above.
    name : str, optional
        Shown in error messages.
    """

    def __init__(
        self,
        learning_rate: float | Callable = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        momentum_form: str = "keras",
        name: str | None = None,
    ):
        super().__init__(learning_rate, name)
        self.momentum = _in_unit_interval(momentum, "momentum", self.name)
        self.nesterov = bool(nesterov)
        self.momentum_form = _choice(momentum_form, "momentum_form", ("keras", "ewa"), self.name)

    def build_state(self, param):
        return {"momentum": np.zeros_like(param)} if self.momentum != 0 else {}

    def update_step(self, grad, param, lr):
        # in place, through the reusable buffers a and b: the formulas above, operation by operation
        mu, a = self.momentum, self._buffer(param, 0)
        if mu == 0:
            param -= np.multiply(grad, lr, out=a)  # θ −= η·g
            return
        v = self._state(param)["momentum"]
        if self.momentum_form == "keras":
            v *= mu
            v -= np.multiply(grad, lr, out=a)  # v = μ·v − η·g
            if self.nesterov:
                b = np.multiply(v, mu, out=self._buffer(param, 1))
                b -= a
                param += b  # θ += μ·v − η·g
            else:
                param += v
        else:
            v *= mu
            v += np.multiply(grad, 1 - mu, out=a)  # v = β·v + (1 − β)·g
            if self.nesterov:
                b = np.multiply(v, mu, out=self._buffer(param, 1))
                b += a
                b *= lr
                param -= b  # θ −= η·(β·v + (1 − β)·g)
            else:
                param -= np.multiply(v, lr, out=a)  # θ −= η·v

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "momentum_form": self.momentum_form,
        }


class Adagrad(Optimizer):
    """AdaGrad: each coordinate's step shrinks with its summed squared gradients.

    With the accumulator G₀ = ``initial_accumulator_value``, G ← G + g², and

        ``epsilon_placement="inside"`` (Keras):   θ ← θ − η·g / √(G + ε)
        ``epsilon_placement="outside"`` (Duchi et al. 2011, the course,
        PyTorch; there G₀ = 0):                  θ ← θ − η·g / (√G + ε)

    Parameters
    ----------
    learning_rate : float or callable
        η > 0, or a schedule ``step → η``.
    initial_accumulator_value : float
        G₀ ≥ 0, the accumulator's starting value.
    epsilon : float
        ε ≥ 0, keeps the division finite.
    epsilon_placement : {"inside", "outside"}
        ε inside or outside the square root, as above.
    name : str, optional
        Shown in error messages.
    """

    def __init__(
        self,
        learning_rate: float | Callable = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        epsilon_placement: str = "inside",
        name: str | None = None,
    ):
        super().__init__(learning_rate, name)
        self.initial_accumulator_value = _non_negative(
            initial_accumulator_value, "initial_accumulator_value", self.name
        )
        self.epsilon = _non_negative(epsilon, "epsilon", self.name)
        self.epsilon_placement = _choice(epsilon_placement, "epsilon_placement", ("inside", "outside"), self.name)

    def build_state(self, param):
        return {"accumulator": np.full_like(param, self.initial_accumulator_value)}

    def update_step(self, grad, param, lr):
        # in place, through the reusable buffers a and b: the formulas above, operation by operation
        G, a, b = self._state(param)["accumulator"], self._buffer(param, 0), self._buffer(param, 1)
        G += np.square(grad, out=a)
        if self.epsilon_placement == "inside":
            np.add(G, self.epsilon, out=a)
            np.sqrt(a, out=a)  # √(G + ε)
        else:
            np.sqrt(G, out=a)
            a += self.epsilon  # √G + ε
        np.multiply(grad, lr, out=b)
        b /= a
        param -= b  # θ −= η·g / a

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
            "epsilon_placement": self.epsilon_placement,
        }


AdaGrad = Adagrad
"""The same class under the name the lecture notes use."""


class RMSprop(Optimizer):
    """RMSprop: divide by a moving root mean square of the gradients.

    s ← ρ·s + (1 − ρ)·g² (s₀ = 0), and with ``centered=True`` also
    ḡ ← ρ·ḡ + (1 − ρ)·g, replacing s by the variance estimate s − ḡ² below.
    The step Δ is

        ``epsilon_placement="inside"`` (Keras, TensorFlow 1):  Δ = η·g / √(s + ε)
        ``epsilon_placement="outside"`` (the course, PyTorch):  Δ = η·g / (√s + ε)

    then θ ← θ − Δ, or with momentum μ > 0: m ← μ·m + Δ; θ ← θ − m.

    Parameters
    ----------
    learning_rate : float or callable
        η > 0, or a schedule ``step → η``.
    rho : float
        ρ ∈ [0, 1), the decay of the moving averages.
    momentum : float
        μ ∈ [0, 1); 0 for none.
    epsilon : float
        ε ≥ 0, keeps the division finite.
    centered : bool
        Normalise by the gradient's estimated variance instead of its
        second moment.
    epsilon_placement : {"inside", "outside"}
        ε inside or outside the square root, as above.
    name : str, optional
        Shown in error messages.
    """

    def __init__(
        self,
        learning_rate: float | Callable = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        epsilon_placement: str = "inside",
        name: str | None = None,
    ):
        super().__init__(learning_rate, name)
        self.rho = _in_unit_interval(rho, "rho", self.name)
        self.momentum = _in_unit_interval(momentum, "momentum", self.name)
        self.epsilon = _non_negative(epsilon, "epsilon", self.name)
        self.centered = bool(centered)
        self.epsilon_placement = _choice(epsilon_placement, "epsilon_placement", ("inside", "outside"), self.name)

    def build_state(self, param):
        state = {"velocity": np.zeros_like(param)}
        if self.momentum > 0:
            state["momentum"] = np.zeros_like(param)
        if self.centered:
            state["average_gradient"] = np.zeros_like(param)
        return state

    def update_step(self, grad, param, lr):
        # in place, through the reusable buffers a and b: the formulas above, operation by operation
        state, rho = self._state(param), self.rho
        a, b = self._buffer(param, 0), self._buffer(param, 1)
        s = state["velocity"]
        s *= rho
        np.square(grad, out=a)
        a *= 1 - rho
        s += a  # s = ρ·s + (1 − ρ)·g²
        if self.centered:
            g_bar = state["average_gradient"]
            g_bar *= rho
            g_bar += np.multiply(grad, 1 - rho, out=a)  # ḡ = ρ·ḡ + (1 − ρ)·g
            np.square(g_bar, out=a)
            s = np.subtract(s, a, out=a)  # s − ḡ²
        if self.epsilon_placement == "inside":
            np.add(s, self.epsilon, out=a)
            np.sqrt(a, out=a)  # √(s + ε)
        else:
            np.sqrt(s, out=a)
            a += self.epsilon  # √s + ε
        step = np.multiply(grad, lr, out=b)
        step /= a  # Δ = η·g / a
        if self.momentum > 0:
            m = state["momentum"]
            m *= self.momentum
            m += step
            param -= m
        else:
            param -= step

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
            "epsilon_placement": self.epsilon_placement,
        }


class Adam(Optimizer):
    """Adam: momentum on the gradients, RMSprop on their squares, bias-corrected.

    m ← β₁·m + (1 − β₁)·g, v ← β₂·v + (1 − β₂)·g² (m₀ = v₀ = 0); with
    ``amsgrad=True`` v is replaced below by v_max ← max(v_max, v). At step t:

        ``epsilon_placement="keras"`` (Keras, TensorFlow; the paper's
        "ε̂" form, end of its section 2):
            α_t = η·√(1 − β₂ᵗ) / (1 − β₁ᵗ);   θ ← θ − α_t·m / (√v + ε)
        ``epsilon_placement="paper"`` (Kingma & Ba's Algorithm 1, the
        course, PyTorch):
            m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ);   θ ← θ − η·m̂ / (√v̂ + ε)

    They differ only in ε: the Keras form is the paper's with
    ε_t = ε / √(1 − β₂ᵗ), larger early on (≈ 31.6·ε at t = 1 for β₂ = 0.999).
    At t = 1, m̂ = g and v̂ = g², so the paper's first step is η·g / (|g| + ε)
    ≈ η·sign(g): about η per coordinate, whatever the gradient's scale.

    Parameters
    ----------
    learning_rate : float or callable
        η > 0, or a schedule ``step → η``.
    beta_1 : float
        β₁ ∈ [0, 1), the decay of the first moment m.
    beta_2 : float
        β₂ ∈ [0, 1), the decay of the second moment v.
    epsilon : float
        ε ≥ 0, keeps the division finite.
    amsgrad : bool
        Use the running maximum of v (Reddi et al. 2018).
    epsilon_placement : {"keras", "paper"}
        Which formula, as above.
    name : str, optional
        Shown in error messages.
    """

    def __init__(
        self,
        learning_rate: float | Callable = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        epsilon_placement: str = "keras",
        name: str | None = None,
    ):
        super().__init__(learning_rate, name)
        self.beta_1 = _in_unit_interval(beta_1, "beta_1", self.name)
        self.beta_2 = _in_unit_interval(beta_2, "beta_2", self.name)
        self.epsilon = _non_negative(epsilon, "epsilon", self.name)
        self.amsgrad = bool(amsgrad)
        self.epsilon_placement = _choice(epsilon_placement, "epsilon_placement", ("keras", "paper"), self.name)

    def build_state(self, param):
        state = {"momentum": np.zeros_like(param), "velocity": np.zeros_like(param)}
        if self.amsgrad:
            state["velocity_hat"] = np.zeros_like(param)
        return state

    def update_step(self, grad, param, lr):
        # in place, through the reusable buffers a and b: the formulas above, operation by operation
        state, b1, b2 = self._state(param), self.beta_1, self.beta_2
        t = self.iterations + 1
        m, v = state["momentum"], state["velocity"]
        a, b = self._buffer(param, 0), self._buffer(param, 1)
        np.subtract(grad, m, out=a)
        a *= 1 - b1
        m += a  # m += (1 − β₁)·(g − m) = β₁·m + (1 − β₁)·g, in Keras' arithmetic
        np.square(grad, out=a)
        a -= v
        a *= 1 - b2
        v += a  # v += (1 − β₂)·(g² − v)
        if self.amsgrad:
            np.maximum(state["velocity_hat"], v, out=state["velocity_hat"])
            v = state["velocity_hat"]
        if self.epsilon_placement == "keras":
            alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            np.multiply(m, alpha, out=b)  # α_t·m
            np.sqrt(v, out=a)
        else:
            np.divide(m, 1 - b1**t, out=b)  # m̂
            b *= lr  # η·m̂
            np.divide(v, 1 - b2**t, out=a)  # v̂
            np.sqrt(a, out=a)
        a += self.epsilon
        b /= a
        param -= b  # θ −= α_t·m / (√v + ε)   or   η·m̂ / (√v̂ + ε)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
            "epsilon_placement": self.epsilon_placement,
        }


_BY_NAME = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}


def get(identifier) -> Optimizer:
    """An optimiser from a name (``"sgd"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"``, any case) or an instance.

    Like ``keras.optimizers.get``: a name gives a new optimiser with the
    default arguments, an :class:`Optimizer` is returned as it is.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"optimizers.get: expected one of {sorted(_BY_NAME)} or an Optimizer, got {identifier!r}")
