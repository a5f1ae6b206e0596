"""Function transforms differentiate their arguments, never the objects passed as them.

``grad(lambda y: x * y)(x)`` asks for d/dy of ``x * y`` with ``x`` held fixed: the answer
is ``x``. Were the argument the very object ``x`` closed over, the transform would
differentiate ``x * x`` instead and return ``2x`` (perturbation confusion). Every check
here passes an argument that aliases a closed-over Value, or nests transforms so that
an inner argument is an outer one, and compares grad, value_and_grad, jacobian (both
modes), hessian, jvp, vjp and their mixes with ``torch.func`` in float64, which treats
each argument as a fresh input.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value, grad, gradcheck, hessian, jacobian, jvp, value_and_grad, vjp

points = st.floats(-1.5, 1.5, allow_nan=False)
modes = pytest.mark.parametrize("mode", ["reverse", "forward"])


# Each function of (c, y) twice: on our Values and on torch tensors (given their sin, exp).
# ``c`` is the closed-over Value, ``y`` the argument; every function uses both, so
# confusing the two changes the answer.
def _product(c, y, sin, exp):
    return c * y * y + c * c * y


def _smooth(c, y, sin, exp):
    return sin(c * y) + exp(y - c) * c


def _ratio(c, y, sin, exp):
    return (c * y + 2.5) / (1.0 + y * y) + (c - y).tanh() * y


FUNCTIONS = {"product": _product, "sin, exp": _smooth, "ratio, tanh": _ratio}
functions = pytest.mark.parametrize("name", FUNCTIONS)


def ours(name):
    return lambda c, y: FUNCTIONS[name](c, y, Value.sin, Value.exp)


def theirs(name, torch):
    return lambda c, y: FUNCTIONS[name](c, y, torch.sin, torch.exp)


def number(x: float | Value) -> float:
    return x.item() if isinstance(x, Value) else x


def close(ours_: list[float | Value], reference) -> None:
    """Our numbers against torch's (a tensor, or a list of 0-d tensors), to float64 rounding."""
    expected = [
        float(t) for t in (reference.flatten() if hasattr(reference, "flatten") else reference)
    ]
    assert [number(g) for g in ours_] == pytest.approx(expected, rel=1e-9, abs=1e-12)


# ------------------------------------------------------------------ the examples, exactly


def test_grad_of_a_closure_called_with_the_closed_over_value() -> None:
    x = Value(3.0)
    assert grad(lambda y: x + y)(x).data == 1.0  # JAX and torch.func give 1, not 2
    assert grad(lambda y: x * y)(x).data == 3.0  # d/dy (x y) = x, not 2x
    value, slope = value_and_grad(lambda y: x * y)(x)
    assert (value.data, slope.data) == (9.0, 3.0)
    assert jvp(lambda y: x + y, (x,), (1.0,))[1] == 1.0  # forward mode already agreed


@modes
def test_jacobian_of_a_closure_called_with_the_closed_over_value(mode) -> None:
    x = Value(3.0)
    ((slope,),) = jacobian(lambda y: x * y, mode=mode)(x)
    assert slope.data == 3.0  # the same in both modes
    rows = jacobian(lambda v: [x * v[0] * v[1], v[0] + x], mode=mode)([x, x])
    assert [[number(g) for g in row] for row in rows] == [[9.0, 9.0], [1.0, 0.0]]


def test_vjp_and_hessian_of_a_closure_called_with_the_closed_over_value() -> None:
    x = Value(3.0)
    _, vjp_fn = vjp(lambda y: x * y, x)
    assert vjp_fn(1.0)[0].data == 3.0
    assert number(hessian(lambda y: x * x * y * y)(x)[0][0]) == 18.0  # 2 x^2
    assert number(hessian(lambda y: x * y * y)(3.0)[0][0]) == 6.0  # 2x


