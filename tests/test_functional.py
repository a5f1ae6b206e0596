"""grad, value_and_grad (nested: higher derivatives) and gradcheck."""

from __future__ import annotations

import math
import re
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import (
    GradcheckError,
    Value,
    grad,
    gradcheck,
    gradients,
    no_grad,
    value_and_grad,
)
from tinygrad_edu.gradient_check import numerical_gradient

xs = st.floats(-2.0, 2.0, allow_nan=False)


def test_grad_of_numbers_is_a_float_and_of_values_a_value() -> None:
    f = lambda x: x**3 - 2 * x  # noqa: E731
    df = grad(f)
    assert type(df(2.0)) is float and df(2.0) == 10.0  # 3x^2 - 2
    assert type(df(1)) is float and df(1) == 1.0
    slope = df(Value(2.0))
    assert isinstance(slope, Value) and slope.data == 10.0
    value, slope = value_and_grad(f)(2.0)
    assert (type(value), type(slope)) == (float, float) and (value, slope) == (4.0, 10.0)


def test_every_plain_number_argument_reaches_f_as_a_value() -> None:
    f = lambda x, y: x * y + y.sin()  # noqa: E731
    assert grad(f)(1, 2) == 2.0  # d/dx = y
    assert grad(f, 1)(1, 2) == 1.0 + math.cos(2.0)  # d/dy = x + cos y
    assert grad(f, (0, 1))(1, 2) == (2.0, 1.0 + math.cos(2.0))
    # other arguments pass as they are
    assert grad(lambda x, scale, flag: x * scale[0] if flag else x)(3.0, [5.0], True) == 5.0


def test_an_infinite_slope_comes_back_as_inf() -> None:
    assert grad(lambda x: x.sqrt())(0.0) == math.inf  # 1 / (2 sqrt(x)) at 0
    x = Value(0.0)
    x.sqrt().backward()
    assert x.grad == math.inf  # the same as backward()
    value, slope = value_and_grad(lambda x: 3 * x.sqrt())(0.0)
    assert (value, slope) == (0.0, math.inf)
    # as a Value it cannot be held, let alone differentiated again: a clear error
    with pytest.raises(ValueError, match="derivative is inf here"):
        grad(grad(lambda x: x.sqrt()))(0.0)


def test_grad_nesting_is_counted_per_thread() -> None:
    """A grad running in another thread is not an outer grad of ours."""
    inside, release = threading.Event(), threading.Event()

    def slow(x: Value) -> Value:
        inside.set()
        release.wait(timeout=60)
        return x * x

    worker = threading.Thread(target=grad(slow), args=(1.0,))
    worker.start()
    try:
        assert inside.wait(timeout=60)
        slope = grad(lambda x: x**3)(2.0)  # while the other thread is inside grad
    finally:
        release.set()
        worker.join()
    assert type(slope) is float and slope == 12.0


def test_grad_does_not_touch_grad_attributes() -> None:
    x = Value(1.5)
    grad(lambda v: v * v)(x)
    assert x.grad == 0.0


# (function, first, second and third derivatives), each checked at Hypothesis points
FUNCTIONS = [
    ("x^4", lambda x: x**4, lambda x: 4 * x**3, lambda x: 12 * x**2, lambda x: 24 * x),
    ("sin", Value.sin, math.cos, lambda x: -math.sin(x), lambda x: -math.cos(x)),
    ("exp(2x)", lambda x: (2 * x).exp(), lambda x: 2 * math.exp(2 * x),
     lambda x: 4 * math.exp(2 * x), lambda x: 8 * math.exp(2 * x)),
    ("tanh", Value.tanh, lambda x: 1 - math.tanh(x) ** 2,
     lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2),
     lambda x: (6 * math.tanh(x) ** 2 - 2) * (1 - math.tanh(x) ** 2)),
    ("x sin x", lambda x: x * x.sin(), lambda x: math.sin(x) + x * math.cos(x),
     lambda x: 2 * math.cos(x) - x * math.sin(x), lambda x: -3 * math.sin(x) - x * math.cos(x)),
    ("1/(1+x^2)", lambda x: 1 / (1 + x * x), lambda x: -2 * x / (1 + x * x) ** 2,
     lambda x: (6 * x * x - 2) / (1 + x * x) ** 3,
     lambda x: 24 * x * (1 - x * x) / (1 + x * x) ** 4),
    ("sigmoid", Value.sigmoid, lambda x: s(x) * (1 - s(x)),
     lambda x: s(x) * (1 - s(x)) * (1 - 2 * s(x)),
     lambda x: s(x) * (1 - s(x)) * (1 - 6 * s(x) + 6 * s(x) ** 2)),
]  # fmt: skip


