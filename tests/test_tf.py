"""labcode.tf: Keras twins of scratch models, weights, optimisers and losses; digits, scratch against Keras."""

import importlib.util

import numpy as np
import pytest

import labcode
from labcode import scratch
from labcode.data import load_digits, minibatches

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

from labcode.tf import copy_weights, keras_loss, keras_optimizer, mlp, to_keras  # noqa: E402 (imports TensorFlow)

keras = pytest.importorskip("keras")

F64 = "float64"


def random_weights(model, rng):
    """Replace every weight by U(−0.5, 0.5) draws (biases and PReLU's α start at 0)."""
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape) for w in model.get_weights()])


def every_activation():
    """An MLP with every activation to_keras maps, as layers and inside Dense (float32-exact slopes)."""
    return scratch.Sequential([
        scratch.Flatten(),
        scratch.Dense(12, activation="tanh"), scratch.PReLU(),
        scratch.Dense(12, activation="sigmoid"), scratch.ELU(0.5),
        scratch.Dense(12, activation="relu"), scratch.LeakyReLU(0.25),
        scratch.Dense(10, activation=scratch.LeakyReLU(0.125)),  # no Keras name: a layer of its own
        scratch.Dense(10, activation="elu"), scratch.Tanh(), scratch.Sigmoid(), scratch.ReLU(), scratch.Linear(),
        scratch.Dense(10, activation=scratch.ELU(0.5)),
        scratch.Dense(8, activation=scratch.Softmax()), scratch.Dense(6, activation="linear", use_bias=False),
        scratch.Dense(5), scratch.Softmax(),
    ])


# ---------------------------------------------------------------------------
# copy_weights
# ---------------------------------------------------------------------------

def test_copy_weights_round_trip():
    rng = np.random.default_rng(0)
    ours = scratch.Sequential([scratch.Flatten(), scratch.Dense(7, activation="relu"), scratch.PReLU(),
                               scratch.Dense(3)])
    ours.build((None, 2, 3), dtype=F64)
    random_weights(ours, rng)
    theirs = keras.Sequential([keras.Input((2, 3), dtype=F64), keras.layers.Flatten(dtype=F64),
                               keras.layers.Dense(7, activation="relu", dtype=F64), keras.layers.PReLU(dtype=F64),
                               keras.layers.Dense(3, dtype=F64)])
    assert copy_weights(ours, theirs) is theirs
    back = scratch.Sequential([scratch.Flatten(), scratch.Dense(7), scratch.PReLU(), scratch.Dense(3)])
    back.build((None, 2, 3), dtype=F64)
    copy_weights(theirs, back)
    for a, b, c in zip(ours.get_weights(), theirs.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # layer to layer, and a cast to the destination's dtype (float64 → float32)
    dense32 = keras.layers.Dense(7, dtype="float32")
    dense32.build((None, 6))
    copy_weights(ours.layers[1], dense32)
    assert [w.dtype for w in dense32.get_weights()] == [np.float32, np.float32]
    np.testing.assert_array_equal(dense32.get_weights()[0], ours.layers[1].params["kernel"].astype(np.float32))


def test_copy_weights_refuses_a_different_architecture():
    ours = scratch.Sequential([scratch.Dense(4, activation="relu"), scratch.Dense(3)])
    ours.build((None, 5))
    other_units = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"),
                                    keras.layers.Dense(2, name="out")])
    before = other_units.get_weights()
    with pytest.raises(ValueError, match=r"scratch Dense 'dense\w*' → Keras Dense 'out'.*kernel of shape \(4, 3\) "
                                         r"does not fit kernel of shape \(4, 2\)"):
        copy_weights(ours, other_units)
    for a, b in zip(before, other_units.get_weights(), strict=True):  # checked first, so nothing was copied
        np.testing.assert_array_equal(a, b)
    fewer = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="has 2 layers with weights .* has 1"):
        copy_weights(ours, fewer)
    no_bias = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, use_bias=False), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"layer 1 of 2.*2 weight arrays \(kernel \(5, 4\), bias \(4,\)\) against 1"):
        copy_weights(ours, no_bias)
    with pytest.raises(ValueError, match="not built yet"):
        copy_weights(ours, keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(3)]))
    with pytest.raises(ValueError, match="not built yet"):
        copy_weights(other_units, scratch.Sequential([scratch.Dense(4), scratch.Dense(2)]))
    with pytest.raises(TypeError, match="expected a scratch Sequential"):
        copy_weights(ours, ours.get_weights())


# ---------------------------------------------------------------------------
# to_keras
# ---------------------------------------------------------------------------

