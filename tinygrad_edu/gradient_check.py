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

from tinygrad_edu._checks import check_function, check_real
from tinygrad_edu.engine import Value, no_grad
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
) -> bool:
    """Compare backpropagated gradients of ``f`` at ``inputs`` with central differences.

    Returns True when, for every input, ``|analytic - numeric| <= atol + rtol * |numeric|``.
    Otherwise raises :class:`GradcheckError` (an ``AssertionError``) whose message is a
    table of both gradients and their difference, input by input.

    >>> gradcheck(lambda x, y: (x * y).tanh(), 0.5, -1.5)
    True
    """
    check_function("gradcheck", "f", f)
    if not inputs:
        raise ValueError("gradcheck: give at least one input")
    eps = check_real("gradcheck", "eps", eps, above=0.0)
    atol = check_real("gradcheck", "atol", atol, at_least=0.0)
    rtol = check_real("gradcheck", "rtol", rtol, at_least=0.0)
    point = [_as_input(x) for x in inputs]
    leaves = [Value(x) for x in point]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    analytic = gradients(out, leaves)
    numeric = numerical_gradient(f, *point, eps=eps)
    rows = []
    failed = False
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        bad = not abs(a - n) <= atol + rtol * abs(n)
        failed |= bad
        flag = "  <-- mismatch" if bad else ""
        rows.append(f"{i:>5}  {point[i]:>14.6g}  {a:>16.9g}  {n:>16.9g}  {a - n:>12.3g}{flag}")
    if failed:
        header = f"{'input':>5}  {'at':>14}  {'analytic':>16}  {'numeric':>16}  {'difference':>12}"
        raise GradcheckError(
            f"gradcheck: backward and finite differences disagree "
            f"(eps={eps}, atol={atol}, rtol={rtol}):\n" + "\n".join([header, *rows])
        )
    return True
