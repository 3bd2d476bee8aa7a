"""scikit-learn's estimator checks over the IMSAT estimators."""

import pytest
from sklearn.cluster import KMeans
from sklearn.utils import ClassifierTags
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn.augment import GaussianNoise
from imsat_sklearn.estimator_checks import expected_failed_checks

# Small networks and schedules keep the ~50 checks per instance fast. The
# default instances are checked too, as they are: their fits stop on
# convergence and size the network from the data (about 30 s each on 2 cores).
FAST = dict(hidden_layer_sizes=(32,), max_iter=10, batch_size=10, n_init=1, random_state=0)

FAST_INSTANCES = [
    IMSATClusterer(n_clusters=3, **FAST),
    IMSATHasher(n_bits=4, **FAST),
    IMSATClusterer(n_clusters=3, augmentation=["rpt", GaussianNoise(0.05)], **FAST),
]

# No expected failures: with _for_check below, every check must pass.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(FAST_INSTANCES, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible(estimator, check):
    check(_for_check(estimator, check))


# scikit-learn's sparse-container checks (every sparse format, int64 indices
# included: fit, predict, predict_proba) assume that an estimator with
# predict_proba is a classifier: they read tags.classifier_tags.multi_class,
# None for other estimators, and expect 4 columns, as many as the classes of
# their y. For these checks only, the estimator gets 4 outputs and classifier
# tags; the library's own tags stay those of a clusterer and a transformer.
_SPARSE_CONTAINER_CHECKS = {"check_estimator_sparse_array", "check_estimator_sparse_matrix"}


def _for_check(estimator, check):
    if getattr(check, "func", check).__name__ not in _SPARSE_CONTAINER_CHECKS:
        return estimator

    class WithClassifierTags(type(estimator)):
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.classifier_tags = ClassifierTags(multi_class=True)
            return tags

    width = "n_clusters" if "n_clusters" in estimator.get_params() else "n_bits"
    return WithClassifierTags(**{**estimator.get_params(), width: 4})


@parametrize_with_checks(
    [IMSATClusterer(), IMSATHasher()],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_default_instance(estimator, check):
    check(_for_check(estimator, check))


# --------------------------------------------------------------------------
# plain check_estimator, with the expected failures the package publishes
# --------------------------------------------------------------------------

SPARSE_CONTAINER_CHECKS = {"check_estimator_sparse_array", "check_estimator_sparse_matrix"}


@pytest.mark.parametrize("estimator", FAST_INSTANCES, ids=repr)
def test_plain_check_estimator_fails_only_the_expected_checks(estimator):
    expected = expected_failed_checks(estimator)
    assert set(expected) == SPARSE_CONTAINER_CHECKS
    # Raises on any failure not in expected.
    results = check_estimator(estimator, expected_failed_checks=expected, on_skip=None)
    # Each listed check really fails: the list is not stale.
    assert {r["check_name"] for r in results if r["status"] == "xfail"} == set(expected)


@pytest.mark.parametrize("estimator", FAST_INSTANCES[:2], ids=repr)
def test_expected_failures_name_the_assumption_of_scikit_learn(estimator):
    width = "n_clusters" if "n_clusters" in estimator.get_params() else "n_bits"
    for reason in expected_failed_checks(estimator).values():
        assert reason.startswith("scikit-learn's check assumes that an estimator with predict_proba is a classifier")
        assert "tags.classifier_tags.multi_class, which is None" in reason
        assert f"{width}={estimator.get_params()[width]}" in reason


@pytest.mark.parametrize("estimator", FAST_INSTANCES[:2], ids=repr)
def test_no_expected_failures_once_the_assumption_holds(estimator):
    # _for_check gives classifier tags and the 4 columns the checks expect.
    for check in SPARSE_CONTAINER_CHECKS:
        assert expected_failed_checks(_for_check(estimator, _named(check))) == {}


def _named(name):
    def check():
        pass

    check.__name__ = name
    return check


def test_expected_failed_checks_refuses_other_estimators():
    with pytest.raises(TypeError, match="estimator must be an IMSATClusterer or IMSATHasher instance, got KMeans"):
        expected_failed_checks(KMeans())
