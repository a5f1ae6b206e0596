"""Data sets: shapes, labels, the geometry they promise, noise, seeds and validation."""

from __future__ import annotations

import doctest
import math
import random
import statistics
from collections import Counter

import pytest

from tinygrad_edu import datasets

GENERATORS = {
    "moons": datasets.make_moons,
    "circles": datasets.make_circles,
    "spirals": datasets.make_spirals,
    "xor": datasets.make_xor,
}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_points_are_pairs_of_floats_and_labels_are_ints(name) -> None:
    points, y = GENERATORS[name](101, seed=0)
    assert type(points) is list and type(y) is list and len(points) == len(y) == 101
    assert all(type(x) is list and len(x) == 2 for x in points)
    assert all(type(v) is float and math.isfinite(v) for x in points for v in x)
    assert all(type(label) is int for label in y)


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("moons", {0: 50, 1: 51}),
        ("circles", {0: 50, 1: 51}),
        ("spirals", {0: 34, 1: 34, 2: 33}),
        ("xor", {0: 51, 1: 50}),  # quadrants ++ -+ -- +- in turn: ++ and -- get the extra
    ],
)
def test_classes_are_balanced(name, counts) -> None:
    assert Counter(GENERATORS[name](101, seed=0)[1]) == counts


@pytest.mark.parametrize("name", list(GENERATORS))
def test_same_seed_same_data_other_seed_other_data(name) -> None:
    make = GENERATORS[name]
    assert make(50, seed=3) == make(50, seed=3)
    assert make(50, seed=3) != make(50, seed=4)
    assert make(50, seed=random.Random(3)) == make(50, seed=3)


@pytest.mark.parametrize("name", list(GENERATORS))
@pytest.mark.parametrize("seed", [None, 5])
def test_the_global_random_state_is_not_touched(name, seed) -> None:
    random.seed(99)
    state = random.getstate()
    GENERATORS[name](30, seed=seed)
    assert random.getstate() == state


def test_labels_are_shuffled_not_in_blocks() -> None:
    y = datasets.make_moons(100, seed=0)[1]
    assert y != sorted(y) and y != sorted(y, reverse=True)


# ------------------------------------------------------------------ geometry without noise


def test_moons_lie_on_two_interleaved_half_circles() -> None:
    points, y = datasets.make_moons(200, noise=0.0, seed=0)
    for (x0, x1), label in zip(points, y):
        if label == 0:  # upper half of the unit circle around (0, 0)
            assert math.hypot(x0, x1) == pytest.approx(1.0) and x1 >= -1e-12
        else:  # lower half of the unit circle around (1, 0.5)
            assert math.hypot(x0 - 1.0, x1 - 0.5) == pytest.approx(1.0) and x1 <= 0.5 + 1e-12
    first_coordinates = [x0 for x0, _ in points]
    assert min(first_coordinates) == pytest.approx(-1.0)
    assert max(first_coordinates) == pytest.approx(2.0)


def test_circles_have_radius_one_and_factor() -> None:
    points, y = datasets.make_circles(100, noise=0.0, factor=0.3, seed=0)
    for point, label in zip(points, y):
        assert math.hypot(*point) == pytest.approx(1.0 if label == 0 else 0.3)


def test_spiral_arms_wind_four_radians_out_of_the_origin() -> None:
    points, y = datasets.make_spirals(90, n_classes=3, noise=0.0, seed=0)
    for (x0, x1), k in zip(points, y):
        r = math.hypot(x0, x1)
        assert r <= 1.0 + 1e-12
        if r > 1e-9:
            t = 4.0 * (k + r)  # the documented angle, measured from the x1 axis
            assert x0 == pytest.approx(r * math.sin(t), abs=1e-12)
            assert x1 == pytest.approx(r * math.cos(t), abs=1e-12)


def test_xor_labels_are_one_exactly_where_the_signs_differ() -> None:
    points, y = datasets.make_xor(200, noise=0.0, seed=0)
    for (x0, x1), label in zip(points, y):
        assert -1.0 <= x0 <= 1.0 and -1.0 <= x1 <= 1.0
        assert label == int(x0 * x1 < 0)


