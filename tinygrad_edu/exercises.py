"""Exercises that check themselves: ``check("03.neuron_grads", neuron_grads)``.

Every notebook ends with exercises. Each one is a function to write, given as a stub
(its body raises ``NotImplementedError``), and a call to :func:`check`, which runs the
answer on several inputs, edge cases included, and compares it with an independent
reference: the library's own operation and ``backward()``, an analytic formula, or
central differences. Never with a number typed in by hand.

>>> from tinygrad_edu.exercises import check
>>> def slope(x):
...     raise NotImplementedError("your code here")
>>> check("01.slope_with_backward", slope)  # doctest: +ELLIPSIS
… 01.slope_with_backward: not done yet. Fill in slope() and run the cell again.
  Hint: ...
False

A right answer prints ``✓ <id>: 4 of 4 cases right``. A wrong one prints which input
went wrong, the expected value against the one it got, and the likely mistake: for
each exercise a list of typical wrong answers (a forgotten chain-rule factor, a sign,
an overwritten gradient...) is run on the same input, and the one the answer agrees with
is named. ``check`` returns True or False and never raises on a wrong answer, so a
notebook with its stubs unfilled still runs from top to bottom; ``strict=True`` raises
an :class:`ExerciseError` (an ``AssertionError``) instead, for tests.

For teachers
------------
The notebooks hold the stubs and the checks, not the answers. The reference solutions
live in ``notebooks/solutions/`` (one file per notebook, ``nb03.py`` for notebook 3, one
function per exercise, named as in the stub), and ``tests/test_exercises.py`` checks
that each passes. To hand out the notebooks without solutions, give out the ``*.ipynb``
files of ``notebooks/`` and keep the ``solutions/`` folder back. To see what there is::

    python -m tinygrad_edu.exercises --list          # every exercise: id and title
    python -m tinygrad_edu.exercises --list 05       # the exercises of notebook 5
    python -m tinygrad_edu.exercises --show 03.neuron_grads   # its stub, to paste in a cell

An exercise of your own is an :class:`Exercise` passed to :func:`register`.
"""

from __future__ import annotations

import argparse
import difflib
import math
import numbers
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tinygrad_edu import datasets, losses, optim
from tinygrad_edu.engine import Op, Value, topological_order
from tinygrad_edu.forward import hessian, jacobian
from tinygrad_edu.functional import grad
from tinygrad_edu.fused import dot
from tinygrad_edu.nn import MLP, Embedding, Layer, Linear, attention, rms_norm

__all__ = ["Case", "Exercise", "ExerciseError", "check", "exercises", "get", "register"]


class ExerciseError(AssertionError):
    """An answer that :func:`check` (with ``strict=True``) found wrong or not done."""


@dataclass(frozen=True)
class Case:
    """One input of an exercise: how it is described, the arguments, the right answer.

    ``expected`` comes from the exercise's reference, computed when the cases are made.
    """

    label: str
    args: tuple
    expected: object


@dataclass(frozen=True)
class Exercise:
    """An exercise: the stub the learner fills in and how :func:`check` grades it.

    * ``id``: ``"<notebook>.<name>"``, as ``"03.neuron_grads"``; the notebook part is the
      prefix of the notebook's file name (``03`` for ``03_backprop_by_hand_a_neuron``).
    * ``stub``: the code given to the learner, a function whose body raises
      ``NotImplementedError``; its docstring says what to compute.
    * ``hint``: shown when the answer is not done yet or wrong.
    * ``reference``: in words, what the answer is compared with.
    * ``cases()``: makes the inputs, each with the reference's answer (made anew for
      every check, so an answer that changes its inputs changes nothing else).
    * ``run(answer, case)``: what is compared; by default ``answer(*case.args)``.
    * ``mistakes``: (message, wrong answer) pairs; when an answer agrees with a wrong
      answer on a case it got wrong, the message says what went wrong.
    """

    id: str
    title: str
    stub: str
    hint: str
    reference: str
    cases: Callable[[], list[Case]]
    mistakes: tuple[tuple[str, Callable], ...] = ()
    run: Callable[[Callable, Case], object] | None = None
    rel_tol: float = 1e-9
    abs_tol: float = 1e-12
    notebook: str = field(init=False)
    function_name: str = field(init=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d\d[a-z]?\.\w+", self.id):
            raise ValueError(f"Exercise: id {self.id!r} is not '<notebook>.<name>', as '03.x'")
        name = re.search(r"^def (\w+)\(", self.stub, re.MULTILINE)
        if name is None or "NotImplementedError" not in self.stub:
            raise ValueError(
                f"Exercise {self.id}: stub must define a function that raises NotImplementedError"
            )
        object.__setattr__(self, "notebook", self.id.split(".")[0])
        object.__setattr__(self, "function_name", name.group(1))

    def outcome(self, answer: Callable, case: Case) -> object:
        """What the answer gives on one case (what is compared with ``case.expected``)."""
        return self.run(answer, case) if self.run else answer(*case.args)


_EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the ones :func:`check` knows (its id must be new)."""
    if exercise.id in _EXERCISES:
        raise ValueError(f"register: there is already an exercise {exercise.id!r}")
    _EXERCISES[exercise.id] = exercise
    return exercise


def exercises(notebook: str | None = None) -> list[Exercise]:
    """Every exercise, in the order of the series, or those of one notebook (``"05"``)."""
    return [e for e in _EXERCISES.values() if notebook is None or e.notebook == notebook]


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; a KeyError naming the closest ids if there is none."""
    if exercise_id not in _EXERCISES:
        close = difflib.get_close_matches(str(exercise_id), _EXERCISES, n=3)
        also = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"no exercise {exercise_id!r}{also} (python -m tinygrad_edu.exercises --list)"
        )
    return _EXERCISES[exercise_id]


# --------------------------------------------------------------------------- grading


def _plain(x: object) -> object:
    """Values become floats, tuples lists, so that answers of any such shape compare."""
    if isinstance(x, Value):
        return x.data
    if isinstance(x, (list, tuple)):
        return [_plain(item) for item in x]
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(x)
    return x


def _close(expected: object, got: object, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(expected, float):
        return isinstance(got, float) and (
            got == expected or math.isclose(got, expected, rel_tol=rel_tol, abs_tol=abs_tol)
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(_close(e, g, rel_tol, abs_tol) for e, g in zip(expected, got))
        )
    return expected == got


def _numbers(x: object) -> list[float] | None:
    """All the numbers of a nested answer, in order; None if it holds anything else."""
    if isinstance(x, float):
        return [x]
    if isinstance(x, list):
        parts = [_numbers(item) for item in x]
        return None if any(p is None for p in parts) else [n for p in parts for n in p]
    return None


def _shape(x: object) -> str:
    if isinstance(x, float):
        return "a number"
    if isinstance(x, list):
        return f"a list of {len(x)}"
    return f"a {type(x).__name__}"


def _generic_mistake(expected: object, got: object) -> str | None:
    """What a wrong number says by itself: a wrong shape, twice, half, a sign, zero, nan."""
    if _shape(expected) != _shape(got):
        return f"expected {_shape(expected)}, got {_shape(got)}: look at what your function returns"
    e, g = _numbers(expected), _numbers(got)
    if e is None or g is None or len(e) != len(g):
        return None
    if any(math.isnan(x) for x in g):
        return "got nan: a 0/0 or inf - inf somewhere (an exp that overflowed?)"
    pairs = [(a, b) for a, b in zip(e, g) if abs(a) > 1e-12]
    if not pairs:
        return None
    ratios = {round(b / a, 6) for a, b in pairs}
    if len(ratios) == 1 and all(abs(b) <= 1e-12 or a != 0 for a, b in zip(e, g)):
        ratio = ratios.pop()
        messages = {
            2.0: "got twice the expected value: something is counted twice (backward() "
            "called twice without zero_grad(), or a share added twice)",
            0.5: "got half the expected value: a share is missing (a gradient overwritten "
            "instead of added, or a factor 2 forgotten)",
            -1.0: "the sign is flipped",
            0.0: "got 0 where the answer is not 0: no gradient reached this far",
        }
        if ratio in messages:
            return messages[ratio]
    if all(math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-9) for a, b in zip(e, g)):
        return (
            "close, but not within the tolerance: a finite-difference estimate or a "
            "rounded number is not the exact answer"
        )
    return None


def _describe(x: object) -> str:
    if isinstance(x, float):
        return f"{x:.10g}"
    if isinstance(x, list):
        return "[" + ", ".join(_describe(item) for item in x) + "]"
    return repr(x)


def _attempt(exercise: Exercise, answer: Callable, case: Case) -> object:
    """The answer's plain outcome on a case, or the exception it raised."""
    try:
        return _plain(exercise.outcome(answer, case))
    except NotImplementedError:
        raise
    except Exception as error:  # the learner's code may fail in any way: report it
        return error


def _same(exercise: Exercise, first: object, second: object) -> bool:
    if isinstance(first, Exception) or isinstance(second, Exception):
        return type(first) is type(second)
    return _close(first, second, exercise.rel_tol, exercise.abs_tol)


def _likely_mistake(exercise: Exercise, index: int, got: object) -> str | None:
    for message, wrong in exercise.mistakes:
        fresh = exercise.cases()[index]
        if _same(exercise, _attempt(exercise, wrong, fresh), got):
            return message
    if isinstance(got, Exception):
        return None
    return _generic_mistake(exercise.cases()[index].expected, got)


def _grade(exercise: Exercise, answer: Callable) -> tuple[bool, str]:
    """(passed, report): run the answer on every case and say what is right and wrong."""
    head = exercise.id
    hint = f"  Hint: {exercise.hint}"
    not_done = (
        f"… {head}: not done yet. Fill in {exercise.function_name}() and run the cell again.\n"
        + hint
    )
    cases = exercise.cases()
    results = []
    for case in cases:
        try:
            results.append(_attempt(exercise, answer, case))
        except NotImplementedError:
            return False, not_done
    if all(r is None for r in results):  # a body of `...` or `pass`
        return False, not_done.replace("not done yet", "not done yet (it returned None)")
    wrong = [
        i for i, (c, r) in enumerate(zip(cases, results)) if not _same(exercise, c.expected, r)
    ]
    right = len(cases) - len(wrong)
    if not wrong:
        return True, f"✓ {head}: {right} of {len(cases)} cases right ({exercise.reference})"
    first = wrong[0]
    case, got = cases[first], results[first]
    if isinstance(got, Exception):
        detail = f"your function raised {type(got).__name__}: {got}"
    else:
        detail = f"expected {_describe(case.expected)}\n    got      {_describe(got)}"
    lines = [
        f"✗ {head}: {right} of {len(cases)} cases right.",
        f"  Wrong for {case.label}:",
        f"    {detail}",
    ]
    mistake = _likely_mistake(exercise, first, got)
    if mistake:
        lines.append(f"  Likely mistake: {mistake}")
    if len(wrong) > 1:
        lines.append("  Also wrong for: " + "; ".join(cases[i].label for i in wrong[1:]))
    lines.append(hint)
    return False, "\n".join(lines)


