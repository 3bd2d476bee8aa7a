"""IMSAT objectives: the information term and the SAT divergence of each task.

An objective knows its output distribution (softmax over K clusters, or M
independent Bernoulli bits), the divergence used by self-augmented training,
the information term to minimise, and how to estimate the mutual information
on a whole data set. All losses are means over the minibatch, in nats.

Reference: Hu et al., "Learning Discrete Representations via Information
Maximizing Self-Augmented Training", ICML 2017, Sections 3.2-3.3.
"""

import torch
from torch.nn import functional as F


def _entropy(p, dim=-1):
    return -_xlogx(p).sum(dim)


def _xlogx(p):
    # x log x with a finite gradient at 0: xlogy(p, p) differentiates to p / p
    # there, which is NaN once a sigmoid saturates to exactly 0 or 1.
    return p * _safe_log(p)


def _safe_log(p):
    return torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))


def _local_mean(mean):
    return mean


def _bernoulli_entropy(p):
    return -(_xlogx(p) + _xlogx(1 - p))


def _bernoulli_entropy_from_logits(logits):
    # H = softplus(l) - l * sigmoid(l): exact, with finite gradients however large |l| is.
    return F.softplus(logits) - logits * torch.sigmoid(logits)


class ClusteringObjective:
    """Softmax clustering: minimise H(Y|X) - mu * H(Y), or a KL to a prior.

    With ``log_prior`` given (log of a cluster-size prior q), the marginal term
    becomes mu * KL(p_hat || q), which equals -mu * H(Y) up to a constant when
    q is uniform.

    ``reduce_mean``, an argument of :meth:`information_loss`, maps a mean
    over this process's rows of the minibatch to the mean over the whole
    minibatch (identity on one process; an all-reduce in data-parallel
    training).
    """

    def __init__(self, mu, log_prior=None):
        self.mu = mu
        self.log_prior = log_prior

    def sat_divergence(self, target_logits, logits):
        """Mean over the batch of KL(p(y|x) || p(y|T(x))); target is detached."""
        target_log_p = F.log_softmax(target_logits, dim=1)
        log_p = F.log_softmax(logits, dim=1)
        return F.kl_div(log_p, target_log_p, reduction="batchmean", log_target=True)

    def information_loss(self, logits, reduce_mean=_local_mean):
        """Return (loss, parts) with loss = H(Y|X) - mu * H(Y) on the batch."""
        p = F.softmax(logits, dim=1)
        conditional = _entropy(p).mean()
        marginal_p = reduce_mean(p.mean(0))
        marginal = _entropy(marginal_p)
        if self.log_prior is None:
            loss = conditional - self.mu * marginal
        else:
            kl = (_xlogx(marginal_p) - marginal_p * self.log_prior).sum()
            loss = conditional + self.mu * kl
        return loss, {"H(Y|X)": conditional, "H(Y)": marginal}

    @staticmethod
    def mutual_information(probs):
        """I(X;Y) = H(mean p) - mean H(p) in nats, over all rows of ``probs``."""
        return _entropy(probs.mean(0)) - _entropy(probs).mean()

    @staticmethod
    def output(logits):
        return F.softmax(logits, dim=1)

    @staticmethod
    def assign(logits):
        """The cluster of each row (int64), whose changes the stopping rule counts."""
        return logits.argmax(1)


# The paper's codes have 16 bits, so each bit is compared with 15 others.
_PAPER_OTHER_BITS = 15


def pairwise_weight(n_bits):
    """Weight of sum_{m!=l} I(Y_m;Y_l) in the hashing loss: min(1, 15 / (n_bits - 1)).

    For a given dependence between bits, the sum over ordered pairs grows as
    n_bits**2 and the entropies as n_bits: unweighted, each bit's pressure
    towards independence grows with the number of other bits. Past the
    paper's 16 bits it wins over the coherence of the code (codes of one
    class spread apart and retrieval gets worse with more bits), so there
    each bit is charged 15 times its mean mutual information with the
    others, its share at 16 bits. Up to 16 bits the weight is exactly 1, the
    authors' objective.
    """
    return min(1.0, _PAPER_OTHER_BITS / (n_bits - 1)) if n_bits > 1 else 1.0


