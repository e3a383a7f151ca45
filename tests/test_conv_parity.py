"""Scratch convolution and pooling against TensorFlow: tf.nn functions and Keras layers, forward and backward.

A seeded grid over strides 1–3, kernels 1–5, SAME/VALID, dilations 1–2 and 1–3
input channels (plus random rectangular cases), in float64 (≤ 1e-10) and
float32 (≤ 1e-4 relative). Gradients come from ``tf.GradientTape`` on
L = Σ out ⊙ R for a random R.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import itertools
import zlib

import numpy as np
import pytest

from labcode import scratch

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

F64 = "float64"


def _close64(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


def _close32(ours, theirs):
    assert ours.dtype == np.float32
    scale = max(float(np.abs(theirs).max()), 1e-30)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * scale)


def _tape(fn, *arrays):
    """fn(*tensors), and the gradients of Σ fn ⊙ R w.r.t. every input, R drawn from a fixed seed."""
    tensors = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        for t in tensors:
            tape.watch(t)
        out = fn(*tensors)
        r = tf.constant(np.random.default_rng(99).standard_normal(out.shape).astype(arrays[0].dtype))
        loss = tf.reduce_sum(out * r)
    return out.numpy(), r.numpy(), [g.numpy() for g in tape.gradient(loss, tensors)]


# ---------------------------------------------------------------------------
# tf.nn.conv2d
# ---------------------------------------------------------------------------

def _conv_cases():
    """(id, strides, kernel (f_h, f_w), padding, dilations, c_in): the square grid, then random rectangles."""
    cases = []
    for s, f, pad, d, c in itertools.product((1, 2, 3), (1, 2, 3, 4, 5), ("SAME", "VALID"), (1, 2), (1, 2, 3)):
        cases.append((f"s{s}-f{f}-{pad}-d{d}-c{c}", (s, s), (f, f), pad, (d, d), c))
    rng = np.random.default_rng(0)
    for i in range(30):
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        d = (1, 1) if max(s) > 1 and i % 3 else tuple(int(v) for v in rng.integers(1, 3, 2))
        f = tuple(int(v) for v in rng.integers(1, 6, 2))
        pad = ("same", "valid", "Same")[i % 3]
        cases.append((f"rect{i}-s{s}-f{f}-{pad}-d{d}", s, f, pad, d, int(rng.integers(1, 4))))
    return cases


CONV_CASES = _conv_cases()


def _conv_inputs(case_id, f, d, c_in, dtype):
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))
    spans = [(k - 1) * dd + 1 for k, dd in zip(f, d, strict=True)]
    h, w = (int(rng.integers(span, span + 6)) for span in spans)
    x = rng.standard_normal((2, h, w, c_in)).astype(dtype)
    k = rng.standard_normal((*f, c_in, int(rng.integers(1, 4)))).astype(dtype)
    return x, k


def _tf_conv2d(x, w, strides, padding, dilations):
    """TensorFlow's output, R, and its (∂L/∂x, ∂L/∂w), or None for the gradients TensorFlow cannot compute.

    On CPU, TensorFlow's float64 Conv2D has no dilated gradient: with strides 1 the reference is then
    tf.nn.convolution (which dilates by space-to-batch); with strides > 1 as well (which tf.nn.convolution
    and Keras refuse) only the forward pass is compared in float64; float32 (oneDNN) does everything.
    """
    padding = padding.upper()
    dilated = max(dilations) > 1
    if x.dtype == np.float64 and dilated and max(strides) > 1:
        out = tf.nn.conv2d(x, w, strides, padding, dilations=dilations).numpy()
        r = np.random.default_rng(99).standard_normal(out.shape)
        return out, r, None
    conv = tf.nn.convolution if x.dtype == np.float64 and dilated else tf.nn.conv2d
    out, r, grads = _tape(lambda a, b: conv(a, b, strides, padding, dilations=dilations), x, w)
    return out, r, grads


@pytest.mark.parametrize("strides, kernel, padding, dilations, c_in", [c[1:] for c in CONV_CASES],
                         ids=[c[0] for c in CONV_CASES])
def test_conv2d_matches_tf_nn_conv2d(strides, kernel, padding, dilations, c_in, request):
    case_id = request.node.callspec.id
    for dtype, close in ((np.float64, _close64), (np.float32, _close32)):
        x, w = _conv_inputs(case_id, kernel, dilations, c_in, dtype)
        out, r, grads = _tf_conv2d(x, w, strides, padding, dilations)
        ours = scratch.conv2d(x, w, strides, padding, dilations)
        assert ours.shape == out.shape and ours.dtype == dtype
        close(ours, out)
        if grads is not None:
            our_dx, our_dw = scratch.conv2d_backward(x, w, r, strides, padding, dilations)
            close(our_dx, grads[0])
            close(our_dw, grads[1])
        if dtype == np.float64:
            close(scratch.conv2d_naive(x, w, strides, padding, dilations), out)


def test_conv2d_explicit_padding_matches_tf():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 6, 7, 2)), rng.standard_normal((3, 2, 2, 3))
    tf_pad = [[0, 0], [2, 1], [0, 3], [0, 0]]
    out, r, (dx, dw) = _tape(lambda a, b: tf.nn.conv2d(a, b, (2, 1), tf_pad), x, w)
    for padding in (tf_pad, ((2, 1), (0, 3))):
        _close64(scratch.conv2d(x, w, (2, 1), padding), out)
        ours_dx, ours_dw = scratch.conv2d_backward(x, w, r, (2, 1), padding)
        _close64(ours_dx, dx)
        _close64(ours_dw, dw)


def test_worked_shapes_match_tf():
    x, w = np.ones((1, 13, 5, 5)), np.ones((6, 3, 5, 2))
    for padding, shape in (("SAME", (1, 3, 3, 2)), ("VALID", (1, 2, 2, 2))):
        theirs = tf.nn.conv2d(x, w, strides=(5, 2), padding=padding)
        assert theirs.shape == shape
        _close64(scratch.conv2d(x, w, (5, 2), padding), theirs.numpy())


# ---------------------------------------------------------------------------
# tf.nn.max_pool2d, tf.nn.avg_pool2d, depth-wise pooling
# ---------------------------------------------------------------------------

POOL_CASES = [(k, s, pad, c) for k, s, pad, c in itertools.product((1, 2, 3, 4), (1, 2, 3), ("SAME", "VALID"), (1, 3))]
POOL_CASES += [((2, 3), (1, 2), "SAME", 2), ((3, 1), (2, 3), "VALID", 2), ((1, 4), (3, 1), "same", 1)]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("ksize, strides, padding, channels", POOL_CASES)
def test_pooling_matches_tf_nn(kind, ksize, strides, padding, channels):
    ours_fn, ours_back, tf_fn = {
        "max": (scratch.max_pool2d, scratch.max_pool2d_backward, tf.nn.max_pool2d),
        "avg": (scratch.avg_pool2d, scratch.avg_pool2d_backward, tf.nn.avg_pool2d),
    }[kind]
    rng = np.random.default_rng(7)
    h, w = (int(v) for v in rng.integers(4, 9, 2))
    for dtype, close in ((np.float64, _close64), (np.float32, _close32)):
        x = rng.standard_normal((2, h, w, channels)).astype(dtype)  # continuous values: no ties
        out, r, (dx,) = _tape(lambda a: tf_fn(a, ksize, strides, padding.upper()), x)
        ours = ours_fn(x, ksize, strides, padding)
        assert ours.shape == out.shape and ours.dtype == dtype
        close(ours, out)
        close(ours_back(x, r, ksize, strides, padding), dx)


def test_depth_max_pool_matches_tf():
    x = np.random.default_rng(8).standard_normal((2, 3, 4, 6))
    theirs = tf.nn.max_pool2d(x, ksize=(1, 1, 1, 3), strides=(1, 1, 1, 3), padding="VALID").numpy()
    # TensorFlow's depth-wise max pooling rounds float64 through float32 (a max: the same numbers, rounded)
    theirs = np.where(np.isclose(theirs, x.reshape(2, 3, 4, 2, 3).max(axis=4), rtol=1e-7),
                      x.reshape(2, 3, 4, 2, 3).max(axis=4), np.nan)
    _close64(scratch.max_pool_depth(x, 3), theirs)
    _close64(scratch.max_pool2d(x, (1, 1, 1, 3), (1, 1, 1, 3), "VALID"), theirs)
    # TensorFlow has no gradient for depth-wise max pooling on CPU: compare with the max over a reshaped tensor
    out, r, (dx,) = _tape(lambda a: tf.reduce_max(tf.reshape(a, (2, 3, 4, 2, 3)), axis=4), x)
    _close64(out, theirs)
    _close64(scratch.max_pool_depth_backward(x, r, 3), dx)
    layer = scratch.DepthMaxPool(3)
    _close64(layer(x), theirs)
    _close64(layer.backward(r), dx)


# ---------------------------------------------------------------------------
# Keras layers
# ---------------------------------------------------------------------------

def _pairs():
    L = keras.layers
    pairs = [
        ("conv_valid", lambda: scratch.Conv2D(3, 3), lambda: L.Conv2D(3, 3, dtype=F64), (2, 7, 6, 2)),
        ("conv_same_relu", lambda: scratch.Conv2D(4, 5, padding="same", activation="relu"),
         lambda: L.Conv2D(4, 5, padding="same", activation="relu", dtype=F64), (2, 6, 6, 3)),
        ("conv_strided_rect", lambda: scratch.Conv2D(2, (3, 2), strides=(2, 3), padding="same", activation="tanh"),
         lambda: L.Conv2D(2, (3, 2), strides=(2, 3), padding="same", activation="tanh", dtype=F64), (2, 8, 9, 1)),
        ("conv_dilated", lambda: scratch.Conv2D(3, 3, dilation_rate=2, padding="same", use_bias=False),
         lambda: L.Conv2D(3, 3, dilation_rate=2, padding="same", use_bias=False, dtype=F64), (2, 7, 7, 2)),
        ("conv_1x1", lambda: scratch.Conv2D(5, 1, activation="sigmoid"),
         lambda: L.Conv2D(5, 1, activation="sigmoid", dtype=F64), (3, 4, 4, 3)),
        ("conv_stride3_valid", lambda: scratch.Conv2D(2, 4, strides=3), lambda: L.Conv2D(2, 4, strides=3, dtype=F64),
         (2, 11, 10, 2)),
        ("max_pool", scratch.MaxPool2D, lambda: L.MaxPooling2D(dtype=F64), (2, 7, 6, 3)),
        ("max_pool_same_overlap", lambda: scratch.MaxPool2D(3, strides=2, padding="same"),
         lambda: L.MaxPooling2D(3, strides=2, padding="same", dtype=F64), (2, 7, 6, 2)),
        ("avg_pool", lambda: scratch.AvgPool2D(2), lambda: L.AveragePooling2D(2, dtype=F64), (2, 6, 7, 3)),
        ("avg_pool_same", lambda: scratch.AveragePooling2D((3, 2), strides=(2, 1), padding="same"),
         lambda: L.AveragePooling2D((3, 2), strides=(2, 1), padding="same", dtype=F64), (2, 7, 5, 2)),
        ("global_avg", scratch.GlobalAveragePooling2D, lambda: L.GlobalAveragePooling2D(dtype=F64), (3, 5, 4, 6)),
        ("global_avg_keepdims", lambda: scratch.GlobalAveragePooling2D(keepdims=True),
         lambda: L.GlobalAveragePooling2D(keepdims=True, dtype=F64), (3, 5, 4, 6)),
        ("flatten_nhwc", scratch.Flatten, lambda: L.Flatten(dtype=F64), (2, 3, 4, 5)),
        ("lenet_like",
         lambda: scratch.Sequential([scratch.Conv2D(6, 5, padding="same", activation="tanh"), scratch.AvgPool2D(2),
                                     scratch.Conv2D(16, 5, activation="tanh"), scratch.MaxPool2D(),
                                     scratch.Flatten(), scratch.Dense(10, activation="softmax")]),
         lambda: keras.Sequential([L.Conv2D(6, 5, padding="same", activation="tanh", dtype=F64),
                                   L.AveragePooling2D(2, dtype=F64), L.Conv2D(16, 5, activation="tanh", dtype=F64),
                                   L.MaxPooling2D(dtype=F64), L.Flatten(dtype=F64),
                                   L.Dense(10, activation="softmax", dtype=F64)]),
         (2, 16, 16, 1)),
    ]
    return pairs


PAIRS = _pairs()


@pytest.mark.parametrize("make_scratch, make_keras, shape", [p[1:] for p in PAIRS], ids=[p[0] for p in PAIRS])
def test_layer_matches_keras(make_scratch, make_keras, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    ours, theirs = make_scratch(), make_keras()
    ours.forward(x)
    theirs(tf.constant(x))
    weights = [rng.uniform(-0.5, 0.5, w.shape) for w in ours.get_weights()]
    assert [w.shape for w in weights] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)

    out = ours.forward(x)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        k_out = theirs(xt)
        r = np.random.default_rng(1).standard_normal(k_out.shape)
        loss = tf.reduce_sum(k_out * r)
    k_dx, *k_dw = tape.gradient(loss, [xt, *theirs.trainable_weights])
    dx = ours.backward(r)
    _close64(out, k_out.numpy())
    _close64(dx, k_dx.numpy())
    assert len(ours.gradients()) == len(k_dw)
    for g, kg in zip(ours.gradients(), k_dw, strict=True):
        _close64(g, kg.numpy())
    if hasattr(ours, "compute_output_shape"):
        assert ours.compute_output_shape((None, *shape[1:])) == theirs.compute_output_shape((None, *shape[1:]))


def test_conv2d_layer_float32_matches_keras():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 12, 12, 3)).astype(np.float32)
    ours = scratch.Conv2D(8, 3, strides=2, padding="same", activation="relu")
    theirs = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    out = ours(x)
    assert out.dtype == np.float32
    _close32(out, theirs(x).numpy())


def test_keras_refuses_strides_with_dilation_but_scratch_computes_it():
    with pytest.raises(ValueError, match="dilation"):
        keras.layers.Conv2D(2, 3, strides=2, dilation_rate=2)
    layer = scratch.Conv2D(2, 3, strides=2, dilation_rate=2)
    x = np.random.default_rng(4).standard_normal((1, 9, 9, 1))
    out = layer(x)
    _close64(out, scratch.conv2d_naive(x, layer.params["kernel"], 2, "VALID", 2) + layer.params["bias"])


def test_glorot_uniform_kernel_uses_keras_fans():
    from keras.src.initializers.random_initializers import compute_fans

    layer = scratch.Conv2D(6, 5)
    layer.build((None, 28, 28, 3))
    fan_in, fan_out = compute_fans(layer.params["kernel"].shape)
    assert (fan_in, fan_out) == (75, 150)
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert 0.9 * limit < np.abs(layer.params["kernel"]).max() <= limit
