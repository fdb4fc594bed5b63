"""Sphinx configuration for the dustsim documentation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MPLBACKEND", "Agg")

import dustsim

project = "dustsim"
author = "dustsim developers"
copyright = "2026, dustsim developers"
version = release = dustsim.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_click",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

autodoc_typehints = "none"
autodoc_member_order = "bysource"
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "xarray": ("https://docs.xarray.dev/en/stable", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
}
# Every reference must resolve (``nitpicky``): a broken target is a build error.
nitpicky = True
# CI has no network: intersphinx inventories are fetched only when asked for
# (DUSTSIM_DOCS_INTERSPHINX=1). Offline, references into those projects have no target
# here, so only they are excused; dustsim's own references must always resolve.
if not os.environ.get("DUSTSIM_DOCS_INTERSPHINX"):
    intersphinx_mapping = {}
    nitpick_ignore_regex = [(r"py:.*", rf"{package}\..*") for package in ("numpy", "scipy", "xarray", "torch")]

html_theme = "pydata_sphinx_theme"
html_title = f"dustsim {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
suppress_warnings = ["myst.header"]
