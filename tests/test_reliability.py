"""Reliability of both estimators: bad input, edge-case data, n_init, warm start,
interruption, persistence and devices. Every bad input must give a clear error
naming the argument, never a torch traceback, NaN output or silent garbage."""

import hashlib
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import adjusted_rand_score

from imsat_sklearn import IMSATClusterer, IMSATHasher, paper_params
from imsat_sklearn._base import _information
from imsat_sklearn._torch import objectives

FAST = dict(hidden_layer_sizes=(16,), max_iter=2, tol=None, batch_size=50, n_init=1, random_state=0)


def clusterer(**params):
    return IMSATClusterer(**{"n_clusters": 3, **FAST, **params})


def hasher(**params):
    return IMSATHasher(**{"n_bits": 4, **FAST, **params})


BOTH = pytest.mark.parametrize("make", [clusterer, hasher], ids=["clusterer", "hasher"])


@pytest.fixture(scope="module")
def X():
    data, _ = make_blobs(n_samples=200, centers=3, cluster_std=0.6, random_state=1)
    return data.astype(np.float32)


# ---- bad input -------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_is_rejected_at_fit_and_predict(make, X, bad):
    X_bad = X.copy()
    X_bad[5, 0] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        make().fit(X_bad)
    fitted = make().fit(X)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        fitted.predict_proba(X_bad)


@BOTH
@pytest.mark.parametrize(
    "data,message",
    [
        (np.empty((0, 2)), "0 sample"),
        (np.ones((1, 2)), "1 sample"),
        (np.ones(10), "Expected 2D array"),
        (np.ones((10, 2, 2)), "dim 3"),
        (np.ones((10, 2)) + 1j, "Complex data not supported"),
        (np.array([["a", "b"]] * 10, dtype=object), "could not convert"),
    ],
    ids=["empty", "one-sample", "1d", "3d", "complex", "strings"],
)
def test_malformed_x_is_rejected(make, data, message):
    with pytest.raises(ValueError, match=message):
        make().fit(data)


