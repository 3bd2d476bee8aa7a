"""Loaders for the IMSAT benchmark datasets, read from local files.

Nothing is downloaded. Every loader reads from a data folder laid out as::

    <data_home>/mnist/         train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
                               t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz
    <data_home>/usps/          usps.npz
    <data_home>/20newsgroups/  20news-bydate.tar.gz
    <data_home>/reuters21578/  reuters21578.tar.gz
    <data_home>/omniglot/      omniglot_small1.npz, omniglot_small2.npz
    <data_home>/cifar10/       cifar10_jpg.tar.gz

``data_home`` is the loader argument, else the ``IMSAT_SKLEARN_DATA``
environment variable, else ``~/imsat_sklearn_data`` (see
:func:`get_data_home`). Each loader returns a :class:`sklearn.utils.Bunch`
with ``data`` (float32), ``target`` (int64), ``target_names`` and ``DESCR``,
or ``(data, target)`` when ``return_X_y=True``.

The data sets are those of the IMSAT paper's benchmarks [1]_ where they are
available; each ``DESCR`` says how it differs from the paper's version.

References
----------
.. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama, "Learning
   Discrete Representations via Information Maximizing Self-Augmented
   Training", ICML 2017, arXiv:1702.08720, Section 4 and Table 1.
"""

import gzip
import html
import io
import math
import os
import re
import tarfile
import textwrap
import zlib
from collections import Counter
from numbers import Integral
from pathlib import Path

import numpy as np
from scipy.sparse import issparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils import Bunch

__all__ = [
    "DATA_HOME_ENV",
    "get_data_home",
    "load_mnist",
    "load_usps",
    "load_20newsgroups_tfidf",
    "load_reuters_tfidf",
    "load_omniglot",
    "load_cifar10",
]

DATA_HOME_ENV = "IMSAT_SKLEARN_DATA"
_DEFAULT_DATA_HOME = "~/imsat_sklearn_data"

_SPLITS = {"all": ("train", "test"), "train": ("train",), "test": ("test",)}

_IMSAT_REF = (
    "Hu, Miyato, Tokui, Matsumoto and Sugiyama, 'Learning Discrete "
    "Representations via Information Maximizing Self-Augmented Training', "
    "ICML 2017, arXiv:1702.08720 (Section 4, Table 1)."
)


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def get_data_home(data_home=None):
    """Resolve the folder the dataset loaders read from.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding one sub-folder per dataset (``mnist/``, ``usps/``,
        ``20newsgroups/``, ``reuters21578/``, ``omniglot/``, ``cifar10/``).
        When None, the ``IMSAT_SKLEARN_DATA`` environment variable is used,
        and when that is unset or empty, ``~/imsat_sklearn_data``.

    Returns
    -------
    data_home : pathlib.Path
        The resolved folder, with ``~`` expanded. It is not created and
        need not exist.

    Examples
    --------
    >>> from imsat_sklearn.datasets import get_data_home
    >>> get_data_home("/srv/imsat_data").as_posix()
    '/srv/imsat_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or _DEFAULT_DATA_HOME
    return Path(data_home).expanduser()


def _data_files(data_home, folder, names):
    """Return the paths of the dataset files, or say exactly which are missing."""
    home = get_data_home(data_home)
    paths = [home / folder / name for name in names]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"Dataset file(s) not found: {', '.join(missing)}. Pass the "
            f"data_home argument, or set the {DATA_HOME_ENV} environment "
            f"variable, to a folder holding '{folder}/' with these files "
            f"(data_home currently resolves to '{home}')."
        )
    return paths


def _check_subset(subset):
    if not isinstance(subset, str) or subset not in _SPLITS:
        raise ValueError(
            f"subset must be one of {sorted(_SPLITS)}; got {subset!r}."
        )
    return _SPLITS[subset]


def _check_int(value, name, low, high=None):
    bad_type = not isinstance(value, Integral) or isinstance(value, bool)
    if bad_type or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {bounds}; got {value!r}.")
    return int(value)


def _split_counts(sizes):
    """Describe per-split sizes, e.g. '70000 (60000 train + 10000 test)'."""
    parts = " + ".join(f"{n} {split}" for split, n in sizes.items())
    return f"{sum(sizes.values())} ({parts})"


def _describe(template, **fields):
    """Fill a DESCR template; underline its title and wrap each paragraph."""
    title, *paragraphs = template.format(ref=_IMSAT_REF, **fields).split("\n\n")
    body = "\n\n".join(
        textwrap.fill(
            " ".join(paragraph.split()),
            width=79,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for paragraph in paragraphs
    )
    return f"{title}\n{'-' * len(title)}\n\n{body}\n"


def _finish(bunch, return_X_y):
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


# --------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

_MNIST_DESCR = """\
MNIST handwritten digits

