"""The command line tells the truth: pictures, limits, interrupts and messages.

Each test here checks what a command prints or writes against a reference computed
independently of the code that printed or wrote it (finite differences, a model loaded
back from its file, an argmax by hand).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import interrupt_when

from tinygrad_edu import cli, datasets, nn, no_grad
from tinygrad_edu.cli import main

SVG = "{http://www.w3.org/2000/svg}"


def drawn_gradients(path: Path) -> dict[str, float]:
    """``{parameter name: the gradient its box shows}`` from a graph.svg of the command line."""
    shown = {}
    for group in ET.parse(path).getroot().iter(f"{SVG}g"):
        if "parameter" in group.get("class", "").split():
            name, _, grad = (text.text for text in group.iter(f"{SVG}text"))
            shown[name] = float(grad.removeprefix("grad "))
    return shown


def central_difference(model: nn.Module, parameter: object, x: list[float]) -> float:
    """d model(x)[0] / d parameter by central differences, on the model's numbers alone."""

    def output() -> float:
        out = model(x)
        return (out[0] if isinstance(out, list) else out).data

    h, saved = 1e-6, parameter.data
    parameter.data = saved + h
    up = output()
    parameter.data = saved - h
    down = output()
    parameter.data = saved
    return (up - down) / (2 * h)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["demo"], marks=pytest.mark.slow),
        ["train", "--hidden", "4,4", "--steps", "20"],
        ["train", "--hidden", "5", "--steps", "10", "--compile", "--activation", "tanh"],
    ],
    ids=["demo", "train", "train-compiled"],
)
def test_the_drawn_gradients_are_the_outputs_own(tmp_path: Path, argv: list[str]) -> None:
    """graph.svg showed the output's gradients plus those left by the last training step
    (the bias showed 1.19 where d output / d b is 1)."""
    assert main([*argv, "--out", str(tmp_path), "--no-progress"]) == 0
    model = nn.load(tmp_path / "model.json")
    setup = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))["metadata"]
    X, _ = datasets.make_moons(n_samples=setup["training"]["samples"], seed=0)  # noqa: N806
    shown = drawn_gradients(tmp_path / "graph.svg")
    named = dict(model.named_parameters())
    last = len(model.layers) - 1
    assert sorted(shown) == sorted(name for name in named if name.startswith(f"layers.{last}."))
    for name, grad in shown.items():  # 4 significant digits are drawn
        assert grad == pytest.approx(
            central_difference(model, named[name], X[0]), rel=1e-3, abs=1e-9
        )


# --------------------------------------------------------------------------- gpt

SMALL_GPT = ["--n-embd", "8", "--n-head", "2", "--eval", "5", "--no-progress"]


def most_likely_name(model: nn.GPT, bos: int) -> list[int]:
    """The most likely token after each prefix, by the whole-sequence forward, until bos."""
    tokens = [bos]
    with no_grad():
        while len(tokens) <= model.block_size:
            scores = [z.data for z in model(tokens)[-1]]
            best = scores.index(max(scores))
            if best == bos:
                break
            tokens.append(best)
    return tokens[1:]


@pytest.mark.parametrize("temperature", ["0", "1e-320"])
def test_gpt_samples_greedily_at_a_vanishing_temperature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], temperature: str
) -> None:
    """--temperature 1e-320 crashed (inf - inf) and 0 was refused."""
    argv = ["gpt", "--steps", "3", "--samples", "2", "--temperature", temperature]
    assert main([*argv, "--out", str(tmp_path), *SMALL_GPT]) == 0
    printed = capsys.readouterr().out.split(f"temperature {float(temperature):g}:\n")[1]
    model = nn.load(tmp_path / "model.json")
    data = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    tokenizer = datasets.CharTokenizer(data["metadata"]["tokenizer"]["chars"])
    name = tokenizer.decode(most_likely_name(model, tokenizer.bos))
    assert printed.splitlines()[:2] == [f"  {name}"] * 2


