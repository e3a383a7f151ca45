"""Scratch optimisers, learning-rate schedules and exponentially weighted averages.

Parity: on the same problems, with gradients computed in NumPy for both, every
scratch optimiser follows its Keras twin's parameter trajectory for 100 steps.
The non-Keras variants are checked against their formulas written out here,
and shown to differ from Keras' by what the formulas predict.
"""

import math

import numpy as np
import pytest

from labcode.scratch.ewa import ExponentialMovingAverage, ewa
from labcode.scratch.optimizers import SGD, AdaGrad, Adagrad, Adam, Optimizer, RMSprop, get
from labcode.scratch.schedules import ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, StepDecay

STEPS = 100


# ---------------------------------------------------------------- problems
class Quadratic:
    """f(z) = ½ zᵀAz − bᵀz, cond(A) = 100, with z split into a (2, 2) matrix and a 0-d scalar."""

    def __init__(self):
        rng = np.random.default_rng(0)
        q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        self.A = q @ np.diag(np.logspace(-1, 1, 5)) @ q.T
        self.b = rng.normal(size=5)
        self.init = [rng.normal(size=(2, 2)), np.array(rng.normal())]

    def grads(self, params):
        z = np.concatenate([p.ravel() for p in params])
        g = self.A @ z - self.b
        return [g[:4].reshape(2, 2), np.array(g[4])]


class LogisticRegression:
    """Mean binary cross-entropy of σ(XW + b) against 3 independent labels: W (5, 3), b (3,)."""

    def __init__(self):
        rng = np.random.default_rng(1)
        self.X = rng.normal(size=(32, 5))
        self.Y = (rng.random((32, 3)) < 0.5).astype(np.float64)
        self.init = [0.5 * rng.normal(size=(5, 3)), 0.1 * rng.normal(size=3)]

    def grads(self, params):
        W, b = params
        P = 1 / (1 + np.exp(-(self.X @ W + b)))
        dZ = (P - self.Y) / len(self.X)
        return [self.X.T @ dZ, dZ.sum(axis=0)]


PROBLEMS = {"quadratic": Quadratic(), "logistic": LogisticRegression()}


def scratch_trajectory(opt, problem, steps=STEPS):
    params = [p.copy() for p in problem.init]
    out = []
    for _ in range(steps):
        opt.apply_gradients(zip(problem.grads(params), params, strict=True))
        out.append(np.concatenate([p.ravel() for p in params]))
    return np.array(out)


def formula_trajectory(step, problem, steps=STEPS):
    """Run ``step(t, g, θ, state) → θ`` on the concatenated parameters (a formula written out)."""
    sizes = [p.size for p in problem.init]
    theta = np.concatenate([p.ravel() for p in problem.init])
    state, out = {}, []
    for t in range(1, steps + 1):
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        params = [part.reshape(p.shape) for part, p in zip(parts, problem.init, strict=True)]
        g = np.concatenate([gi.ravel() for gi in problem.grads(params)])
        theta = step(t, g, theta.copy(), state)
        out.append(theta)
    return np.array(out)


# ------------------------------------------------------------------ parity
@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")  # Keras' learning-rate variable in float64, like our floats
    yield keras
    keras.config.set_floatx(floatx)


def keras_trajectory(opt, problem, keras, steps=STEPS):
    variables = [keras.Variable(p.copy(), dtype="float64") for p in problem.init]
    out = []
    for _ in range(steps):
        grads = problem.grads([np.asarray(v.numpy()) for v in variables])
        grads = [keras.ops.convert_to_tensor(g, dtype="float64") for g in grads]
        opt.apply_gradients(zip(grads, variables, strict=True))
        out.append(np.concatenate([np.ravel(v.numpy()) for v in variables]))
    return np.array(out)


def f64(x):
    """Floats as float64 NumPy numbers: Keras schedules compute in the dtype of their numbers."""
    if isinstance(x, float):
        return np.float64(x)
    return [f64(v) for v in x] if isinstance(x, list) else x


