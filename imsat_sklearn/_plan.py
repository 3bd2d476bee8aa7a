"""The set-up of one fit: every parameter checked against the data once, one immutable plan.

``fit``, ``partial_fit`` and ``fit_distributed`` all start with
:func:`make_plan`, as scikit-learn's KMeans with ``_check_params_vs_input``
and its MLP with ``_fit(X, y, incremental)``. Nothing here changes the
estimator: a fit that raises leaves it as it was.
"""

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import get_config
from sklearn.utils import check_random_state
from sklearn.utils.validation import _get_feature_names, check_array, validate_data

from ._device import resolve_device, row_source, training_csr
from ._radius import perturbation_radius
from ._torch.sat import build_augmentations, try_transforms
from ._torch.trainer import Schedule


@dataclass(frozen=True)
class TrainingPlan:
    """Everything one training run needs besides the network, its seeds and the communicator.

    The trainer reads the first six fields; the fit driver the others.
    """

    # Where minibatches come from: DeviceRows, HostRows or SparseRows (see _torch.data).
    rows: object
    # Perturbation radius of every row, float32 on the training device.
    radius: torch.Tensor
    objective: object
    augmentations: tuple
    lam: float
    schedule: Schedule
    # The validated training data: a C-ordered float array or a float32 CSR matrix.
    X: object = None
    # Column names of a DataFrame X (None otherwise) when the fit starts over.
    feature_names: object = None
    # Whether the fit starts a new network (False: it continues the fitted one).
    reset: bool = True
    device: torch.device = None
    hidden_layer_sizes: tuple = ()
    n_outputs: int = None
    # How many networks a fit from scratch trains, the best one kept.
    n_init: int = 1
    # Epochs each of them trains before one is kept and trains on alone
    # (a race; None: all of them train to the end).
    trial_epochs: int = None


def make_plan(estimator, X, *, comm, incremental):
    """Validate ``X`` and the parameters of ``estimator`` against it; the plan of one fit.

    ``incremental`` is True for ``partial_fit`` (one pass, continuing a
    fitted network); ``comm`` is the communicator the fit trains with.
    """
    continuing = hasattr(estimator, "network_") and (incremental or estimator.warm_start)
    feature_names = None if continuing else _get_feature_names(X)
    X = _validate_training_data(estimator, X, reset=not continuing)
    n_samples = X.shape[0]
    if continuing:
        method = "partial_fit" if incremental else "fit with warm_start=True"
        hidden = _continued_hidden_layer_sizes(estimator, method)
    else:
        # A chunk says nothing of the stream's size: partial_fit sizes "auto" as for large data.
        hidden = hidden_layer_sizes(estimator.hidden_layer_sizes, None if incremental else n_samples)
    device = resolve_device(estimator.device)
    objective = estimator._build_objective(device)
    # Built before the k-NN search so that a bad entry fails fast, and built
    # again after it with the VAT step, which xi="auto" derives from the radius.
    augmentations = build_augmentations(estimator.augmentation, xi=1.0)
    schedule = make_schedule(estimator, n_samples, incremental=incremental, world_size=comm.world_size)
    # Before the k-NN search, which is the slow part of a large fit's set-up.
    comm.check_batch_size(schedule.batch_size)
    rows = row_source(X, device)
    # A broken transform fails here, before the k-NN search, instead of as a
    # first minibatch that diverges or a torch error from inside the loop.
    try_transforms(augmentations, rows, schedule.batch_size)
    radius = perturbation_radius(
        X, rows, eps=estimator.eps, n_neighbors=estimator.n_neighbors,
        eps_scale=resolve_eps_scale(estimator.eps_scale, None if incremental else n_samples), comm=comm,
    )
    augmentations = tuple(build_augmentations(estimator.augmentation, xi=vat_step(estimator.xi, radius)))
    return TrainingPlan(
        X=X, feature_names=feature_names, reset=not continuing, device=device, rows=rows,
        schedule=schedule, radius=radius, objective=objective, augmentations=augmentations,
        lam=estimator.lam, hidden_layer_sizes=hidden, n_outputs=_n_outputs(estimator),
        **resolve_n_init(estimator.n_init, n_samples, schedule),
    )


def _validate_training_data(estimator, X, reset):
    """Validated training X: a C-ordered float array, or a float32 CSR matrix.

    Sparse input of any format is converted to CSR (the caller's matrix is
    never modified); see :func:`._device.training_csr`. A new fit checks X
    without recording its features: the fit records them once it succeeds.
    """
    check_no_array_api_dispatch(estimator, X)
    check = dict(accept_sparse="csr", dtype=[np.float32, np.float64], order="C", ensure_min_samples=2)
    if reset:
        X = check_array(X, estimator=estimator, input_name="X", **check)
    else:
        X = validate_data(estimator, X, reset=False, **check)
    _check_float32_range(X)
    n_outputs = _n_outputs(estimator)
    if estimator._one_sample_per_output and X.shape[0] < n_outputs:
        raise ValueError(
            f"n_samples={X.shape[0]} should be >= {estimator._n_outputs_param}={n_outputs}."
        )
    return training_csr(X) if sp.issparse(X) else X


