"""Regularisation from scratch: weight penalties (two conventions), dropout, early stopping, transfer learning,
and an over-fitting MLP on digits that each of L2, dropout and early stopping improves."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import contextlib

import numpy as np
import pytest

from labcode import scratch
from labcode.data import load_digits
from labcode.gradcheck import layer_errors, numerical_gradient, relative_error
from labcode.scratch import regularizers
from labcode.scratch.callbacks import Callback, EarlyStopping, LambdaCallback
from labcode.scratch.dropout import Dropout
from labcode.scratch.metrics import train_dev_test_split
from labcode.scratch.normalization import BatchNormalization
from labcode.scratch.regularizers import L1, L1L2, L2, course_l1, course_l2
from labcode.scratch.transfer_learning import freeze, transfer, unfreeze

TOL = 1e-7
F64 = "float64"


def _keras():
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")
    return keras, tf


# ---------------------------------------------------------------------------
# Weight penalties
# ---------------------------------------------------------------------------

def test_penalty_formulas_in_both_conventions():
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    sq, ab = 1 + 4 + 0.25, 1 + 2 + 0.5
    assert L2(0.1)(w) == pytest.approx(0.1 * sq)  # Keras: λ‖W‖²
    np.testing.assert_allclose(L2(0.1).gradient(w), 0.2 * w)
    assert L1(0.1)(w) == pytest.approx(0.1 * ab)  # Keras: λΣ|w|
    np.testing.assert_allclose(L1(0.1).gradient(w), 0.1 * np.sign(w))
    assert L1L2(0.1, 0.2)(w) == pytest.approx(0.1 * ab + 0.2 * sq)
    m = 8
    assert course_l2(0.7)(w, batch_size=m) == pytest.approx(0.7 / (2 * m) * sq)  # the course: λ/(2m)‖W‖²
    np.testing.assert_allclose(course_l2(0.7).gradient(w, batch_size=m), 0.7 / m * w)
    assert course_l1(0.7)(w, batch_size=m) == pytest.approx(0.7 / (2 * m) * ab)
    # the same penalty: λ_keras = λ_course / (2m)
    assert course_l2(0.7)(w, batch_size=m) == pytest.approx(L2(0.7 / (2 * m))(w))
    assert L2(0.7, convention="course").get_config() == {"l2": 0.7, "convention": "course"}
    for reg in [L2(0.3), L1(0.3), L1L2(0.2, 0.3), course_l2(0.5), course_l1(0.5)]:
        v = np.random.default_rng(0).standard_normal((3, 4))  # no zeros: |w| has a kink there
        num = numerical_gradient(lambda a, reg=reg: reg(a, batch_size=5), v)
        assert relative_error(reg.gradient(v, batch_size=5), num) < TOL
    assert isinstance(regularizers.get("l2"), L2) and regularizers.get("l2").l2 == 0.01  # Keras' default
    assert regularizers.get(None) is None


def test_bad_penalties_are_refused_clearly():
    with pytest.raises(ValueError, match=r"L2: l2 must be non-negative .* got -0.1"):
        L2(-0.1)
    with pytest.raises(ValueError, match=r"L1: l1 must be non-negative"):
        course_l1(-1)
    with pytest.raises(ValueError, match=r"Dense 'dense\w*': unknown regularizer 'l3'"):
        scratch.Dense(3, kernel_regularizer="l3")
    with pytest.raises(ValueError, match="convention must be one of"):
        L2(0.1, convention="ng")
    with pytest.raises(ValueError, match=r"needs the batch size m"):
        course_l2(0.1)(np.ones(3))
    with pytest.raises(ValueError, match="non-negative number"):
        L1("0.1")


def _penalised_mlp(dtype=F64):
    model = scratch.Sequential([
        scratch.Dense(6, activation="tanh", kernel_regularizer=L2(0.05), bias_regularizer=L1(0.02),
                      bias_initializer=scratch.RandomNormal(seed=3)),
        scratch.Dense(5, activation="relu", kernel_regularizer=L1L2(0.01, 0.02)),
        scratch.Dense(3, kernel_regularizer=course_l2(0.7), bias_regularizer=course_l1(0.3),
                      bias_initializer=scratch.RandomNormal(seed=4)),
    ])
    model.compile(scratch.SGD(0.1), scratch.SparseCategoricalCrossentropy(from_logits=True))
    model.build((None, 4), dtype=dtype)
    return model


def test_total_loss_with_penalties_passes_gradient_check():
    """J = cross-entropy + Σ Ω: the model's gradients (penalties included) against finite differences of J."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((7, 4)), rng.integers(0, 3, 7)
    model = _penalised_mlp()
    total = model.compute_gradients(x, y)
    data_loss = model.loss(y, model.forward(x, training=True))
    (w1, b1), (w2, _), (w3, b3) = [(layer.params["kernel"], layer.params["bias"]) for layer in model.layers]
    penalty = (0.05 * np.sum(w1**2) + 0.02 * np.abs(b1).sum()  # Keras' convention
               + 0.01 * np.abs(w2).sum() + 0.02 * np.sum(w2**2)
               + 0.7 / (2 * 7) * np.sum(w3**2) + 0.3 / (2 * 7) * np.abs(b3).sum())  # the course's, m = 7
    assert total == pytest.approx(data_loss + penalty, rel=1e-12)
    assert sum(model.losses) == pytest.approx(penalty, rel=1e-12)  # computed with m = the last batch's 7
    analytic = [g.copy() for g in model.gradients()]

    def objective(_):
        return model.loss(y, model.forward(x, training=True)) + model.regularization_loss(len(x))

    for (p, _), g in zip(((p, None) for p in model.trainable_weights), analytic, strict=True):
        assert relative_error(g, numerical_gradient(objective, p)) < TOL
    # the penalties change the kernel gradients: without them the check of J fails
    plain = [layer.grads["kernel"].copy() for layer in model.layers]
    for layer in model.layers:
        layer.regularizers = {}
    model.compute_gradients(x, y)
    assert all(not np.allclose(a, layer.grads["kernel"]) for a, layer in zip(plain, model.layers, strict=True))


