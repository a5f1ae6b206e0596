"""``tinygrad-edu gpt`` and ``sample``: resuming a run, the running loss, cut names, samples,
and output that reads well in a file; ``train --compile --backend``.

References are computed apart from the command line: a run that never stopped, the
training loop written out here with the library's GPT, Adam and LinearLR, a count of the
names by hand.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import interrupt_when, train_eagerly

from tinygrad_edu import datasets, nn, program_c
from tinygrad_edu.cli import main
from tinygrad_edu.optim import Adam, LinearLR

SMALL = ["--n-embd", "8", "--n-head", "2", "--block-size", "8", "--eval", "5", "--no-progress"]


def gpt(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(["gpt", *argv])`` with the small model: exit status, stdout, stderr."""
    code = main(["gpt", *SMALL, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def after_line(text: str, start: str) -> list[str]:
    """The lines of ``text`` from the first that starts with ``start``, and after it."""
    lines = text.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith(start)) :]


# --------------------------------------------------------------------------- --resume


def check_resumed_run_equals_the_whole_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: int, stop: int
) -> None:
    whole, part = tmp_path / "whole", tmp_path / "part"
    code, whole_out, _ = gpt(tmp_path, capsys, "--steps", str(steps), "--out", str(whole))
    assert code == 0
    argv = ["--steps", str(steps), "--stop-after", str(stop), "--out", str(part)]
    code, out, _ = gpt(tmp_path, capsys, *argv)
    assert code == 0 and f"continue with --resume {part / 'model.json'}" in out
    stopped = json.loads((part / "model.json").read_text(encoding="utf-8"))
    assert stopped["metadata"]["training"]["steps"] == stop
    assert stopped["metadata"]["training"]["optimizer"]["t"] == stop

    code = main(["gpt", "--resume", str(part / "model.json"), "--no-progress"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith(f"resuming at step {stop + 1}: ")
    # the same model file, byte for byte, and the same lines from the first step after the stop
    assert (part / "model.json").read_bytes() == (whole / "model.json").read_bytes()
    first = f"step {stop + steps // 10:>{len(str(steps))}}/{steps}"
    assert after_line(out, first)[:-1] == after_line(whole_out, first)[:-1]  # not 'wrote'
    assert "names sampled" in out and "held-out names" in out


def test_a_stopped_run_resumed_ends_as_the_run_that_never_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_resumed_run_equals_the_whole_run(tmp_path, capsys, steps=100, stop=60)


@pytest.mark.slow
def test_600_steps_then_resume_equals_1000_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_resumed_run_equals_the_whole_run(tmp_path, capsys, steps=1000, stop=600)


# The child says how many steps it has trained; the test presses Ctrl-C in it.
COUNTING_CHILD = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
from tinygrad_edu import cli

real_step = cli._gpt_step

def step(run, tokens):
    loss = real_step(run, tokens)
    print(f"trained {run.done}", file=sys.stderr, flush=True)
    return loss

cli._gpt_step = step
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_during_training_saves_a_run_that_resumes_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Wherever Ctrl-C lands (forward, backward or the update), the run is saved between
    two steps and --resume ends as the run that was never stopped."""
    argv = ["gpt", *SMALL, "--steps", "60", "--samples", "3"]
    line, status, err = interrupt_when(
        COUNTING_CHILD, [*argv, "--out", "run"], tmp_path, "trained 5\n", on_stderr=True
    )
    assert line == "trained 5\n"
    assert status == 130, err
    stopped = json.loads((tmp_path / "run" / "model.json").read_text(encoding="utf-8"))
    done = stopped["metadata"]["training"]["steps"]
    assert 5 <= done < 60 and f"interrupted after {done} steps, during training" in err
    assert "--resume" in err

    assert main(["gpt", "--resume", str(tmp_path / "run" / "model.json"), "--no-progress"]) == 0
    assert main([*argv, "--out", str(tmp_path / "whole")]) == 0
    saved = (tmp_path / "run" / "model.json").read_bytes()
    assert saved == (tmp_path / "whole" / "model.json").read_bytes()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--n-embd", "16"], "--n-embd 8 (given 16)"),
        (["--lr", "0.02", "--seed", "1"], "--lr 0.01 (given 0.02), --seed 42 (given 1)"),
        (["--steps", "50"], "--steps 40 (given 50)"),
        (["--block-size", "4", "--eval", "9"], "--block-size 8 (given 4), --eval 5 (given 9)"),
    ],
)
def test_options_that_disagree_with_the_saved_run_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], words: str
) -> None:
    gpt(tmp_path, capsys, "--steps", "40", "--stop-after", "3", "--out", str(tmp_path))
    before = (tmp_path / "model.json").read_bytes()
    # the same values again are no conflict (and --samples is free)
    agreeing = ["--n-embd", "8", "--lr", "0.01", "--steps", "40", "--stop-after", "4"]
    assert main(["gpt", "--resume", str(tmp_path / "model.json"), *agreeing, "--samples", "0"]) == 0
    capsys.readouterr()
    before = (tmp_path / "model.json").read_bytes()

    assert main(["gpt", "--resume", str(tmp_path / "model.json"), *options]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "leave those options out" in err, err
    assert (tmp_path / "model.json").read_bytes() == before


def test_a_finished_run_or_another_file_is_not_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gpt(tmp_path, capsys, "--steps", "3", "--samples", "0", "--out", str(tmp_path))
    finished = json.loads((tmp_path / "model.json").read_text(encoding="utf-8"))
    assert "optimizer" not in finished["metadata"]["training"]  # nothing left to resume
    nn.save(nn.MLP(2, [3, 1], seed=0), tmp_path / "mlp.json")
    for path, words in [
        ("model.json", "finished all its 3 steps: there is nothing to resume; "),
        ("mlp.json", "holds MLP(2 -> [3 relu, 1 linear], 13 parameters), not a GPT"),
        ("missing.json", "cannot read it: No such file or directory"),
    ]:
        assert main(["gpt", "--resume", str(tmp_path / path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--resume: '{tmp_path / path}'" in err and words in err


# --------------------------------------------------------------------------- the loss shown


def test_each_step_line_shows_the_mean_loss_of_the_last_100_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bar showed one name's loss, which jumps about; the loop written out here."""
    code, out, _ = gpt(tmp_path, capsys, "--steps", "160", "--samples", "0", "--out", str(tmp_path))
    assert code == 0
    names = datasets.load_names()
    random.Random(42).shuffle(names)
    tokenizer = datasets.CharTokenizer.from_documents(names)
    model = nn.GPT(tokenizer.vocab_size, n_embd=8, n_head=2, block_size=8, seed=42)
    optimizer = Adam(model.parameters(), lr=0.01, betas=(0.85, 0.99))
    schedule = LinearLR(optimizer, total_steps=160)
    losses = train_eagerly(model.loss, optimizer, schedule, map(tokenizer.encode, names[5:165]))
    shown = re.findall(r"^step +(\d+)/160  loss (\d+\.\d{4})  \(mean of the last (\d+) steps\)$",
                       out, re.MULTILINE)  # fmt: skip
    assert [int(step) for step, _, _ in shown] == list(range(16, 161, 16))
    for step, mean, count in shown:
        window = losses[max(0, int(step) - 100) : int(step)]
        assert int(count) == len(window) == min(int(step), 100)
        assert mean == f"{sum(window) / len(window):.4f}"


# --------------------------------------------------------------------------- cut names


@pytest.mark.parametrize("block_size", [4, 6])
def test_names_longer_than_the_context_are_counted_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], block_size: int
) -> None:
    argv = ["--steps", "2", "--samples", "0", "--block-size", str(block_size), "--eval", "300"]
    code, _, err = gpt(tmp_path, capsys, *argv, "--out", str(tmp_path))
    assert code == 0
    names = datasets.load_names()
    random.Random(42).shuffle(names)
    # a name of n letters gives n + 1 next tokens to predict (its letters, then the end)
    cut = [sum(len(name) + 1 > block_size for name in part) for part in (names[300:], names[:300])]
    assert err.count("note:") == 1
    assert f"note: {cut[0]:,} of the {len(names) - 300:,} training names and {cut[1]:,} of " in err
    assert f"the model learns only their first {block_size} characters" in err


