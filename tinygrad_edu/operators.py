"""Plain float kernels: the arithmetic of every operation, with no graph in sight.

Each function takes and returns Python floats. Keeping the numbers apart from the
graph machinery makes both easier to read and to test: these functions can be
checked against :mod:`math` on their own, and :mod:`tinygrad_edu.engine` only has
to say how the pieces connect.

The kernels are where domain errors are caught, so that a bad input fails at the
operation that caused it, with a message naming the operation and the value,
instead of turning into a silent ``nan`` several steps later.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "as_float",
    "divide",
    "exp",
    "exponential",
    "exponential_derivative",
    "leaky_relu",
    "log",
    "power",
    "power_const_derivative",
    "power_derivative",
    "power_of_base",
    "relu",
    "short_repr",
    "sigmoid",
    "sqrt",
    "sqrt_derivative",
]


def divide(x: float, y: float) -> float:
    """``x / y``; raises :class:`ZeroDivisionError` when ``y`` is zero."""
    if y == 0.0:
        raise ZeroDivisionError(f"division: cannot divide {x!r} by zero")
    return x / y


def power(x: float, y: float) -> float:
    """``x ** y`` for real numbers, refusing the cases that have no real answer.

    * ``0 ** y`` with ``y < 0`` is a division by zero.
    * A negative base to a non-integer power is a complex number.
    * A result too large for a float64 overflows.
    """
    if x == 0.0 and y < 0.0:
        raise ZeroDivisionError(f"power: 0.0 ** {y!r} divides by zero (negative exponent)")
    if x < 0.0 and not float(y).is_integer():
        raise ValueError(
            f"power: negative base {x!r} to the non-integer power {y!r} has no real value"
        )
    try:
        return x**y
    except OverflowError:
        raise OverflowError(f"power: {x!r} ** {y!r} overflows float64") from None


def exp(x: float) -> float:
    """``e ** x``; raises :class:`OverflowError` above about 709.78."""
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(
            f"exp: exp({x!r}) overflows float64 (inputs above about 709.78 do)"
        ) from None


def log(x: float) -> float:
    """Natural logarithm; defined only for ``x > 0``."""
    if x <= 0.0:
        raise ValueError(f"log: input must be > 0, got {x!r}")
    return math.log(x)


def sqrt(x: float) -> float:
    """Square root; defined only for ``x >= 0``."""
    if x < 0.0:
        raise ValueError(f"sqrt: input must be >= 0, got {x!r}")
    return math.sqrt(x)


def sigmoid(x: float) -> float:
    """The logistic function ``1 / (1 + e**-x)``, stable for every finite input.

    The textbook formula overflows for large negative ``x`` (``e**1000``). Splitting
    by sign keeps the exponent non-positive, so ``exp`` only ever sees ``-|x|``.
    """
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def relu(x: float) -> float:
    """``max(0, x)``."""
    return x if x > 0.0 else 0.0


def leaky_relu(x: float, slope: float) -> float:
    """``x`` for positive inputs, ``slope * x`` otherwise."""
    return x if x > 0.0 else slope * x


def as_float(x: object, owner: str = "Value") -> float | None:
    """A plain real number as a float, or None for anything else.

    A number beyond float64 (``10**400``, a huge ``Fraction``) is an OverflowError
    naming ``owner``, the operation that was given it.
    """
    if type(x) is float:
        return x  # type: ignore[return-value]
    if isinstance(x, numbers.Real):  # (a Value is not one: it has no float())
        try:
            return float(x)
        except OverflowError:
            raise OverflowError(
                f"{owner}: the number {short_repr(x)} is too large for a float64"
            ) from None
    return None


def short_repr(x: object) -> str:
    """``repr(x)``, cut short for numbers with hundreds of digits."""
    text = repr(x)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


# --------------------------------------------------------------------------- the powers' slopes
# The derivative rules of the powers live beside their kernels: their edge cases (a base
# of 0, a slope beyond float64) need the most care. Like every derivative rule they take
# floats in a backward pass and Values when nested grad differentiates them again, so they
# use only arithmetic and the two helpers below (a Value is not a float).

Number = Any  # a float, or a Value (this module sits below the engine, so it cannot name it)


def _number_in(x: Number) -> float:
    """The float inside ``x``, a float or a Value."""
    return x if isinstance(x, float) else x.data


def _log_of(x: Number) -> Number:
    return math.log(x) if isinstance(x, float) else x.log()


def _slope_power(x: Number, e: Number) -> Number:
    """``x ** e`` inside a derivative: a slope too steep for a float is ±inf, not an error.

    ``Value(1e-200) ** -1`` is the finite 1e200, but its slope ``-x**-2`` is beyond
    float64; like ``1 / x`` (whose slope ``-1/x**2`` Python's division makes ``-inf``)
    that is an infinite slope, and the result itself is still a result.
    """
    try:
        return x**e
    except OverflowError:
        if not (isinstance(x, float) and isinstance(e, float)):
            raise  # a Value cannot hold inf: a nested derivative this steep is refused
        odd_power_of_negative = x < 0.0 and e % 2.0 == 1.0
        return -math.inf if odd_power_of_negative else math.inf


def power_derivative(x: Number, y: Number, out: Number) -> tuple:
    """d(x**y)/dx = y * x**(y-1);  d(x**y)/dy = x**y * log(x)  (0 where x == 0).

    At ``x == 0`` (where ``y >= 0``) the slope in ``x`` is 0 for ``y == 0`` (a constant 1),
    ``+inf`` for ``0 < y < 1``, and otherwise ``y * x**(y-1)`` written as arithmetic, so
    that nested :func:`grad` can differentiate it again (``x**2`` at 0 has second
    derivative 2). The slope in ``y`` there is 0, the limit of ``x**y log(x)``.
    """
    if _number_in(x) == 0.0:
        exponent = _number_in(y)
        if exponent == 0.0:
            return (0.0, 0.0)
        if exponent < 1.0:
            return (math.inf, 0.0)
        return (y * x ** (y - 1.0), 0.0)
    return (y * _slope_power(x, y - 1.0), out * _log_of(x))


def power_const_derivative(x: Number, c: float, out: Number) -> tuple:
    """d(x**c)/dx = c * x**(c-1): 0 when c == 0, +inf at x == 0 when 0 < c < 1."""
    if c == 0.0:
        return (0.0,)
    if c < 1.0 and _number_in(x) == 0.0:
        return (math.inf,)
    return (c * _slope_power(x, c - 1.0),)


def sqrt_derivative(x: Number, out: Number) -> tuple:
    """d sqrt(x)/dx = 1 / (2 sqrt(x)), +inf at x == 0 as in PyTorch."""
    return (0.5 / out if _number_in(out) != 0.0 else math.inf,)


def exponential(x: float, c: float) -> float:
    """``c ** x``: a plain-number base to a Value exponent (``2 ** x``), so ``c >= 0``."""
    return power_of_base(c, x)


def exponential_derivative(x: Number, base: float, out: Number) -> tuple:
    """d(c**x)/dx = c**x * log(c); 0 for c == 0, where c**x is flat (0 or 1)."""
    return (out * math.log(base) if base > 0.0 else 0.0,)


def power_of_base(x: float, y: float) -> float:
    """x ** y when the exponent is a Value: its derivative needs log(x), so x >= 0."""
    if x < 0.0:
        raise ValueError(
            f"power: a negative base ({x!r}) to a Value exponent has no real derivative "
            "with respect to the exponent; use a plain-number exponent"
        )
    return power(x, y)
