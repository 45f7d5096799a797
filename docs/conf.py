"""Sphinx configuration for pybench's documentation.

Build with ``uv run --group docs sphinx-build -W docs docs/_build/html``.
The figures under ``_static/`` are committed; ``docs/plots/*.py`` regenerate them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pybench import __version__  # noqa: E402

project = "pybench"
author = "the pybench authors"
copyright = "pybench authors"  # noqa: A001
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    # Serves a bundled copy of MathJax from _static/mathjax instead of a CDN, so the
    # maths renders without network access.
    "sphinx-mathjax-offline",
    "sphinx_click",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "plots", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"pybench {release}"
pygments_style = "friendly"
pygments_dark_style = "monokai"

html_static_path = ["_static"]
html_css_files = ["code-wrap.css"]