def test_the_mixed_partial_of_nested_grads() -> None:
    f = lambda a, b: a * a * b  # noqa: E731
    # d/dx [d/dy f(x, y)] at y = x: the inner grad gives x^2 (y is its own input), so 2x
    assert grad(lambda x: grad(lambda y: f(x, y))(x))(2.0) == 4.0
    # d/dy f(y, x) = 2 y x; at y = x (the inner input depends on the outer one) 2 x^2, so 4x
    assert grad(lambda x: grad(lambda y: f(y, x))(x))(2.0) == 8.0
    x = Value(2.0)
    assert grad(lambda u: grad(lambda y: f(u, y))(u))(x).data == 4.0


def test_the_result_stays_connected_to_the_value_passed() -> None:
    """The fresh input depends on the Value passed, so an outer pass reaches it."""
    x = Value(3.0)
    slope = grad(lambda y: y * y * x)(x)  # 2 y x with y := x, as a graph of x
    assert slope.data == 18.0
    slope.backward()
    assert x.grad == 12.0  # d/dx (2 x x) = 4x
    assert gradcheck(lambda c: grad(lambda y: y * y * c)(c), 0.7)


def test_gradcheck_differentiates_its_arguments() -> None:
    x = Value(0.5)
    assert gradcheck(lambda y: (x * y).sin() + y * y * x, x, order=2)


# ------------------------------------------------------------------ against torch.func


@functions
@given(p=points)
def test_grad_and_value_and_grad_match_torch_func(torch, name, p) -> None:
    x, t = Value(p), torch.tensor(p)
    reference = torch.func.grad(lambda y: theirs(name, torch)(t, y))(t)
    close([grad(lambda y: ours(name)(x, y))(x)], [reference])
    value, slope = value_and_grad(lambda y: ours(name)(y, x) * ours(name)(x, y))(x)
    ref_slope, ref_value = torch.func.grad_and_value(
        lambda y: theirs(name, torch)(y, t) * theirs(name, torch)(t, y)
    )(t)
    close([value, slope], [ref_value, ref_slope])


@functions
@modes
@given(p=points, q=points)
def test_jacobian_matches_torch_func(torch, name, mode, p, q) -> None:
    x, t = Value(p), torch.tensor(p)
    f = ours(name)

    def g(v, y):
        return [f(x, v[0]) * y, f(v[1], x) + v[0] * x]

    def h(v, y):
        return torch.stack(
            [theirs(name, torch)(t, v[0]) * y, theirs(name, torch)(v[1], t) + v[0] * t]
        )

    rows = jacobian(g, (0, 1), mode=mode)([x, Value(q)], x)
    ref_v, ref_y = torch.func.jacrev(h, (0, 1))(torch.stack([t, torch.tensor(q)]), t)
    close([d for row in rows for d in row], torch.cat([ref_v, ref_y.unsqueeze(1)], dim=1))


@functions
@given(p=points, q=points)
def test_hessian_matches_torch_func(torch, name, p, q) -> None:
    x, t = Value(p), torch.tensor(p)
    ours_ = hessian(lambda v: ours(name)(x, v[0]) * ours(name)(v[1], x), 0)([x, Value(q)])
    reference = torch.func.hessian(
        lambda v: theirs(name, torch)(t, v[0]) * theirs(name, torch)(v[1], t)
    )(torch.stack([t, torch.tensor(q)]))
    close([h for row in ours_ for h in row], reference)