def check(exercise_id: str, answer: Callable, *, strict: bool = False) -> bool:
    """Grade ``answer`` for the exercise ``exercise_id``; print the verdict, return True if right.

    A wrong or unfinished answer prints what went wrong and returns False (a notebook
    keeps running); with ``strict=True`` it raises :class:`ExerciseError` with the same
    text. An unknown id is a KeyError, an answer that is not a function a TypeError.
    """
    exercise = get(exercise_id)
    if not callable(answer):
        raise TypeError(
            f"check({exercise_id!r}, ...): give the function itself, "
            f"{exercise.function_name} without (), got {type(answer).__name__}"
        )
    passed, report = _grade(exercise, answer)
    if strict and not passed:
        raise ExerciseError(report)
    print(report)
    return passed


# --------------------------------------------------------------------------- references


def _gradient_of(f: Callable[..., Value], *xs: float) -> list[float]:
    """d f / d x_i at ``xs`` from the library's backward()."""
    leaves = [Value(x) for x in xs]
    f(*leaves).backward()
    return [leaf.grad for leaf in leaves]


def _value_and_grads(f: Callable[[list[Value]], Value], xs: Sequence[float]) -> list:
    """[f's value, [d f / d x_i]] with the inputs passed as one list of Values."""
    leaves = [Value(x) for x in xs]
    out = f(leaves)
    out.backward()
    return [out.data, [leaf.grad for leaf in leaves]]


def _run_on_values(answer: Callable, case: Case) -> list:
    """Value and gradients of an answer that takes a list of Values (and more arguments)."""
    xs, *rest = case.args
    return _value_and_grads(lambda leaves: answer(leaves, *rest), xs)


def _run_on_value(answer: Callable, case: Case) -> list:
    """[y, dy/dx] for an answer that maps one Value x to a Value y."""
    x = Value(case.args[0])
    y = answer(x)
    y.backward()
    return [y.data, x.grad]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _rows(rng: random.Random, n_rows: int, n_columns: int) -> list[list[float]]:
    return [[round(rng.uniform(-1.5, 1.5), 3) for _ in range(n_columns)] for _ in range(n_rows)]


def _neuron_cases(activation: str) -> list[Case]:
    inputs = [
        ("the neuron of the notebook", [0.5, -1.0, 2.0], [0.8, 0.3, -0.4], 0.2),
        ("w·x + b = 0 exactly", [1.0, 1.0], [0.5, -0.5], 0.0),
        ("a saturated neuron, w·x + b = 13", [3.0, 3.0], [2.0, 2.0], 1.0),
        ("one input", [-2.0], [0.7], 0.5),
    ]
    cases = []
    for label, x, w, b in inputs:

        def neuron(*params: Value, x: list[float] = x) -> Value:
            *ws, bias = params
            return getattr(sum((wi * xi for wi, xi in zip(ws, x)), bias), activation)()

        *dw, db = _gradient_of(neuron, *w, b)
        cases.append(Case(f"{label}: x = {x}, w = {w}, b = {b}", (x, w, b), [dw, db]))
    return cases


def _by_hand_neuron_mistakes(slope: Callable[[float, float], float], name: str) -> tuple:
    """Wrong answers to the neuron exercises: the factors a hand computation forgets."""

    def pre(x: list[float], w: list[float], b: float) -> float:
        return sum(wi * xi for wi, xi in zip(w, x)) + b

    return (
        (
            f"forgot the chain-rule factor of the activation, {name} (do/dn), which "
            "multiplies every gradient",
            lambda x, w, b: ([*x], 1.0),
        ),
        (
            f"put the pre-activation n = w·x + b into the slope formula; the slope {name} "
            "is written with the output o",
            lambda x, w, b: (
                [xi * slope(pre(x, w, b), pre(x, w, b)) for xi in x],
                slope(pre(x, w, b), pre(x, w, b)),
            ),
        ),
        (
            "do/dw_i has the other factor of the product w_i·x_i, which is x_i, not w_i",
            lambda x, w, b: (
                [wi * slope(pre(x, w, b), _activate(name, pre(x, w, b))) for wi in w],
                slope(pre(x, w, b), _activate(name, pre(x, w, b))),
            ),
        ),
    )


def _activate(name: str, n: float) -> float:
    return math.tanh(n) if name.startswith("1 - o") else _sigmoid(n)


# --------------------------------------------------------------------------- 01


def _quadratic_in_each(x: object, y: object) -> object:
    return x * x * y - 3 * x * y * y + 2 * y


def _bilinear(x: object, y: object) -> object:
    return (x - 2 * y) * (x + y) + x


def _nudge_cases() -> list[Case]:
    inputs = [
        ("f = x²y - 3xy² + 2y at (1, 2), h = 1e-5", _quadratic_in_each, 1.0, 2.0, 1e-5),
        ("f = x²y - 3xy² + 2y at (-0.5, 0.3), h = 0.1", _quadratic_in_each, -0.5, 0.3, 0.1),
        ("f = (x - 2y)(x + y) + x at (0, 0), h = 0.5", _bilinear, 0.0, 0.0, 0.5),
    ]
    return [Case(label, (f, x, y, h), list(grad(f, (0, 1))(x, y))) for label, f, x, y, h in inputs]


register(
    Exercise(
        id="01.nudge",
        title="Partial slopes by nudging one input at a time",
        stub='''def partial_slopes(f, x, y, h=1e-5):
    """(df/dx, df/dy) of f(x, y) by central differences: nudge x by ±h with y fixed, then y."""
    raise NotImplementedError("your code here")
''',
        hint="df/dx ≈ (f(x + h, y) - f(x - h, y)) / (2h); the same for y with x held still.",
        reference="compared with grad(f, (0, 1)); these f are quadratic in each input, so "
        "central differences are exact for any h",
        cases=_nudge_cases,
        mistakes=(
            (
                "x and y were nudged together; nudge one input and keep the other fixed",
                lambda f, x, y, h: [(f(x + h, y + h) - f(x - h, y - h)) / (2 * h)] * 2,
            ),
            (
                "this is the forward difference (f(x + h) - f(x)) / h, whose error shrinks "
                "only like h; use f(x + h) - f(x - h) over 2h",
                lambda f, x, y, h: [(f(x + h, y) - f(x, y)) / h, (f(x, y + h) - f(x, y)) / h],
            ),
            (
                "the two slopes are swapped: return (df/dx, df/dy) in this order",
                lambda f, x, y, h: [
                    (f(x, y + h) - f(x, y - h)) / (2 * h),
                    (f(x + h, y) - f(x - h, y)) / (2 * h),
                ],
            ),
        ),
        rel_tol=1e-7,
        abs_tol=1e-9,
    )
)


def _x2_sin(x: object) -> object:
    return x * x * (x.sin() if isinstance(x, Value) else math.sin(x))


register(
    Exercise(
        id="01.slope_with_backward",
        title="The exact slope of x² sin x with backward()",
        stub='''def slope(x):
    """The slope of f(x) = x² sin(x) at the float x, exactly: from a Value and backward()."""
    raise NotImplementedError("your code here")
''',
        hint="v = Value(x); y = v * v * v.sin(); y.backward(); the slope is v.grad.",
        reference="compared with the formula 2x sin x + x² cos x",
        cases=lambda: [
            Case(f"x = {x}", (x,), 2 * x * math.sin(x) + x * x * math.cos(x))
            for x in (1.0, 0.0, -2.5, 10.0)
        ],
        mistakes=(
            ("this is f(x) itself (y.data); the slope is the input's .grad", _x2_sin),
            (
                "close, but not exact: a finite difference only estimates the slope; "
                "backward() gives it exactly",
                lambda x: (_x2_sin(x + 1e-5) - _x2_sin(x - 1e-5)) / 2e-5,
            ),
        ),
        rel_tol=1e-12,
    )
)


def _nudges() -> list[float]:
    return [10.0**-k for k in range(1, 16)]


def _best_nudge_cases() -> list[Case]:
    def best(f: Callable[[float], float], x: float, slope: float) -> float:
        errors = {h: abs((f(x + h) - f(x - h)) / (2 * h) - slope) for h in _nudges()}
        return min(errors, key=errors.__getitem__)

    inputs = [
        ("sin at x = 1", math.sin, 1.0, math.cos(1.0)),
        ("exp at x = 0", math.exp, 0.0, 1.0),
        ("x³ at x = 2", lambda t: t**3, 2.0, 12.0),
        ("log at x = 3", math.log, 3.0, 1 / 3),
    ]
    return [Case(label, (f, x, s), best(f, x, s)) for label, f, x, s in inputs]


register(
    Exercise(
        id="01.best_nudge",
        title="Find the best nudge",
        stub='''def best_nudge(f, x, true_slope):
    """Of h = 1e-1, 1e-2, ..., 1e-15, the one whose central difference
    (f(x + h) - f(x - h)) / (2h) is closest to true_slope."""
    raise NotImplementedError("your code here")
''',
        hint="Compute the error |estimate - true_slope| for each h and return the h with the "
        "smallest one (min with key=...).",
        reference="compared with the errors of every nudge, measured on the same functions",
        cases=_best_nudge_cases,
        mistakes=(
            (
                "the smallest nudge is not the best: rounding error grows like ε/h as h shrinks",
                lambda f, x, s: 1e-15,
            ),
            (
                "this is the best nudge of the forward difference; the exercise asks for the "
                "central one",
                lambda f, x, s: min(_nudges(), key=lambda h: abs((f(x + h) - f(x)) / h - s)),
            ),
        ),
        rel_tol=0.0,
        abs_tol=0.0,
    )
)


