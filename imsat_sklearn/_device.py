"""Device selection and host/device data movement for the estimators.

Which row source (``_torch.data``) the trainer draws minibatches from is
chosen here: dense data on the CPU or fitting on the GPU are used in place
(``DeviceRows``), dense data too large for the GPU stay on the host
(``HostRows``), sparse data stay sparse (``SparseRows``).
"""

import copy
import warnings

import numpy as np
import scipy.sparse as sp
import torch

from ._torch.data import DeviceRows, HostRows, SparseRows

# Rows per forward pass at prediction time: bounds memory at about
# _PREDICT_ROWS x widest hidden layer floats, whatever the size of X. Wide
# input gets fewer rows, so that one densified float32 batch of it stays
# under _PREDICT_ELEMENTS values (8 MiB).
_PREDICT_ROWS = 8192
_PREDICT_ELEMENTS = 1 << 21

# Training data go to the GPU only when they leave this much of its free
# memory (and a tenth of it) for the model, its activations and the k-NN search.
_GPU_HEADROOM_BYTES = 2 << 30


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``, or raise ValueError.

    'auto' picks the first CUDA device when one is available, else the CPU.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a valid device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from None
    if resolved.type == "cuda":
        _check_cuda(device, resolved)
    elif resolved.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'auto', 'cpu', 'cuda' or 'cuda:N'.")
    return resolved


class CudaUnavailableError(ValueError):
    """A CUDA device was requested on a machine without CUDA."""


def _check_cuda(device, resolved):
    if not torch.cuda.is_available():
        raise CudaUnavailableError(
            f"device={device!r} was requested but CUDA is not available on this machine "
            "(torch.cuda.is_available() is False); use device='cpu' or device='auto'."
        )
    count = torch.cuda.device_count()
    if resolved.index is not None and resolved.index >= count:
        raise ValueError(f"device={device!r} does not exist: this machine has {count} CUDA device(s).")


def prediction_device(device):
    """Device for inference: as ``resolve_device``, but a CUDA request falls back to the CPU.

    A model fitted on a GPU must still predict after being loaded on a machine
    without one; the fallback warns on every call so it is never silent.
    """
    try:
        return resolve_device(device)
    except CudaUnavailableError:
        warnings.warn(
            f"device={device!r} is not available on this machine; predicting on the CPU. "
            "Use set_params(device='cpu') to silence this warning.",
            UserWarning,
        )
        return torch.device("cpu")


def as_float32_tensor(X, device):
    """View or copy a validated 2-D numpy array as a float32 tensor on ``device``.

    A C-contiguous float32 array on the CPU is shared, not copied: callers
    must never write into the result.
    """
    with warnings.catch_warnings():
        # Read-only arrays (memmaps, frozen inputs) are shared too; we never write.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensor = torch.from_numpy(np.asarray(X))
    return tensor.to(device=device, dtype=torch.float32)


def _fits_on_device(nbytes, device):
    """Whether ``nbytes`` of training data should live on ``device`` (always on the CPU)."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= 0.9 * free - _GPU_HEADROOM_BYTES


def training_csr(X):
    """A validated CSR ``X`` as a float32 CSR matrix without duplicate entries.

    The caller's matrix is never modified: it is copied when it holds
    duplicates or unsorted indices (which are then summed and sorted in the
    copy); otherwise its index arrays are shared and only float64 values
    are converted.
    """
    if not _canonical(X.indptr, X.indices):
        X = X.copy()
        X.sum_duplicates()
    data = X.data.astype(np.float32, copy=False)
    return sp.csr_matrix((data, X.indices, X.indptr), shape=X.shape, copy=False)


def _canonical(indptr, indices):
    """True when the column indices of every row are strictly increasing."""
    if len(indices) < 2:
        return True
    increasing = np.diff(indices) > 0
    # A step across a row boundary may go down.
    boundaries = indptr[1:-1]
    boundaries = boundaries[(boundaries > 0) & (boundaries < len(indices))]
    increasing[boundaries - 1] = True
    return bool(increasing.all())


def row_source(X, device):
    """The row source the trainer draws minibatches of validated ``X`` from.

    Dense ``X`` becomes :class:`DeviceRows`, shared with the numpy array on
    the CPU when it is C-contiguous float32 (memory maps included), or
    copied to the GPU when its float32 copy fits in free GPU memory with
    headroom; otherwise it stays on the host as :class:`HostRows`. A CSR
    ``X`` (from :func:`training_csr`) becomes :class:`SparseRows`, on the
    GPU when it fits there.
    """
    if sp.issparse(X):
        arrays = (X.indptr, X.indices, X.data)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            crow, col, values = (torch.from_numpy(a) for a in arrays)
        resident = _fits_on_device(sum(a.nbytes for a in arrays), device)
        return SparseRows(crow, col, values, X.shape[1], device, resident=resident)
    if _fits_on_device(X.shape[0] * X.shape[1] * 4, device):
        return DeviceRows(as_float32_tensor(X, device))
    return HostRows(as_float32_tensor(X, "cpu"), device)


def batched_outputs(network, output, X, device):
    """Apply ``output(network(x))`` to ``X`` in row batches; returns a float32 numpy array.

    ``X`` is a numpy array or a CSR matrix; only one batch of rows at a
    time is converted to float32 (a CSR batch densified), so X is never
    copied whole. Inference runs in float32 like training, in eval mode;
    a network on another device, or in training mode, is copied, so that
    the caller's is left where and as it is.
    """
    if network.training or next(network.parameters()).device != torch.device(device):
        network = copy.deepcopy(network).to(device).eval()
    step = max(1, min(_PREDICT_ROWS, _PREDICT_ELEMENTS // max(X.shape[1], 1)))
    out = None
    with torch.inference_mode():
        for start in range(0, X.shape[0], step):
            rows = X[start : start + step]
            rows = rows.toarray() if sp.issparse(rows) else rows
            # torch cannot view negative strides (a reversed X, for one).
            batch = as_float32_tensor(np.ascontiguousarray(rows), device)
            values = output(network(batch)).cpu().numpy()
            if out is None:
                out = np.empty((X.shape[0], values.shape[1]), dtype=np.float32)
            out[start : start + len(values)] = values
    return out
