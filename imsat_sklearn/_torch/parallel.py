"""Communicators: what differs when one training run is split over processes.

The trainer takes a communicator, passed in explicitly. :class:`SingleProcess`,
for one process, exchanges nothing. :class:`DataParallel` splits every
minibatch over the processes of a ``torch.distributed`` group so that the
run computes the objective of one process training on the whole minibatch:

- each process takes its contiguous slice of every minibatch of the shared
  permutation (all processes draw the same permutations from generators
  seeded alike, as ``DistributedSampler`` does), so every process holds all of X;
- ``reduce_mean``, handed to the objective, all-reduces the batch means of
  the information term (H(Y); the bit marginals and pairwise joints of
  hashing) and ``batch_norm``, handed to the network, the BatchNorm
  statistics, with an autograd-aware all-reduce, so gradients flow across
  processes;
- ``directions``, handed to VAT and RPT, draws the random directions for the
  whole minibatch on every process and cuts them to this process's rows:
  the same numbers one process draws; transform augmentations draw from the
  per-process generator of ``transform_generator`` instead;
- gradients are averaged over processes before every Adam step, which keeps
  the parameters identical everywhere, and epoch losses are averaged;
- ``sum`` adds up the shares of the k-NN radius each process computes (see
  ``imsat_sklearn._radius``);
- ``first_process_choice`` gives every process the training of ``n_init``
  that the first process picked.

The gradient averaging is what ``DistributedDataParallel`` does; it is done
by hand because self-augmented training runs several forward passes per
update (VAT's power iteration differentiates through one of them), which the
wrapper's once-per-forward bookkeeping does not expect.
"""

import torch
import torch.distributed as dist
from torch.nn import functional as F

from .sat import random_direction, unit_rows


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

    def first_process_choice(self, index, device):
        """The ``index`` (an int) that the group's first process chose, in every process."""
        return index

    @staticmethod
    def reduce_mean(mean):
        """Mean over the whole minibatch from this process's mean; differentiable."""
        return mean

    # F.batch_norm's signature: the network normalises with it.
    batch_norm = staticmethod(F.batch_norm)

    # Random unit directions of VAT and RPT, ``directions(x, generator)``.
    directions = staticmethod(random_direction)

    def transform_generator(self, generator):
        """The generator transform augmentations draw from in a run seeded by ``generator``."""
        return generator


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

    def first_process_choice(self, index, device):
        # The processes choose from identical networks, but a choice that rounding
        # made differ would go on training different networks with shared gradients.
        mine = torch.tensor([index if self.rank == 0 else 0], dtype=torch.int64, device=device)
        return int(self.sum(mine).item())

    def reduce_mean(self, mean):
        # Every process holds the same number of rows, so the global mean is the
        # mean of the processes' means.
        return _AllReduceSum.apply(mean, self.group) / self.world_size

    def batch_norm(
        self, x, running_mean, running_var, weight, bias, *, training=False, momentum=0.1, eps=1e-5
    ):
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
        return unit_rows(noise[self.rank * n : (self.rank + 1) * n])

    def transform_generator(self, generator):
        # Shared draws would give row i of every process the same transform.
        own = torch.Generator(device=generator.device)
        return own.manual_seed(generator.initial_seed() + 1 + self.rank)


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