def check_no_array_api_dispatch(estimator, X):
    """Refuse an array of another array API namespace while scikit-learn dispatches to it.

    With ``array_api_dispatch`` on, scikit-learn's validation keeps such an
    array in its namespace (and fails on the float dtypes given as NumPy
    types), while the estimators compute on NumPy arrays. Without dispatch
    the same array is converted with ``np.asarray`` as any array-like.
    """
    if not get_config()["array_api_dispatch"] or isinstance(X, np.ndarray):
        return
    if isinstance(X, torch.Tensor) or hasattr(X, "__array_namespace__"):
        hint = "X.cpu().numpy()" if isinstance(X, torch.Tensor) else "np.asarray(X)"
        raise TypeError(
            f"{type(estimator).__name__} does not support array API dispatch: X is a "
            f"{type(X).__module__}.{type(X).__name__} and sklearn.set_config(array_api_dispatch=True) "
            f"is on. Pass a NumPy array ({hint}), or turn array_api_dispatch off; the "
            "device parameter chooses where the network runs."
        )


def _continued_hidden_layer_sizes(estimator, method):
    """The hidden widths of the fitted network, which must match the parameters that shape it."""
    fitted = estimator.network_.architecture
    if isinstance(estimator.hidden_layer_sizes, str):
        # "auto" sized the network from the first fit's data: it has no size of its own.
        expected_sizes = tuple(fitted["hidden_layer_sizes"])
    else:
        expected_sizes = check_hidden_layer_sizes(estimator.hidden_layer_sizes)
    expected = {
        "hidden_layer_sizes": expected_sizes,
        estimator._n_outputs_param: _n_outputs(estimator),
    }
    actual = {
        "hidden_layer_sizes": tuple(fitted["hidden_layer_sizes"]),
        estimator._n_outputs_param: fitted["n_outputs"],
    }
    changed = [name for name in expected if expected[name] != actual[name]]
    if changed:
        details = ", ".join(f"{name}={actual[name]!r} (now {expected[name]!r})" for name in changed)
        raise ValueError(
            f"{method} continues the fitted network, which has {details}; these parameters "
            "cannot change between calls. Set them back, or refit from scratch with "
            "warm_start=False."
        )
    return expected_sizes


def _n_outputs(estimator):
    """Width of the network's head: ``n_clusters`` or ``n_bits``."""
    return getattr(estimator, estimator._n_outputs_param)


def make_schedule(estimator, n_samples, *, incremental=False, world_size=1):
    """Minibatch schedule: ``max_iter`` epochs at most, stopping on ``tol``/``n_iter_no_change``.

    A ``partial_fit`` is one pass, to which the stopping rule does not apply.
    Every path (``fit``, ``partial_fit``, ``fit_distributed``) checks
    ``batch_size`` here ("auto" resolved by :func:`resolve_batch_size`, and
    rounded down to a multiple of the ``world_size`` processes that share
    each minibatch): 1 is refused, and minibatches too small for the
    objective's estimates warn (see the user guide, "Parameters").
    """
    batch_size = resolve_batch_size(estimator.batch_size, None if incremental else n_samples, _n_outputs(estimator))
    if batch_size < 2:
        raise ValueError(
            f"batch_size={batch_size} makes the objective degenerate: the marginal of a "
            "one-sample minibatch is that sample's own prediction, so H(Y) equals H(Y|X) (for "
            "hashing, each H(Y_m) its conditional entropy, and the pairwise terms vanish). "
            "The information term then no longer rewards confident, balanced outputs: "
            "clustering with mu > 1 pushes every prediction to uniform, hashing has no "
            "information term left, and every sample ends with the same output. Use "
            f"batch_size >= 2, several times {estimator._n_outputs_param}."
        )
    if isinstance(estimator.batch_size, str):
        # "auto" is the package's choice: it fits the data and the processes instead of failing on them.
        batch_size = min(batch_size, n_samples)
        batch_size -= batch_size % world_size
    elif batch_size > n_samples:
        warnings.warn(
            f"Got batch_size={batch_size} > n_samples={n_samples}; using batch_size={n_samples}.",
            UserWarning,
        )
        batch_size = n_samples
    problem = estimator._small_batch_problem(batch_size)
    if problem is not None:
        warnings.warn(problem, UserWarning)
    if incremental:
        return Schedule(batch_size=batch_size, max_epochs=1, learning_rate=estimator.learning_rate)
    passes = 1
    if estimator.min_updates != "deprecated":
        warnings.warn(
            "min_updates was deprecated in 0.1 and will be removed in 0.3. max_iter is now a "
            "hard cap on the number of epochs and training stops when it has converged (tol, "
            "n_iter_no_change); raise max_iter for more updates on small data.",
            FutureWarning,
        )
        updates_per_pass = n_samples // batch_size
        passes = max(1, math.ceil(estimator.min_updates / (estimator.max_iter * updates_per_pass)))
    return Schedule(
        batch_size=batch_size,
        max_epochs=estimator.max_iter,
        passes_per_epoch=passes,
        learning_rate=estimator.learning_rate,
        tol=estimator.tol,
        n_iter_no_change=estimator.n_iter_no_change,
    )


