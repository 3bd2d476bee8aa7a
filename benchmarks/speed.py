"""Speed and memory of IMSATClusterer.fit against a bare torch loop doing the same math.

Prints, for each device asked for:

- (a) ``IMSATClusterer.fit`` seconds per update (whole fit: validation,
  initialisation, training, ``labels_``), (b) the same updates in a
  hand-written torch loop with no estimator around it (the software floor:
  same network, initial weights, random draws and Adam), and the ratio a/b.
  The two loss curves are compared, so (b) is checked to do exactly (a)'s math.
  A fixed ``eps`` keeps the k-NN radius out of both; it is timed on its own.
- the exact k-NN radius (k=10) of ``--knn-samples`` rows of MNIST;
- with ``--predict-samples N``, ``predict`` on N x 784 rows (float32 and
  float64 input) against a bare float32 forward of the same network in
  eval mode (``torch.no_grad``, 8,192-row batches), the software floor;
- with ``--rss-samples N``, the peak resident memory of a fit (then a
  predict) on an N x 784 float32 ``np.memmap``, in a fresh process, against
  the size of the data.

    python benchmarks/speed.py --device cpu --threads 1
    python benchmarks/speed.py --device cuda --n-samples 70000 --updates 1400
    python benchmarks/speed.py --device cpu --skip-fit --skip-knn --rss-samples 1000000
    python benchmarks/speed.py --device cpu --skip-fit --skip-knn --predict-samples 300000
"""

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning

from imsat_sklearn import IMSATClusterer
from imsat_sklearn._torch.radius import kth_neighbor_distance
from imsat_sklearn.datasets import load_mnist

# The authors' MNIST settings (Hu et al. 2017, Section 4.1 and their code).
HIDDEN, BATCH, LR, LAM, MU, XI, BN_EPS = (1200, 1200), 250, 0.002, 0.1, 4.0, 10.0, 2e-5
EPS = 1.0  # a fixed radius of the order of MNIST's k-NN radius x 0.25


def mnist(data_home, n_samples):
    """The first ``n_samples`` of a fixed permutation of MNIST, or Gaussian data without it."""
    try:
        X = load_mnist(data_home, return_X_y=True)[0]
    except (FileNotFoundError, OSError) as error:
        print(f"MNIST not found ({error}); using Gaussian data of MNIST's shape.")
        X = np.random.RandomState(0).rand(70000, 784).astype(np.float32)
    return np.ascontiguousarray(X[np.random.RandomState(0).permutation(len(X))[:n_samples]])


def estimator(device, max_iter, seed):
    return IMSATClusterer(
        hidden_layer_sizes=HIDDEN, batch_size=BATCH, learning_rate=LR, lam=LAM, mu=MU, xi=XI,
        eps=EPS, max_iter=max_iter, n_init=1, device=device, random_state=seed,
    )


def time_estimator(X, device, max_iter, seed):
    model = estimator(device, max_iter, seed)
    synchronize(device)
    started = time.perf_counter()
    model.fit(X)
    synchronize(device)
    return time.perf_counter() - started, model.loss_curve_


