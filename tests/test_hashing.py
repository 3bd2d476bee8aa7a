import numpy as np
import pytest

from imsat_sklearn import hashing
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


def test_hamming_distances_across_query_blocks(monkeypatch):
    # Blocks of 2 queries over 7 queries leave a ragged final block.
    monkeypatch.setattr(hashing, "_PAIRS_PER_CHUNK", 2 * 40)
    rng = np.random.default_rng(1)
    query_codes, db_codes = _random_codes(rng, 7, 70), _random_codes(rng, 40, 70)
    expected = _naive_distances(query_codes, db_codes)
    np.testing.assert_array_equal(hamming_distances(query_codes, db_codes), expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_lookup_table_popcount_matches_bitwise_count(dtype):
    rng = np.random.default_rng(2)
    words = rng.integers(0, np.iinfo(dtype).max, size=(5, 11), dtype=dtype)
    np.testing.assert_array_equal(hashing._popcount_lut(words), np.bitwise_count(words))


@pytest.mark.parametrize("n_bits", [13, 65])
def test_hamming_distances_with_lookup_table_fallback(monkeypatch, n_bits):
    monkeypatch.setattr(hashing, "_popcount", hashing._popcount_lut)
    rng = np.random.default_rng(3)
    query_codes = _random_codes(rng, 6, n_bits)
    db_codes = _random_codes(rng, 30, n_bits)
    expected = _naive_distances(query_codes, db_codes)
    np.testing.assert_array_equal(hamming_distances(query_codes, db_codes), expected)


def test_hamming_distances_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="same code length, got 3 and 4 bits"):
        hamming_distances([[0, 1, 1]], [[0, 1, 1, 0]])
    with pytest.raises(ValueError, match="db_codes must contain only 0 and 1"):
        hamming_distances([[0, 1]], [[0, 3]])
    with pytest.raises(ValueError, match="query_codes must be a 2-D uint8 array"):
        hamming_distances([[0, 1]], pack_codes([[0, 1]]), packed=True)


# Distances from [0, 0] are 2, 1, 1, 0, 1: three items tie at distance 1.
TIE_DB = [[1, 1], [0, 1], [1, 0], [0, 0], [0, 1]]


def test_hamming_search_breaks_ties_by_database_index():
    distances, indices = hamming_search([[0, 0]], TIE_DB, n_neighbors=3)
    np.testing.assert_array_equal(distances, [[0, 1, 1]])
    np.testing.assert_array_equal(indices, [[3, 1, 2]])
    distances, indices = hamming_search([[0, 0], [1, 1]], TIE_DB, n_neighbors=5)
    np.testing.assert_array_equal(distances, [[0, 1, 1, 1, 2], [0, 1, 1, 1, 2]])
    np.testing.assert_array_equal(indices, [[3, 1, 2, 4, 0], [0, 1, 2, 4, 3]])


@pytest.mark.parametrize("n_neighbors", [1, 7, 64, 300])
def test_hamming_search_equals_stable_argsort(monkeypatch, n_neighbors):
    monkeypatch.setattr(hashing, "_PAIRS_PER_CHUNK", 3 * 300)
    rng = np.random.default_rng(n_neighbors)
    # Four bits over 300 items forces many ties at every distance.
    query_codes, db_codes = _random_codes(rng, 10, 4), _random_codes(rng, 300, 4)
    full = _naive_distances(query_codes, db_codes)
    expected = np.argsort(full, axis=1, kind="stable")[:, :n_neighbors]
    distances, indices = hamming_search(query_codes, db_codes, n_neighbors)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(distances, np.take_along_axis(full, expected, axis=1))


def test_stable_selection_with_keys_beyond_int32():
    # Distances this large only occur with huge codes; they force 64-bit keys.
    block = np.array([[2**30, 7, 2**30 - 1, 7, 0]], dtype=np.int32)
    np.testing.assert_array_equal(hashing._stable_smallest(block, 4), [[4, 1, 3, 2]])


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
