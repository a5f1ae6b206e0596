"""The transformer's building blocks: fused dot and sum, Linear, Embedding, rms_norm, attention.

The fused nodes are checked bit for bit against the same arithmetic written with ``*``
and ``+``; the layers against PyTorch in float64 with identical weights.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import (
    Value,
    dot,
    grad,
    gradcheck,
    logsumexp,
    matvec,
    matvecs,
    softmax_average,
    softmax_dot,
    sum_values,
    topological_order,
)
from tinygrad_edu.grad_mode import tracing
from tinygrad_edu.nn import (
    CausalSelfAttention,
    Embedding,
    Linear,
    RMSNorm,
    attention,
    attention_weights,
    rms_norm,
)

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
pairs = st.lists(st.tuples(finite, finite), min_size=1, max_size=12)


def bits(x: float) -> str:
    return float.hex(x)


def leaves(numbers: list[float]) -> list[Value]:
    return [Value(x) for x in numbers]


def flat(rows: list[list[Value]]) -> list[Value]:
    return [v for row in rows for v in row]


def random_vector(rng: random.Random, n: int) -> list[float]:
    return [rng.gauss(0.0, 1.0) for _ in range(n)]


# --------------------------------------------------------------------------- fused nodes


@given(pairs, finite)
def test_dot_is_bit_identical_to_separate_products_and_sums(pairs, upstream):
    """Number and gradients: those of a[0]*b[0] + a[1]*b[1] + ... written with * and +."""
    numbers_a, numbers_b = [a for a, _ in pairs], [b for _, b in pairs]
    fused_a, fused_b = leaves(numbers_a), leaves(numbers_b)
    plain_a, plain_b = leaves(numbers_a), leaves(numbers_b)
    fused = dot(fused_a, fused_b) * upstream
    plain = plain_a[0] * plain_b[0]
    for a, b in zip(plain_a[1:], plain_b[1:]):
        plain = plain + a * b
    plain = plain * upstream
    fused.backward()
    plain.backward()
    assert bits(fused.data) == bits(plain.data)
    for f, p in zip(fused_a + fused_b, plain_a + plain_b):
        assert bits(f.grad) == bits(p.grad)
    assert fused.parents[0].op == "a·b" and len(fused.parents[0].parents) == 2 * len(pairs)


@given(st.lists(finite, min_size=1, max_size=12), finite)
def test_sum_values_is_bit_identical_to_left_to_right_additions(numbers, upstream):
    fused_xs, plain_xs = leaves(numbers), leaves(numbers)
    fused = sum_values(fused_xs) * upstream
    plain = plain_xs[0]
    for x in plain_xs[1:]:
        plain = plain + x
    plain = plain * upstream
    fused.backward()
    plain.backward()
    assert bits(fused.data) == bits(plain.data)
    assert [bits(x.grad) for x in fused_xs] == [bits(x.grad) for x in plain_xs]


@given(st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=4))
def test_matvec_is_dot_row_by_row(rows):
    x_numbers = [0.5, -2.0, 3.0]
    w, x = [leaves(row) for row in rows], leaves(x_numbers)
    w2, x2 = [leaves(row) for row in rows], leaves(x_numbers)
    outs, expected = matvec(w, x), [dot(row, x2) for row in w2]
    sum_values(outs).backward()
    sum_values(expected).backward()
    assert [bits(y.data) for y in outs] == [bits(y.data) for y in expected]
    assert [bits(v.grad) for v in x] == [bits(v.grad) for v in x2]
    assert [bits(p.grad) for row in w for p in row] == [bits(p.grad) for row in w2 for p in row]


@given(
    st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=4),
    st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=3),
)
def test_matvecs_is_matvec_per_vector_bit_for_bit(rows, vectors):
    """The matrix is read once for all the vectors; the nodes are matvec's, in every bit."""
    w, xs = [leaves(row) for row in rows], [leaves(x) for x in vectors]
    w2, xs2 = [leaves(row) for row in rows], [leaves(x) for x in vectors]
    outs, expected = matvecs(w, xs), [matvec(w2, x) for x in xs2]
    assert [[y.parents for y in out] for out in outs] == [[(*row, *x) for row in w] for x in xs]
    sum_values([y * (i + 1.5) for i, y in enumerate(flat(outs))]).backward()
    sum_values([y * (i + 1.5) for i, y in enumerate(flat(expected))]).backward()
    assert [bits(y.data) for y in flat(outs)] == [bits(y.data) for y in flat(expected)]
    assert [bits(v.grad) for x in xs for v in x] == [bits(v.grad) for x in xs2 for v in x]
    assert [bits(p.grad) for row in w for p in row] == [bits(p.grad) for row in w2 for p in row]


