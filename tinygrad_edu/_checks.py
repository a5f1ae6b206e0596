"""Argument checks shared by the modules (functional, gradcheck, nn, losses, optim, datasets).

Each names the function and the argument in its message, so a slip such as
``MLP(2, [16, 0])`` or ``SGD(params, lr=-1)`` fails at once with a sentence a student
can act on, instead of deep inside a training loop.
"""

from __future__ import annotations

import math
import numbers
import random

from tinygrad_edu.engine import Value

__all__ = ["check_function", "check_int", "check_real", "random_generator"]


def check_function(owner: str, name: str, value: object) -> None:
    """TypeError unless ``value`` can be called (a function, a lambda, a model)."""
    if not callable(value):
        raise TypeError(f"{owner}: {name} must be a function, got {type(value).__name__}")


def check_int(owner: str, name: str, value: object, *, at_least: int = 1) -> int:
    """``value`` as an int >= ``at_least``; TypeError for a non-integer, ValueError if too small."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__}")
    if value < at_least:
        raise ValueError(f"{owner}: {name} must be >= {at_least}, got {value!r}")
    return int(value)


def check_real(
    owner: str,
    name: str,
    value: object,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
) -> float:
    """``value`` as a finite float within the given bounds.

    TypeError for anything but a real number (a bool too: ``lr=True`` is a slip),
    ValueError for NaN, infinity or a value outside ``(above, ...)``, ``[at_least, ...)``
    or ``(..., below)``.
    """
    if isinstance(value, (bool, Value)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {name} must be finite, got {number!r}")
    if above is not None and not number > above:
        raise ValueError(f"{owner}: {name} must be > {above}, got {number!r}")
    if at_least is not None and not number >= at_least:
        raise ValueError(f"{owner}: {name} must be >= {at_least}, got {number!r}")
    if below is not None and not number < below:
        raise ValueError(f"{owner}: {name} must be < {below}, got {number!r}")
    return number


def random_generator(owner: str, seed: int | random.Random | None) -> random.Random:
    """A private generator: ``seed`` itself if it is one, else ``random.Random(seed)``."""
    if isinstance(seed, random.Random):
        return seed
    if seed is None:
        return random.Random()  # seeded from the OS, not from the global generator
    return random.Random(check_int(owner, "seed", seed, at_least=0))
