"""MkDocs hook: the site serves its own MathJax, so formulas render offline.

MathJax comes from the npm registry as the ``mathjax`` package pinned in ``package.json``
and ``package-lock.json`` at the top of the repository. If ``node_modules/mathjax`` is not
there, the build runs ``npm ci`` once to fetch it (Node.js and npm are needed for that;
without them the build fails saying so). The files a page can ask for are then added to
the site under ``javascripts/mathjax/``: the combined TeX-and-MathML script with its CommonHTML
output, the web fonts it loads, the TeX extensions it loads on demand (``\\cancel``,
``\\boldsymbol``, ...) and the right-click menu with its accessibility options. The speech
engine (``sre``, 4 MB, used only by the menu's speech explorer) is left out.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]  # the repository, where package.json is
SITE_FOLDER = "javascripts/mathjax"  # where the site serves MathJax; see extra_javascript
SERVED = ["tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y"]


def on_files(files: Files, *, config: Any, **kwargs: Any) -> Files:
    """Add MathJax's files to the site."""
    es5 = mathjax_folder(ROOT)
    for served in SERVED:
        found = [es5 / served] if (es5 / served).is_file() else sorted((es5 / served).rglob("*"))
        for path in found:
            if path.is_file():
                uri = f"{SITE_FOLDER}/{path.relative_to(es5).as_posix()}"
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def mathjax_folder(root: Path) -> Path:
    """``node_modules/mathjax/es5`` of the repository, fetched with ``npm ci`` if missing."""
    es5 = root / "node_modules" / "mathjax" / "es5"
    if not es5.is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise PluginError(
                "MathJax is not installed and npm was not found: install Node.js and npm, "
                "then run 'npm ci' in the repository (see docs/contributing.md)"
            )
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=root, check=True)
    return es5