# (id, optimiser, its arguments, None or a learning-rate schedule and its arguments), the same for both.
# Keras casts momentum, β₁ and β₂ (in the bias correction) and Adagrad's initial accumulator to float32
# before the variable's dtype (not ρ, ε, nor the 1 − β factors), so these use float32-exact numbers
# (0.875 for 0.9): then the two trajectories agree to rounding, far below 1e-6, and any difference
# in a formula (where ε sits, a missing bias correction) would show.
SETTINGS = [
    ("sgd", "SGD", {"learning_rate": 0.05}, None),
    ("sgd-momentum", "SGD", {"learning_rate": 0.02, "momentum": 0.875}, None),
    ("sgd-nesterov", "SGD", {"learning_rate": 0.02, "momentum": 0.875, "nesterov": True}, None),
    ("adagrad", "Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.125}, None),
    ("adagrad-epsilon", "Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "epsilon": 1e-2}, None),
    ("rmsprop", "RMSprop", {"learning_rate": 0.01}, None),
    ("rmsprop-momentum", "RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "epsilon": 1e-3}, None),
    ("rmsprop-centered", "RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.3, "centered": True}, None),
    ("adam", "Adam", {"learning_rate": 0.05, "beta_1": 0.875, "beta_2": 0.9921875}, None),
    ("adam-epsilon", "Adam", {"learning_rate": 0.05, "beta_1": 0.875, "beta_2": 0.9921875, "epsilon": 1e-2}, None),
    ("adam-amsgrad", "Adam", {"learning_rate": 0.05, "beta_1": 0.75, "beta_2": 0.96875, "amsgrad": True}, None),
    ("sgd-momentum-exponential-decay", "SGD", {"momentum": 0.875}, ("ExponentialDecay", 0.05, 10, 0.5)),
    ("adam-inverse-time-decay", "Adam", {"beta_1": 0.75, "beta_2": 0.96875}, ("InverseTimeDecay", 0.1, 5, 0.5, True)),
    ("rmsprop-piecewise-constant", "RMSprop", {}, ("PiecewiseConstantDecay", [20, 50], [0.02, 0.01, 0.001])),
]


def make_pair(keras, name, kwargs, schedule=None):
    from labcode.scratch import optimizers, schedules

    ours_kw, keras_kw = dict(kwargs), dict(kwargs)
    if schedule is not None:
        ours_kw["learning_rate"] = getattr(schedules, schedule[0])(*schedule[1:])
        keras_kw["learning_rate"] = getattr(keras.optimizers.schedules, schedule[0])(*f64(list(schedule[1:])))
    return getattr(optimizers, name)(**ours_kw), getattr(keras.optimizers, name)(**keras_kw)


def worst_relative_error(ours, theirs):
    """max over the steps of ‖θ_ours − θ_keras‖ / ‖θ_keras‖ (all parameters together)."""
    return (np.linalg.norm(ours - theirs, axis=1) / np.linalg.norm(theirs, axis=1)).max()


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("setting", [s[1:] for s in SETTINGS], ids=[s[0] for s in SETTINGS])
def test_trajectory_matches_keras(keras, setting, problem):
    problem = PROBLEMS[problem]
    ours, theirs = make_pair(keras, *setting)
    ours, theirs = scratch_trajectory(ours, problem), keras_trajectory(theirs, problem, keras)
    start = np.concatenate([p.ravel() for p in problem.init])
    assert np.abs(ours[-1] - start).max() > 1e-2  # the parameters did move
    assert worst_relative_error(ours, theirs) < 1e-10


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("SGD", {"momentum": 0.9, "nesterov": True}), ("Adagrad", {}), ("Adam", {}), ("Adam", {"amsgrad": True})],
    ids=["sgd-nesterov", "adagrad", "adam", "adam-amsgrad"],
)
def test_trajectory_with_keras_default_numbers(keras, name, kwargs):
    """With 0.9 and 0.999 rounded to float32 by Keras, the paths still agree to ~1e-5 (Adam) or better."""
    problem = PROBLEMS["logistic"]
    ours, theirs = make_pair(keras, name, {"learning_rate": 0.05, **kwargs})
    error = worst_relative_error(scratch_trajectory(ours, problem), keras_trajectory(theirs, problem, keras))
    assert error < (1e-4 if name == "Adam" else 1e-6)


def test_defaults_are_keras(keras):
    for ours, theirs, names in [
        (SGD(), keras.optimizers.SGD(), ["momentum", "nesterov"]),
        (Adagrad(), keras.optimizers.Adagrad(), ["initial_accumulator_value", "epsilon"]),
        (RMSprop(), keras.optimizers.RMSprop(), ["rho", "momentum", "epsilon", "centered"]),
        (Adam(), keras.optimizers.Adam(), ["beta_1", "beta_2", "epsilon", "amsgrad"]),
    ]:
        config = theirs.get_config()
        assert ours.learning_rate == pytest.approx(float(config["learning_rate"]))
        for name in names:
            assert getattr(ours, name) == config[name], (type(ours).__name__, name)


# --------------------------------------------------- the non-Keras variants
def test_sgd_ewa_form_is_its_formula_and_keras_form_with_scaled_learning_rate():
    problem, lr, beta = PROBLEMS["quadratic"], 0.1, 0.9

    def ewa_momentum(t, g, theta, state):
        state["v"] = beta * state.get("v", 0.0) + (1 - beta) * g
        return theta - lr * state["v"]

    def ewa_nesterov(t, g, theta, state):
        state["v"] = beta * state.get("v", 0.0) + (1 - beta) * g
        return theta - lr * (beta * state["v"] + (1 - beta) * g)

    for nesterov, formula in [(False, ewa_momentum), (True, ewa_nesterov)]:
        ours = scratch_trajectory(SGD(lr, momentum=beta, nesterov=nesterov, momentum_form="ewa"), problem)
        np.testing.assert_allclose(ours, formula_trajectory(formula, problem), rtol=1e-12, atol=1e-14)
        # v_keras = −η_keras/(1 − β) · v_ewa: the same path when η_keras = (1 − β)·η_ewa
        keras_form = scratch_trajectory(SGD((1 - beta) * lr, momentum=beta, nesterov=nesterov), problem)
        np.testing.assert_allclose(ours, keras_form, rtol=1e-10, atol=1e-12)
        same_lr = scratch_trajectory(SGD(lr, momentum=beta, nesterov=nesterov), problem)
        assert np.abs(ours - same_lr).max() > 0.1


def test_sgd_ewa_form_is_tensorflow1_momentum_with_scaled_learning_rate():
    """tf.train.MomentumOptimizer(η, μ): v ← μ·v + g; θ ← θ − η·v (Nesterov: θ ← θ − η·(g + μ·v))."""
    problem, lr, mu = PROBLEMS["logistic"], 0.05, 0.9

    def tf1(t, g, theta, state, nesterov=False):
        state["v"] = mu * state.get("v", 0.0) + g
        return theta - lr * (g + mu * state["v"] if nesterov else state["v"])

    for nesterov in [False, True]:
        ours = scratch_trajectory(SGD(lr / (1 - mu), mu, nesterov, momentum_form="ewa"), problem)
        expected = formula_trajectory(lambda *a, n=nesterov: tf1(*a, nesterov=n), problem)
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)


def test_sgd_forms_differ_under_a_schedule():
    """Keras' velocity keeps old learning rates; the EWA form rescales the whole average by the current one."""
    g = np.array([1.0])
    keras_p, ewa_p = np.zeros(1), np.zeros(1)
    keras_opt = SGD(PiecewiseConstantDecay([0], [0.1, 0.01]), momentum=0.5)
    ewa_opt = SGD(PiecewiseConstantDecay([0], [0.2, 0.02]), momentum=0.5, momentum_form="ewa")
    for opt, p in [(keras_opt, keras_p), (ewa_opt, ewa_p)]:
        opt.apply_gradients([(g, p)])
        opt.apply_gradients([(g, p)])
    # step 1 equal: −0.1 either way; step 2: v = 0.5·(−0.1) − 0.01 vs −0.02·(0.5·0.5 + 0.5)
    assert keras_p[0] == pytest.approx(-0.1 - 0.06)
    assert ewa_p[0] == pytest.approx(-0.1 - 0.015)


def test_rmsprop_epsilon_outside_is_its_formula():
    problem, lr, rho, eps, mu = PROBLEMS["logistic"], 0.01, 0.9, 1e-3, 0.5

    def formula(t, g, theta, state):
        state["s"] = rho * state.get("s", 0.0) + (1 - rho) * g**2
        state["m"] = mu * state.get("m", 0.0) + lr * g / (np.sqrt(state["s"]) + eps)
        return theta - state["m"]

    ours = scratch_trajectory(RMSprop(lr, rho, momentum=mu, epsilon=eps, epsilon_placement="outside"), problem)
    np.testing.assert_allclose(ours, formula_trajectory(formula, problem), rtol=1e-12, atol=1e-14)


def test_rmsprop_epsilon_placements_first_step():
    lr, rho, eps = 0.01, 0.9, 1e-6
    g = np.array([1e-5, -1e-3, 1.0, -100.0])
    steps = {}
    for placement in ["inside", "outside"]:
        p = np.zeros_like(g)
        RMSprop(lr, rho, epsilon=eps, epsilon_placement=placement).apply_gradients([(g, p)])
        steps[placement] = -p
    # s₁ = (1 − ρ)·g²
    np.testing.assert_allclose(steps["inside"], lr * g / np.sqrt((1 - rho) * g**2 + eps), rtol=1e-14)
    np.testing.assert_allclose(steps["outside"], lr * g / (np.sqrt(1 - rho) * np.abs(g) + eps), rtol=1e-14)
    # ε under the root weighs √ε = 1e-3 against √(1 − ρ)·|g|: tiny gradients take much smaller steps
    assert steps["inside"][0] < 0.01 * steps["outside"][0]
    np.testing.assert_allclose(steps["inside"][2:], steps["outside"][2:], rtol=1e-5)
    # without ε the two are the same
    for placement in ["inside", "outside"]:
        p = np.zeros_like(g)
        RMSprop(lr, rho, epsilon=0.0, epsilon_placement=placement).apply_gradients([(g, p)])
        np.testing.assert_allclose(-p, lr * np.sign(g) / np.sqrt(1 - rho), rtol=1e-14)


def test_adagrad_epsilon_outside_is_its_formula():
    problem, lr, eps = PROBLEMS["quadratic"], 0.5, 1e-8

    def formula(t, g, theta, state):
        state["G"] = state.get("G", 0.0) + g**2
        return theta - lr * g / (np.sqrt(state["G"]) + eps)

    opt = Adagrad(lr, initial_accumulator_value=0.0, epsilon=eps, epsilon_placement="outside")
    ours = scratch_trajectory(opt, problem)
    np.testing.assert_allclose(ours, formula_trajectory(formula, problem), rtol=1e-12, atol=1e-14)
    # Keras' form with G₀ = 0 differs by ε under the root only: tiny with these gradients
    keras_form = scratch_trajectory(Adagrad(lr, initial_accumulator_value=0.0, epsilon=eps), problem)
    np.testing.assert_allclose(ours, keras_form, rtol=1e-5)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_paper_form_is_its_formula(amsgrad):
    problem, lr, b1, b2, eps = PROBLEMS["logistic"], 0.05, 0.9, 0.999, 1e-3

    def paper(t, g, theta, state, eps_t=lambda t: eps):
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g**2
        v = state["v"]
        if amsgrad:
            v = state["vmax"] = np.maximum(state.get("vmax", 0.0), v)
        m_hat, v_hat = state["m"] / (1 - b1**t), v / (1 - b2**t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps_t(t))

    ours = scratch_trajectory(Adam(lr, b1, b2, eps, amsgrad=amsgrad, epsilon_placement="paper"), problem)
    np.testing.assert_allclose(ours, formula_trajectory(paper, problem), rtol=1e-12, atol=1e-14)
    # Keras' form is the paper's with ε_t = ε / √(1 − β₂ᵗ)
    keras_form = scratch_trajectory(Adam(lr, b1, b2, eps, amsgrad=amsgrad), problem)

    def paper_with_eps_hat(t, g, theta, state):
        return paper(t, g, theta, state, eps_t=lambda t: eps / math.sqrt(1 - b2**t))

    np.testing.assert_allclose(keras_form, formula_trajectory(paper_with_eps_hat, problem), rtol=1e-10, atol=1e-14)
    assert np.abs(keras_form - ours).max() > 1e-3


def test_adam_first_step():
    lr, b2 = 0.01, 0.999
    g = np.array([1e-6, -1e-6, 0.3, -50.0])
    # the paper without ε: m̂₁ = g, v̂₁ = g², so the first step is η·sign(g), whatever |g|
    p = np.zeros_like(g)
    Adam(lr, beta_2=b2, epsilon=0.0, epsilon_placement="paper").apply_gradients([(g, p)])
    np.testing.assert_allclose(-p, lr * np.sign(g), rtol=1e-14)
    # with ε: η·g / (|g| + ε) in the paper, η·g / (|g| + ε/√(1 − β₂)) in Keras
    for eps in [1e-7, 1e-6]:
        p_paper, p_keras = np.zeros_like(g), np.zeros_like(g)
        Adam(lr, beta_2=b2, epsilon=eps, epsilon_placement="paper").apply_gradients([(g, p_paper)])
        Adam(lr, beta_2=b2, epsilon=eps).apply_gradients([(g, p_keras)])
        np.testing.assert_allclose(-p_paper, lr * g / (np.abs(g) + eps), rtol=1e-12)
        np.testing.assert_allclose(-p_keras, lr * g / (np.abs(g) + eps / math.sqrt(1 - b2)), rtol=1e-12)
    # for |g| = 1e-6 and ε = 1e-6 that is η/2 against η/(1 + 31.6…)
    assert -p_paper[0] == pytest.approx(lr / 2)
    assert -p_keras[0] == pytest.approx(lr / (1 + 1 / math.sqrt(1 - b2)))


# ----------------------------------------------------------------- schedules
@pytest.mark.parametrize("staircase", [False, True])
def test_schedules_match_keras(keras, staircase):
    steps = np.arange(0, 60)
    ks = keras.optimizers.schedules
    pairs = [
        (InverseTimeDecay(0.1, 7, 0.5, staircase), ks.InverseTimeDecay(f64(0.1), 7, f64(0.5), staircase)),
        (ExponentialDecay(0.1, 7, 0.9, staircase), ks.ExponentialDecay(f64(0.1), 7, f64(0.9), staircase)),
        (
            PiecewiseConstantDecay([10, 25, 40], [0.1, 0.05, 0.01, 0.001]),
            ks.PiecewiseConstantDecay([10, 25, 40], [f64(0.1), f64(0.05), f64(0.01), f64(0.001)]),
        ),
        (StepDecay(0.1, 0.9, 7), ks.ExponentialDecay(f64(0.1), 7, f64(0.9), staircase=True)),
    ]
    for ours, theirs in pairs:
        expected = np.array([float(theirs(np.int64(s))) for s in steps])
        np.testing.assert_allclose([ours(int(s)) for s in steps], expected, rtol=1e-12, err_msg=repr(ours))
        np.testing.assert_allclose(ours(steps), expected, rtol=1e-12, err_msg=repr(ours))  # vectorised
    # and against Keras' own float32 numbers within float32 precision
    np.testing.assert_allclose(
        InverseTimeDecay(0.1, 7, 0.5, staircase)(steps),
        [float(ks.InverseTimeDecay(0.1, 7, 0.5, staircase)(s)) for s in steps],
        rtol=1e-6,
    )


def test_schedule_known_values():
    # the course's α₀ / (1 + decay·epoch) with 10 mini-batches per epoch
    course = InverseTimeDecay(0.2, decay_steps=10, decay_rate=1.0, staircase=True)
    assert [course(s) for s in (0, 9, 10, 29, 30)] == pytest.approx([0.2, 0.2, 0.1, 0.2 / 3, 0.05])
    assert ExponentialDecay(1.0, 2, 0.5)(3) == pytest.approx(0.5**1.5)
    # boundaries belong to the interval on their left
    pc = PiecewiseConstantDecay([5, 8], [3.0, 2.0, 1.0])
    assert [pc(s) for s in (0, 5, 6, 8, 9)] == [3.0, 3.0, 2.0, 2.0, 1.0]
    assert [StepDecay(1.0, 0.5, 3)(s) for s in (0, 2, 3, 6, 9)] == [1.0, 1.0, 0.5, 0.25, 0.125]
    assert isinstance(course(np.int64(4)), float) and course(np.arange(3)).shape == (3,)


@pytest.mark.parametrize(
    "make",
    [
        lambda: InverseTimeDecay(0.0, 10, 0.5),
        lambda: InverseTimeDecay(0.1, 0, 0.5),
        lambda: InverseTimeDecay(0.1, 10, -0.5),
        lambda: ExponentialDecay(-0.1, 10, 0.5),
        lambda: ExponentialDecay(0.1, 10, 0.0),
        lambda: PiecewiseConstantDecay([10, 20], [0.1, 0.01]),
        lambda: PiecewiseConstantDecay([20, 10], [0.1, 0.05, 0.01]),
        lambda: PiecewiseConstantDecay([10], [0.1, -0.01]),
        lambda: StepDecay(0.1, 1.5, 10),
        lambda: StepDecay(0.1, 0.5, 0),
        lambda: ExponentialDecay(0.1, 10, 0.5)(-1),
        lambda: ExponentialDecay(0.1, 10, 0.5)(float("nan")),
    ],
)
def test_schedule_bad_input(make):
    with pytest.raises(ValueError):
        make()


def test_schedule_bad_types():
    with pytest.raises(TypeError, match="decay_rate"):
        ExponentialDecay(0.1, 10, "0.5")
    with pytest.raises(TypeError, match="step"):
        ExponentialDecay(0.1, 10, 0.5)("3")


# ---------------------------------------------------------------------- EWA
def test_ewa_known_numbers():
    series = [1.0, 2.0, 3.0]
    raw = [0.5, 1.25, 2.125]  # v_t = 0.5·v_{t−1} + 0.5·θ_t
    np.testing.assert_allclose(ewa(series, 0.5, bias_correction=False), raw, rtol=1e-15)
    np.testing.assert_allclose(ewa(series, 0.5), [1.0, 1.25 / 0.75, 2.125 / 0.875], rtol=1e-15)
    avg = ExponentialMovingAverage(0.5)
    assert [avg.update(x) for x in series] == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875], rel=1e-15)
    assert avg.value == pytest.approx(2.125) and avg.t == 3


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.98])
def test_ewa_of_a_constant(beta):
    c, t = 3.7, np.arange(1, 201)
    np.testing.assert_allclose(ewa(np.full(200, c), beta), c, rtol=1e-13)
    np.testing.assert_allclose(ewa(np.full(200, c), beta, bias_correction=False), (1 - beta**t) * c, rtol=1e-13)
    corrected, raw = ExponentialMovingAverage(beta), ExponentialMovingAverage(beta, bias_correction=False)
    for k in range(1, 50):
        assert corrected.update(c) == pytest.approx(c, rel=1e-13)
        assert raw.update(c) == pytest.approx((1 - beta**k) * c, rel=1e-13)


