"""The trainer's data path: row sources, where they are chosen, and batched prediction.

Every row source must hand the trainer exactly the rows a device-resident
tensor gives, so that the storage of X (device, host, sparse) never changes
the result of a fit.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn import _device
from imsat_sklearn._device import row_source
from imsat_sklearn._plan import TrainingPlan
from imsat_sklearn._torch.data import DeviceRows, HostRows, SparseRows, as_row_source
from imsat_sklearn._torch.network import build_network
from imsat_sklearn._torch.objectives import ClusteringObjective
from imsat_sklearn._torch.radius import kth_neighbor_distance, kth_neighbor_distance_streamed
from imsat_sklearn._torch.sat import VAT
from imsat_sklearn._torch.trainer import Schedule, train

CPU = torch.device("cpu")
SMALL = dict(hidden_layer_sizes=(32,), max_iter=2, tol=None, batch_size=50, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data[:300] / 16).astype(np.float32)


def _random_csr(n_rows, n_cols, density, seed, index_dtype=np.int32):
    """A float32 CSR matrix with empty rows and unsorted (shuffled) indices within rows."""
    rng = np.random.RandomState(seed)
    dense = rng.rand(n_rows, n_cols).astype(np.float32) * (rng.rand(n_rows, n_cols) < density)
    dense[::7] = 0  # some all-zero rows
    X = sp.csr_matrix(dense)
    for row in range(n_rows):
        start, stop = X.indptr[row], X.indptr[row + 1]
        order = rng.permutation(stop - start)
        X.indices[start:stop] = X.indices[start:stop][order]
        X.data[start:stop] = X.data[start:stop][order]
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    return X, dense


def _sparse_rows(X, resident=True):
    return SparseRows(
        torch.from_numpy(X.indptr), torch.from_numpy(X.indices), torch.from_numpy(X.data),
        X.shape[1], CPU, resident=resident,
    )


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("resident", [True, False])
def test_sparse_rows_are_exactly_the_dense_rows(index_dtype, resident):
    X, dense = _random_csr(60, 25, 0.3, seed=0, index_dtype=index_dtype)
    source = _sparse_rows(X, resident)
    assert len(source) == 60 and source.shape == (60, 25)
    # Repeated rows, empty rows, a single row and the whole permutation.
    for index in [torch.tensor([3, 3, 7, 0, 59]), torch.tensor([14]), torch.randperm(60)]:
        rows = source.rows(source.order(index))
        assert rows.dtype == torch.float32 and rows.is_contiguous()
        assert torch.equal(rows, torch.from_numpy(dense[index.numpy()]))
        # The padded gather (GPU storage, no host synchronisation) gives the same block.
        assert torch.equal(source._densify_padded(index), rows)


def test_sparse_rows_of_an_all_zero_matrix():
    X = sp.csr_matrix((5, 4), dtype=np.float32)
    rows = _sparse_rows(X).rows(torch.tensor([0, 4]))
    assert torch.equal(rows, torch.zeros(2, 4))


def test_host_rows_are_exactly_the_device_rows(digits):
    X = torch.from_numpy(digits)
    host, device = HostRows(X, CPU), DeviceRows(X)
    index = torch.randperm(len(X))[:50]
    assert torch.equal(host.rows(host.order(index)), device.rows(device.order(index)))


def _train(source, radius, seed=0):
    network = build_network(source.shape[1], (16,), 3, torch.Generator().manual_seed(0))
    plan = TrainingPlan(
        rows=source, radius=radius, objective=ClusteringObjective(mu=4.0), augmentations=[VAT(xi=1.0)],
        lam=0.1, schedule=Schedule(batch_size=20, max_epochs=3, passes_per_epoch=2),
    )
    result = train(plan, network, generator=torch.Generator().manual_seed(seed))
    return network, result


def test_trainer_gives_the_same_run_from_every_row_source():
    X, dense = _random_csr(100, 12, 0.5, seed=1)
    radius = torch.full((100,), 0.2)
    reference_network, reference = _train(as_row_source(torch.from_numpy(dense)), radius)
    for source in [HostRows(torch.from_numpy(dense), CPU), _sparse_rows(X), _sparse_rows(X, resident=False)]:
        network, result = _train(source, radius)
        assert result.loss_curve == reference.loss_curve, type(source).__name__
        for a, b in zip(network.state_dict().values(), reference_network.state_dict().values()):
            assert torch.equal(a, b)


@pytest.mark.parametrize("make", [lambda: IMSATClusterer(n_clusters=4, **SMALL), lambda: IMSATHasher(n_bits=4, **SMALL)])
def test_host_path_fits_exactly_as_the_device_resident_path(make, digits, monkeypatch):
    # k-NN radius included: on the host path it is the streamed search.
    resident = make().fit(digits)
    monkeypatch.setattr(_device, "_fits_on_device", lambda nbytes, device: False)
    assert isinstance(row_source(digits, CPU), HostRows)
    host = make().fit(digits)
    assert host.loss_curve_ == resident.loss_curve_
    np.testing.assert_array_equal(host.predict_proba(digits), resident.predict_proba(digits))


@pytest.mark.parametrize("block_rows", [None, 1, 7, 64, 1000])
def test_streamed_radius_is_exactly_the_in_place_radius(block_rows):
    X = torch.from_numpy(np.random.RandomState(0).rand(150, 9).astype(np.float32))
    X[10] = X[11]  # a duplicate: distance 0 is a neighbour, the row itself is not
    expected = kth_neighbor_distance(X, 5)
    assert torch.equal(kth_neighbor_distance_streamed(X, 5, CPU, block_rows=block_rows), expected)
    rows = torch.tensor([149, 0, 10, 77])
    assert torch.equal(kth_neighbor_distance_streamed(X, 5, CPU, rows=rows, block_rows=block_rows), expected[rows])


def test_dense_cpu_rows_share_memory_with_float32_input(digits):
    source = row_source(digits, CPU)
    assert isinstance(source, DeviceRows) and np.shares_memory(source.X.numpy(), digits)


def test_gpu_placement_follows_free_memory(monkeypatch):
    free = 10 << 30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 80 << 30))
    cuda = torch.device("cuda")
    assert _device._fits_on_device(6 << 30, cuda)
    assert not _device._fits_on_device(8 << 30, cuda)  # would leave less than the headroom
    assert _device._fits_on_device(1 << 40, CPU)


def test_memmap_input_is_used_in_place(digits, tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, digits)
    X = np.load(path, mmap_mode="r")
    source = row_source(X, CPU)
    assert np.shares_memory(source.X.numpy(), X)
    model = IMSATClusterer(n_clusters=4, **SMALL).fit(X)
    np.testing.assert_array_equal(np.load(path), digits)
    in_memory = IMSATClusterer(n_clusters=4, **SMALL).fit(digits)
    assert model.loss_curve_ == in_memory.loss_curve_
    np.testing.assert_array_equal(model.predict_proba(X), in_memory.predict_proba(digits))


@pytest.mark.parametrize("sparse", [False, True])
def test_batched_prediction_equals_unbatched(digits, monkeypatch, sparse):
    model = IMSATClusterer(n_clusters=4, **SMALL).fit(digits)
    X = sp.csr_matrix(digits) if sparse else digits
    whole, labels = model.predict_proba(X), model.predict(X)
    monkeypatch.setattr(_device, "_PREDICT_ROWS", 7)
    # float32 inference: a batch's shape can move the last bits of a product.
    np.testing.assert_allclose(model.predict_proba(X), whole, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.predict_proba(digits), whole, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(model.predict(X), labels)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_host_and_sparse_rows_on_cuda_match_device_rows(digits):
    X = torch.from_numpy(digits)
    cuda = torch.device("cuda")
    device = DeviceRows(X.to(cuda))
    index = torch.randperm(len(X), device=cuda)[:64]
    expected = device.rows(index)
    host = HostRows(X, cuda)
    csr = sp.csr_matrix(digits)
    for source in [host, _sparse_rows_on(csr, cuda, True), _sparse_rows_on(csr, cuda, False)]:
        for _ in range(3):  # the pinned buffers take turns
            rows = source.rows(source.order(index))
            assert rows.device.type == "cuda" and torch.equal(rows, expected)
    radius = kth_neighbor_distance_streamed(X, 10, cuda, block_rows=100)
    torch.testing.assert_close(radius, kth_neighbor_distance(X.to(cuda), 10), rtol=1e-5, atol=1e-6)


def _sparse_rows_on(X, device, resident):
    return SparseRows(
        torch.from_numpy(X.indptr), torch.from_numpy(X.indices), torch.from_numpy(X.data),
        X.shape[1], device, resident=resident,
    )
