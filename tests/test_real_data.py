"""IMSATClusterer on real data: the VAT radius and accuracy floors.

Floors come from 5-seed measurements (benchmarks/stability.py) and sit
below the worst seed seen, so they catch breakage rather than bad luck.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from imsat_sklearn import IMSATClusterer
from imsat_sklearn._device import row_source
from imsat_sklearn._torch.radius import kth_neighbor_distance
from imsat_sklearn.datasets import load_mnist
from imsat_sklearn.metrics import clustering_accuracy


@pytest.fixture(scope="module")
def mnist(data_home):
    return load_mnist(data_home, return_X_y=True)


def test_radius_equals_the_authors_11th_neighbour_file(mnist, data_home):
    X, _ = mnist
    reference = np.load(data_home / "mnist" / "mnist_knn10_dist_uint8scale.npy") / 255.0
    rows = np.random.RandomState(0).choice(len(X), 300, replace=False)
    distances = kth_neighbor_distance(torch.from_numpy(X), 11, rows=torch.from_numpy(rows))
    np.testing.assert_allclose(distances.numpy(), reference[rows], rtol=1e-5)


def test_estimator_radius_is_scaled_kth_neighbour_distance():
    X = np.random.RandomState(0).rand(60, 4).astype(np.float32)
    model = IMSATClusterer(n_neighbors=11, eps_scale=0.25)
    radius = model._radius(X, row_source(X, torch.device("cpu"))).numpy()
    pairwise = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(pairwise, np.inf)
    np.testing.assert_allclose(radius, 0.25 * np.sort(pairwise, axis=1)[:, 10], rtol=1e-5)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def test_digits_single_run_accuracy_floor(digits):
    X, y = digits
    labels = IMSATClusterer(n_init=1, random_state=0).fit_predict(X)
    # One run: 0.65-0.94 over 5 seeds (mean 0.835); a broken objective or SAT
    # term falls far below (chance is about 0.1).
    assert clustering_accuracy(y, labels) > 0.62


@pytest.mark.slow
def test_digits_default_accuracy_floor(digits):
    X, y = digits
    labels = IMSATClusterer(random_state=0).fit_predict(X)
    # n_init=3 (the default): 0.79-0.93 over seeds 0-4 on a GPU; K-means reaches
    # 0.79. Seed 0 on the CPU depends on float rounding, which depends on the
    # torch thread count: 0.775 with 2 threads, 0.710 with 1 (same code, the
    # trajectories part after thousands of updates). The floor keeps room for
    # that and still fails a broken objective (collapsed or random clusterings
    # score 0.1-0.5 here).
    assert clustering_accuracy(y, labels) > 0.68


@pytest.mark.slow
def test_mnist_10k_accuracy_floor(mnist):
    X, y = mnist
    subset = np.random.RandomState(0).choice(len(X), 10000, replace=False)
    labels = IMSATClusterer(random_state=0).fit_predict(X[subset])
    # n_init=3: 0.885-0.911 over 5 seeds; K-means reaches 0.54 on this subset.
    assert clustering_accuracy(y[subset], labels) > 0.85
