"""``Sequential``: a stack of scratch layers with Keras' ``fit`` / ``predict`` / ``evaluate``.

One training step on a mini-batch (X, y) is the whole of backpropagation:

1. forward:  out = f_L(… f_2(f_1(X)))          (each layer caches what it needs)
2. loss:     L = loss(y, out) + Σ Ω(θ) (the weight penalties) and g = ∂L/∂out
3. backward: g ← layer.backward(g), last layer first (each fills its ``grads``),
             then ∂Ω/∂θ is added to the penalised parameters' gradients
4. update:   optimizer.apply_gradients(model.grads_and_vars())

Steps 1–3 are :meth:`Sequential.compute_gradients`. ``fit`` calls its
callbacks (:mod:`labcode.scratch.callbacks`) after each step and epoch; one of
them may stop the training (``model.stop_training = True``).
"""

from __future__ import annotations

import numbers

import numpy as np

from labcode.scratch import losses as losses_module
from labcode.scratch.base import Layer, as_batch, unique_name
from labcode.scratch.callbacks import CallbackList

__all__ = ["Sequential", "History"]

_OPTIMIZER_NAMES = ("sgd", "adam", "rmsprop", "adagrad")


def _check_positive_int(value, what, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: {what} must be a positive int, got {value!r}")
    return int(value)


def _get_optimizer(optimizer, where):
    if optimizer is None:
        return None
    if isinstance(optimizer, str):
        from labcode.scratch import optimizers

        try:
            return optimizers.get(optimizer)
        except ValueError as e:
            raise ValueError(f"{where}: unknown optimizer {optimizer!r}; known: {', '.join(_OPTIMIZER_NAMES)}") from e
    if not hasattr(optimizer, "apply_gradients"):
        raise TypeError(
            f"{where}: optimizer must have apply_gradients(grads_and_vars) (e.g. labcode.scratch.SGD(0.1)) "
            f"or be a name ({', '.join(_OPTIMIZER_NAMES)}); got {type(optimizer).__name__}"
        )
    return optimizer


class History:
    """What ``fit`` returns, like Keras' ``History``.

    Attributes
    ----------
    history : dict[str, list[float]]
        One value per epoch: "loss" (and "accuracy" for classification
        losses), then "val_loss" / "val_accuracy" with ``validation_data``.
    epoch : list[int]
        The epochs run, from 0.
    params : dict
        epochs, steps (per epoch), batch_size.
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict = {}
        self.model = None

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class Sequential:
    """A linear stack of layers, trained by backpropagation.

    Parameters
    ----------
    layers : list of Layer, optional
        In order, input first (more with :meth:`add`); layers that are already
        built (e.g. ``trained.layers[:2]``) keep their weights, so a new model
        can reuse them (transfer learning, :mod:`labcode.scratch.transfer_learning`).
    name : str, optional
        Defaults to "sequential" (numbered like Keras').

    Examples
    --------
    >>> model = Sequential([Flatten(), Dense(128, activation="relu"), Dense(10)])
    >>> model.compile(optimizer=SGD(0.1), loss=SparseCategoricalCrossentropy(from_logits=True))
    >>> history = model.fit(x_train, y_train, epochs=5, batch_size=32)   # doctest: +SKIP
    """

    def __init__(self, layers=None, name: str | None = None):
        self.name = name if name else unique_name("sequential")
        self.layers: list[Layer] = []
        self.optimizer = None
        self.loss = None
        self.metrics = None
        self.history: History | None = None
        self.stop_training = False  # a callback sets it to end fit early
        for layer in layers or []:
            self.add(layer)

    def __repr__(self):
        return f"<Sequential '{self.name}' layers={[layer.name for layer in self.layers]}>"

    @property
    def _where(self):
        return f"Sequential '{self.name}'"

    def add(self, layer: Layer) -> None:
        """Append a layer."""
        if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
            raise TypeError(f"{self._where}: expected a layer (with forward and backward), got {type(layer).__name__}")
        if any(layer is other for other in self.layers):
            raise ValueError(f"{self._where}: layer {layer.name!r} is already in the model (its cache would clash)")
        self.layers.append(layer)

    # -- passes ------------------------------------------------------------------------------
    def __call__(self, x, training: bool = False):
        return self.forward(x, training=training)

    def forward(self, x, training: bool = False) -> np.ndarray:
        """The output of the last layer for the batch ``x``."""
        if not self.layers:
            raise ValueError(f"{self._where}: has no layers; add some first")
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dout) -> np.ndarray:
        """∂L/∂x from ``dout`` = ∂L/∂out, filling every layer's ``grads``."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def _backward_for_training(self, dout) -> None:
        """Fill the parameter gradients only: the backward pass stops at the first layer with
        trainable parameters, which skips its ∂L/∂x (the gradient of the data, which nothing uses)."""
        first = next((i for i, layer in enumerate(self.layers) if layer.trainable_weights), None)
        if first is None:
            return
        for layer in self.layers[:first:-1]:
            dout = layer.backward(dout)
        layer = self.layers[first]
        saved = layer.need_input_gradient
        layer.need_input_gradient = False
        try:
            layer.backward(dout)
        finally:
            layer.need_input_gradient = saved

    def build(self, input_shape, dtype=None) -> None:
        """Create every layer's parameters for inputs of ``input_shape`` (batch axis first) without data."""
        shape = (None, *tuple(input_shape)[1:])
        for layer in self.layers:
            if not layer.built:
                if dtype is not None and layer.dtype is None:
                    layer.dtype = np.dtype(dtype)
                layer.build(shape)
            shape = layer.compute_output_shape(shape)

    # -- parameters --------------------------------------------------------------------------
    @property
    def weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.trainable_weights]

    def parameters(self) -> list[np.ndarray]:
        return self.trainable_weights

    def gradients(self) -> list[np.ndarray]:
        """∂L/∂θ after ``backward``, matching ``trainable_weights``."""
        return [g for layer in self.layers for g in layer.gradients()]

    def grads_and_vars(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(gradient, parameter)`` pairs for ``optimizer.apply_gradients``."""
        return [pair for layer in self.layers for pair in layer.grads_and_vars()]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in getattr(layer, "non_trainable_weights", [])]

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    # -- weight penalties --------------------------------------------------------------------
    @property
    def losses(self) -> list[float]:
        """The layers' weight penalties Ω(θ) at the current weights, like Keras' ``model.losses``."""
        return [v for layer in self.layers for v in getattr(layer, "losses", [])]

    def regularization_loss(self, batch_size: int | None = None) -> float:
        """Σ Ω(θ) over the layers (``batch_size``: m for the course's convention; default: the last batch's)."""
        return float(sum(layer.regularization_loss(batch_size) for layer in self.layers
                         if hasattr(layer, "regularization_loss")))

    def _add_regularization_gradients(self, batch_size: int) -> None:
        for layer in self.layers:
            if hasattr(layer, "add_regularization_gradients"):
                layer.add_regularization_gradients(batch_size)

    def compute_gradients(self, x, y, training: bool = True) -> float:
        """Forward, loss and backward on the batch (x, y) without an update; returns the total loss.

        The total is J = loss(y, model(x)) + Σ Ω(θ); afterwards every layer's
        ``grads`` holds ∂J/∂θ (penalties included), and ``grads_and_vars()``
        is ready for an optimiser. A gradient check of J compares against it.
        """
        loss = self._need_loss("compute_gradients")
        x, y = self._check_xy(x, y, "compute_gradients")
        value, _ = self._step_gradients(x, y, loss, training)
        return value

    def _step_gradients(self, x, y, loss, training=True):
        out = self.forward(x, training=training)
        value, dout = loss.value_and_gradient(y, out)
        self._backward_for_training(dout)
        m = len(x)
        penalty = self.regularization_loss(m)
        self._add_regularization_gradients(m)
        return value + penalty, out

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all parameters, layer by layer, in Keras' order (a Keras twin's ``set_weights`` takes them)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Copy ``weights`` (e.g. ``keras_model.get_weights()``) into the parameters, in place."""
        weights = list(weights)
        expected = sum(len(layer.params) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"{self._where}: expected {expected} arrays, got {len(weights)}")
        i = 0
        for layer in self.layers:
            n = len(layer.params)
            layer.set_weights(weights[i:i + n])
            i += n

    def reseed(self, seed=None) -> None:
        """Reseed every layer's noise (layer i gets ``default_rng([seed, i])``; None: NumPy's global state)."""
        for i, layer in enumerate(self.layers):
            if hasattr(layer, "reseed"):
                layer.reseed(None if seed is None else np.random.default_rng([seed, i]))

    # -- training ----------------------------------------------------------------------------
    def compile(self, optimizer=None, loss=None, metrics=None) -> None:
        """Choose the optimiser, the loss and the metrics, like Keras' ``compile``.

        Parameters
        ----------
        optimizer : optimizer or str
            An object with ``apply_gradients`` (``SGD(0.1)``, ``Adam()``) or a name ("sgd", "adam", …).
        loss : Loss or str
            E.g. ``SparseCategoricalCrossentropy(from_logits=True)`` or "mse".
        metrics : list of str, optional
            ``["accuracy"]`` or ``[]``; by default accuracy is tracked wherever
            the loss is a classification loss.
        """
        self.optimizer = _get_optimizer(optimizer, self._where)
        self.loss = None if loss is None else losses_module.get(loss)
        if metrics is not None:
            metrics = list(metrics)
            unknown = [m for m in metrics if m not in ("accuracy", "acc")]
            if unknown:
                raise ValueError(f"{self._where}: unknown metrics {unknown}; known: 'accuracy'")
        self.metrics = metrics

    def _track_accuracy(self) -> bool:
        return self.metrics is None or len(self.metrics) > 0

    def _check_xy(self, x, y, where):
        x = as_batch(x, f"{self._where}.{where}")
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(
                f"{self._where}.{where}: x and y must have the same number of samples, "
                f"got {len(x)} and {y.shape[0] if y.ndim else 'a scalar'}"
            )
        if len(x) == 0:
            raise ValueError(f"{self._where}.{where}: got no samples")
        return x, y

    def _need_loss(self, where):
        if self.loss is None:
            raise ValueError(f"{self._where}.{where}: no loss; pass loss=… or call compile(optimizer, loss) first")
        return self.loss

    def train_on_batch(self, x, y) -> float:
        """One step of gradient descent on the batch (x, y); returns the batch's loss (before the update)."""
        loss = self._need_loss("train_on_batch")
        if self.optimizer is None:
            raise ValueError(f"{self._where}.train_on_batch: no optimizer; call compile(optimizer, loss) first")
        x, y = self._check_xy(x, y, "train_on_batch")
        value, _ = self._step_gradients(x, y, loss)
        if not np.isfinite(value):
            raise FloatingPointError(f"{self._where}.train_on_batch: the loss is {value}")
        self.optimizer.apply_gradients(self.grads_and_vars())
        return value

    def fit(self, x, y, epochs: int = 1, batch_size: int = 32, optimizer=None, loss=None, validation_data=None,
            shuffle: bool = True, verbose: int = 1, seed=None, callbacks=None) -> History:
        """Train by mini-batch gradient descent; returns a :class:`History`.

        Parameters
        ----------
        x, y : numpy.ndarray
            X, the inputs (samples first), and y, the targets.
        epochs : int
            Passes over the data.
        batch_size : int
            m, samples per step (the last batch of an epoch may be smaller).
        optimizer, loss : optional
            Override (and replace) those given to :meth:`compile`.
        validation_data : (x_val, y_val), optional
            Evaluated after each epoch: "val_loss", "val_accuracy".
        shuffle : bool
            A new order of the samples each epoch.
        verbose : int
            0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        seed : int, optional
            Makes the shuffling (and stochastic layers' noise) reproducible; by
            default both come from NumPy's global state (:func:`labcode.seed`).
        callbacks : list of Callback, optional
            E.g. ``[EarlyStopping(patience=5, restore_best_weights=True)]``;
            see :mod:`labcode.scratch.callbacks`.

        The reported "loss" includes the weight penalties (``model.losses``), like Keras'.

        Raises
        ------
        FloatingPointError
            When the loss becomes NaN or infinite, naming the epoch and step.
        """
        from labcode.data import minibatches

        if optimizer is not None:
            self.optimizer = _get_optimizer(optimizer, self._where)
        if loss is not None:
            self.loss = losses_module.get(loss)
        loss = self._need_loss("fit")
        if self.optimizer is None:
            raise ValueError(f"{self._where}.fit: no optimizer; pass optimizer=… or call compile(optimizer, loss)")
        x, y = self._check_xy(x, y, "fit")
        epochs = _check_positive_int(epochs, "epochs", f"{self._where}.fit")
        batch_size = _check_positive_int(batch_size, "batch_size", f"{self._where}.fit")
        if verbose not in (0, 1, 2):
            raise ValueError(f"{self._where}.fit: verbose must be 0, 1 or 2, got {verbose!r}")
        if validation_data is not None:
            if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
                raise ValueError(f"{self._where}.fit: validation_data must be a pair (x_val, y_val)")
            validation_data = self._check_xy(*validation_data, "fit(validation_data)")
        rng = None
        if seed is not None:
            rng = np.random.default_rng(seed)
            self.reseed(int(rng.integers(2**31)))
        track_acc = self._track_accuracy()
        steps = -(-len(x) // batch_size)

        history = History()
        history.params = {"epochs": epochs, "steps": steps, "batch_size": batch_size}
        history.model = self
        self.history = history
        cbs = CallbackList(callbacks, self, history.params, validation_data)
        self.stop_training = False
        bar_cls = None
        if verbose == 1:
            from tqdm.auto import tqdm as bar_cls

        logs: dict[str, float] = {}
        cbs.call("on_train_begin", logs)
        for epoch in range(epochs):
            cbs.call("on_epoch_begin", epoch, {})
            bar = bar_cls(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", leave=True) if bar_cls else None
            loss_sum, correct, seen = 0.0, 0.0, 0
            for step, (xb, yb) in enumerate(minibatches(x, y, batch_size, shuffle=shuffle, seed=rng), start=1):
                if cbs:
                    cbs.call("on_train_batch_begin", step - 1, {})
                with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                    value, out = self._step_gradients(xb, yb, loss)
                    if not np.isfinite(value):
                        if bar is not None:
                            bar.close()
                        raise FloatingPointError(
                            f"{self._where}.fit: the loss became {value} at epoch {epoch + 1}/{epochs}, "
                            f"step {step}/{steps}; training stopped. Lower the learning rate, or look for "
                            "NaN/inf in the inputs."
                        )
                    self.optimizer.apply_gradients(self.grads_and_vars())
                n = len(xb)
                loss_sum += value * n
                seen += n
                acc = loss.accuracy(yb, out) if track_acc else None
                if acc is not None:
                    correct += acc * n
                if bar is not None:
                    bar.update(1)
                    if step % 10 == 0 or step == steps:
                        bar.set_postfix(self._logs(loss_sum, correct, seen, acc is not None), refresh=False)
                if cbs:
                    cbs.call("on_train_batch_end", step - 1, self._logs(loss_sum, correct, seen, acc is not None))
                    if self.stop_training:
                        break
            logs = self._logs(loss_sum, correct, seen, acc is not None)
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=batch_size, return_dict=True)
                logs.update({f"val_{k}": v for k, v in val.items()})
            history.epoch.append(epoch)
            for k, v in logs.items():
                history.history.setdefault(k, []).append(v)
            if bar is not None:
                bar.set_postfix(logs)
                bar.close()
            elif verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
            cbs.call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        cbs.call("on_train_end", logs)
        return history

    @staticmethod
    def _logs(loss_sum, correct, seen, with_acc) -> dict[str, float]:
        logs = {"loss": loss_sum / seen}
        if with_acc:
            logs["accuracy"] = correct / seen
        return logs

    def predict(self, x, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """The outputs for ``x``, computed ``batch_size`` samples at a time in inference mode."""
        x = as_batch(x, f"{self._where}.predict")
        batch_size = _check_positive_int(batch_size, "batch_size", f"{self._where}.predict")
        starts = range(0, len(x), batch_size)
        if verbose:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="predict", unit="step")
        outs = [self.forward(x[i:i + batch_size], training=False) for i in starts]
        if not outs:
            raise ValueError(f"{self._where}.predict: got no samples")
        return np.concatenate(outs)

    def evaluate(self, x, y, batch_size: int = 32, verbose: int = 0, return_dict: bool = False):
        """The mean loss (and accuracy) on (x, y) in inference mode.

        Returns
        -------
        float, (loss, accuracy) or dict
            The loss alone when accuracy is not tracked (regression, or
            ``metrics=[]``); ``{"loss": …, "accuracy": …}`` with ``return_dict``.
            Like Keras', the loss includes the weight penalties (in the
            course's convention with m = the number of samples evaluated).
        """
        loss = self._need_loss("evaluate")
        x, y = self._check_xy(x, y, "evaluate")
        out = self.predict(x, batch_size=batch_size, verbose=verbose)
        result = {"loss": loss(y, out) + self.regularization_loss(len(x))}
        if self._track_accuracy():
            acc = loss.accuracy(y, out)
            if acc is not None:
                result["accuracy"] = acc
        if return_dict:
            return result
        return result["loss"] if len(result) == 1 else (result["loss"], result["accuracy"])

    # -- description -------------------------------------------------------------------------
    def summary(self, print_fn=print) -> None:
        """Print the layers, their output shapes and parameter counts, like Keras' ``summary``."""
        rows = []
        shape = self.layers[0].input_shape if self.layers and self.layers[0].built else None
        for layer in self.layers:
            if shape is not None:
                shape = layer.compute_output_shape(shape)
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", "?" if shape is None else str(shape), params))
        headers = ("Layer (type)", "Output Shape", "Param #")
        widths = [max([len(h)] + [len(r[i]) for r in rows]) + 2 for i, h in enumerate(headers)]
        line = "=" * sum(widths)
        print_fn(f'Model: "{self.name}"')
        print_fn("".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        print_fn(line)
        for r in rows:
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        print_fn(line)
        trainable = sum(p.size for p in self.trainable_weights)
        total = self.count_params()
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