def test_matvecs_errors_name_the_vector_or_row():
    w = [leaves([1.0, 2.0]), leaves([3.0, 4.0])]
    assert matvecs(w, []) == []
    with pytest.raises(ValueError, match="matvecs: row 0 has 2 entries but the vector has 3"):
        matvecs(w, [leaves([1.0, 2.0]), leaves([1.0, 2.0, 3.0])])
    with pytest.raises(ValueError, match="matvecs: the vector is empty"):
        matvecs(w, [[]])
    with pytest.raises(TypeError, match="matvecs: expected Values, got float"):
        matvecs(w, [[Value(1.0), 2.0]])
    with pytest.raises(TypeError, match="matvecs: expected Values, got str"):
        matvecs([[Value(1.0), "w"]], [leaves([1.0, 2.0])])


def test_dot_of_a_vector_with_itself_counts_both_uses():
    """d/dx (x·x) = 2x: the same Value in both lists receives both shares."""
    xs = leaves([3.0, -2.0])
    dot(xs, xs).backward()
    assert [x.grad for x in xs] == [6.0, -4.0]


def test_fused_nodes_have_second_derivatives():
    """Their derivative rules work on Values, so grad nests: d²/dx² (x·x² + x + x) = 6x."""

    def f(x: Value) -> Value:
        return sum_values([dot([x], [x * x]), x, x])

    assert grad(grad(f))(2.0) == 12.0
    assert grad(f)(2.0) == 3 * 2.0**2 + 2


def test_fused_node_errors_name_the_operation():
    with pytest.raises(ValueError, match="dot: the lists must have the same"):
        dot(leaves([1.0, 2.0]), leaves([1.0]))
    with pytest.raises(ValueError, match="dot"):
        dot([], [])
    with pytest.raises(TypeError, match="dot: expected Values, got float"):
        dot(leaves([1.0, 2.0]), [Value(1.0), 2.0])
    with pytest.raises(ValueError, match="matvec: row 1 has 1 entries but the vector has 2"):
        matvec([leaves([1.0, 2.0]), leaves([1.0])], leaves([1.0, 2.0]))
    with pytest.raises(TypeError, match="matvec: expected Values, got int"):
        matvec([leaves([1.0])], [1])
    with pytest.raises(ValueError, match="sum_values: the list is empty"):
        sum_values([])
    with pytest.raises(TypeError, match="sum_values: expected Values, got str"):
        sum_values([Value(1.0), "2"])


@given(st.lists(finite, min_size=1, max_size=10), st.lists(finite, min_size=10, max_size=10))
def test_logsumexp_matches_torch(torch, numbers, upstream):
    """Value and softmax gradient, against torch.logsumexp in float64 (1e3 does not overflow)."""
    xs = leaves(numbers)
    weights = upstream[: len(numbers)]
    out = logsumexp(xs)
    (out * weights[0]).backward()
    t = torch.tensor(numbers, dtype=torch.float64, requires_grad=True)
    expected = torch.logsumexp(t, 0)
    (expected * weights[0]).backward()
    assert out.data == pytest.approx(expected.item(), rel=1e-14, abs=1e-12)
    assert [x.grad for x in xs] == pytest.approx(t.grad.tolist(), rel=1e-12, abs=1e-12)


