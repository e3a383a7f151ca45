"""Callbacks for ``Sequential.fit``, like ``keras.callbacks``: a hook into the training loop, and early stopping.

``fit(callbacks=[...])`` calls, on each callback:

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_train_batch_begin(step, logs) / on_train_batch_end(step, logs)   (step: within the epoch, from 0)
      on_epoch_end(epoch, logs)       logs: "loss", "accuracy", "val_loss", "val_accuracy" …
    on_train_end(logs)

A callback reaches the model as ``self.model`` and stops training by setting
``self.model.stop_training = True`` (checked after every step and epoch).
``fit`` also gives each callback ``self.params`` (epochs, steps,
batch_size) and ``self.validation_data`` (the pair passed to fit, or None).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["Callback", "EarlyStopping", "LambdaCallback"]


class Callback:
    """Base class: override the hooks you need (each receives a ``logs`` dict)."""

    def __init__(self):
        self.model = None
        self.params: dict = {}
        self.validation_data = None

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = dict(params)

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_epoch_begin(self, epoch, logs=None): ...

    def on_epoch_end(self, epoch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None): ...

    def on_train_batch_end(self, batch, logs=None): ...


class LambdaCallback(Callback):
    """A callback from functions, like ``keras.callbacks.LambdaCallback``.

    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))``.
    """

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
              "on_train_batch_end")

    def __init__(self, **hooks):
        super().__init__()
        unknown = set(hooks) - set(self._HOOKS)
        if unknown:
            raise ValueError(f"LambdaCallback: unknown hooks {sorted(unknown)}; known: {', '.join(self._HOOKS)}")
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


class EarlyStopping(Callback):
    """Stop training when a monitored quantity stops improving, like ``keras.callbacks.EarlyStopping``.

    Each evaluation (after every epoch, or every ``every`` steps) compares the
    monitored value with the best so far; an improvement (by more than
    ``min_delta``) resets the count and, with ``restore_best_weights``, keeps a
    snapshot (copies) of the weights. After ``patience`` evaluations without
    improvement training stops, and at its end the best snapshot is restored.

    Parameters
    ----------
    monitor : str
        A key of fit's logs: "val_loss" (default), "val_accuracy", "loss", "accuracy".
    min_delta : float
        The smallest change that counts as an improvement (its sign is ignored).
    patience : int
        Evaluations without improvement before stopping (0: stop at the first).
    verbose : int
        1 prints when it stops and restores.
    mode : {"auto", "min", "max"}
        Whether lower or higher is better; "auto" infers it from the name
        ("loss" → min, "accuracy" → max).
    baseline : float, optional
        A value to beat: training stops after ``patience`` evaluations that do not.
    restore_best_weights : bool
        Restore the best evaluation's weights at the end of training (Keras'
        default False keeps the last weights).
    start_from_epoch : int
        Epochs of warm-up before monitoring starts.
    every : int, optional
        Evaluate on fit's ``validation_data`` every ``every`` training steps
        instead of once per epoch (``monitor`` must then be "val_loss" or
        "val_accuracy"): finer-grained early stopping for a few long epochs.

    Attributes
    ----------
    best : float
        The best monitored value.
    best_epoch, best_step : int
        The epoch (from 0) and the number of training steps done (in all) at
        the best evaluation.
    stopped_epoch, stopped_step : int
        The epoch in which training stopped and the steps done by then (0 and 0 if it did not).
    best_weights : list of numpy.ndarray or None
        The snapshot, with ``restore_best_weights``.
    evaluations : list of (int, int, float)
        (epoch, steps done, monitored value) for every evaluation: a learning curve.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0, every=None):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be a log key such as 'val_loss', got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        for value, name in ((patience, "patience"), (start_from_epoch, "start_from_epoch")):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"EarlyStopping: {name} must be an int ≥ 0, got {value!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real):
            raise ValueError(f"EarlyStopping: min_delta must be a number, got {min_delta!r}")
        if every is not None:
            if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
                raise ValueError(f"EarlyStopping: every must be a positive number of steps or None, got {every!r}")
            if not monitor.startswith("val_"):
                raise ValueError(
                    f"EarlyStopping: every={every} evaluates on the validation set, so monitor must be "
                    f"'val_loss' or 'val_accuracy', got {monitor!r}"
                )
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.every = None if every is None else int(every)
        self._reset()

    def __repr__(self):
        return f"<EarlyStopping monitor={self.monitor!r} patience={self.patience}>"

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.stopped_step = 0
        self.best = None  # like Keras: the baseline is a bar to clear, not the first best
        self.best_epoch = 0
        self.best_step = 0
        self.best_weights = None
        self.evaluations: list[tuple[int, int, float]] = []
        self._steps = 0
        self._epoch = 0
        self._sign = None  # +1: lower is better, −1: higher is better

    def _direction(self) -> int:
        if self.mode == "min":
            return 1
        if self.mode == "max":
            return -1
        name = self.monitor.removeprefix("val_")
        if name == "loss" or name.endswith("loss") or name.endswith("error"):
            return 1
        if name in ("accuracy", "acc", "precision", "recall", "f1", "auc"):
            return -1
        raise ValueError(
            f"EarlyStopping: cannot tell whether {self.monitor!r} should go down or up; pass mode='min' or 'max'"
        )

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        # Keras: value − min_delta > reference (max), value + min_delta < reference (min)
        return bool(self._sign * (value - reference) < -self.min_delta)

    # -- hooks -------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._reset()
        self._sign = self._direction()
        if self.every is not None and self.validation_data is None:
            raise ValueError(
                f"EarlyStopping: every={self.every} evaluates {self.monitor!r} on the validation set; "
                "pass validation_data=(x_val, y_val) to fit"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        if self.every is None or self._steps % self.every or self._epoch < self.start_from_epoch:
            return
        values = self.model.evaluate(*self.validation_data, return_dict=True)
        key = self.monitor.removeprefix("val_")
        if key not in values:
            raise ValueError(
                f"EarlyStopping: monitor {self.monitor!r} is not available; the validation set gives "
                f"{', '.join('val_' + k for k in values)}"
            )
        self._evaluate(float(values[key]), first_allowed=len(self.evaluations) > 0)

    def on_epoch_end(self, epoch, logs=None):
        if self.every is not None:
            return
        logs = logs or {}
        if self.monitor not in logs:
            hint = "; pass validation_data=(x_val, y_val) to fit" if self.monitor.startswith("val_") else ""
            raise ValueError(
                f"EarlyStopping: monitor {self.monitor!r} is not in fit's logs (available: "
                f"{', '.join(logs) or 'none'}){hint}"
            )
        self._epoch = epoch
        if epoch < self.start_from_epoch:
            return
        self._evaluate(float(logs[self.monitor]), first_allowed=epoch > 0)

    def _evaluate(self, current: float, first_allowed: bool) -> None:
        """One evaluation, as Keras' on_epoch_end (``first_allowed``: may stop now, Keras' ``epoch > 0``)."""
        self.evaluations.append((self._epoch, self._steps, current))
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # the first evaluated weights, until one beats them
            self.best_epoch, self.best_step = self._epoch, self._steps
        self.wait += 1
        if np.isfinite(current) and self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch, self.best_step = self._epoch, self._steps
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and first_allowed:
            self.stopped_epoch, self.stopped_step = self._epoch, self._steps
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_step > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}"
                      + (f" (step {self.best_step})" if self.every else "") + ".")
            self.model.set_weights(self.best_weights)


class CallbackList:
    """The callbacks of one ``fit``: set up with the model, called hook by hook (internal)."""

    def __init__(self, callbacks, model, params: dict, validation_data=None):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        for cb in callbacks:
            if not any(callable(getattr(cb, hook, None)) for hook in LambdaCallback._HOOKS):
                raise TypeError(
                    f"{model._where}.fit: callbacks must be Callback objects (e.g. EarlyStopping(patience=3)), "
                    f"got {type(cb).__name__}"
                )
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if hasattr(cb, "set_model"):
                cb.set_model(model)
            else:
                cb.model = model
            if hasattr(cb, "set_params"):
                cb.set_params(params)
            cb.validation_data = validation_data

    def __bool__(self):
        return bool(self.callbacks)

    def call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(*args)
