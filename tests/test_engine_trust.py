"""What a learner naturally writes either works or says why: conversions, comparisons,
assignments, pickling, threads and the numeric edges of the engine."""

from __future__ import annotations

import cmath
import copy
import math
import pickle
import sys
import threading
from fractions import Fraction

import numpy as np
import pytest

from tinygrad_edu import Op, Value, grad, gradients, jvp, no_grad, topological_order, trace, viz
from tinygrad_edu.engine import MUL, enable_grad, is_grad_enabled
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import SGD

# ------------------------------------------------------------------ leaving the graph


@pytest.mark.parametrize(
    "escape",
    [float, math.exp, math.sin, math.log, math.sqrt, math.isfinite, cmath.exp, np.exp, np.tanh],
    ids=lambda f: getattr(f, "__name__", str(f)),
)
def test_functions_that_would_drop_the_gradient_refuse_a_value(escape) -> None:
    with pytest.raises(TypeError, match=r"out of the graph.*v\.exp\(\).*v\.data / v\.item\(\)"):
        escape(Value(2.0))


def test_the_classic_mistake_now_fails_instead_of_giving_a_wrong_gradient() -> None:
    a = Value(2.0)
    with pytest.raises(TypeError):
        math.exp(a) * a  # the old result: a.grad == e**2 (7.39), the truth is 3 e**2 (22.17)
    y = a.exp() * a
    y.backward()
    assert a.grad == pytest.approx(3.0 * math.exp(2.0), rel=1e-15)


def test_item_gives_the_number() -> None:
    assert Value(2.5).item() == 2.5
    assert type(Value(3).item()) is float


def test_numpy_scalars_meet_values_through_our_own_operators() -> None:
    x = Value(3.0)
    y = np.float64(2.0) * x + np.float64(1.0)
    assert isinstance(y, Value) and y.data == 7.0
    y.backward()
    assert x.grad == 2.0
    assert np.float64(2.0) < x and not np.float64(4.0) <= x
    assert isinstance(np.float64(8.0) / x, Value) and isinstance(np.float64(2.0) ** x, Value)


# ------------------------------------------------------------------ assigning .data


@pytest.mark.parametrize(
    ("number", "error", "message"),
    [
        (float("nan"), ValueError, r"Value 'w': data is nan"),
        (math.inf, ValueError, r"Value 'w': data is inf"),
        ("hello", TypeError, r"Value 'w': data must be a real number .* got str 'hello'"),
        (True, TypeError, r"got bool True"),
        (None, TypeError, r"got NoneType"),
        (10**400, OverflowError, r"Value 'w': the number 1000.* is too large for a float64"),
    ],
)
def test_assigning_data_is_checked_and_keeps_the_old_number(number, error, message) -> None:
    w = Value(1.5, "w")
    with pytest.raises(error, match=message):
        w.data = number
    assert w.data == 1.5


def test_assigning_a_value_to_data_points_to_its_number() -> None:
    with pytest.raises(TypeError, match=r"use v\.data"):
        Value(1.0).data = Value(2.0)


def test_assigning_good_numbers_stores_floats() -> None:
    w = Value(0.0)
    for number, stored in [(3, 3.0), (np.float32(0.5), 0.5), (Fraction(1, 4), 0.25), (-2.0, -2.0)]:
        w.data = number
        assert type(w.data) is float and w.data == stored


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Value(10**400), r"Value: the number 1000.* too large"),
        (lambda: Value(2) * 10**400, r"'\*': the number 1000.* too large"),
        (lambda: Value(2) + Fraction(10**400, 3), r"'\+': the number Fraction.* too large"),
        (lambda: Value(True), r"got bool"),
    ],
)
def test_numbers_beyond_float64_and_bools_are_named(make, message) -> None:
    with pytest.raises((OverflowError, TypeError), match=message):
        make()


# ------------------------------------------------------------------ comparisons and formatting


