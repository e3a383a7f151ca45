"""labcode.data: offline defaults, the IDX and CIFAR formats, the download cache.

No test touches the network: downloads are served from 127.0.0.1 or simulated.
"""

import functools
import gzip
import hashlib
import http.server
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from labcode import data
from labcode.data import (
    DownloadError,
    load_cifar10,
    load_dataset,
    load_digits,
    load_mnist,
    load_sample_images,
    make_circles,
    make_moons,
    make_spirals,
    minibatches,
    read_idx,
    write_idx,
)

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
MNIST_NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


# ----------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("dtype", ["uint8", "int8", ">i2", "int32", "float32", "float64"])
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("suffix", [".gz", ""])
def test_idx_round_trip(tmp_path, dtype, ndim, suffix):
    rng = np.random.default_rng(ndim)
    shape = (3, 4, 2, 5)[:ndim]
    x = (rng.normal(size=shape) * 50).astype(dtype)
    path = tmp_path / f"x-idx{ndim}{suffix}"
    write_idx(path, x)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    y = read_idx(path)
    assert y.shape == shape and y.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(x, y)


def test_idx_header_is_the_documented_one(tmp_path):
    write_idx(tmp_path / "a", np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert (tmp_path / "a").read_bytes() == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5])


def _valid_idx(tmp_path) -> bytes:
    write_idx(tmp_path / "ok", np.arange(20, dtype=np.uint8).reshape(4, 5))
    return (tmp_path / "ok").read_bytes()


@pytest.mark.parametrize("damage,message", [
    (lambda b: b[:-3],
     r"truncated: the header promises shape \(4, 5\) of uint8 \(20 bytes of data\), the file holds 17"),
    (lambda b: b + b"\x00", "longer than its header says"),
    (lambda b: b"\x01" + b[1:], "not an IDX file: its magic number is 0x01000802"),
    (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),
    (lambda b: b[:6], "truncated inside its header"),
    (lambda b: b[:2], "too short"),
    (lambda b: gzip.compress(b)[:-10], "damaged gzip file"),
])
def test_corrupt_idx_files_name_the_file_and_the_problem(tmp_path, damage, message):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(damage(_valid_idx(tmp_path)))
    with pytest.raises(ValueError, match=message) as info:
        read_idx(bad)
    assert str(bad) in str(info.value)


def test_write_idx_rejects_types_idx_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="uint8, int8, int16, int32, float32 or float64"):
        write_idx(tmp_path / "x", np.ones(3, dtype=np.int64))


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist is absent")
def test_real_mnist_test_split():
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert images.max() == 255 and images.min() == 0


# ----------------------------------------------------------------------------- MNIST-like loaders
def _fake_mnist(folder: Path, n_train=12, n_test=5, gz=True) -> dict:
    """Writes the four MNIST files (small) and returns {name: md5}."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8),
              rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8)]
    md5 = {}
    for name, arr in zip(MNIST_NAMES, arrays, strict=True):
        path = folder / (name if gz else name.removesuffix(".gz"))
        write_idx(path, arr)
        md5[name] = hashlib.md5(path.read_bytes()).hexdigest()
    return md5


def test_load_mnist_from_a_folder(tmp_path):
    _fake_mnist(tmp_path, gz=False)  # un-gzipped copies work too
    (x_train, y_train), (x_test, y_test) = load_mnist(tmp_path)
    assert x_train.shape == (12, 28, 28) and x_test.shape == (5, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8 and y_test.shape == (5,)


def test_load_fashion_mnist_from_a_folder_names_a_missing_file(tmp_path):
    _fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_fashion_mnist(tmp_path)


def test_load_mnist_checks_shapes(tmp_path):
    _fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))  # 5 images, 4 labels
    with pytest.raises(ValueError, match="t10k labels should be 1-D with 5 entries"):
        load_mnist(tmp_path)


class _Server:
    """A static file server on 127.0.0.1 that counts requests."""

    def __init__(self, folder):
        self.requests = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                outer.requests.append(self.path)

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local 'mnist' mirror with fake files, and an empty cache in LABCODE_DATA."""
    served = tmp_path / "served"
    md5 = _fake_mnist(served)
    server = _Server(served)
    monkeypatch.setitem(data._SOURCES, "mnist", ((server.url,), md5))
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path / "cache"))
    yield server, served
    server.close()