# --------------------------------------------------------------------------- 02


def _m(p: Value, q: Value, r: Value) -> Value:
    return (p * q).sin() / r


register(
    Exercise(
        id="02.chain_by_hand",
        title="The chain rule by hand: m = sin(p·q) / r",
        stub='''def chain_by_hand(p, q, r):
    """(dm/dp, dm/dq, dm/dr) for m = sin(p·q) / r, with math and plain floats:
    steps u = p·q, s = sin(u), m = s / r; multiply the local derivatives along each path."""
    raise NotImplementedError("your code here")
''',
        hint="dm/ds = 1/r, ds/du = cos(u), du/dp = q, du/dq = p, and dm/dr = -s / r².",
        reference="compared with backward() on the same expression",
        cases=lambda: [
            Case(f"p = {p}, q = {q}, r = {r}", (p, q, r), _gradient_of(_m, p, q, r))
            for p, q, r in [(0.5, 2.0, 4.0), (1.0, -1.0, 0.5), (0.0, 3.0, 2.0), (2.0, 2.0, -1.0)]
        ],
        mistakes=(
            (
                "forgot the local derivative ds/du = cos(p·q) on the paths from m to p and q",
                lambda p, q, r: [q / r, p / r, -math.sin(p * q) / r**2],
            ),
            (
                "dm/dr is -s / r²: the derivative of 1/r is -1/r²",
                lambda p, q, r: [
                    math.cos(p * q) * q / r,
                    math.cos(p * q) * p / r,
                    math.sin(p * q) / r**2,
                ],
            ),
            (
                "dm/dp takes the factor du/dp = q (the other factor of p·q), not p",
                lambda p, q, r: [
                    math.cos(p * q) * p / r,
                    math.cos(p * q) * q / r,
                    -math.sin(p * q) / r**2,
                ],
            ),
        ),
        rel_tol=1e-12,
    )
)


def _graphs() -> list[tuple[str, Callable[[], tuple[Value, list[Value]]]]]:
    """Small graphs, made anew on each call: (description, () -> (root, leaves))."""

    def notebook() -> tuple[Value, list[Value]]:
        a, b, c = Value(2.0, "a"), Value(-0.5, "b"), Value(3.0, "c")
        return ((a * b + c) ** 2).log(), [a, b, c]

    def shared() -> tuple[Value, list[Value]]:
        a, b = Value(3.0, "a"), Value(-2.0, "b")
        return a * b + a, [a, b]

    def square() -> tuple[Value, list[Value]]:
        a = Value(3.0, "a")
        return a * a, [a]

    def diamond() -> tuple[Value, list[Value]]:
        a, b = Value(0.5, "a"), Value(-1.5, "b")
        x = a + b
        x.label = "x"
        return x * x + x.exp() * a, [a, b]

    def chain() -> tuple[Value, list[Value]]:
        a = Value(0.1, "a")
        y = a
        for _ in range(200):
            y = (y * 1.01).tanh() + a * 0.001
        return y, [a]

    return [
        ("y = log((a·b + c)²)", notebook),
        ("y = a·b + a (a used twice)", shared),
        ("y = a·a", square),
        ("y = x·x + exp(x)·a with x = a + b", diamond),
        ("a chain of 400 nodes", chain),
    ]


def _order_problem(order: object, root: Value) -> str:
    """What is wrong with a claimed topological order of root's graph ('' if nothing)."""
    if not isinstance(order, (list, tuple)):
        return f"returned {type(order).__name__}, not a list of nodes"
    nodes = topological_order(root)
    counts: dict[int, int] = {}
    for node in order:
        counts[id(node)] = counts.get(id(node), 0) + 1
    for node in nodes:
        if counts.get(id(node), 0) != 1:
            name = node.label or node.op or "a node"
            return f"{name!r} appears {counts.get(id(node), 0)} times, not once"
    if len(order) != len(nodes):
        return f"{len(order)} items for a graph of {len(nodes)} nodes"
    position = {id(node): i for i, node in enumerate(order)}
    for node in nodes:
        for parent in node.parents:
            if position[id(parent)] > position[id(node)]:
                return "a node comes before one of its parents"
    return ""


register(
    Exercise(
        id="02.topological_order",
        title="A topological order of your own",
        stub='''def my_topological_order(root):
    """Every node of root's graph once, each after all of its parents (root last).
    Walk node.parents depth first, with a set of the nodes already visited."""
    raise NotImplementedError("your code here")
''',
        hint="def visit(node): if not seen, mark it, visit each parent, then append the node; "
        "visit(root) and return the list.",
        reference="checked node by node against the graph: every node once, after its parents",
        cases=lambda: [Case(label, (make,), "") for label, make in _graphs()],
        run=lambda answer, case: _run_order(answer, case),
        mistakes=(
            (
                "the root comes first: append a node after its parents, or reverse the list",
                lambda root: list(reversed(topological_order(root))),
            ),
            (
                "a node used twice is listed twice: keep a set of the nodes already visited",
                lambda root: _order_without_visited_set(root),
            ),
        ),
    )
)


def _run_order(answer: Callable, case: Case) -> str:
    root, _ = case.args[0]()
    return _order_problem(answer(root), root)


def _order_without_visited_set(root: Value) -> list[Value]:
    order: list[Value] = []

    def visit(node: Value) -> None:
        for parent in node.parents:
            visit(parent)
        order.append(node)

    visit(root)
    return order


def _grads_after(backward: Callable[[Value], object], make: Callable) -> list[float]:
    root, leaves = make()
    backward(root)
    return [leaf.grad for leaf in leaves]


def _overwriting_backward(root: Value) -> None:
    root.grad = 1.0
    for node in reversed(topological_order(root)):
        for parent, local in zip(node.parents, node.local_grads):
            parent.grad = local * node.grad


register(
    Exercise(
        id="02.backward",
        title="backward() of your own",
        stub='''def my_backward(root):
    """Fill in .grad of every node of root's graph, as root.backward() does (returns nothing):
    root.grad = 1, then each node, in reverse topological order, passes
    local_grad * node.grad on to each of its parents (node.parents, node.local_grads)."""
    raise NotImplementedError("your code here")
''',
        hint="root.grad = 1.0; for node in reversed(topological_order(root)): for parent, local "
        "in zip(node.parents, node.local_grads): parent.grad += local * node.grad",
        reference="compared with the library's backward() on the same graph",
        cases=lambda: [
            Case(label, (make,), _grads_after(Value.backward, make)) for label, make in _graphs()
        ],
        run=lambda answer, case: _grads_after(answer, case.args[0]),
        mistakes=(
            (
                "a node used twice keeps only its last share: add (+=) to parent.grad, "
                "do not overwrite it",
                _overwriting_backward,
            ),
            (
                "every gradient is 0: the walk starts from root.grad = 1 and goes from the root "
                "back to the leaves (reverse topological order)",
                lambda root: None,
            ),
        ),
        rel_tol=1e-12,
    )
)


# --------------------------------------------------------------------------- 03


register(
    Exercise(
        id="03.neuron_grads",
        title="A tanh neuron's gradients by hand",
        stub='''def neuron_grads(x, w, b):
    """For o = tanh(w·x + b) (x and w lists of floats, b a float), with plain floats:
    ([do/dw_1, do/dw_2, ...], do/db)."""
    raise NotImplementedError("your code here")
''',
        hint="o = tanh(n) with n = w·x + b; do/dn = 1 - o², dn/dw_i = x_i and dn/db = 1.",
        reference="compared with backward() through a tanh neuron",
        cases=lambda: _neuron_cases("tanh"),
        mistakes=_by_hand_neuron_mistakes(lambda n, o: 1 - o * o, "1 - o²"),
        rel_tol=1e-12,
        abs_tol=1e-15,
    )
)

register(
    Exercise(
        id="03.sigmoid_neuron",
        title="A sigmoid neuron's gradients by hand",
        stub='''def sigmoid_neuron_grads(x, w, b):
    """For o = sigmoid(w·x + b) = 1 / (1 + exp(-(w·x + b))), with plain floats:
    ([do/dw_1, do/dw_2, ...], do/db)."""
    raise NotImplementedError("your code here")
''',
        hint="Only the first step of the walk changes: sigmoid's slope is o (1 - o).",
        reference="compared with backward() through a sigmoid neuron",
        cases=lambda: _neuron_cases("sigmoid"),
        mistakes=(
            (
                "1 - o² is tanh's slope; sigmoid's is o (1 - o)",
                lambda x, w, b: _neuron_by_slope(x, w, b, _sigmoid, lambda o: 1 - o * o),
            ),
            *_by_hand_neuron_mistakes(lambda n, o: o * (1 - o), "o (1 - o)"),
        ),
        rel_tol=1e-12,
        abs_tol=1e-15,
    )
)


def _neuron_by_slope(x: list, w: list, b: float, f: Callable, slope: Callable) -> tuple:
    o = f(sum(wi * xi for wi, xi in zip(w, x)) + b)
    return [xi * slope(o) for xi in x], slope(o)


def _z(x: Value, y: Value, w: Value) -> Value:
    return x * y + x * w + y


register(
    Exercise(
        id="03.shared_uses",
        title="Shared in the middle: z = x·y + x·w + y",
        stub='''def shared_grads(x, y, w):
    """(dz/dx, dz/dy, dz/dw) for z = x·y + x·w + y, by hand, with plain floats."""
    raise NotImplementedError("your code here")
''',
        hint="x and y are each used twice: each use sends back its own share; the shares add up.",
        reference="compared with backward()",
        cases=lambda: [
            Case(f"x = {x}, y = {y}, w = {w}", (x, y, w), _gradient_of(_z, x, y, w))
            for x, y, w in [(2.0, -3.0, 0.5), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (-1.5, 4.0, 2.0)]
        ],
        mistakes=(
            (
                "only one share of each input is counted: x is used in x·y and x·w, "
                "y in x·y and on its own; add the shares of every use",
                lambda x, y, w: [y, x, x],
            ),
        ),
    )
)


# --------------------------------------------------------------------------- 04


_SIZES = [(2, [16, 16, 1]), (3, [8, 8, 2]), (1, [1]), (10, [5]), (4, [3, 3, 3, 3])]

