"""Command line of imsat_sklearn: ``imsat-sklearn`` or ``python -m imsat_sklearn``.

``cluster`` fits :class:`IMSATClusterer` and scikit-learn's ``KMeans`` on a
benchmark data set and prints their clustering accuracy, NMI, ARI and fit
time side by side. The default data set (scikit-learn's bundled digits)
needs no files, so the command runs on a fresh machine. The paper's
clustering table is reproduced by ``benchmarks/reproduce_clustering.py``, a
script of the repository rather than a command of the installed package.
"""

import argparse
import os
import sys
import textwrap
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from ._cluster import IMSATClusterer
from ._device import resolve_device
from .datasets import DATA_HOME_ENV, load_mnist
from .metrics import clustering_accuracy

DESCRIPTION = """\
IMSAT (Information Maximizing Self-Augmented Training; Hu, Miyato, Tokui,
Matsumoto and Sugiyama, ICML 2017) trains a neural network without labels to
map each sample to one of K clusters, or to a binary code. It maximises the
mutual information between the samples and the network's outputs, so that
outputs are confident and evenly used, while keeping the output of a slightly
perturbed sample equal to that of the sample itself.

imsat_sklearn provides it as scikit-learn estimators (IMSATClusterer,
IMSATHasher). This command fits them on benchmark data sets and prints
clustering scores; run a command with --help for its options."""

EPILOG_TEMPLATE = """\
examples:
  fit IMSAT and K-means on scikit-learn's digits (no files needed):
    {prog} cluster
  the same on the CPU, printing one line per epoch:
    {prog} cluster --device cpu -v
  all 70,000 MNIST images, read from the files in DIR/mnist/:
    {prog} cluster --dataset mnist --data-home DIR
  the paper's clustering table on USPS, three seeds per method (a script of
  the repository, run from a clone; not a command of the package):
    python benchmarks/reproduce_clustering.py --datasets usps --seeds 3"""

CLUSTER_DESCRIPTION = """\
Fit IMSATClusterer on a data set, fit K-means (scikit-learn's KMeans with
n_init=10) on the same data, and print a table of both: clustering accuracy
(ACC, under the best one-to-one matching of clusters to classes), normalised
mutual information (NMI), adjusted Rand index (ARI) and fit time. The labels
only score the result; neither method sees them. The device the IMSAT fit ran
on is printed too.

Options left unset (--max-iter, --n-init, --hidden-layer-sizes) take the
estimator's own defaults, given in parentheses: training stops when the
cluster labels settle, at most --max-iter epochs, and the network is sized
from the number of samples ("auto": 128 units per layer for the digits,
1200 from 24,000 samples up)."""

# Where the loaders look for each data set's files (see imsat_sklearn.datasets).
DATA_LAYOUT = {
    "mnist": "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz",
    "usps": "usps.npz",
    "20newsgroups": "20news-bydate.tar.gz",
    "reuters21578": "reuters21578.tar.gz",
    "omniglot": "omniglot_small1.npz, omniglot_small2.npz",
    "cifar10": "cifar10_jpg.tar.gz",
}

DATA_HOME_HELP = (
    f"folder holding one sub-folder per data set (mnist/, usps/, ...); "
    f"when unset, the {DATA_HOME_ENV} environment variable, else ~/imsat_sklearn_data"
)

