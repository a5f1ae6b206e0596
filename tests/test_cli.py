"""The ``tinygrad-edu`` command line: demo, train and graph, as a user runs them.

A few runs go through a real subprocess (``python -m tinygrad_edu`` and the installed
console script); the many small cases call ``main()`` in-process, which is the same
code without the half-second start-up.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import tinygrad_edu
from tinygrad_edu import cli, datasets, training
from tinygrad_edu.cli import main
from tinygrad_edu.nn import MLP

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPT = shutil.which("tinygrad-edu", path=str(Path(sys.executable).parent))


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *args], cwd=cwd, capture_output=True, text=True
    )


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None, "the tinygrad-edu script is not installed next to this Python"
    return subprocess.run([SCRIPT, *args], cwd=cwd, capture_output=True, text=True)


def assert_svg(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()  # raises on malformed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def assert_clean_failure(code: int, stderr: str) -> None:
    """Exit 2 with a message and no traceback."""
    assert code == 2
    assert "error:" in stderr
    assert "Traceback" not in stderr


def graph_numbers(text: str) -> dict[str, float]:
    """``{"value": ..., "x": d/dx, ...}`` from graph's report lines."""
    numbers = {}
    for line in text.splitlines():
        left, sep, right = line.rpartition(" = ")
        if not sep:
            continue
        numbers[left[3:] if left.startswith("d/d") else "value"] = float(right)
    return numbers


# --------------------------------------------------------------------------- demo and train


def hide_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib`` (and the module the CLI imports) fail, as if not installed."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)


def check_training_output(out: Path, stdout: str, *, steps: int) -> dict:
    """The files of demo/train: a loadable model that scores what was reported, a
    well-formed SVG graph and a PNG plot."""
    data = json.loads((out / "model.json").read_text(encoding="utf-8"))
    setup = data["training"]
    model = MLP(**data["model"])
    model.load_state_dict(data["state_dict"])
    make = {
        "moons": datasets.make_moons,
        "circles": datasets.make_circles,
        "spirals": datasets.make_spirals,
        "xor": datasets.make_xor,
    }[setup["dataset"]]
    X, y = make(n_samples=setup["samples"], seed=setup["seed"])  # noqa: N806
    reloaded_accuracy = training.accuracy(model, X, y)
    assert reloaded_accuracy == setup["final_accuracy"]
    assert f"final accuracy: {reloaded_accuracy:.1%}" in stdout
    assert setup["steps"] == steps
    assert f"step {steps}/{steps}" in stdout  # progress lines, the last step included

    svg = assert_svg(out / "graph.svg")
    texts = " ".join(t for element in svg.iter() for t in [element.text or ""])
    assert "layers.0.neurons.0.w.0" in texts  # the parameters are named
    assert (out / "decision_boundary.png").read_bytes().startswith(PNG_SIGNATURE)
    return data


def test_demo_trains_moons_and_writes_its_files(tmp_path: Path) -> None:
    """The one full run: the demo exactly as a new user types it."""
    result = run_module("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "training:" in result.stderr and "100/100" in result.stderr  # tqdm's bar
    data = check_training_output(tmp_path / "tinygrad_edu_demo", result.stdout, steps=100)
    assert data["model"] == {"nin": 2, "nouts": [16, 16, 1], "activation": "relu"}
    assert data["training"]["dataset"] == "moons"
    assert data["training"]["final_accuracy"] >= 0.95  # the demo must actually learn


def test_train_with_choices_as_a_subprocess(tmp_path: Path) -> None:
    result = run_script(
        "train",
        "--dataset", "spirals",
        "--hidden", "8",
        "--activation", "tanh",
        "--optimizer", "momentum",
        "--lr", "0.02",
        "--steps", "5",
        "--seed", "3",
        "--samples", "60",
        "--out", "spiral_run",
        "--no-progress",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "training:" not in result.stderr  # --no-progress: no bar
    data = check_training_output(tmp_path / "spiral_run", result.stdout, steps=5)
    assert data["model"] == {"nin": 2, "nouts": [8, 3], "activation": "tanh"}
    assert data["training"] | {"final_accuracy": None} == {
        "dataset": "spirals",
        "samples": 60,
        "seed": 3,
        "loss": "cross_entropy",
        "optimizer": "momentum",
        "lr": 0.02,
        "steps": 5,
        "final_accuracy": None,
    }


@pytest.mark.parametrize(
    ("dataset", "optimizer", "lr"),
    [("circles", "sgd", 0.1), ("xor", "adam", 0.01)],
)
def test_train_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dataset: str, optimizer: str, lr: float
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--dataset", dataset, "--optimizer", optimizer, "--steps", "4"]
    assert main([*argv, "--hidden", "4,4", "--out", str(out), "--no-progress"]) == 0
    data = check_training_output(out, capsys.readouterr().out, steps=4)
    assert data["training"]["loss"] == "hinge"
    assert data["training"]["lr"] == lr  # the optimizer's default rate
    assert data["model"]["nouts"] == [4, 4, 1]


def test_without_matplotlib_the_plot_is_skipped_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hide_matplotlib(monkeypatch)
    out = tmp_path / "run"
    assert main(["train", "--steps", "2", "--hidden", "3", "--out", str(out), "--no-progress"]) == 0
    assert 'pip install "tinygrad-edu[plot]"' in capsys.readouterr().err
    assert json.loads((out / "model.json").read_text(encoding="utf-8"))["state_dict"]
    assert_svg(out / "graph.svg")
    assert not (out / "decision_boundary.png").exists()


def test_a_graph_too_big_to_read_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hide_matplotlib(monkeypatch)  # the slow plot is not the point here
    out = tmp_path / "run"
    assert (
        main(["train", "--steps", "1", "--hidden", "32,32", "--out", str(out), "--no-progress"])
        == 0
    )
    assert "graph.svg skipped" in capsys.readouterr().err
    assert not (out / "graph.svg").exists()
    assert (out / "model.json").exists()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--hidden", "16,x"], "--hidden"),
        (["--hidden", "0"], "--hidden"),
        (["--hidden", ""], "--hidden"),
        (["--hidden", "16,,16"], "--hidden"),
        (["--lr", "0"], "--lr"),
        (["--lr", "-0.1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--lr", "fast"], "--lr"),
        (["--steps", "0"], "--steps"),
        (["--steps", "2.5"], "--steps"),
        (["--samples", "-4"], "--samples"),
        (["--seed", "-1"], "--seed"),
        (["--dataset", "mnist"], "--dataset"),
        (["--optimizer", "rmsprop"], "--optimizer"),
        (["--activation", "linear"], "--activation"),
        (["--bogus"], "unrecognized"),
        (["x=1"], "unrecognized"),
    ],
)
def test_train_refuses_bad_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], words: str
) -> None:
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as caught:
        main(["train", *options, "--out", str(out)])
    stderr = capsys.readouterr().err
    assert_clean_failure(caught.value.code, stderr)
    assert words in stderr.splitlines()[-1]
    assert not out.exists()


