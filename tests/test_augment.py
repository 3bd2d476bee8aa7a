"""Self-augmentation beyond VAT: RPT, transforms, lists of augmentations, cluster-size prior."""

import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs

from imsat_sklearn import IMSATClusterer
from imsat_sklearn._torch.objectives import ClusteringObjective
from imsat_sklearn._torch.sat import RPT, VAT, ComposedPenalty, TransformPenalty, build_augmentations
from imsat_sklearn.augment import Compose, GaussianNoise, RandomAffine
from imsat_sklearn.metrics import clustering_accuracy

FAST = dict(hidden_layer_sizes=(32,), max_iter=35, tol=None, batch_size=50, n_init=1)


def _generator(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, centers=3, cluster_std=0.6, random_state=1)
    return X.astype(np.float32), y


# --------------------------------------------------------------------------
# torch level: RPT, the transform penalty, build_augmentations
# --------------------------------------------------------------------------


def test_rpt_perturbations_have_exactly_the_per_sample_radius():
    x = torch.randn(64, 20, generator=_generator(0))
    radius = 0.01 + 3 * torch.rand(64, generator=_generator(1))
    seen = []

    def forward(z):
        seen.append(z)
        return z[:, :3]

    RPT()(forward, x, x[:, :3], radius, lambda target, logits: logits.sum(), _generator(2))
    perturbation = seen[0] - x
    torch.testing.assert_close(perturbation.norm(dim=1), radius, rtol=1e-5, atol=1e-5)
    # Directions are random: far from parallel in 20 dimensions.
    unit = perturbation / radius[:, None]
    assert (unit @ unit.T).fill_diagonal_(0).abs().max() < 0.9


def test_transform_penalty_is_the_kl_to_the_detached_clean_outputs():
    network = torch.nn.Linear(4, 3)
    x = torch.randn(16, 4, generator=_generator(0))
    objective = ClusteringObjective(mu=4.0)
    logits = network(x)
    penalty = TransformPenalty(GaussianNoise(0.5))(
        network, x, logits.detach(), None, objective.sat_divergence, _generator(1)
    )
    augmented = GaussianNoise(0.5)(x, _generator(1))
    p, log_q = torch.softmax(logits, 1), torch.log_softmax(network(augmented), 1)
    expected = (p * (torch.log(p) - log_q)).sum(1).mean()
    torch.testing.assert_close(penalty, expected)
    identity = TransformPenalty(lambda X, generator: X)(
        network, x, logits.detach(), None, objective.sat_divergence, _generator(1)
    )
    assert abs(identity.item()) < 1e-6


def test_build_augmentations_turns_each_entry_into_a_penalty():
    noise = GaussianNoise(0.1)
    penalties = build_augmentations(["vat", "rpt", noise], xi=3.0)
    assert [type(p) for p in penalties] == [VAT, RPT, TransformPenalty]
    assert penalties[0].xi == 3.0 and penalties[2].transform is noise
    assert [type(p) for p in build_augmentations("rpt", xi=1.0)] == [RPT]


@pytest.mark.parametrize(
    "augmentation, error, message",
    [
        ([], ValueError, r"augmentation=\[\] is empty"),
        (["vat", "adversarial"], ValueError, "augmentation has an unknown entry 'adversarial'"),
        ([GaussianNoise], TypeError, r"augmentation has the class GaussianNoise; pass an instance"),
        (["vat", 3], TypeError, "augmentation entries must be 'vat', 'rpt' or a callable"),
    ],
)
def test_invalid_augmentation_entries_are_clear_errors(blobs, augmentation, error, message):
    with pytest.raises(error, match=message):
        IMSATClusterer(n_clusters=3, augmentation=augmentation, **FAST).fit(blobs[0])


def test_augmentation_of_a_wrong_type_is_rejected_by_parameter_validation(blobs):
    with pytest.raises(ValueError, match="The 'augmentation' parameter"):
        IMSATClusterer(n_clusters=3, augmentation=3, **FAST).fit(blobs[0])


@pytest.mark.parametrize(
    "transform, error, message",
    [
        (
            lambda X, g: X[:, :1],
            ValueError,
            r"returned shape \(50, 1\); expected a torch.Tensor of shape \(50, 2\)",
        ),
        (lambda X, g: X.double(), TypeError, "returned dtype torch.float64"),
        (lambda X, g: X.to("meta"), ValueError, "returned a tensor on meta"),
        (lambda X, g: X.numpy(), TypeError, "returned ndarray; it must return a torch.Tensor"),
    ],
)
def test_callable_with_wrong_output_is_a_clear_error(blobs, transform, error, message):
    with pytest.raises(error, match="augmentation <function") as info:
        IMSATClusterer(n_clusters=3, augmentation=transform, **FAST).fit(blobs[0])
    assert info.match(message)


