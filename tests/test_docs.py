"""The documentation site builds with ``mkdocs build --strict``, and the strict build catches
what it promises to catch: a broken link, a cross-reference to nothing, a docstring the
reference cannot read.

Locally these tests are skipped without MkDocs (``pip install -e ".[docs]"``); in CI (``CI``
set) a missing MkDocs is an error, so the site is always checked there.
"""

from __future__ import annotations

import copy
import html
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mkdocs_yml() -> dict:
    """The project's ``mkdocs.yml`` (after checking that MkDocs is there to read it)."""
    if os.environ.get("CI"):
        importlib.import_module("mkdocs")
    else:
        pytest.importorskip("mkdocs")
    yaml = importlib.import_module("yaml")  # MkDocs depends on PyYAML
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def build(config_file: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` run from the repository's root on this checkout's code."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "NO_MKDOCS_2_WARNING": "1",  # Material's notice about a future MkDocs, not ours
    }
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file"]
    return subprocess.run(
        [*command, str(config_file), "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)


PAGES_WITH_EXAMPLES = sorted(
    page.relative_to(ROOT).as_posix()
    for page in (ROOT / "docs").rglob("*.md")
    if python_blocks(page)
)


def test_pages_with_examples_are_found() -> None:
    assert {"docs/index.md", "docs/concepts.md"} <= set(PAGES_WITH_EXAMPLES)


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_each_pages_python_examples_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's ``python`` blocks run, in order, as one program (as the README's do)."""
    blocks = python_blocks(ROOT / page)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)


def test_the_site_builds_strictly(mkdocs_yml: dict, tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr

    # every notebook is a page, shown with its committed outputs
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        page = (site / "notebooks" / notebook.stem / "index.html").read_text(encoding="utf-8")
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        texts = [
            "".join(output.get("text") or output.get("data", {}).get("text/plain", "")).strip()
            for cell in cells
            for output in cell.get("outputs", [])
        ]
        shown = [text.splitlines()[0] for text in texts if text]
        assert shown, f"{notebook.name} is committed without outputs"
        assert shown[0] in html.unescape(page), notebook.name

    # the reference is generated from the code: a documented method has its anchor
    engine = (site / "reference" / "engine" / "index.html").read_text(encoding="utf-8")
    assert 'id="tinygrad_edu.engine.Value.backward"' in engine
    assert 'id="tinygrad_edu.engine.Value.tanh"' in engine  # built from the table of ops

    # the command-line page shows the program's own help
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    for option in ("--dataset", "--optimizer", "--format", "NAME=VALUE"):
        assert option in cli


BROKEN_PAGE = """\
# A page with three mistakes

A link to [a page that does not exist](missing.md).

A cross-reference to [nothing][tinygrad_edu.no_such_function].

::: faulty
"""

FAULTY_MODULE = '''\
"""A module whose function's docstring cannot be read."""


def scale(x: float) -> float:
    """Multiply by two; see :func:`no_such_helper`.

    Args:
        x
    """
    return 2 * x
'''


def test_the_strict_build_fails_on_each_kind_of_mistake(mkdocs_yml: dict, tmp_path: Path) -> None:
    """A small site with the project's settings and three mistakes: each one is reported."""
    yaml = importlib.import_module("yaml")
    docs, code = tmp_path / "docs", tmp_path / "code"
    docs.mkdir()
    code.mkdir()
    (docs / "index.md").write_text(BROKEN_PAGE, encoding="utf-8")
    (code / "faulty.py").write_text(FAULTY_MODULE, encoding="utf-8")
    config = copy.deepcopy(mkdocs_yml) | {"docs_dir": str(docs), "nav": ["index.md"]}
    config["hooks"] = [str(ROOT / hook) for hook in mkdocs_yml["hooks"]]
    python = next(p for p in config["plugins"] if "mkdocstrings" in p)["mkdocstrings"]
    options = python["handlers"]["python"]
    options["paths"] = [str(code), str(ROOT)]
    options["options"]["extensions"] = [str(ROOT / e) for e in options["options"]["extensions"]]
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")

    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")

    assert result.returncode != 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert any("missing.md" in line for line in warnings), result.stderr  # broken link
    assert any("tinygrad_edu.no_such_function" in line for line in warnings), result.stderr
    assert any("no_such_helper" in line for line in warnings), result.stderr  # bad role
    assert any("faulty.py" in line and "'name: description'" in line for line in warnings), (
        result.stderr  # an Args entry that is not "name: description"
    )
