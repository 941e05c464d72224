"""Sphinx configuration for symopt's documentation (build: see docs/index.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # document the source tree, not an installed copy

import symopt  # noqa: E402

project = "symopt"
author = "the symopt developers"
copyright = "symopt developers"
release = version = symopt.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# The API reference: numpy-style docstrings, members in source order, public names only.
autodoc_default_options = {"members": True, "member-order": "bysource", "undoc-members": False}
autodoc_typehints = "none"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
add_module_names = True

# Doctest blocks on the pages run with `sphinx-build -b doctest` (tests/test_docs.py runs it).
doctest_global_setup = "import numpy as np\nimport symopt\nfrom symopt import *  # noqa: F403 (the docstrings' examples use the public names bare)"
doctest_default_flags = (__import__("doctest").ELLIPSIS | __import__("doctest").NORMALIZE_WHITESPACE)

# The gallery: every script in examples/ runs when the site is built; its printed output is kept on its page.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "write_computation_times": False,
    "image_scrapers": ("matplotlib",),
}

html_theme = "alabaster"
html_title = "symopt"
html_static_path: list[str] = []
