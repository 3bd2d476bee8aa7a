"""Sphinx configuration of the imsat_sklearn documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(``pip install -e ".[docs]"`` first). The gallery runs ``examples/plot_*.py``;
set ``IMSAT_SKLEARN_DATA`` to the benchmark data folder to run them on the
real data sets, otherwise they fall back to scikit-learn's digits.
"""

import sys
from pathlib import Path

# Document (and run the gallery against) this checkout's package, even where
# another copy of imsat_sklearn is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imsat_sklearn  # noqa: E402

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
# The class template documents the methods with autodoc; numpydoc's own
# method tables would repeat them and add scikit-learn's inherited ones.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- Gallery ---------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
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
