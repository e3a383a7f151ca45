"""Datasets: offline defaults, and real loaders with a cache and checksums.

Offline defaults (what the chapters and tests use; nothing is downloaded):

- :func:`load_digits` — scikit-learn's 1,797 handwritten digits, 8×8, upsampled;
- :func:`load_sample_images` — scikit-learn's ``china.jpg`` and ``flower.jpg``;
- :func:`make_moons`, :func:`make_circles`, :func:`make_spirals` — 2-D sets;
- :func:`minibatches` — one epoch of shuffled mini-batches.

Real loaders (a student with internet switches a notebook's ``DATASET``):
:func:`load_mnist`, :func:`load_fashion_mnist`, :func:`load_cifar10`, which read
the original files from a folder, or download them once into a cache with
checksum verification; :func:`read_idx` / :func:`write_idx` for the IDX format.

Loaders return ``(x_train, y_train), (x_test, y_test)``, like ``keras.datasets``.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

__all__ = [
    "load_digits", "load_sample_images", "make_moons", "make_circles", "make_spirals", "minibatches",
    "read_idx", "write_idx", "load_mnist", "load_fashion_mnist", "load_cifar10", "load_dataset", "data_home",
    "DownloadError",
]


def _check_int(value, name: str, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an int ≥ {minimum}, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------
# Offline defaults
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _digits_images(size: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image
    from sklearn.datasets import load_digits as sk_load_digits

    digits = sk_load_digits()
    images = digits.images.astype(np.float32) / 16.0  # the 8×8 pixels count 0..16 dots
    if size != 8:
        # bilinear resampling: a convex combination of neighbours, so values stay in [0, 1];
        # PIL widens the filter when shrinking (anti-aliasing)
        images = np.stack([
            np.asarray(Image.fromarray(img, mode="F").resize((size, size), Image.Resampling.BILINEAR))
            for img in images
        ])
    images = np.clip(images, 0.0, 1.0).astype(np.float32)
    images.setflags(write=False)
    return images, digits.target.astype(np.uint8)


def load_digits(size: int = 28, test_size: float = 0.25, seed: int = 0):
    """scikit-learn's handwritten digits, resized to ``size``×``size``, split like keras.datasets.

    1,797 grey-scale images of the digits 0–9 (8×8 pixels in the original), which
    ship with scikit-learn, so no download is needed.

    Parameters
    ----------
    size : int
        Side of the returned images: 8 keeps the originals, 28 matches MNIST,
        32 LeNet-5's classic input.
    test_size : float
        Fraction of the images in the test split, in (0, 1).
    seed : int
        Seed of the stratified split (each digit in the same proportion in both parts).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        Images float32 in [0, 1], shape (m, size, size); labels uint8 in 0..9.
    """
    size = _check_int(size, "size", "load_digits", minimum=1)
    seed = _check_int(seed, "seed", "load_digits")
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0 < test_size < 1:
        raise ValueError(f"load_digits: test_size must be a fraction in (0, 1), got {test_size!r}")
    from sklearn.model_selection import train_test_split

    images, labels = _digits_images(size)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=float(test_size), random_state=seed, stratify=labels
    )
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())


def load_sample_images() -> np.ndarray:
    """scikit-learn's two sample photos (``china.jpg``, ``flower.jpg``) as one float batch.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], shape (2, 427, 640, 3): NHWC, like a Keras image batch.
    """
    from sklearn.datasets import load_sample_images as sk_load_sample_images

    images = sk_load_sample_images().images
    return np.stack(images).astype(np.float32) / 255.0


def _check_points(n_samples, noise, where):
    n_samples = _check_int(n_samples, "n_samples", where, minimum=2)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or noise < 0:
        raise ValueError(f"{where}: noise must be a number ≥ 0, got {noise!r}")
    return n_samples, float(noise)


def make_moons(n_samples: int = 200, noise: float = 0.2, seed: int = 0):
    """Two interleaving half circles (scikit-learn's ``make_moons``), seeded.

    Returns
    -------
    x : numpy.ndarray, float64, shape (n_samples, 2)
    y : numpy.ndarray, int64, shape (n_samples,), classes 0 and 1
    """
    from sklearn.datasets import make_moons as sk_make_moons

    n_samples, noise = _check_points(n_samples, noise, "make_moons")
    return sk_make_moons(n_samples=n_samples, noise=noise, random_state=_check_int(seed, "seed", "make_moons"))


def make_circles(n_samples: int = 200, noise: float = 0.1, factor: float = 0.5, seed: int = 0):
    """A small circle inside a large one (scikit-learn's ``make_circles``), seeded.

    Returns ``x`` (n_samples, 2) float64 and ``y`` (n_samples,) int64 in {0, 1}.
    """
    from sklearn.datasets import make_circles as sk_make_circles

    n_samples, noise = _check_points(n_samples, noise, "make_circles")
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor (inner radius / outer radius) must be in (0, 1), got {factor!r}")
    return sk_make_circles(n_samples=n_samples, noise=noise, factor=factor,
                           random_state=_check_int(seed, "seed", "make_circles"))


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, turns: float = 1.0, seed: int = 0):
    """Interleaved spiral arms, one per class (the CS231n toy set), seeded.

    Arm k holds the points r·(sin t, cos t) with radius r going from 0 to 1 and
    angle t = 2π·turns·r + 2πk/n_classes, plus Gaussian noise of standard deviation
    ``noise`` on the angle. No linear classifier separates them.

    Returns
    -------
    x : numpy.ndarray, float64, shape (n_samples, 2)
    y : numpy.ndarray, int64, shape (n_samples,), classes 0..n_classes-1
    """
    n_samples, noise = _check_points(n_samples, noise, "make_spirals")
    n_classes = _check_int(n_classes, "n_classes", "make_spirals", minimum=2)
    rng = np.random.default_rng(_check_int(seed, "seed", "make_spirals"))
    y = np.arange(n_samples) % n_classes
    r = np.empty(n_samples)
    for k in range(n_classes):  # evenly spaced radii along each arm
        idx = np.flatnonzero(y == k)
        r[idx] = np.linspace(0.0, 1.0, len(idx))
    t = 2 * np.pi * turns * r + 2 * np.pi * y / n_classes + rng.normal(0.0, noise, n_samples)
    x = np.column_stack([r * np.sin(t), r * np.cos(t)])
    return x, y.astype(np.int64)


def minibatches(x, y=None, batch_size: int = 32, shuffle: bool = True, seed=None):
    """One epoch of mini-batches: every sample exactly once, the last batch possibly smaller.

    Parameters
    ----------
    x : array_like, shape (m, ...)
        Samples along the first axis.
    y : array_like, shape (m, ...), optional
        Labels (or targets) aligned with ``x``.
    batch_size : int
        Samples per batch (the last one holds the remainder).
    shuffle : bool
        Visit the samples in a random order.
    seed : int, numpy.random.Generator or None
        The shuffle's randomness: an int for a reproducible order, a Generator
        to continue its stream (a training loop passes one per run, so each
        epoch gets a new order), None for NumPy's global state (seeded by
        :func:`labcode.seed`).

    Yields
    ------
    (x_batch, y_batch) if ``y`` is given, else x_batch.
    """
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("minibatches: x must have samples along its first axis, got a scalar")
    m = len(x)
    if y is not None:
        y = np.asarray(y)
        if len(y) != m:
            raise ValueError(f"minibatches: x has {m} samples but y has {len(y)}")
    batch_size = _check_int(batch_size, "batch_size", "minibatches", minimum=1)
    if shuffle:
        if isinstance(seed, np.random.Generator):
            order = seed.permutation(m)
        elif seed is None:
            order = np.random.permutation(m)
        else:
            order = np.random.default_rng(_check_int(seed, "seed", "minibatches")).permutation(m)
    else:
        order = np.arange(m)
    for start in range(0, m, batch_size):
        idx = order[start:start + batch_size]
        yield (x[idx], y[idx]) if y is not None else x[idx]


# ---------------------------------------------------------------------------
# The IDX format of (Fashion-)MNIST
# ---------------------------------------------------------------------------

# IDX: two zero bytes, a type code, the number of dimensions, then each
# dimension as a big-endian uint32, then the values in C order, big-endian.
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in _IDX_TYPES.items()}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (the format of MNIST and Fashion-MNIST), gzipped or not.

    The header gives the element type and the shape; the payload must hold
    exactly that many values.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    numpy.ndarray
        In native byte order, e.g. uint8 (10000, 28, 28) for ``t10k-images-idx3-ubyte.gz``.

    Raises
    ------
    ValueError
        A corrupt or truncated file, saying which file and what is wrong.
    """
    import gzip
    import struct
    import zlib
    from pathlib import Path

    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic number
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(f"read_idx: {path} is a damaged gzip file ({e}); a truncated download?") from e
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} is {len(raw)} bytes long, too short for an IDX header (4 bytes)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"read_idx: {path} is not an IDX file: its magic number is 0x{raw[:4].hex()}, expected "
            f"0x0000TTDD with type TT in {{{', '.join(f'{k:02x}' for k in _IDX_TYPES)}}} and DD dimensions"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header ({len(raw)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise ValueError(
            f"read_idx: {path} is {what}: the header promises shape {shape} of {dtype.name} "
            f"({expected} bytes of data), the file holds {got}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file; gzipped when ``path`` ends in ``.gz``.

    Supports the IDX element types: uint8, int8, int16, int32, float32, float64.
    """
    import gzip
    import struct
    from pathlib import Path

    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("=").str)
    if code is None:
        raise TypeError(f"write_idx: IDX stores uint8, int8, int16, int32, float32 or float64, got {array.dtype}")
    if array.ndim > 255:
        raise ValueError(f"write_idx: IDX stores at most 255 dimensions, got {array.ndim}")
    data = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data += np.ascontiguousarray(array, dtype=np.dtype(_IDX_TYPES[code])).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


# ---------------------------------------------------------------------------
# Real datasets: local files, or a one-time download into a cache
# ---------------------------------------------------------------------------

class DownloadError(OSError):
    """A dataset could not be downloaded (offline, or a mirror failed)."""


_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# name → (mirrors, {file: md5}); the MD5 sums are those published with the datasets
_SOURCES = {
    "mnist": (
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        dict(zip(_MNIST_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
                 strict=True)),
    ),
    "fashion_mnist": (
        ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
         "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        dict(zip(_MNIST_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
                 strict=True)),
    ),
    "cifar10": (
        ("https://www.cs.toronto.edu/~kriz/",),
        {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
    ),
}


def data_home():
    """The cache folder for downloaded datasets: ``$LABCODE_DATA``, else the user's cache dir."""
    import os
    from pathlib import Path

    env = os.environ.get("LABCODE_DATA")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("labcode"))


def _md5(path) -> str:
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(dataset: str, where: str):
    """The verified cached files of ``dataset``, downloading the missing ones once.

    A cached file whose checksum is wrong is removed (with a warning) and
    downloaded again. pooch downloads into a temporary file and moves it into
    place only after its checksum matched, so the cache never holds a partial file.
    """
    import warnings

    mirrors, files = _SOURCES[dataset]
    cache = data_home() / dataset
    paths = {}
    for name, md5 in files.items():
        target = cache / name
        if target.exists():
            got = _md5(target)
            if got == md5:
                paths[name] = target
                continue
            warnings.warn(
                f"{where}: the cached {target} failed its checksum (md5 {got}, expected {md5}); "
                "removed it, downloading it again", stacklevel=3,
            )
            target.unlink()
        paths[name] = _download(dataset, name, md5, mirrors, cache, where)
    return paths


def _download(dataset, name, md5, mirrors, cache, where):
    import pooch

    errors = []
    for mirror in mirrors:
        try:
            return pooch.retrieve(mirror + name, known_hash=f"md5:{md5}", fname=name, path=cache,
                                  progressbar=True)
        except Exception as e:  # offline, HTTP error, checksum mismatch: try the next mirror
            errors.append(f"{mirror}{name}: {type(e).__name__}: {e}")
    files = ", ".join(_SOURCES[dataset][1])
    raise DownloadError(
        f"{where}: could not download {name} (are you offline?).\n  " + "\n  ".join(errors) +
        f"\nDownload the files {files} yourself and put them in {cache} (or in a folder you pass as "
        f"path=...). Without a network, labcode.data.load_digits() gives handwritten digits that "
        f"ship with scikit-learn."
    )


def _find_local(path, name: str, where: str):
    from pathlib import Path

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{where}: path={str(path)!r} is not a folder")
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{where}: {name} (or {name.removesuffix('.gz')}) is not in {folder}")


def _load_idx_dataset(dataset: str, path, where: str):
    names = list(_SOURCES[dataset][1])
    if path is None:
        files = _fetch(dataset, where)
    else:  # the user's own copies: checked by their structure, not by checksum (they may be re-compressed)
        files = {name: _find_local(path, name, where) for name in names}
    x_train, y_train, x_test, y_test = (read_idx(files[n]) for n in names)
    for x, y, part in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{where}: {part} images should be uint8 of shape (m, 28, 28), got {x.dtype} {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{where}: {part} labels should be 1-D with {len(x)} entries, got shape {y.shape}")
    return (x_train, y_train), (x_test, y_test)


def load_mnist(path=None):
    """MNIST: 60,000 + 10,000 handwritten digits, 28×28, from the original IDX files.

    Parameters
    ----------
    path : str or Path, optional
        A folder holding ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (gzipped or not).
        When omitted, the files come from the cache (:func:`data_home`), downloaded
        once and checked against their published MD5 sums.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        Like ``keras.datasets.mnist.load_data()``: uint8 images (m, 28, 28) in 0..255, uint8 labels (m,).
    """
    return _load_idx_dataset("mnist", path, "load_mnist")


def load_fashion_mnist(path=None):
    """Fashion-MNIST: 60,000 + 10,000 28×28 photos of clothes in 10 classes, same files and contract as MNIST.

    See :func:`load_mnist` for ``path`` and the return value
    (like ``keras.datasets.fashion_mnist.load_data()``).
    """
    return _load_idx_dataset("fashion_mnist", path, "load_fashion_mnist")


_CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _read_cifar_batch(file, where: str):
    import pickle

    try:
        with open(file, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")
        data, labels = batch[b"data"], batch[b"labels"]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{where}: {file} is not a CIFAR-10 python batch ({type(e).__name__}: {e})") from e
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise ValueError(f"{where}: {file} should hold uint8 data (m, 3072) and m labels, "
                         f"got data {data.dtype} {data.shape} and labels {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{where}: {file} has labels outside 0..9")
    # each row: 1024 red, 1024 green, 1024 blue values, row-major 32×32 → NHWC like Keras
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.uint8).reshape(-1, 1)


def load_cifar10(path=None):
    """CIFAR-10: 50,000 + 10,000 colour images, 32×32, in 10 classes, from the python-pickle batches.

    Parameters
    ----------
    path : str or Path, optional
        A folder holding ``cifar-10-batches-py/`` (or its batches ``data_batch_1`` …
        ``data_batch_5``, ``test_batch`` directly). When omitted, ``cifar-10-python.tar.gz``
        (163 MB) is downloaded once into the cache, checked against its MD5, and unpacked.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        Like ``keras.datasets.cifar10.load_data()``: uint8 images (m, 32, 32, 3), uint8 labels (m, 1).
    """
    import tarfile
    from pathlib import Path

    where = "load_cifar10"
    if path is None:
        archive = _fetch("cifar10", where)["cifar-10-python.tar.gz"]
        folder = archive.parent / "cifar-10-batches-py"
        if not all((folder / b).is_file() for b in _CIFAR_BATCHES):
            with tarfile.open(archive) as tar:
                tar.extractall(archive.parent, filter="data")
    else:
        folder = Path(path).expanduser()
        if (folder / "cifar-10-batches-py").is_dir():
            folder = folder / "cifar-10-batches-py"
        missing = [b for b in _CIFAR_BATCHES if not (folder / b).is_file()]
        if missing:
            raise FileNotFoundError(f"{where}: {', '.join(missing)} not in {folder} "
                                    "(expected the unpacked cifar-10-batches-py folder)")
    parts = [_read_cifar_batch(folder / b, where) for b in _CIFAR_BATCHES]
    x_train = np.concatenate([x for x, _ in parts[:5]])
    y_train = np.concatenate([y for _, y in parts[:5]])
    return (x_train, y_train), parts[5]


def load_dataset(name: str = "digits", size: int | None = None, path=None):
    """One switch for the notebooks: ``DATASET = "digits"`` offline, ``"mnist"`` etc. with internet.

    Every dataset comes back in the same form, so the rest of a notebook does
    not change: images float32 in [0, 1] (m, H, W) for grey-scale or (m, H, W, 3)
    for colour, labels uint8 (m,).

    Parameters
    ----------
    name : {"digits", "mnist", "fashion_mnist", "cifar10"}
    size : int, optional
        Only for "digits": the side of the upsampled images (default 28, like MNIST).
    path : str or Path, optional
        For the real datasets: a folder with the original files (see their loaders).
    """
    loaders = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist, "cifar10": load_cifar10}
    if name == "digits":
        if path is not None:
            raise ValueError("load_dataset: 'digits' ship with scikit-learn and take no path")
        return load_digits(size=28 if size is None else size)
    if name not in loaders:
        known = ", ".join(map(repr, ["digits", *loaders]))
        raise ValueError(f"load_dataset: unknown dataset {name!r}; expected one of {known}")
    if size is not None:
        raise ValueError(f"load_dataset: size is only for 'digits'; {name!r} comes at its own size")
    (x_train, y_train), (x_test, y_test) = loaders[name](path)
    return ((x_train.astype(np.float32) / 255.0, y_train.reshape(-1)),
            (x_test.astype(np.float32) / 255.0, y_test.reshape(-1)))