@given(
    st.lists(st.tuples(finite, finite), min_size=1, max_size=10),
    st.floats(min_value=0.01, max_value=2.0),
)
def test_softmax_dot_matches_torch(torch, pairs, scale):
    scores, values = leaves([s for s, _ in pairs]), leaves([v for _, v in pairs])
    out = softmax_dot(scores, values, scale)
    out.backward()
    ts = torch.tensor([s for s, _ in pairs], dtype=torch.float64, requires_grad=True)
    tv = torch.tensor([v for _, v in pairs], dtype=torch.float64, requires_grad=True)
    expected = torch.softmax(scale * ts, 0) @ tv
    expected.backward()
    size = max(1.0, max(abs(v) for _, v in pairs))  # gradients scale with the values
    assert out.data == pytest.approx(expected.item(), rel=1e-12, abs=1e-12 * size)
    assert [s.grad for s in scores] == pytest.approx(ts.grad.tolist(), abs=1e-12 * size)
    assert [v.grad for v in values] == pytest.approx(tv.grad.tolist(), abs=1e-12)


@given(st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=6), finite)
def test_softmax_average_is_softmax_dot_per_component_bit_for_bit(rows, upstream):
    scores_a, scores_b = leaves([r[0] for r in rows]), leaves([r[0] for r in rows])
    vectors_a = [leaves(list(r[1:])) for r in rows]
    vectors_b = [leaves(list(r[1:])) for r in rows]
    together = softmax_average(scores_a, vectors_a, 0.5)
    apart = [softmax_dot(scores_b, [v[d] for v in vectors_b], 0.5) for d in range(2)]
    (sum_values(together) * upstream).backward()
    (sum_values(apart) * upstream).backward()
    assert [bits(y.data) for y in together] == [bits(y.data) for y in apart]
    grads_a = [x.grad for x in scores_a + [x for v in vectors_a for x in v]]
    grads_b = [x.grad for x in scores_b + [x for v in vectors_b for x in v]]
    assert [bits(g) for g in grads_a] == [bits(g) for g in grads_b]


def test_the_softmax_nodes_pass_finite_differences_in_every_mode():
    """Reverse and forward mode, and second derivatives through the Value rules."""

    def lse(a, b, c):
        return logsumexp([a, b * c, c])

    def attend(a, b, c, d):
        return softmax_dot([a, b, a * b], [c, d, c * d], 0.7)

    assert gradcheck(lse, 0.3, -1.2, 0.8, order=2)
    assert gradcheck(attend, 0.3, -1.2, 0.8, 1.5, order=2)


def test_the_softmax_nodes_refuse_bad_input():
    with pytest.raises(ValueError, match="logsumexp: the list is empty"):
        logsumexp([])
    with pytest.raises(TypeError, match="logsumexp: expected Values, got float"):
        logsumexp([Value(1.0), 2.0])
    with pytest.raises(ValueError, match="softmax_dot: scores and values must have the same"):
        softmax_dot(leaves([1.0, 2.0]), leaves([1.0]))
    with pytest.raises(ValueError, match="softmax_dot"):
        softmax_dot([], [])
    with pytest.raises(TypeError, match="softmax_dot: scale must be a number, got str"):
        softmax_dot(leaves([1.0]), leaves([1.0]), "2")
    with pytest.raises(ValueError, match="softmax_dot: scale must be finite, got inf"):
        softmax_dot(leaves([1.0]), leaves([1.0]), math.inf)
    with pytest.raises(ValueError, match="softmax_average: the vectors must all have the same"):
        softmax_average(leaves([1.0, 2.0]), [leaves([1.0, 2.0]), leaves([3.0])])
    with pytest.raises(TypeError, match="softmax_average: scale must be a number, got str"):
        softmax_average(leaves([1.0]), [leaves([1.0])], "2")


