"""Weight penalties (正则化项): L2 (weight decay) and L1, in two conventions.

A penalty Ω(W) is added to the data loss, J = L + Ω, so its gradient ∂Ω/∂W
is added to the kernel's gradient. Two conventions are in use and differ
only by a constant factor:

===========  =================================  ==================================
convention   L2                                 L1
===========  =================================  ==================================
"keras"      Ω = λ·‖W‖² = λ Σ w²                Ω = λ·Σ|w|
             ∂Ω/∂W = 2λ·W                       ∂Ω/∂W = λ·sign(W)
"course"     Ω = λ/(2m)·‖W‖²                    Ω = λ/(2m)·Σ|w|
             ∂Ω/∂W = (λ/m)·W                    ∂Ω/∂W = λ/(2m)·sign(W)
===========  =================================  ==================================

"keras" is ``keras.regularizers.L2(l2)`` / ``L1(l1)``: the penalty does not
depend on the batch. "course" is the lecture notes' J = (1/m) Σᵢ L(ŷᵢ, yᵢ) +
λ/(2m) Σ_l ‖W^[l]‖², with m the number of examples in the batch, so the
same λ gives a weaker penalty for larger batches; λ_keras = λ_course/(2m)
makes the two agree for a fixed m. The gradient of |w| at 0 is taken as 0,
as TensorFlow does.

A layer takes them as ``Dense(…, kernel_regularizer=L2(0.01))`` (like
Keras) and a model adds them to its loss and their gradients to the
parameter gradients while training (``model.losses`` lists them).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "course_l1", "course_l2", "get", "CONVENTIONS"]

CONVENTIONS = ("keras", "course")


def _strength(value, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{where}: {name} must be a non-negative number (the penalty's weight λ), got {value!r}")
    if value < 0:
        raise ValueError(
            f"{where}: {name} must be non-negative (λ ≥ 0; a negative penalty rewards large weights), got {value!r}"
        )
    return float(value)


class Regularizer:
    """Base class: Ω(W) = a·Σ|w| + b·Σw², with a = l1, b = l2 (Keras) or both over 2m (the course).

    Parameters
    ----------
    l1, l2 : float
        λ₁ and λ₂, both ≥ 0.
    convention : {"keras", "course"}
        "keras": Ω = λ₁Σ|w| + λ₂Σw²; "course": Ω = (λ₁Σ|w| + λ₂Σw²)/(2m), m the batch size.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, convention: str = "keras"):
        where = type(self).__name__
        self.l1 = _strength(l1, "l1", where)
        self.l2 = _strength(l2, "l2", where)
        if convention not in CONVENTIONS:
            raise ValueError(f"{where}: convention must be one of {CONVENTIONS}, got {convention!r}")
        self.convention = convention

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def get_config(self) -> dict:
        config = {"l1": self.l1, "l2": self.l2}
        if self.convention != "keras":
            config["convention"] = self.convention
        return config

    def _scale(self, batch_size) -> float:
        """1 for Keras' convention, 1/(2m) for the course's."""
        if self.convention == "keras":
            return 1.0
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(
                f"{self!r}: the course's convention λ/(2m) needs the batch size m (a positive int), got {batch_size!r}"
            )
        return 1.0 / (2 * int(batch_size))

    def __call__(self, w, batch_size: int | None = None) -> float:
        """Ω(W), a float.

        Parameters
        ----------
        w : numpy.ndarray
            The parameter W.
        batch_size : int, optional
            m (needed by the course's convention only).
        """
        w = np.asarray(w)
        c = self._scale(batch_size)
        value = 0.0
        if self.l1:
            value += self.l1 * float(np.sum(np.abs(w)))
        if self.l2:
            value += self.l2 * float(np.sum(np.square(w)))
        return c * value

    def gradient(self, w, batch_size: int | None = None) -> np.ndarray:
        """∂Ω/∂W, the shape and dtype of ``w``."""
        w = np.asarray(w)
        c = self._scale(batch_size)
        grad = np.zeros_like(w)
        if self.l1:
            grad += (c * self.l1) * np.sign(w)
        if self.l2:
            grad += (2 * c * self.l2) * w
        return grad


class L1(Regularizer):
    """Ω = λ·Σ|w| (``keras.regularizers.L1``), or λ/(2m)·Σ|w| with ``convention="course"``.

    Parameters
    ----------
    l1 : float
        λ ≥ 0 (Keras' default 0.01).
    convention : {"keras", "course"}
    """

    def __init__(self, l1: float = 0.01, convention: str = "keras"):
        super().__init__(l1=l1, l2=0.0, convention=convention)

    def get_config(self):
        config = {"l1": self.l1}
        if self.convention != "keras":
            config["convention"] = self.convention
        return config


class L2(Regularizer):
    """Ω = λ·‖W‖² (``keras.regularizers.L2``), or λ/(2m)·‖W‖² with ``convention="course"``.

    Parameters
    ----------
    l2 : float
        λ ≥ 0 (Keras' default 0.01).
    convention : {"keras", "course"}
    """

    def __init__(self, l2: float = 0.01, convention: str = "keras"):
        super().__init__(l1=0.0, l2=l2, convention=convention)

    def get_config(self):
        config = {"l2": self.l2}
        if self.convention != "keras":
            config["convention"] = self.convention
        return config


class L1L2(Regularizer):
    """Ω = λ₁·Σ|w| + λ₂·‖W‖² (``keras.regularizers.L1L2``; Keras' defaults 0 and 0)."""


# Keras' lower-case aliases
l1 = L1
l2 = L2
l1_l2 = L1L2


def course_l2(lam: float) -> L2:
    """The course's L2 penalty Ω = λ/(2m)·‖W‖² (m the batch size): ``L2(lam, convention="course")``."""
    return L2(lam, convention="course")


def course_l1(lam: float) -> L1:
    """The course's L1 penalty Ω = λ/(2m)·Σ|w|: ``L1(lam, convention="course")``."""
    return L1(lam, convention="course")


_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier) -> Regularizer | None:
    """A regulariser from None, a name ("l1", "l2", "l1_l2", with Keras' default strengths) or a Regularizer."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    if callable(identifier) and hasattr(identifier, "gradient"):
        return identifier  # duck-typed: reg(w, batch_size) and reg.gradient(w, batch_size)
    raise ValueError(
        f"unknown regularizer {identifier!r}; expected None, one of {sorted(_NAMES)}, or e.g. L2(0.01) / course_l2(0.7)"
    )
