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

Sizes: a 100-node graph gives a page of about 0.1 MB, and a training page of 100 snapshots
of the demo's network about 0.4 MB. Graphs of more than ``max_nodes`` Values are refused as
for the static pictures; so are more than ``max_snapshots`` snapshots.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from tinygrad_edu import training
from tinygrad_edu._files import write_atomically
from tinygrad_edu.engine import Value
from tinygrad_edu.viz import (
    _as_path,
    _checked_order,
    _number,
    _parameter_names,
    _Picture,
    to_svg,
)

__all__ = ["LiveTraining", "Page", "TrainingRecorder", "explore", "training_page"]

_PX_PER_PT = 4 / 3  # Graphviz measures its SVG in points; the browser in CSS pixels
_NAME_LENGTH = 24  # an unnamed node is called by its formula up to this many characters


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
        return f"<Page {self.title!r}: {len(self.html):,} characters of HTML; display it or save_html()>"


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
    >>> a = Value(3.0, "a")
    >>> "a.grad += " in explore(a * a).html
    True
    """
    order = _checked_order("explore", root, rankdir, False, max_nodes)
    model_names = _parameter_names("explore", model)
    names = _node_names(order, model_names)
    index = {node: i for i, node in enumerate(order)}

    grads, backward_steps = _backward_steps(order, names)
    picture = _Picture(order, rankdir, model_names).draw(grads, color_by_grad=False)
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
    body = _EXPLORE_BODY.format(svg=svg)
    height = round(_svg_height_pt(svg) * _PX_PER_PT) + 260
    return Page(_document(title, _EXPLORE_CSS, body, data, _EXPLORE_JS), min(height, 900), title)


def _backward_steps(
    order: list[Value], names: dict[Value, str]
) -> tuple[dict[Value, float], list[dict[str, object]]]:
    """The final gradients and, per node in backward order, what its step shows."""
    root = order[-1]
    received: dict[Value, float] = {root: 1.0}  # chain-rule shares summed so far
    grads: dict[Value, float] = {}
    steps = []
    for node in reversed(order):
        grad = received.pop(node, 0.0)  # every user of node came earlier: this is final
        grads[node] = grad
        name = _grouped(names[node])  # (x * w).grad, not x * w.grad
        if node is root:
            lines = [f"{name}.grad = 1: the output's derivative with respect to itself"]
        else:
            lines = [
                f"{name}.grad = {_number(grad)} is complete: every use of it has passed its share"
            ]
        if not node.parents:
            lines.append(f"{name} is a leaf: nothing to pass on")
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
            lines.append(
                f"{pname}.grad += ∂{name}/∂{pname} × {name}.grad = {_number(local_grad)} × "
                f"{_number(grad)} = {_number(share)}   → {pname}.grad is now {_number(total)}"
            )
        steps.append({"title": f"{name}.grad = {_number(grad)}", "lines": lines})
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
    """``text`` in parentheses when it is a compound formula or a negative number."""
    return f"({text})" if " " in text or text.startswith("-") else text


def _node_names(order: list[Value], model_names: dict[Value, str]) -> dict[Value, str]:
    """A name for every node in the step texts: the model's parameter name, else the
    label, else its formula from its parents' names when short, else ``(tanh node)``."""
    names: dict[Value, str] = {}
    for node in order:
        name = model_names.get(node) or node.label
        if not name and not node.parents:
            name = f"[{_number(node.data)}]"  # an unnamed constant leaf
        if not name:
            formula = _formula(node, [names[p] for p in node.parents])
            name = formula if len(formula) <= _NAME_LENGTH else f"the {node.op} node"
        names[node] = name
    return names


def _svg_height_pt(svg: str) -> float:
    start = svg.index('height="') + len('height="')
    return float(svg[start : svg.index("pt", start)])


# --------------------------------------------------------------------------- training


