"""Small two-dimensional data sets for classification, in pure Python.

Each generator returns ``(X, y)``: ``X`` a list of ``[x0, x1]`` points (floats) and
``y`` a list of int class labels, shuffled. Two inputs mean the decision boundary a
model learns can be drawn on the plane. None of these classes can be separated by a
straight line, so a model needs a hidden layer (a nonlinearity) to fit them.

Randomness comes from a private ``random.Random(seed)``: the same seed gives the same
data every time, and the global :mod:`random` state is left alone. ``noise`` is the
standard deviation of Gaussian noise (added to each coordinate, except for spirals,
where it blurs the angle); a noise so large that a draw leaves the float64 range
(``noise=1e308``) is a ValueError rather than infinite coordinates.

>>> X, y = make_moons(4, noise=0.0, seed=0)
>>> len(X), sorted(y)
(4, [0, 0, 1, 1])
"""

from __future__ import annotations

import math
import random

from tinygrad_edu._checks import check_int, check_real, random_generator

__all__ = ["make_circles", "make_moons", "make_spirals", "make_xor"]

Dataset = tuple[list[list[float]], list[int]]


def _linspace(start: float, stop: float, n: int, *, endpoint: bool = True) -> list[float]:
    """``n`` evenly spaced numbers from ``start`` to ``stop`` (included if ``endpoint``)."""
    intervals = (n - 1 if endpoint else n) or 1
    return [start + (stop - start) * i / intervals for i in range(n)]


def _shuffled(rng: random.Random, samples: list[tuple[list[float], int]]) -> Dataset:
    """Shuffle ``(point, label)`` pairs together and split them into ``(X, y)``."""
    rng.shuffle(samples)
    return [x for x, _ in samples], [label for _, label in samples]


def _gauss(owner: str, rng: random.Random, noise: float) -> float:
    """One draw of Gaussian noise; a ValueError if ``noise`` is so large that it overflows."""
    draw = rng.gauss(0.0, noise)
    if not math.isfinite(draw):  # e.g. noise=1e308: two standard deviations exceed float64
        raise ValueError(
            f"{owner}: noise={noise!r} is too large: a draw of the noise is {draw!r}, "
            "beyond the float64 range"
        )
    return draw


def _noisy(
    owner: str,
    rng: random.Random,
    points: list[tuple[float, float]],
    labels: list[int],
    noise: float,
) -> Dataset:
    """Add Gaussian noise to each coordinate, then shuffle."""
    samples = [
        ([x0 + _gauss(owner, rng, noise), x1 + _gauss(owner, rng, noise)], label)
        for (x0, x1), label in zip(points, labels)
    ]
    return _shuffled(rng, samples)


def _split(n_samples: int, n_parts: int) -> list[int]:
    """Sizes of ``n_parts`` groups that differ by at most one and add up to ``n_samples``."""
    return [n_samples // n_parts + (k < n_samples % n_parts) for k in range(n_parts)]


def make_moons(
    n_samples: int = 100, noise: float = 0.1, seed: int | random.Random | None = None
) -> Dataset:
    """Two interleaving half circles.

    Class 0 is the upper half of the unit circle, ``(cos t, sin t)`` for t in [0, π];
    class 1 the same arc flipped and shifted, ``(1 - cos t, 0.5 - sin t)``, so that each
    moon reaches into the other's hollow. ``n_samples`` is split as evenly as possible.
    """
    n_samples = check_int("make_moons", "n_samples", n_samples, at_least=2)
    noise = check_real("make_moons", "noise", noise, at_least=0.0)
    rng = random_generator("make_moons", seed)
    n_upper, n_lower = _split(n_samples, 2)[::-1]  # as scikit-learn: the odd point goes below
    points = [(math.cos(t), math.sin(t)) for t in _linspace(0.0, math.pi, n_upper)]
    points += [(1.0 - math.cos(t), 0.5 - math.sin(t)) for t in _linspace(0.0, math.pi, n_lower)]
    return _noisy("make_moons", rng, points, [0] * n_upper + [1] * n_lower, noise)


def make_circles(
    n_samples: int = 100,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | random.Random | None = None,
) -> Dataset:
    """A circle inside a circle: class 0 on the unit circle, class 1 on radius ``factor``.

    ``factor`` (between 0 and 1, exclusive) sets how close the circles are.
    """
    n_samples = check_int("make_circles", "n_samples", n_samples, at_least=2)
    noise = check_real("make_circles", "noise", noise, at_least=0.0)
    factor = check_real("make_circles", "factor", factor, above=0.0, below=1.0)
    rng = random_generator("make_circles", seed)
    n_outer, n_inner = _split(n_samples, 2)[::-1]
    points = []
    for n, radius in ((n_outer, 1.0), (n_inner, factor)):
        angles = _linspace(0.0, 2.0 * math.pi, n, endpoint=False)
        points += [(radius * math.cos(t), radius * math.sin(t)) for t in angles]
    return _noisy("make_circles", rng, points, [0] * n_outer + [1] * n_inner, noise)


def make_spirals(
    n_samples: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int | random.Random | None = None,
) -> Dataset:
    """``n_classes`` spiral arms winding out of the origin, one class per arm.

    Arm k's points have radius r from 0 to 1 and angle ``t = 4k + 4r`` radians plus
    Gaussian noise of standard deviation ``noise``; a point is ``(r sin t, r cos t)``.
    Near the origin the arms meet, so a few points there cannot be told apart.
    """
    n_samples = check_int("make_spirals", "n_samples", n_samples, at_least=2)
    n_classes = check_int("make_spirals", "n_classes", n_classes, at_least=2)
    if n_samples < n_classes:
        raise ValueError(
            f"make_spirals: n_samples ({n_samples}) must be at least n_classes ({n_classes})"
        )
    noise = check_real("make_spirals", "noise", noise, at_least=0.0)
    rng = random_generator("make_spirals", seed)
    samples = []
    for k, n in enumerate(_split(n_samples, n_classes)):
        for r in _linspace(0.0, 1.0, n):
            t = 4.0 * (k + r) + _gauss("make_spirals", rng, noise)
            samples.append(([r * math.sin(t), r * math.cos(t)], k))
    return _shuffled(rng, samples)


def make_xor(
    n_samples: int = 100, noise: float = 0.1, seed: int | random.Random | None = None
) -> Dataset:
    """The XOR pattern: class 1 where exactly one coordinate is negative.

    Points are uniform in the four quadrants of the square [-1, 1]² (equally many in
    each when ``n_samples`` is a multiple of 4), labelled by quadrant: ``y = 1`` if
    ``x0 * x1 < 0``. Noise is added after labelling, so it blurs the boundary along the
    axes.
    """
    n_samples = check_int("make_xor", "n_samples", n_samples, at_least=4)
    noise = check_real("make_xor", "noise", noise, at_least=0.0)
    rng = random_generator("make_xor", seed)
    quadrants = ((1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0))
    points, labels = [], []
    for i in range(n_samples):
        sign0, sign1 = quadrants[i % 4]
        points.append((sign0 * rng.uniform(0.0, 1.0), sign1 * rng.uniform(0.0, 1.0)))
        labels.append(int(sign0 != sign1))
    return _noisy("make_xor", rng, points, labels, noise)
