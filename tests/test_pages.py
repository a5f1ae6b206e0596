"""Tests of tinygrad_edu.pages: the interactive pages, opened and driven in headless Chromium.

The expected numbers come from the graph in each test (analytic derivatives written out
by hand, the Values' own data) or from ``fit``'s history, never from the page's code.
Every page opened here must make no network request and log no error; a screenshot of
each is written to the test's temporary directory.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinygrad_edu import Value, datasets, nn, no_grad, topological_order, training, viz
from tinygrad_edu.cli import main

NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers


class Opened:
    """A page open in the browser, with what it requested and what it logged.

    With ``frames_only`` only the inline frames are watched (the host page, a notebook's
    HTML export, loads scripts of its own, which are blocked here).
    """

    def __init__(self, page, path: Path, frames_only: bool = False) -> None:
        self.page = page
        self.url = path.as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []

        def request(request) -> None:
            if not frames_only or request.frame != page.main_frame:
                self.requests.append(request.url)

        def error(text: str, where: str) -> None:
            if not frames_only or "about:srcdoc" in where:
                self.errors.append(text)

        page.route(re.compile(r"^https?:"), lambda route: route.abort())
        page.on("request", request)
        page.on("pageerror", lambda e: error(str(e), e.stack or ""))
        page.on(
            "console",
            lambda m: error(m.text, m.location.get("url", "")) if m.type == "error" else None,
        )
        page.goto(self.url)

    def click(self, selector: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.click(selector)

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def check_quiet(self) -> None:
        """No request but the page itself (srcdoc frames load nothing), no error."""
        assert [url for url in self.requests if url != self.url] == []
        assert self.errors == []


@pytest.fixture
def open_page(browser, tmp_path: Path) -> Iterator:
    """``open_page(path)`` opens a saved page; at the end each is screenshotted and must
    have made no network request and logged no error."""
    opened: list[Opened] = []

    def open_(path: Path, frames_only: bool = False) -> Opened:
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.set_default_timeout(10_000)  # a missing element fails fast, not in 30 s
        opened.append(Opened(page, path, frames_only))
        return opened[-1]

    yield open_
    for number, item in enumerate(opened):
        item.page.screenshot(path=tmp_path / f"screenshot_{number}.png", full_page=True)
        item.check_quiet()
        item.page.close()


def neuron() -> dict[str, Value]:
    """o = tanh(w * x + b) at x = 2, w = -0.5, b = 0.3, with its nodes by name."""
    x, w, b = Value(2.0, "x"), Value(-0.5, "w"), Value(0.3, "b")
    wx = w * x
    n = wx + b
    o = n.tanh()
    return {"x": x, "w": w, "b": b, "wx": wx, "n": n, "o": o}


def neuron_derivatives(nodes: dict[str, Value]) -> tuple[dict, dict]:
    """By hand: do/dnode for every node, and d node / d parent for every edge."""
    x, w = 2.0, -0.5
    slope = 1.0 - math.tanh(w * x + 0.3) ** 2
    grads = {"o": 1.0, "n": slope, "wx": slope, "b": slope, "w": x * slope, "x": w * slope}
    local = {("o", "n"): slope, ("n", "wx"): 1.0, ("n", "b"): 1.0, ("wx", "w"): x}
    local[("wx", "x")] = w
    return {nodes[k]: g for k, g in grads.items()}, local


def highlighted(opened: Opened) -> list[str]:
    """The titles (node ids) of the highlighted Value boxes."""
    return opened.page.eval_on_selector_all(
        "#graph g.node.value.current",
        "groups => groups.map(g => g.querySelector('title').textContent)",
    )


def box_lines(opened: Opened, node_id: str) -> list[str]:
    return opened.page.eval_on_selector_all(
        "#graph g.node.value",
        f"""groups => {{
            const g = groups.find(g => g.querySelector('title').textContent === '{node_id}');
            return [...g.querySelectorAll('text')].map(t => t.textContent);
        }}""",
    )


def shown_number(line: str, prefix: str) -> float | None:
    """The number after ``prefix`` in a box line, None for ``?``."""
    assert line.startswith(prefix), line
    rest = line[len(prefix) :]
    return None if rest == "?" else float(rest)


# --------------------------------------------------------------------------- explore, driven


def test_next_walks_the_forward_pass_in_topological_order(open_page, tmp_path: Path) -> None:
    nodes = neuron()
    order = topological_order(nodes["o"])
    path = viz.explore(nodes["o"]).save_html(tmp_path / "neuron.html")
    opened = open_page(path)
    assert highlighted(opened) == []
    assert "Nothing computed yet" in opened.text("#headline")
    for k in range(1, len(order) + 1):
        opened.click("#next")
        current = order[k - 1]
        assert highlighted(opened) == [f"v{k - 1}"]
        assert opened.text("#position") == f"forward step {k} of {len(order)}"
        for i, node in enumerate(order):
            lines = box_lines(opened, f"v{i}")
            data = shown_number(lines[-2], "data ")
            assert shown_number(lines[-1], "grad ") is None  # no gradient in the forward pass
            if i < k:
                assert data == pytest.approx(node.data, rel=1e-3)
            else:
                assert data is None
        # The step's equation ends with the node's value, from its parents' values.
        equation = opened.text("#lines")
        assert float(re.findall(NUMBER, equation)[-1]) == pytest.approx(current.data, rel=1e-3)
        for parent in current.parents:
            assert any(
                float(shown) == pytest.approx(parent.data, rel=1e-3)
                for shown in re.findall(NUMBER, equation)
            )


def test_next_walks_the_backward_pass_with_the_chain_rule_in_numbers(
    open_page, tmp_path: Path
) -> None:
    nodes = neuron()
    order = topological_order(nodes["o"])
    expected_grad, local = neuron_derivatives(nodes)
    name_of = {node: name for name, node in nodes.items()}
    opened = open_page(viz.explore(nodes["o"]).save_html(tmp_path / "neuron.html"))
    opened.click("#to-backward")
    opened.click("#prev")  # the last forward step: every value, no gradient
    n = len(order)
    for k in range(1, n + 1):
        opened.click("#next")
        current = order[n - k]  # backward() completes nodes in reverse topological order
        assert highlighted(opened) == [f"v{order.index(current)}"]
        assert opened.text("#position") == f"backward step {k} of {n}"
        lines = opened.text("#lines").splitlines()
        assert f"= {expected_grad[current]:.4g}" in lines[0] or current is nodes["o"]
        chain = [line for line in lines if "+=" in line]
        assert len(chain) == len(current.parents)
        for parent, line in zip(current.parents, chain):
            shown = re.search(rf"= ({NUMBER}) × ({NUMBER}) = ({NUMBER})", line)
            assert shown, line
            edge = local[(name_of[current], name_of[parent])]
            assert float(shown[1]) == pytest.approx(edge, rel=1e-3)
            assert float(shown[2]) == pytest.approx(expected_grad[current], rel=1e-3)
            assert float(shown[3]) == pytest.approx(expected_grad[parent], rel=1e-3)
        # Boxes: completed gradients; for the others, the shares their completed users
        # have passed on so far, or "?" when none has.
        done = order[n - k :]
        for i, node in enumerate(order):
            grad = shown_number(box_lines(opened, f"v{i}")[-1], "grad ")
            shares = [
                local[(name_of[user], name_of[node])] * expected_grad[user]
                for user in done
                if node in user.parents
            ]
            if node in done:
                assert grad == pytest.approx(expected_grad[node], rel=1e-3)
            elif shares:
                assert grad == pytest.approx(sum(shares), rel=1e-3)
            else:
                assert grad is None
    assert opened.page.is_disabled("#next")


def test_a_value_used_twice_shows_its_gradient_summed_share_by_share(
    open_page, tmp_path: Path
) -> None:
    """y = a * a + a at a = 3: dy/da = 2a + 1 = 7, received as 3 + 3 (from the product)
    and then 1 (from the sum) or in the other order."""
    a = Value(3.0, "a")
    square = a * a
    y = square + a
    opened = open_page(viz.explore(y).save_html(tmp_path / "shared.html"))
    totals = []
    opened.click("#to-backward")
    for step in range(len(topological_order(y))):
        if step:
            opened.click("#next")
        shown = re.findall(rf"a\.grad is now ({NUMBER})", opened.text("#lines"))
        totals += [float(total) for total in shown]
    assert len(totals) == 3  # one share per use of a
    assert totals[-1] == pytest.approx(2 * 3.0 + 1)
    assert sorted(b - a_ for a_, b in zip([0.0, *totals], totals)) == pytest.approx([1, 3, 3])


def test_the_sentence_and_the_box_of_a_frame_show_the_same_number(
    open_page, tmp_path: Path
) -> None:
    a = Value(3.0, "a")
    y = a * a + a * 2.0 + a  # a gets three shares: 6, 2 and 1
    opened = open_page(viz.explore(y).save_html(tmp_path / "shares.html"))
    a_box = f"v{topological_order(y).index(a)}"
    opened.click("#to-backward")
    seen = []
    while True:
        said = re.findall(rf"a\.grad is now ({NUMBER})", opened.text("#lines"))
        box = box_lines(opened, a_box)[-1]
        if said:
            assert box == f"grad {said[-1]}"  # the same text, not only the same number
            seen.append(float(said[-1]))
        if opened.page.is_disabled("#next"):
            break
        opened.click("#next")
    assert sorted(b - a_ for a_, b in zip([0.0, *seen], seen)) == [1.0, 2.0, 6.0]
    assert box == "grad 9"  # complete: 2a + 2 + 1


def test_unnamed_nodes_get_short_names_and_their_expression_on_hover(
    open_page, tmp_path: Path
) -> None:
    x, w, b = Value(2.0, "x"), Value(-0.5, "w"), Value(0.3, "b")
    y = (w * x + b).tanh()
    order = topological_order(y)
    opened = open_page(viz.explore(y).save_html(tmp_path / "names.html"))
    short = {f"n{i}": node for i, node in enumerate(order) if node.parents}
    assert len(short) == 3
    for name, node in short.items():
        box = f"v{order.index(node)}"
        assert box_lines(opened, box)[0] == name  # the box is headed by the short name
        tooltip = opened.page.eval_on_selector_all(
            "#graph g.node.value",
            f"""gs => gs.find(g => g.querySelector('title').textContent === '{box}')
                .querySelector('a').getAttribute('xlink:title')""",
        )
        assert tooltip.startswith(f"{name} = ")
    root = next(name for name, node in short.items() if node is y)
    tooltip_of_root = opened.page.eval_on_selector(
        f"#graph g.node:has(> title:text-is('v{order.index(y)}')) a",
        "a => a.getAttribute('xlink:title')",
    )
    assert tooltip_of_root == f"{root} = tanh((w * x) + b)"  # the whole expression
    product = next(iter(short))  # the first computed node, w * x, in its step's sentence
    opened.click("#to-forward")  # the forward step of node 0
    opened.click("#next", times=order.index(short[product]))
    assert opened.text("#lines").startswith(f"{product} = w * x = (-0.5) * 2 = -1")


def test_a_zero_local_derivative_passes_nothing_on(open_page, tmp_path: Path) -> None:
    x = Value(-2.0, "x")
    y = x.relu() + x
    page = viz.explore(y)
    opened = open_page(page.save_html(tmp_path / "relu.html"))
    opened.click("#to-backward")
    texts = []
    while not opened.page.is_disabled("#next"):
        opened.click("#next")
        texts.append(opened.text("#lines"))
    assert any("the local derivative is 0, nothing is passed on" in t for t in texts)
    assert f"x.grad = {1:.4g}" in texts[-1]  # only the + path counts: relu'(-2) = 0


@pytest.mark.slow
def test_play_runs_to_the_end_and_the_slider_jumps(open_page, tmp_path: Path) -> None:
    nodes = neuron()
    n = len(topological_order(nodes["o"]))
    opened = open_page(viz.explore(nodes["o"]).save_html(tmp_path / "neuron.html"))
    opened.page.eval_on_selector(
        "#slider", "(s, k) => { s.value = k; s.dispatchEvent(new Event('input')); }", n
    )
    assert opened.text("#position") == f"forward step {n} of {n}"
    opened.click("#play")
    from playwright.sync_api import expect  # here: without Playwright the module still loads

    expect(opened.page.locator("#next")).to_be_disabled(timeout=60_000)
    assert opened.text("#position") == f"backward step {n} of {n}"
    assert opened.text("#play") == "▶ play"


def test_a_models_parameters_are_named_on_the_page(open_page, tmp_path: Path) -> None:
    model = nn.Neuron(2, activation="tanh", seed=0)
    out = model([1.0, -2.0])
    opened = open_page(viz.explore(out, model=model).save_html(tmp_path / "model.html"))
    opened.click("#next")
    assert "w.0 = " in opened.text("#lines")
    assert "a parameter of the model" in opened.text("#lines")


def test_the_inline_frame_holds_the_same_working_page(open_page, tmp_path: Path) -> None:
    """What Jupyter stores: an iframe whose srcdoc is the page; it runs inside a host page."""
    nodes = neuron()
    page = viz.explore(nodes["o"])
    frame_html = page._repr_html_()
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame_html)[1]
    assert html.unescape(srcdoc) == page.html
    host = tmp_path / "host.html"
    host.write_text(f"<!DOCTYPE html><html><body>{frame_html}</body></html>", encoding="utf-8")
    opened = open_page(host)
    frame = opened.page.frame_locator("iframe")
    frame.locator("#next").click()
    frame.locator("#next").click()
    assert frame.locator("#position").inner_text() == "forward step 2 of 6"


def test_the_command_lines_page_ends_on_the_inputs_gradients(open_page, tmp_path: Path) -> None:
    """tinygrad-edu explore 'x*y + sin(y)' x=3 y=0.5: d/dx = y, d/dy = x + cos(y)."""
    output = tmp_path / "page.html"
    assert main(["explore", "x*y + sin(y)", "x=3", "y=0.5", "-o", str(output)]) == 0
    opened = open_page(output)
    opened.page.eval_on_selector(
        "#slider", "s => { s.value = s.max; s.dispatchEvent(new Event('input')); }"
    )
    grads = {}
    for i in range(5):
        lines = box_lines(opened, f"v{i}")
        if lines[0] in ("x", "y"):
            grads[lines[0]] = shown_number(lines[-1], "grad ")
    assert grads == {
        "x": pytest.approx(0.5, rel=1e-3),
        "y": pytest.approx(3 + math.cos(0.5), rel=1e-3),
    }


# --------------------------------------------------------------------------- explore, static


def test_a_page_for_a_100_node_graph_is_small_and_self_contained(tmp_path: Path) -> None:
    y = Value(0.5, "x")
    for _ in range(33):  # three Values each
        y = (y * 0.9 + 0.1).tanh()
    order = topological_order(y)
    assert len(order) == 100
    page = viz.explore(y)
    assert len(page.html.encode("utf-8")) < 1_000_000
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.html)
    assert "Content-Security-Policy" in page.html


def test_a_graph_larger_than_max_nodes_is_refused_with_the_way_round() -> None:
    y = Value(1.0, "x")
    for _ in range(600):
        y = y + 1
    with pytest.raises(ValueError, match=r"explore: the graph has 601 Value nodes.*max_nodes=None"):
        viz.explore(y)
    assert len(topological_order(y)) == 601
    viz.explore(y, max_nodes=None)  # the way round works


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: viz.explore(3.0), TypeError, "explore: root must be a Value, got float"),
        (lambda: viz.explore(Value(1.0), rankdir="up"), ValueError, "rankdir must be one of"),
        (lambda: viz.explore(Value(1.0)).save_html(3), TypeError, "save_html: path must be"),
        (lambda: viz.training_page([]), TypeError, "expected a TrainingRecorder, got list"),
        (
            lambda: viz.TrainingRecorder(nn.MLP(2, [1]), [[0, 0]], [0], every=0),
            ValueError,
            "every must be an int >= 1",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_labels_cannot_break_out_of_the_page() -> None:
    x = Value(1.0, "</script><script>alert(1)</script>")
    page = viz.explore(x * 2)
    assert page.html.count("<script") == 2  # the data and the page's own script
    data = page.html.split('<script type="application/json" id="data">')[1].split("</script>")[0]
    assert "</script><script>alert(1)</script>" in json.dumps(json.loads(data))


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def recorded() -> tuple[viz.TrainingRecorder, dict]:
    X, y = datasets.make_moons(60, noise=0.1, seed=0)  # noqa: N806
    model = nn.MLP(2, [8, 8, 1], seed=0)
    recorder = viz.TrainingRecorder(model, X, y, every=5, grid=12)
    history = training.fit(model, X, y, steps=23, progress=False, callback=recorder)
    return recorder, history


def test_snapshots_hold_the_weights_and_accuracy_fit_measured(recorded) -> None:
    recorder, history = recorded
    viz.training_page(recorder)  # records the final weights: 23 is not a multiple of 5
    assert [s["step"] for s in recorder.snapshots] == [0, 5, 10, 15, 20, 23]
    for snapshot in recorder.snapshots[:-1]:  # fit's accuracy of step k: the weights after k
        assert snapshot["accuracy"] == history["accuracy"][snapshot["step"]]
    assert recorder.losses == history["loss"]
    last = recorder.snapshots[-1]
    assert last["accuracy"] == training.accuracy(recorder.model, recorder.X, recorder.y)
    first_layer = [[*n.w, n.b] for n in recorder.model.layers[0].neurons]
    assert last["weights"][0] == [[pytest.approx(v.data, rel=1e-3) for v in r] for r in first_layer]
    assert len(last["outputs"]) == 12 * 12  # one score per grid point
    with no_grad():
        scores = [recorder.model(p).data for p in recorder.grid[2]]
    assert last["outputs"] == [pytest.approx(v, rel=1e-3, abs=1e-12) for v in scores]


def test_the_training_slider_moves_the_plots(open_page, recorded, tmp_path: Path) -> None:
    recorder, history = recorded
    opened = open_page(viz.training_page(recorder).save_html(tmp_path / "training.html"))
    snapshots = recorder.snapshots
    assert opened.text("#position") == f"snapshot {len(snapshots)} of {len(snapshots)}"
    pictures = set()
    for k in reversed(range(len(snapshots))):
        opened.page.eval_on_selector(
            "#slider", "(s, k) => { s.value = k; s.dispatchEvent(new Event('input')); }", k
        )
        step = snapshots[k]["step"]
        status = opened.text("#status")
        assert status.startswith(f"after {step} of 23 steps")
        accuracy = float(re.search(rf"accuracy ({NUMBER})%", status)[1])
        expected = history["accuracy"][step] if step < 23 else snapshots[k]["accuracy"]
        assert accuracy == pytest.approx(100 * expected, abs=0.05)
        if step:  # numbered as fit and the command line number it: step k's loss
            loss = re.search(rf"loss at step {step} ({NUMBER})", status)[1]
            assert loss == training.format_loss(history["loss"][step - 1])  # 4 decimals
            assert re.fullmatch(r"\d+\.\d{4}", loss)
        for curve in ("#loss", "#accuracy"):
            points = opened.page.get_attribute(f"{curve} polyline", "points")
            assert len(points.split()) == step  # the curve reaches this step, no further
        pictures.add(
            opened.page.eval_on_selector_all(
                "canvas", "canvases => canvases.map(c => c.toDataURL()).join()"
            )
        )
    assert len(pictures) == len(snapshots)  # boundary and heat maps differ at every snapshot
    assert opened.page.locator("canvas.heatmap").count() == 3


def _linear_recorder(labels: list[int]) -> viz.TrainingRecorder:
    """A recorder of the score 1.0 x0 - 2.0 x1 + 0.3 (a linear neuron) on a coarse grid."""
    neuron = nn.Neuron(2, activation="linear", seed=0)
    neuron.w[0].data, neuron.w[1].data, neuron.b.data = 1.0, -2.0, 0.3
    X = [[-1.0, -1.0], [1.0, 1.0], [2.0, -1.0], [-2.0, 1.0]]  # noqa: N806
    return viz.TrainingRecorder(neuron, X, labels, grid=6)


def _canvas_pixels(opened: Opened) -> tuple[int, list[int]]:
    return opened.page.eval_on_selector(
        "#boundary",
        "c => [c.width, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]",
    )


@pytest.mark.slow
def test_the_boundary_is_drawn_smooth_where_the_model_puts_it(open_page, tmp_path) -> None:
    recorder = _linear_recorder([1, 0, 1, 0])
    opened = open_page(viz.training_page(recorder).save_html(tmp_path / "line.html"))
    side, pixels = _canvas_pixels(opened)
    xs, ys, _ = recorder.grid
    regions = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)): k
               for k, c in enumerate(viz.CLASS_REGION_COLOURS[:2])}  # fmt: skip
    wrong, near_the_line, counted = 0, 0, 0
    for py in range(0, side, 3):
        for px in range(0, side, 3):
            rgb = tuple(pixels[4 * (py * side + px) : 4 * (py * side + px) + 3])
            x0 = xs[0] + (px + 0.5) / side * (xs[-1] - xs[0])
            x1 = ys[-1] - (py + 0.5) / side * (ys[-1] - ys[0])
            score = 1.0 * x0 - 2.0 * x1 + 0.3
            pixel = 2.3 * (xs[-1] - xs[0]) / side  # |grad score| = sqrt(5) per unit: ~1 px
            if abs(score) < 2 * pixel:
                near_the_line += 1  # the boundary line itself is drawn here
                continue
            if rgb in regions:  # not under a data point
                counted += 1
                wrong += regions[rgb] != int(score > 0)
    # A 6 x 6 grid of blocks would put about a fifth of the picture in the wrong class;
    # interpolating the scores puts the boundary on the model's own line.
    assert counted > 1000 and near_the_line > 0 and wrong == 0


@pytest.mark.slow
def test_the_training_page_uses_the_width_of_the_window(open_page, tmp_path) -> None:
    recorder = _linear_recorder([1, 0, 1, 0])
    path = viz.training_page(recorder).save_html(tmp_path / "wide.html")
    opened = open_page(path)
    widths = {}
    for window in (1400, 700):
        opened.page.set_viewport_size({"width": window, "height": 800})
        opened.page.wait_for_function(
            f"document.getElementById('boundary').width !== {widths.get(1400, [0])[0]}"
        )
        loss = opened.page.eval_on_selector("#loss line", "l => Number(l.getAttribute('x2'))")
        widths[window] = (_canvas_pixels(opened)[0], loss)
    wide, narrow = widths[1400], widths[700]
    assert wide[0] > narrow[0] >= 250 and wide[0] >= 500  # the boundary fills its space
    assert wide[1] > 2 * 300 and narrow[1] < wide[1]  # so do the curves, redrawn
    assert opened.page.evaluate("document.documentElement.scrollWidth") <= 700  # no overflow


@pytest.mark.slow
def test_the_points_are_in_the_class_colours_of_every_picture(open_page, tmp_path) -> None:
    recorder = _linear_recorder([-1, 1, -1, 1])  # -1/+1 labels: the classes 0 and 1
    opened = open_page(viz.training_page(recorder).save_html(tmp_path / "colours.html"))
    side, pixels = _canvas_pixels(opened)
    xs, ys, _ = recorder.grid
    for (x0, x1), label in zip(recorder.X, [-1, 1, -1, 1]):
        px = round((x0 - xs[0]) / (xs[-1] - xs[0]) * side)
        py = round((ys[-1] - x1) / (ys[-1] - ys[0]) * side)
        rgb = pixels[4 * (py * side + px) : 4 * (py * side + px) + 3]
        assert "#" + "".join(f"{c:02x}" for c in rgb) == viz.CLASS_COLOURS[int(label == 1)]


@pytest.mark.slow
def test_a_training_page_of_100_snapshots_is_under_5_mb() -> None:
    X, y = datasets.make_moons(100, noise=0.1, seed=0)  # noqa: N806
    model = nn.MLP(2, [16, 16, 1], seed=0)
    recorder = viz.TrainingRecorder(model, X, y, every=1, grid=4)  # a small grid: fast
    training.fit(model, X, y, steps=99, progress=False, callback=recorder)
    # The default 20 x 20 grid adds 384 scores of at most 11 characters per snapshot.
    size = len(viz.training_page(recorder).html.encode("utf-8")) + 100 * (400 - 16) * 11
    assert len(recorder.snapshots) == 100
    assert size < 5_000_000
    with pytest.raises(ValueError, match=r"100 snapshots, more than max_snapshots=50.*every="):
        viz.training_page(recorder, max_snapshots=50)


def test_data_that_is_not_2d_gets_curves_and_heat_maps_only(open_page, tmp_path: Path) -> None:
    X = [[0.0, 1.0, 2.0], [1.0, 0.0, -1.0], [2.0, 2.0, 0.5], [-1.0, 0.5, 0.0]]  # noqa: N806
    y = [0, 1, 1, 0]
    model = nn.MLP(3, [4, 1], seed=1)
    recorder = viz.TrainingRecorder(model, X, y, every=2)
    training.fit(model, X, y, steps=4, progress=False, callback=recorder)
    opened = open_page(viz.training_page(recorder).save_html(tmp_path / "3d.html"))
    assert opened.page.locator("#boundary").count() == 0
    assert opened.page.locator("canvas.heatmap").count() == 2


def test_weights_that_overflow_the_snapshot_are_a_clear_error() -> None:
    X, y = datasets.make_moons(10, seed=0)  # noqa: N806
    model = nn.MLP(2, [4, 1], seed=0)
    recorder = viz.TrainingRecorder(model, X, y, every=1)
    for p in model.parameters():
        p.data = 1e200  # as after a diverging step: 4 * 1e200 * 1e200 overflows
    with pytest.raises(OverflowError, match=r"after step 1: .*smaller learning rate"):
        recorder(0, 1.0, 0.5)


def test_live_outside_jupyter_is_refused() -> None:
    X, y = datasets.make_moons(10, seed=0)  # noqa: N806
    with pytest.raises(ValueError, match=r"live=True .* Jupyter"):
        training.fit(nn.MLP(2, [1], seed=0), X, y, steps=2, progress=False, live=True)


# --------------------------------------------------------------------------- Jupyter


NOTEBOOK_CELLS = [
    "from tinygrad_edu import Value, datasets, nn, training, viz\n"
    "x, w, b = Value(2.0, 'x'), Value(-0.5, 'w'), Value(0.3, 'b')\n"
    "viz.explore((w * x + b).tanh())",
    "X, y = datasets.make_moons(40, noise=0.1, seed=0)\n"
    "history = training.fit(nn.MLP(2, [4, 1], seed=0), X, y, steps=40, progress=False, live=True)",
]


@pytest.mark.slow
def test_pages_work_in_an_executed_notebook_exported_to_html(open_page, tmp_path: Path) -> None:
    """The real path: a kernel runs the cells (fit(live=True) updates its output in place),
    nbconvert writes the HTML export, and both pages work in it with no kernel."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    path = tmp_path / "pages.ipynb"
    nbformat.write(notebook, path)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", "--execute", str(path)],
        check=True,
        capture_output=True,
        env=environment,
        cwd=tmp_path,
    )
    exported = tmp_path / "pages.html"
    browser_page = open_page(exported, frames_only=True)
    frames = browser_page.page.frame_locator("iframe")
    explore_frame, training_frame = frames.nth(0), frames.nth(1)
    explore_frame.locator("#next").click()
    assert explore_frame.locator("#position").inner_text() == "forward step 1 of 6"
    # The live output ended as the whole run: the last snapshot is after step 40.
    assert training_frame.locator("#status").inner_text().startswith("after 40 of 40 steps")
    training_frame.locator("#prev").click()
    assert training_frame.locator("#status").inner_text().startswith("after 38 of 40 steps")
