import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from imsat_sklearn import metrics
from imsat_sklearn.metrics import (
    clustering_accuracy,
    hamming_precision_recall_curve,
    hamming_ranking_map,
    precision_at_k,
    precision_within_radius,
)


def test_clustering_accuracy_permuted_labels_is_one():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    permutation = np.array([2, 0, 1])
    accuracy = clustering_accuracy(y_true, permutation[y_true])
    assert accuracy == 1.0
    assert type(accuracy) is float


def test_clustering_accuracy_hand_computed_partial_match():
    # Best map 1->0, 0->1, 2->2 gets 2 + 2 + 1 of 6 samples right.
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 2, 0]) == pytest.approx(
        5 / 6
    )


def test_clustering_accuracy_more_clusters_than_classes():
    # Clusters 1 and 3 stay unmatched, so their two samples count as wrong.
    assert clustering_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 3]) == pytest.approx(
        4 / 6
    )


def test_clustering_accuracy_fewer_clusters_than_classes():
    # One class among 0 and 1 must go unmatched.
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1]) == pytest.approx(
        4 / 6
    )


def test_clustering_accuracy_string_labels():
    y_true = ["cat", "cat", "dog", "dog", "dog"]
    assert clustering_accuracy(y_true, ["b", "b", "a", "a", "a"]) == 1.0
    assert clustering_accuracy(y_true, [7, 7, 7, 9, 9]) == pytest.approx(4 / 5)


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        ([], [], "y_true must be non-empty"),
        ([0, 1], [], "y_pred must be non-empty"),
        ([0, 1, 1], [0, 1], "same length, got 3 and 2"),
        ([[0, 1], [1, 0]], [0, 1], r"y_true must be a 1-D .*shape \(2, 2\)"),
        ([0, 1], 3, r"y_pred must be a 1-D array-like, got shape \(\)"),
    ],
)
def test_clustering_accuracy_rejects_bad_input(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        clustering_accuracy(y_true, y_pred)


# Distances from each query to DB_CODES:
#   [0, 0, 0] -> 0, 1, 1, 3     [1, 1, 0] -> 2, 1, 1, 1
#   [1, 1, 1] -> 3, 2, 2, 0     [0, 1, 1] -> 2, 3, 1, 1
DB_CODES = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1]])
DB_LABELS = np.array([2, 1, 2, 1])


def _sklearn_map(query_codes, db_codes, query_labels, db_labels):
    distances = (query_codes[:, None, :] != db_codes[None, :, :]).sum(axis=2)
    return np.mean(
        [
            average_precision_score(db_labels == label, 1 / (1 + row))
            for row, label in zip(distances, query_labels)
        ]
    )


