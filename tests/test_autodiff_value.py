"""The scalar engines: Value (reverse mode) and Dual (forward mode).

Random expressions are checked three ways: against TensorFlow's GradientTape,
against centred finite differences, and reverse mode against forward mode.
"""

import itertools
import math
import random

import numpy as np
import pytest

from labcode.autodiff import Dual, Value, grad_forward, grad_reverse
from labcode.gradcheck import numerical_gradient, relative_error

tf = pytest.importorskip("tensorflow")

N_VARS = 3

# Every operation as (name, arity); the safe forms keep every expression
# finite and differentiable at random points (log of 1 + a², exp of tanh a…).
UNARY = ["exp", "log", "tanh", "sigmoid", "relu", "square", "cube", "neg", "rpow"]
BINARY = ["add", "sub", "mul", "div", "pow"]


def random_expression(rng: random.Random, depth: int):
    if depth == 0 or rng.random() < 0.15:
        if rng.random() < 0.8:
            return ("var", rng.randrange(N_VARS))
        return ("const", round(rng.uniform(-2, 2), 3))
    if rng.random() < 0.45:
        return (rng.choice(UNARY), random_expression(rng, depth - 1))
    return (rng.choice(BINARY), random_expression(rng, depth - 1), random_expression(rng, depth - 1))


def evaluate(expr, xs, backend):
    """Evaluate an expression tree with one backend's elementary functions."""
    op, *args = expr
    if op == "var":
        return xs[args[0]]
    if op == "const":
        return backend["const"](args[0])
    a = evaluate(args[0], xs, backend)
    if op in BINARY:
        b = evaluate(args[1], xs, backend)
    match op:
        case "exp":
            return backend["exp"](backend["tanh"](a))
        case "log":
            return backend["log"](1.0 + a * a)
        case "tanh" | "sigmoid" | "relu":
            return backend[op](a)
        case "square":
            return a**2
        case "cube":
            return a**3
        case "neg":
            return -a
        case "rpow":
            return 1.5 ** backend["tanh"](a)
        case "add":
            return a + b
        case "sub":
            return a - b
        case "mul":
            return a * b
        case "div":
            return a / (1.0 + b * b)
        case "pow":  # a positive base to a Value power
            return (1.0 + a * a) ** backend["tanh"](b)
    raise AssertionError(op)


METHODS = {name: (lambda n: lambda v: getattr(v, n)())(name) for name in ["exp", "log", "tanh", "sigmoid", "relu"]}
VALUE_FUNCS = {**METHODS, "const": Value}
DUAL_FUNCS = {**METHODS, "const": Dual}
TF_FUNCS = {
    "exp": tf.exp, "log": tf.math.log, "tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu,
    "const": lambda c: tf.constant(c, tf.float64),
}
FLOAT_FUNCS = {
    "const": float,
    "exp": math.exp, "log": math.log, "tanh": math.tanh,
    "sigmoid": lambda a: 1 / (1 + math.exp(-a)), "relu": lambda a: max(a, 0.0),
}



def _point(seed):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, N_VARS)


def _candidates():
    for seed in range(1000):
        expr = random_expression(random.Random(seed), depth=5)
        text = str(expr)
        if len(text) < 80 or sum(f"('var', {i})" in text for i in range(N_VARS)) < 2:
            continue
        _, grad = grad_reverse(lambda *xs, e=expr: evaluate(e, xs, VALUE_FUNCS), _point(seed))
        if np.abs(grad).max() > 1e-3:  # skip expressions a relu turned off
            yield seed, expr


CASES = list(itertools.islice(_candidates(), 25))


def tf_gradient(expr, point):
    xs = [tf.Variable(x, dtype=tf.float64) for x in point]
    with tf.GradientTape() as tape:
        out = evaluate(expr, xs, TF_FUNCS)
    grads = tape.gradient(out, xs, unconnected_gradients="zero")
    return float(out), np.array([g.numpy() for g in grads])


