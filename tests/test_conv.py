"""Scratch convolution: worked examples, naive vs im2col, gradient checks, size calculators and bad input."""

import itertools

import numpy as np
import pytest

import labcode
from labcode import scratch
from labcode.gradcheck import check_layer, layer_errors, numerical_gradient, relative_error
from labcode.scratch import conv, sizes

TOL = 1e-7

IMAGE = np.array([[1, 1, 1, 0, 0],
                  [0, 1, 1, 1, 0],
                  [0, 0, 1, 1, 1],
                  [0, 0, 1, 1, 0],
                  [0, 1, 1, 0, 0]])
X_FILTER = np.array([[1, 0, 1],
                     [0, 1, 0],
                     [1, 0, 1]])


# ---------------------------------------------------------------------------
# Worked examples
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [scratch.conv2d, scratch.conv2d_naive])
def test_binary_image_with_x_filter(fn):
    x, w = IMAGE[None, :, :, None], X_FILTER[:, :, None, None]
    np.testing.assert_array_equal(fn(x, w)[0, :, :, 0], [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    np.testing.assert_array_equal(fn(x, w, strides=2)[0, :, :, 0], [[4, 4], [2, 4]])
    # bias 0, and floats give the same numbers
    floats = fn(x.astype(float), w.astype(float), 1)[0, :, :, 0]
    np.testing.assert_array_equal(floats, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])


def test_binary_image_with_a_layer():
    layer = scratch.Conv2D(1, 3, kernel_initializer="zeros")
    layer(IMAGE[None, :, :, None])
    layer.set_weights([X_FILTER[:, :, None, None], np.zeros(1)])
    np.testing.assert_array_equal(layer(IMAGE[None, :, :, None])[0, :, :, 0], [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    strided = scratch.Conv2D(1, 3, strides=2)
    strided.build((None, 5, 5, 1))
    strided.set_weights([X_FILTER[:, :, None, None], np.zeros(1)])
    np.testing.assert_array_equal(strided(IMAGE[None, :, :, None])[0, :, :, 0], [[4, 4], [2, 4]])


@pytest.mark.parametrize("fn", [scratch.conv2d, scratch.conv2d_naive])
def test_shapes_of_the_13x5_example(fn):
    x, w = np.ones((1, 13, 5, 5)), np.ones((6, 3, 5, 2))
    assert fn(x, w, strides=(5, 2), padding="SAME").shape == (1, 3, 3, 2)
    assert fn(x, w, strides=(5, 2), padding="VALID").shape == (1, 2, 2, 2)
    assert fn(x, w, strides=[1, 5, 2, 1], padding="same").shape == (1, 3, 3, 2)


def test_delayed_signal():
    x = np.array([1.0, 0.0, 0.0, 2.0, 0.0])
    echo = scratch.conv1d(x, [1, 1 / 2, 1 / 4])
    np.testing.assert_allclose(echo, [1, 0.5, 0.25, 2, 1, 0.5, 0])
    # y(t) = x(t) + x(t − 1)/2 + x(t − 2)/4 for t = 0 … len(x) − 1
    expected = [sum(w * (x[t - k] if t - k >= 0 else 0) for k, w in enumerate([1, 0.5, 0.25])) for t in range(5)]
    np.testing.assert_allclose(echo[:5], expected)
    # cross-correlation reads the signal forward: the kernel flipped
    np.testing.assert_allclose(scratch.conv1d(x, [1, 1 / 2, 1 / 4], flip=False), scratch.conv1d(x, [1 / 4, 1 / 2, 1]))


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
def test_conv1d_equals_numpy(mode):
    rng = np.random.default_rng(0)
    for n, m in itertools.product(range(1, 8), range(1, 8)):
        x, w = rng.standard_normal(n), rng.standard_normal(m)
        np.testing.assert_allclose(scratch.conv1d(x, w, mode), np.convolve(x, w, mode), rtol=1e-12, atol=1e-12,
                                   err_msg=f"convolve n={n} m={m}")
        np.testing.assert_allclose(scratch.conv1d(x, w, mode, flip=False), np.correlate(x, w, mode), rtol=1e-12,
                                   atol=1e-12, err_msg=f"correlate n={n} m={m}")
    ints = scratch.conv1d([1, 2, 3], [0, 1], mode.upper())
    np.testing.assert_array_equal(ints, np.convolve([1, 2, 3], [0, 1], mode))
    assert ints.dtype.kind == "i"


def test_true_convolution_is_cross_correlation_with_the_kernel_flipped():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 6, 6, 1)), rng.standard_normal((3, 3, 1, 1))
    signal = x[0, 2, :, 0]
    np.testing.assert_allclose(scratch.conv1d(signal, w[1, :, 0, 0], "valid"),
                               scratch.conv1d(signal, w[1, ::-1, 0, 0], "valid", flip=False))
    flipped = w[::-1, ::-1]
    z = scratch.conv2d(x, flipped)[0, :, :, 0]
    # z[i, j] = Σ_u Σ_v x[i + u, j + v]·w[2 − u, 2 − v] = Σ x[i + 2 − a, j + 2 − b]·w[a, b]: a true 2-D convolution
    expected = [[sum(x[0, i + 2 - a, j + 2 - b, 0] * w[a, b, 0, 0] for a in range(3) for b in range(3))
                 for j in range(4)] for i in range(4)]
    np.testing.assert_allclose(z, expected)


# ---------------------------------------------------------------------------
# Naive and im2col agree
# ---------------------------------------------------------------------------

def _random_case(rng):
    f = tuple(int(v) for v in rng.integers(1, 6, 2))
    s = tuple(int(v) for v in rng.integers(1, 4, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    padding = ["SAME", "valid", "Same", 1, (2, 0), ((1, 0), (0, 2))][int(rng.integers(6))]
    spans = [(k - 1) * dd + 1 for k, dd in zip(f, d, strict=True)]
    h, w = (int(rng.integers(span, span + 7)) for span in spans)
    c_in, c_out = (int(v) for v in rng.integers(1, 4, 2))
    return (int(rng.integers(1, 3)), h, w, c_in), (*f, c_in, c_out), s, padding, d


def test_naive_and_im2col_agree_on_a_random_grid():
    rng = np.random.default_rng(2)
    for _ in range(150):  # strides with dilations, explicit and uneven padding included
        x_shape, w_shape, s, padding, d = _random_case(rng)
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        fast, naive = scratch.conv2d(x, w, s, padding, d), scratch.conv2d_naive(x, w, s, padding, d)
        assert fast.shape == naive.shape
        case = f"{x_shape} {w_shape} {s} {padding} {d}"
        np.testing.assert_allclose(fast, naive, rtol=1e-12, atol=1e-12, err_msg=case)
        dout = rng.standard_normal(fast.shape)
        for a, b in zip(scratch.conv2d_backward(x, w, dout, s, padding, d),
                        scratch.conv2d_backward_naive(x, w, dout, s, padding, d), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=case)
        ints = rng.integers(-3, 4, x_shape), rng.integers(-3, 4, w_shape)
        np.testing.assert_array_equal(scratch.conv2d(*ints, s, padding, d), scratch.conv2d_naive(*ints, s, padding, d))


def test_output_size_follows_the_calculator():
    rng = np.random.default_rng(3)
    for _ in range(60):
        x_shape, w_shape, s, padding, d = _random_case(rng)
        out = scratch.conv2d(np.zeros(x_shape), np.zeros(w_shape), s, padding, d)
        p = padding if not isinstance(padding, tuple) else None
        if p is not None:
            assert out.shape[1:3] == tuple(sizes.conv_output_size(n, f, ss, p, dd) for n, f, ss, dd in
                                           zip(x_shape[1:3], w_shape[:2], s, d, strict=True))


def test_conv2d_is_im2col_times_the_reshaped_filters():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 2, 3, 4))
    cols = scratch.im2col(x, (3, 2), strides=(2, 1), padding="same")
    assert cols.shape == (2 * 4 * 6, 3 * 2 * 3)
    z = (cols @ w.reshape(-1, 4)).reshape(2, 4, 6, 4)
    np.testing.assert_allclose(z, scratch.conv2d(x, w, (2, 1), "same"), rtol=1e-12, atol=1e-12)
    # the first row is the top-left window (SAME pads one row on top, none on the left), in (u, v, c) order
    np.testing.assert_array_equal(cols[0], np.concatenate([np.zeros(6), x[0, :2, :2, :].ravel()]))


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(5)
    for kernel, s, padding, d in [(3, 1, "VALID", 1), ((2, 3), (2, 1), "SAME", 1), (2, 1, "SAME", 2), (3, 2, 1, 2)]:
        x = rng.standard_normal((2, 7, 8, 2))
        cols = scratch.im2col(x, kernel, s, padding, d)
        c = rng.standard_normal(cols.shape)
        back = scratch.col2im(c, x.shape, kernel, s, padding, d)
        assert back.shape == x.shape
        np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)
    # non-overlapping windows: col2im undoes im2col
    x = rng.standard_normal((1, 4, 6, 3))
    np.testing.assert_array_equal(scratch.col2im(scratch.im2col(x, 2, 2), x.shape, 2, 2), x)