register(
    Exercise(
        id="04.num_parameters",
        title="Count the parameters of an MLP",
        stub='''def count_parameters(nin, nouts):
    """How many parameters MLP(nin, nouts) has (weights and biases), from the sizes alone."""
    raise NotImplementedError("your code here")
''',
        hint="Layer k has n_k neurons with n_(k-1) weights and one bias each.",
        reference="compared with MLP(nin, nouts).num_parameters()",
        cases=lambda: [
            Case(f"MLP({nin}, {nouts})", (nin, nouts), MLP(nin, nouts, seed=0).num_parameters())
            for nin, nouts in _SIZES
        ],
        mistakes=(
            (
                "the biases are missing: each neuron has one weight per input plus a bias",
                lambda nin, nouts: sum(a * b for a, b in zip([nin, *nouts], nouts)),
            ),
            (
                "that is the number of neurons; count their weights and biases",
                lambda nin, nouts: sum(nouts),
            ),
        ),
    )
)


def _layer_case(label: str, W: list, b: list, x: list) -> Case:  # noqa: N803
    layer = Layer(len(x), len(W), activation="relu", seed=0)
    state = {f"neurons.{i}.w.{j}": W[i][j] for i in range(len(W)) for j in range(len(x))}
    layer.load_state_dict(state | {f"neurons.{i}.b": b[i] for i in range(len(W))})
    out = layer(x)
    return Case(label, (W, b, x), [v.data for v in (out if isinstance(out, list) else [out])])


register(
    Exercise(
        id="04.layer_forward",
        title="A relu layer with plain floats",
        stub='''def layer_forward(weights, biases, x):
    """relu(W x + b) with plain floats: weights is W, a list of rows (row i makes output i),
    biases is b, a list, and x a list of inputs. Returns a list."""
    raise NotImplementedError("your code here")
''',
        hint="Output i is max(0, sum_j weights[i][j] * x[j] + biases[i]).",
        reference="compared with a relu Layer holding the same weights",
        cases=lambda: [
            _layer_case("a square W", [[1.0, 2.0], [-0.5, 3.0]], [0.1, -0.2], [0.3, -1.0]),
            _layer_case(
                "3 inputs, 2 outputs",
                [[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]],
                [0.0, -3.5],
                [1.0, 2.0, 0.5],
            ),
            _layer_case("w·x + b = 0 exactly", [[2.0]], [-1.0], [0.5]),
            _layer_case(
                "2 inputs, 3 outputs",
                [[0.2, 0.4], [-1.0, 0.0], [3.0, -3.0]],
                [1.0, 0.5, 0.0],
                [-2.0, 1.0],
            ),
        ],
        mistakes=(
            (
                "negative outputs: relu(z) = max(0, z) is missing",
                lambda m, b, x: [sum(w * v for w, v in zip(row, x)) + bi for row, bi in zip(m, b)],
            ),
            (
                "the bias b is missing",
                lambda m, b, x: [max(0.0, sum(w * v for w, v in zip(row, x))) for row in m],
            ),
            (
                "output i used column i of W; it is row i, W[i], times x",
                lambda m, b, x: [
                    max(0.0, sum(m[j][i] * x[j] for j in range(len(x))) + b[i])
                    for i in range(len(m))
                ],
            ),
        ),
        rel_tol=1e-12,
    )
)


def _dead(model: MLP, x: list[float]) -> list[float]:
    """Hidden neurons of the first layer that pass no gradient back: from backward()."""
    model.zero_grad()
    out = model(x)
    (sum(out) if isinstance(out, list) else out).backward()
    return [
        float(i)
        for i, n in enumerate(model.layers[0].neurons)
        if all(p.grad == 0.0 for p in n.parameters())
    ]


_DEAD_CASES = [
    ("MLP(2, [8, 1], seed=0) at [0.5, -1]", (2, [8, 1], 0), [0.5, -1.0]),
    ("MLP(3, [6, 6, 1], seed=1) at [1, 0.2, -0.7]", (3, [6, 6, 1], 1), [1.0, 0.2, -0.7]),
    ("MLP(2, [4, 1], seed=2) at [0, 0], where w·x + b = 0 exactly", (2, [4, 1], 2), [0.0, 0.0]),
]

register(
    Exercise(
        id="04.dead_neurons",
        title="Which hidden neurons send no gradient back?",
        stub='''def dead_neurons(model, x):
    """Indices of model's first-layer neurons that are off at x (w·x + b <= 0), so that
    their weights get no gradient. model.layers[0].neurons[i] has .w (a list) and .b."""
    raise NotImplementedError("your code here")
''',
        hint="For each neuron compute n = sum(w.data * xj) + b.data; it is off when n <= 0.",
        reference="compared with the neurons whose weights get gradient 0 from backward()",
        cases=lambda: [
            Case(label, (MLP(nin, nouts, seed=seed), x), _dead(MLP(nin, nouts, seed=seed), x))
            for label, (nin, nouts, seed), x in _DEAD_CASES
        ],
        mistakes=(
            (
                "a neuron with w·x + b = 0 exactly is off too: relu's slope at 0 is 0",
                lambda model, x: [
                    i
                    for i, n in enumerate(model.layers[0].neurons)
                    if sum(w.data * v for w, v in zip(n.w, x)) + n.b.data < 0
                ],
            ),
        ),
    )
)


# --------------------------------------------------------------------------- 05


def _loss_cases(make: Callable[[list, list], Value], inputs: list[tuple]) -> list[Case]:
    return [
        Case(label, (scores, labels), _value_and_grads(lambda s, t=labels: make(s, t), scores))
        for label, scores, labels in inputs
    ]


def _hinge_naive_sum(scores: list[Value], labels: list[float]) -> Value:
    return sum(((1 - t * s).relu() for s, t in zip(scores, labels)), Value(0.0))


register(
    Exercise(
        id="05.hinge_loss",
        title="The hinge loss",
        stub='''def hinge(scores, labels):
    """mean over i of max(0, 1 - t_i s_i): scores a list of Values, labels t_i = ±1. A Value."""
    raise NotImplementedError("your code here")
''',
        hint="(1 - t * s).relu() is max(0, 1 - t s) as a Value; add them up and divide by n.",
        reference="value and gradients compared with losses.hinge_loss",
        cases=lambda: _loss_cases(
            losses.hinge_loss,
            [
                ("mixed scores", [0.5, -2.0, 1.5, 0.2], [1.0, 1.0, -1.0, -1.0]),
                ("every point beyond the margin (loss 0)", [2.0, -3.0], [1.0, -1.0]),
                ("a point exactly on the margin, t s = 1", [1.0, 0.0], [1.0, -1.0]),
                ("one point", [-0.25], [1.0]),
            ],
        ),
        run=_run_on_values,
        mistakes=(
            (
                "the sum, not the mean: divide by the number of points",
                _hinge_naive_sum,
            ),
            (
                "the margin is missing: max(0, -t s) is 0 for every right answer, however close",
                lambda s, t: sum(((-ti * si).relu() for si, ti in zip(s, t)), Value(0.0)) / len(s),
            ),
        ),
        rel_tol=1e-12,
    )
)


def _naive_bce(logits: list[Value], targets: list[float]) -> Value:
    terms = [(1 + z.exp()).log() - y * z for z, y in zip(logits, targets)]
    return sum(terms, Value(0.0)) / len(terms)


register(
    Exercise(
        id="05.bce",
        title="Binary cross-entropy that does not overflow",
        stub='''def bce(logits, targets):
    """mean over i of log(1 + e^z_i) - y_i z_i: logits z a list of Values, targets y_i in {0, 1}.
    A Value, right for logits of ±1000 too (where e^z overflows)."""
    raise NotImplementedError("your code here")
''',
        hint="log(1 + e^z) = max(z, 0) + log(1 + e^(-|z|)): e^(-|z|) never overflows. "
        "z.relu() is max(z, 0), and -|z| is z - 2 * z.relu().",
        reference="value and gradients compared with losses.binary_cross_entropy_with_logits",
        cases=lambda: _loss_cases(
            losses.binary_cross_entropy_with_logits,
            [
                ("moderate logits", [0.5, -1.0, 2.0], [1.0, 0.0, 0.0]),
                ("a logit of 0", [0.0], [1.0]),
                ("logits of ±1000", [1000.0, -1000.0, 1000.0], [0.0, 1.0, 1.0]),
            ],
        ),
        run=_run_on_values,
        mistakes=(
            (
                "e^z overflows for large logits: write log(1 + e^z) as "
                "max(z, 0) + log(1 + e^(-|z|))",
                _naive_bce,
            ),
        ),
        rel_tol=1e-12,
    )
)


def _training_run(step: Callable, steps: int) -> list:
    """Losses and final weights of `steps` training steps of a small model on the moons."""
    X, labels = datasets.make_moons(20, noise=0.1, seed=0)  # noqa: N806
    signs = [2.0 * t - 1.0 for t in labels]
    model = MLP(2, [8, 1], seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.2)
    history = [step(model, X, signs, optimizer) for _ in range(steps)]
    return [history, [p.data for p in model.parameters()]]


def _library_step(model: MLP, X: list, y: list, optimizer: optim.Optimizer) -> float:  # noqa: N803
    optimizer.zero_grad()
    loss = losses.hinge_loss([model(x) for x in X], y)
    loss.backward()
    optimizer.step()
    return loss.data


def _step_without_zero_grad(model: MLP, X: list, y: list, optimizer: optim.Optimizer) -> float:  # noqa: N803
    loss = losses.hinge_loss([model(x) for x in X], y)
    loss.backward()
    optimizer.step()
    return loss.data