def test_penalty_is_in_the_reported_loss_and_skipped_when_frozen():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    model = _penalised_mlp()
    value = model.train_on_batch(x, y)
    assert value > model.loss(y, model.predict(x)) - 1e-9
    loss, _ = model.evaluate(x, y)
    assert loss == pytest.approx(model.loss(y, model.predict(x)) + model.regularization_loss(20))
    history = model.fit(x, y, epochs=1, batch_size=20, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(
        model.loss(y, model.forward(x, training=True)) + model.regularization_loss(20), rel=0.2)
    freeze(model.layers[0])
    assert len(model.losses) == 3 and model.layers[0].losses == []  # Keras: only trainable weights are penalised


def test_penalties_match_keras():
    keras, tf = _keras()
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3))
    # Keras rounds λ to float32 (0.03 becomes 0.029999999329…), so the strengths here are powers of 2, exact in both
    for ours, theirs in [(L2(2**-5), keras.regularizers.L2(2**-5)), (L1(2**-5), keras.regularizers.L1(2**-5)),
                         (L1L2(2**-7, 2**-6), keras.regularizers.L1L2(2**-7, 2**-6))]:
        v = tf.Variable(w)
        with tf.GradientTape() as tape:
            penalty = theirs(v)
        assert ours(w) == pytest.approx(float(penalty), rel=1e-12)
        np.testing.assert_allclose(ours.gradient(w), tape.gradient(penalty, v).numpy(), rtol=1e-12)

    # a model: Keras' loss + sum(model.losses), its gradients, and training steps
    x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    m = 16
    ours = scratch.Sequential([scratch.Dense(8, activation="tanh", kernel_regularizer=L2(2**-6),
                                             bias_regularizer=L1(2**-7)),
                               scratch.Dense(3, kernel_regularizer=course_l2(0.5))])
    theirs = keras.Sequential([
        keras.Input((4,), dtype=F64),
        keras.layers.Dense(8, activation="tanh", kernel_regularizer=keras.regularizers.L2(2**-6),
                           bias_regularizer=keras.regularizers.L1(2**-7), dtype=F64),
        keras.layers.Dense(3, kernel_regularizer=keras.regularizers.L2(0.5 / (2 * m)), dtype=F64),
    ])
    ours.compile(scratch.SGD(0.1), scratch.SparseCategoricalCrossentropy(from_logits=True))
    theirs.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=F64))
    ours.build(x.shape, dtype=F64)
    weights = [rng.uniform(-0.5, 0.5, a.shape) for a in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)

    def keras_step():
        with tf.GradientTape() as tape:
            total = theirs.loss(y, theirs(x, training=True)) + tf.add_n(theirs.losses)
        grads = tape.gradient(total, theirs.trainable_weights)
        return float(total), [g.numpy() for g in grads]

    k_total, k_grads = keras_step()
    total = ours.compute_gradients(x, y)
    assert total == pytest.approx(k_total, rel=1e-12)
    np.testing.assert_allclose(ours.losses, [float(v) for v in theirs.losses], rtol=1e-12)
    for g, kg in zip(ours.gradients(), k_grads, strict=True):
        np.testing.assert_allclose(g, kg, rtol=1e-9, atol=1e-14)
    # SGD steps (Keras' own train_on_batch cannot add float64 penalties to its float32 loss: a Keras limitation)
    for _ in range(3):
        k_total, k_grads = keras_step()
        theirs.optimizer.apply_gradients(zip(k_grads, theirs.trainable_weights, strict=True))
        assert ours.train_on_batch(x, y) == pytest.approx(k_total, rel=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):  # Keras' learning rate is float32
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rate, shape, training, kwargs", [
    (0.3, (6, 5), True, {}), (0.5, (2, 3, 3, 4), True, {}), (0.5, (2, 3, 3, 4), True, {"noise_shape": (None, 1, 1, 4)}),
    (0.4, (6, 5), False, {}), (0.0, (6, 5), True, {}),
], ids=["training", "nhwc", "channel_mask", "inference", "rate0"])
def test_dropout_passes_gradient_check_with_a_fixed_mask(rate, shape, training, kwargs):
    layer = Dropout(rate, **kwargs)
    assert layer.stochastic
    x = np.random.default_rng(1).standard_normal(shape)
    assert max(layer_errors(layer, x, training=training).values()) < TOL


