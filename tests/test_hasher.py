"""IMSATHasher: the hashing objective, the estimator API, determinism, persistence, errors."""

import itertools
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from imsat_sklearn import IMSATHasher, paper_params
from imsat_sklearn._torch.objectives import (
    HashingObjective,
    pairwise_mutual_information,
    pairwise_weight,
)
from imsat_sklearn.datasets import load_mnist
from imsat_sklearn.metrics import hamming_ranking_map

FAST = dict(hidden_layer_sizes=(32,), max_iter=35, tol=None, batch_size=100, device="cpu")


def _bernoulli_entropy(p):
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def _brute_force_pairwise_mi(p):
    """sum over ordered pairs m != l of I(Y_m; Y_l), one pair and one 2x2 cell at a time."""
    bit = [1 - p, p]  # bit[a][:, m] = p(y_m = a | x)
    total = 0.0
    for m, l in itertools.permutations(range(p.shape[1]), 2):
        for a, b in itertools.product((0, 1), repeat=2):
            joint = np.mean(bit[a][:, m] * bit[b][:, l])
            total += joint * np.log(joint / (bit[a][:, m].mean() * bit[b][:, l].mean()))
    return total


def _brute_force_information(p):
    """sum_m H(Y_m) - H(Y|X) - w * sum_{m != l} I(Y_m; Y_l), w = min(1, 15 / (M - 1)), in float64."""
    p = p.astype(np.float64)
    marginal = _bernoulli_entropy(p.mean(0)).sum()
    conditional = _bernoulli_entropy(p).sum(1).mean()
    return marginal - conditional - min(1, 15 / (p.shape[1] - 1)) * _brute_force_pairwise_mi(p)


@pytest.mark.parametrize("n_samples, n_bits", [(7, 5), (50, 3), (3, 2)])
def test_pairwise_mutual_information_matches_brute_force(n_samples, n_bits):
    p = np.random.default_rng(n_bits).uniform(0.01, 0.99, size=(n_samples, n_bits))
    got = pairwise_mutual_information(torch.from_numpy(p)).item()
    assert got == pytest.approx(_brute_force_pairwise_mi(p), abs=1e-6)
    assert got > 0


def test_pairwise_mutual_information_of_copied_and_independent_bits():
    # Bit 1 copies deterministic, balanced bit 0: I = log 2 in each direction.
    # Bit 2 is independent of both (constant 0.5): no information.
    p = torch.tensor([[0.0, 0.0, 0.5], [1.0, 1.0, 0.5]], dtype=torch.float64)
    assert pairwise_mutual_information(p).item() == pytest.approx(2 * np.log(2), abs=1e-12)


@pytest.mark.parametrize("n_bits", [6, 20])
def test_information_loss_is_minus_the_information_estimate(n_bits):
    logits = torch.from_numpy(np.random.default_rng(0).normal(0, 3, size=(20, n_bits)))
    loss, parts = HashingObjective().information_loss(logits)
    probs = torch.sigmoid(logits)
    assert -loss.item() == pytest.approx(_brute_force_information(probs.numpy()), abs=1e-6)
    assert HashingObjective().mutual_information(probs).item() == pytest.approx(-loss.item(), abs=1e-6)
    assert set(parts) == {"H(Y|X)", "sum H(Y_m)", "sum I(Y_m;Y_l)"}


def test_pairwise_weight_is_one_up_to_the_papers_16_bits():
    # Exactly 1.0: up to 16 bits training is the authors' objective, bit for bit.
    assert [pairwise_weight(n_bits) for n_bits in (1, 2, 8, 16)] == [1.0] * 4
    assert pairwise_weight(32) == 15 / 31 and pairwise_weight(64) == 15 / 63


