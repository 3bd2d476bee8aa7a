"""Sphinx configuration of the imsat_sklearn documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(``pip install -e ".[docs]"`` first). The gallery runs ``examples/plot_*.py``;
set ``IMSAT_SKLEARN_DATA`` to the benchmark data folder to run them on the
real data sets, otherwise they fall back to scikit-learn's digits. To run
only some examples while writing one, set ``SPHINX_GALLERY_PATTERN`` to a
regular expression of their paths (``/plot_choosing``); the others are
then rendered without running.
"""

import os
import re
import sys
from pathlib import Path

# Document (and run the gallery against) this checkout's package, even where
# another copy of imsat_sklearn is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imsat_sklearn  # noqa: E402
import imsat_sklearn.datasets  # noqa: E402

project = "imsat_sklearn"
author = "imsat_sklearn developers"
copyright = "imsat_sklearn developers"
release = imsat_sklearn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # Ships MathJax with the site: pages opened from disk, offline, show formulas, not LaTeX.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "sg_execution_times.rst"]
root_doc = "index"
default_role = "literal"

# -- API reference ---------------------------------------------------------
autosummary_generate = True
# Class pages as in scikit-learn: numpydoc puts a table of all methods,
# inherited ones included (fit_predict, get_params, set_output, ...), under
# the docstring, and the class template documents each of them below it.
numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = True
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# "Read more in the User Guide" after the summary of each API page, as in
# scikit-learn: object -> label of its user-guide section.
USER_GUIDE = {
    "imsat_sklearn.IMSATClusterer": "objective",
    "imsat_sklearn.IMSATHasher": "clustering-vs-hashing",
    "imsat_sklearn.augment.BaseAugmentation": "custom-augmentations",
    "imsat_sklearn.augment.GaussianNoise": "augmentation",
    "imsat_sklearn.augment.RandomAffine": "augmentation",
    "imsat_sklearn.metrics.clustering_accuracy": "reproduction",
    "imsat_sklearn.metrics.hamming_precision_recall_curve": "reproduction",
    "imsat_sklearn.metrics.hamming_ranking_map": "clustering-vs-hashing",
    "imsat_sklearn.metrics.precision_at_k": "clustering-vs-hashing",
    "imsat_sklearn.metrics.precision_within_radius": "clustering-vs-hashing",
    "imsat_sklearn.hashing.pack_codes": "clustering-vs-hashing",
    "imsat_sklearn.hashing.hamming_distances": "clustering-vs-hashing",
    "imsat_sklearn.hashing.hamming_search": "clustering-vs-hashing",
    "imsat_sklearn.distributed.fit_distributed": "scaling-distributed",
    **{
        f"imsat_sklearn.datasets.{name}": "benchmark-data"
        for name in imsat_sklearn.datasets.__all__
        if name != "DATA_HOME_ENV"
    },
}

# The estimators' docstrings write their objective as a plain-text literal
# block (readable in help()); the site renders it as math.
OBJECTIVES = {
    "R_SAT + lam * (H(Y|X) - mu * H(Y))": (
        r"R_{\mathrm{SAT}} + \lambda \bigl( H(Y \mid X) - \mu \, H(Y) \bigr)"
    ),
    "R_SAT + lam * (H(Y|X) - sum_m H(Y_m) + w * sum_{m != l} I(Y_m; Y_l))": (
        r"R_{\mathrm{SAT}} + \lambda \Bigl( H(Y \mid X) - \sum_{m=1}^{M} H(Y_m)"
        r" + w \sum_{m \neq l} I(Y_m; Y_l) \Bigr)"
    ),
}


def _render_objective(lines):
    """Replace a known plain-text objective (a ``::`` literal block) by a math block."""
    for i, line in enumerate(lines[:-2]):
        formula = lines[i + 2].strip() if line.rstrip().endswith("::") and not lines[i + 1].strip() else None
        if formula in OBJECTIVES:
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = line.rstrip()[:-1]  # "minimises::" -> "minimises:"
            lines[i + 1 : i + 3] = ["", f"{indent}.. math::", "", f"{indent}   {OBJECTIVES[formula]}"]
            return


def _add_user_guide_link(lines, label):
    """Insert "Read more in the User Guide." after the summary paragraph."""
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    lines[end:end] = ["", f"Read more in the :ref:`User Guide <{label}>`."]


# Methods inherited from scikit-learn refer to labels of scikit-learn's own
# documentation; they become links to its pages.
SKLEARN_DOCS = "https://scikit-learn.org/stable/"
SKLEARN_PAGES = {"metadata_routing": "metadata_routing.html"}


def _sklearn_link(match):
    text, label = match.group("text"), match.group("label") or match.group("text")
    example = re.fullmatch(r"sphx_glr_auto_examples_(\w+?)_(plot_\w+)\.py", label)
    if example:
        page = f"auto_examples/{example.group(1)}/{example.group(2)}.html"
        text = "this example" if text == label else text
    else:
        page = SKLEARN_PAGES.get(label, "user_guide.html")
        text = f"scikit-learn's {text}" if text.lower() == "user guide" else text
    return f"`{text} <{SKLEARN_DOCS}{page}>`__"


def _link_sklearn_refs(lines):
    pattern = re.compile(r":ref:`(?P<text>[^`<]+?)(?:\s*<(?P<label>[^>`]+)>)?`")
    lines[:] = [pattern.sub(_sklearn_link, line) for line in lines]


def _process_docstring(app, what, name, obj, options, lines):
    if what == "method" and getattr(obj, "__module__", "").startswith("sklearn."):
        _link_sklearn_refs(lines)
    if what not in ("class", "function"):
        return
    _render_objective(lines)
    if name in USER_GUIDE:
        _add_user_guide_link(lines, USER_GUIDE[name])


def setup(app):
    # Before numpydoc (priority 500) parses the sections.
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)


# -- Gallery ---------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": os.environ.get("SPHINX_GALLERY_PATTERN", r"/plot_"),
    "doc_module": ("imsat_sklearn",),
    "backreferences_dir": "generated/backreferences",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "min_reported_time": 1,
}

# -- HTML ------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"imsat_sklearn {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    # Gallery pages give the right-hand column to code and figures. The
    # theme wants patterns that do not overlap; "*" matches top-level pages.
    "secondary_sidebar_items": {
        "*": ["page-toc"],
        "user_guide/*": ["page-toc"],
        "generated/*": ["page-toc"],
        "auto_examples/*": [],
    },
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": []}
html_context = {"default_mode": "light"}
