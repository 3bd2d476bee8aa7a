#!/usr/bin/env bash
# One short session on a GPU machine: the GPU tests, the speed benchmark, a full
# MNIST fit with the authors' schedule (wall time and ACC), then the benchmarks
# whose figures need a GPU to finish in minutes. Prints everything; run from the repo root:
#   IMSAT_SKLEARN_DATA=/path/to/data bash benchmarks/gpu_check.sh [omniglot seeds...]
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
data=${IMSAT_SKLEARN_DATA:-../shared/data}
seeds=${*:-0 1}
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
python3 -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu.py
python3 benchmarks/speed.py --device cuda --n-samples 70000 --updates 1400 --data-home "$data"
python3 benchmarks/cluster_mnist.py --seeds 0 --device cuda --data-home "$data"
python3 benchmarks/omniglot_augmentation.py --seeds $seeds --device cuda --data-home "$data"
python3 benchmarks/stability.py --dataset digits mnist10k --seeds 0 1 2 3 4 --n-init 3 --device cuda --data-home "$data"
