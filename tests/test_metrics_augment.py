"""Metrics against scikit-learn, the train/dev/test split, and image augmentation (shapes, ranges, seeds, geometry)."""

import numpy as np
import pytest
from sklearn import metrics as skm

from labcode.scratch import augmentation as aug
from labcode.scratch import metrics

# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------

rng0 = np.random.default_rng(0)
MULTI_TRUE = rng0.integers(0, 4, 60)
MULTI_PRED = np.where(rng0.random(60) < 0.6, MULTI_TRUE, rng0.integers(0, 4, 60))
BIN_TRUE = rng0.integers(0, 2, 40)
BIN_PRED = np.where(rng0.random(40) < 0.7, BIN_TRUE, 1 - BIN_TRUE)
NEVER_PREDICTED = (np.array([0, 1, 2, 2, 1, 0, 2]), np.array([0, 1, 1, 1, 1, 0, 0]))  # class 2: 0/0 precision


@pytest.mark.parametrize("y_true, y_pred", [(MULTI_TRUE, MULTI_PRED), NEVER_PREDICTED, (BIN_TRUE, BIN_PRED)],
                         ids=["multiclass", "zero_division", "binary_labels"])
@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_precision_recall_f1_match_sklearn(y_true, y_pred, average):
    for ours, theirs in [(metrics.precision_score, skm.precision_score), (metrics.recall_score, skm.recall_score),
                         (metrics.f1_score, skm.f1_score)]:
        np.testing.assert_allclose(ours(y_true, y_pred, average=average),
                                   theirs(y_true, y_pred, average=average, zero_division=0), rtol=1e-12)
    p, r, f, s = metrics.precision_recall_fscore_support(y_true, y_pred, average=average)
    sp, sr, sf, ss = skm.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
    np.testing.assert_allclose([p, r, f], [sp, sr, sf], rtol=1e-12)
    if average is None:
        np.testing.assert_array_equal(s, ss)


def test_binary_metrics_accuracy_and_confusion_matrix_match_sklearn():
    for pos_label in (1, 0):
        for ours, theirs in [(metrics.precision_score, skm.precision_score), (metrics.recall_score, skm.recall_score),
                             (metrics.f1_score, skm.f1_score)]:
            assert ours(BIN_TRUE, BIN_PRED, pos_label=pos_label) == pytest.approx(
                theirs(BIN_TRUE, BIN_PRED, pos_label=pos_label), rel=1e-12)
    assert metrics.accuracy_score(MULTI_TRUE, MULTI_PRED) == skm.accuracy_score(MULTI_TRUE, MULTI_PRED)
    np.testing.assert_array_equal(metrics.confusion_matrix(MULTI_TRUE, MULTI_PRED),
                                  skm.confusion_matrix(MULTI_TRUE, MULTI_PRED))
    np.testing.assert_array_equal(metrics.confusion_matrix(MULTI_TRUE, MULTI_PRED, labels=[3, 1]),
                                  skm.confusion_matrix(MULTI_TRUE, MULTI_PRED, labels=[3, 1]))
    words_true, words_pred = ["cat", "dog", "dog", "cat", "bird"], ["cat", "cat", "dog", "bird", "bird"]
    np.testing.assert_array_equal(metrics.confusion_matrix(words_true, words_pred),
                                  skm.confusion_matrix(words_true, words_pred))
    assert metrics.f1_score(words_true, words_pred, average="macro") == pytest.approx(
        skm.f1_score(words_true, words_pred, average="macro"))
    # micro-averaged precision = recall = F1 = accuracy for single-label data
    micro = metrics.precision_recall_fscore_support(MULTI_TRUE, MULTI_PRED, average="micro")[:3]
    assert micro == pytest.approx([metrics.accuracy_score(MULTI_TRUE, MULTI_PRED)] * 3)
    scores = np.eye(4)[MULTI_PRED] + 0.1  # (m, classes) scores: the arg-max is the prediction
    assert metrics.accuracy_score(MULTI_TRUE, scores) == metrics.accuracy_score(MULTI_TRUE, MULTI_PRED)


