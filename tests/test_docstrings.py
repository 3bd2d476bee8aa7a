"""The public docstrings are complete: numpydoc validation plus our own rules.

Checked objects: every callable in ``imsat_sklearn.__all__``, every public
function and class of the public modules (their ``__all__``, or the public
names they define), and the public methods those classes define (methods
inherited from scikit-learn are scikit-learn's to document). Each must pass
numpydoc's checks except the codes in ``IGNORED``, and:

* functions and classes have an Examples section (the doctests run with
  ``python -m pytest --doctest-modules imsat_sklearn``);
* functions and methods have a Raises section, except those in ``NO_RAISES``;
* every ndarray in a Returns section states its shape and dtype;
* the estimators, metrics, hashing functions and dataset loaders cite the
  IMSAT paper with a section number.

The API reference (docs/api.rst) must list every checked function and class.
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest

import imsat_sklearn

numpydoc_validate = pytest.importorskip(
    "numpydoc.validate", reason="numpydoc is not installed (pip install -e '.[test]')"
)
docscrape = pytest.importorskip("numpydoc.docscrape")

PUBLIC_MODULES = ["augment", "datasets", "distributed", "estimator_checks", "hashing", "metrics"]

IGNORED = {
    "ES01": "an extended summary adds nothing to short methods such as predict",
    "SA01": "See Also is given where a related object helps, not everywhere",
    "SS05": "false positives on noun-phrase summaries such as 'Parameters of ...'",
    "RT02": "return values are named ('labels : ndarray ...'), as in scikit-learn",
    "EX01": "enforced below for functions and classes only; methods share the class example",
}

NO_RAISES = {
    "imsat_sklearn.datasets.get_data_home": "resolves a path and never raises",
    "imsat_sklearn.augment.BaseAugmentation.get_params": "returns attributes and never raises",
}

PAPER_TIED_MODULES = ["hashing", "metrics"]
PAPER = "1702.08720"

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def _module_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module.__name__
        ]
    return [name for name in names if callable(getattr(module, name))]


def _public_objects():
    """Import paths of the public functions and classes."""
    paths = [f"imsat_sklearn.{name}" for name in imsat_sklearn.__all__ if callable(getattr(imsat_sklearn, name))]
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"imsat_sklearn.{module_name}")
        paths += [f"{module.__name__}.{name}" for name in _module_names(module)]
    return paths


def _resolve(path):
    module_name, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except ModuleNotFoundError:
        return getattr(_resolve(module_name), name)


def _public_methods(path, public_classes):
    """Public methods of the class at ``path`` that this package defines.

    A method inherited from another public class is checked there, once.
    """
    cls = _resolve(path)
    methods = []
    for name in sorted(dir(cls)):
        if name.startswith("_") and name != "__call__":
            continue
        owner = next((klass for klass in cls.__mro__ if name in vars(klass)), None)
        ours = owner is not None and owner.__module__.startswith("imsat_sklearn")
        checked_elsewhere = owner is not cls and owner in public_classes
        if ours and not checked_elsewhere and callable(getattr(cls, name)):
            methods.append(f"{path}.{name}")
    return methods


OBJECTS = _public_objects()
CLASSES = [path for path in OBJECTS if inspect.isclass(_resolve(path))]
METHODS = [method for path in CLASSES for method in _public_methods(path, {_resolve(p) for p in CLASSES})]


def _errors(path):
    result = numpydoc_validate.validate(path)
    return [f"{code}: {message}" for code, message in result["errors"] if code not in IGNORED]


def _sections(path):
    obj = _resolve(path)
    if inspect.isclass(obj):
        return docscrape.ClassDoc(obj, config={"show_class_members": False})
    return docscrape.FunctionDoc(obj, config={})


@pytest.mark.parametrize("path", OBJECTS + METHODS)
def test_numpydoc_validation(path):
    errors = _errors(path)
    assert not errors, f"{path}:\n" + "\n".join(errors)


@pytest.mark.parametrize("path", OBJECTS)
def test_functions_and_classes_have_examples(path):
    assert _sections(path)["Examples"], f"{path} has no Examples section"


@pytest.mark.parametrize("path", [p for p in OBJECTS + METHODS if not inspect.isclass(_resolve(p))])
def test_raises_section(path):
    if path in NO_RAISES:
        pytest.skip(NO_RAISES[path])
    assert _sections(path)["Raises"], f"{path} has no Raises section"


@pytest.mark.parametrize("path", [p for p in OBJECTS + METHODS if not inspect.isclass(_resolve(p))])
def test_returned_arrays_state_shape_and_dtype(path):
    for value in _sections(path)["Returns"]:
        if value.type.startswith("ndarray"):
            text = value.type + " " + " ".join(value.desc)
            assert "shape" in text and "dtype" in text, f"{path}: return {value.name!r} lacks shape or dtype"


def _paper_tied():
    tied = [f"imsat_sklearn.{name}" for name in imsat_sklearn.__all__ if inspect.isclass(getattr(imsat_sklearn, name))]
    tied += [p for p in OBJECTS if p.split(".")[1] in PAPER_TIED_MODULES]
    tied += [p for p in OBJECTS if p.startswith("imsat_sklearn.datasets.load_")]
    return tied


@pytest.mark.parametrize("path", _paper_tied())
def test_cites_the_paper_section(path):
    references = " ".join(_sections(path)["References"])
    assert PAPER in references, f"{path}: References do not cite arXiv:{PAPER}"
    assert re.search(r"Sections? \d", references), f"{path}: References name no section of the paper"


def test_api_reference_lists_every_public_object():
    page = API_PAGE.read_text(encoding="utf-8")
    listed = set(re.findall(r"^   (\w+)$", page, flags=re.MULTILINE))
    missing = [path for path in OBJECTS if path.rpartition(".")[2] not in listed]
    assert not missing, f"not in an autosummary of docs/api.rst: {missing}"


def _undocumented(x, y):
    """Add two numbers."""
    return x + y


def test_the_checks_catch_missing_sections():
    errors = _errors(f"{__name__}._undocumented")
    assert any(error.startswith("PR01") for error in errors)
    assert any(error.startswith("RT01") for error in errors)