def test_blocks_give_the_same_results(monkeypatch):
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((3, 9, 8, 2)), rng.standard_normal((3, 3, 2, 4))
    dout_shape = scratch.conv2d(x, w, (2, 1), "same").shape
    dout = rng.standard_normal(dout_shape)
    whole = scratch.conv2d(x, w, (2, 1), "same"), *scratch.conv2d_backward(x, w, dout, (2, 1), "same")
    for block in (1, 3 * 8 * 18, 2 * 5 * 8 * 18):  # one output row at a time, 3 rows (of 5), 2 images (of 3)
        monkeypatch.setattr(conv, "BLOCK_SIZE", block)
        blocked = scratch.conv2d(x, w, (2, 1), "same"), *scratch.conv2d_backward(x, w, dout, (2, 1), "same")
        for a, b in zip(blocked, whole, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


THREAD_CASES = [  # x shape, w shape, strides, padding, dilations
    ((3, 9, 8, 4), (3, 3, 4, 2), 1, "same", 1),  # c_out ≤ c_in, stride 1: the transposed convolution's backward
    ((3, 9, 8, 2), (3, 3, 2, 4), 1, "same", 1),  # c_out > c_in: im2col again and col2im
    ((2, 9, 8, 3), (3, 2, 3, 3), (2, 1), "valid", 1),
    ((2, 10, 9, 3), (2, 3, 3, 2), 1, ((1, 2), (0, 1)), (2, 1)),
    ((2, 8, 7, 1), (5, 5, 1, 1), 1, "same", 1),  # one channel: the transposed im2col copy
]


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_give_the_same_results(monkeypatch, threads):
    """Blocks spread over threads (forced here on small arrays) give what one thread gives, to rounding (∂L/∂W adds
    its parts in another order), and the same numbers from run to run."""
    rng = np.random.default_rng(12)
    spread, run_parts = [], conv._run_parts

    def counted(parts, run):
        spread.append(len(parts))
        return run_parts(parts, run)

    monkeypatch.setattr(conv, "_run_parts", counted)
    for x_shape, w_shape, s, padding, d in THREAD_CASES:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        dout = rng.standard_normal(scratch.conv2d(x, w, s, padding, d).shape)
        monkeypatch.setattr(conv, "THREADS", 1)
        one = scratch.conv2d(x, w, s, padding, d), *scratch.conv2d_backward(x, w, dout, s, padding, d)
        monkeypatch.setattr(conv, "THREADS", threads)
        monkeypatch.setattr(conv, "PARALLEL_MACS", 0)
        for block in (1, 40, 300):  # CACHE_BLOCK: one output row at a time, bands of rows, several images
            monkeypatch.setattr(conv, "CACHE_BLOCK", block)
            spread.clear()
            many = scratch.conv2d(x, w, s, padding, d), *scratch.conv2d_backward(x, w, dout, s, padding, d)
            assert max(spread) > 1
            again = scratch.conv2d(x, w, s, padding, d), *scratch.conv2d_backward(x, w, dout, s, padding, d)
            for a, b, c in zip(many, one, again, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
                np.testing.assert_array_equal(a, c)


def test_backward_path_choice():
    vgg = conv._geometry((56, 56), (3, 3), (1, 1), "SAME", (1, 1), "test")
    assert conv._transposable(vgg, (3, 3, 64, 64))  # the VGG block: one im2col, of ∂L/∂Z
    assert not conv._transposable(vgg, (3, 3, 64, 128))  # more outputs than inputs per pixel
    assert not conv._transposable(conv._geometry((28, 28), (5, 5), (1, 1), "SAME", (1, 1), "test"), (5, 5, 1, 6))
    strided = conv._geometry((9, 9), (3, 3), (2, 2), "SAME", (1, 1), "test")
    assert not conv._transposable(strided, (3, 3, 4, 4))
    wide = conv._geometry((9, 9), (3, 3), (1, 1), ((3, 0), (0, 0)), (1, 1), "test")  # more padding than span − 1
    assert not conv._transposable(wide, (3, 3, 4, 4))
    x = np.random.default_rng(13).standard_normal((2, 9, 9, 4))
    w, dout = np.ones((3, 3, 4, 4)), np.ones((2, 10, 7, 4))
    for a, b in zip(scratch.conv2d_backward(x, w, dout, 1, ((3, 0), (0, 0))),
                    scratch.conv2d_backward_naive(x, w, dout, 1, ((3, 0), (0, 0))), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("s, padding, d", [(1, "VALID", 1), ((2, 1), "SAME", 1), (1, "same", 2), (2, "VALID", 2),
                                           (3, ((1, 2), (0, 1)), 1)])
def test_conv2d_backward_against_finite_differences(s, padding, d):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 7, 6, 2)), rng.standard_normal((3, 2, 2, 3))
    r = rng.standard_normal(scratch.conv2d(x, w, s, padding, d).shape)
    dx, dw = scratch.conv2d_backward(x, w, r, s, padding, d)
    assert relative_error(dx, numerical_gradient(lambda v: np.sum(scratch.conv2d(v, w, s, padding, d) * r), x)) < TOL
    assert relative_error(dw, numerical_gradient(lambda v: np.sum(scratch.conv2d(x, v, s, padding, d) * r), w)) < TOL


CONV_LAYERS = [
    ("valid", lambda: scratch.Conv2D(3, 3, bias_initializer="random_normal"), (2, 6, 5, 2)),
    ("same_strided", lambda: scratch.Conv2D(2, (3, 2), strides=2, padding="same", bias_initializer="ones"),
     (2, 7, 6, 3)),
    ("dilated_same", lambda: scratch.Conv2D(2, 3, dilation_rate=2, padding="same"), (2, 6, 6, 1)),
    ("strided_and_dilated", lambda: scratch.Conv2D(2, 2, strides=(2, 3), dilation_rate=(2, 1)), (2, 8, 8, 2)),
    ("1x1", lambda: scratch.Conv2D(4, 1, use_bias=False), (3, 3, 4, 3)),
    ("same_fewer_maps", lambda: scratch.Conv2D(2, 3, padding="same", bias_initializer="ones"), (2, 6, 5, 3)),
    ("tanh", lambda: scratch.Conv2D(3, 3, padding="same", activation="tanh"), (2, 5, 5, 2)),
    ("5x5_stride3", lambda: scratch.Conv2D(2, 5, strides=3, padding="same", activation="sigmoid"), (2, 8, 7, 1)),
]


@pytest.mark.parametrize("make, shape", [c[1:] for c in CONV_LAYERS], ids=[c[0] for c in CONV_LAYERS])
def test_conv_layer_passes_gradient_check(make, shape):
    layer = make()
    errors = layer_errors(layer, np.random.default_rng(8).standard_normal(shape))
    assert max(errors.values()) < TOL, errors
    assert set(errors) == {"input", *layer.params}


def test_lenet_like_model_passes_gradient_check():
    model = scratch.Sequential([
        scratch.Conv2D(3, 3, padding="same", activation="tanh"), scratch.MaxPool2D(),
        scratch.Conv2D(4, 3, activation="tanh"), scratch.AvgPool2D(2, padding="same"),
        scratch.Flatten(), scratch.Dense(3, activation="softmax"),
    ])
    assert check_layer(model, np.random.default_rng(9).standard_normal((2, 10, 10, 1))) < TOL


@pytest.mark.parametrize("channels, filters, kwargs", [(4, 2, {"padding": "same"}), (4, 5, {"padding": "same"}),
                                                        (4, 3, {"strides": 2, "dilation_rate": 1}),
                                                        (1, 3, {"padding": "same"})])
def test_conv_layer_training_on_threads(monkeypatch, channels, filters, kwargs):
    """Training mode keeps the im2col blocks for ∂L/∂W when backward needs them (col2im path) and the input has
    more than one channel, on threads too."""
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 9, 8, channels))
    layer = scratch.Conv2D(filters, 3, bias_initializer="random_normal", **kwargs)
    out = layer.forward(x, training=True)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    expected = out, dx, layer.grads["kernel"].copy(), layer.grads["bias"].copy()
    monkeypatch.setattr(conv, "THREADS", 2)
    monkeypatch.setattr(conv, "PARALLEL_MACS", 0)
    monkeypatch.setattr(conv, "CACHE_BLOCK", 60)
    out = layer.forward(x, training=True)
    kept = channels > 1 and (filters > channels or "strides" in kwargs)  # kept only for the col2im path
    assert (layer._cols is not None) == kept
    dx = layer.backward(dout)
    for a, b in zip((out, dx, layer.grads["kernel"], layer.grads["bias"]), expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_conv_layer_frozen_and_first_layer_skip_their_gradients():
    x = np.random.default_rng(10).standard_normal((2, 5, 5, 2))
    layer = scratch.Conv2D(2, 3)
    out = layer(x)
    layer.need_input_gradient = False
    assert layer.backward(np.ones_like(out)) is None
    assert np.any(layer.grads["kernel"])
    layer.need_input_gradient, layer.trainable = True, False
    layer.grads["kernel"][...] = 0
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape and not np.any(layer.grads["kernel"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lenet_like_training_reduces_the_loss(seed):
    labcode.seed(seed, tensorflow=False)  # the initialisers draw from NumPy's global generator
    rng = np.random.default_rng(11)
    x = rng.standard_normal((64, 12, 12, 1)).astype(np.float32)
    y = (x[:, :6].mean(axis=(1, 2, 3)) > x[:, 6:].mean(axis=(1, 2, 3))).astype(int)  # top half brighter?
    model = scratch.Sequential([scratch.Conv2D(4, 3, padding="same", activation="relu"), scratch.MaxPool2D(),
                                scratch.Conv2D(8, 3, activation="relu"), scratch.GlobalAveragePooling2D(),
                                scratch.Dense(2, activation="softmax")])
    model.compile(optimizer=scratch.Adam(0.01), loss="sparse_categorical_crossentropy")
    before = model.evaluate(x, y, return_dict=True)["loss"]
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate(x, y, return_dict=True)["loss"] < 0.8 * before
    assert model.layers[0].params["kernel"].dtype == np.float32


# ---------------------------------------------------------------------------
# The layer
# ---------------------------------------------------------------------------

def test_conv_layer_weights_shapes_and_names():
    layer = scratch.Conv2D(6, 5, padding="SAME", activation="tanh")
    assert layer.name.startswith("conv2d") and layer.padding == "same"
    assert layer.compute_output_shape((None, 28, 28, 1)) == (None, 28, 28, 6)
    out = layer(np.zeros((2, 28, 28, 1), dtype=np.float32))
    assert out.shape == (2, 28, 28, 6) and out.dtype == np.float32
    assert [p.shape for p in layer.weights] == [(5, 5, 1, 6), (6,)] and layer.count_params() == 156
    assert layer.count_params() == sizes.conv_params(5, 5, 1, 6)
    # built for 1 channel; other heights and widths are fine, as in Keras
    assert layer(np.zeros((1, 10, 12, 1))).shape == (1, 10, 12, 6)
    with pytest.raises(ValueError, match="expected 1 channels"):
        layer(np.zeros((1, 28, 28, 3)))
    assert scratch.Conv2D(16, 5).compute_output_shape((None, 14, 14, 6)) == (None, 10, 10, 16)
    assert scratch.Conv2D(2, 3, strides=2).compute_output_shape((None, None, 9, 1)) == (None, None, 4, 2)
    assert "filters=6" in repr(layer)


def test_glorot_uniform_fans_count_the_receptive_field():
    layer = scratch.Conv2D(6, 5)
    layer.build((None, 28, 28, 3))
    limit = np.sqrt(6 / (5 * 5 * 3 + 5 * 5 * 6))
    assert 0.9 * limit < np.abs(layer.params["kernel"]).max() <= limit


# ---------------------------------------------------------------------------
# Calculators
# ---------------------------------------------------------------------------

def test_output_size_rules():
    assert sizes.conv_output_size(32, 5) == 28
    assert sizes.conv_output_size(28, 5, padding=2) == 28
    assert sizes.conv_output_size(7, 3, 2, 1) == 4  # (7 + 2 − 3)/2 + 1
    assert sizes.conv_output_size(8, 3, 2, 1) == 4  # ⌊(8 + 2 − 3)/2⌋ + 1
    assert sizes.conv_output_size(13, 6, 5, "SAME") == 3 and sizes.conv_output_size(13, 6, 5, "valid") == 2
    assert sizes.conv_output_size(5, 3, 2, "same") == 3
    assert sizes.conv_output_size(9, 3, 1, "valid", dilation=2) == 5
    assert sizes.conv_output_size(5, 3, 1, (2, 0)) == 5
    assert sizes.same_padding(13, 6, 5) == (1, 2)  # (3 − 1)·5 + 6 − 13 = 3: one on top, two at the bottom
    assert sizes.same_padding(5, 3, 2) == (1, 1)
    assert sizes.same_padding(6, 3, 2) == (0, 1)  # the odd pixel at the bottom / right
    assert sizes.same_padding(5, 1, 3) == (0, 0)
    assert sizes.same_padding(7, 3, 1, dilation=2) == (2, 2)
    assert sizes.effective_kernel_size(3, 2) == 5


def test_same_padding_matches_the_rule_everywhere():
    for n, f, s, d in itertools.product(range(1, 12), range(1, 6), range(1, 4), range(1, 3)):
        before, after = sizes.same_padding(n, f, s, d)
        out = -(-n // s)
        total = max((out - 1) * s + (f - 1) * d + 1 - n, 0)
        assert (before, after) == (total // 2, total - total // 2)
        assert sizes.conv_output_size(n, f, s, (before, after), d) == out


def test_the_150x100_rgb_layer():
    assert sizes.conv_params(5, 5, 3, 200) == 15_200
    assert sizes.conv_output_size(150, 5, 1, "same") == 150 and sizes.conv_output_size(100, 5, 1, "same") == 100
    assert sizes.conv_mults(150, 100, 5, 5, 3, 200) == 225_000_000
    per_instance = sizes.conv_memory(150, 100, 200)
    assert per_instance == 150 * 100 * 200 * 4 == 12_000_000
    assert round(per_instance / 2**20, 1) == 11.4 and sizes.format_bytes(per_instance) == "11.4 MiB"
    assert sizes.conv_memory(150, 100, 200, batch=100) > 1e9
    assert sizes.conv_memory(150, 100, 200, dtype="float64") == 24_000_000
    costs = sizes.conv_layer_costs((150, 100, 3), 200, 5, padding="same", batch=100)
    assert costs["output_shape"] == (150, 100, 200) and costs["params"] == 15_200
    assert costs["mults"] == 225_000_000 and costs["memory_per_batch"] == 1_200_000_000
    layer = scratch.Conv2D(200, 5, padding="same")
    layer.build((None, 150, 100, 3))
    assert layer.count_params() == 15_200 and layer.compute_output_shape((None, 150, 100, 3)) == (None, 150, 100, 200)


def test_edge_detection_efficiency():
    image = np.random.default_rng(12).standard_normal((1, 280, 320, 1))  # 320 wide, 280 tall
    edges = scratch.conv2d(image, np.array([1.0, -1.0]).reshape(1, 2, 1, 1))
    assert edges.shape == (1, 280, 319, 1)
    np.testing.assert_allclose(edges[0, :, :, 0], image[0, :, :-1, 0] - image[0, :, 1:, 0])
    assert sizes.conv_output_size(320, 2) == 319
    assert sizes.conv_flops(319, 280, 1, 2) == 319 * 280 * 3 == 267_960
    dense = sizes.dense_flops(320 * 280, 319 * 280)
    assert dense > 16e9 and round(dense / 1e9) == 16
    assert sizes.dense_params(320 * 280, 319 * 280, bias=False) == 320 * 280 * 319 * 280 > 8e9
    assert 59_000 < dense / sizes.conv_flops(319, 280, 1, 2) < 61_000  # "roughly 60,000 times more efficient"


def test_calculators_refuse_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        sizes.conv_output_size(5, 3, 0)
    with pytest.raises(ValueError, match="padding"):
        sizes.conv_output_size(5, 3, 1, "full")
    with pytest.raises(ValueError, match="more than the 3 pixels"):
        sizes.conv_output_size(3, 5)
    with pytest.raises(ValueError, match="padding"):
        sizes.conv_output_size(3, 2, 1, -1)
    with pytest.raises(ValueError, match="c_in"):
        sizes.conv_params(3, 3, 0, 4)
    with pytest.raises(TypeError, match="dtype"):
        sizes.conv_memory(2, 2, 2, dtype="nonsense")


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [scratch.conv2d, scratch.conv2d_naive])
def test_bad_input_names_the_expected_shape(fn):
    x, w = np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 2))
    with pytest.raises(ValueError, match=r"input has 3 channels.*filter expects 2.*HWIO"):
        fn(x, np.zeros((3, 3, 2, 4)))
    with pytest.raises(ValueError, match=r"window \(7×7, spanning 7×7 pixels\) is larger than the 5×5 input"):
        fn(x, np.zeros((7, 7, 3, 1)))
    with pytest.raises(ValueError, match=r"spanning 5×5"):
        fn(x[:, :4, :4], w, dilations=2)
    fn(x, np.zeros((7, 7, 3, 1)), padding="SAME")  # fine with padding
    with pytest.raises(ValueError, match=r"4-D input \(batch, height, width, channels\).*x\[None, :, :, None\]"):
        fn(np.zeros((5, 5)), w)
    with pytest.raises(ValueError, match=r"4-D input .*got shape \(5, 5, 3\).*x\[None\]"):
        fn(np.zeros((5, 5, 3)), w)
    with pytest.raises(ValueError, match=r"4-D filter \(f_h, f_w, c_in, c_out\).*k\[:, :, None, None\]"):
        fn(x, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unknown padding 'full'"):
        fn(x, w, padding="full")
    for strides in (0, -1, (1, 0), 1.5, (1, 2, 3), [2, 1, 1, 1]):
        with pytest.raises(ValueError, match="strides"):
            fn(x, w, strides=strides)
    with pytest.raises(ValueError, match="dilations"):
        fn(x, w, dilations=0)
    for padding in (-1, ((1, 2), (3,)), (1, 2, 3), True, None):
        with pytest.raises(ValueError, match="unknown padding"):
            fn(x, w, padding=padding)
    with pytest.raises(TypeError, match="real numbers"):
        fn(x.astype(complex), w)


def test_bad_input_elsewhere():
    with pytest.raises(ValueError, match="1-D"):
        scratch.conv1d(np.zeros((2, 3)), [1, 2])
    with pytest.raises(ValueError, match="non-empty"):
        scratch.conv1d([], [1, 2])
    with pytest.raises(ValueError, match="mode"):
        scratch.conv1d([1, 2], [1], mode="causal")
    x, w = np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 2))
    with pytest.raises(ValueError, match=r"dout must have the output's shape .*\(1, 3, 3, 2\)"):
        scratch.conv2d_backward(x, w, np.zeros((1, 5, 5, 2)))
    with pytest.raises(ValueError, match="cols must have shape"):
        scratch.col2im(np.zeros((9, 8)), (1, 5, 5, 1), 3)
    with pytest.raises(ValueError, match="x_shape"):
        scratch.col2im(np.zeros((9, 9)), (5, 5, 1), 3)


def test_bad_layer_arguments_and_inputs():
    with pytest.raises(ValueError, match="filters"):
        scratch.Conv2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        scratch.Conv2D(2, (3, 0))
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        scratch.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="strides"):
        scratch.Conv2D(2, 3, strides=-1)
    with pytest.raises(ValueError, match="channels_last"):
        scratch.Conv2D(2, 3, data_format="channels_first")
    layer = scratch.Conv2D(2, 3)
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d.*4-D input \(batch, height, width, channels\)"):
        layer(np.zeros((5, 5)))
    assert not layer.built
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d.*larger than the 2×2 input"):
        layer(np.zeros((1, 2, 2, 1)))
    with pytest.raises(RuntimeError, match="before forward"):
        scratch.Conv2D(2, 3).backward(np.zeros((1, 1, 1, 2)))
    layer(np.zeros((1, 4, 4, 1)))
    with pytest.raises(ValueError, match="dout must have the shape"):
        layer.backward(np.zeros((1, 3, 3, 2)))


