"""The torch core on its own: network, objectives, SAT and the training loop."""

import math

import pytest
import torch

from imsat_sklearn._plan import TrainingPlan
from imsat_sklearn._torch.network import build_network
from imsat_sklearn._torch.objectives import ClusteringObjective
from imsat_sklearn._torch.sat import RPT, VAT
from imsat_sklearn._torch.trainer import Run, Schedule, train


def _network(n_features=5, hidden=(7, 6), n_outputs=3, seed=0):
    return build_network(n_features, hidden, n_outputs, torch.Generator().manual_seed(seed))


def test_initialisation_matches_the_authors_variances():
    network = build_network(400, (1000,), 10, torch.Generator().manual_seed(0))
    hidden_var = network.hidden[0].weight.var().item()
    head_var = network.head.weight.var().item()
    assert hidden_var == pytest.approx(0.1 / 400, rel=0.02)
    assert head_var == pytest.approx(1e-4 / 1000, rel=0.05)
    assert network.hidden[0].bias.abs().sum() == 0 and network.head.bias.abs().sum() == 0
    assert network.norms[0].eps == 2e-5 and network.norms[0].momentum == 0.1


def test_forward_without_update_uses_batch_stats_and_keeps_running_stats():
    network = _network().train()
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(1)) * 3 + 2
    before = {k: v.clone() for k, v in network.state_dict().items()}
    out_frozen = network(x, update_stats=False)
    for key, value in network.state_dict().items():
        assert torch.equal(value, before[key]), key
    out_updating = network(x)
    torch.testing.assert_close(out_frozen, out_updating)
    assert not torch.equal(network.norms[0].running_mean, before["norms.0.running_mean"])


def test_single_sample_batch_does_not_fail():
    network = _network().train()
    out = network(torch.randn(1, 5))
    assert out.shape == (1, 3) and torch.isfinite(out).all()


def test_clustering_information_loss_matches_definition():
    logits = torch.randn(20, 4, generator=torch.Generator().manual_seed(2))
    p = logits.softmax(1)
    loss, parts = ClusteringObjective(mu=4.0).information_loss(logits)
    conditional = -(p * p.log()).sum(1).mean()
    marginal = -(p.mean(0) * p.mean(0).log()).sum()
    torch.testing.assert_close(parts["H(Y|X)"], conditional)
    torch.testing.assert_close(parts["H(Y)"], marginal)
    torch.testing.assert_close(loss, conditional - 4.0 * marginal)


def test_uniform_prior_kl_equals_negative_entropy_up_to_constant():
    logits = torch.randn(20, 4, generator=torch.Generator().manual_seed(3))
    plain, _ = ClusteringObjective(mu=2.0).information_loss(logits)
    log_prior = torch.full((4,), -math.log(4))
    with_prior, _ = ClusteringObjective(mu=2.0, log_prior=log_prior).information_loss(logits)
    torch.testing.assert_close(with_prior, plain + 2.0 * math.log(4))


def test_sat_divergence_is_batch_mean_kl():
    a = torch.randn(8, 3, generator=torch.Generator().manual_seed(4))
    b = torch.randn(8, 3, generator=torch.Generator().manual_seed(5))
    p, q = a.softmax(1), b.softmax(1)
    expected = (p * (p.log() - q.log())).sum(1).mean()
    torch.testing.assert_close(ClusteringObjective(mu=4.0).sat_divergence(a, b), expected)


def _vat_penalty(network, x, radius, seed):
    target = network(x).detach()
    forward = lambda z: network(z, update_stats=False)  # noqa: E731
    objective = ClusteringObjective(mu=4.0)
    return VAT(xi=10.0)(forward, x, target, radius, objective.sat_divergence, torch.Generator().manual_seed(seed))


def test_vat_power_iteration_gradient_does_not_leak_into_parameters():
    network = _network().train()
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(6))
    penalty = _vat_penalty(network, x, torch.full((16,), 0.5), seed=0)
    assert all(p.grad is None for p in network.parameters())
    penalty.backward()
    grads = [p.grad for p in network.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_vat_finds_a_worse_direction_than_random():
    network = _network(hidden=(32,)).train()
    network(torch.randn(64, 5))
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(7))
    radius = torch.full((64,), 0.3)
    target = network(x).detach()
    objective = ClusteringObjective(mu=4.0)
    forward = lambda z: network(z, update_stats=False)  # noqa: E731
    vat = VAT(xi=1e-3)(forward, x, target, radius, objective.sat_divergence, torch.Generator().manual_seed(0))
    rpt = RPT()(forward, x, target, radius, objective.sat_divergence, torch.Generator().manual_seed(0))
    assert vat > 1.5 * rpt


def test_zero_radius_gives_zero_penalty_without_nan():
    network = _network().train()
    x = torch.randn(16, 5)
    penalty = _vat_penalty(network, x, torch.zeros(16), seed=1)
    assert penalty.item() == pytest.approx(0.0, abs=1e-7)