def test_noise_is_gaussian_with_the_given_standard_deviation() -> None:
    # On a circle, small noise moves a point's radius by its radial component: N(0, sigma).
    points, y = datasets.make_circles(4000, noise=0.02, factor=0.5, seed=1)
    deviations = [math.hypot(*x) - (1.0 if label == 0 else 0.5) for x, label in zip(points, y)]
    assert statistics.fmean(deviations) == pytest.approx(0.0, abs=0.002)
    assert statistics.pstdev(deviations) == pytest.approx(0.02, rel=0.1)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: datasets.make_moons(1), ValueError, "n_samples must be >= 2"),
        (lambda: datasets.make_moons(10.0), TypeError, "n_samples must be an int"),
        (lambda: datasets.make_moons(True), TypeError, "n_samples must be an int"),
        (lambda: datasets.make_moons(10, noise=-0.1), ValueError, "noise must be >= 0"),
        (lambda: datasets.make_circles(10, factor=1.0), ValueError, "factor must be < 1"),
        (lambda: datasets.make_circles(10, factor=0.0), ValueError, "factor must be > 0"),
        (lambda: datasets.make_spirals(10, n_classes=1), ValueError, "n_classes must be >= 2"),
        (lambda: datasets.make_spirals(3, n_classes=4), ValueError, r"n_samples \(3\)"),
        (lambda: datasets.make_xor(3), ValueError, "n_samples must be >= 4"),
        (lambda: datasets.make_xor(8, noise=math.inf), ValueError, "noise must be finite"),
        (lambda: datasets.make_xor(8, seed=1.5), TypeError, "seed must be an int"),
    ],
)
def test_bad_arguments_are_refused(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("name", list(GENERATORS))
def test_noise_too_large_for_float64_is_refused_not_turned_into_infinity(name) -> None:
    make = GENERATORS[name]
    with pytest.raises(ValueError, match=rf"make_{name}: noise=1e\+308 is too large: .* float64"):
        make(100, noise=1e308, seed=0)
    # a large noise whose draws stay in range is still taken, with finite coordinates
    points, _ = make(100, noise=1e300, seed=0)
    assert all(math.isfinite(c) for point in points for c in point)


# ------------------------------------------------------------------ names: examples and splits


def _windows_by_slicing(name: str, context: int) -> list[tuple[str, str]]:
    """The reference: pad the name with '.' (the boundary) and read every window of it."""
    padded = "." * context + name + "."
    return [(padded[i : i + context], padded[i + context]) for i in range(len(name) + 1)]


def _ids(text: str, tokenizer: datasets.CharTokenizer) -> list[int]:
    return [tokenizer.bos if ch == "." else tokenizer.chars.index(ch) for ch in text]


@pytest.mark.parametrize("context", [1, 2, 3, 5])
def test_context_pairs_are_the_windows_of_the_padded_names(context) -> None:
    names = ["emma", "a", "bob", "", "xavier"]
    tokenizer = datasets.CharTokenizer.from_documents(names)
    contexts, targets = datasets.context_pairs(names, tokenizer, context=context)
    expected = [w for name in names for w in _windows_by_slicing(name, context)]
    assert len(contexts) == len(targets) == sum(len(name) + 1 for name in names)
    assert contexts == [_ids(window, tokenizer) for window, _ in expected]
    assert targets == [_ids(target, tokenizer)[0] for _, target in expected]
    assert all(type(window) is list and len(window) == context for window in contexts)


def test_context_pairs_of_one_character_are_the_bigrams_of_the_encoded_names() -> None:
    names = datasets.load_names()[:300]
    tokenizer = datasets.CharTokenizer.from_documents(names)
    contexts, targets = datasets.context_pairs(names, tokenizer, context=1)
    bigrams = [
        pair for name in names for pair in zip(tokenizer.encode(name), tokenizer.encode(name)[1:])
    ]
    assert [(window[0], target) for window, target in zip(contexts, targets)] == bigrams


def test_context_pairs_windows_are_separate_lists() -> None:
    tokenizer = datasets.CharTokenizer.from_documents(["ab"])
    contexts, _ = datasets.context_pairs(["ab"], tokenizer, context=2)
    contexts[0][0] = 99  # changing one example must not change another
    assert contexts[1] == [tokenizer.bos, 0]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda tok: datasets.context_pairs(["ab"], tok, context=0),
            ValueError,
            "context must be >= 1",
        ),
        (
            lambda tok: datasets.context_pairs(["ab"], tok, context=2.0),
            TypeError,
            "context must be an int",
        ),
        (
            lambda tok: datasets.context_pairs("ab", tok),
            TypeError,
            "context_pairs: expected a list",
        ),
        (lambda tok: datasets.context_pairs(["ab"], "ab"), TypeError, "must be a CharTokenizer"),
        (lambda tok: datasets.context_pairs(["abc"], tok), ValueError, "unknown character 'c'"),
    ],
)
def test_context_pairs_refuses_bad_arguments(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call(datasets.CharTokenizer.from_documents(["ab"]))


@pytest.mark.parametrize(
    ("n", "fraction", "held"), [(10, 0.1, 1), (10, 0.25, 2), (7, 0.5, 4), (2, 0.5, 1)]
)
def test_split_held_out_is_a_shuffled_partition_of_the_given_size(n, fraction, held) -> None:
    items = [f"name{i}" for i in range(n)]
    original = items[:]
    train, held_out = datasets.split_held_out(items, held_out=fraction, seed=0)
    assert len(held_out) == held and len(train) == n - held
    assert sorted(train + held_out) == sorted(items)  # every item once, in one part
    assert items == original  # the input is not shuffled in place


def test_split_held_out_mixes_the_order_and_follows_the_seed() -> None:
    items = list(range(100))
    train, held = datasets.split_held_out(items, held_out=0.2, seed=3)
    assert train + held != items
    assert datasets.split_held_out(items, 0.2, seed=3) == (train, held)
    assert datasets.split_held_out(items, 0.2, seed=random.Random(3)) == (train, held)
    assert datasets.split_held_out(items, 0.2, seed=4) != (train, held)
    random.seed(99)
    state = random.getstate()
    datasets.split_held_out(items, 0.2, seed=None)
    assert random.getstate() == state


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: datasets.split_held_out([1, 2, 3], held_out=0.0),
            ValueError,
            "held_out must be > 0",
        ),
        (
            lambda: datasets.split_held_out([1, 2, 3], held_out=1.0),
            ValueError,
            "held_out must be < 1",
        ),
        (lambda: datasets.split_held_out([1, 2, 3], held_out=0.1), ValueError, "holds out 0"),
        (lambda: datasets.split_held_out([1, 2, 3], held_out=0.9), ValueError, "holds out 3"),
        (lambda: datasets.split_held_out([], held_out=0.5), ValueError, "of 0 items"),
        (lambda: datasets.split_held_out("abc"), TypeError, "items must be a list"),
        (lambda: datasets.split_held_out({1, 2}), TypeError, "items must be a list"),
        (
            lambda: datasets.split_held_out([1, 2], held_out=True),
            TypeError,
            "held_out must be a real",
        ),
    ],
)
def test_split_held_out_refuses_bad_arguments(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_the_examples_in_the_docstrings_run_as_shown() -> None:
    failures, tried = doctest.testmod(datasets, verbose=False)
    assert tried >= 10 and failures == 0
