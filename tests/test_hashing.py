import numpy as np
import pytest

from imsat_sklearn import _hamming
from imsat_sklearn.hashing import hamming_distances, hamming_search, pack_codes


def _naive_distances(query_codes, db_codes):
    query_codes, db_codes = np.asarray(query_codes), np.asarray(db_codes)
    return (query_codes[:, None, :] != db_codes[None, :, :]).sum(axis=2)


def _random_codes(rng, n_samples, n_bits):
    return rng.integers(0, 2, size=(n_samples, n_bits))


def test_pack_codes_hand_value():
    packed = pack_codes([[1, 0, 1, 1, 0, 0, 0, 0, 1]])
    assert packed.dtype == np.uint8
    np.testing.assert_array_equal(packed, [[0b10110000, 0b10000000]])


@pytest.mark.parametrize(
    "codes, match",
    [
        ([1, 0, 1], "codes must be a 2-D array"),
        (np.zeros((0, 4), dtype=int), "codes must be non-empty"),
        ([[0.0, 1.0]], "integer or bool dtype"),
        ([[0, 2]], "only 0 and 1"),
        ([[0, -1]], "only 0 and 1"),
    ],
)
def test_pack_codes_rejects_bad_codes(codes, match):
    with pytest.raises(ValueError, match=match):
        pack_codes(codes)


def test_hamming_distances_hand_value():
    distances = hamming_distances([[0, 0, 1], [1, 1, 1]], [[0, 0, 1], [1, 1, 0]])
    np.testing.assert_array_equal(distances, [[0, 3], [2, 1]])
    assert distances.dtype == np.int32


@pytest.mark.parametrize("n_bits", [1, 7, 8, 13, 16, 32, 33, 64, 65, 130])
def test_hamming_distances_match_naive_count(n_bits):
    rng = np.random.default_rng(n_bits)
    query_codes = _random_codes(rng, 17, n_bits)
    db_codes = _random_codes(rng, 230, n_bits)
    expected = _naive_distances(query_codes, db_codes)
    np.testing.assert_array_equal(hamming_distances(query_codes, db_codes), expected)
    np.testing.assert_array_equal(
        hamming_distances(query_codes.astype(bool), db_codes.astype(np.uint8)),
        expected,
    )


def test_hamming_distances_packed_input_matches_unpacked():
    rng = np.random.default_rng(0)
    query_codes, db_codes = _random_codes(rng, 9, 13), _random_codes(rng, 50, 13)
    packed = hamming_distances(
        pack_codes(query_codes), pack_codes(db_codes), packed=True
    )
    np.testing.assert_array_equal(packed, _naive_distances(query_codes, db_codes))


def test_hamming_distances_across_ragged_tiles(monkeypatch):
    # Tiles of 2 rows x 1024 columns over 7 x 2500 pairs leave a ragged last
    # tile both ways; 70 bits take two 64-bit words, which add up per tile.
    monkeypatch.setattr(_hamming, "PAIRS_PER_TILE", 2048)
    rng = np.random.default_rng(1)
    query_codes, db_codes = _random_codes(rng, 7, 70), _random_codes(rng, 2500, 70)
    expected = _naive_distances(query_codes, db_codes)
    np.testing.assert_array_equal(hamming_distances(query_codes, db_codes), expected)


