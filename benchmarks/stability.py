"""Seed-to-seed stability of IMSATClusterer with n_init = 1, 2, ..., K.

For each random_state s, K single-run fits share one ``RandomState(s)``
instance. They then draw exactly the seeds that the K runs of
``IMSATClusterer(n_init=K, random_state=s)`` draw, in order, and two
label-free rules of earlier versions pick among the first k: the lowest
final training loss and the highest training-set score (mutual
information). Prints ACC mean (std) per k. The estimator's current rule
(agreement between trainings) is compared with the score by
``benchmarks/n_init_selection.py``.

    python benchmarks/stability.py --dataset digits mnist10k --seeds 0 1 2 3 4 --n-init 3
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

from imsat_sklearn import IMSATClusterer
from imsat_sklearn.datasets import load_mnist
from imsat_sklearn.metrics import clustering_accuracy


def load(name, data_home):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return (X / 16.0).astype(np.float32), y
    X, y = load_mnist(data_home, return_X_y=True)
    keep = np.random.RandomState(0).choice(len(X), 10000, replace=False)
    return X[keep], y[keep]


def runs_for_seed(X, y, seed, n_init, device):
    shared = np.random.RandomState(seed)
    runs = []
    for _ in range(n_init):
        model = IMSATClusterer(n_init=1, device=device, random_state=shared).fit(X)
        runs.append((model.loss_curve_[-1], model.score(X), clustering_accuracy(y, model.labels_)))
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", choices=["digits", "mnist10k"], default=["digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n-init", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args()
    for name in args.dataset:
        X, y = load(name, args.data_home)
        started = time.perf_counter()
        table = []
        for seed in args.seeds:
            runs = runs_for_seed(X, y, seed, args.n_init, args.device)
            print(f"{name} seed {seed}: (final loss, score, ACC) per run {np.round(runs, 4).tolist()}")
            table.append([
                [min(runs[:k], key=lambda run: run[0])[2], max(runs[:k], key=lambda run: run[1])[2]]
                for k in range(1, args.n_init + 1)
            ])
        table = np.array(table)  # seeds x n_init x rule
        seconds = (time.perf_counter() - started) / (len(args.seeds) * args.n_init)
        for k in range(args.n_init):
            for rule, label in enumerate(["lowest loss", "highest score"]):
                acc = table[:, k, rule]
                print(f"{name} n_init={k + 1} ({label}): ACC {acc.mean():.4f} ({acc.std():.4f})  "
                      f"min {acc.min():.4f}  over seeds {args.seeds}")
        print(f"{name}: {seconds:.1f} s per single-run fit on {args.device}")


if __name__ == "__main__":
    main()
