"""Exact Hamming k-NN search: ``hamming_search`` against faiss ``IndexBinaryFlat``.

For each code length, draws query and database codes of uniformly random
bits (fixed seed), packs them with ``pack_codes`` and times the same search
on the same packed codes with both libraries, each on the same number of
threads (``torch.set_num_threads`` for ours, ``faiss.omp_set_num_threads``
for faiss). Every timing is the median of ``--repeats`` runs after one
warm-up run; the two libraries alternate within each repeat so that other
jobs on a shared machine slow both alike. The load average is printed
before and after, to show how busy the machine was.

The results are checked: ours against a brute-force stable ranking of the
first ``--n-check`` queries (exact equality), and faiss against ours (same
distances; indices either identical or differing only among items at equal
distance, since faiss does not order ties by index). faiss is optional
(``pip install faiss-cpu``, or the ``bench`` extra); without it the script
says so and prints our timings alone.

    python benchmarks/hamming_search.py
    python benchmarks/hamming_search.py --threads 1 --repeats 9
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

from imsat_sklearn import _hamming, hashing
from imsat_sklearn.hashing import hamming_search, pack_codes

try:
    import faiss
except ImportError:
    faiss = None


def interleaved_medians(searches, repeats):
    """Median seconds of each search, the searches taking turns each repeat."""
    for search in searches:
        search()
    times = [[] for _ in searches]
    for repeat in range(repeats):
        order = range(len(searches))
        for i in order if repeat % 2 == 0 else reversed(order):
            start = time.perf_counter()
            searches[i]()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def brute_force(query_packed, db_packed, n_neighbors):
    """Stable ranking by distances counted on unpacked bits, query by query."""
    distances, indices = [], []
    for query in query_packed:
        row = np.unpackbits(db_packed ^ query, axis=1).sum(axis=1)
        order = np.argsort(row, kind="stable")[:n_neighbors]
        distances.append(row[order])
        indices.append(order)
    return np.array(distances), np.array(indices)


def compare_with_faiss(query_packed, db_packed, ours, theirs):
    """'same', 'ties' (faiss orders equal-distance items otherwise) or 'DIFFER'."""
    (distances, indices), (faiss_distances, faiss_indices) = ours, theirs
    if not np.array_equal(distances, faiss_distances):
        return "DIFFER"
    if np.array_equal(indices, faiss_indices):
        return "same"
    recomputed = np.unpackbits(
        query_packed[:, None, :] ^ db_packed[faiss_indices], axis=2
    ).sum(axis=2)
    # Items strictly closer than a row's last distance must be the same set.
    strict = distances < distances[:, -1:]
    same_strict = all(
        set(indices[i][strict[i]]) == set(faiss_indices[i][strict[i]])
        for i in range(len(indices))
    )
    valid = np.array_equal(recomputed, faiss_distances) and same_strict
    return "ties" if valid else "DIFFER"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--n-db", type=int, default=200_000)
    parser.add_argument("--n-neighbors", type=int, default=10)
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=sorted({1, os.cpu_count() or 1}),
        help="thread counts to time, each for both libraries (default: 1 and all CPUs)",
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-check", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if any(n_bits % 8 for n_bits in args.bits):
        parser.error("--bits must be multiples of 8: IndexBinaryFlat takes whole bytes")

    print(
        f"{args.n_queries} queries x {args.n_db} database codes, "
        f"n_neighbors={args.n_neighbors}, median of {args.repeats} runs; "
        f"numpy {np.__version__} (popcount: {_hamming._popcount.__name__}), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"imsat_sklearn from {os.path.dirname(hashing.__file__)}")
    if faiss is None:
        print("faiss not installed (pip install faiss-cpu): timing ours alone")
    else:
        print(f"faiss {faiss.__version__}; faiss/ours above 1: ours is faster")
    print(f"{'bits':>4} {'threads':>7} {'ours (s)':>9} {'faiss (s)':>9} "
          f"{'faiss/ours':>10}  check")

    rng = np.random.default_rng(args.seed)
    failed = False
    for n_bits in args.bits:
        query_packed = pack_codes(rng.integers(0, 2, size=(args.n_queries, n_bits)))
        db_packed = pack_codes(rng.integers(0, 2, size=(args.n_db, n_bits)))
        ours = hamming_search(query_packed, db_packed, args.n_neighbors, packed=True)
        n_check = args.n_check
        expected = brute_force(query_packed[:n_check], db_packed, args.n_neighbors)
        checked = all(
            np.array_equal(result[:n_check], reference)
            for result, reference in zip(ours, expected)
        )
        check = "brute force ok" if checked else "brute force DIFFER"
        if faiss is not None:
            index = faiss.IndexBinaryFlat(n_bits)
            index.add(db_packed)
            theirs = index.search(query_packed, args.n_neighbors)
            agreement = compare_with_faiss(query_packed, db_packed, ours, theirs)
            check += f", faiss {agreement}"
        failed |= "DIFFER" in check

        def search_ours():
            hamming_search(query_packed, db_packed, args.n_neighbors, packed=True)

        for n_threads in args.threads:
            torch.set_num_threads(n_threads)
            if faiss is None:
                (ours_s,) = interleaved_medians([search_ours], args.repeats)
                faiss_cell = ratio = "-"
            else:
                faiss.omp_set_num_threads(n_threads)
                ours_s, faiss_s = interleaved_medians(
                    [search_ours, lambda: index.search(query_packed, args.n_neighbors)],
                    args.repeats,
                )
                faiss_cell, ratio = f"{faiss_s:.3f}", f"{faiss_s / ours_s:.1f}x"
            print(f"{n_bits:>4} {n_threads:>7} {ours_s:9.3f} {faiss_cell:>9} "
                  f"{ratio:>10}  {check}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
