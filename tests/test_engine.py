"""The graph and the backward pass: construction, semantics, errors, scale, determinism."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinygrad_edu import Value, enable_grad, no_grad, topological_order, weighted_sum
from tinygrad_edu.engine import is_grad_enabled

# ------------------------------------------------------------------ construction


@pytest.mark.parametrize("data", [3, 2.5, -0.0, np.float64(1.5), np.float32(0.25), np.int64(7)])
def test_value_accepts_real_numbers_and_stores_a_float(data) -> None:
    v = Value(data)
    assert type(v.data) is float
    assert v.data == float(data)
    assert v.item() == float(data)


@pytest.mark.parametrize(
    ("data", "type_name"),
    [
        ("1.0", "str"),
        (None, "NoneType"),
        (1 + 2j, "complex"),
        ([1.0], "list"),
        (Value(1.0), "Value"),
    ],
)
def test_value_rejects_non_real_data_naming_the_type(data, type_name: str) -> None:
    with pytest.raises(TypeError, match=type_name):
        Value(data)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_value_rejects_nan_and_infinity(bad: float) -> None:
    with pytest.raises(ValueError, match=f"data is {bad!r}; a Value must hold a finite"):
        Value(bad)


@pytest.mark.parametrize(
    ("compute", "error", "message"),
    [
        (lambda: Value(1e308) * 10, OverflowError, r"'\*' of \(1e\+308, 10.0\) overflows"),
        (lambda: Value(1e308) + Value(1e308), OverflowError, r"'\+' of \(1e\+308, 1e\+308\)"),
        (lambda: 1e308 - Value(-1e308), OverflowError, "'-' of .* overflows float64"),
        (lambda: Value(1e300) / 1e-10, OverflowError, "'/' of .* overflows float64"),
    ],
)
def test_results_that_leave_float64_are_refused_where_they_happen(compute, error, message) -> None:
    with pytest.raises(error, match=message):
        compute()


@pytest.mark.parametrize(
    ("compute", "message"),
    [
        (lambda: Value(2.0) * math.inf, r"'\*': the plain-number operand inf is not finite"),
        (lambda: Value(2.0) + math.nan, r"'\+': the plain-number operand nan is not finite"),
        (lambda: Value(2.0) / math.inf, "'/': the plain-number operand inf"),  # 0.0 otherwise
        (lambda: Value(1.0) ** math.nan, r"'\*\*': the plain-number operand nan"),  # 1.0
        (lambda: math.nan ** Value(0.0), r"'\*\*': the plain-number operand nan"),  # 1.0
        (lambda: Value(2.0).leaky_relu(math.inf), "'leaky_relu': the plain-number operand inf"),
    ],
)
def test_non_finite_plain_numbers_are_refused_even_when_the_result_is_finite(
    compute, message
) -> None:
    with pytest.raises(ValueError, match=message):
        compute()


def test_a_huge_fused_weighted_sum_names_its_operation() -> None:
    weights, bias = [Value(1e200)] * 8, Value(0.0)
    with pytest.raises(OverflowError, match=r"'w·x\+b' of \(1e\+200, .*, \.\.\.\) overflows"):
        weighted_sum(weights, [1e200] * 8, bias)


def test_attributes_of_leaves_and_results() -> None:
    x = Value(2.0, label="x")
    assert (x.data, x.grad, x.label, x.op, x.parents) == (2.0, 0.0, "x", "", ())
    y = x * 3
    assert y.op == "*" and y.parents == (x,) and y.constants == (3.0,)
    z = x * y
    assert z.parents == (x, y)
    z.label = "z"
    x.data = 5.0
    assert z.label == "z" and x.data == 5.0
    assert "label='x'" in repr(x) and "data=5.0" in repr(x) and "grad=0.0" in repr(x)


def test_plain_number_operands_do_not_become_nodes() -> None:
    x = Value(1.5)
    out = (2 * x + 1) / 4 - 3
    nodes = topological_order(out)
    assert nodes[0] is x and len(nodes) == 5  # x and four ops: no node for 2, 1, 4 or 3
    assert all(isinstance(p, Value) for n in nodes for p in n.parents)


# ------------------------------------------------------------------ operand types


def test_unsupported_operands_raise_the_standard_type_error() -> None:
    v = Value(2.0)
    for make in (lambda: v + "a", lambda: "a" + v, lambda: v * [1], lambda: None - v,
                 lambda: v / "x", lambda: v ** "x", lambda: 1j * v):  # fmt: skip
        with pytest.raises(TypeError):
            make()


def test_string_times_value_raises_instead_of_repeating() -> None:
    with pytest.raises(TypeError):
        "a" * Value(2)


def test_numpy_scalars_on_either_side_give_values() -> None:
    v = Value(3.0)
    for out in (np.float64(2.0) * v, v * np.float64(2.0), np.int64(2) * v):
        assert isinstance(out, Value) and out.data == 6.0


# ------------------------------------------------------------------ backward semantics


def test_reused_node_gradients_add_up() -> None:
    a = Value(3.0)
    out = a * a + a  # d/da = 2a + 1
    out.backward()
    assert a.grad == 7.0


def test_a_plus_a() -> None:
    a = Value(-4.0)
    (a + a).backward()
    assert a.grad == 2.0


def test_backward_twice_doubles_leaves_and_recomputes_the_rest() -> None:
    x, w, b = Value(0.5), Value(-1.5), Value(0.25)
    hidden = (w * x + b).tanh()
    out = hidden * hidden + w

    out.backward()
    once = {"x": x.grad, "w": w.grad, "b": b.grad, "hidden": hidden.grad, "out": out.grad}
    out.backward()
    assert (x.grad, w.grad, b.grad) == (2 * once["x"], 2 * once["w"], 2 * once["b"])
    assert hidden.grad == once["hidden"] and out.grad == once["out"] == 1.0


def test_backward_twice_doubles_exactly_with_many_contributions_per_leaf() -> None:
    # Each weight gets one contribution per data point; summing them onto the old
    # gradient one by one would differ from 2 * total in the last digits.
    from tinygrad_edu import datasets, losses
    from tinygrad_edu.nn import MLP

    model = MLP(2, [8, 8, 1], seed=0)
    points, labels = datasets.make_moons(40, noise=0.1, seed=0)
    loss = losses.mse_loss([model(x) for x in points], [float(t) for t in labels])
    loss.backward()
    once = [p.grad for p in model.parameters()]
    loss.backward()
    assert [p.grad for p in model.parameters()] == [2 * g for g in once]


def test_backward_adds_the_whole_pass_to_an_earlier_gradient() -> None:
    a = Value(0.1)
    y = a * 0.3 + a * 0.7 + a.sin()
    y.backward()
    total = a.grad  # this graph's d y / d a: three contributions summed
    a.grad = 0.3
    y.backward()
    assert a.grad == 0.3 + total  # not ((0.3 + c1) + c2) + c3, which differs here


def test_non_leaf_grads_hold_d_root_d_node() -> None:
    x = Value(2.0)
    y = x * x  # 4
    z = y.log()  # dz/dy = 1/y
    z.backward()
    assert y.grad == pytest.approx(0.25)
    assert x.grad == pytest.approx(0.25 * 4.0)


def test_backward_on_a_leaf_accumulates_one() -> None:
    x = Value(1.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


@pytest.mark.slow
def test_a_million_node_chain_at_the_default_recursion_limit() -> None:
    assert sys.getrecursionlimit() <= 1000  # Python's default: no recursion could get through
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6  # one node per step
    y.backward()
    assert len(topological_order(y)) == 1_000_001
    assert x.grad == 1.0
    assert y.data == pytest.approx(1.5, rel=1e-9)


def test_deep_chain_of_nonlinear_ops_matches_the_chain_rule() -> None:
    x = Value(0.3)
    y = x
    expected = 1.0
    for _ in range(5000):
        expected *= 1.0 - math.tanh(y.data) ** 2
        y = y.tanh()
    y.backward()
    assert x.grad == pytest.approx(expected, rel=1e-9)


def test_topological_order_puts_parents_first_and_root_last() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    assert order[-1] is e
    assert len(order) == len({id(n) for n in order}) == 5
    position = {id(n): i for i, n in enumerate(order)}
    assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
    assert e.topological_order() == order
    with pytest.raises(TypeError, match="Value"):
        topological_order(3.0)


# ------------------------------------------------------------------ no_grad and detach


def test_no_grad_records_nothing_and_restores_the_mode() -> None:
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * x + 1
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert y.parents == () and y.op == "" and y.data == 5.0


def test_no_grad_restores_the_mode_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), no_grad():
        Value(1.0) / 0
    assert is_grad_enabled()


def test_no_grad_as_a_decorator() -> None:
    @no_grad()
    def square(v: Value) -> Value:
        return v * v

    out = square(Value(3.0))
    assert out.data == 9.0 and out.parents == ()
    assert square.__name__ == "square"
    assert is_grad_enabled()


def test_no_grad_and_enable_grad_decorate_without_parentheses_too() -> None:
    @no_grad
    def square(v: Value) -> Value:
        return v * v

    @enable_grad
    def recording() -> bool:
        return is_grad_enabled()

    assert square(Value(3.0)).parents == () and square.__name__ == "square"
    with no_grad():
        assert recording() is True
        assert not is_grad_enabled()
    with pytest.raises(TypeError, match="no_grad: expected a function to decorate, got int"):
        no_grad(3)


def test_detach_gives_a_new_leaf() -> None:
    x = Value(2.0, label="x")
    y = (x * 3).detach()
    assert y.parents == () and y.data == 6.0
    out = y * x
    out.backward()
    assert x.grad == 6.0 and y.grad == 2.0


# ------------------------------------------------------------------ errors name op and value


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [
        (lambda: Value(0.0).log(), ValueError, r"log: .*0\.0"),
        (lambda: Value(-2.0).log(), ValueError, r"log: .*-2\.0"),
        (lambda: Value(-1.0).sqrt(), ValueError, r"sqrt: .*-1\.0"),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, r"power: negative base -8\.0"),
        (lambda: Value(-2.0) ** Value(2.0), ValueError, r"power: .*-2\.0"),
        (lambda: (-2.0) ** Value(2.0), ValueError, r"power: .*-2\.0"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"division: cannot divide 1\.0 by zero"),
        (lambda: Value(3.0) / Value(0.0), ZeroDivisionError, r"division: .*3\.0"),
        (lambda: 2 / Value(0.0), ZeroDivisionError, r"division: cannot divide 2\.0"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"power: 0\.0 \*\* -1\.0"),
        (lambda: 0 ** Value(-2.0), ZeroDivisionError, r"power: 0\.0 \*\* -2\.0"),
        (lambda: Value(1000.0).exp(), OverflowError, r"exp: exp\(1000\.0\)"),
        (lambda: Value(10.0) ** 400, OverflowError, r"power: 10\.0 \*\* 400\.0"),
        (lambda: Value(1.0).leaky_relu("x"), TypeError, r"leaky_relu: .*str"),
    ],
)
def test_domain_errors_name_the_operation_and_the_value(make, error, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        make()


def test_integer_powers_of_negative_numbers_are_fine() -> None:
    x = Value(-2.0)
    y = x**3
    y.backward()
    assert (y.data, x.grad) == (-8.0, 12.0)


def test_edge_derivatives_follow_pytorch(torch) -> None:
    for ours, theirs, point in [
        (lambda v: abs(v), torch.abs, 0.0),
        (lambda v: v.relu(), torch.relu, 0.0),
        (lambda v: v.sqrt(), torch.sqrt, 0.0),
        (lambda v: v**0.5, lambda t: t**0.5, 0.0),
        (lambda v: v**2, lambda t: t**2, 0.0),
        (lambda v: 0.0**v, lambda t: 0.0**t, 2.0),
    ]:
        v = Value(point)
        ours(v).backward()
        t = torch.tensor(point, requires_grad=True)
        theirs(t).backward()
        assert v.grad == t.grad.item()
    for exponent in (0.0, 0.5, 1.0, 2.0):  # 0 ** y with a Value exponent: both slopes
        x, y = Value(0.0), Value(exponent)
        (x**y).backward()
        tx = torch.tensor(0.0, requires_grad=True)
        ty = torch.tensor(exponent, requires_grad=True)
        (tx**ty).backward()
        assert (x.grad, y.grad) == (tx.grad.item(), ty.grad.item())


# ------------------------------------------------------------------ fused weighted sum


def test_weighted_sum_is_bit_identical_to_the_unfused_form() -> None:
    ws = [Value(w) for w in (0.3, -1.7, 2.2, 0.05)]
    b = Value(0.1)
    for inputs in ([0.5, -2.0, 3.25, 1e-3], [Value(0.5), Value(-2.0), Value(3.25), Value(1e-3)]):
        fused = weighted_sum(ws, inputs, b).tanh()
        fused.backward()
        fused_grads = [p.grad for p in (*ws, b, *(x for x in inputs if isinstance(x, Value)))]
        for p in (*ws, b, *(x for x in inputs if isinstance(x, Value))):
            p.grad = 0.0
        plain = sum((w * x for w, x in zip(ws, inputs)), b).tanh()
        plain.backward()
        plain_grads = [p.grad for p in (*ws, b, *(x for x in inputs if isinstance(x, Value)))]
        assert fused.data == plain.data
        assert fused_grads == plain_grads
        for p in (*ws, b, *(x for x in inputs if isinstance(x, Value))):
            p.grad = 0.0


def test_weighted_sum_keeps_plain_inputs_as_constants() -> None:
    ws, b = [Value(1.0), Value(2.0)], Value(0.5)
    out = weighted_sum(ws, [3.0, 4.0], b)
    assert out.data == 11.5 and out.parents == (*ws, b) and out.constants == (3.0, 4.0)


def test_weighted_sum_rejects_bad_input() -> None:
    ws, b = [Value(1.0), Value(2.0)], Value(0.5)
    with pytest.raises(ValueError, match="2 weights but 3 inputs"):
        weighted_sum(ws, [1.0, 2.0, 3.0], b)
    with pytest.raises(TypeError, match="Values"):
        weighted_sum(ws, [1.0, 2.0], 0.5)
    with pytest.raises(TypeError, match="str"):
        weighted_sum(ws, [1.0, "2"], b)


# ------------------------------------------------------------------ determinism

_PROGRAM = textwrap.dedent(
    """
    import random
    from tinygrad_edu import Value
    rng = random.Random(0)
    params = [Value(rng.uniform(-1, 1)) for _ in range(60)]
    for step in range(5):
        loss = 0
        for i in range(20):
            h = [(params[j] * (i / 10) + params[j + 1]).tanh() for j in range(0, 40, 2)]
            s = sum(h[k] * params[40 + k] for k in range(20))
            loss = loss + (s - (i % 3)) ** 2
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= 0.01 * p.grad
    print(repr(loss.data), [p.data.hex() for p in params])
    """
)


def test_results_are_bit_identical_whatever_the_hash_seed() -> None:
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(run.stdout)
    assert len(outputs) == 1


def test_enable_grad_records_inside_no_grad() -> None:
    x = Value(2.0)
    with no_grad():
        with enable_grad():
            y = x * x
        z = x * x
    assert y.parents == (x, x) and z.parents == ()
    assert is_grad_enabled()


def test_local_grads_has_one_entry_per_parent() -> None:
    x = Value(2.0)
    cases = [
        x * 3,
        x - 2,
        4 - x,
        x / 4,
        3 / x,
        x**3,
        2**x,
        x + 2,
        x.leaky_relu(0.1),
        x * x,
        x.exp(),
    ]
    cases.append(weighted_sum([Value(0.5), Value(-1.0)], [3.0, 4.0], Value(0.1)))
    for node in cases:
        assert len(node.local_grads) == len(node.parents), node.op


# ------------------------------------------------------------------ habits from PyTorch


def test_backward_with_a_gradient_seeds_the_chain_rule() -> None:
    # y = x^2 at 3: d(c * y)/dx = c * 2x, for a seed c, as Tensor.backward(gradient) gives
    x = Value(3.0)
    (x * x).backward(-0.5)
    assert x.grad == -0.5 * 6.0
    leaf = Value(2.0)
    leaf.backward(4.0)
    leaf.backward(4.0)
    assert leaf.grad == 8.0  # a leaf's own gradient accumulates like any other


@pytest.mark.parametrize(
    ("seed", "error"),
    [(math.inf, ValueError), (math.nan, ValueError), ("1", TypeError), (True, TypeError)],
)
def test_backward_refuses_a_seed_that_is_not_a_finite_number(seed, error) -> None:
    with pytest.raises(error, match="backward: gradient"):
        (Value(1.0) * 2.0).backward(seed)


def test_backward_of_a_result_computed_under_no_grad_says_there_is_no_graph() -> None:
    x = Value(3.0)
    with no_grad():
        y = x * x
    with pytest.raises(RuntimeError, match=r"'\*' under no_grad.*no graph"):
        y.backward()
    assert y.operation is None and x.grad == 0.0
    Value(1.0).backward()  # a leaf of one's own is still fine: d x / d x = 1


@pytest.mark.parametrize("convert", [int, round, math.floor, math.ceil, math.trunc])
def test_int_and_round_are_refused_like_float(convert) -> None:
    with pytest.raises(TypeError, match=r"out of the graph.*v\.data"):
        convert(Value(2.5))


def test_repr_shows_the_label_and_the_operation() -> None:
    x = Value(2.0, "x")
    assert repr(x) == "Value(data=2.0, grad=0.0, label='x')"
    assert repr(x * 3.0) == "Value(data=6.0, grad=0.0, op='*')"
