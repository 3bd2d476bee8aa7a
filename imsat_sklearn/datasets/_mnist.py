"""MNIST, from its four gzip-compressed IDX files."""

import gzip
import math
import zlib

import numpy as np
from sklearn.utils import Bunch

from ._base import _check_subset, _data_files, _describe, _finish, _split_counts

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _read_idx_gz(path, ndim):
    """Read a gzip-compressed IDX file of unsigned bytes with ``ndim`` axes."""
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} is not a valid gzip file: {exc}") from exc
    header = 4 + 4 * ndim
    expected_magic = bytes([0, 0, 0x08, ndim])
    if len(raw) < header or raw[:4] != expected_magic:
        raise ValueError(
            f"{path} is not an IDX file of {ndim}-d unsigned bytes: magic "
            f"number {raw[:4].hex()!r}, expected {expected_magic.hex()!r}."
        )
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    if len(raw) - header != math.prod(shape):
        raise ValueError(
            f"{path} is corrupt: its header announces shape {shape} "
            f"({math.prod(shape)} bytes) but {len(raw) - header} bytes follow."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist(data_home=None, *, subset="all", return_X_y=False):
    """Load MNIST from its four gzip-compressed IDX files.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Files are read from
        ``<data_home>/mnist/``.
    subset : {"all", "train", "test"}, default="all"
        Which split to load. "all" is the 60,000 training images followed by
        the 10,000 test images.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` : ndarray of shape (n_samples, 784), float32 in [0, 1];
        ``target`` : ndarray of shape (n_samples,), int64 in 0..9;
        ``target_names`` : ndarray of shape (10,), the digits 0..9;
        ``DESCR`` : str. n_samples is 70000, 60000 or 10000.
    (data, target) : tuple
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message names the expected path.
    ValueError
        If ``subset`` is invalid, or a file is not a valid gzip IDX file.

    References
    ----------
    .. [1] Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based
       learning applied to document recognition", Proc. IEEE, 1998.
    .. [2] W. Hu et al., "Learning Discrete Representations via Information
       Maximizing Self-Augmented Training", ICML 2017, arXiv:1702.08720,
       Section 4 and Table 1.

    Examples
    --------
    Needs the MNIST files under the data folder (see :func:`get_data_home`):

    >>> from imsat_sklearn.datasets import load_mnist
    >>> X, y = load_mnist(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype, y[:5]  # doctest: +SKIP
    ((70000, 784), dtype('float32'), array([5, 0, 4, 1, 9]))
    """
    splits = _check_subset(subset)
    names = [name for split in splits for name in _MNIST_FILES[split]]
    paths = _data_files(data_home, "mnist", names)
    images, labels, sizes = [], [], {}
    for split, image_path, label_path in zip(splits, paths[::2], paths[1::2]):
        x, y = _read_idx_gz(image_path, 3), _read_idx_gz(label_path, 1)
        if len(x) != len(y):
            raise ValueError(
                f"{image_path} holds {len(x)} images but {label_path} "
                f"holds {len(y)} labels."
            )
        images.append(x.reshape(len(x), -1))
        labels.append(y)
        sizes[split] = len(y)
    data = np.concatenate(images).astype(np.float32)
    data /= 255
    bunch = Bunch(
        data=data,
        target=np.concatenate(labels).astype(np.int64),
        target_names=np.arange(10),
        DESCR=_describe(
            "mnist", folder=paths[0].parent, counts=_split_counts(sizes)
        ),
    )
    return _finish(bunch, return_X_y)