@pytest.mark.parametrize("beta", [0.1, 0.9, 0.999])
def test_ewa_vectorised_equals_the_loop(beta):
    """A long series (many blocks for small β) and several series at once (axis 1)."""
    series = np.random.default_rng(2).normal(size=(3000, 2, 3)) + 5.0
    for correct in [True, False]:
        avg = ExponentialMovingAverage(beta, bias_correction=correct)
        loop = np.array([avg.update(x) for x in series])
        np.testing.assert_allclose(ewa(series, beta, bias_correction=correct), loop, rtol=1e-10)


def test_ewa_bad_input():
    for beta in [1.0, -0.1, 1.5]:
        with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
            ewa([1.0, 2.0], beta)
        with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
            ExponentialMovingAverage(beta)
    with pytest.raises(ValueError, match="time axis"):
        ewa(3.0, 0.9)
    avg = ExponentialMovingAverage(0.9)
    with pytest.raises(ValueError, match="update"):
        avg.average  # noqa: B018
    avg.update(np.zeros(3))
    with pytest.raises(ValueError, match=r"expected shape \(3,\).*got \(4,\)"):
        avg.update(np.zeros(4))
    avg.reset()
    assert avg.update(np.ones(4)) == pytest.approx(np.ones(4))


# ------------------------------------------------- in-place updates, state
def test_updates_in_place_and_counts_iterations():
    w = np.ones((2, 3))
    view = w[:, 1]
    b = np.zeros(3, dtype=np.float32)
    opt = Adam(0.1)
    assert opt.apply_gradients([(np.ones((2, 3)), w), (np.ones(3), b)]) == 1
    assert opt.iterations == 1
    np.testing.assert_allclose(view, 1 - 0.1 / (1 + 1e-7 / math.sqrt(0.001)), rtol=1e-12)  # the view saw it
    assert b.dtype == np.float32 and opt.get_slot(b, "momentum").dtype == np.float32
    before = b.copy()
    opt.apply([np.ones((2, 3)), None], [w, b])  # None: like Keras, this parameter is left alone
    assert opt.iterations == 2 and np.array_equal(b, before)


