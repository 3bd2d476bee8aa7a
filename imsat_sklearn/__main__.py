"""Command line: ``python -m imsat_sklearn cluster|reproduce [options]``.

``cluster`` fits :class:`IMSATClusterer` on a benchmark data set and prints
clustering accuracy, NMI, ARI and fit time. The default data set
(scikit-learn's bundled digits) needs no files, so the command runs on a
fresh machine. ``reproduce`` runs the paper's clustering table on our data
sets (the code of ``benchmarks/reproduce_clustering.py``).
"""

import argparse
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from . import _reproduce
from ._cluster import IMSATClusterer
from .datasets import load_mnist
from .metrics import clustering_accuracy


def _load(dataset, data_home):
    if dataset == "digits":
        X, y = load_digits(return_X_y=True)
        # Pixels are 0..16; scale to [0, 1] like the image sets.
        return (X / 16.0).astype(np.float32), y
    return load_mnist(data_home, return_X_y=True)


def _cluster(args):
    X, y = _load(args.dataset, args.data_home)
    model = IMSATClusterer(
        n_clusters=args.n_clusters,
        max_iter=args.max_iter,
        min_updates=args.min_updates,
        n_init=args.n_init,
        device=args.device,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    print(f"IMSAT clustering of {args.dataset}: {X.shape[0]} samples x {X.shape[1]} features")
    started = time.perf_counter()
    labels = model.fit_predict(X)
    seconds = time.perf_counter() - started
    print(f"ACC  {clustering_accuracy(y, labels):.4f}")
    print(f"NMI  {normalized_mutual_info_score(y, labels):.4f}")
    print(f"ARI  {adjusted_rand_score(y, labels):.4f}")
    print(f"fit time  {seconds:.1f} s ({model.n_iter_} epochs, device {args.device})")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m imsat_sklearn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cluster = commands.add_parser("cluster", help="fit IMSATClusterer and print ACC, NMI, ARI, fit time")
    cluster.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    cluster.add_argument("--data-home", default=None, help="data folder (default: $IMSAT_SKLEARN_DATA)")
    cluster.add_argument("--n-clusters", type=int, default=10)
    cluster.add_argument("--max-iter", type=int, default=50, help="epochs")
    cluster.add_argument("--min-updates", type=int, default=2000, help="minimum parameter updates")
    cluster.add_argument(
        "--n-init", type=int, default=1, help="trainings to choose from (the estimator's default is 3)"
    )
    cluster.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    cluster.add_argument("--random-state", type=int, default=0)
    cluster.add_argument("-v", "--verbose", action="count", default=0)
    cluster.set_defaults(run=_cluster)
    reproduce = commands.add_parser(
        "reproduce", help="the paper's clustering table (ACC, NMI over seeds) on our data sets"
    )
    _reproduce.add_arguments(reproduce)
    reproduce.set_defaults(run=_reproduce.main)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