def test_dropout_is_inverted_and_reproducible():
    x = np.random.default_rng(2).standard_normal((50, 40))
    layer = Dropout(0.25, seed=7)
    out = layer.forward(x, training=True)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.75)  # kept units scaled by 1/keep_prob
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), kept / 0.75)
    np.testing.assert_array_equal(layer.forward(x), x)  # inference: the identity
    np.testing.assert_array_equal(Dropout(0.25, seed=7).forward(x, training=True), out)  # same seed, same mask
    assert not np.array_equal(layer.forward(x, training=True), out)  # a new mask every pass
    channels = Dropout(0.5, noise_shape=(None, 1, 1, 8), seed=0).forward(np.ones((4, 3, 3, 8)), training=True)
    assert all(len(np.unique(channels[i, :, :, c])) == 1 for i in range(4) for c in range(8))
    assert Dropout(0.5).forward(np.ones((3, 2), np.float32), training=True).dtype == np.float32


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_dropout_keeps_the_expected_activation(rate):
    """E[D/p · x] = x: the mean of many dropped-out ones is 1, within 5 standard errors √(rate/(1−rate)/n)."""
    n = 200_000
    out = Dropout(rate, seed=11).forward(np.ones((n // 100, 100)), training=True)
    se = np.sqrt(rate / (1 - rate) / n)
    assert abs(out.mean() - 1.0) < 5 * se, (out.mean(), se)
    kept = np.mean(out != 0)
    assert abs(kept - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n)


def test_dropout_matches_keras():
    keras, tf = _keras()
    x = np.random.default_rng(4).uniform(0.5, 1.5, (40, 30))
    theirs = keras.layers.Dropout(0.3, seed=1, dtype=F64)
    np.testing.assert_array_equal(theirs(x, training=False).numpy(), x)
    np.testing.assert_array_equal(Dropout(0.3).forward(x, training=False), x)
    k_out = theirs(x, training=True).numpy()
    out = Dropout(0.3, seed=1).forward(x, training=True)
    for o in (out, k_out):  # each unit is 0 or x / (1 − rate)
        kept = o != 0
        np.testing.assert_allclose(o[kept], x[kept] / 0.7, rtol=1e-12)
        assert 0.6 < kept.mean() < 0.8


def test_dropout_rate_outside_the_unit_interval_is_refused():
    for bad in [-0.1, 1.0, 1.5, "0.5", None, True]:
        with pytest.raises(ValueError, match=r"Dropout 'dropout\w*': rate must be a drop probability in \[0, 1\).*got"):
            Dropout(bad)
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=(None, 2)).forward(np.ones((3, 4)), training=True)


# ---------------------------------------------------------------------------
# Callbacks and early stopping
# ---------------------------------------------------------------------------

class _ScriptedCurve(Callback):
    """Writes a scripted "val_loss" into the epoch's logs and snapshots the weights, before EarlyStopping reads them."""

    def __init__(self, curve):
        super().__init__()
        self.curve, self.snapshots = curve, []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.curve[epoch]
        self.snapshots.append(self.model.get_weights())


def _tiny_model():
    model = scratch.Sequential([scratch.Dense(4, activation="tanh"), scratch.Dense(2)])
    model.compile(scratch.SGD(0.1), scratch.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _data(n=32):
    rng = np.random.default_rng(5)
    return rng.standard_normal((n, 3)), rng.integers(0, 2, n)


def test_early_stopping_restores_exactly_the_best_epoch():
    x, y = _data()
    curve = [1.0, 0.8, 0.6, 0.65, 0.55, 0.58, 0.57, 0.56, 0.4, 0.3]  # best in the first 8 epochs: epoch 4
    script, stop = _ScriptedCurve(curve), EarlyStopping(patience=3, restore_best_weights=True)
    model = _tiny_model()
    history = model.fit(x, y, epochs=10, batch_size=8, verbose=0, seed=0, callbacks=[script, stop])
    assert history.epoch == [0, 1, 2, 3, 4, 5, 6, 7]  # stopped after 3 epochs without improvement
    assert (stop.best_epoch, stop.stopped_epoch, stop.best) == (4, 7, 0.55)
    for a, b in zip(model.get_weights(), script.snapshots[4], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(script.snapshots[7][0], script.snapshots[4][0])
    assert [v for _, _, v in stop.evaluations] == curve[:8]

    last = _ScriptedCurve(curve)  # without restore_best_weights (Keras' default) the last weights stay
    model = _tiny_model()
    model.fit(x, y, epochs=10, batch_size=8, verbose=0, seed=0, callbacks=[last, EarlyStopping(patience=3)])
    np.testing.assert_array_equal(model.get_weights()[0], last.snapshots[-1][0])


CURVES = [
    ([1.0, 0.9, 0.95, 0.96, 0.97, 0.5], dict(patience=2)),
    ([1.0, 1.1, 1.2], dict(patience=0)),
    ([1.0, 0.99, 0.985, 0.98, 0.5], dict(patience=1, min_delta=0.02)),
    ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], dict(patience=1, baseline=0.75)),
    ([3.0, 2.0, 5.0, 1.0, 1.5, 1.4, 1.3, 1.2], dict(patience=3, start_from_epoch=2)),
]


@pytest.mark.parametrize("curve, kwargs", CURVES)
def test_early_stopping_decides_like_keras(curve, kwargs):
    """Our EarlyStopping and Keras' fed the same scripted curve stop at the same epoch with the same best one."""
    keras, _ = _keras()

    class FakeModel:
        def __init__(self):
            self.stop_training, self.epoch = False, 0

        def get_weights(self):
            return [np.array(self.epoch)]

        def set_weights(self, w):
            self.restored = int(w[0])

    results = []
    for cls in (EarlyStopping, keras.callbacks.EarlyStopping):
        cb, fake = cls(restore_best_weights=True, **kwargs), FakeModel()
        cb.set_model(fake)
        cb.on_train_begin()
        for epoch, value in enumerate(curve):
            fake.epoch = epoch
            cb.on_epoch_end(epoch, {"val_loss": value})
            if fake.stop_training:
                break
        cb.on_train_end()
        results.append((epoch, cb.stopped_epoch, cb.best_epoch, getattr(fake, "restored", None)))
    assert results[0] == results[1]


def test_early_stopping_every_k_steps_on_the_validation_set():
    class Scripted(scratch.Sequential):
        """evaluate() returns a validation loss scripted by the number of steps done, and snapshots the weights."""

        curve = {5: 2.0, 10: 1.5, 15: 1.1, 20: 1.2, 25: 1.3, 30: 1.15, 35: 0.1}
        snapshots: dict = {}

        def evaluate(self, x, y, **kwargs):
            step = self.optimizer.iterations
            self.snapshots[step] = self.get_weights()
            return {"loss": self.curve.get(step, 9.0), "accuracy": 0.5}

    x, y = _data(64)
    model = Scripted([scratch.Dense(4, activation="tanh"), scratch.Dense(2)])
    model.compile(scratch.SGD(0.1), scratch.SparseCategoricalCrossentropy(from_logits=True))
    stop = EarlyStopping(patience=3, restore_best_weights=True, every=5)
    history = model.fit(x, y, epochs=6, batch_size=8, verbose=0, seed=0, validation_data=(x[:8], y[:8]),
                        callbacks=[stop])
    # 8 steps per epoch; evaluations after steps 5, 10, …; the best (1.1) after step 15 (in epoch 1, from 0); three
    # evaluations without improvement later, training stops in the middle of epoch 3, after step 30
    assert [(e, s, v) for e, s, v in stop.evaluations][:3] == [(0, 5, 2.0), (1, 10, 1.5), (1, 15, 1.1)]
    assert [s for _, s, _ in stop.evaluations] == [5, 10, 15, 20, 25, 30]
    assert (stop.best_step, stop.best_epoch, stop.stopped_step, stop.stopped_epoch) == (15, 1, 30, 3)
    assert model.optimizer.iterations == 30 and len(history.epoch) == 4
    for a, b in zip(model.get_weights(), model.snapshots[15], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.snapshots[30][0], model.snapshots[15][0])


def test_callbacks_hook_and_stop_training():
    x, y = _data()
    seen = []

    def stop_after_two_steps(batch, logs):
        seen.append(("batch", batch, round(logs["loss"], 6) > 0))
        if len(seen) == 2:
            model.stop_training = True

    model = _tiny_model()
    cb = LambdaCallback(on_train_batch_end=stop_after_two_steps,
                        on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch, sorted(logs))))
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[cb])
    assert seen == [("batch", 0, True), ("batch", 1, True), ("epoch", 0, ["accuracy", "loss"])]
    assert history.epoch == [0] and cb.model is model and cb.params["steps"] == 4
    with pytest.raises(TypeError, match="callbacks must be Callback objects"):
        model.fit(x, y, verbose=0, callbacks=[42])
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not in fit's logs .*pass validation_data"):
        model.fit(x, y, verbose=0, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="pass validation_data"):
        model.fit(x, y, verbose=0, callbacks=[EarlyStopping(every=2)])
    with pytest.raises(ValueError, match="monitor must be 'val_loss' or 'val_accuracy'"):
        EarlyStopping(monitor="loss", every=2)
    with pytest.raises(ValueError, match="patience must be an int"):
        EarlyStopping(patience=-1)


