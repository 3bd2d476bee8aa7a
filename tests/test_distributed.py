"""Data-parallel training over torch.distributed processes (gloo, CPU).

Two processes, each with its half of every minibatch, must compute what one
process computes on the whole minibatch: the same losses, gradients and
BatchNorm statistics after one update, and the same loss curve and model
after a whole fit launched by torchrun.
"""

import os
import subprocess
import sys
import types

import joblib
import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits

from imsat_sklearn import IMSATClusterer, IMSATHasher
from imsat_sklearn import _plan as plan_module
from imsat_sklearn._plan import TrainingPlan
from imsat_sklearn._radius import kth_neighbor_distance_of
from imsat_sklearn._torch.data import DeviceRows
from imsat_sklearn._torch.parallel import DataParallel, SingleProcess
from imsat_sklearn._torch.network import build_network
from imsat_sklearn._torch.objectives import ClusteringObjective, HashingObjective
from imsat_sklearn._torch.radius import kth_neighbor_distance
from imsat_sklearn._torch.sat import VAT
from imsat_sklearn._torch.trainer import _loss
from imsat_sklearn.distributed import fit_distributed

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="this torch build has no torch.distributed")

WORLD_SIZE = 2
BATCH = 16


def _one_update(parallel, objective, X, radius):
    """Loss parts, averaged gradients and running statistics of one update on rows 0..BATCH-1."""
    network = build_network(X.shape[1], (7, 6), 3, torch.Generator().manual_seed(0)).train()
    plan = TrainingPlan(
        rows=X, radius=radius, objective=objective, augmentations=[VAT(xi=1.0)], lam=0.5, schedule=None
    )
    generator = torch.Generator().manual_seed(1)
    index = parallel.local_rows(torch.arange(BATCH))
    loss, parts, _ = _loss(plan, network, X[index], index, generator=generator, comm=parallel)
    loss.backward()
    parallel.reduce_gradients(network.parameters())
    values = torch.stack([loss.detach(), *(v.detach() for v in parts.values())])
    return {
        "losses": parallel.average(values),
        "gradients": {name: p.grad.clone() for name, p in network.named_parameters()},
        "buffers": {name: b.clone() for name, b in network.named_buffers()},
    }


def _worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        generator = torch.Generator().manual_seed(2)
        X = torch.randn(37, 5, generator=generator) * 2 + 1
        radius = torch.rand(37, generator=generator)
        parallel = DataParallel()
        result = {"rank": rank}
        for name, objective in [("clustering", ClusteringObjective(mu=4.0)), ("hashing", HashingObjective())]:
            result[name] = {
                "single": _one_update(SingleProcess(), objective, X, radius),
                "parallel": _one_update(parallel, objective, X, radius),
            }
        sharded = kth_neighbor_distance_of(X.numpy(), DeviceRows(X), 3, parallel)
        result["radius"] = (sharded, kth_neighbor_distance(X, 3))
        result["transform_seed"] = parallel.transform_generator(generator).initial_seed()
        try:
            parallel.local_rows(torch.arange(15))
        except ValueError as error:
            result["odd_batch_error"] = str(error)
        unseeded = IMSATHasher(
            n_bits=3, hidden_layer_sizes=(8,), batch_size=16, max_iter=2, device="cpu"
        )
        fit_distributed(unseeded, X.numpy())
        result["unseeded"] = (unseeded.random_state, torch.from_numpy(unseeded.predict_proba(X.numpy())))
        result["race"] = _race_with_disagreeing_picks(rank, X.numpy())
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _race_with_disagreeing_picks(rank, X):
    """A forced n_init="auto" race whose second process would keep another training."""
    # The race starts from 5,000 samples with 2,000 updates: shrunk to 2 epochs on 37 rows.
    plan_module._AUTO_N_INIT_SAMPLES, plan_module._AUTO_RACE_UPDATES = 1, 4
    offered = []

    def pick(self, objective, outputs):
        offered.append(len(outputs))
        return (IMSATClusterer._pick(self, objective, outputs) + rank) % len(outputs)

    estimator = IMSATClusterer(
        n_clusters=3, hidden_layer_sizes=(8,), batch_size=16, max_iter=4, random_state=0, device="cpu"
    )
    estimator._pick = types.MethodType(pick, estimator)
    fit_distributed(estimator, X)
    return offered, estimator.n_iter_, torch.from_numpy(estimator.predict_proba(X))


@pytest.fixture(scope="module")
def worker_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(str(out / "init"), str(out)), nprocs=WORLD_SIZE)
    return [torch.load(out / f"rank{r}.pt") for r in range(WORLD_SIZE)]


