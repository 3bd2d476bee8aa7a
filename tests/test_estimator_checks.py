"""scikit-learn's estimator checks over the IMSAT estimators."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn.augment import GaussianNoise

# Small networks and schedules keep the ~50 checks per instance fast. The
# default instances are checked too, with their full default schedules, as
# exhaustive tests (each check's fits run 2,000 updates of a 1200-1200 or 400-400
# network).
FAST = dict(hidden_layer_sizes=(32,), max_iter=3, min_updates=30, n_init=1, random_state=0)

# No expected failures: every check must pass.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    [
        IMSATClusterer(n_clusters=3, **FAST),
        IMSATHasher(n_bits=4, **FAST),
        IMSATClusterer(n_clusters=3, augmentation=["rpt", GaussianNoise(0.05)], **FAST),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.exhaustive
@parametrize_with_checks(
    [IMSATClusterer(), IMSATHasher()],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_default_instance(estimator, check):
    check(estimator)