def test_weighted_pairwise_term_charges_a_bit_the_same_from_16_bits_on():
    # Copies of one balanced deterministic bit: each bit's mean information
    # with the others is log 2. From 16 bits on the weighted term is
    # 15 log 2 per bit; the unweighted sum grows as M (M - 1) log 2.
    for n_bits, per_bit in [(4, 3), (16, 15), (32, 15), (64, 15)]:
        logits = torch.tensor([[-50.0] * n_bits, [50.0] * n_bits], dtype=torch.float64)
        loss, parts = HashingObjective().information_loss(logits)
        assert parts["sum I(Y_m;Y_l)"].item() == pytest.approx(n_bits * (n_bits - 1) * np.log(2))
        # H(Y|X) is about 0 and every H(Y_m) is log 2.
        assert loss.item() == pytest.approx(n_bits * (per_bit - 1) * np.log(2), abs=1e-9)


def test_pairwise_weight_one_is_the_papers_objective_at_any_length():
    logits = torch.tensor([[-50.0] * 32, [50.0] * 32], dtype=torch.float64)
    loss, parts = HashingObjective(weight=1.0).information_loss(logits)
    # Unweighted: 32 * 31 log 2 of pairwise information against 32 log 2 of entropy.
    assert loss.item() == pytest.approx(32 * 30 * np.log(2), abs=1e-9)
    probs = torch.sigmoid(logits)
    assert HashingObjective(weight=1.0).mutual_information(probs).item() == pytest.approx(-loss.item(), abs=1e-9)


def test_hasher_pairwise_weight_parameter_reaches_the_objective(digits):
    logits = torch.tensor([[-50.0] * 32, [50.0] * 32], dtype=torch.float64)
    for params, weight in [({}, 15 / 31), ({"pairwise_weight": 1.0}, 1.0), ({"pairwise_weight": 0.25}, 0.25)]:
        objective = IMSATHasher(n_bits=32, **params)._build_objective("cpu")
        loss, parts = objective.information_loss(logits)
        expected = parts["H(Y|X)"] - parts["sum H(Y_m)"] + weight * parts["sum I(Y_m;Y_l)"]
        assert loss.item() == pytest.approx(expected.item(), abs=1e-9)
    assert paper_params("hashing")["pairwise_weight"] == 1.0
    with pytest.raises(ValueError, match="pairwise_weight"):
        IMSATHasher(pairwise_weight=-1.0).fit(digits[0])


def test_information_loss_has_finite_gradients_when_bits_saturate():
    # sigmoid(+-40) is exactly 1 or 0 in float32; x log x there must not give NaN.
    logits = torch.tensor([[40.0, -40.0, 1.0], [40.0, 2.0, -40.0], [-40.0, 3.0, 0.5]], requires_grad=True)
    loss, _ = HashingObjective().information_loss(logits)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16).astype(np.float32), y[:600]


@pytest.fixture(scope="module")
def fitted(digits):
    return IMSATHasher(n_bits=8, random_state=0, **FAST).fit(digits[0])


def test_fit_sets_attributes(digits, fitted):
    assert fitted.n_iter_ == 35 and len(fitted.loss_curve_) == 35
    assert set(fitted.loss_parts_) == {"R_SAT", "H(Y|X)", "sum H(Y_m)", "sum I(Y_m;Y_l)"}
    assert all(v.shape == (35,) for v in fitted.loss_parts_.values())
    assert fitted.n_features_in_ == 64
    assert fitted.network_.architecture["n_outputs"] == 8
    parts = fitted.loss_parts_
    information = parts["sum H(Y_m)"] - parts["H(Y|X)"] - parts["sum I(Y_m;Y_l)"]
    assert information[-1] > information[0] + 0.4
    names = fitted.get_feature_names_out()
    assert names.tolist() == [f"imsathasher{i}" for i in range(8)]


def test_transform_gives_binary_codes_of_thresholded_probabilities(digits, fitted):
    X, _ = digits
    proba = fitted.predict_proba(X)
    assert proba.shape == (600, 8) and proba.dtype == np.float32
    assert proba.min() >= 0 and proba.max() <= 1
    codes = fitted.transform(X)
    assert codes.shape == (600, 8) and codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, (proba > 0.5).astype(np.uint8))
    # The marginal entropy term keeps bits in use: none is (almost) constant.
    assert set(np.unique(codes)) == {0, 1}
    assert np.all((codes.mean(0) > 0.02) & (codes.mean(0) < 0.98))


