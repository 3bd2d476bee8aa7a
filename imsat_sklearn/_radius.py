"""The per-sample perturbation radius of a fit: the one home of every k-NN search.

A fixed ``eps``, or ``eps_scale`` times the distance of each training row to
its ``n_neighbors``-th nearest other row: searched with torch where dense
rows live (streamed block by block from host memory for rows kept there),
with scikit-learn's sparse-aware brute-force search for a CSR ``X``, and
split over the processes of a communicator for data-parallel training.
"""

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import config_context
from sklearn.neighbors import NearestNeighbors

from ._torch.data import HostRows
from ._torch.parallel import SingleProcess
from ._torch.radius import (
    CANDIDATE_MARGIN,
    kth_neighbor_distance,
    kth_neighbor_distance_streamed,
    kth_of_candidates,
)


def perturbation_radius(X, rows, *, eps, n_neighbors, eps_scale, comm=SingleProcess()):
    """Radius of every training row, float32 on the training device.

    ``X`` is the validated training data (numpy array or CSR matrix), ``rows``
    its row source, ``comm`` the communicator of the fit.
    """
    n_samples = X.shape[0]
    if eps is not None:
        return torch.full((n_samples,), float(eps), dtype=torch.float32, device=rows.device)
    if n_neighbors >= n_samples:
        warnings.warn(
            f"n_neighbors={n_neighbors} must be < n_samples={n_samples}; using "
            f"n_neighbors={n_samples - 1}.",
            UserWarning,
        )
        n_neighbors = n_samples - 1
    radius = eps_scale * kth_neighbor_distance_of(X, rows, n_neighbors, comm)
    if not radius.any():
        warnings.warn(
            f"all k-NN distances are 0 (constant or heavily duplicated X with n_neighbors="
            f"{n_neighbors}), so the perturbation radius is 0 and self-augmentation has no "
            "effect. Pass a fixed eps or a larger n_neighbors.",
            UserWarning,
        )
    return radius


def kth_neighbor_distance_of(X, rows, k, comm):
    """Exact distance from each training row to its k-th nearest other row, float32 on the device.

    Dense data use the torch search where the rows live, each process of
    ``comm`` computing a share of the rows; a CSR ``X`` uses scikit-learn's
    sparse-aware brute-force search, whole in every process.
    """
    if sp.issparse(X):
        return torch.from_numpy(_sparse_kth_neighbor_distance(X, k)).to(rows.device)
    data = rows.X
    if isinstance(rows, HostRows):
        share = kth_neighbor_distance_streamed(data, k, rows.device, rows=_share(data, comm))
    else:
        share = kth_neighbor_distance(data, k, rows=_share(data, comm))
    if comm.world_size == 1:
        return share
    distances = torch.zeros(data.shape[0], dtype=share.dtype, device=share.device)
    distances[_share(data, comm).to(share.device)] = share
    # Each row is non-zero on at most one process, so the sum is exact.
    return comm.sum(distances)


def _share(X, comm):
    """This process's rows of the search: all of them in a single process."""
    if comm.world_size == 1:
        return None
    return torch.arange(X.shape[0], device=X.device).tensor_split(comm.world_size)[comm.rank]


# Scratch memory of the sparse k-NN search: scikit-learn's distance chunks
# (MiB) and the dense blocks of the exact re-check (float32 elements).
_KNN_WORKING_MEMORY_MIB = 64
_RECHECK_ELEMENTS = 1 << 22
# Widest X whose k-NN distances are re-checked on densified rows; the re-check
# costs n_samples x (k + 8) x n_features, so wider X keeps scikit-learn's distances.
_DENSE_RECHECK_FEATURES = 20_000


def _sparse_kth_neighbor_distance(X, k):
    """k-th nearest-neighbour distances of a float32 CSR ``X``, excluding each row itself.

    scikit-learn's brute-force search finds the ``k + 8`` nearest
    candidates of each row without densifying X. Up to
    ``_DENSE_RECHECK_FEATURES`` features, their distances are then
    re-checked on densified rows, in bounded blocks, by the exact re-check
    of the torch search, so that sparse and dense input of the same data
    give the same radius to the last bit. Wider X keeps scikit-learn's
    distances (computed in float64), which agree with the torch search to
    about 1e-6 relative.
    """
    n_samples, n_features = X.shape
    n_candidates = min(k + CANDIDATE_MARGIN, n_samples - 1)
    with config_context(working_memory=_KNN_WORKING_MEMORY_MIB):
        # kneighbors() without X leaves each point out of its own neighbours.
        search = NearestNeighbors(n_neighbors=n_candidates, algorithm="brute").fit(X)
        distances, candidates = search.kneighbors()
    if n_features > _DENSE_RECHECK_FEATURES:
        return np.ascontiguousarray(distances[:, k - 1], dtype=np.float32)
    out = np.empty(n_samples, dtype=np.float32)
    chunk = min(n_samples, max(1, _RECHECK_ELEMENTS // (n_candidates * max(n_features, 1))))
    # Dense blocks allocated once and reused, not once per chunk.
    query_block = np.empty((chunk, n_features), dtype=np.float32)
    neighbour_block = np.empty((chunk * n_candidates, n_features), dtype=np.float32)
    difference_block = torch.empty((chunk, n_candidates, n_features))
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        m = stop - start
        queries = X[start:stop].toarray(out=query_block[:m])
        neighbours = X[candidates[start:stop].ravel()].toarray(out=neighbour_block[: m * n_candidates])
        out[start:stop] = kth_of_candidates(
            torch.from_numpy(queries),
            torch.from_numpy(neighbours).view(m, n_candidates, n_features),
            k,
            buffer=difference_block[:m],
        ).numpy()
    return out