def random_state_of(random_state):
    """``check_random_state``, except that None gives a fresh OS-seeded generator.

    Drawing from NumPy's global generator would change it, which the
    documentation of ``random_state`` promises not to do.
    """
    return np.random.RandomState() if random_state is None else check_random_state(random_state)


# xi="auto": the VAT step is this multiple of the mean perturbation radius.
# On MNIST scaled to [0, 1] with eps_scale=0.25 and n_neighbors=10 (mean
# radius 1.25) it is the paper's xi=10, which was in units of X: an absolute
# step meant something else on data of another scale (on the digits scaled
# to [0, 1], xi=10 is 28 mean radii, and ACC fell from 0.83 to 0.77).
_AUTO_XI_RADII = 8.0


def vat_step(xi, radius):
    """The VAT power-iteration step: ``xi``, or for "auto" a multiple of the mean ``radius``."""
    if isinstance(xi, str):
        step = _AUTO_XI_RADII * float(radius.mean())
        # A zero radius (eps=0, or duplicated samples only) still needs a finite-difference step.
        return step if step > 0 else 1e-6
    return float(xi)


# batch_size="auto": the paper's 250 from _AUTO_FULL_WIDTH_SAMPLES samples up
# (and for partial_fit, which cannot see the stream's size); below, 100, or
# 10 per output when that is more. On the digits (seeds 0-39, one training,
# one thread) minibatches of 100 gave a mean ACC of 0.866 against 0.821 with
# 250, while three times the updates at 250 (seeds 0-19: 0.827 against 0.826)
# did not help: the minibatch itself, not the number of updates, matters. On
# a 10,000-image MNIST subset (seeds 0-4, 2 threads, eps_scale=0.25) one training reached
# 0.875 (0.799-0.952); the earlier defaults (250 and a fixed xi=10, two
# changes at once) gave 0.860 (0.743-0.907).
_AUTO_BATCH_SIZE = 250
_AUTO_SMALL_BATCH_SIZE = 100
_AUTO_BATCH_PER_OUTPUT = 10


def resolve_batch_size(value, n_samples, n_outputs):
    """The minibatch size for ``batch_size=value`` on ``n_samples`` rows (None: a stream)."""
    if not isinstance(value, str):
        return value
    if n_samples is None or n_samples >= _AUTO_FULL_WIDTH_SAMPLES:
        return _AUTO_BATCH_SIZE
    return min(_AUTO_BATCH_SIZE, max(_AUTO_SMALL_BATCH_SIZE, _AUTO_BATCH_PER_OUTPUT * n_outputs))


# n_init="auto": this many trainings below _AUTO_N_INIT_SAMPLES samples,
# where a training costs seconds. The clusterer keeps the training that
# agrees most with the others (see IMSATClusterer._agreement). From 40
# single trainings on the digits (one thread, 4,000 draws of k of them;
# benchmarks/n_init_selection.py): the mean ACC of the kept one is
# 0.882 / 0.884 / 0.888 for k = 3 / 4 / 5 when the information estimate
# picks, 0.886 / 0.892 / 0.897 when agreement picks, and the share of kept
# ones below 0.82 3.3% / 2.6% / 2.6% against 2.7% / 1.2% / 0.4%.
_AUTO_N_INIT = 5
_AUTO_N_INIT_SAMPLES = 5_000
# From _AUTO_N_INIT_SAMPLES samples, where a training costs minutes on a
# CPU, "auto" races _AUTO_RACE_N_INIT trainings for _AUTO_RACE_UPDATES
# updates (whole epochs) and only the kept one trains on. On a 10,000-image
# MNIST subset (100 updates per epoch) the poor trainings had merged two
# digits by epoch 20, where they agreed least with the others, while at
# epoch 10 agreement did not yet tell them apart. Default fits there, seeds
# 0-4, 2 threads, eps_scale=0.25: 0.892 (0.866-0.916) in 68-92 s, against 0.875
# (0.799-0.952) in 62-148 s for one training; all of MNIST, seed 0, one
# thread: 0.985 against 0.978.
_AUTO_RACE_N_INIT = 3
_AUTO_RACE_UPDATES = 2_000