def test_state_is_per_parameter_array():
    a, b = np.zeros(2), np.zeros(2)
    opt = SGD(0.1, momentum=0.9)
    opt.apply_gradients([(np.ones(2), a)])
    opt.apply_gradients([(np.ones(2), a), (np.ones(2), b)])
    np.testing.assert_allclose(opt.get_slot(a, "momentum"), -0.1 * 0.9 - 0.1)
    np.testing.assert_allclose(opt.get_slot(b, "momentum"), -0.1)
    assert opt.get_slot(a, "momentum") is not opt.get_slot(b, "momentum")
    with pytest.raises(ValueError, match="not been updated"):
        opt.get_slot(np.zeros(2), "momentum")
    with pytest.raises(ValueError, match="no slot 'velocity'"):
        opt.get_slot(a, "velocity")
    rms = RMSprop(momentum=0.5, centered=True)
    rms.apply_gradients([(np.ones(2), a)])
    assert {name: rms.get_slot(a, name).shape for name in ["velocity", "momentum", "average_gradient"]}
    assert sorted(Adam(amsgrad=True).build_state(a)) == ["momentum", "velocity", "velocity_hat"]
    assert SGD().build_state(a) == {}


def test_learning_rate_and_schedule():
    opt = SGD(ExponentialDecay(1.0, 1, 0.5))
    assert opt.learning_rate == 1.0
    p = np.zeros(1)
    for _ in range(3):
        opt.apply_gradients([(np.ones(1), p)])
    assert p[0] == pytest.approx(-1.75) and opt.learning_rate == 0.125
    keras_style = SGD(lambda: 0.25)  # a callable without the step, as Keras calls it
    keras_style.apply_gradients([(np.ones(1), p)])
    assert p[0] == pytest.approx(-2.0)
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    zero_later = SGD(lambda step: 0.1 if step == 0 else 0.0)
    zero_later.apply_gradients([(np.ones(1), p)])
    with pytest.raises(ValueError, match="schedule returned 0.0 at step 1"):
        zero_later.apply_gradients([(np.ones(1), p)])
    with pytest.raises(ValueError, match="schedule returned nan at step 0"):
        SGD(lambda step: float("nan")).apply_gradients([(np.ones(1), p)])
    with pytest.raises(TypeError, match="must return a number"):
        SGD(lambda step: "fast").apply_gradients([(np.ones(1), p)])


