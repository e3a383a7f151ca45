"""A scalar reverse-mode automatic differentiation engine.

Every arithmetic operation on :class:`Value` objects records a node of a
computational graph (计算图): its result, the nodes it came from, and the
*local derivative* of the result with respect to each of them. ``backward()``
then visits the graph from the output back to the inputs and applies the
chain rule: each parent receives ``local derivative * gradient of the child``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence

__all__ = ["Value", "grad_reverse"]


def _as_float(x, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(
            f"{where}: expected a real number (int or float) or a Value, "
            f"got {type(x).__name__} {x!r}"
        )
    return float(x)


class Value:
    """A scalar node of a computational graph.

    Parameters
    ----------
    data : int or float
        The value computed by the forward pass.
    label : str, optional
        A name shown in graph drawings (e.g. ``"x"``).
    parents : sequence of (Value, float), optional
        For a node made by an operation: each input with the local
        derivative ∂(this node)/∂(input). A new operation is a function that
        computes the result and these local derivatives.
    op : str, optional
        The operation's name, shown in drawings.

    Attributes
    ----------
    data : float
        The node's value.
    grad : float
        :math:`\\partial f / \\partial \\text{node}` after ``f.backward()``.
    parents : tuple of (Value, float)
        Each input of the operation that made this node, with the local
        derivative of this node with respect to it.
    op : str
        The operation that made this node (``""`` for an input).
    """

    __slots__ = ("data", "grad", "parents", "op", "label")

    def __init__(self, data, label: str = "", *, parents: Sequence = (), op: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value(data): data is already a Value; use it directly")
        self.data = _as_float(data, "Value(data)")
        self.grad = 0.0
        self.parents: tuple[tuple[Value, float], ...] = tuple(parents)
        for pair in self.parents:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Value)):
                raise TypeError(f"Value(parents=...): expected (Value, local derivative) pairs, got {pair!r}")
        self.op = op
        self.label = label

    # ----------------------------------------------------------- helpers
    @staticmethod
    def _wrap(other, op: str) -> Value:
        if isinstance(other, Value):
            return other
        return Value(_as_float(other, f"Value {op}"))

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    # ---------------------------------------------------- arithmetic ops
    def __add__(self, other) -> Value:
        other = self._wrap(other, "+")
        return Value(self.data + other.data, parents=((self, 1.0), (other, 1.0)), op="+")

    def __mul__(self, other) -> Value:
        other = self._wrap(other, "*")
        return Value(
            self.data * other.data,
            parents=((self, other.data), (other, self.data)),
            op="*",
        )

    def __pow__(self, exponent) -> Value:
        if isinstance(exponent, Value):
            # x ** y = exp(y * log x), defined for x > 0
            return (exponent * self.log()).exp()
        k = _as_float(exponent, "Value ** exponent")
        x = self.data
        if x == 0.0 and k < 1.0:
            raise ValueError(f"Value ** {k:g}: the derivative is undefined at 0 for exponents < 1")
        if x < 0.0 and not float(k).is_integer():
            raise ValueError(f"Value ** {k:g}: a negative base ({x:g}) needs an integer exponent")
        return Value(x**k, parents=((self, k * x ** (k - 1)),), op=f"**{k:g}")

    def __rpow__(self, base) -> Value:
        c = _as_float(base, "number ** Value")
        if c <= 0.0:
            raise ValueError(f"number ** Value: the base must be positive, got {c:g}")
        out = c**self.data
        return Value(out, parents=((self, out * math.log(c)),), op=f"{c:g}**")

    def __neg__(self) -> Value:
        return Value(-self.data, parents=((self, -1.0),), op="neg")

    def __sub__(self, other) -> Value:
        other = self._wrap(other, "-")
        return Value(self.data - other.data, parents=((self, 1.0), (other, -1.0)), op="-")

    def __truediv__(self, other) -> Value:
        other = self._wrap(other, "/")
        if other.data == 0.0:
            raise ZeroDivisionError("Value / Value: division by zero")
        return Value(
            self.data / other.data,
            parents=((self, 1.0 / other.data), (other, -self.data / other.data**2)),
            op="/",
        )

    def __radd__(self, other) -> Value:
        return self._wrap(other, "+") + self

    def __rsub__(self, other) -> Value:
        return self._wrap(other, "-") - self

    def __rmul__(self, other) -> Value:
        return self._wrap(other, "*") * self

    def __rtruediv__(self, other) -> Value:
        return self._wrap(other, "/") / self

    # ------------------------------------------------ elementary functions
    def exp(self) -> Value:
        """e**x; local derivative e**x."""
        out = math.exp(self.data)
        return Value(out, parents=((self, out),), op="exp")

    def log(self) -> Value:
        """Natural logarithm; local derivative 1/x."""
        if self.data <= 0.0:
            raise ValueError(f"Value.log(): needs a positive value, got {self.data:g}")
        return Value(math.log(self.data), parents=((self, 1.0 / self.data),), op="log")

    def tanh(self) -> Value:
        """Hyperbolic tangent; local derivative 1 - tanh(x)**2."""
        t = math.tanh(self.data)
        return Value(t, parents=((self, 1.0 - t * t),), op="tanh")

    def sigmoid(self) -> Value:
        """Logistic sigmoid 1/(1 + e**-x); local derivative s(1 - s)."""
        x = self.data
        # two algebraically equal forms, each stable on its side of 0
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Value(s, parents=((self, s * (1.0 - s)),), op="sigmoid")

    def relu(self) -> Value:
        """max(0, x); local derivative 1 if x > 0 else 0."""
        x = self.data
        return Value(max(0.0, x), parents=((self, 1.0 if x > 0 else 0.0),), op="relu")

    # -------------------------------------------------------- backward pass
    def topological_order(self) -> list[Value]:
        """Every node this one depends on, inputs first, this node last.

        Iterative depth-first search, so deep graphs (100,000 nodes and more)
        do not hit Python's recursion limit.
        """
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for parent, _ in node.parents:
                if id(parent) not in visited:
                    stack.append((parent, False))
        return order

    def backward(self) -> None:
        """Fill ``.grad`` of every node with the derivative of this node.

        Gradients are reset to 0 first, so after ``f.backward()`` each
        ``x.grad`` is exactly :math:`\\partial f/\\partial x`. A node used
        several times (``b = a + a``) accumulates one contribution per use.
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in node.parents:
                parent.grad += local * node.grad


def grad_reverse(f: Callable[..., Value], xs: Iterable[float]) -> tuple[float, list[float]]:
    """f(x1, ..., xn) and its gradient by one reverse-mode pass.

    Parameters
    ----------
    f : callable
        A function of n scalars built from Value operations, returning a Value.
    xs : iterable of float
        The point at which to differentiate.

    Returns
    -------
    value : float
    gradient : list of float
    """
    inputs = [Value(x) for x in xs]
    out = f(*inputs)
    if not isinstance(out, Value):
        raise TypeError(f"grad_reverse: f must return a Value, got {type(out).__name__}")
    out.backward()
    return out.data, [v.grad for v in inputs]
