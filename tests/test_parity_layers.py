"""Scratch layers, losses and initialisers against their Keras twins (float64, weights copied across)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import math

import numpy as np
import pytest

from labcode import scratch

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

F64 = "float64"
RRELU_MEAN = (1 / 8 + 1 / 3) / 2

# (id, scratch layer factory, Keras layer factory, input shape)
LAYER_PAIRS = [
    *[(f"dense_{act}", lambda act=act: scratch.Dense(5, activation=act),
       lambda act=act: keras.layers.Dense(5, activation=act, dtype=F64), (6, 4))
      for act in [None, "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softmax", "linear"]],
    ("dense_no_bias", lambda: scratch.Dense(3, use_bias=False),
     lambda: keras.layers.Dense(3, use_bias=False, dtype=F64), (4, 7)),
    ("flatten", scratch.Flatten, lambda: keras.layers.Flatten(dtype=F64), (3, 2, 4)),
    ("sigmoid", scratch.Sigmoid, lambda: keras.layers.Activation("sigmoid", dtype=F64), (5, 6)),
    ("tanh", scratch.Tanh, lambda: keras.layers.Activation("tanh", dtype=F64), (5, 6)),
    ("relu", scratch.ReLU, lambda: keras.layers.ReLU(dtype=F64), (5, 6)),
    ("leaky_relu", scratch.LeakyReLU, lambda: keras.layers.LeakyReLU(dtype=F64), (5, 6)),
    ("leaky_relu_alpha", lambda: scratch.LeakyReLU(alpha=0.1),
     lambda: keras.layers.LeakyReLU(negative_slope=0.1, dtype=F64), (5, 6)),
    ("prelu", scratch.PReLU, lambda: keras.layers.PReLU(dtype=F64), (5, 6)),
    ("prelu_shared_axes", lambda: scratch.PReLU(shared_axes=[1, 2]),
     lambda: keras.layers.PReLU(shared_axes=[1, 2], dtype=F64), (2, 3, 3, 4)),
    ("rrelu_inference", scratch.RReLU, lambda: keras.layers.LeakyReLU(negative_slope=RRELU_MEAN, dtype=F64), (5, 6)),
    ("elu", scratch.ELU, lambda: keras.layers.ELU(dtype=F64), (5, 6)),
    ("elu_alpha", lambda: scratch.ELU(alpha=0.5), lambda: keras.layers.ELU(alpha=0.5, dtype=F64), (5, 6)),
    ("softmax", scratch.Softmax, lambda: keras.layers.Softmax(dtype=F64), (5, 6)),
    ("softmax_axis1", lambda: scratch.Softmax(axis=1), lambda: keras.layers.Softmax(axis=1, dtype=F64), (2, 3, 4)),
    ("sequential_mlp",
     lambda: scratch.Sequential([scratch.Flatten(), scratch.Dense(8, activation="tanh"), scratch.PReLU(),
                                 scratch.Dense(3, activation="softmax")]),
     lambda: keras.Sequential([keras.layers.Flatten(dtype=F64), keras.layers.Dense(8, activation="tanh", dtype=F64),
                               keras.layers.PReLU(dtype=F64), keras.layers.Dense(3, activation="softmax", dtype=F64)]),
     (4, 2, 3)),
]


def _keras_pass(layer, x, r):
    """Keras' output, ∂L/∂x and ∂L/∂weights for L = Σ out ⊙ R."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt)
        loss = tf.reduce_sum(out * r)
    dx, *dw = tape.gradient(loss, [xt, *layer.trainable_weights])
    return out.numpy(), dx.numpy(), [g.numpy() for g in dw]


@pytest.mark.parametrize("make_scratch, make_keras, shape", [p[1:] for p in LAYER_PAIRS],
                         ids=[p[0] for p in LAYER_PAIRS])
