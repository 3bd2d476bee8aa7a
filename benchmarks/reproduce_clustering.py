"""Reproduce the IMSAT paper's clustering table (Table 2) on every data set we have.

For each data set and method, ``--seeds N`` fits with random_state 0..N-1
(IMSAT with n_init=1, the paper's single-run protocol) and prints a Markdown
table of ACC and NMI, mean (std) over the seeds, with the mean fit time and
the machine, date, versions and git commit. ``--out`` writes the raw
per-run results to JSON; ``--merge`` prints one table from several such
files, so rows can be computed in separate runs or on separate machines.

    python benchmarks/reproduce_clustering.py --datasets usps reuters --methods kmeans imsat-vat \\
        --seeds 3 --out usps_reuters.json
    python benchmarks/reproduce_clustering.py --merge usps_reuters.json mnist_gpu.json

The same code runs as ``python -m imsat_sklearn reproduce``. The data folder
is --data-home or $IMSAT_SKLEARN_DATA (see imsat_sklearn.datasets).
"""

import argparse
import sys

from imsat_sklearn._reproduce import add_arguments, main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        main(parser.parse_args())
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
