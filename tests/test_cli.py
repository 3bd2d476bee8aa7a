"""The command line: ``imsat-sklearn`` / ``python -m imsat_sklearn``."""

import argparse
import shutil
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest

import imsat_sklearn.__main__ as cli
from imsat_sklearn import IMSATClusterer
from imsat_sklearn.__main__ import build_parser, main, prog_name

# Small settings for the tests that fit: one narrow hidden layer, 2 epochs, one training.
FAST = ["--hidden-layer-sizes", "32", "--max-iter", "2", "--n-init", "1", "--device", "cpu"]


def _help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def _subparser(name):
    parser = build_parser(prog="imsat-sklearn")
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser if name is None else commands.choices[name]


def _flat(text):
    return " ".join(text.split())


@pytest.mark.parametrize("command", [None, "cluster"])
def test_help_explains_every_option_with_its_default(command, capsys):
    text = _help([command] if command else [], capsys)
    flat = _flat(text)
    assert "`" not in text  # no reST markup
    assert "IMSAT" in text
    defaults = IMSATClusterer().get_params()
    for action in _subparser(command)._actions:
        if not action.option_strings:
            continue
        for option in action.option_strings:
            assert option in text
        assert action.help, f"{action.option_strings} has no help text"
        if action.default in (None, False, argparse.SUPPRESS):
            continue
        default = action.default
        shown = " ".join(map(str, default)) if isinstance(default, list) else str(default)
        assert f"(default: {shown})" in flat, action.option_strings
    if command == "cluster":
        # Options left unset take the estimator's defaults, and the help says which.
        assert f"(default: the estimator's, {defaults['max_iter']})" in flat
        assert f"(default: the estimator's, {defaults['n_init']})" in flat
        assert "IMSAT_SKLEARN_DATA" in flat and "K-means" in flat
        assert "--min-updates" not in text


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"imsat-sklearn {version('imsat-sklearn')} (torch ")


def test_program_name_follows_argv0():
    assert prog_name("/src/imsat_sklearn/__main__.py") == "python -m imsat_sklearn"
    assert prog_name("/venv/bin/imsat-sklearn") == "imsat-sklearn"
    assert build_parser(prog="imsat-sklearn").format_usage().startswith("usage: imsat-sklearn ")


def test_program_name_of_the_module_and_the_console_script():
    run = [sys.executable, "-m", "imsat_sklearn", "--help"]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert out.startswith("usage: python -m imsat_sklearn ")
    script = shutil.which("imsat-sklearn")
    if script is None:
        pytest.skip("the imsat-sklearn console script is not on PATH")
    out = subprocess.run([script, "cluster", "--help"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("usage: imsat-sklearn cluster ")


def test_cluster_prints_imsat_and_kmeans_side_by_side(capsys):
    assert main(["cluster", *FAST, "--random-state", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("digits: 1797 samples x 64 features, 10 clusters")
    assert "device: cpu" in lines
    header = next(line for line in lines if line.startswith("method"))
    assert header.split() == ["method", "ACC", "NMI", "ARI", "fit", "time"]
    imsat = next(line for line in lines if line.startswith("IMSAT ("))
    kmeans = next(line for line in lines if line.startswith("K-means (n_init=10)"))
    # The columns line up: every row is as long as the header.
    assert len(imsat) == len(kmeans) == len(header)
    imsat_scores = [float(v) for v in imsat.split(")", 1)[1].split()[:4]]
    kmeans_scores = [float(v) for v in kmeans.split(")", 1)[1].split()[:4]]
    assert imsat_scores[0] > 0.3  # a few hundred updates already beat chance (0.1) by far
    assert 0.7 < kmeans_scores[0] < 0.9  # K-means on digits: about 0.79
    assert all(0 <= v <= 1 for v in imsat_scores[:3] + kmeans_scores[:3])


class _Recorder:
    """Stands in for IMSATClusterer: records its arguments, predicts one cluster."""

    kwargs = None

    def __init__(self, **kwargs):
        type(self).kwargs = kwargs
        self.n_iter_ = 0

    def get_params(self):
        return {**IMSATClusterer().get_params(), **self.kwargs}

    def fit_predict(self, X):
        return np.zeros(len(X), dtype=int)


def test_unset_options_keep_the_estimators_defaults(monkeypatch, capsys):
    monkeypatch.setattr(cli, "IMSATClusterer", _Recorder)
    assert main(["cluster", "--device", "cpu"]) == 0
    assert set(_Recorder.kwargs) == {"n_clusters", "device", "random_state", "verbose"}
    assert main(["cluster", "--device", "cpu", "--max-iter", "7", "--n-init", "2", "--hidden-layer-sizes"]) == 0
    assert _Recorder.kwargs["max_iter"] == 7 and _Recorder.kwargs["n_init"] == 2
    assert _Recorder.kwargs["hidden_layer_sizes"] == ()
    assert main(["cluster", "--device", "cpu", "--n-init", "auto"]) == 0
    assert _Recorder.kwargs["n_init"] == "auto"
    assert "min_updates" not in _Recorder.kwargs
    assert "K-means (n_init=10)" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_n_init_is_refused_naming_the_option(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["cluster", "--n-init", value])
    assert exit_info.value.code == 2
    assert f"argument --n-init: must be 'auto' or a positive integer; got '{value}'" in capsys.readouterr().err


def test_missing_mnist_files_is_a_clear_error(tmp_path, capsys):
    assert main(["cluster", "--dataset", "mnist", "--data-home", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Dataset file(s) not found:")
    assert str(tmp_path) in err and "IMSAT_SKLEARN_DATA" in err
    # The expected layout: the mnist folder and its four files.
    assert "DATA_HOME/mnist/" in err and "t10k-labels-idx1-ubyte.gz" in err
    assert "Traceback" not in err


def test_missing_files_exit_with_status_2_and_no_traceback(tmp_path):
    run = [sys.executable, "-m", "imsat_sklearn", "cluster", "--dataset", "mnist", "--data-home", str(tmp_path)]
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 2
    assert "IMSAT_SKLEARN_DATA" in result.stderr and "Traceback" not in result.stderr


def test_bad_device_is_a_clear_error(capsys):
    assert main(["cluster", "--max-iter", "1", "--device", "gpu7"]) == 2
    assert "device='gpu7' is not a valid device" in capsys.readouterr().err


def test_bad_layer_size_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["cluster", "--hidden-layer-sizes", "0"])
    assert exit_info.value.code == 2
    assert "layer sizes must be positive integers" in capsys.readouterr().err


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_the_reproduction_is_a_benchmark_script_not_a_command(capsys):
    # The paper's table lives in benchmarks/reproduce_clustering.py, outside the installed package.
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--datasets", "digits"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'reproduce'" in capsys.readouterr().err
    assert "python benchmarks/reproduce_clustering.py" in _help([], capsys)