def _step_zero_grad_late(model: MLP, X: list, y: list, optimizer: optim.Optimizer) -> float:  # noqa: N803
    loss = losses.hinge_loss([model(x) for x in X], y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.data


register(
    Exercise(
        id="05.training_step",
        title="One training step",
        stub='''def training_step(model, inputs, labels, optimizer):
    """One step of training: clear the gradients, compute the hinge loss of model's scores
    on the inputs against the labels (±1), backpropagate, move the weights.
    Returns the loss (a float)."""
    raise NotImplementedError("your code here")
''',
        hint="optimizer.zero_grad(); loss = losses.hinge_loss([model(x) for x in inputs], labels); "
        "loss.backward(); optimizer.step(); return loss.data",
        reference="losses and weights compared with the same steps of the library's hinge "
        "loss and SGD on a copy of the model",
        cases=lambda: [
            Case(
                f"{n} step{'s' * (n > 1)} of SGD on 20 moons", (n,), _training_run(_library_step, n)
            )
            for n in (1, 3)
        ],
        run=lambda answer, case: _training_run(answer, case.args[0]),
        mistakes=(
            (
                "the weights did not move: zero_grad() between backward() and step() erased "
                "the gradients; clear them first",
                _step_zero_grad_late,
            ),
            (
                "the gradients of the earlier steps were added to this one: call "
                "optimizer.zero_grad() before backward()",
                _step_without_zero_grad,
            ),
        ),
        rel_tol=1e-12,
    )
)


# --------------------------------------------------------------------------- 06

_GRADIENT_RUNS = [
    ("one step", [[1.0, -2.0]]),
    ("three steps", [[1.0, -2.0], [0.5, 0.5], [-1.0, 3.0]]),
    ("a gradient of 0", [[0.0, 0.0], [0.0, 4.0]]),
]


def _run_optimizer(update: Callable, grads_per_step: list[list[float]]) -> list[float]:
    """Parameters from [0.5, -1.0] after one update per gradient list."""
    params = [Value(0.5), Value(-1.0)]
    update = update(params)
    for grads in grads_per_step:
        for p, g in zip(params, grads):
            p.grad = g
        update()
    return [p.data for p in params]


def _momentum_answer(answer: Callable, lr: float, momentum: float) -> Callable:
    def start(params: list[Value]) -> Callable[[], None]:
        velocities = [0.0] * len(params)

        def update() -> None:
            nonlocal velocities
            velocities = answer(params, velocities, lr, momentum)

        return update

    return start


register(
    Exercise(
        id="06.momentum_step",
        title="SGD with momentum",
        stub='''def momentum_step(params, velocities, lr, momentum):
    """One update as optim.SGD(params, lr, momentum) makes it: for each parameter p (a Value
    with p.grad) and its velocity b (a float, 0 at first): b = momentum * b + p.grad,
    then p.data -= lr * b. Returns the new velocities, a list."""
    raise NotImplementedError("your code here")
''',
        hint="Loop over zip(params, velocities): compute the new b, then move p.data with it.",
        reference="parameters compared with optim.SGD(params, lr=0.1, momentum=0.9)",
        cases=lambda: [
            Case(
                label,
                (grads,),
                _run_optimizer(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9).step, grads),
            )
            for label, grads in _GRADIENT_RUNS
        ],
        run=lambda answer, case: _run_optimizer(_momentum_answer(answer, 0.1, 0.9), case.args[0]),
        mistakes=(
            (
                "the parameters moved uphill: subtract lr * b from p.data",
                lambda ps, bs, lr, mu: _momentum_rule(ps, bs, -lr, lambda b, g: mu * b + g),
            ),
            (
                "the velocity did not carry over from step to step: b = momentum * b + grad",
                lambda ps, bs, lr, mu: _momentum_rule(ps, bs, lr, lambda b, g: g),
            ),
            (
                "b = momentum * b + (1 - momentum) * grad is an average; "
                "optim.SGD adds the whole gradient",
                lambda ps, bs, lr, mu: _momentum_rule(
                    ps, bs, lr, lambda b, g: mu * b + (1 - mu) * g
                ),
            ),
        ),
        rel_tol=1e-12,
    )
)


def _momentum_rule(params: list[Value], velocities: list[float], lr: float, rule: Callable) -> list:
    new = [rule(b, p.grad) for p, b in zip(params, velocities)]
    for p, b in zip(params, new):
        p.data -= lr * b
    return new


def _adam_reference(grads: list[float], lr: float = 0.1) -> list[float]:
    p = Value(0.0)
    optimizer = optim.Adam([p], lr=lr)
    path = []
    for g in grads:
        p.grad = g
        optimizer.step()
        path.append(p.data)
    return path


def _adam_without_correction(
    grads: list[float], lr: float = 0.1, betas=(0.9, 0.999), eps=1e-8
) -> list:
    p, m, v, path = 0.0, 0.0, 0.0, []
    for g in grads:
        m, v = betas[0] * m + (1 - betas[0]) * g, betas[1] * v + (1 - betas[1]) * g * g
        p -= lr * m / (math.sqrt(v) + eps)
        path.append(p)
    return path


register(
    Exercise(
        id="06.adam_updates",
        title="Adam by hand",
        stub='''def adam_updates(grads, lr=0.1, betas=(0.9, 0.999), eps=1e-8):
    """Adam with plain floats on one parameter that starts at 0.0: the parameter after each
    step, one step per gradient in grads. Returns a list, as long as grads."""
    raise NotImplementedError("your code here")
''',
        hint="m = β1 m + (1 - β1) g; v = β2 v + (1 - β2) g²; m̂ = m / (1 - β1^t); "
        "v̂ = v / (1 - β2^t); p -= lr m̂ / (√v̂ + eps), with t = 1, 2, ...",
        reference="compared with optim.Adam(lr=0.1) on a parameter given each gradient in turn",
        cases=lambda: [
            Case(f"gradients {g}", (g,), _adam_reference(g))
            for g in ([1.0], [1.0, 1.0, 1.0], [100.0, -0.01, 5.0, 5.0], [0.0, 0.0])
        ],
        mistakes=(
            (
                "the first steps are too small: the bias corrections m / (1 - β1^t) and "
                "v / (1 - β2^t) are missing (t counts from 1)",
                _adam_without_correction,
            ),
        ),
        rel_tol=1e-9,
    )
)


register(
    Exercise(
        id="06.critical_learning_rate",
        title="The edge of stability",
        stub='''def critical_learning_rate(curvature):
    """The learning rate above which SGD diverges on f(x) = curvature / 2 · x²."""
    raise NotImplementedError("your code here")
''',
        hint="One SGD step multiplies x by 1 - lr · curvature: x shrinks while "
        "|1 - lr · curvature| < 1.",
        reference="compared with the formula 2 / curvature (the tests confirm it with optim.SGD)",
        cases=lambda: [Case(f"curvature {c}", (c,), 2.0 / c) for c in (1.0, 2.0, 100.0, 0.01)],
        mistakes=(
            (
                "1 / curvature is the learning rate that jumps straight to the bottom (Newton's "
                "step); SGD still converges, zigzagging, up to twice that",
                lambda c: 1.0 / c,
            ),
        ),
        rel_tol=1e-12,
    )
)


# --------------------------------------------------------------------------- 07


def _numerical_cases() -> list[Case]:
    def f(x: object, y: object, z: object) -> object:
        return x * y * y - z * x + 3 * z * z

    def g(x: object, y: object) -> object:
        return (x * y).tanh() + x * x if isinstance(x, Value) else math.tanh(x * y) + x * x

    inputs = [
        ("f = x y² - z x + 3 z² at (1, 2, -1), eps = 0.1", f, [1.0, 2.0, -1.0], 0.1),
        ("f = x y² - z x + 3 z² at (0, 0, 0), eps = 0.5", f, [0.0, 0.0, 0.0], 0.5),
        ("g = tanh(x y) + x² at (0.3, -0.7), eps = 1e-6", g, [0.3, -0.7], 1e-6),
    ]
    return [
        Case(label, (fn, xs, eps), list(grad(fn, tuple(range(len(xs))))(*xs)))
        for label, fn, xs, eps in inputs
    ]


def _numerical_without_restoring(f: Callable, inputs: list[float], eps: float) -> list[float]:
    point, slopes = list(inputs), []
    for i in range(len(point)):
        point[i] += eps
        up = f(*point)
        point[i] -= 2 * eps
        slopes.append((up - f(*point)) / (2 * eps))
    return slopes


register(
    Exercise(
        id="07.numerical_gradient",
        title="Numerical gradients, input by input",
        stub='''def my_numerical_gradient(f, inputs, eps=1e-6):
    """Central-difference estimates of df/dx_i, one per input (inputs is a list of floats):
    nudge input i up and down by eps, the others as they are. Returns a list."""
    raise NotImplementedError("your code here")
''',
        hint="For each i: up = list(inputs); up[i] += eps; down likewise with -eps; "
        "(f(*up) - f(*down)) / (2 * eps).",
        reference="compared with grad (the f with eps ≥ 0.1 are quadratic in each input, so "
        "central differences are exact there)",
        cases=_numerical_cases,
        mistakes=(
            (
                "this is the forward difference (f(x + eps) - f(x)) / eps; "
                "use f(x + eps) - f(x - eps) over 2 eps",
                lambda f, xs, eps: [
                    (f(*[x + eps * (j == i) for j, x in enumerate(xs)]) - f(*xs)) / eps
                    for i in range(len(xs))
                ],
            ),
            (
                "input i stayed nudged (by -eps) while the next inputs were nudged: "
                "start each nudge from a fresh copy of the inputs",
                _numerical_without_restoring,
            ),
        ),
        rel_tol=1e-6,
        abs_tol=1e-8,
    )
)


register(
    Exercise(
        id="07.fix_the_cut",
        title="Fix the cut graph",
        stub='''def cube(v):
    """v³ for a Value v, with a gradient that backward() gets right
    (the broken version was v * v * v.data)."""
    raise NotImplementedError("your code here")
''',
        hint="Every factor must be a Value in the graph: v * v * v, or v ** 3.",
        reference="value and slope compared with x³ and 3x²",
        cases=lambda: [Case(f"x = {x}", (x,), [x**3, 3 * x * x]) for x in (2.0, -1.5, 0.0, 10.0)],
        run=_run_on_value,
        mistakes=(
            (
                "the gradient is 2/3 of the true one: v.data is a plain number, so "
                "backpropagation sees v · v · constant",
                lambda v: v * v * v.data,
            ),
        ),
        rel_tol=1e-12,
    )
)


def _softplus_reference(x: float) -> list[float]:
    return [max(x, 0.0) + math.log1p(math.exp(-abs(x))), _sigmoid(x)]