class TrainingRecorder:
    """A ``fit`` callback that keeps snapshots of the model for :func:`training_page`.

    It records the loss and accuracy of every step, and every ``every`` steps (and
    before the first) a snapshot: the weights of each layer, the accuracy on ``(X, y)``
    and, for 2-D data, the class the model predicts on a ``grid`` × ``grid`` lattice
    over the data (the decision boundary)::

        recorder = viz.TrainingRecorder(model, X, y, every=5)
        fit(model, X, y, steps=100, callback=recorder)
        viz.training_page(recorder).save_html("training.html")

    A snapshot taken after ``k`` updates shows the weights the loss of step ``k`` is
    measured on: ``fit``'s ``history["accuracy"][k]`` equals the snapshot's accuracy.
    Evaluating the grid costs a forward pass per point (for a 20 × 20 grid and a 2-16-16-1
    network, about as long as three training steps), which is why snapshots are taken only every few steps.
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
        self.X = [[float(v) for v in x] for x in X]
        self.y = [int(label) for label in y]
        self.every = every
        self.grid = _grid_points(self.X, grid) if len(self.X[0]) == 2 else None
        self.losses: list[float] = []
        self.accuracies: list[float] = []
        self.snapshots: list[dict[str, object]] = []
        self.record()

    def __call__(self, step: int, loss: float, accuracy: float) -> None:
        """Called by ``fit`` after step ``step`` (from 0) with that step's loss and accuracy."""
        self.losses.append(loss)
        self.accuracies.append(accuracy)
        if (step + 1) % self.every == 0:
            self.record()

    def record(self) -> None:
        """Take a snapshot of the model as it is now (after ``len(self.losses)`` steps)."""
        snapshot: dict[str, object] = {
            "step": len(self.losses),
            "accuracy": training.accuracy(self.model, self.X, self.y),
            "weights": [
                [[_rounded(w.data) for w in row] for row in layer] for _, layer in self.layers
            ],
        }
        if self.grid is not None:
            predicted = training.predict(self.model, self.grid[2])
            snapshot["classes"] = "".join(str(min(c, 9)) for c in predicted)
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
            get_ipython = None  # noqa: N806
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
        if step + 1 == self.steps:
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
    data = {
        "losses": [_rounded(v) for v in recorder.losses],
        "accuracies": recorder.accuracies,
        "steps": max(steps or 0, len(recorder.losses), 1),
        "layers": [name for name, _ in recorder.layers],
        "snapshots": recorder.snapshots,
        "points": [[_rounded(v) for v in x] for x in recorder.X] if recorder.grid else [],
        "labels": recorder.y,
        "grid": recorder.grid[:2] if recorder.grid else None,
    }
    title = "training"
    return Page(_document(title, _TRAINING_CSS, _TRAINING_BODY, data, _TRAINING_JS), 760, title)


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
            f"TrainingRecorder: model must be a Module with parameters(), got {type(model).__name__}"
        )
    values = list(parameters())
    return [("parameters", [values[i : i + 16] for i in range(0, len(values), 16)])]


def _grid_points(
    X: list[list[float]], size: int
) -> tuple[list[float], list[float], list[list[float]]]:  # noqa: N803
    """The x and y coordinates of a ``size`` × ``size`` grid over the data with a margin,
    and its points row by row (y outer), as the decision boundary is drawn."""
    margin = 0.5
    axes = []
    for column in (0, 1):
        low = min(x[column] for x in X) - margin
        high = max(x[column] for x in X) + margin
        axes.append([_rounded(low + (high - low) * i / (size - 1)) for i in range(size)])
    xs, ys = axes
    return xs, ys, [[a, b] for b in ys for a in xs]


def _rounded(x: float) -> float:
    """``x`` to 4 significant digits: all a picture can show, and a quarter of the bytes."""
    return float(f"{x:.4g}") if math.isfinite(x) else x


# --------------------------------------------------------------------------- the documents


def _document(title: str, css: str, body: str, data: object, script: str) -> str:
    """The whole page: the numbers as JSON the script reads, the controls and the script.

    The Content-Security-Policy allows no network access at all, so the page cannot
    fetch anything even by mistake.
    """
    numbers = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{html.escape(title)}</title>
