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
