"""Scratch convolution and max pooling against TensorFlow, forward + backward, with targets.

What it measures, in float32, each time the best of REPEAT runs (``time.perf_counter``), the scratch and
TensorFlow runs interleaved so that both see the same interference:

* convolution: ``labcode.scratch.conv2d`` followed by ``conv2d_backward`` (∂L/∂x and ∂L/∂W) against
  ``tf.nn.conv2d`` under ``tf.GradientTape`` with the same ∂L/∂Z, at LeNet-5's sizes (C1: 128×28×28×1 → 6 maps
  5×5 "SAME"; C3: 128×14×14×6 → 16 maps 5×5 "VALID") and for a VGG block (32×56×56×64 → 64 maps 3×3 "SAME").
  The forward pass is im2col and one matrix product. The backward pass takes one of two paths (see
  ``labcode.scratch.conv._conv_backward``): where c_out ≤ c_in with stride 1 (the VGG block), one im2col of
  ∂L/∂Z, whose matrix gives ∂L/∂x (a transposed convolution) and ∂L/∂W, two products; otherwise (LeNet's
  layers) im2col of x again for ∂L/∂W and col2im of ∂L/∂Z·Wᵀ for ∂L/∂x. The scratch side runs twice: on one
  thread (``conv.THREADS = 1`` and NumPy's BLAS on one thread, threadpoolctl: what the Makefile sets), and as it
  comes, where convolutions of at least ``conv.PARALLEL_MACS`` multiply-adds (all three layers here) spread their
  work over ``conv.THREADS`` threads (one per core, each with one BLAS thread); the faster counts. TensorFlow
  uses every core too.
* max pooling, 2×2 with stride 2, on the outputs of those layers: ``scratch.MaxPool2D`` (forward, which keeps
  the arg max, then backward) against ``tf.nn.max_pool2d`` under ``tf.GradientTape``.
* memory: the peak of what NumPy allocates during one scratch forward + backward of each convolution
  (``tracemalloc``; outputs and gradients included), against the bytes of that layer's whole im2col matrix
  (N·out_h·out_w × f_h·f_w·c_in numbers).

Targets: convolution ≤ CONV_TARGET (1.5) × TensorFlow's time; max pooling ≤ POOL_TARGET (2) ×; peak extra
memory ≤ MEMORY_TARGET (2) × the im2col matrix. The script first checks that both sides compute the same
outputs and gradients, prints one table with the ratios and whether each target is met, then where the scratch
convolution's time goes (the steps of its code path, block by block, on one thread), and exits with status 1
if any target is missed.

How to read it: ratios against TensorFlow measured in the same run compare across machines; the milliseconds
do not. On a machine with few cores that other work shares, read the load averages printed with the table:
TensorFlow's thread pool and the scratch side's threads both suffer when threads are descheduled.
"""

import contextlib
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


@contextlib.contextmanager
def one_thread():
    """The scratch convolution on the calling thread only (``conv.THREADS = 1``)."""
    saved, conv.THREADS = conv.THREADS, 1
    try:
        yield
    finally:
        conv.THREADS = saved


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


PHASES = ("im2col", "forward GEMM", "im2col again", "dL/dZ im2col", "dW GEMM", "dx GEMM", "col2im")


