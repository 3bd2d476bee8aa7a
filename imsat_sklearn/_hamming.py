"""Tiled XOR/popcount kernels and the exact top-k of ``imsat_sklearn.hashing``.

Codes arrive as 64-bit words (``to_words``); distances are computed in
cache-sized tiles, and a search ranks blocks of queries on several threads
(NumPy releases the GIL in its loops). The public functions and their input
checks live in ``hashing``.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

# Pairs per XOR tile: its words (2 MiB at 64 bits) stay in cache between
# the XOR and the popcount that reads them back, and its NumPy calls are
# long enough that threads seldom wait for the GIL between them. The SWAR
# popcount of numpy < 2 makes temporaries of a tile's size at each step;
# from 1 MiB on their allocation costs more than the counting (measured).
PAIRS_PER_TILE = 2**18 if hasattr(np, "bitwise_count") else 2**16

# Pairs per block of queries in hamming_search's candidate filter. A block
# keeps only its minima over groups of 8 items (1 MiB of uint8 per thread),
# so it can be large, which amortises the filter's many small NumPy calls.
_PAIRS_PER_SEARCH_BLOCK = 2**23

# Pairs per block ranked by a partition, which holds all their distances
# and 4 or 8 bytes of sort keys per pair: small blocks keep it in cache.
_PAIRS_PER_PARTITION_BLOCK = 2**20

# The candidate filter gives up on a block, which is then ranked by a
# partition, when its candidates would outnumber this fraction of the
# block's group minima (heavy ties): a memory bound of about 2 bytes of
# index arrays per query/database pair.
_MAX_CANDIDATE_FRACTION = 1 / 2

# Each level of the candidate filter takes minima over this many columns.
_GROUP = 8


def _popcount_swar(words, out):
    """Per-element popcount of unsigned words into ``out`` (numpy < 2).

    The SWAR bit count: sum bits in pairs, nibbles, then bytes, and add the
    bytes of each word with one multiplication whose top byte is the total.
    Every step is one vectorised pass, where a table lookup would gather.
    """
    word = words.dtype.type
    n_bits = 8 * words.dtype.itemsize

    def mask(byte):
        return word(int(byte * (n_bits // 8), 16))

    counts = words - ((words >> word(1)) & mask("55"))
    pairs = counts >> word(2)
    pairs &= mask("33")
    counts &= mask("33")
    counts += pairs
    counts += counts >> word(4)
    counts &= mask("0f")
    counts *= mask("01")
    return np.right_shift(counts, word(n_bits - 8), out=out, casting="unsafe")


_popcount = getattr(np, "bitwise_count", _popcount_swar)



def to_words(packed_codes):
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


def fill_distances(query_words, db_words, out, combine=None):
    """Write the (n_rows, n_db) Hamming distance block into ``out``.

    ``out`` may have any integer dtype wide enough for the distances. With
    ``combine``, a ufunc such as ``np.minimum``, the distances are folded
    into ``out`` instead: ``combine(out, distances, out=out)``. The work goes
    tile by tile so that the temporaries stay in cache.
    """
    n_rows, n_db = out.shape
    # All rows of a block share each database tile while it is in cache;
    # tiles of many rows stay at least 1024 columns wide for the inner loops.
    tile_cols = min(n_db, max(PAIRS_PER_TILE // n_rows, 1024))
    tile_rows = max(1, PAIRS_PER_TILE // tile_cols)
    shape = (min(tile_rows, n_rows), tile_cols)
    xor = np.empty(shape, dtype=db_words.dtype)
    counts = np.empty(shape, dtype=np.uint8)
    totals = None if combine is None else np.empty(shape, dtype=out.dtype)
    for row_start in range(0, n_rows, tile_rows):
        rows = slice(row_start, min(row_start + tile_rows, n_rows))
        query_tile = query_words[:, rows, None]
        for col_start in range(0, n_db, tile_cols):
            cols = slice(col_start, min(col_start + tile_cols, n_db))
            tile = out[rows, cols]
            size = (slice(tile.shape[0]), slice(tile.shape[1]))
            tile_xor, tile_counts = xor[size], counts[size]
            total = tile if combine is None else totals[size]
            for word, (query_word, db_word) in enumerate(zip(query_tile, db_words)):
                np.bitwise_xor(query_word, db_word[None, cols], out=tile_xor)
                if word == 0 and total.dtype == np.uint8:
                    _popcount(tile_xor, out=total)
                elif word == 0:
                    # A popcount cast straight into a wider dtype is slower.
                    total[...] = _popcount(tile_xor, out=tile_counts)
                else:
                    total += _popcount(tile_xor, out=tile_counts)
            if combine is not None:
                combine(tile, total, out=tile)


def _fill_group_minima(query_words, db_words, out):
    """Minima of the distances over groups of ``_GROUP`` database items.

    ``out[r, j]`` receives the smallest distance between query ``r`` and the
    database items ``j + i * width`` for ``i`` in ``range(_GROUP)``, where
    ``width = out.shape[1]`` lies between ``n_db / _GROUP`` and ``n_db``;
    items past the end of the database are left out. The distances
    themselves are never stored.
    """
    width, n_db = out.shape[1], db_words.shape[1]
    fill_distances(query_words, db_words[:, :width], out)
    for start in range(width, n_db, width):
        cols = slice(start, min(start + width, n_db))
        target = out[:, : cols.stop - cols.start]
        fill_distances(query_words, db_words[:, cols], target, np.minimum)


def _pair_distances(query_words, db_words, query_rows, db_rows):
    """Hamming distances of the pairs ``(query_rows[i], db_rows[i])``, int64."""
    distances = np.zeros(query_rows.shape, dtype=np.int64)
    counts = np.empty(query_rows.shape, dtype=np.uint8)
    for query_word, db_word in zip(query_words, db_words):
        xor = query_word.take(query_rows) ^ db_word.take(db_rows)
        distances += _popcount(xor, out=counts)
    return distances



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


def _n_levels(n_db, n_neighbors):
    """Number of levels of group minima for the candidate filter; 0: none.

    Each level shrinks the row by ``_GROUP``; the top level keeps at least 16
    entries per neighbour sought, which makes its bound tight: it admits 2 to
    5 candidates per neighbour on random codes of 16 to 64 bits. With a
    single level, partitioning the top level and sorting the candidates
    cost more than partitioning the rows (measured), so the filter needs two.
    """
    n_levels, width = 0, n_db
    while width // _GROUP >= 16 * n_neighbors:
        width = -(-width // _GROUP)
        n_levels += 1
    return n_levels if n_levels >= 2 else 0


def _rank_by_filter(query_words, db_words, n_neighbors, n_levels, dtype):
    """Neighbours of a block of queries through nested group minima.

    Level 1 holds the minima over groups of ``_GROUP`` database items whose
    indices agree modulo its width (:func:`_fill_group_minima`); each
    further level takes minima over ``_GROUP`` entries of the one below in
    the same way. Each top entry is thus the minimum of a disjoint group of
    items, so the ``n_neighbors``-th smallest top entry of a row is an upper
    bound on its ``n_neighbors``-th smallest distance. Walking down the
    levels keeps only the groups within that bound and ends with every item
    within it, whose distances are recomputed and sorted.

    Returns ``(indices, distances)``, or None when ties make the candidates
    too many for their memory bound.
    """
    n_rows, n_db = query_words.shape[1], db_words.shape[1]
    span = _GROUP**n_levels
    width = -(-n_db // span) * span // _GROUP
    levels = [np.empty((n_rows, width), dtype=dtype)]
    _fill_group_minima(query_words, db_words, levels[0])
    for _ in range(n_levels - 1):
        levels.append(
            np.minimum.reduce(levels[-1].reshape(n_rows, _GROUP, -1), axis=1)
        )
    top = levels[-1]
    threshold = np.partition(top, n_neighbors - 1, axis=1)[:, n_neighbors - 1]
    # Each step down multiplies the candidates by _GROUP before filtering.
    max_candidates = _MAX_CANDIDATE_FRACTION * levels[0].size / _GROUP
    survivors = top <= threshold[:, None]
    if np.count_nonzero(survivors) > max_candidates:
        return None
    # Candidates as flat indices into the current level, with their rows.
    flat = np.flatnonzero(survivors)
    rows = flat // top.shape[1]
    for level in reversed(levels[:-1]):
        step = level.shape[1] // _GROUP
        # Entry (r, c) of the coarser level covers (r, c + i * step) here.
        first_child = flat + (_GROUP - 1) * step * rows
        flat = (first_child[:, None] + step * np.arange(_GROUP)).ravel()
        rows = rows.repeat(_GROUP)
        keep = level.ravel().take(flat) <= threshold.take(rows)
        flat, rows = flat[keep], rows[keep]
        if rows.size > max_candidates:
            return None
    # Down to the items themselves, which exist only below n_db.
    cols = ((flat - rows * width)[:, None] + width * np.arange(_GROUP)).ravel()
    rows = rows.repeat(_GROUP)
    exists = cols < n_db
    cols, rows = cols[exists], rows[exists]
    distances = _pair_distances(query_words, db_words, rows, cols)
    keep = distances <= threshold.take(rows)
    cols, rows, distances = cols[keep], rows[keep], distances[keep]
    # Every row keeps at least n_neighbors items, by the bound above. Unique
    # keys order them by row, then distance, then database index.
    distance_span = 8 * db_words.dtype.itemsize * len(db_words) + 1
    order = np.argsort((rows * distance_span + distances) * n_db + cols)
    counts = np.bincount(rows, minlength=n_rows)
    first = np.cumsum(counts) - counts
    chosen = order[first[:, None] + np.arange(n_neighbors)]
    return cols[chosen], distances[chosen]


def _rank_by_partition(query_words, db_words, n_neighbors, dtype):
    """Neighbours of a block of queries by a stable partition of each row."""
    n_rows, n_db = query_words.shape[1], db_words.shape[1]
    indices = np.empty((n_rows, n_neighbors), dtype=np.int64)
    distances = np.empty((n_rows, n_neighbors), dtype=np.int32)
    step = max(1, _PAIRS_PER_PARTITION_BLOCK // n_db)
    buffer = np.empty((min(step, n_rows), n_db), dtype=dtype)
    for start in range(0, n_rows, step):
        rows = slice(start, min(start + step, n_rows))
        block = buffer[: rows.stop - rows.start]
        fill_distances(query_words[:, rows], db_words, block)
        indices[rows] = _stable_smallest(block, n_neighbors)
        distances[rows] = np.take_along_axis(block, indices[rows], axis=1)
    return indices, distances


def search(query_words, db_words, n_neighbors, n_bits):
    """The ``n_neighbors`` nearest database codes of every query, as ``hamming_search``.

    ``query_words`` and ``db_words`` come from :func:`to_words`; ``n_bits``
    is the code length. Returns ``(distances, indices)``.
    """
    n_queries, n_db = query_words.shape[1], db_words.shape[1]
    n_levels = _n_levels(n_db, n_neighbors)
    # The smallest dtype that holds every distance.
    distance_dtype = np.min_scalar_type(n_bits)
    n_threads = max(1, torch.get_num_threads())
    pairs = _PAIRS_PER_SEARCH_BLOCK if n_levels else _PAIRS_PER_PARTITION_BLOCK
    # A multiple of n_threads blocks of equal size, so that no thread waits
    # long for the others at the end.
    n_blocks = -(-n_queries // max(1, pairs // n_db))
    n_blocks = min(n_queries, -(-n_blocks // n_threads) * n_threads)
    step = -(-n_queries // n_blocks)
    blocks = [
        slice(start, min(start + step, n_queries))
        for start in range(0, n_queries, step)
    ]
    distances = np.empty((n_queries, n_neighbors), dtype=np.int32)
    indices = np.empty((n_queries, n_neighbors), dtype=np.int64)

    def search_block(rows):
        block = query_words[:, rows], db_words, n_neighbors
        result = None
        if n_levels:
            result = _rank_by_filter(*block, n_levels, distance_dtype)
        if result is None:
            result = _rank_by_partition(*block, distance_dtype)
        indices[rows], distances[rows] = result

    if n_threads == 1 or len(blocks) == 1:
        for rows in blocks:
            search_block(rows)
    else:
        with ThreadPoolExecutor(min(n_threads, len(blocks))) as executor:
            # list() waits for every block and re-raises a worker's error.
            list(executor.map(search_block, blocks))
    return distances, indices
