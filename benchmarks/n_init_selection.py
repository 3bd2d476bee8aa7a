"""How n_init chooses among trainings: agreement against the information estimate.

Fits ``IMSATClusterer(n_init=1, random_state=s)`` (otherwise the defaults)
on the digits (X/16) for seeds 0..N-1, then draws k of these trainings at
random many times and keeps one, as ``n_init=k`` would, by two label-free
rules: the highest information estimate (``score``) and the estimator's
rule (from 3 trainings, the one whose clusters agree most with the others';
see ``IMSATClusterer(n_init=...)``). Prints, per k, the mean ACC of the
kept training and the share of draws whose kept training is below
--floor, for each rule; and the single trainings' ACC and score.

    OMP_NUM_THREADS=1 python benchmarks/n_init_selection.py --trainings 40
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

from imsat_sklearn import IMSATClusterer
from imsat_sklearn.metrics import clustering_accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings", type=int, default=40, help="single trainings, seeds 0..N-1")
    parser.add_argument("--k", type=int, nargs="+", default=[3, 4, 5], help="trainings per draw")
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--floor", type=float, default=0.82)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)

    started = time.perf_counter()
    models = [IMSATClusterer(n_init=1, random_state=seed).fit(X) for seed in range(args.trainings)]
    outputs = [model.predict_proba(X) for model in models]
    accuracy = np.array([clustering_accuracy(y, model.labels_) for model in models])
    score = np.array([model.score(X) for model in models])
    print(
        f"{args.trainings} single trainings, {(time.perf_counter() - started) / args.trainings:.1f} s each: "
        f"ACC mean {accuracy.mean():.3f} ({accuracy.min():.3f}-{accuracy.max():.3f}), "
        f"{np.sum(accuracy < args.floor)} below {args.floor}; score {score.min():.3f}-{score.max():.3f} nats"
    )

    chooser = models[0]
    objective = chooser._build_objective("cpu")
    rng = np.random.default_rng(0)
    print(f"\n{'k':>2}  {'highest score: ACC, below floor':>32}  {'estimator rule: ACC, below floor':>34}")
    for k in args.k:
        by_score, by_rule = [], []
        for _ in range(args.draws):
            drawn = rng.choice(args.trainings, k, replace=False)
            by_score.append(accuracy[drawn[np.argmax(score[drawn])]])
            by_rule.append(accuracy[drawn[chooser._pick(objective, [outputs[i] for i in drawn])]])
        by_score, by_rule = np.array(by_score), np.array(by_rule)
        print(
            f"{k:>2}  {by_score.mean():>23.3f}, {np.mean(by_score < args.floor):6.1%}"
            f"  {by_rule.mean():>25.3f}, {np.mean(by_rule < args.floor):6.1%}"
        )


if __name__ == "__main__":
    main()