def s(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize(("name", "f", "d1", "d2", "d3"), FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
@given(x=xs)
def test_nested_grad_gives_higher_derivatives(name, f, d1, d2, d3, x: float) -> None:
    assert grad(f)(x) == pytest.approx(d1(x), rel=1e-10, abs=1e-12)
    assert grad(grad(f))(x) == pytest.approx(d2(x), rel=1e-9, abs=1e-12)
    assert grad(grad(grad(f)))(x) == pytest.approx(d3(x), rel=1e-8, abs=1e-11)


@given(x=st.floats(0.5, 2.0), y=st.floats(0.5, 2.0))
def test_power_with_value_exponent_second_derivatives(x: float, y: float) -> None:
    f = lambda a, b: a**b  # noqa: E731
    d_xy = x ** (y - 1) * (1 + y * math.log(x))  # d/dx d/dy x^y
    assert grad(lambda a, b: grad(f, 1)(a, b))(x, y) == pytest.approx(d_xy, rel=1e-10)
    assert grad(grad(f, 1), 1)(x, y) == pytest.approx(x**y * math.log(x) ** 2, rel=1e-10)


@given(x=xs, y=xs)
def test_mixed_partials_agree(x: float, y: float) -> None:
    g = lambda a, b: a * a * b + (a * b).sin()  # noqa: E731
    d_xy = grad(lambda a, b: grad(g, 1)(a, b), 0)(x, y)  # d/dx (d g / dy)
    d_yx = grad(lambda a, b: grad(g, 0)(a, b), 1)(x, y)  # d/dy (d g / dx)
    analytic = 2 * x + math.cos(x * y) - x * y * math.sin(x * y)
    assert d_xy == pytest.approx(analytic, rel=1e-10, abs=1e-12)
    assert d_yx == pytest.approx(analytic, rel=1e-10, abs=1e-12)


def test_second_derivatives_match_pytorch(torch) -> None:
    for x in (-1.3, 0.2, 0.9):
        ours = grad(grad(lambda v: (v * v).tanh() * v.exp()))(x)
        t = torch.tensor(x, requires_grad=True)
        (d1,) = torch.autograd.grad(torch.tanh(t * t) * torch.exp(t), t, create_graph=True)
        (d2,) = torch.autograd.grad(d1, t)
        assert ours == pytest.approx(d2.item(), rel=1e-12)


def test_argnums_tuple_and_value_and_grad() -> None:
    f = lambda x, y, z: x * y + z**2  # noqa: E731
    value, (dx, dz) = value_and_grad(f, argnums=(0, 2))(2.0, 3.0, 4.0)
    assert (value, dx, dz) == (22.0, 3.0, 8.0)
    assert grad(f, argnums=1)(2.0, 3.0, 4.0) == 2.0
    assert grad(f, argnums=-1)(2.0, 3.0, 4.0) == 8.0
    assert grad(f, argnums=[1])(2.0, 3.0, 4.0) == (2.0,)  # a list is a tuple: a tuple back


def test_grad_of_a_constant_function_is_zero() -> None:
    assert grad(lambda x: 3.0)(1.0) == 0.0
    assert grad(lambda x, y: y * 2, 0)(1.0, 2.0) == 0.0


@pytest.mark.parametrize("argnums", ["0", 1.0, True, False, (0, True), (0, 1.0), (), None])
def test_grad_refuses_argnums_that_are_not_ints(argnums) -> None:
    message = f"grad: argnums must be an int or a non-empty tuple of ints, got {argnums!r}"
    with pytest.raises(TypeError, match=re.escape(message)):
        grad(lambda x, y: x * y, argnums=argnums)


def test_grad_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="out of range"):
        grad(lambda x: x, argnums=3)(1.0)
    with pytest.raises(TypeError, match="grad: argument 0 must be a number, a Value or a list of"):
        grad(lambda x: x)("1.0")
    with pytest.raises(
        TypeError, match="argument 1 must be a number, a Value or a list of them, got bool"
    ):
        grad(lambda x, y: x * y, 1)(1.0, True)
    with pytest.raises(TypeError, match=re.escape("grad: argument 0[1] must be a number, a Value")):
        grad(lambda v: v[0])([1.0, "2"])
    with pytest.raises(TypeError, match="grad: has_aux must be True or False, got 1"):
        grad(lambda x: x, has_aux=1)
    with pytest.raises(
        TypeError, match=re.escape("with has_aux=True, f must return a pair (value, aux)")
    ):
        grad(lambda x: x, has_aux=True)(1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: grad(3), "grad: f must be a function, got int"),
        (lambda: value_and_grad("x * x"), "grad: f must be a function, got str"),
        (lambda: grad(lambda x: "x")(1.0), "grad: f must return a Value, got str"),
        (lambda: grad(lambda x: [x])(1.0), "grad: f must return a Value, got list"),
        (lambda: grad(lambda x: True)(1.0), "grad: f must return a Value, got bool"),
    ],
)
def test_grad_names_a_bad_function_or_result(call, message) -> None:
    with pytest.raises(TypeError, match=message):
        call()


