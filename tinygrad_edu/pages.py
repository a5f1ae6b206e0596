"""Interactive pages: step through the forward and backward pass, watch training.

A page is one self-contained HTML file: the picture (inline SVG or drawn by a few lines of
JavaScript from numbers kept in the page), the controls and the script, with no link to
anything outside it, so it works offline, from a file, in a saved notebook and in its
HTML export, with no Python running behind it.

>>> from tinygrad_edu import Value, viz
>>> x, w, b = Value(2.0, "x"), Value(-3.0, "w"), Value(1.0, "b")
>>> page = viz.explore((w * x + b).tanh())
>>> page.html.startswith("<!DOCTYPE html>")
True

* :func:`explore` shows one graph. "next" gives the nodes their values one by one, in
  topological order (the forward pass), then their gradients one by one, in the order
  ``backward()`` completes them (the backward pass). The current node is outlined in
  orange and the chain-rule step is written out with its numbers, for each parent::

      parent.grad += local derivative × node.grad

* :class:`TrainingRecorder` is a ``fit`` callback that keeps snapshots of a model as it
  trains; :func:`training_page` turns them into a page with a slider over the training
  steps: the decision boundary (2-D data), the loss and accuracy curves up to that step,
  and a heat map of each layer's weights.
* ``fit(..., live=True)`` shows that page in a Jupyter notebook and redraws it in place
  every few steps (a display handle; no widgets, no kernel needed to read it later).

A :class:`Page` shows itself in Jupyter (an ``<iframe srcdoc=...>``, so two pages in one
notebook never clash) and is written to a file by :meth:`Page.save_html`. Both commands
``tinygrad-edu explore`` and ``tinygrad-edu demo`` write pages too.

Sizes (``benchmarks/bench_pages.py``): a 100-node graph gives a page of about 0.2 MB, and
a training page of 100 snapshots of the demo's network about 0.55 MB (most of it the
model's scores on the grid). Graphs of more than ``max_nodes`` Values are refused as for
the static pictures; so are more than ``max_snapshots`` snapshots.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from tinygrad_edu import training
from tinygrad_edu._files import write_atomically
from tinygrad_edu.engine import Value, no_grad
from tinygrad_edu.viz import (
    CLASS_COLOURS,
    CLASS_REGION_COLOURS,
    _as_path,
    _checked_order,
    _number,
    _parameter_names,
    _Picture,
    boundary_grid,
    to_svg,
)

__all__ = ["LiveTraining", "Page", "TrainingRecorder", "explore", "training_page"]

_PX_PER_PT = 4 / 3  # Graphviz measures its SVG in points; the browser in CSS pixels
_TOOLTIP_LENGTH = 300  # an unnamed node's expression, shown on hover, is cut after this


class Page:
    """A self-contained interactive HTML page.

    ``page.html`` is the whole document. In Jupyter the page shows inline, in an
    ``<iframe>`` that holds the document itself (``srcdoc``), so it keeps working in the
    saved notebook and its HTML export; :meth:`save_html` writes it to a file for a
    browser.
    """

    def __init__(self, html_text: str, height: int, title: str) -> None:
        self.html = html_text
        self.height = height  # pixels the inline frame needs to show the page whole
        self.title = title

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (UTF-8, all at once); return the path."""
        return write_atomically(_as_path("save_html", "path", path), self.html)

    def _repr_html_(self) -> str:
        # The sandbox lets the page's own script run and nothing else: it cannot reach
        # the notebook around it, and the notebook's styles cannot reach it.
        return (
            f'<iframe title="{html.escape(self.title)}" sandbox="allow-scripts" '
            f'style="width: 100%; height: {self.height}px; border: 1px solid #ddd" '
            f'srcdoc="{html.escape(self.html, quote=True)}"></iframe>'
        )

    def __repr__(self) -> str:
        size = f"{len(self.html):,} characters of HTML"
        return f"<Page {self.title!r}: {size}; display it or save_html()>"


