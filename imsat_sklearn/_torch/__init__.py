"""Torch training core of imsat_sklearn.

Nothing in this sub-package imports scikit-learn: the estimators in the parent
package validate input and parameters into a training plan (row source of
:mod:`.data`, radius, objective, augmentations, schedule), which
:func:`trainer.train` runs with a communicator of :mod:`.parallel`.
"""