def test_gradients_without_create_graph_are_floats() -> None:
    x, y = Value(2.0), Value(5.0)
    out = x * x
    assert gradients(out, [x, y]) == [4.0, 0.0]


# ------------------------------------------------------------------ gradcheck


@given(x=st.floats(0.1, 3.0), y=st.floats(-2.0, 2.0))
def test_gradcheck_passes_for_correct_gradients(x: float, y: float) -> None:
    assert gradcheck(lambda a, b: (a * b).tanh() + a.log() * b.sigmoid(), x, y) is True


def test_gradcheck_reports_a_wrong_gradient_as_a_table() -> None:
    def broken(a: Value, b: Value) -> Value:
        return Value(a.data * 3.0) + a * b  # the first term hides a dependence on a

    with pytest.raises(GradcheckError) as failure:
        gradcheck(broken, 1.0, 2.0)
    message = str(failure.value)
    assert isinstance(failure.value, AssertionError)
    assert "analytic" in message and "numeric" in message and "difference" in message
    lines = message.splitlines()
    assert "mismatch" in lines[2] and "mismatch" not in lines[3]  # input 0 wrong, input 1 right
    assert "2" in lines[2] and "5" in lines[2]  # analytic 2 (= b) vs numeric 5 (= 3 + b)


def test_numerical_gradient_is_a_central_difference() -> None:
    (slope,) = numerical_gradient(lambda v: v**3, 2.0, eps=1e-4)
    assert slope == pytest.approx(12.0 + 1e-8, rel=1e-9)  # central error is eps^2 * f'''/6


