"""Device selection and host/device data movement for the estimators."""

import copy
import warnings

import numpy as np
import torch

# Rows per forward pass at prediction time: bounds memory at about
# _PREDICT_ROWS x widest hidden layer floats, whatever the size of X.
_PREDICT_ROWS = 8192


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


def batched_outputs(network, output, X, device):
    """Apply ``output(network(x))`` to ``X`` in row batches; returns a float32 numpy array.

    Inference runs in float64: a float32 matrix product can round a row
    differently depending on where the row sits in the batch (threads, edge
    kernels), and predictions must not depend on the order of the samples.
    """
    network = copy.deepcopy(network).to(device=device, dtype=torch.float64).eval()
    parts = []
    with torch.inference_mode():
        for start in range(0, X.shape[0], _PREDICT_ROWS):
            batch = torch.from_numpy(np.asarray(X[start : start + _PREDICT_ROWS], dtype=np.float64))
            parts.append(output(network(batch.to(device))).cpu().numpy().astype(np.float32))
    return np.concatenate(parts)
