"""The IMSAT network: an MLP of (Linear -> BatchNorm -> ReLU) blocks and a linear head."""

import math

import torch
from torch import nn
from torch.nn import functional as F

# Chainer's BatchNormalization defaults, which the authors' code relied on.
BN_EPS = 2e-5
BN_MOMENTUM = 0.1
# Weight variances (times 1/fan_in) of the authors' Chainer `wscale` arguments.
HIDDEN_WEIGHT_SCALE = 0.1
OUTPUT_WEIGHT_SCALE = 1e-4


class MLP(nn.Module):
    """Multi-layer perceptron whose forward pass can leave BatchNorm statistics alone.

    Self-augmented training runs extra forward passes on perturbed inputs. They
    must normalise with the batch statistics, as the clean pass does, without
    moving the running averages; ``forward(x, update_stats=False)`` does that.

    Every normalisation goes through ``batch_norm`` (``F.batch_norm``'s
    signature); data-parallel training passes its communicator's, whose
    batch statistics cover the minibatch of all processes.
    """

    def __init__(self, n_features, hidden_layer_sizes, n_outputs):
        super().__init__()
        # Enough to rebuild the module from a state dict (see persistence in _base).
        self.architecture = {
            "n_features": n_features,
            "hidden_layer_sizes": tuple(hidden_layer_sizes),
            "n_outputs": n_outputs,
        }
        sizes = [n_features, *hidden_layer_sizes]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.norms = nn.ModuleList(
            nn.BatchNorm1d(b, eps=BN_EPS, momentum=BN_MOMENTUM) for b in sizes[1:]
        )
        self.head = nn.Linear(sizes[-1], n_outputs)

    def forward(self, x, update_stats=True, batch_norm=F.batch_norm):
        # A single sample has no batch variance; it is normalised with the running
        # statistics instead of failing, so batch_size=1 still trains.
        use_batch_stats = self.training and x.shape[0] > 1
        # Running statistics are read when not normalising by the batch, and
        # written only when the caller asks for it.
        use_running = update_stats or not use_batch_stats
        for linear, norm in zip(self.hidden, self.norms):
            x = batch_norm(
                linear(x),
                norm.running_mean if use_running else None,
                norm.running_var if use_running else None,
                norm.weight,
                norm.bias,
                training=use_batch_stats,
                momentum=norm.momentum,
                eps=norm.eps,
            )
            x = F.relu(x)
        return self.head(x)


def empty_network(n_features, hidden_layer_sizes, n_outputs):
    """An :class:`MLP` with unset Linear weights, built without touching torch's global RNG.

    Modules are created on the meta device, so their default initialisation
    (which draws from the global generator) never runs; BatchNorm layers are
    reset to their deterministic start.
    """
    with torch.device("meta"):
        network = MLP(n_features, hidden_layer_sizes, n_outputs)
    network.to_empty(device="cpu")
    for norm in network.norms:
        norm.reset_parameters()
    return network


def build_network(n_features, hidden_layer_sizes, n_outputs, generator):
    """Build an :class:`MLP` initialised as in the authors' code.

    Hidden weights are drawn from N(0, 0.1 / fan_in), head weights from
    N(0, 1e-4 / fan_in) (variances), biases are zero. The tiny head makes every
    initial output distribution nearly uniform. ``generator`` is a CPU
    ``torch.Generator`` so that the initial weights do not depend on the device.
    """
    network = empty_network(n_features, hidden_layer_sizes, n_outputs)
    with torch.no_grad():
        for linear in network.hidden:
            _init_linear(linear, HIDDEN_WEIGHT_SCALE, generator)
        _init_linear(network.head, OUTPUT_WEIGHT_SCALE, generator)
    return network


def _init_linear(linear, scale, generator):
    fan_in = linear.weight.shape[1]
    linear.weight.normal_(0.0, math.sqrt(scale / fan_in), generator=generator)
    linear.bias.zero_()
