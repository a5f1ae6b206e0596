"""The library's own models, layers and losses trace: a program stays equal to eager.

A program runs the ops' own forward and derivative rules, so a decision on a number
(which relu units are on, which stable formula a loss uses, the largest logit) must be
made inside an op to be made again on every run. Each test traces at one set of
weights, moves the weights with Adam until those decisions change, and compares the
program with an eager run bit for bit: the value and every gradient.
"""

from __future__ import annotations

import random

import pytest

import tinygrad_edu as tg
from tinygrad_edu import Value, datasets, losses, optim
from tinygrad_edu.nn import GPT, MLP, Linear, attention_weights
from tinygrad_edu.training import LOSSES, fit


def eager(f, parameters):
    """f's value and every parameter's gradient, from the graph and backward()."""
    for p in parameters:
        p.grad = 0.0
    out = f()
    out.backward()
    return out.data, [p.grad for p in parameters]


def compiled(program, parameters):
    """The same numbers from a traced program."""
    for p in parameters:
        p.grad = 0.0
    value, _ = program()
    return value, [p.grad for p in parameters]


def adam_steps(f, parameters, steps, lr):
    optimizer = optim.Adam(parameters, lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        f().backward()
        optimizer.step()


def assert_program_follows_eager(f, parameters, rounds=4, steps=5, lr=0.05):
    program = tg.compile(f)
    assert compiled(program, parameters) == eager(f, parameters)
    for _ in range(rounds):
        adam_steps(f, parameters, steps, lr)
        assert compiled(program, parameters) == eager(f, parameters)


def test_a_compiled_gpt_loss_equals_eager_after_the_weights_change():
    model = GPT(27, n_embd=8, n_head=2, block_size=8, seed=0)
    tokens = [26, 0, 13, 13, 0, 26]
    parameters = model.parameters()
    before = [h > 0.0 for h in model.layers[0].mlp_fc1(model._embed(0, 0))]
    assert_program_follows_eager(lambda: model.loss(tokens), parameters, lr=0.05)
    after = [h > 0.0 for h in model.layers[0].mlp_fc1(model._embed(0, 0))]
    assert before != after  # the units that are on did change


def test_a_gpt_traced_on_one_name_computes_another_of_the_same_length():
    model = GPT(27, n_embd=8, n_head=2, block_size=8, seed=1)
    tokens = [[26, 4, 12, 12, 0, 26], [26, 25, 14, 4, 24, 26]]
    k = [0]
    program = tg.compile(lambda: model.loss(tokens[k[0]]))
    parameters = model.parameters()
    compiled(program, parameters)
    k[0] = 1  # the program froze the tokens (they are not numbers of the graph)...
    assert compiled(program, parameters) != eager(lambda: model.loss(tokens[1]), parameters)
    k[0] = 0  # ...but follows every change of the weights
    adam_steps(lambda: model.loss(tokens[0]), parameters, 10, 0.05)
    assert compiled(program, parameters) == eager(lambda: model.loss(tokens[0]), parameters)


@pytest.mark.parametrize("bias", [True, False])
def test_after_relu_traces(bias):
    layer = Linear(6, 3, bias=bias, std=1.0, seed=0)
    rng = random.Random(0)
    numbers = [[rng.gauss(0.0, 1.0) for _ in range(6)] for _ in range(3)]

    def f(*x):
        return losses.mse_loss(layer.after_relu([v * 1.0 for v in x]), [0.5, -1.0, 2.0])

    program = tg.trace(f, *numbers[0])
    for x in numbers:  # other inputs: other units are on
        value, grads = program(*x)
        inputs = [Value(v) for v in x]
        layer.zero_grad()
        out = f(*inputs)
        out.backward()
        assert (value, grads) == (out.data, tuple(v.grad for v in inputs))


def test_softmax_log_softmax_and_attention_weights_trace():
    def f(a, b, c):
        probs = losses.softmax([a, b, c])
        logs = losses.log_softmax([a, b * 2.0, c])
        weights = attention_weights([a, b], [[b, c], [c, a], [a, a]])
        return probs[0] * 3.0 + logs[2] + weights[1]

    program = tg.trace(f, 0.0, 1.0, 2.0)
    for x in ([3.0, -1.0, 0.5], [-700.0, 2.0, 1.0], [40.0, 800.0, -3.0]):
        inputs = [Value(v) for v in x]
        out = f(*inputs)
        out.backward()
        assert program(*x) == (out.data, tuple(v.grad for v in inputs))


def classification_data(loss):
    if loss == "cross_entropy":
        points, labels = datasets.make_spirals(30, n_classes=3, noise=0.1, seed=0)
        return points, labels, MLP(2, [8, 3], seed=0)
    points, labels = datasets.make_moons(30, noise=0.1, seed=0)
    return points, labels, MLP(2, [8, 1], seed=0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_a_compiled_mlp_loss_equals_eager_after_the_weights_change(name):
    points, y, model = classification_data(name)
    loss = LOSSES[name]
    assert_program_follows_eager(lambda: loss([model(x) for x in points], y), model.parameters())


LOSS_CHOICES = [*sorted(LOSSES), losses.binary_cross_entropy_with_logits]


@pytest.mark.parametrize("loss", LOSS_CHOICES, ids=lambda loss: getattr(loss, "__name__", loss))
def test_fit_compiled_equals_fit_for_every_loss(loss):
    points, y, _ = classification_data(loss)
    runs = []
    for compile_step in (False, True):
        model = classification_data(loss)[2]
        history = fit(model, points, y, loss=loss, steps=25, progress=False, compile=compile_step)
        runs.append((history, [p.data for p in model.parameters()]))
    assert runs[0] == runs[1]


def test_gpt_training_is_bit_for_bit_that_of_the_relu_written_out(monkeypatch):
    """after_relu is ``layer(relu(h))``: the same loss and gradients at every step."""
    names = [[26, 4, 12, 12, 0, 26], [26, 0, 13, 13, 0, 26], [26, 25, 14, 4, 26]]
    runs = []
    for reference in (False, True):
        if reference:
            monkeypatch.setattr(Linear, "after_relu", lambda self, x: self([h.relu() for h in x]))
        model = GPT(27, n_embd=8, n_head=2, block_size=8, seed=3)
        optimizer = optim.Adam(model.parameters(), lr=0.05)
        steps = []
        for tokens in names * 3:
            optimizer.zero_grad()
            loss = model.loss(tokens)
            loss.backward()
            steps.append((loss.data, [p.grad for p in model.parameters()]))
            optimizer.step()
        runs.append(steps)
    assert runs[0] == runs[1]


def test_stable_losses_give_the_numbers_of_their_formulas_written_out():
    """The value of bce and cross_entropy is the textbook stable formula's, bit for bit."""
    rng = random.Random(0)
    logits = [rng.uniform(-30.0, 30.0) for _ in range(40)] + [0.0, -0.0, 700.0, -700.0]
    targets = [rng.choice([0.0, 1.0, 0.25]) for _ in logits]
    terms = []
    for z, y in zip(map(Value, logits), targets):
        softplus = z + (1.0 + (-z).exp()).log() if z.data >= 0.0 else (1.0 + z.exp()).log()
        terms.append(softplus - y * z)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    expected = (total / len(terms)).data
    assert losses.binary_cross_entropy_with_logits(logits, targets).data == expected
    rows = [logits[i : i + 4] for i in range(0, 40, 4)]
    classes = [rng.randrange(4) for _ in rows]
    terms = []
    for row, t in zip(rows, classes):
        m = max(row)
        exps = [(Value(z) - m).exp() for z in row]
        total = exps[0]
        for e in exps[1:]:
            total = total + e
        terms.append(total.log() + m - row[t])
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    assert losses.cross_entropy(rows, classes).data == (total / len(terms)).data