def test_gradcheck_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda: Value(1.0))
    with pytest.raises(TypeError, match="str"):
        gradcheck(lambda x: x, "1")
    with pytest.raises(TypeError, match="must return a Value"):
        gradcheck(lambda x: 1.0, 1.0)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: gradcheck(3, 1.0), TypeError, "gradcheck: f must be a function, got int"),
        (lambda: gradcheck(abs, 1.0, eps=0.0), ValueError, "gradcheck: eps must be > 0"),
        (lambda: gradcheck(abs, 1.0, eps="a"), TypeError, "eps must be a real number, got str"),
        (lambda: gradcheck(abs, 1.0, atol=-1.0), ValueError, "gradcheck: atol must be >= 0"),
        (lambda: gradcheck(abs, 1.0, rtol=math.nan), ValueError, "rtol must be finite"),
        (lambda: numerical_gradient(None, 1.0), TypeError, "f must be a function, got NoneType"),
        (lambda: numerical_gradient(abs, 1.0, eps=-1e-6), ValueError, "eps must be > 0"),
    ],
)
def test_gradcheck_names_a_bad_function_or_tolerance(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_grad_works_inside_no_grad() -> None:
    with no_grad():
        slope = grad(lambda x: x**3)(2.0)
    assert slope == 12.0
    (numeric,) = numerical_gradient(grad(lambda x: x**3), 2.0)  # evaluates inside no_grad
    assert numeric == pytest.approx(12.0, rel=1e-6)


def test_grad_of_values_stays_connected_to_them() -> None:
    x = Value(2.0)
    slope = grad(lambda v: v**3)(x)  # 3x^2, as a graph of x
    slope.backward()
    assert x.grad == 12.0  # d(3x^2)/dx = 6x
    assert gradcheck(grad(lambda v: v.sin() * v), 0.7)
    with pytest.raises(GradcheckError):
        gradcheck(lambda v: grad(lambda u: u**3)(v) * v.data, 2.0)  # v.data cuts the graph


# ------------------------------------------------------------------ vectors and aux, as in JAX


def test_a_list_argument_is_a_vector_whose_gradient_is_a_list() -> None:
    f = lambda v, c: v[0] * v[1] * c + v[1].sin()  # noqa: E731
    slope = grad(f)([2.0, 0.5], 3.0)
    assert type(slope) is list and slope == [0.5 * 3.0, 2.0 * 3.0 + math.cos(0.5)]
    assert grad(f, (1, 0))((2.0, 0.5), 3.0) == (
        1.0,
        (1.5, 6.0 + math.cos(0.5)),
    )  # a tuple stays one
    value, slopes = value_and_grad(lambda v: v[0] * v[0] + v[1])([Value(3.0), 2.0])
    assert value.data == 11.0 and [s.data for s in slopes] == [6.0, 1.0]  # Values in: Values out
    assert grad(lambda v: sum(v, start=Value(0.0)))([]) == []  # no entries, no slopes
    # each entry is a fresh input, even when two entries are the same Value
    x = Value(2.0)
    assert [s.data for s in grad(lambda v: v[0] * v[1] * x)([x, x])] == [4.0, 4.0]


def test_has_aux_returns_the_aux_output_next_to_the_derivative() -> None:
    def loss(w):
        prediction = w * 3.0
        return (prediction - 1.0) ** 2, {"prediction": prediction, "misc": ["x", (prediction,)]}

    (value, aux), slope = value_and_grad(loss, has_aux=True)(0.5)
    assert (value, slope) == (0.25, 3.0)  # (3w - 1)^2 and 6 (3w - 1)
    assert aux == {"prediction": 1.5, "misc": ["x", (1.5,)]}  # plain numbers in: numbers out
    slope, aux = grad(loss, has_aux=True)(0.5)
    assert slope == 3.0 and aux["prediction"] == 1.5
    w = Value(0.5)
    slope, aux = grad(loss, has_aux=True)(w)
    assert isinstance(aux["prediction"], Value) and aux["prediction"].data == 1.5
    aux["prediction"].backward()  # aux stays connected to the Value passed
    assert w.grad == 3.0
    # nested: the outer grad differentiates through the inner aux
    assert grad(lambda u: grad(lambda y: (u * y, u * u), has_aux=True)(u)[1])(3.0) == 6.0


def test_keyword_arguments_reach_f_as_they_are_and_are_not_differentiated() -> None:
    def f(x, y, *, scale, shift=0.0):
        return scale * x * x * y + shift

    # d/dx = 2 scale x y, d/dy = scale x^2, whatever the keyword arguments
    assert grad(f)(3.0, 2.0, scale=10.0) == 2 * 10.0 * 3.0 * 2.0
    value, slopes = value_and_grad(f, (0, 1))(3.0, 2.0, scale=0.5, shift=1.0)
    assert value == 0.5 * 9.0 * 2.0 + 1.0 and slopes == (0.5 * 2 * 3.0 * 2.0, 0.5 * 9.0)
    assert grad(lambda x, *, n: (x**n, n), has_aux=True)(2.0, n=3) == (12.0, 3)
    seen = []
    model = object()  # any object: passed on as it is, no Value made of it
    grad(lambda x, *, m, k: seen.append((m, k)) or x)(1.0, m=model, k=2)
    assert seen == [(model, 2)] and type(seen[0][1]) is int
    with pytest.raises(TypeError, match="scale"):  # f's own error for a missing one
        grad(f)(3.0, 2.0)


# ------------------------------------------------------------------ operations of your own


def _cosine(x):
    """cos of a float, or of a Value: a rule that nested grad can differentiate again."""
    return x.cos() if isinstance(x, Value) else math.cos(x)


def test_a_custom_op_whose_rule_uses_math_names_the_op_under_nested_grad() -> None:
    from tinygrad_edu import Op

    floats_only = Op("my_sin", math.sin, lambda x, out: (math.cos(x),))
    assert grad(lambda x: floats_only(x))(0.3) == math.cos(0.3)  # first order: fine
    with pytest.raises(TypeError, match=r"'my_sin'.*x\.cos\(\) if isinstance") as caught:
        grad(grad(lambda x: floats_only(x)))(0.3)
    assert "second-order rule" in str(caught.value)
    # either fix gives the true second derivative, -sin(x)
    with_methods = Op("my_sin", math.sin, lambda x, out: (_cosine(x),))
    assert grad(grad(lambda x: with_methods(x)))(0.3) == pytest.approx(-math.sin(0.3), abs=1e-15)
    my_cos = Op("my_cos", math.cos, lambda x, out: (-math.sin(x),))  # first order only
    second_order = Op(
        "my_sin", math.sin, lambda x, out: (my_cos(x) if isinstance(x, Value) else math.cos(x),)
    )
    assert grad(grad(lambda x: second_order(x)))(0.3) == pytest.approx(-math.sin(0.3), abs=1e-15)
    with pytest.raises(TypeError, match="'my_cos'"):  # third order needs my_cos's rule on Values
        grad(grad(grad(lambda x: second_order(x))))(0.3)
