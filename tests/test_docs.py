"""The documentation stays in step with the code: every public object is in the API
reference, the home page's quickstart is the code the gallery executes, and the figures the
user guide borrows from the gallery come from examples that exist.

Building the documentation (``make docs``) executes the examples; these checks only read
files, so they run in ``make test`` in well under a second.
"""

import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
EXAMPLES = REPO_ROOT / "examples"

PUBLIC_MODULES = [
    "skaudio_ad",
    "skaudio_ad.datasets",
    "skaudio_ad.exceptions",
    "skaudio_ad.io",
    "skaudio_ad.metrics",
    "skaudio_ad.plotting",
]


def _documented_names():
    """``{module: {names}}`` listed in autosummary blocks of api.rst, by currentmodule."""
    documented, module, in_autosummary = {}, None, False
    for line in (DOCS / "api.rst").read_text().splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module = match.group(1)
            continue
        if line.startswith(".. autosummary::"):
            in_autosummary = True
            continue
        if in_autosummary:
            if line and not line.startswith(" "):
                in_autosummary = False
            elif (name := line.strip()) and not name.startswith(":"):
                documented.setdefault(module, set()).add(name)
    return documented


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_api_reference_lists_every_public_object(module_name):
    module = importlib.import_module(module_name)
    public = {name for name in module.__all__ if not inspect.ismodule(getattr(module, name))}
    listed = _documented_names().get(module_name, set())
    assert public - listed == set(), f"add to docs/api.rst under {module_name}"
    assert listed - public == set(), f"docs/api.rst lists names not in {module_name}.__all__"


def _code_lines(text):
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def test_home_page_quickstart_is_the_gallery_quickstart():
    index = (DOCS / "index.rst").read_text()
    block = index.split(".. _quickstart:", 1)[1].split(".. code-block:: python", 1)[1]
    snippet = []
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith("   "):
            break
        snippet.append(line[3:])
    snippet = _code_lines("\n".join(snippet))
    assert len(snippet) >= 10
    example = _code_lines((EXAMPLES / "plot_quickstart.py").read_text())
    # Every line of the home page's snippet, in order, in the executed example.
    position = 0
    for line in snippet:
        assert line in example[position:], f"not in examples/plot_quickstart.py: {line!r}"
        position = example.index(line, position) + 1


def test_gallery_order_lists_every_example():
    spec = importlib.util.spec_from_file_location(
        "gallery_order", DOCS / "sphinxext" / "gallery_order.py"
    )
    gallery_order = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery_order)
    examples = sorted(path.name for path in EXAMPLES.glob("plot_*.py"))
    assert sorted(gallery_order.EXAMPLE_ORDER) == examples


def test_user_guide_figures_come_from_existing_examples():
    pages = [*DOCS.glob("*.rst"), *(DOCS / "user_guide").glob("*.rst")]
    for page in pages:
        for example in re.findall(r"sphx_glr_(plot_\w+?)_\d{3}\.png", page.read_text()):
            assert (EXAMPLES / f"{example}.py").is_file(), f"{page.name}: {example}"
        for example in re.findall(r"sphx_glr_auto_examples_(plot_\w+)\.py", page.read_text()):
            assert (EXAMPLES / f"{example}.py").is_file(), f"{page.name}: {example}"
