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

# One module per data set family (_text holds 20 Newsgroups and Reuters, which
# share the tf-idf); each DESCR is the template descr/<name>.rst, filled by
# _base._describe when the loader runs.
from ._base import DATA_HOME_ENV, get_data_home
from ._cifar10 import load_cifar10

# The tests reach these two private names through the package, as they did
# when it was one module.
from ._mnist import _MNIST_FILES, load_mnist
from ._omniglot import _area_weights, load_omniglot
from ._text import load_20newsgroups_tfidf, load_reuters_tfidf
from ._usps import load_usps

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
