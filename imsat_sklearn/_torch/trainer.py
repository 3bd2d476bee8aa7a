"""The one IMSAT training loop, shared by clustering and hashing.

Per minibatch: a clean forward pass (updating BatchNorm statistics), the SAT
penalty of every augmentation against the detached clean outputs, the
task's information term, one Adam step. Losses are accumulated on the device
and read once per epoch, so a GPU is never made to wait inside an epoch.

Training stops at ``max_epochs``, or earlier once the assignments (cluster
labels, code bits) that the clean passes give the samples stop changing:
the fraction that changed since each sample's previous visit stays at or
below ``tol`` for ``n_iter_no_change`` epochs in a row. That test costs
nothing extra: the clean pass computes the outputs anyway.
Minibatches come from a row source (see ``data``): device-resident dense
rows, host-resident rows copied per minibatch, or CSR rows densified per
minibatch.
"""

import time
from dataclasses import dataclass, field
from functools import partial

import torch

from .data import as_row_source
from .parallel import SingleProcess


@dataclass
class TrainResult:
    """What a training run produced, besides the trained network (updated in place)."""

    loss_curve: list = field(default_factory=list)
    loss_parts: dict = field(default_factory=dict)
    # Per epoch, the fraction of assignments that changed since the previous
    # visit of their sample (NaN in the first epoch: nothing to compare).
    changed_curve: list = field(default_factory=list)
    # "converged", "max_epochs", "diverged", "interrupted", or "paused": a
    # Run advanced fewer epochs than its schedule allows, which it can go on with.
    stop_reason: str = "max_epochs"
    # Adam's per-parameter state at the end of a run that was not cut short, to continue from.
    adam_state: dict = None

    @property
    def n_epochs(self):
        return len(self.loss_curve)


