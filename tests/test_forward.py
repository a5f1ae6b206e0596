"""Forward mode (jvp), vjp, jacobian, hessian and operations of your own (Op).

The references are PyTorch in float64 (torch.func and torch.autograd.functional),
analytic derivatives and central differences.
"""

from __future__ import annotations

import copy
import math
import pickle
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import (
    GradcheckError,
    Op,
    Value,
    compile,
    dot,
    grad,
    gradcheck,
    hessian,
    jacobian,
    jvp,
    no_grad,
    sum_values,
    trace,
    viz,
    vjp,
)
from tinygrad_edu.forward import Dual
from tinygrad_edu.nn import Layer, Linear
from tinygrad_edu.nn.layers import attention, rms_norm

coords = st.floats(-1.5, 1.5, allow_nan=False)
positive = st.floats(0.2, 2.0)


# Each function twice: on our Values and on torch tensors (given the torch module).
def _f1(x, y, sin, exp):
    return (x * y + 1.5).tanh() * sin(x) + (x - y) ** 2 / (1 + exp(y))


def _f2(x, y, sin, exp):
    return (x.sigmoid() * 3 - y.relu()) * (2.0 ** (x * y)) + abs(x - 0.3)


FUNCTIONS = {
    "tanh, sin, exp, power": _f1,
    "sigmoid, relu, 2**x, abs": _f2,
}


def ours(name):
    return lambda x, y: FUNCTIONS[name](x, y, Value.sin, Value.exp)


def theirs(name, torch):
    return lambda x, y: FUNCTIONS[name](x, y, torch.sin, torch.exp)


def number(x: float | Value) -> float:
    """grad gives a Value or a float depending on what it is given; the number either way."""
    return x.item() if isinstance(x, Value) else x


def flat(matrix: list[list[float]]) -> list[float]:
    return [x for row in matrix for x in row]


def tensors(torch, *xs):
    return tuple(torch.tensor(float(x), dtype=torch.float64) for x in xs)


# ------------------------------------------------------------------ jvp


