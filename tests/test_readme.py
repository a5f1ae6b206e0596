"""The README's ``python`` examples run, in order, as one program (``py`` blocks are excerpts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tinygrad_edu import topological_order
from tinygrad_edu.training import accuracy

README = Path(__file__).resolve().parent.parent / "README.md"


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