# ---------------------------------------------------------------------------
# Over-fitting on digits: L2, dropout and early stopping each help
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def _one_blas_thread():
    """Small matrix products run fastest on one thread when the machine's cores are shared."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1):
        yield


def test_regularisation_helps_an_overfitting_mlp_on_digits():
    """150 training digits (8×8), 20 % of their labels replaced by random ones, and a 512-unit hidden layer:
    the plain net memorises the noise; L2, dropout and early stopping each do better on held-out digits."""
    images, labels = load_digits(size=8, test_size=0.25, seed=0)[0]
    (x, y), (x_dev, y_dev), (x_test, y_test) = train_dev_test_split(
        images.reshape(len(images), -1), labels, sizes=(150, 300, 800), seed=0, stratify=True)
    rng = np.random.default_rng(0)
    noisy = rng.random(len(y)) < 0.2
    y = y.copy()
    y[noisy] = rng.integers(0, 10, noisy.sum())

    def accuracy(kind):
        hidden = [scratch.Dense(512, activation="relu", kernel_initializer=scratch.GlorotUniform(seed=0),
                                kernel_regularizer=L2(0.005) if kind == "l2" else None)]
        if kind == "dropout":
            hidden.append(Dropout(0.5))
        model = scratch.Sequential([*hidden, scratch.Dense(10, kernel_initializer=scratch.GlorotUniform(seed=1),
                                                           kernel_regularizer=L2(0.005) if kind == "l2" else None)])
        model.compile(scratch.Adam(1e-3), scratch.SparseCategoricalCrossentropy(from_logits=True))
        if kind == "early_stopping":
            model.fit(x, y, epochs=200, batch_size=32, verbose=0, seed=0, validation_data=(x_dev, y_dev),
                      callbacks=[EarlyStopping(patience=10, restore_best_weights=True)])
        else:
            model.fit(x, y, epochs=200, batch_size=32, verbose=0, seed=0)
        return model.evaluate(x_test, y_test)[1]

    with _one_blas_thread():
        results = {kind: accuracy(kind) for kind in ["plain", "l2", "dropout", "early_stopping"]}
    print(results)
    for kind in ["l2", "dropout", "early_stopping"]:
        assert results[kind] > results["plain"] + 0.01, results


# ---------------------------------------------------------------------------
# Transfer learning
# ---------------------------------------------------------------------------

def test_transfer_reuses_freezes_and_fine_tunes():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 6))
    base = scratch.Sequential([scratch.Dense(8, activation="relu"), BatchNormalization(),
                               scratch.Dense(8, activation="relu"), scratch.Dense(4)])
    base.fit(x, rng.integers(0, 4, 64), epochs=2, verbose=0, optimizer=scratch.Adam(0.01),
             loss=scratch.SparseCategoricalCrossentropy(from_logits=True), seed=0)
    original = base.get_weights()

    y2 = rng.integers(0, 2, 64)
    new = transfer(base, 3, scratch.Dense(2), name="task_b")
    assert new.name == "task_b" and len(new.layers) == 4 and not any(layer.trainable for layer in new.layers[:3])
    assert all(a is not b for a, b in zip(new.layers[:3], base.layers[:3], strict=True))
    reused = new.get_weights()[:8]
    for a, b in zip(reused, original[:8], strict=True):
        np.testing.assert_array_equal(a, b)
    new.compile(scratch.Adam(0.01), scratch.SparseCategoricalCrossentropy(from_logits=True))
    new.build(x.shape)
    head_before = new.layers[3].get_weights()
    new.fit(x, y2, epochs=2, verbose=0, seed=0)
    for a, b in zip(new.get_weights()[:8], reused, strict=True):  # frozen: nothing moved (BN's statistics neither)
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(new.layers[3].get_weights()[0], head_before[0])
    for a, b in zip(base.get_weights(), original, strict=True):  # the trained model is untouched
        np.testing.assert_array_equal(a, b)

    unfreeze(new.layers)  # fine-tuning: everything trains, at a lower learning rate
    new.optimizer.learning_rate = 1e-3
    new.fit(x, y2, epochs=1, verbose=0, seed=0)
    assert not np.allclose(new.get_weights()[0], reused[0])

    # a frozen layer in the middle still passes the gradient down to the trainable layer below it
    model = scratch.Sequential([scratch.Dense(5, activation="tanh"), scratch.Dense(5, activation="tanh"),
                                scratch.Dense(2)])
    model.build(x.shape)
    freeze(model.layers[1])
    first, middle = model.layers[0].get_weights(), model.layers[1].get_weights()
    model.fit(x, y2, epochs=1, verbose=0, optimizer=scratch.SGD(0.1),
              loss=scratch.SparseCategoricalCrossentropy(from_logits=True))
    assert not np.allclose(model.layers[0].get_weights()[0], first[0])
    np.testing.assert_array_equal(model.layers[1].get_weights()[0], middle[0])

    shared = transfer(base, -1, [scratch.Dense(3)], freeze=False, copy=False)  # Keras' Sequential(model.layers[:-1])
    assert shared.layers[0] is base.layers[0] and shared.layers[0].trainable
    with pytest.raises(ValueError, match="reuses no layer"):
        transfer(base, 0, scratch.Dense(2))
    with pytest.raises(ValueError, match="not built"):
        transfer(scratch.Sequential([scratch.Dense(2), scratch.Dense(2)]), 1, scratch.Dense(2))