@pytest.mark.parametrize("shape", [(3, 4, 5, 2), (2, 1, 1, 7), (1, 3, 6, 1)])
def test_conv_layer_bias_row_by_row(shape):
    """The bias added and its gradient summed a map row at a time are z + b and Σ over (n, i, j), also for a
    z that is not contiguous."""
    from labcode.scratch.conv_layers import _add_bias, _bias_gradient

    rng = np.random.default_rng(15)
    z, b = rng.standard_normal(shape), rng.standard_normal(shape[3])
    for target in (z.copy(), np.asfortranarray(z)):
        _add_bias(target, b)
        np.testing.assert_allclose(target, z + b, rtol=1e-15)
    np.testing.assert_allclose(_bias_gradient(z), z.sum(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(_bias_gradient(z.transpose(0, 2, 1, 3)), z.sum(axis=(0, 1, 2)), rtol=1e-12)


@pytest.mark.parametrize("w_shape", [(3, 3, 2, 4), (3, 3, 2, 1)])  # the col2im path, the transposed path
def test_empty_batch(w_shape):
    """A batch of no images gives empty outputs and ∂L/∂x, and a zero ∂L/∂W, as TensorFlow does."""
    x, w = np.zeros((0, 5, 5, 2)), np.ones(w_shape)
    z = scratch.conv2d(x, w, 1, "SAME")
    dx, dw = scratch.conv2d_backward(x, w, np.zeros(z.shape), 1, "SAME")
    assert (z.shape, dx.shape) == ((0, 5, 5, w_shape[3]), x.shape)
    np.testing.assert_array_equal(dw, np.zeros(w_shape))
