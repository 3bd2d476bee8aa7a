"""Row sources: where the trainer's minibatches come from.

The trainer draws every permutation on the training device and asks a *row
source* for the float32 minibatch ``(len(index), n_features)`` of the rows
``index``, on the training device. Where the data live, and how a minibatch
reaches the device, is the row source's business:

- :class:`DeviceRows`: a dense tensor already on the training device;
  ``rows(index)`` is ``X[index]``, with no host synchronisation;
- :class:`HostRows`: a dense tensor kept in host memory (X does not fit on
  the GPU, or is a memory map); the rows are gathered on the CPU into a
  pinned buffer and copied with ``non_blocking=True``;
- :class:`SparseRows`: a CSR matrix held as torch tensors (on the training
  device when it fits, else on the host); each minibatch is densified with
  torch operations, so the dense matrix never exists.

Every row source has ``device`` (the training device), ``shape``,
``len()``, ``order(permutation)`` and ``rows(index)``. ``order`` turns a
permutation on the training device into the indices ``rows`` takes: the
permutation itself for device-resident data, a host copy of it (one
synchronisation per pass, not per minibatch) for host-resident data. The
trainer slices both alike, so the minibatch of a row source is the same
rows whatever the storage.
"""

import torch


def as_row_source(X):
    """``X`` itself when it is a row source; a tensor becomes :class:`DeviceRows`."""
    return DeviceRows(X) if isinstance(X, torch.Tensor) else X