def resolve_n_init(value, n_samples, schedule):
    """``n_init`` and ``trial_epochs`` of a fit on ``n_samples`` rows for ``n_init=value``.

    ``trial_epochs`` is None when every training runs the whole ``schedule``.
    """
    if not isinstance(value, str):
        return {"n_init": value, "trial_epochs": None}
    if n_samples < _AUTO_N_INIT_SAMPLES:
        return {"n_init": _AUTO_N_INIT, "trial_epochs": None}
    trial_epochs = math.ceil(_AUTO_RACE_UPDATES / schedule.updates_per_epoch(n_samples))
    if trial_epochs >= schedule.max_epochs:
        # A race as long as the schedule: every training runs to the end.
        trial_epochs = None
    return {"n_init": _AUTO_RACE_N_INIT, "trial_epochs": trial_epochs}


# hidden_layer_sizes="auto": the paper's 1200-1200 network from this many
# training samples up, narrower below, where it costs more than it helps.
_AUTO_FULL_WIDTH_SAMPLES = 24_000
_AUTO_MAX_WIDTH = 1200
_AUTO_MIN_WIDTH = 128


def hidden_layer_sizes(sizes, n_samples):
    """The hidden widths a fit on ``n_samples`` rows uses (None: an unknown, large number)."""
    if isinstance(sizes, str) and sizes == "auto":
        if n_samples is None:
            return (_AUTO_MAX_WIDTH, _AUTO_MAX_WIDTH)
        width = _AUTO_MAX_WIDTH * min(n_samples, _AUTO_FULL_WIDTH_SAMPLES) // _AUTO_FULL_WIDTH_SAMPLES
        width = max(_AUTO_MIN_WIDTH, width)
        return (width, width)
    return check_hidden_layer_sizes(sizes)


# eps_scale="auto": the paper's 0.25, except from _AUTO_N_INIT_SAMPLES to
# _AUTO_FULL_WIDTH_SAMPLES training samples, where radii of 0.3 k-NN
# distances did better. On a 10,000-image MNIST subset: one training of 60
# epochs each, seeds 0-9, one thread, 0.939 against 0.909 (better for 7 of
# 10 seeds); default fits, seeds 0-4, 2 threads, 0.932 (0.887-0.960)
# against 0.892 (0.866-0.916). On the digits 0.3 was no better (default
# fits, seeds 0-9: 0.885 against 0.901 with 2 threads, 0.891 against 0.887
# with one, a seed at 0.802), and full MNIST keeps the radius with which
# the paper and this package measured it. The bounds are those of the race
# and of the paper's network only because the measurements fell there.
_AUTO_EPS_SCALE = 0.25
_AUTO_MID_SIZE_EPS_SCALE = 0.3


def resolve_eps_scale(value, n_samples):
    """The radius multiplier for ``eps_scale=value`` on ``n_samples`` rows (None: a stream)."""
    if not isinstance(value, str):
        return value
    if n_samples is not None and _AUTO_N_INIT_SAMPLES <= n_samples < _AUTO_FULL_WIDTH_SAMPLES:
        return _AUTO_MID_SIZE_EPS_SCALE
    return _AUTO_EPS_SCALE


def check_hidden_layer_sizes(sizes):
    checked = (sizes,) if np.ndim(sizes) == 0 else tuple(sizes)
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in checked):
        raise ValueError(
            "hidden_layer_sizes must be a tuple of positive ints (or () for a linear model), "
            f"got {sizes!r}."
        )
    return tuple(int(s) for s in checked)


# float32 training squares the data (distances, BatchNorm variances): beyond
# these magnitudes squares overflow or vanish in float32.
_MAX_ABS = 1e15
_MIN_ABS = 1e-15


def _check_float32_range(X):
    # max and min instead of abs(X): no temporary copy of a large X. A sparse
    # X's implicit entries are zeros, so its stored values decide.
    values = X.data if sp.issparse(X) else X
    if values.size == 0:
        return
    largest = max(float(values.max()), -float(values.min()))
    if largest > _MAX_ABS or 0 < largest < _MIN_ABS:
        raise ValueError(
            f"X has values of magnitude up to {largest:.3g}, outside the range float32 training "
            f"handles ([{_MIN_ABS:g}, {_MAX_ABS:g}]). Scale X first, e.g. with "
            "sklearn.preprocessing.StandardScaler or MinMaxScaler."
        )
