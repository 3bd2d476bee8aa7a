"""Tests that need a CUDA device (marker ``gpu``; skipped elsewhere).

Run them with ``python -m pytest -m gpu`` on a machine with a GPU.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from imsat_sklearn import IMSATClusterer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

FAST = dict(n_clusters=3, hidden_layer_sizes=(32,), max_iter=20, tol=None, batch_size=50, n_init=1, random_state=0)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, centers=3, cluster_std=0.6, random_state=1)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def X(blobs):
    return blobs[0]


@pytest.fixture(scope="module")
def y(blobs):
    return blobs[1]


def test_cuda_fit_matches_cpu_quality(X, y):
    gpu = IMSATClusterer(device="cuda", **FAST).fit(X)
    cpu = IMSATClusterer(device="cpu", **FAST).fit(X)
    assert next(gpu.network_.parameters()).device.type == "cuda"
    # CUDA generators draw other permutations and perturbations than CPU ones
    # from the same seed, so only the quality and the loss level must agree.
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=0.1)
    assert adjusted_rand_score(y, gpu.labels_) > 0.95 and adjusted_rand_score(y, cpu.labels_) > 0.95


def test_cuda_model_unpickles_and_predicts_without_cuda(X, tmp_path):
    model = IMSATClusterer(device="cuda", **FAST).fit(X)
    # Saved as fitted, device="cuda" included: loading must not need CUDA.
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict_proba(X))
    script = textwrap.dedent(
        f"""
        import pickle, warnings, numpy as np, torch
        assert not torch.cuda.is_available()
        model = pickle.loads(open({str(path)!r}, "rb").read())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            proba = model.predict_proba(np.load({str(tmp_path / "X.npy")!r}))
        assert "predicting on the CPU" in str(caught[0].message)
        np.testing.assert_allclose(proba, np.load({str(tmp_path / "expected.npy")!r}), atol=1e-5)
        print("ok")
        """
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_set_params_moves_a_cuda_model_to_cpu(X):
    model = IMSATClusterer(device="cuda", **FAST).fit(X)
    expected = model.predict_proba(X)
    np.testing.assert_allclose(model.set_params(device="cpu").predict_proba(X), expected, atol=1e-5)