# --------------------------------------------------------------------------- explore


def explore(
    root: Value, *, model: object = None, rankdir: str = "LR", max_nodes: int | None = 500
) -> Page:
    """A page that steps through the forward and backward pass of ``root``'s graph.

    Position 0 shows the graph with every number unknown (``?``). Each "next" then

    1. (forward pass, one step per Value, in topological order) gives one node its
       value, computed from its parents: ``n = s + b = -0.7 + 0.2 = -0.5``;
    2. (backward pass, one step per Value, in the order ``backward()`` completes them)
       gives one node its gradient, and writes out, for each of its parents, the
       chain-rule step ``p.grad += ∂n/∂p × n.grad`` with its numbers and the sum so far.

    The gradients are computed here from each node's ``local_grads``, as one
    ``backward()`` from a fresh start would (an edge with local derivative 0 passes
    nothing on); no ``.grad`` attribute is read or changed, so ``root.backward()`` need
    not have been called. ``model``, ``rankdir`` and ``max_nodes`` are as for
    :func:`~tinygrad_edu.viz.draw_dot`; a graph larger than ``max_nodes`` is refused
    with the same message.

    >>> from tinygrad_edu import Value
    >>> page = explore(Value(3.0, "a") ** 2)
    >>> "a.grad += " in page.html
    True
    """
    order = _checked_order("explore", root, rankdir, False, max_nodes)
    model_names = _parameter_names("explore", model)
    names = _node_names(order, model_names)
    index = {node: i for i, node in enumerate(order)}

    grads, backward_steps = _backward_steps(order, names, index)
    unnamed = {node: names[node] for node in order if node.parents and not node.label}
    unnamed = {node: name for node, name in unnamed.items() if node not in model_names}
    expressions = _expressions(order, names, unnamed)
    tooltips = {node: f"{name} = {expressions[node]}" for node, name in unnamed.items()}
    picture = _Picture(order, rankdir, model_names, unnamed, tooltips)
    picture = picture.draw(grads, color_by_grad=False)
    svg = to_svg(picture)
    svg = svg[svg.index("<svg") :]  # inline: no XML declaration, no DOCTYPE

    data = {
        "nodes": [
            {"parents": [index[p] for p in node.parents], "hasOp": bool(node.parents)}
            for node in order
        ],
        "forward": [_forward_step(node, names, model_names) for node in order],
        "backward": backward_steps,
    }
    title = f"forward and backward pass of {names[root]}"
    height = round(_svg_height_pt(svg) * _PX_PER_PT) + 260
    return Page(_document("explore", title, data, svg), min(height, 900), title)


def _backward_steps(
    order: list[Value], names: dict[Value, str], index: dict[Value, int]
) -> tuple[dict[Value, float], list[dict[str, object]]]:
    """The final gradients and, per node in backward order, what its step shows: its
    title and lines, and ``grads``, the boxes whose gradient it changes, as
    ``[node index, number]``: the node's own (now complete) and each parent's sum so far,
    the very numbers the lines write out."""
    root = order[-1]
    received: dict[Value, float] = {root: 1.0}  # chain-rule shares summed so far
    grads: dict[Value, float] = {}
    steps = []
    for node in reversed(order):
        grad = received.pop(node, 0.0)  # every user of node came earlier: this is final
        grads[node] = grad
        shown = [[index[node], _number(grad)]]
        name = _grouped(names[node])  # (x * w).grad, not x * w.grad
        if node is root:
            lines = [f"{name}.grad = 1: the output's derivative with respect to itself"]
        else:
            lines = [
                f"{name}.grad = {_number(grad)} is complete: every use of it has passed its share"
            ]
        if not node.parents:
            lines.append(f"{name} is a leaf: nothing to pass on")
        elif grad == 0.0:  # as in backward(): a zero gradient passes nothing on
            lines.append(f"{name}.grad is 0: nothing to pass on")
            steps.append({"title": f"{name}.grad = 0", "lines": lines, "grads": shown})
            continue
        for parent, local_grad in zip(node.parents, node.local_grads):
            pname = _grouped(names[parent])
            if local_grad == 0.0:  # as in backward(): a zero slope passes nothing on
                total = received.get(parent, 0.0)
                lines.append(
                    f"{pname}.grad += ∂{name}/∂{pname} × {name}.grad: the local derivative "
                    f"is 0, nothing is passed on ({pname}.grad stays {_number(total)})"
                )
                continue
            share = local_grad * grad
            total = received[parent] = received.get(parent, 0.0) + share
            shown.append([index[parent], _number(total)])
            lines.append(
                f"{pname}.grad += ∂{name}/∂{pname} × {name}.grad = {_number(local_grad)} × "
                f"{_number(grad)} = {_number(share)}   → {pname}.grad is now {_number(total)}"
            )
        steps.append({"title": f"{name}.grad = {_number(grad)}", "lines": lines, "grads": shown})
    return grads, steps