def test_to_keras_predicts_the_same_in_float64():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 3, 4))
    ours = every_activation()
    ours.build(x.shape, dtype=F64)
    random_weights(ours, rng)
    theirs = to_keras(ours)
    assert all(w.dtype == np.float64 for w in theirs.get_weights())
    assert theirs.input_shape == (None, 3, 4)
    kinds = [type(layer).__name__ for layer in theirs.layers]
    assert kinds[:3] == ["Flatten", "Dense", "PReLU"] and kinds.count("Dense") == 9 and kinds[-1] == "Softmax"
    assert "LeakyReLU" in kinds and "ELU" in kinds and kinds.count("Activation") == 3  # Tanh, Sigmoid, Linear
    assert [layer.name for layer in theirs.layers][:3] == [layer.name for layer in ours.layers][:3]
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    out = ours.predict(x)
    np.testing.assert_allclose(np.asarray(theirs(x)), out, rtol=0, atol=1e-13)  # float64 rounding only
    # Keras' predict/fit/evaluate first cast NumPy float inputs to keras.config.floatx(), float32 by default
    assert np.abs(theirs.predict(x, verbose=0) - out).max() > 1e-13
    floatx = keras.config.floatx()
    keras.config.set_floatx(F64)
    try:
        np.testing.assert_allclose(theirs.predict(x, verbose=0), out, rtol=0, atol=1e-13)
    finally:
        keras.config.set_floatx(floatx)


