"""Automatic differentiation (自动微分) from scratch.

- :class:`Value`: scalar reverse mode (what backpropagation is);
- :class:`Dual`: forward mode with dual numbers;
- :class:`Tensor`: reverse mode on NumPy arrays, enough to train a small MLP;
- :func:`draw_graph`: a matplotlib drawing of a computational graph.
"""

from labcode.autodiff.draw import draw_graph
from labcode.autodiff.dual import Dual, grad_forward
from labcode.autodiff.tensor import Tensor
from labcode.autodiff.value import Value, grad_reverse

__all__ = ["Value", "Dual", "Tensor", "draw_graph", "grad_forward", "grad_reverse"]
