"""compile_step: a whole training step as programs, bit for bit the eager step."""

from __future__ import annotations

import math
import random

import pytest
from conftest import train_eagerly

import tinygrad_edu as tg
from tinygrad_edu import datasets
from tinygrad_edu.engine import Value
from tinygrad_edu.nn import GPT, Embedding
from tinygrad_edu.optim import SGD, Adam, LinearLR
from tinygrad_edu.step import compile_step

NAMES = ["anna", "bob", "christopher", "eve", "x", "anna", "zoe", "mo", "annabelle", "ed"]


def _gpt_run(
    compiled: bool, names: list[str], *, buffered: bool = True, backend: str = "python"
) -> tuple:
    tokenizer = datasets.CharTokenizer.from_documents(NAMES)
    model = GPT(tokenizer.vocab_size, n_embd=8, n_head=2, block_size=8, seed=3)
    optimizer = Adam(model.parameters(), lr=0.01, betas=(0.85, 0.99))
    schedule = LinearLR(optimizer, total_steps=len(names))
    losses = []
    if compiled:
        step = compile_step(model.loss, optimizer, schedule, backend=backend)
        with step if buffered else _nothing():
            losses = [step(tokenizer.encode(name)) for name in names]
    else:
        losses = train_eagerly(model.loss, optimizer, schedule, map(tokenizer.encode, names))
    parameters = model.parameters()
    return (
        losses,
        [p.data for p in parameters],
        [p.grad for p in parameters],
        optimizer.state_dict(),
        schedule.state_dict(),
    )


class _nothing:  # noqa: N801
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("buffered", [True, False])
def test_compiled_gpt_steps_equal_eager_bit_for_bit(buffered):
    names = NAMES * 2  # names of many lengths, repeated letters, one longer than the context
    eager = _gpt_run(False, names)
    compiled = _gpt_run(True, names, buffered=buffered)
    assert compiled[0] == eager[0]  # the losses
    assert compiled[1] == eager[1]  # every parameter's number
    assert compiled[2] == eager[2]  # every gradient of the last step
    assert compiled[3] == eager[3] and compiled[4] == eager[4]  # Adam's and the schedule's state


