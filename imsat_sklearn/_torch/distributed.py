"""Data parallelism: how one training run is split over processes.

The trainer and the estimators' fit driver take a *parallel* object that says
what differs when a run is split over processes. :class:`SingleProcess`, the
default, changes nothing. :class:`DataParallel` splits every minibatch over
the processes of a ``torch.distributed`` group so that the run computes the
objective of one process training on the whole minibatch:

- each process takes its contiguous slice of every minibatch of the shared
  permutation (all processes draw the same permutations from generators
  seeded alike, as ``DistributedSampler`` does), so every process holds all of X;
- the batch means of the information term (H(Y); the bit marginals and
  pairwise joints of hashing) and the BatchNorm statistics are all-reduced
  with an autograd-aware all-reduce, so gradients flow across processes;
- the random directions of VAT and RPT are drawn for the whole minibatch on
  every process and cut to this process's rows: the same numbers one process
  draws; transform augmentations draw from a per-process generator instead;
- gradients are averaged over processes before every Adam step, which keeps
  the parameters identical everywhere, and epoch losses are averaged;
- the k-NN radius is computed exactly, each process doing its share of rows;
- each process draws its rows from a row source (see ``data``), after
  ``local_rows`` has picked its share of the minibatch's indices.

The gradient averaging is what ``DistributedDataParallel`` does; it is done
by hand because self-augmented training runs several forward passes per
update (VAT's power iteration differentiates through one of them), which the
wrapper's once-per-forward bookkeeping does not expect.
"""

from contextlib import contextmanager, nullcontext

import torch
import torch.distributed as dist
from torch.nn import functional as F

from .radius import kth_neighbor_distance
from .sat import RPT, VAT, TransformPenalty, _unit_rows


class SingleProcess:
    """Training in one process: the whole minibatch is here, nothing is exchanged."""

    rank = 0
    world_size = 1

    def check_batch_size(self, batch_size):
        """Raise ValueError unless minibatches of ``batch_size`` rows split over the processes."""

    def local_rows(self, index):
        """This process's part of the minibatch with row indices ``index``."""
        return index

    def reduce_gradients(self, parameters):
        """Make every process's gradients the average over processes."""

    def average(self, tensor):
        """Mean of ``tensor`` over processes (no gradient)."""
        return tensor

    def sum(self, tensor):
        """Sum of ``tensor`` over processes (no gradient)."""
        return tensor

    def synchronized(self, network, objective, augmentations, generator):
        """Context in which the components compute whole-minibatch quantities."""
        return nullcontext()

    def kth_neighbor_distance(self, X, k, method=kth_neighbor_distance):
        """k-NN distances of every row of ``X`` by ``method(X, k, rows=None)``.

        ``method`` is :func:`kth_neighbor_distance` or a function of the same
        signature, e.g. :func:`~.radius.kth_neighbor_distance_streamed` with
        its ``device`` bound for an X in host memory.
        """
        return method(X, k)


