"""Forward-mode automatic differentiation with dual numbers.

A dual number a + b·ε with ε² = 0 carries a value ``a`` and a derivative
``b`` side by side: (a + bε)(c + dε) = ac + (ad + bc)ε is the product rule.
One forward pass gives the derivative along one input direction, so the
full gradient of f: Rⁿ → R costs n passes (reverse mode needs one).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable

__all__ = ["Dual", "grad_forward"]


def _check_real(x, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(
            f"{where}: expected a real number (int or float) or a Dual, got {type(x).__name__} {x!r}"
        )
    return float(x)


class Dual:
    """A dual number ``value + deriv·ε`` (ε² = 0).

    Parameters
    ----------
    value : float
        The primal value a.
    deriv : float
        The tangent b: the derivative of this quantity along the chosen
        input direction (1 for the input being differentiated, 0 otherwise).
    """

    __slots__ = ("value", "deriv")

    def __init__(self, value, deriv=0.0):
        self.value = _check_real(value, "Dual(value)")
        self.deriv = _check_real(deriv, "Dual(deriv)")

    @staticmethod
    def _wrap(other, op: str) -> Dual:
        if isinstance(other, Dual):
            return other
        return Dual(_check_real(other, f"Dual {op}"), 0.0)

    def __repr__(self) -> str:
        return f"Dual(value={self.value:.6g}, deriv={self.deriv:.6g})"

    def __add__(self, other):
        o = self._wrap(other, "+")
        return Dual(self.value + o.value, self.deriv + o.deriv)

    __radd__ = __add__

    def __sub__(self, other):
        o = self._wrap(other, "-")
        return Dual(self.value - o.value, self.deriv - o.deriv)

    def __rsub__(self, other):
        return self._wrap(other, "-") - self

    def __mul__(self, other):
        o = self._wrap(other, "*")
        return Dual(self.value * o.value, self.deriv * o.value + self.value * o.deriv)

    __rmul__ = __mul__

    def __truediv__(self, other):
        o = self._wrap(other, "/")
        if o.value == 0.0:
            raise ZeroDivisionError("Dual / Dual: division by zero")
        return Dual(self.value / o.value, (self.deriv * o.value - self.value * o.deriv) / o.value**2)

    def __rtruediv__(self, other):
        return self._wrap(other, "/") / self

    def __neg__(self):
        return Dual(-self.value, -self.deriv)

    def __pow__(self, exponent):
        if isinstance(exponent, Dual):
            return (exponent * self.log()).exp()
        k = _check_real(exponent, "Dual ** exponent")
        x = self.value
        if x == 0.0 and k < 1.0:
            raise ValueError(f"Dual ** {k:g}: the derivative is undefined at 0 for exponents < 1")
        if x < 0.0 and not float(k).is_integer():
            raise ValueError(f"Dual ** {k:g}: a negative base ({x:g}) needs an integer exponent")
        return Dual(x**k, k * x ** (k - 1) * self.deriv)

    def __rpow__(self, base):
        c = _check_real(base, "number ** Dual")
        if c <= 0.0:
            raise ValueError(f"number ** Dual: the base must be positive, got {c:g}")
        out = c**self.value
        return Dual(out, out * math.log(c) * self.deriv)

    def exp(self):
        e = math.exp(self.value)
        return Dual(e, e * self.deriv)

    def log(self):
        if self.value <= 0.0:
            raise ValueError(f"Dual.log(): needs a positive value, got {self.value:g}")
        return Dual(math.log(self.value), self.deriv / self.value)

    def tanh(self):
        t = math.tanh(self.value)
        return Dual(t, (1.0 - t * t) * self.deriv)

    def sigmoid(self):
        x = self.value
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Dual(s, s * (1.0 - s) * self.deriv)

    def relu(self):
        return Dual(max(0.0, self.value), self.deriv if self.value > 0 else 0.0)


def grad_forward(f: Callable[..., Dual], xs: Iterable[float]) -> tuple[float, list[float]]:
    """f(x1, ..., xn) and its gradient by n forward-mode passes.

    Pass i seeds input i with derivative 1 and all others with 0, so the
    output's ``deriv`` is ∂f/∂xᵢ.
    """
    xs = [_check_real(x, "grad_forward(xs)") for x in xs]
    if not xs:
        raise ValueError("grad_forward: expected at least one input, got none")
    grad, value = [], 0.0
    for i in range(len(xs)):
        out = f(*[Dual(x, 1.0 if j == i else 0.0) for j, x in enumerate(xs)])
        if not isinstance(out, Dual):
            raise TypeError(f"grad_forward: f must return a Dual, got {type(out).__name__}")
        value = out.value
        grad.append(out.deriv)
    return value, grad