<style>{_COMMON_CSS}{css}</style></head>
<body>
<div class="controls">
<button id="prev" title="previous (left arrow)">◀ previous</button>
<button id="play">▶ play</button>
<button id="next" title="next (right arrow)">next ▶</button>
<input id="slider" type="range" min="0" value="0" aria-label="step">
<span id="position"></span>
</div>
{body}
<script type="application/json" id="data">{numbers}</script>
<script>{_PLAYER_JS}{script}</script>
</body></html>
"""


_COMMON_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 8px; color: #222; }
.controls { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.controls input[type=range] { flex: 1; min-width: 120px; }
#position { font-variant-numeric: tabular-nums; min-width: 12em; }
button { font: inherit; padding: 2px 10px; }
"""

# The controls shared by both pages: previous / play / next / slider / arrow keys over
# positions 0 .. count-1; `show(k)` draws position k.
_PLAYER_JS = """
function player(count, show, label, start = 0) {
  const slider = document.getElementById("slider");
  const prev = document.getElementById("prev"), next = document.getElementById("next");
  const play = document.getElementById("play"), position = document.getElementById("position");
  let current = 0, timer = null;
  slider.max = count - 1;
  function go(k) {
    current = Math.max(0, Math.min(count - 1, k));
    slider.value = current;
    prev.disabled = current === 0;
    next.disabled = current === count - 1;
    position.textContent = label(current);
    show(current);
  }
  function stop() { clearInterval(timer); timer = null; play.textContent = "▶ play"; }
  prev.onclick = () => { stop(); go(current - 1); };
  next.onclick = () => { stop(); go(current + 1); };
  slider.oninput = () => { stop(); go(Number(slider.value)); };
  play.onclick = () => {
    if (timer) { stop(); return; }
    if (current === count - 1) go(0);
    play.textContent = "❚❚ pause";
    timer = setInterval(() => { if (current >= count - 1) stop(); else go(current + 1); }, 600);
  };
  document.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") next.click();
    if (event.key === "ArrowLeft") prev.click();
  });
  go(start);
  return go;
}
const DATA = JSON.parse(document.getElementById("data").textContent);
"""

_EXPLORE_CSS = """
#explain { min-height: 4.5em; margin: 6px 0; }
#explain h3 { font-size: 15px; margin: 4px 0; }
#explain ul { margin: 2px 0; padding-left: 20px; font-family: ui-monospace, monospace; font-size: 13px; }
#graph svg { max-width: 100%; height: auto; }
#graph .unknown { opacity: 0.35; }
#graph .current polygon, #graph .current ellipse { stroke: #e66100; stroke-width: 3px; }
#graph .edge.current path, #graph .edge.current polygon { stroke: #e66100; stroke-width: 2.5px; }
.jump { margin-left: 8px; }
"""

_EXPLORE_BODY = """<div class="controls">
<span>jump to the start of the</span>
<button id="to-forward" class="jump">forward pass</button>
<button id="to-backward" class="jump">backward pass</button>
</div>
<div id="explain"><h3 id="headline"></h3><ul id="lines"></ul></div>
<div id="graph">{svg}</div>"""

