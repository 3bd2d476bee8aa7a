"""The paper's training settings, as one named choice of parameters."""

import copy

# Hu et al. (2017), Section 4.1 and the authors' code: a fixed schedule of 50
# epochs of 250-sample minibatches (no stopping rule), one training per run.
_SHARED = {
    "lam": 0.1,
    "augmentation": "vat",
    "xi": 10.0,
    "eps": None,
    "n_neighbors": 10,
    "eps_scale": 0.25,
    "batch_size": 250,
    "max_iter": 50,
    "tol": None,
    "learning_rate": 0.002,
    "n_init": 1,
}
_PARAMS = {
    "clustering": {**_SHARED, "hidden_layer_sizes": (1200, 1200), "mu": 4.0},
    "hashing": {**_SHARED, "hidden_layer_sizes": (400, 400), "pairwise_weight": 1.0},
}


def paper_params(task="clustering"):
    """The training settings of the IMSAT paper, as estimator parameters.

    The estimators' defaults stop on convergence and size the network from
    the data; these are the paper's fixed settings instead, so that a
    reproduction keeps meaning what it says whatever the defaults become.
    The paper-table benchmark (``benchmarks/reproduce_clustering.py``) uses them.

    Parameters
    ----------
    task : {"clustering", "hashing"}, default="clustering"
        "clustering" for :class:`~imsat_sklearn.IMSATClusterer` (a 1200-1200
        network, ``mu=4``), "hashing" for :class:`~imsat_sklearn.IMSATHasher`
        (the authors' 400-400 hashing network).

    Returns
    -------
    params : dict of str -> object
        Keyword arguments for the estimator: ``hidden_layer_sizes``,
        ``lam``, ``augmentation='vat'``, ``xi=10``, ``eps=None``,
        ``n_neighbors=10``, ``eps_scale=0.25``, ``batch_size=250``,
        ``max_iter=50``, ``tol=None`` (all 50 epochs, 14,000 updates on
        MNIST), ``learning_rate=0.002``, ``n_init=1``, and ``mu=4`` for
        clustering or ``pairwise_weight=1`` (the paper's objective at any
        code length) for hashing. A new dict on every call.

    Raises
    ------
    ValueError
        If ``task`` is not "clustering" or "hashing".

    References
    ----------
    .. [1] W. Hu, T. Miyato, S. Tokui, E. Matsumoto and M. Sugiyama.
       "Learning Discrete Representations via Information Maximizing
       Self-Augmented Training". ICML 2017, arXiv:1702.08720. Section 4.1.

    Examples
    --------
    >>> from imsat_sklearn import IMSATClusterer, paper_params
    >>> model = IMSATClusterer(n_clusters=10, random_state=0, **paper_params())
    >>> model.max_iter, model.tol, model.hidden_layer_sizes
    (50, None, (1200, 1200))
    """
    if task not in _PARAMS:
        raise ValueError(f"task must be 'clustering' or 'hashing', got {task!r}.")
    return copy.deepcopy(_PARAMS[task])
