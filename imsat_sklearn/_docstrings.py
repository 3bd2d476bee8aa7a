"""Docstring parts the two estimators share, written once.

A docstring names a shared part by a line ``${name}`` alone, indented as
the part should be; :func:`compose` fills the parts in when the class is
defined, so ``help()``, numpydoc and Sphinx see whole docstrings.
"""

import functools
import re
import textwrap

PARTS = {
    "lam": """\
lam : float, default=0.1
    Weight (>= 0) of the information term relative to the SAT penalty.""",
    "xi_auto": """\
xi : float or "auto", default="auto"
    Length (> 0, in units of X) of the finite-difference step of the VAT
    power iteration. "auto" takes 8 times the mean perturbation radius
    of the training data, which is the paper's ``xi=10`` on MNIST scaled
    to [0, 1] (mean radius 1.25 with the default ``eps_scale`` and
    ``n_neighbors``) and follows the scale of any other X: on the
    digits scaled to [0, 1] (mean radius 0.36) a fixed ``xi=10`` gave a
    mean ACC of 0.77 over 20 seeds, "auto" (xi = 2.9) 0.83.""",
    "xi_fixed": """\
xi : float or "auto", default=10.0
    Length (> 0, in units of X) of the finite-difference step of the VAT
    power iteration, the paper's value. "auto" takes 8 times the mean
    perturbation radius of the training data, which follows the scale of
    X and equals 10 on MNIST scaled to [0, 1]; its effect on hashing has
    not been measured, so the hasher keeps the paper's fixed step.""",
    "eps": """\
eps : float or None, default=None
    Perturbation radius (>= 0, in units of X). ``None`` gives each sample
    its own radius ``eps_scale`` times its distance to its
    ``n_neighbors``-th nearest other training sample.""",
    "eps_scale_auto": """\
eps_scale : float or "auto", default="auto"
    Multiplier (>= 0) of the k-NN distance giving the radius. "auto"
    takes the paper's 0.25, except from 5,000 to 23,999 training samples,
    where it takes 0.3: on a 10,000-image MNIST subset the default fits
    reached a mean ACC of 0.932 with 0.3 against 0.892 with 0.25 (seeds
    0-4), while on the digits 0.3 was no better (seeds 0-9, 2 threads:
    0.885 against 0.901). ``partial_fit`` takes 0.25. See the user guide,
    "Parameters".""",
    "eps_scale_fixed": """\
eps_scale : float or "auto", default=0.25
    Multiplier (>= 0) of the k-NN distance giving the radius, the
    paper's value. "auto" applies the clusterer's rule (0.3 from 5,000 to
    23,999 training samples, else 0.25); its effect on hashing has not
    been measured, so the hasher keeps the paper's multiplier.""",
    "max_iter": """\
max_iter : int, default=200
    Maximum number of epochs (>= 1), a hard cap. An epoch is one
    shuffled pass of full minibatches (``n_samples // batch_size``
    updates). Training usually stops earlier, see ``tol``.""",
    "n_iter_no_change_to_device": """\
n_iter_no_change : int, default=10
    Number of consecutive epochs (>= 1) within ``tol`` that count as
    converged.
min_updates : int, default="deprecated"
    Deprecated in 0.1, removed in 0.3: ``max_iter`` is now a hard cap
    and training stops on ``tol``. When set, each epoch makes
    ``ceil(min_updates / (max_iter * (n_samples // batch_size)))``
    passes, as before, with a FutureWarning.
learning_rate : float, default=0.002
    Adam step size (> 0).
device : str, default='auto'
    Torch device for training and prediction: 'auto' (CUDA when
    available, else CPU), 'cpu', 'cuda' or 'cuda:N'. It may be changed
    with ``set_params`` after fitting to predict elsewhere.""",
    "warm_start_random_state_verbose": """\
warm_start : bool, default=False
    When True and the estimator is fitted, ``fit`` continues training
    the current network for up to ``max_iter`` more epochs (with a fresh
    Adam state) instead of starting over; ``n_init`` is then ignored,
    ``n_iter_`` and ``loss_curve_`` continue.
random_state : int, RandomState instance or None, default=None
    Seeds the weight initialisation, minibatch order and perturbations
    through per-fit torch generators; the global torch and numpy random
    states are neither used nor changed. An int gives bit-identical
    results on the CPU for the same data and parameters, the same number
    of torch threads (``torch.get_num_threads()``), the same versions of
    torch and the other packages, and the same hardware; another thread
    count can change the result (see the user guide on reproducibility).
verbose : int, default=0
    With ``verbose >= 1``, prints which of the ``n_init`` trainings runs
    (and, after a race, which one goes on), then one line per epoch: loss,
    its parts, the fraction of changed assignments (see ``tol``) and
    elapsed seconds.""",
    "n_iter_loss_curve": """\
n_iter_ : int
    Number of epochs run: fewer than ``max_iter`` when training
    converged (see ``tol``). A ConvergenceWarning says when ``max_iter``
    came first.
loss_curve_ : list of float
    Mean minibatch loss of each epoch.""",
    "features_in": """\
n_features_in_ : int
    Number of features seen during fit.
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of features seen during fit, when X is a DataFrame with string
    column names.""",
    "notes": """\
Notes
-----
With ``random_state`` fixed, fits on the CPU are bit-identical for the
same number of torch threads (``torch.get_num_threads()``), versions of
torch and the other packages, and hardware; a different thread count rounds differently and can move a
trajectory. On CUDA,
some kernels are not deterministic, so results can differ in the last
bits between runs.

X may be a scipy sparse matrix or array of any format (converted to CSR
without modifying the caller's object): it is never densified whole.
Training densifies one minibatch at a time on the training device and
prediction one batch of rows at a time, so memory stays near the size
of the sparse matrix plus the model. The k-NN radius of sparse data
comes from scikit-learn's sparse brute-force neighbour search; sparse
and dense input of the same data give the same fit. Dense float32
C-contiguous input on the CPU, memory maps included, is used in place;
dense input too large for the GPU's free memory stays in host memory
and is copied to the GPU one minibatch at a time.""",
    "partial_fit_radius": """\
The perturbation radius comes from the chunk: with ``eps=None`` each
sample's radius is ``eps_scale`` (0.25 for "auto") times the distance to its
``n_neighbors``-th nearest other sample *of the chunk* (larger than
within the whole data set, more so for small chunks); a fixed
``eps`` gives every chunk the same radius with no neighbour search.
See the "Scaling out" page of the user guide for measured accuracy.""",
    "partial_fit_stream": """\
For data streamed in chunks (for example larger than memory), as
``MiniBatchKMeans.partial_fit``: each call makes
``n_samples // batch_size`` Adam updates on a fresh shuffle of ``X``
(one update on all of ``X`` when it is smaller than ``batch_size``);
the rows after the last full minibatch are left out of that pass.
The first call on an unfitted estimator initialises the network from
``random_state``; later calls continue the network, the Adam state
and the random stream, also after pickling. Each call adds one entry
to ``loss_curve_`` and ``loss_parts_`` and one to ``n_iter_``.""",
    "partial_fit_not_applying": """\
``max_iter``, ``tol``, ``n_iter_no_change``, ``n_init`` and
``warm_start`` do not apply; ``fit`` starts over.""",
    "fit_type_error": """\
TypeError
    If an ``augmentation`` entry (or a ``Compose`` step) is neither
    'vat', 'rpt' nor a callable instance, or a callable cannot be called as
    ``T(x, generator)`` or returns something other than a tensor of
    the input's dtype; if X is a torch tensor (or an array of
    another array API namespace) while
    ``sklearn.set_config(array_api_dispatch=True)`` is on.""",
    "partial_fit_raises": """\
ValueError
    As :meth:`fit`; also if ``X`` does not have the number of
    features of the earlier chunks (or of the data of ``fit``).
TypeError
    As :meth:`fit`.""",
    "samples_seen_in_fit": """\
X : {array-like, sparse matrix} of shape (n_samples, n_features)
    Samples with the features seen in fit.""",
    "prediction_raises": """\
sklearn.exceptions.NotFittedError
    If the estimator is not fitted.
ValueError
    If X holds NaN or inf or has the wrong number of features.
TypeError
    If X is an array of another array API namespace (e.g. a torch
    tensor) while ``sklearn.set_config(array_api_dispatch=True)`` is on.""",
}


def compose(cls):
    """Fill in the shared parts of the docstrings of ``cls`` and of its own methods."""
    cls.__doc__ = _fill(cls.__doc__)
    for member in vars(cls).values():
        if callable(member) and getattr(member, "__doc__", None):
            member.__doc__ = _fill(member.__doc__)
    return cls


def _fill(doc):
    return re.sub(
        r"^( *)\$\{(\w+)\}$",
        lambda match: textwrap.indent(PARTS[match.group(2)], match.group(1)),
        doc,
        flags=re.MULTILINE,
    )


def documented(method, doc):
    """A copy of the function ``method`` with the docstring ``doc``.

    Lets an estimator document a method it inherits (``fit``, ``partial_fit``)
    without overriding it.
    """
    copy = functools.update_wrapper(
        type(method)(
            method.__code__, method.__globals__, method.__name__, method.__defaults__, method.__closure__
        ),
        method,
    )
    copy.__doc__ = doc
    return copy
