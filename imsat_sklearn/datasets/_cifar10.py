"""CIFAR-10, from JPEG re-encodings of its images."""

import io
import tarfile
from collections import Counter

import numpy as np
from sklearn.utils import Bunch

from ._base import _check_subset, _data_files, _describe, _finish, _split_counts

_CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _import_pillow():
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "load_cifar10 decodes JPEG files and needs Pillow: "
            "pip install pillow"
        ) from exc
    return Image


def _read_cifar10_jpegs(path, splits, image_module):
    """Return uint8 images (n, 32, 32, 3), labels and per-split counts.

    Images are sorted by split (in the order of ``splits``), class and file.
    """
    records = []
    with tarfile.open(path, "r:gz") as tar:
        # Stream in stored order: seeking back in a gzip stream is very slow.
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[0] not in splits:
                continue
            split, class_name, file_name = parts
            label = _CIFAR10_CLASSES.index(class_name)
            with image_module.open(io.BytesIO(tar.extractfile(member).read())) as img:
                pixels = np.asarray(img.convert("RGB"))
            key = (splits.index(split), label, len(file_name), file_name)
            records.append((key, pixels, label))
    records.sort(key=lambda record: record[0])
    images = np.stack([record[1] for record in records])
    labels = np.array([record[2] for record in records], dtype=np.int64)
    split_of = [splits[record[0][0]] for record in records]
    return images, labels, Counter(split_of)


def load_cifar10(data_home=None, *, subset="all", return_X_y=False):
    """Load CIFAR-10 from JPEG re-encodings as raw pixels.

    Decoding all 60,000 JPEG files takes 10 to 30 seconds.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Reads
        ``<data_home>/cifar10/cifar10_jpg.tar.gz``.
    subset : {"all", "train", "test"}, default="all"
        Which split to load. "all" is the 50,000 training images followed by
        the 10,000 test images.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` : ndarray of shape (n_samples, 3072), float32 in [0, 1],
        channel-first (3 x 32 x 32) flattening as in CIFAR-10;
        ``target`` : ndarray of shape (n_samples,), int64 in 0..9;
        ``target_names`` : ndarray of shape (10,), the class names;
        ``DESCR`` : str. n_samples is 60000, 50000 or 10000.
    (data, target) : tuple
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If the archive is missing; the message names the expected path.
    ImportError
        If Pillow is not installed (``pip install pillow``).
    ValueError
        If ``subset`` is invalid.

    References
    ----------
    .. [1] A. Krizhevsky, "Learning multiple layers of features from tiny
       images", technical report, 2009.
    .. [2] W. Hu et al., "Learning Discrete Representations via Information
       Maximizing Self-Augmented Training", ICML 2017, arXiv:1702.08720,
       Section 4 and Table 1.

    Examples
    --------
    Needs the CIFAR-10 archive under the data folder (see
    :func:`get_data_home`):

    >>> from imsat_sklearn.datasets import load_cifar10
    >>> X, y = load_cifar10(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((10000, 3072), dtype('float32'))
    """
    splits = _check_subset(subset)
    (path,) = _data_files(data_home, "cifar10", ["cifar10_jpg.tar.gz"])
    image_module = _import_pillow()
    images, target, sizes = _read_cifar10_jpegs(path, splits, image_module)
    data = images.transpose(0, 3, 1, 2).reshape(len(images), -1).astype(np.float32)
    data /= 255
    bunch = Bunch(
        data=data,
        target=target,
        target_names=np.array(_CIFAR10_CLASSES),
        DESCR=_describe(
            "cifar10",
            path=path,
            counts=_split_counts({split: sizes[split] for split in splits}),
            classes=_CIFAR10_CLASSES,
        ),
    )
    return _finish(bunch, return_X_y)