def _forward_step(
    node: Value, names: dict[Value, str], model_names: dict[Value, str]
) -> dict[str, object]:
    name, value = names[node], _number(node.data)
    if not node.parents:
        kind = "a parameter of the model" if node in model_names else "an input (a leaf)"
        return {"title": f"{name} = {value}", "lines": [f"{name} = {value}: {kind}"]}
    formula = _formula(node, [names[p] for p in node.parents])
    numbers = _formula(node, [_number(p.data) for p in node.parents])
    equation = f"{formula} = {numbers} = {value}"
    if name != formula:
        equation = f"{name} = {equation}"
    return {"title": f"{name} = {value}", "lines": [equation]}


_INFIX = ("+", "-", "*", "/", "**")


def _formula(node: Value, operands: list[str]) -> str:
    """``node``'s operation applied to ``operands`` (its parents' names or numbers)."""
    constants = [_number(c) for c in node.constants]
    if node.op in _INFIX and len(operands) + len(constants) == 2:
        if len(operands) == 2:
            left, right = operands
        elif node.operation is not None and node.operation.reflected:  # 2 - x
            left, right = constants[0], operands[0]
        else:
            left, right = operands[0], constants[0]
        return f"{_grouped(left)} {node.op} {_grouped(right)}"
    if node.op == "w·x+b":  # constants are the data point: w0*x0 + w1*x1 + ... + b
        *weights, bias = operands
        terms = [f"{_grouped(w)}*{_grouped(x)}" for w, x in zip(weights, constants)]
        return " + ".join([*terms, bias])
    return f"{node.op}({', '.join([*operands, *constants])})"


def _grouped(text: str) -> str:
    """``text`` in parentheses when it holds a space or an operator sign (a formula, a
    negative number, a label such as ``x1*w1``), so ``(x1*w1).grad`` reads as one name."""
    return f"({text})" if any(sign in text for sign in " +-*/") else text


def _node_names(order: list[Value], model_names: dict[Value, str]) -> dict[Value, str]:
    """A name for every node in the step texts: the model's parameter name, else the
    label, else for an unnamed leaf its number (``[0.5]``), and for any other node a
    short name from its place in the forward pass, ``n7``, which its box shows too (the
    whole expression is shown on hover)."""
    names: dict[Value, str] = {}
    for i, node in enumerate(order):
        name = model_names.get(node) or node.label
        if not name:
            name = f"n{i}" if node.parents else f"[{_number(node.data)}]"
        names[node] = name
    return names


def _expressions(
    order: list[Value], names: dict[Value, str], unnamed: dict[Value, str]
) -> dict[Value, str]:
    """Each node as an expression of the named nodes and leaves, ``tanh(w*x + b)``, its
    ``unnamed`` nodes written out (cut after ``_TOOLTIP_LENGTH`` characters each), for
    the hover text of an unnamed node."""
    expressions: dict[Value, str] = {}
    for node in order:
        if node in unnamed:
            text = _formula(node, [expressions[p] for p in node.parents])
            if len(text) > _TOOLTIP_LENGTH:
                text = text[: _TOOLTIP_LENGTH - 1] + "…"
        else:
            text = names[node]
        expressions[node] = text
    return expressions


