"""Exact k-th nearest-neighbour distances, chunked, on the data's own device.

IMSAT sets the VAT radius of each training point from the distance to its
k-th nearest neighbour (Hu et al. 2017, Section 4.1, "adaptive" epsilon).
"""

import torch

# Elements of one chunk of the squared-distance matrix (256 MiB in float32).
_CHUNK_ELEMENTS = 1 << 26
# Extra candidates re-checked with exact differences, so that rounding in the
# fast ||a||^2 + ||b||^2 - 2ab expansion cannot change which neighbour is k-th.
_MARGIN = 8


def kth_neighbor_distance(X, k, rows=None):
    """Distance from each row ``X[rows]`` to its k-th nearest *other* row of ``X``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), floating point
    k : int, 1 <= k < n_samples
    rows : torch.Tensor of int64 indices into ``X``, default all rows

    Returns
    -------
    torch.Tensor of shape (len(rows),), same dtype and device as ``X``.
    A point is never its own neighbour; duplicates of it are (distance 0).
    """
    n = X.shape[0]
    if rows is None:
        rows = torch.arange(n, device=X.device)
    n_candidates = min(k + _MARGIN, n - 1)
    # Bound both the distance block and the exact re-check block.
    chunk = max(1, _CHUNK_ELEMENTS // max(n, n_candidates * X.shape[1]))
    squared_norms = (X * X).sum(1)
    out = torch.empty(len(rows), dtype=X.dtype, device=X.device)
    for start in range(0, len(rows), chunk):
        index = rows[start : start + chunk]
        out[start : start + chunk] = _chunk_kth(X, squared_norms, index, k, n_candidates)
    return out


def _chunk_kth(X, squared_norms, index, k, n_candidates):
    queries = X[index]
    approx = squared_norms[index, None] + squared_norms[None, :] - 2.0 * (queries @ X.T)
    approx[torch.arange(len(index), device=X.device), index] = float("inf")
    candidates = approx.topk(n_candidates, dim=1, largest=False).indices
    exact = torch.linalg.vector_norm(queries[:, None, :] - X[candidates], dim=2)
    return exact.kthvalue(k, dim=1).values
