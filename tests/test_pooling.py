"""Scratch pooling: values, gradient checks, the layers, and bad input."""

import numpy as np
import pytest

from labcode import scratch
from labcode.gradcheck import layer_errors, numerical_gradient, relative_error
from labcode.scratch import pooling

TOL = 1e-7

# one 4×4 feature map
FMAP = np.array([[1.0, 3.0, 2.0, 1.0],
                 [4.0, 6.0, 5.0, 0.0],
                 [7.0, 2.0, 9.0, 8.0],
                 [1.0, 0.0, 3.0, 4.0]])[None, :, :, None]


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

def test_max_and_average_pooling_values():
    np.testing.assert_array_equal(scratch.max_pool2d(FMAP, 2)[0, :, :, 0], [[6, 5], [7, 9]])
    np.testing.assert_array_equal(scratch.avg_pool2d(FMAP, 2)[0, :, :, 0], [[3.5, 2], [2.5, 6]])
    np.testing.assert_array_equal(scratch.max_pool2d(FMAP, 3, 1)[0, :, :, 0], [[9, 9], [9, 9]])
    np.testing.assert_array_equal(scratch.max_pool2d(FMAP, 2, 2, "same"), scratch.max_pool2d(FMAP, 2))
    # SAME, 3×3 window, stride 2 on 4 pixels: 2 outputs, padding (2 − 1)·2 + 3 − 4 = 1, all of it bottom / right;
    # windows cover rows (and columns) 0–2 and 2–4, row 4 being padding
    np.testing.assert_array_equal(scratch.max_pool2d(FMAP, 3, 2, "SAME")[0, :, :, 0], [[9, 9], [9, 9]])
    np.testing.assert_allclose(scratch.avg_pool2d(FMAP, 3, 2, "SAME")[0, :, :, 0],
                               [[39 / 9, 25 / 6], [22 / 6, 24 / 4]])
    np.testing.assert_array_equal(scratch.max_pool2d(FMAP[:, ::-1, ::-1], 3, 2, "SAME")[0, :, :, 0], [[9, 7], [6, 6]])


def test_same_average_pooling_leaves_the_padding_out():
    ones = np.ones((1, 5, 4, 2))
    np.testing.assert_array_equal(scratch.avg_pool2d(ones, 3, 1, "same"), ones)  # zeros counted would give 4/9 …
    layer = scratch.AvgPool2D(3, strides=1, padding="same")
    np.testing.assert_array_equal(layer(ones), ones)


def test_pooling_of_negative_numbers_and_integers():
    neg = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    np.testing.assert_array_equal(scratch.max_pool2d(neg, 2, 1, "same")[0, :, :, 0],
                                  [[-1, -2, -3], [-4, -5, -6], [-7, -8, -9]])  # −∞ padding never wins
    ints = np.arange(16).reshape(1, 4, 4, 1)
    out = scratch.max_pool2d(ints, 2, 2, "same")
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(scratch.avg_pool2d(ints, 2)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_depth_max_pool_values():
    x = np.arange(24.0).reshape(1, 2, 2, 6)
    x[0, 0, 0] = [5, 1, 0, 2, 9, 3]
    out = scratch.max_pool_depth(x, 3)
    assert out.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(out[0, 0, 0], [5, 9])
    np.testing.assert_array_equal(out[0, 1, 1], [20, 23])
    np.testing.assert_array_equal(scratch.max_pool2d(x, (1, 1, 1, 3), (1, 1, 1, 3), "VALID"), out)
    np.testing.assert_array_equal(scratch.DepthMaxPool(3)(x), out)


def test_global_average_pooling():
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 6))
    np.testing.assert_allclose(scratch.global_avg_pool2d(x), x.mean(axis=(1, 2)))
    assert scratch.global_avg_pool2d(x, keepdims=True).shape == (3, 1, 1, 6)
    layer = scratch.GlobalAveragePooling2D()
    np.testing.assert_allclose(layer(x), x.mean(axis=(1, 2)))
    np.testing.assert_allclose(layer.backward(np.ones((3, 6))), np.full(x.shape, 1 / 20))


# ---------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------

