"""Interactive pages benchmark: size, build time and time to open in Chromium.

* ``explore`` of a 100-Value graph (33 ``tanh(0.9 y + 0.1)`` steps), against
  ``viz.to_svg`` of the same graph, the static picture it is built on. Target: the page
  is under 1 MB and opens in under 1 s.
* ``training_page`` of 100 snapshots (an MLP 2-16-16-1 on 100 moons points, a snapshot
  after every step, 20 × 20 decision-boundary grid), against ``fit`` with no recorder.
  Target: under 5 MB.

"Opens" is the time from the start of navigation to the end of the load event in
headless Chromium (the page's script has run and drawn the first position), read from
the page's own ``performance`` timing. Medians over ``--repeats`` runs.

Run: ``python benchmarks/bench_pages.py`` (needs Playwright and ``chromium`` on PATH).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from timing import median_time  # the median of repeated runs, shared by the benchmarks

from tinygrad_edu import Value, datasets, nn, topological_order, training, viz

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def graph_of_100() -> Value:
    y = Value(0.5, "x")
    for _ in range(33):
        y = (y * 0.9 + 0.1).tanh()
    assert len(topological_order(y)) == 100
    return y


def open_seconds(browser, path: Path, repeats: int) -> float:
    """Median navigation start to load event end, in seconds, in a fresh tab each time."""
    times = []
    for _ in range(repeats):
        page = browser.new_page()
        page.goto(path.as_uri())
        times.append(
            page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000
        )
        page.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    folder = Path(tempfile.mkdtemp())

    root = graph_of_100()
    viz.to_svg(root)  # compile the WebAssembly Graphviz once, before timing anything
    svg_time = median_time(lambda: viz.to_svg(root), repeats)
    page_time = median_time(lambda: viz.explore(root), repeats)
    explore_path = viz.explore(root).save_html(folder / "explore.html")

    X, y = datasets.make_moons(100, noise=0.1, seed=0)  # noqa: N806
    fit_time = median_time(
        lambda: training.fit(nn.MLP(2, [16, 16, 1], seed=0), X, y, steps=99, progress=False),
        max(1, repeats // 2),
    )
    model = nn.MLP(2, [16, 16, 1], seed=0)
    recorder = viz.TrainingRecorder(model, X, y, every=1)
    start = time.perf_counter()
    training.fit(model, X, y, steps=99, progress=False, callback=recorder)
    recorded_time = time.perf_counter() - start
    training_path = viz.training_page(recorder).save_html(folder / "training.html")

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        explore_open = open_seconds(browser, explore_path, repeats)
        training_open = open_seconds(browser, training_path, repeats)
        browser.close()

    print(f"explore, 100-Value graph: {explore_path.stat().st_size / 1e6:.3f} MB (target < 1)")
    print(
        f"  build {page_time * 1000:.1f} ms, to_svg alone {svg_time * 1000:.1f} ms "
        f"(ratio {page_time / svg_time:.2f})"
    )
    print(f"  opens in Chromium in {explore_open * 1000:.0f} ms (target < 1000)")
    print(
        f"training page, {len(recorder.snapshots)} snapshots: "
        f"{training_path.stat().st_size / 1e6:.3f} MB (target < 5)"
    )
    print(
        f"  fit 99 steps {fit_time:.2f} s; with a snapshot every step {recorded_time:.2f} s "
        f"(ratio {recorded_time / fit_time:.2f})"
    )
    print(f"  opens in Chromium in {training_open * 1000:.0f} ms")


if __name__ == "__main__":
    main()