class DataParallel(SingleProcess):
    """Split every minibatch over the processes of a ``torch.distributed`` group.

    All processes must hold the same X, radius, initial network and generator
    seed, and call the trainer together. ``batch_size`` must be a multiple of
    the number of processes, with at least 2 rows per process (BatchNorm).
    Works with any backend whose all-reduce supports the training device
    (gloo on CPU, nccl on CUDA).
    """

    def __init__(self, group=None):
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)

    def check_batch_size(self, batch_size):
        size, remainder = divmod(batch_size, self.world_size)
        if remainder or size < 2:
            raise ValueError(
                f"a minibatch of {batch_size} rows cannot be split over {self.world_size} processes: "
                f"batch_size must be a multiple of {self.world_size} with at least 2 rows per process."
            )

    def local_rows(self, index):
        self.check_batch_size(len(index))
        size = len(index) // self.world_size
        return index[self.rank * size : (self.rank + 1) * size]

    def reduce_gradients(self, parameters):
        # One all-reduce of all gradients flattened together, not one per tensor.
        grads = [p.grad for p in parameters if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, group=self.group)
        flat /= self.world_size
        for grad, part in zip(grads, flat.split([g.numel() for g in grads])):
            grad.copy_(part.view_as(grad))

    def average(self, tensor):
        return self.sum(tensor) / self.world_size

    def sum(self, tensor):
        total = tensor.clone()
        dist.all_reduce(total, group=self.group)
        return total

    def reduce_mean(self, mean):
        """Mean over the whole minibatch from this process's mean; differentiable.

        Every process holds the same number of rows, so the global mean is the
        mean of the processes' means.
        """
        return _AllReduceSum.apply(mean, self.group) / self.world_size

    def batch_norm(self, x, running_mean, running_var, weight, bias, training=False, momentum=0.1, eps=1e-5):
        """``F.batch_norm`` with the statistics of the minibatch of all processes."""
        if not training:
            return F.batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
        mean = self.reduce_mean(x.mean(0))
        centered = x - mean
        # Biased variance for normalising, as F.batch_norm; unbiased for the running average.
        var = self.reduce_mean((centered * centered).mean(0))
        if running_mean is not None:
            count = x.shape[0] * self.world_size
            with torch.no_grad():
                running_mean.lerp_(mean, momentum)
                running_var.lerp_(var * (count / (count - 1)), momentum)
        return centered * torch.rsqrt(var + eps) * weight + bias

    def directions(self, x, generator):
        """Unit directions of this process's rows, as one process draws them for the whole batch."""
        n = x.shape[0]
        noise = torch.randn(
            (n * self.world_size, *x.shape[1:]), generator=generator, device=x.device, dtype=x.dtype
        )
        return _unit_rows(noise[self.rank * n : (self.rank + 1) * n])

    @contextmanager
    def synchronized(self, network, objective, augmentations, generator):
        hooks = [(network, "batch_norm", self.batch_norm), (objective, "reduce_mean", self.reduce_mean)]
        for augmentation in augmentations:
            if isinstance(augmentation, (VAT, RPT)):
                hooks.append((augmentation, "directions", self.directions))
            elif isinstance(augmentation, TransformPenalty):
                # Shared draws would give row i of every process the same transform.
                own = torch.Generator(device=generator.device)
                own.manual_seed(generator.initial_seed() + 1 + self.rank)
                hooks.append((augmentation, "generator", own))
        saved = [(owner, name, owner.__dict__.get(name, _UNSET)) for owner, name, _ in hooks]
        for owner, name, value in hooks:
            setattr(owner, name, value)
        try:
            yield
        finally:
            for owner, name, value in saved:
                if value is _UNSET:
                    delattr(owner, name)
                else:
                    setattr(owner, name, value)

    def kth_neighbor_distance(self, X, k, method=kth_neighbor_distance):
        """Exact k-NN distances of all rows; each process computes a share of the rows."""
        rows = torch.arange(X.shape[0], device=X.device).tensor_split(self.world_size)[self.rank]
        share = method(X, k, rows=rows)
        # On the device ``method`` computed on, which the all-reduce backend supports.
        distances = torch.zeros(X.shape[0], dtype=share.dtype, device=share.device)
        distances[rows.to(share.device)] = share
        # Each row is non-zero on at most one process, so the sum is exact.
        dist.all_reduce(distances, group=self.group)
        return distances


_UNSET = object()


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes whose gradient is the sum of the processes' gradients.

    Process r's loss depends on every process's input through the sum, so the
    gradient of the summed loss with respect to its input is the all-reduced
    gradient of the output. (``torch.distributed.nn.functional.all_reduce``
    does the same but is deprecated.)
    """

    @staticmethod
    def forward(ctx, tensor, group):
        ctx.group = group
        total = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, group=group)
        return total

    @staticmethod
    def backward(ctx, grad_output):
        grad = grad_output.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, group=ctx.group)
        return grad, None
