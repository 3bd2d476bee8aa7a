"""Shared scikit-learn glue of the IMSAT estimators.

The fit driver (plan, train, assign the fitted attributes at once), prediction
and persistence live here; the checks of parameters against the data live in
``_plan``, the training math in ``imsat_sklearn._torch``.
"""

import copy
import numbers
import warnings
from abc import ABCMeta, abstractmethod
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._device import batched_outputs, prediction_device
from ._plan import check_no_array_api_dispatch, make_plan, random_state_of
from ._torch.parallel import SingleProcess
from ._torch.network import build_network, empty_network
from ._torch.trainer import Run

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
        "xi": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
        "eps": [None, Interval(numbers.Real, 0, None, closed="left")],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "eps_scale": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [None, Interval(numbers.Real, 0, 1, closed="both")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_updates": [Interval(numbers.Integral, 0, None, closed="left"), Hidden(StrOptions({"deprecated"}))],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "device": [str],
        "n_init": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    @abstractmethod
    def _build_objective(self, device):
        """The torch objective of this task, its parameters checked, on ``device``."""

    @abstractmethod
    def _fitted_extras(self, network, X, device):
        """Fitted attributes computed on the validated training data (labels_, health counts)."""

    @abstractmethod
    def _small_batch_problem(self, batch_size):
        """Why minibatches of ``batch_size`` rows make the objective's estimates poor, or None."""

    @abstractmethod
    def _health_problem(self, n_init, raced=False):
        """What is wrong with the fitted assignments of the training data, as a sentence, or None.

        ``n_init`` is the number of trainings the fit set out to run, which the
        advice names; ``raced``, whether they raced (see ``_n_init_advice``).
        """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to ``X``; see the subclass docstring for details."""
        return self._fit(X, comm=SingleProcess(), random_state=self.random_state)

    def _fit(self, X, *, comm, random_state):
        """The fit driver; ``comm`` may split training over processes (see ``distributed``)."""
        plan = make_plan(self, X, comm=comm, incremental=False)
        rng = random_state_of(random_state)
        if plan.reset:
            network, result = self._best_of_n_init(plan, rng, comm)
        else:
            network = self._continued_network(plan.device)
            result = self._run(plan, network, _generator(plan, rng), comm).advance(plan.schedule.max_epochs)
        self._check_result(result, plan, "fit")
        # A later partial_fit starts its own stream (seeds, Adam state) from this model.
        self._assign(plan, network, result, _random_state=None, _adam_state=None)
        raced = plan.reset and plan.trial_epochs is not None
        self._check_health("fit", plan.n_init if plan.reset else 1, raced)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One pass of minibatch updates over ``X``; see the subclass docstring for details."""
        plan = make_plan(self, X, comm=SingleProcess(), incremental=True)
        rng = getattr(self, "_random_state", None)
        # A copy: a call that raises must leave the stream where it was.
        rng = random_state_of(self.random_state) if rng is None else copy.deepcopy(rng)
        if plan.reset:
            network = _new_network(plan, rng)
        else:
            network = self._continued_network(plan.device)
        adam_state = getattr(self, "_adam_state", None)
        run = self._run(plan, network, _generator(plan, rng), SingleProcess(), adam_state=adam_state)
        result = run.advance(plan.schedule.max_epochs)
        self._check_result(result, plan, "partial_fit")
        adam_state = adam_state if result.adam_state is None else result.adam_state
        self._assign(plan, network, result, _random_state=rng, _adam_state=adam_state)
        # No health warning: a chunk of a stream may hold a few classes only, and
        # its empty clusters say nothing of the model (cluster_sizes_ still tells).
        return self

    def _continued_network(self, device):
        # A copy: training updates it in place, and a run that raises must not.
        return copy.deepcopy(self.network_).to(device)

    def _assign(self, plan, network, result, **state):
        """Set every fitted attribute of a successful fit at once."""
        continued = not plan.reset
        fitted = {
            "network_": network,
            "loss_curve_": (self.loss_curve_ if continued else []) + result.loss_curve,
            "n_iter_": (self.n_iter_ if continued else 0) + result.n_epochs,
            "loss_parts_": {
                name: np.concatenate([self.loss_parts_[name] if continued else [], values])
                for name, values in result.loss_parts.items()
            },
            **self._fitted_extras(network, plan.X, plan.device),
            **state,
        }
        if plan.reset:
            fitted["n_features_in_"] = plan.X.shape[1]
            if plan.feature_names is None:
                self.__dict__.pop("feature_names_in_", None)
            else:
                fitted["feature_names_in_"] = plan.feature_names
        for name, value in fitted.items():
            setattr(self, name, value)

    def _best_of_n_init(self, plan, rng, comm):
        """Train ``plan.n_init`` networks and keep one (see :meth:`_pick`).

        With ``plan.trial_epochs`` (a race), each trains that many epochs
        first and only the kept one goes on to the end of the schedule.
        """
        first_epochs = plan.schedule.max_epochs if plan.trial_epochs is None else plan.trial_epochs
        trained = []
        for init in range(plan.n_init):
            if self.verbose:
                note = _race_note(plan)
                print(f"{type(self).__name__}: initialisation {init + 1}/{plan.n_init}{note}", flush=True)
            network = _new_network(plan, rng)
            run = self._run(plan, network, _generator(plan, rng), comm)
            result = run.advance(first_epochs)
            if plan.n_init == 1:
                # Nothing to compare: skip a forward pass over all of X.
                return network, result
            if result.loss_curve:
                outputs = batched_outputs(network, plan.objective.output, plan.X, plan.device)
                # Only a paused run can go on: the others' runs, optimizers included, can be freed.
                going_on = run if result.stop_reason == "paused" else None
                trained.append(_Trained(init, network, going_on, result, outputs))
            if result.stop_reason == "interrupted":
                break
        if not trained:
            # No training completed an epoch (interrupted, or diverged at once): _check_result raises.
            return network, result
        candidates = _candidates(trained)
        choice = self._pick(plan.objective, [t.outputs for t in candidates])
        kept_init, network, run, kept, _ = candidates[comm.first_process_choice(choice, plan.device)]
        # The losers of a race must not hold memory while the kept one goes on.
        trained = candidates = None
        if result.stop_reason == "interrupted" and kept is not result:
            # The kept network ran normally: without this, the interrupt would leave no trace
            # (a paused race training gets no warning of its own from _check_result).
            done = "completed one(s)"
            if run is not None:
                done = f"earlier one(s), after their race of {plan.trial_epochs} epoch(s)"
            warnings.warn(
                f"{type(self).__name__}.fit was interrupted during initialisation "
                f"{init + 1}/{plan.n_init}; keeping the best of the {init} {done} (n_iter_={kept.n_epochs}).",
                UserWarning,
            )
        elif run is not None:
            if self.verbose:
                name = type(self).__name__
                print(f"{name}: initialisation {kept_init + 1}/{plan.n_init} kept, training on", flush=True)
            kept = run.advance(plan.schedule.max_epochs)
        return network, kept

    def _pick(self, objective, outputs):
        """Index of the training to keep, from each one's ``outputs`` on the training set.

        The highest information estimate (``score``; label-free and
        deterministic, unlike the last epoch's minibatch loss) decides,
        unless :meth:`_agreement` ranks the trainings first. Only trainings
        with at least half the best estimate vote and can be kept: collapsed
        ones (every sample in one cluster, or outputs left uniform) agree
        perfectly with each other and must not outvote the rest.
        """
        information = np.array([_information(objective, probs) for probs in outputs])
        best = int(np.argmax(information))
        voters = np.flatnonzero(information >= _MIN_INFORMATION_SHARE * information[best])
        if information[best] <= 0 or len(voters) < _MIN_TRAININGS_TO_AGREE:
            return best
        agreement = self._agreement([outputs[i] for i in voters])
        if agreement is None:
            return best
        kept = max(range(len(voters)), key=lambda j: (agreement[j], information[voters[j]]))
        return int(voters[kept])

    def _agreement(self, outputs):
        """Per training, how much its assignments agree with the other trainings', or None."""
        return None

    def _run(self, plan, network, generator, comm, adam_state=None):
        """A training run of ``plan`` from ``network``, drawing from ``generator``, not started yet."""
        return Run(
            plan, network, generator=generator, comm=comm, adam_state=adam_state,
            on_epoch=self._print_epoch if self.verbose else None,
        )

    def _check_result(self, result, plan, method):
        """Raise or warn when the run of ``method`` ('fit' or 'partial_fit') went wrong."""
        name = f"{type(self).__name__}.{method}"
        schedule = plan.schedule
        # The model's epochs, earlier calls included, as n_iter_ will read once assigned.
        n_iter = (0 if plan.reset else self.n_iter_) + result.n_epochs
        if result.stop_reason == "interrupted" and not result.loss_curve:
            # Not one epoch completed: an untrained network must not look fitted.
            raise KeyboardInterrupt
        if result.stop_reason == "diverged" and not result.loss_curve:
            raise ValueError(
                f"{name} diverged in its first epoch (the loss became NaN or infinite). "
                f"Lower learning_rate (now {self.learning_rate}) or scale the features of X."
            )
        if result.stop_reason == "diverged":
            warnings.warn(
                f"{name} diverged after {result.n_epochs} epoch(s) (non-finite loss); keeping the "
                f"model of the last finite epoch (n_iter_={n_iter}). Lower learning_rate "
                f"(now {self.learning_rate}) or scale the features of X.",
                ConvergenceWarning,
            )
        elif result.stop_reason == "max_epochs" and schedule.tol is not None:
            changed = result.changed_curve[-1]
            # The first epoch has no earlier assignments to compare with (NaN).
            detail = (
                f"{changed:.2%} of the assignments changed in the last epoch"
                if changed == changed
                else "a single epoch cannot show that the assignments settled"
            )
            warnings.warn(
                f"{name} reached max_iter={schedule.max_epochs} epochs before converging: "
                f"{detail} (tol={schedule.tol}, n_iter_no_change={schedule.n_iter_no_change}). "
                "Increase max_iter, or raise tol.",
                ConvergenceWarning,
            )
        elif result.stop_reason == "interrupted":
            warnings.warn(
                f"{name} was interrupted; keeping the model of the last completed epoch "
                f"(n_iter_={n_iter}).",
                UserWarning,
            )

    def _check_health(self, method, n_init, raced=False):
        """Warn when the fitted assignments of the training data show a failed fit."""
        problem = self._health_problem(n_init, raced)
        if problem is not None:
            warnings.warn(f"{type(self).__name__}.{method}: {problem}", ConvergenceWarning)

    def _n_init_advice(self, n_init, raced=False):
        """The health warnings' advice on ``n_init``, for a fit that set out to run ``n_init`` trainings.

        ``raced``: the trainings raced and only the kept one trained to the end.
        """
        if raced:
            return (
                f"raise n_init (now {self.n_init!r}, a race of {n_init} trainings on this data; "
                "an integer n_init trains every network to the end)"
            )
        if isinstance(self.n_init, str):
            now = f"{self.n_init!r}, {n_init} training{'s' if n_init > 1 else ''} on this data"
        else:
            now = str(self.n_init)
        if n_init > 1:
            return f"raise n_init (now {now})"
        return f"train several networks with n_init > 1 (now {now})"

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
        check_no_array_api_dispatch(self, X)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float32, np.float64], reset=False)
        return self._outputs_of_validated(X)

    def _outputs_of_validated(self, X):
        """Network outputs of already validated X (no second validation, no name checks)."""
        device = prediction_device(self.device)
        return batched_outputs(self.network_, self._objective_class.output, X, device)

    @property
    def _n_features_out(self):
        # The fitted network's width, not the parameter, which may have changed since.
        # Before fit the AttributeError makes get_feature_names_out raise NotFittedError.
        return self.network_.architecture["n_outputs"]

    def score(self, X, y=None):
        """Estimated information of the learned representation on ``X`` (higher is better).

        See the subclass docstring for the exact quantity.
        """
        return _information(self._build_objective("cpu"), self._outputs(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.sparse = True
        # NumPy and SciPy input only: other namespaces are refused under array_api_dispatch.
        tags.array_api_support = False
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


# With two trainings agreement is symmetric and cannot choose.
_MIN_TRAININGS_TO_AGREE = 3
# Healthy trainings differ by a few percent in their information estimate
# (digits: 40 single trainings within 2.19-2.27 nats); a collapsed one is far below.
_MIN_INFORMATION_SHARE = 0.5


def _information(objective, probs):
    """The objective's estimate of the information of the outputs ``probs`` (numpy, on the CPU)."""
    return float(objective.mutual_information(torch.from_numpy(probs)))


def _seed(rng):
    return int(rng.randint(np.iinfo(np.int32).max))


def _generator(plan, rng):
    """The generator of one training run on ``plan``'s device, seeded from ``rng``."""
    return torch.Generator(device=plan.device).manual_seed(_seed(rng))


def _race_note(plan):
    """What a verbose fit adds to the line of each initialisation of a race."""
    if plan.trial_epochs is None:
        return ""
    return f" ({plan.trial_epochs} epochs, then the kept one trains on)"


# Preferred in this order as the trainings to keep: those that ran normally
# (a diverged one rolled back to an earlier epoch, and a race would end the
# fit with it), then any that was not interrupted.
_NORMAL_ENDS = ("converged", "max_epochs", "paused")


class _Trained(NamedTuple):
    """One training of a fit with several: ``run`` is None unless it paused and can go on."""

    init: int
    network: object
    run: object
    result: object
    outputs: np.ndarray


def _candidates(trained):
    """The ``_Trained`` entries ``_pick`` chooses from."""
    normal = [t for t in trained if t.result.stop_reason in _NORMAL_ENDS]
    return normal or [t for t in trained if t.result.stop_reason != "interrupted"] or trained


def _new_network(plan, rng):
    """A freshly initialised network of ``plan``'s shape on its device, seeded from ``rng``."""
    # Initial weights are drawn on the CPU so they do not depend on the device.
    generator = torch.Generator().manual_seed(_seed(rng))
    network = build_network(plan.X.shape[1], plan.hidden_layer_sizes, plan.n_outputs, generator)
    return network.to(plan.device)
