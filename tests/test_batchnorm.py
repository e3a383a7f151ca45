"""BatchNormalization: gradient checks (2-D and NHWC), parity with Keras (training, inference, moving statistics),
its weights, frozen behaviour and bad input."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from labcode import scratch
from labcode.gradcheck import layer_errors
from labcode.scratch.normalization import BatchNormalization

TOL = 1e-7
F64 = "float64"


def _random_bn(**kwargs):
    return BatchNormalization(gamma_initializer=scratch.RandomUniform(0.5, 1.5, seed=1),
                              beta_initializer=scratch.RandomNormal(seed=2), **kwargs)


GRADCHECKS = [
    ("2d_training", lambda: _random_bn(), (8, 5), True),
    ("nhwc_training", lambda: _random_bn(), (3, 4, 4, 2), True),
    ("nchw_axis1_training", lambda: _random_bn(axis=1), (3, 2, 4, 4), True),
    ("no_center_no_scale_training", lambda: BatchNormalization(center=False, scale=False), (6, 3), True),
    ("2d_inference", lambda: _random_bn(moving_variance_initializer=scratch.RandomUniform(0.5, 2, seed=3)),
     (8, 5), False),
    ("nhwc_inference", lambda: _random_bn(), (3, 4, 4, 2), False),
]


@pytest.mark.parametrize("make, shape, training", [c[1:] for c in GRADCHECKS], ids=[c[0] for c in GRADCHECKS])
def test_batchnorm_passes_gradient_check(make, shape, training):
    layer = make()
    # not seed 0: layer_errors draws its R = ∂L/∂out from seed 0, and R ∝ x̂ would make ∂L/∂x ≈ 0
    x = np.random.default_rng(10).normal(1.0, 2.0, shape)
    errors = layer_errors(layer, x, training=training)
    assert max(errors.values()) < TOL, errors
    assert {"input", "moving_mean", "moving_variance"} <= set(errors)


def test_model_with_batchnorm_and_dropout_passes_gradient_check():
    model = scratch.Sequential([scratch.Dense(6, activation="tanh"), BatchNormalization(), scratch.Dropout(0.3),
                                scratch.Dense(3)])
    errors = layer_errors(model, np.random.default_rng(3).standard_normal((8, 4)), training=True)
    assert max(errors.values()) < TOL, errors


def test_forward_normalises_each_feature_and_uses_biased_variance():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 5.0, (64, 4))
    layer = BatchNormalization(epsilon=1e-12)
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=0), 1, rtol=1e-9)  # 1/N variance: exactly 1 after normalising
    np.testing.assert_allclose(layer.params["moving_mean"], 0.01 * x.mean(axis=0))
    np.testing.assert_allclose(layer.params["moving_variance"], 0.99 + 0.01 * x.var(axis=0))
    # NHWC: one mean / variance per channel over batch, height and width
    x4 = rng.normal(2.0, 3.0, (5, 6, 6, 3))
    y4 = BatchNormalization(epsilon=1e-12).forward(x4, training=True)
    np.testing.assert_allclose(y4.mean(axis=(0, 1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y4.var(axis=(0, 1, 2)), 1, rtol=1e-9)


def test_inference_uses_the_moving_statistics_and_leaves_them_alone():
    x = np.random.default_rng(2).normal(0, 1, (10, 3))
    layer = BatchNormalization()
    layer.build(x.shape)
    layer.set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 1.0), np.full(3, 4.0)])
    y = layer.forward(x)
    np.testing.assert_allclose(y, 2.0 * (x - 1.0) / np.sqrt(4.0 + 1e-3) + 0.5, rtol=1e-6)
    np.testing.assert_array_equal(layer.params["moving_mean"], 1.0)


def test_weights_in_keras_order_moving_statistics_not_trainable():
    layer = BatchNormalization()
    model = scratch.Sequential([scratch.Dense(4), layer, scratch.Dense(2)])
    model.build((None, 3), dtype="float64")
    assert list(layer.params) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w is p for w, p in zip(layer.trainable_weights, [layer.params["gamma"], layer.params["beta"]],
                                   strict=True)] == [True, True]
    assert len(layer.non_trainable_weights) == 2 and len(layer.gradients()) == 2
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    assert len(model.get_weights()) == 8  # the moving statistics copy with the weights, like Keras
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 8" in lines[-1]
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    bare = BatchNormalization(center=False, scale=False)
    bare.build((None, 3))
    assert list(bare.params) == ["moving_mean", "moving_variance"] and bare.trainable_weights == []


def test_training_a_model_updates_moving_stats_only_through_forward():
    rng = np.random.default_rng(3)
    x, y = rng.normal(2, 3, (64, 5)).astype(np.float32), rng.integers(0, 3, 64)
    model = scratch.Sequential([scratch.Dense(8, activation="relu"), BatchNormalization(), scratch.Dense(3)])
    model.compile(scratch.SGD(0.05), scratch.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=0)
    bn = model.layers[1]
    assert all(p.dtype == np.float32 for p in bn.params.values())
    assert not any(v is bn.params["moving_mean"] or v is bn.params["moving_variance"]
                   for _, v in model.grads_and_vars())  # no optimiser touches the moving statistics …
    before = [w.copy() for w in bn.get_weights()]
    model.predict(x)
    np.testing.assert_array_equal(bn.params["moving_mean"], before[2])  # … nor does inference
    model.forward(x[:16], training=True)  # a training-mode forward pass moves them
    np.testing.assert_allclose(bn.params["moving_mean"], 0.99 * before[2] + 0.01 * model.layers[0](x[:16]).mean(0),
                               rtol=1e-5)
    copy = scratch.Sequential([scratch.Dense(8, activation="relu"), BatchNormalization(), scratch.Dense(3)])
    copy.build(x.shape)
    copy.set_weights(model.get_weights())
    np.testing.assert_allclose(copy.predict(x), model.predict(x), rtol=1e-5)


def test_frozen_batchnorm_runs_in_inference_mode_like_keras():
    x = np.random.default_rng(4).normal(1, 2, (6, 3))
    layer = _random_bn(trainable=False)
    y = layer.forward(x, training=True)
    np.testing.assert_array_equal(layer.params["moving_mean"], 0.0)  # not updated
    np.testing.assert_allclose(y, layer.forward(x, training=False))
    assert max(layer_errors(layer, x, training=True).values()) < TOL


def test_wrong_feature_count_and_bad_arguments():
    layer = BatchNormalization()
    layer.forward(np.zeros((4, 16)))
    with pytest.raises(ValueError, match=r"BatchNormalization 'batch_normalization\w*': expected 16 features .*"
                                         r"got shape \(4, 8\)"):
        layer.forward(np.zeros((4, 8)))
    with pytest.raises(ValueError, match="expected 16 features"):
        layer.forward(np.zeros((4, 2, 2, 16)))  # the same count but another rank
    conv_bn = BatchNormalization()
    conv_bn.forward(np.zeros((2, 5, 5, 3)))
    conv_bn.forward(np.zeros((1, 7, 9, 3)))  # any height and width: per-channel parameters
    with pytest.raises(ValueError, match=r"expected 3 features .* got shape \(2, 5, 5, 4\)"):
        conv_bn.forward(np.zeros((2, 5, 5, 4)))
    with pytest.raises(ValueError, match="batch axis"):
        BatchNormalization(axis=0).forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        BatchNormalization(epsilon=0)
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNormalization().backward(np.zeros((2, 3)))


# ---------------------------------------------------------------------------
# Parity with keras.layers.BatchNormalization
# ---------------------------------------------------------------------------

PARITY = [
    ("2d", {}, (16, 5)),
    ("nhwc", {}, (4, 5, 5, 3)),
    ("momentum_epsilon", {"momentum": 0.9, "epsilon": 1e-5}, (16, 5)),
    ("no_center", {"center": False}, (4, 3, 3, 2)),
    ("no_scale", {"scale": False}, (16, 5)),
    ("axis1", {"axis": 1}, (4, 3, 5, 2)),
]


@pytest.mark.parametrize("kwargs, shape", [c[1:] for c in PARITY], ids=[c[0] for c in PARITY])
def test_batchnorm_matches_keras(kwargs, shape):
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(5)
    ours, theirs = BatchNormalization(**kwargs), keras.layers.BatchNormalization(dtype=F64, **kwargs)
    x0 = rng.normal(0.5, 2.0, shape)
    ours.forward(x0)
    theirs(tf.constant(x0))
    weights = [rng.uniform(0.5, 1.5, w.shape) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    assert [w.name for w in theirs.weights] == list(ours.params)  # Keras' order and names

    def keras_pass(x, r, training):
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = theirs(xt, training=training)
            loss = tf.reduce_sum(out * r)
        dx, *dw = tape.gradient(loss, [xt, *theirs.trainable_weights])
        return out.numpy(), dx.numpy(), [g.numpy() for g in dw]

    for step in range(5):  # training steps: batch statistics, moving averages after each
        x = rng.normal(step, 1.0 + step, shape)
        r = rng.standard_normal(shape)
        out = ours.forward(x, training=True)
        dx = ours.backward(r)
        k_out, k_dx, k_dw = keras_pass(x, r, True)
        np.testing.assert_allclose(out, k_out, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dx, k_dx, rtol=1e-7, atol=1e-10)
        for g, kg in zip(ours.gradients(), k_dw, strict=True):
            np.testing.assert_allclose(g, kg, rtol=1e-9, atol=1e-10)
        for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12)

    x, r = rng.normal(1.0, 2.0, shape), rng.standard_normal(shape)  # inference: the moving statistics
    out = ours.forward(x, training=False)
    dx = ours.backward(r)
    k_out, k_dx, k_dw = keras_pass(x, r, False)
    np.testing.assert_allclose(out, k_out, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dx, k_dx, rtol=1e-9, atol=1e-12)
    for g, kg in zip(ours.gradients(), k_dw, strict=True):
        np.testing.assert_allclose(g, kg, rtol=1e-9, atol=1e-10)
