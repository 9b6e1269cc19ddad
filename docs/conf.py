"""Sphinx configuration of the skaudio_ad documentation.

Build (warnings are errors, the gallery is executed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Set ``SKAUDIO_AD_DOCS_PLOT_GALLERY=0`` to build without running the examples (the API
reference and the user guide then miss the gallery's figures and warn about them).
"""

import contextlib
import io
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "sphinxext"))

import skaudio_ad  # noqa: E402

# -- Project ---------------------------------------------------------------------------------

project = "skaudio_ad"
author = "skaudio_ad developers"
copyright = "skaudio_ad developers, BSD-3-Clause"
release = skaudio_ad.__version__
version = ".".join(release.split(".")[:2])
REPOSITORY = "https://github.com/skaudio-ad/skaudio_ad"

# -- General ---------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.extlinks",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "gen_modules/backreferences", "gen_modules/cli", "Thumbs.db"]
root_doc = "index"
default_role = "literal"
highlight_language = "none"  # literal blocks (folder layouts, output) stay plain text

# Files that may not exist yet (benchmark results are written by the benchmark scripts) are
# linked on GitHub, never included.
extlinks = {
    "repo": (f"{REPOSITORY}/blob/main/%s", "%s"),
}

# -- autodoc / autosummary / numpydoc --------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc type lines say it better
# numpydoc's class member tables would list the inherited scikit-learn methods, whose
# docstrings point into scikit-learn's own user guide (unresolvable here).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False  # its aliases point into numpy's and Python's inventories

# -- sphinx-gallery --------------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skaudio_ad",),
    "reference_url": {"skaudio_ad": None},
    "plot_gallery": os.environ.get("SKAUDIO_AD_DOCS_PLOT_GALLERY", "True"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "matplotlib_animations": False,
    "image_srcset": [],
    "default_thumb_file": None,
    "show_memory": False,
    # Run times are printed in the build log; a written page would land in the source tree.
    "write_computation_times": False,
}

# -- HTML ------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skaudio_ad {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "github_url": REPOSITORY,
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# The examples are wide code: they get the full width, without the section navigation
# (the gallery page and the previous/next links lead from one to the next).
html_sidebars = {
    "index": [],
    "auto_examples/*": [],
}

# -- The command line's --help, generated at build time so that it never drifts --------------


def _write_cli_help(app):
    from skaudio_ad._cli import main

    out = DOCS / "gen_modules" / "cli"
    out.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps at the terminal width
    try:
        for command in ("", "demo", "fit", "score", "evaluate", "monitor"):
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                main([command, "--help"] if command else ["--help"])
            (out / f"{command or 'main'}.txt").write_text(text.getvalue())
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


# A numpydoc type line such as ``ndarray of shape (n_features_in_,)`` is plain reST, where a
# word ending in "_" is a hyperlink reference ("Unknown target name"). Escape that underscore
# in the type part of the parameter lines numpydoc produces (``**name** : type``), after
# numpydoc has run (its handler has the default priority, 500).
_PARAM_LINE = re.compile(r"^(\s*\*\*.+?\*\* : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\\])\b([A-Za-z]\w*?)_(?=[\s,.;:)\]]|$)")


def _escape_type_references(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        match = _PARAM_LINE.match(line)
        if match and "`" not in match.group(2):
            lines[i] = match.group(1) + _TRAILING_UNDERSCORE.sub(r"\1\\_", match.group(2))


def _skip_metadata_requests(app, what, name, obj, skip, options):
    # scikit-learn generates set_{method}_request for estimators with metadata (the fleet's
    # machine_ids); their docstrings point into scikit-learn's own glossary.
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _write_cli_help)
    app.connect("autodoc-skip-member", _skip_metadata_requests)
    app.connect("autodoc-process-docstring", _escape_type_references, priority=900)