@pytest.mark.parametrize("objective", ["clustering", "hashing"])
def test_one_update_on_two_processes_equals_one_process(worker_results, objective):
    for result in worker_results:
        single, parallel = result[objective]["single"], result[objective]["parallel"]
        # Loss, R_SAT, H(Y|X) and the marginal (and pairwise) terms of the whole minibatch.
        # The parts are of order 1-5 nats, so float32 rounding is ~1e-6 in absolute terms.
        torch.testing.assert_close(parallel["losses"], single["losses"], rtol=1e-5, atol=1e-6)
        for kind in ("gradients", "buffers"):
            for name, value in single[kind].items():
                torch.testing.assert_close(parallel[kind][name], value, rtol=1e-5, atol=1e-7, msg=name)
    # Averaged gradients are the same numbers in every process, so parameters stay identical.
    first, second = (r[objective]["parallel"]["gradients"] for r in worker_results)
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_sharded_radius_is_exactly_the_full_radius(worker_results):
    for result in worker_results:
        sharded, full = result["radius"]
        assert torch.equal(sharded, full)


def test_each_process_transforms_with_its_own_generator(worker_results):
    seeds = {result["transform_seed"] for result in worker_results}
    assert len(seeds) == WORLD_SIZE


def test_unseeded_fit_trains_the_same_model_in_every_process(worker_results):
    (state_0, proba_0), (state_1, proba_1) = (r["unseeded"] for r in worker_results)
    assert state_0 is None and state_1 is None
    assert torch.equal(proba_0, proba_1)


def test_a_race_keeps_the_first_process_choice_in_every_process(worker_results):
    # The second process's pick is shifted by one: without the first process's
    # choice it would go on with another network and the models would differ.
    (offered_0, n_iter_0, proba_0), (offered_1, n_iter_1, proba_1) = (r["race"] for r in worker_results)
    assert offered_0 == offered_1 == [3]
    assert n_iter_0 == n_iter_1 == 4
    assert torch.equal(proba_0, proba_1)


def test_uneven_minibatch_split_is_an_error_naming_batch_size(worker_results):
    message = worker_results[0]["odd_batch_error"]
    assert "15 rows" in message and "batch_size must be a multiple of 2" in message


def test_fit_distributed_rejects_other_estimators():
    with pytest.raises(TypeError, match="IMSATClusterer or IMSATHasher"):
        fit_distributed(object(), np.zeros((4, 2)))


# ---- whole fits launched by torchrun -----------------------------------------------------

SMALL = dict(hidden_layer_sizes=(32,), random_state=0, device="cpu")


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data[:400] / 16).astype(np.float32)


def _torchrun_fit(estimator, X, tmp_path):
    """Fit with `torchrun --nproc_per_node=2 -m imsat_sklearn.distributed`; return the saved model."""
    joblib.dump(estimator, tmp_path / "estimator.joblib")
    np.save(tmp_path / "X.npy", X)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD_SIZE}",
        "-m", "imsat_sklearn.distributed",
        str(tmp_path / "estimator.joblib"), str(tmp_path / "X.npy"), str(tmp_path / "fitted.joblib"),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return joblib.load(tmp_path / "fitted.joblib")


def test_torchrun_clusterer_follows_the_single_process_loss_curve(digits, tmp_path):
    # The paper's fixed VAT step: with xi="auto" (a step of 8 radii, about 3 on
    # these digits) the training amplifies rounding faster, and the curves part
    # by 4e-5 at epoch 10 even with one fixed eps; the hasher's test runs "auto".
    estimator = IMSATClusterer(n_clusters=10, n_init=2, max_iter=10, batch_size=50, xi=10.0, **SMALL)
    distributed = _torchrun_fit(estimator, digits, tmp_path)
    single = estimator.fit(digits)
    np.testing.assert_allclose(distributed.loss_curve_, single.loss_curve_, rtol=1e-5)
    for name, values in single.loss_parts_.items():
        np.testing.assert_allclose(distributed.loss_parts_[name], values, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(distributed.predict(digits), single.predict(digits))
    np.testing.assert_array_equal(distributed.labels_, single.labels_)
    # Hidden biases feed BatchNorm, so their gradient is 0 up to rounding, which
    # Adam turns into steps of up to learning_rate; the running means follow them
    # with a lag, so eval-mode outputs differ by ~1e-3 while the losses agree to 1e-6.
    np.testing.assert_allclose(distributed.predict_proba(digits), single.predict_proba(digits), atol=5e-3)


def test_torchrun_hasher_follows_the_single_process_loss_curve(digits, tmp_path):
    # Hashing dynamics amplify rounding more than clustering (a 1-ulp change of X
    # moves the curve by 1e-6 within 3 epochs), hence fewer epochs and an absolute tolerance.
    estimator = IMSATHasher(n_bits=8, lam=1.0, max_iter=3, batch_size=100, xi="auto", **SMALL)
    distributed = _torchrun_fit(estimator, digits, tmp_path)
    single = estimator.fit(digits)
    assert single.loss_curve_[-1] < single.loss_curve_[0] - 0.01
    np.testing.assert_allclose(distributed.loss_curve_, single.loss_curve_, rtol=0, atol=1e-5)
    # As for the clusterer, eval-mode outputs carry the rounding walk of the hidden biases.
    np.testing.assert_allclose(distributed.predict_proba(digits), single.predict_proba(digits), atol=5e-3)
