"""Hyperparameter search on a Dask cluster through joblib (needs the `distributed` extra)."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV

from imsat_sklearn import IMSATClusterer

distributed = pytest.importorskip("dask.distributed")


def test_grid_search_on_a_dask_cluster_selects_the_same_parameters():
    X, _ = make_blobs(n_samples=240, centers=3, n_features=4, random_state=0)
    X = X.astype(np.float32)
    model = IMSATClusterer(
        n_clusters=3, hidden_layer_sizes=(16,), max_iter=15, tol=None, batch_size=60,
        n_init=1, device="cpu", random_state=0,
    )
    search = GridSearchCV(model, {"mu": [0.5, 4.0], "eps_scale": [0.05, 1.0]}, cv=2, n_jobs=-1)
    expected = clone(search).set_params(n_jobs=1).fit(X)

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Dask starts workers with OMP_NUM_THREADS=1, so torch does not oversubscribe the cores.
        assert set(client.run(torch.get_num_threads).values()) == {1}
        with distributed.get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
            on_dask = clone(search).fit(X)

    # 4 candidates x 2 folds, plus the refit, which runs locally.
    assert len(tasks.data) >= 8
    assert on_dask.best_params_ == expected.best_params_
    # Workers train with one torch thread, this process with all cores: a different
    # reduction order moves the scores in the sixth digit, never the ranking.
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"], expected.cv_results_["mean_test_score"], rtol=1e-4
    )
    # The candidates are told apart: the selection is not a tie broken by order.
    assert np.ptp(expected.cv_results_["mean_test_score"]) > 0.01