def test_attention_is_the_softmax_written_out():
    """attention's fused nodes give attention_weights · values (to rounding), and gradients."""
    rng = random.Random(4)
    q, keys = leaves(random_vector(rng, 4)), [leaves(random_vector(rng, 4)) for _ in range(3)]
    values = [leaves(random_vector(rng, 4)) for _ in range(3)]
    fused = attention(q, keys, values)
    weights = attention_weights(q, keys)
    written_out = [sum_values([w * v for w, v in zip(weights, column)]) for column in zip(*values)]
    assert [y.data for y in fused] == pytest.approx([y.data for y in written_out], rel=1e-14)
    sum_values(fused).backward()
    fused_grads = [x.grad for x in q + [k for key in keys for k in key]]
    for x in q + [k for key in keys for k in key]:
        x.grad = 0.0
    sum_values(written_out).backward()
    assert fused_grads == pytest.approx([x.grad for x in q + [k for key in keys for k in key]])


def test_fused_nodes_stop_an_overflow():
    with pytest.raises(OverflowError, match="a·b"):
        dot(leaves([1e200, 1e200]), leaves([1e200, 1.0]))


# --------------------------------------------------------------------------- Linear and Embedding


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(torch, bias):
    rng = random.Random(0)
    layer = Linear(5, 3, bias=bias, seed=1)
    x = leaves(random_vector(rng, 5))
    coefficients = random_vector(rng, 3)
    y = layer(x)
    sum_values([c * out for c, out in zip(coefficients, y)]).backward()

    w = torch.tensor([[p.data for p in row] for row in layer.weight], requires_grad=True)
    tx = torch.tensor([v.data for v in x], requires_grad=True)
    ty = w @ tx
    if bias:
        b = torch.tensor([p.data for p in layer.bias], requires_grad=True)
        ty = ty + b
    (torch.tensor(coefficients) * ty).sum().backward()
    assert [v.data for v in y] == pytest.approx(ty.tolist(), rel=1e-13, abs=1e-14)
    assert [v.grad for v in x] == pytest.approx(tx.grad.tolist(), rel=1e-13, abs=1e-14)
    assert [p.grad for row in layer.weight for p in row] == pytest.approx(
        w.grad.flatten().tolist(), rel=1e-13, abs=1e-14
    )
    if bias:
        assert [p.grad for p in layer.bias] == pytest.approx(b.grad.tolist())
    assert all(out.op == ("w·x+b" if bias else "a·b") for out in y)


def test_linear_initialisation():
    """std=None: PyTorch's U(-1/sqrt(nin), 1/sqrt(nin)); a number: N(0, std²), no bias noise."""
    layer = Linear(4, 300, seed=0)
    bound = 1.0 / math.sqrt(4)
    weights = [p.data for row in layer.weight for p in row]
    assert all(-bound <= w <= bound for w in weights) and max(weights) > 0.9 * bound
    gaussian = Linear(3, 2, std=0.5, seed=7)
    rng = random.Random(7)
    assert [p.data for row in gaussian.weight for p in row] == [
        rng.gauss(0.0, 0.5) for _ in range(6)
    ]
    assert [p.data for p in gaussian.bias] == [0.0, 0.0]
    assert [name for name, _ in gaussian.named_parameters()][-2:] == ["bias.0", "bias.1"]
    assert Linear(2, 2, bias=False).num_parameters() == 4


def test_linear_takes_plain_numbers():
    layer = Linear(2, 1, bias=False, std=1.0, seed=0)
    (y,) = layer([2.0, -1.0])
    w0, w1 = (p.data for p in layer.weight[0])
    assert y.data == w0 * 2.0 + w1 * -1.0


@pytest.mark.parametrize("bias", [True, False])
def test_linear_each_is_the_layer_on_every_vector(bias):
    layer = Linear(3, 2, bias=bias, std=0.7, seed=1)
    rng = random.Random(3)
    numbers = [random_vector(rng, 3) for _ in range(4)]
    xs, xs2 = [leaves(x) for x in numbers], [leaves(x) for x in numbers]
    outs, expected = layer.each(xs), [layer(x) for x in xs2]
    assert [[y.data for y in out] for out in outs] == [[y.data for y in out] for out in expected]
    assert [[y.parents for y in out] for out in outs] == [
        [y.parents[:-3] + tuple(x) for y in out] if bias else [(*row, *x) for row in layer.weight]
        for out, x in zip(outs, xs)
    ]
    assert layer.each([[2.0, -1.0, 0.5]])[0][0].data == layer([2.0, -1.0, 0.5])[0].data
    with pytest.raises(ValueError, match="Linear: expected a vector of 3 Values, got 2"):
        layer.each([leaves([1.0, 2.0, 3.0]), leaves([1.0, 2.0])])


