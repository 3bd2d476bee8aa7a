"""How IMSAT hashing behaves as the code grows: mAP and the fitted objective per code length.

For each code length, fits IMSATHasher with its defaults and prints the
retrieval mAP with what explains it: the epochs run and why training
stopped, the objective's terms in the last epoch (``loss_parts_``, nats;
'sum I' before its weight), the fraction of ones of the least and most
balanced bits, and the number of distinct codes among the fitted images.

MNIST: a random subset (seed 0) with the authors' query split (100 queries
per class, see ``hash_mnist.py``), fitted on the whole subset, queries
included. digits (scikit-learn's 8x8 images, x/16): 300 random queries
(seed 0) held out, fitted on the other 1,497.

    python benchmarks/hash_bits.py --n-samples 10000 --n-bits 16 32 64
    python benchmarks/hash_bits.py --dataset digits --seeds 0 1
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from hash_mnist import query_split
from imsat_sklearn import IMSATHasher
from imsat_sklearn.datasets import load_mnist
from imsat_sklearn.metrics import hamming_ranking_map


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    parser.add_argument("--n-bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--n-samples", type=int, default=10000)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args()

    if args.dataset == "digits":
        X, y = load_digits(return_X_y=True)
        X = (X / 16).astype(np.float32)
        order = np.random.RandomState(0).permutation(len(X))
        query, db = order[:300], order[300:]
        fit_rows = db
        print(f"digits {X.shape[0]} x {X.shape[1]}: {len(query)} held-out queries, {len(db)} database "
              f"images, max_iter={args.max_iter}, device={args.device}, IMSATHasher defaults otherwise")
    else:
        X, y = load_mnist(args.data_home, return_X_y=True)
        keep = np.random.RandomState(0).choice(len(X), args.n_samples, replace=False)
        X, y = X[keep], y[keep]
        query, db = query_split(y, 0)
        fit_rows = np.arange(len(X))
        print(f"MNIST subset {X.shape[0]} x {X.shape[1]} (subset and split seed 0), max_iter={args.max_iter}, "
              f"device={args.device}, IMSATHasher defaults otherwise")
    header = (f"{'bits':>4} {'seed':>4} {'mAP':>6} {'epochs':>6} {'stop':>9} {'R_SAT':>7} {'H(Y|X)':>7} "
              f"{'sumH(Ym)':>8} {'sumI':>7} {'ones min-max':>12} {'codes':>6} {'fit s':>6}")
    print(header)
    for n_bits in args.n_bits:
        for seed in args.seeds:
            model = IMSATHasher(n_bits, max_iter=args.max_iter, device=args.device, random_state=seed)
            started = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                model.fit(X[fit_rows])
            seconds = time.perf_counter() - started
            stop = "max_iter" if any("reached max_iter" in str(w.message) for w in caught) else "converged"
            codes = model.transform(X)
            score = hamming_ranking_map(codes[query], codes[db], y[query], y[db])
            parts = {name: values[-1] for name, values in model.loss_parts_.items()}
            ones = codes[fit_rows].mean(0)
            n_codes = len(np.unique(codes[fit_rows], axis=0))
            print(f"{n_bits:4d} {seed:4d} {score:6.4f} {model.n_iter_:6d} {stop:>9} {parts['R_SAT']:7.4f} "
                  f"{parts['H(Y|X)']:7.4f} {parts['sum H(Y_m)']:8.4f} {parts['sum I(Y_m;Y_l)']:7.4f} "
                  f"{ones.min():5.2f}-{ones.max():5.2f}  {n_codes:6d} {seconds:6.0f}", flush=True)


if __name__ == "__main__":
    main()