@pytest.mark.parametrize("n_bits, dtype", [(30, np.uint8), (70, np.uint16)])
def test_group_minima_over_strided_groups(monkeypatch, n_bits, dtype):
    # 1000 items in groups j, j + 130, j + 260, ...: the last stripe is
    # partial, and small tiles split every stripe.
    monkeypatch.setattr(_hamming, "PAIRS_PER_TILE", 1500)
    rng = np.random.default_rng(9)
    query_codes = _random_codes(rng, 3, n_bits)
    db_codes = _random_codes(rng, 1000, n_bits)
    full = _naive_distances(query_codes, db_codes)
    padded = np.pad(full, ((0, 0), (0, 8 * 130 - 1000)), constant_values=n_bits + 1)
    expected = padded.reshape(3, 8, 130).min(axis=1)
    query_words = _hamming.to_words(pack_codes(query_codes))
    db_words = _hamming.to_words(pack_codes(db_codes))
    minima = np.empty((3, 130), dtype=dtype)
    _hamming._fill_group_minima(query_words, db_words, minima)
    np.testing.assert_array_equal(minima, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_swar_popcount_counts_bits(dtype):
    rng = np.random.default_rng(2)
    top = np.iinfo(dtype).max
    words = rng.integers(0, top, size=(5, 11), dtype=dtype, endpoint=True)
    words[0, :3] = [0, top, top // 3]
    out = np.empty(words.shape, dtype=np.uint8)
    result = _hamming._popcount_swar(words, out=out)
    assert result is out
    expected = [[bin(int(word)).count("1") for word in row] for row in words]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("n_bits", [13, 65])
def test_hamming_functions_with_swar_fallback(monkeypatch, n_bits):
    monkeypatch.setattr(_hamming, "_popcount", _hamming._popcount_swar)
    rng = np.random.default_rng(3)
    query_codes = _random_codes(rng, 6, n_bits)
    db_codes = _random_codes(rng, 2000, n_bits)
    expected = _naive_distances(query_codes, db_codes)
    np.testing.assert_array_equal(hamming_distances(query_codes, db_codes), expected)
    for n_neighbors in (1, 5):  # with and without the candidate filter
        _assert_search_exact(query_codes, db_codes, n_neighbors)


def test_hamming_distances_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="same code length, got 3 and 4 bits"):
        hamming_distances([[0, 1, 1]], [[0, 1, 1, 0]])
    with pytest.raises(ValueError, match="db_codes must contain only 0 and 1"):
        hamming_distances([[0, 1]], [[0, 3]])
    with pytest.raises(ValueError, match="query_codes must be a 2-D uint8 array"):
        hamming_distances([[0, 1]], pack_codes([[0, 1]]), packed=True)


@pytest.mark.parametrize("function", [hamming_distances, hamming_search])
def test_packed_must_be_a_bool(function):
    codes = pack_codes([[0, 1]])
    with pytest.raises(TypeError, match="packed must be a bool, got 'yes'"):
        function(codes, codes, packed="yes")


# Distances from [0, 0] are 2, 1, 1, 0, 1: three items tie at distance 1.
TIE_DB = [[1, 1], [0, 1], [1, 0], [0, 0], [0, 1]]


def test_hamming_search_breaks_ties_by_database_index():
    distances, indices = hamming_search([[0, 0]], TIE_DB, n_neighbors=3)
    np.testing.assert_array_equal(distances, [[0, 1, 1]])
    np.testing.assert_array_equal(indices, [[3, 1, 2]])
    distances, indices = hamming_search([[0, 0], [1, 1]], TIE_DB, n_neighbors=5)
    np.testing.assert_array_equal(distances, [[0, 1, 1, 1, 2], [0, 1, 1, 1, 2]])
    np.testing.assert_array_equal(indices, [[3, 1, 2, 4, 0], [0, 1, 2, 4, 3]])


def _assert_search_exact(query_codes, db_codes, n_neighbors):
    """hamming_search equals a stable argsort of brute-force distances."""
    full = _naive_distances(query_codes, db_codes)
    expected = np.argsort(full, axis=1, kind="stable")[:, :n_neighbors]
    distances, indices = hamming_search(query_codes, db_codes, n_neighbors)
    assert distances.dtype == np.int32 and indices.dtype == np.int64
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(distances, np.take_along_axis(full, expected, axis=1))


@pytest.fixture(params=["filter", "partition"])
def ranking(request, monkeypatch):
    """Allow or forbid the candidate filter; yield a function checking its use.

    Blocks ranked by a partition call ``_stable_smallest``; the filter is used
    whenever ``_n_levels`` gives it levels of group minima to work with.
    """
    calls = []
    partition = _hamming._stable_smallest

    def counted_partition(*args):
        calls.append(args)
        return partition(*args)

    monkeypatch.setattr(_hamming, "_stable_smallest", counted_partition)
    fraction = np.inf if request.param == "filter" else 0.0
    monkeypatch.setattr(_hamming, "_MAX_CANDIDATE_FRACTION", fraction)

    def check(n_db, n_neighbors):
        filtered = request.param == "filter" and _hamming._n_levels(n_db, n_neighbors)
        assert bool(calls) != bool(filtered)

    return check


@pytest.mark.parametrize(
    "n_bits, n_db, n_neighbors, n_levels",
    [
        (4, 300, 1, 0),  # four bits over 300 items: many ties at every distance
        (4, 300, 7, 0),
        (4, 300, 300, 0),  # every item, n_neighbors == n_db
        (1, 40, 40, 0),
        (7, 120, 64, 0),
        (4, 3000, 2, 2),
        (16, 5000, 1, 2),
        (16, 5000, 10, 0),  # one level would do, too few to pay off
        (33, 3000, 2, 2),
        (64, 20000, 1, 3),  # 20000 padded to a multiple of 8**3
        (64, 20000, 10, 2),
        (65, 3000, 2, 2),
        (248, 2100, 2, 2),  # the widest codes with uint8 distances
        (256, 2100, 2, 2),  # uint16 distances
    ],
)
def test_hamming_search_equals_stable_argsort(
    ranking, n_bits, n_db, n_neighbors, n_levels
):
    assert _hamming._n_levels(n_db, n_neighbors) == n_levels
    rng = np.random.default_rng(n_bits * n_db + n_neighbors)
    query_codes = _random_codes(rng, 6, n_bits)
    db_codes = _random_codes(rng, n_db, n_bits)
    _assert_search_exact(query_codes, db_codes, n_neighbors)
    ranking(n_db, n_neighbors)


def test_hamming_search_collapsed_database(ranking):
    # One code for every item, as from a collapsed hasher: all ties.
    db_codes = np.tile([[1, 0, 1, 1, 0, 0, 1, 0] * 8], (5000, 1))
    query_codes = np.random.default_rng(4).integers(0, 2, size=(4, 64))
    distances, indices = hamming_search(query_codes, db_codes, 3)
    np.testing.assert_array_equal(indices, np.tile(np.arange(3), (4, 1)))
    expected = _naive_distances(query_codes, db_codes[:3])
    np.testing.assert_array_equal(distances, expected)
    ranking(5000, 3)


def test_hamming_search_nearest_items_last(ranking):
    # Exact copies of the queries only at the end of the database, among
    # items that are far from every query; ties among copies by index.
    rng = np.random.default_rng(5)
    query_codes = _random_codes(rng, 3, 32)
    far = 1 - query_codes[rng.integers(0, 3, size=4000)]
    db_codes = np.vstack([far, query_codes, query_codes[::-1], query_codes])
    _assert_search_exact(query_codes, db_codes, 3)
    ranking(len(db_codes), 3)


def test_hamming_search_blocks_and_threads(monkeypatch):
    # Blocks of at most 2 queries out of 7 leave a ragged last block; three
    # threads share them. Results do not depend on the thread count.
    monkeypatch.setattr(_hamming, "_PAIRS_PER_SEARCH_BLOCK", 2 * 3000)
    monkeypatch.setattr(_hamming, "_PAIRS_PER_PARTITION_BLOCK", 2 * 3000)
    rng = np.random.default_rng(6)
    query_codes, db_codes = _random_codes(rng, 7, 24), _random_codes(rng, 3000, 24)
    for n_threads in (1, 3):
        monkeypatch.setattr(_hamming.torch, "get_num_threads", lambda: n_threads)
        for n_neighbors in (2, 6):  # with and without the candidate filter
            _assert_search_exact(query_codes, db_codes, n_neighbors)


def test_hamming_search_partition_in_ragged_sub_blocks(monkeypatch):
    # Search blocks of 5, 5 and 3 queries, where the filter gives up at once;
    # each block is then ranked by partitions of at most 2 queries.
    monkeypatch.setattr(_hamming, "_PAIRS_PER_SEARCH_BLOCK", 5 * 3000)
    monkeypatch.setattr(_hamming, "_PAIRS_PER_PARTITION_BLOCK", 2 * 3000)
    monkeypatch.setattr(_hamming, "_MAX_CANDIDATE_FRACTION", 0.0)
    monkeypatch.setattr(_hamming.torch, "get_num_threads", lambda: 1)
    partition_rows = []
    partition = _hamming._stable_smallest

    def recorded_partition(block, n_neighbors):
        partition_rows.append(block.shape[0])
        return partition(block, n_neighbors)

    monkeypatch.setattr(_hamming, "_stable_smallest", recorded_partition)
    rng = np.random.default_rng(8)
    query_codes, db_codes = _random_codes(rng, 13, 40), _random_codes(rng, 3000, 40)
    _assert_search_exact(query_codes, db_codes, 2)
    assert partition_rows == [2, 2, 1, 2, 2, 1, 2, 1]


def test_hamming_search_packed_input():
    rng = np.random.default_rng(7)
    query_codes, db_codes = _random_codes(rng, 5, 21), _random_codes(rng, 900, 21)
    expected = hamming_search(query_codes, db_codes, 8)
    packed = pack_codes(query_codes), pack_codes(db_codes)
    result = hamming_search(*packed, 8, packed=True)
    for got, want in zip(result, expected):
        np.testing.assert_array_equal(got, want)


def test_stable_selection_with_keys_beyond_int32():
    # Distances this large only occur with huge codes; they force 64-bit keys.
    block = np.array([[2**30, 7, 2**30 - 1, 7, 0]], dtype=np.int32)
    np.testing.assert_array_equal(_hamming._stable_smallest(block, 4), [[4, 1, 3, 2]])


@pytest.mark.parametrize(
    "n_neighbors, match",
    [
        (0, "1 <= n_neighbors <= 5, got n_neighbors=0"),
        (6, "1 <= n_neighbors <= 5, got n_neighbors=6"),
        (2.0, "n_neighbors must be an integer"),
        (True, "n_neighbors must be an integer"),
    ],
)
def test_hamming_search_validates_n_neighbors(n_neighbors, match):
    with pytest.raises(ValueError, match=match):
        hamming_search([[0, 0]], TIE_DB, n_neighbors)


def test_hamming_search_accepts_numpy_integer_n_neighbors():
    distances, indices = hamming_search([[0, 0]], TIE_DB, np.int64(2))
    np.testing.assert_array_equal(indices, [[3, 1]])
