"""State of an estimator around a fit: what a fit, a failed fit and prediction may change.

One test per bug of issue 15, each failing before the fix.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn.distributed import fit_distributed

FAST = dict(hidden_layer_sizes=(16,), max_iter=2, tol=None, batch_size=50, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits(return_X_y=True)
    return (X[:300] / 16).astype(np.float32)


def _cpu_only(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("prior", [None, [0.5, 0.3, 0.2]])
def test_cuda_model_with_prior_predicts_on_cpu_with_a_warning(digits, monkeypatch, prior):
    model = IMSATClusterer(n_clusters=3, prior=prior, device="cpu", **FAST).fit(digits)
    expected = model.predict(digits)
    # As after a fit on a GPU machine, unpickled on a CPU-only one.
    model.device = "cuda"
    _cpu_only(monkeypatch)
    with pytest.warns(UserWarning, match="predicting on the CPU"):
        np.testing.assert_array_equal(model.predict(digits), expected)
    with pytest.warns(UserWarning, match="predicting on the CPU"):
        model.score(digits)


def _fitted_state(model):
    return {
        name: value for name, value in vars(model).items() if name.endswith("_") and not name.startswith("_")
    }


@pytest.mark.parametrize(
    "bad",
    [
        dict(prior=[0.5, 0.5]),
        dict(augmentation=[]),
        dict(augmentation=["nope"]),
        dict(n_clusters=40),
    ],
    ids=["prior", "empty-augmentation", "unknown-augmentation", "too-few-samples"],
)
def test_failed_refit_on_new_data_leaves_the_model_unchanged(digits, bad):
    model = IMSATClusterer(n_clusters=3, **FAST).fit(digits)
    before = _fitted_state(model)
    state = {name: value.clone() for name, value in model.network_.state_dict().items()}
    expected = model.predict(digits)
    model.set_params(**bad)
    with pytest.raises((ValueError, TypeError)):
        model.fit(np.random.RandomState(0).rand(30, 20))
    after = _fitted_state(model)
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert after[name] is value, name
    for name, value in model.network_.state_dict().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0)
    assert model.n_features_in_ == 64
    model.set_params(prior=None, augmentation="vat", n_clusters=3)
    np.testing.assert_array_equal(model.predict(digits), expected)


@pytest.mark.parametrize("make, param", [(IMSATClusterer, "n_clusters"), (IMSATHasher, "n_bits")])
def test_feature_names_out_follow_the_fitted_network(digits, make, param):
    model = make(**{param: 4}, **FAST)
    with pytest.raises(NotFittedError):
        model.get_feature_names_out()
    model.fit(digits)
    model.set_params(**{param: 7})
    assert len(model.get_feature_names_out()) == model.transform(digits).shape[1] == 4


def test_pandas_output_after_changing_n_clusters(digits):
    pd = pytest.importorskip("pandas")
    model = IMSATClusterer(n_clusters=4, **FAST).fit(digits)
    model.set_params(n_clusters=5).set_output(transform="pandas")
    frame = model.transform(digits)
    assert isinstance(frame, pd.DataFrame) and frame.shape == (len(digits), 4)


@pytest.mark.parametrize("make", [IMSATClusterer, IMSATHasher])
def test_random_state_none_leaves_numpy_global_rng_untouched(digits, make):
    model = make(**{**FAST, "random_state": None})
    np.random.seed(12345)
    before = np.random.get_state()
    model.fit(digits)
    model.partial_fit(digits)
    after = np.random.get_state()
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


@pytest.mark.parametrize("make", [IMSATClusterer, IMSATHasher])
def test_predict_on_read_only_float64_array_does_not_warn(digits, make):
    model = make(**FAST).fit(digits)
    X = digits.astype(np.float64)
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict_proba(X)
        model.transform(X)
        model.score(X)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_batch_size_above_n_samples_warns_in_fit_and_partial_fit(digits, method):
    model = IMSATClusterer(n_clusters=3, **{**FAST, "batch_size": 500})
    with pytest.warns(UserWarning, match="batch_size=500 > n_samples=300"):
        getattr(model, method)(digits)


class _RecordsParams:
    """A transform augmentation that records the estimator's parameters while it trains."""

    def __init__(self):
        self.estimator = None
        self.seen = []

    def __call__(self, X, generator):
        self.seen.append(self.estimator.get_params()["random_state"])
        return X


@pytest.mark.skipif(not dist.is_available(), reason="this torch build has no torch.distributed")
def test_fit_distributed_leaves_the_parameters_untouched(digits, tmp_path):
    recorder = _RecordsParams()
    model = IMSATClusterer(n_clusters=3, augmentation=recorder, **{**FAST, "random_state": None})
    recorder.estimator = model
    before = model.get_params()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'init'}", rank=0, world_size=1)
    try:
        fit_distributed(model, digits)
    finally:
        dist.destroy_process_group()
    assert model.get_params() == before
    assert recorder.seen and all(seen is None for seen in recorder.seen)


def test_hasher_probabilities_do_not_depend_on_the_order_of_the_rows():
    # The setting of scikit-learn's check_methods_sample_order_invariance, over many orders.
    X = 3 * np.random.RandomState(0).uniform(size=(20, 3))
    model = IMSATHasher(n_bits=4, hidden_layer_sizes=(32,), max_iter=10, batch_size=10, random_state=1)
    expected = model.fit(X).predict_proba(X)
    rng = np.random.RandomState(0)
    for _ in range(20):
        order = rng.permutation(len(X))
        np.testing.assert_array_equal(model.predict_proba(X[order]), expected[order])
