"""The GPT, the names data set, the character tokenizer, LinearLR and the ``gpt`` command.

The model is checked against the same recipe written with PyTorch tensors in float64,
fed the weights of ``parameters()`` in their documented order.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from importlib import resources

import pytest

from tinygrad_edu import cli, logsumexp, nn, no_grad, optim, sum_values, topological_order
from tinygrad_edu.cli import main
from tinygrad_edu.datasets import CharTokenizer, load_names
from tinygrad_edu.nn import GPT

# From the data set's README (tinygrad_edu/data/README.md), as published with the file.
NAMES_MD5 = "401b3c4cac9e28a586ed15e81256680d"


@pytest.fixture(scope="module")
def names() -> list[str]:
    return load_names()


@pytest.fixture(scope="module")
def tokenizer(names) -> CharTokenizer:
    return CharTokenizer.from_documents(names)


# --------------------------------------------------------------------------- data and tokenizer


def test_load_names_is_the_shipped_file(names):
    raw = resources.files("tinygrad_edu").joinpath("data", "names.txt").read_bytes()
    assert hashlib.md5(raw).hexdigest() == NAMES_MD5
    assert len(raw) == 228_145
    assert len(names) == 32_033
    assert names[0] == "emma" and names == raw.decode().split("\n")
    assert all(name.isalpha() and name.islower() for name in names)


def test_tokenizer_of_the_names(names, tokenizer):
    assert tokenizer.chars == "abcdefghijklmnopqrstuvwxyz"
    assert (tokenizer.vocab_size, tokenizer.bos) == (27, 26)
    ids = tokenizer.encode("zoe")
    assert ids == [26, 25, 14, 4, 26]
    assert tokenizer.decode(ids) == "zoe"
    assert all(tokenizer.decode(tokenizer.encode(name)) == name for name in names[:500])


def test_tokenizer_sorts_characters_and_refuses_unknown_ones():
    tok = CharTokenizer.from_documents(["ba", "", "cab!"])
    assert tok.chars == "!abc" and tok.bos == 4
    assert tok.encode("") == [4, 4]
    with pytest.raises(ValueError, match=r"unknown character 'z' in 'bazz'"):
        tok.encode("bazz")
    with pytest.raises(ValueError, match=r"token id 5 is out of range 0\.\.4"):
        tok.decode([1, 5])
    with pytest.raises(TypeError, match="expected a list of str, got one str"):
        CharTokenizer.from_documents("abc")
    with pytest.raises(ValueError, match="must be distinct and sorted"):
        CharTokenizer("ba")
    with pytest.raises(ValueError, match="chars is empty"):
        CharTokenizer.from_documents([""])


# --------------------------------------------------------------------------- the model


def torch_recipe(torch, flat: list[float], tokens: list[int], model: GPT):
    """The recipe with PyTorch tensors; weights taken from ``flat`` in parameters() order."""
    vocab, n_embd, n_head = model.vocab_size, model.n_embd, model.n_head
    taken = 0
    matrices = []

    def take(rows: int, columns: int):
        nonlocal taken
        t = torch.tensor(flat[taken : taken + rows * columns]).reshape(rows, columns)
        taken += rows * columns
        matrices.append(t.requires_grad_())
        return t

    wte, wpe, lm_head = take(vocab, n_embd), take(model.block_size, n_embd), take(vocab, n_embd)
    layers = [
        [take(n_embd, n_embd) for _ in range(4)]
        + [take(4 * n_embd, n_embd), take(n_embd, 4 * n_embd)]
        for _ in range(model.n_layer)
    ]
    assert taken == len(flat)
    length = min(model.block_size, len(tokens) - 1)
    inputs, targets = torch.tensor(tokens[:length]), torch.tensor(tokens[1 : length + 1])

    def rms(x):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5)

    def heads(t):
        return t.view(length, n_head, n_embd // n_head).transpose(0, 1)

    x = rms(wte[inputs] + wpe[:length])
    future = torch.ones(length, length).triu(1).bool()
    for wq, wk, wv, wo, fc1, fc2 in layers:
        h = rms(x)
        q, k, v = heads(h @ wq.T), heads(h @ wk.T), heads(h @ wv.T)
        scores = q @ k.transpose(-1, -2) / math.sqrt(n_embd // n_head)
        weights = scores.masked_fill(future, -math.inf).softmax(-1)
        x = x + (weights @ v).transpose(0, 1).reshape(length, n_embd) @ wo.T
        x = x + torch.relu(rms(x) @ fc1.T) @ fc2.T
    loss = torch.nn.functional.cross_entropy(x @ lm_head.T, targets)
    loss.backward()
    return loss.item(), [g for m in matrices for g in m.grad.flatten().tolist()]


@pytest.mark.parametrize(
    ("size", "tokens"),
    [
        ({"n_embd": 16, "n_head": 4, "n_layer": 1}, [26, 4, 12, 12, 0, 26]),  # "emma"
        ({"n_embd": 8, "n_head": 2, "n_layer": 2, "block_size": 5}, [26, 2, 7, 17, 8, 18, 26]),
    ],
)
def test_gpt_loss_and_gradients_match_torch(torch, size, tokens):
    model = GPT(27, std=0.3, seed=1, **size)
    flat = [p.data for p in model.parameters()]
    loss = model.loss(tokens)
    loss.backward()
    expected_loss, expected_grads = torch_recipe(torch, flat, tokens, model)
    assert loss.data == pytest.approx(expected_loss, rel=1e-12)
    assert [p.grad for p in model.parameters()] == pytest.approx(
        expected_grads, rel=1e-9, abs=1e-13
    )


def test_gpt_weights_are_drawn_in_parameter_order():
    model = GPT(5, n_embd=4, n_head=2, n_layer=2, block_size=3, std=0.2, seed=9)
    rng = random.Random(9)
    assert [p.data for p in model.parameters()] == [
        rng.gauss(0.0, 0.2) for _ in range(model.num_parameters())
    ]
    names = [name for name, _ in model.named_parameters()]
    sizes = [
        ("wte", 5 * 4),
        ("wpe", 3 * 4),
        ("lm_head", 5 * 4),
        *[
            (f"layers.{layer}.{part}", count)
            for layer in range(2)
            for part, count in [
                ("attn.wq", 16),
                ("attn.wk", 16),
                ("attn.wv", 16),
                ("attn.wo", 16),
                ("mlp_fc1", 64),
                ("mlp_fc2", 64),
            ]
        ],
    ]
    start = 0
    for prefix, count in sizes:
        block = names[start : start + count]
        assert all(name.startswith(prefix + ".weight.") for name in block), prefix
        start += count
    assert start == len(names)
    assert names[20:22] == ["wpe.weight.0.0", "wpe.weight.0.1"]  # row by row
    assert names[-1] == "layers.1.mlp_fc2.weight.3.15"  # n_embd rows of 4·n_embd


def test_gpt_logits_and_loss_agree(tokenizer):
    model = GPT(27, n_embd=8, n_head=2, seed=0)
    tokens = tokenizer.encode("ava")
    logits = model(tokens[:-1])
    by_hand = 0.0
    for z, target in zip(logits, tokens[1:]):
        numbers = [v.data for v in z]
        largest = max(numbers)
        log_total = largest + math.log(sum(math.exp(x - largest) for x in numbers))
        by_hand += (log_total - numbers[target]) / len(logits)
    assert model.loss(tokens).data == pytest.approx(by_hand, rel=1e-14)


def test_gpt_forward_of_a_sequence_is_the_cached_forward_bit_for_bit(tokenizer):
    """``loss`` applies each layer to every position at once; ``generate``'s path goes one
    position at a time with a KV cache (``Block.step``). Same numbers, same gradients."""
    model = GPT(27, n_embd=8, n_head=2, n_layer=2, seed=3)
    tokens = tokenizer.encode("isabella")
    n = len(tokens) - 1
    caches = [([], []) for _ in model.layers]
    by_position = []
    for t, token in enumerate(tokens[:n]):
        x = nn.rms_norm([a + b for a, b in zip(model.wte(token), model.wpe(t))])
        for layer, (keys, values) in zip(model.layers, caches):
            x = layer.step(x, keys, values)
        by_position.append(model.lm_head(x))
    assert [[z.data for z in logits] for logits in model(tokens[:n])] == [
        [z.data for z in logits] for logits in by_position
    ]
    cached = (
        sum_values([logsumexp(z) - z[target] for z, target in zip(by_position, tokens[1:])]) / n
    )
    loss = model.loss(tokens)
    assert loss.data == cached.data
    cached.backward()
    expected = [p.grad for p in model.parameters()]
    model.zero_grad()
    loss.backward()
    assert [p.grad for p in model.parameters()] == expected


def test_gpt_loss_uses_at_most_block_size_positions():
    model = GPT(4, n_embd=4, n_head=1, block_size=3, seed=0)
    long = [3, 0, 1, 2, 0, 1, 3]
    assert model.loss(long).data == model.loss(long[:4]).data


def test_gpt_config_rebuilds_the_model():
    model = GPT(7, n_embd=6, n_head=3, n_layer=2, block_size=4, std=0.1, seed=3)
    copy = GPT(**json.loads(json.dumps(model.config())))
    assert copy.state_dict() == model.state_dict()


def test_gpt_errors():
    with pytest.raises(ValueError, match=r"GPT: n_embd \(10\) must be divisible by n_head \(4\)"):
        GPT(27, n_embd=10)
    model = GPT(5, n_embd=4, n_head=2, block_size=4, seed=0)
    with pytest.raises(ValueError, match=r"GPT.loss: tokens\[1\] = 5 is out of range 0..4"):
        model.loss([4, 5, 4])
    with pytest.raises(ValueError, match=r"GPT\.loss: expected at least 2 tokens"):
        model.loss([])
    with pytest.raises(ValueError, match="at least 2 tokens"):
        model.loss([4])
    with pytest.raises(TypeError, match=r"tokens\[0\] must be an int"):
        model.loss([1.0, 2])
    with pytest.raises(ValueError, match="GPT: expected 1 to 4 \\(block_size\\) tokens, got 5"):
        model([0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"max_len \(5\) must be at most block_size \(4\)"):
        model.generate(bos=4, max_len=5)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        model.generate(bos=4, temperature=-1e-300)
    with pytest.raises(ValueError, match="out of range"):
        model.generate(bos=7)


def greedy_by_hand(model: GPT, bos: int) -> list[int]:
    """Greedy decoding with the whole-sequence forward: the most likely token each time."""
    greedy, tokens = [], [bos]
    with no_grad():
        while len(greedy) < model.block_size:
            scores = [z.data for z in model(tokens)[-1]]
            best = scores.index(max(scores))
            if best == bos:
                break
            greedy.append(best)
            tokens.append(best)
    return greedy


def test_generate_samples_without_a_graph_and_follows_the_logits():
    model = GPT(6, n_embd=4, n_head=2, block_size=5, std=1.0, seed=2)
    bos = 5
    first = model.generate(bos=bos, seed=11)
    assert first == model.generate(bos=bos, seed=11)
    assert len(first) <= 5 and all(0 <= t < bos for t in first)
    # A tiny temperature leaves only the most likely token: greedy decoding.
    greedy = greedy_by_hand(model, bos)
    assert model.generate(bos=bos, temperature=1e-9, seed=0) == greedy
    assert model.generate(bos=bos, max_len=2, temperature=1e-9, seed=0) == greedy[:2]


@pytest.mark.parametrize("temperature", [0.0, 0, 1e-300, 1e-310, 1e-320, 5e-324])
def test_a_vanishing_temperature_is_greedy_decoding(temperature):
    """logits / 1e-310 overflows to infinity, and inf - inf made the weights NaN (a crash)."""
    for seed in range(3):
        model = GPT(6, n_embd=4, n_head=2, block_size=5, std=1.0, seed=seed)
        greedy = greedy_by_hand(model, bos=5)
        assert len(greedy) >= 2  # some decisions to get right
        for sampling_seed in range(3):
            assert model.generate(bos=5, temperature=temperature, seed=sampling_seed) == greedy


def test_a_short_training_run_lowers_the_loss(names, tokenizer):
    """Fifty names with the recipe's Adam: the loss on names never seen falls clearly."""
    model = GPT(tokenizer.vocab_size, n_embd=8, n_head=2, seed=0)
    held_out = [tokenizer.encode(name) for name in names[-30:]]

    def held_out_loss() -> float:
        with no_grad():
            return sum(model.loss(tokens).data for tokens in held_out) / len(held_out)

    before = held_out_loss()
    optimizer = optim.Adam(model.parameters(), lr=0.02, betas=(0.85, 0.99))
    schedule = optim.LinearLR(optimizer, total_steps=60)
    for name in names[:60]:
        loss = model.loss(tokenizer.encode(name))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    assert before == pytest.approx(math.log(27), abs=0.1)  # uniform guessing at the start
    assert held_out_loss() < before - 0.4


