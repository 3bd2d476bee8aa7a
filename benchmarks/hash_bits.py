"""How IMSAT hashing behaves as the code grows: mAP and the fitted objective per code length.

For each code length, fits IMSATHasher with its defaults on an MNIST subset
(the paper's query split, see ``hash_mnist.py``) and prints the retrieval
mAP with what explains it: the epochs run and why training stopped, the
objective's terms in the last epoch (``loss_parts_``, nats), the fraction
of ones of the most and least balanced bits, and the number of distinct
codes among the training samples.

    python benchmarks/hash_bits.py --n-samples 10000 --n-bits 16 32 64
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from hash_mnist import query_split
from imsat_sklearn import IMSATHasher
from imsat_sklearn.datasets import load_mnist
from imsat_sklearn.metrics import hamming_ranking_map


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--n-samples", type=int, default=10000)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args()

    X, y = load_mnist(args.data_home, return_X_y=True)
    keep = np.random.RandomState(0).choice(len(X), args.n_samples, replace=False)
    X, y = X[keep], y[keep]
    print(f"MNIST subset {X.shape[0]} x {X.shape[1]} (subset seed 0), max_iter={args.max_iter}, "
          f"device={args.device}, IMSATHasher defaults otherwise")
    header = (f"{'bits':>4} {'seed':>4} {'mAP':>6} {'epochs':>6} {'stop':>9} {'R_SAT':>7} {'H(Y|X)':>7} "
              f"{'sumH(Ym)':>8} {'sumI':>7} {'ones min-max':>12} {'codes':>6} {'fit s':>6}")
    print(header)
    for n_bits in args.n_bits:
        for seed in args.seeds:
            query, db = query_split(y, seed)
            model = IMSATHasher(n_bits, max_iter=args.max_iter, device=args.device, random_state=seed)
            started = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                codes = model.fit_transform(X)
            seconds = time.perf_counter() - started
            stop = "max_iter" if any(issubclass(w.category, ConvergenceWarning) for w in caught) else "converged"
            score = hamming_ranking_map(codes[query], codes[db], y[query], y[db])
            parts = {name: values[-1] for name, values in model.loss_parts_.items()}
            ones = codes.mean(0)
            n_codes = len(np.unique(codes, axis=0))
            print(f"{n_bits:4d} {seed:4d} {score:6.4f} {model.n_iter_:6d} {stop:>9} {parts['R_SAT']:7.4f} "
                  f"{parts['H(Y|X)']:7.4f} {parts['sum H(Y_m)']:8.4f} {parts['sum I(Y_m;Y_l)']:7.4f} "
                  f"{ones.min():5.2f}-{ones.max():5.2f}  {n_codes:6d} {seconds:6.0f}", flush=True)


if __name__ == "__main__":
    main()
