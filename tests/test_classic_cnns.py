"""labcode.tf's classic CNNs: parameter counts, layer shapes, equivalence with keras.applications, bad input.

Big models are built once per module (a cache below), and the keras.applications references
at small input sizes, where they cost little: weights of convolutions do not depend on the
image size, so a 32×32 ResNet-152 has the same convolution weights as a 224×224 one.
"""

import importlib.util
import re

import numpy as np
import pytest

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

import labcode.tf as ltf  # noqa: E402 (imports TensorFlow)
from labcode.tf.cnn_layers import LENET5_C3_TABLE  # noqa: E402

keras = pytest.importorskip("keras")

_MODELS = {}


def built(name, *args, **kwargs):
    """``ltf.<name>(*args, **kwargs)``, built once per module."""
    key = (name, args, tuple(sorted(kwargs.items())))
    if key not in _MODELS:
        _MODELS[key] = getattr(ltf, name)(*args, **kwargs)
    return _MODELS[key]


@pytest.fixture(scope="module", autouse=True)
def _free_models():
    yield
    _MODELS.clear()
    keras.backend.clear_session()


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def shapes(model, names):
    return [tuple(model.get_layer(n).output.shape[1:]) for n in names]


# ---------------------------------------------------------------------------
# Parameter counts (1,000 classes at each architecture's default input unless said)
# ---------------------------------------------------------------------------

PARAMETERS = [
    # builder, kwargs, total, where the number comes from
    ("lenet5", {}, 61_706, "C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + output 850"),
    ("alexnet", {}, 62_378_344, "one device, no grouping"),
    ("alexnet", {"groups": 2}, 60_965_224, "the paper's two-GPU split of conv2, conv4, conv5: '60 million'"),
    ("vgg16", {}, 138_357_544, "keras.applications.VGG16(weights=None)"),
    ("vgg19", {}, 143_667_240, "keras.applications.VGG19(weights=None)"),
    ("googlenet", {}, 6_998_552, "Table 1 sums to 6,797.7 K ≈ 6.8 M"),
    ("googlenet", {"aux_logits": True}, 13_378_280, "with the two auxiliary classifiers"),
    ("resnet34", {}, 21_823_208, "21,806,184 trainable; torchvision (no conv biases) 21,797,672"),
    ("resnet50", {}, 25_636_712, "keras.applications.ResNet50(weights=None)"),
    ("resnet152", {"input_shape": (32, 32, 3)}, 60_419_944, "keras.applications.ResNet152(weights=None)"),
    ("xception", {}, 22_910_480, "keras.applications.Xception(weights=None)"),
    ("se_resnet50", {}, 28_167_704, "ResNet-50 + 2,530,992 in the SE blocks; the paper's ≈ 28.1 M"),
]


@pytest.mark.parametrize("name, kwargs, expected, source", PARAMETERS,
                         ids=["lenet5", "alexnet", "alexnet-groups2", "vgg16", "vgg19", "googlenet", "googlenet-aux",
                              "resnet34", "resnet50", "resnet152", "xception", "se_resnet50"])
def test_parameter_count(name, kwargs, expected, source):
    model = built(name, **kwargs)
    assert model.count_params() == expected, source


def test_trainable_counts_match_the_papers():
    assert trainable_count(built("lenet5", "classic")) == 60_000  # LeNet-5 (1998): 60,000 trainable parameters
    assert built("lenet5", "classic").count_params() == 60_840  # + the 840 fixed RBF codes
    assert trainable_count(built("xception")) == 22_855_952  # Chollet (2017), Table 3
    assert trainable_count(built("resnet50")) == 25_583_592
    assert trainable_count(built("resnet34")) == 21_806_184


# ---------------------------------------------------------------------------
# Layer by layer, the architecture tables
# ---------------------------------------------------------------------------