@BOTH
def test_list_of_lists_and_dataframe_are_accepted(make, X):
    pd = pytest.importorskip("pandas")
    from_list = make().fit(X.tolist())
    np.testing.assert_array_equal(from_list.predict_proba(X), make().fit(X).predict_proba(X))
    frame = pd.DataFrame(X, columns=["a", "b"])
    with warnings.catch_warnings():
        # Fitting a DataFrame must not warn about its own feature names (labels_
        # were once computed by predicting on the validated array).
        warnings.simplefilter("error")
        # Two epochs leave the clusterer untrained, which its health warning says.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make().fit(frame)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b"])
    with pytest.raises(ValueError, match="feature names should match those that were passed"):
        model.predict_proba(frame.rename(columns={"a": "z"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict_proba(X)


@BOTH
def test_wrong_number_of_features_at_predict(make, X):
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 2 features"):
        make().fit(X).predict_proba(np.zeros((3, 3)))


@BOTH
def test_predict_before_fit(make, X):
    with pytest.raises(NotFittedError):
        make().predict_proba(X)


def test_fewer_samples_than_clusters():
    with pytest.raises(ValueError, match="n_samples=4 should be >= n_clusters=5"):
        clusterer(n_clusters=5).fit(np.random.RandomState(0).rand(4, 2))


@pytest.mark.parametrize("value", [0, -1, 2.5, "3"])
def test_bad_n_clusters(value, X):
    with pytest.raises(ValueError, match="'n_clusters' parameter of IMSATClusterer must be"):
        clusterer(n_clusters=value).fit(X)


@pytest.mark.parametrize("value", [0, -2, 1.5])
def test_bad_n_bits(value, X):
    with pytest.raises(ValueError, match="'n_bits' parameter of IMSATHasher must be"):
        hasher(n_bits=value).fit(X)


def test_one_cluster_fits_trivially(X):
    model = clusterer(n_clusters=1).fit(X)
    np.testing.assert_array_equal(model.labels_, 0)
    np.testing.assert_allclose(model.predict_proba(X), 1.0)


@BOTH
@pytest.mark.parametrize(
    "param,value",
    [
        ("lam", -0.1),
        ("xi", -1.0),
        ("xi", 0.0),
        ("eps", -0.5),
        ("learning_rate", -0.001),
        ("learning_rate", 0.0),
        ("batch_size", 0),
        ("max_iter", 0),
        ("n_neighbors", 0),
        ("n_init", 0),
        ("augmentation", "mixup"),
        ("tol", -0.01),
        ("tol", 1.5),
        ("n_iter_no_change", 0),
        ("hidden_layer_sizes", "wide"),
        ("min_updates", -1),
    ],
)
def test_invalid_hyperparameters_rejected_at_fit_not_init(make, X, param, value):
    model = make(**{param: value})  # __init__ never validates
    with pytest.raises(ValueError, match=f"'{param}' parameter of IMSAT\\w+ must be"):
        model.fit(X)


def test_paper_params_names_the_unknown_task():
    with pytest.raises(ValueError, match="task must be 'clustering' or 'hashing', got 'ranking'"):
        paper_params("ranking")


@BOTH
def test_unknown_device(make, X):
    with pytest.raises(ValueError, match="device='npu' is not a valid device"):
        make(device="npu").fit(X)


@BOTH
def test_cuda_without_gpu_is_a_clear_error_and_auto_falls_back(make, X):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        make(device="cuda").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Two epochs leave the clusterer untrained, which its health warning says.
        warnings.simplefilter("ignore", ConvergenceWarning)
        make(device="auto").fit(X)


# ---- edge-case data ----------------------------------------------------------


@BOTH
def test_constant_data_gives_zero_radius_warning_and_finite_output(make):
    X = np.full((60, 3), 2.5, dtype=np.float32)
    with pytest.warns(UserWarning, match="all k-NN distances are 0"):
        model = make().fit(X)
    assert np.isfinite(model.loss_curve_).all()
    assert np.isfinite(model.predict_proba(X)).all()


@BOTH
def test_duplicate_rows_give_finite_results(make, X):
    doubled = np.concatenate([X, X])
    model = make().fit(doubled)
    assert np.isfinite(model.loss_curve_).all() and np.isfinite(model.predict_proba(doubled)).all()


@BOTH
@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_extreme_magnitudes_are_a_clear_error(make, X, scale):
    with pytest.raises(ValueError, match="Scale X first"):
        make().fit(X.astype(np.float64) * scale)


@BOTH
def test_large_but_representable_values_train(make, X):
    model = make().fit(X * 1e6)
    assert np.isfinite(model.predict_proba(X * 1e6)).all()


@BOTH
def test_clipping_warnings(make):
    X = np.random.RandomState(0).rand(8, 2).astype(np.float32)
    params = dict(n_neighbors=20, batch_size=100)
    if make is clusterer:
        params["n_clusters"] = 2
    with pytest.warns(UserWarning) as record:
        make(**params).fit(X)
    messages = " ".join(str(w.message) for w in record)
    assert "n_neighbors=20 must be < n_samples=8; using n_neighbors=7" in messages
    assert "batch_size=100 > n_samples=8; using batch_size=8" in messages


@BOTH
@pytest.mark.parametrize("n_samples,batch_size", [(51, 50), (10, 5)])
def test_awkward_batch_sizes_train(make, n_samples, batch_size):
    X = np.random.RandomState(0).rand(n_samples, 2).astype(np.float32)
    model = make(batch_size=batch_size, n_clusters=2) if make is clusterer else make(batch_size=batch_size)
    model.fit(X)
    assert np.isfinite(model.loss_curve_).all() and np.isfinite(model.predict_proba(X)).all()


@BOTH
def test_diverging_fit_never_returns_nan(make, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = make(learning_rate=10.0, max_iter=5).fit(X * 1e6)
        except ValueError as error:
            assert "learning_rate" in str(error)
            return
    assert np.isfinite(model.predict_proba(X)).all()


@BOTH
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_x_is_never_modified(make, X, dtype):
    data = np.ascontiguousarray(X, dtype=dtype)
    digest = hashlib.sha256(data.tobytes()).hexdigest()
    model = make().fit(data)
    model.predict_proba(data)
    model.score(data)
    assert hashlib.sha256(data.tobytes()).hexdigest() == digest


# ---- stability, warm start, interruption ---------------------------------------------


def _singles(make, X, n):
    # The trainings that n_init=n runs with random_state=3, fitted one by one.
    shared = np.random.RandomState(3)
    return [make(random_state=shared, n_init=1).fit(X) for _ in range(n)]


def _assert_same_model(a, b, X):
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_n_init_keeps_the_training_that_agrees_most_with_the_others(X):
    # Trained long enough to be past the uniform start, so that every training votes.
    singles = _singles(lambda **p: clusterer(max_iter=40, **p), X, 5)
    multi = clusterer(max_iter=40, random_state=3, n_init=5).fit(X)
    scores = [model.score(X) for model in singles]
    assert min(scores) >= 0.5 * max(scores)
    agreement = [
        np.mean([adjusted_rand_score(a.labels_, b.labels_) for b in singles if b is not a]) for a in singles
    ]
    kept = max(range(5), key=lambda i: (agreement[i], scores[i]))
    _assert_same_model(multi, singles[kept], X)


@pytest.mark.parametrize("make, n_init", [(clusterer, 2), (hasher, 3)], ids=["clusterer-2", "hasher-3"])
def test_n_init_keeps_the_highest_training_score_without_agreement(make, X, n_init):
    # Two trainings agree with each other equally; hash codes are not ranked by agreement.
    singles = _singles(make, X, n_init)
    multi = make(random_state=3, n_init=n_init).fit(X)
    _assert_same_model(multi, max(singles, key=lambda model: model.score(X)), X)


def test_agreement_outranks_the_information_estimate():
    # Trainings 0 and 1 find the same two clusters; training 2 splits them
    # otherwise, with more confident outputs (the highest information estimate).
    halves = np.repeat([[0.9, 0.1], [0.1, 0.9]], 50, axis=0)
    other = np.tile([[1.0, 0.0], [0.0, 1.0]], (50, 1))
    model = clusterer(n_clusters=2)
    objective = model._build_objective("cpu")
    # Training 1 is training 0 relabelled and sharper: agreement ties, the estimate breaks the tie.
    sharper = np.repeat([[0.05, 0.95], [0.95, 0.05]], 50, axis=0)
    outputs = [halves, sharper, other]
    assert max(range(3), key=lambda i: _information(objective, outputs[i])) == 2
    assert model._pick(objective, outputs) == 1
    assert IMSATHasher(n_bits=2)._pick(objective, outputs) == 2


def test_collapsed_trainings_neither_vote_nor_are_kept():
    # Three trainings put every sample in one cluster (they agree perfectly
    # with each other); two found the two halves, with some disagreement.
    halves = np.repeat([[0.9, 0.1], [0.1, 0.9]], 50, axis=0)
    shifted = np.roll(halves, 10, axis=0)
    collapsed = np.tile([[0.99, 0.01]], (100, 1))
    model = clusterer(n_clusters=2)
    objective = model._build_objective("cpu")
    outputs = [collapsed, halves, collapsed.copy(), shifted, collapsed.copy()]
    assert model._pick(objective, outputs) == 1
    # With three healthy trainings among them, agreement picks among those three.
    assert model._pick(objective, outputs + [halves.copy()]) in (1, 5)


def test_n_init_is_deterministic(X):
    a = clusterer(n_init=2).fit(X)
    b = clusterer(n_init=2).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.loss_curve_ == b.loss_curve_


@BOTH
def test_warm_start_continues_training(make, X):
    model = make(warm_start=True).fit(X)
    first_curve = list(model.loss_curve_)
    model.fit(X)
    assert model.n_iter_ == 4 and model.loss_curve_[:2] == first_curve and len(model.loss_curve_) == 4
    assert all(len(v) == 4 for v in model.loss_parts_.values())
    cold = make(warm_start=False).fit(X)
    cold.fit(X)
    assert cold.n_iter_ == 2


def test_warm_start_checks_feature_count(X):
    model = clusterer(warm_start=True).fit(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        model.fit(np.random.RandomState(0).rand(50, 3))


@BOTH
def test_keyboard_interrupt_keeps_last_completed_epoch(make, X, monkeypatch):
    calls = {"n": 0}
    cls = objectives.ClusteringObjective if make is clusterer else objectives.HashingObjective
    original = cls.information_loss

    def interrupt_in_third_epoch(self, logits, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2 * 4 + 1:  # 4 updates per epoch at 200 samples, batch 50
            raise KeyboardInterrupt
        return original(self, logits, **kwargs)

    monkeypatch.setattr(cls, "information_loss", interrupt_in_third_epoch)
    with pytest.warns(UserWarning, match="interrupted; keeping the model of the last completed epoch"):
        model = make(max_iter=5, n_init=3).fit(X)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    assert np.isfinite(model.predict_proba(X)).all()
    monkeypatch.setattr(cls, "information_loss", original)
    fresh = make(max_iter=5).fit(X)
    assert fresh.n_iter_ == 5


# ---- persistence and devices ------------------------------------------------------------


@BOTH
def test_pickled_state_holds_cpu_tensors_only(make, X):
    state = make().fit(X).__getstate__()
    tensors = state["_network_state"]["tensors"]
    assert tensors and all(t.device.type == "cpu" for t in tensors.values())
    assert "network_" not in state


@BOTH
def test_set_params_device_after_fit_moves_prediction(make, X):
    model = make().fit(X)
    expected = model.predict_proba(X)
    model.set_params(device="cpu")
    np.testing.assert_array_equal(model.predict_proba(X), expected)
    if not torch.cuda.is_available():
        # A model saved with device="cuda" still predicts on a machine without CUDA.
        model.set_params(device="cuda")
        with pytest.warns(UserWarning, match="device='cuda' is not available on this machine; predicting on the CPU"):
            np.testing.assert_array_equal(model.predict_proba(X), expected)


@BOTH
def test_round_trip_after_device_change_predicts_identically(make, X):
    model = make().fit(X)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert restored.n_iter_ == model.n_iter_ and restored.loss_curve_ == model.loss_curve_