def _blobs(n_per=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    X = torch.cat([c + torch.randn(n_per, 2, generator=g) * 0.5 for c in centres])
    return X, torch.arange(3).repeat_interleave(n_per)


def _plan(X, augmentations, schedule):
    return TrainingPlan(
        rows=X, radius=torch.full((X.shape[0],), 0.5), objective=ClusteringObjective(mu=4.0),
        augmentations=augmentations, lam=0.1, schedule=schedule,
    )


def _train_blobs(n_epochs=30):
    X, _ = _blobs()
    network = _network(n_features=2, hidden=(16,), n_outputs=3)
    plan = _plan(X, [VAT(xi=1.0)], Schedule(batch_size=40, max_epochs=n_epochs, passes_per_epoch=5))
    result = train(plan, network, generator=torch.Generator().manual_seed(0))
    return network, result


def test_training_separates_blobs_and_reports_each_epoch():
    X, y = _blobs()
    network, result = _train_blobs()
    assert result.stop_reason == "max_epochs"
    assert result.n_epochs == 30 and set(result.loss_parts) == {"R_SAT", "H(Y|X)", "H(Y)"}
    assert result.loss_curve[-1] < result.loss_curve[0]
    labels = network(X).argmax(1)
    # Each true blob maps to a single, distinct cluster.
    assert len({tuple(labels[y == k].unique().tolist()) for k in range(3)}) == 3
    assert all(len(labels[y == k].unique()) == 1 for k in range(3))


def test_training_is_bit_identical_for_the_same_generator_seed():
    first, curve_a = _train_blobs(n_epochs=3)
    second, curve_b = _train_blobs(n_epochs=3)
    assert curve_a.loss_curve == curve_b.loss_curve
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_a_run_advanced_in_two_steps_trains_and_stops_as_one_run():
    # n_init="auto" races trainings for a few epochs and lets the kept one go on.
    X, _ = _blobs()
    schedule = Schedule(batch_size=40, max_epochs=8, tol=0.5, n_iter_no_change=3)
    whole, split = (_network(n_features=2, hidden=(16,), n_outputs=3) for _ in range(2))
    once = train(_plan(X, [VAT(xi=1.0)], schedule), whole, generator=torch.Generator().manual_seed(0))
    run = Run(_plan(X, [VAT(xi=1.0)], schedule), split, generator=torch.Generator().manual_seed(0))
    assert run.advance(2).stop_reason == "paused"
    twice = run.advance(8)
    # Epoch 1 has nothing to compare with; epochs 2-4 are quiet. Restarting the
    # stopping rule or the assignments at the pause would stop at 5 or 6.
    assert once.stop_reason == twice.stop_reason == "converged" and twice.n_epochs == 4
    assert twice.loss_curve == once.loss_curve and twice.loss_parts == once.loss_parts
    assert twice.changed_curve[1:] == once.changed_curve[1:]
    for a, b in zip(whole.state_dict().values(), split.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match="this run has ended \\('converged'\\); only a paused run can advance"):
        run.advance(1)


def test_divergence_stops_and_restores_the_last_finite_epoch():
    X, _ = _blobs()
    network = _network(n_features=2, hidden=(16,), n_outputs=3)
    poisoned = {"epoch": 0}

    class PoisonAfterTwoEpochs(VAT):
        def __call__(self, *args, **kwargs):
            penalty = super().__call__(*args, **kwargs)
            return penalty * float("nan") if poisoned["epoch"] >= 2 else penalty

    def on_epoch(epoch, *_):
        poisoned["epoch"] = epoch
        if epoch == 2:
            on_epoch.state = {k: v.clone() for k, v in network.state_dict().items()}

    plan = _plan(X, [PoisonAfterTwoEpochs(xi=1.0)], Schedule(batch_size=40, max_epochs=5))
    result = train(plan, network, generator=torch.Generator().manual_seed(0), on_epoch=on_epoch)
    assert result.stop_reason == "diverged" and result.n_epochs == 2
    for key, value in network.state_dict().items():
        assert torch.equal(value, on_epoch.state[key]), key
    assert torch.isfinite(network(X)).all()


def test_keyboard_interrupt_keeps_last_completed_epoch():
    X, _ = _blobs()
    network = _network(n_features=2, hidden=(16,), n_outputs=3)

    def on_epoch(epoch, *_):
        if epoch == 3:
            raise KeyboardInterrupt

    plan = _plan(X, [VAT(xi=1.0)], Schedule(batch_size=40, max_epochs=10))
    result = train(plan, network, generator=torch.Generator().manual_seed(0), on_epoch=on_epoch)
    assert result.stop_reason == "interrupted" and result.n_epochs == 3
    assert not network.training


def test_saturated_outputs_keep_finite_gradients():
    # A softmax output of exactly 0 once made x log x differentiate to NaN.
    log_prior = torch.log(torch.tensor([0.5, 0.3, 0.2]))
    for objective in (ClusteringObjective(mu=4.0), ClusteringObjective(mu=4.0, log_prior=log_prior)):
        logits = torch.tensor([[0.0, 120.0, 0.0], [0.0, 0.0, 120.0]], requires_grad=True)
        loss, _ = objective.information_loss(logits)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