def test_layer_matches_keras(make_scratch, make_keras, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    ours, theirs = make_scratch(), make_keras()
    ours.forward(x)
    theirs(tf.constant(x))
    # random weights (PReLU's α and the biases start at zero), the same on both sides
    weights = [rng.uniform(-0.5, 0.5, w.shape) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    out = ours.forward(x)
    r = rng.standard_normal(out.shape)
    dx = ours.backward(r)
    k_out, k_dx, k_dw = _keras_pass(theirs, x, r)
    np.testing.assert_allclose(out, k_out, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(dx, k_dx, rtol=1e-6, atol=1e-12)
    assert len(ours.gradients()) == len(k_dw)
    for g, kg in zip(ours.gradients(), k_dw, strict=True):
        np.testing.assert_allclose(g, kg, rtol=1e-6, atol=1e-12)


def test_rrelu_in_training_is_a_leaky_relu_with_its_drawn_slopes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5))
    layer = scratch.RReLU(seed=3)
    out = layer.forward(x, training=True)
    slopes = layer._slope
    assert slopes.shape == x.shape and np.all((slopes >= 1 / 8) & (slopes <= 1 / 3))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        k_out = tf.where(xt >= 0, xt, slopes * xt)
        loss = tf.reduce_sum(k_out * x)
    np.testing.assert_allclose(out, k_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(x), tape.gradient(loss, xt).numpy(), rtol=1e-12)


def test_dense_leaky_relu_activation_uses_keras_function_slope():
    assert scratch.Dense(2, activation="leaky_relu").activation.negative_slope == 0.2
    assert scratch.LeakyReLU().negative_slope == keras.layers.LeakyReLU().negative_slope == 0.3


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------

def _loss_cases():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, size=8)
    onehot = np.eye(4)[labels]
    logits = rng.standard_normal((8, 4)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    binary = rng.integers(0, 2, size=(8, 3)).astype(float)
    blogits = rng.standard_normal((8, 3)) * 4
    bprobs = 1 / (1 + np.exp(-blogits))
    # probabilities at and beyond the clipping bounds ε = 1e-7 and 1 − ε
    edge = bprobs.copy()
    edge[0] = [0.0, 1.0, 1e-9]
    edge_probs = probs.copy()
    edge_probs[0] = [0.0, 0.0, 0.0, 1.0]
    edge_probs[1] = [1e-9, 0.5, 0.5, 0.0]
    return [
        ("bce_probs", scratch.BinaryCrossentropy(), keras.losses.BinaryCrossentropy(dtype=F64), binary, bprobs),
        ("bce_probs_clipped", scratch.BinaryCrossentropy(), keras.losses.BinaryCrossentropy(dtype=F64), binary, edge),
        ("bce_logits", scratch.BinaryCrossentropy(from_logits=True),
         keras.losses.BinaryCrossentropy(from_logits=True, dtype=F64), binary, blogits),
        ("bce_logits_1d", scratch.BinaryCrossentropy(from_logits=True),
         keras.losses.BinaryCrossentropy(from_logits=True, dtype=F64), binary[:, 0], blogits[:, :1]),
        ("cce_probs", scratch.CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy(dtype=F64),
         onehot, probs),
        ("cce_probs_unnormalised", scratch.CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy(dtype=F64),
         onehot, probs * 1.7),
        ("cce_probs_clipped", scratch.CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy(dtype=F64),
         onehot, edge_probs),
        ("cce_logits", scratch.CategoricalCrossentropy(from_logits=True),
         keras.losses.CategoricalCrossentropy(from_logits=True, dtype=F64), onehot, logits),
        ("sparse_probs", scratch.SparseCategoricalCrossentropy(),
         keras.losses.SparseCategoricalCrossentropy(dtype=F64), labels, probs),
        ("sparse_probs_clipped", scratch.SparseCategoricalCrossentropy(),
         keras.losses.SparseCategoricalCrossentropy(dtype=F64), labels, edge_probs),
        ("sparse_logits", scratch.SparseCategoricalCrossentropy(from_logits=True),
         keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=F64), labels, logits),
        ("sparse_logits_column_labels", scratch.SparseCategoricalCrossentropy(from_logits=True),
         keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=F64), labels[:, None], logits),
        ("sparse_logits_huge", scratch.SparseCategoricalCrossentropy(from_logits=True),
         keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=F64), labels, logits * 300),
        ("mse", scratch.MeanSquaredError(), keras.losses.MeanSquaredError(dtype=F64), onehot, logits),
    ]


LOSS_CASES = _loss_cases()


@pytest.mark.parametrize("ours, theirs, y_true, y_pred", [c[1:] for c in LOSS_CASES], ids=[c[0] for c in LOSS_CASES])
def test_loss_matches_keras(ours, theirs, y_true, y_pred):
    yp = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        k_loss = theirs(tf.constant(y_true), yp)
    k_grad = tape.gradient(k_loss, yp).numpy()
    value, grad = ours.value_and_gradient(y_true, y_pred)
    assert value == pytest.approx(float(k_loss), rel=1e-6, abs=1e-12)
    assert ours(y_true, y_pred) == value
    np.testing.assert_allclose(grad, k_grad, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(ours.gradient(y_true, y_pred), grad, rtol=0, atol=0)


def test_loss_names_are_keras_names():
    for name in ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
                 "mean_squared_error"]:
        assert scratch.losses.get(name).name == keras.losses.get(name).__name__ == name


