"""Transfer learning (迁移学习): reuse the lower layers of a trained model for a new task.

The recipe, as with Keras:

1. ``new = transfer(trained, n_layers=2, head=[Dense(5)])`` — copies of the
   first layers with their weights, then a new head (``trained`` is left
   alone: the copies own their weights);
2. freeze the reused layers (``transfer`` does it by default; or
   ``freeze(layers)``, i.e. ``layer.trainable = False``): fit then updates
   the head only, while the gradient still flows through the frozen layers;
3. train the head; then ``unfreeze(new.layers)`` and fine-tune everything
   with a lower learning rate (``model.optimizer.learning_rate = 1e-4``).

A frozen ``BatchNormalization`` uses its moving statistics even in
training, like Keras'. Unlike Keras, no ``compile`` is needed after
(un)freezing: every step asks each layer for its trainable parameters.
"""

from __future__ import annotations

import copy as _copy
import numbers

from labcode.scratch.base import Layer
from labcode.scratch.model import Sequential

__all__ = ["transfer", "freeze", "unfreeze", "set_trainable"]


def _layers(obj, where) -> list:
    if hasattr(obj, "layers") and not isinstance(obj, (list, tuple)):
        return list(obj.layers)
    if hasattr(obj, "forward") and hasattr(obj, "backward"):
        return [obj]
    try:
        layers = list(obj)
    except TypeError:
        raise TypeError(f"{where}: expected a model, a layer or a list of layers, got {type(obj).__name__}") from None
    for layer in layers:
        if not hasattr(layer, "trainable"):
            raise TypeError(f"{where}: expected layers, got {type(layer).__name__}")
    return layers


def set_trainable(layers, trainable: bool):
    """Set ``trainable`` on a layer, each layer of a model, or each of a list; returns what it was given."""
    for layer in _layers(layers, "set_trainable"):
        layer.trainable = bool(trainable)
    return layers


def freeze(layers):
    """``trainable = False``: no parameter updates (the input gradient still flows)."""
    return set_trainable(layers, False)


def unfreeze(layers):
    """``trainable = True``: train them again (fine-tuning)."""
    return set_trainable(layers, True)


def transfer(model, n_layers: int, head, freeze: bool = True, copy: bool = True, name: str | None = None) -> Sequential:
    """A new Sequential: the first ``n_layers`` layers of ``model`` (with their weights), then ``head``.

    Parameters
    ----------
    model : Sequential
        A trained (built) model.
    n_layers : int
        How many layers to reuse, from the input (negative counts from the end, like a slice: −1 drops
        the last layer).
    head : Layer or list of Layer
        The new (untrained) layers on top.
    freeze : bool
        Freeze the reused layers.
    copy : bool
        Reuse deep copies (default), so training the new model leaves ``model`` alone; False shares the
        very layer objects (and weights) with ``model``, as ``Sequential(model.layers[:k])`` does in Keras.
    name : str, optional
        The new model's name.
    """
    where = "transfer"
    if not isinstance(model, Sequential):
        raise TypeError(f"{where}: expected a Sequential model, got {type(model).__name__}")
    if isinstance(n_layers, bool) or not isinstance(n_layers, numbers.Integral):
        raise TypeError(f"{where}: n_layers must be an int, got {n_layers!r}")
    base = model.layers[:n_layers]
    if not base:
        raise ValueError(f"{where}: n_layers={n_layers} reuses no layer of the {len(model.layers)} in {model.name!r}")
    unbuilt = [layer.name for layer in base if isinstance(layer, Layer) and not layer.built]
    if unbuilt:
        raise ValueError(f"{where}: layers {unbuilt} of {model.name!r} are not built (train the model first)")
    head = [head] if hasattr(head, "forward") else list(head)
    if copy:
        base = [_copy.deepcopy(layer) for layer in base]
    if freeze:
        set_trainable(base, False)
    return Sequential([*base, *head], name=name)