class HashingObjective:
    """Independent Bernoulli bits: minimise H(Y|X) - sum_m H(Y_m) + w * sum_{m!=l} I(Y_m;Y_l).

    ``w`` is ``weight``, or when it is None :func:`pairwise_weight` of the
    code length (1 up to 16 bits; ``weight=1`` is the authors' objective at
    any length). ``reduce_mean`` is as in :class:`ClusteringObjective`: the
    bit marginals and the pairwise joints are means over the whole minibatch.
    """

    def __init__(self, weight=None):
        self.weight = weight

    def _weight(self, n_bits):
        return pairwise_weight(n_bits) if self.weight is None else self.weight

    def sat_divergence(self, target_logits, logits):
        """Mean over the batch of the Bernoulli KL summed over bits; target detached."""
        log_p1, log_p0 = F.logsigmoid(target_logits), F.logsigmoid(-target_logits)
        log_q1, log_q0 = F.logsigmoid(logits), F.logsigmoid(-logits)
        p1 = torch.sigmoid(target_logits)
        kl = p1 * (log_p1 - log_q1) + (1 - p1) * (log_p0 - log_q0)
        return kl.sum(1).mean()

    def information_loss(self, logits, reduce_mean=_local_mean):
        """Return (loss, parts) for the hashing information term on the batch."""
        p = torch.sigmoid(logits)
        conditional = _bernoulli_entropy_from_logits(logits).sum(1).mean()
        marginal = _bernoulli_entropy(reduce_mean(p.mean(0))).sum()
        pairwise = pairwise_mutual_information(p, reduce_mean)
        loss = conditional - marginal + self._weight(p.shape[1]) * pairwise
        return loss, {"H(Y|X)": conditional, "sum H(Y_m)": marginal, "sum I(Y_m;Y_l)": pairwise}

    def mutual_information(self, probs):
        """sum_m H(Y_m) - H(Y|X) - w * sum_{m!=l} I(Y_m;Y_l) over all rows of ``probs``."""
        conditional = _bernoulli_entropy(probs).sum(1).mean()
        marginal = _bernoulli_entropy(probs.mean(0)).sum()
        pairwise = pairwise_mutual_information(probs)
        return marginal - conditional - self._weight(probs.shape[1]) * pairwise

    @staticmethod
    def output(logits):
        # Not torch.sigmoid: on the CPU its result for one value can change in the
        # last bit with the value's position in the tensor, so predict_proba would
        # depend on the order of the rows. exp(-x) = inf gives 0, never NaN.
        return 1 / (1 + torch.exp(-logits))

    @staticmethod
    def assign(logits):
        """The code bits of each row (int8 0/1), whose changes the stopping rule counts."""
        return (logits > 0).to(torch.int8)


def pairwise_mutual_information(p, reduce_mean=_local_mean):
    """Sum over ordered pairs m != l of I(Y_m; Y_l) from bit probabilities ``p`` (n, M).

    The 2x2 joint of bits m and l is the batch mean of products of their
    probabilities and complements; all pairs come from four M x M matrix products.
    ``reduce_mean`` turns means over the rows of ``p`` into means over a larger
    batch split over processes (see :class:`ClusteringObjective`).
    """
    n = p.shape[0]
    q = 1 - p
    joints = reduce_mean(torch.stack([p.T @ p, p.T @ q, q.T @ p, q.T @ q]) / n)
    marginal = reduce_mean(p.mean(0))
    marginals = torch.stack([marginal, 1 - marginal])
    products = torch.stack(
        [torch.outer(marginals[a], marginals[b]) for a in (0, 1) for b in (0, 1)]
    )
    terms = _xlogx(joints) - joints * _safe_log(products)
    mi = terms.sum(0)
    return mi.sum() - mi.diagonal().sum()
