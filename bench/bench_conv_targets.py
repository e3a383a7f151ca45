"""Scratch convolution and max pooling against TensorFlow, forward + backward, with targets.

What it measures, in float32, each time the best of REPEAT runs (``time.perf_counter``), the scratch and
TensorFlow runs interleaved so that both see the same interference:

* convolution: ``labcode.scratch.conv2d`` followed by ``conv2d_backward`` (∂L/∂x and ∂L/∂W; im2col and two
  more matrix products, col2im) against ``tf.nn.conv2d`` under ``tf.GradientTape`` with the same ∂L/∂Z, at
  LeNet-5's sizes (C1: 128×28×28×1 → 6 maps 5×5 "SAME"; C3: 128×14×14×6 → 16 maps 5×5 "VALID") and for a
  VGG block (32×56×56×64 → 64 maps 3×3 "SAME"). The scratch side runs twice: with NumPy's BLAS on one thread
  (threadpoolctl; what the Makefile sets) and on every core; the faster of the two counts.
* max pooling, 2×2 with stride 2, on the outputs of those layers: ``scratch.MaxPool2D`` (forward, which caches
  the arg max, then backward) against ``tf.nn.max_pool2d`` under ``tf.GradientTape``.
* memory: the peak of what NumPy allocates during one scratch forward + backward of each convolution
  (``tracemalloc``; outputs and gradients included), against the bytes of that layer's whole im2col matrix
  (N·out_h·out_w × f_h·f_w·c_in numbers).

Targets: convolution ≤ CONV_TARGET (1.5) × TensorFlow's time; max pooling ≤ POOL_TARGET (2) ×; peak extra
memory ≤ MEMORY_TARGET (2) × the im2col matrix. The script first checks that both sides compute the same
outputs and gradients, prints one table with the ratios and whether each target is met, then where the scratch
convolution's time goes (its phases, one BLAS thread), and exits with status 1 if any target is missed.

How to read it: ratios against TensorFlow measured in the same run compare across machines; the milliseconds
do not. On a machine with few cores that other work shares, read the load averages printed with the table:
TensorFlow's thread pool and a multi-threaded BLAS both suffer when threads are descheduled.
"""

import os
import sys
import time
import tracemalloc

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ log lines

import labcode  # noqa: E402
from labcode import scratch  # noqa: E402
from labcode.scratch import conv  # noqa: E402

REPEAT = 7
CONV_TARGET, POOL_TARGET, MEMORY_TARGET = 1.5, 2.0, 2.0
CONV_LAYERS = {  # name: (input shape NHWC, kernel shape HWIO, padding)
    "LeNet C1 128x28x28x1 -> 6, 5x5": ((128, 28, 28, 1), (5, 5, 1, 6), "SAME"),
    "LeNet C3 128x14x14x6 -> 16, 5x5": ((128, 14, 14, 6), (5, 5, 6, 16), "VALID"),
    "VGG 32x56x56x64 -> 64, 3x3": ((32, 56, 56, 64), (3, 3, 64, 64), "SAME"),
}
POOL_LAYERS = {  # name: input shape; 2x2 windows, stride 2
    "pool 128x28x28x6": (128, 28, 28, 6),
    "pool 128x10x10x16": (128, 10, 10, 16),
    "pool 32x56x56x64": (32, 56, 56, 64),
}


def best_times(*fns, repeat=REPEAT):
    """The shortest of ``repeat`` runs of each function, in seconds, the functions run in turn each round."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def close(ours, theirs, what):
    scale = float(np.abs(theirs).max())
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * scale, err_msg=what)


def peak_bytes(fn):
    """Peak bytes allocated while fn() runs (tracemalloc; NumPy reports its buffers to it), above the start."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del result
    return peak


def conv_phases(x, w, dout, padding):
    """Best time (s) of each phase of scratch conv2d + conv2d_backward, one BLAS thread, the whole batch at once.

    The phases of ``labcode.scratch.conv``: pad x and copy the im2col matrix out of the strided view; the
    forward product; the backward pass's im2col copy (conv2d_backward builds it again); ∂L/∂W = colsᵀ·∂L/∂Z;
    ∂L/∂cols = ∂L/∂Z·Wᵀ; col2im (adding the rows back onto the padded input).
    """
    g = conv._geometry(x.shape[1:3], w.shape[:2], (1, 1), padding, (1, 1), "bench")
    k, c_out = w.shape[0] * w.shape[1] * w.shape[2], w.shape[3]
    w_mat, d = w.reshape(k, c_out), dout.reshape(-1, c_out)
    cols = g.windows(g.pad(x)).reshape(-1, k)
    dcols = (d @ w_mat.T).reshape(g.windows(g.pad(x)).shape)

    def col2im():
        xp = np.zeros(g.padded_shape(x.shape[0], x.shape[3]), dtype=x.dtype)
        conv._add_windows(xp, dcols, g)

    phases = {
        "pad + im2col copy": lambda: g.windows(g.pad(x)).reshape(-1, k),
        "forward GEMM": lambda: cols @ w_mat,
        "im2col copy again": lambda: g.windows(g.pad(x)).reshape(-1, k),
        "dW GEMM": lambda: cols.T @ d,
        "dcols GEMM": lambda: d @ w_mat.T,
        "col2im": col2im,
    }
    return dict(zip(phases, best_times(*phases.values(), repeat=5), strict=True))


