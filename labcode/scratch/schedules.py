"""Learning-rate schedules (学习率衰减): callables ``step → learning rate``.

The names and arguments are those of ``keras.optimizers.schedules``, so a
schedule moves between the two worlds unchanged. ``step`` is the optimiser's
iteration counter (0 for the first update); with ``decay_steps`` equal to the
number of mini-batches per epoch, ``step / decay_steps`` is the epoch number,
which is how decay is usually written in lecture notes:

    α = α₀ / (1 + decay_rate · epoch)          InverseTimeDecay
    α = α₀ · decay_rate^epoch                   ExponentialDecay
    α = α₀ · drop^⌊epoch / every⌋               StepDecay (a staircase)

Every schedule accepts an int or an array of steps (handy for plotting) and
returns a float, or an array of the same shape.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "LearningRateSchedule",
    "InverseTimeDecay",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "StepDecay",
]


def _positive(value, name: str, where: str, *, allow_zero: bool = False) -> float:
    """``value`` as a float, checked to be finite and > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{where}: {name} must be finite and {bound}, got {value!r}")
    return value


class LearningRateSchedule:
    """Base class: a callable mapping the optimiser step t to a learning rate α_t.

    Subclasses implement :meth:`decay` on a float64 array of steps; calling
    the schedule checks the steps and returns a float for a single step.
    """

    def __call__(self, step):
        name = type(self).__name__
        steps = np.asarray(step)
        if steps.dtype == object or not (
            np.issubdtype(steps.dtype, np.integer) or np.issubdtype(steps.dtype, np.floating)
        ):
            raise TypeError(f"{name}(step): expected an int or an array of ints, got {type(step).__name__} {step!r}")
        steps = steps.astype(np.float64)
        if np.any(~np.isfinite(steps)) or np.any(steps < 0):
            raise ValueError(f"{name}(step): steps must be finite and >= 0, got {step!r}")
        lr = self.decay(steps)
        return float(lr) if lr.ndim == 0 else lr

    def decay(self, step: np.ndarray) -> np.ndarray:
        """α_t for a float64 array of steps t (to be overridden)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor's arguments, like Keras' ``get_config()``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _TimeDecay(LearningRateSchedule):
    """Shared arguments of the decays driven by p = t / decay_steps."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        name = type(self).__name__
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate", name)
        if isinstance(decay_steps, bool) or not isinstance(decay_steps, numbers.Real) or not decay_steps > 0:
            raise ValueError(f"{name}: decay_steps must be a number > 0, got {decay_steps!r}")
        self.decay_steps = decay_steps
        self.decay_rate = self._check_rate(decay_rate)
        if not isinstance(staircase, bool | np.bool_):
            raise TypeError(f"{name}: staircase must be True or False, got {staircase!r}")
        self.staircase = bool(staircase)

    def _check_rate(self, decay_rate) -> float:
        raise NotImplementedError

    def _progress(self, step: np.ndarray) -> np.ndarray:
        p = step / float(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class InverseTimeDecay(_TimeDecay):
    """α_t = α₀ / (1 + decay_rate · p), p = t / decay_steps (⌊·⌋ if ``staircase``).

    Parameters
    ----------
    initial_learning_rate : float
        α₀ > 0.
    decay_steps : int or float
        Steps per unit of p (> 0); the number of mini-batches per epoch
        gives the course's α₀ / (1 + decay_rate · epoch).
    decay_rate : float
        decay_rate ≥ 0.
    staircase : bool
        Decay in whole units of p (once per epoch) instead of smoothly.
    """

    def _check_rate(self, decay_rate) -> float:
        return _positive(decay_rate, "decay_rate", type(self).__name__, allow_zero=True)

    def decay(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class ExponentialDecay(_TimeDecay):
    """α_t = α₀ · decay_rate^p, p = t / decay_steps (⌊·⌋ if ``staircase``).

    Parameters
    ----------
    initial_learning_rate : float
        α₀ > 0.
    decay_steps : int or float
        Steps per unit of p (> 0).
    decay_rate : float
        The factor per unit of p, > 0 (e.g. 0.95 per epoch).
    staircase : bool
        Decay in whole units of p instead of smoothly.
    """

    def _check_rate(self, decay_rate) -> float:
        return _positive(decay_rate, "decay_rate", type(self).__name__)

    def decay(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant learning rate on each interval between boundaries.

    α_t = values[0] for t ≤ boundaries[0], values[i] for
    boundaries[i−1] < t ≤ boundaries[i], and values[−1] for t > boundaries[−1]
    (the boundaries belong to the interval on their left, as in Keras).

    Parameters
    ----------
    boundaries : sequence of int
        Strictly increasing steps b₀ < b₁ < ….
    values : sequence of float
        The learning rates, one more than ``boundaries``, each > 0.
    """

    def __init__(self, boundaries, values):
        name = type(self).__name__
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"{name}: values must have one more element than boundaries, "
                f"got {len(boundaries)} boundaries and {len(values)} values"
            )
        for b in boundaries:
            if isinstance(b, bool) or not isinstance(b, numbers.Real):
                raise TypeError(f"{name}: boundaries must be numbers, got {b!r}")
        if any(b1 <= b0 for b0, b1 in zip(boundaries, boundaries[1:], strict=False)):
            raise ValueError(f"{name}: boundaries must be strictly increasing, got {boundaries}")
        self.boundaries = boundaries
        self.values = [_positive(v, "each value", name) for v in values]

    def decay(self, step):
        # the number of boundaries strictly below t is the interval's index
        index = np.searchsorted(np.asarray(self.boundaries, dtype=np.float64), step, side="left")
        return np.asarray(self.values, dtype=np.float64)[index]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values}


class StepDecay(LearningRateSchedule):
    """Step decay: α_t = α₀ · drop^⌊t / every⌋, a staircase.

    The same as ``ExponentialDecay(α₀, every, drop, staircase=True)``
    (Keras has no separate class for it).

    Parameters
    ----------
    initial_learning_rate : float
        α₀ > 0.
    drop : float
        The factor applied every ``every`` steps, 0 < drop ≤ 1 (e.g. 0.5).
    every : int
        The number of steps between drops (> 0), e.g. 10 epochs' worth of
        mini-batches.
    """

    def __init__(self, initial_learning_rate, drop, every):
        name = type(self).__name__
        self.initial_learning_rate = _positive(initial_learning_rate, "initial_learning_rate", name)
        self.drop = _positive(drop, "drop", name)
        if self.drop > 1:
            raise ValueError(f"{name}: drop must be in (0, 1], got {drop!r}")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every <= 0:
            raise ValueError(f"{name}: every must be a positive int (a number of steps), got {every!r}")
        self.every = int(every)

    def decay(self, step):
        return self.initial_learning_rate * self.drop ** np.floor(step / self.every)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "drop": self.drop, "every": self.every}
