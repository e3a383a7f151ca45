"""The array engine Tensor, checked against TensorFlow's GradientTape."""

import numpy as np
import pytest

from labcode.autodiff import Tensor
from labcode.gradcheck import numerical_gradient, relative_error

tf = pytest.importorskip("tensorflow")

RNG = np.random.default_rng(0)


def both(fn, *arrays):
    """Gradients of sum(fn(...)) w.r.t. every input, from Tensor and from TensorFlow."""
    ts = [Tensor(a.copy()) for a in arrays]
    out = fn(*ts)
    out.backward()
    vs = [tf.Variable(a) for a in arrays]
    with tf.GradientTape() as tape:
        tf_out = fn(*vs)
    tf_grads = tape.gradient(tf_out, vs)
    np.testing.assert_allclose(out.data, tf_out.numpy(), rtol=1e-12)
    for t, g in zip(ts, tf_grads, strict=True):
        np.testing.assert_allclose(t.grad, g.numpy(), rtol=1e-10, atol=1e-13)
    return ts


CASES = {
    "add_broadcast_row": (lambda a, b: tf.reduce_sum(a + b) if isinstance(a, tf.Variable) else (a + b).sum(),
                          [(4, 3), (3,)]),
    "mul_broadcast_column": (lambda a, b: tf.reduce_sum(a * b) if isinstance(a, tf.Variable) else (a * b).sum(),
                             [(4, 3), (4, 1)]),
    "div_sub": (lambda a, b: tf.reduce_mean((a - b) / (1.0 + b * b)) if isinstance(a, tf.Variable)
                else ((a - b) / (1.0 + b * b)).mean(), [(2, 5), (2, 5)]),
    "scalar_broadcast": (lambda a, b: tf.reduce_sum(a * b - b) if isinstance(a, tf.Variable) else (a * b - b).sum(),
                         [(3, 2), ()]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_broadcasting_gradients(name):
    fn, shapes = CASES[name]
    arrays = [RNG.normal(size=s) for s in shapes]
    ts = both(fn, *arrays)
    for t, a in zip(ts, arrays, strict=True):
        assert t.grad.shape == a.shape  # summed back over the broadcast axes


def _mlp_loss(x, w1, b1, w2, b2, y):
    if isinstance(w1, tf.Variable):
        h = tf.tanh(x @ w1 + b1)
        p = tf.sigmoid(h @ w2 + b2)
        return -tf.reduce_mean(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))
    h = (x @ w1 + b1).tanh()
    p = (h @ w2 + b2).sigmoid()
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def test_mlp_gradient_matches_tensorflow_and_finite_differences():
    x = RNG.normal(size=(8, 2))
    y = (RNG.random((8, 1)) > 0.5).astype(float)
    params = [RNG.normal(size=(2, 5)), RNG.normal(size=5), RNG.normal(size=(5, 1)), RNG.normal(size=1)]
    ts = [Tensor(p.copy()) for p in params]
    loss = _mlp_loss(Tensor(x), *ts, Tensor(y))
    loss.backward()
    vs = [tf.Variable(p) for p in params]
    with tf.GradientTape() as tape:
        tf_loss = _mlp_loss(tf.constant(x), *vs, tf.constant(y))
    for t, g in zip(ts, tape.gradient(tf_loss, vs), strict=True):
        np.testing.assert_allclose(t.grad, g.numpy(), rtol=1e-10, atol=1e-13)
    for i, p in enumerate(params):
        def f(v, i=i):
            args = [Tensor(q) for q in params]
            args[i] = Tensor(v)
            return float(_mlp_loss(Tensor(x), *args, Tensor(y)).data)

        assert relative_error(ts[i].grad, numerical_gradient(f, p.copy())) < 1e-7


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid", "relu", "square", "sum0", "sum1k", "mean", "T"])
def test_unary_and_reduction_gradients(op):
    a = RNG.uniform(0.2, 2.0, size=(3, 4)) * RNG.choice([-1, 1], size=(3, 4))
    if op == "log":
        a = np.abs(a)
    table = {
        "exp": (lambda t: t.exp(), tf.exp),
        "log": (lambda t: t.log(), tf.math.log),
        "tanh": (lambda t: t.tanh(), tf.tanh),
        "sigmoid": (lambda t: t.sigmoid(), tf.sigmoid),
        "relu": (lambda t: t.relu(), tf.nn.relu),
        "square": (lambda t: t**2, tf.square),
        "sum0": (lambda t: t.sum(axis=0) * np.ones((3, 1)),
                 lambda t: tf.reduce_sum(t, 0) * tf.ones((3, 1), tf.float64)),
        "sum1k": (lambda t: t.sum(axis=1, keepdims=True) * 1.0, lambda t: tf.reduce_sum(t, 1, keepdims=True)),
        "mean": (lambda t: t.mean(axis=0) + 0.0, lambda t: tf.reduce_mean(t, 0)),
        "T": (lambda t: t.T @ Tensor(np.eye(3)), lambda t: tf.transpose(t) @ tf.eye(3, dtype=tf.float64)),
    }
    ours, theirs = table[op]
    t = Tensor(a.copy())
    out = ours(t)
    weights = RNG.normal(size=out.shape)  # a weighted sum makes every output's gradient differ
    (out * weights).sum().backward()
    v = tf.Variable(a)
    with tf.GradientTape() as tape:
        tf_out = tf.reduce_sum(theirs(v) * weights)
    np.testing.assert_allclose(t.grad, tape.gradient(tf_out, v).numpy(), rtol=1e-10, atol=1e-13)


def test_matmul_rule():
    x, w = RNG.normal(size=(4, 3)), RNG.normal(size=(3, 2))
    X, W = Tensor(x), Tensor(w)
    Y = X @ W
    dY = RNG.normal(size=(4, 2))
    Y.backward(dY)
    np.testing.assert_allclose(X.grad, dY @ w.T)
    np.testing.assert_allclose(W.grad, x.T @ dY)


def test_reused_tensor_accumulates():
    a = Tensor([1.0, 2.0])
    b = a + a
    (b * b).sum().backward()
    np.testing.assert_allclose(a.grad, 8 * np.array([1.0, 2.0]))


def test_deep_chain_has_no_recursion_error():
    x = Tensor(np.ones(3))
    y = x
    for _ in range(50_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.ones(3))


def test_backward_from_a_non_scalar_needs_a_gradient():
    t = Tensor(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"one number .* got shape \(2, 3\)"):
        t.backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), expected \(2, 3\)"):
        t.backward(np.ones(3))


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match="2-D"):
        Tensor(np.ones(3)) @ Tensor(np.ones((3, 1)))


def test_broadcast_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4,\) do not broadcast"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))


@pytest.mark.parametrize("bad", ["abc", ["a", "b"], None, [1 + 1j]])
def test_tensor_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="expected"):
        Tensor(bad)


def test_log_of_non_positive_is_an_error():
    with pytest.raises(ValueError, match="positive"):
        Tensor([1.0, 0.0]).log()


def test_dtype_is_kept():
    assert Tensor(np.ones(2, np.float32)).data.dtype == np.float32
    assert Tensor([1, 2]).data.dtype == np.float64
