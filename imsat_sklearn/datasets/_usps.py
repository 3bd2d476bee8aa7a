"""USPS, from a NumPy archive of the 16 x 16 digits."""

import numpy as np
from sklearn.utils import Bunch

from ._base import _check_subset, _data_files, _describe, _finish, _split_counts


def load_usps(data_home=None, *, subset="all", return_X_y=False):
    """Load the USPS 16 x 16 handwritten digits.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Reads
        ``<data_home>/usps/usps.npz``.
    subset : {"all", "train", "test"}, default="all"
        Which split to load. "all" is the 7,291 training images followed by
        the 2,007 test images.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` : ndarray of shape (n_samples, 256), float32 in [0, 1];
        ``target`` : ndarray of shape (n_samples,), int64 in 0..9;
        ``target_names`` : ndarray of shape (10,), the digits 0..9;
        ``DESCR`` : str. n_samples is 9298, 7291 or 2007.
    (data, target) : tuple
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If ``usps.npz`` is missing; the message names the expected path.
    ValueError
        If ``subset`` is invalid.

    References
    ----------
    .. [1] J. J. Hull, "A database for handwritten text recognition
       research", IEEE TPAMI, 1994.
    .. [2] W. Hu et al., "Learning Discrete Representations via Information
       Maximizing Self-Augmented Training", ICML 2017, arXiv:1702.08720,
       Section 4 and Table 1.

    Examples
    --------
    Needs ``usps/usps.npz`` under the data folder (see :func:`get_data_home`):

    >>> from imsat_sklearn.datasets import load_usps
    >>> X, y = load_usps(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((2007, 256), dtype('float32'))
    """
    splits = _check_subset(subset)
    (path,) = _data_files(data_home, "usps", ["usps.npz"])
    with np.load(path, allow_pickle=False) as npz:
        data = [npz[f"X_{split}"] for split in splits]
        target = [npz[f"y_{split}"] for split in splits]
    sizes = {split: len(y) for split, y in zip(splits, target)}
    bunch = Bunch(
        data=np.concatenate(data).astype(np.float32),
        target=np.concatenate(target).astype(np.int64),
        target_names=np.arange(10),
        DESCR=_describe("usps", path=path, counts=_split_counts(sizes)),
    )
    return _finish(bunch, return_X_y)
