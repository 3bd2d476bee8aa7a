"""IMSATClusterer: clustering by Information Maximizing Self-Augmented Training."""

import itertools
import numbers

import numpy as np
import torch
from scipy.stats import entropy
from sklearn.base import ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.metrics import adjusted_rand_score
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseIMSAT
from ._docstrings import compose, documented
from ._device import batched_outputs
from ._plan import resolve_eps_scale
from ._torch.objectives import ClusteringObjective


# A fit is reported as collapsed when the entropy of its cluster sizes is
# below this fraction of the entropy the prior allows (log(n_clusters) for
# equal sizes); see the user guide, "Troubleshooting", for the measurements.
_COLLAPSE_ENTROPY_FRACTION = 0.5


@compose
class IMSATClusterer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseIMSAT):
    """Clustering with IMSAT (Information Maximizing Self-Augmented Training).

    A neural network maps each sample to a distribution over ``n_clusters``
    clusters. Training maximises the mutual information I(X;Y) = H(Y) - H(Y|X)
    between samples and cluster assignments while self-augmented training
    (SAT) keeps the prediction on an augmented sample close to the prediction
    on the sample. Each minibatch minimises::

        R_SAT + lam * (H(Y|X) - mu * H(Y))

    where H(Y) is the entropy of the minibatch mean of the softmax outputs
    and H(Y|X) the mean per-sample entropy. With ``augmentation='vat'`` the
    augmented sample is the virtual adversarial point at radius ``eps_i``.
    With a cluster-size ``prior`` q, ``-mu * H(Y)`` becomes
    ``mu * KL(p_hat(y) || q(y))``, p_hat being the same minibatch mean.

    Parameters
    ----------
    n_clusters : int, default=10
        Number of clusters K (>= 1), the width of the softmax output.
    hidden_layer_sizes : "auto" or tuple of int, default="auto"
        Widths of the hidden layers; each is Linear -> BatchNorm1d
        (eps=2e-5, momentum=0.1) -> ReLU. ``()`` gives linear IMSAT (a
        linear map followed by the softmax). "auto" sizes two equal layers
        from the number of training samples n: the paper's (1200, 1200)
        from n = 24,000 up, ``1200 * n // 24000`` units below (at least
        128); e.g. (128, 128) for 1,797 digits, (500, 500) for 10,000
        MNIST images. A smaller network costs much less per update on small
        data and was as accurate there (see the user guide, "Parameters").
        ``partial_fit`` cannot know the size of the stream from its first
        chunk and takes (1200, 1200).
    ${lam}
    mu : float, default=4.0
        Weight (>= 0) of the marginal term against H(Y|X); larger values push
        the cluster sizes harder towards equal sizes (or towards ``prior``).
    prior : array-like of shape (n_clusters,) or None, default=None
        Expected fraction of the samples in each cluster: positive numbers
        summing to 1 (checked at fit, to within 1e-5). Cluster k is pushed
        towards the size ``prior[k]``. None means equal sizes, the marginal
        entropy term of the paper.
    augmentation : {'vat', 'rpt'}, callable or list, default='vat'
        Self-augmentation, i.e. the invariance to impose. 'vat' uses the
        virtual adversarial perturbation (one power iteration), 'rpt' a
        random direction of the same per-sample radius. A callable
        ``T(X, generator)`` maps a float32 torch tensor batch (n, n_features)
        on the training device to a transformed batch of the same shape,
        dtype and device, drawing its randomness from the given
        ``torch.Generator``; its penalty is KL(p(y|x) || p(y|T(x))) with
        p(y|x) fixed. See :mod:`imsat_sklearn.augment`, e.g.
        ``RandomAffine`` for images. A list of these sums their penalties,
        e.g. ``['vat', RandomAffine((21, 21))]``; ``Compose([RandomAffine(
        (21, 21)), 'vat'])`` is one penalty, VAT at the distorted point
        (on Omniglot far better than the sum; see
        :class:`~imsat_sklearn.augment.Compose`). Callables must be
        picklable and deep-copyable for pickling and ``clone``: use class
        instances, not lambdas.
    ${xi_auto}
    ${eps}
    n_neighbors : int, default=10
        Which nearest neighbour (>= 1) sets the radius when ``eps=None``.
        Clipped to ``n_samples - 1`` with a warning. The paper states the
        10th neighbour; the authors' code used the 11th (an off-by-one). We
        use ``n_neighbors`` exactly as given, so ``n_neighbors=11``
        reproduces the authors' code.
    ${eps_scale_auto}
    batch_size : int or "auto", default="auto"
        Minibatch size (>= 2; 1 raises a ValueError, as the objective of a
        one-sample minibatch is degenerate). An int larger than
        ``n_samples`` is clipped to it with a warning. H(Y) is estimated on
        each minibatch, so a ``batch_size`` below ``n_clusters`` warns;
        several times ``n_clusters`` works best (see the user guide,
        "Parameters"). "auto" takes the paper's 250 from n = 24,000 training
        samples up (and for ``partial_fit``); below, ``max(100, 10 *
        n_clusters)``, at most 250 and at most n: 100 for the digits. With
        ``fit_distributed`` it is rounded down to a multiple of the number of
        processes. On the digits minibatches of 100 gave a higher mean
        accuracy and fewer poor seeds than 250 (the user guide,
        "Parameters", has the figures).
    ${max_iter}
    tol : float or None, default=0.01
        Stopping tolerance in [0, 1]. After every epoch, the fraction of the
        samples visited whose cluster (the argmax of the network's output
        in that epoch's pass) changed since their previous visit is
        compared with ``tol``; once it is at most ``tol`` for
        ``n_iter_no_change`` epochs in a row, training has converged and
        stops, as KMeans stops when its labels settle. The test uses the
        outputs that training computes anyway and costs nothing. ``None``
        always runs ``max_iter`` epochs (the paper's fixed schedule).
    ${n_iter_no_change_to_device}
    n_init : int or "auto", default="auto"
        Number of trainings (>= 1) from different random initialisations.
        From 3 trainings on, the one whose training-set clusters agree most
        with the others' (highest mean adjusted Rand index) is kept, ties
        going to the highest mutual information estimate (``score``); with
        2, the highest estimate. No labels are used. For an integer, cost
        grows linearly. "auto" trains 5 networks on fewer than 5,000
        samples, where one training costs seconds. From 5,000 samples it
        races 3: each trains for 2,000 updates (whole epochs; 20 on 10,000
        samples in the default minibatches of 100), the one that agrees
        most is kept and only it trains on, so the fit costs one training
        and two short ones. ``n_iter_`` and ``loss_curve_`` then count the
        kept training's epochs, its race included. A poor training merges or
        splits clusters that the others do not, which agreement sees and
        the estimate often does not: on the digits (draws of 5 from 40
        single trainings, one thread) the kept one reaches a mean ACC of
        0.897 with agreement against 0.888 with the estimate (one training:
        0.866), and falls below 0.82 in 0.4% of draws against 2.6% (one
        training: 5 of 40). On a 10,000-image MNIST subset (seeds 0-4, 2
        threads, ``eps_scale=0.25``) the race gave 0.892 (0.866-0.916) in
        68-92 s per fit, one training 0.875 (0.799-0.952) in 62-148 s.
    ${warm_start_random_state_verbose}

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,), dtype int64
        Cluster of each training sample (argmax of ``predict_proba``).
    cluster_sizes_ : ndarray of shape (n_clusters,), dtype int64
        Number of training samples in each cluster,
        ``np.bincount(labels_, minlength=n_clusters)``. Empty clusters, or
        sizes whose entropy is below half of what ``prior`` allows
        (log(n_clusters) for equal sizes), mean that the fit failed; a
        ``ConvergenceWarning`` then says so.
    ${n_iter_loss_curve}
    loss_parts_ : dict of str -> ndarray of shape (`n_iter_`,)
        Per-epoch means of 'R_SAT', 'H(Y|X)' and 'H(Y)' (nats).
    network_ : torch.nn.Module
        The trained network (its head gives the logits).
    ${features_in}

    See Also
    --------
    sklearn.cluster.KMeans : Centroid-based clustering.

    ${notes}

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama.
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training". ICML 2017, arXiv:1702.08720. Sections 3.1
       (SAT), 3.2 (clustering objective) and 4.1 (settings).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from imsat_sklearn import IMSATClusterer
    >>> X, _ = load_digits(return_X_y=True)
    >>> model = IMSATClusterer(n_clusters=10, random_state=0).fit(X / 16)
    >>> model.labels_.shape
    (1797,)
    >>> model.predict_proba(X[:2] / 16).shape
    (2, 10)
    """

    _parameter_constraints = {
        **BaseIMSAT._parameter_constraints,
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "mu": [Interval(numbers.Real, 0, None, closed="left")],
        "prior": [None, "array-like"],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters=10,
        *,
        hidden_layer_sizes="auto",
        lam=0.1,
        mu=4.0,
        prior=None,
        augmentation="vat",
        xi="auto",
        eps=None,
        n_neighbors=10,
        eps_scale="auto",
        batch_size="auto",
        max_iter=200,
        tol=0.01,
        n_iter_no_change=10,
        min_updates="deprecated",
        learning_rate=0.002,
        device="auto",
        n_init="auto",
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.hidden_layer_sizes = hidden_layer_sizes
        self.lam = lam
        self.mu = mu
        self.prior = prior
        self.augmentation = augmentation
        self.xi = xi
        self.eps = eps
        self.n_neighbors = n_neighbors
        self.eps_scale = eps_scale
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.min_updates = min_updates
        self.learning_rate = learning_rate
        self.device = device
        self.n_init = n_init
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    _n_outputs_param = "n_clusters"

    # Every cluster needs a sample.
    _one_sample_per_output = True

    _objective_class = ClusteringObjective

    def _build_objective(self, device):
        return ClusteringObjective(mu=self.mu, log_prior=self._log_prior(device))

    def _log_prior(self, device):
        """Log of the validated ``prior`` on ``device``, or None for equal sizes."""
        if self.prior is None:
            return None
        try:
            prior = np.asarray(self.prior, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"prior must be an array of numbers, got {self.prior!r}.") from None
        if prior.shape != (self.n_clusters,):
            raise ValueError(
                f"prior must have shape (n_clusters,) = ({self.n_clusters},), got shape {prior.shape}."
            )
        if not (np.all(np.isfinite(prior)) and np.all(prior > 0)):
            raise ValueError(
                "prior must hold positive, finite cluster fractions (a zero makes the KL to the "
                f"prior infinite; use fewer clusters instead), got {prior.tolist()}."
            )
        if abs(prior.sum() - 1) > 1e-5:
            raise ValueError(f"prior must sum to 1, got a sum of {prior.sum():.6g}.")
        log_prior = torch.from_numpy(np.log(prior / prior.sum()).astype(np.float32))
        return log_prior.to(device)

    def _fitted_extras(self, network, X, device):
        # X is the validated training array: a second validation would drop the
        # feature names of a DataFrame and warn about them.
        probs = batched_outputs(network, ClusteringObjective.output, X, device)
        labels = probs.argmax(axis=1).astype(np.int64)
        sizes = np.bincount(labels, minlength=self.n_clusters).astype(np.int64)
        return {"labels_": labels, "cluster_sizes_": sizes}

    def _agreement(self, outputs):
        # The training that agrees most with the others is kept: on the
        # digits the information estimate ranks trainings poorly, while a poor
        # training merges or splits clusters that the others do not.
        labels = [probs.argmax(axis=1) for probs in outputs]
        # The index is symmetric: each pair is scored once.
        pairs = np.ones((len(labels), len(labels)))
        for i, j in itertools.combinations(range(len(labels)), 2):
            pairs[i, j] = pairs[j, i] = adjusted_rand_score(labels[i], labels[j])
        return [np.mean([pairs[i, j] for j in range(len(labels)) if j != i]) for i in range(len(labels))]

    def _small_batch_problem(self, batch_size):
        if batch_size >= self.n_clusters:
            return None
        return (
            f"batch_size={batch_size} < n_clusters={self.n_clusters}: a minibatch cannot hold "
            "every cluster, so its estimate of H(Y), the balance of the cluster sizes, is "
            "biased and the clusters merge. Use a batch_size of several times n_clusters."
        )

    def _eps_scale_now(self):
        if not isinstance(self.eps_scale, str):
            return str(self.eps_scale)
        # Health checks follow fit only, on the whole training set that cluster_sizes_ counts.
        used = resolve_eps_scale(self.eps_scale, int(self.cluster_sizes_.sum()))
        return f"{self.eps_scale!r}, {used} on this data"

    def _health_problem(self, n_init, raced=False):
        sizes = self.cluster_sizes_
        advice = (
            f"Raise mu (now {self.mu}), lower learning_rate (now {self.learning_rate}) or "
            f"eps_scale (now {self._eps_scale_now()}), or {self._n_init_advice(n_init, raced)}; see the user "
            "guide, 'Troubleshooting'."
        )
        n_empty = int(np.sum(sizes == 0))
        if n_empty:
            return (
                f"{n_empty} of n_clusters={self.n_clusters} clusters are empty: no training "
                f"sample is assigned to them (cluster_sizes_={sizes.tolist()}). {advice}"
            )
        prior = (
            np.full(self.n_clusters, 1 / self.n_clusters)
            if self.prior is None
            else np.asarray(self.prior, dtype=np.float64)
        )
        allowed = float(entropy(prior))
        actual = float(entropy(sizes))
        # One cluster (or a one-cluster prior) allows no spread to fall short of.
        if allowed > 0 and actual < _COLLAPSE_ENTROPY_FRACTION * allowed:
            target = "log(n_clusters)" if self.prior is None else "the entropy of prior"
            return (
                f"the training samples collapsed into few clusters: the entropy of the cluster "
                f"sizes is {actual:.2f} nats, below {_COLLAPSE_ENTROPY_FRACTION:.0%} of "
                f"{target} = {allowed:.2f} (largest cluster: {sizes.max() / sizes.sum():.0%} of "
                f"the samples; cluster_sizes_). {advice}"
            )
        return None

    fit = documented(
        BaseIMSAT.fit,
        """Train the network on ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, finite numbers. float32 input is used without a
            copy; float64 and integer input is converted to float32 once.
            A sparse matrix is converted to CSR and densified one minibatch
            at a time, never whole. Requires ``n_samples >= max(2, n_clusters)``.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : IMSATClusterer
            The fitted estimator.

        Raises
        ------
        ValueError
            If X is empty, not 2-D, holds NaN or inf, has fewer samples than
            ``n_clusters``; if a parameter is out of range or
            ``batch_size=1``; if ``prior`` does not have shape
            (n_clusters,), holds a value <= 0 or does not sum to 1; if
            ``augmentation`` is an empty list or holds an unknown string, or
            a ``Compose`` is empty or puts 'vat' or 'rpt' before its end, or
            a callable returns a batch of the wrong shape or device or with
            NaN or infinite values (each callable is tried once on a
            minibatch before training); if ``device`` names an unavailable
            device; if training diverges in its first epoch.
        ${fit_type_error}
        """,
    )

    partial_fit = documented(
        BaseIMSAT.partial_fit,
        """Update the network with one pass of minibatches over the chunk ``X``.

        ${partial_fit_stream}
        ``labels_`` and ``cluster_sizes_`` become those of ``X``.
        ${partial_fit_not_applying}

        ${partial_fit_radius}

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            One chunk of training data, finite numbers,
            ``n_samples >= max(2, n_clusters)``. Every chunk must have the
            features of the first.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : IMSATClusterer
            The updated estimator.

        Raises
        ------
        ${partial_fit_raises}
        """,
    )

    def predict_proba(self, X):
        """Cluster membership probabilities p(y|x).

        Parameters
        ----------
        ${samples_seen_in_fit}

        Returns
        -------
        proba : ndarray of shape (n_samples, n_clusters), dtype float32
            Softmax outputs of the network; rows sum to 1.

        Raises
        ------
        ${prediction_raises}
        """
        return self._outputs(X)

    def predict(self, X):
        """Most probable cluster of each sample.

        Parameters
        ----------
        ${samples_seen_in_fit}

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
            Index in ``[0, n_clusters)`` of each sample's cluster.

        Raises
        ------
        ${prediction_raises}
        """
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)

    def transform(self, X):
        """Cluster probabilities as features (the same array as ``predict_proba``).

        Parameters
        ----------
        ${samples_seen_in_fit}

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters), dtype float32
            Probability p(y = k | x) of each cluster k.

        Raises
        ------
        ${prediction_raises}
        """
        return self.predict_proba(X)

    def score(self, X, y=None):
        """Estimated mutual information I(X;Y) = H(Y) - H(Y|X) on ``X``, in nats.

        H(Y) is the entropy of the mean of ``predict_proba(X)`` and H(Y|X) the
        mean entropy of its rows. Higher is better (at most log(n_clusters)),
        so model selection such as GridSearchCV needs no labels.

        Parameters
        ----------
        ${samples_seen_in_fit}
        y : None
            Ignored.

        Returns
        -------
        score : float
            The mutual information estimate, in nats.

        Raises
        ------
        ${prediction_raises}
        """
        return super().score(X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