Source: the four original IDX files of LeCun, Cortes and Burges (byte-identical
to the files from yann.lecun.com, stored gzip-compressed), read from
{folder}.

Samples: {counts}. Features: 784 = 28 x 28 grey pixels, row-major.

Classes: 10 digits (target 0..9).

Preprocessing: pixel / 255, float32 in [0, 1]. Order: training file, then test
file, each in file order (not shuffled, not sorted by label).

Licence: copyright Y. LeCun and C. Cortes; commonly distributed under
CC BY-SA 3.0.

Compared with the IMSAT paper: the same 70,000 images of 784 dimensions. The
authors' code scales pixels to [-1, 1] (x / 128 - 1) and orders each split by
label, so a perturbation radius taken from their files must be rescaled
(multiply by 128 / 255) for these [0, 1] pixels.

Reference: {ref}
"""


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
            _MNIST_DESCR, folder=paths[0].parent, counts=_split_counts(sizes)
        ),
    )
    return _finish(bunch, return_X_y)


# --------------------------------------------------------------------------
# USPS
# --------------------------------------------------------------------------

_USPS_DESCR = """\
USPS handwritten digits

Source: the widely shared 'usps.h5' (groups train/test, float32 16 x 16
images in [0, 1]), converted to {path} with numpy.

Samples: {counts}. Features: 256 = 16 x 16 grey pixels, row-major.

Classes: 10 digits (target 0..9).

Preprocessing: none beyond the file's own scaling to [0, 1]; float32. Order:
training set, then test set, in file order.

Licence: none stated for the file or for the original USPS data.

Compared with the IMSAT paper: the paper does not evaluate on USPS; it is
provided as a small digit benchmark of the same kind as MNIST.

Reference: {ref}
"""


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
        DESCR=_describe(_USPS_DESCR, path=path, counts=_split_counts(sizes)),
    )
    return _finish(bunch, return_X_y)


# --------------------------------------------------------------------------
# Text: tf-idf shared by 20 Newsgroups and Reuters
# --------------------------------------------------------------------------

# Words only (two or more letters, no digits or underscores), so that the
# 2,000 features are "the most frequent words" rather than numbers.
_TFIDF_SETTINGS = {
    "lowercase": True,
    "token_pattern": r"(?u)\b[^\W\d_]{2,}\b",
    "stop_words": "english",
    "sublinear_tf": False,
    "use_idf": True,
    "smooth_idf": True,
    "norm": "l2",
    "dtype": np.float32,
}


def _tfidf_description(max_features):
    settings = {"max_features": max_features, **_TFIDF_SETTINGS}
    args = ", ".join(
        f"{key}={f'np.{value.__name__}' if isinstance(value, type) else repr(value)}"
        for key, value in settings.items()
    )
    return (
        f"sklearn TfidfVectorizer({args}), fitted on the returned documents: "
        "raw term counts of the max_features words most frequent over the "
        "corpus (English stop words removed), times the smoothed idf "
        "log((1 + n) / (1 + df)) + 1, rows L2-normalised."
    )


def _tfidf(texts, max_features, sparse):
    vectorizer = TfidfVectorizer(max_features=max_features, **_TFIDF_SETTINGS)
    data = vectorizer.fit_transform(texts).tocsr()
    if not sparse:
        data = data.toarray()
    return data, vectorizer.get_feature_names_out()


def _count_empty_rows(data):
    if issparse(data):
        return int(np.sum(data.getnnz(axis=1) == 0))
    return int(np.sum(~data.any(axis=1)))


def _check_text_args(max_features, sparse):
    if not isinstance(sparse, bool):
        raise ValueError(f"sparse must be True or False; got {sparse!r}.")
    return _check_int(max_features, "max_features", 1)


# --------------------------------------------------------------------------
# 20 Newsgroups
# --------------------------------------------------------------------------

_20NG_DESCR = """\
20 Newsgroups ("bydate" version), tf-idf