def test_hamming_ranking_map_hand_computed_with_ties():
    query_codes = np.array([[0, 0, 0], [1, 1, 0], [1, 1, 1]])
    # Query 0: AP = (1/3 + 2/4) / 2, its relevant item at distance 1 sharing
    # the tie with an irrelevant one. Query 1: both relevant items tie with
    # an irrelevant one at distance 1, AP = 2/3. Query 2: label 3 has no
    # relevant item, AP = 0.
    query_labels = np.array([1, 1, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = hamming_ranking_map(query_codes, DB_CODES, query_labels, DB_LABELS)
    assert score == pytest.approx((5 / 12 + 2 / 3 + 0) / 3)
    assert type(score) is float


def test_hamming_ranking_map_hand_case_matches_sklearn_loop():
    query_codes = np.array([[0, 0, 0], [1, 1, 0], [1, 1, 1], [0, 1, 1]])
    query_labels = np.array([1, 1, 2, 2])
    assert hamming_ranking_map(
        query_codes, DB_CODES, query_labels, DB_LABELS
    ) == pytest.approx(_sklearn_map(query_codes, DB_CODES, query_labels, DB_LABELS))


@pytest.mark.parametrize("n_bits", [6, 13, 32])
def test_hamming_ranking_map_equals_average_precision_score_loop(monkeypatch, n_bits):
    # Small blocks make the vectorised path cross block boundaries.
    monkeypatch.setattr(metrics, "_PAIRS_PER_BLOCK", 7 * 400)
    rng = np.random.default_rng(n_bits)
    query_codes = rng.integers(0, 2, size=(50, n_bits))
    db_codes = rng.integers(0, 2, size=(400, n_bits))
    query_labels = rng.integers(0, 4, size=50)
    db_labels = rng.integers(0, 4, size=400)
    expected = _sklearn_map(query_codes, db_codes, query_labels, db_labels)
    score = hamming_ranking_map(query_codes, db_codes, query_labels, db_labels)
    assert score == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_precision_at_k_hand_computed_with_stable_ties():
    query_codes = np.array([[0, 0, 0], [1, 1, 0]])
    query_labels = np.array([1, 1])
    # Top 3: items 0, 1, 2 (1 relevant) and items 1, 2, 3 (2 relevant).
    assert precision_at_k(
        query_codes, DB_CODES, query_labels, DB_LABELS, k=3
    ) == pytest.approx((1 / 3 + 2 / 3) / 2)
    # For query 0, k=2 cuts the tie at distance 1 between items 1 and 2:
    # the lower index wins, so reordering the database changes the answer.
    assert precision_at_k(query_codes[:1], DB_CODES, [1], DB_LABELS, k=2) == 0.5
    swapped = [0, 2, 1, 3]
    score = precision_at_k(
        query_codes[:1], DB_CODES[swapped], [1], DB_LABELS[swapped], k=2
    )
    assert score == 0.0


def test_precision_at_k_matches_stable_argsort_on_random_data():
    rng = np.random.default_rng(3)
    query_codes = rng.integers(0, 2, size=(20, 5))
    db_codes = rng.integers(0, 2, size=(200, 5))
    query_labels, db_labels = rng.integers(0, 3, size=20), rng.integers(0, 3, size=200)
    distances = (query_codes[:, None, :] != db_codes[None, :, :]).sum(axis=2)
    top = np.argsort(distances, axis=1, kind="stable")[:, :25]
    expected = np.mean(db_labels[top] == query_labels[:, None])
    score = precision_at_k(query_codes, db_codes, query_labels, db_labels, k=25)
    assert score == pytest.approx(expected)


@pytest.mark.parametrize(
    "k, match",
    [
        (0, "1 <= k <= 4, got k=0"),
        (5, "1 <= k <= 4, got k=5"),
        (2.5, "k must be an integer"),
    ],
)
def test_precision_at_k_validates_k(k, match):
    with pytest.raises(ValueError, match=match):
        precision_at_k([[0, 0, 0]], DB_CODES, [1], DB_LABELS, k=k)


def test_precision_within_radius_hand_computed():
    query_codes = np.array([[0, 0, 0], [1, 1, 0], [0, 1, 1]])
    query_labels = np.array([1, 1, 1])
    # Within radius 1: items {0, 1, 2}, {1, 2, 3} and {2, 3}.
    assert precision_within_radius(
        query_codes, DB_CODES, query_labels, DB_LABELS, radius=1
    ) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_precision_within_radius_empty_ball_counts_as_zero():
    # Query [1, 0, 0] finds its relevant twin; [0, 1, 1] finds nothing and
    # scores 0 instead of being dropped, which would give 1.0.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = precision_within_radius(
            [[1, 0, 0], [0, 1, 1]], DB_CODES, [1, 1], DB_LABELS, radius=0
        )
    assert score == 0.5


@pytest.mark.parametrize(
    "radius, match",
    [(-1, "0 <= radius, got radius=-1"), (1.5, "radius must be an integer")],
)
def test_precision_within_radius_validates_radius(radius, match):
    with pytest.raises(ValueError, match=match):
        precision_within_radius([[0, 0, 0]], DB_CODES, [1], DB_LABELS, radius=radius)


def test_hamming_precision_recall_curve_hand_computed():
    # Query 0 (label 1) is at distances 0, 1, 1, 3 from the database; its
    # relevant items are the 2nd and 4th. Query 1 (label 2) is at 2, 1, 1, 1;
    # relevant: 1st and 3rd. Query 1 has no item at radius 0: precision 0.
    precision, recall, radii = hamming_precision_recall_curve(
        [[0, 0, 0], [1, 1, 0]], DB_CODES, [1, 2], DB_LABELS
    )
    np.testing.assert_allclose(precision, [0, 1 / 3, (1 / 3 + 1 / 2) / 2, 1 / 2])
    np.testing.assert_allclose(recall, [0, 1 / 2, (1 / 2 + 1) / 2, 1])
    np.testing.assert_array_equal(radii, [0, 1, 2, 3])


def test_hamming_precision_recall_curve_query_without_relevant_item_recalls_zero():
    _, recall, _ = hamming_precision_recall_curve([[0, 0, 0]], DB_CODES, [3], DB_LABELS)
    np.testing.assert_array_equal(recall, [0, 0, 0, 0])


def test_hamming_precision_recall_curve_precision_is_precision_within_radius():
    # 11 bits: packed into two bytes, the curve still stops at radius 11.
    rng = np.random.default_rng(0)
    query_codes = rng.integers(0, 2, (7, 11))
    db_codes = rng.integers(0, 2, (40, 11))
    query_labels, db_labels = rng.integers(0, 3, 7), rng.integers(0, 3, 40)
    precision, recall, radii = hamming_precision_recall_curve(
        query_codes, db_codes, query_labels, db_labels
    )
    assert radii.tolist() == list(range(12))
    for radius in radii:
        assert precision[radius] == pytest.approx(
            precision_within_radius(query_codes, db_codes, query_labels, db_labels, radius=radius)
        )
    assert recall[-1] == 1.0


@pytest.mark.parametrize(
    "metric",
    [hamming_ranking_map, precision_at_k, precision_within_radius, hamming_precision_recall_curve],
)
def test_retrieval_metrics_validate_inputs(metric):
    with pytest.raises(ValueError, match="query_labels has 2 entries but query_codes"):
        metric([[0, 0, 0]], DB_CODES, [1, 2], DB_LABELS)
    with pytest.raises(ValueError, match="db_labels has 3 entries but db_codes has 4"):
        metric([[0, 0, 0]], DB_CODES, [1], DB_LABELS[:3])
    with pytest.raises(ValueError, match="same code length, got 2 and 3 bits"):
        metric([[0, 0]], DB_CODES, [1], DB_LABELS)
    with pytest.raises(ValueError, match="query_labels must be non-empty"):
        metric([[0, 0, 0]], DB_CODES, [], DB_LABELS)
