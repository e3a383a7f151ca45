"""One epoch of LeNet-5 on the digits, from scratch (NumPy) against Keras.

What it measures: the seconds of one training epoch (``fit(epochs=1)``) of the modern LeNet-5
(61,706 parameters: C1 6@5×5 SAME, max pool, C3 16@5×5, max pool, dense 120-84-10, ReLU) on the
1,347 training digits of ``labcode.data.load_digits(size=28)``, float32, batch BATCH, SGD with
momentum, softmax cross-entropy from logits; and of ``predict`` on the 450 test digits:

* scratch: ``labcode.scratch.lenet5()`` and ``Sequential.fit`` (im2col convolutions), with NumPy's
  BLAS held to one thread (threadpoolctl; ``make bench`` also sets OPENBLAS_NUM_THREADS=1): on a
  busy machine a multi-threaded BLAS waits for descheduled threads;
* Keras: ``labcode.tf.lenet5()`` with the same initial weights, ``keras_optimizer`` /
  ``keras_loss`` twins, ``Model.fit`` (a compiled ``tf.function``), TensorFlow's own threads.

Both sides first run one warm-up epoch (Keras traces its step there); then each time is the
best of REPEAT epochs, scratch and Keras interleaved so that both see the same interference.
Before timing, the script checks that both predict the same at the same weights; both see the
batches in the same order (no shuffling). Their accuracies are not compared here: in float32
the two trajectories drift apart after a few epochs (rounding differences, amplified);
``tests/test_lenet5.py`` trains both in float64, where they stay equal to 1e-12.

How to read it: ``scratch/Keras`` is the ratio of the two times in the same run (compare it
across machines; the seconds only within a run). A profile puts most of the scratch epoch in
the convolution and pooling layers' im2col copies and col2im scatter-adds (see ``bench_conv.py``).
"""

import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ log lines

import labcode  # noqa: E402
from labcode import scratch  # noqa: E402
from labcode.data import load_digits  # noqa: E402

BATCH = 32
REPEAT = 5  # timed epochs per side; the best counts


def build():
    """The scratch LeNet-5 and its Keras twin, same weights, compiled with twin optimisers and losses."""
    from labcode.tf import keras_loss, keras_optimizer, lenet5

    labcode.seed(0)
    ours = scratch.lenet5(classifier_activation=None, dtype="float32")
    theirs = lenet5(classifier_activation=None, dtype="float32")
    theirs.set_weights(ours.get_weights())
    optimizer = scratch.SGD(learning_rate=0.0625, momentum=0.5)
    loss = scratch.SparseCategoricalCrossentropy(from_logits=True)
    ours.compile(optimizer, loss)
    theirs.compile(keras_optimizer(optimizer), keras_loss(loss), metrics=["accuracy"])
    return ours, theirs


def best_of(functions):
    """Best seconds of each function over REPEAT interleaved calls."""
    best = [float("inf")] * len(functions)
    for _ in range(REPEAT):
        for i, f in enumerate(functions):
            start = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> int:
    from threadpoolctl import threadpool_limits

    (x_train, y_train), (x_test, y_test) = load_digits(size=28)
    x_train, x_test = x_train[..., None], x_test[..., None]
    ours, theirs = build()
    np.testing.assert_allclose(ours.predict(x_test), theirs.predict(x_test, verbose=0), rtol=1e-4, atol=1e-5)

    def fit_ours():
        with threadpool_limits(1, user_api="blas"):
            ours.fit(x_train, y_train, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)

    def fit_theirs():
        theirs.fit(x_train, y_train, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)

    def predict_ours():
        with threadpool_limits(1, user_api="blas"):
            ours.predict(x_test, batch_size=BATCH)

    def predict_theirs():
        theirs.predict(x_test, batch_size=BATCH, verbose=0)

    fit_ours(), fit_theirs(), predict_ours(), predict_theirs()  # warm-up: Keras traces its functions here
    rows = [("fit, 1 epoch (1,347 digits)", *best_of([fit_ours, fit_theirs])),
            ("predict (450 digits)", *best_of([predict_ours, predict_theirs]))]

    print(f"LeNet-5 on the digits (28×28), float32, batch {BATCH}, SGD; best of {REPEAT} after a warm-up; "
          "scratch BLAS threads: 1")
    header = f"{'':30s} {'scratch s':>10s} {'Keras s':>10s} {'scratch/Keras':>14s}"
    print(header)
    print("-" * len(header))
    for name, t_ours, t_theirs in rows:
        print(f"{name:30s} {t_ours:10.3f} {t_theirs:10.3f} {t_ours / t_theirs:14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