def conv_phases(x, w, dout, padding):
    """Best time (s) of each step of scratch conv2d + conv2d_backward on one thread (BLAS too), out of 5.

    The code path of ``labcode.scratch.conv`` replayed with its own helpers, in the blocks it uses as it comes
    (for a convolution spread over threads, the small blocks the threads share, and for ∂L/∂x by col2im each
    thread's share of the images), one block after the other,
    with a clock around each step: im2col (copying each block's windows, padded image by image, into a reused
    buffer) and the forward product; then either the transposed convolution's path (one im2col of ∂L/∂Z,
    ∂L/∂x = D·W_t, ∂L/∂W = xᵀ·D) or the col2im path (im2col of x again, ∂L/∂W = colsᵀ·∂L/∂Z, the product
    W·∂L/∂Zᵀ with the batch axis last and col2im adding its taps up), as conv2d_backward chooses.
    """
    g = conv._geometry(x.shape[1:3], w.shape[:2], (1, 1), padding, (1, 1), "bench")
    n, (f_h, f_w, c_in, c_out) = x.shape[0], w.shape
    w_mat = w.reshape(-1, c_out)
    best = {}

    def one_pass():
        spent = dict.fromkeys(PHASES, 0.0)

        def clock(phase, fn, *args):
            start = time.perf_counter()
            result = fn(*args)
            spent[phase] += time.perf_counter() - start
            return result

        blocks, _ = conv._plan(g.windows_shape(n, c_in), macs=dout.size * w_mat.shape[0])
        im2col, z = conv._Im2col(x, g), np.empty(dout.shape, dtype=x.dtype)
        for b, i in blocks:
            cols = clock("im2col", im2col, b, i)
            clock("forward GEMM", np.matmul, cols, w_mat, z[b, i].reshape(-1, c_out))
        if conv._transposable(g, w.shape):
            gt = conv._geometry(g.out_hw, g.kernel, (1, 1), conv._transposed_pads(g), g.dilations, "bench")
            w_t = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2)).reshape(-1, c_in)
            blocks, _ = conv._plan(gt.windows_shape(n, c_out), macs=2 * x.size * w_t.shape[0])
            im2col, dx = conv._Im2col(dout, gt), np.empty(x.shape, dtype=x.dtype)
            for b, i in blocks:
                d = clock("dL/dZ im2col", im2col, b, i)
                clock("dx GEMM", np.matmul, d, w_t, dx[b, i].reshape(-1, c_in))
                clock("dW GEMM", np.matmul, x[b, i].reshape(-1, c_in).T, d)
        else:
            for b, i in blocks:
                cols = clock("im2col again", im2col, b, i)
                clock("dW GEMM", np.matmul, cols.T, dout[b, i].reshape(-1, c_out))
            _, threads = conv._plan(g.windows_shape(n, c_in), macs=dout.size * w_mat.shape[0])
            for part in conv._split(range(n), threads):  # each thread's images, as conv._conv_backward
                dx_gradient_steps(dout[part.start:part.stop], w_mat, g, clock, (f_h, f_w, c_in, c_out))
        return spent

    for _ in range(5):
        for phase, seconds in one_pass().items():
            best[phase] = min(best.get(phase, seconds), seconds)
    return {phase: seconds for phase, seconds in best.items() if seconds > 0}


def dx_gradient_steps(dout, w_mat, g, clock, w_shape):
    """The steps of ``conv._input_gradient`` for these images, each through ``clock``."""
    n, (f_h, f_w, c_in, c_out) = dout.shape[0], w_shape
    hp, wp = g.padded_shape(n, c_in)[1:3]
    blocks = list(conv._blocks(g.windows_shape(n, c_in)))  # as conv._input_gradient
    most = max(len(range(n)[b]) for b, _ in blocks)
    acc_buffer = np.empty(c_in * hp * wp * most, dtype=dout.dtype)
    d_buffer = np.empty(max(dout[b, i].size for b, i in blocks), dtype=dout.dtype)
    taps_buffer = np.empty(d_buffer.size // c_out * w_mat.shape[0], dtype=dout.dtype)
    images = None
    for b, i in blocks:
        if b != images:
            images, nb = b, len(range(n)[b])
            acc = acc_buffer[:c_in * hp * wp * nb].reshape(c_in, hp, wp, nb)
            clock("col2im", acc.fill, 0)
        block = dout[b, i]
        d = d_buffer[:block.size].reshape(block.shape[3], *block.shape[1:3], block.shape[0])
        clock("dx GEMM", np.copyto, d, block.transpose(3, 1, 2, 0))
        dtaps = taps_buffer[:w_mat.shape[0] * block.size // c_out].reshape(w_mat.shape[0], -1)
        clock("dx GEMM", np.matmul, w_mat, d.reshape(c_out, -1), dtaps)
        dtaps = dtaps.reshape(f_h, f_w, c_in, *block.shape[1:3], -1)
        clock("col2im", conv._add_taps, acc[:, (i.start or 0) * g.strides[0]:], dtaps, g)


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
        with threadpool_limits(limits=1, user_api="blas"), one_thread():
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
          f"by default, conv.THREADS = {conv.THREADS} for convolutions of {conv.PARALLEL_MACS:.0e} multiply-adds "
          f"or more; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min)")
    header = (f"{'convolution':<33} {'1 thr ms':>9} {'as is ms':>9} {'TF ms':>8} {'best/TF':>8} "
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

    print("\nwhere the scratch convolution's time goes, ms (its steps in its blocks, one after the other on one "
          "thread, BLAS too; - : not on this layer's path):")
    print(f"{'':<33} " + " ".join(f"{p:>13}" for p in PHASES) + f" {'sum':>8}")
    for layer_name, times in phases.items():
        cells = " ".join(f"{times[p] * 1e3:>13.2f}" if p in times else f"{'-':>13}" for p in PHASES)
        print(f"{layer_name:<33} {cells} {sum(times.values()) * 1e3:>8.2f}")
    print(f"\nall targets {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
