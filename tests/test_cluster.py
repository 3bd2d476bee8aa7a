"""IMSATClusterer as a scikit-learn estimator: API, determinism, persistence, errors."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from imsat_sklearn import IMSATClusterer, IMSATHasher, _plan
from imsat_sklearn._plan import (
    hidden_layer_sizes,
    make_plan,
    make_schedule,
    resolve_eps_scale,
    resolve_n_init,
)
from imsat_sklearn._torch.parallel import SingleProcess
from imsat_sklearn._torch.trainer import Schedule
from imsat_sklearn.metrics import clustering_accuracy

FAST = dict(hidden_layer_sizes=(32,), max_iter=35, tol=None, batch_size=50, n_init=1)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, centers=3, cluster_std=0.6, random_state=1)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def fitted(blobs):
    return IMSATClusterer(n_clusters=3, random_state=0, **FAST).fit(blobs[0])


def test_fit_recovers_blobs_and_sets_attributes(blobs, fitted):
    X, y = blobs
    assert clustering_accuracy(y, fitted.labels_) >= 0.99
    assert fitted.labels_.dtype == np.int64 and fitted.labels_.shape == (300,)
    assert fitted.n_iter_ == 35 and len(fitted.loss_curve_) == 35
    assert set(fitted.loss_parts_) == {"R_SAT", "H(Y|X)", "H(Y)"}
    assert all(len(v) == 35 for v in fitted.loss_parts_.values())
    assert fitted.n_features_in_ == 2


def test_predict_proba_transform_and_score(blobs, fitted):
    X, _ = blobs
    proba = fitted.predict_proba(X)
    assert proba.shape == (300, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(fitted.transform(X), proba)
    np.testing.assert_array_equal(fitted.predict(X), fitted.labels_)
    # Well separated, balanced clusters: I(X;Y) close to its maximum log(3).
    assert np.log(3) - 0.05 < fitted.score(X) <= np.log(3) + 1e-6


def test_fit_predict_equals_labels(blobs):
    model = IMSATClusterer(n_clusters=3, random_state=1, **FAST)
    np.testing.assert_array_equal(model.fit_predict(blobs[0]), model.labels_)


def test_same_random_state_gives_identical_results(blobs):
    a = IMSATClusterer(n_clusters=3, random_state=7, **FAST).fit(blobs[0])
    b = IMSATClusterer(n_clusters=3, random_state=7, **FAST).fit(blobs[0])
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(blobs[0]), b.predict_proba(blobs[0]))


def test_fit_leaves_global_random_states_alone(blobs):
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    IMSATClusterer(n_clusters=3, random_state=0, **FAST).fit(blobs[0])
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == numpy_state[1].tolist()


def test_pipeline_and_clone(blobs):
    pipe = make_pipeline(StandardScaler(), IMSATClusterer(n_clusters=3, random_state=0, **FAST))
    labels = pipe.fit_predict(blobs[0])
    assert clustering_accuracy(blobs[1], labels) >= 0.99
    copy = clone(pipe)
    with pytest.raises(NotFittedError):
        copy.predict(blobs[0])


def test_grid_search_picks_by_unsupervised_score(blobs):
    search = GridSearchCV(
        IMSATClusterer(random_state=0, **FAST),
        {"lam": [0.05, 0.2], "n_clusters": [2, 3]},
        cv=2,
    )
    search.fit(blobs[0])
    # Mutual information rewards using three equally likely clusters on three blobs.
    assert search.best_params_["n_clusters"] == 3
    assert clustering_accuracy(blobs[1], search.best_estimator_.predict(blobs[0])) >= 0.99


@pytest.mark.parametrize("dump,load", [(pickle.dumps, pickle.loads), ("joblib", "joblib")])
def test_pickle_and_joblib_round_trips(blobs, fitted, dump, load):
    if dump == "joblib":
        buffer = io.BytesIO()
        joblib.dump(fitted, buffer)
        buffer.seek(0)
        restored = joblib.load(buffer)
    else:
        restored = load(dump(fitted))
    np.testing.assert_array_equal(restored.predict_proba(blobs[0]), fitted.predict_proba(blobs[0]))
    np.testing.assert_array_equal(restored.labels_, fitted.labels_)
    assert restored.get_params() == fitted.get_params()


def test_unknown_format_version_is_a_clear_error(fitted):
    state = fitted.__getstate__()
    state["_network_state"]["format_version"] = 999
    restored = IMSATClusterer.__new__(IMSATClusterer)
    with pytest.raises(ValueError, match="format version 999"):
        restored.__setstate__(state)


def test_float32_input_is_used_without_copy_and_never_modified(blobs):
    X = np.ascontiguousarray(blobs[0], dtype=np.float32)
    before = X.copy()
    IMSATClusterer(n_clusters=3, random_state=0, **FAST).fit(X)
    np.testing.assert_array_equal(X, before)


def test_float64_and_int_inputs_are_accepted(blobs):
    X64 = blobs[0].astype(np.float64)
    model = IMSATClusterer(n_clusters=3, random_state=0, **FAST).fit(X64)
    assert clustering_accuracy(blobs[1], model.labels_) >= 0.99
    Xint = np.round(X64 * 10).astype(np.int64)
    assert IMSATClusterer(n_clusters=3, random_state=0, **FAST).fit(Xint).labels_.shape == (300,)


def test_fixed_eps_and_rpt_fit(blobs):
    model = IMSATClusterer(n_clusters=3, eps=0.5, augmentation="rpt", random_state=0, **FAST)
    assert clustering_accuracy(blobs[1], model.fit(blobs[0]).labels_) >= 0.99


def test_linear_model(blobs):
    model = IMSATClusterer(n_clusters=3, random_state=0, **{**FAST, "hidden_layer_sizes": ()})
    model.fit(blobs[0])
    assert len(model.network_.hidden) == 0
    assert clustering_accuracy(blobs[1], model.labels_) > 0.95


def test_fit_on_separated_blobs_stops_on_convergence(blobs):
    model = IMSATClusterer(n_clusters=3, hidden_layer_sizes=(32,), batch_size=50, n_init=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(blobs[0])
    assert model.n_iter_ < model.max_iter
    assert len(model.loss_curve_) == model.n_iter_
    assert clustering_accuracy(blobs[1], model.labels_) > 0.95


def test_max_iter_is_a_hard_cap_with_a_convergence_warning(blobs):
    model = IMSATClusterer(n_clusters=3, max_iter=2, n_init=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=2 epochs before converging"):
        model.fit(blobs[0])
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2


def test_tol_none_runs_every_epoch_without_warning(blobs):
    model = IMSATClusterer(n_clusters=3, hidden_layer_sizes=(8,), max_iter=3, tol=None, random_state=0)
    with warnings.catch_warnings():
        # Only the max_iter warning: three epochs may well leave a cluster empty.
        warnings.filterwarnings("error", message=".*max_iter", category=ConvergenceWarning)
        model.fit(blobs[0])
    assert model.n_iter_ == 3


def test_min_updates_is_deprecated_but_still_adds_passes(blobs):
    model = IMSATClusterer(n_clusters=3, batch_size=100, max_iter=4, min_updates=30)
    with pytest.warns(FutureWarning, match="min_updates was deprecated"):
        schedule = make_schedule(model, 300)
    # 3 updates per pass, 4 epochs: ceil(30 / 12) = 3 passes per epoch.
    assert schedule.passes_per_epoch == 3 and schedule.max_epochs == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert make_schedule(IMSATClusterer(), 70000).passes_per_epoch == 1


@pytest.mark.parametrize(
    "n_samples, width", [(300, 128), (1797, 128), (10000, 500), (24000, 1200), (70000, 1200)]
)
def test_auto_hidden_layer_sizes_follow_the_number_of_samples(n_samples, width):
    assert hidden_layer_sizes("auto", n_samples) == (width, width)
    assert hidden_layer_sizes((7, 5), n_samples) == (7, 5)


@pytest.mark.parametrize(
    "n_samples, batch_size, max_iter, n_init, trial_epochs",
    [
        (2, 2, 200, 5, None),
        (4999, 100, 200, 5, None),
        (5000, 100, 200, 3, 40),
        (10000, 100, 200, 3, 20),
        (70000, 250, 200, 3, 8),
        (10000, 100, 20, 3, None),
    ],
)
def test_auto_n_init_trains_five_networks_below_5000_samples_and_races_three_from_there(
    n_samples, batch_size, max_iter, n_init, trial_epochs
):
    # From 5,000 samples, three trainings race for 2,000 updates (whole epochs),
    # unless the race would be the whole schedule.
    schedule = Schedule(batch_size=batch_size, max_epochs=max_iter)
    expected = {"n_init": n_init, "trial_epochs": trial_epochs}
    assert resolve_n_init("auto", n_samples, schedule) == expected
    assert resolve_n_init(2, n_samples, schedule) == {"n_init": 2, "trial_epochs": None}


def _race_blobs():
    X, _ = make_blobs(n_samples=5000, centers=3, n_features=4, cluster_std=3.0, random_state=0)
    return X.astype(np.float32)


def test_auto_n_init_races_three_trainings_then_trains_the_kept_one_on(capsys, monkeypatch):
    picked = []

    def pick_the_last(self, objective, outputs):
        picked.append(len(outputs))
        return len(outputs) - 1

    monkeypatch.setattr(IMSATClusterer, "_pick", pick_the_last)
    # 5,000 samples in minibatches of 1,000: 5 updates an epoch, so a race of 10 updates is 2 epochs.
    monkeypatch.setattr(_plan, "_AUTO_RACE_UPDATES", 10)
    est = IMSATClusterer(
        n_clusters=3, hidden_layer_sizes=(8,), batch_size=1000, max_iter=5, tol=None, verbose=1, random_state=0
    ).fit(_race_blobs())
    heads = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("epoch")]
    assert heads == [
        f"IMSATClusterer: initialisation {k}/3 (2 epochs, then the kept one trains on)" for k in (1, 2, 3)
    ] + ["IMSATClusterer: initialisation 3/3 kept, training on"]
    assert picked == [3]
    assert est.n_iter_ == 5 and len(est.loss_curve_) == 5
    assert all(len(values) == 5 for values in est.loss_parts_.values())
    # The kept training went on with its own generator and optimizer: it is the
    # third of three trainings run to the end from the same random_state.
    whole = clone(est).set_params(n_init=3, verbose=0).fit(_race_blobs())
    assert whole.loss_curve_ == est.loss_curve_
    for a, b in zip(whole.network_.state_dict().values(), est.network_.state_dict().values()):
        assert torch.equal(a, b)


def test_auto_n_init_race_is_the_plain_n_init_when_max_iter_is_the_trial(capsys, monkeypatch):
    monkeypatch.setattr(_plan, "_AUTO_RACE_UPDATES", 10)
    est = IMSATClusterer(
        n_clusters=3, hidden_layer_sizes=(8,), batch_size=1000, max_iter=2, tol=None, verbose=1, random_state=0
    ).fit(_race_blobs())
    heads = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("epoch")]
    assert heads == [f"IMSATClusterer: initialisation {k}/3" for k in (1, 2, 3)]
    assert est.n_iter_ == 2


@pytest.mark.parametrize(
    "n_samples, n_clusters, expected",
    [(1797, 10, 100), (10000, 10, 100), (10000, 20, 200), (4840, 242, 250), (23999, 10, 100),
     (24000, 10, 250), (70000, 10, 250), (60, 10, 60)],
)
def test_auto_batch_size_is_100_below_24000_samples_and_never_too_few_per_cluster(
    n_samples, n_clusters, expected
):
    model = IMSATClusterer(n_clusters=n_clusters)
    with warnings.catch_warnings():
        # "auto" is clipped to n_samples without the warning an explicit batch_size gets.
        warnings.simplefilter("error")
        assert make_schedule(model, n_samples).batch_size == expected
        assert make_schedule(model, n_samples, incremental=True).batch_size == min(250, n_samples)
    # In data-parallel training every process takes an equal share of the minibatch.
    assert make_schedule(model, n_samples, world_size=3).batch_size == expected - expected % 3
    if n_samples >= 64:
        assert make_schedule(model.set_params(batch_size=64), n_samples).batch_size == 64


def test_auto_batch_size_is_an_option_of_the_clusterer_only():
    X = np.zeros((20, 2))
    with pytest.raises(ValueError, match="batch_size"):
        IMSATHasher(batch_size="auto").fit(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_default_fit_on_small_data_trains_five_networks(blobs, capsys):
    IMSATClusterer(n_clusters=3, hidden_layer_sizes=(16,), max_iter=1, verbose=1, random_state=0).fit(blobs[0])
    inits = [line for line in capsys.readouterr().out.splitlines() if "initialisation" in line]
    assert inits == [f"IMSATClusterer: initialisation {i}/5" for i in range(1, 6)]


def _vat_step(X, **params):
    model = IMSATClusterer(n_clusters=3, **params)
    plan = make_plan(model, X, comm=SingleProcess(), incremental=False)
    (vat,) = plan.augmentations
    return vat.xi, float(plan.radius.mean())


def test_auto_xi_is_eight_mean_radii_and_follows_the_scale_of_x(blobs):
    X = blobs[0].astype(np.float32)
    xi, radius = _vat_step(X)
    assert xi == pytest.approx(8 * radius, rel=1e-6)
    # The paper's fixed step means something else once X is rescaled; "auto" does not.
    scaled_xi, scaled_radius = _vat_step(100 * X)
    assert scaled_radius == pytest.approx(100 * radius, rel=1e-5)
    assert scaled_xi == pytest.approx(100 * xi, rel=1e-5)
    assert _vat_step(100 * X, xi=10.0)[0] == 10.0


def test_auto_xi_with_a_zero_radius_keeps_a_positive_step(blobs):
    assert _vat_step(blobs[0], eps=0.0)[0] > 0


@pytest.mark.parametrize(
    "n_samples, expected",
    [(1797, 0.25), (4999, 0.25), (5000, 0.3), (10000, 0.3), (23999, 0.3), (24000, 0.25), (70000, 0.25),
     (None, 0.25)],
)
def test_auto_eps_scale_is_the_papers_except_from_5000_to_23999_samples(n_samples, expected):
    assert resolve_eps_scale("auto", n_samples) == expected
    assert resolve_eps_scale(0.5, n_samples) == 0.5


@pytest.mark.parametrize(
    "n_samples, eps_scale, expected", [(300, "auto", 0.25), (5000, "auto", 0.3), (5000, 0.5, 0.5)]
)
def test_the_radius_of_a_fit_is_eps_scale_times_the_knn_distance(n_samples, eps_scale, expected):
    X = np.random.RandomState(0).rand(n_samples, 3).astype(np.float32)
    model = IMSATClusterer(n_clusters=3, eps_scale=eps_scale)
    plan = make_plan(model, X, comm=SingleProcess(), incremental=False)
    tenth = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)[0][:, 10]
    np.testing.assert_allclose(plan.radius.numpy(), expected * tenth, rtol=1e-4)
    # partial_fit cannot see the size of the stream and keeps the paper's multiplier.
    chunk = make_plan(clone(model), X, comm=SingleProcess(), incremental=True)
    np.testing.assert_allclose(chunk.radius.numpy(), (0.25 if eps_scale == "auto" else 0.5) * tenth, rtol=1e-4)


def test_the_hasher_keeps_the_papers_eps_scale_and_takes_the_rule_when_asked():
    assert IMSATHasher().eps_scale == 0.25
    X = np.random.RandomState(0).rand(5000, 3).astype(np.float32)
    plan = make_plan(IMSATHasher(n_bits=4, eps_scale="auto"), X, comm=SingleProcess(), incremental=False)
    tenth = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)[0][:, 10]
    np.testing.assert_allclose(plan.radius.numpy(), 0.3 * tenth, rtol=1e-4)
    with pytest.raises(ValueError, match="eps_scale"):
        IMSATHasher(eps_scale="large").fit(X[:40])


def test_verbose_prints_the_init_and_one_line_per_epoch(blobs, capsys):
    IMSATClusterer(n_clusters=3, max_iter=2, n_init=2, verbose=1, random_state=0, **{
        k: v for k, v in FAST.items() if k not in ("max_iter", "n_init")
    }).set_params(tol=None).fit(blobs[0])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "IMSATClusterer: initialisation 1/2"
    assert lines[3] == "IMSATClusterer: initialisation 2/2"
    assert lines[1].startswith("epoch   1/2  loss=") and "changed=nan%" in lines[1]
    assert "R_SAT=" in lines[2] and "changed=" in lines[2] and lines[2].endswith("s")


def test_silent_when_not_verbose(blobs, capsys):
    IMSATClusterer(n_clusters=3, random_state=0, **FAST).fit(blobs[0])
    assert capsys.readouterr().out == ""


def test_device_cuda_without_gpu_is_a_clear_error(blobs):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available")
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not available"):
        IMSATClusterer(n_clusters=3, device="cuda", **FAST).fit(blobs[0])


def test_unknown_device_is_a_clear_error(blobs):
    with pytest.raises(ValueError, match="device='tpu9' is not a valid device"):
        IMSATClusterer(n_clusters=3, device="tpu9", **FAST).fit(blobs[0])


def test_fewer_samples_than_clusters_is_a_clear_error():
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_clusters=10"):
        IMSATClusterer(**FAST).fit(np.random.RandomState(0).rand(5, 3))


def test_bad_hidden_layer_sizes_is_a_clear_error(blobs):
    with pytest.raises(ValueError, match="hidden_layer_sizes must be a tuple of positive ints"):
        IMSATClusterer(n_clusters=3, **{**FAST, "hidden_layer_sizes": (10, -1)}).fit(blobs[0])


def test_predict_before_fit_raises_not_fitted(blobs):
    with pytest.raises(NotFittedError):
        IMSATClusterer().predict(blobs[0])


def test_nan_input_is_rejected_naming_x(blobs, fitted):
    X = blobs[0].copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        IMSATClusterer(n_clusters=3, **FAST).fit(X)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(X)


def test_wrong_feature_count_at_predict(fitted):
    with pytest.raises(ValueError, match="X has 3 features, but IMSATClusterer is expecting 2 features"):
        fitted.predict(np.zeros((4, 3)))


class _InterruptAtFirstCall:
    def __call__(self, X, generator):
        raise KeyboardInterrupt


def test_interrupt_before_one_epoch_propagates_and_keeps_the_model(blobs):
    model = IMSATClusterer(n_clusters=3, random_state=0, **FAST).fit(blobs[0])
    weights = {k: v.clone() for k, v in model.network_.state_dict().items()}
    with pytest.raises(KeyboardInterrupt):
        model.set_params(augmentation=["vat", _InterruptAtFirstCall()]).fit(blobs[0])
    assert all(torch.equal(v, weights[k]) for k, v in model.network_.state_dict().items())
    with pytest.raises(KeyboardInterrupt):
        IMSATClusterer(n_clusters=3, augmentation=_InterruptAtFirstCall(), **FAST).fit(blobs[0])


def test_predict_takes_arrays_with_negative_strides(blobs, fitted):
    reversed_rows = blobs[0][::-1]
    np.testing.assert_array_equal(fitted.predict(reversed_rows), fitted.predict(blobs[0])[::-1])


def test_single_epoch_cap_warning_says_why(blobs):
    with pytest.warns(ConvergenceWarning, match="a single epoch cannot show"):
        IMSATClusterer(n_clusters=3, max_iter=1, n_init=1, random_state=0).fit(blobs[0])
