"""Self-augmented training (SAT): the augmentations and their penalties.

Each augmentation is called as ``aug(forward, x, target_logits, radius,
divergence, generator)`` and returns the SAT penalty R_SAT on the batch:
the divergence between the (detached) outputs on ``x`` and the outputs on the
augmented batch. ``forward`` must not update BatchNorm running statistics.

Reference: Hu et al. 2017, Section 3.1 (SAT with VAT and RPT).
"""

import torch
from torch.nn import functional as F


def _unit_rows(d):
    # Scaling by the largest entry first keeps the squared norm away from
    # underflow when d is a tiny gradient, as in the authors' code.
    d = d / (d.abs().amax(dim=1, keepdim=True) + 1e-12)
    return F.normalize(d, dim=1, eps=1e-12)


def _random_direction(x, generator):
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return _unit_rows(noise)


class VAT:
    """Virtual adversarial perturbation found by power iteration (Miyato et al.).

    Starting from a random unit direction scaled by ``xi``, each power iteration
    replaces the direction by the gradient of the divergence with respect to
    it. The adversarial point is ``x + radius * d / ||d||``. The gradient is
    taken with respect to the direction only, so nothing leaks into the
    parameter gradients.
    """

    def __init__(self, xi=10.0, n_power_iterations=1):
        self.xi = xi
        self.n_power_iterations = n_power_iterations

    def __call__(self, forward, x, target_logits, radius, divergence, generator):
        d = _random_direction(x, generator)
        for _ in range(self.n_power_iterations):
            d = (self.xi * d).requires_grad_()
            distance = divergence(target_logits, forward(x + d))
            d = _unit_rows(torch.autograd.grad(distance, d)[0])
        return divergence(target_logits, forward(x + radius[:, None] * d))


class RPT:
    """Random perturbation training: a uniform direction on the per-sample sphere."""

    def __call__(self, forward, x, target_logits, radius, divergence, generator):
        d = _random_direction(x, generator)
        return divergence(target_logits, forward(x + radius[:, None] * d))