def test_max_pool_gradient_goes_to_the_maximum_and_adds_up_over_overlapping_windows():
    dx = scratch.max_pool2d_backward(FMAP, np.ones((1, 2, 2, 1)), 2)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 0, 0, 0], [0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    dx = scratch.max_pool2d_backward(FMAP, np.ones((1, 2, 2, 1)), 3, 1)  # the 9 wins all four windows
    assert dx[0, 2, 2, 0] == 4 and dx.sum() == 4


@pytest.mark.parametrize("shape, ksize, strides, padding", [
    ((2, 6, 8, 3), 2, None, "VALID"),
    ((2, 7, 9, 2), 2, None, "VALID"),  # a row and a column left over
    ((1, 9, 8, 2), (3, 2), None, "valid"),
    ((2, 6, 6, 1), 3, 3, "SAME"),  # SAME that pads nothing
    ((1, 4, 4, 2), (1, 2), (1, 2), "same"),
])
def test_max_pool_tiles_match_the_general_path(monkeypatch, shape, ksize, strides, padding):
    """Non-overlapping windows take a faster path (reshaping x, tap by tap); it must give what the general path
    (every window copied out, argmax) gives: ties to the first tap, a NaN wins its window."""
    rng = np.random.default_rng(4)
    clean = rng.integers(-2, 3, shape).astype(float)  # small integers: many ties
    x = clean.copy()
    x[0, 0, 0, 0], x[-1, -1, 0, -1] = np.nan, -np.inf
    dout = rng.standard_normal(scratch.max_pool2d(x, ksize, strides, padding).shape)
    assert pooling._tiles(x, pooling._pool_geometry(shape[1:3], ksize, strides, padding, "test")) is not None
    layer = scratch.MaxPool2D(ksize, strides, padding)

    def results():
        return [result for v in (clean, x) for result in (
            scratch.max_pool2d(v, ksize, strides, padding),
            scratch.max_pool2d_backward(v, dout, ksize, strides, padding), layer(v), layer.backward(dout))]

    fast = results()
    monkeypatch.setattr(pooling, "_tiles", lambda x, g: None)
    for a, b in zip(fast, results(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_max_pool_tiles_keep_integers_and_float32():
    ints = np.arange(32).reshape(1, 4, 4, 2)[:, :, ::-1]
    np.testing.assert_array_equal(scratch.max_pool2d(ints, 2), ints.reshape(1, 2, 2, 2, 2, 2).max(axis=(2, 4)))
    assert scratch.max_pool2d(ints, 2).dtype == ints.dtype
    x = np.random.default_rng(5).standard_normal((2, 4, 6, 3)).astype(np.float32)
    layer = scratch.MaxPool2D()
    assert layer(x).dtype == np.float32 and layer.backward(np.ones((2, 2, 3, 3), np.float32)).dtype == np.float32
    assert layer._argmax.dtype == np.int8  # the tap of each window's maximum, one byte each


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("ksize, strides, padding", [(2, None, "VALID"), (3, 1, "SAME"), ((2, 3), (1, 2), "same"),
                                                     (3, 2, "valid"), (1, 3, "SAME")])
def test_pooling_backward_against_finite_differences(kind, ksize, strides, padding):
    fn, back = {"max": (scratch.max_pool2d, scratch.max_pool2d_backward),
                "avg": (scratch.avg_pool2d, scratch.avg_pool2d_backward)}[kind]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 7, 2))
    r = rng.standard_normal(fn(x, ksize, strides, padding).shape)
    dx = back(x, r, ksize, strides, padding)
    assert dx.shape == x.shape
    assert relative_error(dx, numerical_gradient(lambda v: np.sum(fn(v, ksize, strides, padding) * r), x)) < TOL


def test_depth_pool_backward_against_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 2, 6))
    r = rng.standard_normal((2, 3, 2, 3))
    dx = scratch.max_pool_depth_backward(x, r, 2)
    assert relative_error(dx, numerical_gradient(lambda v: np.sum(scratch.max_pool_depth(v, 2) * r), x)) < TOL


POOL_LAYERS = [
    ("max_2", scratch.MaxPool2D, (2, 6, 6, 3)),
    ("max_odd_valid", lambda: scratch.MaxPool2D(2), (2, 7, 5, 2)),
    ("max_3_s2_same", lambda: scratch.MaxPool2D(3, strides=2, padding="same"), (2, 7, 6, 2)),
    ("max_rect", lambda: scratch.MaxPooling2D((3, 2), strides=(1, 2)), (2, 5, 6, 1)),
    ("avg_2", lambda: scratch.AvgPool2D(2), (2, 6, 6, 3)),
    ("avg_3_s1_same", lambda: scratch.AvgPool2D(3, strides=1, padding="same"), (2, 5, 4, 2)),
    ("avg_rect_same", lambda: scratch.AveragePooling2D((2, 3), strides=(2, 1), padding="same"), (2, 5, 5, 2)),
    ("global_avg", scratch.GlobalAveragePooling2D, (2, 3, 4, 5)),
    ("global_avg_keepdims", lambda: scratch.GlobalAveragePooling2D(keepdims=True), (2, 3, 4, 5)),
    ("depth_max", lambda: scratch.DepthMaxPool(3), (2, 3, 3, 6)),
]


@pytest.mark.parametrize("make, shape", [c[1:] for c in POOL_LAYERS], ids=[c[0] for c in POOL_LAYERS])
def test_pool_layer_passes_gradient_check(make, shape):
    layer = make()
    x = np.random.default_rng(3).standard_normal(shape)  # continuous values: no ties within 1e-5
    errors = layer_errors(layer, x)
    assert errors["input"] < TOL, errors
    assert layer.params == {} and layer.count_params() == 0


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------

