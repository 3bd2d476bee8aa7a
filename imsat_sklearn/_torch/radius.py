"""Exact k-th nearest-neighbour distances, chunked, on the data's own device.

IMSAT sets the VAT radius of each training point from the distance to its
k-th nearest neighbour (Hu et al. 2017, Section 4.1, "adaptive" epsilon).
:func:`kth_neighbor_distance` works on X where it lies;
:func:`kth_neighbor_distance_streamed` computes on a device the distances of
an X kept in host memory, copying it there block by block.
"""

import math

import torch

# Elements of one chunk of the squared-distance matrix (256 MiB in float32).
_CHUNK_ELEMENTS = 1 << 26
# Extra candidates re-checked with exact differences, so that rounding in the
# fast ||a||^2 + ||b||^2 - 2ab expansion cannot change which neighbour is k-th.
CANDIDATE_MARGIN = 8


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
    n_candidates = min(k + CANDIDATE_MARGIN, n - 1)
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
    return kth_of_candidates(queries, X[candidates], k)


def kth_of_candidates(queries, candidates, k, buffer=None):
    """k-th smallest exact distance from each query to its candidate rows.

    The one exact re-check of every k-NN search here (and of the sparse
    search of the estimators), so that all give the same numbers for the
    same candidates, in whatever order.

    Parameters
    ----------
    queries : torch.Tensor of shape (n_queries, n_features)
    candidates : torch.Tensor of shape (n_queries, n_candidates, n_features)
    k : int, 1 <= k <= n_candidates
    buffer : torch.Tensor of the shape of ``candidates``, optional
        Receives the differences, so that a loop over chunks reuses one
        block instead of allocating one per chunk.

    Returns
    -------
    torch.Tensor of shape (n_queries,)
    """
    difference = torch.sub(queries[:, None, :], candidates, out=buffer)
    exact = torch.linalg.vector_norm(difference, dim=2)
    return exact.kthvalue(k, dim=1).values


def kth_neighbor_distance_streamed(X, k, device, rows=None, block_rows=None):
    """:func:`kth_neighbor_distance` of an ``X`` in host memory, computed on ``device``.

    For X too large for the device: the distances of a chunk of query rows
    to every row are computed block by block of X copied to ``device``,
    keeping the ``k + 8`` closest candidates of each query, which are then
    re-checked with exact differences as in :func:`kth_neighbor_distance`.
    Device memory stays bounded whatever the size of X; X is read
    ``len(rows) / chunk`` times.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), floating point, on the CPU
    k : int, 1 <= k < n_samples
    device : torch.device
        Where the distances are computed and returned.
    rows : torch.Tensor of int64 indices into ``X``, default all rows
    block_rows : int or None
        Rows of X per block (and at most per query chunk); None bounds each
        block to about ``2**26`` elements.

    Returns
    -------
    torch.Tensor of shape (len(rows),), dtype of ``X``, on ``device``.
    """
    n, d = X.shape
    rows = torch.arange(n) if rows is None else rows.cpu()
    n_candidates = min(k + CANDIDATE_MARGIN, n - 1)
    if block_rows is None:
        block_rows = min(math.isqrt(_CHUNK_ELEMENTS), _CHUNK_ELEMENTS // max(d, 1))
    block = max(1, min(n, block_rows))
    chunk = max(1, min(block, _CHUNK_ELEMENTS // max(n_candidates * d, 1)))
    squared_norms = torch.cat(
        [(b * b).sum(1) for b in (X[s : s + block].to(device) for s in range(0, n, block))]
    )
    out = torch.empty(len(rows), dtype=X.dtype, device=device)
    for start in range(0, len(rows), chunk):
        index = rows[start : start + chunk]
        queries = X[index].to(device)
        candidates = _streamed_candidates(X, squared_norms, queries, index.to(device), n_candidates, block)
        out[start : start + chunk] = kth_of_candidates(queries, X[candidates.cpu()].to(device), k)
    return out


def _streamed_candidates(X, squared_norms, queries, index, n_candidates, block):
    """Indices of the ``n_candidates`` closest other rows of each query, by the fast expansion."""
    device = queries.device
    best_values = best_indices = None
    for start in range(0, X.shape[0], block):
        reference = X[start : start + block].to(device)
        width = reference.shape[0]
        approx = (
            squared_norms[index, None]
            + squared_norms[None, start : start + width]
            - 2.0 * (queries @ reference.T)
        )
        # A query is not its own neighbour: set its own column (when in this block) to inf.
        local = index - start
        own = (local >= 0) & (local < width)
        column = local.clamp(0, width - 1)[:, None]
        kept = approx.gather(1, column).masked_fill_(own[:, None], float("inf"))
        approx.scatter_(1, column, kept)
        indices = torch.arange(start, start + width, device=device).expand(len(index), width)
        if best_values is not None:
            approx = torch.cat([best_values, approx], dim=1)
            indices = torch.cat([best_indices, indices], dim=1)
        top = approx.topk(min(n_candidates, approx.shape[1]), dim=1, largest=False)
        best_values, best_indices = top.values, indices.gather(1, top.indices)
    return best_indices