def test_comparisons_compare_numbers_and_return_bools() -> None:
    a, b = Value(1.0), Value(2.0)
    assert (a < b, a <= b, a > b, a >= b) == (True, True, False, False)
    assert (a < 1.5, a > 0, a < 2, a <= 0.5) == (True, True, True, False)
    assert type(a < b) is bool


def test_max_and_sorted_return_the_values_themselves_and_gradients_flow() -> None:
    a, b, c = Value(1.0), Value(3.0), Value(2.0)
    assert sorted([a, b, c]) == [a, c, b]
    biggest = max(a, b)
    assert biggest is b
    (biggest * 2).backward()
    assert (a.grad, b.grad) == (0.0, 2.0)


def test_equality_and_hashing_stay_by_identity() -> None:
    a, b = Value(2.0), Value(2.0)
    assert a != b and a == a
    assert (Value(2.0) == 2.0) is False
    assert len({a: 1, b: 2}) == 2


def test_bool_and_format_use_the_number() -> None:
    assert bool(Value(0.5)) and not bool(Value(0.0))
    loss = Value(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{loss:>8.2e}" == "1.23e-01"
    assert f"{loss}" == str(loss) == "Value(data=0.123456, grad=0.0)"
    if loss < 0.5:
        pass
    with pytest.raises(TypeError, match="cannot compare a Value with str"):
        _ = loss < "a"


# ------------------------------------------------------------------ pickling


def test_a_model_and_its_optimizer_pickle_and_stay_connected() -> None:
    model = MLP(2, [4, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=0.1)
    model2, optimizer2 = pickle.loads(pickle.dumps((model, optimizer)))
    assert model2.state_dict() == model.state_dict()
    assert all(p is q for p, q in zip(model2.parameters(), optimizer2.params))
    x = [0.5, -1.0]
    (model2(x) * 1.0).backward()
    (model(x) * 1.0).backward()
    assert [p.grad for p in model2.parameters()] == [p.grad for p in model.parameters()]


def test_a_graph_pickles_with_its_ops_and_its_leaves() -> None:
    w, x = Value(-3.0, "w"), Value(2.0, "x")
    y = (w * x + 1.0).tanh()
    y.backward()
    w2, x2, y2 = pickle.loads(pickle.dumps([w, x, y]))
    assert y2.parents[0].parents[0].parents == (w2, x2)  # the same leaves, not copies
    assert y2.parents[0].parents[0].operation is MUL  # ops come back as the very same rows
    assert (y2.data, y2.op, y2.grad, w2.grad) == (y.data, "tanh", 1.0, w.grad)
    w2.grad = 0.0
    y2.backward()
    assert w2.grad == w.grad


@pytest.mark.slow
def test_a_deep_graph_pickles_and_deep_copies_without_recursion() -> None:
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y2 = pickle.loads(pickle.dumps(y))
    y3 = copy.deepcopy(y)
    for root in (y2, y3):
        root.backward()
        leaf = root.topological_order()[0]
        assert leaf.grad == 1.0 and leaf is not x


def test_a_plain_subclass_of_value_does_arithmetic_like_a_value() -> None:
    """Only a subclass with ``apply_op`` (a dual number) runs operations its own way."""

    class Named(Value):
        pass

    x = Named(2.0)
    y = (x * 3.0).exp() + x
    y.backward()
    assert y.data == math.exp(6.0) + 2.0
    assert x.grad == 3.0 * math.exp(6.0) + 1.0


# ------------------------------------------------------------------ grad mode per thread


def test_no_grad_in_one_thread_does_not_stop_another_from_recording() -> None:
    inside, recorded = threading.Event(), []

    def train() -> None:
        inside.wait()
        y = Value(2.0) * Value(3.0)
        recorded.append((is_grad_enabled(), len(y.parents)))

    worker = threading.Thread(target=train)
    worker.start()
    with no_grad():
        inside.set()
        worker.join()
        assert not is_grad_enabled()
    assert recorded == [(True, 2)]
    assert is_grad_enabled()


def test_overlapping_blocks_in_two_threads_leave_recording_on() -> None:
    first_in, second_out = threading.Event(), threading.Event()

    def late() -> None:
        with no_grad():
            first_in.wait()
        second_out.set()

    worker = threading.Thread(target=late)
    worker.start()
    with no_grad():
        first_in.set()
        second_out.wait()
    worker.join()
    assert is_grad_enabled()


def test_threads_walking_one_graph_at_once_each_get_the_whole_order() -> None:
    """A walk marks the nodes it visits; walks in two threads must not mix their marks."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        xs = [Value(0.1 * i) for i in range(30)]
        shared = xs[0]
        for x in xs[1:]:
            shared = (shared * x + x).tanh()
        roots = [shared * k + shared for k in (1.0, 2.0, 3.0, 4.0)]
        expected = [[id(v) for v in topological_order(r)] for r in roots]
        wrong = []

        def walk(k: int) -> None:
            for _ in range(200):
                if [id(v) for v in topological_order(roots[k])] != expected[k]:
                    wrong.append(k)

        threads = [threading.Thread(target=walk, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong


# ------------------------------------------------------------------ decorating generators


def test_no_grad_on_a_generator_applies_inside_it_only() -> None:
    @no_grad
    def predictions(xs):
        for x in xs:
            yield is_grad_enabled(), len((Value(x) * 2).parents)
        return "done"

    seen = []
    for item in predictions([1.0, 2.0]):
        seen.append(item)
        assert is_grad_enabled()  # between items the caller's mode is back
    assert seen == [(False, 0), (False, 0)]

    @enable_grad()
    def recording():
        yield is_grad_enabled()

    with no_grad():
        assert list(recording()) == [True]


def test_a_decorated_generator_returns_and_passes_sent_values_and_exceptions() -> None:
    @no_grad()
    def echo():
        received = yield "ready"
        try:
            yield received
        except KeyError:
            yield "caught"
        return "finished"

    g = echo()
    assert next(g) == "ready"
    assert g.send(7) == 7
    assert g.throw(KeyError()) == "caught"
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "finished"


# ------------------------------------------------------------------ numeric edges


@pytest.mark.parametrize(("exponent", "order", "expected"), [(2.0, 2, 2.0), (3.0, 3, 6.0)])
def test_higher_derivatives_of_power_with_a_value_exponent_at_zero(
    exponent, order, expected, torch
) -> None:
    f = lambda x: x ** Value(exponent)  # noqa: E731
    for _ in range(order):
        f = grad(f)
    ours = f(0.0)
    t = torch.tensor(0.0, requires_grad=True)
    out = t ** torch.tensor(exponent)
    for k in range(order):
        (out,) = torch.autograd.grad(out, t, create_graph=k < order - 1)
    assert (ours.item() if isinstance(ours, Value) else ours) == out.item() == expected


def test_mixed_second_derivative_of_power_at_zero_is_the_limit() -> None:
    # d2/dxdy x**y = x**(y-1) (1 + y log x) -> 0 as x -> 0+ for y = 2, in either order
    d_xy = grad(lambda x, y: grad(lambda a, b: a**b, 1)(x, y))(0.0, Value(2.0))
    d_yx = grad(lambda y, x: grad(lambda a, b: a**b, 0)(x, y))(2.0, Value(0.0))
    assert [d.item() if isinstance(d, Value) else d for d in (d_xy, d_yx)] == [0.0, 0.0]


def test_a_power_whose_slope_overflows_is_still_a_result(torch) -> None:
    x = Value(1e-200)
    y = x**-1
    y.backward()
    t = torch.tensor(1e-200, requires_grad=True)
    (t**-1).backward()
    assert (y.data, x.grad) == (1e200, -math.inf) == ((t**-1).item(), t.grad.item())
    z = Value(-1e-110)
    (z**-2).backward()  # 1e220 is finite; the slope -2 * (-1e-110)**-3 is beyond float64
    assert z.grad == math.inf


@pytest.mark.parametrize(
    "f",
    [lambda v: v.sqrt() * 0.0, lambda v: v.sqrt().relu(), lambda v: (v.sqrt() * v).relu()],
    ids=["0*sqrt(x)", "relu(sqrt(x))", "relu(x*sqrt(x))"],
)
def test_a_zero_gradient_passes_nothing_on_so_no_nan_appears_behind_it(f) -> None:
    """At x = 0 sqrt's slope is inf and the gradient reaching it is 0: 0, not 0 * inf = nan.

    (PyTorch gives nan for the first two.) Every way of taking the derivative agrees.
    """
    x = Value(0.0, "x")
    root = f(x)
    root.backward()
    assert x.grad == 0.0
    assert grad(f)(0.0) == 0.0
    assert jvp(f, (0.0,), (1.0,))[1] == 0.0
    y = Value(0.0)
    assert gradients(f(y), [y]) == [0.0]
    program = trace(f, 1.0)
    assert program(0.0)[1] == (0.0,)
    last = viz.backward_frames(root)[-1]
    assert "nan" not in viz.to_svg(last)


def test_a_zero_slope_passes_nothing_on_even_from_an_infinite_gradient() -> None:
    """sqrt's slope at 0 makes its parent's gradient inf; that parent's zero slope to x
    still passes nothing on (0, not 0 * inf = nan). backward checks each slope only for
    a node whose gradient is not finite, the one case where the check changes a number."""
    x = Value(2.0, "x")
    a = x * 0.0
    root = a.sqrt() + x
    root.backward()
    assert a.grad == math.inf
    assert x.grad == 1.0
    y = Value(2.0)
    assert gradients((y * 0.0).sqrt() + y, [y]) == [1.0]


def test_a_zero_slope_passes_nothing_on_so_relu_masks_an_infinite_gradient(torch) -> None:
    x = Value(-1.0)
    x.relu().sqrt().backward()
    t = torch.tensor(-1.0, requires_grad=True)
    t.relu().sqrt().backward()
    assert x.grad == t.grad.item() == 0.0
    slope = grad(lambda v: v.relu().sqrt())(-1.0)
    assert (slope.item() if isinstance(slope, Value) else slope) == 0.0


# ------------------------------------------------------------------ custom operations


def test_a_custom_derivative_that_returns_a_value_on_numbers_is_refused_naming_the_op() -> None:
    # Before, backward() made x.grad a Value: the gradient left the world of numbers.
    twice = Op("twice", lambda x: 2.0 * x, lambda x, out: (Value(2.0),))
    x = Value(1.5)
    with pytest.raises(TypeError, match=r"Op 'twice': derivative returned a Value"):
        twice(x)
    with pytest.raises(TypeError, match=r"Op 'twice'"):
        twice(1.5)


def test_a_custom_derivative_written_with_value_methods_still_nests() -> None:
    # The same rule on Values (nested grad) must keep working: d2/dx2 e^x = e^x.
    my_exp = Op("my_exp", math.exp, lambda x, out: (out,))
    assert grad(grad(lambda x: my_exp(x)))(0.5) == math.exp(0.5)


@pytest.mark.parametrize("operands", [(Value(1.0),), (1.0,)], ids=["value", "number"])
def test_a_custom_forward_that_gives_nan_is_not_called_an_overflow(operands) -> None:
    not_a_number = Op("inf_minus_inf", lambda x: math.inf - math.inf, lambda x, out: (1.0,))
    with pytest.raises(ValueError, match=r"'inf_minus_inf' of \(1\.0\) gives nan"):
        not_a_number(*operands)


def test_a_custom_forward_that_overflows_is_still_an_overflow() -> None:
    huge = Op("huge", lambda x: x * 1e308, lambda x, out: (1e308,))
    with pytest.raises(OverflowError, match=r"'huge' of \(10\.0\) overflows float64"):
        huge(Value(10.0))
