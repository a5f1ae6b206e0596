"""The ``tinygrad-edu`` command line: demo, train and graph, as a user runs them.

A few runs go through a real subprocess (``python -m tinygrad_edu`` and the installed
console script); the many small cases call ``main()`` in-process, which is the same
code without the half-second start-up.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import tinygrad_edu
from tinygrad_edu import Value, cli, datasets, nn, training
from tinygrad_edu.cli import main
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import Adam

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


MAKE = {
    "moons": datasets.make_moons,
    "circles": datasets.make_circles,
    "spirals": datasets.make_spirals,
    "xor": datasets.make_xor,
}


def check_training_output(out: Path, stdout: str, *, steps: int) -> dict:
    """The files of demo/train: a loadable model that scores what was reported, a
    well-formed SVG graph and a PNG plot."""
    data = json.loads((out / "model.json").read_text(encoding="utf-8"))
    setup = data["metadata"]["training"]
    model = nn.load(out / "model.json")  # the file is exactly nn.save's format
    X, y = MAKE[setup["dataset"]](n_samples=setup["samples"], seed=setup["seed"])  # noqa: N806
    reloaded_accuracy = training.accuracy(model, X, y)
    assert reloaded_accuracy == setup["final_accuracy"]
    assert f"final accuracy (after step {steps}'s update): {reloaded_accuracy:.1%}" in stdout
    assert setup["steps"] == steps
    assert f"step {steps}/{steps}" in stdout  # progress lines, the last step included

    # graph.svg: the output neuron at the first point, small enough to read at a glance
    svg = assert_svg(out / "graph.svg")
    texts = " ".join(t for element in svg.iter() for t in [element.text or ""])
    last = len(model.layers) - 1
    assert f"layers.{last}.neurons.0.w.0" in texts  # the parameters are named
    boxes = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if "value" in g.get("class", "")]
    assert len(boxes) == model.layers[-1].nin + 2 < 60  # weights, bias, output
    output = model(X[0])
    first = output if isinstance(output, Value) else output[0]
    assert f"data {first.data:.4g}" in texts  # the model's own prediction
    assert (out / "decision_boundary.png").read_bytes().startswith(PNG_SIGNATURE)
    page = (out / "training.html").read_text(encoding="utf-8")
    numbers = json.loads(page.split('id="data">')[1].split("</script>")[0])
    assert numbers["snapshots"][-1]["step"] == steps
    assert numbers["snapshots"][-1]["accuracy"] == setup["final_accuracy"]
    return data


@pytest.mark.slow
def test_demo_trains_moons_and_writes_its_files(tmp_path: Path) -> None:
    """The one full run: the demo exactly as a new user types it."""
    result = run_module("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # standard error is not a terminal here: no progress bar to run into the lines
    assert "training:" not in result.stderr and "\r" not in result.stderr + result.stdout
    data = check_training_output(tmp_path / "tinygrad_edu_demo", result.stdout, steps=100)
    assert data["kind"] == "MLP"
    assert data["config"] == {
        "nin": 2,
        "nouts": [16, 16, 1],
        "activation": "relu",
        "output_activation": "linear",
    }
    assert data["metadata"]["training"]["dataset"] == "moons"
    assert data["metadata"]["training"]["final_accuracy"] >= 0.95  # the demo must learn


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
    assert data["config"] == {
        "nin": 2,
        "nouts": [8, 3],
        "activation": "tanh",
        "output_activation": "linear",
    }
    assert data["metadata"]["training"] | {"final_accuracy": None} == {
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
    assert data["metadata"]["training"]["loss"] == "hinge"
    assert data["metadata"]["training"]["lr"] == lr  # the optimizer's default rate
    assert data["config"]["nouts"] == [4, 4, 1]


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
        main(["train", "--steps", "1", "--hidden", "3,64", "--out", str(out), "--no-progress"]) == 0
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
        (["--steps", "10**26"], "--steps"),
        (["--steps", str(10**26)], "from 1 to 1,000,000"),
        (["--steps", "1000001"], "from 1 to 1,000,000"),
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


@pytest.mark.parametrize("dataset", ["moons", "spirals"])  # hinge, and cross-entropy
def test_train_compiled_gives_the_same_model(tmp_path: Path, dataset: str) -> None:
    models = []
    for flags in ([], ["--compile"]):
        out = tmp_path / f"run{len(flags)}"
        argv = ["train", "--steps", "5", "--hidden", "4", "--samples", "20", "--dataset", dataset]
        argv += flags
        assert main([*argv, "--out", str(out), "--no-progress"]) == 0
        models.append(json.loads((out / "model.json").read_text(encoding="utf-8"))["state_dict"])
    assert models[0] == models[1]


@pytest.mark.parametrize(
    ("options", "words"),
    [
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


@pytest.mark.parametrize("blocked", ["model.json", "graph.svg", "decision_boundary.png"])
def test_train_checks_every_output_file_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], blocked: str
) -> None:
    (tmp_path / blocked).mkdir()  # a directory where the file should go
    code = main(["train", "--steps", "1", "--out", str(tmp_path), "--no-progress"])
    out, err = capsys.readouterr()
    assert_clean_failure(code, err)
    assert err.count("\n") == 1 and "--out" in err and blocked in err
    assert "training" not in out  # refused before training, nothing else written
    assert sorted(p.name for p in tmp_path.iterdir()) == [blocked]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_train_refuses_an_output_directory_it_cannot_write_into(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["train", "--steps", "1", "--out", "/proc", "--no-progress"])
    out, err = capsys.readouterr()
    assert_clean_failure(code, err)
    assert err.count("\n") == 1 and "'/proc'" in err
    assert "training" not in out


def test_each_printed_figure_is_what_its_line_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Step lines count from 1 and show the loss and accuracy before that step's update;
    the final line is the accuracy after the last update. Checked against fit itself."""
    argv = ["train", "--steps", "5", "--hidden", "4", "--samples", "40", "--seed", "2"]
    assert main([*argv, "--out", str(tmp_path), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "measured before that step's update" in stdout
    printed = re.findall(r"^step (\d)/5  loss (\S+)  accuracy (\S+)%$", stdout, re.MULTILINE)
    assert [int(step) for step, _, _ in printed] == [1, 2, 3, 4, 5]

    X, y = datasets.make_moons(n_samples=40, seed=2)  # noqa: N806
    model = MLP(2, [4, 1], seed=2)
    history = training.fit(
        model, X, y, optimizer=Adam(model.parameters(), 0.01), steps=5, progress=False
    )
    for (_, loss, accuracy), expected_loss, expected_accuracy in zip(
        printed, history["loss"], history["accuracy"]
    ):
        assert loss == f"{expected_loss:.4f}"  # losses with 4 decimals, as everywhere
        assert accuracy == f"{expected_accuracy * 100:.1f}"
    after = training.accuracy(model, X, y)
    assert f"final accuracy (after step 5's update): {after:.1%}" in stdout


def test_a_diverging_run_prints_fits_warning_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--lr", "1e6", "--steps", "6", "--hidden", "4", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    stderr = capsys.readouterr().err
    assert stderr.startswith("tinygrad-edu train: warning: fit: step 2: the loss is ")
    assert stderr.count("\n") == 1 and "smaller learning rate (lr is 1e+06)" in stderr


def test_too_many_steps_is_refused_before_any_folder_is_made(tmp_path: Path) -> None:
    result = run_module("train", "--steps", str(10**26), "--out", "never", cwd=tmp_path)
    assert_clean_failure(result.returncode, result.stderr)
    assert "--steps: expected a whole number of steps from 1 to 1,000,000" in result.stderr
    assert not (tmp_path / "never").exists()


# --------------------------------------------------------------------------- evaluate


def test_evaluate_reads_the_saved_model_and_its_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--dataset", "spirals", "--hidden", "6", "--steps", "3", "--seed", "4"]
    assert main([*argv, "--samples", "30", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.json")]) == 0
    model = nn.load(out / "model.json")
    X, y = datasets.make_spirals(n_samples=30, seed=4)  # noqa: N806, as recorded in the file
    expected = training.accuracy(model, X, y)
    assert capsys.readouterr().out == (
        f"{model} on 30 spirals points (seed 4)\n"
        f"accuracy: {expected:.1%} ({round(expected * 30)} of 30 points)\n"
    )
    assert main(["evaluate", str(out / "model.json"), "--samples", "12", "--seed", "9"]) == 0
    X, y = datasets.make_spirals(n_samples=12, seed=9)  # noqa: N806
    assert f"accuracy: {training.accuracy(model, X, y):.1%}" in capsys.readouterr().out


def test_evaluate_a_file_written_by_nn_save(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = MLP(2, [3, 1], seed=0)
    nn.save(model, tmp_path / "mine.json")  # no training record: moons, 100 points, seed 0
    assert main(["evaluate", str(tmp_path / "mine.json")]) == 0
    X, y = datasets.make_moons(n_samples=100, seed=0)  # noqa: N806
    assert f"accuracy: {training.accuracy(model, X, y):.1%}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read"),
        ("{", "not valid JSON"),
        ('{"model": {}, "state_dict": {}}', "is not a saved model"),
        ("spirals", "y holds 3 classes (0, 1, 2), but a model with one output separates two"),
        ("three inputs", "expected 3 inputs, got 2"),
    ],
)
def test_evaluate_refuses_what_it_cannot_read_or_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, words: str
) -> None:
    path = tmp_path / "model.json"
    argv = ["evaluate", str(path)]
    if content == "spirals":
        nn.save(MLP(2, [3, 1], seed=0), path)
        argv += ["--dataset", "spirals"]
    elif content == "three inputs":
        nn.save(MLP(3, [3, 1], seed=0), path)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    code = main(argv)
    stderr = capsys.readouterr().err
    assert_clean_failure(code, stderr)
    assert stderr.count("\n") == 1 and words in stderr


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


@pytest.mark.parametrize("command", [[], ["demo"], ["train"], ["evaluate"], ["graph"]])
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


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["-o", "out.png"], "cannot write '.png' files"),
        (["-o", "out.pdf", "--format", "svg"], "cannot write '.pdf' files"),
        (["-o", "out.svg", "--format", "dot"], "names a svg file, but --format is dot"),
        (["-o", "out.gv", "--format", "svg"], "names a dot file, but --format is svg"),
        (["-o", ""], "give a file name"),
        (["--format", "png"], "invalid choice"),
    ],
)
def test_graph_refuses_an_output_it_cannot_write_as_asked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    words: str,
) -> None:
    """`graph "x**2" x=3 -o out.png` wrote SVG into out.png and exited 0."""
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["graph", "x**2", "x=3", *options])
    except SystemExit as caught:  # argparse's own errors
        code = caught.code
    err = capsys.readouterr().err
    assert_clean_failure(code, err)
    assert err.count("\n") == 1 and words in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "start"), [("g.svg", "<?xml"), ("g.SVG", "<?xml"), ("g.gv", "digraph"), ("g", "<?xml")]
)
def test_graph_takes_the_format_from_the_suffix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, start: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "x**2", "x=3", "-o", name]) == 0
    assert (tmp_path / name).read_text(encoding="utf-8").startswith(start)
    assert main(["graph", "x**2", "x=3", "-o", "h.gv", "--format", "dot"]) == 0


