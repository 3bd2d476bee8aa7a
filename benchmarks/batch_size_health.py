"""How small a minibatch IMSAT tolerates, on the digits (the batch_size rule).

For each batch_size and seed, fits ``IMSATClusterer(n_clusters=10, xi=10, n_init=1)`` or
``IMSATHasher(n_bits=16)`` with ``hidden_layer_sizes=(64,)`` and
``max_iter=30`` on ``load_digits`` (X / 16) and prints, for the clusterer,
the accuracy, the empty clusters and the entropy of the cluster sizes over
log(10); for the hasher, the constant bits, the distinct codes and the
Hamming-ranking mAP of the first 300 samples against the others.
Every warning is silenced: the small sizes are there to warn.

    OMP_NUM_THREADS=1 python benchmarks/batch_size_health.py cluster --sizes 2 3 5 10 20 250 --seeds 0 1
    OMP_NUM_THREADS=1 python benchmarks/batch_size_health.py hash --sizes 4 8 16 32 64 250 --seeds 0
"""

import argparse
import time
import warnings

import numpy as np
from scipy.stats import entropy
from sklearn.datasets import load_digits

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn.metrics import clustering_accuracy, hamming_ranking_map


def cluster_row(X, y, batch_size, seed):
    model = IMSATClusterer(
        n_clusters=10, hidden_layer_sizes=(64,), max_iter=30, batch_size=batch_size,
        # The settings the guide's figures were measured with, before the
        # defaults became xi="auto" and n_init="auto".
        xi=10.0, n_init=1, random_state=seed, device="cpu",
    ).fit(X)
    sizes = model.cluster_sizes_
    return (
        f"acc={clustering_accuracy(y, model.labels_):.3f} empty={int(np.sum(sizes == 0))} "
        f"entropy/log(10)={entropy(sizes) / np.log(10):.3f} smallest={sizes.min()} largest={sizes.max()}"
    )


def hash_row(X, y, batch_size, seed):
    model = IMSATHasher(
        n_bits=16, hidden_layer_sizes=(64,), max_iter=30, batch_size=batch_size,
        random_state=seed, device="cpu",
    ).fit(X)
    codes = model.transform(X)
    constant = int(np.sum(np.isin(model.bit_frequencies_, [0, 1])))
    mean_ap = hamming_ranking_map(codes[:300], codes[300:], y[:300], y[300:])
    return (
        f"constant_bits={constant} distinct_codes={len(np.unique(codes, axis=0))} "
        f"mAP={mean_ap:.3f} score={model.score(X):.2f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["cluster", "hash"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 3, 5, 10, 20, 250])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    row = cluster_row if args.task == "cluster" else hash_row
    warnings.simplefilter("ignore")
    for batch_size in args.sizes:
        for seed in args.seeds:
            started = time.perf_counter()
            line = row(X, y, batch_size, seed)
            print(f"{args.task} batch_size={batch_size} seed={seed} {line} "
                  f"{time.perf_counter() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()
