"""Evaluation metrics for IMSAT clustering and hashing.

Clustering is scored by accuracy under the best matching of clusters to
classes (Hu et al., 2017, Section 4.1, Table 2); hashing by Hamming-ranking
mean average precision, precision at top-k and precision within a Hamming
radius, with label equality as relevance (Section 4.2).
"""

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils.validation import check_consistent_length, column_or_1d

from .hashing import (
    _as_packed_pair,
    _check_integer,
    hamming_distances,
    hamming_search,
)

__all__ = [
    "clustering_accuracy",
    "hamming_precision_recall_curve",
    "hamming_ranking_map",
    "precision_at_k",
    "precision_within_radius",
]

# Query/database pairs per block of distances and relevance flags, so that
# the temporaries stay within a few tens of MiB whatever the data sizes.
_PAIRS_PER_BLOCK = 2**22


def _check_labels(labels, name):
    try:
        labels = column_or_1d(labels)
    except ValueError as exc:
        raise ValueError(
            f"{name} must be a 1-D array-like, got shape {np.shape(labels)}."
        ) from exc
    if labels.shape[0] == 0:
        raise ValueError(f"{name} must be non-empty.")
    return labels


def clustering_accuracy(y_true, y_pred):
    """Accuracy of a clustering under the best one-to-one cluster-to-class map.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth class labels; any hashable values (ints, strings, ...).
    y_pred : array-like of shape (n_samples,)
        Cluster assignments; any hashable values. The number of clusters may
        differ from the number of classes.

    Returns
    -------
    accuracy : float
        Fraction of samples whose cluster is matched to their class, in
        ``[0, 1]``. Samples in clusters left unmatched (when there are more
        clusters than classes) count as errors.

    Raises
    ------
    ValueError
        If either input is empty or not 1-D, or their lengths differ.

    Notes
    -----
    With contingency matrix :math:`C_{ck} = |\\{i : y_i = c, \\hat y_i = k\\}|`,

    .. math:: \\mathrm{ACC} = \\max_{m} \\frac{1}{n} \\sum_{k} C_{m(k), k},

    where :math:`m` ranges over one-to-one (partial, when the counts differ)
    maps from clusters to classes. The maximum is found exactly with the
    Hungarian algorithm (``scipy.optimize.linear_sum_assignment``).

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training", ICML 2017, arXiv:1702.08720, Section 4.1,
       Table 2.

    Examples
    --------
    >>> clustering_accuracy([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 2, 0])
    0.8333333333333334
    """
    y_true = _check_labels(y_true, "y_true")
    y_pred = _check_labels(y_pred, "y_pred")
    try:
        check_consistent_length(y_true, y_pred)
    except ValueError as exc:
        raise ValueError(
            f"y_true and y_pred must have the same length, got "
            f"{y_true.shape[0]} and {y_pred.shape[0]}."
        ) from exc
    counts = contingency_matrix(y_true, y_pred)
    classes, clusters = linear_sum_assignment(counts, maximize=True)
    return float(counts[classes, clusters].sum() / y_true.shape[0])


def _check_retrieval(query_codes, db_codes, query_labels, db_labels):
    """Validate a retrieval problem; return packed codes and labels."""
    query_packed, db_packed = _as_packed_pair(query_codes, db_codes, packed=False)
    query_labels = _check_labels(query_labels, "query_labels")
    db_labels = _check_labels(db_labels, "db_labels")
    for labels, packed, name in (
        (query_labels, query_packed, "query"),
        (db_labels, db_packed, "db"),
    ):
        if labels.shape[0] != packed.shape[0]:
            raise ValueError(
                f"{name}_labels has {labels.shape[0]} entries but {name}_codes "
                f"has {packed.shape[0]} rows."
            )
    return query_packed, db_packed, query_labels, db_labels