def test_pool_layer_shapes_defaults_and_names():
    layer = scratch.MaxPool2D()
    assert layer.pool_size == (2, 2) and layer.strides == (2, 2) and layer.padding == "valid"
    assert layer.name.startswith("max_pooling2d")
    assert scratch.AvgPool2D(3).strides == (3, 3) and scratch.AvgPool2D(3).name.startswith("average_pooling2d")
    assert scratch.MaxPooling2D is scratch.MaxPool2D and scratch.AveragePooling2D is scratch.AvgPool2D
    assert layer.compute_output_shape((None, 28, 28, 6)) == (None, 14, 14, 6)
    assert scratch.MaxPool2D(3, 2, "same").compute_output_shape((None, 7, 6, 2)) == (None, 4, 3, 2)
    assert scratch.AvgPool2D(2).compute_output_shape((None, 5, None, 2)) == (None, 2, None, 2)
    assert scratch.GlobalAveragePooling2D().compute_output_shape((None, 7, 7, 512)) == (None, 512)
    assert scratch.DepthMaxPool(3).compute_output_shape((None, 4, 4, 6)) == (None, 4, 4, 2)
    out = layer(np.zeros((2, 28, 28, 6), dtype=np.float32))
    assert out.shape == (2, 14, 14, 6) and out.dtype == np.float32
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert "pool_size=(2, 2)" in repr(layer)


def test_pooling_in_float32_keeps_float32():
    x = np.random.default_rng(4).standard_normal((2, 6, 6, 3)).astype(np.float32)
    for layer in (scratch.MaxPool2D(), scratch.AvgPool2D(2, padding="same"), scratch.GlobalAveragePooling2D(),
                  scratch.DepthMaxPool(3)):
        out = layer(x)
        assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32
    assert scratch.avg_pool2d(x, 2).dtype == np.float32 and scratch.max_pool2d(x, 2).dtype == np.float32


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [scratch.max_pool2d, scratch.avg_pool2d])
def test_bad_pooling_input(fn):
    x = np.zeros((1, 4, 4, 2))
    with pytest.raises(ValueError, match=r"4-D input \(batch, height, width, channels\)"):
        fn(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match=r"window \(5×5, spanning 5×5 pixels\) is larger than the 4×4 input"):
        fn(x, 5)
    assert fn(x, 5, 1, "SAME").shape == x.shape
    with pytest.raises(ValueError, match="unknown padding 'full'"):
        fn(x, 2, 2, "full")
    with pytest.raises(ValueError, match="unknown padding"):
        fn(x, 2, 2, 1)  # explicit padding is for conv2d only
    for strides in (0, -2, (2, 0)):
        with pytest.raises(ValueError, match="strides"):
            fn(x, 2, strides)
    with pytest.raises(ValueError, match="ksize"):
        fn(x, 0)
    with pytest.raises(ValueError, match=r"dout must have the output's shape \(1, 2, 2, 2\)"):
        {scratch.max_pool2d: scratch.max_pool2d_backward, scratch.avg_pool2d: scratch.avg_pool2d_backward}[fn](
            x, np.zeros((1, 4, 4, 2)), 2)


def test_bad_depth_and_layer_input():
    x = np.zeros((1, 2, 2, 5))
    with pytest.raises(ValueError, match=r"5 channels .* not a multiple of the depth window k = 3"):
        scratch.max_pool_depth(x, 3)
    with pytest.raises(ValueError, match="k must be a positive int"):
        scratch.max_pool_depth(x, 0)
    with pytest.raises(ValueError, match=r"ksize = strides = \[1, 1, 1, k\]"):
        scratch.max_pool2d(x, (1, 2, 2, 5), (1, 1, 1, 5))
    with pytest.raises(ValueError, match="only padding 'VALID'"):
        scratch.max_pool2d(x, (1, 1, 1, 5), (1, 1, 1, 5), "SAME")
    with pytest.raises(ValueError, match=r"not a multiple of pool_size = 2"):
        scratch.DepthMaxPool(2)(x)
    with pytest.raises(ValueError, match="pool_size"):
        scratch.DepthMaxPool(0)
    with pytest.raises(ValueError, match="pool_size"):
        scratch.MaxPool2D(0)
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        scratch.AvgPool2D(2, padding="causal")
    with pytest.raises(TypeError):
        scratch.AvgPool2D()  # no default pool size, as in Keras
    with pytest.raises(ValueError, match=r"MaxPool2D 'max_pooling2d.*4-D input"):
        scratch.MaxPool2D()(np.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match=r"GlobalAveragePooling2D .*4-D input"):
        scratch.GlobalAveragePooling2D()(np.zeros((4, 4)))
