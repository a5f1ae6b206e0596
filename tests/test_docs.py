"""The documentation site builds with ``mkdocs build --strict``, and the strict build catches
what it promises to catch: a broken link, a cross-reference to nothing, a docstring the
reference cannot read. The built site shows every command's own ``--help``, keeps inline
code in the notebooks' tables of contents, serves MathJax itself and loads nothing from
another site; the home page and Getting started list every notebook and every file the
demo writes.

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
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "docs" / "hooks"))
import cli_help  # noqa: E402  (the hook that fills in the command-line page)


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


@pytest.fixture(scope="module")
def site(mkdocs_yml: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module's tests with ``mkdocs build --strict``."""
    site = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr
    return site


def page_text(html_text: str) -> str:
    """What a reader sees of some HTML: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


@pytest.mark.slow
def test_the_site_builds_strictly(site: Path) -> None:
    # every notebook is a page, shown with its committed outputs
    for notebook in NOTEBOOKS:
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


@pytest.mark.slow
def test_the_command_line_page_shows_every_commands_own_help(site: Path) -> None:
    commands = cli_help.program_commands(ROOT)
    assert {"demo", "train", "evaluate", "graph", "explore", "gpt"} <= set(commands)
    shown = page_text((site / "cli" / "index.html").read_text(encoding="utf-8"))
    for command in [[], *([name] for name in commands)]:
        assert cli_help.help_text(command, ROOT) in shown, command


def toc_links(page: str) -> list[tuple[str, str]]:
    """(anchor, text) of each entry of the page's table of contents (Material's sidebar)."""
    toc = page[page.index('data-md-component="toc"') :]
    entry = re.compile(r'<a href="#([^"]+)" class="md-nav__link">(.*?)</a>', re.DOTALL)
    return [(anchor, page_text(text).strip()) for anchor, text in entry.findall(toc)]


@pytest.mark.slow
def test_a_notebook_heading_keeps_its_inline_code_in_the_table_of_contents(site: Path) -> None:
    nb03 = (site / "notebooks" / "03_backprop_by_hand_a_neuron" / "index.html").read_text(
        encoding="utf-8"
    )
    assert ("now-with-backward", "Now with backward()") in toc_links(nb03)
    for notebook in NOTEBOOKS:  # every entry of every notebook links to a heading there
        page = (site / "notebooks" / notebook.stem / "index.html").read_text(encoding="utf-8")
        links = toc_links(page)
        assert links, notebook.name
        for anchor, text in links:
            heading = re.search(rf'<h[1-6] id="{re.escape(anchor)}">(.*?)<a class="anchor-l', page)
            assert heading and page_text(heading[1]).strip() == text, (notebook.name, anchor)


@pytest.mark.slow
def test_the_site_serves_mathjax_and_loads_nothing_from_another_site(
    mkdocs_yml: dict, site: Path
) -> None:
    for script in [*mkdocs_yml["extra_javascript"], *mkdocs_yml.get("extra_css", [])]:
        assert "://" not in script and (site / script).is_file(), script
    assert "mathjax/tex-mml-chtml.js" in " ".join(mkdocs_yml["extra_javascript"])
    fonts = site / "javascripts" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("*.woff")), "MathJax's fonts are not served"
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 30
    for page in pages:
        text = page.read_text(encoding="utf-8")
        loaded = re.findall(r'<(?:script|img|iframe)[^>]*\ssrc="([^"]*)"', text)
        loaded += [
            re.search(r'href="([^"]*)"', link)[1]
            for link in re.findall(r"<link[^>]*>", text)
            if 'href="' in link and 'rel="canonical"' not in link
        ]
        remote = [url for url in loaded if re.match(r"(https?:)?//", url)]
        assert not remote, (page.relative_to(site), remote)


def linked_notebooks(page: str) -> set[str]:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    return set(re.findall(r"\]\(notebooks/([\w.]+\.ipynb)\)", text))


@pytest.mark.parametrize("page", ["index.md", "getting-started.md"])
def test_the_home_page_and_getting_started_list_every_notebook(page: str) -> None:
    assert linked_notebooks(page) == {notebook.name for notebook in NOTEBOOKS}


@pytest.mark.slow
def test_the_home_page_and_getting_started_list_every_file_of_the_demo(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "tinygrad_edu", "demo", "--no-progress", "--out", "demo"]
    subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, check=True)
    written = sorted(path.name for path in (tmp_path / "demo").iterdir())
    assert "model.json" in written
    for page in ("index.md", "getting-started.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert all(f"`{name}`" in text for name in written), (page, written)


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


@pytest.mark.slow
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