def _distance_blocks(query_packed, db_packed, query_labels, db_labels):
    """Yield ``(distances, relevant)`` blocks of shape (n_block, n_db)."""
    n_queries, n_db = query_packed.shape[0], db_packed.shape[0]
    step = max(1, _PAIRS_PER_BLOCK // n_db)
    for start in range(0, n_queries, step):
        rows = slice(start, start + step)
        distances = hamming_distances(query_packed[rows], db_packed, packed=True)
        relevant = query_labels[rows, None] == db_labels[None, :]
        yield distances, relevant


def _level_counts(distances, relevant, n_levels):
    """Items and relevant items at each distance ``0 .. n_levels - 1``, per row."""
    n_rows = distances.shape[0]
    flat_levels = (distances + n_levels * np.arange(n_rows)[:, None]).ravel()
    size, shape = n_rows * n_levels, (n_rows, n_levels)
    retrieved = np.bincount(flat_levels, minlength=size).reshape(shape)
    hits = np.bincount(flat_levels, weights=relevant.ravel(), minlength=size)
    return retrieved, hits.reshape(shape)


def _block_average_precision(distances, relevant):
    """Per-query AP with ties in distance credited as one group.

    Equal to ``average_precision_score(relevant, 1 / (1 + distances))`` row
    by row, except that rows without any relevant item get 0 silently.
    """
    retrieved, hits = _level_counts(distances, relevant, int(distances.max()) + 1)
    n_rows, shape = distances.shape[0], retrieved.shape
    cum_retrieved = np.cumsum(retrieved, axis=1)
    cum_hits = np.cumsum(hits, axis=1)
    # Levels with no item add nothing (hits == 0) but may have 0 retrieved.
    precision = np.divide(
        cum_hits, cum_retrieved, out=np.zeros(shape), where=cum_retrieved > 0
    )
    n_relevant = cum_hits[:, -1]
    ap_sum = (hits * precision).sum(axis=1)
    return np.divide(ap_sum, n_relevant, out=np.zeros(n_rows), where=n_relevant > 0)


def hamming_ranking_map(query_codes, db_codes, query_labels, db_labels):
    """Mean average precision of Hamming ranking, relevance = same label.

    Parameters
    ----------
    query_codes : array-like of shape (n_queries, n_bits)
        Query codes with values in {0, 1}, any integer or bool dtype.
    db_codes : array-like of shape (n_db, n_bits)
        Database codes with values in {0, 1}, any integer or bool dtype.
    query_labels : array-like of shape (n_queries,)
        Class label of each query.
    db_labels : array-like of shape (n_db,)
        Class label of each database item.

    Returns
    -------
    map_score : float
        Mean over queries of the average precision, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If the codes are invalid or of different lengths in bits, or a label
        array is not 1-D, empty, or does not match its code matrix in length.

    Notes
    -----
    Following the IMSAT authors, database item :math:`j` gets score
    :math:`s_j = 1 / (1 + d_H(q, b_j))` and the per-query AP is that of
    ``sklearn.metrics.average_precision_score`` on those scores. All items at
    the same distance therefore share one threshold and are credited as a
    group rather than in an arbitrary order: with :math:`D` the distinct
    distances, :math:`r_t` the relevant items at distance :math:`t`,
    :math:`R` the relevant items in total and :math:`N_{\\le t}`,
    :math:`R_{\\le t}` the items and relevant items within distance
    :math:`t`,

    .. math:: \\mathrm{AP} = \\frac{1}{R} \\sum_{t \\in D} r_t
              \\frac{R_{\\le t}}{N_{\\le t}}.

    A query with no relevant item in the database (:math:`R = 0`) has AP
    defined as 0 and still counts in the mean; this matches the value
    ``average_precision_score`` returns there, without its warning. The
    computation is vectorised and gives the same numbers as the per-query
    ``average_precision_score`` loop up to floating-point rounding.

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training", ICML 2017, arXiv:1702.08720, Section 4.2.

    Examples
    --------
    Both items are at distance 1, so the relevant one is not credited with
    being ranked first:

    >>> hamming_ranking_map([[0, 0]], [[0, 1], [1, 0]], [1], [1, 2])
    0.5
    """
    query_packed, db_packed, query_labels, db_labels = _check_retrieval(
        query_codes, db_codes, query_labels, db_labels
    )
    ap = [
        _block_average_precision(distances, relevant)
        for distances, relevant in _distance_blocks(
            query_packed, db_packed, query_labels, db_labels
        )
    ]
    return float(np.concatenate(ap).mean())


def precision_at_k(query_codes, db_codes, query_labels, db_labels, k=500):
    """Mean precision among the top ``k`` items of the Hamming ranking.

    Parameters
    ----------
    query_codes : array-like of shape (n_queries, n_bits)
        Query codes with values in {0, 1}, any integer or bool dtype.
    db_codes : array-like of shape (n_db, n_bits)
        Database codes with values in {0, 1}, any integer or bool dtype.
    query_labels : array-like of shape (n_queries,)
        Class label of each query.
    db_labels : array-like of shape (n_db,)
        Class label of each database item.
    k : int, default=500
        Number of retrieved items per query, ``1 <= k <= n_db``.

    Returns
    -------
    precision : float
        Mean over queries of the fraction of the top ``k`` items sharing the
        query's label, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If the inputs are invalid (see :func:`hamming_ranking_map`) or ``k``
        is not an integer in ``[1, n_db]``.

    Notes
    -----
    .. math:: \\mathrm{P@k} = \\frac{1}{|Q|} \\sum_{q \\in Q} \\frac{1}{k}
              \\sum_{j \\in \\mathrm{top}_k(q)} [y_j = y_q].

    The top ``k`` come from :func:`~imsat_sklearn.hashing.hamming_search`:
    items at equal distance are taken in increasing database index, so when
    the ``k``-th place falls inside a tie the result depends on database
    order.

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training", ICML 2017, arXiv:1702.08720, Section 4.2.

    Examples
    --------
    >>> precision_at_k([[0, 0]], [[1, 1], [0, 1], [0, 0]], [1], [1, 2, 1], k=2)
    0.5
    """
    query_packed, db_packed, query_labels, db_labels = _check_retrieval(
        query_codes, db_codes, query_labels, db_labels
    )
    k = _check_integer(k, "k", 1, db_packed.shape[0])
    _, indices = hamming_search(query_packed, db_packed, k, packed=True)
    return float(np.mean(db_labels[indices] == query_labels[:, None]))


def precision_within_radius(
    query_codes, db_codes, query_labels, db_labels, radius=2
):
    """Mean precision of hash lookup within a Hamming radius.

    Parameters
    ----------
    query_codes : array-like of shape (n_queries, n_bits)
        Query codes with values in {0, 1}, any integer or bool dtype.
    db_codes : array-like of shape (n_db, n_bits)
        Database codes with values in {0, 1}, any integer or bool dtype.
    query_labels : array-like of shape (n_queries,)
        Class label of each query.
    db_labels : array-like of shape (n_db,)
        Class label of each database item.
    radius : int, default=2
        Largest Hamming distance retrieved, ``radius >= 0``.

    Returns
    -------
    precision : float
        Mean over queries of the per-query precision, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If the inputs are invalid (see :func:`hamming_ranking_map`) or
        ``radius`` is not a non-negative integer.

    Notes
    -----
    With :math:`B_r(q) = \\{j : d_H(q, b_j) \\le r\\}`,

    .. math:: \\mathrm{P}_r(q) = \\frac{|\\{j \\in B_r(q) : y_j = y_q\\}|}
              {|B_r(q)|},

    and :math:`\\mathrm{P}_r(q) = 0` when :math:`B_r(q)` is empty, as the
    IMSAT authors did; the result is the mean of :math:`\\mathrm{P}_r(q)`
    over all queries.

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training", ICML 2017, arXiv:1702.08720, Section 4.2.

    Examples
    --------
    >>> precision_within_radius(
    ...     [[0, 0, 0]], [[0, 0, 1], [0, 1, 1], [1, 1, 1]], [1], [1, 2, 1], radius=2)
    0.5
    """
    query_packed, db_packed, query_labels, db_labels = _check_retrieval(
        query_codes, db_codes, query_labels, db_labels
    )
    radius = _check_integer(radius, "radius", 0)
    precisions = []
    for distances, relevant in _distance_blocks(
        query_packed, db_packed, query_labels, db_labels
    ):
        inside = distances <= radius
        n_inside = inside.sum(axis=1)
        n_hits = (inside & relevant).sum(axis=1)
        precisions.append(
            np.divide(n_hits, n_inside, out=np.zeros(n_hits.shape), where=n_inside > 0)
        )
    return float(np.concatenate(precisions).mean())


def hamming_precision_recall_curve(query_codes, db_codes, query_labels, db_labels):
    """Mean precision and recall of hash lookup at every Hamming radius.

    Parameters
    ----------
    query_codes : array-like of shape (n_queries, n_bits)
        Query codes with values in {0, 1}, any integer or bool dtype.
    db_codes : array-like of shape (n_db, n_bits)
        Database codes with values in {0, 1}, any integer or bool dtype.
    query_labels : array-like of shape (n_queries,)
        Class label of each query.
    db_labels : array-like of shape (n_db,)
        Class label of each database item.

    Returns
    -------
    precision : ndarray of shape (n_bits + 1,), dtype float64
        ``precision[r]`` is :func:`precision_within_radius` at radius ``r``:
        the mean over queries of the precision of the items within Hamming
        distance ``r``, a query with no item there counting as 0.
    recall : ndarray of shape (n_bits + 1,), dtype float64
        ``recall[r]`` is the mean over queries of the fraction of the
        query's relevant items that lie within distance ``r``; a query with
        no relevant item counts as 0. ``recall[n_bits]`` is 1 when every
        query has a relevant item.
    radii : ndarray of shape (n_bits + 1,), dtype int64
        The radii ``0, 1, ..., n_bits``.

    Raises
    ------
    ValueError
        If the inputs are invalid (see :func:`hamming_ranking_map`).

    Notes
    -----
    With :math:`B_r(q)` as in :func:`precision_within_radius` and
    :math:`R(q)` the relevant items of query :math:`q`,

    .. math:: \\mathrm{Rec}_r(q) = \\frac{|B_r(q) \\cap R(q)|}{|R(q)|}.

    Plotting ``precision`` against ``recall`` gives the precision-recall
    curve of hash lookup, one point per radius.

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training", ICML 2017, arXiv:1702.08720, Section 4.2.

    Examples
    --------
    >>> precision, recall, radii = hamming_precision_recall_curve(
    ...     [[0, 0]], [[0, 0], [0, 1], [1, 1]], [1], [1, 2, 1])
    >>> precision.tolist(), recall.tolist(), radii.tolist()
    ([1.0, 0.5, 0.6666666666666666], [0.5, 0.5, 1.0], [0, 1, 2])
    """
    query_packed, db_packed, query_labels, db_labels = _check_retrieval(
        query_codes, db_codes, query_labels, db_labels
    )
    # Packing pads the code to whole bytes; the radii stop at its real length.
    n_bits = np.shape(query_codes)[1]
    precision_sum = np.zeros(n_bits + 1)
    recall_sum = np.zeros(n_bits + 1)
    for distances, relevant in _distance_blocks(
        query_packed, db_packed, query_labels, db_labels
    ):
        retrieved, hits = _level_counts(distances, relevant, n_bits + 1)
        cum_retrieved = np.cumsum(retrieved, axis=1)
        cum_hits = np.cumsum(hits, axis=1)
        n_relevant = cum_hits[:, -1:]
        precision_sum += np.divide(
            cum_hits, cum_retrieved, out=np.zeros(cum_hits.shape), where=cum_retrieved > 0
        ).sum(axis=0)
        recall_sum += np.divide(
            cum_hits, n_relevant, out=np.zeros(cum_hits.shape), where=n_relevant > 0
        ).sum(axis=0)
    n_queries = query_packed.shape[0]
    return precision_sum / n_queries, recall_sum / n_queries, np.arange(n_bits + 1)