def time_bare_loop(X, device, max_iter, seed):
    """The same fit as :func:`time_estimator`, written as a plain torch script."""
    synchronize(device)
    started = time.perf_counter()
    rng = np.random.RandomState(seed)
    init = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
    layers, stats = init_mlp(X.shape[1], HIDDEN, 10, init, device)
    generator = torch.Generator(device=device).manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
    data = torch.from_numpy(X).to(device)
    radius = torch.full((len(X),), EPS, device=device)
    params = [p for layer in layers for p in layer]
    optimizer = torch.optim.Adam(params, lr=LR, fused=device.startswith("cuda"))
    curve = []
    for _ in range(max_iter):
        total = torch.zeros((), device=device)
        order = torch.randperm(len(X), generator=generator, device=device)
        for start in range(0, len(X) - BATCH + 1, BATCH):
            index = order[start : start + BATCH]
            loss = imsat_loss(layers, stats, data[index], radius[index], generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        curve.append(total / (len(X) // BATCH))
    with torch.no_grad():
        labels = torch.cat([mlp(layers, stats, x, False, train=False).argmax(1) for x in data.split(8192)])
    curve = torch.stack(curve).tolist()
    labels.cpu()
    return time.perf_counter() - started, curve


def init_mlp(n_in, hidden, n_out, generator, device):
    sizes = [n_in, *hidden, n_out]
    layers, stats = [], []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        scale = 0.1 if i < len(hidden) else 1e-4
        weight = torch.empty(b, a).normal_(0.0, math.sqrt(scale / a), generator=generator)
        layer = [weight, torch.zeros(b)]
        if i < len(hidden):
            layer += [torch.ones(b), torch.zeros(b)]
            stats.append([torch.zeros(b, device=device), torch.ones(b, device=device)])
        layers.append([p.to(device).requires_grad_() for p in layer])
    return layers, stats


def mlp(layers, stats, x, update_stats, train=True):
    for (weight, bias, gamma, beta), (mean, var) in zip(layers, stats):
        use_running = update_stats or not train
        x = F.batch_norm(
            F.linear(x, weight, bias), mean if use_running else None, var if use_running else None,
            gamma, beta, training=train, momentum=0.1, eps=BN_EPS,
        )
        x = F.relu(x)
    return F.linear(x, *layers[-1])


def imsat_loss(layers, stats, x, radius, generator):
    logits = mlp(layers, stats, x, True)
    target = F.log_softmax(logits.detach(), 1)

    def kl(perturbed):
        return F.kl_div(F.log_softmax(perturbed, 1), target, reduction="batchmean", log_target=True)

    d = unit(torch.randn(x.shape, generator=generator, device=x.device))
    d = (XI * d).requires_grad_()
    d = unit(torch.autograd.grad(kl(mlp(layers, stats, x + d, False)), d)[0])
    sat = kl(mlp(layers, stats, x + radius[:, None] * d, False))
    p = F.softmax(logits, 1)
    conditional = entropy(p).mean()
    marginal = entropy(p.mean(0))
    return sat + LAM * (conditional - MU * marginal)


def unit(d):
    d = d / (d.abs().amax(dim=1, keepdim=True) + 1e-12)
    return F.normalize(d, dim=1, eps=1e-12)


def entropy(p):
    return -(p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum(-1)


def synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def compare_fit(X, device, updates, repeats, seed):
    max_iter = max(1, updates // (len(X) // BATCH))
    n_updates = max_iter * (len(X) // BATCH)
    time_bare_loop(X[: 4 * BATCH], device, 1, seed)  # warm-up: kernels, allocator, thread pool
    a, b = [], []
    for _ in range(repeats):
        seconds, curve_a = time_estimator(X, device, max_iter, seed)
        a.append(seconds)
        seconds, curve_b = time_bare_loop(X, device, max_iter, seed)
        b.append(seconds)
    gap = np.max(np.abs(np.subtract(curve_a, curve_b)) / np.abs(curve_b))
    a_best, b_best = min(a) / n_updates * 1e3, min(b) / n_updates * 1e3
    print(
        f"[{device}] {len(X)} x {X.shape[1]}, {n_updates} updates of batch {BATCH}, best of {repeats}:\n"
        f"  (a) IMSATClusterer.fit  {a_best:8.2f} ms/update  (runs: {fmt(a)} s)\n"
        f"  (b) bare torch loop     {b_best:8.2f} ms/update  (runs: {fmt(b)} s)\n"
        f"  (c) ratio a/b           {a_best / b_best:8.3f}\n"
        f"  loss curves a vs b: max relative difference {gap:.2e}",
        flush=True,
    )


def time_knn(X, device, k=10):
    data = torch.from_numpy(X).to(device)
    times = []
    for _ in range(2):
        synchronize(device)
        started = time.perf_counter()
        kth_neighbor_distance(data, k)
        synchronize(device)
        times.append(time.perf_counter() - started)
    print(f"[{device}] exact {k}-NN radius of {len(X)} x {X.shape[1]}: {fmt(times)} s (cold, warm)", flush=True)


def rss_child(path, n_samples, device):
    """Runs in a fresh process: fit then predict on the memmap; prints peak RSS."""
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_samples, 784))
    model = IMSATClusterer(
        hidden_layer_sizes=(100,), eps=EPS, max_iter=1, n_init=1, batch_size=1000,
        device=device, random_state=0,
    )
    started = time.perf_counter()
    model.fit(X)
    fit_peak = peak_rss_gib()
    model.predict(X)
    print(f"fit {time.perf_counter() - started:.1f} s; peak RSS after fit {fit_peak:.2f} GiB, "
          f"after predict {peak_rss_gib():.2f} GiB", flush=True)


def peak_rss_gib():
    # VmHWM, not getrusage's ru_maxrss: a child started by fork + exec inherits
    # its parent's ru_maxrss, but gets a fresh address space and high-water mark.
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 2**20


def measure_rss(n_samples, device):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "X.f32")
        X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_samples, 784))
        rng = np.random.RandomState(0)
        for start in range(0, n_samples, 100_000):
            block = X[start : start + 100_000]
            block[:] = rng.rand(*block.shape)
        X.flush()
        del X
        size = n_samples * 784 * 4 / 2**30
        print(f"[{device}] memmap of {n_samples} x 784 float32: {size:.2f} GiB; goal: peak <= {size + 1:.2f} GiB")
        subprocess.run(
            [sys.executable, __file__, "--rss-child", path, "--rss-samples", str(n_samples), "--device", device],
            check=True,
        )


def time_predict(X, n_samples, device, repeats):
    """predict on ``n_samples`` rows (MNIST tiled) against a bare float32 forward."""
    with warnings.catch_warnings():
        # One epoch is enough to time inference; its ConvergenceWarning is expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = estimator(device, max_iter=1, seed=0).fit(X[:2000])
    rows = np.ascontiguousarray(np.resize(X, (n_samples, X.shape[1])))
    network = model.network_.to(device).eval()

    def bare():
        with torch.no_grad():
            for start in range(0, n_samples, 8192):
                batch = torch.from_numpy(rows[start : start + 8192]).to(device)
                network(batch).argmax(1).cpu()
        synchronize(device)

    timings = {
        "predict, float32 X": lambda: model.predict(rows),
        "predict, float64 X": lambda: model.predict(rows64),
        "bare float32 forward": bare,
    }
    rows64 = rows.astype(np.float64)
    seconds = {}
    for name, call in timings.items():
        call()
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            runs.append(time.perf_counter() - started)
        seconds[name] = runs
    floor = np.median(seconds["bare float32 forward"])
    print(f"\n[{device}] predict, {n_samples} x {X.shape[1]}, network {HIDDEN}, median of {repeats}")
    for name, runs in seconds.items():
        print(f"  {name:<22}{np.median(runs):8.2f} s  ({fmt(runs)})  x{np.median(runs) / floor:.2f} of bare")


def fmt(values):
    return ", ".join(f"{v:.2f}" for v in values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", nargs="+", default=["cpu"], help="cpu, cuda or both")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-samples", type=int, default=5000, help="MNIST rows for the fit timing")
    parser.add_argument("--updates", type=int, default=200, help="about this many updates per fit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--knn-samples", type=int, default=70000)
    parser.add_argument("--rss-samples", type=int, default=0, help="rows of the memmap fit (0: skip)")
    parser.add_argument("--predict-samples", type=int, default=0, help="rows of the predict timing (0: skip)")
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument("--skip-knn", action="store_true")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.rss_child:
        return rss_child(args.rss_child, args.rss_samples, args.device[0])

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA"
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}")
    X = None
    for device in args.device:
        if not args.skip_fit or not args.skip_knn or args.predict_samples:
            X = mnist(args.data_home, max(args.n_samples, args.knn_samples)) if X is None else X
        if not args.skip_fit:
            compare_fit(X[: args.n_samples], device, args.updates, args.repeats, args.seed)
        if not args.skip_knn:
            time_knn(X[: args.knn_samples], device)
        if args.predict_samples:
            time_predict(X, args.predict_samples, device, args.repeats)
        if args.rss_samples:
            measure_rss(args.rss_samples, device)


if __name__ == "__main__":
    main()
