"""Draw a computational graph with matplotlib (no Graphviz needed)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = ["draw_graph"]


def _parents(node):
    # Value stores (parent, local derivative) pairs; Tensor stores parents
    return [p[0] if isinstance(p, tuple) else p for p in node.parents]


def _text(node, show_grad: bool) -> str:
    lines = []
    if node.label:
        lines.append(node.label)
    if node.op:
        lines.append(f"[{node.op}]")
    data = node.data
    if np.ndim(data) == 0:
        lines.append(f"value {float(data):.4g}")
        if show_grad:
            lines.append(f"grad {float(node.grad):.4g}")
    else:
        lines.append(f"shape {tuple(np.shape(data))}")
    return "\n".join(lines)


def draw_graph(root, ax=None, show_grad: bool = True, figsize=None):
    """Draw the graph that computed ``root``, inputs on the left.

    Each box shows a node's label, the operation that made it, its value
    and (after ``root.backward()``) its gradient ∂root/∂node.

    Parameters
    ----------
    root : Value or Tensor
        The output node.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    show_grad : bool
        Whether to print gradients in the boxes.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if not hasattr(root, "topological_order"):
        raise TypeError(f"draw_graph: expected a Value or Tensor, got {type(root).__name__}")
    order = root.topological_order()
    if len(order) > 200:
        raise ValueError(f"draw_graph: the graph has {len(order)} nodes; drawing is for graphs of ≤ 200")
    depth: dict[int, int] = {}
    for node in order:  # inputs come first
        ps = _parents(node)
        depth[id(node)] = 0 if not ps else 1 + max(depth[id(p)] for p in ps)
    consumers = defaultdict(list)
    for node in order:
        for p in _parents(node):
            consumers[id(p)].append(depth[id(node)])
    for node in order:  # an input sits just left of its first use
        if not node.parents and consumers[id(node)]:
            depth[id(node)] = min(consumers[id(node)]) - 1
    columns = defaultdict(list)
    for node in order:
        columns[depth[id(node)]].append(node)
    pos = {}
    for d, nodes in sorted(columns.items()):
        for i, node in enumerate(nodes):
            pos[id(node)] = (d * 2.2, (len(nodes) - 1) / 2 - i)
    n_cols = max(columns) + 1  # column 0 always holds an input
    n_rows = max(len(v) for v in columns.values())
    if ax is None:
        _, ax = plt.subplots(figsize=figsize or (max(4, 2.3 * n_cols), max(2.5, 1.4 * n_rows)))
    boxes = {}
    for node in order:  # the boxes first, so that arrows can end at their edges
        x, y = pos[id(node)]
        leaf = not node.parents
        boxes[id(node)] = ax.text(
            x, y, _text(node, show_grad), ha="center", va="center", fontsize=9, family="monospace",
            bbox=dict(boxstyle="round,pad=0.4", fc="#e8f1fb" if leaf else "#fdf3e1", ec="#555"),
            zorder=3,
        )
    for node in order:
        x, y = pos[id(node)]
        seen = defaultdict(int)
        for p in _parents(node):
            k = seen[id(p)]
            seen[id(p)] += 1
            # an edge that skips columns bends, so it does not run through boxes
            skip = depth[id(node)] - depth[id(p)] > 1
            rad = 0.25 * k + (0.45 if skip else 0.0)
            ax.annotate(
                "", xy=(x, y), xytext=pos[id(p)],
                arrowprops=dict(arrowstyle="-|>", color="#777", shrinkA=2, shrinkB=2,
                                patchA=boxes[id(p)].get_bbox_patch(), patchB=boxes[id(node)].get_bbox_patch(),
                                connectionstyle=f"arc3,rad={rad}"),
                zorder=4,  # drawn after the boxes, whose edges (patchA, patchB) clip the arrows
            )
    ax.set_xlim(-1.2, (n_cols - 1) * 2.2 + 1.2)
    ax.set_ylim(-n_rows / 2 - 0.3, n_rows / 2 + 0.3)
    ax.axis("off")
    return ax
