"""Tests for imsat_sklearn.datasets.

Tests on real data read the folder named by IMSAT_SKLEARN_DATA and skip when
it is unset or lacks the files. The others build tiny files in tmp_path and
always run.
"""

import gzip
import os
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from imsat_sklearn import datasets
from imsat_sklearn.datasets import (
    DATA_HOME_ENV,
    get_data_home,
    load_20newsgroups_tfidf,
    load_cifar10,
    load_mnist,
    load_omniglot,
    load_reuters_tfidf,
    load_usps,
)

# Verified counts from the data README (standard MNIST and USPS splits).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
USPS_TRAIN_COUNTS = [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
USPS_TEST_COUNTS = [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]
NEWSGROUPS_COUNTS = [
    799, 973, 985, 982, 963, 988, 975, 990, 996, 994,
    999, 991, 984, 990, 987, 997, 910, 940, 775, 628,
]  # fmt: skip

ALL_LOADERS = [
    (load_mnist, "mnist/train-images-idx3-ubyte.gz"),
    (load_usps, "usps/usps.npz"),
    (load_20newsgroups_tfidf, "20newsgroups/20news-bydate.tar.gz"),
    (load_reuters_tfidf, "reuters21578/reuters21578.tar.gz"),
    (load_omniglot, "omniglot/omniglot_small1.npz"),
    (load_cifar10, "cifar10/cifar10_jpg.tar.gz"),
]


# --------------------------------------------------------------------------
# Real data fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_home():
    home = os.environ.get(DATA_HOME_ENV)
    if not home:
        pytest.skip(f"{DATA_HOME_ENV} not set / files absent: no real data to test")
    return Path(home)


def _require(data_home, *files):
    missing = [name for name in files if not (data_home / name).is_file()]
    if missing:
        pytest.skip(
            f"{DATA_HOME_ENV} not set / files absent: {missing} not under {data_home}"
        )


@pytest.fixture(scope="module")
def mnist(data_home):
    names = [name for pair in datasets._MNIST_FILES.values() for name in pair]
    _require(data_home, *(f"mnist/{name}" for name in names))
    return load_mnist(data_home)


@pytest.fixture(scope="module")
def newsgroups(data_home):
    _require(data_home, "20newsgroups/20news-bydate.tar.gz")
    return load_20newsgroups_tfidf(data_home)


@pytest.fixture(scope="module")
def reuters(data_home):
    _require(data_home, "reuters21578/reuters21578.tar.gz")
    return load_reuters_tfidf(data_home)


@pytest.fixture(scope="module")
def omniglot(data_home):
    _require(data_home, "omniglot/omniglot_small1.npz", "omniglot/omniglot_small2.npz")
    return load_omniglot(data_home)


def _check_common(bunch, n_samples, n_features, n_classes):
    assert bunch.data.shape == (n_samples, n_features)
    assert bunch.data.dtype == np.float32
    assert bunch.target.shape == (n_samples,)
    assert bunch.target.dtype == np.int64
    assert len(bunch.target_names) == n_classes
    assert np.array_equal(np.unique(bunch.target), np.arange(n_classes))
    assert isinstance(bunch.DESCR, str) and "IMSAT" in bunch.DESCR


# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------


def test_mnist_all(mnist):
    _check_common(mnist, 70000, 784, 10)
    assert mnist.data.min() == 0.0 and mnist.data.max() == 1.0
    assert mnist.data.mean() == pytest.approx(0.1309, abs=1e-4)
    assert np.bincount(mnist.target[:60000]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.target[60000:]).tolist() == MNIST_TEST_COUNTS


def test_mnist_test_subset_return_X_y(mnist, data_home):
    X, y = load_mnist(data_home, subset="test", return_X_y=True)
    assert X.shape == (10000, 784) and X.dtype == np.float32
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS
    np.testing.assert_array_equal(X, mnist.data[60000:])


# --------------------------------------------------------------------------
# USPS
# --------------------------------------------------------------------------


def test_usps(data_home):
    _require(data_home, "usps/usps.npz")
    bunch = load_usps(data_home)
    _check_common(bunch, 9298, 256, 10)
    assert bunch.data.min() >= 0.0 and bunch.data.max() <= 1.0
    assert np.bincount(bunch.target[:7291]).tolist() == USPS_TRAIN_COUNTS
    assert np.bincount(bunch.target[7291:]).tolist() == USPS_TEST_COUNTS
    X, y = load_usps(data_home, subset="train", return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data[:7291])
    np.testing.assert_array_equal(y, bunch.target[:7291])


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------


def _check_tfidf_rows(data):
    norm = sp.linalg.norm if sp.issparse(data) else np.linalg.norm
    norms = norm(data, axis=1)
    nonzero = norms > 0
    np.testing.assert_allclose(norms[nonzero], 1.0, rtol=1e-5)
    assert data.min() >= 0.0


def test_20newsgroups(newsgroups):
    _check_common(newsgroups, 18846, 2000, 20)
    assert sp.issparse(newsgroups.data) and newsgroups.data.format == "csr"
    assert newsgroups.data.dtype == np.float32
    _check_tfidf_rows(newsgroups.data)
    assert np.bincount(newsgroups.target).tolist() == NEWSGROUPS_COUNTS
    assert newsgroups.target_names[0] == "alt.atheism"
    assert len(set(newsgroups.feature_names)) == 2000
    assert "the" not in set(newsgroups.feature_names)
    assert "TfidfVectorizer(max_features=2000" in newsgroups.DESCR
    assert "stop_words='english'" in newsgroups.DESCR


def test_20newsgroups_dense_subset_return_X_y(newsgroups, data_home):
    X, y = load_20newsgroups_tfidf(
        data_home, subset="test", max_features=300, sparse=False, return_X_y=True
    )
    assert isinstance(X, np.ndarray) and X.shape == (7532, 300)
    assert X.dtype == np.float32 and y.dtype == np.int64
    _check_tfidf_rows(X)
    np.testing.assert_array_equal(y, newsgroups.target[11314:])


def test_reuters(reuters):
    _check_common(reuters, 7077, 2000, 4)
    assert sp.issparse(reuters.data) and reuters.data.format == "csr"
    _check_tfidf_rows(reuters.data)
    assert reuters.target_names.tolist() == ["earn", "acq", "crude", "trade"]
    assert np.bincount(reuters.target).tolist() == [3945, 2362, 408, 362]
    assert reuters.newid.shape == (7077,) and np.all(np.diff(reuters.newid) > 0)
    assert "RCV1" in reuters.DESCR and "earn 3945" in reuters.DESCR


def test_reuters_dense_return_X_y(data_home):
    _require(data_home, "reuters21578/reuters21578.tar.gz")
    X, y = load_reuters_tfidf(
        data_home, n_topics=2, max_features=300, sparse=False, return_X_y=True
    )
    assert isinstance(X, np.ndarray) and X.shape == (6307, 300)
    assert np.bincount(y).tolist() == [3945, 2362]
    with pytest.raises(ValueError, match="n_topics"):
        load_reuters_tfidf(data_home, n_topics=10_000)


# --------------------------------------------------------------------------
# Omniglot
# --------------------------------------------------------------------------


def test_omniglot_union(omniglot):
    _check_common(omniglot, 4840, 28 * 28, 242)
    assert omniglot.images.shape == (4840, 28, 28)
    np.testing.assert_array_equal(omniglot.data, omniglot.images.reshape(4840, -1))
    assert omniglot.data.min() == 0.0 and omniglot.data.max() == 1.0
    assert np.all(np.bincount(omniglot.target) == 20)
    assert sorted(set(omniglot.drawer.tolist())) == list(range(1, 21))
    assert omniglot.target_names[0] == "Balinese/character01"


def test_omniglot_downsampling_preserves_ink(omniglot, data_home):
    bunch = load_omniglot(data_home, image_size=21)
    assert bunch.data.shape == (4840, 441)
    np.testing.assert_array_equal(bunch.target, omniglot.target)
    # Area averaging keeps each image's mean ink, whatever the output size.
    np.testing.assert_allclose(
        bunch.data.mean(axis=1), omniglot.data.mean(axis=1), atol=1e-5
    )


@pytest.mark.parametrize(
    "subset, n_samples, n_classes", [("small1", 2720, 136), ("small2", 3120, 156)]
)
def test_omniglot_single_subset(data_home, subset, n_samples, n_classes):
    _require(data_home, f"omniglot/omniglot_{subset}.npz")
    X, y = load_omniglot(data_home, image_size=21, subsets=subset, return_X_y=True)
    assert X.shape == (n_samples, 21 * 21) and len(np.unique(y)) == n_classes
    # 105 = 21 x 5, so area averaging is the plain mean of 5 x 5 blocks.
    with np.load(data_home / f"omniglot/omniglot_{subset}.npz") as npz:
        blocks = npz["X"].reshape(n_samples, 21, 5, 21, 5).mean(axis=(2, 4))
    np.testing.assert_allclose(X, blocks.reshape(n_samples, -1), atol=1e-6)


def test_area_weights():
    weights = datasets._area_weights(105, 21)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(weights[0, :5], 0.2)
    assert np.count_nonzero(weights[0]) == 5
    fractional = datasets._area_weights(105, 28)
    np.testing.assert_allclose(fractional.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(fractional.sum(axis=0), 28 / 105, rtol=1e-6)


# --------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_cifar10(data_home):
    pytest.importorskip("PIL", reason="Pillow is needed to decode CIFAR-10 JPEGs")
    _require(data_home, "cifar10/cifar10_jpg.tar.gz")
    bunch = load_cifar10(data_home)
    _check_common(bunch, 60000, 3072, 10)
    assert bunch.data.min() >= 0.0 and bunch.data.max() <= 1.0
    assert np.bincount(bunch.target[:50000]).tolist() == [5000] * 10
    assert np.bincount(bunch.target[50000:]).tolist() == [1000] * 10
    # Channel-first layout: the three 1024-blocks carry CIFAR-10's R, G, B means.
    channel_means = bunch.data[:50000].reshape(50000, 3, 1024).mean(axis=(0, 2))
    np.testing.assert_allclose(channel_means, [0.4914, 0.4822, 0.4465], atol=2e-3)
    assert "lossy" in bunch.DESCR.lower() and "ResNet" in bunch.DESCR
    X, y = load_cifar10(data_home, subset="test", return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data[50000:])
    np.testing.assert_array_equal(y, bunch.target[50000:])


# --------------------------------------------------------------------------
# Always run: data home, missing files, argument validation, file parsing
# --------------------------------------------------------------------------


@pytest.mark.parametrize("loader, expected", ALL_LOADERS)
def test_missing_files_raise(tmp_path, loader, expected):
    with pytest.raises(FileNotFoundError) as info:
        loader(tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / expected) in message
    assert DATA_HOME_ENV in message and "data_home" in message


def test_env_var_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path))
    assert get_data_home() == tmp_path
    with pytest.raises(FileNotFoundError, match="usps.npz"):
        load_usps()