def test_downloads_once_into_the_cache_then_reads_it(mirror, tmp_path):
    server, _ = mirror
    (x_train, _), (x_test, _) = load_mnist()
    assert x_train.shape == (12, 28, 28)
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(MNIST_NAMES)
    first = len(server.requests)
    assert first == 4
    load_mnist()
    assert len(server.requests) == first  # served from the cache


def test_a_corrupt_download_leaves_no_partial_file(mirror, tmp_path):
    server, served = mirror
    target = served / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:100])  # the mirror serves a truncated file
    with pytest.raises(DownloadError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist()
    cached = {p.name for p in (tmp_path / "cache" / "mnist").iterdir()}
    assert "t10k-images-idx3-ubyte.gz" not in cached
    assert cached <= set(MNIST_NAMES)  # no temporary leftovers


def test_a_corrupted_cached_file_is_reported_removed_and_fetched_again(mirror, tmp_path):
    server, _ = mirror
    load_mnist()
    cached = tmp_path / "cache" / "mnist" / "train-labels-idx1-ubyte.gz"
    cached.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="failed its checksum .* removed it"):
        (_, y_train), _ = load_mnist()
    assert y_train.shape == (12,)
    assert server.requests[-1].endswith("train-labels-idx1-ubyte.gz")


def test_offline_error_names_the_files_where_to_put_them_and_the_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_DATA", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve host (simulated: no network)")

    monkeypatch.setattr("pooch.retrieve", offline)
    (tmp_path / "cache" / "mnist").mkdir(parents=True)
    (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"corrupt")
    with pytest.warns(UserWarning, match="failed its checksum"), pytest.raises(DownloadError) as info:
        load_mnist()
    message = str(info.value)
    for needle in [*MNIST_NAMES, str(tmp_path / "cache" / "mnist"), "load_digits", "offline", "path="]:
        assert needle in message
    assert not (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").exists()


# ----------------------------------------------------------------------------- CIFAR-10
def _fake_cifar(folder: Path, m=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (m, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, m).tolist(), b"batch_label": name.encode()}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    return folder


def test_cifar10_pickle_batches(tmp_path):
    folder = _fake_cifar(tmp_path / "cifar-10-batches-py")
    (x_train, y_train), (x_test, y_test) = load_cifar10(tmp_path)
    assert x_train.shape == (20, 32, 32, 3) and x_test.shape == (4, 32, 32, 3)
    assert y_train.shape == (20, 1) and y_train.dtype == np.uint8 and x_train.dtype == np.uint8
    with open(folder / "test_batch", "rb") as fh:
        raw = pickle.load(fh)
    row = raw[b"data"][2]  # 1024 red, 1024 green, 1024 blue values, row-major 32×32
    r, c = 5, 17
    assert x_test[2, r, c].tolist() == [row[32 * r + c], row[1024 + 32 * r + c], row[2048 + 32 * r + c]]
    assert y_test[2, 0] == raw[b"labels"][2]


def test_cifar10_corrupt_or_missing_batch(tmp_path):
    folder = _fake_cifar(tmp_path / "cifar-10-batches-py")
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="data_batch_3 is not a CIFAR-10 python batch"):
        load_cifar10(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(tmp_path)


# ----------------------------------------------------------------------------- offline defaults
def test_load_digits_shapes_ranges_and_types():
    (x_train, y_train), (x_test, y_test) = load_digits()
    assert x_train.shape == (1347, 28, 28) and x_test.shape == (450, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.uint8
    assert 0.0 == x_train.min() and x_train.max() == 1.0
    assert set(np.unique(y_test)) == set(range(10))


def test_load_digits_is_stratified():
    (_, y_train), (_, y_test) = load_digits(test_size=0.25)
    all_counts = np.bincount(np.concatenate([y_train, y_test]))
    assert np.all(np.abs(np.bincount(y_test) - 0.25 * all_counts) <= 1)


def test_load_digits_is_deterministic_and_the_seed_matters():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert not np.array_equal(a[1][1], c[1][1])


def test_load_digits_sizes():
    from sklearn.datasets import load_digits as sk

    (x8, _), (t8, _) = load_digits(size=8)
    assert x8.shape[1:] == (8, 8)
    originals = {img.tobytes() for img in (sk().images / 16.0).astype(np.float32)}
    assert all(img.tobytes() in originals for img in x8[:20])  # size=8 keeps the originals
    (x32, _), _ = load_digits(size=32)
    assert x32.shape[1:] == (32, 32) and 0.0 <= x32.min() and x32.max() <= 1.0
    # the upsampled image still looks like the original: its 4×4 block means are close to it
    (x32, _), _ = load_digits(size=32, seed=0)
    blocks = x32.reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))
    assert np.abs(blocks - x8).mean() < 0.08


