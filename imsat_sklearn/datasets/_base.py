"""The data folder, argument checks and DESCR texts shared by every loader."""

import os
import textwrap
from importlib import resources
from numbers import Integral
from pathlib import Path

DATA_HOME_ENV = "IMSAT_SKLEARN_DATA"
_DEFAULT_DATA_HOME = "~/imsat_sklearn_data"

_SPLITS = {"all": ("train", "test"), "train": ("train",), "test": ("test",)}

_IMSAT_REF = (
    "Hu, Miyato, Tokui, Matsumoto and Sugiyama, 'Learning Discrete "
    "Representations via Information Maximizing Self-Augmented Training', "
    "ICML 2017, arXiv:1702.08720 (Section 4, Table 1)."
)

_DESCR_PACKAGE = "imsat_sklearn.datasets.descr"


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


def _read_descr(name):
    """The DESCR template ``descr/<name>.rst``: a title, then paragraphs with ``{field}`` slots."""
    return (resources.files(_DESCR_PACKAGE) / f"{name}.rst").read_text(encoding="utf-8")


def _describe(name, **fields):
    """Fill the DESCR template ``name``; underline its title and wrap each paragraph.

    The title's underline is drawn again after filling, since a field in the
    title (Reuters' number of topics) changes its length.
    """
    head, *paragraphs = _read_descr(name).format(ref=_IMSAT_REF, **fields).split("\n\n")
    title = head.splitlines()[0]
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