def test_compiled_gpt_steps_in_c_equal_eager_bit_for_bit(c_compiler, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EDU_CACHE_DIR", str(tmp_path))  # built here, not cached
    names = NAMES * 2
    eager = _gpt_run(False, names)
    for buffered in (True, False):
        assert _gpt_run(True, names, buffered=buffered, backend="c") == eager


def test_the_loss_alone_is_the_eager_loss():
    tokenizer = datasets.CharTokenizer.from_documents(NAMES)
    model = GPT(tokenizer.vocab_size, n_embd=8, n_head=2, block_size=8, seed=5)
    step = compile_step(model.loss, Adam(model.parameters()))
    step(tokenizer.encode("anna"))  # one step: the weights move
    before = set(step._parts)
    for name in NAMES:  # lengths trained on and new ones
        tokens = tokenizer.encode(name)
        assert step.loss(tokens) == model.loss(tokens).data
    compiled = set(step._parts) - before
    assert compiled and all("# backward_" not in source for source in compiled)


def test_one_program_per_length_shares_parts_and_reads_tokens():
    model = GPT(10, n_embd=8, n_head=2, block_size=8, seed=0)
    step = compile_step(model.loss, Adam(model.parameters()))
    rng = random.Random(0)
    for _ in range(12):
        step([rng.randrange(10) for _ in range(5)])
    assert len(step.programs) == 1 and len(next(iter(step.programs.values()))) == 1
    listing = str(next(iter(step.programs.values()))[0])
    assert "wte.weight[tokens_3]" not in listing  # (labels are comments; the code reads rows)
    assert "tokens_3 * 8" in listing  # row tokens[3] of the embedding table, read on each call
    assert "tokens_4 == " in listing  # the logit of the next token, picked by it
    assert "#   t[0:80]  wte.weight.0.0 .. wte.weight.9.7" in listing  # its state_dict names
    step([1, 2, 3])
    step([1, 2, 3, 4])  # a new length: its forward parts are those of length 5
    assert len(step.programs) == 3
    n_forward = sum(1 for part in step._parts if "# forward_" in part)
    assert n_forward == 4  # positions 0..3, each written and compiled once


def test_a_decision_on_a_token_becomes_a_guard_and_a_new_program():
    table = Embedding(5, 2, seed=1)
    w = Value(0.5)

    def loss(tokens):
        first = tokens[0]
        scale = 2.0 if first == 3 else 1.0  # a Python decision on an integer input
        return sum((x * w * scale for x in table(tokens[1])), Value(0.0)) ** 2

    optimizer = Adam([*table.parameters(), w], lr=0.1)
    step = compile_step(loss, optimizer)
    reference = [[3, 1], [2, 1], [3, 4], [0, 0]]
    eager_table = Embedding(5, 2, seed=1)
    eager_w = Value(0.5)
    eager_opt = Adam([*eager_table.parameters(), eager_w], lr=0.1)
    for tokens in reference:
        got = step(tokens)
        first = tokens[0]
        scale = 2.0 if first == 3 else 1.0
        expected = sum((x * eager_w * scale for x in eager_table(tokens[1])), Value(0.0)) ** 2
        eager_opt.zero_grad()
        expected.backward()
        eager_opt.step()
        assert got == expected.data
    built = next(iter(step.programs.values()))
    assert len(built) == 2  # first == 3 and first != 3: two programs, each guarded
    assert all(program.guard_text for program in built)
    assert [p.data for p in table.parameters()] == [p.data for p in eager_table.parameters()]


def test_a_step_that_overflows_gives_the_eager_error():
    w = Value(1.0)
    step = compile_step(lambda x: (w * x).exp(), Adam([w]))
    assert math.isclose(step(1.0), math.e)
    with pytest.raises(OverflowError):
        step(1000.0)
    assert w.data == pytest.approx(1.0, abs=0.01)  # one step of lr 0.001 was taken, no more


def test_the_with_block_writes_the_numbers_back_when_interrupted():
    model = GPT(6, n_embd=4, n_head=1, block_size=4, seed=0)
    optimizer = Adam(model.parameters(), lr=0.1)
    step = compile_step(model.loss, optimizer)
    before = [p.data for p in model.parameters()]
    with pytest.raises(KeyboardInterrupt), step:
        step([0, 1, 2])
        assert [p.data for p in model.parameters()] == before  # they live in the tape
        raise KeyboardInterrupt
    assert [p.data for p in model.parameters()] != before  # written back on the way out
    assert optimizer.t == 1


def test_refuses_what_it_cannot_compile():
    w = Value(1.0)
    with pytest.raises(TypeError, match="Adam"):
        compile_step(lambda x: w * x, SGD([w], lr=0.1))
    step = compile_step(lambda x: w * x, Adam([w]))
    with pytest.raises(TypeError, match="ints, floats or lists"):
        step("a")
    with pytest.raises(ValueError, match="leaf"):
        compile_step(lambda x: w, Adam([w]))(1.0)
    assert tg.compile_step is compile_step


def test_a_list_indexed_by_a_token_is_a_guard_never_a_wrong_answer():
    table = [Value(float(k)) for k in range(5)]
    w = Value(2.0)
    step = compile_step(lambda tokens: (table[tokens[0]] * w) ** 2, Adam([w, *table]))
    reference = [Value(float(k)) for k in range(5)]
    v = Value(2.0)
    eager = train_eagerly(
        lambda tokens: (reference[tokens[0]] * v) ** 2,
        Adam([v, *reference]),
        _Still(),
        [[1], [3], [1]],
    )
    assert [step([1]), step([3]), step([1])] == eager
    assert len(next(iter(step.programs.values()))) == 2  # tokens_0 == 1, tokens_0 == 3


class _Still:  # a schedule that changes nothing
    def step(self) -> None:
        return None


@pytest.mark.parametrize("backend", ["python", "c"])
def test_a_classifier_on_batches_of_points_and_labels_equals_eager(backend, request, tmp_path):
    if backend == "c":
        request.getfixturevalue("c_compiler")
    points, labels = datasets.make_spirals(n_samples=30, n_classes=3, seed=0)
    batches = [(points[k : k + 10], labels[k : k + 10]) for k in range(0, 30, 10)]

    def run(compiled: bool) -> tuple:
        model = tg.nn.MLP(2, [8, 3], seed=0)
        optimizer = Adam(model.parameters(), lr=0.05)

        def loss(points, labels):
            return tg.losses.cross_entropy([model(p) for p in points], labels)

        if not compiled:
            losses = train_eagerly(lambda b: loss(*b), optimizer, _Still(), batches)
        else:
            step = compile_step(loss, optimizer, backend=backend)
            losses = [step(points, labels) for points, labels in batches]
            assert sum(map(len, step.programs.values())) == 1  # the labels are read, not frozen
        return losses, [p.data for p in model.parameters()]

    assert run(True) == run(False)