class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the line breaks of descriptions and epilogs; append every option's default.

    Like ``argparse.ArgumentDefaultsHelpFormatter``, but a list is shown as
    its items, and options whose default is None or False (unset flags,
    options passed on only when given) say so in their own help text.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "(default:" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or not action.option_strings
        ):
            return text
        return f"{text} (default: {_shown(default).replace('%', '%%')})"

    def _split_lines(self, text, width):
        # Never break a word at its hyphen ("scikit-\nlearn", "--data-\nhome").
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def prog_name(argv0=None):
    """The program name of the usage line, from ``sys.argv[0]``.

    ``python -m imsat_sklearn`` when run as a module (``argv[0]`` is this
    file, ``__main__.py``), ``imsat-sklearn`` (the console script) otherwise.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    if os.path.basename(argv0 or "") in ("__main__.py", "-m"):
        return "python -m imsat_sklearn"
    return "imsat-sklearn"


def version_string():
    """``imsat-sklearn <version> (torch <version>, scikit-learn <version>)``."""
    from importlib.metadata import PackageNotFoundError, version

    import sklearn
    import torch

    try:
        own = version("imsat-sklearn")
    except PackageNotFoundError:
        from . import __version__ as own
    return f"imsat-sklearn {own} (torch {torch.__version__}, scikit-learn {sklearn.__version__})"


def _load(dataset, data_home):
    if dataset == "digits":
        X, y = load_digits(return_X_y=True)
        # Pixels are 0..16; scale to [0, 1] like the image sets.
        return (X / 16.0).astype(np.float32), y
    return load_mnist(data_home, return_X_y=True)


def _scores(y, labels, seconds):
    return (
        clustering_accuracy(y, labels),
        normalized_mutual_info_score(y, labels),
        adjusted_rand_score(y, labels),
        seconds,
    )


def _cluster(args):
    device = resolve_device(args.device)
    X, y = _load(args.dataset, args.data_home)
    # Only the options given on the command line; the others keep the estimator's defaults.
    given = {
        name: value
        for name, value in [
            ("max_iter", args.max_iter),
            ("n_init", args.n_init),
            ("hidden_layer_sizes", args.hidden_layer_sizes),
        ]
        if value is not None
    }
    if "hidden_layer_sizes" in given:
        given["hidden_layer_sizes"] = tuple(given["hidden_layer_sizes"])
    model = IMSATClusterer(
        n_clusters=args.n_clusters,
        device=args.device,
        random_state=args.random_state,
        verbose=args.verbose,
        **given,
    )
    params = model.get_params()
    print(
        f"{args.dataset}: {X.shape[0]} samples x {X.shape[1]} features, {args.n_clusters} clusters, "
        f"random_state={args.random_state}"
    )
    print(f"device: {device}" + (f" (--device {args.device})" if args.device != str(device) else ""))
    print(
        f"IMSATClusterer: hidden_layer_sizes={params['hidden_layer_sizes']}, "
        f"max_iter={params['max_iter']}, n_init={params['n_init']}",
        flush=True,
    )

    started = time.perf_counter()
    labels = model.fit_predict(X)
    rows = [(f"IMSAT ({model.n_iter_} epochs)", _scores(y, labels, time.perf_counter() - started))]

    kmeans = KMeans(args.n_clusters, n_init=10, random_state=args.random_state)
    started = time.perf_counter()
    labels = kmeans.fit_predict(X)
    rows.append(("K-means (n_init=10)", _scores(y, labels, time.perf_counter() - started)))

    width = max(len(name) for name, _ in rows)
    print()
    print(f"{'method':<{width}}  {'ACC':>6}  {'NMI':>6}  {'ARI':>6}  {'fit time':>9}")
    for name, (acc, nmi, ari, seconds) in rows:
        print(f"{name:<{width}}  {acc:6.4f}  {nmi:6.4f}  {ari:6.4f}  {seconds:7.1f} s")


def _sizes(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers; got {text}")
    return value


def _n_init(text):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a positive integer; got {text!r}")
    return value


def _shown(default):
    """A default as a user types it: sequences space-separated, anything else as is."""
    return " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)


def build_parser(prog=None):
    """Return the ``argparse`` parser of the command line.

    Parameters
    ----------
    prog : str, default=None
        Program name shown in the usage line; None derives it from
        ``sys.argv[0]`` (see :func:`prog_name`).

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with the subcommand ``cluster``.
    """
    prog = prog or prog_name()
    defaults = IMSATClusterer().get_params()
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG_TEMPLATE.format(prog=prog),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=version_string(), help="print the version and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")

    cluster = commands.add_parser(
        "cluster",
        help="fit IMSAT and K-means on a data set and print their ACC, NMI, ARI and fit time",
        description=CLUSTER_DESCRIPTION,
        formatter_class=_HelpFormatter,
    )
    cluster.add_argument(
        "--dataset",
        choices=["digits", "mnist"],
        default="digits",
        help="digits: scikit-learn's bundled 1,797 8x8 images, no files needed; mnist: all 70,000 "
        "MNIST images, read from the four IDX files (*-ubyte.gz) in DATA_HOME/mnist/",
    )
    cluster.add_argument("--data-home", metavar="DATA_HOME", default=None, help=DATA_HOME_HELP)
    cluster.add_argument(
        "--n-clusters", type=int, default=10, metavar="K", help="number of clusters, for both methods"
    )
    cluster.add_argument(
        "--max-iter",
        type=int,
        default=None,
        metavar="N",
        help=f"most IMSAT training epochs; fewer once training has converged "
        f"(default: the estimator's, {defaults['max_iter']})",
    )
    cluster.add_argument(
        "--n-init",
        type=_n_init,
        default=None,
        metavar="{N,auto}",
        help="IMSAT trainings from different initialisations, or auto (5 below 5,000 samples; "
        "from there 3 that race for 2,000 updates, the kept one training on); from 3 trainings "
        "the one whose clusters agree most with the others' is kept, "
        f"with 2 the one with the higher label-free score (default: the estimator's, {defaults['n_init']})",
    )
    cluster.add_argument(
        "--hidden-layer-sizes",
        type=_sizes,
        nargs="*",
        default=None,
        metavar="UNITS",
        help="widths of the hidden layers of the IMSAT network; given with no value, a linear model "
        f"(default: the estimator's, {_shown(defaults['hidden_layer_sizes'])})",
    )
    cluster.add_argument(
        "--device",
        default="auto",
        help="device of the IMSAT fit: auto (the first CUDA GPU when available, else the CPU), "
        "cpu, cuda or cuda:N",
    )
    cluster.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of both fits (IMSAT's weights, minibatches and perturbations; K-means' centres)",
    )
    cluster.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="print one line per IMSAT epoch (loss, its parts, elapsed time); repeat for more",
    )
    cluster.set_defaults(run=_cluster)
    return parser


def _missing_data_message(error):
    """The loader's message, then where the command looks for the files and how they are laid out."""
    text = str(error)
    folders = [folder for folder in DATA_LAYOUT if f"{os.sep}{folder}{os.sep}" in text] or list(DATA_LAYOUT)
    layout = "\n".join(f"  DATA_HOME/{folder + '/':<14} {DATA_LAYOUT[folder]}" for folder in folders)
    return (
        f"error: {text}\n"
        f"Nothing is downloaded. Set the {DATA_HOME_ENV} environment variable, or pass "
        f"--data-home, to a folder DATA_HOME laid out as:\n{layout}\n"
        "The digits data set needs no files."
    )


def main(argv=None):
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 when a data set's files are missing or an option
        value is invalid (with a message on standard error, no traceback).
    """
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except FileNotFoundError as error:
        print(_missing_data_message(error), file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
