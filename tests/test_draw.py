import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labcode.autodiff import Tensor, Value, draw_graph  # noqa: E402


def test_draws_every_node_with_value_and_gradient():
    x, y = Value(3.0, "x"), Value(4.0, "y")
    f = x * x * y + y + 2
    f.label = "f"
    f.backward()
    ax = draw_graph(f)
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    arrows = [t for t in ax.texts if not t.get_text()]  # annotations without text
    assert len(texts) == len(f.topological_order()) == 7
    assert any(t.startswith("x\n") and "value 3" in t and "grad 24" in t for t in texts)
    assert any(t.startswith("y\n") and "grad 10" in t for t in texts)
    assert any(t.startswith("f\n[+]") and "value 42" in t for t in texts)
    # one arrow per edge, x * x counting twice
    assert len(arrows) == sum(len(n.parents) for n in f.topological_order()) == 8


def test_tensor_graph_shows_shapes():
    w = Tensor(np.ones((3, 2)), "W")
    out = (Tensor(np.ones((4, 3)), "X") @ w).sum()
    ax = draw_graph(out, show_grad=False)
    assert any("shape (3, 2)" in t.get_text() for t in ax.texts)


def test_rejects_other_objects_and_huge_graphs():
    with pytest.raises(TypeError, match="Value or Tensor"):
        draw_graph(3.0)
    v = Value(1.0)
    for _ in range(300):
        v = v + 1
    with pytest.raises(ValueError, match="≤ 200"):
        draw_graph(v)