def test_float32_loss_matches_keras_float32():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, size=32)
    p = rng.dirichlet(np.ones(10), size=32).astype(np.float32)
    p[0, labels[0]] = 0.0  # clipped to ε in float32 on both sides
    ours = scratch.SparseCategoricalCrossentropy()(labels, p)
    theirs = float(keras.losses.SparseCategoricalCrossentropy()(labels, p))
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert scratch.SparseCategoricalCrossentropy().gradient(labels, p).dtype == np.float32


# ---------------------------------------------------------------------------
# Initialisers: the same distribution as Keras'
# ---------------------------------------------------------------------------

SHAPE = (300, 400)  # n_in = 300, n_out = 400: 120,000 draws
N = math.prod(SHAPE)
# Var(W) and the bound of |W| (None: unbounded) for each initialiser at SHAPE
n_in, n_out = SHAPE
INIT_CASES = {
    "glorot_uniform": (2 / (n_in + n_out), math.sqrt(6 / (n_in + n_out))),
    "glorot_normal": (2 / (n_in + n_out), 2 * math.sqrt(2 / (n_in + n_out)) / 0.87962566103423978),
    "he_uniform": (2 / n_in, math.sqrt(6 / n_in)),
    "he_normal": (2 / n_in, 2 * math.sqrt(2 / n_in) / 0.87962566103423978),
    "lecun_uniform": (1 / n_in, math.sqrt(3 / n_in)),
    "lecun_normal": (1 / n_in, 2 * math.sqrt(1 / n_in) / 0.87962566103423978),
    "random_normal": (0.05**2, None),
    "random_uniform": (0.05**2 / 3, 0.05),
    "truncated_normal": (0.05**2 * 0.87962566103423978**2, 0.1),
}


def _check_sample(w, variance, bound, who):
    # the sample variance's standard error is σ²·√((κ − 1)/N), kurtosis κ ≤ 3 here: allow 6 of them
    tol = 6 * variance * math.sqrt(2 / N)
    assert w.shape == SHAPE and w.dtype == np.float64, who
    assert abs(w.var() - variance) < tol, f"{who}: variance {w.var():.6g}, expected {variance:.6g} ± {tol:.2g}"
    assert abs(w.mean()) < 6 * math.sqrt(variance / N), f"{who}: mean {w.mean():.3g}"
    if bound is not None:
        assert np.abs(w).max() <= bound * (1 + 1e-6), f"{who}: |w| up to {np.abs(w).max()}, bound {bound}"
        assert np.abs(w).max() > 0.95 * bound, f"{who}: the draws do not reach the bound {bound}"


@pytest.mark.parametrize("name", list(INIT_CASES))
def test_initializer_statistics_match_keras(name):
    variance, bound = INIT_CASES[name]
    ours = scratch.initializers.get(name)
    ours.seed = 0
    w = ours(SHAPE, dtype=F64)
    _check_sample(w, variance, bound, f"scratch {name}")
    keras_w = np.asarray(type(keras.initializers.get(name))(seed=0)(SHAPE, dtype=F64))
    _check_sample(keras_w, variance, bound, f"keras {name}")
    if name.endswith(("_uniform", "_normal")) and hasattr(ours, "variance"):
        assert ours.variance(SHAPE) == pytest.approx(variance)


def test_conv_kernel_fans_match_keras():
    from keras.src.initializers.random_initializers import compute_fans

    for shape in [(3, 3, 16, 32), (5, 5, 1, 6), (10,), (7, 3)]:
        assert scratch.initializers.compute_fans(shape) == compute_fans(shape)


def test_training_steps_match_keras():
    """Three SGD steps of the same MLP from the same weights land on the same weights."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((16, 6)), rng.integers(0, 3, 16)
    ours = scratch.Sequential([scratch.Dense(8, activation="relu"), scratch.Dense(3)])
    ours.compile(scratch.SGD(0.1, momentum=0.9), scratch.SparseCategoricalCrossentropy(from_logits=True))
    theirs = keras.Sequential([keras.Input((6,), dtype=F64), keras.layers.Dense(8, activation="relu", dtype=F64),
                               keras.layers.Dense(3, dtype=F64)])
    theirs.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                   keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=F64))
    ours.build(x.shape, dtype=F64)
    ours.set_weights(theirs.get_weights())
    for _ in range(3):
        loss = ours.train_on_batch(x, y)
        assert loss == pytest.approx(float(theirs.train_on_batch(x, y)), rel=1e-6)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)