@pytest.mark.parametrize("bias", [True, False])
@given(st.lists(st.one_of(finite, st.just(0.0)), min_size=4, max_size=4))
def test_linear_after_relu_is_the_layer_of_relu_without_the_off_units(bias, numbers):
    """Same numbers and gradients as ``layer(relu(h))`` (zeros up to their sign); the
    units that are off are not in the graph at all."""
    layer = Linear(4, 3, bias=bias, std=0.7, seed=2)
    h, h2 = leaves(numbers), leaves(numbers)
    outs, expected = layer.after_relu(h), layer([v.relu() for v in h2])
    assert [y.data for y in outs] == [y.data for y in expected]
    upstream = [1.5, -0.25, 2.0]
    sum_values([y * c for y, c in zip(outs, upstream)]).backward()
    weight_grads = [p.grad for p in layer.parameters()]
    layer.zero_grad()
    sum_values([y * c for y, c in zip(expected, upstream)]).backward()
    assert [p.grad for p in layer.parameters()] == weight_grads
    assert [v.grad for v in h] == [v.grad for v in h2]
    reached = {id(v) for y in outs for v in topological_order(y)}
    assert [id(v) in reached for v in h] == [x > 0.0 for x in numbers]


def test_linear_after_relu_gives_the_bias_or_zero_when_every_unit_is_off():
    off = leaves([-1.0, 0.0])
    assert [y.data for y in Linear(2, 2, std=1.0, seed=0).after_relu(off)] == [0.0, 0.0]
    with_bias = Linear(2, 1, seed=0)
    assert with_bias.after_relu(off)[0].data == with_bias.bias[0].data
    with pytest.raises(TypeError, match=r"Linear\.after_relu: expected Values, got float"):
        with_bias.after_relu([1.0, 2.0])
    with pytest.raises(ValueError, match="Linear: expected a vector of 2 Values, got 1"):
        with_bias.after_relu(leaves([1.0]))


def test_linear_errors():
    with pytest.raises(ValueError, match="Linear: expected a vector of 3 Values, got 2"):
        Linear(3, 1)([Value(1.0), Value(2.0)])
    with pytest.raises(ValueError, match="Linear: std must be > 0"):
        Linear(3, 1, std=0.0)
    with pytest.raises(TypeError, match="Linear: bias must be True or False"):
        Linear(3, 1, bias=1)


def test_embedding_returns_its_rows_and_checks_the_index():
    table = Embedding(5, 3, std=0.1, seed=2)
    rng = random.Random(2)
    assert [p.data for p in table.parameters()] == [rng.gauss(0.0, 0.1) for _ in range(15)]
    row = table(4)
    assert row == table.weight[4]
    sum_values(row).backward()
    assert [p.grad for p in table.parameters()] == [0.0] * 12 + [1.0] * 3
    with pytest.raises(IndexError, match=r"Embedding: index 5 is out of range 0\.\.4"):
        table(5)
    with pytest.raises(IndexError, match="index -1"):
        table(-1)
    with pytest.raises(TypeError, match="Embedding: index must be an int"):
        table(1.0)


# --------------------------------------------------------------------------- rms_norm


def test_rms_norm_matches_torch(torch):
    rng = random.Random(3)
    numbers, coefficients = random_vector(rng, 6), random_vector(rng, 6)
    xs = leaves(numbers)
    ys = rms_norm(xs)
    sum_values([c * y for c, y in zip(coefficients, ys)]).backward()
    tx = torch.tensor(numbers, requires_grad=True)
    ty = tx / torch.sqrt((tx * tx).mean() + 1e-5)
    (torch.tensor(coefficients) * ty).sum().backward()
    assert [y.data for y in ys] == pytest.approx(ty.tolist(), rel=1e-13)
    assert [x.grad for x in xs] == pytest.approx(tx.grad.tolist(), rel=1e-12)