# Positions: 0 nothing known; 1..n the forward pass (node k-1 of the topological order
# gets its value); n+1..2n the backward pass (node 2n-k gets its gradient).
_EXPLORE_JS = """
const n = DATA.nodes.length;
const groups = {};
for (const g of document.querySelectorAll("#graph g.node, #graph g.edge")) {
  groups[g.querySelector("title").textContent] = g;
}
const values = DATA.nodes.map((node, i) => {
  const texts = groups["v" + i].querySelectorAll("text");
  const data = texts[texts.length - 2], grad = texts[texts.length - 1];
  return { data, grad, dataText: data.textContent, gradText: grad.textContent };
});
function edgesOf(i) {
  if (!DATA.nodes[i].hasOp) return [];
  return [groups["op" + i + "->v" + i], ...DATA.nodes[i].parents.map((p) => groups["v" + p + "->op" + i])];
}
function show(k) {
  for (const g of Object.values(groups)) g.classList.remove("current");
  let current = -1, step = null, pass = "";
  if (k >= 1 && k <= n) { current = k - 1; step = DATA.forward[current]; pass = "forward"; }
  if (k > n) { current = 2 * n - k; step = DATA.backward[k - n - 1]; pass = "backward"; }
  values.forEach((v, i) => {
    const known = i < k;  // the forward pass reaches node i at position i+1
    const gradKnown = k > n && i >= 2 * n - k;
    v.data.textContent = known ? v.dataText : "data ?";
    v.grad.textContent = gradKnown ? v.gradText : "grad ?";
    groups["v" + i].classList.toggle("unknown", !known);
    if (DATA.nodes[i].hasOp) groups["op" + i].classList.toggle("unknown", !known);
  });
  for (const g of document.querySelectorAll("#graph g.edge")) g.classList.remove("unknown");
  const headline = document.getElementById("headline"), lines = document.getElementById("lines");
  lines.replaceChildren();
  if (current < 0) {
    headline.textContent = "Nothing computed yet: press next to run the forward pass.";
    return;
  }
  groups["v" + current].classList.add("current");
  if (DATA.nodes[current].hasOp) groups["op" + current].classList.add("current");
  for (const edge of edgesOf(current)) edge.classList.add("current");
  headline.textContent = pass + " pass: " + step.title;
  for (const text of step.lines) {
    const item = document.createElement("li");
    item.textContent = text;
    lines.appendChild(item);
  }
}
const go = player(2 * n + 1, show, (k) =>
  k === 0 ? "start" : k <= n ? "forward step " + k + " of " + n : "backward step " + (k - n) + " of " + n);
document.getElementById("to-forward").onclick = () => go(1);
document.getElementById("to-backward").onclick = () => go(n + 1);
"""

_TRAINING_CSS = """
#status { margin: 6px 0; font-variant-numeric: tabular-nums; }
.row { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: 12px; color: #555; max-width: 340px; }
svg.curve { border: 1px solid #ddd; background: white; }
svg.curve text { font-size: 10px; fill: #555; }
canvas { border: 1px solid #ddd; image-rendering: pixelated; }
"""

_TRAINING_BODY = """<div id="status"></div>
<div class="row">
<figure id="boundary-figure"><canvas id="boundary" width="300" height="300"></canvas>
<figcaption>decision boundary: the class predicted at each point of a grid, and the data</figcaption></figure>
<figure><svg id="loss" class="curve" width="300" height="180"></svg><figcaption>loss per step</figcaption>
<svg id="accuracy" class="curve" width="300" height="120"></svg><figcaption>accuracy per step</figcaption></figure>
</div>
<div class="row" id="heatmaps"></div>"""