def test_metrics_bad_input():
    with pytest.raises(ValueError, match="average='binary' needs two classes, got 4"):
        metrics.precision_score(MULTI_TRUE, MULTI_PRED)
    with pytest.raises(ValueError, match="average must be one of"):
        metrics.f1_score(BIN_TRUE, BIN_PRED, average="samples")
    with pytest.raises(ValueError, match="same length, got 40 and 39"):
        metrics.accuracy_score(BIN_TRUE, BIN_PRED[:-1])
    with pytest.raises(ValueError, match="pos_label=2 is not a label"):
        metrics.recall_score(BIN_TRUE, BIN_PRED, pos_label=2)


def test_train_dev_test_split_sizes_stratification_and_seed():
    x = np.arange(1000).reshape(500, 2)
    y = np.repeat([0, 1, 2, 3], [250, 125, 100, 25])
    (xa, ya), (xb, yb), (xc, yc) = metrics.train_dev_test_split(x, y, sizes=(0.7, 0.15, 0.15), seed=0, stratify=True)
    assert (len(xa), len(xb), len(xc)) == (350, 75, 75)
    np.testing.assert_array_equal(np.sort(np.concatenate([xa, xb, xc])[:, 0]), x[:, 0])  # a partition
    np.testing.assert_array_equal(x[xa[:, 0] // 2, 1], xa[:, 1])  # rows stay whole
    np.testing.assert_array_equal(y[xb[:, 0] // 2], yb)  # labels stay with their samples
    for part, frac in [(ya, 0.7), (yb, 0.15), (yc, 0.15)]:
        counts = np.bincount(part, minlength=4)
        assert np.all(np.abs(counts - frac * np.array([250, 125, 100, 25])) <= 1.5), counts
    again = metrics.train_dev_test_split(x, y, sizes=(0.7, 0.15, 0.15), seed=0, stratify=True)
    np.testing.assert_array_equal(again[1][0], xb)
    other = metrics.train_dev_test_split(x, y, sizes=(0.7, 0.15, 0.15), seed=1, stratify=True)
    assert not np.array_equal(other[1][0], xb)
    a, b, c = metrics.train_dev_test_split(x, sizes=(100, 50, 25), seed=0)  # counts; the rest is left out
    assert (len(a), len(b), len(c)) == (100, 50, 25)
    a, b, c = metrics.train_dev_test_split(x, sizes=(0.5, 0.2, 0.3), shuffle=False)
    np.testing.assert_array_equal(a, x[:250])
    with pytest.raises(ValueError, match="add up to at most 1"):
        metrics.train_dev_test_split(x, y, sizes=(0.7, 0.2, 0.2))
    with pytest.raises(ValueError, match="more than the 500 samples"):
        metrics.train_dev_test_split(x, y, sizes=(400, 100, 1))
    with pytest.raises(ValueError, match="x has 500 samples but y has 3"):
        metrics.train_dev_test_split(x, y[:3])


# ---------------------------------------------------------------------------
# Augmentation
# ---------------------------------------------------------------------------

def _images(shape=(6, 12, 12, 3), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


RANDOM_OPS = [
    ("shift", lambda x, s: aug.random_shift(x, 3, seed=s)),
    ("rotation", lambda x, s: aug.random_rotation(x, 30, seed=s)),
    ("flip", lambda x, s: aug.random_flip(x, "horizontal_and_vertical", seed=s)),
    ("brightness", lambda x, s: aug.random_brightness(x, 0.3, seed=s)),
    ("contrast", lambda x, s: aug.random_contrast(x, 0.5, 1.5, seed=s)),
    ("pipeline", lambda x, s: aug.augment(x, s, shift=2, rotation=15, flip="horizontal", brightness=0.2,
                                          contrast=(0.8, 1.2))),
]


@pytest.mark.parametrize("op", [o[1] for o in RANDOM_OPS], ids=[o[0] for o in RANDOM_OPS])
@pytest.mark.parametrize("shape", [(6, 12, 12, 3), (6, 12, 12)], ids=["nhwc", "nhw"])
def test_random_augmentation_keeps_shape_range_and_is_seeded(op, shape):
    x = _images(shape)
    before = x.copy()
    out = op(x, 3)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(x, before)  # the input is left alone
    np.testing.assert_array_equal(op(x, 3), out)  # the same seed, the same result
    assert not np.array_equal(op(x, 4), out)
    gen = np.random.default_rng(5)
    first, second = op(x, gen), op(x, gen)  # a Generator continues: new variants each call
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(op(x, np.random.default_rng(5)), first)


def test_flips_are_involutions_and_mirror():
    x = _images()
    np.testing.assert_array_equal(aug.flip_left_right(aug.flip_left_right(x)), x)
    np.testing.assert_array_equal(aug.flip_up_down(aug.flip_up_down(x)), x)
    np.testing.assert_array_equal(aug.flip_left_right(x)[:, :, 0], x[:, :, -1])
    flipped = aug.random_flip(x, seed=0)
    assert all(np.array_equal(f, i) or np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, x, strict=True))
    assert 0 < sum(not np.array_equal(f, i) for f, i in zip(flipped, x, strict=True)) < len(x)


def test_shift_moves_the_mass():
    x = np.zeros((2, 20, 20), np.float32)
    x[:, 8:11, 6:9] = 1.0  # a blob, well inside
    out = aug.shift(x, [2, -3], [4, 1.5])
    rows, cols = np.mgrid[:20, :20]
    for img, moved, (dy, dx) in zip(x, out, [(2, 4), (-3, 1.5)], strict=True):
        assert moved.sum() == pytest.approx(img.sum(), rel=1e-6)  # nothing fell off
        centre = np.array([(rows * img).sum(), (cols * img).sum()]) / img.sum()
        new_centre = np.array([(rows * moved).sum(), (cols * moved).sum()]) / moved.sum()
        np.testing.assert_allclose(new_centre - centre, [dy, dx], atol=1e-5)
    np.testing.assert_array_equal(aug.shift(x, 2, 4)[:, 10:13, 10:13], 1.0)  # an integer shift is exact
    edge = aug.shift(x, 0, 15)  # pushed past the border: the mass is lost, filled with 0
    assert edge.sum() < x.sum() / 2


def test_rotation_geometry_and_photometric_ops():
    x = np.zeros((1, 9, 9), np.float32)
    x[0, 1, 4] = 1.0  # above the centre
    np.testing.assert_array_equal(np.argwhere(aug.rotate(x, 90)[0] > 0.5), [[4, 1]])  # counter-clockwise: to the left
    np.testing.assert_allclose(aug.rotate(aug.rotate(x, 90), -90), x, atol=1e-6)
    np.testing.assert_allclose(aug.rotate(x, 0), x)
    y = _images((3, 8, 8, 3))
    np.testing.assert_allclose(aug.adjust_brightness(y, 0.1, value_range=None), y + 0.1, rtol=1e-6)
    assert aug.adjust_brightness(y, 0.5).max() == 1.0
    c = aug.adjust_contrast(y, 1.0)
    np.testing.assert_allclose(c, y, atol=1e-6)
    low = aug.adjust_contrast(y, 0.5)
    assert low.std(axis=(1, 2)).mean() == pytest.approx(0.5 * y.std(axis=(1, 2)).mean(), rel=1e-5)
    np.testing.assert_allclose(low.mean(axis=(1, 2)), y.mean(axis=(1, 2)), atol=1e-6)  # the mean stays


def test_augment_bad_input():
    with pytest.raises(ValueError, match=r"NHWC \(m, H, W, C\) or NHW \(m, H, W\); got shape \(12, 12\)"):
        aug.random_shift(np.zeros((12, 12), np.float32))
    with pytest.raises(TypeError, match="expected float images"):
        aug.random_rotation(np.zeros((2, 12, 12), np.uint8))
    with pytest.raises(ValueError, match="mode must be one of"):
        aug.random_flip(_images(), mode="diagonal")
    with pytest.raises(ValueError, match="seed must be"):
        aug.random_brightness(_images(), seed=-1)
    with pytest.raises(ValueError, match="lower ≤ upper"):
        aug.random_contrast(_images(), 1.5, 0.5)