class _Shift:
    """A transform adding a constant, to follow where each step acts."""

    def __init__(self, by):
        self.by = by

    def __call__(self, X, generator):
        return X + self.by


def test_compose_ending_in_vat_perturbs_the_transformed_point_against_the_clean_output():
    x = torch.randn(8, 5, generator=_generator(0))
    target = torch.randn(8, 3, generator=_generator(1))
    radius = torch.full((8,), 0.5)
    seen = []

    def forward(z):
        seen.append(z.detach())
        return z[:, :3]

    def divergence(clean, logits):
        assert clean is target
        return ((logits - clean) ** 2).sum()

    (penalty,) = build_augmentations(Compose([_Shift(1.0), _Shift(2.0), "vat"]), xi=0.1)
    assert isinstance(penalty, ComposedPenalty) and isinstance(penalty.final, VAT)
    penalty(forward, x, target, radius, divergence, _generator(2))
    # The power iteration probes around T(x) = x + 3, and the last pass is T(x) + r_adv, |r_adv| = radius.
    probe, end = seen
    torch.testing.assert_close((probe - (x + 3)).norm(dim=1), torch.full((8,), 0.1))
    torch.testing.assert_close((end - (x + 3)).norm(dim=1), radius)


def test_compose_of_transforms_is_their_chain_and_one_penalty():
    x = torch.randn(6, 4, generator=_generator(0))
    chain = Compose([GaussianNoise(0.5), _Shift(1.0)])
    torch.testing.assert_close(chain(x, _generator(1)), GaussianNoise(0.5)(x, _generator(1)) + 1.0)
    network = torch.nn.Linear(4, 3)
    objective = ClusteringObjective(mu=4.0)
    target = network(x).detach()
    composed = build_augmentations(chain, xi=1.0)[0](network, x, target, None, objective.sat_divergence, _generator(1))
    single = TransformPenalty(chain)(network, x, target, None, objective.sat_divergence, _generator(1))
    torch.testing.assert_close(composed, single)
    # A nested Compose counts by its steps.
    nested = Compose([Compose([_Shift(1.0)]), Compose([_Shift(2.0), "rpt"])]).split()
    assert [t.by for t in nested[0]] == [1.0, 2.0] and nested[1] == "rpt"


@pytest.mark.parametrize(
    "steps, error, message",
    [
        ([], ValueError, "Compose: steps is empty"),
        ("vat", TypeError, "Compose: steps must be a list or tuple, got str"),
        (["vat", GaussianNoise(0.1)], ValueError, "Compose: 'vat' must be the last step"),
        ([GaussianNoise(0.1), "adversarial"], ValueError, "Compose: unknown step 'adversarial'"),
        ([GaussianNoise, "vat"], TypeError, "Compose: a step is the class GaussianNoise; pass an instance"),
        ([3, "vat"], TypeError, "Compose: steps must be callables"),
        ([Compose(["rpt"]), "vat"], ValueError, "Compose: 'rpt' must be the last step"),
    ],
)
def test_invalid_compose_steps_are_clear_errors_at_fit(blobs, steps, error, message):
    with pytest.raises(error, match=message):
        IMSATClusterer(n_clusters=3, augmentation=Compose(steps), **FAST).fit(blobs[0])


def test_compose_ending_in_vat_is_not_a_transform():
    with pytest.raises(TypeError, match=r"ends in 'vat', which needs the network"):
        Compose([GaussianNoise(0.1), "vat"])(torch.zeros(2, 2), _generator(0))


def test_a_broken_transform_inside_compose_fails_before_training(blobs):
    # Only the trial before training checks for NaN; in training it would be a divergence.
    with pytest.raises(ValueError, match=r"augmentation <function .*returned NaN or infinite values"):
        IMSATClusterer(n_clusters=3, augmentation=Compose([lambda X, g: X * float("nan"), "vat"]), **FAST).fit(
            blobs[0]
        )


def test_compose_fits_deterministically_and_differs_from_the_sum(blobs):
    X, y = blobs
    params = dict(n_clusters=3, augmentation=Compose([GaussianNoise(0.1), "vat"]), random_state=3, **FAST)
    a = IMSATClusterer(**params).fit(X)
    b = IMSATClusterer(**params).fit(X)
    assert a.loss_curve_ == b.loss_curve_
    assert clustering_accuracy(y, a.labels_) >= 0.99
    summed = IMSATClusterer(**{**params, "augmentation": ["vat", GaussianNoise(0.1)]}).fit(X)
    assert a.loss_curve_ != summed.loss_curve_
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict(X), a.labels_)
    assert clone(a).augmentation == a.augmentation
    assert a.get_params()["augmentation__steps"][1] == "vat"