def test_lenet5_modern_shapes_and_parameters():
    model = built("lenet5")
    assert shapes(model, ["C1", "S2", "C3", "S4", "C5", "F6", "output"]) == [
        (28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (120,), (84,), (10,)]
    params = {layer.name: layer.count_params() for layer in model.layers if layer.count_params()}
    assert params == {"C1": 156, "C3": 2_416, "C5": 48_120, "F6": 10_164, "output": 850}


def test_lenet5_classic_shapes_parameters_and_connection_table():
    model = built("lenet5", "classic")
    assert shapes(model, ["C1", "S2", "C3", "S4", "C5", "F6", "output"]) == [
        (28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16), (1, 1, 120), (84,), (10,)]
    params = {layer.name: layer.count_params() for layer in model.layers if layer.count_params()}
    assert params == {"C1": 156, "S2": 12, "C3": 1_516, "S4": 32, "C5": 48_120, "F6": 10_164, "output": 840}
    # Table I: 6 maps see 3 S2 maps, 9 see 4, 1 sees all 6: 60 connections
    assert sorted(LENET5_C3_TABLE.sum(axis=0).tolist()) == [3] * 6 + [4] * 9 + [6]
    assert LENET5_C3_TABLE[:, 0].tolist() == [True, True, True, False, False, False]
    assert np.flatnonzero(LENET5_C3_TABLE[:, 12]).tolist() == [0, 1, 3, 4]
    # C3's output map j changes with input map i exactly where the table says so
    c3 = model.get_layer("C3")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 14, 14, 6)).astype("float32")
    base = np.asarray(c3(x))
    for i in range(6):
        bumped = x.copy()
        bumped[..., i] += 1.0
        changed = np.abs(np.asarray(c3(bumped)) - base).max(axis=(0, 1, 2)) > 1e-6
        np.testing.assert_array_equal(changed, LENET5_C3_TABLE[i], err_msg=f"S2 map {i}")
    out = np.asarray(model(np.zeros((2, 32, 32, 1), "float32")))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_lenet5_classic_output_is_minus_the_squared_distance_to_the_codes():
    model = built("lenet5", "classic")
    rbf = model.get_layer("output")
    assert not rbf.centers.trainable and set(np.unique(rbf.centers.numpy())) == {-1.0, 1.0}
    x = np.random.default_rng(1).normal(size=(3, 84)).astype("float32")
    expected = -((x[:, :, None] - rbf.centers.numpy()[None]) ** 2).sum(axis=1)
    np.testing.assert_allclose(np.asarray(rbf(x)), expected, rtol=1e-5, atol=1e-4)
    s2 = model.get_layer("S2")  # average pooling × coefficient + bias, then the scaled tanh
    maps = np.random.default_rng(2).normal(size=(1, 28, 28, 6)).astype("float32")
    s2.coefficient.assign(np.arange(1, 7, dtype="float32"))
    s2.bias.assign(np.full(6, 0.5, "float32"))
    mean = maps.reshape(1, 14, 2, 14, 2, 6).mean(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(s2(maps)), 1.7159 * np.tanh(2 / 3 * (mean * np.arange(1, 7) + 0.5)),
                               rtol=1e-5, atol=1e-6)


def test_alexnet_shapes():
    model = built("alexnet")
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert shapes(model, names) == [(55, 55, 96), (27, 27, 96), (27, 27, 256), (13, 13, 256), (13, 13, 384),
                                    (13, 13, 384), (13, 13, 256), (6, 6, 256)]
    assert [model.get_layer(n).rate for n in ("drop6", "drop7")] == [0.5, 0.5]
    assert isinstance(model.get_layer("norm1"), ltf.LocalResponseNormalization)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_local_response_normalization_is_the_papers_formula(dtype):
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 7)).astype(dtype) * 10
    layer = ltf.LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, dtype=dtype)
    padded = np.pad(x**2, [(0, 0), (0, 0), (0, 0), (2, 2)])
    window = sum(padded[..., i:i + 7] for i in range(5))
    np.testing.assert_allclose(np.asarray(layer(x)), x / (2.0 + 1e-4 * window) ** 0.75,
                               rtol=1e-5 if dtype == "float32" else 1e-12)


