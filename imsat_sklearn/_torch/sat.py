"""Self-augmented training (SAT): the augmentations and their penalties.

Each augmentation is called as ``aug(forward, x, target_logits, radius,
divergence, generator, directions=..., transform_generator=...)`` and
returns the SAT penalty R_SAT on the batch:
the divergence between the (detached) outputs on ``x`` and the outputs on the
augmented batch. ``forward`` must not update BatchNorm running statistics.
Besides the perturbations VAT and RPT, any data transform T(x, generator)
gives a penalty through ``TransformPenalty``; ``build_augmentations`` turns the
estimators' ``augmentation`` parameter into the list of penalties to sum.

Reference: Hu et al. 2017, Section 3.1 (SAT with VAT, RPT and transforms).
"""

import torch
from torch.nn import functional as F


def unit_rows(d):
    # Scaling by the largest entry first keeps the squared norm away from
    # underflow when d is a tiny gradient, as in the authors' code.
    d = d / (d.abs().amax(dim=1, keepdim=True) + 1e-12)
    return F.normalize(d, dim=1, eps=1e-12)


def random_direction(x, generator):
    """A random unit direction per row of ``x``, drawn from ``generator``."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return unit_rows(noise)


class VAT:
    """Virtual adversarial perturbation found by power iteration (Miyato et al.).

    Starting from a random unit direction scaled by ``xi``, each power iteration
    replaces the direction by the gradient of the divergence with respect to
    it. The adversarial point is ``x + radius * d / ||d||``. The gradient is
    taken with respect to the direction only, so nothing leaks into the
    parameter gradients. ``directions(x, generator)`` draws the random unit
    starting directions; data-parallel training passes its communicator's, so
    that each process draws the rows one process would draw for its part of
    the batch.
    """

    def __init__(self, xi=10.0, n_power_iterations=1):
        self.xi = xi
        self.n_power_iterations = n_power_iterations

    def __call__(
        self, forward, x, target_logits, radius, divergence, generator, *,
        directions=random_direction, transform_generator=None,
    ):
        d = directions(x, generator)
        for _ in range(self.n_power_iterations):
            d = (self.xi * d).requires_grad_()
            distance = divergence(target_logits, forward(x + d))
            d = unit_rows(torch.autograd.grad(distance, d)[0])
        return divergence(target_logits, forward(x + radius[:, None] * d))


class RPT:
    """Random perturbation training: a uniform direction on the per-sample sphere.

    ``directions`` is as in :class:`VAT`.
    """

    def __call__(
        self, forward, x, target_logits, radius, divergence, generator, *,
        directions=random_direction, transform_generator=None,
    ):
        d = directions(x, generator)
        return divergence(target_logits, forward(x + radius[:, None] * d))


class TransformPenalty:
    """SAT with a data transform T: the divergence between outputs on x and on T(x).

    ``transform(x, generator)`` must return a tensor of the shape, dtype and
    device of ``x``; anything else raises an error naming the
    ``augmentation`` parameter it came from. The radius is not used.
    ``transform_generator``, when given, is drawn from instead of
    ``generator`` (in data-parallel training each process transforms with
    its own).
    """

    def __init__(self, transform):
        self.transform = transform

    def __call__(
        self, forward, x, target_logits, radius, divergence, generator, *,
        directions=random_direction, transform_generator=None,
    ):
        draws = generator if transform_generator is None else transform_generator
        # T(x) is data: no gradient may flow into the transform.
        with torch.no_grad():
            augmented = self.transform(x, draws)
        _check_transformed(self.transform, x, augmented)
        return divergence(target_logits, forward(augmented))


def _check_transformed(transform, x, augmented):
    expected = f"a torch.Tensor of shape {tuple(x.shape)}, dtype {x.dtype} on device {x.device}"
    if not isinstance(augmented, torch.Tensor):
        raise TypeError(
            f"augmentation {transform!r} returned {type(augmented).__name__}; it must return {expected}."
        )
    if augmented.dtype != x.dtype:
        raise TypeError(f"augmentation {transform!r} returned dtype {augmented.dtype}; expected {expected}.")
    if augmented.shape != x.shape:
        raise ValueError(
            f"augmentation {transform!r} returned shape {tuple(augmented.shape)}; expected {expected}."
        )
    if augmented.device != x.device:
        raise ValueError(
            f"augmentation {transform!r} returned a tensor on {augmented.device}; expected {expected}."
        )


def build_augmentations(spec, xi):
    """Turn the ``augmentation`` parameter into the list of SAT penalties to sum.

    ``spec`` is 'vat' (VAT with step ``xi``), 'rpt', a transform callable
    ``T(x, generator)``, or a non-empty list of these.
    """
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise ValueError("augmentation=[] is empty; give at least one of 'vat', 'rpt' or a callable.")
    return [_penalty(item, xi) for item in items]


def _penalty(item, xi):
    if isinstance(item, str):
        if item == "vat":
            return VAT(xi=xi)
        if item == "rpt":
            return RPT()
        raise ValueError(
            f"augmentation has an unknown entry {item!r}; the strings allowed are 'vat' and 'rpt'."
        )
    if isinstance(item, type):
        raise TypeError(
            f"augmentation has the class {item.__name__}; pass an instance, e.g. {item.__name__}(...)."
        )
    if callable(item):
        return TransformPenalty(item)
    raise TypeError(
        f"augmentation entries must be 'vat', 'rpt' or a callable T(X, generator), got {item!r} "
        f"of type {type(item).__name__}."
    )
