"""Default-parameter fits against K-means: accuracy, time and stopping, one table.

Prints, for each data set, IMSAT with default parameters (``IMSATClusterer(
random_state=s)``) beside ``KMeans(n_clusters, n_init=10, random_state=s)``:
ACC per seed, mean, minimum, mean fit seconds and mean epochs (``n_iter_``,
out of ``max_iter``), plus a GridSearchCV of a MinMaxScaler + IMSAT pipeline
and scikit-learn's ``check_estimator`` on default instances. MNIST rows need
the data folder (``--data-home`` or ``$IMSAT_SKLEARN_DATA``); ``--full`` adds
full MNIST (70,000 images; use a GPU). ``--xi`` and ``--n-init`` replace
those two defaults (the table then names them).

    python benchmarks/defaults.py                       # digits, grid search, checks
    python benchmarks/defaults.py --mnist-10k --seeds 5 # adds the MNIST 10k subset
    python benchmarks/defaults.py --only full --device cuda --seeds 3
    python benchmarks/defaults.py --only 10k --seeds 5 --n-init 1  # one training
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_estimator

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn.datasets import load_mnist
from imsat_sklearn.metrics import clustering_accuracy


def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def mnist(data_home, n_samples=None):
    X, y = load_mnist(data_home, return_X_y=True)
    if n_samples:
        keep = np.random.RandomState(0).choice(len(X), n_samples, replace=False)
        X, y = X[keep], y[keep]
    return X, y


def compare(name, X, y, seeds, device, xi="auto", n_init="auto"):
    changed = ", ".join(f"{k}={v}" for k, v in {"xi": xi, "n_init": n_init}.items() if v != "auto")
    imsat = f"IMSAT ({changed or 'defaults'})"
    rows = {imsat: [], "K-means (n_init=10)": []}
    for seed in seeds:
        for method, model in [
            (imsat, IMSATClusterer(random_state=seed, device=device, xi=xi, n_init=n_init)),
            ("K-means (n_init=10)", KMeans(10, n_init=10, random_state=seed)),
        ]:
            started = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                labels = model.fit_predict(X)
            seconds = time.perf_counter() - started
            capped = any("reached max_iter" in str(w.message) for w in caught)
            epochs = getattr(model, "n_iter_", np.nan)
            rows[method].append((clustering_accuracy(y, labels), seconds, epochs, capped))
            print(f"  {name} {method} seed {seed}: ACC {rows[method][-1][0]:.4f}  {seconds:.1f} s  "
                  f"epochs {epochs}{'  (max_iter reached)' if capped else ''}", flush=True)
    print(f"\n{name} ({X.shape[0]} x {X.shape[1]}), seeds {list(seeds)}")
    print(f"  {'method':<28}{'ACC mean':>9}{'min':>7}{'max':>7}{'fit s':>8}{'epochs':>8}  per seed")
    for method, runs in rows.items():
        acc = np.array([r[0] for r in runs])
        print(f"  {method:<28}{acc.mean():9.3f}{acc.min():7.3f}{acc.max():7.3f}"
              f"{np.mean([r[1] for r in runs]):8.1f}{np.mean([r[2] for r in runs]):8.1f}  "
              + " ".join(f"{a:.3f}" for a in acc))
    print(flush=True)


def grid_search(X, y, device):
    pipe = make_pipeline(MinMaxScaler(), IMSATClusterer(random_state=0, device=device))
    grid = {"imsatclusterer__eps_scale": [0.25, 0.5], "imsatclusterer__lam": [0.1, 0.2]}
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipe, grid, cv=3).fit(X)
    seconds = time.perf_counter() - started
    acc = clustering_accuracy(y, search.predict(X))
    print(f"GridSearchCV(MinMaxScaler + IMSATClusterer, 4 candidates, cv=3) on digits: "
          f"{seconds:.1f} s in total; best {search.best_params_}, ACC of the refit {acc:.3f}\n")


def estimator_checks():
    for estimator in (IMSATClusterer(), IMSATHasher()):
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            failed = check_estimator(estimator, on_fail=None)
        failures = [r["check_name"] for r in failed if r["status"] == "failed"]
        print(f"check_estimator({type(estimator).__name__}()): {time.perf_counter() - started:.1f} s, "
              f"{len(failed)} checks, failed: {failures or 'none'}")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    parser.add_argument(
        "--xi", type=lambda v: v if v == "auto" else float(v), default="auto",
        help="IMSAT's xi ('auto', the default, or a number: the docs' full-MNIST row used 10)",
    )
    parser.add_argument(
        "--n-init", type=lambda v: v if v == "auto" else int(v), default="auto",
        help="IMSAT's n_init ('auto', the default, or a number: 1 gives one training)",
    )
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--mnist-10k", action="store_true", help="add the MNIST 10k subset")
    parser.add_argument("--full", action="store_true", help="add full MNIST")
    parser.add_argument("--only", choices=["digits", "10k", "full"], default=None)
    args = parser.parse_args()
    seeds = range(args.seeds)
    if args.only in (None, "digits"):
        compare("digits (X/16)", *digits(), seeds, args.device, args.xi, args.n_init)
    if args.only is None:
        grid_search(*digits(), args.device)
        estimator_checks()
    if args.mnist_10k or args.only == "10k":
        compare("MNIST 10k subset", *mnist(args.data_home, 10000), seeds, args.device, args.xi, args.n_init)
    if args.full or args.only == "full":
        compare("MNIST (all 70,000)", *mnist(args.data_home), seeds, args.device, args.xi, args.n_init)


if __name__ == "__main__":
    main()
