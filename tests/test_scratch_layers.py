"""Scratch layers, losses and initialisers: gradient checks in float64, the layer protocol, bad input."""

import math

import numpy as np
import pytest

from labcode import scratch
from labcode.gradcheck import check_layer, check_loss, layer_errors
from labcode.scratch import initializers, losses

TOL = 1e-7


def _away_from_kinks(shape, seed=0):
    """Inputs with |x| ≥ 0.1, so no finite-difference probe crosses the kink of a ReLU at 0."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.where(x >= 0, x + 0.1, x - 0.1)


# (id, layer factory, input shape, training)
LAYERS = [
    *[(f"dense_{act}", lambda act=act: scratch.Dense(4, activation=act, bias_initializer="random_normal"), (5, 3),
       False) for act in [None, "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softmax", "linear"]],
    ("dense_no_bias", lambda: scratch.Dense(4, use_bias=False), (5, 3), False),
    ("dense_activation_object", lambda: scratch.Dense(4, activation=scratch.LeakyReLU(0.1)), (5, 3), False),
    ("flatten", scratch.Flatten, (3, 2, 2, 2), False),
    ("sigmoid", scratch.Sigmoid, (4, 5), False),
    ("tanh", scratch.Tanh, (4, 5), False),
    ("relu", scratch.ReLU, (4, 5), False),
    ("leaky_relu", scratch.LeakyReLU, (4, 5), False),
    ("prelu", lambda: scratch.PReLU(alpha_initializer=initializers.RandomUniform(0, 0.5, seed=1)), (4, 5), False),
    ("prelu_shared_axes", lambda: scratch.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2]),
     (2, 3, 3, 2), False),
    ("rrelu_training", lambda: scratch.RReLU(seed=0), (4, 5), True),
    ("rrelu_inference", scratch.RReLU, (4, 5), False),
    ("elu", scratch.ELU, (4, 5), False),
    ("elu_alpha", lambda: scratch.ELU(alpha=0.4), (4, 5), False),
    ("softmax", scratch.Softmax, (4, 5), False),
    ("softmax_axis0", lambda: scratch.Softmax(axis=0), (4, 5), False),
    ("sequential", lambda: scratch.Sequential([scratch.Flatten(), scratch.Dense(6, activation="tanh"), scratch.RReLU(),
                                               scratch.Dense(3, activation="softmax")]), (4, 2, 3), True),
]


@pytest.mark.parametrize("make, shape, training", [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_layer_passes_gradient_check(make, shape, training):
    layer = make()
    errors = layer_errors(layer, _away_from_kinks(shape), training=training)
    assert max(errors.values()) < TOL, errors
    expected = {"input", *(f"{sub.name}/{k}" for sub in getattr(layer, "layers", []) for k in sub.params),
                *getattr(layer, "params", {})}
    assert set(errors) == expected


def _loss_cases():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=6)
    onehot = np.eye(5)[labels]
    logits = rng.standard_normal((6, 5)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    binary = rng.integers(0, 2, size=(6, 2)).astype(float)
    blogits = rng.standard_normal((6, 2)) * 2
    return [
        ("bce_probs", losses.BinaryCrossentropy(), binary, 1 / (1 + np.exp(-blogits))),
        ("bce_logits", losses.BinaryCrossentropy(from_logits=True), binary, blogits),
        ("bce_soft_targets", losses.BinaryCrossentropy(from_logits=True), rng.random((6, 2)), blogits),
        ("cce_probs", losses.CategoricalCrossentropy(), onehot, probs),
        ("cce_unnormalised_probs", losses.CategoricalCrossentropy(), onehot, probs * 2.5),
        ("cce_logits", losses.CategoricalCrossentropy(from_logits=True), onehot, logits),
        ("sparse_probs", losses.SparseCategoricalCrossentropy(), labels, probs),
        ("sparse_logits", losses.SparseCategoricalCrossentropy(from_logits=True), labels, logits),
        ("sparse_logits_3d", losses.SparseCategoricalCrossentropy(from_logits=True), labels.reshape(2, 3),
         logits.reshape(2, 3, 5)),
        ("mse", losses.MeanSquaredError(), onehot, logits),
        ("mse_by_name", "mse", onehot, logits),
    ]


LOSSES = _loss_cases()


@pytest.mark.parametrize("loss, y_true, y_pred", [c[1:] for c in LOSSES], ids=[c[0] for c in LOSSES])
def test_loss_passes_gradient_check(loss, y_true, y_pred):
    assert check_loss(loss, y_true, y_pred) < TOL


def test_check_layer_returns_the_worst_error_and_catches_a_wrong_backward():
    x = _away_from_kinks((3, 4))
    layer = scratch.Dense(2)
    assert check_layer(layer, x) == max(layer_errors(layer, x).values())

    class BadTanh(scratch.Tanh):
        def backward(self, dout):
            return super().backward(dout) * 1.01

    assert check_layer(BadTanh(), x) > 1e-3
    with pytest.raises(TypeError, match="float64"):
        check_layer(scratch.ReLU(), x.astype(np.float32))
    built32 = scratch.Dense(2)
    built32(x.astype(np.float32))
    with pytest.raises(TypeError, match="float64"):
        check_layer(built32, x)


def test_rrelu_needs_its_noise_fixed_for_a_gradient_check():
    x = _away_from_kinks((4, 5))
    assert check_layer(scratch.RReLU(), x, training=True) < TOL  # check_layer reseeds before each pass

    class NoReseed(scratch.RReLU):
        def reseed(self, seed=None):
            pass

    assert check_layer(NoReseed(), x, training=True) > 1e-3  # fresh slopes at every probe


# ---------------------------------------------------------------------------
# Forward values
# ---------------------------------------------------------------------------

def test_activation_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    np.testing.assert_allclose(scratch.Sigmoid()(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(scratch.Tanh()(x), np.tanh(x))
    np.testing.assert_array_equal(scratch.ReLU()(x), [[0, 0, 0, 0.5, 3]])
    np.testing.assert_allclose(scratch.LeakyReLU()(x), [[-0.6, -0.15, 0, 0.5, 3]])
    np.testing.assert_allclose(scratch.LeakyReLU(alpha=0.1)(x), scratch.LeakyReLU(negative_slope=0.1)(x))
    np.testing.assert_allclose(scratch.ELU()(x), np.where(x > 0, x, np.exp(x) - 1))
    np.testing.assert_allclose(scratch.RReLU()(x), np.where(x >= 0, x, x * (1 / 8 + 1 / 3) / 2))
    prelu = scratch.PReLU()
    np.testing.assert_array_equal(prelu(x), scratch.ReLU()(x))  # α starts at 0
    assert list(prelu.params) == ["alpha"] and prelu.params["alpha"].shape == (5,)
    s = scratch.Softmax()(x)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0)


def test_stable_functions_at_extremes():
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is fine
        big = np.array([[-1000.0, 0.0, 1000.0]])
        np.testing.assert_array_equal(scratch.activations.sigmoid(big), [[0.0, 0.5, 1.0]])
        np.testing.assert_allclose(scratch.Softmax()(big), [[0, 0, 1]])
        assert scratch.activations.sigmoid(np.array(-30.0)) == pytest.approx(np.exp(-30.0), rel=1e-12)
        assert losses.SparseCategoricalCrossentropy(from_logits=True)([0], big) == pytest.approx(2000.0)
        assert losses.BinaryCrossentropy(from_logits=True)([[1.0]], [[-1000.0]]) == pytest.approx(1000.0)
    # probabilities are clipped to [1e-7, 1 − 1e-7], like Keras
    assert losses.BinaryCrossentropy()([[1.0]], [[0.0]]) == pytest.approx(-np.log(1e-7))
    assert losses.BinaryCrossentropy().gradient([[1.0]], [[0.0]])[0, 0] == 0.0  # the clip stops the gradient


def test_rrelu_draws_slopes_in_training_only():
    x = -np.ones((1000, 3))
    layer = scratch.RReLU(seed=0)
    slopes = -layer(x, training=True)
    assert slopes.min() >= 1 / 8 and slopes.max() <= 1 / 3 and slopes.std() > 0.05
    assert abs(slopes.mean() - (1 / 8 + 1 / 3) / 2) < 0.01
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), slopes)  # the same slopes going back
    np.testing.assert_allclose(-layer(x), (1 / 8 + 1 / 3) / 2)
    a, b = scratch.RReLU(seed=5), scratch.RReLU(seed=5)
    np.testing.assert_array_equal(a(x, training=True), b(x, training=True))


def test_loss_values_by_hand():
    assert losses.MeanSquaredError()([[1.0, 2.0]], [[2.0, 4.0]]) == pytest.approx(2.5)
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert losses.SparseCategoricalCrossentropy()([0, 2], p) == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2)
    assert losses.CategoricalCrossentropy()(np.eye(3)[[0, 2]], p) == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2)
    assert losses.BinaryCrossentropy()([1, 0], [0.9, 0.2]) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)
    z = np.array([[2.0, -1.0, 0.5]])
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy(from_logits=True).gradient([1], z),
                               scratch.activations.softmax(z) - [[0, 1, 0]])
    np.testing.assert_allclose(losses.BinaryCrossentropy(from_logits=True).gradient([[1.0, 0.0, 1.0]], z),
                               (scratch.activations.sigmoid(z) - [[1, 0, 1]]) / 3)
    assert losses.SparseCategoricalCrossentropy().accuracy([0, 1], p) == 0.5
    assert losses.BinaryCrossentropy(from_logits=True).accuracy([[1, 0, 1]], z) == 1.0
    assert losses.MeanSquaredError().accuracy([[1.0]], [[1.0]]) is None


# ---------------------------------------------------------------------------
# The layer protocol
# ---------------------------------------------------------------------------

def test_dense_builds_on_first_batch_in_its_dtype():
    layer = scratch.Dense(3)
    assert not layer.built and layer.params == {}
    out = layer(np.ones((2, 5), np.float32))
    assert layer.built and layer.input_shape == (None, 5) and out.dtype == np.float32
    assert list(layer.params) == ["kernel", "bias"] and list(layer.grads) == ["kernel", "bias"]
    assert layer.params["kernel"].shape == (5, 3) and layer.params["kernel"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["bias"], 0)
    layer64 = scratch.Dense(3)
    layer64(np.ones((2, 5)))
    assert layer64.params["kernel"].dtype == np.float64
    assert scratch.Dense(3)(np.ones((2, 5), np.int64)).dtype == np.float32  # integers: Keras' floatx
    assert layer(np.ones((2, 5))).dtype == np.float32  # later batches are cast to the layer's dtype


def test_float32_stays_float32_through_a_training_step():
    model = scratch.Sequential([scratch.Dense(8, activation="relu"), scratch.Dense(8, activation="sigmoid"),
                                scratch.PReLU(), scratch.Dense(3, activation="softmax")])
    x = np.random.default_rng(0).random((4, 6), dtype=np.float32)
    out = model(x, training=True)
    value, dout = losses.SparseCategoricalCrossentropy().value_and_gradient([0, 1, 2, 0], out)
    assert out.dtype == dout.dtype == np.float32
    assert model.backward(dout).dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.gradients())


def test_parameters_are_updated_in_place_and_gradients_pair_with_them():
    layer = scratch.Dense(2)
    x = np.ones((3, 4))
    layer(x)
    kernel = layer.params["kernel"]
    assert layer.trainable_weights[0] is kernel and layer.parameters()[0] is kernel
    layer.backward(np.ones((3, 2)))
    pairs = layer.grads_and_vars()
    assert [p is q for (_, p), q in zip(pairs, layer.trainable_weights, strict=True)] == [True, True]
    assert pairs[0][0] is layer.grads["kernel"]
    np.testing.assert_allclose(layer.grads["kernel"], np.full((4, 2), 3.0))
    np.testing.assert_allclose(layer.grads["bias"], [3.0, 3.0])
    scratch.SGD(0.5).apply_gradients(layer.grads_and_vars())
    assert layer.params["kernel"] is kernel  # the same array, updated in place
    weights = [np.zeros((4, 2)), np.ones(2)]
    layer.set_weights(weights)
    assert layer.params["kernel"] is kernel
    np.testing.assert_array_equal(layer(x), np.ones((3, 2)))
    assert layer.count_params() == 10


def test_frozen_layer_backpropagates_but_exposes_no_weights():
    layer = scratch.Dense(2, trainable=False)
    layer(np.ones((3, 4)))
    assert layer.trainable_weights == [] and layer.gradients() == [] and len(layer.non_trainable_weights) == 2
    assert layer.backward(np.ones((3, 2))).shape == (3, 4)


def test_names_like_keras():
    a, b = scratch.Dense(1), scratch.Dense(1)
    assert a.name.startswith("dense") and a.name != b.name
    assert scratch.Dense(1, name="out").name == "out"
    assert scratch.Dense(2, activation="relu").activation.name == "relu"


def test_activation_object_is_copied():
    act = scratch.LeakyReLU(0.1)
    d1, d2 = scratch.Dense(3, activation=act), scratch.Dense(3, activation=act)
    assert d1.activation is not act and d1.activation is not d2.activation
    assert d1.activation.negative_slope == 0.1


# ---------------------------------------------------------------------------
# Initialisers
# ---------------------------------------------------------------------------

def test_initializer_variances_and_seeds():
    shape = (200, 300)
    tol = 6 * math.sqrt(2 / (200 * 300))  # relative standard error of a sample variance, six times
    expected = {"glorot_uniform": 2 / 500, "glorot_normal": 2 / 500, "xavier_uniform": 2 / 500,
                "he_uniform": 2 / 200, "he_normal": 2 / 200, "lecun_uniform": 1 / 200, "lecun_normal": 1 / 200,
                "small_random": 1e-4}
    for name, var in expected.items():
        w = initializers.get(name)(shape, dtype=np.float64)
        assert abs(w.var() / var - 1) < tol, name
    assert initializers.get("zeros")((2, 2)).dtype == np.float32
    a = initializers.GlorotUniform(seed=3)((4, 4))
    np.testing.assert_array_equal(a, initializers.GlorotUniform(seed=3)((4, 4)))  # a seeded one repeats, like Keras
    gen = np.random.default_rng(3)
    init = initializers.HeNormal(seed=gen)
    assert not np.array_equal(init((4, 4)), init((4, 4)))  # a Generator's stream continues
    np.random.seed(0)
    first = initializers.get("he_uniform")((3, 3))
    np.random.seed(0)
    np.testing.assert_array_equal(first, initializers.get("he_uniform")((3, 3)))  # labcode.seed seeds these


def test_truncated_normal_stays_within_two_sigma():
    w = initializers.TruncatedNormal(stddev=1.0, seed=0)((100_000,), dtype=np.float64)
    assert np.abs(w).max() <= 2.0 and np.abs(w).max() > 1.99
    he = initializers.HeNormal(seed=0)
    assert np.abs(he((400, 50))).max() <= 2 * math.sqrt(2 / 400) / 0.87962566103423978


def test_init_table():
    row = initializers.init_table("logistic", 300, 100)
    assert row == {"r": pytest.approx(math.sqrt(6 / 400)), "sigma": pytest.approx(math.sqrt(2 / 400))}
    assert initializers.init_table("tanh", 300, 100)["r"] == pytest.approx(4 * math.sqrt(6 / 400))
    assert initializers.init_table("sigmoid", 300, 100) == row
    assert initializers.init_table("relu", 300, 100)["sigma"] == pytest.approx(math.sqrt(2) * math.sqrt(2 / 400))
    w = initializers.TableInitializer("tanh", "uniform", seed=0)((300, 100), dtype=np.float64)
    r = 4 * math.sqrt(6 / 400)
    assert np.abs(w).max() <= r and abs(w.var() / (r * r / 3) - 1) < 0.05
    w = initializers.TableInitializer("relu", "normal", seed=0)((300, 100), dtype=np.float64)
    assert abs(w.std() / (math.sqrt(2) * math.sqrt(2 / 400)) - 1) < 0.03
    with pytest.raises(ValueError, match="known"):
        initializers.init_table("swish", 3, 3)


def test_conv_kernel_fans():
    assert initializers.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert initializers.compute_fans((10,)) == (10, 10)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

def test_dense_wrong_feature_count_after_build():
    layer = scratch.Dense(3, name="hidden")
    layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"Dense 'hidden'.*5 input features.*got 6"):
        layer(np.ones((2, 6)))


def test_dense_needs_2d_input():
    with pytest.raises(ValueError, match=r"Dense 'd'.*2-D.*\(2, 3, 4\).*Flatten"):
        scratch.Dense(3, name="d")(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="2-D"):
        scratch.Dense(3)(np.ones(4))


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*relu"):
        scratch.Dense(3, activation="swish")
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*sparse_categorical_crossentropy"):
        losses.get("hinge")
    with pytest.raises(ValueError, match=r"unknown initializer 'xavier'.*glorot_uniform"):
        scratch.Dense(3, kernel_initializer="xavier")
    with pytest.raises(TypeError, match="no backward"):
        scratch.Dense(3, activation=np.tanh)
    with pytest.raises(TypeError, match="parameters"):
        scratch.Dense(3, activation=scratch.PReLU())


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="units"):
        scratch.Dense(0)
    with pytest.raises(ValueError, match="negative_slope"):
        scratch.LeakyReLU(-1)
    with pytest.raises(ValueError, match="lower"):
        scratch.RReLU(lower=0.5, upper=0.2)
    with pytest.raises(TypeError, match="seed"):
        initializers.HeNormal(seed="x")


def test_sparse_labels_out_of_range():
    logits = np.zeros((3, 10))
    with pytest.raises(ValueError, match=r"label 10 is out of range for 10 classes \(expected labels 0..9\)"):
        losses.SparseCategoricalCrossentropy(from_logits=True)([1, 10, 2], logits)
    with pytest.raises(ValueError, match="label -1"):
        losses.SparseCategoricalCrossentropy()([1, -1, 2], logits)
    with pytest.raises(ValueError, match="integer class labels"):
        losses.SparseCategoricalCrossentropy()([0.5, 1, 2], logits)
    with pytest.raises(ValueError, match="one-hot"):
        losses.SparseCategoricalCrossentropy()(np.eye(10)[:3], logits)


def test_loss_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape.*\(4, 2\).*\(4, 3\)"):
        losses.MeanSquaredError()(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same shape"):
        losses.CategoricalCrossentropy().gradient(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(TypeError, match="y_pred"):
        losses.BinaryCrossentropy()([1], "0.5")
    # (m,) targets against (m, 1) predictions are fine, as in Keras
    assert losses.BinaryCrossentropy()([1, 0], [[0.5], [0.5]]) == pytest.approx(np.log(2))


def test_backward_before_forward_and_wrong_dout():
    layer = scratch.Dense(3, name="d")
    with pytest.raises(RuntimeError, match=r"Dense 'd'.*before forward"):
        layer.backward(np.ones((2, 3)))
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"shape of the last output \(2, 3\)"):
        layer.backward(np.ones((2, 4)))
    with pytest.raises(RuntimeError, match="before forward"):
        scratch.ReLU().backward(np.ones(3))


def test_non_numeric_input():
    with pytest.raises(TypeError, match="Dense"):
        scratch.Dense(2)("abc")
    with pytest.raises(TypeError, match="real numbers"):
        scratch.ReLU()(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="scalar"):
        scratch.ReLU()(3.0)


def test_set_weights_checks():
    layer = scratch.Dense(2, name="d")
    with pytest.raises(ValueError, match="not built"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(2)])
    layer(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"expected 2 arrays \(kernel, bias\), got 1"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"kernel has shape \(3, 2\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])
