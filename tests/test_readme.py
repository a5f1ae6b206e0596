"""The README's ``python`` examples run, in order, as one program (``py`` blocks are excerpts)."""

from __future__ import annotations

import contextlib
import doctest
import io
import math
import re
from pathlib import Path

import pytest

import tinygrad_edu
from tinygrad_edu import topological_order
from tinygrad_edu.training import accuracy

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.slow
def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)  # the examples write files
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # the training example reached a good fit, and the pictures were written
    assert accuracy(namespace["model"], namespace["X"], namespace["y"]) >= 0.95
    assert (tmp_path / "neuron.svg").read_text().lstrip().startswith("<?xml")
    frames = sorted((tmp_path / "frames").glob("frame_*.svg"))
    assert len(frames) == len(topological_order(namespace["neuron"])) == 6  # x w b, w*x, +b, tanh
    for page in ("neuron.html", "training.html"):  # the interactive pages
        assert (tmp_path / page).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_the_readme_is_at_most_12_kb() -> None:
    """The README invites; the reference lives on the site."""
    assert len(README.read_bytes()) <= 12 * 1024


def test_the_readme_runs_the_test_command_that_ci_runs() -> None:
    """CI runs exactly the README's test command: the whole suite, notebooks included."""
    quick_start = re.search(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)[1]
    assert quick_start.splitlines() == ['pip install -e ".[dev]" && tinygrad-edu demo', "pytest"]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^    pytest$", ci, re.MULTILINE)


def test_the_first_example_has_readable_gradients_and_true_comments() -> None:
    """The first lesson: tanh(w x + b) away from saturation, its comments checked by hand."""
    first = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)[1]
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(first, str(README), "exec"), namespace)
    x, w, b = (namespace[name].data for name in "xwb")
    y = math.tanh(w * x + b)
    slope = 1 - y * y  # tanh' at w x + b
    by_hand = {"w": x * slope, "x": w * slope, "b": slope}
    for name, expected in by_hand.items():
        assert namespace[name].grad == pytest.approx(expected, rel=1e-12)
        assert 0.1 <= abs(expected) <= 10  # readable: no saturated tanh, no 4e-4
    # what the print line says it prints is what it prints, and that is the truth
    print_line = next(line for line in first.splitlines() if line.startswith("print("))
    claimed = print_line.split("#")[1].split()
    assert printed.getvalue().split() == claimed
    assert claimed == [f"{by_hand[name]:.4f}" for name in "wxb"]
    # the other comments: the value of tanh, and 1 - y^2
    assert f"tanh({w * x + b:g}) = {y:.4f}" in first
    assert f"{slope:.4f}" in first and f"= {x:g} * {slope:.4f}" in first


def test_the_package_docstring_example_runs_as_shown() -> None:
    failures, tried = doctest.testmod(tinygrad_edu, verbose=False)
    assert tried >= 4 and failures == 0