def test_aliases_get_and_repr():
    assert AdaGrad is Adagrad
    assert isinstance(get("Adam"), Adam) and isinstance(get("sgd"), SGD) and isinstance(get("rmsprop"), RMSprop)
    opt = RMSprop()
    assert get(opt) is opt and isinstance(opt, Optimizer)
    assert "epsilon_placement='inside'" in repr(opt) and "momentum_form='keras'" in repr(SGD())
    with pytest.raises(ValueError, match="adam"):
        get("adamw")


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SGD(0.0), "learning_rate must be > 0"),
        (lambda: Adam(-1e-3), "learning_rate must be > 0"),
        (lambda: RMSprop(float("inf")), "learning_rate must be finite"),
        (lambda: SGD(momentum=1.0), r"momentum must be in \[0, 1\)"),
        (lambda: SGD(momentum=-0.1), r"momentum must be in \[0, 1\)"),
        (lambda: RMSprop(momentum=1.2), r"momentum must be in \[0, 1\)"),
        (lambda: RMSprop(rho=1.0), r"rho must be in \[0, 1\)"),
        (lambda: Adam(beta_1=1.0), r"beta_1 must be in \[0, 1\)"),
        (lambda: Adam(beta_2=-0.5), r"beta_2 must be in \[0, 1\)"),
        (lambda: Adam(epsilon=-1e-7), "epsilon must be >= 0"),
        (lambda: Adagrad(initial_accumulator_value=-0.1), "initial_accumulator_value must be >= 0"),
        (lambda: SGD(momentum=0.9, momentum_form="ng"), "momentum_form must be one of 'keras', 'ewa'"),
        (lambda: Adam(epsilon_placement="inside"), "epsilon_placement must be one of 'keras', 'paper'"),
        (lambda: RMSprop(epsilon_placement="paper"), "epsilon_placement must be one of 'inside', 'outside'"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_hyperparameter_types():
    with pytest.raises(TypeError, match="learning_rate must be a real number"):
        SGD("0.1")
    with pytest.raises(TypeError, match="momentum must be a real number"):
        SGD(momentum=True)


@pytest.mark.parametrize("opt", [SGD(momentum=0.9), Adagrad(), RMSprop(), Adam()], ids=lambda o: type(o).__name__)
def test_bad_gradients_and_parameters(opt):
    w = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"gradient 1 has shape \(2, 3\) but its parameter has shape \(3, 2\)"):
        opt.apply_gradients([(np.ones(2), np.zeros(2)), (np.ones((2, 3)), w)])
    with pytest.raises(ValueError, match="must be a float array.*got dtype int64"):
        opt.apply_gradients([(np.ones(3), np.zeros(3, dtype=np.int64))])
    with pytest.raises(TypeError, match="must be a NumPy array.*got list"):
        opt.apply_gradients([(np.ones(3), [0.0, 0.0, 0.0])])
    with pytest.raises(ValueError, match=r"\(gradient, parameter\) pairs"):
        opt.apply_gradients([w])
    with pytest.raises(ValueError, match="appears twice"):
        opt.apply_gradients([(np.ones((3, 2)), w), (np.ones((3, 2)), w)])
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply_gradients([(None, w)])
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.apply_gradients([(np.ones(2), frozen)])
    with pytest.raises(ValueError, match="2 gradients for 1 parameters"):
        opt.apply([np.ones(2), np.ones(2)], [np.zeros(2)])
    # nothing was updated or counted by the failed calls
    assert opt.iterations == 0 and not w.any()
