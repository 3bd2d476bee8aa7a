"""scikit-learn's estimator checks and the IMSAT estimators.

scikit-learn's :func:`~sklearn.utils.estimator_checks.check_estimator` and
:func:`~sklearn.utils.estimator_checks.parametrize_with_checks` run every
check that applies to an estimator. Two of them assume that an estimator
with ``predict_proba`` is a classifier, which the IMSAT estimators are not;
:func:`expected_failed_checks` names them, with the reason, in the form
both functions take as ``expected_failed_checks``.
"""

from sklearn.utils import estimator_checks as sklearn_estimator_checks
from sklearn.utils import get_tags

from ._base import BaseIMSAT

__all__ = ["expected_failed_checks"]

# Checks of scikit-learn (from 1.6) that fit on every sparse container and
# then compare predict_proba's width with the classes of their y.
_SPARSE_CONTAINER_CHECKS = ("check_estimator_sparse_array", "check_estimator_sparse_matrix")

_SPARSE_CONTAINER_REASON = (
    "scikit-learn's check assumes that an estimator with predict_proba is a classifier: it reads "
    "tags.classifier_tags.multi_class, which is None for the {kind} {name}, and expects "
    "predict_proba to have 2 or 4 columns, as many as the classes of its y, where {name} has "
    "{param}={width}. imsat_sklearn's own tests fit and predict on every sparse container."
)


def expected_failed_checks(estimator):
    """The scikit-learn estimator checks that ``estimator`` is expected to fail, and why.

    Pass the result to scikit-learn's ``check_estimator(estimator,
    expected_failed_checks=...)``, or pass this function itself as
    ``expected_failed_checks`` to ``parametrize_with_checks``. Only checks
    that fail because of an assumption of scikit-learn's, not of the
    estimator, are listed: ``check_estimator_sparse_array`` and
    ``check_estimator_sparse_matrix`` read ``tags.classifier_tags`` of any
    estimator with ``predict_proba`` (None for a clusterer or transformer)
    and expect as many probability columns as the classes of their ``y``.
    The entries depend on the estimator (a subclass with classifier tags
    whose ``predict_proba`` has the width those checks expect gets none)
    and on the installed scikit-learn (checks it lacks are left out).

    Parameters
    ----------
    estimator : IMSATClusterer or IMSATHasher
        The estimator instance to be checked.

    Returns
    -------
    expected_failed_checks : dict of str to str
        The name of each check expected to fail, mapped to the reason.

    Raises
    ------
    TypeError
        If ``estimator`` is not an instance of an IMSAT estimator.

    See Also
    --------
    sklearn.utils.estimator_checks.check_estimator : Runs the checks.
    sklearn.utils.estimator_checks.parametrize_with_checks : The checks as
        pytest parameters.

    Examples
    --------
    >>> from imsat_sklearn import IMSATClusterer
    >>> from imsat_sklearn.estimator_checks import expected_failed_checks
    >>> model = IMSATClusterer(n_clusters=3, hidden_layer_sizes=(32,), max_iter=10, random_state=0)
    >>> sorted(expected_failed_checks(model))
    ['check_estimator_sparse_array', 'check_estimator_sparse_matrix']

    Every other check passes:

    >>> from sklearn.utils.estimator_checks import check_estimator
    >>> check_estimator(model, expected_failed_checks=expected_failed_checks(model))  # doctest: +SKIP
    """
    if not isinstance(estimator, BaseIMSAT):
        raise TypeError(
            "estimator must be an IMSATClusterer or IMSATHasher instance, got "
            f"{estimator!r} of type {type(estimator).__name__}."
        )
    param = estimator._n_outputs_param
    width = getattr(estimator, param)
    classifier_tags = get_tags(estimator).classifier_tags
    if classifier_tags is not None and width == (4 if classifier_tags.multi_class else 2):
        return {}
    kind = "clusterer" if param == "n_clusters" else "transformer"
    reason = _SPARSE_CONTAINER_REASON.format(kind=kind, name=type(estimator).__name__, param=param, width=width)
    return {name: reason for name in _SPARSE_CONTAINER_CHECKS if hasattr(sklearn_estimator_checks, name)}
