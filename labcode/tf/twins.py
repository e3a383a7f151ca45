"""Keras twins of scratch objects: models, weights, optimisers and losses.

A scratch object and its Keras twin compute the same function with the same
numbers: :func:`to_keras` rebuilds a scratch ``Sequential`` as a
``keras.Sequential`` with the same weights and dtype, :func:`copy_weights`
copies weights either way, and :func:`keras_optimizer` / :func:`keras_loss`
give the Keras optimiser and loss with the same hyperparameters. A scratch
variant that Keras does not implement (the course's EWA momentum, the
paper's placement of Adam's ε, RReLU) raises an error that names it.
"""

from __future__ import annotations

import inspect
import numbers

import keras
import numpy as np

from labcode.scratch import activations as sa
from labcode.scratch import losses as sl
from labcode.scratch import optimizers as so
from labcode.scratch import schedules as ss
from labcode.scratch.base import Layer
from labcode.scratch.model import Sequential

__all__ = ["copy_weights", "to_keras", "keras_optimizer", "keras_loss"]

# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


def _is_scratch(obj) -> bool:
    return isinstance(obj, (Layer, Sequential))


def _describe(layer) -> str:
    side = "scratch" if _is_scratch(layer) else "Keras"
    return f"{side} {type(layer).__name__} '{layer.name}'"


def _scratch_layers(obj):
    """The scratch layers of ``obj`` in order, nested Sequentials flattened."""
    if isinstance(obj, Sequential):
        return [leaf for layer in obj.layers for leaf in _scratch_layers(layer)]
    return [obj]


def _keras_layers(obj):
    """The Keras layers of ``obj`` in order, nested models flattened."""
    if isinstance(obj, keras.Model):
        return [leaf for layer in obj.layers for leaf in _keras_layers(layer)]
    return [obj]


def _weighted(obj) -> tuple[list, bool]:
    """The layers of ``obj`` that hold weights, and whether ``obj`` is fully built."""
    if _is_scratch(obj):
        layers = _scratch_layers(obj)
        return [layer for layer in layers if layer.params], all(layer.built for layer in layers)
    if isinstance(obj, keras.layers.Layer):
        return [layer for layer in _keras_layers(obj) if layer.weights], bool(obj.built)
    raise TypeError(
        "copy_weights: expected a scratch Sequential or layer, or a Keras model or layer; "
        f"got {type(obj).__name__}"
    )


def _slots(layer) -> list[tuple[str, tuple, np.dtype]]:
    """(name, shape, dtype) of each weight array of ``layer``, in Keras' order."""
    if _is_scratch(layer):
        return [(k, p.shape, p.dtype) for k, p in layer.params.items()]
    return [(v.name, tuple(v.shape), np.dtype(v.dtype)) for v in layer.weights]


def copy_weights(src, dst):
    """Copy the weights of ``src`` into ``dst``: scratch → Keras, Keras → scratch (or same to same).

    The layers that hold weights are paired in order (weightless layers such
    as Flatten or activations are skipped, nested models flattened); each pair
    must have the same number of arrays with the same shapes. Values are cast
    to the destination's dtype.

    Parameters
    ----------
    src, dst : scratch Sequential or Layer, or keras.Model or keras.layers.Layer
        Both built (a scratch model builds on its first batch or ``build``;
        a Keras one on its first call or with ``keras.Input``).

    Returns
    -------
    dst

    Raises
    ------
    ValueError
        Naming the layers and both shapes, when the architectures differ;
        or when one side is not built yet.
    """
    (src_layers, src_built), (dst_layers, dst_built) = _weighted(src), _weighted(dst)
    if len(src_layers) != len(dst_layers):
        for obj, built in [(src, src_built), (dst, dst_built)]:
            if not built:
                raise ValueError(
                    f"copy_weights: {_describe(obj)} is not built yet, so it has no weights to copy; "
                    "call it on a batch (or build it, or give a Keras model a keras.Input) first"
                )
        raise ValueError(
            f"copy_weights: {_describe(src)} has {len(src_layers)} layers with weights "
            f"({', '.join(layer.name for layer in src_layers) or 'none'}) but {_describe(dst)} has "
            f"{len(dst_layers)} ({', '.join(layer.name for layer in dst_layers) or 'none'})"
        )
    plan = []
    for i, (s, d) in enumerate(zip(src_layers, dst_layers, strict=True), start=1):
        s_slots, d_slots = _slots(s), _slots(d)
        where = f"copy_weights: layer {i} of {len(src_layers)} with weights, {_describe(s)} → {_describe(d)}"
        if len(s_slots) != len(d_slots):
            listing = [", ".join(f"{n} {shape}" for n, shape, _ in x) for x in (s_slots, d_slots)]
            raise ValueError(
                f"{where}: {len(s_slots)} weight arrays ({listing[0]}) against {len(d_slots)} ({listing[1]})"
            )
        for (s_name, s_shape, _), (d_name, d_shape, _) in zip(s_slots, d_slots, strict=True):
            if tuple(s_shape) != tuple(d_shape):
                raise ValueError(
                    f"{where}: {s_name} of shape {tuple(s_shape)} does not fit {d_name} of shape {d_shape}"
                )
        plan.append((s, d, [dtype for _, _, dtype in d_slots]))
    for s, d, dtypes in plan:  # every check first: a failed copy leaves dst untouched
        d.set_weights([np.asarray(w, dtype=dt) for w, dt in zip(s.get_weights(), dtypes, strict=True)])
    return dst


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