def test_get_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home(str(tmp_path)) == tmp_path
    monkeypatch.delenv(DATA_HOME_ENV)
    assert get_data_home() == Path.home() / "imsat_sklearn_data"


@pytest.mark.parametrize(
    "loader, kwargs, argument",
    [
        (load_mnist, {"subset": "validation"}, "subset"),
        (load_usps, {"subset": None}, "subset"),
        (load_cifar10, {"subset": "Train"}, "subset"),
        (load_20newsgroups_tfidf, {"subset": "dev"}, "subset"),
        (load_20newsgroups_tfidf, {"max_features": 0}, "max_features"),
        (load_20newsgroups_tfidf, {"sparse": "yes"}, "sparse"),
        (load_reuters_tfidf, {"n_topics": 0}, "n_topics"),
        (load_reuters_tfidf, {"max_features": 2.5}, "max_features"),
        (load_omniglot, {"image_size": 106}, "image_size"),
        (load_omniglot, {"image_size": True}, "image_size"),
        (load_omniglot, {"subsets": ("small3",)}, "subsets"),
        (load_omniglot, {"subsets": ()}, "subsets"),
    ],
)
def test_invalid_arguments(tmp_path, loader, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        loader(tmp_path, **kwargs)


def _write_idx(path, array, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    header = magic or bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + dims + array.tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    """A tiny MNIST folder: 3 training and 2 test images."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in [("train", 3), ("t10k", 2)]:
        images = rng.integers(0, 256, (n, 28, 28))
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n))
    return tmp_path


def test_mnist_parses_idx(fake_mnist):
    bunch = load_mnist(fake_mnist)
    assert bunch.data.shape == (5, 784) and bunch.data.dtype == np.float32
    assert bunch.target.tolist() == [0, 1, 2, 0, 1]
    raw = np.frombuffer(
        gzip.open(fake_mnist / "mnist/t10k-images-idx3-ubyte.gz").read()[16:], np.uint8
    )
    np.testing.assert_array_equal(bunch.data[3:].ravel(), raw.astype(np.float32) / 255)


def test_mnist_rejects_bad_magic(fake_mnist):
    path = fake_mnist / "mnist/train-labels-idx1-ubyte.gz"
    _write_idx(path, np.arange(3), magic=bytes([0, 0, 0x0D, 1]))
    with pytest.raises(ValueError, match="magic number"):
        load_mnist(fake_mnist)


def test_mnist_rejects_truncated_payload(fake_mnist):
    path = fake_mnist / "mnist/t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "rb") as stream:
        raw = stream.read()
    with gzip.open(path, "wb") as stream:
        stream.write(raw[:-10])
    with pytest.raises(ValueError, match="corrupt"):
        load_mnist(fake_mnist, subset="test")


def test_mnist_rejects_non_gzip(fake_mnist):
    (fake_mnist / "mnist/train-images-idx3-ubyte.gz").write_bytes(b"not gzip data")
    with pytest.raises(ValueError, match="not a valid gzip file"):
        load_mnist(fake_mnist, subset="train")


def test_cifar10_without_pillow(tmp_path, monkeypatch):
    archive = tmp_path / "cifar10" / "cifar10_jpg.tar.gz"
    archive.parent.mkdir()
    archive.touch()
    # A None entry in sys.modules makes "from PIL import Image" raise ImportError.
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        load_cifar10(tmp_path)


# --------------------------------------------------------------------------
# DESCR templates: descr/*.rst inside the package, read when a loader runs
# --------------------------------------------------------------------------

DESCR_TEMPLATES = ["cifar10", "mnist", "omniglot", "reuters", "twenty_newsgroups", "usps"]


def test_every_descr_template_is_shipped_and_used():
    folder = resources.files("imsat_sklearn.datasets.descr")
    shipped = sorted(entry.name[:-4] for entry in folder.iterdir() if entry.name.endswith(".rst"))
    assert shipped == DESCR_TEMPLATES
    sources = "".join(
        (resources.files("imsat_sklearn.datasets") / module).read_text(encoding="utf-8")
        for module in ["_mnist.py", "_usps.py", "_text.py", "_omniglot.py", "_cifar10.py"]
    )
    for name in DESCR_TEMPLATES:
        assert f'"{name}"' in sources, f"no loader reads descr/{name}.rst"


@pytest.mark.parametrize("name", DESCR_TEMPLATES)
def test_descr_template_is_a_titled_rst_text(name):
    text = (resources.files("imsat_sklearn.datasets.descr") / f"{name}.rst").read_text(encoding="utf-8")
    title, underline, blank, *paragraphs = text.splitlines()
    assert title and underline == "-" * len(title) and blank == ""
    assert "Compared with the IMSAT paper" in text and text.rstrip().endswith("Reference: {ref}")


def test_descr_is_read_from_the_template_at_run_time(fake_mnist, monkeypatch):
    read = []

    def fake_read(name):
        read.append(name)
        return "A title\n-\n\nSamples: {counts}.\n"

    monkeypatch.setattr(datasets._base, "_read_descr", fake_read)
    assert load_mnist(fake_mnist).DESCR == "A title\n-------\n\nSamples: 5 (3 train + 2 test).\n"
    assert read == ["mnist"]


def test_usps_descr_fills_every_field(tmp_path):
    folder = tmp_path / "usps"
    folder.mkdir()
    sizes = {"train": 3, "test": 2}
    arrays = {f"X_{split}": np.zeros((n, 256)) for split, n in sizes.items()}
    arrays.update({f"y_{split}": np.arange(n) for split, n in sizes.items()})
    np.savez(folder / "usps.npz", **arrays)
    descr = load_usps(tmp_path).DESCR
    assert descr.startswith("USPS handwritten digits\n-----------------------\n\n")
    assert "5 (3 train + 2 test)" in descr and str(folder / "usps.npz") in descr
    assert "{" not in descr and "arXiv:1702.08720" in descr