def test_rms_norm_module_scales_each_feature(torch):
    norm = RMSNorm(3)
    for g, value in zip(norm.weight, (2.0, -1.0, 0.5)):
        g.data = value
    xs = leaves([1.0, 2.0, 3.0])
    ys = norm(xs)
    sum_values(ys).backward()
    tx = torch.tensor([1.0, 2.0, 3.0])
    tg = torch.tensor([2.0, -1.0, 0.5], requires_grad=True)
    ty = torch.nn.functional.rms_norm(tx, (3,), weight=tg, eps=1e-5)
    ty.sum().backward()
    assert [y.data for y in ys] == pytest.approx(ty.tolist(), rel=1e-13)
    assert [g.grad for g in norm.weight] == pytest.approx(tg.grad.tolist(), rel=1e-13)


def test_rms_norm_errors():
    with pytest.raises(ValueError, match="rms_norm: the vector is empty"):
        rms_norm([])
    with pytest.raises(ValueError, match="rms_norm: eps must be >= 0"):
        rms_norm(leaves([1.0]), eps=-1.0)


# --------------------------------------------------------------------------- attention


def test_attention_weights_are_a_softmax_of_scaled_scores():
    q, keys = leaves([1.0, 2.0]), [leaves([0.5, -1.0]), leaves([3.0, 0.0])]
    weights = attention_weights(q, keys)
    scores = [(1.0 * 0.5 + 2.0 * -1.0) / math.sqrt(2), (1.0 * 3.0) / math.sqrt(2)]
    expected = [math.exp(s) / sum(math.exp(t) for t in scores) for s in scores]
    assert [w.data for w in weights] == pytest.approx(expected, rel=1e-15)
    out = attention(q, keys, [leaves([1.0, 0.0]), leaves([0.0, 1.0])])
    assert [o.data for o in out] == pytest.approx(expected, rel=1e-15)
    with pytest.raises(ValueError, match="attention_weights: there are no keys"):
        attention_weights(q, [])
    with pytest.raises(ValueError, match="attention: 2 keys but 1 values"):
        attention(q, keys, [leaves([1.0, 0.0])])


def test_causal_self_attention_matches_torch(torch):
    n_embd, n_head, length = 8, 2, 5
    attn = CausalSelfAttention(n_embd, n_head, std=0.5, seed=4)
    rng = random.Random(5)
    numbers = [random_vector(rng, n_embd) for _ in range(length)]
    coefficients = [random_vector(rng, n_embd) for _ in range(length)]
    xs = [leaves(row) for row in numbers]
    outs = attn(xs)
    sum_values([c * o for cs, os in zip(coefficients, outs) for c, o in zip(cs, os)]).backward()

    def matrix(layer: Linear):
        return torch.tensor([[p.data for p in row] for row in layer.weight], requires_grad=True)

    wq, wk, wv, wo = (matrix(layer) for layer in (attn.wq, attn.wk, attn.wv, attn.wo))
    tx = torch.tensor(numbers, requires_grad=True)
    head_dim = n_embd // n_head

    def heads(t):
        return t.view(length, n_head, head_dim).transpose(0, 1)

    q, k, v = heads(tx @ wq.T), heads(tx @ wk.T), heads(tx @ wv.T)
    scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim)
    future = torch.ones(length, length).triu(1).bool()
    weights = scores.masked_fill(future, -math.inf).softmax(-1)
    ty = (weights @ v).transpose(0, 1).reshape(length, n_embd) @ wo.T
    (torch.tensor(coefficients) * ty).sum().backward()

    assert [o.data for row in outs for o in row] == pytest.approx(
        ty.flatten().tolist(), rel=1e-12, abs=1e-14
    )
    assert [x.grad for row in xs for x in row] == pytest.approx(
        tx.grad.flatten().tolist(), rel=1e-11, abs=1e-14
    )
    for layer, tw in zip((attn.wq, attn.wk, attn.wv, attn.wo), (wq, wk, wv, wo)):
        assert [p.grad for row in layer.weight for p in row] == pytest.approx(
            tw.grad.flatten().tolist(), rel=1e-11, abs=1e-14
        )


