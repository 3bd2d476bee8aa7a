"""Label-free criteria for n_clusters on scikit-learn's digits (true K = 10).

For each K, fits ``IMSATClusterer(n_clusters=K, n_init=1, random_state=s)``
(the defaults but one training per seed: agreement reads the spread
between trainings, which ``n_init="auto"``, keeping the one of 5 trainings
that agrees most with the others, would partly hide, at a fifth of the cost) for every seed s and K-means (``n_init=10``) for the same seeds,
then prints, per K:

* IMSAT seed agreement: mean (std) adjusted Rand index over all pairs of seeds;
* K-means seed agreement, the same over its fits;
* IMSAT score (estimated mutual information, nats), mean over seeds, and the
  score divided by log K, its upper bound;
* the number of non-empty clusters, mean over seeds;
* IMSAT accuracy, mean over seeds: it uses the labels and is printed only to
  judge the criteria.

The table of docs/user_guide/n_clusters.rst is this script's output:

    OMP_NUM_THREADS=1 python benchmarks/n_clusters.py --k 6 14 --seeds 0 1 2
"""

import argparse
import itertools
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score

from imsat_sklearn import IMSATClusterer
from imsat_sklearn.metrics import clustering_accuracy


def agreement(labelings):
    """Mean and std of the ARI over every pair of labelings."""
    aris = [adjusted_rand_score(a, b) for a, b in itertools.combinations(labelings, 2)]
    return np.mean(aris), np.std(aris)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs=2, default=[6, 14], metavar=("FIRST", "LAST"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    print(f"digits {X.shape}, seeds {args.seeds}, IMSATClusterer(n_clusters=K, n_init=1, random_state=s)")
    print(" K  IMSAT ARI (std)  K-means ARI  score  score/logK  non-empty  accuracy  fit s")
    for k in range(args.k[0], args.k[1] + 1):
        labels, scores, filled, accuracies, times = [], [], [], [], []
        for seed in args.seeds:
            start = time.perf_counter()
            model = IMSATClusterer(n_clusters=k, n_init=1, random_state=seed).fit(X)
            times.append(time.perf_counter() - start)
            labels.append(model.labels_)
            scores.append(model.score(X))
            filled.append(len(np.unique(model.labels_)))
            accuracies.append(clustering_accuracy(y, model.labels_))
        kmeans = [KMeans(k, n_init=10, random_state=seed).fit_predict(X) for seed in args.seeds]
        ari, ari_std = agreement(labels)
        score = np.mean(scores)
        print(
            f"{k:2d}  {ari:.2f} ({ari_std:.2f})      {agreement(kmeans)[0]:.2f}        "
            f"{score:.2f}   {score / np.log(k):.3f}       {np.mean(filled):4.1f}      "
            f"{np.mean(accuracies):.2f}     {np.mean(times):.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