@pytest.mark.parametrize("seed,expr", CASES, ids=[f"expr{s}" for s, _ in CASES])
def test_random_expression_matches_tensorflow_and_finite_differences(seed, expr):
    point = _point(seed)
    value, grad = grad_reverse(lambda *xs: evaluate(expr, xs, VALUE_FUNCS), point)

    tf_value, tf_grad = tf_gradient(expr, point)
    assert value == pytest.approx(tf_value, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(grad, tf_grad, rtol=1e-10, atol=1e-12)

    numeric = numerical_gradient(lambda p: evaluate(expr, list(p), FLOAT_FUNCS), point.copy())
    assert relative_error(grad, numeric) < 1e-7

    fwd_value, fwd_grad = grad_forward(lambda *xs: evaluate(expr, xs, DUAL_FUNCS), point)
    assert fwd_value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(fwd_grad, grad, rtol=1e-12, atol=1e-14)


def test_enough_distinct_expressions_exercise_every_operation():
    used = set()

    def walk(e):
        used.add(e[0])
        for a in e[1:]:
            if isinstance(a, tuple):
                walk(a)

    for _, expr in CASES:
        walk(expr)
    assert len({str(e) for _, e in CASES}) >= 20
    assert set(UNARY + BINARY) <= used


def test_worked_example_of_chapter_one():
    x, y = Value(3.0, "x"), Value(4.0, "y")
    f = x * x * y + y + 2
    f.backward()
    assert f.data == 42.0
    assert (x.grad, y.grad) == (24.0, 10.0)


def test_sigmoid_neuron_of_cs231n():
    w = [Value(2.0), Value(-3.0), Value(-3.0)]
    x = [Value(-1.0), Value(-2.0)]
    f = 1 / (1 + (-(w[0] * x[0] + w[1] * x[1] + w[2])).exp())
    f.backward()
    fused = (w[0] * x[0] + w[1] * x[1] + w[2]).sigmoid()
    assert f.data == pytest.approx(0.7310585786300049)
    assert fused.data == pytest.approx(f.data, rel=1e-15)
    np.testing.assert_allclose([v.grad for v in w], [-0.19661193, -0.39322387, 0.19661193], rtol=1e-7)
    np.testing.assert_allclose([v.grad for v in x], [0.39322387, -0.58983580], rtol=1e-7)
    s = f.data
    fused.backward()  # σ' = σ(1 − σ) gives the same gradients
    np.testing.assert_allclose([v.grad for v in w], [-1 * s * (1 - s), -2 * s * (1 - s), s * (1 - s)])


def test_reused_node_accumulates_every_use():
    a = Value(3.0)
    b = a + a
    c = b * b
    c.backward()
    assert c.data == 36.0
    assert b.grad == 12.0  # 2b
    assert a.grad == 24.0  # d(4a²)/da = 8a


def test_node_used_many_times():
    x = Value(0.5)
    total = Value(0.0)
    for _ in range(1000):
        total = total + x * x
    total.backward()
    assert x.grad == pytest.approx(1000 * 2 * 0.5)


def test_backward_twice_gives_the_same_gradient():
    x = Value(2.0)
    f = x * x * x
    f.backward()
    f.backward()
    assert x.grad == 12.0


def test_deep_graph_has_no_recursion_error():
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0  # two nodes per step: 200,000 nodes in all
    y.backward()
    assert x.grad == 1.0
    assert len(y.topological_order()) > 100_000


def test_deep_forward_mode_chain():
    value, (grad,) = grad_forward(lambda x: sum([x] * 1000, Dual(0.0)), [2.0])
    assert (value, grad) == (2000.0, 1000.0)


@pytest.mark.parametrize("make", [Value, lambda v: Dual(v, 1.0)])
def test_elementary_derivatives(make):
    def d(f, x):
        out = f(make(x))
        if isinstance(out, Dual):
            return out.deriv
        v = out
        v.backward()
        return [n for n in v.topological_order() if not n.parents and n.data == x][0].grad

    assert d(lambda v: v.exp(), 0.7) == pytest.approx(math.exp(0.7))
    assert d(lambda v: 1 / v, 2.0) == pytest.approx(-1 / 4)
    assert d(lambda v: 3.0 * v, 5.0) == pytest.approx(3.0)
    assert d(lambda v: 4.0 + v, 5.0) == pytest.approx(1.0)
    assert d(lambda v: v.log(), 2.0) == pytest.approx(0.5)
    assert d(lambda v: v.tanh(), 0.3) == pytest.approx(1 - math.tanh(0.3) ** 2)
    assert d(lambda v: v.relu(), -0.3) == 0.0
    assert d(lambda v: v**2.5, 2.0) == pytest.approx(2.5 * 2.0**1.5)
    assert d(lambda v: 2.0**v, 3.0) == pytest.approx(8 * math.log(2))
    assert d(lambda v: v - 1.0, 3.0) == 1.0
    assert d(lambda v: 1.0 - v, 3.0) == -1.0


def test_sigmoid_is_stable_for_large_inputs():
    for x, expected in [(800.0, 1.0), (-800.0, 0.0)]:
        v = Value(x)
        s = v.sigmoid()
        s.backward()
        assert s.data == expected and v.grad == 0.0


@pytest.mark.parametrize(
    "bad", ["3", None, [1.0], True, 1 + 2j], ids=["str", "None", "list", "bool", "complex"]
)
def test_value_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="expected a real number"):
        Value(bad)
    with pytest.raises(TypeError, match="expected a real number"):
        Value(1.0) + bad
    with pytest.raises(TypeError, match="expected a real number"):
        Dual(bad)


def test_value_domain_errors_are_clear():
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0
    with pytest.raises(ValueError, match="integer exponent"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="positive"):
        Dual(0.0).log()
    with pytest.raises(TypeError, match="already a Value"):
        Value(Value(1.0))
    with pytest.raises(TypeError, match="pairs"):
        Value(1.0, parents=[1.0])


def test_grad_helpers_check_their_arguments():
    with pytest.raises(TypeError, match="must return a Value"):
        grad_reverse(lambda x: 1.0, [1.0])
    with pytest.raises(TypeError, match="must return a Dual"):
        grad_forward(lambda x: 1.0, [1.0])
    with pytest.raises(ValueError, match="at least one input"):
        grad_forward(lambda: Dual(1.0), [])