def test_googlenet_module_depths_and_table():
    model = built("googlenet")
    modules = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
    out = shapes(model, [f"inception_{m}_output" for m in modules])
    assert [s[-1] for s in out] == [256, 480, 512, 512, 512, 528, 832, 832, 1024]
    assert [s[0] for s in out] == [28, 28, 14, 14, 14, 14, 14, 7, 7]
    for m in modules:
        n1, n3r, n3, n5r, n5, npool = ltf.inception.GOOGLENET_MODULES[m]
        assert [model.get_layer(f"inception_{m}_{b}").filters for b in
                ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")] == [n1, n3r, n3, n5r, n5, npool]
    aux = built("googlenet", aux_logits=True)
    assert [tuple(o.shape) for o in aux.outputs] == [(None, 1000)] * 3
    assert aux.get_layer("aux1_pool").output.shape[1:] == (4, 4, 512)
    assert aux.get_layer("aux2_pool").output.shape[1:] == (4, 4, 528)


def test_resnet_stages():
    r34, r50 = built("resnet34"), built("resnet50")
    ends = ["conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"]
    assert shapes(r34, ends) == [(56, 56, 64), (28, 28, 128), (14, 14, 256), (7, 7, 512)]
    assert shapes(r50, ends) == [(56, 56, 256), (28, 28, 512), (14, 14, 1024), (7, 7, 2048)]
    # projection shortcuts exactly where the shape changes
    r34_projections = sorted(layer.name for layer in r34.layers if layer.name.endswith("_0_conv"))
    assert r34_projections == ["conv3_block1_0_conv", "conv4_block1_0_conv", "conv5_block1_0_conv"]
    assert len([layer for layer in r50.layers if layer.name.endswith("_0_conv")]) == 4
    assert {layer.epsilon for layer in r50.layers if isinstance(layer, keras.layers.BatchNormalization)} == {1.001e-5}
    assert r50.get_layer("conv3_block1_1_conv").strides == (2, 2)  # the stride on the first 1×1, as in Keras


def test_residual_and_se_blocks():
    x = keras.Input((8, 8, 16))
    same = ltf.residual_block(x, 16, bottleneck=False, name="basic")
    assert tuple(same.shape) == (None, 8, 8, 16)
    down = ltf.residual_block(x, 8, strides=2, name="bottle")
    assert tuple(down.shape) == (None, 4, 4, 32)
    model = keras.Model(x, [same, down])
    assert "basic_0_conv" not in [layer.name for layer in model.layers]  # identity shortcut
    assert model.get_layer("bottle_0_conv").strides == (2, 2)
    with pytest.raises(ValueError, match="identity shortcut"):
        ltf.residual_block(x, 8, strides=2, projection=False, name="bad")
    with pytest.raises(ValueError, match="filters must be a positive int"):
        ltf.residual_block(x, 0)

    y = keras.Input((5, 5, 64))
    se = keras.Model(y, ltf.se_block(y, ratio=16, name="se"))
    assert se.count_params() == (64 * 4 + 4) + (4 * 64 + 64)  # W₁, b₁, W₂, b₂ with C/r = 4
    v = np.random.default_rng(0).normal(size=(2, 5, 5, 64)).astype("float32")
    w1, b1, w2, b2 = se.get_weights()
    z = v.mean(axis=(1, 2))
    s = 1 / (1 + np.exp(-(np.maximum(z @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(np.asarray(se(v)), v * s[:, None, None, :], rtol=1e-5, atol=1e-6)
    assert built("se_resnet50").get_layer("conv5_block3_se_reduce").units == 2048 // 16


# ---------------------------------------------------------------------------
# Layer for layer keras.applications: same weights, same outputs
# ---------------------------------------------------------------------------

REFERENCES = [
    ("vgg16", "VGG16", (32, 32, 3)),
    ("vgg19", "VGG19", (32, 32, 3)),
    ("resnet50", "ResNet50", (32, 32, 3)),
    ("resnet152", "ResNet152", (32, 32, 3)),
    ("xception", "Xception", (71, 71, 3)),
]


@pytest.mark.parametrize("name, reference, input_shape", REFERENCES, ids=[r[0] for r in REFERENCES])
def test_same_network_as_keras_applications(name, reference, input_shape):
    ours = built(name, input_shape=input_shape)
    theirs = getattr(keras.applications, reference)(weights=None, input_shape=input_shape)
    assert ours.count_params() == theirs.count_params()
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(0).uniform(0, 1, size=(2, *input_shape)).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------
# top-k accuracy
# ---------------------------------------------------------------------------

def test_top_k_accuracy_agrees_with_keras():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=200)
    for scores in (rng.normal(size=(200, 10)), rng.integers(0, 4, size=(200, 10)).astype("float32")):  # ties too
        for k in (1, 2, 5, 10):
            metric = keras.metrics.SparseTopKCategoricalAccuracy(k=k)
            metric.update_state(y, scores.astype("float32"))
            assert ltf.top_k_accuracy(y, scores, k) == pytest.approx(float(metric.result()), abs=1e-6), k
            assert ltf.top_k_error(y, scores, k) == pytest.approx(1 - float(metric.result()), abs=1e-6)
    one_hot = np.eye(10)[y]
    assert ltf.top_k_accuracy(one_hot, scores, 5) == ltf.top_k_accuracy(y, scores, 5)
    assert ltf.top_k_accuracy(y, scores, 1) <= ltf.top_k_accuracy(y, scores, 5) <= 1.0


def test_top_k_accuracy_counts_what_ilsvrc_counts():
    scores = [[0.5, 0.2, 0.1, 0.1, 0.05, 0.05], [0.0, 0.1, 0.2, 0.3, 0.4, 0.0]]
    assert ltf.top_k_accuracy([1, 0], scores, k=1) == 0.0
    assert ltf.top_k_accuracy([1, 0], scores, k=2) == 0.5
    assert ltf.top_k_accuracy([1, 5], scores, k=5) == 1.0  # 0 and 5 tie for the 5th place: both count
    broken = [[0.0, 1.0, np.inf], [np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]]
    assert ltf.top_k_accuracy([2, 2, 2], broken, k=3) == pytest.approx(1 / 3)  # non-finite rows miss, as in TF


@pytest.mark.parametrize("args, message", [
    (([0, 1], [[0.1, 0.9]], 1), "one label per row"),
    (([0], [[0.1, 0.9]], 0), "k must be a positive int"),
    (([2], [[0.1, 0.9]], 1), r"labels must be in 0 … 1"),
    (([0.5], [[0.1, 0.9]], 1), "labels must be integers"),
    (([0], [0.1, 0.9], 1), "2-D array"),
])
def test_top_k_accuracy_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        ltf.top_k_accuracy(*args)


# ---------------------------------------------------------------------------
# Bad input: too small, malformed, and the smallest input that works
# ---------------------------------------------------------------------------

TOO_SMALL = [
    ("lenet5", {"input_shape": (11, 28, 1)}, 12),
    ("lenet5", {"variant": "classic", "input_shape": (28, 28, 1)}, 32),
    ("alexnet", {"input_shape": (32, 32, 3)}, 67),
    ("vgg16", {"input_shape": (31, 31, 3)}, 32),
    ("vgg19", {"input_shape": (224, 31, 3)}, 32),
    ("googlenet", {"input_shape": (31, 31, 3)}, 32),
    ("googlenet", {"input_shape": (64, 64, 3), "aux_logits": True}, 65),
    ("resnet34", {"input_shape": (16, 16, 3)}, 32),
    ("resnet50", {"input_shape": (31, 31, 3)}, 32),
    ("resnet152", {"input_shape": (31, 31, 3)}, 32),
    ("xception", {"input_shape": (70, 70, 3)}, 71),
    ("se_resnet50", {"input_shape": (8, 8, 3)}, 32),
]


@pytest.mark.parametrize("name, kwargs, smallest", TOO_SMALL, ids=[f"{t[0]}-{t[2]}" for t in TOO_SMALL])
def test_too_small_an_input_names_the_smallest(name, kwargs, smallest):
    with pytest.raises(ValueError, match=rf"^{name}.*too small: the smallest input it takes is {smallest}×{smallest}"):
        getattr(ltf, name)(**kwargs)


@pytest.mark.parametrize("name, kwargs, last", [
    ("lenet5", {"input_shape": (12, 12, 1)}, "S4"),
    ("lenet5", {"variant": "classic", "input_shape": (32, 32, 1)}, "C5"),
    ("alexnet", {"input_shape": (67, 67, 3), "num_classes": 10}, "pool5"),
    ("googlenet", {"input_shape": (65, 65, 3), "num_classes": 10, "aux_logits": True}, "aux1_pool"),
])
def test_the_smallest_input_works(name, kwargs, last):
    model = getattr(ltf, name)(**kwargs)
    assert model.get_layer(last).output.shape[1:3] == (1, 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (224, 224)}, "input_shape must be (height, width, channels)"),
    ({"input_shape": (224, 224, 0)}, "input_shape must be (height, width, channels)"),
    ({"input_shape": "224"}, "input_shape must be (height, width, channels)"),
    ({"num_classes": 0}, "num_classes must be a positive int"),
    ({"num_classes": 2.5}, "num_classes must be a positive int"),
])
@pytest.mark.parametrize("name", ["alexnet", "vgg16", "googlenet", "resnet34", "resnet50", "xception", "se_resnet50"])
def test_malformed_arguments(name, kwargs, message):
    with pytest.raises(ValueError, match=rf"^{name}: {re.escape(message)}"):
        getattr(ltf, name)(**kwargs)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="variant must be 'modern' or 'classic'"):
        ltf.lenet5("1998")
    with pytest.raises(ValueError, match="pooling is for the modern variant"):
        ltf.lenet5("classic", pooling="max")
    with pytest.raises(ValueError, match="groups must be 1"):
        ltf.alexnet(groups=4)
    with pytest.raises(ValueError, match="dropout must be a rate"):
        ltf.vgg16(dropout=1.0)
    with pytest.raises(ValueError, match="depth must be one of"):
        ltf.resnet(42)