def test_graph_of_a_step_is_small():
    """One fused node per dot product, and nothing for the MLP's hidden units that are off."""
    model = GPT(27, seed=0)
    nodes = topological_order(model.loss([26, 4, 12, 12, 0, 26]))
    edges = sum(len(node.parents) for node in nodes)
    assert edges > 5 * len(nodes)
    assert not any(node.op == "relu" for node in nodes)
    fc1_rows = {id(row[0]) for row in model.layers[0].mlp_fc1.weight}
    hidden = [node for node in nodes if node.parents and id(node.parents[0]) in fc1_rows]
    assert all(h.data > 0.0 for h in hidden)  # only units that are on feed mlp_fc2
    assert 5 * 64 // 4 < len(hidden) < 5 * 64 * 3 // 4
    attention_scores = 4 * (1 + 2 + 3 + 4 + 5)
    rms_norms = 5 * 3  # x · x in each
    assert sum(node.op == "a·b" for node in nodes) == (
        5 * (16 * 4 + 16 + 27) + len(hidden) + attention_scores + rms_norms
    )


# --------------------------------------------------------------------------- LinearLR


def test_linear_lr_matches_torch(torch):
    from tinygrad_edu import Value

    ours = optim.SGD([Value(1.0)], lr=0.5)
    schedule = optim.LinearLR(ours, total_steps=4)
    parameter = torch.nn.Parameter(torch.zeros(1))
    theirs = torch.optim.SGD([parameter], lr=0.5)
    reference = torch.optim.lr_scheduler.LinearLR(
        theirs, start_factor=1.0, end_factor=0.0, total_iters=4
    )
    rates = []
    for _ in range(6):
        rates.append((ours.lr, theirs.param_groups[0]["lr"]))
        schedule.step()
        theirs.step()
        reference.step()
    assert [a for a, _ in rates] == pytest.approx([b for _, b in rates], abs=1e-15)
    assert [a for a, _ in rates] == [0.5, 0.375, 0.25, 0.125, 0.0, 0.0]
    with pytest.raises(ValueError, match="LinearLR: total_steps must be >= 1"):
        optim.LinearLR(ours, total_steps=0)


