"""The scratch Sequential model: training on digits, history, divergence, determinism, bad input."""

import re

import numpy as np
import pytest

import labcode
from labcode import scratch
from labcode.data import load_digits


def mlp(hidden=128, classes=10):
    """The digits MLP of the chapters' comparison with Keras: 8×8 pixels → 64 → 128 ReLU → 10 logits."""
    return scratch.Sequential([scratch.Flatten(), scratch.Dense(hidden, activation="relu"), scratch.Dense(classes)])


@pytest.fixture(scope="module")
def digits():
    return load_digits(size=8)


def test_mlp_learns_digits(digits):
    (x_train, y_train), (x_test, y_test) = digits
    labcode.seed(0, tensorflow=False)
    model = mlp()
    model.compile(optimizer=scratch.Adam(1e-3), loss=scratch.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x_train, y_train, epochs=40, batch_size=32, validation_data=(x_test, y_test), verbose=0,
                        seed=0)
    loss, accuracy = model.evaluate(x_test, y_test)
    assert accuracy >= 0.97, accuracy
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert history.history["loss"][-1] < history.history["loss"][0] / 5
    assert model.layers[1].params["kernel"].dtype == np.float32  # digits are float32: so is the model
    assert model.predict(x_test).argmax(axis=1).tolist() == model(x_test).argmax(axis=1).tolist()


def test_history_keys_and_shapes(digits):
    (x, y), (xv, yv) = digits
    model = mlp(16)
    history = model.fit(x[:200], y[:200], epochs=3, batch_size=50, optimizer=scratch.SGD(0.1),
                        loss=scratch.SparseCategoricalCrossentropy(from_logits=True),
                        validation_data=(xv[:50], yv[:50]), verbose=0)
    assert isinstance(history, scratch.History) and model.history is history
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 3 for v in history.history.values()) and history.epoch == [0, 1, 2]
    assert history.params == {"epochs": 3, "steps": 4, "batch_size": 50}
    history = model.fit(x[:200], y[:200], epochs=1, verbose=0)  # the compiled optimizer and loss are kept
    assert list(history.history) == ["loss", "accuracy"]

    reg = scratch.Sequential([scratch.Dense(1)])
    history = reg.fit(np.ones((10, 2)), np.ones((10, 1)), optimizer=scratch.SGD(0.01), loss="mse", verbose=0,
                      validation_data=(np.ones((4, 2)), np.ones((4, 1))))
    assert list(history.history) == ["loss", "val_loss"]  # no accuracy for a regression
    assert isinstance(reg.evaluate(np.ones((4, 2)), np.ones((4, 1))), float)

    model.compile(scratch.SGD(0.1), scratch.SparseCategoricalCrossentropy(True), metrics=[])
    assert list(model.fit(x[:64], y[:64], verbose=0).history) == ["loss"]


def test_evaluate_and_predict(digits):
    (x, y), _ = digits
    model = mlp(16)
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.add(scratch.Softmax())
    out = model.predict(x[:70], batch_size=32)
    assert out.shape == (70, 10)
    np.testing.assert_allclose(out, model(x[:70]), rtol=1e-6)
    loss, acc = model.evaluate(x[:70], y[:70])
    assert loss == pytest.approx(scratch.SparseCategoricalCrossentropy()(y[:70], out), rel=1e-6)
    assert acc == pytest.approx(np.mean(out.argmax(1) == y[:70]))
    assert model.evaluate(x[:70], y[:70], return_dict=True) == {"loss": loss, "accuracy": acc}


def test_train_on_batch_takes_a_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = x[:, :3].argmax(axis=1)  # a learnable rule, so 20 steps make real progress
    model = scratch.Sequential([scratch.Dense(8, activation="tanh"), scratch.Dense(3)])
    model.compile(scratch.SGD(0.5), scratch.SparseCategoricalCrossentropy(from_logits=True))
    losses = [model.train_on_batch(x, y) for _ in range(20)]
    assert losses[-1] < 0.8 * losses[0] and all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert model.layers[0].need_input_gradient  # skipped only inside the step
    assert model.backward(np.ones((32, 3), np.float32)).shape == (32, 5)