@dataclass(frozen=True)
class Schedule:
    """How many updates to run: epochs of full, shuffled passes over the data.

    ``tol`` and ``n_iter_no_change`` are the stopping rule (see the module
    docstring); ``tol=None`` runs all ``max_epochs``.
    """

    batch_size: int
    max_epochs: int
    passes_per_epoch: int = 1
    learning_rate: float = 0.002
    tol: float = None
    n_iter_no_change: int = 10

    def updates_per_epoch(self, n_samples):
        """Adam updates in one epoch over ``n_samples`` rows."""
        return self.passes_per_epoch * (n_samples // self.batch_size)


def train(plan, network, *, generator, comm=None, on_epoch=None, adam_state=None):
    """Train ``network`` in place with the IMSAT loss R_SAT + lam * information term.

    ``plan`` (an ``imsat_sklearn._plan.TrainingPlan``, or any object with
    these attributes) gives ``rows``, ``radius``, ``objective``,
    ``augmentations``, ``lam`` and ``schedule``. ``plan.rows`` is a row
    source of n rows (see ``data``: :class:`~.data.DeviceRows`,
    :class:`~.data.HostRows`, :class:`~.data.SparseRows`), or a tensor (n, d)
    on the training device, which is taken as ``DeviceRows(X)``.
    ``plan.radius`` (n,) lives on the training device, as does
    ``generator``, which draws every permutation and perturbation. Each pass
    visits ``n // batch_size`` full minibatches of a fresh permutation, so
    BatchNorm never sees a minibatch smaller than ``batch_size``. The
    permutations, hence the results, do not depend on the kind of row source.

    Training runs ``schedule.max_epochs`` epochs or stops when the
    assignments converged ("converged", see the module docstring). It stops
    early, keeping the network of the last completed epoch, when an epoch's
    loss is not finite ("diverged") or on KeyboardInterrupt ("interrupted").
    ``on_epoch(epoch, loss, parts, changed, seconds)`` is called after every
    completed epoch, ``changed`` being the fraction of changed assignments.

    ``comm`` (default: a :class:`~.parallel.SingleProcess`) is the
    communicator that splits every minibatch over processes; epoch losses
    are then those of the whole minibatches. ``adam_state`` (a
    ``TrainResult.adam_state``) continues the optimizer of an earlier run on
    this network. ``train`` is ``Run(...).advance(plan.schedule.max_epochs)``.
    """
    run = Run(plan, network, generator=generator, comm=comm, on_epoch=on_epoch, adam_state=adam_state)
    return run.advance(plan.schedule.max_epochs)


class Run:
    """One training run that can stop and go on where it stopped (see :func:`train`).

    Between calls of :meth:`advance` it keeps everything the next epoch
    needs: the optimizer, the generators, the latest assignments and the
    stopping rule's count of quiet epochs, so that advancing 2 epochs and
    then 3 trains exactly as advancing 5. ``n_init="auto"`` races
    trainings this way and lets the kept one go on.
    """

    def __init__(self, plan, network, *, generator, comm=None, on_epoch=None, adam_state=None):
        self.comm = SingleProcess() if comm is None else comm
        self.rows = as_row_source(plan.rows)
        self.schedule = plan.schedule
        self.network = network
        self.optimizer = _adam(network, self.schedule.learning_rate, self.rows.device, adam_state)
        self.step = _Step(plan, network, self.optimizer, generator, self.comm)
        self.assignments = _Assignments(plan.objective, len(self.rows), self.rows.device)
        self.on_epoch = on_epoch
        self.result = TrainResult()
        self.quiet_epochs = 0
        self.seconds = 0.0

    def advance(self, n_epochs):
        """Train up to ``n_epochs`` more epochs within the schedule; the result of the whole run so far.

        The run ends ("converged", "max_epochs", "diverged", "interrupted")
        or pauses after ``n_epochs`` ("paused"), when it can advance again.
        """
        network, result, schedule = self.network, self.result, self.schedule
        if result.n_epochs and result.stop_reason != "paused":
            raise RuntimeError(f"this run has ended ({result.stop_reason!r}); only a paused run can advance.")
        last = min(schedule.max_epochs, result.n_epochs + n_epochs)
        snapshot = _snapshot(network)
        network.train()
        started = time.perf_counter() - self.seconds
        result.stop_reason = "max_epochs" if last == schedule.max_epochs else "paused"
        try:
            for epoch in range(result.n_epochs + 1, last + 1):
                totals, names, n_steps = _run_epoch(self.step, self.rows, schedule, self.assignments)
                values = (self.comm.average(totals) / n_steps).tolist()
                changed = self.assignments.changed_fraction(self.comm)
                if not all(map(_finite, values)):
                    result.stop_reason = "diverged"
                    break
                snapshot = _snapshot(network)
                _record(result, names, values, changed)
                if self.on_epoch is not None:
                    parts = dict(zip(names[1:], values[1:]))
                    self.on_epoch(epoch, values[0], parts, changed, time.perf_counter() - started)
                self.quiet_epochs = self.quiet_epochs + 1 if _within(changed, schedule.tol) else 0
                if self.quiet_epochs >= schedule.n_iter_no_change:
                    result.stop_reason = "converged"
                    break
        except KeyboardInterrupt:
            result.stop_reason = "interrupted"
        self.seconds = time.perf_counter() - started
        network.load_state_dict(snapshot)
        network.eval()
        ended_normally = result.stop_reason in ("converged", "max_epochs")
        result.adam_state = self.optimizer.state_dict()["state"] if ended_normally else None
        return result


def _adam(network, learning_rate, device, adam_state):
    # The fused kernel does the whole Adam step in one launch on CUDA.
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate, fused=device.type == "cuda")
    if adam_state is not None:
        # Only the moments carry over; learning rate and kernel are this run's.
        groups = optimizer.state_dict()["param_groups"]
        # A copy: the optimizer updates its state in place, and the caller's must
        # survive a run that diverges or is interrupted.
        state = {index: _clone(moments) for index, moments in adam_state.items()}
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    return optimizer


