"""Checking gradients against finite differences.

Backpropagation is exact, but a wrong local derivative gives a wrong gradient
without any error. A finite difference needs no derivative at all: nudge one input
by ``eps`` up and down and see how much the output moves,

    d f / d x_i  ~=  (f(..., x_i + eps, ...) - f(..., x_i - eps, ...)) / (2 eps)

which is accurate to O(eps**2). When the two agree, the derivative code is right.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

from tinygrad_edu._checks import check_function, check_int, check_real
from tinygrad_edu.engine import Value, no_grad
from tinygrad_edu.forward import hessian, jacobian
from tinygrad_edu.functional import gradients

__all__ = ["GradcheckError", "gradcheck", "numerical_gradient"]


class GradcheckError(AssertionError):
    """Backpropagated and finite-difference gradients disagree; the message has a table."""


def _as_input(x: object) -> float:
    if isinstance(x, Value):
        return x.data
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"gradcheck: inputs must be numbers or Values, got {type(x).__name__}")


def _evaluate(f: Callable[..., Value | float], point: list[float]) -> float:
    with no_grad():
        out = f(*(Value(x) for x in point))
    return out.item() if isinstance(out, Value) else float(out)


def numerical_gradient(
    f: Callable[..., Value | float], *inputs: float | Value, eps: float = 1e-6
) -> list[float]:
    """Central-difference estimate of d f / d input for each input."""
    check_function("numerical_gradient", "f", f)
    eps = check_real("numerical_gradient", "eps", eps, above=0.0)
    point = [_as_input(x) for x in inputs]
    slopes = []
    for i, x in enumerate(point):
        up, down = list(point), list(point)
        up[i], down[i] = x + eps, x - eps
        slopes.append((_evaluate(f, up) - _evaluate(f, down)) / (2.0 * eps))
    return slopes


def gradcheck(
    f: Callable[..., Value | float],
    *inputs: float | Value,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    order: int = 1,
) -> bool:
    """Compare the derivatives of ``f`` at ``inputs`` with central differences.

    Checked, input by input: the gradient from backpropagation (mode ``reverse``) and
    from forward mode, one :func:`~tinygrad_edu.forward.jvp` per input (mode
    ``forward``), against central differences of ``f``. With ``order=2`` also every
    second derivative d²f / dx_i dx_j, from ``grad`` of ``grad`` (``reverse-over-reverse``)
    and from :func:`~tinygrad_edu.forward.hessian` (``forward-over-reverse``), against
    central differences of the backpropagated gradient (PyTorch's ``gradgradcheck`` in
    spirit: it checks that derivative rules can themselves be differentiated).

    Returns True when every entry has ``|analytic - numeric| <= atol + rtol * |numeric|``.
    Otherwise raises :class:`GradcheckError` (an ``AssertionError``) whose message is a
    table with one row per mode and input (``i`` or ``i,j``), marking each mismatch.

    >>> gradcheck(lambda x, y: (x * y).tanh(), 0.5, -1.5, order=2)
    True
    """
    check_function("gradcheck", "f", f)
    if not inputs:
        raise ValueError("gradcheck: give at least one input")
    eps = check_real("gradcheck", "eps", eps, above=0.0)
    atol = check_real("gradcheck", "atol", atol, at_least=0.0)
    rtol = check_real("gradcheck", "rtol", rtol, at_least=0.0)
    order = check_int("gradcheck", "order", order)
    if order > 2:
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order}")
    point = [_as_input(x) for x in inputs]
    leaves = [Value(x) for x in point]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    everything = tuple(range(len(point)))
    numeric = numerical_gradient(f, *point, eps=eps)
    firsts = [str(i) for i in everything]
    checks = [
        ("reverse", firsts, [_number(g) for g in gradients(out, leaves)], numeric),
        ("forward", firsts, jacobian(f, everything, mode="forward")(*point)[0], numeric),
    ]
    if order == 2:

        def gradient(*xs: Value) -> list:
            return jacobian(f, everything)(*xs)[0]

        seconds = [f"{i},{j}" for i in everything for j in everything]
        numeric_second = _flat(_numerical_jacobian(gradient, point, eps))
        checks += [
            ("reverse-over-reverse", seconds, _flat(jacobian(gradient, everything)(*point)),
             numeric_second),
            ("forward-over-reverse", seconds, _flat(hessian(f, everything)(*point)),
             numeric_second),
        ]  # fmt: skip
    rows = []
    failed = False
    for mode, names, analytic, expected in checks:
        for name, a, n in zip(names, analytic, expected):
            bad = not abs(a - n) <= atol + rtol * abs(n)
            failed |= bad
            flag = "  <-- mismatch" if bad else ""
            rows.append(f"{mode:>20}  {name:>5}  {a:>16.9g}  {n:>16.9g}  {a - n:>12.3g}{flag}")
    if failed:
        header = (
            f"{'mode':>20}  {'input':>5}  {'analytic':>16}  {'numeric':>16}  {'difference':>12}"
        )
        at = ", ".join(f"{x:.6g}" for x in point)
        raise GradcheckError(
            f"gradcheck: derivatives and finite differences disagree at ({at}) "
            f"(eps={eps}, atol={atol}, rtol={rtol}):\n" + "\n".join([header, *rows])
        )
    return True


def _number(g: float | Value) -> float:
    return g.data if isinstance(g, Value) else g


def _flat(matrix: list[list]) -> list[float]:
    return [_number(x) for row in matrix for x in row]


def _numerical_jacobian(
    f: Callable[..., list], point: list[float], eps: float
) -> list[list[float]]:
    """Central differences of a list-valued ``f``: row k, column j is d f_k / d x_j."""
    columns = []
    for j, x in enumerate(point):
        up, down = list(point), list(point)
        up[j], down[j] = x + eps, x - eps
        with no_grad():
            high = f(*(Value(v) for v in up))
            low = f(*(Value(v) for v in down))
        columns.append([(_number(h) - _number(lo)) / (2.0 * eps) for h, lo in zip(high, low)])
    return [list(row) for row in zip(*columns)]