# --------------------------------------------------------------------------
# the transforms
# --------------------------------------------------------------------------


@pytest.mark.parametrize("image_shape", [(7, 9), (3, 6, 5), 8])
def test_random_affine_with_zero_ranges_is_the_identity(image_shape):
    n_features = math.prod(image_shape) if isinstance(image_shape, tuple) else image_shape**2
    X = torch.rand(10, n_features, generator=_generator(0))
    identity = RandomAffine(image_shape, rotation=0, scale=0, shear=0, translation=0)
    torch.testing.assert_close(identity(X, _generator(1)), X, rtol=0, atol=1e-6)


def test_random_affine_is_deterministic_given_the_generator():
    X = torch.rand(20, 441, generator=_generator(0))
    affine = RandomAffine((21, 21))
    first = affine(X, _generator(5))
    assert first.shape == X.shape and first.dtype == X.dtype
    torch.testing.assert_close(affine(X, _generator(5)), first, rtol=0, atol=0)
    assert not torch.allclose(affine(X, _generator(6)), first, atol=1e-3)
    assert (first - X).abs().amax(dim=1).min() > 0.05  # every image moved


def test_random_affine_rotation_keeps_a_round_blob_round_on_a_non_square_image():
    # A centred isotropic blob is unchanged by rotations; a map in the wrong
    # units would stretch it into an ellipse on a non-square image (measured:
    # up to 0.34 off instead of 0.006).
    rows, cols = torch.meshgrid(torch.arange(41.0), torch.arange(81.0), indexing="ij")
    blob = torch.exp(-((rows - 20) ** 2 + (cols - 40) ** 2) / (2 * 6.0**2)).reshape(1, -1)
    X = blob.repeat(8, 1)
    rotated = RandomAffine((41, 81), rotation=45, scale=0, shear=0, translation=0)(X, _generator(0))
    assert (rotated - X).abs().max() < 0.02


def test_random_affine_translation_moves_the_centre_of_mass_within_range():
    image = torch.zeros(21, 21)
    image[8:13, 8:13] = 1
    X = image.reshape(1, -1).repeat(200, 1)
    shifted = RandomAffine(21, rotation=0, scale=0, shear=0, translation=0.1)(X, _generator(0))
    cols = torch.arange(21.0).repeat(21)
    centre = (shifted * cols).sum(1) / shifted.sum(1)
    offset = centre - 10
    assert offset.abs().max() <= 0.1 * 21 + 1e-4
    assert offset.abs().max() > 0.5 * 0.1 * 21  # the range is used, not ignored


def test_random_affine_errors_name_the_parameter():
    X = torch.rand(4, 100)
    with pytest.raises(ValueError, match=r"image_shape=\(21, 21\) holds 441 values per image, but X has 100"):
        RandomAffine((21, 21))(X, _generator(0))
    with pytest.raises(ValueError, match="image_shape must be a positive int"):
        RandomAffine((1, 2, 5, 10))(X, _generator(0))
    with pytest.raises(ValueError, match="rotation must be a float >= 0"):
        RandomAffine(10, rotation=-1)(X, _generator(0))
    with pytest.raises(ValueError, match="scale must be < 1"):
        RandomAffine(10, scale=1.0)(X, _generator(0))


def test_gaussian_noise_has_the_requested_scale_and_is_deterministic():
    X = torch.zeros(400, 50)
    noisy = GaussianNoise(std=0.3)(X, _generator(0))
    assert abs(float(noisy.std()) - 0.3) < 0.01
    torch.testing.assert_close(GaussianNoise(std=0.3)(X, _generator(0)), noisy, rtol=0, atol=0)
    with pytest.raises(ValueError, match="std must be a float >= 0"):
        GaussianNoise(std=-1)(X, _generator(0))


def test_transforms_have_params_repr_equality_pickle_and_clone():
    affine = RandomAffine((21, 21), rotation=5.0)
    assert repr(affine) == (
        "RandomAffine(image_shape=(21, 21), rotation=5.0, scale=0.2, shear=0.3, translation=0.1)"
    )
    assert affine == RandomAffine((21, 21), rotation=5.0) and affine != RandomAffine((21, 21))
    assert affine != GaussianNoise() and hash(affine) == hash(RandomAffine((21, 21), rotation=5.0))
    assert pickle.loads(pickle.dumps(affine)) == affine
    assert GaussianNoise(0.2).set_params(std=0.4) == GaussianNoise(0.4)
    with pytest.raises(ValueError, match="Invalid parameter 'sigma' for GaussianNoise"):
        GaussianNoise().set_params(sigma=1)

    model = IMSATClusterer(augmentation=["vat", affine])
    copy = clone(model)
    assert copy.augmentation == model.augmentation and copy.augmentation[1] is not affine
    single = IMSATClusterer(augmentation=GaussianNoise(0.2))
    assert single.get_params()["augmentation__std"] == 0.2
    assert single.set_params(augmentation__std=0.5).augmentation == GaussianNoise(0.5)


