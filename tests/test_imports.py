"""The package's layers: every module imports only modules below it, and no import circle.

Read from the source (every ``import`` statement, at the top of a module or inside a
function), so an import made late to dodge a circle counts as much as any other. The
layers are those drawn in the contributing page.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinygrad_edu"

# Bottom first; a module may import modules of its own layer or below, never above.
LAYERS = [
    ["operators", "grad_mode", "graph", "_files", "_render"],
    ["engine"],
    ["fused", "interop", "_checks", "integer_inputs"],
    ["functional", "forward", "gradient_check", "program", "program_c", "expression"],
    ["nn", "losses", "optim", "datasets", "exercises"],
    ["training", "step"],
    ["viz"],
    ["pages"],
    ["cli", "__main__", "__init__"],
]
LAYER = {name: depth for depth, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    """``nn/layers.py`` -> ``nn.layers``; the package's own ``__init__.py`` -> ``__init__``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            base = node.module.removeprefix("tinygrad_edu").lstrip(".")
            if not node.module.startswith("tinygrad_edu"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}".lstrip(".")
                found.add(candidate if candidate in modules else base or "__init__")
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("tinygrad_edu.")
                for a in node.names
                if a.name.startswith("tinygrad_edu.")
            )
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def _layer(module: str) -> int:
    top = module.split(".")[0]  # nn.layers is in nn's layer
    if top not in LAYER:
        pytest.fail(f"module {module!r} is in no layer: add it to LAYERS and the contributing page")
    return LAYER[top]


def test_no_module_imports_a_module_above_it() -> None:
    upward = [
        f"{module} (layer {_layer(module)}) imports {imported} (layer {_layer(imported)})"
        for module, imported_set in _graph().items()
        for imported in sorted(imported_set)
        if _layer(imported) > _layer(module)
    ]
    assert not upward, "\n".join(upward)


def test_there_is_no_import_circle() -> None:
    try:
        graphlib.TopologicalSorter(_graph()).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import circle: {' -> '.join(error.args[1])}")


def test_the_checks_see_a_circle_and_an_upward_import() -> None:
    """The two checks can fail: a made-up pair of modules that import each other."""
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).prepare()
    assert _layer("engine") < _layer("fused") < _layer("nn.layers") < _layer("pages")
