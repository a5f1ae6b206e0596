"""Data sets in pure Python: small two-dimensional ones for classification, and names.

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

For language models: :func:`load_names` (32,033 first names, shipped with the package),
:class:`CharTokenizer`, which turns text into token ids and back,
:func:`context_pairs`, which turns names into (previous characters, next character)
examples, and :func:`split_held_out`, which keeps some of them aside to measure a model
on data it never trained on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import TypeVar

from tinygrad_edu._checks import check_int, check_real, random_generator

__all__ = [
    "CharTokenizer",
    "context_pairs",
    "load_names",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "split_held_out",
]

Dataset = tuple[list[list[float]], list[int]]
Item = TypeVar("Item")


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


# --------------------------------------------------------------------------- names and characters


def load_names() -> list[str]:
    """The 32,033 lowercase first names of ``tinygrad_edu/data/names.txt``, in file order.

    Source: the most common names of the US Social Security Administration's baby-names
    data for 2018 (a US government work, in the public domain), as collected in the
    MIT-licensed makemore project; see ``tinygrad_edu/data/README.md``. The file ships
    inside the package, so this works offline and from an installed wheel.

    >>> names = load_names()
    >>> len(names), names[0]
    (32033, 'emma')
    """
    text = resources.files("tinygrad_edu").joinpath("data", "names.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


class CharTokenizer:
    """Characters to token ids and back: each distinct character is one token.

    The ids ``0 .. len(chars) - 1`` are the characters in sorted order; one more id,
    ``bos`` ("beginning of sequence"), marks both where a text starts and where it ends,
    so ``vocab_size = len(chars) + 1``. A model trained on ``encode(name)`` learns to
    predict each next character and, after the last one, ``bos``: that is how it knows
    when a name is finished.

    >>> tok = CharTokenizer.from_documents(["anna", "bob"])
    >>> tok.chars, tok.vocab_size, tok.bos
    ('abno', 5, 4)
    >>> tok.encode("bob")
    [4, 1, 3, 1, 4]
    >>> tok.decode([4, 1, 3, 1, 4])
    'bob'
    """

    def __init__(self, chars: str) -> None:
        if not isinstance(chars, str):
            raise TypeError(f"CharTokenizer: chars must be a str, got {type(chars).__name__}")
        if not chars:
            raise ValueError("CharTokenizer: chars is empty; a tokenizer needs a character")
        if list(chars) != sorted(set(chars)):
            raise ValueError(
                f"CharTokenizer: chars must be distinct and sorted, got {chars!r}; "
                "use CharTokenizer.from_documents to build one from text"
            )
        self.chars = chars
        self._ids = {ch: i for i, ch in enumerate(chars)}

    @classmethod
    def from_documents(cls, documents: Iterable[str]) -> CharTokenizer:
        """The tokenizer of every character that occurs in ``documents``."""
        if isinstance(documents, str):
            raise TypeError("CharTokenizer.from_documents: expected a list of str, got one str")
        found: set[str] = set()
        for i, doc in enumerate(documents):
            if not isinstance(doc, str):
                raise TypeError(
                    f"CharTokenizer.from_documents: documents[{i}] must be a str, "
                    f"got {type(doc).__name__}"
                )
            found.update(doc)
        return cls("".join(sorted(found)))

    @property
    def vocab_size(self) -> int:
        """How many token ids there are: the characters and ``bos``."""
        return len(self.chars) + 1

    @property
    def bos(self) -> int:
        """The id marking the start and the end of a text (the one after the characters)."""
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """``[bos, id(c_1), ..., id(c_n), bos]``; ValueError for a character not in ``chars``."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: expected a str, got {type(text).__name__}")
        ids = [self.bos]
        for ch in text:
            if ch not in self._ids:
                raise ValueError(
                    f"CharTokenizer.encode: unknown character {ch!r} in {text!r}; "
                    f"the tokenizer knows {self.chars!r}"
                )
            ids.append(self._ids[ch])
        ids.append(self.bos)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids, leaving out ``bos``; ValueError for an id out of range."""
        out = []
        for token in ids:
            if isinstance(token, bool) or not isinstance(token, int):
                raise TypeError(
                    f"CharTokenizer.decode: token ids must be ints, got {type(token).__name__}"
                )
            if not 0 <= token <= self.bos:
                raise ValueError(
                    f"CharTokenizer.decode: token id {token} is out of range 0..{self.bos}"
                )
            if token != self.bos:
                out.append(self.chars[token])
        return "".join(out)

    def __repr__(self) -> str:
        return f"CharTokenizer({self.chars!r}, vocab_size={self.vocab_size})"


def context_pairs(
    names: Iterable[str], tokenizer: CharTokenizer, context: int = 3
) -> tuple[list[list[int]], list[int]]:
    """Every (previous ``context`` tokens, next token) example in ``names``, as ``(X, y)``.

    Each name is read as ``tokenizer.encode(name)``, i.e. between two ``bos`` tokens,
    and the window of the ``context`` tokens before each position starts out filled
    with ``bos``: "nothing yet". So every character of a name is a target, and so is
    the ``bos`` after its last character (that is how a model learns where names end).
    A name of ``n`` characters gives ``n + 1`` examples. With ``context=1`` the examples
    are the name's *bigrams* (pairs of neighbouring tokens).

    ``X[i]`` is a list of ``context`` token ids, oldest first, and ``y[i]`` the id that
    follows them. A character the tokenizer does not know is a ValueError (from
    :meth:`CharTokenizer.encode`).

    >>> tok = CharTokenizer.from_documents(["emma"])      # 'a' 0, 'e' 1, 'm' 2, bos 3
    >>> X, y = context_pairs(["emma"], tok, context=3)
    >>> for window, target in zip(X, y):
    ...     print(repr(tok.decode(window)), window, "->", target)
    '' [3, 3, 3] -> 1
    'e' [3, 3, 1] -> 2
    'em' [3, 1, 2] -> 2
    'emm' [1, 2, 2] -> 0
    'mma' [2, 2, 0] -> 3
    """
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(
            f"context_pairs: tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}"
        )
    context = check_int("context_pairs", "context", context)
    if isinstance(names, str):
        raise TypeError("context_pairs: expected a list of names, got one str")
    X: list[list[int]] = []  # noqa: N806  (X and y, as for the other data sets)
    y: list[int] = []
    for name in names:
        tokens = tokenizer.encode(name)
        window = [tokenizer.bos] * context
        for token in tokens[1:]:  # the first bos is only ever read, never predicted
            X.append(window)
            y.append(token)
            window = [*window[1:], token]
    return X, y


def split_held_out(
    items: Sequence[Item], held_out: float = 0.1, seed: int | random.Random | None = None
) -> tuple[list[Item], list[Item]]:
    """``(train, held)``: a shuffled copy of ``items`` cut in two, ``held`` the last part.

    ``held`` gets ``round(held_out * len(items))`` of the items, ``train`` the others,
    in shuffled order (so a file sorted by popularity or by letter is mixed before it
    is cut). Neither part may be empty: a fraction that leaves one of them empty is a
    ValueError. ``items`` itself is not changed.

    Split *names*, not the examples made from them: the examples of one name overlap
    (``em`` -> ``m`` and ``emm`` -> ``a`` share letters), so a held-out example whose
    name was partly trained on would measure memory, not generalisation.

    >>> train, held = split_held_out(["ann", "bob", "cy", "dee"], held_out=0.25, seed=0)
    >>> len(train), len(held), sorted(train + held)
    (3, 1, ['ann', 'bob', 'cy', 'dee'])
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"split_held_out: items must be a list, got {type(items).__name__}")
    held_out = check_real("split_held_out", "held_out", held_out, above=0.0, below=1.0)
    rng = random_generator("split_held_out", seed)
    n_held = round(held_out * len(items))
    if not 0 < n_held < len(items):
        raise ValueError(
            f"split_held_out: held_out={held_out!r} of {len(items)} items holds out {n_held}, "
            "which leaves a part empty; both parts need at least one item"
        )
    shuffled = list(items)
    rng.shuffle(shuffled)
    cut = len(shuffled) - n_held
    return shuffled[:cut], shuffled[cut:]
