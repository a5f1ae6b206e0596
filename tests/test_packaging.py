"""The notebooks extra installs what the notebooks import and what opens them."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # the standard library reads TOML from Python 3.11

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# import name -> the distribution that provides it, where the two differ
DISTRIBUTION = {"IPython": "ipython"}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in requirements
    }


def _required_imports(source: str) -> set[str]:
    """Top-level modules a cell imports outside a ``try`` (an optional import has a fallback)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    tree = ast.parse(code)
    optional = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.Try)
        for statement in block.body
        for node in ast.walk(statement)
    }
    modules = set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def test_the_notebooks_extra_covers_every_import_and_jupyter_lab() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = _requirement_names(project["optional-dependencies"]["notebooks"])
    installed = extra | _requirement_names(project["dependencies"]) | {"tinygrad-edu"}
    # `jupyter lab notebooks/` needs JupyterLab and a Python kernel
    assert {"jupyterlab", "ipykernel"} <= extra
    imported = set()
    for notebook in NOTEBOOKS:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                imported |= _required_imports("".join(cell["source"]))
    third_party = {
        DISTRIBUTION.get(name, name).replace("_", "-").lower()
        for name in imported
        if name not in sys.stdlib_module_names
    }
    assert {"matplotlib", "numpy"} <= third_party  # the check sees what the notebooks use
    # IPython comes with ipykernel
    assert third_party - {"ipython"} <= installed, third_party - installed