def test_fit_transform_equals_fit_then_transform(digits, fitted):
    codes = IMSATHasher(n_bits=8, random_state=0, **FAST).fit_transform(digits[0])
    np.testing.assert_array_equal(codes, fitted.transform(digits[0]))


def test_score_is_the_information_estimate_on_x(digits, fitted):
    X, _ = digits
    score = fitted.score(X)
    assert score == pytest.approx(_brute_force_information(fitted.predict_proba(X)), abs=1e-4)
    assert score <= 8 * np.log(2)
    # Training raises the information of the codes well above that of the
    # nearly uniform outputs of the initial network.
    untrained = IMSATHasher(n_bits=8, random_state=0, **{**FAST, "max_iter": 1})
    assert score > 0.5 and score > 10 * untrained.fit(X).score(X)


def test_same_random_state_gives_identical_results(digits, fitted):
    X, _ = digits
    again = IMSATHasher(n_bits=8, random_state=0, **FAST).fit(X)
    assert again.loss_curve_ == fitted.loss_curve_
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    other = IMSATHasher(n_bits=8, random_state=1, **FAST).fit(X)
    assert not np.array_equal(other.predict_proba(X), fitted.predict_proba(X))


def test_pickle_round_trip(digits, fitted):
    X, _ = digits
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    assert restored.score(X) == fitted.score(X)


def test_pipeline_and_grid_search(digits):
    X = digits[0] * 16  # raw pixel counts; the pipeline scales them
    pipe = make_pipeline(MinMaxScaler(), IMSATHasher(n_bits=6, random_state=0, **FAST))
    codes = pipe.fit_transform(X)
    assert codes.shape == (600, 6) and codes.dtype == np.uint8
    assert pipe.get_feature_names_out().tolist() == [f"imsathasher{i}" for i in range(6)]
    # Selection by score alone: more bits can carry more information.
    search = GridSearchCV(IMSATHasher(random_state=0, **FAST), {"n_bits": [1, 8]}, cv=2).fit(digits[0])
    assert search.best_params_ == {"n_bits": 8}
    assert search.best_estimator_.transform(digits[0]).shape == (600, 8)


@pytest.mark.parametrize("n_bits", [0, -3, 2.5, "16"])
def test_invalid_n_bits_raises(digits, n_bits):
    with pytest.raises(ValueError, match="n_bits"):
        IMSATHasher(n_bits=n_bits, **FAST).fit(digits[0])


def test_single_bit(digits):
    model = IMSATHasher(n_bits=1, random_state=0, **FAST).fit(digits[0])
    codes = model.transform(digits[0])
    assert codes.shape == (600, 1)
    # One bit has no pairs: the score is H(Y_1) - H(Y_1|X) <= log 2.
    assert 0 < model.score(digits[0]) <= np.log(2)


def _lsh_codes(X, n_bits, seed):
    """Random hyperplanes through the mean of X."""
    W = np.random.default_rng(seed).normal(size=(X.shape[1], n_bits))
    return ((X - X.mean(0)) @ W > 0).astype(np.uint8)


def test_mnist_subset_map_clearly_above_lsh(data_home):
    X, y = load_mnist(data_home, subset="test", return_X_y=True)
    keep = np.random.default_rng(0).permutation(len(y))[:3000]
    X, y = X[keep], y[keep]
    query = np.concatenate([np.flatnonzero(y == c)[:10] for c in range(10)])
    db = np.setdiff1d(np.arange(len(y)), query)
    model = IMSATHasher(16, hidden_layer_sizes=(200,), max_iter=10, device="cpu", random_state=0)
    codes = model.fit_transform(X)
    imsat_map = hamming_ranking_map(codes[query], codes[db], y[query], y[db])
    lsh = _lsh_codes(X, 16, seed=0)
    lsh_map = hamming_ranking_map(lsh[query], lsh[db], y[query], y[db])
    # Measured: IMSAT about 0.46, LSH about 0.23.
    assert imsat_map > lsh_map + 0.15
