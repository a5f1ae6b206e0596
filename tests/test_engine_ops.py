"""Every operation and operator form against three independent references.

For each op: the value against plain ``math``, the gradient against the analytic
derivative, against a central finite difference of the ``math`` function, and
against PyTorch in float64 — over Hypothesis-generated inputs in the op's domain.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_edu import Value, gradients
from tinygrad_edu.engine import OPS


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@dataclass
class Case:
    """One op in one operator form, with its references."""

    name: str
    ours: Callable[..., Value]  # applied to Values
    reference: Callable[..., float]  # the same maths on floats
    derivatives: Callable[..., tuple[float, ...]]  # analytic partials, one per input
    torch: Callable[..., object]  # the same maths on torch tensors
    domain: tuple[st.SearchStrategy[float], ...]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


# Inputs keep a margin from kinks (relu, abs at 0) so central differences are valid there.
R = floats(-5.0, 5.0)
POS = floats(0.1, 5.0)
AWAY = st.one_of(floats(-5.0, -0.05), floats(0.05, 5.0))
C = 1.7  # the plain-number operand in the constant forms

CASES = [
    # binary, Value op Value
    Case("add", lambda x, y: x + y, lambda x, y: x + y, lambda x, y: (1.0, 1.0),
         lambda x, y: x + y, (R, R)),
    Case("sub", lambda x, y: x - y, lambda x, y: x - y, lambda x, y: (1.0, -1.0),
         lambda x, y: x - y, (R, R)),
    Case("mul", lambda x, y: x * y, lambda x, y: x * y, lambda x, y: (y, x),
         lambda x, y: x * y, (R, R)),
    Case("div", lambda x, y: x / y, lambda x, y: x / y, lambda x, y: (1 / y, -x / y**2),
         lambda x, y: x / y, (R, AWAY)),
    Case("pow", lambda x, y: x**y, lambda x, y: x**y,
         lambda x, y: (y * x ** (y - 1), x**y * math.log(x)), lambda x, y: x**y,
         (floats(0.2, 3.0), floats(-2.0, 2.0))),
    # binary with a plain number on either side
    Case("add_const", lambda x: x + C, lambda x: x + C, lambda x: (1.0,), lambda x: x + C, (R,)),
    Case("radd_const", lambda x: C + x, lambda x: C + x, lambda x: (1.0,), lambda x: C + x, (R,)),
    Case("sub_const", lambda x: x - C, lambda x: x - C, lambda x: (1.0,), lambda x: x - C, (R,)),
    Case("rsub_const", lambda x: C - x, lambda x: C - x, lambda x: (-1.0,), lambda x: C - x, (R,)),
    Case("mul_const", lambda x: x * C, lambda x: x * C, lambda x: (C,), lambda x: x * C, (R,)),
    Case("rmul_const", lambda x: C * x, lambda x: C * x, lambda x: (C,), lambda x: C * x, (R,)),
    Case("div_const", lambda x: x / C, lambda x: x / C, lambda x: (1 / C,), lambda x: x / C, (R,)),
    Case("rdiv_const", lambda x: C / x, lambda x: C / x, lambda x: (-C / x**2,),
         lambda x: C / x, (AWAY,)),
    Case("pow_int", lambda x: x**3, lambda x: x**3, lambda x: (3 * x**2,), lambda x: x**3, (R,)),
    Case("pow_neg", lambda x: x**-2, lambda x: x**-2, lambda x: (-2 * x**-3,),
         lambda x: x**-2, (AWAY,)),
    Case("pow_frac", lambda x: x**1.5, lambda x: x**1.5, lambda x: (1.5 * x**0.5,),
         lambda x: x**1.5, (POS,)),
    Case("rpow", lambda x: C**x, lambda x: C**x, lambda x: (C**x * math.log(C),),
         lambda x: C**x, (R,)),
    # unary
    Case("neg", lambda x: -x, lambda x: -x, lambda x: (-1.0,), lambda x: -x, (R,)),
    Case("abs", abs, abs, lambda x: (math.copysign(1.0, x),), abs, (AWAY,)),
    Case("exp", Value.exp, math.exp, lambda x: (math.exp(x),), lambda x: x.exp(), (R,)),
    Case("log", Value.log, math.log, lambda x: (1 / x,), lambda x: x.log(), (POS,)),
    Case("sqrt", Value.sqrt, math.sqrt, lambda x: (0.5 / math.sqrt(x),), lambda x: x.sqrt(),
         (POS,)),
    Case("tanh", Value.tanh, math.tanh, lambda x: (1 - math.tanh(x) ** 2,), lambda x: x.tanh(),
         (R,)),
    Case("sigmoid", Value.sigmoid, sigmoid, lambda x: (sigmoid(x) * (1 - sigmoid(x)),),
         lambda x: x.sigmoid(), (R,)),
    Case("relu", Value.relu, lambda x: max(x, 0.0), lambda x: (1.0 if x > 0 else 0.0,),
         lambda x: x.relu(), (AWAY,)),
    Case("leaky_relu", lambda x: x.leaky_relu(0.1), lambda x: x if x > 0 else 0.1 * x,
         lambda x: (1.0 if x > 0 else 0.1,),
         lambda x: __import__("torch").nn.functional.leaky_relu(x, 0.1), (AWAY,)),
    Case("sin", Value.sin, math.sin, lambda x: (math.cos(x),), lambda x: x.sin(), (R,)),
    Case("cos", Value.cos, math.cos, lambda x: (-math.sin(x),), lambda x: x.cos(), (R,)),
]  # fmt: skip
IDS = [case.name for case in CASES]


def inputs_for(case: Case) -> st.SearchStrategy[tuple[float, ...]]:
    return st.tuples(*case.domain)


def our_value_and_grads(case: Case, point: tuple[float, ...]) -> tuple[float, list[float]]:
    leaves = [Value(x) for x in point]
    out = case.ours(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(data=st.data())
def test_value_and_gradient_match_the_analytic_derivative(case: Case, data: st.DataObject) -> None:
    point = data.draw(inputs_for(case))
    value, grads = our_value_and_grads(case, point)
    assert value == pytest.approx(case.reference(*point), rel=1e-12, abs=1e-12)
    assert grads == pytest.approx(list(case.derivatives(*point)), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(data=st.data())
def test_gradient_matches_central_differences(case: Case, data: st.DataObject) -> None:
    point = data.draw(inputs_for(case))
    _, grads = our_value_and_grads(case, point)
    h = 1e-6
    for i in range(len(point)):
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        numeric = (case.reference(*up) - case.reference(*down)) / (2 * h)
        assert grads[i] == pytest.approx(numeric, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(data=st.data())
def test_value_and_gradient_match_pytorch(case: Case, data: st.DataObject, torch) -> None:
    point = data.draw(inputs_for(case))
    value, grads = our_value_and_grads(case, point)
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
    out = case.torch(*tensors)
    out.backward()
    assert value == pytest.approx(out.item(), rel=1e-13, abs=1e-13)
    assert grads == pytest.approx([t.grad.item() for t in tensors], rel=1e-12, abs=1e-13)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(data=st.data())
def test_derivative_rule_gives_the_same_numbers_as_values(case: Case, data: st.DataObject) -> None:
    """The one derivative rule per op, run on Values (for nested grad), agrees with floats."""
    point = data.draw(inputs_for(case))
    leaves = [Value(x) for x in point]
    out = case.ours(*leaves)
    as_floats = gradients(out, leaves)
    as_values = [
        g.item() if isinstance(g, Value) else g for g in gradients(out, leaves, create_graph=True)
    ]
    assert as_values == pytest.approx(as_floats, rel=1e-12, abs=1e-15)


@given(x=floats(-1000.0, 1000.0))
def test_sigmoid_is_stable_everywhere(x: float, torch) -> None:
    v = Value(x)
    s = v.sigmoid()
    s.backward()
    t = torch.tensor(x, requires_grad=True)
    ts = torch.sigmoid(t)
    ts.backward()
    assert math.isfinite(s.data) and math.isfinite(v.grad)
    assert s.data == pytest.approx(ts.item(), rel=1e-13, abs=1e-300)
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("x", [-1000.0, 1000.0])
def test_sigmoid_at_the_extremes(x: float) -> None:
    v = Value(x)
    s = v.sigmoid()
    s.backward()
    assert s.data == (1.0 if x > 0 else 0.0)
    assert v.grad == 0.0


@given(x=floats(-3.0, 3.0), y=floats(-3.0, 3.0))
def test_composite_expression_matches_pytorch(x: float, y: float, torch) -> None:
    assume(abs(x) > 1e-3)

    def f(a, b, lib_tanh, lib_exp):
        z = a * b + b**2 / (1 + a * a)
        return lib_tanh(z) * lib_exp(-a) - 3 * b + (a - b) ** 2

    a, b = Value(x), Value(y)
    out = f(a, b, Value.tanh, Value.exp)
    out.backward()
    ta = torch.tensor(x, requires_grad=True)
    tb = torch.tensor(y, requires_grad=True)
    tout = f(ta, tb, torch.tanh, torch.exp)
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12)
    assert (a.grad, b.grad) == pytest.approx((ta.grad.item(), tb.grad.item()), rel=1e-11)


def test_every_row_of_the_op_table_is_covered() -> None:
    """A new op added to the table without a test case here fails this test."""
    tested = set()
    for case in CASES:
        point = [0.5 + i for i in range(len(case.domain))]  # inside every domain
        tested.add(case.ours(*(Value(x) for x in point))._op)
    assert set(OPS) <= tested
