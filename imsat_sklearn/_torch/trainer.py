"""The one IMSAT training loop, shared by clustering and hashing.

Per minibatch: a clean forward pass (updating BatchNorm statistics), the SAT
penalty of every augmentation against the detached clean outputs, the
task's information term, one Adam step. Losses are accumulated on the device
and read once per epoch, so a GPU is never made to wait inside an epoch.
Minibatches come from a row source (see ``data``): device-resident dense
rows, host-resident rows copied per minibatch, or CSR rows densified per
minibatch.
"""

import time
from dataclasses import dataclass, field
from functools import partial

import torch

from .data import as_row_source
from .distributed import SingleProcess


@dataclass
class TrainResult:
    """What a training run produced, besides the trained network (updated in place)."""

    loss_curve: list = field(default_factory=list)
    loss_parts: dict = field(default_factory=dict)
    stop_reason: str = "completed"  # "completed", "diverged" or "interrupted"
    # Adam's per-parameter state at the end of a completed run, to continue from.
    adam_state: dict = None

    @property
    def n_epochs(self):
        return len(self.loss_curve)


@dataclass
class Schedule:
    """How many updates to run: epochs of full, shuffled passes over the data."""

    batch_size: int
    n_epochs: int
    passes_per_epoch: int = 1
    learning_rate: float = 0.002


def train(
    network,
    objective,
    augmentations,
    X,
    radius,
    *,
    lam,
    schedule,
    generator,
    on_epoch=None,
    parallel=None,
    adam_state=None,
):
    """Train ``network`` in place with the IMSAT loss R_SAT + lam * information term.

    ``X`` is a row source of n rows (see ``data``: :class:`~.data.DeviceRows`,
    :class:`~.data.HostRows`, :class:`~.data.SparseRows`), or a tensor (n, d)
    on the training device, which is taken as ``DeviceRows(X)``. ``radius``
    (n,) lives on the training device (``X.device``), as does
    ``generator``, which draws every permutation and perturbation. Each pass
    visits ``n // batch_size`` full minibatches of a fresh permutation, so
    BatchNorm never sees a minibatch smaller than ``batch_size``. The
    permutations, hence the results, do not depend on the kind of row source.

    Training stops early, keeping the network of the last completed epoch,
    when an epoch's loss is not finite ("diverged") or on KeyboardInterrupt
    ("interrupted"). ``on_epoch(epoch, loss, parts, seconds)`` is called after
    every completed epoch.

    ``parallel`` (default: a :class:`~._torch.distributed.SingleProcess`)
    splits every minibatch over processes; epoch losses are then those of the
    whole minibatches. ``adam_state`` (a ``TrainResult.adam_state``) continues
    the optimizer of an earlier run on this network.
    """
    parallel = SingleProcess() if parallel is None else parallel
    X = as_row_source(X)
    # The fused kernel does the whole Adam step in one launch on CUDA.
    fused = X.device.type == "cuda"
    optimizer = torch.optim.Adam(network.parameters(), lr=schedule.learning_rate, fused=fused)
    if adam_state is not None:
        # Only the moments carry over; learning rate and kernel are this run's.
        groups = optimizer.state_dict()["param_groups"]
        # A copy: the optimizer updates its state in place, and the caller's must
        # survive a run that diverges or is interrupted.
        state = {index: _clone(moments) for index, moments in adam_state.items()}
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    forward = partial(network, update_stats=False)
    result = TrainResult()
    snapshot = _snapshot(network)
    network.train()
    started = time.perf_counter()
    with parallel.synchronized(network, objective, augmentations, generator):
        try:
            for epoch in range(1, schedule.n_epochs + 1):
                totals, names = _run_epoch(
                    network, forward, optimizer, objective, augmentations, X, radius, lam, schedule,
                    generator, parallel,
                )
                totals = parallel.average(totals)
                values = (totals / (schedule.passes_per_epoch * (len(X) // schedule.batch_size))).tolist()
                if not all(map(_finite, values)):
                    result.stop_reason = "diverged"
                    break
                snapshot = _snapshot(network)
                _record(result, names, values)
                if on_epoch is not None:
                    on_epoch(epoch, values[0], dict(zip(names[1:], values[1:])), time.perf_counter() - started)
        except KeyboardInterrupt:
            result.stop_reason = "interrupted"
    network.load_state_dict(snapshot)
    network.eval()
    if result.stop_reason == "completed":
        result.adam_state = optimizer.state_dict()["state"]
    return result


def _run_epoch(
    network, forward, optimizer, objective, augmentations, X, radius, lam, schedule, generator, parallel
):
    n, batch_size = len(X), schedule.batch_size
    totals = None
    for _ in range(schedule.passes_per_epoch):
        permutation = torch.randperm(n, generator=generator, device=X.device)
        # The same permutation where the row source gathers (a host copy for host rows).
        order = X.order(permutation)
        for start in range(0, n - batch_size + 1, batch_size):
            index = parallel.local_rows(permutation[start : start + batch_size])
            x = X.rows(parallel.local_rows(order[start : start + batch_size]))
            loss, parts = _loss(network, forward, objective, augmentations, x, radius[index], lam, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            parallel.reduce_gradients(network.parameters())
            optimizer.step()
            step = torch.stack([loss.detach(), *(v.detach() for v in parts.values())])
            totals = step if totals is None else totals + step
    return totals, ["loss", *parts]


def _loss(network, forward, objective, augmentations, x, radius, lam, generator):
    logits = network(x)
    target = logits.detach()
    sat = sum(
        aug(forward, x, target, radius, objective.sat_divergence, generator) for aug in augmentations
    )
    information, parts = objective.information_loss(logits)
    return sat + lam * information, {"R_SAT": sat, **parts}


def _snapshot(network):
    return {name: value.detach().clone() for name, value in network.state_dict().items()}


def _record(result, names, values):
    result.loss_curve.append(values[0])
    for name, value in zip(names[1:], values[1:]):
        result.loss_parts.setdefault(name, []).append(value)


def _finite(value):
    return value == value and abs(value) != float("inf")


def _clone(moments):
    return {name: value.clone() if torch.is_tensor(value) else value for name, value in moments.items()}