_TRAINING_JS = """
const COLOURS = ["#4393c3", "#e08214", "#5aae61", "#9970ab", "#d6604d", "#878787", "#bf812d", "#35978f", "#de77ae", "#8c510a"];
// The regions in the class colours mixed with white, opaque, so a redraw covers the last one.
const PALE = COLOURS.map((colour) => "#" + [1, 3, 5].map((i) =>
  Math.round(255 - 0.35 * (255 - parseInt(colour.slice(i, i + 2), 16))).toString(16).padStart(2, "0")).join(""));
const snapshots = DATA.snapshots;
const SVG = "http://www.w3.org/2000/svg";
function svgElement(parent, name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  parent.appendChild(element);
  return element;
}
function curve(svg, values, low, high) {
  const width = svg.width.baseVal.value, height = svg.height.baseVal.value, pad = 24;
  svgElement(svg, "line", { x1: pad, y1: height - pad, x2: width - 4, y2: height - pad, stroke: "#999" });
  svgElement(svg, "line", { x1: pad, y1: 4, x2: pad, y2: height - pad, stroke: "#999" });
  const top = svgElement(svg, "text", { x: 2, y: 12 }); top.textContent = high.toPrecision(2);
  const bottom = svgElement(svg, "text", { x: 2, y: height - pad }); bottom.textContent = low.toPrecision(2);
  const end = svgElement(svg, "text", { x: width - 40, y: height - 8 }); end.textContent = "step " + DATA.steps;
  const x = (i) => pad + (width - pad - 6) * i / Math.max(1, DATA.steps - 1);
  const y = (v) => height - pad - (height - pad - 6) * (v - low) / ((high - low) || 1);
  const line = svgElement(svg, "polyline", { fill: "none", stroke: "#b2182b", "stroke-width": 1.5 });
  return (k) => {
    line.setAttribute("points", values.slice(0, k).map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" "));
  };
}
const lossCurve = curve(document.getElementById("loss"), DATA.losses, 0, Math.max(...DATA.losses, 1e-12));
const accuracyCurve = curve(document.getElementById("accuracy"), DATA.accuracies, 0, 1);

function drawBoundary(snapshot) {
  const canvas = document.getElementById("boundary"), context = canvas.getContext("2d");
  const [xs, ys] = DATA.grid, size = xs.length;
  const cell = canvas.width / size;
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      context.fillStyle = PALE[Number(snapshot.classes[row * size + column])];
      context.fillRect(column * cell, canvas.height - (row + 1) * cell, cell + 0.5, cell + 0.5);
    }
  }
  const px = (v) => (v - xs[0]) / (xs[size - 1] - xs[0]) * (canvas.width - cell) + cell / 2;
  const py = (v) => canvas.height - ((v - ys[0]) / (ys[size - 1] - ys[0]) * (canvas.height - cell) + cell / 2);
  DATA.points.forEach(([a, b], i) => {
    context.beginPath();
    context.arc(px(a), py(b), 3.5, 0, 2 * Math.PI);
    context.fillStyle = COLOURS[DATA.labels[i] % COLOURS.length];
    context.fill();
    context.strokeStyle = "black";
    context.lineWidth = 0.6;
    context.stroke();
  });
}

// One heat map per layer, on one colour scale for the whole training run.
const heatmaps = DATA.layers.map((name, layer) => {
  let largest = 0;
  for (const s of snapshots) for (const row of s.weights[layer]) for (const w of row) largest = Math.max(largest, Math.abs(w));
  const rows = snapshots[0].weights[layer], columns = Math.max(...rows.map((r) => r.length));
  const cell = Math.max(4, Math.min(16, Math.floor(320 / columns)));
  const figure = document.createElement("figure");
  const canvas = document.createElement("canvas");
  canvas.width = columns * cell;
  canvas.height = rows.length * cell;
  canvas.className = "heatmap";
  const caption = document.createElement("figcaption");
  caption.textContent = name + ": a row per neuron (weights, then bias); red < 0 < blue, full colour at |w| = " + largest.toPrecision(3);
  figure.append(canvas, caption);
  document.getElementById("heatmaps").appendChild(figure);
  return (snapshot) => {
    const context = canvas.getContext("2d");
    snapshot.weights[layer].forEach((row, r) => row.forEach((w, c) => {
      const strength = largest > 0 ? Math.min(1, Math.abs(w) / largest) : 0;
      const [red, green, blue] = w < 0 ? [214, 96, 77] : [67, 147, 195];
      const mix = (channel) => Math.round(255 + (channel - 255) * strength);
      context.fillStyle = "rgb(" + mix(red) + "," + mix(green) + "," + mix(blue) + ")";
      context.fillRect(c * cell, r * cell, cell, cell);
    }));
  };
});

if (!DATA.grid) document.getElementById("boundary-figure").remove();
function show(k) {
  const snapshot = snapshots[k];
  lossCurve(snapshot.step);
  accuracyCurve(snapshot.step);
  if (DATA.grid) drawBoundary(snapshot);
  heatmaps.forEach((draw) => draw(snapshot));
  const last = snapshot.step - 1;
  document.getElementById("status").textContent = "after " + snapshot.step + " of " + DATA.steps +
    " steps: accuracy " + (100 * snapshot.accuracy).toFixed(1) + "%" +
    (last >= 0 ? ", loss at step " + last + " " + DATA.losses[last].toPrecision(4) : " (before training)");
}
// It opens on the latest snapshot (what a live view must show); play starts from the first.
player(snapshots.length, show, (k) => "snapshot " + (k + 1) + " of " + snapshots.length, snapshots.length - 1);
"""