register(
    Exercise(
        id="07.stable_softplus",
        title="A softplus that does not overflow",
        stub='''def softplus(x):
    """log(1 + e^x) for a Value x, as a Value, right for x = ±800 too."""
    raise NotImplementedError("your code here")
''',
        hint="log(1 + e^x) = m + log(e^-m + e^(x - m)) for any m; take m = max(x.data, 0.0) "
        "(a plain number is fine here: the value does not depend on m).",
        reference="value and slope compared with max(x, 0) + log1p(e^-|x|) and sigmoid(x)",
        cases=lambda: [
            Case(f"x = {x}", (x,), _softplus_reference(x)) for x in (-3.0, 0.5, 40.0, 800.0, -800.0)
        ],
        run=_run_on_value,
        mistakes=(
            (
                "e^x overflows for large x: subtract m = max(x, 0) before exp",
                lambda x: (1 + x.exp()).log(),
            ),
        ),
        rel_tol=1e-12,
        abs_tol=1e-300,
    )
)


# --------------------------------------------------------------------------- 08

_THIRD = [
    (
        "tanh at 0.5",
        lambda x: x.tanh(),
        0.5,
        lambda t: -2 * (1 - t * t) * (1 - 3 * t * t),
        math.tanh,
    ),
    ("sin at 1", lambda x: x.sin(), 1.0, lambda s: -math.cos(1.0), math.sin),
    ("x⁴ at -1", lambda x: x**4, -1.0, lambda _: -24.0, None),
    ("e^(2x) at 0.3", lambda x: (2 * x).exp(), 0.3, lambda _: 8 * math.exp(0.6), None),
]

register(
    Exercise(
        id="08.third_derivative",
        title="Third derivatives with nested grad",
        stub='''def third_derivative(f):
    """A function that computes the third derivative of f (a Value to a Value), from nested grad."""
    raise NotImplementedError("your code here")
''',
        hint="grad(f) is f', a function like f; apply grad to it again, and again.",
        reference="compared with the formulas for tanh''', sin''', (x⁴)''' and (e^2x)'''",
        cases=lambda: [
            Case(label, (f, x), formula(inner(x) if inner else x))
            for label, f, x, formula, inner in _THIRD
        ],
        run=lambda answer, case: answer(case.args[0])(case.args[1]),
        mistakes=(
            ("that is f'': one grad short", lambda f: grad(grad(f))),
            (
                "that is the fourth derivative: one grad too many",
                lambda f: grad(grad(grad(grad(f)))),
            ),
        ),
        rel_tol=1e-12,
    )
)


_NEWTON = [
    (
        "f = x⁴ - 2x² at 0.3",
        lambda x: x**4 - 2 * x * x,
        0.3,
        lambda x: (4 * x**3 - 4 * x, 12 * x * x - 4),
    ),
    ("f = (x - 3)² + 1 at 10", lambda x: (x - 3) ** 2 + 1, 10.0, lambda x: (2 * (x - 3), 2.0)),
    ("f = e^x - 2x at 0", lambda x: x.exp() - 2 * x, 0.0, lambda x: (math.exp(x) - 2, math.exp(x))),
]

register(
    Exercise(
        id="08.newton_step",
        title="One step of Newton's method",
        stub='''def newton_step(f, x):
    """Newton's step from the float x: x - f'(x) / f''(x), with grad."""
    raise NotImplementedError("your code here")
''',
        hint="slope = grad(f)(x), curvature = grad(grad(f))(x).",
        reference="compared with the formulas of f' and f''",
        cases=lambda: [Case(label, (f, x), x - d(x)[0] / d(x)[1]) for label, f, x, d in _NEWTON],
        mistakes=(
            (
                "the step went the wrong way: subtract f'/f''",
                lambda f, x: x + grad(f)(x) / grad(grad(f))(x),
            ),
            (
                "that is a gradient-descent step with learning rate 1: divide the slope by f''(x)",
                lambda f, x: x - grad(f)(x),
            ),
        ),
        rel_tol=1e-12,
    )
)


_MIXED = [
    (
        "e^(xy) at (0.3, -0.8)",
        lambda x, y: (x * y).exp(),
        0.3,
        -0.8,
        lambda x, y: math.exp(x * y) * (1 + x * y),
    ),
    ("x³y² at (1.5, 2)", lambda x, y: x**3 * y**2, 1.5, 2.0, lambda x, y: 6 * x * x * y),
    ("sin(x)·y at (1, 5)", lambda x, y: x.sin() * y, 1.0, 5.0, lambda x, y: math.cos(x)),
    ("x² + y² at (1, 1), where it is 0", lambda x, y: x * x + y * y, 1.0, 1.0, lambda x, y: 0.0),
]

register(
    Exercise(
        id="08.mixed_partial",
        title="A mixed partial derivative",
        stub='''def mixed_partial(f, x, y):
    """∂²f/∂x∂y at the floats (x, y), with nested grad (f maps two Values to a Value)."""
    raise NotImplementedError("your code here")
''',
        hint="grad(f, 1) is ∂f/∂y as a function of (x, y); take its grad with respect to x.",
        reference="compared with the formulas",
        cases=lambda: [Case(label, (f, x, y), formula(x, y)) for label, f, x, y, formula in _MIXED],
        mistakes=(
            (
                "that is ∂²f/∂x², differentiated twice with respect to x: take the inner grad "
                "with respect to y (argnums=1)",
                lambda f, x, y: grad(lambda a, b: grad(f, 0)(a, b), 0)(x, y),
            ),
        ),
        rel_tol=1e-12,
    )
)


# --------------------------------------------------------------------------- 09


def _weighted_output(f: Callable[[list[Value]], list[Value]], weights: list[float]) -> Callable:
    """xs -> sum_i weights_i f(xs)_i: one number whose gradient sees every output."""
    return lambda xs: sum((c * o for c, o in zip(weights, f(xs))), Value(0.0))


def _run_vector_function(answer: Callable, case: Case) -> list:
    xs, weights = case.args
    leaves = [Value(x) for x in xs]
    outs = answer(leaves)
    sum((c * o for c, o in zip(weights, outs)), Value(0.0)).backward()
    return [[o.data if isinstance(o, Value) else o for o in outs], [leaf.grad for leaf in leaves]]


def _rms_case(label: str, xs: list[float]) -> Case:
    weights = [0.5 * (i + 1) * (-1) ** i for i in range(len(xs))]
    leaves = [Value(x) for x in xs]
    outs = rms_norm(leaves)
    sum((c * o for c, o in zip(weights, outs)), Value(0.0)).backward()
    return Case(label, (xs, weights), [[o.data for o in outs], [leaf.grad for leaf in leaves]])


register(
    Exercise(
        id="09.rms_norm",
        title="RMSNorm",
        stub='''def my_rms_norm(xs):
    """x_i / sqrt(mean(x²) + 1e-5) for a list of Values xs, as a list of Values."""
    raise NotImplementedError("your code here")
''',
        hint="ms = sum(x * x for x in xs) / len(xs); scale = (ms + 1e-5) ** -0.5; "
        "[x * scale for x in xs]",
        reference="outputs and the gradient of a weighted sum of them compared with nn.rms_norm",
        cases=lambda: [
            _rms_case("xs = [3, 4]", [3.0, 4.0]),
            _rms_case("xs = [1, -2, 0.5, 4]", [1.0, -2.0, 0.5, 4.0]),
            _rms_case("tiny xs = [0.001, -0.001], where eps matters", [0.001, -0.001]),
            _rms_case("one number", [5.0]),
        ],
        run=_run_vector_function,
        mistakes=(
            (
                "the mean was subtracted: that is layer norm; RMSNorm only rescales",
                lambda xs: _layer_norm(xs),
            ),
            (
                "eps = 1e-5 is missing under the square root (it matters for tiny inputs)",
                lambda xs: [x * (sum(v * v for v in xs) / len(xs)) ** -0.5 for x in xs],
            ),
        ),
        rel_tol=1e-9,
    )
)


def _layer_norm(xs: list[Value]) -> list[Value]:
    mean = sum(xs, Value(0.0)) / len(xs)
    centred = [x - mean for x in xs]
    scale = (sum((c * c for c in centred), Value(0.0)) / len(xs) + 1e-5) ** -0.5
    return [c * scale for c in centred]


register(
    Exercise(
        id="09.softmax",
        title="A softmax that does not overflow",
        stub='''def my_softmax(scores):
    """softmax of a list of floats, as a list of floats; right for scores of ±1000 too."""
    raise NotImplementedError("your code here")
''',
        hint="Subtract the largest score from every score before exp (it changes nothing else), "
        "then divide each exp by their sum.",
        reference="compared with losses.softmax",
        cases=lambda: [
            Case(f"scores {s}", (s,), [p.data for p in losses.softmax(s)])
            for s in ([1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0], [0.0], [2.0, 2.0, 2.0, 2.0])
        ],
        mistakes=(
            (
                "exp overflows for large scores: subtract the largest score first",
                lambda s: [math.exp(z) / sum(math.exp(t) for t in s) for z in s],
            ),
            (
                "the exps must be divided by their sum to add up to 1",
                lambda s: [math.exp(z - max(s)) for z in s],
            ),
        ),
        rel_tol=1e-12,
    )
)


def _head_inputs() -> list[tuple[str, list, list, list, list]]:
    """(label, q, keys, values, upstream) for the attention exercises."""
    rng = random.Random(9)
    d, n = 4, 5
    return [
        (
            "d = 2, two keys",
            [1.0, 0.5],
            [[0.2, -1.0], [0.8, 0.3]],
            [[1.0, 2.0], [-1.0, 0.0]],
            [1.0, -0.5],
        ),
        (
            "one key (the first position)",
            [0.3, -0.2, 0.9],
            [[1.0, 2.0, -1.0]],
            [[0.5, -0.5, 2.0]],
            [1.0, 1.0, 1.0],
        ),
        (
            f"d = {d}, {n} random keys",
            *_rows(rng, 1, d),
            _rows(rng, n, d),
            _rows(rng, n, d),
            *_rows(rng, 1, d),
        ),
    ]


def _head_reference(q: list, keys: list, values: list, upstream: list) -> tuple[list, list, list]:
    """(output, dL/dq, dL/dvalues) of one head, L = upstream · output, from backward()."""
    qv = [Value(x) for x in q]
    ks = [[Value(x) for x in k] for k in keys]
    vs = [[Value(x) for x in v] for v in values]
    out = attention(qv, ks, vs)
    dot(out, [Value(u) for u in upstream]).backward()
    return [o.data for o in out], [x.grad for x in qv], [[x.grad for x in v] for v in vs]