@pytest.mark.parametrize(
    "argv", [["train", "--steps", "x"], ["graph"], ["fly"], [], ["demo", "--bogus"]]
)
def test_every_usage_error_is_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    err = capsys.readouterr().err
    assert_clean_failure(caught.value.code, err)
    assert err.count("\n") == 1 and "--help" in err


def test_help_and_usage_errors_through_the_script(tmp_path: Path) -> None:
    result = run_script("graph", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "never run as Python" in " ".join(result.stdout.split())
    result = run_script(cwd=tmp_path)  # no command
    assert_clean_failure(result.returncode, result.stderr)
    result = run_module("fly", cwd=tmp_path)
    assert_clean_failure(result.returncode, result.stderr)


# --------------------------------------------------------------------------- explore


def test_explore_writes_a_page_for_the_expression(tmp_path: Path) -> None:
    result = run_module("explore", "x*y + sin(y)", "x=3", "y=0.5", "-o", "page.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote page.html" in result.stdout
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    numbers = json.loads(page.split('id="data">')[1].split("</script>")[0])
    assert len(numbers["forward"]) == len(numbers["backward"]) == 5  # x, y, x*y, sin y, sum
    assert any(
        "x.grad is now 0.5" in line for step in numbers["backward"] for line in step["lines"]
    )


@pytest.mark.parametrize("argv", [["x +", "x=1"], ["__import__('os')"], ["x*y", "x=1"]])
def test_explore_refuses_bad_input_in_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    output = tmp_path / "page.html"
    assert main(["explore", *argv, "-o", str(output)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tinygrad-edu explore: error: ") and error.count("\n") == 1
    assert not output.exists()


def test_explore_reports_an_unwritable_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", "x*x", "x=2", "-o", str(tmp_path / "missing" / "page.html")]) == 2
    assert "cannot write the page to" in capsys.readouterr().err
