"""Shared scikit-learn glue of the IMSAT estimators.

Validation of parameters and data, device choice, random seeds, the fit driver
and persistence live here. The training math lives in ``imsat_sklearn._torch``.
"""

import math
import numbers
import warnings
from abc import ABCMeta, abstractmethod
from functools import partial

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import config_context
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._device import batched_outputs, prediction_device, resolve_device, row_source, training_csr
from ._torch.data import HostRows
from ._torch.distributed import SingleProcess
from ._torch.network import build_network, empty_network
from ._torch.radius import CANDIDATE_MARGIN, kth_neighbor_distance_streamed, kth_of_candidates
from ._torch.sat import build_augmentations
from ._torch.trainer import Schedule, train

# Version of the pickled network layout; bump it when the layout changes.
_FORMAT_VERSION = 1


class BaseIMSAT(BaseEstimator, metaclass=ABCMeta):
    """Parameters, validation, fit driver and persistence shared by both estimators."""

    _parameter_constraints = {
        "hidden_layer_sizes": [
            StrOptions({"auto"}), "array-like", Interval(numbers.Integral, 1, None, closed="left")
        ],
        "lam": [Interval(numbers.Real, 0, None, closed="left")],
        "augmentation": [StrOptions({"vat", "rpt"}), callable, list],
        "xi": [Interval(numbers.Real, 0, None, closed="neither")],
        "eps": [None, Interval(numbers.Real, 0, None, closed="left")],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "eps_scale": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [None, Interval(numbers.Real, 0, 1, closed="both")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_updates": [Interval(numbers.Integral, 0, None, closed="left"), Hidden(StrOptions({"deprecated"}))],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "device": [str],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    @abstractmethod
    def _n_outputs(self):
        """Width of the network's head."""

    @abstractmethod
    def _objective(self):
        """The torch objective of this task."""

    def _check_data_size(self, X):
        """Task-specific checks of the training data (e.g. n_samples >= n_clusters)."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to ``X``; see the subclass docstring for details."""
        return self._fit(X, SingleProcess())

    def _fit(self, X, parallel):
        """The fit driver; ``parallel`` may split training over processes (see ``distributed``)."""
        warm = self.warm_start and hasattr(self, "network_")
        X = self._validate_training_data(X, reset=not warm)
        hidden_layer_sizes = _hidden_layer_sizes(self.hidden_layer_sizes, X.shape[0])
        device = resolve_device(self.device)
        X_train = row_source(X, device)
        schedule = self._schedule(X.shape[0])
        # Before the k-NN search, which is the slow part of a large fit's set-up.
        parallel.check_batch_size(schedule.batch_size)
        radius = self._radius(X, X_train, parallel)
        rng = check_random_state(self.random_state)

        if warm:
            self._check_architecture("fit with warm_start=True")
            network = self.network_.to(device)
            result = self._train_once(X_train, radius, schedule, rng, network, parallel)
        else:
            network, result = self._best_of_n_init(
                X, X_train, radius, schedule, rng, hidden_layer_sizes, parallel
            )
        self._check_result(result, schedule)
        self._record(network, result, continued=warm)
        # A later partial_fit starts its own stream (seeds, Adam state) from this model.
        self._random_state = self._adam_state = None
        self._after_fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One pass of minibatch updates over ``X``; see the subclass docstring for details."""
        first = not hasattr(self, "network_")
        X = self._validate_training_data(X, reset=first)
        device = resolve_device(self.device)
        X_train = row_source(X, device)
        if getattr(self, "_random_state", None) is None:
            self._random_state = check_random_state(self.random_state)
        if first:
            hidden_layer_sizes = _hidden_layer_sizes(self.hidden_layer_sizes, X.shape[0])
            generator = _cpu_generator(self._random_state)
            network = build_network(X.shape[1], hidden_layer_sizes, self._n_outputs(), generator)
        else:
            self._check_architecture("partial_fit")
            network = self.network_
        # A chunk smaller than batch_size is one minibatch; the stopping rule does not apply.
        schedule = Schedule(
            batch_size=min(self.batch_size, X.shape[0]), max_epochs=1, learning_rate=self.learning_rate
        )
        result = self._train_once(
            X_train, self._radius(X, X_train), schedule, self._random_state,
            network.to(X_train.device), SingleProcess(), adam_state=getattr(self, "_adam_state", None),
        )
        self._check_result(result, schedule)
        if result.adam_state is not None:
            self._adam_state = result.adam_state
        self._record(network, result, continued=not first)
        self._after_fit(X)
        return self

    def _check_architecture(self, method):
        """The fitted network must match the parameters that shape it before training goes on."""
        fitted = self.network_.architecture
        if isinstance(self.hidden_layer_sizes, str):
            # "auto" sized the network from the first fit's data: it has no size of its own.
            expected_sizes = tuple(fitted["hidden_layer_sizes"])
        else:
            expected_sizes = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        expected = {
            "hidden_layer_sizes": expected_sizes,
            self._n_outputs_param: self._n_outputs(),
        }
        actual = {
            "hidden_layer_sizes": tuple(fitted["hidden_layer_sizes"]),
            self._n_outputs_param: fitted["n_outputs"],
        }
        changed = [name for name in expected if expected[name] != actual[name]]
        if changed:
            details = ", ".join(f"{name}={actual[name]!r} (now {expected[name]!r})" for name in changed)
            raise ValueError(
                f"{method} continues the fitted network, which has {details}; these parameters "
                "cannot change between calls. Set them back, or refit from scratch with "
                "warm_start=False."
            )

    def _validate_training_data(self, X, reset):
        """Validated training X: a C-ordered float array, or a float32 CSR matrix.

        Sparse input of any format is converted to CSR (the caller's matrix
        is never modified); see :func:`._device.training_csr`.
        """
        X = validate_data(
            self, X, accept_sparse="csr", dtype=[np.float32, np.float64], order="C",
            ensure_min_samples=2, reset=reset,
        )
        _check_float32_range(X)
        self._check_data_size(X)
        return training_csr(X) if sp.issparse(X) else X

    def _record(self, network, result, continued):
        """Store the trained network and its loss history (appended to when ``continued``)."""
        self.network_ = network
        previous = self.loss_curve_ if continued else []
        self.loss_curve_ = previous + result.loss_curve
        self.n_iter_ = (self.n_iter_ if continued else 0) + result.n_epochs
        self.loss_parts_ = {
            name: np.concatenate([self.loss_parts_[name] if continued else [], values])
            for name, values in result.loss_parts.items()
        }

    def _best_of_n_init(self, X, X_train, radius, schedule, rng, hidden_layer_sizes, parallel):
        """Train ``n_init`` networks; keep the one with the highest training-set information.

        The information estimate (``score``) on the whole training set, in
        eval mode, is label-free and deterministic, unlike the last epoch's
        minibatch loss, whose SAT part grows as a network sharpens.
        """
        best = None
        for init in range(self.n_init):
            if self.verbose:
                print(f"{type(self).__name__}: initialisation {init + 1}/{self.n_init}", flush=True)
            network = build_network(X.shape[1], hidden_layer_sizes, self._n_outputs(), _cpu_generator(rng))
            network = network.to(X_train.device)
            result = self._train_once(X_train, radius, schedule, rng, network, parallel)
            if self.n_init == 1:
                # Nothing to compare: skip a forward pass over all of X.
                return network, result
            value = self._information(network, X, X_train.device) if result.loss_curve else -np.inf
            if best is None or value > best[0]:
                best = (value, network, result)
            if result.stop_reason == "interrupted":
                break
        return best[1], best[2]

    def _information(self, network, X, device):
        return self._information_of(batched_outputs(network, self._objective().output, X, device))

    def _information_of(self, probs):
        return float(self._objective().mutual_information(torch.from_numpy(probs)))

    def _train_once(self, X_train, radius, schedule, rng, network, parallel, adam_state=None):
        """One training run from ``network``; its seed comes from ``rng``."""
        generator = torch.Generator(device=X_train.device).manual_seed(_seed(rng))
        return train(
            network,
            self._objective(),
            self._augmentations(),
            X_train,
            radius,
            lam=self.lam,
            schedule=schedule,
            generator=generator,
            on_epoch=self._print_epoch if self.verbose else None,
            parallel=parallel,
            adam_state=adam_state,
        )

    def _after_fit(self, X):
        """Hook for fitted attributes computed on the training data (labels_)."""

    def _radius(self, X, source, parallel=None):
        """Per-sample perturbation radius: fixed ``eps`` or eps_scale x k-NN distance.

        ``X`` is the validated training data (numpy array or CSR matrix) and
        ``source`` its row source. The radius is a float32 tensor on the
        training device.
        """
        parallel = SingleProcess() if parallel is None else parallel
        n_samples = X.shape[0]
        if self.eps is not None:
            return torch.full((n_samples,), float(self.eps), dtype=torch.float32, device=source.device)
        n_neighbors = self.n_neighbors
        if n_neighbors >= n_samples:
            warnings.warn(
                f"n_neighbors={n_neighbors} must be < n_samples={n_samples}; using "
                f"n_neighbors={n_samples - 1}.",
                UserWarning,
            )
            n_neighbors = n_samples - 1
        radius = self.eps_scale * _kth_neighbor_distance(X, source, n_neighbors, parallel)
        if not radius.any():
            warnings.warn(
                f"all k-NN distances are 0 (constant or heavily duplicated X with n_neighbors="
                f"{n_neighbors}), so the perturbation radius is 0 and self-augmentation has no "
                "effect. Pass a fixed eps or a larger n_neighbors.",
                UserWarning,
            )
        return radius

    def _augmentations(self):
        """SAT penalties of the ``augmentation`` parameter; fit sums them."""
        return build_augmentations(self.augmentation, xi=self.xi)

    def _schedule(self, n_samples):
        """Minibatch schedule: ``max_iter`` epochs at most, stopping on ``tol``/``n_iter_no_change``."""
        batch_size = self.batch_size
        if batch_size > n_samples:
            warnings.warn(
                f"Got batch_size={batch_size} > n_samples={n_samples}; using batch_size={n_samples}.",
                UserWarning,
            )
            batch_size = n_samples
        passes = 1
        if self.min_updates != "deprecated":
            warnings.warn(
                "min_updates was deprecated in 0.1 and will be removed in 0.3. max_iter is now a "
                "hard cap on the number of epochs and training stops when it has converged (tol, "
                "n_iter_no_change); raise max_iter for more updates on small data.",
                FutureWarning,
            )
            updates_per_pass = n_samples // batch_size
            passes = max(1, math.ceil(self.min_updates / (self.max_iter * updates_per_pass)))
        return Schedule(
            batch_size=batch_size,
            max_epochs=self.max_iter,
            passes_per_epoch=passes,
            learning_rate=self.learning_rate,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
        )

    def _check_result(self, result, schedule):
        name = type(self).__name__
        if result.stop_reason == "diverged" and not result.loss_curve:
            raise ValueError(
                f"{name} diverged in its first epoch (the loss became NaN or infinite). "
                f"Lower learning_rate (now {self.learning_rate}) or scale the features of X."
            )
        if result.stop_reason == "diverged":
            warnings.warn(
                f"{name} diverged after {result.n_epochs} epoch(s) (non-finite loss); keeping the "
                f"model of epoch {result.n_epochs}. Lower learning_rate (now {self.learning_rate}) "
                "or scale the features of X.",
                ConvergenceWarning,
            )
        elif result.stop_reason == "max_epochs" and schedule.tol is not None:
            warnings.warn(
                f"{name} reached max_iter={schedule.max_epochs} epochs before converging: "
                f"{result.changed_curve[-1]:.2%} of the assignments changed in the last epoch "
                f"(tol={schedule.tol}, n_iter_no_change={schedule.n_iter_no_change}). Increase "
                "max_iter, or raise tol.",
                ConvergenceWarning,
            )
        elif result.stop_reason == "interrupted":
            warnings.warn(
                f"{name}.fit was interrupted; keeping the model of the last completed epoch "
                f"(n_iter_={result.n_epochs}).",
                UserWarning,
            )

    def _print_epoch(self, epoch, loss, parts, changed, seconds):
        detail = "  ".join(f"{name}={value:.4f}" for name, value in parts.items())
        print(
            f"epoch {epoch:3d}/{self.max_iter}  loss={loss:.4f}  {detail}  "
            f"changed={changed:.2%}  {seconds:.1f}s",
            flush=True,
        )

    def _outputs(self, X):
        """Validated X -> network outputs (probabilities), computed in row batches."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float32, np.float64], reset=False)
        return self._outputs_of_validated(X)

    def _outputs_of_validated(self, X):
        """Network outputs of already validated X (no second validation, no name checks)."""
        device = prediction_device(self.device)
        network = self.network_.to(device)
        return batched_outputs(network, self._objective().output, X, device)

    def score(self, X, y=None):
        """Estimated information of the learned representation on ``X`` (higher is better).

        See the subclass docstring for the exact quantity.
        """
        return self._information_of(self._outputs(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.sparse = True
        return tags

    def __getstate__(self):
        # A copy: the base class may hand back the instance's own __dict__.
        state = dict(super().__getstate__())
        network = state.pop("network_", None)
        if network is not None:
            state["_network_state"] = {
                "format_version": _FORMAT_VERSION,
                "architecture": network.architecture,
                "tensors": {k: v.detach().cpu() for k, v in network.state_dict().items()},
            }
        if state.get("_adam_state") is not None:
            # On the CPU like the network, so a model saved on a GPU loads anywhere.
            state["_adam_state"] = {
                index: {name: value.cpu() for name, value in moments.items()}
                for index, moments in state["_adam_state"].items()
            }
        return state

    def __setstate__(self, state):
        payload = state.pop("_network_state", None)
        if payload is not None:
            state["network_"] = _load_network(payload, type(self).__name__)
        super().__setstate__(state)


def _load_network(payload, name):
    version = payload.get("format_version")
    if version != _FORMAT_VERSION:
        raise ValueError(
            f"This {name} was saved with model format version {version}, but this version of "
            f"imsat_sklearn reads format {_FORMAT_VERSION}. Load it with the imsat_sklearn "
            "release that saved it, or refit."
        )
    network = empty_network(**payload["architecture"])
    network.load_state_dict(payload["tensors"])
    return network.eval()


# hidden_layer_sizes="auto": the paper's 1200-1200 network from this many
# training samples up, narrower below, where it costs more than it helps.
_AUTO_FULL_WIDTH_SAMPLES = 24_000
_AUTO_MAX_WIDTH = 1200
_AUTO_MIN_WIDTH = 128


def _hidden_layer_sizes(hidden_layer_sizes, n_samples):
    """The hidden widths a fit on ``n_samples`` rows uses."""
    if isinstance(hidden_layer_sizes, str) and hidden_layer_sizes == "auto":
        width = _AUTO_MAX_WIDTH * min(n_samples, _AUTO_FULL_WIDTH_SAMPLES) // _AUTO_FULL_WIDTH_SAMPLES
        width = max(_AUTO_MIN_WIDTH, width)
        return (width, width)
    return _check_hidden_layer_sizes(hidden_layer_sizes)


def _check_hidden_layer_sizes(hidden_layer_sizes):
    sizes = (hidden_layer_sizes,) if np.ndim(hidden_layer_sizes) == 0 else tuple(hidden_layer_sizes)
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(
            "hidden_layer_sizes must be a tuple of positive ints (or () for a linear model), "
            f"got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)


def _seed(rng):
    return int(rng.randint(np.iinfo(np.int32).max))


def _cpu_generator(rng):
    # Initial weights are drawn on the CPU so they do not depend on the device.
    return torch.Generator().manual_seed(_seed(rng))


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


def _kth_neighbor_distance(X, source, k, parallel):
    """Exact distance from each training row to its k-th nearest other row, float32 on the device.

    Dense data use the torch search where the rows live (split over the
    processes of ``parallel``); a CSR ``X`` uses scikit-learn's sparse-aware
    brute-force search, whole in every process.
    """
    if sp.issparse(X):
        return torch.from_numpy(_sparse_kth_neighbor_distance(X, k)).to(source.device)
    if isinstance(source, HostRows):
        method = partial(kth_neighbor_distance_streamed, device=source.device)
        return parallel.kth_neighbor_distance(source.X, k, method=method)
    return parallel.kth_neighbor_distance(source.X, k)


# Scratch memory of the sparse k-NN search: scikit-learn's distance chunks
# (MiB) and the dense blocks of the exact re-check (float32 elements).
_KNN_WORKING_MEMORY_MIB = 64
_RECHECK_ELEMENTS = 1 << 22
# Widest X whose k-NN distances are re-checked on densified rows; the re-check
# costs n_samples x (k + 8) x n_features, so wider X keeps scikit-learn's distances.
_DENSE_RECHECK_FEATURES = 20_000


def _sparse_kth_neighbor_distance(X, k):
    """k-th nearest-neighbour distances of a float32 CSR ``X``, excluding each row itself.

    scikit-learn's brute-force search finds the ``k + 8`` nearest
    candidates of each row without densifying X. Up to
    ``_DENSE_RECHECK_FEATURES`` features, their distances are then
    re-checked on densified rows, in bounded blocks, by the exact re-check
    of the torch search, so that sparse and dense input of the same data
    give the same radius to the last bit. Wider X keeps scikit-learn's
    distances (computed in float64), which agree with the torch search to
    about 1e-6 relative.
    """
    n_samples, n_features = X.shape
    n_candidates = min(k + CANDIDATE_MARGIN, n_samples - 1)
    with config_context(working_memory=_KNN_WORKING_MEMORY_MIB):
        # kneighbors() without X leaves each point out of its own neighbours.
        search = NearestNeighbors(n_neighbors=n_candidates, algorithm="brute").fit(X)
        distances, candidates = search.kneighbors()
    if n_features > _DENSE_RECHECK_FEATURES:
        return np.ascontiguousarray(distances[:, k - 1], dtype=np.float32)
    out = np.empty(n_samples, dtype=np.float32)
    chunk = min(n_samples, max(1, _RECHECK_ELEMENTS // (n_candidates * max(n_features, 1))))
    # Dense blocks allocated once and reused, not once per chunk.
    query_block = np.empty((chunk, n_features), dtype=np.float32)
    neighbour_block = np.empty((chunk * n_candidates, n_features), dtype=np.float32)
    difference_block = torch.empty((chunk, n_candidates, n_features))
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        m = stop - start
        queries = X[start:stop].toarray(out=query_block[:m])
        neighbours = X[candidates[start:stop].ravel()].toarray(out=neighbour_block[: m * n_candidates])
        out[start:stop] = kth_of_candidates(
            torch.from_numpy(queries),
            torch.from_numpy(neighbours).view(m, n_candidates, n_features),
            k,
            buffer=difference_block[:m],
        ).numpy()
    return out