def main() -> int:
    from threadpoolctl import threadpool_info, threadpool_limits

    tf = labcode.import_tensorflow()
    blas_threads = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=1)
    load_before = os.getloadavg()
    rng = np.random.default_rng(0)
    rows, pool_rows, phases = [], [], {}

    for name, (x_shape, w_shape, padding) in CONV_LAYERS.items():
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[:3]))).astype(np.float32)
        out_shape = (x_shape[0], *scratch.conv2d(x[:1], w, 1, padding).shape[1:])
        dout = rng.standard_normal(out_shape).astype(np.float32)
        xt, wt, dt = tf.constant(x), tf.constant(w), tf.constant(dout)

        def ours(x=x, w=w, dout=dout, padding=padding):
            return scratch.conv2d(x, w, 1, padding), *scratch.conv2d_backward(x, w, dout, 1, padding)

        def theirs(xt=xt, wt=wt, dt=dt, padding=padding):
            with tf.GradientTape() as tape:
                tape.watch([xt, wt])
                out = tf.nn.conv2d(xt, wt, 1, padding)
            dx, dw = tape.gradient(out, [xt, wt], output_gradients=dt)
            return out.numpy(), dx.numpy(), dw.numpy()

        for what, a, b in zip(("output", "dL/dx", "dL/dW"), ours(), theirs(), strict=True):  # also warms up
            close(a, b, f"{what}, {name}")
        with threadpool_limits(limits=1, user_api="blas"):
            t_one, t_tf1 = best_times(ours, theirs)
        t_all, t_tf2 = best_times(ours, theirs)
        t_tf = min(t_tf1, t_tf2)
        n, out_h, out_w = dout.shape[:3]
        im2col_bytes = n * out_h * out_w * int(np.prod(w_shape[:3])) * x.itemsize
        peak = peak_bytes(ours)
        rows.append((name, t_one, t_all, t_tf, peak, im2col_bytes))
        with threadpool_limits(limits=1, user_api="blas"):
            phases[name] = conv_phases(x, w, dout, padding)

    for name, shape in POOL_LAYERS.items():
        x = rng.standard_normal(shape).astype(np.float32)
        layer = scratch.MaxPool2D(2)
        dout = rng.standard_normal(layer.compute_output_shape(shape)).astype(np.float32)
        xt, dt = tf.constant(x), tf.constant(dout)

        def ours(layer=layer, x=x, dout=dout):
            return layer.forward(x), layer.backward(dout)

        def theirs(xt=xt, dt=dt):
            with tf.GradientTape() as tape:
                tape.watch(xt)
                out = tf.nn.max_pool2d(xt, 2, 2, "VALID")
            return out.numpy(), tape.gradient(out, xt, output_gradients=dt).numpy()

        for what, a, b in zip(("output", "dL/dx"), ours(), theirs(), strict=True):
            close(a, b, f"{what}, {name}")
        t_ours, t_tf = best_times(ours, theirs)
        pool_rows.append((name, t_ours, t_tf))

    load_after = os.getloadavg()
    ok = True
    print(f"float32, forward + backward, best of {REPEAT}; {os.cpu_count()} CPUs, NumPy BLAS {blas_threads} threads "
          f"by default; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min)")
    header = (f"{'convolution':<33} {'1 thr ms':>9} {f'{blas_threads} thr ms':>9} {'TF ms':>8} {'best/TF':>8} "
              f"{'<= ' + str(CONV_TARGET):>7} {'peak MB':>8} {'im2col MB':>10} {'peak/im2col':>12} "
              f"{'<= ' + str(MEMORY_TARGET):>7}")
    print(header)
    print("-" * len(header))
    for name, t_one, t_all, t_tf, peak, im2col_bytes in rows:
        ratio, mem = min(t_one, t_all) / t_tf, peak / im2col_bytes
        ok &= ratio <= CONV_TARGET and mem <= MEMORY_TARGET
        print(f"{name:<33} {t_one * 1e3:>9.2f} {t_all * 1e3:>9.2f} {t_tf * 1e3:>8.2f} {ratio:>8.2f} "
              f"{'met' if ratio <= CONV_TARGET else 'MISSED':>7} {peak / 1e6:>8.1f} {im2col_bytes / 1e6:>10.1f} "
              f"{mem:>12.2f} {'met' if mem <= MEMORY_TARGET else 'MISSED':>7}")
    header = f"{'max pooling 2x2, stride 2':<33} {'ms':>9} {'TF ms':>9} {'ours/TF':>8} {'<= ' + str(POOL_TARGET):>8}"
    print()
    print(header)
    print("-" * len(header))
    for name, t_ours, t_tf in pool_rows:
        ratio = t_ours / t_tf
        ok &= ratio <= POOL_TARGET
        print(f"{name:<33} {t_ours * 1e3:>9.2f} {t_tf * 1e3:>9.2f} {ratio:>8.2f} "
              f"{'met' if ratio <= POOL_TARGET else 'MISSED':>8}")

    names = list(next(iter(phases.values())))
    print("\nwhere the scratch convolution's time goes, ms (one BLAS thread, each phase timed alone):")
    print(f"{'':<33} " + " ".join(f"{p:>18}" for p in names))
    for layer_name, times in phases.items():
        print(f"{layer_name:<33} " + " ".join(f"{times[p] * 1e3:>18.2f}" for p in names))
    print(f"\nall targets {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
