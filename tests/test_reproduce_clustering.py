"""The paper-table runner, ``benchmarks/reproduce_clustering.py``, imported by path.

It is a script of the repository, not part of the installed package, and
uses only the package's public API.
"""

import ast
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.cluster import KMeans

from imsat_sklearn import IMSATClusterer, paper_params
from imsat_sklearn.augment import Compose, RandomAffine

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reproduce_clustering.py"


@pytest.fixture(scope="module")
def reproduce():
    spec = importlib.util.spec_from_file_location("reproduce_clustering", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_uses_only_the_public_api():
    assert importlib.util.find_spec("imsat_sklearn._reproduce") is None
    imported = []
    for node in ast.walk(ast.parse(SCRIPT.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("imsat_sklearn"):
            imported += [node.module, *(alias.name for alias in node.names)]
        elif isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names if alias.name.startswith("imsat_sklearn")]
    assert imported and not [name for name in imported if any(p.startswith("_") for p in name.split("."))]


@pytest.mark.parametrize("n_samples", [1797, 9298, 70000])
def test_make_model_keeps_the_paper_settings_and_at_least_2000_updates(reproduce, n_samples):
    paper = paper_params("clustering")
    model = reproduce.make_model("imsat-vat", 10, 3, (28, 28), n_samples)
    assert isinstance(model, IMSATClusterer)
    params = model.get_params()
    assert params["random_state"] == 3 and params["n_clusters"] == 10 and params["augmentation"] == "vat"
    assert {k: v for k, v in params.items() if k in paper and k != "max_iter"} == {
        k: v for k, v in paper.items() if k != "max_iter"
    }
    updates_per_epoch = n_samples // paper["batch_size"]
    # Whole multiples of 50 epochs, as the measured table's extra passes per epoch.
    assert params["max_iter"] == paper["max_iter"] * math.ceil(2000 / (paper["max_iter"] * updates_per_epoch))
    assert params["max_iter"] * updates_per_epoch >= 2000


def test_make_model_methods(reproduce):
    assert isinstance(reproduce.make_model("kmeans", 4, 0, None, 100), KMeans)
    assert reproduce.make_model("linear-imsat-vat", 4, 0, None, 100).hidden_layer_sizes == ()
    assert reproduce.make_model("imsat-rpt", 4, 0, None, 100).augmentation == "rpt"
    augmentation = reproduce.make_model("imsat-vat-affine", 4, 0, (16, 16), 100).augmentation
    assert isinstance(augmentation, Compose)
    (affine,), perturbation = augmentation.split()
    assert perturbation == "vat" and affine == RandomAffine((16, 16))
    with pytest.raises(ValueError, match="image data set"):
        reproduce.make_model("imsat-vat-affine", 4, 0, None, 100)


def test_writes_json_and_merges_runs(reproduce, tmp_path, capsys):
    # Two single-seed runs written to separate files, then one merged table.
    for seed in (0, 1):
        args = ["--datasets", "digits", "--methods", "kmeans", "linear-imsat-vat",
                "--first-seed", str(seed), "--device", "cpu", "--out", str(tmp_path / f"{seed}.json")]
        assert reproduce.main(args) == 0
    capsys.readouterr()
    assert reproduce.main(["--merge", str(tmp_path / "0.json"), str(tmp_path / "1.json")]) == 0
    out = capsys.readouterr().out
    assert "machine 0:" in out and "machine 1:" in out and "commit" in out
    rows = [line for line in out.splitlines() if line.startswith("| sklearn digits")]
    assert len(rows) == 2 and all("| 0, 1 |" in row for row in rows)
    kmeans_acc = float(rows[0].split("|")[4].split()[0])
    assert 70 < kmeans_acc < 90  # K-means on digits: about 79 %


def test_without_data_names_the_data_folder(reproduce, tmp_path, capsys):
    assert reproduce.main(["--datasets", "usps", "--data-home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "IMSAT_SKLEARN_DATA" in err
    assert str(tmp_path / "usps" / "usps.npz") in err


def test_merge_of_a_missing_file_exits_with_status_2_and_no_traceback(tmp_path):
    run = [sys.executable, str(SCRIPT), "--merge", str(tmp_path / "none.json")]
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "none.json" in result.stderr
    assert "Traceback" not in result.stderr
