"""scikit-learn's estimator checks over the IMSAT estimators."""

import pytest
from sklearn.utils import ClassifierTags
from sklearn.utils.estimator_checks import parametrize_with_checks

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn.augment import GaussianNoise

# Small networks and schedules keep the ~50 checks per instance fast. The
# default instances are checked too, as they are: their fits stop on
# convergence and size the network from the data (about 30 s each on 2 cores).
FAST = dict(hidden_layer_sizes=(32,), max_iter=10, batch_size=10, n_init=1, random_state=0)

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