def _head_floats(q: list, keys: list, values: list, scale: float) -> tuple[list, list]:
    scores = [sum(a * b for a, b in zip(q, k)) * scale for k in keys]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    weights = [e / sum(exps) for e in exps]
    return weights, [sum(w * v[j] for w, v in zip(weights, values)) for j in range(len(values[0]))]


register(
    Exercise(
        id="09.attention_head",
        title="One attention head with plain floats",
        stub='''def attention_head(q, keys, values):
    """Scaled dot-product attention of one query q over keys and values (lists of floats):
    a_s = softmax_s(q · k_s / sqrt(d)), output = sum_s a_s v_s. Returns a list of d floats."""
    raise NotImplementedError("your code here")
''',
        hint="scores = [dot(q, k) / sqrt(len(q)) ...]; weights = softmax(scores); "
        "output[j] = sum_s weights[s] * values[s][j].",
        reference="compared with nn.attention",
        cases=lambda: [
            Case(label, (q, ks, vs), _head_reference(q, ks, vs, u)[0])
            for label, q, ks, vs, u in _head_inputs()
        ],
        mistakes=(
            (
                "the scores were not divided by sqrt(d)",
                lambda q, ks, vs: _head_floats(q, ks, vs, 1.0)[1],
            ),
        ),
        rel_tol=1e-12,
    )
)


def _head_grad_floats(
    q: list, keys: list, values: list, u: list, scale: float, jacobian: bool
) -> list:
    weights, out = _head_floats(q, keys, values, scale)
    u_out = sum(a * b for a, b in zip(u, out))
    d_scores = [
        w * (sum(a * b for a, b in zip(u, v)) - (u_out if jacobian else 0.0))
        for w, v in zip(weights, values)
    ]
    dq = [sum(ds * k[j] for ds, k in zip(d_scores, keys)) * scale for j in range(len(q))]
    return [dq, [[w * uj for uj in u] for w in weights]]


register(
    Exercise(
        id="09.attention_head_grad",
        title="The gradient of one attention head",
        stub='''def attention_head_grad(q, keys, values, upstream):
    """For L = upstream · attention_head(q, keys, values), by hand with plain floats:
    (dL/dq, dL/dvalues), dL/dq a list of d floats, dL/dvalues one list per value."""
    raise NotImplementedError("your code here")
''',
        hint="dL/dv_s = a_s upstream; dL/da_s = upstream · v_s; through the softmax "
        "dL/dscore_s = a_s (dL/da_s - upstream · output); dL/dq = sum_s dL/dscore_s k_s / sqrt(d).",
        reference="compared with backward() through nn.attention",
        cases=lambda: [
            Case(label, (q, ks, vs, u), list(_head_reference(q, ks, vs, u)[1:]))
            for label, q, ks, vs, u in _head_inputs()
        ],
        mistakes=(
            (
                "the softmax's own derivative is missing: dL/dscore_s = a_s (upstream · v_s - "
                "upstream · output), the weights compete for a total of 1",
                lambda q, ks, vs, u: _head_grad_floats(q, ks, vs, u, 1 / math.sqrt(len(q)), False),
            ),
            (
                "the factor 1/sqrt(d) of the scores is missing from dL/dq (the chain rule goes "
                "through the scaling too)",
                lambda q, ks, vs, u: _head_grad_floats(q, ks, vs, u, 1.0, True),
            ),
        ),
        rel_tol=1e-10,
        abs_tol=1e-14,
    )
)


# --------------------------------------------------------------------------- 11


def _jvp_of_product(a: tuple, b: tuple) -> list[float]:
    from tinygrad_edu.forward import jvp  # forward mode, beside its only use

    value, tangent = jvp(lambda x, y: x * y, (a[0], b[0]), (a[1], b[1]))
    return [value, tangent]


register(
    Exercise(
        id="11.dual_multiply",
        title="Multiplying dual numbers",
        stub='''def dual_mul(a, b):
    """The product of two dual numbers a = (a0, a1), b = (b0, b1), meaning a0 + a1 ε with
    ε² = 0: returns (primal, tangent)."""
    raise NotImplementedError("your code here")
''',
        hint="(a0 + a1 ε)(b0 + b1 ε) = a0 b0 + (a0 b1 + a1 b0) ε + a1 b1 ε², and ε² = 0.",
        reference="compared with jvp of x·y",
        cases=lambda: [
            Case(f"a = {a}, b = {b}", (a, b), _jvp_of_product(a, b))
            for a, b in [
                ((2.0, 1.0), (3.0, 0.0)),
                ((1.5, -2.0), (-4.0, 0.5)),
                ((0.0, 1.0), (0.0, 1.0)),
            ]
        ],
        mistakes=(
            (
                "the tangent follows the product rule, a0 b1 + a1 b0, not a1 b1",
                lambda a, b: (a[0] * b[0], a[1] * b[1]),
            ),
        ),
    )
)


def _spiral(r: Value, t: Value, z: Value) -> list[Value]:
    return [r * t.cos(), r * t.sin(), z * r * r, (t * z).exp()]


register(
    Exercise(
        id="11.jacobian_column",
        title="One column of a Jacobian in one forward pass",
        stub='''def jacobian_column(f, point, j):
    """Column j of the Jacobian of f at point (f maps floats or Values to a list of them),
    from one jvp: the derivative of every output along input j."""
    raise NotImplementedError("your code here")
''',
        hint="jvp(f, point, tangents) with tangents 1 at position j and 0 elsewhere.",
        reference="compared with jacobian(f, mode='reverse'), one backward pass per output",
        cases=lambda: [
            Case(
                f"f(r, t, z) = [r cos t, r sin t, z r², e^(tz)] at {p}, column {j}",
                (_spiral, p, j),
                [row[j] for row in jacobian(_spiral, (0, 1, 2))(*p)],
            )
            for p, j in [((2.0, 0.5, -1.0), 0), ((2.0, 0.5, -1.0), 2), ((1.0, 0.0, 0.0), 1)]
        ],
        mistakes=(
            (
                "that is row j (one backward pass per output gives rows); a jvp gives a column",
                lambda f, p, j: jacobian(f, (0, 1, 2))(*p)[j][:3],
            ),
        ),
        rel_tol=1e-12,
    )
)


def _quartic(*xs: Value) -> Value:
    return sum((x**4 for x in xs), Value(0.0)) + xs[0] * xs[1] * xs[-1] + (xs[1] * xs[2]).sin()


register(
    Exercise(
        id="11.hvp",
        title="A Hessian-vector product",
        stub='''def hessian_vector_product(f, point, v):
    """H v, with H the Hessian of f (a Value of several inputs) at point, in one pass:
    forward mode over reverse mode, without making H."""
    raise NotImplementedError("your code here")
''',
        hint="jvp(grad(f, argnums), point, v) differentiates the gradient along v; "
        "argnums = tuple(range(len(point))).",
        reference="compared with hessian(f) times v",
        cases=lambda: [
            Case(
                f"at {p}, v = {v}",
                (_quartic, p, v),
                [
                    sum(h * vi for h, vi in zip(row, v))
                    for row in hessian(_quartic, tuple(range(len(p))))(*p)
                ],
            )
            for p, v in [
                ((1.0, -0.5, 2.0), (1.0, 0.0, 0.0)),
                ((0.3, 0.7, -1.2, 2.0), (1.0, -1.0, 0.5, 2.0)),
                ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
            ]
        ],
        mistakes=(
            (
                "that is the gradient; differentiate it once more, along v",
                lambda f, p, v: list(grad(f, tuple(range(len(p))))(*p)),
            ),
        ),
        rel_tol=1e-10,
        abs_tol=1e-12,
    )
)


def _gelu_reference(x: float) -> list[float]:
    cdf = 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
    return [x * cdf, cdf + x * math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)]


def _gelu_without_product_rule() -> Op:
    return Op(
        "gelu",
        lambda x: 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))),
        lambda x, out: (0.5 * (1.0 + math.erf(x / math.sqrt(2.0))),),
    )


register(
    Exercise(
        id="11.gelu_op",
        title="GELU as an Op of your own",
        stub='''def make_gelu():
    """An Op named "gelu": x Φ(x) with Φ(x) = (1 + erf(x / √2)) / 2, and its derivative
    Φ(x) + x φ(x) with φ(x) = e^(-x²/2) / √(2π). Returns the Op."""
    raise NotImplementedError("your code here")
''',
        hint='Op("gelu", forward, derivative): forward(x) returns a float, derivative(x, out) '
        "returns a tuple with one slope, (Φ(x) + x φ(x),).",
        reference="value and slope from backward() compared with the formulas",
        cases=lambda: [
            Case(f"x = {x}", (x,), _gelu_reference(x)) for x in (-2.0, -0.3, 0.0, 0.7, 3.0)
        ],
        run=lambda answer, case: _run_on_value(answer(), case),
        mistakes=(
            (
                "the derivative is Φ(x) + x φ(x): the product rule on x · Φ(x) gives two terms",
                _gelu_without_product_rule,
            ),
        ),
        rel_tol=1e-12,
    )
)


# --------------------------------------------------------------------------- 05a, 05b, 05c


def _ce_grad_reference(logits: list[float], target: int) -> list[float]:
    zs = [Value(z) for z in logits]
    losses.cross_entropy(zs, target).backward()
    return [z.grad for z in zs]


_CE_INPUTS = [
    ("logits [2, 1, 0.1], target 0", [2.0, 1.0, 0.1], 0),
    ("logits [0, 0, 0, 0], target 3", [0.0, 0.0, 0.0, 0.0], 3),
    ("logits [1000, 0, -1000], target 1", [1000.0, 0.0, -1000.0], 1),
    ("two classes, target 1", [-0.5, 0.5], 1),
]