def test_causal_attention_of_a_sequence_is_attend_position_by_position_bit_for_bit():
    """``attn(xs)`` applies each weight matrix to all positions; ``attend`` to one at a time."""
    attn = CausalSelfAttention(8, 2, std=0.5, seed=4)
    rng = random.Random(6)
    numbers = [random_vector(rng, 8) for _ in range(5)]
    xs, xs2 = [leaves(x) for x in numbers], [leaves(x) for x in numbers]
    outs = attn(xs)
    keys: list[list[Value]] = []
    values: list[list[Value]] = []
    expected = [attn.attend(x, keys, values) for x in xs2]
    assert [bits(o.data) for out in outs for o in out] == [
        bits(o.data) for out in expected for o in out
    ]
    weights = attn.parameters()
    sum_values([o * (i % 3 - 1.25) for i, o in enumerate(flat(outs))]).backward()
    first = [bits(p.grad) for p in weights]
    attn.zero_grad()
    sum_values([o * (i % 3 - 1.25) for i, o in enumerate(flat(expected))]).backward()
    assert [bits(p.grad) for p in weights] == first
    assert [bits(x.grad) for x in flat(xs)] == [bits(x.grad) for x in flat(xs2)]


def test_causal_attention_does_not_look_ahead():
    """Changing a later position changes nothing at earlier ones."""
    attn = CausalSelfAttention(4, 2, seed=0)
    rng = random.Random(1)
    numbers = [random_vector(rng, 4) for _ in range(3)]
    first = attn([leaves(row) for row in numbers])
    numbers[2] = [10.0, -10.0, 3.0, 1.0]
    second = attn([leaves(row) for row in numbers])
    for t in range(2):
        assert [o.data for o in first[t]] == [o.data for o in second[t]]
    assert [o.data for o in first[2]] != [o.data for o in second[2]]


def test_attention_module_errors_and_names():
    with pytest.raises(ValueError, match=r"n_embd \(6\) must be divisible by n_head \(4\)"):
        CausalSelfAttention(6, 4)
    attn = CausalSelfAttention(4, 2, seed=0)
    names = [name for name, _ in attn.named_parameters()]
    assert names[0] == "wq.weight.0.0" and names[-1] == "wo.weight.3.3" and len(names) == 64
    with pytest.raises(ValueError, match="CausalSelfAttention: expected a vector of 4 Values"):
        attn([leaves([1.0, 2.0])])


@pytest.mark.parametrize("bias", [True, False])
@given(st.lists(st.one_of(finite, st.just(0.0)), min_size=4, max_size=4))
def test_linear_after_relu_while_tracing_keeps_every_unit_and_the_same_bits(bias, numbers):
    """While a trace records, each output is one op over every unit (it decides inside,
    on every run of the program), with the numbers and gradients of the eager graph."""
    layer = Linear(4, 3, bias=bias, std=0.7, seed=2)
    h, h2 = leaves(numbers), leaves(numbers)
    eager = layer.after_relu(h2)
    with tracing():
        traced = layer.after_relu(h)
    assert [y.data for y in traced] == [y.data for y in eager]
    assert all(y.parents[-4:] == tuple(h) for y in traced)
    upstream = [0.5, -1.25, 2.0]
    grads = []
    for outs in (traced, eager):
        layer.zero_grad()
        sum_values([y * c for y, c in zip(outs, upstream)]).backward()
        grads.append([p.grad for p in layer.parameters()])
    assert grads[0] == grads[1]
    assert [v.grad for v in h] == [v.grad for v in h2]


def test_a_batch_given_to_a_layer_says_one_sample_at_a_time():
    with pytest.raises(TypeError, match=r"one sample at a time; use \[layer\(x\) for x in X\]"):
        Linear(2, 3)([[1.0, 2.0], [3.0, 4.0]])  # two samples of two: as long as one sample