# --------------------------------------------------------------------------
# estimator level
# --------------------------------------------------------------------------


def test_list_of_augmentations_fits_and_is_deterministic(blobs):
    X, y = blobs
    params = dict(n_clusters=3, augmentation=["vat", GaussianNoise(0.1)], random_state=3, **FAST)
    a = IMSATClusterer(**params).fit(X)
    b = IMSATClusterer(**params).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.loss_curve_ == b.loss_curve_
    assert clustering_accuracy(y, a.labels_) >= 0.99
    # The noise penalty is added to VAT's, so the training differs from VAT alone.
    vat = IMSATClusterer(**{**params, "augmentation": "vat"}).fit(X)
    assert a.loss_parts_["R_SAT"][-1] > vat.loss_parts_["R_SAT"][-1]


def test_fitted_model_with_a_transform_pickles(blobs):
    model = IMSATClusterer(n_clusters=3, augmentation=GaussianNoise(0.1), random_state=0, **FAST)
    model.fit(blobs[0])
    restored = pickle.loads(pickle.dumps(model))
    assert restored.augmentation == GaussianNoise(0.1)
    np.testing.assert_array_equal(restored.predict(blobs[0]), model.labels_)


def _sorted_proportions(labels, n_clusters):
    return np.sort(np.bincount(labels, minlength=n_clusters) / len(labels))


def test_prior_makes_cluster_sizes_follow_it_on_unequal_blobs():
    sizes = [420, 210, 70]
    X, _ = make_blobs(n_samples=sizes, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=0.8, random_state=0)
    prior = np.array(sizes) / sum(sizes)
    # The paper's fixed VAT step (about 100 mean radii on these blobs) lets the
    # uniform marginal term split the large blob, which is what the prior is
    # to undo; xi="auto" follows the blobs' sizes even without a prior
    # (gap 0.13), so it could not show the prior's effect.
    params = dict(n_clusters=3, random_state=0, xi=10.0, **{**FAST, "max_iter": 72})
    uniform = IMSATClusterer(**params).fit(X)
    informed = IMSATClusterer(prior=prior, **params).fit(X)
    # L1 gap between sorted cluster fractions and the prior; measured on this
    # data: about 0.47 (near-equal sizes) without the prior, 0.17 with it.
    target = np.sort(prior)
    uniform_gap = np.abs(_sorted_proportions(uniform.labels_, 3) - target).sum()
    informed_gap = np.abs(_sorted_proportions(informed.labels_, 3) - target).sum()
    assert informed_gap < 0.25 and uniform_gap > informed_gap + 0.15
    # The largest cluster is the one the prior makes largest.
    assert np.bincount(informed.labels_, minlength=3).argmax() == 0


def test_uniform_prior_is_the_entropy_term_up_to_a_constant(blobs):
    X, _ = blobs
    plain = IMSATClusterer(n_clusters=3, random_state=0, **FAST).fit(X)
    uniform = IMSATClusterer(n_clusters=3, prior=np.full(3, 1 / 3), random_state=0, **FAST).fit(X)
    np.testing.assert_array_equal(uniform.labels_, plain.labels_)
    np.testing.assert_allclose(uniform.predict_proba(X), plain.predict_proba(X), atol=5e-3)
    # KL(p || uniform) = log K - H(p): the loss is shifted by lam * mu * log 3.
    shift = np.array(uniform.loss_curve_) - np.array(plain.loss_curve_)
    np.testing.assert_allclose(shift, 0.1 * 4.0 * np.log(3), atol=1e-3)


@pytest.mark.parametrize(
    "prior, message",
    [
        ([0.5, 0.5], r"prior must have shape \(n_clusters,\) = \(3,\), got shape \(2,\)"),
        ([[0.2, 0.3, 0.5]], r"got shape \(1, 3\)"),
        ([0.6, 0.6, -0.2], "prior must hold positive, finite cluster fractions"),
        ([0.5, 0.5, 0.0], "prior must hold positive, finite cluster fractions"),
        ([0.5, 0.5, np.nan], "prior must hold positive, finite cluster fractions"),
        ([0.2, 0.2, 0.2], "prior must sum to 1, got a sum of 0.6"),
        (["a", "b", "c"], "prior must be an array of numbers"),
    ],
)
def test_invalid_prior_is_a_clear_error_at_fit(blobs, prior, message):
    model = IMSATClusterer(n_clusters=3, prior=prior, **FAST)  # accepted until fit
    with pytest.raises(ValueError, match=message):
        model.fit(blobs[0])
