"""Data-parallel training over several processes or GPUs with ``torch.distributed``.

Launch one process per GPU (or per group of CPU cores) with ``torchrun``;
each process trains on its share of every minibatch and the processes
exchange what the objective needs, so the run optimises the same objective
as one process with the whole minibatch (see :func:`fit_distributed`).

From the command line, with an unfitted estimator pickled by
``joblib.dump`` and the training data saved by ``numpy.save``::

    torchrun --nproc_per_node=4 -m imsat_sklearn.distributed estimator.joblib X.npy fitted.joblib

The first process writes the fitted estimator, which loads with
``joblib.load`` like any other. See the "Scaling out" page of the
documentation for the costs.
"""

import argparse
import contextlib
import io
import os
import sys

import joblib
import numpy as np
import torch
import torch.distributed as dist

from ._base import BaseIMSAT, _seed
from ._device import resolve_device
from ._plan import random_state_of
from ._torch.parallel import DataParallel

__all__ = ["fit_distributed"]


def fit_distributed(estimator, X, y=None, *, group=None):
    """Fit an IMSAT estimator on ``X`` with every process of a ``torch.distributed`` group.

    Call it in each process started by ``torchrun`` (or any launcher that
    sets the ``torch.distributed`` environment variables) with the same
    estimator parameters and the same ``X``. Every process holds all of
    ``X``: a memory-mapped ``.npy`` file (``np.load(path, mmap_mode='r')``)
    is shared by the processes of one machine. Each process trains on its
    contiguous share of every minibatch of the permutation all processes
    draw alike; H(Y) (and, for hashing, the bit marginals and pairwise
    joints) and the BatchNorm statistics are all-reduced over the whole
    minibatch, the VAT and RPT directions of a row are those one process
    would draw, gradients are averaged before each Adam step and the k-NN
    radius is computed over all of ``X`` (for dense ``X``, each process
    computing a share of the rows). The run therefore follows the loss
    curve of ``estimator.fit(X)`` in one process, up to floating-point
    rounding, with ``batch_size`` (the whole minibatch) split over the
    processes. Transform augmentations
    (callables) draw from a generator of each process, so with them the run
    is equivalent in distribution but not number for number.

    Parameters
    ----------
    estimator : IMSATClusterer or IMSATHasher
        The estimator to fit, with the same parameters in every process.
        ``batch_size`` must be a multiple of the number of processes, with
        at least 2 rows per process. ``device`` is 'cpu', 'auto' or 'cuda':
        with CUDA each process uses the GPU of its ``LOCAL_RANK``.
        ``random_state=None`` is replaced, for this fit only, by a seed drawn
        in process 0 and sent to all. With ``verbose``, only process 0
        prints.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data, the same in every process. A sparse matrix stays
        sparse (one minibatch at a time is densified); its k-NN radius is
        computed whole by every process, on the CPU, with scikit-learn's
        sparse neighbour search.
    y : None
        Ignored.
    group : torch.distributed.ProcessGroup or None, default=None
        The processes to train with. None uses the default group, which is
        initialised from the environment when it does not exist yet: nccl
        when the estimator trains on CUDA, gloo otherwise.

    Returns
    -------
    estimator : IMSATClusterer or IMSATHasher
        The fitted estimator, the same in every process; pickle it from one.

    Raises
    ------
    TypeError
        If ``estimator`` is not an IMSAT estimator.
    ValueError
        As ``estimator.fit``; also if ``device`` names one GPU ('cuda:N')
        while several processes share a machine, or ``batch_size`` does not
        split evenly over the processes.

    Examples
    --------
    In a script ``train.py`` started as ``torchrun --nproc_per_node=2
    train.py``, every process runs:

    >>> import numpy as np
    >>> from imsat_sklearn import IMSATClusterer
    >>> from imsat_sklearn.distributed import fit_distributed
    >>> X = np.load("X.npy", mmap_mode="r")  # doctest: +SKIP
    >>> model = fit_distributed(IMSATClusterer(random_state=0), X)  # doctest: +SKIP
    """
    if not isinstance(estimator, BaseIMSAT):
        raise TypeError(
            f"estimator must be an IMSATClusterer or IMSATHasher, got {type(estimator).__name__}."
        )
    estimator._validate_params()
    _select_device(estimator.device)
    if group is None and not dist.is_initialized():
        dist.init_process_group(_backend(estimator.device))
    parallel = DataParallel(group)
    seed = _shared_seed(estimator.random_state, parallel, group)
    quiet = contextlib.redirect_stdout(io.StringIO()) if parallel.rank else contextlib.nullcontext()
    with quiet:
        # The shared seed goes to this fit only: the estimator's parameters stay as they are.
        estimator._fit(X, comm=parallel, random_state=seed)
    return estimator


def _select_device(device):
    if device.startswith("cuda:") and int(os.environ.get("LOCAL_WORLD_SIZE", "1")) > 1:
        raise ValueError(
            f"device={device!r} would put every process on one GPU; use device='auto' or 'cuda', "
            "and each process uses the GPU of its LOCAL_RANK."
        )
    if resolve_device(device).type == "cuda":
        # 'cuda' without an index then means this process's GPU.
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))


def _backend(device):
    return "nccl" if resolve_device(device).type == "cuda" else "gloo"


def _shared_seed(random_state, parallel, group):
    """An int seed the same in every process: ``random_state`` itself when it is an int."""
    if isinstance(random_state, (int, np.integer)):
        return random_state
    seed = [None]
    if parallel.rank == 0:
        seed[0] = _seed(random_state_of(random_state))
    # An object broadcast works with every backend (nccl has no CPU tensors); src is a global rank.
    source = dist.get_global_rank(group, 0) if group is not None else 0
    dist.broadcast_object_list(seed, src=source, group=group)
    return seed[0]


def build_parser():
    """The argument parser of ``python -m imsat_sklearn.distributed``.

    It takes three positional arguments, all paths: the unfitted estimator
    saved with ``joblib.dump``, the training data saved with ``numpy.save``
    (memory-mapped when loaded, so the processes of one machine share it)
    and the file where process 0 saves the fitted estimator.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser; its ``prog`` shows the ``torchrun`` command line.
    """
    parser = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node=N -m imsat_sklearn.distributed",
        description="Fit a pickled IMSAT estimator on a .npy array with data-parallel training.",
    )
    parser.add_argument("estimator", help="unfitted estimator saved with joblib.dump")
    parser.add_argument("data", help="training data saved with numpy.save (memory-mapped)")
    parser.add_argument("output", help="where process 0 saves the fitted estimator (joblib.dump)")
    return parser


def main(argv=None):
    """Fit a pickled estimator on a ``.npy`` file; the command-line entry point.

    Run in every process that ``torchrun`` starts: each loads the estimator
    with ``joblib.load`` and the data with ``np.load(..., mmap_mode='r')``,
    calls :func:`fit_distributed`, process 0 saves the fitted estimator
    with ``joblib.dump`` and all processes wait for it at a barrier. The
    process group is destroyed in any case; an exception of the fit
    propagates.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status, 0 once the fitted estimator is saved.
    """
    args = build_parser().parse_args(argv)
    estimator = joblib.load(args.estimator)
    X = np.load(args.data, mmap_mode="r")
    try:
        fit_distributed(estimator, X)
        if dist.get_rank() == 0:
            joblib.dump(estimator, args.output)
        # Processes that leave while another still works can abort the gloo teardown.
        dist.barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