def test_train_compiled_gives_the_same_model(tmp_path: Path) -> None:
    models = []
    for flags in ([], ["--compile"]):
        out = tmp_path / f"run{len(flags)}"
        argv = ["train", "--steps", "5", "--hidden", "4", "--samples", "20", *flags]
        assert main([*argv, "--out", str(out), "--no-progress"]) == 0
        models.append(json.loads((out / "model.json").read_text(encoding="utf-8"))["state_dict"])
    assert models[0] == models[1]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--dataset", "spirals", "--compile"], "--compile"),
        (["--dataset", "xor", "--samples", "3"], "n_samples"),  # the data set's own check
        (["--optimizer", "sgd", "--lr", "1e200"], "smaller learning rate"),  # diverges
    ],
)
def test_train_reports_input_errors_found_while_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], words: str
) -> None:
    code = main(["train", *options, "--steps", "3", "--out", str(tmp_path / "o"), "--no-progress"])
    stderr = capsys.readouterr().err
    assert_clean_failure(code, stderr)
    assert stderr.count("\n") == 1 and words in stderr


def test_train_refuses_an_output_directory_it_cannot_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("not a directory")
    code = main(["train", "--steps", "1", "--out", str(tmp_path / "file" / "sub")])
    stderr = capsys.readouterr().err
    assert_clean_failure(code, stderr)
    assert "--out" in stderr


@pytest.mark.parametrize("blocked", ["model.json", "decision_boundary.png"])
def test_train_reports_an_output_file_it_cannot_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], blocked: str
) -> None:
    (tmp_path / blocked).mkdir()  # a directory where the file should go
    code = main(["train", "--steps", "1", "--out", str(tmp_path), "--no-progress"])
    stderr = capsys.readouterr().err
    assert_clean_failure(code, stderr)
    assert "--out: cannot write the results" in stderr and blocked in stderr


# --------------------------------------------------------------------------- graph


