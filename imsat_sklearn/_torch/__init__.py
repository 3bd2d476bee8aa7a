"""Torch training core of imsat_sklearn.

Nothing in this sub-package imports scikit-learn: the estimators in the parent
package validate input and parameters, then hand row sources (:mod:`.data`) and tensors to :func:`trainer.train`.
"""
