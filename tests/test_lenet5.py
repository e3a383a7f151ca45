"""LeNet-5 from scratch (labcode.scratch.lenet5) against its Keras twin (labcode.tf.lenet5) on the digits.

The two are built with the same layers, names and weight shapes, so weights copy across, and
at the same weights they compute the same function (float64: to 1e-10). Trained from the same
initial weights on the same mini-batches with the same optimiser, they follow the same
trajectory: in float64, with SGD whose learning rate and momentum are exact in float32 (Keras
stores the learning rate in a float32 variable), and with the Keras loss in float64 (a Keras
loss computes in floatx, float32, unless told otherwise). Adam would drift apart: Keras'
bias corrections are computed in float32 even for float64 weights (a relative 1e-5 per step),
and Adam amplifies such differences in its near-zero gradients.
"""

import importlib.util

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import labcode
from labcode import scratch
from labcode.data import load_digits

if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("TensorFlow is not installed", allow_module_level=True)

import labcode.tf as ltf  # noqa: E402 (imports TensorFlow)

keras = pytest.importorskip("keras")

F64 = "float64"
NAMES = ["C1", "S2", "C3", "S4", "flatten", "C5", "F6", "output"]


def test_scratch_lenet5_is_the_keras_layout():
    ours, theirs = scratch.lenet5(), ltf.lenet5()
    assert [layer.name for layer in ours.layers] == NAMES
    assert [layer.name for layer in theirs.layers[1:]] == NAMES
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params() == 61_706
    assert all(w.dtype == np.float32 for w in ours.get_weights())
    shape = (None, 28, 28, 1)
    out = []
    for layer in ours.layers:
        shape = layer.compute_output_shape(shape)
        out.append(shape[1:])
    assert out == [tuple(theirs.get_layer(n).output.shape[1:]) for n in NAMES]


@pytest.mark.parametrize("activation, pooling", [("relu", "max"), ("tanh", "avg")])
def test_same_function_at_the_same_weights(activation, pooling):
    rng = np.random.default_rng(0)
    ours = scratch.lenet5(activation=activation, pooling=pooling, dtype=F64)
    theirs = ltf.lenet5(activation=activation, pooling=pooling, dtype=F64)
    ours.set_weights([rng.uniform(-0.5, 0.5, w.shape) for w in ours.get_weights()])
    theirs.set_weights(ours.get_weights())
    x = rng.uniform(0, 1, size=(16, 28, 28, 1))
    np.testing.assert_allclose(ours.predict(x), np.asarray(theirs(x)), rtol=0, atol=1e-10)
    back = scratch.lenet5(activation=activation, pooling=pooling, dtype=F64)
    ltf.copy_weights(theirs, back)  # and Keras → scratch
    np.testing.assert_allclose(back.predict(x), ours.predict(x), rtol=0, atol=1e-15)


def test_bad_input():
    with pytest.raises(ValueError, match=r"scratch.lenet5: input_shape \(11, 11, 1\) is too small.*12×12"):
        scratch.lenet5(input_shape=(11, 11, 1))
    with pytest.raises(ValueError, match="input_shape must be"):
        scratch.lenet5(input_shape=(28, 28))
    with pytest.raises(ValueError, match="pooling must be 'max' or 'avg'"):
        scratch.lenet5(pooling="min")
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        scratch.lenet5(num_classes=0)


def test_trained_on_digits_scratch_and_keras_agree():
    (x_train, y_train), (x_test, y_test) = load_digits(size=28)
    x_train, x_test = x_train[..., None].astype(F64), x_test[..., None].astype(F64)
    labcode.seed(0)
    ours = scratch.lenet5(classifier_activation=None, dtype=F64)
    theirs = ltf.lenet5(classifier_activation=None, dtype=F64)
    theirs.set_weights(ours.get_weights())
    optimizer = scratch.SGD(learning_rate=0.0625, momentum=0.5)  # exact in float32, like Keras' stored values
    loss = scratch.SparseCategoricalCrossentropy(from_logits=True)
    ours.compile(optimizer, loss)
    theirs.compile(ltf.keras_optimizer(optimizer), ltf.keras_loss(loss, dtype=F64), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    with threadpool_limits(1, user_api="blas"):
        for _ in range(15):  # the same mini-batches for both: one shuffle per epoch, shared
            order = rng.permutation(len(x_train))
            ours.fit(x_train[order], y_train[order], epochs=1, batch_size=16, shuffle=False, verbose=0)
            theirs.fit(x_train[order], y_train[order], epochs=1, batch_size=16, shuffle=False, verbose=0)
        ours_acc = ours.evaluate(x_test, y_test)[1]
    theirs_acc = theirs.evaluate(x_test, y_test, verbose=0)[1]
    assert ours_acc >= 0.975 and theirs_acc >= 0.975, (ours_acc, theirs_acc)
    assert abs(ours_acc - theirs_acc) <= 0.005, (ours_acc, theirs_acc)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):  # the same trajectory
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
