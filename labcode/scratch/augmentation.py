"""Data augmentation (数据增强) for image batches: shifts, rotations, flips, brightness and contrast.

Each function takes a float batch, NHWC (m, H, W, C) or NHW (m, H, W), and
returns a new batch of the same shape and dtype; the input is not changed.
The random ones draw one transformation per image from ``seed``: an int (the
same images, the same result), a ``numpy.random.Generator`` (continue its
stream: a training loop passes one, so each epoch sees new variants), or
None (NumPy's global state, seeded by :func:`labcode.seed`).

Geometry (shift, rotation) uses ``scipy.ndimage`` with bilinear interpolation
(``order=1``) and fills what comes in from outside with ``fill_value``; a
bilinear value is a convex combination of pixels and the fill, so it stays
within the input's range. Brightness and contrast clip to ``value_range``.

Keras' twins are the preprocessing layers ``RandomTranslation``,
``RandomRotation``, ``RandomFlip``, ``RandomBrightness`` and ``RandomContrast``.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "shift", "rotate", "flip_left_right", "flip_up_down", "adjust_brightness", "adjust_contrast",
    "random_shift", "random_rotation", "random_flip", "random_brightness", "random_contrast", "augment",
]


def _images(images, where) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{where}: expected a batch of images, NHWC (m, H, W, C) or NHW (m, H, W); got shape {x.shape}"
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{where}: expected float images (e.g. in [0, 1]), got dtype {x.dtype}; convert with "
                        "images.astype(np.float32) / 255")
    return x


def _rng(seed, where) -> np.random.Generator | None:
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{where}: seed must be an int ≥ 0, a numpy.random.Generator or None, got {seed!r}")
    return np.random.default_rng(int(seed))


def _uniform(rng, low, high, size):
    return rng.uniform(low, high, size) if rng is not None else np.random.uniform(low, high, size)


def _number(value, name, where, minimum=0.0):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= minimum:
        raise ValueError(f"{where}: {name} must be a number ≥ {minimum}, got {value!r}")
    return float(value)


def _pair(value, name, where):
    """(dy, dx) from a number (both) or a pair."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value), float(value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a number or a pair (rows, columns), got {value!r}") from None
    return _number(a, name, where), _number(b, name, where)


def _per_image(x, amounts, fn):
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = fn(x[i], amounts[i])
    return out


# ---------------------------------------------------------------------------
# Deterministic transformations
# ---------------------------------------------------------------------------

def shift(images, dy, dx, fill_value=0.0) -> np.ndarray:
    """Move every image down by ``dy`` and right by ``dx`` pixels (fractions interpolate).

    Parameters
    ----------
    images : numpy.ndarray
        NHWC or NHW float batch.
    dy, dx : float or array_like of shape (m,)
        Shifts in pixels, one for all images or one per image; negative moves up / left.
    fill_value : float
        The value of the pixels that come in from outside.
    """
    from scipy import ndimage

    x = _images(images, "shift")
    m = len(x)
    dy = np.broadcast_to(np.asarray(dy, dtype=np.float64), (m,))
    dx = np.broadcast_to(np.asarray(dx, dtype=np.float64), (m,))
    channel = (0,) if x.ndim == 4 else ()
    return _per_image(x, np.stack([dy, dx], axis=1), lambda img, d: ndimage.shift(
        img, (d[0], d[1], *channel), order=1, mode="constant", cval=fill_value, prefilter=False))


def rotate(images, angle, fill_value=0.0) -> np.ndarray:
    """Rotate every image by ``angle`` degrees counter-clockwise about its centre, keeping its size.

    ``angle`` is one number for all images or one per image.
    """
    from scipy import ndimage

    x = _images(images, "rotate")
    angles = np.broadcast_to(np.asarray(angle, dtype=np.float64), (len(x),))
    return _per_image(x, angles, lambda img, a: ndimage.rotate(
        img, a, axes=(1, 0), reshape=False, order=1, mode="constant", cval=fill_value, prefilter=False))


def flip_left_right(images) -> np.ndarray:
    """Mirror every image horizontally (the columns reversed)."""
    return _images(images, "flip_left_right")[:, :, ::-1].copy()


def flip_up_down(images) -> np.ndarray:
    """Mirror every image vertically (the rows reversed)."""
    return _images(images, "flip_up_down")[:, ::-1].copy()


def _clip(x, value_range):
    if value_range is None:
        return x
    lo, hi = value_range
    return np.clip(x, lo, hi, out=x)


def adjust_brightness(images, delta, value_range=(0.0, 1.0)) -> np.ndarray:
    """Add ``delta`` (one number or one per image) to every pixel, then clip to ``value_range`` (None: no clip)."""
    x = _images(images, "adjust_brightness")
    d = np.broadcast_to(np.asarray(delta, dtype=x.dtype), (len(x),)).reshape(-1, *[1] * (x.ndim - 1))
    return _clip(x + d, value_range)


