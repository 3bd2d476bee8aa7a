"""IMSATHasher: binary hash codes by Information Maximizing Self-Augmented Training."""

import numbers

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseIMSAT
from ._device import batched_outputs
from ._docstrings import compose, documented
from ._torch.objectives import HashingObjective


@compose
class IMSATHasher(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseIMSAT):
    """Hash learning with IMSAT (Information Maximizing Self-Augmented Training).

    A neural network maps each sample to ``n_bits`` independent Bernoulli
    probabilities p(y_m = 1 | x); bit m of the code is 1 where that
    probability exceeds 0.5. Training maximises the information the code
    carries about the sample while keeping its bits independent, and
    self-augmented training (SAT) keeps the code of an augmented sample close
    to the code of the sample. Each minibatch minimises::

        R_SAT + lam * (H(Y|X) - sum_m H(Y_m) + w * sum_{m != l} I(Y_m; Y_l))

    where H(Y|X) is the mean per-sample entropy of the code (summed over
    bits), H(Y_m) the entropy of bit m's minibatch mean, and I(Y_m; Y_l) the
    mutual information of bits m and l under their minibatch joint
    distribution, summed over ordered pairs (each unordered pair counts
    twice, as in the authors' code). The weight ``w = min(1, 15 / (n_bits -
    1))`` is 1 up to the paper's 16 bits; for longer codes it charges each
    bit 15 times its mean information with the other bits, its share at 16
    bits, instead of a sum that grows with the number of bits (unweighted,
    32- and 64-bit codes retrieve worse than 16-bit ones). With
    ``augmentation='vat'`` the augmented sample is the virtual adversarial
    point at radius ``eps_i``.

    Parameters
    ----------
    n_bits : int, default=16
        Code length M (>= 1), the number of sigmoid outputs.
    hidden_layer_sizes : tuple of int, default=(400, 400)
        Widths of the hidden layers; each is Linear -> BatchNorm1d
        (eps=2e-5, momentum=0.1) -> ReLU. The default is the authors'
        hashing network. ``()`` gives a linear map followed by the sigmoids.
    ${lam}
    pairwise_weight : float or "auto", default="auto"
        Weight (>= 0) of the pairwise term sum_{m!=l} I(Y_m;Y_l), which
        pushes the bits to be independent. "auto" is 1 up to 16 bits and
        15 / (n_bits - 1) beyond, so that each bit pays its 16-bit share of
        dependence on the others: the pair sum grows as n_bits**2 and the
        entropies as n_bits, and unweighted it made 32- and 64-bit codes
        retrieve worse than 16-bit ones (MNIST 10k subset, mAP 0.729 /
        0.579 / 0.548 at 16 / 32 / 64 bits; 0.729 / 0.734 / 0.787 with
        "auto"). 1 is the paper's objective at any code length.
    augmentation : {'vat', 'rpt'}, callable or list, default='vat'
        Self-augmentation, i.e. the invariance to impose. 'vat' uses the
        virtual adversarial perturbation (one power iteration), 'rpt' a
        random direction of the same per-sample radius. A callable
        ``T(X, generator)`` maps a float32 torch tensor batch (n, n_features)
        on the training device to a transformed batch of the same shape,
        dtype and device, drawing its randomness from the given
        ``torch.Generator``; its penalty is the Bernoulli KL between the
        bits on x (fixed) and on T(x), summed over bits. See
        :mod:`imsat_sklearn.augment`. A list of these sums their penalties;
        :class:`~imsat_sklearn.augment.Compose` chains transforms, ending
        in 'vat' or 'rpt' at the transformed point. Callables must be
        picklable and deep-copyable for pickling and ``clone``: use class
        instances, not lambdas.
    ${xi_fixed}
    ${eps}
    n_neighbors : int, default=10
        Which nearest neighbour (>= 1) sets the radius when ``eps=None``.
        Clipped to ``n_samples - 1`` with a warning. As for
        :class:`IMSATClusterer`, ``n_neighbors=11`` reproduces the authors'
        code, which used the 11th neighbour where the paper states the 10th.
    ${eps_scale_fixed}
    batch_size : int, default=250
        Minibatch size (>= 2; 1 raises a ValueError, as the objective of a
        one-sample minibatch is degenerate). Clipped to ``n_samples``
        with a warning. The marginal and pairwise terms are estimated on
        each minibatch, which needs more than ``n_bits`` samples to hold
        balanced, independent bits: a ``batch_size`` of ``n_bits`` or less
        warns (see the user guide, "Parameters").
    ${max_iter}
    tol : float or None, default=0.01
        Stopping tolerance in [0, 1]. After every epoch, the fraction of the
        code bits of the samples visited that changed since their previous
        visit (bit = sign of the network's output in that epoch's pass) is
        compared with ``tol``; once it is at most ``tol`` for
        ``n_iter_no_change`` epochs in a row, training has converged and
        stops. The test costs nothing. ``None`` always runs ``max_iter``
        epochs (the paper's fixed schedule).
    ${n_iter_no_change_to_device}
    n_init : int or "auto", default=1
        Number of trainings (>= 1) from different random initialisations;
        the one with the highest information estimate (``score``) on the
        training data is kept (no labels). For an integer, cost grows
        linearly. "auto" trains 5 networks on fewer than 5,000 samples and
        from there races 3 for 2,000 updates each, the kept one training
        on, as for :class:`IMSATClusterer`. The default stays 1 for hashing: its
        stability over seeds has not been measured.
    ${warm_start_random_state_verbose}

    Attributes
    ----------
    bit_frequencies_ : ndarray of shape (n_bits,), dtype float64
        Fraction of the training samples whose bit is 1 in ``transform``,
        the empirical p(y_m = 1) that the marginal term pushes towards 0.5.
        A bit at 0 or 1 is the same for every sample and carries no
        information; a ``ConvergenceWarning`` then says so.
    ${n_iter_loss_curve}
    loss_parts_ : dict of str -> ndarray of shape (`n_iter_`,)
        Per-epoch means of 'R_SAT', 'H(Y|X)', 'sum H(Y_m)' and
        'sum I(Y_m;Y_l)' (nats); the last before its weight ``w``.
    network_ : torch.nn.Module
        The trained network (its head gives the logits of the bits).
    ${features_in}

    See Also
    --------
    IMSATClusterer : IMSAT clustering, trained by the same loop.
    imsat_sklearn.metrics.hamming_ranking_map : Retrieval mAP of codes.
    imsat_sklearn.hashing.hamming_search : Nearest codes in Hamming distance.

    ${notes}

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama.
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training". ICML 2017, arXiv:1702.08720. Sections 3.1
       (SAT), 3.3 (hash learning objective) and 4.2 (settings).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from imsat_sklearn import IMSATHasher
    >>> X, _ = load_digits(return_X_y=True)
    >>> model = IMSATHasher(n_bits=8, hidden_layer_sizes=(100,), max_iter=5,
    ...                     random_state=0).fit(X / 16)
    >>> codes = model.transform(X / 16)
    >>> codes.shape, codes.dtype
    ((1797, 8), dtype('uint8'))
    """

    _parameter_constraints = {
        **BaseIMSAT._parameter_constraints,
        "n_bits": [Interval(numbers.Integral, 1, None, closed="left")],
        "pairwise_weight": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=16,
        *,
        hidden_layer_sizes=(400, 400),
        lam=0.1,
        pairwise_weight="auto",
        augmentation="vat",
        xi=10.0,
        eps=None,
        n_neighbors=10,
        eps_scale=0.25,
        batch_size=250,
        max_iter=200,
        tol=0.01,
        n_iter_no_change=10,
        min_updates="deprecated",
        learning_rate=0.002,
        device="auto",
        n_init=1,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.n_bits = n_bits
        self.hidden_layer_sizes = hidden_layer_sizes
        self.lam = lam
        self.pairwise_weight = pairwise_weight
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

    _n_outputs_param = "n_bits"

    # Bits, unlike clusters, need no samples of their own.
    _one_sample_per_output = False

    _objective_class = HashingObjective

    def _build_objective(self, device):
        weight = None if isinstance(self.pairwise_weight, str) else float(self.pairwise_weight)
        return HashingObjective(weight)

    def _fitted_extras(self, network, X, device):
        # One pass over the validated training array, as the clusterer's labels_.
        probs = batched_outputs(network, HashingObjective.output, X, device)
        return {"bit_frequencies_": np.mean(probs > 0.5, axis=0, dtype=np.float64)}

    def _small_batch_problem(self, batch_size):
        # Balanced, pairwise independent bits over b equally weighted samples
        # are, centred, n_bits orthogonal vectors of R^b, all orthogonal to the
        # constant vector: they need b >= n_bits + 1.
        if batch_size > self.n_bits:
            return None
        return (
            f"batch_size={batch_size} <= n_bits={self.n_bits}: a minibatch needs more than "
            "n_bits samples to hold n_bits balanced, pairwise independent bits, so the "
            "marginal and pairwise terms cannot both be met and bits come out constant or "
            "dependent. Use a batch_size of several times n_bits."
        )

    def _health_problem(self, n_init, raced=False):
        constant = np.flatnonzero((self.bit_frequencies_ == 0) | (self.bit_frequencies_ == 1))
        if not len(constant):
            return None
        if len(constant) == self.n_bits:
            what = (
                f"all n_bits={self.n_bits} bits are constant: every training sample has the "
                "same code"
            )
        else:
            what = (
                f"{len(constant)} of n_bits={self.n_bits} bits are constant (bits "
                f"{constant.tolist()} are the same for every training sample; bit_frequencies_) "
                "and carry no information"
            )
        return (
            f"{what}. Lower learning_rate (now {self.learning_rate}), keep batch_size (now "
            f"{self.batch_size}) well above n_bits, or {self._n_init_advice(n_init, raced)}; see the "
            "user guide, 'Troubleshooting'."
        )

    fit = documented(
        BaseIMSAT.fit,
        """Train the network on ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, finite numbers, ``n_samples >= 2``. float32 input
            is used without a copy; float64 and integer input is converted
            to float32 once. A sparse matrix is converted to CSR and
            densified one minibatch at a time, never whole.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : IMSATHasher
            The fitted estimator.

        Raises
        ------
        ValueError
            If X is empty, not 2-D, holds NaN or inf, or has fewer than 2
            samples; if a parameter is out of range (e.g. ``n_bits < 1``) or
            ``batch_size=1``; if ``augmentation`` is an empty list or holds an
            unknown string, or a ``Compose`` is empty or puts 'vat' or 'rpt'
            before its end; if a callable ``augmentation`` returns a batch of
            the wrong shape or device or with NaN or infinite values (each
            callable is tried once on a minibatch before training); if
            ``device`` names an unavailable device; if training diverges in
            its first epoch.
        ${fit_type_error}
        """,
    )

    partial_fit = documented(
        BaseIMSAT.partial_fit,
        """Update the network with one pass of minibatches over the chunk ``X``.

        ${partial_fit_stream}
        ``bit_frequencies_`` become those of ``X``.
        ${partial_fit_not_applying}

        ${partial_fit_radius}

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            One chunk of training data, finite numbers, ``n_samples >= 2``. Every
            chunk must have the features of the first.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : IMSATHasher
            The updated estimator.

        Raises
        ------
        ${partial_fit_raises}
        """,
    )

    def predict_proba(self, X):
        """Bit probabilities p(y_m = 1 | x).

        Parameters
        ----------
        ${samples_seen_in_fit}

        Returns
        -------
        proba : ndarray of shape (n_samples, n_bits), dtype float32
            Sigmoid outputs of the network, in [0, 1]; each bit on its own
            (rows do not sum to 1).

        Raises
        ------
        ${prediction_raises}
        """
        return self._outputs(X)

    def transform(self, X):
        """Binary hash codes: bit m is 1 where p(y_m = 1 | x) > 0.5.

        Parameters
        ----------
        ${samples_seen_in_fit}

        Returns
        -------
        codes : ndarray of shape (n_samples, n_bits), dtype uint8
            Codes with values in {0, 1}, ready for
            :func:`imsat_sklearn.hashing.pack_codes` and the retrieval
            metrics of :mod:`imsat_sklearn.metrics`.

        Raises
        ------
        ${prediction_raises}
        """
        return (self.predict_proba(X) > 0.5).astype(np.uint8)

    def score(self, X, y=None):
        """Information term of the objective estimated on ``X``, in nats.

        The score is ``sum_m H(Y_m) - H(Y|X) - w * sum_{m != l} I(Y_m; Y_l)``,
        the negated information term of the training loss (``w`` as there), with every
        expectation taken over all of ``X`` rather than a minibatch. Higher
        is better (at most ``n_bits * log(2)``: independent, balanced,
        deterministic bits), so model selection such as GridSearchCV needs
        no labels.

        Parameters
        ----------
        ${samples_seen_in_fit}
        y : None
            Ignored.

        Returns
        -------
        score : float
            The estimate, in nats.

        Raises
        ------
        ${prediction_raises}
        """
        return super().score(X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Codes are uint8 whatever the input dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags
