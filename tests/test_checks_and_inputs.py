"""Fits that would go wrong say so early: augmentation trials, array API input, determinism."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
import torch
from sklearn.datasets import make_blobs

import imsat_sklearn._base
import imsat_sklearn._plan
from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn.augment import GaussianNoise

FAST = dict(hidden_layer_sizes=(16,), max_iter=4, tol=None, batch_size=20, n_init=1, random_state=0)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=80, centers=3, n_features=4, cluster_std=0.6, random_state=1)
    return X.astype(np.float32)


@pytest.fixture
def no_training(monkeypatch):
    """Training fails the test: errors expected from the trial must come before it."""

    def advance(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(imsat_sklearn._base.Run, "advance", advance)


# --------------------------------------------------------------------------
# a callable augmentation is tried once before training
# --------------------------------------------------------------------------


@pytest.mark.parametrize("augmentation_of", [lambda t: t, lambda t: ["vat", t]])
def test_augmentation_with_a_wrong_signature_names_the_expected_one(blobs, no_training, augmentation_of):
    def one_argument(x):
        return x

    message = r"augmentation <function .*one_argument.*> cannot be called as T\(x, generator\)"
    with pytest.raises(TypeError, match=message) as info:
        IMSATClusterer(n_clusters=3, augmentation=augmentation_of(one_argument), **FAST).fit(blobs)
    assert isinstance(info.value.__cause__, TypeError)
    assert "positional argument" in str(info.value.__cause__)


def test_type_error_raised_inside_a_two_argument_transform_is_left_as_it_is(blobs, no_training):
    def broken(x, generator):
        return x + "a"

    with pytest.raises(TypeError) as info:
        IMSATHasher(n_bits=3, augmentation=broken, **FAST).fit(blobs)
    assert "T(x, generator)" not in str(info.value)


@pytest.mark.parametrize(
    "transform, error, message",
    [
        (lambda X, g: X[:, :1], ValueError, r"returned shape \(20, 1\)"),
        (lambda X, g: X.double(), TypeError, "returned dtype torch.float64"),
        (lambda X, g: X.numpy(), TypeError, "returned ndarray"),
    ],
)
def test_wrong_output_of_a_transform_is_reported_before_training(blobs, no_training, transform, error, message):
    with pytest.raises(error, match=message):
        IMSATClusterer(n_clusters=3, augmentation=transform, **FAST).fit(blobs)


@pytest.mark.parametrize(
    "augmentation",
    [lambda X, g: X * float("nan"), GaussianNoise(std=float("inf")), ["rpt", lambda X, g: X / 0]],
)
def test_non_finite_transform_output_is_blamed_on_augmentation_not_learning_rate(blobs, augmentation):
    with pytest.raises(ValueError, match="augmentation .* returned NaN or infinite values") as info:
        IMSATClusterer(n_clusters=3, augmentation=augmentation, **FAST).fit(blobs)
    assert "learning_rate" not in str(info.value)


def test_partial_fit_tries_the_transform_too(blobs, no_training):
    with pytest.raises(ValueError, match="returned NaN or infinite values"):
        IMSATClusterer(n_clusters=3, augmentation=lambda X, g: X * float("inf"), **FAST).partial_fit(blobs)


class _Recorder:
    """A valid transform that keeps what its first call received."""

    def __init__(self):
        self.first = None

    def __call__(self, X, generator):
        if self.first is None:
            self.first = (X.clone(), torch.is_grad_enabled(), X.device)
        return X + 0.01 * torch.randn(X.shape, generator=generator, dtype=X.dtype)


@pytest.mark.parametrize("sparse", [False, True])
def test_trial_batch_is_the_first_rows_of_x_as_float32_without_gradients(blobs, no_training, sparse):
    X = blobs.astype(np.float64)
    X[X < 0] = 0
    recorder = _Recorder()
    with pytest.raises(AssertionError, match="training started"):
        IMSATClusterer(n_clusters=3, augmentation=recorder, **FAST).fit(sp.csr_matrix(X) if sparse else X)
    batch, grad_enabled, device = recorder.first
    assert batch.dtype == torch.float32 and device == torch.device("cpu") and not grad_enabled
    np.testing.assert_array_equal(batch.numpy(), X[: FAST["batch_size"]].astype(np.float32))


def test_trial_leaves_the_fit_unchanged(blobs, monkeypatch):
    params = dict(n_clusters=3, augmentation=["vat", GaussianNoise(0.1)], **FAST)
    tried = IMSATClusterer(**params).fit(blobs)
    monkeypatch.setattr(imsat_sklearn._plan, "try_transforms", lambda *args: None)
    untried = IMSATClusterer(**params).fit(blobs)
    assert tried.loss_curve_ == untried.loss_curve_
    np.testing.assert_array_equal(tried.labels_, untried.labels_)


# --------------------------------------------------------------------------
# torch tensors as X
# --------------------------------------------------------------------------


@pytest.fixture
def array_api_dispatch(monkeypatch):
    # scikit-learn refuses to turn dispatch on unless SciPy's array API flag is set.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    with sklearn.config_context(array_api_dispatch=True):
        yield


@pytest.mark.parametrize("Estimator, width", [(IMSATClusterer, "n_clusters"), (IMSATHasher, "n_bits")])
def test_torch_tensor_under_array_api_dispatch_is_a_clear_type_error(blobs, array_api_dispatch, Estimator, width):
    X = torch.from_numpy(blobs)
    model = Estimator(**{width: 3}, **FAST)
    message = (
        rf"{Estimator.__name__} does not support array API dispatch: X is a torch.Tensor .*"
        r"Pass a NumPy array \(X.cpu\(\).numpy\(\)\), or turn array_api_dispatch off"
    )
    for method in (model.fit, model.partial_fit):
        with pytest.raises(TypeError, match=message):
            method(X)
    assert not hasattr(model, "network_")
    model.fit(blobs)
    for method in (model.predict_proba, model.transform, model.score):
        with pytest.raises(TypeError, match=message):
            method(X)


def test_numpy_input_under_array_api_dispatch_fits_as_without(blobs, array_api_dispatch):
    with_dispatch = IMSATClusterer(n_clusters=3, **FAST).fit(blobs)
    with sklearn.config_context(array_api_dispatch=False):
        without = IMSATClusterer(n_clusters=3, **FAST).fit(blobs)
    assert with_dispatch.loss_curve_ == without.loss_curve_
    np.testing.assert_array_equal(with_dispatch.predict(blobs), without.predict(blobs))


def test_cpu_tensor_without_array_api_dispatch_is_taken_as_its_numpy_array(blobs):
    X = torch.from_numpy(blobs)
    from_tensor = IMSATClusterer(n_clusters=3, **FAST).fit(X)
    from_numpy = IMSATClusterer(n_clusters=3, **FAST).fit(blobs)
    assert from_tensor.loss_curve_ == from_numpy.loss_curve_
    np.testing.assert_array_equal(from_tensor.labels_, from_numpy.labels_)
    proba = from_tensor.predict_proba(X)
    assert isinstance(proba, np.ndarray)
    np.testing.assert_array_equal(proba, from_numpy.predict_proba(blobs))


def test_tags_say_no_array_api_support():
    assert sklearn.utils.get_tags(IMSATClusterer()).array_api_support is False
    assert sklearn.utils.get_tags(IMSATHasher()).array_api_support is False


# --------------------------------------------------------------------------
# the determinism promise
# --------------------------------------------------------------------------


def _fit_at(threads, Estimator, X, **params):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return Estimator(**params).fit(X)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "Estimator, params",
    [
        (IMSATClusterer, dict(n_clusters=3, augmentation=["vat", GaussianNoise(0.1)], n_init=2)),
        (IMSATHasher, dict(n_bits=4, augmentation="rpt")),
    ],
)
def test_cpu_refits_with_the_same_random_state_and_threads_are_bit_identical(blobs, threads, Estimator, params):
    params = {**FAST, **params, "random_state": 7}
    first = _fit_at(threads, Estimator, blobs, **params)
    second = _fit_at(threads, Estimator, blobs, **params)
    assert first.loss_curve_ == second.loss_curve_
    np.testing.assert_array_equal(first.predict_proba(blobs), second.predict_proba(blobs))
    if Estimator is IMSATClusterer:
        np.testing.assert_array_equal(first.labels_, second.labels_)
    weights, again = first.network_.state_dict(), second.network_.state_dict()
    assert weights.keys() == again.keys()
    for name in weights:
        assert torch.equal(weights[name], again[name]), name


@pytest.mark.parametrize("Estimator", [IMSATClusterer, IMSATHasher])
def test_random_state_docstring_states_the_conditions_of_bit_identical_fits(Estimator):
    # Other thread counts are not promised the same result, so the text must say so.
    doc = " ".join(Estimator.__doc__.split())
    promise = doc[doc.index("random_state : ") :].split("verbose : ")[0]
    for condition in ("bit-identical", "on the CPU", "torch.get_num_threads()", "versions of torch", "hardware"):
        assert condition in promise, condition
    assert "another thread count can change the result" in promise
