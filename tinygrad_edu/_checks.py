"""Argument checks shared by the modules (functional, gradcheck, nn, losses, optim, datasets).

Each names the function and the argument in its message, so a slip such as
``MLP(2, [16, 0])`` or ``SGD(params, lr=-1)`` fails at once with a sentence a student
can act on, instead of deep inside a training loop.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence

from tinygrad_edu.engine import Value

__all__ = [
    "BINARY_CONVENTIONS",
    "binary_signs",
    "check_function",
    "check_int",
    "check_real",
    "random_generator",
]

#: How a message names the two ways of writing binary labels, both accepted everywhere.
BINARY_CONVENTIONS = "0/1 or -1/+1"


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


def binary_signs(owner: str, labels: object) -> list[float]:
    """Binary labels as signs -1.0/+1.0, from either convention: 0/1 or -1/+1.

    The class called 1 (or +1) becomes +1.0, the class called 0 (or -1) becomes -1.0.
    Every label must come from the same convention: a list holding both a 0 and a -1 is
    a ValueError (which class would 0 be?), as is any other value; a non-number (a bool
    too) is a TypeError. A single number is a batch of one.

    >>> binary_signs("example", [0, 1, 1]), binary_signs("example", [-1, 1, 1])
    ([-1.0, 1.0, 1.0], [-1.0, 1.0, 1.0])
    """
    if isinstance(labels, numbers.Real) and not isinstance(labels, bool):
        labels = [labels]
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise TypeError(f"{owner}: labels must be a list of numbers, got {labels!r}")
    zero = minus_one = None  # the index of the first 0 and of the first -1
    for i, label in enumerate(labels):
        if isinstance(label, (bool, Value)) or not isinstance(label, numbers.Real):
            raise TypeError(f"{owner}: labels[{i}] must be a number, got {type(label).__name__}")
        if label == 0 and zero is None:
            zero = i
        elif label == -1 and minus_one is None:
            minus_one = i
        elif label not in (0, 1, -1):
            several = (
                "; for more than two classes, use cross_entropy with one output per class"
                if isinstance(label, numbers.Integral) and label > 1
                else ""
            )
            raise ValueError(
                f"{owner}: binary labels must be {BINARY_CONVENTIONS}, got {label!r} at index "
                f"{i}{several}"
            )
    if zero is not None and minus_one is not None:
        raise ValueError(
            f"{owner}: binary labels must be all {BINARY_CONVENTIONS}, not a mix of the two: "
            f"labels[{zero}] is 0 and labels[{minus_one}] is -1"
        )
    return [1.0 if label == 1 else -1.0 for label in labels]


def random_generator(owner: str, seed: int | random.Random | None) -> random.Random:
    """A private generator: ``seed`` itself if it is one, else ``random.Random(seed)``."""
    if isinstance(seed, random.Random):
        return seed
    if seed is None:
        return random.Random()  # seeded from the OS, not from the global generator
    return random.Random(check_int(owner, "seed", seed, at_least=0))