# scratch activation layers whose Keras twin is keras.layers.Activation(name)
_AS_ACTIVATION = {sa.Sigmoid: "sigmoid", sa.Tanh: "tanh", sa.Linear: "linear"}
# constructor arguments to_keras never reads from a scratch layer
_NOT_COPIED = {"self", "name", "dtype", "trainable", "kwargs", "activation"}


def _rrelu_error(layer) -> NotImplementedError:
    mean = (layer.lower + layer.upper) / 2
    return NotImplementedError(
        f"to_keras: {_describe(layer)} has no Keras twin (Keras has no randomised leaky ReLU). At inference it is "
        f"a LeakyReLU with slope (lower + upper)/2 = {mean:.6g}: replace it by scratch.LeakyReLU({mean:.6g}) "
        "(keras.layers.LeakyReLU(negative_slope=…)) for a twin that predicts the same"
    )


def _activation_name(act) -> str | None:
    """The Keras name of a scratch activation inside Dense (None when it needs a layer of its own)."""
    if act is None or isinstance(act, sa.Linear):
        return "linear"
    if isinstance(act, sa.RReLU):
        raise _rrelu_error(act)
    simple = {sa.Sigmoid: "sigmoid", sa.Tanh: "tanh", sa.ReLU: "relu"}
    if type(act) in simple:
        return simple[type(act)]
    if isinstance(act, sa.LeakyReLU) and act.negative_slope == 0.2:
        return "leaky_relu"  # keras.activations.leaky_relu's slope
    if isinstance(act, sa.ELU) and act.alpha == 1.0:
        return "elu"
    if isinstance(act, sa.Softmax) and act.axis == -1:
        return "softmax"
    return None