class _Assignments:
    """The latest assignment of every sample, and how many changed this epoch.

    Counts stay on the device and are read once per epoch. Samples not yet
    visited hold -1 and are not compared.
    """

    def __init__(self, objective, n_samples, device):
        self.assign = objective.assign
        self.latest = None
        self.n_samples = n_samples
        self.device = device
        self.counts = torch.zeros(2, device=device)

    def update(self, index, logits):
        new = self.assign(logits.detach())
        if self.latest is None:
            self.latest = torch.full((self.n_samples, *new.shape[1:]), -1, dtype=new.dtype, device=self.device)
        old = self.latest[index]
        known = old >= 0
        self.counts += torch.stack([((new != old) & known).sum(), known.sum()]).to(self.counts.dtype)
        self.latest[index] = new

    def changed_fraction(self, comm):
        changed, compared = comm.average(self.counts).tolist()
        self.counts.zero_()
        return changed / compared if compared else float("nan")


def _within(changed, tol):
    return tol is not None and changed == changed and changed <= tol


def _run_epoch(step, rows, schedule, assignments):
    n, batch_size = len(rows), schedule.batch_size
    totals, n_steps = None, 0
    for _ in range(schedule.passes_per_epoch):
        permutation = torch.randperm(n, generator=step.generator, device=rows.device)
        # The same permutation where the row source gathers (a host copy for host rows).
        order = rows.order(permutation)
        for start in range(0, n - batch_size + 1, batch_size):
            index = step.comm.local_rows(permutation[start : start + batch_size])
            x = rows.rows(step.comm.local_rows(order[start : start + batch_size]))
            values, names, logits = step(x, index)
            assignments.update(index, logits)
            totals = values if totals is None else totals + values
            n_steps += 1
    return totals, names, n_steps


class _Step:
    """One Adam update of a plan's loss on a minibatch, with the communicator's reductions."""

    def __init__(self, plan, network, optimizer, generator, comm):
        self.plan, self.network, self.optimizer = plan, network, optimizer
        self.generator, self.comm = generator, comm
        self.transform_generator = comm.transform_generator(generator)

    def __call__(self, x, index):
        """Update on rows ``x`` (sample indices ``index``); their loss values, names and logits."""
        loss, parts, logits = _loss(
            self.plan, self.network, x, index, generator=self.generator, comm=self.comm,
            transform_generator=self.transform_generator,
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.comm.reduce_gradients(self.network.parameters())
        self.optimizer.step()
        values = torch.stack([loss.detach(), *(v.detach() for v in parts.values())])
        return values, ["loss", *parts], logits


def _loss(plan, network, x, index, *, generator, comm, transform_generator=None):
    """The IMSAT loss of the minibatch ``x`` (sample indices ``index``), its parts and logits."""
    logits = network(x, batch_norm=comm.batch_norm)
    target = logits.detach()
    # SAT passes normalise with their own batch but leave the running statistics alone.
    forward = partial(network, update_stats=False, batch_norm=comm.batch_norm)
    radius = plan.radius[index]
    sat = sum(
        aug(
            forward, x, target, radius, plan.objective.sat_divergence, generator,
            directions=comm.directions, transform_generator=transform_generator,
        )
        for aug in plan.augmentations
    )
    information, parts = plan.objective.information_loss(logits, reduce_mean=comm.reduce_mean)
    return sat + plan.lam * information, {"R_SAT": sat, **parts}, target


def _snapshot(network):
    return {name: value.detach().clone() for name, value in network.state_dict().items()}


def _record(result, names, values, changed):
    result.loss_curve.append(values[0])
    result.changed_curve.append(changed)
    for name, value in zip(names[1:], values[1:]):
        result.loss_parts.setdefault(name, []).append(value)


def _finite(value):
    return value == value and abs(value) != float("inf")


def _clone(moments):
    return {name: value.clone() if torch.is_tensor(value) else value for name, value in moments.items()}