def test_no_note_when_every_name_fits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert max(map(len, datasets.load_names())) < 16
    assert main(["gpt", *SMALL, "--block-size", "16", "--steps", "1", "--out", str(tmp_path)]) == 0
    assert "note" not in capsys.readouterr().err


# --------------------------------------------------------------------------- sample


def test_sample_makes_up_the_names_the_run_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gpt(tmp_path, capsys, "--steps", "20", "--samples", "6", "--out", str(tmp_path))
    assert code == 0
    printed = after_line(out, "6 names sampled at temperature 0.5:")[:7]
    assert main(["sample", str(tmp_path / "model.json"), "--samples", "6"]) == 0
    assert capsys.readouterr().out.splitlines() == printed

    # another seed and temperature: the model's own draws, by hand
    model = nn.load(tmp_path / "model.json")
    chars = json.loads((tmp_path / "model.json").read_text())["metadata"]["tokenizer"]["chars"]
    tokenizer = datasets.CharTokenizer(chars)
    rng = random.Random(7)
    expected = [tokenizer.decode(model.generate(bos=tokenizer.bos, temperature=1.5, seed=rng))
                for _ in range(4)]  # fmt: skip
    argv = ["sample", str(tmp_path / "model.json"), "--samples", "4", "--temperature", "1.5"]
    assert main([*argv, "--seed", "7"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [f"  {name}" for name in expected]


def test_sample_refuses_what_is_not_a_gpt_of_names_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nn.save(nn.MLP(2, [3, 1], seed=0), tmp_path / "mlp.json")
    nn.save(nn.GPT(27, n_embd=4, n_head=2, seed=0), tmp_path / "bare.json")  # no tokenizer
    nn.save(
        nn.GPT(5, n_embd=4, n_head=2),
        tmp_path / "odd.json",
        metadata={"tokenizer": {"chars": "ab"}},
    )
    (tmp_path / "text.json").write_text("names\n", encoding="utf-8")
    cases = [
        ("missing.json", "cannot read it: No such file or directory"),
        ("text.json", "is not a saved model: not valid JSON"),
        ("mlp.json", "holds MLP(2 -> [3 relu, 1 linear], 13 parameters), not a GPT"),
        ("bare.json", "has no tokenizer in its metadata"),
        ("odd.json", "its tokenizer has 3 tokens but the model 5"),
    ]
    for name, words in cases:
        assert main(["sample", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tinygrad-edu sample: error: ") and err.count("\n") == 1
        assert words in err, err
    with pytest.raises(SystemExit) as stop:
        main(["sample", str(tmp_path / "bare.json"), "--temperature", "-1"])
    assert stop.value.code == 2


# --------------------------------------------------------------------------- in a file


def run_into_a_file(argv: Sequence[str], cwd: Path) -> str:
    """Run the command with standard output and standard error into one file, as
    ``command > log 2>&1`` does; the file's text."""
    log = cwd / "log.txt"
    with log.open("w", encoding="utf-8") as file:
        subprocess.run([sys.executable, "-m", "tinygrad_edu", *argv], cwd=cwd, stdout=file,
                       stderr=file, check=True)  # fmt: skip
    return log.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--hidden", "4", "--steps", "30", "--samples", "40", "--out", "run"],
        ["gpt", "--n-embd", "8", "--n-head", "2", "--steps", "30", "--eval", "5", "--samples", "2"],
    ],
    ids=["train", "gpt"],
)
def test_redirected_to_a_file_every_line_is_whole(tmp_path: Path, argv: list[str]) -> None:
    """The bar's carriage returns used to run into the step lines in a log file."""
    text = run_into_a_file(argv, tmp_path)
    assert "\r" not in text and "it/s" not in text and "|" not in text
    step_lines = [line for line in text.splitlines() if line.startswith("step ")]
    assert len(step_lines) == 10 if argv[0] == "gpt" else 11  # train prints step 1 too
    for line in step_lines:
        assert re.fullmatch(r"step +\d+/30  loss \d+\.\d{4}  .*", line), line


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_on_a_terminal_the_bar_shows_the_mean_loss(tmp_path: Path) -> None:
    import fcntl  # Unix only, as pseudo-terminals are
    import termios

    controller, terminal = os.openpty()
    # a new pseudo-terminal is 0 columns wide, where tqdm draws nothing: make it 100
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    argv = ["gpt", "--n-embd", "8", "--n-head", "2", "--steps", "30", "--eval", "5"]
    command = [sys.executable, "-m", "tinygrad_edu", *argv, "--samples", "0"]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=terminal) as child:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        out = child.communicate()[0].decode()
    os.close(controller)
    assert child.returncode == 0
    mean = after_line(out, "step 30/30")[0].split("loss ")[1].split()[0]
    bar = shown.decode().splitlines()[-1].split("\r")[-1]  # the bar as last drawn
    assert "30/30" in bar and bar.endswith(f"loss {mean}]"), bar


# --------------------------------------------------------------------------- train --backend


def test_backend_needs_compile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--backend", "c", "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--backend c: only with --compile" in err
    assert not (tmp_path / "never").exists()


def test_without_a_c_compiler_train_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-tinygrad")
    program_c._compiler.cache_clear()
    try:
        argv = ["train", "--compile", "--backend", "c", "--steps", "2", "--no-progress"]
        assert main([*argv, "--out", str(tmp_path)]) == 2
    finally:
        program_c._compiler.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-edu train: error: ") and err.count("\n") == 1
    assert "no C compiler found" in err and "apt-get install gcc" in err


@pytest.mark.slow
def test_train_compiled_in_c_writes_the_eager_model(tmp_path: Path, c_compiler: str) -> None:
    argv = ["train", "--hidden", "4,4", "--steps", "15", "--samples", "30", "--no-progress"]
    for name, options in [("eager", []), ("c", ["--compile", "--backend", "c"])]:
        assert main([*argv, *options, "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "c" / "model.json").read_bytes() == (
        tmp_path / "eager" / "model.json"
    ).read_bytes()


# --------------------------------------------------------------------------- --compile


@pytest.mark.parametrize("backend", ["python", "c"])
def test_gpt_compiled_prints_and_writes_what_the_eager_run_does(
    backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if backend == "c":
        request.getfixturevalue("c_compiler")
        monkeypatch.setenv("TINYGRAD_EDU_CACHE_DIR", str(tmp_path / "cache"))
    runs = {}
    for name, options in [("eager", []), ("compiled", ["--compile", "--backend", backend])]:
        code, out, _ = gpt(
            tmp_path, capsys, "--steps", "40", "--out", str(tmp_path / name), *options
        )
        assert code == 0
        runs[name] = out.replace(str(tmp_path / name), "OUT")
    assert runs["compiled"] == runs["eager"]  # step lines, held-out loss, samples
    compiled = (tmp_path / "compiled" / "model.json").read_bytes()
    assert compiled == (tmp_path / "eager" / "model.json").read_bytes()


def test_gpt_compiled_run_stopped_and_resumed_equals_the_eager_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = gpt(tmp_path, capsys, "--steps", "30", "--out", str(tmp_path / "eager"))
    assert code == 0
    part = tmp_path / "part"
    argv = ["--steps", "30", "--stop-after", "12", "--compile", "--out", str(part)]
    assert gpt(tmp_path, capsys, *argv)[0] == 0
    assert main(["gpt", "--resume", str(part / "model.json"), "--compile", "--no-progress"]) == 0
    assert (part / "model.json").read_bytes() == (tmp_path / "eager" / "model.json").read_bytes()


def test_without_a_c_compiler_gpt_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-tinygrad")
    monkeypatch.setenv("TINYGRAD_EDU_CACHE_DIR", str(tmp_path / "cache"))
    program_c._compiler.cache_clear()
    try:
        argv = ["--steps", "2", "--compile", "--backend", "c", "--out", str(tmp_path / "run")]
        code, _, err = gpt(tmp_path, capsys, *argv)
    finally:
        program_c._compiler.cache_clear()
    assert code == 2
    error = err.splitlines()[-1]  # after the note on names longer than the context
    assert error.startswith("tinygrad-edu gpt: error: ") and "no C compiler found" in error