def _probabilities(logits: list[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(z - top) for z in logits]
    return [e / sum(exps) for e in exps]


register(
    Exercise(
        id="05a.cross_entropy_grad",
        title="The gradient of cross-entropy: p - onehot",
        stub='''def cross_entropy_gradient(logits, target):
    """d loss / d logits for loss = -log softmax(logits)[target], with plain floats. A list."""
    raise NotImplementedError("your code here")
''',
        hint="The softmax probabilities p, minus 1 at the target class: p - onehot(target).",
        reference="compared with backward() of losses.cross_entropy",
        cases=lambda: [Case(label, (z, t), _ce_grad_reference(z, t)) for label, z, t in _CE_INPUTS],
        mistakes=(
            (
                "1 must be subtracted at the target class: p - onehot",
                lambda z, t: _probabilities(z),
            ),
        ),
        rel_tol=1e-12,
        abs_tol=1e-15,
    )
)

register(
    Exercise(
        id="05a.cross_entropy",
        title="Cross-entropy as surprise",
        stub='''def cross_entropy_loss(logits, target):
    """-log softmax(logits)[target] with plain floats; right for logits of ±1000 too."""
    raise NotImplementedError("your code here")
''',
        hint="-log p_t = log(sum_j e^z_j) - z_t; compute the log-sum-exp as "
        "m + log(sum_j e^(z_j - m)) "
        "with m the largest logit.",
        reference="compared with losses.cross_entropy",
        cases=lambda: [
            Case(label, (z, t), losses.cross_entropy(z, t).data) for label, z, t in _CE_INPUTS
        ],
        mistakes=(
            (
                "e^z overflows for large logits: subtract the largest logit inside the log-sum-exp",
                lambda z, t: math.log(sum(math.exp(x) for x in z)) - z[t],
            ),
        ),
        rel_tol=1e-12,
    )
)


_COUNTS = [
    ("3 × 3 counts, smoothing 1", [[0, 5, 1], [2, 2, 2], [10, 0, 0]], 1.0),
    ("2 × 4 counts, smoothing 0.5", [[1, 0, 0, 3], [0, 0, 7, 1]], 0.5),
    ("no zero counts, smoothing 0", [[4, 1], [1, 3]], 0.0),
]


register(
    Exercise(
        id="05b.bigram_probabilities",
        title="From bigram counts to probabilities",
        stub='''def bigram_probabilities(counts, smoothing=1.0):
    """P[a][b] = (counts[a][b] + smoothing) / sum_c (counts[a][c] + smoothing) for a table
    of counts (a list of rows): each row a probability distribution over the next character."""
    raise NotImplementedError("your code here")
''',
        hint="Add the smoothing to every count, then divide each row by its own sum.",
        reference="compared with losses.softmax of log(count + smoothing), row by row",
        cases=lambda: [
            Case(
                label,
                (c, k),
                [[p.data for p in losses.softmax([math.log(n + k) for n in row])] for row in c],
            )
            for label, c, k in _COUNTS
        ],
        mistakes=(
            (
                "the smoothing is missing: add it to every count before dividing",
                lambda c, k: [[n / sum(row) if sum(row) else 0.0 for n in row] for row in c],
            ),
            (
                "the columns add up to 1, not the rows: divide by the sum of the row",
                lambda c, k: [
                    [(c[a][b] + k) / sum(r[b] + k for r in c) for b in range(len(c[0]))]
                    for a in range(len(c))
                ],
            ),
        ),
        rel_tol=1e-12,
    )
)


def _nll_reference(probs: list[list[float]], pairs: list[tuple[int, int]]) -> float:
    logits = [[math.log(p) for p in probs[a]] for a, _ in pairs]
    return losses.cross_entropy(logits, [b for _, b in pairs]).data


_NLL_INPUTS = [
    ("a 2 × 2 table, 3 pairs", [[0.9, 0.1], [0.25, 0.75]], [(0, 0), (0, 1), (1, 1)]),
    ("a uniform 3 × 3 table", [[1 / 3] * 3] * 3, [(0, 2), (2, 1)]),
    ("one pair", [[0.5, 0.5], [0.01, 0.99]], [(1, 0)]),
]

register(
    Exercise(
        id="05b.bigram_nll",
        title="The loss of a bigram table",
        stub='''def average_nll(probs, pairs):
    """Mean over the (a, b) pairs of -log probs[a][b]: the average surprise, in nats."""
    raise NotImplementedError("your code here")
''',
        hint="sum(-math.log(probs[a][b]) for a, b in pairs) / len(pairs)",
        reference="compared with losses.cross_entropy of the log-probabilities as logits",
        cases=lambda: [
            Case(label, (p, pairs), _nll_reference(p, pairs)) for label, p, pairs in _NLL_INPUTS
        ],
        mistakes=(
            (
                "the sum, not the mean: divide by the number of pairs",
                lambda p, pairs: -sum(math.log(p[a][b]) for a, b in pairs),
            ),
            (
                "log10 is not the natural log: nats use math.log",
                lambda p, pairs: -sum(math.log10(p[a][b]) for a, b in pairs) / len(pairs),
            ),
        ),
        rel_tol=1e-12,
    )
)


def _embedding(C: list[list[float]]) -> Embedding:  # noqa: N803
    table = Embedding(len(C), len(C[0]), seed=0)
    table.load_state_dict(
        {f"weight.{i}.{j}": x for i, row in enumerate(C) for j, x in enumerate(row)}
    )
    return table


def _linear(W: list[list[float]], b: list[float]) -> Linear:  # noqa: N803
    layer = Linear(len(W[0]), len(W), seed=0)
    state = {f"weight.{i}.{j}": x for i, row in enumerate(W) for j, x in enumerate(row)}
    layer.load_state_dict(state | {f"bias.{i}": x for i, x in enumerate(b)})
    return layer


def _mlp_inputs() -> list[tuple[str, list, list, list, list, list, list]]:
    rng = random.Random(5)
    vocab, dim, block, hidden = 5, 2, 3, 4
    C = _rows(rng, vocab, dim)  # noqa: N806
    W1, b1 = _rows(rng, hidden, dim * block), _rows(rng, 1, hidden)[0]  # noqa: N806
    W2, b2 = _rows(rng, vocab, hidden), _rows(rng, 1, vocab)[0]  # noqa: N806
    return [(f"context {ctx}", C, W1, b1, W2, b2, ctx) for ctx in ([0, 0, 0], [4, 1, 3], [2, 2, 0])]


register(
    Exercise(
        id="05c.embed_context",
        title="Embedding a context",
        stub='''def embed_context(table, context):
    """The rows table[i] of the embedding table for the characters i in context, one after
    another in one list (for a context of 3 and rows of 2 numbers: 6 numbers)."""
    raise NotImplementedError("your code here")
''',
        hint="[x for i in context for x in table[i]]",
        reference="compared with an nn.Embedding holding the same table",
        cases=lambda: [
            Case(label, (C, ctx), [v.data for i in ctx for v in _embedding(C)(i)])
            for label, C, *_, ctx in _mlp_inputs()
        ],
        mistakes=(
            (
                "the rows were added up; the model needs them side by side (concatenated), "
                "so it knows which character came where",
                lambda table, ctx: [sum(table[i][j] for i in ctx) for j in range(len(table[0]))],
            ),
            (
                "the rows are in reverse order: the oldest character comes first",
                lambda table, ctx: [x for i in reversed(ctx) for x in table[i]],
            ),
        ),
        rel_tol=0.0,
        abs_tol=0.0,
    )
)


def _mlp_reference(C: list, W1: list, b1: list, W2: list, b2: list, ctx: list) -> list[float]:  # noqa: N803
    table = _embedding(C)
    emb = [v for i in ctx for v in table(i)]
    return [v.data for v in _linear(W2, b2)([h.relu() for h in _linear(W1, b1)(emb)])]


def _relu(z: float) -> float:
    return max(0.0, z)


def _mlp_floats(C, W1, b1, W2, b2, ctx, activation=_relu, output_bias=True) -> list:  # noqa: N803
    emb = [x for i in ctx for x in C[i]]
    h = [activation(sum(w * e for w, e in zip(row, emb)) + b) for row, b in zip(W1, b1)]
    return [
        sum(w * x for w, x in zip(row, h)) + (b if output_bias else 0.0) for row, b in zip(W2, b2)
    ]


register(
    Exercise(
        id="05c.mlp_logits",
        title="The logits of the MLP character model",
        stub='''def mlp_logits(table, w1, b1, w2, b2, context):
    """logits = w2 relu(w1 e + b1) + b2, with e the embedded context (the table's rows side
    by side), with plain floats (w1, w2 lists of rows). A list of one logit per character."""
    raise NotImplementedError("your code here")
''',
        hint="e = embed_context(table, context); h_i = max(0, w1[i] · e + b1[i]); "
        "logit_k = w2[k] · h + b2[k].",
        reference="compared with nn.Embedding and two nn.Linear layers holding the same numbers",
        cases=lambda: [
            Case(label, tuple(args), _mlp_reference(*args)) for label, *args in _mlp_inputs()
        ],
        mistakes=(
            (
                "the hidden layer's relu is missing",
                lambda *a: _mlp_floats(*a, activation=lambda z: z),
            ),
            (
                "tanh instead of relu: the hidden units are max(0, z), as in the notebook's model",
                lambda *a: _mlp_floats(*a, activation=math.tanh),
            ),
            ("the output bias b2 is missing", lambda *a: _mlp_floats(*a, output_bias=False)),
        ),
        rel_tol=1e-12,
    )
)


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinygrad_edu.exercises --list [NOTEBOOK]`` or ``--show ID``."""
    parser = argparse.ArgumentParser(
        prog="python -m tinygrad_edu.exercises",
        description="The notebooks' exercises that check themselves.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--list",
        nargs="?",
        const="",
        metavar="NOTEBOOK",
        help="list the exercises (of one notebook: 05)",
    )
    group.add_argument("--show", metavar="ID", help="print an exercise's stub and its check call")
    args = parser.parse_args(argv)
    if args.show is not None:
        try:
            exercise = get(args.show)
        except KeyError as error:
            print(f"python -m tinygrad_edu.exercises: {error.args[0]}", file=sys.stderr)
            return 2
        print(f'{exercise.stub}\n\ncheck("{exercise.id}", {exercise.function_name})')
        return 0
    chosen = exercises(args.list or None)
    if not chosen:
        print(
            f"python -m tinygrad_edu.exercises: no exercises for notebook {args.list!r}",
            file=sys.stderr,
        )
        return 2
    for exercise in chosen:
        print(f"{exercise.id:<28} {exercise.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
