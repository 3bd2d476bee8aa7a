"""Binary codes: packing, Hamming distances and exact Hamming search.

IMSAT hashing (Hu et al., 2017, Section 4.2) turns each sample into a short
binary code; retrieval ranks a database by Hamming distance to a query. The
functions here do that with packed bits, XOR and popcount in NumPy, whose
loops release the GIL, so that a search runs on several threads.
"""

import numbers

import numpy as np

from . import _hamming

__all__ = ["pack_codes", "hamming_distances", "hamming_search"]


def _check_codes(codes, name):
    """Validate a 0/1 code matrix and return it as an ndarray."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_bits), "
            f"got an array of shape {codes.shape}."
        )
    if codes.shape[0] == 0 or codes.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {codes.shape}.")
    if codes.dtype != bool and not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"{name} must have an integer or bool dtype, got dtype {codes.dtype}."
        )
    if codes.dtype != bool and np.any((codes != 0) & (codes != 1)):
        raise ValueError(f"{name} must contain only 0 and 1 values.")
    return codes


def _check_packed(packed_codes, name):
    """Validate a matrix of packed bytes as produced by :func:`pack_codes`."""
    packed_codes = np.asarray(packed_codes)
    if packed_codes.ndim != 2 or packed_codes.dtype != np.uint8:
        raise ValueError(
            f"{name} must be a 2-D uint8 array of packed codes (see pack_codes), "
            f"got dtype {packed_codes.dtype} and shape {packed_codes.shape}."
        )
    if packed_codes.shape[0] == 0 or packed_codes.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {packed_codes.shape}.")
    return packed_codes


def _as_packed_pair(query_codes, db_codes, packed):
    """Validate both code matrices and return them packed, widths checked."""
    if not isinstance(packed, (bool, np.bool_)):
        raise TypeError(f"packed must be a bool, got {packed!r}.")
    if packed:
        query_codes = _check_packed(query_codes, "query_codes")
        db_codes = _check_packed(db_codes, "db_codes")
        unit = "bytes"
    else:
        query_codes = _check_codes(query_codes, "query_codes")
        db_codes = _check_codes(db_codes, "db_codes")
        unit = "bits"
    if query_codes.shape[1] != db_codes.shape[1]:
        raise ValueError(
            f"query_codes and db_codes must have the same code length, got "
            f"{query_codes.shape[1]} and {db_codes.shape[1]} {unit}."
        )
    if packed:
        return query_codes, db_codes
    return np.packbits(query_codes, axis=1), np.packbits(db_codes, axis=1)



def pack_codes(codes):
    """Pack 0/1 binary codes into bytes, eight bits per byte.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_bits)
        Binary codes with values in {0, 1}, any integer or bool dtype.

    Returns
    -------
    packed : ndarray of shape (n_samples, ceil(n_bits / 8)), dtype uint8
        Bits packed big-endian within each byte, as ``np.packbits(axis=1)``;
        the last byte is zero-padded when ``n_bits`` is not a multiple of 8.

    Raises
    ------
    ValueError
        If ``codes`` is not 2-D, is empty, has a non-integer dtype or holds
        values other than 0 and 1.

    See Also
    --------
    hamming_distances : Accepts the packed output with ``packed=True``.

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training", ICML 2017, arXiv:1702.08720, Section 4.2.

    Examples
    --------
    >>> pack_codes([[1, 0, 1, 1, 0, 0, 0, 0, 1]])
    array([[176, 128]], dtype=uint8)
    """
    return np.packbits(_check_codes(codes, "codes"), axis=1)


def hamming_distances(query_codes, db_codes, *, packed=False):
    """Hamming distances between every query code and every database code.

    The codes are packed into machine words and compared with XOR and
    popcount, tile by tile so that temporary memory stays small and in
    cache; the only large array is the result.

    Parameters
    ----------
    query_codes : array-like of shape (n_queries, n_bits)
        Query codes with values in {0, 1} (integer or bool dtype), or, when
        ``packed=True``, uint8 array of shape (n_queries, n_bytes) from
        :func:`pack_codes`.
    db_codes : array-like of shape (n_db, n_bits)
        Database codes, in the same format as ``query_codes``.
    packed : bool, default=False
        Whether both inputs are already packed with :func:`pack_codes`. Padding
        bits must then be zero, as :func:`pack_codes` leaves them.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_db), dtype int32
        ``distances[i, j]`` is the number of bit positions where query ``i``
        and database item ``j`` differ, in ``[0, n_bits]``.

    Raises
    ------
    ValueError
        If an input is not a valid code matrix (see :func:`pack_codes`), or
        the two inputs have different code lengths.
    TypeError
        If ``packed`` is not a bool.

    Notes
    -----
    For codes :math:`b, b' \\in \\{0, 1\\}^{m}`,

    .. math:: d_H(b, b') = \\sum_{k=1}^{m} [b_k \\neq b'_k]
              = \\operatorname{popcount}(b \\oplus b').

    Popcount uses ``np.bitwise_count`` (numpy >= 2) and falls back to
    bit-parallel (SWAR) counting on older numpy.

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training", ICML 2017, arXiv:1702.08720, Section 4.2.

    Examples
    --------
    >>> hamming_distances([[0, 0, 1]], [[0, 0, 1], [1, 1, 0]])
    array([[0, 3]], dtype=int32)
    """
    query_words, db_words = map(
        _hamming.to_words, _as_packed_pair(query_codes, db_codes, packed)
    )
    n_queries, n_db = query_words.shape[1], db_words.shape[1]
    distances = np.empty((n_queries, n_db), dtype=np.int32)
    # Few rows per call make its tiles whole rows: contiguous writes into
    # the result, which is far larger than any cache.
    step = max(1, _hamming.PAIRS_PER_TILE // n_db)
    for start in range(0, n_queries, step):
        rows = slice(start, start + step)
        _hamming.fill_distances(query_words[:, rows], db_words, distances[rows])
    return distances


def _check_integer(value, name, low, high=None):
    """Validate an integer parameter in ``[low, high]`` (``high=None``: no cap)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < low or (high is not None and value > high):
        bounds = f"{low} <= {name}" + ("" if high is None else f" <= {high}")
        raise ValueError(f"{name} must satisfy {bounds}, got {name}={value}.")
    return int(value)


def hamming_search(query_codes, db_codes, n_neighbors=10, *, packed=False):
    """Exact k-nearest-neighbour search in Hamming space.

    Parameters
    ----------
    query_codes : array-like of shape (n_queries, n_bits)
        Query codes with values in {0, 1} (integer or bool dtype), or, when
        ``packed=True``, uint8 array of shape (n_queries, n_bytes) from
        :func:`pack_codes`.
    db_codes : array-like of shape (n_db, n_bits)
        Database codes, in the same format as ``query_codes``.
    n_neighbors : int, default=10
        Number of neighbours to return per query, ``1 <= n_neighbors <= n_db``.
    packed : bool, default=False
        Whether both inputs are already packed with :func:`pack_codes`.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors), dtype int32
        Hamming distances to the returned neighbours, non-decreasing per row.
    indices : ndarray of shape (n_queries, n_neighbors), dtype int64
        Database row indices of the neighbours. Items at equal distance are
        ordered by increasing database index, i.e. exactly the first
        ``n_neighbors`` entries of a stable sort of each row of
        :func:`hamming_distances`.

    Raises
    ------
    ValueError
        If the codes are invalid (see :func:`hamming_distances`) or
        ``n_neighbors`` is not an integer in ``[1, n_db]``.
    TypeError
        If ``packed`` is not a bool.

    Notes
    -----
    The search is exhaustive and exact. Codes are packed into 64-bit words
    (narrower ones for codes of up to 32 bits) and compared by XOR and
    popcount, tile by tile for cache-sized temporaries, one block of queries
    at a time per thread; the full distance matrix is never stored.

    A block's neighbours are found without sorting or partitioning its
    rows. Its distances are reduced, as they are computed, to minima over
    groups of 8 database items (one byte per 8 pairs, two for codes longer
    than 248 bits), then over nested groups of 64, 512, ... items. These
    bound each query's ``n_neighbors``-th smallest distance from above;
    walking back down the groups keeps the few items within that bound (2
    to 5 per neighbour on random codes), whose distances alone are
    recomputed and sorted. A block is ranked instead by a partition of its
    rows of distances by the key ``distance * n_db + index`` (blocks of
    about a million pairs, 5 to 9 bytes per pair) when the database holds
    fewer than about 1,000 items per neighbour sought, or when ties put too
    many items within the bound (codes of few bits, collapsed codes). Both
    give the same result.

    Blocks run on ``torch.get_num_threads()`` threads (NumPy releases the
    GIL in its loops); set ``torch.set_num_threads`` or ``OMP_NUM_THREADS``
    to use fewer. The results do not depend on the thread count.
    ``benchmarks/hamming_search.py`` compares the speed with faiss's
    ``IndexBinaryFlat``.

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama,
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training", ICML 2017, arXiv:1702.08720, Section 4.2.

    Examples
    --------
    >>> distances, indices = hamming_search(
    ...     [[0, 0]], [[1, 1], [0, 1], [1, 0], [0, 0]], n_neighbors=3)
    >>> distances
    array([[0, 1, 1]], dtype=int32)
    >>> indices
    array([[3, 1, 2]])
    """
    query_packed, db_packed = _as_packed_pair(query_codes, db_codes, packed)
    query_words, db_words = _hamming.to_words(query_packed), _hamming.to_words(db_packed)
    n_neighbors = _check_integer(n_neighbors, "n_neighbors", 1, db_words.shape[1])
    return _hamming.search(query_words, db_words, n_neighbors, 8 * db_packed.shape[1])