def adjust_contrast(images, factor, value_range=(0.0, 1.0)) -> np.ndarray:
    """(x − mean)·factor + mean per image and channel (``tf.image.adjust_contrast``), clipped to ``value_range``."""
    x = _images(images, "adjust_contrast")
    f = np.broadcast_to(np.asarray(factor, dtype=x.dtype), (len(x),)).reshape(-1, *[1] * (x.ndim - 1))
    mean = x.mean(axis=(1, 2), keepdims=True)
    return _clip((x - mean) * f + mean, value_range)


# ---------------------------------------------------------------------------
# Random transformations
# ---------------------------------------------------------------------------

def random_shift(images, max_shift=2.0, seed=None, fill_value=0.0) -> np.ndarray:
    """Shift each image by (dy, dx) ~ U(−max, max) pixels (a pair gives rows and columns separately)."""
    x = _images(images, "random_shift")
    my, mx = _pair(max_shift, "max_shift", "random_shift")
    rng = _rng(seed, "random_shift")
    return shift(x, _uniform(rng, -my, my, len(x)), _uniform(rng, -mx, mx, len(x)), fill_value=fill_value)


def random_rotation(images, max_degrees=15.0, seed=None, fill_value=0.0) -> np.ndarray:
    """Rotate each image by an angle ~ U(−max_degrees, max_degrees)."""
    x = _images(images, "random_rotation")
    a = _number(max_degrees, "max_degrees", "random_rotation")
    return rotate(x, _uniform(_rng(seed, "random_rotation"), -a, a, len(x)), fill_value=fill_value)


def random_flip(images, mode="horizontal", seed=None) -> np.ndarray:
    """Flip each image with probability 1/2: "horizontal", "vertical", or "horizontal_and_vertical" (each axis
    independently).

    Keras' ``RandomFlip`` takes the same modes. (Not for digits or text: a mirrored 3 is no 3.)
    """
    x = _images(images, "random_flip")
    modes = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (2, 1)}
    if mode not in modes:
        raise ValueError(f"random_flip: mode must be one of {list(modes)}, got {mode!r}")
    rng = _rng(seed, "random_flip")
    out = x.copy()
    for axis in modes[mode]:
        flip = _uniform(rng, 0.0, 1.0, len(x)) < 0.5
        out[flip] = np.flip(out[flip], axis=axis)
    return out


def random_brightness(images, max_delta=0.2, seed=None, value_range=(0.0, 1.0)) -> np.ndarray:
    """Add δ ~ U(−max_delta, max_delta) to each image (clipped to ``value_range``)."""
    x = _images(images, "random_brightness")
    d = _number(max_delta, "max_delta", "random_brightness")
    return adjust_brightness(x, _uniform(_rng(seed, "random_brightness"), -d, d, len(x)), value_range)


def random_contrast(images, lower=0.8, upper=1.2, seed=None, value_range=(0.0, 1.0)) -> np.ndarray:
    """Scale each image's contrast by a factor ~ U(lower, upper) (clipped to ``value_range``)."""
    x = _images(images, "random_contrast")
    lo = _number(lower, "lower", "random_contrast")
    hi = _number(upper, "upper", "random_contrast")
    if lo > hi:
        raise ValueError(f"random_contrast: needs lower ≤ upper, got lower={lower!r} > upper={upper!r}")
    return adjust_contrast(x, _uniform(_rng(seed, "random_contrast"), lo, hi, len(x)), value_range)


def augment(images, seed=None, shift=0.0, rotation=0.0, flip=None, brightness=0.0, contrast=None,
            value_range=(0.0, 1.0), fill_value=0.0) -> np.ndarray:
    """A random augmentation pipeline: shift, rotation, flip, brightness, contrast (each only when asked).

    Parameters
    ----------
    images : numpy.ndarray
        NHWC or NHW float batch.
    seed : int, numpy.random.Generator or None
        One seed for the whole pipeline.
    shift : float or (float, float)
        Largest shift in pixels (0: none).
    rotation : float
        Largest rotation in degrees (0: none).
    flip : str or None
        A :func:`random_flip` mode, or None.
    brightness : float
        Largest brightness change δ (0: none).
    contrast : (float, float) or None
        The range of contrast factors, e.g. (0.8, 1.2).
    value_range : (float, float) or None
        Where pixel values live (the clip of brightness and contrast).
    fill_value : float
        What shifts and rotations bring in from outside.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> for xb, yb in minibatches(x_train, y_train, 32, seed=rng):           # doctest: +SKIP
    ...     model.train_on_batch(augment(xb, rng, shift=2, rotation=10), yb)
    """
    x = _images(images, "augment")
    rng = _rng(seed, "augment")
    if rng is None:
        rng = np.random.default_rng(np.random.randint(2**31))
    if shift:
        x = random_shift(x, shift, rng, fill_value=fill_value)
    if rotation:
        x = random_rotation(x, rotation, rng, fill_value=fill_value)
    if flip:
        x = random_flip(x, flip, rng)
    if brightness:
        x = random_brightness(x, brightness, rng, value_range=value_range)
    if contrast is not None:
        x = random_contrast(x, *contrast, seed=rng, value_range=value_range)
    return x.copy() if x is images else x
