"""Binary codes: packing, Hamming distances and exact Hamming search.

IMSAT hashing (Hu et al., 2017, Section 4.2) turns each sample into a short
binary code; retrieval ranks a database by Hamming distance to a query. The
functions here do that with packed bits, XOR and popcount, in NumPy only.
"""

import numbers

import numpy as np

__all__ = ["pack_codes", "hamming_distances", "hamming_search"]

# Upper bound on the number of query/database pairs held in one temporary
# array: large enough to amortise Python overhead, small enough to stay in
# cache-friendly territory (about 8 MiB of 64-bit words).
_PAIRS_PER_CHUNK = 2**20

_POPCOUNT_TABLE = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount_lut(words):
    """Per-element popcount through a byte lookup table (numpy < 2)."""
    as_bytes = np.ascontiguousarray(words)[..., None].view(np.uint8)
    return _POPCOUNT_TABLE[as_bytes].sum(axis=-1, dtype=np.uint8)


_popcount = getattr(np, "bitwise_count", _popcount_lut)


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


def _to_words(packed_codes):
    """Regroup packed bytes into machine words, shape (n_words, n_samples).

    Popcounting one wide word is far cheaper than popcounting and summing
    several bytes; zero padding is harmless because 0 XOR 0 adds no bits.
    """
    n_bytes = packed_codes.shape[1]
    word_bytes = 8 if n_bytes > 4 else 1 << (n_bytes - 1).bit_length()
    n_pad = -n_bytes % word_bytes
    padded = np.pad(packed_codes, ((0, 0), (0, n_pad)))
    words = padded.view(np.dtype(f"<u{word_bytes}"))
    # Word-major layout makes each word column contiguous for the XOR loop.
    return np.ascontiguousarray(words.T)


def _block_rows(n_db):
    return max(1, _PAIRS_PER_CHUNK // n_db)


def _query_blocks(n_queries, n_db):
    """Slices of query rows small enough to bound temporary memory."""
    step = _block_rows(n_db)
    for start in range(0, n_queries, step):
        yield slice(start, min(start + step, n_queries))


def _fill_distances(query_words, db_words, out):
    """Write the (n_rows, n_db) Hamming distance block into ``out``."""
    counts = (
        _popcount(query_word[:, None] ^ db_word[None, :])
        for query_word, db_word in zip(query_words, db_words)
    )
    out[...] = next(counts)
    for count in counts:
        out += count


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
    popcount, vectorised over the database and processed in blocks of
    queries so that temporary memory stays bounded.

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

    Notes
    -----
    For codes :math:`b, b' \\in \\{0, 1\\}^{m}`,

    .. math:: d_H(b, b') = \\sum_{k=1}^{m} [b_k \\neq b'_k]
              = \\operatorname{popcount}(b \\oplus b').

    Popcount uses ``np.bitwise_count`` (numpy >= 2) and falls back to a
    256-entry byte lookup table on older numpy.

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
        _to_words, _as_packed_pair(query_codes, db_codes, packed)
    )
    n_queries, n_db = query_words.shape[1], db_words.shape[1]
    distances = np.empty((n_queries, n_db), dtype=np.int32)
    for rows in _query_blocks(n_queries, n_db):
        _fill_distances(query_words[:, rows], db_words, distances[rows])
    return distances


def _check_integer(value, name, low, high=None):
    """Validate an integer parameter in ``[low, high]`` (``high=None``: no cap)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < low or (high is not None and value > high):
        bounds = f"{low} <= {name}" + ("" if high is None else f" <= {high}")
        raise ValueError(f"{name} must satisfy {bounds}, got {name}={value}.")
    return int(value)


def _stable_smallest(block, n_neighbors):
    """Indices of the ``n_neighbors`` smallest entries per row, stable order.

    Ranking by the unique key ``distance * n_db + index`` makes partition and
    sort agree exactly with a stable sort on distance, ties going to the lower
    database index.
    """
    n_db = block.shape[1]
    # Narrow keys halve the memory traffic of the partition when they fit.
    fits_int32 = (int(block.max()) + 1) * n_db <= np.iinfo(np.int32).max
    key_dtype = np.int32 if fits_int32 else np.int64
    keys = block.astype(key_dtype) * key_dtype(n_db)
    keys += np.arange(n_db, dtype=key_dtype)
    if n_neighbors < n_db:
        keys = np.partition(keys, n_neighbors - 1, axis=1)[:, :n_neighbors]
    keys = np.sort(keys, axis=1)
    return keys % n_db


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

    Notes
    -----
    The full distance matrix is never stored: queries are processed in
    blocks, each reduced to its ``n_neighbors`` closest items with a
    partition followed by a sort of the selected items.

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
    query_words, db_words = map(
        _to_words, _as_packed_pair(query_codes, db_codes, packed)
    )
    n_queries, n_db = query_words.shape[1], db_words.shape[1]
    n_neighbors = _check_integer(n_neighbors, "n_neighbors", 1, n_db)
    distances = np.empty((n_queries, n_neighbors), dtype=np.int32)
    indices = np.empty((n_queries, n_neighbors), dtype=np.int64)
    # One reused buffer: fresh large blocks per chunk would page-fault anew.
    buffer = np.empty((min(n_queries, _block_rows(n_db)), n_db), dtype=np.int32)
    for rows in _query_blocks(n_queries, n_db):
        block = buffer[: rows.stop - rows.start]
        _fill_distances(query_words[:, rows], db_words, block)
        indices[rows] = _stable_smallest(block, n_neighbors)
        distances[rows] = np.take_along_axis(block, indices[rows], axis=1)
    return distances, indices