def _svg_height_pt(svg: str) -> float:
    start = svg.index('height="') + len('height="')
    return float(svg[start : svg.index("pt", start)])


# --------------------------------------------------------------------------- training


class TrainingRecorder:
    """A ``fit`` callback that keeps snapshots of the model for :func:`training_page`.

    It records the loss and accuracy of every step, and every ``every`` steps (and
    before the first) a snapshot: the weights of each layer, the accuracy on ``(X, y)``
    and, for 2-D data, the model's outputs on a ``grid`` × ``grid`` lattice over the data
    (``"outputs"``: each point's score, or its logits, one after the other), from which
    the page draws the decision boundary, interpolating between the lattice points so
    that it is a smooth line, not a staircase of blocks::

        recorder = viz.TrainingRecorder(model, X, y, every=5)
        fit(model, X, y, steps=100, callback=recorder)
        viz.training_page(recorder).save_html("training.html")

    A snapshot taken after ``k`` updates shows the weights the loss of step ``k`` is
    measured on: ``fit``'s ``history["accuracy"][k]`` equals the snapshot's accuracy.
    Evaluating the grid costs a forward pass per point (for a 20 × 20 grid and a 2-16-16-1
    network, about as long as three training steps), so snapshots are taken every few steps.
    """

    def __init__(
        self,
        model: object,
        X: Sequence[Sequence[float]],  # noqa: N803
        y: Sequence[int],
        *,
        every: int = 5,
        grid: int = 20,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"TrainingRecorder: every must be an int >= 1, got {every!r}")
        if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
            raise ValueError(f"TrainingRecorder: grid must be an int >= 2, got {grid!r}")
        if len(X) != len(y) or len(X) == 0:
            raise ValueError(
                f"TrainingRecorder: X and y must be non-empty and of the same length, "
                f"got {len(X)} samples and {len(y)} labels"
            )
        self.model = model
        self.layers = _weight_layers(model)
        self.X = [[v.data if isinstance(v, Value) else float(v) for v in x] for x in X]
        self.y = [int(label) for label in y]
        with no_grad():
            first_output = model(self.X[0])  # type: ignore[operator]
        several = "a model for several classes has one output per class"
        #: The class of each label, 0 to k-1, as the page colours it (-1/+1 labels: 0 and 1).
        self.classes = training._classes("TrainingRecorder", first_output, self.y, several)
        self.every = every
        self.grid = _grid_points(self.X, grid) if len(self.X[0]) == 2 else None
        self.losses: list[float] = []
        self.accuracies: list[float] = []
        self.snapshots: list[dict[str, object]] = []
        self.record()

    def __call__(self, step: int, loss: float, accuracy: float) -> None:
        """Called by ``fit`` after step ``step`` (from 1) with that step's loss and accuracy."""
        self.losses.append(loss)
        self.accuracies.append(accuracy)
        if step % self.every == 0:
            self.record()

    def record(self) -> None:
        """Take a snapshot of the model as it is now (after ``len(self.losses)`` steps).

        Weights grown so large that the model's output leaves float64 on the data or
        the grid raise the same type of error, saying so.
        """
        step = len(self.losses)
        try:
            snapshot: dict[str, object] = {
                "step": step,
                "accuracy": training.accuracy(self.model, self.X, self.y),
                "weights": [
                    [[_rounded(w.data) for w in row] for row in layer] for _, layer in self.layers
                ],
            }
            if self.grid is not None:
                snapshot["outputs"] = _outputs(self.model, self.grid[2])
        except ArithmeticError as error:
            raise type(error)(
                f"TrainingRecorder: cannot evaluate the model after step {step}: {error}. "
                "Its weights have grown too large; if training diverges, try a smaller "
                "learning rate"
            ) from error
        self.snapshots.append(snapshot)

    def finish(self) -> None:
        """Snapshot the final weights if the last steps were not recorded yet."""
        if self.snapshots[-1]["step"] != len(self.losses):
            self.record()


