"""Self-augmented training (SAT): the augmentations and their penalties.

Each augmentation is called as ``aug(forward, x, target_logits, radius,
divergence, generator, directions=..., transform_generator=...)`` and
returns the SAT penalty R_SAT on the batch:
the divergence between the (detached) outputs on ``x`` and the outputs on the
augmented batch. ``forward`` must not update BatchNorm running statistics.
Besides the perturbations VAT and RPT, any data transform T(x, generator)
gives a penalty through ``TransformPenalty``, and a chain of transforms ending
in VAT or RPT at the transformed point one through ``ComposedPenalty``;
``build_augmentations`` turns the estimators' ``augmentation`` parameter into
the list of penalties to sum.

``try_transforms`` calls every transform once on a minibatch before training,
so that a broken one fails with a clear error instead of in the first update.

Reference: Hu et al. 2017, Section 3.1 (SAT with VAT, RPT and transforms).
"""

import inspect

import torch
from torch.nn import functional as F

from ..augment import Compose


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
        return divergence(target_logits, forward(self.apply(x, draws)))

    def apply(self, x, generator):
        """T(x), checked to be a tensor like ``x``."""
        # T(x) is data: no gradient may flow into the transform.
        with torch.no_grad():
            augmented = self.transform(x, generator)
        _check_transformed(self.transform, x, augmented)
        return augmented

    def try_on(self, x, generator):
        """Call the transform once on ``x``; its output, or what is wrong with its call or output."""
        try:
            with torch.no_grad():
                augmented = self.transform(x, generator)
        except TypeError as error:
            if _accepts_two_arguments(self.transform):
                # The TypeError comes from inside the transform: it is the user's to read.
                raise
            raise TypeError(
                f"augmentation {self.transform!r} cannot be called as T(x, generator) ({error}); "
                "a callable augmentation must take the batch x, a float32 torch.Tensor, and a "
                "torch.Generator to draw its randomness from."
            ) from error
        _check_transformed(self.transform, x, augmented)
        if not bool(torch.isfinite(augmented).all()):
            raise ValueError(
                f"augmentation {self.transform!r} returned NaN or infinite values on "
                f"{len(x)} finite rows of X; it must return finite values."
            )
        return augmented


class ComposedPenalty:
    """SAT at a transformed point: ``T_n(...T_1(x))``, then VAT or RPT there, or nothing.

    One penalty: the divergence between the (detached) outputs on ``x`` and
    the outputs on the end point. The perturbation (``final``, a
    :class:`VAT` or :class:`RPT`) starts from the transformed batch with
    the radius of ``x``; ``final=None`` compares with the transformed
    batch itself. Transforms draw as in :class:`TransformPenalty`.
    """

    def __init__(self, transforms, final):
        self.transforms = [TransformPenalty(transform) for transform in transforms]
        self.final = final

    def __call__(
        self, forward, x, target_logits, radius, divergence, generator, *,
        directions=random_direction, transform_generator=None,
    ):
        draws = generator if transform_generator is None else transform_generator
        for step in self.transforms:
            x = step.apply(x, draws)
        if self.final is None:
            return divergence(target_logits, forward(x))
        return self.final(
            forward, x, target_logits, radius, divergence, generator,
            directions=directions, transform_generator=transform_generator,
        )

    def try_on(self, x, generator):
        """Call every transform once, in order; the last output, or what is wrong."""
        for step in self.transforms:
            x = step.try_on(x, generator)
        return x


def _accepts_two_arguments(transform):
    try:
        signature = inspect.signature(transform)
    except (TypeError, ValueError):
        # No signature to read (some built-in callables): nothing to say beyond the error.
        return True
    try:
        signature.bind(None, None)
    except TypeError:
        return False
    return True


# The trial draws from its own generator, so that a fit's random stream, hence
# its result, is the same as without the trial.
_TRIAL_SEED = 0


def try_transforms(augmentations, rows, n_rows):
    """Call every transform of ``augmentations`` once, before training, on real rows.

    The first ``n_rows`` rows of the row source ``rows`` (float32, on the
    training device, densified when sparse) go through each
    :class:`TransformPenalty`'s transform under ``no_grad`` with a
    generator of their own. A transform that cannot be called as
    ``T(x, generator)`` raises a TypeError, one whose output is not a tensor
    like ``x`` the error of training, one whose output is not finite a
    ValueError; all name the ``augmentation`` parameter. Nothing is drawn
    from a fit's generators, and the rows are not read when no augmentation
    is a transform.
    """
    transforms = [aug for aug in augmentations if isinstance(aug, (TransformPenalty, ComposedPenalty))]
    if not transforms:
        return
    x = rows.rows(torch.arange(n_rows, device=rows.device))
    for transform in transforms:
        generator = torch.Generator(device=x.device).manual_seed(_TRIAL_SEED)
        transform.try_on(x, generator)


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
    ``T(x, generator)``, a :class:`~imsat_sklearn.augment.Compose`, or a
    non-empty list of these.
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
    if isinstance(item, Compose):
        transforms, perturbation = item.split()
        return ComposedPenalty(transforms, None if perturbation is None else _penalty(perturbation, xi))
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
