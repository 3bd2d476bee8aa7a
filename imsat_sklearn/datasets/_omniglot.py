"""Omniglot's two "background small" subsets, downsampled by area averaging."""

import numpy as np
from sklearn.utils import Bunch

from ._base import _check_int, _data_files, _describe, _finish

_OMNIGLOT_SUBSETS = ("small1", "small2")
_OMNIGLOT_SIDE = 105


def _check_omniglot_subsets(subsets):
    names = (subsets,) if isinstance(subsets, str) else subsets
    try:
        names = tuple(dict.fromkeys(names))
    except TypeError:
        names = ()
    if not names or not set(names) <= set(_OMNIGLOT_SUBSETS):
        raise ValueError(
            f"subsets must be a non-empty sequence of names from "
            f"{_OMNIGLOT_SUBSETS}; got {subsets!r}."
        )
    return names


def _area_weights(n_in, n_out):
    """(n_out, n_in) matrix: the share of each input pixel in each output pixel."""
    edges = np.linspace(0, n_in, n_out + 1)
    starts = np.arange(n_in)
    low = np.maximum(edges[:-1, None], starts)
    high = np.minimum(edges[1:, None], starts + 1)
    overlap = np.clip(high - low, 0, None)
    return (overlap * (n_out / n_in)).astype(np.float32)


def _area_downsample(images, size):
    weights = _area_weights(images.shape[-1], size)
    out = weights @ images.astype(np.float32) @ weights.T
    # Float rounding can push a fully inked pixel a hair above 1.
    return np.clip(out, 0, 1, out=out)


def _read_omniglot(paths):
    """Return images, character names and drawers, each image once."""
    images, chars, drawers, seen = [], [], [], set()
    for path in paths:
        with np.load(path, allow_pickle=False) as npz:
            # Drop the "images_background_smallN/" prefix so that images
            # shared by both subsets get the same key.
            keys = [name.split("/", 1)[1] for name in npz["file_names"]]
            keep = [i for i, key in enumerate(keys) if key not in seen]
            seen.update(keys)
            images.append(npz["X"][keep])
            chars.append(npz["char_names"][npz["y"][keep]])
            drawers.append(npz["drawer"][keep])
    return np.concatenate(images), np.concatenate(chars), np.concatenate(drawers)


def load_omniglot(
    data_home=None, *, image_size=28, subsets=("small1", "small2"), return_X_y=False
):
    """Load the Omniglot "background small" subsets as downsampled images.

    With both subsets (the default) the union is 4,840 images of 242
    characters (20 each); the Greek and Latin characters shared by the two
    subsets are counted once.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Reads
        ``<data_home>/omniglot/omniglot_<subset>.npz``.
    image_size : int, default=28
        Side of the output images, 1 to 105, reached from 105 x 105 by area
        averaging. The IMSAT paper used 21 (441 dimensions).
    subsets : str or sequence of {"small1", "small2"}, default=("small1", "small2")
        Subsets to load; small1 alone is 2,720 images of 136 characters,
        small2 alone 3,120 images of 156 characters.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` : ndarray of shape (n_samples, image_size ** 2), float32 in
        [0, 1], 1 = ink;
        ``images`` : ndarray of shape (n_samples, image_size, image_size),
        float32, the same pixels;
        ``target`` : ndarray of shape (n_samples,), int64 in 0..K-1;
        ``target_names`` : ndarray of shape (K,), sorted
        "<alphabet>/<characterNN>" names;
        ``drawer`` : ndarray of shape (n_samples,), int64 drawer 1..20;
        ``DESCR`` : str.
    (data, target) : tuple
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If a subset file is missing; the message names the expected path.
    ValueError
        If ``image_size`` or ``subsets`` is invalid.

    References
    ----------
    .. [1] B. M. Lake, R. Salakhutdinov and J. B. Tenenbaum, "Human-level
       concept learning through probabilistic program induction", Science,
       350(6266), 2015.
    .. [2] W. Hu et al., "Learning Discrete Representations via Information
       Maximizing Self-Augmented Training", ICML 2017, arXiv:1702.08720,
       Section 4 and Table 1.

    Examples
    --------
    Needs the Omniglot files under the data folder (see
    :func:`get_data_home`):

    >>> from imsat_sklearn.datasets import load_omniglot
    >>> omniglot = load_omniglot(image_size=21)  # doctest: +SKIP
    >>> omniglot.data.shape, omniglot.images.shape  # doctest: +SKIP
    ((4840, 441), (4840, 21, 21))
    >>> str(omniglot.target_names[0])  # doctest: +SKIP
    'Balinese/character01'
    """
    image_size = _check_int(image_size, "image_size", 1, _OMNIGLOT_SIDE)
    subsets = _check_omniglot_subsets(subsets)
    names = [f"omniglot_{subset}.npz" for subset in subsets]
    paths = _data_files(data_home, "omniglot", names)
    raw, chars, drawers = _read_omniglot(paths)
    target_names, target = np.unique(chars, return_inverse=True)
    images = _area_downsample(raw, image_size)
    descr = _describe(
        "omniglot",
        subsets=", ".join(subsets),
        paths=", ".join(map(str, paths)),
        n_samples=len(images),
        n_classes=len(target_names),
        size=image_size,
        n_features=image_size**2,
    )
    bunch = Bunch(
        data=images.reshape(len(images), -1),
        images=images,
        target=target.astype(np.int64),
        target_names=target_names,
        drawer=drawers.astype(np.int64),
        DESCR=descr,
    )
    return _finish(bunch, return_X_y)