def test_graph_as_a_subprocess_prints_gradients_and_writes_svg(tmp_path: Path) -> None:
    result = run_module("graph", "tanh(x*w + b)", "x=1", "w=2", "b=-1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    t = math.tanh(1.0 * 2.0 - 1.0)
    expected = {"value": t, "x": 2.0 * (1 - t * t), "w": 1.0 * (1 - t * t), "b": 1 - t * t}
    numbers = graph_numbers(result.stdout)
    assert list(numbers) == ["value", "x", "w", "b"]  # in the order given
    for name, value in expected.items():
        assert numbers[name] == pytest.approx(value, rel=1e-12)
    svg = assert_svg(tmp_path / "graph.svg")
    texts = [element.text or "" for element in svg.iter()]
    assert any("tanh" in text for text in texts)


def test_graph_with_the_console_script_and_a_dot_file(tmp_path: Path) -> None:
    result = run_script("graph", "x*y + sin(y)", "-o", "g.dot", "x=3", "y=0.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    numbers = graph_numbers(result.stdout)
    assert numbers["x"] == pytest.approx(0.5, rel=1e-12)
    assert numbers["y"] == pytest.approx(3.0 + math.cos(0.5), rel=1e-12)
    assert (tmp_path / "g.dot").read_text(encoding="utf-8").startswith("digraph")
    assert [p.name for p in tmp_path.iterdir()] == ["g.dot"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # -x**2 is -(x**2): d/dx = -2x
        (["--", "-x**2", "x=3"], {"value": -9.0, "x": -6.0}),
        (["(-x)**2", "x=3"], {"value": 9.0, "x": 6.0}),
        # d/dx x**y = y x**(y-1), d/dy = x**y log x
        (["x**y", "x=2", "y=3"], {"value": 8.0, "x": 12.0, "y": 8 * math.log(2)}),
        # d/dx log(x)/x = (1 - log x)/x²
        (["log(x)/x", "x=2"], {"value": math.log(2) / 2, "x": (1 - math.log(2)) / 4}),
        (["sigmoid(x)", "x=0"], {"value": 0.5, "x": 0.25}),
        (["relu(x) * 3", "x=-2", "unused=1"], {"value": 0.0, "x": 0.0, "unused": 0.0}),
        (["2 ** 3"], {"value": 8.0}),
    ],
)
def test_graph_values_and_gradients(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: dict[str, float],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["graph", *argv]) == 0
    numbers = graph_numbers(capsys.readouterr().out)
    assert numbers == pytest.approx(expected, rel=1e-12)
    assert_svg(tmp_path / "graph.svg")


def test_graph_to_standard_output_keeps_the_numbers_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "-o", "-", "--format", "svg", "x*x", "x=4"]) == 0
    captured = capsys.readouterr()
    assert ET.fromstring(captured.out.encode()).tag.endswith("svg")
    assert graph_numbers(captured.err) == {"value": 16.0, "x": 8.0}
    assert main(["graph", "x*x", "x=4", "-o", "-", "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph")
    assert list(tmp_path.iterdir()) == []


# The battery runs in-process (fast); a few of the worst also as real subprocesses below.
HOSTILE_GRAPH_ARGUMENTS = [
    ["__import__('os').system('touch pwned')"],
    ["x.__class__", "x=1"],
    ["x.__class__.__bases__[0].__subclasses__()", "x=1"],
    ["(lambda: 1)()"],
    ["x[0]", "x=1"],
    ["open('f', 'w')"],
    ["1e999999"],
    ["2**2**2**2**2**2"],
    ["(" * 10_000 + "x" + ")" * 10_000, "x=1"],
    ["(" * 60 + "x" + ")" * 60, "x=1"],
    ["--", "-" * 60 + "x", "x=1"],
    ["'str'"],
    ["x;y", "x=1", "y=2"],
    ["nosuch(x)", "x=1"],
    ["x + y", "x=1"],
    ["exp(x)", "x=1000"],
    ["log(x)", "x=0"],
    ["1/x", "x=0"],
    ["x", "x=abc"],
    ["x", "x=1", "x=2"],
    ["x", "x=1e999"],
    ["x", "exp=1"],
    [""],
    ["x" * 2000],
]


@pytest.mark.parametrize("argv", HOSTILE_GRAPH_ARGUMENTS, ids=lambda a: repr(a[0][:24]))
def test_graph_refuses_hostile_input_in_one_line_without_side_effects(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["graph", *argv])
    captured = capsys.readouterr()
    assert_clean_failure(code, captured.err)
    assert captured.err.count("\n") == 1  # one line
    assert captured.err.startswith("tinygrad-edu graph: error: ")
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["__import__('os').system('touch pwned')"],
        ["x.__class__", "x=1"],
        ["(lambda: 1)()"],
        ["(" * 10_000 + "x" + ")" * 10_000],
        ["2**2**2**2**2**2"],
    ],
    ids=["import", "attribute", "lambda", "deep", "huge-power"],
)
def test_graph_refuses_hostile_input_as_a_subprocess(tmp_path: Path, argv: list[str]) -> None:
    result = run_module("graph", *argv, cwd=tmp_path)
    assert_clean_failure(result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_graph_reports_an_unwritable_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["graph", "x", "x=1", "-o", str(tmp_path / "missing" / "g.svg")])
    captured = capsys.readouterr()
    assert_clean_failure(code, captured.err)
    assert "cannot write the graph" in captured.err


# --------------------------------------------------------------------------- help and usage


@pytest.mark.parametrize("command", [[], ["demo"], ["train"], ["graph"]])
def test_help_on_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*command, "--help"])
    assert caught.value.code == 0
    assert "usage: tinygrad-edu" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"tinygrad-edu {tinygrad_edu.__version__}"


def test_an_interrupt_exits_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "evaluate", interrupted)
    assert main(["graph", "x", "x=1"]) == 130
    assert capsys.readouterr().err == "tinygrad-edu graph: interrupted\n"


def test_help_and_usage_errors_through_the_script(tmp_path: Path) -> None:
    result = run_script("graph", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "never run as Python" in " ".join(result.stdout.split())
    result = run_script(cwd=tmp_path)  # no command
    assert_clean_failure(result.returncode, result.stderr)
    result = run_module("fly", cwd=tmp_path)
    assert_clean_failure(result.returncode, result.stderr)
