"""The command line."""

import pytest

from imsat_sklearn.__main__ import main


def test_cluster_on_digits_prints_scores(capsys):
    assert main(["cluster", "--max-iter", "3", "--min-updates", "0", "--random-state", "0", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "1797 samples x 64 features" in out
    for name in ("ACC", "NMI", "ARI", "fit time"):
        assert name in out
    acc = float(next(line for line in out.splitlines() if line.startswith("ACC")).split()[1])
    # 21 updates already beat chance (about 0.1) by far.
    assert acc > 0.3


def test_missing_mnist_files_is_a_clear_error(tmp_path, capsys):
    assert main(["cluster", "--dataset", "mnist", "--data-home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "mnist" in err and str(tmp_path) in err


def test_bad_device_is_a_clear_error(capsys):
    assert main(["cluster", "--max-iter", "1", "--device", "gpu7"]) == 2
    assert "device='gpu7' is not a valid device" in capsys.readouterr().err


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_reproduce_writes_json_and_merges_runs(tmp_path, capsys):
    # Two single-seed runs written to separate files, then one merged table.
    for seed in (0, 1):
        args = ["reproduce", "--datasets", "digits", "--methods", "kmeans", "linear-imsat-vat",
                "--first-seed", str(seed), "--device", "cpu", "--out", str(tmp_path / f"{seed}.json")]
        assert main(args) == 0
    capsys.readouterr()
    assert main(["reproduce", "--merge", str(tmp_path / "0.json"), str(tmp_path / "1.json")]) == 0
    out = capsys.readouterr().out
    assert "machine 0:" in out and "machine 1:" in out and "commit" in out
    rows = [line for line in out.splitlines() if line.startswith("| sklearn digits")]
    assert len(rows) == 2 and all("| 0, 1 |" in row for row in rows)
    kmeans_acc = float(rows[0].split("|")[4].split()[0])
    assert 70 < kmeans_acc < 90  # K-means on digits: about 79 %


def test_reproduce_without_data_names_the_data_folder(tmp_path, capsys):
    assert main(["reproduce", "--datasets", "usps", "--data-home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "usps" in err and "IMSAT_SKLEARN_DATA" in err and str(tmp_path) in err
