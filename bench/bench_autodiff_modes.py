"""Forward mode against reverse mode: the cost of a full gradient as the number of inputs grows.

What it measures: the time to get the whole gradient of log-sum-exp,
f(x1, ..., xn) = log(exp(x1) + ... + exp(xn)), whose gradient is the softmax of x,
with three engines, for n = 1, 4, 16, 64, 256:

* forward mode, ``labcode.autodiff.grad_forward`` (dual numbers): n passes of about 2n operations each;
* reverse mode, ``labcode.autodiff.grad_reverse`` (Value graph): one forward and one backward pass;
* TensorFlow, ``tf.GradientTape`` in eager mode on a float64 vector, for reference.

Each time is the best of REPEAT runs (``time.perf_counter``). All three gradients must equal the
softmax, or the script stops with an error.

How to read it: ``fwd/rev`` grows about linearly with n; this is why frameworks differentiate a loss
(one output, many parameters) in reverse mode. The two ``/TF`` columns are ratios against TensorFlow's
time measured in the same run, so they compare across machines better than the milliseconds do.
TensorFlow works on whole arrays in compiled code and its time is mostly per-call overhead, nearly flat
in n; our engines make one Python object per scalar operation, so theirs grows with n.
"""

import os
import time

import numpy as np

from labcode.autodiff import grad_forward, grad_reverse

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ log lines

SIZES = (1, 4, 16, 64, 256)
REPEAT = 5


def logsumexp(*xs):
    """log(exp(x1) + ... + exp(xn)) from the elementary operations of Value and Dual."""
    total = xs[0].exp()
    for x in xs[1:]:
        total = total + x.exp()
    return total.log()


def best_time(fn, *args):
    """The shortest of REPEAT runs of fn(*args), in seconds, and the last result."""
    best = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    import tensorflow as tf

    def grad_tensorflow(x):
        with tf.GradientTape() as tape:
            out = tf.math.log(tf.reduce_sum(tf.exp(x)))
        return tape.gradient(out, x)

    rng = np.random.default_rng(0)
    header = (f"{'n':>5} {'forward ms':>11} {'reverse ms':>11} {'TF ms':>8}"
              f" {'fwd/rev':>8} {'fwd/TF':>8} {'rev/TF':>8}")
    print("gradient of log-sum-exp over n inputs, best of", REPEAT, "runs")
    print(header)
    print("-" * len(header))
    for n in SIZES:
        xs = rng.uniform(-1.0, 1.0, n)
        softmax = np.exp(xs) / np.exp(xs).sum()
        x_tf = tf.Variable(xs, dtype=tf.float64)
        grad_tensorflow(x_tf)  # warm-up: TensorFlow's first call pays one-off set-up costs

        t_fwd, (_, g_fwd) = best_time(grad_forward, logsumexp, list(xs))
        t_rev, (_, g_rev) = best_time(grad_reverse, logsumexp, list(xs))
        t_tf, g_tf = best_time(grad_tensorflow, x_tf)

        np.testing.assert_allclose(g_fwd, softmax, rtol=1e-12, err_msg=f"forward mode, n = {n}")
        np.testing.assert_allclose(g_rev, softmax, rtol=1e-12, err_msg=f"reverse mode, n = {n}")
        np.testing.assert_allclose(g_tf.numpy(), softmax, rtol=1e-10, err_msg=f"TensorFlow, n = {n}")

        print(f"{n:>5} {t_fwd * 1e3:>11.3f} {t_rev * 1e3:>11.3f} {t_tf * 1e3:>8.3f}"
              f" {t_fwd / t_rev:>8.1f} {t_fwd / t_tf:>8.2f} {t_rev / t_tf:>8.2f}")
    print("all three gradients equal the softmax")


if __name__ == "__main__":
    main()