# The child announces each phase as it starts, then the test presses Ctrl-C in it.
ANNOUNCING_CHILD = """
import signal, sys
# as in a terminal: a job started in the background inherits SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
from tinygrad_edu import cli, engine, nn

real_loss, real_generate = nn.GPT.loss, nn.GPT.generate

def loss(self, tokens):
    if not engine.is_grad_enabled():
        print("evaluating", flush=True)
    return real_loss(self, tokens)

def generate(self, **options):
    print("sampling", flush=True)
    return real_generate(self, **options)

nn.GPT.loss, nn.GPT.generate = loss, generate
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("phase", ["evaluating", "sampling"])
def test_ctrl_c_after_training_saves_the_trained_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], phase: str
) -> None:
    """Ctrl-C during the held-out evaluation or the sampling exited 130 with nothing saved."""
    argv = ["gpt", "--steps", "3", "--eval", "200", "--samples", "100000", *SMALL_GPT[:4]]
    child_argv = [*argv, "--out", "run", "--no-progress"]
    line, status, err = interrupt_when(
        ANNOUNCING_CHILD, child_argv, tmp_path, f"{phase}\n", on_stderr=False
    )
    assert line == f"{phase}\n"
    assert status == 130, err
    assert err.count("\n") == 1 and "interrupted after 3 steps, during" in err
    saved = (tmp_path / "run" / "model.json").read_text(encoding="utf-8")

    # The same three steps without the evaluation or the sampling: the same model.
    reference = tmp_path / "reference"
    assert main([*argv, "--samples", "0", "--out", str(reference), "--no-progress"]) == 0
    assert json.loads(saved) == json.loads((reference / "model.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- messages


def graph_report(text: str) -> dict[str, float]:
    """``{"value": ..., "x": d/dx, ...}`` from graph's report lines."""
    numbers = {}
    for line in text.splitlines():
        left, sep, right = line.rpartition(" = ")
        if sep:
            numbers[left[3:] if left.startswith("d/d") else "value"] = float(right)
    return numbers


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-x*w", "x=3", "w=2"], {"value": -6.0, "x": -2.0, "w": -3.0}),
        (["-o*x", "o=2", "x=3"], {"value": -6.0, "o": -3.0, "x": -2.0}),  # not -o '*x'
        (["-h*x", "h=2", "x=3"], {"value": -6.0, "h": -3.0, "x": -2.0}),  # not -h
        (["-exp(x)", "x=0"], {"value": -1.0, "x": -1.0}),
    ],
)
def test_graph_takes_an_expression_that_starts_with_a_minus(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: dict[str, float],
) -> None:
    """`graph "-x*w" x=3 w=2` was refused as an unknown option."""
    monkeypatch.chdir(tmp_path)
    for options in ([], ["--format", "dot"], ["-o", "-"]):
        assert main(["graph", *options, *argv]) == 0
        out, err = capsys.readouterr()
        assert graph_report(err if options[-1:] == ["-"] else out) == expected
        assert main(["graph", *argv, *options]) == 0
        capsys.readouterr()
    assert main(["explore", *argv, "-o", "page.html"]) == 0
    assert f"= {expected['value']!r}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "written"),
    [
        (["x*x", "x=3", "-ograph.dot"], "graph.dot"),  # -o with its file name attached
        (["x*x", "x=3", "--out", "g.svg"], "g.svg"),  # an abbreviation of --output
        (["-o", "h.gv", "-x*x", "x=3"], "h.gv"),
    ],
)
def test_graph_options_still_read_as_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], written: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["graph", *argv]) == 0
    assert [path.name for path in tmp_path.iterdir()] == [written]


@pytest.mark.parametrize("command", ["graph", "explore"])
@pytest.mark.parametrize(
    ("output", "words"), [("", "-o: give a file name"), (".", "-o: '.' is a directory")]
)
def test_an_output_that_names_no_file_is_refused_alike(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    output: str,
    words: str,
) -> None:
    """`explore -o ""` printed a raw errno about a temporary file where graph says this."""
    monkeypatch.chdir(tmp_path)
    assert main([command, "x*x", "x=3", "-o", output]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tinygrad-edu {command}: error: {words}") and err.count("\n") == 1
    assert "Errno" not in err and list(tmp_path.iterdir()) == []


def test_evaluate_says_a_gpt_file_holds_a_gpt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said "tokens[0] must be an int"."""
    nn.save(nn.GPT(27, n_embd=4, n_head=2, seed=0), tmp_path / "gpt.json")
    assert main(["evaluate", str(tmp_path / "gpt.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a GPT" in err and "'tinygrad-edu gpt'" in err
    assert "tokens" not in err


def test_gpt_help_for_no_progress_names_what_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The help promised "loss and accuracy lines" that gpt never prints."""
    with pytest.raises(SystemExit):
        main(["gpt", "--help"])
    described = " ".join(capsys.readouterr().out.split()).split("--no-progress ")[1]
    assert "accuracy" not in described and "held-out loss and the samples" in described
    argv = ["gpt", "--steps", "2", "--samples", "1", "--out", str(tmp_path), *SMALL_GPT]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "accuracy" not in printed
    assert "mean loss on 5 held-out names" in printed and "1 names sampled" in printed


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["gpt", "--n-embd", "1000000"], "12,000,070,000,000 parameters; at most 1,000,000"),
        (["gpt", "--n-embd", "288", "--n-head", "4"], "at most 1,000,000 fit"),
        (["gpt", "--n-layer", "10000"], "30,721,120 parameters; at most 1,000,000"),
        (["gpt", "--block-size", str(10**12)], "16,000,000,003,936 parameters"),
        (["gpt", "--steps", str(10**7)], "from 1 to 1,000,000"),
        (["train", "--hidden", "1000,1000"], "100,500,100 edges, more than the 10,000,000"),
        (["train", "--hidden", "10", "--samples", "10**9"], "--samples"),
        (["train", "--samples", "40000"], "at most 250 parameters with 40,000 points"),
    ],
)
def test_a_model_too_large_to_train_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    """Such a run used to start and grow until memory ran out."""
    out = tmp_path / "never"
    try:
        code = main([*argv, "--out", str(out), "--no-progress"])
    except SystemExit as stop:  # argparse's own checks
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert not out.exists()


@pytest.mark.parametrize(("layers", "block"), [("1", "16"), ("3", "100")])
def test_the_gpt_width_the_refusal_offers_is_the_largest_that_fits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], layers: str, block: str
) -> None:
    """Counted by the model itself (with a small limit, so that the models are small)."""
    monkeypatch.setattr(cli, "MAX_GPT_PARAMETERS", 20_000)
    argv = ["gpt", "--n-layer", layers, "--block-size", block, "--n-embd", "40", "--n-head", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err

    def size(width: int) -> int:
        model = nn.GPT(27, n_embd=width, n_head=1, n_layer=int(layers), block_size=int(block))
        return model.num_parameters()

    assert f" {size(40):,} parameters; at most 20,000 fit" in err
    widest = int(err.split("--n-embd ")[-1].split()[0])
    assert size(widest) <= 20_000 < size(widest + 1)
