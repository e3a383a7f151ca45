"""A small reverse-mode engine on NumPy arrays.

The same idea as :class:`~labcode.autodiff.Value`, one level up: a node holds
an array, and each operation knows how to turn the gradient of its output
into gradients of its inputs (a vector-Jacobian product). Two rules matter
for arrays:

* ``Y = X @ W`` sends back ``dX = dY @ Wᵀ`` and ``dW = Xᵀ @ dY``;
* an input that NumPy *broadcast* (e.g. a bias ``b`` of shape ``(n,)`` added
  to every row of an ``(m, n)`` array) receives the gradient *summed* over
  the broadcast axes, so ``grad`` always has the shape of ``data``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

__all__ = ["Tensor"]


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes along which an array of ``shape`` was broadcast."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _to_array(data, where: str) -> np.ndarray:
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, (str, bytes)):
        raise TypeError(
            f"{where}: expected numbers (a number, list or NumPy array), got {type(data).__name__} {data!r}"
        )
    arr = np.asarray(data)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"{where}: expected real numbers, got an array of dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{where}: expected real numbers, got complex dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


class Tensor:
    """An array node of a computational graph.

    Parameters
    ----------
    data : array_like
        Numbers; integers become float64, float32/float64 are kept.
    label : str, optional
        A name for drawings and error messages.
    parents : sequence of Tensor, optional
        The inputs of the operation that made this tensor.
    grad_fn : callable, optional
        Maps ∂L/∂(this tensor) to a tuple of ∂L/∂(parent), one per parent
        (a vector-Jacobian product).
    op : str, optional
        The operation's name, shown in drawings.

    Attributes
    ----------
    data : numpy.ndarray
    grad : numpy.ndarray
        ∂L/∂data after ``L.backward()``, same shape as ``data``.
    """

    __array_priority__ = 100  # make ndarray + Tensor call Tensor.__radd__

    def __init__(self, data, label: str = "", *, parents=(), grad_fn: Callable | None = None, op: str = ""):
        self.data = _to_array(data, "Tensor(data)")
        self.grad = np.zeros_like(self.data)
        self.label = label
        self.parents: tuple[Tensor, ...] = tuple(parents)
        self.op = op
        # maps the output gradient to one gradient per parent
        self.grad_fn = grad_fn

    # ----------------------------------------------------------- helpers
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __repr__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return f"Tensor({name}shape={self.shape}, data={np.array2string(self.data, precision=4, threshold=8)})"

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    @staticmethod
    def _wrap(other, op: str) -> Tensor:
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number) or isinstance(other, (np.ndarray, list, tuple)):
            return Tensor(other)
        raise TypeError(f"Tensor {op}: expected a Tensor, number or array, got {type(other).__name__}")

    def _binary(self, other, op: str, forward, grads) -> Tensor:
        other = self._wrap(other, op)
        try:
            out = forward(self.data, other.data)
        except ValueError as e:  # NumPy's broadcasting failure
            raise ValueError(f"Tensor {op}: shapes {self.shape} and {other.shape} do not broadcast") from e
        a, b = self, other

        def backward(g):
            ga, gb = grads(g, a.data, b.data, out)
            return _unbroadcast(ga, a.shape), _unbroadcast(gb, b.shape)

        return Tensor(out, parents=(a, b), grad_fn=backward, op=op)

    def _unary(self, op: str, out: np.ndarray, local: Callable[[np.ndarray], np.ndarray]) -> Tensor:
        return Tensor(out, parents=(self,), grad_fn=lambda g: (local(g),), op=op)

    # ----------------------------------------------------------- arithmetic
    def __add__(self, other):
        return self._binary(other, "+", np.add, lambda g, a, b, o: (g, g))

    def __sub__(self, other):
        return self._binary(other, "-", np.subtract, lambda g, a, b, o: (g, -g))

    def __mul__(self, other):
        return self._binary(other, "*", np.multiply, lambda g, a, b, o: (g * b, g * a))

    def __truediv__(self, other):
        return self._binary(other, "/", np.divide, lambda g, a, b, o: (g / b, -g * a / b**2))

    def __radd__(self, other):
        return self._wrap(other, "+") + self

    def __rsub__(self, other):
        return self._wrap(other, "-") - self

    def __rmul__(self, other):
        return self._wrap(other, "*") * self

    def __rtruediv__(self, other):
        return self._wrap(other, "/") / self

    def __neg__(self):
        return self._unary("neg", -self.data, lambda g: -g)

    def __pow__(self, k):
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise TypeError(f"Tensor ** k: k must be a real number, got {type(k).__name__}")
        x = self.data
        return self._unary(f"**{k:g}", x**k, lambda g: g * k * x ** (k - 1))

    def __matmul__(self, other):
        other = self._wrap(other, "@")
        a, b = self, other
        if a.ndim != 2 or b.ndim != 2:
            raise ValueError(f"Tensor @: expected two 2-D arrays, got shapes {a.shape} and {b.shape}")
        if a.shape[1] != b.shape[0]:
            raise ValueError(
                f"Tensor @: inner dimensions differ: {a.shape} @ {b.shape} "
                f"({a.shape[1]} columns vs {b.shape[0]} rows)"
            )
        out = a.data @ b.data
        return Tensor(out, parents=(a, b), grad_fn=lambda g: (g @ b.data.T, a.data.T @ g), op="@")

    def __rmatmul__(self, other):
        return self._wrap(other, "@") @ self

    # ----------------------------------------------------- shape and sums
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        shape = self.shape

        def backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, shape).copy(),)

        return Tensor(self.data.sum(axis=axis, keepdims=keepdims), parents=(self,), grad_fn=backward, op="sum")

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        n = self.data.size if axis is None else np.prod([self.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis=axis, keepdims=keepdims) / float(n)

    def reshape(self, *shape) -> Tensor:
        old = self.shape
        return self._unary("reshape", self.data.reshape(*shape), lambda g: g.reshape(old))

    def transpose(self) -> Tensor:
        return self._unary("T", self.data.T, lambda g: g.T)

    # -------------------------------------------------- elementwise functions
    def exp(self) -> Tensor:
        e = np.exp(self.data)
        return self._unary("exp", e, lambda g: g * e)

    def log(self) -> Tensor:
        x = self.data
        if np.any(x <= 0):
            raise ValueError(f"Tensor.log(): needs positive values, got minimum {x.min():g}")
        return self._unary("log", np.log(x), lambda g: g / x)

    def tanh(self) -> Tensor:
        t = np.tanh(self.data)
        return self._unary("tanh", t, lambda g: g * (1.0 - t * t))

    def sigmoid(self) -> Tensor:
        x = self.data
        e = np.exp(-np.abs(x))  # stable on both sides of 0
        s = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self._unary("sigmoid", s, lambda g: g * s * (1.0 - s))

    def relu(self) -> Tensor:
        x = self.data
        return self._unary("relu", np.maximum(x, 0), lambda g: g * (x > 0))

    # ------------------------------------------------------------ backward
    def topological_order(self) -> list[Tensor]:
        """Every node this one depends on, inputs first (iterative DFS)."""
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents if id(p) not in visited)
        return order

    def backward(self, grad=None) -> None:
        """Fill ``.grad`` of every node with the gradient of this node.

        Parameters
        ----------
        grad : array_like, optional
            ∂L/∂self. Needed unless this tensor holds a single number (a loss).
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"Tensor.backward(): without an explicit grad the tensor must hold one number "
                    f"(a scalar loss), got shape {self.shape}; reduce it with .sum() or .mean(), "
                    f"or pass grad= of the same shape"
                )
            grad = np.ones_like(self.data)
        else:
            grad = _to_array(grad, "Tensor.backward(grad)")
            if grad.shape != self.shape:
                raise ValueError(f"Tensor.backward(grad): grad has shape {grad.shape}, expected {self.shape}")
        order = self.topological_order()
        for node in order:
            node.grad = np.zeros_like(node.data)
        self.grad = grad.astype(self.data.dtype, copy=True)
        for node in reversed(order):
            if node.grad_fn is None:
                continue
            for parent, g in zip(node.parents, node.grad_fn(node.grad), strict=True):
                parent.grad = parent.grad + g