@functions
@given(p=points)
def test_nested_mixes_match_torch_func(torch, name, p) -> None:
    f, g = ours(name), theirs(name, torch)
    t = torch.tensor(p)
    tf = torch.func

    def inner(u):  # d/dy f(u, y) at y = u: y is the inner grad's own input
        return grad(lambda y: f(u, y))(u)

    reference = tf.grad(lambda u: tf.grad(lambda y: g(u, y))(u))(t)
    close([grad(inner)(p)], [reference])
    close([grad(inner)(Value(p))], [reference])
    close([jacobian(inner, mode="forward")(p)[0][0]], [reference])  # forward over reverse
    close([jvp(inner, (p,), (1.0,))[1]], [reference])
    close([hessian(lambda u: grad(lambda y: f(u, y) * y)(u))(p)[0][0]],
          [tf.hessian(lambda u: tf.grad(lambda y: g(u, y) * y)(u))(t)])  # fmt: skip
    # the inner transform reverse mode, the outer one forward mode, and the other way
    x = Value(p)
    reverse_in_forward = jvp(lambda u: jacobian(lambda y: f(x, y) * u)(u)[0][0], (x,), (1.0,))
    reference = tf.jvp(lambda u: tf.grad(lambda y: g(t, y) * u)(u), (t,), (torch.tensor(1.0),))
    close(list(reverse_in_forward), list(reference))
    forward_in_reverse = grad(lambda u: jacobian(lambda y: f(u, y) * x, mode="forward")(u)[0][0])
    reference = tf.grad(lambda u: tf.jacfwd(lambda y: g(u, y) * t)(u))(t)
    close([forward_in_reverse(x)], [reference])


@functions
@given(p=points, q=points)
def test_a_transform_at_plain_numbers_inside_a_reverse_one_matches_torch_func(torch, name, p, q):
    """Inner arguments are plain numbers, but the inner function uses the outer input, so
    the inner answer must stay a graph for the outer transform (it was a float, slope 0)."""
    f, g = ours(name), theirs(name, torch)
    t, s = torch.tensor(p), torch.tensor(q)
    tf, one = torch.func, torch.tensor(1.0)
    d_dy = tf.grad(lambda u: tf.jvp(lambda y: g(u, y), (s,), (one,))[1])(t)  # d/du d/dy f(u, q)
    close([grad(lambda u: jvp(lambda y: f(u, y), (q,), (1.0,))[1])(p)], [d_dy])
    close([grad(lambda u: jacobian(lambda y: f(u, y))(q)[0][0])(p)], [d_dy])
    close([grad(lambda u: jacobian(lambda y: f(u, y), mode="forward")(q)[0][0])(p)], [d_dy])
    close([grad(lambda u: vjp(lambda y: f(u, y), q)[1](1.0)[0])(p)], [d_dy])
    close([jacobian(lambda u: jvp(lambda y: f(u, y), (q,), (1.0,))[1])(p)[0][0]], [d_dy])
    close([vjp(lambda u: grad(lambda y: f(u, y))(q), p)[1](1.0)[0]], [d_dy])
    reference = tf.grad(lambda u: tf.hessian(lambda y: g(u, y))(s))(t)
    close([grad(lambda u: hessian(lambda y: f(u, y))(q)[0][0])(p)], [reference])


@functions
@given(p=points, a=points, b=points)
def test_vjp_matches_torch_func(torch, name, p, a, b) -> None:
    x, t = Value(p), torch.tensor(p)
    f, g = ours(name), theirs(name, torch)
    value, vjp_fn = vjp(lambda y: [f(x, y), f(y, x) * y], x)
    ref_value, ref_fn = torch.func.vjp(lambda y: torch.stack([g(t, y), g(y, t) * y]), t)
    close(value, ref_value)
    close(vjp_fn([a, b]), ref_fn(torch.tensor([a, b])))


def test_a_fresh_input_costs_one_node_per_value_argument() -> None:
    """Plain numbers already become fresh leaves; a Value gets one node of op "input"."""
    x = Value(2.0)
    seen = []
    grad(lambda y: seen.append(y) or y * x)(x)
    (y,) = seen
    assert y is not x and y.op == "input" and y.parents == (x,) and y.data == x.data
    grad(lambda y: seen.append(y) or y * x)(2.0)
    assert not seen[1].parents  # a plain number: a new leaf, no extra node
    grad(lambda y: seen.append(y) or y)(Value(-0.0))
    assert math.copysign(1.0, seen[2].data) == -1.0  # the input holds the number bit for bit
