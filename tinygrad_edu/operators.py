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

__all__ = [
    "divide",
    "exp",
    "leaky_relu",
    "log",
    "power",
    "relu",
    "sigmoid",
    "sqrt",
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