class LiveTraining(TrainingRecorder):
    """A :class:`TrainingRecorder` that redraws its training page in a Jupyter output
    after every snapshot, then calls ``then(step, loss, accuracy)`` if given.
    ``fit(..., live=True)`` uses it."""

    def __init__(
        self,
        model: object,
        X: Sequence[Sequence[float]],  # noqa: N803
        y: Sequence[int],
        *,
        steps: int,
        then: Callable[[int, float, float], object] | None = None,
    ) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            get_ipython = None
        if get_ipython is None or get_ipython() is None:
            raise ValueError(
                "fit: live=True redraws a picture in a Jupyter notebook, and this is not one; "
                "record with callback=viz.TrainingRecorder(model, X, y) and save "
                "viz.training_page(recorder) instead"
            )
        super().__init__(model, X, y, every=max(1, steps // 20))
        self.steps = steps
        self.then = then
        self.handle = display(training_page(self, steps=steps), display_id=True)

    def __call__(self, step: int, loss: float, accuracy: float) -> None:
        count = len(self.snapshots)
        super().__call__(step, loss, accuracy)
        if step == self.steps:
            self.finish()
        if len(self.snapshots) != count:
            self.handle.update(training_page(self, steps=self.steps))
        if self.then is not None:
            self.then(step, loss, accuracy)


def training_page(
    recorder: TrainingRecorder, *, steps: int | None = None, max_snapshots: int | None = 500
) -> Page:
    """A page with a slider over the snapshots of ``recorder``.

    For the snapshot after ``k`` steps it shows the decision boundary (2-D data: the
    class predicted on a grid, with the data points), the loss and accuracy of steps
    0 .. k-1, and a heat map per layer (a row per neuron: its weights, then its bias;
    red < 0 < blue, full colour at the largest ``|w|`` the layer reaches in training).
    The final weights are recorded first if the last steps were not (see
    :meth:`TrainingRecorder.finish`). ``steps`` fixes the length of the curves' step
    axis (by default the steps recorded so far). More than ``max_snapshots`` snapshots
    are refused (``None``: no limit).
    """
    if not isinstance(recorder, TrainingRecorder):
        raise TypeError(
            f"training_page: expected a TrainingRecorder, got {type(recorder).__name__}"
        )
    if not isinstance(recorder, LiveTraining):  # a live one finishes at its last step
        recorder.finish()
    count = len(recorder.snapshots)
    if max_snapshots is not None and count > max_snapshots:
        raise ValueError(
            f"training_page: {count} snapshots, more than max_snapshots={max_snapshots}; "
            "such a page is large and slow to open. Record fewer (a larger "
            f"TrainingRecorder(every=...)) or pass max_snapshots=None (or {count})"
        )
    total = max(steps or 0, len(recorder.losses), 1)
    data = {
        "losses": [_rounded(v) for v in recorder.losses],
        "accuracies": recorder.accuracies,
        "steps": total,
        "layers": [name for name, _ in recorder.layers],
        "snapshots": recorder.snapshots,
        "status": [_status(snapshot, total, recorder.losses) for snapshot in recorder.snapshots],
        "points": [[_rounded(v) for v in x] for x in recorder.X] if recorder.grid else [],
        "labels": recorder.classes,
        "grid": recorder.grid[:2] if recorder.grid else None,
        "colours": CLASS_COLOURS,
        "regions": CLASS_REGION_COLOURS,
    }
    title = "training"
    return Page(_document("training", title, data), 960, title)


def _status(snapshot: dict[str, Any], steps: int, losses: list[float]) -> str:
    """The line above a snapshot's pictures, its numbers printed as the command line does."""
    step, accuracy = snapshot["step"], snapshot["accuracy"]
    text = f"after {step} of {steps} steps: accuracy {training.format_accuracy(accuracy)}"
    if step == 0:
        return text + " (before training)"
    # Steps count from 1, as fit and the command line number them: losses[step - 1] is
    # the loss of that step, measured before its update.
    return text + f", loss at step {step} {training.format_loss(losses[step - 1])}"


@no_grad()
def _outputs(model: object, points: list[list[float]]) -> list[float]:
    """The model's outputs at ``points``, one after the other: a score per point, or its
    logits (to 4 significant digits: all the picture can show)."""
    flat: list[float] = []
    for point in points:
        out = model(point)  # type: ignore[operator]
        flat += [_rounded(out.data)] if isinstance(out, Value) else [_rounded(v.data) for v in out]
    return flat


def _weight_layers(model: object) -> list[tuple[str, list[list[Value]]]]:
    """Each layer's weights as rows (one per neuron: its weights, then its bias), for an
    MLP or a Layer; any other model's parameters in rows of 16."""
    layers = getattr(model, "layers", None) or ([model] if hasattr(model, "neurons") else None)
    if layers and all(hasattr(layer, "neurons") for layer in layers):
        return [
            (f"layer {i}", [[*neuron.w, neuron.b] for neuron in layer.neurons])
            for i, layer in enumerate(layers, start=1)
        ]
    parameters = getattr(model, "parameters", None)
    if not callable(parameters):
        raise TypeError(
            "TrainingRecorder: model must be a Module with parameters(), "
            f"got {type(model).__name__}"
        )
    values = list(parameters())
    return [("parameters", [values[i : i + 16] for i in range(0, len(values), 16)])]


def _grid_points(
    X: list[list[float]],  # noqa: N803
    size: int,
) -> tuple[list[float], list[float], list[list[float]]]:
    """:func:`~tinygrad_edu.viz.boundary_grid` with its coordinates to 4 significant digits,
    the numbers the page holds, so that the model is evaluated where the page draws."""
    xs, ys, _ = boundary_grid(X, size)
    xs, ys = [_rounded(x) for x in xs], [_rounded(y) for y in ys]
    return xs, ys, [[a, b] for b in ys for a in xs]


def _rounded(x: float) -> float:
    """``x`` to 4 significant digits: all a picture can show, and a quarter of the bytes."""
    return float(f"{x:.4g}") if math.isfinite(x) else x


# --------------------------------------------------------------------------- the documents


def _document(kind: str, title: str, data: object, graph: str = "") -> str:
    """The whole page ``kind`` ("explore" or "training"): its HTML, CSS and script from
    ``page_assets/``, the numbers as JSON the script reads, and ``graph`` (an SVG).

    The Content-Security-Policy allows no network access at all, so the page cannot
    fetch anything even by mistake.
    """
    # "<" written as its JSON escape: no label can close the script element early.
    numbers = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace(
        "<", "\\u003c"
    )
    css = _asset("page.css") + _asset(f"{kind}.css")
    script = _asset("player.js") + _asset(f"{kind}.js")
    body = _asset(f"{kind}.html").replace("<!-- the graph -->", graph)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{html.escape(title)}</title>
<style>{css}</style></head>
<body>
<div class="controls">
<button id="prev" title="previous (left arrow)">◀ previous</button>
<button id="play">▶ play</button>
<button id="next" title="next (right arrow)">next ▶</button>
<input id="slider" type="range" min="0" value="0" aria-label="step">
<span id="position"></span>
</div>
{body}<script type="application/json" id="data">{numbers}</script>
<script>{script}</script>
</body></html>
"""


def _asset(name: str) -> str:
    return (resources.files("tinygrad_edu") / "page_assets" / name).read_text(encoding="utf-8")


training.live_view = LiveTraining  # what fit(live=True) shows (training sits below the pages)