def test_leaky_relu_slopes_tensorflow_rounds_to_float32():
    """TensorFlow's LeakyRelu kernel keeps its slope as a float32: 0.3 and 0.2 differ by ~1e-8 in float64 only."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 6))
    for dtype, tol in [(F64, 1e-7), ("float32", 1e-6)]:
        ours = scratch.Sequential([scratch.Dense(6, activation="leaky_relu"), scratch.LeakyReLU(), scratch.Dense(2)])
        ours.build(x.shape, dtype=dtype)
        out, theirs = ours.predict(x.astype(dtype)), np.asarray(to_keras(ours)(x.astype(dtype)))
        np.testing.assert_allclose(theirs, out, rtol=tol, atol=tol)
        if dtype == F64:
            assert np.abs(theirs - out).max() > 1e-12  # not float64 rounding: the slopes 0.2 and 0.3 in float32


def test_to_keras_builds_float32_and_unbuilt_models():
    labcode.seed(0, tensorflow=False)
    ours = scratch.Sequential([scratch.Flatten(), scratch.Dense(16, activation="relu"), scratch.Dense(10)])
    with pytest.raises(ValueError, match="not built yet; pass input_shape"):
        to_keras(ours)
    theirs = to_keras(ours, input_shape=(8, 8))  # builds ours (float32) first
    assert ours.layers[1].params["kernel"].shape == (64, 16) and theirs.input_shape == (None, 8, 8)
    assert all(w.dtype == np.float32 for w in theirs.get_weights())
    x = np.random.default_rng(3).random((20, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours.predict(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"built for samples of shape \(8, 8\), got input_shape=\(64,\)"):
        to_keras(ours, input_shape=(64,))
    single = to_keras(scratch.Dense(3, activation="tanh"), input_shape=5)  # a layer alone
    assert single.output_shape == (None, 3)


def test_to_keras_refuses_what_keras_lacks():
    ours = scratch.Sequential([scratch.Dense(4), scratch.RReLU()])
    with pytest.raises(NotImplementedError, match=r"RReLU .*no Keras twin.*LeakyReLU\(0\.229167\)"):
        to_keras(ours, input_shape=(3,))
    with pytest.raises(NotImplementedError, match="RReLU"):
        to_keras(scratch.Dense(4, activation=scratch.RReLU()), input_shape=(3,))

    class Unknown(scratch.Linear):
        pass

    with pytest.raises(NotImplementedError, match="Unknown .*no Keras layer"):
        to_keras(Unknown(), input_shape=(3,))


def test_to_keras_other_layers_by_keras_name():
    class Dropout(scratch.Linear):  # a stand-in with Keras' argument names, as the scratch layers have
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

    theirs = to_keras(scratch.Sequential([scratch.Dense(4), Dropout(0.25)]), input_shape=(3,))
    assert isinstance(theirs.layers[-1], keras.layers.Dropout) and theirs.layers[-1].rate == 0.25


# ---------------------------------------------------------------------------
# Optimisers and losses
# ---------------------------------------------------------------------------

OPTIMIZERS = [
    (scratch.SGD(0.125), "SGD", {"momentum": 0.0, "nesterov": False}),
    (scratch.SGD(0.125, momentum=0.875, nesterov=True), "SGD", {"momentum": 0.875, "nesterov": True}),
    (scratch.SGD(0.125, momentum_form="ewa"), "SGD", {"momentum": 0.0}),  # no momentum: both forms agree
    (scratch.Adagrad(0.125, initial_accumulator_value=0.25, epsilon=1e-3), "Adagrad",
     {"initial_accumulator_value": 0.25, "epsilon": 1e-3}),
    (scratch.RMSprop(0.125, rho=0.75, momentum=0.5, centered=True), "RMSprop",
     {"rho": 0.75, "momentum": 0.5, "centered": True}),
    (scratch.Adam(0.125, beta_1=0.875, beta_2=0.96875, amsgrad=True), "Adam",
     {"beta_1": 0.875, "beta_2": 0.96875, "epsilon": 1e-7, "amsgrad": True}),
]


@pytest.mark.parametrize("ours, cls, config", OPTIMIZERS, ids=[f"{o[1]}-{i}" for i, o in enumerate(OPTIMIZERS)])
def test_keras_optimizer_is_the_twin(ours, cls, config):
    theirs = keras_optimizer(ours)
    assert type(theirs) is getattr(keras.optimizers, cls)
    got = theirs.get_config()
    assert got["learning_rate"] == 0.125
    assert {k: got[k] for k in config} == config
    # the same ten steps on f(w) = ½‖w − c‖² (float32-exact hyperparameters: the same numbers to rounding)
    c = np.array([1.0, -2.0, 0.5])
    w_ours = np.zeros(3)
    w_theirs = keras.Variable(np.zeros(3), dtype=F64)
    fresh = type(ours)(**{k: v for k, v in ours.get_config().items() if k != "name"})
    for _ in range(10):
        fresh.apply_gradients([(w_ours - c, w_ours)])
        theirs.apply_gradients([(keras.ops.convert_to_tensor(np.asarray(w_theirs.numpy()) - c), w_theirs)])
    np.testing.assert_allclose(w_ours, w_theirs.numpy(), rtol=1e-12)


def test_state_decaying_to_subnormals_is_flushed_and_still_follows_keras():
    """Zero gradients (a dead ReLU's weights) decay Adam's state into subnormals, where rounding can keep it
    forever; the scratch optimiser zeroes them every 100 steps (TensorFlow flushes them to zero on every
    operation), and the parameters still follow Keras'."""
    g0, zero = np.array([1.0, -0.5, 0.0, 2.0], np.float32), np.zeros(4, np.float32)
    ours = scratch.Adam(0.125, beta_1=0.75, beta_2=0.5)
    unflushed = scratch.Adam(0.125, beta_1=0.75, beta_2=0.5)
    unflushed.flush_subnormals_every = 0
    theirs = keras_optimizer(ours)
    p, q, v = np.ones(4, np.float32), np.ones(4, np.float32), keras.Variable(np.ones(4, np.float32))
    for step in range(400):
        g = g0 if step == 0 else zero
        ours.apply_gradients([(g, p)])
        unflushed.apply_gradients([(g, q)])
        theirs.apply_gradients([(keras.ops.convert_to_tensor(g), v)])
    tiny = np.finfo(np.float32).tiny

    def subnormal(opt, param):
        return any(np.any((x != 0) & (np.abs(x) < tiny)) for x in (opt.get_slot(param, "momentum"),
                                                                     opt.get_slot(param, "velocity")))

    assert subnormal(unflushed, q) and not subnormal(ours, p)
    np.testing.assert_array_equal(p, q)  # what was flushed was too small to move a parameter
    np.testing.assert_allclose(p, v.numpy(), rtol=1e-6)


def test_keras_optimizer_names_the_variants_keras_lacks():
    with pytest.raises(ValueError, match="momentum_form='ewa'.*learning_rate=\\(1 − β\\)·η"):
        keras_optimizer(scratch.SGD(0.1, momentum=0.9, momentum_form="ewa"))
    with pytest.raises(ValueError, match="epsilon_placement='paper'"):
        keras_optimizer(scratch.Adam(epsilon_placement="paper"))
    for opt in [scratch.RMSprop(epsilon_placement="outside"), scratch.Adagrad(epsilon_placement="outside")]:
        with pytest.raises(ValueError, match="epsilon_placement='outside'"):
            keras_optimizer(opt)
    with pytest.raises(ValueError, match="function of the step"):
        keras_optimizer(scratch.SGD(lambda step: 0.1))
    assert isinstance(keras_optimizer("adam"), keras.optimizers.Adam)


def test_keras_optimizer_schedules():
    steps = [0, 5, 9, 10, 31]
    for ours, kind in [
        (scratch.ExponentialDecay(0.1, 10, 0.5), "ExponentialDecay"),
        (scratch.InverseTimeDecay(0.1, 10, 0.5, staircase=True), "InverseTimeDecay"),
        (scratch.PiecewiseConstantDecay([5, 10], [0.1, 0.05, 0.01]), "PiecewiseConstantDecay"),
        (scratch.StepDecay(0.1, 0.5, 10), "ExponentialDecay"),
    ]:
        config = keras_optimizer(scratch.SGD(ours)).get_config()["learning_rate"]
        theirs = keras.optimizers.schedules.deserialize(config)
        assert type(theirs).__name__ == kind
        np.testing.assert_allclose([float(theirs(s)) for s in steps], [ours(s) for s in steps], rtol=1e-6)


LOSSES = [
    (scratch.BinaryCrossentropy(from_logits=True), "BinaryCrossentropy", "binary"),
    (scratch.BinaryCrossentropy(), "BinaryCrossentropy", "binary_probs"),
    (scratch.CategoricalCrossentropy(from_logits=True), "CategoricalCrossentropy", "onehot"),
    (scratch.SparseCategoricalCrossentropy(from_logits=True), "SparseCategoricalCrossentropy", "labels"),
    (scratch.SparseCategoricalCrossentropy(), "SparseCategoricalCrossentropy", "labels_probs"),
    (scratch.MeanSquaredError(), "MeanSquaredError", "onehot"),
]


@pytest.mark.parametrize("ours, cls, kind", LOSSES, ids=[f"{c}-{k}" for _, c, k in LOSSES])
def test_keras_loss_is_the_twin(ours, cls, kind):
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((8, 4)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 8)
    y_true, y_pred = {
        "binary": ((logits > 0.3).astype(float), logits),
        "binary_probs": ((logits > 0.3).astype(float), 1 / (1 + np.exp(-logits))),
        "onehot": (np.eye(4)[labels], logits),
        "labels": (labels, logits),
        "labels_probs": (labels, probs),
    }[kind]
    theirs = keras_loss(ours, dtype=F64)
    assert type(theirs) is getattr(keras.losses, cls)
    assert theirs.get_config().get("from_logits", False) == getattr(ours, "from_logits", False)
    assert float(theirs(y_true, y_pred)) == pytest.approx(ours(y_true, y_pred), rel=1e-9)
    assert isinstance(keras_loss("mse"), keras.losses.MeanSquaredError)


# ---------------------------------------------------------------------------
# mlp
# ---------------------------------------------------------------------------

def test_mlp_builder():
    model = mlp([32, 16, 10], input_shape=(8, 8), dtype=F64, seed=3)
    assert [type(layer).__name__ for layer in model.layers] == ["Flatten", "Dense", "Dense", "Dense"]
    assert [layer.units for layer in model.layers[1:]] == [32, 16, 10]
    assert [layer.activation.__name__ for layer in model.layers[1:]] == ["relu", "relu", "linear"]
    assert all(w.dtype == np.float64 for w in model.get_weights()) and model.output_shape == (None, 10)
    again = mlp([32, 16, 10], input_shape=(8, 8), dtype=F64, seed=3)
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    flat = mlp([5, 3], activation="tanh", output_activation="softmax", input_shape=(7,))
    assert [type(layer).__name__ for layer in flat.layers] == ["Dense", "Dense"]
    assert flat.layers[-1].activation.__name__ == "softmax" and flat.get_weights()[0].dtype == np.float32
    for bad in [[], [10, 0], "10", [3.5]]:
        with pytest.raises(ValueError, match="layer_sizes"):
            mlp(bad)


# ---------------------------------------------------------------------------
# The acceptance check: digits, scratch against Keras
# ---------------------------------------------------------------------------

def test_digits_scratch_and_keras_trained_the_same_way_agree():
    """Flatten → Dense(128, relu) → Dense(10) logits, Adam(1e-3), 40 epochs of batches of 32: the same initial
    weights and the same mini-batches on both sides; both reach 97 % and land within 1 point of each other."""
    (x_train, y_train), (x_test, y_test) = load_digits(size=8)
    labcode.seed(0, tensorflow=False)
    ours = scratch.Sequential([scratch.Flatten(), scratch.Dense(128, activation="relu"), scratch.Dense(10)])
    ours.build((None, 8, 8))
    theirs = to_keras(ours)
    loss = scratch.SparseCategoricalCrossentropy(from_logits=True)
    ours.compile(scratch.Adam(1e-3), loss)
    theirs.compile(keras_optimizer(ours.optimizer), keras_loss(loss), metrics=["accuracy"])
    order = np.random.default_rng(0)  # one shuffle per epoch, the same mini-batches fed to both
    for epoch in range(40):
        for xb, yb in minibatches(x_train, y_train, batch_size=32, seed=order):
            ours.train_on_batch(xb, yb)
            theirs.train_on_batch(xb, yb)
        if epoch == 0:  # 43 steps in, the two trajectories are the same to float32 rounding
            for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    acc_ours = ours.evaluate(x_test, y_test)[1]
    acc_theirs = theirs.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    assert acc_ours >= 0.97, acc_ours
    assert acc_theirs >= 0.97, acc_theirs
    assert abs(acc_ours - acc_theirs) <= 0.01, (acc_ours, acc_theirs)