@pytest.mark.parametrize("name", FUNCTIONS)
@given(x=coords, y=coords, u=coords, v=coords)
def test_jvp_matches_torch_func_jvp(torch, name, x, y, u, v) -> None:
    value, tangent = jvp(ours(name), (x, y), (u, v))
    ref_value, ref_tangent = torch.func.jvp(theirs(name, torch), tensors(torch, x, y),
                                            tensors(torch, u, v))  # fmt: skip
    assert type(value) is float and type(tangent) is float  # floats in, floats out
    assert value == pytest.approx(ref_value.item(), rel=1e-12, abs=1e-12)
    assert tangent == pytest.approx(ref_tangent.item(), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_jvp_and_backward_give_the_same_partial_derivatives(name) -> None:
    x, y = Value(0.4), Value(-0.7)
    ours(name)(x, y).backward()
    assert jvp(ours(name), (0.4, -0.7), (1.0, 0.0))[1] == pytest.approx(x.grad, rel=1e-13)
    assert jvp(ours(name), (0.4, -0.7), (0.0, 1.0))[1] == pytest.approx(y.grad, rel=1e-13)


def test_jvp_with_plain_numbers_records_no_graph() -> None:
    seen = []

    def f(x):
        h = x.exp() * 3.0
        seen.append(h)
        return h.sin()

    value, tangent = jvp(f, (0.5,), (2.0,))
    assert (value, tangent) == (math.sin(3 * math.exp(0.5)),
                                2.0 * math.cos(3 * math.exp(0.5)) * 3 * math.exp(0.5))  # fmt: skip
    assert seen[0].parents == () and seen[0].op == ""  # a dual number, not a graph node


def test_jvp_of_a_list_valued_function_gives_lists() -> None:
    values, tangents = jvp(lambda x, y: [x * y, x + y, Value(4.0)], (2.0, 3.0), (1.0, -1.0))
    assert values == [6.0, 5.0, 4.0]
    assert tangents == [3.0 - 2.0, 0.0, 0.0]  # y*u + x*v; u + v; a constant


@given(x=coords, y=coords)
def test_nested_jvps_keep_their_perturbations_apart(x, y) -> None:
    # d/dx [x * (d/dy (x + y))] = d/dx [x * 1] = 1; naive dual numbers give 2
    def inner_derivative(x_):
        return jvp(lambda y_: x_ + y_, (y,), (1.0,))[1]

    assert jvp(lambda x_: x_ * inner_derivative(x_), (x,), (1.0,))[1] == 1.0
    # and a genuine mixed derivative: d/dx d/dy (x^2 y^3) = 6 x y^2
    mixed = jvp(lambda x_: jvp(lambda y_: x_ * x_ * y_**3, (y,), (1.0,))[1], (x,), (1.0,))[1]
    assert mixed == pytest.approx(6 * x * y * y, rel=1e-12, abs=1e-12)


@given(x=coords)
def test_nested_jvp_gives_higher_derivatives(x) -> None:
    def d(f):
        return lambda t: jvp(f, (t,), (1.0,))[1]

    f = lambda t: t.sin() * t  # noqa: E731
    assert d(d(f))(x) == pytest.approx(2 * math.cos(x) - x * math.sin(x), rel=1e-12, abs=1e-12)
    assert d(d(d(f)))(x) == pytest.approx(-3 * math.sin(x) - x * math.cos(x), abs=1e-12)


@pytest.mark.parametrize("name", FUNCTIONS)
@given(x=coords, y=coords, u=coords, v=coords)
def test_jvp_of_grad_is_a_hessian_vector_product(torch, name, x, y, u, v) -> None:
    gradient, hvp = jvp(grad(ours(name), (0, 1)), (x, y), (u, v))
    _, ref = torch.autograd.functional.hvp(lambda p: theirs(name, torch)(p[0], p[1]),
                                           torch.tensor([x, y]), torch.tensor([u, v]))  # fmt: skip
    assert list(hvp) == pytest.approx(ref.tolist(), rel=1e-9, abs=1e-9)
    x_, y_ = Value(x), Value(y)
    ours(name)(x_, y_).backward()
    assert [number(g) for g in gradient] == pytest.approx([x_.grad, y_.grad], rel=1e-12, abs=1e-12)


@given(x=coords)
def test_grad_of_a_jvp_differentiates_the_tangent(x) -> None:
    # reverse-over-forward: the tangent of x^3 along 1 is 3x^2, whose derivative is 6x
    slope = grad(lambda t: jvp(lambda u: u**3, (t,), (1.0,))[1])(x)
    assert number(slope) == pytest.approx(6 * x, rel=1e-12, abs=1e-12)


def test_forward_mode_passes_nothing_along_an_edge_whose_derivative_is_zero() -> None:
    # sqrt after relu at x <= 0: sqrt's infinite slope meets relu's 0.0; no nan either way
    f = lambda x: x.relu().sqrt() + x  # noqa: E731
    for at in (0.0, -1.0):
        x = Value(at)
        f(x).backward()
        assert jvp(f, (at,), (1.0,))[1] == x.grad == 1.0
    # an infinite slope on an input that is not moving stays out of the other columns
    g = lambda a, b: a + b.sqrt()  # noqa: E731
    assert jacobian(g, (0, 1), mode="forward")(2.0, 0.0) == [[1.0, math.inf]]
    assert jacobian(g, (0, 1))(2.0, 0.0) == [[1.0, math.inf]]


def test_jvp_works_through_nn_layers() -> None:
    layer = Layer(3, 2, activation="tanh", seed=0)
    x = [0.3, -0.2, 0.9]
    forward = jacobian(lambda v: layer(v), mode="forward")(x)
    reverse = jacobian(lambda v: layer(v))(x)
    assert flat(forward) == pytest.approx(flat(reverse), rel=1e-13)


def test_jvp_works_through_the_fused_nodes_of_a_transformer() -> None:
    # dot, matvec (a Linear without bias), sum_values, rms_norm and attention each build
    # one fused node; with dual numbers among the operands they must carry the tangent.
    linear = Linear(4, 4, bias=False, seed=0)

    def f(*v: Value) -> Value:
        h = linear(rms_norm(list(v)))
        out = attention(h[:2], [h[:2], h[2:]], [h[2:], h[:2]])
        return sum_values(out) + dot(out, list(v[:2])) + 0.5 * v[3]

    x = [0.3, -0.2, 0.9, 1.4]
    forward = jacobian(f, (0, 1, 2, 3), mode="forward")(*x)
    reverse = jacobian(f, (0, 1, 2, 3))(*x)
    assert all(d != 0.0 for d in flat(reverse))
    assert flat(forward) == pytest.approx(flat(reverse), rel=1e-12)
    _, slope = jvp(f, x, [1.0, 0.0, 0.0, 0.0])
    assert slope == pytest.approx(flat(reverse)[0], rel=1e-12)


# ------------------------------------------------------------------ vjp, jacobian, hessian


@given(x=coords, y=coords, a=coords, b=coords)
def test_vjp_matches_torch_func_vjp(torch, x, y, a, b) -> None:
    def f(x, y):
        return [x * y.exp(), (x - y).tanh()]

    value, vjp_fn = vjp(f, x, y)
    ref_value, ref_fn = torch.func.vjp(lambda p, q: torch.stack([p * q.exp(), (p - q).tanh()]),
                                       *tensors(torch, x, y))  # fmt: skip
    assert value == pytest.approx(ref_value.tolist(), rel=1e-12, abs=1e-12)
    assert list(vjp_fn(a, b)) == pytest.approx([g.item() for g in ref_fn(torch.tensor([a, b]))],
                                               rel=1e-9, abs=1e-9)  # fmt: skip


def _small_layer(x, w=((0.5, -1.0, 0.25), (1.5, 0.3, -0.7))):
    """tanh(W x + b) written out with Values: 3 inputs, 2 outputs."""
    return [(sum((wi * xi for wi, xi in zip(row, x)), start=Value(0.1))).tanh() for row in w]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@given(x=st.lists(coords, min_size=3, max_size=3))
def test_jacobian_of_a_small_layer_matches_torch(torch, mode, x) -> None:
    w = torch.tensor([[0.5, -1.0, 0.25], [1.5, 0.3, -0.7]])
    ref = torch.autograd.functional.jacobian(lambda v: torch.tanh(w @ v + 0.1), torch.tensor(x))
    ours_ = jacobian(_small_layer, mode=mode)(x)
    assert len(ours_) == 2 and all(len(row) == 3 for row in ours_)
    assert flat(ours_) == pytest.approx(ref.flatten().tolist(), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", FUNCTIONS)
@given(x=coords, y=coords)
def test_hessian_matches_torch(torch, name, x, y) -> None:
    ref = torch.autograd.functional.hessian(lambda p: theirs(name, torch)(p[0], p[1]),
                                            torch.tensor([x, y]))  # fmt: skip
    ours_ = hessian(ours(name), (0, 1))(x, y)
    assert flat(ours_) == pytest.approx(ref.flatten().tolist(), rel=1e-9, abs=1e-9)
    assert hessian(lambda p: ours(name)(p[0], p[1]))([x, y]) == ours_  # a list argument


def test_vjp_fn_takes_the_cotangents_in_the_outputs_structure_or_one_by_one() -> None:
    value, vjp_fn = vjp(lambda x, y: [x * y, x + y, y], 2.0, 3.0)
    assert value == [6.0, 5.0, 3.0]
    assert vjp_fn([1.0, 10.0, 100.0]) == vjp_fn(1.0, 10.0, 100.0) == (3.0 + 10.0, 2.0 + 110.0)
    assert vjp_fn((0.0, 1.0, 0.0)) == (1.0, 1.0)  # a tuple is a structure too
    _, one_output = vjp(lambda x: x * x, 3.0)
    assert one_output(1.0) == (6.0,)
    _, listed = vjp(lambda x: [x * x], 3.0)  # a list of one output takes either form
    assert listed([2.0]) == listed(2.0) == (12.0,)


def test_hessian_of_a_function_using_values_of_its_own_gives_floats() -> None:
    w = Value(3.0)  # a parameter the function closes over, as a model's weight
    h = hessian(lambda x: w * x * x + (w * x).sin())(0.5)
    assert type(h[0][0]) is float and h == [[6.0 - 9.0 * math.sin(1.5)]]
    rows = hessian(lambda v: w * v[0] * v[1] * v[1], 0)([1.0, 2.0])
    assert all(type(d) is float for row in rows for d in row)
    assert rows == [[0.0, 12.0], [12.0, 6.0]]
    value, tangent = jvp(grad(lambda x: w * x * x), (2.0,), (1.0,))  # a Hessian-vector product
    assert (type(value), type(tangent)) == (float, float) and (value, tangent) == (12.0, 6.0)
    assert w.grad == 0.0  # and no gradient was left on the parameter


def test_a_dual_number_refuses_to_be_pickled() -> None:
    escaped = []
    jvp(lambda x: escaped.append(x * x) or x, (3.0,), (1.0,))  # a Dual escapes the jvp
    (dual,) = escaped
    assert isinstance(dual, Dual) and dual.tangent == 6.0
    message = "a dual number of forward mode cannot be pickled .* pickle its .primal"
    with pytest.raises(TypeError, match=message):
        pickle.dumps(dual)
    with pytest.raises(TypeError, match=message):
        copy.deepcopy(dual)
    assert pickle.loads(pickle.dumps(Value(2.0))).data == 2.0  # a Value still pickles


def test_jacobian_argnums_picks_the_columns() -> None:
    f = lambda x, y, z: [x * y * z]  # noqa: E731
    assert jacobian(f, 1)(2.0, 3.0, 5.0) == [[10.0]]
    assert jacobian(f, (2, 0), mode="forward")(2.0, 3.0, 5.0) == [[6.0, 15.0]]
    assert jacobian(f, -1)(2.0, 3.0, 5.0) == [[6.0]]


@given(x=positive, y=positive)
def test_hessian_drives_newtons_method_in_two_variables(x, y) -> None:
    # f = (x - 1)^2 + (y + 2)^2 + x y is a quadratic: one Newton step lands on its minimum
    f = lambda a, b: (a - 1) ** 2 + (b + 2) ** 2 + a * b  # noqa: E731
    (g1, g2), ((h11, h12), (h21, h22)) = grad(f, (0, 1))(x, y), hessian(f, (0, 1))(x, y)
    det = h11 * h22 - h12 * h21
    g1, g2 = number(g1), number(g2)
    step_x = (h22 * g1 - h12 * g2) / det
    step_y = (h11 * g2 - h21 * g1) / det
    assert (x - step_x, y - step_y) == pytest.approx((8 / 3, -10 / 3), rel=1e-12)


# ------------------------------------------------------------------ operations of your own


def _softplus_forward(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


softplus = Op("softplus", _softplus_forward, lambda x, out: (1.0 - math.e**-out,))


@given(x=coords)
def test_an_op_of_your_own_matches_torch_in_every_mode(torch, x) -> None:
    t = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.softplus(t * 2.0) * t
    (d1,) = torch.autograd.grad(ref, t, create_graph=True)
    (d2,) = torch.autograd.grad(d1, t)
    v = Value(x)
    out = softplus(v * 2.0) * v
    out.backward()
    assert out.data == pytest.approx(ref.item(), rel=1e-12)
    assert v.grad == pytest.approx(d1.item(), rel=1e-9, abs=1e-12)
    f = lambda u: softplus(u * 2.0) * u  # noqa: E731
    assert jvp(f, (x,), (1.0,))[1] == pytest.approx(d1.item(), rel=1e-9, abs=1e-12)
    assert number(grad(grad(f))(x)) == pytest.approx(d2.item(), rel=1e-9, abs=1e-12)
    assert flat(hessian(f)(x)) == pytest.approx([d2.item()], rel=1e-9, abs=1e-12)
    assert gradcheck(f, x, order=2)


def test_an_op_of_your_own_takes_plain_numbers_and_is_drawn_by_name() -> None:
    y = softplus(0.0)
    assert isinstance(y, Value) and y.parents == () and y.data == pytest.approx(math.log(2))
    node = softplus(Value(1.0, "x"))
    assert node.op == "softplus" and node.operation is softplus
    assert "softplus" in viz.to_svg(node)
    with no_grad():
        assert softplus(Value(1.0)).parents == ()


def test_an_op_with_a_number_operand_keeps_it_as_a_constant() -> None:
    scaled = Op("scaled", lambda x, c: c * x, lambda x, c, out: (c, x))
    x = Value(3.0)
    y = scaled(x, 2.0)
    assert y.constants == (2.0,) and y.parents == (x,)
    y.backward()
    assert x.grad == 2.0
    z = scaled(2.0, x)  # a number before a Value becomes a leaf
    assert [p.data for p in z.parents] == [2.0, 3.0] and z.data == 6.0
    assert jvp(lambda t: scaled(t, 5.0), (1.0,), (1.0,)) == (5.0, 5.0)


def test_a_wrong_derivative_of_your_own_is_caught_by_gradcheck() -> None:
    wrong = Op("softplus", _softplus_forward, lambda x, out: (out,))  # should be sigmoid(x)
    with pytest.raises(GradcheckError, match="mismatch") as failure:
        gradcheck(lambda u: wrong(u), 0.5)
    assert "reverse" in str(failure.value) and "forward" in str(failure.value)


@pytest.mark.parametrize(
    ("derivative", "error", "message"),
    [
        (lambda x, out: (1.0, 2.0), ValueError, "'bad': derivative returned 2 local derivatives"),
        (lambda x, out: (), ValueError, "'bad': derivative returned 0 local derivatives"),
        (lambda x, out: 1.0, TypeError, "'bad': derivative must return a tuple"),
        (lambda x, out: ("1",), TypeError, "'bad': a local derivative must be a number"),
        (lambda x, out: (None,), TypeError, "got NoneType"),
    ],
)
def test_a_broken_derivative_rule_is_a_clear_error_naming_the_op(derivative, error, message):
    bad = Op("bad", math.sin, derivative)
    for call in (lambda: bad(Value(1.0)), lambda: bad(1.0), lambda: jvp(bad, (1.0,), (1.0,))):
        with pytest.raises(error, match=message):
            call()


def test_an_op_is_checked_when_made_and_when_called() -> None:
    with pytest.raises(TypeError, match="Op 'f': derivative must be a function"):
        Op("f", math.sin, 3)
    with pytest.raises(TypeError, match="name must be a non-empty str"):
        Op("", math.sin, lambda x, out: (1.0,))
    with pytest.raises(TypeError, match="Op 'softplus': operands must be numbers or Values"):
        softplus("1")
    with pytest.raises(TypeError, match="forward must return a number"):
        Op("f", lambda x: "x", lambda x, out: (1.0,))(Value(1.0))
    with pytest.raises(ValueError, match="'softplus': the plain-number operand inf"):
        Op("softplus", lambda x, c: x, lambda x, c, out: (1.0,))(Value(1.0), math.inf)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: jvp(3, (1.0,), (1.0,)), TypeError, "jvp: f must be a function, got int"),
        (lambda: jvp(Value.exp, (1.0, 2.0), (1.0,)), ValueError,
         "jvp: 1 tangents for 2 primals"),
        (lambda: jvp(Value.exp, 1.0, (1.0,)), TypeError, "jvp: primals must be a tuple or list"),
        (lambda: jvp(Value.exp, ("a",), (1.0,)), TypeError, r"jvp: primals\[0\] must be a number"),
        (lambda: jvp(Value.exp, (1.0,), (None,)), TypeError, r"tangents\[0\] must be a number"),
        (lambda: jvp(lambda x: "2", (1.0,), (1.0,)), TypeError,
         "jvp: f must return a Value or a non-empty list of Values, got str"),
        (lambda: jvp(lambda x: [], (1.0,), (1.0,)), TypeError, "got list"),
        (lambda: jvp(lambda x: [x, "a"], (1.0,), (1.0,)), TypeError, "output 1 must be a Value"),
        (lambda: vjp(Value.exp), ValueError, "vjp: give at least one primal"),
        (lambda: vjp(lambda x: None, 1.0), TypeError, "vjp: f must return a Value"),
        (lambda: vjp(Value.exp, 1.0)[1](1.0, 2.0), ValueError, "2 cotangents for 1 output"),
        (lambda: vjp(lambda x: [x, x], 1.0)[1]([1.0]), ValueError,
         re.escape("1 cotangents for 2 output(s); give one per output, in the output's "
                   "structure or as separate arguments: vjp_fn([c0, c1]) or vjp_fn(c0, c1)")),
        (lambda: vjp(lambda x: [x, x], 1.0)[1](1.0, 2.0, 3.0), ValueError,
         re.escape("vjp_fn([c0, c1]) or vjp_fn(c0, c1)")),
        (lambda: jacobian(Value.exp, mode="sideways"), ValueError, "mode must be 'reverse' or"),
        (lambda: jacobian(Value.exp, 1.5)(1.0), TypeError, "argnums must be an int"),
        (lambda: jacobian(Value.exp, 3)(1.0), ValueError, "argnums 3 is out of range"),
        (lambda: jacobian(Value.exp)("x"), TypeError, "jacobian: argument 0 must be a number"),
        (lambda: hessian(lambda x: [x, x])(1.0), TypeError, "f must return a single Value"),
        (lambda: gradcheck(Value.exp, 1.0, order=3), ValueError, "order must be 1 or 2"),
        (lambda: Dual(1.0, 1.0), TypeError, "made by jvp"),
    ],
)  # fmt: skip
def test_bad_input_is_named(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_an_op_of_your_own_is_traced_and_compiled_like_a_built_in_one() -> None:
    f = lambda a, b: softplus(a * b) * b  # noqa: E731
    x, y = Value(0.3), Value(-1.2)
    out = f(x, y)
    out.backward()
    assert compile(f)(0.3, -1.2) == (out.data, (x.grad, y.grad))  # bit-identical
    assert "softplus" in str(trace(f, 0.3, -1.2))