# --------------------------------------------------------------------------- the command

SMALL = ["--n-embd", "8", "--n-head", "2", "--eval", "5", "--no-progress"]


def test_gpt_command_trains_samples_and_saves(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["gpt", "--steps", "4", "--samples", "3", "--out", str(out), *SMALL])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "mean loss on 5 held-out names" in captured.out
    sampled = captured.out.split("names sampled at temperature 0.5:\n")[1].splitlines()[:3]
    assert all(line.startswith("  ") for line in sampled)
    data = json.loads((out / "model.json").read_text())
    assert data["kind"] == "GPT" and data["metadata"]["training"]["steps"] == 4
    model = nn.load(out / "model.json")
    assert isinstance(model, GPT) and model.state_dict() == data["state_dict"]
    tokenizer = CharTokenizer(data["metadata"]["tokenizer"]["chars"])
    assert tokenizer.vocab_size == model.vocab_size == 27
    assert model.n_embd == 8 and model.state_dict() != GPT(**data["config"]).state_dict()


def test_gpt_command_saves_what_it_trained_when_interrupted(tmp_path, capsys, monkeypatch):
    calls = []
    real_loss = GPT.loss

    def loss_then_interrupt(self, tokens):
        calls.append(tokens)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_loss(self, tokens)

    monkeypatch.setattr(GPT, "loss", loss_then_interrupt)
    code = main(["gpt", "--steps", "10", "--out", str(tmp_path), *SMALL])
    assert code == 130
    assert "interrupted after 2 steps" in capsys.readouterr().err
    assert json.loads((tmp_path / "model.json").read_text())["metadata"]["training"]["steps"] == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--n-embd", "10", "--n-head", "4"], "n_embd (10) must be divisible by n_head (4)"),
        (["--steps", "0"], "--steps"),
        (["--temperature", "-0.1"], "--temperature"),
        (["--temperature", "inf"], "--temperature"),
        (["--lr", "nan"], "--lr"),
        (["--eval", "40000"], "--eval: 40000 leaves no names to train on"),
    ],
)
def test_gpt_command_refuses_bad_values(arguments, message, tmp_path, capsys):
    try:
        code = main(["gpt", "--out", str(tmp_path), *arguments])
    except SystemExit as stop:  # argparse's own checks
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("usage") or "error:" in err.splitlines()[-1]
    assert not (tmp_path / "model.json").exists()


def test_gpt_command_is_listed(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "gpt" in capsys.readouterr().out
    assert cli.PROG == "tinygrad-edu"
