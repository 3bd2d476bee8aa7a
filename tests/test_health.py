"""Saying when a fit went wrong: degenerate batch sizes, the health of the fitted
assignments (cluster sizes, bit frequencies) and the warnings of cut-short runs."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from imsat_sklearn import IMSATClusterer, IMSATHasher, _plan
from imsat_sklearn._torch.parallel import SingleProcess

# Most fits here are two epochs long, too short to fill every cluster: the
# tests that are about that warning catch it with pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore:IMSATClusterer.*clusters are empty:sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_iter=2, tol=None, batch_size=50, random_state=0, device="cpu")


def clusterer(**params):
    return IMSATClusterer(**{"n_clusters": 3, **FAST, **params})


def hasher(**params):
    return IMSATHasher(**{"n_bits": 4, **FAST, **params})


BOTH = pytest.mark.parametrize("make", [clusterer, hasher], ids=["clusterer", "hasher"])


@pytest.fixture(scope="module")
def X():
    data, _ = make_blobs(n_samples=200, centers=3, cluster_std=0.6, random_state=1)
    return data.astype(np.float32)


def _messages(record, text):
    return [str(w.message) for w in record if text in str(w.message)]


# ---- batch sizes -------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_batch_size_one_is_refused_saying_why(make, X, method):
    with pytest.raises(ValueError, match=r"batch_size=1 makes the objective degenerate.*H\(Y\) equals H\(Y\|X\)"):
        getattr(make(batch_size=1), method)(X)


class _CommThatMustNotBeAsked(SingleProcess):
    def check_batch_size(self, batch_size):
        raise AssertionError("batch_size=1 must be refused before the communicator checks it")


def test_batch_size_one_is_refused_on_the_distributed_path_too(X):
    # fit_distributed trains through _fit with its communicator.
    with pytest.raises(ValueError, match="batch_size=1 makes the objective degenerate"):
        clusterer(batch_size=1)._fit(X, comm=_CommThatMustNotBeAsked(), random_state=0)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_batch_size_below_n_clusters_warns(X, method):
    with pytest.warns(UserWarning, match=r"batch_size=5 < n_clusters=10: a minibatch cannot hold every cluster"):
        getattr(clusterer(n_clusters=10, batch_size=5, max_iter=1), method)(X)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_batch_size_up_to_n_bits_warns_for_the_hasher(X, method):
    with pytest.warns(UserWarning, match=r"batch_size=8 <= n_bits=8: a minibatch needs more than n_bits samples"):
        getattr(hasher(n_bits=8, batch_size=8, max_iter=1), method)(X)


@pytest.mark.parametrize(
    "model", [clusterer(n_clusters=10, batch_size=10, max_iter=1), hasher(n_bits=8, batch_size=9, max_iter=1)]
)
def test_batch_size_at_the_threshold_does_not_warn(X, model):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.fit(X)
    assert _messages(record, "batch_size") == []


def test_batch_size_capped_to_n_samples_is_compared_after_the_cap():
    X = np.random.RandomState(0).rand(12, 2).astype(np.float32)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clusterer(n_clusters=12, batch_size=250, max_iter=1).fit(X)
    assert _messages(record, "batch_size") == ["Got batch_size=250 > n_samples=12; using batch_size=12."]


# ---- fitted health attributes ------------------------------------------------


def test_cluster_sizes_count_the_labels_of_each_call(X):
    model = clusterer(n_clusters=4).fit(X)
    assert model.cluster_sizes_.shape == (4,) and model.cluster_sizes_.dtype == np.int64
    np.testing.assert_array_equal(model.cluster_sizes_, np.bincount(model.labels_, minlength=4))
    assert model.cluster_sizes_.sum() == len(X)
    model.partial_fit(X[:60])
    np.testing.assert_array_equal(model.cluster_sizes_, np.bincount(model.predict(X[:60]), minlength=4))
    assert model.cluster_sizes_.sum() == 60


def test_bit_frequencies_are_the_fraction_of_ones_of_each_call(X):
    model = hasher(n_bits=6).fit(X)
    assert model.bit_frequencies_.shape == (6,) and model.bit_frequencies_.dtype == np.float64
    np.testing.assert_array_equal(model.bit_frequencies_, model.transform(X).mean(axis=0))
    model.partial_fit(X[:60])
    np.testing.assert_array_equal(model.bit_frequencies_, model.transform(X[:60]).mean(axis=0))


# ---- health warnings -----------------------------------------------------------


def test_a_healthy_fit_does_not_warn(X):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = clusterer(max_iter=35, hidden_layer_sizes=(32,)).fit(X)
        hasher(max_iter=35, hidden_layer_sizes=(32,)).fit(X)
    assert (model.cluster_sizes_ > 40).all()


def test_empty_clusters_warn_naming_the_parameters(X):
    with pytest.warns(
        ConvergenceWarning,
        match=r"IMSATClusterer\.fit: \d+ of n_clusters=10 clusters are empty.*Raise mu \(now 4\.0\), "
        r"lower learning_rate \(now 1\.0\)",
    ):
        model = clusterer(n_clusters=10, learning_rate=1.0, max_iter=5).fit(X)
    assert (model.cluster_sizes_ == 0).any()


def test_the_advice_names_the_radius_multiplier_that_eps_scale_auto_took(X):
    with pytest.warns(ConvergenceWarning, match=r"eps_scale \(now 'auto', 0\.25 on this data\)"):
        clusterer(n_clusters=10, learning_rate=1.0, max_iter=2).fit(X)
    with pytest.warns(ConvergenceWarning, match=r"eps_scale \(now 0\.5\)"):
        clusterer(n_clusters=10, learning_rate=1.0, max_iter=2, eps_scale=0.5).fit(X)
    # From 5,000 samples "auto" takes 0.3; one repeated row fails the fit.
    with pytest.warns(ConvergenceWarning, match=r"eps_scale \(now 'auto', 0\.3 on this data\)"):
        clusterer(learning_rate=1.0, max_iter=1, n_init=1).fit(np.tile(X[:1], (5000, 1)))


@BOTH
def test_the_advice_names_the_trainings_that_n_init_auto_ran(make, X):
    with pytest.warns(ConvergenceWarning, match=r"or raise n_init \(now 'auto', 5 trainings on this data\)"):
        make(learning_rate=1.0, max_iter=2, n_init="auto").fit(X)
    with pytest.warns(ConvergenceWarning, match=r"or raise n_init \(now 2\)"):
        make(learning_rate=1.0, max_iter=2, n_init=2).fit(X)
    with pytest.warns(ConvergenceWarning, match=r"several networks with n_init > 1 \(now 1\)"):
        make(learning_rate=1.0, max_iter=2, n_init=1).fit(X)
    # From 5,000 samples "auto" races three trainings; one repeated row fails every one of them.
    big = np.tile(X[:1], (5000, 1))
    with pytest.warns(ConvergenceWarning, match=r"or raise n_init \(now 'auto', 3 trainings on this data\)"):
        make(learning_rate=1.0, max_iter=1, n_init="auto").fit(big)


@BOTH
def test_the_advice_after_a_race_says_what_an_integer_n_init_costs(make, X, monkeypatch):
    # 5,000 rows in minibatches of 50: a race of 100 updates is one epoch of two.
    monkeypatch.setattr(_plan, "_AUTO_RACE_UPDATES", 100)
    advice = (
        r"or raise n_init \(now 'auto', a race of 3 trainings on this data; "
        r"an integer n_init trains every network to the end\)"
    )
    with pytest.warns(ConvergenceWarning, match=advice):
        make(learning_rate=1.0, max_iter=2, n_init="auto").fit(np.tile(X[:1], (5000, 1)))


def _clusterer_with_sizes(sizes, prior=None):
    model = IMSATClusterer(n_clusters=len(sizes), prior=prior)
    model.cluster_sizes_ = np.asarray(sizes, dtype=np.int64)
    return model


def test_collapse_is_measured_against_the_prior():
    assert "collapsed" in _clusterer_with_sizes([97, 1, 1, 1])._health_problem(1)
    assert _clusterer_with_sizes([30, 25, 25, 20])._health_problem(1) is None
    # Entropy 0.50 nats: 36% of log(4), but 53% of the entropy of this prior.
    lopsided = [88, 4, 4, 4]
    message = _clusterer_with_sizes(lopsided)._health_problem(1)
    assert "entropy of the cluster sizes is 0.50 nats, below 50% of log(n_clusters) = 1.39" in message
    assert _clusterer_with_sizes(lopsided, prior=[0.7, 0.1, 0.1, 0.1])._health_problem(1) is None
    assert "of the entropy of prior = 0.94" in _clusterer_with_sizes([97, 1, 1, 1], prior=[0.7, 0.1, 0.1, 0.1])._health_problem(1)
    assert _clusterer_with_sizes([10])._health_problem(1) is None


def test_constant_bits_warn_naming_the_parameters(X):
    with pytest.warns(
        ConvergenceWarning,
        match=r"IMSATHasher\.fit: \d+ of n_bits=4 bits are constant.*Lower learning_rate \(now 1\.0\)",
    ):
        model = hasher(learning_rate=1.0, max_iter=5).fit(X)
    assert np.isin(model.bit_frequencies_, [0, 1]).any()


def test_one_code_for_every_sample_is_named():
    model = IMSATHasher(n_bits=3)
    model.bit_frequencies_ = np.array([0.0, 1.0, 0.0])
    assert "all n_bits=3 bits are constant: every training sample has the same code" in model._health_problem(1)
    model.bit_frequencies_ = np.array([0.0, 0.5, 0.2])
    assert "1 of n_bits=3 bits are constant (bits [0]" in model._health_problem(1)
    model.bit_frequencies_ = np.array([0.01, 0.5, 0.99])
    assert model._health_problem(1) is None


def test_partial_fit_reports_the_chunk_without_warning(X):
    # A chunk of a sorted stream holds one class: its empty clusters say
    # nothing of the model, so partial_fit records them without a warning.
    labels = make_blobs(n_samples=200, centers=3, cluster_std=0.6, random_state=1)[1]
    model = clusterer(max_iter=30, tol=None).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.partial_fit(X[labels == 0])
    assert model.cluster_sizes_.sum() == np.sum(labels == 0)
    assert np.count_nonzero(model.cluster_sizes_) < 3


# ---- cut-short runs name the method and the cumulative n_iter_ -------------------


class _OnCall:
    """An augmentation that raises KeyboardInterrupt, or returns NaN, on its ``n``-th call."""

    def __init__(self, n, action="interrupt"):
        self.n, self.action, self.calls = n, action, 0

    def __call__(self, X, generator):
        self.calls += 1
        if self.calls >= self.n:
            if self.action == "interrupt":
                raise KeyboardInterrupt
            return X * float("nan")
        return X


def test_an_interrupted_training_is_not_kept_when_others_finished(X):
    # Call 1 is make_plan's trial, then 4 minibatches an epoch, 2 epochs a
    # training: call 22 is in the second epoch of the third training, which
    # has one completed epoch to offer against the two finished trainings.
    model = clusterer(n_init=4, augmentation=_OnCall(22))
    with pytest.warns(UserWarning, match=r"interrupted during initialisation 3/4; keeping the best of the 2 completed"):
        model.fit(X)
    assert model.n_iter_ == 2


class _OnCalls(_OnCall):
    """An augmentation that returns NaN on the calls in ``calls`` only."""

    def __init__(self, calls):
        super().__init__(0)
        self.nan_calls = calls

    def __call__(self, X, generator):
        self.calls += 1
        return X * float("nan") if self.calls in self.nan_calls else X


@pytest.fixture
def race_X(X, monkeypatch):
    """5,000 distinct rows, and a race of one epoch (100 minibatches of 50) in n_init="auto"."""
    monkeypatch.setattr(_plan, "_AUTO_RACE_UPDATES", 100)
    noise = np.random.RandomState(0).normal(scale=0.05, size=(5000, X.shape[1]))
    return (np.tile(X, (25, 1)) + noise).astype(np.float32)


def test_an_interrupted_race_keeps_a_raced_training_without_a_convergence_warning(race_X):
    # Call 1 is make_plan's trial, calls 2-101 the first training's race epoch:
    # call 102 interrupts the second training. The first was paused, not capped.
    model = clusterer(n_init="auto", max_iter=3, tol=0.01, augmentation=_OnCall(102))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(race_X)
    messages = [str(w.message) for w in caught]
    raced = (
        "during initialisation 2/3; keeping the best of the 1 earlier one(s), after their race of 1 epoch(s) "
        "(n_iter_=1)"
    )
    assert any(raced in m for m in messages)
    assert not any("reached max_iter" in m for m in messages)
    assert model.n_iter_ == 1


def test_a_diverged_training_is_not_kept_when_others_ran_normally(race_X, monkeypatch):
    offered = []
    pick = IMSATClusterer._pick

    def spy(self, objective, outputs):
        offered.append(len(outputs))
        return pick(self, objective, outputs)

    monkeypatch.setattr(IMSATClusterer, "_pick", spy)
    monkeypatch.setattr(_plan, "_AUTO_RACE_UPDATES", 200)
    # Races of 2 epochs: calls 102-201 are the first training's second epoch, which diverges.
    model = clusterer(n_init="auto", max_iter=3, augmentation=_OnCalls(range(150, 160)))
    model.fit(race_X)
    assert offered == [2]
    assert model.n_iter_ == 3 and np.isfinite(model.loss_curve_).all()


def test_interrupt_during_a_later_init_warns_and_keeps_the_completed_one(X):
    # Call 1 is make_plan's trial; 4 minibatches an epoch, 2 epochs a training:
    # call 10 is the first minibatch of the second training.
    model = clusterer(n_init=3, augmentation=_OnCall(10))
    with pytest.warns(UserWarning, match=r"IMSATClusterer\.fit was interrupted during initialisation 2/3; keeping the best of the 1 completed"):
        model.fit(X)
    assert model.n_iter_ == 2


@BOTH
def test_interrupted_warm_start_reports_the_cumulative_n_iter(make, X):
    model = make(max_iter=3, warm_start=True).fit(X)
    # The first call is make_plan's trial of the transform; then 4 minibatches
    # of 50 per epoch: the 6th call is in the second epoch.
    model.set_params(augmentation=_OnCall(6))
    name = type(model).__name__
    with pytest.warns(UserWarning, match=rf"{name}\.fit was interrupted; .*\(n_iter_=4\)"):
        model.fit(X)
    assert model.n_iter_ == 4


@BOTH
def test_diverged_warm_start_reports_the_cumulative_n_iter(make, X):
    model = make(max_iter=2, warm_start=True).fit(X)
    model.set_params(augmentation=_OnCall(6, action="nan"))
    name = type(model).__name__
    with pytest.warns(ConvergenceWarning, match=rf"{name}\.fit diverged after 1 epoch\(s\).*\(n_iter_=3\)"):
        model.fit(X)
    assert model.n_iter_ == 3 and np.isfinite(model.loss_curve_).all()


@BOTH
def test_diverged_partial_fit_is_named(make, X):
    model = make().partial_fit(X)
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"{name}\.partial_fit diverged in its first epoch"):
        # Call 1 is make_plan's trial of the transform, call 2 the first minibatch.
        model.set_params(augmentation=_OnCall(2, action="nan")).partial_fit(X)
    assert model.n_iter_ == 1