Source: {path}, one latin-1 file per post, folders
20news-bydate-train/<group>/ and 20news-bydate-test/<group>/ (K. Lang's
collection, "bydate" split by J. Rennie: duplicates and some headers removed).

Samples: {counts} posts. Classes: 20 newsgroups, target = index in sorted
group names. Features: {n_features} tf-idf words.

Preprocessing: the whole post (remaining headers included, as in
scikit-learn's fetch_20newsgroups with remove=()), decoded as latin-1, then
{tfidf} {n_empty} documents have no vocabulary word and are all-zero rows.

Order: training posts, then test posts; within each, by group name, then by
numeric file name.

Licence: none stated (Usenet posts); freely distributed for research.

Compared with the IMSAT paper: the paper also uses tf-idf of the 2,000 most
frequent words of 20 Newsgroups, but its tokenisation, stop list and exact
document set are not specified, so features and scores are not identical.

Reference: {ref}
"""


def _read_20newsgroups(path, splits):
    """Return (texts, groups, split of each post), in a deterministic order."""
    rank = {f"20news-bydate-{split}": i for i, split in enumerate(splits)}
    posts = []
    with tarfile.open(path, "r:gz") as tar:
        # Stream in stored order: seeking back in a gzip stream is very slow.
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[0] not in rank:
                continue
            text = tar.extractfile(member).read().decode("latin-1")
            posts.append((rank[parts[0]], parts[1], int(parts[2]), text))
    posts.sort(key=lambda post: post[:3])
    splits_of_posts = [splits[post[0]] for post in posts]
    return [post[3] for post in posts], [post[1] for post in posts], splits_of_posts


def load_20newsgroups_tfidf(
    data_home=None, *, subset="all", max_features=2000, sparse=True, return_X_y=False
):
    """Load 20 Newsgroups as tf-idf vectors of the most frequent words.

    The tf-idf is computed at every call (nothing is cached to disk) on the
    documents of the requested subset; this takes several seconds.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Reads
        ``<data_home>/20newsgroups/20news-bydate.tar.gz``.
    subset : {"all", "train", "test"}, default="all"
        Which split to load. "all" is the 11,314 training posts followed by
        the 7,532 test posts. The vocabulary and idf are fitted on the
        returned documents only.
    max_features : int, default=2000
        Number of words kept: the most frequent over the corpus.
    sparse : bool, default=True
        If True, ``data`` is a scipy.sparse CSR matrix; otherwise a dense
        ndarray.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` : CSR matrix or ndarray of shape (n_samples, max_features),
        float32, rows of unit L2 norm (or all-zero);
        ``target`` : ndarray of shape (n_samples,), int64 in 0..19;
        ``target_names`` : ndarray of shape (20,), sorted group names;
        ``feature_names`` : ndarray of shape (max_features,), the words;
        ``DESCR`` : str, including the exact TfidfVectorizer settings.
        n_samples is 18846, 11314 or 7532.
    (data, target) : tuple
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If the archive is missing; the message names the expected path.
    ValueError
        If ``subset``, ``max_features`` or ``sparse`` is invalid.

    References
    ----------
    .. [1] K. Lang, "NewsWeeder: learning to filter netnews", ICML 1995.
    .. [2] W. Hu et al., "Learning Discrete Representations via Information
       Maximizing Self-Augmented Training", ICML 2017, arXiv:1702.08720,
       Section 4 and Table 1.

    Examples
    --------
    Needs the 20 Newsgroups archive under the data folder (see
    :func:`get_data_home`). The IMSAT estimators take the sparse matrix as
    it is and densify one minibatch at a time:

    >>> from imsat_sklearn.datasets import load_20newsgroups_tfidf
    >>> news = load_20newsgroups_tfidf(subset="train")  # doctest: +SKIP
    >>> news.data.shape, news.feature_names[:3]  # doctest: +SKIP
    ((11314, 2000), array(['ab', 'ability', 'able'], dtype=object))
    >>> from imsat_sklearn import IMSATClusterer
    >>> labels = IMSATClusterer(n_clusters=20).fit_predict(news.data)  # doctest: +SKIP
    """
    splits = _check_subset(subset)
    max_features = _check_text_args(max_features, sparse)
    (path,) = _data_files(data_home, "20newsgroups", ["20news-bydate.tar.gz"])
    texts, groups, post_splits = _read_20newsgroups(path, splits)
    target_names, target = np.unique(groups, return_inverse=True)
    data, feature_names = _tfidf(texts, max_features, sparse)
    descr = _describe(
        _20NG_DESCR,
        path=path,
        counts=_split_counts(Counter(post_splits)),
        n_features=len(feature_names),
        tfidf=_tfidf_description(max_features),
        n_empty=_count_empty_rows(data),
    )
    bunch = Bunch(
        data=data,
        target=target.astype(np.int64),
        target_names=target_names,
        feature_names=feature_names,
        DESCR=descr,
    )
    return _finish(bunch, return_X_y)


# --------------------------------------------------------------------------
# Reuters-21578
# --------------------------------------------------------------------------

_REUTERS_DESCR = """\
Reuters-21578, single-label stories of the {n_topics} most frequent topics, tf-idf

Source: {path}, "Reuters-21578, Distribution 1.0" (22 SGML files, 21,578
newswire stories from 1987).

Selection: stories whose TOPICS element holds exactly one distinct code
({n_single} of the {n_stories} stories; the TOPICS="YES"/"NO" attribute and the
LEWISSPLIT are ignored); among them, those whose code is one of the
{n_topics} codes most frequent in that single-label set.

Samples: {n_samples}. Per topic (target: name, count): {topic_counts}.

Features: {n_features} tf-idf words.

Text: <TITLE> + newline + <BODY>, SGML entities unescaped. Stories of
TYPE="UNPROC" have no <TITLE>/<BODY>, so their whole <TEXT> is used;
TYPE="BRIEF" stories keep only their title (their body is the placeholder
"Blah blah blah.").

Preprocessing: {tfidf} {n_empty} documents have no vocabulary word and are
all-zero rows. Order: NEWID (file order). ``newid`` holds each story's NEWID.

Licence: copyright Reuters Ltd.; Reuters and Carnegie Group allow free
distribution for research purposes only. Cite as "Reuters-21578,
Distribution 1.0".

Compared with the IMSAT paper: the paper (following DEC) uses 10,000
documents of RCV1 labelled by its 4 root categories (CCAT, ECAT, GCAT, MCAT)
with tf-idf of the 2,000 most frequent words. RCV1 is not available here; this
is the closest analogue built from Reuters-21578, with different documents,
fine-grained topics instead of root categories, a different size and a more
unbalanced class distribution, so scores are not comparable with the paper's.

Reference: {ref}
"""


def _element(tag, sgml):
    """Return the content of the first <tag ...>...</tag> in ``sgml``, or ''."""
    match = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}>", sgml, re.S)
    return match.group(1) if match else ""


def _reuters_story(sgml):
    """Return (newid, set of topic codes, title + body text) of one story."""
    newid = int(re.search(r'NEWID="(\d+)"', sgml).group(1))
    topics = set(re.findall(r"<D>(.*?)</D>", _element("TOPICS", sgml)))
    title, body = _element("TITLE", sgml), _element("BODY", sgml)
    if not title and not body:
        body = _element("TEXT", sgml)
    return newid, topics, html.unescape(f"{title}\n{body}")


def _read_reuters(path):
    stories = []
    with tarfile.open(path, "r:gz") as tar:
        # Stream in stored order: seeking back in a gzip stream is very slow.
        for member in tar:
            if not re.fullmatch(r"reut2-\d{3}\.sgm", Path(member.name).name):
                continue
            sgml = tar.extractfile(member).read().decode("latin-1")
            for story in re.findall(r"<REUTERS\b.*?</REUTERS>", sgml, re.S):
                stories.append(_reuters_story(story))
    stories.sort(key=lambda story: story[0])
    return stories


def load_reuters_tfidf(
    data_home=None, *, n_topics=4, max_features=2000, sparse=True, return_X_y=False
):
    """Load a single-label Reuters-21578 subset as tf-idf vectors.

    This is an analogue of the paper's "Reuters" benchmark (10,000 RCV1
    documents in 4 root categories), which is not available offline: the
    Reuters-21578 stories carrying exactly one TOPICS code, restricted to the
    ``n_topics`` most frequent such codes. With the defaults this gives 7,077
    stories: earn 3,945, acq 2,362, crude 408, trade 362. The tf-idf is
    computed at every call (nothing is cached to disk).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Reads
        ``<data_home>/reuters21578/reuters21578.tar.gz``.
    n_topics : int, default=4
        Number of topics (clusters) kept: the most frequent codes among the
        single-label stories.
    max_features : int, default=2000
        Number of words kept: the most frequent over the selected stories.
    sparse : bool, default=True
        If True, ``data`` is a scipy.sparse CSR matrix; otherwise a dense
        ndarray.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` : CSR matrix or ndarray of shape (n_samples, max_features),
        float32, rows of unit L2 norm (or all-zero);
        ``target`` : ndarray of shape (n_samples,), int64 in 0..n_topics-1,
        topics numbered by decreasing frequency;
        ``target_names`` : ndarray of shape (n_topics,), the topic codes;
        ``feature_names`` : ndarray of shape (max_features,), the words;
        ``newid`` : ndarray of shape (n_samples,), int64 story identifiers;
        ``DESCR`` : str, with the selection rule, per-topic counts and the
        exact TfidfVectorizer settings.
    (data, target) : tuple
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If the archive is missing; the message names the expected path.
    ValueError
        If ``n_topics`` (1 up to the number of single-label topics),
        ``max_features`` or ``sparse`` is invalid.

    References
    ----------
    .. [1] D. D. Lewis, "Reuters-21578 text categorization test collection,
       Distribution 1.0", 1997.
    .. [2] W. Hu et al., "Learning Discrete Representations via Information
       Maximizing Self-Augmented Training", ICML 2017, arXiv:1702.08720,
       Section 4 and Table 1.

    Examples
    --------
    Needs the Reuters-21578 archive under the data folder (see
    :func:`get_data_home`):

    >>> from imsat_sklearn.datasets import load_reuters_tfidf
    >>> reuters = load_reuters_tfidf(n_topics=4)  # doctest: +SKIP
    >>> reuters.data.shape, reuters.target_names.tolist()  # doctest: +SKIP
    ((7077, 2000), ['earn', 'acq', 'crude', 'trade'])
    """
    n_topics = _check_int(n_topics, "n_topics", 1)
    max_features = _check_text_args(max_features, sparse)
    (path,) = _data_files(data_home, "reuters21578", ["reuters21578.tar.gz"])
    stories = _read_reuters(path)
    single = [
        (newid, code, text)
        for newid, topics, text in stories
        if len(topics) == 1
        for code in topics
    ]
    frequency = Counter(code for _, code, _ in single)
    if n_topics > len(frequency):
        raise ValueError(
            f"n_topics must be at most {len(frequency)}, the number of "
            f"single-label topics; got {n_topics}."
        )
    ranked = sorted(frequency, key=lambda code: (-frequency[code], code))
    label = {code: i for i, code in enumerate(ranked[:n_topics])}
    kept = [story for story in single if story[1] in label]
    target = np.array([label[code] for _, code, _ in kept], dtype=np.int64)
    data, feature_names = _tfidf([s[2] for s in kept], max_features, sparse)
    target_names = np.array(ranked[:n_topics])
    topic_counts = ", ".join(
        f"{i}: {code} {n}"
        for i, (code, n) in enumerate(zip(target_names, np.bincount(target)))
    )
    descr = _describe(
        _REUTERS_DESCR,
        path=path,
        n_topics=n_topics,
        n_stories=len(stories),
        n_single=len(single),
        n_samples=len(kept),
        topic_counts=topic_counts,
        n_features=len(feature_names),
        tfidf=_tfidf_description(max_features),
        n_empty=_count_empty_rows(data),
    )
    bunch = Bunch(
        data=data,
        target=target,
        target_names=target_names,
        feature_names=feature_names,
        newid=np.array([s[0] for s in kept], dtype=np.int64),
        DESCR=descr,
    )
    return _finish(bunch, return_X_y)


# --------------------------------------------------------------------------
# Omniglot
# --------------------------------------------------------------------------

_OMNIGLOT_SUBSETS = ("small1", "small2")
_OMNIGLOT_SIDE = 105

_OMNIGLOT_DESCR = """\
Omniglot, background subsets {subsets}

Source: images_background_small1.zip and images_background_small2.zip of
Lake, Salakhutdinov and Tenenbaum's Omniglot (github.com/brendenlake/omniglot),
converted to {paths} (uint8 105 x 105, 1 = ink). small1: Balinese,
Early_Aramaic, Greek, Korean, Latin; small2: Greek, Japanese_(katakana),
Latin, Sanskrit, Tagalog; 20 drawers per character.

Samples: {n_samples} images of {n_classes} characters. The Greek and Latin
images appear, identical, in both subsets; each is kept once.

Labels: target = index of "<alphabet>/<characterNN>" in sorted order.

Preprocessing: each 105 x 105 image is downsampled to {size} x {size} by area
averaging (each output pixel is the mean of the input area it covers,
fractional pixels weighted by overlap), giving float32 in [0, 1] with
1 = ink, flattened row-major to {n_features} features; ``images`` keeps the
{size} x {size} form. Order: subsets in the order given, each in file order.

Licence: MIT, Copyright (c) 2015 Brenden Lake.

Compared with the IMSAT paper: its Omniglot benchmark (Table 1) has 40,000
images of 100 characters at 441 = 21 x 21 dimensions, made by augmenting the
20 drawings of each character with random affine transforms. The full
Omniglot is not available here, only the two small background subsets, and
no augmentation is applied, so scores are not comparable with the paper's.
image_size=21 gives the paper's resolution; the default, 28, that of MNIST.

Reference: {ref}
"""


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
        _OMNIGLOT_DESCR,
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


# --------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------

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

_CIFAR10_DESCR = """\
CIFAR-10, JPEG re-encoded, raw pixels

Source: {path}, train/<class>/NNNN.jpg (5,000 per class) and
test/<class>/NNNN.jpg (1,000 per class). These are LOSSY JPEG re-encodings
(quality about 75) of Krizhevsky's CIFAR-10, not the bit-exact images: the
channel means match CIFAR-10 but JPEG smooths the images slightly (pixel std
about 0.245 against 0.247).

Samples: {counts}. Features: 3,072 raw pixels, channel-first as in the
CIFAR-10 binaries (3 x 32 x 32: all red, then green, then blue, each
row-major). Classes: 10, target = index in {classes}.

Preprocessing: decoded with Pillow as RGB, pixel / 255, float32 in [0, 1].

Order: training images, then test images; within each, by class, then by
file name.

Licence: none stated (CIFAR-10 by Krizhevsky, Nair and Hinton has no formal
licence).

Compared with the IMSAT paper: the paper clusters 2,048-dimensional features
of an ImageNet-pretrained ResNet-50, not raw pixels. These are raw pixels of
lossy re-encodings, so clustering numbers are NOT comparable with the paper's.

Reference: {ref}
"""


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
            _CIFAR10_DESCR,
            path=path,
            counts=_split_counts({split: sizes[split] for split in splits}),
            classes=_CIFAR10_CLASSES,
        ),
    )
    return _finish(bunch, return_X_y)
