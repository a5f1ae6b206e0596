"""Notebook 1, derivatives by nudging: solutions."""

import math

from tinygrad_edu import Value


def partial_slopes(f, x, y, h=1e-5):
    """Central differences, one input at a time: the other input stays where it is."""
    return (
        (f(x + h, y) - f(x - h, y)) / (2 * h),
        (f(x, y + h) - f(x, y - h)) / (2 * h),
    )


def slope(x):
    """No nudge: backward() applies the product rule and sin' = cos exactly."""
    v = Value(x)
    y = v * v * v.sin()
    y.backward()
    return v.grad


def best_nudge(f, x, true_slope):
    """Too large a nudge suffers from truncation (∝ h²), too small from rounding (∝ ε/h)."""
    nudges = [10.0**-k for k in range(1, 16)]
    return min(nudges, key=lambda h: abs((f(x + h) - f(x - h)) / (2 * h) - true_slope))


assert math.isclose(slope(1.0), 2 * math.sin(1.0) + math.cos(1.0))