def test_loss_nan_stops_training_at_the_step():
    x = np.random.default_rng(0).standard_normal((50, 3))
    y = np.zeros((50, 1))
    x[25, 1] = np.nan
    model = scratch.Sequential([scratch.Dense(1)])
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1/2, step 3/5"):
        model.fit(x, y, epochs=2, batch_size=10, shuffle=False, optimizer=scratch.SGD(0.01), loss="mse", verbose=0)


def test_huge_learning_rate_diverges_with_a_clear_error():
    # least squares with a step far beyond 2/λ_max: the weights grow geometrically until they overflow
    x = np.random.default_rng(0).standard_normal((256, 8)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = scratch.Sequential([scratch.Dense(1)])
    with pytest.raises(FloatingPointError, match=r"at epoch \d+/50, step \d+/8.*learning rate") as info:
        model.fit(x, y, epochs=50, optimizer=scratch.SGD(5.0), loss="mse", verbose=0, seed=0)
    assert re.search(r"loss became (nan|inf)", str(info.value))


def test_fixed_seed_is_deterministic(digits):
    (x, y), _ = digits

    def run():
        labcode.seed(3, tensorflow=False)  # the weights
        model = scratch.Sequential([scratch.Flatten(), scratch.Dense(16, activation="relu"), scratch.RReLU(),
                                    scratch.Dense(10)])
        history = model.fit(x[:300], y[:300], epochs=2, batch_size=16, optimizer=scratch.Adam(),
                            loss=scratch.SparseCategoricalCrossentropy(True), verbose=0, seed=7)  # order and noise
        return model.get_weights(), history.history

    (w1, h1), (w2, h2) = run(), run()
    assert h1 == h2
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_progress_output(digits, capsys):
    (x, y), _ = digits
    model = mlp(8)
    model.fit(x[:64], y[:64], epochs=2, optimizer=scratch.SGD(0.1), loss=scratch.SparseCategoricalCrossentropy(True),
              verbose=2)
    out = capsys.readouterr().out
    assert re.search(r"Epoch 2/2 - loss: \d\.\d{4} - accuracy: \d\.\d{4}", out)
    model.fit(x[:64], y[:64], epochs=1, verbose=1)  # a tqdm bar on stderr
    assert "Epoch 1/1" in capsys.readouterr().err
    model.fit(x[:64], y[:64], epochs=1, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_summary_and_weights(capsys):
    model = mlp(128)
    model.build((None, 8, 8))
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 64)" in out and "(None, 128)" in out and "(None, 10)" in out
    assert "8,320" in out and "1,290" in out and "Total params: 9,610" in out
    assert model.count_params() == 9610 and len(model.trainable_weights) == 4
    weights = [np.full(w.shape, 0.5) for w in model.get_weights()]
    model.set_weights(weights)
    assert all(np.all(w == 0.5) for w in model.weights)
    with pytest.raises(ValueError, match="expected 4 arrays, got 1"):
        model.set_weights(weights[:1])


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

def test_fit_bad_input(digits):
    (x, y), _ = digits
    with pytest.raises(ValueError, match="no loss"):
        mlp(8).fit(x, y, optimizer=scratch.SGD(0.1), verbose=0)
    with pytest.raises(ValueError, match="no optimizer"):
        mlp(8).fit(x, y, loss="mse", verbose=0)
    model = mlp(8)
    model.compile(scratch.SGD(0.1), scratch.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="same number of samples, got 1347 and 10"):
        model.fit(x, y[:10], verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(x, y, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="label 10 is out of range for 10 classes"):
        model.fit(x, np.where(np.arange(len(y)) == 5, 10, y), verbose=0, shuffle=False)
    model.fit(x[:32], y[:32], verbose=0)
    with pytest.raises(ValueError, match=r"Dense 'dense\w*'.*64 input features.*got 49"):
        model.predict(np.zeros((3, 7, 7)))
    with pytest.raises(ValueError, match="unknown optimizer 'nadam'"):
        model.compile("nadam", "mse")
    with pytest.raises(TypeError, match="apply_gradients"):
        model.compile(object(), "mse")
    with pytest.raises(ValueError, match="unknown metrics"):
        model.compile("sgd", "mse", metrics=["auc"])
    with pytest.raises(ValueError, match="no loss"):
        scratch.Sequential([scratch.Dense(1)]).evaluate(np.ones((2, 2)), np.ones(2))
    with pytest.raises(TypeError, match="expected a layer"):
        scratch.Sequential([np.tanh])