def _training_device(device):
    """``device`` with its index: 'cuda' means the current CUDA device."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


class DeviceRows:
    """Dense rows already on the training device: ``rows(index)`` is ``X[index]``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), float32
        On the training device; never written to (it may share memory with
        the caller's array).
    """

    def __init__(self, X):
        self.X = X

    @property
    def device(self):
        return self.X.device

    @property
    def shape(self):
        return tuple(self.X.shape)

    def __len__(self):
        return self.X.shape[0]

    def order(self, permutation):
        return permutation

    def rows(self, index):
        return self.X[index]


class _Staging:
    """Pinned host buffers from which minibatches are copied to a CUDA device.

    Two buffers take turns, so the gather of the next minibatch overlaps the
    copy of the previous one; an event recorded after each copy says when
    its buffer may be written again. On the CPU, or where pinned memory is
    not available, minibatches are returned as they are.
    """

    def __init__(self, device):
        self.device = device
        self.cuda = device.type == "cuda"
        self._slots = [None, None]
        self._turn = 0

    def buffer(self, shape):
        """A pinned float32 buffer of ``shape`` that no pending copy reads, or None."""
        if not self.cuda:
            return None
        slot = self._slots[self._turn]
        if slot is not None:
            slot[1].synchronize()
            if tuple(slot[0].shape) == tuple(shape):
                return slot[0]
        try:
            buffer = torch.empty(shape, dtype=torch.float32, pin_memory=True)
        except RuntimeError:
            # No pinned memory (e.g. locked-memory limits): plain copies.
            self.cuda = False
            return None
        self._slots[self._turn] = (buffer, torch.cuda.Event())
        return buffer

    def send(self, batch):
        """``batch`` on the training device; a pinned batch is copied asynchronously."""
        if not self.cuda or not batch.is_pinned():
            return batch.to(self.device)
        out = batch.to(self.device, non_blocking=True)
        buffer, event = self._slots[self._turn]
        event.record(torch.cuda.current_stream(self.device))
        self._turn = 1 - self._turn
        return out


class HostRows:
    """Dense rows in host memory, copied to the training device one minibatch at a time.

    For X that does not fit in the training device's memory. ``order``
    copies each permutation to the host once; ``rows`` gathers the rows on
    the CPU (into a pinned buffer when training on CUDA) and sends them
    with ``non_blocking=True``, so the gather of a minibatch overlaps the
    GPU's work on the previous one.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), float32, on the CPU
        Never written to; it may share memory with a numpy array or memory
        map, of which only the rows of each minibatch are read.
    device : torch.device
        The training device.
    """

    def __init__(self, X, device):
        self.X = X
        self.device = _training_device(device)
        self._staging = _Staging(self.device)

    @property
    def shape(self):
        return tuple(self.X.shape)

    def __len__(self):
        return self.X.shape[0]

    def order(self, permutation):
        return permutation.cpu()

    def rows(self, index):
        index = index.cpu()
        buffer = self._staging.buffer((len(index), self.X.shape[1]))
        if buffer is None:
            batch = torch.index_select(self.X, 0, index)
        else:
            batch = torch.index_select(self.X, 0, index, out=buffer)
        return self._staging.send(batch)


class SparseRows:
    """A CSR matrix as torch tensors; ``rows(index)`` is the dense float32 minibatch.

    Each minibatch is built with torch operations on the tensors' device:
    the entries of the requested rows are gathered and written into a zero
    (batch, n_features) block. On the CPU exactly the rows' entries are
    gathered. On a GPU, where the number of entries of a minibatch would
    cost a host synchronisation, each row is padded to the longest row of
    the matrix instead (``batch x max_row_nnz`` index and value pairs).

    Parameters
    ----------
    crow_indices, col_indices, values : torch.Tensor
        The CSR arrays (``indptr``, ``indices``, ``data``): int32 or int64
        indices, float32 values. Rows must not hold duplicate column
        indices (their order does not matter). On the CPU; they may share
        memory with the caller's arrays and are never written to.
    n_features : int
        Number of columns.
    device : torch.device
        The training device.
    resident : bool, default=True
        Move the tensors to ``device`` (when it fits there); False keeps them
        on the host and densifies minibatches there, sending them as
        :class:`HostRows` does.
    """

    def __init__(self, crow_indices, col_indices, values, n_features, device, resident=True):
        self.device = _training_device(device)
        storage = self.device if resident else torch.device("cpu")
        self.crow_indices = crow_indices.to(storage)
        self.col_indices = col_indices.to(storage)
        self.values = values.to(device=storage, dtype=torch.float32)
        self.n_features = int(n_features)
        counts = crow_indices[1:] - crow_indices[:-1]
        self.max_row_nnz = int(counts.max()) if len(counts) else 0
        self._staging = _Staging(self.device) if storage != self.device else None

    @property
    def shape(self):
        return (len(self), self.n_features)

    def __len__(self):
        return self.crow_indices.shape[0] - 1

    def order(self, permutation):
        return permutation if self._staging is None else permutation.cpu()

    def rows(self, index):
        index = index.to(self.crow_indices.device)
        batch = self._densify(index)
        if self._staging is None:
            return batch
        buffer = self._staging.buffer(tuple(batch.shape))
        if buffer is not None:
            batch = buffer.copy_(batch)
        return self._staging.send(batch)

    def _densify(self, index):
        if self.crow_indices.device.type == "cpu":
            return self._densify_exact(index)
        return self._densify_padded(index)

    def _densify_exact(self, index):
        """Dense rows from exactly their entries (the entry count syncs, free on the CPU)."""
        storage = self.crow_indices.device
        out = torch.zeros(len(index), self.n_features, dtype=torch.float32, device=storage)
        starts = self.crow_indices[index].long()
        counts = self.crow_indices[index + 1].long() - starts
        total = int(counts.sum())
        if total:
            rows = torch.repeat_interleave(torch.arange(len(index), device=storage), counts, output_size=total)
            # Entry j of row r sits at starts[r] + j: the running count minus the row's first entry.
            first = torch.repeat_interleave(counts.cumsum(0) - counts - starts, counts, output_size=total)
            positions = torch.arange(total, device=storage) - first
            out.index_put_((rows, self.col_indices[positions].long()), self.values[positions])
        return out

    def _densify_padded(self, index):
        """Dense rows from their entries padded to the longest row: no host synchronisation."""
        storage = self.crow_indices.device
        n_rows, width = len(index), self.n_features
        # One slot past the block takes the padding: padded entries write 0 there.
        flat = torch.zeros(n_rows * width + 1, dtype=torch.float32, device=storage)
        if self.max_row_nnz and n_rows:
            starts = self.crow_indices[index].long()
            counts = self.crow_indices[index + 1].long() - starts
            offsets = torch.arange(self.max_row_nnz, device=storage)
            inside = offsets[None, :] < counts[:, None]
            # Positions past a row's end are clamped into range, then masked.
            positions = (starts[:, None] + offsets[None, :]).clamp_(max=self.values.shape[0] - 1)
            columns = self.col_indices[positions].long()
            targets = torch.arange(n_rows, device=storage)[:, None] * width + columns
            targets = torch.where(inside, targets, n_rows * width)
            values = torch.where(inside, self.values[positions], 0.0)
            flat.scatter_(0, targets.reshape(-1), values.reshape(-1))
        return flat[: n_rows * width].view(n_rows, width)
