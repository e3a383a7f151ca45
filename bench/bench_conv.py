"""Convolution forward + backward: the naive loops, im2col, and ``tf.nn.conv2d``.

What it measures: one forward pass and one backward pass (∂L/∂x and ∂L/∂W) of the two
convolutional layers of a LeNet-5-like network on a mini-batch of BATCH digits-sized images,
in float32 (the training dtype):

* C1: 28×28×1 → 6 maps, 5×5 kernels, padding "SAME";
* C3: 14×14×6 → 16 maps, 5×5 kernels, padding "VALID";

with three implementations:

* naive, ``conv2d_naive`` + ``conv2d_backward_naive``: Python loops over every output pixel and filter;
* im2col, ``conv2d`` + ``conv2d_backward``: strided views, one matrix product each way, col2im;
* TensorFlow, ``tf.nn.conv2d`` under ``tf.GradientTape`` (eager), for reference.

im2col is timed twice: with NumPy's BLAS as it comes (usually one thread per core) and, when
threadpoolctl is installed (scikit-learn brings it), limited to one thread. On a busy machine the
multi-threaded BLAS can lose a whole scheduler time slice per matrix product waiting for its other
threads; there the one-thread column is the fairer number. On a quiet machine the two are close.

Each time is the best of several runs (``time.perf_counter``): REPEAT for im2col and TensorFlow,
NAIVE_REPEAT for the slow loops. All three must agree (outputs and gradients), or the script stops.

How to read it: the ``/TF`` columns are ratios against TensorFlow's time in the same run, so they
compare across machines better than the milliseconds do. im2col turns the convolution into a few
large matrix products and lands within a small factor of TensorFlow; the naive loops pay Python's
overhead once per output pixel and filter, hundreds of times slower. The last column estimates a
LeNet-5 epoch on the 1,347 training digits (these two layers only, forward and backward, with the
faster im2col time).
"""

import os
import time

import numpy as np

from labcode.scratch import conv2d, conv2d_backward, conv2d_backward_naive, conv2d_naive

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ log lines

BATCH = 32
REPEAT = 20
NAIVE_REPEAT = 2
DIGITS_TRAIN = 1347  # labcode.data.load_digits(): 75 % of scikit-learn's 1,797 digits
LAYERS = {  # name: (input shape, filter shape, padding)
    "C1 28x28x1 -> 6, 5x5 SAME": ((BATCH, 28, 28, 1), (5, 5, 1, 6), "SAME"),
    "C3 14x14x6 -> 16, 5x5 VALID": ((BATCH, 14, 14, 6), (5, 5, 6, 16), "VALID"),
}


def best_time(fn, repeat):
    """The shortest of ``repeat`` runs of fn(), in seconds, and the last result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def one_blas_thread():
    """A context limiting NumPy's BLAS to one thread (threadpoolctl), or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return lambda: threadpool_limits(limits=1, user_api="blas")


def main() -> None:
    import tensorflow as tf

    def tf_pass(x, w, dout, padding):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            out = tf.nn.conv2d(x, w, 1, padding)
        dx, dw = tape.gradient(out, [x, w], output_gradients=dout)
        return out.numpy(), dx.numpy(), dw.numpy()

    rng = np.random.default_rng(0)
    print(f"conv2d forward + backward, float32, batch of {BATCH}; best of {REPEAT} runs ({NAIVE_REPEAT} for naive)")
    limit = one_blas_thread()
    header = (f"{'layer':<28} {'naive ms':>9} {'im2col ms':>10} {'1 thread':>9} {'TF ms':>7} {'naive/TF':>9}"
              f" {'im2col/TF':>10} {'1 thr/TF':>9} {'epoch s':>8}")
    print(header)
    print("-" * len(header))
    for name, (x_shape, w_shape, padding) in LAYERS.items():
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = (rng.standard_normal(w_shape) * 0.1).astype(np.float32)
        out_shape = conv2d(x, w, 1, padding).shape
        dout = rng.standard_normal(out_shape).astype(np.float32)
        xt, wt, dt = tf.constant(x), tf.constant(w), tf.constant(dout)
        tf_pass(xt, wt, dt, padding)  # warm-up: TensorFlow's first call pays one-off set-up costs

        def naive():
            return conv2d_naive(x, w, 1, padding), *conv2d_backward_naive(x, w, dout, 1, padding)  # noqa: B023

        def im2col():
            return conv2d(x, w, 1, padding), *conv2d_backward(x, w, dout, 1, padding)  # noqa: B023

        t_naive, r_naive = best_time(naive, NAIVE_REPEAT)
        t_fast, r_fast = best_time(im2col, REPEAT)
        t_one = float("nan")
        if limit is not None:
            with limit():
                t_one, _ = best_time(im2col, REPEAT)
        t_tf, r_tf = best_time(lambda: tf_pass(xt, wt, dt, padding), REPEAT)  # noqa: B023

        for what, a, b, c in zip(("output", "dL/dx", "dL/dW"), r_naive, r_fast, r_tf, strict=True):
            scale = float(np.abs(c).max())
            np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-4 * scale, err_msg=f"naive {what}, {name}")
            np.testing.assert_allclose(b, c, rtol=1e-4, atol=1e-4 * scale, err_msg=f"im2col {what}, {name}")

        epoch = min(t_fast, t_one) * DIGITS_TRAIN / BATCH  # nan-safe: min(x, nan) is x
        print(f"{name:<28} {t_naive * 1e3:>9.1f} {t_fast * 1e3:>10.2f} {t_one * 1e3:>9.2f} {t_tf * 1e3:>7.2f}"
              f" {t_naive / t_tf:>9.0f} {t_fast / t_tf:>10.1f} {t_one / t_tf:>9.1f} {epoch:>8.2f}")


if __name__ == "__main__":
    main()