@pytest.mark.parametrize("kwargs,message", [
    ({"size": 0}, "size must be an int ≥ 1"), ({"size": 2.5}, "size"),
    ({"test_size": 1.0}, r"test_size must be a fraction in \(0, 1\)"), ({"seed": -1}, "seed"),
])
def test_load_digits_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_digits(**kwargs)


def test_sample_images():
    images = load_sample_images()
    assert images.shape == (2, 427, 640, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0


@pytest.mark.parametrize("make", [make_moons, make_circles, make_spirals])
def test_generated_sets_are_seeded(make):
    x1, y1 = make(seed=3)
    x2, y2 = make(seed=3)
    x3, _ = make(seed=4)
    assert x1.shape == (len(y1), 2)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_spirals_have_balanced_classes():
    _, y = make_spirals(n_samples=301, n_classes=3)
    assert np.bincount(y).tolist() == [101, 100, 100]


def test_minibatches_cover_every_sample_once_last_batch_included():
    x = np.arange(103)
    y = x * 10
    batches = list(minibatches(x, y, batch_size=10, seed=0))
    assert [len(b[0]) for b in batches] == [10] * 10 + [3]
    seen = np.concatenate([b[0] for b in batches])
    assert sorted(seen.tolist()) == list(range(103))
    assert all(np.array_equal(xb * 10, yb) for xb, yb in batches)  # pairs stay aligned
    assert not np.array_equal(seen, x)  # shuffled


def test_minibatches_order():
    x = np.arange(50)
    same = [np.concatenate(list(minibatches(x, batch_size=8, seed=5))) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    rng = np.random.default_rng(0)
    epoch1 = np.concatenate(list(minibatches(x, batch_size=8, seed=rng)))
    epoch2 = np.concatenate(list(minibatches(x, batch_size=8, seed=rng)))
    assert not np.array_equal(epoch1, epoch2)  # a Generator gives each epoch a new order
    np.testing.assert_array_equal(np.concatenate(list(minibatches(x, batch_size=8, shuffle=False))), x)


def test_minibatches_bad_input():
    with pytest.raises(ValueError, match="x has 5 samples but y has 4"):
        next(minibatches(np.ones(5), np.ones(4)))
    with pytest.raises(ValueError, match="batch_size must be an int ≥ 1"):
        next(minibatches(np.ones(5), batch_size=0))


def test_load_dataset_switch(tmp_path):
    (x, y), _ = load_dataset("digits")
    assert x.shape[1:] == (28, 28) and x.dtype == np.float32
    _fake_mnist(tmp_path)
    (x, y), (xt, yt) = load_dataset("mnist", path=tmp_path)
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and y.ndim == 1
    _fake_cifar(tmp_path / "c" / "cifar-10-batches-py")
    (x, y), _ = load_dataset("cifar10", path=tmp_path / "c")
    assert x.shape[1:] == (32, 32, 3) and y.shape == (20,)
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")