def _plain(value):
    """``value`` if it is a plain constructor argument (number, string, bool, None, tuple of them), else ``...``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Number):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (tuple, list)):
        items = [_plain(v) for v in value]
        return ... if any(v is ... for v in items) else type(value)(items)
    return ...


def _keras_twin_layers(layer, dtype, name=None) -> list:
    """The Keras layers that compute what the scratch ``layer`` computes (one, or two with a split activation)."""
    common = {"name": name or layer.name, "dtype": dtype, "trainable": layer.trainable}
    if isinstance(layer, sa.RReLU):
        raise _rrelu_error(layer)
    if type(layer) in _AS_ACTIVATION:
        return [keras.layers.Activation(_AS_ACTIVATION[type(layer)], **common)]
    cls = getattr(keras.layers, type(layer).__name__, None)
    if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
        raise NotImplementedError(f"to_keras: {_describe(layer)} has no Keras layer of the same name")
    params = inspect.signature(cls.__init__).parameters
    kwargs = {}
    for arg in params:
        if arg not in _NOT_COPIED and hasattr(layer, arg) and _plain(getattr(layer, arg)) is not ...:
            kwargs[arg] = _plain(getattr(layer, arg))
    extra = []
    if "activation" in params and hasattr(layer, "activation"):
        act = _activation_name(layer.activation)
        if act is None:  # e.g. LeakyReLU(0.1) inside Dense: Keras computes it in a layer of its own
            extra = _keras_twin_layers(layer.activation, dtype, name=f"{common['name']}_activation")
            act = "linear"
        kwargs["activation"] = act
    return [cls(**kwargs, **common), *extra]


def to_keras(model, input_shape=None):
    """The ``keras.Sequential`` twin of a scratch model, with its weights and dtype.

    Dense (units, activation, use_bias), Flatten and the activation layers
    Sigmoid, Tanh, ReLU, LeakyReLU, PReLU, ELU, Softmax and Linear map to
    their Keras layers, with the scratch layers' names. Any other scratch
    layer named like a Keras layer (Conv2D, MaxPool2D, Dropout …) becomes
    that layer, built from its attributes that share a name with the Keras
    constructor's arguments (numbers, strings, booleans, tuples). A Dense
    activation that Keras knows by no name (``LeakyReLU(0.1)``) becomes a
    layer of its own after the Dense. Training-time layers (dropout, batch
    normalisation) keep their own Keras behaviour.

    In float64 the twin predicts what the scratch model predicts to rounding
    (~1e-15 relative), with one exception from TensorFlow: its LeakyRelu
    kernel holds the slope as a float32 attribute, so a slope that is not a
    float32 number (0.3, the "leaky_relu" activation's 0.2) becomes
    0.30000001…, a relative difference of ~1e-8 on negative inputs. Slopes
    such as 0.25 or 0.125 are exact in both. (In float32 both round the
    same way.) Mind also that Keras' ``predict``, ``fit``, ``evaluate`` and
    ``train_on_batch`` cast NumPy float inputs to ``keras.config.floatx()``
    (float32 by default) before a float64 model sees them: compare with
    ``twin(x)``, or under ``keras.config.set_floatx("float64")``.

    Parameters
    ----------
    model : scratch Sequential or Layer
        The model; built already, or built here for ``input_shape`` (drawing
        its initial weights).
    input_shape : tuple of int, optional
        The shape of one sample, without the batch axis (Keras' convention),
        e.g. ``(8, 8)``; by default the shape the model was built for.

    Returns
    -------
    keras.Sequential
        Built (with a ``keras.Input``), in the dtype of the model's weights,
        holding copies of them; not compiled (see :func:`keras_optimizer`,
        :func:`keras_loss`).

    Raises
    ------
    NotImplementedError
        For RReLU (no Keras twin; the message gives the LeakyReLU that
        predicts the same) and layers with no Keras counterpart.
    """
    if isinstance(model, Layer):
        model = Sequential([model])
    if not isinstance(model, Sequential):
        raise TypeError(f"to_keras: expected a scratch Sequential or layer, got {type(model).__name__}")
    layers = _scratch_layers(model)
    if not layers:
        raise ValueError(f"to_keras: {_describe(model)} has no layers")
    if input_shape is not None:
        input_shape = tuple(int(d) for d in np.atleast_1d(input_shape))
    built = layers[0].input_shape
    if built is None and input_shape is None:
        raise ValueError(
            f"to_keras: {_describe(model)} is not built yet; pass input_shape (one sample's shape, e.g. (8, 8)) "
            "or call the model on a batch first"
        )
    if built is not None and input_shape is not None and input_shape != tuple(built[1:]):
        raise ValueError(
            f"to_keras: {_describe(model)} was built for samples of shape {tuple(built[1:])}, "
            f"got input_shape={input_shape}"
        )
    shape = tuple(built[1:]) if built is not None else input_shape
    if not all(layer.built for layer in layers):
        model.build((None, *shape))
    with_weights = [layer for layer in layers if layer.params]
    dtype = str(with_weights[0].dtype if with_weights else (layers[0].dtype or np.dtype("float32")))
    twin = keras.Sequential([keras.Input(shape=shape, dtype=dtype)], name=model.name)
    for layer in layers:
        for keras_layer in _keras_twin_layers(layer, dtype):
            twin.add(keras_layer)
    copy_weights(model, twin)
    return twin


# ---------------------------------------------------------------------------
# Optimisers and losses
# ---------------------------------------------------------------------------

_SCHEDULES = {
    ss.InverseTimeDecay: lambda s: keras.optimizers.schedules.InverseTimeDecay(**s.get_config()),
    ss.ExponentialDecay: lambda s: keras.optimizers.schedules.ExponentialDecay(**s.get_config()),
    ss.PiecewiseConstantDecay: lambda s: keras.optimizers.schedules.PiecewiseConstantDecay(s.boundaries, s.values),
    ss.StepDecay: lambda s: keras.optimizers.schedules.ExponentialDecay(
        s.initial_learning_rate, s.every, s.drop, staircase=True),
}


def _keras_learning_rate(opt):
    if opt._schedule is None:
        return opt.learning_rate
    schedule = opt._schedule
    if type(schedule) in _SCHEDULES:
        return _SCHEDULES[type(schedule)](schedule)
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule) or opt._schedule_takes_no_step:
        return schedule  # Keras takes its own schedules, and callables with no argument
    raise ValueError(
        f"keras_optimizer: {opt.name}'s learning rate is a function of the step ({schedule!r}), which Keras "
        "cannot call on its step tensor; use a labcode.scratch.schedules or keras.optimizers.schedules object"
    )


def _no_twin(opt, variant: str, hint: str) -> ValueError:
    return ValueError(f"keras_optimizer: {opt!r} has no Keras twin: {variant} is not Keras' formula. {hint}")


def keras_optimizer(optimizer):
    """The Keras optimiser with the same formula and hyperparameters as a scratch one.

    A fresh optimiser: the scratch one's state (moments, ``iterations``) is
    not copied. Learning-rate schedules from :mod:`labcode.scratch.schedules`
    become their ``keras.optimizers.schedules`` twins (StepDecay an
    ExponentialDecay with ``staircase=True``).

    Parameters
    ----------
    optimizer : labcode.scratch Optimizer or str
        ``SGD``, ``Adagrad``, ``RMSprop`` or ``Adam`` (or its name).

    Returns
    -------
    keras.optimizers.Optimizer

    Raises
    ------
    ValueError
        For the variants Keras does not implement, naming them:
        ``SGD(momentum_form="ewa")`` (with momentum), ``Adam(epsilon_placement="paper")``,
        ``Adagrad`` / ``RMSprop`` with ``epsilon_placement="outside"``.
    """
    opt = so.get(optimizer)
    lr = _keras_learning_rate(opt)
    if isinstance(opt, so.SGD):
        if opt.momentum_form != "keras" and opt.momentum != 0:
            raise _no_twin(opt, "momentum_form='ewa' (v ← βv + (1 − β)g; θ ← θ − ηv)",
                           "With a constant η, SGD(learning_rate=(1 − β)·η, momentum=β) follows the same path.")
        return keras.optimizers.SGD(lr, momentum=opt.momentum, nesterov=opt.nesterov)
    if isinstance(opt, (so.Adagrad, so.RMSprop)) and opt.epsilon_placement != "inside":
        raise _no_twin(opt, "epsilon_placement='outside' (η·g / (√s + ε))",
                       "Keras adds ε inside the root; epsilon_placement='inside' has a twin.")
    if isinstance(opt, so.Adagrad):
        return keras.optimizers.Adagrad(lr, initial_accumulator_value=opt.initial_accumulator_value,
                                        epsilon=opt.epsilon)
    if isinstance(opt, so.RMSprop):
        return keras.optimizers.RMSprop(lr, rho=opt.rho, momentum=opt.momentum, epsilon=opt.epsilon,
                                        centered=opt.centered)
    if isinstance(opt, so.Adam):
        if opt.epsilon_placement != "keras":
            raise _no_twin(opt, "epsilon_placement='paper' (Algorithm 1: η·m̂ / (√v̂ + ε))",
                           "Keras' Adam is that rule with ε replaced by ε/√(1 − β₂ᵗ); "
                           "epsilon_placement='keras' has a twin.")
        return keras.optimizers.Adam(lr, beta_1=opt.beta_1, beta_2=opt.beta_2, epsilon=opt.epsilon,
                                     amsgrad=opt.amsgrad)
    raise ValueError(f"keras_optimizer: no Keras twin known for {type(opt).__name__}")


_LOSSES = {
    sl.BinaryCrossentropy: "BinaryCrossentropy",
    sl.CategoricalCrossentropy: "CategoricalCrossentropy",
    sl.SparseCategoricalCrossentropy: "SparseCategoricalCrossentropy",
    sl.MeanSquaredError: "MeanSquaredError",
}


def keras_loss(loss, dtype=None):
    """The ``keras.losses`` twin of a scratch loss (same ``from_logits``, same mean-over-batch reduction).

    Parameters
    ----------
    loss : labcode.scratch Loss or str
        E.g. ``SparseCategoricalCrossentropy(from_logits=True)`` or ``"mse"``.
    dtype : str, optional
        The dtype Keras computes the loss in (its floatx, float32, by
        default); "float64" to compare with a float64 scratch loss to the last digits.

    Returns
    -------
    keras.losses.Loss
    """
    loss = sl.get(loss)
    name = _LOSSES.get(type(loss))
    if name is None:
        raise ValueError(f"keras_loss: no Keras twin known for {type(loss).__name__}")
    kwargs = {"from_logits": loss.from_logits} if hasattr(loss, "from_logits") else {}
    return getattr(keras.losses, name)(**kwargs, dtype=dtype)
